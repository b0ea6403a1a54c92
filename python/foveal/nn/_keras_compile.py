"""Compile settings and optimizer state of Keras 3 ``.keras`` archives, both ways
(``foveal.nn._keras_compile``; :mod:`foveal.nn._keras_archive` does the files).

``config.json`` holds, beside the model, Keras's ``compile_config``::

    {"optimizer": {"module": "keras.optimizers", "class_name": "Adam",
                   "config": {"name", "learning_rate", "weight_decay": null, ..., "beta_1", ...},
                   "registered_name": null},
     "loss": "categorical_crossentropy" | {"module": "keras.losses", "class_name", "config"},
     "loss_weights": null, "metrics": ["accuracy", ...] | null, "weighted_metrics": null,
     "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false}

(Keras's torch backend names the optimizer module ``keras.src.backend.torch.optimizers...`` with
``registered_name`` ``"Adam"``; foveal writes the backend-neutral ``keras.optimizers`` that Keras
writes for its other backends and that every backend reads.) ``model.weights.h5`` holds the
optimizer's variables as datasets ``optimizer/vars/0 .. n-1`` in the order of Keras's
``optimizer.variables``: ``iteration`` (int32 scalar), ``learning_rate`` (float32 scalar), then
the slots, in groups (:data:`SLOT_GROUPS`): within a group, for each trainable weight in the order
of Keras's ``model.trainable_variables``, that group's slots. Adam has one group
``(momentum, velocity)`` (the two interleaved per weight), RMSprop the groups ``(velocity,)``,
``(momentum,)`` when ``momentum > 0`` and ``(average_gradient,)`` when centered; SGD
``(momentum,)`` when ``momentum != 0``. A frozen layer's weights are not trainable: they get no
slots (Keras's ``trainable_variables`` leave them out).

Reading takes only data: names and numbers are looked up in foveal's own tables, nothing is
imported or run. An optimizer, loss or metric foveal does not have (or with settings it does not
support: gradient clipping, weight decay, EMA, a learning-rate schedule, label smoothing...) leaves
the model uncompiled with a warning naming it, as Keras does when it cannot compile.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers

#: Keras's base optimizer arguments and the values under which they change nothing (any other
#: value is a feature foveal's optimizers do not have). ``ema_momentum`` and
#: ``ema_overwrite_frequency`` only act with ``use_ema``.
_OPTIMIZER_OFF: Dict[str, Any] = {
    "weight_decay": None, "clipnorm": None, "global_clipnorm": None, "clipvalue": None,
    "use_ema": False, "ema_momentum": 0.99, "ema_overwrite_frequency": None,
    "loss_scale_factor": None, "gradient_accumulation_steps": None}
_OPTIMIZER_IGNORED = frozenset({"ema_momentum", "ema_overwrite_frequency"})
#: Per class: foveal's optimizer class and Keras's own extra arguments with their "off" values.
_OPTIMIZERS: Dict[str, Tuple[type, Dict[str, Any]]] = {
    "SGD": (_optimizers.SGD, {}),
    "Adam": (_optimizers.Adam, {"amsgrad": False}),
    "RMSprop": (_optimizers.RMSprop, {}),
}
#: Per loss class: Keras's default name and its arguments foveal fixes (reduction aside).
_LOSSES: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "CategoricalCrossentropy": ("categorical_crossentropy", {"label_smoothing": 0.0, "axis": -1}),
    "SparseCategoricalCrossentropy": ("sparse_categorical_crossentropy", {"ignore_class": None}),
    "BinaryCrossentropy": ("binary_crossentropy", {"label_smoothing": 0.0, "axis": -1}),
    "MeanSquaredError": ("mean_squared_error", {}),
}
_METRICS = frozenset({"CategoricalAccuracy", "SparseCategoricalAccuracy", "BinaryAccuracy",
                      "MeanSquaredError", "MeanAbsoluteError"})
_REDUCTION = "sum_over_batch_size"


def slot_groups(optimizer: Any) -> List[Tuple[str, ...]]:
    """The slot groups of ``optimizer`` in Keras's variable order (see the module docstring)."""
    if isinstance(optimizer, _optimizers.Adam):
        return [("momentum", "velocity")]
    if isinstance(optimizer, _optimizers.RMSprop):
        return [("velocity",)] + [("momentum",)] * (optimizer.momentum > 0) + [
            ("average_gradient",)] * optimizer.centered
    if isinstance(optimizer, _optimizers.SGD):
        return [("momentum",)] if optimizer.momentum != 0 else []
    raise ValueError(f"optimizer {type(optimizer).__name__} has no Keras equivalent")


