"""NumPy's elementwise math (ops/math.py, and power with a tensor exponent): forward against
NumPy, gradients against central finite differences over hypothesis-drawn shapes (broadcasting,
size-1 axes, 0-d), second derivatives of the smooth ops, float32 end to end, the conventions at
the kinks, boolean and integer results without gradients, and errors that name the op."""
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc

SWEEP = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=3)
pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3)

_erf = np.vectorize(math.erf, otypes=[float])

# `3 % t`, `1 & t`, ...: Tensor's reflected operators are made for the names in ops/__init__.py's
# _REFLECTED, which does not hold %, //, &, |, ^, << and >> yet (outside this file's op family)
REFLECTED = all(f"__r{name}__" in vars(tflc.Tensor)
                for name in ("mod", "floordiv", "and", "or", "xor", "lshift", "rshift"))
NEEDS_REFLECTED = "the reflected forms need _REFLECTED in ops/__init__.py to hold these operators"


def uniform(lo, hi):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def signed(lo=0.2, hi=2.0):
    """Magnitudes in [lo, hi) with random signs: away from 0 (the kinks of abs, sign, copysign)."""
    return lambda rng, shape: rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], size=shape)


def off_grid(offset=0.0):
    """Integers plus a fraction in [0.1, 0.4] + offset: away from the jumps of floor and ceil
    (offset 0) or of round (offset 0.5 - 0.25: away from the halves)."""
    return lambda rng, shape: rng.integers(-3, 3, shape) + offset + rng.uniform(0.1, 0.4, shape)


def weights(shape):
    """The weights conftest's check_grads uses (seed 0): d sum(f(x) * w) / dx = f'(x) * w."""
    return np.random.default_rng(0).standard_normal(shape)


zero = np.zeros_like

