"""The course's convolution kernels (float32, correlation order) and Gaussian kernels."""

from __future__ import annotations

import math

import numpy as np

from .._checks import as_int

IDENTITY = np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=np.float32)
BOX3 = np.full((3, 3), 1.0 / 9.0, dtype=np.float32)
GAUSSIAN3 = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / np.float32(16)
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32)
EDGE = np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], dtype=np.float32)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)

for _k in (IDENTITY, BOX3, GAUSSIAN3, SHARPEN, EDGE, LAPLACIAN):
    _k.setflags(write=False)

# OpenCV's fixed kernels for sigma <= 0 at the small sizes (getGaussianKernel).
_SMALL_GAUSSIAN = {
    1: [1.0],
    3: [0.25, 0.5, 0.25],
    5: [0.0625, 0.25, 0.375, 0.25, 0.0625],
    7: [0.03125, 0.109375, 0.21875, 0.28125, 0.21875, 0.109375, 0.03125],
    9: [4 / 256, 13 / 256, 30 / 256, 51 / 256, 60 / 256, 51 / 256, 30 / 256, 13 / 256, 4 / 256],
}


def gaussian_sigma(ksize: int) -> float:
    """The sigma OpenCV uses for ``sigma <= 0``: ``0.3*((ksize-1)*0.5 - 1) + 0.8``."""
    return 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8


def gaussian1d(ksize: int, sigma: float = 0.0) -> np.ndarray:
    """1-D Gaussian of ``ksize`` taps summing to 1, as OpenCV's ``getGaussianKernel``."""
    ksize = as_int(ksize, "ksize", 1)
    if ksize % 2 == 0:
        raise ValueError(f"ksize must be odd, got {ksize}")
    if not math.isfinite(float(sigma)):
        raise ValueError(f"sigma must be finite, got {sigma}")
    if sigma <= 0 and ksize in _SMALL_GAUSSIAN:
        return np.array(_SMALL_GAUSSIAN[ksize], dtype=np.float32)
    s = float(sigma) if sigma > 0 else gaussian_sigma(ksize)
    x = np.arange(ksize, dtype=np.float64) - (ksize - 1) * 0.5
    k = np.exp(-(x * x) / (2.0 * s * s))
    return (k / k.sum()).astype(np.float32)


def gaussian1d_u8(ksize: int, sigma: float = 0.0) -> np.ndarray:
    """:func:`gaussian1d` as OpenCV's bit-exact uint8 GaussianBlur uses it: taps in multiples of
    1/256, quantized from the outside in with error diffusion, the centre tap taking the
    remainder so the taps sum to exactly 1. With it, float arithmetic reproduces OpenCV's
    fixed-point sums exactly (only the final rounding of halves differs)."""
    k = gaussian1d(ksize, sigma).astype(np.float64)
    n, out, err, total = len(k), np.zeros(len(k)), 0.0, 0.0
    for i in range(n // 2):
        adj = k[i] * 256.0 + err
        q = float(np.rint(adj))
        err = adj - q
        out[i] = out[n - 1 - i] = q
        total += 2 * q
    out[n // 2] = 256.0 - total
    return (out / 256.0).astype(np.float32)


def gaussian(ksize: int, sigma: float = 0.0) -> np.ndarray:
    """2-D Gaussian kernel ``ksize x ksize``: the outer product of :func:`gaussian1d`."""
    g = gaussian1d(ksize, sigma).astype(np.float64)
    return np.outer(g, g).astype(np.float32)


def sobel1d(order: int, ksize: int) -> np.ndarray:
    """One axis of OpenCV's Sobel kernel: binomial smoothing differentiated ``order`` times."""
    if ksize == 1:
        ksize = 3 if order > 0 else 1
    if ksize == 3:
        return np.array([[1, 2, 1], [-1, 0, 1], [1, -2, 1]][order], dtype=np.float32)
    k = np.array([1.0])
    for _ in range(ksize - order - 1):
        k = np.convolve(k, [1.0, 1.0])
    for _ in range(order):
        k = np.convolve(k, [-1.0, 1.0])
    return k.astype(np.float32)


__all__ = ["IDENTITY", "BOX3", "GAUSSIAN3", "SHARPEN", "EDGE", "LAPLACIAN", "gaussian",
           "gaussian1d", "gaussian1d_u8", "gaussian_sigma", "sobel1d"]
