"""cs231n assignment 3's CaptioningRNN: image features -> a caption, with a vanilla RNN or an LSTM.

    model = CaptioningRNN(word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                          cell_type="rnn", dtype=np.float32)
    loss, grads = model.loss(features, captions)                   # gradients from the tape
    loss, grads = model.loss(features, captions, method="manual")  # cs231n's hand-derived layers
    captions = model.sample(features, max_length=30)               # greedy decoding

The model (cs231n's, unregularised): with captions_in = captions[:, :-1] (what the RNN reads,
from <START>) and captions_out = captions[:, 1:] (what it must predict, up to <END>),

    h0 = features W_proj + b_proj                         (N, H)   the image sets the first state
    x = W_embed[captions_in]                              (N, T-1, W)
    h = rnn(x, h0; Wx, Wh, b)  or  lstm(x, h0; Wx, Wh, b) (N, T-1, H)
    scores = h W_vocab + b_vocab                          (N, T-1, V)
    loss = -(1/N) Σ_{n,t} [captions_out[n,t] != <NULL>] log softmax(scores[n,t])[captions_out[n,t]]

Two independent gradient paths share only the parameters: "autodiff" composes the engine-built
layers (`models/engine_rnn_layers.py`) under a GradientTape; "manual" chains the hand-derived
forward/backward pairs of `models/rnn_layers.py` (looked up on that module at call time, so a
test can replace one of them and watch `compare_gradients` name the step it breaks).

Named tensors, in forward order (`forward_tensors`, `compare_gradients`):
    "W_proj" (D, H), "b_proj" (H,)     the projection of the features
    "h0" (N, H)                        the initial hidden state
    "W_embed" (V, W)                   the word vectors
    "rnn.x" / "lstm.x" (N, T-1, W)     the recurrent layer's input, the embedded captions_in
    "Wx", "Wh", "b"                    the recurrent layer's weights ((W, kH), (H, kH), (kH,))
    "temporal_affine.x" (N, T-1, H)    the hidden states h_1..h_{T-1}
    "W_vocab" (H, V), "b_vocab" (V,)   the output layer
    "scores" (N, T-1, V)
k is 1 for the RNN and 4 for the LSTM (gates i, f, o, g).

Parameters are drawn from NumPy's global generator in cs231n's order (W_embed, W_proj, Wx, Wh,
W_vocab), so a seeded notebook gets cs231n's numbers. Inputs are checked before any math:
features (N, D) real numbers that fit W_proj, captions (N, T) integers in 0..V-1 with T >= 2;
otherwise a ValueError (TypeError for a wrong type) names the argument.
"""
import numpy as np

import tensorflowlite_clone as tflc

from . import engine_rnn_layers as E
from . import rnn_layers as L
from ._checks import check_count, check_float_dtype, check_X
from .softmax import named

CELL_TYPES = ("rnn", "lstm")
_GATES = {"rnn": 1, "lstm": 4}

# The digit-strip captioner's settings (tensorflowlite_clone.app.captions.load_digit_captions):
# "model" is CaptioningRNN's kwargs but word_to_idx and input_dim (the data's), "solver"
# CaptioningSolver's, "data" load_digit_captions'. Both run 1,000 Adam steps on batches of 100
# (5 epochs of the 20,000 training strips), the RNN in about 5 s and the LSTM in about 20 s on
# 2 shared cores, and caption the 500 held-out test strips exactly (all three digits right) 94.4%,
# 95.6%, 94.0% of the time (RNN) and 94.0%, 94.0%, 93.6% (LSTM) after np.random.seed(0), (1), (2)
# (tests/test_captions.py checks seed 0 against 90%).
DIGITS_SETTINGS = {
    "rnn": {
        "model": {"wordvec_dim": 32, "hidden_dim": 128, "cell_type": "rnn", "dtype": "float32"},
        "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3},
                   "lr_decay": 0.7, "batch_size": 100, "num_epochs": 5, "verbose": False},
        "data": {"num_train": 20000, "num_val": 300, "num_test": 500},
    },
    "lstm": {
        "model": {"wordvec_dim": 32, "hidden_dim": 128, "cell_type": "lstm", "dtype": "float32"},
        "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 3e-3},
                   "lr_decay": 0.7, "batch_size": 100, "num_epochs": 5, "verbose": False},
        "data": {"num_train": 20000, "num_val": 300, "num_test": 500},
    },
}


