"""Tensor and Variable: thin wrappers around NumPy arrays that the ops record on tapes."""
from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:
    import numpy.typing as npt

# --- the public API's type aliases (hints only: nothing checks them at run time) ---------------
ArrayLike = Union["Tensor", np.ndarray, np.generic, int, float, complex, Sequence[Any]]
"""A value as the ops and constructors take it: a Tensor, a NumPy array or scalar, a Python
number or bool, or (nested) lists of numbers."""

Structure = Union[ArrayLike, Sequence["Structure"], Mapping[Any, "Structure"]]
"""A value, or lists / tuples / dicts of them, nested: a tape's targets, sources and
output_gradients, `watch`'s argument, a ForwardAccumulator's primals and tangents. What comes
back (gradients, Jacobians, JVPs) mirrors the structure given, and is typed `Any`."""


def as_array(value: ArrayLike, op: str | None = None) -> np.ndarray:
    """The NumPy array behind `value`: booleans or numbers (integers stay integers, as in TF and
    NumPy, and promote when they meet floats). Anything else (strings, objects, dates, a masked
    array's mask) is a TypeError, naming `op` when an op is converting its input."""
    if isinstance(value, Tensor):
        return value._value
    if type(value) is np.ndarray and value.dtype.kind in "fc":
        return value  # the common case, and np.asarray's dispatch costs as much as the rest
    prefix = f"{op}: " if op else ""
    if isinstance(value, np.ma.MaskedArray):  # np.asarray would drop the mask silently
        raise TypeError(f"{prefix}cannot make a tensor from a masked array (its mask would be "
                        "ignored); use .filled(value) or .compressed() first")
    try:
        array = np.asarray(value)
    except ValueError as error:  # a ragged list
        raise ValueError(f"{prefix}cannot make a tensor from this {type(value).__name__}: "
                         f"{error}") from None
    if array.dtype.kind not in "biufc":
        raise TypeError(f"{prefix}cannot make a tensor from {type(value).__name__} of dtype "
                        f"{array.dtype}")
    return array


