"""Linear algebra: einsum (explicit and implicit, '...', repeated indices, broadcasting),
tensordot, dot, vdot, outer, inner, kron, cross and tflc.linalg (norm, det, inv, solve, trace):
forward against NumPy, gradients against central finite differences (float64), second
derivatives through nested tapes, float32 end to end, and errors that name the op and shapes."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tensorflowlite_clone as tflc
from tensorflowlite_clone.ops import linalg as linalg_ops

SWEEP = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def arrays(seed, *shapes, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def well_conditioned(seed, shape):
    """Square matrices (..., M, M) comfortably far from singular."""
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * 0.3 + 2.0 * np.eye(shape[-1])


# --- einsum ------------------------------------------------------------------------------------
EINSUM_CASES = [
    ("ij,jk->ik", (2, 3), (3, 4)),                        # matmul
    ("ij,jk", (2, 3), (3, 4)),                            # implicit output
    ("bij,bjk->bik", (2, 2, 3), (2, 3, 4)),               # batch matmul
    ("...ij,...jk->...ik", (2, 1, 2, 3), (3, 3, 4)),      # batches broadcasting under '...'
    ("...ij,...jk", (1, 2, 3), (4, 3, 2)),
    ("bhqd,bhkd->bhqk", (1, 2, 3, 4), (1, 2, 5, 4)),      # attention scores
    ("ii->", (3, 3)),                                     # trace
    ("ii", (3, 3)),
    ("ii->i", (3, 3)),                                    # diagonal
    ("...ii->...i", (2, 3, 3)),
    ("iij->ij", (2, 2, 3)),
    ("iii->i", (2, 2, 2)),
    ("aab,bc->ac", (2, 2, 3), (3, 2)),                    # a diagonal, then contracted
    ("i,j->ij", (3,), (4,)),                              # outer
    ("ij->ji", (2, 3)),                                   # transpose
    ("ijk->kji", (2, 3, 4)),
    ("ba", (2, 3)),                                       # implicit: alphabetical, so transposed
    ("ij", (2, 3)),
    ("ij->", (2, 3)),                                     # sum
    ("ij->j", (2, 3)),
    ("i...->...", (3, 2, 2)),
    ("i,i->", (4,), (4,)),                                # inner
    ("i,i", (1,), (4,)),                                  # a size-1 index stretches
    ("ij,ij->ij", (2, 3), (1, 3)),
    ("...,...->...", (2, 3), (3,)),                       # elementwise, broadcasting
    ("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),             # a chain of three
    ("i,i,i->i", (3,), (3,), (3,)),
    ("ij,i->j", (3, 2), (3,)),
    ("Ab,bA->", (2, 3), (3, 2)),                          # capital letters
    (" ij -> ji ", (2, 3)),                               # spaces
    (",->", (), ()),                                      # 0-d operands
    ("i,->i", (3,), ()),
    ("", ()),
]


@pytest.mark.parametrize("case", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_numpy_and_finite_differences(case, check_grads, check_hvp):
    subscripts, *shapes = case
    xs = arrays(0, *shapes)
    out = tflc.einsum(subscripts, *xs)
    assert isinstance(out, tflc.Tensor)
    np.testing.assert_allclose(out.numpy(), np.einsum(subscripts, *xs), rtol=1e-12, atol=1e-12)
    f = lambda *ts: tflc.einsum(subscripts, *ts)  # noqa: E731
    check_grads(f, *xs)
    check_hvp(f, *xs)


@st.composite
def einsum_cases(draw):
    """Random subscripts over a..d (repeats, '...', explicit or implicit output, size-1 axes
    that broadcast) with operands of matching shapes."""
    sizes = {c: draw(st.integers(1, 3)) for c in "abcd"}
    ellipsis = tuple(draw(st.lists(st.integers(1, 2), max_size=2)))
    terms, shapes = [], []
    for _ in range(draw(st.integers(1, 3))):
        term = draw(st.lists(st.sampled_from("abcd"), max_size=3))
        shape = [1 if term.count(c) == 1 and draw(st.integers(0, 4)) == 0 else sizes[c]
                 for c in term]
        if ellipsis and draw(st.booleans()):
            k = draw(st.integers(0, len(ellipsis)))
            mine = [1 if draw(st.integers(0, 3)) == 0 else n for n in ellipsis[len(ellipsis) - k:]]
            at = draw(st.integers(0, len(term)))
            term, shape = term[:at] + ["..."] + term[at:], shape[:at] + mine + shape[at:]
        terms.append("".join(term))
        shapes.append(tuple(shape))
    subscripts = ",".join(terms)
    if draw(st.booleans()):
        letters = draw(st.permutations(sorted(set(subscripts) - {".", ","})))
        output = "".join(letters[:draw(st.integers(0, len(letters)))])
        if "..." in subscripts:
            at = draw(st.integers(0, len(output)))
            output = output[:at] + "..." + output[at:]
        subscripts += "->" + output
    return subscripts, shapes


@SWEEP
@given(case=einsum_cases(), seed=st.integers(0, 2**32 - 1))
def test_einsum_random_subscripts(case, seed, check_grads):
    subscripts, shapes = case
    xs = arrays(seed, *shapes)
    expected = np.einsum(subscripts, *xs)
    np.testing.assert_allclose(tflc.einsum(subscripts, *xs).numpy(), expected,
                               rtol=1e-12, atol=1e-12)
    # random subscripts sum products that can nearly cancel inside the op (a trace of 2.8e-4
    # from entries of 0.5): central differences resolve that only to about eps * sum|terms| / h
    check_grads(lambda *ts: tflc.einsum(subscripts, *ts), *xs, rtol=1e-6)


@SWEEP
@given(case=einsum_cases(), which=st.integers(0, 2), axis=st.integers(0, 4),
       grow=st.integers(1, 2))
def test_einsum_refuses_what_numpy_refuses(case, which, axis, grow):
    """A shape nudged off the subscripts: einsum raises where np.einsum raises, else agrees."""
    subscripts, shapes = case
    shapes = [list(s) for s in shapes]
    target = shapes[which % len(shapes)]
    if target:
        target[axis % len(target)] += grow
    xs = arrays(0, *map(tuple, shapes))
    try:
        expected = np.einsum(subscripts, *xs)
    except ValueError:
        with pytest.raises(ValueError, match=r"^einsum: "):
            tflc.einsum(subscripts, *xs)
    else:
        np.testing.assert_allclose(tflc.einsum(subscripts, *xs).numpy(), expected,
                                   rtol=1e-12, atol=1e-12)


def test_einsum_sublist_form_and_numpy_dispatch():
    a, b = arrays(1, (2, 3), (3, 4))
    np.testing.assert_allclose(tflc.einsum(a, [0, 1], b, [1, 2], [0, 2]).numpy(), a @ b)
    np.testing.assert_allclose(tflc.einsum(a, [Ellipsis, 1]).numpy(), np.einsum(a, [Ellipsis, 1]))
    x = tflc.Tensor(a)
    with tflc.GradientTape() as tape:
        tape.watch(x)
        y = np.einsum("ij,jk->ik", x, b)  # NumPy's function on a Tensor runs the engine's op
    assert isinstance(y, tflc.Tensor)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), np.ones((2, 4)) @ b.T)


def test_einsum_optimize_agrees_and_differentiates(check_grads):
    xs = arrays(2, (2, 3), (3, 4), (4, 2))
    for optimize in (True, "greedy", "optimal"):
        f = lambda *ts, optimize=optimize: tflc.einsum("ij,jk,kl->il", *ts, optimize=optimize)  # noqa: E731
        np.testing.assert_allclose(f(*xs).numpy(), xs[0] @ xs[1] @ xs[2], rtol=1e-12)
        check_grads(f, *xs)


def test_einsum_is_one_primitive_per_operand_count_with_the_subscripts_its_parameter():
    a, b = arrays(3, (2, 3), (3, 4))
    x = tflc.Tensor(a)
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(x)
        tflc.einsum("ij,jk->ik", x, b)
        tflc.einsum("ij->j", x)
    matmul_like, summed = tape.program.equations
    assert matmul_like.op is linalg_ops._einsum_primitive(2) and matmul_like.op.name == "einsum"
    assert matmul_like.params == ("ij,jk->ik", False)
    assert matmul_like.op.label(*matmul_like.params) == "ij,jk->ik"
    # saves: each operand's VJP reads the others; one operand's only its shape; never the output
    assert matmul_like.ans is None and matmul_like.saved[1] is b
    assert summed.ans is None and type(summed.saved[0]).__name__ == "Aval"


def test_einsum_gradients_of_repeated_and_summed_indices_by_hand():
    x = tflc.Tensor(np.arange(9.0).reshape(3, 3))
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(x)
        trace, diagonal, rows = tflc.einsum("ii", x), tflc.einsum("ii->i", x), tflc.einsum("ij->i", x)
    np.testing.assert_array_equal(tape.gradient(trace, x).numpy(), np.eye(3))
    np.testing.assert_array_equal(
        tape.gradient(diagonal, x, output_gradients=np.array([1.0, 2.0, 3.0])).numpy(),
        np.diag([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(tape.gradient(rows, x).numpy(), np.ones((3, 3)))


def test_einsum_in_a_trace_and_with_a_watched_array():
    def loss(w, x):
        return tflc.sum(tflc.einsum("ij,jk->ik", x, w) ** 2) + tflc.einsum("ii", w[:2, :2])
    w, x = arrays(4, (3, 2), (5, 3))
    step = tflc.jit(tflc.value_and_grad(loss))
    value, grad = tflc.value_and_grad(loss)(w, x)
    for _ in range(2):
        v, g = step(w, x)
        np.testing.assert_allclose(g.numpy(), grad.numpy(), rtol=1e-12)
        np.testing.assert_allclose(float(v), float(value), rtol=1e-12)
    with tflc.GradientTape() as tape:
        tape.watch(w)  # a raw array is the source
        y = tflc.einsum("ij,jk->ik", x, w)
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), x.T @ np.ones((5, 2)))


# --- tensordot and the products --------------------------------------------------------------------
TENSORDOT_CASES = [
    ((2, 3, 4), (3, 4, 5), 2),
    ((2, 3), (3, 4), 1),
    ((2, 3), (4, 5), 0),                       # outer product
    ((3,), (3,), 1),
    ((2, 3, 4), (4, 2, 3), ([0, 1], [1, 2])),  # axes out of order
    ((2, 3, 4), (4, 3, 2), ([2, 1], [0, 1])),
    ((2, 3, 4), (2, 3), ((1, 0), (1, 0))),
    ((2, 3), (3, 2), (1, 0)),                  # a pair of ints
    ((2, 3, 4), (4,), ([-1], [-1])),           # negative axes
    ((), (2, 3), 0),
]


@pytest.mark.parametrize("sa, sb, axes", TENSORDOT_CASES)
def test_tensordot(sa, sb, axes, check_grads, check_hvp):
    a, b = arrays(5, sa, sb)
    np.testing.assert_allclose(tflc.tensordot(a, b, axes).numpy(), np.tensordot(a, b, axes),
                               rtol=1e-12)
    f = lambda x, y: tflc.tensordot(x, y, axes)  # noqa: E731
    check_grads(f, a, b)
    check_hvp(f, a, b)


def test_tensordot_default_axes_is_two():
    a, b = arrays(6, (2, 3, 4), (3, 4, 2))
    np.testing.assert_allclose(tflc.tensordot(a, b).numpy(), np.tensordot(a, b), rtol=1e-12)
    np.testing.assert_allclose(tflc.tensordot(a, b, axes=2).numpy(), np.tensordot(a, b), rtol=1e-12)


DOT_SHAPES = [((), (3,)), ((2, 3), ()), ((3,), (3,)), ((2, 3), (3, 4)), ((2, 3), (3,)),
              ((3,), (3, 4)), ((2, 2, 3), (3,)), ((3,), (2, 3, 4)), ((2, 2, 3), (2, 3, 4)),
              ((2, 3), (2, 3, 2))]


@pytest.mark.parametrize("sa, sb", DOT_SHAPES)
def test_dot_follows_numpys_rules(sa, sb, check_grads, check_hvp):
    a, b = arrays(7, sa, sb)
    out = tflc.dot(a, b)
    assert out.shape == np.dot(a, b).shape
    np.testing.assert_allclose(out.numpy(), np.dot(a, b), rtol=1e-12)
    np.testing.assert_allclose(tflc.Tensor(a).dot(b).numpy(), np.dot(a, b), rtol=1e-12)
    check_grads(tflc.dot, a, b)
    check_hvp(tflc.dot, a, b)


@pytest.mark.parametrize("sa, sb", [((), (3,)), ((3,), (3,)), ((2, 3), (3,)), ((2, 3), (4, 3)),
                                    ((2, 2, 3), (4, 3)), ((3,), (2, 2, 3))])
def test_inner(sa, sb, check_grads, check_hvp):
    a, b = arrays(8, sa, sb)
    np.testing.assert_allclose(tflc.inner(a, b).numpy(), np.inner(a, b), rtol=1e-12)
    check_grads(tflc.inner, a, b)
    check_hvp(tflc.inner, a, b)


@pytest.mark.parametrize("sa, sb", [((3,), (3,)), ((2, 3), (3, 2)), ((2, 2, 2), (8,))])
def test_vdot(sa, sb, check_grads, check_hvp):
    a, b = arrays(9, sa, sb)
    out = tflc.vdot(a, b)
    assert out.shape == ()
    np.testing.assert_allclose(out.numpy(), np.vdot(a, b), rtol=1e-12)
    check_grads(tflc.vdot, a, b)
    check_hvp(tflc.vdot, a, b)


@pytest.mark.parametrize("sa, sb", [((3,), (4,)), ((2, 2), (3,)), ((), (2,)), ((2, 1, 2), (2, 3))])
def test_outer(sa, sb, check_grads, check_hvp):
    a, b = arrays(10, sa, sb)
    np.testing.assert_allclose(tflc.outer(a, b).numpy(), np.outer(a, b), rtol=1e-12)
    check_grads(tflc.outer, a, b)
    check_hvp(tflc.outer, a, b)


@pytest.mark.parametrize("sa, sb", [((2,), (3,)), ((2, 2), (2, 3)), ((2, 3), (3,)), ((3,), (2, 2)),
                                    ((), (2, 2)), ((2, 1, 2), (2, 2)), ((1, 2), (3, 1))])
def test_kron(sa, sb, check_grads, check_hvp):
    a, b = arrays(11, sa, sb)
    np.testing.assert_allclose(tflc.kron(a, b).numpy(), np.kron(a, b), rtol=1e-12)
    check_grads(tflc.kron, a, b)
    check_hvp(tflc.kron, a, b)


@pytest.mark.parametrize("sa, sb, kwargs", [
    ((3,), (3,), {}), ((4, 3), (4, 3), {}), ((2, 1, 3), (4, 3), {}), ((3,), (2, 3), {}),
    ((3, 2), (2, 3), {"axisa": 0}), ((3, 2), (3, 2), {"axis": 0}),
    ((2, 3), (2, 3), {"axisc": 0}), ((2, 3, 4), (3,), {"axisa": 1, "axisc": 0})])
def test_cross(sa, sb, kwargs, check_grads, check_hvp):
    a, b = arrays(12, sa, sb)
    np.testing.assert_allclose(tflc.cross(a, b, **kwargs).numpy(), np.cross(a, b, **kwargs),
                               rtol=1e-12, atol=1e-15)
    f = lambda x, y: tflc.cross(x, y, **kwargs)  # noqa: E731
    check_grads(f, a, b)
    check_hvp(f, a, b)


def test_cross_of_the_unit_vectors():
    e = np.eye(3)
    np.testing.assert_array_equal(tflc.cross(e[0], e[1]).numpy(), e[2])
    np.testing.assert_array_equal(tflc.cross(e[1], e[0]).numpy(), -e[2])


# --- tflc.linalg -------------------------------------------------------------------------------------
def test_the_linalg_namespace():
    assert tflc.linalg.__name__ == "tensorflowlite_clone.numpy_linalg"
    x = np.arange(9.0).reshape(3, 3)
    assert tflc.linalg.trace(x).item() == tflc.Tensor(x).trace().item() == np.trace(x)
    for name in ("norm", "det", "inv", "solve", "trace", "matmul", "tensordot", "cross"):
        assert callable(getattr(tflc.linalg, name)), name
    assert tflc.linalg.matmul is tflc.matmul and tflc.linalg.cross is tflc.cross
    for name in ("norm", "det", "inv", "solve"):  # np.linalg's, not top-level names (as NumPy)
        assert not hasattr(tflc, name), name
    assert tflc.trace is tflc.linalg.trace  # np.trace's name, as NumPy has it (the compiler is jit)


NORM_CASES = [((5,), {}), ((2, 3), {}), ((2, 3, 2), {}), ((2, 3), {"axis": 0}),
              ((2, 3), {"axis": -1, "keepdims": True}), ((2, 3, 2), {"axis": (0, 2)}),
              ((2, 3, 2), {"axis": (2, 0), "keepdims": True}), ((2, 3), {"keepdims": True}),
              ((2, 3), {"ord": "fro"}), ((4,), {"ord": 2}), ((2, 3), {"ord": 2, "axis": 1}),
              ((), {})]


@pytest.mark.parametrize("shape, kwargs", NORM_CASES)
def test_norm(shape, kwargs, check_grads, check_hvp):
    (x,) = arrays(13, shape)
    np.testing.assert_allclose(tflc.linalg.norm(x, **kwargs).numpy(),
                               np.linalg.norm(x, **kwargs), rtol=1e-12)
    f = lambda t: tflc.linalg.norm(t, **kwargs)  # noqa: E731
    check_grads(f, x)
    check_hvp(f, x)


def test_norm_gradient_at_zero_is_zero():
    x = tflc.Tensor(np.array([[0.0, 0.0], [3.0, 4.0]]))
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(x)
        rows = tflc.linalg.norm(x, axis=1)
        whole = tflc.linalg.norm(x * 0.0)
    np.testing.assert_array_equal(rows.numpy(), [0.0, 5.0])
    np.testing.assert_allclose(tape.gradient(rows, x).numpy(), [[0.0, 0.0], [0.6, 0.8]])
    np.testing.assert_array_equal(tape.gradient(whole, x).numpy(), np.zeros((2, 2)))


@pytest.mark.parametrize("shape", [(1, 1), (2, 2), (3, 3), (2, 3, 3)])
def test_det_and_inv(shape, check_grads, check_hvp):
    a = well_conditioned(14, shape)
    np.testing.assert_allclose(tflc.linalg.det(a).numpy(), np.linalg.det(a), rtol=1e-12)
    np.testing.assert_allclose(tflc.linalg.inv(a).numpy(), np.linalg.inv(a), rtol=1e-12)
    for f in (tflc.linalg.det, tflc.linalg.inv):
        check_grads(f, a, rtol=1e-6)
        check_hvp(f, a, rtol=1e-6)


def test_det_gradient_is_det_times_inverse_transposed():
    a = well_conditioned(15, (3, 3))
    x = tflc.Tensor(a)
    with tflc.GradientTape() as tape:
        tape.watch(x)
        d = tflc.linalg.det(x)
    np.testing.assert_allclose(tape.gradient(d, x).numpy(), np.linalg.det(a) * np.linalg.inv(a).T,
                               rtol=1e-12)


@pytest.mark.parametrize("sa, sb", [((3, 3), (3,)), ((3, 3), (3, 2)), ((2, 3, 3), (3,)),
                                    ((2, 3, 3), (2, 3, 2)), ((3, 3), (2, 3, 1)),
                                    ((2, 1, 3, 3), (4, 3, 2))])
def test_solve(sa, sb, check_grads, check_hvp):
    a, (b,) = well_conditioned(16, sa), arrays(16, sb)
    np.testing.assert_allclose(tflc.linalg.solve(a, b).numpy(), np.linalg.solve(a, b), rtol=1e-12)
    check_grads(tflc.linalg.solve, a, b, rtol=1e-6)
    check_hvp(tflc.linalg.solve, a, b, rtol=1e-6)


@pytest.mark.parametrize("shape, kwargs", [
    ((3, 3), {}), ((2, 4), {}), ((4, 2), {}), ((3, 3), {"offset": 1}), ((3, 4), {"offset": -1}),
    ((3, 3), {"offset": 5}), ((3, 3), {"offset": -3}), ((2, 3, 4), {}),
    ((2, 3, 4), {"axis1": 1, "axis2": 2}), ((2, 3, 4), {"axis1": -1, "axis2": 0, "offset": 1})])
def test_trace(shape, kwargs, check_grads, check_hvp):
    (x,) = arrays(17, shape)
    np.testing.assert_allclose(tflc.linalg.trace(x, **kwargs).numpy(), np.trace(x, **kwargs),
                               rtol=1e-12)
    f = lambda t: tflc.linalg.trace(t, **kwargs) * 1.0  # noqa: E731
    check_grads(f, x)
    check_hvp(f, x)


def test_trace_dtypes_as_numpy():
    for dtype in (np.int8, np.uint8, np.bool_, np.float32):
        x = np.ones((3, 3), dtype)
        assert tflc.linalg.trace(x).dtype == np.trace(x).dtype, dtype
    x = np.full((3, 3), 100, np.int8)  # int8 would overflow: NumPy sums in int64
    assert tflc.linalg.trace(x).item() == np.trace(x) == 300
    assert tflc.linalg.trace(np.eye(3), dtype=np.float32).dtype == np.float32


# --- float32 stays float32 -------------------------------------------------------------------------
FLOAT32_CASES = [
    ("einsum", lambda a, b: tflc.einsum("ij,jk->ik", a, b), (2, 3), (3, 4)),
    ("einsum trace", lambda a, b: tflc.einsum("ii,jk->k", a, b), (3, 3), (2, 2)),
    ("einsum scalar", lambda a, b: tflc.einsum("ij,->ij", a, 2.0) + b, (2, 3), (2, 3)),
    ("tensordot", lambda a, b: tflc.tensordot(a, b, 1), (2, 3), (3, 2)),
    ("tensordot scalar", lambda a, b: tflc.tensordot(a, 2.0, 0) + b, (2,), (2,)),
    ("dot", tflc.dot, (2, 2, 3), (3, 2)),
    ("dot scalar", lambda a, b: tflc.dot(a, 2.0) + b, (3,), (3,)),
    ("inner", tflc.inner, (2, 3), (3,)),
    ("vdot", tflc.vdot, (2, 3), (3, 2)),
    ("outer", tflc.outer, (2,), (3,)),
    ("kron", tflc.kron, (2, 2), (2, 3)),
    ("cross", tflc.cross, (2, 3), (3,)),
    ("norm", lambda a, b: tflc.linalg.norm(a, axis=0) + b, (2, 3), (3,)),
    ("det", lambda a, b: tflc.linalg.det(a + 3 * np.eye(3, dtype=np.float32)) + b, (3, 3), ()),
    ("inv", lambda a, b: tflc.linalg.inv(a + 3 * np.eye(3, dtype=np.float32)) + b, (3, 3), (3,)),
    ("solve", lambda a, b: tflc.linalg.solve(a + 3 * np.eye(3, dtype=np.float32), b), (3, 3),
     (3,)),
    ("trace", lambda a, b: tflc.linalg.trace(a) + b, (3, 3), ()),
]


@pytest.mark.parametrize("name, f, sa, sb", FLOAT32_CASES, ids=[c[0] for c in FLOAT32_CASES])
def test_float32_stays_float32(name, f, sa, sb):
    a, b = (tflc.Tensor(x) for x in arrays(18, sa, sb, dtype=np.float32))
    with tflc.GradientTape() as tape:
        tape.watch([a, b])
        out = f(a, b)
        loss = tflc.sum(out)
    assert out.dtype == np.float32, out.dtype
    for grad in tape.gradient(loss, [a, b]):
        assert grad.dtype == np.float32


def test_integer_operands_stay_integers_without_gradients():
    a = np.arange(6).reshape(2, 3)
    out = tflc.einsum("ij,kj->ik", a, a)
    assert out.dtype == np.einsum("ij,kj->ik", a, a).dtype
    np.testing.assert_array_equal(out.numpy(), a @ a.T)
    np.testing.assert_array_equal(tflc.dot(a, a.T).numpy(), a @ a.T)
    np.testing.assert_array_equal(tflc.kron(a, a).numpy(), np.kron(a, a))


# --- errors: the op and the shapes --------------------------------------------------------------------
def _x(*shape):
    return tflc.Tensor(np.ones(shape))


ERRORS = [
    (lambda: tflc.einsum("ij,jk->ik", _x(2, 3), _x(4, 5)), ValueError,
     "einsum: index 'j' has size 3 in one operand and 4 in operand 1 (subscripts 'ij,jk->ik', "
     "operand shapes (2, 3), (4, 5))"),
    (lambda: tflc.einsum("ij,jk", _x(2, 3)), ValueError, "einsum: 2 terms for 1 operand"),
    (lambda: tflc.einsum("ij", _x(2, 3, 4)), ValueError,
     "einsum: 'ij' names 2 axes of operand 0, which has 3"),
    (lambda: tflc.einsum("ijk", _x(2, 3)), ValueError,
     "einsum: 'ijk' names 3 axes of operand 0, which has 2"),
    (lambda: tflc.einsum("ii->i", _x(2, 3)), ValueError,
     "einsum: index 'i' is repeated in operand 0 over axes of sizes 2 and 3"),
    (lambda: tflc.einsum("ij->kk", _x(2, 3)), ValueError, "einsum: the output repeats index 'k'"),
    (lambda: tflc.einsum("ij->k", _x(2, 3)), ValueError,
     "einsum: the output's index 'k' is in no operand"),
    (lambda: tflc.einsum("i.j", _x(2, 3)), ValueError,
     "einsum: 'i.j' has a '.' that is not part of one '...'"),
    (lambda: tflc.einsum("i1", _x(2, 3)), ValueError, "einsum: 'i1' has '1': indices are letters"),
    (lambda: tflc.einsum("...i->i", _x(2, 3)), ValueError,
     "einsum: the output has no '...' for the operands' axes under '...'"),
    (lambda: tflc.einsum("...i,...i", _x(2, 3), _x(4, 3)), ValueError,
     "einsum: an axis under '...' has size 2 in one operand and 4 in operand 1"),
    (lambda: tflc.einsum("ij"), ValueError, "einsum: no operands"),
    (lambda: tflc.einsum("ij", _x(2, 3), out=np.ones((2, 3))), TypeError,
     "einsum: out=array"),
    (lambda: tflc.einsum("ij", _x(2, 3), optimize="fast"), TypeError, "einsum: optimize must be"),
    (lambda: tflc.einsum(_x(2, 3), [0, 60]), ValueError, "einsum: sublist labels are ints in 0..51"),
    (lambda: tflc.tensordot(_x(2, 3), _x(4, 5), 1), ValueError,
     "tensordot: cannot contract axes (1,) of (2, 3) with axes (0,) of (4, 5): their sizes differ"),
    (lambda: tflc.tensordot(_x(2, 3), _x(3,), 2), ValueError,
     "tensordot: cannot contract the last 2 axes of (2, 3) with the first 2 of (3,)"),
    (lambda: tflc.tensordot(_x(2, 3), _x(3, 2), ([0, 1], [0])), ValueError,
     "tensordot: 2 axes of a but 1 of b"),
    (lambda: tflc.tensordot(_x(2, 3), _x(3, 2), ([2], [0])), ValueError,
     "tensordot: axis 2 is out of range for a of shape (2, 3)"),
    (lambda: tflc.tensordot(_x(2, 3), _x(3, 2), ([0, 0], [0, 1])), ValueError,
     "tensordot: repeated axis in (0, 0) for a"),
    (lambda: tflc.tensordot(_x(2, 3), _x(3, 2), 1.5), TypeError, "tensordot: axes must be"),
    (lambda: tflc.dot(_x(2, 3), _x(4, 5)), ValueError,
     "dot: shapes (2, 3) and (4, 5) not aligned: 3 (axis 1) != 4 (axis 0)"),
    (lambda: tflc.dot(_x(2, 3), _x(2, 4, 5)), ValueError,
     "dot: shapes (2, 3) and (2, 4, 5) not aligned: 3 (axis 1) != 4 (axis 1)"),
    (lambda: tflc.inner(_x(2, 3), _x(4,)), ValueError,
     "inner: the last axes of (2, 3) and (4,) differ (3 != 4)"),
    (lambda: tflc.vdot(_x(2, 3), _x(5,)), ValueError,
     "vdot: (2, 3) and (5,) have different sizes (6 != 5)"),
    (lambda: tflc.vdot(np.ones(2, complex), np.ones(2)), TypeError, "vdot: complex a"),
    (lambda: tflc.cross(_x(2), _x(2)), ValueError,
     "cross: the vectors must have 3 components along axisa=-1 (shapes (2,) and (2,))"),
    (lambda: tflc.cross(_x(2, 3), _x(4, 3)), ValueError, "cross: cannot broadcast (2, 3) with (4, 3)"),
    (lambda: tflc.linalg.norm(_x(2, 3), ord=1), NotImplementedError, "norm: ord=1 is not supported"),
    (lambda: tflc.linalg.norm(_x(2, 3), axis=(0, 0)), ValueError, "norm: axis (0, 0) must be"),
    (lambda: tflc.linalg.norm(_x(2, 3), axis=2), ValueError,
     "norm: axis (2,) is out of range for shape (2, 3)"),
    (lambda: tflc.linalg.det(_x(2, 3)), ValueError,
     "det: needs square matrices (..., M, M), got shape (2, 3)"),
    (lambda: tflc.linalg.inv(_x(3)), ValueError,
     "inv: needs square matrices (..., M, M), got shape (3,)"),
    (lambda: tflc.linalg.inv(np.ones((2, 2))), np.linalg.LinAlgError, "inv: Singular matrix"),
    (lambda: tflc.linalg.solve(_x(3, 3), _x(2,)), ValueError,
     "solve: cannot solve with a of shape (3, 3) for b of shape (2,)"),
    (lambda: tflc.linalg.solve(_x(2, 3, 3), _x(4, 3, 1)), ValueError,
     "solve: cannot solve with a of shape (2, 3, 3) for b of shape (4, 3, 1)"),
]


@pytest.mark.parametrize("call, kind, message", ERRORS, ids=[e[2].split(":")[0] + str(i)
                                                            for i, e in enumerate(ERRORS)])
def test_errors_name_the_op_and_the_shapes(call, kind, message):
    with pytest.raises(kind, match="^" + re.escape(message)):
        call()


def test_a_bad_call_records_nothing():
    x, y = tflc.Tensor(np.ones((2, 3))), tflc.Tensor(np.ones((2, 2)))
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch([x, y])
        for call in (lambda: tflc.einsum("ij,jk", x, x), lambda: tflc.cross(x, y),
                     lambda: tflc.dot(x, x)):
            with pytest.raises(ValueError):
                call()
    assert tape.program.equations == []


def test_a_watched_array_is_the_source_through_every_composed_op():
    """The composed ops run their first op on the argument itself, so a watched ndarray (not a
    copy wrapped in a new Tensor) is what the tape sees."""
    a = well_conditioned(19, (3, 3))
    ops = {"dot": lambda x: tflc.dot(x, x), "inner": lambda x: tflc.inner(x, x),
           "vdot": lambda x: tflc.vdot(x, x), "outer": lambda x: tflc.outer(x, x),
           "kron": lambda x: tflc.kron(x, x), "cross": lambda x: tflc.cross(x, x[::-1]),
           "tensordot": lambda x: tflc.tensordot(x, x), "trace": tflc.linalg.trace,
           "norm": tflc.linalg.norm, "det": tflc.linalg.det, "solve": lambda x: tflc.linalg.solve(x, x)}
    for name, f in ops.items():
        with tflc.GradientTape() as tape:
            tape.watch(a)
            y = f(a)
        assert tape.gradient(y, a) is not None, name
