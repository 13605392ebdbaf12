"""Optimizers: SGD (with optional momentum) and Adam.

Both update either a list of `Variable`s (through `assign_sub`) or a dict name -> np.ndarray
in place (a model's `params`, gradients matched by key):

    opt = Adam(lr=1e-3)
    opt.step(net.params, grads)                  # dict of arrays, grads keyed the same way
    opt.step([W, b], tape.gradient(loss, [W, b]))  # Variables
    opt.apply_gradients(zip(grads, [W, b]))      # TensorFlow's spelling

Every update is computed and stored in the parameter's dtype (float32 stays float32).
Learning-rate decay: `decay_lr()` multiplies `lr` by `decay` (or by the factor given);
`TwoLayerNet.train` calls it once per epoch.
"""
import numpy as np

from .tensor import Tensor, Variable


class Optimizer:
    """Shared bookkeeping: per-parameter state, step count, learning-rate decay."""

    def __init__(self, lr, decay=1.0):
        self.lr = lr
        self.decay = decay
        self.iterations = 0  # completed `step` calls (Adam's bias correction uses it)
        self.state = {}      # per-parameter slots: {dict key or Variable: {slot name: array}}

    def decay_lr(self, factor=None):
        self.lr *= self.decay if factor is None else factor
        return self.lr

    def step(self, params, grads):
        """Update `params` (list of Variables, or dict of arrays) by `grads`; None grads are skipped."""
        if isinstance(params, Tensor):  # a single Variable
            params, grads = [params], [grads]
        if isinstance(params, dict):
            triples = [(name, p, grads.get(name)) for name, p in params.items()]
        else:
            params, grads = list(params), list(grads)
            if len(params) != len(grads):
                raise ValueError(f"step: {len(params)} parameters but {len(grads)} gradients")
            triples = [(p, p, g) for p, g in zip(params, grads)]
        # check every gradient before touching any state, so a bad one leaves nothing half-updated
        checked = []
        for key, p, g in triples:
            if g is None:
                continue
            g = np.asarray(g)
            if g.shape != p.shape:
                raise ValueError(f"step: gradient of shape {g.shape} for parameter "
                                 f"{getattr(p, 'name', None) or key} of shape {p.shape}")
            checked.append((key, p, g.astype(p.dtype, copy=False)))
        self.iterations += 1
        for key, p, g in checked:
            delta = self._delta(key, g)
            if isinstance(p, Variable):
                p.assign_sub(delta)
            else:
                p -= delta
        return params

    def apply_gradients(self, grads_and_vars):
        """TensorFlow-style: an iterable of (gradient, Variable) pairs."""
        pairs = list(grads_and_vars)
        return self.step([v for _, v in pairs], [g for g, _ in pairs])

    def _slot(self, key, name, g):
        """Per-parameter state array `name`, zeros of g's shape and dtype on first use."""
        slots = self.state.setdefault(key, {})  # a Variable hashes by identity
        if name not in slots:
            slots[name] = np.zeros_like(g)
        return slots[name]

    def _delta(self, key, g):
        """The amount to subtract from the parameter (in g's dtype, which is the parameter's)."""
        raise NotImplementedError


class SGD(Optimizer):
    """`p -= lr * g`; with momentum, cs231n's `v = momentum * v - lr * g; p += v`."""

    def __init__(self, lr=1e-3, momentum=0.0, decay=1.0):
        super().__init__(lr, decay)
        self.momentum = momentum

    def _delta(self, key, g):
        if not self.momentum:
            return self.lr * g
        v = self._slot(key, "velocity", g)
        v *= self.momentum
        v -= self.lr * g
        return -v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected first and second moments."""

    def __init__(self, lr=1e-3, beta1=0.9, beta2=0.999, eps=1e-8, decay=1.0):
        super().__init__(lr, decay)
        self.beta1, self.beta2, self.eps = beta1, beta2, eps

    def _delta(self, key, g):
        m, v = self._slot(key, "m", g), self._slot(key, "v", g)
        m *= self.beta1
        m += (1 - self.beta1) * g
        v *= self.beta2
        v += (1 - self.beta2) * (g * g)
        t = self.iterations
        m_hat = m / (1 - self.beta1 ** t)
        v_hat = v / (1 - self.beta2 ** t)
        return self.lr * m_hat / (np.sqrt(v_hat) + self.eps)
