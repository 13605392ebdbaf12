"""The digit-strip captioning data (tensorflowlite_clone/app/captions.py), cs231n's
CaptioningSolver (models/captioning_solver.py), training both captioners to caption held-out
strips, and viz.captions.plot_captions.

The data's facts are checked against scikit-learn's digits and `app.data.load("digits")`
directly, not against the loader's own helpers: the captions name the digits drawn, and the
held-out strips' digit images are exactly the held-out images of that split.
"""
import contextlib
import copy

import numpy as np
import pytest

try:
    from threadpoolctl import threadpool_limits  # scikit-learn's dependency
except ImportError:  # then the training tests run with NumPy's own thread count
    def threadpool_limits(**_):
        return contextlib.nullcontext()

from models import optim
from models.captioning_solver import CaptioningSolver
from models.rnn import DIGITS_SETTINGS, CaptioningRNN
from tensorflowlite_clone.app import captions as C
from tensorflowlite_clone.app.data import load
from viz.captions import plot_captions

WORDS = ["<NULL>", "<START>", "<END>", "<UNK>", "zero", "one", "two", "three", "four", "five",
         "six", "seven", "eight", "nine"]


@pytest.fixture(scope="module")
def small():
    return C.load_digit_captions(num_train=200, num_val=40, num_test=60, seed=0)


@pytest.fixture(scope="module")
def sk_digits():
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    return (X / 16).reshape(-1, 8, 8), y


def cells_of(strips):
    """(n, 8, 24) strips -> (n, 3, 8, 8) digit images, left to right."""
    return np.asarray(strips).reshape(-1, 8, 3, 8).transpose(0, 2, 1, 3)


def test_layout_and_vocabulary(small):
    assert small["idx_to_word"] == WORDS
    assert small["word_to_idx"] == {w: i for i, w in enumerate(WORDS)}
    for split, n in (("train", 200), ("val", 40), ("test", 60)):
        assert small[f"{split}_captions"].shape == (n, 5)
        assert small[f"{split}_captions"].dtype == np.int32
        np.testing.assert_array_equal(small[f"{split}_image_idxs"], np.arange(n))
        assert small[f"{split}_features"].shape == (n, 1536)
        assert small[f"{split}_features"].dtype == np.float32
        assert small[f"{split}_images"].shape == (n, 8, 24)
        assert small[f"{split}_images"].min() >= 0 and small[f"{split}_images"].max() <= 1
        captions = small[f"{split}_captions"]
        assert (captions[:, 0] == 1).all() and (captions[:, -1] == 2).all()
        assert ((captions[:, 1:4] >= 4) & (captions[:, 1:4] <= 13)).all()


def test_captions_name_the_digits_shown(small, sk_digits):
    images, labels = sk_digits
    for split in ("train", "val", "test"):
        idxs = small[f"{split}_digit_idxs"]
        np.testing.assert_array_equal(cells_of(small[f"{split}_images"]), images[idxs])
        expected = ["<START> " + " ".join(WORDS[4 + d] for d in labels[row]) + " <END>" for row in idxs]
        assert C.decode_captions(small[f"{split}_captions"], small["idx_to_word"]) == expected


def test_held_out_strips_are_made_of_held_out_digits(small):
    split = load("digits", seed=0)  # the project's split of the 1,797 digits
    pixels = {name: getattr(split, f"X_{name}") + split.mean_image for name in ("train", "val", "test")}

    def members(strips, pool):
        cells = cells_of(strips).reshape(-1, 64)
        distances = ((cells[:, None, :] - pool[None, :, :]) ** 2).sum(axis=2)
        return distances.min(axis=1) < 1e-20  # each cell is one of the pool's images, exactly

    assert members(small["train_images"], pixels["train"]).all()
    assert members(small["val_images"], pixels["val"]).all()
    assert members(small["test_images"], pixels["test"]).all()
    assert not members(small["test_images"], pixels["train"]).any()
    assert not members(small["val_images"], pixels["train"]).any()
    train, test = set(small["train_digit_idxs"].ravel()), set(small["test_digit_idxs"].ravel())
    assert not train & test and not train & set(small["val_digit_idxs"].ravel())


