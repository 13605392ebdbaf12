"""Reductions, scans and sorting, with NumPy's names, signatures and results.

sum, prod, max and min are primitives; mean is sum divided by the count (fused); var and std are
compositions (mean, subtract, multiply, sum, divide; std a square root of var). cumsum and
cumprod are primitives, and so is the linear scan that cumprod's and prod's VJPs are written
with: they multiply, never divide, so zeros in the input are exact. sort is argsort, then
take_along_axis, whose VJP carries the gradient back through the permutation. argmax, argmin,
argsort, any and all give integer or boolean tensors, without gradients. `unbroadcast`, the one
helper every broadcasting VJP uses, is a sum too.

Positional calls keep the engine's older reduction signature (x, axis, keepdims) working: a
bool where NumPy's signature has `dtype` or `out` (which NumPy refuses there) is `keepdims`, so
`sum(x, 0, True)`, `sum.bind(g, axes, False)` and `max(x, 1, True)` mean what they always did.
`out=` is accepted only as None (tensors are immutable: use the result).
"""
import builtins
import functools
import math
import warnings
from numbers import Number

import numpy as np

from ..primitive import Primitive
from ..tape import is_int
from ..tensor import Tensor, as_array
from . import elementwise as _elementwise
from . import shape as _shape


# --- arguments ---------------------------------------------------------------------------------
def _axis(axis, op):
    """A reduction's `axis` as NumPy takes it: None, an int or a tuple of ints (not a float, a
    bool or an array, which NumPy refuses too)."""
    if axis is None or type(axis) is int:
        return axis
    if is_int(axis):
        return int(axis)
    if isinstance(axis, (tuple, list)) and builtins.all(map(is_int, axis)):
        return tuple(map(int, axis))
    raise TypeError(f"{op}: axis must be an int or a tuple of ints, got {axis!r}")


def _one_axis(axis, op):
    """An `axis` that NumPy takes as None or a single int (argmax, cumsum, sort, ...)."""
    if axis is None or type(axis) is int:
        return axis
    if is_int(axis):
        return int(axis)
    raise TypeError(f"{op}: axis must be an int or None, got {axis!r}")


def _is_bool(value):
    return type(value) is bool or isinstance(value, np.bool_)


def _no_out(out, op):
    if out is not None:
        raise TypeError(f"{op}: out= is not supported (tensors are immutable; use the result)")


def _dtype(dtype, op):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"{op}: {dtype!r} is not a NumPy dtype") from None
    if dtype.kind not in "biufc":
        raise TypeError(f"{op}: tensors hold booleans or numbers, not {dtype}")
    return dtype


def _reduction(op):
    """The public signature of max, min, any and all: NumPy's (x, axis=None, out=None,
    keepdims=False), axis checked; out must be None, and a bool in its place is keepdims."""
    def prepare(x, axis=None, out=None, keepdims=False):
        if out is not None:
            if not _is_bool(out):
                _no_out(out, op)
            keepdims = out
        return (x,), (_axis(axis, op), bool(keepdims))
    return prepare


def _typed_reduction(op):
    """The public signature of sum, prod and mean: NumPy's (x, axis=None, dtype=None,
    out=None, keepdims=False), a bool in dtype's place being keepdims. The parameters are
    (axis, keepdims), or (axis, keepdims, dtype) when a dtype is asked for."""
    def prepare(x, axis=None, dtype=None, out=None, keepdims=False):
        if out is not None:
            _no_out(out, op)
        if dtype is not None:
            if _is_bool(dtype):
                return (x,), (_axis(axis, op), bool(dtype))
            return (x,), (_axis(axis, op), bool(keepdims), _dtype(dtype, op))
        return (x,), (_axis(axis, op), bool(keepdims))
    return prepare


def _label(axis, keepdims, dtype=None):
    return (("all" if axis is None else f"axis={axis}") + (", keepdims" if keepdims else "")
            + ("" if dtype is None else f", dtype={dtype}"))


