"""The traced step, tflc.jit(tflc.value_and_grad(f)): a replayed plan must give what
value_and_grad gives, call after call: exactly, or to rounding where the passes simplified the
adjoint (the softmax cross-entropy's)."""
import collections

import numpy as np
import pytest
from conftest import assert_close_to_rounding

import tensorflowlite_clone as tflc
from models.two_layer_net import TwoLayerNet

rng = np.random.default_rng(0)

CHECKERBOARD = np.indices((4, 4)).sum(axis=0) % 2 == 0
FUNCTIONS = {  # f(x, w, c): x and w differentiated; c, a constant argument, reaches f as NumPy
    "arithmetic": lambda x, w, c: tflc.sum((x * w - c) / (w * w + 1.0) + (-x) ** 2),
    "broadcasting": lambda x, w, c: tflc.sum(x + w[0] * tflc.Tensor(c)[:, :1] - 2.0 * w.T[:1].T[0]),
    "unary": lambda x, w, c: tflc.sum(tflc.exp(x * 0.1) + tflc.tanh(w) + tflc.sigmoid(x - w)
                                      + tflc.log(x * x + 1.0) + tflc.relu(x - c)),
    "matmul": lambda x, w, c: tflc.sum(tflc.maximum(x @ w.T, c @ w.T)),
    "reductions": lambda x, w, c: tflc.mean(tflc.max(x * w, axis=1) + tflc.sum(x, axis=0)[0])
                                  + tflc.sum(x, axis=(0, 1), keepdims=True)[0, 0],
    "shapes": lambda x, w, c: tflc.sum(tflc.reshape(x, (-1,))[::2] * tflc.transpose(w).reshape(-1)[1::2]
                                       + tflc.broadcast_to(w[:1], x.shape).astype(np.float32)[0, 0]),
    "where": lambda x, w, c: tflc.sum(tflc.where(CHECKERBOARD, x, w * c)),
    "stop_gradient": lambda x, w, c: tflc.sum(x - tflc.max(tflc.stop_gradient(x * w), axis=1,
                                                            keepdims=True)),
    "softmax_loss": lambda x, w, c: -tflc.mean(tflc.log(
        tflc.exp(x @ w.T) / tflc.sum(tflc.exp(x @ w.T), axis=1, keepdims=True))[
            np.arange(4), [2, 0, 3, 3]]),
}


def _assert_same(result, expected):
    (value, grads), (expected_value, expected_grads) = result, expected
    np.testing.assert_array_equal(value.numpy(), expected_value.numpy())
    for g, e in zip(grads, expected_grads):
        assert isinstance(g, tflc.Tensor) and g.dtype == e.dtype and g.shape == e.shape
        np.testing.assert_array_equal(g.numpy(), e.numpy())


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_replays_match_value_and_grad_exactly(name):
    f = FUNCTIONS[name]
    traced, eager = tflc.jit(tflc.value_and_grad(f, argnums=(0, 1))), tflc.value_and_grad(f, argnums=(0, 1))
    for _ in range(4):  # the first call records, the second is checked, later ones just replay
        x, w, c = (rng.standard_normal((4, 4)) for _ in range(3))
        _assert_same(traced(x, w, c), eager(x, w, c))


def test_structured_arguments_come_back_in_their_structure():
    def f(params, X, y, reg):
        scores = X @ params["W"] + params["b"]
        return -tflc.mean(scores[np.arange(len(y)), y]) + reg * tflc.sum(params["W"] ** 2)

    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    params = {"W": rng.standard_normal((3, 5)), "b": np.zeros(5)}
    for _ in range(3):
        X, y = rng.standard_normal((6, 3)), rng.integers(0, 5, 6)  # new labels: bound, not frozen
        (value, grads), (expected_value, expected) = traced(params, X, y, 0.1), eager(params, X, y, 0.1)
        assert list(grads) == ["W", "b"]
        np.testing.assert_array_equal(value.numpy(), expected_value.numpy())
        for k in grads:
            np.testing.assert_array_equal(grads[k].numpy(), expected[k].numpy())
        params = {k: v - 0.1 * grads[k].numpy() for k, v in params.items()}


