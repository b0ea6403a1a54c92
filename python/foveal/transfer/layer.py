"""``OnnxBackboneLayer``: a frozen :class:`~foveal.transfer.OnnxBackbone` inside a ``foveal.nn``
model, with its features cached per image.

Training a head on a frozen backbone sees the same images every epoch; unless they are
augmented, their features do not change. The layer keys each image by a hash of its bytes
(SHA-1 of the float32 pixels, about 2 GB/s, small next to any backbone) and runs the backbone
only on images it has not seen, so over several epochs each image goes through the backbone
once. An augmented image hashes differently and simply misses; the cache is a bounded LRU
(``cache_mb``), so augmented data cannot grow it without limit.

The layer has no trainable weights and must come first: ``foveal.nn``'s backward plan asks a
layer for its input gradient only when something before it learns, and here nothing does, so
``backward`` is never called. Gradients cannot flow through onnxruntime; placing the layer after
trainable layers makes ``backward`` raise NotImplementedError.

Saving (``model.save``) stores the backbone's constructor arguments, the ONNX file's absolute
path and SHA-256 in the layer config; the ONNX weights stay in their file. Loading rebuilds the
backbone from that path (FileNotFoundError if the file is gone, ValueError if it changed).
A backbone with a callable ``preprocess`` cannot be saved (NotImplementedError).
"""

from __future__ import annotations

import collections
import hashlib
import os
import threading
from typing import Any, Dict, List, NamedTuple, Optional, Union

import numpy as np

from ..nn import layers as _layers
from ..nn.layers import Layer
from .backbone import OnnxBackbone, PathLike, file_sha256

__all__ = ["OnnxBackboneLayer", "CacheInfo"]

#: Bytes counted per cached entry besides the feature row (key, dict slot, array header).
_ENTRY_OVERHEAD = 200


class CacheInfo(NamedTuple):
    """``hits``: images served from the cache; ``misses``: images run through the backbone;
    ``maxsize``: entries the cache holds at most; ``currsize``: entries it holds now."""

    hits: int
    misses: int
    maxsize: int
    currsize: int


