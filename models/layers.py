"""cs231n's assignment-2 layers, each backward pass derived by hand in NumPy.

Names, signatures, parameter dicts, caches and random draws are cs231n's (assignment 2, the
2019+ skeleton), so these drop into its notebooks: `*_forward(...) -> (out, cache)` and
`*_backward(dout, cache) -> grads`, and `svm_loss(x, y)`, `softmax_loss(x, y) -> (loss, dx)`.
Each docstring states the layer's equations, forward and backward; the code follows them
line by line. `models/engine_layers.py` builds the same forward passes from engine ops, for the
tape to differentiate; `tests/test_layers.py` shows the two gradients equal to each other and to
central finite differences.

Conventions (cs231n's):
- x is (N, ...) with N examples; conv and pooling take NCHW arrays and (F, C, HH, WW) filters.
- bn_param: {"mode": "train" | "test" (required), "eps": 1e-5, "momentum": 0.9,
  "running_mean", "running_var"}; train mode stores the updated running averages back into
  bn_param (`running = momentum * running + (1 - momentum) * batch statistic`, the variance the
  biased one), test mode normalises with them. Missing running averages start at zeros.
- dropout_param: {"p": keep probability, "mode": "train" | "test", "seed": optional}; the mask is
  `(np.random.rand(*x.shape) < p) / p`, drawn from NumPy's global generator after
  `np.random.seed(seed)` when a seed is given (inverted dropout: test mode is the identity).
- conv_param: {"stride", "pad"} (zeros, pad on every side); pool_param: {"pool_height",
  "pool_width", "stride"}, no padding. Output sizes are floored, 1 + (H + 2 pad - HH) // stride.
- Max pooling's backward sends each window's gradient to its first maximum (row-major order), as
  an argmax does; the engine's max_pool2d splits it evenly among tied maxima. They agree
  wherever a window's maximum is unique (any real-valued input, almost surely).
"""
import numpy as np

from ._checks import check_labels

__all__ = [
    "affine_forward", "affine_backward", "relu_forward", "relu_backward",
    "batchnorm_forward", "batchnorm_backward", "batchnorm_backward_alt",
    "layernorm_forward", "layernorm_backward", "dropout_forward", "dropout_backward",
    "conv_forward_naive", "conv_backward_naive", "max_pool_forward_naive", "max_pool_backward_naive",
    "spatial_batchnorm_forward", "spatial_batchnorm_backward",
    "spatial_groupnorm_forward", "spatial_groupnorm_backward", "svm_loss", "softmax_loss",
]


# --- checks: bad input is refused naming the layer and the shapes ---------------------------------
def _check_ndim(op, name, array, ndim, layout):
    if np.ndim(array) != ndim:
        raise ValueError(f"{op}: {name} must be {ndim}-D {layout}, got shape {np.shape(array)}")


def _check_shape(op, name, array, shape):
    if np.shape(array) != tuple(shape):
        raise ValueError(f"{op}: {name} must have shape {tuple(shape)}, got {np.shape(array)}")


def _mode(op, param, name):
    mode = param["mode"]
    if mode not in ("train", "test"):
        raise ValueError(f'{op}: {name}["mode"] must be "train" or "test", got {mode!r}')
    return mode


def _out_size(op, size, kernel, stride, pad, axis):
    if stride < 1 or kernel > size + 2 * pad:
        raise ValueError(f"{op}: a {kernel}-wide window with stride {stride} and pad {pad} does not "
                         f"fit the input's {axis} of {size}")
    return 1 + (size + 2 * pad - kernel) // stride


# --- affine -----------------------------------------------------------------------------------------
def affine_forward(x, w, b):
    """Affine (fully connected) layer: each example x[i] (d_1, ..., d_k) as a row of D entries.

        X = x.reshape(N, D),   out = X w + b            (N, M); w (D, M), b (M,)

    Returns (out, cache) with cache = (x, w, b).
    """
    _check_shape("affine_forward", "w", w, (int(np.prod(np.shape(x)[1:])), np.shape(w)[-1]))
    out = x.reshape(x.shape[0], -1).dot(w) + b
    return out, (x, w, b)


