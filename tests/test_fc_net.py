"""cs231n assignment 2's fully connected nets (models/fc_net.py): for every model the tape's
gradients (method="autodiff") == the hand-derived ones (method="manual") to 1e-8 in float64, and
both == central finite differences (numerical_gradient, h=1e-5), on the notebooks' own check
inputs (np.random.seed(231), the same draws in the same order).

Where the expected numbers come from (the notebooks' printed outputs, assignment 2, 2019+):
- FullyConnectedNets.ipynb, the TwoLayerNet cell: its hard-coded `correct_scores` and its asserted
  losses 3.4702243556 (reg 0) and 26.5948426952 (reg 1.0); the FullyConnectedNet cell "Running
  check with reg = 0 / 3.14": "Initial loss: 2.3004790897684924" / "7.052114776533016".
- BatchNormalization.ipynb, the same check with normalization='batchnorm': "Initial loss:
  2.2611955101340957" / "6.996533220108303" (and W1's printed relative error there, 1.10e-04).
- Dropout.ipynb, "Running check with dropout = 1 / 0.75 / 0.5" (seed=123): "Initial loss:
  2.3004790897684924" / "2.302371489704412" / "2.3042759220785896".
The layernorm net has no such printed check; it gets the three-way check only.
"""
import inspect
import json
import re

import numpy as np
import pytest
from conftest import assert_close_to_rounding

from models import layers
from models.fc_net import CIFAR_SETTINGS, DIGITS_SETTINGS, FullyConnectedNet, TwoLayerNet
from models.solver import Solver
from tensorflowlite_clone.gradcheck import compare_gradients, numerical_gradient, rel_error

N, D, H1, H2, C = 2, 15, 20, 30, 10  # the notebooks' FullyConnectedNet check


# --- the three-way check ------------------------------------------------------------------------
def numeric_gradients(model, X, y):
    """Central differences (h=1e-5, the notebooks' step) of the loss for every parameter, the
    loss evaluated by the autodiff path's forward pass (train mode, as model.loss(X, y))."""
    f = lambda _: float(model.forward_tensors(X, y)[0])  # noqa: E731
    return {name: numerical_gradient(f, value, h=1e-5) for name, value in model.params.items()}


def three_way(model, X, y, numeric_tol=1e-6, loose=None, zero=()):
    """autodiff == manual (losses to 1e-12, gradients to 1e-8) and both == finite differences.

    The numerical check measures the worst difference relative to the largest entry
    (rel_error per_entry=False: entries near zero are mostly rounding in the differences);
    `loose` maps names to a looser tolerance. `zero` names parameters whose gradient is exactly 0
    (a bias before batchnorm: the batch mean removes it): there both paths must give rounding,
    below 1e-12, and relative errors would compare noise with noise.
    Returns (loss, autodiff grads)."""
    loss, auto = model.loss(X, y)
    loss_m, manual = model.loss(X, y, method="manual")
    assert isinstance(loss, float) and isinstance(loss_m, float)
    assert abs(loss - loss_m) <= 1e-12 * abs(loss)
    assert set(auto) == set(manual) == set(model.params)
    numeric = numeric_gradients(model, X, y)
    for name in model.params:
        a, m, n = auto[name], manual[name], numeric[name]
        assert a.shape == m.shape == model.params[name].shape, name
        assert a.dtype == m.dtype == model.params[name].dtype, name
        if name in zero:
            assert max(np.abs(a).max(), np.abs(m).max(), np.abs(n).max()) < 1e-12, name
            continue
        assert rel_error(a, m) < 1e-8, f"{name}: autodiff vs manual {rel_error(a, m):.2e}"
        tol = (loose or {}).get(name, numeric_tol)
        for path, g in (("autodiff", a), ("manual", m)):
            err = rel_error(n, g, per_entry=False)
            assert err < tol, f"{name}: {path} vs numeric {err:.2e} (tol {tol:g})"
    return loss, auto


def check_data():
    """The notebooks' check inputs: np.random.seed(231), then X (N, D) and y (N,)."""
    np.random.seed(231)
    X = np.random.randn(N, D)
    y = np.random.randint(C, size=(N,))
    return X, y


