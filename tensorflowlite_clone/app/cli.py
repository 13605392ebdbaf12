"""The `tflc` command line (also `python -m tensorflowlite_clone`).

    tflc train                                  # two-layer net on the bundled digits -> out/
    tflc train --model softmax --data spiral --out runs/spiral
    tflc train --model conv-net                 # cs231n's models: fc-net, conv-net, rnn (captions)
    tflc gradcheck --model two-layer            # autodiff vs hand-derived vs numerical
    tflc graph --model softmax -o softmax.svg   # the computation graph of the loss
    tflc explore --model two-layer --check      # step through forward and backward: explore.html
    tflc predict out/model.npz                  # test accuracy and confusion matrix
    tflc bench --sizes tiny --rounds 3          # engine vs hand-derived speed and memory

Expected failures (bad arguments, missing or corrupt files, a full disk, not enough memory) are
one line on stderr, `tflc: error: ...`, and exit status 2. Ctrl-C is `tflc: interrupted` and exit
status 130; a closed pipe on stdout (`tflc gradcheck | head -1`) ends quietly with exit status 141
(128 + SIGPIPE, what a shell reports for a program stopped that way), so that it is not mistaken
for gradcheck's 1 ("the gradients disagree").
"""
import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import sys
import tempfile
import time
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no lock on the output folder
    fcntl = None

import numpy as np
from tqdm import tqdm

import tensorflowlite_clone as tflc
import viz
from benchmarks import harness
from models import Softmax, TwoLayerNet
from tensorflowlite_clone.gradcheck import compare_gradients
from tensorflowlite_clone.optim import SGD, Adam

from . import cs231n, data, live, training
from .checkpoint import CheckpointError, load_checkpoint
from .files import atomic_write
from .training import accuracy

MODELS = {"softmax": Softmax, "two-layer": TwoLayerNet}  # the names are the checkpoint kinds
KINDS = (*MODELS, *cs231n.KINDS)  # and cs231n's assignment 2-3 models (app/cs231n.py)
# Defaults of `tflc train` that depend on the data: the 300-point spiral has few minibatches per
# epoch, so a per-epoch decay would stall it; it wants a larger, constant step and a weaker reg.
TRAIN_DEFAULTS = {"lr": 1e-3, "lr_decay": 0.99, "reg": 1e-3, "iters": 2000}
SPIRAL_DEFAULTS = {"lr": 1e-2, "lr_decay": 1.0, "reg": 1e-4, "iters": 3000}
OPTIMIZERS = ("sgd", "momentum", "adam")
MOMENTUM = 0.9
DTYPES = ("float64", "float32")
MAX_SEED = 2**32 - 1  # NumPy's legacy seeding (np.random.seed) takes no more
MAX_THREADS = 256
SMALL_PROBLEM_REG = 0.05  # `tflc gradcheck` and `tflc graph`: enough to show the reg terms
# The files `tflc train` writes into its output folder: it owns these names there (see RunFolder).
TRAIN_OUTPUTS = ("model.npz", "loss.png", "accuracy.png", "weights.png", "captions.png",
                 "loss_graph.svg", "loss_graph.dot", "metrics.json")


def is_seed(value):
    """Whether `value` can seed every generator here (np.random.seed takes 0..2**32-1)."""
    return type(value) is int and 0 <= value <= MAX_SEED


class CommandError(Exception):
    """Something the user asked for cannot be done; `main` prints it as one line."""


# --- training ---------------------------------------------------------------------------------
def default_init_std(kind, input_size):
    """He initialisation, sqrt(2 / D), for the two-layer net; cs231n's 0.001 for softmax."""
    return math.sqrt(2.0 / input_size) if kind == "two-layer" else 0.001


def new_model(kind, input_size, num_classes, hidden_size, init_std, dtype=np.float64):
    """A fresh model, weights std * N(0, 1) from NumPy's global generator (seed it first)."""
    if kind == "softmax":
        return Softmax((init_std * np.random.randn(input_size, num_classes)).astype(dtype))
    net = TwoLayerNet(input_size, hidden_size, num_classes, std=init_std)
    net.params = {k: v.astype(dtype) for k, v in net.params.items()}
    return net


def loss_and_grads(model, X, y, reg, method="traced"):
    """(loss, grads keyed like model.params) by autodiff, for either model: the tape's step
    compiled by tflc.jit ("traced"), or run eagerly ("autodiff", `--eager`)."""
    if isinstance(model, Softmax):
        loss, dW = model.loss(X, y, reg, method=method)
        return loss, {"W": dW}
    return model.loss(X, y, reg=reg, method=method)


def make_optimizer(name, lr):
    return {"sgd": lambda: SGD(lr), "momentum": lambda: SGD(lr, momentum=MOMENTUM),
            "adam": lambda: Adam(lr)}[name]()


def fit(model, ds, *, optimizer, lr_decay, reg, iters, batch_size, seed, quiet=False,
        method="traced", view=None):
    """`tflc train`'s schedule for `training.fit`: minibatches drawn with replacement from
    default_rng(seed), which first picks the up to 1000 fixed training examples the training
    accuracy is measured on; the accuracies and the decay at the end of every epoch (the
    accuracies also at the last iteration); a tqdm progress bar unless `quiet`. A loss that
    turns NaN or inf stops training with a CommandError. Returns the histories under
    TwoLayerNet.train's keys. `view`: a live.LiveTraining that follows the training.
    """
    rng = np.random.default_rng(seed)
    n = len(ds.X_train)
    probe = rng.choice(n, min(n, 1000), replace=False)

    def checked_loss_and_grads(X, y):
        with np.errstate(all="ignore"):  # a diverging loss is reported below, in one line
            loss, grads = loss_and_grads(model, X, y, reg, method)
        if not math.isfinite(loss):
            it = optimizer.iterations  # one step per iteration so far
            # before the first update the step size cannot be the cause
            hint = (f"before any update, so not --lr: try a smaller --init-std or --reg "
                    f"(now {reg:g})" if it == 0 else "try a smaller --lr")
            raise CommandError(f"training diverged at iteration {it}: the loss is {loss}; {hint}")
        return loss, grads

    follow = {} if view is None else {"on_step": view.on_step, "history": view.history}
    return training.fit(model, ds.X_train, ds.y_train, checked_loss_and_grads, **follow,
                        optimizer=optimizer, num_iters=iters, batch_size=batch_size,
                        val=(ds.X_val, ds.y_val), lr_decay=lr_decay,
                        sample=lambda num_train, size: rng.integers(0, num_train, size),
                        at_epoch="end", probe=(ds.X_train[probe], ds.y_train[probe]),
                        progress=not quiet)


