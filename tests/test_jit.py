"""tflc.jit: any function of arrays built from the engine's ops, a whole training step included
(a tape or value_and_grad inside, then an update), recorded once per argument signature and
replayed; every replay is checked here against running the function eagerly: bit for bit
with `exact=True` or where no rewrite rounds differently, to rounding otherwise."""
import numpy as np
import pytest
from conftest import assert_close_to_rounding

import tensorflowlite_clone as tflc

rng = np.random.default_rng(0)


def loss_fn(p, X, y):
    scores = tflc.relu(X @ p["W1"] + p["b1"]) @ p["W2"]
    return tflc.nn.cross_entropy(scores, y) + 1e-3 * tflc.sum(p["W1"] * p["W1"])


def params():
    return {"W1": 0.3 * rng.standard_normal((6, 5)), "b1": np.zeros(5),
            "W2": 0.3 * rng.standard_normal((5, 3))}


def batch():
    return rng.standard_normal((8, 6)), rng.integers(0, 3, 8)


def assert_same(a, b, exact=True):
    """The same structure, the same arrays (Tensors compared by value, exactly or to
    rounding)."""
    flat_a, flat_b = tflc.tape._flatten(a), tflc.tape._flatten(b)
    assert len(flat_a) == len(flat_b)
    for x, z in zip(flat_a, flat_b):
        if isinstance(x, tflc.Tensor) or isinstance(z, tflc.Tensor):
            assert isinstance(x, tflc.Tensor) and isinstance(z, tflc.Tensor)
            assert x.dtype == z.dtype
            if exact:
                np.testing.assert_array_equal(x.numpy(), z.numpy())
            else:
                assert_close_to_rounding(x.numpy(), z.numpy())
        else:
            assert x == z


def sgd_step(p, X, y, lr):
    loss, grads = tflc.value_and_grad(loss_fn)(p, X, y)
    return loss, {k: p[k] - lr * grads[k] for k in p}


def momentum_step(p, velocity, X, y):  # a GradientTape inside, state carried in and out
    sources = {k: tflc.Tensor(v) for k, v in p.items()}
    with tflc.GradientTape() as tape:
        tape.watch(list(sources.values()))
        loss = loss_fn(sources, X, y)
    grads = tape.gradient(loss, sources)
    velocity = {k: 0.9 * velocity[k] - 0.1 * grads[k] for k in p}
    return loss, {k: p[k] + velocity[k] for k in p}, velocity


def adam_step(p, m, v, t, X, y):
    loss, g = tflc.value_and_grad(loss_fn)(p, X, y)
    m = {k: 0.9 * m[k] + 0.1 * g[k] for k in p}
    v = {k: 0.999 * v[k] + 0.001 * g[k] * g[k] for k in p}
    new = {k: p[k] - 1e-2 * (m[k] / (1 - 0.9 ** t)) / (tflc.sqrt(v[k] / (1 - 0.999 ** t)) + 1e-8)
           for k in p}
    return loss, new, m, v


def numpy_tree(tree):
    return {k: t.numpy() for k, t in tree.items()}


@pytest.mark.parametrize("exact", [True, False])
def test_a_whole_sgd_step_replays_exactly_or_to_rounding(exact):
    step, p = tflc.jit(sgd_step, exact=exact), params()
    eager_p = {k: v.copy() for k, v in p.items()}
    for _ in range(5):
        X, y = batch()
        loss, new = step(p, X, y, 0.1)
        expected_loss, expected = sgd_step(eager_p, X, y, 0.1)
        assert_same((loss, new), (expected_loss, expected), exact)
        p, eager_p = numpy_tree(new), numpy_tree(expected)
    assert len([plan for plan in step.plans.values() if plan is not None]) == 1
    (plan,) = step.plans.values()
    assert "matmul" in plan.source and "return (" in plan.source
    # the cross-entropy's adjoint in one line, unless the bits must be f's
    assert ("cross-entropy adjoint" in plan.source) is not exact