def test_the_same_seed_gives_the_same_data_another_seed_another(small):
    again = C.load_digit_captions(num_train=200, num_val=40, num_test=60, seed=0)
    for key, value in small.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(again[key], value)
    other = C.load_digit_captions(num_train=200, num_val=40, num_test=60, seed=1)
    assert not np.array_equal(other["train_captions"], small["train_captions"])
    assert not set(other["test_digit_idxs"].ravel()) == set(small["test_digit_idxs"].ravel())


def test_features_are_a_fixed_function_of_the_pixels(small):
    other = C.load_digit_captions(num_train=30, num_val=0, num_test=30, seed=5)
    for data in (small, other):  # whatever the seed, the same map from pixels, less the train mean
        raw = C.strip_features(data["train_images"])
        np.testing.assert_allclose(data["feature_mean"], raw.mean(axis=0), rtol=1e-5, atol=1e-6)
        for split in ("train", "test"):
            np.testing.assert_allclose(C.strip_features(data[f"{split}_images"]) - data["feature_mean"],
                                       data[f"{split}_features"], rtol=1e-5, atol=1e-6)
        assert np.abs(data["train_features"].mean(axis=0)).max() < 1e-5
    # the map by its definition, written out for one digit: 3x3 filters, ReLU, 2x2 means
    filters, biases = C.feature_filters(1536)
    assert filters.shape == (32, 3, 3)
    np.testing.assert_allclose(filters.sum(axis=(1, 2)), 0, atol=1e-12)
    digit = small["test_images"][0][:, :8]
    padded = np.pad(digit, 1)
    maps = np.array([[[max(0.0, np.sum(padded[i:i + 3, j:j + 3] * filters[k]) + biases[k])
                       for j in range(8)] for i in range(8)] for k in range(32)])
    pooled = maps.reshape(32, 4, 2, 4, 2).mean(axis=(2, 4)).ravel()
    np.testing.assert_allclose(small["test_features"][0][:512] + small["feature_mean"][:512], pooled,
                               rtol=1e-5, atol=1e-6)
    # the projection's seed is FEATURE_SEED, not the data's
    np.testing.assert_array_equal(C.feature_filters(1536)[0], filters)


def test_training_strips_may_be_jittered(sk_digits):
    images, _ = sk_digits
    data = C.load_digit_captions(num_train=50, num_val=5, num_test=5, seed=0, jitter=1)
    cells = cells_of(data["train_images"])
    assert not np.array_equal(cells, images[data["train_digit_idxs"]])  # moved
    np.testing.assert_array_equal(cells_of(data["test_images"]), images[data["test_digit_idxs"]])
    np.testing.assert_allclose(C.strip_features(data["train_images"]) - data["feature_mean"],
                               data["train_features"], rtol=1e-5, atol=1e-6)


def test_sample_minibatch_is_cs231ns_draw(small):
    np.random.seed(7)
    captions, features, idxs = C.sample_minibatch(small, batch_size=16, split="val")
    np.random.seed(7)
    mask = np.random.choice(40, 16)
    np.testing.assert_array_equal(captions, small["val_captions"][mask])
    np.testing.assert_array_equal(features, small["val_features"][small["val_image_idxs"][mask]])
    np.testing.assert_array_equal(idxs, small["val_image_idxs"][mask])
    with pytest.raises(ValueError, match="split"):
        C.sample_minibatch(small, split="dev")


def test_decode_captions_is_cs231ns():
    idx_to_word = WORDS
    captions = np.array([[1, 7, 0, 5, 2, 8, 8], [4, 2, 0, 0, 0, 0, 0], [0, 0, 9, 9, 9, 9, 9]])
    # <NULL> skipped anywhere, reading stops after the first <END> (kept), <START> kept
    assert C.decode_captions(captions, idx_to_word) == ["<START> three one <END>", "zero <END>",
                                                         "five five five five five"]
    assert C.decode_captions(captions[1], dict(enumerate(WORDS))) == "zero <END>"  # 1-D: one string
    with pytest.raises(ValueError, match="integer"):
        C.decode_captions(captions.astype(float), idx_to_word)


