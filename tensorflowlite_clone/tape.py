"""The tape: primitives record themselves on it, `gradient` sweeps it backwards.

A tape is a plain list of records in execution order (a Wengert list). Execution order is
already a topological order, so the backward sweep is one reversed loop: no recursion, no sort.
"""
import contextlib
import enum
import os
import sys
import threading
import warnings

import numpy as np

from .tensor import Tensor, Variable, _wrap, as_array

class _State(threading.local):
    """What is recording, per thread (as in TensorFlow): a tape sees only its own thread's ops."""

    def __init__(self):
        self.tapes = []         # tapes inside their `with` block, innermost last
        self.recording = []     # those of them currently recording
        self.anomaly = False    # set by detect_anomaly()
        self.tracing = None     # the tape recording a trace (tracing.py), if any


_state = _State()


class Record:
    """One executed op: what ran, on what, with which parameters, producing which tensor.
    `key` is the output's identity (id); `keys` the inputs', once a one-shot sweep has let the
    inputs go (`inputs` None then); `shared` whether more than one tape holds the record."""

    __slots__ = ("op", "inputs", "values", "output", "params", "where", "key", "keys", "shared")

    def __init__(self, op, inputs, values, output, params, where):
        self.op, self.inputs, self.values, self.output = op, inputs, values, output
        self.params, self.where = params, where
        self.key, self.keys, self.shared = id(output), None, False

    def __repr__(self):
        shape = "(released)" if self.output is None else self.output.shape
        return f"<Record {self.op.name} -> {shape}>"


class Primitive:
    """A differentiable op: a NumPy `forward` and one VJP per input (None: not differentiable).

    Calling it converts the inputs, runs the forward pass and records the call on every
    recording tape that watches one of the inputs (an op without any VJP, like stop_gradient, is
    never recorded: nothing could flow back through it). `vjps[k](g, ans, *inputs, *params)` maps
    the output's gradient `g` to input k's; it is written with operators and ndarray-style
    methods, so the same code runs on raw arrays (plain sweep) and on Tensors (recorded on an
    outer tape, which is how higher-order derivatives come for free). A VJP returns a new
    array, `g` itself or a view, never another array it was given: the sweep adds into new
    arrays in place.

    `needs_output=False` says no VJP reads `ans`, `needs_inputs=False` that none reads an
    input's value (only its shape and dtype): a one-shot sweep then lets those arrays go
    before it starts (if the tape holds a big one), so the backward pass does not hold every
    intermediate of the forward.
    """

    __slots__ = ("name", "forward", "vjps", "shape_error", "arity", "differentiable",
                 "needs_output", "needs_inputs")

    def __init__(self, name, forward, vjps, shape_error=None, needs_output=True, needs_inputs=True):
        self.name, self.forward, self.vjps, self.shape_error = name, forward, vjps, shape_error
        self.arity = len(vjps)
        self.differentiable = any(vjp is not None for vjp in vjps)
        self.needs_output, self.needs_inputs = needs_output, needs_inputs

    def __call__(self, *args):
        inputs, params = args[:self.arity], args[self.arity:]
        values = []
        for x in inputs:
            if isinstance(x, Tensor):  # a Tensor always holds numbers
                values.append(x._value)
            elif type(x) in _NUMBERS or type(x) is np.ndarray and x.dtype.kind in "biufc":
                values.append(x)
            else:  # anything else needs converting (rare)
                inputs = tuple(_entering(x, self.name) if vjp else x
                               for x, vjp in zip(inputs, self.vjps))
                values = [x._value if isinstance(x, Tensor) else x for x in inputs]
                break
        try:
            value = self.forward(*values, *params)
        except _REWORDED as error:
            raise self.error(error, [np.shape(v) for v in values]) from None
        if type(value) is not np.ndarray:  # a NumPy or Python scalar
            value = np.asarray(value)
        output = _wrap(value)
        state = _state
        where = None
        if state.anomaly:
            where = _user_frame()
            _check_forward(self, value, values, where)
        if state.recording:
            record = None
            for tape in state.recording:
                if tape._will_record(self, inputs, value):
                    if record is None:
                        record = Record(self, inputs, values, output, params, where)
                    else:  # nested tapes: a one-shot sweep of one must leave it whole
                        record.shared = True
                    tape._records.append(record)
                    tape._watched[record.key] = output
                    if value.size > SMALL:
                        tape._holds_big = True
        return output

    def error(self, error, shapes):
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


_NUMBERS = (float, int)  # not bool, whose type is not int
_REWORDED = (ValueError, IndexError, TypeError, OverflowError, MemoryError)


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


