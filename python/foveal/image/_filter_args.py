"""Argument rules of the image filters (``foveal.image.filters``) that their other
implementation (``foveal._cuda_ops.filters``) shares: kernels as float32 arrays, the rank-1
split, the Gaussian and Sobel taps. No imports from the operators, so either can use them."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .._checks import as_int
from . import kernels
from ._common import as_number


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
    # np.allclose's test, written out (allclose itself costs ~100 us a call on a 3 x 3 kernel)
    if not (np.abs(np.outer(ky, kx) - k64) <= 1e-7 * abs(k64[i0, j0]) + 1e-6 * np.abs(k64)).all():
        return None
    return kx.astype(np.float32), ky.astype(np.float32)


def _gaussian_args(ksize: Union[int, Tuple[int, int]], sigma: float) -> Tuple[int, int, float]:
    """gaussian_blur's ``ksize`` and ``sigma``, checked: (kh, kw, sigma)."""
    if isinstance(ksize, (tuple, list)):
        if len(ksize) != 2:
            raise ValueError(f"ksize must be an odd int or (kh, kw), got {ksize!r}")
        kh, kw = as_int(ksize[0], "ksize", 1), as_int(ksize[1], "ksize", 1)
    else:
        kh = kw = as_int(ksize, "ksize", 1)
    if kh % 2 == 0 or kw % 2 == 0:
        raise ValueError(f"ksize must be odd, got {ksize!r}")
    return kh, kw, as_number(sigma, "sigma")


def _gaussian_taps(kh: int, kw: int, sigma: float, u8: bool) -> Tuple[np.ndarray, np.ndarray]:
    """gaussian_blur's (row, column) kernels."""
    # uint8 follows OpenCV's bit-exact fixed-point kernel; float images the float kernel.
    g = kernels.gaussian1d_u8 if u8 else kernels.gaussian1d
    return g(kw, sigma), g(kh, sigma)


def _sobel_taps(dx: int, dy: int, ksize: int) -> Tuple[np.ndarray, np.ndarray]:
    """sobel's (row, column) kernels (arguments checked)."""
    ox, oy = as_int(dx, "dx", 0), as_int(dy, "dy", 0)
    k = as_int(ksize, "ksize", 1)
    if k not in (1, 3, 5, 7):
        raise ValueError(f"ksize must be 1, 3, 5 or 7, got {k}")
    if ox + oy == 0:
        raise ValueError("dx and dy must not both be 0")
    for order, name in ((ox, "dx"), (oy, "dy")):
        if order >= max(k, 3):
            raise ValueError(f"{name} must be smaller than ksize (or 3 for ksize 1), got {order}")
    return kernels.sobel1d(ox, k), kernels.sobel1d(oy, k)
