"""NumPy's elementwise math under NumPy's names: roots, trigonometric and hyperbolic functions,
logs and exponentials, rounding, clip and the NaN-aware minima and maxima, remainders, erf,
predicates, logic and bits. Binary ops broadcast, and each VJP sums back over what broadcasting
stretched (`unbroadcast`); VJPs are written with operators and `bind`, so the smooth ops have
second derivatives. Integer and boolean results (predicates, logic, bits, integer inputs) carry
no gradient: a gradient tape never records them.

Conventions where the derivative does not exist (each op's doc says its own): abs'(0) =
sign(0) = 0, as PyTorch and TF (JAX takes +1); sign and the rounding ops have gradient 0, as JAX
and PyTorch (TF: None); sqrt'(0) = inf, as all of them; minimum, fmax, fmin and clip split the
gradient evenly at ties, as `maximum` does (clip is JAX's minimum(maximum(x, a_min), a_max));
hypot and arctan2 have gradient 0 at the origin (PyTorch: NaN for hypot, 0 for atan2).
"""
import math as _math
from numbers import Number as _Number

import numpy as np

from ..primitive import Primitive
from ..tape import is_int as _is_int
from ..tensor import Tensor
from . import elementwise as _elementwise
from . import reductions as _reductions
from . import shape as _shape
from .elementwise import BROADCAST_ERROR

_LN2, _LN10 = _math.log(2.0), _math.log(10.0)  # Python floats: no float32 upcast
_TWO_OVER_SQRT_PI = 2.0 / _math.sqrt(_math.pi)


def _unbroadcast(g, shape):
    return _reductions.unbroadcast(g, shape)


def _zeros(g, shape=None):
    """The zero gradient of a piecewise-constant op, shaped like its input (not `g * 0`, which
    is NaN where g is infinite); a constant Tensor when the sweep runs on Tensors."""
    zeros = np.zeros(g.shape if shape is None else shape, g.dtype)
    return Tensor(zeros) if isinstance(g, Tensor) else zeros


def _nonzero(v):
    """`v` with its zeros replaced by 1: at a cusp the gradient comes out 0, not 0 / 0."""
    return _elementwise.where.bind(_elementwise.equal.bind(v, 0), 1.0, v)


# --- powers and roots --------------------------------------------------------------------------
sqrt = Primitive("sqrt", np.sqrt, (lambda g, ans, _x: g / (2 * ans),), saves="ans",
                 rule=("{g} / (2·{ans})",),
                 doc="Square root; sqrt'(0) = inf (1 / (2 * 0)), as NumPy's arithmetic and JAX give.")
square = Primitive("square", np.square, (lambda g, ans, x: g * (2 * x),), saves="x",
                   rule=("{g} ⊙ 2·{x}",))

# --- sign and magnitude ------------------------------------------------------------------------
sign = Primitive("sign", np.sign, (lambda g, ans, _x: _zeros(g),), saves="",
                 doc="-1, 0 or 1 (NaN for NaN); piecewise constant: gradient 0 everywhere.")
abs = Primitive("abs", np.abs, (lambda g, ans, x: g * sign.bind(x),), saves="x",
                rule=("{g} ⊙ sign({x})",),
                method="__abs__", doc="|x|; abs'(0) is taken as sign(0) = 0, as PyTorch and TF do.")
absolute = abs  # NumPy's other name for it
copysign = Primitive("copysign", np.copysign, (
    # |x| with y's sign bit: d/dx = sign(x) * sign(ans) (0 at x = 0, as abs'); y's gradient is 0
    lambda g, ans, x, y: _unbroadcast(g * (sign.bind(x) * sign.bind(ans)), x.shape),
    lambda g, ans, x, y: _zeros(g, y.shape)),
    BROADCAST_ERROR, saves="x ans",
    doc="|x| with the sign of y; d/dx = ±sign(x) (0 at x = 0, as abs'), d/dy = 0.")

# --- trigonometric and hyperbolic ----------------------------------------------------------------
sin = Primitive("sin", np.sin, (lambda g, ans, x: g * cos.bind(x),), saves="x",
                rule=("{g} ⊙ cos {x}",))
