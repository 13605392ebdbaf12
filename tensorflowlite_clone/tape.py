"""The tape: primitives record themselves on it, `gradient` sweeps it backwards.

A tape records into a Program (program.py): the Wengert list as data, equations over numbered
slots in execution order. `gradient` resolves its targets and sources to slots and runs the one
backward sweep, `program.backward`, on it.
"""
from __future__ import annotations

import contextlib
import enum
import operator
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Literal

import numpy as np

from .primitive import _state
from .program import Program, Record, _check_finite, backward, depends_on
from .tensor import Structure, Tensor, Variable, _wrap


class UnconnectedGradients(str, enum.Enum):
    """What `gradient` gives a source the target does not depend on (TensorFlow's enum; the
    strings "none" and "zero" are accepted too)."""
    NONE = "none"
    ZERO = "zero"


def unconnected_of(value, who):
    """`value` (an UnconnectedGradients or its string) as the enum, else a ValueError."""
    try:
        return _UNCONNECTED[value]  # (a dict: calling the Enum costs a microsecond)
    except (KeyError, TypeError):
        raise ValueError(f"{who}: unconnected_gradients must be 'none' or 'zero', "
                         f"got {value!r}") from None


_UNCONNECTED = {u.value: u for u in UnconnectedGradients}


class GradientTape:
    """Records ops on watched tensors; `gradient` differentiates a target with respect to sources.

    TensorFlow's semantics: trainable Variables are watched automatically; a non-persistent
    tape answers one `gradient` call (and starts afresh when entered again); unconnected sources
    get None (or zeros); a non-scalar target, or a list of targets, is differentiated as its sum
    unless `output_gradients` seeds it.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True) -> None:
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._fresh()

    def _fresh(self):
        self._program = Program()
        self._variables = []  # the Variables watched here
        self._used = False

    # --- context ----------------------------------------------------------------------------
    def __enter__(self) -> GradientTape:
        if self in _state.tapes:
            raise ValueError("GradientTape: this tape is already recording; it cannot be entered "
                             "again")
        if self._used:  # as tf.GradientTape does: a spent one-shot tape starts afresh
            self._fresh()
        _state.tapes.append(self)
        _state.recording.append(self)
        return self

    def __exit__(self, *exc: object) -> Literal[False]:
        if self not in _state.tapes:
            raise RuntimeError("GradientTape.__exit__: the tape was not entered (in this thread)")
        _state.tapes.remove(self)
        if self in _state.recording:
            _state.recording.remove(self)
        return False

    @contextlib.contextmanager
    def stop_recording(self) -> Iterator[None]:
        """Ops inside this block are not recorded on this tape."""
        if self not in _state.recording:
            raise ValueError("GradientTape.stop_recording: the tape is not recording")
        _state.recording.remove(self)
        try:
            yield
        finally:
            if self in _state.tapes and not self._used:
                _state.recording.append(self)

    # --- what is watched ----------------------------------------------------------------------
    def watch(self, tensor: Structure) -> None:
        """Watch a Tensor or a floating-point NumPy array (or a list/tuple/dict of them). An
        integer or boolean one has no gradient: as in TF, it is left unwatched, with a warning."""
        for x in _flatten(tensor):
            if not isinstance(x, (Tensor, np.ndarray)):
                raise ValueError(f"watch: expected a Tensor or NumPy array, got {type(x).__name__}")
            if x.dtype.kind not in "fc":
                warnings.warn(f"watch: a tensor of dtype {x.dtype} has no gradient (only "
                              "floating-point values do); it is not watched", RuntimeWarning,
                              stacklevel=3)
                continue
            self._watch(x)

    def _watch(self, x):
        if id(x) not in self._program.slot_of and isinstance(x, Variable):
            self._variables.append(x)
        return self._program.leaf(x)

    def record(self, op, inputs, values, output, value, params, where):
        """Called by every primitive as it runs: the tape keeps the call if it can carry a
        gradient back to something watched, that is when the result is floating-point and an
        input is watched or computed here. A trainable floating-point Variable is watched as it
        is first used (TF's watch_accessed_variables)."""
        if not op.differentiable or value.dtype.kind not in "fc":
            return
        slot_of, slots = self._program.slot_of, []
        for x in inputs:  # (a loop, not a comprehension: this runs on every op)
            slot = slot_of.get(id(x))
            if slot is None and type(x) is Variable:
                slot = self._variable_slot(x)
            slots.append(slot)
        if slots.count(None) != len(slots):  # something here leads back to a watched value
            self._program.add(op, inputs, tuple(slots), values, output, value, params, where)

    def _variable_slot(self, x):
        """The slot of a Variable met for the first time: watched if it is trainable and floats."""
        if x.trainable and x._value.dtype.kind in "fc" and self.watch_accessed_variables:
            self._variables.append(x)  # (what _watch does, for a Variable it has not seen)
            return self._program.leaf(x)
        return None

    def watched_variables(self) -> tuple[Variable, ...]:
        """The Variables this tape watches, in the order they were created (as in TF)."""
        return tuple(sorted(self._variables, key=lambda v: v._order))

    @property
    def records(self) -> tuple[Record, ...]:
        """The recorded ops in execution order, as (op, inputs, output, params, where) records
        (read them; do not change them). A one-shot tape's `gradient` call releases them."""
        return self._program.records()

    @property
    def program(self) -> Program:
        """The recorded computation itself (program.py): equations over slots."""
        return self._program

    def reset(self) -> None:
        """Forget everything recorded and watched, as if the tape were new. As in TF, only
        while the tape records (inside its `with` block)."""
        if self not in _state.recording:
            raise ValueError("GradientTape.reset: the tape is not recording; call reset inside "
                             "its `with` block")
        self._fresh()

    # --- differentiation ----------------------------------------------------------------------
    def gradient(self, target: Structure, sources: Structure,
                 output_gradients: Structure | None = None,
                 unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE) -> Any:
        """d(sum of target) / d(source) for each source, in the structure of `sources`.

        `target` is a Tensor or a list (tuple, dict) of them, differentiated as their sum;
        `output_gradients`, in the structure of `target`, weights each one instead of ones."""
        unconnected = unconnected_of(unconnected_gradients, "gradient")
        self._check_usable("gradient")
        targets, seeds = self._targets(target, output_gradients)
        flat_sources = self._sources(sources)
        grads = self._sweep(targets, seeds, flat_sources, release=not self.persistent)
        if unconnected is UnconnectedGradients.ZERO:
            grads = [np.zeros_like(_array(s)) if g is None else g
                     for g, s in zip(grads, flat_sources)]
        handed_out = set(map(id, seeds))  # a seed may be the caller's own array
        results = [_as_result(g, handed_out) for g in grads]
        if type(sources) is list and len(sources) == len(flat_sources) and all(
                map(operator.is_, sources, flat_sources)):
            return results  # a flat list (the common case): no structure to rebuild
        return _unflatten(sources, iter(results))

    def jacobian(self, target: Tensor, sources: Structure,
                 unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE,
                 parallel_iterations: int | None = None, experimental_use_pfor: bool = True) -> Any:
        """d target[i] / d source[j] for every entry of the target and each source: shaped
        `target.shape + source.shape`, in the structure of `sources`, as in TF (one backward
        sweep per entry of the target; the last two arguments are TF's and change nothing)."""
        return self._jacobian(target, sources, unconnected_gradients, batched=False)

    def batch_jacobian(self, target: Tensor, source: Tensor,
                       unconnected_gradients: UnconnectedGradients | str = UnconnectedGradients.NONE,
                       parallel_iterations: int | None = None,
                       experimental_use_pfor: bool = True) -> Any:
        """d target[b, i] / d source[b, j] for each example b of a batch whose examples do not
        interact: shaped `(B,) + target.shape[1:] + source.shape[1:]`, as in TF (one backward
        sweep per entry of one example's target)."""
        return self._jacobian(target, source, unconnected_gradients, batched=True)

    def _jacobian(self, target, sources, unconnected_gradients, batched):
        what = "batch_jacobian" if batched else "jacobian"
        unconnected = unconnected_of(unconnected_gradients, what)
        self._check_usable(what)
        if isinstance(target, _NESTED):
            raise TypeError(f"{what}: target must be one Tensor, got a {type(target).__name__}")
        targets, _ = self._targets(target, None, what)
        flat_sources = self._sources(sources, what)
        value = _array(target)
        if batched:
            for s in [value, *map(_array, flat_sources)]:
                if s.ndim == 0 or s.shape[0] != value.shape[0]:
                    raise ValueError(f"batch_jacobian: the target {value.shape} and the source "
                                     f"{_array(flat_sources[0]).shape} must share their first "
                                     "(batch) axis")
        entries = list(np.ndindex(value.shape[1:] if batched else value.shape)) if targets else []
        on_tensors = bool(_state.recording)
        rows = []
        for k, entry in enumerate(entries):
            seed = np.zeros(value.shape, value.dtype)
            seed[(slice(None),) + entry if batched else entry] = 1
            seed = _wrap(seed) if on_tensors else seed
            rows.append(self._sweep([target], [seed], flat_sources,
                                    release=not self.persistent and k == len(entries) - 1))
        if not entries and not self.persistent:  # an empty target: no sweep ran
            self._fresh()
            self._used = True
        results = []
        for j, s in enumerate(flat_sources):
            s = _array(s)
            full = value.shape + (s.shape[1:] if batched else s.shape)
            parts = [row[j] for row in rows]
            if all(p is None for p in parts):
                results.append(np.zeros(full, s.dtype)
                               if unconnected is UnconnectedGradients.ZERO else None)
                continue
            parts = [np.zeros(s.shape, s.dtype) if p is None else p for p in parts]
            results.append(_stacked(parts, axis=1 if batched else 0).reshape(full))
        return _unflatten(sources, iter([_as_result(r, set()) for r in results]))

    def _check_usable(self, what):
        if self.persistent:
            return
        if self._used:
            raise RuntimeError(f"{what}: a non-persistent GradientTape can only be asked once "
                               "(its records are released); use GradientTape(persistent=True)")
        if self in _state.recording:  # as tf.GradientTape does: answer, and stop recording
            _state.recording.remove(self)

    def _targets(self, target, output_gradients, what="gradient"):
        """The flat targets and the seed of each (ones, or its `output_gradients`)."""
        if type(target) is Tensor and output_gradients is None and target._value.dtype.kind in "fc":
            return [target], [_seed(target, None, bool(_state.recording))]  # (the common case)
        targets = _flatten(target)
        if output_gradients is None:
            weights = [None] * len(targets)
        elif isinstance(target, _NESTED):
            weights = _flatten(output_gradients)
            if len(weights) != len(targets):
                raise ValueError(f"{what}: {len(weights)} output_gradients for {len(targets)} "
                                 "targets")
        else:
            weights = [output_gradients]
        for t in targets:
            if not isinstance(t, (Tensor, np.ndarray)):
                raise TypeError(f"{what}: target must be a Tensor, got {type(t).__name__}")
            if t.dtype.kind not in "fc":  # as in TF: it carries no gradient
                warnings.warn(f"{what}: a target of dtype {t.dtype} has no gradient",
                              RuntimeWarning, stacklevel=3)
        on_tensors = bool(_state.recording)
        kept = [(t, _seed(t, w, on_tensors)) for t, w in zip(targets, weights)
                if t.dtype.kind in "fc"]
        return [t for t, _ in kept], [seed for _, seed in kept]

    def _sources(self, sources, what="gradient"):
        flat_sources = _flatten(sources)
        for k, s in enumerate(flat_sources):
            kind = type(s)  # (the common case, quickly: no property calls)
            if (kind is Tensor or kind is Variable) and s._value.dtype.kind == "f" or (
                    kind is np.ndarray and s.dtype.kind == "f"):
                continue
            if not isinstance(s, (Tensor, np.ndarray)):
                raise TypeError(f"{what}: source {k} is {type(s).__name__}; only Tensors or "
                                "arrays have gradients")
            if s.dtype.kind not in "fc":  # as in TF: no gradient, and a warning
                warnings.warn(f"{what}: source {k} holds {s.dtype}, which has no gradient",
                              RuntimeWarning, stacklevel=3)
        return flat_sources

    def _sweep(self, targets, seeds, flat_sources, release):
        """The gradient of the targets, seeded by `seeds`, for each source (None: unconnected).
        A target is its own source (du/du = 1, as in TF), watched or not."""
        program = self._program
        slot_of = program.slot_of
        sources = list(map(slot_of.get, map(id, flat_sources)))  # None: never watched nor computed
        connected = [s for s in sources if s is not None]
        # when every leaf is a source, every slot depends on one (None)
        depends = (None if set(program.leaves) <= set(connected) else
                   depends_on(program.equations, connected))
        pairs, own = [], {}
        for target, seed in zip(targets, seeds):
            slot = slot_of.get(id(target))
            if slot is None:  # not on this tape: it can only be its own source
                own[id(target)] = seed if id(target) not in own else own[id(target)] + seed
            else:
                pairs.append((slot, seed))
        equations = program.equations
        tracing = _state.tracing  # (a trace's passes want to know which value is which gradient)
        on_adjoint = (tracing.adjoint_notes(program.entries) if tracing is not None and _state.recording
                      else None)
        if release:  # now: each array goes once the last VJP that reads it has run
            program.release()
            self._used, self._program = True, Program()
        grads = backward(equations, pairs, connected, depends, bool(_state.recording),
                         release=release, anomaly=_state.anomaly, on_adjoint=on_adjoint)
        return [own.get(id(x)) if slot is None else grads.get(slot)
                for x, slot in zip(flat_sources, sources)]


def _array(x):
    return x._value if isinstance(x, Tensor) else x


def _stacked(parts, axis):
    """np.stack(parts, axis), recorded when the parts are Tensors (an outer tape is listening)."""
    if not any(isinstance(p, Tensor) for p in parts):
        return np.stack(parts, axis)
    from .ops import scatter_add  # (ops import this module)
    shape = parts[0].shape[:axis] + (len(parts),) + parts[0].shape[axis:]
    total = None
    for k, part in enumerate(parts):  # each part scattered into its slice, summed
        index = (slice(None),) * axis + (k,)
        placed = scatter_add.bind(part, index, shape)
        total = placed if total is None else total + placed
    return total


def _seed(target, output_gradients, on_tensors):
    """The gradient the sweep starts from: ones (sum of the target) or `output_gradients`."""
    value = target._value if isinstance(target, Tensor) else target
    if output_gradients is None:
        seed = np.empty(value.shape, value.dtype)  # and fill: np.ones is a slow Python wrapper
        seed[...] = 1.0
        return _wrap(seed) if on_tensors else seed
    seed = output_gradients if isinstance(output_gradients, Tensor) else Tensor(output_gradients)
    if seed.shape != value.shape:
        raise ValueError(f"gradient: output_gradients of shape {seed.shape} does not match "
                         f"the target's shape {value.shape}")
    if seed.dtype.kind == "c" and value.dtype.kind != "c":  # astype would drop the imaginary part
        raise TypeError(f"gradient: output_gradients are complex ({seed.dtype}) but the target "
                        f"is real ({value.dtype})")
    if _state.anomaly:  # else the first VJP to pass it on would be blamed
        _check_finite(seed._value, "gradient: output_gradients hold {}")
    if seed.dtype != value.dtype:
        seed = seed.astype(value.dtype)
    return seed if on_tensors else seed._value


def _as_result(g, handed_out):
    """Wrap a gradient as a Tensor the caller owns: never a read-only broadcast view, never an
    array already handed out (y = a + b gives a and b the very same gradient array)."""
    if g is None or isinstance(g, Tensor):
        return g
    if g.base is not None and not g.flags.writeable or id(g) in handed_out:  # (new: writeable)
        g = g.copy()
    handed_out.add(id(g))
    return _wrap(g) if type(g) is np.ndarray else Tensor(g)  # a NumPy scalar (0-d sum) converts


# --- structure of `sources`: a tensor, or lists / tuples / dicts of them ---------------------
_NESTED = (list, tuple, dict)


def _flatten(structure):
    """The leaves of `structure`, in order (a loop, not a recursion per leaf: this runs on
    every gradient call)."""
    if not isinstance(structure, _NESTED):
        return [structure]
    leaves = []
    for item in structure.values() if isinstance(structure, dict) else structure:
        if isinstance(item, _NESTED):
            leaves.extend(_flatten(item))
        else:
            leaves.append(item)
    return leaves


def _unflatten(structure, leaves):
    """`structure` with its leaves replaced, in order, by those of the iterator `leaves`."""
    if not isinstance(structure, _NESTED):
        return next(leaves)
    if isinstance(structure, dict):
        return {key: _unflatten(item, leaves) if isinstance(item, _NESTED) else next(leaves)
                for key, item in structure.items()}
    items = [_unflatten(item, leaves) if isinstance(item, _NESTED) else next(leaves)
             for item in structure]
    if type(structure) is list:
        return items
    if hasattr(structure, "_fields"):  # a namedtuple takes its items as arguments
        return type(structure)(*items)
    return type(structure)(items)


# --- functional helpers ----------------------------------------------------------------------
def value_and_grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0
                   ) -> Callable[..., tuple[Tensor, Any]]:
    """`f`'s value and its gradient with respect to the positional arguments `argnums`.

    Arguments may be arrays or Tensors, or lists / tuples / dicts of them; gradients come back
    as Tensors in the same structure (zeros when unconnected).
    Nesting works: `grad(grad(f))` differentiates twice.
    """
    single, nums = argnums_of(argnums, "value_and_grad")

    def wrapped(*args, **kwargs):
        args = list(args)
        for i in nums:
            if i >= len(args):
                raise TypeError(f"value_and_grad: argnums {i} but only {len(args)} positional arguments")
            args[i] = _as_tensors(args[i])
        sources = [args[i] for i in nums]
        with GradientTape() as tape:
            tape.watch(sources)
            value = f(*args, **kwargs)
        if not isinstance(value, Tensor):  # a constant: its gradient is zero, as for Tensor(1.0)
            if not isinstance(value, (np.ndarray, np.number, float, int)):
                raise TypeError(f"value_and_grad: f returned {type(value).__name__}; it must "
                                "return a Tensor or a number")
            value = Tensor(value)
        grads = tape.gradient(value, sources, unconnected_gradients="zero")
        return value, grads[0] if single else tuple(grads)

    wrapped.__wrapped__ = f  # (what jit's explain() names)
    return wrapped


