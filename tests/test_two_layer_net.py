"""TwoLayerNet: autodiff vs the seed's hand-derived backward vs finite differences; cs231n's toy
check; training."""
import numpy as np
import pytest

from models.two_layer_net import TwoLayerNet
from tensorflowlite_clone.gradcheck import numerical_gradient, rel_error
from tensorflowlite_clone.optim import SGD


def toy():
    """cs231n assignment 1's toy model and data (two_layer_net.ipynb)."""
    np.random.seed(0)
    net = TwoLayerNet(4, 10, 3, std=1e-1)
    np.random.seed(1)
    X = 10 * np.random.randn(5, 4)
    y = np.array([0, 1, 2, 2, 1])
    return net, X, y


# published in cs231n's notebook: the scores and loss (reg=0.05) of the toy model
CS231N_SCORES = np.array([[-0.81233741, -1.27654624, -0.70335995],
                          [-0.17129677, -1.18803311, -0.47310444],
                          [-0.51590475, -1.01354314, -0.8504215],
                          [-0.15419291, -0.48629638, -0.52901952],
                          [-0.00618733, -0.12435261, -0.15226949]])
CS231N_LOSS = 1.30378789133


def random_net(D, H, C, N, seed, std=0.5, dtype=np.float64):
    np.random.seed(seed)
    net = TwoLayerNet(D, H, C, std=std)
    rng = np.random.default_rng(seed)
    for p in ("b1", "b2"):  # non-zero biases, so their gradients are exercised properly
        net.params[p] += 0.1 * rng.standard_normal(net.params[p].shape)
    net.params = {k: v.astype(dtype) for k, v in net.params.items()}
    return net, rng.standard_normal((N, D)).astype(dtype), rng.integers(C, size=N)


def test_initialisation_follows_cs231n():
    np.random.seed(7)
    W1, W2 = 1e-4 * np.random.randn(6, 5), 1e-4 * np.random.randn(5, 3)
    np.random.seed(7)
    net = TwoLayerNet(6, 5, 3)
    assert list(net.params) == ["W1", "b1", "W2", "b2"]
    assert np.array_equal(net.params["W1"], W1) and np.array_equal(net.params["W2"], W2)
    assert np.array_equal(net.params["b1"], np.zeros(5)) and np.array_equal(net.params["b2"], np.zeros(3))


@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_cs231n_toy_scores_and_loss(method):
    net, X, y = toy()
    scores = net.loss(X, method=method)
    assert isinstance(scores, np.ndarray) and scores.shape == (5, 3)
    assert np.abs(scores - CS231N_SCORES).max() < 1e-7
    loss, grads = net.loss(X, y, reg=0.05, method=method)
    assert isinstance(loss, float) and abs(loss - CS231N_LOSS) < 1e-10
    assert {k: g.shape for k, g in grads.items()} == {k: p.shape for k, p in net.params.items()}


def test_cs231n_toy_gradients_vs_finite_differences():
    net, X, y = toy()
    for method in ("autodiff", "manual"):
        _, grads = net.loss(X, y, reg=0.05, method=method)
        for name, param in net.params.items():
            numerical = numerical_gradient(lambda _: net.loss(X, y, reg=0.05)[0], param)
            assert rel_error(grads[name], numerical) < 1e-8, (method, name)


@pytest.mark.parametrize("D, H, C, N, reg", [(3, 4, 2, 1, 0.0), (5, 7, 3, 6, 0.1),
                                             (8, 16, 5, 20, 1e-3), (2, 30, 4, 50, 1.0)])
def test_both_paths_match_each_other_and_finite_differences(D, H, C, N, reg):
    net, X, y = random_net(D, H, C, N, seed=D + H)
    loss_a, grads_a = net.loss(X, y, reg=reg)
    loss_m, grads_m = net.loss(X, y, reg=reg, method="manual")
    assert abs(loss_a - loss_m) <= 1e-12 * loss_m
    for name, param in net.params.items():
        assert rel_error(grads_a[name], grads_m[name]) <= 1e-9, name
        numerical = numerical_gradient(lambda _: net.loss(X, y, reg=reg)[0], param)
        assert rel_error(grads_a[name], numerical) < 1e-6, name


def test_loss_reads_params_afresh():
    net, X, y = random_net(4, 5, 3, 8, seed=1)
    loss0 = net.loss(X, y)[0]
    net.params["W2"] *= 2  # in place, as finite differences do
    assert net.loss(X, y)[0] != loss0
    assert net.loss(X, y)[0] == pytest.approx(net.loss(X, y, method="manual")[0], rel=1e-12)
    net.params["W2"] = net.params["W2"] / 2  # replaced outright
    assert net.loss(X, y)[0] == pytest.approx(loss0, rel=1e-12)


