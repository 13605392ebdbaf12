"""Traced steps: record a function's ops once per argument signature, then replay them.

`trace(f, argnums)` keeps `value_and_grad(f, argnums)`'s contract: it returns f's value and the
gradients with respect to the arguments `argnums` (arrays, or lists / tuples / dicts of them).
The first call with a given signature (shapes and dtypes of the arrays, values of the other
arguments) runs f on a tape that records every op, watched or not, and turns the records into
a plan: numbered slots for the arguments, the constants and each op's output; which forward
writes which slot from which; which VJPs the backward pass runs and where their gradients go.
Later calls replay the plan on new arguments: the ops' own NumPy forwards and VJPs, without
Tensors, records, identity lookups or conversions, which is most of the eager engine's cost
on small arrays.

The contract is that of JAX's `jit`: f computes with the engine's ops on its arguments, the
same ops for every call with the same signature (no Python branching on values), and reaches
each array argument as it was passed (not a copy). Whatever f computes outside the engine (a
comparison, arithmetic on `.numpy()`) is frozen into the plan as a constant; to catch that,
the first replay of every plan is compared with running f eagerly, and a difference is an
error. With a tape recording around the call, f runs eagerly, so that tape sees its ops.
"""
import numpy as np

from .tape import (GradientTape, _accumulate, _anomaly, _as_result, _flatten, _recording,
                   _Shape, _unflatten, value_and_grad)
from .tensor import Tensor, _wrap


