"""Image argument normalization shared by foveal.image: dtype rules and the N x H x W x C view."""

from __future__ import annotations

from typing import Any, Callable, Tuple

import numpy as np

from .._checks import as_numpy

Restore = Callable[[np.ndarray], np.ndarray]


def as_pixels(x: Any, name: str) -> np.ndarray:
    """An image as a C-contiguous uint8 or float32 array.

    uint8 and float32 pass through; bool becomes uint8 0/1; other integer types become uint8
    when every value lies in 0..255 (else ValueError: they would be misread); other floats
    become float32. Anything else is a TypeError.
    """
    arr = as_numpy(x, name)   # no copy for NumPy, PyTorch CPU tensors, other DLPack objects
    kind = arr.dtype.kind
    if arr.dtype in (np.uint8, np.float32):
        pass
    elif kind == "b":
        arr = arr.astype(np.uint8)
    elif kind in "iu":
        if arr.size and (arr.min() < 0 or arr.max() > 255):
            raise ValueError(f"{name} has integer values outside 0..255; pass uint8 or float32 pixels")
        arr = arr.astype(np.uint8)
    elif kind == "f":
        arr = arr.astype(np.float32)
    else:
        raise TypeError(f"{name} must hold uint8 or float32 pixels, got dtype {arr.dtype}")
    return np.ascontiguousarray(arr)


def as_image(x: Any, name: str = "img", batch: bool = True) -> np.ndarray:
    """An image (H x W, H x W x C) or, with ``batch``, N x H x W x C, C in 1..4, non-empty,
    as a C-contiguous uint8 or float32 array (see :func:`as_pixels`)."""
    arr = as_pixels(x, name)
    if arr.ndim not in ((2, 3, 4) if batch else (2, 3)):
        shapes = "H x W, H x W x C" + (" or N x H x W x C" if batch else "")
        raise ValueError(f"{name} must be {shapes}, got shape {arr.shape}")
    if arr.ndim >= 3 and arr.shape[-1] not in (1, 2, 3, 4):
        raise ValueError(f"{name} must have 1 to 4 channels (last axis), got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    return arr


def as_batch(x: Any, name: str = "img", batch: bool = True) -> Tuple[np.ndarray, Restore]:
    """View an image (H x W, H x W x C) or a batch (N x H x W x C, C in 1..4) as N x H x W x C.

    Returns the 4-D array and a function that gives a result of the same layout back.
    """
    arr = as_image(x, name, batch)
    if arr.ndim == 2:
        return arr[None, :, :, None], (lambda y: y[0, :, :, 0])
    if arr.ndim == 3:
        return arr[None], (lambda y: y[0])
    return arr, (lambda y: y)
