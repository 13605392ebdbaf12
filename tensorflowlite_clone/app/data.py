"""Data sets for the examples: digits, spiral, CIFAR-10 and MNIST.

Every loader returns plain NumPy arrays; the ``Dataset`` loaders also split
train / validation / test and subtract the mean image of the training split
(cs231n's preprocessing). Nothing here downloads anything: digits ships with
scikit-learn, spiral is generated, CIFAR-10 and MNIST are read from a folder.

This module uses only NumPy and the standard library (plus scikit-learn for
digits), so it can be used without the rest of the package.
"""

from __future__ import annotations

import codecs
import gzip
import math
import os
import pickle
import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "DataError", "Dataset", "load", "load_digits", "spiral", "load_spiral",
    "load_cifar10", "load_cifar10_dataset", "read_cifar10_batch",
    "load_mnist", "load_mnist_dataset", "read_idx",
]


class DataError(ValueError):
    """A data file is missing or not in the expected format (the message names the file)."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """Train / validation / test splits, preprocessed and ready for a model.

    X arrays are (n, D) in the requested float dtype, y arrays int64 labels.
    ``mean_image`` (shape (D,)) has already been subtracted from every split;
    add it back (and undo ``preprocessing["scale"]``) to recover raw pixels.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    num_classes: int
    image_shape: tuple
    name: str
    preprocessing: dict = field(default_factory=dict)
    mean_image: np.ndarray | None = None

    def __repr__(self):
        return (f"Dataset({self.name!r}, train={self.X_train.shape}, val={self.X_val.shape}, "
                f"test={self.X_test.shape}, classes={self.num_classes}, dtype={self.X_train.dtype})")


# ----------------------------------------------------------------------------- helpers

def _float_dtype(dtype):
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise ValueError(f"dtype must be a floating type such as float32 or float64, got {dtype}")
    return dtype


def _make_dataset(name, splits, *, num_classes, image_shape, dtype, preprocessing):
    """Flatten, cast, and subtract the TRAIN mean image from every split.

    ``splits`` maps "train"/"val"/"test" to (X, y) with X already scaled.
    """
    flat = {k: (np.asarray(X).reshape(len(X), int(np.prod(np.shape(X)[1:]))).astype(dtype, copy=False),
                np.asarray(y, dtype=np.int64)) for k, (X, y) in splits.items()}
    X_train = flat["train"][0]
    if not len(X_train):
        raise DataError(f"{name}: the training split is empty")
    # Accumulate in float64 so a float32 mean over many images stays accurate.
    mean = X_train.mean(axis=0, dtype=np.float64).astype(dtype)
    out = {k: (X - mean, y) for k, (X, y) in flat.items()}  # new arrays: callers' data untouched
    return Dataset(
        X_train=out["train"][0], y_train=out["train"][1],
        X_val=out["val"][0], y_val=out["val"][1],
        X_test=out["test"][0], y_test=out["test"][1],
        num_classes=int(num_classes), image_shape=tuple(image_shape), name=name,
        preprocessing={**preprocessing, "mean_image": "train"}, mean_image=mean,
    )


def _split_sizes(n, val_fraction, test_fraction):
    if not (0 <= val_fraction < 1 and 0 <= test_fraction < 1 and val_fraction + test_fraction < 1):
        raise DataError(f"need 0 <= val_fraction, test_fraction and val_fraction + test_fraction < 1, "
                         f"got {val_fraction} and {test_fraction}")
    return int(round(n * val_fraction)), int(round(n * test_fraction))


