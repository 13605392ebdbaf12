"""The trace's passes on a recorded program (tensorflowlite_clone/passes.py), each on its own:
the rewritten lines compute what the unrewritten ones compute on new random inputs (bit for
bit, same dtype, where the math is the same; to 1e-12 of the largest entry in float64 where a
rewrite may round differently), and each pass does what it says and no more."""
import numpy as np
import pytest
from conftest import assert_close_to_rounding
from hypothesis import given, settings
from hypothesis import strategies as st

import tensorflowlite_clone as tflc
from tensorflowlite_clone import passes
from tensorflowlite_clone.program import needed_for
from tensorflowlite_clone.tracing import _TracingTape

rng = np.random.default_rng(0)


def record(f, arrays, adjoints=None):
    """(program, argument slots, result slots) of f's forward and backward pass on `arrays`,
    as the trace records them (every op; the gradients of every argument). Given a list as
    `adjoints`, the sweep's notes of which slot is the gradient of which are appended to it."""
    args = [tflc.Tensor(a.copy()) for a in arrays]
    with _TracingTape(args) as tape:
        loss = f(*args)
        grads = tape.gradient(loss, args, unconnected_gradients="zero")
    if adjoints is not None:
        adjoints.extend(tape.adjoints)
    slot_of = tape.program.slot_of
    return (tape.program, [slot_of[id(a)] for a in args],
            [slot_of.get(id(x)) for x in [loss, *grads]])


def run(lines, results, arguments, values):
    """Interpret `lines` (passes.Line) on new argument `values`: the results' arrays (a result
    that is an array is a folded constant)."""
    env = dict(zip(arguments, values))
    for line in lines:
        ins = [env[s] if s is not None else x for s, x in zip(line.inputs, line.given)]
        out = line.op.forward(*ins, *line.params)
        env[line.output] = out if type(out) is np.ndarray else np.asarray(out)
    return [env[s] if type(s) is int else s for s in results]


def unrewritten(program, results, arguments):
    lines = passes.lines_of(program, arguments)
    return [lines[k] for k in needed_for(lines, [s for s in results if s is not None])]


def x_times_x(w, x):  # sum(w * w): its VJP computes g * w twice
    return tflc.sum((x @ w) ** 2) + 0.5 * tflc.sum(w * w)


def softmax_loss(w, x):
    scores = x @ w
    shifted = scores - tflc.max(tflc.stop_gradient(scores), axis=1, keepdims=True)
    log_probs = shifted - tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
    return -tflc.mean(log_probs[np.arange(4), np.array([0, 2, 1, 2])]) + 1e-3 * 2 * tflc.sum(w * w)


def repeated(w, x):  # the same tanh twice, and constants combined before they meet w
    a, b = tflc.tanh(x @ w), tflc.tanh(x @ w)
    return tflc.sum(a * b) + (2.0 * 3.0 + tflc.sum(np.ones(3) * 0.5)) * tflc.sum(w)


FUNCTIONS = [x_times_x, softmax_loss, repeated]


