"""Compiled steps: `jit(f)` records f's ops once per argument signature, then replays them as
straight-line code.

The first call with a given signature (shapes and dtypes of the arrays, values of the other
arguments) runs f on a tape that records every op, watched or not: f's floating-point array
arguments reach it as Tensors around them (JAX's tracers; integer arrays, such as labels, stay
arrays). When f differentiates (`value_and_grad`, a GradientTape) the sweep runs its VJPs on
Tensors while this tape records, so the backward pass is recorded too, as more equations of the
same program (program.py), and so is an update after it. The program, cut down to what f's
result needs and rewritten by passes.py (what derives from constants alone computed once,
repeated ops dropped, the adjoint simplified: the softmax cross-entropy's a dozen VJPs become
the seed's `(p - 1_y)/N`), is written out as a Python function, one line per equation
(`v7 = f3(v5, v6)`), each value deleted after its last use, and an elementwise op's result
written into an input's array where that input dies (`out=`), or else, if it dies inside the
step, into an array the plan keeps between calls (`b…`). The first and later calls run
that function on the arguments: only the ops' NumPy forwards, without Tensors, equations,
lookups or conversions, which is most of the eager engine's cost on small arrays.
`jitted.plans[signature].source` shows the code: the Wengert list and its adjoint, as a program;
`jitted.explain()` why each plan was recorded. A traced training step is
`jit(value_and_grad(loss))` (TwoLayerNet's method="traced").

The contract is that of JAX's `jit`: f computes with the engine's ops on its arguments, the
same ops for every call with the same signature, and reaches each array argument as it was
passed (not a copy of its own making). A value that f reads out of a tensor derived from its
arguments (`float(t)`, `bool(t)`, `t.item()`, `t.numpy()`, `np.asarray(t)`, an index list built
of argument arrays; a comparison is an op, and only reading its result is a read) would be
frozen into the plan, so jit notices the read and runs f eagerly for that signature, with one
warning naming the line. What it cannot see, NumPy computing on a raw (integer) argument array,
is caught by comparing the first replay of every plan (without the rewrites that may round
differently) with running f eagerly: a difference is an error. The rewrites themselves are
checked on that replay too, to rounding. With a tape recording around the call, f runs
eagerly on the arguments as they were passed, so that tape sees its ops on what it watches.
"""
from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from .passes import optimize
from .primitive import _REWORDED, _state, _user_frame
from .program import depends_on, last_uses
from .tape import GradientTape, _as_result, _flatten, _unflatten
from .tensor import Tensor, _wrap


