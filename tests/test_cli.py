"""The `tflc` command end to end, in process through `main([...])` (and once as
`python -m tensorflowlite_clone`): what it prints, its exit status and the files it writes."""
import contextlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from benchmarks import harness
from models import Softmax, TwoLayerNet
from tensorflowlite_clone.app import data
from tensorflowlite_clone.app.cli import main

ROOT = Path(__file__).resolve().parents[1]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAS_DOT = shutil.which("dot") is not None
GRAPH = "loss_graph.svg" if HAS_DOT else "loss_graph.dot"  # without Graphviz: the DOT source


def assert_png(path):
    assert Path(path).read_bytes()[:8] == PNG_MAGIC, path


def assert_graph(path):
    """An SVG that parses as XML (or, without Graphviz, DOT source)."""
    path = Path(path)
    if path.suffix == ".svg":
        assert ET.parse(path).getroot().tag.endswith("svg")
    else:
        assert path.read_text().startswith("digraph")


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


RUNS = {"two-layer-digits": ("two-layer", "digits", []),
        "softmax-spiral": ("softmax", "spiral", []),
        "two-layer-spiral-float32-momentum": ("two-layer", "spiral",
                                              ["--dtype", "float32", "--optimizer", "momentum"])}


@pytest.fixture(scope="module", params=list(RUNS))
def trained(request, tmp_path_factory):
    """A short training run; returns (model, data, output folder, stdout)."""
    model, spec, extra = RUNS[request.param]
    out = tmp_path_factory.mktemp(request.param)
    hidden = ["--hidden", "20"] if model == "two-layer" else []
    argv = ["train", "--model", model, "--data", spec, "--iters", "60", "--batch-size", "50",
            *hidden, "--lr", "0.01", "--out", str(out), "--quiet", *extra]
    stdout = io.StringIO()  # capsys is per test; this fixture is shared by the module
    with contextlib.redirect_stdout(stdout):
        assert main(argv) == 0
    return model, spec, out, stdout.getvalue()


def test_train_writes_everything(trained):
    model, spec, out, stdout = trained
    names = {p.name for p in out.iterdir()}
    expected = {"metrics.json", "loss.png", "accuracy.png", GRAPH, "model.npz"}
    assert expected <= names
    assert ("weights.png" in names) == (spec == "digits")  # only image data has a weights image
    for png in ("loss.png", "accuracy.png") + (("weights.png",) if spec == "digits" else ()):
        assert_png(out / png)
    assert_graph(out / GRAPH)
    assert re.search(r"train accuracy \d\.\d{4}\s+validation accuracy \d\.\d{4}\s+"
                     r"test accuracy \d\.\d{4}", stdout)
    assert "gradient check: hand-derived vs autodiff" in stdout


def test_train_metrics(trained):
    model, spec, out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert metrics["test_accuracy"] > 0.4  # well above chance (0.1 / 0.33) even after 60 steps
    assert len(metrics["loss_history"]) == 60
    assert all(np.isfinite(metrics["loss_history"]))
    assert np.mean(metrics["loss_history"][-10:]) < metrics["loss_history"][0]
    assert len(metrics["train_acc_history"]) == len(metrics["val_acc_history"]) >= 1
    hyper = metrics["hyperparameters"]
    assert hyper["model"] == model and hyper["iters"] == 60 and hyper["lr"] == 0.01
    assert hyper["batch_size"] == 50 and hyper["optimizer"] in ("adam", "momentum")
    assert metrics["data"]["spec"] == spec and metrics["data"]["num_train"] > 0
    assert metrics["data"]["preprocessing"]["mean_image"] == "train"
    check = metrics["gradcheck"]
    assert check["ok"] and check["hand_vs_autodiff"] < 1e-7 and check["numerical_vs_autodiff"] < 1e-4
    assert metrics["timing"]["train_seconds"] > 0


def test_checkpoint_from_train(trained):
    model, spec, out, _ = trained
    loaded = {"two-layer": TwoLayerNet, "softmax": Softmax}[model].load(out / "model.npz")
    assert loaded.metadata["data"]["spec"] == spec
    dtype = loaded.metadata["hyperparameters"]["dtype"]
    assert all(p.dtype == dtype for p in loaded.params.values())
    assert loaded.metadata["hyperparameters"]["model"] == model
    assert loaded.mean_image is not None and loaded.mean_image.ndim == 1


