"""Reductions, scans and sorting (ops/reductions.py): min, prod, var, std, argmax, argmin, any,
all, cumsum, cumprod, sort, argsort, take_along_axis, and sum's / mean's dtype=. Forward against
NumPy and gradients against central finite differences (float64) over hypothesis-drawn shapes,
axes and keepdims; second derivatives through nested tapes; the conventions at ties (min splits,
sort follows the stable order) and zeros (prod and cumprod exact with one zero or several);
float32 end to end; bad arguments name the op."""
import re
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tensorflowlite_clone as tflc
from tensorflowlite_clone.ops.reductions import _scan, _scan_forward, _sequential_scan

SWEEP = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)


def distinct(rng, shape):
    """Entries at least 0.3 apart from one another (no ties)."""
    n = int(np.prod(shape))
    return ((rng.permutation(n) - n / 2) * 0.4 + rng.uniform(0, 0.1, n)).reshape(shape)


def with_zeros(rng, shape):
    """Values in [-1.5, 1.5) away from 0, with about a third of the entries exactly 0."""
    x = rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], size=shape)
    return np.where(rng.uniform(size=shape) < 0.35, 0.0, x)


def grad_of(f, x, output_gradients=None):
    v = tflc.Variable(np.asarray(x, dtype=float))
    with tflc.GradientTape() as tape:
        y = f(v)
    return tape.gradient(y, v, output_gradients=output_gradients).numpy()


@st.composite
def reduction_cases(draw):
    """(shape, axis, keepdims): None, an int or a tuple of axes, for 0-d to 3-d shapes with
    size-1 sides."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    ndim = len(shape)
    choices = [st.none(), hnp.valid_tuple_axes(ndim)]
    if ndim:
        choices.append(st.integers(-ndim, ndim - 1))
    return shape, draw(st.one_of(*choices)), draw(st.booleans())


@st.composite
def scan_cases(draw):
    """(shape, axis) for a scan or a sort: None or one int axis (0-d takes axis 0 or -1 in
    NumPy's scans)."""
    shape = draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=5))
    axis = draw(st.one_of(st.none(), st.integers(-max(len(shape), 1), max(len(shape), 1) - 1)))
    return shape, axis


# --- reductions: forward against NumPy, gradient against finite differences -----------------------
REDUCTIONS = {  # name: (ours(t, axis, keepdims), NumPy's, the sample)
    "min": (lambda t, a, k: tflc.min(t, axis=a, keepdims=k), np.min, distinct),
    "min method": (lambda t, a, k: t.min(axis=a, keepdims=k), np.min, distinct),
    "prod": (lambda t, a, k: tflc.prod(t, axis=a, keepdims=k), np.prod, with_zeros),
    "prod method": (lambda t, a, k: t.prod(axis=a, keepdims=k), np.prod, with_zeros),
    "var": (lambda t, a, k: tflc.var(t, axis=a, keepdims=k), np.var, distinct),
    "var method": (lambda t, a, k: t.var(axis=a, keepdims=k), np.var, distinct),
    "std": (lambda t, a, k: tflc.std(t, axis=a, keepdims=k), np.std, distinct),
    "std method": (lambda t, a, k: t.std(axis=a, keepdims=k), np.std, distinct),
    "sum dtype": (lambda t, a, k: tflc.sum(t, axis=a, dtype=np.float64, keepdims=k),
                  lambda x, axis, keepdims: np.sum(x, axis, np.float64, keepdims=keepdims),
                  distinct),
    "mean dtype": (lambda t, a, k: t.mean(axis=a, dtype=np.float64, keepdims=k), np.mean, distinct),
}


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@SWEEP
@given(case=reduction_cases(), seed=seeds)
def test_reduction_forward_and_gradient(name, case, seed, check_grads):
    shape, axis, keepdims = case
    ours, theirs, sample = REDUCTIONS[name]
    x = sample(np.random.default_rng(seed), shape)
    out = ours(tflc.Tensor(x), axis, keepdims)
    expected = theirs(x, axis=axis, keepdims=keepdims)
    assert isinstance(out, tflc.Tensor) and out.shape == np.shape(expected)
    assert out.dtype == np.asarray(expected).dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-14)
    (g,) = check_grads(lambda t: ours(t, axis, keepdims), x)
    assert g.shape == shape


@pytest.mark.parametrize("name", ["var", "std"])
@SWEEP
@given(case=reduction_cases(), ddof=st.sampled_from([0, 1, 2, 0.5]), seed=seeds)
def test_var_and_std_with_ddof(name, case, ddof, seed, check_grads):
    shape, axis, keepdims = case
    count = np.prod(shape) if axis is None else np.prod([shape[a] for a in np.atleast_1d(axis)])
    if count <= ddof:
        return  # (inf or NaN: test_ddof_at_or_above_the_count)
    ours = getattr(tflc, name)
    x = distinct(np.random.default_rng(seed), shape)
    f = lambda t: ours(t, axis, ddof=ddof, keepdims=keepdims)  # noqa: E731
    np.testing.assert_allclose(f(tflc.Tensor(x)).numpy(),
                               getattr(np, name)(x, axis, ddof=ddof, keepdims=keepdims), rtol=1e-12)
    check_grads(f, x)