# name: (op, NumPy's forward, its derivative written out, where to sample, smooth)
UNARY = {
    "sqrt": (tflc.sqrt, np.sqrt, lambda x: 0.5 / np.sqrt(x), uniform(0.2, 3), True),
    "square": (tflc.square, np.square, lambda x: 2 * x, uniform(-2, 2), True),
    "abs": (tflc.abs, np.abs, np.sign, signed(), True),
    "abs builtin": (lambda t: abs(t), np.abs, np.sign, signed(), True),
    "absolute": (tflc.absolute, np.absolute, np.sign, signed(), True),
    "sign": (tflc.sign, np.sign, zero, signed(), True),
    "sin": (tflc.sin, np.sin, np.cos, uniform(-3, 3), True),
    "cos": (tflc.cos, np.cos, lambda x: -np.sin(x), uniform(-3, 3), True),
    "tan": (tflc.tan, np.tan, lambda x: 1 / np.cos(x) ** 2, uniform(-1.2, 1.2), True),
    "arcsin": (tflc.arcsin, np.arcsin, lambda x: 1 / np.sqrt(1 - x ** 2), uniform(-0.9, 0.9), True),
    "arccos": (tflc.arccos, np.arccos, lambda x: -1 / np.sqrt(1 - x ** 2), uniform(-0.9, 0.9), True),
    "arctan": (tflc.arctan, np.arctan, lambda x: 1 / (1 + x ** 2), uniform(-3, 3), True),
    "sinh": (tflc.sinh, np.sinh, np.cosh, uniform(-2, 2), True),
    "cosh": (tflc.cosh, np.cosh, np.sinh, uniform(-2, 2), True),
    "arcsinh": (tflc.arcsinh, np.arcsinh, lambda x: 1 / np.sqrt(x ** 2 + 1), uniform(-3, 3), True),
    "arccosh": (tflc.arccosh, np.arccosh, lambda x: 1 / np.sqrt(x ** 2 - 1), uniform(1.2, 4), True),
    "arctanh": (tflc.arctanh, np.arctanh, lambda x: 1 / (1 - x ** 2), uniform(-0.9, 0.9), True),
    "exp2": (tflc.exp2, np.exp2, lambda x: 2 ** x * math.log(2), uniform(-2, 2), True),
    "expm1": (tflc.expm1, np.expm1, np.exp, uniform(-2, 2), True),
    "log2": (tflc.log2, np.log2, lambda x: 1 / (x * math.log(2)), uniform(0.3, 3), True),
    "log10": (tflc.log10, np.log10, lambda x: 1 / (x * math.log(10)), uniform(0.3, 3), True),
    "log1p": (tflc.log1p, np.log1p, lambda x: 1 / (1 + x), uniform(-0.7, 3), True),
    "erf": (tflc.erf, _erf, lambda x: 2 / math.sqrt(math.pi) * np.exp(-x ** 2), uniform(-2, 2),
            True),
    "floor": (tflc.floor, np.floor, zero, off_grid(), True),
    "ceil": (tflc.ceil, np.ceil, zero, off_grid(), True),
    "trunc": (tflc.trunc, np.trunc, zero, off_grid(), True),
    "round": (tflc.round, np.round, zero, off_grid(0.5 - 0.25), True),
    "round decimals": (lambda t: tflc.round(t, 1), lambda x: np.round(x, 1), zero,
                       lambda rng, shape: (rng.integers(-30, 30, shape) + 0.3) / 10, True),
    "round method": (lambda t: t.round(), np.round, zero, off_grid(0.5 - 0.25), True),
    "nan_to_num": (tflc.nan_to_num, np.nan_to_num, np.ones_like, uniform(-2, 2), True),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SWEEP
@given(shape=shapes, seed=seeds)
def test_unary_forward_and_gradient(name, shape, seed, check_grads):
    op, reference, derivative, sample, _ = UNARY[name]
    x = sample(np.random.default_rng(seed), shape)
    out = op(tflc.Tensor(x))
    assert isinstance(out, tflc.Tensor) and out.shape == np.shape(x) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-15, atol=1e-300)
    (g,) = check_grads(op, x)
    np.testing.assert_allclose(g, derivative(x) * weights(np.shape(x)), rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("name", sorted(n for n, case in UNARY.items() if case[4]))
def test_unary_second_derivatives(name, check_hvp):
    op, _, _, sample, _ = UNARY[name]
    for seed, shape in ((1, (2, 3)), (2, ())):
        check_hvp(op, sample(np.random.default_rng(seed), shape), rtol=1e-6)


# --- binary ops with broadcasting ---------------------------------------------------------------
def _apart(rng, shape_x, shape_y):
    """Two arrays whose entries differ by at least 0.2 wherever they meet (no ties)."""
    x = rng.integers(-4, 4, shape_x) + rng.uniform(0.0, 0.3, shape_x)
    return x, rng.integers(-4, 4, shape_y) + 0.5 + rng.uniform(0.0, 0.3, shape_y)


def _remainder_inputs(rng, shape_x, shape_y):
    """x / y an integer plus a fraction in [0.2, 0.8] (x = q * y), away from mod's jumps; where
    y would stretch x, x in [0.1, 0.4] instead, so |x / y| is in [0.05, 0.8]."""
    y = signed(0.5, 2.0)(rng, shape_y)
    q = rng.integers(-3, 3, np.broadcast_shapes(shape_x, shape_y)) + rng.uniform(0.2, 0.8)
    x = q * y
    return (x if x.shape == tuple(shape_x) else rng.uniform(0.1, 0.4, shape_x)), y


def _both(sample_x, sample_y):
    return lambda rng, shape_x, shape_y: (sample_x(rng, shape_x), sample_y(rng, shape_y))


# name: (op, NumPy's forward, sampler of (x, y), smooth)
BINARY = {
    "minimum": (tflc.minimum, np.minimum, _apart),
    "fmax": (tflc.fmax, np.fmax, _apart),
    "fmin": (tflc.fmin, np.fmin, _apart),
    "logaddexp": (tflc.logaddexp, np.logaddexp, _both(uniform(-3, 3), uniform(-3, 3))),
    "logaddexp2": (tflc.logaddexp2, np.logaddexp2, _both(uniform(-3, 3), uniform(-3, 3))),
    "hypot": (tflc.hypot, np.hypot, _both(signed(0.3), signed(0.3))),
    "arctan2": (tflc.arctan2, np.arctan2, _both(signed(0.3), signed(0.3))),
    "copysign": (tflc.copysign, np.copysign, _both(signed(), signed())),
    "power": (tflc.power, np.power, _both(uniform(0.5, 2), uniform(-2, 2))),
    "power operator": (lambda a, b: a ** b, np.power, _both(uniform(0.5, 2), uniform(-2, 2))),
    "mod": (tflc.mod, np.mod, _remainder_inputs),
    "mod operator": (lambda a, b: a % b, np.mod, _remainder_inputs),
    "fmod": (tflc.fmod, np.fmod, _remainder_inputs),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SWEEP
@given(shapes=pairs, seed=seeds)
def test_binary_broadcasting_gradients(name, shapes, seed, check_grads):
    (shape_x, shape_y), result_shape = shapes.input_shapes, shapes.result_shape
    op, reference, sample = BINARY[name]
    x, y = sample(np.random.default_rng(seed), shape_x, shape_y)
    out = op(tflc.Tensor(x), tflc.Tensor(y))
    assert out.shape == result_shape and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(x, y), rtol=1e-15, atol=1e-300)
    gx, gy = check_grads(op, x, y, rtol=1e-6)
    assert gx.shape == shape_x and gy.shape == shape_y


@pytest.mark.parametrize("name", sorted(BINARY))
def test_binary_second_derivatives(name, check_hvp):
    op, _, sample = BINARY[name]
    for seed, (shape_x, shape_y) in ((3, ((2, 3), (3,))), (4, ((), (2, 1)))):
        check_hvp(op, *sample(np.random.default_rng(seed), shape_x, shape_y), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(BINARY))
@pytest.mark.parametrize("side", ["left", "right"])
def test_binary_with_a_constant_operand(name, side, check_grads):
    """One side a Tensor, the other an ndarray constant: the Tensor's gradient alone."""
    if name == "mod operator" and side == "right" and not REFLECTED:
        pytest.skip(NEEDS_REFLECTED)
    op, reference, sample = BINARY[name]
    x, y = sample(np.random.default_rng(5), (2, 3), (3,))
    f = (lambda t: op(t, y)) if side == "left" else (lambda t: op(x, t))
    t_value = x if side == "left" else y
    np.testing.assert_allclose(f(tflc.Tensor(t_value)).numpy(), reference(x, y), rtol=1e-15)
    check_grads(f, t_value, rtol=1e-6)


@pytest.mark.parametrize("form", ["2 ** x", "array ** x", "x ** 0-d tensor", "x % 1.5", "mod(x, 1.5)"])
def test_operator_forms(form, check_grads):
    x = np.array([0.3, 1.2, 2.7])
    f, reference = {
        "2 ** x": (lambda t: 2 ** t, lambda v: 2.0 ** v),
        "array ** x": (lambda t: np.array([1.5, 2.0, 3.0]) ** t, lambda v: np.array([1.5, 2, 3]) ** v),
        "x ** 0-d tensor": (lambda t: t ** tflc.Tensor(np.array(1.5)), lambda v: v ** 1.5),
        "x % 1.5": (lambda t: t % 1.5, lambda v: v % 1.5),
        "mod(x, 1.5)": (lambda t: tflc.mod(t, 1.5), lambda v: np.mod(v, 1.5)),
    }[form]
    out = f(tflc.Tensor(x))
    assert isinstance(out, tflc.Tensor)
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-15)
    check_grads(f, x)


