"""Optimizers on a quadratic, on Variables and on param dicts; TwoLayerNet trained with Adam."""
import re

import numpy as np
import pytest

import tensorflowlite_clone as tflc
from models.two_layer_net import TwoLayerNet
from tensorflowlite_clone.optim import SGD, Adam

TARGET = np.array([[1.0, -2.0], [3.0, 0.5]])
SCALES = np.array([[1.0, 4.0], [0.5, 2.0]])  # an ill-conditioned bowl


def quadratic(w):
    """0.5 * sum(SCALES * (w - TARGET)**2), for Tensors and arrays alike."""
    d = w - TARGET
    return 0.5 * tflc.sum(SCALES * d * d) if isinstance(w, tflc.Tensor) else 0.5 * np.sum(SCALES * d * d)


OPTIMIZERS = [lambda: SGD(0.1), lambda: SGD(0.05, momentum=0.9), lambda: Adam(0.1)]


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_decreases_a_quadratic_on_variables(make):
    opt, w = make(), tflc.Variable(np.zeros((2, 2)), name="w")
    losses = []
    for _ in range(200):
        with tflc.GradientTape() as tape:
            loss = quadratic(w)
        losses.append(float(loss))
        opt.apply_gradients(zip([tape.gradient(loss, w)], [w]))
    assert losses[-1] < 1e-3 * losses[0]
    assert np.allclose(w.numpy(), TARGET, atol=0.05)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_decreases_a_quadratic_on_a_param_dict(make):
    opt, params = make(), {"w": np.zeros((2, 2)), "unused": np.ones(3)}
    w = params["w"]
    start = quadratic(w)
    for _ in range(200):
        opt.step(params, {"w": SCALES * (params["w"] - TARGET)})  # no gradient for "unused"
    assert params["w"] is w  # updated in place
    assert quadratic(w) < 1e-3 * start and np.array_equal(params["unused"], np.ones(3))


def test_sgd_and_momentum_updates():
    p, g = {"w": np.array([1.0, 2.0])}, {"w": np.array([0.5, -1.0])}
    SGD(0.1).step(p, g)
    assert np.allclose(p["w"], [0.95, 2.1])
    opt, v = SGD(0.1, momentum=0.9), tflc.Variable(np.array([1.0, 2.0]))
    opt.step([v], [g["w"]])
    opt.step([v], [g["w"]])
    velocity = 0.9 * (-0.1 * g["w"]) - 0.1 * g["w"]  # cs231n: v = mu * v - lr * dw; w += v
    assert np.allclose(v.numpy(), np.array([1.0, 2.0]) - 0.1 * g["w"] + velocity)


def test_adam_first_step_is_lr_times_sign():
    v = tflc.Variable(np.array([1.0, 1.0, 1.0]))
    Adam(lr=0.01).step(v, np.array([3.0, -1e-3, 50.0]))
    assert np.allclose(v.numpy(), [0.99, 1.01, 0.99], atol=1e-6)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_float32_params_stay_float32(make):
    v = tflc.Variable(np.ones(3, dtype=np.float32))
    params = {"w": np.ones(3, dtype=np.float32)}
    opt = make()
    for _ in range(3):
        opt.step([v], [np.full(3, 0.5)])  # float64 gradients
        opt.step(params, {"w": np.full(3, 0.5)})
    assert v.dtype == np.float32 and params["w"].dtype == np.float32
    assert all(s.dtype == np.float32 for slots in opt.state.values() for s in slots.values())
    assert v.numpy()[0] < 1


def test_learning_rate_decay():
    opt = SGD(0.1, decay=0.5)
    assert opt.decay_lr() == pytest.approx(0.05)
    assert opt.decay_lr(0.1) == pytest.approx(0.005)


def test_bad_gradient_leaves_everything_untouched():
    params = {"a": np.zeros(2), "b": np.zeros(3)}
    opt = Adam()
    with pytest.raises(ValueError, match=r"\(4,\)"):
        opt.step(params, {"a": np.ones(2), "b": np.ones(4)})
    assert not params["a"].any() and opt.iterations == 0 and not opt.state
    with pytest.raises(ValueError, match="2 parameters but 1"):
        opt.step([tflc.Variable(np.zeros(1)), tflc.Variable(np.zeros(1))], [np.ones(1)])


def test_two_layer_net_trains_with_adam():
    rng = np.random.default_rng(0)
    # XOR of the signs: not linearly separable
    X = rng.uniform(-1, 1, size=(200, 2))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    np.random.seed(0)
    net = TwoLayerNet(2, 30, 2, std=0.5)
    opt = Adam(lr=0.02)
    stats = net.train(X, y, X, y, learning_rate_decay=0.99, num_iters=400, batch_size=100,
                      reg=1e-5, optimizer=opt)
    assert np.mean(net.predict(X) == y) > 0.95
    assert stats["loss_history"][-1] < 0.3 * stats["loss_history"][0]
    assert opt.lr == pytest.approx(0.02 * 0.99 ** 200) and opt.iterations == 400  # 2 iterations an epoch