def fc(**kwargs):
    """The notebooks' FullyConnectedNet([H1, H2]) for the checks, in float64."""
    kwargs = {"input_dim": D, "num_classes": C, "weight_scale": 5e-2, "dtype": np.float64, **kwargs}
    return FullyConnectedNet([H1, H2], **kwargs)


# --- TwoLayerNet: FullyConnectedNets.ipynb ------------------------------------------------------
def test_two_layer_net_notebook_check():
    np.random.seed(231)
    n, d, h, c = 3, 5, 50, 7
    X = np.random.randn(n, d)
    y = np.random.randint(c, size=n)
    std = 1e-3
    model = TwoLayerNet(input_dim=d, hidden_dim=h, num_classes=c, weight_scale=std)
    # the notebook's "Testing initialization"
    assert abs(model.params["W1"].std() - std) < std / 10
    assert abs(model.params["W2"].std() - std) < std / 10
    assert np.all(model.params["b1"] == 0) and np.all(model.params["b2"] == 0)
    assert [(k, v.shape) for k, v in model.params.items()] == [
        ("W1", (d, h)), ("b1", (h,)), ("W2", (h, c)), ("b2", (c,))]

    model.params["W1"] = np.linspace(-0.7, 0.3, num=d * h).reshape(d, h)
    model.params["b1"] = np.linspace(-0.1, 0.9, num=h)
    model.params["W2"] = np.linspace(-0.3, 0.4, num=h * c).reshape(h, c)
    model.params["b2"] = np.linspace(-0.9, 0.1, num=c)
    X = np.linspace(-5.5, 4.5, num=n * d).reshape(d, n).T
    correct_scores = np.asarray(
        [[11.53165108, 12.2917344, 13.05181771, 13.81190102, 14.57198434, 15.33206765, 16.09215096],
         [12.05769098, 12.74614105, 13.43459113, 14.1230412, 14.81149128, 15.49994135, 16.18839143],
         [12.58373087, 13.20054771, 13.81736455, 14.43418138, 15.05099822, 15.66781506, 16.2846319]])
    for method in ("autodiff", "manual"):
        assert np.abs(model.loss(X, method=method) - correct_scores).sum() < 1e-6
    y = np.asarray([0, 5, 1])
    for reg, correct_loss in [(0.0, 3.4702243556), (1.0, 26.5948426952)]:
        model.reg = reg
        for method in ("autodiff", "manual"):
            assert abs(model.loss(X, y, method=method)[0] - correct_loss) < 1e-10
    for reg in [0.0, 0.7]:  # the notebook's numeric gradient check ("errors around e-7 or less")
        model.reg = reg
        three_way(model, X, y, numeric_tol=1e-7)


def test_two_layer_net_draws_W1_then_W2():
    np.random.seed(0)
    model = TwoLayerNet(input_dim=6, hidden_dim=4, num_classes=3, weight_scale=0.1)
    np.random.seed(0)
    assert np.array_equal(model.params["W1"], 0.1 * np.random.randn(6, 4))
    assert np.array_equal(model.params["W2"], 0.1 * np.random.randn(4, 3))


# --- FullyConnectedNet: FullyConnectedNets.ipynb, BatchNormalization.ipynb, Dropout.ipynb --------
def test_fully_connected_net_initial_loss_and_gradients():
    X, y = check_data()
    for reg, printed in [(0, 2.3004790897684924), (3.14, 7.052114776533016)]:
        model = fc(reg=reg)
        loss, _ = three_way(model, X, y)
        assert abs(loss - printed) < 1e-12
        assert list(model.params) == ["W1", "b1", "W2", "b2", "W3", "b3"]


def test_batchnorm_net_initial_loss_and_gradients():
    X, y = check_data()
    for reg, printed in [(0, 2.2611955101340957), (3.14, 6.996533220108303)]:
        model = fc(reg=reg, normalization="batchnorm")
        # with N = 2 the normalised activations sit at +-1 and finite differences of W1 lose
        # digits: the notebook itself prints W1 relative error 1.10e-04 here
        loss, _ = three_way(model, X, y, loose={"W1": 2e-4}, zero=("b1", "b2"))
        assert abs(loss - printed) < 1e-12
        assert list(model.params) == ["W1", "b1", "gamma1", "beta1", "W2", "b2", "gamma2", "beta2",
                                      "W3", "b3"]
        assert np.all(model.params["gamma1"] == 1) and np.all(model.params["beta2"] == 0)


