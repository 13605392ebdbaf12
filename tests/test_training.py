"""The one training loop, `tensorflowlite_clone.app.training.fit`, behind `TwoLayerNet.train`,
`Softmax.train` and `tflc train`: each keeps the random draws and histories of the loop of its
own it replaced, bit for bit."""
import contextlib
import io
import json

import numpy as np
import pytest

from models import Softmax, TwoLayerNet
from tensorflowlite_clone.app.cli import main
from tensorflowlite_clone.app.training import fit
from tensorflowlite_clone.optim import SGD, Adam

# The expected values below were computed by running the three separate loops of commit
# dd6f026 (before issue 13 merged them) with exactly the calls in these tests; compared with ==.
TWO_LAYER_SGD = {
    "loss_history": [1.0866121769780015, 1.0788665378053288, 1.1012887391881407,
                     1.0819171856475027, 1.1077371416881252, 1.0971168837022336,
                     1.1003959834190025, 1.102738332994869, 1.1011691001859507,
                     1.070857551752323, 1.095321142145869, 1.0832213135986022],
    "train_acc_history": [0.6, 0.3, 0.5],
    "val_acc_history": [0.4, 0.4, 0.3],
}
TWO_LAYER_ADAM = {
    "loss_history": [1.0919594446637106, 1.086323652799825, 1.0636043889078008,
                     1.0809917436516725, 1.0731334926049654, 1.1265893530755586,
                     1.0785742230916213, 1.1057549784096958, 1.067444846890037],
    "train_acc_history": [0.5333333333333333, 0.4666666666666667, 0.3333333333333333,
                          0.4666666666666667, 0.4666666666666667],
    "val_acc_history": [0.3, 0.4, 0.3, 0.2, 0.2],
}
SOFTMAX = [1.099209704422084, 1.1064113657398353, 1.0574602617633138, 1.0894542367225653,
           0.8779134259579666, 1.0677562095726878, 1.0428743547058366, 1.0545293183543312,
           1.0377059496300804, 0.8892883353426125, 1.0522571499619997, 0.8337186433277312]
SOFTMAX_FLOAT32 = [1.098379135131836, 1.0224697589874268, 1.2614961862564087, 1.092713475227356,
                   0.9102463126182556, 1.1537480354309082]
CLI = {
    "two-layer": {
        "loss_history": [1.164779189826998, 1.2635480787948832, 1.1810227778660063,
                         1.1659951883134665, 1.1301452385500752, 1.1670865118542122,
                         1.1564524225326125],
        "train_acc_history": [0.3541666666666667, 0.36666666666666664, 0.375, 0.4],
        "val_acc_history": [0.2, 0.23333333333333334, 0.23333333333333334, 0.23333333333333334],
    },
    "softmax": {
        "loss_history": [1.0984010696411133, 1.0981216430664062, 1.097737193107605,
                         1.097533106803894, 1.0970044136047363, 1.0970569849014282,
                         1.0965673923492432],
        "train_acc_history": [0.5458333333333333, 0.5416666666666666, 0.55, 0.5541666666666667],
        "val_acc_history": [0.4666666666666667, 0.43333333333333335, 0.43333333333333335,
                            0.43333333333333335],
    },
}
CLI_OPTIONS = {"two-layer": ["--hidden", "6"],
               "softmax": ["--model", "softmax", "--optimizer", "sgd", "--dtype", "float32"]}


def data(seed, n):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 5)), rng.integers(0, 3, n)


X, y = data(0, 40)
X_VAL, Y_VAL = data(1, 10)


def test_two_layer_net_train_keeps_its_histories_and_verbose_line(capsys):
    np.random.seed(0)
    net = TwoLayerNet(5, 7, 3, std=0.1)
    stats = net.train(X, y, X_VAL, Y_VAL, learning_rate=0.1, learning_rate_decay=0.9, reg=1e-3,
                      num_iters=12, batch_size=10, verbose=True)
    assert stats == TWO_LAYER_SGD
    assert capsys.readouterr().out == "iteration 0 / 12: loss 1.086612\n"


