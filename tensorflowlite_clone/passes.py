"""Passes on a recorded program, run by the trace before it writes the program out as code.

Each pass takes the lines of the program and gives back lines that compute exactly what they
computed, bit for bit (the same NumPy calls on the same values, fewer of them), so the trace's
check of its first replay against running f stays an exact comparison:

- `fold_constants`: a line whose inputs are all constants (`reg * 2`, the broadcast of a
  constant seed gradient) is computed once, now, and its result becomes a constant;
- `eliminate_common_subexpressions`: a line that repeats an earlier one (the same op on the
  same inputs with the same parameters: the two `g * x` of the VJP of `x * x`) is dropped, and
  its result's uses read the earlier result;
- `eliminate_dead_code`: what no result needs goes (`program.needed_for`).

Then the algebraic simplification of the adjoint (`simplify`), rewrites that compute the same
numbers with fewer NumPy calls:
- the same bits: `add(x, negative(y))` is `subtract(x, y)`; an elementwise op need not be
  handed `broadcast_to(b)` (NumPy broadcasts b itself: the VJPs of sum and mean broadcast);
  `sum(x, axis)` reshaped to its keepdims shape is `sum(x, axis, keepdims=True)` (the
  reductions of a broadcast add's VJP);
- to rounding: `c*x + c*x` is `(2c)*x` (the VJP of `x * x`, after common subexpressions),
  `c2 * (c1 * x)` is `(c1 c2) * x` (the VJP of `reg * x**2`), and
  the adjoint of the logits of `-log softmax(z)[rows, labels]` (the probabilities' form, or
  `log_softmax`'s), which the sweep writes out as a dozen VJPs, is the seed's `(1_y - p) * g`:
  `(p - 1_y) / N` for a mean (`cross_entropy_adjoints`). This one needs to know which
  recorded value is the gradient of which: the sweep notes that for the trace (`adjoints`).
A plan with rewrites of the second kind is checked on its first replay against the same plan
without them, to a tolerance (tracing.py).

A line is an equation as the code generator sees it (`Line`): the op, its input slots (None
for a constant), its output slot, its parameters, and `given`, the inputs as passed (a
constant's value where the slot is None). The ops are taken to be pure functions of their
inputs and parameters, as a traced function's must be (the contract of JAX's jit).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import ops as _ops
from .primitive import Primitive
from .program import needed_for
from .tensor import Tensor


class Line(NamedTuple):
    op: Any
    inputs: tuple          # input slots, None for a constant
    output: int            # the output slot
    params: tuple
    given: tuple           # the inputs as passed: a constant's value where the slot is None
    reads_arguments: bool  # a parameter is an argument array (labels in an index): keep it


def lines_of(program, arguments):
    """The equations of `program` as Lines; `arguments` are the argument slots."""
    slot_of = program.slot_of
    arguments = set(arguments)

    def reads_argument(param):
        if type(param) is np.ndarray:
            return slot_of.get(id(param)) in arguments
        return type(param) is tuple and any(map(reads_argument, param))

    return [Line(eq.op, tuple(eq.inputs), eq.output, eq.params,
                 tuple(x._value if isinstance(x, Tensor) and s is None else x
                       for s, x in zip(eq.inputs, given)),
                 any(map(reads_argument, eq.params)))
            for eq, given in zip(program.equations, program.given)]


def _substituted(line, constants, renamed):
    """`line` reading the constants' values and the renamed slots in place of those slots."""
    if not any(s in constants or s in renamed for s in line.inputs):
        return line
    inputs, given = list(line.inputs), list(line.given)
    for i, s in enumerate(inputs):
        if s in constants:
            inputs[i], given[i] = None, constants[s]
        elif s in renamed:
            inputs[i] = renamed[s]
    return line._replace(inputs=tuple(inputs), given=tuple(given))


def fold_constants(lines):
    """(lines, constants): the lines that read a slot, and the value of every slot computed from
    constants alone (slot -> array), computed here by the op's forward as a replay would."""
    constants, kept = {}, []
    for line in lines:
        line = _substituted(line, constants, {})
        if all(s is None for s in line.inputs) and not line.reads_arguments:
            value = line.op.forward(*line.given, *line.params)
            constants[line.output] = value if type(value) is np.ndarray else np.asarray(value)
        else:
            kept.append(line)
    return kept, constants


