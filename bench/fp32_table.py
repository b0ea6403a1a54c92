#!/usr/bin/env python
"""Issue 15's table in one side-by-side run: every row measured by the script that owns it, then
each ratio set against its bar. (Not named bench_*.py: `foveal bench` runs those scripts itself.)

Runs, one after the other, each in its own process (so each sets its threads before importing
the libraries): bench_ops.py (convolutions forward and forward+backward, pooling),
bench_image.py (resize, rotate and the other image ops against OpenCV), bench_data.py (the
augmentation epoch against albumentations), bench_transfer.py (ResNet-18 extraction from JPEGs
against onnxruntime alone), bench_train.py (the course CNN) and bench_recipe.py (Keras's simple
convnet on Fashion-MNIST). Each writes its JSON into --out; this script reads them back and
prints one table: the row, foveal's rate, the ratio to the peer (peer time / foveal time, best of
interleaved rounds as every script times), the bar and PASS/FAIL. With ``--peak-gflops`` (the
machine's float32 FMA peak on the threads used) the convolution rows and the recipe also show
their fraction of it; the arithmetic is the direct convolution's (a Winograd layer does less).

    python -m bench.fp32_table [--quick] [--out DIR] [--peak-gflops 70] [--skip transfer]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from typing import Any, Dict, List, Optional, Tuple

if not __package__:  # run as a file: import this folder as the package `bench`
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import report  # noqa: E402

SCRIPTS = ("ops", "image", "data", "transfer", "train", "recipe")
# (row, script, workload, peer, bar): the ratio of workload against peer must reach bar
CONV = ("conv3x3_n8_56x56_c64-64", "conv3x3_n64_32x32_c32-64", "conv1x1_n8_28x28_c256-128",
        "conv7x7s2_n8_224x224_c3-64", "dwconv3x3_n8_56x56_c128")
ROWS: List[Tuple[str, str, str, str, float]] = [
    ("conv fwd 3x3 C64->64 N8 56x56", "ops", CONV[0], "torch", 1.6),
    ("conv fwd 3x3 C32->64 N64 32x32", "ops", CONV[1], "torch", 1.6),
    ("conv fwd 1x1 C256->128 N8 28x28", "ops", CONV[2], "torch", 1.1),
    ("conv fwd 7x7/2 C3->64 N8 224x224", "ops", CONV[3], "torch", 1.1),
    ("depthwise 3x3 C128 N8 56x56 fwd", "ops", CONV[4], "torch", 1.1),
] + [(f"fwd+bwd {name}", "ops", name + "_fwdbwd", "torch", 1.2) for name in CONV] + [
    ("max pool 2x2", "ops", "maxpool2x2_n32_56x56_c64", "torch", 1.5),
    ("avg pool 2x2", "ops", "avgpool2x2_n32_56x56_c64", "torch", 1.5),
    ("resize 1080p -> 224 bilinear u8", "image", "resize224_bilinear_u8", "cv2", 1.0),
    ("rotate 30 deg bilinear u8 1080p", "image", "rotate30_bilinear_u8", "cv2", 1.0),
] + [(f"image op {name}", "image", name, "cv2", 1.0) for name in (
    "filter2d_3x3_u8", "filter2d_3x3_f32", "filter2d_5x5_f32", "gaussian_blur_5x5_u8", "blend_u8",
    "to_gray_u8", "flip_horizontal_u8")] + [
    ("augmentation epoch 256 x 224^2", "data", "augment", "albumentations", 2.0),
    ("ResNet-18 extraction from JPEGs", "transfer", "extract", "ort", 1.0),
    ("course CNN train", "train", "train", "torch", 2.0),
    ("course CNN predict", "train", "predict", "torch", 2.0),
    ("simple convnet recipe, Fashion-MNIST", "recipe", "epoch", "torch", 2.0),
]
OTHER_IMAGE_GEOMEAN_BAR = 1.5
RECIPE_PEAK_BAR = 0.5


def run_scripts(out: str, quick: bool, skip: List[str]) -> Dict[str, Optional[Dict[str, Any]]]:
    results: Dict[str, Optional[Dict[str, Any]]] = {}
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    for name in SCRIPTS:
        if name in skip:
            results[name] = None
            continue
        path = os.path.join(out, f"{name}.json")
        cmd = [sys.executable, "-m", f"bench.bench_{name}", "--json", path] + (["--quick"] if quick else [])
        print(f"== bench_{name}.py", flush=True)
        rc = subprocess.run(cmd, cwd=root).returncode
        results[name] = json.load(open(path)) if rc == 0 and os.path.exists(path) else None
        if results[name] is None:
            print(f"bench_{name}.py failed (exit status {rc}); its rows are n/a", flush=True)
    return results


def find(payload: Optional[Dict[str, Any]], workload: str) -> Optional[Dict[str, Any]]:
    for r in (payload or {}).get("results", []):
        if r.get("name") == workload:
            return r
    return None


def ratio_of(res: Optional[Dict[str, Any]], peer: str) -> Optional[float]:
    if res is None:
        return None
    if peer == "ort" and "ratio" in res:      # bench_transfer: foveal images/s over ort's
        return res["ratio"]
    return res.get("ratios", {}).get(peer)


def gflops(res: Optional[Dict[str, Any]]) -> Optional[float]:
    """foveal's GFLOP/s where the workload counts its arithmetic (convolutions, the recipe)."""
    if res is None or "foveal" not in res.get("libs", {}):
        return None
    if "gflop_per_s" in res:
        return res["gflop_per_s"].get("foveal")
    flops = res.get("flops")
    if not flops or res.get("unit") == "GB/s":
        return None
    return flops / res["libs"]["foveal"]["min_s"] / 1e9   # forward+backward rows count all three


