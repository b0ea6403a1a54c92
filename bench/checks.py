"""The comparisons every benchmark makes before timing: a ratio for a wrong result means nothing.

Each returns a dict for the JSON: ``ok``, ``max_abs_err`` and, when the arrays cannot be
compared at all, a ``reason``.
"""

from __future__ import annotations

from typing import Any, Dict

import numpy as np


def check_close(ref: np.ndarray, out: np.ndarray, tol: float = 1e-3) -> Dict[str, Any]:
    """Compare two arrays (same layout). ok when |ref - out| <= tol + tol*|ref| everywhere."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": None,
                "reason": f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"}
    if ref.size == 0:
        return {"ok": True, "max_abs_err": 0.0}
    err = np.abs(ref - out)
    max_err = float(np.nanmax(err)) if np.isfinite(err).any() else float("inf")
    ok = bool(np.all(err <= tol + tol * np.abs(ref))) and bool(np.isfinite(out).all())
    return {"ok": ok, "max_abs_err": max_err}


def check_max_abs(ref: np.ndarray, out: np.ndarray, max_abs: float = 1.0) -> Dict[str, Any]:
    """Compare two arrays by absolute difference (e.g. uint8 images that may differ by rounding).

    ok when shape and dtype agree and ``|ref - out| <= max_abs`` everywhere; also reports the
    fraction of elements beyond ``max_abs`` (``frac_over``), to tell a few edge pixels from a
    wrong result."""
    ref = np.asarray(ref)
    out = np.asarray(out)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": None,
                "reason": f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"}
    if ref.dtype != out.dtype:
        return {"ok": False, "max_abs_err": None,
                "reason": f"dtype {out.dtype} != expected {ref.dtype}"}
    if ref.size == 0:
        return {"ok": True, "max_abs_err": 0.0, "frac_over": 0.0}
    err = np.abs(ref.astype(np.float64) - out.astype(np.float64))
    max_err = float(err.max())
    over = float(np.count_nonzero(err > max_abs)) / err.size
    return {"ok": bool(max_err <= max_abs), "max_abs_err": max_err, "frac_over": over}