# --- clip ---------------------------------------------------------------------------------------
@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=seeds)
def test_clip_broadcasting_gradients_to_x_and_bounds(shapes, seed, check_grads):
    shape_x, shape_lo, shape_hi = shapes.input_shapes
    rng = np.random.default_rng(seed)
    lo, hi = -rng.uniform(0.5, 2, shape_lo), rng.uniform(0.5, 2, shape_hi)
    # x below, between or above the bounds' ranges, never within 0.1 of a bound (no corners)
    x = rng.choice([-2.5, 0.0, 2.5], size=shape_x) + rng.uniform(-0.4, 0.4, shape_x)
    out = tflc.clip(tflc.Tensor(x), tflc.Tensor(lo), tflc.Tensor(hi))
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.numpy(), np.clip(x, lo, hi))
    gx, glo, ghi = check_grads(tflc.clip, x, lo, hi)
    assert (gx.shape, glo.shape, ghi.shape) == (shape_x, shape_lo, shape_hi)


@pytest.mark.parametrize("form", ["function", "method", "min/max keywords", "np.clip", "a_min only",
                                  "a_max only", "max keyword only"])
def test_clip_forms(form, check_grads):
    x = np.array([-1.7, -0.3, 0.4, 1.3, 2.2])
    f, expected = {
        "function": (lambda t: tflc.clip(t, -0.5, 1.0), np.clip(x, -0.5, 1.0)),
        "method": (lambda t: t.clip(-0.5, 1.0), np.clip(x, -0.5, 1.0)),
        "min/max keywords": (lambda t: tflc.clip(t, min=-0.5, max=1.0), np.clip(x, -0.5, 1.0)),
        "np.clip": (lambda t: np.clip(t, -0.5, 1.0), np.clip(x, -0.5, 1.0)),
        "a_min only": (lambda t: tflc.clip(t, -0.5, None), np.clip(x, -0.5, None)),
        "a_max only": (lambda t: tflc.clip(t, None, 1.0), np.clip(x, None, 1.0)),
        "max keyword only": (lambda t: t.clip(max=1.0), np.clip(x, None, 1.0)),
    }[form]
    out = f(tflc.Tensor(x))
    assert isinstance(out, tflc.Tensor)
    np.testing.assert_array_equal(out.numpy(), expected)
    (g,) = check_grads(f, x)
    np.testing.assert_array_equal(g != 0, x == expected)  # 1 where x passes through


