"""cs231n assignment 3's recurrent layers: hand-derived backward (models/rnn_layers.py) == the
tape's gradient of the engine-built layer (models/engine_rnn_layers.py) == central finite
differences, on the RNN_Captioning / LSTM_Captioning notebooks' own check inputs (the same
seeds and order of draws), and the forward passes against the notebooks' printed arrays.

Tolerances: hand vs tape 1e-10 (both exact, only the order of the float operations differs);
either vs finite differences the notebook's own bound in cs231n's per-entry measure, and 1e-8
relative to the largest entry (`per_entry=False`, which near-zero entries cannot dominate).
"""
import numpy as np
import pytest

import tensorflowlite_clone as tflc
from models import engine_rnn_layers as E
from models import rnn_layers as L
from tensorflowlite_clone.gradcheck import numerical_gradient, numerical_gradient_array, rel_error

HAND_VS_TAPE = 1e-10
VS_NUMERIC_OF_LARGEST = 1e-8
PRINTED = 5.5e-9  # the notebooks print 8 decimals: a correct value is within half a unit of them


def tape_gradients(layer, args, wrt, douts):
    """The tape's gradients of sum_k <output_k, douts[k]> with respect to args[name], name in
    `wrt` (watched Tensors wrapping the arrays); the other args go in as NumPy arrays. douts
    None: the output is a scalar loss, differentiated as it is."""
    inputs = {k: (tflc.Tensor(v) if k in wrt else v) for k, v in args.items()}
    with tflc.GradientTape() as tape:
        for name in wrt:
            tape.watch(inputs[name])
        outs = layer(**inputs)
    outs = list(outs) if isinstance(outs, tuple) else [outs]
    assert all(isinstance(out, tflc.Tensor) for out in outs)
    sources = [inputs[k] for k in wrt]
    if douts is None:
        grads = tape.gradient(outs[0], sources)
    else:
        grads = tape.gradient(outs, sources, output_gradients=list(douts))
    return {name: g.numpy() for name, g in zip(wrt, grads)}


def numeric_gradients(forward, args, wrt, douts):
    """Central differences of sum_k <forward(**args)[k], douts[k]> (cs231n's
    eval_numerical_gradient_array, summed over the outputs as the LSTM notebook does)."""
    grads = {}
    for name in wrt:
        grads[name] = sum(
            numerical_gradient_array(lambda v, k=k, name=name: forward(**{**args, name: v})[k], args[name], d)
            for k, d in enumerate(douts))
    return grads


def assert_three_way(hand, tape, numeric, per_entry_tol):
    """hand == tape == numeric; `per_entry_tol` a float or {name: float} (the notebook's)."""
    for name in hand:
        tol = per_entry_tol[name] if isinstance(per_entry_tol, dict) else per_entry_tol
        assert hand[name].shape == tape[name].shape == numeric[name].shape, name
        assert rel_error(hand[name], tape[name]) < HAND_VS_TAPE, name
        for other in (hand[name], tape[name]):
            assert rel_error(other, numeric[name]) < tol, name
            assert rel_error(other, numeric[name], per_entry=False) < VS_NUMERIC_OF_LARGEST, name


def assert_printed(expected, *values):
    for value in values:
        value = np.asarray(value)
        assert value.shape == expected.shape
        assert np.abs(value - expected).max() < PRINTED
        assert rel_error(expected, value) < 2e-7  # the notebooks' bound (lstm_forward's 8.6e-8)


