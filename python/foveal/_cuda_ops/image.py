"""The CUDA versions of ``foveal.image``'s affine warp and resize (same signatures and results:
uint8 within 1 of the CPU's, float32 within 1e-4 of the output scale; the kernels do the CPU's
float operations in its order, so in practice the same bits as an AVX2/AVX-512 CPU).

``warp_affine`` takes every interpolation (``"nearest"``, ``"bilinear"``, ``"bicubic"``) and
border, ``resize`` every interpolation (``"nearest"``, ``"bilinear"``, ``"bicubic"``,
``"area"``). Images are ``H x W``, ``H x W x C`` or ``N x H x W x C`` (C in 1..4), uint8 or
float32. The helpers here (the image as an N x H x W x C buffer, the border value, the matrix
check) serve :mod:`.filters` and :mod:`.augment` too.
"""

from __future__ import annotations

import math
from typing import Any, Optional, Tuple

import numpy as np

from .. import _cuda
from .._checks import as_int, as_option
from ..image._common import BORDERS, FLOAT32_MAX, INTERPOLATIONS, Number, as_number
from ._memory import Buffer, Call, _kind

__all__ = ["warp_affine", "resize"]

_MAX_SIDE = 1 << 20   # the CPU binding's limit on an output side


def _device_dtype(x: Any) -> np.dtype:
    """The pixel type a device image is read as: uint8 stays uint8, anything else float32."""
    dt = getattr(x, "dtype", None)
    if hasattr(x, "__cuda_array_interface__"):
        dt = x.__cuda_array_interface__["typestr"]
    try:
        return np.dtype(np.uint8) if np.dtype(dt) == np.uint8 else np.dtype(np.float32)
    except TypeError:
        return np.dtype(np.float32)


def _pixels(call: Call, img: Any, name: str = "img") -> Tuple[Buffer, Tuple[int, ...]]:
    """The image as an N x H x W x C buffer (uint8 or float32) and its own shape."""
    if _kind(img) == "numpy":
        from ..image._pixels import as_image
        arr = as_image(img, name)
        buf = call.input(arr, name, arr.dtype)
    else:
        buf = call.input(img, name, _device_dtype(img))
    if len(buf.shape) not in (2, 3, 4) or 0 in buf.shape or (len(buf.shape) >= 3 and buf.shape[-1] > 4):
        raise ValueError(f"{name} must be H x W, H x W x C or N x H x W x C with C in 1..4, got shape {buf.shape}")
    own = buf.shape
    s = own
    if len(s) == 2:
        s = (1, s[0], s[1], 1)
    elif len(s) == 3:
        s = (1, *s)
    buf.shape = s
    return buf, own


def _restore(own: Tuple[int, ...], n: int, oh: int, ow: int, c: int) -> Tuple[int, ...]:
    if len(own) == 2:
        return (oh, ow)
    if len(own) == 3:
        return (oh, ow, c)
    return (n, oh, ow, c)


def border_value(cval: float, u8: bool) -> float:
    """The border value as the image holds it, as the CPU binding takes it: saturated to uint8
    and rounded half to even for uint8 images; a finite float32 for float images."""
    if abs(cval) > FLOAT32_MAX:
        raise ValueError(f"cval must lie within the float32 range (+-3.4e38), got {cval!r}")
    return float(round(min(255.0, max(0.0, cval)))) if u8 else float(cval)


def check_affine(m: np.ndarray, name: str) -> None:
    """A 2 x 3 source -> destination map the kernels can invert (as the CPU binding's
    require_invertible): finite, and its inverse within +-1e30 (a singular one inverts to 0)."""
    if not np.all(np.isfinite(m)):
        raise ValueError(f"{name} must be finite")
    a, b, c, d, e, f = (float(v) for v in m.ravel())
    det = a * e - b * d
    det = 1.0 / det if det != 0.0 else 0.0
    i0, i1, i3, i4 = e * det, b * -det, d * -det, a * det
    for v in (i0, i1, -i0 * c - i1 * f, i3, i4, -i3 * c - i4 * f):
        if not math.isfinite(v) or abs(v) > 1e30:
            raise ValueError(f"{name} is too close to singular (or translates too far): its inverse has an "
                             f"entry of {v:g}, beyond +-1e30")


def _output_side(v: Any, name: str) -> int:
    side = as_int(v, name, 1)
    if side > _MAX_SIDE:
        raise ValueError(f"{name} must be at most 2**20, got {side}")
    return side


def warp_affine(img: Any, matrix: Any, output_shape: Optional[Tuple[int, int]] = None,
                interpolation: str = "bilinear", border: str = "constant", cval: Number = 0) -> Any:
    """GPU :func:`foveal.image.warp_affine` (every interpolation and border)."""
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS)
    b = as_option(border, "border", BORDERS)
    cv = as_number(cval, "cval")
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("matrix must be a 2 x 3 array of numbers") from None
    if m.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3), got {m.shape}")
    check_affine(m, "matrix")
    call = Call(img)
    src, own = _pixels(call, img)
    n, h, w, c = src.shape
    if output_shape is None:
        rows, cols = h, w
    else:
        if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2:
            raise ValueError(f"output_shape must be (rows, cols), got {output_shape!r}")
        rows, cols = _output_side(output_shape[0], "output_shape"), _output_side(output_shape[1], "output_shape")
    u8 = src.dtype == np.uint8
    dst = call.output((n, rows, cols, c), src.dtype)
    _cuda.warp_affine(src.ptr, dst.ptr, u8, list(src.shape), rows, cols, [float(v) for v in m.ravel()], interp, b,
                      border_value(cv, u8), call.host)
    return call.result(dst, _restore(own, n, rows, cols, c))


def resize(img: Any, size: Tuple[int, int], interpolation: str = "bilinear") -> Any:
    """GPU :func:`foveal.image.resize` (``"nearest"``, ``"bilinear"``, ``"bicubic"``, ``"area"``)."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    oh, ow = _output_side(size[0], "size"), _output_side(size[1], "size")
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS + ("area",))
    call = Call(img)
    src, own = _pixels(call, img)
    n, _, _, c = src.shape
    dst = call.output((n, oh, ow, c), src.dtype)
    _cuda.resize(src.ptr, dst.ptr, src.dtype == np.uint8, list(src.shape), oh, ow, interp, call.host)
    return call.result(dst, _restore(own, n, oh, ow, c))
