"""Forward mode and the autograd-style helpers: tflc.ForwardAccumulator (TF's API), tflc.jvp
(JAX's), tflc.jacobian / hessian / hvp (autograd's). Every op's JVP is checked against central
differences in float64 and against reverse mode (<u, J v> = <J^T u, v>)."""
import numpy as np
import pytest
from conftest import numerical_grads, rel_err
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc

H = 1e-6       # central-difference step
RTOL = 1e-7    # as the gradient checks in conftest


def _rand(shape, seed, low=None):
    """Standard normal entries, or uniform in [low, low + 1) (away from a kink or a pole)."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) if low is None else low + rng.random(shape)


def _away_from_zero(shape, seed):
    """Entries of either sign, at least 0.2 from 0 (relu's kink)."""
    rng = np.random.default_rng(seed)
    return rng.choice([-1.0, 1.0], shape) * (0.2 + rng.random(shape))


def _distinct(shape, seed):
    """Entries at least 0.1 apart, so no max has a tie within a finite-difference step."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.1 + 0.01 * rng.random(n)).reshape(shape)


CONDITION = np.random.default_rng(5).random((3, 4)) > 0.5
LABELS = np.array([2, 0, 1, 1])


def _softmax_loss(W, X):
    scores = X @ W
    shifted = scores - tflc.max(tflc.stop_gradient(scores), axis=1, keepdims=True)
    log_probs = shifted - tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
    return -tflc.mean(log_probs[np.arange(4), LABELS])


# name -> (f, its float64 arguments); every op of the engine, with broadcasting and 0-d cases
CASES = {
    "add": (tflc.add, [_rand((3, 4), 1), _rand((4,), 2)]),
    "add 0-d and size-1 axes": (lambda a, b, c: a + b + c,
                                [_rand((), 1), _rand((2, 1, 3), 2), _rand((4, 1), 3)]),
    "add a python scalar": (lambda a: 2.0 + a, [_rand((3,), 1)]),
    "subtract": (tflc.subtract, [_rand((3, 1), 1), _rand((1, 4), 2)]),
    "subtract from a scalar": (lambda a: 1.0 - a, [_rand((2, 2), 1)]),
    "multiply by 0-d": (tflc.multiply, [_rand((2, 3), 1), _rand((), 2)]),
    "multiply size-1 axes": (tflc.multiply, [_rand((1, 3), 1), _rand((2, 1), 2)]),
    "divide": (tflc.divide, [_rand((3, 4), 1), _rand((4,), 2, low=0.5)]),
    "divide size-1 axes": (tflc.divide, [_rand((2, 1), 1), _rand((1, 3), 2, low=0.5)]),
    "divide a scalar": (lambda a: 2.0 / a, [_rand((3,), 1, low=0.5)]),
    "negative": (tflc.negative, [_rand((2, 3), 1)]),
    "power 3": (lambda a: a ** 3, [_rand((2, 3), 1)]),
    "power 0.5": (lambda a: tflc.power(a, 0.5), [_rand((4,), 1, low=0.5)]),
    "power -2": (lambda a: a ** -2, [_rand((4,), 1, low=0.5)]),
    "power 0": (lambda a: a ** 0, [_rand((3,), 1)]),
    "matmul": (tflc.matmul, [_rand((3, 4), 1), _rand((4, 2), 2)]),
    "matmul vector-matrix": (tflc.matmul, [_rand((4,), 1), _rand((4, 2), 2)]),
    "matmul matrix-vector": (tflc.matmul, [_rand((3, 4), 1), _rand((4,), 2)]),
    "matmul vector-vector": (tflc.matmul, [_rand((4,), 1), _rand((4,), 2)]),
    "matmul batched": (tflc.matmul, [_rand((2, 3, 4), 1), _rand((4, 5), 2)]),
    "matmul broadcast batch": (tflc.matmul, [_rand((2, 1, 3, 4), 1), _rand((5, 4, 2), 2)]),
    "exp": (tflc.exp, [_rand((2, 3), 1)]),
    "log": (tflc.log, [_rand((2, 3), 1, low=0.5)]),
    "tanh": (tflc.tanh, [_rand((2, 3), 1)]),
    "sigmoid": (tflc.sigmoid, [_rand((2, 3), 1)]),
    "relu": (tflc.relu, [_away_from_zero((3, 4), 1)]),
    "maximum": (tflc.maximum, [_rand((3, 4), 1), _rand((4,), 1) + _away_from_zero((3, 4), 2)]),
    "maximum with a scalar": (lambda a: tflc.maximum(a, 0.0), [_away_from_zero((5,), 3)]),
    "where": (lambda x, y: tflc.where(CONDITION, x, y), [_rand((3, 1), 1), _rand((4,), 2)]),
    "reshape": (lambda a: tflc.reshape(a, (3, 4)), [_rand((2, 6), 1)]),
    "reshape -1 and method": (lambda a: a.reshape(-1), [_rand((2, 3), 1)]),
    "reshape 0-d": (lambda a: tflc.reshape(a, (1, 1)), [_rand((), 1)]),
    "transpose": (tflc.transpose, [_rand((2, 3), 1)]),
    "transpose axes": (lambda a: tflc.transpose(a, (1, 2, 0)), [_rand((2, 3, 4), 1)]),
    ".T and .mT": (lambda a: a.T * 2.0 + a.mT.mT.T, [_rand((2, 3), 1)]),
    "broadcast_to": (lambda a: tflc.broadcast_to(a, (2, 3, 4)), [_rand((3, 1), 1)]),
    "broadcast_to from 0-d": (lambda a: tflc.broadcast_to(a, (2, 3)), [_rand((), 1)]),
    "getitem slices": (lambda a: a[1:, ::2], [_rand((3, 5), 1)]),
    "getitem an int": (lambda a: a[1], [_rand((3, 2), 1)]),
    "getitem repeated integers": (lambda a: a[[0, 0, 2]], [_rand((3, 2), 1)]),
    "getitem integer arrays": (lambda a: a[np.arange(4), LABELS], [_rand((4, 3), 1)]),
    "getitem None and Ellipsis": (lambda a: a[..., None, 1], [_rand((2, 3), 1)]),
    "getitem a boolean mask": (lambda a: a[CONDITION], [_rand((3, 4), 1)]),
    "cast": (lambda a: tflc.cast(a, np.float64) * a.astype(np.float64), [_rand((3,), 1)]),
    "softmax loss": (_softmax_loss, [_rand((5, 3), 1), _rand((4, 5), 2)]),
    "two-layer net": (lambda W1, b1, W2, X: tflc.sum(tflc.relu(X @ W1 + b1) @ W2),
                      [_rand((3, 6), 1), _rand((6,), 2), _rand((6, 2), 3), _rand((4, 3), 4)]),
}
for _op in ("sum", "mean", "max"):  # every axis / keepdims combination, and a 0-d input
    for _axis in (None, 0, 1, -1, (0, 2)):
        for _keep in (False, True):
            CASES[f"{_op} axis={_axis} keepdims={_keep}"] = (
                lambda a, op=getattr(tflc, _op), axis=_axis, keep=_keep: op(a, axis, keep),
                [_distinct((2, 3, 4), 1)])
    CASES[f"{_op} of 0-d"] = (getattr(tflc, _op), [_rand((), 1)])


def _tangents(arrays, seed=7):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(np.shape(a)) for a in arrays]


def _accumulated(f, arrays, tangents):
    """f(*arrays) and its JVP, by a ForwardAccumulator."""
    xs = [tflc.Tensor(np.array(a)) for a in arrays]
    with tflc.ForwardAccumulator(xs, tangents) as acc:
        out = f(*xs)
    return out, acc.jvp(out)


def _central_difference(f, arrays, tangents, h=H):
    """(f(x + h v) - f(x - h v)) / 2h, in float64."""
    def at(step):
        return np.asarray(f(*[tflc.Tensor(a + step * v) for a, v in zip(arrays, tangents)]))
    return (at(h) - at(-h)) / (2 * h)


@pytest.mark.parametrize("name", CASES)
def test_jvp_matches_central_differences(name):
    f, arrays = CASES[name]
    tangents = _tangents(arrays)
    out, jv = _accumulated(f, arrays, tangents)
    assert isinstance(jv, tflc.Tensor) and jv.shape == out.shape and jv.dtype == np.float64
    numeric = _central_difference(f, arrays, tangents)
    assert rel_err(jv.numpy(), numeric) <= RTOL, (jv.numpy(), numeric)


@pytest.mark.parametrize("name", CASES)
def test_jvp_is_the_transpose_of_the_vjp(name):
    f, arrays = CASES[name]
    rng = np.random.default_rng(11)
    for _ in range(2):  # two random (u, v) pairs
        tangents = [rng.standard_normal(np.shape(a)) for a in arrays]
        xs = [tflc.Tensor(np.array(a)) for a in arrays]
        with tflc.GradientTape() as tape:
            tape.watch(xs)
            out, jv = tflc.jvp(f, xs, tangents)
        u = rng.standard_normal(out.shape)
        vjps = tape.gradient(out, xs, output_gradients=u, unconnected_gradients="zero")
        forward = float(np.sum(u * jv.numpy()))
        reverse = sum(float(np.sum(g.numpy() * v)) for g, v in zip(vjps, tangents))
        assert forward == pytest.approx(reverse, rel=1e-10, abs=1e-12)


SWEEP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SWEEP
@given(shapes=hnp.mutually_broadcastable_shapes(num_shapes=2, max_dims=3, max_side=3),
       op=st.sampled_from(["add", "subtract", "multiply", "divide", "maximum"]),
       seed=st.integers(0, 2 ** 16))
def test_broadcasting_binary_jvps_over_random_shapes(shapes, op, seed):
    a = _rand(shapes.input_shapes[0], seed)
    b = (_rand(shapes.input_shapes[1], seed + 1, low=0.5) if op == "divide" else
         _rand(shapes.input_shapes[1], seed + 1))
    if op == "maximum":  # keep every pair at least 0.2 apart
        a = np.where(np.abs(a - b) < 0.2, b + 0.5, a)
    tangents = _tangents([a, b], seed)
    out, jv = _accumulated(getattr(tflc, op), [a, b], tangents)
    assert jv.shape == out.shape == shapes.result_shape
    numeric = _central_difference(getattr(tflc, op), [a, b], tangents)
    assert rel_err(jv.numpy(), numeric) <= RTOL


# --- ForwardAccumulator's semantics (TensorFlow's) --------------------------------------------
def test_a_primal_itself_has_its_tangent_and_results_follow_the_targets_structure():
    x, y = tflc.Tensor(np.array([1.0, 2.0])), tflc.Variable(np.array(3.0))
    v = np.array([0.5, -1.0])
    with tflc.ForwardAccumulator({"x": x, "y": y}, {"x": v, "y": 2.0}) as acc:
        z = x * y
    v[0] = 100.0  # the tangent was copied, as tf converts it to a tensor
    out = acc.jvp({"z": z, "pair": (x, y)})
    np.testing.assert_array_equal(out["pair"][0].numpy(), [0.5, -1.0])  # as TF: jvp(x) = v
    assert out["pair"][1].numpy() == 2.0
    np.testing.assert_array_equal(out["z"].numpy(), [0.5 * 3 + 1 * 2, -1 * 3 + 2 * 2])


def test_unconnected_targets_get_none_or_zeros_and_ops_after_the_block_are_not_tracked():
    x = tflc.Tensor(np.array([1.0, 2.0]))
    c = tflc.Tensor(np.ones((2, 2)))
    with tflc.ForwardAccumulator(x, np.ones(2)) as acc:
        y = x * 2.0
        k = c * 3.0  # does not depend on the primal
    after = x * 5.0  # as in TF: computed after the block, not tracked
    assert acc.jvp(k) is None and acc.jvp(after) is None
    jy, jk = acc.jvp([y, k])
    assert jk is None and jy.numpy().tolist() == [2.0, 2.0]
    for zero in ("zero", tflc.UnconnectedGradients.ZERO):
        z = acc.jvp([k, y], unconnected_gradients=zero)[0]
        assert z.shape == (2, 2) and z.numpy().sum() == 0
    # as in TF, jvp is fine after the block too
    assert acc.jvp(y).numpy().tolist() == [2.0, 2.0]


def test_jvp_inside_the_block_equals_jvp_after_it_and_is_not_recorded():
    x = tflc.Tensor(np.array([0.3, -0.7]))
    with tflc.ForwardAccumulator(x, np.array([1.0, 2.0])) as acc:
        y = tflc.tanh(x) * x
        inside = acc.jvp(y)  # a function of x, but not tracked by this accumulator (as in TF)
        z = y * 2.0  # still tracked after a jvp call
    assert acc.jvp(inside) is None
    np.testing.assert_array_equal(inside.numpy(), acc.jvp(y).numpy())
    np.testing.assert_array_equal(acc.jvp(z).numpy(), 2 * inside.numpy())
    with acc:  # as in TF, entering again carries on recording
        w = z * 3.0
    np.testing.assert_array_equal(acc.jvp(w).numpy(), 6 * inside.numpy())


def test_stop_gradient_blocks_the_tangent():
    x0 = np.array([0.5, 2.0])
    v = np.array([1.0, -1.0])
    x = tflc.Tensor(x0)
    with tflc.ForwardAccumulator(x, v) as acc:
        s = tflc.stop_gradient(x)
        y = x * s
    assert acc.jvp(s) is None
    np.testing.assert_array_equal(acc.jvp(y).numpy(), x0 * v)  # d(x * const) = const * v


def test_max_with_ties_splits_the_tangent_as_the_gradient_is_split():
    x = tflc.Tensor(np.array([1.0, 3.0, 3.0]))
    with tflc.ForwardAccumulator(x, np.array([10.0, 2.0, 4.0])) as acc:
        m = tflc.max(x)
        mm = tflc.maximum(x, np.array([1.0, 0.0, 5.0]))
    assert acc.jvp(m).numpy() == 3.0  # the tied maxima's tangents averaged
    np.testing.assert_array_equal(acc.jvp(mm).numpy(), [5.0, 2.0, 0.0])  # a tie: half


def test_a_tape_around_the_accumulator_gives_hessian_vector_products():
    f, arrays = CASES["two-layer net"]
    W1, b1, W2, X = [tflc.Tensor(a) for a in arrays]
    v = _tangents([W1])[0]
    with tflc.GradientTape() as tape:
        tape.watch(W1)
        with tflc.ForwardAccumulator(W1, v) as acc:
            loss = tflc.sum(tflc.tanh(X @ W1 + b1) @ W2)
        directional = acc.jvp(loss)  # d loss . v, itself a function of W1
    hv = tape.gradient(directional, W1)
    numeric = _gradient_difference(lambda W: tflc.sum(tflc.tanh(X @ W + b1) @ W2), arrays[0], v)
    assert rel_err(hv.numpy(), numeric) <= 1e-6


def test_a_tape_inside_the_accumulator_gives_hessian_vector_products():
    x0 = np.array([0.4, -1.2, 2.0])
    v = np.array([1.0, 0.5, -2.0])

    def f(x):
        return tflc.sum(tflc.exp(x) * tflc.sigmoid(x[::-1])) + tflc.sum(x) ** 2

    x = tflc.Tensor(x0)
    with tflc.ForwardAccumulator(x, v) as acc:
        with tflc.GradientTape() as tape:
            tape.watch(x)
            y = f(x)
        g = tape.gradient(y, x)
    hv = acc.jvp(g)
    assert rel_err(hv.numpy(), _gradient_difference(f, x0, v)) <= 1e-6
    np.testing.assert_allclose(hv.numpy(), tflc.hvp(f)(x0, v).numpy(), rtol=1e-12)
    np.testing.assert_allclose(hv.numpy(), tflc.hessian(f)(x0).numpy() @ v, rtol=1e-12)


def test_nested_accumulators_give_second_directional_derivatives():
    x0 = np.array([0.4, -1.2, 2.0])
    v, w = np.array([1.0, 0.5, -2.0]), np.array([0.0, 1.0, 3.0])

    def f(x):
        return tflc.sum(tflc.tanh(x) * x ** 3)

    x = tflc.Tensor(x0)
    with tflc.ForwardAccumulator(x, w) as outer:
        with tflc.ForwardAccumulator(x, v) as inner:
            y = f(x)
        dv = inner.jvp(y)  # recorded on the outer accumulator
    second = outer.jvp(dv).numpy()
    np.testing.assert_allclose(second, w @ tflc.hessian(f)(x0).numpy() @ v, rtol=1e-12)


def _gradient_difference(f, x0, v, h=1e-5):
    """Central differences of f's (reverse-mode) gradient along v: H v."""
    def grad_at(step):
        return tflc.grad(f)(x0 + step * v).numpy()
    return (grad_at(h) - grad_at(-h)) / (2 * h)


def test_float32_stays_float32():
    x = tflc.Tensor(np.array([0.5, 1.5], np.float32))
    with tflc.ForwardAccumulator(x, np.array([1.0, 1.0])) as acc:  # float64 tangent converted
        y = tflc.sum(tflc.exp(x) * 2.0 / (1.0 + x))
    assert acc.jvp(y).dtype == np.float32 and acc.jvp(x).dtype == np.float32

    def f(a):
        return tflc.sum(tflc.tanh(a) ** 3)

    out, t = tflc.jvp(f, (x,), (np.ones(2),))
    assert out.dtype == t.dtype == np.float32
    assert tflc.jacobian(tflc.tanh)(x).dtype == np.float32
    assert tflc.hessian(f)(x).dtype == np.float32
    assert tflc.hvp(f)(x, np.ones(2)).dtype == np.float32
    with tflc.ForwardAccumulator(x, np.ones(2, np.float32)) as acc:
        d = tflc.cast(x, np.float64) * 2.0
        back = tflc.cast(d, np.float32)
    assert acc.jvp(d).dtype == np.float64 and acc.jvp(back).dtype == np.float32
    np.testing.assert_array_equal(acc.jvp(d).numpy(), [2.0, 2.0])


def test_integer_primals_carry_no_tangent():
    i = tflc.Tensor(np.arange(3))
    if i.dtype.kind not in "iu":
        pytest.skip("this engine turns integers into floats")
    x = tflc.Tensor(np.ones(3))
    with pytest.warns(RuntimeWarning, match=rf"primals\[1\] holds {i.dtype}, which carries"):
        acc = tflc.ForwardAccumulator([x, i], [np.ones(3), np.ones(3)])
    with acc:
        y = x * i
    jy, ji = acc.jvp([y, i])
    assert ji is None  # as integer tensors carry no gradient
    np.testing.assert_array_equal(jy.numpy(), [0.0, 1.0, 2.0])


def test_bad_input_gets_clear_errors():
    x, y = tflc.Tensor(np.ones(2)), tflc.Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"tangents must have the structure of primals: a list "
                                         r"of 2 vs a list of 1"):
        tflc.ForwardAccumulator([x, y], [np.ones(2)])
    with pytest.raises(ValueError, match=r"tangents\['b'\] must have the structure"):
        tflc.ForwardAccumulator({"a": x, "b": [y]}, {"a": np.ones(2), "b": np.ones((2, 3))})
    with pytest.raises(ValueError, match=r"tangents\[1\] has shape \(3, 2\) but its primal has "
                                         r"shape \(2, 3\)"):
        tflc.ForwardAccumulator([x, y], [np.ones(2), np.ones((3, 2))])
    with pytest.raises(TypeError, match=r"tangents\[0\] is a float32 Tensor but its primal is "
                                        "float64"):
        tflc.ForwardAccumulator([x], [tflc.Tensor(np.ones(2, np.float32))])
    with pytest.raises(TypeError, match="complex128 values"):
        tflc.ForwardAccumulator(x, np.ones(2) * 1j)
    with pytest.raises(TypeError, match="ForwardAccumulator: cannot make a tensor"):
        tflc.ForwardAccumulator(x, ["a", "b"])
    with pytest.raises(TypeError, match=r"primals\[0\] is a ndarray; primals must be Tensors"):
        tflc.ForwardAccumulator([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"primals\[1\] is given twice"):  # as TF refuses it
        tflc.ForwardAccumulator([x, x], [np.ones(2), np.ones(2)])
    acc = tflc.ForwardAccumulator(x, np.ones(2))
    with acc:
        z = x * 2.0
        with pytest.raises(ValueError, match="already recording"):
            acc.__enter__()
    with pytest.raises(TypeError, match="jvp: target 1 is a ndarray, not a Tensor"):
        acc.jvp([z, np.ones(2)])
    with pytest.raises(ValueError, match="'none' or 'zero'"):
        acc.jvp(z, unconnected_gradients="zeros")


# --- tflc.jvp, JAX's signature -----------------------------------------------------------------
def test_the_jvp_function_takes_tuples_of_arguments_and_structures():
    a0, b0 = np.array([1.0, 2.0]), np.array([3.0, -1.0])

    def f(a, params):
        return a * params["b"], tflc.sum(a), 7.0  # a constant output gets a zero tangent

    (p, s, c), (tp, ts, tc) = tflc.jvp(f, (a0, {"b": b0}), [np.ones(2), {"b": np.zeros(2)}])
    np.testing.assert_array_equal(p.numpy(), a0 * b0)
    np.testing.assert_array_equal(tp.numpy(), b0)
    assert ts.numpy() == 2.0 and tc.numpy() == 0.0 and isinstance(c, tflc.Tensor)
    out, t = tflc.jvp(lambda a: a * 0.0 + 1.0, (a0,), (np.ones(2),))
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0])
    _, t = tflc.jvp(lambda a, b: b * 2.0, (a0, b0), (np.ones(2), np.zeros(2)))
    np.testing.assert_array_equal(t.numpy(), [0.0, 0.0])  # connected, zero tangent


