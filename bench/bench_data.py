#!/usr/bin/env python
"""Benchmark data preparation (foveal.data) against Keras's legacy ImageDataGenerator and albumentations.

Two workloads, each one epoch per timed call:

  augment    256 RGB images of 224x224 (seeded synthetic photos), batches of 32, with
             rotation_range=20, width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.2,
             horizontal_flip=True, brightness_range=(0.8, 1.2):
               foveal   ImageDataGenerator(...).flow(x, batch_size=32, seed=...) on float32 x
               keras    the same with Keras 3's legacy ImageDataGenerator
                        (keras.src.legacy.preprocessing.image, KERAS_BACKEND=torch; it needs
                        SciPy) on the same float32 x
               albumentations  a loop over the same images as uint8 (the usual albumentations
                        input), in a shuffled order, collated into uint8 batches of 32:
                        A.Affine(rotate=(-20, 20), translate_percent=(-0.1, 0.1),
                        scale=(0.8, 1.2), p=1) + A.HorizontalFlip(p=0.5) +
                        A.RandomBrightnessContrast(brightness_limit=0.2, contrast_limit=0, p=1).
                        p=1 and a replicated border make it do the work the Keras settings do
                        (every image warped and brightened, fill_mode="nearest"); its brightness
                        is additive where Keras's multiplies, the same cost.
  directory  flow_from_directory over 1,200 JPEGs of 320x240 (4 class folders, seeded synthetic
             photos, generated once with Pillow into a cache folder under the temp dir) to
             target_size=(224, 224), batch 32, rescale=1/255, default "nearest" resize:
               foveal   ImageDataGenerator(rescale=1/255).flow_from_directory(...)
               keras    the same with Keras's legacy ImageDataGenerator

A timed call iterates one epoch of an iterator made beforehand (it[0] ... it[len - 1], then
on_epoch_end(), as model.fit does); making the directory iterator (listing the files) is timed
separately and printed as a note. Every library gets the same number of threads (2 by
default): foveal.set_num_threads, torch.set_num_threads, cv2.setNumThreads; Keras's legacy
generator runs its transforms in the calling thread (SciPy, Pillow). A timing is the median of
interleaved repeats (bench/_common.py); images/s = images per epoch / median time; ratio = peer
time / foveal time = foveal images/s / peer images/s (> 1: foveal faster).

Checks before timing ("check" column): foveal's apply_transform against Keras's on the same
parameter dicts (Keras 3 swaps tx and ty; brightness left out, since Keras rounds it through
uint8), and the first unshuffled directory batch of both (the same pixels: both resize with
"nearest" on the same samples). The albumentations batches are checked for shape and dtype.

The issue's bar, printed as PASS/FAIL: augmentation >= 20x Keras and >= 1.5x albumentations;
directory loading >= 1.5x Keras.

    python bench/bench_data.py [--quick] [--only augment] [--json PATH] [--isa avx2]

Every peer is optional: one that is not installed is skipped with a note and shows as n/a.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from . import _common as C
    from .bench_image import synthetic_image
else:  # run as a script, or loaded by path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import _common as C  # noqa: E402  (sets OMP_NUM_THREADS before NumPy loads)
    from bench_image import synthetic_image  # noqa: E402

# Keras reads its backend when first imported; the benchmark compares CPU libraries.
os.environ["KERAS_BACKEND"] = "torch"
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import contextlib  # noqa: E402
import inspect  # noqa: E402
import io  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

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
BAR = {("augment", "keras"): 20.0, ("augment", "albumentations"): 1.5,
       ("directory", "keras"): 1.5}
PEERS = ("keras", "albumentations")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "keras": "keras", "albumentations": "alb"}
WORKLOADS = {
    "augment": f"one epoch of flow(): {AUG_IMAGES} images {AUG_SIZE[0]}x{AUG_SIZE[1]}x3, batch "
               f"{BATCH}, rotation/shift/zoom/flip/brightness",
    "directory": f"one epoch of flow_from_directory(): {DIR_IMAGES} JPEGs "
                 f"{DIR_SOURCE[1]}x{DIR_SOURCE[0]} -> {DIR_TARGET[0]}x{DIR_TARGET[1]}, batch {BATCH}",
}


# --------------------------------------------------------------------------- data

def make_images(n: int, size: Tuple[int, int], seed: int) -> np.ndarray:
    """``n`` seeded synthetic photos (gradients, texture, shapes, noise), ``n x h x w x 3`` uint8."""
    return np.stack([synthetic_image(size[0], size[1], seed + i) for i in range(n)])


def jpeg_folder(notes: List[str]) -> str:
    """The folder of generated JPEGs (``class_k/img_NNNN.jpg``), made once and reused.

    Made in a temporary sibling folder and renamed into place when complete, so an interrupted
    run never leaves a partial set behind; a ``complete`` marker records what it holds."""
    from PIL import Image

    parent = os.path.join(tempfile.gettempdir(), "foveal_bench_data")
    name = (f"jpeg_{DIR_IMAGES}_{DIR_SOURCE[1]}x{DIR_SOURCE[0]}_{DIR_CLASSES}cls_q{JPEG_QUALITY}"
            f"_v{CACHE_VERSION}")
    root = os.path.join(parent, name)
    marker = os.path.join(root, "complete")
    if os.path.isfile(marker):
        return root
    os.makedirs(parent, exist_ok=True)
    start = time.perf_counter()
    tmp = tempfile.mkdtemp(prefix=name + ".", dir=parent)
    try:
        for i in range(DIR_IMAGES):
            folder = os.path.join(tmp, f"class_{i % DIR_CLASSES}")
            os.makedirs(folder, exist_ok=True)
            img = synthetic_image(DIR_SOURCE[0], DIR_SOURCE[1], SEED + 10_000 + i)
            Image.fromarray(img).save(os.path.join(folder, f"img_{i:04d}.jpg"), quality=JPEG_QUALITY)
        with open(os.path.join(tmp, "complete"), "w") as f:
            f.write(f"{DIR_IMAGES} images\n")
        if os.path.isdir(root):  # a stale set without its marker
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
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

def _setup(threads: int, notes: List[str]):
    foveal, finfo = C.load_foveal(notes, threads)
    if foveal is not None:
        try:
            import foveal.data  # noqa: F401
        except Exception as exc:
            notes.append(f"foveal.data not usable ({type(exc).__name__}: {exc}); foveal columns are n/a")
            foveal = None
    torch = C.import_optional("torch", notes)
    legacy = None
    if torch is None:
        notes.append("keras is skipped too: it runs here on the torch backend")
    else:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
        keras = C.import_optional("keras", notes)
        if keras is not None and keras.backend.backend() != "torch":
            notes.append(f"keras was already loaded with the {keras.backend.backend()!r} backend "
                         "(KERAS_BACKEND=torch must be set before keras is imported); skipped")
        elif keras is not None:
            legacy = C.import_optional("keras.src.legacy.preprocessing.image", notes)
            if legacy is not None and C.import_optional("scipy", notes) is None:
                notes.append("Keras's augmentation needs scipy: its augment column is n/a")
    cv2 = C.import_optional("cv2", notes)
    albu = None
    if cv2 is not None:
        cv2.setNumThreads(threads)
        albu = C.import_optional("albumentations", notes)
        if albu is None:
            notes.append("install albumentations (pip install albumentations) for its column")
    else:
        notes.append("albumentations is skipped too: it needs OpenCV (cv2)")
    return foveal, finfo, torch, legacy, cv2, albu


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
                res = C.check_close(ref, ours.apply_transform(xf32[k], params), CHECK_TOL)
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
        res = C.check_close(kx, fx, CHECK_TOL)
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


# --------------------------------------------------------------------------- report

def criteria(results: Dict[str, Dict[str, Any]],
             checks: Dict[str, Dict[str, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The issue's bar (one PASS/FAIL/N/A line per ratio), then whether every check held."""
    out = []
    labels = {"augment": "augmentation", "directory": "directory loading"}
    for (name, peer), bar in BAR.items():
        label = f"{labels[name]} >= {bar:g}x {peer}"
        r = results.get(name)
        ratio = r["ratios"].get(peer) if r else None
        if ratio is None:
            why = "not run (--only)" if r is None else f"needs foveal and {peer}"
            out.append({"criterion": label, "status": "N/A", "value": None, "detail": why})
            continue
        ips = r["images_per_s"]
        out.append({"criterion": label, "status": "PASS" if ratio >= bar else "FAIL", "value": ratio,
                    "detail": f"{ratio:.2f}x (foveal {ips['foveal']:.0f} images/s, "
                              f"{peer} {ips[peer]:.0f} images/s)"})
    flat = {f"{name}/{lib}": c for name, per in checks.items() for lib, c in per.items()}
    bad = [k for k, c in flat.items() if not c.get("ok")]
    out.append({"criterion": "same results as the peers", "status": "FAIL" if bad else
                ("PASS" if flat else "N/A"), "value": None,
                "detail": (f"mismatch: {', '.join(bad)}" if bad else
                           f"{len(flat)} check(s): {', '.join(flat)}" if flat else
                           "nothing to compare (needs foveal and a peer)")})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Run the selected workloads, print the table and the bar, write the JSON."""
    args, names, argv, rc = C.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    notes: List[str] = []
    foveal, finfo, torch, legacy, cv2, albu = _setup(threads, notes)
    libs = {"foveal": foveal, "keras": legacy, "albumentations": albu, "cv2": cv2}
    cfg = C.TimingConfig.from_args(args.quick)
    sysinfo = C.system_info(threads)

    keras_mod = sys.modules.get("keras") if legacy is not None else None
    pil = C.import_optional("PIL")
    scipy = sys.modules.get("scipy")
    title = (f"foveal bench_data: augmentation and directory loading, batch {BATCH}, one epoch per "
             f"timed call, {threads} threads per library, median of interleaved repeats"
             f"{' (--quick)' if args.quick else ''}")
    modules = {"foveal": foveal, "keras": keras_mod, "albumentations": albu, "cv2": cv2,
               "torch": torch, "scipy": scipy, "pillow": pil}
    vers = C.print_header(title, sysinfo, modules, finfo if foveal is not None else None)
    if cv2 is not None:
        print(f"cv2: threads {cv2.getNumThreads()}")

    errors: Dict[str, str] = {}
    checks: Dict[str, Dict[str, Dict[str, Any]]] = {}
    index_ms: Dict[str, float] = {}
    builders: Dict[str, Callable[[], Dict[str, Callable[[], Any]]]] = {}
    counts = {"augment": AUG_IMAGES, "directory": DIR_IMAGES}
    if "augment" in names:
        xu8 = make_images(AUG_IMAGES, AUG_SIZE, SEED)
        xf32 = xu8.astype(np.float32)
        checks["augment"] = check_augment(libs, xf32, xu8)
        builders["augment"] = lambda: build_augment(libs, xu8, xf32)
    if "directory" in names:
        root = jpeg_folder(notes)
        checks["directory"] = check_directory(libs, root)
        builders["directory"] = lambda: build_directory(libs, root, index_ms, errors)
    for n in notes:
        print("note: " + n)
    print()

    results: Dict[str, Dict[str, Any]] = {}
    monitor = C.CpuMonitor()
    for name in names:
        print(f"  running {name:10s} {WORKLOADS[name]}", flush=True)
        fns: Dict[str, Callable[[], Any]] = {}
        for lib, fn in builders[name]().items():
            try:
                fn()   # one untimed call: a failure shows here, not mid-timing
                fns[lib] = fn
            except Exception as exc:
                errors[lib] = f"{name} failed: {type(exc).__name__}: {exc}"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Keras's scipy imports
            timings = C.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors, name)
        n_images = counts[name]
        res: Dict[str, Any] = {"name": name, "description": WORKLOADS[name], "images": n_images,
                               "libs": {}, "images_per_s": {}, "ratios": {}}
        for lib in LIBS:
            t = timings.get(lib)
            if t is not None:
                res["libs"][lib] = t.to_dict()
                res["images_per_s"][lib] = n_images / t.median_s
        if "foveal" in timings:
            for lib in PEERS:
                if lib in timings:
                    res["ratios"][lib] = timings[lib].median_s / timings["foveal"].median_s
        if name == "directory" and index_ms:
            res["index_ms"] = index_ms
        results[name] = res
    print()

    headers = ["workload"] + [f"{SHORT[lib]} img/s" for lib in LIBS]
    headers += [f"{SHORT[lib]}/fov" for lib in PEERS] + ["fov ms/batch", "check"]
    rows = []
    for name, r in results.items():
        row = [name] + [C.fmt_num(r["images_per_s"].get(lib), 0) for lib in LIBS]
        row += [C.fmt_ratio(r["ratios"].get(lib)) for lib in PEERS]
        fr = r["libs"].get("foveal")
        row.append(C.fmt_ms(fr["median_s"] * BATCH / r["images"]) if fr else "n/a")
        per = checks.get(name, {})
        bad = [SHORT[lib] for lib, c in per.items() if not c.get("ok")]
        row.append(("MISMATCH " + ",".join(bad)) if bad else ("ok" if per else "-"))
        rows.append(row)
    C.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time = foveal images/s / peer images/s (> 1: foveal faster); "
          "check = foveal's results against Keras's (albumentations: shape and dtype)")
    if index_ms:
        print("making the directory iterator (listing 1,200 files): " + ", ".join(
            f"{lib} {ms:.1f} ms" for lib, ms in index_ms.items()))

    crit = criteria(results, checks)
    print()
    for c in crit:
        print(f"{c['status']:4s}  {c['criterion']:36s} {c['detail']}")

    warnings_out: List[str] = []
    for name, per in checks.items():
        for lib, chk in per.items():
            if not chk.get("ok"):
                warnings_out.append(f"{name}/{lib}: differs from {chk.get('reference', 'expected')}: "
                                    f"{chk.get('reason')}")
    for lib, err in errors.items():
        warnings_out.append(f"{lib}: {err}")
    system = C.end_of_run(warnings_out, ((name, r["libs"]) for name, r in results.items()),
                          SHORT, monitor, sysinfo, threads)

    payload = {
        "benchmark": "bench_data",
        "system": system,
        "versions": vers,
        "foveal_build_info": finfo,
        "foveal_isa_requested": args.isa or os.environ.get("FOVEAL_ISA"),
        "quick": args.quick,
        "workloads": {
            "augment": {"images": AUG_IMAGES, "size": list(AUG_SIZE), "batch_size": BATCH,
                        "settings": AUG_SETTINGS, "foveal_keras_dtype": "float32",
                        "albumentations_dtype": "uint8",
                        "albumentations": "Affine(rotate=(-20, 20), translate_percent=(-0.1, 0.1), "
                                          "scale=(0.8, 1.2), border replicate, p=1) + "
                                          "HorizontalFlip(p=0.5) + RandomBrightnessContrast("
                                          "brightness_limit=0.2, contrast_limit=0, p=1)"},
            "directory": {"images": DIR_IMAGES, "classes": DIR_CLASSES,
                          "source_size_hw": list(DIR_SOURCE), "target_size": list(DIR_TARGET),
                          "batch_size": BATCH, "jpeg_quality": JPEG_QUALITY, "rescale": "1/255",
                          "interpolation": "nearest"},
        },
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "median, interleaved", "check_tolerance": CHECK_TOL},
        "checks": checks,
        "notes": notes,
        "warnings": warnings_out,
        "results": list(results.values()),
        "summary": {
            "augment_ratio_vs_keras": results.get("augment", {}).get("ratios", {}).get("keras"),
            "augment_ratio_vs_albumentations":
                results.get("augment", {}).get("ratios", {}).get("albumentations"),
            "directory_ratio_vs_keras": results.get("directory", {}).get("ratios", {}).get("keras"),
            "criteria": crit,
            "bar_holds": all(c["status"] == "PASS" for c in crit[:len(BAR)]),
        },
    }
    path = C.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
