"""Traced steps: record a function's ops once per argument signature, then replay them.

`trace(f, argnums)` keeps `value_and_grad(f, argnums)`'s contract: it returns f's value and the
gradients with respect to the arguments `argnums` (arrays, or lists / tuples / dicts of them).
The first call with a given signature (shapes and dtypes of the arrays, values of the other
arguments) runs f on a tape that records every op, watched or not, and writes the records out
as a straight-line Python function: one line per forward op (`v7 = f3(v5, v6)`), then one line
per VJP the backward pass needs, in reverse (`t = b3_1(g7, None, v5, v6)`), with each gradient
summed where it goes. Later calls run that function on the new arguments: the ops' own NumPy
forwards and VJPs, without Tensors, records, identity lookups or conversions, which is most of
the eager engine's cost on small arrays. `traced.plans[signature].source` shows the code: the
Wengert list and its adjoint, as a program.

The contract is that of JAX's `jit`: f computes with the engine's ops on its arguments, the
same ops for every call with the same signature, and reaches each array argument as it was
passed (not a copy of its own making). A value that f reads out of a tensor
derived from its arguments (`float(t)`, `bool(t)`, `t.item()`, `t.numpy()`, `np.asarray(t)`,
comparisons, an index list built of argument arrays) would be frozen into the plan, so the
trace notices the read and runs f eagerly for that signature, with one warning naming the
line. What it cannot see, NumPy computing on a raw argument array, is caught by comparing the
first replay of every plan with running f eagerly: a difference is an error. With a tape
recording around the call, f runs eagerly, so that tape sees its ops.
"""
import itertools
import warnings

import numpy as np

from .tape import (_REWORDED, GradientTape, _add_more, _add_second, _as_result, _as_tensors,
                   _downstream, _flatten, _Shape, _state, _unflatten, _user_frame, argnums_of,
                   reworded, value_and_grad)
from .tensor import Tensor, _wrap


def trace(f, argnums=0):
    """`value_and_grad(f, argnums)`, recorded once per argument signature and then replayed."""
    single, nums = argnums_of(argnums, "trace")
    eager = value_and_grad(f, argnums)
    plans = {}  # signature -> _Plan, or None where f is run eagerly (a constant, or it reads values)
    warned = False

    def traced(*args, **kwargs):
        if kwargs:
            raise TypeError("trace: pass f's arguments positionally (keywords are not traced)")
        for i in nums:
            if i >= len(args):
                raise TypeError(f"trace: argnums {i} but only {len(args)} positional arguments")
        if _state.recording or _state.anomaly:  # an outer tape wants to see f's ops, or anomaly checks
            return eager(*args)
        leaves = []
        signature = _describe(args, leaves)
        if signature not in plans:  # record; the result comes from running f as usual
            if len(plans) == MAX_PLANS:  # forget the oldest (a signature that keeps changing)
                del plans[next(iter(plans))]
            plan, eager_because = _Plan.record(f, args, nums)
            if eager_because:  # a replay would reuse what this call saw: run f itself instead
                nonlocal warned
                if not warned:
                    warned = True
                    warnings.warn(f"trace: f {eager_because}, which a replay cannot redo; f runs "
                                  "eagerly for arguments of this signature", RuntimeWarning,
                                  stacklevel=2)
                plan = None
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

    traced.__wrapped__, traced.plans = f, plans  # plans: signature -> plan, for inspection
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


