"""`tflc train | gradcheck | graph | predict` for cs231n's models (fc-net, conv-net, rnn), end to
end through `main([...])`: the files a short run writes, what metrics.json and the checkpoint
hold, that `predict` reproduces the run's test figure, the options each model takes and refuses,
and CIFAR-10's layout reaching the conv net as channels-first images."""
import contextlib
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from models.cnn import ThreeLayerConvNet
from models.fc_net import FullyConnectedNet
from models.rnn import CaptioningRNN
from tensorflowlite_clone.app import cs231n, data
from tensorflowlite_clone.app.cli import main

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
HAS_DOT = shutil.which("dot") is not None
GRAPH = "loss_graph.svg" if HAS_DOT else "loss_graph.dot"


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr)."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def one_error_line(err, *fragments):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tflc: error: "), err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# Short runs: what is written, not how well it learns (the settings' accuracies are tested
# with the models, and quoted in the README).
RUNS = {"fc-net": ["--epochs", "2", "--hidden", "30", "30"],
        "conv-net": ["--epochs", "1", "--hidden", "20"],
        "rnn": ["--epochs", "1", "--cell", "lstm", "--hidden", "24"]}
CLASSES = {"fc-net": FullyConnectedNet, "conv-net": ThreeLayerConvNet, "rnn": CaptioningRNN}


@pytest.fixture(scope="module", params=list(RUNS))
def trained(request, tmp_path_factory):
    """(model kind, output folder, stdout) of a short `tflc train --model kind` run."""
    kind = request.param
    out = tmp_path_factory.mktemp(kind)
    stdout = io.StringIO()  # capsys is per test; this fixture is shared by the module
    with contextlib.redirect_stdout(stdout):
        assert main(["train", "--model", kind, *RUNS[kind], "--out", str(out), "--quiet"]) == 0
    return kind, out, stdout.getvalue()


def test_train_writes_everything(trained):
    kind, out, stdout = trained
    names = {p.name for p in out.iterdir()}
    pictures = {"loss.png", "weights.png" if kind != "rnn" else "captions.png"}
    if kind != "rnn":
        pictures.add("accuracy.png")
    assert {"metrics.json", "model.npz", GRAPH} | pictures <= names
    assert ("captions.png" in names) == (kind == "rnn")
    for name in pictures:
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name
    if HAS_DOT:
        assert ET.parse(out / GRAPH).getroot().tag.endswith("svg")
    what = "exact captions" if kind == "rnn" else "accuracy"
    assert re.search(rf"train {what} \d\.\d{{4}}\s+validation {what} \d\.\d{{4}}\s+test {what} "
                     r"\d\.\d{4}", stdout), stdout
    assert "gradient check: hand-derived vs autodiff" in stdout and "(ok)" in stdout


def test_train_metrics(trained):
    kind, out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("train_accuracy", "val_accuracy", "test_accuracy"):
        assert 0.0 <= metrics[key] <= 1.0
    assert all(np.isfinite(metrics["loss_history"]))
    assert np.mean(metrics["loss_history"][-5:]) < metrics["loss_history"][0]
    hyper = metrics["hyperparameters"]
    assert hyper["model"] == kind and hyper["solver"]["num_epochs"] == int(RUNS[kind][1])
    hidden = hyper["settings"]["hidden_dims" if kind == "fc-net" else "hidden_dim"]
    assert hidden == ([30, 30] if kind == "fc-net" else {"conv-net": 20, "rnn": 24}[kind])
    if kind == "rnn":
        assert hyper["settings"]["cell_type"] == "lstm"
    else:
        assert len(metrics["train_acc_history"]) == len(metrics["val_acc_history"]) >= 2
        assert metrics["test_accuracy"] > 0.5  # well above chance (0.1) after a short run
    check = metrics["gradcheck"]
    assert check["ok"] and check["hand_vs_autodiff"] < 1e-7 and check["numerical_vs_autodiff"] < 1e-4
    assert set(metrics["files"]) >= {"checkpoint", "loss_plot", "loss_graph"}


