"""Image operations on NumPy arrays (``foveal.image``), OpenCV-compatible results.

Images are ``H x W`` (gray) or ``H x W x C`` (C = 1, 3 or 4, RGB order), uint8 or float32;
batches ``N x H x W x C`` are accepted by the per-image operations (filters, warps, resize,
flips, color). Results keep the input's layout and dtype unless said otherwise. uint8
arithmetic rounds half to even and saturates, as OpenCV's ``saturate_cast``.
"""

from __future__ import annotations

import math
from typing import Any, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from .._checks import as_int, as_option
from . import kernels
from ._pixels import as_batch, as_image, as_pixels
from .io import read, write

_native = _core.image

_BORDERS = ("constant", "replicate", "nearest", "reflect", "reflect101", "wrap")
_INTERP = ("nearest", "bilinear", "bicubic")
Number = Union[int, float]

__all__ = [
    "read", "write", "to_gray", "to_rgb", "to_binary", "threshold", "add", "subtract", "blend",
    "split", "merge", "flip", "rotate90", "rotate", "warp_affine", "shift", "zoom", "resize",
    "adjust_brightness", "normalize", "center", "filter2d", "convolve2d", "gaussian_blur",
    "sharpen", "edges", "laplacian", "sobel", "kernels",
]


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f


_FLOAT32_MAX = float(np.finfo(np.float32).max)


def _factor(v: Any, name: str) -> float:
    """A number the native pixel kernels use as a float32: finite there too (1e39 would become
    inf, and 0 * inf NaN)."""
    f = _number(v, name)
    if abs(f) > _FLOAT32_MAX:
        raise ValueError(f"{name} must lie within the float32 range (+-3.4e38), got {v!r}")
    return f


# ---------------------------------------------------------------------------------------------
# Color and arithmetic


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


def _pointwise(op: str, a: np.ndarray, b: Optional[np.ndarray], p: float = 0.0, q: float = 0.0,
               r: float = 0.0) -> np.ndarray:
    return _native.pointwise(op, a, b, p, q, r)


def _pair(a: Any, b: Any) -> Tuple[np.ndarray, np.ndarray]:
    x = as_image(a, "a")
    if np.isscalar(b):
        y = np.full(x.shape, _factor(b, "b"), dtype=np.float64)
        y = np.clip(np.rint(y), 0, 255).astype(np.uint8) if x.dtype == np.uint8 else y.astype(np.float32)
    else:
        y = as_image(b, "b")
    if x.dtype != y.dtype:
        raise TypeError(f"a and b must have the same dtype, got {x.dtype} and {y.dtype}")
    if x.shape != y.shape:
        raise ValueError(f"a and b must have the same shape, got {x.shape} and {y.shape}")
    return x, y


def add(a: Any, b: Any) -> np.ndarray:
    """``a + b``; uint8 saturates at 255 (OpenCV ``add``). ``b`` may be a scalar."""
    x, y = _pair(a, b)
    return _pointwise("add", x, y)


def subtract(a: Any, b: Any) -> np.ndarray:
    """``a - b``; uint8 saturates at 0 (OpenCV ``subtract``). ``b`` may be a scalar."""
    x, y = _pair(a, b)
    return _pointwise("subtract", x, y)


def blend(a: Any, b: Any, alpha: float, beta: Optional[float] = None, gamma: float = 0.0) -> np.ndarray:
    """``a*alpha + b*beta + gamma`` with ``beta = 1 - alpha`` by default (OpenCV
    ``addWeighted``; uint8 rounded and saturated)."""
    x, y = _pair(a, b)
    al = _factor(alpha, "alpha")
    be = 1.0 - al if beta is None else _factor(beta, "beta")
    return _pointwise("blend", x, y, al, be, _factor(gamma, "gamma"))


def adjust_brightness(img: Any, factor: float) -> np.ndarray:
    """Scale every value by ``factor`` (uint8 rounded and saturated; float32 not clipped)."""
    x = as_image(img)
    return _pointwise("scale", x, None, _factor(factor, "factor"))


