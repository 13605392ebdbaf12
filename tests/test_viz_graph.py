"""viz.draw_graph / viz.render: real SVG, PNG, PDF and DOT files, parsed and inspected.

The losses are built here from engine primitives (not imported from models/), the way the seed
writes them: the softmax loss `-mean(log softmax(XW)[y]) + reg*sum(W*W)` and the two-layer
network `relu(X W1 + b1) W2 + b2` followed by the same loss.
"""
import os
import re
import shutil
import xml.etree.ElementTree as ET
from numbers import Number

import graphviz
import numpy as np
import pytest

import tensorflowlite_clone as tflc
import viz
from viz import GraphvizNotFoundError

SVG = "{http://www.w3.org/2000/svg}"
needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's `dot` is not installed (make system-deps)")


# --- models built from primitives ----------------------------------------------------------------
def softmax_loss_graph(N=6, D=5, C=4, reg=0.1, seed=0):
    """The seed's vectorised softmax loss, on a persistent tape."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D))
    y = rng.integers(0, C, N)
    W = tflc.Variable(0.1 * rng.standard_normal((D, C)), name="W")
    with tflc.GradientTape(persistent=True) as tape:
        scores = X @ W
        scores.name = "scores"
        shifted = scores - tflc.max(scores, axis=1, keepdims=True)
        e = tflc.exp(shifted)
        q = e / tflc.sum(e, axis=1, keepdims=True)
        data_loss = -tflc.mean(tflc.log(q[np.arange(N), y]))
        loss = data_loss + reg * tflc.sum(W * W)
    return dict(tape=tape, loss=loss, W=W, X=X, y=y, scores=scores, data_loss=data_loss)


def two_layer_graph(N=5, D=4, H=8, C=3, reg=0.05, seed=0, persistent=True, dtype=np.float64):
    """The seed's two-layer net and its softmax loss; returns the tensors and hand gradients."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = rng.integers(0, C, N)
    W1 = tflc.Variable((0.5 * rng.standard_normal((D, H))).astype(dtype), name="W1")
    b1 = tflc.Variable((0.1 * rng.standard_normal(H)).astype(dtype), name="b1")
    W2 = tflc.Variable((0.5 * rng.standard_normal((H, C))).astype(dtype), name="W2")
    b2 = tflc.Variable((0.1 * rng.standard_normal(C)).astype(dtype), name="b2")
    with tflc.GradientTape(persistent=persistent) as tape:
        hidden_pre = X @ W1 + b1
        hidden_pre.name = "hidden_pre"
        hidden = tflc.relu(hidden_pre)
        scores = hidden @ W2 + b2
        scores.name = "scores"
        shifted = scores - tflc.max(scores, axis=1, keepdims=True)
        log_norm = tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
        data_loss = -tflc.mean((shifted - log_norm)[np.arange(N), y])
        data_loss.name = "data_loss"
        loss = data_loss + reg * tflc.sum(W1 * W1) + reg * tflc.sum(W2 * W2)
        loss.name = "loss"
    return dict(tape=tape, loss=loss, X=X, y=y, W1=W1, b1=b1, W2=W2, b2=b2, reg=reg, N=N,
                hidden_pre=hidden_pre, scores=scores, data_loss=data_loss)


def hand_gradients(m, divide_by_n=True):
    """The seed's hand-derived backward pass; `divide_by_n=False` is the classic mistake."""
    X, y, N, reg = m["X"], m["y"], m["N"], m["reg"]
    W1, b1, W2, b2 = (m[k].numpy() for k in ("W1", "b1", "W2", "b2"))
    hp = X @ W1 + b1
    h = np.maximum(hp, 0)
    s = h @ W2 + b2
    q = np.exp(s - s.max(axis=1, keepdims=True))
    q /= q.sum(axis=1, keepdims=True)
    dscores = q.copy()
    dscores[np.arange(N), y] -= 1
    if divide_by_n:
        dscores /= N
    dh = dscores @ W2.T
    dhp = dh * (hp > 0)
    return {"scores": dscores, "W2": h.T @ dscores + 2 * reg * W2, "b2": dscores.sum(0),
            "hidden_pre": dhp, "W1": X.T @ dhp + 2 * reg * W1, "b1": dhp.sum(0)}