class Parrot:
    """A stand-in model whose `sample` says the given captions (rows by feature order)."""

    def __init__(self, said):
        self.said, self.calls = said, []

    def sample(self, features, max_length):
        self.calls.append((len(features), max_length))
        start = sum(n for n, _ in self.calls[:-1])
        return self.said[start:start + len(features)]


def test_exact_match_accuracy(small):
    truth = small["test_captions"][:, 1:]  # sample's captions start after <START>
    assert C.exact_match_accuracy(Parrot(truth), small) == 1.0
    wrong = truth.copy()
    wrong[:15, 2] = np.where(wrong[:15, 2] == 4, 5, 4)  # a different third digit
    assert C.exact_match_accuracy(Parrot(wrong), small) == 0.75
    after_end = np.concatenate([truth, np.full((60, 3), 7)], axis=1)  # words after <END> are ignored
    parrot = Parrot(after_end)
    assert C.exact_match_accuracy(parrot, small, max_length=7, batch_size=25) == 1.0
    assert parrot.calls == [(25, 7), (25, 7), (10, 7)]
    shifted = np.concatenate([np.full((60, 1), 4), truth[:, :-1]], axis=1)
    assert C.exact_match_accuracy(Parrot(shifted), small) == 0.0


def test_bad_loader_arguments_are_named():
    with pytest.raises(ValueError, match="feature_dim must be a multiple of 48"):
        C.load_digit_captions(feature_dim=100)
    with pytest.raises(ValueError, match="num_train"):
        C.load_digit_captions(num_train=0)
    with pytest.raises(TypeError, match="num_test"):
        C.load_digit_captions(num_test=2.5)
    with pytest.raises(TypeError, match="dtype"):
        C.load_digit_captions(dtype=np.int64)
    with pytest.raises(ValueError, match="jitter"):
        C.load_digit_captions(jitter=8)
    with pytest.raises(ValueError, match="images"):
        C.strip_features(np.zeros((2, 8, 8)))


# --- the solver ---------------------------------------------------------------------------------
def tiny_model(data, cell_type="rnn"):
    return CaptioningRNN(data["word_to_idx"], input_dim=data["train_features"].shape[1],
                         wordvec_dim=8, hidden_dim=16, cell_type=cell_type)


def test_the_solver_is_cs231ns_loop_draw_for_draw(small, capsys):
    np.random.seed(11)
    model = tiny_model(small)
    start = {k: v.copy() for k, v in model.params.items()}
    solver = CaptioningSolver(model, small, update_rule="adam", optim_config={"learning_rate": 1e-2},
                              lr_decay=0.5, batch_size=50, num_epochs=3, print_every=5)
    solver.train()
    out = capsys.readouterr().out.splitlines()

    # cs231n's CaptioningSolver.train, written out
    np.random.seed(11)
    reference = tiny_model(small)
    for k in start:
        np.testing.assert_array_equal(reference.params[k], start[k])
    configs = {p: {"learning_rate": 1e-2} for p in reference.params}
    losses, per_epoch = [], max(200 // 50, 1)
    for t in range(3 * per_epoch):
        captions, features, _ = C.sample_minibatch(small, batch_size=50, split="train")
        loss, grads = reference.loss(features, captions)
        losses.append(loss)
        for p, w in reference.params.items():
            reference.params[p], configs[p] = optim.adam(w, grads[p], configs[p])
        if (t + 1) % per_epoch == 0:
            for p in configs:
                configs[p]["learning_rate"] *= 0.5
    assert solver.loss_history == losses
    for k in start:
        np.testing.assert_array_equal(model.params[k], reference.params[k])
    assert solver.epoch == 3
    assert solver.optim_configs["Wx"]["learning_rate"] == pytest.approx(1e-2 * 0.5 ** 3)
    assert out == ["(Iteration %d / 12) loss: %f" % (t + 1, losses[t]) for t in (0, 5, 10)]


def test_the_solver_continues_and_is_quiet_when_asked(small, capsys):
    np.random.seed(0)
    solver = CaptioningSolver(tiny_model(small), small, update_rule="sgd",
                              optim_config={"learning_rate": 1e-1}, batch_size=100, num_epochs=1,
                              verbose=False)
    solver.train()
    solver.train()
    assert len(solver.loss_history) == 4 and solver.epoch == 2
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("kwargs, error, message", [
    ({"update_rule": "nesterov"}, ValueError, 'Invalid update_rule "nesterov"'),
    ({"update_rule": 3}, TypeError, "update_rule"),
    ({"optim_config": 1e-3}, TypeError, "optim_config"),
    ({"lr_decay": float("nan")}, ValueError, "lr_decay"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"num_epochs": 1.5}, TypeError, "num_epochs"),
    ({"print_every": -1}, ValueError, "print_every"),
])
def test_bad_solver_arguments_are_named(small, kwargs, error, message):
    with pytest.raises(error, match=message):
        CaptioningSolver(tiny_model(small), small, **kwargs)


