"""models.solver.Solver: cs231n's Solver on the one training loop (`app.training.fit`).

The reference below is cs231n's Solver.train written out as one plain loop (its own
sgd_momentum, no fit, no models.optim): the Solver must give the same histories, the same
printed lines, the same best parameters and leave NumPy's global generator in the same state,
draw for draw, so the notebooks' numbers reproduce.
"""
import pickle

import numpy as np
import pytest

from models import TwoLayerNet
from models.solver import Solver
from tensorflowlite_clone.app.training import fit
from tensorflowlite_clone.optim import SGD


class SoftmaxStandIn:
    """A linear softmax classifier in plain NumPy with the models' interface: `params`,
    `loss(X, y=None)` -> scores, or (loss, grads)."""

    def __init__(self, input_dim, num_classes, weight_scale=1e-2, reg=1e-3, dtype=np.float64):
        self.reg = reg
        self.params = {"W": (weight_scale * np.random.randn(input_dim, num_classes)).astype(dtype),
                       "b": np.zeros(num_classes, dtype=dtype)}

    def loss(self, X, y=None):
        W, b = self.params["W"], self.params["b"]
        scores = X @ W + b
        if y is None:
            return scores
        shifted = scores - scores.max(axis=1, keepdims=True)
        probs = np.exp(shifted)
        probs /= probs.sum(axis=1, keepdims=True)
        n = len(X)
        loss = -np.log(probs[np.arange(n), y]).mean() + self.reg * np.sum(W * W)
        dscores = probs.copy()
        dscores[np.arange(n), y] -= 1
        dscores /= n
        return float(loss), {"W": X.T @ dscores + 2 * self.reg * W, "b": dscores.sum(axis=0)}


