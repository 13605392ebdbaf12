"""cs231n's Solver (assignment 2's `solver.py`) on the project's one training loop,
`tensorflowlite_clone.app.training.fit`.

    solver = Solver(model, data, update_rule="sgd", optim_config={"learning_rate": 1e-3},
                    lr_decay=0.95, batch_size=100, num_epochs=10, print_every=100)
    solver.train()
    solver.loss_history, solver.train_acc_history, solver.val_acc_history, solver.best_val_acc

`data` holds "X_train", "y_train", "X_val", "y_val". The model needs `params` (a dict name ->
array) and `loss(X, y=None)`: the scores (N, C) when y is None, else `(loss, grads)` with grads
keyed like params. Every model in `models` has that interface.

cs231n's schedule, draw for draw, so that the notebooks' printed numbers reproduce after the same
`np.random.seed`: an epoch is max(num_train // batch_size, 1) iterations, each on the rows
`np.random.choice(num_train, batch_size)`; every parameter is updated by `update_rule` with its
own copy of `optim_config` (`solver.optim_configs[name]`, where the rules keep their state);
after the last iteration of every epoch each learning rate is multiplied by `lr_decay`; after
the first iteration, every epoch's last and the final one, the accuracies on up to
`num_train_samples` training rows and `num_val_samples` validation rows (subsets drawn with
`np.random.choice`, train first) are recorded, a checkpoint is written when `checkpoint_name`
is given, and the parameters are kept when the validation accuracy is the best so far
(`best_val_acc`, `best_params`). At the end the model's params are the best ones.

With `verbose` (the default) a tqdm progress bar runs on stderr and cs231n's lines are printed
above it: "(Iteration 1 / 200) loss: 2.302585" every `print_every` iterations and
"(Epoch 0 / 10) train acc: 0.100000; val_acc: 0.090000" at every check.

One departure: cs231n keeps a parameter set only when its validation accuracy beats the last
best, starting from 0, so a run whose every check scores 0 ends with `model.params == {}`; here
the first check's parameters are always kept (nothing else changes).

Bad arguments are refused when the Solver is made, each named: an unknown update rule, data
without one of its four arrays, an empty training or validation set, labels that do not match
their rows, a batch size, epoch count, sample count or `print_every` that is not a positive
integer (`num_epochs` may be 0), a model without `params` and `loss`.
"""
import math
import numbers
import pickle

import numpy as np

from tensorflowlite_clone.app.files import atomic_write
from tensorflowlite_clone.app.training import HISTORY, fit

from . import optim
from ._checks import check_count

DATA_KEYS = ("X_train", "y_train", "X_val", "y_val")


