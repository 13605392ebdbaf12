"""Bad input and misuse of the engine: each gets a clear error naming the op, or the right
answer; never a silent wrong number (the findings of shared/reports/bad-input-2026-12.md)."""
import collections
import sys
import threading

import numpy as np
import pytest

import tensorflowlite_clone as tflc

T = tflc.Tensor


# --- S1-1: only numbers enter the math ---------------------------------------------------------
@pytest.mark.parametrize("call, op, dtype", [
    (lambda: tflc.add(np.array(["1.5", "2"]), 1.0), "add", "<U3"),
    (lambda: T(np.ones(2)) * np.array([1, None], dtype=object), "multiply", "object"),
    (lambda: T(np.ones((1, 2))) @ np.array([["1"], ["2"]]), "matmul", "<U1"),
    (lambda: tflc.add(np.array(["2020-01-01"], dtype="datetime64[D]"), 1), "add", "datetime64"),
    (lambda: tflc.log(np.array([b"1"])), "log", "|S1"),
])
def test_ops_refuse_arrays_that_do_not_hold_numbers(call, op, dtype):
    with pytest.raises(TypeError, match=f"^{op}: cannot make a tensor from ndarray of dtype "
                                        f"{dtype.replace('|', '.')}"):
        call()


def test_a_masked_array_is_refused_rather_than_losing_its_mask():
    masked = np.ma.array([1.0, 2.0], mask=[0, 1])
    for make in (T, lambda m: tflc.sum(m)):
        with pytest.raises(TypeError, match="masked array"):
            make(masked)


def test_integer_and_boolean_arrays_enter_as_numbers():
    assert tflc.add(np.array([1, 2]), 0.5).numpy().tolist() == [1.5, 2.5]
    assert tflc.sum(np.array([True, True])).numpy() == 2


# --- S1-5: tapes are per thread ------------------------------------------------------------------
def test_many_threads_each_get_exactly_their_own_gradients():
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    wrong = [0] * 8
    start = threading.Barrier(len(wrong))

    def work(k):
        v = tflc.Variable(np.full(3, float(k)))
        expected = 2 * v.numpy() + 1
        start.wait()
        for _ in range(3000):
            with tflc.GradientTape() as tape:
                y = tflc.sum(v * v) + tflc.sum(v)
            recorded = len(tape.records)
            g = tape.gradient(y, v)
            wrong[k] += recorded != 4 or not np.array_equal(g.numpy(), expected)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(len(wrong))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(old)
    assert wrong == [0] * 8


def _in_another_thread(f):
    results = []
    thread = threading.Thread(target=lambda: results.append(f()))
    thread.start()
    thread.join()
    return results[0]


def test_an_op_run_in_another_thread_is_not_recorded_on_this_threads_tape():
    x = tflc.Variable(np.ones(2))
    with tflc.GradientTape(persistent=True) as tape:
        elsewhere = _in_another_thread(lambda: tflc.sum(x * 2.0))  # while this tape records
        here = tflc.sum(x * 3.0)
    assert len(tape.records) == 2
    assert tape.gradient(elsewhere, x) is None
    np.testing.assert_array_equal(tape.gradient(here, x).numpy(), [3.0, 3.0])
    # a tape may still be asked from another thread
    np.testing.assert_array_equal(_in_another_thread(lambda: tape.gradient(here, x)).numpy(),
                                  [3.0, 3.0])


def test_detect_anomaly_in_one_thread_does_not_switch_it_on_in_another():
    def log_of_zero():
        with np.errstate(divide="ignore"):
            return tflc.log(np.zeros(1)).numpy()[0]

    with tflc.detect_anomaly():
        assert _in_another_thread(log_of_zero) == -np.inf
        with pytest.raises(FloatingPointError, match="log produced inf"):
            log_of_zero()


# --- S1-8: float16 means ---------------------------------------------------------------------------
def test_float16_mean_accumulates_in_float32_as_numpy_does():
    x = np.full(70000, 0.001, np.float16)
    with tflc.GradientTape() as tape:
        tape.watch(x)
        m = tflc.mean(x)
    g = tape.gradient(m, x)
    assert m.dtype == g.dtype == np.float16
    assert m.numpy() == np.mean(x)
    np.testing.assert_allclose(g.numpy(), 1 / 70000, rtol=1e-2)
    assert tflc.mean(np.ones((300, 300), np.float16)).numpy() == 1.0
    np.testing.assert_array_equal(tflc.mean(np.ones((300, 300), np.float16), axis=0).numpy(),
                                  np.ones(300, np.float16))


