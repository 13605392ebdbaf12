"""Shape, indexing and creation ops (ops/shape.py): forward against NumPy and gradient against
central finite differences (float64) over hypothesis-drawn shapes, axes and parameters; second
order through nested tapes; float32 end to end; traces; creation dtypes; errors."""
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc

SWEEP = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def _one(out):
    """A list of tensors (split, meshgrid) as one tensor for the gradient check: its pieces,
    flattened and joined."""
    if isinstance(out, (list, tuple)):
        return tflc.concatenate([tflc.ravel(p) for p in out])
    return out


def _values(out):
    return [np.asarray(p.numpy()) for p in out] if isinstance(out, (list, tuple)) else out.numpy()


def _assert_like_numpy(out, expected):
    if isinstance(expected, (list, tuple)):
        assert isinstance(out, (list, tuple)) and len(out) == len(expected)
        assert type(out) is type(expected), (type(out), type(expected))
        for piece, want in zip(out, expected):
            _assert_like_numpy(piece, want)
        return
    assert isinstance(out, tflc.Tensor), type(out)
    assert out.shape == np.shape(expected), (out.shape, np.shape(expected))
    assert out.dtype == np.asarray(expected).dtype, (out.dtype, np.asarray(expected).dtype)
    np.testing.assert_array_equal(out.numpy(), expected)


# --- the cases: (our function, NumPy's, input shapes) drawn per op ------------------------------
def method(name, *args, **kwargs):
    """The Tensor method `name` (an array argument is made a Tensor first: its own method would be
    NumPy's)."""
    return lambda x: getattr(x if isinstance(x, tflc.Tensor) else tflc.Tensor(x), name)(*args, **kwargs)


def shapes(min_dims=0, max_dims=3, min_side=0, max_side=3):
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side,
                            max_side=max_side)


def axis_of(draw, ndim):
    return draw(st.integers(-ndim, ndim - 1))


def axes_of(draw, ndim, allow_none=True):
    """None, an int or a tuple of distinct axes (negative ones too)."""
    kind = draw(st.sampled_from(["none", "int", "tuple"] if allow_none else ["int", "tuple"]))
    if kind == "none" or ndim == 0:
        return None if allow_none else ()
    if kind == "int":
        return axis_of(draw, ndim)
    picked = draw(st.lists(st.integers(0, ndim - 1), unique=True, max_size=ndim))
    return tuple(a - ndim if draw(st.booleans()) else a for a in picked)


def _case_concatenate(draw):
    base = draw(shapes(1, 3))
    axis = axis_of(draw, len(base))
    sizes = draw(st.lists(st.integers(0, 3), min_size=1, max_size=4))
    ins = [tuple(n if i == axis % len(base) else s for i, s in enumerate(base)) for n in sizes]
    return (lambda *xs: tflc.concatenate(xs, axis)), (lambda *xs: np.concatenate(xs, axis)), ins


def _case_concatenate_none(draw):
    ins = draw(st.lists(shapes(0, 3), min_size=1, max_size=3))
    return (lambda *xs: tflc.concatenate(list(xs), axis=None)), \
        (lambda *xs: np.concatenate(xs, axis=None)), ins


def _case_stack(draw):
    base = draw(shapes(0, 3))
    axis = draw(st.integers(-len(base) - 1, len(base)))
    ins = [base] * draw(st.integers(1, 4))
    return (lambda *xs: tflc.stack(xs, axis)), (lambda *xs: np.stack(xs, axis)), ins


def _case_vstack(draw):
    ndim, tail = draw(st.integers(1, 3)), draw(shapes(0, 1, 1))
    k = draw(st.integers(1, 3))
    if ndim == 1:
        ins = [tail or (2,)] * k
    else:
        ins = [(draw(st.integers(0, 3)),) + (tail or (2,)) + (2,) * (ndim - 2) for _ in range(k)]
        if draw(st.booleans()) and ndim == 2:  # a 1-D row among the 2-D ones
            ins[0] = tail or (2,)
    return (lambda *xs: tflc.vstack(xs)), (lambda *xs: np.vstack(xs)), ins


def _case_hstack(draw):
    ndim, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    if ndim == 1:
        ins = [(draw(st.integers(0, 3)),) for _ in range(k)]
    else:
        ins = [(2, draw(st.integers(0, 3))) + (3,) * (ndim - 2) for _ in range(k)]
    return (lambda *xs: tflc.hstack(list(xs))), (lambda *xs: np.hstack(xs)), ins


def _case_dstack(draw):
    k = draw(st.integers(1, 3))
    if draw(st.booleans()):  # 1-D inputs: (n,) is (1, n, 1)
        ins = [(draw(st.integers(1, 3)),)] * k
    else:  # 2-D (a, b) is (a, b, 1)
        a, b = draw(st.integers(1, 3)), draw(st.integers(1, 3))
        ins = [draw(st.sampled_from([(a, b), (a, b, draw(st.integers(0, 2)))])) for _ in range(k)]
    return (lambda *xs: tflc.dstack(xs)), (lambda *xs: np.dstack(xs)), ins


def _case_column_stack(draw):
    m, k = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    ins = [draw(st.sampled_from([(m,), (m, draw(st.integers(0, 2)))])) for _ in range(k)]
    return (lambda *xs: tflc.column_stack(xs)), (lambda *xs: np.column_stack(xs)), ins