@pytest.mark.parametrize("x_dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_float32_params_give_float32_grads(method, x_dtype):
    net, X, y = random_net(6, 8, 4, 10, seed=2, dtype=np.float32)
    loss, grads = net.loss(X.astype(x_dtype), y, reg=0.1, method=method)
    assert all(g.dtype == np.float32 for g in grads.values())
    net64 = TwoLayerNet(6, 8, 4)
    net64.params = {k: v.astype(np.float64) for k, v in net.params.items()}
    _, reference = net64.loss(X.astype(np.float64), y, reg=0.1, method="manual")
    for name in grads:
        assert np.allclose(grads[name], reference[name], rtol=1e-3, atol=1e-5)


def test_forward_tensors_are_named():
    net, X, y = random_net(4, 5, 3, 6, seed=3)
    loss, tensors = net.forward_tensors(X, y, reg=0.1)
    assert list(tensors) == ["W1", "b1", "hidden_pre", "hidden", "W2", "b2", "scores", "probs"]
    assert all(t.name == name for name, t in tensors.items()) and loss.name == "loss"
    _, tensors = net.forward_tensors(X)
    assert list(tensors)[-1] == "scores"


def test_unknown_method():
    net, X, y = random_net(4, 5, 3, 6, seed=3)
    with pytest.raises(ValueError, match="method"):
        net.loss(X, y, method="symbolic")


def spiral(n=100, classes=3, seed=0):
    """cs231n's spiral data set: not linearly separable."""
    rng = np.random.default_rng(seed)
    X, y = np.zeros((n * classes, 2)), np.repeat(np.arange(classes), n)
    for j in range(classes):
        r = np.linspace(0.0, 1, n)
        t = np.linspace(j * 4, (j + 1) * 4, n) + 0.2 * rng.standard_normal(n)
        X[j * n:(j + 1) * n] = np.c_[r * np.sin(t), r * np.cos(t)]
    return X, y


@pytest.mark.parametrize("method", ["autodiff", "manual"])
def test_learns_the_spiral(method):
    X, y = spiral()
    X_val, y_val = spiral(seed=1)
    np.random.seed(0)
    net = TwoLayerNet(2, 50, 3, std=1e-1)
    stats = net.train(X, y, X_val, y_val, learning_rate=1.0, learning_rate_decay=1.0, reg=1e-4,
                      num_iters=2000, batch_size=100, method=method)
    assert np.mean(net.predict(X) == y) > 0.95
    assert stats["val_acc_history"][-1] > 0.9
    assert np.mean(stats["loss_history"][-20:]) < 0.3 * stats["loss_history"][0]


def test_train_histories_and_decay():
    net, X, y = toy()
    # cs231n's toy training run: 5 samples, batches of 200, so every iteration is an epoch
    stats = net.train(X, y, X, y, learning_rate=1e-1, reg=5e-6, num_iters=100, verbose=False)
    assert set(stats) == {"loss_history", "train_acc_history", "val_acc_history"}
    assert len(stats["loss_history"]) == 100 and stats["loss_history"][-1] < 0.05
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 100

    X, y = spiral(n=50)  # 150 samples, batches of 40: an epoch is 3 iterations
    opt = SGD(0.5)
    stats = net_for(2).train(X, y, X, y, learning_rate_decay=0.5, num_iters=10, batch_size=40,
                             optimizer=opt)
    assert len(stats["loss_history"]) == 10
    assert len(stats["train_acc_history"]) == len(stats["val_acc_history"]) == 4  # it 0, 3, 6, 9
    assert opt.lr == 0.5 * 0.5 ** 4
    assert all(0.0 <= a <= 1.0 for a in stats["val_acc_history"])


def net_for(D):
    np.random.seed(0)
    return TwoLayerNet(D, 10, 3, std=1e-1)


def test_float32_training_stays_float32(capsys):
    X, y = spiral(n=30)
    net = net_for(2)
    net.params = {k: v.astype(np.float32) for k, v in net.params.items()}
    net.train(X.astype(np.float32), y, X, y, learning_rate=0.5, num_iters=101, batch_size=50,
              verbose=True)
    assert all(p.dtype == np.float32 for p in net.params.values())
    assert "iteration 100 / 101" in capsys.readouterr().out