def jit(f: Callable[..., Any], *, exact: bool = False) -> Callable[..., Any]:
    """`f`, recorded once per argument signature and then replayed as straight-line code.

    f takes arrays, Tensors and numbers (or lists / tuples / dicts of them) and computes with
    the engine's ops; it may differentiate with a tape or `value_and_grad` and apply an update
    (`return loss, {k: p[k] - lr * g[k] for k in p}`), as a step under JAX's `jit` does. Its
    result's structure comes back with each Tensor replayed (a fresh Tensor each call); the
    rest of the result is what the recording call returned. `jitted.plans` and
    `jitted.explain()` show what was recorded and why.

    The simplified adjoint (passes.py) may round differently from running f: the last bit or
    two, as XLA's rewrites do. With `exact`, only the rewrites that keep the same bits are made,
    and the numbers are exactly f's.
    """
    plans = {}  # signature -> _Plan, or None where f is run eagerly (a constant, or it reads values)
    why = {}  # signature -> why it was recorded (what differed from the call before), and how it runs
    last = None  # the signature of the latest call
    warned = False

    def jitted(*args, **kwargs):
        if kwargs:
            raise TypeError("jit: pass f's arguments positionally (keywords are not traced)")
        if _state.recording:  # an outer tape wants to see f's ops on the arguments it watches
            return f(*args)
        if _state.anomaly:  # anomaly checks run every op
            return f(*_float_tensors(args))
        nonlocal last
        leaves = []
        signature = _describe(args, leaves)
        previous, last = last, signature
        if signature not in plans:  # record, then replay
            args = _float_tensors(args)
            if len(plans) == MAX_PLANS:  # forget the oldest (a signature that keeps changing)
                why.pop(next(iter(plans)), None)
                del plans[next(iter(plans))]
            why[signature] = ("the first call" if previous is None else
                              _difference(previous, signature) if previous not in (None, signature)
                              else "a plan dropped after its first replay failed the check")
            plan, eager_because = _Plan.record(f, args, leaves, exact)
            if eager_because:  # a replay would reuse what this call saw: run f itself instead
                nonlocal warned
                if not warned:
                    warned = True
                    warnings.warn(f"jit: f {eager_because}, which a replay cannot redo; f runs "
                                  "eagerly for arguments of this signature", RuntimeWarning,
                                  stacklevel=2)
                why[signature] += f"; runs eagerly: f {eager_because}"
            elif plan is None:
                why[signature] += "; runs eagerly: f's value does not depend on its arguments"
            plans[signature] = plan
            # (the plan's numbers from the first call on: its rewrites may round differently)
            return f(*args) if plan is None else plan.run(leaves)
        plan = plans[signature]
        if plan is None:
            return f(*_float_tensors(args))
        if plan.checked:
            return plan.run(leaves)
        # the first replay (on new values, as a rule): compared with running f itself
        checked = plan.first_replay(leaves, f(*_float_tensors(args)))
        if checked is None:
            del plans[signature]
            raise RuntimeError(
                "jit: replaying f's recorded ops gave a different result from running f; "
                "f must compute only with the engine's ops on its arguments (a value computed "
                "outside them, such as a comparison or arithmetic on .numpy(), is frozen into "
                "the trace). Run this f without jit.")
        result, note = checked
        if note:
            why[signature] += note
        return result

    def explain():
        """How many plans there are and, for each argument signature, why a call recorded it:
        the first call, or what differed from the call before (which argument's shape, dtype
        or value), and whether f runs eagerly for it (and why)."""
        wrapped = getattr(f, "__wrapped__", f)
        title = getattr(wrapped, "__qualname__", repr(wrapped))
        lines = [f"jit of {title}: {sum(p is not None for p in plans.values())} plan(s) for "
                 f"{len(plans)} argument signature(s) (at most {MAX_PLANS} are kept)"]
        lines += [f"  {k}. recorded for {why.get(sig, '?')}" for k, sig in enumerate(plans, 1)]
        return "\n".join(lines)

    jitted.__wrapped__, jitted.plans, jitted.explain = f, plans, explain  # for inspection
    return jitted


MAX_PLANS = 32  # per traced function
BUFFER_SIZES = 4096, 2**20  # bytes: results outside are allocated on each call (_Buffers: why)
MAX_UNCHECKED = 4  # calls whose results, not finite, cannot check a plan's rewrites


def _describe(value, leaves):
    """`value`'s signature, what a plan is specific to (array shapes and dtypes, the values of
    everything else), appending its arrays to `leaves` in the order `_flatten` visits them."""
    if isinstance(value, (Tensor, np.ndarray)):
        leaves.append(value)
        return value.shape, value.dtype
    if isinstance(value, dict):
        return (dict, *[(key, _describe(item, leaves)) for key, item in value.items()])
    if isinstance(value, (list, tuple)):
        return (type(value), *[_describe(item, leaves) for item in value])
    if value is None or isinstance(value, (bool, int, float, complex, str, np.number)):
        return type(value), value
    raise TypeError(f"jit: cannot trace an argument of type {type(value).__name__}; pass "
                    "arrays, Tensors, numbers, strings, or lists / tuples / dicts of them")


