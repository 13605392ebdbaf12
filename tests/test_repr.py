"""Jupyter display: `GradientComparison._repr_html_` (the table compare_gradients prints, as HTML)
and the drawings' own display hooks."""
from html.parser import HTMLParser

import numpy as np
import pytest

from models.two_layer_net import TwoLayerNet, manual_loss
from tensorflowlite_clone.gradcheck import GradientComparison, GradientRow, compare_gradients

REG = 0.05


class _Rows(HTMLParser):
    """The <tr> elements of the table body: their classes and the text of their cells."""

    def __init__(self):
        super().__init__()
        self.rows, self._in_body, self._cell = [], False, None

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self._in_body = True
        elif tag == "tr" and self._in_body:
            self.rows.append({"class": dict(attrs).get("class", "").split(), "cells": []})
        elif tag == "td" and self._in_body:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag == "td" and self._cell is not None:
            self.rows[-1]["cells"].append(self._cell)
            self._cell = None
        elif tag == "tbody":
            self._in_body = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _rows(html):
    parser = _Rows()
    parser.feed(html)
    return parser.rows


def _problem():
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((5, 4)), np.array([0, 1, 2, 1, 0])
    np.random.seed(0)
    return X, y, TwoLayerNet(4, 6, 3, std=0.5)


def forgot_relu_mask(params, X, y, reg):
    """The hand derivation with ds1 passed through the ReLU unmasked (docs/make_figures.py's)."""
    grads = manual_loss(params, X, y, reg, intermediates=True)[1]
    ds1 = grads["hidden_pre"] = grads["hidden"]
    grads["W1"] = X.T @ ds1 + 2 * reg * params["W1"]
    grads["b1"] = ds1.sum(axis=0)
    return grads


def test_html_has_one_row_per_gradient_row_all_agreeing():
    X, y, net = _problem()
    result = compare_gradients(net, X, y, reg=REG)
    assert result.ok
    rows = _rows(result._repr_html_())
    assert [r["cells"][0] for r in rows] == [r.name for r in result.rows]
    assert all("agree" in r["class"] and r["cells"][-1] == "agrees" for r in rows)
    assert "the hand-derived gradients agree with autodiff" in result._repr_html_()


def test_html_marks_the_planted_bug_in_words_and_classes():
    X, y, net = _problem()
    result = compare_gradients(net, X, y, reg=REG, hand_derived=forgot_relu_mask, numerical=False)
    assert result.first_disagreement == "hidden_pre"
    html = result._repr_html_()
    rows = {r["cells"][0]: r for r in _rows(html)}
    assert len(rows) == len(result.rows)
    first = rows["hidden_pre"]
    assert first["class"] == ["disagree", "first-disagree"]
    assert first["cells"][-1] == "DISAGREES: first wrong step"
    # the error flows on to W1 and b1: wrong too, but not the first wrong step
    for name in ("W1", "b1"):
        assert rows[name]["class"] == ["disagree"] and rows[name]["cells"][-1] == "DISAGREES"
    for name in ("scores", "W2", "b2", "hidden"):
        assert rows[name]["class"] == ["agree"], name
    # the numbers are the ones print(result) shows
    assert rows["hidden_pre"]["cells"][3] == f"{result['hidden_pre'].hand_vs_autodiff:.2e}"
    assert rows["probs"]["cells"][3] == "-"  # no hand-derived gradient for it
    assert "first disagreement: d loss/d hidden_pre" in html


def test_html_escapes_names_and_notes():
    row = GradientRow("<b>x</b>", "intermediate", (2,), float("inf"), None, False, note="a & b")
    result = GradientComparison(1.0, [row], "<b>x</b>", None, 1e-7, 1e-4)
    html = result._repr_html_()
    assert "<b>x</b>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "a &amp; b" in html
    (parsed,) = _rows(html)
    assert parsed["cells"][0] == "<b>x</b>" and parsed["cells"][3] == "inf"


def test_draw_graph_displays_inline_as_svg():
    """viz.draw_graph returns a graphviz.Digraph; the graphviz package gives it Jupyter's
    `_repr_mimebundle_`, which renders SVG with `dot` (so nothing to add in viz)."""
    graphviz = pytest.importorskip("graphviz")
    import shutil

    import tensorflowlite_clone as tflc
    import viz
    if shutil.which("dot") is None:
        pytest.skip("Graphviz's `dot` is not installed")
    W = tflc.Variable(np.ones((3, 2)), name="W")
    with tflc.GradientTape(persistent=True) as tape:
        loss = tflc.sum(tflc.relu(np.ones((4, 3)) @ W))
    graph = viz.draw_graph(tape, loss)
    assert isinstance(graph, graphviz.Digraph)
    bundle = graph._repr_mimebundle_()
    assert "<svg" in bundle["image/svg+xml"] and "relu" in bundle["image/svg+xml"]
