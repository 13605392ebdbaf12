"""viz.plots: every plot writes a real PNG; the pictures are read back and looked at."""
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

import tensorflowlite_clone as tflc
import viz

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    assert path.read_bytes()[:8] == PNG_MAGIC
    image = imread(path)  # floats in [0, 1], (height, width, 3 or 4)
    assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
    return image[..., :3]


def is_grey(image):
    return np.allclose(image[..., 0], image[..., 1]) and np.allclose(image[..., 1], image[..., 2])


@pytest.fixture
def stats():
    rng = np.random.default_rng(0)
    iters = np.arange(300)
    return {"loss_history": list(2.3 * np.exp(-iters / 80) + 0.1 * rng.random(300)),
            "train_acc_history": [0.3, 0.5, 0.62, 0.7, 0.74],
            "val_acc_history": [0.28, 0.45, 0.55, 0.6, 0.61]}


def test_plot_loss(tmp_path, stats):
    path = viz.plot_loss(stats["loss_history"], tmp_path / "loss.png")
    assert path == tmp_path / "loss.png"
    image = read_png(path)
    assert not is_grey(image)  # the blue curve is there
    short = viz.plot_loss([2.3, 1.2, 0.8], tmp_path / "deep" / "short.png", log_scale=True)
    read_png(short)


def test_plot_accuracy(tmp_path, stats):
    path = viz.plot_accuracy(stats["train_acc_history"], stats["val_acc_history"],
                             tmp_path / "acc.png")
    read_png(path)
    read_png(viz.plot_accuracy(stats["train_acc_history"], None, tmp_path / "train_only.png"))
    with pytest.raises(ValueError):
        viz.plot_accuracy([], [], tmp_path / "none.png")


def test_plot_training_has_two_panels(tmp_path, stats):
    both = read_png(viz.plot_training(stats, tmp_path / "training.png", title="two-layer net"))
    loss_only = read_png(viz.plot_training({"loss_history": stats["loss_history"]},
                                           tmp_path / "loss_only.png"))
    assert both.shape[1] > 1.5 * loss_only.shape[1]  # loss and accuracy side by side
    with pytest.raises(ValueError, match="loss_history"):
        viz.plot_training({"train_acc_history": [0.5]}, tmp_path / "bad.png")


def filters(image_shape, count, seed=0):
    """A (D, count) weight matrix whose filter k is a smooth pattern plus noise."""
    rng = np.random.default_rng(seed)
    D = int(np.prod(image_shape))
    return rng.standard_normal((D, count)) * np.linspace(0.01, 3.0, count)  # very different scales


def test_plot_weights_digits_are_grey(tmp_path):
    path = viz.plot_weights(filters((8, 8), 10), (8, 8), tmp_path / "digits.png")
    image = read_png(path)
    assert is_grey(image)
    # every filter is rescaled on its own: even the tiny first one uses the full range
    assert image.min() < 0.05 and image.max() > 0.95


def test_plot_weights_cifar_is_colour_and_accepts_variables_and_layouts(tmp_path):
    W1 = tflc.Variable(filters((32, 32, 3), 16), name="W1")
    hwc = read_png(viz.plot_weights(W1, (32, 32, 3), tmp_path / "cifar.png"))
    assert not is_grey(hwc)
    chw = viz.plot_weights(np.asarray(W1).T, (3, 32, 32), tmp_path / "cifar_chw.png",
                           max_filters=9, ncols=3)  # (H, D) and channels first
    assert not is_grey(read_png(chw))


def test_plot_weights_mnist(tmp_path):
    read_png(viz.plot_weights(filters((28, 28), 25), (28, 28), tmp_path / "mnist.png"))


def test_plot_weights_rejects_mismatched_shapes(tmp_path):
    with pytest.raises(ValueError, match=r"does not fit images of shape \(8, 8\)"):
        viz.plot_weights(np.zeros((65, 10)), (8, 8), tmp_path / "bad.png")
    with pytest.raises(ValueError, match="PNG"):
        viz.plot_weights(filters((8, 8), 4), (8, 8), tmp_path / "weights.jpg")


def test_plot_confusion_matrix(tmp_path):
    rng = np.random.default_rng(0)
    cm = np.diag(rng.integers(20, 50, 10)) + rng.integers(0, 5, (10, 10))
    names = ["plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
    read_png(viz.plot_confusion_matrix(cm, tmp_path / "cm.png", class_names=names))
    read_png(viz.plot_confusion_matrix(cm, tmp_path / "cm_norm.png", normalize=True))
    with pytest.raises(ValueError, match="3 class names for 10 classes"):
        viz.plot_confusion_matrix(cm, tmp_path / "bad.png", class_names=["a", "b", "c"])


def test_plots_leave_pyplot_alone(tmp_path):
    """The plots use Figure and the Agg canvas directly: pyplot is never imported."""
    code = ("import sys, viz; viz.plot_loss([3, 2, 1], sys.argv[1]); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "loss.png")],
                         capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == "False"
    read_png(tmp_path / "loss.png")


@pytest.mark.parametrize("failure", [OSError(28, "No space left on device"), KeyboardInterrupt()])
def test_an_interrupted_plot_leaves_no_partial_file(tmp_path, monkeypatch, stats, failure):
    from matplotlib.figure import Figure

    def half_written(self, fname, **kwargs):
        if isinstance(fname, (str, Path)):
            Path(fname).write_bytes(PNG_MAGIC)
        else:
            fname.write(PNG_MAGIC)
        raise failure
    monkeypatch.setattr(Figure, "savefig", half_written)
    with pytest.raises(type(failure)):
        viz.plot_loss(stats["loss_history"], tmp_path / "loss.png")
    assert list(tmp_path.iterdir()) == []  # neither the picture nor a temporary file
