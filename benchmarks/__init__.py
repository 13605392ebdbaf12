"""Speed and memory harness behind `tflc bench`."""
