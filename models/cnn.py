"""cs231n assignment 2's ThreeLayerConvNet: conv - relu - 2x2 max pool - affine - relu - affine -
softmax, with cs231n's names, signature, parameter dict and random draws.

    model = ThreeLayerConvNet(input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                              num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32)
    scores = model.loss(X)                          # y None: (N, num_classes) scores
    loss, grads = model.loss(X, y)                  # grads from the tape (the default)
    loss, grads = model.loss(X, y, method="manual")  # grads from the hand-derived layers

The network, for X (N, C, H, W), F filters of size fs, pad P = (fs - 1) // 2, stride 1 (so the
convolution keeps H x W), a 2x2 max pool with stride 2 (halving H and W):

    a1 = conv(X, W1, b1)            (N, F, H, W)        named "relu1.x"   (the ReLU's input)
    s1 = max(0, a1)                 (N, F, H, W)        named "pool1.x"   (the pool's input)
    p1 = maxpool_2x2(s1)            (N, F, H/2, W/2)    named "affine2.x"
    a2 = p1.reshape(N, -1) W2 + b2  (N, hidden)         named "relu2.x"
    h2 = max(0, a2)                 (N, hidden)         named "affine3.x"
    scores = h2 W3 + b3             (N, num_classes)    named "scores"
    loss = -(1/N) sum_i log softmax(scores_i)[y_i] + 0.5 reg (|W1|^2 + |W2|^2 + |W3|^2)

Each intermediate is named by the layer that consumes it. The gradients of the regulariser are
reg * W (cs231n's 0.5 convention), the biases are not regularised.

Parameters (cs231n's): W1 (F, C, fs, fs), b1 (F,), W2 (F * H/2 * W/2, hidden), b2 (hidden,),
W3 (hidden, num_classes), b3 (num_classes,); the weights drawn `weight_scale * np.random.randn`
from NumPy's global generator in the order W1, W2, W3, the biases zeros, all cast to `dtype`.

Three independent computations of the gradients, which the tests show equal:
- "autodiff" (`forward_tensors`): the forward pass from models/engine_layers.py
  (tflc.nn.conv2d, relu, tflc.nn.max_pool2d, affine, softmax_loss) on a GradientTape; `loss`'s
  default, "traced", is the same tape's ops compiled by `tflc.jit` (recorded once per batch
  shape, replayed: about half the time of a digits batch, the same numbers bit for bit);
- "manual" (`loss(..., method="manual")`): cs231n's path through the sandwich layers of
  models/layer_utils.py, conv_relu_pool_forward_naive / affine_relu_forward / affine_forward and
  their backwards. The *naive* conv and pool layers are used on purpose: the fast ones take their
  backward pass from the engine's tape, so "manual == autodiff" would partly compare the engine
  with itself. The naive layers loop over output positions: about 3x slower than the tape (a
  CIFAR-sized batch of 50 with the default net, loss and gradients: 0.20 s by hand, 0.06 s on the
  tape, CPU time with one BLAS thread), fine for checks; training uses "autodiff";
- `hand_derived_gradients`: the single hand-derived layers of models/layers.py, with the
  gradients of every named intermediate too, for `tensorflowlite_clone.gradcheck.compare_gradients`.

Max pooling after a ReLU has ties: a window whose four inputs are all <= 0 has the maximum 0 four
times. layers.max_pool_backward_naive sends that window's gradient to the first entry, the
engine splits it evenly (and a central difference sees 1/2): the gradients of "pool1.x" differ
there, yet every parameter's gradient is the same, because the ReLU's mask zeroes them all. So
`hand_derived_gradients` leaves "pool1.x" out for a batch with a tie, and `tied_pool_windows(X)`
counts them: check "pool1.x" (central differences included) on a batch with none. (For the same reason the
first ReLU's mask is 1 wherever the pool sends a gradient, except at those tied zeros: a
derivation that forgets it gets the same numbers there.)

Drawing: `viz.draw_graph(tape, loss, inputs={"X": X, "y": y})` on a persistent tape around
`forward_tensors` shows the engine's ops (the convolution as reshape / matmul / transpose / add,
the pool as windows / max) with the intermediates' names; `collapse=layer_groups(tensors)` draws
the convolution and the pool as one box each.

Input checks: X must be a 4-D array (N, C, H, W) of real numbers matching `input_dim`; y must
be N integer labels in 0..num_classes-1 (and N >= 1 when there are labels); method must be
"traced", "autodiff" or "manual"; reg a finite non-negative number. Otherwise a ValueError (TypeError for
a wrong type) names the argument. X is cast to the model's dtype, so the gradients are in it.
"""