# --- reading SVG ---------------------------------------------------------------------------------
def svg_nodes(path):
    """[(classes, text, fill)] for every node of a rendered SVG file."""
    root = ET.parse(path).getroot()
    nodes = []
    for g in root.iter(f"{SVG}g"):
        classes = g.get("class", "").split()
        if classes[:1] != ["node"]:
            continue
        text = " ".join(" ".join(t.text or "" for t in g.iter(f"{SVG}text")).split())
        shape = next((e for e in g.iter() if e.tag in (f"{SVG}path", f"{SVG}polygon", f"{SVG}ellipse")),
                     None)
        nodes.append((set(classes[1:]), text, None if shape is None else shape.get("fill")))
    return nodes


def svg_edges(path):
    root = ET.parse(path).getroot()
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == "edge"]


def node_with(nodes, *words, kind=None):
    found = [n for n in nodes if all(w in n[1].split() for w in words)
             and (kind is None or kind in n[0])]
    assert len(found) == 1, f"expected one node with {words}, found {[n[1] for n in found]}"
    return found[0]


def dot_classes(source):
    """{node id: set of CSS classes} from DOT source (no Graphviz program needed)."""
    found = {}
    for line in source.splitlines():
        match = re.search(r'\bclass=(?:"([^"]*)"|(\S+?)[\s\]])', line)
        if match and line.split()[1] != "->":  # a node line, not an edge
            found[line.split()[0]] = set((match.group(1) or match.group(2)).split())
    return found


def implied_counts(tape, target):
    """(nodes, edges) the tape implies for `target`: one node per op, tensor leaf and scalar use,
    one edge per input."""
    records = tape.records
    produced = {id(r.output) for r in records}
    leaves, scalars, edges = set(), 0, 0
    for r in records:
        for x in r.inputs:
            edges += 1
            if isinstance(x, Number):
                scalars += 1
            elif id(x) not in produced:
                leaves.add(id(x))
    return len(records) + len(leaves) + scalars, edges


# --- structure -----------------------------------------------------------------------------------
@needs_dot
def test_two_layer_net_svg_has_every_op_and_parameter_and_the_tape_edges(tmp_path):
    m = two_layer_graph()
    graph = viz.draw_graph(m["tape"], m["loss"], inputs={"X": m["X"]})
    assert isinstance(graph, graphviz.Digraph)
    path = viz.render(graph, tmp_path / "two_layer.svg")
    assert path == tmp_path / "two_layer.svg" and path.stat().st_size > 1000
    nodes = svg_nodes(path)
    ops = [n for n in nodes if "op" in n[0]]
    op_names = {n[1].split()[0] for n in ops}
    assert {"matmul", "add", "relu", "exp", "log", "max", "sum", "subtract", "getitem", "mean",
            "negative", "multiply"} <= op_names
    params = {n[1].split()[0] for n in nodes if "param" in n[0]}
    assert params == {"W1", "b1", "W2", "b2"}
    assert node_with(nodes, "X", kind="data")
    # shapes and dtypes are in the labels; named intermediates show their names
    assert "(4, 8) float64" in node_with(nodes, "W1")[1]
    assert "scores" in node_with(nodes, "add", "scores")[1]
    assert "axis=1, keepdims" in node_with(nodes, "max")[1]
    assert "[arange(5), idx(5,)]" in node_with(nodes, "getitem")[1]
    assert "target" in node_with(nodes, "loss")[0]
    want_nodes, want_edges = implied_counts(m["tape"], m["loss"])
    assert len(nodes) == want_nodes
    assert len(svg_edges(path)) == want_edges == sum(len(r.inputs) for r in m["tape"].records)