def _grads(f, *values):
    variables = [tflc.Variable(np.asarray(v, dtype=np.float64)) for v in values]
    with tflc.GradientTape() as tape:
        out = f(*variables)
    return [g.numpy() for g in tape.gradient(out, variables)]


def test_clip_at_its_corners_splits_evenly_as_jax():
    """jax.numpy.clip is minimum(maximum(x, a_min), a_max) and lax.max / lax.min split ties
    evenly (_balanced_eq): at x == a bound, x and the bound get 1/2 each."""
    x = [-2.0, -1.0, 0.0, 1.0, 2.0]
    gx, glo, ghi = _grads(lambda a, lo, hi: tflc.clip(a, lo, hi), x, -1.0, 1.0)
    np.testing.assert_array_equal(gx, [0.0, 0.5, 1.0, 0.5, 0.0])
    assert glo == 1.0 + 0.5 and ghi == 0.5 + 1.0  # one clipped entry and one tie at each bound
    # a_min == a_max == x: maximum gives x and a_min 1/2 each, then minimum halves that
    gx, glo, ghi = _grads(lambda a, lo, hi: tflc.clip(a, lo, hi), 1.0, 1.0, 1.0)
    assert (gx, glo, ghi) == (0.25, 0.25, 0.5)
    # a_min > a_max: NumPy's result is a_max everywhere, and so is the gradient
    gx, glo, ghi = _grads(lambda a, lo, hi: tflc.clip(a, lo, hi), [0.0, 3.0], 2.0, 1.0)
    np.testing.assert_array_equal(gx, [0.0, 0.0])
    assert (glo, ghi) == (0.0, 2.0)


def test_clip_keeps_integers_integers_and_refuses_out():
    i = tflc.Tensor(np.arange(5))
    out = tflc.clip(i, 1, 3)
    assert out.dtype == np.arange(5).dtype
    np.testing.assert_array_equal(out.numpy(), [1, 1, 2, 3, 3])
    np.testing.assert_array_equal(tflc.clip(i, None, None).numpy(), np.arange(5))
    with pytest.raises(TypeError, match="clip: out= is not supported"):
        tflc.clip(i, 0, 1, np.empty(5))
    with pytest.raises(TypeError, match="clip: got both a_min and min"):
        tflc.clip(i, 0, min=1)


# --- conventions at the kinks -------------------------------------------------------------------
def test_abs_at_zero_has_zero_gradient():
    (g,) = _grads(tflc.abs, [-2.0, -0.0, 0.0, 3.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 0.0, 1.0])
    (g,) = _grads(lambda t: tflc.copysign(t, -1.0), [2.0, 0.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0])  # -|x|: d/dx = -sign(x), 0 at 0 as abs'


@pytest.mark.parametrize("op", [tflc.sign, tflc.floor, tflc.ceil, tflc.trunc, tflc.round],
                         ids=lambda op: op.name)
def test_piecewise_constant_ops_have_zero_gradient_even_at_their_jumps(op):
    x = tflc.Variable(np.array([-1.0, -0.5, 0.0, 0.5, 1.5, 2.0]))
    with tflc.GradientTape() as tape:
        y = op(x)
    g = tape.gradient(y, x, output_gradients=np.full(6, np.inf))  # zeros, not inf * 0 = NaN
    assert g is not None
    np.testing.assert_array_equal(g.numpy(), np.zeros(6))


def test_sqrt_at_zero_has_infinite_gradient_as_numpy_and_jax():
    with np.errstate(divide="ignore"):
        (g,) = _grads(tflc.sqrt, [0.0, 4.0])
    np.testing.assert_array_equal(g, [np.inf, 0.25])