def test_reductions_of_0d_and_size_1(check_grads):
    for x in (np.array(2.5), np.array([-1.5]), np.array([[0.5]])):
        for op, ref in ((tflc.min, np.min), (tflc.prod, np.prod), (tflc.var, np.var),
                        (tflc.std, np.std)):
            np.testing.assert_array_equal(op(x).numpy(), ref(x))
            np.testing.assert_array_equal(op(x, keepdims=True).numpy(), ref(x, keepdims=True))
            check_grads(op, x)
        np.testing.assert_array_equal(tflc.cumsum(x).numpy(), np.cumsum(x))
        np.testing.assert_array_equal(tflc.cumprod(x).numpy(), np.cumprod(x))
    np.testing.assert_array_equal(grad_of(tflc.prod, 2.5), 1.0)
    np.testing.assert_array_equal(grad_of(lambda t: tflc.prod(t, axis=()), [[1.0, 2.0]]),
                                  [[1.0, 1.0]])
    np.testing.assert_array_equal(grad_of(tflc.std, [3.0]), [0.0])  # a constant slice


def test_empty_axes():
    x = np.ones((2, 0))
    np.testing.assert_array_equal(tflc.prod(x, axis=1).numpy(), [1.0, 1.0])
    assert grad_of(lambda t: tflc.prod(t, axis=1), x).shape == (2, 0)
    assert grad_of(lambda t: tflc.cumprod(t, axis=1), x).shape == (2, 0)
    assert grad_of(tflc.sort, x).shape == (2, 0)
    with pytest.raises(ValueError, match="^min: zero-size array"):
        tflc.min(x, axis=1)
    with pytest.raises(ValueError, match="^argmax: attempt to get argmax of an empty sequence"):
        tflc.argmax(x)


# --- min: ties split evenly, as max ---------------------------------------------------------------
def test_min_ties_split_evenly():
    np.testing.assert_array_equal(grad_of(tflc.min, [3.0, 1.0, 1.0]), [0.0, 0.5, 0.5])
    np.testing.assert_array_equal(grad_of(tflc.min, [2.0] * 4), [0.25] * 4)
    x = [[1.0, 4.0, 1.0], [7.0, 7.0, 7.0], [0.0, -1.0, 2.0]]
    for keepdims in (False, True):
        np.testing.assert_allclose(grad_of(lambda t, k=keepdims: t.min(axis=1, keepdims=k), x),
                                   [[0.5, 0, 0.5], [1 / 3, 1 / 3, 1 / 3], [0, 1, 0]], rtol=1e-15)
        np.testing.assert_array_equal(grad_of(lambda t, k=keepdims: tflc.min(t, 0, k), x),
                                      [[0, 0, 1], [0, 0, 0], [1, 1, 0]])
    w = np.array([4.0, 3.0, 2.0])
    np.testing.assert_array_equal(grad_of(lambda t: tflc.min(t, axis=1), x, output_gradients=w),
                                  [[2, 0, 2], [1, 1, 1], [0, 2, 0]])
    x32 = tflc.Variable(np.array([3.0, 1.0, 1.0, 1.0], dtype=np.float32))
    with tflc.GradientTape() as tape:
        y = tflc.min(x32)
    g = tape.gradient(y, x32).numpy()
    third = np.float32(1) / np.float32(3)
    assert g.dtype == np.float32
    np.testing.assert_array_equal(g, [0, third, third, third])


