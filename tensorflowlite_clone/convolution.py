"""Convolution, pooling, unpooling and resampling with torch.nn.functional's names, signatures
and NCHW layout, composed of the engine's ops: the sliding windows of the input (`ops.windows`,
im2col, whose VJP is the col2im scatter-add), then a matrix product, reshapes and transposes,
`max` or a mean; max_unpool a scatter-add along each flattened plane; interpolate integer-array
indexing (getitem) and the linear weights. Their gradients come from the composition, so they
are differentiable to any order, trace and draw like any other ops, and need no VJP of their own.

    y = conv2d(x, w, b, stride=1, padding=3)     # x (N, C, H, W), w (F, C / groups, kh, kw)
    p = max_pool2d(relu(y), 2)                   # (N, F, H / 2, W / 2)

conv2d is cs231n's "fast" im2col layer: the windows of x laid out as a (C·kh·kw, N·OH·OW)
matrix, multiplied by the weights as a (F, C·kh·kw) matrix. Conventions:

- Ties in max pooling split the gradient evenly among the tied maxima, as the engine's `max`
  (and torch.amax, JAX, cs231n's fast max_pool_backward_reshape) do; torch's max_pool2d gives it
  all to the first maximum instead. `return_indices=True` returns the first maximum's index, as
  torch does.
- Where several indices of max_unpool name one position (overlapping windows sharing a
  maximum), the last one's value is kept, as torch's CPU kernel writes them in order, and it
  gets the position's gradient, the others 0; torch's backward gives each of them the whole
  gradient, which is not the derivative of its forward.
- interpolate computes its source indices and weights as torch's CPU kernels do (nearest in
  float32, linear in the input's float type), so it reads the same entries with the same
  weights. torch's 1-D and 3-D nearest backward kernels read differently from their forward
  where a scale_factor other than 1 or 2 keeps or doubles a size; the gradient here is the
  derivative of the forward there too.
- Max pooling pads with the dtype's lowest finite value (not -inf, which detect_anomaly() would
  report), so padding never wins: only a window whose own entries are all -inf gives that value
  instead of -inf.
- Every function takes Tensors, NumPy arrays or nested lists; float32 stays float32.
- Bad shapes and arguments are a ValueError or TypeError naming the function and the shapes,
  raised before anything is recorded.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import ops as _ops
from .ops.reductions import _scatter_along
from .ops.windows import _col2im, _windows
from .tape import is_int
from .tensor import ArrayLike, Tensor, _read, as_array

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
           "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d", "avg_pool1d",
           "avg_pool2d", "avg_pool3d", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "interpolate"]

_LAYOUTS = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}
_KERNELS = {1: "k", 2: "kh, kw", 3: "kd, kh, kw"}


# --- convolution -------------------------------------------------------------------------------
def conv1d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """torch.nn.functional.conv1d: x (N, C, L), w (out, C / groups, k), b (out,) or None."""
    return _conv("conv1d", 1, x, w, b, stride, padding, dilation, groups)


def conv2d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """torch.nn.functional.conv2d (a cross-correlation, as in every deep-learning library):
    x (N, C, H, W), w (out, C / groups, kh, kw), b (out,) or None; stride, padding and dilation an
    int or one per spatial axis; padding also "valid" (0) or "same" (stride 1: output as large
    as the input, the odd entry of padding at the end). Returns (N, out, OH, OW),
    OH = (H + 2 padding - dilation (kh - 1) - 1) // stride + 1."""
    return _conv("conv2d", 2, x, w, b, stride, padding, dilation, groups)


def conv3d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
           padding: Any = 0, dilation: Any = 1, groups: int = 1) -> Tensor:
    """torch.nn.functional.conv3d: x (N, C, D, H, W), w (out, C / groups, kd, kh, kw)."""
    return _conv("conv3d", 3, x, w, b, stride, padding, dilation, groups)


