"""models.cnn.ThreeLayerConvNet, cs231n's conv - relu - 2x2 max pool - affine - relu - affine -
softmax: the ConvolutionalNetworks notebook's checks, the three gradients (tape, hand-derived
sandwich layers, single hand-derived layers) equal to each other and to central differences in
float64, compare_gradients naming the layer whose hand-derived backward is broken, the graph
drawing, bad input, and training on the bundled digits.

Where the expected numbers come from: ConvolutionalNetworks.ipynb prints, for "Sanity check
loss" (unseeded), "Initial loss (no regularization): 2.302586071243987" and "(with
regularization): 2.508255638232932" (another run of the notebook: 2.3025836107765825 and
2.5083878716607613); for "Gradient check" (np.random.seed(231)) the numerical-vs-analytic
relative errors W1 1.380104e-04, W2 1.822723e-02, W3 3.064049e-04, b1 3.477652e-05,
b2 2.516375e-03, b3 7.945660e-10. Those errors are the finite differences' own (h = 1e-6 across
the ReLUs' kinks with weights of 1e-3), so the same draws must reproduce them.
"""
import json

import numpy as np
import pytest
from conftest import assert_close_to_rounding

import tensorflowlite_clone as tflc
import viz
from models import cnn
from models import layers as L
from models.cnn import CIFAR_SETTINGS, DIGITS_SETTINGS, ThreeLayerConvNet
from models.solver import Solver
from tensorflowlite_clone.gradcheck import compare_gradients, grad_check_sparse, numerical_gradient, rel_error

