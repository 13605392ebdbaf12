"""NumPy's own functions called on Tensors: the engine's op of the same name when it has one
(differentiable), NumPy on the values otherwise."""
import numpy as np
import pytest

import tensorflowlite_clone as tflc


def test_numpy_functions_with_an_engine_op_are_differentiable():
    x = tflc.Variable(np.arange(6.0).reshape(2, 3))
    with tflc.GradientTape() as tape:
        y = np.sum(np.mean(x, axis=0) * 2.0) + np.max(x) + np.sum(np.transpose(x)[0])
    assert isinstance(y, tflc.Tensor)
    assert y.numpy() == 15.0 + 5.0 + 3.0  # 2 * (1.5 + 2.5 + 3.5), the max, x[0, 0] + x[1, 0]
    expected = np.full((2, 3), 1.0)
    expected[1, 2] += 1.0  # the max
    expected[:, 0] += 1.0  # transpose(x)[0] is x's first column
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected)
    np.testing.assert_array_equal(np.where(np.array([True, False, True]), x, 0.0).numpy(),
                                  [[0.0, 0.0, 2.0], [3.0, 0.0, 5.0]])


def test_other_numpy_functions_run_on_the_values():
    x = tflc.Tensor(np.array([3.0, 1.0, 2.0]))
    assert np.shape(x) == (3,) and np.ndim(x) == 1 and np.size(x) == 3
    median = np.median(x)
    assert not isinstance(median, tflc.Tensor) and median == 2.0
    np.testing.assert_array_equal(np.flatnonzero(np.array([0.0, 1.0])), [1])


def test_in_a_trace_a_numpy_function_without_an_engine_op_is_a_read():
    traced = tflc.jit(tflc.value_and_grad(lambda w: tflc.sum(w * float(np.median(w)))))
    with pytest.warns(RuntimeWarning, match=r"np\.median\(\)"):
        for w in ([1.0, 2.0, 3.0], [1.0, 5.0, 9.0]):
            value, g = traced(np.array(w))
            assert value.numpy() == sum(w) * np.median(w)


def test_np_linalg_and_np_trace_run_the_engines_versions():
    a = tflc.Variable(np.array([[2.0, 1.0], [1.0, 3.0]]))
    with tflc.GradientTape() as tape:
        y = np.linalg.norm(a) + np.trace(a) + np.linalg.det(a)
    assert isinstance(y, tflc.Tensor)
    expected = a.numpy() / np.sqrt(15.0) + np.eye(2) + np.linalg.det(a.numpy()) * np.linalg.inv(
        a.numpy()).T
    np.testing.assert_allclose(tape.gradient(y, a).numpy(), expected, rtol=1e-12)