# --- the vanilla RNN --------------------------------------------------------------------------------
def test_rnn_step_forward_matches_the_notebook():
    N, D, H = 3, 10, 4
    args = dict(x=np.linspace(-0.4, 0.7, num=N * D).reshape(N, D),
                prev_h=np.linspace(-0.2, 0.5, num=N * H).reshape(N, H),
                Wx=np.linspace(-0.1, 0.9, num=D * H).reshape(D, H),
                Wh=np.linspace(-0.3, 0.7, num=H * H).reshape(H, H),
                b=np.linspace(-0.2, 0.4, num=H))
    expected_next_h = np.asarray([  # RNN_Captioning.ipynb
        [-0.58172089, -0.50182032, -0.41232771, -0.31410098],
        [0.66854692, 0.79562378, 0.87755553, 0.92795967],
        [0.97934501, 0.99144213, 0.99646691, 0.99854353]])
    next_h, _ = L.rnn_step_forward(**args)
    assert_printed(expected_next_h, next_h, E.rnn_step(**args))


def test_rnn_step_backward_three_ways():
    np.random.seed(231)
    N, D, H = 4, 5, 6
    args = dict(x=np.random.randn(N, D), prev_h=np.random.randn(N, H),
                Wx=np.random.randn(D, H), Wh=np.random.randn(H, H), b=np.random.randn(H))
    out, cache = L.rnn_step_forward(**args)
    dnext_h = np.random.randn(*out.shape)
    wrt = ["x", "prev_h", "Wx", "Wh", "b"]
    hand = dict(zip(wrt, L.rnn_step_backward(dnext_h, cache)))
    assert_three_way(hand, tape_gradients(E.rnn_step, args, wrt, [dnext_h]),
                     numeric_gradients(L.rnn_step_forward, args, wrt, [dnext_h]),
                     1e-8)  # the notebook: "errors less than 1e-8"


def test_rnn_forward_matches_the_notebook():
    N, T, D, H = 2, 3, 4, 5
    args = dict(x=np.linspace(-0.1, 0.3, num=N * T * D).reshape(N, T, D),
                h0=np.linspace(-0.3, 0.1, num=N * H).reshape(N, H),
                Wx=np.linspace(-0.2, 0.4, num=D * H).reshape(D, H),
                Wh=np.linspace(-0.4, 0.1, num=H * H).reshape(H, H),
                b=np.linspace(-0.7, 0.1, num=H))
    expected_h = np.asarray([  # RNN_Captioning.ipynb
        [[-0.42070749, -0.27279261, -0.11074945, 0.05740409, 0.22236251],
         [-0.39525808, -0.22554661, -0.0409454, 0.14649412, 0.32397316],
         [-0.42305111, -0.24223728, -0.04287027, 0.15997045, 0.35014525]],
        [[-0.55857474, -0.39065825, -0.19198182, 0.02378408, 0.23735671],
         [-0.27150199, -0.07088804, 0.13562939, 0.33099728, 0.50158768],
         [-0.51014825, -0.30524429, -0.06755202, 0.17806392, 0.40333043]]])
    h, _ = L.rnn_forward(**args)
    assert_printed(expected_h, h, E.rnn(**args))


def test_rnn_backward_three_ways():
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 5
    args = dict(x=np.random.randn(N, T, D), h0=np.random.randn(N, H),
                Wx=np.random.randn(D, H), Wh=np.random.randn(H, H), b=np.random.randn(H))
    out, cache = L.rnn_forward(**args)
    dout = np.random.randn(*out.shape)
    wrt = ["x", "h0", "Wx", "Wh", "b"]
    hand = dict(zip(wrt, L.rnn_backward(dout, cache)))
    assert_three_way(hand, tape_gradients(E.rnn, args, wrt, [dout]),
                     numeric_gradients(L.rnn_forward, args, wrt, [dout]),
                     5e-7)  # the notebook: "errors less than 5e-7"


# --- word embeddings, temporal affine -----------------------------------------------------------------
def test_word_embedding_forward_matches_the_notebook():
    V, D = 5, 3
    x = np.asarray([[0, 3, 1, 2], [2, 1, 0, 3]])
    W = np.linspace(0, 1, num=V * D).reshape(V, D)
    expected_out = np.asarray([  # RNN_Captioning.ipynb
        [[0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429],
         [0.21428571, 0.28571429, 0.35714286],
         [0.42857143, 0.5, 0.57142857]],
        [[0.42857143, 0.5, 0.57142857],
         [0.21428571, 0.28571429, 0.35714286],
         [0., 0.07142857, 0.14285714],
         [0.64285714, 0.71428571, 0.78571429]]])
    out, _ = L.word_embedding_forward(x, W)
    assert_printed(expected_out, out, E.word_embedding(x, W))


