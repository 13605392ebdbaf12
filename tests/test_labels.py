"""Bad input to the models (bad-input report, issue 11: S1-2, S2-11, S2-15, severity 3): every
entry point that takes data checks X, the labels y and reg before any math, with one message
naming the argument, whichever path (autodiff, traced, manual, naive) runs behind it."""
import numpy as np
import pytest

from models.softmax import Softmax, softmax_loss, softmax_loss_naive, softmax_loss_vectorized
from models.two_layer_net import TwoLayerNet
from tensorflowlite_clone.gradcheck import compare_gradients


def data():
    """The report's setup: net = TwoLayerNet(5, 7, 3, std=0.1), X (6, 5), y = [0, 1, 2, 0, 1, 2]."""
    np.random.seed(0)
    net = TwoLayerNet(5, 7, 3, std=0.1)
    X = np.random.default_rng(0).standard_normal((6, 5))
    return net, X, np.array([0, 1, 2, 0, 1, 2])


NET_METHODS = ["autodiff", "traced", "manual"]
SOFTMAX_LOSSES = [softmax_loss, softmax_loss_vectorized, softmax_loss_naive]


def two_layer_losses():
    """Every two-layer entry point that computes a loss, as f(X, y, reg)."""
    net, _, _ = data()
    calls = {m: (lambda X, y, reg, m=m: net.loss(X, y, reg, method=m)) for m in NET_METHODS}
    calls["forward_tensors"] = net.forward_tensors
    calls["hand_derived_gradients"] = lambda X, y, reg: net.hand_derived_gradients(net.params, X, y, reg)
    calls["compare_gradients"] = lambda X, y, reg: compare_gradients(net, X, y, reg, numerical=False)
    return calls


def softmax_entry_points():
    """Every softmax entry point that computes a loss, as f(X, y, reg), W (5, 3)."""
    W = np.random.default_rng(1).standard_normal((5, 3))
    calls = {f.__name__: (lambda X, y, reg, f=f: f(W, X, y, reg)) for f in SOFTMAX_LOSSES}
    calls.update({f"Softmax.loss {m}": (lambda X, y, reg, m=m: Softmax(W).loss(X, y, reg, m))
                  for m in ("autodiff", "manual", "naive")})
    calls["Softmax.forward_tensors"] = Softmax(W).forward_tensors
    calls["Softmax.hand_derived_gradients"] = (
        lambda X, y, reg: Softmax.hand_derived_gradients({"W": W}, X, y, reg))
    return calls


ENTRY_POINTS = {**two_layer_losses(), **softmax_entry_points()}

BAD_LABELS = [  # (labels for the 6 rows of X, what the message says)
    (np.array([0, 1, 2, -1, 0, 1]), "got -1 at index 3"),   # was read as class C-1
    (np.array([0, 1, 2, 0, 1, 3]), "got 3 at index 5"),
    (np.array([0, 1, 2, 0, 1]), r"got shape \(5,\)"),        # was: the last example dropped
    (np.array([[0], [1], [2], [0], [1], [2]]), r"got shape \(6, 1\)"),  # was: an N x N block averaged
    (np.array([0., 1., 2., 0., 1., 2.]), "got dtype float64"),  # integral floats are refused too
    (np.array([True, False, True, False, True, False]), "got dtype bool"),
    (3, "got 3"),
]


@pytest.mark.parametrize("labels, got", BAD_LABELS)
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_bad_labels_are_refused_by_every_entry_point(entry, labels, got):
    _, X, _ = data()
    with pytest.raises(ValueError, match=r"^y: labels must be 6 integers in 0\.\.2 "
                                         r"\(one per row of X\), " + got):
        ENTRY_POINTS[entry](X, labels, 0.1)


# TwoLayerNet: y None asks for the scores (compare_gradients' own check: tests/test_gradcheck.py)
SCORES_WITHOUT_LABELS = NET_METHODS + ["forward_tensors", "compare_gradients"]


@pytest.mark.parametrize("entry", [e for e in ENTRY_POINTS if e not in SCORES_WITHOUT_LABELS])
def test_labels_are_required_where_a_loss_needs_them(entry):
    _, X, _ = data()
    with pytest.raises(ValueError, match=r"^y: .*got None"):
        ENTRY_POINTS[entry](X, None, 0.1)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_X_must_fit_the_weights(entry):
    _, X, y = data()
    weights = r"W1 of shape \(5, 7\)" if entry in two_layer_losses() else r"W of shape \(5, 3\)"
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of shape \(N, 5\) to match "
                                         + weights + r", got shape \(6, 4\)"):
        ENTRY_POINTS[entry](X[:, :4], y, 0.1)
    with pytest.raises(ValueError, match=r"got shape \(30,\)"):
        ENTRY_POINTS[entry](X.ravel(), y, 0.1)
    with pytest.raises(TypeError, match="X must be an array of real numbers, got dtype <U"):
        ENTRY_POINTS[entry](X.astype(str), y, 0.1)


@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_an_empty_batch_is_refused(entry):
    _, X, y = data()
    with pytest.raises(ValueError, match="^empty batch: X has 0 rows"):  # was NaN or ZeroDivisionError
        ENTRY_POINTS[entry](X[:0], y[:0], 0.1)


