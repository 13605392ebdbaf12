"""Elementwise ops with NumPy broadcasting; each VJP sums back over what broadcasting stretched
(`unbroadcast`). Comparisons give boolean tensors without gradients."""
import math
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
    BROADCAST_ERROR, saves="", operator="__add__",
    rule=("unbroadcast({g})", "unbroadcast({g})"))

subtract = Primitive("subtract", np.subtract, (
    lambda g, ans, x, y: _reductions.unbroadcast(g, x.shape),
    lambda g, ans, x, y: -_reductions.unbroadcast(g, y.shape)),
    BROADCAST_ERROR, saves="", operator="__sub__",
    rule=("unbroadcast({g})", "−unbroadcast({g})"))

multiply = Primitive("multiply", np.multiply, (
    lambda g, ans, x, y: _reductions.unbroadcast(g * y, x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g * x, y.shape)),
    BROADCAST_ERROR, saves="x y", operator="__mul__",
    rule=("unbroadcast({g} ⊙ {y})", "unbroadcast({g} ⊙ {x})"))

divide = Primitive("divide", np.divide, (
    lambda g, ans, x, y: _reductions.unbroadcast(g / y, x.shape),
    # -g x / y^2 = -g ans / y, summed over the broadcast axes before dividing (fewer elements)
    lambda g, ans, x, y: -_reductions.unbroadcast(g * ans, y.shape) / y),
    BROADCAST_ERROR, saves="y ans", operator="__truediv__",
    rule=("unbroadcast({g} / {y})", "−unbroadcast({g} ⊙ {ans}) / {y}"))

negative = Primitive("negative", np.negative, (lambda g, ans, _x: -g,), saves="",
                     operator="__neg__", rule=("−{g}",))


def _power_exponent(x, exponent):
    """power's signature for a scalar exponent: a real (Python or NumPy) number."""
    if (isinstance(exponent, (bool, np.bool_, complex, np.complexfloating))
            or not isinstance(exponent, Number)):
        raise TypeError(f"power: the exponent must be a real number, got {exponent!r}")
    if isinstance(exponent, np.number):
        exponent = exponent.item()  # a Python number: NumPy types it weakly, so no upcast
    if isinstance(exponent, int) and abs(exponent) > 2 ** 1000:  # NumPy converts it to a float
        raise OverflowError("power: the exponent is too large for a float")
    return (x,), (exponent,)


# the fast path, `x ** 2`: the exponent is a parameter, and only x is kept for the VJP
_scalar_power = Primitive("power", np.power, (  # x ** 0 is constant: gradient 0, not 0 * 0 ** -1
    lambda g, ans, x, p: g * (p * (x if p == 2 else x ** (p - 1))) if p != 0 else g * 0,),
    saves="x", prepare=_power_exponent, label=lambda p: f"**{p:.4g}", rule=("{g} ⊙ {p}·{x}^({p} − 1)",),
    doc="`x ** exponent` for a real scalar exponent.")


def _log_base(x):
    """log(x) where x != 0, and 0 where x == 0 (JAX's: d(0 ** y)/dy is taken as 0, the limit
    from y > 0); NaN for a negative base, as NumPy's log."""
    if isinstance(x, Number):  # `2 ** t`: the base is a Python number
        return math.log(x) if x > 0 else 0.0 if x == 0 else math.nan
    return log.bind(where.bind(equal.bind(x, 0), 1.0, x))


_tensor_power = Primitive("power", np.power, (
    # y * x ** (y - 1), with x ** 1 where y == 0 (JAX's): d(x ** 0)/dx is 0 even at x = 0
    lambda g, ans, x, y: _reductions.unbroadcast(
        g * (y * x ** where.bind(equal.bind(y, 0), 1, y - 1)), x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g * (ans * _log_base(x)), y.shape)),
    rule=("unbroadcast({g} ⊙ {y}·{x}^({y} − 1))", "unbroadcast({g} ⊙ {ans} ⊙ log {x})"),
    saves="x y ans",  # (no shape_error: NumPy's ValueError may be about negative integer powers)
    doc="`x ** y` for a tensor (or array) exponent, differentiable in both.")


def power(x, exponent):
    """NumPy's power: `x ** exponent`, differentiable in x and, when it is a Tensor or an array,
    in the exponent (d/dy = x ** y * log(x); 0 where x == 0, NaN where x < 0). A scalar
    exponent takes the fast path (`x ** 2` keeps only x for its VJP)."""
    if isinstance(exponent, (Tensor, np.ndarray, list, tuple)):
        return _tensor_power(x, exponent)
    return _scalar_power(x, exponent)


