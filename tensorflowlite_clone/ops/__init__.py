"""The ops, one declaration each, grouped by family: elementwise, reductions, shape and
indexing, linear algebra. Every public name of a family module is an op (a Primitive, or a
function composed of them): the package exports it, and the Tensor method or operator it names
(`method=`, `operator=`) is made from it here, so adding an op is its declaration (and its tests).
"""
from ..primitive import Primitive
from ..tensor import Tensor
from . import elementwise, linalg, math, reductions, shape, windows

FAMILIES = (elementwise, reductions, shape, linalg, math, windows)
_REFLECTED = {"__add__", "__sub__", "__mul__", "__truediv__", "__matmul__", "__pow__", "__mod__",
              "__floordiv__", "__and__", "__or__", "__xor__", "__lshift__", "__rshift__"}


def _ops_of(module):
    for name, value in vars(module).items():
        if name.startswith("_"):
            continue
        if isinstance(value, Primitive) or (callable(value) and not isinstance(value, type)
                                            and getattr(value, "__module__", None) == module.__name__):
            yield name, value


OPS = {name: op for module in FAMILIES for name, op in _ops_of(module)}


def _install(op):
    """`op` as the Tensor operator or method it names, if any."""
    operator, method = getattr(op, "operator", None), getattr(op, "method", None)
    # (a Primitive's bound __call__: calling the instance costs a lookup more, on every op)
    call = op.__call__ if isinstance(op, Primitive) else op
    if operator == "__neg__":
        Tensor.__neg__ = lambda self: call(self)
    elif operator:
        setattr(Tensor, operator, lambda self, other: call(self, other))
        if operator in _REFLECTED:
            setattr(Tensor, "__r" + operator[2:], lambda self, other: call(other, self))
    if method:
        setattr(Tensor, method, lambda self, *args, **kwargs: call(self, *args, **kwargs))


for _op in OPS.values():
    _install(_op)

globals().update(OPS)
__all__ = sorted(OPS)