def test_word_embedding_backward_three_ways():
    np.random.seed(231)
    N, T, V, D = 50, 3, 5, 6
    args = dict(x=np.random.randint(V, size=(N, T)), W=np.random.randn(V, D))
    out, cache = L.word_embedding_forward(**args)
    dout = np.random.randn(*out.shape)
    assert len(np.unique(args["x"])) < args["x"].size  # repeated words: their gradients add
    hand = {"W": L.word_embedding_backward(dout, cache)}
    assert_three_way(hand, tape_gradients(E.word_embedding, args, ["W"], [dout]),
                     numeric_gradients(L.word_embedding_forward, args, ["W"], [dout]),
                     1e-11)  # the notebook: "errors less than 1e-11"


def test_temporal_affine_three_ways():
    np.random.seed(231)
    N, T, D, M = 2, 3, 4, 5
    args = dict(x=np.random.randn(N, T, D), w=np.random.randn(D, M), b=np.random.randn(M))
    out, cache = L.temporal_affine_forward(**args)
    assert np.allclose(out, np.einsum("ntd,dm->ntm", args["x"], args["w"]) + args["b"], 0, 1e-14)
    assert np.allclose(E.temporal_affine(**args).numpy(), out, 0, 1e-14)
    dout = np.random.randn(*out.shape)
    wrt = ["x", "w", "b"]
    hand = dict(zip(wrt, L.temporal_affine_backward(dout, cache)))
    assert_three_way(hand, tape_gradients(E.temporal_affine, args, wrt, [dout]),
                     numeric_gradients(L.temporal_affine_forward, args, wrt, [dout]),
                     1e-9)  # the notebook: "errors less than 1e-9"


# --- temporal softmax loss ----------------------------------------------------------------------------
def notebook_check_loss_cases():
    """The notebook's check_loss inputs, drawn in its order after np.random.seed(231):
    (N, T, V, p, what it should be about), x, y, mask for each of the three calls."""
    np.random.seed(231)
    cases = []
    for N, T, V, p, about in [(100, 1, 10, 1.0, 2.3), (100, 10, 10, 1.0, 23),
                              (5000, 10, 10, 0.1, 2.3)]:
        x = 0.001 * np.random.randn(N, T, V)
        y = np.random.randint(V, size=(N, T))
        mask = np.random.rand(N, T) <= p
        cases.append((about, x, y, mask))
    return cases


def test_temporal_softmax_loss_sanity():
    """The notebook's check_loss: near-uniform scores cost log V per counted step, so the loss
    is log(10) times the masked-in steps per caption: about 2.3, 23, and 2.3 (2.2-2.4)."""
    for about, x, y, mask in notebook_check_loss_cases():
        N, T, V = x.shape
        loss, dx = L.temporal_softmax_loss(x, y, mask)
        assert isinstance(loss, float) and dx.shape == x.shape
        assert abs(loss - about) < 0.1 * about
        assert abs(loss - np.log(V) * mask.sum() / N) < 1e-3 * T  # scores of 0.001: ~log V
        assert abs(float(E.temporal_softmax_loss(x, y, mask)) - loss) < 1e-12 * T


