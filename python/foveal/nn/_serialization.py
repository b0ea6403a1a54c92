"""A model as the members of its file, and back (``foveal.nn._serialization``): architecture,
weights, compile settings, optimizer state and the generator states of seeded layers. Writing
and checking the file itself is :mod:`foveal.nn._saving`'s job.

Members of a model file::

    metadata.json      format name and version, foveal version, kind ("model" or "weights")
    config.json        architecture ({"class_name": "Sequential"|"Functional", "config": ...})
    compile.json       optimizer, loss and metrics, or null when the model was not compiled
    state.json         optimizer iterations and slot index; generator states of seeded layers
    weights/NNNN.npy   every weight, in get_weights() order (raw float32: a bit-exact round trip)
    optimizer/NNNN.npy optimizer slot arrays, listed in state.json
    manifest.json      SHA-256 of every other member (written last)

A weights file holds ``metadata.json``, the ``weights/`` members and ``manifest.json``.
A path ending in ``.keras`` is a Keras 3 archive instead, both ways (:mod:`foveal.nn._keras_archive`).
The model classes come in as arguments (``load_model``'s ``classes``, and each model class's
``_file_class_name``), so this module knows no model class.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Optional

import numpy as np

from . import _saving
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers


def _weight_members(model: Any) -> Dict[str, np.ndarray]:
    return {f"weights/{i:04d}.npy": w.value for i, w in enumerate(model.weights)}


def _serialize_loss(loss: Any) -> Any:
    return loss if isinstance(loss, str) or loss is None else _losses.serialize(loss)


def _serialize_metric(m: Any) -> Any:
    return m if isinstance(m, str) else _metrics.serialize(m)


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Write ``model`` to ``filepath`` (see the module docstring for the members); a path
    ending in ``.keras`` gets a Keras 3 archive instead (:mod:`foveal.nn._keras_archive`)."""
    if os.fspath(filepath).lower().endswith(".keras"):
        from . import _keras_archive
        _keras_archive.save(model, filepath, overwrite)
        return
    model._require_graph("save")
    members: Dict[str, Any] = {"config.json": {"class_name": model._file_class_name,
                                               "config": model.get_config()}}
    members.update(_weight_members(model))
    compile_cfg = None
    state: Dict[str, Any] = {"rng": {}}
    if model.compiled:
        compile_cfg = {"optimizer": _optimizers.serialize(model.optimizer),
                       "loss": _serialize_loss(model.loss),
                       "metrics": [_serialize_metric(m) for m in model._metric_ids]}
        opt = model.optimizer
        slots = []
        for i, w in enumerate(model.trainable_weights):
            arrays = opt.slots_for(w)
            for name, a in (arrays or {}).items():
                member = f"optimizer/{len(slots):04d}.npy"
                members[member] = a
                slots.append({"weight": i, "slot": name, "member": member})
        state["optimizer"] = {"iterations": opt.iterations, "slots": slots}
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            state["rng"][layer.name] = rng.bit_generator.state
    members["compile.json"] = compile_cfg
    members["state.json"] = state
    _saving.write(filepath, "model", members, overwrite)


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Write only the weights of ``model``."""
    model._require_graph("save_weights")
    _saving.write(filepath, "weights", _weight_members(model), overwrite)


def load_weights(model: Any, filepath: str) -> None:
    """Read weights (from a weights file or a full model file) into ``model``."""
    reader = _saving.ModelFile(filepath, ("weights", "model"))
    model._require_graph("load_weights")
    model.set_weights(reader.arrays("weights/"))


def load_model(filepath: str, classes: Dict[str, type],
               custom_objects: Optional[Dict[str, type]] = None, compile: bool = True) -> Any:
    """Rebuild a model written by :func:`save_model`; ``classes`` maps the architecture's
    ``class_name`` (``"Sequential"``, ``"Functional"``) to the model class. A Keras 3 archive
    (a zip with ``config.json`` and ``model.weights.h5``, whatever its suffix) is read by
    :mod:`foveal.nn._keras_archive` (compiled as Keras would; ``custom_objects`` unused)."""
    from . import _keras_archive
    if _keras_archive.is_keras_archive(filepath):
        return _keras_archive.load(filepath, classes, compile)
    reader = _saving.ModelFile(filepath, ("model",))
    try:
        arch = reader.json("config.json")
        compile_cfg = reader.json("compile.json")
        state = reader.json("state.json")
    except KeyError as e:
        raise ValueError(f"{reader.path} is missing member {e}") from None
    cls = classes.get(arch.get("class_name"))
    if cls is None:
        raise ValueError(f"{reader.path}: unknown model class {arch.get('class_name')!r}")
    model = cls.from_config(arch["config"], custom_objects)
    weights = reader.arrays("weights/")
    if model._graph is None and weights:
        raise ValueError(f"{reader.path}: weights stored for a model without an input shape")
    if model._graph is not None:
        model.set_weights(weights)
    for layer in (model.layers if model._graph is not None else []):
        saved = state.get("rng", {}).get(layer.name)
        if saved is not None and isinstance(getattr(layer, "rng", None), np.random.Generator):
            layer.rng.bit_generator.state = saved
    if compile and compile_cfg is not None:
        loss = compile_cfg["loss"]
        model.compile(optimizer=_optimizers.get(compile_cfg["optimizer"]),
                      loss=loss if loss is None or isinstance(loss, str) else _losses.get(loss),
                      metrics=[m if isinstance(m, str) else _metrics.get(m)
                               for m in compile_cfg["metrics"]])
        opt_state = state.get("optimizer", {})
        opt = model.optimizer
        opt.iterations = int(opt_state.get("iterations", 0))
        trainable = model.trainable_weights
        entries = opt_state.get("slots", [])
        if entries:
            opt.build(trainable)
            for entry in entries:
                slots = opt.slots_for(trainable[entry["weight"]])
                if entry["slot"] not in slots:
                    raise ValueError(f"{reader.path}: optimizer slot {entry['slot']!r} does not fit "
                                     f"{type(opt).__name__}")
                value = reader.array(entry["member"])
                if value.shape != slots[entry["slot"]].shape:
                    raise ValueError(f"{reader.path}: optimizer slot {entry['member']} has shape "
                                     f"{value.shape}, expected {slots[entry['slot']].shape}")
                np.copyto(slots[entry["slot"]], value)
    return model

