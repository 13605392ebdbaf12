"""The recorded computation, as data: a Wengert list of equations over numbered slots.

A slot is one value of the computation that can carry a gradient: a watched leaf or an op's
result (a constant an op read has none). An equation says which op ran on which slots, with
which parameters, and keeps what its VJPs will read: the values the op `saves`, and for the
rest only their shapes (`Aval`). Execution order is already a topological order, so every analysis is one
pass and the backward sweep is one reversed loop: no recursion, no sort.

The tape records into a Program; `backward` interprets it (the gradient sweep); tracing.py
compiles one, forward and backward pass together, to straight-line code; viz draws one.
"""
import math
from operator import itemgetter

import numpy as np

from .tensor import Tensor


class Aval(tuple):
    """An array's (shape, dtype), standing in for an input whose value no VJP reads (JAX's
    "abstract value"): holding it instead of the array is what lets an intermediate go early. A tuple,
    since the tape makes one for most ops it records."""

    __slots__ = ()
    shape, dtype = property(itemgetter(0)), property(itemgetter(1))
    ndim = property(lambda self: len(self[0]))
    size = property(lambda self: math.prod(self[0]))

    def __array__(self, dtype=None, copy=None):
        raise TypeError(f"a VJP read the value of an input its op does not save (it has only "
                        f"its shape {self.shape} and dtype {self.dtype}): name it in `saves`")

    def __repr__(self):
        return f"Aval({self.shape}, {self.dtype})"


class Equation(tuple):
    """`output = op(*inputs, *params)`, slots in and out, as a tuple (the tape makes one per
    op, so cheaply) with named fields. What the VJPs receive after the output's gradient: `ans`,
    the output Tensor if the op saves it (else None: g has its shape), and `saved`, the inputs
    themselves where the op saves them (Tensors: a sweep recorded on an outer tape must meet
    them again), else their Avals (or None, not read at all); `arrays` is `saved` with each
    Tensor's array (the plain sweep's arguments). `where` is the user's line, when
    detect_anomaly asked for it."""

    __slots__ = ()
    op, inputs, output, params = (property(itemgetter(k)) for k in range(4))
    ans, saved, arrays, where = (property(itemgetter(k)) for k in range(4, 8))

    def __repr__(self):
        ins = ", ".join(f"v{s}" for s in self.inputs)
        return f"v{self.output} = {self.op.name}({ins}{', ...' if self.params else ''})"


class Program:
    """Equations in execution order over slots. A slot is a watched leaf or an op's result:
    `entries[slot]` is the Tensor (or array) it stands for (kept, so that ids stay unique and
    pictures can show values) and `slot_of` maps its id to the slot. A constant an op read (an
    array or a number) has no slot: the equation says None there, and `given[k]` holds the
    k-th equation's inputs as they were passed, constants included. So a slot is always
    watched or computed from something watched."""

    __slots__ = ("equations", "given", "entries", "slot_of", "leaves")

    def __init__(self):
        self.equations, self.given, self.entries, self.slot_of, self.leaves = [], [], [], {}, []

    def leaf(self, x):
        """The slot of the watched leaf `x` (made on first sight)."""
        slot = self.slot_of.get(id(x))
        if slot is None:
            slot = self.slot_of[id(x)] = len(self.entries)
            self.entries.append(x)
            self.leaves.append(slot)
        return slot

    def add(self, op, inputs, slots, values, output, value, params, where):
        """Append `output = op(*inputs, *params)`: `slots` are the inputs' slots (None for a
        constant), `values` the inputs' arrays, `value` the output's."""
        entries = self.entries
        out = self.slot_of[id(output)] = len(entries)
        entries.append(output)
        ans = None if op.forgets_ans else output
        unsaved = op.unsaved
        if not unsaved:  # the inputs as they came (the common case: no copies)
            saved, arrays = inputs, values
        elif op.reads_no_input:  # (exp, relu, ...: their VJPs read only ans)
            saved = arrays = op.reads_no_input
        elif op.reads_only_shapes:  # (add, sum, reshape, ...: every input as its shape)
            avals = []
            for v in values:  # (a loop: a comprehension costs as much as an Aval more)
                avals.append(Aval((v.shape, v.dtype)) if type(v) is np.ndarray else v)
            saved = arrays = tuple(avals)
        else:  # what the VJPs do not read is kept as its shape only, or not at all
            saved, arrays = list(inputs), list(values)
            for k, as_aval in unsaved:
                array = arrays[k]
                if not as_aval:
                    saved[k] = arrays[k] = None
                elif type(array) is np.ndarray:  # (a number stays itself: it is small)
                    saved[k] = arrays[k] = Aval((array.shape, array.dtype))
        self.equations.append(Equation((op, slots, out, params, ans, saved, arrays, where)))
        self.given.append(inputs)

    def release(self):
        """Let go of everything but the equations, which then hold only what their VJPs read
        (a one-shot sweep, about to pop them)."""
        self.given.clear()
        self.entries.clear()
        self.slot_of.clear()

    def records(self):
        """The equations with the objects their slots stand for: (op, inputs, output, params,
        where), for reading."""
        return tuple(Record(eq.op, tuple(given), self.entries[eq.output], eq.params, eq.where)
                     for eq, given in zip(self.equations, self.given))


