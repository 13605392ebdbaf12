"""tensorflowlite_clone: a tensor-level reverse-mode autodiff engine on NumPy.

    import tensorflowlite_clone as tflc
    W = tflc.Variable(np.zeros((3, 4)), name="W")
    with tflc.GradientTape() as tape:
        loss = tflc.sum(tflc.relu(x @ W))
    dW = tape.gradient(loss, W)
"""
from .tensor import Tensor, Variable  # noqa: I001  (the Tensor first: everything builds on it)
from .primitive import Primitive, detect_anomaly
from .program import Program, Record
from .tape import GradientTape, UnconnectedGradients, grad, value_and_grad
from . import ops
from .ops import *  # noqa: F403  (every op, under its own name)
from .custom import custom_gradient
from .functional import ForwardAccumulator, hessian, hvp, jacobian, jvp
from .tracing import jit
from . import numpy_linalg as linalg  # noqa: F401  (tflc.linalg, np.linalg's functions)
from . import nn  # noqa: F401  (tflc.nn, the neural-network functions)
from . import gradcheck  # noqa: F401  (tflc.gradcheck: rel_error, numerical_gradient, ...)

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Variable", "GradientTape", "UnconnectedGradients", "Primitive", "Program",
    "Record", "grad", "value_and_grad", "jit", "custom_gradient", "detect_anomaly",
    "ForwardAccumulator", "jvp", "jacobian", "hessian", "hvp", *ops.__all__,
]