def affine_backward(dout, cache):
    """Backward pass of `affine_forward`, for dout (N, M):

        dx = (dout w^T).reshape(x.shape),   dw = X^T dout,   db = sum_i dout[i]

    (b was broadcast over the N rows, so its gradient sums them). Returns (dx, dw, db).
    """
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = np.sum(dout, axis=0)
    return dx, dw, db


# --- ReLU -------------------------------------------------------------------------------------------
def relu_forward(x):
    """out = max(0, x), elementwise. Returns (out, cache) with cache = x."""
    return np.maximum(0, x), x


def relu_backward(dout, cache):
    """dx = dout * [x > 0]: the gradient passes where the input was positive (0 at x = 0)."""
    x = cache
    return dout * (x > 0)


# --- batch and layer normalisation -------------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation of x (N, D) per feature, gamma and beta (D,).

    Train mode, with the batch's statistics (the variance is the biased one, over N):

        mu = (1/N) sum_i x_i,   var = (1/N) sum_i (x_i - mu)^2,   std = sqrt(var + eps)
        x_hat = (x - mu) / std,   out = gamma * x_hat + beta

    and the running averages stored back into bn_param:
        running_mean = momentum * running_mean + (1 - momentum) * mu   (running_var likewise)
    Test mode: out = gamma * (x - running_mean) / sqrt(running_var + eps) + beta.

    Returns (out, cache); cache = (x, x_hat, mu, var, eps, gamma, beta) in train mode, None in
    test mode (whose backward cs231n never asks for).
    """
    mode = _mode("batchnorm_forward", bn_param, "bn_param")
    eps = bn_param.get("eps", 1e-5)
    momentum = bn_param.get("momentum", 0.9)
    _check_ndim("batchnorm_forward", "x", x, 2, "(N, D)")
    N, D = x.shape
    _check_shape("batchnorm_forward", "gamma", gamma, (D,))
    _check_shape("batchnorm_forward", "beta", beta, (D,))
    running_mean = bn_param.get("running_mean", np.zeros(D, dtype=x.dtype))
    running_var = bn_param.get("running_var", np.zeros(D, dtype=x.dtype))

    cache = None
    if mode == "train":
        mu = np.mean(x, axis=0)
        var = np.var(x, axis=0)
        x_hat = (x - mu) / np.sqrt(var + eps)
        out = gamma * x_hat + beta
        cache = (x, x_hat, mu, var, eps, gamma, beta)
        running_mean = momentum * running_mean + (1 - momentum) * mu
        running_var = momentum * running_var + (1 - momentum) * var
    else:
        out = gamma * ((x - running_mean) / np.sqrt(running_var + eps)) + beta

    bn_param["running_mean"] = running_mean
    bn_param["running_var"] = running_var
    return out, cache


def batchnorm_backward(dout, cache):
    """Backward pass of train-mode batchnorm, node by node through its computation graph:

        xc = x - mu,  var = (1/N) sum_i xc_i^2,  std = sqrt(var + eps),  inv = 1 / std,
        x_hat = xc * inv,  out = gamma * x_hat + beta

    backwards (sums over the batch axis i; a node used twice gets both contributions):

        dbeta = sum_i dout_i,           dgamma = sum_i dout_i * x_hat_i,   dx_hat = dout * gamma
        dinv = sum_i dx_hat_i * xc_i,   dxc = dx_hat * inv                 (x_hat = xc * inv)
        dstd = -dinv / std^2,           dvar = dstd / (2 std)
        dxc += (2/N) xc * dvar          (var is the mean of xc^2)
        dmu = -sum_i dxc_i,             dx = dxc + dmu / N                 (xc = x - mu, mu = mean x)

    Returns (dx, dgamma, dbeta).
    """
    x, x_hat, mu, var, eps, gamma, beta = cache
    N = x.shape[0]
    xc = x - mu
    std = np.sqrt(var + eps)
    inv = 1 / std

    dbeta = np.sum(dout, axis=0)
    dgamma = np.sum(dout * x_hat, axis=0)
    dx_hat = dout * gamma
    dinv = np.sum(dx_hat * xc, axis=0)
    dxc = dx_hat * inv
    dstd = -dinv / std**2
    dvar = dstd / (2 * std)
    dxc = dxc + 2 * xc * dvar / N
    dmu = -np.sum(dxc, axis=0)
    dx = dxc + dmu / N
    return dx, dgamma, dbeta


def _normalize_backward(dx_hat, x_hat, inv_std, axis):
    """The closed form of a normalisation's backward pass over `axis` (M entries per slice):

        dx = inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))

    (the path through x_hat directly, minus the paths through the mean and the variance)."""
    mean = lambda a: np.mean(a, axis=axis, keepdims=True)
    return inv_std * (dx_hat - mean(dx_hat) - x_hat * mean(dx_hat * x_hat))


def batchnorm_backward_alt(dout, cache):
    """Backward pass of train-mode batchnorm, simplified on paper. With dx_hat = dout * gamma,
    the paths through x_hat, mu and var sum to

        dx = (1 / (N std)) * (N dx_hat - sum_i dx_hat_i - x_hat * sum_i dx_hat_i * x_hat_i)

    and dgamma = sum_i dout_i * x_hat_i, dbeta = sum_i dout_i. Same cache and results as
    `batchnorm_backward`. Returns (dx, dgamma, dbeta).
    """
    x, x_hat, mu, var, eps, gamma, beta = cache
    dx = _normalize_backward(dout * gamma, x_hat, 1 / np.sqrt(var + eps), axis=0)
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def layernorm_forward(x, gamma, beta, ln_param):
    """Layer normalisation of x (N, D) per example (over its D features), gamma and beta (D,):

        mu_i = (1/D) sum_j x_ij,   var_i = (1/D) sum_j (x_ij - mu_i)^2
        x_hat = (x - mu) / sqrt(var + eps),   out = gamma * x_hat + beta

    The same at train and test time (no running averages). ln_param: {"eps": 1e-5}.
    Returns (out, cache) with cache = (x_hat, inv_std, gamma), inv_std (N, 1).
    """
    eps = ln_param.get("eps", 1e-5)
    _check_ndim("layernorm_forward", "x", x, 2, "(N, D)")
    _check_shape("layernorm_forward", "gamma", gamma, x.shape[1:])
    _check_shape("layernorm_forward", "beta", beta, x.shape[1:])
    mu = np.mean(x, axis=1, keepdims=True)
    var = np.var(x, axis=1, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = (x - mu) * inv_std
    return gamma * x_hat + beta, (x_hat, inv_std, gamma)


def layernorm_backward(dout, cache):
    """Backward pass of layernorm: batchnorm's closed form with the roles of the axes swapped
    (each row is normalised over its D features), and gamma, beta shared by the rows:

        dx_hat = dout * gamma
        dx = (1 / (D std_i)) * (D dx_hat - sum_j dx_hat_ij - x_hat * sum_j dx_hat_ij * x_hat_ij)
        dgamma = sum_i dout_i * x_hat_i,   dbeta = sum_i dout_i

    Returns (dx, dgamma, dbeta).
    """
    x_hat, inv_std, gamma = cache
    dx = _normalize_backward(dout * gamma, x_hat, inv_std, axis=1)
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


# --- dropout ----------------------------------------------------------------------------------------
def dropout_forward(x, dropout_param):
    """Inverted dropout: p is the probability of *keeping* a unit.

        train: mask = [U < p] / p with U uniform on [0, 1) (np.random.rand(*x.shape), after
               np.random.seed(seed) when dropout_param has a "seed"),  out = x * mask
        test:  out = x

    out has x's dtype. Returns (out, cache) with cache = (dropout_param, mask), mask None in
    test mode.
    """
    p, mode = dropout_param["p"], _mode("dropout_forward", dropout_param, "dropout_param")
    if "seed" in dropout_param:
        np.random.seed(dropout_param["seed"])
    mask = None
    if mode == "train":
        mask = (np.random.rand(*x.shape) < p) / p
        out = x * mask
    else:
        out = x
    out = out.astype(x.dtype, copy=False)
    return out, (dropout_param, mask)


def dropout_backward(dout, cache):
    """dx = dout * mask in train mode (the kept units, scaled by 1/p), dout in test mode."""
    dropout_param, mask = cache
    if dropout_param["mode"] == "train":
        return dout * mask
    return dout


# --- convolution and max pooling, naive -----------------------------------------------------------
def conv_forward_naive(x, w, b, conv_param):
    """Convolution (cross-correlation, as every deep-learning library) of x (N, C, H, W) with F
    filters w (F, C, HH, WW) and biases b (F,); conv_param = {"stride": s, "pad": P}.

        xp = x zero-padded by P on each side of H and W
        out[n, f, i, j] = sum_{c, k, l} xp[n, c, s i + k, s j + l] w[f, c, k, l] + b[f]

    out is (N, F, H', W'), H' = 1 + (H + 2P - HH) // s, W' = 1 + (W + 2P - WW) // s. The loops
    run over the output positions (i, j); each window's products over the batch and the
    filters are one tensordot. Returns (out, cache) with cache = (x, w, b, conv_param).
    """
    op = "conv_forward_naive"
    _check_ndim(op, "x", x, 4, "(N, C, H, W)")
    _check_ndim(op, "w", w, 4, "(F, C, HH, WW)")
    N, C, H, W = x.shape
    F, _, HH, WW = w.shape
    if w.shape[1] != C:
        raise ValueError(f"{op}: w {w.shape} has {w.shape[1]} input channels, x {x.shape} has {C}")
    _check_shape(op, "b", b, (F,))
    stride, pad = conv_param["stride"], conv_param["pad"]
    H_out = _out_size(op, H, HH, stride, pad, "height")
    W_out = _out_size(op, W, WW, stride, pad, "width")
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    out = np.zeros((N, F, H_out, W_out), dtype=np.result_type(x, w, b))
    for i in range(H_out):
        for j in range(W_out):
            window = xp[:, :, i * stride:i * stride + HH, j * stride:j * stride + WW]  # (N, C, HH, WW)
            out[:, :, i, j] = np.tensordot(window, w, axes=([1, 2, 3], [1, 2, 3])) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Backward pass of `conv_forward_naive`, for dout (N, F, H', W'). Each output entry
    out[n, f, i, j] = sum window[n, :, :, :] * w[f] + b[f] sends back

        dw[f]             += sum_n dout[n, f, i, j] * window(i, j)[n]
        dxp[n, :, window] += sum_f dout[n, f, i, j] * w[f]       (overlapping windows add)
        db[f]              = sum_{n, i, j} dout[n, f, i, j]

    and dx is dxp without its padding. Returns (dx, dw, db).
    """
    x, w, b, conv_param = cache
    stride, pad = conv_param["stride"], conv_param["pad"]
    _, _, HH, WW = w.shape
    _, _, H_out, W_out = dout.shape
    xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), mode="constant")
    dxp = np.zeros(xp.shape, dtype=np.result_type(dout, w))
    dw = np.zeros(w.shape, dtype=np.result_type(dout, x))
    for i in range(H_out):
        for j in range(W_out):
            rows, cols = slice(i * stride, i * stride + HH), slice(j * stride, j * stride + WW)
            g = dout[:, :, i, j]  # (N, F)
            dw += np.tensordot(g, xp[:, :, rows, cols], axes=([0], [0]))  # (F, C, HH, WW)
            dxp[:, :, rows, cols] += np.tensordot(g, w, axes=([1], [0]))  # (N, C, HH, WW)
    dx = dxp[:, :, pad:pad + x.shape[2], pad:pad + x.shape[3]]
    db = np.sum(dout, axis=(0, 2, 3))
    return dx, dw, db


