"""Color conversions, thresholds, channels and value scaling (part of ``foveal.image``)."""

from __future__ import annotations

from typing import Any, List, Sequence, Union

import numpy as np

from .. import _core
from ._common import as_factor, pointwise
from ._pixels import as_batch, as_image, as_pixels

_native = _core.image


def to_gray(img: Any) -> np.ndarray:
    """RGB(A) to gray, ``H x W`` (a batch gives ``N x H x W``). uint8 is exactly OpenCV's
    ``COLOR_RGB2GRAY``: ``(9798 R + 19235 G + 3735 B + 16384) >> 15``; float32 uses
    0.299/0.587/0.114. A gray image is returned as ``H x W``."""
    arr = as_image(img)
    if arr.ndim == 2:
        return arr.copy()
    x, restore = as_batch(arr)
    if x.shape[-1] == 1:
        return restore(x.copy())[..., 0] if arr.ndim == 4 else x[0, :, :, 0].copy()
    if x.shape[-1] not in (3, 4):
        raise ValueError(f"img must be gray, RGB or RGBA, got shape {arr.shape}")
    g = _native.rgb_to_gray(x)
    return g if arr.ndim == 4 else g[0]


def to_rgb(gray: Any) -> np.ndarray:
    """Gray (``H x W`` or ``H x W x 1``) to ``H x W x 3`` by repeating the channel; an RGB
    image is copied, an RGBA image loses its alpha channel."""
    arr = as_pixels(gray, "gray")
    if arr.ndim == 2:
        arr = arr[..., None]
    if arr.ndim not in (3, 4) or arr.shape[-1] not in (1, 3, 4) or arr.size == 0:
        raise ValueError(f"gray must be H x W, H x W x 1 (or RGB/RGBA), got shape {np.shape(gray)}")
    if arr.shape[-1] == 1:
        return np.ascontiguousarray(np.repeat(arr, 3, axis=-1))
    return np.array(arr[..., :3], order="C", copy=True)


def adjust_brightness(img: Any, factor: float) -> np.ndarray:
    """Scale every value by ``factor`` (uint8 rounded and saturated; float32 not clipped)."""
    x = as_image(img)
    return pointwise("scale", x, None, as_factor(factor, "factor"))


def threshold(img: Any, thresh: float, maxval: float = 255) -> np.ndarray:
    """OpenCV ``THRESH_BINARY``: ``maxval`` where ``img > thresh``, else 0 (same dtype)."""
    x = as_image(img)
    return pointwise("threshold", x, None, as_factor(thresh, "thresh"), as_factor(maxval, "maxval"))


def to_binary(img: Any, threshold: float = 127) -> np.ndarray:
    """uint8 mask: 1 where ``img > threshold``, else 0."""
    x = as_image(img)
    out = pointwise("threshold", x, None, as_factor(threshold, "threshold"), 1.0)
    return out if out.dtype == np.uint8 else out.astype(np.uint8)


def normalize(img: Any) -> np.ndarray:
    """uint8 -> float32 in [0, 1] (``img / 255``); a float image is returned as float32."""
    x = as_image(img)
    if x.dtype == np.uint8:
        return _native.to_float(x, 1.0 / 255.0)
    return x.copy()


def center(x: Any, mean: Union[None, float, Sequence[float]] = None) -> np.ndarray:
    """float32 ``x - mean``; ``mean=None`` subtracts each channel's mean over all pixels."""
    arr = as_image(x, "x").astype(np.float32, copy=False)
    if mean is None:
        m = arr.mean(axis=tuple(range(arr.ndim - 1)), dtype=np.float64) if arr.ndim >= 3 else arr.mean(dtype=np.float64)
    else:
        m = np.asarray(mean, dtype=np.float64)
        if m.ndim > 1 or (m.ndim == 1 and (arr.ndim < 3 or m.shape[0] != arr.shape[-1])):
            raise ValueError(f"mean must be a number or one value per channel, got {np.shape(mean)}")
        if not np.all(np.isfinite(m)):
            raise ValueError("mean must be finite")
    return (arr - np.asarray(m, dtype=np.float32)).astype(np.float32)


def split(img: Any) -> List[np.ndarray]:
    """The channels of ``H x W x C`` (or ``N x H x W x C``) as a list of ``H x W`` arrays."""
    arr = as_image(img)
    if arr.ndim == 2:
        return [arr.copy()]
    return [np.array(arr[..., c], order="C", copy=True) for c in range(arr.shape[-1])]


def merge(channels: Sequence[Any]) -> np.ndarray:
    """Stack ``H x W`` channels (same shape and dtype) into ``H x W x C``."""
    if isinstance(channels, np.ndarray) or not isinstance(channels, (list, tuple)) or not channels:
        raise TypeError("channels must be a non-empty list of H x W arrays")
    arrs = [as_pixels(c, f"channels[{i}]") for i, c in enumerate(channels)]
    if any(a.shape != arrs[0].shape for a in arrs) or any(a.dtype != arrs[0].dtype for a in arrs):
        raise ValueError("channels must all have the same shape and dtype")
    if arrs[0].ndim not in (2, 3):  # H x W planes (N x H x W from a batch's split)
        raise ValueError(f"channels must be H x W (or N x H x W) arrays, got shape {arrs[0].shape}")
    if arrs[0].size == 0:
        raise ValueError("channels must not be empty")
    return np.ascontiguousarray(np.stack(arrs, axis=-1))

