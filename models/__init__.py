"""Models built from the engine's primitives, each beside the seed's hand-derived version:
the softmax classifier (`models.softmax`) and the two-layer network (`models.two_layer_net`)."""
from .softmax import Softmax, softmax_loss, softmax_loss_naive, softmax_loss_vectorized
from .two_layer_net import TwoLayerNet

__all__ = ["Softmax", "softmax_loss", "softmax_loss_naive", "softmax_loss_vectorized", "TwoLayerNet"]
