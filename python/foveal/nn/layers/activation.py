"""Activations (``foveal.nn.layers.activation``): the names layers accept for ``activation=``,
the base class of layers that end in a fused activation (Conv2D, DepthwiseConv2D, Dense), and
the :class:`Activation`, :class:`ReLU` and :class:`Softmax` layers.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import numpy as np

from ..._checks import as_int, as_option
from .. import functional as F
from .. import initializers as _init
from .base import Layer, Weight, register_layer

__all__ = ["ACTIVATIONS", "Activation", "ReLU", "Softmax"]

_NATIVE_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
ACTIVATIONS = _NATIVE_ACTIVATIONS + ("softmax",)


def _standardize_activation(activation: Any, name: str = "activation") -> str:
    if activation is None:
        return "linear"
    return as_option(activation, name, ACTIVATIONS)


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "linear":
        return z
    if activation == "softmax":
        return F.softmax(z)
    if activation == "relu":
        return F.relu(z)
    if activation == "sigmoid":
        return F.sigmoid(z)
    return F.tanh(z)


def _activation_backward(dy: np.ndarray, y: np.ndarray, activation: str) -> np.ndarray:
    """The pre-activation gradient from the output gradient ``dy`` and the output ``y``."""
    if activation == "linear":
        return dy
    if activation == "softmax":
        return F.softmax_backward(dy, y)
    return F.activation_backward(dy, y, activation)


class _ActivatedLayer(Layer):
    """Shared backward for layers computing ``activation(linear(x))`` with a fused activation."""

    activation: str

    def _kernel_args(self, activation: Any, use_bias: bool, kernel_initializer: Any,
                     bias_initializer: Any) -> None:
        """Standardize the arguments shared by Conv2D, DepthwiseConv2D and Dense."""
        self.activation = _standardize_activation(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = _init.get(kernel_initializer, "kernel_initializer")
        self.bias_initializer = _init.get(bias_initializer, "bias_initializer")
        self.kernel: Optional[Weight] = None
        self.bias: Optional[Weight] = None

    @property
    def output_activation(self) -> Optional[str]:  # type: ignore[override]
        return self.activation

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return self.backward_from_preactivation(
            _activation_backward(dy, self._y, self.activation), need_dx)


@register_layer
class Activation(_ActivatedLayer):
    """Apply an activation by name: "linear", "relu", "sigmoid", "tanh" or "softmax"."""

    def __init__(self, activation: Optional[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _standardize_activation(activation)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._y = _activate(x, self.activation)
        return self._y

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dz

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "activation": self.activation}


@register_layer
class ReLU(Layer):
    """Rectified linear unit (Keras ``ReLU``): ``x`` for ``threshold <= x < max_value``,
    ``max_value`` above, ``negative_slope * (x - threshold)`` below the threshold."""

    def __init__(self, max_value: Optional[float] = None, negative_slope: float = 0.0,
                 threshold: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if max_value is not None and max_value < 0:
            raise ValueError(f"max_value must be >= 0, got {max_value!r}")
        if negative_slope < 0:
            raise ValueError(f"negative_slope must be >= 0, got {negative_slope!r}")
        self.max_value = None if max_value is None else float(max_value)
        self.negative_slope = float(negative_slope)
        self.threshold = float(threshold)
        self._plain = self.max_value is None and self.negative_slope == 0 and self.threshold == 0

    @property
    def output_activation(self) -> Optional[str]:  # type: ignore[override]
        return "relu" if self._plain else None

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if self._plain:
            self._y = F.relu(x)
            return self._y
        self._x = x
        t = np.float32(self.threshold)
        y = np.where(x >= t, x, np.float32(self.negative_slope) * (x - t)).astype(np.float32)
        if self.max_value is not None:
            np.minimum(y, np.float32(self.max_value), out=y)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if self._plain:
            return F.activation_backward(dy, self._y, "relu")
        x = self._x
        slope = np.where(x >= np.float32(self.threshold), np.float32(1), np.float32(self.negative_slope))
        if self.max_value is not None:
            slope = np.where(x >= np.float32(self.max_value), np.float32(0), slope)
        return (dy * slope).astype(np.float32)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dz

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "max_value": self.max_value,
                "negative_slope": self.negative_slope, "threshold": self.threshold}


@register_layer
class Softmax(Layer):
    """Softmax along ``axis`` (Keras ``Softmax``)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = as_int(axis, "axis")

    @property
    def output_activation(self) -> Optional[str]:  # type: ignore[override]
        return "softmax" if self.axis == -1 else None

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._y = F.softmax(x, self.axis)
        return self._y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.softmax_backward(dy, self._y, self.axis)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dz

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}

