"""Draw the README's pictures into docs/: `python docs/make_figures.py` (needs Graphviz's `dot`).

The same drawings come from the command line: `tflc graph --model softmax -o FILE.svg`,
`tflc graph --model two-layer -o FILE.svg` and `tflc gradcheck -o FILE.svg`.
"""
from pathlib import Path

import numpy as np

import tensorflowlite_clone as tflc
import viz
from models.cnn import ThreeLayerConvNet, layer_groups
from models.two_layer_net import manual_loss
from tensorflowlite_clone.app.cli import loss_graph, small_problem

DOCS = Path(__file__).resolve().parent
REG = 0.05


def forgot_relu_mask(params, X, y, reg):
    """A classic slip in the hand derivation: passing ds1 through the ReLU without its mask."""
    grads = manual_loss(params, X, y, reg, intermediates=True)[1]
    ds1 = grads["hidden_pre"] = grads["hidden"]  # should be (s1 > 0) * ds1 / N
    grads["W1"] = X.T @ ds1 + 2 * reg * params["W1"]  # ... and the error flows on to W1, b1
    grads["b1"] = ds1.sum(axis=0)
    return grads


def conv_net_graph():
    """cs231n's ThreeLayerConvNet (conv, relu, 2x2 max pool, affine, relu, affine, softmax loss)
    at a small size, recorded on a tape from its own `forward_tensors` and drawn with its
    gradients, the ops of the convolution and of the pool drawn as one box each (`tflc graph
    --model conv-net` draws it so too)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((2, 3, 8, 8))
    y = np.array([0, 2])
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(3, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                              num_classes=3, weight_scale=0.1, reg=REG, dtype=np.float64)
    with tflc.GradientTape(persistent=True) as tape:
        loss, tensors = model.forward_tensors(X, y)
    return viz.draw_graph(tape, loss, inputs={"X": X, "y": y}, show_grads=True, rankdir="TB",
                          collapse=layer_groups(tensors),
                          title="ThreeLayerConvNet's loss (models/cnn.py); conv and pool boxed")


def main():
    for kind, name in (("softmax", "softmax_loss"), ("two-layer", "two_layer_net")):
        X, y, model = small_problem(kind, seed=0)
        graph = loss_graph(model, X, y, REG, title=f"{kind} loss")
        print("wrote", viz.render(graph, DOCS / f"{name}.svg"))
    X, y, model = small_problem("two-layer", seed=0)
    graph = loss_graph(model, X, y, REG, hand_derived=forgot_relu_mask(model.params, X, y, REG),
                       title="a hand derivation that forgot the ReLU mask")
    print("wrote", viz.render(graph, DOCS / "gradcheck_forgot_relu_mask.svg"))
    print("wrote", viz.render(conv_net_graph(), DOCS / "conv_net.svg"))


if __name__ == "__main__":
    main()