def test_edges_follow_the_data_flow_and_only_what_reaches_the_target():
    m = softmax_loss_graph()
    tape, loss = m["tape"], m["loss"]
    drawn = tape.records
    with tape:  # record more on the same tape: a side computation the loss does not use
        tflc.exp(m["W"]) * 3.0
    assert len(tape.records) == len(drawn) + 2
    graph = viz.draw_graph(tape, loss)
    source = graph.source
    edges = [m.groups() for m in re.finditer(r"^\s*(\w+) -> (\w+)", source, re.MULTILINE)]
    assert len(edges) == sum(len(r.inputs) for r in drawn)
    # every op node is produced after its inputs: tail index < head index for op -> op edges
    for tail, head in edges:
        assert not head.startswith(("leaf", "const"))  # nothing flows into a leaf
        if tail.startswith("op"):
            assert int(tail[2:]) < int(head[2:])
    # the target feeds nothing
    target_id = f"op{len(drawn) - 1}"
    assert all(tail != target_id for tail, _ in edges)
    assert source.count("<B>exp</B>") == 1  # the unused exp(W) is not drawn


@needs_dot
def test_softmax_loss_svg_labels(tmp_path):
    m = softmax_loss_graph()
    path = viz.render(viz.draw_graph(m["tape"], m["loss"]), tmp_path / "softmax.svg")
    nodes = svg_nodes(path)
    words = {w for n in nodes for w in n[1].split()}
    assert {"matmul", "max", "subtract", "exp", "sum", "divide", "getitem", "log", "mean",
            "negative", "multiply", "add", "W", "0.1"} <= words
    assert node_with(nodes, "W", kind="param")
    assert node_with(nodes, "array", kind="data")  # X entered as a raw NumPy array
    assert node_with(nodes, "0.1", kind="scalar")  # reg
    assert len(svg_edges(path)) == implied_counts(m["tape"], m["loss"])[1]


