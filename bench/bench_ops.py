#!/usr/bin/env python
"""Benchmark foveal.nn.functional ops against PyTorch (CPU) and ONNX Runtime.

Workloads (float32; foveal runs NHWC with Keras kernels kh x kw x Cin x Cout):

  conv2d forward (no bias in any library)
    conv3x3_n8_56x56_c64-64      N8  56x56   C64 -> 64   3x3 stride 1 pad 1
    conv7x7s2_n8_224x224_c3-64   N8  224x224 C3  -> 64   7x7 stride 2 pad 3
    conv3x3_n64_32x32_c32-64     N64 32x32   C32 -> 64   3x3 stride 1 pad 1
    conv1x1_n8_28x28_c256-128    N8  28x28   C256 -> 128 1x1
    dwconv3x3_n8_56x56_c128      N8  56x56   C128 depthwise 3x3 pad 1 (multiplier 1)
  conv2d forward + backward (dx and dkernel): the five above, named *_fwdbwd (PyTorch: the
  usual autograd step, y = conv(x, w); y.backward(dy); ONNX Runtime has no training)
  pooling (valid)
    maxpool2x2_n32_56x56_c64     max 2x2 stride 2
    avgpool2x2_n32_56x56_c64     avg 2x2 stride 2

Every library uses the same number of threads (2 by default): foveal.set_num_threads,
torch.set_num_threads, ONNX Runtime intra_op_num_threads (inter_op 1), OMP_NUM_THREADS.
PyTorch gets channels_last tensors and runs under torch.inference_mode(); ONNX Runtime
runs a one-node model (Conv / MaxPool / AveragePool) on NCHW input. foveal is timed
through its public Python functions (argument handling included).

Metrics: best time per call (median in the JSON), GFLOP/s for convolutions (2*N*OH*OW*Cout*KH*KW*Cin/groups),
GB/s for pooling (bytes read + written), and peer_time / foveal_time per peer
(> 1 means foveal is faster). Each peer's output is checked against foveal's (1e-3).

    python bench/bench_ops.py [--quick] [--only conv3x3] [--json PATH] [--isa avx2]

Every peer is optional; without foveal the peers still run and foveal's columns are n/a.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.checks import check_close  # noqa: E402
from bench.workloads.ops import (WORKLOADS, Runner, Workload, foveal_runner, make_inputs,  # noqa: E402
                                 ort_runner, torch_runner)

import numpy as np  # noqa: E402

TOL = 1e-3
PEERS = ("torch", "onnxruntime")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "torch": "torch", "onnxruntime": "ort"}


def _setup_libs(threads: int, notes: List[str]):
    foveal, finfo = libraries.load_foveal(notes, threads)
    torch = libraries.load_torch(notes, threads)
    ort = libraries.import_optional("onnxruntime", notes)
    onnx = libraries.import_optional("onnx", notes) if ort is not None else None
    if ort is not None and onnx is None:
        notes.append("onnxruntime is installed but onnx (needed to build the models) is not; "
                     "onnxruntime columns are skipped")
        ort = None
    return foveal, finfo, torch, ort, onnx


def run_workload(wl: Workload, index: int, libs: Dict[str, Any], cfg: timing.TimingConfig,
                 threads: int) -> Dict[str, Any]:
    foveal, torch, ort, onnx = libs["foveal"], libs["torch"], libs["onnxruntime"], libs["onnx"]
    data = make_inputs(wl, index)
    errors: Dict[str, str] = {}
    runners: Dict[str, Runner] = libraries.set_up_each({
        "foveal": (foveal, lambda: foveal_runner(foveal, wl, data)),
        "torch": (torch, lambda: torch_runner(torch, wl, data)),
        # onnxruntime has no training: forward workloads only
        "onnxruntime": (None if wl.train else ort, lambda: ort_runner(ort, onnx, wl, data, threads)),
    }, errors)

    # one untimed call each: output for the correctness check (also the first warm-up)
    outputs: Dict[str, np.ndarray] = {}
    for lib, (fn, to_nhwc, ctx) in list(runners.items()):
        try:
            with ctx():
                outputs[lib] = np.asarray(to_nhwc(fn()), dtype=np.float32)
        except Exception as exc:
            errors[lib] = f"call failed: {type(exc).__name__}: {exc}"
            del runners[lib]

    checks: Dict[str, Dict[str, Any]] = {}
    oh, ow = wl.out_hw
    expected_shape = ((wl.n * oh * ow * wl.out_c + wl.n * wl.h * wl.w * wl.c
                       + int(np.prod(wl.kernel_shape())),) if wl.train else (wl.n, oh, ow, wl.out_c))
    if "foveal" in outputs:
        ref_lib = "foveal"
        if outputs["foveal"].shape != expected_shape:
            checks["foveal"] = {"ok": False, "reference": "expected shape",
                                "reason": f"shape {outputs['foveal'].shape} != {expected_shape}"}
    else:
        # without foveal, cross-check the peers (catches a wrong ONNX model or weight layout)
        ref_lib = next((p for p in PEERS if p in outputs), None)
    if ref_lib is not None:
        for lib in PEERS:
            if lib in outputs and lib != ref_lib:
                chk = check_close(outputs[ref_lib], outputs[lib], TOL)
                chk["reference"] = ref_lib
                checks[lib] = chk
    del outputs

    timings = timing.measure_each({lib: (fn, ctx) for lib, (fn, _, ctx) in runners.items()}, cfg,
                                  errors)

    isa = libraries.foveal_isa(foveal)
    res: Dict[str, Any] = {"name": wl.name, **wl.meta(), "unit": wl.unit,
                           "foveal_isa": isa, "libs": {}, "ratios": {},
                           "check_reference": ref_lib, "checks": checks,
                           "errors": errors}
    for lib in LIBS:
        t = timings.get(lib)
        if t is None:
            continue
        res["libs"][lib] = {**t.to_dict(), "rate": wl.rate(t.min_s), "rate_unit": wl.unit}
    res["ratios"].update(timing.ratios(timings, PEERS))
    return res


def _row(res: Dict[str, Any], present: List[str]) -> List[str]:
    row = [res["name"], res["unit"]]
    for lib in present:
        r = res["libs"].get(lib)
        row += [report.fmt_ms(r["min_s"]) if r else "n/a",
                report.fmt_num(r["rate"], 1) if r else "n/a"]
    for lib in present:
        if lib != "foveal":
            row.append(report.fmt_ratio(res["ratios"].get(lib)))
    row.append(res["foveal_isa"] or "n/a")
    bad = [SHORT[lib] for lib, chk in res["checks"].items() if not chk.get("ok")]
    if bad:
        row.append("MISMATCH " + ",".join(bad))
    elif res["checks"]:
        row.append("ok" if res["check_reference"] == "foveal" else "ok (peers)")
    else:
        row.append("-")
    return row


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = cli.start(__file__, __doc__, {w.name: w.describe() for w in WORKLOADS},
                                      argv)
    if rc is not None:
        return rc
    threads = args.threads

    notes: List[str] = []
    foveal, finfo, torch, ort, onnx = _setup_libs(threads, notes)
    libs = {"foveal": foveal, "torch": torch, "onnxruntime": ort, "onnx": onnx}
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)

    title = (f"foveal bench_ops: {threads} threads per library, best of repeats"
             f"{' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo,
                                    {"foveal": foveal, "torch": torch, "onnxruntime": ort},
                                    finfo if foveal is not None else None)
    if torch is not None:
        print(f"torch: threads {torch.get_num_threads()}, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    for n in notes:
        print("note: " + n)
    print()

    results = []
    monitor = environment.CpuMonitor()
    for i, wl in enumerate(WORKLOADS):
        if wl.name not in names:
            continue
        print(f"  running {wl.name:30s} {wl.describe()}", flush=True)
        results.append(run_workload(wl, i, libs, cfg, threads))
    print()

    # foveal's columns always show (n/a without it); a missing peer's columns are left out
    present = [lib for lib in LIBS if lib == "foveal" or libs[lib] is not None]
    headers = ["workload", "unit"]
    for lib in present:
        headers += [f"{SHORT[lib]} ms", f"{SHORT[lib]} rate"]
    for lib in present:
        if lib != "foveal":
            headers.append(f"{SHORT[lib]}/fov")
    headers += ["isa", "check"]
    report.print_table(headers, [_row(r, present) for r in results])

    conv_torch = [r["ratios"].get("torch") for r in results if r["kind"] in ("conv", "depthwise")]
    conv_ort = [r["ratios"].get("onnxruntime") for r in results
                if r["kind"] in ("conv", "depthwise")]
    pool_torch = [r["ratios"].get("torch") for r in results if r["kind"].endswith("pool")]
    summary = {
        "geomean_conv_ratio_vs_torch": timing.geomean(conv_torch),
        "geomean_conv_ratio_vs_onnxruntime": timing.geomean(conv_ort),
        "geomean_pool_ratio_vs_torch": timing.geomean(pool_torch),
        "conv_workloads_in_geomean_vs_torch": sum(1 for v in conv_torch if v),
    }
    print()
    g = summary["geomean_conv_ratio_vs_torch"]
    print(f"geomean conv ratio torch/foveal: {report.fmt_ratio(g)} "
          f"over {summary['conv_workloads_in_geomean_vs_torch']} conv workloads"
          + ("" if g is not None else " (needs foveal and torch)"))
    if summary["geomean_conv_ratio_vs_onnxruntime"] is not None:
        print(f"geomean conv ratio ort/foveal:   "
              f"{report.fmt_ratio(summary['geomean_conv_ratio_vs_onnxruntime'])}")
    print("ratio = peer time / foveal time (> 1: foveal faster); rate = GFLOP/s (conv) "
          "or GB/s read+written (pool)")

    warnings: List[str] = []
    for r in results:
        for lib, chk in r["checks"].items():
            if not chk.get("ok"):
                detail = chk.get("reason") or f"max abs err {chk.get('max_abs_err'):.3g}"
                warnings.append(f"{r['name']}: {lib} output differs from {chk['reference']} "
                                f"beyond {TOL} ({detail})")
        for lib, err in r["errors"].items():
            warnings.append(f"{r['name']}: {lib} {err}")
    system = environment.end_of_run(warnings, ((r["name"], r["libs"]) for r in results),
                                    SHORT, monitor, sysinfo, threads)

    payload = {
        **report.head("bench_ops", system, vers, finfo, args.isa),
        "quick": args.quick,
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "best of repeats (median also recorded)", "check_tolerance": TOL},
        "notes": notes,
        "warnings": warnings,
        "results": results,
        "summary": summary,
    }
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
