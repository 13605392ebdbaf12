"""Sliding windows: the im2col view that convolution and pooling are built from, and its VJP,
the col2im scatter-add (a position that several windows cover sums their gradients).

    windows(x, axes, kernel, stride, dilation, padding, value)      # the primitive (private)

gives, for each of `axes` of `x`, the windows `kernel[i]` wide, `dilation[i]` apart inside a
window and `stride[i]` apart from each other, of `x` padded by `padding[i] = (lo, hi)` entries of
`value` (a negative `hi` drops entries at the end). The result has `x`'s shape with each windowed
axis replaced by the number of windows along it, and the window's own axes appended in the order
of `axes`: `(N, C, H, W)` windowed over axes (2, 3) by (kh, kw) is `(N, C, OH, OW, kh, kw)`, a
read-only view of `x` (or of its padded copy), as NumPy's `sliding_window_view` lays it out.
`tensorflowlite_clone.convolution` builds conv and pooling from it and the engine's matmul,
reshape, transpose, max and mean, so their gradients come from the composition.

The public op is NumPy's `sliding_window_view(x, window_shape, axis=None)`, differentiable.
"""
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ..primitive import Primitive
from ..tape import is_int


def _counts(shape, axes, kernel, stride, dilation, padding):
    """The number of windows along each of `axes` (at least 0)."""
    return tuple(max(0, (shape[a] + lo + hi - d * (k - 1) - 1) // s + 1)
                 for a, k, s, d, (lo, hi) in zip(axes, kernel, stride, dilation, padding))


def _windows_shape(shape, axes, kernel, stride, dilation, padding):
    """The shape of `windows` of an array of `shape`."""
    out = list(shape)
    for a, n in zip(axes, _counts(shape, axes, kernel, stride, dilation, padding)):
        out[a] = n
    return tuple(out) + tuple(kernel)


def _windows_forward(x, axes, kernel, stride, dilation, padding, value):
    x = np.asarray(x)
    if any(lo or hi for lo, hi in padding):
        widths = [(0, 0)] * x.ndim
        for a, (lo, hi) in zip(axes, padding):
            widths[a] = (lo, max(hi, 0))
        if any(lo or hi for lo, hi in widths):
            x = np.pad(x, widths, constant_values=value)
        if any(hi < 0 for _, hi in padding):  # a negative hi drops entries at the end
            index = [slice(None)] * x.ndim
            for a, (_, hi) in zip(axes, padding):
                if hi < 0:
                    index[a] = slice(0, x.shape[a] + hi)
            x = x[tuple(index)]
    shape, strides = list(x.shape), list(x.strides)
    counts = _counts(x.shape, axes, kernel, stride, dilation, ((0, 0),) * len(axes))
    for a, n, s in zip(axes, counts, stride):
        shape[a], strides[a] = n, x.strides[a] * s
    shape += kernel
    strides += [x.strides[a] * d for a, d in zip(axes, dilation)]
    return as_strided(x, tuple(shape), tuple(strides), writeable=False)


def _col2im_forward(g, shape, axes, kernel, stride, dilation, padding):
    """Zeros of `shape`, padded, with each window of `g` added where `windows` took it from;
    then the padding cropped off."""
    ndim = len(shape)
    counts = tuple(g.shape[a] for a in axes)
    if g.shape != _windows_shape(shape, axes, kernel, stride, dilation, padding):
        raise ValueError(f"windows of shape {g.shape} do not come from an array of shape "
                         f"{tuple(shape)} with these windows")
    widths = _per_axis(padding, axes, ndim)
    out = np.zeros([n + lo + max(hi, 0) for n, (lo, hi) in zip(shape, widths)], dtype=g.dtype)
    if all(d * (k - 1) < s or n <= 1 for k, s, d, n in zip(kernel, stride, dilation, counts)):
        # no position is in two windows (pooling): one assignment through the windows' view
        strides = list(out.strides)
        for a, s in zip(axes, stride):
            strides[a] = out.strides[a] * s
        strides += [out.strides[a] * d for a, d in zip(axes, dilation)]
        as_strided(out, g.shape, strides, writeable=True)[...] = g
    elif math.prod(kernel) <= math.prod(counts):  # one strided add per position in a window
        for offset in itertools.product(*map(range, kernel)):
            index = [slice(None)] * ndim
            for a, j, s, d, n in zip(axes, offset, stride, dilation, counts):
                index[a] = slice(j * d, j * d + s * (n - 1) + 1, s)
            out[tuple(index)] += g[(Ellipsis, *offset)]
    else:  # fewer windows than positions in one (a kernel as large as the input): one add each
        kept = [a for a in range(ndim) if a not in axes]
        order = tuple(int(i) for i in np.argsort(kept + list(axes)))
        for position in itertools.product(*map(range, counts)):
            index, pick = [slice(None)] * ndim, [slice(None)] * g.ndim
            for a, o, k, s, d in zip(axes, position, kernel, stride, dilation):
                index[a], pick[a] = slice(o * s, o * s + d * (k - 1) + 1, d), o
            out[tuple(index)] += g[tuple(pick)].transpose(order)  # (kept axes, then window's)
    if any(lo or hi > 0 for lo, hi in padding):
        out = out[tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape, widths))]
    return out


