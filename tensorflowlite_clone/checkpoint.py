"""Checkpoints: named arrays plus JSON metadata in one `.npz` file, written atomically.

No pickle anywhere: arrays are stored as plain `.npy` members and loaded with
`allow_pickle=False`; the metadata is a JSON string stored as one more member.
"""
import json
import os
import tempfile
import zipfile
from pathlib import Path

import numpy as np

FORMAT = "tflc-checkpoint"
VERSION = 1
_META_KEY = "__metadata__"


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
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **members)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
    return path


def load_checkpoint(path, kind=None):
    """Read a checkpoint: `(arrays, metadata)`. Raises CheckpointError naming the file and the
    problem; with `kind`, also checks that the checkpoint holds that kind of model."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a readable checkpoint (.npz) file: it is not a zip archive (truncated, or another kind of file)")
    try:
        with np.load(path, allow_pickle=False) as npz:
            members = {name: npz[name] for name in npz.files}
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, KeyError) as error:
        raise CheckpointError(f"{path}: not a readable checkpoint (.npz) file: {error}") from None
    if _META_KEY not in members:
        raise CheckpointError(f"{path}: no metadata; not a tflc checkpoint")
    try:
        metadata = json.loads(str(members.pop(_META_KEY)))
    except json.JSONDecodeError as error:
        raise CheckpointError(f"{path}: metadata is not valid JSON: {error}") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a tflc checkpoint (format {metadata.get('format')!r})"
                              if isinstance(metadata, dict) else f"{path}: metadata is not an object")
    if metadata.get("version") != VERSION:
        raise CheckpointError(f"{path}: checkpoint version {metadata.get('version')!r} "
                              f"is not supported (expected {VERSION})")
    if kind is not None and metadata.get("kind") != kind:
        raise CheckpointError(f"{path}: holds a {metadata.get('kind')!r} model, not {kind!r}")
    return members, metadata


def check_shapes(path, arrays, expected):
    """Raise CheckpointError unless `arrays` has exactly the names and shapes in `expected`."""
    missing = sorted(set(expected) - set(arrays))
    if missing:
        raise CheckpointError(f"{path}: missing arrays {missing}")
    for name, shape in expected.items():
        if arrays[name].shape != tuple(shape):
            raise CheckpointError(f"{path}: {name} has shape {arrays[name].shape}, "
                                  f"expected {tuple(shape)}")
        if arrays[name].dtype.kind != "f":
            raise CheckpointError(f"{path}: {name} has dtype {arrays[name].dtype}, expected float")


def checked_sizes(path, header, names):
    """The positive integer sizes `names` from a checkpoint header, or CheckpointError."""
    sizes = header.get("sizes")
    values = [sizes.get(name) if isinstance(sizes, dict) else None for name in names]
    if not all(type(v) is int and v > 0 for v in values):
        raise CheckpointError(f"{path}: metadata sizes {sizes!r} should give positive integers "
                              f"{', '.join(names)}")
    return values