def test_the_jvp_function_refuses_bad_arguments():
    with pytest.raises(TypeError, match="jvp: primals must be a tuple or list"):
        tflc.jvp(tflc.exp, np.ones(2), (np.ones(2),))
    with pytest.raises(TypeError, match="jvp: tangents must be a tuple or list"):
        tflc.jvp(tflc.exp, (np.ones(2),), np.ones(2))
    with pytest.raises(ValueError, match="jvp: tangents must have the structure of primals"):
        tflc.jvp(tflc.add, (np.ones(2), np.ones(2)), (np.ones(2),))
    with pytest.raises(ValueError, match=r"jvp: tangents\[0\] has shape \(3,\)"):
        tflc.jvp(tflc.exp, (np.ones(2),), (np.ones(3),))


# --- jacobian / hessian / hvp, autograd's -------------------------------------------------------
def _numerical_jacobian(f, x0, h=H):
    """d f / d x by central differences, shaped out.shape + in.shape."""
    out_shape = np.shape(f(x0))
    rows = [numerical_grads(lambda xs, entry=entry: float(np.asarray(f(xs[0]))[entry]), [x0], h)[0]
            for entry in np.ndindex(out_shape)]
    return np.array(rows).reshape(out_shape + np.shape(x0))


W = _rand((3, 4), 21)


