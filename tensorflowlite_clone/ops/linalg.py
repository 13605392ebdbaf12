"""Linear algebra: the matrix product, batched and 1-D as np.matmul."""
import numpy as np

from ..primitive import Primitive
from . import reductions as _reductions


def _as_matrices(g, a, b):
    """Promote 1-D operands to matrices as `matmul` does, and shape `g` to match."""
    if b.ndim == 1:
        b, g = b.reshape(b.shape + (1,)), g.reshape(g.shape + (1,))
    if a.ndim == 1:
        a, g = a.reshape((1,) + a.shape), g.reshape(g.shape[:-1] + (1,) + g.shape[-1:])
    return g, a, b


def _matmul_grad_a(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return g @ b.T
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reductions.unbroadcast(g2 @ b2.mT, a2.shape).reshape(a.shape)


def _matmul_grad_b(g, ans, a, b):
    if a.ndim == 2 and b.ndim == 2:
        return a.T @ g
    g2, a2, b2 = _as_matrices(g, a, b)
    return _reductions.unbroadcast(a2.mT @ g2, b2.shape).reshape(b.shape)


matmul = Primitive("matmul", np.matmul, (_matmul_grad_a, _matmul_grad_b),
                   "cannot multiply {} by {}", saves="a b", operator="__matmul__")