# --- zeros: prod and cumprod from the products of the others --------------------------------------
def test_prod_gradient_with_zeros_is_the_product_of_the_others():
    np.testing.assert_array_equal(grad_of(tflc.prod, [2.0, 3.0, 4.0]), [12.0, 8.0, 6.0])
    np.testing.assert_array_equal(grad_of(tflc.prod, [2.0, 0.0, 4.0]), [0.0, 8.0, 0.0])
    np.testing.assert_array_equal(grad_of(tflc.prod, [0.0, 3.0, 0.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad_of(tflc.prod, [0.0, 0.0, 0.0]), [0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad_of(tflc.prod, [0.0]), [1.0])
    x = [[2.0, 0.0, 3.0], [0.0, 0.0, 5.0], [1.0, 2.0, 3.0]]
    np.testing.assert_array_equal(grad_of(lambda t: tflc.prod(t, axis=1), x),
                                  [[0, 6, 0], [0, 0, 0], [6, 3, 2]])
    np.testing.assert_array_equal(grad_of(lambda t: tflc.prod(t, axis=0), x),
                                  [[0, 0, 15], [2, 0, 9], [0, 0, 15]])
    np.testing.assert_array_equal(grad_of(tflc.prod, [[2.0, 0.0], [3.0, 4.0]]), [[0, 24], [0, 0]])
    # axes moved and flattened: a zero in a tuple of axes
    x3 = np.arange(1.0, 25.0).reshape(2, 3, 4)
    x3[1, 2, 0] = 0.0
    others = np.prod(np.where(np.arange(24).reshape(2, 3, 4) == 20, 1.0, x3), axis=(0, 2))
    g = grad_of(lambda t: tflc.prod(t, axis=(0, 2)), x3)
    np.testing.assert_array_equal(g[:, 2], np.where(x3[:, 2] == 0, others[2], 0.0))
    np.testing.assert_allclose(g[:, :2], np.prod(x3[:, :2], axis=(0, 2), keepdims=True)
                               / x3[:, :2], rtol=1e-14)


def test_cumprod_gradient_with_zeros():
    # d/dx of sum(cumprod([2, 0, 3])) = d/dx (x0 + x0 x1 + x0 x1 x2)
    np.testing.assert_array_equal(grad_of(tflc.cumprod, [2.0, 0.0, 3.0]), [1.0, 8.0, 0.0])
    np.testing.assert_array_equal(grad_of(tflc.cumprod, [0.0, 2.0, 0.0, 3.0]), [3.0, 0.0, 0.0, 0.0])
    np.testing.assert_array_equal(grad_of(tflc.cumprod, [0.0, 0.0]), [1.0, 0.0])
    np.testing.assert_array_equal(grad_of(lambda t: t.cumprod(axis=0), [[1.0, 0.0], [0.0, 2.0]]),
                                  [[1.0, 3.0], [1.0, 0.0]])


@pytest.mark.parametrize("op", ["prod", "cumprod"])
@SWEEP
@given(case=scan_cases(), seed=seeds)
def test_prod_and_cumprod_with_zeros_against_finite_differences(op, case, seed, check_grads):
    """Both are multilinear in each entry, so central differences are exact there too, at
    zeros included; so are the second derivatives."""
    shape, axis = case
    x = with_zeros(np.random.default_rng(seed), shape)
    f = lambda t: getattr(tflc, op)(t, axis)  # noqa: E731
    np.testing.assert_allclose(f(tflc.Tensor(x)).numpy(), getattr(np, op)(x, axis), rtol=1e-14)
    check_grads(f, x)


# --- scans ----------------------------------------------------------------------------------------
SCANS = {
    "cumsum": (lambda t, a: tflc.cumsum(t, a), np.cumsum, distinct),
    "cumsum method": (lambda t, a: t.cumsum(axis=a), np.cumsum, distinct),
    "cumprod": (lambda t, a: tflc.cumprod(t, axis=a), np.cumprod, with_zeros),
    "cumprod method": (lambda t, a: t.cumprod(a), np.cumprod, with_zeros),
}


@pytest.mark.parametrize("name", sorted(SCANS))
@SWEEP
@given(case=scan_cases(), seed=seeds)
def test_scan_forward_and_gradient(name, case, seed, check_grads):
    shape, axis = case
    ours, theirs, sample = SCANS[name]
    x = sample(np.random.default_rng(seed), shape)
    out = ours(tflc.Tensor(x), axis)
    expected = theirs(x, axis)
    assert out.shape == expected.shape and out.dtype == expected.dtype
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-14)
    (g,) = check_grads(lambda t: ours(t, axis), x)
    assert g.shape == shape


def test_cumsum_gradient_is_exact():
    np.testing.assert_array_equal(grad_of(tflc.cumsum, [1.0, 2.0, 3.0], [1.0, 10.0, 100.0]),
                                  [111.0, 110.0, 100.0])
    np.testing.assert_array_equal(grad_of(lambda t: tflc.cumsum(t, 1), np.ones((2, 3))),
                                  [[3, 2, 1], [3, 2, 1]])
    np.testing.assert_array_equal(grad_of(tflc.cumsum, np.ones((2, 2))), [[4, 3], [2, 1]])


@pytest.mark.parametrize("reverse", [False, True])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 5, 16, 17, 40])
def test_the_linear_scan_is_the_recurrence(n, reverse, check_grads, check_hvp):
    """The blocked scan against the recurrence written out, with zeros among the links, along
    each axis; its VJPs (in ops) against finite differences, to second order."""
    rng = np.random.default_rng(n)
    for axis in (0, 1):
        shape = (n, 3) if axis == 0 else (2, n)
        c, b = with_zeros(rng, shape), rng.standard_normal(shape)
        expected = np.zeros(shape)
        for k in range(n - 1, -1, -1) if reverse else range(n):
            at = lambda i, a=axis: (i, slice(None)) if a == 0 else (slice(None), i)  # noqa: E731
            prev = k + 1 if reverse else k - 1
            expected[at(k)] = b[at(k)]
            if 0 <= prev < n:  # c[k] links k-1 and k
                expected[at(k)] += c[at(k + 1 if reverse else k)] * expected[at(prev)]
        np.testing.assert_allclose(_scan_forward(c, b, axis, reverse), expected, rtol=1e-13, atol=1e-14)
        np.testing.assert_allclose(_sequential_scan(shape, c, b, axis, reverse), expected, rtol=1e-13,
                                   atol=1e-14)
    if n:
        c, b = with_zeros(rng, (3, n)), rng.standard_normal((3, n))
        check_grads(lambda c_, b_: _scan(c_, b_, 1, reverse), c, b)
        check_hvp(lambda c_, b_: _scan(c_, b_, 1, reverse), c, b)