@contextlib.contextmanager
def blas_threads(threads):
    """Limit BLAS to `threads` threads (small matrices are fastest on one), if threadpoolctl
    (a scikit-learn dependency) is there."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(limits=threads, user_api="blas"):
        yield


def given_options(args):
    """The dests of the options the user set (their defaults are None)."""
    return {dest for dest, value in vars(args).items() if value is not None}


def cmd_train(args):
    start = time.perf_counter()
    check_options(args)
    if args.model in cs231n.KINDS:
        with cs231n_errors():
            settings = cs231n.settings(args)
            # fail before the output folder is made
            arrays, ds = cs231n.load_data(args.model, args.data, args.split_seed, settings[2],
                                          settings[0]["dtype"])
            with RunFolder.open(args.out) as run:
                files = train_cs231n(args, settings, arrays, ds, run, start)
                run.commit()
        print("wrote " + ", ".join(str(p) for p in files.values()))
        return 0
    defaults = SPIRAL_DEFAULTS if args.data == "spiral" else TRAIN_DEFAULTS
    for name, value in {**defaults, "batch_size": 100, "optimizer": "adam",
                        "dtype": "float64"}.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    args.hidden = hidden_size(args, 100)
    ds = data.load(args.data, seed=args.split_seed, dtype=args.dtype)
    with RunFolder.open(args.out) as run:  # fail before training, not after
        files = train(args, ds, run, start)
        run.commit()
    print("wrote " + ", ".join(str(p) for p in files.values()))
    return 0


def train(args, ds, run, start):
    """Train, check and write everything into `run`'s staging folder; returns {what: path}."""
    hyperparameters = {k: getattr(args, k) for k in ("model", "lr", "lr_decay", "reg", "iters",
                                                     "batch_size", "optimizer", "seed", "dtype")}
    hyperparameters["step"] = "eager" if args.eager else "traced"
    hyperparameters["init_std"] = args.init_std or default_init_std(args.model, ds.X_train.shape[1])
    if args.model == "two-layer":
        hyperparameters["hidden"] = args.hidden
    if args.optimizer == "momentum":
        hyperparameters["momentum"] = MOMENTUM
    np.random.seed(args.seed)
    model = new_model(args.model, ds.X_train.shape[1], ds.num_classes, args.hidden,
                      hyperparameters["init_std"], args.dtype)
    with blas_threads(args.threads):
        with live_view(args, model, (ds.X_train, ds.y_train), args.reg, ds.image_shape) as view:
            fit_start = time.perf_counter()
            stats = fit(model, ds, optimizer=make_optimizer(args.optimizer, args.lr),
                        lr_decay=args.lr_decay, reg=args.reg, iters=args.iters,
                        batch_size=args.batch_size, seed=args.seed, quiet=args.quiet,
                        method="autodiff" if args.eager else "traced", view=view)
            train_seconds = time.perf_counter() - fit_start
        result = {f"{split}_accuracy": accuracy(model, getattr(ds, f"X_{split}"),
                                                getattr(ds, f"y_{split}"))
                  for split in ("train", "val", "test")}
        check = gradcheck_summary(float64_copy(model), ds.X_train[:5].astype(np.float64),
                                  ds.y_train[:5], args.reg, small_problem(args.model, args.seed))
    print(f"train accuracy {result['train_accuracy']:.4f}   validation accuracy "
          f"{result['val_accuracy']:.4f}   test accuracy {result['test_accuracy']:.4f}   "
          f"({args.iters} iterations in {train_seconds:.1f} s)")
    print_check(check)

    data_info = {"spec": args.data, "name": ds.name, "split_seed": args.split_seed,
                 "num_train": len(ds.X_train), "num_val": len(ds.X_val), "num_test": len(ds.X_test),
                 "num_classes": ds.num_classes, "image_shape": list(ds.image_shape),
                 "preprocessing": ds.preprocessing}
    metadata = jsonable({"hyperparameters": hyperparameters, "data": data_info, **result})
    files = {"checkpoint": run.write("model.npz", lambda path: model.save(
                 path, metadata, mean_image=ds.mean_image)),
             **write_pictures(model, ds, stats, args.reg, run)}
    metrics = {**result, "final_loss": stats["loss_history"][-1], **stats,
               "hyperparameters": hyperparameters, "data": data_info, "gradcheck": check,
               "timing": {"train_seconds": train_seconds,
                          "ms_per_iteration": 1e3 * train_seconds / args.iters,
                          "total_seconds": time.perf_counter() - start}}
    return write_metrics(run, metrics, files)


@contextlib.contextmanager
def live_view(args, model, rows, reg, image_shape):
    """`--live`: the page that follows the training (app/live.py) while the block runs, its
    probe on the first of the training `rows` (X, y); None without --live."""
    if not args.live:
        yield None
        return
    X, y = rows
    batch = (X[:live.PROBE_ROWS], y[:live.PROBE_ROWS])
    with live.LiveTraining(model, port=args.port, batch=batch, reg=reg, image_shape=image_shape,
                           title=f"tflc train --model {args.model}") as view:
        print(f"live view: {view.url} (Ctrl-C stops training)", flush=True)
        yield view