def _entering(x, op):
    """Inputs to differentiable math: Tensors stay; scalars become Python numbers, which NumPy
    types weakly, so no scalar upcasts float32 (a NumPy float64 scalar would); arrays of numbers
    keep their identity (`as_array`); anything else is a TypeError."""
    if isinstance(x, np.number):
        return x.item()
    if isinstance(x, (Tensor, float, int)) and not isinstance(x, bool):
        return x
    if isinstance(x, (list, tuple)) and any(isinstance(item, Tensor) for item in _flatten(x)):
        raise TypeError(f"{op}: got a {type(x).__name__} of Tensors; turning it into an array "
                        "would drop their gradients (combine them with the engine's ops)")
    return as_array(x, op)


class UnconnectedGradients(str, enum.Enum):
    """What `gradient` gives a source the target does not depend on (TensorFlow's enum; the
    strings "none" and "zero" are accepted too)."""
    NONE = "none"
    ZERO = "zero"


def unconnected_of(value, who):
    """`value` (an UnconnectedGradients or its string) as the enum, else a ValueError."""
    try:
        return UnconnectedGradients(value)
    except ValueError:
        raise ValueError(f"{who}: unconnected_gradients must be 'none' or 'zero', "
                         f"got {value!r}") from None


class GradientTape:
    """Records ops on watched tensors; `gradient` differentiates a target with respect to sources.

    TensorFlow's semantics: trainable Variables are watched automatically; a non-persistent
    tape answers one `gradient` call (and starts afresh when entered again); unconnected sources
    get None (or zeros); a non-scalar target, or a list of targets, is differentiated as its sum
    unless `output_gradients` seeds it.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent = persistent
        self.watch_accessed_variables = watch_accessed_variables
        self._fresh()

    def _fresh(self):
        self._records = []
        self._watched = {}   # id -> tensor (kept alive so ids stay unique): leaves and outputs
        self._leaves = set()  # ids of the tensors watched directly (not computed on the tape)
        self._variables = {}  # id -> Variable watched here
        self._holds_big = False  # whether an op recorded here produced a big array
        self._used = False

    # --- context ----------------------------------------------------------------------------
    def __enter__(self):
        if self in _state.tapes:
            raise ValueError("GradientTape: this tape is already recording; it cannot be entered "
                             "again")
        if self._used:  # as tf.GradientTape does: a spent one-shot tape starts afresh
            self._fresh()
        _state.tapes.append(self)
        _state.recording.append(self)
        return self

    def __exit__(self, *exc):
        if self not in _state.tapes:
            raise RuntimeError("GradientTape.__exit__: the tape was not entered (in this thread)")
        _state.tapes.remove(self)
        if self in _state.recording:
            _state.recording.remove(self)
        return False

    @contextlib.contextmanager
    def stop_recording(self):
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
    def watch(self, tensor):
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
            self._remember(x)

    def _remember(self, x):
        self._watched[id(x)] = x
        self._leaves.add(id(x))
        if isinstance(x, Variable):
            self._variables.setdefault(id(x), x)

    def _will_record(self, op, inputs, value):
        """Whether the tape records `op` on `inputs`, giving `value`: it can carry a gradient
        back to a watched input (an integer or boolean result carries none, as in TF). Watches
        trainable floating-point Variables on first use."""
        if not op.differentiable or value.dtype.kind not in "fc":
            return False
        watched, found = self._watched, False
        for x in inputs:
            if id(x) in watched:
                found = True
            elif (isinstance(x, Variable) and x.trainable and self.watch_accessed_variables
                  and x.dtype.kind in "fc"):
                self._remember(x)  # `watch` without its checks
                found = True
        return found

    def watched_variables(self):
        """The Variables this tape watches, in the order they were created (as in TF)."""
        return tuple(sorted(self._variables.values(), key=lambda v: v._order))

    @property
    def records(self):
        """The recorded ops in execution order (read them; do not change them). A one-shot
        tape's `gradient` call takes its records apart as it sweeps them: read them before."""
        return tuple(self._records)

    def reset(self):
        """Forget everything recorded and watched, as if the tape were new. As in TF, only
        while the tape records (inside its `with` block)."""
        if self not in _state.recording:
            raise ValueError("GradientTape.reset: the tape is not recording; call reset inside "
                             "its `with` block")
        self._fresh()

    # --- differentiation ----------------------------------------------------------------------
    def gradient(self, target, sources, output_gradients=None,
                 unconnected_gradients=UnconnectedGradients.NONE):
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
        handed_out = {id(seed) for seed in seeds}  # a seed may be the caller's own array
        return _unflatten(sources, iter([_as_result(g, handed_out) for g in grads]))

    def jacobian(self, target, sources, unconnected_gradients=UnconnectedGradients.NONE,
                 parallel_iterations=None, experimental_use_pfor=True):
        """d target[i] / d source[j] for every entry of the target and each source: shaped
        `target.shape + source.shape`, in the structure of `sources`, as in TF (one backward
        sweep per entry of the target; the last two arguments are TF's and change nothing)."""
        return self._jacobian(target, sources, unconnected_gradients, batched=False)

    def batch_jacobian(self, target, source, unconnected_gradients=UnconnectedGradients.NONE,
                       parallel_iterations=None, experimental_use_pfor=True):
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
            if not isinstance(s, (Tensor, np.ndarray)):
                raise TypeError(f"{what}: source {k} is {type(s).__name__}; only Tensors or "
                                "arrays have gradients")
            if s.dtype.kind not in "fc":  # as in TF: no gradient, and a warning
                warnings.warn(f"{what}: source {k} holds {s.dtype}, which has no gradient",
                              RuntimeWarning, stacklevel=3)
        return flat_sources

    def _sweep(self, targets, seeds, flat_sources, release):
        """The gradient of the targets, seeded by `seeds`, for each source (None: unconnected)."""
        # as in TensorFlow, a source the tape never watched (nor computed) is unconnected
        records = self._records
        connected = [s for s in flat_sources if id(s) in self._watched]
        # when every leaf is a source, every tensor the tape watches depends on a source
        depends = set(self._watched) if self._leaves <= {id(s) for s in connected} else None
        if release:  # now: the sweep then frees each record once it is used
            self._used, self._records, self._watched, self._leaves = True, [], {}, set()
        grads = _backward(records, targets, seeds, connected, release=release,
                          trim=release and self._holds_big, depends=depends)
        return [grads.get(id(s)) for s in flat_sources]


