// viz.explore's page: draws the graph from the inline JSON and steps through it.
// Forward steps first (one per op), then backward steps (one per VJP, the sweep's order). A node
// shows a gradient only from the first step that gives it one; an op shows its value only from
// its forward step. No network: everything is in this file.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("explorer-data").textContent);
  const steps = data.steps;
  const $ = (id) => document.getElementById(id);
  const nodes = {};
  data.nodes.forEach((n) => { nodes[n.id] = n; });
  const firstBackward = steps.findIndex((s) => s.kind === "backward");  // -1: none
  const seed = firstBackward >= 0 ? steps[firstBackward].seed : null;
  const forwardStep = {};  // op node -> its forward step
  const gradSteps = {};    // node -> the backward steps that add to its gradient, in order
  steps.forEach((s, i) => {
    if (s.kind === "forward") forwardStep[s.node] = i;
    else (gradSteps[s.to] = gradSteps[s.to] || []).push(i);
  });
  const forwardCount = Object.keys(forwardStep).length;
  let current = 0;

  function esc(text) {
    return String(text).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
  }
  function fmt(v) {
    if (v === null || v === undefined) return "nan";
    if (v === 0) return "0";
    const a = Math.abs(v);
    return a >= 1e4 || a < 1e-3 ? v.toExponential(2) : String(Number(v.toPrecision(4)));
  }
  function shapeText(shape) { return "(" + shape.join(", ") + (shape.length === 1 ? ",)" : ")"); }

  // The gradient a node has at step s ({view, step}), or null: none before the sweep reaches it.
  function gradAt(id, s) {
    if (firstBackward < 0 || s < firstBackward) return null;
    let found = seed && seed.node === id ? { view: seed.grad, step: firstBackward } : null;
    for (const i of gradSteps[id] || []) {
      if (i > s) break;
      found = { view: steps[i].grad, step: i };
    }
    return found;
  }
  function gradComplete(id, s) {
    const list = gradSteps[id];
    return list ? list[list.length - 1] <= s : gradAt(id, s) !== null;
  }
  function valueAt(id, s) {
    if (nodes[id].value) return nodes[id].value;  // a leaf: known from the start
    const f = forwardStep[id];
    return f !== undefined && f <= s ? steps[f].value : null;
  }

  // --- the graph, as SVG markup (no namespace URL needed inside HTML) ---------------------------
  function drawGraph() {
    const inputs = {};
    data.edges.forEach((e) => { inputs[e.to] = Math.max(inputs[e.to] || 0, e.input + 1); });
    const parts = [`<svg width="${data.width}" height="${data.height}" viewBox="0 0 ${data.width} ${data.height}">`,
      "<defs>",
      '<marker id="arrow" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" markerHeight="7" markerUnits="userSpaceOnUse" orient="auto"><path d="M0,0 L8,4 L0,8 z" fill="#9aa3af"/></marker>',
      "</defs>"];
    for (const e of data.edges) {
      const a = nodes[e.from], b = nodes[e.to];
      const spread = (e.input - (inputs[e.to] - 1) / 2) * Math.min(10, b.height / (inputs[e.to] + 1));
      const x1 = a.x + a.width / 2, y1 = a.y, x2 = b.x - b.width / 2, y2 = b.y + spread;
      const dx = Math.max(16, (x2 - x1) / 2);
      parts.push(`<path id="edge-${e.id}" class="edge" d="M${x1},${y1} C${x1 + dx},${y1} ${x2 - dx},${y2} ${x2},${y2}" marker-end="url(#arrow)"/>`);
    }
    for (const n of data.nodes) {
      const x = n.x - n.width / 2, y = n.y - n.height / 2;
      parts.push(`<g id="node-${n.id}" class="node ${n.kind}${n.target ? " target" : ""}" data-id="${n.id}">`,
        `<title>${esc(n.label + "\n" + n.sub)}</title>`,
        `<rect x="${x}" y="${y}" width="${n.width}" height="${n.height}" rx="5"/>`,
        `<text x="${n.x}" y="${n.y - 3}" text-anchor="middle">${esc(n.label)}</text>`,
        `<text class="sub" x="${n.x}" y="${n.y + 11}" text-anchor="middle">${esc(n.sub)}</text>`,
        `<text class="badge" x="${n.x}" y="${y + n.height + 11}" text-anchor="middle"></text>`,
        "</g>");
    }
    parts.push("</svg>");
    $("graph").innerHTML = parts.join("");
    $("graph").addEventListener("click", (event) => {
      const g = event.target.closest(".node");
      if (!g) return;
      const id = g.dataset.id, list = gradSteps[id];
      // in the forward pass, an op's own step; in the backward sweep, the node's last gradient step
      if (current >= firstBackward && firstBackward >= 0 && list) go(list[list.length - 1]);
      else if (forwardStep[id] !== undefined) go(forwardStep[id]);
    });
  }

  // --- arrays: numbers, a heat map, or a summary ------------------------------------------------
  function colour(v, m) {
    const t = m > 0 && v !== null ? Math.max(-1, Math.min(1, v / m)) : 0;
    const end = t < 0 ? [33, 102, 172] : [178, 24, 43], w = [247, 247, 247], k = Math.abs(t);
    return `rgb(${w.map((c, i) => Math.round(c + (end[i] - c) * k)).join(",")})`;
  }
  function arrayHtml(view, heats) {
    const summary = view.min === undefined ? "no finite entries" :
      `min ${fmt(view.min)} · mean ${fmt(view.mean)} · max ${fmt(view.max)}`;
    let html = `<div class="summary">${shapeText(view.shape)} ${esc(view.dtype)} — ${summary}</div><div class="array">`;
    if (view.values) {
      const rows = view.shape.length >= 2 ? view.shape[view.shape.length - 1] : view.values.length;
      const lines = [];
      for (let i = 0; i < view.values.length; i += rows) lines.push(view.values.slice(i, i + rows).map(fmt).join(", "));
      html += `<div class="numbers">[${lines.join(",<br>&nbsp;")}]</div>`;
    }
    if (view.heat) {
      const h = view.heat, scale = Math.max(3, Math.min(22, Math.floor(220 / Math.max(h.rows, h.cols))));
      heats.push(h);
      const m = Math.max(Math.abs(view.min || 0), Math.abs(view.max || 0));
      html += `<canvas class="heat" data-heat="${heats.length - 1}" width="${h.cols * scale}" height="${h.rows * scale}" title="${h.rows}×${h.cols}${h.downsampled ? " (block means)" : ""}"></canvas>` +
        `<div class="legend">${fmt(-m)} <span class="bar"></span> ${fmt(m)}${h.downsampled ? "<br>(averaged down to " + h.rows + "×" + h.cols + ")" : ""}</div>`;
    }
    return html + "</div>";
  }
  function drawHeats(root, heats) {
    root.querySelectorAll("canvas.heat").forEach((canvas) => {
      const h = heats[+canvas.dataset.heat], ctx = canvas.getContext("2d");
      const sx = canvas.width / h.cols, sy = canvas.height / h.rows;
      const m = h.data.reduce((a, v) => Math.max(a, Math.abs(v || 0)), 0);
      h.data.forEach((v, i) => {
        ctx.fillStyle = colour(v, m);
        ctx.fillRect((i % h.cols) * sx, Math.floor(i / h.cols) * sy, sx, sy);
      });
    });
  }

  // --- one step ---------------------------------------------------------------------------------
  function renderGraph(s) {
    const step = steps[s];
    for (const n of data.nodes) {
      const g = $("node-" + n.id), grad = gradAt(n.id, s);
      g.classList.toggle("current", step.node === n.id);
      g.classList.toggle("receiving", step.kind === "backward" && step.to === n.id);
      g.classList.toggle("pending", forwardStep[n.id] !== undefined && forwardStep[n.id] > s);
      g.querySelector(".badge").textContent = grad ?
        "∇ " + (grad.view.values && grad.view.values.length === 1 ? fmt(grad.view.values[0]) :
          `${fmt(grad.view.min)} … ${fmt(grad.view.max)}`) : "";
      const checked = n.check && grad && gradComplete(n.id, s);
      g.classList.toggle("agree", Boolean(checked && n.check.ok));
      g.classList.toggle("disagree", Boolean(checked && !n.check.ok));
      g.classList.toggle("first-disagree", Boolean(checked && n.check.first_wrong));
    }
    document.querySelectorAll(".edge.current").forEach((e) => e.classList.remove("current"));
    step.edges.forEach((id) => $("edge-" + id).classList.add("current"));
    const n = nodes[step.node], box = $("graph");
    if (n.x < box.scrollLeft + 40 || n.x > box.scrollLeft + box.clientWidth - 40) box.scrollLeft = n.x - box.clientWidth / 2;
    if (n.y < box.scrollTop + 20 || n.y > box.scrollTop + box.clientHeight - 20) box.scrollTop = n.y - box.clientHeight / 2;
  }

  function renderPanel(s) {
    const step = steps[s], heats = [];
    const out = nodes[step.node];
    if (step.kind === "forward") {
      $("op-name").textContent = `Forward ${s + 1} of ${forwardCount}: ${step.op}`;
    } else {
      const to = nodes[step.to];
      $("op-name").textContent = `Backward ${s - firstBackward + 1} of ${steps.length - firstBackward}: ` +
        `${step.op}'s VJP for its input ${step.input + 1} (${to.name}) — d${to.name}`;
    }
    $("rule").textContent = step.rule;
    $("shapes").innerHTML = "<tr><th>inputs</th><td>" +
      step.inputs.map((x) => `${esc(x.text)} <small>${esc(x.dtype)}</small>`).join("; ") +
      `</td></tr><tr><th>output</th><td>${esc(step.output.text)} <small>${esc(step.output.dtype)}</small></td></tr>`;
    let value, grad;
    if (step.kind === "forward") {
      value = `<h3>value of ${esc(out.name)}</h3>` + arrayHtml(step.value, heats);
      grad = '<h3>gradient</h3><p class="none">not computed yet: the backward sweep starts at step ' +
        (firstBackward >= 0 ? firstBackward + 1 : "—") + "</p>";
    } else {
      const to = nodes[step.to], g = gradAt(step.node, s), x = valueAt(step.to, s);
      value = `<h3>g: the gradient reaching ${esc(out.name)}</h3>` +
        (g ? arrayHtml(g.view, heats) : '<p class="none">none</p>') +
        (x ? `<h3>value of ${esc(to.name)}</h3>` + arrayHtml(x, heats) : "");
      grad = `<h3>d${esc(to.name)} ${step.complete ? "(complete" : "(so far"}: ${step.contributions} ` +
        `contribution${step.contributions > 1 ? "s" : ""})</h3>` + arrayHtml(step.grad, heats) +
        (step.contribution ? "<h3>this VJP's contribution</h3>" + arrayHtml(step.contribution, heats) : "");
      if (to.check && step.complete) {  // the gradient debugger's verdict on this gradient
        grad += `<p class="verdict ${to.check.ok ? "ok" : "bad"}">hand-derived d${esc(to.name)} ` +
          `${to.check.ok ? "agrees with" : "disagrees with"} autodiff (${esc(to.check.note)}, threshold ` +
          `${fmt(to.check.rtol)})${to.check.first_wrong ? ": the first wrong step" : ""}</p>`;
      }
    }
    $("value").innerHTML = value;
    $("grad").innerHTML = grad;
    drawHeats($("panel"), heats);
  }

  function go(s) {
    if (!steps.length) return;
    current = Math.max(0, Math.min(steps.length - 1, s));
    renderGraph(current);
    renderPanel(current);
    $("slider").value = String(current);
    const step = steps[current];
    $("step-label").textContent = `step ${current + 1} / ${steps.length} · ${step.kind}`;
    $("first").disabled = $("back").disabled = current === 0;
    $("forward").disabled = $("last").disabled = current === steps.length - 1;
  }

  function firstWrong() {  // (the page says which; this adds a button that goes there)
    const w = data.first_wrong[0];
    if (!w || w.step === null || w.step === undefined) return;
    const button = document.createElement("button");
    button.textContent = "go there";
    button.addEventListener("click", () => go(w.step));
    $("first-wrong").appendChild(button);
  }

  function legend() {
    const keys = [["op", "var(--op)"], ["parameter", "var(--param)"], ["data", "var(--data)"],
      ["constant", "var(--constant)"], ["current step", "var(--current)"], ["gets the gradient", "var(--receiving)"]];
    if (data.checked) keys.push(["hand = autodiff", "var(--agree)"], ["hand ≠ autodiff", "var(--disagree)"]);
    $("legend").innerHTML = keys.map(([k, c]) => `<span style="background:${c}"></span>${k}`).join("") +
      " · keys: ← → step, Home / End · ∇: the gradient so far · click a node to jump to it";
  }

  drawGraph();
  firstWrong();
  legend();
  $("first").addEventListener("click", () => go(0));
  $("back").addEventListener("click", () => go(current - 1));
  $("forward").addEventListener("click", () => go(current + 1));
  $("last").addEventListener("click", () => go(steps.length - 1));
  $("slider").addEventListener("input", (event) => go(+event.target.value));
  document.addEventListener("keydown", (event) => {
    if (event.target === $("slider")) return;  // the slider steps itself (its input event)
    const to = { ArrowRight: current + 1, ArrowLeft: current - 1, Home: 0, End: steps.length - 1 }[event.key];
    if (to === undefined) return;
    event.preventDefault();
    go(to);
  });
  window.explorer = { go: go, current: () => current, steps: steps.length };
  go(0);
})();
