"""Atomic file writes, for everything the application writes: checkpoints, metrics, pictures.

A leaf module (the standard library only), so that `viz` and `checkpoint` can both use it.
"""
import contextlib
import os
import tempfile
from pathlib import Path


def atomic_write(path, write):
    """Call `write(file)` on a temporary file beside `path` (opened "wb"), then rename it to
    `path`: the file appears complete under its name, or not at all, and no temporary file is
    left behind, whatever stops the write (an error, a full disk, Ctrl-C). Returns the Path."""
    path = Path(path)
    if path.is_dir():  # name the real target, not the temporary file
        raise IsADirectoryError(21, "Is a directory", str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)  # mkstemp makes the file private; give it the usual permissions
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path
