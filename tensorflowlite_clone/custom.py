"""`custom_gradient`: TensorFlow's decorator, the user's one place to define a differentiable op.

    @tflc.custom_gradient
    def log1pexp(x):
        e = tflc.exp(x)
        def grad_fn(upstream):
            return upstream * (1 - 1 / (1 + e))
        return tflc.log(1 + e), grad_fn

The decorated function runs as usual; its result is then recorded as one op whose inputs are
f's positional arguments (and the Variables f used, if grad_fn takes `variables=`) and whose
VJP is grad_fn. The ops inside f are recorded too, so that an outer tape sees how the tensors
grad_fn closes over (`e`) depend on x: written in engine ops, grad_fn is itself differentiated
(second order through a custom gradient). A first-order sweep never reaches those inner ops:
the gradient flows into the recorded op and from there through grad_fn alone.
"""
from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np

from .primitive import Primitive, _state
from .tape import GradientTape
from .tensor import Tensor, _wrap, as_array


def custom_gradient(f: Callable[..., tuple[Tensor, Callable[..., Any]]]) -> Callable[..., Tensor]:
    """Decorate `f(*xs) -> (y, grad_fn)`: y is a Tensor, `grad_fn(upstream)` returns the
    gradient for each x (a Tensor, or a list/tuple with one per x; None for no gradient). When
    f uses Variables that are not among its arguments, `grad_fn(upstream, variables=None)`
    returns `(gradients for the xs, gradients for those variables)`, as in TensorFlow."""

    @functools.wraps(f)
    def wrapped(*args, **kwargs):
        if _state.tracing is not None:  # grad_fn closes over this call's values
            _state.tracing.cannot_replay(f"calls the custom_gradient function {f.__name__}")
        with GradientTape(persistent=True) as used:  # only to see which Variables f reads
            result = f(*args, **kwargs)
        if not (isinstance(result, tuple) and len(result) == 2 and callable(result[1])):
            raise TypeError(f"custom_gradient: {f.__name__} must return (output, grad_fn)")
        y, grad_fn = result
        if not isinstance(y, Tensor):
            raise TypeError(f"custom_gradient: {f.__name__}'s output must be a Tensor, got "
                            f"{type(y).__name__}")
        given = {id(x) for x in args}
        variables = [v for v in used.watched_variables() if id(v) not in given]
        if variables and "variables" not in inspect.signature(grad_fn).parameters:
            raise TypeError(f"custom_gradient: {f.__name__} uses Variables "
                            f"{[v.name for v in variables]}, so its grad_fn must accept a "
                            "keyword argument `variables`")
        inputs = [*args, *variables]
        vjps = _vjps(f.__name__, grad_fn, len(args), variables)
        op = Primitive(f.__name__, lambda *values: values[-1], (*vjps, None))
        return op(*inputs, y)  # y itself enters as the last input (no VJP): the identity

    return wrapped


def _vjps(name, grad_fn, count, variables):
    """One VJP per input, all answered by a single grad_fn call per upstream gradient (the sweep
    asks them one after another with the same `g`)."""
    last = {"g": None, "grads": None}

    def gradients(g):
        if last["g"] is not g:
            upstream = g if isinstance(g, Tensor) else _wrap(g)
            if variables:
                for_inputs, for_variables = grad_fn(upstream, variables=variables)
                grads = [*_listed(for_inputs), *_listed(for_variables)]
            else:
                grads = _listed(grad_fn(upstream))
            if len(grads) != count + len(variables):
                raise ValueError(f"{name}: grad_fn returned {len(grads)} gradients for "
                                 f"{count + len(variables)} inputs")
            last["g"], last["grads"] = g, grads
        return last["grads"]

    def vjp_of(k):
        def vjp(g, ans, *inputs):
            gx, x = gradients(g)[k], inputs[k]
            if gx is None:  # no gradient flows to x this way (None, unless it has others)
                return None
            shape = np.shape(x)
            if np.shape(gx) != shape:
                raise ValueError(f"{name}: grad_fn's gradient {k} has shape {np.shape(gx)}, "
                                 f"but input {k} has shape {shape}")
            if isinstance(g, Tensor):  # an outer tape is listening: keep it a Tensor
                return gx if isinstance(gx, Tensor) else Tensor(gx)
            return np.array(as_array(gx), copy=True)  # the sweep adds into what a VJP returns
        return vjp

    return [vjp_of(k) for k in range(count + len(variables))]


def _listed(grads):
    return list(grads) if isinstance(grads, (list, tuple)) else [grads]