@pytest.mark.parametrize("exact", [True, False])
def test_a_step_with_a_tape_inside_and_state_carried_through(exact):
    step, p = tflc.jit(momentum_step, exact=exact), params()
    velocity = {k: np.zeros_like(v) for k, v in p.items()}
    eager = ({k: v.copy() for k, v in p.items()}, {k: v.copy() for k, v in velocity.items()})
    for _ in range(4):
        X, y = batch()
        out = step(p, velocity, X, y)
        expected = momentum_step(*eager, X, y)
        assert_same(out, expected, exact)
        p, velocity = numpy_tree(out[1]), numpy_tree(out[2])
        eager = numpy_tree(expected[1]), numpy_tree(expected[2])
    assert next(iter(step.plans.values())) is not None


@pytest.mark.parametrize("exact", [True, False])
def test_adam_with_the_step_count_as_a_value(exact):
    """t is a number: each new value is its own signature (as a static argument in JAX)."""
    step, p = tflc.jit(adam_step, exact=exact), params()
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(w) for k, w in p.items()}
    eager = [dict(p), dict(m), dict(v)]
    for t in range(1, 4):
        X, y = batch()
        for _ in range(2):  # record, then the first replay (checked) on the same t
            out = step(p, m, v, t, X, y)
        expected = adam_step(*eager, t, X, y)
        assert_same(out, expected, exact)
        p, m, v = (numpy_tree(x) for x in out[1:])
        eager = [numpy_tree(x) for x in expected[1:]]
    assert "argument 3: value 1 -> 2" in step.explain()


def test_leaves_that_are_not_tensors_come_back_as_f_returned_them():
    def f(x):
        return {"y": tflc.exp(x), "note": "exp", "count": 3, "none": None}, (tflc.sum(x), 2.5)

    jitted = tflc.jit(f)
    for _ in range(3):
        x = rng.standard_normal(4)
        out = jitted(x)
        assert_same(out, f(x))
        assert out[0]["note"] == "exp" and out[0]["none"] is None and out[1][1] == 2.5


def test_each_call_gets_its_own_arrays():
    jitted = tflc.jit(lambda x: (x * 2.0, tflc.Tensor(np.ones(2)) * 3.0))
    x = np.ones(2)
    for _ in range(3):
        doubled, constant = jitted(x)
    doubled.numpy()[:] = -1
    constant.numpy()[:] = -1  # a result that depends on no argument: a copy each call
    again, constant_again = jitted(x)
    np.testing.assert_array_equal(again.numpy(), [2.0, 2.0])
    np.testing.assert_array_equal(constant_again.numpy(), [3.0, 3.0])


def test_a_function_that_reads_values_runs_eagerly_with_one_warning():
    def f(x):
        return x * float(tflc.max(x))

    jitted = tflc.jit(f)
    with pytest.warns(RuntimeWarning, match=r"jit: f reads the value of a traced tensor"):
        jitted(np.array([1.0, 2.0]))
    for values in ([1.0, 5.0], [3.0, 1.0]):  # right every time, only not compiled
        np.testing.assert_array_equal(jitted(np.array(values)).numpy(), np.array(values) * max(values))
    assert "runs eagerly" in jitted.explain()


def test_jit_takes_its_arguments_positionally():
    with pytest.raises(TypeError, match="jit: pass f's arguments positionally"):
        tflc.jit(lambda x: x * 2.0)(x=np.ones(2))


def test_inside_a_recording_tape_f_runs_on_the_arguments_it_was_given():
    """An outer tape that watches a NumPy array sees f's ops on that very array (a Tensor made
    around it would be another object, and the gradient would be lost)."""
    jitted = tflc.jit(lambda x: tflc.sum(tflc.multiply(x, x)))
    x = np.array([1.0, 2.0])
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y = jitted(x)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [2.0, 4.0])


