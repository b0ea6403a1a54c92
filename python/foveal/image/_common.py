"""Scalar arguments, option names and the native pointwise call shared by foveal.image."""

from __future__ import annotations

import math
from typing import Any, Optional, Union

import numpy as np

from .. import _core

Number = Union[int, float]

BORDERS = ("constant", "replicate", "nearest", "reflect", "reflect101", "wrap")
INTERPOLATIONS = ("nearest", "bilinear", "bicubic")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def as_number(v: Any, name: str) -> float:
    """``v`` as a finite float; a bool or a non-number is a TypeError."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f


def as_factor(v: Any, name: str) -> float:
    """A number the native pixel kernels use as a float32: finite there too (1e39 would become
    inf, and 0 * inf NaN)."""
    f = as_number(v, name)
    if abs(f) > FLOAT32_MAX:
        raise ValueError(f"{name} must lie within the float32 range (+-3.4e38), got {v!r}")
    return f


def pointwise(op: str, a: np.ndarray, b: Optional[np.ndarray], p: float = 0.0, q: float = 0.0,
              r: float = 0.0) -> np.ndarray:
    """The native per-pixel op ``op`` ("add", "subtract", "blend", "scale", "threshold")."""
    return _core.image.pointwise(op, a, b, p, q, r)