def test_predict_reproduces_test_accuracy(trained, capsys, tmp_path):
    model, spec, out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    status, stdout, _ = run(capsys, "predict", out / "model.npz", "--plot", tmp_path / "cm.png")
    assert status == 0
    correct, total = map(int, re.search(r"test accuracy [\d.]+ \((\d+)/(\d+)\)", stdout).groups())
    assert correct / total == metrics["test_accuracy"]
    assert "confusion matrix" in stdout
    rows = [line.split() for line in stdout.splitlines() if re.fullmatch(r"\s*\d+(\s+\d+)+", line)]
    counts = np.array([[int(v) for v in row[1:]] for row in rows[1:]])  # rows[0]: the header
    assert counts.sum() == total and np.trace(counts) == correct
    assert_png(tmp_path / "cm.png")


def test_predict_with_explicit_data(trained, capsys):
    _, spec, out, _ = trained
    status, stdout, _ = run(capsys, "predict", out / "model.npz", "--data", spec)
    assert status == 0 and f"on {spec}" in stdout


def test_predict_centres_raw_data_with_the_checkpoints_mean(trained, capsys, tmp_path):
    """A checkpoint whose stored mean image differs from the loader's: predict re-centres the
    raw test data with the checkpoint's mean, as the model saw its training data."""
    model_kind, spec, out, _ = trained
    model = {"two-layer": TwoLayerNet, "softmax": Softmax}[model_kind].load(out / "model.npz")
    ds = data.load(spec, seed=0)
    shifted = ds.mean_image + 0.3
    path = model.save(tmp_path / "shifted.npz", model.metadata, mean_image=shifted)
    expected = np.mean(model.predict(ds.X_test + ds.mean_image - shifted) == ds.y_test)
    status, stdout, _ = run(capsys, "predict", path)
    assert status == 0
    correct, total = map(int, re.search(r"\((\d+)/(\d+)\)", stdout).groups())
    assert correct / total == expected


def test_predict_needs_data_when_checkpoint_does_not_say(capsys, tmp_path):
    path = Softmax(np.zeros((64, 10))).save(tmp_path / "bare.npz")
    status, _, err = run(capsys, "predict", path)
    assert status == 2 and "give --data" in err
    status, stdout, _ = run(capsys, "predict", path, "--data", "digits")
    assert status == 0 and "test accuracy" in stdout


@pytest.mark.parametrize("model", ["two-layer", "softmax"])
def test_gradcheck(capsys, tmp_path, model):
    status, stdout, _ = run(capsys, "gradcheck", "--model", model, "-o", tmp_path / "check.svg")
    assert status == 0
    assert "hand vs autodiff" in stdout and "numerical vs autodiff" in stdout
    assert "the hand-derived gradients agree with autodiff" in stdout
    written = tmp_path / ("check.svg" if HAS_DOT else "check.dot")
    assert_graph(written)
    assert "agree" in written.read_text()  # the disagreement view coloured the checked nodes


def test_gradcheck_on_data(capsys, tmp_path):
    status, stdout, _ = run(capsys, "gradcheck", "--data", "spiral", "--batch", "4",
                            "-o", tmp_path / "check.dot")
    assert status == 0 and "batch of 4 (2 features)" in stdout
    assert_graph(tmp_path / "check.dot")


def test_gradcheck_exit_status_when_gradients_disagree(capsys, tmp_path, monkeypatch):
    right = TwoLayerNet.hand_derived_gradients

    def wrong(params, X, y, reg=0.0):  # the seed's derivation with the ReLU mask forgotten
        grads = right(params, X, y, reg)
        grads["hidden_pre"] = grads["hidden"]
        return grads
    monkeypatch.setattr(TwoLayerNet, "hand_derived_gradients", staticmethod(wrong))
    status, stdout, _ = run(capsys, "gradcheck", "-o", tmp_path / "check.dot")
    assert status == 1
    assert "first disagreement: d loss/d hidden_pre" in stdout


@pytest.mark.parametrize("name", ["graph.svg", "graph.dot"])
def test_graph(capsys, tmp_path, name):
    if name.endswith(".svg") and not HAS_DOT:
        pytest.skip("Graphviz's dot is not installed")
    status, stdout, _ = run(capsys, "graph", "--model", "softmax", "--show-values",
                            "-o", tmp_path / name)
    assert status == 0 and name in stdout
    assert_graph(tmp_path / name)
    assert "matmul" in (tmp_path / name).read_text()


