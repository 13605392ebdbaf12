"""The softmax classifier three ways, with cs231n's signatures `(W, X, y, reg) -> (loss, dW)`:

- `softmax_loss`: built from engine primitives; dW comes from a GradientTape.
- `softmax_loss_vectorized`: the seed's hand derivation, dW = X^T (q - 1_y) / N + 2 reg W.
- `softmax_loss_naive`: explicit loops over samples and classes.

W is (D, C), X is (N, D), y is (N,) integer labels in 0..C-1; loss is a Python float and dW an
array in W's dtype. Every entry point checks its inputs first (`models._checks`): bad labels, an X
that does not fit W, an empty batch or a negative reg are a ValueError (TypeError for a wrong
type) naming the argument. Loss = mean over samples of -log softmax(X W)[y] + reg * sum(W * W).

Named tensors (what `forward_tensors` returns, what `compare_gradients` and the graph drawings
show): "W" (D, C) the weights, "scores" = X @ W (N, C), "probs" = softmax(scores) (N, C), and
the scalar "loss".
"""
import numpy as np

import tensorflowlite_clone as tflc
from tensorflowlite_clone.app.checkpoint import check_shapes, checked_sizes, load_checkpoint, save_checkpoint
from tensorflowlite_clone.app.training import fit
from tensorflowlite_clone.optim import SGD

from ._checks import check_batch, check_count, check_X


def _checked(W, X, y, reg):
    """(X, y) checked against the weights W (D, C), for a loss."""
    if np.ndim(W) != 2:
        raise ValueError(f"W must be a 2-D array of shape (D, C), got shape {np.shape(W)}")
    return check_batch(X, y, reg, W, "W", np.shape(W)[1])


# --- built from engine primitives ---------------------------------------------------------------
def softmax(scores):
    """Row-wise softmax. The row max is subtracted so exp cannot overflow; it enters as a
    constant (stop_gradient): softmax ignores a shift of a row, so the true gradient through the
    max is zero anyway, and stopping it spares the sweep that branch and its rounding noise.
    The max is taken of the stopped scores, so the tape does not even record it."""
    shifted = scores - tflc.max(tflc.stop_gradient(scores), axis=1, keepdims=True)
    e = tflc.exp(shifted)
    return e / tflc.sum(e, axis=1, keepdims=True)


def cross_entropy(probs, y):
    """Mean over samples of -log(probability of the correct class)."""
    return -tflc.mean(tflc.log(probs[np.arange(len(y)), y]))


def named(tensor, name, nudge=None):
    """Give an intermediate tensor its name; if `nudge` (name -> array, from finite-difference
    checks) has an entry for it, that array is added first."""
    if nudge and name in nudge:
        tensor = tensor + nudge[name]
    tensor.name = name
    return tensor


def softmax_tensors(W, X, y, reg, nudge=None):
    """The loss Tensor and the named tensors {"W", "scores", "probs"} (forward order).
    W should be watched (a Variable is); `nudge` is for finite differences of intermediates.
    The inputs are not checked here: the callers (`softmax_loss`, `forward_tensors`) do it."""
    scores = named(tflc.matmul(X, W), "scores", nudge)
    probs = named(softmax(scores), "probs", nudge)
    loss = cross_entropy(probs, y) + reg * tflc.sum(W * W)
    loss.name = "loss"
    return loss, {"W": W, "scores": scores, "probs": probs}


def softmax_loss(W, X, y, reg):
    """Softmax loss and gradient, the gradient by reverse-mode autodiff."""
    X, y = _checked(W, X, y, reg)
    W_t = tflc.Tensor(W, name="W")  # wraps W without copying; watched below
    with tflc.GradientTape() as tape:
        tape.watch(W_t)
        loss, _ = softmax_tensors(W_t, X, y, reg)
    return float(loss), tape.gradient(loss, W_t).numpy()


_traced_loss = tflc.jit(tflc.value_and_grad(lambda W, X, y, reg: softmax_tensors(W, X, y, reg)[0]))


def softmax_loss_traced(W, X, y, reg):
    """`softmax_loss` recorded once per batch shape and replayed (`tflc.jit` of
    `value_and_grad`): the same numbers, without the tape's per-op cost."""
    X, y = _checked(W, X, y, reg)
    loss, dW = _traced_loss(W, X, y, reg)
    return float(loss), dW.numpy()


# --- hand-derived, as the seed writes it ---------------------------------------------------------
def _softmax_seed(W, X, y, reg):
    """The seed's vectorized code; also returns ds = dL/dS * N, the gradient of the scores
    before the division by N (the seed divides dW by N at the end, see its eq. (5))."""
    loss = 0.0
    dW = np.zeros_like(W)
    num_train = X.shape[0]
    scores = X.dot(W)  # N*C
    # keepdims=True keeps the max (N, 1) so it broadcasts; subtracting it prevents exp overflow
    scores -= np.max(scores, axis=1, keepdims=True)
    scores = np.exp(scores)
    scores /= np.sum(scores, axis=1, keepdims=True)  # softmax: q
    # ds is L's derivative with respect to S, still without the 1/N: q - 1 at the labels
    ds = np.copy(scores)
    ds[np.arange(num_train), y] -= 1
    dW = np.dot(X.T, ds)
    loss = scores[np.arange(num_train), y]
    loss = -np.log(loss).sum()  # sum of the L_i
    loss /= num_train
    dW /= num_train  # ds was not divided by N, so do it here (eq. (5))
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW.astype(W.dtype, copy=False), ds


