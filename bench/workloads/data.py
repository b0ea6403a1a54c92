"""bench_data.py's workloads: the seeded images and JPEG folder, and per library the one-epoch
call that is timed (foveal.data and Keras's legacy ImageDataGenerator, an albumentations loop),
with the checks that foveal and Keras compute the same thing."""

from __future__ import annotations

import contextlib
import inspect
import io
import os
import statistics
import tempfile
import time
import warnings
from typing import Any, Callable, Dict, List

import numpy as np

from ..checks import check_close
from ..synthetic import cached_folder, synthetic_image

SEED = 1234
BATCH = 32
AUG_IMAGES, AUG_SIZE = 256, (224, 224)
AUG_SETTINGS: Dict[str, Any] = dict(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                                    zoom_range=0.2, horizontal_flip=True, brightness_range=(0.8, 1.2))
DIR_IMAGES, DIR_CLASSES, DIR_SOURCE = 1200, 4, (240, 320)   # JPEG files of 320x240 (h, w)
DIR_TARGET = (224, 224)
JPEG_QUALITY = 90
CACHE_VERSION = 1          # bump when the generated files change
CHECK_TOL = 1e-3           # check_close: |diff| <= tol * (1 + |ref|), pixels 0..255 or 0..1


# --------------------------------------------------------------------------- data

def jpeg_folder(notes: List[str]) -> str:
    """The folder of generated JPEGs (``class_k/img_NNNN.jpg``), made once and reused."""
    from PIL import Image

    name = (f"jpeg_{DIR_IMAGES}_{DIR_SOURCE[1]}x{DIR_SOURCE[0]}_{DIR_CLASSES}cls_q{JPEG_QUALITY}"
            f"_v{CACHE_VERSION}")
    root = os.path.join(tempfile.gettempdir(), "foveal_bench_data", name)

    def fill(folder: str) -> None:
        for i in range(DIR_IMAGES):
            sub = os.path.join(folder, f"class_{i % DIR_CLASSES}")
            os.makedirs(sub, exist_ok=True)
            img = synthetic_image(DIR_SOURCE[0], DIR_SOURCE[1], SEED + 10_000 + i)
            Image.fromarray(img).save(os.path.join(sub, f"img_{i:04d}.jpg"), quality=JPEG_QUALITY)

    start = time.perf_counter()
    if cached_folder(root, "complete", fill, f"{DIR_IMAGES} images\n"):
        notes.append(f"generated {DIR_IMAGES} JPEGs in {root} ({time.perf_counter() - start:.1f} s, "
                     "reused by later runs)")
    return root


def epoch(it: Any) -> None:
    """One epoch of a Keras-style iterator, in order, as model.fit takes it."""
    for i in range(len(it)):
        it[i]
    it.on_epoch_end()


def quiet(fn: Callable[[], Any]) -> Any:
    """Call ``fn`` with stdout swallowed (both libraries print "Found N images ...")."""
    with contextlib.redirect_stdout(io.StringIO()):
        return fn()


# --------------------------------------------------------------------------- libraries

def albumentations_pipeline(A: Any, cv2: Any) -> Any:
    """The issue's albumentations pipeline, written for the installed version's argument names
    (2.x: ``border_mode``, ``Compose(seed=...)``; 1.x: ``mode``)."""
    affine_args = inspect.signature(A.Affine).parameters
    border = ({"border_mode": cv2.BORDER_REPLICATE} if "border_mode" in affine_args else
              {"mode": cv2.BORDER_REPLICATE} if "mode" in affine_args else {})
    transforms = [A.Affine(rotate=(-20, 20), translate_percent=(-0.1, 0.1), scale=(0.8, 1.2), p=1.0,
                           **border),
                  A.HorizontalFlip(p=0.5),
                  A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0, p=1.0)]
    if "seed" in inspect.signature(A.Compose).parameters:
        return A.Compose(transforms, seed=SEED)
    return A.Compose(transforms)


def build_augment(libs: Dict[str, Any], xu8: np.ndarray, xf32: np.ndarray) -> Dict[str, Callable[[], Any]]:
    """The timed one-epoch calls of the augment workload, per library."""
    calls: Dict[str, Callable[[], Any]] = {}
    if libs.get("foveal") is not None:
        it = libs["foveal"].data.ImageDataGenerator(**AUG_SETTINGS).flow(xf32, batch_size=BATCH, seed=SEED)
        calls["foveal"] = lambda: epoch(it)
    if libs.get("keras") is not None:
        kit = libs["keras"].ImageDataGenerator(**AUG_SETTINGS).flow(xf32, batch_size=BATCH, seed=SEED)
        calls["keras"] = lambda: epoch(kit)
    if libs.get("albumentations") is not None:
        pipeline = albumentations_pipeline(libs["albumentations"], libs["cv2"])
        order_rng = np.random.default_rng(SEED)

        def alb_epoch() -> None:
            order = order_rng.permutation(len(xu8))
            for start in range(0, len(order), BATCH):
                idx = order[start:start + BATCH]
                batch = np.empty((len(idx),) + xu8.shape[1:], dtype=np.uint8)
                for j, k in enumerate(idx):
                    batch[j] = pipeline(image=xu8[k])["image"]

        calls["albumentations"] = alb_epoch
    return calls


