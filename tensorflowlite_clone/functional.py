"""Forward mode and autograd-style helpers, built on the reverse-mode tape alone.

Forward mode needs no second rule per op. The VJP `u -> J^T u` is linear in the cotangent u,
so differentiating `<J^T u, v>` with respect to u, by reverse mode again, gives `J v`: the VJP
of a VJP is a JVP. A ForwardAccumulator records the primals' ops on a tape of its own; `jvp`
sweeps that tape with a dummy cotangent u (zeros) while a second tape watches u, then sweeps
the second tape seeded with the tangents. Since the VJPs are written in engine ops, the whole
computation is recorded on any tape listening outside, so forward-over-reverse (Hessian-vector
products) and reverse-over-forward both work.

    x = tflc.Tensor(np.array([1.0, 2.0]))
    with tflc.ForwardAccumulator(x, np.array([1.0, 0.0])) as acc:
        y = tflc.sum(x ** 3)
    acc.jvp(y)                                   # 3 x0^2 = 3.0

`jacobian`, `hessian` and `hvp` are autograd's (`argnum`, results shaped as autograd's); `jvp` is
JAX's (`jvp(f, primals, tangents)`).
"""
from __future__ import annotations

import contextlib
import math
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from .ops import sum as _sum
from .primitive import _state
from .tape import (
    GradientTape,
    UnconnectedGradients,
    _as_tensors,
    _flatten,
    _unflatten,
    grad,
    is_int,
    unconnected_of,
)
from .tensor import Structure, Tensor, as_array


class ForwardAccumulator:
    """TensorFlow's `tf.autodiff.ForwardAccumulator`: Jacobian-vector products of the ops run on
    `primals` inside the `with` block, along `tangents`.

    `primals` is a Tensor (or Variable), or a list / tuple / dict of them; `tangents` has the same
    structure, each leaf an array (or number, or list) converted to its primal's dtype, or a
    Tensor of that very dtype, with its primal's shape. An integer primal carries no tangent.
    Nesting works both ways, as in TF: a GradientTape around the accumulator differentiates a
    `jvp` (forward-over-reverse), and `jvp` of a gradient taken inside the block by an inner tape
    is a Hessian-vector product too. Accumulators nest for higher forward derivatives.
    """

    def __init__(self, primals: Structure, tangents: Structure) -> None:
        seen, self._primals, self._tangents = set(), [], []
        for where, primal, tangent in _paired(primals, tangents, "ForwardAccumulator"):
            if id(primal) in seen:  # as TF does: a primal twice is probably a mistake
                raise ValueError(f"ForwardAccumulator: primals{where} is given twice; pass it "
                                 "once, with the sum of its tangents")
            seen.add(id(primal))
            if _has_derivatives(primal):
                self._primals.append(primal)
                self._tangents.append(tangent)
            else:  # as in TF (and as the tape's watch): said, then left untracked
                warnings.warn(f"ForwardAccumulator: primals{where} holds {primal.dtype}, which "
                              "carries no tangent (only floating-point values do)",
                              RuntimeWarning, stacklevel=2)
        # records the primals' ops only (not every Variable the block happens to touch)
        self._tape = GradientTape(persistent=True, watch_accessed_variables=False)
        self._tape.watch(self._primals)

    def __enter__(self) -> ForwardAccumulator:
        if self._tape in _state.tapes:
            raise ValueError("ForwardAccumulator: this accumulator is already recording")
        self._tape.__enter__()  # entering again later carries on recording, as in TF
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        return self._tape.__exit__(*exc)

    def jvp(self, primals: Structure,
            unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE) -> Any:
        """J · tangents for each Tensor in `primals` (the outputs: a Tensor or a structure of
        them), in the same structure. A target that does not depend on the accumulator's
        primals gets None, or zeros with `unconnected_gradients="zero"`. Called inside the block
        or after it (as in TF); the computation itself is not recorded by this accumulator."""
        unconnected = unconnected_of(unconnected_gradients, "jvp")
        targets = _flatten(primals)
        for k, target in enumerate(targets):
            if not isinstance(target, Tensor):
                raise TypeError(f"jvp: target {k} is a {type(target).__name__}, not a Tensor "
                                "(only the engine's tensors are tracked)")
        recording = self._tape in _state.recording
        with self._tape.stop_recording() if recording else contextlib.nullcontext():
            products = self._products(targets)
        if unconnected is UnconnectedGradients.ZERO:
            products = [Tensor(np.zeros(t.shape, t.dtype)) if p is None else p
                        for p, t in zip(products, targets)]
        return _unflatten(primals, iter(products))

    def _products(self, targets):
        """J v for each target (None: it does not depend on the primals), by two reverse
        sweeps: the VJP with a cotangent u that a second tape watches, then that tape's
        gradient with respect to u, seeded with the tangents."""
        live = [k for k, t in enumerate(targets) if _has_derivatives(t)]
        products = [None] * len(targets)
        if not live or not self._primals:
            return products
        cotangents = [Tensor(np.zeros(targets[k].shape, targets[k].dtype)) for k in live]
        with GradientTape() as dual:
            dual.watch(cotangents)
            vjps = self._tape.gradient([targets[k] for k in live], self._primals,
                                       output_gradients=cotangents)
        connected = [(g, v) for g, v in zip(vjps, self._tangents) if g is not None]
        if connected:  # a cotangent the VJPs never met belongs to an unconnected target
            found = dual.gradient([g for g, _ in connected], cotangents,
                                  output_gradients=[v for _, v in connected])
            for k, product in zip(live, found):
                products[k] = product
        return products