def print_check(check):
    print(f"gradient check: hand-derived vs autodiff {check['hand_vs_autodiff']:.1e}, numerical "
          f"vs autodiff {check['numerical_vs_autodiff']:.1e} ({'ok' if check['ok'] else 'FAILED'})")


def write_metrics(run, metrics, files):
    """metrics.json (the run's numbers and the files it wrote) into `run`; returns `files` with
    it added."""
    text = json.dumps(jsonable({**metrics, "files": {k: str(v) for k, v in files.items()}}),
                      indent=2) + "\n"
    files["metrics"] = run.write("metrics.json",
                                 lambda path: atomic_write(path, lambda f: f.write(text.encode())))
    return files


def train_cs231n(args, settings, arrays, ds, run, start):
    """`train` for cs231n's models (app/cs231n.py): the Solver with `settings` (the model
    module's, with the user's options) on the data dict `arrays` (from the Dataset `ds`; None
    for the captions); the same report, checkpoint, pictures and metrics.json as `train`."""
    model_kwargs, solver_kwargs, data_kwargs = settings
    np.random.seed(args.seed)  # cs231n's draws: the weights, then the Solver's batches
    model = cs231n.new_model(args.model, model_kwargs, arrays)
    with blas_threads(args.threads):
        with live_view(args, model, cs231n.check_batch(args.model, arrays, live.PROBE_ROWS),
                       model_kwargs.get("reg", 0.0), getattr(ds, "image_shape", None)) as view:
            fit_start = time.perf_counter()
            solver = cs231n.train_model(args.model, model, arrays, solver_kwargs, not args.quiet,
                                        view)
            train_seconds = time.perf_counter() - fit_start
        result = cs231n.accuracies(args.model, model, arrays)
        X, y = cs231n.check_batch(args.model, arrays)
        reg = model_kwargs.get("reg", 0.0)
        check = gradcheck_summary(cs231n.float64_copy(model), X, y, reg, cs231n.small_problem(
            args.model, args.seed, normalization=cs231n.normalization_of(model),
            dropout=cs231n.keep_ratio_of(model), cell=args.cell))
    what = "exact captions" if args.model == "rnn" else "accuracy"
    iterations = len(solver.loss_history)
    print(f"train {what} {result['train_accuracy']:.4f}   validation {what} "
          f"{result['val_accuracy']:.4f}   test {what} {result['test_accuracy']:.4f}   "
          f"({iterations} iterations in {train_seconds:.1f} s)")
    print_check(check)

    hyperparameters = {"model": args.model, "solver": solver_kwargs, "seed": args.seed,
                       "settings": {**model_kwargs, "dtype": np.dtype(model_kwargs["dtype"]).name}}
    data_info = {"spec": args.data, "split_seed": args.split_seed,
                 **cs231n.data_info(args.model, arrays, ds, data_kwargs)}
    metadata = jsonable({"hyperparameters": hyperparameters, "data": data_info, **result})
    files = {"checkpoint": run.write("model.npz", lambda path: cs231n.save(model, path, metadata))}
    files.update(write_cs231n_pictures(args.model, model, arrays, ds, solver, reg, run))
    stats = {key: getattr(solver, key) for key in training.HISTORY if hasattr(solver, key)}
    metrics = {**result, "final_loss": solver.loss_history[-1], **stats,
               "hyperparameters": hyperparameters, "data": data_info, "gradcheck": check,
               "timing": {"train_seconds": train_seconds,
                          "ms_per_iteration": 1e3 * train_seconds / max(iterations, 1),
                          "total_seconds": time.perf_counter() - start}}
    return write_metrics(run, metrics, files)


def write_cs231n_pictures(kind, model, arrays, ds, solver, reg, run):
    """loss.png; accuracy.png (the classifiers); weights.png (the fc-net's first layer on image
    data, the conv net's filters); captions.png (the captioner's test strips with its captions);
    the graph of the loss on a few training examples."""
    files = {"loss_plot": run.write("loss.png", lambda path: viz.plot_loss(
        solver.loss_history, path))}
    if kind != "rnn":
        files["accuracy_plot"] = run.write("accuracy.png", lambda path: viz.plot_accuracy(
            solver.train_acc_history, solver.val_acc_history, path))
    if kind == "conv-net":
        W1 = model.params["W1"]
        files["weights"] = run.write("weights.png", lambda path: viz.plot_weights(
            W1.reshape(len(W1), -1), W1.shape[1:], path, max_filters=100,
            title=f"First-layer filters ({len(W1)} of {W1.shape[1:]})"))
    elif kind == "fc-net" and len(ds.image_shape) >= 2:
        files["weights"] = run.write("weights.png", lambda path: viz.plot_weights(
            model.params["W1"], ds.image_shape, path, max_filters=100))
    if kind == "rnn":
        files["captions"] = run.write("captions.png", lambda path: cs231n.plot_test_captions(
            model, arrays, path))
    X, y = cs231n.check_batch(kind, arrays, 4)
    graph = loss_graph(model, X, y, reg)
    files["loss_graph"] = run.write("loss_graph.svg", lambda path: render_or_dot(graph, path))
    return files


def write_pictures(model, ds, stats, reg, run):
    """The loss and accuracy plots, the first-layer weights (image data only) and the graph of
    the loss on 4 training examples, written into `run` (a RunFolder); returns {what: path}."""
    files = {"loss_plot": run.write("loss.png", lambda path: viz.plot_loss(
                 stats["loss_history"], path)),
             "accuracy_plot": run.write("accuracy.png", lambda path: viz.plot_accuracy(
                 stats["train_acc_history"], stats["val_acc_history"], path))}
    if len(ds.image_shape) >= 2:  # W1's columns (softmax: W's class templates) as images
        weights = model.params["W" if isinstance(model, Softmax) else "W1"]
        files["weights"] = run.write("weights.png", lambda path: viz.plot_weights(
            weights, ds.image_shape, path, max_filters=100))
    graph = loss_graph(model, ds.X_train[:4], ds.y_train[:4], reg)
    files["loss_graph"] = run.write("loss_graph.svg", lambda path: render_or_dot(graph, path))
    return files


