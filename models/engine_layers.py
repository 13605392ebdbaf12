"""cs231n's assignment-2 layers built from engine ops, for the tape to differentiate.

Each function is the forward pass of the layer of the same name in `models/layers.py` (same
arguments and parameter dicts, same numbers), written plainly with engine ops: it takes Tensors
or NumPy arrays and returns a Tensor, and a surrounding `tflc.GradientTape` records it. There is
no backward pass here: the tape derives it. The models' autodiff paths compose these.

    with tflc.GradientTape() as tape:
        tape.watch([x, w, b])
        loss = softmax_loss(relu(affine(x, w, b)), y)
    dx, dw, db = tape.gradient(loss, [x, w, b])

What is not differentiated is done in NumPy, exactly as layers.py does it: dropout's mask (the
same draws from NumPy's global generator, so both paths give the same numbers) and batchnorm's
running averages (stored back into bn_param in train mode; test mode normalises with them, as
constants). A replay of `tflc.jit` could redo neither, so a traced function that calls them
runs eagerly (the trace warns once): train-mode batchnorm reads its input's values, and dropout
tells the trace it draws a mask, as tflc.nn.dropout does. A compiled step does what jax.jit's
users do instead, making them arguments and results: `dropout(x, dropout_param, mask=m)` takes
a mask drawn outside (`draw_dropout_mask`, the same draws), and `batchnorm(..., batches=[])`
appends its input to the list instead of touching bn_param, a result of the step, for
`update_running_averages(bn_param, rows)` to fold into the running averages outside (NumPy's
np.mean / np.var of the rows, as layers.py: the engine's mean and var may round differently).
"""
import numpy as np

import tensorflowlite_clone as tflc
from tensorflowlite_clone.primitive import _state

from ._checks import check_labels

__all__ = ["affine", "relu", "batchnorm", "layernorm", "dropout", "conv", "max_pool",
           "spatial_batchnorm", "spatial_groupnorm", "svm_loss", "softmax_loss",
           "draw_dropout_mask", "update_running_averages"]


def _value(x):
    """x's values as an ndarray, for what is computed outside the tape (running averages)."""
    return np.asarray(x)


def _dtype(x):
    return x.dtype if isinstance(x, tflc.Tensor) else np.asarray(x).dtype


def affine(x, w, b):
    """x (N, d_1, ..., d_k) as rows of D entries, times w (D, M), plus b (M,)."""
    return tflc.reshape(x, (np.shape(x)[0], -1)) @ w + b


def relu(x):
    """max(0, x), with gradient 0 at 0 (as layers.relu_backward)."""
    return tflc.relu(x)


def _normalize(x, mean, var, eps):
    return (x - mean) / tflc.sqrt(var + eps)


def update_running_averages(bn_param, rows):
    """bn_param's running averages, updated in NumPy from the batch statistics of `rows` (the
    input's values as (examples, features)), as layers.batchnorm_forward does: running =
    momentum * running + (1 - momentum) * np.mean / np.var(rows, axis=0), momentum bn_param's
    or 0.9, the running averages starting at zeros."""
    rows = np.asarray(rows)
    momentum = bn_param.get("momentum", 0.9)
    D = rows.shape[1]
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=rows.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=rows.dtype))
    bn_param["running_mean"] = momentum * running_mean + (1 - momentum) * np.mean(rows, axis=0)
    bn_param["running_var"] = momentum * running_var + (1 - momentum) * np.var(rows, axis=0)


_update_running = update_running_averages


def _batchnorm(x, gamma, beta, bn_param, axis, shape, rows, batches=None):
    """Batch normalisation over `axis`, the statistics, gamma and beta broadcast as `shape`
    ((1, D) or (1, C, 1, 1)); `rows()` gives x's values as (examples, features) in NumPy. With
    a list `batches`, train mode appends x to it and leaves bn_param alone."""
    mode, eps = bn_param["mode"], bn_param.get("eps", 1e-5)
    if mode not in ("train", "test"):
        raise ValueError(f'batchnorm: bn_param["mode"] must be "train" or "test", got {mode!r}')
    gamma, beta = tflc.reshape(gamma, shape), tflc.reshape(beta, shape)
    if mode == "train":
        x_hat = _normalize(x, tflc.mean(x, axis=axis, keepdims=True),
                           tflc.var(x, axis=axis, keepdims=True), eps)
        if batches is not None:
            batches.append(x)
        else:
            _update_running(bn_param, rows())
    else:
        zeros = np.zeros(shape[1], dtype=_dtype(x))
        running_mean = bn_param.setdefault("running_mean", zeros)
        running_var = bn_param.setdefault("running_var", zeros)
        # (engine ops, NumPy's numbers: a compiled forward passes the averages in as Tensors)
        x_hat = (x - tflc.reshape(running_mean, shape)) / tflc.sqrt(tflc.reshape(running_var, shape) + eps)
    return gamma * x_hat + beta


def batchnorm(x, gamma, beta, bn_param, batches=None):
    """Batch normalisation of x (N, D) per feature: train mode with the batch's mean and (biased)
    variance, updating bn_param's running averages; test mode with the running ones. Given a
    list `batches`, train mode appends x to it instead of updating bn_param (what a compiled
    step returns, for `update_running_averages(bn_param, x)` to apply outside it)."""
    return _batchnorm(x, gamma, beta, bn_param, 0, (1, np.shape(x)[1]), lambda: _value(x), batches)