def test_the_scan_falls_back_where_a_block_overflows():
    """A block's product of links overflows (1e200 * 1e200) where the recurrence does not: the
    result is the sequential one, without overflow warnings. (Blocks of 3 places; reversed,
    the links run 1e-300, 1 | 1e200, 1e200, 1e-300 | ...)"""
    c = np.array([7.0, 0.5, 3.0, 2.0, 1e-300, 1e200, 1e200, 1.0, 1e-300])
    b = np.zeros(9)
    b[-1] = 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        s = _scan_forward(c, b, 0, True)  # the product of the entries after each place
    expected = np.append(np.cumprod(c[:0:-1])[::-1], 1.0)  # (from the right: no overflow)
    assert np.isfinite(expected).all()
    np.testing.assert_allclose(s, expected, rtol=1e-13)
    with np.errstate(over="ignore", invalid="ignore"):
        blocked = np.cumprod(np.array([1.0, 1e200, 1e200]))  # what a block alone would give
    assert not np.isfinite(blocked).all()


# --- sorting and gathering ------------------------------------------------------------------------
@SWEEP
@given(case=scan_cases(), seed=seeds)
def test_sort_and_argsort_forward_and_gradient(case, seed, check_grads):
    shape, axis = case
    if not shape and axis is not None:
        return  # (test_bad_arguments_name_the_op: NumPy's sort refuses an axis of a 0-d array)
    x = distinct(np.random.default_rng(seed), shape)
    out = tflc.sort(tflc.Tensor(x), axis)
    np.testing.assert_array_equal(out.numpy(), np.sort(x, axis))
    indices = tflc.argsort(x, axis)
    assert indices.dtype == np.intp
    np.testing.assert_array_equal(indices.numpy(), np.argsort(x, axis))
    if shape:
        np.testing.assert_array_equal(tflc.Tensor(x).argsort(axis).numpy(), np.argsort(x, axis))
    (g,) = check_grads(lambda t: tflc.sort(t, axis), x)
    assert g.shape == shape


def test_sort_ties_follow_the_stable_order():
    """Equal entries: the k-th of them in x gets the gradient of the k-th of them in the sorted
    result (NumPy's stable order), whatever kind= says."""
    x = [3.0, 1.0, 2.0, 1.0, 1.0]
    w = np.array([10.0, 20.0, 30.0, 40.0, 50.0])
    for kind in (None, "quicksort", "heapsort", "stable"):
        np.testing.assert_array_equal(grad_of(lambda t, k=kind: tflc.sort(t, kind=k), x, w),
                                      [50.0, 10.0, 40.0, 20.0, 30.0])
    np.testing.assert_array_equal(tflc.argsort(x, kind="stable").numpy(), [1, 3, 4, 2, 0])
    np.testing.assert_array_equal(tflc.argsort(x, stable=True).numpy(), [1, 3, 4, 2, 0])
    rows = np.array([[1.0, 1.0, 0.0], [2.0, 2.0, 2.0]])
    np.testing.assert_array_equal(grad_of(lambda t: tflc.sort(t, axis=0), rows,
                                          np.arange(6.0).reshape(2, 3)), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(grad_of(lambda t: tflc.sort(t, axis=None), rows, np.arange(6.0)),
                                  [[1, 2, 0], [3, 4, 5]])


def test_sort_puts_nans_last_as_numpy():
    x = np.array([2.0, np.nan, -1.0, 0.5])
    np.testing.assert_array_equal(tflc.sort(x).numpy(), np.sort(x))
    np.testing.assert_array_equal(grad_of(tflc.sort, x, [1.0, 2.0, 3.0, 4.0]), [3.0, 4.0, 1.0, 2.0])


def test_take_along_axis(check_grads):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, 4))
    indices = np.array([[0, 0, 3], [1, 2, 1], [3, 3, 3]])  # repeated indices accumulate
    f = lambda t: tflc.take_along_axis(t, indices, 1)  # noqa: E731
    np.testing.assert_array_equal(f(tflc.Tensor(x)).numpy(), np.take_along_axis(x, indices, 1))
    (g,) = check_grads(f, x)
    np.testing.assert_array_equal(grad_of(f, x, np.ones((3, 3))),
                                  [[2, 0, 0, 1], [0, 2, 1, 0], [0, 0, 0, 3]])
    columns = np.array([[2, 0, 1, 1]])  # broadcast along axis 0, gathered along it
    check_grads(lambda t: tflc.take_along_axis(t, columns, axis=0), x)
    flat = np.array([11, 0, 0, 5])
    np.testing.assert_array_equal(tflc.take_along_axis(x, flat, None).numpy(),
                                  np.take_along_axis(x, flat, None))
    check_grads(lambda t: tflc.take_along_axis(t, flat, axis=None), x)
    check_grads(lambda t: tflc.take_along_axis(t, tflc.argmax(t, axis=-1, keepdims=True), -1), x)
    check_grads(lambda t: tflc.take_along_axis(t, [[1], [0], [2]], -1), x)  # a list of indices


