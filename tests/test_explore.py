"""viz.explore (the step-through page) and `tflc explore`: the page is self-contained, its steps
are the forward ops then one per VJP, no gradient shows before the sweep reaches a node, the
gradients it shows are the tape's, the rules carry the shapes, and the debugger names the first
wrong step. The page in a real browser: test_browser_explore.py."""
import html
import json
import re
from pathlib import Path

import numpy as np
import pytest

import tensorflowlite_clone as tflc
import viz
import viz.layout
from models.two_layer_net import manual_loss
from tensorflowlite_clone.app.cli import main
from tensorflowlite_clone.primitive import Primitive
from viz.explore import HEAT_CELLS, SMALL, view

N, D, H, C, REG = 5, 6, 8, 3, 0.05


def embedded(page):
    """The JSON the page embeds."""
    found = re.search(r'<script type="application/json" id="explorer-data">(.*?)</script>', page, re.S)
    return json.loads(found.group(1))


def two_layer(persistent=True):
    """The seed's two-layer net's loss on a tape, with its inputs."""
    rng = np.random.default_rng(1)
    X, y = rng.standard_normal((N, D)), rng.integers(0, C, N)
    params = {"W1": rng.standard_normal((D, H)) * 0.5, "b1": rng.standard_normal(H) * 0.1,
              "W2": rng.standard_normal((H, C)) * 0.5, "b2": rng.standard_normal(C) * 0.1}
    V = {k: tflc.Variable(v, name=k) for k, v in params.items()}
    with tflc.GradientTape(persistent=persistent) as tape:
        hidden_pre = X @ V["W1"] + V["b1"]
        hidden_pre.name = "hidden_pre"
        scores = tflc.relu(hidden_pre) @ V["W2"] + V["b2"]
        scores.name = "scores"
        shifted = scores - tflc.stop_gradient(tflc.max(scores, axis=1, keepdims=True))
        log_probs = shifted - tflc.log(tflc.sum(tflc.exp(shifted), axis=1, keepdims=True))
        loss = -tflc.mean(log_probs[np.arange(N), y]) + REG * (tflc.sum(V["W1"] * V["W1"])
                                                               + tflc.sum(V["W2"] * V["W2"]))
    return tape, loss, X, y, params, V


@pytest.fixture(scope="module")
def problem():
    return two_layer()


@pytest.fixture(scope="module")
def page(problem):
    tape, loss, X, y, params, V = problem
    return viz.explore(tape, loss, inputs={"X": X, "y": y}, layout="layered")


def test_page_is_self_contained(page):
    text = page.html
    assert text.startswith("<!DOCTYPE html>")
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", text, re.I)
    assert "http://" not in text and "https://" not in text
    assert not re.search(r"<link\b", text, re.I) and not re.search(r"<script[^>]*\ssrc=", text, re.I)
    assert "@import" not in text and "url(http" not in text
    for name in ("explore.js", "explore.css"):  # inlined, as shipped beside the module
        assert (Path(viz.__file__).parent / name).read_text().strip()[:60] in text


def reaching(tape, target):
    """The records `target` depends on (the max under stop_gradient does not count)."""
    records, needed, todo = tape.records, set(), {id(target)}
    for r in reversed(records):
        if id(r.output) in todo:
            needed.add(id(r))
            todo.update(id(x) for x in r.inputs)
    return [r for r in records if id(r) in needed]


def vjp_count(tape, records):
    """The VJPs the tape's sweep runs: an input of a recorded op that is watched or computed
    on the tape (has a slot), of an op with a VJP for it."""
    slots = tape.program.slot_of
    return sum(1 for r in records for pos, x in enumerate(r.inputs)
               if id(x) in slots and r.op.vjps[pos] is not None)


def test_steps_forward_then_one_per_vjp(problem, page):
    tape, loss = problem[:2]
    records = reaching(tape, loss)
    assert len(records) == len(tape.records) - 1  # (the max)
    kinds = [s["kind"] for s in page.steps]
    forward = len(records)
    assert kinds == ["forward"] * forward + ["backward"] * vjp_count(tape, records)
    data = embedded(page.html)
    assert len(data["steps"]) == len(page.steps)
    ops = [r.op.name for r in records]
    assert [s["op"] for s in data["steps"][:forward]] == ops
    assert [s["op"] for s in data["steps"][forward:]][0] == ops[-1]  # the sweep starts at the end


def test_no_gradient_before_the_backward_steps(page):
    data = embedded(page.html)
    first = next(k for k, s in enumerate(data["steps"]) if s["kind"] == "backward")
    for step in data["steps"][:first]:
        assert not {"grad", "seed", "contribution"} & set(step), step
    for node in data["nodes"]:
        assert "grad" not in node
    assert "seed" in data["steps"][first]