class CaptioningRNN:
    """cs231n's CaptioningRNN; see the module docstring. `params` holds the arrays by name."""

    def __init__(self, word_to_idx, input_dim=512, wordvec_dim=128, hidden_dim=128,
                 cell_type="rnn", dtype=np.float32):
        if cell_type not in CELL_TYPES:
            raise ValueError(f'Invalid cell_type "{cell_type}": expected "rnn" or "lstm"')
        if not isinstance(word_to_idx, dict) or "<NULL>" not in word_to_idx:
            raise ValueError("word_to_idx must be a dict word -> index holding '<NULL>' (the "
                             f"padding word), got {type(word_to_idx).__name__}"
                             + (f" with {sorted(word_to_idx)[:5]}..." if isinstance(word_to_idx, dict)
                                else ""))
        for name, size in [("input_dim", input_dim), ("wordvec_dim", wordvec_dim),
                           ("hidden_dim", hidden_dim)]:
            check_count(size, name)
        dtype = check_float_dtype(dtype)
        self.cell_type = cell_type
        self.dtype = dtype
        self.word_to_idx = word_to_idx
        self.idx_to_word = {i: w for w, i in word_to_idx.items()}
        self._null = word_to_idx["<NULL>"]
        self._start = word_to_idx.get("<START>", None)
        self._end = word_to_idx.get("<END>", None)

        V, D, W, H, k = len(word_to_idx), input_dim, wordvec_dim, hidden_dim, _GATES[cell_type]
        # cs231n's draws, in its order, from the global generator; the biases start at zero
        self.params = {}
        self.params["W_embed"] = np.random.randn(V, W) / 100
        self.params["W_proj"] = np.random.randn(D, H) / np.sqrt(D)
        self.params["b_proj"] = np.zeros(H)
        self.params["Wx"] = np.random.randn(W, k * H) / np.sqrt(W)
        self.params["Wh"] = np.random.randn(H, k * H) / np.sqrt(H)
        self.params["b"] = np.zeros(k * H)
        self.params["W_vocab"] = np.random.randn(H, V) / np.sqrt(H)
        self.params["b_vocab"] = np.zeros(V)
        for name, value in self.params.items():
            self.params[name] = value.astype(self.dtype)

    PARAMS = ("W_proj", "b_proj", "W_embed", "Wx", "Wh", "b", "W_vocab", "b_vocab")  # forward order

    def config(self):
        """The constructor's kwargs as JSON-able values (dtype a string), for checkpoints:
        `CaptioningRNN(**model.config())` builds a model of the same shape."""
        D, H = self.params["W_proj"].shape
        return {"word_to_idx": {str(w): int(i) for w, i in self.word_to_idx.items()},
                "input_dim": int(D), "wordvec_dim": int(self.params["W_embed"].shape[1]),
                "hidden_dim": int(H), "cell_type": self.cell_type, "dtype": self.dtype.name}

    # --- checks ------------------------------------------------------------------------------------
    def _checked(self, features, captions):
        """(features cast to the parameters' dtype, captions as an integer array), checked."""
        if captions is None:
            raise ValueError("CaptioningRNN: captions are needed (the loss has no scores-only mode)")
        features = check_X(features, self.params["W_proj"], "W_proj", name="features")
        N = features.shape[0]
        if N == 0:
            raise ValueError("empty batch: features has 0 rows")
        ids = np.asarray(captions)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"captions must be an integer array of word indices, got dtype {ids.dtype}")
        if ids.ndim != 2 or ids.shape[0] != N or ids.shape[1] < 2:
            raise ValueError(f"captions must have shape (N, T) = ({N}, T) with T >= 2 (one caption "
                             f"per row of features, <START> included), got shape {ids.shape}")
        V = self.params["W_embed"].shape[0]
        if ids.min() < 0 or ids.max() >= V:
            bad = ids[(ids < 0) | (ids >= V)].flat[0]
            raise ValueError(f"captions: word indices must be in 0..{V - 1} (rows of W_embed), "
                             f"got {bad}")
        return np.asarray(features, dtype=self.dtype), ids

    @staticmethod
    def _no_reg(reg):
        if reg not in (None, 0):
            raise ValueError(f"CaptioningRNN has no regularisation (cs231n's); reg must be None or 0, "
                             f"got {reg!r}")

    # --- the autodiff path ---------------------------------------------------------------------------
    def _variables(self):
        # no copies: finite differences perturb self.params in place and must reach the forward
        return {name: tflc.Variable(self.params[name], name=name, copy=False) for name in self.PARAMS}

    def forward_tensors(self, X, y=None, reg=None, nudge=None):
        """The forward pass from engine ops, reading self.params afresh: (loss Tensor, tensors),
        tensors the names of the module docstring in forward order (the parameters as
        Variables). X is the features, y the captions. `nudge` (name -> array added to that
        intermediate) lets finite differences reach the intermediates."""
        self._no_reg(reg)
        features, captions = self._checked(X, y)
        return loss_tensors(self._variables(), features, captions, self._null, self.cell_type,
                            nudge)

    def loss(self, features, captions, method="traced"):
        """(loss, grads): the loss a Python float, grads keyed and typed like params.
        method "traced" (the default: the tape's ops compiled by tflc.jit, recorded once per
        batch shape; the same numbers as "autodiff", which runs the tape eagerly) or "manual"
        (cs231n's hand-derived layers)."""
        if method not in ("traced", "autodiff", "manual"):
            raise ValueError(f"CaptioningRNN.loss: method must be 'traced', 'autodiff' or 'manual', "
                             f"got {method!r}")
        features, captions = self._checked(features, captions)
        if method == "manual":
            loss, grads = manual_loss(self.params, features, captions, self._null, self.cell_type)
            return loss, {k: grads[k].astype(self.dtype, copy=False) for k in self.PARAMS}
        if method == "traced":  # the captions split outside: a compiled step is handed each part
            captions_in = np.ascontiguousarray(captions[:, :-1])
            captions_out = np.ascontiguousarray(captions[:, 1:])
            mask = (captions_out != self._null).astype(self.dtype)
            loss, grads = _traced_loss(self.params, features, captions_in, captions_out, mask,
                                       self.cell_type)
            return float(loss), {k: grads[k].numpy().astype(self.dtype, copy=False)
                                 for k in self.PARAMS}
        with tflc.GradientTape() as tape:
            loss, tensors = loss_tensors(self._variables(), features, captions, self._null,
                                         self.cell_type)
        params = [tensors[k] for k in self.PARAMS]
        del tensors  # the intermediates: the sweep frees each once no VJP reads it
        grads = tape.gradient(loss, params, unconnected_gradients="zero")
        return float(loss), {k: g.numpy().astype(self.dtype, copy=False)
                             for k, g in zip(self.PARAMS, grads)}

    def hand_derived_gradients(self, params, X, y, reg=None):
        """The hand-derived gradients of the parameters and of the intermediates "scores",
        "temporal_affine.x", "rnn.x" / "lstm.x" and "h0" (`compare_gradients`' default)."""
        self._no_reg(reg)
        features, captions = self._checked(X, y)
        return manual_loss(params, features, captions, self._null, self.cell_type,
                           intermediates=True)[1]

    # --- test time -----------------------------------------------------------------------------------
    def sample(self, features, max_length=30):
        """cs231n's greedy test-time sampling: h0 from the features, <START> fed first, then at
        every step the highest-scoring word is written out and fed back. Returns captions
        (N, max_length) int32, the words after <START>; like cs231n it keeps going after an
        <END> (decode_captions stops reading there)."""
        check_count(max_length, "max_length")
        if self._start is None:
            raise ValueError("CaptioningRNN.sample: word_to_idx has no '<START>' word to begin with")
        features = np.asarray(check_X(features, self.params["W_proj"], "W_proj", name="features"),
                              dtype=self.dtype)
        p = self.params
        N = features.shape[0]
        captions = self._null * np.ones((N, max_length), dtype=np.int32)
        h, _ = L.affine_forward(features, p["W_proj"], p["b_proj"])
        c = np.zeros_like(h)
        word = self._start * np.ones(N, dtype=np.int32)
        for t in range(max_length):
            x, _ = L.word_embedding_forward(word, p["W_embed"])
            if self.cell_type == "rnn":
                h, _ = L.rnn_step_forward(x, h, p["Wx"], p["Wh"], p["b"])
            else:
                h, c, _ = L.lstm_step_forward(x, h, c, p["Wx"], p["Wh"], p["b"])
            scores, _ = L.affine_forward(h, p["W_vocab"], p["b_vocab"])
            word = np.argmax(scores, axis=1)
            captions[:, t] = word
        return captions