def _key(value):
    """A hashable stand-in for a parameter or constant input, equal only for the same value
    (arrays by identity: the same array object), or None if there is none."""
    if type(value) is np.ndarray:
        return ("array", id(value))
    if type(value) is tuple:
        keys = tuple(_key(v) for v in value)
        return None if None in keys else ("tuple", keys)
    if isinstance(value, (float, complex, np.inexact)):
        return (type(value), repr(value))  # 0.0 and -0.0 compare equal but multiply differently
    try:
        hash(value)
    except TypeError:
        return None
    return (type(value), value)  # (1 and 1.0 and True hash alike: the type tells them apart)


def eliminate_common_subexpressions(lines):
    """(lines, renamed): the lines without those that repeat an earlier one, and for each
    dropped line's output slot the slot that holds the same value (slot -> slot)."""
    seen, renamed, kept = {}, {}, []
    for line in lines:
        line = _substituted(line, {}, renamed)
        keys = [("slot", s) if s is not None else _key(x) for s, x in zip(line.inputs, line.given)]
        keys += [_key(p) for p in line.params]
        key = None if None in keys else (line.op, tuple(keys))
        if key is not None and key in seen:
            renamed[line.output] = seen[key]
        else:
            if key is not None:
                seen[key] = line.output
            kept.append(line)
    return kept, renamed


def eliminate_dead_code(lines, results):
    """The lines that the `results` (slots) need."""
    return [lines[k] for k in needed_for(lines, results)]


# --- algebraic simplification -------------------------------------------------------------------
def _softmax_cross_entropy_adjoint(probs, g, index):
    """The gradient of sum(g * log(probs)[index]) with respect to the logits of `probs`, for an
    index that picks one entry of every row: (1_index - probs) * g, row by row."""
    out = probs * -g[:, None]
    out[index] += g
    return out


def _log_softmax_cross_entropy_adjoint(e, total, g, index):
    """As above, with probs = e / total (log_softmax's form has no probs of its own)."""
    return _softmax_cross_entropy_adjoint(e / total, g, index)


SOFTMAX_CROSS_ENTROPY = Primitive("softmax cross-entropy adjoint (1_y - p)*g",
                                  _softmax_cross_entropy_adjoint, (None, None))
LOG_SOFTMAX_CROSS_ENTROPY = Primitive("log_softmax cross-entropy adjoint (1_y - e/sum(e))*g",
                                      _log_softmax_cross_entropy_adjoint, (None, None, None))


def _over_last_axis(line, ndim):
    axis = line.params[0]
    axes = axis if isinstance(axis, tuple) else (axis,)
    return len(axes) == 1 and axes[0] in (ndim - 1, -1) and line.params[1] is True


class _Sweep:
    """The lines as one backward sweep went through them: `notes` maps a slot to its gradient's
    slot; `only(slot, *readers)` says whether the sweep went back from `slot` into those lines
    and no others; `made_by(slot, op)` is the line of `op` that computes slot, or None."""

    def __init__(self, lines, notes, producer):
        self.notes, self.producer, self.uses = notes, producer, {}
        for line in lines:
            if line.output in notes:
                for s in line.inputs:
                    self.uses.setdefault(s, []).append(line)

    def only(self, slot, *readers):
        return sorted(map(id, self.uses.get(slot, ()))) == sorted(map(id, readers))

    def made_by(self, slot, op):
        line = self.producer.get(slot)
        return line if line is not None and line.op is op else None


def _one_pick_per_row(pick, entries, arguments, slot_of):
    """Whether `pick` is x[arange(N), labels] of a 2-D x (rows fixed, not an argument)."""
    picked_from, index = pick.inputs[0], pick.params[0]
    x = entries[picked_from] if picked_from is not None else None
    return (x is not None and x.ndim == 2 and type(index) is tuple and len(index) == 2
            and all(type(i) is np.ndarray and i.dtype.kind in "iu" for i in index)
            and slot_of.get(id(index[0])) not in arguments
            and np.array_equal(index[0], np.arange(x.shape[0])) and index[1].shape == (x.shape[0],))


