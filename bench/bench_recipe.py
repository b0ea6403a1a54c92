#!/usr/bin/env python
"""Benchmark Keras's "simple MNIST convnet" recipe on Fashion-MNIST: foveal against PyTorch and Keras.

The model, identical in the three libraries (34,826 parameters):

    28x28x1 -> Conv2D 32 3x3 relu -> MaxPooling2D 2 -> Conv2D 64 3x3 relu -> MaxPooling2D 2
            -> Flatten -> Dropout 0.5 -> Dense 10 softmax

loss categorical cross-entropy, Adam (Keras's defaults), metrics=["accuracy"], batch 128.

  foveal   foveal.nn.Sequential, compile / fit(x, y, batch_size=128, epochs=1, shuffle=True)
  torch    torch.nn.Sequential in channels_last memory format, torch.optim.Adam(lr=1e-3,
           eps=1e-7), CrossEntropyLoss on the logits; the usual loop over a shuffled permutation
           with the accuracy counted per batch
  keras    keras.Sequential on the torch backend (KERAS_BACKEND=torch, CPU), as foveal

Workload ``epoch``: one timed call trains one epoch over the first N training images (N = 2,560,
20 batches; 640 with --quick), the real Fashion-MNIST when installed (``apt-get install
dataset-fashion-mnist``), else seeded uniform images of its shape. The table also gives the
seconds a full recipe epoch (54,000 images: 60,000 less validation_split=0.1) takes at that rate,
and the GFLOP/s of the training arithmetic (forward, input and weight gradients).

Every library gets the same number of threads (2 by default). A timing is the best of interleaved
repeats (bench/timing.py); ratio = peer time / foveal time (> 1: foveal faster). Before timing the
three models get the same seeded weights and must give the same predictions on one batch (1e-4).

The issue's bar, printed as PASS/FAIL: >= 2x torch.

    python -m bench.bench_recipe [--quick] [--json PATH] [--isa avx2] [--threads N]
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.workloads.recipe import (BATCH, EPOCH_IMAGES, EXPECTED_PARAMS,  # noqa: E402
                                    build_foveal, build_keras, build_torch, check_models,
                                    load_data, train_flops_per_image)

BATCHES, QUICK_BATCHES = 20, 5
BAR = 2.0
PEERS = ("torch", "keras")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "torch": "torch", "keras": "keras"}
WORKLOADS = {"epoch": "one epoch of the simple-convnet recipe (Adam, batch 128) over a chunk of "
                      "Fashion-MNIST"}


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    n_images = (QUICK_BATCHES if args.quick else BATCHES) * BATCH
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, threads)
    torch = libraries.load_torch(notes, threads)
    keras = libraries.load_keras(torch, notes)
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)
    title = (f"foveal bench_recipe: Keras's simple convnet on Fashion-MNIST, batch {BATCH}, "
             f"{n_images} images per timed epoch, {threads} threads per library")
    vers = environment.print_header(title, sysinfo, {"foveal": foveal, "torch": torch,
                                                     "keras": keras},
                                    finfo if foveal is not None else None)
    x, y, labels, source = load_data(n_images)
    print(f"data: {source}")

    errors: Dict[str, str] = {}
    models: Dict[str, Dict[str, Any]] = libraries.set_up_each({
        "foveal": (foveal, lambda: build_foveal(foveal, x, y)),
        "torch": (torch, lambda: build_torch(torch, x, labels)),
        "keras": (keras, lambda: build_keras(keras, x, y))}, errors)
    for lib, m in models.items():
        if m["params"] != EXPECTED_PARAMS:
            notes.append(f"{lib} has {m['params']:,} parameters, expected {EXPECTED_PARAMS:,}")
    checks = check_models(models, x)
    for n in notes + [f"{lib}: {e}" for lib, e in errors.items()]:
        print("note: " + n)
    print()

    monitor = environment.CpuMonitor()
    print(f"  running epoch    {WORKLOADS['epoch']}", flush=True)
    fns = timing.call_once({lib: m["train"] for lib, m in models.items()}, errors, "epoch")
    timings = timing.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors,
                                  "epoch")
    res = report.images_result("epoch", WORKLOADS["epoch"], n_images, timings, LIBS, PEERS)
    flops = train_flops_per_image()
    res["seconds_per_recipe_epoch"] = {lib: t.min_s * EPOCH_IMAGES / n_images
                                       for lib, t in timings.items()}
    res["gflop_per_s"] = {lib: flops * n_images / t.min_s / 1e9 for lib, t in timings.items()}
    print()

    present = [lib for lib in LIBS if lib in timings]
    headers = (["library", "img/s", "s per 54k epoch", "GFLOP/s", "ratio peer/fov", "check"])
    rows = []
    for lib in present:
        c = checks.get(lib, {})
        rows.append([lib, report.fmt_num(res["images_per_s"][lib], 0),
                     report.fmt_num(res["seconds_per_recipe_epoch"][lib], 2),
                     report.fmt_num(res["gflop_per_s"][lib], 1),
                     report.fmt_ratio(res["ratios"].get(lib)) if lib != "foveal" else "-",
                     ("ok" if c.get("ok") else "MISMATCH") if c else "-"])
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print(f"training arithmetic: {flops / 1e6:.2f} MFLOP per image (forward, input and weight "
          "gradients); ratio = peer time / foveal time")
    crit = [report.ratio_criterion(f"recipe epoch >= {BAR:.1f}x torch", res, "torch", BAR)]
    report.print_criteria(crit, 30)

    warnings = [f"{lib}: {c.get('reason')}" for lib, c in checks.items() if not c.get("ok")]
    warnings += [f"{lib}: {e}" for lib, e in errors.items()]
    system = environment.end_of_run(warnings, [("epoch", res["libs"])], SHORT, monitor, sysinfo,
                                    threads)
    payload = {**report.head("bench_recipe", system, vers, finfo, args.isa),
               "quick": args.quick, "data": source, "images_per_call": n_images,
               "train_flops_per_image": flops, "checks": checks, "notes": notes,
               "warnings": warnings, "results": [res],
               "summary": {"ratio_vs_torch": res["ratios"].get("torch"),
                           "ratio_vs_keras": res["ratios"].get("keras"), "criteria": crit}}
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
