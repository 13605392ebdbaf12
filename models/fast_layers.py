"""cs231n's fast convolution and max-pooling layers, on the engine's conv and pooling ops.

cs231n's `fast_layers.py` speeds up its naive loops with im2col written in Cython. Here the
engine already has those layers (`tflc.nn.conv2d`, `tflc.nn.max_pool2d`: the input's sliding
windows as an im2col view, one matrix product, col2im as its VJP), so the fast layers run the
op on a GradientTape in the forward pass, keep the tape in the cache, and ask it for the
gradients in the backward pass, with dout as the output's gradient. Signatures and parameter
dicts are cs231n's:

    out, cache = conv_forward_fast(x, w, b, conv_param)      # conv_param {"stride", "pad"}
    dx, dw, db = conv_backward_fast(dout, cache)
    out, cache = max_pool_forward_fast(x, pool_param)        # {"pool_height", "pool_width", "stride"}
    dx = max_pool_backward_fast(dout, cache)

The tape is persistent, so a cache's backward can be asked more than once, as with cs231n's.
Arrays keep their dtype (float32 stays float32). Max pooling's gradient at a tie is split evenly
among the tied maxima (the engine's convention); layers.max_pool_backward_naive gives it to the
first maximum. Unlike cs231n's reshape method, any window size and stride is fast here.
"""
import numpy as np

import tensorflowlite_clone as tflc

from .layers import _check_ndim, _out_size

__all__ = ["conv_forward_fast", "conv_backward_fast", "max_pool_forward_fast", "max_pool_backward_fast"]


def _recorded(f, *arrays):
    """f(*tensors) run on a persistent tape watching each array as a Tensor (no copy):
    (output array, (tape, input tensors, output tensor)) for `_gradients`."""
    tensors = [tflc.Tensor(a) for a in arrays]
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(tensors)
        out = f(*tensors)
    return out.numpy(), (tape, tensors, out)


def _gradients(dout, recorded):
    """The gradients of the recorded inputs, given dout, the gradient of the output (arrays)."""
    tape, tensors, out = recorded
    if np.shape(dout) != out.shape:
        raise ValueError(f"backward: dout must have the forward output's shape {out.shape}, "
                         f"got {np.shape(dout)}")
    grads = tape.gradient(out, tensors, output_gradients=np.asarray(dout),
                          unconnected_gradients="zero")
    return [g.numpy() for g in grads]


def conv_forward_fast(x, w, b, conv_param):
    """The convolution of layers.conv_forward_naive (same arguments and result), computed by
    tflc.nn.conv2d on a tape. Returns (out, cache) with cache = (x, w, b, conv_param, recorded),
    `recorded` the tape, its input tensors and its output."""
    op = "conv_forward_fast"
    _check_ndim(op, "x", x, 4, "(N, C, H, W)")
    _check_ndim(op, "w", w, 4, "(F, C, HH, WW)")
    stride, pad = conv_param["stride"], conv_param["pad"]
    for axis, size, kernel in (("height", x.shape[2], w.shape[2]), ("width", x.shape[3], w.shape[3])):
        _out_size(op, size, kernel, stride, pad, axis)
    out, recorded = _recorded(lambda x, w, b: tflc.nn.conv2d(x, w, b, stride=stride, padding=pad), x, w, b)
    return out, (x, w, b, conv_param, recorded)


def conv_backward_fast(dout, cache):
    """Backward pass of `conv_forward_fast`: the tape's gradients of x, w and b for the output
    gradient dout (N, F, H', W'). Returns (dx, dw, db)."""
    dx, dw, db = _gradients(dout, cache[-1])
    return dx, dw, db


def max_pool_forward_fast(x, pool_param):
    """The max pooling of layers.max_pool_forward_naive, computed by tflc.nn.max_pool2d on a
    tape. Returns (out, cache) with cache = (x, pool_param, recorded)."""
    op = "max_pool_forward_fast"
    _check_ndim(op, "x", x, 4, "(N, C, H, W)")
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _out_size(op, x.shape[2], ph, stride, 0, "height")
    _out_size(op, x.shape[3], pw, stride, 0, "width")
    out, recorded = _recorded(lambda x: tflc.nn.max_pool2d(x, (ph, pw), stride=stride), x)
    return out, (x, pool_param, recorded)


def max_pool_backward_fast(dout, cache):
    """Backward pass of `max_pool_forward_fast`: the tape's gradient of x for dout. Returns dx."""
    (dx,) = _gradients(dout, cache[-1])
    return dx
