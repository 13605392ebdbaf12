"""Draw the computation graph a `GradientTape` recorded, with Graphviz.

    import viz
    with tflc.GradientTape(persistent=True) as tape:
        loss = ...
    graph = viz.draw_graph(tape, loss, show_values=True, show_grads=True)
    viz.render(graph, "loss.svg")          # or .png / .pdf (need Graphviz's `dot`), .dot (never does)

The drawing is made from the tape's records (the Wengert list), so it shows exactly what ran:
one box per recorded op, one node per leaf, arrows in the direction the data flows.

What the shapes and colours mean:

- op (rounded grey box): the op's name and its parameters (``axis=1, keepdims``), the output's
  name when the tensor has one, its shape and dtype. The target has a double border.
- parameter (amber box, bold border): a `Variable`, or a leaf named through ``params=``.
- data (blue dashed box): any other tensor or array leaf (inputs, labels, constants).
- scalar (grey plain text): a Python number used by an op (``reg`` in ``reg * sum(W*W)``).
- collapsed sub-expression (lilac 3-D box): see ``collapse=`` in `draw_graph`.
- gradient check (``hand_derived=``): green = the hand-derived gradient agrees with autodiff,
  red = it disagrees; the red node(s) nearest the target, where the hand derivation first goes
  wrong, get a thick border and the words "first wrong step".

In SVG output every node's ``<g>`` element carries CSS classes (``node op``, ``node param``,
``node data``, ``node scalar``, ``node group``, plus ``target``, ``agree``, ``disagree``,
``first-disagree``) and a tooltip with the full details.
"""
import contextlib
import html
import math
import shutil
import subprocess
from numbers import Number, Real
from pathlib import Path

import graphviz
import numpy as np

from tensorflowlite_clone import GradientTape, Tensor, Variable
from tensorflowlite_clone.app.files import atomic_write
from tensorflowlite_clone.gradcheck import rel_error

__all__ = ["draw_graph", "render", "GraphvizError", "GraphvizNotFoundError", "RENDER_FORMATS",
           "INSTALL_HINT", "DOT_TIMEOUT"]

#: Suffixes `render` understands, and the Graphviz output format each one asks for
#: (None: the DOT source is written as text; no Graphviz program is needed).
RENDER_FORMATS = {".svg": "svg", ".png": "png", ".pdf": "pdf", ".dot": None, ".gv": None}

INSTALL_HINT = (
    "Install Graphviz (the system package that provides `dot`), then re-run:\n"
    "    Debian/Ubuntu:  sudo apt-get install graphviz\n"
    "    Fedora/RHEL:    sudo dnf install graphviz\n"
    "    macOS:          brew install graphviz\n"
    "    conda:          conda install -c conda-forge graphviz\n"
    "    Windows:        winget install graphviz   (then add its bin folder to PATH)\n"
    "Check with `dot -V`. Note that `pip install graphviz` installs only the Python bindings, "
    "not the `dot` program. A .dot file needs no Graphviz: viz.render(graph, 'graph.dot')."
)


#: Seconds `render` waits for Graphviz's `dot` by default (a broken install can hang forever).
DOT_TIMEOUT = 60


class GraphvizError(RuntimeError):
    """Graphviz's `dot` program could not draw a graph: it failed, did not finish in time, or
    (`GraphvizNotFoundError`) is not installed."""


class GraphvizNotFoundError(GraphvizError):
    """Rendering to SVG/PNG/PDF needs Graphviz's `dot` program and it is not installed.

    The message says how to install it on common systems.
    """


# --- colours -------------------------------------------------------------------------------------
_STYLE = {
    "op": dict(shape="box", style="rounded,filled", fillcolor="#eef1f5", color="#8a94a3"),
    "param": dict(shape="box", style="filled,bold", fillcolor="#ffe3a3", color="#b7791f",
                  penwidth="1.6"),
    "data": dict(shape="box", style="filled,dashed", fillcolor="#e3f0fb", color="#5b8db8"),
    "scalar": dict(shape="plaintext", fontsize="9", fontcolor="#555555"),
    "group": dict(shape="box3d", style="filled", fillcolor="#e8e0f5", color="#6f5a9a"),
}
_AGREE = dict(fillcolor="#c8ecc9", color="#2e7d32", penwidth="1.6")
_DISAGREE = dict(fillcolor="#ffcdd2", color="#c62828", penwidth="1.6")
_FIRST_DISAGREE = dict(fillcolor="#ff9e9e", color="#b71c1c", penwidth="3.5")
_GREY, _VALUE_COLOUR, _GRAD_COLOUR = "#5f6670", "#2f4f6f", "#8a4b00"
_OK_COLOUR, _BAD_COLOUR = "#1b5e20", "#b71c1c"


