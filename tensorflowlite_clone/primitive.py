"""Primitives: an op's NumPy forward beside its VJPs, and the per-thread state they record into.

    exp = Primitive("exp", np.exp, (lambda g, ans, x: g * ans,), saves="ans")

Calling a primitive converts its inputs, runs the forward pass, names the op in any error,
checks for NaN under detect_anomaly, and hands the call to each recording tape's `record`.
`vjps[k](g, ans, *inputs, *params)` maps the output's gradient `g` to input k's. A VJP is
written with operators, ndarray-style methods and other primitives' `bind`, so the same code
runs on arrays (the plain sweep) and on Tensors (a sweep recorded on an outer tape, which is
how higher-order derivatives and compiled backward passes come for free).

`saves` names the values the VJPs read ("ans", or the VJP's names for the inputs, "x y");
the other inputs reach the VJPs as their shape and dtype only (an `Aval`), or as None when the
VJP's name for them starts with "_" (`lambda g, ans, _x: g * ans`: x is not read at all), an
unsaved `ans` as None (g has its shape), at every size: a wrong declaration fails in any test,
and what is not saved is freed as early as it can be.
"""
from __future__ import annotations

import contextlib
import inspect
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from .program import _check_finite, non_finite
from .tensor import Tensor, as_array


class _State(threading.local):
    """What is recording, per thread (as in TensorFlow): a tape sees only its own thread's ops."""

    def __init__(self):
        self.tapes = []         # tapes inside their `with` block, innermost last
        self.recording = []     # those of them currently recording
        self.anomaly = False    # set by detect_anomaly()
        self.tracing = None     # the tape recording a trace (tracing.py), if any


_state = _State()


