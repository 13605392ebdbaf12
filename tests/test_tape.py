"""GradientTape semantics (TensorFlow's), higher-order derivatives, deep graphs, memory,
anomaly detection."""
import gc
import inspect
import sys
import tracemalloc
import weakref

import numpy as np
import pytest

import tensorflowlite_clone as tflc


def _here():
    """'file:line' of the caller's next line (where the op under test is recorded)."""
    frame = inspect.currentframe().f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno + 1}"


# --- what is watched --------------------------------------------------------------------------
def test_variables_are_watched_automatically_constants_are_not():
    W = tflc.Variable(np.array([1.0, 2.0]))
    c = tflc.Tensor(np.array([3.0, 4.0]))
    with tflc.GradientTape() as tape:
        y = tflc.sum(W * 3.0) + tflc.sum(c * c)
    assert [r.op.name for r in tape.records] == ["multiply", "sum", "add"]  # c * c not recorded
    dW, dc = tape.gradient(y, [W, c])
    np.testing.assert_array_equal(dW.numpy(), [3.0, 3.0])
    assert dc is None


def test_watched_constant_gets_a_gradient():
    c = tflc.Tensor(np.array([3.0, 4.0]))
    with tflc.GradientTape() as tape:
        tape.watch(c)
        y = tflc.sum(c * c)
    np.testing.assert_array_equal(tape.gradient(y, c).numpy(), [6.0, 8.0])


def test_non_trainable_variable_is_not_auto_watched_but_can_be_watched():
    v = tflc.Variable(np.array([1.0, 2.0]), trainable=False)
    assert v.trainable is False
    with tflc.GradientTape(persistent=True) as tape:
        y = tflc.sum(v * v)
    assert tape.gradient(y, v) is None
    assert tape.watched_variables() == ()
    with tflc.GradientTape() as tape:
        tape.watch(v)
        y = tflc.sum(v * v)
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [2.0, 4.0])


def test_watch_accessed_variables_false():
    W = tflc.Variable(np.array([1.0, 2.0]))
    V = tflc.Variable(np.array([5.0, 6.0]))
    with tflc.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(V)
        y = tflc.sum(W * W) + tflc.sum(V * V)
    dW, dV = tape.gradient(y, [W, V])
    assert dW is None
    np.testing.assert_array_equal(dV.numpy(), [10.0, 12.0])
    assert tape.watched_variables() == (V,)


def test_watch_a_numpy_array_and_differentiate_with_respect_to_it():
    a = np.array([1.0, -2.0, 0.5])
    with tflc.GradientTape() as tape:
        tape.watch(a)
        y = tflc.sum(tflc.exp(a) + tflc.multiply(a, a))
    g = tape.gradient(y, a)
    assert isinstance(g, tflc.Tensor)
    np.testing.assert_allclose(g.numpy(), np.exp(a) + 2 * a, rtol=1e-15)


def test_watch_leaves_integers_unwatched_with_a_warning():
    i = tflc.Tensor(np.arange(3))
    with tflc.GradientTape() as tape:  # as tf.GradientTape does: a warning, then no gradient
        with pytest.warns(RuntimeWarning, match="dtype int64 has no gradient"):
            tape.watch(i)
        y = tflc.sum(i * 2.0)
        with pytest.raises(ValueError, match="expected a Tensor"):  # as tf.GradientTape does
            tape.watch(2.0)
    with pytest.warns(RuntimeWarning, match="source 0 holds int64"):
        assert tape.gradient(y, i) is None


def test_integer_sources_have_no_gradient_and_others_are_a_type_error():
    x = tflc.Variable(np.ones(3))
    with tflc.GradientTape(persistent=True) as tape:
        y = tflc.sum(x * 2)
    with pytest.warns(RuntimeWarning, match="source 0 holds int64"):  # as tf.GradientTape does
        assert tape.gradient(y, np.arange(3)) is None
    with pytest.raises(TypeError, match="source 1"):
        tape.gradient(y, [x, 3])
    with pytest.raises(TypeError, match="target"):
        tape.gradient(3.0, x)


def test_watched_variables_in_creation_order():
    a, b = tflc.Variable(np.ones(2), name="a"), tflc.Variable(np.ones(2), name="b")
    frozen = tflc.Variable(np.ones(2), name="frozen", trainable=False)
    with tflc.GradientTape() as tape:
        y = b * frozen
        z = a * 2.0
    assert tape.watched_variables() == (a, b)  # as tf.GradientTape does: not first use


def test_watched_variables_lists_every_accessed_variable():
    x = tflc.Tensor(np.ones((2, 3)))
    W1, W2 = tflc.Variable(np.ones((3, 4)), name="W1"), tflc.Variable(np.ones((4, 2)), name="W2")
    with tflc.GradientTape() as tape:
        loss = tflc.sum(tflc.relu(x @ W1) @ W2)
    assert tape.watched_variables() == (W1, W2)


