"""The seed's two-layer network: affine - ReLU - affine - softmax, cs231n's interface.

Two independent gradient paths:
- "autodiff": the forward pass from engine primitives (`forward_tensors`), gradients from a tape;
- "manual": the seed's forward in NumPy and its hand-derived backward (`manual_loss`).
They share nothing but the parameters, so agreement between them means something.

Named tensors, in forward order (`forward_tensors`, `compare_gradients`, the graph drawings):
    "W1" (D, H), "b1" (H,)       first layer parameters
    "hidden_pre" (N, H)          X @ W1 + b1, the ReLU's input (the seed's s1)
    "hidden" (N, H)              relu(hidden_pre) (the seed's s1_relu)
    "W2" (H, C), "b2" (C,)       second layer parameters
    "scores" (N, C)              hidden @ W2 + b2
    "probs" (N, C)               softmax(scores)
    "loss" ()                    mean cross-entropy + reg * (sum(W1*W1) + sum(W2*W2))

The methods check their inputs first (`models._checks`): labels must be N integers in 0..C-1,
X (N, D) must fit W1, a batch with labels must not be empty, reg must be a non-negative number;
otherwise a ValueError (TypeError for a wrong type) names the argument. The module-level
functions below (`loss_tensors`, `manual_scores`, `manual_loss`) take inputs as checked.
"""
import functools

import numpy as np

import tensorflowlite_clone as tflc
from tensorflowlite_clone.app.checkpoint import check_shapes, checked_sizes, load_checkpoint, save_checkpoint
from tensorflowlite_clone.app.training import fit
from tensorflowlite_clone.optim import SGD

from ._checks import check_batch, check_count, check_X
from .softmax import cross_entropy, named, softmax


def _checked(params, X, y, reg=0.0, names=("X", "y")):
    """(X, y) checked against the parameters, for a loss."""
    return check_batch(X, y, reg, params["W1"], "W1", params["W2"].shape[1], names)


def _checked_or_scores(params, X, y, reg):
    """`_checked`, or (X checked, None) when y is None: the scores are wanted."""
    return (check_X(X, params["W1"], "W1"), None) if y is None else _checked(params, X, y, reg)


