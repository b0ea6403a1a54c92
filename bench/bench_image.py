#!/usr/bin/env python
"""Benchmark foveal.image against OpenCV (and scipy.ndimage where it has the op).

Input: one seeded synthetic 1080x1920x3 RGB image that looks natural enough (smooth
gradients, low-frequency texture, filled shapes with hard edges, sensor-like noise),
uint8; the float32 version is uint8 / 255. A second seeded image is the other operand
of blend and add.

Workloads (foveal call  vs  OpenCV call):

  filter2d_3x3_u8       filter2d(img, SHARPEN)        cv2.filter2D(img, -1, k, BORDER_REFLECT_101)
  filter2d_3x3_f32      same, float32
  filter2d_5x5_f32      seeded random 5x5 kernel of rank 5 (non-separable: the general 2-D path)
  gaussian_blur_5x5_u8  gaussian_blur(img, 5)         cv2.GaussianBlur(img, (5, 5), 0)
  rotate30_bilinear_u8  rotate(img, 30)               cv2.warpAffine(img, getRotationMatrix2D(
                                                        ((w-1)/2, (h-1)/2), 30, 1), (w, h), INTER_LINEAR)
  resize224_bilinear_u8 resize(img, (224, 224))       cv2.resize(img, (224, 224), INTER_LINEAR)
  resize224_area_u8     resize(..., "area")           cv2.resize(..., INTER_AREA)
  blend_u8              blend(a, b, 0.3)              cv2.addWeighted(a, 0.3, b, 0.7, 0)
  add_u8                add(a, b)                     cv2.add(a, b)
  to_gray_u8            to_gray(img)                  cv2.cvtColor(img, COLOR_RGB2GRAY)
  flip_horizontal_u8    flip(img, "horizontal")       cv2.flip(img, 1)

scipy.ndimage (single-threaded) is an extra column where it computes the same thing:
correlate (mode "mirror" = reflect101) for the float32 filter2d rows and per-channel
affine_transform (order 1, mode "grid-constant") for rotate.

Every library gets the same number of threads (2 by default; scipy always uses 1):
foveal.set_num_threads, cv2.setNumThreads. A timing is the best of interleaved
repeats (bench/timing.py). ratio = peer time / foveal time (> 1: foveal faster).
Before timing, foveal's output is compared with OpenCV's (uint8: max abs diff <= 1;
float32: |diff| <= 1e-4 * (1 + |ref|)); the "check" column flags mismatches.

The issue's bar, printed as PASS/FAIL: geomean of the OpenCV ratios >= 0.8, no op below
0.4x, both float32 filter2d rows >= 1.0x.

    python bench/bench_image.py [--quick] [--only filter2d] [--json PATH] [--isa avx2]

foveal.image ops that are not implemented yet (AttributeError / NotImplementedError)
show as n/a; OpenCV and scipy still run.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable, Dict, List, Optional

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.checks import check_close, check_max_abs  # noqa: E402
from bench.workloads.image import H, OPS, SEED, W, Op, make_inputs  # noqa: E402

import numpy as np  # noqa: E402

U8_MAX_ABS = 1        # uint8 outputs may differ by one rounding step
F32_TOL = 1e-4        # float32: |diff| <= F32_TOL * (1 + |ref|)
PEERS = ("cv2", "scipy")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "cv2": "cv2", "scipy": "sp"}

# The bar (ratios are cv2_time / foveal_time)
BAR_GEOMEAN = 0.8
BAR_MIN = 0.4
BAR_FILTER2D_F32 = 1.0


# --------------------------------------------------------------------------- running

NOT_IMPLEMENTED = (AttributeError, NotImplementedError)


def _check(op: Op, ref: np.ndarray, out: np.ndarray, reference: str) -> Dict[str, Any]:
    ref, out = np.asarray(ref), np.asarray(out)
    if out.dtype != ref.dtype:
        chk = {"ok": False, "max_abs_err": None, "reason": f"dtype {out.dtype} != {ref.dtype}"}
    elif op.dtype == "float32":
        chk = check_close(ref, out, F32_TOL)
    else:
        chk = check_max_abs(ref, out, U8_MAX_ABS)
    chk["reference"] = reference
    return chk


def run_op(op: Op, d: Dict[str, np.ndarray], libs: Dict[str, Any],
           cfg: timing.TimingConfig) -> Dict[str, Any]:
    fns: Dict[str, Callable[[], Any]] = {}
    errors: Dict[str, str] = {}
    not_impl: Optional[str] = None
    outputs: Dict[str, np.ndarray] = {}
    for lib in LIBS:
        mod = libs.get(lib)
        builder = getattr(op, lib)
        if mod is None or builder is None:
            continue
        try:
            fn = builder(mod, d)
            outputs[lib] = np.asarray(fn())  # untimed: the check output, also a warm-up
            fns[lib] = fn
        except NOT_IMPLEMENTED as exc:
            if lib == "foveal":
                not_impl = f"{type(exc).__name__}: {exc}"
            else:
                errors[lib] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            errors[lib] = f"{type(exc).__name__}: {exc}"

    checks: Dict[str, Dict[str, Any]] = {}
    if "cv2" in outputs:
        for lib in ("foveal", "scipy"):
            if lib in outputs:
                checks[lib] = _check(op, outputs["cv2"], outputs[lib], "cv2")
    outputs.clear()

    timings = timing.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors)

    res: Dict[str, Any] = {"name": op.name, "dtype": op.dtype, "description": op.description,
                           "input_shape": list(op.image(d).shape),
                           "libs": {}, "ratios": {}, "checks": checks, "errors": errors,
                           "foveal_not_implemented": not_impl}
    megapixels = H * W / 1e6
    for lib, t in timings.items():
        res["libs"][lib] = {**t.to_dict(), "mpix_per_s": megapixels / t.min_s}
    res["ratios"].update(timing.ratios(timings, PEERS))
    return res


def _check_cell(res: Dict[str, Any]) -> str:
    if res["foveal_not_implemented"]:
        return "n/a"
    if "foveal" in res["errors"]:
        return "ERROR"
    chk = res["checks"].get("foveal")
    if chk is None:
        return "-" if "foveal" in res["libs"] else "n/a"
    err = chk.get("max_abs_err")
    if chk.get("ok"):
        return "ok" if not err else f"ok (max {err:.2g})"
    if chk.get("reason"):
        return "MISMATCH " + chk["reason"]
    over = chk.get("frac_over")
    return f"MISMATCH max {err:.3g}" + (f", {over:.3%} px > {U8_MAX_ABS}" if over else "")


def _row(op: Op, res: Dict[str, Any], present: List[str]) -> List[str]:
    """Table cells: a time or ratio; "n/a" where foveal (or a peer) failed or lacks the op
    yet; "-" where the peer has no equivalent op."""
    row = [res["name"]]
    for lib in present:
        if lib in res["libs"]:
            row.append(report.fmt_ms(res["libs"][lib]["min_s"]))
        else:
            row.append("n/a" if lib == "foveal" or getattr(op, lib) is not None else "-")
    for lib in present:
        if lib != "foveal":
            row.append(report.fmt_ratio(res["ratios"].get(lib)) if getattr(op, lib) is not None
                       else "-")
    fr = res["libs"].get("foveal")
    row += [report.fmt_num(fr["mpix_per_s"], 0) if fr else "n/a", _check_cell(res)]
    return row


def criteria(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The issue's bar, each criterion PASS / FAIL / N/A (a needed row has no ratio)."""
    ratios = {r["name"]: r["ratios"].get("cv2") for r in results}
    # ops left out by --only count as missing too: the bar is about the whole list
    missing = [op.name for op in OPS if ratios.get(op.name) is None]
    have = {n: v for n, v in ratios.items() if v is not None}
    out = []

    def add(name, ok, value, detail):
        out.append({"criterion": name, "status": ok, "value": value, "detail": detail})

    g = timing.geomean(have.values())
    incomplete = f"; {len(missing)} op(s) without a ratio: {', '.join(missing)}" if missing else ""
    if g is None:
        add(f"geomean cv2/foveal >= {BAR_GEOMEAN}x", "N/A", None, "no ratios" + incomplete)
    else:
        # with ops missing the geomean could still move either way
        status = "N/A" if missing else ("PASS" if g >= BAR_GEOMEAN else "FAIL")
        add(f"geomean cv2/foveal >= {BAR_GEOMEAN}x", status, g,
            f"{g:.2f}x over {len(have)} ops{incomplete}")
    if have:
        worst = min(have, key=have.get)
        mn = have[worst]
        status = "FAIL" if mn < BAR_MIN else ("PASS" if not missing else "N/A")
        add(f"no op below {BAR_MIN}x", status, mn, f"min {mn:.2f}x ({worst}){incomplete}")
    else:
        add(f"no op below {BAR_MIN}x", "N/A", None, "no ratios")
    f32 = [r for r in results if r["name"].startswith("filter2d") and r["dtype"] == "float32"]
    vals = {r["name"]: ratios[r["name"]] for r in f32}
    parts = ", ".join(f"{n} {report.fmt_ratio(v)}" for n, v in vals.items()) or "rows not run"
    if not vals or any(v is None for v in vals.values()):
        status = "FAIL" if any(v is not None and v < BAR_FILTER2D_F32 for v in vals.values()) \
            else "N/A"
    else:
        status = "PASS" if all(v >= BAR_FILTER2D_F32 for v in vals.values()) else "FAIL"
    add(f"filter2d float32 (3x3 and 5x5) >= {BAR_FILTER2D_F32}x", status,
        min((v for v in vals.values() if v is not None), default=None), parts)
    # not in the list, but a ratio for a wrong result means nothing
    bad = [r["name"] for r in results
           if r["checks"].get("foveal") and not r["checks"]["foveal"].get("ok")]
    checked = sum(1 for r in results if r["checks"].get("foveal"))
    status = "FAIL" if bad else ("PASS" if checked == len(results) else "N/A")
    add("outputs agree with OpenCV", status, None,
        (f"mismatch: {', '.join(bad)}" if bad else f"{checked} of {len(results)} ops checked"))
    return out