def trainable_in_keras_order(model: Any, layers: Sequence[Any]) -> List[Any]:
    """The weights Keras's ``model.trainable_variables`` lists, for ``layers`` in Keras's order."""
    if not model.trainable:
        return []
    return [w for layer in layers for w in layer.trainable_weights]


# --------------------------------------------------------------------------------------------
# foveal -> Keras
# --------------------------------------------------------------------------------------------


def _optimizer_to_keras(opt: Any) -> Dict[str, Any]:
    cls_name = next((k for k, (cls, _) in _OPTIMIZERS.items() if type(opt) is cls), None)
    if cls_name is None:
        raise ValueError(f"optimizer {type(opt).__name__}")
    config = opt.get_config()
    out = {"name": config.pop("name"), "learning_rate": config.pop("learning_rate"),
           **_OPTIMIZER_OFF, **config, **_OPTIMIZERS[cls_name][1]}
    return {"module": "keras.optimizers", "class_name": cls_name, "config": out,
            "registered_name": None}


def _loss_to_keras(loss: Any) -> Any:
    if loss is None or isinstance(loss, str):
        return loss
    cls_name = type(loss).__name__
    if cls_name not in _LOSSES or getattr(_losses, cls_name, None) is not type(loss):
        raise ValueError(f"loss {cls_name}")
    name, extra = _LOSSES[cls_name]
    return {"module": "keras.losses", "class_name": cls_name,
            "config": {"name": name, "reduction": _REDUCTION, **loss.get_config(), **extra},
            "registered_name": None}


def _metric_to_keras(metric: Any) -> Any:
    if isinstance(metric, str):
        return metric
    cls_name = type(metric).__name__
    if cls_name not in _METRICS or getattr(_metrics, cls_name, None) is not type(metric):
        raise ValueError(f"metric {cls_name}")
    config = metric.get_config()
    return {"module": "keras.metrics", "class_name": cls_name,
            "config": {"name": config.pop("name"), "dtype": "float32", **config},
            "registered_name": None}


def compile_config(model: Any) -> Optional[Dict[str, Any]]:
    """Keras's ``compile_config`` of ``model``; None (Keras writes ``{}``) when it is not
    compiled, or (with a warning) when its optimizer, loss or a metric has no Keras equivalent
    (the archive then loads uncompiled)."""
    if not model.compiled:
        return None
    try:
        optimizer = _optimizer_to_keras(model.optimizer)
        loss = _loss_to_keras(model.loss)
        metrics = [_metric_to_keras(m) for m in model._metric_ids]
    except ValueError as e:
        warnings.warn(f"model {model.name!r}: compile settings not written to the .keras archive: "
                      f"{e} has no Keras equivalent (the archive loads uncompiled)",
                      UserWarning, stacklevel=5)
        return None
    return {"optimizer": optimizer, "loss": loss, "loss_weights": None,
            "metrics": metrics or None, "weighted_metrics": None, "run_eagerly": False,
            "steps_per_execution": 1, "jit_compile": False}


def optimizer_variables(model: Any, layers: Sequence[Any]) -> List[np.ndarray]:
    """The arrays of ``optimizer/vars`` for a compiled ``model`` whose layers in Keras's order are
    ``layers``: zeros for slots the optimizer has not created yet (what Keras builds at load)."""
    opt = model.optimizer
    weights = trainable_in_keras_order(model, layers)
    arrays = [np.array(opt.iterations, dtype=np.int32), np.array(opt.learning_rate, np.float32)]
    for group in slot_groups(opt):
        for w in weights:
            slots = opt.slots_for(w) or {}
            arrays.extend(np.asarray(slots[n], np.float32) if n in slots
                          else np.zeros(w.shape, np.float32) for n in group)
    return arrays


