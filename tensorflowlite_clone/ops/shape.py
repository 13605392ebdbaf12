"""Shape, indexing and dtype: ops that move or select values without arithmetic, and the
creation functions (zeros, arange, eye, ...), whose results are constants.

NumPy's names, signatures and results. Ops that join a list of tensors (concatenate, stack) are
one fixed-arity primitive per number of inputs (made once, then cached), each input's VJP the
slice of g that came from it; ops that give a list (split, meshgrid) are compositions whose
pieces are ops of their own. A composition hands each caller's input to a primitive first, as
it came, so a watched array stays connected, and checks its arguments before recording any op.
"""
import functools
import inspect
import math

import numpy as np

from ..primitive import Primitive, reworded
from ..tape import is_int
from ..tensor import Tensor, _read, as_array
from . import reductions as _reductions


def _shape_of(shape, op):
    """A shape as NumPy takes it: an int or a tuple of ints."""
    if is_int(shape):
        return (int(shape),)
    if isinstance(shape, (tuple, list)) and all(map(is_int, shape)):
        return tuple(map(int, shape))
    raise TypeError(f"{op}: shape must be an int or a tuple of ints, got {shape!r}")


def _to_shape(shape):
    return f"to {shape}"


reshape = Primitive("reshape", np.reshape, (lambda g, ans, x, shape: g.reshape(x.shape),),
                    saves="", prepare=lambda x, shape: ((x,), (_shape_of(shape, "reshape"),)),
                    label=_to_shape, rule=("{g} reshaped back to {x}'s shape",))


def _transpose_axes(x, axes=None):
    if axes is not None:
        if not (isinstance(axes, (tuple, list)) and all(map(is_int, axes))):
            raise TypeError(f"transpose: axes must be a tuple of ints, got {axes!r}")
        axes = tuple(map(int, axes))
    return (x,), (axes,)


def _transpose_grad(g, ans, x, axes):
    if axes is None:
        return g.transpose()
    return g.transpose(tuple(int(a) for a in np.argsort([a % x.ndim for a in axes])))


def _transpose(x, axes):
    """np.transpose(x, axes); an array's `.T` when axes is None (the same view, without
    np.transpose's dispatch: the matmul VJPs transpose on every step)."""
    return x.T if axes is None and type(x) is np.ndarray else np.transpose(x, axes)


transpose = Primitive("transpose", _transpose, (_transpose_grad,), saves="",
                      prepare=_transpose_axes, rule=("{g} transposed back (axes={axes})",),
                      label=lambda axes: "" if axes is None else f"axes={axes}")


def _broadcast(x, shape):
    """np.broadcast_to(x, shape). When x is 0-d or has shape's ndim (a reduction's gradient,
    kept dims), built directly: np.broadcast_to costs ten times as much. A big result is the
    read-only view (it saves a pass over memory), a small one a filled array (later ops run
    faster on it)."""
    if type(x) is not np.ndarray:
        x = np.asarray(x)
    if x.ndim not in (0, len(shape)):
        return np.broadcast_to(x, shape)
    if math.prod(shape) <= FILL_LIMIT:
        out = np.empty(shape, x.dtype)
        out[...] = x
        return out
    if not x.flags.c_contiguous:  # the view's buffer must be x's own memory
        return np.broadcast_to(x, shape)
    strides = ((0,) * len(shape) if x.ndim == 0 else
               tuple(0 if n == 1 else stride for n, stride in zip(x.shape, x.strides)))
    view = np.ndarray(shape, x.dtype, x, 0, strides)
    view.flags.writeable = False
    return view


FILL_LIMIT = 4096  # elements: up to this, a broadcast result is a filled array, above a view


broadcast_to = Primitive(
    "broadcast_to", _broadcast,
    (lambda g, ans, x, shape: _reductions.unbroadcast(g, x.shape),),
    "cannot broadcast {} to the shape asked for", saves="",
    prepare=lambda x, shape: ((x,), (_shape_of(shape, "broadcast_to"),)), label=_to_shape,
    rule=("unbroadcast({g})",))


# --- indexing ----------------------------------------------------------------------------------
def _index_part(part):
    if isinstance(part, Tensor):
        if part.dtype.kind not in "biu":
            raise IndexError(f"getitem: a {part.dtype} tensor cannot index; use integers or "
                             "booleans")
        _read(part, "an integer tensor used as an index")  # a trace would freeze it
        return part._value
    if isinstance(part, (list, tuple)):  # inside an index, NumPy reads a sequence as an array
        for item in part:  # a trace cannot redo this on the next call's arrays
            if isinstance(item, np.ndarray):
                _read(item, "an index list made of arrays")
        try:
            array = np.asarray(part)
        except ValueError:
            raise IndexError(f"getitem: the index list {part!r} is ragged (its rows differ in "
                             "length)") from None
        return array.astype(np.intp) if array.size == 0 else array  # [] selects nothing
    return part


def _index(x, index):
    """getitem's signature: `x[index]` with ints, slices, None, Ellipsis, integer or boolean
    arrays (or lists of them)."""
    index = tuple(map(_index_part, index)) if isinstance(index, tuple) else _index_part(index)
    return (x,), (index,)


