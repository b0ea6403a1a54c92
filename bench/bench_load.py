#!/usr/bin/env python
"""Speed under load: short operations while other processes keep the cores busy.

foveal beside OpenCV (image ops) and PyTorch (nn ops, the course CNN's training step), all in
this process with the same thread count (2 by default), at 0, 2 and 4 extra busy processes.
Each busy process is a bounded spin loop that ends by itself (``--load-seconds`` after the
last level started, at the latest). Within a level, libraries are timed in interleaved rounds
(A, B, then B, A, ...: the order rotates); the table reports the median (the time a user
sees under load) and the best call of each, and ratio = peer median / foveal median.

  op                  foveal                          peer
  resize_1080p_224    resize(img, (224, 224))         cv2.resize(INTER_LINEAR)
  to_gray_1080p       to_gray(img)                    cv2.cvtColor(RGB2GRAY)
  flip_1080p          flip(img)                       cv2.flip(img, 1)
  rotate20_224        rotate(img224, 20)              cv2.warpAffine(INTER_LINEAR)
  gaussian5_1080p     gaussian_blur(img, 5)           cv2.GaussianBlur((5, 5), 0)
  maxpool2_n8_56_c64  F.max_pool2d(x, 2)              torch max_pool2d (channels_last)
  conv3x3_n8_56_64    F.conv2d(x, k, padding="same")  torch conv2d (channels_last)
  train_step_course   model.fit on one batch of 64    torch SGD step, same CNN

Bar (issue 13): at 2 and 4 extra busy processes, every image op's median within 1.5x of
OpenCV's or better (ratio >= 1/1.5), every nn op at least as fast as PyTorch (ratio >= 1).

    python bench/bench_load.py [--quick] [--only NAME] [--json PATH] [--threads N] [--list]
                               [--levels 0,2,4] [--rounds 11] [--calls 3] [--backend pool|openmp]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report  # noqa: E402
from bench.timing import Timing  # noqa: E402
from bench.workloads import train as course  # noqa: E402

import numpy as np  # noqa: E402

IMAGE_BAR = 1 / 1.5
NN_BAR = 1.0

SPIN = "import time\nend = time.time() + {seconds}\nwhile time.time() < end:\n    pass\n"


class BusyProcesses:
    """``count`` spin loops in other processes, each ending by itself after ``seconds``."""

    def __init__(self, count: int, seconds: float):
        self.procs = [subprocess.Popen([sys.executable, "-c", SPIN.format(seconds=seconds)])
                      for _ in range(count)]
        time.sleep(0.3 if count else 0.0)   # let them start spinning

    def close(self) -> None:
        for p in self.procs:
            p.kill()
        for p in self.procs:
            p.wait()


def workloads(fv, cv2, torch) -> Dict[str, Dict[str, Callable[[], Any]]]:
    """Each op: {library: call}. Libraries that are missing are left out."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (1080, 1920, 3), dtype=np.uint8)
    img224 = rng.integers(0, 256, (224, 224, 3), dtype=np.uint8)
    x = rng.standard_normal((8, 56, 56, 64), dtype=np.float32)
    k = (rng.standard_normal((3, 3, 64, 64), dtype=np.float32) * 0.05).astype(np.float32)
    fi, F = fv.image, fv.nn.functional
    ops: Dict[str, Dict[str, Callable[[], Any]]] = {
        "resize_1080p_224": {"foveal": lambda: fi.resize(img, (224, 224))},
        "to_gray_1080p": {"foveal": lambda: fi.to_gray(img)},
        "flip_1080p": {"foveal": lambda: fi.flip(img)},
        "rotate20_224": {"foveal": lambda: fi.rotate(img224, 20)},
        "gaussian5_1080p": {"foveal": lambda: fi.gaussian_blur(img, 5)},
        "maxpool2_n8_56_c64": {"foveal": lambda: F.max_pool2d(x, 2)},
        "conv3x3_n8_56_64": {"foveal": lambda: F.conv2d(x, k, padding="same")},
    }
    if cv2 is not None:
        m = cv2.getRotationMatrix2D((111.5, 111.5), 20, 1.0)
        ops["resize_1080p_224"]["cv2"] = lambda: cv2.resize(img, (224, 224), interpolation=cv2.INTER_LINEAR)
        ops["to_gray_1080p"]["cv2"] = lambda: cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
        ops["flip_1080p"]["cv2"] = lambda: cv2.flip(img, 1)
        ops["rotate20_224"]["cv2"] = lambda: cv2.warpAffine(img224, m, (224, 224), flags=cv2.INTER_LINEAR)
        ops["gaussian5_1080p"]["cv2"] = lambda: cv2.GaussianBlur(img, (5, 5), 0)
    if torch is not None:
        cl = torch.channels_last
        xt = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=cl)
        kt = torch.from_numpy(np.ascontiguousarray(k.transpose(3, 2, 0, 1)))
        tF = torch.nn.functional

        def t_pool():
            with torch.inference_mode():
                return tF.max_pool2d(xt, 2)

        def t_conv():
            with torch.inference_mode():
                return tF.conv2d(xt, kt, padding=1)
        ops["maxpool2_n8_56_c64"]["torch"] = t_pool
        ops["conv3x3_n8_56_64"]["torch"] = t_conv
    xb, yb, labels = course.make_data(1)
    weights = course.make_weights()
    fm = course.build_foveal(fv, xb, yb)
    fm["set_weights"](weights)
    ops["train_step_course"] = {"foveal": lambda: fm["step"](xb, yb)}
    if torch is not None:
        tm = course.build_torch(torch, xb, yb, labels)
        tm["set_weights"](weights)
        ops["train_step_course"]["torch"] = lambda: tm["step"](xb, yb)
    return ops