import numpy as np

import tensorflowlite_clone as tflc

from . import engine_layers as E
from . import layer_utils, layers
from ._checks import check_count, check_float_dtype, check_labels, check_real, check_reg
from .softmax import named

__all__ = ["ThreeLayerConvNet", "layer_groups", "DIGITS_SETTINGS", "CIFAR_SETTINGS"]

#: Settings that train the net on the bundled 8x8 digits (`tensorflowlite_clone.app.data.load(
#: "digits", seed=0)`, images `X.reshape(-1, 1, 8, 8)`) to at least 98% test accuracy (177 of
#: the 180 test images) from `np.random.seed(s)` for each s in 0..4: 178, 178, 178, 177, 177
#: (the same in float64; tests/test_cnn.py checks seed 0). That is this net's level, not a
#: margin: seeds 5..9 give 178, 176, 178, 176, 177. About 5 s of CPU on one BLAS thread.
#:     model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_classes=10, **DIGITS_SETTINGS["model"])
#:     Solver(model, data, **DIGITS_SETTINGS["solver"], verbose=False).train()
DIGITS_SETTINGS = {
    "model": {"num_filters": 64, "filter_size": 7, "hidden_dim": 200, "weight_scale": 0.1,
              "reg": 1e-3, "dtype": "float32"},
    "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 3e-3}, "lr_decay": 0.9,
               "batch_size": 50, "num_epochs": 25},
}

#: cs231n's ConvolutionalNetworks notebook, "Train the net" on CIFAR-10 (one epoch, above 40%
#: training accuracy; the notebook prints train 0.504, val 0.499):
#:     ThreeLayerConvNet(**CIFAR_SETTINGS["model"]); Solver(model, data, **CIFAR_SETTINGS["solver"])
CIFAR_SETTINGS = {
    "model": {"num_filters": 32, "filter_size": 7, "hidden_dim": 500, "weight_scale": 1e-3,
              "reg": 1e-3},
    "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "batch_size": 50,
               "num_epochs": 1, "print_every": 20},
}

METHODS = ("traced", "autodiff", "manual")


def _input_dim(input_dim, filter_size):
    """input_dim as a tuple (C, H, W) of positive integers with H and W even."""
    if isinstance(input_dim, (str, bytes)) or not hasattr(input_dim, "__len__") or len(input_dim) != 3:
        raise ValueError(f"input_dim must be 3 positive integers (C, H, W), got {input_dim!r}")
    C, H, W = (check_count(size, f"input_dim[{i}]") for i, size in enumerate(input_dim))
    if H % 2 or W % 2:
        # the same-size convolution keeps H x W, and the 2x2 pool with stride 2 must tile it
        raise ValueError(f"input_dim: H and W must be even (the 2x2 max pool halves the "
                         f"{filter_size}x{filter_size} same-size convolution's H x W), got "
                         f"H={H}, W={W}")
    return C, H, W


