#!/usr/bin/env python
"""Benchmark folder-reading pipelines (foveal.data, cold and cached) against Keras 3.

One epoch per timed call over 1,200 JPEGs of 320x240 (4 class folders, seeded synthetic
photos, generated once with Pillow into a folder under the temp dir; the same folder as
bench_data.py) to 224x224, batches of 32:

  flow_cold     foveal  ImageDataGenerator(rescale=1/255).flow_from_directory(root,
                        target_size=(224, 224), cache="memory") made afresh and read for its
                        first epoch (listing the files, decoding every one, filling the cache)
  flow_cached   foveal  a later epoch of that iterator (every image from the cache, rescaled
                        and batched; no file opened)
  dataset_cold  foveal  image_dataset_from_directory(root, image_size=(224, 224), seed=...)
                        .cache(), one pass of a fresh one (bilinear float resize, as Keras)
  dataset_cached foveal a later pass of that dataset (decoded images from the cache, resized)

The peers of every workload, the same call each time (neither caches decoded images):
  keras         Keras 3's legacy ImageDataGenerator(rescale=1/255).flow_from_directory(...)
                (keras.src.legacy.preprocessing.image, KERAS_BACKEND=torch), one epoch
  keras_ds      keras.utils.image_dataset_from_directory(root, image_size=(224, 224), seed=...),
                one pass; it builds a tf.data (or Grain) dataset, so it needs TensorFlow (or
                Grain): where neither is installed it is n/a, with a note

Every library gets the same number of threads (2 by default). All the calls are timed in one
interleaved run (bench/timing.py: rounds in rotating order, so a busy machine slows every
library alike); a timing is the best of the rounds (the median is recorded too); images/s =
1,200 / best time; ratio = peer time / foveal time (> 1: foveal faster). The files sit in the
OS page cache after the first read, so "cold" means "decoded", not "read from disk".

Checks before timing: the first unshuffled batch of foveal's and Keras's flow_from_directory
(the same pixels: both "nearest" on the same samples), and foveal's cached epochs against its
uncached ones (flow and dataset: equal batches).

Decoders (how foveal's JPEG decoder was chosen; single-threaded, a separate interleaved run
over the first 300 files): foveal.data's decoding of a file (simplejpeg, Pillow's pixels)
against Pillow (``Image.open(...).convert("RGB")``, with ``draft`` for the reduced scale) and
OpenCV (``cv2.imdecode`` + RGB, ``IMREAD_REDUCED_COLOR_2``), at full size (``decode``) and at
1/2 scale for a 112x112 target (``decode_half``); images/s and ratios as above.

The issue's bar: flow_cold >= 2.5x keras, flow_cached >= 10x keras.

    python bench/bench_pipeline.py [--quick] [--only flow] [--json PATH]
"""

from __future__ import annotations

import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.workloads.data import (BATCH, DIR_CLASSES, DIR_IMAGES, DIR_SOURCE, DIR_TARGET,  # noqa: E402
                                  JPEG_QUALITY, SEED, check_directory, epoch, jpeg_folder, quiet)

import numpy as np  # noqa: E402

BAR = {("flow_cold", "keras"): 2.5, ("flow_cached", "keras"): 10.0}
DECODE_FILES = 300
DECODERS = ("pillow", "cv2")
DECODE_WORKLOADS = {"decode": "decoding a JPEG file, 320x240, one thread",
                    "decode_half": "decoding a JPEG file at 1/2 scale (target 112x112), one thread"}
PEERS = ("keras", "keras_ds")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "keras": "keras", "keras_ds": "keras_ds"}
WORKLOADS = {
    "flow_cold": f"flow_from_directory(cache='memory'), first epoch: {DIR_IMAGES} JPEGs "
                 f"{DIR_SOURCE[1]}x{DIR_SOURCE[0]} -> {DIR_TARGET[0]}x{DIR_TARGET[1]}, batch {BATCH}",
    "flow_cached": "flow_from_directory(cache='memory'), a later epoch",
    "dataset_cold": "image_dataset_from_directory(...).cache(), first pass (bilinear)",
    "dataset_cached": "image_dataset_from_directory(...).cache(), a later pass",
}