def _array(x):
    return x._value if isinstance(x, Tensor) else x


def _stacked(parts, axis):
    """np.stack(parts, axis), recorded when the parts are Tensors (an outer tape is listening)."""
    if not any(isinstance(p, Tensor) for p in parts):
        return np.stack(parts, axis)
    from .ops import _scatter_back  # (ops import this module)
    shape = parts[0].shape[:axis] + (len(parts),) + parts[0].shape[axis:]
    total = None
    for k, part in enumerate(parts):  # each part scattered into its slice, summed
        index = (slice(None),) * axis + (k,)
        placed = _scatter_back(part, index, shape)
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


def _backward(records, targets, seeds, sources, release=False, trim=False, depends=None):
    """Sweep `records` in reverse, accumulating d(sum of the targets, each weighted by its seed)
    / d(tensor) in a dict keyed by identity (a target's own entry starts as its seed).

    Only records downstream of a source matter (`depends`: the ids of the tensors that depend on
    a source, found here unless the caller knows them); each record's output gradient is popped
    when consumed (freeing it early) unless that tensor is itself a source. With `release` (the
    tape's records are no longer wanted) `records` is emptied first, so each record is freed
    once swept; with `trim` as well (worth it when they hold big arrays), each record is first
    cut down to what its VJPs read, so intermediates that only the tape held are freed before
    the sweep starts. With an outer tape recording, the VJPs run on Tensors and get recorded
    there (higher-order derivatives).
    """
    keep = {id(s) for s in sources}
    on_tensors = bool(_state.recording)
    if depends is None:
        depends = _downstream(records, keep)
    pending = list(records)
    if release:
        records.clear()
    if trim and not on_tensors:
        for record in pending:
            op = record.op
            if record.shared:  # another tape will read it
                continue
            if not op.needs_output:
                record.output = None
            if not op.needs_inputs:
                _let_inputs_go(record)
    grads = {}
    for target, seed in zip(targets, seeds):
        key = id(target)
        grads[key] = seed if key not in grads else grads[key] + seed
    if depends.isdisjoint(grads):
        return grads
    anomaly = _state.anomaly
    summed = set()  # keys whose gradient is a sum this sweep made (its own array to add into)
    while pending:
        record = pending.pop()
        key = record.key
        g = grads.get(key) if key in keep else grads.pop(key, None)
        if g is None:  # not on the way from a source to the target
            continue
        op, output, values = record.op, record.output, record.values
        if on_tensors:
            args = (g, output, *record.inputs, *record.params)
        else:
            args = (g, output if output is None else output._value, *values, *record.params)
        for key, value, vjp in zip(record.keys or map(id, record.inputs), values, op.vjps):
            if vjp is None or key not in depends:
                continue
            gx = vjp(*args)
            if gx is None:  # (a custom gradient's "no gradient")
                continue
            if gx.dtype is not value.dtype and gx.dtype != value.dtype:  # (`is`: the common case)
                gx = gx.astype(value.dtype)  # e.g. a float32 weight meeting float64 data
            if anomaly:
                _check_finite(gx, f"{op.name} produced {{}} in its backward pass", record.where)
            old = grads.get(key)
            if old is None:
                grads[key] = gx
            elif key in summed:
                grads[key] = _add_more(old, gx)
            else:
                grads[key] = _add_second(old, gx, g)
                summed.add(key)
    return grads