def build_directory(libs: Dict[str, Any], root: str, index_ms: Dict[str, float],
                    errors: Dict[str, str]) -> Dict[str, Callable[[], Any]]:
    """The timed one-epoch calls of the directory workload; also times making the iterators."""
    makers = {}
    if libs.get("foveal") is not None:
        makers["foveal"] = libs["foveal"].data.ImageDataGenerator
    if libs.get("keras") is not None:
        makers["keras"] = libs["keras"].ImageDataGenerator
    calls: Dict[str, Callable[[], Any]] = {}
    for lib, gen_cls in makers.items():
        def make(gen_cls=gen_cls):
            return gen_cls(rescale=1 / 255).flow_from_directory(
                root, target_size=DIR_TARGET, batch_size=BATCH, seed=SEED)
        try:
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                it = quiet(make)
                times.append(time.perf_counter() - t0)
            index_ms[lib] = 1e3 * statistics.median(times)
            if it.samples != DIR_IMAGES:
                raise ValueError(f"found {it.samples} images, expected {DIR_IMAGES}")
        except Exception as exc:
            errors[lib] = f"directory setup failed: {type(exc).__name__}: {exc}"
            continue
        calls[lib] = lambda it=it: epoch(it)
    return calls


# --------------------------------------------------------------------------- checks

def check_augment(libs: Dict[str, Any], xf32: np.ndarray, xu8: np.ndarray) -> Dict[str, Dict[str, Any]]:
    """foveal's apply_transform against Keras's on the same parameters; the albumentations
    pipeline's output shape and dtype."""
    checks: Dict[str, Dict[str, Any]] = {}
    foveal, legacy, albu = libs.get("foveal"), libs.get("keras"), libs.get("albumentations")
    if foveal is not None and legacy is not None:
        try:
            ours = foveal.data.ImageDataGenerator(**AUG_SETTINGS)
            theirs = legacy.ImageDataGenerator(fill_mode="nearest")
            rng = np.random.default_rng(SEED)
            worst = {"ok": True, "max_abs_err": 0.0}
            for k in range(4):
                params = dict(ours.get_random_transform(xf32.shape[1:], rng), brightness=None)
                keras_params = dict(params, tx=params["ty"], ty=params["tx"])  # Keras 3's axes
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    ref = theirs.apply_transform(xf32[k].copy(), keras_params)
                res = check_close(ref, ours.apply_transform(xf32[k], params), CHECK_TOL)
                if not res["ok"] or (res.get("max_abs_err") or 0) > worst["max_abs_err"]:
                    worst = res
                if not res["ok"]:
                    break
            checks["keras"] = {"ok": bool(worst["ok"]), "reference": "foveal",
                               "max_abs_err": worst.get("max_abs_err"),
                               "what": "apply_transform on 4 parameter dicts (pixels 0..255)"}
            if not worst["ok"]:
                checks["keras"]["reason"] = worst.get("reason") or (
                    f"transformed pixels differ by up to {worst['max_abs_err']:.3g}")
        except Exception as exc:
            checks["keras"] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    if albu is not None:
        try:
            out = albumentations_pipeline(albu, libs["cv2"])(image=xu8[0])["image"]
            ok = out.shape == xu8.shape[1:] and out.dtype == np.uint8
            checks["albumentations"] = {"ok": bool(ok), "what": "output shape and dtype"}
            if not ok:
                checks["albumentations"]["reason"] = f"got {out.dtype} {out.shape}"
        except Exception as exc:
            checks["albumentations"] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    return checks


def check_directory(libs: Dict[str, Any], root: str) -> Dict[str, Dict[str, Any]]:
    """The first unshuffled batch (images and one-hot labels) of foveal and Keras."""
    foveal, legacy = libs.get("foveal"), libs.get("keras")
    if foveal is None or legacy is None:
        return {}
    try:
        batches = []
        for gen_cls in (foveal.data.ImageDataGenerator, legacy.ImageDataGenerator):
            it = quiet(lambda g=gen_cls: g(rescale=1 / 255).flow_from_directory(
                root, target_size=DIR_TARGET, batch_size=BATCH, shuffle=False))
            batches.append(it[0])
        (fx, fy), (kx, ky) = batches
        res = check_close(kx, fx, CHECK_TOL)
        labels_ok = bool(np.array_equal(np.asarray(fy), np.asarray(ky)))
        out = {"ok": bool(res["ok"] and labels_ok), "reference": "foveal",
               "max_abs_err": res.get("max_abs_err"), "what": "first unshuffled batch"}
        if not res["ok"]:
            out["reason"] = res.get("reason") or f"pixels differ by up to {res['max_abs_err']:.3g}"
        elif not labels_ok:
            out["reason"] = "labels differ"
        return {"keras": out}
    except Exception as exc:
        return {"keras": {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}}
