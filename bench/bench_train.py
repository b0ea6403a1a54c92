#!/usr/bin/env python
"""Benchmark training and inference of the course's small CNN: foveal against PyTorch and Keras.

The model, identical in the three libraries (same layers, same parameter count, 545,098):

    32x32x3 -> Conv2D 32 3x3 same relu -> MaxPooling2D 2 -> Conv2D 64 3x3 same relu
            -> MaxPooling2D 2 -> Flatten -> Dense 128 relu -> Dense 10 softmax

loss categorical cross-entropy, SGD(learning_rate=0.01, momentum=0.9), batch 64.

  foveal   foveal.nn.Sequential, compile(optimizer=foveal.nn.optimizers.SGD(0.01, momentum=0.9),
           loss="categorical_crossentropy"), fit(...) and predict(...) (the public API)
  torch    torch.nn.Sequential in channels_last memory format, torch.optim.SGD(lr=0.01,
           momentum=0.9), CrossEntropyLoss on the logits (softmax + cross-entropy fused: the same
           loss); the usual loop zero_grad / forward / loss / backward / step
  keras    keras.Sequential on the torch backend (KERAS_BACKEND=torch, CPU), compile / fit /
           predict as foveal

Workloads, on one fixed seeded dataset of B batches of 64 images (uniform [0, 1) pixels, random
one-hot labels; B = 20, or 4 with --quick), generated before any timing:

  train    one epoch: fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False) for foveal
           and Keras; torch runs the same B batches (tensors prepared beforehand)
  predict  predict(x, batch_size=64, verbose=0); torch runs the same batches under
           torch.inference_mode, softmax included

Every library gets the same number of threads (2 by default): foveal.set_num_threads,
torch.set_num_threads (Keras runs on the same torch), OMP_NUM_THREADS. A timing is the best of
interleaved repeats (bench/timing.py); images/s = 64 * B / best time; ratio = peer time /
foveal time = foveal images/s / peer images/s (> 1: foveal faster).

Before timing, the three models get the same seeded weights (Keras layout, converted for torch)
and are checked: the same predictions on one batch (within 1e-3), and the same update from one SGD
step on that batch (per weight tensor, within 5% in L2 norm: near-ties in max pooling are decided
by float32 rounding). The "check" column flags a mismatch.

The issue's bar, printed as PASS/FAIL: training >= 1.0x torch and inference >= 1.0x torch.

    python bench/bench_train.py [--quick] [--only train] [--json PATH] [--isa avx2]

Every peer is optional: one that is not installed is skipped with a note.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
from typing import Any, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.workloads.train import (BATCH, CHECK_TOL, EXPECTED_PARAMS, LEARNING_RATE,  # noqa: E402
                                   MOMENTUM, build_foveal, build_keras, build_torch,
                                   check_models, make_data)

BATCHES = 20            # batches per timed epoch / prediction pass
QUICK_BATCHES = 4
BAR = {"train": 1.0, "predict": 1.0}   # foveal images/s over torch images/s, at least
PEERS = ("torch", "keras")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "torch": "torch", "keras": "keras"}
WORKLOADS = {
    "train": "one epoch of SGD(0.01, momentum 0.9) training, batch 64",
    "predict": "inference over the same images, batch 64",
}


def _setup(threads: int, notes: List[str]):
    foveal, finfo = libraries.load_foveal(notes, threads)
    if foveal is not None:
        try:
            import foveal.nn  # noqa: F401
            foveal.nn.Sequential  # noqa: B018
        except Exception as exc:
            notes.append(f"foveal.nn not usable ({type(exc).__name__}: {exc}); "
                         "foveal columns are n/a")
            foveal = None
    torch = libraries.load_torch(notes, threads)
    keras = libraries.load_keras(torch, notes)
    return foveal, finfo, torch, keras


def criteria(results: Dict[str, Dict[str, Any]], checks: Dict[str, Dict[str, Any]]):
    out = []
    labels = {"train": "training", "predict": "inference"}
    for name, bar in BAR.items():
        out.append(report.ratio_criterion(f"{labels[name]} >= {bar:.1f}x torch", results.get(name),
                                          "torch", bar))
    bad = [lib for lib, c in checks.items() if not c.get("ok")]
    status = "FAIL" if bad else ("PASS" if checks else "N/A")
    out.append({"criterion": "same model in every library", "status": status, "value": None,
                "detail": (f"mismatch: {', '.join(bad)}" if bad else
                           f"{len(checks)} peer(s) checked against "
                           f"{next(iter(checks.values()))['reference']}" if checks else
                           "nothing to compare (needs two libraries)")})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    n_batches = QUICK_BATCHES if args.quick else BATCHES
    n_images = n_batches * BATCH

    notes: List[str] = []
    foveal, finfo, torch, keras = _setup(threads, notes)
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)

    title = (f"foveal bench_train: the course's small CNN, batch {BATCH}, {n_batches} batches "
             f"({n_images} images) per timed call, {threads} threads per library, best of "
             f"interleaved repeats{' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo, {"foveal": foveal, "torch": torch, "keras": keras},
                                    finfo if foveal is not None else None)
    if torch is not None:
        print(f"torch: threads {torch.get_num_threads()}, channels_last, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    if keras is not None:
        print(f"keras: backend {keras.backend.backend()}, "
              f"device {os.environ.get('KERAS_TORCH_DEVICE')}")

    x, y, labels = make_data(n_batches)
    errors: Dict[str, str] = {}
    models: Dict[str, Dict[str, Any]] = libraries.set_up_each({
        "foveal": (foveal, lambda: build_foveal(foveal, x, y)),
        "torch": (torch, lambda: build_torch(torch, x, y, labels)),
        "keras": (keras, lambda: build_keras(keras, x, y))}, errors)
    notes += [f"{lib}: {err}" for lib, err in errors.items()]
    params = {lib: m["params"] for lib, m in models.items()}
    print("parameters: " + ", ".join(f"{lib} {p:,}" for lib, p in params.items())
          + f" (expected {EXPECTED_PARAMS:,})")
    for lib, p in params.items():
        if p != EXPECTED_PARAMS:
            notes.append(f"{lib} has {p:,} parameters, expected {EXPECTED_PARAMS:,}: "
                         "not the same model")
    checks = check_models(models, x, y)
    for lib, chk in checks.items():
        if chk.get("reason") and "reference" not in chk:
            errors[lib] = f"check failed: {chk['reason']}"
    for n in notes:
        print("note: " + n)
    print()

    results: Dict[str, Dict[str, Any]] = {}
    monitor = environment.CpuMonitor()
    for name in names:
        print(f"  running {name:8s} {WORKLOADS[name]}", flush=True)
        fns = timing.call_once({lib: m[name] for lib, m in models.items()}, errors, name)
        timings = timing.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors,
                                      name)
        res = report.images_result(name, WORKLOADS[name], n_images, timings, LIBS, PEERS)
        if name == "train":
            losses = {}
            for lib, m in models.items():
                with contextlib.suppress(Exception):
                    losses[lib] = float(m["train"]())
            res["loss_after_timing"] = losses
        results[name] = res
    print()

    present = [lib for lib in LIBS if lib == "foveal" or lib in models or lib in errors]
    headers = ["workload"] + [f"{SHORT[lib]} img/s" for lib in present]
    headers += [f"{SHORT[lib]}/fov" for lib in present if lib != "foveal"]
    headers += ["fov ms/batch", "check"]
    rows = []
    for name, r in results.items():
        row = [name] + [report.fmt_num(r["images_per_s"].get(lib), 0) for lib in present]
        row += [report.fmt_ratio(r["ratios"].get(lib)) for lib in present if lib != "foveal"]
        fr = r["libs"].get("foveal")
        row.append(report.fmt_ms(fr["min_s"] / n_batches) if fr else "n/a")
        bad = [SHORT[lib] for lib, c in checks.items() if not c.get("ok")]
        row.append(("MISMATCH " + ",".join(bad)) if bad else ("ok" if checks else "-"))
        rows.append(row)
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    ref = next((c["reference"] for c in checks.values() if "reference" in c), None)
    print("ratio = peer time / foveal time = foveal images/s / peer images/s (> 1: foveal "
          "faster)" + (f"; check = same predictions and the same SGD step as {ref}" if ref
                       else ""))
    if "train" in results and results["train"].get("loss_after_timing"):
        print("loss after the timed epochs (random labels; a sanity check, finite): " + ", ".join(
            f"{lib} {v:.3f}" for lib, v in results["train"]["loss_after_timing"].items()))

    crit = criteria(results, checks)
    report.print_criteria(crit, 30)

    warnings: List[str] = []
    for lib, chk in checks.items():
        if not chk.get("ok"):
            warnings.append(f"{lib}: differs from {chk.get('reference', 'the others')}: "
                            f"{chk.get('reason')}")
    for lib, err in errors.items():
        warnings.append(f"{lib}: {err}")
    for name, r in results.items():
        for lib, loss in r.get("loss_after_timing", {}).items():
            if not math.isfinite(loss):
                warnings.append(f"{lib}: training loss is {loss} after the timed epochs")
    system = environment.end_of_run(warnings, ((name, r["libs"]) for name, r in results.items()),
                                    SHORT, monitor, sysinfo, threads)

    payload = {
        **report.head("bench_train", system, vers, finfo, args.isa),
        "quick": args.quick,
        "model": {"layers": "32x32x3 -> Conv2D 32 3x3 same relu -> MaxPooling2D -> Conv2D 64 3x3 "
                            "same relu -> MaxPooling2D -> Flatten -> Dense 128 relu -> Dense 10 "
                            "softmax",
                  "loss": "categorical_crossentropy",
                  "optimizer": {"name": "SGD", "learning_rate": LEARNING_RATE,
                                "momentum": MOMENTUM},
                  "batch_size": BATCH, "batches_per_call": n_batches, "images_per_call": n_images,
                  "parameters": params, "expected_parameters": EXPECTED_PARAMS},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "best of interleaved rounds, order rotating (median also recorded)", "check_tolerance": CHECK_TOL},
        "checks": checks,
        "notes": notes,
        "warnings": warnings,
        "results": list(results.values()),
        "summary": {
            "train_ratio_vs_torch": results.get("train", {}).get("ratios", {}).get("torch"),
            "predict_ratio_vs_torch": results.get("predict", {}).get("ratios", {}).get("torch"),
            "train_ratio_vs_keras": results.get("train", {}).get("ratios", {}).get("keras"),
            "predict_ratio_vs_keras": results.get("predict", {}).get("ratios", {}).get("keras"),
            "criteria": crit,
            "bar_holds": all(c["status"] == "PASS" for c in crit[:2]),
        },
    }
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