@pytest.mark.parametrize("f, x0", [
    (lambda x: tflc.tanh(W @ x), _rand((4,), 1)),             # (3,) from (4,)
    (lambda x: tflc.sigmoid(x @ W), _rand((2, 3), 2)),        # (2, 4) from (2, 3)
    (lambda x: tflc.sum(tflc.exp(x) * x), _rand((2, 2), 3)),  # () from (2, 2)
    (lambda x: x, _rand((3,), 4)),                            # the identity
], ids=["vector", "matrix", "scalar", "identity"])
def test_jacobian_matches_central_differences_and_forward_mode(f, x0):
    J = tflc.jacobian(f)(x0)
    out = f(tflc.Tensor(x0))
    assert isinstance(J, tflc.Tensor) and J.shape == out.shape + x0.shape  # as autograd's
    assert rel_err(J.numpy(), _numerical_jacobian(f, x0)) <= RTOL
    v = _tangents([x0])[0]
    _, jv = tflc.jvp(f, (x0,), (v,))
    product = np.tensordot(J.numpy(), v, axes=v.ndim)
    np.testing.assert_allclose(jv.numpy(), product, rtol=1e-12, atol=1e-14)


def test_jacobian_of_another_argument_and_of_a_constant():
    x0, b0 = _rand((4,), 1), _rand((3,), 2)

    def f(x, b):
        return W @ x * b

    J = tflc.jacobian(f, argnum=1)(x0, tflc.Tensor(b0))
    np.testing.assert_allclose(J.numpy(), np.diag(W @ x0), rtol=1e-14)
    J = tflc.jacobian(lambda x: tflc.Tensor(np.ones(2)) * 3.0)(x0)
    assert J.shape == (2, 4) and not J.numpy().any()