def _case_append(draw):
    if draw(st.booleans()):
        ins = [draw(shapes(0, 3)), draw(shapes(0, 2))]
        return tflc.append, np.append, ins
    base = draw(shapes(1, 3))
    axis = axis_of(draw, len(base))
    other = tuple(draw(st.integers(0, 2)) if i == axis % len(base) else s for i, s in enumerate(base))
    return (lambda x, y: tflc.append(x, y, axis=axis)), (lambda x, y: np.append(x, y, axis=axis)), \
        [base, other]


def _case_split(draw):
    base = draw(shapes(1, 3))
    axis = axis_of(draw, len(base))
    sections = draw(st.integers(1, 3))
    shape = tuple(sections * s if i == axis % len(base) else s for i, s in enumerate(base))
    return (lambda x: tflc.split(x, sections, axis)), (lambda x: np.split(x, sections, axis)), [shape]


def _case_split_indices(draw):
    shape = draw(shapes(1, 3, max_side=5))
    axis = axis_of(draw, len(shape))
    n = shape[axis]
    indices = draw(st.lists(st.integers(-n - 1, n + 1), max_size=3))
    which = draw(st.sampled_from(["split", "array_split"]))
    ours, theirs = getattr(tflc, which), getattr(np, which)
    return (lambda x: ours(x, indices, axis)), (lambda x: theirs(x, indices, axis)), [shape]


def _case_array_split(draw):
    shape = draw(shapes(1, 3, max_side=5))
    axis, sections = axis_of(draw, len(shape)), draw(st.integers(1, 4))
    return (lambda x: tflc.array_split(x, sections, axis=axis)), \
        (lambda x: np.array_split(x, sections, axis=axis)), [shape]


def _case_hvdsplit(draw):
    which = draw(st.sampled_from(["hsplit", "vsplit", "dsplit"]))
    ndim = draw(st.integers({"hsplit": 1, "vsplit": 2, "dsplit": 3}[which], 3))
    sections = draw(st.integers(1, 3))
    axis = {"hsplit": 1 if ndim > 1 else 0, "vsplit": 0, "dsplit": 2}[which]
    shape = tuple(sections * draw(st.integers(0, 2)) if i == axis else draw(st.integers(1, 2))
                  for i in range(ndim))
    ours, theirs = getattr(tflc, which), getattr(np, which)
    return (lambda x: ours(x, sections)), (lambda x: theirs(x, sections)), [shape]


def _case_squeeze(draw):
    shape = tuple(draw(st.lists(st.sampled_from([1, 1, 2, 3]), max_size=4)))
    ones = [i for i, n in enumerate(shape) if n == 1]
    axis = draw(st.one_of(st.none(), st.lists(st.sampled_from(ones), unique=True).map(tuple)
                          if ones else st.none()))
    if axis and len(axis) == 1 and draw(st.booleans()):
        axis = axis[0] - len(shape)
    form = draw(st.sampled_from(["function", "method"]))
    ours = (lambda x: tflc.squeeze(x, axis)) if form == "function" else method("squeeze", axis)
    return ours, (lambda x: np.squeeze(x, axis)), [shape]


def _case_expand_dims(draw):
    shape = draw(shapes(0, 3))
    count = draw(st.integers(1, 2))
    ndim = len(shape) + count
    axis = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=count, max_size=count,
                               unique_by=lambda a: a % ndim)))
    axis = axis[0] if count == 1 else axis
    return (lambda x: tflc.expand_dims(x, axis)), (lambda x: np.expand_dims(x, axis)), [shape]


def _case_flip(draw):
    shape = draw(shapes(0, 3))
    axis = axes_of(draw, len(shape))
    return (lambda x: tflc.flip(x, axis)), (lambda x: np.flip(x, axis)), [shape]


def _case_fliplr_ud(draw):
    which = draw(st.sampled_from(["fliplr", "flipud"]))
    shape = draw(shapes(2 if which == "fliplr" else 1, 3))
    return getattr(tflc, which), getattr(np, which), [shape]


def _case_rot90(draw):
    shape = draw(shapes(2, 3))
    ndim = len(shape)
    a = axis_of(draw, ndim)
    b = draw(st.integers(-ndim, ndim - 1).filter(lambda b: b % ndim != a % ndim))
    k = draw(st.integers(-3, 5))
    return (lambda x: tflc.rot90(x, k, (a, b))), (lambda x: np.rot90(x, k, (a, b))), [shape]


def _case_roll(draw):
    shape = draw(shapes(0, 3))
    ndim = len(shape)
    if ndim == 0 or draw(st.booleans()):
        axis, shift = None, draw(st.integers(-5, 5))
    elif draw(st.booleans()):
        axis, shift = axis_of(draw, ndim), draw(st.integers(-5, 5))
    else:  # several axes, repeats allowed (their shifts add up), one shift or one per axis
        axis = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=3)))
        shift = draw(st.one_of(st.integers(-4, 4), st.lists(st.integers(-4, 4), min_size=len(axis),
                                                            max_size=len(axis)).map(tuple)))
    return (lambda x: tflc.roll(x, shift, axis)), (lambda x: np.roll(x, shift, axis)), [shape]


