"""Tests for tensorflowlite_clone.app.data: digits, spiral, CIFAR-10 (real file format) and MNIST."""

import gzip
import io
import json
import os
import pickle
import pickletools
import struct

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tensorflowlite_clone.app import data
from tensorflowlite_clone.app.data import DataError

# ----------------------------------------------------------------------------- digits, spiral

def test_digits_split_sizes_shapes_and_dtypes():
    d = data.load_digits()
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (1437, 180, 180)
    for X, y in [(d.X_train, d.y_train), (d.X_val, d.y_val), (d.X_test, d.y_test)]:
        assert X.shape == (len(y), 64) and X.dtype == np.float64 and y.dtype == np.int64
    assert d.num_classes == 10 and d.image_shape == (8, 8) and d.name == "digits"
    assert d.mean_image.shape == (64,)
    json.dumps(d.preprocessing)  # must be JSON-serialisable
    # Stratified: every class is represented about equally in the held-out splits.
    assert np.bincount(d.y_test, minlength=10).min() >= 16
    assert np.bincount(d.y_val, minlength=10).min() >= 16


def test_digits_is_reproducible_and_seed_dependent():
    a, b, c = data.load_digits(seed=3), data.load_digits(seed=3), data.load_digits(seed=4)
    assert np.array_equal(a.X_train, b.X_train) and np.array_equal(a.y_test, b.y_test)
    assert not np.array_equal(a.y_train, c.y_train)


def test_digits_preprocessing_is_scale_then_train_mean():
    from sklearn.datasets import load_digits as sk_load_digits

    d = data.load_digits()
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    assert abs(d.X_val.mean()) > 1e-6  # val/test use the train mean, not their own
    # Undoing the preprocessing gives back exactly the original pixels, and the three
    # splits together are a partition of the whole data set.
    raw = np.concatenate([d.X_train, d.X_val, d.X_test]) + d.mean_image
    raw = raw * 16
    np.testing.assert_allclose(raw, np.round(raw), atol=1e-9)
    X_all, _ = sk_load_digits(return_X_y=True)
    sort_rows = lambda A: A[np.lexsort(A.T[::-1])]
    np.testing.assert_array_equal(sort_rows(np.round(raw)), sort_rows(X_all))


def test_digits_float32():
    d = data.load_digits(dtype=np.float32)
    assert {d.X_train.dtype, d.X_val.dtype, d.X_test.dtype, d.mean_image.dtype} == {np.dtype(np.float32)}
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-5)


def test_bad_fractions_and_dtype():
    with pytest.raises(ValueError):
        data.load_digits(val_fraction=0.6, test_fraction=0.5)
    with pytest.raises(ValueError, match="floating"):
        data.load_digits(dtype=np.int32)


def test_spiral():
    X, y = data.spiral(n=50, classes=4, seed=1)
    assert X.shape == (200, 2) and y.shape == (200,) and y.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(y), [50] * 4)
    assert np.all(np.linalg.norm(X, axis=1) <= 1 + 1e-12)
    X2, _ = data.spiral(n=50, classes=4, seed=1)
    np.testing.assert_array_equal(X, X2)
    assert data.spiral(dtype=np.float32)[0].dtype == np.float32


def test_load_spiral_dataset():
    d = data.load_spiral(n=100, classes=3, seed=0)
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (240, 30, 30)
    assert d.X_train.shape == (240, 2) and d.num_classes == 3
    assert np.array_equal(data.load_spiral(seed=0).X_val, d.X_val)


# ----------------------------------------------------------------------------- CIFAR-10 files