# --- asking the tape --------------------------------------------------------------------------
def test_non_persistent_tape_answers_once():
    x = tflc.Variable(np.array(3.0))
    with tflc.GradientTape() as tape:
        y = x * x
    assert tape.gradient(y, x).numpy() == 6.0
    assert tape.records == ()  # released
    with pytest.raises(RuntimeError, match="persistent"):
        tape.gradient(y, x)


def test_persistent_tape_answers_many_times_without_accumulating():
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x
        z = tflc.sum(y * x)
    for _ in range(3):
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0])
        np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [3.0, 12.0])
        np.testing.assert_array_equal(tape.gradient(z, y).numpy(), [1.0, 2.0])


def test_gradient_inside_own_block_of_non_persistent_tape_answers_and_stops_recording():
    x = tflc.Variable(np.array(2.0))
    with tflc.GradientTape() as tape:  # as tf.GradientTape does
        y = x * x
        assert tape.gradient(y, x).numpy() == 4.0
        z = x * 3.0  # no longer recorded
        with pytest.raises(RuntimeError, match="only be asked once"):
            tape.gradient(z, x)
    assert tape.records == ()


def test_persistent_tape_may_be_asked_inside_its_block():
    x = tflc.Variable(np.array(2.0))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x * x
        g = tape.gradient(y, x)
    assert g.numpy() == 12.0
    # the gradient computation was recorded on the (still recording) tape: second derivative
    assert tape.gradient(g, x).numpy() == 12.0


def test_reentering_a_recording_tape_is_an_error():
    tape = tflc.GradientTape()
    with tape:
        with pytest.raises(ValueError, match="already recording"):  # as tf.GradientTape does
            with tape:
                pass


def test_tape_can_be_entered_again_after_its_block():
    x = tflc.Variable(np.array(2.0))
    tape = tflc.GradientTape(persistent=True)
    with tape:
        y = x * x
    with tape:
        z = y * x
    assert tape.gradient(z, x).numpy() == 12.0


def test_invalid_unconnected_gradients_value():
    x = tflc.Variable(np.array(2.0))
    with tflc.GradientTape() as tape:
        y = x * x
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="zeros")


def test_unconnected_sources_none_or_zero():
    x = tflc.Variable(np.array([1.0, 2.0]))
    u = tflc.Variable(np.ones((2, 3), dtype=np.float32))
    a = np.ones(4)
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(a)
        y = tflc.sum(x * x)
    assert tape.gradient(y, [u, a]) == [None, None]
    gu, ga = tape.gradient(y, [u, a], unconnected_gradients="zero")
    assert gu.shape == (2, 3) and gu.dtype == np.float32 and not gu.numpy().any()
    assert ga.shape == (4,) and not ga.numpy().any()
    # a target computed outside any tape is unconnected as well
    outside = tflc.sum(x * 3.0)
    assert tape.gradient(outside, x) is None


def test_non_scalar_target_is_differentiated_as_its_sum():
    x = tflc.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x
        s = tflc.sum(y)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), tape.gradient(s, x).numpy())
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), 2 * x.numpy())


@pytest.mark.parametrize("kind", ["array", "tensor", "list"])
def test_output_gradients_seed_the_sweep(kind):
    x = tflc.Variable(np.array([1.0, 2.0, 3.0]))
    seed = [1.0, -2.0, 0.5]
    seed = {"array": np.array(seed), "tensor": tflc.Tensor(np.array(seed)), "list": seed}[kind]
    with tflc.GradientTape() as tape:
        y = x * x
    np.testing.assert_array_equal(tape.gradient(y, x, output_gradients=seed).numpy(),
                                  [2.0, -8.0, 3.0])


def test_output_gradients_shape_mismatch():
    x = tflc.Variable(np.array([1.0, 2.0, 3.0]))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        tape.gradient(y, x, output_gradients=np.ones(2))
    with pytest.raises(ValueError):
        tape.gradient(y, x, output_gradients=np.ones((3, 1)))


def test_output_gradients_dtype_follows_the_target():
    x = tflc.Variable(np.array([1.0, 2.0], dtype=np.float32))
    with tflc.GradientTape() as tape:
        y = x * 3.0
    g = tape.gradient(y, x, output_gradients=np.array([1.0, 2.0]))  # float64 seed
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g.numpy(), [3.0, 6.0])


