#!/usr/bin/env python
"""Benchmark foveal.distributed.extract against single-process extraction on this machine.

  single   OnnxBackbone(model, batch_size=32, num_threads=2).extract(folder): one process,
           decoding overlapped with the model (bench_transfer's "foveal")
  ray1     foveal.distributed.extract(backbone, folder, num_workers=1): one worker actor of
           2 CPUs (2 onnxruntime and foveal threads)
  ray2     the same with num_workers=2: two single-CPU workers

The Ray runs use a local cluster of 2 CPUs started once before timing (``ray.init``). On that
connection the first ``extract`` call of a worker count starts the worker actors (a Python
process each, importing foveal and onnxruntime, loading the model from the object store):
that cold call is timed on its own and reported as ``cold``, and its features are checked
against the single process's. Later calls with the same worker count reuse the workers, so a
timed call pays listing, decoding, the model and the rows' way back to the driver. The two
worker counts cannot share the 2 CPUs (a call with the other count restarts the workers), so
they are timed in two phases, ray2 then ray1, each interleaved with the single process (the
order rotating each round, after an untimed warm-up call); each ratio compares the Ray run
with the single process of its own phase. Best and median are reported. The folder and the
model are bench_transfer's: JPEGs of 200 to 260 pixels a side resized to 224 x 224, and a
ResNet-18 exported from torch (a small foveal CNN without torch).

A scaling curve on one 2-core machine cannot show a cluster's gain; the bar is that Ray's
overhead stays small: ray2 >= 0.85x single (images/s, best of rounds). On a busy machine the
numbers are indicative only.

    python bench/bench_distributed.py [--quick] [--json PATH]
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
import warnings
from typing import Any, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.bench_transfer import export_model, jpeg_folder  # noqa: E402
from bench.checks import check_close  # noqa: E402

import numpy as np  # noqa: E402

IMAGES, QUICK_IMAGES = 384, 128
BATCH = 32
CPUS = 2
CHECK_TOL = 1e-4
BAR = 0.85
SHORT = {"single": "one", "ray1": "r1", "ray2": "r2"}
WORKLOADS = {"extract": f"features of a folder of JPEGs at 224 x 224, {CPUS} CPUs"}


def criteria(res: Optional[Dict[str, Any]]) -> List[Dict[str, Any]]:
    label = f"2 one-CPU Ray workers >= {BAR:.2f}x one process"
    if res is None:
        return [{"criterion": label, "status": "N/A", "value": None,
                 "detail": "needs ray[data], onnx and onnxruntime"}]
    ratio = res["ratio_ray2"]
    return [{"criterion": label, "status": "PASS" if ratio >= BAR else "FAIL", "value": ratio,
             "detail": f"{ratio:.2f}x ({res['images_per_s']['ray2']:.1f} vs "
                       f"{res['images_per_s']['single']:.1f} images/s)"}]


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    n_images = QUICK_IMAGES if args.quick else IMAGES
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, CPUS)
    onnx = libraries.import_optional("onnx", notes)
    ort = libraries.import_optional("onnxruntime", notes)
    ray = libraries.import_optional("ray", notes)
    torch = libraries.load_torch(notes, CPUS, interop=False)
    if foveal is None or onnx is None or ort is None or ray is None:
        for n in notes:
            print("note: " + n)
        print("foveal, onnx, onnxruntime and ray[data] are all needed: nothing to run")
        return 1
    from foveal import distributed

    cfg = timing.TimingConfig(min_time=0.0, min_repeats=3 if args.quick else 5,
                              max_repeats=3 if args.quick else 5, warmup=1)
    sysinfo = environment.system_info(CPUS)
    root = jpeg_folder(n_images)
    work = tempfile.mkdtemp(prefix="foveal-bench-distributed-")
    path, model_desc = export_model(foveal, torch, work)
    backbone = foveal.transfer.OnnxBackbone(path, batch_size=BATCH, num_threads=CPUS)

    title = (f"foveal bench_distributed: {n_images} JPEGs (200..260 px) -> 224x224, batch {BATCH}, "
             f"{CPUS} CPUs: one process vs Ray workers, interleaved rounds"
             f"{' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo, {"foveal": foveal, "onnxruntime": ort,
                                                     "ray": ray, "torch": torch}, None)
    print(f"model: {model_desc}; features {backbone.output!r} (D = {backbone.feature_dim})")
    print(f"images: {root}")
    for n in notes:
        print("note: " + n)
    print()

    # a private local cluster without token authentication (nothing written to ~/.ray)
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")
    ray.init(num_cpus=CPUS, include_dashboard=False, logging_level="warning",
             object_store_memory=200 * 1024 * 1024)
    try:
        def run_single() -> np.ndarray:
            return backbone.extract(root, verbose=0)

        def run_ray(workers: int) -> np.ndarray:
            return distributed.extract(backbone, root, num_workers=workers, batch_size=BATCH)[0]

        checks: Dict[str, Any] = {}
        cold: Dict[str, float] = {}
        phases: Dict[int, Dict[str, timing.Timing]] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = run_single()
            print(f"  running extract  {WORKLOADS['extract']}", flush=True)
            monitor = environment.CpuMonitor()
            for w in (2, 1):   # ray2 first: the bar
                t0 = time.perf_counter()
                first = run_ray(w)   # cold: starts the workers of this count
                cold[f"ray{w}"] = time.perf_counter() - t0
                checks[f"ray{w}"] = check_close(ref, first, CHECK_TOL)
                fns: Dict[str, timing.Call] = {"single": (run_single, None),
                                               f"ray{w}": (lambda w=w: run_ray(w), None)}
                phases[w] = timing.measure_interleaved(fns, cfg, rounds=cfg.min_repeats)
    finally:
        distributed.shutdown_workers()
        ray.shutdown()
    timings = {"single": phases[2]["single"], "ray1": phases[1]["ray1"],
               "ray2": phases[2]["ray2"]}
    ips = {k: n_images / t.min_s for k, t in timings.items()}
    med = {k: n_images / t.median_s for k, t in timings.items()}
    res = {"name": "extract", "description": WORKLOADS["extract"], "images": n_images,
           "libs": {k: t.to_dict() for k, t in timings.items()}, "images_per_s": ips,
           "images_per_s_median": med,
           "single_in_ray1_phase": phases[1]["single"].to_dict(),
           "cold_s": cold, "cold_images_per_s": {k: n_images / t for k, t in cold.items()},
           "ratio_ray1": phases[1]["single"].min_s / phases[1]["ray1"].min_s,
           "ratio_ray2": phases[2]["single"].min_s / phases[2]["ray2"].min_s}
    print()
    headers = ["workload", "one img/s", "ray1 img/s", "ray2 img/s", "ray1/one", "ray2/one", "check"]
    ok = all(c["ok"] for c in checks.values())
    report.print_table(headers, [["extract", report.fmt_num(ips["single"]),
                                  report.fmt_num(ips["ray1"]), report.fmt_num(ips["ray2"]),
                                  report.fmt_ratio(res["ratio_ray1"]),
                                  report.fmt_ratio(res["ratio_ray2"]),
                                  "ok" if ok else "MISMATCH"]], align_left=(0, len(headers) - 1))
    print("best of rounds; medians in the JSON; each ratio against the single process of its "
          "phase.")
    print("ray timings reuse the workers the cold (first) call of a worker count started; "
          "cold calls: " + ", ".join(f"{k} {t:.2f} s ({n_images / t:.1f} img/s)"
                                     for k, t in sorted(cold.items())))
    crit = criteria(res)
    report.print_criteria(crit, 44)
    warns: List[str] = [] if ok else [f"Ray's features differ from one process's: {checks}"]
    system = environment.end_of_run(warns, [("extract", res["libs"])], SHORT, monitor, sysinfo,
                                    CPUS)
    payload = {
        **report.head("bench_distributed", system, vers, finfo, with_isa=False),
        "quick": args.quick,
        "model": {"description": model_desc, "feature_tensor": backbone.output,
                  "feature_dim": backbone.feature_dim},
        "data": {"folder": root, "images": n_images, "format": "JPEG q90, 200..260 px a side"},
        "timing": {"repeats": cfg.min_repeats,
                   "statistic": "best and median of interleaved rounds, order rotating, "
                                "after a cold call (timed apart) that starts the workers"},
        "checks": checks, "notes": notes, "warnings": warns, "results": [res],
        "summary": {"ratio_ray1": res["ratio_ray1"], "ratio_ray2": res["ratio_ray2"],
                    "criteria": crit, "bar_holds": crit[0]["status"] == "PASS"},
    }
    report.write_results(args.json, payload)
    with contextlib.suppress(OSError):
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
