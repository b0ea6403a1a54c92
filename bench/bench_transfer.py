#!/usr/bin/env python
"""Benchmark feature extraction from a folder of JPEGs: foveal.transfer.OnnxBackbone against raw
onnxruntime on images decoded and preprocessed beforehand.

  foveal   OnnxBackbone(model, batch_size=32, num_threads=T).extract(folder): lists the folder,
           decodes the JPEGs (Pillow, on a thread pool), resizes them to 224 x 224 (bilinear),
           normalizes them (torchvision's mean/std) and runs the model, decoding and
           preprocessing batch i + 1 while the model runs batch i. The default engine ("auto")
           runs the model on foveal's own kernels where it can (foveal.transfer._native: the
           ONNX graph imported as foveal layers, checked against onnxruntime on a probe image)
  fov-ort  the same with engine="onnxruntime": the model on onnxruntime, with the overlap
  ort      onnxruntime.InferenceSession(model, intra_op_num_threads=T).run on the same images,
           already decoded, resized, normalized and batched as NCHW float32 arrays (the time of
           onnxruntime's model alone)

All run the same ONNX model and fetch the same feature tensor (the classifier's input, which
foveal finds itself): a ResNet-18 (torch's layout, random
seeded weights) exported from torch when torch is installed, else a small foveal CNN exported
with ``export_onnx``. The folder holds 256 JPEGs (128 with --quick) of 200 to 260 pixels a side,
generated deterministically once into a cache folder.

A timing is the best of interleaved repeats, the order rotating (bench/timing.py); images/s = images / best;
ratio = ort time / foveal time (1.0: the decoding and preprocessing cost nothing). Also shown:
decoding and preprocessing alone (foveal's iterator without the model), to tell how much of it
the overlap hides. Before timing, foveal's features are checked against ort's on the same images
(within 1e-3).

The issue's bar, printed as PASS/FAIL: foveal >= 0.9x ort.

    python bench/bench_transfer.py [--quick] [--json PATH] [--threads 2]
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from typing import Any, Dict, List, Optional, Tuple

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.checks import check_close  # noqa: E402
from bench.synthetic import cached_folder  # noqa: E402

import numpy as np  # noqa: E402

SEED = 4321
IMAGES, QUICK_IMAGES = 256, 128
BATCH = 32
SIZE = (224, 224)
CHECK_TOL = 1e-3
BAR = 0.9          # foveal images/s over ort images/s, at least
CACHE_VERSION = 1
SHORT = {"foveal": "fov", "foveal_ort": "fov-ort", "ort": "ort"}
WORKLOADS = {"extract": f"features of a folder of JPEGs, batch {BATCH}, 224 x 224"}


# --------------------------------------------------------------------------- data and model

def jpeg_folder(n: int) -> str:
    """``n`` seeded JPEGs in two class folders under a cache folder (made once)."""
    from PIL import Image

    root = os.path.join(tempfile.gettempdir(), "foveal-bench-transfer",
                        f"v{CACHE_VERSION}-{n}-seed{SEED}")

    def fill(folder: str) -> None:
        rng = np.random.default_rng(SEED)
        for i in range(n):
            h, w = (int(v) for v in rng.integers(200, 261, 2))
            rows, cols = np.mgrid[0:h, 0:w]
            yy, xx = rows / max(h, w), cols / max(h, w)
            img = np.zeros((h, w, 3))
            for c in range(3):   # smooth colour fields, a few blobs, sensor-like noise
                img[..., c] = 128 + 100 * np.sin(rng.uniform(2, 9) * xx + rng.uniform(2, 9) * yy
                                                  + rng.uniform(0, 6))
            for _ in range(4):
                cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(10, 60)
                img[(rows - cy) ** 2 + (cols - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
            img = np.clip(img + rng.normal(0, 8, img.shape), 0, 255).astype(np.uint8)
            sub = os.path.join(folder, "ab"[i % 2])
            os.makedirs(sub, exist_ok=True)
            Image.fromarray(img).save(os.path.join(sub, f"img{i:04d}.jpg"), quality=90)

    cached_folder(root, ".complete", fill)
    return root


def export_model(foveal: Any, torch: Any, folder: str) -> Tuple[str, str]:
    """(path, description) of the benchmark's ONNX model, written into ``folder``."""
    path = os.path.join(folder, "backbone.onnx")
    if torch is not None:
        sys.path.insert(0, os.path.join(libraries.REPO_ROOT, "tests"))
        from fixtures import make_transfer_fixtures as mtf   # the tests' ResNet-18 builder, full width

        net = mtf.resnet18_like(torch, widths=(64, 128, 256, 512), num_classes=1000, seed=SEED)
        foveal.transfer.export_torch(net, path, SIZE)
        return path, "ResNet-18 (torch layout, seeded random weights), exported from torch"
    nn = foveal.nn
    foveal.utils.set_random_seed(SEED)
    model = nn.Sequential([nn.Input(SIZE + (3,)),
                           nn.Conv2D(32, 3, strides=2, activation="relu"),
                           nn.Conv2D(64, 3, strides=2, activation="relu"),
                           nn.Conv2D(128, 3, strides=2, activation="relu"),
                           nn.Conv2D(256, 3, strides=2, activation="relu"),
                           nn.GlobalAveragePooling2D(), nn.Dense(1000)])
    model.export_onnx(path)
    return path, "foveal CNN (4 strided 3x3 convolutions, 32..256 filters), export_onnx"