def _float_tensors(args):
    """The arguments with each floating-point array as a Tensor around it (the same array), so
    that f's arithmetic on it (`0.9 * velocity`) is the engine's, recorded and replayed, as
    JAX's jit hands f tracers; integer and boolean arrays (labels, indices) stay arrays."""
    def convert(x):
        return _wrap(x) if type(x) is np.ndarray and x.dtype.kind in "fc" else x
    return _unflatten(args, iter([convert(x) for x in _flatten(args)]))


def _is_array(description):  # `_describe`'s (shape, dtype) of an array
    return isinstance(description[0], tuple)


def _difference(old, new, path="arguments"):
    """What differs between two signatures from `_describe`, in words: each argument (or item
    of one) whose shape, dtype, value or structure changed."""
    return "; ".join(_differences(old, new, path))


def _differences(old, new, path):
    if old == new:
        return []
    if _is_array(old) and _is_array(new):
        changes = [f"{what} {a} -> {b}" for what, a, b in (("shape", old[0], new[0]),
                                                           ("dtype", old[1], new[1])) if a != b]
        return [f"{path}: {', '.join(changes)}"]
    if not _is_array(old) and not _is_array(new) and old[0] is new[0]:
        kind = old[0]
        if kind in (list, tuple) and len(old) == len(new):
            return [line for i, (a, b) in enumerate(zip(old[1:], new[1:])) for line in
                    _differences(a, b, f"argument {i}" if path == "arguments" else f"{path}[{i}]")]
        if kind is dict and [k for k, _ in old[1:]] == [k for k, _ in new[1:]]:
            return [line for (key, a), (_, b) in zip(old[1:], new[1:])
                    for line in _differences(a, b, f"{path}[{key!r}]")]
        if kind not in (list, tuple, dict):
            return [f"{path}: value {old[1]!r} -> {new[1]!r}"]
    return [f"{path}: {_kind(old)} -> {_kind(new)}"]


def _kind(description):
    if _is_array(description):
        return f"an array {description[0]} {description[1]}"
    kind = description[0]
    if kind in (list, tuple, dict):
        return f"a {kind.__name__} of {len(description) - 1}"
    return f"{kind.__name__} {description[1]!r}"


class _TracingTape(GradientTape):
    """Records every op, watched or not: a replay must recompute whatever derives from the
    arguments, constants included (the row maximum a softmax subtracts), integer results
    included; and the backward pass too, since `gradient` asked inside the block runs the VJPs
    on Tensors, recording them here. It also hears of reads of values that derive from the
    arguments (`float(t)`, `t.numpy()`, `t > 0`), which a replay cannot redo: f then runs
    eagerly."""

    def __init__(self, arguments):
        super().__init__(persistent=True)
        program = self._program
        self._as_tensor = {}  # id(argument array) -> a Tensor around it
        for leaf in arguments:  # f may wrap an argument's array anew: find it by the array too
            array = leaf._value if isinstance(leaf, Tensor) else leaf
            if id(leaf) in program.slot_of or id(array) in program.slot_of:
                raise ValueError("trace: the same array is passed twice; a trace would bind "
                                 "both places to one slot (pass a copy)")
            slot = program.leaf(leaf)
            if isinstance(leaf, Tensor):
                program.slot_of[id(leaf._value)] = slot
            else:  # VJPs must meet it as a Tensor, or what they compute from it is frozen
                tensor = self._as_tensor[id(leaf)] = _wrap(leaf)
                program.slot_of[id(tensor)] = slot
        self.eager_because = None  # what f did that a replay cannot redo, and where
        self.adjoints = []  # per backward sweep recorded here: {slot: the slot of its gradient}

    def adjoint_notes(self, entries):
        """A callback for a backward sweep over a program whose slots stand for `entries`: it
        notes, in this program's slots, which recorded value is the gradient of which."""
        slot_of, notes = self._program.slot_of, {}
        self.adjoints.append(notes)
        ours = [slot_of.get(id(x)) for x in entries]

        def note(slot, g):
            of, grad = ours[slot], slot_of.get(id(g))
            if of is not None and grad is not None:
                notes[of] = grad
        return note

    def record(self, op, inputs, values, output, value, params, where):
        slot_of = self._program.slot_of
        slots = [slot_of.get(id(x), slot_of.get(id(v))) for x, v in zip(inputs, values)]
        self._program.add(op, inputs, slots, values, output, value, params, where)

    def as_tensors(self, inputs):
        """An op's inputs with each raw argument array replaced by the Tensor around it, before
        any tape records them (a tape inside f, value_and_grad's, keeps its inputs for its VJPs:
        they must meet the argument as a Tensor, or what they compute from it is frozen)."""
        as_tensor = self._as_tensor
        if not as_tensor or not any(id(x) in as_tensor for x in inputs):
            return inputs
        return [as_tensor.get(id(x), x) for x in inputs]

    def read(self, x, how):
        program = self._program
        # (a Tensor f made around an argument's array, as value_and_grad does, is that argument)
        slot = program.slot_of.get(id(x), program.slot_of.get(id(getattr(x, "_value", x))))
        if slot is not None and slot in depends_on(program.equations, program.leaves):
            self.cannot_replay(f"reads the value of a traced tensor ({how})")

    def cannot_replay(self, what):
        if self.eager_because is None:
            self.eager_because = f"{what} at {_user_frame()}"

    def __enter__(self):
        super().__enter__()
        self._outer, _state.tracing = _state.tracing, self
        return self

    def __exit__(self, *exc):
        _state.tracing = self._outer
        return super().__exit__(*exc)