def _stratified_split(y, n_val, n_test, seed):
    """Shuffled, stratified (train, val, test) index arrays, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(y))
    # Give each sample its relative position within its own (shuffled) class; sorting by it
    # interleaves the classes, so the first n_test and the next n_val hold them in proportion.
    position = np.empty(len(y))
    for c in np.unique(y):
        members = order[y[order] == c]
        position[members] = (np.arange(len(members)) + 0.5) / len(members)
    order = order[np.argsort(position[order], kind="stable")]
    return order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test]


def _carve_val(Xtr, ytr, Xte, yte, num_val, num_train=None, num_test=None):
    """cs231n's split: the ``num_val`` training images after the first ``num_train`` (default:
    the last ``num_val``) become the validation set; ``num_test`` keeps the first test images."""
    n = len(Xtr)
    num_train = n - num_val if num_train is None else num_train
    if num_val < 0 or num_train < 0 or num_train + num_val > n:
        raise DataError(f"cannot take num_train={num_train} and num_val={num_val} from {n} training images")
    tr, va, te = slice(0, num_train), slice(num_train, num_train + num_val), slice(None, num_test)
    return {"train": (Xtr[tr], ytr[tr]), "val": (Xtr[va], ytr[va]), "test": (Xte[te], yte[te])}


# ----------------------------------------------------------------------------- digits, spiral

def load_digits(val_fraction=0.1, test_fraction=0.1, seed=0, dtype=np.float64):
    """scikit-learn's bundled 8x8 digits (1,797 images, no download), split and preprocessed.

    Pixels are scaled from 0..16 to [0, 1]; the split is shuffled and stratified by class.
    """
    from sklearn.datasets import load_digits as sk_load_digits  # imported late: sklearn is slow to import

    dtype = _float_dtype(dtype)
    X, y = sk_load_digits(return_X_y=True)
    n_val, n_test = _split_sizes(len(y), val_fraction, test_fraction)
    tr, va, te = _stratified_split(y, n_val, n_test, seed)
    scale = 1 / 16
    splits = {k: (X[i] * scale, y[i]) for k, i in (("train", tr), ("val", va), ("test", te))}
    return _make_dataset("digits", splits, num_classes=10, image_shape=(8, 8), dtype=dtype,
                         preprocessing={"scale": scale, "split": "stratified", "seed": seed,
                                        "val_fraction": val_fraction, "test_fraction": test_fraction})


def spiral(n=100, classes=3, seed=0, noise=0.2, dtype=np.float64):
    """cs231n's toy spiral: ``n`` 2-D points per class; not linearly separable.

    Returns ``X`` (n*classes, 2) and ``y`` (n*classes,) int64.
    """
    rng = np.random.default_rng(seed)
    X = np.zeros((n * classes, 2), dtype=_float_dtype(dtype))
    y = np.repeat(np.arange(classes, dtype=np.int64), n)
    radius = np.linspace(0.0, 1.0, n)
    for j in range(classes):
        theta = np.linspace(j * 4, (j + 1) * 4, n) + rng.standard_normal(n) * noise
        X[j * n:(j + 1) * n] = np.c_[radius * np.sin(theta), radius * np.cos(theta)]
    return X, y


def load_spiral(n=100, classes=3, seed=0, noise=0.2, val_fraction=0.1, test_fraction=0.1,
                dtype=np.float64):
    """The spiral as a ``Dataset`` with a reproducible stratified split."""
    dtype = _float_dtype(dtype)
    X, y = spiral(n, classes, seed=seed, noise=noise, dtype=np.float64)
    n_val, n_test = _split_sizes(len(y), val_fraction, test_fraction)
    tr, va, te = _stratified_split(y, n_val, n_test, seed)
    splits = {k: (X[i], y[i]) for k, i in (("train", tr), ("val", va), ("test", te))}
    return _make_dataset("spiral", splits, num_classes=classes, image_shape=(2,), dtype=dtype,
                         preprocessing={"scale": 1.0, "split": "stratified", "seed": seed, "noise": noise,
                                        "val_fraction": val_fraction, "test_fraction": test_fraction})


# ----------------------------------------------------------------------------- CIFAR-10

CIFAR10_FILES = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]


def _latin1_encode(text, encoding="latin1"):
    """What ``_codecs.encode`` does for bytes pickled by Python 3 at protocol 2 - and nothing else."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise pickle.UnpicklingError(f"_codecs.encode is only allowed with latin1, got {encoding!r}")
    return text.encode("latin1")


