"""Applying Keras ``ImageDataGenerator`` transform parameters to a float32 NHWC batch.

Two functions: :func:`affine_matrix` turns one parameter dict into the single 2 x 3 affine map
that does the rotation, shift, shear, zoom and flips at once, and :func:`apply_batch` runs that
map, the channel shift and the brightness in one native pass per image (images in parallel on the
thread pool, the warp rows shared with ``foveal.image.warp_affine``).

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

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .. import _core

__all__ = ["affine_matrix", "apply_batch", "FILL_MODES"]

# Keras fill_mode -> foveal.image border name.
FILL_MODES = {"nearest": "replicate", "constant": "constant", "reflect": "reflect", "wrap": "wrap"}


def _param(params: Mapping[str, Any], key: str, default: float) -> float:
    v = params.get(key, default)
    if v is None:
        return default
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"params[{key!r}] must be a number, got {v!r}") from None
    if not math.isfinite(f):
        raise ValueError(f"params[{key!r}] must be finite, got {v!r}")
    return f


def affine_matrix(params: Mapping[str, Any], h: int, w: int) -> np.ndarray:
    """The 2 x 3 float64 map (source (x, y) -> destination, OpenCV ``warpAffine`` convention)
    of a Keras transform-parameter dict for an ``h x w`` image: rotation ``theta`` (degrees),
    shift ``tx`` (rows) and ``ty`` (columns), ``shear`` (degrees), zoom ``zx``/``zy``, then
    ``flip_horizontal``/``flip_vertical``. Missing keys mean "no change"; see the module
    docstring for the exact geometry and how it relates to Keras 3."""
    theta = math.radians(_param(params, "theta", 0.0))
    tx, ty = _param(params, "tx", 0.0), _param(params, "ty", 0.0)
    shear = math.radians(_param(params, "shear", 0.0))
    zx, zy = _param(params, "zx", 1.0), _param(params, "zy", 1.0)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    c, s = math.cos(theta), math.sin(theta)
    rotate = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    translate = np.array([[1.0, 0.0, ty], [0.0, 1.0, tx], [0.0, 0.0, 1.0]])
    shear_m = np.array([[1.0, -math.sin(shear), 0.0], [0.0, math.cos(shear), 0.0], [0.0, 0.0, 1.0]])
    zoom = np.diag([zx, zy, 1.0])
    to_centre = np.array([[1.0, 0.0, cx], [0.0, 1.0, cy], [0.0, 0.0, 1.0]])
    from_centre = np.array([[1.0, 0.0, -cx], [0.0, 1.0, -cy], [0.0, 0.0, 1.0]])
    # Destination -> source (what SciPy's affine_transform takes), then inverted.
    inverse = to_centre @ rotate @ translate @ shear_m @ zoom @ from_centre
    if abs(np.linalg.det(inverse[:2, :2])) < 1e-12:
        raise ValueError(f"params describe a singular transform (zx={zx}, zy={zy}, "
                         f"shear={math.degrees(shear)}): the image would collapse to a line")
    forward = np.linalg.inv(inverse)
    if params.get("flip_horizontal", False):
        forward = np.array([[-1.0, 0.0, w - 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ forward
    if params.get("flip_vertical", False):
        forward = np.array([[1.0, 0.0, 0.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]]) @ forward
    return np.ascontiguousarray(forward[:2])


def apply_batch(x: np.ndarray, params_list: Sequence[Mapping[str, Any]], fill_mode: str, cval: float,
                order: int = 1) -> np.ndarray:
    """Apply one Keras transform-parameter dict per image of a batch, natively: each image's
    affine map, channel shift and brightness in one pass, images in parallel.

    Args:
        x: ``N x H x W x C`` float32 batch (any C).
        params_list: ``N`` dicts with Keras's keys (``theta, tx, ty, shear, zx, zy,
            flip_horizontal, flip_vertical, channel_shift_intensity, brightness``).
        fill_mode: ``"nearest"``, ``"constant"``, ``"reflect"`` or ``"wrap"``.
        cval: the value outside the image for ``"constant"``.
        order: 1 bilinear, 0 nearest.

    Returns:
        A new ``N x H x W x C`` float32 batch.
    """
    if x.ndim != 4 or x.dtype != np.float32:
        raise ValueError(f"x must be an N x H x W x C float32 batch, got {x.dtype} {x.shape}")
    if len(params_list) != len(x):
        raise ValueError(f"params_list must hold one dict per image: {len(params_list)} for {len(x)}")
    if fill_mode not in FILL_MODES:
        raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}, got {fill_mode!r}")
    if order not in (0, 1):
        raise ValueError(f"order must be 0 (nearest) or 1 (bilinear), got {order!r}")
    border, interp = FILL_MODES[fill_mode], ("nearest" if order == 0 else "bilinear")
    n, h, w, ch = x.shape
    x = np.ascontiguousarray(x)
    matrices = np.stack([affine_matrix(p, h, w) for p in params_list]) if n else np.zeros((0, 2, 3))
    shift = np.array([_param(p, "channel_shift_intensity", 0.0) for p in params_list], np.float32)
    scale = np.array([_param(p, "brightness", 1.0) for p in params_list], np.float32)
    shift_arg = shift if np.any(shift) else None
    scale_arg = scale if np.any(scale != 1.0) else None
    if n == 0:
        return x.copy()
    if ch <= 4:
        return _core.image.augment_batch(x, matrices, interp, border, float(cval), shift_arg, scale_arg)
    # More than 4 channels: warp groups of up to 4, then the intensity changes over all channels.
    out = np.concatenate([_core.image.augment_batch(np.ascontiguousarray(x[..., c0:c0 + 4]), matrices,
                                                    interp, border, float(cval), None, None)
                          for c0 in range(0, ch, 4)], axis=-1)
    if shift_arg is not None:
        lo = out.min(axis=(1, 2, 3), keepdims=True)
        hi = out.max(axis=(1, 2, 3), keepdims=True)
        out = np.clip(out + shift[:, None, None, None], lo, hi)
    if scale_arg is not None:
        out *= scale[:, None, None, None]
    return out