PARAMS = ("W1", "b1", "W2", "b2", "W3", "b3")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """One BLAS thread: these matrices are small, and OpenBLAS's threads spin against each other
    on a busy 2-core machine (ten times slower there)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # a dev dependency; without it the tests run as they are, only slower
        yield
        return
    with threadpool_limits(1, user_api="blas"):
        yield


# --- the notebook's checks ----------------------------------------------------------------------
def test_sanity_check_loss():
    """About log(10) for random weights; reg 0.5 adds 0.25 * sum |W|^2 (about 0.206 for cs231n's
    824,904 weights of scale 1e-3: the printed 2.5083 +- its spread of 3e-4)."""
    np.random.seed(231)
    model = ThreeLayerConvNet()
    N = 50
    X = np.random.randn(N, 3, 32, 32)
    y = np.random.randint(10, size=N)

    loss, grads = model.loss(X, y)
    assert loss == pytest.approx(2.302586071243987, abs=1e-5)
    assert loss == pytest.approx(2.3025836107765825, abs=1e-5)
    assert {k: (g.shape, g.dtype) for k, g in grads.items()} == {
        k: (p.shape, np.dtype(np.float32)) for k, p in model.params.items()}

    model.reg = 0.5
    loss_reg, _ = model.loss(X, y)
    assert loss_reg == pytest.approx(2.508255638232932, abs=1.5e-3)
    assert loss_reg == pytest.approx(2.5083878716607613, abs=1.5e-3)
    squares = sum(np.sum(model.params[k].astype(np.float64) ** 2) for k in ("W1", "W2", "W3"))
    assert loss_reg - loss == pytest.approx(0.25 * squares, rel=1e-4)  # 0.5 * reg, float32
    assert model.loss(X, y, method="manual")[0] == pytest.approx(loss_reg, abs=1e-6)


def notebook_gradient_check_setup():
    num_inputs, input_dim, num_classes = 2, (3, 16, 16), 10
    np.random.seed(231)
    X = np.random.randn(num_inputs, *input_dim)
    y = np.random.randint(num_classes, size=num_inputs)
    model = ThreeLayerConvNet(num_filters=3, filter_size=3, input_dim=input_dim, hidden_dim=7,
                              dtype=np.float64)
    return model, X, y


NOTEBOOK_ERRORS = {"W1": 1.380104e-04, "W2": 1.822723e-02, "W3": 3.064049e-04,
                   "b1": 3.477652e-05, "b2": 2.516375e-03}


def test_gradient_check_reproduces_the_notebook():
    """The notebook's cell: the same draws give its printed errors (to 4 digits; b3's, rounding
    noise, below 1e-8), and the tape, the hand-derived sandwiches and the single hand-derived
    layers agree to 1e-8."""
    model, X, y = notebook_gradient_check_setup()
    loss, grads = model.loss(X, y)
    loss_manual, manual = model.loss(X, y, method="manual")
    hand = model.hand_derived_gradients(model.params, X, y)
    assert loss_manual == pytest.approx(loss, rel=1e-12)
    for name in PARAMS:
        assert grads[name].dtype == np.float64
        assert rel_error(grads[name], manual[name]) < 1e-8, name
        assert rel_error(grads[name], hand[name]) < 1e-8, name
        numeric = numerical_gradient(lambda _: model.loss(X, y)[0], model.params[name], h=1e-6)
        error = rel_error(numeric, grads[name])
        if name == "b3":
            assert error < 1e-8
        else:
            assert error == pytest.approx(NOTEBOOK_ERRORS[name], rel=1e-3), name


def test_gradient_check_with_regularization():
    """reg > 0 on the notebook's model: every path adds reg * W. Central differences at 20
    entries of each parameter (the full check, with the intermediates, is the tie-free one
    below): the weights, whose gradients are now mostly reg * W, to 1e-5; the biases to the
    notebook's "up to e-2" (b2's kinks, 2.5e-3 above)."""
    model, X, y = notebook_gradient_check_setup()
    model.reg = 0.7
    _, grads = model.loss(X, y)
    _, manual = model.loss(X, y, method="manual")
    hand = model.hand_derived_gradients(model.params, X, y)
    for name in PARAMS:
        assert rel_error(grads[name], manual[name]) < 1e-8, name
        assert rel_error(grads[name], hand[name]) < 1e-8, name
        errors = grad_check_sparse(lambda _: model.loss(X, y)[0], model.params[name], grads[name],
                                   num_checks=20, h=1e-6, seed=0)
        assert max(errors) < (1e-5 if name.startswith("W") else 1e-2), name
    model.reg = 0.0
    _, plain = model.loss(X, y)
    for name in ("W1", "W2", "W3"):
        assert rel_error(grads[name] - plain[name], 0.7 * model.params[name]) < 1e-8, name
    for name in ("b1", "b2", "b3"):
        np.testing.assert_array_equal(grads[name], plain[name])


# --- compare_gradients: named intermediates, broken layers named -------------------------------
def tie_free_model():
    """A small float64 net whose every 2x2 pool window has a positive entry (b1 = 0.3 shifts the
    conv's outputs up), so max pooling has no ties (see the module docstring of models.cnn),
    while a third of the conv's outputs and of the hidden layer's inputs are still negative, so
    both ReLUs' masks matter."""
    np.random.seed(4)
    model = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=7,
                              num_classes=4, weight_scale=0.2, dtype=np.float64)
    X = np.random.randn(3, 2, 6, 6)
    y = np.random.randint(4, size=3)
    model.params["b1"][:] = 0.3
    _, tensors = model.forward_tensors(X, y)
    windows = np.asarray(tensors["pool1.x"]).reshape(3, 3, 3, 2, 3, 2)
    assert windows.max(axis=(3, 5)).min() > 0.1  # a unique maximum in every window
    assert model.tied_pool_windows(X) == 0
    assert np.mean(np.asarray(tensors["relu1.x"]) < 0) > 0.2
    assert np.mean(np.asarray(tensors["relu2.x"]) < 0) > 0.2
    return model, X, y


def test_named_tensors_in_forward_order():
    model, X, y = tie_free_model()
    loss, tensors = model.forward_tensors(X, y)
    assert list(tensors) == ["W1", "b1", "relu1.x", "pool1.x", "affine2.x", "W2", "b2", "relu2.x",
                             "affine3.x", "W3", "b3", "scores"]
    assert all(tensors[k].name == k for k in tensors)
    assert all(isinstance(tensors[k], tflc.Variable) for k in PARAMS)
    assert np.shares_memory(tensors["W1"].numpy(), model.params["W1"])  # copy=False
    assert tensors["affine2.x"].shape == (3, 3, 3, 3)
    assert float(loss) == pytest.approx(model.loss(X, y)[0], rel=1e-12)
    assert model.forward_tensors(X)[0] is None
    model.reg = 0.2  # reg None means model.reg
    with_reg = float(model.forward_tensors(X, y)[0])
    assert with_reg == pytest.approx(model.loss(X, y)[0], rel=1e-12)
    assert with_reg == pytest.approx(float(model.forward_tensors(X, y, reg=0.2)[0]), rel=1e-15)
    assert with_reg > float(loss)


