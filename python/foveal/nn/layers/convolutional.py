"""Convolution layers (``foveal.nn.layers.convolutional``): :class:`Conv2D`,
:class:`DepthwiseConv2D`, :class:`SeparableConv2D` and :class:`Conv2DTranspose`, each a call into
:mod:`foveal.nn.functional` forward and backward, with the activation fused.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union

import numpy as np

from ..._checks import as_int, as_pair
from .. import functional as F
from .. import initializers as _init
from .activation import _ActivatedLayer
from .core import _wanted_grads
from .base import (Shape, Weight, _axis_padding, _data_format, _padding_arg, _padding_config, _shape_str,
                   _spatial_input, _window_out, register_layer)

__all__ = ["Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose"]


def _window_args(layer: Any, filters: int, kernel_size: Any, strides: Any, padding: str,
                 data_format: Optional[str], dilation_rate: Any) -> None:
    """Standardize the window arguments Conv2D and SeparableConv2D share (Keras's meanings)."""
    _data_format(data_format)
    layer.filters = as_int(filters, "filters", 1)
    layer.kernel_size = as_pair(kernel_size, "kernel_size")
    layer.strides = as_pair(strides, "strides")
    layer.padding = _padding_arg(padding)
    layer.dilation_rate = as_pair(dilation_rate, "dilation_rate")


def _native_dbias(layer: Any, want_b: bool) -> bool:
    """Whether the backward kernel should sum the bias gradient: only under float32 (under
    mixed_bfloat16 it would sum the bfloat16-rounded ``dz``; :func:`_bias_grad` sums the float32
    one instead)."""
    return want_b and layer.compute_dtype == "float32"


def _bias_grad(layer: Any, dz: np.ndarray, db: Optional[np.ndarray]) -> Optional[np.ndarray]:
    """The bias gradient: the kernel's own sum ``db`` under float32; under mixed_bfloat16 the
    sum of the float32 ``dz`` (the kernel was not asked for one: :func:`_native_dbias`)."""
    if layer.compute_dtype == "float32":
        return db
    return dz.reshape(-1, dz.shape[-1]).sum(axis=0, dtype=np.float64).astype(np.float32)


@register_layer
class Conv2D(_ActivatedLayer):
    """2-D convolution over NHWC inputs (Keras ``Conv2D``): kernel ``kh x kw x (cin/groups) x
    filters``, bias ``filters``.

    Args:
        filters: output channels.
        kernel_size: an int or ``(kh, kw)``.
        strides, dilation_rate: an int or a pair.
        padding: ``"valid"`` or ``"same"`` (TensorFlow's rule, odd pixel bottom/right); also,
            beyond Keras (models imported from ONNX), explicit zero padding: an int, ``(ph, pw)``
            or ``((top, bottom), (left, right))``.
        groups: channel groups (``cin`` and ``filters`` divisible by it).
        activation: None/"linear" or a name of foveal.nn.functional.activation ("relu", "gelu",
            "hard_silu", ...; fused into the kernel) or "softmax".
        use_bias, kernel_initializer, bias_initializer: as Keras.
    """

    def __init__(self, filters: int, kernel_size: Union[int, Tuple[int, int]],
                 strides: Union[int, Tuple[int, int]] = 1, padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Union[int, Tuple[int, int]] = 1,
                 groups: int = 1, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _window_args(self, filters, kernel_size, strides, padding, data_format, dilation_rate)
        self.groups = as_int(groups, "groups", 1)
        if self.filters % self.groups:
            raise ValueError(f"filters ({self.filters}) must be divisible by groups ({self.groups})")
        self._kernel_args(activation, use_bias, kernel_initializer, bias_initializer)

    def build(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        cin = shape[-1]
        if cin is None or cin % self.groups:
            raise ValueError(f"layer {self.name!r}: input channels ({cin}) must be known and "
                             f"divisible by groups ({self.groups})")
        self.kernel = self.add_weight("kernel", (*self.kernel_size, cin // self.groups, self.filters),
                                      self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        cin = self.kernel.shape[2] * self.groups
        if shape[-1] != cin:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) was built for {cin} input "
                             f"channels, got shape {_shape_str(shape)}")

    def _effective(self) -> Tuple[int, int]:
        k, d = self.kernel_size, self.dilation_rate
        return (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, _ = _spatial_input(self, input_shape)
        eh, ew = self._effective()
        what = f"layer {self.name!r}"
        return (n, _window_out(h, eh, self.strides[0], _axis_padding(self.padding, 0), what),
                _window_out(w, ew, self.strides[1], _axis_padding(self.padding, 1), what), self.filters)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x = self._compute_operand(x)
        kernel = self._compute_operand(self.kernel.value)
        return self._linear_then_activation(
            lambda act: F.conv2d(x, kernel, self.bias.value if self.use_bias else None,
                                 self.strides, self.padding, self.dilation_rate, self.groups, act),
            training)

    def call_pooled(self, x: np.ndarray, pool_size: Tuple[int, int], pool: str,
                    training: bool = False) -> Tuple[Optional[np.ndarray], np.ndarray]:
        """``(y, pooled)``: ``call(x, training)`` and its ``pool`` (``"max"``/``"average"``)
        pooling in ``pool_size`` windows with equal strides and no padding, in one pass
        (:func:`F.conv2d_pool`). In training ``y`` is written and kept for ``backward``, as
        ``call`` keeps it; in inference it is never made (None). Not for softmax, nor in
        training for an activation whose gradient needs its input."""
        assert self.activation != "softmax" and not (training and self.activation in F.GRAD_FROM_INPUT)
        self._x = x = self._compute_operand(x)
        out = F.conv2d_pool(x, self._compute_operand(self.kernel.value),
                            self.bias.value if self.use_bias else None, self.strides, self.padding,
                            self.dilation_rate, self.groups,
                            None if self.activation == "linear" else self.activation, pool_size,
                            pool, return_conv=training)
        y, pooled = out if training else (None, out)
        self._z, self._y = None, y
        return y, pooled

    def call_moments(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``call(x, training=True)`` of a layer without an activation, also returning the
        per-channel mean and sum of squared deviations (float64) of its output, for the
        BatchNormalization that follows it in a training step (:func:`F.conv2d_moments`)."""
        self._x = x = self._compute_operand(x)
        y, mean, m2 = F.conv2d_moments(x, self._compute_operand(self.kernel.value),
                                       self.bias.value if self.use_bias else None, self.strides,
                                       self.padding, self.dilation_rate, self.groups)
        self._z, self._y = None, y
        return y, mean, m2

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        want_k, want_b = _wanted_grads(self, self.kernel, self.bias)
        dx, dk, db = F.conv2d_backward(self._compute_operand(dz), self._x,
                                       self._compute_operand(self.kernel.value), self.strides, self.padding,
                                       self.dilation_rate, self.groups, need_dx=need_dx,
                                       need_dkernel=want_k or _native_dbias(self, want_b),
                                       need_dbias=_native_dbias(self, want_b))
        self.kernel.grad = dk if want_k else None
        if self.use_bias:
            self.bias.grad = _bias_grad(self, dz, db) if want_b else None
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "groups": self.groups, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}


@register_layer
class DepthwiseConv2D(Conv2D):
    """Depthwise 2-D convolution (Keras ``DepthwiseConv2D``): each input channel ``c`` is
    convolved with ``depth_multiplier`` filters; output channel ``c*depth_multiplier + m``.
    Weights: kernel ``kh x kw x C x depth_multiplier`` and bias ``C*depth_multiplier``."""

    def __init__(self, kernel_size: Union[int, Tuple[int, int]], strides: Union[int, Tuple[int, int]] = 1,
                 padding: str = "valid", depth_multiplier: int = 1, data_format: Optional[str] = None,
                 dilation_rate: Union[int, Tuple[int, int]] = 1, activation: Optional[str] = None,
                 use_bias: bool = True, depthwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        self.depth_multiplier = as_int(depth_multiplier, "depth_multiplier", 1)
        super().__init__(1, kernel_size, strides, padding, data_format, dilation_rate, 1, activation,
                         use_bias, depthwise_initializer, bias_initializer, **kwargs)
        self.depthwise_initializer = self.kernel_initializer

    def build(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        c = shape[-1]
        if c is None:
            raise ValueError(f"layer {self.name!r}: the input channel count must be known")
        self.filters, self.groups = c * self.depth_multiplier, c
        self.kernel = self.add_weight("kernel", (*self.kernel_size, c, self.depth_multiplier),
                                      self.depthwise_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (c * self.depth_multiplier,), self.bias_initializer)
        self.built = True

    @property
    def depthwise_kernel(self) -> Optional[Weight]:
        """The kernel weight, ``kh x kw x C x depth_multiplier`` (Keras's name for it)."""
        return self.kernel

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        if shape[-1] != self.kernel.shape[2]:
            raise ValueError(f"layer {self.name!r} (DepthwiseConv2D) was built for "
                             f"{self.kernel.shape[2]} input channels, got shape {_shape_str(shape)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, c = _spatial_input(self, input_shape)
        eh, ew = self._effective()
        what = f"layer {self.name!r}"
        return (n, _window_out(h, eh, self.strides[0], _axis_padding(self.padding, 0), what),
                _window_out(w, ew, self.strides[1], _axis_padding(self.padding, 1), what),
                None if c is None else c * self.depth_multiplier)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x = self._compute_operand(x)
        kernel = self._compute_operand(self.kernel.value)
        return self._linear_then_activation(
            lambda act: F.depthwise_conv2d(x, kernel,
                                           self.bias.value if self.use_bias else None,
                                           self.strides, self.padding, self.dilation_rate, act),
            training)

    def call_moments(self, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """As :meth:`Conv2D.call_moments` (:func:`F.depthwise_conv2d_moments`)."""
        self._x = x = self._compute_operand(x)
        y, mean, m2 = F.depthwise_conv2d_moments(x, self._compute_operand(self.kernel.value),
                                                 self.bias.value if self.use_bias else None,
                                                 self.strides, self.padding, self.dilation_rate)
        self._z, self._y = None, y
        return y, mean, m2

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        want_k, want_b = _wanted_grads(self, self.kernel, self.bias)
        dx, dk, db = F.depthwise_conv2d_backward(self._compute_operand(dz), self._x,
                                                 self._compute_operand(self.kernel.value), self.strides,
                                                 self.padding, self.dilation_rate, need_dx=need_dx,
                                                 need_dkernel=want_k or _native_dbias(self, want_b),
                                                 need_dbias=_native_dbias(self, want_b))
        self.kernel.grad = dk if want_k else None
        if self.use_bias:
            self.bias.grad = _bias_grad(self, dz, db) if want_b else None
        return dx

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        for key in ("filters", "groups", "kernel_initializer"):
            config.pop(key)
        config["depth_multiplier"] = self.depth_multiplier
        config["depthwise_initializer"] = _init.serialize(self.depthwise_initializer)
        return config



@register_layer
class SeparableConv2D(_ActivatedLayer):
    """Depthwise separable 2-D convolution (Keras ``SeparableConv2D``): a depthwise convolution
    (``depth_multiplier`` filters per input channel, no bias) followed by a 1x1 convolution to
    ``filters`` channels with the bias and the activation fused. Weights, in Keras's order:
    ``depthwise_kernel`` ``kh x kw x C x depth_multiplier``, ``pointwise_kernel``
    ``1 x 1 x C*depth_multiplier x filters``, ``bias`` ``filters``."""

    def __init__(self, filters: int, kernel_size: Union[int, Tuple[int, int]],
                 strides: Union[int, Tuple[int, int]] = 1, padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Union[int, Tuple[int, int]] = 1,
                 depth_multiplier: int = 1, activation: Optional[str] = None, use_bias: bool = True,
                 depthwise_initializer: Any = "glorot_uniform", pointwise_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _window_args(self, filters, kernel_size, strides, padding, data_format, dilation_rate)
        self.depth_multiplier = as_int(depth_multiplier, "depth_multiplier", 1)
        self._kernel_args(activation, use_bias, pointwise_initializer, bias_initializer)
        self.depthwise_initializer = _init.get(depthwise_initializer, "depthwise_initializer")
        self.pointwise_initializer = self.kernel_initializer
        self.depthwise_kernel: Optional[Weight] = None
        self.pointwise_kernel: Optional[Weight] = None

    def build(self, input_shape: Any) -> None:
        c = _spatial_input(self, input_shape)[-1]
        if c is None:
            raise ValueError(f"layer {self.name!r}: the input channel count must be known")
        m = c * self.depth_multiplier
        self.depthwise_kernel = self.add_weight("depthwise_kernel", (*self.kernel_size, c, self.depth_multiplier),
                                                self.depthwise_initializer)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (1, 1, m, self.filters),
                                                self.pointwise_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        if shape[-1] != self.depthwise_kernel.shape[2]:
            raise ValueError(f"layer {self.name!r} (SeparableConv2D) was built for "
                             f"{self.depthwise_kernel.shape[2]} input channels, got shape {_shape_str(shape)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, _ = _spatial_input(self, input_shape)
        k, d = self.kernel_size, self.dilation_rate
        what = f"layer {self.name!r}"
        return (n, _window_out(h, d[0] * (k[0] - 1) + 1, self.strides[0], _axis_padding(self.padding, 0), what),
                _window_out(w, d[1] * (k[1] - 1) + 1, self.strides[1], _axis_padding(self.padding, 1), what), self.filters)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x = self._compute_operand(x)
        t = F.depthwise_conv2d(x, self._compute_operand(self.depthwise_kernel.value), None, self.strides,
                               self.padding, self.dilation_rate)
        self._t = t = self._compute_operand(t)
        pointwise = self._compute_operand(self.pointwise_kernel.value)
        return self._linear_then_activation(
            lambda act: F.conv2d(t, pointwise,
                                 self.bias.value if self.use_bias else None, 1, "valid", 1, 1, act),
            training)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        want_dk, want_pk, want_b = _wanted_grads(self, self.depthwise_kernel, self.pointwise_kernel,
                                                 self.bias)
        need_dt = need_dx or want_dk   # the gradient between the two convolutions
        dt, dpk, db = F.conv2d_backward(self._compute_operand(dz), self._t,
                                        self._compute_operand(self.pointwise_kernel.value), 1, "valid", 1, 1,
                                        need_dx=need_dt,
                                        need_dkernel=want_pk or _native_dbias(self, want_b),
                                        need_dbias=_native_dbias(self, want_b))
        self.pointwise_kernel.grad = dpk if want_pk else None
        if self.use_bias:
            self.bias.grad = _bias_grad(self, dz, db) if want_b else None
        self.depthwise_kernel.grad = None
        if not need_dt:
            return None
        dx, ddk, _ = F.depthwise_conv2d_backward(self._compute_operand(dt), self._x,
                                                 self._compute_operand(self.depthwise_kernel.value), self.strides,
                                                 self.padding, self.dilation_rate, need_dx=need_dx,
                                                 need_dkernel=want_dk, need_dbias=False)
        self.depthwise_kernel.grad = ddk
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "depth_multiplier": self.depth_multiplier, "activation": self.activation,
                "use_bias": self.use_bias,
                "depthwise_initializer": _init.serialize(self.depthwise_initializer),
                "pointwise_initializer": _init.serialize(self.pointwise_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}


def _transposed_length(n: Optional[int], k: int, stride: int, padding: Any, output_padding: Optional[int],
                       what: str) -> Optional[int]:
    """Keras's output length of a transposed convolution (``k`` the dilated kernel size)."""
    if n is None:
        return None
    if not isinstance(padding, str):  # explicit (before, after), as ONNX ConvTranspose's pads
        out = (n - 1) * stride + k - padding[0] - padding[1] + (output_padding or 0)
    elif output_padding is None:
        out = n * stride + max(k - stride, 0) if padding == "valid" else n * stride
    else:
        pad = k // 2 if padding == "same" else 0
        out = (n - 1) * stride + k - 2 * pad + output_padding
    if out < 1:
        raise ValueError(f"{what}: the output would be empty (input {n}, kernel {k}, stride {stride})")
    return out


@register_layer
class Conv2DTranspose(_ActivatedLayer):
    """Transposed 2-D convolution (Keras ``Conv2DTranspose``), the upsampling of segmentation
    decoders: the gradient of a convolution with respect to its input. Kernel
    ``kh x kw x filters x C`` (Keras's layout), bias ``filters``. Output side, as Keras:
    ``in * stride + max(k - stride, 0)`` ("valid"), ``in * stride`` ("same"), or with
    ``output_padding`` ``(in - 1) * stride + k - 2 * pad + output_padding`` (pad ``k // 2`` for
    "same"); explicit ``padding`` ``((top, bottom), (left, right))`` (ONNX's ``pads``) gives
    ``(in - 1) * stride + k - top - bottom + output_padding``. Runs on the native convolution kernels (forward: the convolution's input gradient;
    backward: the convolution and its kernel gradient); the activation is its own pass."""

    def __init__(self, filters: int, kernel_size: Union[int, Tuple[int, int]],
                 strides: Union[int, Tuple[int, int]] = 1, padding: str = "valid",
                 output_padding: Union[None, int, Tuple[int, int]] = None, data_format: Optional[str] = None,
                 dilation_rate: Union[int, Tuple[int, int]] = 1, activation: Optional[str] = None,
                 use_bias: bool = True, kernel_initializer: Any = "glorot_uniform",
                 bias_initializer: Any = "zeros", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _window_args(self, filters, kernel_size, strides, padding, data_format, dilation_rate)
        self.output_padding = None if output_padding is None else as_pair(output_padding, "output_padding", 0)
        if self.output_padding is not None and any(p >= s for p, s in zip(self.output_padding, self.strides)):
            raise ValueError(f"output_padding {self.output_padding} must be smaller than strides {self.strides}")
        self._kernel_args(activation, use_bias, kernel_initializer, bias_initializer)

    def build(self, input_shape: Any) -> None:
        c = _spatial_input(self, input_shape)[-1]
        if c is None:
            raise ValueError(f"layer {self.name!r}: the input channel count must be known")
        self.kernel = self.add_weight("kernel", (*self.kernel_size, self.filters, c), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = _spatial_input(self, input_shape)
        if shape[-1] != self.kernel.shape[3]:
            raise ValueError(f"layer {self.name!r} (Conv2DTranspose) was built for {self.kernel.shape[3]} "
                             f"input channels, got shape {_shape_str(shape)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, _ = _spatial_input(self, input_shape)
        k, d = self.kernel_size, self.dilation_rate
        op = self.output_padding or (None, None)
        what = f"layer {self.name!r}"
        return (n, _transposed_length(h, d[0] * (k[0] - 1) + 1, self.strides[0], _axis_padding(self.padding, 0),
                                  op[0], what),
                _transposed_length(w, d[1] * (k[1] - 1) + 1, self.strides[1], _axis_padding(self.padding, 1),
                                  op[1], what),
                self.filters)

    def _conv_padding(self) -> Any:
        """The padding of the convolution this layer transposes (explicit with output_padding)."""
        if self.output_padding is None or not isinstance(self.padding, str):
            return self.padding
        k, d = self.kernel_size, self.dilation_rate
        pads = [(d[i] * (k[i] - 1) + 1) // 2 if self.padding == "same" else 0 for i in range(2)]
        return ((pads[0], pads[0]), (pads[1], pads[1]))

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x = self._compute_operand(np.ascontiguousarray(x, dtype=np.float32))
        shape = self.compute_output_shape(x.shape)
        kernel = self._compute_operand(self.kernel.value)

        def linear(act: Optional[str]) -> np.ndarray:
            like = np.zeros(shape, np.float32)  # the transposed convolution's input, for its shape
            z, _, _ = F.conv2d_backward(x, like, kernel, self.strides, self._conv_padding(),
                                        self.dilation_rate, need_dkernel=False)
            if self.use_bias:
                z += self.bias.value
            return z if act is None else F.activation(z, act)
        return self._linear_then_activation(linear, training)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        want_k, want_b = _wanted_grads(self, self.kernel, self.bias)
        self.kernel.grad = None
        dz_op = self._compute_operand(dz)
        if want_k:
            _, self.kernel.grad, _ = F.conv2d_backward(self._x, dz_op, self.kernel.value, self.strides,
                                                       self._conv_padding(), self.dilation_rate,
                                                       need_dx=False, need_dbias=False)
        if self.use_bias:
            self.bias.grad = dz.sum(axis=(0, 1, 2), dtype=np.float64).astype(np.float32) if want_b else None
        if not need_dx:
            return None
        return F.conv2d(dz_op, self._compute_operand(self.kernel.value), None, self.strides,
                        self._conv_padding(), self.dilation_rate)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": _padding_config(self.padding),
                "output_padding": None if self.output_padding is None else list(self.output_padding),
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}