# --- bad input (bad-input report, issue 11: S1-1, S1-6, S2-9, S2-15) ----------------------------
def unchanged(opt, params, before):
    """Nothing was touched: the parameters, the optimizer's state and its step count."""
    return (all(np.array_equal(np.asarray(params[k]), before[k]) for k in before)
            and opt.iterations == 0 and not opt.state)


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_gradient_keys_that_match_no_parameter_are_refused(make):
    opt, params = make(), {"W": np.ones(3), "b": np.zeros(2)}
    with pytest.raises(ValueError, match=r"unknown parameters \['w', 'B'\]; the parameters are \['W', 'b'\]"):
        opt.step(params, {"w": np.ones(3), "B": np.ones(2)})  # updated nothing silently before
    with pytest.raises(ValueError, match=r"unknown parameters \['B'\]"):
        opt.step(params, {"W": np.ones(3), "B": np.ones(2)})  # W is not updated either
    assert unchanged(opt, params, {"W": np.ones(3), "b": np.zeros(2)})


def test_swapped_pairs_are_refused_before_anything_is_touched():
    v, g = tflc.Variable(np.ones(3)), np.full(3, 0.5)
    opt = SGD(0.1)
    with pytest.raises(TypeError, match=r"second item of each pair must be a Variable, pair 0 is "
                                        r"\(Variable, ndarray\)"):
        opt.apply_gradients([(v, g)])  # updated the gradient array in place before
    assert np.array_equal(g, np.full(3, 0.5)) and np.array_equal(v.numpy(), np.ones(3))
    with pytest.raises(TypeError, match="pair 1 is ndarray"):
        opt.apply_gradients([(g, v), g])
    assert opt.iterations == 0 and np.array_equal(v.numpy(), np.ones(3))


@pytest.mark.parametrize("grad", [np.array(["1", "1", "1"]), np.array([b"1", b"1", b"1"]),
                                  np.array([1.0, None, 1.0], dtype=object),
                                  np.array(["2020-01-01"] * 3, dtype="datetime64[D]"),
                                  np.ones(3, dtype=complex)])
@pytest.mark.parametrize("make", OPTIMIZERS)
def test_a_non_numeric_gradient_is_refused(make, grad):
    opt, params = make(), {"a": np.zeros(2), "W": np.ones(3)}
    with pytest.raises(TypeError, match=re.escape(f"gradient for parameter 'W' has dtype {grad.dtype}")):
        opt.step(params, {"a": np.ones(2), "W": grad})  # "1" was read as 1.0 before
    assert unchanged(opt, params, {"a": np.zeros(2), "W": np.ones(3)})
    v = tflc.Variable(np.ones(3), name="v")
    with pytest.raises(TypeError, match="gradient for parameter 'v'"):
        opt.step([v], [grad])
    assert np.array_equal(v.numpy(), np.ones(3)) and opt.iterations == 0


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_parameters_that_cannot_take_the_step_leave_everything_untouched(make):
    read_only = np.zeros(2)
    read_only.flags.writeable = False
    cases = [({"W": np.ones(3), "b": read_only}, ValueError, "parameter 'b' is read-only"),
             ({"W": np.ones(3), "b": np.zeros(2, dtype=int)}, TypeError,
              "parameter 'b' is int64; a step needs a floating-point parameter"),
             ({"W": np.ones(3), "b": [0.0, 0.0]}, TypeError,
              "parameter 'b' must be an ndarray or a Variable, got list")]
    for params, error, message in cases:
        opt, before = make(), {k: np.array(v) for k, v in params.items()}
        with pytest.raises(error, match=message):  # W was updated, and Adam's slots made, before
            opt.step(params, {"W": np.ones(3), "b": np.ones(2)})
        assert unchanged(opt, params, before)
    opt = make()
    with pytest.raises(TypeError, match=r"params\[0\] must be a Variable .* got ndarray"):
        opt.step([np.zeros(2)], [np.ones(2)])
    assert opt.iterations == 0 and not opt.state


def test_a_resized_parameter_does_not_half_update():
    opt, params = Adam(0.1), {"W": np.ones(3), "b": np.zeros(2)}
    opt.step(params, {"W": np.ones(3), "b": np.ones(2)})
    params["b"] = np.zeros(4)
    W = params["W"].copy()
    with pytest.raises(ValueError, match=r"parameter 'b' has shape \(4,\) but this optimizer's state"):
        opt.step(params, {"W": np.ones(3), "b": np.ones(4)})
    assert np.array_equal(params["W"], W) and opt.iterations == 1


@pytest.mark.parametrize("make", OPTIMIZERS)
def test_step_refuses_what_is_not_params_and_grads(make):
    opt = make()
    with pytest.raises(TypeError, match="params must be a Variable, a list of Variables or a dict"):
        opt.step(None, None)
    with pytest.raises(TypeError, match="grads must be a dict with the same keys, got NoneType"):
        opt.step({"W": np.ones(3)}, None)
    assert opt.iterations == 0


@pytest.mark.parametrize("make", [SGD, Adam, lambda lr: SGD(0.1, momentum=lr),
                                  lambda lr: Adam(0.1, beta1=lr)])
def test_hyperparameters_must_be_numbers(make):
    for bad in ("0.1", None, np.array([0.1]), True):
        with pytest.raises(TypeError, match=r"^(lr|momentum|beta1) must be a real number"):
            make(bad)  # Adam("0.1") failed only at the first step before, in a ufunc
    with pytest.raises(ValueError, match="must be a finite number"):
        make(float("nan"))
    with pytest.raises(ValueError, match="^lr must be a finite number >= 0, got -0.1"):
        SGD(-0.1)
    with pytest.raises(TypeError, match="^factor must be a real number"):
        SGD(0.1).decay_lr("0.5")
    assert SGD(np.float32(0.1)).lr == np.float32(0.1) and SGD(0).lr == 0