def test_compare_gradients_agrees_everywhere_with_reg():
    """hand == tape for parameters and intermediates alike, both == central differences."""
    model, X, y = tie_free_model()
    result = compare_gradients(model, X, y, reg=0.05, tol=1e-10, numerical_tol=1e-6)
    assert result.ok, str(result)
    assert result.first_disagreement is None and result.first_numerical_disagreement is None
    assert [r.name for r in result.rows][:3] == ["scores", "b3", "W3"]
    assert result["W1"].hand_vs_autodiff < 1e-12
    # the regulariser is in there: reg * W on the weights
    reg0 = compare_gradients(model, X, y, reg=0.0, numerical=False)
    assert rel_error(result.autodiff["W2"] - reg0.autodiff["W2"], 0.05 * model.params["W2"]) < 1e-10


def test_ties_in_max_pool_leave_only_pool1_x_unchecked(monkeypatch):
    """After the ReLU a window of zeros ties: the hand-derived backward gives it to the first
    entry, the engine splits it. hand_derived_gradients leaves "pool1.x" out on such a batch
    (it would be the only row to differ), and a broken pool backward is still caught a row on."""
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(2, 6, 6), num_filters=3, filter_size=3, hidden_dim=7,
                              num_classes=4, weight_scale=0.2, dtype=np.float64)
    X, y = np.random.randn(3, 2, 6, 6), np.random.randint(4, size=3)
    assert model.tied_pool_windows(X) > 0
    result = compare_gradients(model, X, y, reg=0.05, numerical=False)
    assert result.ok and result["pool1.x"].hand_vs_autodiff is None
    hand = model.hand_derived_gradients(model.params, X, y, 0.05)
    monkeypatch.setattr(cnn, "_ties", lambda s1: 0)  # keep "pool1.x": it differs at the ties
    with_pool = model.hand_derived_gradients(model.params, X, y, 0.05)
    assert set(with_pool) - set(hand) == {"pool1.x"}
    assert rel_error(with_pool["pool1.x"], result.autodiff["pool1.x"]) > 0.1
    monkeypatch.undo()
    monkeypatch.setattr(L, "max_pool_backward_naive", broken_max_pool_backward)
    assert compare_gradients(model, X, y, reg=0.05, numerical=False).first_disagreement == "relu1.x"


def test_tied_pool_windows_counts():
    model, X, y = tie_free_model()
    assert model.tied_pool_windows(X) == 0
    model.params["b1"][:] = -100.0  # every conv output negative: every window is four zeros
    assert model.tied_pool_windows(X) == 3 * 3 * 3 * 3


def broken_max_pool_backward(dout, cache):
    """Each window's gradient to its top-left entry, wherever the maximum was."""
    x, pool_param = cache
    s = pool_param["stride"]
    dx = np.zeros_like(x)
    dx[:, :, ::s, ::s][:, :, :dout.shape[2], :dout.shape[3]] = dout
    return dx


def test_compare_gradients_names_a_broken_max_pool_backward(monkeypatch):
    model, X, y = tie_free_model()
    monkeypatch.setattr(L, "max_pool_backward_naive", broken_max_pool_backward)
    result = compare_gradients(model, X, y, reg=0.05, numerical=False)
    assert result.first_disagreement == "pool1.x"
    assert result["affine2.x"].hand_vs_autodiff < 1e-12  # everything after the pool is right


def broken_relu(dout, cache, which, bug, relu_backward=L.relu_backward):
    """relu_backward with `bug` in the ReLU(s) `which` ("conv": the one after the convolution, its
    cache 4-D; "hidden": the one after the first affine layer; "both")."""
    if which == "both" or (which == "conv") == (np.ndim(cache) == 4):
        return {"forgot the mask": dout.copy(), "times x, not [x > 0]": dout * np.maximum(cache, 0)}[bug]
    return relu_backward(dout, cache)


