"""Step through what a tape recorded, in the browser: the forward pass op by op, then the backward
sweep one VJP at a time, gradients appearing on a node only once the sweep has reached it.

    page = viz.explore(tape, loss, inputs={"X": X, "y": y})
    page.save("explore.html")        # one self-contained file: no network access when viewed
    page                             # in Jupyter: the page inline

The page is one HTML file: the graph (laid out by `viz.graph_data`) drawn as SVG, the steps as
inline JSON, the script and style of explore.js / explore.css inlined. Each step names its node
and the edges it uses; a backward step is one input's VJP of one equation, with the rule it
applies in the seed's math and shapes (`dW1 (6, 8) = Xᵀ (6, 5) · g (5, 8)`), from the op's
`rule=` declaration. With `hand_derived`, nodes are coloured by agreement with autodiff, as in
`viz.draw_graph`, and the first wrong step is named at the top of the page.

The sweep here is the tape's own (program.backward), run one VJP at a time on the recorded
equations, so it needs neither a persistent tape nor a gradient() call: exploring spends nothing.
"""
import html
import inspect
import json
import math
import re
from importlib import resources
from pathlib import Path

import numpy as np

from tensorflowlite_clone import Tensor
from tensorflowlite_clone.app.files import atomic_write

from .graph import _checks, _first_wrong, _format_params, _short_repr
from .layout import Graph, laid_out

__all__ = ["explore", "Explorer", "SMALL", "HEAT_CELLS"]

SMALL = 12        # arrays with at most this many entries are shown as numbers
HEAT_CELLS = 48   # heat maps are averaged down to at most this many cells a side


def explore(tape, target, *, params=None, inputs=None, hand_derived=None, rtol=None, title=None,
            layout="auto"):
    """An `Explorer` page of the part of `tape` that computes `target`.

    `params`, `inputs`, `hand_derived` and `rtol` are `viz.draw_graph`'s: names for leaves,
    and hand-derived gradients (by tensor or name) to check against autodiff. `layout` is
    `viz.graph_data`'s ("auto", "dot" or "layered"). The tape must still hold its records
    (explore before a non-persistent tape's gradient() call; exploring does not use it up).
    """
    graph = Graph(tape, target, params, inputs, who="explore")
    data = laid_out(graph, layout)
    names = _display_names(graph)
    steps, grads, grad_step = _steps(graph, names)
    try:
        checks = _checks(hand_derived, graph.tensors, graph.names, grads, rtol) if hand_derived else {}
    except (TypeError, ValueError) as error:  # draw_graph's checks, worded for this function
        raise type(error)(str(error).replace("draw_graph:", "explore:", 1)) from None
    first_wrong = _first_wrong(graph.drawn, checks, graph.node_of)
    node_key = {node_id: key for key, node_id in graph.node_of.items()}
    for node in data["nodes"]:
        key = node_key[node["id"]]
        node["name"] = names[key]
        x = graph.tensors[key]
        if not node["id"].startswith("op"):  # leaves have their value from the start
            node["value"] = view(x)
        if key in checks:
            c = checks[key]
            node["check"] = {"ok": bool(c["ok"]), "note": c["note"], "rtol": c["rtol"],
                             "first_wrong": key in first_wrong}
    data["title"] = title or "backprop, step by step"
    data["steps"] = steps
    data["first_wrong"] = [
        {"node": graph.node_of[key], "name": names[key], "op": _op_name(graph, key),
         "note": checks[key]["note"], "step": grad_step.get(key)} for key in first_wrong]
    data["checked"] = bool(checks)
    return Explorer(_page(data), steps, data)


class Explorer:
    """An explorer page: `html` (the whole file), `steps` (forward, then backward), `data`
    (what the page embeds). `save(path)` writes it; Jupyter shows it inline."""

    def __init__(self, page, steps, data):
        self.html, self.steps, self.data = page, steps, data

    def save(self, path):
        """Write the page to `path` (.html or .htm; folders made); returns the Path."""
        path = Path(path)
        if path.suffix.lower() not in (".html", ".htm"):
            raise ValueError(f"Explorer.save: {path.name!r} is not an .html file")
        return atomic_write(path, lambda f: f.write(self.html.encode("utf-8")))

    def _repr_html_(self):
        height = min(1000, max(640, self.data["height"] + 480))
        return (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width:100%; '
                f'height:{height}px; border:1px solid #ccc" sandbox="allow-scripts"></iframe>')

    def __repr__(self):
        return f"<Explorer: {len(self.steps)} steps, {len(self.data['nodes'])} nodes>"