cos = Primitive("cos", np.cos, (lambda g, ans, x: -g * sin.bind(x),), saves="x",
                rule=("−{g} ⊙ sin {x}",))
tan = Primitive("tan", np.tan, (lambda g, ans, _x: g * (1 + ans * ans),), saves="ans",
                rule=("{g} ⊙ (1 + {ans}²)",))
arcsin = Primitive("arcsin", np.arcsin, (lambda g, ans, x: g / sqrt.bind(1 - x * x),), saves="x",
                   doc="Inverse sine on [-1, 1]; the gradient is inf at ±1.")
arccos = Primitive("arccos", np.arccos, (lambda g, ans, x: -g / sqrt.bind(1 - x * x),), saves="x",
                   doc="Inverse cosine on [-1, 1]; the gradient is -inf at ±1.")
arctan = Primitive("arctan", np.arctan, (lambda g, ans, x: g / (1 + x * x),), saves="x")
sinh = Primitive("sinh", np.sinh, (lambda g, ans, x: g * cosh.bind(x),), saves="x")
cosh = Primitive("cosh", np.cosh, (lambda g, ans, x: g * sinh.bind(x),), saves="x")
arcsinh = Primitive("arcsinh", np.arcsinh, (lambda g, ans, x: g / sqrt.bind(x * x + 1),),
                    saves="x")
arccosh = Primitive("arccosh", np.arccosh,  # (x - 1)(x + 1): no cancellation near x = 1
                    (lambda g, ans, x: g / sqrt.bind((x - 1) * (x + 1)),), saves="x",
                    doc="Inverse hyperbolic cosine on [1, inf); the gradient is inf at 1.")
arctanh = Primitive("arctanh", np.arctanh, (lambda g, ans, x: g / ((1 - x) * (1 + x)),),
                    saves="x", doc="Inverse hyperbolic tangent on (-1, 1).")
arctan2 = Primitive("arctan2", np.arctan2, (
    # d/dy = x / (x^2 + y^2), d/dx = -y / (x^2 + y^2); 0 at the origin, where it jumps
    lambda g, ans, y, x: _unbroadcast(g * x / _nonzero(x * x + y * y), y.shape),
    lambda g, ans, y, x: _unbroadcast(-g * y / _nonzero(x * x + y * y), x.shape)),
    BROADCAST_ERROR, saves="y x",
    doc="The angle of the point (x2, x1) (NumPy's arctan2(y, x)); gradient 0 at the origin.")
hypot = Primitive("hypot", np.hypot, (
    lambda g, ans, x, y: _unbroadcast(g * (x / _nonzero(ans)), x.shape),
    lambda g, ans, x, y: _unbroadcast(g * (y / _nonzero(ans)), y.shape)),
    BROADCAST_ERROR, saves="x y ans",
    doc="sqrt(x^2 + y^2) without overflow; gradient 0 at the origin (as abs'(0)).")

# --- exponentials and logarithms -----------------------------------------------------------------
exp2 = Primitive("exp2", np.exp2, (lambda g, ans, _x: g * (ans * _LN2),), saves="ans")
expm1 = Primitive("expm1", np.expm1, (lambda g, ans, _x: g * (ans + 1),), saves="ans")
log2 = Primitive("log2", np.log2, (lambda g, ans, x: g / (x * _LN2),), saves="x")
log10 = Primitive("log10", np.log10, (lambda g, ans, x: g / (x * _LN10),), saves="x")
log1p = Primitive("log1p", np.log1p, (lambda g, ans, x: g / (1 + x),), saves="x")
logaddexp = Primitive("logaddexp", np.logaddexp, (  # d/dx = e^x / (e^x + e^y) = e^(x - ans) <= 1
    lambda g, ans, x, y: _unbroadcast(g * _elementwise.exp.bind(x - ans), x.shape),
    lambda g, ans, x, y: _unbroadcast(g * _elementwise.exp.bind(y - ans), y.shape)),
    BROADCAST_ERROR, saves="x y ans", doc="log(exp(x) + exp(y)), without overflow.")