@pytest.mark.parametrize("which, bug, expected", [
    ("both", "forgot the mask", "relu2.x"),
    ("hidden", "forgot the mask", "relu2.x"),
    ("hidden", "times x, not [x > 0]", "relu2.x"),
    ("conv", "times x, not [x > 0]", "relu1.x"),
    # the pool's gradient lands only on each window's maximum, positive here: the conv ReLU's
    # mask is 1 wherever it matters, so forgetting it changes nothing (it would at tied zeros)
    ("conv", "forgot the mask", None),
])
def test_compare_gradients_names_a_broken_relu_backward(monkeypatch, which, bug, expected):
    model, X, y = tie_free_model()
    monkeypatch.setattr(L, "relu_backward", lambda dout, cache: broken_relu(dout, cache, which, bug))
    result = compare_gradients(model, X, y, reg=0.05, numerical=False)
    assert result.first_disagreement == expected
    if expected == "relu1.x":
        assert result["pool1.x"].hand_vs_autodiff < 1e-12 and result["W1"].hand_vs_autodiff > 1e-3


def test_hand_derived_gradients_match_the_manual_sandwiches():
    model, X, y = tie_free_model()
    hand = model.hand_derived_gradients(model.params, X, y, reg=0.3)
    model.reg = 0.3
    _, manual = model.loss(X, y, method="manual")
    for name in PARAMS:
        assert rel_error(hand[name], manual[name]) < 1e-12, name
    assert set(hand) == set(PARAMS) | set(ThreeLayerConvNet.INTERMEDIATES)


# --- scores, dtypes, draws, config --------------------------------------------------------------
def test_scores_from_both_paths_and_float32():
    np.random.seed(1)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=5, hidden_dim=6,
                              weight_scale=0.3)
    X = np.random.randn(5, 1, 8, 8)
    scores = model.loss(X)
    assert scores.shape == (5, 10) and scores.dtype == np.float32
    manual = model.loss(X, method="manual")
    np.testing.assert_allclose(scores, manual, rtol=1e-4, atol=1e-5)
    loss, grads = model.loss(X, np.arange(5))
    assert isinstance(loss, float)
    assert all(grads[k].dtype == np.float32 for k in PARAMS)
    _, manual_grads = model.loss(X, np.arange(5), method="manual")
    for name in PARAMS:
        assert rel_error(grads[name], manual_grads[name], per_entry=False) < 1e-5, name


def test_cs231n_parameters_and_draws():
    np.random.seed(7)
    model = ThreeLayerConvNet()
    np.random.seed(7)
    W1, W2, W3 = (1e-3 * np.random.randn(*shape)
                  for shape in ((32, 3, 7, 7), (32 * 16 * 16, 100), (100, 10)))
    expected = {"W1": W1, "b1": np.zeros(32), "W2": W2, "b2": np.zeros(100), "W3": W3,
                "b3": np.zeros(10)}
    assert list(model.params) == list(PARAMS)
    for name, value in expected.items():
        assert model.params[name].dtype == np.float32
        np.testing.assert_array_equal(model.params[name], value.astype(np.float32))
    assert model.reg == 0.0 and model.dtype == np.float32
    odd = ThreeLayerConvNet(input_dim=(2, 6, 10), num_filters=5, filter_size=5, hidden_dim=3,
                            num_classes=4)
    assert odd.params["W2"].shape == (5 * 3 * 5, 3)
    assert odd.conv_param == {"stride": 1, "pad": 2}
    assert odd.pool_param == {"pool_height": 2, "pool_width": 2, "stride": 2}


def test_config_rebuilds_the_architecture():
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=9,
                              num_classes=3, weight_scale=0.02, reg=0.25, dtype=np.float64)
    config = json.loads(json.dumps(model.config()))
    assert config == {"input_dim": [1, 8, 8], "num_filters": 4, "filter_size": 3, "hidden_dim": 9,
                      "num_classes": 3, "weight_scale": 0.02, "reg": 0.25, "dtype": "float64"}
    again = ThreeLayerConvNet(**config)
    assert again.config() == config
    assert {k: (v.shape, v.dtype) for k, v in again.params.items()} == {
        k: (v.shape, v.dtype) for k, v in model.params.items()}


