"""Captioned images with matplotlib, written straight to a PNG (as viz/plots.py: no pyplot, the
Agg renderer for this figure only, an atomic write).

    viz.plot_captions(data["test_images"][:8], predicted, truth, "out/captions.png")

Each image is drawn in grey with its predicted caption under it; given the true captions, a
right caption is green and a wrong one red with the truth beneath it.
"""
import math

import numpy as np

from .plots import _figure, _save

__all__ = ["plot_captions"]

_RIGHT, _WRONG, _PLAIN = "#2e7d32", "#c62828", "#222222"


def _strings(captions, name, n):
    if isinstance(captions, str) or not all(isinstance(c, str) for c in captions):
        raise TypeError(f"{name} must be a sequence of strings (decode_captions' output)")
    captions = list(captions)
    if len(captions) != n:
        raise ValueError(f"{name} must hold one caption per image ({n}), got {len(captions)}")
    return captions


def _clean(caption):
    """The caption as read: without <START> / <END>, which `decode_captions` may keep."""
    return " ".join(w for w in caption.split() if w not in ("<START>", "<END>"))


def plot_captions(images, predicted, truth=None, path=None, *, ncols=None, title=None):
    """Draw `images` (n, height, width), grey levels, with `predicted` (n strings) under each;
    with `truth` (n strings) the caption is green when it equals the truth (<START> and <END>
    ignored) and red otherwise, the truth written beneath. Writes the PNG `path` (required;
    after `truth` so that cs231n-style calls read in order); returns its Path."""
    if path is None:
        raise TypeError("plot_captions: path (the PNG to write) is required")
    images = np.asarray(images, dtype=np.float64)
    if images.ndim != 3 or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty array of shape (n, height, width), got "
                         f"shape {images.shape}")
    n, height, width = images.shape
    predicted = _strings(predicted, "predicted", n)
    truth = None if truth is None else _strings(truth, "truth", n)
    ncols = min(n, 4) if ncols is None else ncols
    if isinstance(ncols, bool) or not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be a positive integer, got {ncols!r}")
    nrows = math.ceil(n / ncols)
    cell_w = max(1.8, 0.12 * width)
    cell_h = cell_w * height / width + (0.75 if truth is not None else 0.45)
    fig = _figure(ncols * cell_w, nrows * cell_h + (0.4 if title else 0.1))
    for k in range(n):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        ax.imshow(images[k], cmap="gray_r", interpolation="nearest", vmin=0,
                  vmax=max(1.0, float(images.max())))
        ax.set_xticks([])
        ax.set_yticks([])
        said = _clean(predicted[k])
        if truth is None:
            ax.set_xlabel(said, color=_PLAIN, fontsize=9)
            continue
        right = said == _clean(truth[k])
        label = said if right else f"{said}\n(truth: {_clean(truth[k])})"
        ax.set_xlabel(label, color=_RIGHT if right else _WRONG, fontsize=9)
    if title:
        fig.suptitle(title)
    return _save(fig, path)