def loss_tensors(p, features, captions, null, cell_type, nudge=None):
    """`forward_tensors` on the parameter Tensors `p`: (loss, named tensors in forward order).
    The inputs are taken as checked."""
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null  # <NULL> pads neither add loss nor get gradient
    return _loss_of(p, features, captions_in, captions_out, mask, cell_type, nudge)


def _loss_of(p, features, captions_in, captions_out, mask, cell_type, nudge=None):
    """`loss_tensors` once the captions are split into the words fed in, those to predict and
    the mask of the real (not <NULL>) ones."""
    h0 = named(tflc.matmul(features, p["W_proj"]) + p["b_proj"], "h0", nudge)
    x = named(E.word_embedding(captions_in, p["W_embed"]), f"{cell_type}.x", nudge)
    recurrent = E.rnn if cell_type == "rnn" else E.lstm
    h = named(recurrent(x, h0, p["Wx"], p["Wh"], p["b"]), "temporal_affine.x", nudge)
    scores = named(E.temporal_affine(h, p["W_vocab"], p["b_vocab"]), "scores", nudge)
    loss = E.temporal_softmax_loss(scores, captions_out, mask)
    loss.name = "loss"
    tensors = {"W_proj": p["W_proj"], "b_proj": p["b_proj"], "h0": h0, "W_embed": p["W_embed"],
               f"{cell_type}.x": x, "Wx": p["Wx"], "Wh": p["Wh"], "b": p["b"],
               "temporal_affine.x": h, "W_vocab": p["W_vocab"], "b_vocab": p["b_vocab"],
               "scores": scores}
    return loss, tensors