class Record:
    """An equation as a reader sees it: the op, its input and output objects, its parameters,
    and the line that recorded it (under detect_anomaly)."""

    __slots__ = ("op", "inputs", "output", "params", "where")

    def __init__(self, op, inputs, output, params, where):
        self.op, self.inputs, self.output, self.params, self.where = op, inputs, output, params, where

    def __repr__(self):
        return f"<Record {self.op.name} -> {np.shape(self.output)}>"


# --- analyses: one pass each, shared by the sweep, the compiler and the pictures ---------------
def depends_on(equations, slots):
    """The slots computed from `slots` (and `slots` themselves)."""
    found = set(slots) - {None}
    for eq in equations:
        if not found.isdisjoint(eq.inputs):
            found.add(eq.output)
    return found


def needed_for(equations, slots):
    """The positions of the equations whose results `slots` need, in execution order (dead
    code left out)."""
    wanted, kept = set(slots), []
    for k in range(len(equations) - 1, -1, -1):
        if equations[k].output in wanted:
            kept.append(k)
            wanted.update(equations[k].inputs)
    return kept[::-1]


def last_uses(equations, keep=()):
    """For each equation, the slots it reads for the last time (not those in `keep`), in a list
    parallel to `equations`: where a value can go."""
    seen, lasts = set(keep) | {None}, []
    for eq in reversed(equations):
        lasts.append([s for s in dict.fromkeys(eq.inputs) if s not in seen])
        seen.update(eq.inputs)
    return lasts[::-1]


# --- the backward sweep ------------------------------------------------------------------------
def backward(equations, seeds, sources, depends, on_tensors, release=False, anomaly=False,
             on_adjoint=None):
    """Sweep `equations` in reverse, accumulating the gradient of the seeded targets (`seeds`:
    slot -> gradient) with respect to every slot on the way to the `sources`; returns
    {slot: gradient} (a source's own entry included).

    Only slots in `depends` (those computed from a source; None: every slot) get gradients.
    Each output's gradient
    is popped once its VJPs have used it, unless it is a source. With `release` the equations
    are popped as they are swept, so each saved array goes as soon as the last VJP that reads it
    has run (memory follows liveness). With `on_tensors` (an outer tape is recording) the VJPs
    run on the saved Tensors and are recorded there: higher-order derivatives.
    `on_adjoint(slot, g)` hears of each slot's gradient once it is complete (a trace's passes
    read which recorded value is the gradient of which).
    """
    keep = set(sources)
    grads = {}
    for slot, seed in seeds:
        grads[slot] = seed if slot not in grads else grads[slot] + seed
    if depends is not None and depends.isdisjoint(grads):
        return grads
    pending = equations if release else list(equations)
    summed = set()  # slots whose gradient is a sum made here (its own array to add into)
    while pending:
        op, inputs, out, params, ans, saved, arrays, where = pending.pop()
        g = grads.get(out) if out in keep else grads.pop(out, None)
        if g is None:  # not on the way from a source to a target
            continue
        if on_adjoint is not None:
            on_adjoint(out, g)
        if not on_tensors:
            saved = arrays
            if ans is not None:
                ans = ans._value
        args = (g, ans, *saved, *params) if params else (g, ans, *saved)
        for k, vjp in op.paths:
            slot = inputs[k]
            if slot is None or depends is not None and slot not in depends:
                continue
            gx = vjp(*args)
            if gx is None:  # (a custom gradient's "no gradient")
                continue
            value = saved[k]
            # e.g. a float32 weight meeting float64 data (`is`: the common case; None: a value
            # the VJP does not read, of an op whose result has the input's dtype)
            if value is not None and gx.dtype is not value.dtype and gx.dtype != value.dtype:
                gx = gx.astype(value.dtype)
            if anomaly:
                _check_finite(gx, f"{op.name} produced {{}} in its backward pass", where)
            old = grads.get(slot)
            if old is None:
                grads[slot] = gx
            elif slot in summed:
                grads[slot] = _add_more(old, gx)
            else:
                grads[slot] = _add_second(old, gx, g)
                summed.add(slot)
    return grads


# Sums of gradient contributions, in place where that is safe: into arrays no one else holds (a
# fresh VJP result, a sum made here), never into `g` (which a VJP may pass through), views or
# the caller's arrays.
def _add_second(first, second, g):
    """The sum of a slot's first two gradient contributions, `second` from a VJP given `g`."""
    if type(second) is np.ndarray and second.base is None and second is not g:
        return np.add(second, first, out=second)
    return first + second


def _add_more(total, more):
    """`total` (made by _add_second) plus a further contribution."""
    if type(total) is np.ndarray:  # not a Tensor, nor a NumPy scalar (a 0-d sum)
        return np.add(total, more, out=total)
    return total + more


def _check_finite(value, message, where=None):
    """FloatingPointError(message) if `value` holds NaN or inf."""
    bad = non_finite(value)
    if bad:
        raise FloatingPointError(message.format(bad) + (f" (recorded at {where})" if where else ""))


def non_finite(value):
    """'NaN' or 'inf' if the array (or Tensor, or number) holds one, else None."""
    value = value._value if isinstance(value, Tensor) else np.asarray(value)
    if value.dtype.kind in "fc" and not np.isfinite(value).all():
        return "NaN" if np.isnan(value).any() else "inf"
    return None