def numbers(v):
    return np.array([np.nan if x is None else x for x in v], dtype=np.float64)


def test_gradients_are_the_tapes(problem, page):
    tape, loss, X, y, params, V = problem
    data = embedded(page.html)
    by_name = {n["name"]: n["id"] for n in data["nodes"]}
    tensors = dict(V, hidden_pre=None, scores=None)
    for r in tape.records:  # the named intermediates
        if r.output.name in tensors:
            tensors[r.output.name] = r.output
    expected = dict(zip(tensors, tape.gradient(loss, list(tensors.values()))))
    for name, grad in expected.items():
        grad = grad.numpy()
        steps = [s for s in data["steps"] if s["kind"] == "backward" and s["to"] == by_name[name]]
        shown = steps[-1]["grad"]
        assert steps[-1]["complete"] and not any(s["complete"] for s in steps[:-1])
        assert [s["contributions"] for s in steps] == list(range(1, len(steps) + 1))
        assert shown["shape"] == list(grad.shape)
        if grad.size <= SMALL:
            np.testing.assert_allclose(numbers(shown["values"]), grad.ravel(), rtol=1e-12)
        np.testing.assert_allclose([shown["min"], shown["mean"], shown["max"]],
                                   [grad.min(), grad.mean(), grad.max()], rtol=1e-12, atol=1e-15)
        if grad.ndim == 2:  # not averaged down at this size: the heat map is the array, to 4 digits
            heat = shown["heat"]
            assert (heat["rows"], heat["cols"]) == grad.shape and not heat["downsampled"]
            np.testing.assert_allclose(numbers(heat["data"]), grad.ravel(), rtol=1e-3)
    # W1 gets two contributions from W1 * W1 and one through the matmul
    w1 = [s for s in data["steps"] if s["kind"] == "backward" and s["to"] == by_name["W1"]]
    assert len(w1) == 3 and "contribution" in w1[1] and "contribution" not in w1[0]


def test_values_shown_from_the_forward_step(problem, page):
    tape, loss = problem[:2]
    for record, step in zip(reaching(tape, loss), page.steps):
        np.testing.assert_allclose(step["value"]["mean"], np.mean(record.output.numpy()))


def test_matmul_rules_carry_the_shapes(page):
    rules = {s["rule"] for s in page.steps if s["kind"] == "backward" and s["op"] == "matmul"}
    assert f"dW1 {(D, H)} = Xᵀ {(D, N)} · g {(N, H)}" in rules
    assert f"dW2 {(H, C)} = reluᵀ {(H, N)} · g {(N, C)}" in rules
    assert f"drelu {(N, H)} = g {(N, C)} · W2ᵀ {(C, H)}" in rules
    forward = [s["rule"] for s in page.steps if s["kind"] == "forward"]
    assert forward[0] == f"matmul₁ {(N, H)} = matmul(X {(N, D)}, W1 {(D, H)})"


def test_every_rule_names_its_vjps_arguments():
    import inspect
    seen = 0
    for module in (tflc, tflc.nn, *[getattr(tflc.ops, m) for m in ("elementwise", "linalg", "shape",
                                                                  "reductions", "math")]):
        for op in vars(module).values():
            if not isinstance(op, Primitive) or op.rule is None:
                continue
            for rule, vjp in zip(op.rule, op.vjps):
                if rule is None:
                    continue
                args = {n.lstrip("_") for n in inspect.signature(vjp).parameters}
                used = set(re.findall(r"\{(\w+)\}", rule))
                assert used <= args, (op.name, used - args)
                seen += 1
    assert seen >= 20


def test_rule_fallback_for_an_op_without_one():
    cube = Primitive("cube", lambda x: x ** 3, (lambda g, ans, x: g * 3 * x * x,))  # no rule
    x = tflc.Variable(np.array([1.0, 4.0, 9.0]), name="x")
    with tflc.GradientTape() as tape:
        y = cube(x)
    assert viz.explore(tape, y, layout="layered").steps[-1]["rule"] == \
        "dx (3,) = vjp_cube(g (3,), cube)"


def planted_bug(params, X, y):
    """The seed's hand derivation with the ReLU mask forgotten: hidden_pre's gradient is
    hidden's, and the error flows on to W1 and b1."""
    grads = manual_loss(params, X, y, REG, intermediates=True)[1]
    ds1 = grads["hidden_pre"] = grads["hidden"]
    grads["W1"] = X.T @ ds1 + 2 * REG * params["W1"]
    grads["b1"] = ds1.sum(axis=0)
    del grads["hidden"]  # (the tape has no tensor named so)
    return grads


