"""The feature cache of :class:`~foveal.transfer.OnnxBackboneLayer` (``foveal.transfer._cache``).

Training a head on a frozen backbone sees the same images every epoch; unless they are
augmented, their features do not change. The cache keys each image by a hash of its bytes
(SHA-1 of the float32 pixels, about 2 GB/s, small next to any backbone) and runs the backbone
only on images it has not seen, so over several epochs each image goes through the backbone
once. An augmented image hashes differently and simply misses; the cache is a bounded LRU
(``cache_mb``), so augmented data cannot grow it without limit.
"""

from __future__ import annotations

import collections
import hashlib
import threading
from typing import Any, Callable, Dict, List, NamedTuple

import numpy as np

#: Bytes counted per cached entry besides the feature row (key, dict slot, array header).
_ENTRY_OVERHEAD = 200


class CacheInfo(NamedTuple):
    """``hits``: images served from the cache; ``misses``: images run through the backbone;
    ``maxsize``: entries the cache holds at most; ``currsize``: entries it holds now."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


def capacity(cache_mb: float, feature_dim: int) -> int:
    """How many rows of ``feature_dim`` float32 features fit in ``cache_mb`` MiB."""
    return int(cache_mb * 2**20 // (4 * feature_dim + _ENTRY_OVERHEAD))


class FeatureCache:
    """A thread-safe LRU of feature rows keyed by image content; each call says how many rows
    it may hold (0: none, every image is extracted)."""

    def __init__(self) -> None:
        self._cache: "collections.OrderedDict[Any, np.ndarray]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    def features(self, x: np.ndarray, capacity: int, feature_dim: int,
                 extract: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        """Features (``N x feature_dim``) of the images ``x``: cached rows where the same image
        was seen before, ``extract`` on the rest (once per distinct image of the batch); then at
        most ``capacity`` rows stay cached, the least recently used leaving first."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if capacity == 0:
            with self._lock:
                self._misses += len(x)
            return extract(x)
        keys = [(row.shape, hashlib.sha1(row, usedforsecurity=False).digest()) for row in x]
        out = np.empty((len(x), feature_dim), np.float32)
        missing: Dict[Any, List[int]] = {}
        with self._lock:
            for i, key in enumerate(keys):
                row = self._cache.get(key)
                if row is None:
                    missing.setdefault(key, []).append(i)
                else:
                    self._cache.move_to_end(key)
                    out[i] = row
            self._hits += len(x) - len(missing)   # a repeat within the batch counts as a hit
            self._misses += len(missing)
        if missing:
            fresh = extract(x[[rows[0] for rows in missing.values()]])
            with self._lock:
                for (key, rows), row in zip(missing.items(), fresh):
                    out[rows] = row
                    self._cache[key] = row.copy()
                while len(self._cache) > capacity:
                    self._cache.popitem(last=False)
        return out

    def info(self, capacity: int) -> CacheInfo:
        """Statistics since creation or :meth:`clear` (``capacity`` as ``maxsize``)."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, capacity, len(self._cache))

    def clear(self) -> None:
        """Drop every cached feature and reset the statistics."""
        with self._lock:
            self._cache.clear()
            self._hits = self._misses = 0
