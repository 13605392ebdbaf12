"""Where the tape follows tf.GradientTape (each test quotes what TensorFlow does), and the
jacobians TF users reach for, checked against central differences."""
import numpy as np
import pytest
from conftest import rel_err

import tensorflowlite_clone as tflc

rng = np.random.default_rng(12)


# --- the numbered behaviours of the parity issue ------------------------------------------------
def test_a_list_of_targets_is_differentiated_as_their_sum():
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        y1, y2 = tflc.sum(x * x), x * 3.0
    # as tf.GradientTape does: d(y1 + sum(y2))/dx
    np.testing.assert_array_equal(tape.gradient([y1, y2], x).numpy(), [5.0, 7.0])
    np.testing.assert_array_equal(tape.gradient({"a": y1, "b": (y2,)}, x).numpy(), [5.0, 7.0])
    # output_gradients in the targets' structure weight each one
    g = tape.gradient([y1, y2], x, output_gradients=[np.array(2.0), np.array([1.0, 0.0])])
    np.testing.assert_array_equal(g.numpy(), [7.0, 8.0])
    with pytest.raises(ValueError, match="1 output_gradients for 2 targets"):
        tape.gradient([y1, y2], x, output_gradients=[np.array(2.0)])
    np.testing.assert_array_equal(tape.gradient([y1, y1], x).numpy(), [4.0, 8.0])


def test_a_target_is_its_own_source_even_when_not_watched():
    u = tflc.Tensor(np.array([1.0, 2.0]))
    with tflc.GradientTape() as tape:
        pass
    np.testing.assert_array_equal(tape.gradient(u, u).numpy(), [1.0, 1.0])  # as TF: du/du = 1
    x = tflc.Variable(np.array([3.0]))
    with tflc.GradientTape() as tape:
        y = x * x
    dy, dx = tape.gradient(y, [y, x], output_gradients=np.array([2.0]))
    assert dy.numpy().tolist() == [2.0] and dx.numpy().tolist() == [12.0]


def test_the_unconnected_gradients_enum_is_accepted_beside_the_strings():
    x, c = tflc.Variable(np.ones(2)), tflc.Variable(np.ones(3))
    for zero in (tflc.UnconnectedGradients.ZERO, "zero"):
        with tflc.GradientTape() as tape:
            y = tflc.sum(x)
        dx, dc = tape.gradient(y, [x, c], unconnected_gradients=zero)
        np.testing.assert_array_equal(dc.numpy(), np.zeros(3))
    with tflc.GradientTape() as tape:
        y = tflc.sum(x)
    assert tape.gradient(y, c, unconnected_gradients=tflc.UnconnectedGradients.NONE) is None
    with pytest.raises(ValueError, match="'none' or 'zero'"):
        tape.gradient(y, c, unconnected_gradients="zeros")


def test_a_variable_copies_the_array_it_is_made_from():
    a = np.array([1.0, 2.0])
    v = tflc.Variable(a)
    with tflc.GradientTape() as tape:
        y = tflc.sum(v * v * v)
    a[0] = 100.0  # as tf.Variable does: the variable (and the recorded values) keep [1, 2]
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [3.0, 12.0])
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0])


def test_a_constant_tensor_shares_the_callers_array_as_documented():
    a = np.array([1.0, 2.0])
    assert tflc.Tensor(a).numpy() is a


# --- jacobians -------------------------------------------------------------------------------------
def _numerical_jacobian(f, x, h=1e-6):
    """d f(x)[i] / d x[j], shaped f(x).shape + x.shape, by central differences."""
    x = np.array(x, dtype=np.float64)
    out_shape = np.shape(f(x))
    J = np.zeros(out_shape + x.shape)
    for j in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[j] = h
        J[(Ellipsis,) + j] = (np.asarray(f(x + step)) - np.asarray(f(x - step))) / (2 * h)
    return J


FUNCTIONS = {
    "elementwise": lambda x: tflc.tanh(x) * x,
    "matrix": lambda x: tflc.exp(x @ np.arange(6.0).reshape(3, 2) * 0.1),
    "reduction": lambda x: tflc.max(x * x, axis=-1),
    "scalar": lambda x: tflc.sum(tflc.sigmoid(x)),
}


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
@pytest.mark.parametrize("persistent", [False, True])
def test_jacobian_matches_central_differences_with_tfs_shapes(name, persistent):
    f = FUNCTIONS[name]
    x0 = rng.standard_normal((4, 3))
    x = tflc.Tensor(x0)
    with tflc.GradientTape(persistent=persistent) as tape:
        tape.watch(x)
        y = f(x)
    J = tape.jacobian(y, x)
    assert J.shape == y.shape + x.shape  # as tf.GradientTape.jacobian
    numeric = _numerical_jacobian(lambda v: f(tflc.Tensor(v)).numpy(), x0)
    assert rel_err(J.numpy(), numeric) < 1e-7
    if not persistent:
        with pytest.raises(RuntimeError, match="only be asked once"):
            tape.jacobian(y, x)