# --- argmax, argmin, any, all: integer and boolean results, no gradient ---------------------------
@pytest.mark.parametrize("name", ["argmax", "argmin"])
@SWEEP
@given(case=scan_cases(), keepdims=st.booleans(), seed=seeds)
def test_argmax_and_argmin(name, case, keepdims, seed):
    shape, axis = case
    x = np.round(np.random.default_rng(seed).standard_normal(shape))  # with ties: the first
    for out in (getattr(tflc, name)(x, axis, keepdims=keepdims),
                getattr(tflc.Tensor(x), name)(axis=axis, keepdims=keepdims)):
        expected = getattr(np, name)(x, axis, keepdims=keepdims)
        assert out.dtype == expected.dtype == np.intp and out.shape == expected.shape
        np.testing.assert_array_equal(out.numpy(), expected)


@pytest.mark.parametrize("name", ["any", "all"])
@SWEEP
@given(case=reduction_cases(), seed=seeds)
def test_any_and_all(name, case, seed):
    shape, axis, keepdims = case
    x = np.random.default_rng(seed).integers(0, 2, shape) * np.random.default_rng(seed).uniform(
        -1, 1, shape)
    for out in (getattr(tflc, name)(x, axis, keepdims=keepdims),
                getattr(tflc.Tensor(x), name)(axis, keepdims=keepdims)):
        expected = getattr(np, name)(x, axis, keepdims=keepdims)
        assert out.dtype == np.bool_ and out.shape == np.shape(expected)
        np.testing.assert_array_equal(out.numpy(), expected)


def test_integer_and_boolean_results_carry_no_gradient():
    x = tflc.Variable(np.array([[1.0, 3.0], [2.0, 0.0]]))
    with tflc.GradientTape() as tape:
        results = [tflc.argmax(x), tflc.argmin(x, 1), tflc.argsort(x), tflc.any(x), x.all(axis=0)]
        total = tflc.sum(tflc.take_along_axis(x, tflc.argmax(x, axis=1, keepdims=True), 1))
    assert [r.dtype.kind for r in results] == ["i", "i", "i", "b", "b"]
    assert not any(op.differentiable for op in (tflc.argmax, tflc.argmin, tflc.argsort, tflc.any,
                                                tflc.all))
    assert [eq.op.name for eq in tape.program.equations] == ["take_along_axis", "sum"]
    np.testing.assert_array_equal(tape.gradient(total, x).numpy(), [[0, 1], [1, 0]])


# --- second derivatives through nested tapes ------------------------------------------------------
def _second_order_cases():
    rng = np.random.default_rng(11)
    x = distinct(rng, (3, 4))
    zeros = np.array([[2.0, 0.0, 3.0, -1.0], [0.0, 0.0, 1.5, 2.0], [1.0, 2.0, -0.5, 0.0]])
    return {
        "min": (lambda t: tflc.min(t, axis=1), x),
        "prod": (lambda t: tflc.prod(t, axis=1), rng.uniform(0.5, 1.5, (3, 4))),
        "prod zeros": (lambda t: tflc.prod(t, axis=1), zeros),
        "prod all zeros": (tflc.prod, zeros[:2, :2]),  # (one zero there: every second derivative)
        "prod one zero": (tflc.prod, np.array([0.0, 2.0, 3.0])),
        "prod axes": (lambda t: tflc.prod(t, axis=(0, 1)), rng.uniform(0.5, 1.5, (2, 3))),
        "cumprod": (lambda t: tflc.cumprod(t, axis=1), zeros),
        "cumprod flat": (tflc.cumprod, rng.uniform(-1.5, 1.5, (2, 3))),
        "cumsum": (lambda t: tflc.cumsum(t, axis=0) ** 2, x),
        "var": (lambda t: tflc.var(t, axis=0, ddof=1), x),
        "var all": (tflc.var, x),
        "std": (lambda t: tflc.std(t, axis=1, keepdims=True), x),
        "sort": (lambda t: tflc.sort(t, axis=0) ** 3, x),
        "take_along_axis": (lambda t: tflc.take_along_axis(t, np.array([[0, 0], [1, 3], [2, 2]]), 1) ** 2,
                            x),
        "sum dtype": (lambda t: tflc.sum(t * t, axis=1, dtype=np.float64), x),
    }


SECOND_ORDER = _second_order_cases()


@pytest.mark.parametrize("name", sorted(SECOND_ORDER))
def test_second_derivatives(name, check_hvp):
    f, x = SECOND_ORDER[name]
    check_hvp(f, x)