class Primitive:
    """A differentiable op: a NumPy `forward` and one VJP per input (None: not differentiable).

    `saves`: the VJP arguments they read (see the module docstring); by default all of them.
    `prepare(*args, **kwargs) -> (inputs, params)`: the public signature, when it is more than
    inputs then parameters (`sum(x, axis=None, keepdims=False)`), checking the parameters.
    `label(*params) -> str`: how a picture writes the parameters (`axis=1, keepdims`).
    `method` / `operator`: the Tensor method (`"sum"`: `x.sum()`) or operator (`"__add__"`:
    `+`, and `__radd__` for the arithmetic ones) the op also is. `shape_error`: the message for
    a ValueError, formatted with the input shapes (`"cannot multiply {} by {}"`). `rule`: one
    text per input (None: none) saying in math what its VJP computes, for the explorer
    (`viz.explore`): `matmul`'s `("{g} · {b}ᵀ", "{a}ᵀ · {g}")`; the placeholders are the VJP's
    own argument names (g, ans, the inputs, the parameters), filled with names and shapes
    (`dW1 (64, 100) = Xᵀ (64, 200) · g (200, 100)`). An op without
    any VJP, like stop_gradient, is never recorded on a gradient tape: nothing could flow back
    through it.
    """

    __slots__ = ("name", "forward", "vjps", "paths", "arity", "differentiable", "unsaved",
                 "forgets_ans", "reads_no_input", "reads_only_shapes",
                 "prepare", "label", "method", "operator", "shape_error", "doc", "rule")

    def __init__(self, name: str, forward: Callable[..., Any],
                 vjps: Iterable[Callable[..., Any] | None], shape_error: str | None = None, *,
                 saves: str | None = None,
                 prepare: Callable[..., tuple[tuple[Any, ...], tuple[Any, ...]]] | None = None,
                 label: Callable[..., str] | None = None, method: str | None = None,
                 operator: str | None = None, doc: str | None = None,
                 rule: Sequence[str | None] | None = None) -> None:
        self.name, self.forward, self.vjps = name, forward, tuple(vjps)
        self.arity = len(self.vjps)
        # (k, VJP) for the inputs with one: what the sweep loops over
        self.paths = tuple((k, vjp) for k, vjp in enumerate(self.vjps) if vjp is not None)
        self.differentiable = any(vjp is not None for vjp in self.vjps)
        unsaved = _unsaved(name, self.vjps, saves)  # over (ans, *inputs)
        self.forgets_ans = any(k == 0 for k, _ in unsaved)
        self.unsaved = tuple((k - 1, as_aval) for k, as_aval in unsaved if k > 0)  # of inputs
        # all None when the VJPs read no input at all, not even its shape (a shared tuple)
        unread = len(self.unsaved) == self.arity and not any(a for _, a in self.unsaved)
        self.reads_no_input = (None,) * self.arity if unread and self.arity else None
        self.reads_only_shapes = (len(self.unsaved) == self.arity > 0
                                  and all(a for _, a in self.unsaved))
        self.prepare, self.label, self.shape_error = prepare, label, shape_error
        self.method, self.operator, self.doc = method, operator, doc
        if rule is not None and len(rule) != self.arity:
            raise ValueError(f"Primitive {name}: {len(rule)} rules for {self.arity} inputs")
        self.rule = None if rule is None else tuple(rule)

    def __call__(self, *args: Any, **kwargs: Any) -> Tensor:
        if self.prepare is None:
            if len(args) == self.arity:  # (no parameters: slicing costs as much as the rest)
                inputs, params = args, ()
            else:
                inputs, params = args[:self.arity], args[self.arity:]
        else:
            inputs, params = self.prepare(*args, **kwargs)
        values = []
        for x in inputs:  # (a loop, not a helper: this runs on every op)
            if isinstance(x, Tensor):
                values.append(x._value)
            elif type(x) in _NUMBERS or type(x) is np.ndarray and x.dtype.kind in "biufc":
                values.append(x)
            else:  # anything else needs converting (rare)
                inputs, values = _converted(self, inputs)
                break
        try:  # (no `*params` when there are none: building the arguments costs as much)
            value = self.forward(*values, *params) if params else self.forward(*values)
        except _REWORDED as error:
            raise self.error(error, [np.shape(v) for v in values]) from None
        if type(value) is not np.ndarray:  # a NumPy or Python scalar
            value = np.asarray(value)
        output = _new(Tensor)  # (_wrap, inlined)
        output._value = value
        output.name = None
        state = _state
        if state.anomaly or state.tracing is not None:
            self._noted(state, inputs, values, output, value, params)
        else:  # (the common case, in as few steps as it takes)
            for tape in state.recording:
                tape.record(self, inputs, values, output, value, params, None)
        return output

    def _noted(self, state, inputs, values, output, value, params):
        """`__call__`'s recording under detect_anomaly (checked, with the user's line) or while a
        trace records."""
        where = None
        if state.anomaly:
            where = _user_frame()
            _check_forward(self, value, values, where)
        if state.recording:
            if state.tracing is not None:  # raw argument arrays as the trace's Tensors, for every
                inputs = state.tracing.as_tensors(inputs)  # tape: VJPs must meet them as Tensors
            for tape in state.recording:
                tape.record(self, inputs, values, output, value, params, where)

    def bind(self, *args: Any) -> Any:
        """The op as a VJP uses it: on arrays, the bare forward (an array out); when an input is
        a Tensor, the recorded op (a Tensor out). Parameters come as the forward takes them."""
        if _state.recording:  # (else a VJP runs on arrays: the plain sweep)
            for x in args[:self.arity]:
                if isinstance(x, Tensor):
                    return self(*args)
        return self.forward(*args)

    def error(self, error: Exception, shapes: Sequence[tuple[int, ...]]) -> Exception:
        """`error`, raised by this op's forward on inputs of `shapes`, reworded to name the op:
        `matmul: cannot multiply (3, 4) by (5, 2)`, `reshape: ...`."""
        if isinstance(error, (ValueError, IndexError)):
            message = (self.shape_error.format(*shapes) if self.shape_error else
                       f"{error} (input shapes {', '.join(map(str, shapes))})")
        else:
            message = str(error)
        return reworded(error, f"{self.name}: {message}")

    def __repr__(self):
        return f"<primitive {self.name}>"