def _power_bind(x, exponent):
    """power as a VJP uses it (Primitive.bind): one of its two primitives'."""
    if isinstance(exponent, (Tensor, np.ndarray)):
        return _tensor_power.bind(x, exponent)
    return _scalar_power.bind(x, *_power_exponent(x, exponent)[1])


power.operator = "__pow__"  # `x ** y`, and `2 ** x` reflected
power.bind = _power_bind

exp = Primitive("exp", np.exp, (lambda g, ans, _x: g * ans,), saves="ans", rule=("{g} ⊙ {ans}",))
log = Primitive("log", np.log, (lambda g, ans, x: g / x,), saves="x", rule=("{g} / {x}",))
tanh = Primitive("tanh", np.tanh, (lambda g, ans, _x: g * (1 - ans * ans),), saves="ans",
                 rule=("{g} ⊙ (1 − {ans}²)",))


def _sigmoid(x):
    """1 / (1 + exp(-x)) for x >= 0 and exp(x) / (1 + exp(x)) below: exp(-|x|) never
    overflows, and each tail keeps its relative precision (within 2 ulps), in x's dtype."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, e) / (1 + e)


sigmoid = Primitive("sigmoid", _sigmoid, (lambda g, ans, _x: g * (ans * (1 - ans)),), saves="ans",
                    rule=("{g} ⊙ {ans} ⊙ (1 − {ans})",))

# comparisons: boolean results, so no gradient (and a gradient tape never records them); the
# Tensor's comparison operators, so that a trace records a mask rather than reading values
equal = Primitive("equal", np.equal, (None, None), BROADCAST_ERROR, operator="__eq__")
not_equal = Primitive("not_equal", np.not_equal, (None, None), BROADCAST_ERROR,
                      operator="__ne__")
greater = Primitive("greater", np.greater, (None, None), BROADCAST_ERROR, operator="__gt__")
greater_equal = Primitive("greater_equal", np.greater_equal, (None, None), BROADCAST_ERROR,
                          operator="__ge__")
less = Primitive("less", np.less, (None, None), BROADCAST_ERROR, operator="__lt__")
less_equal = Primitive("less_equal", np.less_equal, (None, None), BROADCAST_ERROR,
                       operator="__le__")

def _relu(x):
    # (NumPy's maximum is several times faster against an array of zeros than against 0.0)
    x = np.asarray(x)
    return np.maximum(x, np.zeros(x.shape, x.dtype))


# the derivative at 0 is taken as 0, as the seed's `(s1 > 0) * ds1` does (ans > 0 exactly where
# x > 0, and reading ans lets the sweep free x)
relu = Primitive("relu", _relu,
                 (lambda g, ans, _x: g * greater.bind(ans, 0.0),), saves="ans",
                 rule=("{g} ⊙ [{ans} > 0]",))


def _tie_share(x, y, dtype):
    """1 where x wins, 1/2 where x and y tie, 0 where y wins: ties split the gradient evenly."""
    cast = _shape.cast
    return cast.bind(greater.bind(x, y), dtype) + cast.bind(equal.bind(x, y), dtype) * 0.5


maximum = Primitive("maximum", np.maximum, (
    lambda g, ans, x, y: _reductions.unbroadcast(g * _tie_share(x, y, g.dtype), x.shape),
    lambda g, ans, x, y: _reductions.unbroadcast(g * _tie_share(y, x, g.dtype), y.shape)),
    BROADCAST_ERROR, saves="x y",
    rule=("unbroadcast({g} ⊙ [{x} > {y}])  (ties: ½)", "unbroadcast({g} ⊙ [{y} > {x}])  (ties: ½)"),
    doc="Elementwise maximum; where x == y each side gets half the gradient.")

where = Primitive("where", np.where, (
    None,  # the condition is not differentiable
    lambda g, ans, c, x, y: _reductions.unbroadcast(where.bind(c, g, 0.0), x.shape),
    lambda g, ans, c, x, y: _reductions.unbroadcast(where.bind(c, 0.0, g), y.shape)),
    "cannot broadcast condition {} with {} and {}", saves="c",
    rule=(None, "unbroadcast(where({c}, {g}, 0))", "unbroadcast(where({c}, 0, {g}))"),
    doc="Elementwise `x` where `condition` holds, else `y`; the gradient flows to the chosen one.")
