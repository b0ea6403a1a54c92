"""The device switch's state, kept apart from :mod:`foveal._device` so that the device
implementations (``foveal._cuda_ops``) read it without importing the ops they stand in for."""

from __future__ import annotations

from typing import Any, Callable, Dict

#: The device foveal computes on ("cpu" or "cuda") and the float32 matrix-product precision.
state: Dict[str, str] = {"device": "cpu", "matmul_precision": "highest"}

#: The CPU implementation of each op under ``foveal._device.routed``, by name (an op the device
#: lacks falls back to it).
cpu_ops: Dict[str, Callable[..., Any]] = {}