# --- S2-1: namedtuple sources -------------------------------------------------------------------
def test_namedtuple_sources_come_back_as_the_same_namedtuple():
    Pair = collections.namedtuple("Pair", "a b")
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape() as tape:
        y = tflc.sum(x * x)
    g = tape.gradient(y, Pair(x, [x]))
    assert type(g) is Pair and isinstance(g.b, list)
    np.testing.assert_array_equal(g.a.numpy(), [2.0, 4.0])
    np.testing.assert_array_equal(g.b[0].numpy(), [2.0, 4.0])


# --- S2-10: reduction axes ----------------------------------------------------------------------
@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", ["a", 1.0, True, np.array([0, 1]), (0, 1.0), [0, "b"]])
def test_reductions_refuse_an_axis_that_is_not_ints(op, axis):
    x = np.arange(12.0).reshape(3, 4)
    with pytest.raises(TypeError, match=f"^{op}: axis must be an int or a tuple of ints, got"):
        getattr(tflc, op)(x, axis=axis)


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
def test_reductions_take_numpy_integer_axes_and_lists(op):
    x = np.arange(24.0).reshape(2, 3, 4)
    expected = getattr(np, op)(x, axis=(0, 2))
    for axis in ((np.int64(0), 2), [0, -1]):
        np.testing.assert_array_equal(getattr(tflc, op)(x, axis=axis).numpy(), expected)
    np.testing.assert_array_equal(getattr(tflc, op)(x, axis=np.int32(1)).numpy(),
                                  getattr(np, op)(x, axis=1))


@pytest.mark.parametrize("op", ["sum", "mean", "max"])
@pytest.mark.parametrize("axis", [0, -1])
def test_reducing_a_0d_tensor_over_its_one_axis_differentiates(op, axis):
    x = tflc.Variable(np.array(3.5))
    with tflc.GradientTape() as tape:
        y = getattr(tflc, op)(x, axis=axis) * 2.0
    assert y.numpy() == 7.0
    assert tape.gradient(y, x).numpy() == 2.0  # d(2x)/dx, whatever the reduction of a scalar
    with pytest.raises(np.exceptions.AxisError, match=f"^{op}: axis 0 is out of bounds"):
        getattr(tflc, op)(x, axis=(0,))  # as NumPy: an int axis, not a tuple, for a 0-d array


# --- S2-15: other errors name the op --------------------------------------------------------------
@pytest.mark.parametrize("call, error, message", [
    (lambda x: x.reshape("a"), TypeError, "reshape: shape must be an int or a tuple of ints, got 'a'"),
    (lambda x: tflc.reshape(x, (2, 1.5)), TypeError, "reshape: shape must be"),
    (lambda x: tflc.cast(x, "banana"), TypeError, "cast: 'banana' is not a NumPy dtype"),
    (lambda x: tflc.transpose(x, 1), TypeError, "transpose: axes must be a tuple of ints, got 1"),
    (lambda x: x[[[0, 1], [1]]], IndexError, "getitem: the index list .* is ragged"),
    (lambda x: x ** (10 ** 400), OverflowError, "power: the exponent is too large for a float"),
    (lambda x: x ** True, TypeError, "power: the exponent must be a real number, got True"),
    (lambda x: x ** 1j, TypeError, "power: the exponent must be a real number, got 1j"),
])
def test_bad_parameters_get_errors_that_name_the_op(call, error, message):
    with pytest.raises(error, match=f"^{message}"):
        call(T(np.ones((2, 2))))


def test_broadcast_to_takes_an_int_shape_as_numpy_does():
    assert tflc.broadcast_to(T(2.0), 5).numpy().tolist() == [2.0] * 5


@pytest.mark.parametrize("raised", [TypeError("unsupported thing"), MemoryError("Unable to allocate"),
                                    OverflowError("too big")])
def test_any_forward_error_is_reworded_to_name_the_op(raised):
    def forward(x):
        raise raised

    op = tflc.Primitive("odd_op", forward, (lambda g, ans, x: g,))
    with pytest.raises(type(raised), match=f"^odd_op: {raised}$"):
        op(np.ones(2))