def jvp(f: Callable[..., Any], primals: Sequence[Structure], tangents: Sequence[Structure]
        ) -> tuple[Any, Any]:
    """JAX's `jvp`: `(f(*primals), J · tangents)`, where `primals` and `tangents` are tuples (or
    lists) of f's positional arguments, arrays or Tensors (or structures of them). Outputs that
    do not depend on the arguments get zero tangents, as in JAX."""
    for name, value in (("primals", primals), ("tangents", tangents)):
        if not isinstance(value, (tuple, list)):
            raise TypeError(f"jvp: {name} must be a tuple or list of f's positional arguments, "
                            f"got {type(value).__name__}")
    args = [_as_tensors(p) for p in primals]
    tangents = _unflatten(args, iter([t for _, _, t in _paired(args, list(tangents), "jvp")]))
    with ForwardAccumulator(args, tangents) as accumulator:
        out = f(*args)
    out = _as_tensors(out)  # a constant result (a number) has a zero tangent
    return out, accumulator.jvp(out, unconnected_gradients=UnconnectedGradients.ZERO)


def jacobian(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Tensor]:
    """autograd's `jacobian`: a function of f's arguments returning d f / d args[argnum], shaped
    `out.shape + in.shape` (one reverse sweep per entry of the output)."""

    def jacobian_of_f(*args, **kwargs):
        args, x = _argument(args, argnum, "jacobian")
        with GradientTape() as tape:
            tape.watch(x)
            out = _as_tensors(f(*args, **kwargs))
        if not isinstance(out, Tensor):
            raise TypeError(f"jacobian: f must return one Tensor, got {type(out).__name__}")
        return tape.jacobian(out, x, unconnected_gradients=UnconnectedGradients.ZERO)

    return jacobian_of_f


def hessian(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Tensor]:
    """autograd's `hessian` of scalar-valued f: the Jacobian of its gradient, shaped
    `in.shape + in.shape`."""
    return jacobian(grad(_scalar_valued(f, "hessian"), argnum), argnum)


