"""The primitive ops: each one's NumPy forward beside its vector-Jacobian products.

A VJP has the signature `vjp(g, ans, *inputs, *params)`: `g` is the gradient of the target
with respect to the op's output `ans`, and it returns the gradient with respect to one input.
Ops whose VJPs never read `ans` say `needs_output=False`, and those that read only the shapes
and dtypes of their inputs `needs_inputs=False`, so a one-shot sweep can free those arrays early.
VJPs use only operators and ndarray-style methods (`.sum`, `.reshape`, `.mT`, ...), which
Tensors share, so the same line serves the plain sweep on arrays and the recorded sweep on
Tensors that gives higher-order derivatives.
"""
import builtins
import functools
import math
from numbers import Number

import numpy as np

from .tape import SMALL, Primitive, is_int
from .tensor import Tensor, _read, as_array

BROADCAST_ERROR = "cannot broadcast {} with {}"


def unbroadcast(g, shape):
    """Sum `g` over the axes NumPy broadcasting added or stretched, back to an input's `shape`."""
    if g.shape == shape:
        return g
    axes = _broadcast_axes(g.shape, shape)
    # ufunc.reduce directly: ndarray.sum adds microseconds of dispatch on small arrays
    total = sum(g, axes) if isinstance(g, Tensor) else _add_reduce(g, axes)
    return total if total.shape == shape else total.reshape(shape)


def _add_reduce(x, axis, keepdims=False):
    """np.add.reduce(x, axis), except that a 2-D float array summed over one axis of at most
    SMALL entries is a product with ones: BLAS does it in a fraction of the time NumPy's
    reduction machinery takes to set up on small arrays (bias gradients, a softmax's row sums)."""
    if type(x) is np.ndarray and x.ndim == 2 and x.dtype in _BLAS_FLOATS:
        if axis in _FIRST_AXIS and x.shape[0] <= SMALL:
            total = _ones(x.shape[0], x.dtype) @ x
            return total[None] if keepdims else total
        if axis in _LAST_AXIS and x.shape[1] <= SMALL:
            total = x @ _ones(x.shape[1], x.dtype)
            return total[:, None] if keepdims else total
    return np.add.reduce(x, axis, keepdims=keepdims)


_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_FIRST_AXIS, _LAST_AXIS = (0, -2, (0,), (-2,)), (1, -1, (1,), (-1,))


@functools.lru_cache(maxsize=64)
def _ones(n, dtype):
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


@functools.lru_cache(maxsize=1024)  # a training loop meets the same few shape pairs every step
def _broadcast_axes(g_shape, shape):
    """The axes broadcasting `shape` to `g_shape` added (leading) or stretched (size 1)."""
    lead = len(g_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g_shape[lead + i] != 1)


def _tensor_or_array(op, numpy_function):
    """Use the recorded `op` on a Tensor (outer tape listening), bare NumPy on an array."""
    return lambda x, *params: op(x, *params) if isinstance(x, Tensor) else numpy_function(x, *params)


# --- elementwise arithmetic with broadcasting --------------------------------------------------
add = Primitive("add", np.add, (
    lambda g, ans, x, y: unbroadcast(g, x.shape),
    lambda g, ans, x, y: unbroadcast(g, y.shape)), BROADCAST_ERROR, needs_output=False,
    needs_inputs=False)

subtract = Primitive("subtract", np.subtract, (
    lambda g, ans, x, y: unbroadcast(g, x.shape),
    lambda g, ans, x, y: -unbroadcast(g, y.shape)), BROADCAST_ERROR, needs_output=False,
    needs_inputs=False)

multiply = Primitive("multiply", np.multiply, (
    lambda g, ans, x, y: unbroadcast(g * y, x.shape),
    lambda g, ans, x, y: unbroadcast(g * x, y.shape)), BROADCAST_ERROR, needs_output=False)

divide = Primitive("divide", np.divide, (
    lambda g, ans, x, y: unbroadcast(g / y, x.shape),
    # -g x / y^2 = -g ans / y, summed over the broadcast axes before dividing (fewer elements)
    lambda g, ans, x, y: -unbroadcast(g * ans, y.shape) / y), BROADCAST_ERROR)

