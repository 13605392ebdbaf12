"""Softmax loss: engine (autodiff) vs the seed's hand derivation vs loops vs finite differences."""
import numpy as np
import pytest
from conftest import assert_close_to_rounding

from models.softmax import Softmax, softmax_loss, softmax_loss_naive, softmax_loss_vectorized
from tensorflowlite_clone.gradcheck import compare_gradients, grad_check_sparse, numerical_gradient, rel_error

# (N, D, C, weight scale): small nets with peaked probabilities, and cs231n's CIFAR-10 shape
# (500 images of 3072 pixels + a bias column, 10 classes, W = 0.0001 * randn)
SIZES = [(1, 3, 2, 1.0), (7, 5, 4, 0.5), (40, 20, 10, 0.3), (500, 3073, 10, 1e-4)]
REGS = [0.0, 0.05, 5e3]


def problem(N, D, C, scale, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(scale=1.0 if D < 100 else 60.0, size=(N, D))  # CIFAR-like pixel spread
    W = scale * rng.standard_normal((D, C))
    y = rng.integers(C, size=N)
    return W.astype(dtype), X.astype(dtype), y


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("N, D, C, scale", SIZES)
def test_engine_matches_seed_and_loops(N, D, C, scale, reg):
    W, X, y = problem(N, D, C, scale)
    loss, dW = softmax_loss(W, X, y, reg)
    loss_v, dW_v = softmax_loss_vectorized(W, X, y, reg)
    loss_n, dW_n = softmax_loss_naive(W, X, y, reg)
    assert isinstance(loss, float) and dW.shape == W.shape and dW.dtype == np.float64
    assert abs(loss - loss_v) <= 1e-12 * abs(loss_v)
    assert rel_error(dW, dW_v) <= 1e-9
    assert abs(loss_n - loss_v) <= 1e-12 * abs(loss_v)
    assert rel_error(dW_n, dW_v) <= 1e-9


@pytest.mark.parametrize("reg", REGS)
@pytest.mark.parametrize("N, D, C, scale", SIZES[:3])
def test_engine_matches_finite_differences(N, D, C, scale, reg):
    W, X, y = problem(N, D, C, scale, seed=1)
    _, dW = softmax_loss(W, X, y, reg)
    numerical = numerical_gradient(lambda w: softmax_loss(w, X, y, reg)[0], W)
    assert rel_error(dW, numerical) < 1e-7


@pytest.mark.parametrize("reg", [0.0, 5e3])
def test_cs231n_size_sparse_finite_differences(reg):
    W, X, y = problem(500, 3073, 10, 1e-4, seed=2)
    loss, dW = softmax_loss(W, X, y, reg)
    if reg == 0.0:  # cs231n's sanity check: near-uniform scores give a loss of about log(C)
        assert loss == pytest.approx(np.log(10), abs=0.05)
    errors = grad_check_sparse(lambda w: softmax_loss(w, X, y, reg)[0], W, dW, num_checks=8, seed=0)
    assert max(errors) < 1e-5  # a few entries are tiny, where h=1e-5 rounding shows


def test_inputs_untouched_and_list_labels():
    W, X, y = problem(6, 4, 3, 0.5)
    W0, X0 = W.copy(), X.copy()
    for f in (softmax_loss, softmax_loss_vectorized, softmax_loss_naive):
        loss, dW = f(W, X, list(y), 0.1)
        assert np.array_equal(W, W0) and np.array_equal(X, X0)
        assert rel_error(dW, softmax_loss_vectorized(W, X, y, 0.1)[1]) < 1e-9


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
def test_float32_weights_give_float32_gradients(x_dtype):
    W, X, y = problem(20, 8, 5, 0.5)
    reference = softmax_loss_vectorized(W, X, y, 0.1)[1]
    W32, X = W.astype(np.float32), X.astype(x_dtype)
    for f in (softmax_loss, softmax_loss_vectorized, softmax_loss_naive):
        loss, dW = f(W32, X, y, 0.1)
        assert dW.dtype == np.float32, f.__name__
        assert np.allclose(dW, reference, rtol=1e-4, atol=1e-6)


def blobs(n_per_class=60, seed=0, dtype=np.float64):
    """Three well-separated Gaussian blobs around directions 120 degrees apart (linearly
    separable through the origin, so W needs no bias)."""
    rng = np.random.default_rng(seed)
    centres = 5 * np.array([[1, 0], [-0.5, 0.866], [-0.5, -0.866]])
    X = np.concatenate([c + rng.standard_normal((n_per_class, 2)) * 0.7 for c in centres])
    y = np.repeat(np.arange(3), n_per_class)
    return X.astype(dtype), y


@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_classifier_learns_separable_blobs(method):
    X, y = blobs()
    np.random.seed(0)
    clf = Softmax()
    history = clf.train(X, y, learning_rate=0.5, reg=1e-4, num_iters=150, batch_size=50,
                        method=method)
    assert len(history) == 150 and all(isinstance(h, float) for h in history)
    assert np.mean(history[-10:]) < 0.5 * history[0]
    assert np.mean(clf.predict(X) == y) > 0.95
    X_test, y_test = blobs(seed=1)
    assert np.mean(clf.predict(X_test) == y_test) > 0.95


def test_classifier_initialisation_and_float32():
    X, y = blobs(dtype=np.float32)
    np.random.seed(3)
    expected = 0.001 * np.random.randn(2, 3)
    np.random.seed(3)
    clf = Softmax()
    assert clf.train(X, y, num_iters=0) == []
    assert clf.W.dtype == np.float32 and np.allclose(clf.W, expected)
    clf.train(X, y, learning_rate=0.5, num_iters=50, batch_size=50)
    assert clf.W.dtype == np.float32 and np.mean(clf.predict(X) == y) > 0.9


def test_classifier_loss_methods_and_errors():
    W, X, y = problem(10, 5, 3, 0.5)
    clf = Softmax(W.copy())
    (la, ga), (lm, gm), (ln, gn) = (clf.loss(X, y, 0.1, method=m) for m in ("autodiff", "manual", "naive"))
    assert la == pytest.approx(lm, rel=1e-12) and rel_error(ga, gm) < 1e-9 and rel_error(gn, gm) < 1e-9
    with pytest.raises(ValueError, match="method"):
        clf.loss(X, y, 0.1, method="numerical")
    with pytest.raises(ValueError, match="not initialised"):
        Softmax().predict(X)


def test_classifier_compare_gradients():
    W, X, y = problem(6, 4, 3, 0.5)
    result = compare_gradients(Softmax(W), X, y, reg=0.1)
    assert result.ok and result.first_disagreement is None
    assert [r.name for r in result.rows] == ["probs", "scores", "W"]
    assert result["scores"].hand_vs_autodiff < 1e-12


def test_traced_loss_is_the_tape_s_loss():
    """Softmax.loss(method="traced") (tflc.jit of value_and_grad) == the eager tape's: the loss
    exactly, the gradient to rounding (the compiled adjoint is the seed's (q - 1_y)/N), call
    after call on new batches, float64 and float32 weights alike."""
    rng = np.random.default_rng(3)
    for dtype in (np.float64, np.float32):
        model = Softmax((0.01 * rng.standard_normal((6, 4))).astype(dtype))
        for _ in range(4):
            X, y = rng.standard_normal((10, 6)), rng.integers(0, 4, 10)
            loss, dW = model.loss(X, y, 0.1, method="traced")
            expected_loss, expected = model.loss(X, y, 0.1)
            assert loss == expected_loss and dW.dtype == expected.dtype == dtype
            assert_close_to_rounding(dW, expected)
