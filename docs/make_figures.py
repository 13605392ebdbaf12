"""Draw the README's pictures into docs/: `python docs/make_figures.py` (needs Graphviz's `dot`).

The same drawings come from the command line: `tflc graph --model softmax -o FILE.svg`,
`tflc graph --model two-layer -o FILE.svg` and `tflc gradcheck -o FILE.svg`.
"""
from pathlib import Path

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


def main():
    for kind, name in (("softmax", "softmax_loss"), ("two-layer", "two_layer_net")):
        X, y, model = small_problem(kind, seed=0)
        graph = loss_graph(model, X, y, REG, title=f"{kind} loss")
        print("wrote", viz.render(graph, DOCS / f"{name}.svg"))
    X, y, model = small_problem("two-layer", seed=0)
    graph = loss_graph(model, X, y, REG, hand_derived=forgot_relu_mask(model.params, X, y, REG),
                       title="a hand derivation that forgot the ReLU mask")
    print("wrote", viz.render(graph, DOCS / "gradcheck_forgot_relu_mask.svg"))


if __name__ == "__main__":
    main()