def _case_repeat(draw):
    shape = draw(shapes(0, 3))
    axis = None if not shape or draw(st.booleans()) else axis_of(draw, len(shape))
    n = int(np.prod(shape)) if axis is None else shape[axis]
    repeats = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    form = draw(st.sampled_from(["function", "method"]))
    ours = (lambda x: tflc.repeat(x, repeats, axis)) if form == "function" else \
        method("repeat", repeats, axis=axis)
    return ours, (lambda x: np.repeat(x, repeats, axis)), [shape]


def _case_tile(draw):
    shape = draw(shapes(0, 3))
    reps = draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), max_size=3).map(tuple)))
    return (lambda x: tflc.tile(x, reps)), (lambda x: np.tile(x, reps)), [shape]


def _case_pad(draw):
    mode = draw(st.sampled_from(["constant", "edge", "reflect", "symmetric", "wrap"]))
    shape = draw(shapes(0, 3, min_side=0 if mode == "constant" else 1))
    width = draw(st.one_of(
        st.integers(0, 3),
        st.tuples(st.integers(0, 3), st.integers(0, 3)),
        st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=max(len(shape), 1),
                 max_size=max(len(shape), 1)).map(tuple)))  # (NumPy refuses an empty pad_width)
    if mode == "constant":
        value = draw(st.sampled_from([0, 1.5, -2]))
        return (lambda x: tflc.pad(x, width, constant_values=value)), \
            (lambda x: np.pad(x, width, constant_values=value)), [shape]
    return (lambda x: tflc.pad(x, width, mode)), (lambda x: np.pad(x, width, mode)), [shape]


def _case_triangle(draw):
    which, k = draw(st.sampled_from(["triu", "tril"])), draw(st.integers(-3, 3))
    shape = draw(shapes(1, 3))
    return (lambda m: getattr(tflc, which)(m, k)), (lambda m: getattr(np, which)(m, k)), [shape]


def _case_diag(draw):
    shape, k = draw(shapes(1, 2)), draw(st.integers(-3, 3))
    return (lambda v: tflc.diag(v, k)), (lambda v: np.diag(v, k)), [shape]


def _diagonal_args(draw):
    shape = draw(shapes(2, 4))
    ndim = len(shape)
    a = axis_of(draw, ndim)
    b = draw(st.integers(-ndim, ndim - 1).filter(lambda b: b % ndim != a % ndim))
    return shape, draw(st.integers(-3, 3)), a, b


def _case_diagonal(draw):
    shape, offset, a, b = _diagonal_args(draw)
    form = draw(st.sampled_from(["function", "method"]))
    ours = (lambda x: tflc.diagonal(x, offset, a, b)) if form == "function" else \
        method("diagonal", offset, a, b)
    return ours, (lambda x: np.diagonal(x, offset, a, b)), [shape]


def _case_trace(draw):
    shape, offset, a, b = _diagonal_args(draw)
    form = draw(st.sampled_from(["method", "function"]))
    ours = method("trace", offset, a, b) if form == "method" else \
        (lambda x: tflc.trace(x, offset, axis1=a, axis2=b))
    return ours, (lambda x: np.asarray(np.trace(x, offset, a, b))), [shape]


def _case_moveaxis(draw):
    shape = draw(shapes(1, 4))
    ndim = len(shape)
    count = draw(st.integers(1, ndim))
    source = draw(st.permutations(range(ndim)))[:count]
    destination = [d - ndim if draw(st.booleans()) else d
                   for d in draw(st.permutations(range(ndim)))[:count]]
    if count == 1 and draw(st.booleans()):
        source, destination = source[0], destination[0]
    return (lambda x: tflc.moveaxis(x, source, destination)), \
        (lambda x: np.moveaxis(x, source, destination)), [shape]


def _case_swapaxes(draw):
    shape = draw(shapes(1, 3))
    a, b = axis_of(draw, len(shape)), axis_of(draw, len(shape))
    form = draw(st.sampled_from(["function", "method"]))
    ours = (lambda x: tflc.swapaxes(x, a, b)) if form == "function" else method("swapaxes", a, b)
    return ours, (lambda x: np.swapaxes(x, a, b)), [shape]


def _case_atleast(draw):
    which = draw(st.sampled_from(["atleast_1d", "atleast_2d", "atleast_3d"]))
    ins = draw(st.lists(shapes(0, 4), min_size=1, max_size=3))
    return getattr(tflc, which), getattr(np, which), ins


def _case_ravel(draw):
    shape, order = draw(shapes(0, 3)), draw(st.sampled_from(["C", "F"]))
    form = draw(st.sampled_from(["function", "ravel", "flatten"]))
    ours = {"function": lambda x: tflc.ravel(x, order), "ravel": method("ravel", order),
            "flatten": method("flatten", order)}[form]
    return ours, (lambda x: np.ravel(x, order)), [shape]


def _case_meshgrid(draw):
    ins = [(n,) for n in draw(st.lists(st.integers(0, 3), min_size=1, max_size=3))]
    indexing, sparse = draw(st.sampled_from(["xy", "ij"])), draw(st.booleans())
    return (lambda *xs: tflc.meshgrid(*xs, indexing=indexing, sparse=sparse)), \
        (lambda *xs: np.meshgrid(*xs, indexing=indexing, sparse=sparse)), ins