@pytest.mark.parametrize("reg, error, got", [(np.array([0.1, 0.2]), TypeError, r"an array of shape \(2,\)"),
                                             (None, TypeError, "None"), ("0.1", TypeError, "'0.1'"),
                                             (True, TypeError, "True"), (-0.1, ValueError, "-0.1"),
                                             (float("nan"), ValueError, "nan")])
@pytest.mark.parametrize("entry", ENTRY_POINTS)
def test_reg_must_be_a_non_negative_number(entry, reg, error, got):
    _, X, y = data()
    with pytest.raises(error, match=r"^reg must be a (finite )?non-negative number, got " + got):
        ENTRY_POINTS[entry](X, y, reg)


def test_good_input_still_works_in_every_form():
    net, X, y = data()
    reference = net.loss(X, y, 0.1, method="manual")[0]
    for reg in (0.1, np.float64(0.1), np.array(0.1)):
        for method in NET_METHODS:
            assert net.loss(X, list(y), reg, method=method)[0] == pytest.approx(reference, rel=1e-12)
    for labels in (y.astype(np.uint8), y.astype(np.int32)):
        assert net.loss(X, labels, 0.1)[0] == pytest.approx(reference, rel=1e-12)
    assert net.loss(X.tolist(), y, 0.1)[0] == pytest.approx(reference, rel=1e-12)
    assert net.loss(X[:0]).shape == (0, 3) and net.predict(X[:0]).shape == (0,)  # scores: no labels


@pytest.mark.parametrize("method", NET_METHODS)
def test_scores_and_predict_check_X(method):
    net, X, _ = data()
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of shape \(N, 5\)"):
        net.loss(X[:, :4], method=method)
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of shape \(N, 5\)"):
        net.predict(X[:, :4])
    with pytest.raises(ValueError, match=r"^X must be a 2-D array of shape \(N, 5\)"):
        Softmax(np.zeros((5, 3))).predict(X[:, :4])


def test_two_layer_train_checks_its_inputs():
    net, X, y = data()
    before = {k: v.copy() for k, v in net.params.items()}
    bad = np.array([0, 1, 2, -1, 0, 1])
    cases = [
        (dict(y=bad), ValueError, "^y: labels must be 6 integers in 0..2 .* got -1 at index 3"),
        (dict(y_val=bad), ValueError, r"^y_val: labels .* \(one per row of X_val\), got -1 at index 3"),
        (dict(X_val=X[:, :2]), ValueError, r"^X_val must be a 2-D array of shape \(N, 5\)"),
        (dict(X=X[:0], y=y[:0]), ValueError, "^empty batch: X has 0 rows"),  # was mtrand's message
        # (it was a ZeroDivisionError)
        (dict(batch_size=0), ValueError, "^batch_size must be a positive integer, got 0"),
        (dict(batch_size=-5), ValueError, "^batch_size must be a positive integer, got -5"),
        (dict(batch_size=2.5), TypeError, "^batch_size must be a positive integer, got 2.5"),
        (dict(num_iters=-1), ValueError, "^num_iters must be a non-negative integer, got -1"),
        (dict(reg=-1e-3), ValueError, "^reg must be a finite non-negative number"),
    ]
    for change, error, message in cases:
        args = dict(X=X, y=y, X_val=X, y_val=y, num_iters=3, batch_size=4) | change
        with pytest.raises(error, match=message):
            net.train(**args)
        assert all(np.array_equal(net.params[k], before[k]) for k in before), change
    assert net.train(X, y, X, y, num_iters=0)["loss_history"] == []


def test_softmax_train_checks_its_inputs():
    _, X, y = data()
    with pytest.raises(ValueError, match="^y: labels must be 6 non-negative integers .* got -1 at index 3"):
        Softmax().train(X, np.array([0, 1, 2, -1, 0, 1]), num_iters=3)  # trained silently before
    with pytest.raises(ValueError, match="^batch_size must be a positive integer, got 0"):
        Softmax().train(X, y, batch_size=0)  # was a loss history of NaNs
    with pytest.raises(ValueError, match="^num_iters must be a non-negative integer, got -1"):
        Softmax().train(X, y, num_iters=-1)
    with pytest.raises(ValueError, match="^empty batch: X has 0 rows"):
        Softmax().train(X[:0], y[:0])
    clf = Softmax(np.zeros((5, 2)))  # W given: labels must fit its 2 classes
    with pytest.raises(ValueError, match=r"^y: labels must be 6 integers in 0\.\.1 .* got 2 at index 2"):
        clf.train(X, y, num_iters=1)
    assert not clf.W.any()


@pytest.mark.parametrize("sizes, name", [((5, 0, 3), "hidden_size"), ((0, 7, 3), "input_size"),
                                         ((5, 7, -1), "output_size")])
def test_two_layer_net_sizes_must_be_positive(sizes, name):
    np.random.seed(0)
    with pytest.raises(ValueError, match=f"^{name} must be a positive integer"):
        TwoLayerNet(*sizes)
    assert np.random.randn() == np.random.RandomState(0).randn()  # refused before any draw
    with pytest.raises(TypeError, match="^hidden_size must be a positive integer, got 7.0"):
        TwoLayerNet(5, 7.0, 3)
