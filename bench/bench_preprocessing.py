#!/usr/bin/env python
"""Benchmark the Keras 3 preprocessing layers (foveal.nn) against keras.layers and albumentations.

One workload, one epoch per timed call:

  layers   256 RGB images of 224x224 uint8 (seeded synthetic photos), batches of 32, through
           RandomFlip("horizontal") + RandomRotation(0.05) + RandomZoom(0.2) +
           RandomTranslation(0.1, 0.1) + RandomBrightness(0.2) (fill "reflect", bilinear),
           in training mode:
             foveal          nn.Sequential of those layers, called with training=True on each
                             uint8 batch (float32 out; the four warps run as one native warp)
             keras           keras.Sequential of the same keras.layers (KERAS_BACKEND=torch),
                             called with training=True on the same uint8 batches
             albumentations  A.Compose([HorizontalFlip(p=0.5), Affine(rotate=(-18, 18),
                             scale=(0.8, 1.2), translate_percent=(-0.1, 0.1),
                             border_mode=BORDER_REFLECT, p=1), RandomBrightnessContrast(
                             brightness_limit=0.2, contrast_limit=0, p=1)]) per uint8 image,
                             collated into uint8 batches (its usual input and output)

Every library gets the same number of threads (2 by default). A timing is the best of
interleaved repeats (bench/timing.py; the median is recorded too); images/s = images / best
time; ratio = peer time / foveal time (> 1: foveal faster). Check before timing: foveal's
output has the shape and dtype of Keras's, and with every random range set to zero both give
the input back. The issue's bar: >= 2x albumentations.

    python bench/bench_preprocessing.py [--quick] [--json PATH]

Every peer is optional: one that is not installed is skipped with a note and shows as n/a.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.synthetic import synthetic_images  # noqa: E402

import numpy as np  # noqa: E402

IMAGES, SIZE, BATCH, SEED = 256, (224, 224), 32, 1234
ROTATION, ZOOM, SHIFT, BRIGHTNESS = 0.05, 0.2, 0.1, 0.2
BAR = {"albumentations": 2.0}
PEERS = ("keras", "albumentations")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "keras": "keras", "albumentations": "alb"}
WORKLOADS = {"layers": f"one epoch: {IMAGES} images {SIZE[0]}x{SIZE[1]}x3 uint8, batch {BATCH}, "
                       "flip/rotation/zoom/translation/brightness layers"}


def _stack(mod: Any, zero: bool = False) -> List[Any]:
    """The five layers from ``mod`` (foveal.nn or keras.layers); ``zero``: every range 0."""
    z = 0.0 if zero else 1.0
    layers = [mod.RandomRotation(ROTATION * z), mod.RandomZoom(ZOOM * z),
              mod.RandomTranslation(SHIFT * z, SHIFT * z), mod.RandomBrightness(BRIGHTNESS * z)]
    return ([mod.RandomFlip("horizontal")] if not zero else []) + layers


def build(libs: Dict[str, Any], x: np.ndarray) -> Dict[str, Callable[[], Any]]:
    """One epoch per library, as callables."""
    batches = [x[i:i + BATCH] for i in range(0, len(x), BATCH)]
    fns: Dict[str, Callable[[], Any]] = {}
    if libs.get("foveal") is not None:
        nn = libs["foveal"].nn
        model = nn.Sequential([nn.Input(SIZE + (3,))] + _stack(nn))
        fns["foveal"] = lambda: [model(b, training=True) for b in batches]
    if libs.get("keras") is not None:
        keras, torch = libs["keras"], libs["torch"]
        kmodel = keras.Sequential(_stack(keras.layers))
        tb = [torch.from_numpy(b) for b in batches]
        fns["keras"] = lambda: [kmodel(b, training=True) for b in tb]
    if libs.get("albumentations") is not None:
        A, cv2 = libs["albumentations"], libs["cv2"]
        deg = ROTATION * 360.0
        aug = A.Compose([
            A.HorizontalFlip(p=0.5),
            A.Affine(rotate=(-deg, deg), scale=(1 - ZOOM, 1 + ZOOM),
                     translate_percent=(-SHIFT, SHIFT), border_mode=cv2.BORDER_REFLECT, p=1.0),
            A.RandomBrightnessContrast(brightness_limit=BRIGHTNESS, contrast_limit=0, p=1.0)])
        fns["albumentations"] = lambda: [np.stack([aug(image=im)["image"] for im in b])
                                         for b in batches]
    return fns


def check(libs: Dict[str, Any], x: np.ndarray) -> Dict[str, Dict[str, Any]]:
    """foveal against Keras: the same shape and dtype, and with zero ranges the input back."""
    out: Dict[str, Dict[str, Any]] = {}
    if libs.get("foveal") is None:
        return out
    nn = libs["foveal"].nn
    b = x[:4]
    y = nn.Sequential([nn.Input(SIZE + (3,))] + _stack(nn, zero=True))(b, training=True)
    ok = y.dtype == np.float32 and y.shape == b.shape and float(np.abs(y - b).max()) < 1e-3
    out["foveal"] = {"ok": bool(ok), "reference": "the input (zero ranges)",
                     "reason": None if ok else "not the identity"}
    if libs.get("keras") is not None:
        keras = libs["keras"]
        ky = keras.ops.convert_to_numpy(
            keras.Sequential(_stack(keras.layers, zero=True))(libs["torch"].from_numpy(b), training=True))
        diff = float(np.abs(ky.astype(np.float32) - y).max())
        ok = ky.shape == y.shape and diff < 1e-3
        out["keras"] = {"ok": bool(ok), "reference": "keras.layers", "max_abs_diff": diff,
                        "reason": None if ok else f"max |diff| {diff:g}"}
    return out


def main(argv: Optional[List[str]] = None) -> int:
    """Run the workload, print the table and the bar, write the JSON."""
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, threads)
    torch = libraries.load_torch(notes, threads)
    keras = libraries.load_keras(torch, notes)
    cv2, _ = libraries.load_cv2(notes, threads)
    albu = libraries.import_optional("albumentations", notes) if cv2 is not None else None
    libs = {"foveal": foveal, "keras": keras, "torch": torch, "albumentations": albu, "cv2": cv2}
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)
    title = (f"foveal bench_preprocessing: augmentation layers, batch {BATCH}, one epoch per timed "
             f"call, {threads} threads per library, best of interleaved repeats"
             f"{' (--quick)' if args.quick else ''}")
    modules = {"foveal": foveal, "keras": keras, "albumentations": albu, "cv2": cv2, "torch": torch}
    vers = environment.print_header(title, sysinfo, modules, finfo if foveal is not None else None)
    x = synthetic_images(IMAGES, SIZE, SEED)
    checks = check(libs, x)
    for n in notes:
        print("note: " + n)
    errors: Dict[str, str] = {}
    results: Dict[str, Dict[str, Any]] = {}
    monitor = environment.CpuMonitor()
    for name in names:
        print(f"  running {name:10s} {WORKLOADS[name]}", flush=True)
        fns = timing.call_once(build(libs, x), errors, name)
        timings = timing.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors, name)
        results[name] = report.images_result(name, WORKLOADS[name], IMAGES, timings, LIBS, PEERS)
    print()
    headers = (["workload"] + [f"{SHORT[lib]} img/s" for lib in LIBS]
               + [f"{SHORT[lib]}/fov" for lib in PEERS] + ["check"])
    rows = []
    for name, r in results.items():
        bad = [SHORT[lib] for lib, c in checks.items() if not c.get("ok")]
        rows.append([name] + [report.fmt_num(r["images_per_s"].get(lib), 0) for lib in LIBS]
                    + [report.fmt_ratio(r["ratios"].get(lib)) for lib in PEERS]
                    + [("MISMATCH " + ",".join(bad)) if bad else ("ok" if checks else "-")])
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time (> 1: foveal faster)")
    crit = [report.ratio_criterion(f"augmentation layers >= {bar:g}x {peer}", results.get("layers"),
                                   peer, bar) for peer, bar in BAR.items()]
    report.print_criteria(crit, 36)
    warnings_out = [f"{lib}: differs from {c.get('reference')}: {c.get('reason')}"
                    for lib, c in checks.items() if not c.get("ok")]
    warnings_out += [f"{lib}: {err}" for lib, err in errors.items()]
    system = environment.end_of_run(warnings_out, ((n, r["libs"]) for n, r in results.items()),
                                    SHORT, monitor, sysinfo, threads)
    payload = {
        **report.head("bench_preprocessing", system, vers, finfo, args.isa),
        "quick": args.quick,
        "workloads": {"layers": {"images": IMAGES, "size": list(SIZE), "batch_size": BATCH,
                                 "dtype_in": "uint8", "rotation_factor": ROTATION,
                                 "zoom_factor": ZOOM, "translation_factor": SHIFT,
                                 "brightness_factor": BRIGHTNESS, "fill_mode": "reflect"}},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "best of interleaved rounds, order rotating (median also recorded)"},
        "checks": checks, "notes": notes, "warnings": warnings_out,
        "results": list(results.values()),
        "summary": {"ratio_vs_keras": results.get("layers", {}).get("ratios", {}).get("keras"),
                    "ratio_vs_albumentations":
                        results.get("layers", {}).get("ratios", {}).get("albumentations"),
                    "criteria": crit,
                    "bar_holds": all(c["status"] == "PASS" for c in crit)},
    }
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