class ThreeLayerConvNet:
    """cs231n's three-layer convolutional network; see the module docstring.

    `params` holds W1, b1, W2, b2, W3, b3 (NumPy arrays in `dtype`); `reg` is read by `loss` on
    every call, so `model.reg = 0.5` changes it (as the notebook does).

    Requirements (ValueError / TypeError naming the argument otherwise): input_dim is 3 positive
    integers (C, H, W) with H and W even; num_filters, hidden_dim and num_classes are positive
    integers; filter_size is a positive odd integer (pad (filter_size - 1) // 2 then keeps the
    size); weight_scale is a finite positive number; reg a finite non-negative number; dtype a
    floating-point dtype.
    """

    PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")
    INTERMEDIATES = ("relu1.x", "pool1.x", "affine2.x", "relu2.x", "affine3.x", "scores")

    def __init__(self, input_dim=(3, 32, 32), num_filters=32, filter_size=7, hidden_dim=100,
                 num_classes=10, weight_scale=1e-3, reg=0.0, dtype=np.float32):
        filter_size = check_count(filter_size, "filter_size")
        if filter_size % 2 == 0:
            raise ValueError(f"filter_size must be odd (a same-size convolution pads "
                             f"(filter_size - 1) // 2 on each side), got {filter_size}")
        C, H, W = _input_dim(input_dim, filter_size)
        F = check_count(num_filters, "num_filters")
        hidden_dim = check_count(hidden_dim, "hidden_dim")
        num_classes = check_count(num_classes, "num_classes")
        weight_scale = check_real(weight_scale, "weight_scale", low_open=True)
        self.reg = check_reg(reg)
        self.dtype = check_float_dtype(dtype).type
        self.input_dim = (C, H, W)
        self.num_filters, self.filter_size = F, filter_size
        self.hidden_dim, self.num_classes, self.weight_scale = hidden_dim, num_classes, weight_scale
        self.conv_param = {"stride": 1, "pad": (filter_size - 1) // 2}
        self.pool_param = {"pool_height": 2, "pool_width": 2, "stride": 2}

        # cs231n's draws from the global generator: W1, then W2, then W3
        self.params = {}
        self.params["W1"] = weight_scale * np.random.randn(F, C, filter_size, filter_size)
        self.params["b1"] = np.zeros(F)
        self.params["W2"] = weight_scale * np.random.randn(F * (H // 2) * (W // 2), hidden_dim)
        self.params["b2"] = np.zeros(hidden_dim)
        self.params["W3"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b3"] = np.zeros(num_classes)
        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def config(self):
        """The constructor's arguments as JSON-able values (input_dim a list, dtype a string):
        `ThreeLayerConvNet(**model.config())` rebuilds the architecture (new random weights)."""
        return {"input_dim": list(self.input_dim), "num_filters": self.num_filters,
                "filter_size": self.filter_size, "hidden_dim": self.hidden_dim,
                "num_classes": self.num_classes, "weight_scale": self.weight_scale,
                "reg": float(self.reg), "dtype": np.dtype(self.dtype).name}

    # --- input checks --------------------------------------------------------------------------
    def _check_X(self, X):
        """X as a 4-D array (N, C, H, W) of real numbers matching input_dim, in the model's dtype."""
        if isinstance(X, tflc.Tensor):
            X = X.numpy()
        try:
            X = np.asarray(X)
        except ValueError:  # a ragged list
            raise ValueError("X must be an array (N, C, H, W), got a ragged sequence") from None
        if X.dtype.kind not in "biuf":
            raise TypeError(f"X must be an array of real numbers, got dtype {X.dtype}")
        if X.ndim != 4 or X.shape[1:] != self.input_dim:
            raise ValueError(f"X must be a 4-D array of shape (N, {', '.join(map(str, self.input_dim))}) "
                             f"to match input_dim {self.input_dim}, got shape {X.shape}")
        return X.astype(self.dtype, copy=False)

    def _checked(self, X, y, reg):
        """(X, y, reg) checked; y None (scores wanted) stays None; reg None means self.reg."""
        X = self._check_X(X)
        reg = float(check_reg(self.reg if reg is None else reg))
        if y is None:
            return X, None, reg
        if X.shape[0] == 0:
            raise ValueError("empty batch: X has 0 rows")
        return X, check_labels(y, X.shape[0], self.num_classes), reg

    # --- the autodiff path ---------------------------------------------------------------------
    def _variables(self):
        # no copies: the tape reads self.params as they are (finite differences nudge them)
        return {name: tflc.Variable(self.params[name], name=name, copy=False) for name in self.PARAMS}

    def forward_tensors(self, X, y=None, reg=None, nudge=None):
        """The forward pass from engine ops (models/engine_layers.py), reading self.params afresh.

        Returns (loss, tensors): `tensors` maps "W1", "b1", "relu1.x", "pool1.x", "affine2.x",
        "W2", "b2", "relu2.x", "affine3.x", "W3", "b3", "scores" to Tensors in forward order (the
        parameters as fresh Variables, so a surrounding tape watches them). With y None, loss is
        None. reg None means self.reg. `nudge` (name -> array added to that intermediate) is how
        finite differences reach the intermediates (`compare_gradients`).
        """
        X, y, reg = self._checked(X, y, reg)
        return self._forward(self._variables(), X, y, reg, nudge)

    def _forward(self, p, X, y=None, reg=0.0, nudge=None):
        """`forward_tensors` on checked inputs and the parameter tensors p."""
        return _engine_forward(p, X, y, reg, self.conv_param, self.pool_param, nudge)

    def loss(self, X, y=None, method="traced"):
        """Scores (N, num_classes) if y is None, else (loss, grads): loss a float, grads keyed and
        typed like params, with the regulariser 0.5 * self.reg * sum of the squared weights.
        method: "traced" (the default: the tape's ops compiled by tflc.jit, recorded once per
        batch shape; the same numbers as "autodiff", which runs the tape eagerly) or "manual"
        (the hand-derived sandwich layers)."""
        if method not in METHODS:
            raise ValueError(f"ThreeLayerConvNet.loss: method must be one of {', '.join(METHODS)}, "
                             f"got {method!r}")
        X, y, reg = self._checked(X, y, None)
        if method == "manual":
            return self._manual(self.params, X, y, reg)
        if y is None:  # no tape: nothing is recorded
            return self._forward(self._variables(), X)[1]["scores"].numpy()
        if method == "traced":
            loss, grads = _traced_loss(self.params, X, y, reg, tuple(self.conv_param.items()),
                                       tuple(self.pool_param.items()))
            return float(loss), {k: g.numpy().astype(self.params[k].dtype, copy=False)
                                 for k, g in grads.items()}
        with tflc.GradientTape() as tape:
            loss, tensors = self._forward(self._variables(), X, y, reg)
        params = [tensors[k] for k in self.PARAMS]
        del tensors  # the intermediates: the sweep frees each once no VJP reads it
        grads = tape.gradient(loss, params)
        return float(loss), {k: g.numpy().astype(self.params[k].dtype, copy=False)
                             for k, g in zip(self.PARAMS, grads)}

    # --- cs231n's hand-derived path ------------------------------------------------------------
    def _manual(self, params, X, y, reg):
        """cs231n's loss through the sandwich layers (naive conv and pool: no tape anywhere)."""
        W1, b1, W2, b2, W3, b3 = (params[k] for k in self.PARAMS)
        p1, cache1 = layer_utils.conv_relu_pool_forward_naive(X, W1, b1, self.conv_param, self.pool_param)
        h2, cache2 = layer_utils.affine_relu_forward(p1, W2, b2)
        scores, cache3 = layers.affine_forward(h2, W3, b3)
        if y is None:
            return scores
        data_loss, dscores = layers.softmax_loss(scores, y)
        loss = data_loss + 0.5 * reg * (np.sum(W1 * W1) + np.sum(W2 * W2) + np.sum(W3 * W3))
        grads = {}
        dh2, grads["W3"], grads["b3"] = layers.affine_backward(dscores, cache3)
        dp1, grads["W2"], grads["b2"] = layer_utils.affine_relu_backward(dh2, cache2)
        _, grads["W1"], grads["b1"] = layer_utils.conv_relu_pool_backward_naive(dp1, cache1)
        for k in ("W1", "W2", "W3"):
            grads[k] = grads[k] + reg * params[k]  # d(0.5 reg |W|^2) / dW
        return float(loss), {k: grads[k].astype(params[k].dtype, copy=False) for k in self.PARAMS}

    def hand_derived_gradients(self, params, X, y, reg=None):
        """The gradients of the loss by hand, one layer of models/layers.py at a time, for the
        parameters and every named intermediate (the default `hand_derived` of
        `compare_gradients`). params: W1 .. b3 (arrays); reg None means self.reg.

        "pool1.x" is left out when a pool window of this batch has a tied maximum (`_ties`):
        there the hand-derived backward and the engine pick different subgradients (module
        docstring), so that row would disagree without anything being wrong; the rows before and
        after it are still compared."""
        X, y, reg = self._checked(X, y, reg)
        if y is None:
            raise ValueError("hand_derived_gradients: y must be the labels, got None")
        W1, b1, W2, b2, W3, b3 = (params[k] for k in self.PARAMS)
        # looked up on the module at call time, so a test can swap in a broken layer
        a1, conv_cache = layers.conv_forward_naive(X, W1, b1, self.conv_param)
        s1, relu1_cache = layers.relu_forward(a1)
        p1, pool_cache = layers.max_pool_forward_naive(s1, self.pool_param)
        a2, fc2_cache = layers.affine_forward(p1, W2, b2)
        h2, relu2_cache = layers.relu_forward(a2)
        scores, fc3_cache = layers.affine_forward(h2, W3, b3)
        _, dscores = layers.softmax_loss(scores, y)

        g = {"scores": dscores}
        g["affine3.x"], g["W3"], g["b3"] = layers.affine_backward(dscores, fc3_cache)
        g["relu2.x"] = layers.relu_backward(g["affine3.x"], relu2_cache)
        g["affine2.x"], g["W2"], g["b2"] = layers.affine_backward(g["relu2.x"], fc2_cache)
        g["pool1.x"] = layers.max_pool_backward_naive(g["affine2.x"], pool_cache)
        g["relu1.x"] = layers.relu_backward(g["pool1.x"], relu1_cache)
        _, g["W1"], g["b1"] = layers.conv_backward_naive(g["relu1.x"], conv_cache)
        for k in ("W1", "W2", "W3"):
            g[k] = g[k] + reg * params[k]
        if _ties(s1):
            del g["pool1.x"]
        return g

    def tied_pool_windows(self, X):
        """How many 2x2 pool windows of the batch X have a tied maximum (after the ReLU: those
        whose four conv outputs are all <= 0). Where there are any, the gradients of "pool1.x"
        are not defined (hand-derived, engine and central differences each give another
        subgradient); a gradient check of the intermediates wants a batch with none."""
        X = self._check_X(X)
        a1 = E.conv(X, self.params["W1"], self.params["b1"], self.conv_param)
        return _ties(np.asarray(E.relu(a1)))


def _ties(s1):
    """The number of 2x2, stride-2 windows of s1 (N, F, H, W) whose maximum occurs more than once."""
    N, F, H, W = s1.shape
    windows = s1.reshape(N, F, H // 2, 2, W // 2, 2)
    top = windows.max(axis=(3, 5), keepdims=True)
    return int(np.count_nonzero((windows == top).sum(axis=(3, 5)) > 1))


def _engine_forward(p, X, y, reg, conv_param, pool_param, nudge=None):
    """The forward pass from engine layers on the parameter tensors p: (loss or None, the named
    tensors in forward order)."""
    a1 = named(E.conv(X, p["W1"], p["b1"], conv_param), "relu1.x", nudge)
    s1 = named(E.relu(a1), "pool1.x", nudge)
    p1 = named(E.max_pool(s1, pool_param), "affine2.x", nudge)
    a2 = named(E.affine(p1, p["W2"], p["b2"]), "relu2.x", nudge)
    h2 = named(E.relu(a2), "affine3.x", nudge)
    scores = named(E.affine(h2, p["W3"], p["b3"]), "scores", nudge)
    tensors = {"W1": p["W1"], "b1": p["b1"], "relu1.x": a1, "pool1.x": s1, "affine2.x": p1,
               "W2": p["W2"], "b2": p["b2"], "relu2.x": a2, "affine3.x": h2,
               "W3": p["W3"], "b3": p["b3"], "scores": scores}
    if y is None:
        return None, tensors
    squares = sum(tflc.sum(p[k] * p[k]) for k in ("W1", "W2", "W3"))
    loss = E.softmax_loss(scores, y) + 0.5 * reg * squares
    loss.name = "loss"
    return loss, tensors


# the loss's value and gradients, compiled (the conv and pool parameters as items: static values)
_traced_loss = tflc.jit(tflc.value_and_grad(
    lambda p, X, y, reg, conv, pool: _engine_forward(p, X, y, reg, dict(conv), dict(pool))[0]))


def layer_groups(tensors):
    """`collapse=` for `viz.draw_graph`: the convolution and the max pool of `forward_tensors`'s
    `tensors` as one box each (the engine composes them of reshape, matmul, windows and max):

        with tflc.GradientTape(persistent=True) as tape:
            loss, tensors = model.forward_tensors(X, y)
        viz.draw_graph(tape, loss, inputs={"X": X, "y": y}, collapse=layer_groups(tensors))
    """
    return {"conv (tflc.nn.conv2d)": ([tensors["W1"], tensors["b1"]], tensors["relu1.x"]),
            "2x2 max pool (tflc.nn.max_pool2d)": (tensors["pool1.x"], tensors["affine2.x"])}