def test_minimum_ties_split_evenly():
    gx, gy = _grads(tflc.minimum, [1.0, 2.0, 3.0], [3.0, 2.0, 1.0])
    np.testing.assert_array_equal(gx, [1.0, 0.5, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.5, 1.0])
    gx, gy = _grads(tflc.minimum, [[2.0, 1.0, 2.0], [3.0, 2.0, 0.0]], 2.0)
    np.testing.assert_array_equal(gx, [[0.5, 1.0, 0.5], [0.0, 0.5, 1.0]])
    assert gy == 0.5 * 3 + 1  # three ties, one win


@pytest.mark.parametrize("op", [tflc.fmax, tflc.fmin], ids=lambda op: op.name)
def test_fmax_fmin_send_the_gradient_to_the_number_beside_a_nan(op):
    nan = np.nan
    gx, gy = _grads(op, [nan, 1.0, nan, 2.0], [1.0, nan, nan, 2.0])
    np.testing.assert_array_equal(gx, [0.0, 1.0, 0.0, 0.5])
    np.testing.assert_array_equal(gy, [1.0, 0.0, 0.0, 0.5])


def test_fmax_and_fmin_pick_the_larger_and_smaller():
    gx, gy = _grads(tflc.fmax, [1.0, 3.0], [2.0, 0.0])
    np.testing.assert_array_equal(gx, [0.0, 1.0])
    gx, gy = _grads(tflc.fmin, [1.0, 3.0], [2.0, 0.0])
    np.testing.assert_array_equal(gx, [1.0, 0.0])


def test_hypot_and_arctan2_at_the_origin_have_zero_gradient():
    for op in (tflc.hypot, tflc.arctan2):
        gx, gy = _grads(op, [0.0, 3.0], [0.0, 4.0])
        np.testing.assert_array_equal(gx[0], 0.0)
        np.testing.assert_array_equal(gy[0], 0.0)
    gx, gy = _grads(tflc.hypot, [0.0, 3.0], [0.0, 4.0])
    np.testing.assert_allclose([gx[1], gy[1]], [0.6, 0.8], rtol=1e-15)


def test_nan_to_num_gradient_is_one_where_finite_and_zero_where_replaced():
    x = [np.nan, np.inf, -np.inf, 1.5]
    out = tflc.nan_to_num(tflc.Tensor(np.array(x)), nan=7.0, posinf=9.0, neginf=-9.0)
    np.testing.assert_array_equal(out.numpy(), [7.0, 9.0, -9.0, 1.5])
    (g,) = _grads(lambda t: tflc.nan_to_num(t, copy=False), x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 0.0, 1.0])


def test_mod_and_fmod_gradients_with_respect_to_the_divisor_are_minus_the_quotient():
    x, y = [7.0, -7.0, 7.0, -7.0], [2.0, 2.0, -2.0, -2.0]
    gx, gy = _grads(tflc.mod, x, y)
    np.testing.assert_array_equal(gx, [1.0] * 4)
    np.testing.assert_array_equal(gy, -np.floor_divide(x, y))  # [-3, 4, 4, -3]
    gx, gy = _grads(tflc.fmod, x, y)
    np.testing.assert_array_equal(gy, -np.trunc(np.divide(x, y)))  # [-3, 3, 3, -3]
    # the quotient fmod itself used, where x / y rounds to the next integer
    gx, gy = _grads(tflc.fmod, 1.0, 0.1)
    assert np.fmod(1.0, 0.1) > 0.09 and gy == -9.0


