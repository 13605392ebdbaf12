"""Every op: forward against NumPy, gradient against central finite differences (float64),
broadcasting / axis sweeps with hypothesis, max ties, float32 end to end, shape errors."""
import itertools
import math
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc

SWEEP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def signed(rng, shape, lo=0.1, hi=2.0):
    """Uniform magnitudes in [lo, hi) with random signs: away from 0 (relu kink, division)."""
    return rng.uniform(lo, hi, shape) * rng.choice([-1.0, 1.0], size=shape)


def apart(rng, shape_x, shape_y):
    """Two arrays whose broadcast entries differ by at least 0.2 (no ties in maximum)."""
    x = rng.integers(-4, 4, shape_x) + rng.uniform(0.0, 0.3, shape_x)
    y = rng.integers(-4, 4, shape_y) + 0.5 + rng.uniform(0.0, 0.3, shape_y)
    return x, y


def distinct(rng, shape):
    """Entries at least 0.3 apart from one another (no ties in max)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.4 + rng.uniform(0, 0.1, n)).reshape(shape)


def as_tensor(f):
    """Assert `f` returns a Tensor (not a bare ndarray) and pass it through."""
    def wrapped(*args):
        out = f(*args)
        assert isinstance(out, tflc.Tensor), type(out)
        return out
    return wrapped


# --- the checker itself must be able to fail -----------------------------------------------------
def test_check_grads_detects_a_wrong_vjp(check_grads):
    wrong = tflc.Primitive("wrong_square", np.square, (lambda g, ans, x: g * x,))  # missing 2
    with pytest.raises(AssertionError, match="relative error"):
        check_grads(wrong, np.array([0.5, 1.0, 1.5]))


def test_check_grads_detects_a_wrong_broadcast_reduction(check_grads):
    # forgets to sum over the broadcast axis: wrong shape
    wrong = tflc.Primitive("wrong_add", np.add, (lambda g, ans, x, y: g, lambda g, ans, x, y: g))
    with pytest.raises(AssertionError, match="shape"):
        check_grads(wrong, np.ones((2, 3)), np.ones(3))


def test_check_hvp_detects_a_vjp_that_breaks_second_order(check_hvp):
    # correct first-order VJP, but computed on detached NumPy values: no second derivative
    detached = tflc.Primitive("square", np.square, (lambda g, ans, x: g * (2 * np.asarray(x)),))
    with pytest.raises(AssertionError, match="HVP"):
        check_hvp(detached, np.array([0.5, 1.0, 1.5]))


# --- elementwise unary ----------------------------------------------------------------------------
UNARY = {
    # name: (op, reference forward, reference derivative, sample inputs)
    "negative": (tflc.negative, lambda x: -x, lambda x: -np.ones_like(x),
                 lambda r, s: r.uniform(-2, 2, s)),
    "neg_operator": (lambda x: -x, lambda x: -x, lambda x: -np.ones_like(x),
                     lambda r, s: r.uniform(-2, 2, s)),
    "exp": (tflc.exp, lambda x: np.e ** x, lambda x: np.e ** x, lambda r, s: r.uniform(-2, 2, s)),
    "log": (tflc.log, np.log, lambda x: 1 / x, lambda r, s: r.uniform(0.5, 3, s)),
    "tanh": (tflc.tanh, lambda x: (np.e ** (2 * x) - 1) / (np.e ** (2 * x) + 1),
             lambda x: 1 / np.cosh(x) ** 2, lambda r, s: r.uniform(-2, 2, s)),
    "sigmoid": (tflc.sigmoid, lambda x: 1 / (1 + np.e ** -x),
                lambda x: np.e ** -x / (1 + np.e ** -x) ** 2, lambda r, s: r.uniform(-3, 3, s)),
    "relu": (tflc.relu, lambda x: x * (x > 0), lambda x: (x > 0) * 1.0, signed),
}


@pytest.mark.parametrize("name", sorted(UNARY))
@SWEEP
@given(shape=hnp.array_shapes(min_dims=0, max_dims=3, max_side=4), seed=seeds)
def test_unary_forward_and_gradient(name, shape, seed, check_grads):
    op, reference, derivative, sample = UNARY[name]
    x = sample(np.random.default_rng(seed), shape)
    out = op(tflc.Tensor(x))
    assert isinstance(out, tflc.Tensor) and out.shape == np.shape(x) and out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-12, atol=1e-15)
    (g,) = check_grads(as_tensor(op), x)
    # d sum(f(x) * w) / dx = f'(x) * w, with the same weights the checker uses (seed 0)
    w = np.random.default_rng(0).standard_normal(np.shape(x))
    np.testing.assert_allclose(g, derivative(x) * w, rtol=1e-10, atol=1e-14)


def test_relu_at_zero_has_zero_gradient():
    x = tflc.Variable(np.array([-1.0, 0.0, 2.0]))
    with tflc.GradientTape() as tape:
        y = tflc.relu(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0, 1.0])


def test_sigmoid_does_not_overflow_at_extremes():
    x = tflc.Variable(np.array([-800.0, 0.0, 800.0]))
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is exact
        with tflc.GradientTape() as tape:
            y = tflc.sigmoid(x)
        g = tape.gradient(y, x)
    np.testing.assert_allclose(y.numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(g.numpy(), [0.0, 0.25, 0.0])


def test_sigmoid_is_accurate_in_both_tails():
    x = np.array([-40.0, -30.0, -20.0, 20.0, 30.0])
    exact = np.array([1 / (1 + math.exp(-v)) for v in x])  # math.exp: no cancellation here
    np.testing.assert_allclose(tflc.sigmoid(x).numpy(), exact, rtol=1e-14)
    assert tflc.log(tflc.sigmoid(np.array(-40.0))).item() > -41


POSITIVE_EXPONENTS = [2, 3, 0.5, -1, 0, 1, 1.5, -2.5, 2.0, np.float64(3.0), np.int64(2)]


@pytest.mark.parametrize("p", POSITIVE_EXPONENTS, ids=repr)
@pytest.mark.parametrize("form", ["operator", "function"])
def test_power_on_positive_inputs(p, form, check_grads):
    x = np.random.default_rng(1).uniform(0.5, 2.0, (3, 4))
    f = (lambda t: t ** p) if form == "operator" else (lambda t: tflc.power(t, p))
    np.testing.assert_allclose(f(tflc.Tensor(x)).numpy(), x ** float(p), rtol=1e-14)
    (g,) = check_grads(as_tensor(f), x)
    w = np.random.default_rng(0).standard_normal(x.shape)
    np.testing.assert_allclose(g, float(p) * x ** (float(p) - 1) * w, rtol=1e-12)


@pytest.mark.parametrize("p", [2, 3, -1, 4, -2], ids=repr)
def test_integer_power_on_signed_inputs(p, check_grads):
    x = signed(np.random.default_rng(2), (5,), lo=0.5)
    check_grads(lambda t: t ** p, x)


def test_power_with_tensor_exponent_and_reflected():
    """A Tensor (or array) exponent is differentiable too (tests/test_ops_math.py has the rest)."""
    x = tflc.Tensor(np.array([0.5, 1.5, 2.0]))
    np.testing.assert_allclose((x ** tflc.Tensor(2.0)).numpy(), x.numpy() ** 2, rtol=1e-15)
    np.testing.assert_allclose(tflc.power(x, np.array([1.0, 2.0, 3.0])).numpy(), [0.5, 2.25, 8.0])
    np.testing.assert_allclose((2.0 ** x).numpy(), 2.0 ** x.numpy(), rtol=1e-15)


# --- elementwise binary with broadcasting ---------------------------------------------------------
def _binary_inputs(name, rng, shape_x, shape_y):
    if name == "maximum":
        return apart(rng, shape_x, shape_y)
    x = rng.uniform(-2, 2, shape_x)
    y = signed(rng, shape_y, lo=0.5) if name == "divide" else rng.uniform(-2, 2, shape_y)
    return x, y


BINARY = {
    "add": (tflc.add, lambda a, b: a + b, np.add),
    "subtract": (tflc.subtract, lambda a, b: a - b, np.subtract),
    "multiply": (tflc.multiply, lambda a, b: a * b, np.multiply),
    "divide": (tflc.divide, lambda a, b: a / b, np.divide),
    "maximum": (tflc.maximum, tflc.maximum, np.maximum),
}


@pytest.mark.parametrize("name", sorted(BINARY))
@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=4, max_side=3),
       form=st.sampled_from(["function", "operator"]), seed=seeds)
def test_binary_broadcasting_gradients(name, shapes, form, seed, check_grads):
    (shape_x, shape_y), result_shape = shapes.input_shapes, shapes.result_shape
    function, operator, reference = BINARY[name]
    op = function if form == "function" else operator
    x, y = _binary_inputs(name, np.random.default_rng(seed), shape_x, shape_y)
    out = op(tflc.Tensor(x), tflc.Tensor(y))
    assert out.shape == result_shape
    np.testing.assert_array_equal(out.numpy(), reference(x, y))
    gx, gy = check_grads(as_tensor(op), x, y)
    assert gx.shape == shape_x and gy.shape == shape_y


@pytest.mark.parametrize("name", sorted(BINARY))
@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       constant=st.sampled_from(["python", "array", "0-d array", "numpy scalar"]),
       tensor_side=st.sampled_from(["left", "right"]), form=st.sampled_from(["function", "operator"]),
       seed=seeds)
def test_binary_with_constant_operand(name, shapes, constant, tensor_side, form, seed, check_grads):
    """One side a Tensor, the other a Python scalar, an ndarray or a NumPy scalar, on either side."""
    shape_x, shape_y = shapes.input_shapes
    if constant != "array":
        shape_y = ()
    function, operator, reference = BINARY[name]
    op = function if form == "function" else operator
    if tensor_side == "right":  # the constant (shape_y) goes on the left
        shape_x, shape_y = shape_y, shape_x
    # drawn in place, so a divisor stays away from 0 on either side
    x, y = _binary_inputs(name, np.random.default_rng(seed), shape_x, shape_y)
    c = x if tensor_side == "right" else y
    c = {"python": lambda v: float(v), "array": lambda v: v, "0-d array": np.asarray,
         "numpy scalar": np.float64}[constant](c)
    if tensor_side == "left":
        f, t_value = (lambda t: op(t, c)), x
        expected = reference(x, np.asarray(c))
    else:
        f, t_value = (lambda t: op(c, t)), y
        expected = reference(np.asarray(c), y)
    out = f(tflc.Tensor(t_value))
    assert isinstance(out, tflc.Tensor)
    np.testing.assert_array_equal(out.numpy(), expected)
    (g,) = check_grads(as_tensor(f), t_value)
    assert g.shape == np.shape(t_value)


OPERATOR_FORMS = {
    "2.0 - x": (lambda x: 2.0 - x, lambda x: 2.0 - x),
    "x - 2": (lambda x: x - 2, lambda x: x - 2),
    "2 + x": (lambda x: 2 + x, lambda x: 2 + x),
    "x + ones": (lambda x: x + np.ones(3), lambda x: x + 1),
    "ones * x": (lambda x: np.ones(3) * x, lambda x: x),
    "arange * x": (lambda x: np.arange(1.0, 4.0) * x, lambda x: np.arange(1.0, 4.0) * x),
    "x * 3": (lambda x: x * 3, lambda x: 3 * x),
    "1 / x": (lambda x: 1 / x, lambda x: 1 / x),
    "x / 4": (lambda x: x / 4, lambda x: x / 4),
    "arange / x": (lambda x: np.arange(1.0, 4.0) / x, lambda x: np.arange(1.0, 4.0) / x),
    "ones(2,3) - x": (lambda x: np.ones((2, 3)) - x, lambda x: np.ones((2, 3)) - x),
    "M @ x": (lambda x: np.arange(6.0).reshape(2, 3) @ x, lambda x: np.arange(6.0).reshape(2, 3) @ x),
    "x @ M": (lambda x: x @ np.arange(6.0).reshape(3, 2), lambda x: x @ np.arange(6.0).reshape(3, 2)),
    "-x": (lambda x: -x, lambda x: -x),
    "+x": (lambda x: +x, lambda x: x),
    "x ** 2": (lambda x: x ** 2, lambda x: x * x),
    "[1,2,3] * x": (lambda x: [1, 2, 3] * x, lambda x: np.array([1.0, 2.0, 3.0]) * x),
    "int array + x": (lambda x: np.arange(3) + x, lambda x: np.arange(3.0) + x),
    "True * x": (lambda x: True * x, lambda x: x),
}


@pytest.mark.parametrize("name", sorted(OPERATOR_FORMS))
def test_operators_with_arrays_and_scalars_on_both_sides(name, check_grads):
    f, reference = OPERATOR_FORMS[name]
    x = np.array([0.7, -1.3, 1.9])
    out = f(tflc.Tensor(x))
    assert isinstance(out, tflc.Tensor), type(out)
    np.testing.assert_allclose(out.numpy(), reference(x), rtol=1e-15)
    check_grads(as_tensor(f), x)


def test_subtract_and_divide_gradients_are_exact_on_each_side():
    x = tflc.Variable(np.array([2.0, 4.0]))
    y = tflc.Variable(np.array([0.5, -2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        d = x - y
        q = x / y
    np.testing.assert_array_equal(tape.gradient(d, x).numpy(), [1.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(d, y).numpy(), [-1.0, -1.0])
    np.testing.assert_array_equal(tape.gradient(q, x).numpy(), [2.0, -0.5])  # 1 / y
    np.testing.assert_array_equal(tape.gradient(q, y).numpy(), [-8.0, -1.0])  # -x / y**2


# --- maximum and where ----------------------------------------------------------------------------
def test_maximum_ties_split_evenly():
    x = tflc.Variable(np.array([1.0, 2.0, 3.0]))
    y = tflc.Variable(np.array([3.0, 2.0, 1.0]))
    with tflc.GradientTape() as tape:
        z = tflc.maximum(x, y)
    gx, gy = tape.gradient(z, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(gy.numpy(), [1.0, 0.5, 0.0])


def test_maximum_ties_with_broadcast_scalar_accumulate_halves():
    x = tflc.Variable(np.array([[2.0, 1.0, 2.0], [3.0, 2.0, 0.0]]))
    y = tflc.Variable(np.array(2.0))
    with tflc.GradientTape() as tape:
        z = tflc.maximum(x, y)
    gx, gy = tape.gradient(z, [x, y])
    np.testing.assert_array_equal(gx.numpy(), [[0.5, 0.0, 0.5], [1.0, 0.5, 0.0]])
    assert gy.shape == () and gy.numpy() == 0.5 * 3 + 2  # three ties, two wins


def test_maximum_with_python_scalar_ties():
    x = tflc.Variable(np.array([0.0, -1.0, 1.0]))
    with tflc.GradientTape() as tape:
        z = tflc.maximum(x, 0.0)
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [0.5, 0.0, 1.0])


@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=3, max_dims=3, max_side=3), seed=seeds)
def test_where_broadcasting_gradients(shapes, seed, check_grads):
    shape_c, shape_x, shape_y = shapes.input_shapes
    rng = np.random.default_rng(seed)
    cond = rng.random(shape_c) < 0.5
    x, y = rng.uniform(-2, 2, shape_x), rng.uniform(-2, 2, shape_y)
    out = tflc.where(cond, tflc.Tensor(x), tflc.Tensor(y))
    assert out.shape == shapes.result_shape
    np.testing.assert_array_equal(out.numpy(), np.where(cond, x, y))
    gx, gy = check_grads(lambda a, b: tflc.where(cond, a, b), x, y)
    # exact: each output picks one branch, so the weights are routed and summed
    w = np.random.default_rng(0).standard_normal(shapes.result_shape)
    full_c = np.broadcast_to(cond, shapes.result_shape)
    np.testing.assert_allclose(gx.sum() + gy.sum(), w.sum(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(gx.sum(), (w * full_c).sum(), rtol=1e-12, atol=1e-12)


def test_where_with_comparison_condition_and_scalar_branch(check_grads):
    x = np.array([-1.5, 0.5, 2.0, -0.25])
    f = lambda t: tflc.where(t > 0, t * t, 0.0)
    np.testing.assert_array_equal(f(tflc.Tensor(x)).numpy(), np.where(x > 0, x * x, 0.0))
    (g,) = check_grads(f, x)
    w = np.random.default_rng(0).standard_normal(4)
    np.testing.assert_allclose(g, np.where(x > 0, 2 * x * w, 0.0), rtol=1e-13)


def test_where_condition_as_tensor_and_both_scalar_branches():
    x = tflc.Variable(np.array([1.0, -1.0]))
    with tflc.GradientTape() as tape:
        y = tflc.where(tflc.Tensor(np.array([True, False])), x, 5.0) + tflc.where(x > 0, 1.0, 2.0)
    np.testing.assert_array_equal(y.numpy(), [2.0, 7.0])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 0.0])


# --- matmul ---------------------------------------------------------------------------------------
MATMUL_SHAPES = [
    ((3, 4), (4, 2)), ((1, 1), (1, 1)), ((4,), (4, 2)), ((3, 4), (4,)), ((4,), (4,)),
    ((2, 1, 3, 4), (5, 4, 2)), ((2, 3, 4), (2, 4, 5)), ((1, 3, 4), (2, 4, 5)), ((3, 4), (2, 4, 5)),
    ((2, 3, 4), (4, 5)), ((4,), (2, 4, 3)), ((2, 3, 4), (4,)), ((2, 1, 3, 4), (1, 2, 4, 1)),
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES, ids=str)
@pytest.mark.parametrize("form", ["function", "operator"])
def test_matmul_gradients(shape_a, shape_b, form, check_grads):
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    op = tflc.matmul if form == "function" else (lambda u, v: u @ v)
    out = op(tflc.Tensor(a), tflc.Tensor(b))
    np.testing.assert_allclose(out.numpy(), np.matmul(a, b), rtol=1e-13)
    ga, gb = check_grads(as_tensor(op), a, b)
    assert ga.shape == shape_a and gb.shape == shape_b


def test_matmul_2d_gradient_is_the_textbook_formula():
    rng = np.random.default_rng(4)
    a, b = tflc.Variable(rng.standard_normal((3, 4))), tflc.Variable(rng.standard_normal((4, 2)))
    g = rng.standard_normal((3, 2))
    with tflc.GradientTape() as tape:
        c = a @ b
    ga, gb = tape.gradient(c, [a, b], output_gradients=g)
    # dA = G B^T, dB = A^T G, written out with explicit sums
    np.testing.assert_allclose(ga.numpy(), np.einsum("ij,kj->ik", g, b.numpy()), rtol=1e-13)
    np.testing.assert_allclose(gb.numpy(), np.einsum("ki,kj->ij", a.numpy(), g), rtol=1e-13)


# --- reductions -----------------------------------------------------------------------------------
@st.composite
def reduction_cases(draw):
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=4, max_side=4))
    ndim = len(shape)
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    axis = draw(st.one_of(*choices))
    return shape, axis, draw(st.booleans())


REDUCTIONS = {
    "sum": (tflc.sum, np.sum, lambda t, **kw: t.sum(**kw)),
    "mean": (tflc.mean, np.mean, lambda t, **kw: t.mean(**kw)),
    "max": (tflc.max, np.max, lambda t, **kw: t.max(**kw)),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SWEEP
@given(case=reduction_cases(), form=st.sampled_from(["function", "method"]), seed=seeds)
def test_reduction_axes_and_keepdims(name, case, form, seed, check_grads):
    shape, axis, keepdims = case
    function, reference, method = REDUCTIONS[name]
    x = distinct(np.random.default_rng(seed), shape)
    if form == "function":
        f = lambda t: function(t, axis=axis, keepdims=keepdims)
    else:
        f = lambda t: method(t, axis=axis, keepdims=keepdims)
    out = f(tflc.Tensor(x))
    expected = reference(x, axis=axis, keepdims=keepdims)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-14)
    (g,) = check_grads(as_tensor(f), x)
    assert g.shape == shape


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_reduction_axis_as_list_and_positional(name, check_grads):
    function, reference, _ = REDUCTIONS[name]
    x = distinct(np.random.default_rng(5), (2, 3, 4))
    out = function(tflc.Tensor(x), [0, 2], True)
    np.testing.assert_allclose(out.numpy(), reference(x, axis=(0, 2), keepdims=True), rtol=1e-14)
    check_grads(lambda t: function(t, [0, -1]), x)


def test_sum_and_mean_gradients_are_exact():
    x = tflc.Variable(np.arange(12.0).reshape(3, 4))
    with tflc.GradientTape(persistent=True) as tape:
        s = tflc.sum(x, axis=1)
        m = tflc.mean(x, axis=0, keepdims=True)
        m_all = tflc.mean(x)
    np.testing.assert_array_equal(tape.gradient(s, x, output_gradients=[1.0, 2.0, 3.0]).numpy(),
                                  [[1.0] * 4, [2.0] * 4, [3.0] * 4])
    np.testing.assert_array_equal(tape.gradient(m, x).numpy(), np.full((3, 4), 1 / 3))
    np.testing.assert_array_equal(tape.gradient(m_all, x).numpy(), np.full((3, 4), 1 / 12))


def _max_grad(value, **kwargs):
    x = tflc.Variable(np.array(value))
    with tflc.GradientTape() as tape:
        y = tflc.max(x, **kwargs)
    return tape.gradient(y, x).numpy()


def test_max_ties_split_evenly_1d():
    np.testing.assert_array_equal(_max_grad([1.0, 3.0, 3.0]), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(_max_grad([2.0, 2.0, 2.0, 2.0]), [0.25] * 4)
    np.testing.assert_array_equal(_max_grad([5.0, 3.0, 3.0]), [1.0, 0.0, 0.0])


@pytest.mark.parametrize("keepdims", [False, True])
def test_max_ties_split_evenly_2d_with_axis(keepdims):
    x = [[1.0, 4.0, 4.0], [7.0, 7.0, 7.0], [0.0, -1.0, 2.0]]
    np.testing.assert_allclose(_max_grad(x, axis=1, keepdims=keepdims),
                               [[0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3], [0, 0, 1]], rtol=1e-15)
    np.testing.assert_array_equal(_max_grad(x, axis=0, keepdims=keepdims),
                                  [[0, 0, 0], [1, 1, 1], [0, 0, 0]])
    columns = [[5.0, 1.0, 2.0], [5.0, 3.0, 2.0], [0.0, 3.0, 2.0]]
    np.testing.assert_allclose(_max_grad(columns, axis=-2, keepdims=keepdims),
                               [[0.5, 0, 1 / 3], [0.5, 0.5, 1 / 3], [0, 0.5, 1 / 3]], rtol=1e-15)
    expected_all = np.zeros((3, 3))
    expected_all[1] = 1 / 3
    np.testing.assert_allclose(_max_grad(x, axis=None, keepdims=keepdims), expected_all, rtol=1e-15)
    np.testing.assert_allclose(_max_grad(x, axis=(0, 1), keepdims=keepdims), expected_all, rtol=1e-15)


def test_max_ties_with_output_gradients_route_each_row():
    x = tflc.Variable(np.array([[1.0, 1.0], [0.0, 2.0]]))
    with tflc.GradientTape() as tape:
        y = tflc.max(x, axis=1)
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=[4.0, 3.0]).numpy(),
                                  [[2.0, 2.0], [0.0, 3.0]])


# --- shapes ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("shape,form", [
    ((6,), "tuple"), ((2, 3), "tuple"), ((3, -1), "tuple"), ((1, 6, 1), "args"), ((2, 3), "args"),
    ((-1,), "tuple"), ((6,), "int"), ((2, 1, 3), "list"),
])
def test_reshape(shape, form, check_grads):
    x = np.random.default_rng(6).standard_normal((3, 2))
    f = {"tuple": lambda t: tflc.reshape(t, shape), "args": lambda t: t.reshape(*shape),
         "int": lambda t: t.reshape(shape[0]), "list": lambda t: t.reshape(list(shape))}[form]
    out = f(tflc.Tensor(x))
    np.testing.assert_array_equal(out.numpy(), x.reshape(shape))
    (g,) = check_grads(as_tensor(f), x)
    assert g.shape == (3, 2)


@pytest.mark.parametrize("axes", list(itertools.permutations(range(3))) + [None], ids=str)
@pytest.mark.parametrize("form", ["function", "method"])
def test_transpose_permutations(axes, form, check_grads):
    x = np.random.default_rng(7).standard_normal((2, 3, 4))
    if form == "function":
        f = lambda t: tflc.transpose(t, axes)
    else:
        f = (lambda t: t.transpose()) if axes is None else (lambda t: t.transpose(*axes))
    np.testing.assert_array_equal(f(tflc.Tensor(x)).numpy(), np.transpose(x, axes))
    (g,) = check_grads(as_tensor(f), x)
    assert g.shape == x.shape


@pytest.mark.parametrize("axes", [(-1, 0, 1), (1, -1, 0), (0, -1, -2)], ids=str)
def test_transpose_negative_axes(axes, check_grads):
    x = np.random.default_rng(8).standard_normal((2, 3, 4))
    np.testing.assert_array_equal(tflc.transpose(tflc.Tensor(x), axes).numpy(), np.transpose(x, axes))
    check_grads(lambda t: tflc.transpose(t, axes), x)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (5,), ()], ids=str)
def test_T_property(shape, check_grads):
    x = np.random.default_rng(9).standard_normal(shape)
    np.testing.assert_array_equal(tflc.Tensor(x).T.numpy(), x.T)
    check_grads(lambda t: t.T, x)


def test_mT_swaps_last_two_axes(check_grads):
    x = np.random.default_rng(10).standard_normal((2, 3, 4))
    np.testing.assert_array_equal(tflc.Tensor(x).mT.numpy(), np.swapaxes(x, -1, -2))
    check_grads(lambda t: t.mT, x)


@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=1, max_dims=4, max_side=3), seed=seeds)
def test_broadcast_to(shapes, seed, check_grads):
    (shape,), target = shapes.input_shapes, shapes.result_shape
    x = np.random.default_rng(seed).standard_normal(shape)
    out = tflc.broadcast_to(tflc.Tensor(x), target)
    np.testing.assert_array_equal(out.numpy(), np.broadcast_to(x, target))
    (g,) = check_grads(lambda t: tflc.broadcast_to(t, list(target)), x)
    assert g.shape == shape


# --- indexing -------------------------------------------------------------------------------------
SLICES = {
    "int": 1, "negative int": -1, "slice": slice(1, None), "step": (slice(None), slice(None, None, 2)),
    "reverse": slice(None, None, -1), "ellipsis": (Ellipsis, 0), "newaxis": (None, 1),
    "mixed": (slice(0, 2), -1), "scalar element": (2, 3),
}


@pytest.mark.parametrize("name", sorted(SLICES))
def test_basic_indexing(name, check_grads):
    index = SLICES[name]
    x = np.random.default_rng(11).standard_normal((3, 4))
    np.testing.assert_array_equal(tflc.Tensor(x)[index].numpy(), x[index])
    (g,) = check_grads(lambda t: t[index], x)
    selected = np.zeros_like(x)
    selected[index] = 1.0
    assert np.all(g[selected == 0] == 0)


def test_gather_rows_by_class_like_softmax():
    N, C = 5, 3
    y = np.array([2, 0, 2, 1, 0])
    x = tflc.Variable(np.random.default_rng(12).standard_normal((N, C)))
    with tflc.GradientTape() as tape:
        picked = x[np.arange(N), y]
    np.testing.assert_array_equal(picked.numpy(), x.numpy()[np.arange(N), y])
    one_hot = np.zeros((N, C))
    for i, c in enumerate(y):
        one_hot[i, c] = 1.0
    np.testing.assert_array_equal(tape.gradient(picked, x).numpy(), one_hot)


def test_repeated_integer_indices_accumulate():
    x = tflc.Variable(np.arange(4.0))
    index = np.array([0, 0, 2, 0, 3, -1])  # -1 is 3 again
    w = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    with tflc.GradientTape(persistent=True) as tape:
        y = x[index]
    counts = np.bincount(index % 4, minlength=4).astype(float)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), counts)  # [3, 0, 1, 2]
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=w).numpy(),
                                  np.bincount(index % 4, weights=w, minlength=4))


def test_repeated_index_pairs_accumulate_in_2d(check_grads):
    rows, cols = np.array([0, 0, 1, 0, 2]), np.array([1, 1, 2, 1, 0])
    x = tflc.Variable(np.zeros((3, 3)))
    with tflc.GradientTape() as tape:
        y = x[rows, cols]
    expected = np.zeros((3, 3))
    for r, c in zip(rows, cols):
        expected[r, c] += 1
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)  # 3 at (0, 1)
    check_grads(lambda t: t[rows, cols], np.random.default_rng(13).standard_normal((3, 3)))


def test_list_index_and_index_with_slice(check_grads):
    x = np.random.default_rng(14).standard_normal((4, 3))
    check_grads(lambda t: t[[1, 1, 3]], x)
    check_grads(lambda t: t[np.array([2, 0, 2]), 1:], x)
    check_grads(lambda t: t[:, np.array([[0, 0], [2, 1]])], x)


def test_boolean_mask_indexing(check_grads):
    x = np.random.default_rng(15).standard_normal((3, 4))
    mask = x > 0.1
    np.testing.assert_array_equal(tflc.Tensor(x)[mask].numpy(), x[mask])
    t = tflc.Variable(x)
    with tflc.GradientTape() as tape:
        y = t[mask]
    np.testing.assert_array_equal(tape.gradient(y, t).numpy(), mask.astype(float))
    check_grads(lambda v: v[mask], x)
    check_grads(lambda v: v[np.array([True, False, True])], x)
    check_grads(lambda v: v[np.array([True, False, True]), 2:], x)


def test_an_integer_tensor_indexes_and_a_float_tensor_is_refused():
    x = tflc.Variable(np.array([1.0, 2.0, 3.0]))
    with tflc.GradientTape() as tape:
        y = tflc.sum(x[tflc.Tensor(np.array([0, 2, 2]))])
    assert y.numpy() == 7.0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, 0.0, 2.0])
    with pytest.raises(IndexError, match="getitem: a float64 tensor cannot index"):
        x[tflc.Tensor(np.array([0.0, 1.0]))]


# --- cast and stop_gradient -----------------------------------------------------------------------
def test_cast_round_trip_keeps_source_dtypes(check_grads):
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape() as tape:
        y = tflc.cast(x, np.float32)
        z = tflc.sum(y * y)
    assert y.dtype == np.float32 and z.dtype == np.float32
    g = tape.gradient(z, x)
    assert g.dtype == np.float64
    np.testing.assert_array_equal(g.numpy(), [2.0, 4.0])
    check_grads(lambda t: tflc.cast(t, "float64") * t, np.array([0.5, -1.5]))
    check_grads(lambda t: t.astype(np.float64) ** 2, np.array([0.5, -1.5]))


def test_cast_to_integer_works_and_carries_no_gradient():
    x = tflc.Variable(np.array([1.7, -2.2]))
    with tflc.GradientTape() as tape:  # as tf.cast(x, tf.int32) does: a value, no gradient
        i = tflc.cast(x, np.int32)
        y = tflc.sum(i * x)
    assert i.dtype == np.int32 and i.numpy().tolist() == [1, -2]
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1.0, -2.0])  # i is a constant
    with pytest.raises(TypeError, match="cast: tensors hold booleans or numbers"):
        tflc.cast(x, np.str_)


def test_cast_python_scalar():
    assert tflc.cast(2.0, np.float32).dtype == np.float32


def test_stop_gradient_blocks_the_gradient():
    x = tflc.Variable(np.array([1.5, -2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        s = tflc.stop_gradient(x)
        y = tflc.sum(s * s)
        z = tflc.sum(x * tflc.stop_gradient(x))
    np.testing.assert_array_equal(s.numpy(), x.numpy())
    assert tape.gradient(y, x) is None
    np.testing.assert_array_equal(tape.gradient(y, x, unconnected_gradients="zero").numpy(), [0, 0])
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [1.5, -2.0])  # x, not 2x


# --- float32 end to end ---------------------------------------------------------------------------
def _f32_cases():
    rng = np.random.default_rng(16)
    pos = lambda *s: rng.uniform(0.5, 2.0, s)
    sgn = lambda *s: signed(rng, s, lo=0.2)
    cond = np.array([True, False, True, False])
    ties = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 1.0], [0.5, 0.25, 0.5, 0.5]])
    return {
        "add": (lambda a, b: a + b, [sgn(3, 4), sgn(4)]),
        "subtract": (lambda a, b: a - b, [sgn(3, 1), sgn(4)]),
        "multiply": (lambda a, b: a * b, [sgn(3, 4), sgn(3, 4)]),
        "divide": (lambda a, b: a / b, [sgn(3, 4), sgn(1, 4)]),
        "rsub scalar": (lambda a: 2.0 - a, [sgn(4)]),
        "mul scalar": (lambda a: a * 2.0, [sgn(4)]),
        "rdiv scalar": (lambda a: 1 / a, [sgn(4)]),
        "div scalar": (lambda a: a / 3, [sgn(4)]),
        "0-d times scalar": (lambda a: a * 2.5 + 1.0, [np.array(1.5)]),
        "negative": (lambda a: -a, [sgn(4)]),
        "square": (lambda a: a ** 2, [sgn(4)]),
        "cube int": (lambda a: tflc.power(a, 3), [sgn(4)]),
        "sqrt": (lambda a: a ** 0.5, [pos(4)]),
        "reciprocal": (lambda a: a ** -1, [pos(4)]),
        "exp": (tflc.exp, [sgn(4)]),
        "log": (tflc.log, [pos(4)]),
        "tanh": (tflc.tanh, [sgn(4)]),
        "sigmoid": (tflc.sigmoid, [sgn(4)]),
        "relu": (tflc.relu, [sgn(4)]),
        "maximum": (tflc.maximum, [np.array([1.0, 2.0, 3.0, 4.0]), np.array([4.0, 2.0, 1.0, 0.0])]),
        "maximum scalar": (lambda a: tflc.maximum(a, 0.5), [np.array([0.5, 1.0, 0.0, 0.5])]),
        "where": (lambda a, b: tflc.where(cond, a, b), [sgn(4), sgn(3, 4)]),
        "where scalar": (lambda a: tflc.where(cond, a, 0.0), [sgn(4)]),
        "matmul": (lambda a, b: a @ b, [sgn(3, 4), sgn(4, 2)]),
        "matmul 1-d": (lambda a, b: a @ b, [sgn(4), sgn(4)]),
        "matmul batched": (lambda a, b: a @ b, [sgn(2, 1, 3, 4), sgn(5, 4, 2)]),
        "sum": (lambda a: tflc.sum(a, axis=0), [sgn(3, 4)]),
        "mean": (lambda a: tflc.mean(a, axis=1, keepdims=True), [sgn(3, 4)]),
        "mean all": (tflc.mean, [sgn(3, 4)]),
        "max ties": (lambda a: tflc.max(a, axis=1), [ties]),
        "max all ties": (tflc.max, [np.array([1.0, 3.0, 3.0, 3.0])]),
        "reshape": (lambda a: a.reshape(2, 6), [sgn(3, 4)]),
        "transpose": (lambda a: tflc.transpose(a, (1, 0)), [sgn(3, 4)]),
        "T": (lambda a: a.T, [sgn(3, 4)]),
        "gather": (lambda a: a[np.array([0, 0, 2]), np.array([1, 1, 3])], [sgn(3, 4)]),
        "slice": (lambda a: a[1:, ::2], [sgn(3, 4)]),
        "mask": (lambda a: a[np.array([True, False, True])], [sgn(3, 4)]),
        "broadcast_to": (lambda a: tflc.broadcast_to(a, (3, 4)), [sgn(4)]),
        "cast": (lambda a: tflc.cast(a, np.float32), [sgn(4)]),
    }


F32_CASES = _f32_cases()


@pytest.mark.parametrize("name", sorted(F32_CASES))
def test_float32_stays_float32(name):
    f, arrays = F32_CASES[name]
    variables = [tflc.Variable(a.astype(np.float32)) for a in arrays]
    with tflc.GradientTape(persistent=True) as tape:
        out = f(*variables)
    assert out.dtype == np.float32, f"forward upcast to {out.dtype}"
    w = np.random.default_rng(0).standard_normal(out.shape).astype(np.float32)
    grads = tape.gradient(out, variables, output_gradients=w)
    # every VJP computes in float32 (the sweep's final cast would hide an upcast in the result)
    for eq in tape.program.equations:  # (what the VJPs receive: ans and the inputs, or Avals)
        out = tape.program.entries[eq.output]
        ans = None if eq.ans is None else out.numpy()
        g = np.ones(out.shape, dtype=out.dtype)
        for k, (vjp, x) in enumerate(zip(eq.op.vjps, eq.arrays)):
            if vjp is not None and getattr(x, "dtype", None) == np.float32:
                gx = vjp(g, ans, *eq.arrays, *eq.params)
                assert gx.dtype == np.float32, f"{eq.op.name} VJP {k} computes in {gx.dtype}"
                assert gx.shape == x.shape, f"{eq.op.name} VJP {k} has shape {gx.shape}"
    # and agrees with the same computation in float64
    variables64 = [tflc.Variable(a.astype(np.float32).astype(np.float64)) for a in arrays]
    with tflc.GradientTape() as tape64:
        out64 = f(*variables64)
    grads64 = tape64.gradient(out64, variables64, output_gradients=w.astype(np.float64))
    np.testing.assert_allclose(out.numpy(), out64.numpy(), rtol=2e-6, atol=1e-6)
    for g, g64 in zip(grads, grads64):
        assert g.dtype == np.float32, f"gradient is {g.dtype}"
        np.testing.assert_allclose(g.numpy(), g64.numpy(), rtol=2e-5, atol=1e-5)


def test_float32_max_ties_divide_in_float32():
    x = tflc.Variable(np.array([1.0, 3.0, 3.0, 3.0], dtype=np.float32))
    with tflc.GradientTape() as tape:
        y = tflc.max(x)
    g = tape.gradient(y, x).numpy()
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [0, np.float32(1) / np.float32(3), np.float32(1) / np.float32(3),
                                      np.float32(1) / np.float32(3)])


def test_float32_mixed_with_float64_data_gives_float32_gradient():
    W = tflc.Variable(np.ones((3, 2), dtype=np.float32))
    X = np.random.default_rng(17).standard_normal((4, 3))  # float64 data
    with tflc.GradientTape() as tape:
        loss = tflc.sum((X @ W) ** 2)
    assert loss.dtype == np.float64  # NumPy promotion of the forward value
    g = tape.gradient(loss, W)
    assert g.dtype == np.float32
    expected = 2 * X.T @ (X @ np.ones((3, 2)))
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-5)


# --- shape errors at record time ------------------------------------------------------------------
@pytest.mark.parametrize("op,message", [
    (lambda a, b: a @ b, "matmul: cannot multiply (3, 4) by (5, 2)"),
    (tflc.matmul, "matmul: cannot multiply (3, 4) by (5, 2)"),
    (lambda a, b: a + b, "add: cannot broadcast (3, 4) with (5, 2)"),
    (lambda a, b: a - b, "subtract: cannot broadcast (3, 4) with (5, 2)"),
    (lambda a, b: a * b, "multiply: cannot broadcast (3, 4) with (5, 2)"),
    (lambda a, b: a / b, "divide: cannot broadcast (3, 4) with (5, 2)"),
    (tflc.maximum, "maximum: cannot broadcast (3, 4) with (5, 2)"),
])
@pytest.mark.parametrize("rhs_kind", ["tensor", "array"])
def test_shape_mismatch_raises_at_record_time(op, message, rhs_kind):
    a = tflc.Variable(np.ones((3, 4)))
    b = np.ones((5, 2)) if rhs_kind == "array" else tflc.Tensor(np.ones((5, 2)))
    with tflc.GradientTape() as tape:
        with pytest.raises(ValueError) as info:
            op(a, b)
    assert str(info.value) == message
    assert tape.records == ()  # nothing half-recorded


def test_where_and_broadcast_to_shape_errors_name_the_op():
    message = "where: cannot broadcast condition (3, 4) with (5, 2) and (3, 4)"
    with pytest.raises(ValueError, match=re.escape(message)):
        tflc.where(np.ones((3, 4)) > 0, np.ones((5, 2)), tflc.Tensor(np.ones((3, 4))))
    with pytest.raises(ValueError, match=r"^broadcast_to: .*\(3, 4\)"):
        tflc.broadcast_to(tflc.Tensor(np.ones((3, 4))), (5, 2))
    with pytest.raises(ValueError, match=r"^reshape: .*\(3, 4\)"):
        tflc.reshape(tflc.Tensor(np.ones((3, 4))), (5,))
    with pytest.raises(IndexError, match=r"^getitem: "):
        tflc.Tensor(np.ones(3))[5]
    with pytest.raises(ValueError, match=r"^sum: "):
        tflc.sum(tflc.Tensor(np.ones(3)), axis=1)


# --- second order through every op's VJP (VJPs are differentiable) ------------------------------
def _second_order_cases():
    rng = np.random.default_rng(18)
    sq = lambda f: (lambda *a: f(*a) ** 2)  # makes linear ops' second derivatives nonzero
    mask = np.array([[True, False, True], [False, True, True]])
    return {
        "add": (sq(tflc.add), [rng.standard_normal((2, 3)), rng.standard_normal(3)]),
        "subtract": (sq(tflc.subtract), [rng.standard_normal((2, 1)), rng.standard_normal(3)]),
        "multiply": (tflc.multiply, [rng.standard_normal((2, 3)), rng.standard_normal((1, 3))]),
        "divide": (tflc.divide, [rng.standard_normal((2, 3)), signed(rng, (3,), lo=0.5)]),
        "negative": (sq(tflc.negative), [rng.standard_normal(3)]),
        "power 3": (lambda a: a ** 3, [rng.standard_normal(4)]),
        "power 0.5": (lambda a: a ** 0.5, [rng.uniform(0.5, 2, 4)]),
        "power -1": (lambda a: a ** -1, [rng.uniform(0.5, 2, 4)]),
        "exp": (tflc.exp, [rng.standard_normal(4)]),
        "log": (tflc.log, [rng.uniform(0.5, 2, 4)]),
        "tanh": (tflc.tanh, [rng.standard_normal(4)]),
        "sigmoid": (tflc.sigmoid, [rng.standard_normal(4)]),
        "relu": (sq(tflc.relu), [signed(rng, (4,))]),
        "maximum": (sq(tflc.maximum), list(apart(rng, (2, 3), (3,)))),
        "where": (sq(lambda a, b: tflc.where(mask, a, b)),
                  [rng.standard_normal((2, 3)), rng.standard_normal(3)]),
        "matmul": (tflc.matmul, [rng.standard_normal((2, 3)), rng.standard_normal((3, 2))]),
        "matmul batched": (tflc.matmul, [rng.standard_normal((2, 1, 2, 3)), rng.standard_normal((3, 3, 2))]),
        "matmul 1-d": (tflc.matmul, [rng.standard_normal(3), rng.standard_normal((2, 3, 2))]),
        "sum": (sq(lambda a: tflc.sum(a, axis=1)), [rng.standard_normal((2, 3))]),
        "mean": (sq(lambda a: tflc.mean(a, axis=0, keepdims=True)), [rng.standard_normal((2, 3))]),
        "max": (sq(lambda a: tflc.max(a, axis=1)), [distinct(rng, (2, 3))]),
        "reshape": (sq(lambda a: a.reshape(3, 2)), [rng.standard_normal((2, 3))]),
        "transpose": (sq(lambda a: tflc.transpose(a, (2, 0, 1))), [rng.standard_normal((2, 3, 2))]),
        "broadcast_to": (sq(lambda a: tflc.broadcast_to(a, (2, 3))), [rng.standard_normal(3)]),
        "gather": (sq(lambda a: a[np.array([0, 0, 1]), np.array([2, 2, 0])]), [rng.standard_normal((2, 3))]),
        "slice": (sq(lambda a: a[:, 1:]), [rng.standard_normal((2, 3))]),
        "mask": (sq(lambda a: a[mask]), [rng.standard_normal((2, 3))]),
        "cast": (sq(lambda a: tflc.cast(a, np.float64)), [rng.standard_normal(3)]),
    }


SECOND_ORDER = _second_order_cases()


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_vector_product_through_each_op(name, check_hvp):
    f, arrays = SECOND_ORDER[name]
    check_hvp(f, *arrays)


def test_a_tuple_inside_an_index_is_a_gather_and_repeats_accumulate():
    x = np.arange(12.0).reshape(3, 4)
    g = tflc.grad(lambda t: tflc.sum(t[:, (0, 0)]))(x)
    expected = np.zeros((3, 4))
    expected[:, 0] = 2.0
    np.testing.assert_array_equal(g.numpy(), expected)


def test_numpy_scalars_do_not_upcast_float32():
    x = tflc.Variable(np.ones(3, np.float32))
    with tflc.GradientTape() as tape:
        y = tflc.sum(x * np.float64(2.0) + np.float64(1.0)) ** np.float64(2.0)
    assert y.dtype == np.float32
    assert tape.gradient(y, x).dtype == np.float32


@pytest.mark.parametrize("g, shape", [
    (np.float64(2.0), (300, 40)), (np.float32(3.0), (5000,)), (np.array(1.5), (80, 80)),
    (np.arange(300.0).reshape(300, 1), (300, 40)), (np.arange(40.0).reshape(1, 40), (300, 40)),
    (np.arange(600.0).reshape(300, 2)[:, :1], (300, 50)),  # not contiguous: np.broadcast_to
    (np.float64(2.0), (3, 4)), (np.arange(3.0).reshape(3, 1), (3, 4)),  # small: filled
], ids=str)
def test_the_sweeps_broadcast_is_numpys(g, shape):
    """The sum and mean VJPs broadcast g back with a view built by hand when big; it must be
    np.broadcast_to's, read-only (a VJP never writes into what it gets)."""
    from tensorflowlite_clone.ops.shape import FILL_LIMIT
    out = tflc.broadcast_to.forward(g, shape)
    np.testing.assert_array_equal(out, np.broadcast_to(g, shape))
    assert out.shape == shape and out.dtype == np.asarray(g).dtype
    if out.size > FILL_LIMIT:
        assert not out.flags.writeable


def test_the_where_nan_trap_and_the_double_where_idiom():
    """As the README's table says: the untaken branch's VJP still runs on its bad input."""
    x = tflc.Variable(np.array([-1.0, 4.0]))
    with tflc.GradientTape(persistent=True) as tape, np.errstate(invalid="ignore", divide="ignore"):
        trap = tflc.sum(tflc.where(x > 0, tflc.sqrt(x), 0.0))
        safe = tflc.sum(tflc.where(x > 0, tflc.sqrt(tflc.where(x > 0, x, 1.0)), 0.0))
        g_trap, g_safe = tape.gradient(trap, x).numpy(), tape.gradient(safe, x).numpy()
    assert trap.numpy() == safe.numpy() == 2.0
    assert np.isnan(g_trap[0]) and g_trap[1] == 0.25
    np.testing.assert_array_equal(g_safe, [0.0, 0.25])