class _Plan:
    """One call's forward and backward pass, recorded as one program and written out as a
    Python function (the module docstring says how); `source` is its code, `run` calls it."""

    @classmethod
    def record(cls, f, args, leaves, exact=False):
        """(the plan, None), or (None, why f must run eagerly) when it cannot be replayed
        (None, None when no result of f depends on its arguments: nothing to replay)."""
        with _TracingTape(leaves) as tape:
            out = f(*args)
        if tape.eager_because:
            return None, tape.eager_because
        slot_of = tape.program.slot_of
        if not any(isinstance(x, Tensor) and id(x) in slot_of for x in _flatten(out)):
            return None, None
        return cls(tape.program, leaves, out, () if exact else tape.adjoints, exact), None

    def __init__(self, program, arguments, out, adjoints=(), exact=False):
        """`arguments`: every array leaf of the arguments, in `_describe`'s order; `out`: what
        f returned (its Tensors are the outputs; its structure and other leaves are kept);
        `adjoints`: which recorded value is the gradient of which (passes.py); `exact`: only
        the rewrites that keep the same bits."""
        self.checked = False
        self._lock = threading.Lock()
        arguments = [program.slot_of[id(leaf)] for leaf in arguments]
        self.source, self._step, self._ops, same_bits = _generate(
            program, arguments, out, adjoints, exact)
        # a rewrite that may round differently is checked against the plan without it
        self._reference = None if same_bits else _generate(program, arguments, out, exact=True)
        self.unchecked = 0  # first replays whose results could not check the rewrites

    @property
    def kept_bytes(self):
        """The size of the arrays the plan keeps between calls (its buffers: `b…` in the code)."""
        code = [self._step] + ([self._reference[1]] if self._reference is not None else [])
        return sum(value.nbytes for step in code for name, value in step.__globals__.items()
                   if name.startswith("b") and type(value) is np.ndarray)

    @property
    def rewritten(self):
        """Whether the plan has rewrites that may round differently (a plain twin to check)."""
        return self._reference is not None

    def first_replay(self, leaves, expected):
        """(the result, a note for explain() or None) of a first replay, or None when the plan
        without the rewrites that may round differently does not give `expected` (f's result)
        bit for bit: f computed something the trace did not see. The rewrites are checked
        against that plain plan to rounding; where they fail, they are dropped (with a warning),
        and where the results are not finite (f overflowed: its gradient may be NaN where the
        simplified one is finite) the check waits for a later call, f's numbers meanwhile."""
        plain = self.run(leaves, reference=True)
        if not _same(plain, expected):
            return None
        result, note = self.run(leaves) if self.rewritten else plain, None
        if self.rewritten and not _finite(plain):
            self.unchecked += 1
            if self.unchecked < MAX_UNCHECKED:
                return plain, None
            note = "; its adjoint's simplification was dropped (f's results were never finite)"
        elif not _close(result, plain):  # never a wrong number: the plain plan from now on
            warnings.warn("jit: the simplified adjoint of f differs from its plain one beyond "
                          "rounding; f's plan for these arguments runs without the rewrites that "
                          "may round differently (jit(f, exact=True) makes none)", RuntimeWarning,
                          stacklevel=3)
            note = "; its adjoint's simplification was dropped (it failed the check)"
        if note:
            self.drop_rewrites()
            result = plain
        self.checked = True
        self._reference = None  # (and its buffers)
        return result, note

    def drop_rewrites(self):
        """From now on, run the plan without the rewrites that may round differently."""
        if self._reference is not None:
            self.source, self._step, self._ops, _ = self._reference
            self._reference = None

    def run(self, leaves, reference=False):
        """f's result for arguments whose arrays are `leaves` (in `_describe`'s order): its
        structure, a fresh Tensor for each Tensor. With `reference`, by the plan without the
        rewrites that may round differently (the same as `run` where there are none)."""
        step = self._reference[1] if reference and self._reference is not None else self._step
        try:
            with self._lock:  # (the code's buffers are one per plan)
                return step(*[x if type(x) is np.ndarray else x._value for x in leaves])
        except _REWORDED as error:
            raise self._reworded(error) from None

    def _reworded(self, error):
        """`error`, raised in the generated code, naming the op whose line raised it (as the
        eager engine does)."""
        line, tb = None, error.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_filename == "<traced step>":
                line = tb.tb_lineno
            tb = tb.tb_next
        if line not in self._ops:
            return error
        op, shapes = self._ops[line]
        return op.error(error, shapes)