def test_checkpoint_rebuilds_the_model(trained):
    kind, out, _ = trained
    model = cs231n.load(out / "model.npz", kind)
    assert type(model) is CLASSES[kind]
    metrics = json.loads((out / "metrics.json").read_text())
    assert model.metadata["hyperparameters"]["model"] == kind
    if kind == "fc-net":  # batchnorm's statistics travel with the weights
        assert model.normalization == "batchnorm"
        assert all(np.any(p["running_var"] > 0) for p in model.bn_params)
    assert metrics["test_accuracy"] == model.metadata["test_accuracy"]


def test_predict_reproduces_test_figure(trained, capsys, tmp_path):
    kind, out, _ = trained
    metrics = json.loads((out / "metrics.json").read_text())
    status, stdout, _ = run(capsys, "predict", out / "model.npz", "--plot", tmp_path / "p.png")
    assert status == 0
    if kind == "rnn":
        exact = float(re.search(r"test exact captions ([\d.]+)", stdout).group(1))
        assert exact == pytest.approx(metrics["test_accuracy"], abs=5e-5)
        assert "<START>" not in stdout and len(re.findall(r"'(\w+ \w+ \w+)'", stdout)) >= 1
    else:
        correct, total = map(int, re.search(r"test accuracy [\d.]+ \((\d+)/(\d+)\)",
                                            stdout).groups())
        assert correct / total == metrics["test_accuracy"]
        assert "confusion matrix" in stdout
    assert (tmp_path / "p.png").read_bytes()[:8] == PNG_MAGIC


# --- gradcheck and graph ---------------------------------------------------------------------------
@pytest.mark.parametrize("argv", [
    ["--model", "fc-net"],
    ["--model", "fc-net", "--normalization", "layernorm", "--dropout", "1"],
    ["--model", "fc-net", "--data", "digits", "--hidden", "6", "5", "4"],
    ["--model", "conv-net"],
    ["--model", "conv-net", "--data", "digits", "--batch", "3"],
    ["--model", "rnn"],
    ["--model", "rnn", "--cell", "lstm", "--batch", "2"],
])
def test_gradcheck(capsys, tmp_path, argv):
    status, stdout, _ = run(capsys, "gradcheck", *argv, "-o", tmp_path / "check.svg")
    assert status == 0, stdout
    assert "the hand-derived gradients agree with autodiff" in stdout
    assert "first disagreement" not in stdout
    if "rnn" in argv:
        assert "scores" in stdout and "h0" in stdout
    elif "fc-net" in argv:
        norm = "layernorm1.x" if "layernorm" in argv else "batchnorm1.x"
        assert norm in stdout and ("dropout1.x" in stdout) == ("--dropout" not in argv)
    else:
        assert "pool1.x" in stdout


def test_gradcheck_names_a_broken_batchnorm_backward(capsys, tmp_path, monkeypatch):
    from models import layers

    def forgot_the_mean(dout, cache):  # layers.batchnorm_backward's steps without dx's dmu / N
        x, x_hat, mu, var, eps, gamma, beta = cache
        std, dx_hat = np.sqrt(var + eps), dout * gamma
        dvar = -np.sum(dx_hat * (x - mu), axis=0) / (2 * std**3)
        dx = dx_hat / std + 2 * (x - mu) * dvar / len(x)
        return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)

    monkeypatch.setattr(layers, "batchnorm_backward", forgot_the_mean)
    status, stdout, _ = run(capsys, "gradcheck", "--model", "fc-net", "-o", tmp_path / "g.svg")
    assert status == 1
    assert "first disagreement: d loss/d batchnorm2.x" in stdout  # the last batchnorm first


@pytest.mark.parametrize("kind", list(RUNS))
def test_graph(capsys, tmp_path, kind):
    path = tmp_path / "graph.dot"
    status, stdout, _ = run(capsys, "graph", "--model", kind, "--show-grads", "-o", path)
    assert status == 0 and path.read_text().startswith("digraph")
    text = path.read_text()
    expected = {"fc-net": "batchnorm1.x", "conv-net": "conv", "rnn": "tanh"}[kind]
    assert expected in text


