"""Keras 3 layer configs and foveal layers, both ways (``foveal.nn._keras_config``): the
translation half of the ``.keras`` archive (:mod:`foveal.nn._keras_archive` does the files).

foveal's layers take Keras's class names and argument names, so a Keras layer entry
``{"module": "keras.layers", "class_name", "config"}`` becomes the foveal layer of that class
with the same arguments, after these conversions:

- ``dtype``: Keras's ``DTypePolicy`` dict becomes its name (``"float32"``);
- ``*_initializer``: a Keras initializer dict becomes foveal's of the same class; one foveal lacks
  (or with arguments foveal lacks) becomes the layer's default (it only matters for a new
  initialization: the archive's weights replace it);
- ``*_regularizer``, ``*_constraint``: training-time terms foveal does not have; set ones are
  dropped with a warning (the predictions do not depend on them);
- other Keras arguments foveal does not take are dropped when they hold Keras's "off" value
  (``None``, ``False``, e.g. ``sparse``, ``renorm``, ``noise_shape``), and refused otherwise.

Nothing in a config is ever executed: a ``Lambda`` layer, a class foveal does not have, a class
outside ``keras.layers`` (a custom or registered one) and an activation given as a function are
refused with a ValueError naming them (:func:`check_model_config`, before anything is built).
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Dict, List, Optional, Set

from . import initializers as _init
from .layers import InputLayer, Layer
from .layers.base import _LAYERS, _snake

#: foveal layer classes that Keras 3 has in ``keras.layers`` under the same name and arguments
#: (read and written; a class also needs to be registered in foveal to be read).
KERAS_LAYER_CLASSES = frozenset({
    "InputLayer", "Conv2D", "DepthwiseConv2D", "SeparableConv2D", "Conv2DTranspose", "Dense",
    "Flatten", "Dropout", "Rescaling", "Activation", "ReLU", "Softmax", "BatchNormalization",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Add",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "ZeroPadding2D",
    "UpSampling2D", "Reshape", "Resizing", "CenterCrop", "Normalization", "RandomFlip",
    "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness", "RandomContrast",
    "RandomCrop",
})

#: Model classes an archive may hold (at the top or nested as a layer).
MODEL_CLASSES = ("Sequential", "Functional")

#: Keras arguments dropped whatever their value (bookkeeping with no effect on the outputs).
_IGNORED_KEYS = frozenset({"renorm_momentum", "autocast", "registered_name", "shared_object_id"})


def keras_snake(class_name: str) -> str:
    """Keras's ``to_snake_case`` of a class name (``"Conv2DTranspose"`` ->
    ``"conv2d_transpose"``), the name of a layer's group in ``model.weights.h5``."""
    return _snake("".join(ch for ch in class_name if ch.isalnum() or ch == "_"))


def _entry_name(entry: Dict[str, Any]) -> str:
    config = entry.get("config")
    name = config.get("name") if isinstance(config, dict) else None
    return repr(name if name is not None else entry.get("name", "?"))


def _is_keras_layers_module(module: Any) -> bool:
    return module is None or module == "keras.layers" or (
        isinstance(module, str) and module.startswith(("keras.layers.", "keras.src.layers.")))


def _is_keras_models_module(module: Any) -> bool:
    return module is None or (isinstance(module, str) and (
        module in ("keras", "keras.models") or module.startswith(("keras.src.models.",
                                                                  "keras.models."))))