def layernorm(x, gamma, beta, ln_param):
    """Layer normalisation of x (N, D) per example: (x - mean) / sqrt(var + eps) over each row,
    then gamma * x_hat + beta; ln_param {"eps": 1e-5}."""
    eps = ln_param.get("eps", 1e-5)
    x_hat = _normalize(x, tflc.mean(x, axis=1, keepdims=True), tflc.var(x, axis=1, keepdims=True), eps)
    return gamma * x_hat + beta


def draw_dropout_mask(shape, dropout_param):
    """The mask layers.dropout_forward draws in train mode for an input of `shape`, with the
    same NumPy calls: np.random.seed(seed) when dropout_param has a seed, then
    `(np.random.rand(*shape) < p) / p` (float64)."""
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    return (np.random.rand(*shape) < dropout_param["p"]) / dropout_param["p"]


def dropout(x, dropout_param, mask=None):
    """Inverted dropout with p the keep probability: x * mask in train mode, the mask
    `(np.random.rand(*x.shape) < p) / p` drawn as layers.dropout_forward draws it (after
    np.random.seed(seed) when dropout_param has a seed); x itself in test mode. The result has
    x's dtype. A given `mask` (an array or Tensor of x's shape, e.g. `draw_dropout_mask`'s) is
    used instead of drawing one, and nothing is drawn or seeded: what a compiled step takes."""
    p, mode = dropout_param["p"], dropout_param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'dropout: dropout_param["mode"] must be "train" or "test", got {mode!r}')
    if mask is None and "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    x = tflc.Tensor(x) if not isinstance(x, tflc.Tensor) else x
    if mode == "test":
        return x
    if mask is None:
        if _state.tracing is not None:  # a replay would reuse this mask (tflc.nn.dropout's hook)
            _state.tracing.cannot_replay("draws a dropout mask (models.engine_layers.dropout)")
        mask = (np.random.rand(*x.shape) < p) / p
    elif tuple(np.shape(mask)) != tuple(x.shape):
        raise ValueError(f"dropout: mask of shape {tuple(np.shape(mask))} for an input of shape "
                         f"{tuple(x.shape)}")
    out = x * mask  # in the promoted dtype, as NumPy's x * mask; then back to x's
    return out if out.dtype == x.dtype else tflc.cast(out, x.dtype)


def conv(x, w, b, conv_param):
    """Convolution of x (N, C, H, W) with w (F, C, HH, WW) plus b (F,), conv_param {"stride",
    "pad"}: tflc.nn.conv2d (the input's windows times the filters, one matrix product)."""
    return tflc.nn.conv2d(x, w, b, stride=conv_param["stride"], padding=conv_param["pad"])


def max_pool(x, pool_param):
    """Max pooling of x (N, C, H, W), pool_param {"pool_height", "pool_width", "stride"}:
    tflc.nn.max_pool2d (ties share the gradient evenly)."""
    return tflc.nn.max_pool2d(x, (pool_param["pool_height"], pool_param["pool_width"]),
                              stride=pool_param["stride"])


def spatial_batchnorm(x, gamma, beta, bn_param):
    """Batch normalisation of x (N, C, H, W) per channel, over (N, H, W); gamma, beta (C,)."""
    C = np.shape(x)[1]
    return _batchnorm(x, gamma, beta, bn_param, (0, 2, 3), (1, C, 1, 1),
                      lambda: _value(x).transpose(0, 2, 3, 1).reshape(-1, C))


def spatial_groupnorm(x, gamma, beta, G, gn_param):
    """Group normalisation of x (N, C, H, W): each example's channels in G groups, each group
    normalised over its (C/G) H W entries; gamma, beta (1, C, 1, 1) per channel."""
    eps = gn_param.get("eps", 1e-5)
    N, C, H, W = np.shape(x)
    xg = tflc.reshape(x, (N, G, -1))
    x_hat = _normalize(xg, tflc.mean(xg, axis=2, keepdims=True), tflc.var(xg, axis=2, keepdims=True), eps)
    return tflc.reshape(gamma, (1, C, 1, 1)) * tflc.reshape(x_hat, (N, C, H, W)) \
        + tflc.reshape(beta, (1, C, 1, 1))


def _labels(x, y):
    N, C = np.shape(x)
    return check_labels(y, N, C, rows_of="x")


def svm_loss(x, y):
    """Multiclass SVM loss of scores x (N, C), labels y (N,): the mean over the batch of
    sum_{j != y_i} max(0, x_ij - x_iy_i + 1). The correct class's own term is masked out (a
    constant), not computed as max(0, 1) with a gradient that cancels."""
    y = _labels(x, y)
    N = len(y)
    rows = np.arange(N)
    correct = tflc.reshape(x[rows, y], (N, 1))
    others = np.ones(np.shape(x), dtype=bool)
    others[rows, y] = False
    margins = tflc.where(others, tflc.relu(x - correct + 1.0), 0.0)
    return tflc.sum(margins) / N


def softmax_loss(x, y):
    """Softmax loss of scores x (N, C), labels y (N,): -mean_i log softmax(x_i)[y_i]."""
    y = _labels(x, y)
    return -tflc.mean(tflc.nn.log_softmax(x, axis=1)[np.arange(len(y)), y])