def test_graph_without_graphviz_writes_dot(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no `dot` to be found
    status, _, err = run(capsys, "graph", "-o", tmp_path / "graph.svg")
    assert status == 0
    assert not (tmp_path / "graph.svg").exists()
    assert_graph(tmp_path / "graph.dot")
    assert len(err.strip().splitlines()) == 1 and "Graphviz" in err


def test_bench(capsys, tmp_path):
    status, stdout, _ = run(capsys, "bench", "--sizes", "tiny", "--dtypes", "float64",
                            "--rounds", "2", "--no-per-op", "--quiet", "--json", tmp_path / "b.json")
    assert status == 0
    assert "engine" in stdout and "hand" in stdout
    report = json.loads((tmp_path / "b.json").read_text())
    assert {r["impl"] for r in report["results"]} >= {"hand", "engine", "traced"}
    assert all(r["size"] == "tiny" for r in report["results"])
    losses = [r["first_loss"] for r in report["results"]]  # every implementation, the same step
    np.testing.assert_allclose(losses, losses[0], rtol=1e-6)


def test_per_op_figures_cover_every_case_eager_and_traced():
    figures = harness.per_op_overhead(length=3, rounds=2)
    for kind in ("eager", "traced"):
        assert set(figures[kind]) == set(harness.PER_OP_CASES)
        assert all(us > 0 for us in figures[kind].values())


def test_bench_reports_page_faults_per_step(tmp_path):
    report = harness.run(sizes=["tiny"], dtypes=["float64"], rounds=2, per_op=False)
    assert all(r["faults_per_step"] >= 0 for r in report["results"])
    assert "faults" in harness.format_table(report)


def test_settle_allocator_stops_page_faults_on_mid_sized_arrays():
    """In a fresh process (no earlier test has moved glibc's thresholds), a step's worth of
    digits-sized arrays (200 KiB, above the default 128 KiB mmap threshold) allocated and freed
    in a loop pays page faults on every round until `settle_allocator` has run, and not after."""
    script = (
        "import numpy as np\n"
        "from benchmarks.harness import minor_faults, settle_allocator\n"
        "def faults():\n"
        "    before = minor_faults()\n"
        "    for _ in range(100):\n"
        "        arrays = [np.ones(200 * 1024 // 8) for _ in range(6)]\n"
        "        del arrays\n"
        "    return minor_faults() - before\n"
        "unsettled = faults()\n"
        "settle_allocator()\n"
        "faults()\n"  # the first allocation after settling may still fault
        "print(unsettled, faults())\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], check=True)
    unsettled, settled = map(int, result.stdout.split())
    if unsettled < 100:
        pytest.skip(f"this allocator does not fault here ({unsettled} faults): nothing to settle")
    assert settled < 10, (unsettled, settled)


def test_a_traced_step_pays_no_page_faults_where_the_hand_step_does():
    """With glibc's mmap threshold held at 128 KiB, every float64 digits temporary (160 KiB) is
    mapped and unmapped: the hand-derived step pays page faults on every call; the traced step
    keeps buffers for its temporaries and pays none (benchmarks/allocator.py)."""
    script = ("from benchmarks.allocator import measure\n"
              "print(measure('digits', 'float64', 'hand', 40)[1], "
              "measure('digits', 'float64', 'traced', 40)[1])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            cwd=Path(__file__).resolve().parents[1], check=True,
                            env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "131072"})
    hand, traced = map(float, result.stdout.split())
    if hand < 10:
        pytest.skip(f"this allocator does not fault here ({hand} faults a step)")
    assert traced < 1, (hand, traced)


def test_the_allocator_benchmark_prints_each_implementation():
    result = subprocess.run([sys.executable, "-m", "benchmarks.allocator", "--size", "tiny",
                             "--implementations", "hand", "traced"], capture_output=True,
                            text=True, cwd=Path(__file__).resolve().parents[1], check=True)
    lines = result.stdout.splitlines()
    assert "fresh process" in lines[0] and len(lines) == 3
    assert lines[1].split()[0] == "hand" and "1.00x hand" in lines[1]
    assert lines[2].split()[0] == "traced" and "page faults a step" in lines[2]


# --- errors: one line on stderr, exit status 2, no traceback -----------------------------------------
@pytest.mark.parametrize("argv, message", [
    ([], "required: COMMAND"),
    (["fly"], "invalid choice: 'fly'"),
    (["train", "--model", "mlp"], "invalid choice: 'mlp'"),
    (["train", "--lr", "-1"], "argument --lr: expected a number > 0, got -1"),
    (["train", "--lr", "nan"], "argument --lr: expected a number > 0"),
    (["train", "--iters", "0"], "argument --iters: expected a positive integer, got 0"),
    (["train", "--batch-size", "ten"], "argument --batch-size: expected a positive integer"),
    (["train", "--reg", "-0.1"], "argument --reg: expected a number >= 0"),
    (["train", "--lr-decay", "1.5"], "argument --lr-decay: expected a number in (0, 1]"),
    (["train", "--data", "imagenet"], "unknown data spec 'imagenet'"),
    (["train", "--data", "cifar10:{tmp}/nowhere"], "CIFAR-10 batch not found"),
    (["train", "--data", "mnist:{tmp}"], "MNIST file not found"),
    (["train", "--data", "cifar10:"], "needs a folder"),
    (["predict", "{tmp}/absent.npz"], "no such checkpoint file"),
    (["predict", "{tmp}/noise.npz"], "not a readable checkpoint"),
    (["graph", "-o", "{tmp}/graph.txt"], "use one of the suffixes"),
    (["bench", "--rounds", "1"], "expected an integer >= 2"),
    (["bench", "--sizes", "huge"], "invalid choice: 'huge'"),
])
def test_errors_are_one_line(capsys, tmp_path, argv, message):
    (tmp_path / "noise.npz").write_bytes(b"\x00" * 100)
    status, out, err = run(capsys, *[a.format(tmp=tmp_path) for a in argv])
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("tflc: error: ") and message in lines[0], lines[0]


def test_predict_on_mismatched_data(trained, capsys):
    _, spec, out, _ = trained
    other = "spiral" if spec == "digits" else "digits"
    status, _, err = run(capsys, "predict", out / "model.npz", "--data", other)
    assert status == 2 and "input features" in err and len(err.strip().splitlines()) == 1


def test_failed_data_leaves_no_output_folder(capsys, tmp_path):
    status, _, _ = run(capsys, "train", "--data", "imagenet", "--out", tmp_path / "out")
    assert status == 2 and not (tmp_path / "out").exists()


def test_python_dash_m(tmp_path):
    """`python -m tensorflowlite_clone` runs the command, errors included."""
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    ok = subprocess.run([sys.executable, "-m", "tensorflowlite_clone", "--help"], cwd=tmp_path,
                        env=env, capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0 and "train" in ok.stdout and "gradcheck" in ok.stdout
    bad = subprocess.run([sys.executable, "-m", "tensorflowlite_clone", "train", "--iters", "-5"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert bad.stderr.strip() == "tflc: error: argument --iters: expected a positive integer, got -5"


# --- the promise of the README: `tflc train` alone reaches 97% on the digits ---------------------
def test_default_train_reaches_97_percent(capsys, tmp_path):
    status, _, _ = run(capsys, "train", "--out", tmp_path, "--quiet")
    assert status == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["hyperparameters"]["model"] == "two-layer"
    assert metrics["data"]["spec"] == "digits"
    assert metrics["test_accuracy"] >= 0.97, metrics["test_accuracy"]


def test_spiral_defaults_learn_the_spiral(capsys, tmp_path):
    status, _, _ = run(capsys, "train", "--data", "spiral", "--out", tmp_path, "--quiet")
    assert status == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["hyperparameters"]["lr_decay"] == 1.0  # the spiral's own defaults
    assert metrics["train_accuracy"] >= 0.95 and metrics["test_accuracy"] >= 0.93, metrics


def test_divergent_training_is_one_line_and_a_failure(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--lr", "1e4", "--optimizer", "sgd", "--iters", "50",
                         "--quiet", "--out", tmp_path)
    assert status == 2
    assert err.startswith("tflc: error: training diverged at iteration") and "--lr" in err
    assert len(err.strip().splitlines()) == 1


def test_too_small_a_data_folder_is_one_line(capsys, tmp_path):
    from test_data import write_mnist
    write_mnist(tmp_path, n_train=100)  # fewer images than the default 5,000 validation ones
    status, _, err = run(capsys, "train", "--data", f"mnist:{tmp_path}", "--quiet",
                         "--out", tmp_path / "out")
    assert status == 2
    assert err.startswith("tflc: error: ") and "num_val=5000" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("model", ["two-layer", "softmax"])
def test_train_compiles_its_step_and_eager_gives_the_same_numbers(capsys, tmp_path, model):
    """`tflc train` runs the tape's step compiled by tflc.jit; `--eager` runs it on the tape
    (for debugging): the same losses (to rounding: the compiled adjoint is simplified) and
    accuracies."""
    runs = {}
    for step in ("traced", "eager"):
        out = tmp_path / step
        argv = ["train", "--model", model, "--iters", "40", "--batch-size", "50", "--quiet",
                "--out", out] + (["--eager"] if step == "eager" else [])
        assert run(capsys, *argv)[0] == 0
        runs[step] = json.loads((out / "metrics.json").read_text())
        assert runs[step]["hyperparameters"]["step"] == step
    assert runs["traced"]["loss_history"] == pytest.approx(runs["eager"]["loss_history"], rel=1e-10)
    for key in ("train_acc_history", "val_acc_history", "test_accuracy"):
        assert runs["traced"][key] == runs["eager"][key]
