"""Passes on a recorded program, run by the trace before it writes the program out as code.

Each pass takes the lines of the program and gives back lines that compute exactly what they
computed, bit for bit (the same NumPy calls on the same values, fewer of them), so the trace's
check of its first replay against running f stays an exact comparison:

- `fold_constants`: a line whose inputs are all constants (`reg * 2`, the broadcast of a
  constant seed gradient) is computed once, now, and its result becomes a constant;
- `eliminate_common_subexpressions`: a line that repeats an earlier one (the same op on the
  same inputs with the same parameters: the two `g * x` of the VJP of `x * x`) is dropped, and
  its result's uses read the earlier result;
- dead code goes with `program.needed_for`, after them.

A line is an equation as the code generator sees it (`Line`): the op, its input slots (None
for a constant), its output slot, its parameters, and `given`, the inputs as passed (a
constant's value where the slot is None). The ops are taken to be pure functions of their
inputs and parameters, as a traced function's must be (the contract of JAX's jit).
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

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


def optimize(program, results, arguments):
    """The program's lines that the `results` (slots; None for a constant zero) need, after
    the passes above; returns (lines, results), each result now a slot, a constant array, or
    None (a constant zero)."""
    lines, constants = fold_constants(lines_of(program, arguments))
    lines, renamed = eliminate_common_subexpressions(lines)
    results = [constants.get(s, s) if s in constants else renamed.get(s, s) for s in results]
    slots = [s for s in results if type(s) is int]
    return [lines[k] for k in needed_for(lines, slots)], results