def test_power_conventions_at_zero():
    # d(0 ** y)/dy is 0 (JAX's, the limit from y > 0); d(x ** 0)/dx is 0 even at x = 0
    gx, gy = _grads(lambda a, b: a ** b, [0.0, 0.0, 2.0], [2.0, 0.0, 0.0])
    np.testing.assert_array_equal(gx, [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(gy, [0.0, 0.0, math.log(2.0)])
    (g,) = _grads(lambda b: 2 ** b, [0.0, 1.0])
    np.testing.assert_allclose(g, [math.log(2.0), 2 * math.log(2.0)], rtol=1e-15)
    with np.errstate(invalid="ignore"):  # a negative base: d/dy = x ** y log(x) is NaN
        gx, gy = _grads(lambda a, b: a ** b, -2.0, 2.0)
    assert gx == -4.0 and np.isnan(gy)


def test_power_second_derivatives_in_both_arguments():
    x, y = 1.5, 2.5
    h = tflc.hessian(lambda v: v[0] ** v[1])(np.array([x, y])).numpy()
    lx = math.log(x)
    np.testing.assert_allclose(h, [[y * (y - 1) * x ** (y - 2), x ** (y - 1) * (1 + y * lx)],
                                   [x ** (y - 1) * (1 + y * lx), x ** y * lx ** 2]], rtol=1e-13)


def test_logaddexp_gradients_do_not_overflow():
    with np.errstate(over="raise", invalid="raise"):
        gx, gy = _grads(tflc.logaddexp, [1000.0, -1000.0, 0.0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(gx, [1.0, 0.0, 0.5])
    np.testing.assert_allclose(gy, [0.0, 1.0, 0.5])


# --- erf ----------------------------------------------------------------------------------------
def test_erf_is_accurate_over_its_regions():
    """Cody's three rational approximations (|x| <= 0.46875, to 4, beyond) against math.erf."""
    edges = [0.46875, np.nextafter(0.46875, 1), 4.0, np.nextafter(4.0, 5), 6.0, 5.9, 27.0, 1e-300]
    x = np.concatenate([np.linspace(-7, 7, 2801), edges, np.negative(edges),
                        np.random.default_rng(6).uniform(0.4, 0.6, 500)])
    ours, exact = tflc.erf(x).numpy(), _erf(x)
    nonzero = exact != 0
    assert np.max(np.abs(ours - exact)[nonzero] / np.abs(exact[nonzero])) < 1e-15
    special = tflc.erf(np.array([0.0, -0.0, np.inf, -np.inf, np.nan])).numpy()
    np.testing.assert_array_equal(special, [0.0, -0.0, 1.0, -1.0, np.nan])
    assert np.signbit(special[1])


def test_erf_dtypes():
    x32 = np.linspace(-4, 4, 101, dtype=np.float32)
    out = tflc.erf(x32)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.numpy(), _erf(x32.astype(np.float64)), rtol=3e-7, atol=1e-7)
    assert tflc.erf(np.float16([0.5])).dtype == np.float16
    assert tflc.erf(np.array([1, 2])).dtype == np.float64  # integers become floats, as np.sin's
    assert tflc.erf(np.zeros((2, 0))).shape == (2, 0)


# --- float32 end to end -------------------------------------------------------------------------
def _f32_cases():
    rng = np.random.default_rng(7)
    pos = lambda *s: rng.uniform(0.5, 2.0, s)
    sgn = lambda *s: signed(0.2, 0.9)(rng, s)
    cases = {name: (case[0], [case[3](rng, (3, 2)) * 1.0]) for name, case in UNARY.items()}
    cases.update({
        "minimum": (tflc.minimum, [np.array([1.0, 2.0, 3.0]), np.array([3.0, 2.0, 1.0])]),
        "fmax": (tflc.fmax, [np.array([1.0, np.nan, 3.0]), np.array([3.0, 2.0, 3.0])]),
        "fmin": (tflc.fmin, [np.array([1.0, np.nan, 3.0]), np.array([3.0, 2.0, 3.0])]),
        "logaddexp": (tflc.logaddexp, [sgn(3, 2), sgn(2)]),
        "logaddexp2": (tflc.logaddexp2, [sgn(3, 2), sgn(2)]),
        "hypot": (tflc.hypot, [sgn(3, 2), sgn(2)]),
        "arctan2": (tflc.arctan2, [sgn(3, 2), sgn(2)]),
        "copysign": (tflc.copysign, [sgn(3, 2), sgn(2)]),
        "power": (lambda a, b: a ** b, [pos(3, 2), sgn(2)]),
        "2 ** x": (lambda a: 2 ** a, [sgn(3)]),
        "mod": (lambda a: a % 0.3, [pos(3)]),
        "fmod": (lambda a, b: tflc.fmod(a, b), [pos(3), np.array([0.3, 0.7, 0.9])]),
        "clip": (lambda a, b: tflc.clip(a, b, 0.5), [sgn(3, 2), np.array([-0.5, 0.1])]),
        "clip ties": (lambda a: tflc.clip(a, 0.0, 1.0), [np.array([0.0, 0.5, 1.0, 2.0])]),
    })
    return cases


F32_CASES = _f32_cases()


@pytest.mark.parametrize("name", sorted(F32_CASES))
def test_float32_stays_float32(name):
    f, arrays = F32_CASES[name]
    variables = [tflc.Variable(a.astype(np.float32)) for a in arrays]
    with tflc.GradientTape(persistent=True) as tape:
        out = f(*variables)
    assert out.dtype == np.float32, f"forward upcast to {out.dtype}"
    grads = tape.gradient(out, variables)
    # every VJP computes in float32 (the sweep's final cast would hide an upcast)
    for eq in tape.program.equations:
        result = tape.program.entries[eq.output]
        ans = None if eq.ans is None else result.numpy()
        g = np.ones(result.shape, dtype=result.dtype)
        for k, (vjp, x) in enumerate(zip(eq.op.vjps, eq.arrays)):
            if vjp is not None and getattr(x, "dtype", None) == np.float32:
                gx = vjp(g, ans, *eq.arrays, *eq.params)
                assert gx.dtype == np.float32, f"{eq.op.name} VJP {k} computes in {gx.dtype}"
                assert gx.shape == x.shape, f"{eq.op.name} VJP {k} has shape {gx.shape}"
    for g in grads:
        assert g.dtype == np.float32, f"gradient is {g.dtype}"


# --- boolean and integer results: values without gradients --------------------------------------
@pytest.mark.parametrize("op,reference", [
    (tflc.isnan, np.isnan), (tflc.isinf, np.isinf), (tflc.isfinite, np.isfinite),
    (tflc.logical_not, np.logical_not),
], ids=lambda f: getattr(f, "__name__", ""))
def test_predicates(op, reference):
    x = np.array([np.nan, np.inf, -np.inf, 0.0, 1.5])
    out = op(tflc.Tensor(x))
    assert out.dtype == np.bool_
    np.testing.assert_array_equal(out.numpy(), reference(x))


def test_isclose_follows_numpy():
    a = np.array([1.0, 1.0 + 1e-6, np.nan, 2.0])
    b = np.array([1.0, 1.0, np.nan, 2.1])
    for kwargs in ({}, {"equal_nan": True}, {"rtol": 0.1}, {"atol": 1e-9, "rtol": 0.0}):
        out = tflc.isclose(tflc.Tensor(a), b, **kwargs)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out.numpy(), np.isclose(a, b, **kwargs))
    np.testing.assert_array_equal(np.isclose(tflc.Tensor(a), b).numpy(), np.isclose(a, b))
    with pytest.raises(TypeError, match="isclose: rtol must be a real number"):
        tflc.isclose(a, b, rtol="big")


def test_logical_ops():
    p, q = np.array([True, True, False, False]), np.array([True, False, True, False])
    for op, reference in ((tflc.logical_and, np.logical_and), (tflc.logical_or, np.logical_or),
                          (tflc.logical_xor, np.logical_xor)):
        out = op(tflc.Tensor(p), q)
        assert out.dtype == np.bool_
        np.testing.assert_array_equal(out.numpy(), reference(p, q))
    np.testing.assert_array_equal(tflc.logical_and(np.array([0.0, 2.0]), 1.0).numpy(), [False, True])


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.uint8, np.bool_])
def test_bitwise_operators_on_integer_and_boolean_tensors(dtype):
    a = np.array([0, 1, 5, 6]).astype(dtype)
    b = np.array([1, 1, 3, 0]).astype(dtype)
    ta, tb = tflc.Tensor(a), tflc.Tensor(b)
    cases = [(~ta, ~a), (ta & tb, a & b), (ta | tb, a | b), (ta ^ tb, a ^ b), (ta & b, a & b),
             (tflc.invert(ta), np.invert(a)), (tflc.bitwise_not(ta), np.bitwise_not(a))]
    if dtype is not np.bool_:
        cases += [(ta << 1, a << 1), (ta >> 1, a >> 1), (tflc.left_shift(ta, tb), a << b),
                  (tflc.right_shift(ta, tb), a >> b), (ta // 2, a // 2), (ta % 4, a % 4)]
    for out, expected in cases:
        assert isinstance(out, tflc.Tensor)
        assert out.dtype == expected.dtype
        np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.skipif(not REFLECTED, reason=NEEDS_REFLECTED)
def test_reflected_operators_with_a_number_or_array_on_the_left(check_grads):
    i, a = tflc.Tensor(np.array([1, 2, 3])), np.array([1, 2, 3])
    b = np.array([True, False, True])
    for out, expected in ((7 % i, 7 % a), (7 // i, 7 // a), (6 & i, 6 & a), (4 | i, 4 | a),
                          (5 ^ i, 5 ^ a), (1 << i, 1 << a), (64 >> i, 64 >> a),
                          (np.array([3, 3, 3]) % i, 3 % a), (True & tflc.Tensor(b), True & b)):
        assert isinstance(out, tflc.Tensor)
        np.testing.assert_array_equal(out.numpy(), expected)
    check_grads(lambda t: 2.5 % t, np.array([0.7, 1.1, 1.9]))


@pytest.mark.parametrize("f,name", [
    (lambda t: ~t, "invert"), (lambda t: t & 1, "bitwise_and"), (lambda t: t | 1, "bitwise_or"),
    (lambda t: t ^ 1, "bitwise_xor"), (lambda t: t << 1, "left_shift"),
    (lambda t: t >> 1, "right_shift"),
])
def test_bitwise_ops_refuse_floats_naming_the_op(f, name):
    with pytest.raises(TypeError, match=f"^{name}: needs integer or boolean tensors, got float64"):
        f(tflc.Tensor(np.array([1.0, 2.0])))


def test_ops_with_non_float_results_are_not_recorded():
    x = tflc.Variable(np.array([0.5, 1.5, 2.5]))
    with tflc.GradientTape() as tape:
        mask = tflc.isfinite(x) & tflc.isclose(x, 1.5) | tflc.isnan(x)
        quotient = x // 1.0  # floor_divide: float, but no gradient
        y = tflc.cast(mask, np.float64) * 2.0 + quotient
    assert tape.program.equations == []  # nothing here leads back to x
    assert tape.gradient(y, x) is None
    np.testing.assert_array_equal(quotient.numpy(), [0.0, 1.0, 2.0])


def test_integer_inputs_give_numpy_results():
    i = np.array([1, 4, 9])
    np.testing.assert_array_equal(tflc.sqrt(i).numpy(), np.sqrt(i))
    assert tflc.square(i).dtype == np.square(i).dtype
    assert tflc.abs(np.array([-2, 3])).dtype == np.abs(np.array([-2, 3])).dtype
    assert tflc.minimum(i, 3).dtype == i.dtype
    assert tflc.floor(i).dtype == np.floor(i).dtype
    np.testing.assert_array_equal(tflc.nan_to_num(i).numpy(), i)


# --- a compiled step ----------------------------------------------------------------------------
def test_traced_step_matches_eager():
    def loss(x):
        return tflc.sum(tflc.erf(x) + tflc.floor(x) * x + tflc.clip(x, -1.0, 1.0) + x % 0.7
                        + tflc.minimum(x, 0.5) + 2 ** x + tflc.abs(x))
    x = np.array([-1.3, -0.2, 0.45, 1.7])
    eager_value, eager_grad = tflc.value_and_grad(loss)(x)
    step = tflc.jit(tflc.value_and_grad(loss))
    for _ in range(2):
        value, grad = step(x)
        np.testing.assert_allclose(value.numpy(), eager_value.numpy(), rtol=1e-15)
        np.testing.assert_allclose(grad.numpy(), eager_grad.numpy(), rtol=1e-15)


# --- errors name the op -------------------------------------------------------------------------
@pytest.mark.parametrize("call,error,message", [
    (lambda: tflc.minimum(np.ones(3), np.ones(2)), ValueError, "minimum: cannot broadcast (3,) with (2,)"),
    (lambda: tflc.hypot(np.ones(3), tflc.Tensor(np.ones(2))), ValueError,
     "hypot: cannot broadcast (3,) with (2,)"),
    (lambda: tflc.clip(np.ones(3), np.zeros(2), 1.0), ValueError,
     "clip: cannot broadcast (3,) with bounds (2,) and ()"),
    (lambda: tflc.Tensor(np.ones(3)) ** tflc.Tensor(np.ones(2)), ValueError,
     "power: operands could not be broadcast together with shapes (3,) (2,)"),
    (lambda: tflc.Tensor(np.ones(3)) ** "2", TypeError, "power: the exponent must be a real number"),
    (lambda: tflc.sqrt("four"), TypeError, "sqrt: cannot make a tensor from str"),
    (lambda: tflc.clip(np.ones(3), "low", 1.0), TypeError, "clip: cannot make a tensor from str"),
    (lambda: tflc.round(np.ones(3), 1.5), TypeError, "round: decimals must be an integer, got 1.5"),
    (lambda: tflc.round(np.ones(3), 0, np.empty(3)), TypeError, "round: out= is not supported"),
    (lambda: tflc.power(np.arange(3), np.array([-1, -2, -3])), ValueError,
     "power: Integers to negative integer powers are not allowed"),
])
def test_bad_input_errors_name_the_op(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)