def _load_foveal_image(threads: int, notes: List[str]):
    foveal, finfo = libraries.load_foveal(notes, threads)
    if foveal is None:
        return None, None, finfo
    try:
        fi = importlib.import_module("foveal.image")
    except Exception as exc:
        notes.append(f"foveal.image not importable ({type(exc).__name__}: {exc}); "
                     "foveal columns are n/a")
        return foveal, None, finfo
    return foveal, fi, finfo


def main(argv: Optional[List[str]] = None) -> int:
    listing = {op.name: f"{op.dtype:8s} {op.description}" for op in OPS}
    args, names, argv, rc = cli.start(__file__, __doc__, listing, argv)
    if rc is not None:
        return rc
    threads = args.threads

    notes: List[str] = []
    foveal, fi, finfo = _load_foveal_image(threads, notes)
    cv2, cv2info = libraries.load_cv2(notes, threads)
    scipy = libraries.import_optional("scipy", notes)
    ndi = libraries.import_optional("scipy.ndimage", notes) if scipy is not None else None
    if cv2 is None and ndi is not None:
        notes.append("scipy's rotate column needs cv2 for the matrix; it is skipped too")
    libs = {"foveal": fi, "cv2": cv2, "scipy": ndi}
    cfg = timing.TimingConfig.from_args(args.quick)
    sysinfo = environment.system_info(threads)

    title = (f"foveal bench_image: {H}x{W}x3 image, {threads} threads for foveal and OpenCV "
             f"(scipy.ndimage is single-threaded), best of interleaved repeats (order rotating)"
             f"{' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo, {"foveal": foveal, "cv2": cv2, "scipy": scipy},
                                    finfo if foveal is not None else None)
    if cv2 is not None:
        print(f"cv2: threads {cv2info.get('num_threads')}, "
              f"parallel framework {cv2info.get('parallel_framework', '?')}, "
              f"IPP {cv2info.get('ipp', 'no')}")
    for n in notes:
        print("note: " + n)
    print()

    d = make_inputs()
    results = []
    monitor = environment.CpuMonitor()
    for op in OPS:
        if op.name not in names:
            continue
        print(f"  running {op.name:24s} {op.dtype:8s} {op.description}", flush=True)
        results.append(run_op(op, d, libs, cfg))
    print()

    present = [lib for lib in LIBS if lib == "foveal" or libs[lib] is not None]
    headers = ["op"] + [f"{SHORT[lib]} ms" for lib in present]
    headers += [f"{SHORT[lib]}/fov" for lib in present if lib != "foveal"]
    headers += ["fov MP/s", "check"]
    ops = {op.name: op for op in OPS}
    rows = [_row(ops[r["name"]], r, present) for r in results]
    report.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time (> 1: foveal faster); MP/s = input megapixels per "
          "second; check = foveal vs OpenCV (uint8: max abs diff <= 1, float32: 1e-4 relative)")
    print(f"scipy.ndimage runs single-threaded (foveal and OpenCV use {threads} threads); "
          "'-' = no equivalent op in that library")
    for op in OPS:
        if op.note and op.name in names:
            print("note: " + op.note)
    for r in results:
        chk = r["checks"].get("scipy")
        if chk is not None:
            err = chk.get("max_abs_err")
            shown = "n/a" if err is None else f"{err:.3g}"
            # (OpenCV's warpAffine rounds source coordinates to 1/32 pixel, scipy does not)
            print(f"note: {r['name']}: scipy vs OpenCV max abs diff {shown}"
                  + ("" if chk.get("ok") else " (beyond the check tolerance)"))
    not_impl = [r["name"] for r in results if r["foveal_not_implemented"]]
    if not_impl:
        print(f"note: not implemented in foveal.image yet (n/a): {', '.join(not_impl)}")

    crit = criteria(results)
    report.print_criteria(crit, 42)

    warnings: List[str] = []
    for r in results:
        chk = r["checks"].get("foveal")
        if chk is not None and not chk.get("ok"):
            warnings.append(f"{r['name']}: foveal output differs from OpenCV: {_check_cell(r)}")
        for lib, err in r["errors"].items():
            warnings.append(f"{r['name']}: {lib} failed: {err}")
    system = environment.end_of_run(warnings, ((r["name"], r["libs"]) for r in results),
                                    SHORT, monitor, sysinfo, threads)

    summary = {
        "geomean_ratio_vs_cv2": timing.geomean(r["ratios"].get("cv2") for r in results),
        "min_ratio_vs_cv2": min((r["ratios"]["cv2"] for r in results if "cv2" in r["ratios"]),
                                default=None),
        "geomean_ratio_vs_scipy": timing.geomean(r["ratios"].get("scipy") for r in results),
        "ops_with_cv2_ratio": sum(1 for r in results if "cv2" in r["ratios"]),
        "ops": len(results),
        "criteria": crit,
        "bar_holds": all(c["status"] == "PASS" for c in crit[:3]),
    }
    payload = {
        **report.head("bench_image", system, vers, finfo, args.isa),
        "cv2_info": cv2info,
        "scipy_threads": 1,
        "quick": args.quick,
        "image": {"shape": [H, W, 3], "seed": SEED, "float32": "uint8 / 255",
                  "kernel_5x5": d["kernel5"]},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "best of interleaved rounds, order rotating (median also recorded)", "check_uint8_max_abs": U8_MAX_ABS,
                   "check_float32_tol": F32_TOL},
        "notes": notes + [op.note for op in OPS if op.note and op.name in names],
        "warnings": warnings,
        "results": results,
        "summary": summary,
    }
    report.write_results(args.json, payload)
    return 0


if __name__ == "__main__":
    sys.exit(main())
