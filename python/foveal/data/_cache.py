"""Decoded-image caches: each file of a listing decoded once, then served from memory or from a
memory-mapped file.

``ImageCache(n, ...)`` holds one array per listed file (its index in the listing), filled as
the files are first decoded. ``kind="memory"`` keeps them in RAM, bounded by
:func:`memory_limit` (past it, one warning and the remaining images are decoded each epoch
as without a cache). A file cache writes them to a temporary file beside ``path``; once every
entry is filled (or found unreadable) the index is appended and the file renamed to ``path``
(``os.replace``: atomic, so a reader never sees half a cache), then served memory-mapped. A later
run whose ``key`` is equal (the listing's paths, sizes and modification times, the target
size, colour mode and every other setting that changes pixels, and the decoders' versions)
reuses the file without opening an image; any other key rebuilds it.

File layout (little-endian): a 64-byte header (``b"FOVCACHE"``, format version, meta offset
and length, table offset, entry count), the pixel data (each entry 64-byte aligned), a JSON
meta block (the key's hash and a summary), then an ``n x 6`` int64 table: offset, height,
width, channels, dtype code (0 uint8, 1 float32), status (0 missing, 1 present, 2 unreadable).
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import threading
import warnings
import weakref
from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

_MAGIC = b"FOVCACHE"
_VERSION = 1
_HEADER = struct.Struct("<8sQQQQQ")
_HEADER_SIZE = 64
_ALIGN = 64
_DTYPES = (np.dtype(np.uint8), np.dtype(np.float32))
MISSING, PRESENT, UNREADABLE = 0, 1, 2
_WRITING = 3  # in memory only: a thread is writing the entry (others decode it themselves)
# Marks an entry known to be unreadable (get() returns it).
BAD = object()


def memory_limit() -> int:
    """Bytes a memory cache may hold: ``FOVEAL_CACHE_LIMIT_MB`` (megabytes) when set, else
    half the machine's physical memory (4 GiB where that is unknown)."""
    env = os.environ.get("FOVEAL_CACHE_LIMIT_MB")
    if env:
        try:
            return max(0, int(float(env) * 2**20))
        except ValueError:
            raise ValueError(f"FOVEAL_CACHE_LIMIT_MB must be a number of megabytes, got {env!r}") from None
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2)
    except (ValueError, OSError, AttributeError):
        return 4 * 2**30


def listing_key(paths: Sequence[str], names: Sequence[str], settings: Dict[str, Any]) -> str:
    """The hash that decides whether a file cache is still valid: ``names`` (the listing as
    relative names), each file's size and modification time (``os.stat`` of ``paths``; no
    file is opened) and ``settings`` (JSON-serialisable)."""
    h = hashlib.sha256()
    h.update(json.dumps(settings, sort_keys=True).encode())
    for path, name in zip(paths, names):
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"\0{name}\0{stamp}".encode())
    return h.hexdigest()


def cache_kind(cache: Any, name: str = "cache") -> Optional[str]:
    """``None``, ``"memory"`` or a file path from a ``cache=`` argument (TypeError otherwise)."""
    if cache is None or cache is False:
        return None
    if cache == "memory":
        return "memory"
    try:
        path = os.fspath(cache)
    except TypeError:
        raise TypeError(f"{name} must be None, 'memory' or a file path, got {type(cache).__name__}") from None
    if not path:
        raise ValueError(f"{name}: an empty path; pass 'memory' for a memory cache")
    if os.path.isdir(path):
        raise ValueError(f"{name} must be a file path, got the folder {path!r}")
    return path


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


