"""Checkpoints of the models: round trips, clear errors for corrupt or mismatched files, and
atomic writes (an interrupted save leaves no file and no temporary behind)."""
import json

import numpy as np
import pytest

from models import Softmax, TwoLayerNet
from tensorflowlite_clone.checkpoint import CheckpointError, save_checkpoint


def make_net(dtype=np.float64, seed=0):
    np.random.seed(seed)
    net = TwoLayerNet(6, 5, 3, std=0.5)
    net.params = {k: (v + 0.1 * np.random.randn(*v.shape)).astype(dtype)
                  for k, v in net.params.items()}
    return net


def make_softmax(dtype=np.float64, seed=0):
    return Softmax(np.random.default_rng(seed).standard_normal((6, 3)).astype(dtype))


X = np.random.default_rng(1).standard_normal((20, 6))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_two_layer_round_trip(tmp_path, dtype):
    net = make_net(dtype)
    metadata = {"hyperparameters": {"lr": 1e-3, "hidden": 5}, "data": {"spec": "digits"}}
    mean = np.linspace(0, 1, 6).astype(dtype)
    path = net.save(tmp_path / "net.npz", metadata=metadata, mean_image=mean)
    assert path == tmp_path / "net.npz"
    loaded = TwoLayerNet.load(path)
    assert set(loaded.params) == set(TwoLayerNet.PARAMS)
    for name, value in net.params.items():
        assert loaded.params[name].dtype == dtype
        np.testing.assert_array_equal(loaded.params[name], value)
    np.testing.assert_array_equal(loaded.predict(X.astype(dtype)), net.predict(X.astype(dtype)))
    np.testing.assert_array_equal(loaded.loss(X), net.loss(X))
    assert loaded.metadata == metadata
    np.testing.assert_array_equal(loaded.mean_image, mean)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_softmax_round_trip(tmp_path, dtype):
    model = make_softmax(dtype)
    loaded = Softmax.load(model.save(tmp_path / "softmax.npz"))
    assert loaded.W.dtype == dtype
    np.testing.assert_array_equal(loaded.W, model.W)
    np.testing.assert_array_equal(loaded.predict(X.astype(dtype)), model.predict(X.astype(dtype)))
    assert loaded.metadata == {} and loaded.mean_image is None


def test_loaded_model_keeps_training(tmp_path):
    net = TwoLayerNet.load(make_net().save(tmp_path / "net.npz"))
    y = np.arange(20) % 3
    before = net.loss(X, y)[0]
    net.train(X, y, X, y, learning_rate=0.1, num_iters=20, batch_size=20)  # updates in place
    assert net.loss(X, y)[0] < before


def test_suffix_added_and_no_pickle(tmp_path):
    path = make_net().save(tmp_path / "net", metadata={"note": "x"})
    assert path.name == "net.npz" and path.is_file()
    with np.load(path, allow_pickle=False) as npz:  # every member loads without pickle
        members = {name: npz[name] for name in npz.files}
    header = json.loads(str(members["__metadata__"]))
    assert header["kind"] == "two-layer"
    assert header["sizes"] == {"input_size": 6, "hidden_size": 5, "output_size": 3}
    assert header["metadata"] == {"note": "x"}


# --- corrupt and mismatched files ---------------------------------------------------------------
def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such checkpoint file"):
        TwoLayerNet.load(tmp_path / "absent.npz")


def test_truncated_file(tmp_path):
    path = make_net().save(tmp_path / "net.npz")
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"net\.npz: not a readable checkpoint"):
        TwoLayerNet.load(path)


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.npz"
    path.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match=r"noise\.npz: not a readable checkpoint"):
        Softmax.load(path)


def test_wrong_kind(tmp_path):
    path = make_softmax().save(tmp_path / "softmax.npz")
    with pytest.raises(CheckpointError, match="holds a 'softmax' model, not 'two-layer'"):
        TwoLayerNet.load(path)
    with pytest.raises(CheckpointError, match="holds a 'two-layer' model, not 'softmax'"):
        Softmax.load(make_net().save(tmp_path / "net.npz"))


def test_plain_npz_without_metadata(tmp_path):
    path = tmp_path / "plain.npz"
    np.savez(path, **make_net().params)
    with pytest.raises(CheckpointError, match="no metadata; not a tflc checkpoint"):
        TwoLayerNet.load(path)


