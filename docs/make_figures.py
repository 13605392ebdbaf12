"""Draw the README's pictures into docs/: `python docs/make_figures.py` (needs Graphviz's `dot`),
or only the explorer pages and their screenshots: `python docs/make_figures.py explore`, or only
the live training view's screenshot: `python docs/make_figures.py live`.

The same drawings come from the command line: `tflc graph --model softmax -o FILE.svg`,
`tflc graph --model two-layer -o FILE.svg` and `tflc gradcheck -o FILE.svg`; the explorer
pages from `tflc explore --model two-layer -o FILE.html`. The screenshots need Debian's
chromium and chromium-driver (`make setup`); without them they are skipped, saying so.
"""
import sys
from pathlib import Path

import numpy as np

import tensorflowlite_clone as tflc
import viz
from models.cnn import ThreeLayerConvNet, layer_groups
from models.two_layer_net import manual_loss
from tensorflowlite_clone.app.cli import loss_graph, small_problem
from tensorflowlite_clone.app.cli import main as tflc_main

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


EXPLORE = {"softmax": "explore_softmax", "two-layer": "explore_two_layer_net",
           "conv-net": "explore_conv_net", "rnn": "explore_rnn"}


def explore_pages():
    """The explorer pages of the models' small problems (as `tflc explore` writes them), the
    two-layer net's planted bug in the gradient debugger, and screenshots of two of them."""
    for kind, name in EXPLORE.items():
        tflc_main(["explore", "--model", kind, "-o", str(DOCS / f"{name}.html")])
    X, y, model = small_problem("two-layer", seed=0)
    with tflc.GradientTape() as tape:
        loss, _ = model.forward_tensors(X, y, REG)
    page = viz.explore(tape, loss, inputs={"X": X, "y": y},
                       hand_derived=forgot_relu_mask(model.params, X, y, REG),
                       title="gradient debugger: a hand derivation that forgot the ReLU mask")
    print("wrote", page.save(DOCS / "explore_forgot_relu_mask.html"))
    # mid-backward: the ReLU's VJP (the seed's (s1 > 0) * ds1), and the debugger at its verdict
    screenshot(DOCS / "explore_two_layer_net.html", DOCS / "explore_two_layer_net.png",
               lambda steps: next(k for k, s in enumerate(steps)
                                  if s["kind"] == "backward" and s["op"] == "relu"))
    screenshot(DOCS / "explore_forgot_relu_mask.html", DOCS / "explore_forgot_relu_mask.png",
               lambda steps: page.data["first_wrong"][0]["step"])


def screenshot(html, png, step_of, size=(1400, 860)):
    """A PNG of the page `html` at the step `step_of(steps)`, in headless Chromium."""
    def go(driver):
        steps = driver.execute_script(
            "return JSON.parse(document.getElementById('explorer-data').textContent).steps")
        driver.execute_script(f"window.explorer.go({step_of(steps)})")
    shoot(Path(html).as_uri(), png, size, go)


def live_screenshot(png=DOCS / "live_training.png", size=(1400, 1000)):
    """A PNG of `tflc train --live`'s page a few seconds into a long two-layer run."""
    import subprocess
    import tempfile
    import time

    with tempfile.TemporaryDirectory() as out:
        run = subprocess.Popen([sys.executable, "-m", "tensorflowlite_clone", "train", "--model",
                                "two-layer", "--iters", "40000", "--quiet", "--live", "--port", "0",
                                "--out", out], stdout=subprocess.PIPE, text=True)
        try:
            url = next(line for line in run.stdout if line.startswith("live view:")).split()[2]
            # a few thousand iterations, a few dozen probes
            shoot(url, png, size, lambda driver: time.sleep(4))
        finally:
            run.terminate()
            run.wait()


def shoot(url, png, size, prepare):
    """Open `url` in headless Chromium, `prepare(driver)`, and save a PNG if the console holds
    no errors; without Chromium, say so and skip."""
    sys.path.insert(0, str(DOCS.parent))
    import pytest

    from tests.browser import chromium, console_errors
    try:
        with chromium(*size) as driver:
            driver.get(url)
            prepare(driver)
            errors = console_errors(driver)
            if errors:
                raise RuntimeError(f"{url}: console errors {errors}")
            driver.save_screenshot(str(png))
    except pytest.skip.Exception as skipped:
        print(f"skipped {png.name}: {skipped}")
        return
    print("wrote", png)


def main():
    if sys.argv[1:] == ["explore"]:
        explore_pages()
        return
    if sys.argv[1:] == ["live"]:
        live_screenshot()
        return
    for kind, name in (("softmax", "softmax_loss"), ("two-layer", "two_layer_net")):
        X, y, model = small_problem(kind, seed=0)
        graph = loss_graph(model, X, y, REG, title=f"{kind} loss")
        print("wrote", viz.render(graph, DOCS / f"{name}.svg"))
    X, y, model = small_problem("two-layer", seed=0)
    graph = loss_graph(model, X, y, REG, hand_derived=forgot_relu_mask(model.params, X, y, REG),
                       title="a hand derivation that forgot the ReLU mask")
    print("wrote", viz.render(graph, DOCS / "gradcheck_forgot_relu_mask.svg"))
    print("wrote", viz.render(conv_net_graph(), DOCS / "conv_net.svg"))
    explore_pages()
    live_screenshot()


if __name__ == "__main__":
    main()