def blobs(seed, n, dim=6, classes=3, dtype=np.float64):
    """Three Gaussian blobs (from their own generator: NumPy's global one is left alone)."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((classes, dim)) * 1.5
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.standard_normal((n, dim))).astype(dtype), y


def dataset(n_train=230, n_val=60, dtype=np.float64):
    X, y = blobs(0, n_train + n_val, dtype=dtype)
    return {"X_train": X[:n_train], "y_train": y[:n_train], "X_val": X[n_train:], "y_val": y[n_train:]}


def reference_train(model, data, *, learning_rate, momentum, lr_decay, batch_size, num_epochs,
                    num_train_samples, num_val_samples, print_every):
    """cs231n's Solver.train with sgd_momentum, as one loop; returns its results and lines."""
    X, y = data["X_train"], data["y_train"]
    params = model.params
    velocity = {p: np.zeros_like(w) for p, w in params.items()}
    rates = {p: learning_rate for p in params}
    num_train = X.shape[0]
    per_epoch = max(num_train // batch_size, 1)
    total = num_epochs * per_epoch
    epoch, best_val, best_params = 0, 0, {}
    losses, train_accs, val_accs, lines = [], [], [], []

    def accuracy(X, y, num_samples):
        N = X.shape[0]
        if num_samples is not None and N > num_samples:
            rows = np.random.choice(N, num_samples)
            X, y, N = X[rows], y[rows], num_samples
        predictions = [np.argmax(model.loss(X[i * 100:(i + 1) * 100]), axis=1)
                       for i in range((N + 99) // 100)]
        return np.mean(np.hstack(predictions) == y)

    for t in range(total):
        rows = np.random.choice(num_train, batch_size)
        loss, grads = model.loss(X[rows], y[rows])
        losses.append(loss)
        for p in list(params):
            velocity[p] = momentum * velocity[p] - rates[p] * grads[p]
            params[p] = params[p] + velocity[p]
        if t % print_every == 0:
            lines.append("(Iteration %d / %d) loss: %f" % (t + 1, total, loss))
        epoch_end = (t + 1) % per_epoch == 0
        if epoch_end:
            epoch += 1
            rates = {p: r * lr_decay for p, r in rates.items()}
        if t == 0 or t == total - 1 or epoch_end:
            train_acc = accuracy(X, y, num_train_samples)
            val_acc = accuracy(data["X_val"], data["y_val"], num_val_samples)
            train_accs.append(train_acc)
            val_accs.append(val_acc)
            lines.append("(Epoch %d / %d) train acc: %f; val_acc: %f"
                         % (epoch, num_epochs, train_acc, val_acc))
            if val_acc > best_val:
                best_val = val_acc
                best_params = {k: v.copy() for k, v in params.items()}
    return {"loss_history": losses, "train_acc_history": train_accs, "val_acc_history": val_accs,
            "best_val_acc": best_val, "best_params": best_params, "rates": rates,
            "lines": lines}


SETTINGS = dict(learning_rate=0.05, momentum=0.9, lr_decay=0.8, batch_size=50, num_epochs=3,
                num_train_samples=100, num_val_samples=40, print_every=5)


def make_model(kind):
    if kind == "softmax":
        return SoftmaxStandIn(6, 3)
    return TwoLayerNet(6, 8, 3, std=0.1)  # the seed's net: loss(X, y=None, reg=0.0)


def solver_for(model, data, verbose=False, **overrides):
    s = {**SETTINGS, **overrides}
    return Solver(model, data, update_rule="sgd_momentum",
                  optim_config={"learning_rate": s["learning_rate"], "momentum": s["momentum"]},
                  lr_decay=s["lr_decay"], batch_size=s["batch_size"], num_epochs=s["num_epochs"],
                  num_train_samples=s["num_train_samples"], num_val_samples=s["num_val_samples"],
                  print_every=s["print_every"], verbose=verbose)


@pytest.mark.parametrize("kind", ["softmax", "two-layer"])
def test_the_solver_reproduces_cs231ns_loop_draw_for_draw(kind, capsys):
    data = dataset()
    np.random.seed(231)
    expected = reference_train(make_model(kind), data, **SETTINGS)
    state = np.random.get_state()[1].copy()

    np.random.seed(231)
    model = make_model(kind)
    solver = solver_for(model, data, verbose=True)
    solver.train()
    captured = capsys.readouterr()
    for key in ["loss_history", "train_acc_history", "val_acc_history", "best_val_acc"]:
        assert getattr(solver, key) == expected[key], key
    assert len(solver.loss_history) == 12 and len(solver.val_acc_history) == 1 + 3
    assert captured.out.splitlines() == expected["lines"]
    assert "train" in captured.err  # the progress bar, on stderr
    np.testing.assert_array_equal(np.random.get_state()[1], state)  # the same draws, in order
    assert model.params is solver.best_params
    for name, best in expected["best_params"].items():
        np.testing.assert_array_equal(model.params[name], best)
    assert solver.epoch == 3
    assert {p: c["learning_rate"] for p, c in solver.optim_configs.items()} == expected["rates"]


def test_the_same_seed_gives_the_same_run_and_another_seed_another():
    data = dataset()
    runs = []
    for seed in [7, 7, 8]:
        np.random.seed(seed)
        solver = solver_for(SoftmaxStandIn(6, 3), data)
        solver.train()
        runs.append((solver.loss_history, solver.train_acc_history, solver.val_acc_history))
    assert runs[0] == runs[1] and runs[0] != runs[2]


class Dial:
    """One parameter, w, stepped by the test's own update rule; the validation accuracy is
    whatever `val_acc_at[w]` says (it predicts the label `labels[w]` for every row)."""

    def __init__(self, labels):
        self.labels = labels
        self.params = {"w": np.zeros(1)}
        self.seen = []

    def loss(self, X, y=None):
        if y is None:
            scores = np.zeros((len(X), 2))
            scores[:, self.labels[int(self.params["w"][0])]] = 1.0
            self.seen.append(len(X))
            return scores
        return 0.0, {"w": np.ones(1)}


def plus_one(w, dw, config=None):
    """An update rule given as a function: w + dw, and it records the learning rate in effect."""
    config = {} if config is None else config
    config.setdefault("learning_rate", 1.0)
    config.setdefault("rates", []).append(config["learning_rate"])
    return w + dw, config


def dial_data(n_train=4):
    X = np.zeros((n_train, 1))
    return {"X_train": X, "y_train": np.zeros(n_train, dtype=int),
            "X_val": np.zeros((4, 1)), "y_val": np.array([0, 0, 0, 1])}


def test_the_best_parameters_are_restored_at_the_end():
    """One iteration per epoch (batch = the whole set); after iteration k, w = k + 1. The
    validation accuracy is 0.75 while w predicts 0, 0.25 while it predicts 1: best at w = 2."""
    model = Dial(labels={1: 1, 2: 0, 3: 1, 4: 0, 5: 1})
    solver = Solver(model, dial_data(), update_rule=plus_one, batch_size=4, num_epochs=5,
                    verbose=False)
    solver.train()
    assert solver.val_acc_history == [0.25, 0.75, 0.25, 0.75, 0.25]
    assert solver.best_val_acc == 0.75  # the first 0.75 is kept: a tie does not replace it
    assert model.params["w"][0] == 2.0 and model.params is solver.best_params
    assert solver.epoch == 5


def test_learning_rates_decay_after_every_epoch():
    """Two iterations per epoch, three epochs, lr_decay 0.5: the rate in effect at each step."""
    model = Dial(labels={k: 0 for k in range(7)})
    solver = Solver(model, dial_data(n_train=4), update_rule=plus_one, batch_size=2,
                    num_epochs=3, lr_decay=0.5, optim_config={"learning_rate": 1.0},
                    verbose=False)
    solver.train()
    config = solver.optim_configs["w"]
    assert config["rates"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    assert config["learning_rate"] == 0.125
    assert solver.optim_config == {"learning_rate": 1.0}  # every parameter decays its own copy
    # checks after the first iteration and every epoch's last: iterations 0, 1, 3, 5
    assert len(solver.val_acc_history) == 4


def test_every_rule_by_name_trains_and_keeps_float32():
    data = dataset(dtype=np.float32)
    for rule, lr in [("sgd", 0.5), ("sgd_momentum", 0.1), ("rmsprop", 1e-2), ("adam", 1e-2)]:
        np.random.seed(0)
        model = SoftmaxStandIn(6, 3, dtype=np.float32)
        solver = Solver(model, data, update_rule=rule, optim_config={"learning_rate": lr},
                        batch_size=25, num_epochs=4, verbose=False)
        solver.train()
        assert np.mean(solver.loss_history[-3:]) < solver.loss_history[0] - 0.3, rule
        assert solver.best_val_acc > 0.8, rule
        assert all(w.dtype == np.float32 for w in model.params.values()), rule


def test_check_accuracy_batches_and_subsamples():
    model = Dial(labels={0: 1})
    solver = Solver(model, dial_data(), verbose=False)
    X, y = np.zeros((250, 1)), np.array([1] * 100 + [0] * 150)
    assert solver.check_accuracy(X, y) == 0.4
    assert model.seen == [100, 100, 50]
    model.seen.clear()
    assert solver.check_accuracy(X, y, batch_size=120) == 0.4 and model.seen == [120, 120, 10]
    np.random.seed(5)
    rows = np.random.choice(250, 30)
    np.random.seed(5)
    model.seen.clear()
    assert solver.check_accuracy(X, y, num_samples=30) == np.mean(y[rows] == 1)
    assert model.seen == [30]
    model.seen.clear()
    assert solver.check_accuracy(X, y, num_samples=250) == 0.4 and model.seen == [100, 100, 50]


def test_checkpoints_are_cs231ns_pickles(tmp_path, capsys):
    np.random.seed(0)
    name = str(tmp_path / "net")
    solver = Solver(SoftmaxStandIn(6, 3), dataset(), update_rule="adam", batch_size=100,
                    num_epochs=2, checkpoint_name=name, print_every=100)
    solver.train()
    out = capsys.readouterr().out.splitlines()
    # checks after iterations 0 (epoch 0), 1 (epoch 1) and 3 (epoch 2): each saves, then prints
    assert [line.split(" train acc")[0] for line in out if not line.startswith("(Iteration")] == [
        f'Saving checkpoint to "{name}_epoch_0.pkl"', "(Epoch 0 / 2)",
        f'Saving checkpoint to "{name}_epoch_1.pkl"', "(Epoch 1 / 2)",
        f'Saving checkpoint to "{name}_epoch_2.pkl"', "(Epoch 2 / 2)"]
    with open(f"{name}_epoch_1.pkl", "rb") as f:
        checkpoint = pickle.load(f)
    assert checkpoint["epoch"] == 1 and checkpoint["batch_size"] == 100
    assert checkpoint["loss_history"] == solver.loss_history[:2]
    assert checkpoint["val_acc_history"] == solver.val_acc_history[:2]
    assert checkpoint["update_rule"].__name__ == "adam"
    assert set(checkpoint["model"].params) == {"W", "b"}


def test_a_second_train_continues_and_zero_epochs_change_nothing():
    np.random.seed(1)
    model = SoftmaxStandIn(6, 3)
    solver = solver_for(model, dataset(), num_epochs=0)
    before = {k: v.copy() for k, v in model.params.items()}
    solver.train()
    assert solver.loss_history == [] and solver.best_params == {}
    for k in before:
        np.testing.assert_array_equal(model.params[k], before[k])
    solver.num_epochs = 1
    solver.train()
    solver.train()
    assert len(solver.loss_history) == 8 and len(solver.val_acc_history) == 4
    assert solver.epoch == 2


def test_a_run_whose_every_check_scores_zero_keeps_parameters():
    """cs231n would end with model.params == {} (no check beats 0); the first check's are kept."""
    model = Dial(labels={k: 1 for k in range(4)})
    data = dial_data()
    data["y_val"] = np.zeros(4, dtype=int)
    solver = Solver(model, data, update_rule=plus_one, batch_size=4, num_epochs=3, verbose=False)
    solver.train()
    assert solver.val_acc_history == [0.0] * 3 and solver.best_val_acc == 0.0
    assert model.params["w"][0] == 1.0


@pytest.mark.parametrize("kwargs, error, message", [
    ({"update_rule": "sgd_nesterov"}, ValueError, 'Invalid update_rule "sgd_nesterov": expected one '
                                                  "of sgd, sgd_momentum, rmsprop, adam"),
    ({"update_rule": 3}, TypeError, "update_rule must be the name of a rule in models.optim or a "
                                    "function"),
    ({"batch_size": 0}, ValueError, "batch_size must be a positive integer, got 0"),
    ({"batch_size": 2.5}, TypeError, "batch_size must be a positive integer, got 2.5"),
    ({"num_epochs": -1}, ValueError, "num_epochs must be a non-negative integer, got -1"),
    ({"num_train_samples": 0}, ValueError, "num_train_samples must be a positive integer"),
    ({"print_every": 0}, ValueError, "print_every must be a positive integer"),
    ({"lr_decay": float("nan")}, ValueError, "lr_decay must be a finite number, got nan"),
    ({"optim_config": [("learning_rate", 1)]}, TypeError, "optim_config must be a dict, got list"),
])
def test_bad_arguments_are_named(kwargs, error, message):
    with pytest.raises(error, match=message.replace("(", r"\(").replace(")", r"\)")):
        Solver(SoftmaxStandIn(6, 3), dataset(), **kwargs)


def test_bad_data_and_models_are_named():
    data = dataset()
    with pytest.raises(ValueError, match="data must hold X_train, y_train, X_val, y_val; missing X_val"):
        Solver(SoftmaxStandIn(6, 3), {k: v for k, v in data.items() if k != "X_val"})
    with pytest.raises(ValueError, match=r"X_train is empty \(shape \(0, 6\)\): nothing to train on"):
        Solver(SoftmaxStandIn(6, 3), {**data, "X_train": np.zeros((0, 6)),
                                      "y_train": np.zeros(0, dtype=int)})
    with pytest.raises(ValueError, match="X_val is empty"):
        Solver(SoftmaxStandIn(6, 3), {**data, "X_val": np.zeros((0, 6)), "y_val": np.zeros(0)})
    with pytest.raises(ValueError, match=r"y_train must hold one label per row of X_train \(230\), "
                                         r"got shape \(229,\)"):
        Solver(SoftmaxStandIn(6, 3), {**data, "y_train": data["y_train"][:-1]})
    with pytest.raises(TypeError, match="model must have `params`"):
        Solver(object(), data)
    solver = Solver(SoftmaxStandIn(6, 3), data, verbose=False)
    with pytest.raises(ValueError, match="batch_size must be a positive integer, got 0"):
        solver.check_accuracy(data["X_val"], data["y_val"], batch_size=0)
    with pytest.raises(ValueError, match="check_accuracy: X has no rows"):
        solver.check_accuracy(np.zeros((0, 6)), np.zeros(0))


def test_a_gradient_the_model_did_not_return_is_named():
    class Forgetful(SoftmaxStandIn):
        def loss(self, X, y=None):
            out = super().loss(X, y)
            return out if y is None else (out[0], {"W": out[1]["W"]})

    with pytest.raises(ValueError, match="model.loss returned no gradient for b"):
        Solver(Forgetful(6, 3), dataset(), verbose=False).train()


# --- the loop's hooks the Solver runs on -----------------------------------------------------------

class Constant:
    def __init__(self):
        self.params = {"w": np.zeros(1)}


def test_fit_hooks_evaluate_first_on_step_lines_and_a_continued_history(capsys):
    seen = []

    def on_step(it, loss, evaluated):
        seen.append((it, evaluated))
        return [f"step {it}"] if evaluated else None

    history = {"loss_history": [9.0], "train_acc_history": [], "val_acc_history": []}
    returned = fit(Constant(), np.zeros((4, 1)), np.zeros(4, dtype=int),
                   lambda Xb, yb: (0.5, {"w": np.ones(1)}), optimizer=SGD(1.0), num_iters=5,
                   batch_size=2, at_epoch="end", evaluate=lambda it: (it / 10, it / 100),
                   evaluate_first=True, on_step=on_step, history=history)
    assert returned is history and history["loss_history"] == [9.0] + [0.5] * 5
    # epochs of 2: first iteration, then every epoch's last (1, 3) and the final one (4)
    assert history["train_acc_history"] == [0.0, 0.1, 0.3, 0.4]
    assert history["val_acc_history"] == [0.0, 0.01, 0.03, 0.04]
    assert seen == [(0, True), (1, True), (2, False), (3, True), (4, True)]
    assert capsys.readouterr().out == "step 0\nstep 1\nstep 3\nstep 4\n"


def test_a_decay_without_a_learning_rate_to_decay_is_named():
    def no_rate(w, dw, config=None):
        return w - dw, {} if config is None else config

    model = Dial(labels={k: 0 for k in range(-8, 8)})
    Solver(model, dial_data(), update_rule=no_rate, batch_size=4, num_epochs=2,
           verbose=False).train()  # lr_decay 1: nothing to decay, nothing to complain about
    with pytest.raises(ValueError, match="lr_decay=0.5 needs a learning_rate in the optim config "
                                         "of w, and the update rule set none"):
        Solver(model, dial_data(), update_rule=no_rate, batch_size=4, num_epochs=2,
               lr_decay=0.5, verbose=False).train()