def trace(f, argnums=0):
    """`value_and_grad(f, argnums)`, recorded once per argument signature and then replayed."""
    single = isinstance(argnums, int)
    nums = (argnums,) if single else tuple(argnums)
    eager = value_and_grad(f, argnums)
    plans = {}  # signature -> _Plan, or None where f cannot be traced (its value is a constant)

    def traced(*args, **kwargs):
        if kwargs:
            raise TypeError("trace: pass f's arguments positionally (keywords are not traced)")
        for i in nums:
            if i >= len(args):
                raise TypeError(f"trace: argnums {i} but only {len(args)} positional arguments")
        if _recording or _anomaly[0]:  # an outer tape wants to see f's ops, or anomaly checks
            return eager(*args)
        leaves = []
        signature = _describe(args, leaves)
        if signature not in plans:  # record; the result comes from running f as usual
            if len(plans) == MAX_PLANS:  # forget the oldest (a signature that keeps changing)
                del plans[next(iter(plans))]
            plans[signature] = _Plan.record(f, args, nums)
            return eager(*args)
        plan = plans[signature]
        if plan is None:
            return eager(*args)
        value, grads = plan.replay(leaves)
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
    arguments, constants included (the row maximum a softmax subtracts)."""

    def _will_record(self, op, inputs):
        super()._will_record(op, inputs)  # still watches Variables on first use
        return True


class _Plan:
    """The recorded ops of one call, as slot numbers (see the module docstring)."""

    @classmethod
    def record(cls, f, args, nums):
        args = list(args)
        for i in nums:  # the differentiated arguments enter as Tensors, as value_and_grad has them
            leaves = _flatten(args[i])
            for leaf in leaves:
                if not isinstance(leaf, (Tensor, np.ndarray)) or leaf.dtype.kind not in "fc":
                    kind = getattr(leaf, "dtype", type(leaf).__name__)
                    raise TypeError(f"trace: argument {i} holds {kind}; a traced function is "
                                    "differentiated with respect to floating-point arrays only")
            leaves = [x if isinstance(x, Tensor) else Tensor(x) for x in leaves]
            args[i] = _unflatten(args[i], iter(leaves))
        with _TracingTape(persistent=True) as tape:
            loss = f(*args)
        if not isinstance(loss, Tensor) or not any(r.output is loss for r in tape._records):
            return None  # a constant: nothing to replay
        leaves = []
        _describe(args, leaves)
        return cls(tape._records, loss, leaves, [_flatten(args[i]) for i in nums])

    def __init__(self, records, loss, arguments, differentiated):
        """`arguments`: every array leaf of the arguments; `differentiated`: the leaves of each
        differentiated argument."""
        self.checked = False
        slots, self.initial = {}, []  # id(tensor or array) -> slot; each slot's value at start

        def new_slot(value=None):
            self.initial.append(value)
            return len(self.initial) - 1

        self.argument_slots = []
        for leaf in arguments:
            array = leaf._value if isinstance(leaf, Tensor) else leaf
            if id(leaf) in slots or id(array) in slots:
                raise ValueError("trace: the same array is passed twice; a trace would bind "
                                 "both places to one slot (pass a copy)")
            slot = new_slot()
            slots[id(leaf)] = slots[id(array)] = slot  # the array too: f may wrap it anew
            self.argument_slots.append(slot)

        def slot_of(x, value):
            slot = slots.get(id(x), slots.get(id(value)))
            return new_slot(value) if slot is None else slot  # a constant

        self.forward = []  # (op, input slots, params, output slot, bindings)
        for r in records:
            inputs = tuple(slot_of(x, v) for x, v in zip(r.inputs, r.values))
            output = slots[id(r.output)] = new_slot()
            self.forward.append((r.op, inputs, r.params, output, _bindings(r.params, slots)))
        self.loss = slots[id(loss)]

        # the backward pass: records on a differentiable path from an argument to the loss
        self.sources = [slots[id(leaf)] for leaves in differentiated for leaf in leaves]
        self.counts = [len(leaves) for leaves in differentiated]
        depends = set(self.sources)
        for op, inputs, params, output, bindings in self.forward:
            if any(vjp and slot in depends for slot, vjp in zip(inputs, op.vjps)):
                depends.add(output)
        read = {self.loss, *self.sources}  # slots the backward pass reads
        self.backward = []  # (VJPs to run, input values (slots or shapes), params, output, ...)
        for (op, inputs, params, output, bindings), r in zip(reversed(self.forward), reversed(records)):
            if output not in depends:
                continue
            vjps = tuple((vjp, slot, value.dtype) for slot, value, vjp in zip(inputs, r.values, op.vjps)
                         if vjp is not None and slot in depends)
            if op.needs_inputs:
                values = inputs
                read.update(inputs)
            else:  # shapes stand in: the VJPs read no more, so the arrays need not be kept
                values = tuple(_Shape(v) if isinstance(v, np.ndarray) else v for v in r.values)
            if op.needs_output:
                read.add(output)
            read.update(slot for i, j, slot in bindings)
            self.backward.append((vjps, op.needs_inputs, values, op.needs_output, output, params,
                                  bindings))
        self.unread = [s for s in range(len(self.initial)) if s not in read
                       and self.initial[s] is None]

    def replay(self, leaves):
        """(value, gradients per differentiated argument) for arguments whose arrays are
        `leaves` (in `_describe`'s order)."""
        vals = self.initial.copy()
        for slot, leaf in zip(self.argument_slots, leaves):
            vals[slot] = leaf._value if isinstance(leaf, Tensor) else leaf
        fetch = vals.__getitem__
        for op, inputs, params, output, bindings in self.forward:
            if bindings:
                params = _bound(params, bindings, vals)
            value = op.forward(*map(fetch, inputs), *params)
            vals[output] = value if type(value) is np.ndarray else np.asarray(value)
        loss = vals[self.loss]
        for slot in self.unread:  # free what no VJP reads
            vals[slot] = None

        grads = [None] * len(vals)
        seed = grads[self.loss] = np.empty_like(loss)
        seed.fill(1)
        owned = set()
        for vjps, slotted, values, needs_output, output, params, bindings in self.backward:
            g = grads[output]
            if g is None:
                continue
            grads[output] = None
            if bindings:
                params = _bound(params, bindings, vals)
            args = (g, vals[output] if needs_output else None,
                    *(map(fetch, values) if slotted else values), *params)
            for vjp, slot, dtype in vjps:
                gx = vjp(*args)
                if gx.dtype != dtype:
                    gx = gx.astype(dtype)
                old = grads[slot]
                if old is None:
                    grads[slot] = gx
                else:
                    _accumulate(grads, slot, old, gx, g, owned)
        handed_out = {id(seed)}
        results = iter([_as_result(np.zeros_like(vals[slot]) if grads[slot] is None else grads[slot],
                                   handed_out) for slot in self.sources])
        # one list per differentiated argument, for the caller to put back into its structure
        return _wrap(loss), [[next(results) for _ in range(n)] for n in self.counts]


def _bindings(params, slots):
    """Params that are argument arrays (labels inside an index tuple, say): (position, index in
    a tuple param or None, slot), so a replay passes the new array."""
    found = []
    for i, p in enumerate(params):
        if type(p) is np.ndarray and id(p) in slots:
            found.append((i, None, slots[id(p)]))
        elif type(p) is tuple:
            found.extend((i, j, slots[id(q)]) for j, q in enumerate(p)
                         if type(q) is np.ndarray and id(q) in slots)
    return tuple(found)


def _bound(params, bindings, vals):
    params = list(params)
    for i, j, slot in bindings:
        if j is None:
            params[i] = vals[slot]
        else:
            params[i] = params[i][:j] + (vals[slot],) + params[i][j + 1:]
    return tuple(params)


def _same(result, expected):
    """Whether a replay's (value, gradients per argument) is exactly value_and_grad's."""
    (value, grads), (expected_value, expected_grads) = result, expected
    flat = [np.asarray(value)] + [np.asarray(g) for part in grads for g in part]
    expected_flat = [np.asarray(expected_value)] + [np.asarray(g) for g in _flatten(expected_grads)]
    return len(flat) == len(expected_flat) and all(
        a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)
        for a, b in zip(flat, expected_flat))