def test_jacobian_structure_and_unconnected_sources():
    x, c = tflc.Variable(np.array([1.0, 2.0])), tflc.Variable(np.ones(3))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x
    Jx, Jc = tape.jacobian(y, [x, c])
    np.testing.assert_array_equal(Jx.numpy(), np.diag([2.0, 4.0]))
    assert Jc is None  # as TF: unconnected is None ...
    Jc = tape.jacobian(y, {"c": c}, unconnected_gradients="zero")["c"]
    np.testing.assert_array_equal(Jc.numpy(), np.zeros((2, 3)))  # ... or zeros of J's shape


def test_batch_jacobian_matches_the_per_example_jacobians():
    W = rng.standard_normal((3, 2))
    x0 = rng.standard_normal((5, 3))
    x = tflc.Tensor(x0)
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = tflc.tanh(x @ W)  # examples do not interact
    B = tape.batch_jacobian(y, x)
    assert B.shape == (5, 2, 3)  # as tf.GradientTape.batch_jacobian: (batch, y1, x1)
    full = tape.jacobian(y, x).numpy()  # (5, 2, 5, 3): its diagonal blocks
    for b in range(5):
        np.testing.assert_allclose(B.numpy()[b], full[b, :, b, :], rtol=1e-15)
    with pytest.raises(ValueError, match="first \\(batch\\) axis"):
        tape.batch_jacobian(y, tflc.Tensor(np.ones((4, 3))))


def test_jacobian_under_an_outer_tape_gives_the_hessian():
    x0 = np.array([0.5, -1.0, 2.0])
    x = tflc.Tensor(x0)
    with tflc.GradientTape() as outer:
        outer.watch(x)
        with tflc.GradientTape() as inner:
            inner.watch(x)
            y = tflc.sum(x * x * x) + tflc.sum(x) * tflc.sum(x)
        g = inner.gradient(y, x)
    H = outer.jacobian(g, x)
    np.testing.assert_allclose(H.numpy(), np.diag(6 * x0) + 2.0, rtol=1e-14)


def test_a_jacobian_taken_while_an_outer_tape_records_is_differentiable():
    x0, W = np.array([0.5, -1.0, 2.0]), rng.standard_normal((3, 3))
    x = tflc.Tensor(x0)
    with tflc.GradientTape() as outer:
        outer.watch(x)
        with tflc.GradientTape() as inner:
            inner.watch(x)
            y = x * x * x
        J = inner.jacobian(y, x)  # diag(3 x^2), recorded on the outer tape
        s = tflc.sum(J * W)
    np.testing.assert_allclose(outer.gradient(s, x).numpy(), 6 * x0 * np.diag(W), rtol=1e-14)


def test_copy_false_shares_the_array_for_callers_that_leave_it_alone():
    a = np.array([1.0, 2.0])
    assert tflc.Variable(a, copy=False).numpy() is a


# --- integer and boolean tensors: values without gradients ------------------------------------------
def test_integer_tensors_are_values_that_promote_and_carry_no_gradient():
    W = tflc.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    counts = tflc.Tensor(np.array([[1, 0], [2, 1]]))
    with tflc.GradientTape() as tape:
        y = tflc.sum(counts * W)  # as TF after tf.cast: int * float is float
        doubled = counts * 2  # int * int stays int
    assert counts.dtype == doubled.dtype == np.int64 and y.dtype == np.float64
    np.testing.assert_array_equal(tape.gradient(y, W).numpy(), counts.numpy())


def test_an_integer_variable_is_not_watched():
    v, w = tflc.Variable(3), tflc.Variable(2.0)
    with tflc.GradientTape() as tape:
        y = v * w
    assert tape.watched_variables() == (w,)  # as TF: an int32 variable gets no gradient
    with pytest.warns(RuntimeWarning, match="source 0 holds int64"):
        dv, dw = tape.gradient(y, [v, w])
    assert dv is None and dw.numpy() == 3.0


def test_an_integer_target_has_no_gradient():
    x = tflc.Variable(np.array([1.5, 2.5]))
    with tflc.GradientTape(persistent=True) as tape:
        rounded = tflc.cast(x * 2.0, np.int32)
    with pytest.warns(RuntimeWarning, match="target of dtype int32 has no gradient"):
        assert tape.gradient(rounded, x) is None  # as TF: the cast to int carries none
    with pytest.warns(RuntimeWarning):
        zero = tape.gradient(rounded, x, unconnected_gradients="zero")
    np.testing.assert_array_equal(zero.numpy(), [0.0, 0.0])


def test_grad_of_a_function_at_an_integer_point_differentiates_at_that_float():
    assert tflc.grad(lambda x: x ** 3)(2).numpy() == 12.0
    np.testing.assert_array_equal(tflc.grad(lambda x: tflc.sum(x * x))(np.arange(3)).numpy(),
                                  [0.0, 2.0, 4.0])