logaddexp2 = Primitive("logaddexp2", np.logaddexp2, (
    lambda g, ans, x, y: _unbroadcast(g * exp2.bind(x - ans), x.shape),
    lambda g, ans, x, y: _unbroadcast(g * exp2.bind(y - ans), y.shape)),
    BROADCAST_ERROR, saves="x y ans", doc="log2(2**x + 2**y), without overflow.")

# --- the error function --------------------------------------------------------------------------
# W. J. Cody, "Rational Chebyshev approximations for the error function", Math. Comp. 23 (1969)
# 631-638, as in his CALERF (netlib specfun): erf on |x| <= 0.46875, erfc on (0.46875, 4] and
# beyond 4, each a rational function good to about 1e-18 relative; in float64 the result is
# within 3 ulps (5e-16 relative) of the true value (tests compare with math.erf). In NumPy:
# about as fast as a few np.exp calls, where np.frompyfunc(math.erf) is a Python call per entry.
_ERF_A = (3.16112374387056560e00, 1.13864154151050156e02, 3.77485237685302021e02,
          3.20937758913846947e03, 1.85777706184603153e-1)
_ERF_B = (2.36012909523441209e01, 2.44024637934444173e02, 1.28261652607737228e03,
          2.84423683343917062e03)
_ERFC_C = (5.64188496988670089e-1, 8.88314979438837594e00, 6.61191906371416295e01,
           2.98635138197400131e02, 8.81952221241769090e02, 1.71204761263407058e03,
           2.05107837782607147e03, 1.23033935479799725e03, 2.15311535474403846e-8)
_ERFC_D = (1.57449261107098347e01, 1.17693950891312499e02, 5.37181101862009858e02,
           1.62138957456669019e03, 3.29079923573345963e03, 4.36261909014324716e03,
           3.43936767414372164e03, 1.23033935480374942e03)
_ERFC_P = (3.05326634961232344e-1, 3.60344899949804439e-1, 1.25781726111229246e-1,
           1.60837851487422766e-2, 6.58749161529837803e-4, 1.63153871373020978e-2)
_ERFC_Q = (2.56852019228982242e00, 1.87295284992346047e00, 5.27905102951428412e-1,
           6.05183413124413191e-2, 2.33520497626869185e-3)
_ONE_OVER_SQRT_PI = 5.6418958354775628695e-1


def _rational(t, num_coefs, den_coefs, scale, times=None):
    """Cody's rational function of t, `times` * num(t) / den(t) in his order of operations,
    `scale` being the numerator's leading coefficient (the denominator's is 1); Horner's rule in
    place (no temporaries per step)."""
    num, den = t * scale, t.copy()
    for a, b in zip(num_coefs[:-1], den_coefs[:-1]):
        num += a
        num *= t
        den += b
        den *= t
    num += num_coefs[-1]
    den += den_coefs[-1]
    if times is not None:
        num *= times
    num /= den
    return num


def _erf_forward(x):
    x = np.asarray(x)
    dtype = np.result_type(x, 1.0)  # integers and bools become float64, as np.sin does
    work = np.float32 if dtype == np.float16 else dtype  # float16 in float32, as NumPy's means
    shape, x = x.shape, x.astype(work, copy=False).ravel()
    y = np.abs(x)
    out = np.sign(x)  # ±1 beyond 6 (erf(6) is 1 to 2e-17), NaN for NaN; the rest is set below
    small = np.flatnonzero(y <= 0.46875)
    xs = x[small]
    out[small] = _rational(xs * xs, _ERF_A[:4], _ERF_B, _ERF_A[4], times=xs)
    for lo, hi in ((0.46875, 4.0), (4.0, 6.0)):
        i = np.flatnonzero((y > lo) & (y <= hi))
        yi = y[i]
        if lo < 4:  # exp(y^2) erfc(y) on (0.46875, 4]: a rational function of y
            erfc = _rational(yi, _ERFC_C[:8], _ERFC_D, _ERFC_C[8])
        else:  # beyond 4, of 1 / y^2
            z = 1 / (yi * yi)
            erfc = (_ONE_OVER_SQRT_PI - z * _rational(z, _ERFC_P[:5], _ERFC_Q, _ERFC_P[5])) / yi
        # times exp(-y^2) = exp(-u^2) exp(-(y - u)(y + u)), u = y rounded down to 1/16: u^2 is
        # exact, so the large exponent loses no digits (Cody's device)
        u = np.trunc(yi * 16) / 16
        erfc *= np.exp(-u * u) * np.exp((u - yi) * (yi + u))
        out[i] *= (0.5 - erfc) + 0.5  # out holds x's sign here
    return out.reshape(shape).astype(dtype, copy=False)


