"""Where the nodes of a recorded graph go on a page: by Graphviz's `dot` when it is installed,
else by a layered layout of the project's own (so the pages work without Graphviz).

    data = viz.graph_data(tape, loss, inputs={"X": X})   # JSON-able: nodes with x, y, edges
    positions = layered(sizes, edges)                      # id -> (x, y), pure Python

`graph_data` reads the tape as `viz.draw_graph` does (same names, same nodes): one node per
recorded op the target depends on and per leaf those ops read (Python numbers are no nodes),
one edge per tensor input. The data flows left to right; x, y are the centres of the boxes
in pixels, y downwards.
"""
import json
import math
import shutil
import subprocess

import numpy as np

from tensorflowlite_clone import GradientTape, Tensor, Variable

from .graph import (
    DOT_TIMEOUT,
    GraphvizError,
    GraphvizNotFoundError,
    _format_params,
    _is_leaf_of,
    _leaves,
    _names,
    _records_reaching,
)

__all__ = ["graph_data", "layered", "dot_layout", "LAYOUTS"]

LAYOUTS = ("auto", "dot", "layered")
LAYER_GAP, NODE_GAP, MARGIN = 56, 18, 12   # pixels between layers, between boxes, around
CHAR_WIDTH, NODE_HEIGHT = 7.2, 38         # a box fits its longest line at 12px sans-serif


# --- reading the tape --------------------------------------------------------------------------
class Graph:
    """The part of a tape that computes `target`, as `draw_graph` reads it: `drawn` (records in
    execution order), `leaves` (id -> tensor or array), `tensors` (both), `names`, and one node
    dict per op and leaf (`nodes`, by node id) with `node_of` (tensor id -> node id)."""

    def __init__(self, tape, target, params=None, inputs=None, who="graph_data"):
        if not isinstance(tape, GradientTape):
            raise TypeError(f"{who}: tape must be the GradientTape that recorded target, got "
                            f"{type(tape).__name__}")
        if not isinstance(target, (Tensor, np.ndarray)):
            raise TypeError(f"{who}: target must be a Tensor, got {type(target).__name__}")
        records = tape.records
        if not records and getattr(tape, "_used", False):
            raise RuntimeError(
                f"{who}: this tape has no records left: a non-persistent GradientTape releases "
                "them when its one gradient() call is answered. Call it before tape.gradient(...), "
                "or record with tflc.GradientTape(persistent=True).")
        producer = {id(r.output): r for r in records}
        if id(target) not in producer and not _is_leaf_of(records, target):
            raise ValueError(
                f"{who}: target was not recorded on this tape (was it computed outside the tape's "
                "`with` block, or only from constants the tape does not watch?)")
        self.tape, self.target, self.records = tape, target, records
        self.drawn = _records_reaching(records, producer, target)
        self.leaves = _leaves(self.drawn, producer, target)
        self.tensors = {id(r.output): r.output for r in self.drawn}
        self.tensors.update(self.leaves)
        self.names = _names(params, inputs, self.tensors)
        self.nodes, self.node_of, self.edges = {}, {}, []
        for j, (key, x) in enumerate(self.leaves.items()):
            self._add_node(f"leaf{j}", key, x, self._leaf_kind(key, x), None)
        for k, r in enumerate(self.drawn):
            self._add_node(f"op{k}", id(r.output), r.output, "op", r)
            for pos, x in enumerate(r.inputs):
                if isinstance(x, (Tensor, np.ndarray)):
                    self.edges.append({"id": f"e{len(self.edges)}", "from": self.node_of[id(x)],
                                       "to": f"op{k}", "input": pos})

    def _leaf_kind(self, key, x):
        if isinstance(x, Variable) or key in self.names.by_param:
            return "param"
        return "data" if self.names.of(key) else "constant"

    def _add_node(self, node_id, key, x, kind, record):
        name = self.names.of(key)
        if record is None:
            label = name or ("array" if isinstance(x, np.ndarray) else "constant")
        else:
            params = _format_params(record.op, record.params)
            label = record.op.name + (f" {params}" if params else "")
        shape = [int(n) for n in np.shape(x)]
        dtype = str(np.asarray(x).dtype) if not hasattr(x, "dtype") else str(x.dtype)
        sub = (f"{name} " if name and record is not None else "") + f"{tuple(shape)} {dtype}"
        width = math.ceil(max(len(label), len(sub)) * CHAR_WIDTH + 16)
        self.node_of[key] = node_id
        self.nodes[node_id] = {"id": node_id, "label": label, "sub": sub, "name": name,
                               "kind": kind, "shape": shape, "dtype": dtype,
                               "target": x is self.target, "width": width, "height": NODE_HEIGHT}


def graph_data(tape, target, params=None, inputs=None, layout="auto"):
    """The graph of `target` on `tape` as a JSON-able dict, laid out for drawing.

    ``{"nodes": [{id, label, sub, name, kind, shape, dtype, target, x, y, width, height}],
    "edges": [{id, from, to, input}], "width": W, "height": H, "layout": "dot" | "layered"}``.
    `kind` is "op", "param" (a Variable, or a leaf named in `params`), "data" (a named leaf:
    `inputs` or its own ``Tensor.name``) or "constant"; `input` is the position of the edge's
    tensor among the op's inputs. `params` and `inputs` are `draw_graph`'s. `layout`: "dot"
    (Graphviz; `viz.GraphvizNotFoundError` without it), "layered" (the project's), or "auto"
    (dot when installed, else layered, also when dot fails).
    """
    return laid_out(Graph(tape, target, params, inputs), layout)


