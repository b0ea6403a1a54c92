"""The model file: one zip holding JSON and ``.npy`` members, checked on reading.

Members::

    metadata.json      format name and version, foveal version, kind ("model" or "weights")
    config.json        architecture ({"class_name": "Sequential"|"Functional", "config": ...})
    compile.json       optimizer, loss and metrics, or null when the model was not compiled
    state.json         optimizer iterations and slot index; generator states of seeded layers
    weights/NNNN.npy   every weight, in get_weights() order (raw float32: a bit-exact round trip)
    optimizer/NNNN.npy optimizer slot arrays, listed in state.json
    manifest.json      SHA-256 of every other member (written last)

Zip's per-member CRC-32 and the manifest's SHA-256 catch a truncated or altered file, which is
reported as ValueError.  Writing goes to a temporary file in the target directory that replaces
the target only when complete (``os.replace``), so a crash never leaves half a file behind.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import zipfile
import zlib
from typing import Any, Dict, List, Optional

import numpy as np

from .._files import atomic_path
from .. import __version__
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers

FORMAT = "foveal.model"
FORMAT_VERSION = 1


def _npy_bytes(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(a), allow_pickle=False)
    return buf.getvalue()


def _json_bytes(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=False).encode("utf-8")


def _write_atomic(filepath: str, members: Dict[str, bytes], overwrite: bool) -> None:
    path = os.path.abspath(os.fspath(filepath))
    if os.path.isdir(path):
        raise IsADirectoryError(f"{filepath} is a directory")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{filepath} exists and overwrite=False")
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"directory {directory} does not exist")
    manifest = {name: hashlib.sha256(data).hexdigest() for name, data in members.items()}
    with atomic_path(path, "filepath") as tmp:
        with open(tmp, "wb") as f:
            with zipfile.ZipFile(f, "w", compression=zipfile.ZIP_STORED) as zf:
                for name, data in members.items():
                    zf.writestr(name, data)
                zf.writestr("manifest.json", _json_bytes(manifest))


class _Reader:
    """Every member of a model file, verified (CRC-32 by zipfile, SHA-256 by the manifest)."""

    def __init__(self, filepath: str, kinds: tuple) -> None:
        path = os.fspath(filepath)
        if not os.path.exists(path):
            raise FileNotFoundError(f"no such model file: {path}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"{path} is a directory, not a model file")
        try:
            with zipfile.ZipFile(path, "r") as zf:
                self.members = {name: zf.read(name) for name in zf.namelist()}
            manifest = json.loads(self.members.pop("manifest.json"))
            if set(manifest) != set(self.members):
                raise ValueError("the member list does not match the manifest")
            for name, digest in manifest.items():
                if hashlib.sha256(self.members[name]).hexdigest() != digest:
                    raise ValueError(f"checksum mismatch in {name}")
            self.metadata = self.json("metadata.json")
        except (zipfile.BadZipFile, zlib.error, KeyError, EOFError, UnicodeDecodeError,
                json.JSONDecodeError, ValueError, OSError) as e:
            if isinstance(e, (FileNotFoundError, IsADirectoryError, PermissionError)):
                raise
            raise ValueError(f"{path} is not a valid foveal model file (corrupt or truncated?): "
                             f"{e}") from None
        if self.metadata.get("format") != FORMAT:
            raise ValueError(f"{path} is not a foveal model file (format {self.metadata.get('format')!r})")
        if self.metadata.get("format_version", 0) > FORMAT_VERSION:
            raise ValueError(f"{path} was written by a newer foveal (format version "
                             f"{self.metadata.get('format_version')}); upgrade foveal to read it")
        if self.metadata.get("kind") not in kinds:
            raise ValueError(f"{path} holds {self.metadata.get('kind')!r}, expected "
                             f"{' or '.join(kinds)}")
        self.path = path

    def json(self, name: str) -> Any:
        return json.loads(self.members[name].decode("utf-8"))

    def array(self, name: str) -> np.ndarray:
        try:
            return np.lib.format.read_array(io.BytesIO(self.members[name]), allow_pickle=False)
        except (KeyError, ValueError, EOFError) as e:
            raise ValueError(f"{self.path}: bad array member {name}: {e}") from None

    def weights(self) -> List[np.ndarray]:
        names = sorted(n for n in self.members if n.startswith("weights/"))
        return [self.array(n) for n in names]


def _metadata(kind: str) -> bytes:
    return _json_bytes({"format": FORMAT, "format_version": FORMAT_VERSION,
                        "foveal_version": __version__, "kind": kind})


def _weight_members(model: Any) -> Dict[str, bytes]:
    return {f"weights/{i:04d}.npy": _npy_bytes(w.value) for i, w in enumerate(model.weights)}


def _architecture(model: Any) -> Dict[str, Any]:
    from .models import Sequential

    kind = "Sequential" if isinstance(model, Sequential) else "Functional"
    return {"class_name": kind, "config": model.get_config()}


def _serialize_loss(loss: Any) -> Any:
    return loss if isinstance(loss, str) or loss is None else _losses.serialize(loss)


def _serialize_metric(m: Any) -> Any:
    return m if isinstance(m, str) else _metrics.serialize(m)


def save_model(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Write ``model`` to ``filepath`` (see the module docstring for the layout)."""
    model._require_graph("save")
    members: Dict[str, bytes] = {"metadata.json": _metadata("model"),
                                 "config.json": _json_bytes(_architecture(model))}
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
                members[member] = _npy_bytes(a)
                slots.append({"weight": i, "slot": name, "member": member})
        state["optimizer"] = {"iterations": opt.iterations, "slots": slots}
    for layer in model.layers:
        rng = getattr(layer, "rng", None)
        if isinstance(rng, np.random.Generator):
            state["rng"][layer.name] = rng.bit_generator.state
    members["compile.json"] = _json_bytes(compile_cfg)
    members["state.json"] = _json_bytes(state)
    _write_atomic(filepath, members, overwrite)


def save_weights(model: Any, filepath: str, overwrite: bool = True) -> None:
    """Write only the weights of ``model``."""
    model._require_graph("save_weights")
    members = {"metadata.json": _metadata("weights")}
    members.update(_weight_members(model))
    _write_atomic(filepath, members, overwrite)


def load_weights(model: Any, filepath: str) -> None:
    """Read weights (from a weights file or a full model file) into ``model``."""
    reader = _Reader(filepath, ("weights", "model"))
    model._require_graph("load_weights")
    model.set_weights(reader.weights())


def load_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None,
               compile: bool = True) -> Any:
    """Rebuild a model written by :func:`save_model`."""
    from .models import Model, Sequential

    reader = _Reader(filepath, ("model",))
    try:
        arch = reader.json("config.json")
        compile_cfg = reader.json("compile.json")
        state = reader.json("state.json")
    except KeyError as e:
        raise ValueError(f"{reader.path} is missing member {e}") from None
    cls = {"Sequential": Sequential, "Functional": Model}.get(arch.get("class_name"))
    if cls is None:
        raise ValueError(f"{reader.path}: unknown model class {arch.get('class_name')!r}")
    model = cls.from_config(arch["config"], custom_objects)
    if model._graph is None and reader.weights():
        raise ValueError(f"{reader.path}: weights stored for a model without an input shape")
    if model._graph is not None:
        model.set_weights(reader.weights())
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