def test_a_new_signature_is_traced_anew():
    calls = []

    def f(x, scale):
        calls.append(x.shape)
        return tflc.sum(x * x) * scale

    traced = tflc.jit(tflc.value_and_grad(f))
    for x, scale in [(np.ones(3), 2.0), (np.ones(3), 2.0), (np.ones(4), 2.0), (np.ones(3), 3.0),
                     (np.ones(3, np.float32), 2.0)]:
        value, g = traced(x, scale)
        np.testing.assert_array_equal(g.numpy(), 2 * scale * x)
        assert g.dtype == x.dtype and value.dtype == x.dtype
    # a new signature runs f once (recorded, then replayed); the first replay once more (checked)
    assert len(calls) == 2 + 1 + 1 + 1 and calls.count((3,)) == 4


def test_a_value_numpy_computes_from_an_argument_is_caught_at_the_first_replay():
    def f(w, k):
        mask = k > 0  # NumPy on a raw integer argument: the trace cannot see it, so it freezes
        return tflc.sum(tflc.where(mask, w, 0.0))

    traced = tflc.jit(tflc.value_and_grad(f))
    traced(np.ones(2), np.array([1, -1]))
    with pytest.raises(RuntimeError, match="frozen into the trace"):
        traced(np.ones(2), np.array([-1, 1]))
    # while the plan agrees, all is well
    value, g = tflc.jit(tflc.value_and_grad(f))(np.ones(2), np.array([-1, 1]))
    np.testing.assert_array_equal(g.numpy(), [0.0, 1.0])


def test_a_floating_point_argument_reaches_f_as_a_tensor_so_its_arithmetic_replays():
    """As JAX's jit hands f tracers, the trace hands f each floating-point array argument as a
    Tensor around it: `x > 0` on it is the engine's comparison, recorded, not a frozen mask."""
    def f(w, x):
        assert isinstance(x, tflc.Tensor)
        return tflc.sum(tflc.where(x > 0, w, 0.0))

    traced = tflc.jit(tflc.value_and_grad(f))
    for x in ([1.0, -1.0], [-1.0, 1.0], [1.0, 1.0], [-1.0, -1.0]):
        value, g = traced(np.ones(2), np.array(x))
        np.testing.assert_array_equal(g.numpy(), np.array(x) > 0)


READS = {  # ways of reading a value out of a tensor that derives from the argument
    "float": lambda s: float(s) > 0,
    "bool": lambda s: bool(tflc.relu(s)),
    "item": lambda s: s.item() > 0,
    "numpy": lambda s: s.numpy() > 0,
    "asarray": lambda s: np.asarray(s) > 0,
    "comparison": lambda s: bool(s > 0),  # (a recorded op; the bool is the read)
    "reversed comparison": lambda s: bool(0 < s),
}


@pytest.mark.parametrize("read", sorted(READS))
def test_reading_a_traced_value_runs_f_eagerly_with_one_warning(read):
    """A branch on a value would replay the first call's branch: f runs eagerly instead."""
    def f(w, x):
        return tflc.sum(w * x) if READS[read](tflc.sum(w)) else tflc.sum(w * w * x)

    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    x = np.array([1.0, 2.0, 3.0])
    with pytest.warns(RuntimeWarning, match="reads the value of a traced tensor") as caught:
        for w in [np.ones(3), 2 * np.ones(3), -np.ones(3), -2 * np.ones(3), np.ones(3)]:
            _assert_same(traced(w, x), eager(w, x))
        _assert_same(traced(np.ones(4), np.ones(4)), eager(np.ones(4), np.ones(4)))  # new signature
    assert len(caught) == 1 and __file__ in str(caught[0].message)  # once, naming the line
    assert set(traced.plans.values()) == {None}


def test_reading_a_constant_does_not_stop_the_trace():
    scale = tflc.Tensor(2.0)

    def f(w):
        return tflc.sum(w * float(scale)) if scale.numpy() > 0 else tflc.sum(w)

    traced = tflc.jit(tflc.value_and_grad(f))
    for _ in range(3):
        value, g = traced(np.ones(3))
        np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, 2.0])
    assert all(plan is not None for plan in traced.plans.values())


