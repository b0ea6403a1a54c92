"""Saturating pixel arithmetic: add, subtract, blend (part of ``foveal.image``)."""

from __future__ import annotations

from typing import Any, Optional, Tuple

import numpy as np

from ._common import as_factor, pointwise
from ._pixels import as_image


def _pair(a: Any, b: Any) -> Tuple[np.ndarray, np.ndarray]:
    x = as_image(a, "a")
    if np.isscalar(b):
        y = np.full(x.shape, as_factor(b, "b"), dtype=np.float64)
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
    return pointwise("add", x, y)


def subtract(a: Any, b: Any) -> np.ndarray:
    """``a - b``; uint8 saturates at 0 (OpenCV ``subtract``). ``b`` may be a scalar."""
    x, y = _pair(a, b)
    return pointwise("subtract", x, y)


def blend(a: Any, b: Any, alpha: float, beta: Optional[float] = None, gamma: float = 0.0) -> np.ndarray:
    """``a*alpha + b*beta + gamma`` with ``beta = 1 - alpha`` by default (OpenCV
    ``addWeighted``; uint8 rounded and saturated)."""
    x, y = _pair(a, b)
    al = as_factor(alpha, "alpha")
    be = 1.0 - al if beta is None else as_factor(beta, "beta")
    return pointwise("blend", x, y, al, be, as_factor(gamma, "gamma"))

