"""Training plots with matplotlib, written straight to PNG files.

Every function builds a `matplotlib.figure.Figure` directly and saves it with the Agg
renderer: no pyplot, no global state, no window, so it works on servers and in tests and never
disturbs a notebook's own pyplot figures. Each writes one PNG atomically (complete or not at
all; missing folders are created) and returns its `pathlib.Path`.

    viz.plot_training(stats, "out/training.png")        # stats from TwoLayerNet.train
    viz.plot_weights(net.params["W1"], (32, 32, 3), "out/W1.png")
"""
import math
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from tensorflowlite_clone.app.files import atomic_write

__all__ = ["plot_loss", "plot_accuracy", "plot_training", "plot_weights", "plot_confusion_matrix"]

_LOSS_COLOUR, _TRAIN_COLOUR, _VAL_COLOUR = "#1f5f9f", "#2e7d32", "#c2571a"


def _figure(width, height):
    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # the Agg renderer, for this figure only
    return fig


def _save(fig, path):
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"the plots are written as PNG files; got {path.name!r} (use a .png suffix)")
    # a full disk or Ctrl-C leaves no partial PNG behind
    return atomic_write(path, lambda f: fig.savefig(f, format="png", facecolor="white"))


def _series(values, what):
    values = np.asarray([float(v) for v in values], dtype=np.float64)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"{what} must be a non-empty sequence of numbers")
    return values


def _moving_average(values, window):
    if window <= 1 or values.size < window:
        return None
    kernel = np.ones(window) / window
    return np.convolve(values, kernel, mode="valid")


def _draw_loss(ax, loss, *, log_scale):
    steps = np.arange(loss.size)
    smooth_window = max(1, loss.size // 25)
    smooth = _moving_average(loss, smooth_window)
    raw_alpha = 0.35 if smooth is not None else 1.0
    ax.plot(steps, loss, color=_LOSS_COLOUR, alpha=raw_alpha, linewidth=0.8,
            label="loss per iteration" if smooth is not None else "loss")
    if smooth is not None:
        ax.plot(steps[smooth_window - 1:], smooth, color=_LOSS_COLOUR, linewidth=1.8,
                label=f"moving average ({smooth_window})")
        ax.legend(loc="upper right", frameon=False)
    if log_scale and np.all(loss > 0):
        ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("loss")
    ax.set_title("Training loss")
    ax.grid(True, alpha=0.3)


def _draw_accuracy(ax, train, val):
    for values, colour, label in ((train, _TRAIN_COLOUR, "train"), (val, _VAL_COLOUR, "validation")):
        if values is not None:
            epochs = np.arange(1, values.size + 1)
            ax.plot(epochs, values, marker="o", markersize=3.5, color=colour,
                    label=f"{label} (last {values[-1]:.3f})")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_title("Classification accuracy")
    top = max(np.max(v) for v in (train, val) if v is not None)
    ax.set_ylim(0, 1.02 if top <= 1 else None)
    ax.grid(True, alpha=0.3)
    ax.legend(loc="lower right", frameon=False)


def plot_loss(loss_history, path, *, log_scale=False, title=None):
    """Plot the loss per iteration (with a moving average when long) to the PNG `path`."""
    loss = _series(loss_history, "loss_history")
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    _draw_loss(ax, loss, log_scale=log_scale)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def plot_accuracy(train_acc_history, val_acc_history, path, *, title=None):
    """Plot train and validation accuracy per epoch to the PNG `path`.

    Either history may be None (or empty) to plot only the other one.
    """
    train = _series(train_acc_history, "train_acc_history") if _given(train_acc_history) else None
    val = _series(val_acc_history, "val_acc_history") if _given(val_acc_history) else None
    if train is None and val is None:
        raise ValueError("plot_accuracy: both accuracy histories are empty")
    fig = _figure(6.4, 4.0)
    ax = fig.add_subplot()
    _draw_accuracy(ax, train, val)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def _given(history):
    return history is not None and len(history) > 0


def plot_training(stats, path, *, log_scale=False, title=None):
    """Loss history and train/validation accuracy side by side, in one PNG.

    `stats` is what `TwoLayerNet.train` returns: a dict (or an object with attributes) with
    ``loss_history``, ``train_acc_history`` and ``val_acc_history``; the accuracy panel is
    left out when both accuracy histories are missing or empty.
    """
    def get(key):
        return stats.get(key) if isinstance(stats, dict) else getattr(stats, key, None)

    loss = get("loss_history")
    if not _given(loss):
        raise ValueError("plot_training: stats has no loss_history")
    train, val = get("train_acc_history"), get("val_acc_history")
    with_accuracy = _given(train) or _given(val)
    fig = _figure(11.0 if with_accuracy else 6.4, 4.0)
    axes = fig.subplots(1, 2 if with_accuracy else 1, squeeze=False)[0]
    _draw_loss(axes[0], _series(loss, "loss_history"), log_scale=log_scale)
    if with_accuracy:
        _draw_accuracy(axes[1], _series(train, "train_acc_history") if _given(train) else None,
                       _series(val, "val_acc_history") if _given(val) else None)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _filters(W1, image_shape):
    """First-layer weights (D, H) -> H images of `image_shape`, as (H, height, width[, 3])."""
    W = np.asarray(W1, dtype=np.float64)
    image_shape = tuple(int(n) for n in image_shape)
    D = math.prod(image_shape)
    if W.ndim != 2:
        raise ValueError(f"plot_weights: W1 must be a 2-D (D, H) matrix, got shape {W.shape}")
    if W.shape[0] != D:
        if W.shape[1] == D:
            W = W.T  # stored (H, D)
        else:
            raise ValueError(f"plot_weights: W1 of shape {W.shape} does not fit images of shape "
                             f"{image_shape} ({D} values per image)")
    images = W.T.reshape((W.shape[1],) + image_shape)
    if len(image_shape) == 3 and image_shape[0] in (1, 3) and image_shape[-1] not in (1, 3):
        images = images.transpose(0, 2, 3, 1)  # channels first (3, 32, 32) -> (32, 32, 3)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"plot_weights: image_shape must be (height, width), (height, width, 3) "
                         f"or (3, height, width), got {image_shape}")
    return images