def _axes_of(axis, ndim, op):
    """`axis` (None, an int or a tuple) as a tuple of distinct non-negative axes of an array of
    `ndim` dims, with NumPy's errors, naming `op` (for the compositions, whose inner ops would
    name themselves)."""
    if axis is None:
        return tuple(range(ndim))
    axes = axis if isinstance(axis, tuple) else (axis,)
    for a in axes:
        if not -builtins.max(ndim, 1) <= a < builtins.max(ndim, 1):  # (0-d takes axis 0 or -1)
            raise np.exceptions.AxisError(f"{op}: axis {a} is out of bounds for array of "
                                          f"dimension {ndim}")
    normal = tuple(a % ndim if ndim else 0 for a in axes)
    if len(set(normal)) != len(normal):
        raise ValueError(f"{op}: duplicate value in 'axis' ({axis!r})")
    return normal


def _like(a, dtype):
    """`a` in `dtype` (a VJP's result in its input's dtype, where the op computed in another)."""
    return a if a.dtype == dtype else _shape.cast.bind(a, dtype)


def _kept(g, x, axis, keepdims):
    """`g` shaped as if the reduction had kept its dims, so it broadcasts against `x`."""
    if keepdims or axis is None or x.ndim == 0:  # (a 0-d array reduces over axis 0 to itself)
        return g
    axes = [a % x.ndim for a in (axis if isinstance(axis, tuple) else (axis,))]
    return g.reshape(tuple(1 if i in axes else n for i, n in enumerate(x.shape)))


# --- sum, mean -----------------------------------------------------------------------------------
def _add_reduce(x, axis, keepdims=False, dtype=None):
    """np.add.reduce(x, axis), except that a 2-D float array summed over one axis of at most
    BLAS_SUM_LIMIT entries is a product with ones: BLAS does it in a fraction of the time NumPy's
    reduction machinery takes to set up on small arrays (bias gradients, a softmax's row sums).
    Booleans and small integers count in int64, as np.sum does; `dtype` as np.sum's."""
    if dtype is not None:
        return np.sum(x, axis=axis, dtype=dtype, keepdims=keepdims)
    if type(x) is np.ndarray:
        if x.ndim == 2 and x.dtype in _BLAS_FLOATS:
            if axis in _FIRST_AXIS and x.shape[0] <= BLAS_SUM_LIMIT:
                total = _ones(x.shape[0], x.dtype) @ x
                return total[None] if keepdims else total
            if axis in _LAST_AXIS and x.shape[1] <= BLAS_SUM_LIMIT:
                total = x @ _ones(x.shape[1], x.dtype)
                return total[:, None] if keepdims else total
        elif x.dtype.kind in "biu":
            return np.sum(x, axis=axis, keepdims=keepdims)
    return np.add.reduce(x, axis, keepdims=keepdims)


BLAS_SUM_LIMIT = 4096  # entries summed: above, NumPy's own reduction is as fast
_BLAS_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
# (compared with ==: _axis has made every axis an int, so True or 1.0 never gets here)
_FIRST_AXIS, _LAST_AXIS = (0, -2, (0,), (-2,)), (1, -1, (1,), (-1,))


@functools.lru_cache(maxsize=64)
def _ones(n, dtype):
    ones = np.ones(n, dtype)
    ones.flags.writeable = False
    return ones


def _sum_grad(g, ans, x, axis, keepdims, dtype=None):
    grad = _shape.broadcast_to.bind(_kept(g, x, axis, keepdims), x.shape)
    return grad if dtype is None else _like(grad, x.dtype)


sum = Primitive(
    "sum", _add_reduce, (_sum_grad,), saves="", prepare=_typed_reduction("sum"), label=_label,
    method="sum", rule=("{g} broadcast back to {x}",),
    doc="Sum over `axis` (None: all), as np.sum(x, axis=None, dtype=None, keepdims=False); "
        "with `dtype`, summed in that dtype, the gradient coming back in x's.")


