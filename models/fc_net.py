"""cs231n assignment 2's fully connected networks (`fc_net.py`, the 2019+ interface):
`TwoLayerNet` and `FullyConnectedNet`, each with two independent gradient paths.

    {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

- method="autodiff": the forward pass composed of `models.engine_layers` (engine ops) under a
  `tflc.GradientTape`; the gradients come from the tape. The default, "traced", is the same
  tape's step compiled by `tflc.jit` (`_train_step`), the side effects moved out of it as
  jax.jit's users move them: dropout's masks are drawn before the step, with cs231n's calls in
  cs231n's order, and passed in; batchnorm's inputs come out, and the running averages are
  updated from them afterwards with layers.batchnorm_forward's NumPy. The loss, the running
  averages and the random draws are the eager tape's exactly; the gradients too with batchnorm
  (compiled with `exact`), and to rounding without it (the passes simplify the adjoint). The
  test-mode scores (`loss(X)`) are compiled as well (`_scores`, the running averages passed in),
  bit for bit the eager tape's.
- method="manual": cs231n's path, the hand-derived layers of `models.layers`: every
  `*_forward` keeps its cache and the `*_backward` passes run in reverse order.

The loss is the softmax loss of the scores plus L2 regularisation of the weights, cs231n's

    loss = -(1/N) sum_i log softmax(scores_i)[y_i] + 0.5 * reg * sum_l sum(W_l * W_l),
    dW_l += reg * W_l                                 (biases, gammas and betas unregularised)

Both paths draw dropout's masks alike (`(np.random.rand(*x.shape) < p) / p` from NumPy's global
generator, after np.random.seed(seed) at every dropout layer when the net has a seed), and both
update batchnorm's running averages in train mode, so in float64 their gradients agree to
rounding (1e-8 is asserted), dropout included when the net has a seed.

Named tensors (`forward_tensors`, for `tensorflowlite_clone.gradcheck.compare_gradients`), in
forward order; each intermediate is named after the layer that consumes it, "<layer><i>.x":

    W1, b1, [batchnorm1.x | layernorm1.x, gamma1, beta1], relu1.x, [dropout1.x],
    affine2.x, W2, b2, ..., affine<L>.x, W<L>, b<L>, scores

("batchnorm1.x" is affine1's output, "relu1.x" the normalisation's, "dropout1.x" the ReLU's,
"affine2.x" what enters the second affine layer, "scores" the last affine layer's output).
`hand_derived_gradients` gives the hand-derived gradient of each of those names, so a wrong step
of the derivation is named by `compare_gradients(...).first_disagreement`: a batchnorm backward
that forgets the path through the batch mean shows up first at "batchnorm1.x". The hand path
calls the layers through the module (`layers.batchnorm_backward(...)`), so a test can patch one.

Inputs are checked before any math: X (N, d_1, ..., d_k) of real numbers whose rows have
input_dim entries, labels N integers in 0..C-1, a non-empty batch when labels are given, reg
finite and non-negative; otherwise a ValueError (TypeError for a wrong type) names the argument.

`DIGITS_SETTINGS` trains a batchnorm + dropout net on the bundled 8x8 digits to >= 97.5% test
accuracy with the Solver; `CIFAR_SETTINGS` are cs231n's notebook settings for CIFAR-10.
"""
import copy
import math

import numpy as np

import tensorflowlite_clone as tflc

from . import engine_layers as E
from . import layers
from ._checks import check_count, check_float_dtype, check_labels, check_real, check_reg
from .softmax import named

NORMALIZATIONS = ("batchnorm", "layernorm")
METHODS = ("traced", "autodiff", "manual")

# Solver settings for FullyConnectedNet(input_dim=64, num_classes=10, **DIGITS_SETTINGS["model"])
# on tensorflowlite_clone.app.data.load("digits", seed=0), batch normalisation and dropout: after
# np.random.seed(s) for s = 0..4 the test accuracy is 178, 178, 177, 178, 177 of the 180 images
# (>= 97.5% asks for 176), about 2 s each on one core. Seeds 5..9 give 177, 176, 175, 176, 177: the last two
# or three test images are where the seeds differ.
DIGITS_SETTINGS = {
    "model": {"hidden_dims": [128, 64], "normalization": "batchnorm", "dropout_keep_ratio": 0.8,
              "weight_scale": 5e-2, "reg": 1e-3, "dtype": "float64"},
    "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "lr_decay": 0.9,
               "batch_size": 50, "num_epochs": 30},
}