def _case_diff(draw):
    shape = draw(shapes(1, 3, max_side=4))
    axis, n = axis_of(draw, len(shape)), draw(st.integers(0, 3))
    kwargs, ins = {}, [shape]
    for key in ("prepend", "append"):
        kind = draw(st.sampled_from(["none", "scalar", "array"]))
        if kind == "scalar":
            kwargs[key] = draw(st.sampled_from([0.5, -1.0]))
        elif kind == "array" and n > 0:  # (n=0 returns the input as it is, ignoring both)
            a = axis % len(shape)
            ins.append(shape[:a] + (draw(st.integers(0, 2)),) + shape[a + 1:])
            kwargs[key] = len(ins) - 1  # the position of the differentiated array it is

    def ours(x, *extra):
        given = {k: extra[v - 1] if type(v) is int else v for k, v in kwargs.items()}
        return tflc.diff(x, n, axis, **given)

    def theirs(x, *extra):
        given = {k: extra[v - 1] if type(v) is int else v for k, v in kwargs.items()}
        return np.diff(x, n, axis, **given)
    return ours, theirs, ins


CASES = {name[len("_case_"):]: value for name, value in globals().items() if name.startswith("_case_")}


@pytest.mark.parametrize("name", sorted(CASES))
@SWEEP
@given(data=st.data(), seed=seeds)
def test_forward_matches_numpy_and_gradient_matches_finite_differences(name, data, seed,
                                                                       check_grads):
    ours, theirs, ins = CASES[name](data.draw)
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal(s) for s in ins]
    expected = theirs(*arrays)
    _assert_like_numpy(ours(*[tflc.Tensor(a) for a in arrays]), expected)
    _assert_like_numpy(ours(*arrays), expected)  # arrays in, Tensors out
    (*grads,) = check_grads(lambda *xs: _one(ours(*xs)), *arrays)
    assert [g.shape for g in grads] == [a.shape for a in arrays]


# --- second order: the VJPs are written in ops -----------------------------------------------------
def _second_order_cases():
    rng = np.random.default_rng(30)
    r = rng.standard_normal
    return {
        "concatenate": (lambda a, b: tflc.concatenate([a, b, a], axis=1), [r((2, 3)), r((2, 1))]),
        "stack": (lambda a, b: tflc.stack([a, b], axis=-1), [r((2, 3)), r((2, 3))]),
        "split": (lambda a: tflc.split(a, [1], axis=1)[1], [r((2, 3))]),
        "squeeze": (lambda a: tflc.squeeze(a, 0), [r((1, 3))]),
        "expand_dims": (lambda a: tflc.expand_dims(a, -1), [r((2, 3))]),
        "flip": (lambda a: tflc.flip(a, 1), [r((2, 3))]),
        "rot90": (lambda a: tflc.rot90(a), [r((2, 3))]),
        "roll": (lambda a: tflc.roll(a, (1, -1), (0, 1)), [r((2, 3))]),
        "repeat": (lambda a: tflc.repeat(a, 2, axis=0), [r((2, 3))]),
        "repeat counts": (lambda a: tflc.repeat(a, [2, 0, 1], axis=1), [r((2, 3))]),
        "tile": (lambda a: tflc.tile(a, (2, 1, 2)), [r((2, 3))]),
        "pad constant": (lambda a: tflc.pad(a, 1, constant_values=2.0), [r((2, 3))]),
        "pad reflect": (lambda a: tflc.pad(a, ((2, 1), (3, 2)), "reflect"), [r((2, 3))]),
        "pad edge": (lambda a: tflc.pad(a, 2, "edge"), [r((2, 3))]),
        "triu": (lambda a: tflc.triu(a, -1), [r((3, 3))]),
        "tril 1-d": (lambda a: tflc.tril(a), [r(3)]),
        "diag": (lambda a: tflc.diag(a, 1), [r(3)]),
        "diagonal": (lambda a: a.diagonal(0, 2, 0), [r((3, 2, 3))]),
        "trace": (lambda a: a.trace(), [r((3, 3))]),
        "moveaxis": (lambda a: tflc.moveaxis(a, 0, -1), [r((2, 3, 2))]),
        "meshgrid": (lambda a, b: tflc.meshgrid(a, b)[0] * tflc.meshgrid(a, b)[1],
                     [r(2), r(3)]),
        "diff": (lambda a: tflc.diff(a, 2, prepend=0.0), [r((2, 4))]),
    }


SECOND_ORDER = _second_order_cases()


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_hessian_vector_product_through_each_op(name, check_hvp):
    f, arrays = SECOND_ORDER[name]
    check_hvp(lambda *xs: f(*xs) ** 2, *arrays)  # squared: linear ops' second derivatives are zero