# --- options ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["train", "--model", "conv-net", "--dropout", "0.5"], "--dropout is for --model fc-net"),
    (["train", "--model", "two-layer", "--normalization", "batchnorm"],
     "--normalization is for --model fc-net"),
    (["train", "--model", "fc-net", "--cell", "lstm"], "--cell is for --model rnn"),
    (["train", "--model", "two-layer", "--epochs", "3"], "--epochs is for --model fc-net"),
    (["train", "--model", "fc-net", "--iters", "3"], "--iters is for --model softmax, two-layer"),
    (["train", "--model", "rnn", "--reg", "0.1"], "--reg is for --model"),
    (["train", "--model", "conv-net", "--eager"], "--eager is for --model softmax, two-layer"),
    (["train", "--model", "rnn", "--data", "spiral"], "--model rnn trains on captioned strips"),
    (["train", "--model", "conv-net", "--hidden", "3", "4"], "--hidden takes one size"),
    (["train", "--model", "two-layer", "--hidden", "3", "4"], "--hidden takes one size"),
    (["train", "--model", "fc-net", "--dropout", "0"], "argument --dropout: expected a number in"),
    (["gradcheck", "--model", "rnn", "--reg", "0.1"], "--reg is for --model"),
    (["graph", "--model", "conv-net", "--normalization", "none"],
     "--normalization is for --model fc-net"),
])
def test_options_a_model_does_not_take_are_one_line(capsys, tmp_path, monkeypatch, argv, message):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, *argv)
    assert status == 2
    one_error_line(err, message)
    assert list(tmp_path.iterdir()) == []  # refused before any output folder is made


def test_conv_net_refuses_data_without_images(capsys, tmp_path):
    status, _, err = run(capsys, "train", "--model", "conv-net", "--data", "spiral",
                         "--out", tmp_path / "out")
    assert status == 2
    one_error_line(err, "--model conv-net needs image data", "spiral")


def test_fc_net_learns_the_spiral(capsys, tmp_path):
    status, stdout, _ = run(capsys, "train", "--model", "fc-net", "--data", "spiral", "--epochs",
                            "30", "--batch-size", "30", "--lr", "0.01", "--quiet",
                            "--out", tmp_path)
    assert status == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["train_accuracy"] > 0.8  # a linear classifier stays near 0.5 on the spiral
    assert not (tmp_path / "weights.png").exists()  # 2-d points: no images to draw


# --- CIFAR-10's layout -------------------------------------------------------------------------------
def test_cifar_rows_reach_the_conv_net_as_channels_first_images():
    """CIFAR-10's rows are (32, 32, 3) images flattened; the conv net wants (3, 32, 32)."""
    rng = np.random.default_rng(0)
    hwc = rng.standard_normal((2, 32, 32, 3))
    ds = data.Dataset(*(hwc.reshape(2, -1), np.zeros(2, int)) * 3, num_classes=10,
                      image_shape=(32, 32, 3), name="cifar10")
    chw = cs231n.images(ds, ds.X_train)
    assert chw.shape == (2, 3, 32, 32)
    np.testing.assert_array_equal(chw[1, 2], hwc[1, :, :, 2])  # channel 2 of image 1
    digits = data.Dataset(*(np.arange(128.0).reshape(2, 64), np.zeros(2, int)) * 3,
                          num_classes=10, image_shape=(8, 8), name="digits")
    np.testing.assert_array_equal(cs231n.images(digits, digits.X_train)[1, 0, 2],
                                  np.arange(64.0, 128.0)[16:24])