def test_integer_data_is_converted_on_every_call_not_frozen():
    traced = tflc.jit(tflc.value_and_grad(lambda w, x: tflc.sum(w * x) + tflc.sum(tflc.Tensor(x) * w)))
    w = np.ones(3)
    for x in ([1, 2, 3], [1, 2, 3], [5, 5, 5], [0, 7, 1]):
        value, g = traced(w, np.array(x))
        assert value.numpy() == 2 * sum(x)
        np.testing.assert_array_equal(g.numpy(), 2 * np.array(x, float))
    assert all(plan is not None for plan in traced.plans.values())


def test_an_index_list_built_from_an_argument_is_not_frozen():
    traced = tflc.jit(tflc.value_and_grad(lambda w, i: tflc.sum(w[[i, i]])))
    w = np.arange(10.0) ** 2
    with pytest.warns(RuntimeWarning, match="index"):
        for i in (0, 0, 2, 3):
            value, g = traced(w, np.array(i))
            assert value.numpy() == 2 * i ** 2


def test_an_error_in_a_replay_names_the_op_as_the_eager_engine_does():
    traced = tflc.jit(tflc.value_and_grad(lambda w, y: tflc.sum(w[np.arange(2), y])))
    w = np.ones((2, 3))
    for _ in range(2):
        traced(w, np.array([0, 2]))
    with pytest.raises(IndexError) as eager_error:
        tflc.value_and_grad(lambda w, y: tflc.sum(w[np.arange(2), y]))(w, np.array([0, 3]))
    with pytest.raises(IndexError) as replay_error:
        traced(w, np.array([0, 3]))
    assert str(replay_error.value) == str(eager_error.value)
    assert str(replay_error.value).startswith("getitem: index 3 is out of bounds")


def test_namedtuple_arguments_come_back_as_the_same_namedtuple():
    Params = collections.namedtuple("Params", "a b")
    f = lambda p: tflc.sum(p.a * p.b)  # noqa: E731
    for differentiate in (tflc.value_and_grad(f), tflc.jit(tflc.value_and_grad(f))):
        for _ in range(3):
            value, g = differentiate(Params(np.ones(2), np.full(2, 3.0)))
            assert type(g) is Params
            np.testing.assert_array_equal(g.a.numpy(), [3.0, 3.0])
            np.testing.assert_array_equal(g.b.numpy(), [1.0, 1.0])


def test_misuse_gets_clear_errors():
    for argnums in ("0", 1.0, (), (0, "1")):
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            tflc.jit(tflc.value_and_grad(lambda x: x, argnums=argnums))
        with pytest.raises(TypeError, match="argnums must be an int or a tuple of ints"):
            tflc.value_and_grad(lambda x: x, argnums=argnums)
    traced = tflc.jit(tflc.value_and_grad(lambda x, y: tflc.sum(x * y)))
    with pytest.raises(TypeError, match="positionally"):
        traced(np.ones(2), y=np.ones(2))
    with pytest.raises(TypeError, match="argument of type object"):
        traced(np.ones(2), object())
    with pytest.raises(TypeError, match="argnums 0 but only 0"):
        traced()
    x = np.ones(2)
    with pytest.raises(ValueError, match="same array is passed twice"):
        traced(x, x)


def test_integer_arguments_are_differentiated_as_the_floats_they_name():
    """value_and_grad casts an integer argument to float64 with the engine's cast, an op, so a
    compiled step replays it on the next call's integers (grad(f)(3) is the derivative at 3.0)."""
    traced = tflc.jit(tflc.value_and_grad(lambda x, y: tflc.sum(x * x * y)))
    for k in range(4):
        x = np.arange(2) + k
        value, g = traced(x, np.ones(2))
        assert g.dtype == np.float64
        np.testing.assert_array_equal(g.numpy(), 2.0 * x)
    assert [plan for plan in traced.plans.values() if plan is not None]
    value, g = traced(2.0, np.ones(2))  # a number: part of the signature
    np.testing.assert_array_equal(g.numpy(), 8.0)