def _flow(fd: Any, root: str, cache: Any = None, shuffle: bool = True) -> Any:
    return quiet(lambda: fd.ImageDataGenerator(rescale=1 / 255).flow_from_directory(
        root, target_size=DIR_TARGET, batch_size=BATCH, seed=SEED, cache=cache, shuffle=shuffle))


def _dataset(fd: Any, root: str, shuffle: bool = True) -> Any:
    return quiet(lambda: fd.image_dataset_from_directory(
        root, image_size=DIR_TARGET, batch_size=BATCH, seed=SEED, shuffle=shuffle, verbose=False))


def one_pass(ds: Any) -> None:
    """Every batch of one pass over a dataset."""
    for _ in ds:
        pass


def build(libs: Dict[str, Any], root: str, names: List[str], notes: List[str],
          errors: Dict[str, str]) -> Dict[str, Callable[[], Any]]:
    """The timed calls, labelled ``workload/lib`` for foveal and ``lib`` for the peers."""
    fns: Dict[str, Callable[[], Any]] = {}
    fd = libs["foveal"].data if libs.get("foveal") is not None else None
    if fd is not None:
        if "flow_cold" in names:
            fns["flow_cold/foveal"] = lambda: epoch(_flow(fd, root, "memory"))
        if "flow_cached" in names:
            cached = _flow(fd, root, "memory")
            epoch(cached)                                   # the first epoch fills the cache
            fns["flow_cached/foveal"] = lambda: epoch(cached)
        if "dataset_cold" in names:
            ds = _dataset(fd, root)
            fns["dataset_cold/foveal"] = lambda: one_pass(ds.cache())
        if "dataset_cached" in names:
            dsc = _dataset(fd, root).cache()
            one_pass(dsc)
            fns["dataset_cached/foveal"] = lambda: one_pass(dsc)
    if libs.get("legacy") is not None:
        kit = quiet(lambda: libs["legacy"].ImageDataGenerator(rescale=1 / 255).flow_from_directory(
            root, target_size=DIR_TARGET, batch_size=BATCH, seed=SEED))
        fns["keras"] = lambda: epoch(kit)
    keras = libs.get("keras")
    if keras is not None:
        try:
            kds = quiet(lambda: keras.utils.image_dataset_from_directory(
                root, image_size=DIR_TARGET, batch_size=BATCH, seed=SEED, verbose=False))
            fns["keras_ds"] = lambda: one_pass(kds)
        except Exception as exc:  # noqa: BLE001 - reported as a note, the column is n/a
            notes.append(f"keras.utils.image_dataset_from_directory is n/a: it needs TensorFlow "
                         f"(or format='grain' and Grain), neither usable here "
                         f"({type(exc).__name__}: {str(exc).splitlines()[0][:120]})")
    return fns


def build_decoders(foveal: Any, cv2: Any, files: List[str], half: bool) -> Dict[str, Callable[[], Any]]:
    """One call decodes ``files`` (bytes read inside the call, as a pipeline does)."""
    from PIL import Image

    target = (112, 112) if half else DIR_TARGET
    fns: Dict[str, Callable[[], Any]] = {}
    if foveal is not None:
        from foveal.data import _decode
        fns["foveal"] = lambda: [_decode.decode_image(p, "rgb", target) for p in files]

    def pil(p: str) -> Any:
        with Image.open(p) as im:
            if half:
                im.draft("RGB", (im.size[0] // 2, im.size[1] // 2))
            return np.asarray(im.convert("RGB"))
    fns["pillow"] = lambda: [pil(p) for p in files]
    if cv2 is not None:
        flag = cv2.IMREAD_REDUCED_COLOR_2 if half else cv2.IMREAD_COLOR

        def ocv(p: str) -> Any:
            with open(p, "rb") as f:
                buf = np.frombuffer(f.read(), np.uint8)
            return cv2.cvtColor(cv2.imdecode(buf, flag), cv2.COLOR_BGR2RGB)
        fns["cv2"] = lambda: [ocv(p) for p in files]
    return fns


def check_cache(fd: Any, root: str) -> Dict[str, Any]:
    """foveal's cached epochs equal its uncached ones (unshuffled, first batches of epoch 2)."""
    try:
        plain, cached = _flow(fd, root, shuffle=False), _flow(fd, root, "memory", shuffle=False)
        ok = True
        for it in (plain, cached):
            it[0], it[1]
            it.on_epoch_end()
        for i in (0, 1):
            ok &= bool(np.array_equal(plain[i][0], cached[i][0]))
        ds = _dataset(fd, root, shuffle=False)
        dsc = ds.take(2).cache()
        one_pass(dsc)
        for a, b in zip(ds.take(2), dsc):
            ok &= bool(np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]))
        return {"ok": ok, "reference": "foveal without a cache",
                "reason": None if ok else "cached batches differ"}
    except Exception as exc:  # noqa: BLE001
        return {"ok": False, "reference": "foveal without a cache",
                "reason": f"{type(exc).__name__}: {exc}"}