def test_temporal_softmax_loss_three_ways():
    notebook_check_loss_cases()  # the gradient check's draws follow check_loss's
    N, T, V = 7, 8, 9
    x = np.random.randn(N, T, V)
    y = np.random.randint(V, size=(N, T))
    mask = np.random.rand(N, T) > 0.5
    loss, dx = L.temporal_softmax_loss(x, y, mask, verbose=False)
    assert abs(float(E.temporal_softmax_loss(x, y, mask)) - loss) < 1e-12
    tape = tape_gradients(E.temporal_softmax_loss, dict(x=x, y=y, mask=mask), ["x"], None)
    numeric = numerical_gradient(lambda v: L.temporal_softmax_loss(v, y, mask)[0], x)
    assert_three_way({"x": dx}, tape, {"x": numeric}, 1e-7)  # the notebook: "less than 1e-7"
    assert not dx[~mask].any()  # masked-out steps: no gradient at all


def test_temporal_softmax_loss_is_finite_where_softmax_underflows(capsys):
    """A masked-out step whose label has probability 0 in float64 contributes nothing (0, not
    0 * -inf = NaN); a counted one costs its exact -log p."""
    x = np.array([[[0.0, -1000.0], [0.0, -2000.0]]])
    y = np.array([[1, 1]])
    mask = np.array([[True, False]])
    loss, dx = L.temporal_softmax_loss(x, y, mask, verbose=True)
    assert capsys.readouterr().out == "dx_flat:  (2, 2)\n"
    assert loss == 1000.0 and np.isfinite(dx).all()
    assert float(E.temporal_softmax_loss(x, y, mask)) == 1000.0


# --- the LSTM -----------------------------------------------------------------------------------------
def test_sigmoid_is_stable_and_exact():
    x = np.array([-1000.0, -30.0, -1.0, 0.0, 1.0, 30.0, 1000.0])
    with np.errstate(over="raise"):
        s = L.sigmoid(x)
    assert np.array_equal(s[[0, 3, 6]], [0.0, 0.5, 1.0])
    assert np.allclose(s[1:-1], 1 / (1 + np.exp(-x[1:-1])), rtol=1e-15, atol=0)
    assert np.allclose(s + L.sigmoid(-x), 1, rtol=0, atol=1e-16)
    assert L.sigmoid(np.float32([2.0, -2.0])).dtype == np.float32


def test_lstm_step_forward_matches_the_notebook():
    N, D, H = 3, 4, 5
    args = dict(x=np.linspace(-0.4, 1.2, num=N * D).reshape(N, D),
                prev_h=np.linspace(-0.3, 0.7, num=N * H).reshape(N, H),
                prev_c=np.linspace(-0.4, 0.9, num=N * H).reshape(N, H),
                Wx=np.linspace(-2.1, 1.3, num=4 * D * H).reshape(D, 4 * H),
                Wh=np.linspace(-0.7, 2.2, num=4 * H * H).reshape(H, 4 * H),
                b=np.linspace(0.3, 0.7, num=4 * H))
    expected_next_h = np.asarray([  # LSTM_Captioning.ipynb
        [0.24635157, 0.28610883, 0.32240467, 0.35525807, 0.38474904],
        [0.49223563, 0.55611431, 0.61507696, 0.66844003, 0.7159181],
        [0.56735664, 0.66310127, 0.74419266, 0.80889665, 0.858299]])
    expected_next_c = np.asarray([
        [0.32986176, 0.39145139, 0.451556, 0.51014116, 0.56717407],
        [0.66382255, 0.76674007, 0.87195994, 0.97902709, 1.08751345],
        [0.74192008, 0.90592151, 1.07717006, 1.25120233, 1.42395676]])
    next_h, next_c, _ = L.lstm_step_forward(**args)
    engine_h, engine_c = E.lstm_step(**args)
    assert_printed(expected_next_h, next_h, engine_h)
    assert_printed(expected_next_c, next_c, engine_c)