def test_layernorm_net_gradients():
    X, y = check_data()
    for reg in (0, 3.14):
        model = fc(reg=reg, normalization="layernorm")
        three_way(model, X, y)
        assert model.bn_params == [{"mode": "train"}, {"mode": "train"}]  # {} given the mode


def test_dropout_nets_initial_loss_and_gradients():
    X, y = check_data()
    printed = {1: 2.3004790897684924, 0.75: 2.302371489704412, 0.5: 2.3042759220785896}
    for keep in [1, 0.75, 0.5]:  # made in the notebook's order: each net's draws follow the last's
        model = fc(dropout_keep_ratio=keep, seed=123)
        if keep == 1:  # no dropout layers: the plain net of the check above
            loss, _ = model.loss(X, y)
            assert model.dropout_param == {} and not model.use_dropout
        else:
            loss, _ = three_way(model, X, y)
            assert model.dropout_param == {"mode": "train", "p": keep, "seed": 123}
        assert abs(loss - printed[keep]) < 1e-12


def test_batchnorm_and_dropout_deeper_net():
    np.random.seed(0)
    X, y = np.random.randn(6, 3, 2, 2), np.random.randint(C, size=6)  # (N, d1, d2, d3) rows of 12
    model = FullyConnectedNet([8, 9, 7], input_dim=12, num_classes=C, dropout_keep_ratio=0.6,
                              normalization="batchnorm", reg=0.2, weight_scale=0.3,
                              dtype=np.float64, seed=5)
    three_way(model, X, y, zero=("b1", "b2", "b3"))


def test_dropout_without_seed_draws_alike_on_both_paths():
    """Without a seed both paths draw the mask from NumPy's global generator in the same way:
    from the same state they give the same loss and gradients."""
    np.random.seed(1)
    X, y = np.random.randn(5, D), np.random.randint(C, size=5)
    model = fc(dropout_keep_ratio=0.5, normalization="batchnorm")
    np.random.seed(7)
    loss, auto = model.loss(X, y)
    np.random.seed(7)
    loss_m, manual = model.loss(X, y, method="manual")
    assert abs(loss - loss_m) < 1e-12
    for k in ("W1", "W2", "W3", "gamma1", "beta2"):
        assert rel_error(auto[k], manual[k]) < 1e-8, k
    np.random.seed(8)
    assert model.loss(X, y)[0] != loss  # another state, another mask


# --- compare_gradients: the first wrong step of a hand derivation is named --------------------------
def forgets_the_mean(dout, cache):
    """batchnorm's backward without the path through the batch mean mu (only x_hat's direct
    path and the variance's)."""
    x, x_hat, mu, var, eps, gamma, beta = cache
    std = np.sqrt(var + eps)
    dx_hat = dout * gamma
    dvar = np.sum(dx_hat * (x - mu), axis=0) * -0.5 / std**3
    dx = dx_hat / std + dvar * 2 * (x - mu) / x.shape[0]
    return dx, np.sum(dout * x_hat, axis=0), np.sum(dout, axis=0)


def small_net(hidden=(H1,), **kwargs):
    np.random.seed(3)
    X, y = np.random.randn(10, D), np.random.randint(C, size=10)
    kwargs = {"normalization": "batchnorm", "dropout_keep_ratio": 0.7, "seed": 1, **kwargs}
    model = FullyConnectedNet(list(hidden), input_dim=D, num_classes=C, weight_scale=5e-2,
                              dtype=np.float64, **kwargs)
    return model, X, y


