"""What runs inside the Ray workers: :class:`FeatureWorker` (an actor holding one
``OnnxBackbone``) and :func:`augment_batch` (a task writing augmented images).

Both decode their files themselves (``foveal.data``'s decoder, as ``flow_from_directory`` with
``interpolation="bilinear"``) with as many threads as the CPUs Ray gave them, and report an
unreadable file as a row with ``ok = False`` instead of raising (the driver lists it as
skipped); no other image takes its place.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

from . import _ray

Batch = Dict[str, np.ndarray]


def backbone_spec(backbone: Any, name: str) -> Dict[str, Any]:
    """What a worker needs to rebuild ``backbone`` (an ``OnnxBackbone``) from the ONNX bytes:
    its constructor arguments as given (a callable ``preprocess`` travels pickled) and the
    file's name (for messages)."""
    return {"name": name, "output": backbone._output_arg, "preprocess": backbone.preprocess,
            "input_size": backbone.input_size, "batch_size": backbone.batch_size,
            "layout": backbone._layout_arg, "providers": backbone.providers}


def _read_into(paths: List[str], read: Any) -> Any:
    """``read(path)`` as a ``decode_batch`` reader: an image, or None when it cannot be read."""
    def reader(j: int) -> Optional[np.ndarray]:
        try:
            return read(paths[j])
        except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
            return None
    return reader


class FeatureWorker:
    """A Ray Data actor (and, as ``_pool.PoolWorker``, a plain one): one ``OnnxBackbone``
    built from the ONNX bytes in the object store, onnxruntime and foveal given as many threads
    as the actor's CPUs.

    Called on a batch of rows (``path``; optional ``index``, ``label``, ``image``), it returns
    one row per input row: ``index`` (int64, -1 where the input has none), ``path`` (str),
    ``label`` (int64, -1 where none), ``features`` (``N x D`` float32; zeros for an
    unreadable file), ``ok`` (bool) and ``node`` (the worker's Ray node id)."""

    def __init__(self, model: List[Any], spec: Dict[str, Any]) -> None:
        import ray   # not ray.data: a pool worker needs only the core (half a second less)

        from ..transfer.backbone import OnnxBackbone

        self.cpus = _ray.set_worker_threads(ray)
        data = ray.get(model[0])
        with tempfile.TemporaryDirectory(prefix="foveal-onnx-") as folder:
            path = os.path.join(folder, os.path.basename(spec["name"]) or "backbone.onnx")
            with open(path, "wb") as fh:
                fh.write(data)
            self.backbone = OnnxBackbone(path, output=spec["output"], preprocess=spec["preprocess"],
                                         input_size=spec["input_size"],
                                         batch_size=spec["batch_size"], providers=spec["providers"],
                                         layout=spec["layout"], num_threads=self.cpus)
        self.node = _ray.node_id(ray)

    def _images(self, batch: Batch, paths: List[str]) -> Tuple[np.ndarray, List[int]]:
        """The batch's images (``n x H x W x C`` float32, the model's size) and the positions
        of the rows that have one."""
        from ..data._decode import decode_batch, decode_file

        bb = self.backbone
        if "image" in batch:   # decoded already (e.g. ray.data.read_images): resized as arrays
            images = [np.asarray(img) for img in batch["image"]]
            return _stack_prepared(images), list(range(len(images)))
        size = bb.input_size
        if size is None:
            raise ValueError("backbone: the model's input size is dynamic; pass "
                             "input_size=(height, width) to OnnxBackbone to read image files")
        mode = "rgb" if bb.channels == 3 else "grayscale"
        read = _read_into(paths, lambda p: decode_file(p, mode, size, "bilinear", False))
        return decode_batch(read, list(range(len(paths))), size + (bb.channels,), "bilinear",
                            None)

    def __call__(self, batch: Batch) -> Batch:
        bb = self.backbone
        paths = [str(p) for p in batch["path"]]
        n = len(paths)
        x, read = self._images(batch, paths)
        if "image" in batch:
            tensor_rows = [bb.prepare(img[None]) for img in x]
            tensor = np.concatenate(tensor_rows) if tensor_rows else None
        else:
            tensor = bb.prepare(x) if len(x) else None
        dim = bb.feature_dim
        features = np.zeros((n, dim), np.float32)
        if tensor is not None and len(read):
            step = bb.batch_size
            out = [bb._run(tensor[s:s + step]) for s in range(0, len(tensor), step)]
            features[read] = np.concatenate(out) if len(out) > 1 else out[0]
        ok = np.zeros(n, bool)
        ok[read] = True
        return {"index": _column(batch, "index", n), "path": np.asarray(paths, dtype=object),
                "label": _column(batch, "label", n), "features": features, "ok": ok,
                "node": np.full(n, self.node, dtype=object)}


