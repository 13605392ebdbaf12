"""`python -m tensorflowlite_clone ...` runs the `tflc` command."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