# --- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, words", [
    ({"filter_size": 4}, ValueError, "filter_size must be odd"),
    ({"filter_size": 0}, ValueError, "filter_size"),
    ({"filter_size": 3.0}, TypeError, "filter_size"),
    ({"num_filters": 0}, ValueError, "num_filters"),
    ({"hidden_dim": -1}, ValueError, "hidden_dim"),
    ({"num_classes": True}, TypeError, "num_classes"),
    ({"input_dim": (32, 32)}, ValueError, "input_dim must be 3"),
    ({"input_dim": "abc"}, ValueError, "input_dim must be 3"),
    ({"input_dim": (3, 0, 32)}, ValueError, r"input_dim\[1\]"),
    ({"input_dim": (3, 31, 32)}, ValueError, "H and W must be even"),
    ({"weight_scale": 0.0}, ValueError, "weight_scale"),
    ({"weight_scale": float("nan")}, ValueError, "weight_scale"),
    ({"weight_scale": "1e-3"}, TypeError, "weight_scale"),
    ({"reg": -1.0}, ValueError, "reg"),
    ({"dtype": np.int32}, TypeError, "dtype"),
    ({"dtype": "no such type"}, TypeError, "dtype"),
])
def test_bad_constructor_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        ThreeLayerConvNet(**kwargs)


@pytest.fixture
def small_model():
    np.random.seed(0)
    return ThreeLayerConvNet(input_dim=(1, 4, 4), num_filters=2, filter_size=3, hidden_dim=3,
                             num_classes=3, dtype=np.float64)


@pytest.mark.parametrize("X, y, error, words", [
    (np.zeros((2, 16)), None, ValueError, r"4-D array of shape \(N, 1, 4, 4\).*got shape \(2, 16\)"),
    (np.zeros((2, 3, 4, 4)), None, ValueError, r"got shape \(2, 3, 4, 4\)"),
    (np.zeros((2, 1, 4, 6)), None, ValueError, r"got shape \(2, 1, 4, 6\)"),
    (np.array([[[["a"]]]]), None, TypeError, "real numbers"),
    (np.zeros((2, 1, 4, 4)), np.array([0, 3]), ValueError, "labels must be 2 integers in 0..2"),
    (np.zeros((2, 1, 4, 4)), np.array([0, -1]), ValueError, "got -1 at index 1"),
    (np.zeros((2, 1, 4, 4)), np.array([0.0, 1.0]), ValueError, "dtype float64"),
    (np.zeros((2, 1, 4, 4)), np.array([0]), ValueError, r"shape \(1,\)"),
    (np.zeros((0, 1, 4, 4)), np.zeros(0, dtype=int), ValueError, "empty batch"),
])
@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_bad_loss_input(small_model, X, y, error, words, method):
    with pytest.raises(error, match=words):
        small_model.loss(X, y, method=method)


def test_bad_method_and_reg(small_model):
    X, y = np.zeros((2, 1, 4, 4)), np.array([0, 1])
    with pytest.raises(ValueError, match="method must be one of traced, autodiff, manual, got 'numeric'"):
        small_model.loss(X, y, method="numeric")
    with pytest.raises(ValueError, match="reg"):
        small_model.forward_tensors(X, y, reg=-0.5)
    small_model.reg = float("inf")
    with pytest.raises(ValueError, match="reg"):
        small_model.loss(X, y)


# --- the graph ----------------------------------------------------------------------------------
def test_draw_graph_shows_the_layers():
    """Plain: the named intermediates on their ops, max pooling as windows + max; with
    `cnn.layer_groups` collapsed: one box for the convolution, one for the pool."""
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=10,
                              dtype=np.float64)
    X, y = np.random.randn(2, 1, 8, 8), np.array([1, 3])
    with tflc.GradientTape(persistent=True) as tape:
        loss, tensors = model.forward_tensors(X, y)
    source = viz.draw_graph(tape, loss, inputs={"X": X, "y": y}).source
    for label in ("relu1.x", "pool1.x", "affine2.x", "relu2.x", "affine3.x", "scores", "W1", "b3",
                  "<B>windows</B>", "<B>max</B>", "<B>matmul</B>", "<B>relu</B>"):
        assert label in source, label
    graph = viz.draw_graph(tape, loss, inputs={"X": X, "y": y}, rankdir="TB",
                           collapse=cnn.layer_groups(tensors), show_grads=True)
    source = graph.source
    assert "<B>conv (tflc.nn.conv2d)</B>" in source
    assert "<B>2x2 max pool (tflc.nn.max_pool2d)</B>" in source
    assert "<B>windows</B>" not in source  # inside the pool's box now


