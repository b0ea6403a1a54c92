"""Writing files atomically: the file appears complete, with the usual permissions, or not at
all (a crash or an error leaves the previous file, if any, untouched)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator


def _umask() -> int:
    """The process's umask: read from /proc where there is one (setting and restoring it would
    briefly give other threads a umask of 0), else by the set-and-restore dance."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str, what: str = "path", suffix: str = ".tmp") -> Iterator[str]:
    """A temporary file path next to ``path`` for the block to write; when the block succeeds
    the file is synced, given the permissions a plain ``open`` would (``0o666 & ~umask``; a
    temporary file starts at 0o600) and renamed onto ``path``; otherwise it is removed.

    Raises FileNotFoundError (naming ``what``) when ``path``'s folder does not exist.
    """
    path = os.path.abspath(os.fspath(path))
    folder = os.path.dirname(path)
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: folder {folder!r} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp_", suffix=suffix)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
