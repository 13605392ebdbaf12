"""The live training view (tensorflowlite_clone/app/live.py): its state endpoint, its page, its
lifecycle (the port freed however training ends) and that no browser can hold training up."""
import json
import re
import socket
import time
import urllib.request

import numpy as np
import pytest

from models import TwoLayerNet
from models.fc_net import FullyConnectedNet
from models.solver import Solver
from tensorflowlite_clone.app import cli, data, live, training
from tensorflowlite_clone.optim import Adam


@pytest.fixture(scope="module")
def digits():
    return data.load("digits")


def two_layer(seed=0):
    np.random.seed(seed)
    return cli.new_model("two-layer", 64, 10, 20, 0.17)


def view_of(model, ds, **kwargs):
    options = {"port": 0, "batch": (ds.X_train[:32], ds.y_train[:32]), "reg": 1e-3,
               "image_shape": ds.image_shape, **kwargs}
    return live.LiveTraining(model, **options)


def fit(view, model, ds, num_iters, on_step=None):
    return training.fit(model, ds.X_train, ds.y_train,
                        lambda X, y: cli.loss_and_grads(model, X, y, 1e-3, "autodiff"),
                        optimizer=Adam(1e-3), num_iters=num_iters, batch_size=50,
                        val=(ds.X_val, ds.y_val), at_epoch="end",
                        on_step=on_step or view.on_step, history=view.history)


def get_state(view, query=""):
    text = urllib.request.urlopen(view.url + "state" + query, timeout=5).read()
    return strict_json(text)


def strict_json(text):
    """json.loads that refuses NaN and Infinity, which Python accepts and browsers do not."""
    def refuse(name):
        raise ValueError(f"not JSON: {name}")
    return json.loads(text, parse_constant=refuse)


def port_is_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as any server binds
        try:
            s.bind((live.HOST, port))
        except OSError:
            return False
        return True


def test_state_grows_while_training_and_ends_finished(digits):
    model = two_layer()
    seen = []

    def on_step(it, loss, evaluated):
        if it in (5, 40):
            time.sleep(live.PUBLISH_EVERY + 0.01)  # past the publishing throttle
        view.on_step(it, loss, evaluated)
        if it in (5, 40):
            seen.append(get_state(view))
        if it == 40:  # what the page asks for once it has the first 6 losses and 1 probe
            seen.append(get_state(view, "?loss=6&probe=1"))

    with view_of(model, digits, linger=0) as view:
        fit(view, model, digits, 60, on_step)
    first, later, tail = seen
    assert first["loss"] == {"from": 0, "values": view.history["loss_history"][:6]}
    assert len(later["loss"]["values"]) == 41
    assert tail["loss"] == {"from": 6, "values": later["loss"]["values"][6:]}
    probes = len(later["grad_norms"]["iteration"])
    assert tail["grad_norms"]["from"] == 1
    assert len(tail["grad_norms"]["iteration"]) == len(tail["grad_norms"]["params"]["W1"]) \
        == probes - 1
    assert first["status"] == later["status"] == "running"
    assert later["train_acc"] and len(later["train_acc"]) == len(later["val_acc"])
    assert later["acc_iteration"] == [27]  # the end of the first epoch (28 iterations)
    # the probe: per-parameter norms over time, every node's norm, the 20 filters of 8x8
    assert set(later["grad_norms"]["params"]) == {"W1", "b1", "W2", "b2"}
    assert later["grad_norms"]["iteration"][0] == 0
    nodes = {n["id"] for n in later["graph"]["nodes"]}
    assert set(later["node_grads"]) <= nodes and len(later["node_grads"]) >= 10
    assert {e["from"] for e in later["graph"]["edges"]} <= nodes
    grads = later["node_grads"]
    W1 = next(n["id"] for n in later["graph"]["nodes"] if n["name"] == "W1")
    assert grads[W1] == later["grad_norms"]["params"]["W1"][-1] > 0
    weights = later["weights"]
    assert (weights["height"], weights["width"], weights["channels"]) == (8, 8, 1)
    assert len(weights["images"]) == 20 and len(weights["images"][0]) == 64
    final = strict_json(view.state_json())  # published before the server went
    assert final["status"] == "finished"
    assert final["loss"]["values"] == pytest.approx(view.history["loss_history"])