class OnnxBackboneLayer(Layer):
    """A frozen ONNX backbone as a layer: ``N x H x W x C`` images (0..255, resized as the
    backbone does) -> ``N x D`` float32 features. Usually made by
    :meth:`OnnxBackbone.as_layer`::

        model = nn.Sequential([nn.Input((224, 224, 3)), backbone.as_layer(),
                               nn.Dense(2, activation="softmax")])

    Args:
        backbone: an :class:`OnnxBackbone`, a path to an ONNX file, or the backbone's
            :meth:`~OnnxBackbone.config` dict.
        cache_mb: memory for cached features, in MiB (0 turns the cache off).
        sha256: the ONNX file's expected SHA-256 (set by ``from_config``; a mismatch is a
            ValueError).
        name, input_shape: as for every layer. ``trainable`` can only be False.
    """

    def __init__(self, backbone: Union[OnnxBackbone, PathLike, Dict[str, Any]],
                 cache_mb: float = 256.0, sha256: Optional[str] = None, **kwargs: Any) -> None:
        if kwargs.pop("trainable", False):
            raise ValueError("OnnxBackboneLayer is frozen: trainable must be False")
        super().__init__(trainable=False, **kwargs)
        self.cache_mb = float(cache_mb)
        if not self.cache_mb >= 0:
            raise ValueError(f"cache_mb must be >= 0, got {cache_mb!r}")
        if not isinstance(backbone, OnnxBackbone):
            config = dict(backbone) if isinstance(backbone, dict) else {"path": backbone}
            if sha256 is not None:   # before loading: a changed file may not even fit the config
                _check_unchanged(config["path"], sha256)
            backbone = OnnxBackbone(**config)
            backbone._sha256 = sha256
        elif sha256 is not None:
            _check_unchanged(backbone.path, sha256)
        self.backbone = backbone
        self._cache: "collections.OrderedDict[Any, np.ndarray]" = collections.OrderedDict()
        self._lock = threading.Lock()
        self._hits = self._misses = 0

    # ---- frozen -------------------------------------------------------------------------
    @property
    def trainable(self) -> bool:
        """Always False: the backbone's weights live in the ONNX file."""
        return False

    @trainable.setter
    def trainable(self, value: bool) -> None:
        if value:
            raise ValueError("OnnxBackboneLayer is frozen (onnxruntime runs inference only); "
                             "its trainable flag cannot be set")

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        """Nothing to learn here: returns None. Raises NotImplementedError when an input
        gradient is asked for (the layer was put after trainable layers)."""
        if need_dx:
            raise NotImplementedError(f"gradients cannot flow through {self.name!r} "
                                      "(OnnxBackboneLayer, run by onnxruntime): put it first, "
                                      "before any layer with trainable weights")
        return None

    # ---- shapes -------------------------------------------------------------------------
    def _check_input_shape(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != 4 or (shape[3] is not None and shape[3] not in (1, 3, 4)):
            raise ValueError(f"layer {self.name!r} (OnnxBackboneLayer) takes N x H x W x C images "
                             f"with C in 1, 3, 4, got shape {shape}")

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        self._check_input_shape(input_shape)
        return (None, self.backbone.feature_dim)

    # ---- forward with the cache ---------------------------------------------------------
    @property
    def _capacity(self) -> int:
        return int(self.cache_mb * 2**20 // (4 * self.backbone.feature_dim + _ENTRY_OVERHEAD))

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        """Features of ``x``: cached rows where the same image was seen before, the backbone
        on the rest (once per distinct image of the batch)."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        capacity = self._capacity
        if capacity == 0:
            with self._lock:
                self._misses += len(x)
            return self.backbone.extract(x, verbose=0)
        keys = [(row.shape, hashlib.sha1(row, usedforsecurity=False).digest()) for row in x]
        out = np.empty((len(x), self.backbone.feature_dim), np.float32)
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
            fresh = self.backbone.extract(x[[rows[0] for rows in missing.values()]], verbose=0)
            with self._lock:
                for (key, rows), row in zip(missing.items(), fresh):
                    out[rows] = row
                    self._cache[key] = row.copy()
                while len(self._cache) > capacity:
                    self._cache.popitem(last=False)
        return out

    def cache_info(self) -> CacheInfo:
        """Cache statistics since creation or :meth:`clear_cache` (as ``functools.lru_cache``)."""
        with self._lock:
            return CacheInfo(self._hits, self._misses, self._capacity, len(self._cache))

    def clear_cache(self) -> None:
        """Drop every cached feature and reset the statistics."""
        with self._lock:
            self._cache.clear()
            self._hits = self._misses = 0

    # ---- config -------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """Layer settings plus the backbone's constructor arguments and the ONNX file's
        SHA-256 (NotImplementedError for a callable ``preprocess``)."""
        return {**super().get_config(), "backbone": self.backbone.config(),
                "sha256": self.backbone.sha256(), "cache_mb": self.cache_mb}

    def __repr__(self) -> str:
        return f"<OnnxBackboneLayer name={self.name!r} backbone={self.backbone!r}>"


def _check_unchanged(path: PathLike, sha256: str) -> None:
    """FileNotFoundError or ValueError unless the file at ``path`` has this SHA-256."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"the backbone's ONNX file {os.fspath(path)!r} is gone")
    found = file_sha256(os.fspath(path))
    if found != sha256:
        raise ValueError(f"the ONNX file {os.fspath(path)!r} changed since this layer was saved "
                         f"(SHA-256 {found}, saved {sha256})")


# Known to foveal.nn.load_model without custom_objects once foveal.transfer is imported.
_layers._LAYERS.setdefault(OnnxBackboneLayer.__name__, OnnxBackboneLayer)
