"""Shape, indexing and dtype: ops that move or select values without arithmetic."""
import math

import numpy as np

from ..primitive import Primitive
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
                    label=_to_shape)


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


transpose = Primitive("transpose", np.transpose, (_transpose_grad,), saves="",
                      prepare=_transpose_axes,
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
    prepare=lambda x, shape: ((x,), (_shape_of(shape, "broadcast_to"),)), label=_to_shape)


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
    parts = index if isinstance(index, tuple) else (index,)
    if any(isinstance(p, np.ndarray) for p in parts):
        np.add.at(out, index, g)  # repeated indices accumulate
    else:
        out[index] = g
    return out


scatter_add = Primitive("scatter_add", _scatter_add_forward,
                        (lambda g, ans, x, index, shape: g[index],), saves="",
                        label=lambda index, shape: _index_label(index),
                        doc="Zeros of `shape` with `g` added at `index` (getitem's VJP).")

getitem = Primitive("getitem", lambda x, index: x[index],
                    (lambda g, ans, x, index: scatter_add.bind(g, index, x.shape),), saves="",
                    prepare=_index, label=_index_label, operator="__getitem__",
                    doc="`x[index]`; repeated integer indices accumulate their gradients.")


# --- dtype and gradient control ------------------------------------------------------------------
def _dtype(x, dtype):
    try:
        dtype = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"cast: {dtype!r} is not a NumPy dtype") from None
    if dtype.kind not in "biufc":
        raise TypeError(f"cast: tensors hold booleans or numbers, not {dtype}")
    return (x,), (dtype,)


cast = Primitive("cast", lambda x, dtype: np.asarray(x, dtype),
                 (lambda g, ans, x, dtype: g.astype(x.dtype),), saves="", prepare=_dtype,
                 label=lambda dtype: f"to {dtype}",
                 doc="`x` as `dtype`; a cast to integers or booleans carries no gradient (as TF).")

# no VJP, so a gradient tape never records it (nothing flows back), but a trace does
stop_gradient = Primitive("stop_gradient", as_array, (None,),
                          doc="The same value as a new constant: no gradient flows back.")