class ImageCache:
    """Decoded images of a listing of ``n`` files (see the module docstring).

    Args:
        n: number of entries (the listing's length).
        path: None for a memory cache, else the cache file.
        key: the listing key (:func:`listing_key`); only used by a file cache.
        summary: a JSON-serialisable description stored in the file (for people).
        verbose: print a line when a file cache is reused, rebuilt or completed.
    """

    def __init__(self, n: int, path: Optional[str] = None, key: str = "",
                 summary: Optional[Dict[str, Any]] = None, verbose: bool = True) -> None:
        self.n = int(n)
        self.path = path
        self.key = key
        self.summary = dict(summary or {})
        self.verbose = verbose
        self.limit = memory_limit() if path is None else None
        self.reused = False
        self._lock = threading.Lock()
        self._items: List[Any] = [None] * self.n
        self._status = np.zeros(self.n, dtype=np.int8)
        self._done = 0
        self._bytes = 0
        self._warned = False
        self._table: Optional[np.ndarray] = None
        self._map: Optional[np.memmap] = None
        self._tmp: Optional[str] = None
        self._fd: Optional[int] = None
        self._end = _HEADER_SIZE
        if path is not None and not self._open_existing():
            self._start_file()

    # -- reading a finished file -----------------------------------------------------------

    def _open_existing(self) -> bool:
        """Map an existing, complete cache file with an equal key (True), else False."""
        if not os.path.isfile(self.path):
            return False
        try:
            mm = np.memmap(self.path, dtype=np.uint8, mode="r")
            magic, version, meta_off, meta_len, table_off, count = _HEADER.unpack(
                bytes(mm[:_HEADER.size]))
            if magic != _MAGIC or version != _VERSION or count != self.n:
                raise ValueError("another format or length")
            meta = json.loads(bytes(mm[meta_off:meta_off + meta_len]).decode())
            if meta.get("key") != self.key:
                raise ValueError("another listing or settings")
            table = np.frombuffer(mm, dtype="<i8", count=6 * count, offset=table_off).reshape(count, 6)
            if not np.all(np.isin(table[:, 5], (PRESENT, UNREADABLE))):
                raise ValueError("incomplete")
        except (ValueError, OSError, struct.error, UnicodeDecodeError) as e:
            if self.verbose:
                print(f"Rebuilding the image cache {self.path!r} ({e}).")
            return False
        self._map, self._table = mm, table
        self._status[:] = table[:, 5]
        self._done = self.n
        self._bytes = int(mm.size)
        self.reused = True
        if self.verbose:
            print(f"Reusing the image cache {self.path!r} ({self.n} images, {_mb(self._bytes)}).")
        return True

    def _entry(self, i: int) -> np.ndarray:
        off, h, w, c, code, _ = (int(v) for v in self._table[i])
        dt = _DTYPES[code]
        return np.ndarray((h, w, c), dtype=dt, buffer=self._map, offset=off)

    # -- building a file --------------------------------------------------------------------

    def _start_file(self) -> None:
        folder = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(folder, exist_ok=True)
        self._tmp = f"{self.path}.tmp-{os.getpid()}-{id(self):x}"
        self._fd = os.open(self._tmp, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
        self._table = np.zeros((self.n, 6), dtype="<i8")
        # Remove the partial file if this cache is dropped before it is complete.
        self._finalizer = weakref.finalize(self, _discard, self._fd, self._tmp)

    # -- the interface --------------------------------------------------------------------

    @property
    def complete(self) -> bool:
        """Whether every entry is filled (or known unreadable)."""
        return self._done >= self.n

    def get(self, i: int) -> Any:
        """Entry ``i``: an ``H x W x C`` array (read-only for a file cache), :data:`BAD` for
        a file known to be unreadable, or None when it is not cached."""
        status = self._status[i]
        if status == MISSING or status == _WRITING:
            return None
        if status == UNREADABLE:
            return BAD
        if self._map is not None:
            return self._entry(i)
        if self.path is None:
            return self._items[i]
        off, h, w, c, code, _ = (int(v) for v in self._table[i])
        dt = _DTYPES[code]
        raw = os.pread(self._fd, h * w * c * dt.itemsize, off)
        return np.frombuffer(raw, dtype=dt).reshape(h, w, c)

    def put(self, i: int, arr: np.ndarray) -> None:
        """Store entry ``i`` (``H x W x C`` uint8 or float32); ignored once it is present."""
        if self._status[i] != MISSING:
            return
        arr = np.ascontiguousarray(arr)
        if arr.dtype not in _DTYPES or arr.ndim != 3:
            return  # other dtypes are decoded each epoch
        if self.path is None:
            with self._lock:
                if self._status[i] != MISSING:
                    return
                if self._bytes + arr.nbytes > self.limit:
                    self._over_limit(arr.nbytes)
                    return
                self._items[i] = arr
                self._bytes += arr.nbytes
                self._status[i] = PRESENT
                self._done += 1
            return
        with self._lock:
            if self._status[i] != MISSING or self._fd is None:
                return
            off = self._end
            self._end = off + -(-arr.nbytes // _ALIGN) * _ALIGN
            self._table[i] = (off, arr.shape[0], arr.shape[1], arr.shape[2],
                              _DTYPES.index(arr.dtype), PRESENT)
            self._status[i] = _WRITING
        os.pwrite(self._fd, arr.tobytes(), off)   # outside the lock: threads write in parallel
        with self._lock:
            self._status[i] = PRESENT
            self._bytes += arr.nbytes
            self._done += 1
            if self.complete:
                self._finish_file()

    def mark_bad(self, i: int) -> None:
        """Record that file ``i`` cannot be read (later runs skip it without opening it)."""
        with self._lock:
            if self._status[i] != MISSING:
                return
            self._status[i] = UNREADABLE
            if self._table is not None and self._map is None:
                self._table[i, 5] = UNREADABLE
            self._done += 1
            if self.path is not None and self.complete and self._fd is not None:
                self._finish_file()

    def _over_limit(self, need: int) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(
                f"the memory image cache reached its limit of {_mb(self.limit)} with "
                f"{int((self._status == PRESENT).sum())} of {self.n} images ({_mb(self._bytes)}); "
                f"the others are decoded every epoch. Set FOVEAL_CACHE_LIMIT_MB to allow more, or "
                f"pass a file path as cache to keep them in a memory-mapped file.", stacklevel=4)

    def _finish_file(self) -> None:
        """Append the meta and table, write the header, rename into place, map it (lock held)."""
        meta = json.dumps({"key": self.key, "summary": self.summary}).encode()
        meta_off = self._end
        table_off = -(-(meta_off + len(meta)) // _ALIGN) * _ALIGN
        os.pwrite(self._fd, meta, meta_off)
        os.pwrite(self._fd, self._table.astype("<i8").tobytes(), table_off)
        os.pwrite(self._fd, _HEADER.pack(_MAGIC, _VERSION, meta_off, len(meta), table_off, self.n)
                  .ljust(_HEADER_SIZE, b"\0"), 0)
        os.fsync(self._fd)
        os.close(self._fd)
        self._fd = None
        self._finalizer.detach()
        os.replace(self._tmp, self.path)
        self._tmp = None
        self._map = np.memmap(self.path, dtype=np.uint8, mode="r")
        self._table = np.frombuffer(self._map, dtype="<i8", count=6 * self.n,
                                    offset=table_off).reshape(self.n, 6)
        if self.verbose:
            print(f"Wrote the image cache {self.path!r} ({self.n} images, {_mb(int(self._map.size))}).")

    def info(self) -> Dict[str, Any]:
        """What the cache holds: ``kind`` ("memory"/"file"), ``path``, ``images`` (entries
        present), ``unreadable``, ``total``, ``bytes`` (pixels held, or the file's size once
        written), ``limit_bytes`` (memory caches), ``complete`` and ``reused`` (a file from an
        earlier run)."""
        return {"kind": "memory" if self.path is None else "file", "path": self.path,
                "images": int((self._status == PRESENT).sum()),
                "unreadable": int((self._status == UNREADABLE).sum()), "total": self.n,
                "bytes": int(self._map.size) if self._map is not None else self._bytes,
                "limit_bytes": self.limit, "complete": self.complete, "reused": self.reused}


def _discard(fd: int, tmp: str) -> None:
    """Close and delete an unfinished cache file."""
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        os.remove(tmp)
    except OSError:
        pass


def read_through_cache(owner: Any, j: int, path: str, decode: Callable[[], np.ndarray], where: str,
                       on_error: str = "skip") -> Optional[np.ndarray]:
    """File ``j`` of ``owner`` (an iterator or dataset with ``_lock``, ``_bad``, ``skipped`` and
    ``_cache``): from its decoded-image cache when held there, else ``decode()`` (then kept in
    the cache, if any). A file that cannot be read is marked in the cache and, with ``on_error``
    "skip", recorded once by :func:`~foveal.data._decode.skip_unreadable` (None is returned);
    with "raise", the error names the file."""
    from ._decode import skip_unreadable, unreadable_error

    with owner._lock:
        if j in owner._bad:
            return None
    cache = owner._cache
    try:
        if cache is not None:
            hit = cache.get(j)
            if hit is BAD:
                raise ValueError("marked unreadable in the image cache")
            if hit is not None:
                return hit
        img = decode()
        if cache is not None:
            cache.put(j, img)
        return img
    except Exception as e:  # noqa: BLE001 - any decoder failure means "unreadable"
        if cache is not None:
            cache.mark_bad(j)
        if on_error == "raise":
            raise unreadable_error(path, e) from e
        return skip_unreadable(owner, j, path, e, where)
