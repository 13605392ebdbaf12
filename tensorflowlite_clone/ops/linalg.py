"""Linear algebra: the matrix product (batched and 1-D as np.matmul), einsum, and NumPy's
products built on them (tensordot, dot, vdot, outer, inner, kron, cross); and np.linalg's
norm, det, inv and solve, which `tflc.linalg` (numpy_linalg.py) exports, since NumPy has them
under np.linalg rather than at the top level.

einsum is the general one: every operand's gradient is another einsum, read off the subscripts
(`ij,jk->ik`: the gradient of the first operand is `ik,jk->ij` of g and the second).
"""
import functools
import inspect
import string
from collections import Counter

import numpy as np

from ..primitive import Primitive
from ..tape import is_int
from . import elementwise as _elementwise
from . import reductions as _reductions
from . import shape as _shape


def _as_matrices(g, a, b):
    """Promote 1-D operands to matrices as `matmul` does, and shape `g` to match."""
    if b.ndim == 1:
        b, g = b.reshape(b.shape + (1,)), g.reshape(g.shape + (1,))
    if a.ndim == 1:
        a, g = a.reshape((1,) + a.shape), g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    return g, a, b


def _matmul_grad_a(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reductions.unbroadcast(g2 @ b2.mT, a2.shape).reshape(a.shape)


def _matmul_grad_b(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reductions.unbroadcast(a2.mT @ g2, b2.shape).reshape(b.shape)


matmul = Primitive("matmul", np.matmul, (_matmul_grad_a, _matmul_grad_b),
                   "cannot multiply {} by {}", saves="a b", operator="__matmul__",
                   rule=("{g} · {b}ᵀ", "{a}ᵀ · {g}"))


# --- helpers -----------------------------------------------------------------------------------
def _shape_of(x):
    """The shape of an op's input as it was passed: a Tensor, an array, an Aval, a number or a
    list (without reading a Tensor's value)."""
    shape = getattr(x, "shape", None)
    return tuple(shape) if shape is not None else np.shape(x)


def _weakly_typed(operands):
    """Python numbers as 0-d arrays of the dtype NumPy's promotion gives them with the other
    operands: np.einsum and np.tensordot would make them float64 first, upcasting float32."""
    if not any(type(x) in (int, float) for x in operands):
        return operands
    dtype = np.result_type(*operands)  # (Python numbers count weakly here)
    return [np.asarray(x, dtype) if type(x) in (int, float) else x for x in operands]


_NUMPY_DEFAULTS = {"out": None, "dtype": None, "order": "K", "casting": "safe"}


def _numpy_defaults(op, **given):
    """Refuse NumPy keywords the engine does not take, but at their defaults (`out=`: tensors
    are values)."""
    for name, value in given.items():
        default = _NUMPY_DEFAULTS[name]
        if value is default or isinstance(value, str) and value == default:
            continue
        raise TypeError(f"{op}: {name}={value!r} is not supported"
                        + (" (tensors are values: use the result)" if name == "out" else ""))


def _dtype_of(x):
    dtype = getattr(x, "dtype", None)
    return dtype if dtype is not None else np.asarray(x).dtype


def _shapes_text(shapes):
    return ", ".join(map(str, shapes))


# --- einsum ------------------------------------------------------------------------------------
_LETTERS = string.ascii_uppercase + string.ascii_lowercase  # (NumPy's sublist labels 0..51)


@functools.lru_cache(maxsize=1024)
def _parsed(subscripts, shapes):
    """NumPy's reading of einsum's `subscripts` for operands of `shapes`: (terms, output, sizes),
    each operand's indices as a string with one letter per axis (the axes under an ellipsis
    written out as letters the subscripts do not use, right-aligned as in broadcasting), the
    output's, and each letter's size (a size 1 stretches to the others, as np.einsum does)."""
    def fail(why):
        raise ValueError(f"einsum: {why} (subscripts {subscripts!r}, operand shapes "
                         f"{_shapes_text(shapes) or 'none'})")

    text = subscripts.replace(" ", "")
    explicit = "->" in text
    inputs, _, output = text.partition("->")
    terms = inputs.split(",")
    if not shapes:
        fail("no operands")
    if len(terms) != len(shapes):
        fail(f"{len(terms)} term{'s' * (len(terms) != 1)} for {len(shapes)} "
             f"operand{'s' * (len(shapes) != 1)}")
    for part in terms + [output] * explicit:
        odd = set(part.replace("...", "", 1)) - set(_LETTERS)
        if "." in odd:
            fail(f"{part!r} has a '.' that is not part of one '...'")
        if odd:
            fail(f"{part!r} has {sorted(odd)[0]!r}: indices are letters")
    extras = []  # axes under each operand's ellipsis
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        named = len(term) - 3 * ("..." in term)
        extra = len(shape) - named
        if extra < 0 or extra and "..." not in term:
            fail(f"{term!r} names {named} ax{'i' if named == 1 else 'e'}s of operand {k}, which "
                 f"has {len(shape)}")
        extras.append(extra)
    spare = [c for c in _LETTERS if c not in text]
    ellipsis = "".join(spare[:max(extras)])
    if len(ellipsis) < max(extras):
        fail("too many axes under '...'")
    terms = tuple(t.replace("...", ellipsis[len(ellipsis) - e:]) for t, e in zip(terms, extras))

    def index(c):
        return "an axis under '...'" if c in ellipsis else f"index {c!r}"

    sizes = {}
    for k, (term, shape) in enumerate(zip(terms, shapes)):
        own = {}
        for c, n in zip(term, shape):
            if own.setdefault(c, n) != n:
                fail(f"{index(c)} is repeated in operand {k} over axes of sizes {own[c]} and {n}")
        for c, n in own.items():
            old = sizes.get(c)
            if old is None or old == 1:
                sizes[c] = n
            elif n != 1 and n != old:
                fail(f"{index(c)} has size {old} in one operand and {n} in operand {k}")
    if explicit:
        if "..." not in output and ellipsis:
            fail("the output has no '...' for the operands' axes under '...'")
        for c, count in Counter(output.replace("...", "")).items():
            if count > 1:
                fail(f"the output repeats index {c!r}")
            if c not in sizes:
                fail(f"the output's index {c!r} is in no operand")
        output = output.replace("...", ellipsis)
    else:  # NumPy's implicit output: '...', then the indices used once, in alphabetical order
        counts = Counter(inputs.replace("...", "").replace(",", ""))
        output = ellipsis + "".join(sorted(c for c, n in counts.items() if n == 1))
    return terms, output, sizes


@functools.lru_cache(maxsize=1024)
def _einsum_grad(subscripts, shapes, k):
    """How operand k's gradient is an einsum of g, the other operands and constants:
    (subscripts, sizes of its identity matrices, sizes of its vectors of ones). An index the
    operand repeats (`ii->i`) gets a fresh letter tied to the first by an identity matrix (the
    gradient lies on the diagonal); an index only the operand has (`ij->i`: summed), or only it
    has at full size (`i,i` of shapes (4,) and (1,)), comes from a vector of ones (the gradient
    is spread along it). Its shape is the broadcast sizes: the
    VJP sums it back over what broadcasting stretched."""
    terms, output, sizes = _parsed(subscripts, shapes)
    fresh = (c for c in _LETTERS if c not in sizes)
    letters, eyes = [], []
    for c in terms[k]:
        if c in letters:
            d = next(fresh, None)
            if d is None:
                raise ValueError(f"einsum: too many indices to differentiate {subscripts!r}")
            eyes.append(c + d)
            letters.append(d)
        else:
            letters.append(c)
    others = terms[:k] + terms[k + 1:]
    # the letters some operand of the gradient has at full size (g has every output letter so)
    given = set(output).union(*eyes, *(c for j, term in enumerate(terms) if j != k
                                       for c, n in zip(term, shapes[j]) if n == sizes[c]))
    ones = [c for c in letters if c not in given]
    spec = ",".join([output, *others, *eyes, *ones]) + "->" + "".join(letters)
    return spec, tuple(sizes[e[0]] for e in eyes), tuple(sizes[c] for c in ones)


def _einsum_forward(*args):
    *operands, subscripts, optimize = args
    return np.einsum(subscripts, *_weakly_typed(operands), optimize=optimize)


def _einsum_vjp(k, n):
    def vjp(g, ans, *args):
        inputs, (subscripts, optimize) = args[:n], args[n:]
        shapes = tuple(map(_shape_of, inputs))
        spec, eyes, ones = _einsum_grad(subscripts, shapes, k)
        constants = [np.eye(m, dtype=g.dtype) for m in eyes] + [np.ones(m, g.dtype) for m in ones]
        operands = (g, *inputs[:k], *inputs[k + 1:], *constants)
        total = _einsum_primitive(len(operands)).bind(*operands, spec, optimize)
        return _reductions.unbroadcast(total, shapes[k])
    # the names the tape reads `saves` against: (g, ans, x0, ..., subscripts, optimize)
    names = ["g", "ans", *(f"x{j}" for j in range(n)), "subscripts", "optimize"]
    vjp.__signature__ = inspect.Signature(
        [inspect.Parameter(name, inspect.Parameter.POSITIONAL_ONLY) for name in names])
    return vjp


def _einsum_label(subscripts, optimize):
    return subscripts.replace(" ", "") + (f", optimize={optimize}" if optimize else "")


@functools.lru_cache(maxsize=None)
def _einsum_primitive(n):
    """The einsum of n operands: a Primitive has a fixed number of inputs, so there is one per
    n; the subscripts are its parameter. Each operand's VJP reads the others (one operand: only
    its shape)."""
    return Primitive("einsum", _einsum_forward, [_einsum_vjp(k, n) for k in range(n)],
                     saves=" ".join(f"x{j}" for j in range(n)) if n > 1 else "",
                     label=_einsum_label)


def _from_sublists(args):
    """np.einsum's other form, (op0, sublist0, op1, sublist1, ..., [output sublist]) with
    integer labels 0..51 and Ellipsis, as (subscripts, operands)."""
    def letters(sublist):
        if not isinstance(sublist, (list, tuple)):
            raise TypeError(f"einsum: a sublist is a list of ints and Ellipsis, got {sublist!r}")
        for s in sublist:
            if s is not Ellipsis and not (is_int(s) and 0 <= s < len(_LETTERS)):
                raise ValueError(f"einsum: sublist labels are ints in 0..51 (or Ellipsis), got "
                                 f"{s!r}")
        return "".join("..." if s is Ellipsis else _LETTERS[s] for s in sublist)

    pairs, output = (args, None) if len(args) % 2 == 0 else (args[:-1], args[-1])
    subscripts = ",".join(map(letters, pairs[1::2]))
    if output is not None:
        subscripts += "->" + letters(output)
    return subscripts, pairs[0::2]


def einsum(subscripts, *operands, out=None, dtype=None, order="K", casting="safe",
           optimize=False):
    """np.einsum: explicit (`ij,jk->ik`) and implicit (`ij,jk`) output, `...`, repeated indices
    (`ii->i`, `ii`), size-1 axes broadcasting; also the sublist form. Differentiable in every
    operand: each gradient is an einsum. `optimize` is np.einsum's (True: BLAS where it can,
    worth it for big contractions), and the gradients use it too."""
    _numpy_defaults("einsum", out=out, dtype=dtype, order=order, casting=casting)
    if not isinstance(subscripts, str):
        subscripts, operands = _from_sublists((subscripts, *operands))
    if not (isinstance(optimize, (bool, str)) and optimize in (False, True, "greedy", "optimal")):
        raise TypeError(f"einsum: optimize must be False, True, 'greedy' or 'optimal', got "
                        f"{optimize!r}")
    _parsed(subscripts, tuple(map(_shape_of, operands)))  # a clear error now, naming the shapes
    return _einsum_primitive(len(operands))(*operands, subscripts, optimize)


# --- tensordot and the products built on it ------------------------------------------------------
def _axes_list(axes, ndim, which, shapes):
    """tensordot's axes of one operand as a tuple of non-negative ints."""
    axes = (axes,) if is_int(axes) else axes
    if not (isinstance(axes, (tuple, list, range, np.ndarray)) and all(map(is_int, axes))):
        raise TypeError(f"tensordot: axes must be an int or a pair of ints or sequences of ints, "
                        f"got {axes!r} for {which}")
    axes = tuple(map(int, axes))
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"tensordot: axis {a} is out of range for {which} of shape "
                             f"{shapes[which == 'b']}")
    axes = tuple(a % ndim for a in axes)
    if len(set(axes)) < len(axes):
        raise ValueError(f"tensordot: repeated axis in {axes} for {which}")
    return axes


def _tensordot_prepare(a, b, axes=2):
    shapes = sa, sb = _shape_of(a), _shape_of(b)
    if is_int(axes):
        n = int(axes)
        if not 0 <= n <= min(len(sa), len(sb)):
            raise ValueError(f"tensordot: cannot contract the last {n} axes of {sa} with the "
                             f"first {n} of {sb}")
        axes_a, axes_b = tuple(range(len(sa) - n, len(sa))), tuple(range(n))
    else:
        try:
            axes_a, axes_b = axes
        except (TypeError, ValueError):
            raise TypeError(f"tensordot: axes must be an int or a pair (axes of a, axes of b), "
                            f"got {axes!r}") from None
        axes_a = _axes_list(axes_a, len(sa), "a", shapes)
        axes_b = _axes_list(axes_b, len(sb), "b", shapes)
        if len(axes_a) != len(axes_b):
            raise ValueError(f"tensordot: {len(axes_a)} axes of a but {len(axes_b)} of b")
    if any(sa[i] != sb[j] for i, j in zip(axes_a, axes_b)):
        raise ValueError(f"tensordot: cannot contract axes {axes_a} of {sa} with axes {axes_b} "
                         f"of {sb}: their sizes differ")
    return (a, b), ((axes_a, axes_b),)  # (the forward's parameter: a pair of tuples)


def _free(ndim, axes):
    return tuple(i for i in range(ndim) if i not in axes)


def _tensordot_grad_a(g, ans, a, b, axes):
    """g's axes are a's free ones, then b's; contract b's free ones away and put a's axes
    back in order."""
    axes_a, axes_b = axes
    free_a, free_b = _free(len(_shape_of(a)), axes_a), _free(len(_shape_of(b)), axes_b)
    total = tensordot.bind(g, b, (tuple(range(len(free_a), len(g.shape))), free_b))
    # total's axes: a's free ones, then b's contracted ones in b's order
    order = free_a + tuple(axes_a[i] for i in np.argsort(axes_b))
    return _in_order(total, order)


def _tensordot_grad_b(g, ans, a, b, axes):
    axes_a, axes_b = axes
    free_a, free_b = _free(len(_shape_of(a)), axes_a), _free(len(_shape_of(b)), axes_b)
    total = tensordot.bind(a, g, (free_a, tuple(range(len(free_a)))))
    order = tuple(axes_b[i] for i in np.argsort(axes_a)) + free_b
    return _in_order(total, order)


def _in_order(x, order):
    """x, whose axis k is axis order[k] of the result, with its axes in order."""
    perm = tuple(int(p) for p in np.argsort(order))
    return x if perm == tuple(range(len(perm))) else x.transpose(perm)


tensordot = Primitive(
    "tensordot",
    lambda a, b, axes: np.tensordot(*_weakly_typed((a, b)), axes),
    (_tensordot_grad_a, _tensordot_grad_b), saves="a b", prepare=_tensordot_prepare,
    label=lambda axes: f"axes=({list(axes[0])}, {list(axes[1])})",
    doc="np.tensordot(a, b, axes=2): sums of products over `axes` (an int N: a's last N with "
        "b's first N; or a pair of axis lists).")


def dot(a, b, out=None):
    """np.dot: a product for 0-d operands, the inner product of vectors, the matrix product of
    matrices (and matrix-vector), and for N-D a sum over a's last axis and b's second-to-last
    (b's only axis when it is 1-D)."""
    _numpy_defaults("dot", out=out)
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        return _elementwise.multiply(a, b)
    k = max(len(sb) - 2, 0)
    if sa[-1] != sb[k]:
        raise ValueError(f"dot: shapes {sa} and {sb} not aligned: {sa[-1]} (axis {len(sa) - 1})"
                         f" != {sb[k]} (axis {k})")
    if len(sa) <= 2 and len(sb) <= 2:
        return matmul(a, b)
    return tensordot(a, b, ((len(sa) - 1,), (k,)))


dot.method = "dot"  # x.dot(y), as ndarray's


def inner(a, b):
    """np.inner: sums of products over the last axes (a product when one is 0-d); the result
    has shape a.shape[:-1] + b.shape[:-1]."""
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        return _elementwise.multiply(a, b)
    if sa[-1] != sb[-1]:
        raise ValueError(f"inner: the last axes of {sa} and {sb} differ ({sa[-1]} != {sb[-1]})")
    return tensordot(a, b, ((len(sa) - 1,), (len(sb) - 1,)))


def _real(x, op, which):
    if _dtype_of(x).kind == "c":
        raise TypeError(f"{op}: complex {which} is not supported (the engine has no conjugate)")


def vdot(a, b):
    """np.vdot for real arrays: the sum of products of the flattened arrays, which must have
    one size (a complex `a`, which np.vdot conjugates, is refused)."""
    _real(a, "vdot", "a")
    na, nb = int(np.prod(_shape_of(a))), int(np.prod(_shape_of(b)))
    if na != nb:
        raise ValueError(f"vdot: {_shape_of(a)} and {_shape_of(b)} have different sizes "
                         f"({na} != {nb})")
    return matmul(_shape.reshape(a, (-1,)), _shape.reshape(b, (-1,)))


def outer(a, b, out=None):
    """np.outer: every entry of flattened a times every entry of flattened b, (a.size, b.size)."""
    _numpy_defaults("outer", out=out)
    return _shape.reshape(a, (-1, 1)) * _shape.reshape(b, (1, -1))


def kron(a, b):
    """np.kron: the Kronecker product, blocks of b scaled by a's entries (the shorter shape is
    padded with leading 1s)."""
    sa, sb = _shape_of(a), _shape_of(b)
    n = max(len(sa), len(sb))
    sa, sb = (1,) * (n - len(sa)) + sa, (1,) * (n - len(sb)) + sb
    # a as (a0, 1, a1, 1, ...) times b as (1, b0, 1, b1, ...): (a0, b0, a1, b1, ...)
    blocks = (_shape.reshape(a, tuple(d for m in sa for d in (m, 1)))
              * _shape.reshape(b, tuple(d for m in sb for d in (1, m))))
    return blocks.reshape(tuple(p * q for p, q in zip(sa, sb)))


_NEXT, _AFTER = np.array([1, 2, 0]), np.array([2, 0, 1])


def _move(x, ndim, source, destination):
    """x (any input) with axis `source` moved to `destination`, by the transpose op."""
    order = [i for i in range(ndim) if i != source]
    order.insert(destination, source)
    return x if order == list(range(ndim)) else _shape.transpose(x, tuple(order))


def cross(a, b, axisa=-1, axisb=-1, axisc=-1, axis=None):
    """np.cross of 3-vectors (along the last axis, or `axisa`/`axisb`, `axis` for all three),
    broadcasting over the others; the result's vectors lie along `axisc`."""
    if axis is not None:
        axisa = axisb = axisc = axis
    sa, sb = _shape_of(a), _shape_of(b)
    for s, ax, which in ((sa, axisa, "axisa"), (sb, axisb, "axisb")):
        if not is_int(ax) or not -len(s) <= ax < len(s) or s[ax] != 3:
            raise ValueError(f"cross: the vectors must have 3 components along {which}={ax!r} "
                             f"(shapes {sa} and {sb}); 2-vectors are not supported")
    axisa, axisb = int(axisa) % len(sa), int(axisb) % len(sb)
    try:
        batch = np.broadcast_shapes(sa[:axisa] + sa[axisa + 1:], sb[:axisb] + sb[axisb + 1:])
    except ValueError:
        raise ValueError(f"cross: cannot broadcast {sa} with {sb} (their vectors along axes "
                         f"{axisa} and {axisb})") from None
    if not is_int(axisc) or not -len(batch) - 1 <= axisc <= len(batch):
        raise ValueError(f"cross: axisc={axisc!r} is out of range for a {len(batch) + 1}-d result")
    a, b = _move(a, len(sa), axisa, len(sa) - 1), _move(b, len(sb), axisb, len(sb) - 1)
    take = _shape.getitem
    # (a1 b2 - a2 b1, a2 b0 - a0 b2, a0 b1 - a1 b0)
    c = (take(a, (..., _NEXT)) * take(b, (..., _AFTER))
         - take(a, (..., _AFTER)) * take(b, (..., _NEXT)))
    return _move(c, c.ndim, c.ndim - 1, int(axisc) % c.ndim)


# --- np.linalg's: exported by tflc.linalg (numpy_linalg.py), not at the top level ----------------
def _kept(g, ndim, axis, keepdims):
    """A reduction's gradient `g` shaped as if it had kept its dims (so it broadcasts)."""
    if keepdims or axis is None:
        return g
    rest = iter(g.shape)
    return g.reshape(tuple(1 if i in axis else next(rest) for i in range(ndim)))


def _norm_prepare(x, ord=None, axis=None, keepdims=False):
    ndim = len(_shape_of(x))
    if axis is not None:
        axis = (axis,) if is_int(axis) else axis
        if not (isinstance(axis, (tuple, list)) and all(map(is_int, axis))):
            raise TypeError(f"norm: axis must be None, an int or a tuple of ints, got {axis!r}")
        if any(not -ndim <= a < ndim for a in axis):
            raise ValueError(f"norm: axis {axis!r} is out of range for shape {_shape_of(x)}")
        axis = tuple(int(a) % ndim for a in axis)
        if not 1 <= len(axis) <= 2 or len(set(axis)) < len(axis):
            raise ValueError(f"norm: axis {axis!r} must be one axis or two different ones")
    matrix = len(axis) == 2 if axis is not None else ndim == 2
    if not (ord is None or ord == "fro" and matrix or ord == 2 and not matrix
            and (axis is not None or ndim == 1)):
        raise NotImplementedError(f"norm: ord={ord!r} is not supported: only the 2-norm of "
                                  "vectors and the Frobenius norm of matrices (ord=None)")
    return (x,), (axis, bool(keepdims))


def _norm_grad(g, ans, x, axis, keepdims):
    """x / |x|, with 0 where the norm is 0 (where x is all zeros, so x * anything is 0)."""
    share = g / (ans + (ans == 0))
    return x * _kept(share, x.ndim, axis, keepdims)


_norm = Primitive(
    "norm", lambda x, axis, keepdims: np.linalg.norm(x, None, axis, keepdims), (_norm_grad,),
    saves="x ans", prepare=_norm_prepare,
    label=lambda axis, keepdims: ("all" if axis is None else f"axis={axis[0] if len(axis) == 1 else axis}")
    + (", keepdims" if keepdims else ""),
    doc="np.linalg.norm(x, ord=None, axis=None, keepdims=False): the 2-norm of vectors, the "
        "Frobenius norm of matrices (over all entries when axis is None). Its gradient at 0 is "
        "taken as 0.")


def _square(op):
    def prepare(a):
        shape = _shape_of(a)
        if len(shape) < 2 or shape[-1] != shape[-2]:
            raise ValueError(f"{op}: needs square matrices (..., M, M), got shape {shape}")
        return (a,), ()
    return prepare


def _inv_grad(g, ans, _a):
    inv_t = ans.mT
    return -(inv_t @ g @ inv_t)


_inv = Primitive("inv", np.linalg.inv, (_inv_grad,), saves="ans", prepare=_square("inv"),
                 doc="np.linalg.inv: the inverse of each square matrix; d inv = -inv^T g inv^T.")


def _det_grad(g, ans, a):
    scale = g * ans
    return scale.reshape(scale.shape + (1, 1)) * _inv.bind(a).mT


_det = Primitive("det", np.linalg.det, (_det_grad,), saves="a ans", prepare=_square("det"),
                 doc="np.linalg.det of each square matrix; d det = det inv^T (the gradient needs "
                     "an invertible matrix).")


def _solve_prepare(a, b):
    sa, sb = _shape_of(a), _shape_of(b)
    if len(sa) < 2 or sa[-1] != sa[-2]:
        raise ValueError(f"solve: a must be square matrices (..., M, M), got shape {sa}")
    rows = sb[0] if len(sb) == 1 else sb[-2] if len(sb) >= 2 else None
    batch_ok = len(sb) <= 1 or _broadcasts(sa[:-2], sb[:-2])
    if rows != sa[-1] or not batch_ok:
        raise ValueError(f"solve: cannot solve with a of shape {sa} for b of shape {sb} (b is "
                         f"(M,) or (..., M, K))")
    return (a, b), ()


def _broadcasts(s, t):
    try:
        np.broadcast_shapes(s, t)
    except ValueError:
        return False
    return True


def _solve_transposed(a, g, vector):
    """solve(a^T, g): b's gradient before unbroadcasting (a 1-D b as a column)."""
    if vector:
        return _solve.bind(a.mT, g.reshape(g.shape + (1,))).reshape(g.shape)
    return _solve.bind(a.mT, g)


def _solve_grad_a(g, ans, a, b):
    gb = _solve_transposed(a, g, b.ndim == 1)
    if b.ndim == 1:  # -gb x^T, one outer product per matrix
        product = gb.reshape(gb.shape + (1,)) * ans.reshape(ans.shape[:-1] + (1,) + ans.shape[-1:])
    else:
        product = gb @ ans.mT
    return _reductions.unbroadcast(-product, a.shape)


_solve = Primitive(
    "solve", np.linalg.solve,
    (_solve_grad_a,
     lambda g, ans, a, b: _reductions.unbroadcast(_solve_transposed(a, g, b.ndim == 1), b.shape)),
    saves="a ans", prepare=_solve_prepare,
    doc="np.linalg.solve(a, b): x with a x = b, b of shape (M,) or (..., M, K) (NumPy 2's rule), "
        "batches broadcasting; d b = solve(a^T, g), d a = -(d b) x^T.")
