"""models.optim: cs231n's update rules against the FullyConnectedNets notebook's expected values,
exact arithmetic (sgd) and torch.optim over many steps.

Where the expected values come from:
- sgd_momentum, rmsprop, adam: the expected arrays of the cs231n assignment-2 notebook
  FullyConnectedNets for its np.linspace inputs. They are printed to 8 digits, so a correct rule
  misses them by up to ~1e-7 (the notebook: "errors around e-7 or less"); the tests ask for the
  very errors that solved copies of the notebook print (e.g. "next_w error:
  9.524687511038133e-08" for rmsprop), to 6 digits, which pins each rule's arithmetic.
- sgd (the notebook has no check): w - 1e-2 * dw computed in exact rational arithmetic.
- several steps of rmsprop, adam and sgd_momentum: torch.optim's RMSprop, Adam and SGD
  (momentum in torch's parametrisation, v_torch = -v / lr) on the same gradients.
"""
from fractions import Fraction

import numpy as np
import pytest

from models import optim
from tensorflowlite_clone.gradcheck import rel_error

N, D = 4, 5
W = np.linspace(-0.4, 0.6, num=N * D).reshape(N, D)
DW = np.linspace(-0.6, 0.4, num=N * D).reshape(N, D)


def fresh():
    return W.copy(), DW.copy()


def test_sgd_momentum_matches_the_notebook():
    w, dw = fresh()
    v = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-3, "velocity": v}
    next_w, returned = optim.sgd_momentum(w, dw, config=config)
    expected_next_w = np.asarray([
        [0.1406, 0.20738947, 0.27417895, 0.34096842, 0.40775789],
        [0.47454737, 0.54133684, 0.60812632, 0.67491579, 0.74170526],
        [0.80849474, 0.87528421, 0.94207368, 1.00886316, 1.07565263],
        [1.14244211, 1.20923158, 1.27602105, 1.34281053, 1.4096]])
    expected_velocity = np.asarray([
        [0.5406, 0.55475789, 0.56891579, 0.58307368, 0.59723158],
        [0.61138947, 0.62554737, 0.63970526, 0.65386316, 0.66802105],
        [0.68217895, 0.69633684, 0.71049474, 0.72465263, 0.73881053],
        [0.75296842, 0.76712632, 0.78128421, 0.79544211, 0.8096]])
    assert returned is config and config["momentum"] == 0.9
    assert rel_error(next_w, expected_next_w) == pytest.approx(8.882347033505819e-09, rel=1e-6)
    assert rel_error(config["velocity"], expected_velocity) == pytest.approx(4.269287743278663e-09,
                                                                            rel=1e-6)
    np.testing.assert_array_equal(w, W)  # a new array: w itself is untouched


def test_rmsprop_matches_the_notebook():
    w, dw = fresh()
    cache = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "cache": cache}
    next_w, _ = optim.rmsprop(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.39223849, -0.34037513, -0.28849239, -0.23659121, -0.18467247],
        [-0.132737, -0.08078555, -0.02881884, 0.02316247, 0.07515774],
        [0.12716641, 0.17918792, 0.23122175, 0.28326742, 0.33532447],
        [0.38739248, 0.43947102, 0.49155973, 0.54365823, 0.59576619]])
    expected_cache = np.asarray([
        [0.5976, 0.6126277, 0.6277108, 0.64284931, 0.65804321],
        [0.67329252, 0.68859723, 0.70395734, 0.71937285, 0.73484377],
        [0.75037008, 0.7659518, 0.78158892, 0.79728144, 0.81302936],
        [0.82883269, 0.84469141, 0.86060554, 0.87657507, 0.8926]])
    assert (config["decay_rate"], config["epsilon"]) == (0.99, 1e-8)
    assert rel_error(next_w, expected_next_w) == pytest.approx(9.524687511038133e-08, rel=1e-6)
    assert rel_error(config["cache"], expected_cache) == pytest.approx(2.6477955807156126e-09,
                                                                      rel=1e-6)