def _cross_entropy_adjoint(pick, sweep, entries):
    """The one Line computing the gradient of the logits z of `pick` = log(softmax(z))[rows,
    labels] (either form), in place of the sweep's; or None where the pattern, or the sweep's
    going back through nothing else of it, does not hold."""
    only, made_by, notes = sweep.only, sweep.made_by, sweep.notes
    picked_from = pick.inputs[0]
    ratio, shifted = made_by(picked_from, _ops.divide), made_by(picked_from, _ops.subtract)
    if ratio is not None:  # p = e / s, picked, then log: g is the log's gradient
        e, total = ratio.inputs
        logs = [line for line in sweep.uses.get(pick.output, ()) if line.op is _ops.log]
        if not (len(logs) == 1 and only(pick.output, logs[0]) and logs[0].output in notes
                and only(total, ratio)):
            return None
        g, readers_of_e, readers_of_z = notes[logs[0].output], (ratio,), ()
    elif shifted is not None and made_by(shifted.inputs[1], _ops.log):  # z - log(s), picked
        log_total = made_by(shifted.inputs[1], _ops.log)
        e, total = None, log_total.inputs[0]
        if not (only(shifted.inputs[1], shifted) and only(total, log_total)):
            return None
        g, readers_of_e, readers_of_z = notes[pick.output], (), (shifted,)
    else:
        return None
    summed = made_by(total, _ops.sum)
    if summed is None or e not in (None, summed.inputs[0]) or not _over_last_axis(summed, 2):
        return None
    e = summed.inputs[0]
    exp = made_by(e, _ops.exp)
    if exp is None or not only(e, summed, *readers_of_e):
        return None
    z = exp.inputs[0]
    if (shifted is not None and shifted.inputs[0] != z) or not (
            z in notes and notes[z] in sweep.producer and only(z, exp, *readers_of_z)):
        return None
    x = entries[picked_from]
    if not (entries[g].dtype == entries[notes[z]].dtype == x.dtype
            and entries[g].shape == (x.shape[0],)):
        return None
    if ratio is not None:
        op, inputs = SOFTMAX_CROSS_ENTROPY, (picked_from, g)
    else:
        op, inputs = LOG_SOFTMAX_CROSS_ENTROPY, (e, total, g)
    return Line(op, inputs, notes[z], pick.params, tuple(entries[s] for s in inputs),
                pick.reads_arguments)


def cross_entropy_adjoints(lines, adjoints, entries, arguments, slot_of):
    """(lines, rewritten): the lines with the gradient of the logits z of every
    `log(softmax(z))[rows, labels]` (rows 0..N-1, so one pick per row) computed in one line, when
    the sweep went back through nothing else of the softmax: e = exp(z), s = sum(e, -1,
    keepdims), then either p = e / s, picked, log (the seed's form), or z - log(s), picked
    (log_softmax's). `adjoints`: one {slot: its gradient's slot} per sweep."""
    producer = {line.output: line for line in lines}
    replaced = {}
    for notes in adjoints:
        sweep = _Sweep(lines, notes, producer)
        for pick in lines:
            if pick.op is _ops.getitem and pick.output in notes and sweep.only(pick.inputs[0], pick) \
                    and _one_pick_per_row(pick, entries, arguments, slot_of):
                line = _cross_entropy_adjoint(pick, sweep, entries)
                if line is not None:
                    replaced[line.output] = line
    return [replaced.get(line.output, line) for line in lines], bool(replaced)


def _replace_input(line, k, source):
    """`line` reading what `source` (a line) reads as its first input, in place of input k."""
    inputs, given = list(line.inputs), list(line.given)
    inputs[k], given[k] = source.inputs[0], source.given[0]
    return line._replace(inputs=tuple(inputs), given=tuple(given))


def _shape(x):
    return tuple(np.shape(x))


_ELEMENTWISE = (_ops.add, _ops.subtract, _ops.multiply, _ops.divide)