def argnums_of(argnums, who):
    """(whether `argnums` is a single int, the argument numbers as a tuple of ints)."""
    if is_int(argnums):
        return True, (int(argnums),)
    if isinstance(argnums, (tuple, list)) and argnums and all(map(is_int, argnums)):
        return False, tuple(map(int, argnums))
    raise TypeError(f"{who}: argnums must be an int or a tuple of ints, got {argnums!r}")


def is_int(x):
    """Whether `x` is an integer as NumPy's axes and Python's indices take it (not a bool)."""
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _as_tensors(structure):
    """`structure` (an array, a Tensor, or lists / tuples / dicts of them) with Tensors for leaves;
    integers and booleans become float64 (a differentiated argument: `grad(f)(3)` means 3.0)."""
    return _unflatten(structure, (x if isinstance(x, Tensor) and x.dtype.kind in "fc" else
                                  _floating(Tensor(x)) for x in _flatten(structure)))


def _floating(tensor):
    """A floating-point Tensor for a differentiated argument: an integer one cast to float64 by
    the engine's `cast` (an op: a trace recording the call replays it on the next integers)."""
    if tensor.dtype.kind in "fc":
        return tensor
    from .ops import cast  # (ops import this module)
    return cast(tensor, np.float64)


def grad(f: Callable[..., Any], argnums: int | Sequence[int] = 0) -> Callable[..., Any]:
    """The gradient of scalar-valued `f` with respect to its argument(s) `argnums`."""
    vg = value_and_grad(f, argnums)
    return lambda *args, **kwargs: vg(*args, **kwargs)[1]