erf = Primitive("erf", _erf_forward,
                (lambda g, ans, x: g * (_TWO_OVER_SQRT_PI * _elementwise.exp.bind(-(x * x))),),
                saves="x",
                doc="The error function (W. J. Cody's rational approximations: within 3 ulps "
                    "in float64); its gradient is exactly 2/sqrt(pi) exp(-x^2).")

# --- rounding: piecewise constant, so gradient 0 (JAX's; TF gives None) -----------------------
floor = Primitive("floor", np.floor, (lambda g, ans, _x: _zeros(g),), saves="",
                  doc="Rounds toward -inf; gradient 0.")
ceil = Primitive("ceil", np.ceil, (lambda g, ans, _x: _zeros(g),), saves="",
                 doc="Rounds toward +inf; gradient 0.")
trunc = Primitive("trunc", np.trunc, (lambda g, ans, _x: _zeros(g),), saves="",
                  doc="Rounds toward 0; gradient 0.")


def _round_args(x, decimals=0, out=None):
    if out is not None:
        raise TypeError("round: out= is not supported (tensors are never written in place)")
    if not _is_int(decimals):
        raise TypeError(f"round: decimals must be an integer, got {decimals!r}")
    return (x,), (int(decimals),)


round = Primitive("round", np.round, (lambda g, ans, _x, decimals: _zeros(g),), saves="",
                  prepare=_round_args, label=lambda d: f"decimals={d}" if d else "",
                  method="round",
                  doc="np.round(x, decimals=0): halves to even, as NumPy; gradient 0.")


# --- minima, maxima, clip: ties split the gradient evenly, as `maximum` (and JAX's lax.min) ---
def _tie_share(x, y, dtype):
    return _elementwise._tie_share(x, y, dtype)


minimum = Primitive("minimum", np.minimum, (
    lambda g, ans, x, y: _unbroadcast(g * _tie_share(y, x, g.dtype), x.shape),
    lambda g, ans, x, y: _unbroadcast(g * _tie_share(x, y, g.dtype), y.shape)),
    BROADCAST_ERROR, saves="x y",
    rule=("unbroadcast({g} ⊙ [{x} < {y}])  (ties: ½)", "unbroadcast({g} ⊙ [{y} < {x}])  (ties: ½)"),
    doc="Elementwise minimum (NaN wins, as NumPy's); where x == y each side gets half the "
        "gradient.")


def _defined(share, x, y, dtype):
    """`share` (x's part of the gradient) plus all of it where only y is NaN: fmax and fmin
    ignore a NaN, so the other side is the result."""
    only_y = logical_and.bind(isnan.bind(y), logical_not.bind(isnan.bind(x)))
    return share + _shape.cast.bind(only_y, dtype)


fmax = Primitive("fmax", np.fmax, (
    lambda g, ans, x, y: _unbroadcast(g * _defined(_tie_share(x, y, g.dtype), x, y, g.dtype),
                                      x.shape),
    lambda g, ans, x, y: _unbroadcast(g * _defined(_tie_share(y, x, g.dtype), y, x, g.dtype),
                                      y.shape)),
    BROADCAST_ERROR, saves="x y",
    doc="Elementwise maximum ignoring NaN (the gradient goes to the number); ties split "
        "evenly, as maximum's (JAX gives a tie to x2, PyTorch to x1).")