def max_pool_forward_naive(x, pool_param):
    """Max pooling of x (N, C, H, W) over pool_height x pool_width windows, `stride` apart:

        out[n, c, i, j] = max_{k, l} x[n, c, s i + k, s j + l]

    out is (N, C, H', W'), H' = 1 + (H - pool_height) // s. Returns (out, cache) with
    cache = (x, pool_param).
    """
    op = "max_pool_forward_naive"
    _check_ndim(op, "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    H_out = _out_size(op, H, ph, stride, 0, "height")
    W_out = _out_size(op, W, pw, stride, 0, "width")
    out = np.zeros((N, C, H_out, W_out), dtype=x.dtype)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            out[:, :, i, j] = np.max(window, axis=(2, 3))
    return out, (x, pool_param)


def max_pool_backward_naive(dout, cache):
    """Backward pass of `max_pool_forward_naive`: each window's gradient goes to the entry that
    was its maximum (the first one, in row-major order, if several tie), and overlapping
    windows add:

        dx[n, c, s i + k*, s j + l*] += dout[n, c, i, j],   (k*, l*) = argmax window(i, j)

    Returns dx.
    """
    x, pool_param = cache
    N, C, _, _ = x.shape
    ph, pw, stride = pool_param["pool_height"], pool_param["pool_width"], pool_param["stride"]
    _, _, H_out, W_out = dout.shape
    dx = np.zeros(x.shape, dtype=np.result_type(dout, x))
    n, c = np.meshgrid(np.arange(N), np.arange(C), indexing="ij")
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + ph, j * stride:j * stride + pw]
            k, m = np.unravel_index(np.argmax(window.reshape(N, C, -1), axis=2), (ph, pw))
            dx[n, c, i * stride + k, j * stride + m] += dout[:, :, i, j]
    return dx