def test_prod_hessian_with_one_zero_is_exact():
    """prod(x0, x1, x2) at x0 = 0: d2/dx0 dx1 = x2, d2/dx1 dx2 = x0 = 0 (symmetric, not the 0
    that masking the zero's branch would give)."""
    x = tflc.Variable(np.array([0.0, 2.0, 3.0]))
    hessian = tflc.hessian(lambda t: tflc.prod(t))(x.numpy())
    np.testing.assert_array_equal(np.asarray(hessian), [[0, 3, 2], [3, 0, 0], [2, 0, 0]])


# --- ddof, dtype= ---------------------------------------------------------------------------------
def test_ddof_at_or_above_the_count_is_inf_or_nan_with_numpys_warning():
    x = np.array([[1.0, 2.0], [3.0, 3.0]])
    for name in ("var", "std"):
        with pytest.warns(RuntimeWarning, match="Degrees of freedom <= 0"), \
                np.errstate(divide="ignore", invalid="ignore"):  # (NumPy warns of those too)
            ours = getattr(tflc, name)(x, axis=1, ddof=2).numpy()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            expected = getattr(np, name)(x, axis=1, ddof=2)
        np.testing.assert_array_equal(ours, expected)  # [inf, nan]


def test_dtype_arguments():
    x = np.arange(1.0, 7.0).reshape(2, 3)
    for name in ("sum", "prod", "mean", "cumsum", "cumprod", "var", "std"):
        for dtype in (np.float32, np.float64):
            ours = getattr(tflc, name)(x.astype(np.float32), 1, dtype=dtype)
            expected = getattr(np, name)(x.astype(np.float32), 1, dtype=dtype)
            assert ours.dtype == expected.dtype == dtype, name
            np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-6)
            g = grad_of(lambda t, name=name, dtype=dtype: getattr(tflc, name)(t, 1, dtype=dtype), x)
            assert g.dtype == np.float64  # the gradient comes back in x's dtype
    ints = np.arange(6, dtype=np.int8).reshape(2, 3)
    for name in ("sum", "prod", "cumsum", "cumprod", "mean", "var", "min", "any"):
        np.testing.assert_allclose(getattr(tflc, name)(ints).numpy(), getattr(np, name)(ints),
                                   rtol=1e-15)
        assert getattr(tflc, name)(ints).dtype == getattr(np, name)(ints).dtype, name
    assert tflc.sum(ints, dtype=np.int16).dtype == np.int16
    np.testing.assert_array_equal(tflc.mean(np.array([0.5, 1.6]), dtype=int).numpy(), 0)


def test_float32_in_float32_out():
    rng = np.random.default_rng(4)
    x = distinct(rng, (3, 4)).astype(np.float32)
    cases = {"min": lambda t: tflc.min(t, axis=0), "prod": lambda t: tflc.prod(t, axis=1),
             "prod zeros": lambda t: tflc.prod(t * np.array([1, 0, 1, 1], np.float32)),
             "var": lambda t: tflc.var(t, axis=1, ddof=1), "std": tflc.std,
             "cumsum": lambda t: tflc.cumsum(t, 1), "cumprod": tflc.cumprod,
             "sort": lambda t: tflc.sort(t, 0),
             "take_along_axis": lambda t: tflc.take_along_axis(t, np.array([[0], [2], [1]]), 1)}
    for name, f in cases.items():
        v = tflc.Variable(x)
        with tflc.GradientTape() as tape:
            out = f(v)
        assert out.dtype == np.float32, name
        w = rng.standard_normal(out.shape).astype(np.float32)
        # every VJP computes in float32 (the sweep's final cast would hide an upcast)
        for eq in tape.program.equations:
            entry = tape.program.entries[eq.output]
            ans = None if eq.ans is None else entry.numpy()
            g = np.ones(entry.shape, dtype=entry.dtype)
            for k, (vjp, a) in enumerate(zip(eq.op.vjps, eq.arrays)):
                if vjp is not None and getattr(a, "dtype", None) == np.float32:
                    gx = vjp(g, ans, *eq.arrays, *eq.params)
                    assert gx.dtype == np.float32, f"{name}: {eq.op.name} VJP {k} gives {gx.dtype}"
        grad = tape.gradient(out, v, output_gradients=w)
        assert grad.dtype == np.float32, name
        expected = grad_of(f, x.astype(np.float64), w.astype(np.float64))
        np.testing.assert_allclose(grad.numpy(), expected, rtol=2e-5, atol=1e-5, err_msg=name)