def laid_out(graph, layout="auto"):
    """`graph_data`'s dict for a `Graph`."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(map(repr, LAYOUTS))}, got {layout!r}")
    nodes = list(graph.nodes.values())
    sizes = {n["id"]: (n["width"], n["height"]) for n in nodes}
    edges = [(e["from"], e["to"]) for e in graph.edges]
    used = "layered"
    if layout == "dot" or layout == "auto" and shutil.which("dot"):
        try:
            positions, used = dot_layout(sizes, edges), "dot"
        except GraphvizError:
            if layout == "dot":
                raise
            positions = layered(sizes, edges)
    else:
        positions = layered(sizes, edges)
    for n in nodes:
        n["x"], n["y"] = (round(c, 1) for c in positions[n["id"]])
    width = max((n["x"] + n["width"] / 2 for n in nodes), default=0) + MARGIN
    height = max((n["y"] + n["height"] / 2 for n in nodes), default=0) + MARGIN
    return {"nodes": nodes, "edges": graph.edges, "width": math.ceil(width),
            "height": math.ceil(height), "layout": used}


# --- the layered layout ------------------------------------------------------------------------
def layered(sizes, edges, sweeps=4):
    """Centres (x, y) for boxes `sizes` (id -> (width, height), in a topological order, as a
    tape's execution order is) joined by `edges` ((from, to) pairs), data flowing left to right.

    Layers by longest path from the sources; a source (a leaf) is pulled right to just before
    its first user, so parameters sit beside the op that reads them. Then `sweeps` barycentre
    passes order each layer by the mean position of its neighbours in the layer before (or
    after), which removes most crossings; boxes are stacked in that order, layers centred.
    """
    ids = list(sizes)
    preds = {v: [] for v in ids}
    succs = {v: [] for v in ids}
    for a, b in edges:
        preds[b].append(a)
        succs[a].append(b)
    layer = {}
    for v in ids:  # (ids are in topological order: predecessors come first)
        layer[v] = max((layer[u] + 1 for u in preds[v]), default=0)
    for v in ids:
        if not preds[v] and succs[v]:
            layer[v] = min(layer[w] for w in succs[v]) - 1
    depth = max(layer.values(), default=0) + 1
    layers = [[] for _ in range(depth)]
    for v in ids:
        layers[layer[v]].append(v)

    def reorder(rows, neighbours):
        # sort each row by the mean rank of its neighbours in the rows before it (all of them:
        # a parameter's edge may skip layers); a node without any keeps its place
        rank = {v: i for row in rows for i, v in enumerate(row)}
        for k in range(1, len(rows)):
            done = {v for row in rows[:k] for v in row}
            mean = {}
            for v in rows[k]:
                near = [rank[u] for u in neighbours[v] if u in done]
                mean[v] = sum(near) / len(near) if near else rank[v]
            rows[k].sort(key=mean.__getitem__)
            rank.update((v, i) for i, v in enumerate(rows[k]))

    for _ in range(sweeps):
        reorder(layers, preds)
        reorder(layers[::-1], succs)

    columns = [sum(sizes[v][1] for v in row) + NODE_GAP * (len(row) - 1) for row in layers]
    tallest = max(columns, default=0)
    positions, x = {}, MARGIN
    for row, column in zip(layers, columns):
        width = max((sizes[v][0] for v in row), default=0)
        y = MARGIN + (tallest - column) / 2
        for v in row:
            positions[v] = (x + width / 2, y + sizes[v][1] / 2)
            y += sizes[v][1] + NODE_GAP
        x += width + LAYER_GAP
    return positions


# --- Graphviz ----------------------------------------------------------------------------------
def dot_layout(sizes, edges, timeout=DOT_TIMEOUT):
    """`layered`'s answer from Graphviz's `dot` (`-Tplain` of a graph of fixed-size boxes, left
    to right). Raises GraphvizNotFoundError without dot, GraphvizError when it fails."""
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError("layout='dot' needs Graphviz's `dot` program, which was not "
                                    "found on PATH; use layout='layered' or 'auto'")
    lines = ["digraph g {", "rankdir=LR; nodesep=0.25; ranksep=0.6;",
             "node [shape=box fixedsize=true label=\"\"];"]
    for v, (w, h) in sizes.items():
        lines.append(f"{json.dumps(v)} [width={w / 72:.3f} height={h / 72:.3f}];")
    lines += [f"{json.dumps(a)} -> {json.dumps(b)};" for a, b in edges] + ["}"]
    try:
        done = subprocess.run([dot, "-Tplain"], input="\n".join(lines).encode(),
                              capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"dot did not lay out the graph within {timeout:g} s") from None
    except OSError as error:
        raise GraphvizError(f"cannot run Graphviz's dot ({dot}): {error}") from None
    if done.returncode != 0:
        raise GraphvizError(f"dot failed: {done.stderr.decode(errors='replace').strip()}")
    positions, height = {}, 0.0
    for line in done.stdout.decode().splitlines():  # inches, y upwards
        parts = line.split()
        if parts[:1] == ["graph"]:
            height = float(parts[3])
        elif parts[:1] == ["node"]:
            name = parts[1].strip('"')
            positions[name] = (float(parts[2]) * 72 + MARGIN, (height - float(parts[3])) * 72 + MARGIN)
    if set(positions) != set(sizes):
        raise GraphvizError("dot's layout is missing nodes")
    return positions
