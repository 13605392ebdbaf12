"""Draw the README's pictures into docs/: `python docs/make_figures.py` (needs Graphviz's `dot`).

The same drawings come from the command line: `tflc graph --model softmax -o FILE.svg`,
`tflc graph --model two-layer -o FILE.svg` and `tflc gradcheck -o FILE.svg`.
"""
from pathlib import Path

import numpy as np

import tensorflowlite_clone as tflc
import viz
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
    """ThreeLayerConvNet's shape in miniature (conv, relu, 2x2 max pool, affine, relu, affine,
    cross-entropy), recorded on a tape and drawn with its gradients."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 8, 8))
    y = np.array([0, 2])
    params = {"W1": tflc.Variable(0.1 * rng.standard_normal((4, 3, 3, 3)), name="W1"),
              "b1": tflc.Variable(np.zeros(4), name="b1"),
              "W2": tflc.Variable(0.1 * rng.standard_normal((64, 10)), name="W2"),
              "b2": tflc.Variable(np.zeros(10), name="b2"),
              "W3": tflc.Variable(0.1 * rng.standard_normal((10, 3)), name="W3"),
              "b3": tflc.Variable(np.zeros(3), name="b3")}
    with tflc.GradientTape(persistent=True) as tape:
        conv = tflc.nn.relu(tflc.nn.conv2d(x, params["W1"], params["b1"], padding=1))
        pooled = tflc.nn.max_pool2d(conv, 2).reshape(2, -1)
        hidden = tflc.nn.relu(pooled @ params["W2"] + params["b2"])
        loss = tflc.nn.cross_entropy(hidden @ params["W3"] + params["b3"], y)
    return viz.draw_graph(tape, loss, params=params, inputs={"X": x, "y": y}, show_grads=True,
                          rankdir="TB", title="a small conv net's loss")


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