def test_cifar_uses_cs231n_settings(tmp_path):
    """With --data cifar10:PATH the models take CIFAR_SETTINGS (cs231n's notebook settings)."""
    from models import cnn, fc_net

    for kind, module in (("conv-net", cnn), ("fc-net", fc_net)):
        args = main_args("train", "--model", kind, "--data", f"cifar10:{tmp_path}")
        model, solver, _ = cs231n.settings(args)
        expected = module.CIFAR_SETTINGS
        assert model == {**expected["model"],
                         "dtype": np.dtype(expected["model"].get("dtype", "float64")).type}
        assert solver == expected["solver"]


@pytest.mark.parametrize("kind", ["fc-net", "conv-net", "rnn"])
def test_the_settings_dtype_is_the_default_and_dtype_overrides_it(kind):
    from models import cnn, fc_net, rnn
    settings = {"fc-net": fc_net.DIGITS_SETTINGS, "conv-net": cnn.DIGITS_SETTINGS,
                "rnn": rnn.DIGITS_SETTINGS["rnn"]}[kind]
    model, _, _ = cs231n.settings(main_args("train", "--model", kind))
    assert model["dtype"] == np.dtype(settings["model"].get("dtype", "float64")).type
    for dtype in ("float32", "float64"):
        model, _, _ = cs231n.settings(main_args("train", "--model", kind, "--dtype", dtype))
        assert model["dtype"] == np.dtype(dtype).type


def main_args(*argv):
    from tensorflowlite_clone.app.cli import build_parser
    return build_parser().parse_args(list(argv))


def test_a_corrupt_config_in_a_checkpoint_is_one_line(trained, capsys, tmp_path):
    kind, out, _ = trained
    if kind != "conv-net":
        pytest.skip("one model is enough")
    from tensorflowlite_clone.app.checkpoint import load_checkpoint, save_checkpoint
    arrays, header = load_checkpoint(out / "model.npz")
    header["config"]["num_filters"] = 5  # the stored W1 has more filters
    bad = Path(tmp_path / "bad.npz")
    save_checkpoint(bad, {k: arrays[k] for k in arrays}, {k: v for k, v in header.items()
                                                         if k not in ("format", "version")})
    status, _, err = run(capsys, "predict", bad)
    assert status == 2
    one_error_line(err, "W1")


def write_fake_cifar(root, per_batch=220, n_test=20, seed=0):
    """A CIFAR-10 folder of random images (the python batches' layout: rows of 3072 bytes, the
    red plane, then green, then blue), enough for cs231n's 1,000 validation images."""
    import pickle
    rng = np.random.default_rng(seed)
    for name in data.CIFAR10_FILES:
        n = n_test if name == "test_batch" else per_batch
        batch = {"batch_label": name, "labels": [int(v) for v in rng.integers(0, 10, n)],
                 "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
                 "filenames": [f"{name}_{i}.png" for i in range(n)]}
        (root / name).write_bytes(pickle.dumps(batch, protocol=4))


@pytest.mark.parametrize("kind, extra", [("conv-net", ["--hidden", "10"]), ("fc-net", [])])
def test_train_on_cifar_runs_the_cifar_settings(capsys, tmp_path, kind, extra):
    root = tmp_path / "cifar"
    root.mkdir()
    write_fake_cifar(root)
    out = tmp_path / "out"
    status, stdout, _ = run(capsys, "train", "--model", kind, "--data", f"cifar10:{root}",
                            "--epochs", "1", *extra, "--quiet", "--out", out)
    assert status == 0 and "(ok)" in stdout
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["num_train"] == 100 and metrics["data"]["num_val"] == 1000
    settings = metrics["hyperparameters"]["settings"]
    if kind == "conv-net":  # the notebook's net, channels first
        assert metrics["data"]["model_input"] == [3, 32, 32]
        assert settings["num_filters"] == 32 and settings["filter_size"] == 7
        assert metrics["hyperparameters"]["solver"]["batch_size"] == 50
    else:
        assert settings["hidden_dims"] == [100] * 5 and settings["normalization"] == "batchnorm"
    assert (out / "weights.png").read_bytes()[:8] == PNG_MAGIC