# --- draw_graph ----------------------------------------------------------------------------------
def draw_graph(tape, target, *, params=None, inputs=None, show_values=False, show_grads=False,
               rankdir="LR", hand_derived=None, rtol=None, collapse=None, show_dtype=True,
               title=None, graph_attr=None):
    """Draw the part of `tape` that computes `target` as a `graphviz.Digraph`.

    Parameters
    ----------
    tape : GradientTape
        The tape that recorded the computation. It must still hold its records: draw before a
        non-persistent tape's one `gradient` call, or record with ``persistent=True``.
    target : Tensor
        The tensor to draw (usually the loss). Only records it depends on are drawn.
    params : dict name -> Tensor or array, optional
        Names for parameters (matched by identity), e.g. ``{"W1": W1, "b1": b1}`` or a model's
        ``params`` dict when it holds the very arrays the tape saw. Leaves named here are drawn
        as parameters, as every `Variable` is anyway (labelled with its ``name`` unless
        `params` names it).
    inputs : dict name -> Tensor or array, optional
        Names for data leaves (drawn as data, not as parameters), e.g. ``{"X": X}``. A Tensor's
        own ``name`` is used when neither dict names it; other leaves are labelled "constant"
        (a Tensor) or "array" (a NumPy array).
    show_values : bool
        Add a one-line summary of each node's forward value: ``min / mean / max``, or the value
        itself when it has at most 3 entries.
    show_grads : bool
        Add the same summary of the gradient of `target` with respect to each node (for a
        non-scalar target, of its sum). Needs ``GradientTape(persistent=True)``: the gradients of
        every node are asked for in one backward sweep, which a non-persistent tape would spend.
    rankdir : "LR", "TB", "RL" or "BT"
        Direction of the data flow on the page (Graphviz's ``rankdir``). "TB" reads best for
        deep networks (a 20-layer MLP is one straight column with its parameters beside it).
    hand_derived : dict, optional
        Gradient disagreement view. Maps a tensor, or a name, to a hand-derived gradient of
        `target` with respect to it. Names are matched against the names given in `params` and
        `inputs` and against ``Tensor.name`` of every drawn tensor (``"W1"``, ``"scores"``,
        ``"hidden_pre"``: set ``t.name = "scores"`` on an intermediate to make it findable).
        Each such node is coloured green when the hand-derived gradient agrees with autodiff
        (relative error ``max |a - b| / max(1e-8, |a| + |b|)`` at most `rtol`) and red when it
        does not; nodes without a hand-derived gradient keep their usual colours. The red
        node(s) nearest the target (no red node downstream of them) are where the hand
        derivation first goes wrong: they get a thick border and "first wrong step". Needs a
        persistent tape, as `show_grads` does.
    rtol : float, optional
        Agreement threshold for `hand_derived`. Default: 1e-6 when both gradients are float64,
        1e-3 otherwise (float32 round-off).
    collapse : dict name -> (inputs, output), optional
        Draw named sub-expressions as one box each, e.g.
        ``collapse={"softmax loss": (scores, data_loss)}``. `inputs` is a tensor or a list of
        tensors where the sub-expression starts; every record on a path from them to `output`
        (and any other record `output` depends on that is not upstream of an input) becomes
        part of the box, which is labelled with the name and `output`'s shape. Scalar
        constants used only inside disappear with it; tensor leaves (parameters, data) stay
        visible with arrows into the box.
    show_dtype : bool
        Include the dtype after each shape.
    title : str, optional
        A caption under the graph.
    graph_attr : dict, optional
        Extra Graphviz graph attributes (override the defaults), e.g. ``{"dpi": "150"}``.

    Returns
    -------
    graphviz.Digraph
        Render it with `render` (or display it in a notebook). The number of edges is the
        number of inputs of the drawn records (an op that uses a tensor twice, like ``W * W``,
        gets two arrows), less those hidden inside collapsed boxes.
    """
    if not isinstance(tape, GradientTape):
        raise TypeError(f"draw_graph: tape must be the GradientTape that recorded target, got "
                        f"{type(tape).__name__}")
    records = tape.records
    if not isinstance(target, (Tensor, np.ndarray)):
        raise TypeError(f"draw_graph: target must be a Tensor, got {type(target).__name__}")
    if not records and getattr(tape, "_used", False):
        raise RuntimeError(
            "draw_graph: this tape has no records left: a non-persistent GradientTape releases "
            "them when its one gradient() call is answered. Call viz.draw_graph(tape, target) "
            "before tape.gradient(...), or record with tflc.GradientTape(persistent=True).")
    if rankdir not in ("LR", "TB", "RL", "BT"):
        raise ValueError(f"draw_graph: rankdir must be 'LR', 'TB', 'RL' or 'BT', got {rankdir!r}")

    producer = {id(r.output): r for r in records}
    if id(target) not in producer and not _is_leaf_of(records, target):
        raise ValueError(
            "draw_graph: target was not recorded on this tape (was it computed outside the tape's "
            "`with` block, or only from constants the tape does not watch?)")

    drawn = _records_reaching(records, producer, target)  # execution order
    leaves = _leaves(drawn, producer, target)              # id -> tensor/array, first-use order
    tensors = {id(r.output): r.output for r in drawn}
    tensors.update(leaves)

    names = _names(params, inputs, tensors)
    needs_grads = show_grads or bool(hand_derived)
    grads = _gradients(tape, target, tensors) if needs_grads else {}
    checks = _checks(hand_derived, tensors, names, grads, rtol) if hand_derived else {}
    groups, group_of = _groups(collapse, drawn, producer)

    # Where each tensor is drawn: its own node, or the collapsed box that hides it.
    node_of = {}
    for k, r in enumerate(drawn):
        node_of[id(r.output)] = f"group{group_of[id(r)]}" if id(r) in group_of else f"op{k}"
    for j, key in enumerate(leaves):
        node_of[key] = f"leaf{j}"

    first_wrong = _first_wrong(drawn, checks, node_of)

    attrs = {"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "10", "nodesep": "0.22",
             "ranksep": "0.32", "bgcolor": "white", "pad": "0.15", "margin": "0"}
    if len(drawn) > 40:  # long chains: keep them tight
        attrs.update(nodesep="0.15", ranksep="0.25")
    caption = [title] if title else []
    if checks:
        tol = ", ".join(sorted({f"{c['rtol']:.0e}" for c in checks.values()}))
        caption.append(f"gradient check: green = hand-derived agrees with autodiff, red = "
                       f"disagrees (relative error > {tol}); thick red = first wrong step")
    if caption:
        attrs.update(label=_esc_string("\n".join(caption)), labelloc="b", labeljust="l")
    attrs.update(graph_attr or {})
    graph = graphviz.Digraph(name="tape", graph_attr=attrs,
                             node_attr={"fontname": "Helvetica", "fontsize": "10",
                                        "margin": "0.08,0.03", "height": "0.3"},
                             edge_attr={"color": "#6b7684", "arrowsize": "0.6", "penwidth": "0.9"})

    opts = dict(show_values=show_values, show_grads=show_grads, show_dtype=show_dtype)
    emitted = set()

    def emit_leaf(key):
        if key in emitted:
            return
        emitted.add(key)
        x = leaves[key]
        kind = "param" if isinstance(x, Variable) or key in names.by_param else "data"
        name = names.of(key) or ("array" if isinstance(x, np.ndarray) else "constant")
        lines = [_title(name)]
        lines.append(_shape_line(x, opts))
        _add_summaries(lines, key, x, grads, opts)
        _node(graph, node_of[key], kind, lines, checks.get(key), key in first_wrong,
              tooltip=_leaf_tooltip(name, x), is_target=x is target)

    for k, r in enumerate(drawn):
        for x in r.inputs:
            if isinstance(x, (Tensor, np.ndarray)) and id(x) in leaves:
                emit_leaf(id(x))
        if id(r) in group_of:
            continue
        out = r.output
        lines = [_title(r.op.name, _format_params(r.op, r.params))]
        lines.append(_shape_line(out, opts, names.of(id(out))))
        _add_summaries(lines, id(out), out, grads, opts)
        _node(graph, f"op{k}", "op", lines, checks.get(id(out)), id(out) in first_wrong,
              tooltip=_op_tooltip(r, names.of(id(out))), is_target=out is target)
    if not drawn:  # the target is a leaf itself
        emit_leaf(id(target))

    for g, group in enumerate(groups):
        out = group["output"]
        inner = [checks[id(r.output)] for r in group["records"] if id(r.output) in checks]
        check = _merge_checks(inner) if inner else None
        lines = [_title(group["name"])]
        ops = ", ".join(dict.fromkeys(r.op.name for r in group["records"]))
        lines.append(_small(f"{len(group['records'])} ops", _GREY))
        lines.append(_shape_line(out, opts, names.of(id(out))))
        _add_summaries(lines, id(out), out, grads, opts)
        wrong = any(id(r.output) in first_wrong for r in group["records"])
        _node(graph, f"group{g}", "group", lines, check, wrong,
              tooltip=f"{group['name']}: {len(group['records'])} ops ({ops}) -> {_shape(out)}",
              is_target=out is target)

    # Edges, in data-flow direction: one per input of each drawn record.
    seen_into_group = set()
    for k, r in enumerate(drawn):
        head = node_of[id(r.output)]
        for pos, x in enumerate(r.inputs):
            if isinstance(x, (Tensor, np.ndarray)):
                tail = node_of[id(x)]
                if tail == head:
                    continue  # inside a collapsed box
                if id(r) in group_of:
                    if (tail, head) in seen_into_group:
                        continue  # one arrow per tensor entering a box
                    seen_into_group.add((tail, head))
                # op -> op arrows pull harder: the main chain runs straight, leaves hang aside
                graph.edge(tail, head, **({} if id(x) in leaves else {"weight": "2"}))
            elif id(r) not in group_of:  # a scalar constant: its own small node per use
                const = f"const{k}_{pos}"
                graph.node(const, label=_esc_string(_scalar_text(x)),
                           tooltip=_esc_string(f"constant {x!r}"), **_STYLE["scalar"],
                           **{"class": "scalar"})
                graph.edge(const, head)
    return graph