class _TracingTape(GradientTape):
    """Records every op, watched or not: a replay must recompute whatever derives from the
    arguments, constants included (the row maximum a softmax subtracts), integer results
    included. It also hears of reads of values that derive from the arguments (`float(t)`,
    `t.numpy()`, `t > 0`), which a replay cannot redo: f then runs eagerly."""

    def __init__(self, arguments):
        super().__init__(persistent=True)
        self._arguments = {id(x) for x in arguments}  # ids of the argument leaves
        self.eager_because = None  # what f did that a replay cannot redo, and where

    def _will_record(self, op, inputs, value):
        super()._will_record(op, inputs, value)  # still watches Variables on first use
        return True

    def read(self, x, how):
        if id(x) in _downstream(self._records, self._arguments):
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
    """The recorded ops of one call, written out as a Python function (the module docstring
    says how); `source` is its code, `run` calls it."""

    @classmethod
    def record(cls, f, args, nums):
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
        with _TracingTape(leaves + [x._value for x in leaves if isinstance(x, Tensor)]) as tape:
            loss = f(*args)
        if tape.eager_because or not any(r.output is loss for r in tape._records):
            return None, tape.eager_because  # f reads values, or returns a constant: run eagerly
        plan = cls(tape._records, loss, leaves, [_flatten(args[i]) for i in nums])
        return plan, None

    def __init__(self, records, loss, arguments, differentiated):
        """`arguments`: every array leaf of the arguments; `differentiated`: the leaves of each
        differentiated argument."""
        self.checked = False
        slots = {}  # id(tensor or array) -> slot: the variable v<slot> of the generated code
        names = {"empty_like": np.empty_like, "zeros_like": np.zeros_like, "asarray": np.asarray,
                 "add_second": _add_second, "add_more": _add_more}
        self._ops = {}  # line of the generated code -> (op, its input shapes, backward pass?)

        count = itertools.count().__next__  # slot numbers, in order of appearance

        def constant(value):  # a global of the generated code
            slot = count()
            names[f"v{slot}"] = value
            return slot

        arguments_in = []
        for leaf in arguments:
            array = leaf._value if isinstance(leaf, Tensor) else leaf
            if id(leaf) in slots or id(array) in slots:
                raise ValueError("trace: the same array is passed twice; a trace would bind "
                                 "both places to one slot (pass a copy)")
            slots[id(leaf)] = slots[id(array)] = count()  # the array too: f may wrap it anew
            arguments_in.append(slots[id(leaf)])

        def slot_of(x, value):
            slot = slots.get(id(x), slots.get(id(value)))
            return constant(value) if slot is None else slot

        lines = [f"def step({', '.join(f'v{s}' for s in arguments_in)}):"]

        # the forward pass: one line per record
        bound = set()  # argument slots that params read (labels in an index)
        steps = []  # (k, record, input slots, output slot, param expressions)
        for k, r in enumerate(records):
            inputs = [slot_of(x, v) for x, v in zip(r.inputs, r.values)]
            output = slots[id(r.output)] = count()
            params = [_param_code(p, f"p{k}_{i}", slots, names, bound) for i, p in enumerate(r.params)]
            names[f"f{k}"] = r.op.forward
            call = ", ".join([f"v{s}" for s in inputs] + params)
            lines.append(f"    v{output} = f{k}({call})  # {_label(r.op)} -> {r.output.shape}")
            self._ops[len(lines)] = r.op, [np.shape(v) for v in r.values], False
            if r.output.ndim == 0:  # a reduction to a scalar may give a NumPy scalar
                lines.append(f"    v{output} = asarray(v{output})")
            steps.append((k, r, inputs, output, params))
        loss = slots[id(loss)]

        # which outputs depend on a differentiated argument, and which lead to the loss
        sources = [slots[id(leaf)] for leaves in differentiated for leaf in leaves]
        self.counts = [len(leaves) for leaves in differentiated]
        depends = set(sources)
        for k, r, inputs, output, params in steps:
            if any(vjp and s in depends for s, vjp in zip(inputs, r.op.vjps)):
                depends.add(output)
        needed, backward = {loss}, []
        for step in reversed(steps):
            k, r, inputs, output, params = step
            if output in needed and output in depends:
                backward.append(step)
                needed.update(s for s, vjp in zip(inputs, r.op.vjps) if vjp and s in depends)

        # let go of what the backward pass will not read
        read = {loss, *sources, *bound}
        for k, r, inputs, output, params in backward:
            read.update(s for s in inputs if r.op.needs_inputs)
            read.update([output] if r.op.needs_output else [])
        unread = [s for s in [*arguments_in, *(step[3] for step in steps)] if s not in read]
        if unread:
            lines.append(f"    del {', '.join(f'v{s}' for s in unread)}")

        # the backward pass: each needed VJP, its result summed where it goes
        lines.append(f"    g{loss} = empty_like(v{loss})")
        lines.append(f"    g{loss}.fill(1)")
        contributions = {}
        for k, r, inputs, output, params in backward:
            values = []
            for j, (s, value) in enumerate(zip(inputs, r.values)):
                if r.op.needs_inputs or not isinstance(value, np.ndarray):
                    values.append(f"v{s}")
                else:  # its shape stands in, so the array need not be kept
                    names[f"shape{k}_{j}"] = _Shape(value)
                    values.append(f"shape{k}_{j}")
            call = ", ".join([f"g{output}", f"v{output}" if r.op.needs_output else "None"]
                             + values + params)
            for j, (s, vjp) in enumerate(zip(inputs, r.op.vjps)):
                if not vjp or s not in depends:
                    continue
                names[f"b{k}_{j}"], names[f"d{k}_{j}"] = vjp, r.values[j].dtype
                lines.append(f"    t = b{k}_{j}({call})  # {_label(r.op)}, input {j}")
                self._ops[len(lines)] = r.op, None, True
                lines.append(f"    if t.dtype != d{k}_{j}: t = t.astype(d{k}_{j})")
                n = contributions[s] = contributions.get(s, 0) + 1
                lines.append(f"    g{s} = " + ("t" if n == 1 else
                                               f"add_second(g{s}, t, g{output})" if n == 2 else
                                               f"add_more(g{s}, t)"))
            lines.append(f"    del g{output}")
        results = [f"g{s}" if s in contributions else f"zeros_like(v{s})" for s in sources]
        lines.append(f"    return v{loss}, [{', '.join(results)}]")
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
        op, shapes, backward = self._ops[line]
        return reworded(error, f"{op.name} (backward pass): {error}") if backward else \
            op.error(error, shapes)


def _label(op):
    return " ".join(op.name.split())  # a comment stays on its line


def _param_code(param, name, slots, names, bound):
    """Python source for a record's parameter: a name bound to the constant, or, for an argument
    array (labels in an index tuple, say), that argument's slot (added to `bound`), so each call
    passes the new one."""
    if type(param) is np.ndarray and id(param) in slots:
        bound.add(slots[id(param)])
        return f"v{slots[id(param)]}"
    if type(param) is tuple and any(type(q) is np.ndarray and id(q) in slots for q in param):
        return "(" + "".join(_param_code(q, f"{name}_{j}", slots, names, bound) + ", "
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