def _per_axis(padding, axes, ndim):
    """`padding` as one (lo, hi) per axis of an ndim-array, (0, 0) off `axes`."""
    widths = [(0, 0)] * ndim
    for a, pair in zip(axes, padding):
        widths[a] = pair
    return widths


def _label(axes, kernel, stride, dilation, padding, *_):
    parts = [f"kernel={kernel}"]
    if any(s != 1 for s in stride):
        parts.append(f"stride={stride}")
    if any(d != 1 for d in dilation):
        parts.append(f"dilation={dilation}")
    if any(lo or hi for lo, hi in padding):
        parts.append(f"padding={padding}")
    return ", ".join(parts)


_windows = Primitive(
    "windows", _windows_forward,
    (lambda g, ans, x, axes, kernel, stride, dilation, padding, value:
        _col2im.bind(g, x.shape, axes, kernel, stride, dilation, padding),),
    saves="", label=_label,
    doc="The sliding windows of `x` over `axes` (im2col), a read-only view; see the module.")

_col2im = Primitive(
    "col2im", _col2im_forward,
    (lambda g, ans, _g, shape, axes, kernel, stride, dilation, padding:
        _windows.bind(g, axes, kernel, stride, dilation, padding, 0),),
    saves="", label=lambda shape, *rest: _label(*rest),
    doc="Windows summed back into an array of `shape` (windows' VJP); overlaps accumulate.")




# --- NumPy's name for it -------------------------------------------------------------------------
def _axes(axis, ndim, op):
    axes = tuple(range(ndim)) if axis is None else (axis,) if is_int(axis) else axis
    if not (isinstance(axes, (tuple, list)) and all(map(is_int, axes))):
        raise TypeError(f"{op}: axis must be None, an int or a tuple of ints, got {axis!r}")
    if any(not -ndim <= a < ndim for a in axes):
        raise ValueError(f"{op}: axis {axis!r} is out of range for a {ndim}-D input")
    axes = tuple(int(a) % ndim for a in axes)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: axis {axis!r} repeats an axis (not supported)")
    return axes


def sliding_window_view(x, window_shape, axis=None, *, subok=False, writeable=False):
    """np.lib.stride_tricks.sliding_window_view, differentiable: every window of `window_shape`
    along `axis` (None: all axes), stride 1; the windows' axes come last. Where windows overlap,
    their gradients add up (col2im)."""
    name = "sliding_window_view"
    if writeable:
        raise ValueError(f"{name}: writeable=True is not supported (tensors are never written "
                         "in place)")
    shape = np.shape(x) if not hasattr(x, "shape") else x.shape
    window = (window_shape,) if is_int(window_shape) else window_shape
    if not (isinstance(window, (tuple, list)) and all(map(is_int, window))):
        raise TypeError(f"{name}: window_shape must be an int or a tuple of ints, got "
                        f"{window_shape!r}")
    window = tuple(map(int, window))
    axes = _axes(axis, len(shape), name)
    if len(window) != len(axes):
        raise ValueError(f"{name}: window_shape {window_shape!r} needs one entry per axis of "
                         f"{axis!r} (input shape {tuple(shape)})")
    if any(k < 0 for k in window):
        raise ValueError(f"{name}: window_shape {window_shape!r} cannot be negative")
    if any(k > shape[a] for a, k in zip(axes, window)):
        raise ValueError(f"{name}: window_shape {window_shape!r} is larger than the input "
                         f"{tuple(shape)} along axis {axis!r}")
    ones = (1,) * len(axes)
    return _windows(x, axes, window, ones, ones, ((0, 0),) * len(axes), 0)