def test_snapshots_are_json_even_with_nan_and_inf_losses():
    model = TwoLayerNet(4, 3, 2)
    view = live.LiveTraining(model, port=0)  # no probe batch: losses only
    view.history["loss_history"].extend([1.5, float("nan"), float("inf"), -float("inf")])
    view.history["train_acc_history"].append(np.float64(0.5))
    view._publish("running")
    state = strict_json(view.state_json())
    assert state["loss"]["values"] == [1.5, None, None, None]
    assert state["train_acc"] == [0.5]


def test_a_nan_gradient_is_null_in_the_node_norms(digits):
    model = two_layer()
    model.params["W2"][0, 0] = np.nan
    with view_of(model, digits, linger=0) as view:
        view.on_step(0, float("nan"), False)
        state = strict_json(view.state_json())
    assert None in state["node_grads"].values()


def test_a_failing_probe_stops_probing_but_not_training(digits):
    model = two_layer()
    with view_of(model, digits, batch=(digits.X_train[:4], digits.y_train[:3]), linger=0) as view:
        fit(view, model, digits, 5)  # rows and labels disagree: the probe's forward raises
    state = strict_json(view.state_json())
    assert state["status"] == "finished" and len(state["loss"]["values"]) == 5
    assert state["probe_error"].startswith("ValueError")


@pytest.mark.parametrize("error, status", [(RuntimeError("boom"), "failed"),
                                           (KeyboardInterrupt(), "interrupted")])
def test_the_server_stops_and_frees_the_port_however_training_ends(digits, error, status):
    model = two_layer()
    with pytest.raises(type(error)):
        with view_of(model, digits) as view:
            port = view.port
            get_state(view)
            fit(view, model, digits, 3)
            raise error
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://{live.HOST}:{port}/state", timeout=2)
    assert port_is_free(port)
    state = strict_json(view.state_json())
    assert state["status"] == status and len(state["loss"]["values"]) == 3
    if status == "failed":
        assert state["error"] == "RuntimeError: boom"
    with live.LiveTraining(model, port=port):  # the same port serves again
        pass


