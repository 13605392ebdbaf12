"""`python -m tensorflowlite_clone`: the `tflc` command (tensorflowlite_clone.app)."""
import sys

from .app.__main__ import run

if __name__ == "__main__":
    sys.exit(run())