# cs231n's settings for CIFAR-10 (3072 inputs, 10 classes), from the BatchNormalization notebook
# (assignment 2, 2019+): the six-layer net trained on the first 1000 training images, "with
# batchnorm" (the notebook trains the same net with normalization=None beside it, and with
# "layernorm" in its layer-normalisation section). Not run here: there is no CIFAR-10 on this
# machine.
CIFAR_SETTINGS = {
    "model": {"hidden_dims": [100, 100, 100, 100, 100], "weight_scale": 2e-2,
              "normalization": "batchnorm"},
    "solver": {"update_rule": "adam", "optim_config": {"learning_rate": 1e-3}, "num_epochs": 10,
               "batch_size": 50, "print_every": 20},
}


# --- argument checks ---------------------------------------------------------------------------
def _check_method(caller, method):
    if method not in METHODS:
        raise ValueError(f"{caller}: method must be one of {', '.join(METHODS)}, got {method!r}")


class _AffineNet:
    """What TwoLayerNet and FullyConnectedNet share: the two paths, the named tensors, the input
    checks. A subclass sets `params`, `reg`, `num_layers` and, for the optional layers,
    `normalization`, `use_dropout`, `dropout_param`, `bn_params`."""

    normalization = None
    use_dropout = False
    dropout_param = None
    bn_params = ()

    # --- inputs -----------------------------------------------------------------------------------
    def _dtype(self):
        return self.params["W1"].dtype

    def _checked(self, X, y=None, name="X"):
        """(X as (N, ...) in the model's dtype, y checked or None)."""
        if isinstance(X, tflc.Tensor):
            X = X.numpy()
        try:
            X = np.asarray(X)
        except ValueError:
            raise ValueError(f"{name} must be an array, got a ragged {type(X).__name__}") from None
        if X.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be an array of real numbers, got dtype {X.dtype}")
        D = self.params["W1"].shape[0]
        if X.ndim < 2 or math.prod(X.shape[1:]) != D:
            raise ValueError(f"{name} must have shape (N, d_1, ..., d_k) with d_1 * ... * d_k = {D} "
                             f"(input_dim, the rows of W1), got shape {X.shape}")
        X = X.astype(self._dtype(), copy=False)  # cs231n: X = X.astype(self.dtype)
        if y is None:
            return X, None
        if X.shape[0] == 0:
            raise ValueError(f"empty batch: {name} has 0 rows")
        C = self.params[f"W{self.num_layers}"].shape[1]
        return X, check_labels(y, X.shape[0], C, rows_of=name)

    def _reg(self, reg):
        return check_reg(self.reg if reg is None else reg)

    def _set_mode(self, y):
        """cs231n: test mode when y is None (scores wanted), else train mode, for every dropout
        and normalisation layer."""
        mode = "test" if y is None else "train"
        if self.use_dropout:
            self.dropout_param["mode"] = mode
        for bn_param in self.bn_params:
            bn_param["mode"] = mode

    def _weights(self):
        return [f"W{i}" for i in range(1, self.num_layers + 1)]

    # --- the autodiff path ------------------------------------------------------------------------
    def _variables(self):
        # no copies: self.params is left alone while the tape holds them, and finite
        # differences perturb those very arrays
        return {name: tflc.Variable(value, name=name, copy=False) for name, value in self.params.items()}

    def _engine_forward(self, p, X, y, reg, nudge=None):
        """The forward pass from engine layers on the parameter tensors `p`: (loss or None,
        named tensors in forward order)."""
        return _engine_forward(p, X, y, reg, self.num_layers, self.normalization, self.bn_params,
                               self.dropout_param if self.use_dropout else None, nudge)

    def forward_tensors(self, X, y=None, reg=None, nudge=None):
        """The autodiff path's forward pass, reading self.params afresh: (loss, tensors), the
        tensors named as in the module docstring, in forward order; the parameters are Variables
        on self.params' own arrays, so a surrounding tape watches them. y None: test mode, loss
        None, the tensors end at "scores". reg None means self.reg. `nudge` (name -> array added
        to that intermediate) is how finite differences reach the intermediates."""
        X, y = self._checked(X, y)
        reg = self._reg(reg)
        self._set_mode(y)
        return self._engine_forward(self._variables(), X, y, reg, nudge)

    def _autodiff_loss(self, X, y, reg):
        with tflc.GradientTape() as tape:
            loss, tensors = self._engine_forward(self._variables(), X, y, reg)
        names = list(self.params)
        params = [tensors[k] for k in names]
        del tensors  # the intermediates: the sweep frees each once no VJP reads it
        grads = tape.gradient(loss, params)
        return float(loss), {k: g.numpy().astype(self.params[k].dtype, copy=False)
                             for k, g in zip(names, grads)}

    # --- the hand-derived path --------------------------------------------------------------------
    def _hand(self, params, X, y, reg, dropout_param, bn_params, intermediates=False):
        """cs231n's forward (layers.*_forward, caches kept) and hand-derived backward: the scores
        when y is None, else (loss, grads), grads for the parameters and, with `intermediates`,
        for every named intermediate."""
        L, caches, out = self.num_layers, [], X
        for i in range(1, L):
            out, fc_cache = layers.affine_forward(out, params[f"W{i}"], params[f"b{i}"])
            norm_cache = dropout_cache = None
            if self.normalization == "batchnorm":
                out, norm_cache = layers.batchnorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"],
                                                           bn_params[i - 1])
            elif self.normalization == "layernorm":
                out, norm_cache = layers.layernorm_forward(out, params[f"gamma{i}"], params[f"beta{i}"],
                                                           bn_params[i - 1])
            out, relu_cache = layers.relu_forward(out)
            if self.use_dropout:
                out, dropout_cache = layers.dropout_forward(out, dropout_param)
            caches.append((fc_cache, norm_cache, relu_cache, dropout_cache))
        scores, fc_cache = layers.affine_forward(out, params[f"W{L}"], params[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = layers.softmax_loss(scores, y)
        for w in self._weights():
            loss += 0.5 * reg * np.sum(params[w] * params[w])
        grads = {"scores": dscores} if intermediates else {}
        dout, grads[f"W{L}"], grads[f"b{L}"] = layers.affine_backward(dscores, fc_cache)
        for i in range(L - 1, 0, -1):  # back through the hidden layers
            fc_cache, norm_cache, relu_cache, dropout_cache = caches[i - 1]
            if intermediates:
                grads[f"affine{i + 1}.x"] = dout
            if self.use_dropout:
                dout = layers.dropout_backward(dout, dropout_cache)
                if intermediates:
                    grads[f"dropout{i}.x"] = dout
            dout = layers.relu_backward(dout, relu_cache)
            if intermediates:
                grads[f"relu{i}.x"] = dout
            if self.normalization is not None:
                backward = (layers.batchnorm_backward if self.normalization == "batchnorm"
                            else layers.layernorm_backward)
                dout, grads[f"gamma{i}"], grads[f"beta{i}"] = backward(dout, norm_cache)
                if intermediates:
                    grads[f"{self.normalization}{i}.x"] = dout
            dout, grads[f"W{i}"], grads[f"b{i}"] = layers.affine_backward(dout, fc_cache)
        for w in self._weights():
            grads[w] = grads[w] + reg * params[w]  # d/dW of 0.5 reg sum(W * W)
        return float(loss), grads

    def hand_derived_gradients(self, params, X, y, reg=None):
        """The hand-derived gradients (`models.layers`' backward passes) by name, for the
        parameters and every named intermediate (the default `hand_derived` of
        `compare_gradients`), at `params` in train mode. The model's running averages are left
        alone (copies of bn_params). With dropout the masks match `forward_tensors`' only when
        the net has a seed (both reseed at every dropout layer)."""
        X, y = self._checked(X, y)
        if y is None:
            raise ValueError("hand_derived_gradients: y must be the labels, got None")
        dropout_param = {**self.dropout_param, "mode": "train"} if self.use_dropout else None
        bn_params = [{**copy.deepcopy(b), "mode": "train"} for b in self.bn_params]
        return self._hand(params, X, y, self._reg(reg), dropout_param, bn_params, intermediates=True)[1]

    # --- the loss ---------------------------------------------------------------------------------
    def loss(self, X, y=None, method="traced"):
        """Scores (N, C) when y is None (test mode), else (loss, grads) in train mode, grads keyed
        and typed like self.params. method: "traced" (the default: the tape's step compiled by
        tflc.jit, recorded once per batch shape, the same loss, running averages and draws as
        "autodiff" and its gradients to rounding; dropout's masks drawn before the step and
        batchnorm's running averages updated after it, see `_traced_loss`), "autodiff" (the
        tape, eagerly) or "manual" (cs231n's hand-derived backward passes)."""
        _check_method(f"{type(self).__name__}.loss", method)
        X, y = self._checked(X, y)
        reg = self._reg(None)
        self._set_mode(y)
        if method == "manual":
            if y is None:
                return self._hand(self.params, X, None, reg, self.dropout_param, self.bn_params)
            loss, grads = self._hand(self.params, X, y, reg, self.dropout_param, self.bn_params)
            return loss, {k: grads[k].astype(v.dtype, copy=False) for k, v in self.params.items()}
        if y is None:
            if method == "traced":
                return self._traced_scores(X)
            return self._engine_forward(self._variables(), X, None, reg)[1]["scores"].numpy()
        if method == "traced":
            return self._traced_loss(X, y, reg)
        return self._autodiff_loss(X, y, reg)

    def _traced_scores(self, X):
        """The compiled test-mode forward pass: batchnorm's running averages are arguments (set
        to zeros first where there are none, as the eager batchnorm does), and a seeded dropout
        reseeds NumPy's generator here, as its identity in test mode does."""
        if self.use_dropout and "seed" in self.dropout_param:
            np.random.seed(self.dropout_param["seed"])
        running = ()
        if self.normalization == "batchnorm":
            dims = [self.params[f"W{i}"].shape[1] for i in range(1, self.num_layers)]
            running = tuple((b.setdefault("running_mean", np.zeros(D, dtype=X.dtype)),
                             b.setdefault("running_var", np.zeros(D, dtype=X.dtype)))
                            for b, D in zip(self.bn_params, dims))
            norm_params = tuple((("eps", b.get("eps", 1e-5)), ("mode", "test")) for b in self.bn_params)
        else:
            norm_params = tuple(tuple(sorted(b.items())) for b in self.bn_params)
        return _traced_forward(self.params, X, running, self.num_layers, self.normalization,
                               norm_params, self.use_dropout).numpy()

    def _traced_loss(self, X, y, reg):
        """The compiled training step: dropout's masks drawn here first, layer by layer with
        cs231n's calls (batchnorm draws nothing, so the order of the draws is the forward
        pass's); batchnorm's inputs, results of the step, folded into bn_params' running
        averages here, as layers.batchnorm_forward folds them."""
        masks = None
        if self.use_dropout:
            N = X.shape[0]
            masks = [E.draw_dropout_mask((N, self.params[f"W{i}"].shape[1]), self.dropout_param)
                     for i in range(1, self.num_layers)]
        if self.normalization == "batchnorm":  # train mode reads only eps (momentum: below)
            norm_params = tuple((("eps", b.get("eps", 1e-5)), ("mode", "train")) for b in self.bn_params)
        else:
            norm_params = tuple(tuple(sorted(b.items())) for b in self.bn_params)
        step = _traced_exact_loss if self.normalization == "batchnorm" else _traced_loss
        loss, grads, batches = step(self.params, X, y, reg, masks, self.num_layers, self.normalization,
                                  norm_params)
        for bn_param, rows in zip(self.bn_params, batches):
            E.update_running_averages(bn_param, rows)
        return float(loss), {k: grads[k].numpy().astype(v.dtype, copy=False)
                             for k, v in self.params.items()}


def _engine_forward(p, X, y, reg, num_layers, normalization, bn_params, dropout_param, nudge=None,
                    masks=None, batches=None):
    """`_AffineNet._engine_forward` for a net of `num_layers` affine layers, `normalization`
    ("batchnorm", "layernorm" or None) with its `bn_params`, and dropout's `dropout_param` (None:
    no dropout). The compiled step's arguments and results: `masks`, one dropout mask per hidden
    layer, drawn outside (None: dropout draws them); `batches`, a list that train-mode batchnorm
    appends each layer's input to instead of updating bn_params (None: it updates them)."""
    tensors = {}

    def name(t, label):
        t = named(t, label, nudge)
        tensors[label] = t
        return t

    out, L = X, num_layers
    for i in range(1, L + 1):
        if i > 1:
            out = name(out, f"affine{i}.x")
        W, b = tensors[f"W{i}"], tensors[f"b{i}"] = p[f"W{i}"], p[f"b{i}"]
        out = E.affine(out, W, b)
        if i == L:
            break
        if normalization is not None:
            out = name(out, f"{normalization}{i}.x")
            gamma, beta = tensors[f"gamma{i}"], tensors[f"beta{i}"] = p[f"gamma{i}"], p[f"beta{i}"]
            if normalization == "batchnorm":
                out = E.batchnorm(out, gamma, beta, bn_params[i - 1], batches=batches)
            else:
                out = E.layernorm(out, gamma, beta, bn_params[i - 1])
        out = E.relu(name(out, f"relu{i}.x"))
        if dropout_param is not None:
            if dropout_param["mode"] == "train":  # test mode is the identity: no new tensor
                out = name(out, f"dropout{i}.x")
            out = E.dropout(out, dropout_param, mask=None if masks is None else masks[i - 1])
    scores = name(out, "scores")
    if y is None:
        return None, tensors
    loss = E.softmax_loss(scores, y)
    for w in (f"W{i}" for i in range(1, L + 1)):
        loss = loss + 0.5 * reg * tflc.sum(p[w] * p[w])
    loss.name = "loss"
    return loss, tensors


def _train_step(p, X, y, reg, masks, L, normalization, norm_params):
    """The training step `_traced_loss` compiles, free of side effects as jax.jit wants it:
    (loss, gradients of the parameters `p`, batchnorm's batches). Dropout's `masks` (one per
    hidden layer, or None without dropout) are drawn outside and come in as arguments; each
    train-mode batchnorm layer's input comes out, for the caller to fold its batch statistics
    into the running averages (np.mean and np.var, as layers.batchnorm_forward: the engine's
    mean and var round differently in the last bits). The net's structure, and the
    normalisation layers' parameters (`norm_params`: eps and mode, as items), are static."""
    batches = []
    dropout_param = None if masks is None else {"mode": "train", "p": 1.0}  # (p unused: masks given)
    with tflc.GradientTape() as tape:
        tape.watch(p)
        loss = _engine_forward(p, X, y, reg, L, normalization, [dict(items) for items in norm_params],
                               dropout_param, masks=masks, batches=batches)[0]
    grads = tape.gradient(loss, p, unconnected_gradients="zero")
    return loss, grads, batches


# the training step compiled (batchnorm's running averages and dropout's masks as results and
# arguments: see _train_step). A net with batchnorm compiles it with `exact` (the same bits as the
# eager tape): the gradient of a bias that feeds batchnorm is 0 in exact arithmetic and rounding
# noise (~1e-17) on either path, and the simplified adjoint's different noise fails jit's first-
# replay check, which measures each array against its own largest entry. (exact costs nothing
# measurable here: 392 vs 394 us a digits step.)
_traced_loss = tflc.jit(_train_step)
_traced_exact_loss = tflc.jit(_train_step, exact=True)


def _scores(p, X, running, L, normalization, norm_params, use_dropout):
    """The test-mode scores `_traced_forward` compiles: batchnorm's running averages `running`
    ((mean, var) per layer) are arguments; dropout is the identity."""
    bn_params = [dict(items) for items in norm_params]
    for bn_param, (mean, var) in zip(bn_params, running):
        bn_param["running_mean"], bn_param["running_var"] = mean, var
    dropout_param = {"mode": "test", "p": 1.0} if use_dropout else None
    return _engine_forward(p, X, None, 0.0, L, normalization, bn_params, dropout_param)[1]["scores"]


_traced_forward = tflc.jit(_scores, exact=True)


class TwoLayerNet(_AffineNet):
    """cs231n's TwoLayerNet (assignment 2, 2019+): affine - relu - affine - softmax.

    params: W1 (input_dim, hidden_dim), b1 (hidden_dim,), W2 (hidden_dim, num_classes),
    b2 (num_classes,); W drawn weight_scale * np.random.randn(...) (W1 first, then W2), b zeros.
    `loss(X, y=None, method="autodiff")` as in the module docstring.
    """

    num_layers = 2

    def __init__(self, input_dim=3 * 32 * 32, hidden_dim=100, num_classes=10, weight_scale=1e-3,
                 reg=0.0):
        input_dim = check_count(input_dim, "input_dim")
        hidden_dim = check_count(hidden_dim, "hidden_dim")
        num_classes = check_count(num_classes, "num_classes")
        self.weight_scale = check_real(weight_scale, "weight_scale")
        self.reg = check_reg(reg)
        self.params = {}
        self.params["W1"] = weight_scale * np.random.randn(input_dim, hidden_dim)
        self.params["b1"] = np.zeros(hidden_dim)
        self.params["W2"] = weight_scale * np.random.randn(hidden_dim, num_classes)
        self.params["b2"] = np.zeros(num_classes)

    def config(self):
        """The constructor's arguments, JSON-able: `TwoLayerNet(**net.config())` rebuilds the net
        (freshly initialised)."""
        (D, H), C = self.params["W1"].shape, self.params["W2"].shape[1]
        return {"input_dim": D, "hidden_dim": H, "num_classes": C,
                "weight_scale": float(self.weight_scale), "reg": float(self.reg)}


class FullyConnectedNet(_AffineNet):
    """cs231n's FullyConnectedNet (assignment 2, 2019+): L = len(hidden_dims) + 1 layers,

        {affine - [batch/layer norm] - relu - [dropout]} x (L - 1) - affine - softmax

    params: W1..WL, b1..bL and, with normalization, gamma1..gamma(L-1) (ones) and
    beta1..beta(L-1) (zeros); W_i drawn weight_scale * np.random.randn(d_i, d_i+1) in layer
    order, b zeros; every parameter cast to `dtype`. `dropout_keep_ratio` is the probability of
    keeping a unit (1: no dropout layers); `seed` (with dropout) reseeds NumPy's generator at
    every dropout layer, which makes the masks repeatable (for gradient checks).
    Attributes as cs231n's: normalization, use_dropout, reg, num_layers, dtype, params,
    dropout_param ({"mode", "p"[, "seed"]}, only with dropout) and bn_params (one dict per
    hidden layer with normalization: {"mode": "train"} for batchnorm, {} for layernorm).
    """

    def __init__(self, hidden_dims, input_dim=3 * 32 * 32, num_classes=10, dropout_keep_ratio=1,
                 normalization=None, reg=0.0, weight_scale=1e-2, dtype=np.float32, seed=None):
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise TypeError(f"hidden_dims must be a list of positive integers, got {hidden_dims!r}")
        hidden_dims = [check_count(h, f"hidden_dims[{k}]") for k, h in enumerate(hidden_dims)]
        input_dim = check_count(input_dim, "input_dim")
        num_classes = check_count(num_classes, "num_classes")
        if normalization is not None and normalization not in NORMALIZATIONS:
            raise ValueError(f"normalization must be 'batchnorm', 'layernorm' or None, got "
                             f"{normalization!r}")
        dropout_keep_ratio = check_real(dropout_keep_ratio, "dropout_keep_ratio", 0.0, 1.0, low_open=True)
        self.weight_scale = check_real(weight_scale, "weight_scale")
        if seed is not None:
            seed = check_count(seed, "seed", allow_zero=True)
        self.hidden_dims, self.input_dim, self.num_classes = hidden_dims, input_dim, num_classes
        self.dropout_keep_ratio, self.seed = dropout_keep_ratio, seed

        self.normalization = normalization
        self.use_dropout = dropout_keep_ratio != 1
        self.reg = check_reg(reg)
        self.num_layers = 1 + len(hidden_dims)
        self.dtype = check_float_dtype(dtype).type
        self.params = {}
        dims = [input_dim] + hidden_dims + [num_classes]
        for i in range(1, self.num_layers + 1):  # cs231n's order of draws: W1, W2, ...
            self.params[f"W{i}"] = weight_scale * np.random.randn(dims[i - 1], dims[i])
            self.params[f"b{i}"] = np.zeros(dims[i])
            if normalization is not None and i < self.num_layers:
                self.params[f"gamma{i}"] = np.ones(dims[i])
                self.params[f"beta{i}"] = np.zeros(dims[i])

        # dropout's mode ("train" / "test") is set by loss; the seed makes every mask repeatable
        self.dropout_param = {}
        if self.use_dropout:
            self.dropout_param = {"mode": "train", "p": dropout_keep_ratio}
            if seed is not None:
                self.dropout_param["seed"] = seed
        # one parameter dict per normalisation layer: batchnorm keeps its running averages there
        self.bn_params = []
        if normalization == "batchnorm":
            self.bn_params = [{"mode": "train"} for _ in range(self.num_layers - 1)]
        elif normalization == "layernorm":
            self.bn_params = [{} for _ in range(self.num_layers - 1)]

        for k, v in self.params.items():
            self.params[k] = v.astype(self.dtype)

    def _dtype(self):
        return self.dtype

    def config(self):
        """The constructor's arguments, JSON-able (dtype by name, e.g. "float64"):
        `FullyConnectedNet(**net.config())` rebuilds the net (freshly initialised)."""
        return {"hidden_dims": list(self.hidden_dims), "input_dim": self.input_dim,
                "num_classes": self.num_classes, "dropout_keep_ratio": self.dropout_keep_ratio,
                "normalization": self.normalization, "reg": float(self.reg),
                "weight_scale": float(self.weight_scale), "dtype": np.dtype(self.dtype).name,
                "seed": self.seed}
