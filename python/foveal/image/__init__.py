"""Image operations on NumPy arrays (``foveal.image``), OpenCV-compatible results.

Images are ``H x W`` (gray) or ``H x W x C`` (C = 1, 3 or 4, RGB order), uint8 or float32;
batches ``N x H x W x C`` are accepted by the per-image operations (filters, warps, resize,
flips, color). Results keep the input's layout and dtype unless said otherwise. uint8
arithmetic rounds half to even and saturates, as OpenCV's ``saturate_cast``.
"""

from __future__ import annotations

from . import kernels
from .arithmetic import add, blend, subtract
from .color import (adjust_brightness, center, merge, normalize, split, threshold, to_binary, to_gray,
                    to_rgb)
from .filters import convolve2d, edges, filter2d, gaussian_blur, laplacian, sharpen, sobel
from .geometry import flip, resize, rotate, rotate90, shift, warp_affine, zoom
from .io import read, write

__all__ = [
    "read", "write", "to_gray", "to_rgb", "to_binary", "threshold", "add", "subtract", "blend",
    "split", "merge", "flip", "rotate90", "rotate", "warp_affine", "shift", "zoom", "resize",
    "adjust_brightness", "normalize", "center", "filter2d", "convolve2d", "gaussian_blur",
    "sharpen", "edges", "laplacian", "sobel", "kernels",
]