def test_debugger_names_the_first_wrong_step(problem):
    tape, loss, X, y, params, V = problem
    assert (manual_loss(params, X, y)[0] > 0) and np.any(np.dot(X, params["W1"]) + params["b1"] < 0)
    page = viz.explore(tape, loss, inputs={"X": X}, hand_derived=planted_bug(params, X, y),
                       layout="layered")
    data = embedded(page.html)
    assert [(w["name"], w["op"]) for w in data["first_wrong"]] == [("hidden_pre", "add")]
    verdict = re.search(r'<div id="first-wrong"[^>]*>(.*?)</div>', page.html).group(1)
    assert "hidden_pre" in html.unescape(verdict) and "add" in verdict
    checks = {n["name"]: n["check"]["ok"] for n in data["nodes"] if "check" in n}
    assert checks == {"W1": False, "b1": False, "hidden_pre": False, "W2": True, "b2": True,
                      "scores": True}
    step = data["first_wrong"][0]["step"]
    assert data["steps"][step]["to"] == next(n["id"] for n in data["nodes"]
                                             if n["name"] == "hidden_pre")
    # the right derivation: all agree, nothing named
    right = manual_loss(params, X, y, REG, intermediates=True)[1]
    del right["hidden"]
    good = viz.explore(tape, loss, hand_derived=right, layout="layered")
    assert good.data["first_wrong"] == [] and "agree with autodiff" in good.html


def test_layered_without_dot(problem, monkeypatch):
    tape, loss = problem[:2]
    monkeypatch.setattr(viz.layout.shutil, "which", lambda name: None)
    assert embedded(viz.explore(tape, loss).html)["layout"] == "layered"
    with pytest.raises(viz.GraphvizNotFoundError):
        viz.explore(tape, loss, layout="dot")


def test_one_shot_tape():
    tape, loss, *_ , V = two_layer(persistent=False)
    viz.explore(tape, loss, layout="layered")
    assert tape.gradient(loss, V["W1"]) is not None  # exploring did not use it up
    with pytest.raises(RuntimeError, match="no records left"):
        viz.explore(tape, loss)


def test_bad_arguments(problem, page, tmp_path):
    tape, loss = problem[:2]
    with pytest.raises(ValueError, match="not recorded on this tape"):
        viz.explore(tape, tflc.Tensor(np.ones(2)) * 2)
    with pytest.raises(TypeError, match="GradientTape"):
        viz.explore(None, loss)
    with pytest.raises(ValueError, match="explore: hand_derived names 'nope'"):
        viz.explore(tape, loss, hand_derived={"nope": np.ones(3)})
    with pytest.raises(ValueError, match=r"\.html"):
        page.save(tmp_path / "page.svg")
    assert page.save(tmp_path / "sub" / "page.html").read_text(encoding="utf-8") == page.html


def test_repr_html_is_an_escaped_iframe(page):
    text = page._repr_html_()
    assert text.startswith("<iframe srcdoc=\"") and "<script" not in text
    assert html.unescape(re.search(r'srcdoc="(.*?)"', text, re.S).group(1)) == page.html


def test_view_of_arrays():
    small = view(np.arange(6.0).reshape(2, 3))
    assert small["values"] == [0, 1, 2, 3, 4, 5] and small["heat"]["rows"] == 2
    big = view(np.ones((96, 192)) * np.arange(192))  # 2 x 4 blocks
    assert "values" not in big and big["heat"]["downsampled"]
    assert big["heat"]["rows"] <= HEAT_CELLS and big["heat"]["cols"] <= HEAT_CELLS
    assert (big["heat"]["rows"], big["heat"]["cols"]) == (48, 48)
    assert big["heat"]["data"][:2] == [np.mean([0, 1, 2, 3]), np.mean([4, 5, 6, 7])]
    assert [big["min"], big["max"]] == [0, 191]
    line = view(np.arange(20.0))
    assert "values" not in line and "heat" not in line and line["mean"] == 9.5
    assert view(np.array([1.0, np.nan]))["values"] == [1.0, None]  # JSON has no NaN


# --- tflc explore ------------------------------------------------------------------------------
def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


@pytest.mark.parametrize("model", ["softmax", "two-layer", "conv-net"])
def test_cli_explore(capsys, tmp_path, model):
    out = tmp_path / "page.html"
    status, stdout, _ = run(capsys, "explore", "--model", model, "--check", "-o", out)
    assert status == 0 and str(out) in stdout
    data = embedded(out.read_text(encoding="utf-8"))
    assert data["checked"] and data["first_wrong"] == []
    assert any(s["kind"] == "backward" for s in data["steps"])


def test_cli_explore_bad_output(capsys, tmp_path):
    status, _, err = run(capsys, "explore", "-o", tmp_path / "page.svg")
    assert status == 2 and "use one of the suffixes .html" in err
    assert not (tmp_path / "page.svg").exists()