fmin = Primitive("fmin", np.fmin, (
    lambda g, ans, x, y: _unbroadcast(g * _defined(_tie_share(y, x, g.dtype), x, y, g.dtype),
                                      x.shape),
    lambda g, ans, x, y: _unbroadcast(g * _defined(_tie_share(x, y, g.dtype), y, x, g.dtype),
                                      y.shape)),
    BROADCAST_ERROR, saves="x y",
    doc="Elementwise minimum ignoring NaN (the gradient goes to the number); ties split evenly.")


def _clip_args(a, a_min=None, a_max=None, out=None, *, min=None, max=None):
    """np.clip's signature (a_min / a_max, or NumPy 2's min / max); a bound that is None is not
    applied. The bounds are inputs (Tensors get gradients); a missing one is a 0 placeholder,
    and the parameters say which are there."""
    if out is not None:
        raise TypeError("clip: out= is not supported (tensors are never written in place)")
    if min is not None:
        if a_min is not None:
            raise TypeError("clip: got both a_min and min")
        a_min = min
    if max is not None:
        if a_max is not None:
            raise TypeError("clip: got both a_max and max")
        a_max = max
    return ((a, 0 if a_min is None else a_min, 0 if a_max is None else a_max),
            (a_min is not None, a_max is not None))


def _clip_forward(x, lo, hi, has_lo, has_hi):
    return np.clip(x, lo if has_lo else None, hi if has_hi else None)


def _through_min(m, hi, has_hi, dtype):
    """The share of minimum(m, hi) that goes to m (all of it without an upper bound)."""
    return _tie_share(hi, m, dtype) if has_hi else 1


def _lower(x, lo, has_lo):
    return _elementwise.maximum.bind(x, lo) if has_lo else x


clip = Primitive("clip", _clip_forward, (
    # JAX's clip is minimum(maximum(x, a_min), a_max): each tie splits evenly, as those do
    lambda g, ans, x, lo, hi, has_lo, has_hi: _unbroadcast(g * (
        _through_min(_lower(x, lo, has_lo), hi, has_hi, g.dtype)
        * (_tie_share(x, lo, g.dtype) if has_lo else 1)), x.shape),
    lambda g, ans, x, lo, hi, has_lo, has_hi: _unbroadcast(g * (
        _through_min(_lower(x, lo, has_lo), hi, has_hi, g.dtype)
        * _tie_share(lo, x, g.dtype)), lo.shape),
    lambda g, ans, x, lo, hi, has_lo, has_hi: _unbroadcast(
        g * _tie_share(_lower(x, lo, has_lo), hi, g.dtype), hi.shape)),
    "cannot broadcast {} with bounds {} and {}", saves="x lo hi", prepare=_clip_args,
    label=lambda has_lo, has_hi: {(True, True): "", (True, False): "a_min only",
                                  (False, True): "a_max only"}.get((has_lo, has_hi), "no bounds"),
    method="clip",
    doc="np.clip(a, a_min, a_max) = minimum(maximum(a, a_min), a_max), as JAX computes it: the "
        "gradient goes to a where a_min < a < a_max, to a bound where it binds, and is split "
        "evenly where a equals a bound (1/2 each, as maximum and minimum do at ties).")

# --- remainders ----------------------------------------------------------------------------------
floor_divide = Primitive("floor_divide", np.floor_divide, (None, None), BROADCAST_ERROR,
                         operator="__floordiv__",
                         doc="x // y (floor of the quotient): piecewise constant, no gradient.")
mod = Primitive("mod", np.mod, (
    # x - floor(x / y) * y: d/dx = 1, d/dy = -floor(x / y), NumPy's own quotient for np.mod
    lambda g, ans, x, y: _unbroadcast(g, x.shape),
    lambda g, ans, x, y: _unbroadcast(-g * floor_divide.bind(x, y), y.shape)),
    BROADCAST_ERROR, saves="x y", operator="__mod__",
    doc="x % y with the sign of y (Python's); d/dx = 1, d/dy = -(x // y); jumps where x / y is "
        "an integer.")
