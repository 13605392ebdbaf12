"""The live training view behind `tflc train --live`: a page on 127.0.0.1 that follows training.

    with live.LiveTraining(model, port=8765, reg=reg, batch=(X[:64], y[:64]),
                           image_shape=(8, 8)) as view:
        print(f"live view: {view.url} (Ctrl-C stops training)")
        training.fit(..., on_step=view.on_step, history=view.history)

    # cs231n's Solver (and the CaptioningSolver): view.attach(solver) before solver.train()

The page (live.html, .css, .js beside this module, inlined into one self-contained page) polls
`/state`, a JSON snapshot: the loss at every iteration, the accuracies at every check, and from
a *probe* the per-parameter gradient norms, the first-layer weights and every graph node's
gradient norm. Training and browser never wait on each other: the training thread only swaps a
new snapshot into a lock-protected slot (at most every PUBLISH_EVERY seconds), the server's
threads serialise whatever snapshot is there, and a browser that is slow or gone only holds up
its own handler thread.

The probe: a training step compiled by tflc.jit keeps no intermediates, so every PROBE_EVERY
seconds (and at the first and the last iteration) the model's loss is run once more, eagerly, on
the fixed `batch` under a persistent GradientTape, and one backward sweep gives the gradient of
every node. The probe leaves the training alone: NumPy's global generator (dropout's masks, the
Solver's batches) and batchnorm's running averages are restored after it.

When the `with` block ends (normally, by an error or by Ctrl-C) the final state is published,
the server shuts down and the port is free again.
"""
import contextlib
import copy
import http.server
import json
import math
import threading
import time
import urllib.parse
from importlib import resources

import numpy as np

import tensorflowlite_clone as tflc

from .training import HISTORY

DEFAULT_PORT = 8765
HOST = "127.0.0.1"
PROBE_EVERY = 0.1      # seconds between probes: ~0.3 ms each on the digits' two-layer net
PUBLISH_EVERY = 0.05   # seconds between snapshots (the page polls every 0.5 s)
LINGER = 1.0           # seconds the final state stays served to a page that is polling
PROBE_ROWS = 32        # the probe's batch: the first rows of the training data
MAX_IMAGES = 64        # first-layer filters shown
REQUEST_TIMEOUT = 5.0  # a client that stops reading or writing loses its thread after this
CURVES = ("loss", "train_acc", "val_acc")  # the page's names for training.HISTORY
STATEFUL = ("bn_params", "dropout_param")  # what a forward pass of cs231n's fc-net changes


class LiveError(Exception):
    """The live view cannot start (the port is taken); one line for the user."""


def finite_or_none(value):
    """A float for JSON, None (null) for NaN and inf, which JSON cannot spell."""
    value = float(value)
    return value if math.isfinite(value) else None


def norm_or_none(array):
    return None if array is None else finite_or_none(np.linalg.norm(np.asarray(array)))


def page():
    """The page as one self-contained HTML string: live.css and live.js inlined."""
    files = resources.files(__package__)
    html = files.joinpath("live.html").read_text(encoding="utf-8")
    return (html.replace("/*LIVE_CSS*/", files.joinpath("live.css").read_text(encoding="utf-8"))
                .replace("/*LIVE_JS*/", files.joinpath("live.js").read_text(encoding="utf-8")))