# --- float32 end to end ----------------------------------------------------------------------------
F32_CASES = {  # (a function of float32 Variables, input shapes)
    "concatenate": (lambda a, b: tflc.concatenate([a, b]), [(2, 3), (1, 3)]),
    "stack": (lambda a, b: tflc.stack([a, b], 1), [(2, 3), (2, 3)]),
    "split": (lambda a: tflc.split(a, 3, axis=1)[2], [(2, 3)]),
    "squeeze": (lambda a: a.squeeze(), [(1, 3, 1)]),
    "flip": (lambda a: tflc.flip(a), [(2, 3)]),
    "roll": (lambda a: tflc.roll(a, 1), [(2, 3)]),
    "repeat": (lambda a: tflc.repeat(a, 2), [(2, 3)]),
    "repeat counts": (lambda a: tflc.repeat(a, [1, 2], axis=0), [(2, 3)]),
    "tile": (lambda a: tflc.tile(a, 2), [(2, 3)]),
    "pad constant": (lambda a: tflc.pad(a, 1, constant_values=0.5), [(2, 3)]),
    "pad symmetric": (lambda a: tflc.pad(a, 2, "symmetric"), [(2, 3)]),
    "triu": (lambda a: tflc.triu(a), [(3, 3)]),
    "diag": (lambda a: tflc.diag(a), [(3,)]),
    "diagonal": (lambda a: a.diagonal(), [(3, 3)]),
    "trace": (lambda a: a.trace(), [(3, 3)]),
    "diff": (lambda a: tflc.diff(a, prepend=0.5), [(2, 3)]),
    "meshgrid": (lambda a, b: tflc.stack(tflc.meshgrid(a, b)), [(2,), (3,)]),
}


@pytest.mark.parametrize("name", sorted(F32_CASES))
def test_float32_stays_float32(name):
    f, ins = F32_CASES[name]
    rng = np.random.default_rng(31)
    variables = [tflc.Variable(rng.standard_normal(s).astype(np.float32)) for s in ins]
    with tflc.GradientTape() as tape:
        out = f(*variables)
    assert out.dtype == np.float32, f"forward upcast to {out.dtype}"
    # every VJP computes in float32 (the sweep's final cast would hide an upcast in the result)
    for eq in tape.program.equations:
        entry = tape.program.entries[eq.output]
        ans = None if eq.ans is None else entry.numpy()
        g = np.ones(entry.shape, dtype=entry.dtype)
        for k, (vjp, x) in enumerate(zip(eq.op.vjps, eq.arrays)):
            if vjp is not None and getattr(x, "dtype", None) == np.float32:
                gx = vjp(g, ans, *eq.arrays, *eq.params)
                assert gx.dtype == np.float32, f"{eq.op.name} VJP {k} computes in {gx.dtype}"
                assert gx.shape == x.shape, f"{eq.op.name} VJP {k} has shape {gx.shape}"
    grads = tape.gradient(out, variables)
    assert all(g.dtype == np.float32 for g in grads)


def test_joining_float32_with_float64_promotes_and_each_gradient_keeps_its_dtype():
    a = tflc.Variable(np.ones((2, 2), np.float32))
    b = tflc.Variable(np.ones((1, 2)))
    with tflc.GradientTape() as tape:
        out = tflc.concatenate([a, b])
    assert out.dtype == np.float64  # NumPy's promotion
    ga, gb = tape.gradient(out, [a, b])
    assert (ga.dtype, gb.dtype) == (np.float32, np.float64)


# --- how the ops fit the engine ----------------------------------------------------------------
def test_a_joining_primitive_is_made_once_per_number_of_inputs():
    shape_ops = tflc.ops.shape
    x = tflc.Tensor(np.ones((2, 2)))
    tflc.concatenate([x, x, x])
    op = shape_ops._joining("concatenate", 3)
    assert op is shape_ops._joining("concatenate", 3) and op.arity == 3
    assert op is not shape_ops._joining("concatenate", 2)
    assert op.reads_only_shapes  # the inputs are kept as their shapes only


def test_the_ops_are_tensor_methods_where_ndarray_has_them():
    x = np.arange(12.0).reshape(3, 1, 4)
    t = tflc.Tensor(x)
    np.testing.assert_array_equal(t.squeeze().numpy(), x.squeeze())
    np.testing.assert_array_equal(t.squeeze(1).numpy(), x.squeeze(1))
    np.testing.assert_array_equal(t.flatten().numpy(), x.flatten())
    np.testing.assert_array_equal(t.ravel("F").numpy(), x.ravel("F"))
    np.testing.assert_array_equal(t.swapaxes(0, 2).numpy(), x.swapaxes(0, 2))
    np.testing.assert_array_equal(t.repeat(2, axis=2).numpy(), x.repeat(2, axis=2))
    np.testing.assert_array_equal(t.diagonal(0, 0, 2).numpy(), x.diagonal(0, 0, 2))
    np.testing.assert_array_equal(t.trace(1, 0, 2).numpy(), x.trace(1, 0, 2))
    assert tflc.trace(x, 1, 0, 2).numpy().tolist() == x.trace(1, 0, 2).tolist()  # NumPy's name
    assert not hasattr(tflc, "flatten")  # NumPy has no np.flatten either


def test_joining_takes_numpys_sequences_and_dtype(check_grads):
    x = np.arange(6.0).reshape(2, 3)
    _assert_like_numpy(tflc.concatenate(x), np.concatenate(x))  # an array is a sequence of rows
    _assert_like_numpy(tflc.stack(tflc.Tensor(x), axis=1), np.stack(x, axis=1))
    _assert_like_numpy(tflc.concatenate([x, x], dtype=np.float32), np.concatenate([x, x], dtype=np.float32))
    _assert_like_numpy(tflc.stack([1.0, 2.0]), np.stack([1.0, 2.0]))
    check_grads(lambda t: tflc.concatenate(t, axis=0), x)  # rows of a tensor, then joined