def handmade(tmp_path, arrays, sizes, kind="two-layer"):
    """A checkpoint written around the models' `save`, with whatever arrays and sizes."""
    return save_checkpoint(tmp_path / "handmade.npz", arrays,
                           {"kind": kind, "sizes": sizes, "metadata": {}})


SIZES = {"input_size": 6, "hidden_size": 5, "output_size": 3}


def test_wrong_shape(tmp_path):
    params = dict(make_net().params, W2=np.zeros((5, 4)))
    with pytest.raises(CheckpointError, match=r"W2 has shape \(5, 4\), expected \(5, 3\)"):
        TwoLayerNet.load(handmade(tmp_path, params, SIZES))


def test_shapes_disagree_with_sizes(tmp_path):
    with pytest.raises(CheckpointError, match=r"W1 has shape \(6, 5\), expected \(6, 7\)"):
        TwoLayerNet.load(handmade(tmp_path, make_net().params, dict(SIZES, hidden_size=7)))


def test_wrong_mean_image_shape(tmp_path):
    arrays = dict(make_net().params, mean_image=np.zeros(7))
    with pytest.raises(CheckpointError, match=r"mean_image has shape \(7,\), expected \(6,\)"):
        TwoLayerNet.load(handmade(tmp_path, arrays, SIZES))


def test_missing_array(tmp_path):
    params = {k: v for k, v in make_net().params.items() if k != "b1"}
    with pytest.raises(CheckpointError, match=r"missing arrays \['b1'\]"):
        TwoLayerNet.load(handmade(tmp_path, params, SIZES))


def test_non_float_array(tmp_path):
    params = dict(make_net().params, b2=np.zeros(3, dtype=np.int64))
    with pytest.raises(CheckpointError, match="b2 has dtype int64, expected float"):
        TwoLayerNet.load(handmade(tmp_path, params, SIZES))


@pytest.mark.parametrize("sizes", [None, {"input_size": 6}, {"input_size": 6, "num_classes": -3},
                                   {"input_size": "6", "num_classes": 3}])
def test_bad_sizes(tmp_path, sizes):
    with pytest.raises(CheckpointError, match="metadata sizes .* should give positive integers"):
        Softmax.load(handmade(tmp_path, {"W": np.zeros((6, 3))}, sizes, kind="softmax"))


def test_unsupported_version(tmp_path):
    path = make_softmax().save(tmp_path / "softmax.npz")
    with np.load(path) as npz:
        header = json.loads(str(npz["__metadata__"]))
    header["version"] = 99
    np.savez(path, W=make_softmax().W, __metadata__=np.array(json.dumps(header)))
    with pytest.raises(CheckpointError, match="checkpoint version 99 is not supported"):
        Softmax.load(path)


# --- atomic writes --------------------------------------------------------------------------------
def interrupted_savez(file, **arrays):
    file.write(b"PK\x03\x04 half a zip")  # some bytes reach the disk, then the write fails
    raise OSError("disk full")


def test_interrupted_write_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(np, "savez", interrupted_savez)
    with pytest.raises(OSError, match="disk full"):
        make_net().save(tmp_path / "net.npz")
    assert list(tmp_path.iterdir()) == []  # neither the target nor a temporary file


def test_interrupted_overwrite_keeps_old_checkpoint(tmp_path, monkeypatch):
    old = make_net(seed=0)
    path = old.save(tmp_path / "net.npz")
    monkeypatch.setattr(np, "savez", interrupted_savez)
    with pytest.raises(OSError):
        make_net(seed=1).save(path)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["net.npz"]
    np.testing.assert_array_equal(TwoLayerNet.load(path).params["W1"], old.params["W1"])


def test_interrupted_by_keyboard(tmp_path, monkeypatch):
    def interrupt(file, **arrays):
        file.write(b"PK")
        raise KeyboardInterrupt
    monkeypatch.setattr(np, "savez", interrupt)
    with pytest.raises(KeyboardInterrupt):
        make_softmax().save(tmp_path / "softmax.npz")
    assert list(tmp_path.iterdir()) == []


def test_checkpoint_has_ordinary_permissions_and_text_files_are_refused(tmp_path):
    import os
    from tensorflowlite_clone.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    path = save_checkpoint(tmp_path / "m.npz", {"W": np.ones((2, 2))}, {"kind": "softmax"})
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~umask
    text = tmp_path / "metrics.json"
    text.write_text('{"a": 1}')
    with pytest.raises(CheckpointError, match="not a zip archive"):
        load_checkpoint(text)