# Sums of gradient contributions, in place where that is safe: into arrays no one else holds (a
# fresh VJP result, a sum made here), never into `g` (which a VJP may pass through), views or
# the caller's arrays.
def _add_second(first, second, g):
    """The sum of a tensor's first two gradient contributions, `second` from a VJP given `g`."""
    if type(second) is np.ndarray and second.base is None and second is not g:
        return np.add(second, first, out=second)
    return first + second


def _add_more(total, more):
    """`total` (made by _add_second) plus a further contribution."""
    if type(total) is np.ndarray:  # not a Tensor, nor a NumPy scalar (a 0-d sum)
        return np.add(total, more, out=total)
    return total + more


def _downstream(records, keys):
    """The ids of the tensors computed from `keys` (and those keys)."""
    depends = set(keys)
    for record in records:
        if not depends.isdisjoint(map(id, record.inputs)):
            depends.add(record.key)
    return depends


def _let_inputs_go(record):
    """For a record whose VJPs read only the inputs' shapes: if an input array is big, shapes
    stand in for the arrays, and the inputs' ids (taken while all are alive) for the tensors."""
    for v in record.values:  # a loop, not a generator, which would cost more than it saves
        if type(v) is np.ndarray and v.size > SMALL:
            record.keys = tuple(map(id, record.inputs))
            record.values = tuple(_Shape(v) if type(v) is np.ndarray else v for v in record.values)
            record.inputs = None
            return


SMALL = 4096  # elements: below this, freeing an array early is not worth a Python call


class _Shape:
    """Stands in for an input array whose value no VJP reads: what they do read of it."""

    __slots__ = ("shape", "dtype", "ndim", "size")

    def __init__(self, array):
        self.shape, self.dtype, self.ndim, self.size = array.shape, array.dtype, array.ndim, array.size


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
def value_and_grad(f, argnums=0):
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
    if tensor.dtype.kind not in "fc":
        tensor._value = tensor._value.astype(np.float64)
    return tensor


def grad(f, argnums=0):
    """The gradient of scalar-valued `f` with respect to its argument(s) `argnums`."""
    vg = value_and_grad(f, argnums)
    return lambda *args, **kwargs: vg(*args, **kwargs)[1]


# --- anomaly detection -------------------------------------------------------------------------
@contextlib.contextmanager
def detect_anomaly():
    """Raise FloatingPointError at the first op whose forward or backward produces NaN or inf,
    naming the op and the line of user code that recorded it."""
    previous = _state.anomaly
    _state.anomaly = True
    try:
        yield
    finally:
        _state.anomaly = previous


def _check_finite(value, message, where=None):
    """FloatingPointError(message) if `value` holds NaN or inf."""
    bad = _non_finite(value)
    if bad:
        raise FloatingPointError(message.format(bad) + (f" (recorded at {where})" if where else ""))


def _check_forward(op, value, inputs, where):
    """detect_anomaly's check of a forward pass; NaN or inf that came in with the inputs is not
    the op's doing, so the message says where it came from instead."""
    if _non_finite(value):
        came_in = next(filter(None, map(_non_finite, inputs)), None)
        _check_finite(value, f"an input of {op.name} already held {came_in}: it came from outside "
                      "the engine's ops, or from ops run outside detect_anomaly()" if came_in else
                      f"{op.name} produced {{}} in its forward pass", where)


def _non_finite(value):
    """'NaN' or 'inf' if the array (or Tensor, or number) holds one, else None."""
    value = value._value if isinstance(value, Tensor) else np.asarray(value)
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        return "NaN" if np.isnan(value).any() else "inf"
    return None


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _user_frame():
    """'file:line' of the innermost caller outside the engine."""
    frame = sys._getframe(1)
    while frame and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame else "unknown"