negative = Primitive("negative", np.negative, (lambda g, ans, x: -g,), needs_output=False,
                     needs_inputs=False)

_power = Primitive("power", np.power, (  # x ** 0 is constant: gradient 0, not 0 * 0 ** -1 = NaN
    lambda g, ans, x, p: g * (p * x ** (p - 1)) if p != 0 else g * 0,), needs_output=False)


def power(x, exponent):
    """`x ** exponent` for a real scalar (Python or NumPy number) exponent."""
    if (isinstance(exponent, (Tensor, bool, np.bool_, complex, np.complexfloating))
            or not isinstance(exponent, Number)):
        raise TypeError(f"power: the exponent must be a real number, got {exponent!r}")
    if isinstance(exponent, np.number):
        exponent = exponent.item()  # a Python number: NumPy types it weakly, so no upcast
    if isinstance(exponent, int) and abs(exponent) > 2 ** 1000:  # NumPy converts it to a float
        raise OverflowError("power: the exponent is too large for a float")
    return _power(x, exponent)


# --- elementwise functions -----------------------------------------------------------------------
exp = Primitive("exp", np.exp, (lambda g, ans, x: g * ans,), needs_inputs=False)
log = Primitive("log", np.log, (lambda g, ans, x: g / x,), needs_output=False)
tanh = Primitive("tanh", np.tanh, (lambda g, ans, x: g * (1 - ans * ans),), needs_inputs=False)
# 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))): logaddexp keeps it exact in both tails, in x's dtype
sigmoid = Primitive("sigmoid", lambda x: np.exp(-np.logaddexp(0, -x)),
                    (lambda g, ans, x: g * (ans * (1 - ans)),), needs_inputs=False)
# the derivative at 0 is taken as 0, as the seed's `(s1 > 0) * ds1` does (ans > 0 exactly where
# x > 0, and reading ans lets the sweep free x); float zeros, which NumPy takes faster than ints
relu = Primitive("relu", lambda x: np.maximum(x, 0.0), (lambda g, ans, x: g * (ans > 0.0),),
                 needs_inputs=False)


def _tie_share(x, y, dtype):
    """1 where x wins, 1/2 where x and y tie, 0 where y wins: ties split the gradient evenly."""
    x, y = np.asarray(x), np.asarray(y)
    return (x > y).astype(dtype) + (x == y).astype(dtype) * dtype.type(0.5)


maximum = Primitive("maximum", np.maximum, (
    lambda g, ans, x, y: unbroadcast(g * _tie_share(x, y, g.dtype), x.shape),
    lambda g, ans, x, y: unbroadcast(g * _tie_share(y, x, g.dtype), y.shape)), BROADCAST_ERROR,
    needs_output=False)


def _mask(condition):
    return np.asarray(condition).astype(bool, copy=False)


_where = Primitive("where", np.where, (
    None,  # the condition is not differentiable
    lambda g, ans, c, x, y: unbroadcast(g * _mask(c), x.shape),
    lambda g, ans, c, x, y: unbroadcast(g * ~_mask(c), y.shape)),
    "cannot broadcast condition {} with {} and {}", needs_output=False)


def where(condition, x, y):
    """Elementwise `x` where `condition` holds, else `y`; the gradient flows to the chosen one."""
    return _where(condition, x, y)


# --- matrix product ------------------------------------------------------------------------------
def _as_matrices(g, a, b):
    """Promote 1-D operands to matrices as `matmul` does, and shape `g` to match."""
    if b.ndim == 1:
        b, g = b.reshape(b.shape + (1,)), g.reshape(g.shape + (1,))
    if a.ndim == 1:
        a, g = a.reshape((1,) + a.shape), g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    return g, a, b


