"""`tflc` against the bad-input report (issue 11): interrupted and concurrent runs, full disks,
directories where files go, failing or hanging Graphviz, odd checkpoint metadata, out-of-range
options, MemoryError, a closed stdout and Ctrl-C while starting up. Every failure is one line
on stderr and a known exit status; an output folder always describes one complete run."""
import errno
import fcntl
import io
import json
import os
import re
import signal
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure

import viz
from models import Softmax
from tensorflowlite_clone.app import cli
from tensorflowlite_clone.app.cli import main

ROOT = Path(__file__).resolve().parents[1]
# the smallest runs that still write every kind of file (digits: also weights.png)
DIGITS = ["train", "--iters", "3", "--hidden", "5", "--quiet"]
SPIRAL = ["train", "--data", "spiral", "--model", "softmax", "--iters", "3", "--quiet"]


def run(capsys, *argv):
    """main(argv) -> (exit status, stdout, stderr); never a traceback."""
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return status, out, err


def one_error_line(err, *words):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("tflc: error: "), err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def snapshot(folder):
    """{name: bytes} of every file in `folder` (the lock file included)."""
    return {p.name: p.read_bytes() for p in Path(folder).iterdir() if p.is_file()}


def no_staging_left(folder):
    return not any(p.name.startswith(".tflc-staging-") for p in Path(folder).iterdir())


def trained_folder(capsys, folder, *extra):
    status, _, _ = run(capsys, *DIGITS, "--out", folder, *extra)
    assert status == 0
    return snapshot(folder)


# --- S1-9: one run per folder -----------------------------------------------------------------
def test_ctrl_c_while_pictures_are_written_keeps_the_previous_run(capsys, tmp_path, monkeypatch):
    before = trained_folder(capsys, tmp_path)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt
    monkeypatch.setattr(viz, "plot_accuracy", interrupted)  # after model.npz and loss.png
    status, _, err = run(capsys, *DIGITS, "--seed", "3", "--out", tmp_path)
    assert status == 130 and err.strip() == "tflc: interrupted"
    assert snapshot(tmp_path) == before and no_staging_left(tmp_path)


def test_ctrl_c_during_the_swap_waits_until_the_folder_is_consistent(capsys, tmp_path,
                                                                      monkeypatch):
    trained_folder(capsys, tmp_path)
    move = cli.RunFolder._move

    def move_then_interrupt(self, name):  # Ctrl-C arrives as the first file is moved in
        os.kill(os.getpid(), signal.SIGINT)
        move(self, name)
    monkeypatch.setattr(cli.RunFolder, "_move", move_then_interrupt)
    status, _, err = run(capsys, *DIGITS, "--seed", "3", "--out", tmp_path)
    # (without Graphviz a note that the graph was written as .dot comes first)
    assert status == 130 and err.strip().splitlines()[-1] == "tflc: interrupted"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    model = cli.load_model(tmp_path / "model.npz")
    assert metrics["hyperparameters"]["seed"] == model.metadata["hyperparameters"]["seed"] == 3
    assert no_staging_left(tmp_path)


def test_a_second_run_into_a_locked_folder_is_refused(capsys, tmp_path):
    before = trained_folder(capsys, tmp_path)
    with open(tmp_path / ".tflc.lock", "a") as lock:  # as a run in another process holds it
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        status, out, err = run(capsys, *DIGITS, "--seed", "2", "--out", tmp_path)
    assert status == 2 and "train accuracy" not in out  # refused before training
    one_error_line(err, f"another tflc run is writing {tmp_path}")
    assert snapshot(tmp_path) == before


def test_the_run_replaces_only_its_own_files(capsys, tmp_path):
    trained_folder(capsys, tmp_path)  # digits: writes weights.png
    (tmp_path / "notes.txt").write_text("mine")
    (tmp_path / "loss_graph.dot").write_text("digraph {}")  # one of ours, from some earlier run
    dead = tmp_path / ".tflc-staging-killed"  # a run killed with SIGKILL
    dead.mkdir()
    (dead / "model.npz").write_bytes(b"half")
    status, _, _ = run(capsys, *SPIRAL, "--out", tmp_path)  # spiral: no weights.png
    assert status == 0
    names = {p.name for p in tmp_path.iterdir()}
    assert names == {"notes.txt", ".tflc.lock", "model.npz", "metrics.json", "loss.png",
                     "accuracy.png", "loss_graph.svg" if viz.graph.shutil.which("dot")
                     else "loss_graph.dot"}
    assert (tmp_path / "notes.txt").read_text() == "mine"
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["data"]["spec"] == "spiral"
    assert set(metrics["files"].values()) == {str(tmp_path / n) for n in names
                                              if n not in ("notes.txt", ".tflc.lock",
                                                           "metrics.json")}


# --- S2-12 / S2-13: output paths that are directories, full disks ------------------------------
@pytest.mark.parametrize("name", ["model.npz", "metrics.json", "loss_graph.svg"])
def test_a_directory_where_an_output_goes_fails_before_training(capsys, tmp_path, name):
    (tmp_path / name).mkdir()
    status, out, err = run(capsys, *DIGITS, "--out", tmp_path)
    assert status == 2 and "train accuracy" not in out
    assert one_error_line(err) == f"tflc: error: cannot write {tmp_path / name}: it is a directory"