def _generate(program, arguments, out, adjoints=(), exact=False):
    """(source, step, ops, exact): the program, cut down to what f's result `out` needs and
    rewritten by passes.py (only the same-bits rewrites, with `exact`), written out as a Python
    function `step` of the `arguments` (slots) that returns `out`'s structure with a fresh
    Tensor for each of its Tensors; `ops` maps a line of the code to its op and input shapes;
    `exact`: whether the rewrites kept the same bits."""
    slot_of, entries = program.slot_of, program.entries
    names = {"asarray": np.asarray, "array": np.array, "wrap": _wrap, "result": _as_result}
    outputs = _flatten(out)
    ops = {}  # line of the generated code -> (op, its input shapes)

    def constant(x):  # a value no equation computes: a global of the code
        key = f"c{len(names)}"
        names[key] = x._value if isinstance(x, Tensor) else x
        return key

    results = [slot_of.get(id(x)) if isinstance(x, Tensor) else None for x in outputs]
    # constants folded, repeats dropped, dead code gone (passes.py); a result may now be a
    # constant array
    equations, results, same_bits = optimize(program, results, arguments, adjoints, exact)
    readers = {}  # slot -> the equations reading it
    for eq in equations:
        for s in set(eq.inputs) - {None}:
            readers.setdefault(s, []).append(eq)
    lines = [f"def step({', '.join(f'v{s}' for s in arguments)}):"]
    owned = set()  # slots holding an array made here that nothing else shares
    slots = [s for s in results if type(s) is int]
    buffers = _Buffers(names, equations, entries, slots)
    # (arguments are never deleted: the caller holds them, and params may read them)
    for k, (eq, last) in enumerate(zip(equations, last_uses(equations, [*slots, *arguments]))):
        given = eq.given
        ins = [f"v{s}" if s is not None else constant(x) for s, x in zip(eq.inputs, given)]
        params = [_param_code(p, f"p{k}_{i}", set(arguments), slot_of, names)
                  for i, p in enumerate(eq.params)]
        output = entries[eq.output]
        names[f"f{k}"] = eq.op.forward
        into = _reusable_input(eq, last, owned, entries)
        if into is not None and not buffers.may_inherit(into, eq.output):
            into = None
        if into is not None:  # its result goes into an input's array that dies here
            params.append(f"out=v{into}")
            owned.add(eq.output)
            buffers.inherit(into, eq.output)
        elif buffers.fits(eq, output, given):  # into an array the plan keeps between calls
            params.append(f"out={buffers.take(eq.output, output._value)}")
            owned.add(eq.output)
        else:  # an input that the result is a view of is shared from now on
            owned.difference_update([s for s in eq.inputs if s in owned and np.may_share_memory(
                output._value, entries[s]._value)])
            if _owns_its_memory(output, given):
                owned.add(eq.output)
        lines.append(f"    v{eq.output} = f{k}({', '.join(ins + params)})  "
                     f"# {_label(eq.op)}{' (in place)' * (into is not None)} -> {output.shape}")
        ops[len(lines)] = eq.op, [np.shape(x) for x in given]
        # a reduction to a scalar may give a NumPy scalar, which is an array to every reader
        # but an op with its own forward (a ufunc takes either, with the same promotion)
        if output.ndim == 0 and not all(type(reader.op.forward) is np.ufunc
                                        for reader in readers.get(eq.output, ())):
            lines.append(f"    v{eq.output} = asarray(v{eq.output})")
        if last:
            lines.append(f"    del {', '.join(f'v{s}' for s in last)}")
            buffers.release(last)
    values = _result_values(results, outputs, owned, entries, buffers.aliases, constant)
    if any("handed_out" in v for v in values):
        lines.append("    handed_out = set()")
    lines.append(f"    return {_structure_code(out, iter(values), constant)}")
    source = "\n".join(lines) + "\n"
    exec(compile(source, "<traced step>", "exec"), names)
    return source, names["step"], ops, same_bits