# --- the steps ---------------------------------------------------------------------------------
def _steps(graph, names):
    """The forward steps (one per record), then the backward ones (one per VJP, in the sweep's
    order), and the gradients: tensor id -> array (None: no gradient), tensor id -> the step
    where its gradient is complete."""
    equations = graph.tape.program.equations
    position = {id(r): k for k, r in enumerate(graph.records)}
    edge_of = {(e["to"], e["input"]): e["id"] for e in graph.edges}
    steps = []
    for k, r in enumerate(graph.drawn):
        node = f"op{k}"
        steps.append({"kind": "forward", "node": node, "op": r.op.name,
                      "edges": [edge_of[(node, p)] for p in range(len(r.inputs))
                                if (node, p) in edge_of],
                      "rule": _forward_rule(r, names), "inputs": _operands(r, names),
                      "output": _described(r.output, names), "value": view(r.output)})

    # backward: program.backward's sweep, one VJP a step, on the recorded equations' arrays
    target_key = id(graph.target)
    grads = {target_key: np.ones(np.shape(graph.target), np.asarray(graph.target).dtype)}
    grad_step, first_backward = {target_key: len(steps)}, len(steps)
    for k in range(len(graph.drawn) - 1, -1, -1):
        r = graph.drawn[k]
        eq = equations[position[id(r)]]
        g = grads.get(id(r.output))
        if g is None:  # nothing flows back through it
            continue
        ans = None if eq.ans is None else eq.ans._value
        args = (g, ans, *eq.arrays, *eq.params)
        for pos, vjp in enumerate(r.op.vjps):
            x = r.inputs[pos]
            if vjp is None or eq.inputs[pos] is None:  # a constant: the tape skips it too
                continue
            gx = vjp(*args)
            if gx is None:
                continue
            gx = np.asarray(gx)
            value = eq.arrays[pos]
            if value is not None and gx.dtype != value.dtype:
                gx = gx.astype(value.dtype)
            key = id(x)
            old = grads.get(key)
            grads[key] = gx if old is None else old + gx  # a new array: earlier steps keep theirs
            grad_step[key] = len(steps)
            node = f"op{k}"
            step = {"kind": "backward", "node": node, "to": graph.node_of[key], "op": r.op.name,
                    "input": pos, "edges": [edge_of[(node, pos)]],
                    "rule": _backward_rule(r, pos, vjp, names),
                    "inputs": _operands(r, names), "output": _described(r.output, names),
                    "grad": view(grads[key])}
            if old is not None:
                step["contribution"] = view(gx)
            steps.append(step)
    if len(steps) > first_backward:
        steps[first_backward]["seed"] = {"node": graph.node_of[target_key],
                                         "grad": view(grads[target_key])}
    # the how-manyth contribution to its node each backward step is, and whether it is the last
    last = {graph.node_of[key]: s for key, s in grad_step.items()}
    count = {}
    for s in range(first_backward, len(steps)):
        step = steps[s]
        count[step["to"]] = step["contributions"] = count.get(step["to"], 0) + 1
        step["complete"] = last[step["to"]] == s
    return steps, grads, grad_step


def _display_names(graph):
    """tensor id -> the name the page writes: draw_graph's name, else the op's name (numbered
    when an op occurs more than once: sum₁, sum₂), else 'const'."""
    names = {key: graph.names.of(key) for key in graph.tensors}
    ops = [r.op.name for r in graph.drawn]
    seen = {}
    for r in graph.drawn:
        key = id(r.output)
        if names[key]:
            continue
        n = seen[r.op.name] = seen.get(r.op.name, 0) + 1
        names[key] = r.op.name + (_subscript(n) if ops.count(r.op.name) > 1 else "")
    for key in graph.leaves:
        names[key] = names[key] or "const"
    return names