_traced_loss = tflc.jit(tflc.value_and_grad(lambda p, *data: _loss_of(p, *data)[0]))


def manual_loss(params, features, captions, null, cell_type, intermediates=False):
    """cs231n's loss with the hand-derived layers: the forward pass keeps each layer's cache,
    the backward pass runs them in reverse,

        dscores = temporal_softmax_loss'     dh, dW_vocab, db_vocab = temporal_affine_backward
        dx, dh0, dWx, dWh, db = rnn_backward / lstm_backward (through time)
        dW_embed = word_embedding_backward(dx)      _, dW_proj, db_proj = affine_backward(dh0)

    Returns (loss, grads); with `intermediates` grads also holds "scores", "temporal_affine.x",
    "<cell>.x" and "h0"."""
    p = params
    captions_in, captions_out = captions[:, :-1], captions[:, 1:]
    mask = captions_out != null
    h0, cache_proj = L.affine_forward(features, p["W_proj"], p["b_proj"])
    x, cache_embed = L.word_embedding_forward(captions_in, p["W_embed"])
    forward, backward = ((L.rnn_forward, L.rnn_backward) if cell_type == "rnn"
                         else (L.lstm_forward, L.lstm_backward))
    h, cache_cell = forward(x, h0, p["Wx"], p["Wh"], p["b"])
    scores, cache_vocab = L.temporal_affine_forward(h, p["W_vocab"], p["b_vocab"])
    loss, dscores = L.temporal_softmax_loss(scores, captions_out, mask)

    grads = {}
    dh, grads["W_vocab"], grads["b_vocab"] = L.temporal_affine_backward(dscores, cache_vocab)
    dx, dh0, grads["Wx"], grads["Wh"], grads["b"] = backward(dh, cache_cell)
    grads["W_embed"] = L.word_embedding_backward(dx, cache_embed)
    _, grads["W_proj"], grads["b_proj"] = L.affine_backward(dh0, cache_proj)
    if intermediates:
        grads.update({"scores": dscores, "temporal_affine.x": dh, f"{cell_type}.x": dx, "h0": dh0})
    return loss, grads
