"""cs231n's "sandwich" layers: common sequences of layers as one forward / backward pair.

As in cs231n's `layer_utils.py`, the affine ones are built on the hand-derived layers of
`models/layers.py`, and the convolutional ones on the fast layers (`models/fast_layers.py`,
whose backward passes come from the engine's tape; `conv_relu_pool_*_naive` are the same on
the naive, hand-derived conv and pooling, for a path with no autodiff in it at all). Each
cache is the tuple of its layers' caches, in forward order.
"""
from .fast_layers import conv_backward_fast, conv_forward_fast, max_pool_backward_fast, max_pool_forward_fast
from .layers import (
    affine_backward,
    affine_forward,
    conv_backward_naive,
    conv_forward_naive,
    max_pool_backward_naive,
    max_pool_forward_naive,
    relu_backward,
    relu_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)

__all__ = ["affine_relu_forward", "affine_relu_backward", "conv_relu_forward", "conv_relu_backward",
           "conv_bn_relu_forward", "conv_bn_relu_backward", "conv_relu_pool_forward",
           "conv_relu_pool_backward", "conv_relu_pool_forward_naive", "conv_relu_pool_backward_naive"]


def affine_relu_forward(x, w, b):
    """An affine layer followed by a ReLU. Returns (out, cache), cache = (fc_cache, relu_cache)."""
    a, fc_cache = affine_forward(x, w, b)
    out, relu_cache = relu_forward(a)
    return out, (fc_cache, relu_cache)


def affine_relu_backward(dout, cache):
    """Backward pass of affine-ReLU: through the ReLU, then the affine layer. Returns (dx, dw, db)."""
    fc_cache, relu_cache = cache
    return affine_backward(relu_backward(dout, relu_cache), fc_cache)


def conv_relu_forward(x, w, b, conv_param):
    """A (fast) convolution followed by a ReLU. Returns (out, cache), cache = (conv_cache,
    relu_cache)."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    out, relu_cache = relu_forward(a)
    return out, (conv_cache, relu_cache)


def conv_relu_backward(dout, cache):
    """Backward pass of conv-ReLU. Returns (dx, dw, db)."""
    conv_cache, relu_cache = cache
    return conv_backward_fast(relu_backward(dout, relu_cache), conv_cache)


def conv_bn_relu_forward(x, w, b, gamma, beta, conv_param, bn_param):
    """Convolution, spatial batchnorm, ReLU. Returns (out, cache), cache = (conv_cache,
    bn_cache, relu_cache)."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    an, bn_cache = spatial_batchnorm_forward(a, gamma, beta, bn_param)
    out, relu_cache = relu_forward(an)
    return out, (conv_cache, bn_cache, relu_cache)


def conv_bn_relu_backward(dout, cache):
    """Backward pass of conv-batchnorm-ReLU. Returns (dx, dw, db, dgamma, dbeta)."""
    conv_cache, bn_cache, relu_cache = cache
    dan, dgamma, dbeta = spatial_batchnorm_backward(relu_backward(dout, relu_cache), bn_cache)
    dx, dw, db = conv_backward_fast(dan, conv_cache)
    return dx, dw, db, dgamma, dbeta


def conv_relu_pool_forward(x, w, b, conv_param, pool_param):
    """Convolution, ReLU, max pooling (fast layers). Returns (out, cache), cache = (conv_cache,
    relu_cache, pool_cache)."""
    a, conv_cache = conv_forward_fast(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_fast(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward(dout, cache):
    """Backward pass of conv-ReLU-pool. Returns (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_fast(dout, pool_cache)
    return conv_backward_fast(relu_backward(ds, relu_cache), conv_cache)


def conv_relu_pool_forward_naive(x, w, b, conv_param, pool_param):
    """`conv_relu_pool_forward` on the naive, hand-derived conv and pooling layers."""
    a, conv_cache = conv_forward_naive(x, w, b, conv_param)
    s, relu_cache = relu_forward(a)
    out, pool_cache = max_pool_forward_naive(s, pool_param)
    return out, (conv_cache, relu_cache, pool_cache)


def conv_relu_pool_backward_naive(dout, cache):
    """Backward pass of `conv_relu_pool_forward_naive`, all by hand. Returns (dx, dw, db)."""
    conv_cache, relu_cache, pool_cache = cache
    ds = max_pool_backward_naive(dout, pool_cache)
    return conv_backward_naive(relu_backward(ds, relu_cache), conv_cache)
