"""The CUDA form of the fused augmentation: ``foveal._core.image.augment_batch`` (each image warped
by its own 2 x 3 matrix, then the channel shift clipped to the warped image's range and the
brightness factor; or, from a uint8 batch, the warp to float32 with an added brightness and a
clip), and the two Python entry points on it, with their signatures:
``foveal.data._augment.apply_batch`` (``ImageDataGenerator``'s per-image Keras transforms) and
``foveal.nn.layers._augment_chain.warp_batch`` (the ``Random*`` preprocessing layers' composed
maps).

One thread per output pixel with the image's matrix inverted in the kernel as the CPU inverts
it; the shift's per-image minimum and maximum are reduced in chunks, in the CPU's order. The
results are the CPU's (float32 within 1e-4 of the output scale; in practice its bits). Any
channel count (the CPU warps groups of 4). The batch may be NumPy or a device array; the
matrices and per-image values are NumPy (small, checked on the host, then copied in).
"""

from __future__ import annotations

from typing import Any, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _cuda
from .._checks import as_float32, as_numpy
from ..data import _affine
from ..image._common import FLOAT32_MAX, BORDERS
from ._memory import Call, _kind, shape_of
from .image import _device_dtype, check_affine

__all__ = ["augment_batch", "apply_batch", "warp_batch"]

_INTERPOLATIONS = ("nearest", "bilinear")


def _per_image(v: Any, name: str, n: int) -> Optional[np.ndarray]:
    """A per-image float32 vector of n finite values, or None."""
    if v is None:
        return None
    arr = as_float32(v, name)
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def augment_batch(x: Any, matrices: Any, interpolation: str, border: str, cval: float, shift: Any, scale: Any,
                  add: Any = None, clip: Optional[Tuple[float, float]] = None) -> Any:
    """GPU ``foveal._core.image.augment_batch``: ``x`` an ``N x H x W x C`` batch (uint8: warped
    to float32 with ``add`` and ``clip``; anything else as float32: with ``shift`` and ``scale``),
    ``matrices`` ``N x 2 x 3`` (source -> destination), ``interpolation`` ``"nearest"`` or
    ``"bilinear"``. Returns the float32 batch (of ``x``'s kind)."""
    u8 = (as_numpy(x, "x").dtype == np.uint8) if _kind(x) == "numpy" else _device_dtype(x) == np.uint8
    shape = shape_of(x, "x")
    if len(shape) != 4 or 0 in shape:
        raise ValueError(f"x must be a non-empty N x H x W x C array, got shape {shape}")
    n = shape[0]
    m = np.ascontiguousarray(as_numpy(matrices, "matrices"), dtype=np.float64)
    if m.shape != (n, 2, 3):
        raise ValueError(f"matrices must have shape ({n}, 2, 3), got {m.shape}")
    for k in range(n):
        check_affine(m[k], "matrices")
    if interpolation not in _INTERPOLATIONS:
        raise ValueError(f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if border not in BORDERS:
        raise ValueError(f"border must be one of {', '.join(map(repr, BORDERS))}, got {border!r}")
    cv = float(cval)
    if not np.isfinite(cv) or abs(cv) > FLOAT32_MAX:
        raise ValueError(f"cval must be finite (within the float32 range), got {cval!r}")
    shift_a, scale_a, add_a = _per_image(shift, "shift", n), _per_image(scale, "scale", n), _per_image(add, "add", n)
    lo = hi = 0.0
    if clip is not None:
        c = [float(v) for v in clip]
        if len(c) != 2 or not c[0] <= c[1] or not all(np.isfinite(c)):
            raise ValueError("clip must be a pair (low, high) with low <= high")
        lo, hi = c
    if (add_a is not None or clip is not None) and not u8:
        raise ValueError("add and clip need a uint8 x")
    if u8 and (shift_a is not None or scale_a is not None):
        raise ValueError("shift and scale need a float32 x")
    call = Call(x)
    src = call.input(x, "x", np.uint8 if u8 else np.float32)
    mats = call.input(m, "matrices", np.float64)
    bufs = [call.optional(v, name) for v, name in ((shift_a, "shift"), (scale_a, "scale"), (add_a, "add"))]
    dst = call.output(shape, np.float32)
    _cuda.augment_batch(src.ptr, dst.ptr, u8, list(shape), mats.ptr, interpolation, border, cv,
                        *(0 if b is None else b.ptr for b in bufs), lo, hi, clip is not None, call.host)
    return call.result(dst)


def apply_batch(x: Any, params: Union[Sequence[Mapping[str, Any]], Mapping[str, np.ndarray]],
                fill_mode: str, cval: float, order: int = 1, index: Optional[np.ndarray] = None) -> Any:
    """GPU :func:`foveal.data._augment.apply_batch` (one Keras transform per image: the affine
    map, channel shift and brightness in one pass); ``x`` a float32 ``N x H x W x C`` batch,
    NumPy or on the device. ``index``: the batch is ``x[index]`` (a NumPy ``x``, gathered on
    the host before the copy to the device)."""
    if index is not None:
        if _kind(x) != "numpy":
            raise TypeError("index needs a NumPy x")
        x = np.ascontiguousarray(as_numpy(x, "x")[np.asarray(index, dtype=np.int64)])
    shape = shape_of(x, "x")
    dtype = as_numpy(x, "x").dtype if _kind(x) == "numpy" else _device_dtype(x)
    if len(shape) != 4 or dtype != np.float32:
        raise ValueError(f"x must be an N x H x W x C float32 batch, got {dtype} {shape}")
    cols = params if isinstance(params, Mapping) else _affine.transform_columns(params)
    counts = {len(v) for v in cols.values()}
    if counts and counts != {shape[0]}:
        raise ValueError(f"params must hold one transform per image: {sorted(counts)} for {shape[0]}")
    if fill_mode not in _affine.FILL_MODES:
        raise ValueError(f"fill_mode must be one of {', '.join(map(repr, _affine.FILL_MODES))}, got {fill_mode!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got {order!r}")
    n, h, w, _ = shape
    if n == 0:
        call = Call(x)
        return call.result(call.output(shape, np.float32))
    matrices = _affine.affine_matrices(cols if cols else {"theta": np.zeros(n)}, h, w)
    return augment_batch(x, matrices, "nearest" if order == 0 else "bilinear", _affine.FILL_MODES[fill_mode],
                         float(cval), _affine._intensity(cols, "channel_shift_intensity", 0.0),
                         _affine._intensity(cols, "brightness", 1.0))


def warp_batch(x: Any, maps: np.ndarray, options: Tuple[str, str, float], add: Optional[np.ndarray] = None,
               clip: Optional[Tuple[float, float]] = None) -> Any:
    """GPU ``foveal.nn.layers._augment_chain.warp_batch``: each image of ``x`` (float32 or
    uint8, NumPy or on the device) warped by its output -> input map (``N x 3 x 3``) to float32,
    a uint8 batch with the fused brightness change (``add``, then ``clip``)."""
    fill_mode, interpolation, fill_value = options
    forward = np.ascontiguousarray(np.linalg.inv(maps)[:, :2, :])   # the kernel's source -> output
    u8 = (as_numpy(x, "x").dtype == np.uint8) if _kind(x) == "numpy" else _device_dtype(x) == np.uint8
    if not u8 and (add is not None or clip is not None):
        raise ValueError("a fused brightness change needs a uint8 batch")
    # the Random* layers' fill modes map to borders as ImageDataGenerator's do
    return augment_batch(x, forward, interpolation, _affine.FILL_MODES[fill_mode], fill_value, None, None, add, clip)