def test_predict_plot_that_is_a_directory_fails_before_the_table(capsys, tmp_path):
    model = Softmax(np.zeros((2, 3))).save(tmp_path / "m.npz", {"data": {"spec": "spiral"}})
    (tmp_path / "cm.png").mkdir()
    status, out, err = run(capsys, "predict", model, "--plot", tmp_path / "cm.png")
    assert status == 2 and out == ""
    one_error_line(err, str(tmp_path / "cm.png"), "is a directory")


def disk_full(*args, **kwargs):
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_names_the_file_and_keeps_the_previous_run(capsys, tmp_path, monkeypatch):
    before = trained_folder(capsys, tmp_path)
    monkeypatch.setattr(np, "savez", disk_full)
    status, _, err = run(capsys, *DIGITS, "--seed", "3", "--out", tmp_path)
    assert status == 2
    assert one_error_line(err) == (f"tflc: error: cannot write {tmp_path / 'model.npz'}: "
                                   f"No space left on device")
    assert snapshot(tmp_path) == before and no_staging_left(tmp_path)


def test_disk_full_while_a_picture_is_written_leaves_no_partial_picture(capsys, tmp_path,
                                                                        monkeypatch):
    out = tmp_path / "run"
    savefig = Figure.savefig

    def half_then_full(self, fname, **kwargs):  # the accuracy plot: some bytes, then no space
        if any(ax.get_title() == "Classification accuracy" for ax in self.axes):
            if isinstance(fname, (str, Path)):
                Path(fname).write_bytes(b"\x89PNG half")
            else:
                fname.write(b"\x89PNG half")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return savefig(self, fname, **kwargs)
    monkeypatch.setattr(Figure, "savefig", half_then_full)
    status, _, err = run(capsys, *DIGITS, "--out", out)
    assert status == 2
    one_error_line(err, f"cannot write {out / 'accuracy.png'}: No space left on device")
    assert {p.name for p in out.iterdir()} == {".tflc.lock"}  # nothing half-written


# --- S2-4: a Graphviz `dot` that fails or hangs ------------------------------------------------
def fake_dot(tmp_path, monkeypatch, script):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dot").write_text("#!/bin/sh\n" + script + "\n")
    (bin_dir / "dot").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


FAILING_DOT = 'echo "Error: syntax error in line 1" >&2; exit 1'


@pytest.mark.parametrize("command", ["graph", "gradcheck"])
def test_failing_dot_falls_back_to_the_dot_source(capsys, tmp_path, monkeypatch, command):
    fake_dot(tmp_path, monkeypatch, FAILING_DOT)
    status, out, err = run(capsys, command, "-o", tmp_path / "x.svg")
    assert status == 0 and f"wrote {tmp_path / 'x.dot'}" in out
    assert not (tmp_path / "x.svg").exists()
    assert (tmp_path / "x.dot").read_text().startswith("digraph")
    assert err.strip() == ("note: Graphviz's dot failed to draw x.svg: Error: syntax error in "
                           "line 1; wrote the graph's source to x.dot instead of x.svg")


def test_failing_dot_in_train_writes_the_dot_source_and_the_rest(capsys, tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, FAILING_DOT)
    status, _, err = run(capsys, *SPIRAL, "--out", tmp_path / "out")
    assert status == 0 and len(err.strip().splitlines()) == 1 and "failed" in err
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert {"loss_graph.dot", "metrics.json", "model.npz"} <= names
    assert "loss_graph.svg" not in names


def test_hanging_dot_is_stopped_and_falls_back(capsys, tmp_path, monkeypatch):
    fake_dot(tmp_path, monkeypatch, "exec sleep 60")
    monkeypatch.setattr(viz.graph, "DOT_TIMEOUT", 0.5)
    status, out, err = run(capsys, "graph", "-o", tmp_path / "x.svg")
    assert status == 0 and (tmp_path / "x.dot").is_file()
    assert "did not finish drawing x.svg within 0.5 s" in err
    assert len(err.strip().splitlines()) == 1