def py2_pickle(obj):
    """Serialise ``obj`` the way Python 2's ``cPickle.dump(obj, f, 2)`` does.

    The real CIFAR-10 batches were written that way: str is a byte string
    (SHORT_BINSTRING/BINSTRING, not BINUNICODE), and NumPy arrays reduce to
    ``numpy.core.multiarray._reconstruct`` with the pixels as one raw str.
    Python 3's pickler cannot produce this, so the opcodes are written by hand.
    """
    out, memo = [b"\x80\x02"], iter(range(1, 1 << 30))

    def put():  # cPickle memoises every object; BINPUT / LONG_BINPUT
        i = next(memo)
        out.append(b"q" + bytes([i]) if i < 256 else b"r" + struct.pack("<I", i))

    def glob(module, name):
        out.append(b"c" + module.encode() + b"\n" + name.encode() + b"\n")
        put()

    def dump(x):
        if x is None:
            out.append(b"N")
        elif isinstance(x, bool):
            out.append(b"\x88" if x else b"\x89")
        elif isinstance(x, int):
            if 0 <= x < 256:
                out.append(b"K" + bytes([x]))
            elif 0 <= x < 65536:
                out.append(b"M" + struct.pack("<H", x))
            else:
                out.append(b"J" + struct.pack("<i", x))
        elif isinstance(x, (str, bytes)):  # a Python 2 str is bytes
            b = x.encode("latin1") if isinstance(x, str) else x
            out.append(b"U" + bytes([len(b)]) + b if len(b) < 256 else b"T" + struct.pack("<I", len(b)) + b)
            put()
        elif isinstance(x, tuple):
            if 1 <= len(x) <= 3:
                for item in x:
                    dump(item)
                out.append(b"\x85\x86\x87"[len(x) - 1:len(x)])
            else:
                out.append(b"(")
                for item in x:
                    dump(item)
                out.append(b"t")
            put()
        elif isinstance(x, list):
            out.append(b"]")
            put()
            if x:
                out.append(b"(")
                for item in x:
                    dump(item)
                out.append(b"e")
        elif isinstance(x, dict):
            out.append(b"}")
            put()
            out.append(b"(")
            for k, v in x.items():
                dump(k)
                dump(v)
            out.append(b"u")
        elif isinstance(x, np.dtype):  # numpy 1.x: dtype('u1', 0, 1) + version-3 state
            glob("numpy", "dtype")
            dump(("u1", 0, 1))
            out.append(b"R")
            put()
            dump((3, "|", None, None, None, -1, -1, 0))
            out.append(b"b")
        elif isinstance(x, np.ndarray):
            assert x.dtype == np.uint8
            glob("numpy.core.multiarray", "_reconstruct")
            glob("numpy", "ndarray")
            dump((0,))
            dump(b"b")
            out.append(b"\x87")  # args: (ndarray, (0,), 'b')
            put()
            out.append(b"R")
            put()
            dump((1, x.shape, x.dtype, False, x.tobytes()))  # state: version, shape, dtype, fortran, raw
            out.append(b"b")
        else:
            raise TypeError(type(x))

    dump(obj)
    return b"".join(out) + b"."


def make_batch(rng, n, label="training batch"):
    return {"batch_label": label,
            "labels": [int(v) for v in rng.integers(0, 10, n)],
            "data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
            "filenames": [f"img_{i}.png" for i in range(n)]}


def write_cifar(root, per_batch=6, n_test=4, seed=0):
    """Write a tiny CIFAR-10 folder, each batch in a different real-world pickle flavour."""
    rng = np.random.default_rng(seed)
    batches = [make_batch(rng, per_batch) for _ in range(5)] + [make_batch(rng, n_test, "testing batch")]
    bytes_keys = {k.encode(): v for k, v in batches[4].items()}  # as re-saved after encoding="bytes"
    blobs = [py2_pickle(batches[0]),                      # the real files: Python 2, protocol 2
             pickle.dumps(batches[1], protocol=2),        # Python 3, protocol 2 (_codecs.encode)
             pickle.dumps(batches[2], protocol=4),
             pickle.dumps(batches[3], protocol=5),        # numpy's _frombuffer path
             pickle.dumps(bytes_keys, protocol=3),
             py2_pickle(batches[5])]
    for name, blob in zip(data.CIFAR10_FILES, blobs):
        (root / name).write_bytes(blob)
    return batches


def test_py2_pickle_matches_python2_stream():
    blob = py2_pickle(make_batch(np.random.default_rng(0), 3))
    pickletools.dis(blob, out=io.StringIO())  # well-formed
    ops = {op.name for op, _, _ in pickletools.genops(blob)}
    assert b"cnumpy.core.multiarray\n_reconstruct\n" in blob
    assert {"BINSTRING", "SHORT_BINSTRING", "GLOBAL", "REDUCE", "BUILD"} <= ops
    assert not ops & {"BINUNICODE", "SHORT_BINUNICODE", "BINBYTES", "STACK_GLOBAL"}


