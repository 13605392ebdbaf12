"""tensorflowlite_clone: a tensor-level reverse-mode autodiff engine on NumPy.

    import tensorflowlite_clone as tflc
    W = tflc.Variable(np.zeros((3, 4)), name="W")
    with tflc.GradientTape() as tape:
        loss = tflc.sum(tflc.relu(x @ W))
    dW = tape.gradient(loss, W)
"""
from .ops import (add, broadcast_to, cast, divide, exp, getitem, log, matmul, max, maximum, mean,
                  multiply, negative, power, relu, reshape, sigmoid, stop_gradient, subtract, sum,
                  tanh, transpose, unbroadcast, where)
from .tape import (GradientTape, Primitive, Record, UnconnectedGradients, detect_anomaly, grad,
                   value_and_grad)
from .custom import custom_gradient
from .functional import ForwardAccumulator, hessian, hvp, jacobian, jvp
from .tensor import Tensor, Variable
from .tracing import trace

__version__ = "0.1.0"

__all__ = [
    "Tensor", "Variable", "GradientTape", "UnconnectedGradients", "Primitive", "Record", "grad",
    "value_and_grad", "trace", "custom_gradient",
    "detect_anomaly", "add", "subtract", "multiply", "divide", "negative", "power", "matmul",
    "exp", "log", "tanh", "sigmoid", "relu", "maximum", "where", "sum", "mean", "max",
    "reshape", "transpose", "broadcast_to", "getitem", "cast", "stop_gradient", "unbroadcast",
    "ForwardAccumulator", "jvp", "jacobian", "hessian", "hvp",
]