def test_a_watched_array_stays_connected_through_compositions():
    x = np.arange(6.0).reshape(2, 3)
    for f in (lambda a: tflc.vstack([a, a]), lambda a: tflc.atleast_2d(a), lambda a: tflc.diff(a, 0),
              lambda a: tflc.rot90(a, 4), lambda a: tflc.split(a, 3, axis=1)[0],
              lambda a: tflc.meshgrid(a)[0], lambda a: tflc.tile(a, 1)):
        with tflc.GradientTape() as tape:
            tape.watch(x)
            out = f(x)
        g = tape.gradient(out, x)
        assert g is not None and g.shape == x.shape


def test_split_pieces_share_one_input_and_their_gradients_add():
    x = tflc.Variable(np.arange(6.0))
    with tflc.GradientTape() as tape:
        a, b, c = tflc.split(x, 3)
        y = tflc.sum(a * 1.0) + tflc.sum(b * 2.0) + tflc.sum(c * 3.0)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [1, 1, 2, 2, 3, 3])


def test_pad_gradient_folds_the_padding_back():
    x = tflc.Variable(np.arange(3.0))
    for mode, expected in [("constant", [1, 1, 1]), ("edge", [3, 1, 2]), ("reflect", [1, 3, 2]),
                           ("symmetric", [2, 2, 2]), ("wrap", [2, 2, 2])]:
        with tflc.GradientTape() as tape:
            y = tflc.pad(x, (2, 1), mode)
        np.testing.assert_array_equal(tape.gradient(y, x).numpy(), expected, err_msg=mode)


def test_repeat_gradient_sums_the_copies():
    x = tflc.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]))
    with tflc.GradientTape(persistent=True) as tape:
        y = tflc.repeat(x, [3, 0], axis=0)
        z = x.repeat(2)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[3, 3], [0, 0]])
    np.testing.assert_array_equal(tape.gradient(z, x).numpy(), [[2, 2], [2, 2]])


def test_diagonal_and_diag_are_each_others_gradient():
    x = tflc.Variable(np.arange(6.0).reshape(2, 3))
    v = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape(persistent=True) as tape:
        d = tflc.diagonal(x, 1)
        m = tflc.diag(v, -1)
    np.testing.assert_array_equal(d.numpy(), [1.0, 5.0])
    np.testing.assert_array_equal(tape.gradient(d, x).numpy(), [[0, 1, 0], [0, 0, 1]])
    np.testing.assert_array_equal(tape.gradient(m, v).numpy(), [1.0, 1.0])


@pytest.mark.parametrize("name", ["concatenate", "pad", "repeat", "roll", "diagonal", "stack"])
def test_a_traced_step_replays_the_ops(name):
    rng = np.random.default_rng(32)
    fs = {
        "concatenate": lambda x: tflc.sum(tflc.concatenate([x, x * 2.0], axis=1) ** 2),
        "pad": lambda x: tflc.sum(tflc.pad(x, ((1, 0), (2, 2)), "reflect") ** 2),
        "repeat": lambda x: tflc.sum(tflc.repeat(x, [1, 3, 0], axis=1) ** 2),
        "roll": lambda x: tflc.sum(tflc.roll(x, 1, axis=0) * tflc.arange(3.0)),
        "diagonal": lambda x: tflc.sum(x.diagonal() ** 2) + x.trace(),
        "stack": lambda x: tflc.sum(tflc.stack(tflc.split(x, 3, axis=1) + [x[:, :1]]) ** 3),
    }
    f = fs[name]
    traced, eager = tflc.jit(tflc.value_and_grad(f)), tflc.value_and_grad(f)
    for _ in range(3):
        x = rng.standard_normal((3, 3))
        (v1, g1), (v2, g2) = traced(x), eager(x)
        np.testing.assert_allclose(v1.numpy(), v2.numpy(), rtol=1e-12)
        np.testing.assert_allclose(g1.numpy(), g2.numpy(), rtol=1e-12)
    assert traced.plans  # it did compile


def test_the_ops_draw_with_their_labels():
    import viz
    x = tflc.Variable(np.ones((2, 3)))
    with tflc.GradientTape() as tape:
        y = tflc.sum(tflc.pad(tflc.concatenate([x, x], axis=1), 1, "edge") * 2.0)
    source = viz.draw_graph(tape, y).source
    assert "concatenate" in source and "axis=1" in source and "edge" in source


