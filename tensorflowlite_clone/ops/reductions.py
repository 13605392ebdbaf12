"""Reductions: sum and max are primitives; mean is sum divided by the count. `unbroadcast`, the
one helper every broadcasting VJP uses, is a sum too."""
import functools
import math

import numpy as np

from ..primitive import Primitive
from ..tape import is_int
from . import elementwise as _elementwise
from . import shape as _shape


def _axis(axis, op):
    """A reduction's `axis` as NumPy takes it: None, an int or a tuple of ints (not a float, a
    bool or an array, which NumPy refuses too)."""
    if axis is None or type(axis) is int:
        return axis
    if is_int(axis):
        return int(axis)
    if isinstance(axis, (tuple, list)) and all(map(is_int, axis)):
        return tuple(map(int, axis))
    raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")


def _reduction(op):
    """The public signature of a reduction: (x, axis=None, keepdims=False), axis checked."""
    def prepare(x, axis=None, keepdims=False):
        return (x,), (_axis(axis, op), bool(keepdims))
    return prepare


def _label(axis, keepdims):
    return ("all" if axis is None else f"axis={axis}") + (", keepdims" if keepdims else "")


def _kept(g, x, axis, keepdims):
    """`g` shaped as if the reduction had kept its dims, so it broadcasts against `x`."""
    if keepdims or axis is None or x.ndim == 0:  # (a 0-d array reduces over axis 0 to itself)
        return g
    axes = [a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


def _add_reduce(x, axis, keepdims=False):
    """np.add.reduce(x, axis), except that a 2-D float array summed over one axis of at most
    BLAS_SUM_LIMIT entries is a product with ones: BLAS does it in a fraction of the time NumPy's
    reduction machinery takes to set up on small arrays (bias gradients, a softmax's row sums).
    Booleans and small integers count in int64, as np.sum does."""
    if type(x) is np.ndarray:
        if x.ndim == 2 and x.dtype in _BLAS_FLOATS:
            if axis in _FIRST_AXIS and x.shape[0] <= BLAS_SUM_LIMIT:
                total = _ones(x.shape[0], x.dtype) @ x
                return total[None] if keepdims else total
            if axis in _LAST_AXIS and x.shape[1] <= BLAS_SUM_LIMIT:
                total = x @ _ones(x.shape[1], x.dtype)
                return total[:, None] if keepdims else total
        elif x.dtype.kind in "biu":
            return np.sum(x, axis=axis, keepdims=keepdims)
    return np.add.reduce(x, axis, keepdims=keepdims)


BLAS_SUM_LIMIT = 4096  # entries summed: above, NumPy's own reduction is as fast
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# (compared with ==: _axis has made every axis an int, so True or 1.0 never gets here)
_FIRST_AXIS, _LAST_AXIS = (0, -2, (0,), (-2,)), (1, -1, (1,), (-1,))


@functools.lru_cache(maxsize=64)
def _ones(n, dtype):
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


sum = Primitive(
    "sum", _add_reduce,
    (lambda g, ans, x, axis, keepdims:
        _shape.broadcast_to.bind(_kept(g, x, axis, keepdims), x.shape),),
    saves="", prepare=_reduction("sum"), label=_label, method="sum",
    doc="Sum over `axis` (None: all), as np.sum.")


def _max_grad(g, ans, x, axis, keepdims):
    """Ties split the gradient evenly among the tied maxima (as torch.amax and JAX do)."""
    winners = _shape.cast.bind(_elementwise.equal.bind(x, _kept(ans, x, axis, keepdims)), g.dtype)
    return _kept(g, x, axis, keepdims) * (winners / sum.bind(winners, axis, True))


max = Primitive("max", lambda x, axis, keepdims: np.maximum.reduce(x, axis, keepdims=keepdims),
                (_max_grad,), saves="x ans", prepare=_reduction("max"), label=_label,
                method="max",
                doc="Maximum over `axis`. With ties, the gradient is split evenly among them.")


def _count(shape, axis):
    """How many entries a reduction over `axis` of an array of `shape` gathers into each result
    (a Python int, which divides without upcasting float32)."""
    if axis is None or not shape:
        return math.prod(shape)
    return math.prod(shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))


def _mean_forward(x, axis, keepdims):
    x = np.asarray(x)  # (a Python number is a 0-d mean)
    if x.dtype == np.float16:  # sum and count overflow float16 at 65504: NumPy uses float32
        return _mean_forward(x.astype(np.float32), axis, keepdims).astype(np.float16)
    return _add_reduce(x, axis, keepdims) / _count(x.shape, axis)


def _mean_grad(g, ans, x, axis, keepdims):
    share, count = _kept(g, x, axis, keepdims), _count(x.shape, axis)
    if g.dtype == np.float16:  # (a count above 65504 would be inf in float16)
        share = (share.astype(np.float32) / count).astype(np.float16)
    else:
        share = share / count
    return _shape.broadcast_to.bind(share, x.shape)


# sum(x) / count, fused: one op in the pictures (the seed's loss is a mean), and one call less
# each way (tests check it against the composition)
mean = Primitive("mean", _mean_forward, (_mean_grad,), saves="", prepare=_reduction("mean"),
                 label=_label, method="mean", doc="Mean over `axis` (None: all), as np.mean.")


def unbroadcast(g, shape):
    """Sum `g` over the axes NumPy broadcasting added or stretched, back to an input's `shape`."""
    if g.shape == shape:
        return g
    total = sum.bind(g, _broadcast_axes(g.shape, shape), False)
    return total if total.shape == shape else total.reshape(shape)


@functools.lru_cache(maxsize=1024)  # a training loop meets the same few shape pairs every step
def _broadcast_axes(g_shape, shape):
    """The axes broadcasting `shape` to `g_shape` added (leading) or stretched (size 1)."""
    lead = len(g_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g_shape[lead + i] != 1)