def _rewrite(line, producer, rounding):
    """The line that computes what `line` computes with fewer NumPy calls, and whether it is the
    same bits (with `rounding`, also those that may round differently); or None."""
    op, made = line.op, [producer.get(s) for s in line.inputs]
    if op in _ELEMENTWISE and len(line.inputs) == 2:
        for k in (0, 1):  # a broadcast operand: NumPy broadcasts it in the op anyway
            source, other = made[k], _shape(line.given[1 - k])
            if (source is not None and source.op is _ops.broadcast_to
                    and np.broadcast_shapes(other, _shape(line.given[k])) == other):
                return _replace_input(line, k, source), True
    if op is _ops.add:
        for k in (0, 1):  # x + (-y) is x - y
            if made[k] is not None and made[k].op is _ops.negative:
                subtracted = _replace_input(line, k, made[k])
                ins, given = subtracted.inputs, subtracted.given
                if k == 0:
                    ins, given = ins[::-1], given[::-1]
                return line._replace(op=_ops.subtract, inputs=ins, given=given), True
        a, b = line.inputs
        twice = made[0]
        if a == b and a is not None and twice is not None and twice.op is _ops.multiply:
            constants = [k for k, s in enumerate(twice.inputs) if s is None]
            if len(constants) == 1 and rounding:  # c*x + c*x is (2c)*x
                k = constants[0]
                doubled = np.multiply(twice.given[k], 2)
                if np.all(np.isfinite(doubled)):
                    given = list(twice.given)
                    given[k] = doubled
                    return twice._replace(output=line.output, given=tuple(given)), False
    if op is _ops.multiply and rounding:  # c2 * (c1 * x) is (c1 * c2) * x: reg * 2 * W
        for k in (0, 1):
            inner = made[1 - k]
            if line.inputs[k] is None and inner is not None and inner.op is _ops.multiply \
                    and [s is None for s in inner.inputs].count(True) == 1:
                j = inner.inputs.index(None)
                product = np.multiply(inner.given[j], line.given[k])
                if np.all(np.isfinite(product)):
                    given = list(inner.given)
                    given[j] = product
                    return inner._replace(output=line.output, given=tuple(given)), False
    if op is _ops.relu and isinstance(line.given[0], (Tensor, np.ndarray)):
        # relu(x) is maximum(x, 0), a ufunc, which the code can write in place or into a buffer
        zeros = np.zeros(_shape(line.given[0]), line.given[0].dtype)
        zeros.flags.writeable = False
        return line._replace(op=_ops.maximum, inputs=(line.inputs[0], None),
                             given=(line.given[0], zeros)), True
    if op is _ops.reshape and made[0] is not None and made[0].op is _ops.sum:
        summed = made[0]
        axis, keepdims, *rest = summed.params
        x = _shape(summed.given[0])
        if axis is not None and not keepdims and len(x) > 0:
            axes = {a % len(x) for a in (axis if isinstance(axis, tuple) else (axis,))}
            if tuple(1 if i in axes else n for i, n in enumerate(x)) == tuple(line.params[0]):
                return summed._replace(output=line.output, params=(axis, True, *rest)), True
    return None


def simplify(lines, rounding=True):
    """(lines, exact): each line rewritten (repeatedly) by `_rewrite`'s identities (only those
    that give the same bits, without `rounding`); exact is whether every rewrite did."""
    producer, kept, exact = {}, [], True
    for line in lines:
        while (rewritten := _rewrite(line, producer, rounding)) is not None:
            line, same_bits = rewritten
            exact = exact and same_bits
        producer[line.output] = line
        kept.append(line)
    return kept, exact


def optimize(program, results, arguments, adjoints=(), exact=False):
    """The program's lines that the `results` (slots; None for a constant zero) need, after
    the passes above (only those that give the same bits, with `exact`); returns (lines,
    results, whether the rewrites kept the same bits), each result now a slot, a constant
    array, or None (a constant zero)."""
    lines, same_bits = lines_of(program, arguments), True
    if not exact:
        lines, rewrote = cross_entropy_adjoints(lines, adjoints, program.entries, set(arguments),
                                                program.slot_of)
        same_bits = not rewrote
    lines, constants = fold_constants(lines)
    lines, renamed = eliminate_common_subexpressions(lines)
    lines, exact_rewrites = simplify(lines, rounding=not exact)
    same_bits = same_bits and exact_rewrites
    results = [constants.get(s, s) if s in constants else renamed.get(s, s) for s in results]
    return eliminate_dead_code(lines, [s for s in results if type(s) is int]), results, same_bits
