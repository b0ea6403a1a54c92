"""Argument normalization shared by the public modules: every error names the argument."""

from __future__ import annotations

import math
import numbers
from typing import Any, Tuple

import numpy as np

Pair = Tuple[int, int]

#: DLPack device types whose memory the CPU reads (kDLCPU, kDLCUDAHost, kDLROCMHost).
_DLPACK_HOST = (1, 3, 11)


def as_numpy(x: Any, name: str) -> np.ndarray:
    """``x`` as a NumPy array, without a copy wherever its memory allows: an ``ndarray`` as is;
    an object with ``__dlpack__`` (a PyTorch CPU tensor, a JAX CPU array...) through
    :func:`numpy.from_dlpack`, a view of the same memory (strides kept: a permuted tensor stays a
    strided view, and only a later step that needs C order copies it); otherwise
    :func:`numpy.asarray` (``__array__``, ``__array_interface__``, lists, scalars).

    Memory on another device (a CUDA tensor, a CuPy array) is a TypeError that names ``name``
    and says to move it to the CPU; so is anything NumPy cannot read as an array."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "__dlpack__") and hasattr(x, "__dlpack_device__"):
        try:
            device = x.__dlpack_device__()
        except Exception:  # noqa: BLE001 - an odd producer: let np.asarray try below
            device = None
        if device is not None and int(device[0]) not in _DLPACK_HOST:
            raise TypeError(f"{name} lives on a device (DLPack device {tuple(device)}), not in "
                            "CPU memory; move it to the CPU first (e.g. tensor.cpu())")
        try:
            return np.from_dlpack(x)
        except (BufferError, TypeError, ValueError, RuntimeError):
            pass  # e.g. a tensor that requires grad, or a dtype NumPy lacks: try __array__
    try:
        return np.asarray(x)
    except (ValueError, TypeError, RuntimeError) as e:
        raise TypeError(f"{name} must be an array of numbers: {e}") from None


def as_real_array(x: Any, name: str) -> np.ndarray:
    """Any array-like of real numbers (bool, int or float) as a NumPy array, dtype kept
    (NumPy arrays and DLPack/array-interface objects such as PyTorch CPU tensors without a copy:
    see :func:`as_numpy`)."""
    arr = as_numpy(x, name)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers (bool, int or float), got dtype {arr.dtype}")
    return arr


def as_float32(x: Any, name: str) -> np.ndarray:
    """Any array-like of real numbers as a C-contiguous float32 array (copied only if needed)."""
    # np.asarray keeps 0-D arrays 0-D (np.ascontiguousarray would promote them to 1-D).
    return np.asarray(as_real_array(x, name), dtype=np.float32, order="C")


def as_int(v: Any, name: str, minimum: int | None = None) -> int:
    """An integer argument (Python or NumPy int, or an integral float); bools are rejected."""
    if type(v) is int:  # the usual case, without the ABC checks below (~2 us -> 0.2 us)
        if abs(v) > 2**62:
            raise ValueError(f"{name} is too large, got {v}")
        if minimum is not None and v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {v}")
        return v
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be an integer, got {type(v).__name__}")
    if isinstance(v, numbers.Integral):
        out = int(v)
    else:
        f = float(v)
        if not math.isfinite(f) or f != int(f):
            raise ValueError(f"{name} must be an integer, got {v!r}")
        out = int(f)
    if abs(out) > 2**62:  # beyond what the native layer's 64-bit sizes can hold
        raise ValueError(f"{name} is too large, got {out}")
    if minimum is not None and out < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {out}")
    return out


def as_pair(v: Any, name: str, minimum: int | None = 1) -> Pair:
    """An int or an (h, w) pair of ints, as Keras accepts for strides, sizes and rates."""
    if isinstance(v, (tuple, list, np.ndarray)):
        items = list(v)
        if len(items) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return (as_int(items[0], name, minimum), as_int(items[1], name, minimum))
    i = as_int(v, name, minimum)
    return (i, i)


def as_option(v: Any, name: str, options: tuple[str, ...]) -> str:
    """A string option, case-insensitive, from a fixed set."""
    if not isinstance(v, str):
        raise TypeError(f"{name} must be one of {', '.join(map(repr, options))}, got {v!r}")
    s = v.lower()
    if s not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {v!r}")
    return s


def as_bool(v: Any, name: str) -> bool:
    """A True/False argument (Python or NumPy bool); 0/1 and other truthy values are rejected."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {v!r}")
    return bool(v)


def as_float_dtype(dtype: Any) -> str:
    """The name of a floating NumPy dtype (``"float32"``...) given for ``dtype``; anything else
    is an error."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be a floating dtype such as 'float32', got {dtype!r}") from None
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating dtype such as 'float32', got {dtype!r}")
    return dt.name


def as_existing_path(path: Any, name: str, kind: str = "file") -> str:
    """``path`` (a str or os.PathLike) as a str naming an existing ``kind`` ("file" or
    "folder"): TypeError naming ``name`` for anything else, FileNotFoundError when it is missing."""
    import os
    try:
        text = os.fspath(path)
    except TypeError:
        raise TypeError(f"{name} must be a path, got {type(path).__name__}") from None
    exists = os.path.isfile(text) if kind == "file" else os.path.isdir(text)
    if not exists:
        raise FileNotFoundError(f"{name}: no such {kind}: {text!r}")
    return text
