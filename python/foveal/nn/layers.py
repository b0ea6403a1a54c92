"""Keras-style layers that train on the native kernels (``foveal.nn.layers``).

Every layer standardizes its arguments once in ``__init__``, creates its weights in
``build(input_shape)``, and has a forward ``call(x, training)`` that keeps what its
``backward(dy, need_dx)`` needs.  ``backward`` stores the weight gradients on the weights
(``weight.grad``) and returns the input gradient (``None`` when ``need_dx`` is false: the model
asks for none where nothing upstream learns, e.g. the first convolution).  Weights use Keras's
names, order and layouts, so ``get_weights``/``set_weights`` carry over from Keras.

Layers are called like Keras layers: on a symbolic tensor from :func:`Input` to build a
functional :class:`~foveal.nn.Model`, or eagerly on an array (inference mode by default).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _core
from . import functional as F
from . import initializers as _init
from .. import _random
from .._checks import as_float32, as_int, as_option, as_pair

__all__ = [
    "Weight", "SymbolicTensor", "Layer", "InputLayer", "Input", "Conv2D", "DepthwiseConv2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
    "Dense", "Dropout", "BatchNormalization", "Activation", "ReLU", "Softmax", "Rescaling", "Add",
    "Concatenate", "batch_norm_train_forward", "batch_norm_train_backward", "batch_norm_inference",
    "get", "serialize",
]

Shape = Tuple[Optional[int], ...]

# --------------------------------------------------------------------------------------------
# Weights, symbolic tensors, naming
# --------------------------------------------------------------------------------------------


class Weight:
    """One weight of a layer: a float32 C-contiguous array that the optimizer updates in place,
    and the gradient the last ``backward`` stored (``grad``, or None)."""

    __slots__ = ("name", "path", "value", "trainable", "grad")

    def __init__(self, name: str, path: str, value: np.ndarray, trainable: bool = True) -> None:
        self.name = name
        self.path = path
        self.value = np.ascontiguousarray(value, dtype=np.float32)
        self.trainable = trainable
        self.grad: Optional[np.ndarray] = None

    @property
    def shape(self) -> Tuple[int, ...]:
        """The value's shape."""
        return self.value.shape

    @property
    def dtype(self) -> np.dtype:
        """Always ``float32``."""
        return self.value.dtype

    def numpy(self) -> np.ndarray:
        """A copy of the value."""
        return self.value.copy()

    def assign(self, value: Any) -> None:
        """Copy ``value`` (same shape) into the weight, keeping the array object."""
        v = as_float32(value, self.path)
        if v.shape != self.value.shape:
            raise ValueError(f"weight {self.path} has shape {self.value.shape}, got {v.shape}")
        np.copyto(self.value, v)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.value if dtype is None else self.value.astype(dtype)

    def __repr__(self) -> str:
        return f"<Weight {self.path} shape={self.value.shape} trainable={self.trainable}>"


class SymbolicTensor:
    """A placeholder for an array flowing through a functional model (Keras's ``KerasTensor``).

    ``shape`` has ``None`` for the batch axis; ``layer`` is the layer that produced it and
    ``inputs`` the symbolic tensors that layer was called on.
    """

    __slots__ = ("shape", "layer", "inputs", "__weakref__")

    def __init__(self, shape: Shape, layer: "Layer", inputs: List["SymbolicTensor"]) -> None:
        self.shape = tuple(shape)
        self.layer = layer
        self.inputs = inputs

    @property
    def dtype(self) -> str:
        """Always ``"float32"``."""
        return "float32"

    @property
    def ndim(self) -> int:
        """Number of axes, the batch axis included."""
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<SymbolicTensor shape={self.shape} from {self.layer.name}>"


_name_counts: Dict[str, int] = {}


def _snake(name: str) -> str:
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(base: str) -> str:
    """``base``, then ``base_1``, ``base_2``... across the process (as Keras names layers)."""
    n = _name_counts.get(base, 0)
    _name_counts[base] = n + 1
    return base if n == 0 else f"{base}_{n}"


def _is_symbolic(inputs: Any) -> bool:
    if isinstance(inputs, SymbolicTensor):
        return True
    return isinstance(inputs, (list, tuple)) and len(inputs) > 0 and all(
        isinstance(t, SymbolicTensor) for t in inputs)


