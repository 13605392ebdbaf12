"""Tensor and Variable basics: attributes, conversions, comparisons, in-place updates."""
import numpy as np
import pytest

import tensorflowlite_clone as tflc


def test_attributes_mirror_the_array():
    a = np.arange(24.0).reshape(2, 3, 4)
    t = tflc.Tensor(a, name="t")
    assert t.shape == (2, 3, 4) and t.dtype == np.float64 and t.ndim == 3 and t.size == 24
    assert len(t) == 2 and t.name == "t"
    assert isinstance(t.numpy(), np.ndarray)
    np.testing.assert_array_equal(t.numpy(), a)
    s = tflc.Tensor(2.5)
    assert s.shape == () and s.ndim == 0 and s.size == 1
    assert float(s) == 2.5 and s.item() == 2.5
    with pytest.raises(TypeError):
        len(s)


def test_np_asarray_and_array_protocol():
    a = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = tflc.Tensor(a)
    b = np.asarray(t)
    assert isinstance(b, np.ndarray) and b.dtype == np.float64
    np.testing.assert_array_equal(b, a)
    f32 = np.asarray(t, dtype=np.float32)
    assert f32.dtype == np.float32
    copied = np.array(t, copy=True)
    copied[0, 0] = 99.0
    assert t.numpy()[0, 0] == 1.0  # an explicit copy does not alias the tensor
    np.testing.assert_array_equal(np.sum(np.asarray(t), axis=0), [4.0, 6.0])


@pytest.mark.parametrize("value", [np.arange(3), np.array([1, 2], dtype=np.int32), [1, 2, 3], 7,
                                   np.array([True, False]), np.uint8(3)], ids=repr)
def test_integers_and_booleans_stay_what_they_are(value):
    t = tflc.Tensor(value)  # as tf.constant does (with NumPy's default int64 for Python ints)
    assert t.dtype == np.asarray(value).dtype
    np.testing.assert_array_equal(t.numpy(), np.asarray(value))


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_floating_dtypes_are_kept(dtype):
    assert tflc.Tensor(np.ones(2, dtype=dtype)).dtype == dtype
    assert tflc.Variable(np.ones(2, dtype=dtype)).dtype == dtype


def test_non_numeric_values_are_rejected():
    with pytest.raises(TypeError):
        tflc.Tensor(np.array(["a", "b"]))
    with pytest.raises(TypeError):
        tflc.Tensor(object())


def test_integers_promote_as_numpy_does():
    out = tflc.Tensor(np.arange(3)) * np.arange(3)
    assert out.dtype == np.int64
    np.testing.assert_array_equal(out.numpy(), [0, 1, 4])
    W = tflc.Variable(np.ones(3, np.float32))
    assert (tflc.Tensor(np.arange(3, dtype=np.int8)) * W).dtype == np.float32
    assert (tflc.Tensor(np.arange(3)) / 2).dtype == np.float64
    assert tflc.sum(np.array([True, True, False])).numpy() == 2  # (np.add.reduce would say True)
    assert tflc.mean(np.arange(4)).numpy() == 1.5


def test_repr():
    assert repr(tflc.Tensor([1., 2.])) == "Tensor([1., 2.], dtype=float64)"
    assert repr(tflc.Tensor([1, 2])) == "Tensor([1, 2], dtype=int64)"
    assert repr(tflc.Tensor(np.float32(0.5), name="half")) == "Tensor(0.5, dtype=float32, name='half')"
    assert repr(tflc.Variable([1.5], name="w")) == \
        "Variable([1.5], dtype=float64, name='w', trainable=True)"
    assert "trainable=False" in repr(tflc.Variable([0.0], trainable=False))
    big = repr(tflc.Tensor(np.zeros(1000)))
    assert "..." in big and len(big) < 200


@pytest.mark.parametrize("op,expected", [
    (lambda t: t < 2, [True, False, False]), (lambda t: t <= 2, [True, True, False]),
    (lambda t: t > 2, [False, False, True]), (lambda t: t >= 2, [False, True, True]),
    (lambda t: t == 2, [False, True, False]), (lambda t: t != 2, [True, False, True]),
    (lambda t: t > tflc.Tensor([0.0, 5.0, 0.0]), [True, False, True]),
    (lambda t: np.array([0.0, 5.0, 0.0]) < t, [True, False, True]),
    (lambda t: 2.0 >= t, [True, True, False]),
], ids=["lt", "le", "gt", "ge", "eq", "ne", "tensor", "array left", "scalar left"])
def test_comparisons_give_boolean_tensors(op, expected):
    t = tflc.Tensor([1.0, 2.0, 3.0])
    out = op(t)
    assert isinstance(out, tflc.Tensor) and out.dtype == np.bool_  # as TF and JAX do
    np.testing.assert_array_equal(out.numpy(), expected)


def test_comparisons_are_not_recorded():
    x = tflc.Variable([1.0, -1.0])
    with tflc.GradientTape() as tape:
        mask = x > 0
    assert tape.records == () and mask.numpy().tolist() == [True, False]


def test_tensors_are_hashable_by_identity():
    a, b = tflc.Tensor([1.0]), tflc.Tensor([1.0])
    d = {a: "a", b: "b"}
    assert d[a] == "a" and d[b] == "b" and len({a, b, a}) == 2