def test_sources_structure_is_mirrored():
    a, b, c = (tflc.Variable(np.array(v)) for v in (1.0, 2.0, 3.0))
    with tflc.GradientTape(persistent=True) as tape:
        y = a * b * c
    single = tape.gradient(y, a)
    assert isinstance(single, tflc.Tensor) and single.numpy() == 6.0
    as_list = tape.gradient(y, [a, b])
    assert isinstance(as_list, list) and [g.numpy() for g in as_list] == [6.0, 3.0]
    as_tuple = tape.gradient(y, (c,))
    assert isinstance(as_tuple, tuple) and as_tuple[0].numpy() == 2.0
    as_dict = tape.gradient(y, {"a": a, "c": c})
    assert list(as_dict) == ["a", "c"] and as_dict["c"].numpy() == 2.0
    nested = tape.gradient(y, {"first": [a, (b,)], "second": c})
    assert nested["first"][0].numpy() == 6.0 and isinstance(nested["first"][1], tuple)
    assert nested["first"][1][0].numpy() == 3.0 and nested["second"].numpy() == 2.0
    same_twice = tape.gradient(y, [a, a])
    assert [g.numpy() for g in same_twice] == [6.0, 6.0]
    with_empty = tape.gradient(y, [a, [], ()])  # (a list, but not a flat one)
    assert len(with_empty) == 3 and with_empty[1:] == [[], ()]


def test_target_equal_to_source():
    x = tflc.Variable(np.array([[1.0, 2.0]]))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * 2.0
    np.testing.assert_array_equal(tape.gradient(x, x).numpy(), [[1.0, 1.0]])
    np.testing.assert_array_equal(tape.gradient(y, y).numpy(), [[1.0, 1.0]])
    np.testing.assert_array_equal(tape.gradient(y, y, output_gradients=[[3.0, 4.0]]).numpy(), [[3.0, 4.0]])


@pytest.mark.parametrize("op", [tflc.sum, tflc.mean, lambda t: tflc.broadcast_to(t, (4, 2, 3)),
                                lambda t: t + 1.0, lambda t: t[0]],
                         ids=["sum", "mean", "broadcast_to", "add", "getitem"])
def test_gradients_are_writable_arrays(op):
    x = tflc.Variable(np.ones((2, 3)))
    with tflc.GradientTape() as tape:
        y = op(x)
    g = tape.gradient(y, x).numpy()
    assert g.flags.writeable and g.shape == (2, 3)
    g *= 0.5  # e.g. gradient clipping in place
    assert x.numpy().tolist() == [[1.0] * 3] * 2