def test_adam_matches_the_notebook_with_t_incremented_before_use():
    w, dw = fresh()
    m = np.linspace(0.6, 0.9, num=N * D).reshape(N, D)
    v = np.linspace(0.7, 0.5, num=N * D).reshape(N, D)
    config = {"learning_rate": 1e-2, "m": m, "v": v, "t": 5}
    next_w, _ = optim.adam(w, dw, config=config)
    expected_next_w = np.asarray([
        [-0.40094747, -0.34836187, -0.29577703, -0.24319299, -0.19060977],
        [-0.1380274, -0.08544591, -0.03286534, 0.01971428, 0.0722929],
        [0.1248705, 0.17744702, 0.23002243, 0.28259667, 0.33516969],
        [0.38774145, 0.44031188, 0.49288093, 0.54544852, 0.59801459]])
    expected_v = np.asarray([
        [0.69966, 0.68908382, 0.67851319, 0.66794809, 0.65738853],
        [0.64683452, 0.63628604, 0.6257431, 0.61520571, 0.60467385],
        [0.59414753, 0.58362676, 0.57311152, 0.56260183, 0.55209767],
        [0.54159906, 0.53110598, 0.52061845, 0.51013645, 0.49966]])
    expected_m = np.asarray([
        [0.48, 0.49947368, 0.51894737, 0.53842105, 0.55789474],
        [0.57736842, 0.59684211, 0.61631579, 0.63578947, 0.65526316],
        [0.67473684, 0.69421053, 0.71368421, 0.73315789, 0.75263158],
        [0.77210526, 0.79157895, 0.81105263, 0.83052632, 0.85]])
    assert config["t"] == 6 and (config["beta1"], config["beta2"]) == (0.9, 0.999)
    assert rel_error(next_w, expected_next_w) == pytest.approx(1.1395691798535431e-07, rel=1e-6)
    assert rel_error(config["v"], expected_v) == pytest.approx(4.208314038113071e-09, rel=1e-6)
    assert rel_error(config["m"], expected_m) == pytest.approx(4.214963193114416e-09, rel=1e-6)


def test_sgd_updates_in_place_by_exact_arithmetic():
    w, dw = fresh()
    next_w, config = optim.sgd(w, dw)
    assert next_w is w and config == {"learning_rate": 1e-2}
    # linspace's entries: w_i = -2/5 + i/19, dw_i = -3/5 + i/19 (i = 0..19)
    exact = [Fraction(-2, 5) + Fraction(i, 19) - Fraction(1, 100) * (Fraction(-3, 5) + Fraction(i, 19))
             for i in range(N * D)]
    assert rel_error(next_w, np.array([float(x) for x in exact]).reshape(N, D)) < 1e-14


def test_defaults_are_cs231ns_and_written_into_the_config():
    w, dw = fresh()
    assert optim.sgd(w.copy(), dw)[1] == {"learning_rate": 1e-2}
    _, config = optim.sgd_momentum(w, dw)
    assert (config["learning_rate"], config["momentum"]) == (1e-2, 0.9)
    np.testing.assert_array_equal(config["velocity"], -1e-2 * dw)  # from zero velocity
    _, config = optim.rmsprop(w, dw)
    assert (config["learning_rate"], config["decay_rate"], config["epsilon"]) == (1e-2, 0.99, 1e-8)
    _, config = optim.adam(w, dw)
    assert (config["learning_rate"], config["beta1"], config["beta2"], config["epsilon"],
            config["t"]) == (1e-3, 0.9, 0.999, 1e-8, 1)
    # the first Adam step from zero moments moves every entry by about learning_rate
    next_w, _ = optim.adam(w, dw)
    np.testing.assert_allclose(np.abs(next_w - w), 1e-3, rtol=1e-5)


def test_a_given_hyperparameter_is_kept():
    w, dw = fresh()
    _, config = optim.sgd_momentum(w, dw, {"momentum": 0.0, "learning_rate": 0.5})
    np.testing.assert_array_equal(config["velocity"], -0.5 * dw)


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_float32_stays_float32(rule):
    w, dw = W.astype(np.float32), DW.astype(np.float32)
    config = None
    for _ in range(3):
        w, config = optim.UPDATE_RULES[rule](w, dw, config)
    assert w.dtype == np.float32
    assert all(value.dtype == np.float32 for value in config.values() if isinstance(value, np.ndarray))


@pytest.mark.parametrize("rule", ["sgd", "sgd_momentum", "rmsprop", "adam"])
def test_bad_arguments_are_named(rule):
    update = optim.UPDATE_RULES[rule]
    with pytest.raises(ValueError, match=rf"{rule}: dw has shape \(5,\) but w has shape \(4, 5\)"):
        update(W.copy(), np.ones(5))
    with pytest.raises(TypeError, match=f"{rule}: config must be a dict or None, got list"):
        update(W.copy(), DW, [])


def gradients(steps):
    rng = np.random.default_rng(0)
    return [rng.standard_normal((N, D)) for _ in range(steps)]


@pytest.mark.parametrize("rule", ["sgd_momentum", "rmsprop", "adam"])
def test_many_steps_agree_with_torch_optim(rule):
    torch = pytest.importorskip("torch")
    lr = 1e-2
    p = torch.tensor(W.copy(), requires_grad=True)
    make = {"sgd_momentum": lambda: torch.optim.SGD([p], lr=lr, momentum=0.9),
            "rmsprop": lambda: torch.optim.RMSprop([p], lr=lr, alpha=0.99, eps=1e-8),
            "adam": lambda: torch.optim.Adam([p], lr=lr, betas=(0.9, 0.999), eps=1e-8)}
    reference = make[rule]()
    w, config = W.copy(), {"learning_rate": lr}
    for g in gradients(25):
        w, config = optim.UPDATE_RULES[rule](w, g, config)
        p.grad = torch.tensor(g)
        reference.step()
    assert rel_error(w, p.detach().numpy()) < 1e-10
