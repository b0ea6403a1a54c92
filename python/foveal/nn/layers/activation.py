"""Activations (``foveal.nn.layers.activation``): the names layers accept for ``activation=``,
the base class of layers that end in a fused activation (Conv2D, DepthwiseConv2D, Dense), and
the :class:`Activation`, :class:`ReLU` and :class:`Softmax` layers.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional

import numpy as np

from ..._checks import as_int, as_option
from .. import functional as F
from .. import initializers as _init
from .._args import _ACTIVATION_ALIASES, _ACTIVATIONS
from .base import Layer, Weight, register_layer

__all__ = ["ACTIVATIONS", "Activation", "ReLU", "Softmax"]

# The names layers accept for activation= (Keras 3 names; the elementwise ones are native, see
# foveal.nn.functional.activation) and the aliases that resolve to one of them.
ACTIVATIONS = _ACTIVATIONS + ("softmax",)
_ALIASES = _ACTIVATION_ALIASES


def _standardize_activation(activation: Any, name: str = "activation") -> str:
    """The Keras name of an activation argument: None -> "linear", "swish" -> "silu",
    "hard_swish" -> "hard_silu" (what Keras 3's get_config reports for them)."""
    if activation is None:
        return "linear"
    s = as_option(activation, name, ACTIVATIONS + tuple(_ALIASES))
    return _ALIASES.get(s, s)


def _activate(z: np.ndarray, activation: str) -> np.ndarray:
    if activation == "linear":
        return z
    if activation == "softmax":
        return F.softmax(z)
    return F.activation(z, activation)


def _activation_backward(dy: np.ndarray, y: np.ndarray, activation: str,
                         z: Optional[np.ndarray] = None) -> np.ndarray:
    """The pre-activation gradient from the output gradient ``dy``, the output ``y`` and, for
    the activations whose derivative needs it (F.GRAD_FROM_INPUT), the pre-activation ``z``."""
    if activation == "linear":
        return dy
    if activation == "softmax":
        return F.softmax_backward(dy, y)
    if activation in F.GRAD_FROM_INPUT:
        if z is None:
            raise RuntimeError(f"the gradient of activation {activation!r} needs the layer's "
                               "pre-activation, kept only by a call with training=True")
        return F.activation_backward(dy, None, activation, x=z)
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

    def _linear_then_activation(self, linear: Callable[[Optional[str]], np.ndarray],
                                training: bool) -> np.ndarray:
        """``linear(act)`` runs the layer's conv / dense with ``act`` fused into its kernel (None:
        none). The activation is fused, except softmax (a pass over the result) and, in
        training, an activation whose gradient needs its input (silu, hard_silu, gelu): then the
        pre-activation ``z`` is kept for backward and the activation runs as its own pass."""
        act = self.activation
        self._z: Optional[np.ndarray] = None
        if act == "softmax":
            y = F.softmax(linear(None))
        elif training and act in F.GRAD_FROM_INPUT:
            self._z = linear(None)
            y = F.activation(self._z, act)
        else:
            y = linear(None if act == "linear" else act)
        self._y = y
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return self.backward_from_preactivation(
            _activation_backward(dy, self._y, self.activation, getattr(self, "_z", None)), need_dx)


@register_layer
class Activation(_ActivatedLayer):
    """Apply an activation by name (Keras ``Activation``): "linear", "relu", "sigmoid", "tanh",
    "relu6", "hard_sigmoid", "hard_silu" ("hard_swish"), "silu" ("swish"), "gelu",
    "leaky_relu", "elu", "softplus" (see :func:`foveal.nn.functional.activation`) or
    "softmax"."""

    def __init__(self, activation: Optional[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.activation = _standardize_activation(activation)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._z = x if self.activation in F.GRAD_FROM_INPUT else None
        self._y = _activate(x, self.activation)
        return self._y

    def adopt_output(self, y: np.ndarray) -> None:
        """Keep ``y``, this layer's output computed by a fused step (an activation whose
        gradient needs only its output: ReLU, ReLU6), for ``backward``."""
        assert self.activation not in F.GRAD_FROM_INPUT
        self._z = None
        self._y = y

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
        # the forms with a native kernel (Keras 3's ReLU takes these ops for them too)
        self._native: Optional[str] = "relu" if self._plain else None
        if self.threshold == 0 and self.max_value == 6 and self.negative_slope == 0:
            self._native = "relu6"
        elif (self.threshold == 0 and self.max_value is None
              and np.float32(self.negative_slope) == np.float32(0.2)):
            self._native = "leaky_relu"

    @property
    def output_activation(self) -> Optional[str]:  # type: ignore[override]
        return self._native

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if self._native is not None:
            self._y = F.activation(x, self._native)
            return self._y
        self._x = x
        t = np.float32(self.threshold)
        y = np.where(x >= t, x, np.float32(self.negative_slope) * (x - t)).astype(np.float32)
        if self.max_value is not None:
            np.minimum(y, np.float32(self.max_value), out=y)
        return y

    def adopt_output(self, y: np.ndarray) -> None:
        """Keep ``y``, this layer's output computed by a fused step (a native form only), for
        ``backward``."""
        assert self._native is not None
        self._y = y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if self._native is not None:
            return F.activation_backward(dy, self._y, self._native)
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