def test_a_numpy_error_class_that_wants_more_than_a_message_becomes_its_builtin_base():
    with pytest.raises(TypeError, match="^add: ") as info:  # NumPy raises UFuncTypeError here
        tflc.Primitive("add", lambda x: np.add(x, 1, casting="no", dtype=np.int8),
                       (None,))(np.ones(2))
    assert "int8" in str(info.value)


def test_exiting_a_tape_that_was_never_entered_is_a_clear_error():
    with pytest.raises(RuntimeError, match="was not entered"):
        tflc.GradientTape().__exit__(None, None, None)


# --- edge cases other projects' suites found ---------------------------------------------------
@pytest.mark.parametrize("value", [3.5, np.float64(3.5), np.float32(3.5)])
def test_mean_of_a_number(value):
    assert tflc.mean(value).numpy() == 3.5


def test_an_empty_index_list_selects_nothing_as_in_numpy():
    x = tflc.Variable(np.array([1.0, 2.0]))
    with tflc.GradientTape() as tape:
        y = x[[]]
        s = tflc.sum(y) + tflc.sum(x)
    assert y.shape == (0,)
    np.testing.assert_array_equal(tape.gradient(s, x).numpy(), [1.0, 1.0])


def test_a_list_of_tensors_is_refused_rather_than_dropping_their_gradients():
    t1, t2 = tflc.Variable(np.ones(2)), tflc.Variable(np.ones(2))
    with pytest.raises(TypeError, match="mean: got a list of Tensors"):
        tflc.mean([t1, t2])


@pytest.mark.parametrize("f", [lambda x: 1.0, lambda x: np.float64(1.0), lambda x: T(1.0)])
def test_a_function_that_ignores_its_argument_has_gradient_zero(f):
    assert tflc.grad(f)(2.0).numpy() == 0.0
    np.testing.assert_array_equal(tflc.grad(f)(np.ones(3)).numpy(), np.zeros(3))


def test_a_function_that_returns_no_number_is_a_clear_error():
    with pytest.raises(TypeError, match="value_and_grad: f returned NoneType"):
        tflc.grad(lambda x: None)(2.0)


# --- severity 3: the gradient call and detect_anomaly ---------------------------------------------
def test_an_integer_target_warns_rather_than_answering_none_silently():
    x = tflc.Variable(np.ones(2))
    with tflc.GradientTape() as tape:
        tflc.sum(x)
    with pytest.warns(RuntimeWarning, match="target of dtype int64 has no gradient"):
        assert tape.gradient(np.array([1]), x) is None  # as TF does, but said out loud


def test_complex_output_gradients_for_a_real_target_are_refused():
    x = tflc.Variable(np.ones(()))
    with tflc.GradientTape() as tape:
        y = x * 2.0
    with pytest.raises(TypeError, match="output_gradients are complex"):
        tape.gradient(y, x, output_gradients=np.array(1 + 1j))


def test_detect_anomaly_blames_nan_output_gradients_not_the_first_vjp():
    x = tflc.Variable(np.ones(2))
    with tflc.detect_anomaly():
        with tflc.GradientTape() as tape:
            y = tflc.sum(x)
        with pytest.raises(FloatingPointError, match="^gradient: output_gradients hold NaN"):
            tape.gradient(y, x, output_gradients=np.nan)


def test_detect_anomaly_says_when_nan_came_in_with_an_input():
    with tflc.detect_anomaly(), pytest.raises(FloatingPointError,
                                              match="an input of relu already held NaN"):
        tflc.relu(np.array([1.0, np.nan]))


def test_detect_anomaly_checks_variable_updates_and_leaves_the_variable_as_it_was():
    v = tflc.Variable(np.ones(3), name="w")
    with tflc.detect_anomaly():
        with pytest.raises(FloatingPointError, match="assign_sub: the new value of variable 'w' "
                                                     "holds NaN"):
            v.assign_sub([np.nan, 0.0, 0.0])
        small = tflc.Variable(np.ones(1, np.float32))
        with np.errstate(over="ignore"), pytest.raises(FloatingPointError, match="holds inf"):
            small.assign(np.array([1e40]))
    np.testing.assert_array_equal(v.numpy(), np.ones(3))
    assert small.numpy()[0] == 1.0
