"""Applying Keras ``ImageDataGenerator`` transform parameters to a float32 NHWC batch.

:func:`affine_matrix` turns one parameter dict into the single 2 x 3 affine map that does the
rotation, shift, shear, zoom and flips at once (:func:`affine_matrices`: a batch of them, given
as columns, in closed form), and :func:`apply_batch` runs those maps, the channel shift and the
brightness in one native pass per image (images in parallel on the thread pool, the warp rows
shared with ``foveal.image.warp_affine``).

Geometry, in the image's (x = column, y = row) coordinates with the origin at the centre
``c = ((w - 1) / 2, (h - 1) / 2)``: the output pixel ``p`` samples the input at
``c + R(theta) . T(ty, tx) . S(shear) . Z(zx, zy) . (p - c)``, where

* ``R`` = ``[[cos, -sin], [sin, cos]]`` (positive ``theta`` turns the content counter-clockwise
  on screen, as ``foveal.image.rotate``),
* ``T`` adds ``ty`` to x and ``tx`` to y (a positive ``tx`` moves the content ``tx`` rows up,
  a positive ``ty`` moves it ``ty`` columns left),
* ``S`` = ``[[1, -sin(shear)], [0, cos(shear)]]`` (degrees),
* ``Z`` = ``diag(zx, zy)`` (``zx`` > 1 shrinks the content horizontally, < 1 magnifies it),

then the result is mirrored left-right (``flip_horizontal``) and top-bottom (``flip_vertical``).
For square images this is exactly what Keras 3's ``apply_affine_transform`` (through
``ImageDataGenerator.apply_transform``) computes, with one deliberate difference: Keras 3 adds
its ``tx`` to the column coordinate and ``ty`` to the row, so its ``height_shift_range`` moves
content horizontally. Here ``tx`` is the row shift and ``ty`` the column shift, as the Keras
documentation describes ``height_shift_range``/``width_shift_range``. A second difference shows
on non-square images only: Keras 3 puts the centre at ``((h - 1) / 2, (w - 1) / 2)`` in
(x, y), i.e. transposed, so its rotations, shears and zooms of an ``h != w`` image pivot about
an off-centre point; here they pivot about the true centre.

Borders (Keras ``fill_mode`` -> ``foveal.image`` border): ``"nearest"`` -> ``"replicate"``,
``"constant"`` -> ``"constant"`` (``cval``), ``"reflect"`` -> ``"reflect"`` (``dcba|abcd``, as
SciPy's ``reflect``), ``"wrap"`` -> ``"wrap"`` (period ``n``). SciPy's ``ndimage`` ``"wrap"``,
which Keras uses, repeats with period ``n - 1`` (first and last samples overlap), so wrapped
pixels differ from Keras; ours is SciPy's ``"grid-wrap"``. With ``"constant"``, an output pixel
whose source lies less than one pixel outside the image blends the edge with ``cval``
(OpenCV's rule); SciPy gives ``cval`` outright there.

Intensity: ``channel_shift_intensity`` is added to every channel and the result clipped to the
minimum and maximum of the image as it enters the shift (after the warp), as Keras's
``apply_channel_shift``. ``brightness`` multiplies the float values (any range, no clipping);
Keras instead rounds the image through uint8 and Pillow's ``ImageEnhance.Brightness``
(truncating fractions and saturating at 255, or rescaling data outside 0..255).
"""

from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Sequence, Union

import numpy as np

from .. import _core
from .._device import routed
from ._affine import (FILL_MODES, _DEFAULTS, _column, _intensity, _param,  # noqa: F401
                      affine_matrices, affine_matrix, transform_columns)

__all__ = ["affine_matrix", "affine_matrices", "apply_batch", "transform_columns", "FILL_MODES"]

@routed
def apply_batch(x: np.ndarray,
                params: Union[Sequence[Mapping[str, Any]], Mapping[str, np.ndarray]],
                fill_mode: str, cval: float, order: int = 1,
                index: Optional[np.ndarray] = None) -> np.ndarray:
    """Apply one Keras transform per image of a batch, natively: each image's affine map,
    channel shift and brightness in one pass, images in parallel.

    Args:
        x: ``N x H x W x C`` float32 batch (any C).
        params: ``N`` dicts with Keras's keys (``theta, tx, ty, shear, zx, zy,
            flip_horizontal, flip_vertical, channel_shift_intensity, brightness``), or the
            same as columns, one array of ``N`` values per key (what
            :func:`transform_columns` returns; missing keys mean "no change").
        fill_mode: ``"nearest"``, ``"constant"``, ``"reflect"`` or ``"wrap"``.
        cval: the value outside the image for ``"constant"``.
        order: 1 bilinear, 0 nearest.
        index: None, or int64 indices into ``x``: the batch is ``x[index]``, read where it lies
            (a C-contiguous ``x`` of up to 4 channels is not copied).

    Returns:
        A new ``N x H x W x C`` float32 batch (``N = len(index)`` with an index).
    """
    if x.ndim != 4 or x.dtype != np.float32:
        raise ValueError(f"x must be an N x H x W x C float32 batch, got {x.dtype} {x.shape}")
    if index is not None and (x.shape[-1] > 4 or not x.flags.c_contiguous or len(index) == 0):
        x, index = x[index], None   # gathered here: the native path reads up to 4 channels
    cols = params if isinstance(params, Mapping) else transform_columns(params)
    counts = {len(v) for v in cols.values()}
    n = len(x) if index is None else len(index)
    if counts and counts != {n}:
        raise ValueError(f"params must hold one transform per image: {sorted(counts)} for {n}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}, got {fill_mode!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got {order!r}")
    border, interp = FILL_MODES[fill_mode], ("nearest" if order == 0 else "bilinear")
    h, w, ch = x.shape[1:]
    if n == 0:
        return np.empty((0, h, w, ch), np.float32)
    x = np.ascontiguousarray(x)
    matrices = affine_matrices(cols if cols else {"theta": np.zeros(n)}, h, w)
    shift = _intensity(cols, "channel_shift_intensity", 0.0)
    scale = _intensity(cols, "brightness", 1.0)
    if ch <= 4:
        return _core.image.augment_batch(x, matrices, interp, border, float(cval), shift, scale,
                                         index=None if index is None else np.asarray(index, np.int64))
    # More than 4 channels: warp groups of up to 4, then the intensity changes over all channels.
    out = np.concatenate([_core.image.augment_batch(np.ascontiguousarray(x[..., c0:c0 + 4]), matrices,
                                                    interp, border, float(cval), None, None)
                          for c0 in range(0, ch, 4)], axis=-1)
    if shift is not None:
        lo = out.min(axis=(1, 2, 3), keepdims=True)
        hi = out.max(axis=(1, 2, 3), keepdims=True)
        out = np.clip(out + shift[:, None, None, None], lo, hi)
    if scale is not None:
        out *= scale[:, None, None, None]
    return out
