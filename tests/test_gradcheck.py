"""Gradient checking helpers, and compare_gradients pointing at the wrong step of a derivation."""
import numpy as np
import pytest

import tensorflowlite_clone as tflc
from models.softmax import Softmax
from models.two_layer_net import TwoLayerNet
from tensorflowlite_clone.gradcheck import (
    compare_gradients,
    grad_check_sparse,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)


def test_rel_error():
    assert rel_error(np.ones(3), np.ones(3)) == 0.0
    assert rel_error([1.0, 2.0], [1.0, 2.2]) == pytest.approx(0.2 / 4.2)
    assert rel_error(0.0, 1e-12) == pytest.approx(1e-4)  # the 1e-8 floor keeps tiny values sane
    assert rel_error(np.zeros(0), np.zeros(0)) == 0.0


def test_rel_error_per_entry_or_relative_to_the_largest_entry():
    a, b = np.array([1.0, 1e-10]), np.array([1.0, 2e-10])
    assert rel_error(a, b) == pytest.approx(1e-10 / 1e-8)  # the tiny pair, against the floor
    assert rel_error(a, b, floor=1e-12) == pytest.approx(1 / 3)
    assert rel_error(a, b, per_entry=False) == pytest.approx(1e-10 / 2.0)
    assert rel_error([0.0, 0.0], [1e-12, 0.0], floor=1.0, per_entry=False) == pytest.approx(1e-12)
    assert rel_error(np.zeros(0), np.zeros(0), per_entry=False) == 0.0
    for per_entry in (True, False):  # NaN, inf and overflow never read as agreement
        for x in (np.nan, np.inf, -1e308):
            assert rel_error([1.0, x], [1.0, 1e308], per_entry=per_entry) == float("inf")


def test_numerical_gradient_restores_x_exactly():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v ** 3), x)
    assert rel_error(grad, 3 * x0 ** 2) < 1e-6  # h**2 truncation error on a cubic
    assert np.array_equal(x, x0)
    scalar = np.array(1.5)
    assert numerical_gradient(lambda v: float(v) ** 2, scalar) == pytest.approx(3.0)


def test_numerical_gradient_restores_x_when_f_raises():
    x = np.arange(4.0)
    calls = []

    def f(v):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return v.sum()

    with pytest.raises(RuntimeError):
        numerical_gradient(f, x)
    assert np.array_equal(x, np.arange(4.0))


def test_numerical_gradient_array():
    rng = np.random.default_rng(1)
    x, df = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x0 = x.copy()
    assert rel_error(numerical_gradient_array(lambda v: v * v, x, df), 2 * x0 * df) < 1e-8
    assert np.array_equal(x, x0)
    # also against the engine's VJP of a matrix product
    A, W, dout = rng.standard_normal((4, 2)), x, rng.standard_normal((4, 3))
    with tflc.GradientTape() as tape:
        W_t = tflc.Tensor(W)
        tape.watch(W_t)
        out = A @ W_t
    vjp = tape.gradient(out, W_t, output_gradients=dout).numpy()
    assert rel_error(numerical_gradient_array(lambda w: A @ w, W, dout), vjp) < 1e-8


def test_grad_check_sparse():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((10, 10))
    x0 = x.copy()
    state = np.random.get_state()[1].copy()
    errors = grad_check_sparse(lambda v: np.sum(np.sin(v)), x, np.cos(x), num_checks=7, seed=3)
    assert len(errors) == 7 and max(errors) < 1e-8
    assert np.array_equal(x, x0) and np.array_equal(np.random.get_state()[1], state)
    assert errors == grad_check_sparse(lambda v: np.sum(np.sin(v)), x, np.cos(x), num_checks=7, seed=3)
    bad = grad_check_sparse(lambda v: np.sum(np.sin(v)), x, 2 * np.cos(x), num_checks=3, seed=3)
    assert min(bad) > 0.3


# --- compare_gradients ----------------------------------------------------------------------------
def net_and_batch(hidden=10, classes=3, seed=0):
    np.random.seed(seed)
    net = TwoLayerNet(4, hidden, classes, std=0.5)
    rng = np.random.default_rng(seed)
    return net, rng.standard_normal((5, 4)), rng.integers(classes, size=5)


BACKWARD_ORDER = ["probs", "scores", "b2", "W2", "hidden", "hidden_pre", "b1", "W1"]