def plot_weights(W1, image_shape, path, *, max_filters=None, ncols=None, title=None):
    """Show first-layer weights as a grid of images, one per hidden unit, in the PNG `path`.

    `W1` is the (D, H) weight matrix (a NumPy array, Tensor or Variable; (H, D) is accepted
    too), `image_shape` the shape of one input image: ``(8, 8)`` for the digits, ``(28, 28)``
    for MNIST, ``(32, 32, 3)`` for CIFAR-10 (``(3, 32, 32)``, channels first, works too).
    Each filter is rescaled to the full range on its own, so its pattern shows whatever its
    scale: grayscale for one channel, colour for three. `max_filters` limits how many are
    drawn (the first ones), `ncols` the grid's width (default: about square).
    """
    images = _filters(W1, image_shape)
    if max_filters is not None:
        images = images[:max_filters]
    count = len(images)
    if count == 0:
        raise ValueError("plot_weights: W1 has no filters (zero hidden units)")
    ncols = ncols or math.ceil(math.sqrt(count))
    nrows = math.ceil(count / ncols)
    low = images.reshape(count, -1).min(axis=1)
    high = images.reshape(count, -1).max(axis=1)
    span = np.where(high > low, high - low, 1.0)
    shape = (count,) + (1,) * (images.ndim - 1)
    scaled = (images - low.reshape(shape)) / span.reshape(shape)  # each filter in [0, 1]

    cell = min(1.2, 12.0 / max(ncols, nrows))
    fig = _figure(max(2.5, ncols * cell), max(2.0, nrows * cell + (0.4 if title else 0.1)))
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for k, ax in enumerate(axes.ravel()):
        ax.set_axis_off()
        if k < count:
            if scaled.ndim == 3:
                ax.imshow(scaled[k], cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
            else:
                ax.imshow(scaled[k], interpolation="nearest")
    fig.suptitle(title or f"First-layer weights ({count} filters of {tuple(image_shape)})",
                 fontsize=10)
    return _save(fig, path)


def plot_confusion_matrix(cm, path, class_names=None, *, normalize=False, title=None):
    """Draw a confusion matrix (rows: true class, columns: predicted class) to the PNG `path`.

    With ``normalize=True`` each row is divided by its total (per-class recall). Counts are
    written into the cells when there are at most 20 classes.
    """
    cm = np.asarray(cm, dtype=np.float64)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix: cm must be a square (C, C) matrix, got {cm.shape}")
    C = cm.shape[0]
    if class_names is None:
        class_names = [str(k) for k in range(C)]
    class_names = [str(n) for n in class_names]
    if len(class_names) != C:
        raise ValueError(f"plot_confusion_matrix: {len(class_names)} class names for {C} classes")
    shown = cm
    if normalize:
        totals = cm.sum(axis=1, keepdims=True)
        shown = np.divide(cm, totals, out=np.zeros_like(cm), where=totals > 0)

    size = min(12.0, max(4.0, 0.55 * C + 2.0))
    fig = _figure(size + 1.0, size)
    ax = fig.add_subplot()
    image = ax.imshow(shown, cmap="Blues", interpolation="nearest",
                      vmin=0.0, vmax=1.0 if normalize else max(1.0, shown.max()))
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_xticks(range(C), labels=class_names, rotation=45 if max(map(len, class_names)) > 3 else 0,
                  ha="right" if max(map(len, class_names)) > 3 else "center")
    ax.set_yticks(range(C), labels=class_names)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    total = cm.sum()
    accuracy = np.trace(cm) / total if total else float("nan")
    ax.set_title(title or f"Confusion matrix (accuracy {accuracy:.3f})")
    if C <= 20:
        threshold = shown.max() / 2 if shown.size else 0
        for i in range(C):
            for j in range(C):
                value = shown[i, j]
                text = f"{value:.2f}" if normalize else (f"{value:.0f}" if value == int(value)
                                                         else f"{value:.2g}")
                ax.text(j, i, text, ha="center", va="center", fontsize=8,
                        color="white" if value > threshold else "black")
    return _save(fig, path)
