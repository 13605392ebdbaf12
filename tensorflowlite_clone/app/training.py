"""The training loop behind `tflc train` and the models' `train` methods: `fit`.

The callers differ only in what they pass:
- `TwoLayerNet.train` and `Softmax.train` keep cs231n's schedule: batches drawn with
  `np.random.choice(num_train, batch_size)` from NumPy's global generator, the accuracies
  recorded and the learning rate decayed after the first iteration of every epoch, the loss
  printed every 100 iterations when verbose;
- `tflc train` (`cli.fit`) draws from its own generator, records and decays after the last
  iteration of every epoch, shows a progress bar and stops a diverging loss (in its
  `loss_and_grads`);
- `models.solver.Solver` (cs231n's Solver) keeps cs231n's: batches as the models' `train`, the
  learning rate decayed after the last iteration of every epoch, the accuracies measured by its
  own `evaluate` (subsampled, from NumPy's global generator) after the first iteration, every
  epoch's last and the final one, its lines and best-parameter bookkeeping in `on_step`, its
  histories its own lists (`history`), kept across `train()` calls.

A leaf module (NumPy only; tqdm when a bar is asked for), so that `models` can use it.
"""
import numpy as np

AT_EPOCH = ("start", "end")
HISTORY = ("loss_history", "train_acc_history", "val_acc_history")


def sample_with_replacement(num_train, batch_size):
    """cs231n's minibatch: `batch_size` row indices drawn with replacement from NumPy's global
    generator."""
    return np.random.choice(num_train, batch_size)


def accuracy(model, X, y):
    """The fraction of the rows of X that `model.predict` labels as y."""
    return float(np.mean(model.predict(X) == y))


def fit(model, X, y, loss_and_grads, *, optimizer, num_iters, batch_size, val=None, lr_decay=1.0,
        sample=sample_with_replacement, at_epoch="start", probe=None, verbose=False,
        progress=False, evaluate=None, evaluate_first=False, on_step=None, history=None):
    """Minibatch training of `model` (its `params` are updated in place); returns the histories.

    Every iteration takes the rows `sample(num_train, batch_size)` of X and y, asks
    `loss_and_grads(X_batch, y_batch)` for `(loss, grads keyed like model.params)`, records the
    loss and lets `optimizer.step(model.params, grads)` update the parameters.

    An epoch is max(num_train // batch_size, 1) iterations. Once per epoch, after its first
    iteration (`at_epoch="start"`, cs231n's iterations 0, E, 2E, ...) or its last (`"end"`:
    E-1, 2E-1, ..., and then the accuracies also after the final iteration, so the history ends
    with the trained model's), the learning rate is multiplied by `lr_decay`
    (`optimizer.decay_lr`) and, given `val` = (X_val, y_val), the accuracies on `probe` =
    (X_probe, y_probe) (default: the current batch, as cs231n) and on `val` are recorded.

    `verbose` prints the loss every 100 iterations (cs231n's line); `progress` shows a tqdm bar
    with the last epoch's mean loss and the latest accuracies.

    The Solver's hooks (all optional):
    - `evaluate(it) -> (train_acc, val_acc)` measures the accuracies in place of `probe` and
      `val` (which it makes unnecessary: they are recorded whenever `evaluate` is given);
    - `evaluate_first`: also record them after iteration 0 (with `at_epoch="end"`);
    - `on_step(it, loss, evaluated)` is called at the end of every iteration, once its loss and
      accuracies are recorded and the learning rate decayed (`evaluated`: whether accuracies
      were recorded at this iteration); the lines it returns (an iterable of str, or None) are
      printed, above the progress bar when there is one;
    - `history`: the dict of three lists to append to (default: new lists), so that a caller
      sees them grow while training and can continue them.

    Returns {"loss_history", "train_acc_history", "val_acc_history"}, lists of floats (the
    accuracies empty without `val` or `evaluate`): `history` when given.
    """
    if at_epoch not in AT_EPOCH:
        raise ValueError(f"fit: at_epoch must be one of {AT_EPOCH}, got {at_epoch!r}")
    num_train = len(X)
    per_epoch = max(num_train // batch_size, 1)
    offset = 0 if at_epoch == "start" else 1  # "start": iterations 0, E, ...; "end": E-1, ...
    if history is None:
        history = {key: [] for key in HISTORY}
    losses, train_acc, val_acc = (history[key] for key in HISTORY)
    evaluates = val is not None or evaluate is not None
    steps = range(num_iters)
    write = print
    if progress:
        from tqdm import tqdm  # only when a bar is asked for: the models need not load it
        steps = tqdm(steps, desc="train", unit="it", leave=False)
        write = steps.write
    try:
        for it in steps:
            batch = sample(num_train, batch_size)
            X_batch, y_batch = X[batch], y[batch]
            loss, grads = loss_and_grads(X_batch, y_batch)
            losses.append(loss)
            optimizer.step(model.params, grads)
            if verbose and it % 100 == 0:
                print(f"iteration {it} / {num_iters}: loss {loss:f}")
            epoch_turn = (it + offset) % per_epoch == 0
            final = at_epoch == "end" and it + 1 == num_iters
            evaluated = evaluates and (epoch_turn or final or (evaluate_first and it == 0))
            if evaluated:
                if evaluate is not None:
                    accuracies = evaluate(it)
                else:
                    X_probe, y_probe = (X_batch, y_batch) if probe is None else probe
                    accuracies = accuracy(model, X_probe, y_probe), accuracy(model, *val)
                train_acc.append(accuracies[0])
                val_acc.append(accuracies[1])
                if progress:
                    steps.set_postfix(loss=f"{np.mean(losses[-per_epoch:]):.4f}",
                                      train=f"{train_acc[-1]:.3f}", val=f"{val_acc[-1]:.3f}",
                                      refresh=False)
            if epoch_turn:
                optimizer.decay_lr(lr_decay)
            if on_step is not None:
                for line in on_step(it, loss, evaluated) or ():
                    write(line)
    finally:
        if progress:
            steps.close()
    return history
