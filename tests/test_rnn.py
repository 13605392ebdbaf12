"""cs231n assignment 3's CaptioningRNN (models/rnn.py): the notebooks' loss values, both gradient
paths (the tape on the engine-built layers, cs231n's hand-derived layers) equal to each other and
to central finite differences on the notebooks' gradient-check inputs, compare_gradients naming a
broken hand-derived step, cs231n's draws and sampling, and bad input.

Expected values are the RNN_Captioning / LSTM_Captioning notebooks' printed ones.
"""
import json

import numpy as np
import pytest

from models import rnn_layers
from models.rnn import CELL_TYPES, CaptioningRNN
from tensorflowlite_clone.gradcheck import compare_gradients, numerical_gradient, rel_error

# The notebooks' "Check the loss" cells: features' range and the printed expected loss
NOTEBOOK_LOSS = {"rnn": ((-1.5, 0.3), 9.83235591003), "lstm": ((-0.5, 1.7), 9.82445935443)}
WORD_TO_IDX = {"<NULL>": 0, "cat": 2, "dog": 3}
DIGIT_WORDS = {"<NULL>": 0, "<START>": 1, "<END>": 2, "<UNK>": 3, "zero": 4, "one": 5, "two": 6}


def notebook_model(cell_type):
    N, D, W, H = 10, 20, 30, 40
    V, T = len(WORD_TO_IDX), 13  # V = 3: 'dog' (index 3) has no row and never occurs
    model = CaptioningRNN(WORD_TO_IDX, input_dim=D, wordvec_dim=W, hidden_dim=H,
                          cell_type=cell_type, dtype=np.float64)
    for k, v in model.params.items():
        model.params[k] = np.linspace(-1.4, 1.3, num=v.size).reshape(*v.shape)
    features = np.linspace(*NOTEBOOK_LOSS[cell_type][0], num=N * D).reshape(N, D)
    captions = (np.arange(N * T) % V).reshape(N, T)
    return model, features, captions


def gradient_check_model(cell_type):
    """The notebooks' "Gradient check" inputs, drawn in their order after np.random.seed(231)."""
    np.random.seed(231)
    batch_size, timesteps, input_dim, wordvec_dim, hidden_dim = 2, 3, 4, 5, 6
    vocab_size = len(WORD_TO_IDX)
    captions = np.random.randint(vocab_size, size=(batch_size, timesteps))
    features = np.random.randn(batch_size, input_dim)
    model = CaptioningRNN(WORD_TO_IDX, input_dim=input_dim, wordvec_dim=wordvec_dim,
                          hidden_dim=hidden_dim, cell_type=cell_type, dtype=np.float64)
    return model, features, captions


@pytest.mark.parametrize("cell_type", CELL_TYPES)
@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_the_notebooks_loss(cell_type, method):
    model, features, captions = notebook_model(cell_type)
    loss, grads = model.loss(features, captions, method=method)
    assert isinstance(loss, float)
    # printed with 11 decimals; the notebooks' own "difference" is 2.3e-12 and 2.6e-12
    assert abs(loss - NOTEBOOK_LOSS[cell_type][1]) < 1e-11
    assert set(grads) == set(model.params)
    assert all(grads[k].shape == model.params[k].shape for k in grads)


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_gradient_check_three_ways(cell_type):
    model, features, captions = gradient_check_model(cell_type)
    loss_a, autodiff = model.loss(features, captions)
    loss_m, manual = model.loss(features, captions, method="manual")
    assert loss_a == pytest.approx(loss_m, rel=1e-14)
    for name in sorted(model.params):
        numeric = numerical_gradient(lambda _: model.loss(features, captions)[0],
                                     model.params[name], h=1e-5)
        assert rel_error(autodiff[name], manual[name]) < 1e-8, name
        for grad in (autodiff[name], manual[name]):
            # per entry, entries near 0 (the LSTM's Wx has some of 1e-7) are mostly the
            # differences' rounding: cs231n's "fine" bound there, 1e-4 (measured: 4e-5 for the
            # LSTM, 4e-8 for the RNN); relative to the largest entry, 2e-8 (measured 8e-9)
            assert rel_error(grad, numeric) < 1e-4, name
            assert rel_error(grad, numeric, per_entry=False) < 2e-8, name