@pytest.mark.parametrize("f", FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize("which", ["fold", "cse", "all"])
def test_a_pass_computes_what_the_unrewritten_program_computes(f, which):
    w, x = rng.standard_normal((3, 3)), rng.standard_normal((4, 3))
    program, arguments, results = record(f, [w, x])
    lines = passes.lines_of(program, arguments)
    if which == "fold":
        lines, constants = passes.fold_constants(lines)
        rewritten = [constants.get(s, s) for s in results]
    elif which == "cse":
        lines, renamed = passes.eliminate_common_subexpressions(lines)
        rewritten = [renamed.get(s, s) for s in results]
    else:
        lines, rewritten, same_bits = passes.optimize(program, results, arguments, exact=True)
        assert same_bits
    before = unrewritten(program, results, arguments)
    assert len(lines) < len(before if which == "all" else passes.lines_of(program, arguments))
    for _ in range(5):  # new values: what was computed from the arguments is computed afresh
        values = [rng.standard_normal((3, 3)), rng.standard_normal((4, 3))]
        for got, expected in zip(run(lines, rewritten, arguments, values),
                                 run(before, results, arguments, values)):
            assert got.dtype == expected.dtype and got.shape == expected.shape
            np.testing.assert_array_equal(got, expected)


def test_common_subexpressions_the_vjp_of_x_times_x():
    """d/dw sum(w * w) is g * w + g * w: the two products are one after the pass."""
    program, arguments, results = record(lambda w: tflc.sum(w * w), [rng.standard_normal(5)])
    lines = passes.lines_of(program, arguments)
    kept, renamed = passes.eliminate_common_subexpressions(lines)
    products = [line for line in kept if line.op is tflc.multiply]
    assert len(products) == len([line for line in lines if line.op is tflc.multiply]) - 1
    assert len(renamed) == 1
    (add,) = [line for line in kept if line.op is tflc.add]
    assert add.inputs[0] == add.inputs[1]  # g * w + g * w, read from one slot


def line(op, inputs, output, params=(), given=None):
    given = given if given is not None else (None,) * len(inputs)
    return passes.Line(op, tuple(inputs), output, tuple(params), tuple(given), False)


def test_common_subexpressions_need_the_same_parameters_and_constants():
    c1, c2 = np.ones(3), np.ones(3)  # equal values, different arrays: not known to stay equal
    lines = [line(tflc.sum, [0], 1, (0, False)), line(tflc.sum, [0], 2, (1, False)),
             line(tflc.sum, [0], 3, (0, False)),
             line(tflc.multiply, [0, None], 4, given=(None, c1)),
             line(tflc.multiply, [0, None], 5, given=(None, c2)),
             line(tflc.multiply, [0, None], 6, given=(None, 1)),
             line(tflc.multiply, [0, None], 7, given=(None, 1.0)),
             line(tflc.multiply, [0, None], 8, given=(None, c1))]
    kept, renamed = passes.eliminate_common_subexpressions(lines)
    assert renamed == {3: 1, 8: 4}  # sum over axis 0 twice; the same array c1 twice
    assert [k.output for k in kept] == [1, 2, 4, 5, 6, 7]


def test_zero_and_minus_zero_are_not_the_same_constant():
    lines = [line(tflc.multiply, [0, None], 1, given=(None, 0.0)),
             line(tflc.multiply, [0, None], 2, given=(None, -0.0)),
             line(tflc.multiply, [0, None], 3, given=(None, 0.0))]
    kept, renamed = passes.eliminate_common_subexpressions(lines)
    assert renamed == {3: 1} and [k.output for k in kept] == [1, 2]


def test_unhashable_parameters_are_never_merged():
    lines = [line(tflc.sum, [0], 1, ([0],)), line(tflc.sum, [0], 2, ([0],))]
    kept, renamed = passes.eliminate_common_subexpressions(lines)
    assert renamed == {} and len(kept) == 2


def test_folding_computes_lines_of_constants_once():
    program, arguments, results = record(repeated, [rng.standard_normal((3, 3)),
                                                    rng.standard_normal((4, 3))])
    lines = passes.lines_of(program, arguments)
    kept, constants = passes.fold_constants(lines)
    assert constants and all(type(v) is np.ndarray for v in constants.values())
    assert all(any(s is not None for s in k.inputs) or k.reads_arguments for k in kept)
    # the constant factor 2 * 3 + sum(ones(3) * 0.5) = 7.5 is a value now, not three lines
    assert any(v.shape == () and v == 7.5 for v in constants.values())


def test_folding_keeps_a_line_whose_parameters_are_arguments():
    """An index built of argument arrays (labels) changes every call: never folded."""
    def f(w, labels):
        picked = tflc.Tensor(np.eye(3))[np.arange(2), labels]  # constants, labels an argument
        return tflc.sum(w[np.arange(2), labels]) + tflc.sum(picked)

    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    w = rng.standard_normal((2, 3))
    for labels in [np.array([0, 1]), np.array([2, 2]), np.array([1, 0])]:
        (value, grad), (expected_value, expected_grad) = traced(w, labels), eager(w, labels)
        assert float(value) == float(expected_value)
        np.testing.assert_array_equal(grad.numpy(), expected_grad.numpy())


def test_a_gradient_that_is_a_constant_is_a_fresh_array_each_call():
    traced = tflc.jit(tflc.value_and_grad(lambda w: 3.0 * tflc.sum(w)))
    w = np.ones(4)
    grads = [traced(w)[1].numpy() for _ in range(4)]  # record, first replay (checked), more
    np.testing.assert_array_equal(grads[-1], [3.0] * 4)
    grads[-1][:] = 0  # the caller's to change
    np.testing.assert_array_equal(traced(w)[1].numpy(), [3.0] * 4)
    (plan,) = traced.plans.values()
    assert "broadcast_to" not in plan.source  # the seed times 3, broadcast: all folded


def test_the_two_layer_step_loses_its_repeated_and_constant_lines():
    """The seed's step: reg * sum(W * W)'s VJP multiplies by W once per layer, not twice, and
    the scalar seed arithmetic (d loss / d loss times reg, -1/N) is folded."""
    from models.two_layer_net import TwoLayerNet, _traced_loss
    net = TwoLayerNet(6, 5, 3, std=0.3)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    for _ in range(3):
        net.loss(X, y, reg=0.1, method="traced")
    plan = next(plan for signature, plan in _traced_loss.plans.items() if plan is not None
                and "(8, 6)" in str(signature))
    backward = plan.source.split("# add -> ()")[-1]
    assert backward.count("# multiply -> (6, 5)") == 1 and backward.count("# multiply -> (5, 3)") == 1
    assert "broadcast_to -> (6, 5)" not in backward


# --- algebraic simplification ---------------------------------------------------------------------
def ops_of(lines):
    return [line.op for line in lines]


def assert_rewrite_keeps(f, shapes, *, same_bits, dtype=np.float64):
    """Record f's forward and backward pass, simplify it with every pass, and check the result on
    new random inputs against the unrewritten program: bit for bit or to 1e-12 (float64).
    Returns (the rewritten lines, the unrewritten ones)."""
    adjoints = []
    program, arguments, results = record(
        f, [rng.standard_normal(shape).astype(dtype) for shape in shapes], adjoints)
    lines, rewritten, exact = passes.optimize(program, results, arguments, adjoints)
    assert exact is same_bits
    before = unrewritten(program, results, arguments)
    for _ in range(5):
        values = [rng.standard_normal(shape).astype(dtype) for shape in shapes]
        for got, expected in zip(run(lines, rewritten, arguments, values),
                                 run(before, results, arguments, values)):
            assert got.dtype == expected.dtype and got.shape == expected.shape
            if same_bits:
                np.testing.assert_array_equal(got, expected)
            else:
                scale = np.max(np.abs(expected), initial=0.0)
                np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * scale)
    return lines, before


