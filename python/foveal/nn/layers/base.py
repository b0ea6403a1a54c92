"""What every layer is made of (``foveal.nn.layers.base``): :class:`Weight`,
:class:`SymbolicTensor`, the :class:`Layer` base class and its naming, the shape checks the layer
families share, and the registry that turns ``{"class_name", "config"}`` back into a layer
(:func:`register_layer`, :func:`get`, :func:`serialize`).
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Sequence, Tuple, TypeVar, Union

import numpy as np

from ..._checks import as_float32, as_int, as_option, as_pair
from .. import initializers as _init
from .. import mixed_precision as _mp

__all__ = ["Weight", "SymbolicTensor", "Layer", "unique_name", "register_layer", "serialize", "get"]

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
# The base class
# --------------------------------------------------------------------------------------------


class Layer:
    """Base class of every layer.

    Subclasses implement ``build`` (create weights with :meth:`add_weight`), ``call`` (forward;
    keep what backward needs), ``backward`` and ``compute_output_shape``, and extend
    ``get_config``.  ``name``, ``trainable`` and ``dtype`` (a policy of
    :mod:`foveal.nn.mixed_precision`: ``"float32"`` or ``"mixed_bfloat16"``) are accepted by all,
    and ``input_shape`` on a Sequential model's first layer, as Keras allows.
    """

    #: True for layers that take a list of inputs (Add, Concatenate).
    multi_input: bool = False

    #: True for layers that can never train (``Model.trainable = True`` leaves them frozen).
    _always_frozen: bool = False

    def __init__(self, name: Optional[str] = None, trainable: bool = True, dtype: Any = None,
                 input_shape: Optional[Sequence[Optional[int]]] = None, **kwargs: Any) -> None:
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected keyword argument(s): "
                            f"{', '.join(sorted(kwargs))}")
        self._dtype_policy = _mp.resolve(dtype)
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
        """Whether the optimizer updates this layer's weights (Keras 3 semantics): a frozen
        layer's weights are all in :attr:`non_trainable_weights`, and a frozen
        BatchNormalization runs in inference mode even in ``fit``. Default True; kept by
        ``get_config`` and saved models. Call ``model.compile`` again after changing it: ``fit``
        trains the weights that were trainable at compile."""
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

    # ---- dtype policy (foveal.nn.mixed_precision) ----------------------------------------
    @property
    def dtype_policy(self) -> "_mp.DTypePolicy":
        """The layer's dtype policy (``"float32"`` or ``"mixed_bfloat16"``)."""
        return self._dtype_policy

    @dtype_policy.setter
    def dtype_policy(self, policy: Any) -> None:
        self._dtype_policy = _mp.resolve(policy)

    @property
    def compute_dtype(self) -> str:
        """The type the layer's convolutions / products take their operands in."""
        return self._dtype_policy.compute_dtype

    @property
    def variable_dtype(self) -> str:
        """The type of the layer's weights: float32."""
        return self._dtype_policy.variable_dtype

    @property
    def dtype(self) -> str:
        """Keras's ``layer.dtype``: the variable dtype, float32."""
        return self._dtype_policy.variable_dtype

    def _compute_operand(self, a: np.ndarray) -> np.ndarray:
        """``a`` as the layer's multiply-adds take it: rounded to bfloat16 under a mixed_bfloat16
        policy, unchanged under float32."""
        if self._dtype_policy.compute_dtype == "bfloat16":
            return _mp.round_to_bfloat16(a)
        return a

    def backward_from_preactivation(self, dz: np.ndarray, need_dx: bool = True) -> Any:
        """Backward from the gradient before the layer's activation (a loss fused it)."""
        raise NotImplementedError

    # ---- config -------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (JSON-serializable); ``from_config`` rebuilds the layer."""
        config: Dict[str, Any] = {"name": self.name, "trainable": self._trainable,
                                  "dtype": self._dtype_policy.name}
        if self._batch_input_shape is not None:
            config["input_shape"] = list(self._batch_input_shape[1:])
        return config

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Layer":
        """A new, unbuilt layer from :meth:`get_config`'s output."""
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


# --------------------------------------------------------------------------------------------
# Shape checks shared by the layer families
# --------------------------------------------------------------------------------------------


def _data_format(data_format: Any) -> None:
    if data_format not in (None, "channels_last"):
        raise ValueError(f"data_format must be 'channels_last' (foveal is NHWC), got {data_format!r}")


Padding = Union[str, Tuple[Tuple[int, int], Tuple[int, int]]]