@contextlib.contextmanager
def writing(path):
    """Turn an OSError (a full disk, a read-only folder...) into one line naming `path`."""
    try:
        yield
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror or error}") from None


class RunFolder:
    """The output folder D of `tflc train`, which always describes one complete run.

    - Every file is first written into a staging folder inside D (``D/.tflc-staging-*``: on
      D's own filesystem, so that moving a file out of it is an atomic rename). Nothing in D
      changes until `commit`: an error, a full disk or Ctrl-C before then leaves D's previous
      files as they were, and the staging folder is removed.
    - `commit` moves the files into D, one atomic rename each, and removes the TRAIN_OUTPUTS
      this run did not write (weights.png after an earlier digits run, say). Only those names
      are ours: any other file in D is the user's and is left alone. metrics.json, which
      lists the run's files, goes last, and a Ctrl-C during the moves waits until they are done.
    - The run holds an exclusive lock on D for its whole length (``flock`` on
      ``D/.tflc.lock``, which stays there: removing a lock file races with the next run taking
      it), so a second run into the same D fails at once, "another tflc run is writing D",
      instead of mixing its files with this run's. The staging folder of a run that was killed
      is removed by the next one. Without `fcntl` (Windows) there is no lock.
    """

    LOCK = ".tflc.lock"
    STAGING_PREFIX = ".tflc-staging-"

    def __init__(self, folder, staging):
        self.folder, self.staging = folder, staging

    @classmethod
    @contextlib.contextmanager
    def open(cls, folder):
        folder = Path(folder)
        for name in TRAIN_OUTPUTS:
            if (folder / name).is_dir():
                raise CommandError(f"cannot write {folder / name}: it is a directory")
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / cls.LOCK, "a") as lock:
            if fcntl is not None:
                try:
                    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise CommandError(f"another tflc run is writing {folder}") from None
            for stale in folder.glob(cls.STAGING_PREFIX + "*"):  # we hold the lock: a dead run's
                shutil.rmtree(stale, ignore_errors=True)
            staging = Path(tempfile.mkdtemp(prefix=cls.STAGING_PREFIX, dir=folder))
            try:
                yield cls(folder, staging)
            finally:
                shutil.rmtree(staging, ignore_errors=True)

    def write(self, name, writer):
        """`writer(path)` writes the file `name` into the staging folder and returns the path
        it wrote (the graph may come back as .dot); returns that file's path in the folder."""
        with writing(self.folder / name):
            written = Path(writer(self.staging / name))
        return self.folder / written.name

    def commit(self):
        """Move the staged files into the folder (see the class docstring)."""
        staged = {path.name for path in self.staging.iterdir()}
        with interrupts_deferred():
            for name in sorted(staged - {"metrics.json"}):
                self._move(name)
            for name in sorted(set(TRAIN_OUTPUTS) - staged):  # an earlier run's, not this one's
                with writing(self.folder / name), contextlib.suppress(FileNotFoundError):
                    (self.folder / name).unlink()
            if "metrics.json" in staged:
                self._move("metrics.json")

    def _move(self, name):
        with writing(self.folder / name):
            os.replace(self.staging / name, self.folder / name)


@contextlib.contextmanager
def interrupts_deferred():
    """Ctrl-C during the block takes effect when the block is done (a KeyboardInterrupt then)."""
    caught = []
    try:
        previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    except ValueError:  # not the main thread, which is the only one Python signals reach
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


def jsonable(value):
    """`value` with NumPy scalars, arrays and tuples turned into plain JSON types."""
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if hasattr(v, "tolist")
                                 else str(v)))


# --- small problems for gradcheck and graph ---------------------------------------------------
def small_problem(kind, seed, batch=5, hidden=8, spec=None):
    """(X, y, model) in float64: `batch` training examples of the data `spec`, or random data
    (6 features, 3 classes) without one, and a fresh small model drawn from `seed`."""
    rng = np.random.default_rng(seed)
    if spec:
        ds = data.load(spec, seed=seed)
        X, y, num_classes = ds.X_train[:batch], ds.y_train[:batch], ds.num_classes
    else:
        X, y, num_classes = rng.standard_normal((batch, 6)), rng.integers(0, 3, batch), 3
    np.random.seed(seed)
    # std 1/sqrt(D): scores of order one, so the softmax is neither flat nor saturated
    model = new_model(kind, X.shape[1], num_classes, hidden, 1 / math.sqrt(X.shape[1]))
    return X, y, model


def float64_copy(model):
    if isinstance(model, Softmax):
        return Softmax(model.W.astype(np.float64))
    return TwoLayerNet.from_params({k: v.astype(np.float64) for k, v in model.params.items()})


def gradcheck_summary(trained, X, y, reg, fresh):
    """After training: the trained model's hand-derived gradients vs autodiff on (X, y) (a few
    training examples; the model in float64), and finite differences vs autodiff on `fresh`,
    the (X, y, model) of a small random problem of the same kind (finite differences cost two
    forward passes per entry)."""
    checked = compare_gradients(trained, X, y, reg, numerical=False)
    Xs, ys, model = fresh
    numeric = compare_gradients(model, Xs, ys, reg)
    return {"batch_size": len(X), "ok": checked.ok and numeric.ok,
            "hand_vs_autodiff": max(r.hand_vs_autodiff for r in checked.rows
                                    if r.hand_vs_autodiff is not None),
            "numerical_vs_autodiff": max(r.numerical_vs_autodiff for r in numeric.rows),
            "numerical_model": f"fresh {type(model).__name__} on {Xs.shape} data"}