def _count(shape, axis):
    """How many entries a reduction over `axis` of an array of `shape` gathers into each result
    (a Python int, which divides without upcasting float32)."""
    if axis is None or not shape:
        return math.prod(shape)
    return math.prod(shape[a] for a in (axis if isinstance(axis, tuple) else (axis,)))


def _mean_forward(x, axis, keepdims, dtype=None):
    x = np.asarray(x)  # (a Python number is a 0-d mean)
    if dtype is not None:  # np.mean's: summed in dtype, the quotient in dtype too
        mean = _mean_forward(x.astype(dtype, copy=False), axis, keepdims)
        return mean if mean.dtype == dtype else mean.astype(dtype)
    if x.dtype == np.float16:  # sum and count overflow float16 at 65504: NumPy uses float32
        return _mean_forward(x.astype(np.float32), axis, keepdims).astype(np.float16)
    return _add_reduce(x, axis, keepdims) / _count(x.shape, axis)


def _mean_grad(g, ans, x, axis, keepdims, dtype=None):
    share, count = _kept(g, x, axis, keepdims), _count(x.shape, axis)
    if g.dtype == np.float16:  # (a count above 65504 would be inf in float16)
        share = (share.astype(np.float32) / count).astype(np.float16)
    else:
        share = share / count
    grad = _shape.broadcast_to.bind(share, x.shape)
    return grad if dtype is None else _like(grad, x.dtype)


# sum(x) / count, fused: one op in the pictures (the seed's loss is a mean), and one call less
# each way (tests check it against the composition)
mean = Primitive("mean", _mean_forward, (_mean_grad,), saves="", prepare=_typed_reduction("mean"),
                 label=_label, method="mean", rule=("{g} / count, broadcast back to {x}",),
                 doc="Mean over `axis` (None: all), as np.mean(x, axis=None, dtype=None, "
                     "keepdims=False).")


# --- max, min --------------------------------------------------------------------------------------
def _extremum_grad(g, ans, x, axis, keepdims):
    """Ties split the gradient evenly among the tied maxima (minima), as torch.amax and JAX do."""
    winners = _shape.cast.bind(_elementwise.equal.bind(x, _kept(ans, x, axis, keepdims)), g.dtype)
    return _kept(g, x, axis, keepdims) * (winners / sum.bind(winners, axis, True))


def _extremum(ufunc):
    """max's or min's forward: `ufunc.reduce`. NumPy reduces short contiguous rows slowly (a
    softmax's row maxima over 10 classes), so a C-contiguous 2-D array with many more rows than
    columns is reduced down the columns of its transpose instead, several times faster: the
    same numbers, as a maximum does not depend on the order it is taken in (only which of -0.0
    and 0.0 a tie of zeros gives does, in NumPy's own order too)."""
    def forward(x, axis, keepdims):
        if (type(x) is np.ndarray and x.ndim == 2 and axis in _LAST_AXIS
                and x.shape[1] <= SHORT_ROW and x.shape[0] >= 4 * x.shape[1]
                and x.flags.c_contiguous):
            extremum = ufunc.reduce(np.ascontiguousarray(x.T), 0)
            return extremum[:, None] if keepdims else extremum
        return ufunc.reduce(x, axis, keepdims=keepdims)
    return forward


SHORT_ROW = 64  # columns: above, NumPy's own reduction along rows is as fast


max = Primitive("max", _extremum(np.maximum),
                (_extremum_grad,), saves="x ans", prepare=_reduction("max"), label=_label,
                method="max", rule=("{g} ⊙ [{x} = {ans}] / ties (broadcast back)",),
                doc="Maximum over `axis`, as np.max. With ties, the gradient is split evenly "
                    "among them.")

min = Primitive("min", _extremum(np.minimum),
                (_extremum_grad,), saves="x ans", prepare=_reduction("min"), label=_label,
                method="min", rule=("{g} ⊙ [{x} = {ans}] / ties (broadcast back)",),
                doc="Minimum over `axis`, as np.min. With ties, the gradient is split evenly "
                    "among them.")