def test_adding_a_negation_is_subtracting():
    lines, before = assert_rewrite_keeps(lambda w, x: tflc.sum((x + -w) * x), [(3, 4), (3, 4)],
                                         same_bits=True)
    assert tflc.subtract in ops_of(lines) and ops_of(lines).count(tflc.negative) < \
        ops_of(before).count(tflc.negative)


def test_an_elementwise_op_broadcasts_for_itself():
    """sum's and mean's VJPs broadcast the gradient; the op that reads it broadcasts anyway."""
    def f(w, x):
        return tflc.sum(tflc.exp(tflc.sum(x * w, axis=1, keepdims=True) * x) * w) \
            + tflc.mean(x * tflc.broadcast_to(w[:1], (3, 4)))
    lines, before = assert_rewrite_keeps(f, [(3, 4), (3, 4)], same_bits=True)
    assert ops_of(lines).count(tflc.broadcast_to) < ops_of(before).count(tflc.broadcast_to)


def test_a_sum_reshaped_to_its_kept_dims_keeps_them():
    """A broadcast add's VJP sums over the stretched axis and reshapes: one sum(keepdims)."""
    lines, before = assert_rewrite_keeps(lambda b, x: tflc.sum(tflc.tanh(x + b)), [(1, 4), (3, 4)],
                                         same_bits=True)
    assert tflc.reshape in ops_of(before) and tflc.reshape not in ops_of(lines)
    assert any(line.op is tflc.sum and line.params[1] is True for line in lines)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_relu_is_maximum_against_zeros(dtype):
    """relu(x) as maximum(x, zeros): a ufunc, which the code writes in place or into a buffer;
    the same bits, its VJP (recorded before) untouched."""
    lines, before = assert_rewrite_keeps(lambda w, x: tflc.sum(tflc.relu(x @ w) * x[:, :3]),
                                         [(4, 3), (5, 4)], same_bits=True, dtype=dtype)
    assert tflc.relu in ops_of(before) and tflc.relu not in ops_of(lines)
    (maximum,) = [line for line in lines if line.op is tflc.maximum]
    zeros = maximum.given[1]
    assert zeros.shape == (5, 3) and zeros.dtype == dtype and not zeros.any()
    assert not zeros.flags.writeable