class LiveTraining:
    """Serve the live view of `model`'s training while the `with` block runs; see the module
    docstring.

    model: has `params` and `forward_tensors(X, y, reg)` (every model in `models`); batch:
    (X, y), the probe's fixed batch (a few dozen rows suffice; None: no probe, so no gradient
    norms, weights or graph); reg: the loss's regularisation; image_shape: one input image's
    shape, to show the first-layer weights as images ((8, 8) for digits; None: not shown);
    port: 0 picks a free one (`view.port`, `view.url` tell which); title: the page's heading.
    """

    def __init__(self, model, *, port=DEFAULT_PORT, batch=None, reg=0.0, image_shape=None,
                 title="tflc train", probe_every=PROBE_EVERY, linger=LINGER):
        self.model, self.batch, self.reg, self.image_shape = model, batch, reg, image_shape
        self.requested_port, self.title = port, title
        self.probe_every, self.linger = probe_every, linger
        self.history = {key: [] for key in HISTORY}  # what fit appends to (or a Solver's)
        self._history_of = lambda: self.history
        self._lock = threading.Lock()
        self._snapshot = {"status": "starting"}
        self._probe_state = {}
        self._probed_at, self._param_norms = [], {}  # the gradient norms' curves
        self._checked_at = []  # the iterations of the accuracies
        self._curves = {name: [] for name in CURVES}  # the histories, JSON-safe
        self._graph = None  # the layout, made once at the first probe
        self._last_probe = self._last_publish = -math.inf
        self._last_poll = -math.inf
        self._iteration = -1
        self._server = self._thread = None
        self._page = page().encode("utf-8")

    # --- the training side -----------------------------------------------------------------
    def on_step(self, it, loss, evaluated):
        """`training.fit`'s hook: cheap, and never waits on a browser."""
        self._iteration = it
        if evaluated:
            self._checked_at.append(it)
        now = time.perf_counter()
        if self.batch is not None and (it == 0 or now - self._last_probe >= self.probe_every):
            self._safe_probe()
            self._last_probe = time.perf_counter()
        if now - self._last_publish >= PUBLISH_EVERY or evaluated:
            self._publish("running")
            self._last_publish = now

    def attach(self, solver):
        """Follow a cs231n Solver (or CaptioningSolver): its histories, and its own per-step
        bookkeeping chained before ours. Call before `solver.train()`."""
        own = solver._on_step  # the bound method; Solver.train passes self._on_step to fit

        def on_step(it, loss, evaluated):
            lines = own(it, loss, evaluated)
            self.on_step(it, loss, evaluated)
            return lines
        solver._on_step = on_step  # an instance attribute shadows the method
        self._history_of = lambda: {key: getattr(solver, key, []) for key in HISTORY}

    def _publish(self, status, error=None):
        history = self._history_of()
        for name, key in zip(CURVES, HISTORY):  # only the new values are converted
            source, curve = history[key], self._curves[name]
            if len(source) < len(curve):  # a history begun again (the Solver's _reset)
                curve = self._curves[name] = []
            curve.extend(map(finite_or_none, source[len(curve):]))
        snapshot = {
            "status": status, "error": error, "title": self.title, "iteration": self._iteration,
            **{name: _Prefix(curve) for name, curve in self._curves.items()},
            "acc_iteration": _Prefix(self._checked_at),
            "grad_norms": {"iteration": _Prefix(self._probed_at),
                           "params": {k: _Prefix(v) for k, v in self._param_norms.items()}},
            **self._probe_state,
        }
        with self._lock:
            self._snapshot = snapshot

    def _safe_probe(self):
        """A probe that fails stops probing and says why on the page; training goes on."""
        try:
            self._probe()
        except Exception as error:  # the view must never be what ends the training
            self.batch = None
            self._probe_state = {**self._probe_state,
                                 "probe_error": f"{type(error).__name__}: {error}"}

    def _probe(self):
        """The eager step on `batch`: every node's gradient norm, the parameters' over time,
        the first-layer weights."""
        X, y = self.batch
        with _training_left_alone(self.model), np.errstate(all="ignore"):
            with tflc.GradientTape(persistent=True) as tape:
                loss, _ = self.model.forward_tensors(X, y, self.reg)
            if self._graph is None:
                self._graph = Graph(tape, loss, self.model.params, {"X": X, "y": y})
            nodes = self._graph.tensors(tape, loss)
            grads = tape.gradient(loss, list(nodes.values()))  # one sweep for every node
        norms = dict(zip(nodes, map(norm_or_none, grads)))
        self._probed_at.append(self._iteration)
        for name, node in self._graph.param_nodes.items():
            self._param_norms.setdefault(name, []).append(norms.get(node))
        # new dicts each time: a published snapshot is never changed afterwards
        self._probe_state = {"graph": self._graph.json, "node_grads": norms,
                             "weights": first_layer_images(self.model.params, self.image_shape)}

    # --- the server side -------------------------------------------------------------------
    def state_json(self, loss_from=0, probe_from=0):
        """The latest snapshot as JSON. The curves that grow without bound, the loss (one value
        per iteration) and the gradient norms (one per probe), are sent from `loss_from` and
        `probe_from` on (where the page has them up to), with "from" saying where they start."""
        with self._lock:
            snapshot = dict(self._snapshot)
        self._last_poll = time.perf_counter()
        if "loss" in snapshot:
            loss, norms = snapshot["loss"], snapshot["grad_norms"]
            start = min(loss_from, loss.length)
            snapshot["loss"] = {"from": start, "values": loss.items(start)}
            start = min(probe_from, norms["iteration"].length)
            snapshot["grad_norms"] = {
                "from": start, "iteration": norms["iteration"].items(start),
                "params": {k: v.items(start) for k, v in norms["params"].items()}}
        return json.dumps(snapshot, allow_nan=False, default=_Prefix.items).encode("utf-8")

    @property
    def port(self):
        return self._server.server_address[1]

    @property
    def url(self):
        return f"http://{HOST}:{self.port}/"

    def __enter__(self):
        view = self

        class Handler(_Handler):
            live = view
        try:
            self._server = _Server((HOST, self.requested_port), Handler)
        except OSError as error:
            raise LiveError(f"cannot serve the live view on {HOST}:{self.requested_port}: "
                            f"{error.strerror or error}; choose another port with --port "
                            "(--port 0 picks a free one)") from None
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True,
                                        name=f"tflc live view :{self.port}")
        self._thread.start()
        self._publish("running")
        return self

    def __exit__(self, kind, error, traceback):
        try:
            if kind is None:
                if self.batch is not None:
                    self._safe_probe()  # the final weights and gradients
                self._publish("finished")
                # a page that is watching gets to fetch the final state before the server goes
                if time.perf_counter() - self._last_poll < 2 * LINGER:
                    time.sleep(self.linger)
            elif issubclass(kind, KeyboardInterrupt):
                self._publish("interrupted")
            else:
                self._publish("failed", f"{kind.__name__}: {error}")
        finally:
            self.close()
        return False

    def close(self):
        """Stop serving and free the port (idempotent)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None


@contextlib.contextmanager
def _training_left_alone(model):
    """Undo what a forward pass changes besides its result: the global generator's state
    (dropout's masks) and the model's layer state (batchnorm's running averages, the modes)."""
    random_state = np.random.get_state()
    layer_state = {name: copy.deepcopy(getattr(model, name)) for name in STATEFUL
                   if hasattr(model, name)}
    try:
        yield
    finally:
        np.random.set_state(random_state)
        for name, value in layer_state.items():
            setattr(model, name, value)


class _Prefix:
    """What a snapshot holds of a list that only grows: its first `len` items, then. The training
    thread appends to the list; a server thread serialises the prefix (`items`), which no later
    append changes: publishing costs nothing per value already published."""

    def __init__(self, values):
        self.values, self.length = values, len(values)

    def items(self, start=0):
        return self.values[start:self.length]


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True    # a stuck client never keeps the process alive
    block_on_close = False   # nor holds up shutdown


class _Handler(http.server.BaseHTTPRequestHandler):
    live = None  # the LiveTraining, set on a subclass per server
    timeout = REQUEST_TIMEOUT

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/":
            self._send(200, "text/html; charset=utf-8", self.live._page)
        elif url.path == "/state":  # ?loss=N&probe=M: the page has that much of the curves
            query = urllib.parse.parse_qs(url.query)
            have = {key: int(v[0]) if v and v[0].isdigit() else 0
                    for key, v in ((key, query.get(key)) for key in ("loss", "probe"))}
            self._send(200, "application/json",
                       self.live.state_json(have["loss"], have["probe"]))
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found\n")

    def _send(self, status, content_type, body):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        with contextlib.suppress(OSError):  # the browser went away: nothing to do
            self.wfile.write(body)

    def log_message(self, format, *args):  # no line per poll on the training's terminal
        pass


# --- what the probe shows ---------------------------------------------------------------------
def first_layer_images(params, image_shape, limit=MAX_IMAGES):
    """The first layer's filters as images for the page: {"height", "width", "channels",
    "images": [[0..255 per pixel (and channel), row-major], ...]}, each filter rescaled on its
    own; None without image data. W1 (D, H): its columns; conv W1 (F, C, HH, WW): its filters;
    softmax's W (D, C): the class templates."""
    W = params.get("W1", params.get("W"))
    if W is None or (image_shape is None and np.ndim(W) != 4):
        return None
    from viz.plots import _filters  # viz.plot_weights' reshaping, one place for it
    if np.ndim(W) == 4:
        W, image_shape = W.reshape(len(W), -1).T, W.shape[1:]
    try:
        images = _filters(W, image_shape)[:limit]
    except ValueError:  # W1 does not fit the images (a non-image data set)
        return None
    flat = images.reshape(len(images), -1)
    low, high = flat.min(axis=1, keepdims=True), flat.max(axis=1, keepdims=True)
    scaled = (flat - low) / np.where(high > low, high - low, 1.0)
    scaled = np.nan_to_num(scaled)
    return {"height": images.shape[1], "width": images.shape[2],
            "channels": 3 if images.ndim == 4 else 1,
            "images": np.round(255 * scaled).astype(int).tolist()}


class Graph:
    """The graph the page draws, laid out once, at the first probe, by `viz.graph_data`.

    json: graph_data's dict (nodes with their ids "op<k>", the k-th record the loss depends
    on, and "leaf<j>", and a layout; edges); param_nodes: {parameter name: node id}. Every probe
    records the same ops in the same order, so a later tape's tensors are found by position.
    """

    def __init__(self, tape, loss, params, inputs):
        import viz  # the application's pages draw with viz; the engine never imports it
        self.json = viz.graph_data(tape, loss, inputs=inputs)
        self.param_nodes = {n["name"]: n["id"] for n in self.json["nodes"]
                            if n["kind"] == "param" and n["name"] in params}

    @staticmethod
    def tensors(tape, loss):
        """{node id: tensor} of this tape's recording, for the nodes that can have a gradient."""
        from viz.graph import _leaves, _records_reaching  # graph_data's own walk of the tape
        records = tape.records  # (a new tuple of records at every call)
        producer = {id(r.output): r for r in records}
        drawn = _records_reaching(records, producer, loss)
        found = {f"op{k}": r.output for k, r in enumerate(drawn)}
        found.update((f"leaf{j}", x) for j, x in enumerate(_leaves(drawn, producer, loss).values()))
        return {node: x for node, x in found.items()
                if isinstance(x, tflc.Tensor) and x.dtype.kind in "fc"}