def test_a_signature_that_keeps_changing_does_not_pile_up_plans():
    traced = tflc.jit(tflc.value_and_grad(lambda x, scale: tflc.sum(x * scale)))
    for k in range(3 * tflc.tracing.MAX_PLANS):
        value, g = traced(np.ones(2), float(k))  # a new value: a new signature, every time
        np.testing.assert_array_equal(g.numpy(), [k, k])
    assert len(traced.plans) == tflc.tracing.MAX_PLANS


def test_under_detect_anomaly_f_runs_eagerly_and_is_checked():
    traced = tflc.jit(tflc.value_and_grad(lambda x: tflc.sum(tflc.log(x))))
    for _ in range(2):
        traced(np.ones(2))
    with tflc.detect_anomaly(), np.errstate(invalid="ignore"), \
            pytest.raises(FloatingPointError, match="log"):
        traced(np.array([1.0, -1.0]))


def test_a_constant_value_has_zero_gradients():
    value, g = tflc.jit(tflc.value_and_grad(lambda x: tflc.Tensor(np.ones(()))))(np.ones(3))
    np.testing.assert_array_equal(g.numpy(), np.zeros(3))


def test_inside_a_recording_tape_f_runs_eagerly_so_higher_orders_work():
    traced = tflc.jit(tflc.value_and_grad(lambda x: tflc.sum(x ** 3)))
    x = tflc.Variable(np.array([1.0, 2.0]))
    for _ in range(3):
        with tflc.GradientTape() as tape:
            _, g = traced(x)
            s = tflc.sum(g)
        np.testing.assert_array_equal(tape.gradient(s, x).numpy(), 6 * x.numpy())  # d(3x^2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_layer_net_traced_method_matches_autodiff(dtype):
    net = TwoLayerNet.from_params({"W1": 0.1 * rng.standard_normal((5, 7)).astype(dtype),
                                   "b1": np.zeros(7, dtype),
                                   "W2": 0.1 * rng.standard_normal((7, 3)).astype(dtype),
                                   "b2": np.zeros(3, dtype)})
    for _ in range(3):
        X, y = rng.standard_normal((8, 5)), rng.integers(0, 3, 8)  # float64 data, as cs231n's
        loss, grads = net.loss(X, y, reg=0.05, method="traced")
        expected_loss, expected = net.loss(X, y, reg=0.05)
        assert loss == expected_loss  # (the forward pass is not rewritten)
        for k in net.PARAMS:
            assert grads[k].dtype == dtype
            assert_close_to_rounding(grads[k], expected[k])
            net.params[k] = net.params[k] - 0.5 * grads[k]


def test_the_plan_reads_as_a_program():
    """The recorded ops come out as straight-line code: the forward pass, then the backward
    pass the sweep recorded (each VJP's own ops), each value deleted after its last use."""
    traced = tflc.jit(tflc.value_and_grad(lambda x, w: tflc.sum(tflc.exp(x @ w))))
    traced(np.ones((2, 3)), np.ones((3, 4)))
    (plan,) = traced.plans.values()
    source = plan.source
    forward, backward = source.split("# sum -> ()")
    assert forward.index("# matmul -> (2, 4)") < forward.index("# exp (in place) -> (2, 4)")
    # sum's VJP broadcasts the seed (a constant: folded), exp's multiplies by exp(x @ w),
    # matmul's multiplies by w^T
    assert "broadcast_to" not in backward
    assert backward.index("# multiply (in place) -> (2, 4)") < backward.index("# transpose -> (4, 3)") \
        < backward.index("# matmul -> (2, 3)")
    assert "del v2" in forward  # x @ w goes once exp has read it (arguments are never deleted)
    assert "del v0" not in source and "del v1" not in source


def test_a_primitive_name_cannot_break_the_generated_code():
    odd = tflc.Primitive("two\nlines", lambda x: x * 2.0, (lambda g, ans, x: g * 2.0,))
    traced = tflc.jit(tflc.value_and_grad(lambda x: tflc.sum(odd(x))))
    for _ in range(3):
        value, g = traced(np.ones(3))
        np.testing.assert_array_equal(g.numpy(), [2.0, 2.0, 2.0])