def _conv(name, nsp, x, w, b, stride, padding, dilation, groups):
    x, w = _value(x, name), _value(w, name)
    xs, ws = tuple(x.shape), tuple(w.shape)
    _check_ndim(name, "the input", xs, nsp + 2, _LAYOUTS[nsp])
    _check_ndim(name, "the weight", ws, nsp + 2, f"(out_channels, in_channels / groups, "
                f"{_KERNELS[nsp]})")
    groups = _groups(name, groups)
    if xs[1] != ws[1] * groups:
        raise ValueError(f"{name}: the weight {ws} with groups={groups} takes {ws[1] * groups} "
                         f"input channels, but the input {xs} has {xs[1]}")
    if ws[0] % groups:
        raise ValueError(f"{name}: the weight's {ws[0]} output channels (weight {ws}) do not "
                         f"divide into groups={groups}")
    b = _bias(name, b, ws[0], ws)
    kernel = ws[2:]
    stride = _ints(name, "stride", stride, nsp, 1)
    dilation = _ints(name, "dilation", dilation, nsp, 1)
    pads = _conv_padding(name, padding, nsp, kernel, stride, dilation)
    _check_windows(name, xs, kernel, stride, dilation, pads)

    N, C, F, G = xs[0], xs[1], ws[0], groups
    axes = tuple(range(2, 2 + nsp))
    cols = _windows(x, axes, kernel, stride, dilation, pads, 0)  # (N, C, *out, *kernel)
    out = cols.shape[2:2 + nsp]
    K, P = math.prod(kernel), N * math.prod(out)
    window_axes = tuple(range(2 + nsp, 2 + 2 * nsp))
    if G == 1:  # (C, *kernel, N, *out) -> the (C K, N OH OW) matrix
        cols = _ops.reshape(_ops.transpose(cols, (1, *window_axes, 0, *axes)), (C * K, P))
        y = _ops.matmul(_ops.reshape(w, (F, C * K)), cols)  # (F, N OH OW)
    else:  # a batch of G products of (F/G, C/G K) by (C/G K, N OH OW)
        cols = _ops.reshape(cols, (N, G, C // G) + cols.shape[2:])
        cols = _ops.transpose(cols, (1, 2, *(a + 1 for a in window_axes), 0,
                                     *(a + 1 for a in axes)))
        cols = _ops.reshape(cols, (G, C // G * K, P))
        y = _ops.matmul(_ops.reshape(w, (G, F // G, C // G * K)), cols)  # (G, F/G, N OH OW)
    y = _ops.transpose(_ops.reshape(y, (F, N) + out), (1, 0, *axes))  # (N, F, *out)
    return y if b is None else y + _ops.reshape(b, (F,) + (1,) * nsp)


def conv_transpose1d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """torch.nn.functional.conv_transpose1d: x (N, C, L), w (C, out / groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, x, w, b, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose2d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """torch.nn.functional.conv_transpose2d (torch's argument order: groups before dilation),
    the gradient of conv2d with respect to its input: x (N, C, H, W), w (C, out / groups, kh, kw),
    b (out,) or None. Returns (N, out, OH, OW), OH = (H - 1) stride - 2 padding + dilation (kh - 1)
    + output_padding + 1 (output_padding < stride or dilation adds that many rows at the end)."""
    return _conv_transpose("conv_transpose2d", 2, x, w, b, stride, padding, output_padding,
                           groups, dilation)


def conv_transpose3d(x: ArrayLike, w: ArrayLike, b: ArrayLike | None = None, stride: Any = 1,
                     padding: Any = 0, output_padding: Any = 0, groups: int = 1,
                     dilation: Any = 1) -> Tensor:
    """torch.nn.functional.conv_transpose3d: x (N, C, D, H, W), w (C, out / groups, kd, kh, kw)."""
    return _conv_transpose("conv_transpose3d", 3, x, w, b, stride, padding, output_padding,
                           groups, dilation)


def _conv_transpose(name, nsp, x, w, b, stride, padding, output_padding, groups, dilation):
    x, w = _value(x, name), _value(w, name)
    xs, ws = tuple(x.shape), tuple(w.shape)
    _check_ndim(name, "the input", xs, nsp + 2, _LAYOUTS[nsp])
    _check_ndim(name, "the weight", ws, nsp + 2, f"(in_channels, out_channels / groups, "
                f"{_KERNELS[nsp]})")
    groups = _groups(name, groups)
    if xs[1] != ws[0]:
        raise ValueError(f"{name}: the weight {ws} takes {ws[0]} input channels, but the input "
                         f"{xs} has {xs[1]}")
    if ws[0] % groups:
        raise ValueError(f"{name}: the weight's {ws[0]} input channels (weight {ws}) do not "
                         f"divide into groups={groups}")
    C, G, N = ws[0], groups, xs[0]
    F = ws[1] * G
    b = _bias(name, b, F, ws)
    kernel = ws[2:]
    if any(k < 1 for k in kernel):
        raise ValueError(f"{name}: the weight {ws} has an empty kernel")
    stride = _ints(name, "stride", stride, nsp, 1)
    dilation = _ints(name, "dilation", dilation, nsp, 1)
    pad = _ints(name, "padding", padding, nsp, 0)
    extra = _ints(name, "output_padding", output_padding, nsp, 0)
    if any(e >= max(s, d) for e, s, d in zip(extra, stride, dilation)):
        raise ValueError(f"{name}: output_padding {output_padding!r} must be smaller than the "
                         f"stride {stride} or the dilation {dilation}")
    size = tuple((n - 1) * s - 2 * p + d * (k - 1) + e + 1 for n, s, p, d, k, e
                 in zip(xs[2:], stride, pad, dilation, kernel, extra))
    if any(n < 1 for n in size):
        raise ValueError(f"{name}: the input {xs} with the weight {ws}, stride {stride}, padding "
                         f"{pad} and dilation {dilation} leaves an output of shape {size}")
    pads = tuple((p, p - e) for p, e in zip(pad, extra))  # col2im: the (hi) extra stays zero

    axes = tuple(range(2, 2 + nsp))
    K, P = math.prod(kernel), N * math.prod(xs[2:])
    if G == 1:
        rows = _ops.reshape(_ops.transpose(x, (1, 0, *axes)), (C, P))  # (C, N H W)
        cols = _ops.matmul(_ops.transpose(_ops.reshape(w, (C, F * K))), rows)  # (F K, N H W)
    else:
        rows = _ops.reshape(x, (N, G, C // G) + xs[2:])
        rows = _ops.reshape(_ops.transpose(rows, (1, 2, 0, *(a + 1 for a in axes))),
                            (G, C // G, P))
        cols = _ops.matmul(_ops.transpose(_ops.reshape(w, (G, C // G, F // G * K)), (0, 2, 1)),
                           rows)  # (G, F/G K, N H W)
    cols = _ops.reshape(cols, (F,) + kernel + (N,) + xs[2:])  # (F, *kernel, N, *in)
    cols = _ops.transpose(cols, (nsp + 1, 0, *(a + nsp for a in axes), *range(1, nsp + 1)))
    y = _col2im(cols, (N, F) + size, axes, kernel, stride, dilation, pads)
    return y if b is None else y + _ops.reshape(b, (F,) + (1,) * nsp)


# --- pooling -----------------------------------------------------------------------------------
def max_pool1d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False):
    """torch.nn.functional.max_pool1d on (N, C, L) (or (C, L)); see max_pool2d."""
    return _max_pool("max_pool1d", 1, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False):
    """torch.nn.functional.max_pool2d on (N, C, H, W) (or (C, H, W)): the maximum of each
    window; stride defaults to kernel_size; padding (at most half the dilated kernel) never wins
    (it is the dtype's lowest finite value: -inf would trip detect_anomaly()).
    Ties split the gradient evenly among the tied maxima (torch gives it to the first).
    `ceil_mode` keeps a last, partial window (one that starts inside the input or the left
    padding); `return_indices` also returns, as an int64 tensor, where each maximum (the first,
    with ties) is, counted over the flattened H x W plane, as torch does."""
    return _max_pool("max_pool2d", 2, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def max_pool3d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               dilation: Any = 1, ceil_mode: bool = False, return_indices: bool = False):
    """torch.nn.functional.max_pool3d on (N, C, D, H, W) (or (C, D, H, W)); see max_pool2d."""
    return _max_pool("max_pool3d", 3, x, kernel_size, stride, padding, dilation, ceil_mode,
                     return_indices)


def avg_pool1d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """torch.nn.functional.avg_pool1d on (N, C, L) (or (C, L)); see avg_pool2d."""
    return _avg_pool("avg_pool1d", 1, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, None)


def avg_pool2d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """torch.nn.functional.avg_pool2d on (N, C, H, W) (or (C, H, W)): the mean of each window;
    stride defaults to kernel_size; padding (at most half the kernel) is zeros, counted in the
    mean when `count_include_pad` (torch's default), left out otherwise; `ceil_mode` keeps a
    last, partial window, averaged over the part of it inside the (padded) input, as torch
    does; `divisor_override` divides every window's sum by that number instead."""
    return _avg_pool("avg_pool2d", 2, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def avg_pool3d(x: ArrayLike, kernel_size: Any, stride: Any = None, padding: Any = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """torch.nn.functional.avg_pool3d on (N, C, D, H, W) (or (C, D, H, W)); see avg_pool2d."""
    return _avg_pool("avg_pool3d", 3, x, kernel_size, stride, padding, ceil_mode,
                     count_include_pad, divisor_override)


def _pool_windows(name, nsp, x, kernel_size, stride, padding, dilation, ceil_mode):
    """x (a Tensor or array), and the windows' parameters: kernel, stride, dilation, the
    declared padding, the (lo, hi) padding the windows need (hi larger in ceil mode)."""
    x = _value(x, name)
    xs = tuple(x.shape)
    if len(xs) not in (nsp + 1, nsp + 2):
        raise ValueError(f"{name}: the input must be {nsp + 2}-D {_LAYOUTS[nsp]} or "
                         f"{nsp + 1}-D without N, got shape {xs}")
    kernel = _ints(name, "kernel_size", kernel_size, nsp, 1)
    stride = kernel if stride is None or stride == () else _ints(name, "stride", stride, nsp, 1)
    dilation = _ints(name, "dilation", dilation, nsp, 1)
    pad = _ints(name, "padding", padding, nsp, 0)
    if any(p > (d * (k - 1) + 1) // 2 for p, k, d in zip(pad, kernel, dilation)):
        raise ValueError(f"{name}: padding {pad} must be at most half the kernel {kernel} "
                         f"(dilation {dilation})")
    spatial = xs[-nsp:]
    counts = []
    for n, k, s, d, p in zip(spatial, kernel, stride, dilation, pad):
        span = d * (k - 1) + 1
        count = (n + 2 * p - span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (count - 1) * s >= n + p:  # the last window must start inside
            count -= 1
        counts.append(count)
    if any(c < 1 for c in counts):
        raise ValueError(f"{name}: the input {xs} padded by {pad} is smaller than the kernel "
                         f"{kernel} (dilation {dilation})")
    pads = tuple((p, max(p, (c - 1) * s + d * (k - 1) + 1 - n - p)) for n, k, s, d, p, c
                 in zip(spatial, kernel, stride, dilation, pad, counts))
    axes = tuple(range(len(xs) - nsp, len(xs)))
    return x, xs, kernel, stride, dilation, pad, pads, axes, xs[:-nsp] + tuple(counts)


def _max_pool(name, nsp, x, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    x, xs, kernel, stride, dilation, pad, pads, axes, out = _pool_windows(
        name, nsp, x, kernel_size, stride, padding, dilation, ceil_mode)
    dtype = x.dtype
    # the lowest finite value, not -inf: detect_anomaly() would take an inf for a fault
    lowest = (float(np.finfo(dtype).min) if dtype.kind in "fc" else False if dtype.kind == "b" else
              np.iinfo(dtype).min)
    windows = _kernel_major(_windows(x, axes, kernel, stride, dilation, pads, lowest), nsp)
    y = _ops.reshape(_ops.max(windows, axis=0), out)
    if not return_indices:
        return y
    offsets = np.unravel_index(np.argmax(np.asarray(windows), axis=0).reshape(out),
                               kernel)  # the first maximum's
    index = np.zeros(y.shape, np.int64)
    for a, (offset, s, d, (lo, _), n) in enumerate(zip(offsets, stride, dilation, pads,
                                                      xs[-nsp:])):
        starts = np.arange(y.shape[len(xs) - nsp + a]) * s - lo
        starts = starts.reshape((-1,) + (1,) * (nsp - 1 - a))
        index = index * n + starts + offset * d
    return y, Tensor(index)


def _avg_pool(name, nsp, x, kernel_size, stride, padding, ceil_mode, count_include_pad,
              divisor_override):
    x, xs, kernel, stride, dilation, pad, pads, axes, out = _pool_windows(
        name, nsp, x, kernel_size, stride, padding, 1, ceil_mode)
    if divisor_override is not None and (not is_int(divisor_override) or divisor_override < 1):
        raise ValueError(f"{name}: divisor_override must be a positive integer, got "
                         f"{divisor_override!r}")
    windows = _kernel_major(_windows(x, axes, kernel, stride, dilation, pads, 0), nsp)
    if divisor_override is not None:
        return _ops.reshape(_ops.sum(windows, axis=0), out) / int(divisor_override)
    exact = all(hi == lo for lo, hi in pads) and (count_include_pad or not any(pad))
    if exact:  # every window counts kernel entries: the mean, one op
        return _ops.reshape(_ops.mean(windows, axis=0), out)
    # the entries each window counts: those inside the input, or inside its declared padding
    # (count_include_pad), never the extra that ceil mode adds at the end
    counted = np.pad(np.ones(xs[-nsp:], np.int64), [(p, p) for p in pad],
                     constant_values=1 if count_include_pad else 0)
    counted = np.pad(counted, [(0, hi - lo) for lo, hi in pads])
    counts = _windows.forward(counted, tuple(range(nsp)), kernel, stride, dilation,
                              ((0, 0),) * nsp, 0).sum(axis=tuple(range(nsp, 2 * nsp)))
    dtype = x.dtype if x.dtype.kind in "fc" else np.float64
    return _ops.reshape(_ops.sum(windows, axis=0), out) / counts.astype(dtype)


def _kernel_major(windows, nsp):
    """(..., *out, *kernel) windows as the (K, ...) matrix whose rows are the positions in a
    window: a copy, after which the reduction over a window is over the first axis (NumPy is
    several times faster there than over small trailing axes of the strided view)."""
    ndim = windows.ndim
    order = tuple(range(ndim - nsp, ndim)) + tuple(range(ndim - nsp))
    return _ops.reshape(_ops.transpose(windows, order), (-1, math.prod(windows.shape[:-nsp])))


# --- unpooling ---------------------------------------------------------------------------------
def max_unpool1d(x: ArrayLike, indices: ArrayLike, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """torch.nn.functional.max_unpool1d on (N, C, L) (or (C, L)); see max_unpool2d."""
    return _max_unpool("max_unpool1d", 1, x, indices, kernel_size, stride, padding, output_size)


def max_unpool2d(x: ArrayLike, indices: ArrayLike, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """torch.nn.functional.max_unpool2d, max_pool2d's partial inverse: zeros of (N, C, OH, OW)
    (or (C, OH, OW)) with each entry of x (N, C, H, W) put where its entry of `indices` (max
    pooling's `return_indices=True`, counted over the flattened OH x OW plane) says. The output
    is OH = (H - 1) stride - 2 padding + kh (stride defaults to kernel_size), or `output_size`
    ((OH, OW) or (N, C, OH, OW)), which must lie within a stride of that. Differentiable in x:
    its gradient gathers g at the indices. Where several entries name one position (overlapping
    windows sharing a maximum), the last of them is kept, as torch's CPU kernel writes them in
    order, and gets that position's gradient, the others 0 (torch's backward gives each of them
    the whole gradient, which is not its forward's derivative)."""
    return _max_unpool("max_unpool2d", 2, x, indices, kernel_size, stride, padding, output_size)


def max_unpool3d(x: ArrayLike, indices: ArrayLike, kernel_size: Any, stride: Any = None,
                 padding: Any = 0, output_size: Any = None) -> Tensor:
    """torch.nn.functional.max_unpool3d on (N, C, D, H, W) (or (C, D, H, W)); see max_unpool2d."""
    return _max_unpool("max_unpool3d", 3, x, indices, kernel_size, stride, padding, output_size)


def _max_unpool(name, nsp, x, indices, kernel_size, stride, padding, output_size):
    x = _value(x, name)
    xs = tuple(x.shape)
    if len(xs) not in (nsp + 1, nsp + 2):
        raise ValueError(f"{name}: the input must be {nsp + 2}-D {_LAYOUTS[nsp]} or "
                         f"{nsp + 1}-D without N, got shape {xs}")
    _read(indices, f"{name}'s indices")  # checked below; a trace of them runs eagerly
    index = indices._value if isinstance(indices, Tensor) else np.asarray(indices)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{name}: indices must be integers (max pooling's return_indices=True), "
                        f"got {index.dtype}")
    if index.shape != xs:
        raise ValueError(f"{name}: indices {index.shape} must have the input's shape {xs}")
    kernel = _ints(name, "kernel_size", kernel_size, nsp, 1)
    stride = kernel if stride is None or stride == () else _ints(name, "stride", stride, nsp, 1)
    pad = _ints(name, "padding", padding, nsp, 0)
    default = tuple((n - 1) * s + k - 2 * p for n, s, k, p in zip(xs[-nsp:], stride, kernel, pad))
    if output_size is None:
        size = default
    else:
        given = (output_size,) if is_int(output_size) else output_size
        if not (isinstance(given, (tuple, list)) and len(given) in (nsp, nsp + 2)
                and all(map(is_int, given))):
            raise TypeError(f"{name}: output_size must be {nsp} or {nsp + 2} ints, got "
                            f"{output_size!r}")
        size = tuple(map(int, given[-nsp:]))
        if not all(d - s < n < d + s for n, d, s in zip(size, default, stride)):
            raise ValueError(f"{name}: output_size {output_size!r} must lie within a stride "
                             f"{stride} of the default size {default} (exclusive)")
    if any(n < 0 for n in size):
        raise ValueError(f"{name}: the input {xs} with kernel {kernel}, stride {stride} and "
                         f"padding {pad} leaves an output of shape {size}")
    plane = math.prod(size)
    if index.size and (index.min() < 0 or index.max() >= plane):
        bad = index.min() if index.min() < 0 else index.max()
        raise ValueError(f"{name}: indices must lie in [0, {plane}), the flattened output "
                         f"plane {size}; got {bad}")
    lead = xs[:-nsp]
    flat = lead + (math.prod(xs[-nsp:]),)
    where = index.reshape(flat)
    keep = _last_of_each(where)  # None: no index repeats in any plane
    x = _ops.reshape(x, flat)
    if keep is not None:  # only the last entry sent to a position counts, as in torch's kernel
        x = _ops.where(keep, x, x.dtype.type(0))
    y = _scatter_along(x, where, -1, lead + (plane,), keep is None)
    return _ops.reshape(y, lead + size)


# --- resampling ---------------------------------------------------------------------------------
_MODES = {"nearest": None, "nearest-exact": None, "linear": 1, "bilinear": 2, "trilinear": 3}


def interpolate(x: ArrayLike, size: Any = None, scale_factor: Any = None, mode: str = "nearest",
                align_corners: bool | None = None, recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """torch.nn.functional.interpolate on (N, C, L), (N, C, H, W) or (N, C, D, H, W): resized to
    `size` (an int or one per spatial axis) or by `scale_factor` (the output floor(n · factor)),
    one of them. Modes: "nearest" (output index i reads floor(i · scale), scale = in / out, or
    1 / scale_factor when that is given and `recompute_scale_factor` is not; torch's, OpenCV's
    INTER_NEAREST), "nearest-exact" (floor((i + 0.5) · scale): Pillow's, scikit-image's),
    "linear" (3-D input), "bilinear" (4-D), "trilinear" (5-D): each axis in turn, the output
    index i at the source position (i + 0.5) · scale - 0.5 (clamped at 0; an axis whose size
    does not change is copied), or i · (in - 1) / (out - 1) with `align_corners=True`, between
    its two neighbours (the last entry repeats past the end). Differentiable in x: getitem with
    integer index arrays (a source entry read several times adds up its gradients) and the
    linear weights; float32 stays float32. (`antialias=True`, torch's low-pass filter before
    downsampling, is not supported.)"""
    name = "interpolate"
    x = _value(x, name)
    xs = tuple(x.shape)
    if antialias:
        raise ValueError(f"{name}: antialias=True is not supported")
    if not isinstance(mode, str) or mode not in _MODES:
        raise ValueError(f"{name}: mode must be one of {', '.join(map(repr, _MODES))}, got "
                         f"{mode!r}")
    if len(xs) not in (3, 4, 5):
        raise ValueError(f"{name}: the input must be 3-D {_LAYOUTS[1]}, 4-D {_LAYOUTS[2]} or 5-D "
                         f"{_LAYOUTS[3]}, got shape {xs}")
    nsp, linear = len(xs) - 2, _MODES[mode]
    if linear is not None and linear != nsp:
        raise ValueError(f"{name}: mode {mode!r} needs a {linear + 2}-D input {_LAYOUTS[linear]}, "
                         f"got shape {xs}")
    if linear is None and align_corners is not None:
        raise ValueError(f"{name}: align_corners can only be set with the linear modes (linear, "
                         f"bilinear, trilinear), not with mode {mode!r}")
    if (size is None) == (scale_factor is None):
        raise ValueError(f"{name}: give exactly one of size and scale_factor, got size={size!r} "
                         f"and scale_factor={scale_factor!r}")
    spatial = xs[2:]
    if size is not None:
        if recompute_scale_factor:
            raise ValueError(f"{name}: recompute_scale_factor is not meaningful with an explicit "
                             "size")
        out, scales = _ints(name, "size", size, nsp, 1), (None,) * nsp
    else:
        scales = _factors(name, scale_factor, nsp)
        out = tuple(math.floor(n * f) for n, f in zip(spatial, scales))
        if recompute_scale_factor:
            scales = (None,) * nsp
        if any(n < 1 for n in out):
            raise ValueError(f"{name}: scale_factor {scale_factor!r} turns the spatial shape "
                             f"{spatial} into {out}; every size must be at least 1")
    y = x
    if linear is None:
        for a, (n, m, f) in enumerate(zip(spatial, out, scales)):
            y = _gather(y, 2 + a, _nearest_index(n, m, f, mode == "nearest-exact", nsp == 2))
        return y if y is not x else _ops.reshape(x, xs)  # always a recorded result
    # torch's arithmetic for the weights: float32 for float16 and float32 inputs, else float64;
    # the weights then in x's float type, so that float32 (and float16) stays so
    opmath = np.float32 if x.dtype in (np.float16, np.float32) else np.float64
    wtype = x.dtype if x.dtype.kind == "f" else np.float64
    for a in reversed(range(nsp)):  # the last axis first: torch's order of the sums
        n, m = spatial[a], out[a]
        if n == m:
            continue  # copied (torch's kernels, whatever the scale_factor)
        lo, hi, w_lo, w_hi = _linear_weights(n, m, scales[a], bool(align_corners), opmath)
        shape = (m,) + (1,) * (nsp - 1 - a)
        y = (_gather(y, 2 + a, lo) * w_lo.astype(wtype).reshape(shape) +
             _gather(y, 2 + a, hi) * w_hi.astype(wtype).reshape(shape))
    return y if y is not x else _ops.reshape(x, xs)


def _nearest_index(n, m, factor, exact, planar):
    """torch's nearest source index of each of m outputs along an axis of n entries (float32
    arithmetic, as its kernel: `floorf(i * scale)`, or `floorf((i + 0.5) * scale)`). Its 2-D
    "nearest" kernel (`nearest_idx`, `planar`) copies an axis whose size does not change and
    reads i >> 1 where the size doubles, whatever the scale_factor; its 1-D and 3-D ones do not
    (checked against torch 2.13's CPU kernels)."""
    if planar and not exact and m in (n, 2 * n):
        return np.arange(m) // (m // n)
    scale = np.float32(1.0 / factor) if factor is not None else np.float32(n) / np.float32(m)
    if exact:  # (i + 0.5) is a double in torch's code, then floorf rounds it to float
        source = ((np.arange(m) + 0.5) * np.float64(scale)).astype(np.float32)
    else:
        source = np.arange(m, dtype=np.float32) * scale
    return np.minimum(np.floor(source).astype(np.intp), n - 1)


def _linear_weights(n, m, factor, align_corners, dtype):
    """torch's two source indices and weights for each of m outputs along an axis of n entries
    (`area_pixel_compute_source_index`, `guard_index_and_lambda`, in the input's float type)."""
    if align_corners:
        ratio = dtype(n - 1) / dtype(m - 1) if m > 1 else dtype(0)
        source = ratio * np.arange(m, dtype=dtype)
    else:
        ratio = dtype(1.0 / factor) if factor is not None else dtype(n) / dtype(m)
        source = np.maximum(ratio * (np.arange(m, dtype=dtype) + dtype(0.5)) - dtype(0.5), 0)
    lo = np.minimum(np.floor(source).astype(np.intp), n - 1)
    w_hi = np.clip(source - lo.astype(dtype), 0, 1).astype(dtype)
    return lo, lo + (lo < n - 1), (1 - w_hi).astype(dtype), w_hi


def _gather(x, axis, index):
    """x's entries at `index` along `axis`: a repeat where `index` repeats each entry equally
    often (its gradient a reshape and a sum), nothing where it is every entry in order, else
    getitem with the index array (its gradient adds where an entry was read several times)."""
    n, m = x.shape[axis], index.size
    if m == n and np.array_equal(index, np.arange(n)):
        return x
    if m % n == 0 and np.array_equal(index, np.arange(n).repeat(m // n)):
        return _ops.repeat(x, m // n, axis=axis)
    return _ops.getitem(x, (slice(None),) * axis + (index,))


def _last_of_each(index):
    """A mask of `index` (..., L): False where the position an entry names is named again later
    along the last axis (torch's kernel writes in order, so the last one stays); None where no
    position is named twice."""
    if index.size == 0:
        return None
    planes = index.reshape(-1, index.shape[-1]).astype(np.int64)
    keyed = planes + np.arange(len(planes))[:, None] * (int(planes.max()) + 1)
    keyed = keyed.ravel()[::-1]  # the last occurrence first
    _, first = np.unique(keyed, return_index=True)
    if first.size == keyed.size:
        return None
    keep = np.zeros(keyed.size, bool)
    keep[keyed.size - 1 - first] = True
    return keep.reshape(index.shape)


def _factors(name, scale_factor, n):
    """scale_factor (a positive number, or n of them) as a tuple of n floats."""
    values = scale_factor if isinstance(scale_factor, (tuple, list)) else (scale_factor,) * n
    if not (len(values) == n and all(isinstance(v, numbers.Real) and not isinstance(v, bool)
                                      for v in values)):
        raise TypeError(f"{name}: scale_factor must be a number or one per spatial axis ({n}), "
                        f"got {scale_factor!r}")
    if not all(math.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"{name}: scale_factor must be positive and finite, got "
                         f"{scale_factor!r}")
    return tuple(map(float, values))


# --- arguments ---------------------------------------------------------------------------------
def _value(x, name):
    """x as an op takes it: a Tensor as it is, anything else as an array (shape known)."""
    return x if isinstance(x, Tensor) else as_array(x, name)


def _check_ndim(name, what, shape, ndim, layout):
    if len(shape) != ndim:
        raise ValueError(f"{name}: {what} must be {ndim}-D {layout}, got shape {shape}")


def _groups(name, groups):
    if not is_int(groups) or groups < 1:
        raise ValueError(f"{name}: groups must be a positive integer, got {groups!r}")
    return int(groups)


def _bias(name, b, channels, ws):
    if b is None:
        return None
    b = _value(b, name)
    if tuple(b.shape) != (channels,):
        raise ValueError(f"{name}: the bias must have shape ({channels},) for the weight {ws}, "
                         f"got {tuple(b.shape)}")
    return b


def _ints(name, what, value, n, minimum):
    """`value` (an int, or a tuple or list of n ints) as a tuple of n ints >= minimum."""
    values = (value,) * n if is_int(value) else value
    if not (isinstance(values, (tuple, list)) and len(values) == n and all(map(is_int, values))):
        raise TypeError(f"{name}: {what} must be an int or {n} ints, got {value!r}")
    if any(v < minimum for v in values):
        raise ValueError(f"{name}: {what} must be at least {minimum}, got {value!r}")
    return tuple(map(int, values))


def _conv_padding(name, padding, n, kernel, stride, dilation):
    """conv's padding as (lo, hi) per spatial axis: an int, n ints, "valid" or "same"."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * n
        if padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{name}: padding='same' needs stride 1, got stride {stride}")
            totals = [d * (k - 1) for k, d in zip(kernel, dilation)]
            return tuple((t // 2, t - t // 2) for t in totals)
        raise ValueError(f"{name}: padding must be an int, {n} ints, 'valid' or 'same', got "
                         f"{padding!r}")
    return tuple((p, p) for p in _ints(name, "padding", padding, n, 0))


def _check_windows(name, xs, kernel, stride, dilation, pads):
    for n, k, d, (lo, hi) in zip(xs[2:], kernel, dilation, pads):
        if k < 1 or n + lo + hi < d * (k - 1) + 1:
            padded = tuple(n + lo + hi for n, (lo, hi) in zip(xs[2:], pads))
            raise ValueError(f"{name}: the kernel {kernel} (dilation {dilation}) does not fit "
                             f"in the input {xs}, padded to {padded}")