# --- spatial batch normalisation, group normalisation ------------------------------------------------
def spatial_batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation of x (N, C, H, W) per channel, over the N*H*W entries of each
    channel; gamma, beta (C,); bn_param as for `batchnorm_forward` (running averages (C,)):

        out = batchnorm_forward(x as rows (N H W, C), gamma, beta) back in NCHW

    Returns (out, cache) with cache = batchnorm's cache (of the (N H W, C) rows).
    """
    _check_ndim("spatial_batchnorm_forward", "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    rows = x.transpose(0, 2, 3, 1).reshape(-1, C)
    out, cache = batchnorm_forward(rows, gamma, beta, bn_param)
    return out.reshape(N, H, W, C).transpose(0, 3, 1, 2), cache


def spatial_batchnorm_backward(dout, cache):
    """Backward pass of spatial batchnorm: dout as the (N H W, C) rows the forward normalised,
    through `batchnorm_backward_alt`, and dx back in NCHW. Returns (dx, dgamma, dbeta)."""
    N, C, H, W = dout.shape
    dx, dgamma, dbeta = batchnorm_backward_alt(dout.transpose(0, 2, 3, 1).reshape(-1, C), cache)
    return dx.reshape(N, H, W, C).transpose(0, 3, 1, 2), dgamma, dbeta


def spatial_groupnorm_forward(x, gamma, beta, G, gn_param):
    """Group normalisation of x (N, C, H, W): each example's C channels split into G contiguous
    groups of C/G channels, each group normalised over its M = (C/G) H W entries, then a
    per-channel scale and shift, gamma and beta (1, C, 1, 1):

        x_g = x.reshape(N, G, M),   mu = mean_m x_g,   var = mean_m (x_g - mu)^2
        x_hat = ((x_g - mu) / sqrt(var + eps)).reshape(N, C, H, W),  out = gamma * x_hat + beta

    gn_param: {"eps": 1e-5}. Returns (out, cache) with cache = (x_hat, inv_std, gamma, G),
    inv_std (N, G, 1).
    """
    op = "spatial_groupnorm_forward"
    eps = gn_param.get("eps", 1e-5)
    _check_ndim(op, "x", x, 4, "(N, C, H, W)")
    N, C, H, W = x.shape
    if not (isinstance(G, (int, np.integer)) and G >= 1 and C % G == 0):
        raise ValueError(f"{op}: G must be a positive divisor of the {C} channels, got {G!r}")
    for name, value in (("gamma", gamma), ("beta", beta)):
        if np.size(value) != C:
            raise ValueError(f"{op}: {name} must have shape (1, {C}, 1, 1), got {np.shape(value)}")
    gamma_c, beta_c = np.reshape(gamma, (1, C, 1, 1)), np.reshape(beta, (1, C, 1, 1))
    xg = x.reshape(N, G, -1)
    mu = np.mean(xg, axis=2, keepdims=True)
    var = np.var(xg, axis=2, keepdims=True)
    inv_std = 1 / np.sqrt(var + eps)
    x_hat = ((xg - mu) * inv_std).reshape(N, C, H, W)
    return gamma_c * x_hat + beta_c, (x_hat, inv_std, gamma, G)


def spatial_groupnorm_backward(dout, cache):
    """Backward pass of group normalisation, for dout (N, C, H, W): the normalisation's closed
    form within each group of M entries, and gamma, beta summed over the batch and positions:

        dx_hat = dout * gamma  (as (N, G, M))
        dx = (1 / (M std)) * (M dx_hat - sum_m dx_hat - x_hat * sum_m dx_hat * x_hat)
        dgamma[c] = sum_{n, h, w} dout * x_hat,   dbeta[c] = sum_{n, h, w} dout

    dgamma and dbeta come in gamma's shape, (1, C, 1, 1). Returns (dx, dgamma, dbeta).
    """
    x_hat, inv_std, gamma, G = cache
    N, C, H, W = dout.shape
    dx_hat = (dout * np.reshape(gamma, (1, C, 1, 1))).reshape(N, G, -1)
    dx = _normalize_backward(dx_hat, x_hat.reshape(N, G, -1), inv_std, axis=2).reshape(dout.shape)
    dgamma = np.sum(dout * x_hat, axis=(0, 2, 3)).reshape(np.shape(gamma))
    dbeta = np.sum(dout, axis=(0, 2, 3)).reshape(np.shape(gamma))
    return dx, dgamma, dbeta


# --- losses -----------------------------------------------------------------------------------------
def _checked_labels(op, x, y):
    _check_ndim(op, "x", x, 2, "(N, C) of scores")
    if x.shape[0] == 0:
        raise ValueError(f"{op}: empty batch: x has 0 rows")
    return check_labels(y, x.shape[0], x.shape[1], rows_of="x")


def svm_loss(x, y):
    """Multiclass SVM (hinge) loss of scores x (N, C) with labels y (N,), mean over the batch:

        margin_ij = max(0, x_ij - x_iy_i + 1) for j != y_i (0 at j = y_i)
        loss = (1/N) sum_ij margin_ij
        dx_ij = [margin_ij > 0] / N for j != y_i,   dx_iy_i = -(number of j with margin_ij > 0) / N

    Returns (loss, dx).
    """
    y = _checked_labels("svm_loss", x, y)
    N = x.shape[0]
    rows = np.arange(N)
    margins = np.maximum(0, x - x[rows, y][:, None] + 1.0)
    margins[rows, y] = 0
    loss = np.sum(margins) / N
    positive = (margins > 0).astype(x.dtype)
    dx = positive
    dx[rows, y] -= np.sum(positive, axis=1)
    dx /= N
    return loss, dx


def softmax_loss(x, y):
    """Softmax (cross-entropy) loss of scores x (N, C) with labels y (N,), mean over the batch:

        q_i = softmax(x_i) = exp(x_i - max x_i) / sum_j exp(x_ij - max x_i)
        loss = -(1/N) sum_i log q_iy_i,   dx = (q - onehot(y)) / N

    Returns (loss, dx).
    """
    y = _checked_labels("softmax_loss", x, y)
    N = x.shape[0]
    rows = np.arange(N)
    shifted = x - np.max(x, axis=1, keepdims=True)  # exp cannot overflow; softmax ignores the shift
    log_q = shifted - np.log(np.sum(np.exp(shifted), axis=1, keepdims=True))
    loss = -np.sum(log_q[rows, y]) / N
    dx = np.exp(log_q)
    dx[rows, y] -= 1
    dx /= N
    return loss, dx