def test_read_python2_batch(tmp_path):
    batch = make_batch(np.random.default_rng(1), 7)
    path = tmp_path / "data_batch_1"
    path.write_bytes(py2_pickle(batch))
    X, y = data.read_cifar10_batch(path)
    np.testing.assert_array_equal(X, batch["data"])
    np.testing.assert_array_equal(y, batch["labels"])
    assert X.dtype == np.uint8 and y.dtype == np.int64


def test_load_cifar10_round_trip(tmp_path):
    batches = write_cifar(tmp_path)
    Xtr, ytr, Xte, yte = data.load_cifar10(tmp_path)
    assert Xtr.shape == (30, 32, 32, 3) and Xte.shape == (4, 32, 32, 3)
    assert Xtr.dtype == np.float64 and ytr.dtype == np.int64 and ytr.shape == (30,)
    raw_tr = np.concatenate([b["data"] for b in batches[:5]])
    np.testing.assert_array_equal(ytr, sum((b["labels"] for b in batches[:5]), []))
    np.testing.assert_array_equal(yte, batches[5]["labels"])
    np.testing.assert_array_equal(Xtr, raw_tr.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    # Pin the layout: rows are 1024 red, then green, then blue values, each row-major.
    i, r, c, ch = 7, 5, 9, 2
    assert Xtr[i, r, c, ch] == raw_tr[i, ch * 1024 + r * 32 + c]
    np.testing.assert_array_equal(Xte[1], batches[5]["data"][1].reshape(3, 32, 32).transpose(1, 2, 0))


def test_load_cifar10_dataset(tmp_path):
    write_cifar(tmp_path)
    Xtr, ytr, _, _ = data.load_cifar10(tmp_path)
    d = data.load_cifar10_dataset(tmp_path, num_val=5, dtype=np.float32)
    assert d.X_train.shape == (25, 3072) and d.X_val.shape == (5, 3072) and d.X_test.shape == (4, 3072)
    assert d.X_train.dtype == np.float32 and d.image_shape == (32, 32, 3) and d.num_classes == 10
    np.testing.assert_array_equal(d.y_val, ytr[25:])  # validation = end of the training set
    np.testing.assert_allclose(d.mean_image, Xtr[:25].reshape(25, -1).mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(d.X_val + d.mean_image, Xtr[25:].reshape(5, -1), atol=1e-4)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-4)
    json.dumps(d.preprocessing)


class _Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("func", ["exec", "system"])
def test_unpickler_refuses_code_execution(tmp_path, func):
    write_cifar(tmp_path)
    marker = tmp_path / "pwned"
    code = f"open({str(marker)!r}, 'w').close()"
    payload = _Evil(exec, code) if func == "exec" else _Evil(os.system, f"touch '{marker}'")
    evil = dict(make_batch(np.random.default_rng(0), 6), data=payload)
    blob = pickle.dumps(evil, protocol=2)
    if func == "exec":  # the payload is live: a plain pickle.loads would run it
        pickle.loads(blob)
        assert marker.exists()
        marker.unlink()
    (tmp_path / "data_batch_2").write_bytes(blob)
    with pytest.raises(DataError, match=f"data_batch_2.*refusing.*{func}"):
        data.load_cifar10(tmp_path)
    assert not marker.exists()


def test_cifar_missing_file_names_path_and_expected_files(tmp_path):
    write_cifar(tmp_path)
    (tmp_path / "test_batch").unlink()
    with pytest.raises(DataError) as err:
        data.load_cifar10(tmp_path)
    msg = str(err.value)
    assert str(tmp_path / "test_batch") in msg and "data_batch_1" in msg and "data_batch_5" in msg


@pytest.mark.parametrize("name", ["data_batch_1", "data_batch_3"])  # Python 2 and protocol 4 files
def test_cifar_truncated_file(tmp_path, name):
    write_cifar(tmp_path)
    path = tmp_path / name
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(DataError, match=name):
        data.load_cifar10(tmp_path)


@pytest.mark.parametrize("change, message", [
    (lambda b: [b], "expected a dict"),
    (lambda b: {k: v for k, v in b.items() if k != "labels"}, "missing key"),
    (lambda b: dict(b, data=b["data"][:, :3000]), r"\(n, 3072\)"),
    (lambda b: dict(b, data=b["data"].astype(np.int16)), "uint8"),
    (lambda b: dict(b, labels=b["labels"][:-1]), "labels"),
    (lambda b: dict(b, labels=[10] + b["labels"][1:]), "0..9"),
])
def test_cifar_malformed_batch(tmp_path, change, message):
    write_cifar(tmp_path)
    bad = change(make_batch(np.random.default_rng(0), 6))
    (tmp_path / "data_batch_4").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match=f"data_batch_4.*{message}"):
        data.load_cifar10(tmp_path)