BACKWARD_ORDER = ["scores", "b_vocab", "W_vocab", "temporal_affine.x", "b", "Wh", "Wx", "{cell}.x",
                  "W_embed", "h0", "b_proj", "W_proj"]


@pytest.mark.parametrize("cell_type", CELL_TYPES)
def test_compare_gradients_agrees_at_every_named_tensor(cell_type):
    model, features, captions = gradient_check_model(cell_type)
    result = compare_gradients(model, features, captions, reg=None)
    assert [row.name for row in result.rows] == [n.format(cell=cell_type) for n in BACKWARD_ORDER]
    assert result.ok, str(result)
    assert result.first_disagreement is None and result.first_numerical_disagreement is None
    assert result["h0"].kind == "intermediate" and result["Wx"].kind == "parameter"


def _broken(original, fix):
    """A copy of a hand-derived backward whose outputs are passed through `fix`."""
    def broken(*args):
        return fix(list(original(*args)))
    return broken


def _scaled(index, factor=1.5):
    def fix(outputs):
        outputs[index] = outputs[index] * factor
        return tuple(outputs)
    return fix


# rnn_step_backward returns (dx, dprev_h, dWx, dWh, db); lstm_step_backward (dx, dprev_h,
# dprev_c, dWx, dWh, db). Rows run from the loss backwards: scores, b_vocab, W_vocab and
# temporal_affine.x come before the recurrence, so a wrong step backward leaves them right; the
# first row that goes through it is b, then Wh, Wx, the word vectors <cell>.x, and h0 (dprev_h
# of the first step). A wrong da reaches every gradient of the step, so b is named first; a
# wrong dWh or dx alone is named at its own row.
@pytest.mark.parametrize("cell_type, index, expected", [
    ("rnn", None, "b"),      # da = dnext_h, the tanh' factor forgotten: every output wrong
    ("rnn", 3, "Wh"),        # dWh alone
    ("rnn", 0, "rnn.x"),     # dx alone: b, Wh, Wx stay right
    ("rnn", 1, "b"),         # dprev_h: wrong from the second-to-last step on, b sums over steps
    ("lstm", 2, "b"),        # dprev_c: the cell's path through time
    ("lstm", 0, "lstm.x"),
    ("lstm", 4, "Wh"),
])
def test_a_broken_step_backward_is_named(monkeypatch, cell_type, index, expected):
    name = f"{cell_type}_step_backward"
    original = getattr(rnn_layers, name)
    if index is None:  # the RNN's da without (1 - next_h²)
        def broken(dnext_h, cache):
            x, prev_h, Wx, Wh, next_h = cache
            da = dnext_h
            return da.dot(Wx.T), da.dot(Wh.T), x.T.dot(da), prev_h.T.dot(da), da.sum(axis=0)
    else:
        broken = _broken(original, _scaled(index))
    monkeypatch.setattr(rnn_layers, name, broken)
    model, features, captions = gradient_check_model(cell_type)
    result = compare_gradients(model, features, captions, reg=None, numerical=False)
    assert result.first_disagreement == expected, str(result)
    # autodiff never used the broken function: the model's own loss is unaffected
    assert result.first_numerical_disagreement is None


@pytest.mark.parametrize("index, expected", [(0, "temporal_affine.x"), (1, "W_vocab"),
                                             (2, "b_vocab")])
def test_a_broken_temporal_affine_backward_is_named(monkeypatch, index, expected):
    # temporal_affine_backward returns (dx, dw, db): dx is the hidden states' gradient
    monkeypatch.setattr(rnn_layers, "temporal_affine_backward",
                        _broken(rnn_layers.temporal_affine_backward, _scaled(index)))
    model, features, captions = gradient_check_model("rnn")
    result = compare_gradients(model, features, captions, reg=None, numerical=False)
    assert result.first_disagreement == expected, str(result)