# --- signatures: NumPy's, the engine's positional keepdims, methods, np.* on Tensors, traces ------
def test_numpy_positional_order_and_the_engines_positional_keepdims():
    x = np.arange(6.0).reshape(2, 3)
    t = tflc.Tensor(x)
    np.testing.assert_array_equal(tflc.sum(t, 0, True).numpy(), np.sum(x, 0, keepdims=True))
    np.testing.assert_array_equal(tflc.sum(t, 0, None, None, True).numpy(), np.sum(x, 0, None, None, True))
    assert tflc.sum(t, 0, np.float32).dtype == np.float32
    np.testing.assert_array_equal(tflc.max(t, 1, True).numpy(), np.max(x, 1, keepdims=True))
    np.testing.assert_array_equal(tflc.min(t, 1, None, True).numpy(), np.min(x, 1, None, True))
    np.testing.assert_array_equal(tflc.prod(t, 1, True).numpy(), np.prod(x, 1, keepdims=True))
    np.testing.assert_array_equal(tflc.mean(t, 1, True).numpy(), np.mean(x, 1, keepdims=True))
    np.testing.assert_array_equal(tflc.var(t, 0, None, None, 1, True).numpy(),
                                  np.var(x, 0, None, None, 1, True))
    np.testing.assert_array_equal(tflc.any(t, 1, True).numpy(), np.any(x, 1, keepdims=True))
    np.testing.assert_array_equal(tflc.cumsum(t, 0, np.float32).numpy(), np.cumsum(x, 0, np.float32))
    np.testing.assert_array_equal(t.sum(1, True).numpy(), x.sum(1, keepdims=True))
    assert tflc.sum.bind(x, (0,), False).shape == (3,)  # the engine's VJPs call it so


def test_tensor_methods_mirror_ndarray():
    x = np.array([[3.0, -1.0, 2.0], [0.5, 4.0, 0.0]])
    t = tflc.Tensor(x)
    for name in ("min", "max", "sum", "mean", "prod", "var", "std", "argmax", "argmin", "any",
                 "all", "cumsum", "cumprod", "argsort"):
        ours, theirs = getattr(t, name)(), getattr(x, name)()
        np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-15, err_msg=name)
    np.testing.assert_allclose(t.var(ddof=1).numpy(), x.var(ddof=1))
    np.testing.assert_allclose(t.std(axis=0).numpy(), x.std(axis=0))
    np.testing.assert_array_equal(t.argsort(axis=0).numpy(), x.argsort(axis=0))
    assert not hasattr(tflc.Tensor, "sort")  # tflc.sort(x): ndarray.sort sorts in place


def test_numpys_functions_on_tensors_run_these_ops():
    x = tflc.Variable(np.array([[3.0, -1.0, 2.0], [0.5, 4.0, 0.0]]))
    with tflc.GradientTape() as tape:
        y = np.var(x, ddof=1) + np.std(x, axis=0)[0] + np.prod(x, axis=1)[0] + np.min(x) \
            + np.sort(x)[0, 0] + np.cumsum(x)[-1] + np.take_along_axis(x, np.array([[1], [0]]), 1)[0, 0]
    assert isinstance(y, tflc.Tensor)
    g = tape.gradient(y, x).numpy()
    v = x.numpy()
    expected = 2 * (v - v.mean()) / 5 + 1.0  # var (ddof 1) and the cumsum's last entry
    expected[:, 0] += (v[:, 0] - v[:, 0].mean()) / (2 * v[:, 0].std())
    expected[0] += [-2.0, 6.0, -3.0]  # prod of row 0
    expected[0, 1] += 3.0  # min, sort's first and take_along_axis all pick x[0, 1]
    np.testing.assert_allclose(g, expected, rtol=1e-13)


def test_in_a_trace_sort_and_the_scans_are_recomputed_on_each_call():
    w = np.array([1.0, 2.0, 3.0, 4.0])

    def loss(x):
        return tflc.sum(tflc.sort(x) * w) + tflc.sum(tflc.cumprod(x)) + tflc.prod(x) + tflc.std(x)

    traced = tflc.jit(tflc.value_and_grad(loss))
    for x in ([3.0, 1.0, 2.0, 0.0], [0.5, -2.0, 4.0, 1.0], [1.0, 1.0, 0.0, 0.0]):
        value, g = traced(np.array(x))
        expected = tflc.value_and_grad(loss)(np.array(x))
        np.testing.assert_allclose(value.numpy(), expected[0].numpy(), rtol=1e-14)
        np.testing.assert_allclose(g.numpy(), expected[1].numpy(), rtol=1e-14)


def test_labels_in_pictures():
    import viz
    x = tflc.Variable(np.ones((2, 3)))
    with tflc.GradientTape() as tape:
        y = tflc.sum(tflc.prod(x, 1, dtype=np.float32)) + tflc.sum(tflc.sort(x)) + tflc.var(x)
    source = viz.draw_graph(tape, y).source
    for text in ("prod", "axis=1, dtype=float32", "take_along_axis", "mean"):
        assert text in source, text