class _Buffers:
    """The arrays a plan keeps between calls for the results of elementwise ufuncs and matmul
    that die inside the step (`out=` into them), so that the steady state allocates little
    more than what it returns (glibc maps and unmaps arrays above 128 KiB, and trims the heap
    behind them, which a step would otherwise pay in page faults on every call). A buffer is
    free for a later result of its layout once the value in it and every view of that value
    have died. Never in a buffer: f's results and their views (the caller keeps them), a
    result an op makes with parameters (no `out=`), small arrays (the allocator makes them in
    no time, and a buffer would only add to what the plan holds) and large ones (the
    allocator hands a step the block it just freed, still in cache, and mapping it costs little
    beside the work on it)."""

    def __init__(self, names, equations, entries, results):
        self.names, self.results = names, set(results)
        self.aliases = _aliases(equations, entries)
        self.free = {}  # (shape, dtype, strides) -> names of free buffers
        self.held = {}  # slot -> the name of the buffer holding its value
        self.waits = {}  # buffer name -> the slots that must die before it is free again
        self.dead = set()

    def _kept_by_caller(self, slot):
        return not self.results.isdisjoint(self.aliases.get(slot, (slot,)))

    def fits(self, eq, output, given):
        forward = eq.op.forward
        return (type(forward) is np.ufunc and forward.nout == 1 and not eq.params
                and BUFFER_SIZES[0] <= output._value.nbytes <= BUFFER_SIZES[1]
                and (output._value.flags.c_contiguous or output._value.flags.f_contiguous)
                and not self._kept_by_caller(eq.output) and _owns_its_memory(output, given))

    def take(self, slot, like):
        """The name of a buffer laid out as `like` (a recorded result), now holding `slot`:
        the layout too, since a later sum adds in memory order."""
        layout = like.shape, like.dtype, like.strides
        free = self.free.get(layout)
        if free:
            name = free.pop()
        else:
            name = f"b{len(self.names)}"
            self.names[name] = np.empty_like(like)
        self.held[slot], self.waits[name] = name, set(self.aliases.get(slot, (slot,)))
        return name

    def may_inherit(self, source, slot):
        """Whether `slot` may be computed into `source`'s array (`out=`): not when that is a
        buffer and the caller keeps `slot`."""
        return source not in self.held or not self._kept_by_caller(slot)

    def inherit(self, source, slot):
        if source in self.held:
            name = self.held[slot] = self.held.pop(source)
            self.waits[name].update(self.aliases.get(slot, (slot,)))

    def release(self, slots):
        self.dead.update(slots)
        for name, waits in list(self.waits.items()):
            if waits <= self.dead:
                del self.waits[name]
                array = self.names[name]
                self.free.setdefault((array.shape, array.dtype, array.strides), []).append(name)


