"""Flips, rotations, affine warps and resizing (part of ``foveal.image``)."""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from .. import _core
from .._checks import as_int, as_numpy, as_option
from .._device import routed
from ._common import BORDERS, INTERPOLATIONS, Number, as_number
from ._pixels import as_batch, as_image

_native = _core.image


def flip(img: Any, axis: str = "horizontal") -> np.ndarray:
    """Mirror left-right (``"horizontal"``), top-bottom (``"vertical"``) or both."""
    mode = as_option(axis, "axis", ("horizontal", "vertical", "both"))
    x, restore = as_batch(img)
    return restore(_native.flip(x, mode != "vertical", mode != "horizontal"))


def rotate90(img: Any, k: int = 1) -> np.ndarray:
    """Rotate by ``k`` quarter turns counter-clockwise (``np.rot90``); batches per image."""
    k = as_int(k, "k")
    arr = as_image(img)
    axes = (1, 2) if arr.ndim == 4 else (0, 1)
    return np.array(np.rot90(arr, k, axes=axes), order="C", copy=True)


def _warp_options(interpolation: str, border: str, cval: Any) -> Tuple[str, str, float]:
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS)
    b = as_option(border, "border", BORDERS)
    return interp, b, as_number(cval, "cval")


@routed
def warp_affine(img: Any, matrix: Any, output_shape: Optional[Tuple[int, int]] = None,
                interpolation: str = "bilinear", border: str = "constant", cval: Number = 0) -> np.ndarray:
    """Affine warp as OpenCV ``warpAffine``: ``matrix`` (2 x 3) maps source (x, y) to the
    destination; ``output_shape=(rows, cols)`` defaults to the input's size."""
    x, restore = as_batch(img)
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("matrix must be a 2 x 3 array of numbers") from None
    if m.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3), got {m.shape}")
    if output_shape is None:
        rows, cols = x.shape[1], x.shape[2]
    else:
        if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2:
            raise ValueError(f"output_shape must be (rows, cols), got {output_shape!r}")
        rows, cols = as_int(output_shape[0], "output_shape", 1), as_int(output_shape[1], "output_shape", 1)
    interp, b, cv = _warp_options(interpolation, border, cval)
    return restore(_native.warp_affine(x, m, rows, cols, interp, b, cv))


def _image_size(img: Any) -> Tuple[int, int]:
    shape = getattr(img, "shape", None)  # arrays and tensors (a device array on "cuda" too): no copy
    if not isinstance(shape, tuple):
        shape = as_numpy(img, "img").shape   # no copy (a DLPack object: as the ops take it)
    if len(shape) < 2:
        raise ValueError(f"img must be an image, got shape {shape}")
    return (shape[-3], shape[-2]) if len(shape) == 4 or (len(shape) == 3 and shape[-1] <= 4) else (shape[0], shape[1])


def rotate(img: Any, angle: float, center: Optional[Tuple[float, float]] = None, scale: float = 1.0,
           interpolation: str = "bilinear", border: str = "constant", cval: Number = 0) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (x, y), default the image
    centre ``((w-1)/2, (h-1)/2)``: OpenCV ``getRotationMatrix2D`` + ``warpAffine``."""
    a = as_number(angle, "angle")
    s = as_number(scale, "scale")
    h, w = _image_size(img)
    if center is None:
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    else:
        if not isinstance(center, (tuple, list)) or len(center) != 2:
            raise ValueError(f"center must be (x, y), got {center!r}")
        cx, cy = as_number(center[0], "center"), as_number(center[1], "center")
    rad = a * math.pi / 180.0
    alpha, beta = math.cos(rad) * s, math.sin(rad) * s
    m = [[alpha, beta, (1 - alpha) * cx - beta * cy], [-beta, alpha, beta * cx + (1 - alpha) * cy]]
    return warp_affine(img, m, None, interpolation, border, cval)


def shift(img: Any, dx: float, dy: float, interpolation: str = "bilinear", border: str = "constant",
          cval: Number = 0) -> np.ndarray:
    """Translate the content by ``dx`` pixels right and ``dy`` pixels down."""
    m = [[1.0, 0.0, as_number(dx, "dx")], [0.0, 1.0, as_number(dy, "dy")]]
    return warp_affine(img, m, None, interpolation, border, cval)


def zoom(img: Any, zx: float, zy: Optional[float] = None, interpolation: str = "bilinear",
         border: str = "constant", cval: Number = 0) -> np.ndarray:
    """Scale the content by ``zx`` horizontally and ``zy`` (default ``zx``) vertically about
    the image centre (> 1 magnifies); the output keeps the input's size."""
    fx = as_number(zx, "zx")
    fy = fx if zy is None else as_number(zy, "zy")
    h, w = _image_size(img)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    m = [[fx, 0.0, (1 - fx) * cx], [0.0, fy, (1 - fy) * cy]]
    return warp_affine(img, m, None, interpolation, border, cval)


@routed
def resize(img: Any, size: Tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Resize to ``size=(height, width)`` with half-pixel centres as OpenCV: ``"nearest"``
    (``INTER_NEAREST_EXACT``), ``"bilinear"``, ``"bicubic"`` (no antialiasing) or ``"area"``
    (averages the covered source area when shrinking, as ``INTER_AREA``)."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    oh, ow = as_int(size[0], "size", 1), as_int(size[1], "size", 1)
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS + ("area",))
    x, restore = as_batch(img)
    return restore(_native.resize(x, oh, ow, interp))