# --- training -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def digits():
    from tensorflowlite_clone.app import data as D
    pytest.importorskip("sklearn")
    ds = D.load("digits", seed=0)
    data = {"X_train": ds.X_train.reshape(-1, 1, 8, 8), "y_train": ds.y_train,
            "X_val": ds.X_val.reshape(-1, 1, 8, 8), "y_val": ds.y_val}
    return data, ds.X_test.reshape(-1, 1, 8, 8), ds.y_test


def test_overfit_small_data(digits):
    """The notebook's "Overfit small data" on 50 digits: training accuracy near 1 after a few
    epochs, well above the validation accuracy."""
    data, _, _ = digits
    np.random.seed(231)
    small = {"X_train": data["X_train"][:50], "y_train": data["y_train"][:50],
             "X_val": data["X_val"], "y_val": data["y_val"]}
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=8, filter_size=3, hidden_dim=50,
                              weight_scale=0.1)
    solver = Solver(model, small, num_epochs=20, batch_size=25, update_rule="adam",
                    optim_config={"learning_rate": 1e-2}, verbose=False)
    solver.train()
    assert solver.loss_history[-1] < 0.1 * solver.loss_history[0]
    assert solver.train_acc_history[-1] >= 0.98
    assert solver.val_acc_history[-1] < solver.train_acc_history[-1]


def test_digits_settings_reach_98_percent_on_the_test_set(digits):
    data, X_test, y_test = digits
    np.random.seed(0)
    model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_classes=10, **DIGITS_SETTINGS["model"])
    Solver(model, data, **DIGITS_SETTINGS["solver"], verbose=False).train()
    correct = int(np.sum(np.argmax(model.loss(X_test), axis=1) == y_test))
    assert correct >= 177, f"{correct}/180"


def test_cifar_settings_are_the_notebooks():
    """"Train the net": ThreeLayerConvNet(weight_scale=0.001, hidden_dim=500, reg=0.001), adam at
    1e-3, one epoch of batches of 50; the model builds and the Solver takes them."""
    model = ThreeLayerConvNet(**CIFAR_SETTINGS["model"])
    assert model.params["W1"].shape == (32, 3, 7, 7) and model.params["W2"].shape == (8192, 500)
    assert model.reg == 0.001 and model.weight_scale == 0.001
    X, y = np.zeros((2, 3, 32, 32)), np.array([0, 1])
    solver = Solver(model, {"X_train": X, "y_train": y, "X_val": X, "y_val": y},
                    **CIFAR_SETTINGS["solver"], verbose=False)
    assert (solver.num_epochs, solver.batch_size, solver.optim_config) == (1, 50, {"learning_rate": 1e-3})


def test_the_default_traced_loss_is_the_tape_s():
    """loss(X, y) compiles the tape's ops (tflc.jit); "autodiff" runs them eagerly: the same
    loss exactly and the same gradients to rounding, batch after batch, float32 and float64."""
    for dtype in (np.float32, np.float64):
        np.random.seed(1)
        model = ThreeLayerConvNet(input_dim=(1, 8, 8), num_filters=4, filter_size=3, hidden_dim=9,
                                  weight_scale=0.1, reg=0.01, dtype=dtype)
        for _ in range(3):
            X, y = np.random.randn(5, 1, 8, 8), np.random.randint(10, size=5)
            loss, grads = model.loss(X, y)
            expected_loss, expected = model.loss(X, y, method="autodiff")
            assert loss == expected_loss
            for k in PARAMS:
                assert grads[k].dtype == dtype
                assert_close_to_rounding(grads[k], expected[k])