def test_results_are_the_callers_own_arrays_in_f_s_structure():
    """Each replay hands out fresh, writable arrays, never one array twice, never a read-only
    broadcast view; non-Tensor leaves and the structure (tuple, list, dict, namedtuple) are
    the recording call's."""
    import collections
    Pair = collections.namedtuple("Pair", "left right")

    def f(x, w):
        y = x * w
        return Pair([y, y, "label", 3], {"b": tflc.broadcast_to(w[:1], x.shape),
                                         "s": tflc.sum(y), "t": tflc.stop_gradient(y)})

    jitted = tflc.jit(f)
    for _ in range(4):
        x, w = rng.standard_normal((3, 2)), rng.standard_normal(2)
        out, expected = jitted(x, w), f(tflc.Tensor(x), tflc.Tensor(w))
        assert type(out) is Pair and out.left[2:] == ["label", 3]
        assert_same(out, expected)
        arrays = [t.numpy() for t in tflc.tape._flatten(out) if isinstance(t, tflc.Tensor)]
        for k, a in enumerate(arrays):
            assert a.flags.writeable
            assert not any(np.may_share_memory(a, b) for b in arrays[k + 1:])
        assert out.right["s"].shape == () and type(out.right["s"].numpy()) is np.ndarray


def big_problem():
    """params, X, y large enough for buffers (arrays of 4 KiB and more)."""
    return ({"W1": 0.1 * rng.standard_normal((32, 40)), "b1": np.zeros(40),
             "W2": 0.1 * rng.standard_normal((40, 3))},
            rng.standard_normal((64, 32)), rng.integers(0, 3, 64))


def _buffers(jitted):
    """The arrays the plans of `jitted` keep between calls."""
    return [value for plan in jitted.plans.values() if plan is not None
            for name, value in plan._step.__globals__.items()
            if name.startswith("b") and isinstance(value, np.ndarray)]


def test_a_plan_keeps_buffers_and_hands_out_none_of_them():
    """Intermediates that die inside the step go into arrays the plan keeps (`out=`): a later
    call must not change what an earlier one returned."""
    jitted = tflc.jit(sgd_step)
    p, X, y = big_problem()
    first = jitted(p, X, y, 0.1)
    kept = [t.numpy().copy() for t in tflc.tape._flatten(first) if isinstance(t, tflc.Tensor)]
    plan = next(iter(jitted.plans.values()))
    assert "out=b" in plan.source and _buffers(jitted)
    for _ in range(3):
        q, X2, y2 = big_problem()
        assert_same(jitted(q, X2, y2, 0.1), sgd_step(q, X2, y2, 0.1), exact=False)
    assert plan.checked and plan.kept_bytes == sum(b.nbytes for b in _buffers(jitted))
    arrays = [t.numpy() for t in tflc.tape._flatten(first) if isinstance(t, tflc.Tensor)]
    for a, b in zip(arrays, kept):
        np.testing.assert_array_equal(a, b)
        assert not any(np.may_share_memory(a, buffer) for buffer in _buffers(jitted))


def test_a_buffer_is_not_reused_while_a_view_of_its_value_lives():
    def f(x, w):
        y = x * w  # into a buffer
        z = tflc.reshape(y, (-1,))  # a view of it, alive to the end, after y has died
        a = x + w  # the same layout as y: its buffer would do, were z not reading it
        return tflc.sum(z * tflc.reshape(a * 2.0, (-1,)))

    jitted = tflc.jit(f)
    for _ in range(3):
        x, w = rng.standard_normal((32, 32)), rng.standard_normal((32, 32))
        assert_same(jitted(x, w), f(tflc.Tensor(x), tflc.Tensor(w)))
    assert _buffers(jitted)


def test_threads_calling_one_plan_at_once_get_their_own_numbers():
    import threading
    jitted = tflc.jit(sgd_step)
    p, X, y = big_problem()
    jitted(p, X, y, 0.1)
    jitted(p, X, y, 0.1)  # checked: from now on every call replays
    assert _buffers(jitted)
    cases = [big_problem() for _ in range(8)]
    expected = [sgd_step(q, X, y, 0.1) for q, X, y in cases]
    failures = []

    def worker(offset):
        for k in range(40):
            q, X, y = cases[(k + offset) % len(cases)]
            try:
                assert_same(jitted(q, X, y, 0.1), expected[(k + offset) % len(cases)], exact=False)
            except AssertionError as error:
                failures.append(error)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures
