"""Traced steps: record a function's forward and backward pass once per argument signature,
then replay them as straight-line code.

`trace(f, argnums)` keeps `value_and_grad(f, argnums)`'s contract: it returns f's value and the
gradients with respect to the arguments `argnums` (arrays, or lists / tuples / dicts of them).
The first call with a given signature (shapes and dtypes of the arrays, values of the other
arguments) runs f on a tape that records every op, watched or not, and then asks that tape for
the gradients inside its own block: the sweep runs the VJPs on Tensors, so the backward pass is
recorded too, as more equations of the same program (program.py). The program, cut down to what
the value and the gradients need and rewritten by passes.py (what derives from constants alone
computed once, repeated ops dropped: exactly the same numbers), is written out as a Python
function, one line per equation
(`v7 = f3(v5, v6)`), each value deleted after its last use. Later calls run that function on
the new arguments: only the ops' NumPy forwards, without Tensors, equations, lookups or
conversions, which is most of the eager engine's cost on small arrays.
`traced.plans[signature].source` shows the code: the Wengert list and its adjoint, as a program.

The contract is that of JAX's `jit`: f computes with the engine's ops on its arguments, the
same ops for every call with the same signature, and reaches each array argument as it was
passed (not a copy of its own making). A value that f reads out of a tensor derived from its
arguments (`float(t)`, `bool(t)`, `t.item()`, `t.numpy()`, `np.asarray(t)`, an index list built
of argument arrays; a comparison is an op, and only reading its result is a read) would be
frozen into the plan, so the trace notices the
read and runs f eagerly for that signature, with one warning naming the line. What it cannot
see, NumPy computing on a raw argument array, is caught by comparing the first replay of every
plan with running f eagerly: a difference is an error. With a tape recording around the call,
f runs eagerly, so that tape sees its ops.
"""
from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import ops as _ops
from .passes import optimize
from .primitive import _REWORDED, _state, _user_frame
from .program import depends_on, last_uses
from .tape import GradientTape, _as_result, _as_tensors, _flatten, _unflatten, argnums_of, value_and_grad
from .tensor import Tensor, _wrap


def trace(f: Callable[..., Any], argnums: int | Sequence[int] = 0
          ) -> Callable[..., tuple[Tensor, Any]]:
    """`value_and_grad(f, argnums)`, recorded once per argument signature and then replayed."""
    single, nums = argnums_of(argnums, "trace")
    eager = value_and_grad(f, argnums)
    plans = {}  # signature -> _Plan, or None where f is run eagerly (a constant, or it reads values)
    why = {}  # signature -> why it was recorded (what differed from the call before), and how it runs
    last = None  # the signature of the latest call
    warned = False

    def traced(*args, **kwargs):
        if kwargs:
            raise TypeError("trace: pass f's arguments positionally (keywords are not traced)")
        for i in nums:
            if i >= len(args):
                raise TypeError(f"trace: argnums {i} but only {len(args)} positional arguments")
        if _state.recording or _state.anomaly:  # an outer tape wants to see f's ops, or anomaly checks
            return eager(*args)
        nonlocal last
        leaves = []
        signature = _describe(args, leaves)
        previous, last = last, signature
        if signature not in plans:  # record; the result comes from running f as usual
            if len(plans) == MAX_PLANS:  # forget the oldest (a signature that keeps changing)
                why.pop(next(iter(plans)), None)
                del plans[next(iter(plans))]
            why[signature] = ("the first call" if previous is None else
                              _difference(previous, signature) if previous not in (None, signature)
                              else "a plan dropped after its first replay failed the check")
            plan, eager_because = _Plan.record(f, args, nums)
            if eager_because:  # a replay would reuse what this call saw: run f itself instead
                nonlocal warned
                if not warned:
                    warned = True
                    warnings.warn(f"trace: f {eager_because}, which a replay cannot redo; f runs "
                                  "eagerly for arguments of this signature", RuntimeWarning,
                                  stacklevel=2)
                plan = None
            if eager_because:
                why[signature] += f"; runs eagerly: f {eager_because}"
            elif plan is None:
                why[signature] += "; runs eagerly: f's value does not depend on its arguments"
            plans[signature] = plan
            return eager(*args)
        plan = plans[signature]
        if plan is None:
            return eager(*args)
        value, grads = plan.run(leaves)
        if not plan.checked:  # the first replay (on new values, as a rule): compare with f itself
            expected = eager(*args)
            if not _same((value, grads), expected):
                del plans[signature]
                raise RuntimeError(
                    "trace: replaying f's recorded ops gave a different result from running f; "
                    "f must compute only with the engine's ops on its arguments (a value computed "
                    "outside them, such as a comparison or arithmetic on .numpy(), is frozen into "
                    "the trace). Use value_and_grad for this f.")
            plan.checked = True
        structured = [_unflatten(args[i], iter(part)) for i, part in zip(nums, grads)]
        return value, structured[0] if single else tuple(structured)

    def explain():
        """How many plans there are and, for each argument signature, why a call recorded it:
        the first call, or what differed from the call before (which argument's shape, dtype
        or value), and whether f runs eagerly for it (and why)."""
        name = getattr(f, "__qualname__", repr(f))
        lines = [f"trace of {name}: {sum(p is not None for p in plans.values())} plan(s) for "
                 f"{len(plans)} argument signature(s) (at most {MAX_PLANS} are kept)"]
        lines += [f"  {k}. recorded for {why.get(sig, '?')}" for k, sig in enumerate(plans, 1)]
        return "\n".join(lines)

    traced.__wrapped__, traced.plans, traced.explain = f, plans, explain  # for inspection
    return traced


MAX_PLANS = 32  # per traced function


def _describe(value, leaves):
    """`value`'s signature, what a plan is specific to (array shapes and dtypes, the values of
    everything else), appending its arrays to `leaves` in the order `_flatten` visits them."""
    if isinstance(value, (Tensor, np.ndarray)):
        leaves.append(value)
        return value.shape, value.dtype
    if isinstance(value, (list, tuple)):
        return (type(value),) + tuple([_describe(item, leaves) for item in value])
    if isinstance(value, dict):
        return (dict,) + tuple([(key, _describe(item, leaves)) for key, item in value.items()])
    if value is None or isinstance(value, (bool, int, float, complex, str, np.number)):
        return type(value), value
    raise TypeError(f"trace: cannot trace an argument of type {type(value).__name__}; pass "
                    "arrays, Tensors, numbers, strings, or lists / tuples / dicts of them")


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

    def record(self, op, inputs, values, output, value, params, where):
        slot_of, as_tensor = self._program.slot_of, self._as_tensor
        slots = [slot_of.get(id(x), slot_of.get(id(v))) for x, v in zip(inputs, values)]
        inputs = [as_tensor.get(id(x), x) for x in inputs]
        self._program.add(op, inputs, slots, values, output, value, params, where)

    def read(self, x, how):
        program = self._program
        slot = program.slot_of.get(id(x))
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
    def record(cls, f, args, nums):
        """(the plan, None), or (None, why f must run eagerly) when it cannot be replayed."""
        args = list(args)
        for i in nums:  # the differentiated arguments enter as Tensors, as value_and_grad has them
            for leaf in _flatten(args[i]):
                if not isinstance(leaf, (Tensor, np.ndarray)) or leaf.dtype.kind not in "fc":
                    kind = getattr(leaf, "dtype", type(leaf).__name__)
                    raise TypeError(f"trace: argument {i} holds {kind}; a traced function is "
                                    "differentiated with respect to floating-point arrays only")
            args[i] = _as_tensors(args[i])
        leaves = []
        _describe(args, leaves)
        differentiated = [_flatten(args[i]) for i in nums]
        with _TracingTape(leaves) as tape:
            loss = f(*args)
            if not isinstance(loss, Tensor) or id(loss) not in tape.program.slot_of:
                return None, tape.eager_because  # a constant: nothing to replay
            grads = tape.gradient(loss, [x for part in differentiated for x in part],
                                  unconnected_gradients="zero")
        if tape.eager_because:
            return None, tape.eager_because
        return cls(tape.program, leaves, [loss, *grads], [len(part) for part in differentiated]), None

    def __init__(self, program, arguments, outputs, counts):
        """`arguments`: every array leaf of the arguments, in `_describe`'s order; `outputs`:
        the loss, then the gradient of each differentiated leaf; `counts`: how many leaves each
        differentiated argument has."""
        self.checked, self.counts = False, counts
        slot_of, entries = program.slot_of, program.entries
        names = {"asarray": np.asarray}  # the generated code's globals
        self._ops = {}  # line of the generated code -> (op, its input shapes)

        def constant(x):  # a value no equation computes: a global of the code
            key = f"c{len(names)}"
            names[key] = x._value if isinstance(x, Tensor) else x
            return key

        arguments = [slot_of[id(leaf)] for leaf in arguments]
        results = [slot_of.get(id(x)) for x in outputs]  # None: a constant (zeros)
        # constants folded, repeats dropped, dead code gone (passes.py); a result may now be a
        # constant array
        equations, results = optimize(program, results, arguments)
        lines = [f"def step({', '.join(f'v{s}' for s in arguments)}):"]
        owned = set()  # slots holding an array made here that nothing else shares
        slots = [s for s in results if type(s) is int]
        # (arguments are never deleted: the caller holds them, and params may read them)
        for k, (eq, last) in enumerate(zip(equations, last_uses(equations, [*slots, *arguments]))):
            given = eq.given
            ins = [f"v{s}" if s is not None else constant(x) for s, x in zip(eq.inputs, given)]
            params = [_param_code(p, f"p{k}_{i}", set(arguments), slot_of, names)
                      for i, p in enumerate(eq.params)]
            output = entries[eq.output]
            into = _accumulator(eq, last, owned, entries)
            if into is None:
                names[f"f{k}"] = eq.op.forward
            else:  # a gradient summed into an array that dies here: no new array
                names[f"f{k}"], ins[eq.inputs.index(into)] = _add_into, f"v{into}"
                if ins[0] != f"v{into}":
                    ins.reverse()
            if _owns_its_memory(output, given):
                owned.add(eq.output)
            lines.append(f"    v{eq.output} = f{k}({', '.join(ins + params)})  "
                         f"# {_label(eq.op)}{' (in place)' * (into is not None)} -> {output.shape}")
            self._ops[len(lines)] = eq.op, [np.shape(x) for x in given]
            if output.ndim == 0:  # a reduction to a scalar may give a NumPy scalar
                lines.append(f"    v{eq.output} = asarray(v{eq.output})")
            if last:
                lines.append(f"    del {', '.join(f'v{s}' for s in last)}")
        values = [f"v{s}" if type(s) is int else f"{constant(x if s is None else s)}.copy()"
                  for s, x in zip(results, outputs)]
        lines.append(f"    return {values[0]}, [{', '.join(values[1:])}]")
        self.source = "\n".join(lines) + "\n"
        exec(compile(self.source, "<traced step>", "exec"), names)
        self._step = names["step"]

    def run(self, leaves):
        """(value, gradients per differentiated argument) for arguments whose arrays are
        `leaves` (in `_describe`'s order)."""
        try:
            loss, grads = self._step(*[x._value if isinstance(x, Tensor) else x for x in leaves])
        except _REWORDED as error:
            raise self._reworded(error) from None
        handed_out = set()
        results = iter([_as_result(g, handed_out) for g in grads])
        # one list per differentiated argument, for the caller to put back into its structure
        return _wrap(loss), [[next(results) for _ in range(n)] for n in self.counts]

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


def _accumulator(eq, last, owned, entries):
    """The input of an `add` that it can sum into in place: one whose array dies here (`last`),
    was made by the code and shares its memory with nothing (`owned`), and has the result's
    shape and dtype (the sums where gradients meet, which would otherwise allocate)."""
    if eq.op is not _ops.add:
        return None
    out = entries[eq.output]
    for slot in eq.inputs:
        if slot in last and slot in owned and entries[slot].shape == out.shape \
                and entries[slot].dtype == out.dtype:
            return slot
    return None


def _owns_its_memory(output, given):
    """Whether an op's result, as the trace saw it, is a fresh writable array (not a view, not
    one of its inputs): replays of the same op on the same shapes and dtypes make one too."""
    array = output._value
    return (array.base is None and array.flags.writeable and array.ndim > 0
            and not any(array is (x._value if isinstance(x, Tensor) else x) for x in given))


def _add_into(a, b):
    return np.add(a, b, out=a)


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
    """Whether a replay's (value, gradients per argument) is exactly value_and_grad's."""
    (value, grads), (expected_value, expected_grads) = result, expected
    flat = [np.asarray(value)] + [np.asarray(g) for part in grads for g in part]
    expected_flat = [np.asarray(expected_value)] + [np.asarray(g) for g in _flatten(expected_grads)]
    return len(flat) == len(expected_flat) and all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
        for a, b in zip(flat, expected_flat))