def loss_graph(model, X, y, reg, hand_derived=None, rtol=None, show_values=False,
               show_grads=False, title=None):
    """The Graphviz drawing of the model's loss on (X, y)."""
    with tflc.GradientTape(persistent=True) as tape:
        loss, tensors = model.forward_tensors(X, y, reg)
    return viz.draw_graph(tape, loss, inputs={"X": X, "y": y}, hand_derived=hand_derived,
                          rtol=rtol, show_values=show_values, show_grads=show_grads, title=title,
                          collapse=cs231n.layer_boxes(model, tensors))


def render_or_dot(graph, path):
    """Render `graph` to `path`. If Graphviz's `dot` is missing, fails or hangs (viz.render
    stops it after viz.DOT_TIMEOUT seconds), write the DOT source (path.dot) instead and say so
    in one line on stderr, also when that replaces an existing .dot file."""
    path = Path(path)
    try:
        return viz.render(graph, path)
    except viz.GraphvizError as error:
        missing = isinstance(error, viz.GraphvizNotFoundError)
        reason = ("Graphviz's `dot` program was not found" if missing
                  else str(error).splitlines()[0].removeprefix("render: "))
        dot_path = path.with_suffix(".dot")
        replacing = f" (replacing the existing {dot_path.name})" if dot_path.exists() else ""
        viz.render(graph, dot_path)
        print(f"note: {reason}; wrote the graph's source to {dot_path.name}{replacing} instead "
              f"of {path.name}{' (install Graphviz to draw it)' if missing else ''}",
              file=sys.stderr)
        return dot_path


def check_output(path, suffixes, what):
    """Fail before the work, not after it: a known suffix (if `suffixes`), not a directory,
    and a folder that exists or can be made."""
    path = Path(path)
    if suffixes and path.suffix.lower() not in suffixes:
        raise CommandError(f"{what} {str(path)!r}: use one of the suffixes {', '.join(suffixes)}")
    if path.is_dir():
        raise CommandError(f"cannot write {what} {path}: it is a directory")
    path.parent.mkdir(parents=True, exist_ok=True)  # OSError: one line from main


def check_options(args):
    """Refuse, in one line, an option the chosen model does not take."""
    with cs231n_errors():
        cs231n.check_options(args, given_options(args))


def hidden_size(args, default):
    """The two-layer net's --hidden (one size), or `default`; the softmax classifier has no
    hidden layer (the cs231n models read --hidden in app/cs231n.py)."""
    if args.hidden is not None and args.model == "softmax":
        raise CommandError("--hidden is for --model two-layer, fc-net, conv-net and rnn: the "
                           "softmax classifier has no hidden layer")
    if args.hidden is None:
        return default
    if len(args.hidden) != 1:
        raise CommandError(f"--hidden takes one size for --model two-layer, got "
                           f"{len(args.hidden)} (several are for --model fc-net)")
    return args.hidden[0]


def problem(args):
    """(X, y, model): the small problem `tflc gradcheck` and `tflc graph` draw; sets args.reg's
    default (0 for the captioner, which has no regularisation)."""
    check_options(args)
    if args.model in cs231n.KINDS:
        if args.reg is None:
            args.reg = 0.0 if args.model == "rnn" else SMALL_PROBLEM_REG
        with cs231n_errors():
            return cs231n.small_problem(args.model, args.seed, args.batch, args.hidden, args.data,
                                        args.normalization, args.dropout, args.cell)
    if args.reg is None:
        args.reg = SMALL_PROBLEM_REG
    return small_problem(args.model, args.seed, args.batch, hidden_size(args, 8), args.data)


@contextlib.contextmanager
def cs231n_errors():
    """cs231n's OptionError (an option a model cannot use) as a CommandError."""
    try:
        yield
    except cs231n.OptionError as error:
        raise CommandError(str(error)) from None


def cmd_gradcheck(args):
    check_output(args.output, viz.RENDER_FORMATS, "output file")
    X, y, model = problem(args)
    result = compare_gradients(model, X, y, args.reg)
    print(f"{args.model} model, batch of {len(X)} ({' x '.join(map(str, X.shape[1:]))} "
          "features)")
    print(result)
    # the graph colours the very comparison the table shows, at the table's tolerance
    graph = loss_graph(model, X, y, args.reg, hand_derived=result.hand_derived, rtol=result.tol,
                       title=f"{args.model}: hand-derived vs autodiff gradients")
    with writing(args.output):
        written = render_or_dot(graph, args.output)
    print(f"wrote {written}")
    return 0 if result.ok else 1


def cmd_explore(args):
    check_output(args.output, (".html",), "output file")
    X, y, model = problem(args)
    hand_derived = rtol = None
    if args.check:  # colour the nodes by the comparison `tflc gradcheck` prints
        result = compare_gradients(model, X, y, args.reg, numerical=False)
        hand_derived, rtol = result.hand_derived, result.tol
    with tflc.GradientTape() as tape:  # (exploring does not use up a one-shot tape)
        loss, _ = model.forward_tensors(X, y, args.reg)
    what = "hand-derived vs autodiff" if args.check else "forward and backward"
    page = viz.explore(tape, loss, inputs={"X": X, "y": y}, hand_derived=hand_derived, rtol=rtol,
                       title=f"{args.model} loss: {what}, step by step")
    with writing(args.output):
        written = page.save(args.output)
    print(f"wrote {written} ({len(page.steps)} steps: open it in a browser)")
    wrong = page.data["first_wrong"]
    if wrong:
        print("first wrong step: " + ", ".join(f"{w['name']} ({w['op']})" for w in wrong))
    return 0