def test_bad_solver_data_and_models_are_named(small):
    with pytest.raises(TypeError, match="model"):
        CaptioningSolver(object(), small)
    with pytest.raises(ValueError, match="train_image_idxs"):
        CaptioningSolver(tiny_model(small), {k: v for k, v in small.items() if k != "train_image_idxs"})
    bad = dict(small, train_image_idxs=small["train_image_idxs"] + 1000)
    with pytest.raises(ValueError, match="index the rows of train_features"):
        CaptioningSolver(tiny_model(small), bad)


# --- the captioners learn -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits_data():
    settings = DIGITS_SETTINGS["rnn"]["data"]
    assert settings == DIGITS_SETTINGS["lstm"]["data"]  # one data set for both
    return C.load_digit_captions(**settings)


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_the_captioners_caption_held_out_strips(digits_data, cell_type):
    settings = copy.deepcopy(DIGITS_SETTINGS[cell_type])
    np.random.seed(0)
    model = CaptioningRNN(digits_data["word_to_idx"], input_dim=digits_data["train_features"].shape[1],
                          **settings["model"])
    assert model.cell_type == cell_type
    solver = CaptioningSolver(model, digits_data, **settings["solver"])
    # one BLAS thread: the matrices are small, and on a busy 2-core machine a second thread per
    # product made this run several times slower (17 s against 100 s for the LSTM, measured)
    with threadpool_limits(limits=1, user_api="blas"):
        solver.train()
    assert np.mean(solver.loss_history[-10:]) < 0.3 * solver.loss_history[0]
    assert C.exact_match_accuracy(model, digits_data, "test") >= 0.90


def test_plot_captions_writes_a_png(small, tmp_path):
    images = small["test_images"][:6]
    truth = C.decode_captions(small["test_captions"][:6], small["idx_to_word"])
    predicted = list(truth)
    predicted[1] = "<START> one one one <END>"
    path = plot_captions(images, predicted, truth, tmp_path / "sub" / "captions.png", title="digits")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plain = plot_captions(images[:2], predicted[:2], path=tmp_path / "plain.png", ncols=1)
    assert plain.stat().st_size > 0
    with pytest.raises(ValueError, match="one caption per image"):
        plot_captions(images, predicted[:3], path=tmp_path / "x.png")
    with pytest.raises(ValueError, match="PNG"):
        plot_captions(images, predicted, path=tmp_path / "x.jpg")
    with pytest.raises(TypeError, match="path"):
        plot_captions(images, predicted)
    with pytest.raises(ValueError, match="images"):
        plot_captions(images[0], predicted[:1], path=tmp_path / "x.png")
