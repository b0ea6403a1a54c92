"""The model file (``foveal.nn._saving``): one zip of JSON and ``.npy`` members, written
atomically and checked on reading. Pure file I/O: which members a model is saved as is
:mod:`foveal.nn._serialization`'s business.

Every file starts with ``metadata.json`` (format name and version, foveal version, kind:
``"model"`` or ``"weights"``) and ends with ``manifest.json`` (the SHA-256 of every other
member). Zip's per-member CRC-32 and the manifest's SHA-256 catch a truncated or altered file,
which is reported as ValueError.  Writing goes to a temporary file in the target directory that
replaces the target only when complete (``os.replace``), so a crash never leaves half a file
behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from typing import Any, Dict, List

import numpy as np

from .._files import atomic_path
from .. import __version__

FORMAT = "foveal.model"
FORMAT_VERSION = 1


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=False).encode("utf-8")


def _metadata(kind: str) -> bytes:
    return _json_bytes({"format": FORMAT, "format_version": FORMAT_VERSION,
                        "foveal_version": __version__, "kind": kind})


def write(filepath: str, kind: str, members: Dict[str, Any], overwrite: bool) -> None:
    """Write a file of ``kind`` holding ``members`` in their order: a name ending in ``.npy``
    takes an array (stored raw: a bit-exact round trip), any other a JSON-serializable value."""
    data = {"metadata.json": _metadata(kind)}
    data.update({name: _npy_bytes(value) if name.endswith(".npy") else _json_bytes(value)
                 for name, value in members.items()})
    _write_atomic(filepath, data, overwrite)


def _write_atomic(filepath: str, members: Dict[str, bytes], overwrite: bool) -> None:
    path = os.path.abspath(os.fspath(filepath))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{filepath} is a directory")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory} does not exist")
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    with atomic_path(path, "filepath") as tmp:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
                zf.writestr("manifest.json", _json_bytes(manifest))


class ModelFile:
    """Every member of a model file, verified (CRC-32 by zipfile, SHA-256 by the manifest).
    FileNotFoundError for a missing file, ValueError for a corrupt one or one of another kind."""

    def __init__(self, filepath: str, kinds: tuple) -> None:
        path = os.fspath(filepath)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such model file: {path}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path} is a directory, not a model file")
        try:
            with zipfile.ZipFile(path, "r") as zf:
                self.members = {name: zf.read(name) for name in zf.namelist()}
            manifest = json.loads(self.members.pop("manifest.json"))
            if set(manifest) != set(self.members):
                raise ValueError("the member list does not match the manifest")
            for name, digest in manifest.items():
                if hashlib.sha256(self.members[name]).hexdigest() != digest:
                    raise ValueError(f"checksum mismatch in {name}")
            self.metadata = self.json("metadata.json")
        except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, UnicodeDecodeError,
                json.JSONDecodeError, ValueError, OSError) as e:
            if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise ValueError(f"{path} is not a valid foveal model file (corrupt or truncated?): "
                             f"{e}") from None
        if self.metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is not a foveal model file (format {self.metadata.get('format')!r})")
        if self.metadata.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer foveal (format version "
                             f"{self.metadata.get('format_version')}); upgrade foveal to read it")
        if self.metadata.get("kind") not in kinds:
            raise ValueError(f"{path} holds {self.metadata.get('kind')!r}, expected "
                             f"{' or '.join(kinds)}")
        self.path = path

    def json(self, name: str) -> Any:
        """The value of the JSON member ``name`` (KeyError when there is none)."""
        return json.loads(self.members[name].decode("utf-8"))

    def array(self, name: str) -> np.ndarray:
        """The array of the ``.npy`` member ``name`` (ValueError when missing or bad)."""
        try:
            return np.lib.format.read_array(io.BytesIO(self.members[name]), allow_pickle=False)
        except (KeyError, ValueError, EOFError) as e:
            raise ValueError(f"{self.path}: bad array member {name}: {e}") from None

    def arrays(self, prefix: str) -> List[np.ndarray]:
        """The arrays of the members whose names start with ``prefix``, in name order."""
        return [self.array(n) for n in sorted(n for n in self.members if n.startswith(prefix))]