def test_compare_gradients_agrees_and_names_every_step():
    model, X, y = small_net()
    result = compare_gradients(model, X, y, reg=0.3)
    assert result.ok and result.first_disagreement is None and result.first_numerical_disagreement is None
    assert [row.name for row in result.rows] == [
        "scores", "b2", "W2", "affine2.x", "dropout1.x", "relu1.x", "beta1", "gamma1", "batchnorm1.x",
        "b1", "W1"]
    # finite differences of every intermediate as well (nudges), and the tape's agree
    assert result.numerical["batchnorm1.x"].shape == (10, H1)
    assert rel_error(result.numerical["relu1.x"], result.autodiff["relu1.x"]) < 1e-6


def test_compare_gradients_names_a_batchnorm_backward_without_the_mean(monkeypatch):
    model, X, y = small_net()
    monkeypatch.setattr(layers, "batchnorm_backward", forgets_the_mean)
    result = compare_gradients(model, X, y, numerical=False)
    assert result.first_disagreement == "batchnorm1.x"
    assert result["gamma1"].ok and result["relu1.x"].ok  # the steps after it (towards the loss)
    # the same bug in a deeper net shows first at the last batchnorm
    model, X, y = small_net(hidden=(H1, H2))
    assert compare_gradients(model, X, y, numerical=False).first_disagreement == "batchnorm2.x"
    # and model.loss's manual gradients go wrong with it (the hand path calls layers' function)
    assert rel_error(model.loss(X, y)[1]["W1"], model.loss(X, y, method="manual")[1]["W1"]) > 1e-3


def test_compare_gradients_names_a_relu_backward_without_its_mask(monkeypatch):
    model, X, y = small_net(normalization=None, dropout_keep_ratio=1)
    assert compare_gradients(model, X, y, numerical=False).ok
    monkeypatch.setattr(layers, "relu_backward", lambda dout, cache: dout)
    assert compare_gradients(model, X, y, numerical=False).first_disagreement == "relu1.x"


def test_compare_gradients_layernorm_names():
    model, X, y = small_net(normalization="layernorm", dropout_keep_ratio=1)
    result = compare_gradients(model, X, y, reg=0.1, numerical=False)
    assert result.ok
    assert [row.name for row in result.rows] == [
        "scores", "b2", "W2", "affine2.x", "relu1.x", "beta1", "gamma1", "layernorm1.x", "b1", "W1"]


# --- modes, running averages, dtypes, shapes -------------------------------------------------------
def test_scores_test_mode_leaves_running_averages_alone():
    np.random.seed(2)
    X, y = np.random.randn(8, D), np.random.randint(C, size=8)
    model = fc(normalization="batchnorm", dropout_keep_ratio=0.5)
    model.loss(X, y)  # train mode: the running averages start
    assert all(b["mode"] == "train" for b in model.bn_params) and model.dropout_param["mode"] == "train"
    before = [{k: np.copy(v) for k, v in b.items() if k != "mode"} for b in model.bn_params]
    assert set(before[0]) == {"running_mean", "running_var"}
    for method in ("autodiff", "manual"):
        scores = model.loss(X, method=method)
        assert scores.shape == (8, C) and scores.dtype == np.float64
        assert all(b["mode"] == "test" for b in model.bn_params) and model.dropout_param["mode"] == "test"
        for b, old in zip(model.bn_params, before):
            assert np.array_equal(b["running_mean"], old["running_mean"])
            assert np.array_equal(b["running_var"], old["running_var"])
    # test mode: no dropout, the running averages: deterministic, the same on both paths
    assert np.array_equal(model.loss(X), model.loss(X))
    assert rel_error(model.loss(X), model.loss(X, method="manual")) < 1e-12
    model.loss(X, y)
    assert not np.array_equal(model.bn_params[0]["running_mean"], before[0]["running_mean"])


def test_running_averages_update_alike_on_both_paths():
    np.random.seed(4)
    X, y = np.random.randn(7, D), np.random.randint(C, size=7)
    nets = [fc(normalization="batchnorm") for _ in range(2)]
    nets[1].params = {k: v.copy() for k, v in nets[0].params.items()}
    for _ in range(3):
        nets[0].loss(X, y)
        nets[1].loss(X, y, method="manual")
    for a, b in zip(nets[0].bn_params, nets[1].bn_params):
        assert rel_error(a["running_mean"], b["running_mean"]) < 1e-12
        assert rel_error(a["running_var"], b["running_var"]) < 1e-12