def _subscript(n):
    return str(n).translate(str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉"))


def _op_name(graph, key):
    r = next((r for r in graph.drawn if id(r.output) == key), None)
    return r.op.name if r is not None else "leaf"


def _shape_text(shape):
    return str(tuple(int(n) for n in shape))


def _operand(x, names, transposed=False):
    """'name (shape)' for a tensor or array (ᵀ: the transposed one's), the number for a number."""
    if not isinstance(x, (Tensor, np.ndarray)):
        return _param_text(x)
    return _named(names.get(id(x), "const"), np.shape(x), transposed)


def _named(name, shape, transposed=False):
    """'W1 (6, 8)', or transposed 'W1ᵀ (8, 6)' (the last two axes swapped, as matmul's)."""
    shape = [int(n) for n in shape]
    if transposed:
        name += "ᵀ"
        if len(shape) >= 2:
            shape[-2:] = shape[-1], shape[-2]
    return f"{name} {tuple(shape)}"


def _described(x, names):
    return {"text": _operand(x, names), "dtype": str(getattr(x, "dtype", type(x).__name__))}


def _operands(record, names):
    return [_described(x, names) for x in record.inputs]


def _forward_rule(record, names):
    args = [_operand(x, names) for x in record.inputs]
    params = _format_params(record.op, record.params)
    return (f"{_operand(record.output, names)} = {record.op.name}({', '.join(args)}"
            f"{', ' + params if params else ''})")


_PLACEHOLDER = re.compile(r"\{(\w+)\}(ᵀ?)")


def _backward_rule(record, pos, vjp, names):
    """`d<input> (shape) = <the op's rule for that input>`, its placeholders (the VJP's own
    argument names) filled with names and shapes; `vjp_<op>(g, ans)` for an op without one."""
    x, out = record.inputs[pos], record.output
    left = f"d{_operand(x, names)} = "
    rule = record.op.rule[pos] if record.op.rule else None
    if rule is None:
        which = f"[{pos}]" if len(record.op.vjps) > 1 else ""
        return f"{left}vjp_{record.op.name}{which}({_named('g', np.shape(out))}, " \
               f"{names.get(id(out), 'ans')})"
    try:
        arg_names = [n.lstrip("_") for n in inspect.signature(vjp).parameters]
    except (TypeError, ValueError):  # a builtin: no names to fill
        arg_names = []
    # the VJP's arguments: g (the output's gradient), ans (the output), inputs, parameters
    operands = {"g": None, "ans": out}
    operands.update(zip(arg_names[2:], list(record.inputs) + list(record.params)))

    def fill(match):
        name, transposed = match.group(1), bool(match.group(2))
        if name not in operands:  # (a test checks that every rule's names are the VJP's)
            return match.group(0)
        if name == "g":
            return _named("g", np.shape(out), transposed)
        return _operand(operands[name], names, transposed)
    return left + _PLACEHOLDER.sub(fill, rule)


def _param_text(p):
    if isinstance(p, float):
        return f"{p:.4g}"
    return _short_repr(p)


# --- arrays as the page shows them -------------------------------------------------------------
def view(x):
    """A JSON-able view of an array: shape, dtype, min/mean/max (of the finite entries); the
    entries themselves when there are at most SMALL; a heat map (rows x cols, block means, at
    most HEAT_CELLS a side) for two or more dimensions (the leading ones folded into rows)."""
    a = np.asarray(x._value if isinstance(x, Tensor) else x)
    if a.dtype.kind == "c":
        a = np.abs(a)
    a = a.astype(np.float64, copy=False) if a.dtype.kind in "biuf" else a
    out = {"shape": [int(n) for n in a.shape], "dtype": str(np.asarray(x).dtype)}
    finite = a[np.isfinite(a)] if a.size else a
    if finite.size:
        out.update(min=_num(finite.min()), mean=_num(finite.mean()), max=_num(finite.max()))
    if a.size <= SMALL:
        out["values"] = [_num(v) for v in a.ravel()]
    if a.ndim >= 2 and a.size:
        m = a.reshape(-1, a.shape[-1])
        m = _block_means(_block_means(m, 0), 1)
        out["heat"] = {"rows": int(m.shape[0]), "cols": int(m.shape[1]),
                       "data": [_num(v, 4) for v in m.ravel()],
                       "downsampled": bool(m.shape != (math.prod(a.shape[:-1]), a.shape[-1]))}
    return out


def _block_means(m, axis):
    n = m.shape[axis]
    if n <= HEAT_CELLS:
        return m
    starts = np.linspace(0, n, HEAT_CELLS + 1).astype(int)
    sums = np.add.reduceat(np.nan_to_num(m), starts[:-1], axis=axis)
    counts = np.diff(starts).reshape((-1, 1) if axis == 0 else (1, -1))
    return sums / counts


def _num(v, digits=None):
    """A float for JSON (None for NaN or inf, which JSON lacks), to `digits` significant digits."""
    v = float(v)
    if not math.isfinite(v):
        return None
    return float(f"{v:.{digits}g}") if digits else v


# --- the page ----------------------------------------------------------------------------------
def _asset(name):
    return resources.files("viz").joinpath(name).read_text(encoding="utf-8")


def _page(data):
    # inside <script>, "</" would end the element early: JSON allows "<\/"
    payload = json.dumps(data, allow_nan=False, ensure_ascii=False).replace("</", "<\\/")
    title = html.escape(data["title"])
    # the verdict is in the page itself, not only drawn by the script
    if data["first_wrong"]:
        verdict = "first wrong step: " + ", ".join(
            f"{w['name']} ({w['op']}; {w['note']})" for w in data["first_wrong"])
        verdict = f'<div id="first-wrong">{html.escape(verdict)}</div>'
    elif data["checked"]:
        verdict = '<div id="first-wrong" class="ok">hand-derived gradients agree with autodiff</div>'
    else:
        verdict = '<div id="first-wrong" hidden></div>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{_asset("explore.css")}
</style>
</head>
<body>
<header>
  <h1>{title}</h1>
  {verdict}
</header>
<nav id="controls">
  <button id="first" title="first step (Home)">« first</button>
  <button id="back" title="step back (←)">◀ back</button>
  <input id="slider" type="range" min="0" max="{max(len(data["steps"]) - 1, 0)}" value="0"
         aria-label="step">
  <button id="forward" title="step forward (→)">forward ▶</button>
  <button id="last" title="last step (End)">last »</button>
  <span id="step-label"></span>
</nav>
<main>
  <div id="graph"></div>
  <aside id="panel">
    <h2 id="op-name"></h2>
    <div id="rule"></div>
    <table id="shapes"></table>
    <section id="value"></section>
    <section id="grad"></section>
  </aside>
</main>
<footer id="legend"></footer>
<script type="application/json" id="explorer-data">{payload}</script>
<script>
{_asset("explore.js")}
</script>
</body>
</html>
"""
