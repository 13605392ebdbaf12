"""Input checks shared by every model entry point that takes data, labels or a regularisation
strength, so bad input is refused with a message naming the argument before any math runs
(the hand-derived paths are the seed's code, kept verbatim: unchecked, they would read a label
of -1 as class C-1, drop examples silently, or fail with NumPy's own wording).

Labels must be integer arrays: floats, even integral ones such as 2.0, are refused, as are
booleans (NumPy would index with them as a mask). The message says what was expected, e.g.
"y: labels must be 6 integers in 0..2 (one per row of X), got -1 at index 3".
"""
import math
import numbers

import numpy as np

import tensorflowlite_clone as tflc


def _array(value, name):
    """`value` as an ndarray (a Tensor stays a Tensor: a tape may differentiate with respect
    to it, and its value is not read here)."""
    if isinstance(value, tflc.Tensor):
        return value
    try:
        return np.asarray(value)
    except ValueError:  # a ragged list
        raise ValueError(f"{name} must be an array, got a ragged {type(value).__name__}") from None


def check_X(X, W=None, W_name="W", name="X"):
    """X as a 2-D array of real numbers (booleans and integers are fine) with as many columns
    as the weight matrix `W` has rows; W None (not created yet) allows any width."""
    array = _array(X, name)
    if array.dtype.kind not in "biuf":
        got = f"dtype {array.dtype}" if array.ndim else repr(X)
        raise TypeError(f"{name} must be an array of real numbers, got {got}")
    width = None if W is None else np.shape(W)[0]
    if array.ndim != 2 or (width is not None and array.shape[1] != width):
        expected = ("(N, D)" if width is None
                    else f"(N, {width}) to match {W_name} of shape {np.shape(W)}")
        raise ValueError(f"{name} must be a 2-D array of shape {expected}, got shape {array.shape}")
    return array


def check_labels(y, num_rows, num_classes=None, name="y", rows_of="X"):
    """y as a 1-D integer array with `num_rows` labels in 0..num_classes-1 (num_classes None:
    any non-negative label)."""
    expected = (f"{num_rows} non-negative integers" if num_classes is None
                else f"{num_rows} integers in 0..{num_classes - 1}")

    def refuse(got):
        return ValueError(f"{name}: labels must be {expected} (one per row of {rows_of}), got {got}")

    labels = _array(y, name)
    if labels.shape != (num_rows,):
        raise refuse(f"shape {labels.shape}" if labels.ndim else repr(y))
    if labels.dtype.kind not in "iu":  # bool is not an integer label, nor is 2.0
        raise refuse(f"dtype {labels.dtype}")
    upper = np.inf if num_classes is None else num_classes  # every label must be below it
    if labels.size and (labels.min() < 0 or labels.max() >= upper):
        index = int(np.flatnonzero((labels < 0) | (labels >= upper))[0])
        raise refuse(f"{labels[index]} at index {index}")
    return labels


def check_reg(reg):
    """reg must be one finite non-negative real number (a Python or NumPy scalar, or a 0-d array)."""
    number = isinstance(reg, numbers.Real) and not isinstance(reg, (bool, np.bool_))
    if not (number or (np.ndim(reg) == 0 and np.asarray(reg).dtype.kind in "iuf")):
        got = f"an array of shape {np.shape(reg)}" if np.ndim(reg) else repr(reg)
        raise TypeError(f"reg must be a non-negative number, got {got}")
    if not (reg >= 0 and math.isfinite(reg)):
        raise ValueError(f"reg must be a finite non-negative number, got {reg!r}")
    return reg


def check_batch(X, y, reg, W, W_name, num_classes, names=("X", "y")):
    """(X, y) checked for a loss: X as in `check_X` and not empty (the loss is a mean over its
    rows), y as in `check_labels`, and reg as in `check_reg`."""
    X = check_X(X, W, W_name, names[0])
    if X.shape[0] == 0:
        raise ValueError(f"empty batch: {names[0]} has 0 rows")
    check_reg(reg)
    return X, check_labels(y, X.shape[0], num_classes, names[1], names[0])


def check_count(value, name, allow_zero=False):
    """value must be a positive integer (or zero, with allow_zero); bool is not a count."""
    what = "a non-negative" if allow_zero else "a positive"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {what} integer, got {value!r}")
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{name} must be {what} integer, got {value!r}")
    return int(value)


def check_real(value, name, low=0.0, high=math.inf, low_open=False):
    """value as a float: a finite real number (not a bool) in [low, high], or (low, high] with
    low_open."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    above = value > low if low_open else value >= low
    if not (math.isfinite(value) and above and value <= high):
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}]"
        raise ValueError(f"{name} must be a finite number in {interval}, got {value!r}")
    return float(value)


def check_float_dtype(dtype):
    """dtype (np.float32, "float64", ...) as a NumPy dtype of a floating-point kind."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a NumPy floating-point type, got {dtype!r}") from None
    if dt.kind != "f":
        raise TypeError(f"dtype must be a NumPy floating-point type, got {dt}")
    return dt