def _matmul_grad_a(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T
    g2, a2, b2 = _as_matrices(g, a, b)
    return unbroadcast(g2 @ b2.mT, a2.shape).reshape(a.shape)


def _matmul_grad_b(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    return unbroadcast(a2.mT @ g2, b2.shape).reshape(b.shape)


matmul = Primitive("matmul", np.matmul, (_matmul_grad_a, _matmul_grad_b), "cannot multiply {} by {}",
                   needs_output=False)


# --- reductions ----------------------------------------------------------------------------------
# Forwards call the ufunc's reduce directly: np.sum / np.max / np.mean add microseconds of
# Python dispatch per call, which is most of an op's cost on small arrays.
def _kept(g, x, axis, keepdims):
    """`g` shaped as if the reduction had kept its dims, so it broadcasts against `x`."""
    if keepdims or axis is None or x.ndim == 0:  # (a 0-d array reduces over axis 0 to itself)
        return g
    axes = [a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


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


def _broadcast_array(g, shape):
    """np.broadcast_to(g, shape) for the plain sweep, where g is 0-d or has shape's ndim. When
    big, the same read-only view (saves a pass over memory), built directly: np.broadcast_to
    costs ten times as much. When small, a filled array: later ops run faster on it."""
    if math.prod(shape) <= SMALL:
        out = np.empty(shape, g.dtype)
        out[...] = g
        return out
    if not g.flags.c_contiguous:  # the view's buffer must be g's own memory
        return np.broadcast_to(g, shape)
    strides = ((0,) * len(shape) if g.ndim == 0 else
               tuple(0 if n == 1 else stride for n, stride in zip(g.shape, g.strides)))
    view = np.ndarray(shape, g.dtype, g, 0, strides)
    view.flags.writeable = False
    return view


_broadcast_to = Primitive("broadcast_to", np.broadcast_to,
                          (lambda g, ans, x, shape: unbroadcast(g, x.shape),), needs_output=False,
                          needs_inputs=False)
_broadcast_back = _tensor_or_array(_broadcast_to, _broadcast_array)


def broadcast_to(x, shape):
    return _broadcast_to(x, _shape(shape, "broadcast_to"))


def _sum_forward(x, axis, keepdims):
    if getattr(x, "dtype", None) is not None and x.dtype.kind in "biu":  # booleans count, and
        return np.sum(x, axis=axis, keepdims=keepdims)  # small ints sum in int64, as np.sum
    return _add_reduce(x, axis, keepdims)


_sum = Primitive("sum", _sum_forward, (
    lambda g, ans, x, axis, keepdims: _broadcast_back(_kept(g, x, axis, keepdims), x.shape),),
    needs_output=False, needs_inputs=False)


def _mean_forward(x, axis, keepdims):
    x = np.asarray(x)  # (a Python number is a 0-d mean)
    if x.dtype == np.float16:  # sum and count overflow float16 at 65504: NumPy uses float32
        return _mean_forward(x.astype(np.float32), axis, keepdims).astype(np.float16)
    total = _add_reduce(x, axis, keepdims)
    return total / (x.size // builtins.max(total.size, 1))  # a Python int keeps the dtype


def _mean_grad(g, ans, x, axis, keepdims):
    count = x.size // builtins.max(ans.size, 1)
    if g.dtype == np.float16:  # (a count above 65504 would be inf in float16)
        share = (_kept(g, x, axis, keepdims).astype(np.float32) / count).astype(np.float16)
    else:
        share = _kept(g, x, axis, keepdims) / count
    return _broadcast_back(share, x.shape)


_mean = Primitive("mean", _mean_forward, (_mean_grad,), needs_inputs=False)


def _max_grad(g, ans, x, axis, keepdims):
    winners = np.asarray(x) == _kept(np.asarray(ans), x, axis, keepdims)
    ties = np.add.reduce(winners, axis, dtype=g.dtype, keepdims=True)
    return _kept(g, x, axis, keepdims) * (winners / ties)  # split evenly among tied maxima


_max = Primitive("max", lambda x, axis, keepdims: np.maximum.reduce(x, axis, keepdims=keepdims),
                 (_max_grad,))


def sum(x, axis=None, keepdims=False):
    return _sum(x, _axis(axis, "sum"), bool(keepdims))


def mean(x, axis=None, keepdims=False):
    return _mean(x, _axis(axis, "mean"), bool(keepdims))


def max(x, axis=None, keepdims=False):
    """Maximum over `axis`. With ties, the gradient is split evenly among the tied entries."""
    return _max(x, _axis(axis, "max"), bool(keepdims))


# --- shape and indexing --------------------------------------------------------------------------
_reshape = Primitive("reshape", np.reshape, (lambda g, ans, x, shape: g.reshape(x.shape),),
                     needs_output=False, needs_inputs=False)


def reshape(x, shape):
    return _reshape(x, _shape(shape, "reshape"))


def _shape(shape, op):
    """A shape as NumPy takes it: an int or a tuple of ints."""
    if is_int(shape):
        return (int(shape),)
    if isinstance(shape, (tuple, list)) and all(map(is_int, shape)):
        return tuple(map(int, shape))
    raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}")


def _transpose_grad(g, ans, x, axes):
    if axes is None:
        return g.transpose()
    return g.transpose(tuple(int(a) for a in np.argsort([a % x.ndim for a in axes])))


_transpose = Primitive("transpose", np.transpose, (_transpose_grad,), needs_output=False,
                       needs_inputs=False)


def transpose(x, axes=None):
    if axes is None:
        return _transpose(x, None)
    if not (isinstance(axes, (tuple, list)) and all(map(is_int, axes))):
        raise TypeError(f"transpose: axes must be a tuple of ints, got {axes!r}")
    return _transpose(x, tuple(map(int, axes)))


def _scatter_add_forward(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    if _has_array(index):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] = g
    return out


def _has_array(index):
    parts = index if isinstance(index, tuple) else (index,)
    return builtins.any(isinstance(p, (np.ndarray, list)) for p in parts)


_scatter_add = Primitive("scatter_add", _scatter_add_forward,
                         (lambda g, ans, x, index, shape: g[index],), needs_output=False,
                         needs_inputs=False)
_scatter_back = _tensor_or_array(_scatter_add, _scatter_add_forward)

_getitem = Primitive("getitem", lambda x, index: x[index],
                     (lambda g, ans, x, index: _scatter_back(g, index, x.shape),),
                     needs_output=False, needs_inputs=False)


def _index(part):
    if isinstance(part, Tensor):
        if part.dtype.kind not in "biu":
            raise IndexError(f"getitem: a {part.dtype} tensor cannot index; use integers or "
                             "booleans")
        _read(part, "an integer tensor used as an index")  # a trace would freeze it
        return part._value
    if isinstance(part, (list, tuple)):  # inside an index, NumPy reads a sequence as an array
        for item in part:  # a trace cannot redo this on the next call's arrays
            if isinstance(item, np.ndarray):
                _read(item, "an index list made of arrays")
        try:
            array = np.asarray(part)
        except ValueError:
            raise IndexError(f"getitem: the index list {part!r} is ragged (its rows differ in "
                             "length)") from None
        return array.astype(np.intp) if array.size == 0 else array  # [] selects nothing
    return part


def getitem(x, index):
    """`x[index]` with ints, slices, None, Ellipsis and integer or boolean arrays."""
    index = tuple(map(_index, index)) if isinstance(index, tuple) else _index(index)
    return _getitem(x, index)


# --- dtype and gradient control ------------------------------------------------------------------
_cast = Primitive("cast", lambda x, dtype: np.asarray(x, dtype),
                  (lambda g, ans, x, dtype: g.astype(x.dtype),), needs_output=False,
                  needs_inputs=False)


def cast(x, dtype):
    """`x` as `dtype`; a cast to an integer or boolean dtype carries no gradient (as in TF)."""
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cast: {dtype!r} is not a NumPy dtype") from None
    if dtype.kind not in "biufc":
        raise TypeError(f"cast: tensors hold booleans or numbers, not {dtype}")
    return _cast(x, dtype)


# A primitive with no VJP, so a tape never records it (nothing flows back) but a trace does.
_stop_gradient = Primitive("stop_gradient", as_array, (None,))


def stop_gradient(x):
    """The same value as a new constant: no gradient flows back through it."""
    return _stop_gradient(x)