def test_bool_of_a_scalar_tensor():
    assert bool(tflc.Tensor(1.0)) is True and bool(tflc.Tensor(0.0)) is False
    with pytest.raises(ValueError):
        bool(tflc.Tensor([1.0, 2.0]))


def test_ndarray_on_the_left_defers_to_the_tensor():
    t = tflc.Tensor([1.0, 2.0])
    for out in (np.ones(2) + t, np.ones(2) - t, np.ones(2) * t, np.ones(2) / t,
                np.ones((2, 2)) @ t, np.float64(3.0) * t):
        assert isinstance(out, tflc.Tensor), type(out)


def test_variable_copies_its_value_and_never_writes_into_the_callers_array():
    a = np.array([1.0, 2.0])
    v = tflc.Variable(a)
    assert not np.shares_memory(v.numpy(), a)  # as tf.Variable does
    v.assign_sub([0.5, 0.5])
    v.assign_add([0.25, 0.25])
    v.assign([7.0, 8.0])
    np.testing.assert_array_equal(a, [1.0, 2.0])  # the caller's array is untouched
    np.testing.assert_array_equal(v.numpy(), [7.0, 8.0])


# --- Variable updates -----------------------------------------------------------------------------
def test_assign_and_assign_sub_and_add_update_the_variable_not_old_snapshots():
    v = tflc.Variable(np.array([[1.0, 2.0], [3.0, 4.0]]), name="v")
    snapshot = v.numpy()
    assert v.assign(np.array([[5.0, 6.0], [7.0, 8.0]])) is v
    np.testing.assert_array_equal(v.numpy(), [[5.0, 6.0], [7.0, 8.0]])
    # the storage is replaced, so a value read (or recorded on a tape) earlier keeps its value
    np.testing.assert_array_equal(snapshot, [[1.0, 2.0], [3.0, 4.0]])
    assert v.assign_sub(np.ones((2, 2))) is v
    np.testing.assert_array_equal(v.numpy(), [[4.0, 5.0], [6.0, 7.0]])
    v.assign_add(tflc.Tensor(np.full((2, 2), 0.5)))
    np.testing.assert_array_equal(v.numpy(), [[4.5, 5.5], [6.5, 7.5]])
    v.assign([[0, 0], [0, 1]])  # ints are fine
    np.testing.assert_array_equal(v.numpy(), [[0.0, 0.0], [0.0, 1.0]])
    assert v.dtype == np.float64


def test_variable_update_changes_later_forward_passes():
    v = tflc.Variable([2.0])
    v.assign_sub([0.5])
    with tflc.GradientTape() as tape:
        y = v * v
    assert y.numpy()[0] == 2.25
    assert tape.gradient(y, v).numpy()[0] == 3.0


@pytest.mark.parametrize("method", ["assign", "assign_sub", "assign_add"])
@pytest.mark.parametrize("bad", [np.ones(4), np.ones((3, 1)), np.ones((1, 3)), 1.0], ids=repr)
def test_update_with_wrong_shape_is_a_value_error_and_leaves_the_variable(method, bad):
    v = tflc.Variable(np.array([1.0, 2.0, 3.0]), name="v")
    with pytest.raises(ValueError, match=method):
        getattr(v, method)(bad)
    np.testing.assert_array_equal(v.numpy(), [1.0, 2.0, 3.0])


def test_update_with_wrong_shape_names_both_shapes():
    v = tflc.Variable(np.zeros((3, 4)), name="W")
    with pytest.raises(ValueError, match=r"\(5, 2\).*W.*\(3, 4\)"):
        v.assign(np.zeros((5, 2)))


def test_float32_variable_stays_float32_after_float64_update():
    v = tflc.Variable(np.ones(3, dtype=np.float32))
    v.assign_sub(np.array([0.1, 0.2, 0.3]))  # float64 delta
    assert v.dtype == np.float32
    np.testing.assert_allclose(v.numpy(), [0.9, 0.8, 0.7], rtol=1e-6)


def test_complex_into_real_variable_is_rejected_and_leaves_it():
    v = tflc.Variable(np.ones(2))
    with pytest.raises(TypeError):
        v.assign(np.array([1 + 1j, 2.0]))
    np.testing.assert_array_equal(v.numpy(), [1.0, 1.0])


def test_variable_properties():
    v = tflc.Variable(np.zeros((2, 3), dtype=np.float32), name="W", trainable=False)
    assert isinstance(v, tflc.Tensor)
    assert v.name == "W" and v.trainable is False and v.shape == (2, 3) and v.dtype == np.float32
    assert tflc.Variable(1.0).trainable is True
    assert tflc.Variable(3).dtype == np.int64  # as tf.Variable(3) is an integer variable


def test_iteration_yields_rows_and_refuses_0d():
    t = tflc.Tensor(np.arange(6.0).reshape(3, 2))
    rows = list(t)
    assert len(rows) == 3 and all(isinstance(r, tflc.Tensor) for r in rows)
    np.testing.assert_array_equal(rows[2].numpy(), [4.0, 5.0])
    with pytest.raises(TypeError, match="0-d"):
        list(tflc.Tensor(1.0))
