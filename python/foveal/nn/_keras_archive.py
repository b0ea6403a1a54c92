"""Keras 3 ``.keras`` archives, read and written (``foveal.nn._keras_archive``).

An archive is a zip of ``metadata.json`` (Keras version, date), ``config.json`` (the model:
``{"module", "class_name": "Sequential"|"Functional", "config": {"layers": [...]}}``) and
``model.weights.h5`` (HDF5, read and written with the optional ``h5py``). In the weights file a
model's layers are groups ``layers/<name>/vars`` holding datasets ``0 .. n-1`` in the layer's
weight order (the same order and layouts as foveal's ``get_weights``), where ``<name>`` is the
snake-case class name, ``_1``, ``_2``... for repeats, in the order of ``model.layers`` (a
Sequential's without its InputLayer, a Functional's with them). A nested model is a group of its
own: ``layers/sequential/layers/conv2d/vars``.

Reading never executes anything from the file: :func:`~foveal.nn._keras_config.check_model_config`
refuses Lambda layers and unknown or custom classes before a layer is built, and the layers are
foveal's own. A nested Sequential or Functional model is inlined into the model that holds it
(foveal models do not nest; a frozen one freezes its layers). Compile settings and the optimizer's
variables (``optimizer/vars``) are written and read by :mod:`foveal.nn._keras_compile`.
"""

from __future__ import annotations

import io
import json
import os
import time
import warnings
import zipfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from .._files import atomic_path
from . import _keras_compile as _kcomp
from . import _keras_config as _kc
from .layers import InputLayer, Layer, SymbolicTensor

#: The Keras release whose archive layout this module follows (written as ``keras_version``).
KERAS_FORMAT_VERSION = "3.15.1"

_CONFIG, _WEIGHTS, _METADATA = "config.json", "model.weights.h5", "metadata.json"


def _h5py() -> Any:
    try:
        import h5py
    except ImportError:
        raise ImportError("reading or writing a .keras archive needs h5py (its weights are HDF5): "
                          "pip install 'foveal[keras]' or pip install h5py") from None
    return h5py


def is_keras_archive(filepath: Any) -> bool:
    """Whether ``filepath`` is a zip holding ``config.json`` and ``model.weights.h5`` (a Keras 3
    archive, whatever its suffix)."""
    try:
        with zipfile.ZipFile(os.fspath(filepath)) as zf:
            names = set(zf.namelist())
    except (OSError, zipfile.BadZipFile):
        return False
    return _CONFIG in names and _WEIGHTS in names


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