def test_without_dot_an_existing_dot_file_is_replaced_aloud(capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    (tmp_path / "x.dot").write_text("my own graph")
    status, _, err = run(capsys, "graph", "-o", tmp_path / "x.svg")
    assert status == 0
    assert "(replacing the existing x.dot)" in err and len(err.strip().splitlines()) == 1


# --- S2-5: odd but valid JSON in a checkpoint's metadata ---------------------------------------
@pytest.mark.parametrize("metadata, message", [
    ("str", "metadata['metadata'] should be an object, found str"),
    ({"data": [1]}, "metadata.data should be an object, found list"),
    ({"data": {"spec": 5}}, "metadata.data.spec should be a data spec, found 5"),
    ({"data": {"spec": "spiral", "split_seed": "zero"}}, "split_seed should be an integer"),
    ({"data": {"spec": "spiral", "split_seed": -5}}, "split_seed should be an integer"),
])
def test_predict_refuses_odd_metadata_in_one_line(capsys, tmp_path, metadata, message):
    path = Softmax(np.zeros((2, 3))).save(tmp_path / "m.npz", metadata)
    status, _, err = run(capsys, "predict", path)
    assert status == 2
    one_error_line(err, str(path), message)


def test_predict_refuses_an_unhashable_kind(capsys, tmp_path):
    from tensorflowlite_clone.app.checkpoint import save_checkpoint
    path = save_checkpoint(tmp_path / "m.npz", {"W": np.zeros((2, 3))}, {"kind": [1]})
    status, _, err = run(capsys, "predict", path)
    assert status == 2
    one_error_line(err, "unknown model kind [1]")


def test_predict_on_a_directory_says_so(capsys, tmp_path):
    status, _, err = run(capsys, "predict", tmp_path)
    assert status == 2
    one_error_line(err, f"{tmp_path}: is a directory")


# --- S2-2 and the options of severity 3 ---------------------------------------------------------
@pytest.mark.parametrize("argv, message", [
    (["train", "--seed", "4294967296"], "argument --seed: expected an integer in 0..4294967295, "
                                        "got 4294967296"),
    (["train", "--split-seed", "-1"], "argument --split-seed: expected an integer in 0..4294967295"),
    (["gradcheck", "--seed", str(2**40)], "argument --seed: expected an integer in 0..4294967295"),
    (["graph", "--seed", "4294967296"], "argument --seed: expected an integer in 0..4294967295"),
    (["train", "--out", ""], "argument --out: expected a path, got ''"),
    (["graph", "-o", ""], "argument -o/--output: expected a path, got ''"),
    (["predict", ""], "argument checkpoint: expected a path, got ''"),
    (["train", "--threads", "100000"], "argument --threads: expected an integer in 1..256"),
    (["bench", "--threads", "100000"], "argument --threads: expected an integer in 1..256"),
    (["train", "--model", "softmax", "--hidden", "5"], "--hidden is for --model two-layer"),
    (["gradcheck", "--model", "softmax", "--hidden", "5"], "--hidden is for --model two-layer"),
    (["graph", "--model", "softmax", "--hidden", "5"], "--hidden is for --model two-layer"),
])
def test_bad_options_are_one_line_before_any_output_folder(capsys, tmp_path, monkeypatch, argv,
                                                          message):
    monkeypatch.chdir(tmp_path)
    status, _, err = run(capsys, *argv)
    assert status == 2
    one_error_line(err, message)
    assert list(tmp_path.iterdir()) == []  # no out/, nothing written in the current folder


@pytest.mark.parametrize("option, value", [("--reg", "1e308"), ("--init-std", "1e300")])
def test_divergence_from_the_start_does_not_blame_the_learning_rate(capsys, tmp_path, option,
                                                                     value):
    status, _, err = run(capsys, *DIGITS, option, value, "--out", tmp_path)
    line = one_error_line(err, "training diverged at iteration 0", "--init-std", "--reg",
                          "before any update")
    assert status == 2 and "try a smaller --lr" not in line


# --- S2-3: MemoryError ------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [DIGITS, ["gradcheck"]])
def test_out_of_memory_is_one_line_naming_the_size(capsys, tmp_path, command):
    # 10**15 hidden units: petabytes, more than any address space, so allocating fails at once
    status, _, err = run(capsys, *command, "--hidden", 10**15,
                         *(["--out", tmp_path] if command is DIGITS else ["-o", tmp_path / "g.dot"]))
    assert status == 2
    one_error_line(err, "not enough memory", f"--hidden {10**15}")


# --- severity 3: a closed stdout ----------------------------------------------------------------------
class ClosedPipe(io.StringIO):
    """stdout of `tflc ... | head -1` once head has gone: the buffered text fails on flush."""

    def flush(self):
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


def test_closed_stdout_is_quiet_and_not_gradchecks_failure_status(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    status = main(["gradcheck", "-o", str(tmp_path / "g.dot")])
    assert status == 141  # 128 + SIGPIPE, not 1 ("the gradients disagree")
    assert capsys.readouterr().err == ""


# --- S2-14: Ctrl-C while the command line is still being imported ------------------------------
class InterruptingImport:
    """A meta path finder that is 'interrupted' when tensorflowlite_clone.app.cli is imported."""

    def find_spec(self, name, path=None, target=None):
        if name == "tensorflowlite_clone.app.cli":
            raise KeyboardInterrupt
        return None


def test_ctrl_c_while_importing_is_one_line(capsys, monkeypatch):
    from tensorflowlite_clone.app import __main__ as entry
    monkeypatch.delitem(sys.modules, "tensorflowlite_clone.app.cli")
    monkeypatch.setattr(sys, "meta_path", [InterruptingImport(), *sys.meta_path])
    assert entry.run() == 130
    assert capsys.readouterr().err == "tflc: interrupted\n"


def test_the_console_script_is_the_guarded_entry_point():
    scripts = re.search(r"\[project\.scripts\]\n(.*?)\n\n", (ROOT / "pyproject.toml").read_text(),
                        re.S).group(1)
    assert 'tflc = "tensorflowlite_clone.app.__main__:run"' in scripts