def test_assign_after_recording_does_not_change_the_gradient():
    v = tflc.Variable(np.array([2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        y = v * v
    v.assign(np.array([10.0]))
    np.testing.assert_array_equal(y.numpy(), [4.0])
    np.testing.assert_array_equal(tape.gradient(y, v).numpy(), [4.0])  # 2 * 2, not 2 * 10


def _softmax_loss(X, W, y):
    """Mean softmax cross-entropy built from primitives; also returns the intermediates."""
    scores = X @ W
    shifted = scores - tflc.max(scores, axis=1, keepdims=True)
    log_probs = shifted - tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
    loss = -tflc.mean(log_probs[np.arange(X.shape[0]), y])
    return loss, scores


def _data(seed=0, N=6, D=4, C=3):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((N, D)), rng.standard_normal((D, C)) * 0.5, rng.integers(0, C, N)


def _softmax_probs(s):
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_intermediate_tensor_as_source_d_loss_d_scores():
    X, W0, y = _data()
    W = tflc.Variable(W0)
    with tflc.GradientTape() as tape:
        loss, scores = _softmax_loss(X, W, y)
    dscores, dW = tape.gradient(loss, [scores, W])
    N = X.shape[0]
    one_hot = np.eye(3)[y]
    expected_dscores = (_softmax_probs(X @ W0) - one_hot) / N  # hand-derived
    np.testing.assert_allclose(dscores.numpy(), expected_dscores, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(dW.numpy(), X.T @ expected_dscores, rtol=1e-12, atol=1e-15)
    p = _softmax_probs(X @ W0)
    np.testing.assert_allclose(loss.numpy(), -np.mean(np.log(p[np.arange(N), y])), rtol=1e-13)


def test_stop_recording():
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        y = x * x
        with tape.stop_recording():
            z = x * 3.0
            w = y + 1.0
        v = y * x
    assert len(tape.records) == 2
    assert tape.gradient(z, x) is None and tape.gradient(w, x) is None
    np.testing.assert_array_equal(tape.gradient(v, x).numpy(), [3.0, 12.0])
    with pytest.raises(ValueError, match="not recording"):  # as tf.GradientTape does
        with tape.stop_recording():
            pass


def test_stop_recording_inside_non_persistent_block_allows_gradient():
    x = tflc.Variable(np.array(3.0))
    with tflc.GradientTape() as tape:
        y = x * x
        with tape.stop_recording():
            g = tape.gradient(y, x)
    assert g.numpy() == 6.0


def test_reset_forgets_records_and_watches():
    x = tflc.Variable(np.array(2.0))
    c = tflc.Tensor(np.array(5.0))
    with tflc.GradientTape() as tape:
        tape.watch(c)
        y = x * c
        tape.reset()
        assert tape.records == () and tape.watched_variables() == ()
        z = x * x + c
    assert tape.gradient(y, x) is None
    with pytest.raises(RuntimeError):
        tape.gradient(z, x)  # asked once already: non-persistent
    with tflc.GradientTape() as tape:
        z = x * x + c
        tape.reset()
        z2 = x * 5.0 + c * c
    dx, dc = tape.gradient(z2, [x, c])
    assert dx.numpy() == 5.0 and dc is None  # c no longer watched after reset


def test_reentering_a_used_tape_starts_it_afresh():
    x = tflc.Variable(np.array(2.0))
    tape = tflc.GradientTape()
    with tape:
        y = x * x
    tape.gradient(y, x)
    with tape:  # as tf.GradientTape does: a new recording, not "can only be asked once"
        z = x * x * x
    assert len(tape.records) == 2
    assert tape.gradient(z, x).numpy() == 12.0


def test_reset_outside_the_block_is_an_error_and_keeps_the_records():
    x = tflc.Variable(np.array(2.0))
    tape = tflc.GradientTape()
    with tape:
        y = x * x
    with pytest.raises(ValueError, match="not recording"):  # as tf.GradientTape does
        tape.reset()
    assert tape.gradient(y, x).numpy() == 4.0


def test_two_tapes_record_only_what_they_watch():
    x = tflc.Tensor(np.array(2.0))
    y = tflc.Tensor(np.array(3.0))
    with tflc.GradientTape(persistent=True) as tx, tflc.GradientTape(persistent=True) as ty:
        tx.watch(x)
        ty.watch(y)
        a = x * x       # tx only
        b = y * 4.0     # ty only
        c = a * b       # both
        e = tflc.exp(x)  # tx only
        d = e + 1.0      # tx only
    assert [id(r.output) for r in tx.records] == [id(a), id(c), id(e), id(d)]
    assert [id(r.output) for r in ty.records] == [id(b), id(c)]
    assert tx.gradient(c, x).numpy() == 2 * 2.0 * 12.0
    assert ty.gradient(c, y).numpy() == 4.0 * 4.0
    assert ty.gradient(a, y) is None
    assert tx.gradient(b, x) is None


# --- higher order -----------------------------------------------------------------------------
def test_second_derivative_of_cube_with_nested_tapes():
    x = tflc.Variable(np.array([-1.5, 0.5, 2.0]))
    with tflc.GradientTape() as outer:
        with tflc.GradientTape() as inner:
            y = x ** 3
        dy = inner.gradient(y, x)
    d2y = outer.gradient(dy, x)
    np.testing.assert_allclose(dy.numpy(), 3 * x.numpy() ** 2, rtol=1e-15)
    np.testing.assert_allclose(d2y.numpy(), 6 * x.numpy(), rtol=1e-15)


def test_third_derivative_with_three_tapes():
    x = tflc.Variable(np.array(1.7))
    with tflc.GradientTape() as t3:
        with tflc.GradientTape() as t2:
            with tflc.GradientTape() as t1:
                y = x ** 4
            d1 = t1.gradient(y, x)
        d2 = t2.gradient(d1, x)
    d3 = t3.gradient(d2, x)
    np.testing.assert_allclose([d1.numpy(), d2.numpy(), d3.numpy()],
                               [4 * 1.7 ** 3, 12 * 1.7 ** 2, 24 * 1.7], rtol=1e-14)


def test_mixed_partial_derivative():
    x, y = tflc.Variable(np.array(2.0)), tflc.Variable(np.array(-3.0))
    with tflc.GradientTape() as outer:
        with tflc.GradientTape() as inner:
            f = x * x * y + tflc.exp(x * y)
        dfdx = inner.gradient(f, x)
    d2 = outer.gradient(dfdx, y)
    # d/dy (2xy + y e^{xy}) = 2x + e^{xy} + xy e^{xy}
    np.testing.assert_allclose(d2.numpy(), 2 * 2 + np.exp(-6) - 6 * np.exp(-6), rtol=1e-14)


def test_gradient_with_respect_to_output_gradients():
    A = np.array([[1.0, 2.0, 0.0], [0.5, -1.0, 3.0]])
    x = tflc.Variable(np.array([1.0, 2.0, 3.0]))
    v = tflc.Tensor(np.array([0.25, -4.0]))
    u = np.array([1.0, -1.0, 2.0])
    with tflc.GradientTape() as outer:
        outer.watch(v)
        with tflc.GradientTape() as inner:
            y = A @ x
        vjp = inner.gradient(y, x, output_gradients=v)  # A^T v
        s = tflc.sum(vjp * u)
    np.testing.assert_allclose(vjp.numpy(), A.T @ v.numpy(), rtol=1e-15)
    np.testing.assert_allclose(outer.gradient(s, v).numpy(), A @ u, rtol=1e-15)


def test_grad_of_grad():
    f = lambda x: x ** 3 + 2.0 * x
    d1, d2 = tflc.grad(f), tflc.grad(tflc.grad(f))
    d3 = tflc.grad(d2)
    for x in (-1.25, 0.5, 2.0):
        assert d1(x).numpy() == pytest.approx(3 * x ** 2 + 2, rel=1e-14)
        assert d2(x).numpy() == pytest.approx(6 * x, rel=1e-14)
        assert d3(x).numpy() == pytest.approx(6.0, rel=1e-14)


def test_grad_of_grad_elementwise_on_arrays():
    x = np.array([0.3, -0.7, 1.1])
    g2 = tflc.grad(lambda t: tflc.sum(tflc.grad(lambda s: tflc.sum(tflc.tanh(s)))(t)))(x)
    th = np.tanh(x)
    np.testing.assert_allclose(g2.numpy(), -2 * th * (1 - th ** 2), rtol=1e-13)


def test_value_and_grad_and_argnums():
    f = lambda a, b, c: tflc.sum(a * b) + c
    a, b = np.array([1.0, 2.0]), np.array([3.0, -1.0])
    value, g = tflc.value_and_grad(f)(a, b, 5.0)
    assert value.numpy() == 1.0 + 5.0
    np.testing.assert_array_equal(g.numpy(), b)
    value, (ga, gb, gc) = tflc.value_and_grad(f, argnums=(0, 1, 2))(a, b, 5.0)
    np.testing.assert_array_equal(ga.numpy(), b)
    np.testing.assert_array_equal(gb.numpy(), a)
    assert gc.numpy() == 1.0
    gb = tflc.grad(f, argnums=1)(tflc.Tensor(a), b, c=0.0)
    np.testing.assert_array_equal(gb.numpy(), a)
    unused = tflc.grad(lambda p, q: tflc.sum(p * 2.0), argnums=1)(a, b)
    np.testing.assert_array_equal(unused.numpy(), [0.0, 0.0])
    with pytest.raises(TypeError, match="argnums"):
        tflc.grad(f, argnums=3)(a, b, 1.0)


def test_hessian_vector_product_of_softmax_cross_entropy():
    X, W0, y = _data(seed=1, N=8, D=5, C=4)
    V = np.random.default_rng(2).standard_normal(W0.shape)

    def grad_at(W_value):
        W = tflc.Variable(W_value)
        with tflc.GradientTape() as tape:
            loss, _ = _softmax_loss(X, W, y)
        return tape.gradient(loss, W).numpy()

    W = tflc.Variable(W0)
    with tflc.GradientTape() as outer:
        with tflc.GradientTape() as inner:
            loss, _ = _softmax_loss(X, W, y)
        g = inner.gradient(loss, W)
        gv = tflc.sum(g * V)
    hv = outer.gradient(gv, W).numpy()
    h = 1e-5
    numeric = (grad_at(W0 + h * V) - grad_at(W0 - h * V)) / (2 * h)
    err = np.max(np.abs(hv - numeric)) / np.max(np.abs(hv) + np.abs(numeric))
    assert err < 1e-7, err
    # and the closed form: H v = X^T [ (diag(p_i) - p_i p_i^T) (X V)_i ] / N
    P, XV, N = _softmax_probs(X @ W0), X @ V, X.shape[0]
    inner_term = P * XV - P * np.sum(P * XV, axis=1, keepdims=True)
    np.testing.assert_allclose(hv, X.T @ inner_term / N, rtol=1e-10, atol=1e-13)
    # first order against the hand-derived dW = X^T (q - 1_y) / N
    np.testing.assert_allclose(g.numpy(), X.T @ (P - np.eye(4)[y]) / N, rtol=1e-12, atol=1e-15)


# --- deep graphs: no recursion --------------------------------------------------------------------
def test_chain_of_100000_ops_differentiates_without_recursion():
    x = tflc.Variable(np.array([1.0, -2.0]))
    c = 1.0000001
    limit = sys.getrecursionlimit()
    with tflc.GradientTape() as tape:
        y = x
        for _ in range(50_000):
            y = y * c
            y = y + 0.0
    assert len(tape.records) == 100_000 > limit
    g = tape.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), [c ** 50_000] * 2, rtol=1e-9)


def test_deep_chain_second_order():
    x = tflc.Variable(np.array(0.5))
    c, n = 1.0001, 5_000
    with tflc.GradientTape() as outer:
        with tflc.GradientTape() as inner:
            y = x
            for _ in range(n):
                y = y * c
            z = y * y  # c^(2n) x^2
        g = inner.gradient(z, x)
    np.testing.assert_allclose(g.numpy(), 2 * c ** (2 * n) * 0.5, rtol=1e-9)
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), 2 * c ** (2 * n), rtol=1e-9)


