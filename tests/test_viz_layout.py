"""viz/layout.py: the project's layered layout (no overlaps, data flowing left to right) and
graph_data, the laid-out graph the explorer and the live page draw."""
import random

import numpy as np
import pytest

import tensorflowlite_clone as tflc
import viz
from viz.layout import dot_layout, graph_data, layered


def overlaps(a, b):
    (ax, ay, aw, ah), (bx, by, bw, bh) = a, b
    return abs(ax - bx) * 2 < aw + bw and abs(ay - by) * 2 < ah + bh


def assert_well_laid_out(sizes, edges, positions):
    assert set(positions) == set(sizes)
    boxes = {v: (*positions[v], *sizes[v]) for v in sizes}
    ids = list(sizes)
    for i, a in enumerate(ids):
        for b in ids[i + 1:]:
            assert not overlaps(boxes[a], boxes[b]), (a, b, boxes[a], boxes[b])
    for a, b in edges:  # the head's left side lies right of the tail's right side
        assert boxes[a][0] + boxes[a][2] / 2 < boxes[b][0] - boxes[b][2] / 2, (a, b)


@pytest.mark.parametrize("seed", range(5))
def test_layered_random_dags(seed):
    rng = random.Random(seed)
    n = rng.randint(2, 30)
    sizes = {f"n{k}": (rng.randint(30, 200), rng.randint(20, 60)) for k in range(n)}
    edges = [(f"n{a}", f"n{b}") for b in range(1, n)
             for a in rng.sample(range(b), rng.randint(1, min(b, 3)))]
    assert_well_laid_out(sizes, edges, layered(sizes, edges))


def test_layered_uncrosses_a_swapped_pair():
    # a1 -> b2, a2 -> b1, in that order a crossing; the barycentre sweeps put b2 level with a1
    sizes = {v: (40, 20) for v in ("a1", "a2", "b1", "b2", "c")}
    edges = [("a1", "b2"), ("a2", "b1"), ("b1", "c"), ("b2", "c")]
    for sweeps, crossed in ((0, True), (1, False)):
        pos = layered(sizes, edges, sweeps=sweeps)
        assert ((pos["a1"][1] < pos["a2"][1]) != (pos["b2"][1] < pos["b1"][1])) == crossed


def two_layer_tape():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4, 5))
    W1 = tflc.Variable(rng.standard_normal((5, 6)), name="W1")
    W2 = tflc.Variable(rng.standard_normal((6, 3)), name="W2")
    with tflc.GradientTape(persistent=True) as tape:
        h = tflc.relu(X @ W1)
        loss = tflc.sum(h @ W2) + 0.5 * tflc.sum(W1 * W1)
    return tape, loss, X


@pytest.mark.parametrize("layout", ["layered", "dot"])
def test_graph_data(layout):
    if layout == "dot" and not viz.layout.shutil.which("dot"):
        pytest.skip("Graphviz's dot is not installed")
    tape, loss, X = two_layer_tape()
    data = graph_data(tape, loss, inputs={"X": X}, layout=layout)
    assert data["layout"] == layout
    nodes = {n["id"]: n for n in data["nodes"]}
    kinds = sorted(n["kind"] for n in nodes.values())
    assert kinds.count("op") == len(tape.records) and kinds.count("param") == 2
    assert kinds.count("data") == 1
    assert sum(n["target"] for n in nodes.values()) == 1
    # one edge per tensor input (the Python number 0.5 is none)
    assert len(data["edges"]) == sum(isinstance(x, (tflc.Tensor, np.ndarray))
                                     for r in tape.records for x in r.inputs)
    sizes = {v: (n["width"], n["height"]) for v, n in nodes.items()}
    assert_well_laid_out(sizes, [(e["from"], e["to"]) for e in data["edges"]],
                         {v: (n["x"], n["y"]) for v, n in nodes.items()})
    assert all(0 < n["x"] < data["width"] and 0 < n["y"] < data["height"] for n in nodes.values())


def test_dot_missing(monkeypatch):
    monkeypatch.setattr(viz.layout.shutil, "which", lambda name: None)
    tape, loss, X = two_layer_tape()
    with pytest.raises(viz.GraphvizNotFoundError, match="layered"):
        graph_data(tape, loss, layout="dot")
    with pytest.raises(viz.GraphvizNotFoundError):
        dot_layout({"a": (1, 1)}, [])
    assert graph_data(tape, loss)["layout"] == "layered"  # auto falls back


def test_bad_arguments():
    tape, loss, X = two_layer_tape()
    with pytest.raises(ValueError, match="layout"):
        graph_data(tape, loss, layout="circo")
    with pytest.raises(ValueError, match="not recorded"):
        graph_data(tape, tflc.Tensor(np.ones(3)))
    with pytest.raises(TypeError, match="GradientTape"):
        graph_data(loss, loss)


def test_auto_falls_back_when_dot_fails(monkeypatch):
    def broken(sizes, edges):
        raise viz.GraphvizError("dot failed: broken install")
    monkeypatch.setattr(viz.layout.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(viz.layout, "dot_layout", broken)
    tape, loss, X = two_layer_tape()
    assert graph_data(tape, loss)["layout"] == "layered"
    with pytest.raises(viz.GraphvizError, match="broken install"):
        graph_data(tape, loss, layout="dot")