# --- bad arguments name the op --------------------------------------------------------------------
BAD = [
    (lambda x: tflc.min(x, axis=1.0), TypeError, "min: axis must be an int or a tuple of ints"),
    (lambda x: tflc.prod(x, axis=5), np.exceptions.AxisError, "prod: axis 5 is out of bounds"),
    (lambda x: tflc.min(x, axis=(0, 0)), ValueError, "min: duplicate value in 'axis'"),
    (lambda x: tflc.var(x, axis=3), np.exceptions.AxisError, "var: axis 3 is out of bounds"),
    (lambda x: tflc.std(x, axis=(1, -1)), ValueError, "std: duplicate value in 'axis'"),
    (lambda x: tflc.var(x, ddof="1"), TypeError, "var: ddof must be a real number"),
    (lambda x: tflc.std(x, ddof=None), TypeError, "std: ddof must be a real number"),
    (lambda x: tflc.sum(x, dtype="nope"), TypeError, "sum: 'nope' is not a NumPy dtype"),
    (lambda x: tflc.prod(x, dtype=object), TypeError, "prod: tensors hold booleans or numbers"),
    (lambda x: tflc.cumsum(x, dtype=str), TypeError, "cumsum: tensors hold booleans or numbers"),
    (lambda x: tflc.var(x, dtype="nope"), TypeError, "var: 'nope' is not a NumPy dtype"),
    (lambda x: tflc.sum(x, out=np.zeros(3)), TypeError, "sum: out= is not supported"),
    (lambda x: tflc.max(x, out=np.zeros(3)), TypeError, "max: out= is not supported"),
    (lambda x: tflc.argmax(x, out=np.zeros(3)), TypeError, "argmax: out= is not supported"),
    (lambda x: tflc.std(x, out=np.zeros(3)), TypeError, "std: out= is not supported"),
    (lambda x: tflc.argmax(x, axis=(0, 1)), TypeError, "argmax: axis must be an int or None"),
    (lambda x: tflc.argmin(x, axis=2), np.exceptions.AxisError, "argmin: axis 2 is out of bounds"),
    (lambda x: tflc.cumsum(x, axis=(0,)), TypeError, "cumsum: axis must be an int or None"),
    (lambda x: tflc.cumprod(x, axis=4), np.exceptions.AxisError, "cumprod: axis 4 is out of bounds"),
    (lambda x: tflc.any(x, axis=0.5), TypeError, "any: axis must be an int or a tuple of ints"),
    (lambda x: tflc.all(x, axis=-3), np.exceptions.AxisError, "all: axis -3 is out of bounds"),
    (lambda x: tflc.sort(x, axis=2), np.exceptions.AxisError, "sort: axis 2 is out of bounds"),
    (lambda x: tflc.sort(x[0, 0]), np.exceptions.AxisError, "sort: axis -1 is out of bounds"),
    (lambda x: tflc.sort(x, kind="bubble"), ValueError, "sort: sort kind must be"),
    (lambda x: tflc.sort(x, order="f"), TypeError, "sort: order= applies to structured arrays"),
    (lambda x: tflc.argsort(x, kind="bubble"), ValueError, "argsort: sort kind must be"),
    (lambda x: tflc.argsort(x, axis=[0]), TypeError, "argsort: axis must be an int or None"),
    (lambda x: tflc.take_along_axis(x, np.array([[0.0]]), 1), IndexError,
     "take_along_axis: indices must be an integer array, got float64"),
    (lambda x: tflc.take_along_axis(x, np.array([[5]]), 1), IndexError, "take_along_axis: index 5"),
    (lambda x: tflc.take_along_axis(x, np.array([0]), 1), ValueError, "take_along_axis: "),
    (lambda x: tflc.var(x + 1j), TypeError, "var: complex tensors are not supported"),
]


@pytest.mark.parametrize("case", range(len(BAD)))
def test_bad_arguments_name_the_op(case):
    f, error, message = BAD[case]
    x = tflc.Variable(np.ones((2, 3)))
    with tflc.GradientTape(), pytest.raises(error, match="^" + re.escape(message)):
        f(x)


@SWEEP
@given(rows=st.integers(1, 300), columns=st.integers(1, 80), keepdims=st.booleans(),
       axis=st.sampled_from([1, -1, (1,), (-1,)]), dtype=st.sampled_from(["float32", "float64",
                                                                          "int64"]),
       seed=seeds)
def test_max_and_min_of_short_rows_are_numpys(rows, columns, keepdims, axis, dtype, seed):
    """Tall, narrow arrays (a softmax's scores) take another path through NumPy (a transposed
    copy): the same numbers, NaN and shapes included (which of -0.0 and 0.0 a tie of zeros
    gives depends on the order either way)."""
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal((rows, columns)) * 10).astype(dtype)
    if dtype != "int64":
        x[rng.random(x.shape) < 0.05] = -0.0
        x[rng.random(x.shape) < 0.01] = np.nan
    for ours, numpys in ((tflc.max, np.max), (tflc.min, np.min)):
        got, expected = ours(x, axis=axis, keepdims=keepdims).numpy(), numpys(x, axis, keepdims=keepdims)
        assert got.shape == expected.shape and got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    # a view (not C-contiguous) takes NumPy's own path
    np.testing.assert_array_equal(tflc.max(x[:, ::-1], axis=1).numpy(), np.max(x[:, ::-1], 1))