# --- memory ---------------------------------------------------------------------------------------
def _mlp_step(params, X, y, lr=1e-2):
    W1, b1, W2, b2 = params
    with tflc.GradientTape() as tape:
        h = tflc.relu(X @ W1 + b1)
        scores = h @ W2 + b2
        shifted = scores - tflc.max(scores, axis=1, keepdims=True)
        log_probs = shifted - tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
        loss = -tflc.mean(log_probs[np.arange(X.shape[0]), y]) + 1e-3 * tflc.sum(W1 * W1)
    grads = tape.gradient(loss, params)
    for p, g in zip(params, grads):
        p.assign_sub(lr * g.numpy())
    return float(loss)


def _mlp():
    rng = np.random.default_rng(0)
    params = [tflc.Variable(rng.standard_normal((10, 16)) * 0.1), tflc.Variable(np.zeros(16)),
              tflc.Variable(rng.standard_normal((16, 3)) * 0.1), tflc.Variable(np.zeros(3))]
    return params, rng.standard_normal((32, 10)), rng.integers(0, 3, 32)


def test_training_loop_memory_does_not_grow_and_makes_no_cycles():
    params, X, y = _mlp()
    first = [_mlp_step(params, X, y) for _ in range(50)][0]
    gc.collect()
    was_enabled = gc.isenabled()
    gc.disable()
    tracemalloc.start()
    try:
        # warm up until the interpreter's free lists (tuples, floats) are full: they hold
        # freed blocks that tracemalloc still counts, and fill over the first ~2,000 steps
        for _ in range(3000):
            _mlp_step(params, X, y)
        start, _ = tracemalloc.get_traced_memory()
        for _ in range(1000):
            last = _mlp_step(params, X, y)
        end, _ = tracemalloc.get_traced_memory()
        unreachable = gc.collect()
    finally:
        tracemalloc.stop()
        if was_enabled:
            gc.enable()
    assert end - start < 64 * 1024, f"memory grew by {end - start} bytes over 1000 steps"
    assert unreachable == 0, f"{unreachable} objects were only reclaimable by the cycle collector"
    assert last < first  # it did train


