"""tflc.custom_gradient, TensorFlow's decorator: eager, nested (second order), with captured
Variables, in trace and in the pictures; gradients checked against central differences."""
import numpy as np
import pytest
from conftest import numerical_grads, rel_err

import tensorflowlite_clone as tflc
import viz


@tflc.custom_gradient
def log1pexp(x):
    """TensorFlow's documentation example: log(1 + e^x) with a gradient stable at large x."""
    e = tflc.exp(x)

    def grad_fn(upstream):
        return upstream * (1 - 1 / (1 + e))

    return tflc.log(1 + e), grad_fn


def _grad(f, x0, dtype=np.float64):
    x = tflc.Tensor(np.array(x0, dtype=dtype))
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y = tflc.sum(f(x))
    return tape.gradient(y, x).numpy()


def test_the_custom_gradient_is_used_and_matches_central_differences():
    x0 = np.array([-2.0, 0.0, 0.5, 3.0])
    numeric = numerical_grads(lambda xs: float(np.sum(np.log1p(np.exp(xs[0])))), [x0])[0]
    assert rel_err(_grad(log1pexp, x0), numeric) < 1e-8
    # as in TF's example (float32): the automatic gradient of log(1 + e^x) is NaN at 100, the
    # custom one 1
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.isnan(_grad(lambda x: tflc.log(1 + tflc.exp(x)), [100.0], np.float32)[0])
        assert _grad(log1pexp, [100.0], np.float32)[0] == 1.0


def test_second_order_differentiates_grad_fn():
    x0 = np.array([-1.0, 0.3, 2.0])
    x = tflc.Tensor(x0)
    with tflc.GradientTape() as outer:
        outer.watch(x)
        with tflc.GradientTape() as inner:
            inner.watch(x)
            y = tflc.sum(log1pexp(x))
        g = inner.gradient(y, x)
    second = outer.gradient(g, x).numpy()
    s = 1 / (1 + np.exp(-x0))
    np.testing.assert_allclose(second, s * (1 - s), rtol=1e-12)  # d/dx sigmoid


def test_several_inputs_and_a_none_gradient():
    @tflc.custom_gradient
    def scaled(x, scale):
        def grad_fn(upstream):
            return upstream * scale, None  # no gradient for scale
        return x * scale, grad_fn

    x, scale = tflc.Variable(np.array([1.0, 2.0])), tflc.Variable(np.array(3.0))
    with tflc.GradientTape() as tape:
        y = tflc.sum(scaled(x, scale))
    dx, dscale = tape.gradient(y, [x, scale])
    np.testing.assert_array_equal(dx.numpy(), [3.0, 3.0])
    assert dscale is None  # as in TF: None means no gradient


def test_captured_variables_get_gradients_through_the_variables_argument():
    w = tflc.Variable(np.array([2.0, -1.0]), name="w")

    @tflc.custom_gradient
    def times_w(x):
        def grad_fn(upstream, variables=None):
            assert variables == [w]
            return upstream * w, [upstream * x]
        return x * w, grad_fn

    x = tflc.Variable(np.array([5.0, 7.0]))
    with tflc.GradientTape() as tape:
        y = tflc.sum(times_w(x))
    dx, dw = tape.gradient(y, [x, w])
    np.testing.assert_array_equal(dx.numpy(), [2.0, -1.0])
    np.testing.assert_array_equal(dw.numpy(), [5.0, 7.0])

    @tflc.custom_gradient
    def forgets_variables(x):
        return x * w, lambda upstream: upstream * w

    with pytest.raises(TypeError, match="must accept a keyword argument `variables`"):
        forgets_variables(x)


def test_misuse_gets_clear_errors():
    x = tflc.Variable(np.ones(2))
    with pytest.raises(TypeError, match="must return \\(output, grad_fn\\)"):
        tflc.custom_gradient(lambda x: x * 2.0)(x)

    @tflc.custom_gradient
    def two_gradients(x):
        return x * 2.0, lambda upstream: (upstream, upstream)

    @tflc.custom_gradient
    def wrong_shape(x):
        return x * 2.0, lambda upstream: tflc.sum(upstream)

    for f, message in [(two_gradients, "two_gradients: grad_fn returned 2 gradients for 1 inputs"),
                       (wrong_shape, "wrong_shape: grad_fn's gradient 0 has shape \\(\\)")]:
        with tflc.GradientTape() as tape:
            y = tflc.sum(f(x))
        with pytest.raises(ValueError, match=message):
            tape.gradient(y, x)


def test_in_a_trace_f_runs_eagerly_with_one_warning():
    traced = tflc.jit(tflc.value_and_grad(lambda x: tflc.sum(log1pexp(x * 2.0))))
    with pytest.warns(RuntimeWarning, match="custom_gradient function log1pexp"):
        for x0 in ([0.0, 1.0], [2.0, -3.0], [0.5, 0.5]):
            value, g = traced(np.array(x0))
            s = 1 / (1 + np.exp(-2 * np.array(x0)))
            np.testing.assert_allclose(g.numpy(), 2 * s, rtol=1e-12)


def test_the_graph_picture_shows_the_custom_op():
    x = tflc.Variable(np.array([1.0, 2.0]), name="x")
    with tflc.GradientTape(persistent=True) as tape:
        y = tflc.sum(log1pexp(x))
    source = viz.draw_graph(tape, y, show_grads=True).source
    assert "log1pexp" in source