@needs_dot
def test_png_and_pdf_are_real_files(tmp_path):
    m = two_layer_graph()
    graph = viz.draw_graph(m["tape"], m["loss"], show_values=True)
    png = viz.render(graph, tmp_path / "net.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    small = viz.render(graph, tmp_path / "small.png", dpi=40)
    assert small.stat().st_size < png.stat().st_size
    pdf = viz.render(graph, str(tmp_path / "sub" / "net.pdf"))  # str paths, missing folders
    assert pdf.read_bytes()[:5] == b"%PDF-"
    # no intermediate source files left behind
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["net.pdf", "net.png",
                                                                           "small.png"]


@needs_dot
def test_float32_graph_shows_float32(tmp_path):
    m = two_layer_graph(dtype=np.float32)
    nodes = svg_nodes(viz.render(viz.draw_graph(m["tape"], m["loss"]), tmp_path / "f32.svg"))
    assert "float32" in node_with(nodes, "W1")[1]
    assert "float64" not in " ".join(n[1] for n in nodes)


# --- values and gradients ------------------------------------------------------------------------
@needs_dot
def test_show_values_and_grads_summaries(tmp_path):
    m = two_layer_graph()
    tape, loss = m["tape"], m["loss"]
    graph = viz.draw_graph(tape, loss, show_values=True, show_grads=True)
    nodes = svg_nodes(viz.render(graph, tmp_path / "grads.svg"))
    dW1, dscores = tape.gradient(loss, [m["W1"], m["scores"]])  # the tape is still usable
    w1 = node_with(nodes, "W1")[1]
    v, g = m["W1"].numpy(), dW1.numpy()
    assert f"value min {v.min():.3g} mean {v.mean():.3g} max {v.max():.3g}" in w1
    assert f"grad min {g.min():.3g} mean {g.mean():.3g} max {g.max():.3g}" in w1
    s = node_with(nodes, "scores")[1]
    assert f"grad min {dscores.numpy().min():.3g}" in s
    # tiny values are shown as they are: the scalar loss and its gradient 1
    target = node_with(nodes, "loss")[1]
    assert f"value {loss.numpy().item():.3g}" in target and "grad 1" in target
    b2 = node_with(nodes, "b2")[1]
    assert "value [" + ", ".join(f"{x:.3g}" for x in m["b2"].numpy()) + "]" in b2


def test_values_without_grads_work_on_a_non_persistent_tape():
    m = two_layer_graph(persistent=False)
    source = viz.draw_graph(m["tape"], m["loss"], show_values=True).source
    assert "value min" in source and "grad " not in source
    m["tape"].gradient(m["loss"], m["W1"])  # drawing did not spend the tape's one question


def test_grads_need_a_persistent_tape():
    m = two_layer_graph(persistent=False)
    with pytest.raises(ValueError, match=r"persistent=True"):
        viz.draw_graph(m["tape"], m["loss"], show_grads=True)
    dW1 = m["tape"].gradient(m["loss"], m["W1"])  # still unused
    assert dW1.shape == (4, 8)


def test_a_spent_tape_says_what_to_do():
    m = two_layer_graph(persistent=False)
    m["tape"].gradient(m["loss"], m["W1"])
    with pytest.raises(RuntimeError, match=r"before tape.gradient.*persistent=True"):
        viz.draw_graph(m["tape"], m["loss"])


def test_target_not_on_the_tape():
    m = two_layer_graph()
    outside = tflc.exp(m["W1"])  # computed after the `with` block
    with pytest.raises(ValueError, match="not recorded on this tape"):
        viz.draw_graph(m["tape"], outside)


def test_drawing_inside_the_tape_block_records_nothing_new():
    W = tflc.Variable(np.array([[1.0, -2.0], [0.5, 3.0]]), name="W")
    with tflc.GradientTape(persistent=True) as tape:
        loss = tflc.sum(tflc.relu(W @ W))
        before = len(tape.records)
        source = viz.draw_graph(tape, loss, show_grads=True).source
        assert len(tape.records) == before
    assert "grad" in source and "W" in source


# --- gradient disagreement view ------------------------------------------------------------------
@needs_dot
def test_disagreement_view_marks_exactly_the_broken_step(tmp_path):
    m = two_layer_graph()
    hand = hand_gradients(m)
    hand["scores"] = hand_gradients(m, divide_by_n=False)["scores"]  # forgot the /N here only
    graph = viz.draw_graph(m["tape"], m["loss"], hand_derived=hand)
    nodes = svg_nodes(viz.render(graph, tmp_path / "check.svg"))
    red = [n for n in nodes if "disagree" in n[0]]
    green = [n for n in nodes if "agree" in n[0]]
    assert [n[1].split()[:2] for n in red] == [["add", "scores"]]
    assert "first-disagree" in red[0][0] and "first wrong step" in red[0][1]
    assert red[0][2] == "#ff9e9e"  # filled red
    names = {n[1].split()[0] for n in green}
    assert names == {"W1", "b1", "W2", "b2", "add"}  # add: hidden_pre
    assert "hidden_pre" in node_with(nodes, "hidden_pre")[1]
    assert all(n[2] == "#c8ecc9" for n in green)
    neutral = [n for n in nodes if not n[0] & {"agree", "disagree"}]
    assert len(neutral) == len(nodes) - 6
    assert not any(n[2] in ("#c8ecc9", "#ffcdd2", "#ff9e9e") for n in neutral)


def test_disagreement_view_points_at_the_first_wrong_step_of_a_wrong_chain():
    """A wrong dscores makes every gradient derived from it wrong too; the first is `scores`."""
    m = two_layer_graph()
    hand = hand_gradients(m, divide_by_n=False)
    source = viz.draw_graph(m["tape"], m["loss"], hand_derived=hand).source
    classes = dot_classes(source)
    red = [node for node, c in classes.items() if "disagree" in c]
    assert len(red) == 6
    first = [node for node, c in classes.items() if "first-disagree" in c]
    line = next(line for line in source.splitlines() if line.strip().startswith(first[0] + " "))
    assert len(first) == 1 and "scores" in line and "first wrong step" in line
    correct = dot_classes(viz.draw_graph(m["tape"], m["loss"], hand_derived=hand_gradients(m)).source)
    assert not any("disagree" in c for c in correct.values())
    assert sum(c == {"op", "agree"} for c in correct.values()) == 2
    assert sum(c == {"param", "agree"} for c in correct.values()) == 4


def test_disagreement_view_accepts_tensors_and_reports_shape_mismatch():
    m = two_layer_graph()
    good = hand_gradients(m)
    source = viz.draw_graph(m["tape"], m["loss"], hand_derived={
        m["W2"]: good["W2"], m["hidden_pre"]: good["hidden_pre"].T}).source
    classes = dot_classes(source)
    assert sorted(map(sorted, (c for c in classes.values() if c & {"agree", "disagree"}))) == [
        ["agree", "param"], ["disagree", "first-disagree", "op"]]
    assert "shape (8, 5) != (5, 8)" in source
    with pytest.raises(ValueError, match=r"'W3'.*names in the graph: W1, W2, b1, b2, data_loss"):
        viz.draw_graph(m["tape"], m["loss"], hand_derived={"W3": good["W2"]})
    with pytest.raises(ValueError, match="persistent=True"):
        n = two_layer_graph(persistent=False)
        viz.draw_graph(n["tape"], n["loss"], hand_derived={"W1": good["W1"]})


def test_float32_agreement_uses_a_float32_tolerance():
    m = two_layer_graph(dtype=np.float32)
    hand = {k: v.astype(np.float32) for k, v in hand_gradients(m).items()}
    classes = dot_classes(viz.draw_graph(m["tape"], m["loss"], hand_derived=hand).source)
    assert sum("agree" in c for c in classes.values()) == 6
    assert not any("disagree" in c for c in classes.values())
    strict = viz.draw_graph(m["tape"], m["loss"], hand_derived=hand, rtol=0.0).source
    assert any("disagree" in c for c in dot_classes(strict).values())


# --- rendering errors ----------------------------------------------------------------------------
def _assert_install_message(error):
    message = str(error)
    assert isinstance(error, RuntimeError)
    for hint in ("sudo apt-get install graphviz", "brew install graphviz",
                 "conda install -c conda-forge graphviz", "re-run"):
        assert hint in message


@pytest.mark.parametrize("suffix", [".svg", ".png", ".pdf"])
def test_missing_dot_says_how_to_install_it(tmp_path, monkeypatch, suffix):
    m = softmax_loss_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    empty = tmp_path / "empty_bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(GraphvizNotFoundError) as info:
        viz.render(graph, tmp_path / f"graph{suffix}")
    _assert_install_message(info.value)
    assert not (tmp_path / f"graph{suffix}").exists()


def test_dot_vanishing_between_the_check_and_the_call_is_the_same_error(tmp_path, monkeypatch):
    m = softmax_loss_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    monkeypatch.setattr(shutil, "which", lambda name: str(tmp_path / "gone" / "dot"))
    with pytest.raises(GraphvizNotFoundError) as info:
        viz.render(graph, tmp_path / "graph.svg")
    _assert_install_message(info.value)


def test_dot_source_needs_no_binary(tmp_path, monkeypatch):
    m = two_layer_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda name: None)
    path = viz.render(graph, tmp_path / "net.dot")
    text = path.read_text()
    assert text == graph.source and text.startswith("digraph")
    assert "<B>matmul</B>" in text and "W1" in text
    assert viz.render(graph, tmp_path / "net.gv").read_text() == text