@pytest.mark.parametrize("persistent", [False, True])
def test_non_persistent_sweep_frees_intermediates_as_it_goes(persistent):
    """A non-persistent tape drops each record once swept: an intermediate that only the tape
    holds is gone before the VJPs of earlier records run (a persistent tape keeps it)."""
    alive = []
    probe = tflc.Primitive("probe", lambda v: v * 1.0,
                           (lambda g, ans, v: alive.append(ref() is not None) or g,))
    x = tflc.Variable(np.ones(3))
    with tflc.GradientTape(persistent=persistent) as tape:
        big = probe(x) * 2.0
        ref = weakref.ref(big)
        loss = tflc.sum(big)
        del big
    np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), [2.0, 2.0, 2.0])
    assert alive == [persistent]


def test_forward_tensors_are_freed_without_the_cycle_collector():
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        x = tflc.Variable(np.ones((4, 3)))
        with tflc.GradientTape() as tape:
            h = tflc.tanh(x @ x.T)
            loss = tflc.sum(h * h)
        refs = [weakref.ref(h), weakref.ref(loss)]
        grad = tape.gradient(loss, x)
        del h, loss
        assert all(r() is None for r in refs), "released after a non-persistent gradient"

        with tflc.GradientTape(persistent=True) as tape:
            h = tflc.exp(x) * 2.0
            loss = tflc.sum(h)
        refs = [weakref.ref(h), weakref.ref(loss), weakref.ref(tape)]
        grad = tape.gradient(loss, x)
        del h, loss
        assert all(r() is not None for r in refs[:2]), "a persistent tape keeps its records"
        del tape
        assert all(r() is None for r in refs), "freed with the persistent tape"

        with tflc.GradientTape() as outer:
            with tflc.GradientTape() as inner:
                h = x ** 3
            g = inner.gradient(h, x)
        refs = [weakref.ref(h), weakref.ref(g), weakref.ref(inner), weakref.ref(outer)]
        g2 = outer.gradient(g, x)
        del h, g, inner, outer
        assert all(r() is None for r in refs), "nested tapes leave no cycles"
        np.testing.assert_allclose(g2.numpy(), 6 * np.ones((4, 3)))
        assert grad.shape == x.shape
    finally:
        if was_enabled:
            gc.enable()


# --- anomaly detection ----------------------------------------------------------------------------
def test_detect_anomaly_forward_names_op_and_user_line():
    x = tflc.Variable(np.array([1.0, 0.0]))
    with np.errstate(divide="ignore"), tflc.detect_anomaly():
        with tflc.GradientTape():
            with pytest.raises(FloatingPointError) as info:
                where = _here()
                tflc.log(x)
    assert str(info.value) == f"log produced inf in its forward pass (recorded at {where})"
    assert where.startswith(__file__)


