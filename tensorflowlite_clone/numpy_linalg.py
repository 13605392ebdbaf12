"""`tflc.linalg`: np.linalg's functions under NumPy's names and signatures, differentiable.

    tflc.linalg.norm(x, ord=None, axis=None, keepdims=False)  # 2-norm / Frobenius; grad 0 at 0
    tflc.linalg.det(a), tflc.linalg.inv(a), tflc.linalg.solve(a, b)
    tflc.linalg.trace(a, offset=0, axis1=0, axis2=1)          # np.trace, as tflc.trace

norm, det, inv and solve are declared with the other linear-algebra ops in ops/linalg.py,
which keeps them out of the top-level namespace (NumPy has them under np.linalg); trace is
np.trace (Tensor.trace, from ops/shape.py: the sum of `diagonal`; NumPy 2's np.linalg.trace
takes the last two axes instead). matmul, tensordot and cross are the top-level ops, here too as
in NumPy 2's np.linalg.
"""
from .ops.linalg import _det as det
from .ops.linalg import _inv as inv
from .ops.linalg import _norm as norm
from .ops.linalg import _solve as solve
from .ops.linalg import cross, matmul, tensordot
from .ops.shape import trace

__all__ = ["norm", "det", "inv", "solve", "trace", "matmul", "tensordot", "cross"]