def test_unknown_suffix_lists_the_valid_ones(tmp_path):
    m = softmax_loss_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    with pytest.raises(ValueError, match=r"\.svg, \.png, \.pdf, \.dot"):
        viz.render(graph, tmp_path / "graph.jpeg")
    with pytest.raises(ValueError):
        viz.render(graph, tmp_path / "graph")


# --- large graphs and collapsing -----------------------------------------------------------------
@needs_dot
def test_twenty_layer_mlp_draws_and_renders(tmp_path):
    rng = np.random.default_rng(1)
    layers = [tflc.Variable(rng.standard_normal((6, 6)) / 3, name=f"W{k}") for k in range(1, 21)]
    biases = [tflc.Variable(np.zeros(6), name=f"b{k}") for k in range(1, 21)]
    x = rng.standard_normal((4, 6))
    with tflc.GradientTape(persistent=True) as tape:
        h = x
        for W, b in zip(layers, biases):
            h = tflc.relu(h @ W + b)
        loss = tflc.mean(h * h)
    graph = viz.draw_graph(tape, loss, show_values=True, show_grads=True, rankdir="TB")
    path = viz.render(graph, tmp_path / "mlp20.svg")
    nodes = svg_nodes(path)
    assert len(nodes) == 20 * 3 + 2 + 40 + 1  # matmul/add/relu per layer, multiply, mean, params, x
    assert {f"W{k}" for k in range(1, 21)} <= {n[1].split()[0] for n in nodes}
    assert len(svg_edges(path)) == implied_counts(tape, loss)[1]
    # labels stay short: no text line wider than about fifty characters
    lines = [t.text for t in ET.parse(path).getroot().iter(f"{SVG}text") if t.text]
    assert max(map(len, lines)) <= 50
    assert viz.render(graph, tmp_path / "mlp20.png").stat().st_size > 10_000