def test_detect_anomaly_forward_nan():
    with np.errstate(invalid="ignore"), tflc.detect_anomaly():
        with pytest.raises(FloatingPointError, match="^log produced NaN in its forward pass"):
            tflc.log(tflc.Tensor(np.array([-1.0])))


def test_detect_anomaly_backward_names_op_and_user_line():
    x = tflc.Variable(np.array([4.0, 0.0]))
    with np.errstate(divide="ignore"), tflc.detect_anomaly():
        with tflc.GradientTape() as tape:
            where = _here()
            y = x ** 0.5
            loss = tflc.sum(y)
        np.testing.assert_array_equal(y.numpy(), [2.0, 0.0])  # the forward pass is finite
        with pytest.raises(FloatingPointError) as info:
            tape.gradient(loss, x)
    assert str(info.value) == f"power produced inf in its backward pass (recorded at {where})"


def test_without_detect_anomaly_inf_passes_silently_and_flag_is_restored():
    x = tflc.Variable(np.array([0.0]))
    with np.errstate(divide="ignore"):
        with pytest.raises(FloatingPointError):
            with tflc.detect_anomaly():
                tflc.log(x)
        with tflc.GradientTape() as tape:
            y = tflc.log(x)
        assert np.isneginf(y.numpy()).all()
        assert np.isinf(tape.gradient(y, x).numpy()).all()


def test_returned_gradients_never_share_memory():
    a, b = tflc.Variable(np.ones(3)), tflc.Variable(np.ones(3))
    with tflc.GradientTape() as tape:
        y = a + b
    da, db = tape.gradient(y, [a, b])
    assert not np.shares_memory(da.numpy(), db.numpy())
    seed = np.full(3, 2.0)
    with tflc.GradientTape() as tape:
        y = a + 0.0
    (da,) = tape.gradient(y, [a], output_gradients=seed)
    np.testing.assert_array_equal(da.numpy(), seed)
    assert not np.shares_memory(da.numpy(), seed)


def test_an_unwatched_constant_feeding_a_recorded_op_is_unconnected():
    W, c = tflc.Variable(np.ones(3)), tflc.Tensor(np.full(3, 2.0))
    with tflc.GradientTape() as tape:
        y = tflc.sum(W * c)
    dW, dc = tape.gradient(y, [W, c])
    np.testing.assert_array_equal(dW.numpy(), c.numpy())
    assert dc is None


def test_power_zero_has_zero_gradient_even_at_zero():
    x = tflc.Variable(np.array([0.0, 1.5]))
    with tflc.GradientTape() as tape:
        y = x ** 0
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [0.0, 0.0])


def test_values_an_op_does_not_save_reach_its_vjps_as_shapes_at_every_size():
    """`saves` is honoured on every tape and at every size: what is not saved comes as an Aval
    (shape and dtype), so a wrong declaration fails in any test, not only on big arrays."""
    seen = []

    def vjp(g, ans, x):
        seen.append((ans, type(x).__name__, x.shape, x.dtype))
        return g * 2.0

    double = tflc.Primitive("double", lambda x: x * 2.0, (vjp,), saves="")
    for persistent in (False, True):
        for size in (1, 3):
            x = tflc.Variable(np.ones(size))
            with tflc.GradientTape(persistent=persistent) as tape:
                y = double(x)
            np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full(size, 2.0))
    assert seen == [(None, "Aval", (size,), np.float64) for size in (1, 3)] * 2  # ans: None
    forgetful = tflc.Primitive("forgetful", lambda x: x * 2.0, (lambda g, ans, x: g * x,),
                               saves="")
    x = tflc.Variable(np.ones(2))
    with tflc.GradientTape() as tape:
        y = forgetful(x)
    with pytest.raises(TypeError, match="does not save .* name it in `saves`"):
        tape.gradient(y, x)  # it reads x, which it does not save: an Aval
    with pytest.raises(ValueError, match="saves names \\['z'\\]"):
        tflc.Primitive("typo", lambda x: x, (lambda g, ans, x: g,), saves="z")


def test_a_primitive_whose_forward_returns_a_python_number_is_recorded_as_an_array():
    total = tflc.Primitive("total", lambda x: float(x.sum()), (lambda g, ans, x: g * (x * 0.0 + 1.0),))
    for size in (3, 10_000):
        x = tflc.Variable(np.linspace(0.0, 1.0, size))
        with tflc.GradientTape() as tape:
            y = total(x) * 2.0
        assert type(y.numpy()) is np.ndarray and y.shape == ()
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), np.full(size, 2.0))