def _is_leaf_of(records, target):
    return any(x is target for r in records for x in r.inputs)


def _records_reaching(records, producer, target):
    """The records `target` depends on, in execution order (walk back by identity)."""
    needed, stack = set(), [target]
    while stack:
        x = stack.pop()
        r = producer.get(id(x))
        if r is None or id(r) in needed:
            continue
        needed.add(id(r))
        stack.extend(i for i in r.inputs if isinstance(i, (Tensor, np.ndarray)))
    return [r for r in records if id(r) in needed]


def _leaves(drawn, producer, target):
    leaves = {}
    for r in drawn:
        for x in r.inputs:
            if isinstance(x, (Tensor, np.ndarray)) and id(x) not in producer:
                leaves.setdefault(id(x), x)
    if not drawn:
        leaves[id(target)] = target
    return leaves


class _Names:
    """Names of drawn tensors: from `params`, from `inputs`, and their own `Tensor.name`."""

    def __init__(self, by_param, by_input, by_tensor):
        self.by_param, self.by_input, self.by_tensor = by_param, by_input, by_tensor

    def of(self, key):
        return self.by_param.get(key) or self.by_input.get(key) or self.by_tensor.get(key)

    def all_of(self, key):
        return {d[key] for d in (self.by_param, self.by_input, self.by_tensor) if key in d}