def hvp(f: Callable[..., Any], argnum: int = 0) -> Callable[..., Tensor]:
    """autograd's `hessian_vector_product`: a function `(*args, vector) -> H · vector`, H the
    Hessian of scalar-valued f with respect to args[argnum], computed without forming H: the
    gradient of `<grad f, vector>` (reverse over reverse, two sweeps)."""
    gradient = grad(_scalar_valued(f, "hvp"), argnum)

    def product(*args, **kwargs):
        if not args:
            raise TypeError("hvp: call it with f's arguments and then the vector")
        *args, vector = args
        args, x = _argument(args, argnum, "hvp")
        vector = _tangent(x, vector, "the vector", "hvp")
        directional = lambda *a, **k: _sum(gradient(*a, **k) * vector)  # noqa: E731
        return grad(directional, argnum)(*args, **kwargs)

    return product


# --- helpers ---------------------------------------------------------------------------------
def _has_derivatives(x):
    """Whether a tensor carries tangents and gradients: floating-point values do, integers not."""
    return x.dtype.kind in "fc"


def _paired(primals, tangents, who, where=""):
    """(where, primal, tangent) for each leaf of `primals` and the leaf of `tangents` in the
    same place (`where`: "[1]['w']"), the tangent checked and made a Tensor (`_tangent`)."""
    if isinstance(primals, (dict, list, tuple)):
        kind = dict if isinstance(primals, dict) else (list, tuple)
        if not isinstance(tangents, kind) or len(tangents) != len(primals) or (
                kind is dict and tangents.keys() != primals.keys()):
            raise ValueError(f"{who}: tangents{where} must have the structure of "
                             f"primals{where}: {_describe(primals)} vs {_describe(tangents)}")
        keys = primals.keys() if kind is dict else range(len(primals))
        for key in keys:
            yield from _paired(primals[key], tangents[key], who, f"{where}[{key!r}]")
        return
    if not isinstance(primals, Tensor):
        raise TypeError(f"{who}: primals{where} is a {type(primals).__name__}; primals must be "
                        "Tensors or Variables (wrap arrays in tflc.Tensor)")
    yield where, primals, _tangent(primals, tangents, f"tangents{where}", who)


def _tangent(primal, tangent, name, who):
    """`tangent` (called `name` in errors) checked against `primal`: a Tensor of the primal's
    dtype stays as it is; an array or number is copied into one of that dtype (as TF converts
    it); the shapes must agree."""
    if isinstance(tangent, Tensor):
        if tangent.dtype != primal.dtype and _has_derivatives(primal):
            raise TypeError(f"{who}: {name} is a {tangent.dtype} Tensor but its primal is "
                            f"{primal.dtype}; cast it (or pass an array, which is converted)")
    else:
        array = as_array(tangent, who)
        if array.dtype.kind not in "iuf" + ("c" if primal.dtype.kind == "c" else ""):
            raise TypeError(f"{who}: {name} holds {array.dtype} values, which cannot be a "
                            f"tangent of a {primal.dtype} primal")
        tangent = Tensor(array.astype(primal.dtype))  # a copy: later edits do not leak in
    if tangent.shape != primal.shape:
        raise ValueError(f"{who}: {name} has shape {tangent.shape} but its primal has shape "
                         f"{primal.shape}")
    return tangent


def _describe(structure):
    if isinstance(structure, (dict, list, tuple)):
        return f"a {type(structure).__name__} of {len(structure)}"
    return f"a {type(structure).__name__}"


def _argument(args, argnum, who):
    """`args` as a list with args[argnum] made a floating-point Tensor (arrays and numbers
    converted, integers to float64, as `grad` takes them), and it."""
    if not is_int(argnum):
        raise TypeError(f"{who}: argnum must be an int, got {argnum!r}")
    if not 0 <= argnum < len(args):
        raise TypeError(f"{who}: argnum {argnum} but f got {len(args)} positional arguments")
    args = list(args)
    args[argnum] = _as_tensors(args[argnum])
    return args, args[argnum]


def _scalar_valued(f, who):
    """f, checked to return a single number (a Hessian is that of a scalar function)."""

    def scalar_f(*args, **kwargs):
        out = f(*args, **kwargs)
        if math.prod(np.shape(out)) != 1:
            raise ValueError(f"{who}: f must return a scalar, got shape {np.shape(out)}")
        return out

    return scalar_f
