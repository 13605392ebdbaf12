"""cs231n assignment 3's recurrent layers, the backward passes derived by hand in NumPy.

Names, signatures, shapes and return values are cs231n's (`cs231n/rnn_layers.py`), so the file
drops into the RNN_Captioning / LSTM_Captioning notebooks: `*_forward(...) -> (out, cache)`,
`*_backward(dout, cache) -> grads`. The same layers built from engine ops, for the tape to
differentiate, are in `models/engine_rnn_layers.py`; `tests/test_rnn_layers.py` proves the two
equal, and both equal to central finite differences.

Shapes: N the minibatch, T the time steps, D the input size, H the hidden size, V the
vocabulary, M an affine layer's output size. Weights act on the right (x @ Wx), as in cs231n:
Wx (D, H) and Wh (H, H) for the vanilla RNN, Wx (D, 4H), Wh (H, 4H), b (4H,) for the LSTM,
whose activation a = x Wx + h Wh + b is split into the gates in cs231n's order i, f, o, g.

Every forward pass checks its arguments' shapes first and raises a ValueError naming the
argument (NumPy would broadcast a wrong-sized bias silently, or wrap a negative word index);
the backward passes trust their cache. Arrays keep their dtype: float32 in, float32 out.

`affine_forward` / `affine_backward` are here too because cs231n's current rnn_layers.py
carries them (CaptioningRNN projects the image features with them).
"""
import numpy as np


# --- argument checks ------------------------------------------------------------------------------
def _shape_of(value, name, ndim, what):
    shape = np.shape(value)
    if len(shape) != ndim:
        raise ValueError(f"{name} must have shape {what}, got shape {shape}")
    return shape


def _require(name, value, expected, what):
    """value's shape must equal `expected` (a tuple), described as `what` in the message."""
    if np.shape(value) != tuple(expected):
        raise ValueError(f"{name} must have shape {what} = {tuple(expected)}, got shape "
                         f"{np.shape(value)}")


def _check_cell(x, prev_h, Wx, Wh, b, gates, x_ndim=2):
    """Shapes of one RNN (gates=1) or LSTM (gates=4) step, or a sequence (x_ndim=3)."""
    x_what = "(N, D)" if x_ndim == 2 else "(N, T, D)"
    x_shape = _shape_of(x, "x", x_ndim, x_what)
    h_name = "prev_h" if x_ndim == 2 else "h0"
    N, H = _shape_of(prev_h, h_name, 2, "(N, H)")
    if x_shape[0] != N:
        raise ValueError(f"x and {h_name} must have the same N (rows), got shapes "
                         f"{x_shape} and {np.shape(prev_h)}")
    width = "H" if gates == 1 else "4H"
    _require("Wx", Wx, (x_shape[-1], gates * H), f"(D, {width})")
    _require("Wh", Wh, (H, gates * H), f"(H, {width})")
    _require("b", b, (gates * H,), f"({width},)")
    return N, H


# --- the vanilla RNN --------------------------------------------------------------------------------
def rnn_step_forward(x, prev_h, Wx, Wh, b):
    """One step of a vanilla tanh RNN.

        next_h = tanh(x Wx + prev_h Wh + b)

    x (N, D), prev_h (N, H), Wx (D, H), Wh (H, H), b (H,). Returns (next_h (N, H), cache);
    cache = (x, prev_h, Wx, Wh, next_h).
    """
    _check_cell(x, prev_h, Wx, Wh, b, gates=1)
    next_h = np.tanh(x.dot(Wx) + prev_h.dot(Wh) + b)
    return next_h, (x, prev_h, Wx, Wh, next_h)


def rnn_step_backward(dnext_h, cache):
    """Backward pass of `rnn_step_forward`. With a = x Wx + prev_h Wh + b and tanh' = 1 - tanh²
    read off the output:

        da = dnext_h * (1 - next_h²)
        dx = da Wxᵀ,   dprev_h = da Whᵀ,   dWx = xᵀ da,   dWh = prev_hᵀ da,   db = Σ_n da

    Returns (dx (N, D), dprev_h (N, H), dWx (D, H), dWh (H, H), db (H,)).
    """
    x, prev_h, Wx, Wh, next_h = cache
    da = dnext_h * (1 - next_h * next_h)
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = da.sum(axis=0)
    return dx, dprev_h, dWx, dWh, db