def _names(params, inputs, tensors):
    found = []
    for what, given in (("params", params), ("inputs", inputs)):
        by_id = {}
        if given is not None:
            if not isinstance(given, dict):
                raise TypeError(f"draw_graph: {what} must be a dict mapping names to tensors "
                                "or arrays")
            for name, x in given.items():
                by_id.setdefault(id(x), str(name))
        found.append(by_id)
    by_tensor = {key: x.name for key, x in tensors.items()
                 if isinstance(x, Tensor) and x.name}
    return _Names(*found, by_tensor)


def _gradients(tape, target, tensors):
    """d target / d node for every drawn node, in one backward sweep (raw arrays or None)."""
    if not getattr(tape, "persistent", False):
        raise ValueError(
            "draw_graph: show_grads and hand_derived need gradients with respect to every node, "
            "and a non-persistent GradientTape answers only one gradient() call, which drawing "
            "would use up. Record with tflc.GradientTape(persistent=True).")
    keys = [key for key, x in tensors.items() if x.dtype.kind in "fc"]
    with contextlib.ExitStack() as stack:
        with contextlib.suppress(ValueError):  # still recording: keep the VJPs off this tape
            stack.enter_context(tape.stop_recording())
        result = tape.gradient(target, [tensors[key] for key in keys])
    return {key: None if g is None else np.asarray(g) for key, g in zip(keys, result)}