def softmax_loss_vectorized(W, X, y, reg):
    """Softmax loss and gradient, hand-derived and vectorized exactly as the seed does it."""
    X, y = _checked(W, X, y, reg)
    loss, dW, _ = _softmax_seed(W, X, y, reg)
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax loss and gradient with explicit loops over samples and classes."""
    X, y = _checked(W, X, y, reg)
    loss = 0.0
    dW = np.zeros_like(W)
    num_train, num_class = X.shape[0], W.shape[1]
    for i in range(num_train):
        scores = X[i].dot(W)
        scores -= np.max(scores)  # stability: softmax ignores the shift
        q = np.exp(scores) / np.sum(np.exp(scores))
        loss += -np.log(q[y[i]])
        for j in range(num_class):
            # dL_i/dW[:, j] = (q_j - 1{j == y_i}) x_i: one column of the seed's eq. (5)
            dW[:, j] += (q[j] - (j == y[i])) * X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * np.sum(W * W)
    dW += 2 * reg * W
    return float(loss), dW


_LOSSES = {"autodiff": softmax_loss, "traced": softmax_loss_traced, "manual": softmax_loss_vectorized,
           "naive": softmax_loss_naive}


# --- the classifier ----------------------------------------------------------------------------
class Softmax:
    """A linear softmax classifier (cs231n's LinearClassifier). W (D, C) is created on the first
    `train` as 0.001 * np.random.randn(D, C) (NumPy's global generator), in X's float dtype."""

    def __init__(self, W=None):
        self.W = W

    @property
    def params(self):
        """{"W": W}, the array itself (so in-place perturbations reach the model)."""
        return {"W": self._weights()}

    def _weights(self):
        if self.W is None:
            raise ValueError("Softmax: W is not initialised yet; call train first or pass W")
        return self.W

    def loss(self, X, y, reg=0.0, method="autodiff"):
        """(loss, dW) on a batch; method "autodiff" (the tape), "traced" (the tape's ops compiled
        by tflc.jit), "manual" (the seed's) or "naive"."""
        if method not in _LOSSES:
            raise ValueError(f"Softmax.loss: method must be one of {list(_LOSSES)}, got {method!r}")
        return _LOSSES[method](self._weights(), X, y, reg)

    def train(self, X, y, learning_rate=1e-3, reg=1e-5, num_iters=100, batch_size=200,
              verbose=False, method="traced"):
        """Minibatch SGD (batches drawn with replacement, as cs231n's LinearClassifier); returns
        the loss of every iteration. The gradients come from the compiled tape ("traced", the
        same numbers as "autodiff", which runs the tape eagerly, for debugging). Without W yet,
        the number of classes is the largest label + 1. learning_rate must be a finite number
        >= 0 (SGD's check, before W is created)."""
        X, y = check_batch(X, y, reg, self.W, "W", None if self.W is None else self.W.shape[1])
        check_count(num_iters, "num_iters", allow_zero=True)
        check_count(batch_size, "batch_size")
        optimizer = SGD(learning_rate)  # W -= learning_rate * dW, as cs231n
        if self.W is None:
            W = 0.001 * np.random.randn(X.shape[1], int(np.max(y)) + 1)
            self.W = W.astype(X.dtype) if X.dtype.kind == "f" else W

        def loss_and_grads(X_batch, y_batch):
            loss, dW = self.loss(X_batch, y_batch, reg, method)
            return loss, {"W": dW}

        return fit(self, X, y, loss_and_grads, optimizer=optimizer, num_iters=num_iters,
                   batch_size=batch_size, verbose=verbose)["loss_history"]

    def predict(self, X):
        W = self._weights()
        return np.argmax(check_X(X, W).dot(W), axis=1)

    # --- checkpoints ---
    KIND = "softmax"

    def save(self, path, metadata=None, mean_image=None):
        """Write W to `path` (.npz, no pickle, atomic) with its sizes and `metadata` (JSON-able:
        hyperparameters, data spec, preprocessing). `mean_image` (D,), the training mean the
        inputs had subtracted, is stored as an array. Returns the Path written."""
        W = self._weights()
        arrays = {"W": W} if mean_image is None else {"W": W, "mean_image": mean_image}
        sizes = {"input_size": W.shape[0], "num_classes": W.shape[1]}
        return save_checkpoint(path, arrays, {"kind": self.KIND, "sizes": sizes,
                                              "metadata": metadata or {}})

    @classmethod
    def load(cls, path):
        """A classifier from a checkpoint written by `save`, its shapes checked against the stored
        sizes (CheckpointError if corrupt or mismatched). It gets two more attributes: `metadata`
        (the dict given to `save`) and `mean_image` (array or None)."""
        arrays, header = load_checkpoint(path, kind=cls.KIND)
        D, C = checked_sizes(path, header, ("input_size", "num_classes"))
        expected = {"W": (D, C)}
        if "mean_image" in arrays:
            expected["mean_image"] = (D,)
        check_shapes(path, arrays, expected)
        model = cls(arrays["W"])
        model.metadata, model.mean_image = header.get("metadata", {}), arrays.get("mean_image")
        return model

    # --- hooks for tensorflowlite_clone.gradcheck.compare_gradients ---
    def forward_tensors(self, X, y, reg=0.0, nudge=None):
        """(loss Tensor, {"W", "scores", "probs"}) from primitives, reading self.W afresh."""
        W = self._weights()
        X, y = _checked(W, X, y, reg)
        return softmax_tensors(tflc.Variable(W, name="W", copy=False), X, y, reg, nudge)

    @staticmethod
    def hand_derived_gradients(params, X, y, reg=0.0):
        """The seed's gradients by name: "W" and "scores" (= ds / N)."""
        X, y = _checked(params["W"], X, y, reg)
        _, dW, ds = _softmax_seed(params["W"], X, y, reg)
        return {"W": dW, "scores": ds / X.shape[0]}
