"""Neural-network functions under jax.nn / torch.nn.functional's names and conventions, each a
composition of the engine's primitives (so each is differentiable to any order, traces and
draws like any other ops, and needs no VJP of its own).

    import tensorflowlite_clone as tflc
    loss = tflc.nn.cross_entropy(tflc.nn.gelu(X @ W1) @ W2, y)   # mean over the batch

Every function takes Tensors, NumPy arrays or numbers, and returns a Tensor. float32 stays
float32: the constants are Python numbers, which NumPy types weakly.

Kinks: a piecewise function's derivative at a corner is that of the piece outside the open
interval where it is the identity, as in PyTorch (checked against torch 2.13: relu'(0) = 0,
leaky_relu'(0) = negative_slope, relu6'(0) = relu6'(6) = 0, hardtanh'(min_val) =
hardtanh'(max_val) = 0, elu'(0) = alpha); jax.nn.relu and jax.nn.relu6 document the same values,
while jax.nn.leaky_relu and jax.nn.hard_tanh take 1 there.
"""
from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from . import ops as _ops
from .convolution import (
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    interpolate,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_unpool1d,
    max_unpool2d,
    max_unpool3d,
)
from .primitive import _state
from .tensor import ArrayLike, Tensor, as_array

__all__ = ["relu", "sigmoid", "softplus", "silu", "gelu", "elu", "leaky_relu", "relu6",
           "hardtanh", "softmax", "log_softmax", "logsumexp", "one_hot", "cross_entropy",
           "dropout", "embedding", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
           "conv_transpose2d", "conv_transpose3d", "max_pool1d", "max_pool2d", "max_pool3d",
           "avg_pool1d", "avg_pool2d", "avg_pool3d", "max_unpool1d", "max_unpool2d",
           "max_unpool3d", "interpolate"]  # (convolution and pooling: convolution.py)

# --- activations ---------------------------------------------------------------------------------
relu = _ops.relu            # max(x, 0); relu'(0) = 0 (the seed's `(s1 > 0) * ds1`, jax.nn.relu)
sigmoid = _ops.sigmoid      # 1 / (1 + exp(-x)), exact in both tails


def softplus(x: ArrayLike) -> Tensor:
    """log(1 + exp(x)) (jax.nn.softplus, torch.nn.functional.softplus with beta=1), stable in
    both tails: computed as max(x, 0) + log1p(exp(-|x|)), so exp never overflows (softplus of
    1000 is 1000) and the far negative tail keeps its digits (softplus(-40) = 4.25e-18, as
    np.logaddexp(0, x) gives). The derivative is sigmoid(x), 1/2 at 0 (-|x| is written
    x - 2 max(x, 0), whose derivative at 0 is 1, not abs's 0). (One logaddexp(x, 0) op is as
    exact but np.logaddexp is several times slower than these ops beyond a few hundred
    entries.)"""
    positive = _ops.relu(x)
    minus_abs = _ops.subtract(x, 2.0 * positive)  # -|x| = x - 2 max(x, 0)
    return positive + _ops.log1p(_ops.exp(minus_abs))


def silu(x: ArrayLike) -> Tensor:
    """x * sigmoid(x) (jax.nn.silu / swish, torch.nn.functional.silu)."""
    return _ops.multiply(x, _ops.sigmoid(x))


_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)


def gelu(x: ArrayLike, approximate: bool = True) -> Tensor:
    """Gaussian error linear unit with jax.nn.gelu's signature and default: `approximate=True`
    is the tanh form 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (torch's
    `approximate='tanh'`); `approximate=False` is the exact x Phi(x) = 0.5 x (1 + erf(x/sqrt 2))
    (torch's default, `approximate='none'`, computed the same way)."""
    if not approximate:
        return _ops.multiply(x, 0.5) * (1.0 + _ops.erf(_ops.multiply(x, _SQRT_HALF)))
    inner = _ops.multiply(x, _SQRT_2_OVER_PI) * (1.0 + 0.044715 * _ops.power(x, 2))
    return _ops.multiply(x, 0.5) * (1.0 + _ops.tanh(inner))


def elu(x: ArrayLike, alpha: Any = 1.0) -> Tensor:
    """x where x > 0, else alpha (exp(x) - 1) (jax.nn.elu, torch.nn.functional.elu), with expm1
    (exact near 0); the derivative at 0 is alpha, that of the exponential side, as in both.
    expm1 only sees the non-positive side (the double-where idiom), so a large x neither
    overflows nor turns the gradient into 0 * inf = NaN."""
    positive = _ops.greater(x, 0.0)
    negative_side = _ops.where(positive, 0.0, x)
    return _ops.where(positive, x, alpha * _ops.expm1(negative_side))


def leaky_relu(x: ArrayLike, negative_slope: Any = 0.01) -> Tensor:
    """x where x > 0, else negative_slope * x (torch.nn.functional.leaky_relu, jax.nn.leaky_relu;
    both default to 0.01). The derivative at 0 is negative_slope, as in torch (jax takes 1), so
    that leaky_relu with slope 0 is relu, derivative included."""
    return _ops.where(_ops.greater(x, 0.0), x, _ops.multiply(x, negative_slope))


