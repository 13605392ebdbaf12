"""cs231n assignment 3's CaptioningSolver on the project's one training loop,
`tensorflowlite_clone.app.training.fit`.

    solver = CaptioningSolver(model, data, update_rule="adam",
                              optim_config={"learning_rate": 5e-3}, lr_decay=0.95,
                              batch_size=100, num_epochs=10, print_every=10, verbose=True)
    solver.train()
    solver.loss_history

`data` is cs231n's COCO data dict (`load_coco_data`, or
`tensorflowlite_clone.app.captions.load_digit_captions`): the solver reads "train_captions"
(N, T), "train_image_idxs" (N,) and "train_features". The model needs `params` and
`loss(features, captions) -> (loss, grads)` (models.rnn.CaptioningRNN).

cs231n's schedule, draw for draw: num_train = data["train_captions"].shape[0], an epoch is
max(num_train // batch_size, 1) iterations, each on the captions
`np.random.choice(num_train, batch_size)` (cs231n's sample_coco_minibatch) and their images'
features; every parameter is updated by `update_rule` (a name in models.optim) with its own copy
of `optim_config`; after the last iteration of every epoch each learning rate is multiplied by
`lr_decay`. There are no accuracy checks (cs231n's CaptioningSolver has none): measure the
trained model with `tensorflowlite_clone.app.captions.exact_match_accuracy`.

With `verbose` (the default) a tqdm bar runs on stderr and cs231n's "(Iteration 1 / 200) loss:
12.345678" lines are printed above it every `print_every` iterations. Bad arguments are refused
when the solver is made, each named.
"""
import numpy as np

from tensorflowlite_clone.app.training import HISTORY, fit

from ._checks import check_count
from .solver import Solver, UpdateRules, checked_schedule

DATA_KEYS = ("train_captions", "train_image_idxs", "train_features")


class CaptioningSolver:
    """cs231n's CaptioningSolver: trains a captioning `model` on `data`; see the module docstring."""

    def __init__(self, model, data, update_rule="sgd", optim_config=None, lr_decay=1.0,
                 batch_size=100, num_epochs=10, print_every=10, verbose=True):
        if not isinstance(getattr(model, "params", None), dict) or not callable(
                getattr(model, "loss", None)):
            raise TypeError("CaptioningSolver: model must have `params` (a dict of arrays) and "
                            f"`loss(features, captions)`, got {type(model).__name__}")
        self.model = model
        self.data = data
        self.captions, self.image_idxs, self.features = _checked_data(data)
        self.update_rule, self.optim_config, self.lr_decay = checked_schedule(
            "CaptioningSolver", update_rule, optim_config, lr_decay)
        self.batch_size = check_count(batch_size, "batch_size")
        self.num_epochs = check_count(num_epochs, "num_epochs", allow_zero=True)
        self.print_every = check_count(print_every, "print_every")
        self.verbose = verbose
        self._reset()

    _reset = Solver._reset  # cs231n's bookkeeping, the same for both solvers

    def _loss(self, captions, image_idxs):
        # fit hands over the drawn rows of (captions, image_idxs), as sample_coco_minibatch
        return self.model.loss(self.features[image_idxs], captions)

    def train(self):
        """Run the optimisation; a second call continues it (the epochs counted on)."""
        num_train = self.captions.shape[0]
        self._per_epoch = max(num_train // self.batch_size, 1)
        self._num_iterations = self.num_epochs * self._per_epoch
        fit(self.model, self.captions, self.image_idxs, self._loss, optimizer=UpdateRules(self),
            num_iters=self._num_iterations, batch_size=self.batch_size, lr_decay=self.lr_decay,
            at_epoch="end", on_step=self._on_step,
            history={key: getattr(self, key) for key in HISTORY}, progress=self.verbose)

    def _on_step(self, it, loss, evaluated):
        """cs231n's line every `print_every` iterations; the epoch counted at its end."""
        if (it + 1) % self._per_epoch == 0:
            self.epoch += 1
        if self.verbose and it % self.print_every == 0:
            return ["(Iteration %d / %d) loss: %f" % (it + 1, self._num_iterations, loss)]
        return None


def _checked_data(data):
    """The training captions, image indices and features, checked against each other."""
    if not isinstance(data, dict):
        raise TypeError(f"CaptioningSolver: data must be a dict (cs231n's COCO data), got "
                        f"{type(data).__name__}")
    missing = [key for key in DATA_KEYS if key not in data]
    if missing:
        raise ValueError(f"CaptioningSolver: data must hold {', '.join(DATA_KEYS)}; missing "
                         f"{', '.join(missing)}")
    captions, idxs, features = (np.asarray(data[key]) for key in DATA_KEYS)
    if captions.ndim != 2 or captions.shape[0] == 0:
        raise ValueError("CaptioningSolver: train_captions must be a non-empty (N, T) array, got "
                         f"shape {captions.shape}")
    if idxs.shape != (captions.shape[0],) or idxs.dtype.kind not in "iu":
        raise ValueError(f"CaptioningSolver: train_image_idxs must hold one integer image index per "
                         f"caption ({captions.shape[0]}), got {idxs.dtype} {idxs.shape}")
    if features.ndim != 2 or (idxs.size and (idxs.min() < 0 or idxs.max() >= features.shape[0])):
        raise ValueError(f"CaptioningSolver: train_image_idxs must index the rows of train_features "
                         f"(shape {features.shape})")
    return captions, idxs, features
