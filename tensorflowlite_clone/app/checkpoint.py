"""Checkpoints: named arrays plus JSON metadata in one `.npz` file, written atomically.

No pickle anywhere: arrays are stored as plain `.npy` members; the metadata is a JSON string
stored as one more member. Loading reads each member's `.npy` header first and its data only
when asked for, after `check_shapes` has compared the declared shapes with the expected ones:
a crafted header declaring a huge array costs nothing, and members that are not expected are
refused without being read.
"""
import json
import math
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from .files import atomic_write

FORMAT = "tflc-checkpoint"
VERSION = 1
_META_KEY = "__metadata__"
_MAX_METADATA_BYTES = 64 << 20  # the JSON of a real checkpoint is a few kB

# What zipfile and NumPy's .npy header parser raise on a damaged file.
_READ_ERRORS = (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError, NotImplementedError,
                RuntimeError)


class CheckpointError(ValueError):
    """A checkpoint file is missing, corrupt, or does not match what was asked for."""


def save_checkpoint(path, arrays, metadata):
    """Write `arrays` (name -> ndarray) and JSON-able `metadata` to `path` (.npz) atomically:
    the file appears complete under its name, or not at all."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    if _META_KEY in arrays:
        raise ValueError(f"save_checkpoint: {_META_KEY!r} is a reserved name")
    header = {"format": FORMAT, "version": VERSION, **metadata}
    members = {name: np.asarray(value) for name, value in arrays.items()}
    members[_META_KEY] = np.array(json.dumps(header, sort_keys=True))
    return atomic_write(path, lambda f: np.savez(f, **members))


class CheckpointArrays(Mapping):
    """The arrays of a checkpoint by name; each is read from the file when first asked for.

    `declared(name)` gives the (shape, dtype) its header declares without reading the data.
    `kind` is the model kind the metadata names (for messages).
    """

    def __init__(self, path, headers, kind):
        self._path, self._headers, self.kind = path, headers, kind
        self._values = {}

    def declared(self, name):
        shape, _, dtype = self._headers[name]
        return shape, dtype

    def __getitem__(self, name):
        if name not in self._values:
            self._headers[name]  # KeyError for a name the file does not hold
            try:
                with zipfile.ZipFile(self._path) as archive:
                    value = _read_member(self._path, archive, name)
            except CheckpointError:
                raise
            except MemoryError:
                raise CheckpointError(f"{self._path}: not enough memory to read {name} "
                                      f"{self.declared(name)[0]}") from None
            except _READ_ERRORS as error:
                raise CheckpointError(f"{self._path}: not a readable checkpoint (.npz) file: "
                                      f"{name}: {error}") from None
            if (value.shape, value.dtype) != self.declared(name):  # what check_shapes saw
                raise CheckpointError(f"{self._path}: changed while it was being read")
            self._values[name] = value
        return self._values[name]

    def __iter__(self):
        return iter(self._headers)

    def __len__(self):
        return len(self._headers)


def _member_header(path, archive, name, f):
    """Read the .npy header of member `name` from the open member `f`: (shape, fortran, dtype),
    checked against the member's size in the zip directory (sizes as Python ints)."""
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(f)
    elif version == (2, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(f)
    else:
        raise CheckpointError(f"{path}: {name} is a .npy version {version} array; expected 1.0 "
                              f"or 2.0")
    if dtype.hasobject:
        raise CheckpointError(f"{path}: {name} holds Python objects (dtype {dtype}); a checkpoint "
                              f"holds plain numeric arrays")
    nbytes = math.prod(shape) * dtype.itemsize
    stored = archive.getinfo(name + ".npy").file_size - f.tell()
    if nbytes != stored:
        raise CheckpointError(f"{path}: {name} declares shape {shape} of {dtype} ({nbytes} bytes) "
                              f"but holds {stored} bytes of data")
    return shape, fortran, dtype


def _read_member(path, archive, name):
    with archive.open(name + ".npy") as f:
        shape, fortran, dtype = _member_header(path, archive, name, f)
        data = bytearray(f.read(math.prod(shape) * dtype.itemsize))  # writable, like np.load's
        f.read(1)  # reaching the end checks the member's CRC
    return np.frombuffer(data, dtype).reshape(shape, order="F" if fortran else "C")


def load_checkpoint(path, kind=None):
    """Read a checkpoint: `(arrays, metadata)`, `arrays` a `CheckpointArrays` (read lazily).
    Raises CheckpointError naming the file and the problem; with `kind`, also checks that the
    checkpoint holds that kind of model."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file")
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable checkpoint (.npz) file: it is not a zip "
                              "archive (truncated, or another kind of file)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            others = sorted(n for n in names if not n.endswith(".npy"))
            if others:
                raise CheckpointError(f"{path}: unexpected members {others}; a checkpoint holds "
                                      f"only .npy arrays")
            headers = {}
            for name in (member.removesuffix(".npy") for member in names):
                with archive.open(name + ".npy") as f:
                    headers[name] = _member_header(path, archive, name, f)
            if _META_KEY not in headers:
                raise CheckpointError(f"{path}: no metadata; not a tflc checkpoint")
            shape, _, dtype = headers.pop(_META_KEY)
            if shape != () or dtype.kind != "U" or dtype.itemsize > _MAX_METADATA_BYTES:
                raise CheckpointError(f"{path}: metadata should be one JSON string, found "
                                      f"{dtype} {shape}")
            text = str(_read_member(path, archive, _META_KEY)[()])
    except CheckpointError:
        raise
    except _READ_ERRORS as error:
        raise CheckpointError(f"{path}: not a readable checkpoint (.npz) file: {error}") from None
    try:
        metadata = json.loads(text)
    except (ValueError, RecursionError) as error:  # ValueError: JSONDecodeError, huge ints
        raise CheckpointError(f"{path}: metadata is not valid JSON: {error}") from None
    if not isinstance(metadata, dict):
        raise CheckpointError(f"{path}: metadata is not an object")
    if metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tflc checkpoint (format {metadata.get('format')!r})")
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {metadata.get('version')!r} "
                              f"is not supported (expected {VERSION})")
    if not isinstance(metadata.get("metadata", {}), dict):
        raise CheckpointError(f"{path}: metadata['metadata'] should be an object, found "
                              f"{type(metadata['metadata']).__name__}")
    if kind is not None and metadata.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {metadata.get('kind')!r} model, not {kind!r}")
    return CheckpointArrays(path, headers, metadata.get("kind")), metadata


def check_shapes(path, arrays, expected):
    """Raise CheckpointError unless `arrays` has exactly the names in `expected`, with those
    shapes, a float dtype and only finite values. The shapes are checked from the headers
    before any data is read."""
    missing = sorted(set(expected) - set(arrays))
    extra = sorted(set(arrays) - set(expected))
    kind = getattr(arrays, "kind", None)
    if missing and extra:
        raise CheckpointError(f"{path}: its arrays {sorted(arrays)} are not those of a {kind!r} "
                              f"model ({sorted(expected)}): the kind does not match the arrays")
    if missing:
        raise CheckpointError(f"{path}: missing arrays {missing}")
    if extra:
        raise CheckpointError(f"{path}: unexpected arrays {extra}; a {kind!r} checkpoint holds "
                              f"only {sorted(expected)}")
    for name, shape in expected.items():
        declared, dtype = (arrays.declared(name) if isinstance(arrays, CheckpointArrays)
                           else (arrays[name].shape, arrays[name].dtype))
        if declared != tuple(shape):
            raise CheckpointError(f"{path}: {name} has shape {declared}, expected {tuple(shape)}")
        if dtype.kind != "f":
            raise CheckpointError(f"{path}: {name} has dtype {dtype}, expected float")
    for name in expected:
        if not np.isfinite(arrays[name]).all():
            raise CheckpointError(f"{path}: {name} holds NaN or infinite values")


def checked_sizes(path, header, names):
    """The positive integer sizes `names` from a checkpoint header, or CheckpointError."""
    sizes = header.get("sizes")
    values = [sizes.get(name) if isinstance(sizes, dict) else None for name in names]
    if not all(type(v) is int and v > 0 for v in values):
        foreign = sorted(set(sizes) - set(names)) if isinstance(sizes, dict) else []
        mismatch = (f"; {', '.join(foreign)} are not sizes of a {header.get('kind')!r} model: "
                    f"the kind does not match the arrays" if foreign else "")
        raise CheckpointError(f"{path}: metadata sizes {sizes!r} should give positive integers "
                              f"{', '.join(names)}{mismatch}")
    return values