def test_two_layer_net_traced_method_on_integer_data_follows_the_data():
    net = TwoLayerNet(5, 7, 3, std=0.1)
    y = np.array([0, 1, 2, 0, 1, 2])
    for X in [rng.integers(0, 16, (6, 5)) for _ in range(2)] * 2:  # a warm-up call per batch
        loss, grads = net.loss(X, y, reg=0.1, method="traced")
        expected_loss, expected = net.loss(X, y, reg=0.1)
        assert loss == expected_loss
        for k in net.PARAMS:
            assert_close_to_rounding(grads[k], expected[k])


def test_gradients_meeting_are_summed_in_place_and_nothing_shared_is_written():
    """Where two gradients of W meet (the data term and reg * sum(W * W)) the compiled code adds
    into the array that dies there; it never writes into an argument, a constant or a view."""
    def f(w, x, c):
        return tflc.sum(tflc.reshape(x @ w, (-1,)) * c) + 0.5 * tflc.sum(w * w) + tflc.sum(w.T)

    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    x, c = rng.standard_normal((3, 4)), rng.standard_normal(15)
    x_copy, c_copy = x.copy(), c.copy()
    for _ in range(4):
        w = rng.standard_normal((4, 5))
        _assert_same(traced(w, x, c), eager(w, x, c))
    assert "(in place)" in next(iter(traced.plans.values())).source
    np.testing.assert_array_equal(x, x_copy)
    np.testing.assert_array_equal(c, c_copy)


def test_explain_says_why_each_plan_was_recorded():
    """`traced.explain()`: how many plans, and for each the argument that changed (its shape,
    dtype or value) from the call before, or why f runs eagerly for it."""
    def loss(p, X, reg):
        return tflc.sum((X @ p["W"]) ** 2) + reg * tflc.sum(p["W"])

    traced = tflc.jit(tflc.value_and_grad(loss))
    W = {"W": np.ones((3, 2))}
    traced(W, np.ones((4, 3)), 0.1)
    traced(W, np.ones((4, 3)), 0.1)  # same signature: no new plan
    traced(W, np.ones((5, 3)), 0.1)
    traced(W, np.ones((5, 3)), 0.2)
    traced({"W": np.ones((3, 2), np.float32)}, np.ones((5, 3)), 0.2)
    traced({"W": np.ones((3, 2)), "b": np.ones(2)}, np.ones((5, 3)), 0.2)
    lines = traced.explain().splitlines()
    assert lines[0].startswith("jit of test_explain_says_why_each_plan_was_recorded.<locals>"
                               ".loss: 5 plan(s) for 5 argument signature(s)")
    assert lines[1:] == ["  1. recorded for the first call",
                         "  2. recorded for argument 1: shape (4, 3) -> (5, 3)",
                         "  3. recorded for argument 2: value 0.1 -> 0.2",
                         "  4. recorded for argument 0['W']: dtype float64 -> float32",
                         "  5. recorded for argument 0: a dict of 1 -> a dict of 2"]


def test_explain_names_what_made_f_run_eagerly():
    traced = tflc.jit(tflc.value_and_grad(lambda w: tflc.sum(w * float(tflc.sum(w)))))
    with pytest.warns(RuntimeWarning):
        traced(np.ones(2))
    text = traced.explain()
    assert "0 plan(s) for 1 argument signature(s)" in text
    assert "runs eagerly: f reads the value of a traced tensor (float())" in text


def test_a_result_written_in_place_keeps_its_layout():
    """A result is written into a dying input's array only where that array is laid out as
    NumPy would lay out the result: a sum adds in memory order, so another layout rounds
    otherwise (the conv layer's transposed output times the upstream gradient)."""
    def f(x, c):
        return tflc.sum((tflc.transpose(x * 2.0) + 1.0) * c)

    traced, eager = tflc.jit(tflc.value_and_grad(f), exact=True), tflc.value_and_grad(f)
    for _ in range(3):
        x, c = rng.standard_normal((300, 200)), rng.standard_normal((200, 300))
        _assert_same(traced(x, c), eager(x, c))