def _shape_str(shape: Any) -> str:
    return str(tuple(shape)).replace(",)", ")")


# --------------------------------------------------------------------------------------------
# Activations
# --------------------------------------------------------------------------------------------

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


def softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gradient through a softmax with output ``y``: ``y * (dy - sum(dy * y))`` along ``axis``."""
    return (y * (dy - np.sum(dy * y, axis=axis, keepdims=True))).astype(np.float32, copy=False)


def _activation_backward(dy: np.ndarray, y: np.ndarray, activation: str) -> np.ndarray:
    """The pre-activation gradient from the output gradient ``dy`` and the output ``y``."""
    if activation == "linear":
        return dy
    if activation == "softmax":
        return softmax_backward(dy, y)
    return F.activation_backward(dy, y, activation)


# --------------------------------------------------------------------------------------------
# Base classes
# --------------------------------------------------------------------------------------------


class Layer:
    """Base class of every layer.

    Subclasses implement ``build`` (create weights with :meth:`add_weight`), ``call`` (forward;
    keep what backward needs), ``backward`` and ``compute_output_shape``, and extend
    ``get_config``.  ``name``, ``trainable`` and ``dtype`` (only ``"float32"``) are accepted by all,
    and ``input_shape`` on a Sequential model's first layer, as Keras allows.
    """

    #: True for layers that take a list of inputs (Add, Concatenate).
    multi_input: bool = False

    def __init__(self, name: Optional[str] = None, trainable: bool = True, dtype: Any = None,
                 input_shape: Optional[Sequence[Optional[int]]] = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        if dtype not in (None, "float32", np.float32) and str(dtype) not in ("float32",):
            raise ValueError(f"dtype must be 'float32' (the only compute type), got {dtype!r}")
        if name is not None and (not isinstance(name, str) or not name or "/" in name):
            raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
        self.name: str = name if name is not None else unique_name(_snake(type(self).__name__))
        self._trainable = bool(trainable)
        self.built = False
        self._weights: List[Weight] = []
        self._batch_input_shape: Optional[Shape] = None
        if input_shape is not None:
            self._batch_input_shape = (None,) + tuple(
                None if d is None else as_int(d, "input_shape", 1) for d in input_shape)
        self.input_shape: Any = None   # set when called (with None for the batch axis)
        self.output_shape: Any = None

    # ---- weights ------------------------------------------------------------------------
    def add_weight(self, name: str, shape: Sequence[int], initializer: Any = "zeros",
                   trainable: bool = True) -> Weight:
        """Create a weight of ``shape`` filled by ``initializer`` and register it on the layer."""
        init = _init.get(initializer, f"{self.name}.{name} initializer")
        value = init(tuple(int(s) for s in shape))
        w = Weight(name, f"{self.name}/{name}", value, trainable)
        self._weights.append(w)
        return w

    @property
    def trainable(self) -> bool:
        """Whether the optimizer updates this layer's weights (Keras: set it before compile)."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)

    @property
    def weights(self) -> List[Weight]:
        """All weights, in Keras's order."""
        return list(self._weights)

    @property
    def trainable_weights(self) -> List[Weight]:
        """The weights an optimizer updates (none when the layer is frozen)."""
        return [w for w in self._weights if w.trainable] if self._trainable else []

    @property
    def non_trainable_weights(self) -> List[Weight]:
        """The weights no optimizer updates (all of them when the layer is frozen)."""
        if not self._trainable:
            return list(self._weights)
        return [w for w in self._weights if not w.trainable]

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights, in Keras's order and layouts."""
        return [w.value.copy() for w in self._weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set the weights from arrays in Keras's order and layouts (checked before any is set)."""
        weights = list(weights)
        expected = [w.shape for w in self._weights]
        if len(weights) != len(expected):
            raise ValueError(
                f"layer {self.name!r} ({type(self).__name__}) expects {len(expected)} weight "
                f"array(s) with shapes {[_shape_str(s) for s in expected]}, got {len(weights)}"
                + ("" if self.built else " (the layer is not built yet: call it on an input first)"))
        values = []
        for i, (w, v) in enumerate(zip(self._weights, weights)):
            v = as_float32(v, f"weights[{i}]")
            if v.shape != w.shape:
                raise ValueError(f"layer {self.name!r} ({type(self).__name__}): weight {w.name!r} "
                                 f"must have shape {_shape_str(w.shape)}, got {_shape_str(v.shape)}")
            values.append(v)
        for w, v in zip(self._weights, values):
            np.copyto(w.value, v)

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return int(sum(w.value.size for w in self._weights))

    # ---- building and calling -----------------------------------------------------------
    def build(self, input_shape: Any) -> None:
        """Create the weights for ``input_shape`` (batch axis None)."""
        self.built = True

    def compute_output_shape(self, input_shape: Any) -> Any:
        """The output shape for ``input_shape`` (batch axis None)."""
        return tuple(input_shape)

    def _check_input_shape(self, input_shape: Any) -> None:
        """Raise ValueError when a built layer is called on a shape it cannot take."""

    def _ensure_built(self, input_shape: Any) -> None:
        if not self.built:
            self.build(input_shape)
            self.built = True
        else:
            self._check_input_shape(input_shape)

    def __call__(self, inputs: Any, training: bool = False) -> Any:
        """Call on a :class:`SymbolicTensor` (or a list for merge layers) to add this layer to a
        functional graph, or on an array to run it eagerly (inference unless ``training``)."""
        if _is_symbolic(inputs):
            if self.multi_input:
                if not isinstance(inputs, (list, tuple)):
                    raise TypeError(f"layer {self.name!r} ({type(self).__name__}) takes a list of "
                                    "tensors")
                tensors = list(inputs)
                shape: Any = [t.shape for t in tensors]
            else:
                if isinstance(inputs, (list, tuple)):
                    if len(inputs) != 1:
                        raise TypeError(f"layer {self.name!r} ({type(self).__name__}) takes one "
                                        f"tensor, got {len(inputs)}")
                    inputs = inputs[0]
                tensors = [inputs]
                shape = inputs.shape
            self._ensure_built(shape)
            out_shape = self.compute_output_shape(shape)
            self.input_shape, self.output_shape = shape, out_shape
            return SymbolicTensor(out_shape, self, tensors)
        if self.multi_input:
            arrays: Any = [as_float32(a, f"{self.name} input") for a in inputs]
            shape = [(None,) + a.shape[1:] for a in arrays]
        else:
            arrays = as_float32(inputs, f"{self.name} input")
            if arrays.ndim < 1:
                raise ValueError(f"layer {self.name!r} needs a batch axis, got a scalar")
            shape = (None,) + arrays.shape[1:]
        self._ensure_built(shape)
        return self.call(arrays, training=bool(training))

    def call(self, x: Any, training: bool = False) -> Any:
        """Forward pass on float32 arrays; keeps what :meth:`backward` needs."""
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Any:
        """Gradient of the last :meth:`call`: stores weight gradients, returns the input
        gradient (a list for merge layers; None when ``need_dx`` is false)."""
        raise NotImplementedError(f"{type(self).__name__} has no backward pass")

    #: For layers ending in an activation: its name, so a loss can fuse its gradient.
    output_activation: Optional[str] = None

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Any:
        """Backward from the gradient before the layer's activation (a loss fused it)."""
        raise NotImplementedError

    # ---- config -------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (JSON-serializable); ``from_config`` rebuilds the layer."""
        config: Dict[str, Any] = {"name": self.name, "trainable": self._trainable, "dtype": "float32"}
        if self._batch_input_shape is not None:
            config["input_shape"] = list(self._batch_input_shape[1:])
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        """A new, unbuilt layer from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


class InputLayer(Layer):
    """The entry of a model: holds the input shape (Keras's ``InputLayer``).

    Args:
        shape: the shape of one sample (no batch axis), e.g. ``(32, 32, 3)``.
        batch_size: optional fixed batch size (only recorded).
        batch_shape: alternatively the full shape with batch axis.
    """

    def __init__(self, shape: Optional[Sequence[Optional[int]]] = None, batch_size: Optional[int] = None,
                 name: Optional[str] = None, batch_shape: Optional[Sequence[Optional[int]]] = None,
                 **kwargs: Any) -> None:
        kwargs.pop("trainable", None)
        kwargs.pop("dtype", None)
        super().__init__(name=name or unique_name("input_layer"), **kwargs)
        if batch_shape is not None:
            dims = list(batch_shape)
            if not dims:
                raise ValueError("batch_shape must include the batch axis")
            batch_size = dims[0]
            shape = dims[1:]
        if shape is None:
            raise ValueError("InputLayer needs shape= (the shape of one sample) or batch_shape=")
        if isinstance(shape, (int, np.integer)):
            shape = (shape,)
        self.sample_shape: Tuple[Optional[int], ...] = tuple(
            None if d is None else as_int(d, "shape", 1) for d in shape)
        self.batch_size = None if batch_size is None else as_int(batch_size, "batch_size", 1)
        self.built = True
        self.output_shape = (None,) + self.sample_shape
        self.output = SymbolicTensor(self.output_shape, self, [])

    def call(self, x: Any, training: bool = False) -> Any:
        return x

    def get_config(self) -> Dict[str, Any]:
        return {"batch_shape": [self.batch_size] + list(self.sample_shape), "name": self.name}


def Input(shape: Sequence[Optional[int]], batch_size: Optional[int] = None,
          name: Optional[str] = None) -> SymbolicTensor:
    """A symbolic input tensor of per-sample ``shape`` (Keras's ``keras.Input``), to be called
    layers on and passed to :class:`~foveal.nn.Model` as ``inputs``."""
    return InputLayer(shape=shape, batch_size=batch_size, name=name).output


# --------------------------------------------------------------------------------------------
# Convolutions
# --------------------------------------------------------------------------------------------


def _data_format(data_format: Any) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format must be 'channels_last' (foveal is NHWC), got {data_format!r}")


def _window_out(size: Optional[int], window: int, stride: int, padding: str, what: str) -> Optional[int]:
    """Output length along one axis for a window (kernel or pool) of effective size ``window``."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if size < window:
        raise ValueError(f"{what}: input size {size} is smaller than the window {window} "
                         "with padding='valid'")
    return (size - window) // stride + 1


def _spatial_input(layer: Layer, input_shape: Any, what: str = "an N x H x W x C input") -> Shape:
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) expects {what} "
                         f"(rank 4), got shape {_shape_str(shape)}")
    return shape


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


class Conv2D(_ActivatedLayer):
    """2-D convolution over NHWC inputs (Keras ``Conv2D``): kernel ``kh x kw x (cin/groups) x
    filters``, bias ``filters``.

    Args:
        filters: output channels.
        kernel_size: an int or ``(kh, kw)``.
        strides, dilation_rate: an int or a pair.
        padding: ``"valid"`` or ``"same"`` (TensorFlow's rule, odd pixel bottom/right).
        groups: channel groups (``cin`` and ``filters`` divisible by it).
        activation: None/"linear", "relu", "sigmoid", "tanh" (fused) or "softmax".
        use_bias, kernel_initializer, bias_initializer: as Keras.
    """

    def __init__(self, filters: int, kernel_size: Union[int, Tuple[int, int]],
                 strides: Union[int, Tuple[int, int]] = 1, padding: str = "valid",
                 data_format: Optional[str] = None, dilation_rate: Union[int, Tuple[int, int]] = 1,
                 groups: int = 1, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.filters = as_int(filters, "filters", 1)
        self.kernel_size = as_pair(kernel_size, "kernel_size")
        self.strides = as_pair(strides, "strides")
        self.padding = as_option(padding, "padding", ("valid", "same"))
        self.dilation_rate = as_pair(dilation_rate, "dilation_rate")
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
        return (n, _window_out(h, eh, self.strides[0], self.padding, what),
                _window_out(w, ew, self.strides[1], self.padding, what), self.filters)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        act = self.activation
        z = F.conv2d(x, self.kernel.value, self.bias.value if self.use_bias else None, self.strides,
                     self.padding, self.dilation_rate, self.groups,
                     None if act == "softmax" else act)
        y = F.softmax(z) if act == "softmax" else z
        self._x, self._y = x, y
        return y

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        dx, dk, db = F.conv2d_backward(dz, self._x, self.kernel.value, self.strides, self.padding,
                                       self.dilation_rate, self.groups, need_dx=need_dx)
        self.kernel.grad = dk
        if self.use_bias:
            self.bias.grad = db
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": "channels_last", "dilation_rate": list(self.dilation_rate),
                "groups": self.groups, "activation": self.activation, "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}


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
        return (n, _window_out(h, eh, self.strides[0], self.padding, what),
                _window_out(w, ew, self.strides[1], self.padding, what),
                None if c is None else c * self.depth_multiplier)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        act = self.activation
        z = F.depthwise_conv2d(x, self.kernel.value, self.bias.value if self.use_bias else None,
                               self.strides, self.padding, self.dilation_rate,
                               None if act == "softmax" else act)
        y = F.softmax(z) if act == "softmax" else z
        self._x, self._y = x, y
        return y

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        dx, dk, db = F.depthwise_conv2d_backward(dz, self._x, self.kernel.value, self.strides,
                                                 self.padding, self.dilation_rate, need_dx=need_dx)
        self.kernel.grad = dk.reshape(self.kernel.shape)
        if self.use_bias:
            self.bias.grad = db
        return dx

    def get_config(self) -> Dict[str, Any]:
        config = super().get_config()
        for key in ("filters", "groups", "kernel_initializer"):
            config.pop(key)
        config["depth_multiplier"] = self.depth_multiplier
        config["depthwise_initializer"] = _init.serialize(self.depthwise_initializer)
        return config


# --------------------------------------------------------------------------------------------
# Pooling, reshaping
# --------------------------------------------------------------------------------------------


class _Pooling2D(Layer):
    _forward = staticmethod(F.max_pool2d)

    def __init__(self, pool_size: Union[int, Tuple[int, int]] = 2,
                 strides: Union[int, Tuple[int, int], None] = None, padding: str = "valid",
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.pool_size = as_pair(pool_size, "pool_size")
        self.strides = self.pool_size if strides is None else as_pair(strides, "strides")
        self.padding = as_option(padding, "padding", ("valid", "same"))

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, c = _spatial_input(self, input_shape)
        what = f"layer {self.name!r}"
        return (n, _window_out(h, self.pool_size[0], self.strides[0], self.padding, what),
                _window_out(w, self.pool_size[1], self.strides[1], self.padding, what), c)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._x = x
        return type(self)._forward(x, self.pool_size, self.strides, self.padding)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "pool_size": list(self.pool_size),
                "strides": list(self.strides), "padding": self.padding,
                "data_format": "channels_last"}


class MaxPooling2D(_Pooling2D):
    """Max pooling (Keras ``MaxPooling2D``): ``strides=None`` means ``pool_size``; padding
    ``"valid"`` or ``"same"``."""

    _forward = staticmethod(F.max_pool2d)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.max_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding)

    def backward_through_relu(self, dy: np.ndarray) -> np.ndarray:
        """The input gradient continued through the ReLU that produced the input (the model
        fuses the two when a ReLU-ending layer feeds only this pooling)."""
        return F.max_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding,
                                     through_relu=True)


