"""2-D filtering: filter2d, convolution, blur, sharpening and derivatives (part of ``foveal.image``)."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._checks import as_int, as_option
from . import kernels
from ._common import BORDERS, Number, as_number
from ._pixels import as_batch

_native = _core.image


def _kernel2d(kernel: Any) -> np.ndarray:
    try:
        k = np.asarray(kernel)
    except (TypeError, ValueError):
        raise TypeError("kernel must be a 2-D array of numbers") from None
    if k.dtype.kind not in "biuf":
        raise TypeError(f"kernel must hold real numbers, got dtype {k.dtype}")
    with np.errstate(over="ignore"):  # beyond float32: inf, refused just below
        k = k.astype(np.float32)
    if k.ndim != 2 or k.size == 0:
        raise ValueError(f"kernel must be a non-empty 2-D array, got shape {k.shape}")
    if not np.all(np.isfinite(k)):
        raise ValueError("kernel must be finite (within the float32 range)")
    return np.ascontiguousarray(k)


def _separate(k: np.ndarray) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """(row kernel, column kernel) when ``k`` is their outer product (rank 1), else None."""
    if k.shape[0] == 1 or k.shape[1] == 1 or k.size < 9:
        return None
    k64 = k.astype(np.float64)
    i0, j0 = np.unravel_index(np.argmax(np.abs(k64)), k64.shape)
    if k64[i0, j0] == 0:
        return None
    ky = k64[:, j0] / k64[i0, j0]
    kx = k64[i0, :]
    if not np.allclose(np.outer(ky, kx), k64, rtol=1e-6, atol=1e-7 * abs(k64[i0, j0])):
        return None
    return kx.astype(np.float32), ky.astype(np.float32)


def _filter(img: Any, k: np.ndarray, border: str, cval: Any, dtype: Optional[type] = None) -> np.ndarray:
    b = as_option(border, "border", BORDERS)
    cv = as_number(cval, "cval")
    x, restore = as_batch(img)
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    ay, ax = k.shape[0] // 2, k.shape[1] // 2
    sep = _separate(k)
    if sep is not None:
        return restore(_native.sep_filter2d(x, sep[0], sep[1], ay, ax, b, cv))
    return restore(_native.filter2d(x, k, ay, ax, b, cv))


def filter2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> np.ndarray:
    """Correlate every channel with ``kernel`` (not flipped; anchor at its centre), result in
    the input's dtype: OpenCV ``filter2D(img, -1, kernel)``. A rank-1 kernel runs as two 1-D
    passes. Borders: constant (cval), replicate/nearest, reflect, reflect101, wrap."""
    return _filter(img, _kernel2d(kernel), border, cval)


def convolve2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> np.ndarray:
    """True convolution: :func:`filter2d` with the kernel flipped in both axes."""
    k = _kernel2d(kernel)
    return _filter(img, np.ascontiguousarray(k[::-1, ::-1]), border, cval)


def gaussian_blur(img: Any, ksize: Union[int, Tuple[int, int]], sigma: float = 0) -> np.ndarray:
    """Gaussian blur as OpenCV ``GaussianBlur(img, (ksize, ksize), sigma)`` (reflect101
    border); ``ksize`` odd. ``sigma <= 0`` means ``0.3*((ksize-1)*0.5 - 1) + 0.8``, except that
    odd sizes up to 9 then use OpenCV's fixed kernels (e.g. ``[1, 4, 6, 4, 1] / 16``), as
    OpenCV does."""
    if isinstance(ksize, (tuple, list)):
        if len(ksize) != 2:
            raise ValueError(f"ksize must be an odd int or (kh, kw), got {ksize!r}")
        kh, kw = as_int(ksize[0], "ksize", 1), as_int(ksize[1], "ksize", 1)
    else:
        kh = kw = as_int(ksize, "ksize", 1)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"ksize must be odd, got {ksize!r}")
    s = as_number(sigma, "sigma")
    x, restore = as_batch(img)
    # uint8 follows OpenCV's bit-exact fixed-point kernel; float images the float kernel.
    g = kernels.gaussian1d_u8 if x.dtype == np.uint8 else kernels.gaussian1d
    kx, ky = g(kw, s), g(kh, s)
    return restore(_native.sep_filter2d(x, kx, ky, kh // 2, kw // 2, "reflect101", 0.0))


def sharpen(img: Any) -> np.ndarray:
    """Sharpen with :data:`kernels.SHARPEN` (same dtype, saturated for uint8)."""
    return filter2d(img, kernels.SHARPEN)


def edges(img: Any) -> np.ndarray:
    """Edge map with :data:`kernels.EDGE` (same dtype, saturated for uint8)."""
    return filter2d(img, kernels.EDGE)


def laplacian(img: Any) -> np.ndarray:
    """Laplacian (OpenCV ``Laplacian`` with ``ksize=1``) as float32: signed values."""
    return _filter(img, kernels.LAPLACIAN, "reflect101", 0, np.float32)


def sobel(img: Any, dx: int, dy: int, ksize: int = 3) -> np.ndarray:
    """Sobel derivative of order (dx, dy) as OpenCV ``Sobel`` (ksize 1, 3, 5 or 7), float32."""
    ox, oy = as_int(dx, "dx", 0), as_int(dy, "dy", 0)
    k = as_int(ksize, "ksize", 1)
    if k not in (1, 3, 5, 7):
        raise ValueError(f"ksize must be 1, 3, 5 or 7, got {k}")
    if ox + oy == 0:
        raise ValueError("dx and dy must not both be 0")
    for order, name in ((ox, "dx"), (oy, "dy")):
        if order >= max(k, 3):
            raise ValueError(f"{name} must be smaller than ksize (or 3 for ksize 1), got {order}")
    kx, ky = kernels.sobel1d(ox, k), kernels.sobel1d(oy, k)
    x, restore = as_batch(img)
    x = x.astype(np.float32) if x.dtype != np.float32 else x
    return restore(_native.sep_filter2d(x, kx, ky, len(ky) // 2, len(kx) // 2, "reflect101", 0.0))

