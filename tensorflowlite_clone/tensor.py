"""Tensor and Variable: thin wrappers around NumPy arrays that the ops record on tapes."""
import numpy as np


def as_array(value):
    """The NumPy array behind `value`; integers and booleans enter differentiable math as float64."""
    if isinstance(value, Tensor):
        return value._value
    if type(value) is np.ndarray and value.dtype.kind in "fc":
        return value  # the common case, and np.asarray's dispatch costs as much as the rest
    array = np.asarray(value)
    if array.dtype.kind not in "fc":
        if array.dtype.kind not in "biu":
            raise TypeError(f"cannot make a tensor from {type(value).__name__} of dtype {array.dtype}")
        array = array.astype(np.float64)
    return array


class Tensor:
    """An immutable-by-convention array value. Constants are not watched unless `tape.watch`ed."""

    __slots__ = ("_value", "name", "__weakref__")
    __array_ufunc__ = None  # make `ndarray + Tensor` defer to Tensor.__radd__ instead of looping

    def __init__(self, value, name=None):
        self._value = as_array(value)
        self.name = name

    # --- NumPy-like read-only attributes ---------------------------------------------------
    shape = property(lambda self: self._value.shape)
    dtype = property(lambda self: self._value.dtype)
    ndim = property(lambda self: self._value.ndim)
    size = property(lambda self: self._value.size)

    def numpy(self):
        """The underlying array (not a copy: treat it as read-only)."""
        return self._value

    def item(self):
        return self._value.item()

    def __array__(self, dtype=None, copy=None):
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
        return float(self._value)

    def __bool__(self):
        return bool(self._value)

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Tensor(", threshold=20)
        label = f", name={self.name!r}" if self.name else ""
        return f"Tensor({body}, dtype={self.dtype}{label})"

    __hash__ = object.__hash__  # comparisons return arrays, identity stays the hash

    # --- operators (differentiable) --------------------------------------------------------
    def __add__(self, other): return _ops.add(self, other)
    def __radd__(self, other): return _ops.add(other, self)
    def __sub__(self, other): return _ops.subtract(self, other)
    def __rsub__(self, other): return _ops.subtract(other, self)
    def __mul__(self, other): return _ops.multiply(self, other)
    def __rmul__(self, other): return _ops.multiply(other, self)
    def __truediv__(self, other): return _ops.divide(self, other)
    def __rtruediv__(self, other): return _ops.divide(other, self)
    def __matmul__(self, other): return _ops.matmul(self, other)
    def __rmatmul__(self, other): return _ops.matmul(other, self)
    def __pow__(self, exponent): return _ops.power(self, exponent)
    def __neg__(self): return _ops.negative(self)
    def __pos__(self): return self
    def __getitem__(self, index): return _ops.getitem(self, index)

    # --- comparisons: plain boolean arrays, not differentiable -------------------------------
    def __lt__(self, other): return self._value < as_array(other)
    def __le__(self, other): return self._value <= as_array(other)
    def __gt__(self, other): return self._value > as_array(other)
    def __ge__(self, other): return self._value >= as_array(other)
    def __eq__(self, other): return self._value == as_array(other)
    def __ne__(self, other): return self._value != as_array(other)

    # --- methods, named and shaped like ndarray's so a VJP reads the same on both -----------
    def sum(self, axis=None, keepdims=False): return _ops.sum(self, axis, keepdims)
    def mean(self, axis=None, keepdims=False): return _ops.mean(self, axis, keepdims)
    def max(self, axis=None, keepdims=False): return _ops.max(self, axis, keepdims)

    def reshape(self, *shape):
        return _ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _ops.transpose(self, axes[0] if len(axes) == 1 else (axes or None))

    def astype(self, dtype):
        return _ops.cast(self, dtype)

    T = property(lambda self: _ops.transpose(self))
    mT = property(lambda self: _ops.transpose(self, _swap_last_two(self.ndim)))


def _wrap(array):
    """A Tensor around an array known to be fine as it is (the engine's own results): skips the
    conversion checks of `Tensor(...)`, which cost about as much as a small NumPy op."""
    tensor = Tensor.__new__(Tensor)
    tensor._value, tensor.name = array, None
    return tensor


def _swap_last_two(ndim):
    return tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


class Variable(Tensor):
    """A trainable tensor: tapes watch it automatically; optimizers update it with `assign_sub`."""

    __slots__ = ("trainable",)

    def __init__(self, value, name=None, trainable=True):
        # No copy (a model's parameter arrays become Variables on every step): the engine never
        # writes into a Variable's array, since updates replace the storage instead.
        super().__init__(value, name)
        self.trainable = trainable

    # Updates replace the storage rather than writing into it: a tape that recorded an op on
    # the old value keeps that value, so a later gradient is not silently changed (as in TF).
    def assign(self, value):
        self._value = np.array(self._checked(value, "assign"), dtype=self.dtype)
        return self

    def assign_sub(self, delta):
        self._value = np.subtract(self._value, self._checked(delta, "assign_sub"), dtype=self.dtype)
        return self

    def assign_add(self, delta):
        self._value = np.add(self._value, self._checked(delta, "assign_add"), dtype=self.dtype)
        return self

    def _checked(self, value, method):
        """Validate before touching the storage, so a bad update leaves the variable as it was."""
        value = as_array(value)
        if value.shape != self.shape:
            variable = f"variable {self.name!r}" if self.name else "the variable"
            raise ValueError(f"{method}: shape {value.shape} does not match {variable}'s "
                             f"shape {self.shape}")
        if not np.can_cast(value.dtype, self.dtype, "same_kind"):
            raise TypeError(f"{method}: cannot store {value.dtype} into a {self.dtype} variable")
        return value

    def __repr__(self):
        body = np.array2string(self._value, separator=", ", prefix="Variable(", threshold=20)
        return f"Variable({body}, dtype={self.dtype}, name={self.name!r}, trainable={self.trainable})"


from . import ops as _ops  # noqa: E402  (ops need Tensor; Tensor's operators need ops)