def _padding_arg(padding: Any, name: str = "padding") -> Padding:
    """A window layer's ``padding``: Keras's ``"valid"``/``"same"``, or explicit zero padding
    (an extension for imported models, as ONNX's ``pads``): an int (every side), ``(ph, pw)``
    or ``((top, bottom), (left, right))``, standardized to the pair of pairs."""
    if isinstance(padding, str):
        return as_option(padding, name, ("valid", "same"))
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        if all(isinstance(p, (tuple, list)) for p in padding):
            return (as_pair(padding[0], name, 0), as_pair(padding[1], name, 0))
        ph, pw = as_pair(padding, name, 0)
        return ((ph, ph), (pw, pw))
    if isinstance(padding, (int, np.integer)) and not isinstance(padding, bool):
        p = as_int(padding, name, 0)
        return ((p, p), (p, p))
    raise TypeError(f"{name} must be 'valid', 'same', an int, (ph, pw) or ((top, bottom), "
                    f"(left, right)), got {padding!r}")


def _padding_config(padding: Padding) -> Any:
    """``padding`` as a config value (a string, or lists for explicit padding)."""
    return padding if isinstance(padding, str) else [list(p) for p in padding]


def _window_out(size: Optional[int], window: int, stride: int, padding: Any, what: str) -> Optional[int]:
    """Output length along one axis for a window (kernel or pool) of effective size ``window``;
    ``padding`` is "valid", "same" or this axis's explicit ``(before, after)``."""
    if size is None:
        return None
    if padding == "same":
        return -(-size // stride)
    if not isinstance(padding, str):
        size += padding[0] + padding[1]
    if size < window:
        raise ValueError(f"{what}: input size {size} is smaller than the window {window} "
                         f"with padding={padding!r}")
    return (size - window) // stride + 1


def _axis_padding(padding: Padding, axis: int) -> Any:
    """The padding argument of :func:`_window_out` for spatial ``axis`` (0: height, 1: width)."""
    return padding if isinstance(padding, str) else padding[axis]


def _spatial_input(layer: Layer, input_shape: Any, what: str = "an N x H x W x C input") -> Shape:
    shape = tuple(input_shape)
    if len(shape) != 4:
        raise ValueError(f"layer {layer.name!r} ({type(layer).__name__}) expects {what} "
                         f"(rank 4), got shape {_shape_str(shape)}")
    return shape


# --------------------------------------------------------------------------------------------
# The registry: (de)serialization by class name
# --------------------------------------------------------------------------------------------

#: Layer classes by the ``class_name`` that :func:`serialize` writes (filled by :func:`register_layer`).
_LAYERS: Dict[str, type] = {}

LayerClass = TypeVar("LayerClass", bound=type)


def register_layer(cls: LayerClass) -> LayerClass:
    """Make a :class:`Layer` subclass known by its class name to :func:`~foveal.nn.layers.get`,
    and so to :func:`~foveal.nn.load_model` and ``Model.from_config``, without
    ``custom_objects``. Returns the class, so it also serves as a decorator::

        @nn.register_layer
        class Scale(nn.Layer):
            ...

    Every foveal layer is registered this way. Registering a class again, or a new definition
    of it (same module and qualified name: a re-run notebook cell, a reloaded module), replaces
    the entry; another class under a name that is taken is a ValueError (rename it, or pass it
    in ``custom_objects``). Anything but a :class:`Layer` subclass is a TypeError.
    """
    if not (isinstance(cls, type) and issubclass(cls, Layer)):
        raise TypeError(f"register_layer takes a foveal.nn.Layer subclass, got {cls!r}")
    name = cls.__name__
    known = _LAYERS.get(name)
    if known is not None and (known.__module__, known.__qualname__) != (cls.__module__,
                                                                        cls.__qualname__):
        raise ValueError(f"a layer class named {name!r} is registered already "
                         f"({known.__module__}.{known.__qualname__}); rename "
                         f"{cls.__module__}.{cls.__qualname__}, or pass it in custom_objects")
    _LAYERS[name] = cls
    return cls


def serialize(layer: Layer) -> Dict[str, Any]:
    """``{"class_name", "config"}`` of a layer."""
    return {"class_name": type(layer).__name__, "config": layer.get_config()}


def get(config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None) -> Layer:
    """A new layer from ``{"class_name", "config"}``; ``custom_objects`` maps extra class names
    (:func:`register_layer` makes a class known everywhere instead)."""
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _LAYERS.get(name)
    if cls is None:
        raise ValueError(f"unknown layer class {name!r}; pass it in custom_objects")
    return cls.from_config(dict(config.get("config", {})))