def _index_label(index):
    parts = []
    for p in index if isinstance(index, tuple) else (index,):
        if isinstance(p, slice):
            text = ("" if p.start is None else str(p.start)) + ":" + \
                ("" if p.stop is None else str(p.stop))
            parts.append(text if p.step is None else f"{text}:{p.step}")
        elif p is None or p is Ellipsis:
            parts.append("None" if p is None else "...")
        elif isinstance(p, np.ndarray):
            if p.dtype == bool:
                parts.append(f"mask{p.shape}")
            elif p.ndim == 1 and p.size > 1 and np.array_equal(p, np.arange(p.size)):
                parts.append(f"arange({p.size})")
            else:
                parts.append(str(p.tolist()) if p.size <= 3 else f"idx{p.shape}")
        else:
            parts.append(str(p))
    return "[" + ", ".join(parts) + "]"


def _scatter_add_forward(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    for part in index if isinstance(index, tuple) else (index,):  # (a loop: any() costs more)
        if isinstance(part, np.ndarray):
            np.add.at(out, index, g)  # repeated indices accumulate
            return out
    out[index] = g
    return out


scatter_add = Primitive("scatter_add", _scatter_add_forward,
                        (lambda g, ans, x, index, shape: g[index],), saves="",
                        label=lambda index, shape: _index_label(index),
                        doc="Zeros of `shape` with `g` added at `index` (getitem's VJP).")

getitem = Primitive("getitem", lambda x, index: x[index],
                    (lambda g, ans, x, index: scatter_add.bind(g, index, x.shape),), saves="",
                    prepare=_index, label=_index_label, operator="__getitem__",
                    rule=("zeros like {x}, {g} added at the index",),
                    doc="`x[index]`; repeated integer indices accumulate their gradients.")


# --- dtype and gradient control ------------------------------------------------------------------
def _dtype(x, dtype):
    return (x,), (_reductions._dtype(dtype, "cast"),)


cast = Primitive("cast", lambda x, dtype: np.asarray(x, dtype),
                 (lambda g, ans, x, dtype: g.astype(x.dtype),), saves="", prepare=_dtype,
                 label=lambda dtype: f"to {dtype}",
                 doc="`x` as `dtype`; a cast to integers or booleans carries no gradient (as TF).")

# no VJP, so a gradient tape never records it (nothing flows back), but a trace does
stop_gradient = Primitive("stop_gradient", as_array, (None,),
                          doc="The same value as a new constant: no gradient flows back.")


# --- helpers: axes, shapes and values as the ops below take them --------------------------------
def _axis_index(axis, ndim, op, shape, name="axis"):
    """`axis` of an array of `shape` as a non-negative int; AxisError (a ValueError and an
    IndexError, as NumPy's) naming `op` and the shape when it is out of bounds."""
    if not is_int(axis):
        raise TypeError(f"{op}: {name} must be an int, got {axis!r}")
    if not -ndim <= axis < ndim:
        raise np.exceptions.AxisError(f"{op}: {name} {axis} is out of bounds for shape {shape}")
    return int(axis) % ndim


def _axis_tuple(axis, ndim, op, shape, name="axis"):
    """An int or a sequence of distinct ints, as a tuple of non-negative axes."""
    axes = (axis,) if is_int(axis) else axis
    if not (isinstance(axes, (tuple, list)) and all(map(is_int, axes))):
        raise TypeError(f"{op}: {name} must be an int or a tuple of ints, got {axis!r}")
    axes = tuple(_axis_index(a, ndim, op, shape, name) for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: repeated {name} in {axis!r} (shape {shape})")
    return axes


def _int(value, op, name):
    if not is_int(value):
        raise TypeError(f"{op}: {name} must be an int, got {value!r}")
    return int(value)


def _ints(value, op, name):
    """An int or a sequence of ints: an int or a tuple of ints (hashable, for labels)."""
    if is_int(value):
        return int(value)
    if isinstance(value, Tensor):
        value = _value_of(value, op)
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iu":
        value = value.tolist()
    if isinstance(value, (tuple, list)) and all(map(is_int, value)):
        return tuple(map(int, value))
    raise TypeError(f"{op}: {name} must be an int or a sequence of ints, got {value!r}")


def _value_of(x, op):
    """The array `x` holds; reading a Tensor's value is something a trace must know about."""
    if isinstance(x, Tensor):
        _read(x, f"{op}'s argument")
        return x._value
    return as_array(x, op)


def _sequence(arrays, op):
    """The inputs of a joining op as a list (a tensor or an array is the sequence of its rows)."""
    if isinstance(arrays, (Tensor, np.ndarray)):
        if np.ndim(arrays) == 0:
            raise TypeError(f"{op}: expects a sequence of arrays, got a 0-d one")
    elif not isinstance(arrays, (list, tuple)):
        raise TypeError(f"{op}: expects a sequence of arrays, got {type(arrays).__name__}")
    arrays = list(arrays)
    if not arrays:
        raise ValueError(f"{op}: needs at least one array")
    return arrays


def _as_tensor(x):
    """`x` as a Tensor, through an op when it is not one already (so a watched array stays
    connected to what is computed from it)."""
    return x if isinstance(x, Tensor) else reshape(x, np.shape(x))


def _varargs(signature):
    """A VJP whose arguments are `*args`, made to declare `signature`'s names (g, ans, the
    inputs, the parameters): `saves` reads them (ops of any number of inputs)."""
    def declared(vjp):
        P = inspect.Parameter
        vjp.__signature__ = inspect.Signature([P(n, P.POSITIONAL_ONLY) for n in signature])
        return vjp
    return declared


# --- joining: concatenate and stack (one primitive per number of inputs) ---------------------------
def _join_shapes(shapes, axis, op):
    """The non-negative axis along which arrays of `shapes` are concatenated; ValueError naming
    `op` and the shapes that do not fit."""
    first = shapes[0]
    if not first:
        raise ValueError(f"{op}: cannot concatenate 0-d inputs (shapes {', '.join(map(str, shapes))});"
                         " stack them instead")
    axis = _axis_index(axis, len(first), op, first)
    for shape in shapes[1:]:
        if len(shape) != len(first):
            raise ValueError(f"{op}: cannot join shapes {first} and {shape}: they have different "
                             "numbers of dimensions")
        if shape[:axis] + shape[axis + 1:] != first[:axis] + first[axis + 1:]:
            raise ValueError(f"{op}: cannot join shapes {first} and {shape} along axis {axis}: "
                             "they differ in another axis")
    return axis


def _concatenate_piece(k, n):
    @_varargs(("g", "ans", *(f"x{i}" for i in range(n)), "axis"))
    def vjp(g, ans, *args):
        xs, axis = args[:-1], args[-1]
        start = 0
        for x in xs[:k]:
            start += x.shape[axis]
        return getitem.bind(g, (slice(None),) * axis + (slice(start, start + xs[k].shape[axis]),))
    return vjp


def _stack_piece(k, n):
    @_varargs(("g", "ans", *(f"x{i}" for i in range(n)), "axis"))
    def vjp(g, ans, *args):
        return getitem.bind(g, (slice(None),) * args[-1] + (k,))
    return vjp


def _axis_label(axis):
    return f"axis={axis}"


@functools.lru_cache(maxsize=None)
def _joining(name, n):
    """The primitive `name` (concatenate or stack) of `n` inputs."""
    if name == "concatenate":
        forward, piece = (lambda *args: np.concatenate(args[:-1], axis=args[-1])), _concatenate_piece
    else:
        forward, piece = (lambda *args: np.stack(args[:-1], axis=args[-1])), _stack_piece
    return Primitive(name, forward, [piece(k, n) for k in range(n)], saves="", label=_axis_label,
                     doc=f"np.{name} of {n} inputs; each input's gradient is its slice of g.")


def _no_out(out, op):
    if out is not None:
        raise TypeError(f"{op}: out= is not supported (tensors are immutable)")


def _cast_all(arrays, dtype):
    return arrays if dtype is None else [cast(a, dtype) for a in arrays]


def concatenate(arrays, axis=0, out=None, *, dtype=None):
    """np.concatenate: join along an existing axis (None: flatten them first)."""
    _no_out(out, "concatenate")
    arrays = _sequence(arrays, "concatenate")
    if axis is None:
        arrays, axis = [ravel(a) for a in arrays], 0
    axis = _join_shapes([np.shape(a) for a in arrays], axis, "concatenate")
    return _joining("concatenate", len(arrays))(*_cast_all(arrays, dtype), axis)


def stack(arrays, axis=0, out=None, *, dtype=None):
    """np.stack: join along a new axis; the inputs must have one shape."""
    _no_out(out, "stack")
    arrays = _sequence(arrays, "stack")
    shapes = [np.shape(a) for a in arrays]
    for shape in shapes[1:]:
        if shape != shapes[0]:
            raise ValueError(f"stack: all inputs must have the same shape, got {shapes[0]} and {shape}")
    axis = _axis_index(axis, len(shapes[0]) + 1, "stack", shapes[0])
    return _joining("stack", len(arrays))(*_cast_all(arrays, dtype), axis)


def _joined(op, arrays, shapes, axis):
    """concatenate(arrays reshaped to `shapes`, axis), checked (as `op`) before anything is
    recorded; an array already of its shape goes in as it is."""
    axis = _join_shapes(shapes, axis, op)
    arrays = [a if np.shape(a) == s else reshape(a, s) for a, s in zip(arrays, shapes)]
    return _joining("concatenate", len(arrays))(*arrays, axis)


def _at_least_shape(shape, ndim):
    """np.atleast_1d/2d/3d's shape for an array of `shape`."""
    if len(shape) >= ndim:
        return shape
    if ndim == 3 and len(shape) == 2:
        return shape + (1,)
    if ndim == 3:
        return (1,) + (shape or (1,)) + (1,)
    return (1,) * (ndim - len(shape)) + shape


def vstack(tup):
    """np.vstack: concatenate along axis 0, 1-D inputs as rows."""
    arrays = _sequence(tup, "vstack")
    return _joined("vstack", arrays, [_at_least_shape(np.shape(a), 2) for a in arrays], 0)


def hstack(tup):
    """np.hstack: concatenate along axis 1 (along axis 0 when the inputs are 1-D)."""
    arrays = _sequence(tup, "hstack")
    shapes = [_at_least_shape(np.shape(a), 1) for a in arrays]
    return _joined("hstack", arrays, shapes, 0 if len(shapes[0]) == 1 else 1)


def dstack(tup):
    """np.dstack: concatenate along axis 2 (depth), 1-D and 2-D inputs made 3-D."""
    arrays = _sequence(tup, "dstack")
    return _joined("dstack", arrays, [_at_least_shape(np.shape(a), 3) for a in arrays], 2)


def column_stack(tup):
    """np.column_stack: 1-D inputs as columns of a 2-D result, 2-D ones as they are."""
    arrays = _sequence(tup, "column_stack")
    shapes = []
    for a in arrays:
        shape = np.shape(a)
        shapes.append(shape if len(shape) >= 2 else (math.prod(shape), 1))
    return _joined("column_stack", arrays, shapes, 1)


def append(arr, values, axis=None):
    """np.append: `values` after `arr` along `axis` (None: both flattened)."""
    if axis is None:
        return _joined("append", [arr, values], [(math.prod(np.shape(arr)),),
                                                 (math.prod(np.shape(values)),)], 0)
    return _joined("append", [arr, values], [np.shape(arr), np.shape(values)], axis)


# --- splitting: pieces that are slices (getitem) ---------------------------------------------------
def _split(ary, indices_or_sections, axis, op, equal):
    shape = np.shape(ary)
    axis = _axis_index(axis, len(shape), op, shape)
    n = shape[axis]
    if is_int(indices_or_sections):
        sections = int(indices_or_sections)
        if sections <= 0:
            raise ValueError(f"{op}: the number of sections must be positive, got {sections}")
        if equal and n % sections:
            raise ValueError(f"{op}: {sections} sections do not divide axis {axis} of shape {shape} "
                             "equally (array_split allows that)")
        each, extra = divmod(n, sections)
        bounds = [0]
        for k in range(sections):
            bounds.append(bounds[-1] + each + (k < extra))
    else:
        indices = _ints(indices_or_sections, op, "indices_or_sections")
        bounds = [0, *(indices if isinstance(indices, tuple) else (indices,)), n]
    return [getitem(ary, (slice(None),) * axis + (slice(lo, hi),)) for lo, hi in zip(bounds, bounds[1:])]


def split(ary, indices_or_sections, axis=0):
    """np.split: a list of pieces along `axis`; N sections must divide the axis equally."""
    return _split(ary, indices_or_sections, axis, "split", True)


def array_split(ary, indices_or_sections, axis=0):
    """np.array_split: as split, but N sections need not be equal (the first are longer)."""
    return _split(ary, indices_or_sections, axis, "array_split", False)


def _split_along(op, ary, indices_or_sections, min_ndim, axis):
    shape = np.shape(ary)
    if len(shape) < min_ndim:
        raise ValueError(f"{op}: needs an input of at least {min_ndim} dimensions, got shape {shape}")
    return _split(ary, indices_or_sections, axis, op, True)


def hsplit(ary, indices_or_sections):
    """np.hsplit: split along axis 1 (axis 0 for 1-D input)."""
    return _split_along("hsplit", ary, indices_or_sections, 1, 1 if np.ndim(ary) > 1 else 0)


def vsplit(ary, indices_or_sections):
    """np.vsplit: split along axis 0 (at least 2-D input)."""
    return _split_along("vsplit", ary, indices_or_sections, 2, 0)


def dsplit(ary, indices_or_sections):
    """np.dsplit: split along axis 2 (at least 3-D input)."""
    return _split_along("dsplit", ary, indices_or_sections, 3, 2)


# --- adding and removing axes --------------------------------------------------------------------
def _squeeze_prepare(x, axis=None):
    if axis is not None:
        shape = np.shape(x)
        axis = _axis_tuple(axis, len(shape), "squeeze", shape)
        for a in axis:
            if shape[a] != 1:
                raise ValueError(f"squeeze: axis {a} of shape {shape} has length {shape[a]}, not 1")
    return (x,), (axis,)


def _reshape_back(g, ans, x, *params):
    return g.reshape(x.shape)


def _axes_label(axis):
    return "" if axis is None else f"axis={axis[0] if len(axis) == 1 else axis}"


squeeze = Primitive("squeeze", np.squeeze, (_reshape_back,), saves="", prepare=_squeeze_prepare,
                    label=_axes_label, method="squeeze",
                    doc="np.squeeze: remove axes of length 1 (all of them, or those of `axis`).")


def _expand_dims_prepare(x, axis):
    shape = np.shape(x)
    count = 1 if is_int(axis) else len(axis) if isinstance(axis, (tuple, list)) else 0
    return (x,), (_axis_tuple(axis, len(shape) + count, "expand_dims", shape),)


expand_dims = Primitive("expand_dims", np.expand_dims, (_reshape_back,), saves="",
                        prepare=_expand_dims_prepare, label=_axes_label,
                        doc="np.expand_dims: insert axes of length 1 at `axis` of the result.")


def _at_least(op, ndim, arys):
    results = []
    for a in arys:
        shape = np.shape(a)
        target = _at_least_shape(shape, ndim)
        results.append(a if target == shape and isinstance(a, Tensor) else reshape(a, target))
    return results[0] if len(results) == 1 else tuple(results)


def atleast_1d(*arys):
    """np.atleast_1d: a 0-d input as shape (1,); one result, or a tuple of them."""
    return _at_least("atleast_1d", 1, arys)


def atleast_2d(*arys):
    """np.atleast_2d: (n,) as (1, n), 0-d as (1, 1)."""
    return _at_least("atleast_2d", 2, arys)


def atleast_3d(*arys):
    """np.atleast_3d: (n,) as (1, n, 1), (m, n) as (m, n, 1), 0-d as (1, 1, 1)."""
    return _at_least("atleast_3d", 3, arys)


def ravel(a, order="C"):
    """np.ravel: the entries as a 1-D tensor, in C order (or "F": column-major)."""
    if order not in ("C", "F"):
        raise ValueError(f"ravel: order must be 'C' or 'F', got {order!r}")
    return reshape(a if order == "C" else transpose(a), (-1,))


ravel.method = "ravel"


# --- moving axes -----------------------------------------------------------------------------------
def moveaxis(a, source, destination):
    """np.moveaxis: move axes `source` to positions `destination` (a transpose)."""
    shape = np.shape(a)
    source = _axis_tuple(source, len(shape), "moveaxis", shape, "source")
    destination = _axis_tuple(destination, len(shape), "moveaxis", shape, "destination")
    if len(source) != len(destination):
        raise ValueError(f"moveaxis: {len(source)} source axes but {len(destination)} destinations")
    order = [n for n in range(len(shape)) if n not in source]
    for dest, src in sorted(zip(destination, source)):
        order.insert(dest, src)
    return transpose(a, tuple(order))


def swapaxes(a, axis1, axis2):
    """np.swapaxes: exchange two axes (a transpose)."""
    shape = np.shape(a)
    order = list(range(len(shape)))
    i, j = (_axis_index(axis, len(shape), "swapaxes", shape, name)
            for axis, name in ((axis1, "axis1"), (axis2, "axis2")))
    order[i], order[j] = order[j], order[i]
    return transpose(a, tuple(order))


swapaxes.method = "swapaxes"


# --- reordering entries: flip, rot90, roll --------------------------------------------------------
def _flip_prepare(x, axis=None):
    if axis is not None:
        shape = np.shape(x)
        axis = _axis_tuple(axis, len(shape), "flip", shape)
    return (x,), (axis,)


flip = Primitive("flip", lambda x, axis: np.flip(x, axis),
                 (lambda g, ans, x, axis: flip.bind(g, axis),), saves="", prepare=_flip_prepare,
                 label=_axes_label, doc="np.flip: reverse the order along `axis` (None: all axes).")


def fliplr(m):
    """np.fliplr: reverse axis 1 (at least 2-D input)."""
    if np.ndim(m) < 2:
        raise ValueError(f"fliplr: needs an input of at least 2 dimensions, got shape {np.shape(m)}")
    return flip(m, 1)


def flipud(m):
    """np.flipud: reverse axis 0 (at least 1-D input)."""
    if np.ndim(m) < 1:
        raise ValueError("flipud: needs an input of at least 1 dimension, got shape ()")
    return flip(m, 0)


def rot90(m, k=1, axes=(0, 1)):
    """np.rot90: rotate by 90 degrees `k` times in the plane of `axes`, from the first axis
    towards the second (flips and a transpose, as NumPy does it)."""
    shape = np.shape(m)
    k = _int(k, "rot90", "k") % 4
    if not (isinstance(axes, (tuple, list)) and len(axes) == 2):
        raise ValueError(f"rot90: axes must be two axes, got {axes!r}")
    a, b = _axis_tuple(tuple(axes), len(shape), "rot90", shape, "axes")
    if k == 0:
        return _as_tensor(m)
    if k == 2:
        return flip(m, (a, b))
    order = list(range(len(shape)))
    order[a], order[b] = order[b], order[a]
    return transpose(flip(m, b), order) if k == 1 else flip(transpose(m, order), b)


def _roll_prepare(x, shift, axis=None):
    shift = _ints(shift, "roll", "shift")
    if axis is not None:
        shape = np.shape(x)
        axes = (axis,) if is_int(axis) else axis
        if not (isinstance(axes, (tuple, list)) and all(map(is_int, axes))):
            raise TypeError(f"roll: axis must be an int or a tuple of ints, got {axis!r}")
        axis = tuple(_axis_index(a, len(shape), "roll", shape) for a in axes)  # (repeats add up)
        axis = axis[0] if is_int(axes) else axis
        if isinstance(shift, tuple) and isinstance(axis, tuple) and len(shift) not in (1, len(axis)):
            raise ValueError(f"roll: {len(shift)} shifts for {len(axis)} axes")
    return (x,), (shift, axis)


def _negated(shift):
    return tuple(-s for s in shift) if isinstance(shift, tuple) else -shift


roll = Primitive("roll", np.roll, (lambda g, ans, x, shift, axis: roll.bind(g, _negated(shift), axis),),
                 saves="", prepare=_roll_prepare,
                 label=lambda shift, axis: f"shift={shift}" + ("" if axis is None else f", axis={axis}"),
                 doc="np.roll: shift entries cyclically along `axis` (None: the flattened array).")


# --- repeating: repeat and tile ----------------------------------------------------------------------
def _repeat_prepare(x, repeats, axis=None):
    shape = np.shape(x)
    if axis is not None:
        axis = _axis_index(axis, len(shape), "repeat", shape)
    n = math.prod(shape) if axis is None else shape[axis]
    counts = np.asarray(_value_of(repeats, "repeat") if isinstance(repeats, Tensor) else repeats)
    if counts.size == 0:
        counts = counts.astype(np.intp)
    if counts.dtype.kind not in "iu" or counts.ndim > 1:
        raise TypeError(f"repeat: repeats must be an int or a 1-D sequence of ints, got {repeats!r}")
    if (counts < 0).any():
        raise ValueError(f"repeat: repeats must not be negative, got {repeats!r}")
    if counts.size == 1:
        repeats = int(counts.reshape(()))
    elif counts.size != n:
        where = "entries" if axis is None else f"entries along axis {axis} of shape {shape}"
        raise ValueError(f"repeat: {counts.size} repeats for {n} {where}")
    else:
        repeats = tuple(counts.tolist())
    return (x,), (repeats, axis)


def _repeat_grad(g, ans, x, repeats, axis):
    """Each entry's gradient is the sum of its copies': one reshape and a sum when every entry
    repeats as often, else a scatter-add of g onto the entries its copies came from."""
    shape, a = (x.shape, axis) if axis is not None else ((math.prod(x.shape),), 0)
    if type(repeats) is int:
        gx = _reductions.sum.bind(g.reshape(shape[:a] + (shape[a], repeats) + shape[a + 1:]), a + 1,
                                  False)
    else:
        source = np.repeat(np.arange(shape[a]), repeats)
        gx = scatter_add.bind(g, (slice(None),) * a + (source,), shape)
    return gx if axis is not None else gx.reshape(x.shape)


repeat = Primitive("repeat", np.repeat, (_repeat_grad,), saves="", prepare=_repeat_prepare,
                   label=lambda repeats, axis: f"repeats={repeats}" +
                   ("" if axis is None else f", axis={axis}"), method="repeat",
                   doc="np.repeat: each entry `repeats` times along `axis` (None: flattened).")


def tile(A, reps):
    """np.tile: `A` repeated `reps` times along each axis: a reshape that puts a length-1 axis
    before each of A's, a broadcast over them, and a reshape that merges them (the gradient sums
    the copies, as broadcast_to's does)."""
    reps = _ints(reps, "tile", "reps")
    reps = (reps,) if type(reps) is int else reps
    if any(r < 0 for r in reps):
        raise ValueError(f"tile: reps must not be negative, got {reps}")
    shape = np.shape(A)
    d = max(len(shape), len(reps))
    shape, reps = (1,) * (d - len(shape)) + shape, (1,) * (d - len(reps)) + reps
    if all(r == 1 for r in reps):
        return reshape(A, shape)
    spread = broadcast_to(reshape(A, tuple(n for s in shape for n in (1, s))),
                          tuple(n for r, s in zip(reps, shape) for n in (r, s)))
    return reshape(spread, tuple(r * s for r, s in zip(reps, shape)))


# --- padding -----------------------------------------------------------------------------------------
_PAD_MODES = ("constant", "edge", "reflect", "symmetric", "wrap")


def _pad_prepare(x, pad_width, mode="constant", constant_values=0):
    shape = np.shape(x)
    if mode not in _PAD_MODES:
        raise ValueError(f"pad: mode {mode!r} is not supported; use one of {', '.join(_PAD_MODES)}")
    width = np.asarray(_value_of(pad_width, "pad") if isinstance(pad_width, Tensor) else pad_width)
    if width.dtype.kind not in "iu":
        raise TypeError(f"pad: pad_width must be integers, got {pad_width!r}")
    if (width < 0).any():
        raise ValueError(f"pad: pad_width must not be negative, got {pad_width!r}")
    try:
        pairs = np.broadcast_to(width, (len(shape), 2))
    except ValueError:
        raise ValueError(f"pad: pad_width {pad_width!r} does not fit an input of shape {shape}: give "
                         "an int, one (before, after) pair, or a pair per axis") from None
    if mode != "constant" and any(n == 0 and (b or a) for n, (b, a) in zip(shape, pairs)):
        raise ValueError(f"pad: cannot extend an empty axis of shape {shape} in mode {mode!r}")
    if isinstance(constant_values, Tensor):
        constant_values = _value_of(constant_values, "pad")
    if isinstance(constant_values, np.ndarray):
        constant_values = constant_values.tolist()
    return (x,), (tuple((int(b), int(a)) for b, a in pairs), mode, constant_values)


def _pad_forward(x, pairs, mode, constant_values):
    if not pairs:  # a 0-d input (np.pad would read the empty pairs as floats)
        return np.array(x)
    if mode == "constant":
        return np.pad(x, pairs, mode, constant_values=constant_values)
    return np.pad(x, pairs, mode)


@functools.lru_cache(maxsize=256)
def _pad_source(n, before, after, mode):
    """For each entry of an axis of length n padded by (before, after) in `mode`, the entry of
    the input it copies (NumPy's padding of arange(n))."""
    source = np.pad(np.arange(n), (before, after), mode)
    source.flags.writeable = False
    return source


def _pad_grad(g, ans, x, pairs, mode, constant_values):
    """The interior of g, plus (in the modes that copy entries) the padding folded back onto
    the entries it copies: a scatter-add along each padded axis in turn."""
    if mode == "constant":
        return getitem.bind(g, tuple(slice(b, b + n) for (b, _), n in zip(pairs, x.shape)))
    for axis in reversed(range(len(pairs))):
        before, after = pairs[axis]
        if before or after:
            n = x.shape[axis]
            index = (slice(None),) * axis + (_pad_source(n, before, after, mode),)
            g = scatter_add.bind(g, index, g.shape[:axis] + (n,) + g.shape[axis + 1:])
    return g


def _pad_label(pairs, mode, constant_values):
    widths = pairs[0] if len(set(pairs)) == 1 else pairs
    return f"{widths}, {mode}" + (f"={constant_values}" if mode == "constant" and
                                  np.any(np.asarray(constant_values) != 0) else "")


pad = Primitive("pad", _pad_forward, (_pad_grad,), saves="", prepare=_pad_prepare, label=_pad_label,
                doc="np.pad in modes constant, edge, reflect, symmetric and wrap; the gradient "
                    "folds the padding back onto the entries it copies.")


# --- triangles and diagonals -----------------------------------------------------------------------
def _triangle(name):
    def prepare(m, k=0):
        if np.ndim(m) == 0:
            raise ValueError(f"{name}: needs an input of at least 1 dimension, got shape ()")
        return (m,), (_int(k, name, "k"),)
    return prepare


def _k_label(k):
    return f"k={k}"


# (a 1-D input is broadcast to a square, as NumPy does; unbroadcast sums it back)
triu = Primitive("triu", np.triu,
                 (lambda g, ans, m, k: _reductions.unbroadcast(triu.bind(g, k), m.shape),),
                 saves="", prepare=_triangle("triu"), label=_k_label,
                 doc="np.triu: zeros below the k-th diagonal of the last two axes.")
tril = Primitive("tril", np.tril,
                 (lambda g, ans, m, k: _reductions.unbroadcast(tril.bind(g, k), m.shape),),
                 saves="", prepare=_triangle("tril"), label=_k_label,
                 doc="np.tril: zeros above the k-th diagonal of the last two axes.")


def _diagonal_prepare(a, offset=0, axis1=0, axis2=1):
    shape = np.shape(a)
    if len(shape) < 2:
        raise ValueError(f"diagonal: needs an input of at least 2 dimensions, got shape {shape}")
    axis1 = _axis_index(axis1, len(shape), "diagonal", shape, "axis1")
    axis2 = _axis_index(axis2, len(shape), "diagonal", shape, "axis2")
    if axis1 == axis2:
        raise ValueError(f"diagonal: axis1 and axis2 are both axis {axis1} (shape {shape})")
    return (a,), (_int(offset, "diagonal", "offset"), axis1, axis2)


def _diagonal_label(offset, axis1, axis2):
    return f"offset={offset}" + ("" if (axis1, axis2) == (0, 1) else f", axes=({axis1}, {axis2})")


diagonal = Primitive(
    "diagonal", lambda a, offset, axis1, axis2: np.diagonal(a, offset, axis1, axis2).copy(),
    (lambda g, ans, a, offset, axis1, axis2: _diag_embed.bind(g, a.shape, offset, axis1, axis2),),
    saves="", prepare=_diagonal_prepare, label=_diagonal_label, method="diagonal",
    doc="np.diagonal: the `offset` diagonal of the plane (axis1, axis2), as the last axis.")


def _diag_embed_forward(v, shape, offset, axis1, axis2):
    """Zeros of `shape` with v's last axis on the `offset` diagonal of (axis1, axis2):
    diagonal's VJP (and np.diag of a 1-D input)."""
    out = np.zeros(shape, np.result_type(v))
    n = np.shape(v)[-1]
    rows, cols = np.arange(n) + max(-offset, 0), np.arange(n) + max(offset, 0)
    np.moveaxis(out, (axis1, axis2), (-2, -1))[..., rows, cols] = v
    return out


_diag_embed = Primitive(
    "diag", _diag_embed_forward,
    (lambda g, ans, v, shape, offset, axis1, axis2: diagonal.bind(g, offset, axis1, axis2),),
    saves="", label=lambda shape, offset, axis1, axis2: f"k={offset}",
    doc="A diagonal of zeros of `shape` set to v: np.diag of a 1-D v, and diagonal's VJP.")


def diag(v, k=0):
    """np.diag: a 1-D input on the k-th diagonal of a square matrix; a 2-D input's k-th diagonal."""
    shape, k = np.shape(v), _int(k, "diag", "k")
    if len(shape) == 1:
        n = shape[0] + abs(k)
        return _diag_embed(v, (n, n), k, 0, 1)
    if len(shape) == 2:
        return diagonal(v, k)
    raise ValueError(f"diag: needs a 1-D or 2-D input, got shape {shape}")


def trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    """np.trace: the sum of a diagonal (summing over the last axis of `diagonal`); also
    `Tensor.trace()` and `tflc.linalg.trace`. (The engine's compiler is `tflc.jit`.)"""
    _no_out(out, "trace")
    total = _reductions.sum(diagonal(a, offset, axis1, axis2), -1)
    return total if dtype is None else cast(total, dtype)


# ndarray's methods that are not ops of their own name (np.flatten does not exist)
Tensor.flatten = lambda self, order="C": ravel(self, order)
Tensor.trace = lambda self, offset=0, axis1=0, axis2=1, dtype=None, out=None: \
    trace(self, offset, axis1, axis2, dtype, out)


# --- grids and differences ----------------------------------------------------------------------------
def meshgrid(*xi, copy=True, sparse=False, indexing="xy"):
    """np.meshgrid: coordinate tensors (each input reshaped along its own axis, then broadcast);
    "xy" indexing swaps the first two axes, as NumPy's does. A tuple of tensors."""
    if indexing not in ("xy", "ij"):
        raise ValueError(f"meshgrid: indexing must be 'xy' or 'ij', got {indexing!r}")
    ndim = len(xi)
    shapes = []
    for i in range(ndim):
        shape = [1] * ndim
        shape[1 - i if indexing == "xy" and ndim > 1 and i < 2 else i] = -1
        shapes.append(tuple(shape))
    grids = [reshape(x, s) for x, s in zip(xi, shapes)]
    if sparse:
        return tuple(grids)
    full = np.broadcast_shapes(*(g.shape for g in grids))
    return tuple(broadcast_to(g, full) for g in grids)


_NO_VALUE = object()


def diff(a, n=1, axis=-1, prepend=_NO_VALUE, append=_NO_VALUE):
    """np.diff: the n-th differences along `axis` (slices and subtractions), with `prepend` /
    `append` joined on first (a scalar is broadcast to one slice; a Python number takes a's
    float dtype, so float32 stays float32 where NumPy would promote to float64)."""
    n = _int(n, "diff", "n")
    if n < 0:
        raise ValueError(f"diff: order n must not be negative, got {n}")
    if n == 0:
        return _as_tensor(a)
    shape = np.shape(a)
    if not shape:
        raise ValueError("diff: needs an input of at least 1 dimension, got shape ()")
    axis = _axis_index(axis, len(shape), "diff", shape)
    parts, shapes, dtype = [a], [shape], getattr(a, "dtype", None)
    for where, extra in ((0, prepend), (1, append)):
        if extra is not _NO_VALUE:
            extra_shape = np.shape(extra)
            if not extra_shape:
                extra_shape = shape[:axis] + (1,) + shape[axis + 1:]
                if type(extra) in (int, float) and dtype is not None and dtype.kind in "fc":
                    extra = np.asarray(extra, dtype)  # a Python number does not upcast float32
                extra = broadcast_to(extra, extra_shape)
            parts.insert(where * len(parts), extra)
            shapes.insert(where * len(shapes), extra_shape)
    x = _joined("diff", parts, shapes, axis) if len(parts) > 1 else a
    before = (slice(None),) * axis
    for _ in range(n):
        x = getitem(x, before + (slice(1, None),)) - getitem(x, before + (slice(None, -1),))
    return x


# --- creation: constants (no gradient) -----------------------------------------------------------------
def _created(op, make, *args, **kwargs):
    """A Tensor of NumPy's `make(*args)`, its errors naming `op`."""
    try:
        return Tensor(as_array(make(*args, **kwargs), op))
    except (ValueError, TypeError, ZeroDivisionError) as error:
        if str(error).startswith(f"{op}: "):
            raise
        raise reworded(error, f"{op}: {error}") from None


def zeros(shape, dtype=float, order="C"):
    """np.zeros, as a constant Tensor."""
    return _created("zeros", np.zeros, _shape_of(shape, "zeros"), dtype, order)


def ones(shape, dtype=float, order="C"):
    """np.ones, as a constant Tensor."""
    return _created("ones", np.ones, _shape_of(shape, "ones"), dtype, order)


def empty(shape, dtype=float, order="C"):
    """np.empty's name: zeros (deterministic, where NumPy leaves memory unset)."""
    return _created("empty", np.zeros, _shape_of(shape, "empty"), dtype, order)


def full(shape, fill_value, dtype=None, order="C"):
    """np.full, as a constant Tensor."""
    return _created("full", np.full, _shape_of(shape, "full"), _fill(fill_value, "full"), dtype, order)


def _fill(value, op):
    return _value_of(value, op) if isinstance(value, Tensor) else value


def _like(op, make, a, dtype, shape, *fill):
    value = a._value if isinstance(a, Tensor) else as_array(a, op)  # (only its shape and dtype)
    shape = None if shape is None else _shape_of(shape, op)
    return _created(op, make, value, *fill, dtype=dtype, shape=shape)


def zeros_like(a, dtype=None, shape=None):
    """np.zeros_like: zeros of a's shape and dtype (or those given)."""
    return _like("zeros_like", np.zeros_like, a, dtype, shape)


def ones_like(a, dtype=None, shape=None):
    """np.ones_like: ones of a's shape and dtype (or those given)."""
    return _like("ones_like", np.ones_like, a, dtype, shape)


def empty_like(a, dtype=None, shape=None):
    """np.empty_like's name: zeros_like."""
    return _like("empty_like", np.zeros_like, a, dtype, shape)


def full_like(a, fill_value, dtype=None, shape=None):
    """np.full_like: `fill_value` in a's shape and dtype (or those given)."""
    return _like("full_like", np.full_like, a, dtype, shape, _fill(fill_value, "full_like"))


def eye(N, M=None, k=0, dtype=float, order="C"):
    """np.eye: ones on the k-th diagonal of an N x M matrix."""
    N, M = _int(N, "eye", "N"), None if M is None else _int(M, "eye", "M")
    return _created("eye", np.eye, N, M, _int(k, "eye", "k"), dtype, order)


def identity(n, dtype=float):
    """np.identity: the n x n identity matrix."""
    return _created("identity", np.identity, _int(n, "identity", "n"), dtype)


def arange(start, stop=None, step=None, dtype=None):
    """np.arange: evenly spaced values in [start, stop) (integers stay integers)."""
    args = [_fill(v, "arange") for v in (start, stop, step) if v is not None]
    if stop is None and step is not None:
        args.insert(0, 0)
    return _created("arange", np.arange, *args, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, retstep=False, dtype=None, axis=0):
    """np.linspace: `num` evenly spaced values from start to stop (and the step with retstep)."""
    num = _int(num, "linspace", "num")
    if num < 0:
        raise ValueError(f"linspace: num must not be negative, got {num}")
    result = np.linspace(_fill(start, "linspace"), _fill(stop, "linspace"), num, endpoint, retstep,
                         dtype, axis)
    if retstep:
        return _created("linspace", np.asarray, result[0]), result[1]
    return _created("linspace", np.asarray, result)


def argwhere(a):
    """np.argwhere: the indices of the nonzero entries, one row each (an integer tensor)."""
    return _created("argwhere", np.argwhere, _value_of(a, "argwhere"))