@needs_dot
def test_collapse_draws_the_softmax_loss_as_one_box(tmp_path):
    m = two_layer_graph()
    full = svg_nodes(viz.render(viz.draw_graph(m["tape"], m["loss"]), tmp_path / "full.svg"))
    graph = viz.draw_graph(m["tape"], m["loss"], show_grads=True,
                           collapse={"softmax loss": (m["scores"], m["data_loss"])})
    path = viz.render(graph, tmp_path / "collapsed.svg")
    nodes = svg_nodes(path)
    box = [n for n in nodes if "group" in n[0]]
    assert len(box) == 1 and "softmax loss" in box[0][1] and "9 ops" in box[0][1]
    # max, subtract, exp, sum, log, subtract, getitem, mean, negative: 9 records -> 1 box
    assert len(nodes) == len(full) - 8
    words = {n[1].split()[0] for n in nodes}
    assert not {"exp", "log", "max", "getitem"} & words
    assert {"W1", "b1", "W2", "b2", "relu", "matmul"} <= words
    # the box: one arrow in from scores, one out to the total loss
    source = graph.source
    assert source.count("-> group0") == 1 and source.count("group0 ->") == 1
    assert "grad 1" in box[0][1]


def test_collapse_counts_and_errors():
    m = two_layer_graph()
    tape, loss = m["tape"], m["loss"]
    groups = {"layer 1": ([m["W1"], m["b1"]], m["hidden_pre"]),
              "softmax loss": (m["scores"], m["data_loss"])}
    source = viz.draw_graph(tape, loss, collapse=groups).source
    assert "<B>layer 1</B>" in source and "<B>softmax loss</B>" in source
    with pytest.raises(ValueError, match="overlap"):
        viz.draw_graph(tape, loss, collapse={"a": (m["scores"], m["data_loss"]),
                                             "b": (m["hidden_pre"], m["data_loss"])})
    with pytest.raises(ValueError, match="not upstream"):
        viz.draw_graph(tape, loss, collapse={"a": (m["data_loss"], m["scores"])})
    with pytest.raises(ValueError, match="not an op result"):
        viz.draw_graph(tape, loss, collapse={"a": (m["scores"], m["W1"])})


def test_collapsed_box_turns_red_when_a_step_inside_disagrees():
    m = two_layer_graph()
    hand = hand_gradients(m, divide_by_n=False)
    source = viz.draw_graph(m["tape"], m["loss"], hand_derived={"scores": hand["scores"]},
                            collapse={"head": ([m["hidden_pre"]], m["scores"])}).source
    assert dot_classes(source)["group0"] == {"group", "disagree", "first-disagree"}