def test_float32_end_to_end():
    np.random.seed(5)
    X, y = np.random.randn(6, D), np.random.randint(C, size=6)  # float64 X is cast to float32
    model = FullyConnectedNet([H1, H2], input_dim=D, num_classes=C, normalization="layernorm",
                              dropout_keep_ratio=0.8, seed=0, weight_scale=5e-2)
    assert model.dtype is np.float32 and all(v.dtype == np.float32 for v in model.params.values())
    assert model.loss(X).dtype == np.float32
    loss, auto = model.loss(X, y)
    loss_m, manual = model.loss(X, y, method="manual")
    assert isinstance(loss, float) and abs(loss - loss_m) < 1e-5
    for k in model.params:
        assert auto[k].dtype == manual[k].dtype == np.float32
        assert rel_error(auto[k], manual[k], per_entry=False) < 1e-5, k


def test_images_are_rows():
    np.random.seed(6)
    X, y = np.random.randn(4, 3, 2, 2), np.random.randint(C, size=4)
    model = FullyConnectedNet([5], input_dim=12, num_classes=C, dtype=np.float64)
    assert np.array_equal(model.loss(X), model.loss(X.reshape(4, 12)))
    loss, grads = model.loss(X, y)
    assert loss == model.loss(X.reshape(4, 12), y)[0]


# --- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, words", [
    ({"normalization": "groupnorm"}, ValueError, "normalization"),
    ({"normalization": "BatchNorm"}, ValueError, "normalization"),
    ({"dropout_keep_ratio": 0}, ValueError, "dropout_keep_ratio"),
    ({"dropout_keep_ratio": 1.5}, ValueError, "dropout_keep_ratio"),
    ({"dropout_keep_ratio": -0.5}, ValueError, "dropout_keep_ratio"),
    ({"dropout_keep_ratio": float("nan")}, ValueError, "dropout_keep_ratio"),
    ({"dropout_keep_ratio": True}, TypeError, "dropout_keep_ratio"),
    ({"dropout_keep_ratio": "0.5"}, TypeError, "dropout_keep_ratio"),
    ({"hidden_dims": [10, 0]}, ValueError, "hidden_dims[1]"),
    ({"hidden_dims": [10, 2.5]}, TypeError, "hidden_dims[1]"),
    ({"hidden_dims": "100"}, TypeError, "hidden_dims"),
    ({"hidden_dims": 100}, TypeError, "hidden_dims"),
    ({"input_dim": 0}, ValueError, "input_dim"),
    ({"num_classes": 1.0}, TypeError, "num_classes"),
    ({"reg": -1}, ValueError, "reg"),
    ({"weight_scale": float("inf")}, ValueError, "weight_scale"),
    ({"dtype": np.int64}, TypeError, "dtype"),
    ({"dtype": "no-such-type"}, TypeError, "dtype"),
    ({"seed": -1}, ValueError, "seed"),
])
def test_bad_constructor_arguments(kwargs, error, words):
    kwargs = {"hidden_dims": [10], "input_dim": D, "num_classes": C, **kwargs}
    with pytest.raises(error, match=re.escape(words)):
        FullyConnectedNet(**kwargs)


def test_bad_two_layer_net_arguments():
    with pytest.raises(ValueError, match="hidden_dim"):
        TwoLayerNet(hidden_dim=0)
    with pytest.raises(ValueError, match="reg"):
        TwoLayerNet(input_dim=4, reg=-0.1)


@pytest.mark.parametrize("make", [lambda: fc(normalization="batchnorm"),
                                  lambda: TwoLayerNet(input_dim=D, hidden_dim=H1, num_classes=C)])