HESSIAN_CASES = [
    (lambda x: tflc.sum(tflc.tanh(x) * x ** 3), _rand((3,), 1)),
    (lambda x: tflc.mean(tflc.log(tflc.sum(tflc.exp(x @ W), axis=1))), _rand((2, 3), 2)),
    (lambda x: tflc.sum(x) * 2.0, _rand((3,), 3)),  # linear: H = 0
]


@pytest.mark.parametrize("f, x0", HESSIAN_CASES, ids=["vector", "matrix", "linear"])
def test_hessian_and_hvp_match_differences_and_each_other(f, x0):
    Hf = tflc.hessian(f)(x0)
    assert isinstance(Hf, tflc.Tensor) and Hf.shape == x0.shape + x0.shape
    numeric = _numerical_jacobian(lambda x: tflc.grad(f)(x), x0, h=1e-5)
    assert rel_err(Hf.numpy(), numeric, floor=1.0) <= 1e-6
    matrix = Hf.numpy().reshape(x0.size, x0.size)
    np.testing.assert_allclose(matrix, matrix.T, rtol=1e-12, atol=1e-14)
    v = _tangents([x0])[0]
    hv = tflc.hvp(f)(x0, v)
    assert isinstance(hv, tflc.Tensor) and hv.shape == x0.shape
    np.testing.assert_allclose(hv.numpy(), (matrix @ v.ravel()).reshape(x0.shape),
                               rtol=1e-12, atol=1e-14)
    _, forward_over_reverse = tflc.jvp(tflc.grad(f), (x0,), (v,))
    np.testing.assert_allclose(forward_over_reverse.numpy(), hv.numpy(), rtol=1e-12, atol=1e-14)