# --- creation ops ------------------------------------------------------------------------------------
CREATION = {
    "zeros": (lambda m: m.zeros((2, 3)), lambda m: m.zeros(4, dtype=np.float32)),
    "ones": (lambda m: m.ones((2, 3)), lambda m: m.ones((), dtype=np.int32)),
    "full": (lambda m: m.full((2, 2), 1.5), lambda m: m.full(3, 7), lambda m: m.full((2,), 1.5, np.float32)),
    "empty": (lambda m: m.zeros((2, 3)) if m is np else m.empty((2, 3)),),
    "eye": (lambda m: m.eye(3), lambda m: m.eye(2, 4, k=1, dtype=np.float32), lambda m: m.eye(3, k=-1)),
    "identity": (lambda m: m.identity(3),),
    "arange": (lambda m: m.arange(5), lambda m: m.arange(1, 2, 0.25), lambda m: m.arange(2.0, 5),
               lambda m: m.arange(0, 10, 3, dtype=np.float32), lambda m: m.arange(5, step=2)),
    "linspace": (lambda m: m.linspace(0, 1, 5), lambda m: m.linspace(2, 3, 4, endpoint=False),
                 lambda m: m.linspace(0, 1, 3, dtype=np.float32),
                 lambda m: m.linspace([0, 1], [2, 3], 3, axis=1)),
    "zeros_like": (lambda m: m.zeros_like(np.ones((2, 3), np.float32)),
                   lambda m: m.zeros_like(np.ones(2), dtype=np.int64),
                   lambda m: m.zeros_like(np.ones(2), shape=(3, 1))),
    "ones_like": (lambda m: m.ones_like(np.ones((2, 3), np.float32)),),
    "full_like": (lambda m: m.full_like(np.ones(3, np.float32), 2.5),
                  lambda m: m.full_like(np.ones(3, int), 2.5)),
    "empty_like": (lambda m: (m.zeros_like if m is np else m.empty_like)(np.ones(3, np.float32)),),
    "argwhere": (lambda m: m.argwhere(np.array([[0.0, 1.0], [2.0, 0.0]])),
                 lambda m: m.argwhere(np.array(3.0))),
}


@pytest.mark.parametrize("name", sorted(CREATION))
def test_creation_ops_match_numpy_in_values_and_dtypes(name):
    for make in CREATION[name]:
        _assert_like_numpy(make(tflc), make(np))


def test_creation_from_tensors_and_their_results_are_constants():
    t = tflc.Variable(np.ones((2, 3), np.float32))
    with tflc.GradientTape() as tape:
        z = tflc.zeros_like(t)
        f = tflc.full_like(t, 3.0)
    assert (z.dtype, f.dtype, z.shape) == (np.float32, np.float32, (2, 3))
    assert tape.gradient(tflc.sum(z * 1.0), t) is None  # nothing connects them
    np.testing.assert_array_equal(tflc.argwhere(tflc.Tensor(np.array([0.0, 2.0, 3.0]))).numpy(),
                                  [[1], [2]])
    assert tflc.argwhere(np.array([0.0, 2.0])).dtype.kind == "i"
    value, step = tflc.linspace(0.0, 1.0, 5, retstep=True)
    assert isinstance(value, tflc.Tensor) and step == 0.25
    assert np.array_equal(tflc.full(2, tflc.Tensor(np.array(4.0))).numpy(), [4.0, 4.0])


# --- errors: named after the op, with the shapes, before anything is recorded ------------------------
def _x(*shape):
    return tflc.Tensor(np.ones(shape))