def rnn_forward(x, h0, Wx, Wh, b):
    """A vanilla RNN over a whole sequence, `rnn_step_forward` at each time step:

        h_t = tanh(x_t Wx + h_{t-1} Wh + b),   t = 1..T,   h_0 = h0

    x (N, T, D), h0 (N, H). Returns (h (N, T, H), the hidden states h_1..h_T; cache), cache the
    list of the T steps' caches.
    """
    N, H = _check_cell(x, h0, Wx, Wh, b, gates=1, x_ndim=3)
    T = x.shape[1]
    h = np.empty((N, T, H), dtype=np.result_type(x, h0, Wx, Wh, b))
    caches = []
    prev_h = h0
    for t in range(T):
        prev_h, step_cache = rnn_step_forward(x[:, t, :], prev_h, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(step_cache)
    return h, caches


def rnn_backward(dh, cache):
    """Backpropagation through time for `rnn_forward`. `dh` (N, T, H) is the upstream gradient
    of each h_t from the loss alone; h_t also feeds h_{t+1}, so going backwards

        dh_t (total) = dh[:, t] + dprev_h (from step t+1),   dprev_h = 0 after the last step

    and each step's `rnn_step_backward` gives dx_t and that step's share of dWx, dWh, db, which
    add up over time (the weights are shared). dh0 is the dprev_h left after step 1.

    Returns (dx (N, T, D), dh0 (N, H), dWx (D, H), dWh (H, H), db (H,)).
    """
    caches = cache
    N, T, H = dh.shape
    x0, _, Wx, Wh, _ = caches[0]
    dtype = np.result_type(dh, x0)
    dx = np.empty((N, T, x0.shape[1]), dtype=dtype)
    dWx, dWh, db = np.zeros_like(Wx, dtype=dtype), np.zeros_like(Wh, dtype=dtype), np.zeros(H, dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dWx_t, dWh_t, db_t = rnn_step_backward(dh[:, t, :] + dprev_h,
                                                                     caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db


# --- word embeddings --------------------------------------------------------------------------------
def word_embedding_forward(x, W):
    """Word vectors: out[n, t] = W[x[n, t]].

    x (N, T) integer word indices in 0..V-1, W (V, D). Returns (out (N, T, D), cache = (x, W)).
    """
    W_shape = _shape_of(W, "W", 2, "(V, D)")
    ids = np.asarray(x)
    if ids.dtype.kind not in "iu":
        raise ValueError(f"x must be an integer array of word indices, got dtype {ids.dtype}")
    V = W_shape[0]
    if ids.size and (ids.min() < 0 or ids.max() >= V):
        bad = ids[(ids < 0) | (ids >= V)].flat[0]
        raise ValueError(f"x: word indices must be in 0..{V - 1} (rows of W), got {bad}")
    return W[ids], (ids, W)


def word_embedding_backward(dout, cache):
    """Backward pass of `word_embedding_forward`: each row of W gets the sum of the upstream
    gradients of the positions that read it (a word used twice gets both),

        dW[v] = Σ_{n, t : x[n, t] = v} dout[n, t]

    `np.add.at` accumulates repeated indices (dW[x] += dout would keep only one). No gradient
    flows to the integer indices. Returns dW (V, D).
    """
    x, W = cache
    dW = np.zeros_like(W, dtype=np.result_type(dout, W))
    np.add.at(dW, x, dout)
    return dW


# --- affine layers ----------------------------------------------------------------------------------
def affine_forward(x, w, b):
    """out = x.reshape(N, D) w + b for x (N, d_1, ..., d_k), D = d_1 ... d_k, w (D, M), b (M,).
    Returns (out (N, M), cache = (x, w, b))."""
    return x.reshape(x.shape[0], -1).dot(w) + b, (x, w, b)


def affine_backward(dout, cache):
    """dx = dout wᵀ (in x's shape), dw = x_flatᵀ dout, db = Σ_n dout. Returns (dx, dw, db)."""
    x, w, b = cache
    dx = dout.dot(w.T).reshape(x.shape)
    dw = x.reshape(x.shape[0], -1).T.dot(dout)
    db = dout.sum(axis=0)
    return dx, dw, db


def temporal_affine_forward(x, w, b):
    """The same affine map at every time step: out[n, t] = x[n, t] w + b.

    x (N, T, D), w (D, M), b (M,). Returns (out (N, T, M), cache = (x, w, b, out)).
    """
    N, T, D = _shape_of(x, "x", 3, "(N, T, D)")
    M = np.shape(w)[-1] if np.ndim(w) == 2 else None
    _require("w", w, (D, M), "(D, M)")
    _require("b", b, (M,), "(M,)")
    out = x.reshape(N * T, D).dot(w).reshape(N, T, M) + b
    return out, (x, w, b, out)


def temporal_affine_backward(dout, cache):
    """Backward pass of `temporal_affine_forward`: the N·T positions are rows of one affine map,

        dx = dout wᵀ,   dw = Σ_{n,t} x[n, t]ᵀ dout[n, t],   db = Σ_{n,t} dout[n, t]

    Returns (dx (N, T, D), dw (D, M), db (M,)).
    """
    x, w, b, out = cache
    N, T, D = x.shape
    M = b.shape[0]
    dout_flat = dout.reshape(N * T, M)
    dx = dout_flat.dot(w.T).reshape(N, T, D)
    dw = x.reshape(N * T, D).T.dot(dout_flat)
    db = dout_flat.sum(axis=0)
    return dx, dw, db


# --- the loss ---------------------------------------------------------------------------------------
def temporal_softmax_loss(x, y, mask, verbose=False):
    """Softmax cross entropy at every time step, the masked-in steps summed over time and
    averaged over the minibatch (cs231n's: a caption's loss is the sum over its words):

        p[n, t] = softmax(x[n, t]),   loss = -(1/N) Σ_{n,t} mask[n, t] · log p[n, t, y[n, t]]
        dx[n, t] = mask[n, t] · (p[n, t] - onehot(y[n, t])) / N

    x (N, T, V) scores, y (N, T) labels in 0..V-1, mask (N, T) booleans (False: a <NULL> pad,
    no loss, no gradient). log p is computed as the shifted scores minus their log-sum-exp, so
    a masked-out position can never make 0 · log 0 = NaN. verbose prints dx's flat shape, as
    cs231n does. Returns (loss (a float), dx (N, T, V)).
    """
    N, T, V = _shape_of(x, "x", 3, "(N, T, V)")
    _require("y", y, (N, T), "(N, T)")
    _require("mask", mask, (N, T), "(N, T)")
    labels = np.asarray(y)
    if labels.dtype.kind not in "iu" or (labels.size and (labels.min() < 0 or labels.max() >= V)):
        raise ValueError(f"y must hold integer labels in 0..{V - 1}, got dtype {labels.dtype}"
                         + (f" and values {labels.min()}..{labels.max()}" if labels.size else ""))
    x_flat = x.reshape(N * T, V)
    y_flat = labels.reshape(N * T)
    mask_flat = np.asarray(mask).reshape(N * T)
    rows = np.arange(N * T)

    shifted = x_flat - x_flat.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    loss = -np.sum(log_probs[rows, y_flat][mask_flat.astype(bool)]) / N

    dx_flat = np.exp(log_probs)
    dx_flat[rows, y_flat] -= 1
    dx_flat /= N
    dx_flat *= mask_flat[:, None]
    if verbose:
        print("dx_flat: ", dx_flat.shape)
    return float(loss), dx_flat.reshape(N, T, V)


# --- the LSTM ---------------------------------------------------------------------------------------
def sigmoid(x):
    """A numerically stable logistic sigmoid: 1 / (1 + e^-x) for x >= 0 and e^x / (1 + e^x) for
    x < 0, so exp only ever sees -|x| and cannot overflow."""
    x = np.asarray(x)
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def lstm_step_forward(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step, the activation split into cs231n's gate order i, f, o, g:

        a = x Wx + prev_h Wh + b                       (N, 4H)
        i = σ(a[:, :H])   f = σ(a[:, H:2H])   o = σ(a[:, 2H:3H])   g = tanh(a[:, 3H:])
        next_c = f ⊙ prev_c + i ⊙ g
        next_h = o ⊙ tanh(next_c)

    x (N, D), prev_h and prev_c (N, H), Wx (D, 4H), Wh (H, 4H), b (4H,). Returns
    (next_h, next_c, cache), cache = (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c).
    """
    _, H = _check_cell(x, prev_h, Wx, Wh, b, gates=4)
    _require("prev_c", prev_c, np.shape(prev_h), "(N, H), prev_h's shape")
    a = x.dot(Wx) + prev_h.dot(Wh) + b
    i = sigmoid(a[:, :H])
    f = sigmoid(a[:, H:2 * H])
    o = sigmoid(a[:, 2 * H:3 * H])
    g = np.tanh(a[:, 3 * H:])
    next_c = f * prev_c + i * g
    next_h = o * np.tanh(next_c)
    return next_h, next_c, (x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c)


def lstm_step_backward(dnext_h, dnext_c, cache):
    """Backward pass of `lstm_step_forward`. The cell state reaches the loss directly (dnext_c)
    and through next_h = o tanh(c); σ' = σ(1 - σ) and tanh' = 1 - tanh², read off the outputs:

        dc = dnext_c + dnext_h ⊙ o ⊙ (1 - tanh²(next_c))     (the total gradient of next_c)
        do = dnext_h ⊙ tanh(next_c)
        di = dc ⊙ g,   df = dc ⊙ prev_c,   dg = dc ⊙ i,   dprev_c = dc ⊙ f
        da = [di ⊙ i(1-i),  df ⊙ f(1-f),  do ⊙ o(1-o),  dg ⊙ (1-g²)]   (N, 4H), gate order
        dx = da Wxᵀ,   dprev_h = da Whᵀ,   dWx = xᵀ da,   dWh = prev_hᵀ da,   db = Σ_n da

    Returns (dx (N, D), dprev_h (N, H), dprev_c (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)).
    """
    x, prev_h, prev_c, Wx, Wh, i, f, o, g, next_c = cache
    tanh_c = np.tanh(next_c)
    dc = dnext_c + dnext_h * o * (1 - tanh_c * tanh_c)
    do = dnext_h * tanh_c
    di, df, dg = dc * g, dc * prev_c, dc * i
    dprev_c = dc * f
    da = np.concatenate([di * i * (1 - i), df * f * (1 - f), do * o * (1 - o), dg * (1 - g * g)],
                        axis=1)
    dx = da.dot(Wx.T)
    dprev_h = da.dot(Wh.T)
    dWx = x.T.dot(da)
    dWh = prev_h.T.dot(da)
    db = da.sum(axis=0)
    return dx, dprev_h, dprev_c, dWx, dWh, db


def lstm_forward(x, h0, Wx, Wh, b):
    """An LSTM over a whole sequence, `lstm_step_forward` at each time step, from h0 and a zero
    initial cell state (cs231n's: c0 is not an argument):

        h_t, c_t = lstm_step(x_t, h_{t-1}, c_{t-1}),   t = 1..T,   h_0 = h0,   c_0 = 0

    x (N, T, D), h0 (N, H). Returns (h (N, T, H), the hidden states h_1..h_T; cache), cache the
    list of the T steps' caches. The cell states are not returned (cs231n's interface).
    """
    N, H = _check_cell(x, h0, Wx, Wh, b, gates=4, x_ndim=3)
    T = x.shape[1]
    dtype = np.result_type(x, h0, Wx, Wh, b)
    h = np.empty((N, T, H), dtype=dtype)
    prev_h, prev_c = h0, np.zeros((N, H), dtype=dtype)
    caches = []
    for t in range(T):
        prev_h, prev_c, step_cache = lstm_step_forward(x[:, t, :], prev_h, prev_c, Wx, Wh, b)
        h[:, t, :] = prev_h
        caches.append(step_cache)
    return h, caches


def lstm_backward(dh, cache):
    """Backpropagation through time for `lstm_forward`. Going backwards, step t gets

        dnext_h = dh[:, t] + dprev_h (from step t+1),   dnext_c = dprev_c (from step t+1)

    (both zero after the last step: c_T reaches the loss only through h_T), and the shared
    weights' gradients add up over the steps. dh0 is the dprev_h left after step 1; dc0 is
    dropped, c0 being the constant 0.

    Returns (dx (N, T, D), dh0 (N, H), dWx (D, 4H), dWh (H, 4H), db (4H,)).
    """
    caches = cache
    N, T, H = dh.shape
    x0, _, _, Wx, Wh = caches[0][:5]
    dtype = np.result_type(dh, x0)
    dx = np.empty((N, T, x0.shape[1]), dtype=dtype)
    dWx, dWh = np.zeros_like(Wx, dtype=dtype), np.zeros_like(Wh, dtype=dtype)
    db = np.zeros(4 * H, dtype=dtype)
    dprev_h = np.zeros((N, H), dtype=dtype)
    dprev_c = np.zeros((N, H), dtype=dtype)
    for t in reversed(range(T)):
        dx[:, t, :], dprev_h, dprev_c, dWx_t, dWh_t, db_t = lstm_step_backward(
            dh[:, t, :] + dprev_h, dprev_c, caches[t])
        dWx += dWx_t
        dWh += dWh_t
        db += db_t
    return dx, dprev_h, dWx, dWh, db