# ----------------------------------------------------------------------------- MNIST files

IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def idx_bytes(arr, code=0x08):
    arr = np.asarray(arr)
    header = bytes([0, 0, code, arr.ndim]) + struct.pack(f">{arr.ndim}I", *arr.shape)
    return header + arr.astype(IDX_TYPES[code]).tobytes()


def write_mnist(root, n_train=12, n_test=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    arrays = {"train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
              "train-labels-idx1-ubyte": rng.integers(0, 10, n_train, dtype=np.uint8),
              "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
              "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test, dtype=np.uint8)}
    for name, arr in arrays.items():
        if gz:
            (root / (name + ".gz")).write_bytes(gzip.compress(idx_bytes(arr)))
        else:
            (root / name).write_bytes(idx_bytes(arr))
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_round_trip(tmp_path, gz):
    arrays = write_mnist(tmp_path, gz=gz)
    Xtr, ytr, Xte, yte = data.load_mnist(tmp_path)
    assert Xtr.shape == (12, 28, 28) and Xte.shape == (5, 28, 28) and ytr.dtype == np.int64
    np.testing.assert_allclose(Xtr, arrays["train-images-idx3-ubyte"] / 255)
    np.testing.assert_array_equal(ytr, arrays["train-labels-idx1-ubyte"])
    np.testing.assert_allclose(Xte, arrays["t10k-images-idx3-ubyte"] / 255)
    np.testing.assert_array_equal(yte, arrays["t10k-labels-idx1-ubyte"])
    assert 0 <= Xtr.min() and Xtr.max() <= 1


def test_load_mnist_dataset(tmp_path):
    arrays = write_mnist(tmp_path)
    d = data.load_mnist_dataset(tmp_path, num_val=2, dtype=np.float32)
    assert d.X_train.shape == (10, 784) and d.X_val.shape == (2, 784) and d.X_test.shape == (5, 784)
    assert d.X_train.dtype == np.float32 and d.image_shape == (28, 28)
    np.testing.assert_array_equal(d.y_val, arrays["train-labels-idx1-ubyte"][10:])
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-6)


@settings(max_examples=40, deadline=None)
@given(code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
       shape=st.lists(st.integers(0, 4), min_size=0, max_size=4), gz=st.booleans(), seed=st.integers(0, 99))
def test_read_idx_round_trip(tmp_path_factory, code, shape, gz, seed):
    arr = np.random.default_rng(seed).integers(0, 100, shape).astype(IDX_TYPES[code])
    blob = idx_bytes(arr, code)
    path = tmp_path_factory.mktemp("idx") / ("a.gz" if gz else "a")
    path.write_bytes(gzip.compress(blob) if gz else blob)
    out = data.read_idx(path)
    assert out.shape == tuple(shape)
    assert out.dtype == arr.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, arr)


def test_idx_bad_magic(tmp_path):
    arrays = write_mnist(tmp_path)
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(b"\x01\x02" + idx_bytes(arrays["train-images-idx3-ubyte"])[2:])
    with pytest.raises(DataError, match="train-images-idx3-ubyte.*not an IDX file"):
        data.load_mnist(tmp_path)


@pytest.mark.parametrize("gz", [False, True])
def test_idx_truncated(tmp_path, gz):
    write_mnist(tmp_path, gz=gz)
    path = tmp_path / ("t10k-images-idx3-ubyte" + (".gz" if gz else ""))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte"):
        data.load_mnist(tmp_path)


def test_mnist_label_count_mismatch(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(11, np.uint8)))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.*12"):
        data.load_mnist(tmp_path)