def test_the_vjp_of_w_times_w_is_one_product():
    """0.5 * sum(w * w): g*w + g*w (one product after common subexpressions) becomes (2g)*w."""
    lines, before = assert_rewrite_keeps(lambda w: 0.5 * tflc.sum(w * w), [(4, 3)], same_bits=False)
    assert tflc.add not in ops_of(lines)
    # w * w and 0.5 * its sum forward, (2 * 0.5) * w backward
    assert ops_of(lines).count(tflc.multiply) == 3 < ops_of(before).count(tflc.multiply)


def seed_cross_entropy(w, x):  # the seed's: softmax probabilities, picked, log, mean
    from models.softmax import cross_entropy, softmax
    return cross_entropy(softmax(x @ w), np.array([0, 2, 1, 2, 0]))


def log_softmax_cross_entropy(w, x):  # cs231n's and tflc.nn's: log_softmax, picked, mean
    return -tflc.mean(tflc.nn.log_softmax(x @ w, axis=1)[np.arange(5), np.array([1, 1, 0, 2, 2])])


@pytest.mark.parametrize("f", [seed_cross_entropy, log_softmax_cross_entropy],
                         ids=lambda f: f.__name__)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_the_softmax_cross_entropy_adjoint_is_the_seed_s(f, dtype):
    """The dozen VJPs from the mean back through log, the pick, the division and exp to the
    scores are one line computing (p - 1_y) / N, as the seed derives it."""
    if dtype == np.float64:
        lines, before = assert_rewrite_keeps(f, [(4, 3), (5, 4)], same_bits=False)
    else:
        adjoints = []
        program, arguments, results = record(
            f, [rng.standard_normal(s).astype(dtype) for s in [(4, 3), (5, 4)]], adjoints)
        lines = passes.optimize(program, results, arguments, adjoints)[0]
        before = unrewritten(program, results, arguments)
    fused = [line for line in lines if line.op in (passes.SOFTMAX_CROSS_ENTROPY,
                                                    passes.LOG_SOFTMAX_CROSS_ENTROPY)]
    assert len(fused) == 1 and len(lines) <= len(before) - 8
    assert tflc.scatter_add not in ops_of(lines)


