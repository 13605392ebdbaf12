"""The `tflc` console script and `python -m tensorflowlite_clone` (which calls `run` from the
package's own `__main__`) run the `tflc` command.

`run` imports the command line inside its try: a Ctrl-C while matplotlib, scikit-learn and the
rest load (most of a second) is "tflc: interrupted", exit status 130, as it is later on, not a
traceback. (Python's own start-up and `import tensorflowlite_clone`, which runs before any code
here, are not covered.)
"""
import sys


def run():
    """The entry point: `tflc ...`; returns the exit status."""
    try:
        from .cli import main
    except KeyboardInterrupt:
        print("tflc: interrupted", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