def test_hessian_and_hvp_of_another_argument_with_tensors():
    x0, y0 = _rand((3,), 1), _rand((3,), 2)

    def f(x, y):
        return tflc.sum(x * y ** 3)

    Hy = tflc.hessian(f, argnum=1)(tflc.Tensor(x0), tflc.Tensor(y0))
    np.testing.assert_allclose(Hy.numpy(), np.diag(6 * x0 * y0), rtol=1e-14)
    v = np.array([1.0, 2.0, 3.0])
    hv = tflc.hvp(f, argnum=1)(x0, y0, tflc.Tensor(v))
    np.testing.assert_allclose(hv.numpy(), 6 * x0 * y0 * v, rtol=1e-14)


def test_the_helpers_refuse_bad_arguments():
    def f(x):
        return tflc.sum(x ** 2)

    with pytest.raises(ValueError, match=r"hessian: f must return a scalar, got shape \(2,\)"):
        tflc.hessian(tflc.exp)(np.ones(2))
    with pytest.raises(ValueError, match=r"hvp: f must return a scalar"):
        tflc.hvp(tflc.exp)(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"hvp: the vector has shape \(1,\) but its primal has "
                                         r"shape \(2,\)"):
        tflc.hvp(f)(np.ones(2), np.ones(1))  # not silently broadcast
    with pytest.raises(TypeError, match="hvp: call it with f's arguments and then the vector"):
        tflc.hvp(f)()
    with pytest.raises(TypeError, match="jacobian: argnum 1 but f got 1 positional arguments"):
        tflc.jacobian(f, argnum=1)(np.ones(2))
    with pytest.raises(TypeError, match="jacobian: argnum must be an int"):
        tflc.jacobian(f, argnum=(0,))(np.ones(2))
    with pytest.raises(TypeError, match="jacobian: f must return one Tensor, got tuple"):
        tflc.jacobian(lambda x: (x, x))(np.ones(2))


def test_jacobian_and_hessian_at_an_integer_point_take_it_as_a_float():
    np.testing.assert_array_equal(tflc.jacobian(lambda x: x * x)(np.arange(3)).numpy(),
                                  np.diag([0.0, 2.0, 4.0]))
    assert tflc.hessian(lambda x: x ** 3)(2).numpy() == 12.0