def threshold(img: Any, thresh: float, maxval: float = 255) -> np.ndarray:
    """OpenCV ``THRESH_BINARY``: ``maxval`` where ``img > thresh``, else 0 (same dtype)."""
    x = as_image(img)
    return _pointwise("threshold", x, None, _factor(thresh, "thresh"), _factor(maxval, "maxval"))


def to_binary(img: Any, threshold: float = 127) -> np.ndarray:
    """uint8 mask: 1 where ``img > threshold``, else 0."""
    x = as_image(img)
    out = _pointwise("threshold", x, None, _factor(threshold, "threshold"), 1.0)
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


# ---------------------------------------------------------------------------------------------
# Geometry


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
    interp = as_option(interpolation, "interpolation", _INTERP)
    b = as_option(border, "border", _BORDERS)
    return interp, b, _number(cval, "cval")


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
    shape = np.shape(img)
    if len(shape) < 2:
        raise ValueError(f"img must be an image, got shape {shape}")
    return (shape[-3], shape[-2]) if len(shape) == 4 or (len(shape) == 3 and shape[-1] <= 4) else (shape[0], shape[1])


def rotate(img: Any, angle: float, center: Optional[Tuple[float, float]] = None, scale: float = 1.0,
           interpolation: str = "bilinear", border: str = "constant", cval: Number = 0) -> np.ndarray:
    """Rotate by ``angle`` degrees counter-clockwise about ``center`` (x, y), default the image
    centre ``((w-1)/2, (h-1)/2)``: OpenCV ``getRotationMatrix2D`` + ``warpAffine``."""
    a = _number(angle, "angle")
    s = _number(scale, "scale")
    h, w = _image_size(img)
    if center is None:
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    else:
        if not isinstance(center, (tuple, list)) or len(center) != 2:
            raise ValueError(f"center must be (x, y), got {center!r}")
        cx, cy = _number(center[0], "center"), _number(center[1], "center")
    rad = a * math.pi / 180.0
    alpha, beta = math.cos(rad) * s, math.sin(rad) * s
    m = [[alpha, beta, (1 - alpha) * cx - beta * cy], [-beta, alpha, beta * cx + (1 - alpha) * cy]]
    return warp_affine(img, m, None, interpolation, border, cval)


def shift(img: Any, dx: float, dy: float, interpolation: str = "bilinear", border: str = "constant",
          cval: Number = 0) -> np.ndarray:
    """Translate the content by ``dx`` pixels right and ``dy`` pixels down."""
    m = [[1.0, 0.0, _number(dx, "dx")], [0.0, 1.0, _number(dy, "dy")]]
    return warp_affine(img, m, None, interpolation, border, cval)


def zoom(img: Any, zx: float, zy: Optional[float] = None, interpolation: str = "bilinear",
         border: str = "constant", cval: Number = 0) -> np.ndarray:
    """Scale the content by ``zx`` horizontally and ``zy`` (default ``zx``) vertically about
    the image centre (> 1 magnifies); the output keeps the input's size."""
    fx = _number(zx, "zx")
    fy = fx if zy is None else _number(zy, "zy")
    h, w = _image_size(img)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    m = [[fx, 0.0, (1 - fx) * cx], [0.0, fy, (1 - fy) * cy]]
    return warp_affine(img, m, None, interpolation, border, cval)


def resize(img: Any, size: Tuple[int, int], interpolation: str = "bilinear") -> np.ndarray:
    """Resize to ``size=(height, width)`` with half-pixel centres as OpenCV: ``"nearest"``
    (``INTER_NEAREST_EXACT``), ``"bilinear"``, ``"bicubic"`` (no antialiasing) or ``"area"``
    (averages the covered source area when shrinking, as ``INTER_AREA``)."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    oh, ow = as_int(size[0], "size", 1), as_int(size[1], "size", 1)
    interp = as_option(interpolation, "interpolation", _INTERP + ("area",))
    x, restore = as_batch(img)
    return restore(_native.resize(x, oh, ow, interp))


# ---------------------------------------------------------------------------------------------
# Filters


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
    b = as_option(border, "border", _BORDERS)
    cv = _number(cval, "cval")
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
    s = _number(sigma, "sigma")
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