def test_bad_loss_input(make):
    model = make()
    X, y = np.random.randn(3, D), np.array([0, 1, 2])
    cases = [
        (lambda: model.loss(np.random.randn(3, D + 1)), ValueError,
         r"X must have shape .*got shape \(3, 16\)"),
        (lambda: model.loss(np.random.randn(D)), ValueError, r"X must have shape"),
        (lambda: model.loss(np.array([["a"] * D])), TypeError, "X must be an array of real numbers"),
        (lambda: model.loss(X, np.array([0, 1, C])), ValueError,
         rf"y: labels must be 3 integers in 0..{C - 1}"),
        (lambda: model.loss(X, np.array([0, -1, 2])), ValueError, "-1 at index 1"),
        (lambda: model.loss(X, np.array([0.0, 1.0, 2.0])), ValueError, "dtype float64"),
        (lambda: model.loss(X, np.array([0, 1])), ValueError, r"shape \(2,\)"),
        (lambda: model.loss(X[:0], y[:0]), ValueError, "empty batch"),
        (lambda: model.loss(X, y, method="tape"), ValueError,
         "method must be one of traced, autodiff, manual, got 'tape'"),
        (lambda: model.loss(X, method="numeric"), ValueError, "method"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern):
            call()
    model.reg = -1.0
    with pytest.raises(ValueError, match="reg"):
        model.loss(X, y)


# --- attributes and the checkpoint helper ----------------------------------------------------------
def test_cs231n_attributes():
    model = FullyConnectedNet([4, 5], input_dim=3, num_classes=2, normalization="batchnorm",
                              dropout_keep_ratio=0.5)
    assert model.num_layers == 3 and model.normalization == "batchnorm" and model.use_dropout
    assert model.reg == 0.0 and model.dtype is np.float32
    assert model.dropout_param == {"mode": "train", "p": 0.5}
    assert model.bn_params == [{"mode": "train"}, {"mode": "train"}]
    assert FullyConnectedNet([4], input_dim=3, normalization="layernorm").bn_params == [{}]
    plain = FullyConnectedNet([4], input_dim=3)
    assert plain.bn_params == [] and plain.dropout_param == {} and not plain.use_dropout
    softmax = FullyConnectedNet([], input_dim=3, num_classes=2, dtype=np.float64)  # L = 1: affine - softmax
    assert list(softmax.params) == ["W1", "b1"] and softmax.loss(np.ones((2, 3))).shape == (2, 2)


@pytest.mark.parametrize("make", [
    lambda: FullyConnectedNet([7, 6], input_dim=5, num_classes=3, dropout_keep_ratio=0.5,
                              normalization="layernorm", reg=0.1, weight_scale=0.2, dtype=np.float64, seed=4),
    lambda: FullyConnectedNet([7], input_dim=5, num_classes=3),
    lambda: TwoLayerNet(input_dim=5, hidden_dim=7, num_classes=3, weight_scale=0.2, reg=0.5),
])
def test_config_rebuilds_the_net(make):
    np.random.seed(9)
    model = make()
    config = model.config()
    assert json.loads(json.dumps(config)) == config
    np.random.seed(9)
    rebuilt = type(model)(**config)
    assert rebuilt.config() == config
    assert list(rebuilt.params) == list(model.params)
    for k, v in model.params.items():
        assert rebuilt.params[k].dtype == v.dtype and np.array_equal(rebuilt.params[k], v)
    if isinstance(model, FullyConnectedNet):
        assert config["dtype"] in ("float64", "float32")
        assert rebuilt.dropout_param == model.dropout_param and rebuilt.bn_params == model.bn_params


# --- settings and training ---------------------------------------------------------------------------
def test_settings_are_the_constructor_and_solver_arguments():
    model_args = set(inspect.signature(FullyConnectedNet).parameters) - {"input_dim", "num_classes"}
    solver_args = set(inspect.signature(Solver).parameters)
    for settings in (DIGITS_SETTINGS, CIFAR_SETTINGS):
        assert set(settings) == {"model", "solver"}
        assert set(settings["model"]) <= model_args and set(settings["solver"]) <= solver_args
    assert DIGITS_SETTINGS["model"]["normalization"] == "batchnorm"
    assert DIGITS_SETTINGS["model"]["dropout_keep_ratio"] < 1
    net = FullyConnectedNet(input_dim=3 * 32 * 32, num_classes=10, **CIFAR_SETTINGS["model"])
    assert net.num_layers == 6


def test_digits_settings_reach_97_5_percent():
    from tensorflowlite_clone.app import data as D
    ds = D.load("digits", seed=0)
    data = {"X_train": ds.X_train, "y_train": ds.y_train, "X_val": ds.X_val, "y_val": ds.y_val}
    np.random.seed(0)
    model = FullyConnectedNet(input_dim=64, num_classes=10, **DIGITS_SETTINGS["model"])
    Solver(model, data, **DIGITS_SETTINGS["solver"], verbose=False).train()
    accuracy = np.mean(np.argmax(model.loss(ds.X_test), axis=1) == ds.y_test)
    assert len(ds.y_test) == 180 and accuracy >= 0.975, accuracy



@pytest.mark.parametrize("normalization", [None, "layernorm"])
def test_the_default_traced_loss_is_the_tape_s(normalization):
    """A net without batchnorm or dropout compiles its step (tflc.jit): the same loss as the
    eager tape, exactly, and the same gradients to rounding, batch after batch."""
    np.random.seed(5)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, normalization=normalization,
                              reg=0.1, weight_scale=0.3, dtype=np.float64)
    for _ in range(3):
        X, y = np.random.randn(6, 5), np.random.randint(4, size=6)
        loss, grads = model.loss(X, y)
        expected_loss, expected = model.loss(X, y, method="autodiff")
        assert loss == expected_loss
        for k, g in expected.items():
            assert_close_to_rounding(grads[k], g)
    from models import fc_net
    assert any(plan is not None for plan in fc_net._traced_loss.plans.values())


