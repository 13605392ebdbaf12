"""cs231n assignment 3's recurrent layers built from engine ops, for the tape to differentiate.

The forward passes of `models/rnn_layers.py`, with the same equations, argument order and
shapes, written as plainly as the equations read: no caches and no backward passes, the
GradientTape records the ops and differentiates them. Inputs may be Tensors (Variables, or
watched Tensors, for the ones to differentiate with respect to) or NumPy arrays (constants);
every function returns Tensors. The CaptioningRNN's autodiff path composes them.

    rnn_step(x, prev_h, Wx, Wh, b) -> next_h              tanh(x Wx + prev_h Wh + b)
    rnn(x, h0, Wx, Wh, b) -> h (N, T, H)                  rnn_step over t, stacked on axis 1
    word_embedding(x, W) -> (N, T, D)                     W[x]
    temporal_affine(x, w, b) -> (N, T, M)                 x w + b at every step
    temporal_softmax_loss(x, y, mask) -> loss ()          masked cross entropy, summed, / N
    lstm_step(x, prev_h, prev_c, Wx, Wh, b) -> (next_h, next_c)   gates in the order i, f, o, g
    lstm(x, h0, Wx, Wh, b) -> h (N, T, H)                 from c0 = 0

The arguments are not checked here (the hand-derived layers check theirs); the ops themselves
refuse mismatched shapes with a ValueError naming the op.
"""
import numpy as np

import tensorflowlite_clone as tflc


def rnn_step(x, prev_h, Wx, Wh, b):
    """next_h = tanh(x Wx + prev_h Wh + b); x (N, D), prev_h (N, H)."""
    return tflc.tanh(tflc.matmul(x, Wx) + tflc.matmul(prev_h, Wh) + b)


def rnn(x, h0, Wx, Wh, b):
    """The hidden states h_1..h_T (N, T, H) of a vanilla RNN over x (N, T, D) from h0 (N, H)."""
    h, hs = h0, []
    for t in range(np.shape(x)[1]):
        h = rnn_step(x[:, t, :], h, Wx, Wh, b)
        hs.append(h)
    return tflc.stack(hs, axis=1)


def word_embedding(x, W):
    """The word vectors W[x] (N, T, D) of the integer word indices x (N, T); W (V, D)."""
    return tflc.nn.embedding(x, W)


def temporal_affine(x, w, b):
    """x w + b at every time step: x (N, T, D), w (D, M), b (M,) -> (N, T, M)."""
    return tflc.matmul(x, w) + b


def temporal_softmax_loss(x, y, mask):
    """-(1/N) Σ_{n,t} mask[n, t] · log softmax(x[n, t])[y[n, t]], a scalar Tensor.

    x (N, T, V) scores, y (N, T) integer labels, mask (N, T) booleans (False: no loss), or the
    same as a Tensor of 0s and 1s (what a compiled step is handed: it is not read)."""
    N, T, _ = np.shape(x)
    log_probs = tflc.nn.log_softmax(x, axis=-1)
    picked = log_probs[np.arange(N)[:, None], np.arange(T)[None, :], y]  # (N, T)
    weights = mask if isinstance(mask, tflc.Tensor) else np.asarray(mask, dtype=picked.dtype)
    return -tflc.sum(picked * weights) / N


def lstm_step(x, prev_h, prev_c, Wx, Wh, b):
    """One LSTM step; returns (next_h, next_c):

        a = x Wx + prev_h Wh + b,   i, f, o = σ(a_i), σ(a_f), σ(a_o),   g = tanh(a_g)
        next_c = f prev_c + i g,    next_h = o tanh(next_c)
    """
    a = tflc.matmul(x, Wx) + tflc.matmul(prev_h, Wh) + b
    a_i, a_f, a_o, a_g = tflc.split(a, 4, axis=1)
    i, f, o = tflc.nn.sigmoid(a_i), tflc.nn.sigmoid(a_f), tflc.nn.sigmoid(a_o)
    g = tflc.tanh(a_g)
    next_c = f * prev_c + i * g
    next_h = o * tflc.tanh(next_c)
    return next_h, next_c


def lstm(x, h0, Wx, Wh, b):
    """The hidden states h_1..h_T (N, T, H) of an LSTM over x (N, T, D) from h0 (N, H) and a zero
    initial cell state."""
    h, c, hs = h0, tflc.zeros_like(h0), []  # c0 a constant: no gradient flows to it
    for t in range(np.shape(x)[1]):
        h, c = lstm_step(x[:, t, :], h, c, Wx, Wh, b)
        hs.append(h)
    return tflc.stack(hs, axis=1)