def _unsaved(name, vjps, saves):
    """The VJP arguments after g, (ans, *inputs), that the op does not save, as (position,
    whether it is passed as an Aval) pairs: an input's shape is kept unless the VJP's name for
    it starts with "_" (not read at all: None); an unsaved ans is None (g has its shape)."""
    if saves is None:
        return ()
    vjp = next((v for v in vjps if v is not None), None)
    names = list(inspect.signature(vjp).parameters)[1:len(vjps) + 2] if vjp else []
    unknown = set(saves.split()) - set(names)
    if unknown:
        raise ValueError(f"Primitive {name}: saves names {sorted(unknown)}, but its VJPs' value "
                         f"arguments are {names}")
    return tuple((k, k > 0 and not n.startswith("_")) for k, n in enumerate(names)
                 if n not in saves.split())


_new = object.__new__
_NUMBERS = (float, int)  # not bool, whose type is not int
_REWORDED = (ValueError, IndexError, TypeError, OverflowError, MemoryError)


def _converted(op, inputs):
    """(inputs, their values) for inputs that are not all Tensors, Python numbers and arrays of
    numbers: NumPy scalars become Python numbers, which NumPy types weakly, so no scalar upcasts
    float32 (a NumPy float64 scalar would); lists become arrays (`as_array`); anything that is
    not numbers is refused."""
    converted = []
    for x, vjp in zip(inputs, op.vjps):
        if isinstance(x, np.number) and vjp is not None:  # (np.float64 is a float too)
            converted.append(x.item())
        elif vjp is None or isinstance(x, (Tensor, float, int)) and not isinstance(x, bool):
            converted.append(x)
        elif isinstance(x, (list, tuple)) and any(isinstance(i, Tensor) for i in _leaves(x)):
            raise TypeError(f"{op.name}: got a {type(x).__name__} of Tensors; turning it into an "
                            "array would drop their gradients (combine them with the engine's ops)")
        else:
            converted.append(as_array(x, op.name))
    return tuple(converted), [x._value if isinstance(x, Tensor) else x for x in converted]


def _leaves(x):
    for item in x:
        if isinstance(item, (list, tuple)):
            yield from _leaves(item)
        else:
            yield item


def reworded(error, message):
    """An exception of `error`'s class (or of the builtin class it derives from, when its
    constructor wants more than a message) carrying `message`."""
    try:
        new = type(error)(message)
        if str(new) == message:
            return new
    except Exception:  # e.g. NumPy's UFuncTypeError, _ArrayMemoryError
        pass
    return next(kind for kind in type(error).__mro__ if kind.__module__ == "builtins")(message)


# --- anomaly detection -------------------------------------------------------------------------
@contextlib.contextmanager
def detect_anomaly() -> Iterator[None]:
    """Raise FloatingPointError at the first op whose forward or backward produces NaN or inf,
    naming the op and the line of user code that recorded it."""
    previous = _state.anomaly
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = previous


def _check_forward(op, value, inputs, where):
    """detect_anomaly's check of a forward pass; NaN or inf that came in with the inputs is not
    the op's doing, so the message says where it came from instead."""
    if non_finite(value):
        came_in = next(filter(None, map(non_finite, inputs)), None)
        _check_finite(value, f"an input of {op.name} already held {came_in}: it came from outside "
                      "the engine's ops, or from ops run outside detect_anomaly()" if came_in else
                      f"{op.name} produced {{}} in its forward pass", where)


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _in_package(folder):
    return folder == _PACKAGE_DIR or folder.startswith(_PACKAGE_DIR + os.sep)


def _user_frame():
    """'file:line' of the innermost caller outside the engine."""
    frame = sys._getframe(1)
    while frame and _in_package(os.path.dirname(os.path.abspath(frame.f_code.co_filename))):
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "unknown"