def main(argv: Optional[List[str]] = None) -> int:
    """Run the workloads in one interleaved measurement, print the table and the bar, write the JSON."""
    args, selected, argv, rc = cli.start(__file__, __doc__, {**WORKLOADS, **DECODE_WORKLOADS}, argv)
    if rc is not None:
        return rc
    names = [n for n in selected if n in WORKLOADS]
    decode_names = [n for n in selected if n in DECODE_WORKLOADS]
    threads = args.threads
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, threads)
    torch = libraries.load_torch(notes, threads)
    keras = libraries.load_keras(torch, notes)
    legacy = None
    if keras is not None:
        legacy = libraries.import_optional("keras.src.legacy.preprocessing.image", notes)
    pil = libraries.import_optional("PIL")
    sj = libraries.import_optional("simplejpeg")
    cv2, _ = libraries.load_cv2(notes, 1)
    libs = {"foveal": foveal, "keras": keras, "legacy": legacy}
    cfg = (timing.TimingConfig.from_args(True) if args.quick else
           timing.TimingConfig(min_time=0.3, min_repeats=5, max_repeats=20, max_time=30.0, warmup=1))
    sysinfo = environment.system_info(threads)
    title = (f"foveal bench_pipeline: reading {DIR_IMAGES} JPEGs, cold and cached, batch {BATCH}, "
             f"one epoch per timed call, {threads} threads per library, best of interleaved "
             f"rounds{' (--quick)' if args.quick else ''}")
    modules = {"foveal": foveal, "keras": keras, "torch": torch, "pillow": pil, "simplejpeg": sj,
               "cv2": cv2}
    vers = environment.print_header(title, sysinfo, modules, finfo if foveal is not None else None)

    root = jpeg_folder(notes)
    checks: Dict[str, Dict[str, Any]] = {}
    if foveal is not None:
        checks["cache"] = check_cache(foveal.data, root)
        checks.update(check_directory({"foveal": foveal, "keras": legacy}, root))
    errors: Dict[str, str] = {}
    fns = timing.call_once(build(libs, root, names, notes, errors), errors, "pipeline") if names else {}
    for n in notes:
        print("note: " + n)
    print()
    monitor = environment.CpuMonitor()
    timings: Dict[str, Any] = {}
    if names:
        print(f"  running {', '.join(names)} and the peers, interleaved", flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            timings = timing.measure_each({k: (fn, None) for k, fn in fns.items()}, cfg, errors,
                                          "pipeline")
        print()

    results: Dict[str, Dict[str, Any]] = {}
    for name in names:
        per = {lib: timings[lib] for lib in PEERS if lib in timings}
        if f"{name}/foveal" in timings:
            per["foveal"] = timings[f"{name}/foveal"]
        results[name] = report.images_result(name, WORKLOADS[name], DIR_IMAGES, per, LIBS, PEERS)

    headers = (["workload"] + [f"{SHORT[lib]} img/s" for lib in LIBS]
               + [f"{SHORT[lib]}/fov" for lib in PEERS] + ["fov ms/batch (median)", "check"])
    bad = [k for k, c in checks.items() if not c.get("ok")]
    rows = []
    for name, r in results.items():
        fr = r["libs"].get("foveal")
        rows.append([name] + [report.fmt_num(r["images_per_s"].get(lib), 0) for lib in LIBS]
                    + [report.fmt_ratio(r["ratios"].get(lib)) for lib in PEERS]
                    + [report.fmt_ms(fr["median_s"] * BATCH / DIR_IMAGES) if fr else "n/a",
                       ("MISMATCH " + ",".join(bad)) if bad else ("ok" if checks else "-")])
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time (> 1: foveal faster); the peers neither cache nor "
          "differ between rows")
    decode_results: Dict[str, Dict[str, Any]] = {}
    if decode_names:
        files = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(root) for f in fs
                       if f.endswith(".jpg"))[:DECODE_FILES]
        threads_before = foveal.get_num_threads() if foveal is not None else None
        if foveal is not None:
            foveal.set_num_threads(1)
        try:
            for name in decode_names:
                print(f"  running {name:12s} {DECODE_WORKLOADS[name]}", flush=True)
                dfns = timing.call_once(build_decoders(foveal, cv2, files, name == "decode_half"),
                                        errors, name)
                dt = timing.measure_each({k: (fn, None) for k, fn in dfns.items()}, cfg, errors, name)
                decode_results[name] = report.images_result(name, DECODE_WORKLOADS[name], len(files),
                                                            dt, ("foveal",) + DECODERS, DECODERS)
        finally:
            if threads_before is not None:
                foveal.set_num_threads(threads_before)
        print()
        dh = ["decoders"] + [f"{lib} img/s" for lib in ("foveal",) + DECODERS] + \
             [f"{lib}/fov" for lib in DECODERS]
        report.print_table(dh, [[n] + [report.fmt_num(r["images_per_s"].get(lib), 0)
                                       for lib in ("foveal",) + DECODERS]
                                + [report.fmt_ratio(r["ratios"].get(lib)) for lib in DECODERS]
                                for n, r in decode_results.items()], align_left=(0,))
        print("foveal = foveal.data's decoding (simplejpeg where installed, Pillow's pixels), one thread")
        print()

    crit = [report.ratio_criterion(f"{name} >= {bar:g}x {peer}", results.get(name), peer, bar)
            for (name, peer), bar in BAR.items()]
    report.print_criteria(crit, 36)

    warnings_out = [f"{k}: differs from {c.get('reference')}: {c.get('reason')}"
                    for k, c in checks.items() if not c.get("ok")]
    warnings_out += [f"{lib}: {err}" for lib, err in errors.items()]
    system = environment.end_of_run(warnings_out, ((n, r["libs"]) for n, r in results.items()),
                                    SHORT, monitor, sysinfo, threads)
    payload = {
        **report.head("bench_pipeline", system, vers, finfo, args.isa),
        "quick": args.quick,
        "workloads": {"images": DIR_IMAGES, "classes": DIR_CLASSES, "source_size_hw": list(DIR_SOURCE),
                      "target_size": list(DIR_TARGET), "batch_size": BATCH,
                      "jpeg_quality": JPEG_QUALITY, "flow_rescale": "1/255",
                      "flow_interpolation": "nearest", "dataset_interpolation": "bilinear",
                      "cache": "memory", "descriptions": WORKLOADS},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "best of interleaved rounds, order rotating (median also recorded)"},
        "checks": checks, "notes": notes, "warnings": warnings_out,
        "results": list(results.values()),
        "decoders": list(decode_results.values()),
        "summary": {"ratios_vs_keras": {n: r["ratios"].get("keras") for n, r in results.items()},
                    "ratios_vs_keras_ds": {n: r["ratios"].get("keras_ds") for n, r in results.items()},
                    "criteria": crit,
                    "bar_holds": all(c["status"] == "PASS" for c in crit)},
    }
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