class Tensor:
    """An immutable-by-convention array value. Constants are not watched unless `tape.watch`ed.

    `Tensor(array)` wraps a NumPy array without copying it (the engine never writes into it):
    change the array and the Tensor changes too. Integer and boolean tensors are values
    without gradients, as in TensorFlow."""

    __slots__ = ("_value", "name", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Tensor` defer to Tensor.__radd__ instead of looping

    def __init__(self, value: ArrayLike, name: str | None = None) -> None:
        self._value = as_array(value)
        self.name = name

    # --- NumPy-like read-only attributes ---------------------------------------------------
    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)

    # Reading a value out: a trace being recorded must know (it would freeze the value).
    def numpy(self) -> np.ndarray:
        """The underlying array (not a copy: treat it as read-only)."""
        _read(self, ".numpy()")
        return self._value

    def item(self) -> Any:
        _read(self, ".item()")
        return self._value.item()

    def __array_function__(self, func, types, args, kwargs):
        """NumPy's functions on Tensors (`np.sum(t)`, `np.mean(t, axis=0)`): the engine's op of
        the same name, so that the call is differentiable; for a function the engine does not
        have, NumPy's own on the values (not differentiable; a trace counts it as a read)."""
        op = _engine_function(func)
        if op is not None:
            return op(*args, **kwargs)
        if func in _SHAPE_ONLY:  # (these read no value)
            return func(self._value)
        return func(*_values_of(args, func), **_values_of(kwargs, func))

    def __array__(self, dtype=None, copy=None):
        _read(self, "np.asarray()")
        if copy:
            return np.array(self._value, dtype=dtype, copy=True)
        return self._value if dtype is None else self._value.astype(dtype, copy=False)

    def __len__(self):
        return len(self._value)

    def __iter__(self):  # rows as Tensors (recorded); a 0-d tensor is not iterable, as in NumPy
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(len(self)))

    def __float__(self):
        _read(self, "float()")
        return float(self._value)

    def __bool__(self):
        _read(self, "bool()")
        return bool(self._value)

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Tensor(", threshold=20)
        label = f", name={self.name!r}" if self.name else ""
        return f"Tensor({body}, dtype={self.dtype}{label})"

    __hash__ = object.__hash__  # comparisons (ops/elementwise.py) give Tensors: hash by identity

    # --- operators and methods: made from the ops' declarations (ops/__init__.py), except
    # these, shaped like ndarray's own so that a VJP reads the same on both
    def __pos__(self): return self

    def reshape(self, *shape: int | Sequence[int]) -> Tensor:
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes: int | Sequence[int] | None) -> Tensor:
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def astype(self, dtype: npt.DTypeLike) -> Tensor:
        return _ops.cast(self, dtype)

    T = property(lambda self: _ops.transpose(self))
    mT = property(lambda self: _ops.transpose(self, _swap_last_two(self.ndim)))


_SHAPE_ONLY = {np.shape, np.ndim, np.size}


def _engine_function(func):
    """The engine's function standing for NumPy's `func`: np.linalg's in tflc.linalg, the rest
    under the same name among the ops."""
    from . import numpy_linalg  # (it imports the ops, which import this module)
    if func.__module__ == "numpy.linalg":
        return getattr(numpy_linalg, func.__name__, None)
    return _ops.OPS.get(func.__name__)


def _values_of(structure, func):
    """`structure` (NumPy's arguments) with every Tensor replaced by its array, read."""
    if isinstance(structure, Tensor):
        _read(structure, f"np.{func.__name__}()")
        return structure._value
    if isinstance(structure, (list, tuple)):
        return type(structure)(_values_of(item, func) for item in structure)
    if isinstance(structure, dict):
        return {key: _values_of(item, func) for key, item in structure.items()}
    return structure


def _read(tensor, how):
    """Tell a trace being recorded that `how` reads `tensor`'s value."""
    tracing = _primitive._state.tracing
    if tracing is not None:
        tracing.read(tensor, how)


def _wrap(array):
    """A Tensor around an array known to be fine as it is (the engine's own results): skips the
    conversion checks of `Tensor(...)`, which cost about as much as a small NumPy op."""
    tensor = Tensor.__new__(Tensor)
    tensor._value, tensor.name = array, None
    return tensor


_created = itertools.count()  # Variables' creation order


def _swap_last_two(ndim):
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


class Variable(Tensor):
    """A trainable tensor: tapes watch it automatically; optimizers update it with `assign_sub`.

    It holds its own copy of `value`, as tf.Variable does: changing the array it was made from
    does not change it (nor a gradient a tape recorded on it). `copy=False` shares the array
    instead, for callers that leave it alone while the Variable is in use (a model's parameters,
    made Variables on every step, are not copied each time)."""

    __slots__ = ("trainable", "_order")

    def __init__(self, value: ArrayLike, name: str | None = None, trainable: bool = True,
                 copy: bool = True) -> None:
        value = as_array(value)
        self._value, self.name = np.array(value, copy=True) if copy else value, name
        self.trainable = trainable
        self._order = next(_created)  # tapes list their variables in creation order, as TF

    # Updates replace the storage rather than writing into it: a tape that recorded an op on
    # the old value keeps that value, so a later gradient is not silently changed (as in TF).
    def assign(self, value: ArrayLike) -> Variable:
        return self._store(np.array(self._checked(value, "assign"), dtype=self.dtype), "assign")

    def assign_sub(self, delta: ArrayLike) -> Variable:
        delta = self._checked(delta, "assign_sub")
        return self._store(np.subtract(self._value, delta, dtype=self.dtype), "assign_sub")

    def assign_add(self, delta: ArrayLike) -> Variable:
        delta = self._checked(delta, "assign_add")
        return self._store(np.add(self._value, delta, dtype=self.dtype), "assign_add")

    def _store(self, value, method):
        if _primitive._state.anomaly:  # a NaN step is the anomaly people look for
            _program._check_finite(value, f"{method}: the new value of {self._label()} holds {{}}")
        self._value = value
        return self

    def _label(self):
        return f"variable {self.name!r}" if self.name else "the variable"

    def _checked(self, value, method):
        """Validate before touching the storage, so a bad update leaves the variable as it was."""
        value = as_array(value, method)
        if value.shape != self.shape:
            raise ValueError(f"{method}: shape {value.shape} does not match {self._label()}'s "
                             f"shape {self.shape}")
        if not np.can_cast(value.dtype, self.dtype, "same_kind"):
            raise TypeError(f"{method}: cannot store {value.dtype} into a {self.dtype} variable")
        return value

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Variable(", threshold=20)
        return f"Variable({body}, dtype={self.dtype}, name={self.name!r}, trainable={self.trainable})"


from . import ops as _ops, primitive as _primitive, program as _program  # noqa: E402, I001
# (they need Tensor, and Tensor needs them)