def test_a_port_in_use_is_one_clear_error():
    with socket.socket() as taken:
        taken.bind((live.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(live.LiveError) as caught:
            with live.LiveTraining(TwoLayerNet(4, 3, 2), port=port):
                pytest.fail("served on a port in use")
    message = str(caught.value)
    assert f"127.0.0.1:{port}" in message and "--port" in message and "\n" not in message


def test_the_page_is_self_contained():
    page = live.page()
    assert "/*LIVE_JS*/" not in page and "/*LIVE_CSS*/" not in page
    assert "function poll" in page and ".chart" in page  # the script and the style inlined
    urls = set(re.findall(r"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", page))
    assert urls == {"http://www.w3.org/2000/svg"}  # the SVG namespace, a name, never fetched
    assert not re.search(r"<(img|iframe)\b|@import|url\((?!#)", page)
    # what the page links to is inline (data:) or on the page (#)
    assert all(ref.startswith(("data:", "#"))
               for ref in re.findall(r"\b(?:src|href)\s*=\s*[\"']([^\"']*)", page))


def test_the_server_answers_the_page_the_state_and_404(digits):
    with view_of(TwoLayerNet(4, 3, 2), digits, batch=None) as view:
        page = urllib.request.urlopen(view.url, timeout=5)
        assert page.headers["Content-Type"].startswith("text/html")
        assert page.read().decode() == live.page()
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(view.url + "nothing", timeout=5)
        assert caught.value.code == 404


def test_a_client_that_never_reads_does_not_hold_training_up(digits):
    model = two_layer()
    view = view_of(model, digits, linger=0)
    # a state of a few MB, more than the sockets buffer, so that a writer to a client that
    # does not read is stuck in send()
    view.history["loss_history"].extend(np.linspace(1, 2, 300_000).tolist())
    start = time.perf_counter()
    with view:
        silent = socket.create_connection((live.HOST, view.port))  # sends nothing
        stuck = socket.create_connection((live.HOST, view.port))
        stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stuck.sendall(b"GET /state HTTP/1.1\r\nHost: x\r\n\r\n")  # and never reads the answer
        time.sleep(0.2)
        for it in range(200):
            time.sleep(0.002)
            view.on_step(it, 1.0, False)
    elapsed = time.perf_counter() - start
    silent.close()
    stuck.close()
    assert elapsed < 3.0, f"training took {elapsed:.1f} s with a client that does not read"


def test_a_solver_is_followed_and_its_training_left_alone(digits):
    """Dropout's masks and the Solver's batches come from NumPy's global generator and
    batchnorm keeps running averages: the probe must change neither."""
    splits = {"X_train": digits.X_train[:200], "y_train": digits.y_train[:200],
              "X_val": digits.X_val, "y_val": digits.y_val}

    def run(with_live):
        np.random.seed(1)
        model = FullyConnectedNet([16], input_dim=64, dropout_keep_ratio=0.5,
                                  normalization="batchnorm", dtype=np.float64)
        solver = Solver(model, splits, update_rule="adam", optim_config={"learning_rate": 1e-3},
                        batch_size=50, num_epochs=2, verbose=False)
        if not with_live:
            solver.train()
            return solver, model, None
        with live.LiveTraining(model, port=0, batch=(splits["X_train"][:16],
                               splits["y_train"][:16]), image_shape=(8, 8), probe_every=0,
                               linger=0) as view:
            view.attach(solver)
            solver.train()
        return solver, model, strict_json(view.state_json())

    plain, plain_model, _ = run(False)
    followed, model, state = run(True)
    assert followed.loss_history == plain.loss_history
    assert followed.val_acc_history == plain.val_acc_history
    assert followed.best_params  # the Solver's own bookkeeping still ran
    np.testing.assert_array_equal(model.bn_params[0]["running_mean"],
                                  plain_model.bn_params[0]["running_mean"])
    assert state["loss"]["values"] == pytest.approx(plain.loss_history)
    assert state["val_acc"] == pytest.approx(plain.val_acc_history)
    assert len(state["grad_norms"]["iteration"]) == len(plain.loss_history) + 1  # + the final
    assert len(state["weights"]["images"]) == 16


def live_wired():
    try:
        cli.build_parser().parse_args(["train", "--live"])
    except cli.CommandError:
        return False
    return True


@pytest.mark.skipif(not live_wired(), reason="cli.py has no `tflc train --live` yet")
def test_tflc_train_live_prints_the_url_and_frees_the_port(tmp_path, capsys):
    assert cli.main(["train", "--live", "--port", "0", "--iters", "20", "--quiet",
                     "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    found = re.search(r"^live view: http://127\.0\.0\.1:(\d+)/ \(Ctrl-C stops training\)$", out,
                      re.MULTILINE)
    assert found, out
    assert port_is_free(int(found.group(1)))


@pytest.mark.skipif(not live_wired(), reason="cli.py has no `tflc train --live` yet")
def test_tflc_train_live_on_a_port_in_use_is_one_line(tmp_path, capsys):
    with socket.socket() as taken:
        taken.bind((live.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert cli.main(["train", "--live", "--port", str(port), "--iters", "5", "--quiet",
                         "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"tflc: error: cannot serve the live view on 127.0.0.1:{port}" \
        in err and "--port" in err
    assert not (tmp_path / "model.npz").exists()