def test_correct_derivation_agrees_everywhere():
    net, X, y = net_and_batch()
    before = {k: v.copy() for k, v in net.params.items()}
    result = compare_gradients(net, X, y, reg=0.05)
    assert result.ok and result.first_disagreement is None and result.first_numerical_disagreement is None
    assert [r.name for r in result.rows] == BACKWARD_ORDER
    assert [r.kind for r in result.rows] == ["intermediate"] * 2 + ["parameter"] * 2 + \
        ["intermediate"] * 2 + ["parameter"] * 2
    assert result["probs"].hand_vs_autodiff is None  # the seed never writes dL/dprobs
    for row in result.rows:
        assert row.numerical_vs_autodiff < 1e-6, row
        if row.name != "probs":
            assert row.hand_vs_autodiff < 1e-12, row
    assert all(np.array_equal(net.params[k], before[k]) for k in before)
    text = str(result)
    assert all(name in text for name in BACKWARD_ORDER) and "agree" in text


def seed_backward(bug=None):
    """The seed's two-layer backward, with one deliberate mistake."""
    def hand_derived(params, X, y, reg):
        W1, b1, W2, b2 = params["W1"], params["b1"], params["W2"], params["b2"]
        N = X.shape[0]
        s1 = np.dot(X, W1) + b1
        s1_relu = (s1 > 0) * s1
        scores = np.dot(s1_relu, W2) + b2
        q = np.exp(scores - np.max(scores, axis=1, keepdims=True))
        q /= np.sum(q, axis=1, keepdims=True)
        n = 1 if bug == "no /N anywhere" else N
        grads = {}
        ds2 = np.copy(q)
        ds2[np.arange(N), y] -= 1
        grads["scores"] = ds2 / n
        grads["W2"] = np.dot(s1_relu.T, ds2) / n + (0 if bug == "no reg in W2" else 2 * reg * W2)
        grads["b2"] = np.sum(ds2, axis=0) / n
        ds1 = np.dot(ds2, W2 if bug == "W2 not transposed" else W2.T)
        grads["hidden"] = ds1 / n
        ds1 = (ds1 > 0) * ds1 if bug == "ReLU mask on the gradient" else (s1 > 0) * ds1
        grads["hidden_pre"] = ds1 / n
        grads["W1"] = np.dot(X.T, ds1) / (1 if bug == "no /N in W1" else n) + 2 * reg * W1
        grads["b1"] = np.sum(ds1, axis=0) / n
        return grads
    return hand_derived


@pytest.mark.parametrize("bug, wrong_step", [
    ("no /N anywhere", "scores"),
    ("no reg in W2", "W2"),
    ("W2 not transposed", "hidden"),
    ("ReLU mask on the gradient", "hidden_pre"),
    ("no /N in W1", "W1"),
])
def test_finds_the_first_wrong_step(bug, wrong_step):
    net, X, y = net_and_batch(hidden=3, classes=3)  # square W2, so the transposition bug runs
    assert compare_gradients(net, X, y, 0.05, hand_derived=seed_backward(), numerical=False).ok
    result = compare_gradients(net, X, y, reg=0.05, hand_derived=seed_backward(bug))
    assert result.first_disagreement == wrong_step
    assert result.first_numerical_disagreement is None  # autodiff itself is fine
    assert not result[wrong_step].ok and result[wrong_step].hand_vs_autodiff > 1e-3
    earlier = BACKWARD_ORDER[1:BACKWARD_ORDER.index(wrong_step)]
    assert all(result[name].ok for name in earlier)
    assert f"first disagreement: d loss/d {wrong_step}" in str(result)


def test_shape_mistake_is_reported_not_raised():
    net, X, y = net_and_batch()
    good = net.hand_derived_gradients(net.params, X, y, 0.0)
    result = compare_gradients(net, X, y, hand_derived={**good, "W1": good["W1"].T}, numerical=False)
    assert result.first_disagreement == "W1"
    assert result["W1"].hand_vs_autodiff == float("inf") and "(10, 4)" in result["W1"].note


def test_hand_derived_dict_with_names_or_tensors():
    net, X, y = net_and_batch()
    _, tensors = net.forward_tensors(X, y, 0.1)
    good = net.hand_derived_gradients(net.params, X, y, 0.1)
    partial = {tensors["scores"]: good["scores"], "W1": good["W1"]}
    result = compare_gradients(net, X, y, 0.1, hand_derived=partial, numerical=False)
    assert result.ok
    assert [r.name for r in result.rows if r.hand_vs_autodiff is not None] == ["scores", "W1"]
    assert all(r.numerical_vs_autodiff is None for r in result.rows)
    with pytest.raises(ValueError, match="hiden"):
        compare_gradients(net, X, y, hand_derived={"hiden": good["hidden"]}, numerical=False)