def test_mnist_missing_file(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.*expected.*train-images-idx3-ubyte"):
        data.load_mnist(tmp_path)


# ----------------------------------------------------------------------------- CLI spec

def test_load_specs(tmp_path):
    assert data.load("digits").name == "digits"
    assert data.load("spiral", seed=2).name == "spiral"
    (tmp_path / "c").mkdir()
    (tmp_path / "m").mkdir()
    write_cifar(tmp_path / "c", per_batch=300)
    write_mnist(tmp_path / "m", n_train=5010)
    assert data.load(f"cifar10:{tmp_path / 'c'}").X_val.shape == (1000, 3072)
    assert data.load(f"mnist:{tmp_path / 'm'}", dtype=np.float32).X_val.dtype == np.float32


@pytest.mark.parametrize("spec", ["nope", "cifar10", "mnist:", "digits:x"])
def test_load_bad_spec(spec):
    with pytest.raises(DataError, match="digits"):
        data.load(spec)


# ----------------------------------------------------------------------------- bad input (issue 11)

def test_cifar_labels_that_contain_themselves(tmp_path):
    write_cifar(tmp_path)
    labels = []
    labels.append(labels)
    bad = dict(make_batch(np.random.default_rng(0), 6), labels=labels)
    (tmp_path / "data_batch_2").write_bytes(pickle.dumps(bad, protocol=2))
    with pytest.raises(DataError, match="data_batch_2: 'labels' should be 6 integers"):
        data.load_cifar10(tmp_path)


def test_cifar_protocol_2_batch_with_an_empty_bytes_object_loads(tmp_path):
    batch = dict(make_batch(np.random.default_rng(0), 3), filenames=[b"", b"b.png", b""])
    blob = pickle.dumps(batch, protocol=2)
    assert b"c__builtin__\nbytes\n" in blob  # how Python 3 pickles b"" at protocol 2: bytes()
    (tmp_path / "data_batch_1").write_bytes(blob)
    X, y = data.read_cifar10_batch(tmp_path / "data_batch_1")
    np.testing.assert_array_equal(X, batch["data"])
    np.testing.assert_array_equal(y, batch["labels"])


def test_cifar_bytes_with_an_argument_is_refused(tmp_path):
    # bytes(10**12) would allocate a terabyte: only bytes() is what a legitimate file holds
    path = tmp_path / "data_batch_1"
    path.write_bytes(b"\x80\x02c__builtin__\nbytes\n\x8a\x06\x00\x10\xa5\xd4\xe8\x00\x85R.")
    with pytest.raises(DataError, match="data_batch_1.*only allowed without arguments"):
        data.read_cifar10_batch(path)


def test_mnist_train_and_test_image_sizes_must_agree(tmp_path):
    write_mnist(tmp_path)
    (tmp_path / "t10k-images-idx3-ubyte").write_bytes(idx_bytes(np.zeros((5, 20, 20), np.uint8)))
    with pytest.raises(DataError, match=r"t10k-images-idx3-ubyte: images of 20x20 pixels, but "
                                        r"the training images .*train-images-idx3-ubyte.* are 28x28"):
        data.load_mnist(tmp_path)


def idx_header(code, dims):
    return bytes([0, 0, code, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("blob, message", [
    (idx_header(0x08, [2] * 255), "declares 255 dimensions, expected 3"),
    (idx_header(0x08, [2] * 4), "declares 4 dimensions, expected 3"),
    (idx_header(0x08, [2**31, 2**31, 4]),  # no data: the size in int64 wraps around to 0
     rf"needs {2**64} bytes of data, found 0"),
    (idx_header(0x08, [2**31] * 3) + bytes(10), rf"needs {2**93} bytes of data, found 10"),
])
def test_mnist_header_problems_name_the_file(tmp_path, gz, blob, message):
    write_mnist(tmp_path)
    name = "train-images-idx3-ubyte"
    (tmp_path / name).unlink()
    (tmp_path / (name + (".gz" if gz else ""))).write_bytes(gzip.compress(blob) if gz else blob)
    with pytest.raises(DataError, match=f"{name}.*{message}"):
        data.load_mnist(tmp_path)


def test_read_idx_refuses_more_dimensions_than_numpy_has(tmp_path):
    (tmp_path / "a").write_bytes(idx_header(0x08, [1] * 40) + b"\x07")
    with pytest.raises(DataError, match="declares 40 dimensions, expected at most 32"):
        data.read_idx(tmp_path / "a")


def test_out_of_memory_while_loading_names_the_data(monkeypatch):
    def huge(*args, **kwargs):
        raise MemoryError("Unable to allocate 11.7 GiB")
    monkeypatch.setattr(data, "load_mnist_dataset", huge)
    with pytest.raises(DataError, match="mnist:somewhere: not enough memory to load it "
                                        r"\(Unable to allocate 11.7 GiB\)"):
        data.load("mnist:somewhere")
