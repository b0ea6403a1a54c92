"""2-D filtering: filter2d, convolution, blur, sharpening and derivatives (part of ``foveal.image``)."""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._checks import as_option
from .._device import routed
from . import kernels
from ._common import BORDERS, Number, as_number
from ._filter_args import _gaussian_args, _gaussian_taps, _kernel2d, _separate, _sobel_taps  # noqa: F401
from ._pixels import as_batch

_native = _core.image


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


@routed
def filter2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> np.ndarray:
    """Correlate every channel with ``kernel`` (not flipped; anchor at its centre), result in
    the input's dtype: OpenCV ``filter2D(img, -1, kernel)``. A rank-1 kernel runs as two 1-D
    passes. Borders: constant (cval), replicate/nearest, reflect, reflect101, wrap."""
    return _filter(img, _kernel2d(kernel), border, cval)


@routed
def convolve2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> np.ndarray:
    """True convolution: :func:`filter2d` with the kernel flipped in both axes."""
    k = _kernel2d(kernel)
    return _filter(img, np.ascontiguousarray(k[::-1, ::-1]), border, cval)


@routed
def gaussian_blur(img: Any, ksize: Union[int, Tuple[int, int]], sigma: float = 0) -> np.ndarray:
    """Gaussian blur as OpenCV ``GaussianBlur(img, (ksize, ksize), sigma)`` (reflect101
    border); ``ksize`` odd. ``sigma <= 0`` means ``0.3*((ksize-1)*0.5 - 1) + 0.8``, except that
    odd sizes up to 9 then use OpenCV's fixed kernels (e.g. ``[1, 4, 6, 4, 1] / 16``), as
    OpenCV does."""
    kh, kw, s = _gaussian_args(ksize, sigma)
    x, restore = as_batch(img)
    kx, ky = _gaussian_taps(kh, kw, s, x.dtype == np.uint8)
    return restore(_native.sep_filter2d(x, kx, ky, kh // 2, kw // 2, "reflect101", 0.0))


def sharpen(img: Any) -> np.ndarray:
    """Sharpen with :data:`kernels.SHARPEN` (same dtype, saturated for uint8)."""
    return filter2d(img, kernels.SHARPEN)


def edges(img: Any) -> np.ndarray:
    """Edge map with :data:`kernels.EDGE` (same dtype, saturated for uint8)."""
    return filter2d(img, kernels.EDGE)


@routed
def laplacian(img: Any) -> np.ndarray:
    """Laplacian (OpenCV ``Laplacian`` with ``ksize=1``) as float32: signed values."""
    return _filter(img, kernels.LAPLACIAN, "reflect101", 0, np.float32)


@routed
def sobel(img: Any, dx: int, dy: int, ksize: int = 3) -> np.ndarray:
    """Sobel derivative of order (dx, dy) as OpenCV ``Sobel`` (ksize 1, 3, 5 or 7), float32."""
    kx, ky = _sobel_taps(dx, dy, ksize)
    x, restore = as_batch(img)
    x = x.astype(np.float32) if x.dtype != np.float32 else x
    return restore(_native.sep_filter2d(x, kx, ky, len(ky) // 2, len(kx) // 2, "reflect101", 0.0))