def test_softmax_broken_derivation():
    rng = np.random.default_rng(4)
    W, X, y = 0.5 * rng.standard_normal((4, 3)), rng.standard_normal((6, 4)), rng.integers(3, size=6)
    clf = Softmax(W)

    def forgot_n(params, X, y, reg):
        good = Softmax.hand_derived_gradients(params, X, y, reg)
        return {"scores": good["scores"], "W": good["W"] * X.shape[0]}

    result = compare_gradients(clf, X, y, reg=0.1, hand_derived=forgot_n)
    assert result.first_disagreement == "W" and result["scores"].ok
    assert compare_gradients(clf, X, y, reg=0.1).ok


# --- bad input (bad-input report, issue 11: S1-7, S2-15) ------------------------------------------
def square_sum(v):
    return float(np.sum(np.asarray(v, dtype=float) ** 2))


CHECKERS = {  # each finite-difference helper as f(x)
    "numerical_gradient": lambda x: numerical_gradient(square_sum, x),
    "numerical_gradient_array":
        lambda x: numerical_gradient_array(lambda v: v * 1.0, x, np.ones(np.shape(x))),
    "grad_check_sparse": lambda x: grad_check_sparse(square_sum, x, 2 * np.asarray(x, dtype=float),
                                                     num_checks=2, seed=0),
}


@pytest.mark.parametrize("name", CHECKERS)
def test_finite_differences_refuse_an_integer_x(name):
    x = np.array([1, 2])
    with pytest.raises(TypeError, match=f"^{name}: x must be a floating-point array, got int64"):
        CHECKERS[name](x)  # x + h was truncated: [49999.99, 150000.0] instead of [2, 4] before
    assert np.array_equal(x, [1, 2])


@pytest.mark.parametrize("name", CHECKERS)
def test_finite_differences_refuse_what_cannot_be_perturbed_in_place(name):
    with pytest.raises(TypeError, match=f"^{name}: x must be a NumPy array .* got list"):
        CHECKERS[name]([1.0, 2.0])  # AttributeError: 'list' object has no attribute 'shape' before
    read_only = np.array([1.0, 2.0])
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match=f"^{name}: x is read-only"):
        CHECKERS[name](read_only)
    assert rel_error(numerical_gradient(square_sum, np.array([1.0, 2.0])), [2.0, 4.0]) < 1e-8


def test_compare_gradients_names_a_model_that_is_not_one():
    net, X, y = net_and_batch()
    with pytest.raises(TypeError, match="^compare_gradients: model must provide params, "
                                        "forward_tensors, hand_derived_gradients .* NoneType lacks"):
        compare_gradients(None, X, y)  # AttributeError on forward_tensors before
    with pytest.raises(TypeError, match="dict lacks params, forward_tensors$"):
        compare_gradients({}, X, y, hand_derived={})
    with pytest.raises(ValueError, match="^compare_gradients: y must be the labels, got None"):
        compare_gradients(net, X, None)



class Centered:
    """loss = sum((x + b - mean(x + b))**2) + scale * sum(b): b's gradient is `scale` exactly
    (the centring cancels b, as a batchnorm cancels the bias before it), so for scale 0 central
    differences see only the loss's rounding. With `cut_off`, autodiff sees no path to b."""

    def __init__(self, scale, cut_off=False):
        self.params = {"b": np.random.default_rng(0).standard_normal(8)}
        self.scale, self.cut_off = scale, cut_off

    def forward_tensors(self, X, y, reg, nudge=None):
        b = tflc.Variable(self.params["b"], name="b")
        shifted = X + b
        centered = shifted - tflc.mean(shifted, axis=0, keepdims=True)
        loss = tflc.sum(centered * centered) + self.scale * tflc.sum(b)
        return (tflc.stop_gradient(loss) + 0.0 * tflc.sum(b) if self.cut_off else loss), {"b": b}

    def hand_derived_gradients(self, params, X, y, reg):
        return {"b": np.full(8, self.scale)}


def test_numerical_check_reads_rounding_noise_as_agreement():
    # b's gradient is zero: autodiff gives rounding noise, central differences a few ulps of
    # the loss over 2h where L(b + h) and L(b - h) round differently
    X = np.random.default_rng(1).standard_normal((6, 8))
    result = compare_gradients(Centered(0.0), X, np.zeros(6, int))
    assert 0 < np.max(np.abs(result.numerical["b"])) < 1e-9  # the case (this data makes it)
    assert result.ok and result.first_numerical_disagreement is None, str(result)


@pytest.mark.parametrize("scale", [1e-6, 1.0])
def test_numerical_check_still_flags_a_wrong_small_gradient(scale):
    X = np.random.default_rng(1).standard_normal((6, 8))
    assert compare_gradients(Centered(scale), X, np.zeros(6, int)).ok
    wrong = compare_gradients(Centered(scale, cut_off=True), X, np.zeros(6, int))
    assert not wrong.ok and wrong.first_numerical_disagreement == "b", str(wrong)