def _checks(hand_derived, tensors, names, grads, rtol):
    """id -> {rel, ok, rtol, note} for every node given a hand-derived gradient."""
    if not isinstance(hand_derived, dict):
        raise TypeError("draw_graph: hand_derived must be a dict mapping tensors or names to arrays")
    by_name = {}
    for key in tensors:
        for name in names.all_of(key):
            by_name.setdefault(name, []).append(key)
    checks = {}
    for ref, hand in hand_derived.items():
        if isinstance(ref, str):
            keys = by_name.get(ref, [])
            if not keys:
                known = ", ".join(sorted(by_name)) or "none"
                raise ValueError(f"draw_graph: hand_derived names {ref!r}, but no drawn tensor has "
                                 f"that name (names in the graph: {known}); name an intermediate "
                                 "with `t.name = ...` or pass it in params= or inputs=")
            if len(keys) > 1:
                raise ValueError(f"draw_graph: hand_derived name {ref!r} is ambiguous: "
                                 f"{len(keys)} drawn tensors have it; pass the tensor itself")
            key = keys[0]
        elif isinstance(ref, (Tensor, np.ndarray)):
            key = id(ref)
            if key not in tensors:
                raise ValueError("draw_graph: a hand_derived tensor is not part of the drawn graph")
        else:
            raise TypeError(f"draw_graph: hand_derived keys are names or tensors, "
                            f"got {type(ref).__name__}")
        x = tensors[key]
        auto = grads.get(key)
        if auto is None:
            auto = np.zeros(np.shape(x))
        hand = np.asarray(hand)
        tol = rtol
        if tol is None:
            tol = 1e-6 if auto.dtype == np.float64 and hand.dtype == np.float64 else 1e-3
        if hand.shape != auto.shape:
            checks[key] = dict(rel=float("inf"), ok=False, rtol=tol,
                               note=f"shape {hand.shape} != {auto.shape}")
        else:
            rel = rel_error(hand, auto)
            checks[key] = dict(rel=rel, ok=rel <= tol, rtol=tol, note=f"rel err {rel:.1e}")
    return checks


def _merge_checks(checks):
    worst = max(checks, key=lambda c: c["rel"])
    return dict(worst, ok=all(c["ok"] for c in checks))


def _first_wrong(drawn, checks, node_of):
    """Disagreeing nodes with no disagreeing node downstream: where the derivation goes wrong."""
    bad = {key for key, c in checks.items() if not c["ok"]}
    if not bad:
        return set()
    bad_below = {}  # id -> a disagreeing node lies downstream of it (towards the target)
    for r in reversed(drawn):
        out = id(r.output)
        flag = out in bad or bad_below.get(out, False)
        for x in r.inputs:
            if isinstance(x, (Tensor, np.ndarray)) and flag:
                if node_of.get(id(x)) != node_of.get(out):  # not within the same collapsed box
                    bad_below[id(x)] = True
    return {key for key in bad if not bad_below.get(key, False)}