def main(argv: Optional[List[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="fp32_table.py", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="each script's --quick")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "fp32"), help="folder for the JSONs")
    ap.add_argument("--peak-gflops", type=float, default=None,
                    help="the machine's float32 FMA peak on the threads used, for the fractions")
    ap.add_argument("--skip", action="append", default=[], choices=SCRIPTS,
                    help="leave a script out (its rows are n/a)")
    ap.add_argument("--reuse", action="store_true",
                    help="read the JSONs already in --out instead of running the scripts")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.reuse:
        payloads = {n: (json.load(open(os.path.join(args.out, f"{n}.json")))
                        if os.path.exists(os.path.join(args.out, f"{n}.json")) else None)
                    for n in SCRIPTS}
    else:
        payloads = run_scripts(args.out, args.quick, args.skip)

    rows, out_rows = [], []
    for label, script, workload, peer, bar in ROWS:
        res = find(payloads.get(script), workload)
        ratio = ratio_of(res, peer)
        rate = gflops(res)
        peak = rate / args.peak_gflops if rate is not None and args.peak_gflops else None
        status = "n/a" if ratio is None else ("PASS" if ratio >= bar else "FAIL")
        rows.append([label, peer, report.fmt_ratio(ratio), f"{bar:.1f}x",
                     report.fmt_num(rate, 1), f"{peak:.0%}" if peak is not None else "-", status])
        out_rows.append({"row": label, "script": f"bench_{script}.py", "workload": workload,
                         "peer": peer, "ratio": ratio, "bar": bar, "foveal_gflop_per_s": rate,
                         "fraction_of_peak": peak, "status": status})
    others = [r["ratio"] for r in out_rows if r["row"].startswith("image op ")]
    geo = (math.exp(sum(math.log(v) for v in others) / len(others))
           if others and all(v for v in others) else None)
    rows.append(["image ops geomean (the seven above)", "cv2", report.fmt_ratio(geo),
                 f"{OTHER_IMAGE_GEOMEAN_BAR:.1f}x", "-", "-",
                 "n/a" if geo is None else ("PASS" if geo >= OTHER_IMAGE_GEOMEAN_BAR else "FAIL")])
    out_rows.append({"row": "image ops geomean", "peer": "cv2", "ratio": geo,
                     "bar": OTHER_IMAGE_GEOMEAN_BAR, "status": rows[-1][-1]})
    recipe = next(r for r in out_rows if r["workload"] == "epoch")
    if recipe["fraction_of_peak"] is not None:
        ok = recipe["fraction_of_peak"] >= RECIPE_PEAK_BAR
        rows.append(["recipe at half the FMA peak", "-", "-", f"{RECIPE_PEAK_BAR:.0%}", "-",
                     f"{recipe['fraction_of_peak']:.0%}", "PASS" if ok else "FAIL"])
    print()
    report.print_table(["row", "peer", "ratio", "bar", "fov GFLOP/s", "of peak", "status"], rows,
                       align_left=(0, 1, 6))
    print("ratio = peer time / foveal time (best of interleaved rounds, each script's own run); "
          "GFLOP/s of the direct convolution's arithmetic (forward and backward rows: forward, "
          "input and kernel gradients)")
    failed = [r[0] for r in rows if r[-1] == "FAIL"]
    print(f"\n{len(rows) - len(failed)} of {len(rows)} rows at their bar"
          + (f"; under it: {', '.join(failed)}" if failed else ""))
    report.write_json(os.path.join(args.out, "fp32.json"),
                      {"benchmark": "fp32_table", "peak_gflops": args.peak_gflops,
                       "quick": args.quick, "rows": out_rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
