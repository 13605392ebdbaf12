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

A step checks everything before it touches anything, so a bad call leaves the parameters, the
optimizer's state and `iterations` as they were: every parameter with a gradient must be a
writable floating-point ndarray or a Variable, its gradient numeric and of its shape. A gradient
of None is skipped, and so is a parameter of a dict that has no gradient key (a model may have
parameters a loss does not use); a gradient key that names no parameter is an error (a typo
would otherwise update nothing, silently). Hyperparameters must be finite real numbers.
"""
from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from .tensor import ArrayLike, Tensor, Variable


class Optimizer:
    """Shared bookkeeping: per-parameter state, step count, learning-rate decay."""

    def __init__(self, lr: float, decay: float = 1.0) -> None:
        self.lr = _hyperparameter(lr, "lr", minimum=0)
        self.decay = _hyperparameter(decay, "decay")
        self.iterations = 0  # completed `step` calls (Adam's bias correction uses it)
        self.state = {}      # per-parameter slots: {dict key or Variable: {slot name: array}}

    def decay_lr(self, factor: float | None = None) -> float:
        self.lr *= self.decay if factor is None else _hyperparameter(factor, "factor")
        return self.lr

    def step(self, params: Variable | Sequence[Variable] | dict[Any, np.ndarray], grads: Any
             ) -> Sequence[Variable] | dict[Any, np.ndarray]:
        """Update `params` (a Variable, a list of Variables, or a dict name -> array) by `grads`
        (matched by position, or by key for a dict); None grads are skipped."""
        if isinstance(params, Tensor):  # a single Variable
            params, grads = [params], [grads]
        # every check runs before any update, so a bad call leaves nothing half-updated
        checked = [(label, key, p, _checked_gradient(label, p, g))
                   for label, key, p, g in _matched(params, grads) if g is not None]
        for label, key, p, _ in checked:
            for slot in self.state.get(key, {}).values():
                if slot.shape != p.shape:  # a dict entry replaced by an array of another shape
                    raise ValueError(f"step: parameter {label} has shape {p.shape} but this "
                                     f"optimizer's state for it has shape {slot.shape}; use a "
                                     "new optimizer for a resized parameter")
        self.iterations += 1
        for _, key, p, g in checked:
            delta = self._delta(key, g)
            if isinstance(p, Variable):
                p.assign_sub(delta)
            else:
                p -= delta
        return params

    def apply_gradients(self, grads_and_vars: Iterable[tuple[ArrayLike | None, Variable]]
                        ) -> Sequence[Variable] | dict[Any, np.ndarray]:
        """TensorFlow-style: an iterable of (gradient, Variable) pairs."""
        pairs = list(grads_and_vars)
        for k, pair in enumerate(pairs):
            if not (isinstance(pair, (tuple, list)) and len(pair) == 2
                    and isinstance(pair[1], Variable)):
                got = (f"({', '.join(type(item).__name__ for item in pair)})"
                       if isinstance(pair, (tuple, list)) else type(pair).__name__)
                raise TypeError("apply_gradients: expects (gradient, Variable) pairs; the second "
                                f"item of each pair must be a Variable, pair {k} is {got}")
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


def _hyperparameter(value, name, minimum=None):
    """value if it is a finite real number (and >= minimum), else a TypeError / ValueError."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ValueError(f"{name} must be a finite number{bound}, got {value!r}")
    return value


def _matched(params, grads):
    """(label for messages, state key, parameter, gradient or None) for every parameter."""
    if isinstance(params, dict):
        if not isinstance(grads, dict):
            raise TypeError("step: params is a dict, so grads must be a dict with the same keys, "
                            f"got {type(grads).__name__}")
        unknown = [key for key in grads if key not in params]
        if unknown:
            raise ValueError(f"step: gradients for unknown parameters {unknown}; the parameters "
                             f"are {list(params)}")
        return [(repr(name), name, p, grads.get(name)) for name, p in params.items()]
    try:
        params, grads = list(params), list(grads)
    except TypeError:
        raise TypeError("step: params must be a Variable, a list of Variables or a dict name -> "
                        f"array, and grads alike; got {type(params).__name__} and "
                        f"{type(grads).__name__}") from None
    if len(params) != len(grads):
        raise ValueError(f"step: {len(params)} parameters but {len(grads)} gradients")
    for k, p in enumerate(params):
        if not isinstance(p, Variable):  # the state is keyed by the Variable; an array has no key
            raise TypeError(f"step: params[{k}] must be a Variable (a dict name -> array updates "
                            f"arrays in place), got {type(p).__name__}")
    return [(repr(p.name) if p.name else f"params[{k}]", p, p, g)
            for k, (p, g) in enumerate(zip(params, grads))]


def _checked_gradient(label, p, g):
    """g as an array in p's dtype, after checking that p can take the step (a writable
    floating-point array or a Variable) and that g fits it (numeric, p's shape)."""
    if not isinstance(p, (np.ndarray, Variable)):
        raise TypeError(f"step: parameter {label} must be an ndarray or a Variable, "
                        f"got {type(p).__name__}")
    if p.dtype.kind not in "fc":
        raise TypeError(f"step: parameter {label} is {p.dtype}; a step needs a floating-point "
                        "parameter")
    if isinstance(p, np.ndarray) and not p.flags.writeable:
        raise ValueError(f"step: parameter {label} is read-only")
    g = np.asarray(g)
    if g.dtype.kind not in "biufc" or not np.can_cast(g.dtype, p.dtype, "same_kind"):
        raise TypeError(f"step: the gradient for parameter {label} has dtype {g.dtype}; it must "
                        f"be numbers that fit a {p.dtype} parameter")
    if g.shape != p.shape:
        raise ValueError(f"step: gradient of shape {g.shape} for parameter {label} of shape "
                         f"{p.shape}")
    return g.astype(p.dtype, copy=False)


class SGD(Optimizer):
    """`p -= lr * g`; with momentum, cs231n's `v = momentum * v - lr * g; p += v`."""

    def __init__(self, lr: float = 1e-3, momentum: float = 0.0, decay: float = 1.0) -> None:
        super().__init__(lr, decay)
        self.momentum = _hyperparameter(momentum, "momentum")

    def _delta(self, key, g):
        if not self.momentum:
            return self.lr * g
        v = self._slot(key, "velocity", g)
        v *= self.momentum
        v -= self.lr * g
        return -v


class Adam(Optimizer):
    """Adam (Kingma & Ba) with bias-corrected first and second moments."""

    def __init__(self, lr: float = 1e-3, beta1: float = 0.9, beta2: float = 0.999,
                 eps: float = 1e-8, decay: float = 1.0) -> None:
        super().__init__(lr, decay)
        self.beta1, self.beta2, self.eps = (_hyperparameter(value, name) for value, name in
                                            [(beta1, "beta1"), (beta2, "beta2"), (eps, "eps")])

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
