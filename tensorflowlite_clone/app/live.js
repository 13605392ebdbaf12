// The live training page: polls /state and redraws. Everything is drawn from the latest
// snapshot, so a missed poll loses nothing; when a poll fails the server has gone (training
// ended), and the last curves stay on the page.
"use strict";
const POLL_MS = 500;
const MAX_POINTS = 2000;  // per line drawn: a long run's curve is thinned to every k-th value
const SVG = "http://www.w3.org/2000/svg";
const COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"];
let lastStatus = null;
// The curves that grow every iteration or probe come in pieces: the server sends them from
// where the page has them up to ("from"); the page keeps the whole curves.
const loss = [];
const norms = {iteration: [], params: {}};

function extend(list, from, values) {
  list.length = Math.min(list.length, from);
  for (const v of values) list.push(v);
}
let graphDrawn = null;  // the graph object last laid out (redrawn only when it changes)

function el(name, attrs, parent) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  if (parent) parent.appendChild(node);
  return node;
}

function text(parent, x, y, content, anchor) {
  const t = el("text", {x: x, y: y, "text-anchor": anchor || "start"}, parent);
  t.textContent = content;
  return t;
}

function fmt(v) {
  if (v === 0) return "0";
  const a = Math.abs(v);
  return a >= 1e4 || a < 1e-2 ? v.toExponential(1) : v.toPrecision(3);
}

// series: [{name, xs, ys, color}]; null (a NaN or inf loss) and, on a log axis, non-positive
// values are left out of the line.
function drawChart(svg, series, log) {
  svg.replaceChildren();
  const W = 420, H = 220, left = 48, right = 10, top = 10, bottom = 24;
  const f = log ? (v => Math.log10(v)) : (v => v);
  const ok = v => v !== null && Number.isFinite(v) && (!log || v > 0);
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const s of series) {
    s.xs.forEach((x, i) => {
      if (!ok(s.ys[i])) return;
      x0 = Math.min(x0, x); x1 = Math.max(x1, x);
      y0 = Math.min(y0, f(s.ys[i])); y1 = Math.max(y1, f(s.ys[i]));
    });
  }
  el("line", {class: "axis", x1: left, y1: H - bottom, x2: W - right, y2: H - bottom}, svg);
  el("line", {class: "axis", x1: left, y1: top, x2: left, y2: H - bottom}, svg);
  if (x0 === Infinity) { text(svg, W / 2, H / 2, "waiting for data", "middle"); return; }
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) { y0 -= 0.5; y1 += 0.5; }
  const px = x => left + (x - x0) / (x1 - x0) * (W - left - right);
  const py = y => H - bottom - (y - y0) / (y1 - y0) * (H - top - bottom);
  const label = y => fmt(log ? Math.pow(10, y) : y);
  text(svg, left - 4, top + 8, label(y1), "end");
  text(svg, left - 4, H - bottom, label(y0), "end");
  text(svg, left, H - 8, String(x0));
  text(svg, W - right, H - 8, "iteration " + x1, "end");
  for (const s of series) {
    const points = [];
    const step = Math.ceil(s.xs.length / MAX_POINTS);
    s.xs.forEach((x, i) => {
      if (ok(s.ys[i]) && (i % step === 0 || i === s.xs.length - 1)) {
        points.push(px(x).toFixed(1) + "," + py(f(s.ys[i])).toFixed(1));
      }
    });
    el("polyline", {points: points.join(" "), stroke: s.color, "data-series": s.name,
                    "data-points": points.length, "data-values": s.xs.length}, svg);
  }
}

function range(n) { return Array.from({length: n}, (_, i) => i); }

// The accuracies are recorded at checks, not every iteration: spread them over the run.
function checkIterations(count, iterations) {
  return range(count).map(i => count > 1 ? Math.round(i * iterations / (count - 1)) : 0);
}

function drawWeights(weights) {
  const canvas = document.getElementById("weights");
  const note = document.getElementById("weights-note");
  const ctx = canvas.getContext("2d");
  if (!weights) { note.textContent = "no image data"; return; }
  const {height, width, channels, images} = weights;
  const cols = Math.ceil(Math.sqrt(images.length * canvas.width / canvas.height));
  const scale = Math.max(1, Math.floor(Math.min(canvas.width / (cols * (width + 1)),
      canvas.height / (Math.ceil(images.length / cols) * (height + 1)))));
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  images.forEach((pixels, k) => {
    const img = ctx.createImageData(width, height);
    for (let p = 0; p < width * height; p++) {
      for (let c = 0; c < 3; c++) img.data[4 * p + c] = pixels[channels === 3 ? 3 * p + c : p];
      img.data[4 * p + 3] = 255;
    }
    // draw at 1:1 on a scratch canvas, then scale up without smoothing
    const tile = document.createElement("canvas");
    tile.width = width; tile.height = height;
    tile.getContext("2d").putImageData(img, 0, 0);
    ctx.imageSmoothingEnabled = false;
    ctx.drawImage(tile, (k % cols) * (width + 1) * scale, Math.floor(k / cols) * (height + 1) * scale,
                  width * scale, height * scale);
  });
  note.textContent = images.length + " filters of " + height + "×" + width +
      (channels === 3 ? "×3" : "") + ", each rescaled to its own range";
  canvas.dataset.images = images.length;
}

// Log-scaled colour from pale yellow (small |grad|) to dark red (the largest).
function heat(norm, lo, hi) {
  if (norm === null || norm === undefined) return "#eef1f5";
  const t = hi > lo ? (Math.log10(Math.max(norm, 1e-30)) - lo) / (hi - lo) : 1;
  const u = Math.min(1, Math.max(0, t));
  return "rgb(" + Math.round(255 - 60 * u) + "," + Math.round(240 - 200 * u) + "," +
      Math.round(180 - 160 * u) + ")";
}