def hardtanh(x: ArrayLike, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val] (torch.nn.functional.hardtanh's signature and defaults;
    jax.nn.hard_tanh is the default case). The derivative is 1 strictly inside and 0 at and
    beyond both corners, as torch's (jax's takes 1 at the corners). min_val > max_val is a
    ValueError, as in torch."""
    for name, value in (("min_val", min_val), ("max_val", max_val)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
            raise TypeError(f"hardtanh: {name} must be a real number, got {value!r}")
    if not min_val <= max_val:
        raise ValueError(f"hardtanh: min_val ({min_val!r}) must not be greater than max_val "
                         f"({max_val!r})")
    min_val, max_val = float(min_val), float(max_val)
    inside_above = _ops.where(_ops.greater(x, min_val), x, min_val)
    return _ops.where(_ops.greater(max_val, x), inside_above, max_val)


def relu6(x: ArrayLike) -> Tensor:
    """min(max(x, 0), 6) (jax.nn.relu6, torch.nn.functional.relu6 = hardtanh(x, 0, 6)); the
    derivative is 0 at 0 and at 6, as both document."""
    return hardtanh(x, 0.0, 6.0)


# --- softmax and friends -------------------------------------------------------------------------
def _shifted(x, axis):
    """x minus its max over `axis` (kept dims), the max a constant (stop_gradient): softmax and
    log-softmax ignore a shift along the axis, so the true derivative through the max is 0 at
    every order, and exp(shifted) <= 1 cannot overflow."""
    return _ops.subtract(x, _ops.max(_ops.stop_gradient(x), axis, True))


def softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = -1) -> Tensor:
    """exp(x) / sum(exp(x)) over `axis` (jax.nn.softmax(x, axis=-1); torch's `dim`), computed
    on x minus its max, so that large logits (1000) do not overflow. axis may be a tuple or
    None (all axes), as in jax. A slice holding +inf, or only -inf, gives NaN, as in both."""
    e = _ops.exp(_shifted(x, axis))
    return e / _ops.sum(e, axis, True)


def log_softmax(x: ArrayLike, axis: int | tuple[int, ...] | None = -1) -> Tensor:
    """x - logsumexp(x) over `axis` (jax.nn.log_softmax(x, axis=-1),
    torch.nn.functional.log_softmax), as (x - max) - log(sum(exp(x - max))) with the max a
    constant: finite and exact for logits far apart (log_softmax([0, -1000]) is [0, -1000])."""
    shifted = _shifted(x, axis)
    return shifted - _ops.log(_ops.sum(_ops.exp(shifted), axis, True))


def logsumexp(x: ArrayLike, axis: int | tuple[int, ...] | None = None,
              keepdims: bool = False) -> Tensor:
    """log(sum(exp(x))) over `axis` (jax.nn.logsumexp / scipy.special.logsumexp(a, axis=None,
    keepdims=False), torch.logsumexp), as m + log(sum(exp(x - m))) with m the max, a constant:
    its gradient is softmax(x). A slice of only -inf gives -inf, one holding +inf gives +inf
    (the max is replaced by 0 where it is not finite, as jax does)."""
    m = _ops.max(_ops.stop_gradient(x), axis, True)
    m = _ops.where(_ops.isfinite(m), m, 0.0)
    total = _ops.log(_ops.sum(_ops.exp(_ops.subtract(x, m)), axis, keepdims))
    return total + (m if keepdims else _ops.reshape(m, total.shape))


# --- labels, losses --------------------------------------------------------------------------------
def _integers(values, name, op):
    """`values` (labels, ids) as an integer array, to check (a Tensor's array is only read for
    the check): floats, even 2.0, and booleans, which NumPy would index with as a mask, are a
    ValueError naming the argument."""
    array = as_array(values, op)
    if array.size == 0 and not isinstance(values, (Tensor, np.ndarray)):
        array = array.astype(np.intp)  # [] holds no labels, not float ones
    if array.dtype.kind not in "iu":
        raise ValueError(f"{op}: {name} must be integers, got dtype {array.dtype}")
    return array


def _check_range(array, upper, name, op, expected):
    """Every entry of `array` in 0..upper-1, else a ValueError naming the first one outside."""
    if array.size and (array.min() < 0 or array.max() >= upper):
        flat = array.reshape(-1)
        first = int(np.flatnonzero((flat < 0) | (flat >= upper))[0])
        index = first if array.ndim == 1 else tuple(map(int, np.unravel_index(first, array.shape)))
        raise ValueError(f"{op}: {name} must be {expected}, got {flat[first]} at index {index}")


def _given(values, array):
    """What an op should index with: the caller's Tensor or array itself (a trace binds it to
    the argument), or the array made of a list."""
    return values if isinstance(values, (Tensor, np.ndarray)) else array


def _count(value, name, op):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{op}: {name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{op}: {name} must be a positive integer, got {value!r}")
    return int(value)


def one_hot(labels: ArrayLike, num_classes: int, *, dtype: Any = np.float64) -> Tensor:
    """Float one-hot rows, shape labels.shape + (num_classes,) (jax.nn.one_hot(x, num_classes,
    dtype=...) with NumPy's default float64; torch.nn.functional.one_hot gives integers).
    Labels are integers in 0..num_classes-1: anything else is a ValueError naming `labels`, as
    torch refuses them (jax encodes them as zero rows). The result has no gradient."""
    num_classes = _count(num_classes, "num_classes", "one_hot")
    array = _integers(labels, "labels", "one_hot")
    _check_range(array, num_classes, "labels", "one_hot", f"integers in 0..{num_classes - 1}")
    column = _ops.reshape(_given(labels, array), array.shape + (1,))  # (engine ops: traceable)
    return _ops.cast(_ops.equal(column, np.arange(num_classes)), np.dtype(dtype))


def cross_entropy(logits: ArrayLike, labels: ArrayLike) -> Tensor:
    """The mean over the batch of -log softmax(logits)[i, labels[i]]
    (torch.nn.functional.cross_entropy(input, target) with class indices and reduction='mean':
    the loss of the seed's softmax classifier, models.softmax.softmax_loss with reg=0).
    logits is (N, C) unnormalised scores, N >= 1; labels N integers in 0..C-1 (not floats, even
    2.0, nor booleans), else a ValueError naming `labels`. Built on log_softmax, so logits of
    any size give a finite loss. The gradient is (softmax(logits) - one_hot(labels)) / N."""
    shape = np.shape(logits)
    if len(shape) != 2:
        raise ValueError(f"cross_entropy: logits must be 2-D, (N, C), got shape {shape}")
    n, c = shape
    if n == 0:
        raise ValueError("cross_entropy: logits has no rows (the loss is a mean over them)")
    expected = f"{n} integers in 0..{c - 1} (one per row of logits)"
    array = _integers(labels, "labels", "cross_entropy")
    if array.shape != (n,):
        raise ValueError(f"cross_entropy: labels must be {expected}, got shape {array.shape}")
    _check_range(array, c, "labels", "cross_entropy", expected)
    return -_ops.mean(log_softmax(logits, axis=1)[np.arange(n), _given(labels, array)])


# --- layers ----------------------------------------------------------------------------------------
def dropout(x: ArrayLike, rate: float, rng: np.random.Generator) -> Tensor:
    """Inverted dropout: each entry is kept with probability 1 - rate and scaled by
    1 / (1 - rate), so the expectation is x (torch.nn.functional.dropout's `p`, jax/flax's
    `rate`; the test-time layer is the identity). `rng` is a numpy.random.Generator
    (np.random.default_rng(seed)), drawn from once per call; rate must be in [0, 1), and 0 is
    the identity (no draw). The gradient is the same mask times the upstream gradient.
    A replay of tflc.jit would reuse one call's mask, so a traced f that draws one runs
    eagerly (the trace warns once): a fresh mask every call."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"dropout: rng must be a numpy.random.Generator "
                        f"(np.random.default_rng(seed)), got {type(rng).__name__}")
    if isinstance(rate, (bool, np.bool_)) or not isinstance(rate, numbers.Real):
        raise TypeError(f"dropout: rate must be a number in [0, 1), got {rate!r}")
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout: rate must be in [0, 1), got {rate!r}")
    shape = np.shape(x)
    if rate == 0:
        return x if isinstance(x, Tensor) else _ops.reshape(x, shape)
    if _state.tracing is not None:
        _state.tracing.cannot_replay("draws a dropout mask (tflc.nn.dropout)")
    keep = 1.0 - float(rate)
    dtype = x.dtype if isinstance(x, (Tensor, np.ndarray)) else np.result_type(x)
    dtype = dtype if dtype.kind in "fc" else np.dtype(np.float64)
    mask = ((rng.random(shape) < keep) / keep).astype(dtype)
    return _ops.multiply(x, mask)


def embedding(ids: ArrayLike, W: ArrayLike) -> Tensor:
    """The rows of W (num_embeddings, dim) that `ids` name, shape ids.shape + (dim,)
    (torch.nn.functional.embedding(input, weight)). ids are integers in
    0..num_embeddings-1 (a negative one would wrap silently in NumPy: refused, as torch refuses
    it), else a ValueError naming `ids`. The gradient to W adds up the rows of repeated ids."""
    shape = np.shape(W)
    if len(shape) != 2:
        raise ValueError(f"embedding: W must be 2-D, (num_embeddings, dim), got shape {shape}")
    array = _integers(ids, "ids", "embedding")
    _check_range(array, shape[0], "ids", "embedding", f"integers in 0..{shape[0] - 1}")
    return _ops.getitem(W, _given(ids, array))
