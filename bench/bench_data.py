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
generator runs its transforms in the calling thread (SciPy, Pillow). A timing is the best of
interleaved repeats (bench/timing.py); images/s = images per epoch / best time; ratio = peer
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
import warnings
from typing import Any, Callable, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.synthetic import synthetic_images  # noqa: E402
from bench.workloads.data import (AUG_IMAGES, AUG_SETTINGS, AUG_SIZE, BATCH, CHECK_TOL,  # noqa: E402
                                  DIR_CLASSES, DIR_IMAGES, DIR_SOURCE, DIR_TARGET, JPEG_QUALITY,
                                  SEED, build_augment, build_directory, check_augment,
                                  check_directory, jpeg_folder)

import numpy as np  # noqa: E402

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


def _setup(threads: int, notes: List[str]):
    foveal, finfo = libraries.load_foveal(notes, threads)
    if foveal is not None:
        try:
            import foveal.data  # noqa: F401
        except Exception as exc:
            notes.append(f"foveal.data not usable ({type(exc).__name__}: {exc}); foveal columns are n/a")
            foveal = None
    torch = libraries.load_torch(notes, threads)
    legacy = None
    if libraries.load_keras(torch, notes) is not None:
        legacy = libraries.import_optional("keras.src.legacy.preprocessing.image", notes)
        if legacy is not None and libraries.import_optional("scipy", notes) is None:
            notes.append("Keras's augmentation needs scipy: its augment column is n/a")
    cv2, _ = libraries.load_cv2(notes, threads)
    albu = None
    if cv2 is not None:
        albu = libraries.import_optional("albumentations", notes)
        if albu is None:
            notes.append("install albumentations (pip install albumentations) for its column")
    else:
        notes.append("albumentations is skipped too: it needs OpenCV (cv2)")
    return foveal, finfo, torch, legacy, cv2, albu


def criteria(results: Dict[str, Dict[str, Any]],
             checks: Dict[str, Dict[str, Dict[str, Any]]]) -> List[Dict[str, Any]]:
    """The issue's bar (one PASS/FAIL/N/A line per ratio), then whether every check held."""
    out = []
    labels = {"augment": "augmentation", "directory": "directory loading"}
    for (name, peer), bar in BAR.items():
        out.append(report.ratio_criterion(f"{labels[name]} >= {bar:g}x {peer}", results.get(name),
                                          peer, bar))
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
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    notes: List[str] = []
    foveal, finfo, torch, legacy, cv2, albu = _setup(threads, notes)
    libs = {"foveal": foveal, "keras": legacy, "albumentations": albu, "cv2": cv2}
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)

    keras_mod = sys.modules.get("keras") if legacy is not None else None
    pil = libraries.import_optional("PIL")
    scipy = sys.modules.get("scipy")
    title = (f"foveal bench_data: augmentation and directory loading, batch {BATCH}, one epoch per "
             f"timed call, {threads} threads per library, best of interleaved repeats (order rotating)"
             f"{' (--quick)' if args.quick else ''}")
    modules = {"foveal": foveal, "keras": keras_mod, "albumentations": albu, "cv2": cv2,
               "torch": torch, "scipy": scipy, "pillow": pil}
    vers = environment.print_header(title, sysinfo, modules, finfo if foveal is not None else None)
    if cv2 is not None:
        print(f"cv2: threads {cv2.getNumThreads()}")

    errors: Dict[str, str] = {}
    checks: Dict[str, Dict[str, Dict[str, Any]]] = {}
    index_ms: Dict[str, float] = {}
    builders: Dict[str, Callable[[], Dict[str, Callable[[], Any]]]] = {}
    counts = {"augment": AUG_IMAGES, "directory": DIR_IMAGES}
    if "augment" in names:
        xu8 = synthetic_images(AUG_IMAGES, AUG_SIZE, SEED)
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
    monitor = environment.CpuMonitor()
    for name in names:
        print(f"  running {name:10s} {WORKLOADS[name]}", flush=True)
        fns = timing.call_once(builders[name](), errors, name)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Keras's scipy imports
            timings = timing.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors,
                                          name)
        res = report.images_result(name, WORKLOADS[name], counts[name], timings, LIBS, PEERS)
        if name == "directory" and index_ms:
            res["index_ms"] = index_ms
        results[name] = res
    print()

    headers = ["workload"] + [f"{SHORT[lib]} img/s" for lib in LIBS]
    headers += [f"{SHORT[lib]}/fov" for lib in PEERS] + ["fov ms/batch", "check"]
    rows = []
    for name, r in results.items():
        row = [name] + [report.fmt_num(r["images_per_s"].get(lib), 0) for lib in LIBS]
        row += [report.fmt_ratio(r["ratios"].get(lib)) for lib in PEERS]
        fr = r["libs"].get("foveal")
        row.append(report.fmt_ms(fr["min_s"] * BATCH / r["images"]) if fr else "n/a")
        per = checks.get(name, {})
        bad = [SHORT[lib] for lib, c in per.items() if not c.get("ok")]
        row.append(("MISMATCH " + ",".join(bad)) if bad else ("ok" if per else "-"))
        rows.append(row)
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time = foveal images/s / peer images/s (> 1: foveal faster); "
          "check = foveal's results against Keras's (albumentations: shape and dtype)")
    if index_ms:
        print("making the directory iterator (listing 1,200 files): " + ", ".join(
            f"{lib} {ms:.1f} ms" for lib, ms in index_ms.items()))

    crit = criteria(results, checks)
    report.print_criteria(crit, 36)

    warnings_out: List[str] = []
    for name, per in checks.items():
        for lib, chk in per.items():
            if not chk.get("ok"):
                warnings_out.append(f"{name}/{lib}: differs from {chk.get('reference', 'expected')}: "
                                    f"{chk.get('reason')}")
    for lib, err in errors.items():
        warnings_out.append(f"{lib}: {err}")
    system = environment.end_of_run(warnings_out, ((name, r["libs"]) for name, r in results.items()),
                                    SHORT, monitor, sysinfo, threads)

    payload = {
        **report.head("bench_data", system, vers, finfo, args.isa),
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
                   "statistic": "best of interleaved rounds, order rotating (median also recorded)", "check_tolerance": CHECK_TOL},
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
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