def test_a_one_shot_sweep_frees_what_no_vjp_reads_before_it_starts():
    """`h` feeds `add` (whose VJPs read only shapes) and comes out of `multiply` (whose VJPs do
    not read the output): once the forward pass is over only the tape holds it, and a one-shot
    sweep lets it go before any VJP runs; a persistent tape keeps it. At any size."""
    seen = []
    probe = tflc.Primitive("probe", lambda v: v * 1.0,
                           (lambda g, ans, v: seen.append(h_array() is not None) or g,))
    x = tflc.Variable(np.ones(3))
    for persistent in (False, True):
        with tflc.GradientTape(persistent=persistent) as tape:
            h = x * 2.0
            h_array = weakref.ref(h.numpy())
            loss = tflc.sum(probe(h + 1.0))
            del h
        np.testing.assert_array_equal(tape.gradient(loss, x).numpy(), np.full(x.shape, 2.0))
    assert seen == [False, True]


def test_a_one_shot_sweep_frees_each_saved_value_after_its_last_use():
    """exp saves its output e, which its VJP reads: e lives until then (the probe's VJP runs
    before it), and goes as soon as that VJP has run (before the VJP of the op before exp)."""
    alive = {}
    probe = tflc.Primitive("probe", lambda v: v * 1.0, (
        lambda g, ans, v: alive.setdefault("at probe", e_array() is not None) and g,))
    after = tflc.Primitive("after", lambda v: v * 1.0, (
        lambda g, ans, v: alive.setdefault("after exp", e_array() is not None) or g,))
    x = tflc.Variable(np.ones(3))
    with tflc.GradientTape() as tape:
        e = tflc.exp(after(x))
        e_array = weakref.ref(e.numpy())
        loss = tflc.sum(probe(e))
        del e
    np.testing.assert_allclose(tape.gradient(loss, x).numpy(), np.full(3, np.e))
    assert alive == {"at probe": True, "after exp": False}


BIG = (7, 6)  # any size: a one-shot sweep frees the same way at every size
ONE_SHOT_CASES = {  # each applied to an intermediate (v * 1.5), so the sweep may free it
    "add": lambda v, w: v + w[0], "subtract": lambda v, w: w[:1] - v,
    "multiply": lambda v, w: v * w, "divide": lambda v, w: w / (v * v + 1.0),
    "negative": lambda v, w: -v, "power": lambda v, w: v ** 3,
    "exp": lambda v, w: tflc.exp(v), "log": lambda v, w: tflc.log(v * v + 1.0),
    "tanh": lambda v, w: tflc.tanh(v), "sigmoid": lambda v, w: tflc.sigmoid(v),
    "relu": lambda v, w: tflc.relu(v), "maximum": lambda v, w: tflc.maximum(v, w),
    "where": lambda v, w: tflc.where(v > 0, v, w), "matmul": lambda v, w: v @ w.T,
    "sum": lambda v, w: tflc.sum(v, axis=1, keepdims=True), "mean": lambda v, w: tflc.mean(v, axis=0),
    "max": lambda v, w: tflc.max(v, axis=1), "reshape": lambda v, w: v.reshape(-1),
    "transpose": lambda v, w: v.T, "getitem": lambda v, w: v[np.arange(5), np.arange(5)],
    "broadcast_to": lambda v, w: tflc.broadcast_to(v, (2,) + BIG),
    "cast": lambda v, w: v.astype(np.float32),
}


@pytest.mark.parametrize("name", sorted(ONE_SHOT_CASES))
def test_a_one_shot_sweep_gives_the_persistent_tapes_gradients(name):
    """Every primitive through the release path: what a one-shot sweep frees early (what the op
    does not save) must be exactly what its VJPs do not read."""
    rng = np.random.default_rng(0)
    x = tflc.Variable(rng.standard_normal(BIG))
    w = tflc.Variable(rng.standard_normal(BIG))
    grads = []
    for persistent in (True, False):
        with tflc.GradientTape(persistent=persistent) as tape:
            out = ONE_SHOT_CASES[name](x * 1.5, w * 1.5)
            loss = tflc.sum(out * np.random.default_rng(1).standard_normal(out.shape))
        grads.append([g.numpy() for g in tape.gradient(loss, [x, w], unconnected_gradients="zero")])
    for kept, lean in zip(*grads):
        np.testing.assert_array_equal(lean, kept)


def test_a_one_shot_sweep_leaves_records_an_outer_tape_shares_whole():
    """A record made while two tapes recorded belongs to both: the inner one-shot tape's sweep
    must not trim it, or the outer tape's later sweep (here one that has to work out what
    depends on which source) and drawings would find it taken apart."""
    x = tflc.Variable(np.linspace(0, 1, 5))
    c = tflc.Variable(np.array(3.0))
    with tflc.GradientTape(persistent=True) as outer:
        with tflc.GradientTape() as inner:
            y = tflc.sum(tflc.exp(x * 2.0 + 1.0) * c)
    np.testing.assert_allclose(inner.gradient(y, x).numpy(), 6.0 * np.exp(x.numpy() * 2 + 1))
    assert all(r.inputs is not None and r.output is not None for r in outer.records)
    np.testing.assert_allclose(outer.gradient(y, x).numpy(), 6.0 * np.exp(x.numpy() * 2 + 1))