# --- labels of other ops, names, escaping ----------------------------------------------------------
def test_labels_of_shape_ops_names_and_raw_array_parameters():
    rng = np.random.default_rng(3)
    W = rng.standard_normal((3, 4))  # a raw NumPy parameter, watched by hand
    x = tflc.Tensor(rng.standard_normal((2, 3)), name="x<in>&")
    with tflc.GradientTape(persistent=True) as tape:
        tape.watch(W)
        h = (x @ W).T.reshape((4, 2))[1:3, ::2] ** 2
        out = tflc.sum(tflc.cast(h, np.float32) / 2.0)
    source = viz.draw_graph(tape, out, params={"W": W}, title="shape ops", show_values=True,
                            hand_derived={"W": tape.gradient(out, W).numpy()}).source
    for text in ("<B>transpose</B>", "<B>reshape</B> <FONT POINT-SIZE=\"9\">to (4, 2)</FONT>",
                 "<B>getitem</B> <FONT POINT-SIZE=\"9\">[1:3, ::2]</FONT>",
                 "<B>power</B> <FONT POINT-SIZE=\"9\">**2</FONT>",
                 "<B>cast</B> <FONT POINT-SIZE=\"9\">to float32</FONT>",
                 "<B>W</B>", "<B>x&lt;in&gt;&amp;</B>", "shape ops", "() float32"):
        assert text in source, text
    classes = dot_classes(source)
    assert {"param", "agree"} in classes.values()  # the raw array named in params
    assert sum(c == {"data"} for c in classes.values()) == 1  # x
    assert sum(c == {"scalar"} for c in classes.values()) == 1  # the 2.0


# --- bad input (issue 11) ------------------------------------------------------------------------
@pytest.mark.parametrize("dpi", [-5, 0, float("nan"), float("inf"), True, "96"])
def test_render_refuses_a_bad_dpi(tmp_path, dpi):
    m = softmax_loss_graph()
    with pytest.raises(ValueError, match="render: dpi must be a number > 0"):
        viz.render(viz.draw_graph(m["tape"], m["loss"]), tmp_path / "g.png", dpi=dpi)
    assert not (tmp_path / "g.png").exists()


def test_draw_graph_without_a_tape_names_the_argument():
    m = softmax_loss_graph()
    with pytest.raises(TypeError, match="draw_graph: tape must be the GradientTape that "
                                        "recorded target, got NoneType"):
        viz.draw_graph(None, m["loss"])


def dot_script(tmp_path, monkeypatch, script):
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "dot").write_text("#!/bin/sh\n" + script + "\n")
    (tmp_path / "bin" / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")


def test_a_failing_dot_is_a_graphviz_error_with_its_message(tmp_path, monkeypatch):
    m = softmax_loss_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    dot_script(tmp_path, monkeypatch, 'echo "Error: syntax error in line 1" >&2; exit 1')
    with pytest.raises(viz.GraphvizError, match="dot failed to draw g.svg: Error: syntax error"):
        viz.render(graph, tmp_path / "g.svg")
    assert not (tmp_path / "g.svg").exists()
    assert issubclass(viz.GraphvizNotFoundError, viz.GraphvizError)
    assert issubclass(viz.GraphvizError, RuntimeError)


def test_a_hanging_dot_is_stopped_after_the_timeout(tmp_path, monkeypatch):
    m = softmax_loss_graph()
    graph = viz.draw_graph(m["tape"], m["loss"])
    dot_script(tmp_path, monkeypatch, "exec sleep 60")
    with pytest.raises(viz.GraphvizError, match="did not finish drawing g.svg within 0.3 s"):
        viz.render(graph, tmp_path / "g.svg", timeout=0.3)
    assert viz.DOT_TIMEOUT == 60 and not (tmp_path / "g.svg").exists()