def test_lstm_step_backward_three_ways():
    np.random.seed(231)
    N, D, H = 4, 5, 6
    args = dict(x=np.random.randn(N, D), prev_h=np.random.randn(N, H),
                prev_c=np.random.randn(N, H), Wx=np.random.randn(D, 4 * H),
                Wh=np.random.randn(H, 4 * H), b=np.random.randn(4 * H))
    next_h, next_c, cache = L.lstm_step_forward(**args)
    dnext_h = np.random.randn(*next_h.shape)
    dnext_c = np.random.randn(*next_c.shape)
    wrt = ["x", "prev_h", "prev_c", "Wx", "Wh", "b"]
    hand = dict(zip(wrt, L.lstm_step_backward(dnext_h, dnext_c, cache)))
    douts = [dnext_h, dnext_c]
    assert_three_way(hand, tape_gradients(E.lstm_step, args, wrt, douts),
                     numeric_gradients(L.lstm_step_forward, args, wrt, douts),
                     1e-7)  # the notebook: "errors on the order of e-7 or less"


def test_lstm_forward_matches_the_notebook():
    N, D, H, T = 2, 5, 4, 3
    args = dict(x=np.linspace(-0.4, 0.6, num=N * T * D).reshape(N, T, D),
                h0=np.linspace(-0.4, 0.8, num=N * H).reshape(N, H),
                Wx=np.linspace(-0.2, 0.9, num=4 * D * H).reshape(D, 4 * H),
                Wh=np.linspace(-0.3, 0.6, num=4 * H * H).reshape(H, 4 * H),
                b=np.linspace(0.2, 0.7, num=4 * H))
    expected_h = np.asarray([  # LSTM_Captioning.ipynb
        [[0.01764008, 0.01823233, 0.01882671, 0.0194232],
         [0.11287491, 0.12146228, 0.13018446, 0.13902939],
         [0.31358768, 0.33338627, 0.35304453, 0.37250975]],
        [[0.45767879, 0.4761092, 0.4936887, 0.51041945],
         [0.6704845, 0.69350089, 0.71486014, 0.7346449],
         [0.81733511, 0.83677871, 0.85403753, 0.86935314]]])
    h, _ = L.lstm_forward(**args)
    assert_printed(expected_h, h, E.lstm(**args))


def test_lstm_backward_three_ways():
    np.random.seed(231)
    N, D, T, H = 2, 3, 10, 6
    args = dict(x=np.random.randn(N, T, D), h0=np.random.randn(N, H),
                Wx=np.random.randn(D, 4 * H), Wh=np.random.randn(H, 4 * H),
                b=np.random.randn(4 * H))
    out, cache = L.lstm_forward(**args)
    dout = np.random.randn(*out.shape)
    wrt = ["x", "h0", "Wx", "Wh", "b"]
    hand = dict(zip(wrt, L.lstm_backward(dout, cache)))
    # the notebook: "errors on the order of e-8 or less (for dWh, e-6 or less)"
    tols = {"x": 5e-8, "h0": 5e-8, "Wx": 5e-8, "Wh": 5e-6, "b": 5e-8}
    assert_three_way(hand, tape_gradients(E.lstm, args, wrt, [dout]),
                     numeric_gradients(L.lstm_forward, args, wrt, [dout]), tols)


# --- dtypes, caches, bad input ------------------------------------------------------------------------
def test_float32_stays_float32_in_both_paths():
    rng = np.random.default_rng(0)
    N, T, D, H, V = 2, 3, 4, 5, 6
    f32 = np.float32
    x, h0 = rng.standard_normal((N, T, D)).astype(f32), rng.standard_normal((N, H)).astype(f32)
    for gates, forward, backward, engine in [(1, L.rnn_forward, L.rnn_backward, E.rnn),
                                              (4, L.lstm_forward, L.lstm_backward, E.lstm)]:
        Wx = rng.standard_normal((D, gates * H)).astype(f32)
        Wh = rng.standard_normal((H, gates * H)).astype(f32)
        b = rng.standard_normal(gates * H).astype(f32)
        h, cache = forward(x, h0, Wx, Wh, b)
        assert h.dtype == f32 and engine(x, h0, Wx, Wh, b).dtype == f32
        assert np.allclose(h, engine(x, h0, Wx, Wh, b).numpy(), rtol=0, atol=1e-5)
        assert all(g.dtype == f32 for g in backward(np.ones_like(h), cache))
    W = rng.standard_normal((V, D)).astype(f32)
    ids = rng.integers(V, size=(N, T))
    out, cache = L.word_embedding_forward(ids, W)
    assert out.dtype == f32 and L.word_embedding_backward(out, cache).dtype == f32
    _, dx = L.temporal_softmax_loss(x, rng.integers(D, size=(N, T)), np.ones((N, T), bool))
    assert dx.dtype == f32


