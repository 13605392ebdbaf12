"""The recorded program (program.py) and the ops table (ops/): what the tape, the sweep, the
compiler and the pictures all read."""
import numpy as np
import pytest

import tensorflowlite_clone as tflc
from tensorflowlite_clone import ops
from tensorflowlite_clone.program import Aval, depends_on, last_uses, needed_for


def _recorded():
    x, w = tflc.Variable(np.ones((2, 3)), name="x"), tflc.Variable(np.ones((3,)), name="w")
    c = np.full((2, 3), 2.0)
    with tflc.GradientTape(persistent=True) as tape:
        a = x * w          # slot 2 (x and w are leaves 0 and 1)
        b = tflc.exp(a)    # 3
        d = b + c          # 4: c is a constant, without a slot
        unused = w * 3.0   # 5: nothing below reads it
        loss = tflc.sum(d)  # 6
    return tape, (x, w, c, a, b, d, unused, loss)


def test_equations_are_slots_in_execution_order_and_constants_have_none():
    tape, (x, w, c, a, b, d, unused, loss) = _recorded()
    program = tape.program
    assert [eq.op.name for eq in program.equations] == ["multiply", "exp", "add", "multiply", "sum"]
    assert [eq.inputs for eq in program.equations] == [(0, 1), (2,), (3, None), (1, None), (4,)]
    assert [eq.output for eq in program.equations] == [2, 3, 4, 5, 6]
    assert program.leaves == [0, 1] and program.entries[3] is b
    assert program.given[2][1] is c  # the constant, for readers (pictures, the compiler)
    records = tape.records
    assert records[2].inputs == (b, c) and records[2].output is d


def test_each_equation_keeps_only_what_its_vjps_read():
    tape, (x, w, c, a, b, d, unused, loss) = _recorded()
    multiply, exp, add, _, total = tape.program.equations
    assert multiply.ans is None and tuple(multiply.saved) == (x, w)  # saves x, y; not ans
    assert exp.ans is b and exp.saved[0] is None  # saves ans; its VJP names x `_x`: not read
    assert add.ans is None and type(add.saved[0]) is Aval and type(add.saved[1]) is Aval
    assert (add.saved[0].shape, add.saved[0].dtype, add.saved[0].ndim) == ((2, 3), np.float64, 2)
    assert type(total.saved[0]) is Aval and total.arrays[0].size == 6


def test_the_analyses():
    tape, _ = _recorded()
    equations = tape.program.equations
    assert depends_on(equations, [1]) == {1, 2, 3, 4, 5, 6}  # everything w reaches
    assert depends_on(equations, [0]) == {0, 2, 3, 4, 6}
    assert needed_for(equations, [6]) == [0, 1, 2, 4]  # `unused` (equation 3) is dead code
    lasts = last_uses([equations[k] for k in (0, 1, 2, 4)], keep=[6])
    assert lasts == [[0, 1], [2], [3], [4]]  # each slot's last reader frees it


def test_every_op_is_exported_and_is_the_tensor_method_or_operator_it_names():
    assert set(ops.OPS) <= set(tflc.__all__)
    for name, op in ops.OPS.items():
        assert getattr(tflc, name) is op
        method, operator = getattr(op, "method", None), getattr(op, "operator", None)
        if method:
            assert getattr(tflc.Tensor, method).__name__ == "<lambda>", name
        if operator:
            assert operator in vars(tflc.Tensor), name
    x = tflc.Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal((3.0 - x).numpy(), [2.0, 1.0])  # a reflected operator
    np.testing.assert_array_equal(x.mean(keepdims=True).numpy(), [1.5])


def test_a_primitive_declared_in_one_place_works_everywhere():
    """A new op: its declaration only. The gradient, the trace and the picture follow."""
    cube = tflc.Primitive("cube", lambda x: x ** 3, (lambda g, ans, x: 3 * g * x * x,), saves="x",
                          label=lambda: "x³")
    x0 = np.array([1.0, -2.0])
    x = tflc.Variable(x0)
    with tflc.GradientTape(persistent=True) as tape:
        y = tflc.sum(cube(x))
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), 3 * x0 ** 2)
    traced = tflc.jit(tflc.value_and_grad(lambda v: tflc.sum(cube(v))))
    for _ in range(3):
        np.testing.assert_array_equal(traced(x0)[1].numpy(), 3 * x0 ** 2)
    import viz
    assert "cube" in viz.draw_graph(tape, y).source
    with tflc.GradientTape() as outer:  # second order comes free: its VJP is written in ops
        with tflc.GradientTape() as inner:
            y = tflc.sum(cube(x))
        g = inner.gradient(y, x)
    np.testing.assert_array_equal(outer.gradient(g, x).numpy(), 6 * x0)


def test_bind_runs_the_bare_forward_on_arrays_and_records_on_tensors():
    a = np.array([1.0, 2.0])
    out = tflc.multiply.bind(a, a)
    assert type(out) is np.ndarray
    x = tflc.Variable(a)
    with tflc.GradientTape() as tape:
        out = tflc.multiply.bind(x, a)
    assert isinstance(out, tflc.Tensor)
    np.testing.assert_array_equal(tape.gradient(out, x).numpy(), a)


@pytest.mark.parametrize("ops_on", ["arrays", "tensors"])
def test_mean_fused_agrees_with_its_composition(ops_on):
    """mean is one primitive (one op in pictures, one call less each way); it must be exactly
    sum(x) / count, value and gradient, over axes and keepdims."""
    rng = np.random.default_rng(0)
    for axis in (None, 0, 1, (0, 1)):
        for keepdims in (False, True):
            x = tflc.Variable(rng.standard_normal((3, 4)))
            count = 12 if axis in (None, (0, 1)) else x.shape[axis]
            with tflc.GradientTape(persistent=True) as tape:
                fused = tflc.mean(x, axis, keepdims)
                composed = tflc.sum(x, axis, keepdims) / count
            np.testing.assert_array_equal(fused.numpy(), composed.numpy())
            np.testing.assert_array_equal(tape.gradient(fused, x).numpy(),
                                          tape.gradient(composed, x).numpy())