class AveragePooling2D(_Pooling2D):
    """Average pooling (Keras ``AveragePooling2D``); with ``"same"`` padding the padded cells are
    left out of each window's divisor, as in Keras."""

    _forward = staticmethod(F.avg_pool2d)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.avg_pool2d_backward(dy, self._x, self.pool_size, self.strides, self.padding)


class _GlobalPooling2D(Layer):
    def __init__(self, data_format: Optional[str] = None, keepdims: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, _, _, c = _spatial_input(self, input_shape)
        return (n, 1, 1, c) if self.keepdims else (n, c)

    def _finish(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        self._x = x
        return y.reshape(y.shape[0], 1, 1, y.shape[1]) if self.keepdims else y

    def _dy(self, dy: np.ndarray) -> np.ndarray:
        return dy.reshape(dy.shape[0], dy.shape[-1]) if self.keepdims else dy

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last", "keepdims": self.keepdims}


class GlobalAveragePooling2D(_GlobalPooling2D):
    """Mean over H and W: ``N x H x W x C`` → ``N x C`` (``N x 1 x 1 x C`` with keepdims)."""

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self._finish(x, F.global_avg_pool2d(x))

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.global_avg_pool2d_backward(self._dy(dy), self._x)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """Maximum over H and W: ``N x H x W x C`` → ``N x C`` (``N x 1 x 1 x C`` with keepdims)."""

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self._finish(x, F.global_max_pool2d(x))

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.global_max_pool2d_backward(self._dy(dy), self._x)


class Flatten(Layer):
    """Flatten every axis but the batch, row-major (NHWC order, as Keras with channels_last)."""

    def __init__(self, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        rest = tuple(input_shape)[1:]
        return (input_shape[0], None if any(d is None for d in rest) else int(np.prod(rest, dtype=np.int64)))

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.reshape(x.shape[0], -1)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy.reshape(self._shape)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "data_format": "channels_last"}


# --------------------------------------------------------------------------------------------
# Dense
# --------------------------------------------------------------------------------------------


class Dense(_ActivatedLayer):
    """Fully connected layer ``activation(x @ kernel + bias)`` on the last axis (Keras ``Dense``):
    kernel ``in x units``, bias ``units``.  ``activation``: None/"linear", "relu", "sigmoid",
    "tanh" or "softmax"."""

    def __init__(self, units: int, activation: Optional[str] = None, use_bias: bool = True,
                 kernel_initializer: Any = "glorot_uniform", bias_initializer: Any = "zeros",
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.units = as_int(units, "units", 1)
        self._kernel_args(activation, use_bias, kernel_initializer, bias_initializer)

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[-1] is None:
            raise ValueError(f"layer {self.name!r} (Dense) needs inputs with a known last axis, got "
                             f"shape {_shape_str(shape)}")
        self.kernel = self.add_weight("kernel", (shape[-1], self.units), self.kernel_initializer)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) < 2 or shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"layer {self.name!r} (Dense) was built for inputs with last axis "
                             f"{self.kernel.shape[0]}, got shape {_shape_str(shape)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return tuple(input_shape)[:-1] + (self.units,)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        y = F.dense(x, self.kernel.value, self.bias.value if self.use_bias else None, self.activation)
        self._x, self._y = x, y
        return y

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        dx, dk, db = F.dense_backward(dz, self._x, self.kernel.value, need_dx=need_dx)
        self.kernel.grad = dk
        if self.use_bias:
            self.bias.grad = db
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}


# --------------------------------------------------------------------------------------------
# Regularization and normalization
# --------------------------------------------------------------------------------------------


class Dropout(Layer):
    """Inverted dropout (Keras ``Dropout``): while training, each element is zeroed with
    probability ``rate`` and the rest scaled by ``1/(1-rate)``; identity at inference.

    ``seed``: the layer then draws from its own generator (its state is saved with the model);
    without one, from foveal's global generator (:func:`foveal.utils.set_random_seed`).
    """

    def __init__(self, rate: float, noise_shape: Any = None, seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        rate = float(rate)
        if not 0.0 <= rate <= 1.0:
            raise ValueError(f"rate must be in [0, 1], got {rate!r}")
        if noise_shape is not None:
            raise NotImplementedError("Dropout(noise_shape=...) is not supported")
        self.rate = rate
        self.seed = None if seed is None else as_int(seed, "seed", 0)
        self.rng: Optional[np.random.Generator] = (
            None if self.seed is None else np.random.default_rng(self.seed))

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training or self.rate == 0.0:
            self._mask = None
            return x
        if self.rate == 1.0:
            self._mask = np.zeros_like(x)
            return self._mask.copy()
        rng = self.rng if self.rng is not None else _random.generator()
        # One 64-bit key per call from the generator; the native kernel draws each element from
        # (key, index), so the mask does not depend on the thread count.
        key = int(rng.integers(0, 2**64, dtype=np.uint64))
        y, self._mask = _core.dropout(x, 1.0 - self.rate, key)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


def batch_norm_train_forward(x2: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode batch normalization over the rows of an ``M x C`` float32 array (native).

    Returns ``(y, mean, variance, inv_std, xhat)``: batch mean and biased variance (summed in
    double), ``inv_std = 1/sqrt(variance + epsilon)``, ``xhat = (x - mean) * inv_std`` and
    ``y = xhat * gamma + beta``.
    """
    return _core.batch_norm_train(x2, gamma, beta, float(epsilon))


def batch_norm_train_backward(dy2: np.ndarray, xhat: np.ndarray, gamma: np.ndarray,
                              inv_std: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`batch_norm_train_forward` (statistics from the batch), native:
    ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)``,
    ``dx = (dy - dbeta/M - xhat * dgamma/M) * gamma * inv_std``; returns ``(dx, dgamma, dbeta)``."""
    return _core.batch_norm_backward(dy2, xhat, gamma, inv_std)


def batch_norm_inference(x2: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                         variance: np.ndarray, epsilon: float) -> Tuple[np.ndarray, np.ndarray]:
    """Inference-mode batch normalization of an ``M x C`` float32 array with fixed statistics:
    ``(x - mean) * (gamma / sqrt(variance + epsilon)) + beta`` (native).  Returns ``(y, inv_std)``."""
    inv_std = (1.0 / np.sqrt(variance.astype(np.float64) + epsilon)).astype(np.float32)
    return _core.channel_affine(x2, mean, gamma * inv_std, None, beta), inv_std


class BatchNormalization(Layer):
    """Batch normalization over the last axis (Keras ``BatchNormalization``, ``axis=-1``).

    Training (``training=True`` and the layer trainable): batch mean and biased variance, and
    ``moving = moving * momentum + batch * (1 - momentum)``.  Inference: moving statistics.
    Weights in Keras's order: gamma, beta (trainable), moving_mean, moving_variance.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if as_int(axis, "axis") != -1:
            raise NotImplementedError("BatchNormalization supports axis=-1 (channels last) only")
        self.axis = -1
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _init.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = _init.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = _init.get(moving_mean_initializer, "moving_mean_initializer")
        self.moving_variance_initializer = _init.get(moving_variance_initializer,
                                                     "moving_variance_initializer")
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        c = tuple(input_shape)[-1]
        if c is None:
            raise ValueError(f"layer {self.name!r} (BatchNormalization): the last axis must be known")
        if self.scale:
            self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (c,), self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", (c,), self.moving_mean_initializer, False)
        self.moving_variance = self.add_weight("moving_variance", (c,),
                                               self.moving_variance_initializer, False)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        c = self.moving_mean.shape[0]
        if tuple(input_shape)[-1] != c:
            raise ValueError(f"layer {self.name!r} (BatchNormalization) was built for {c} channels, "
                             f"got shape {_shape_str(input_shape)}")

    def _gamma_beta(self) -> Tuple[np.ndarray, np.ndarray]:
        c = self.moving_mean.shape[0]
        gamma = self.gamma.value if self.scale else np.ones(c, np.float32)
        beta = self.beta.value if self.center else np.zeros(c, np.float32)
        return gamma, beta

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        gamma, beta = self._gamma_beta()
        x2 = x.reshape(-1, x.shape[-1])
        if training and self._trainable:
            y, mean, var, inv_std, xhat = batch_norm_train_forward(x2, gamma, beta, self.epsilon)
            mom = np.float32(self.momentum)
            one_minus = np.float32(1.0 - self.momentum)
            mm, mv = self.moving_mean.value, self.moving_variance.value
            mm[...] = mm * mom + mean * one_minus
            mv[...] = mv * mom + var * one_minus
            self._cache = ("train", xhat, inv_std)
        else:
            y, inv_std = batch_norm_inference(x2, gamma, beta, self.moving_mean.value,
                                              self.moving_variance.value, self.epsilon)
            self._cache = ("infer", x2, inv_std)
        return y.reshape(x.shape)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        gamma, _ = self._gamma_beta()
        mode, saved, inv_std = self._cache
        dy2 = dy.reshape(-1, dy.shape[-1])
        if mode == "train":
            dx, dgamma, dbeta = batch_norm_train_backward(dy2, saved, gamma, inv_std)
        else:
            dbeta = dy2.sum(axis=0, dtype=np.float64).astype(np.float32)
            dgamma = (np.einsum("ij,ij->j", dy2, saved - self.moving_mean.value, dtype=np.float64)
                      .astype(np.float32) * inv_std)
            dx = dy2 * (gamma * inv_std)
        if self.scale:
            self.gamma.grad = dgamma
        if self.center:
            self.beta.grad = dbeta
        return dx.reshape(dy.shape) if need_dx else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _init.serialize(self.beta_initializer),
                "gamma_initializer": _init.serialize(self.gamma_initializer),
                "moving_mean_initializer": _init.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _init.serialize(self.moving_variance_initializer)}


# --------------------------------------------------------------------------------------------
# Activations and elementwise layers
# --------------------------------------------------------------------------------------------


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
        return softmax_backward(dy, self._y, self.axis)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dz

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


class Rescaling(Layer):
    """``x * scale + offset`` (Keras ``Rescaling``), e.g. ``Rescaling(1/255)`` for uint8 images."""

    def __init__(self, scale: float, offset: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = float(scale)
        self.offset = float(offset)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        y = x * np.float32(self.scale)
        if self.offset != 0.0:
            y += np.float32(self.offset)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy * np.float32(self.scale)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


# --------------------------------------------------------------------------------------------
# Merging
# --------------------------------------------------------------------------------------------


class _Merge(Layer):
    multi_input = True

    def _shapes(self, input_shape: Any) -> List[Shape]:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)):
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) takes a list of inputs")
        if len(input_shape) < 2:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs at least 2 inputs, "
                             f"got {len(input_shape)}")
        return [tuple(s) for s in input_shape]


class Add(_Merge):
    """Elementwise sum of a list of inputs of the same shape (Keras ``Add``)."""

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(
                    a is not None and b is not None and a != b for a, b in zip(s, shapes[0])):
                raise ValueError(f"layer {self.name!r} (Add) needs inputs of one shape, got "
                                 f"{', '.join(_shape_str(t) for t in shapes)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._shapes(input_shape)
        return tuple(next((s[i] for s in shapes if s[i] is not None), None)
                     for i in range(len(shapes[0])))

    def call(self, xs: List[np.ndarray], training: bool = False) -> np.ndarray:
        self._n = len(xs)
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[List[np.ndarray]]:
        return [dy] * self._n


class Concatenate(_Merge):
    """Concatenate a list of inputs along ``axis`` (Keras ``Concatenate``, default last axis)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = as_int(axis, "axis")

    def _axis(self, rank: int) -> int:
        ax = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= ax < rank:
            raise ValueError(f"layer {self.name!r} (Concatenate): axis {self.axis} is out of range "
                             f"(or the batch axis) for rank-{rank} inputs")
        return ax

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        ax = self._axis(len(shapes[0]))
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(
                    i != ax and a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(s, shapes[0]))):
                raise ValueError(f"layer {self.name!r} (Concatenate) needs inputs that agree on "
                                 f"every axis but {self.axis}, got "
                                 f"{', '.join(_shape_str(t) for t in shapes)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._shapes(input_shape)
        ax = self._axis(len(shapes[0]))
        out = list(shapes[0])
        sizes = [s[ax] for s in shapes]
        out[ax] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def call(self, xs: List[np.ndarray], training: bool = False) -> np.ndarray:
        ax = self._axis(xs[0].ndim)
        self._ax = ax
        self._splits = np.cumsum([x.shape[ax] for x in xs])[:-1]
        return np.concatenate(xs, axis=ax)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[List[np.ndarray]]:
        return [np.ascontiguousarray(p) for p in np.split(dy, self._splits, axis=self._ax)]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}


# --------------------------------------------------------------------------------------------
# (De)serialization
# --------------------------------------------------------------------------------------------

_LAYERS: Dict[str, type] = {cls.__name__: cls for cls in (
    InputLayer, Conv2D, DepthwiseConv2D, MaxPooling2D, AveragePooling2D, GlobalAveragePooling2D,
    GlobalMaxPooling2D, Flatten, Dense, Dropout, BatchNormalization, Activation, ReLU, Softmax,
    Rescaling, Add, Concatenate)}


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name", "config"}`` of a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> Layer:
    """A new layer from ``{"class_name", "config"}``; ``custom_objects`` maps extra class names."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _LAYERS.get(name)
    if cls is None:
        raise ValueError(f"unknown layer class {name!r}; pass it in custom_objects")
    return cls.from_config(dict(config.get("config", {})))