class _Builder:
    """Rebuilds a checked Keras model config from foveal layers, noting for each layer with
    weights the group of ``model.weights.h5`` that holds them."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.placed: List[Tuple[Layer, str]] = []

    @staticmethod
    def _paths(entries: List[Dict[str, Any]], prefix: str, skip_inputs: bool) -> List[Optional[str]]:
        used: Dict[str, int] = {}
        paths: List[Optional[str]] = []
        for entry in entries:
            if skip_inputs and entry.get("class_name") == "InputLayer":
                paths.append(None)
                continue
            name = _kc.keras_snake(entry["class_name"])
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            paths.append(f"{prefix}layers/{name}")
        return paths

    def _layer(self, entry: Dict[str, Any], path: Optional[str]) -> Layer:
        layer = _kc.layer_from_keras(entry, self.where)
        if path is not None:
            self.placed.append((layer, path))
        return layer

    def sequential_layers(self, config: Dict[str, Any], prefix: str) -> Tuple[Optional[Layer], List[Layer]]:
        """The InputLayer (or None) and the other layers of a Sequential config, nested
        Sequentials spliced in."""
        entries = config["config"]["layers"]
        paths = self._paths(entries, prefix, skip_inputs=True)
        first: Optional[Layer] = None
        layers: List[Layer] = []
        for i, (entry, path) in enumerate(zip(entries, paths)):
            cls = entry["class_name"]
            if cls == "InputLayer":
                if i != 0:
                    raise ValueError(f"{self.where}: an InputLayer inside Sequential "
                                     f"{config['config'].get('name')!r} that is not its first layer")
                first = self._layer(entry, None)
            elif cls == "Sequential":
                layers.extend(self.nested(entry, lambda: self.sequential_layers(entry, path + "/")))
            elif cls == "Functional":
                raise ValueError(f"{self.where}: a Functional model nested in a Sequential one "
                                 f"({entry['config'].get('name')!r}) is not supported; nest it in a "
                                 "Functional model")
            else:
                layers.append(self._layer(entry, path))
        return first, layers

    def sequential_on(self, config: Dict[str, Any], prefix: str, x: SymbolicTensor) -> SymbolicTensor:
        """Call the layers of a nested Sequential config on ``x``."""
        for layer in self.sequential_layers(config, prefix)[1]:
            x = layer(x)
        return x

    def nested(self, config: Dict[str, Any], build: Any) -> Any:
        """``build()`` for a nested model's config; when that model is frozen
        (``"trainable": false``) its layers are frozen too (Keras trains none of them)."""
        start = len(self.placed)
        result = build()
        if config["config"].get("trainable") is False:
            for layer, _ in self.placed[start:]:
                layer.trainable = False
        return result

    def functional(self, config: Dict[str, Any], prefix: str, feed: Optional[SymbolicTensor]
                   ) -> Tuple[SymbolicTensor, SymbolicTensor]:
        """The input and output tensors of a Functional config; ``feed``: the tensor a nested
        model is called on (None at the top: its InputLayer is built)."""
        cfg = config["config"]
        name = cfg.get("name")
        ins, outs = _endpoints(cfg.get("input_layers"), name, "input", self.where), _endpoints(
            cfg.get("output_layers"), name, "output", self.where)
        entries = cfg["layers"]
        tensors: Dict[str, SymbolicTensor] = {}
        for entry, path in zip(entries, self._paths(entries, prefix, skip_inputs=False)):
            lname = entry.get("name") or (entry.get("config") or {}).get("name")
            cls = entry["class_name"]
            if cls == "InputLayer":
                if feed is not None:
                    tensors[lname] = feed
                else:
                    tensors[lname] = self._layer(entry, path).output
                continue
            inbound = _inbound(entry, tensors, self.where)
            if cls == "Sequential":
                tensors[lname] = self.nested(entry, lambda: self.sequential_on(
                    entry, path + "/", inbound))
            elif cls == "Functional":
                tensors[lname] = self.nested(entry, lambda: self.functional(
                    entry, path + "/", inbound)[1])
            else:
                layer = self._layer(entry, path)
                tensors[lname] = layer(inbound)
        missing = [n for n in (ins, outs) if n not in tensors]
        if missing:
            raise ValueError(f"{self.where}: model {name!r} names layer(s) {missing} that it does "
                             "not hold")
        return tensors[ins], tensors[outs]


def _endpoints(value: Any, model: Any, what: str, where: str) -> str:
    """The one layer name of a Functional config's ``input_layers``/``output_layers``."""
    items = value if isinstance(value, list) else []
    if items and not isinstance(items[0], list):
        items = [items]
    if len(items) != 1 or not items[0] or not isinstance(items[0][0], str):
        raise ValueError(f"{where}: model {model!r} has {len(items)} {what}s; foveal models have "
                         f"exactly one {what}")
    if len(items[0]) > 1 and tuple(items[0][1:]) != (0, 0):
        raise ValueError(f"{where}: model {model!r}: {what} {items[0]!r} is not the first output of "
                         "its layer's first call (shared layers are not supported)")
    return items[0][0]


def _inbound(entry: Dict[str, Any], tensors: Dict[str, SymbolicTensor], where: str) -> Any:
    """The symbolic tensor(s) a Functional config's layer entry is called on."""
    name = entry.get("name")
    nodes = entry.get("inbound_nodes") or []
    if len(nodes) != 1:
        raise ValueError(f"{where}: layer {name!r} is called {len(nodes)} times; shared layers are "
                         "not supported" if nodes else f"{where}: layer {name!r} has no inputs")
    node = nodes[0]
    args, kwargs = node.get("args") or [], node.get("kwargs") or {}
    extra = {k: v for k, v in kwargs.items() if v is not None and k != "training"}
    if len(args) != 1 or extra:
        raise ValueError(f"{where}: layer {name!r} is called with arguments foveal does not take "
                         f"(args {len(args)}, kwargs {sorted(extra)})")
    if kwargs.get("training") is not None:
        warnings.warn(f"{where}: layer {name!r} is called with training={kwargs['training']!r}; "
                      "foveal runs every layer in the mode of the call (freeze a layer with "
                      "trainable = False to keep its BatchNormalization in inference mode)",
                      UserWarning, stacklevel=5)

    def tensor(t: Any) -> SymbolicTensor:
        history = (t.get("config") or {}).get("keras_history") if isinstance(t, dict) else None
        if not history or t.get("class_name") != "__keras_tensor__":
            raise ValueError(f"{where}: layer {name!r} has an input that is not a tensor: {t!r}")
        if tuple(history[1:]) != (0, 0):
            raise ValueError(f"{where}: layer {name!r} reads {history!r}: shared layers and layers "
                             "with several outputs are not supported")
        if history[0] not in tensors:
            raise ValueError(f"{where}: layer {name!r} reads layer {history[0]!r}, which comes "
                             "later in the config or does not exist")
        return tensors[history[0]]

    arg = args[0]
    return [tensor(t) for t in arg] if isinstance(arg, list) else tensor(arg)


