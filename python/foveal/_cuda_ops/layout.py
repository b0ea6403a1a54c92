"""The CUDA versions of ``foveal.nn.functional``'s spatial layout ops (ZeroPadding2D and
UpSampling2D): zero padding, nearest and bilinear upsampling, and their gradients. Same
arguments and results as the CPU's (the same bits: copies, and the CPU's sums in its order).
"""

from __future__ import annotations

from typing import Any, Tuple, Union

from .. import _cuda
from .._checks import Pair, as_option, as_pair
from ..nn._args import zero_padding_arg
from ._memory import Buffer, Call

__all__ = ["zero_pad2d", "zero_pad2d_backward", "upsample2d", "upsample2d_backward"]

_MAX = 2**30


def _nhwc(call: Call, x: Any, name: str) -> Buffer:
    b = call.input(x, name)
    if len(b.shape) != 4:
        raise ValueError(f"{name} must be 4-D (N x H x W x C), got shape {b.shape}")
    if 0 in b.shape:
        raise ValueError(f"{name} must not be empty, got shape {b.shape}")
    return b


def _padding(padding: Any) -> Tuple[int, int, int, int]:
    (t, b), (l, r) = zero_padding_arg(padding)
    for v in (t, b, l, r):
        if v > _MAX:
            raise ValueError(f"padding must be in [0, 2**30] on every side, got {v}")
    return t, b, l, r


def zero_pad2d(x: Any, padding: Any = (1, 1)) -> Any:
    """GPU :func:`foveal.nn.functional.zero_pad2d`."""
    t, b, l, r = _padding(padding)
    call = Call(x)
    xb = _nhwc(call, x, "x")
    n, h, w, c = xb.shape
    y = call.output((n, h + t + b, w + l + r, c))
    _cuda.zero_pad2d(xb.ptr, y.ptr, [n, h, w, c, t, b, l, r], False, call.host)
    return call.result(y)


def zero_pad2d_backward(dy: Any, padding: Any = (1, 1)) -> Any:
    """GPU :func:`foveal.nn.functional.zero_pad2d_backward` (the interior of ``dy``)."""
    t, b, l, r = _padding(padding)
    call = Call(dy)
    dyb = _nhwc(call, dy, "dy")
    n, h, w, c = dyb.shape
    if t + b >= h or l + r >= w:
        raise ValueError(f"padding {((t, b), (l, r))} leaves nothing of dy of shape {dyb.shape}")
    dx = call.output((n, h - t - b, w - l - r, c))
    _cuda.zero_pad2d(dyb.ptr, dx.ptr, [n, h - t - b, w - l - r, c, t, b, l, r], True, call.host)
    return call.result(dx)


def _size_interp(size: Any, interpolation: Any) -> Tuple[Pair, bool]:
    s = as_pair(size, "size")
    if s[0] > _MAX or s[1] > _MAX:
        raise ValueError(f"size must be in [1, 2**30], got {s}")
    return s, as_option(interpolation, "interpolation", ("nearest", "bilinear")) == "bilinear"


def upsample2d(x: Any, size: Union[int, Pair] = (2, 2), interpolation: str = "nearest") -> Any:
    """GPU :func:`foveal.nn.functional.upsample2d` (``"nearest"`` or ``"bilinear"``)."""
    (sh, sw), bilinear = _size_interp(size, interpolation)
    call = Call(x)
    xb = _nhwc(call, x, "x")
    n, h, w, c = xb.shape
    y = call.output((n, h * sh, w * sw, c))
    _cuda.upsample2d(xb.ptr, y.ptr, [n, h, w, c, sh, sw], bilinear, False, call.host)
    return call.result(y)


def upsample2d_backward(dy: Any, size: Union[int, Pair] = (2, 2), interpolation: str = "nearest") -> Any:
    """GPU :func:`foveal.nn.functional.upsample2d_backward`."""
    (sh, sw), bilinear = _size_interp(size, interpolation)
    call = Call(dy)
    dyb = _nhwc(call, dy, "dy")
    n, oh, ow, c = dyb.shape
    if oh % sh or ow % sw:
        raise ValueError(f"dy must have a height and width that are multiples of size {(sh, sw)}, "
                         f"got shape {dyb.shape}")
    dx = call.output((n, oh // sh, ow // sw, c))
    _cuda.upsample2d(dyb.ptr, dx.ptr, [n, oh // sh, ow // sw, c, sh, sw], bilinear, True, call.host)
    return call.result(dx)
