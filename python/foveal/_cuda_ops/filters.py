"""The CUDA versions of ``foveal.image``'s filters: ``filter2d``, ``convolve2d``,
``gaussian_blur``, ``laplacian`` and ``sobel`` (``sharpen`` and ``edges`` call ``filter2d``).

Same signatures, argument checks and results as the CPU ops (uint8 within 1 of the CPU's,
float32 within 1e-4 of the output scale; the kernels sum the taps with the CPU's fused
multiply-adds in its order, so in practice its bits): a rank-1 kernel runs as two 1-D passes as
on the CPU, uint8 images give uint8 (rounded half to even, saturated) except ``laplacian`` and
``sobel`` (float32, from the image's values as floats).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _cuda
from .._checks import as_option
from ..image import _filter_args as _cpu_filters
from ..image import kernels
from ..image._common import BORDERS, Number, as_number
from ..image._pixels import as_image
from ._memory import Call, _kind
from .image import _device_dtype, _pixels, _restore, border_value

__all__ = ["filter2d", "convolve2d", "gaussian_blur", "laplacian", "sobel"]

_MAX_KERNEL = 1 << 12   # the CPU binding's limit on a kernel side


def _run(img: Any, kx: np.ndarray, ky: Optional[np.ndarray], kh: int, kw: int, border: str, cval: float,
         to_float: bool) -> Any:
    """One filter call: ``kx`` the kh x kw kernel (``ky`` None) or the row and column taps of a
    separable one; anchored at the kernel's centre. ``to_float``: a float32 result from any image."""
    if kh > _MAX_KERNEL or kw > _MAX_KERNEL:
        raise ValueError(f"kernel is too large, got {kh} x {kw} (at most {_MAX_KERNEL} per side)")
    call = Call(img)
    src, own = _pixels(call, img)
    n, h, w, c = src.shape
    in_u8 = src.dtype == np.uint8
    out_u8 = in_u8 and not to_float
    kbuf = call.input(np.ascontiguousarray(kx, dtype=np.float32), "kernel")
    kybuf = None if ky is None else call.input(np.ascontiguousarray(ky, dtype=np.float32), "kernel")
    dst = call.output(src.shape, np.uint8 if out_u8 else np.float32)
    _cuda.filter2d(src.ptr, dst.ptr, in_u8, out_u8, list(src.shape), kbuf.ptr, 0 if kybuf is None else kybuf.ptr,
                   kh, kw, kh // 2, kw // 2, border, border_value(cval, out_u8), call.host)
    return call.result(dst, _restore(own, n, h, w, c))


def _filter(img: Any, k: np.ndarray, border: str, cval: Any, to_float: bool = False) -> Any:
    """The CPU's ``_filter``: two 1-D passes for a rank-1 kernel, else the 2-D correlation."""
    b = as_option(border, "border", BORDERS)
    cv = as_number(cval, "cval")
    sep = _cpu_filters._separate(k)
    if sep is not None:
        return _run(img, sep[0], sep[1], k.shape[0], k.shape[1], b, cv, to_float)
    return _run(img, k, None, k.shape[0], k.shape[1], b, cv, to_float)


def filter2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> Any:
    """GPU :func:`foveal.image.filter2d`."""
    return _filter(img, _cpu_filters._kernel2d(kernel), border, cval)


def convolve2d(img: Any, kernel: Any, border: str = "reflect101", cval: Number = 0) -> Any:
    """GPU :func:`foveal.image.convolve2d`."""
    k = _cpu_filters._kernel2d(kernel)
    return _filter(img, np.ascontiguousarray(k[::-1, ::-1]), border, cval)


def gaussian_blur(img: Any, ksize: Union[int, Tuple[int, int]], sigma: float = 0) -> Any:
    """GPU :func:`foveal.image.gaussian_blur` (uint8: OpenCV's bit-exact kernel, as the CPU)."""
    kh, kw, s = _cpu_filters._gaussian_args(ksize, sigma)
    kx, ky = _cpu_filters._gaussian_taps(kh, kw, s, _is_u8(img))
    return _run(img, kx, ky, kh, kw, "reflect101", 0.0, False)


def laplacian(img: Any) -> Any:
    """GPU :func:`foveal.image.laplacian` (float32)."""
    return _filter(img, kernels.LAPLACIAN, "reflect101", 0, to_float=True)


def sobel(img: Any, dx: int, dy: int, ksize: int = 3) -> Any:
    """GPU :func:`foveal.image.sobel` (float32)."""
    kx, ky = _cpu_filters._sobel_taps(dx, dy, ksize)
    return _run(img, kx, ky, len(ky), len(kx), "reflect101", 0.0, True)


def _is_u8(img: Any) -> bool:
    """Whether the image is read as uint8 (NumPy: after foveal.image's dtype rules)."""
    if _kind(img) == "numpy":
        return as_image(img).dtype == np.uint8
    return _device_dtype(img) == np.uint8