def decoded_batches(foveal: Any, backbone: Any, root: str) -> List[np.ndarray]:
    """The folder's images decoded, resized and normalized, batched in the model's layout
    (for the raw onnxruntime side), in the folder's file order."""
    it = backbone.directory_iterator(root)
    return [backbone.prepare(it[i]) for i in range(len(it))]


def raw_session(ort: Any, onnx: Any, path: str, feature: str, threads: int) -> Any:
    """A plain onnxruntime session of the model with the feature tensor as an extra output."""
    model = onnx.load(path)
    if feature not in [o.name for o in model.graph.output]:
        model.graph.output.append(onnx.helper.make_tensor_value_info(
            feature, onnx.TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    return ort.InferenceSession(model.SerializeToString(), options,
                                providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------- main

def criteria(res: Optional[Dict[str, Any]], check: Dict[str, Any]) -> List[Dict[str, Any]]:
    label = f"extraction >= {BAR:.1f}x raw onnxruntime"
    ratio = res["ratio"] if res else None
    if ratio is None:
        out = [{"criterion": label, "status": "N/A", "value": None,
                "detail": "needs foveal, onnx and onnxruntime"}]
    else:
        ips = res["images_per_s"]
        out = [{"criterion": label, "status": "PASS" if ratio >= BAR else "FAIL", "value": ratio,
                "detail": f"{ratio:.2f}x (foveal {ips['foveal']:.1f} images/s, ort "
                          f"{ips['ort']:.1f} images/s)"}]
    out.append({"criterion": "same features", "status": "PASS" if check.get("ok") else "FAIL",
                "value": check.get("max_abs_err"),
                "detail": (f"max abs difference {check['max_abs_err']:.2g}"
                           if check.get("max_abs_err") is not None else check.get("reason", ""))})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = cli.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    n_images = QUICK_IMAGES if args.quick else IMAGES
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, threads)
    onnx = libraries.import_optional("onnx", notes)
    ort = libraries.import_optional("onnxruntime", notes)
    torch = libraries.load_torch(notes, threads, interop=False)
    if foveal is None or onnx is None or ort is None:
        for n in notes:
            print("note: " + n)
        print("foveal, onnx and onnxruntime are all needed: nothing to run")
        return 1
    # each call takes seconds: fewer, longer repeats than the kernel benchmarks
    cfg = (timing.TimingConfig(min_time=0.0, min_repeats=3, max_repeats=3, warmup=1) if args.quick
           else timing.TimingConfig(min_time=0.0, min_repeats=5, max_repeats=5, warmup=1))
    sysinfo = environment.system_info(threads)

    root = jpeg_folder(n_images)
    work = tempfile.mkdtemp(prefix="foveal-bench-transfer-")
    path, model_desc = export_model(foveal, torch, work)
    backbone = foveal.transfer.OnnxBackbone(path, batch_size=BATCH, num_threads=threads)
    backbone_ort = foveal.transfer.OnnxBackbone(path, batch_size=BATCH, num_threads=threads,
                                                engine="onnxruntime")
    session = raw_session(ort, onnx, path, backbone.output, threads)
    batches = decoded_batches(foveal, backbone, root)
    feed = backbone.input_name

    title = (f"foveal bench_transfer: {n_images} JPEGs (200..260 px) -> {SIZE[0]}x{SIZE[1]}, batch "
             f"{BATCH}, {threads} onnxruntime threads each, best of interleaved repeats (order rotating)"
             f"{' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo,
                                    {"foveal": foveal, "onnxruntime": ort, "onnx": onnx,
                                     "torch": torch}, None)
    print(f"model: {model_desc}; features {backbone.output!r} (D = {backbone.feature_dim}); "
          f"foveal's engine: {backbone.engine}")
    print(f"images: {root}")
    for n in notes:
        print("note: " + n)
    print()

    def run_foveal() -> np.ndarray:
        return backbone.extract(root, verbose=0)

    def run_foveal_ort() -> np.ndarray:
        return backbone_ort.extract(root, verbose=0)

    def run_ort() -> np.ndarray:
        return np.concatenate([session.run([backbone.output], {feed: b})[0] for b in batches])

    def run_decode() -> None:
        it = backbone.directory_iterator(root)
        for i in range(len(it)):
            backbone.prepare(it[i])

    check = check_close(run_ort(), run_foveal(), CHECK_TOL)
    monitor = environment.CpuMonitor()
    print(f"  running extract  {WORKLOADS['extract']}", flush=True)
    fns: Dict[str, timing.Call] = {"foveal": (run_foveal, None), "foveal_ort": (run_foveal_ort, None),
                                   "ort": (run_ort, None)}
    timings = timing.measure_interleaved(fns, cfg, rounds=cfg.min_repeats)
    decode = timing.measure(run_decode, timing.TimingConfig(min_time=0.0, min_repeats=3,
                                                            max_repeats=3, warmup=1))
    ips = {lib: n_images / t.min_s for lib, t in timings.items()}
    res = {"name": "extract", "description": WORKLOADS["extract"], "images": n_images,
           "libs": {lib: t.to_dict() for lib, t in timings.items()}, "images_per_s": ips,
           "ratio": timings["ort"].min_s / timings["foveal"].min_s,
           "ratio_onnxruntime_engine": timings["ort"].min_s / timings["foveal_ort"].min_s,
           "engine": backbone.engine,
           "decode_only": {**decode.to_dict(), "images_per_s": n_images / decode.min_s}}
    print()
    headers = ["workload", "fov img/s", "fov-ort img/s", "ort img/s", "fov/ort", "fov-ort/ort",
               "decode-only img/s", "ort+decode img/s", "check"]
    serial = 1.0 / (timings["ort"].min_s + decode.min_s) * n_images
    report.print_table(headers, [["extract", report.fmt_num(ips["foveal"]),
                                  report.fmt_num(ips["foveal_ort"]),
                                  report.fmt_num(ips["ort"]), report.fmt_ratio(res["ratio"]),
                                  report.fmt_ratio(res["ratio_onnxruntime_engine"]),
                                  report.fmt_num(n_images / decode.min_s),
                                  report.fmt_num(serial), "ok" if check["ok"] else "MISMATCH"]],
                       align_left=(0, len(headers) - 1))
    print(f"fov/ort = ort time / foveal time (foveal's engine: {backbone.engine}); fov-ort/ort: "
          "foveal on onnxruntime (1.0: decoding and preprocessing fully hidden); ort+decode = "
          "the two done one after the other (no overlap)")
    crit = criteria(res, check)
    report.print_criteria(crit, 38)

    warnings: List[str] = []
    if not check["ok"]:
        warnings.append(f"foveal's features differ from onnxruntime's: {check}")
    system = environment.end_of_run(warnings, [("extract", res["libs"])], SHORT, monitor, sysinfo,
                                    threads)
    payload = {
        **report.head("bench_transfer", system, vers, finfo, with_isa=False),
        "quick": args.quick,
        "model": {"description": model_desc, "feature_tensor": backbone.output,
                  "feature_dim": backbone.feature_dim, "input": [BATCH, 3, *SIZE],
                  "layout": backbone.layout},
        "data": {"folder": root, "images": n_images, "format": "JPEG q90, 200..260 px a side"},
        "timing": {"repeats": cfg.min_repeats, "statistic": "best of interleaved rounds, order rotating (median also recorded)",
                   "check_tolerance": CHECK_TOL},
        "check": check,
        "notes": notes,
        "warnings": warnings,
        "results": [res],
        "summary": {"ratio_vs_ort": res["ratio"], "criteria": crit,
                    "bar_holds": crit[0]["status"] == "PASS"},
    }
    report.write_results(args.json, payload)
    with contextlib.suppress(OSError):
        for f in os.listdir(work):
            os.unlink(os.path.join(work, f))
        os.rmdir(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