def _empty_bytes(*args):
    """What ``bytes()`` does for an empty bytes object pickled by Python 3 at protocol 2 - and
    nothing else (``bytes(n)`` could ask for any amount of memory)."""
    if args:
        raise pickle.UnpicklingError("bytes(...) is only allowed without arguments (b'')")
    return b""


def _allowed_globals():
    try:  # NumPy >= 2
        from numpy._core import multiarray, numeric
    except ImportError:  # NumPy 1.x
        from numpy.core import multiarray, numeric
    allowed = {("numpy", "ndarray"): np.ndarray, ("numpy", "dtype"): np.dtype,
               ("_codecs", "encode"): _latin1_encode,
               ("__builtin__", "bytes"): _empty_bytes, ("builtins", "bytes"): _empty_bytes}
    for mod in ("numpy.core", "numpy._core"):  # Python 2 / NumPy 1 files say numpy.core
        allowed[(f"{mod}.multiarray", "_reconstruct")] = multiarray._reconstruct
        allowed[(f"{mod}.numeric", "_frombuffer")] = numeric._frombuffer  # protocol 5
    return allowed


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles only what a CIFAR batch holds: dicts, lists, str/bytes, ints and uint8 arrays.

    A pickle can name any importable callable and call it; looking names up here, in a
    fixed table, means anything else (``os.system``, ``builtins.eval``...) is refused
    before it is ever imported, let alone called.
    """

    _allowed = None

    def find_class(self, module, name):
        if _BatchUnpickler._allowed is None:
            _BatchUnpickler._allowed = _allowed_globals()
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"refusing to load global {module}.{name}: a CIFAR-10 batch only contains NumPy arrays"
            ) from None


def read_cifar10_batch(path):
    """Read one CIFAR-10 python batch safely; returns ``(data uint8 (n, 3072), labels int64 (n,))``."""
    try:
        with open(path, "rb") as f:
            batch = _BatchUnpickler(f, encoding="latin1").load()
    except FileNotFoundError:
        raise DataError(f"CIFAR-10 batch not found: {path}") from None
    except Exception as exc:  # any failure to parse means the file is not a valid batch
        raise DataError(f"{path}: not a readable CIFAR-10 batch ({type(exc).__name__}: {exc})") from exc
    if not isinstance(batch, dict):
        raise DataError(f"{path}: expected a dict, found {type(batch).__name__}")
    # Files re-saved from an encoding="bytes" load have bytes keys.
    batch = {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}
    missing = {"data", "labels"} - batch.keys()
    if missing:
        raise DataError(f"{path}: missing key(s) {sorted(missing)}; found {sorted(map(str, batch))}")
    data = batch["data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3072):
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: 'data' should be a uint8 array of shape (n, 3072), found {desc}")
    try:
        labels = np.asarray(batch["labels"])
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # e.g. a list in itself
        raise DataError(f"{path}: 'labels' should be {len(data)} integers, found a "
                        f"{type(batch['labels']).__name__} that is not ({exc})") from None
    if labels.ndim != 1 or len(labels) != len(data) or (labels.size and labels.dtype.kind not in "iu"):
        raise DataError(f"{path}: 'labels' should be {len(data)} integers, "
                        f"found {labels.dtype} {labels.shape}")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{path}: labels must lie in 0..9, found {labels.min()}..{labels.max()}")
    return data, labels.astype(np.int64)


def _cifar_images(data, dtype):
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1).astype(dtype)  # CHW rows -> NHWC


def load_cifar10(root, dtype=np.float64):
    """The CIFAR-10 python batches in ``root``, as cs231n's ``load_CIFAR10`` returns them.

    Returns ``Xtr`` (50000, 32, 32, 3), ``ytr`` (50000,), ``Xte`` (10000, 32, 32, 3), ``yte``;
    pixels stay 0..255 (as floats of ``dtype``), labels int64.
    """
    dtype = _float_dtype(dtype)
    root = os.path.expanduser(os.fspath(root))
    for name in CIFAR10_FILES:
        if not os.path.isfile(os.path.join(root, name)):
            raise DataError(f"CIFAR-10 batch not found: {os.path.join(root, name)}; expected the "
                            f"'python version' files {', '.join(CIFAR10_FILES)} in {root}")
    parts = [read_cifar10_batch(os.path.join(root, name)) for name in CIFAR10_FILES]
    Xtr = np.concatenate([_cifar_images(d, dtype) for d, _ in parts[:5]])
    ytr = np.concatenate([y for _, y in parts[:5]])
    return Xtr, ytr, _cifar_images(parts[5][0], dtype), parts[5][1]


def load_cifar10_dataset(root, num_val=1000, num_train=None, num_test=None, dtype=np.float64):
    """CIFAR-10 as a ``Dataset``: rows flattened to (n, 3072), train mean image subtracted.

    As in cs231n, validation is the ``num_val`` images after the first ``num_train``
    (default: all but the last ``num_val``); ``num_test`` optionally keeps the first test images.
    """
    dtype = _float_dtype(dtype)
    splits = _carve_val(*load_cifar10(root, dtype), num_val, num_train, num_test)
    return _make_dataset("cifar10", splits, num_classes=10, image_shape=(32, 32, 3), dtype=dtype,
                         preprocessing={"scale": 1.0, "split": "val from end of train",
                                        "source": os.fspath(root)})


# ----------------------------------------------------------------------------- MNIST

MNIST_FILES = {"train_images": "train-images-idx3-ubyte", "train_labels": "train-labels-idx1-ubyte",
               "test_images": "t10k-images-idx3-ubyte", "test_labels": "t10k-labels-idx1-ubyte"}

# IDX type codes (third magic byte); values are stored big-endian.
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_IDX_MAX_DIMS = 32  # NumPy 1.x's limit (2.x allows 64)
_IDX_CHUNK = 16 << 20


def read_idx(path, ndim=None):
    """Read one IDX file (raw, or gzip-compressed if the name ends in .gz) into an array.

    With ``ndim``, a file that declares another number of dimensions is refused before its data
    is read. The header's sizes are checked against the data actually there, in Python ints, and
    the data is read in bounded chunks: a header declaring a huge array allocates nothing.
    """
    path = os.fspath(path)
    try:
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rb") as f:
            return _read_idx(f, path, ndim)
    except FileNotFoundError:
        raise DataError(f"IDX file not found: {path}") from None
    except (OSError, EOFError, zlib.error) as exc:  # corrupt or truncated gzip stream
        raise DataError(f"{path}: cannot read ({type(exc).__name__}: {exc})") from exc


def _read_idx(f, path, ndim):
    magic = f.read(4)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_TYPES:
        raise DataError(f"{path}: not an IDX file (magic bytes {magic.hex(' ') or 'missing'}; "
                        f"expected 00 00 <type code> <ndim>)")
    dtype, rank = np.dtype(_IDX_TYPES[magic[2]]), magic[3]
    if rank > _IDX_MAX_DIMS or (ndim is not None and rank != ndim):
        expected = _IDX_MAX_DIMS if ndim is None else ndim
        raise DataError(f"{path}: the header declares {rank} dimensions, expected "
                        f"{'at most ' if ndim is None else ''}{expected}")
    sizes = f.read(4 * rank)
    if len(sizes) < 4 * rank:
        raise DataError(f"{path}: truncated IDX header ({4 + len(sizes)} bytes, {rank} dimensions "
                        f"declared)")
    dims = struct.unpack(f">{rank}I", sizes)
    nbytes = math.prod(dims) * dtype.itemsize  # Python ints: no overflow
    data = bytearray()
    while len(data) < nbytes:
        chunk = f.read(min(nbytes - len(data), _IDX_CHUNK))
        if not chunk:
            raise DataError(f"{path}: shape {dims} of {dtype.name} needs {nbytes} bytes of data, "
                            f"found {len(data)} (truncated?)")
        data += chunk
    if f.read(1):
        raise DataError(f"{path}: more data than the shape {dims} of {dtype.name} declares "
                        f"({nbytes} bytes)")
    return np.frombuffer(data, dtype).reshape(dims).astype(dtype.newbyteorder("="))


def _find_idx(root, name):
    for candidate in (os.path.join(root, name), os.path.join(root, name + ".gz")):
        if os.path.isfile(candidate):
            return candidate
    raise DataError(f"MNIST file not found: {os.path.join(root, name)}[.gz]; expected "
                    f"{', '.join(MNIST_FILES.values())} (each raw or .gz) in {root}")


def _mnist_pair(root, images_name, labels_name):
    """(images, labels, path of the images)."""
    images_path, labels_path = _find_idx(root, images_name), _find_idx(root, labels_name)
    images, labels = read_idx(images_path, ndim=3), read_idx(labels_path, ndim=1)
    if images.dtype != np.uint8:
        raise DataError(f"{images_path}: expected uint8 images (n, rows, cols), "
                        f"found {images.dtype} {images.shape}")
    if labels.dtype != np.uint8 or len(labels) != len(images):
        raise DataError(f"{labels_path}: expected {len(images)} uint8 labels, "
                        f"found {labels.dtype} {labels.shape}")
    if labels.size and labels.max() > 9:
        raise DataError(f"{labels_path}: labels must lie in 0..9, found max {labels.max()}")
    return images, labels.astype(np.int64), images_path


def load_mnist(root, dtype=np.float64):
    """MNIST from IDX files in ``root``: ``Xtr`` (60000, 28, 28) in [0, 1], ``ytr``, ``Xte``, ``yte``."""
    dtype = _float_dtype(dtype)
    root = os.path.expanduser(os.fspath(root))
    Xtr, ytr, train_path = _mnist_pair(root, MNIST_FILES["train_images"], MNIST_FILES["train_labels"])
    Xte, yte, test_path = _mnist_pair(root, MNIST_FILES["test_images"], MNIST_FILES["test_labels"])
    if Xte.shape[1:] != Xtr.shape[1:]:
        raise DataError(f"{test_path}: images of {Xte.shape[1]}x{Xte.shape[2]} pixels, but the "
                        f"training images ({train_path}) are {Xtr.shape[1]}x{Xtr.shape[2]}")
    scale = dtype.type(1 / 255)
    return Xtr.astype(dtype) * scale, ytr, Xte.astype(dtype) * scale, yte


def load_mnist_dataset(root, num_val=5000, num_train=None, num_test=None, dtype=np.float64):
    """MNIST as a ``Dataset``: rows flattened to (n, 784), validation carved from the end of train."""
    dtype = _float_dtype(dtype)
    splits = _carve_val(*load_mnist(root, dtype), num_val, num_train, num_test)
    return _make_dataset("mnist", splits, num_classes=10, image_shape=splits["train"][0].shape[1:],
                         dtype=dtype,
                         preprocessing={"scale": 1 / 255, "split": "val from end of train",
                                        "source": os.fspath(root)})


# ----------------------------------------------------------------------------- CLI spec

DATA_SPECS = ("digits", "spiral", "cifar10:PATH", "mnist:PATH")


def load(spec, seed=0, dtype=np.float64):
    """Load a data set from a command-line spec: digits, spiral, cifar10:PATH or mnist:PATH.

    ``seed`` drives the shuffled splits of digits and spiral; CIFAR-10 and MNIST use
    their fixed cs231n-style splits.
    """
    try:
        return _load(spec, seed, dtype)
    except MemoryError as exc:  # a real but huge data set, or a file that claims to be one
        raise DataError(f"{spec}: not enough memory to load it ({exc})") from None


def _load(spec, seed, dtype):
    kind, sep, path = str(spec).partition(":")
    if kind == "digits" and not sep:
        return load_digits(seed=seed, dtype=dtype)
    if kind == "spiral" and not sep:
        return load_spiral(seed=seed, dtype=dtype)
    if kind in ("cifar10", "mnist"):
        if not path:
            raise DataError(f"data spec {spec!r} needs a folder ({kind}:PATH); "
                            f"valid choices: {', '.join(DATA_SPECS)}")
        return (load_cifar10_dataset if kind == "cifar10" else load_mnist_dataset)(path, dtype=dtype)
    raise DataError(f"unknown data spec {spec!r}; valid choices: {', '.join(DATA_SPECS)}")
