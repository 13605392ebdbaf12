"""Elementwise ops with NumPy broadcasting; each VJP sums back over what broadcasting stretched
(`unbroadcast`). Comparisons give boolean tensors without gradients."""
from numbers import Number

import numpy as np

from ..primitive import Primitive
from ..tensor import Tensor
from . import reductions as _reductions
from . import shape as _shape

BROADCAST_ERROR = "cannot broadcast {} with {}"


add = Primitive("add", np.add, (
    lambda g, ans, x, y: _reductions.unbroadcast(g, x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g, y.shape)),
    BROADCAST_ERROR, saves="", operator="__add__")

subtract = Primitive("subtract", np.subtract, (
    lambda g, ans, x, y: _reductions.unbroadcast(g, x.shape),
    lambda g, ans, x, y: -_reductions.unbroadcast(g, y.shape)),
    BROADCAST_ERROR, saves="", operator="__sub__")

multiply = Primitive("multiply", np.multiply, (
    lambda g, ans, x, y: _reductions.unbroadcast(g * y, x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g * x, y.shape)),
    BROADCAST_ERROR, saves="x y", operator="__mul__")

divide = Primitive("divide", np.divide, (
    lambda g, ans, x, y: _reductions.unbroadcast(g / y, x.shape),
    # -g x / y^2 = -g ans / y, summed over the broadcast axes before dividing (fewer elements)
    lambda g, ans, x, y: -_reductions.unbroadcast(g * ans, y.shape) / y),
    BROADCAST_ERROR, saves="y ans", operator="__truediv__")

negative = Primitive("negative", np.negative, (lambda g, ans, _x: -g,), saves="",
                     operator="__neg__")


def _power_exponent(x, exponent):
    """power's signature: a real scalar (Python or NumPy number) exponent."""
    if (isinstance(exponent, (Tensor, bool, np.bool_, complex, np.complexfloating))
            or not isinstance(exponent, Number)):
        raise TypeError(f"power: the exponent must be a real number, got {exponent!r}")
    if isinstance(exponent, np.number):
        exponent = exponent.item()  # a Python number: NumPy types it weakly, so no upcast
    if isinstance(exponent, int) and abs(exponent) > 2 ** 1000:  # NumPy converts it to a float
        raise OverflowError("power: the exponent is too large for a float")
    return (x,), (exponent,)


power = Primitive("power", np.power, (  # x ** 0 is constant: gradient 0, not 0 * 0 ** -1 = NaN
    lambda g, ans, x, p: g * (p * (x if p == 2 else x ** (p - 1))) if p != 0 else g * 0,),
    saves="x", prepare=_power_exponent, label=lambda p: f"**{p:.4g}", operator="__pow__",
    doc="`x ** exponent` for a real scalar exponent.")

exp = Primitive("exp", np.exp, (lambda g, ans, _x: g * ans,), saves="ans")
log = Primitive("log", np.log, (lambda g, ans, x: g / x,), saves="x")
tanh = Primitive("tanh", np.tanh, (lambda g, ans, _x: g * (1 - ans * ans),), saves="ans")
# 1 / (1 + exp(-x)) = exp(-log(1 + exp(-x))): logaddexp keeps it exact in both tails, in x's dtype
sigmoid = Primitive("sigmoid", lambda x: np.exp(-np.logaddexp(0, -x)),
                    (lambda g, ans, _x: g * (ans * (1 - ans)),), saves="ans")

# comparisons: boolean results, so no gradient (and a gradient tape never records them)
equal = Primitive("equal", np.equal, (None, None), BROADCAST_ERROR)
greater = Primitive("greater", np.greater, (None, None), BROADCAST_ERROR)

# the derivative at 0 is taken as 0, as the seed's `(s1 > 0) * ds1` does (ans > 0 exactly where
# x > 0, and reading ans lets the sweep free x); float zeros, which NumPy takes faster than ints
relu = Primitive("relu", lambda x: np.maximum(x, 0.0),
                 (lambda g, ans, _x: g * greater.bind(ans, 0.0),), saves="ans")


def _tie_share(x, y, dtype):
    """1 where x wins, 1/2 where x and y tie, 0 where y wins: ties split the gradient evenly."""
    cast = _shape.cast
    return cast.bind(greater.bind(x, y), dtype) + cast.bind(equal.bind(x, y), dtype) * 0.5


maximum = Primitive("maximum", np.maximum, (
    lambda g, ans, x, y: _reductions.unbroadcast(g * _tie_share(x, y, g.dtype), x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g * _tie_share(y, x, g.dtype), y.shape)),
    BROADCAST_ERROR, saves="x y",
    doc="Elementwise maximum; where x == y each side gets half the gradient.")

where = Primitive("where", np.where, (
    None,  # the condition is not differentiable
    lambda g, ans, c, x, y: _reductions.unbroadcast(where.bind(c, g, 0.0), x.shape),
    lambda g, ans, c, x, y: _reductions.unbroadcast(where.bind(c, 0.0, g), y.shape)),
    "cannot broadcast condition {} with {} and {}", saves="c",
    doc="Elementwise `x` where `condition` holds, else `y`; the gradient flows to the chosen one.")