def cmd_graph(args):
    check_output(args.output, viz.RENDER_FORMATS, "output file")
    X, y, model = problem(args)
    graph = loss_graph(model, X, y, args.reg, show_values=args.show_values,
                       show_grads=args.show_grads, title=f"{args.model} loss")
    with writing(args.output):
        written = render_or_dot(graph, args.output)
    print(f"wrote {written}")
    return 0


# --- predict ----------------------------------------------------------------------------------
def load_model(path):
    """The model in a checkpoint, whichever kind it holds."""
    kind = load_checkpoint(path)[1].get("kind")
    if not isinstance(kind, str) or kind not in KINDS:
        raise CheckpointError(f"{path}: unknown model kind {kind!r}; expected one of "
                              f"{', '.join(KINDS)}")
    return cs231n.load(path, kind) if kind in cs231n.KINDS else MODELS[kind].load(path)


def trained_on(path, model):
    """(data spec or None, split seed) from the checkpoint's metadata, each checked."""
    info = model.metadata.get("data", {})
    if not isinstance(info, dict):
        raise CheckpointError(f"{path}: metadata.data should be an object, found "
                              f"{type(info).__name__}")
    spec, split_seed = info.get("spec"), info.get("split_seed", 0)
    if spec is not None and not isinstance(spec, str):
        raise CheckpointError(f"{path}: metadata.data.spec should be a data spec, found {spec!r}")
    if not is_seed(split_seed):
        raise CheckpointError(f"{path}: metadata.data.split_seed should be an integer in "
                              f"0..{MAX_SEED}, found {split_seed!r}")
    return spec, split_seed


def confusion_matrix(y_true, y_pred, num_classes):
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (y_true, y_pred), 1)
    return cm


def cmd_predict(args):
    if args.plot:
        check_output(args.plot, (".png",), "plot file")
    model = load_model(args.checkpoint)
    trained_spec, split_seed = trained_on(args.checkpoint, model)
    spec = args.data or trained_spec
    if not spec:
        raise CommandError(f"{args.checkpoint} does not say which data it was trained on; "
                           f"give --data ({', '.join(data.DATA_SPECS)})")
    if isinstance(model, tuple(MODELS.values())):
        y_test, y_pred, num_classes = seed_model_predictions(args.checkpoint, model, spec,
                                                             split_seed)
    else:
        with cs231n_errors():  # the split seed the model was trained with, as below
            arrays, ds = cs231n.test_data(model, spec, split_seed, args.checkpoint)
        if isinstance(model, cs231n.CaptioningRNN):
            return predict_captions(model, arrays, args.plot)
        y_test, y_pred = arrays["y_test"], cs231n.predict(model, arrays["X_test"])
        num_classes = max(ds.num_classes, int(y_pred.max()) + 1)
    correct = int(np.sum(y_pred == y_test))
    print(f"test accuracy {correct / len(y_test):.4f} ({correct}/{len(y_test)}) on {spec}")
    cm = confusion_matrix(y_test, y_pred, num_classes)
    print("confusion matrix (rows: true class, columns: predicted class)")
    width = max(3, len(str(cm.max())) + 1)
    print(" " * 4 + "".join(f"{c:>{width}}" for c in range(num_classes)))
    for c, row in enumerate(cm):
        print(f"{c:>4}" + "".join(f"{v:>{width}}" for v in row))
    if args.plot:
        with writing(args.plot):
            viz.plot_confusion_matrix(cm, args.plot)
        print(f"wrote {args.plot}")
    return 0


def seed_model_predictions(path, model, spec, split_seed):
    """(y_test, predicted labels, number of classes) of the softmax or two-layer checkpoint on
    the test split of `spec` made with the model's split seed, centred with its mean image."""
    weights = [v for k, v in model.params.items() if k.startswith("W")]  # W, or W1 and W2
    input_size, num_outputs = weights[0].shape[0], weights[-1].shape[1]
    # the split seed the model was trained with, so that its test set is this test set
    ds = data.load(spec, seed=split_seed, dtype=weights[0].dtype)
    if ds.X_test.shape[1] != input_size:
        raise CommandError(f"{path} takes {input_size} input features but "
                           f"{spec} has {ds.X_test.shape[1]}")
    X = ds.X_test
    if model.mean_image is not None and not np.array_equal(model.mean_image, ds.mean_image):
        X = X + ds.mean_image - model.mean_image  # centred as in training
    return ds.y_test, model.predict(X), max(ds.num_classes, num_outputs)


def predict_captions(model, arrays, plot):
    """`tflc predict` of a captioner: the test strips captioned exactly, a few captions, and
    with `plot` the strips drawn with their captions."""
    exact = cs231n.captions.exact_match_accuracy(model, arrays, "test")
    print(f"test exact captions {exact:.4f} on {len(arrays['test_captions'])} strips")
    idxs = arrays["test_image_idxs"][:5]
    said = cs231n.caption_words(model.sample(arrays["test_features"][idxs]), arrays)
    for caption, right in zip(said, cs231n.caption_words(arrays["test_captions"][:5], arrays)):
        print(f"  {caption!r:28} {'right' if caption == right else 'wrong: ' + right}")
    if plot:
        with writing(plot):
            cs231n.plot_test_captions(model, arrays, plot)
        print(f"wrote {plot}")
    return 0


# --- bench ------------------------------------------------------------------------------------
def cmd_bench(args):
    if args.json:
        check_output(args.json, None, "JSON file")
    progress = None if args.quiet else (lambda cases: tqdm(cases, desc="bench", unit="case",
                                                           leave=False))
    if args.conv:  # conv2d + max_pool2d at ThreeLayerConvNet size (benchmarks/conv.py)
        from benchmarks import conv
        report = conv.run(dtypes=args.dtypes, rounds=args.rounds, threads=args.threads)
        print(conv.format_table(report))
    else:
        report = harness.run(sizes=args.sizes, dtypes=args.dtypes, rounds=args.rounds,
                             threads=args.threads, per_op=not args.no_per_op,
                             progress=progress)
        print(harness.format_table(report))
    if args.json:
        with writing(args.json):
            harness.save_json(report, args.json)
        print(f"wrote {args.json}")
    return 0