def _random_state_equal(a, b):
    return a[0] == b[0] and all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:]))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kwargs", [
    {"normalization": "batchnorm"},
    {"dropout_keep_ratio": 0.6},
    {"normalization": "batchnorm", "dropout_keep_ratio": 0.7},
    {"normalization": "batchnorm", "dropout_keep_ratio": 0.7, "seed": 3},
    {"normalization": "layernorm", "dropout_keep_ratio": 0.5},
], ids=["batchnorm", "dropout", "both", "both-seeded", "layernorm-dropout"])
def test_the_compiled_step_with_batchnorm_and_dropout_is_the_tape_s(kwargs, dtype):
    """Batchnorm and dropout compile too (tflc.jit, jax.jit's way): the masks are drawn before the
    step with cs231n's calls and passed in, batchnorm's inputs come out and the running averages
    are updated from them after it. Batch after batch, from the same generator state as the
    eager tape (method="autodiff"), on a twin net: the same loss exactly, the same gradients (to
    the bit with batchnorm, compiled with `exact`; to rounding otherwise), the same running
    averages in bn_params, the same draws consumed, the same test-mode scores."""
    import copy
    import warnings

    from models import fc_net
    np.random.seed(1)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, reg=0.1, weight_scale=0.3,
                              dtype=dtype, **kwargs)
    twin = copy.deepcopy(model)
    for _ in range(4):
        X, y = np.random.randn(6, 5), np.random.randint(4, size=6)
        state = np.random.get_state()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "runs eagerly" warning
            loss, grads = model.loss(X, y)
        after = np.random.get_state()
        np.random.set_state(state)
        expected_loss, expected = twin.loss(X, y, method="autodiff")
        assert _random_state_equal(after, np.random.get_state())
        assert isinstance(loss, float) and loss == expected_loss
        assert set(grads) == set(expected)
        for k, g in expected.items():
            if model.normalization == "batchnorm":
                assert grads[k].dtype == g.dtype and np.array_equal(grads[k], g), k
            else:
                assert_close_to_rounding(grads[k], g)
        for ours, theirs in zip(model.bn_params, twin.bn_params):
            assert ours.keys() == theirs.keys()
            for k, v in theirs.items():
                assert np.asarray(ours[k]).dtype == np.asarray(v).dtype, k
                assert np.array_equal(ours[k], v), k
        assert np.array_equal(model.loss(X), twin.loss(X, method="autodiff"))  # test mode
        for k in model.params:  # the same update on both (the eager gradients): twins still
            model.params[k] = model.params[k] - 0.1 * expected[k]
            twin.params[k] = twin.params[k] - 0.1 * expected[k]
    if model.normalization == "batchnorm":
        assert set(model.bn_params[0]) == {"mode", "running_mean", "running_var"}
    step = fc_net._traced_exact_loss if model.normalization == "batchnorm" else fc_net._traced_loss
    assert any(plan is not None for plan in step.plans.values())