def check_model_config(config: Any, where: str) -> None:
    """Refuse (ValueError naming the layer and its class) every entry of a model config, nested
    models included, that foveal would not rebuild without running code: Lambda layers, classes
    outside ``keras.layers`` or unknown to foveal, registered/custom objects, activations given as
    functions. Called on the whole archive before any layer is built."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ValueError(f"{where}: config.json does not hold a Keras model config")
    cls, module = config.get("class_name"), config.get("module")
    if cls not in MODEL_CLASSES or not _is_keras_models_module(module) or config.get(
            "registered_name") not in (None, cls):
        raise ValueError(f"{where}: model class {cls!r} (module {module!r}) is not a Keras "
                         "Sequential or Functional model; subclassed and custom models hold Python "
                         "code and are not loaded")
    layers = config["config"].get("layers")
    if not isinstance(layers, list):
        raise ValueError(f"{where}: model {config['config'].get('name')!r} has no layer list")
    for entry in layers:
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: a layer entry is not an object: {entry!r}")
        cls, module = entry.get("class_name"), entry.get("module")
        if cls in MODEL_CLASSES and _is_keras_models_module(module):
            check_model_config(entry, where)
            continue
        if cls == "Lambda":
            raise ValueError(f"{where}: layer {_entry_name(entry)} is a Lambda layer, which holds "
                             "Python code; foveal never executes code from a file (replace it by "
                             "a built-in layer in Keras and save again)")
        if (not _is_keras_layers_module(module) or entry.get("registered_name") not in (None, cls)
                or cls not in KERAS_LAYER_CLASSES or cls not in _LAYERS):
            raise ValueError(f"{where}: layer {_entry_name(entry)} has class {cls!r} (module "
                             f"{module!r}, registered name {entry.get('registered_name')!r}), which "
                             "foveal does not have; custom and unknown layers are not loaded")
        activation = (entry.get("config") or {}).get("activation")
        if activation is not None and not isinstance(activation, str) and _activation_name(
                activation) is None:
            raise ValueError(f"{where}: layer {_entry_name(entry)} ({cls}) has an activation given "
                             f"as an object ({activation!r}), not a built-in name; not loaded")


def _activation_name(value: Any) -> Optional[str]:
    """The name of a Keras-serialized built-in activation (a string, or a ``keras.activations``
    dict naming one); None for anything else."""
    if isinstance(value, str):
        return value
    if (isinstance(value, dict) and value.get("module") in ("keras.activations", None)
            and value.get("class_name") == "function" and isinstance(value.get("config"), str)
            and value.get("registered_name") in (None, "function")):
        return value["config"]
    return None


def _accepted_args(cls: type) -> Set[str]:
    """The keyword arguments the constructor of layer class ``cls`` takes: its own ``__init__``
    (the first in its MRO) and, when that passes ``**kwargs`` on, :class:`Layer`'s."""
    init = next(k.__dict__["__init__"] for k in cls.__mro__ if "__init__" in k.__dict__)
    params = list(inspect.signature(init).parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        params += list(inspect.signature(Layer.__init__).parameters.values())
    return {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
            and p.name != "self"}


def _initializer(value: Any) -> Optional[Any]:
    """foveal's initializer for a Keras-serialized one, or None (use the layer's default)."""
    if isinstance(value, str):
        value = {"class_name": value, "config": {}}
    if not isinstance(value, dict) or not isinstance(value.get("class_name"), str):
        return None
    config = {k: v for k, v in (value.get("config") or {}).items() if v is not None}
    try:
        return _init.get({"class_name": value["class_name"], "config": config})
    except (TypeError, ValueError):
        return None


def layer_from_keras(entry: Dict[str, Any], where: str) -> Layer:
    """A new, unbuilt foveal layer from a Keras layer entry (checked by
    :func:`check_model_config`); ValueError naming the layer for arguments foveal cannot take."""
    cls_name = entry["class_name"]
    cls = _LAYERS[cls_name]
    accepted = _accepted_args(cls)
    args: Dict[str, Any] = {}
    dropped: List[str] = []
    for key, value in (entry.get("config") or {}).items():
        if key in _IGNORED_KEYS:
            continue
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            value = (value.get("config") or {}).get("value")   # an array argument, as a list
        if key == "dtype":
            if isinstance(value, dict):
                value = (value.get("config") or {}).get("name", "float32")
            if cls is InputLayer or value == "float32":
                continue   # foveal computes in float32; another policy goes to the layer to judge
        elif key == "activation":
            value = _activation_name(value)
        elif key.endswith("_initializer"):
            value = _initializer(value)
            if value is None:
                continue
        elif key.endswith(("_regularizer", "_constraint")):
            if value is not None:
                dropped.append(key)
            continue
        if key not in accepted:
            if value is None or value is False:
                continue
            raise ValueError(f"{where}: layer {_entry_name(entry)} ({cls_name}) has argument "
                             f"{key}={value!r}, which foveal's {cls_name} does not support")
        args[key] = value
    if dropped:
        warnings.warn(f"{where}: layer {_entry_name(entry)} ({cls_name}): {', '.join(dropped)} "
                      "dropped (training-time terms foveal does not have; outputs unchanged)",
                      UserWarning, stacklevel=4)
    try:
        return cls(**args)
    except (TypeError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{where}: layer {_entry_name(entry)} ({cls_name}) cannot be built by "
                         f"foveal: {e}") from None


# --------------------------------------------------------------------------------------------
# foveal -> Keras
# --------------------------------------------------------------------------------------------


def keras_dtype(name: Any) -> Dict[str, Any]:
    """Keras's ``DTypePolicy`` entry for the policy ``name``."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": str(name)},
            "registered_name": None}


def _keras_value(key: str, value: Any) -> Any:
    if key.endswith("_initializer") and isinstance(value, dict):
        return {"module": "keras.initializers", "class_name": value["class_name"],
                "config": dict(value.get("config") or {}), "registered_name": None}
    return value


def shape_list(shape: Any) -> Any:
    """A shape (or a list of them) as JSON lists, ``None`` kept for unknown sizes."""
    if isinstance(shape, list):   # the input shapes of a merge layer
        return [shape_list(s) for s in shape]
    return None if shape is None else [None if d is None else int(d) for d in shape]


def layer_to_keras(layer: Layer) -> Dict[str, Any]:
    """The Keras 3 entry ``{"module", "class_name", "config", "registered_name",
    "build_config"}`` of a built foveal layer; ValueError for a layer Keras cannot rebuild (a
    class Keras lacks, explicit padding of a model imported from ONNX)."""
    cls_name = type(layer).__name__
    if cls_name not in KERAS_LAYER_CLASSES or _LAYERS.get(cls_name) is not type(layer):
        raise ValueError(f"layer {layer.name!r} ({type(layer).__module__}.{type(layer).__qualname__})"
                         " has no Keras 3 equivalent; it cannot be saved as a .keras archive "
                         "(save to another suffix for foveal's own format)")
    config = layer.get_config()
    if isinstance(layer, InputLayer):
        return {"module": "keras.layers", "class_name": "InputLayer",
                "config": {"batch_shape": config["batch_shape"], "dtype": "float32",
                           "name": layer.name},
                "registered_name": None}
    padding = config.get("padding")
    if "padding" in config and cls_name != "ZeroPadding2D" and not isinstance(padding, str):
        raise ValueError(f"layer {layer.name!r} ({cls_name}) has explicit padding {padding!r} (a "
                         "model imported from ONNX); Keras takes only 'valid' or 'same', so it "
                         "cannot be saved as a .keras archive")
    config.pop("input_shape", None)
    out = {k: _keras_value(k, v) for k, v in config.items()}
    out["dtype"] = keras_dtype(config.get("dtype", "float32"))
    return {"module": "keras.layers", "class_name": cls_name, "config": out,
            "registered_name": None, "build_config": {"input_shape": shape_list(layer.input_shape)}}
