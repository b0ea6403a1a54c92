"""Pooling layers (``foveal.nn.layers.pooling``): :class:`MaxPooling2D`,
:class:`AveragePooling2D`, :class:`GlobalAveragePooling2D` and :class:`GlobalMaxPooling2D`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from ..._checks import as_pair
from .. import functional as F
from .base import (Layer, Shape, _axis_padding, _data_format, _padding_arg, _padding_config, _spatial_input,
                   _window_out, register_layer)

__all__ = ["MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D"]


class _Pooling2D(Layer):
    _forward = staticmethod(F.max_pool2d)

    def __init__(self, pool_size: Union[int, Tuple[int, int]] = 2,
                 strides: Union[int, Tuple[int, int], None] = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.pool_size = as_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else as_pair(strides, "strides")
        self.padding = _padding_arg(padding)
        if not isinstance(self.padding, str) and any(
                p >= k for pair, k in zip(self.padding, self.pool_size) for p in pair):
            raise ValueError(f"padding {self.padding} must be smaller than pool_size {self.pool_size} "
                             "on every side (a window must hold an input cell)")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, c = _spatial_input(self, input_shape)
        what = f"layer {self.name!r}"
        return (n, _window_out(h, self.pool_size[0], self.strides[0], _axis_padding(self.padding, 0), what),
                _window_out(w, self.pool_size[1], self.strides[1], _axis_padding(self.padding, 1), what), c)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        return type(self)._forward(x, self.pool_size, self.strides, self.padding)

    def adopt_input(self, x: np.ndarray) -> None:
        """Keep ``x``, this layer's input, where a fused step computed the pooling
        (``Conv2D.call_pooled``), for ``backward``."""
        self._x = x

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "data_format": "channels_last"}


@register_layer
class MaxPooling2D(_Pooling2D):
    """Max pooling (Keras ``MaxPooling2D``): ``strides=None`` means ``pool_size``; padding
    ``"valid"`` or ``"same"`` (or, beyond Keras, explicit ``((top, bottom), (left, right))``
    smaller than the window, as ONNX's ``pads``); padded cells never win."""

    _forward = staticmethod(F.max_pool2d)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.max_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding)

    def backward_through_relu(self, dy: np.ndarray) -> np.ndarray:
        """The input gradient continued through the ReLU that produced the input (the model
        fuses the two when a ReLU-ending layer feeds only this pooling)."""
        return F.max_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding,
                                     through_relu=True)


@register_layer
class AveragePooling2D(_Pooling2D):
    """Average pooling (Keras ``AveragePooling2D``); with ``"same"`` or explicit padding the
    padded cells are left out of each window's divisor, as in Keras (ONNX's
    ``count_include_pad=0``)."""

    _forward = staticmethod(F.avg_pool2d)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.avg_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding)


class _GlobalPooling2D(Layer):
    _forward = staticmethod(F.global_avg_pool2d)
    _backward = staticmethod(F.global_avg_pool2d_backward)

    def __init__(self, data_format: Optional[str] = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, _, _, c = _spatial_input(self, input_shape)
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        y = type(self)._forward(x)
        self._x = x
        return y.reshape(y.shape[0], 1, 1, y.shape[1]) if self.keepdims else y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if self.keepdims:
            dy = dy.reshape(dy.shape[0], dy.shape[-1])
        return type(self)._backward(dy, self._x)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


@register_layer
class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over H and W: ``N x H x W x C`` → ``N x C`` (``N x 1 x 1 x C`` with keepdims)."""

    _forward = staticmethod(F.global_avg_pool2d)
    _backward = staticmethod(F.global_avg_pool2d_backward)


@register_layer
class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over H and W: ``N x H x W x C`` → ``N x C`` (``N x 1 x 1 x C`` with keepdims)."""

    _forward = staticmethod(F.global_max_pool2d)
    _backward = staticmethod(F.global_max_pool2d_backward)
