"""Record Keras 3 reference results for ``foveal.data`` into tests/fixtures/keras_data.npz.

Run by hand where Keras 3 (any backend; torch here) and SciPy are installed (the test suite
itself never needs Keras):

    KERAS_BACKEND=torch python tests/make_keras_data_fixtures.py

What is recorded, from Keras's legacy ``ImageDataGenerator`` (``keras.src.legacy.preprocessing``):

* ``dir_*``: ``flow_from_directory`` on the small tree that :func:`make_tree` writes (class
  folders, nested folders, mixed-case extensions, a non-image file, an empty class, a linked
  folder): ``class_indices``, ``filenames``, ``classes``, ``samples``, ``len``, the batch shapes
  and dtypes, the labels of every class mode, the two subsets, and (for lossless files) the
  pixels of every image, unshuffled, for several color modes and ``keep_aspect_ratio``.
* ``fit_*`` / ``std_*``: ``fit`` statistics and ``standardize`` results.
* ``tf_*``: ``apply_transform`` outputs for fixed parameter dicts and every fill mode. The
  dicts are stored in foveal's convention (``tx`` = row shift); Keras 3 adds its ``tx`` to the
  column coordinate, so it is called with ``tx`` and ``ty`` swapped (see foveal.data._augment).

This module is also imported by tests/test_data_generator.py and tests/test_data_directory.py:
the tree and the inputs are made with NumPy and Pillow only; Keras is imported inside
:func:`record` alone.

File layout: one compressed .npz of arrays plus a ``meta`` JSON string (format version, Keras
and NumPy versions, and everything that is not an array: names, lists, dicts).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from typing import Any, Dict, List, Tuple

import numpy as np

FORMAT = 1
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "keras_data.npz")

# (relative path, kind, (height, width)); kinds: rgb, gray, rgba, palette (PNG "P" mode),
# jpeg, text (not an image). Sizes are odd on purpose (resizing to TARGET shrinks and grows).
TREE: List[Tuple[str, str, Tuple[int, int]]] = [
    ("cat/a.png", "rgb", (9, 13)),
    ("cat/B.PNG", "rgb", (5, 5)),
    ("cat/c.Jpg", "jpeg", (12, 16)),
    ("cat/d.bmp", "rgb", (7, 11)),
    ("cat/notes.txt", "text", (0, 0)),
    ("cat/z.png", "gray", (10, 6)),
    ("cat/sub/a.png", "rgba", (6, 8)),
    ("cat/sub/deeper/e.ppm", "rgb", (8, 8)),
    ("cat/sub-2/f.tif", "rgb", (6, 9)),
    ("dog/1.png", "palette", (11, 7)),
    ("dog/2.jpeg", "jpeg", (20, 20)),
    ("dog/3.png", "rgb", (4, 9)),
    ("dog/4.TIFF", "rgb", (13, 5)),
    ("dog/5.gif", "rgb", (5, 5)),
    ("empty/readme.md", "text", (0, 0)),
    ("zebra/p.png", "rgb", (6, 8)),
    ("zebra/q.png", "gray", (3, 3)),
    ("zebra/r.png", "rgba", (16, 12)),
    ("zebra/s.png", "rgb", (8, 6)),
]
LINKS = [("dog/linked", "../zebra")]  # a folder link, followed only with follow_links=True
TARGET = (6, 8)
LOSSLESS = (".png", ".bmp", ".ppm", ".tif", ".tiff")

# Parameter dicts in foveal's convention (tx = rows, ty = columns).
TRANSFORMS: List[Dict[str, Any]] = [
    {"theta": 17.0},
    {"theta": -90.0},
    {"tx": 2.5, "ty": -1.25},
    {"tx": -3.0},
    {"ty": 2.0},
    {"shear": 20.0},
    {"zx": 0.8, "zy": 1.3},
    {"zx": 1.5},
    {"flip_horizontal": True},
    {"flip_vertical": True, "flip_horizontal": True},
    {"theta": 30.0, "tx": 1.0, "ty": 2.0, "shear": 10.0, "zx": 1.1, "zy": 0.9,
     "flip_horizontal": True, "flip_vertical": True},
    {"channel_shift_intensity": 30.0},
    {"theta": 10.0, "channel_shift_intensity": -40.0},
    {"brightness": 0.6},
]
NON_SQUARE_TRANSFORMS: List[Dict[str, Any]] = [
    {"tx": 2.0}, {"ty": -3.5}, {"tx": -1.5, "ty": 1.0, "flip_horizontal": True}, {"flip_vertical": True},
]
FILL_MODES = ["nearest", "constant", "reflect", "wrap"]
CVAL = 7.0


def _pixels(kind: str, shape: Tuple[int, int], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    h, w = shape
    channels = {"rgb": 3, "jpeg": 3, "gray": 1, "rgba": 4, "palette": 1}[kind]
    arr = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
    if kind == "palette":
        arr = arr // 32  # eight palette entries
    return arr[..., 0] if channels == 1 else arr


def make_tree(root: str) -> None:
    """Write the fixture's class tree under ``root`` (deterministic content)."""
    from PIL import Image

    for i, (rel, kind, shape) in enumerate(TREE):
        path = os.path.join(root, *rel.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if kind == "text":
            with open(path, "w") as f:
                f.write("not an image\n")
            continue
        arr = _pixels(kind, shape, i)
        if kind == "palette":
            im = Image.fromarray(arr, "L").convert("P")
            im.putpalette([v for k in range(8) for v in (k * 30, 255 - k * 30, k * 10)] * 32)
        else:
            im = Image.fromarray(arr)
        fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".ppm": "PPM",
               ".tif": "TIFF", ".tiff": "TIFF", ".gif": "GIF"}[os.path.splitext(rel)[1].lower()]
        im.save(path, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    for rel, target in LINKS:
        os.symlink(target, os.path.join(root, *rel.split("/")), target_is_directory=True)


def transform_image(shape: Tuple[int, int, int] = (12, 12, 3), seed: int = 5) -> np.ndarray:
    """The integer-valued float32 image the transform cases start from."""
    return np.random.default_rng(seed).integers(0, 256, shape).astype(np.float32)


def fit_data() -> np.ndarray:
    return np.random.default_rng(11).uniform(0, 255, (20, 5, 6, 3)).astype(np.float32)


# Directory cases: name -> flow_from_directory keyword arguments (plus the generator's).
DIR_CASES: Dict[str, Dict[str, Any]] = {
    "rgb": {},
    "gray": {"color_mode": "grayscale"},
    "rgba": {"color_mode": "rgba"},
    "aspect": {"keep_aspect_ratio": True},
    "classes": {"classes": ["zebra", "cat"]},
    "links": {"follow_links": True},
    "train": {"subset": "training", "_split": 0.3},
    "val": {"subset": "validation", "_split": 0.3},
}
CLASS_MODES = ["categorical", "binary", "sparse", "input", None]


def _batches(it: Any) -> List[Any]:
    return [it[i] for i in range(len(it))]


def record() -> None:
    """Run Keras and write the fixture."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras
    from keras.src.legacy.preprocessing.image import ImageDataGenerator

    arrays: Dict[str, np.ndarray] = {}
    meta: Dict[str, Any] = {"format": FORMAT, "keras": keras.__version__, "numpy": np.__version__,
                            "dir": {}, "transforms": TRANSFORMS,
                            "non_square_transforms": NON_SQUARE_TRANSFORMS}
    with tempfile.TemporaryDirectory() as root:
        make_tree(root)
        for name, kwargs in DIR_CASES.items():
            kwargs = dict(kwargs)
            gen = ImageDataGenerator(validation_split=kwargs.pop("_split", 0.0))
            for mode in CLASS_MODES:
                it = gen.flow_from_directory(root, target_size=TARGET, batch_size=4, shuffle=False,
                                             class_mode=mode, **kwargs)
                batches = _batches(it)
                if mode is None:
                    arrays[f"dir_{name}__x"] = np.concatenate(batches)
                    meta["dir"][name] = {
                        "class_indices": it.class_indices, "filenames": it.filenames,
                        "classes": it.classes.tolist(), "samples": it.samples, "len": len(it),
                        "image_shape": list(it.image_shape),
                        "x_shapes": [list(b.shape) for b in batches],
                        "x_dtype": str(batches[0].dtype) if batches else None,
                    }
                else:
                    arrays[f"dir_{name}__y_{mode}"] = np.concatenate([b[1] for b in batches])

        x = fit_data()
        gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                                 rescale=1 / 255)
        gen.fit(x)
        arrays["fit__mean"], arrays["fit__std"] = gen.mean, gen.std
        arrays["fit__standardized"] = gen.standardize(x[0].copy())
        gen = ImageDataGenerator(featurewise_center=True)
        gen.fit(x)
        arrays["fit_center__mean"] = gen.mean
        gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True,
                                 rescale=0.5)
        arrays["std_samplewise"] = gen.standardize(x[1].copy())

        for shape_name, img, cases in (("sq", transform_image(), TRANSFORMS),
                                       ("rect", transform_image((10, 14, 2), 6), NON_SQUARE_TRANSFORMS)):
            arrays[f"tf_{shape_name}__input"] = img
            for fill in FILL_MODES:
                for order in (1, 0):
                    gen = ImageDataGenerator(fill_mode=fill, cval=CVAL, interpolation_order=order)
                    for k, params in enumerate(cases):
                        kp = dict(params)
                        kp["tx"], kp["ty"] = params.get("ty", 0), params.get("tx", 0)
                        arrays[f"tf_{shape_name}__{fill}_{order}_{k}"] = gen.apply_transform(img.copy(), kp)

    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    np.savez_compressed(FIXTURE, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {FIXTURE}: {len(arrays)} arrays")


def load() -> Tuple[Dict[str, Any], Dict[str, np.ndarray]]:
    """(meta, arrays) of the recorded fixture."""
    with np.load(FIXTURE, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files if k != "meta"}
        meta = json.loads(str(f["meta"]))
    return meta, arrays


if __name__ == "__main__":
    sys.exit(record())
