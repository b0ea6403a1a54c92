"""The per-image transform parameters of ``ImageDataGenerator`` as arrays and affine
matrices (``foveal.data._augment``'s pure half), shared with its GPU form
(``foveal._cuda_ops.augment``). No imports from the operators, so either can use them."""

from __future__ import annotations

import math
from typing import Any, Dict, Mapping, Sequence

import numpy as np


# Keras fill_mode -> foveal.image border name.
FILL_MODES = {"nearest": "replicate", "constant": "constant", "reflect": "reflect", "wrap": "wrap"}

# The numeric keys of a transform-parameter dict and their "no change" values.
_DEFAULTS = {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
             "channel_shift_intensity": 0.0, "brightness": 1.0}


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


def _column(params_list: Sequence[Mapping[str, Any]], key: str, default: float) -> np.ndarray:
    """One parameter of every dict, as a float64 array (missing or None: ``default``)."""
    return np.array([_param(p, key, default) for p in params_list], dtype=np.float64)


def transform_columns(params_list: Sequence[Mapping[str, Any]]) -> Dict[str, np.ndarray]:
    """Keras transform-parameter dicts as one array per key (``N`` values each): the numeric
    keys as float64 (missing keys: no change), the flips as bool. Checks every value."""
    cols = {key: _column(params_list, key, default) for key, default in _DEFAULTS.items()}
    for key in ("flip_horizontal", "flip_vertical"):
        cols[key] = np.array([bool(p.get(key, False)) for p in params_list], dtype=bool)
    return cols


def affine_matrices(cols: Mapping[str, np.ndarray], h: int, w: int) -> np.ndarray:
    """The ``N x 2 x 3`` float64 maps (source (x, y) -> destination, OpenCV ``warpAffine``
    convention) of ``N`` transforms given as columns (see :func:`transform_columns`; missing
    keys mean "no change") for ``h x w`` images, in closed form. See the module docstring for
    the geometry."""
    n = len(next(iter(cols.values()))) if cols else 0

    def col(key: str, default: float) -> np.ndarray:
        v = cols.get(key)
        return np.full(n, default) if v is None else np.asarray(v, dtype=np.float64)

    theta, shear = np.radians(col("theta", 0.0)), np.radians(col("shear", 0.0))
    tx, ty = col("tx", 0.0), col("ty", 0.0)
    zx, zy = col("zx", 1.0), col("zy", 1.0)
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    # Destination -> source: p -> c + R (t + S Z (p - c)), with the linear part L = R S Z.
    c, s = np.cos(theta), np.sin(theta)
    cs, ss = np.cos(theta + shear), np.sin(theta + shear)  # R S = [[c, -ss], [s, cs]]
    det = zx * zy * np.cos(shear)
    bad = np.abs(det) < 1e-12
    if np.any(bad):
        k = int(np.argmax(bad))
        raise ValueError(f"params describe a singular transform (zx={zx[k]}, zy={zy[k]}, "
                         f"shear={np.degrees(shear[k])}): the image would collapse to a line")
    # The forward map is the inverse: q -> L^-1 q + (c - L^-1 (c + R t)).
    inv = np.empty((n, 2, 2))
    inv[:, 0, 0], inv[:, 0, 1] = cs * zy / det, ss * zy / det
    inv[:, 1, 0], inv[:, 1, 1] = -s * zx / det, c * zx / det
    shift_x = cx + c * ty - s * tx  # c + R t, with t = (ty, tx) in (x, y)
    shift_y = cy + s * ty + c * tx
    out = np.empty((n, 2, 3))
    out[:, :, :2] = inv
    out[:, 0, 2] = cx - (inv[:, 0, 0] * shift_x + inv[:, 0, 1] * shift_y)
    out[:, 1, 2] = cy - (inv[:, 1, 0] * shift_x + inv[:, 1, 1] * shift_y)
    for key, row, size in (("flip_horizontal", 0, w), ("flip_vertical", 1, h)):
        flip = np.asarray(cols.get(key, np.zeros(n, bool)), dtype=bool)
        out[flip, row] *= -1.0
        out[flip, row, 2] += size - 1.0
    return out


def affine_matrix(params: Mapping[str, Any], h: int, w: int) -> np.ndarray:
    """The 2 x 3 float64 map (source (x, y) -> destination, OpenCV ``warpAffine`` convention)
    of a Keras transform-parameter dict for an ``h x w`` image: rotation ``theta`` (degrees),
    shift ``tx`` (rows) and ``ty`` (columns), ``shear`` (degrees), zoom ``zx``/``zy``, then
    ``flip_horizontal``/``flip_vertical``. Missing keys mean "no change"; see the module
    docstring for the exact geometry and how it relates to Keras 3."""
    return affine_matrices(transform_columns([params]), h, w)[0]


def _intensity(cols: Mapping[str, np.ndarray], key: str, neutral: float) -> "np.ndarray | None":
    """A per-image intensity parameter as float32, or None when it changes no image."""
    v = cols.get(key)
    if v is None:
        return None
    v = np.asarray(v, dtype=np.float32)
    return v if np.any(v != neutral) else None
