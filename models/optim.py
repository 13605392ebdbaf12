"""cs231n's first-order update rules (assignment 2's `optim.py`), for `models.solver.Solver`.

Every rule has cs231n's interface

    next_w, config = update(w, dw, config=None)

- w: an array of weights; dw: the gradient of the loss with respect to w, of w's shape;
- config: a dict of hyperparameters (`learning_rate`, ...) and of the state a rule carries from
  one step to the next (`velocity`, `cache`, `m`, `v`, `t`); missing entries get cs231n's
  defaults, written into the dict (`config.setdefault`), and the new state is stored in it.

The rules (NumPy, written out: these are the update equations, not the engine's optimizers,
which are `tensorflowlite_clone.optim`):

    sgd           w -= learning_rate * dw                                   (in place, as cs231n)
    sgd_momentum  v = momentum * v - learning_rate * dw;  next_w = w + v
    rmsprop       cache = decay_rate * cache + (1 - decay_rate) * dw**2
                  next_w = w - learning_rate * dw / (sqrt(cache) + epsilon)
    adam          t += 1   (before use, so that the notebook's expected values reproduce)
                  m = beta1 * m + (1 - beta1) * dw;  v = beta2 * v + (1 - beta2) * dw**2
                  next_w = w - learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

Defaults (cs231n's): learning_rate 1e-2 (adam: 1e-3), momentum 0.9, decay_rate 0.99,
epsilon 1e-8, beta1 0.9, beta2 0.999, velocity / cache / m / v zeros like w, t 0.

`sgd` updates w in place and returns it, as cs231n's does; the others return a new array. A dw
whose shape differs from w's is a ValueError naming the rule (broadcasting would otherwise
update every row by the same gradient, silently); a config that is not a dict is a TypeError.
"""
import numpy as np

__all__ = ["sgd", "sgd_momentum", "rmsprop", "adam", "UPDATE_RULES"]


def _config(rule, w, dw, config):
    """The config dict (a new one for None), after checking that dw fits w."""
    if np.shape(dw) != np.shape(w):
        raise ValueError(f"{rule}: dw has shape {np.shape(dw)} but w has shape {np.shape(w)}")
    if config is None:
        return {}
    if not isinstance(config, dict):
        raise TypeError(f"{rule}: config must be a dict or None, got {type(config).__name__}")
    return config


def sgd(w, dw, config=None):
    """Vanilla stochastic gradient descent: w -= learning_rate * dw, in place.

    config: learning_rate (default 1e-2).
    """
    config = _config("sgd", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    w -= config["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """Stochastic gradient descent with momentum:
    v = momentum * v - learning_rate * dw; next_w = w + v.

    config: learning_rate (1e-2), momentum (0.9; 0 is plain sgd), velocity (the running v,
    zeros like w at first).
    """
    config = _config("sgd_momentum", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("momentum", 0.9)
    v = config.get("velocity", np.zeros_like(w))
    v = config["momentum"] * v - config["learning_rate"] * dw
    next_w = w + v
    config["velocity"] = v
    return next_w, config


def rmsprop(w, dw, config=None):
    """RMSProp: per-parameter step sizes from a moving average of squared gradients.
    cache = decay_rate * cache + (1 - decay_rate) * dw**2;
    next_w = w - learning_rate * dw / (sqrt(cache) + epsilon).

    config: learning_rate (1e-2), decay_rate (0.99), epsilon (1e-8), cache (zeros like w).
    """
    config = _config("rmsprop", w, dw, config)
    config.setdefault("learning_rate", 1e-2)
    config.setdefault("decay_rate", 0.99)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("cache", np.zeros_like(w))
    decay = config["decay_rate"]
    cache = decay * config["cache"] + (1 - decay) * (dw * dw)
    next_w = w - config["learning_rate"] * dw / (np.sqrt(cache) + config["epsilon"])
    config["cache"] = cache
    return next_w, config


def adam(w, dw, config=None):
    """Adam: moving averages of the gradient (m) and of its square (v), bias-corrected.
    t += 1 (first: cs231n's notebook expects t incremented before use);
    m = beta1 * m + (1 - beta1) * dw;  v = beta2 * v + (1 - beta2) * dw**2;
    next_w = w - learning_rate * m_hat / (sqrt(v_hat) + epsilon), with
    m_hat = m / (1 - beta1**t) and v_hat = v / (1 - beta2**t).

    config: learning_rate (1e-3), beta1 (0.9), beta2 (0.999), epsilon (1e-8), m and v (zeros
    like w), t (the number of updates so far, 0).
    """
    config = _config("adam", w, dw, config)
    config.setdefault("learning_rate", 1e-3)
    config.setdefault("beta1", 0.9)
    config.setdefault("beta2", 0.999)
    config.setdefault("epsilon", 1e-8)
    config.setdefault("m", np.zeros_like(w))
    config.setdefault("v", np.zeros_like(w))
    config.setdefault("t", 0)
    beta1, beta2 = config["beta1"], config["beta2"]
    t = config["t"] + 1
    m = beta1 * config["m"] + (1 - beta1) * dw
    v = beta2 * config["v"] + (1 - beta2) * (dw * dw)
    m_hat = m / (1 - beta1 ** t)
    v_hat = v / (1 - beta2 ** t)
    next_w = w - config["learning_rate"] * m_hat / (np.sqrt(v_hat) + config["epsilon"])
    config["m"], config["v"], config["t"] = m, v, t
    return next_w, config


UPDATE_RULES = {"sgd": sgd, "sgd_momentum": sgd_momentum, "rmsprop": rmsprop, "adam": adam}