# --------------------------------------------------------------------------------------------
# Keras -> foveal
# --------------------------------------------------------------------------------------------


class Unsupported(Exception):
    """A compile setting foveal cannot take (the message names it)."""


def _is_keras_module(module: Any, public: str) -> bool:
    return module is None or module == public or (
        isinstance(module, str) and module.startswith(("keras.src.", public + ".")))


def _function_name(value: Any, public: str) -> Optional[str]:
    """The name of a Keras built-in function entry (``{"class_name": "function", "config":
    name}``), e.g. ``loss=keras.losses.categorical_crossentropy``; None for anything else."""
    if (isinstance(value, dict) and value.get("class_name") == "function"
            and value.get("module") in ("builtins", public) and isinstance(value.get("config"), str)
            and value.get("registered_name") in (None, "function")):
        return value["config"]
    return None


def _check_off(config: Dict[str, Any], off: Dict[str, Any], what: str) -> None:
    for key, value in off.items():
        if key in config and config[key] != value and not (value is None and config[key] == 0):
            raise Unsupported(f"{what} with {key}={config[key]!r}")


def _optimizer_from_keras(entry: Any) -> Any:
    if isinstance(entry, str):
        try:
            return _optimizers.get(entry)
        except (TypeError, ValueError):
            raise Unsupported(f"optimizer {entry!r}") from None
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise Unsupported(f"optimizer {entry!r}")
    cls_name = entry.get("class_name")
    if (cls_name not in _OPTIMIZERS or not _is_keras_module(entry.get("module"), "keras.optimizers")
            or entry.get("registered_name") not in (None, cls_name)):
        raise Unsupported(f"optimizer {cls_name!r} (module {entry.get('module')!r})")
    cls, extra = _OPTIMIZERS[cls_name]
    config = dict(entry["config"])
    what = f"optimizer {cls_name}"
    lr = config.get("learning_rate")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)):
        name = lr.get("class_name") if isinstance(lr, dict) else type(lr).__name__
        raise Unsupported(f"{what} with a learning-rate schedule {name!r}")
    _check_off(config, {k: v for k, v in _OPTIMIZER_OFF.items() if k not in _OPTIMIZER_IGNORED},
               what)
    _check_off(config, extra, what)
    args = {k: v for k, v in config.items() if k not in _OPTIMIZER_OFF and k not in extra}
    try:
        return cls.from_config(args)
    except (TypeError, ValueError) as e:
        raise Unsupported(f"{what} ({e})") from None


def _loss_from_keras(entry: Any) -> Any:
    name = _function_name(entry, "keras.losses")
    if entry is None:
        return None
    if isinstance(entry, str) or name is not None:
        try:
            _losses.get(name or entry)
        except (TypeError, ValueError):
            raise Unsupported(f"loss {name or entry!r}") from None
        return name or entry
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise Unsupported(f"loss {entry!r}" if not isinstance(entry, (list, dict)) else
                          "a loss per output (foveal models have one output)")
    cls_name = entry.get("class_name")
    if (cls_name not in _LOSSES or not _is_keras_module(entry.get("module"), "keras.losses")
            or entry.get("registered_name") not in (None, cls_name)):
        raise Unsupported(f"loss {cls_name!r} (module {entry.get('module')!r})")
    config = dict(entry["config"])
    if config.pop("dtype", None) not in (None, "float32"):
        raise Unsupported(f"loss {cls_name} with dtype {entry['config']['dtype']!r}")
    fixed = {"reduction": _REDUCTION, **_LOSSES[cls_name][1]}
    _check_off(config, fixed, f"loss {cls_name}")
    args = {k: v for k, v in config.items() if k not in fixed and k != "name"}
    try:
        return _losses.get({"class_name": cls_name, "config": args})
    except (TypeError, ValueError) as e:
        raise Unsupported(f"loss {cls_name} ({e})") from None