def _name_attr(group: Any) -> Optional[str]:
    name = None if group is None else group.attrs.get("name")
    return name.decode("utf-8") if isinstance(name, bytes) else name


def _vars_group(h5: Any, path: str, name: str, cache: Dict[str, Dict[str, Any]]) -> Any:
    """The ``vars`` group of the layer ``name`` whose group by Keras's naming is ``path``.
    Keras tags each group with its layer's name; when the group at ``path`` carries another
    one (a file written in another layer order), the group tagged ``name`` beside it is taken."""
    group = h5.get(path + "/vars")
    if group is not None and _name_attr(group) in (None, name):
        return group
    parent = path.rsplit("/", 1)[0]
    if parent not in cache:
        cache[parent] = {}
        holder = h5.get(parent)
        for key in (holder if holder is not None else []):
            found = holder[key].get("vars") if hasattr(holder[key], "get") else None
            if _name_attr(found) is not None:
                cache[parent][_name_attr(found)] = found
    return cache[parent].get(name)


def _read_weights(h5: Any, placed: List[Tuple[Layer, str]], where: str) -> None:
    """Set each placed layer's weights from its ``vars`` group, all checked (counts, shapes)
    before any is set."""
    cache: Dict[str, Dict[str, Any]] = {}
    staged = []
    for layer, path in placed:
        n = len(layer.weights)
        group = _vars_group(h5, path, layer.name, cache)
        stored = 0 if group is None else len(group)
        if stored != n:
            raise ValueError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) has {n} "
                             f"weights, the archive {stored} (group {path}/vars)"
                             + ("" if layer.built else "; the model has no input shape"))
        try:
            values = [np.asarray(group[str(i)][()], dtype=np.float32) for i in range(n)]
        except KeyError as e:
            raise ValueError(f"{where}: group {path}/vars lacks dataset {e}") from None
        for w, v in zip(layer.weights, values):
            if w.shape != v.shape:
                raise ValueError(f"{where}: layer {layer.name!r} weight {w.name!r} must have "
                                 f"shape {tuple(w.shape)}, the archive has {v.shape}")
        staged.append((layer, values))
    for layer, values in staged:
        layer.set_weights(values)


def _optimizer_arrays(h5: Any, where: str) -> Optional[List[np.ndarray]]:
    """The datasets of ``optimizer/vars`` in index order, or None when there are none."""
    group = h5.get("optimizer/vars")
    if group is None or not len(group):
        return None
    try:
        return [np.asarray(group[str(i)][()]) for i in range(len(group))]
    except KeyError as e:
        raise ValueError(f"{where}: group optimizer/vars lacks dataset {e}") from None