class Solver:
    """cs231n's Solver: trains `model` on `data` with `update_rule`; see the module docstring."""

    def __init__(self, model, data, *, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, num_train_samples=1000, num_val_samples=None,
                 checkpoint_name=None, print_every=10, verbose=True):
        if not isinstance(getattr(model, "params", None), dict) or not callable(
                getattr(model, "loss", None)):
            raise TypeError("Solver: model must have `params` (a dict of arrays) and "
                            f"`loss(X, y=None)`, got {type(model).__name__}")
        self.model = model
        self.X_train, self.y_train, self.X_val, self.y_val = _checked_data(data)
        self.update_rule, self.optim_config, self.lr_decay = checked_schedule(
            "Solver", update_rule, optim_config, lr_decay)
        self.batch_size = check_count(batch_size, "batch_size")
        self.num_epochs = check_count(num_epochs, "num_epochs", allow_zero=True)
        self.num_train_samples = _optional_count(num_train_samples, "num_train_samples")
        self.num_val_samples = _optional_count(num_val_samples, "num_val_samples")
        self.checkpoint_name = checkpoint_name
        self.print_every = check_count(print_every, "print_every")
        self.verbose = verbose
        self._reset()

    def _reset(self):
        """Fresh bookkeeping: epoch 0, no best yet, empty histories, a copy of `optim_config` for
        every parameter (cs231n's `_reset`)."""
        self.epoch = 0
        self.best_val_acc = 0
        self.best_params = {}
        self.loss_history = []
        self.train_acc_history = []
        self.val_acc_history = []
        self.optim_configs = {p: dict(self.optim_config) for p in self.model.params}

    def check_accuracy(self, X, y, num_samples=None, batch_size=100):
        """The fraction of X's rows whose highest score (`model.loss(X)`) is their label in y.

        With num_samples below N, the accuracy is measured on `np.random.choice(N, num_samples)`
        rows (drawn with replacement, as cs231n); the scores are computed batch_size rows at a
        time.
        """
        batch_size = check_count(batch_size, "batch_size")
        num_samples = _optional_count(num_samples, "num_samples")
        X, y = np.asarray(X), np.asarray(y)
        N = X.shape[0] if X.ndim else 0
        if N == 0:
            raise ValueError("check_accuracy: X has no rows")
        if y.shape != (N,):
            raise ValueError(f"check_accuracy: y must hold one label per row of X ({N}), got "
                             f"shape {y.shape}")
        if num_samples is not None and N > num_samples:
            mask = np.random.choice(N, num_samples)
            N, X, y = num_samples, X[mask], y[mask]
        y_pred = [np.argmax(self.model.loss(X[start:start + batch_size]), axis=1)
                  for start in range(0, N, batch_size)]
        return float(np.mean(np.hstack(y_pred) == y))

    def train(self):
        """Run the optimisation (see the module docstring); a second call continues it."""
        per_epoch = max(self.X_train.shape[0] // self.batch_size, 1)
        self._num_iterations = self.num_epochs * per_epoch
        self._per_epoch, self._first_epoch = per_epoch, self.epoch
        fit(self.model, self.X_train, self.y_train, self.model.loss,
            optimizer=UpdateRules(self), num_iters=self._num_iterations,
            batch_size=self.batch_size, lr_decay=self.lr_decay, at_epoch="end",
            evaluate=self._evaluate, evaluate_first=True, on_step=self._on_step,
            history={key: getattr(self, key) for key in HISTORY}, progress=self.verbose)
        if self.best_params:  # at the end of training swap the best params into the model
            self.model.params = self.best_params

    def _evaluate(self, it):
        """The accuracies at a check: on the training set, then the validation set."""
        return (self.check_accuracy(self.X_train, self.y_train, num_samples=self.num_train_samples),
                self.check_accuracy(self.X_val, self.y_val, num_samples=self.num_val_samples))

    def _on_step(self, it, loss, evaluated):
        """cs231n's bookkeeping after an iteration; returns the lines to print."""
        lines = []
        if self.verbose and it % self.print_every == 0:
            lines.append("(Iteration %d / %d) loss: %f" % (it + 1, self._num_iterations, loss))
        if evaluated:
            self.epoch = self._first_epoch + (it + 1) // self._per_epoch
            train_acc, val_acc = self.train_acc_history[-1], self.val_acc_history[-1]
            saved = self._save_checkpoint()
            if self.verbose:
                if saved:
                    lines.append('Saving checkpoint to "%s"' % saved)
                lines.append("(Epoch %d / %d) train acc: %f; val_acc: %f"
                             % (self.epoch, self.num_epochs, train_acc, val_acc))
            if val_acc > self.best_val_acc or not self.best_params:
                self.best_val_acc = val_acc
                self.best_params = {k: v.copy() for k, v in self.model.params.items()}
        return lines

    def _save_checkpoint(self):
        """With `checkpoint_name`, pickle cs231n's checkpoint dict to
        "{checkpoint_name}_epoch_{epoch}.pkl"; returns that file name (None without)."""
        if self.checkpoint_name is None:
            return None
        checkpoint = {
            "model": self.model,
            "update_rule": self.update_rule,
            "lr_decay": self.lr_decay,
            "optim_config": self.optim_config,
            "batch_size": self.batch_size,
            "num_train_samples": self.num_train_samples,
            "num_val_samples": self.num_val_samples,
            "epoch": self.epoch,
            "loss_history": self.loss_history,
            "train_acc_history": self.train_acc_history,
            "val_acc_history": self.val_acc_history,
        }
        filename = "%s_epoch_%d.pkl" % (self.checkpoint_name, self.epoch)
        atomic_write(filename, lambda f: pickle.dump(checkpoint, f))
        return filename


class UpdateRules:
    """`fit`'s optimizer for the Solver: every parameter through `update_rule` with its own
    config; `decay_lr` scales every config's learning rate."""

    def __init__(self, solver):
        self.solver = solver

    def step(self, params, grads):
        configs, rule = self.solver.optim_configs, self.solver.update_rule
        missing = [p for p in params if p not in grads]
        if missing:
            raise ValueError(f"Solver: model.loss returned no gradient for {', '.join(missing)}")
        for p, w in params.items():
            params[p], configs[p] = rule(w, grads[p], configs.setdefault(p, dict(
                self.solver.optim_config)))

    def decay_lr(self, factor):
        for p, config in self.solver.optim_configs.items():
            if "learning_rate" not in config:
                if factor == 1:
                    continue
                raise ValueError(f"Solver: lr_decay={factor} needs a learning_rate in the optim "
                               f"config of {p}, and the update rule set none")
            config["learning_rate"] *= factor


def checked_schedule(caller, update_rule, optim_config, lr_decay):
    """(update rule function, optim_config dict, lr_decay) for a Solver, checked: the rule a
    name in models.optim or a function, the config a dict (None: {}), the decay a finite
    number."""
    if isinstance(update_rule, str):
        if update_rule not in optim.UPDATE_RULES:
            raise ValueError(f'Invalid update_rule "{update_rule}": expected one of '
                             f"{', '.join(optim.UPDATE_RULES)} or a function")
        update_rule = optim.UPDATE_RULES[update_rule]
    elif not callable(update_rule):
        raise TypeError(f"{caller}: update_rule must be the name of a rule in models.optim or a "
                        f"function (w, dw, config) -> (next_w, config), got {update_rule!r}")
    if optim_config is not None and not isinstance(optim_config, dict):
        raise TypeError(f"{caller}: optim_config must be a dict, got "
                        f"{type(optim_config).__name__}")
    if (isinstance(lr_decay, (bool, np.bool_)) or not isinstance(lr_decay, numbers.Real)
            or not math.isfinite(lr_decay)):
        raise ValueError(f"{caller}: lr_decay must be a finite number, got {lr_decay!r}")
    return update_rule, {} if optim_config is None else optim_config, lr_decay


def _checked_data(data):
    """data's four arrays, checked: both sets non-empty, one label per row."""
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"Solver: data must hold {', '.join(DATA_KEYS)}; missing "
                         f"{', '.join(missing)}")
    arrays = [np.asarray(data[key]) for key in DATA_KEYS]
    for (X_name, y_name), X, y in [(DATA_KEYS[:2], *arrays[:2]), (DATA_KEYS[2:], *arrays[2:])]:
        if X.ndim == 0 or X.shape[0] == 0:
            raise ValueError(f"Solver: {X_name} is empty (shape {X.shape}): nothing to "
                             f"{'train on' if X_name == 'X_train' else 'validate on'}")
        if y.shape != (X.shape[0],):
            raise ValueError(f"Solver: {y_name} must hold one label per row of {X_name} "
                             f"({X.shape[0]}), got shape {y.shape}")
    return arrays


def _optional_count(value, name):
    return None if value is None else check_count(value, name)