def _groups(collapse, drawn, producer):
    """Resolve `collapse` into [{name, output, records}] and record id -> group index."""
    if not collapse:
        return [], {}
    if not isinstance(collapse, dict):
        raise TypeError("draw_graph: collapse must be a dict name -> (inputs, output)")
    in_graph = {id(r) for r in drawn}
    groups, group_of = [], {}
    for name, spec in collapse.items():
        try:
            inputs, output = spec
        except (TypeError, ValueError):
            raise TypeError(f"draw_graph: collapse[{name!r}] must be an (inputs, output) pair") from None
        inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        stops = {id(x) for x in inputs}
        r_out = producer.get(id(output))
        if r_out is None or id(r_out) not in in_graph:
            raise ValueError(f"draw_graph: collapse[{name!r}]: the output is not an op result "
                             "in the drawn graph")
        members, reached, stack = set(), set(), [output]
        while stack:
            x = stack.pop()
            if id(x) in stops:
                reached.add(id(x))
                continue
            r = producer.get(id(x))
            if r is None or id(r) in members:
                continue
            members.add(id(r))
            stack.extend(i for i in r.inputs if isinstance(i, (Tensor, np.ndarray)))
        missing = stops - reached
        if missing:
            raise ValueError(f"draw_graph: collapse[{name!r}]: {len(missing)} of the inputs are not "
                             "upstream of the output")
        index = len(groups)
        for rid in members:
            if rid in group_of:
                other = groups[group_of[rid]]["name"]
                raise ValueError(f"draw_graph: collapse groups {other!r} and {name!r} overlap")
            group_of[rid] = index
        groups.append(dict(name=str(name), output=output,
                           records=[r for r in drawn if id(r) in members]))
    return groups, group_of


# --- labels --------------------------------------------------------------------------------------
def _esc(text):
    return html.escape(str(text), quote=False)


def _esc_string(text):
    """Text for a Graphviz escString attribute (tooltips): newlines as \\n, one DOT line."""
    return str(text).replace("\\", "\\\\").replace("\n", "\\n")


def _title(name, params=""):
    text = f"<B>{_esc(name)}</B>"
    if params:
        text += f' <FONT POINT-SIZE="9">{_esc(params)}</FONT>'
    return text


def _small(text, colour):
    return f'<FONT POINT-SIZE="8.5" COLOR="{colour}">{_esc(text)}</FONT>'


def _shape(x):
    return str(tuple(np.shape(x)))


def _shape_line(x, opts, name=None):
    text = _shape(x)
    if opts["show_dtype"]:
        text += f" {x.dtype}" if hasattr(x, "dtype") else ""
    line = _small(text, _GREY)
    if name:
        line = f'<FONT POINT-SIZE="9.5"><I>{_esc(name)}</I></FONT> ' + line
    return line


def _num(v):
    return f"{v:.3g}"


def _summary(a):
    a = np.asarray(a)
    if a.dtype.kind == "c":
        a = np.abs(a)
    if a.size == 0:
        return "empty"
    if a.size <= 3:
        return "[" + ", ".join(_num(v) for v in a.ravel()) + "]" if a.ndim else _num(a.item())
    return f"min {_num(a.min())}  mean {_num(a.mean())}  max {_num(a.max())}"


def _add_summaries(lines, key, x, grads, opts):
    if opts["show_values"]:
        lines.append(_small("value " + _summary(x), _VALUE_COLOUR))
    if opts["show_grads"]:
        g = grads.get(key)
        lines.append(_small("grad " + ("none" if g is None else _summary(g)), _GRAD_COLOUR))


def _scalar_text(x):
    return f"{x:.4g}" if isinstance(x, Number) and not isinstance(x, bool) else repr(x)


def _node(graph, node_id, kind, lines, check, first_wrong, tooltip, is_target):
    style = dict(_STYLE[kind])
    classes = [kind]
    if is_target:
        style["peripheries"] = "2"
        classes.append("target")
    if check is not None:
        ok = check["ok"]
        style.update(_AGREE if ok else _FIRST_DISAGREE if first_wrong else _DISAGREE)
        if "filled" not in style.get("style", ""):
            style["style"] = "filled"
        classes.append("agree" if ok else "disagree")
        if not ok and first_wrong:
            classes.append("first-disagree")
        text = ("hand = auto, " if ok else "hand != auto, ") + check["note"]
        lines = lines + [f'<FONT POINT-SIZE="9" COLOR="{_OK_COLOUR if ok else _BAD_COLOUR}">'
                         f'{"" if ok else "<B>"}{_esc(text)}{"" if ok else "</B>"}</FONT>']
        if not ok and first_wrong:
            lines.append(f'<FONT POINT-SIZE="9" COLOR="{_BAD_COLOUR}"><B>first wrong step</B></FONT>')
        tooltip += f"\nhand-derived vs autodiff: {check['note']} (threshold {check['rtol']:.0e})"
    graph.node(node_id, label="<" + "<BR/>".join(lines) + ">", tooltip=_esc_string(tooltip),
               **style, **{"class": " ".join(classes)})