def load(filepath: Any, classes: Dict[str, type], compile: bool = True) -> Any:
    """The foveal model of a Keras 3 archive (``classes``: ``"Sequential"`` and
    ``"Functional"`` to foveal's model classes); see the module docstring. With ``compile``, a
    model saved compiled comes back compiled with its optimizer state (as
    ``keras.saving.load_model``)."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such model file: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            config = json.loads(zf.read(_CONFIG).decode("utf-8"))
            weights = zf.read(_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError, EOFError) as e:
        raise ValueError(f"{path} is not a valid Keras archive: {e}") from None
    _kc.check_model_config(config, path)   # refuses code before anything is built
    h5py = _h5py()
    builder = _Builder(path)
    cfg = config["config"]
    if config["class_name"] == "Sequential":
        first, layers = builder.sequential_layers(config, "")
        if first is None and cfg.get("build_input_shape"):
            first = InputLayer(batch_shape=cfg["build_input_shape"])
        model = classes["Sequential"]([first] + layers if first is not None else layers,
                                      name=cfg.get("name"))
    else:
        x, y = builder.functional(config, "", None)
        model = classes["Functional"](x, y, name=cfg.get("name"))
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            _read_weights(h5, builder.placed, path)
            compile_config = config.get("compile_config") if compile else None
            opt_vars = _optimizer_arrays(h5, path) if compile_config else None
    except OSError as e:
        raise ValueError(f"{path}: model.weights.h5 is not a valid HDF5 file: {e}") from None
    if cfg.get("trainable") is False:
        model.trainable = False
    if compile_config:   # Keras writes {} for a model that was not compiled
        _kcomp.restore(model, compile_config, opt_vars, [l for l, _ in builder.placed], path)
    return model


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------


def keras_layer_order(graph: Any) -> List[Layer]:
    """A functional model's layers in the order Keras 3 gives ``model.layers`` for the same
    graph (it names the weight groups by it): by decreasing depth (longest path to the output),
    ties in the order a depth-first walk from the output, inputs in order, first reaches them."""
    output = graph.outputs[0]
    index: Dict[int, int] = {}
    post: List[SymbolicTensor] = []
    seen = set()
    stack: List[Tuple[SymbolicTensor, bool]] = [(output, False)]
    while stack:
        t, expanded = stack.pop()
        if expanded:
            post.append(t)
            continue
        if id(t) in seen:
            continue
        seen.add(id(t))
        index.setdefault(id(t.layer), len(index))
        stack.append((t, True))
        stack.extend((i, False) for i in reversed(t.inputs))
    depth: Dict[int, int] = {}
    for t in reversed(post):
        d = depth.setdefault(id(t), 0)
        for i in t.inputs:
            depth[id(i)] = max(depth.get(id(i), 0), d + 1)
    tensors = sorted(post, key=lambda t: (-depth[id(t)], index[id(t.layer)]))
    return [t.layer for t in tensors]


def _tensor_ref(layer: Layer) -> Dict[str, Any]:
    return {"class_name": "__keras_tensor__",
            "config": {"shape": _kc.shape_list(layer.output_shape), "dtype": "float32",
                       "keras_history": [layer.name, 0, 0]}}


def model_config(model: Any) -> Tuple[Dict[str, Any], List[Layer]]:
    """Keras 3's ``config.json`` for ``model`` and its layers in the order of the weight groups."""
    graph = model._require_graph("save")
    common = {"name": model.name, "trainable": bool(model.trainable)}
    if model._file_class_name == "Sequential":
        layers = list(model.layers)
        entries = [_kc.layer_to_keras(graph.input_layers[0])] + [_kc.layer_to_keras(l) for l in layers]
        shape = _kc.shape_list(graph.input_shape)
        return ({"module": "keras", "class_name": "Sequential",
                 "config": {**common, "dtype": _kc.keras_dtype("float32"), "layers": entries,
                            "build_input_shape": shape},
                 "registered_name": None, "build_config": {"input_shape": shape},
                 "compile_config": {}}, layers)
    layers = keras_layer_order(graph)
    by_name = {layer.name: layer for layer in layers}
    entries = []
    for layer in layers:
        entry = _kc.layer_to_keras(layer)
        entry["name"] = layer.name
        inbound = [_tensor_ref(by_name[n]) for n in graph.inbound_names(layer)]
        entry["inbound_nodes"] = [] if isinstance(layer, InputLayer) else [
            {"args": [inbound if layer.multi_input else inbound[0]], "kwargs": {}}]
        entries.append(entry)
    return ({"module": "keras.src.models.functional", "class_name": "Functional",
             "config": {**common, "layers": entries,
                        "input_layers": [graph.input_layers[0].name, 0, 0],
                        "output_layers": [graph.outputs[0].layer.name, 0, 0]},
             "registered_name": "Functional", "build_config": {"input_shape": None},
             "compile_config": {}}, layers)


def _weights_h5(model: Any, layers: List[Layer], compiled: bool) -> bytes:
    h5py = _h5py()
    buf = io.BytesIO()
    used: Dict[str, int] = {}
    with h5py.File(buf, "w") as h5:
        for layer in layers:
            name = _kc.keras_snake(type(layer).__name__)
            if name in used:
                used[name] += 1
                name = f"{name}_{used[name]}"
            else:
                used[name] = 0
            group = h5.create_group(f"layers/{name}/vars")
            group.attrs["name"] = layer.name
            for i, w in enumerate(layer.weights):
                group.create_dataset(str(i), data=w.value)
        if compiled:
            group = h5.create_group("optimizer/vars")
            group.attrs["name"] = model.optimizer.name
            for i, a in enumerate(_kcomp.optimizer_variables(model, layers)):
                group.create_dataset(str(i), data=a)
        h5.create_group("vars").attrs["name"] = model.name
    return buf.getvalue()


def save(model: Any, filepath: Any, overwrite: bool = True) -> None:
    """Write ``model`` as a Keras 3 archive that ``keras.saving.load_model`` reads (architecture,
    weights and, for a compiled model, compile settings and optimizer state), atomically."""
    path = os.path.abspath(os.fspath(filepath))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{filepath} is a directory")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    config, layers = model_config(model)
    config["compile_config"] = _kcomp.compile_config(model) or {}   # {}: as Keras, uncompiled
    weights = _weights_h5(model, layers, bool(config["compile_config"]))
    metadata = {"keras_version": KERAS_FORMAT_VERSION,
                "date_saved": time.strftime("%Y-%m-%d@%H:%M:%S")}
    with atomic_path(path, "filepath", suffix=".keras") as tmp:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(_METADATA, json.dumps(metadata))
            zf.writestr(_CONFIG, json.dumps(config))
            zf.writestr(_WEIGHTS, weights)