def _aliases(equations, entries):
    """slot -> the slots whose recorded arrays share memory with its own (views, reshapes, an
    op that returns its input), itself included; slots that share with none are left out."""
    by_memory = {}  # id of the array that owns the memory -> [(slot, array)]
    for eq in equations:
        array = entries[eq.output]._value
        if isinstance(array, np.ndarray) and array.size:
            owner = array
            while getattr(owner, "base", None) is not None:
                owner = owner.base
            by_memory.setdefault(id(owner), []).append((eq.output, array))
    aliases = {}
    for group in by_memory.values():
        for i, (s, a) in enumerate(group):
            for t, b in group[i + 1:]:
                if np.may_share_memory(a, b):
                    aliases.setdefault(s, {s}).add(t)
                    aliases.setdefault(t, {t}).add(s)
    return aliases


def _result_values(results, outputs, owned, entries, aliases, constant):
    """The code of each of f's results (`results`: its slot, a constant array, or None where
    the result is not a Tensor): a Tensor the caller owns, as the tape's results are (never a
    read-only view, never an array handed out twice: `tape._as_result`), checked in the code
    only where the trace could not tell (`aliases`: `_aliases`)."""
    values, seen = [], set()
    slots = {s for s in results if type(s) is int}
    for s, x in zip(results, outputs):
        if not isinstance(x, Tensor):
            values.append(constant(x))
        elif type(s) is not int:  # a constant: the caller's own copy
            values.append(f"wrap({constant(x if s is None else s)}.copy())")
        elif entries[s].ndim == 0:  # (maybe a NumPy scalar)
            values.append(f"wrap(array(v{s}))")
        elif s in owned and s not in seen and aliases.get(s, {s}) & slots == {s}:
            values.append(f"wrap(v{s})")  # made here, shared with no other result
        else:
            values.append(f"result(v{s}, handed_out)")
        if type(s) is int:
            seen.add(s)
    return values


def _structure_code(structure, values, constant):
    """Code building `structure` (f's result: lists, tuples, dicts, Tensors and other leaves)
    with its leaves replaced, in `_flatten`'s order, by the code in `values`."""
    if not isinstance(structure, (list, tuple, dict)):
        return next(values)
    if isinstance(structure, dict):
        items = ", ".join(f"{constant(key)}: {_structure_code(item, values, constant)}"
                          for key, item in structure.items())
        return "{" + items + "}"
    items = "".join(f"{_structure_code(item, values, constant)}, " for item in structure)
    if type(structure) is list:
        return f"[{items}]"
    if type(structure) is tuple:
        return f"({items})"
    kind = constant(type(structure))
    return f"{kind}({items})" if hasattr(structure, "_fields") else f"{kind}(({items}))"