def test_the_adjoint_is_dn_over_n_with_the_labels_of_the_call():
    """The rewritten program's gradient of the scores is (softmax(S) - 1_y) / N, computed here
    independently, for new scores and new labels (labels are an argument: bound, not frozen)."""
    def f(scores, labels):
        from models.softmax import cross_entropy, softmax
        return cross_entropy(softmax(scores), labels)

    traced = tflc.jit(tflc.value_and_grad(f))
    for _ in range(3):
        S, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
        _, dS = traced(S, y)
        q = np.exp(S - S.max(axis=1, keepdims=True))
        q /= q.sum(axis=1, keepdims=True)
        q[np.arange(6), y] -= 1
        np.testing.assert_allclose(dS.numpy(), q / 6, rtol=1e-13, atol=1e-16)
    assert "cross-entropy adjoint" in next(iter(traced.plans.values())).source


@pytest.mark.parametrize("extra", ["probs", "rows", "scores"])
def test_the_cross_entropy_rewrite_keeps_off_other_uses(extra):
    """Where the sweep also goes back through the probabilities (a second term reads them), or
    the rows picked are not one per row, the adjoint is left as the VJPs wrote it; a second term
    reading the scores themselves adds its gradient to the rewritten one."""
    from models.softmax import softmax

    def f(w, x):
        scores = x @ w
        probs = softmax(scores)
        rows = np.array([0, 0, 1, 2, 3]) if extra == "rows" else np.arange(5)
        loss = -tflc.mean(tflc.log(probs[rows, np.array([0, 2, 1, 2, 0])]))
        return loss + tflc.sum(tflc.tanh({"probs": probs, "rows": probs, "scores": scores}[extra]))

    rewritten = extra == "scores"
    lines, _ = assert_rewrite_keeps(f, [(4, 3), (5, 4)], same_bits=not rewritten)
    assert (passes.SOFTMAX_CROSS_ENTROPY in ops_of(lines)) is rewritten


def test_a_wrong_rewrite_is_caught_on_the_first_replay(monkeypatch):
    """The first replay of a plan with rewrites that may round differently is compared with the
    same plan without them: a rewrite off by more than rounding is dropped, with a warning, and
    the plain plan's numbers (the tape's) come back, then and on every later call."""
    monkeypatch.setattr(passes.SOFTMAX_CROSS_ENTROPY, "forward",
                        lambda p, g, index: passes._softmax_cross_entropy_adjoint(p, g, index) * 1.001)
    traced = tflc.jit(tflc.value_and_grad(seed_cross_entropy))
    eager = tflc.value_and_grad(seed_cross_entropy)
    w = rng.standard_normal((4, 3))
    traced(w, rng.standard_normal((5, 4)))  # recorded
    for k in range(3):
        x = rng.standard_normal((5, 4))
        if k == 0:
            with pytest.warns(RuntimeWarning, match="simplified adjoint"):
                _, grad = traced(w, x)
        else:
            _, grad = traced(w, x)
        np.testing.assert_array_equal(grad.numpy(), eager(w, x)[1].numpy())
    assert "cross-entropy adjoint" not in next(iter(traced.plans.values())).source
    assert "simplification was dropped" in traced.explain()


def test_a_gradient_that_is_zero_but_for_rounding_passes_the_check():
    """A bias before a normalization has a gradient that is zero in exact arithmetic: both plans
    give rounding noise there, not the same noise, at the scale of the other gradients."""
    def f(w, x, b):
        z = x @ w + b
        z = z - tflc.mean(z, axis=0, keepdims=True)  # b's effect cancels exactly
        from models.softmax import cross_entropy, softmax
        return cross_entropy(softmax(z), np.array([0, 2, 1, 2, 0]))

    traced, eager = tflc.jit(tflc.value_and_grad(f, argnums=(0, 2))), \
        tflc.value_and_grad(f, argnums=(0, 2))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(4):
            w, x, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 4)), rng.standard_normal(3)
            (_, (dw, db)), (_, (ew, eb)) = traced(w, x, b), eager(w, x, b)
            assert_close_to_rounding(dw.numpy(), ew.numpy())
            assert np.max(np.abs(db.numpy())) < 1e-15 * np.max(np.abs(ew.numpy())) + 1e-300
    assert "cross-entropy adjoint" in next(iter(traced.plans.values())).source


