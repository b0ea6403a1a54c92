"""Where foveal computes: the device switch every build has (API.md, "CUDA build").

``"cpu"`` is the default and always works. ``"cuda"`` needs a build made with
``-Ccmake.define.FOVEAL_CUDA=ON`` (``build_info()["cuda_compiled"]``) and a GPU that answers
(``build_info()["cuda_available"]``); otherwise ``set_device("cuda")`` raises ``RuntimeError`` naming
CUDA and the device stays ``"cpu"``. The float32 matrix-product precision follows PyTorch's names.
"""

from __future__ import annotations

import functools
import importlib
from typing import Any, Callable, Optional, TypeVar

from . import _core
from ._device_state import cpu_ops as _cpu_ops, state as _state

F = TypeVar("F", bound=Callable[..., Any])

_DEVICES = ("cpu", "cuda")
_PRECISIONS = ("highest", "high", "medium")



def _device_name(device: object) -> str:
    if not isinstance(device, str):
        raise TypeError(f"device must be a str ('cpu' or 'cuda'), got {type(device).__name__}")
    name = device.strip().lower()
    if name.startswith("cuda:"):
        index = name[len("cuda:"):]
        if not index.isdigit():
            raise ValueError(f"device {device!r} is not 'cpu', 'cuda' or 'cuda:N'")
        name = "cuda"
    if name not in _DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    return name


def set_device(device: str) -> None:
    """Compute on ``"cpu"`` (the default) or ``"cuda"``.

    Raises ``RuntimeError`` (naming CUDA) when CUDA is not compiled into this build or no GPU
    answers; the device then stays what it was. ``ValueError`` for any other name.
    """
    name = _device_name(device)
    if name == "cuda":
        info = {**_core.build_info(), **cuda_build_info()}
        if not info.get("cuda_compiled", False):
            raise RuntimeError(
                "set_device('cuda'): this foveal build has no CUDA support; rebuild with "
                "`pip install . -Ccmake.define.FOVEAL_CUDA=ON` (nvcc on PATH or CUDACXX); "
                "the device stays 'cpu'")
        if not info.get("cuda_available", False):
            raise RuntimeError(
                "set_device('cuda'): foveal was built with CUDA but no CUDA GPU answers; "
                "the device stays 'cpu'")
    _state["device"] = name


def get_device() -> str:
    """The device foveal computes on now: ``"cpu"`` or ``"cuda"``."""
    return _state["device"]


def set_float32_matmul_precision(precision: str) -> None:
    """PyTorch's switch for float32 matrix products: ``"highest"`` (the default: exact float32
    math), ``"high"`` or ``"medium"`` (TF32 allowed on the CUDA build; the CPU always computes in
    float32)."""
    if not isinstance(precision, str):
        raise TypeError(f"precision must be a str, got {type(precision).__name__}")
    if precision not in _PRECISIONS:
        raise ValueError(f"precision must be one of {_PRECISIONS}, got {precision!r}")
    _state["matmul_precision"] = precision


def get_float32_matmul_precision() -> str:
    """The float32 matrix-product precision set by :func:`set_float32_matmul_precision`."""
    return _state["matmul_precision"]


def _cuda_module() -> Optional[Any]:
    """foveal._cuda, or None in a build without it."""
    try:
        return importlib.import_module("foveal._cuda")
    except ImportError:
        return None


def cuda_build_info() -> dict:
    """The CUDA module's report for :func:`foveal.build_info` (``cuda_compiled``, ``cuda_available``:
    a GPU answers now, ``cuda_devices``, ``cuda_runtime_version``, ``cuda_error``: why none
    answers, ...); empty in a build without CUDA (``_core`` then reports both False)."""
    mod = _cuda_module()
    return {} if mod is None else dict(mod.build_info())


def routed(fn: F) -> F:
    """Decorator at an op's dispatch point: while the device is ``"cuda"``, the op of the same
    name in ``foveal._cuda_ops`` runs instead, with the same arguments (NumPy in and out, or
    device arrays). The CPU implementation stays reachable as ``op.__wrapped__``."""
    _cpu_ops[fn.__name__] = fn

    @functools.wraps(fn)
    def op(*args: Any, **kwargs: Any) -> Any:
        if _state["device"] == "cuda":
            return getattr(importlib.import_module("foveal._cuda_ops"), fn.__name__)(*args, **kwargs)
        return fn(*args, **kwargs)
    return op  # type: ignore[return-value]