def _reusable_input(eq, last, owned, entries):
    """The input of an elementwise NumPy ufunc (add, multiply, exp, ...) that can hold its result
    (`out=`): one whose array dies here (`last`), was made by the code and shares its memory with
    nothing (`owned`), and has the result's shape, dtype and layout (so no new array is made: the
    sums where gradients meet, the softmax's subtract, exp and divide)."""
    forward = eq.op.forward
    if type(forward) is not np.ufunc or forward.nout != 1 or eq.params:
        return None
    out = entries[eq.output]._value
    for slot in eq.inputs:
        if slot not in last or slot not in owned:
            continue
        x = entries[slot]._value  # (owned: a result of the code, a Tensor)
        # (the same strides too: NumPy lays a result out after its inputs, and a later sum
        # adds in memory order, so a result laid out otherwise would round otherwise)
        if x.shape == out.shape and x.dtype == out.dtype and x.strides == out.strides:
            return slot
    return None


def _owns_its_memory(output, given):
    """Whether an op's result, as the trace saw it, is a fresh writable array (not a view, not
    one of its inputs): replays of the same op on the same shapes and dtypes make one too."""
    array = output._value
    return (array.base is None and array.flags.writeable and array.ndim > 0
            and not any(array is (x._value if isinstance(x, Tensor) else x) for x in given))


def _label(op):
    return " ".join(op.name.split())  # a comment stays on its line


def _param_code(param, name, arguments, slot_of, names):
    """Python source for an equation's parameter: a name bound to the constant, or, for an
    argument array (labels in an index tuple, say), that argument's variable, so each call
    passes the new one."""
    if type(param) is np.ndarray and slot_of.get(id(param)) in arguments:
        return f"v{slot_of[id(param)]}"
    if type(param) is tuple and any(type(q) is np.ndarray and slot_of.get(id(q)) in arguments
                                    for q in param):
        return "(" + "".join(_param_code(q, f"{name}_{j}", arguments, slot_of, names) + ", "
                             for j, q in enumerate(param)) + ")"
    names[name] = param
    return name


def _same(result, expected):
    """Whether a replay's result is exactly f's: the same structure, the same arrays (shape,
    dtype, values) where f gave Tensors, the same objects elsewhere."""
    flat, expected_flat = _flatten(result), _flatten(expected)
    if len(flat) != len(expected_flat):
        return False
    for a, b in zip(flat, expected_flat):
        if isinstance(a, Tensor) or isinstance(b, Tensor):
            a, b = np.asarray(a), np.asarray(b)
            if not (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)):
                return False
        elif not (a is b or type(a) is type(b) and np.array_equal(a, b)):
            return False
    return True


def _finite(result):
    """Whether every float array among the Tensors of `result` is finite."""
    return all(np.isfinite(x.numpy()).all() for x in _flatten(result)
               if isinstance(x, Tensor) and x.dtype.kind in "fc")


def _close(result, reference):
    """Whether a replay's result is `reference`'s up to rounding: the same shapes, dtypes and
    non-float values, and every float entry within eps**0.75 (1.8e-12 in float64, 6e-6 in
    float32) of the largest entry of all the results, the scale the rounding was made at (a
    gradient that is zero in exact arithmetic, as a bias's before a batchnorm, is rounding noise
    on both sides, but not the same noise)."""
    pairs = [(np.asarray(a), np.asarray(b)) for a, b in zip(_flatten(result), _flatten(reference))
             if isinstance(a, Tensor)]
    floats = [b for _, b in pairs if b.dtype.kind in "fc"]
    scale = max([np.max(np.abs(b), initial=0.0, where=np.isfinite(b)) for b in floats], default=0.0)
    for a, b in pairs:
        if a.shape != b.shape or a.dtype != b.dtype:
            return False
        if b.dtype.kind not in "fc":
            if not np.array_equal(a, b):
                return False
        elif not np.allclose(a, b, rtol=0, atol=np.finfo(b.dtype).eps ** 0.75 * scale,
                             equal_nan=True):
            return False
    return True