def test_the_parameters_are_cs231ns_draws_in_its_order():
    np.random.seed(0)
    model = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4, cell_type="lstm")
    np.random.seed(0)
    V, D, W, H = len(DIGIT_WORDS), 6, 5, 4
    expected = {"W_embed": np.random.randn(V, W) / 100, "W_proj": np.random.randn(D, H) / np.sqrt(D),
                "b_proj": np.zeros(H), "Wx": np.random.randn(W, 4 * H) / np.sqrt(W),
                "Wh": np.random.randn(H, 4 * H) / np.sqrt(H), "b": np.zeros(4 * H),
                "W_vocab": np.random.randn(H, V) / np.sqrt(H), "b_vocab": np.zeros(V)}
    assert list(model.params) == list(expected)  # cs231n's insertion order
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32  # cs231n's default dtype
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32))
    assert (model._null, model._start, model._end) == (0, 1, 2)
    assert model.idx_to_word == {i: w for w, i in DIGIT_WORDS.items()}
    rnn = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4)
    assert rnn.params["Wx"].shape == (5, 4) and rnn.params["b"].shape == (4,)
    assert CaptioningRNN(WORD_TO_IDX)._start is None  # cs231n's .get: no <START> in this vocabulary


def test_float32_in_both_paths():
    np.random.seed(1)
    model = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4)
    features = np.random.randn(3, 6)  # float64: cast to the model's float32
    captions = np.array([[1, 4, 5, 2], [1, 6, 2, 0], [1, 5, 5, 2]])
    (la, ga), (lm, gm) = model.loss(features, captions), model.loss(features, captions, method="manual")
    assert la == pytest.approx(lm, rel=1e-5)
    for name in model.params:
        assert ga[name].dtype == gm[name].dtype == np.float32
        assert rel_error(ga[name], gm[name], per_entry=False) < 1e-5


def test_null_words_add_no_loss_and_no_gradient():
    np.random.seed(2)
    model = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4, dtype=np.float64)
    features = np.random.randn(2, 6)
    short = np.array([[1, 4, 2], [1, 5, 2]])
    padded = np.array([[1, 4, 2, 0, 0], [1, 5, 2, 0, 0]])  # <NULL> after <END>: masked out
    for method in ("autodiff", "manual"):
        (l1, g1), (l2, g2) = (model.loss(features, c, method=method) for c in (short, padded))
        assert l1 == pytest.approx(l2, rel=1e-13)
        for name in model.params:
            np.testing.assert_allclose(g1[name], g2[name], rtol=1e-12, atol=1e-15)


def test_sample_is_greedy_starts_after_start_and_is_deterministic():
    np.random.seed(3)
    for cell_type in CELL_TYPES:
        model = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4,
                              cell_type=cell_type, dtype=np.float64)
        features = np.random.randn(5, 6)
        captions = model.sample(features, max_length=7)
        assert captions.shape == (5, 7) and captions.dtype.kind == "i"
        np.testing.assert_array_equal(captions, model.sample(features, max_length=7))
        # the first word is the argmax of the scores after <START>, which the loss's forward
        # pass computes at t = 0 for captions beginning with <START>; and greedy decoding reads
        # its own words back: fed its own caption, every step's argmax is the next word
        fed = np.concatenate([np.full((5, 1), model._start), captions], axis=1)
        _, tensors = model.forward_tensors(features, fed)
        np.testing.assert_array_equal(np.argmax(tensors["scores"].numpy(), axis=2), captions)
        assert model.sample(features, max_length=1).shape == (5, 1)