def test_two_layer_net_train_with_its_own_optimizer_decays_that_optimizer():
    np.random.seed(2)
    net = TwoLayerNet(5, 7, 3, std=0.1)
    adam = Adam(1e-2)
    stats = net.train(X, y, X_VAL, Y_VAL, learning_rate_decay=0.5, reg=1e-3, num_iters=9,
                      batch_size=15, optimizer=adam, method="manual")
    assert stats == TWO_LAYER_ADAM
    assert adam.lr == 1e-2 * 0.5 ** 5  # once per epoch of 2 iterations, from the first: 5 times


def test_softmax_train_keeps_its_loss_history(capsys):
    np.random.seed(1)
    # (recorded from the eager tape before the compiled step simplified its adjoint: to rounding)
    assert Softmax().train(X, y, learning_rate=0.5, reg=1e-3, num_iters=12,
                           batch_size=10) == pytest.approx(SOFTMAX, rel=1e-12)
    np.random.seed(3)
    model = Softmax()
    history = model.train(X.astype(np.float32), y, learning_rate=0.5, reg=1e-3, num_iters=6,
                          batch_size=10, verbose=True)
    assert history == pytest.approx(SOFTMAX_FLOAT32, rel=1e-6) and model.W.dtype == np.float32
    assert capsys.readouterr().out == "iteration 0 / 6: loss 1.098379\n"


@pytest.mark.parametrize("model", list(CLI))
def test_tflc_train_keeps_its_histories(tmp_path, model):
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["train", "--data", "spiral", "--iters", "7", "--batch-size", "100",
                     "--lr-decay", "0.9", "--seed", "3", "--quiet", "--out", str(tmp_path),
                     *CLI_OPTIONS[model]]) == 0
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    expected = CLI[model]  # (the losses to rounding, as above)
    assert metrics["loss_history"] == pytest.approx(expected["loss_history"], rel=1e-12)
    assert {key: metrics[key] for key in expected} == {**expected, "loss_history": metrics["loss_history"]}


class Constant:
    """A one-parameter model whose loss is the batch's mean label; it predicts class 0."""

    def __init__(self):
        self.params = {"w": np.zeros(1)}

    def predict(self, X):
        return np.zeros(len(X), dtype=int)


def test_epoch_turns_at_the_start_or_the_end():
    """Epochs of 2 iterations in 5: cs231n's turns after iterations 0, 2, 4; the end's after 1
    and 3, and the accuracies once more after the final iteration."""
    X5, y5 = np.zeros((4, 1)), np.array([0, 0, 1, 1])
    for at_epoch, turns, evaluations in [("start", 3, 3), ("end", 2, 3)]:
        model, optimizer = Constant(), SGD(1.0)
        stats = fit(model, X5, y5, lambda Xb, yb: (float(yb.mean()), {"w": np.ones(1)}),
                    optimizer=optimizer, num_iters=5, batch_size=2, val=(X5, y5), lr_decay=0.5,
                    at_epoch=at_epoch, probe=(X5, y5))
        assert optimizer.lr == 0.5 ** turns and model.params["w"][0] < 0
        assert len(stats["loss_history"]) == 5
        assert stats["train_acc_history"] == stats["val_acc_history"] == [0.5] * evaluations


def test_without_validation_data_no_accuracies_are_recorded():
    stats = fit(Constant(), np.zeros((4, 1)), np.zeros(4, dtype=int),
                lambda Xb, yb: (0.0, {"w": np.zeros(1)}), optimizer=SGD(1.0), num_iters=3,
                batch_size=2)
    assert stats == {"loss_history": [0.0] * 3, "train_acc_history": [], "val_acc_history": []}


def test_an_unknown_epoch_turn_is_refused():
    with pytest.raises(ValueError, match="at_epoch must be one of"):
        fit(Constant(), np.zeros((4, 1)), np.zeros(4, dtype=int), None, optimizer=SGD(1.0),
            num_iters=1, batch_size=2, at_epoch="middle")