function drawGraph(graph, grads) {
  const svg = document.getElementById("graph");
  if (!graph) return;
  if (graphDrawn !== JSON.stringify(graph)) {
    svg.replaceChildren();
    const defs = el("defs", {}, svg);
    const marker = el("marker", {id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5,
                                 markerWidth: 6, markerHeight: 6, orient: "auto"}, defs);
    el("path", {d: "M0,0 L10,5 L0,10 z", fill: "#9aa3ad"}, marker);
    const byId = {};
    for (const n of graph.nodes) byId[n.id] = n;
    svg.setAttribute("viewBox", "0 0 " + graph.width + " " + graph.height);
    svg.setAttribute("width", graph.width);
    svg.setAttribute("height", graph.height);
    for (const e of graph.edges) {  // x, y: the boxes' centres
      const a = byId[e.from], b = byId[e.to];
      if (!a || !b) continue;
      el("path", {class: "edge", d: "M" + (a.x + a.width / 2) + "," + a.y +
                  " L" + (b.x - b.width / 2) + "," + b.y}, svg);
    }
    for (const n of graph.nodes) {
      const g = el("g", {class: "node " + n.kind + (n.target ? " target" : ""), "data-id": n.id}, svg);
      el("rect", {x: n.x - n.width / 2, y: n.y - n.height / 2, width: n.width, height: n.height}, g);
      text(g, n.x, n.y - 3, n.label, "middle");
      text(g, n.x, n.y + 11, n.sub, "middle").classList.add("sub");
      const title = el("title", {}, g);
      title.textContent = n.label + "  " + n.sub;
    }
    graphDrawn = JSON.stringify(graph);
  }
  const graphNodes = Object.fromEntries(graph.nodes.map(n => [n.id, n]));
  const values = Object.values(grads || {}).filter(v => v !== null && v > 0).map(Math.log10);
  const lo = Math.min(...values), hi = Math.max(...values);
  for (const g of svg.querySelectorAll("g.node")) {
    const id = g.getAttribute("data-id");
    const norm = grads ? grads[id] : undefined;
    const rect = g.querySelector("rect");
    rect.setAttribute("fill", heat(norm, lo, hi));
    rect.setAttribute("stroke-width", norm ? 1 + 2 * Math.min(1, Math.max(0, (Math.log10(norm) - lo) / ((hi - lo) || 1))) : 1);
    g.setAttribute("data-grad", norm === undefined || norm === null ? "" : norm);
    const node = graphNodes[id];
    g.querySelector("title").textContent = node.label + "  " + node.sub +
        (norm === undefined ? "" : "  |grad| = " + (norm === null ? "not finite" : fmt(norm)));
  }
}

function render(state) {
  document.getElementById("title").textContent = state.title || "tflc train";
  const n = loss.length;
  drawChart(document.getElementById("loss-chart"),
            [{name: "loss", xs: range(n), ys: loss, color: COLORS[0]}], false);
  const checks = (state.train_acc || []).length;
  const at = (state.acc_iteration || []).length === checks ? state.acc_iteration
      : checkIterations(checks, Math.max(n - 1, 0));  // a history begun before the view
  drawChart(document.getElementById("acc-chart"),
            [{name: "train", xs: at, ys: state.train_acc || [], color: COLORS[0]},
             {name: "val", xs: at, ys: state.val_acc || [], color: COLORS[1]}], false);
  const names = Object.keys(norms.params);
  drawChart(document.getElementById("grad-chart"), names.map((name, i) => (
      {name: name, xs: norms.iteration, ys: norms.params[name], color: COLORS[i % COLORS.length]})), true);
  const legend = document.getElementById("grad-legend");
  legend.replaceChildren();
  names.forEach((name, i) => {
    const key = document.createElement("i");
    key.style.background = COLORS[i % COLORS.length];
    legend.appendChild(key);
    legend.appendChild(document.createTextNode(name));
  });
  if ("weights" in state) drawWeights(state.weights);
  drawGraph(state.graph, state.node_grads);
}

function showStatus(state) {
  const status = document.getElementById("status");
  const said = {running: "training — iteration " + (state.iteration + 1),
                starting: "starting", finished: "training finished",
                interrupted: "training interrupted", failed: "training failed: " + state.error};
  status.textContent = (said[state.status] || state.status) +
      (state.probe_error ? " — no gradients shown: " + state.probe_error : "");
  status.className = "status " + (state.status === "running" ? "running" : "");
  lastStatus = state.status;
}

function stopped() {
  const status = document.getElementById("status");
  status.textContent = "training stopped" + (lastStatus && lastStatus !== "running" ? " (" + lastStatus + ")" : "");
  status.className = "status stopped";
  document.body.dataset.stopped = "true";
}

async function poll() {
  let state;
  try {
    const have = "?loss=" + loss.length + "&probe=" + norms.iteration.length;
    const response = await fetch("/state" + have, {cache: "no-store"});
    if (!response.ok) throw new Error("HTTP " + response.status);
    state = await response.json();
    if (state.loss) {
      extend(loss, state.loss.from, state.loss.values);
      const g = state.grad_norms;
      extend(norms.iteration, g.from, g.iteration);
      for (const [name, values] of Object.entries(g.params)) {
        extend(norms.params[name] = norms.params[name] || [], g.from, values);
      }
    }
  } catch (error) {
    stopped();  // the server has gone with the training: keep what is drawn
    return;
  }
  showStatus(state);
  render(state);
  setTimeout(poll, POLL_MS);
}

poll();
