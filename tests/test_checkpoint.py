"""Checkpoints of the models: round trips, clear errors for corrupt or mismatched files, and
atomic writes (an interrupted save leaves no file and no temporary behind)."""
import io
import json
import zipfile

import numpy as np
import pytest

from models import Softmax, TwoLayerNet
from tensorflowlite_clone.app import checkpoint
from tensorflowlite_clone.app.checkpoint import CheckpointError, save_checkpoint


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

    from tensorflowlite_clone.app.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
    path = save_checkpoint(tmp_path / "m.npz", {"W": np.ones((2, 2))}, {"kind": "softmax"})
    umask = os.umask(0)
    os.umask(umask)
    assert (path.stat().st_mode & 0o777) == 0o666 & ~umask
    text = tmp_path / "metrics.json"
    text.write_text('{"a": 1}')
    with pytest.raises(CheckpointError, match="not a zip archive"):
        load_checkpoint(text)


# --- bad input (issue 11): headers first, only the expected members, finite values ---------------
def npy_header(shape, descr="<f8"):
    """A .npy header alone: it declares `shape` of `descr`, with no data behind it."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": descr, "fortran_order": False,
                                                  "shape": shape})
    return buffer.getvalue()


def with_member(path, name, content):
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, content)
    return path


def test_a_header_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    # 10**14 float64 (800 TB): allocating it first, as np.load does, is a MemoryError
    path = with_member(make_net().save(tmp_path / "bomb.npz"), "bomb.npy", npy_header((10**14,)))
    with pytest.raises(CheckpointError, match=r"bomb declares shape \(100000000000000,\) of "
                                              r"float64 \(800000000000000 bytes\) but holds 0"):
        TwoLayerNet.load(path)


def test_unexpected_members_are_refused_unread(tmp_path, monkeypatch):
    path = with_member(make_net().save(tmp_path / "extra.npz"), "extra.npy",
                       npy_header((2,)) + np.zeros(2).tobytes())
    read = []
    real_read = checkpoint._read_member
    monkeypatch.setattr(checkpoint, "_read_member",
                        lambda path, archive, name: read.append(name) or real_read(path, archive, name))
    with pytest.raises(CheckpointError, match=r"extra\.npz: unexpected arrays \['extra'\]; a "
                                              r"'two-layer' checkpoint holds only"):
        TwoLayerNet.load(path)
    assert "extra" not in read
    text = with_member(make_net().save(tmp_path / "text.npz"), "notes.txt", "hello")
    with pytest.raises(CheckpointError, match=r"unexpected members \['notes.txt'\]"):
        TwoLayerNet.load(text)


@pytest.mark.parametrize("name, value", [("W1", np.nan), ("b2", np.inf), ("mean_image", np.nan)])
def test_non_finite_values_are_refused(tmp_path, name, value):
    arrays = dict(make_net().params, mean_image=np.zeros(6))
    arrays[name] = arrays[name].copy()
    arrays[name].flat[0] = value
    with pytest.raises(CheckpointError, match=f"{name} holds NaN or infinite values"):
        TwoLayerNet.load(handmade(tmp_path, arrays, SIZES))


def test_a_kind_that_does_not_match_the_arrays_is_named(tmp_path):
    two_layer = make_net().params
    with pytest.raises(CheckpointError, match="hidden_size, output_size are not sizes of a "
                                              "'softmax' model: the kind does not match"):
        Softmax.load(handmade(tmp_path, two_layer, SIZES, kind="softmax"))
    with pytest.raises(CheckpointError, match=r"arrays \['W1', 'W2', 'b1', 'b2'\] are not those "
                                              r"of a 'softmax' model \(\['W'\]\): the kind does "
                                              r"not match the arrays"):
        Softmax.load(handmade(tmp_path, two_layer, {"input_size": 6, "num_classes": 3},
                              kind="softmax"))


def test_a_directory_is_not_a_checkpoint(tmp_path):
    with pytest.raises(CheckpointError, match="is a directory, not a checkpoint file"):
        TwoLayerNet.load(tmp_path)


def raw_metadata(tmp_path, text):
    path = tmp_path / "raw.npz"
    np.savez(path, W=np.zeros((6, 3)), __metadata__=np.array(text))
    return path


@pytest.mark.parametrize("text, message", [
    (json.dumps({"format": "tflc-checkpoint", "version": 1, "kind": "softmax",
                 "sizes": {"input_size": 6, "num_classes": 3}, "metadata": "str"}),
     r"metadata\['metadata'\] should be an object, found str"),
    ("[" * 100_000 + "]" * 100_000, "metadata is not valid JSON"),  # nesting: RecursionError
    ("1" * 5000, "metadata is not valid JSON"),                     # int too long to convert
])
def test_odd_but_valid_json_metadata_is_a_checkpoint_error(tmp_path, text, message):
    with pytest.raises(CheckpointError, match=message):
        Softmax.load(raw_metadata(tmp_path, text))


def test_a_damaged_member_fails_its_crc(tmp_path):
    path = make_net().save(tmp_path / "net.npz")
    blob = bytearray(path.read_bytes())
    at = blob.index(np.ascontiguousarray(make_net().params["W2"]).tobytes()[:8])
    blob[at] ^= 0xFF  # one byte of W2's data (np.savez stores members uncompressed)
    path.write_bytes(bytes(blob))
    with pytest.raises(CheckpointError, match="net.npz: not a readable checkpoint.*W2"):
        TwoLayerNet.load(path)