def _metric_from_keras(entry: Any) -> Any:
    name = _function_name(entry, "keras.metrics")
    if isinstance(entry, str) or name is not None:
        try:
            _metrics.check_identifier(name or entry)
        except (TypeError, ValueError):
            raise Unsupported(f"metric {name or entry!r}") from None
        return name or entry
    cls_name = entry.get("class_name") if isinstance(entry, dict) else None
    if (cls_name not in _METRICS or not isinstance(entry.get("config"), dict)
            or not _is_keras_module(entry.get("module"), "keras.metrics")
            or entry.get("registered_name") not in (None, cls_name)):
        raise Unsupported(f"metric {cls_name or entry!r}")
    config = dict(entry["config"])
    if config.pop("dtype", None) not in (None, "float32"):
        raise Unsupported(f"metric {cls_name} with dtype {entry['config']['dtype']!r}")
    try:
        return _metrics.get({"class_name": cls_name, "config": config})
    except (TypeError, ValueError) as e:
        raise Unsupported(f"metric {cls_name} ({e})") from None


def _compile_args(config: Dict[str, Any]) -> Dict[str, Any]:
    """``compile``'s arguments from a Keras ``compile_config`` (Unsupported for what foveal
    cannot take)."""
    if not isinstance(config, dict):
        raise Unsupported(f"compile_config {config!r}")
    for key in ("loss_weights", "weighted_metrics"):
        if config.get(key) not in (None, [], {}):
            raise Unsupported(f"{key}={config[key]!r}")
    metrics = config.get("metrics")
    if isinstance(metrics, dict) or (isinstance(metrics, list) and any(
            isinstance(m, list) for m in metrics)):
        raise Unsupported("metrics per output (foveal models have one output)")
    return {"optimizer": _optimizer_from_keras(config.get("optimizer")),
            "loss": _loss_from_keras(config.get("loss")),
            "metrics": [_metric_from_keras(m) for m in (metrics or [])]}


def restore(model: Any, config: Any, opt_vars: Optional[List[np.ndarray]],
            layers: Sequence[Any], where: str) -> None:
    """Compile ``model`` from a Keras ``compile_config`` and set its optimizer's state from the
    arrays of ``optimizer/vars`` (``opt_vars``, None when absent; ``layers``: the model's layers
    in Keras's order). Settings foveal cannot take leave the model uncompiled, and a variable list
    that does not fit the optimizer leaves its state fresh, each with a warning."""
    try:
        args = _compile_args(config)
    except Unsupported as e:
        warnings.warn(f"{where}: the model is returned uncompiled: its compile settings hold {e}, "
                      "which foveal does not support; call model.compile(...) to train it",
                      UserWarning, stacklevel=5)
        return
    model.compile(**args)
    if not opt_vars:
        return
    opt = model.optimizer
    weights = trainable_in_keras_order(model, layers)
    expected = [()] * 2 + [w.shape for group in slot_groups(opt) for w in weights for _ in group]
    shapes = [tuple(np.shape(a)) for a in opt_vars]
    if shapes != expected[:2] and shapes != expected:
        warnings.warn(f"{where}: optimizer state not restored: the archive has {len(shapes)} "
                      f"optimizer variables, {type(opt).__name__} on this model's "
                      f"{len(weights)} trainable weights has {len(expected)} (shapes differ or "
                      "other layers are trainable); training starts with a fresh optimizer state",
                      UserWarning, stacklevel=5)
        return
    opt.iterations = int(opt_vars[0])
    opt.learning_rate = float(opt_vars[1])
    if len(opt_vars) == 2:
        return
    opt.build(weights)
    values = iter(opt_vars[2:])
    for group in slot_groups(opt):
        for w in weights:
            slots = opt.slots_for(w)
            for name in group:
                np.copyto(slots[name], np.asarray(next(values), np.float32))