def _format_params(op, params):
    """A short text for an op's parameters: the op's own `label` (its declaration says how,
    `axis=1, keepdims`), else their reprs, cut short."""
    if not params:
        return ""
    label = getattr(op, "label", None)
    if label is not None:
        return label(*params)
    text = ", ".join(repr(p) for p in params)
    return text if len(text) <= 24 else text[:21] + "..."


def _op_tooltip(record, name):
    text = record.op.name + (_short_repr(tuple(record.params)) if record.params else "")
    text += f"\noutput: {name + ' ' if name else ''}{_shape(record.output)} {record.output.dtype}"
    if record.where:
        text += f"\nrecorded at {record.where}"
    return text


def _leaf_tooltip(name, x):
    kind = "Variable" if isinstance(x, Variable) else type(x).__name__
    return f"{name}: {kind} {_shape(x)} {np.asarray(x).dtype}"


def _short_repr(p):
    if isinstance(p, tuple):
        return "(" + ", ".join(_short_repr(q) for q in p) + ")"
    if isinstance(p, np.ndarray):
        return np.array2string(p, threshold=6, separator=",") if p.size <= 6 else \
            f"array{p.shape} {p.dtype}"
    return repr(p)


# --- render --------------------------------------------------------------------------------------
def render(graph, path, *, dpi=None, timeout=None):
    """Write `graph` (from `draw_graph`, or any graphviz graph) to `path`; return the Path.

    The format follows the suffix: ``.svg``, ``.png``, ``.pdf`` (drawn by Graphviz's `dot`
    program), or ``.dot`` / ``.gv`` (the DOT source as text: needs no Graphviz program).
    Missing folders are created. `dpi` (a number > 0) sets the resolution of a PNG (Graphviz's
    default is 96). `dot` is stopped after `timeout` seconds (default `DOT_TIMEOUT`, 60).

    Raises `GraphvizNotFoundError` (a `GraphvizError` whose message says how to install
    Graphviz) when `dot` is needed and not installed, `GraphvizError` when it fails or runs
    out of time, and ValueError for an unknown suffix or a bad `dpi`. The file is written
    atomically: it appears complete or not at all, and no intermediate files are left behind.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in RENDER_FORMATS:
        valid = ", ".join(RENDER_FORMATS)
        raise ValueError(f"render: cannot tell the format from {path.name!r}; "
                         f"use one of the suffixes {valid}")
    fmt = RENDER_FORMATS[suffix]
    if dpi is not None:
        if isinstance(dpi, bool) or not isinstance(dpi, Real) or not (math.isfinite(dpi) and dpi > 0):
            raise ValueError(f"render: dpi must be a number > 0, got {dpi!r}")
        graph = graph.copy()
        graph.graph_attr["dpi"] = str(dpi)
    source = graph.source.encode(graph.encoding or "utf-8")
    if fmt is None:
        return atomic_write(path, lambda f: f.write(source))
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(_not_found_message(suffix))
    timeout = DOT_TIMEOUT if timeout is None else timeout
    try:
        done = subprocess.run([dot, f"-K{graph.engine}", f"-T{fmt}"], input=source,
                              capture_output=True, timeout=timeout)
    except FileNotFoundError:  # gone between the check and the call
        raise GraphvizNotFoundError(_not_found_message(suffix)) from None
    except subprocess.TimeoutExpired:
        raise GraphvizError(f"render: Graphviz's dot did not finish drawing {path.name} within "
                            f"{timeout:g} s; stopped it") from None
    except OSError as error:  # e.g. not executable
        raise GraphvizError(f"render: cannot run Graphviz's dot ({dot}): {error}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode(errors="replace").strip()
        raise GraphvizError(f"render: Graphviz's dot failed to draw {path.name}: "
                            f"{stderr or f'exit status {done.returncode}'}")
    return atomic_write(path, lambda f: f.write(done.stdout))


def _not_found_message(suffix):
    return (f"render: writing {suffix} files needs Graphviz's `dot` program, which was not found "
            f"on PATH.\n{INSTALL_HINT}")