class TwoLayerNet:
    """cs231n's TwoLayerNet. `params` holds W1, b1, W2, b2 as NumPy arrays."""

    PARAMS = ("W1", "b1", "W2", "b2")
    INTERMEDIATES = ("hidden_pre", "hidden", "scores", "probs")

    def __init__(self, input_size, hidden_size, output_size, std=1e-4):
        for name, size in [("input_size", input_size), ("hidden_size", hidden_size),
                           ("output_size", output_size)]:
            check_count(size, name)
        # cs231n's order of draws from the global generator: W1, then W2
        self.params = {}
        self.params["W1"] = std * np.random.randn(input_size, hidden_size)
        self.params["b1"] = np.zeros(hidden_size)
        self.params["W2"] = std * np.random.randn(hidden_size, output_size)
        self.params["b2"] = np.zeros(output_size)

    @classmethod
    def from_params(cls, params):
        """A net holding the given W1, b1, W2, b2 arrays (no random initialisation)."""
        net = cls.__new__(cls)
        net.params = dict(params)
        return net

    # --- the autodiff path -----------------------------------------------------------------------
    def forward_tensors(self, X, y=None, reg=0.0, nudge=None):
        """The forward pass from engine primitives, reading self.params afresh.

        Returns (loss, tensors): `tensors` maps the names in the module docstring to Tensors in
        forward order; the parameters are fresh Variables, so a surrounding tape watches them.
        With y None, loss is None and the tensors stop at "scores". `nudge` (name -> array,
        added to that intermediate) is how finite differences reach the intermediates.
        """
        X, y = _checked_or_scores(self.params, X, y, reg)
        return loss_tensors(self._variables(), X, y, reg, nudge)

    def _variables(self):
        # no copies: self.params is left alone while the tape holds them
        return {name: tflc.Variable(self.params[name], name=name, copy=False)
                for name in self.PARAMS}

    def loss(self, X, y=None, reg=0.0, method="autodiff"):
        """Scores (N, C) if y is None, else (loss, grads) with grads keyed and typed like params.
        method: "autodiff" (the tape), "traced" (the tape's ops recorded once per batch shape,
        then replayed: `tflc.jit` of `value_and_grad`) or "manual" (the seed's hand-derived backward)."""
        if method not in ("autodiff", "traced", "manual"):
            raise ValueError("TwoLayerNet.loss: method must be 'autodiff', 'traced' or 'manual', "
                             f"got {method!r}")
        X, y = _checked_or_scores(self.params, X, y, reg)
        if method == "manual":
            if y is None:
                return manual_scores(self.params, X)
            loss, grads = manual_loss(self.params, X, y, reg)
            return loss, {k: grads[k].astype(self.params[k].dtype, copy=False) for k in self.PARAMS}
        if y is None:
            return loss_tensors(self._variables(), X)[1]["scores"].numpy()
        if method == "traced":
            loss, grads = _traced_loss(self.params, X, y, reg)
            return float(loss), {k: g.numpy() for k, g in grads.items()}
        with tflc.GradientTape() as tape:
            loss, tensors = loss_tensors(self._variables(), X, y, reg)
        params = [tensors[k] for k in self.PARAMS]
        del tensors  # the intermediates: the sweep frees each once no VJP will read it
        grads = tape.gradient(loss, params)
        return float(loss), {k: g.numpy() for k, g in zip(self.PARAMS, grads)}

    @staticmethod
    def hand_derived_gradients(params, X, y, reg=0.0):
        """The seed's gradients by name: parameters and the intermediates "scores", "hidden",
        "hidden_pre" (the default `hand_derived` of `compare_gradients`)."""
        X, y = _checked(params, X, y, reg)
        return manual_loss(params, X, y, reg, intermediates=True)[1]

    # --- training --------------------------------------------------------------------------------
    def train(self, X, y, X_val, y_val, learning_rate=1e-3, learning_rate_decay=0.95, reg=5e-6,
              num_iters=100, batch_size=200, verbose=False, optimizer=None, method="traced"):
        """Minibatch training (batches drawn with replacement, as cs231n).

        Once per epoch (every max(num_train // batch_size, 1) iterations, starting with the
        first) the accuracies on the current batch and on (X_val, y_val) are recorded and the
        learning rate is multiplied by `learning_rate_decay`. `optimizer` (from
        tensorflowlite_clone.optim) replaces plain SGD at `learning_rate`; its own `lr` is
        the one decayed. `method` is `loss`'s: "traced" (the default: the tape's ops compiled,
        the same numbers as "autodiff", the eager tape, which is there for debugging) or
        "manual". Returns {"loss_history", "train_acc_history", "val_acc_history"}.
        """
        X, y = _checked(self.params, X, y, reg)
        X_val, y_val = _checked(self.params, X_val, y_val, names=("X_val", "y_val"))
        check_count(num_iters, "num_iters", allow_zero=True)
        check_count(batch_size, "batch_size")
        return fit(self, X, y, functools.partial(self.loss, reg=reg, method=method),
                   optimizer=optimizer or SGD(learning_rate), num_iters=num_iters,
                   batch_size=batch_size, val=(X_val, y_val), lr_decay=learning_rate_decay,
                   verbose=verbose)

    def predict(self, X):
        X = check_X(X, self.params["W1"], "W1")
        return np.argmax(manual_scores(self.params, X), axis=1)

    # --- checkpoints -----------------------------------------------------------------------------
    KIND = "two-layer"

    def save(self, path, metadata=None, mean_image=None):
        """Write the parameters to `path` (.npz, no pickle, atomic) with the sizes and `metadata`
        (JSON-able: hyperparameters, data spec, preprocessing). `mean_image` (D,), the training
        mean the inputs had subtracted, is stored as an array. Returns the Path written."""
        (D, H), C = self.params["W1"].shape, self.params["W2"].shape[1]
        arrays = dict(self.params)
        if mean_image is not None:
            arrays["mean_image"] = mean_image
        sizes = {"input_size": D, "hidden_size": H, "output_size": C}
        return save_checkpoint(path, arrays, {"kind": self.KIND, "sizes": sizes,
                                              "metadata": metadata or {}})

    @classmethod
    def load(cls, path):
        """A net from a checkpoint written by `save`, its shapes checked against the stored
        sizes (CheckpointError if corrupt or mismatched). The net gets two more attributes:
        `metadata` (the dict given to `save`) and `mean_image` (array or None)."""
        arrays, header = load_checkpoint(path, kind=cls.KIND)
        D, H, C = checked_sizes(path, header, ("input_size", "hidden_size", "output_size"))
        expected = {"W1": (D, H), "b1": (H,), "W2": (H, C), "b2": (C,)}
        if "mean_image" in arrays:
            expected["mean_image"] = (D,)
        check_shapes(path, arrays, expected)
        net = cls.from_params({name: arrays[name] for name in cls.PARAMS})
        net.metadata, net.mean_image = header.get("metadata", {}), arrays.get("mean_image")
        return net