# --- the linear scan (cumprod's and prod's VJPs) -----------------------------------------------------
def _along(axis, start=None, stop=None, step=None):
    """The index of `start:stop:step` along `axis` (a non-negative int), everything elsewhere."""
    return (slice(None),) * axis + (slice(start, stop, step),)


def _scan_forward(c, b, axis, reverse):
    """s[k] = b[k] + c[k] * s[k-1] along `axis` from s[-1] = 0; with `reverse`, s[k] = b[k] +
    c[k+1] * s[k+1] from s[n] = 0. c[k] links places k-1 and k, so c[0] is never read, and the
    scan and its reverse are each other's transposes.

    Blocked, so that Python steps over the axis are about 2 sqrt(n), and the work O(n): the
    axis is cut into blocks of sqrt(n) places, each block scanned from zero (all at once, one
    place at a time), then the blocks' results are carried from one block to the next (one
    block at a time), each place getting the carry times the product of the links before it in
    its block. Multiplying and adding only: zeros in c are exact. A block's product of links can
    overflow where the recurrence itself would not (1e200 * 1e200 * 1e-300); then, finite inputs
    giving a non-finite result, the scan runs again one place at a time."""
    shape = np.broadcast_shapes(np.shape(b), np.shape(c))
    dtype = np.result_type(c, b)
    if not shape or not shape[axis]:
        return np.array(np.broadcast_to(b, shape), dtype)
    n = shape[axis]
    b_, c_ = (np.moveaxis(np.broadcast_to(v, shape), axis, 0) for v in (b, c))
    width, rest = math.isqrt(n), b_.shape[1:]
    blocks = -(-n // width)
    s = np.zeros((blocks * width,) + rest, dtype)  # (padded at the end: zeros and ones)
    a = np.ones_like(s)
    if reverse:  # the forward scan of the flipped arrays, each link moved to the place after it
        s[:n], a[1:n] = b_[::-1], c_[:0:-1]
    else:
        s[:n], a[:n] = b_, c_

    def by_place(v):  # [place in its block, block, ...]: each step below reads contiguous memory
        return np.ascontiguousarray(v.reshape((blocks, width) + rest).swapaxes(0, 1))

    s, a = by_place(s), by_place(a)
    with np.errstate(over="ignore", invalid="ignore"):  # (a block's overflow: see above)
        for k in range(1, width):  # each block scanned from zero; a: the links' products
            s[k] += a[k] * s[k - 1]
            a[k] *= a[k - 1]
        carry = np.zeros((blocks,) + rest, dtype)  # (block 0's first link is never read)
        carry[1:2] = s[-1, :1]
        for j in range(2, blocks):
            carry[j] = s[-1, j - 1] + a[-1, j - 1] * carry[j - 1]
        s[:, 1:] += a[:, 1:] * carry[1:]
    s = s.swapaxes(0, 1).reshape((blocks * width,) + rest)[:n]
    if not np.isfinite(s).all() and np.isfinite(b).all() and np.isfinite(c).all():
        return _sequential_scan(shape, c, b, axis, reverse)
    return np.ascontiguousarray(np.moveaxis(s[::-1] if reverse else s, 0, axis))


def _sequential_scan(shape, c, b, axis, reverse):
    """The scan one place at a time (n whole-array steps)."""
    s = np.moveaxis(np.array(np.broadcast_to(b, shape), dtype=np.result_type(c, b)), axis, 0)
    c = np.moveaxis(np.broadcast_to(c, shape), axis, 0)
    if reverse:
        for k in range(shape[axis] - 2, -1, -1):
            s[k] += c[k + 1] * s[k + 1]
    else:
        for k in range(1, shape[axis]):
            s[k] += c[k] * s[k - 1]
    return np.ascontiguousarray(np.moveaxis(s, 0, axis))


def _shift(z, axis):
    """`z` moved one place on along `axis` (z[k-1] at k), with a zero at 0."""
    return _shape.scatter_add.bind(z[_along(axis, None, -1)], _along(axis, 1), z.shape)


def _scan_grad_c(g, ans, c, b, axis, reverse):
    adjoint = _scan.bind(c, g, axis, not reverse)
    grad = adjoint * _shift(ans, axis) if not reverse else _shift(adjoint, axis) * ans
    return unbroadcast(grad, c.shape)


_scan = Primitive(
    "linear_scan", _scan_forward,
    (_scan_grad_c, lambda g, ans, c, b, axis, reverse:
        unbroadcast(_scan.bind(c, g, axis, not reverse), b.shape)),
    saves="c ans", label=lambda axis, reverse: f"axis={axis}" + (", reverse" * reverse),
    doc="s[k] = b[k] + c[k] s[k-1] along axis (reverse: b[k] + c[k+1] s[k+1]); the VJPs of "
        "cumprod and prod are written with it.")


def _unit(shape, axis, at, dtype):
    """A constant of `shape` with 1 at place `at` along `axis` (size-1 elsewhere: it broadcasts)."""
    unit = np.zeros(tuple(n if i == axis else 1 for i, n in enumerate(shape)), dtype)
    if unit.size:
        unit[_along(axis, at, at + 1 if at != -1 else None)] = 1
    return unit


def _exclusive(y, axis):
    """y[k-1] at k, 1 at 0: the cumulative product before each place, from cumprod's y."""
    return _shift(y, axis) + _unit(y.shape, axis, 0, y.dtype)


def _others(z, axis):
    """The product of z's other entries along `axis`, at each place: what comes before times
    what comes after (no division: exact with one zero or several)."""
    after = _scan.bind(z, _unit(z.shape, axis, -1, z.dtype), axis, True)
    return _exclusive(cumprod.bind(z, axis), axis) * after


# --- prod, cumsum, cumprod -----------------------------------------------------------------------
def _prod_grad(g, ans, x, axis, keepdims, dtype=None):
    """g times the product of the others (not ans / x, which is 0 / 0 at a zero): the reduced
    axes are moved last and flattened into one, along which `_others` runs."""
    g = _kept(g, x, axis, keepdims)
    axes = () if x.ndim == 0 else _axes_of(axis, x.ndim, "prod")
    if not axes:  # nothing is multiplied: the identity
        return _like(_shape.broadcast_to.bind(g, x.shape), x.dtype)
    z = x if dtype is None else _like(x, dtype)
    rest = [i for i in range(x.ndim) if i not in axes]
    order = rest + sorted(axes)
    moved = z if order == sorted(order) else z.transpose(order)
    lead = moved.shape[:len(rest)]
    others = _others(moved.reshape(lead + (math.prod(moved.shape[len(rest):]),)), len(rest))
    others = others.reshape(moved.shape)
    if moved is not z:
        others = others.transpose(tuple(int(i) for i in np.argsort(order)))
    return _like(g * others, x.dtype)


prod = Primitive(
    "prod", lambda x, axis, keepdims, dtype=None: np.prod(x, axis, dtype, keepdims=keepdims),
    (_prod_grad,), saves="x", prepare=_typed_reduction("prod"), label=_label, method="prod",
    doc="Product over `axis`, as np.prod(x, axis=None, dtype=None, keepdims=False). The "
        "gradient is the product of the other entries, exact with zeros in x (one or several).")


def _scan_prepare(op):
    """cumsum's and cumprod's signature: NumPy's (x, axis=None, dtype=None, out=None)."""
    def prepare(x, axis=None, dtype=None, out=None):
        _no_out(out, op)
        axis = _one_axis(axis, op)
        return (x,), (axis,) if dtype is None else (axis, _dtype(dtype, op))
    return prepare


def _scan_label(axis, dtype=None):
    return ("flattened" if axis is None else f"axis={axis}") + \
        ("" if dtype is None else f", dtype={dtype}")


def _flat_axis(z, axis):
    """(z, axis) as a scan runs along it: flattened for axis None (and for 0-d, which NumPy's
    scans treat as 1-D), the axis non-negative."""
    if axis is None or z.ndim == 0:
        return z.reshape(-1), 0
    return z, axis % z.ndim


def _cumsum_grad(g, ans, x, axis, dtype=None):
    """The sum of g over the places at or after each: a cumsum of g reversed, reversed."""
    g, along = _flat_axis(g, axis)
    backwards = _along(along, step=-1)
    grad = cumsum.bind(g[backwards], along)[backwards]
    return _like(grad if grad.shape == x.shape else grad.reshape(x.shape), x.dtype)


cumsum = Primitive(
    "cumsum", lambda x, axis, dtype=None: np.cumsum(x, axis, dtype),
    (_cumsum_grad,), saves="", prepare=_scan_prepare("cumsum"), label=_scan_label,
    method="cumsum", doc="Cumulative sum along `axis` (None: of the flattened array), as np.cumsum.")


def _cumprod_grad(g, ans, x, axis, dtype=None):
    """d/dx[i] of sum_k g[k] y[k] = y[i-1] * sum over k >= i of g[k] x[i+1] ... x[k]: the
    product before i times a reverse linear scan of g with links x (no division: exact at
    zeros, and differentiable again)."""
    z, along = _flat_axis(x if dtype is None else _like(x, dtype), axis)
    grad = _exclusive(ans, along) * _scan.bind(z, g, along, True)
    return _like(grad if grad.shape == x.shape else grad.reshape(x.shape), x.dtype)


cumprod = Primitive(
    "cumprod", lambda x, axis, dtype=None: np.cumprod(x, axis, dtype),
    (_cumprod_grad,), saves="x ans", prepare=_scan_prepare("cumprod"), label=_scan_label,
    method="cumprod",
    doc="Cumulative product along `axis` (None: of the flattened array), as np.cumprod; the "
        "gradient is exact with zeros in x.")


# --- var, std --------------------------------------------------------------------------------------
def _moments_input(x, axis, dtype, out, ddof, op):
    """var's and std's arguments checked, naming `op`: (x as a Tensor in the dtype to compute
    in, axis, ddof)."""
    _no_out(out, op)
    x = x if isinstance(x, Tensor) else Tensor(as_array(x, op))
    axis = _axis(axis, op)
    _axes_of(axis, x.ndim, op)
    if not isinstance(ddof, Number) or isinstance(ddof, (complex, np.complexfloating)):
        raise TypeError(f"{op}: ddof must be a real number, got {ddof!r}")
    if dtype is not None:
        dtype = _dtype(dtype, op)
        if dtype != x.dtype:
            x = _shape.cast(x, dtype)
    if x.dtype.kind == "c":
        raise TypeError(f"{op}: complex tensors are not supported")
    return x, axis, ddof.item() if isinstance(ddof, np.generic) else ddof


def _var(x, axis, ddof, keepdims):
    """The composition: the mean of the squared deviations, with count - ddof for the count."""
    centred = x - mean(x, axis, keepdims=True)
    count = _count(x.shape, axis) - ddof
    if count <= 0:
        warnings.warn("Degrees of freedom <= 0 for slice", RuntimeWarning, stacklevel=3)
        count = 0  # (as NumPy: inf, or NaN for 0 / 0)
    return sum(centred * centred, axis, keepdims=keepdims) / count


def var(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """Variance over `axis` (None: all), as np.var: mean((x - mean(x)) ** 2), dividing by the
    count less `ddof`. A composition of mean, subtract, multiply, sum and divide. Integers are
    computed in float64; `dtype` computes in that dtype."""
    x, axis, ddof = _moments_input(x, axis, dtype, out, ddof, "var")
    return _var(x, axis, ddof, keepdims)


def _root_grad(g, ans, _x):
    """g / (2 sqrt(v)), and 0 where v == 0: a constant slice, where std has a corner (0 is a
    subgradient there, PyTorch's choice) rather than a NaN (0 / 0)."""
    positive = _shape.cast.bind(_elementwise.greater.bind(ans, 0), ans.dtype)
    return g * positive / (2 * ans + (1 - positive))


_std_root = Primitive("std_sqrt", np.sqrt, (_root_grad,), saves="ans",
                      doc="The square root that ends std: its derivative at 0 is taken as 0.")


def std(x, axis=None, dtype=None, out=None, ddof=0, keepdims=False):
    """Standard deviation over `axis`, as np.std: the square root of var (same arguments).
    Where a slice is constant (the variance 0), the gradient is taken as 0, as in PyTorch."""
    x, axis, ddof = _moments_input(x, axis, dtype, out, ddof, "std")
    return _std_root(_var(x, axis, ddof, keepdims))


var.method, std.method = "var", "std"


# --- argmax, argmin, any, all ------------------------------------------------------------------------
def _arg_reduction(op):
    """argmax's and argmin's signature: NumPy's (x, axis=None, out=None, *, keepdims=False)."""
    def prepare(x, axis=None, out=None, *, keepdims=False):
        _no_out(out, op)
        return (x,), (_one_axis(axis, op), bool(keepdims))
    return prepare


argmax = Primitive(
    "argmax", lambda x, axis, keepdims: np.argmax(x, axis, keepdims=keepdims), (None,),
    prepare=_arg_reduction("argmax"), label=_label, method="argmax",
    doc="The index of the maximum along `axis` (None: in the flattened array), as np.argmax: "
        "the first one at ties. An integer tensor, without a gradient.")

argmin = Primitive(
    "argmin", lambda x, axis, keepdims: np.argmin(x, axis, keepdims=keepdims), (None,),
    prepare=_arg_reduction("argmin"), label=_label, method="argmin",
    doc="The index of the minimum along `axis` (None: in the flattened array), as np.argmin: "
        "the first one at ties. An integer tensor, without a gradient.")

any = Primitive("any", lambda x, axis, keepdims: np.any(x, axis, keepdims=keepdims), (None,),
                prepare=_reduction("any"), label=_label, method="any",
                doc="Whether any entry over `axis` is nonzero, as np.any: a boolean tensor.")

all = Primitive("all", lambda x, axis, keepdims: np.all(x, axis, keepdims=keepdims), (None,),
                prepare=_reduction("all"), label=_label, method="all",
                doc="Whether every entry over `axis` is nonzero, as np.all: a boolean tensor.")


# --- sorting and gathering -------------------------------------------------------------------------
def _sort_kind(kind, order, op):
    """NumPy's `kind` (checked as NumPy checks it) and `order` (structured arrays only: None)."""
    if order is not None:
        raise TypeError(f"{op}: order= applies to structured arrays, which tensors are not")
    if kind is not None:
        try:
            np.empty(0).argsort(kind=kind)
        except (ValueError, TypeError) as error:
            raise type(error)(f"{op}: {error}") from None
    return kind


def _argsort_prepare(x, axis=-1, kind=None, order=None, *, stable=None):
    return (x,), (_one_axis(axis, "argsort"), _sort_kind(kind, order, "argsort"), stable)


argsort = Primitive(
    "argsort", lambda x, axis, kind, stable: np.argsort(x, axis, kind=kind, stable=stable),
    (None,), prepare=_argsort_prepare, method="argsort",
    label=lambda axis, kind, stable: ("flattened" if axis is None else f"axis={axis}")
    + ("" if kind is None else f", {kind}") + (", stable" if stable else ""),
    doc="The indices that sort `x` along `axis`, as np.argsort (the same `kind` and `stable`: "
        "at ties, only a stable sort promises the original order). An integer tensor.")


def _take_prepare(x, indices, axis=-1):
    if not isinstance(indices, Tensor):
        indices = np.asarray(indices)
    if indices.dtype.kind not in "iu":
        raise IndexError(f"take_along_axis: indices must be an integer array, got {indices.dtype}")
    return (x, indices), (_one_axis(axis, "take_along_axis"),)


def _scatter_along_forward(g, indices, axis, shape, unique=False):
    """Zeros of `shape` with `g` added where take_along_axis(·, indices, axis) reads (repeated
    indices accumulate); `unique` indices (a permutation: sort's) are put, which is faster."""
    if axis is None:
        out = np.zeros(math.prod(shape), np.result_type(g))
        np.add.at(out, indices, g)
        return out.reshape(shape)
    out = np.zeros(shape, np.result_type(g))
    if unique:
        np.put_along_axis(out, indices, g, axis)
        return out
    ndim, axis = len(shape), axis % builtins.max(len(shape), 1)
    index = tuple(indices if i == axis else
                  np.arange(n).reshape(tuple(n if j == i else 1 for j in range(ndim)))
                  for i, n in enumerate(shape))
    np.add.at(out, index, g)
    return out


_scatter_along = Primitive(
    "scatter_along_axis", _scatter_along_forward,
    (lambda g, ans, _h, indices, axis, shape, unique=False: take_along_axis.bind(g, indices, axis),
     None),
    saves="indices", label=lambda axis, shape, unique=False: f"axis={axis}",
    doc="take_along_axis's VJP: g added into zeros at the indices it read.")

take_along_axis = Primitive(
    "take_along_axis", np.take_along_axis,
    (lambda g, ans, x, indices, axis: _scatter_along.bind(g, indices, axis, x.shape), None),
    saves="indices", prepare=_take_prepare,
    label=lambda axis: "flattened" if axis is None else f"axis={axis}",
    doc="np.take_along_axis(x, indices, axis=-1): x's entries at `indices` along `axis`, "
        "differentiable in x (the gradients of repeated indices add up); indices are integers.")

# sort's gather: the indices are a permutation, so its VJP puts g back instead of adding it
_take_permuted = Primitive(
    "take_along_axis", np.take_along_axis,
    (lambda g, ans, x, indices, axis: _scatter_along.bind(g, indices, axis, x.shape, True), None),
    saves="indices", label=lambda axis: f"axis={axis}",
    doc="take_along_axis(x, indices, axis) for indices that are a permutation along the axis.")


def sort(x, axis=-1, kind=None, order=None, *, stable=None):
    """x sorted along `axis` (None: flattened), as np.sort: take_along_axis(x, argsort(x, axis,
    kind="stable"), axis), so the gradient goes back through the permutation. At ties the
    order is the stable one whatever `kind` says (the values are the same): the k-th of equal
    entries in x gets the gradient of the k-th of them in the result. NaNs sort last, as in
    NumPy. There is no Tensor method: ndarray.sort sorts in place and returns None, which an
    immutable tensor cannot do, and torch's Tensor.sort returns (values, indices); a third
    meaning would mislead both."""
    x = x if isinstance(x, Tensor) else Tensor(as_array(x, "sort"))
    _sort_kind(kind, order, "sort")
    axis = _one_axis(axis, "sort")
    if axis is None:
        x, axis = _shape.reshape(x, (-1,)), -1
    if x.ndim == 0:  # (the reductions take axis 0 of a 0-d array, NumPy's sort does not)
        raise np.exceptions.AxisError(f"sort: axis {axis} is out of bounds for array of "
                                      "dimension 0")
    _axes_of(axis, x.ndim, "sort")
    return _take_permuted(x, argsort(x, axis, kind="stable"), axis)


# --- broadcasting ------------------------------------------------------------------------------------
def unbroadcast(g, shape):
    """Sum `g` over the axes NumPy broadcasting added or stretched, back to an input's `shape`."""
    if g.shape == shape:
        return g
    total = sum.bind(g, _broadcast_axes(g.shape, shape), False)
    return total if total.shape == shape else total.reshape(shape)


@functools.lru_cache(maxsize=1024)  # a training loop meets the same few shape pairs every step
def _broadcast_axes(g_shape, shape):
    """The axes broadcasting `shape` to `g_shape` added (leading) or stretched (size 1)."""
    lead = len(g_shape) - len(shape)
    return tuple(range(lead)) + tuple(lead + i for i, n in enumerate(shape)
                                      if n == 1 and g_shape[lead + i] != 1)