# --- arguments --------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line from main, not a usage block
        raise CommandError(message)


def _number(kind, test, requirement):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text!r}") from None
        if not (math.isfinite(value) and test(value)):
            raise argparse.ArgumentTypeError(f"expected {requirement}, got {text}")
        return value
    return parse


positive_int = _number(int, lambda v: v > 0, "a positive integer")
nonnegative_int = _number(int, lambda v: v >= 0, "an integer >= 0")
positive_float = _number(float, lambda v: v > 0, "a number > 0")
nonnegative_float = _number(float, lambda v: v >= 0, "a number >= 0")
decay_factor = _number(float, lambda v: 0 < v <= 1, "a number in (0, 1]")
keep_ratio = decay_factor
at_least_two = _number(int, lambda v: v >= 2, "an integer >= 2")
seed_int = _number(int, is_seed, f"an integer in 0..{MAX_SEED}")
thread_count = _number(int, lambda v: 1 <= v <= MAX_THREADS, f"an integer in 1..{MAX_THREADS}")
port_number = _number(int, lambda v: 0 <= v <= 65535, "a port number in 0..65535")


def path_arg(text):
    if not text:
        raise argparse.ArgumentTypeError("expected a path, got ''")
    return text


def build_parser():
    parser = _Parser(prog="tflc", description="Train, check and draw the tensorflowlite_clone "
                     "models: autodiff on NumPy, checked against the hand derivations.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True,
                                     parser_class=_Parser)
    data_help = f"data set: {', '.join(data.DATA_SPECS)}"

    def add_model(p):
        p.add_argument("--model", choices=KINDS, default="two-layer",
                       help="model: the seed's softmax and two-layer, or cs231n's fc-net "
                       "(FullyConnectedNet), conv-net (ThreeLayerConvNet), rnn (CaptioningRNN) "
                       "(default: %(default)s)")

    def add_cs231n_options(p, dropout_default):
        p.add_argument("--normalization", choices=("batchnorm", "layernorm", "none"),
                       help="fc-net: normalisation after each hidden affine layer (default: "
                       "batchnorm)")
        p.add_argument("--dropout", metavar="P", type=keep_ratio,
                       help=f"fc-net: dropout's keep ratio, 1 for none (default: {dropout_default})")
        p.add_argument("--cell", choices=("rnn", "lstm"),
                       help="rnn: the recurrent cell (default: rnn)")

    def add_small_problem(p, output, output_help=None):
        add_model(p)
        p.add_argument("--data", metavar="SPEC", help=f"take the batch from this {data_help} "
                       "(default: random data, 6 features, 3 classes)")
        p.add_argument("--batch", metavar="N", type=positive_int, default=5,
                       help="examples (default: 5)")
        p.add_argument("--hidden", metavar="N", type=positive_int, nargs="+",
                       help="hidden units (default: 8; fc-net: 8 8, one size per layer; "
                       "conv-net, rnn: 7)")
        p.add_argument("--reg", type=nonnegative_float,
                       help=f"L2 regularisation strength (default: {SMALL_PROBLEM_REG}; the rnn "
                       "has none)")
        add_cs231n_options(p, "0.75, with a fixed mask")
        p.add_argument("--seed", metavar="N", type=seed_int, default=0,
                       help="random seed (default: 0)")
        p.add_argument("-o", "--output", metavar="FILE", type=path_arg, default=output,
                       help=(output_help or "graph file, format from the suffix: .svg, .png, "
                             ".pdf, .dot") + f" (default: {output})")

    cs231n_defaults = ("fc-net, conv-net, rnn: the DIGITS_SETTINGS (CIFAR_SETTINGS for "
                       "cifar10) of models/fc_net.py, cnn.py, rnn.py")
    p = commands.add_parser("train", help="train a model, write metrics, plots, graph, checkpoint",
                            description="Train a model and check its gradients; write "
                            "metrics.json, loss.png, accuracy.png, weights.png (image data), "
                            "captions.png (rnn), loss_graph.svg and model.npz to the output "
                            f"folder. Defaults of the options marked *: {cs231n_defaults}.")
    add_model(p)
    p.add_argument("--data", metavar="SPEC", default="digits",
                   help=f"{data_help} (default: %(default)s; rnn: digits only, as captioned "
                   "strips of three)")
    p.add_argument("--hidden", metavar="N", type=positive_int, nargs="+",
                   help="* hidden units (default: 100); fc-net: one size per hidden layer")
    p.add_argument("--lr", type=positive_float,
                   help="* learning rate (default: 0.001; spiral: 0.01)")
    p.add_argument("--lr-decay", metavar="F", type=decay_factor,
                   help="* learning rate factor per epoch (default: 0.99; spiral: 1)")
    p.add_argument("--reg", type=nonnegative_float,
                   help="* L2 regularisation strength (default: 0.001; spiral: 0.0001)")
    p.add_argument("--iters", metavar="N", type=positive_int,
                   help="iterations of softmax and two-layer (default: 2000; spiral: 3000)")
    p.add_argument("--epochs", metavar="N", type=positive_int,
                   help="* epochs of fc-net, conv-net and rnn")
    p.add_argument("--batch-size", metavar="N", type=positive_int,
                   help="* minibatch size (default: 100)")
    p.add_argument("--optimizer", choices=OPTIMIZERS,
                   help=f"* sgd, momentum (SGD with momentum {MOMENTUM}) or adam "
                   "(default: adam)")
    p.add_argument("--init-std", metavar="STD", type=positive_float, default=None,
                   help="* std of the initial weights (default: sqrt(2/D) for the two-layer net, "
                   "0.001 for softmax)")
    add_cs231n_options(p, "the settings'")
    p.add_argument("--seed", metavar="N", type=seed_int, default=0,
                   help="seed of the initial weights and the minibatches (default: %(default)s)")
    p.add_argument("--split-seed", metavar="N", type=seed_int, default=0,
                   help="seed of the train/validation/test split of digits and spiral "
                   "(default: %(default)s)")
    p.add_argument("--dtype", choices=DTYPES, help="* (default: float64)")
    p.add_argument("--threads", metavar="N", type=thread_count, default=1,
                   help="BLAS threads (default: %(default)s; small matrices are fastest on one)")
    p.add_argument("--out", metavar="DIR", type=path_arg, default="out",
                   help="output folder (default: %(default)s); the run replaces its own files "
                   f"there ({', '.join(TRAIN_OUTPUTS)}) all at once at the end, and leaves "
                   "any other file alone")
    p.add_argument("--eager", action="store_true", default=None,
                   help="softmax, two-layer: run the tape's step eagerly rather than compiled "
                   "by tflc.jit (the same numbers; for debugging)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--live", action="store_true",
                   help="serve a page on 127.0.0.1 that follows the training: loss, accuracies, "
                   "gradient norms, first-layer weights, the graph's gradients")
    p.add_argument("--port", metavar="N", type=port_number, default=live.DEFAULT_PORT,
                   help="--live's port (default: %(default)s; 0: a free one)")
    p.set_defaults(run=cmd_train)

    p = commands.add_parser("gradcheck", help="autodiff vs hand-derived vs numerical gradients",
                            description="Compare the gradients of a small model's loss three ways "
                            "and draw where the hand derivation disagrees with autodiff. "
                            "Exit status 0 if all agree, 1 if not.")
    add_small_problem(p, "gradcheck.svg")
    p.set_defaults(run=cmd_gradcheck)

    p = commands.add_parser("graph", help="draw the computation graph of a model's loss",
                            description="Draw the computation graph of a small model's loss.")
    add_small_problem(p, "graph.svg")
    p.add_argument("--show-values", action="store_true", help="summarise each node's value")
    p.add_argument("--show-grads", action="store_true", help="summarise each node's gradient")
    p.set_defaults(run=cmd_graph)

    p = commands.add_parser("explore", help="step through a model's forward and backward pass",
                            description="Write one self-contained HTML page that steps through "
                            "a small model's loss: the forward pass op by op, then the backward "
                            "sweep one VJP at a time, with each rule and its shapes.")
    add_small_problem(p, "explore.html", "the page, an .html file")
    p.add_argument("--check", action="store_true",
                   help="also colour the nodes by whether the model's hand-derived gradients "
                   "agree with autodiff, and name the first wrong step")
    p.set_defaults(run=cmd_explore)

    p = commands.add_parser("predict", help="test accuracy and confusion matrix of a checkpoint",
                            description="Evaluate a checkpoint on the test split of its data.")
    p.add_argument("checkpoint", type=path_arg, help="a model.npz written by `tflc train`")
    p.add_argument("--data", metavar="SPEC",
                   help=f"{data_help} (default: the data the checkpoint was trained on)")
    p.add_argument("--plot", metavar="FILE", type=path_arg,
                   help="also draw the confusion matrix to this .png file")
    p.set_defaults(run=cmd_predict)

    p = commands.add_parser("bench", help="speed and memory: engine vs hand-derived step",
                            description=harness.__doc__.split("\n\n")[0])
    p.add_argument("--sizes", nargs="+", choices=harness.SIZES, default=list(harness.SIZES),
                   help="problem sizes (default: all)")
    p.add_argument("--dtypes", nargs="+", choices=DTYPES, default=list(DTYPES),
                   help="(default: both)")
    p.add_argument("--rounds", metavar="N", type=at_least_two, default=15,
                   help="timing rounds (default: %(default)s)")
    p.add_argument("--threads", metavar="N", type=thread_count, default=1,
                   help="BLAS threads (default: %(default)s)")
    p.add_argument("--json", metavar="FILE", type=path_arg,
                   help="also write the report to this JSON file")
    p.add_argument("--no-per-op", action="store_true", help="skip the per-op overhead measurement")
    p.add_argument("--conv", action="store_true", help="instead: conv2d + max_pool2d against "
                   "hand-written NumPy im2col and cs231n's naive loops (benchmarks/conv.py)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_bench)
    return parser


def main(argv=None):
    """Run the `tflc` command with `argv` (default: sys.argv[1:]); returns the exit status."""
    args = None
    try:
        args = build_parser().parse_args(argv)
        status = args.run(args)
        sys.stdout.flush()  # a closed pipe shows here, not after main has returned
        return status
    except SystemExit as done:  # --help
        return done.code or 0
    except KeyboardInterrupt:
        print("tflc: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tflc ... | head`: the reader has gone; send the rest nowhere
        with contextlib.suppress(OSError, ValueError):  # ValueError: stdout is not a real file
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (CommandError, data.DataError, CheckpointError, live.LiveError) as error:
        message = str(error)
    except MemoryError as error:
        sizes = [f"--{name.replace('_', '-')} {' '.join(map(str, np.atleast_1d(value)))}"
                 for name in ("hidden", "batch_size", "batch")
                 if (value := getattr(args, name, None))]
        message = (f"not enough memory ({error or 'MemoryError'})"
                   + (f"; sizes asked for: {', '.join(sizes)}" if sizes else ""))
    except OSError as error:
        message = f"{error.strerror or error}: {error.filename}" if error.filename else str(error)
    print(f"tflc: error: {message.splitlines()[0] if message else 'failed'}", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