def loss_tensors(p, X, y=None, reg=0.0, nudge=None):
    """`forward_tensors` on the parameter Tensors `p` (W1, b1, W2, b2): what a tape or a trace
    differentiates with respect to."""
    hidden_pre = named(X @ p["W1"] + p["b1"], "hidden_pre", nudge)
    hidden = named(tflc.relu(hidden_pre), "hidden", nudge)
    scores = named(hidden @ p["W2"] + p["b2"], "scores", nudge)
    tensors = {"W1": p["W1"], "b1": p["b1"], "hidden_pre": hidden_pre, "hidden": hidden,
               "W2": p["W2"], "b2": p["b2"], "scores": scores}
    if y is None:
        return None, tensors
    tensors["probs"] = probs = named(softmax(scores), "probs", nudge)
    loss = cross_entropy(probs, y) + reg * (tflc.sum(p["W1"] * p["W1"])
                                            + tflc.sum(p["W2"] * p["W2"]))
    loss.name = "loss"
    return loss, tensors


_traced_loss = tflc.jit(tflc.value_and_grad(lambda p, X, y, reg: loss_tensors(p, X, y, reg)[0]))


# --- the seed's hand-derived version -----------------------------------------------------------
def manual_scores(params, X):
    """The seed's forward pass up to the scores."""
    s1 = np.dot(X, params["W1"]) + params["b1"]  # (N, H)
    s1_relu = (s1 > 0) * s1
    return np.dot(s1_relu, params["W2"]) + params["b2"]


def manual_loss(params, X, y, reg=0.0, intermediates=False):
    """The seed's forward and hand-derived backward. Returns (loss, grads): grads holds the
    parameters' gradients and, with `intermediates` (for `compare_gradients`), those of
    "scores", "hidden" and "hidden_pre" (the seed's ds2, ds1 before and after the ReLU mask,
    over N). Without them it is exactly the seed's step, the baseline `tflc bench` times."""
    W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
    N = X.shape[0]
    s1 = np.dot(X, W1) + b1  # (N, H)
    s1_relu = (s1 > 0) * s1
    scores = np.dot(s1_relu, W2) + b2

    # the loss, as for the softmax classifier
    scores -= np.max(scores, axis=1, keepdims=True)  # prevents exp overflow
    scores = np.exp(scores)
    scores /= np.sum(scores, axis=1, keepdims=True)  # softmax: q
    loss = -np.log(scores[np.arange(N), y]).sum()
    loss /= N
    loss += reg * np.sum(W1 * W1)
    loss += reg * np.sum(W2 * W2)

    # backward: ds2 is dL/ds2 and ds1 dL/ds1, both still without the 1/N (divided at the end)
    grads = {}
    ds2 = np.copy(scores)
    ds2[np.arange(N), y] -= 1  # q - 1 at the labels
    grads["W2"] = np.dot(s1_relu.T, ds2) / N + 2 * reg * W2
    grads["b2"] = np.sum(ds2, axis=0) / N  # b2 was broadcast over the N rows: sum them
    ds1 = np.dot(ds2, W2.T)
    if intermediates:
        grads["scores"], grads["hidden"] = ds2 / N, ds1 / N
    ds1 = (s1 > 0) * ds1  # the ReLU passes gradient only where its input was positive
    if intermediates:
        grads["hidden_pre"] = ds1 / N
    grads["W1"] = np.dot(X.T, ds1) / N + 2 * reg * W1
    grads["b1"] = np.sum(ds1, axis=0) / N
    return float(loss), grads