def _stack_prepared(images: List[np.ndarray]) -> np.ndarray:
    """Images of any sizes as an object array (each is resized by ``prepare`` on its own)."""
    out = np.empty(len(images), dtype=object)
    for i, img in enumerate(images):
        out[i] = img if img.ndim == 3 else img[:, :, None]
    return out


def _column(batch: Batch, name: str, n: int) -> np.ndarray:
    """Column ``name`` as int64, or ``n`` times -1 where the batch has none."""
    if name not in batch:
        return np.full(n, -1, np.int64)
    return np.asarray(batch[name], dtype=np.int64)


# ---- augmentation -----------------------------------------------------------------------

def augmented_name(name: str, copy: int, save_format: str, hashed: bool) -> str:
    """The relative output name of copy ``copy`` of the file named ``name``:
    ``"cls/sub/a_aug0.png"`` for a directory listing (``hashed=False``), or
    ``"a-<8 hex of the path's SHA-1>_aug0.png"`` for a file list or a Dataset, where the same
    base name can come from several folders."""
    stem = os.path.splitext(name)[0]
    if hashed:
        digest = hashlib.sha1(name.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        stem = f"{os.path.basename(stem)}-{digest}"
    return f"{stem}_aug{copy}.{save_format}"


def copy_seed(seed: int, name: str, copy: int) -> np.random.Generator:
    """The generator of copy ``copy`` of file ``name``: the same on every worker and run."""
    key = int.from_bytes(hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()[:8], "little")
    return np.random.default_rng([seed, key, copy])


def augment_batch(batch: Batch, generator: Any, output: str, copies: int,
                  target_size: Optional[Tuple[int, int]], color_mode: str, save_format: str,
                  seed: int, hashed: bool) -> Batch:
    """A Ray Data task: read each row's file (``path``; ``name`` its listing name, else the
    path), write ``copies`` randomly transformed versions of it as uint8 files under
    ``output``, one row per written file: ``path`` (source), ``written`` (the file), ``ok``,
    ``node``. An unreadable file gives one row with ``ok = False`` and ``written = ""``."""
    ray = _ray.require_ray()
    from .. import image as _image
    from ..data._decode import decode_file

    _ray.set_worker_threads(ray)
    node = _ray.node_id(ray)
    paths = [str(p) for p in batch["path"]]
    names = [str(p) for p in batch["name"]] if "name" in batch else paths
    rows: Dict[str, List[Any]] = {"index": [], "path": [], "written": [], "ok": [], "node": []}
    index = _column(batch, "index", len(paths))
    for i, (path, name) in enumerate(zip(paths, names)):
        try:
            img = _decode(decode_file, _image, path, target_size, color_mode)
        except Exception:  # noqa: BLE001 - any decoder failure means "unreadable"
            img = None
        outs = [] if img is None else _write_copies(generator, _image, img, output, name, copies,
                                                    save_format, seed, hashed)
        for written in outs or [""]:
            rows["index"].append(int(index[i]))
            rows["path"].append(path)
            rows["written"].append(written)
            rows["ok"].append(img is not None)
            rows["node"].append(node)
    return {"index": np.asarray(rows["index"], np.int64),
            "path": np.asarray(rows["path"], dtype=object),
            "written": np.asarray(rows["written"], dtype=object),
            "ok": np.asarray(rows["ok"], bool), "node": np.asarray(rows["node"], dtype=object)}


def _decode(decode_file: Any, _image: Any, path: str, target_size: Optional[Tuple[int, int]],
            color_mode: str) -> np.ndarray:
    """One file as ``H x W x C`` uint8: at ``target_size`` (bilinear, as
    ``flow_from_directory``), or at its own size when that is None."""
    if target_size is None:
        from PIL import Image

        with Image.open(path) as im:
            w, h = im.size
        target = (h, w)
    else:
        target = target_size
    img = decode_file(path, color_mode, target, "bilinear", False)
    if img.shape[:2] != target:
        img = _image.resize(img, target, "bilinear")
    if img.dtype != np.uint8:   # 16/32-bit files: their values clipped to 0..255
        img = np.clip(np.rint(img), 0, 255).astype(np.uint8)
    return img


def _write_copies(generator: Any, _image: Any, img: np.ndarray, output: str, name: str,
                  copies: int, save_format: str, seed: int, hashed: bool) -> List[str]:
    """Write ``copies`` random transforms of ``img``; their absolute paths."""
    written = []
    for k in range(copies):
        params = generator.get_random_transform(img.shape, seed=copy_seed(seed, name, k))
        out = generator.apply_transform(img, params)
        pixels = np.clip(np.rint(out), 0, 255).astype(np.uint8)
        target = os.path.join(output, *augmented_name(name, k, save_format, hashed).split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        _image.write(target, pixels)
        written.append(target)
    return written