remainder = mod  # NumPy's other name for it
fmod = Primitive("fmod", np.fmod, (
    # x - trunc(x / y) * y; the quotient read back from ans, so it is the one fmod used
    lambda g, ans, x, y: _unbroadcast(g, x.shape),
    lambda g, ans, x, y: _unbroadcast(-g * round.bind((x - ans) / y, 0), y.shape)),
    BROADCAST_ERROR, saves="x y ans",
    doc="C's remainder, with the sign of x; d/dx = 1, d/dy = -trunc(x / y).")

# --- predicates: boolean results, no gradient ----------------------------------------------------
isnan = Primitive("isnan", np.isnan, (None,))
isinf = Primitive("isinf", np.isinf, (None,))
isfinite = Primitive("isfinite", np.isfinite, (None,))


def _isclose_args(a, b, rtol=1e-05, atol=1e-08, equal_nan=False):
    for name, value in (("rtol", rtol), ("atol", atol)):
        if isinstance(value, bool) or not isinstance(value, _Number):
            raise TypeError(f"isclose: {name} must be a real number, got {value!r}")
    return (a, b), (float(rtol), float(atol), bool(equal_nan))


isclose = Primitive("isclose",
                    lambda a, b, rtol, atol, equal_nan: np.isclose(a, b, rtol, atol, equal_nan),
                    (None, None), BROADCAST_ERROR, prepare=_isclose_args,
                    doc="|a - b| <= atol + rtol * |b|, elementwise (NumPy's; a boolean tensor).")


def _nan_to_num_args(x, copy=True, nan=0.0, posinf=None, neginf=None):
    return (x,), (nan, posinf, neginf)  # (copy: the engine never writes in place anyway)


nan_to_num = Primitive("nan_to_num",
                       lambda x, nan, posinf, neginf: np.nan_to_num(x, nan=nan, posinf=posinf,
                                                                    neginf=neginf),
                       (lambda g, ans, x, *_: _elementwise.where.bind(isfinite.bind(x), g, 0.0),),
                       saves="x", prepare=_nan_to_num_args,
                       doc="NaN and ±inf replaced by numbers; gradient 1 where x is finite, 0 "
                           "where a value was replaced.")

# --- logic: boolean results, no gradient ---------------------------------------------------------
logical_not = Primitive("logical_not", np.logical_not, (None,))
logical_and = Primitive("logical_and", np.logical_and, (None, None), BROADCAST_ERROR)
logical_or = Primitive("logical_or", np.logical_or, (None, None), BROADCAST_ERROR)
logical_xor = Primitive("logical_xor", np.logical_xor, (None, None), BROADCAST_ERROR)


# --- bits, on integer and boolean tensors (on booleans, logic): no gradient ----------------------
def _on_bits(ufunc):
    """`ufunc`, refusing floats with a message that says what it takes."""
    def forward(*values):
        kinds = [np.asarray(v).dtype for v in values]
        if any(k.kind not in "biu" for k in kinds):
            raise TypeError(f"needs integer or boolean tensors, got "
                            f"{', '.join(str(k) for k in kinds)}")
        return ufunc(*values)
    return forward


invert = Primitive("invert", _on_bits(np.invert), (None,), method="__invert__",
                   doc="~x: bitwise not of integers, logical not of booleans.")
bitwise_not = invert  # NumPy's other name for it
bitwise_and = Primitive("bitwise_and", _on_bits(np.bitwise_and), (None, None), BROADCAST_ERROR,
                        operator="__and__")
bitwise_or = Primitive("bitwise_or", _on_bits(np.bitwise_or), (None, None), BROADCAST_ERROR,
                       operator="__or__")
bitwise_xor = Primitive("bitwise_xor", _on_bits(np.bitwise_xor), (None, None), BROADCAST_ERROR,
                        operator="__xor__")
left_shift = Primitive("left_shift", _on_bits(np.left_shift), (None, None), BROADCAST_ERROR,
                       operator="__lshift__")
right_shift = Primitive("right_shift", _on_bits(np.right_shift), (None, None), BROADCAST_ERROR,
                        operator="__rshift__")