ERRORS = [
    (lambda: tflc.concatenate([_x(2, 3), _x(3, 3)], axis=1), ValueError,
     "concatenate: cannot join shapes (2, 3) and (3, 3) along axis 1: they differ in another axis"),
    (lambda: tflc.concatenate([_x(2, 3), _x(3)]), ValueError,
     "concatenate: cannot join shapes (2, 3) and (3,): they have different numbers of dimensions"),
    (lambda: tflc.concatenate([_x(), _x()]), ValueError, "concatenate: cannot concatenate 0-d inputs"),
    (lambda: tflc.concatenate([_x(2)], axis=1), np.exceptions.AxisError,
     "concatenate: axis 1 is out of bounds for shape (2,)"),
    (lambda: tflc.concatenate([]), ValueError, "concatenate: needs at least one array"),
    (lambda: tflc.concatenate(_x(2, 3), out=np.zeros(6)), TypeError, "concatenate: out= is not supported"),
    (lambda: tflc.stack([_x(2, 3), _x(3, 2)]), ValueError,
     "stack: all inputs must have the same shape, got (2, 3) and (3, 2)"),
    (lambda: tflc.stack([_x(2)], axis=2), ValueError, "stack: axis 2 is out of bounds for shape (2,)"),
    (lambda: tflc.vstack([_x(3), _x(2)]), ValueError, "vstack: cannot join shapes (1, 3) and (1, 2)"),
    (lambda: tflc.hstack([_x(2, 3), _x(3, 3)]), ValueError, "hstack: cannot join shapes (2, 3) and (3, 3)"),
    (lambda: tflc.column_stack([_x(2), _x(3)]), ValueError, "column_stack: cannot join shapes (2, 1)"),
    (lambda: tflc.split(_x(2, 5), 3, axis=1), ValueError,
     "split: 3 sections do not divide axis 1 of shape (2, 5) equally"),
    (lambda: tflc.array_split(_x(4), 0), ValueError, "array_split: the number of sections must be positive"),
    (lambda: tflc.split(_x(4), 2.0), TypeError, "split: indices_or_sections must be an int or a sequence"),
    (lambda: tflc.vsplit(_x(4), 2), ValueError, "vsplit: needs an input of at least 2 dimensions"),
    (lambda: tflc.squeeze(_x(2, 1), 0), ValueError, "squeeze: axis 0 of shape (2, 1) has length 2, not 1"),
    (lambda: tflc.squeeze(_x(2, 1), 2), ValueError, "squeeze: axis 2 is out of bounds for shape (2, 1)"),
    (lambda: tflc.expand_dims(_x(2), (0, 0)), ValueError, "expand_dims: repeated axis in (0, 0)"),
    (lambda: tflc.flip(_x(2, 3), 2.5), TypeError, "flip: axis must be an int or a tuple of ints"),
    (lambda: tflc.fliplr(_x(3)), ValueError, "fliplr: needs an input of at least 2 dimensions"),
    (lambda: tflc.flipud(_x()), ValueError, "flipud: needs an input of at least 1 dimension"),
    (lambda: tflc.rot90(_x(2, 3), axes=(0, 0)), ValueError, "rot90: repeated axes in (0, 0)"),
    (lambda: tflc.rot90(_x(2, 3), axes=(0,)), ValueError, "rot90: axes must be two axes"),
    (lambda: tflc.roll(_x(2, 3), (1, 2, 3), (0, 1)), ValueError, "roll: 3 shifts for 2 axes"),
    (lambda: tflc.repeat(_x(2, 3), [1, 2], axis=1), ValueError,
     "repeat: 2 repeats for 3 entries along axis 1 of shape (2, 3)"),
    (lambda: tflc.repeat(_x(2), -1), ValueError, "repeat: repeats must not be negative"),
    (lambda: tflc.tile(_x(2), (-1,)), ValueError, "tile: reps must not be negative"),
    (lambda: tflc.pad(_x(2, 3), ((1, 2), (3, 4), (5, 6))), ValueError,
     "pad: pad_width ((1, 2), (3, 4), (5, 6)) does not fit an input of shape (2, 3)"),
    (lambda: tflc.pad(_x(2), -1), ValueError, "pad: pad_width must not be negative"),
    (lambda: tflc.pad(_x(2), 1.5), TypeError, "pad: pad_width must be integers"),
    (lambda: tflc.pad(_x(2), 1, "mean"), ValueError, "pad: mode 'mean' is not supported"),
    (lambda: tflc.pad(_x(0, 2), 1, "edge"), ValueError, "pad: cannot extend an empty axis of shape (0, 2)"),
    (lambda: tflc.triu(_x()), ValueError, "triu: needs an input of at least 1 dimension"),
    (lambda: tflc.diag(_x(2, 2, 2)), ValueError, "diag: needs a 1-D or 2-D input, got shape (2, 2, 2)"),
    (lambda: tflc.diagonal(_x(3)), ValueError, "diagonal: needs an input of at least 2 dim"),
    (lambda: tflc.diagonal(_x(3, 3), 0, 1, -1), ValueError, "diagonal: axis1 and axis2 are both axis 1"),
    (lambda: _x(3, 3).trace(axis2=2), ValueError, "diagonal: axis2 2 is out of bounds for shape (3, 3)"),
    (lambda: tflc.moveaxis(_x(2, 3), 0, 2), ValueError,
     "moveaxis: destination 2 is out of bounds for shape (2, 3)"),
    (lambda: tflc.moveaxis(_x(2, 3), (0, 1), 0), ValueError, "moveaxis: 2 source axes but 1 destinations"),
    (lambda: tflc.swapaxes(_x(2, 3), 0, -3), ValueError,
     "swapaxes: axis2 -3 is out of bounds for shape (2, 3)"),
    (lambda: tflc.ravel(_x(2), "K"), ValueError, "ravel: order must be 'C' or 'F'"),
    (lambda: tflc.meshgrid(_x(2), indexing="xz"), ValueError, "meshgrid: indexing must be 'xy' or 'ij'"),
    (lambda: tflc.diff(_x(2), -1), ValueError, "diff: order n must not be negative"),
    (lambda: tflc.diff(_x()), ValueError, "diff: needs an input of at least 1 dimension"),
    (lambda: tflc.diff(_x(2, 3), prepend=np.ones((3, 3))), ValueError,
     "diff: cannot join shapes (3, 3) and (2, 3)"),
    (lambda: tflc.zeros((2, -1)), ValueError, "zeros: negative dimensions are not allowed"),
    (lambda: tflc.ones(2.5), TypeError, "ones: shape must be an int or a tuple of ints"),
    (lambda: tflc.full(2, "a"), TypeError, "full: cannot make a tensor from ndarray of dtype <U1"),
    (lambda: tflc.eye(2.0), TypeError, "eye: N must be an int"),
    (lambda: tflc.linspace(0, 1, -1), ValueError, "linspace: num must not be negative"),
    (lambda: tflc.arange(0, 1, 0), ZeroDivisionError, "arange: "),
]


@pytest.mark.parametrize("index", range(len(ERRORS)), ids=lambda k: ERRORS[k][2].split(":")[0] + str(k))
def test_errors_name_the_op_and_the_shapes(index):
    f, kind, message = ERRORS[index]
    with tflc.GradientTape() as tape:
        with pytest.raises(kind, match="^" + re.escape(message)):
            f()
    assert tape.records == ()  # nothing half-recorded