def time_level(ops: Dict[str, Dict[str, Callable[[], Any]]], rounds: int, calls: int
               ) -> Dict[str, Dict[str, Timing]]:
    """Interleaved rounds per op: each library makes ``calls`` timed calls per round, the
    library order rotating from round to round."""
    perf = time.perf_counter
    out: Dict[str, Dict[str, Timing]] = {}
    for name, fns in ops.items():
        labels = list(fns)
        for fn in fns.values():   # warm-up
            fn()
            fn()
        times: Dict[str, List[float]] = {lib: [] for lib in labels}
        for r in range(rounds):
            for lib in labels[r % len(labels):] + labels[:r % len(labels)]:
                for _ in range(calls):
                    t0 = perf()
                    fns[lib]()
                    times[lib].append(perf() - t0)
        out[name] = {lib: Timing.from_times(ts) for lib, ts in times.items()}
    return out


LISTING = {
    "resize_1080p_224": "resize 1080p -> 224 bilinear, uint8 (vs cv2.resize)",
    "to_gray_1080p": "to_gray 1080p uint8 (vs cv2.cvtColor)",
    "flip_1080p": "flip 1080p uint8 (vs cv2.flip)",
    "rotate20_224": "rotate 20 degrees, 224x224 uint8 (vs cv2.warpAffine)",
    "gaussian5_1080p": "gaussian_blur 5x5 1080p uint8 (vs cv2.GaussianBlur)",
    "maxpool2_n8_56_c64": "max_pool2d 2x2, N8 56x56 C64 float32 (vs torch)",
    "conv3x3_n8_56_64": "conv2d 3x3 same, N8 56x56 64->64 float32 (vs torch)",
    "train_step_course": "the course CNN, one SGD step on a batch of 64 (vs torch)",
}


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--levels", default="0,2,4", help="extra busy processes per level")
    extra.add_argument("--rounds", type=int, default=11)
    extra.add_argument("--calls", type=int, default=3, help="timed calls per library per round")
    extra.add_argument("--backend", choices=("pool", "openmp"), default=None,
                       help="foveal's thread backend (default: the library's default)")
    extra.add_argument("--load-seconds", type=float, default=600.0)
    opts, rest = extra.parse_known_args(argv)
    args, names, _, rc = cli.start(__file__, __doc__, LISTING, rest)
    if rc is not None:
        return rc
    rounds = 3 if args.quick else opts.rounds
    levels = [int(v) for v in opts.levels.split(",")]

    notes: List[str] = []
    fv, finfo = libraries.load_foveal(notes, threads=args.threads)
    if fv is None:
        print("\n".join(notes))
        return 2
    if opts.backend:
        fv._core.set_thread_backend(opts.backend)
    cv2, _ = libraries.load_cv2(notes, args.threads)
    torch = libraries.load_torch(notes, args.threads)
    sysinfo = environment.system_info(args.threads)
    environment.print_header("bench_load: short ops under load", sysinfo,
                             {"foveal": fv, "cv2": cv2, "torch": torch}, finfo)
    for note in notes:
        print("note: " + note)
    print(f"foveal thread backend: {fv._core.get_thread_backend()}; rounds {rounds} x {opts.calls} calls")
    ops = {k: v for k, v in workloads(fv, cv2, torch).items() if k in names}

    results: Dict[str, Any] = {}
    rows: List[List[Any]] = []
    criteria: List[Dict[str, Any]] = []
    for level in levels:
        busy = BusyProcesses(level, opts.load_seconds)
        try:
            timed = time_level(ops, rounds, opts.calls)
        finally:
            busy.close()
        results[str(level)] = {}
        for name, t in timed.items():
            peer = "cv2" if "cv2" in t else ("torch" if "torch" in t else None)
            ratio = (t[peer].median_s / t["foveal"].median_s) if peer else None
            results[str(level)][name] = {"timings": {k: v.to_dict() for k, v in t.items()},
                                         "peer": peer, "ratio_median": ratio}
            rows.append([level, name, report.fmt_ms(t["foveal"].median_s), report.fmt_ms(t["foveal"].min_s),
                         peer or "-", report.fmt_ms(t[peer].median_s) if peer else "-",
                         report.fmt_ms(t[peer].min_s) if peer else "-", report.fmt_ratio(ratio)])
            if level > 0 and ratio is not None:
                bar = IMAGE_BAR if peer == "cv2" else NN_BAR
                ok = ratio >= bar
                criteria.append({"status": "PASS" if ok else "FAIL", "pass": ok,
                                 "criterion": f"+{level} busy: {name} vs {peer} >= {bar:.2f}",
                                 "detail": f"{ratio:.2f}x"})
    report.print_table(["busy", "op", "foveal med", "foveal best", "peer", "peer med", "peer best",
                        "ratio (med)"], rows)
    report.print_criteria(criteria, 60)
    payload = {"benchmark": "bench_load", "system": sysinfo, "backend": fv._core.get_thread_backend(),
               "rounds": rounds, "calls": opts.calls, "levels": levels, "results": results,
               "criteria": criteria}
    report.write_results(args.json, payload)
    return 0 if all(c["pass"] for c in criteria) else 1


if __name__ == "__main__":
    sys.exit(main())