def test_rnn_forward_keeps_cs231n_caches():
    """rnn_forward's cache is the list of its steps' caches, each rnn_step_forward's own, so
    rnn_step_backward reads them; lstm likewise (gates i, f, o, g in the cache)."""
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5))
    Wx, Wh, b = rng.standard_normal((4, 5)), rng.standard_normal((5, 5)), rng.standard_normal(5)
    h, cache = L.rnn_forward(x, h0, Wx, Wh, b)
    assert len(cache) == 3
    step_h, step_cache = L.rnn_step_forward(x[:, 1], h[:, 0], Wx, Wh, b)
    assert np.array_equal(step_h, h[:, 1])
    assert all(np.array_equal(a, c) for a, c in zip(step_cache, cache[1]))
    _, _, lstm_cache = L.lstm_step_forward(x[:, 0], h0, h0, rng.standard_normal((4, 20)),
                                           rng.standard_normal((5, 20)), np.zeros(20))
    i, f, o, g = lstm_cache[5:9]
    assert ((0 < i) & (i < 1)).all() and ((0 < f) & (f < 1)).all() and ((0 < o) & (o < 1)).all()
    assert ((-1 < g) & (g < 1)).all()


@pytest.mark.parametrize("call, message", [
    (lambda: L.rnn_step_forward(np.ones((3, 4)), np.ones((3, 5)), np.ones((4, 5)),
                                np.ones((5, 5)), np.ones(1)), r"b must have shape \(H,\)"),
    (lambda: L.rnn_forward(np.ones((3, 4)), np.ones((3, 5)), np.ones((4, 5)), np.ones((5, 5)),
                           np.ones(5)), r"x must have shape \(N, T, D\)"),
    (lambda: L.rnn_forward(np.ones((2, 7, 4)), np.ones((3, 5)), np.ones((4, 5)),
                           np.ones((5, 5)), np.ones(5)), "same N"),
    (lambda: L.lstm_step_forward(np.ones((3, 4)), np.ones((3, 5)), np.ones((3, 5)),
                                 np.ones((4, 5)), np.ones((5, 20)), np.ones(20)),
     r"Wx must have shape \(D, 4H\) = \(4, 20\)"),
    (lambda: L.lstm_step_forward(np.ones((3, 4)), np.ones((3, 5)), np.ones((2, 5)),
                                 np.ones((4, 20)), np.ones((5, 20)), np.ones(20)), "prev_c"),
    (lambda: L.word_embedding_forward(np.array([[0, -1]]), np.ones((5, 3))), "0..4"),
    (lambda: L.word_embedding_forward(np.array([[0.0, 1.0]]), np.ones((5, 3))), "integer"),
    (lambda: L.temporal_affine_forward(np.ones((2, 3, 4)), np.ones((4, 5)), np.ones(4)),
     r"b must have shape \(M,\)"),
    (lambda: L.temporal_softmax_loss(np.ones((2, 3, 4)), np.full((2, 3), 4), np.ones((2, 3))),
     r"0\.\.3"),
    (lambda: L.temporal_softmax_loss(np.ones((2, 3, 4)), np.zeros((2, 3), int), np.ones(6)),
     "mask"),
])
def test_bad_input_is_a_value_error_naming_the_argument(call, message):
    with pytest.raises(ValueError, match=message):
        call()
