"""The core layers (``foveal.nn.layers.core``): the model's entry (:class:`InputLayer`,
:func:`Input`), :class:`Dense`, :class:`Flatten`, :class:`Dropout` and :class:`Rescaling`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ... import _random
from ..._checks import as_int
from .. import functional as F
from .. import initializers as _init
from .activation import _ActivatedLayer
from .base import Layer, Shape, SymbolicTensor, Weight, _data_format, _shape_str, register_layer, unique_name

__all__ = ["InputLayer", "Input", "Dense", "Flatten", "Dropout", "Rescaling"]


@register_layer
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


def _wanted_grads(layer: Layer, *weights: Optional[Weight]) -> Tuple[bool, ...]:
    """For each of ``weights`` (None: one the layer does not have), whether ``layer``'s backward
    computes its gradient. Always, except within a model's backward sweep
    (``_graph.Graph.backward``), which sets ``layer._trained_weights`` to the ids of the weights
    its optimizer updates (those trainable at compile): a weight outside that set gets no gradient
    (``grad`` None) and, when none of a kernel's weights is trained, the kernel-gradient work is
    skipped rather than done and dropped (a frozen backbone, fine-tuning)."""
    trained = getattr(layer, "_trained_weights", None)
    return tuple(w is not None and (trained is None or id(w) in trained) for w in weights)


@register_layer
class Dense(_ActivatedLayer):
    """Fully connected layer ``activation(x @ kernel + bias)`` on the last axis (Keras ``Dense``):
    kernel ``in x units``, bias ``units``.  ``activation``: None/"linear", a name of
    :func:`foveal.nn.functional.activation` ("relu", "gelu", "silu", ...; fused) or "softmax"."""

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
        self._x = x = self._compute_operand(x)
        kernel = self._compute_operand(self.kernel.value)
        return self._linear_then_activation(
            lambda act: F.dense(x, kernel, self.bias.value if self.use_bias else None, act),
            training)

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        want_k, want_b = _wanted_grads(self, self.kernel, self.bias)
        dx, dk, db = F.dense_backward(self._compute_operand(dz), self._x,
                                      self._compute_operand(self.kernel.value), need_dx=need_dx,
                                      need_dkernel=want_k or want_b)
        self.kernel.grad = dk if want_k else None
        if self.use_bias:
            if want_b and db is not None and self.compute_dtype != "float32":  # float32 dz's sum
                db = dz.reshape(-1, dz.shape[-1]).sum(axis=0, dtype=np.float64).astype(np.float32)
            self.bias.grad = db if want_b else None
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "units": self.units, "activation": self.activation,
                "use_bias": self.use_bias,
                "kernel_initializer": _init.serialize(self.kernel_initializer),
                "bias_initializer": _init.serialize(self.bias_initializer)}


@register_layer
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


@register_layer
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
        y, self._mask = F.dropout(x, self.rate, key)
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy if self._mask is None else dy * self._mask

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@register_layer
class Rescaling(Layer):
    """``x * scale + offset`` (Keras ``Rescaling``), e.g. ``Rescaling(1/255)`` for uint8 images.
    ``scale`` and ``offset`` are numbers or, as in Keras 3, arrays that broadcast against the
    input's last axes (per-channel values, e.g. ImageNet's mean and standard deviation)."""

    def __init__(self, scale: Any, offset: Any = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scale = _scalar_or_list(scale, "scale")
        self.offset = _scalar_or_list(offset, "offset")
        self._scale = np.asarray(self.scale, np.float32)
        self._offset = np.asarray(self.offset, np.float32)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shape = tuple(input_shape)
        try:
            out = np.broadcast_shapes(tuple(1 if d is None else d for d in shape),
                                      self._scale.shape, self._offset.shape)
        except ValueError:
            raise ValueError(f"layer {self.name!r} (Rescaling): scale {self._scale.shape} and offset "
                             f"{self._offset.shape} do not broadcast against input shape "
                             f"{_shape_str(shape)}") from None
        if len(out) != len(shape) or any(d is not None and d != o for d, o in zip(shape, out)):
            raise ValueError(f"layer {self.name!r} (Rescaling): scale {self._scale.shape} and offset "
                             f"{self._offset.shape} would change input shape {_shape_str(shape)}")
        return shape

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self.compute_output_shape(x.shape)
        y = x * self._scale
        if np.any(self._offset != 0):
            y += self._offset
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy * self._scale

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "scale": self.scale, "offset": self.offset}


def _scalar_or_list(value: Any, name: str) -> Any:
    """A float, or a (nested) list of floats for an array argument; TypeError otherwise."""
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return float(value)
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}") from None
    if arr.dtype.kind != "f" or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be a number or an array of numbers, got {value!r}")
    return float(arr) if arr.ndim == 0 else arr.tolist()
