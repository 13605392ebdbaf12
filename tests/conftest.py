"""Shared test helpers: finite-difference gradient checks for the engine.

Helpers are handed to tests as session-scoped fixtures (hypothesis-friendly):

    def test_exp(check_grads):
        check_grads(tflc.exp, np.array([0.5, 1.5]))
"""
import os
import sys

import numpy as np
import pytest
from hypothesis import settings

# CI replays a fixed set of examples, so a red build always means a change broke something;
# local runs keep exploring new examples.
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tensorflowlite_clone as tflc  # noqa: E402
from tensorflowlite_clone.gradcheck import numerical_gradient, rel_error  # noqa: E402

FD_STEP = 1e-6
FD_RTOL = 1e-7


def rel_err(a, b, floor=1e-8):
    """gradcheck's rel_error relative to the largest entry (per_entry=False): robust when both
    are near zero. The arrays must have one shape."""
    assert np.shape(a) == np.shape(b), (np.shape(a), np.shape(b))
    return rel_error(a, b, floor, per_entry=False)


def assert_close_to_rounding(actual, expected):
    """The same shape and dtype, and values within a few units in the last place of the largest
    entry (1e-12 of it in float64, 1e-5 in float32): how a compiled step whose adjoint the passes
    simplified may differ from the eager tape."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.shape == expected.shape and actual.dtype == expected.dtype
    scale = np.max(np.abs(expected), initial=0.0)
    tolerance = (1e-12 if expected.dtype == np.float64 else 1e-5) * scale
    np.testing.assert_allclose(actual, expected, rtol=0, atol=tolerance)


def numerical_grads(fun, arrays, h=FD_STEP):
    """gradcheck's numerical_gradient of the scalar function `fun(list_of_arrays)` with respect
    to each of the arrays (float64 copies; `fun` sees them nudged one entry at a time)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    return [numerical_gradient(lambda _: fun(arrays), a, h) for a in arrays]


def _weights(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape)


def _check_grads(f, *args, rtol=FD_RTOL, h=FD_STEP, seed=0):
    """Check tape.gradient of sum(f(*args) * w) (random weights w) against central differences.

    `args` are float64 arrays (or numbers); each becomes a watched Tensor. Returns the analytic
    gradients as float64 ndarrays.
    """
    arrays = [np.array(a, dtype=np.float64) for a in args]
    tensors = [tflc.Tensor(a.copy()) for a in arrays]
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(tensors)
        out = f(*tensors)
        assert isinstance(out, tflc.Tensor), type(out)
        w = _weights(out.shape, seed)
        loss = tflc.sum(out * w)
    grads = tape.gradient(loss, tensors)
    seeded = tape.gradient(out, tensors, output_gradients=w)

    def scalar(values):
        return float(np.sum(np.asarray(f(*[tflc.Tensor(v.copy()) for v in values])) * w))

    numeric = numerical_grads(scalar, arrays, h)
    # Central differences cannot resolve a gradient below their own rounding, about
    # eps * sum|f w| / h: where the weighted terms nearly cancel, the gradient is compared with
    # that, not with its own (tiny) size
    noise = 10 * np.finfo(np.float64).eps * float(np.sum(np.abs(out.numpy() * w))) / h
    results = []
    for k, (g, gs, num, a) in enumerate(zip(grads, seeded, numeric, arrays)):
        assert g is not None, f"gradient {k} is None"
        assert isinstance(g, tflc.Tensor), type(g)
        assert g.shape == a.shape, f"gradient {k}: shape {g.shape} != input shape {a.shape}"
        assert g.dtype == np.float64, g.dtype
        err = rel_err(g.numpy(), num, floor=max(1e-8, noise / rtol))
        assert err <= rtol, f"gradient {k}: relative error {err:.3g}\nanalytic\n{g.numpy()}\nnumeric\n{num}"
        np.testing.assert_allclose(gs.numpy(), g.numpy(), rtol=1e-12, atol=1e-300)
        results.append(np.array(g.numpy()))
    return results


def _tape_grads(f, tensors, w):
    with tflc.GradientTape() as tape:
        tape.watch(tensors)
        loss = tflc.sum(f(*tensors) * w)
    return tape.gradient(loss, tensors, unconnected_gradients="zero")


def _check_hvp(f, *args, rtol=FD_RTOL, h=1e-5, seed=0):
    """Check the Hessian-vector product of L = sum(f(*args) * w), taken with nested tapes,
    against central differences of the (first-order) tape gradient along a random direction v."""
    rng = np.random.default_rng(seed + 1)
    arrays = [np.array(a, dtype=np.float64) for a in args]
    vs = [rng.standard_normal(a.shape) for a in arrays]
    tensors = [tflc.Tensor(a.copy()) for a in arrays]
    w = _weights(np.shape(f(*tensors)), seed)
    with tflc.GradientTape() as outer:
        outer.watch(tensors)
        with tflc.GradientTape() as inner:
            inner.watch(tensors)
            loss = tflc.sum(f(*tensors) * w)
        grads = inner.gradient(loss, tensors)
        assert all(isinstance(g, tflc.Tensor) for g in grads)
        gv = sum(tflc.sum(g * v) for g, v in zip(grads, vs))
    hvp = outer.gradient(gv, tensors, unconnected_gradients="zero")

    def grad_at(step):
        shifted = [tflc.Tensor(a + step * v) for a, v in zip(arrays, vs)]
        return [g.numpy() for g in _tape_grads(f, shifted, w)]

    plus, minus = grad_at(h), grad_at(-h)
    for k, (hv, p, m) in enumerate(zip(hvp, plus, minus)):
        assert hv.shape == arrays[k].shape
        numeric = (p - m) / (2 * h)
        err = rel_err(hv.numpy(), numeric, floor=1.0)
        assert err <= rtol, f"HVP {k}: relative error {err:.3g}\n{hv.numpy()}\n{numeric}"
    return [hv.numpy() for hv in hvp]


@pytest.fixture(scope="session")
def check_grads():
    return _check_grads


@pytest.fixture(scope="session")
def check_hvp():
    return _check_hvp
