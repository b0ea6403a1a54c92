"""The CUDA versions of ``foveal.image``'s affine warp and resize (same signatures and results:
uint8 within 1 of the CPU's, float32 within 1e-4 of the output scale).

The GPU kernels cover ``warp_affine`` with ``"nearest"`` or ``"bilinear"`` interpolation (every
border) and ``resize`` with ``"bilinear"``; other interpolations run on the CPU for NumPy images
and are a ValueError for device arrays. Images are ``H x W``, ``H x W x C`` or ``N x H x W x C``
(C in 1..4), uint8 or float32.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from .. import _cuda
from .._checks import as_int, as_option
from ..image._common import BORDERS, INTERPOLATIONS, Number, as_number
from .._device_state import cpu_ops
from ._memory import Buffer, Call, _kind

__all__ = ["warp_affine", "resize"]

_GPU_WARP = ("nearest", "bilinear")


def _pixels(call: Call, img: Any) -> Tuple[Buffer, Tuple[int, ...]]:
    """The image as an N x H x W x C buffer (uint8 or float32) and its own shape."""
    if _kind(img) == "numpy" or call.host:
        from ..image._pixels import as_image
        arr = as_image(img)
        buf = call.input(arr, "img", arr.dtype)
    else:
        typestr = np.dtype(img.__cuda_array_interface__["typestr"]) if hasattr(
            img, "__cuda_array_interface__") else None
        dtype = np.uint8 if typestr == np.uint8 else np.float32
        buf = call.input(img, "img", dtype)
        if len(buf.shape) not in (2, 3, 4) or 0 in buf.shape or (len(buf.shape) >= 3 and buf.shape[-1] > 4):
            raise ValueError(f"img must be H x W, H x W x C or N x H x W x C with C in 1..4, got shape {buf.shape}")
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


def warp_affine(img: Any, matrix: Any, output_shape: Optional[Tuple[int, int]] = None,
                interpolation: str = "bilinear", border: str = "constant", cval: Number = 0) -> Any:
    """GPU :func:`foveal.image.warp_affine` (``"nearest"`` or ``"bilinear"``)."""
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS)
    b = as_option(border, "border", BORDERS)
    cv = as_number(cval, "cval")
    if interp not in _GPU_WARP:
        return _cpu_or_fail("warp_affine", img, interp, lambda: _cpu("warp_affine")(
            img, matrix, output_shape, interpolation, border, cval))
    try:
        m = np.asarray(matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError("matrix must be a 2 x 3 array of numbers") from None
    if m.shape != (2, 3):
        raise ValueError(f"matrix must have shape (2, 3), got {m.shape}")
    call = Call(img)
    src, own = _pixels(call, img)
    n, h, w, c = src.shape
    if output_shape is None:
        rows, cols = h, w
    else:
        if not isinstance(output_shape, (tuple, list)) or len(output_shape) != 2:
            raise ValueError(f"output_shape must be (rows, cols), got {output_shape!r}")
        rows, cols = as_int(output_shape[0], "output_shape", 1), as_int(output_shape[1], "output_shape", 1)
    dst = call.output((n, rows, cols, c), src.dtype)
    _cuda.warp_affine(src.ptr, dst.ptr, src.dtype == np.uint8, list(src.shape), rows, cols,
                      [float(v) for v in m.ravel()], interp, b, cv, call.host)
    return call.result(dst, _restore(own, n, rows, cols, c))


def resize(img: Any, size: Tuple[int, int], interpolation: str = "bilinear") -> Any:
    """GPU :func:`foveal.image.resize` (``"bilinear"``)."""
    if not isinstance(size, (tuple, list)) or len(size) != 2:
        raise ValueError(f"size must be (height, width), got {size!r}")
    oh, ow = as_int(size[0], "size", 1), as_int(size[1], "size", 1)
    interp = as_option(interpolation, "interpolation", INTERPOLATIONS + ("area",))
    if interp != "bilinear":
        return _cpu_or_fail("resize", img, interp, lambda: _cpu("resize")(img, size, interpolation))
    call = Call(img)
    src, own = _pixels(call, img)
    n, _, _, c = src.shape
    dst = call.output((n, oh, ow, c), src.dtype)
    _cuda.resize_bilinear(src.ptr, dst.ptr, src.dtype == np.uint8, list(src.shape), oh, ow, call.host)
    return call.result(dst, _restore(own, n, oh, ow, c))


def _cpu(name: str) -> Any:
    """The CPU implementation of foveal.image's op ``name`` (registered by its routing decorator)."""
    return cpu_ops[name]


def _cpu_or_fail(op: str, img: Any, interp: str, run: Any) -> Any:
    if _kind(img) != "numpy":
        raise ValueError(f"{op}: interpolation {interp!r} is not implemented on the GPU yet; "
                         f"pass a NumPy image (it then runs on the CPU) or use 'bilinear'")
    return run()