def test_a_seeded_dropout_net_compiles_the_notebooks_numbers():
    """Dropout.ipynb's check with seed=123 through the compiled step: the printed losses, and
    the step has a plan (no eager fallback)."""
    from models import fc_net
    X, y = check_data()
    printed = {0.75: 2.302371489704412, 0.5: 2.3042759220785896}
    fc(dropout_keep_ratio=1, seed=123)  # the notebook makes the keep = 1 net first
    for keep in [0.75, 0.5]:
        model = fc(dropout_keep_ratio=keep, seed=123)
        loss, _ = model.loss(X, y)
        assert abs(loss - printed[keep]) < 1e-12
        assert loss == model.loss(X, y, method="autodiff")[0]
    assert any(plan is not None for plan in fc_net._traced_loss.plans.values())


def test_engine_dropout_with_a_given_mask_draws_nothing():
    from models import engine_layers as E
    x = np.arange(6.0).reshape(2, 3)
    param = {"mode": "train", "p": 0.5, "seed": 4}
    mask = E.draw_dropout_mask(x.shape, param)
    np.random.seed(9)
    state = np.random.get_state()
    out = E.dropout(x, param, mask=mask)
    assert _random_state_equal(state, np.random.get_state())
    assert np.array_equal(out.numpy(), E.dropout(x, param).numpy())  # the seed: the same mask
    with pytest.raises(ValueError, match="mask of shape"):
        E.dropout(x, param, mask=mask[:1])


def test_engine_batchnorm_hands_out_its_input_instead_of_updating():
    from models import engine_layers as E
    np.random.seed(2)
    x, gamma, beta = np.random.randn(5, 3), np.ones(3), np.zeros(3)
    updated, handed = {"mode": "train", "momentum": 0.8}, {"mode": "train", "momentum": 0.8}
    batches = []
    out = E.batchnorm(x, gamma, beta, handed, batches=batches)
    assert set(handed) == {"mode", "momentum"} and len(batches) == 1
    assert np.array_equal(out.numpy(), E.batchnorm(x, gamma, beta, updated).numpy())
    E.update_running_averages(handed, batches[0])  # (an array or a Tensor)
    for k in ("running_mean", "running_var"):
        assert np.array_equal(handed[k], updated[k])


@pytest.mark.parametrize("kwargs", [
    {"normalization": "batchnorm", "dropout_keep_ratio": 0.7, "seed": 2},
    {"normalization": "layernorm", "dropout_keep_ratio": 0.5},
    {},
], ids=["batchnorm-dropout-seeded", "layernorm-dropout", "plain"])
def test_the_compiled_scores_are_the_tape_s(kwargs):
    """loss(X) (test mode) compiles too: the running averages are arguments (zeros set into
    bn_params first where there are none, as the eager batchnorm does), a seeded dropout reseeds
    the generator as the eager one does; the scores are the eager tape's, bit for bit, before and
    after training steps."""
    import copy
    import warnings

    from models import fc_net
    np.random.seed(3)
    model = FullyConnectedNet([7, 6], input_dim=5, num_classes=4, reg=0.1, weight_scale=0.3,
                              dtype=np.float64, **kwargs)
    twin = copy.deepcopy(model)
    X = np.random.randn(6, 5)
    for _ in range(3):
        state = np.random.get_state()
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            scores = model.loss(X)
        after = np.random.get_state()
        np.random.set_state(state)
        expected = twin.loss(X, method="autodiff")
        assert _random_state_equal(after, np.random.get_state())
        assert scores.dtype == expected.dtype and np.array_equal(scores, expected)
        for ours, theirs in zip(model.bn_params, twin.bn_params):
            assert ours.keys() == theirs.keys() and all(np.array_equal(ours[k], theirs[k]) for k in theirs)
        y = np.random.randint(4, size=6)
        state = np.random.get_state()
        model.loss(X, y)
        np.random.set_state(state)
        twin.loss(X, y, method="autodiff")
    assert any(plan is not None for plan in fc_net._traced_forward.plans.values())