def test_config_is_json_and_rebuilds_the_model():
    model = CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4, cell_type="lstm")
    config = json.loads(json.dumps(model.config()))
    assert config == {"word_to_idx": DIGIT_WORDS, "input_dim": 6, "wordvec_dim": 5, "hidden_dim": 4,
                      "cell_type": "lstm", "dtype": "float32"}
    again = CaptioningRNN(**config)
    assert {k: v.shape for k, v in again.params.items()} == {k: v.shape for k, v in model.params.items()}
    assert again.params["Wx"].dtype == np.float32


def _model():
    return CaptioningRNN(DIGIT_WORDS, input_dim=6, wordvec_dim=5, hidden_dim=4)


GOOD_CAPTIONS = np.array([[1, 4, 2], [1, 5, 2]])


@pytest.mark.parametrize("call, error, message", [
    (lambda: CaptioningRNN(DIGIT_WORDS, cell_type="gru"), ValueError, 'Invalid cell_type "gru"'),
    (lambda: CaptioningRNN({"cat": 1}), ValueError, "word_to_idx"),
    (lambda: CaptioningRNN(DIGIT_WORDS, hidden_dim=0), ValueError, "hidden_dim"),
    (lambda: CaptioningRNN(DIGIT_WORDS, dtype=np.int32), TypeError, "dtype"),
    (lambda: _model().loss(np.zeros((2, 6)), GOOD_CAPTIONS.astype(float)), TypeError, "captions"),
    (lambda: _model().loss(np.zeros((2, 6)), GOOD_CAPTIONS[0]), ValueError, "captions must have shape"),
    (lambda: _model().loss(np.zeros((3, 6)), GOOD_CAPTIONS), ValueError, r"\(3, T\)"),
    (lambda: _model().loss(np.zeros((2, 6)), GOOD_CAPTIONS[:, :1]), ValueError, "T >= 2"),
    (lambda: _model().loss(np.zeros((2, 6)), GOOD_CAPTIONS + 20), ValueError, r"0\.\.6"),
    (lambda: _model().loss(np.zeros((2, 5)), GOOD_CAPTIONS), ValueError, "features"),
    (lambda: _model().loss(np.zeros((0, 6)), GOOD_CAPTIONS[:0]), ValueError, "features has 0 rows"),
    (lambda: _model().loss(np.zeros((2, 6)), None), ValueError, "captions are needed"),
    (lambda: _model().loss(np.zeros((2, 6)), GOOD_CAPTIONS, method="numeric"), ValueError, "method"),
    (lambda: _model().forward_tensors(np.zeros((2, 6)), GOOD_CAPTIONS, reg=0.1), ValueError,
     "no regularisation"),
    (lambda: _model().sample(np.zeros((2, 5))), ValueError, "features"),
    (lambda: _model().sample(np.zeros((2, 6)), max_length=0), ValueError, "max_length"),
    (lambda: CaptioningRNN(WORD_TO_IDX, input_dim=6).sample(np.zeros((2, 6))), ValueError, "<START>"),
])
def test_bad_input_is_named(call, error, message):
    with pytest.raises(error, match=message):
        call()


@pytest.mark.parametrize("cell_type", ["rnn", "lstm"])
def test_the_default_traced_loss_is_the_tape_s_bit_for_bit(cell_type):
    """loss(features, captions) compiles the tape's ops (tflc.jit), the captions split outside;
    "autodiff" runs the same tape eagerly: the same loss and gradients exactly, <NULL> padding
    included, batch after batch."""
    np.random.seed(2)
    model = CaptioningRNN({"<NULL>": 0, "<START>": 1, "<END>": 2, "a": 3, "b": 4}, input_dim=6,
                          wordvec_dim=5, hidden_dim=7, cell_type=cell_type, dtype=np.float64)
    for _ in range(3):
        features = np.random.randn(4, 6)
        captions = np.random.randint(0, 5, (4, 6))
        captions[:, 0] = 1
        loss, grads = model.loss(features, captions)
        expected_loss, expected = model.loss(features, captions, method="autodiff")
        assert loss == expected_loss
        for k, g in expected.items():
            np.testing.assert_array_equal(grads[k], g)