def test_exact_jit_makes_only_the_rewrites_that_keep_the_bits():
    traced = tflc.jit(tflc.value_and_grad(seed_cross_entropy), exact=True)
    eager = tflc.value_and_grad(seed_cross_entropy)
    for _ in range(3):
        w, x = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
        (value, grad), (expected_value, expected) = traced(w, x), eager(w, x)
        np.testing.assert_array_equal(grad.numpy(), expected.numpy())
    assert "cross-entropy adjoint" not in next(iter(traced.plans.values())).source


def test_constant_factors_are_multiplied_together():
    """reg * sum(w ** 2): power's VJP multiplies by 2w, then the seed times reg: one product."""
    lines, before = assert_rewrite_keeps(lambda w: 0.3 * tflc.sum(w ** 2), [(4, 3)], same_bits=False)
    backward = [line for line in lines if line.op is tflc.multiply and line.inputs.count(None) == 1]
    assert len(backward) == 2  # the forward 0.3 * sum, and (2 * 0.3) * w
    assert len(lines) < len(before)


def test_rewrites_wait_for_finite_numbers_to_be_checked():
    """Where f overflows (a probability underflows to 0: log gives -inf, its gradient NaN) the
    simplified adjoint may stay finite: such a call cannot check the rewrites, so it gets f's
    numbers, no warning, and the check waits for a call with finite results."""
    import warnings
    traced = tflc.jit(tflc.value_and_grad(seed_cross_entropy))
    eager = tflc.value_and_grad(seed_cross_entropy)
    w = rng.standard_normal((4, 3))
    huge = 1e4 * rng.standard_normal((5, 4))
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.filterwarnings("error", message="jit")
        traced(w, huge)  # recorded
        finite = []
        for x in [huge, 1e4 * rng.standard_normal((5, 4)), rng.standard_normal((5, 4))]:
            (value, grad), (expected_value, expected) = traced(w, x), eager(w, x)
            finite.append(bool(np.isfinite(expected.numpy()).all()))
            if finite[-1]:
                assert_close_to_rounding(grad.numpy(), expected.numpy())
            else:
                np.testing.assert_array_equal(grad.numpy(), expected.numpy())
    assert finite == [False, False, True]
    plan = next(iter(traced.plans.values()))
    assert plan.checked and "cross-entropy adjoint" in plan.source


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 12), st.integers(1, 5), st.integers(2, 6), st.sampled_from(["probs", "log"]),
       st.sampled_from([np.float64, np.float32]), st.floats(-2, 1), st.integers(0, 2 ** 31 - 1))
def test_a_compiled_cross_entropy_step_agrees_with_the_tape(N, D, C, form, dtype, log_scale, seed):
    """Over batch sizes, widths, class counts, both forms, both dtypes and logit scales, the
    compiled step (its adjoint rewritten) gives the tape's loss exactly and its gradients to
    rounding, with the rewrite made."""
    from models.softmax import cross_entropy, softmax

    def f(w, x, y):
        scores = x @ w
        if form == "probs":
            loss = cross_entropy(softmax(scores), y)
        else:
            loss = -tflc.mean(tflc.nn.log_softmax(scores, axis=1)[np.arange(len(y)), y])
        return loss + 1e-3 * tflc.sum(w * w)

    gen = np.random.default_rng(seed)
    w = (10.0 ** log_scale * gen.standard_normal((D, C))).astype(dtype)
    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    for _ in range(3):  # recorded, checked, replayed
        x, y = gen.standard_normal((N, D)).astype(dtype), gen.integers(0, C, N)
        (value, grad), (expected_value, expected) = traced(w, x, y), eager(w, x, y)
        assert float(value) == float(expected_value)
        assert_close_to_rounding(grad.numpy(), expected.numpy())
    assert "cross-entropy adjoint" in next(iter(traced.plans.values())).source
