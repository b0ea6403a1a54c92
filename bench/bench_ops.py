#!/usr/bin/env python
"""Benchmark foveal.nn.functional ops against PyTorch (CPU) and ONNX Runtime.

Workloads (float32; foveal runs NHWC with Keras kernels kh x kw x Cin x Cout):

  conv2d forward (no bias in any library)
    conv3x3_n8_56x56_c64-64      N8  56x56   C64 -> 64   3x3 stride 1 pad 1
    conv7x7s2_n8_224x224_c3-64   N8  224x224 C3  -> 64   7x7 stride 2 pad 3
    conv3x3_n64_32x32_c32-64     N64 32x32   C32 -> 64   3x3 stride 1 pad 1
    conv1x1_n8_28x28_c256-128    N8  28x28   C256 -> 128 1x1
    dwconv3x3_n8_56x56_c128      N8  56x56   C128 depthwise 3x3 pad 1 (multiplier 1)
  pooling (valid)
    maxpool2x2_n32_56x56_c64     max 2x2 stride 2
    avgpool2x2_n32_56x56_c64     avg 2x2 stride 2

Every library uses the same number of threads (2 by default): foveal.set_num_threads,
torch.set_num_threads, ONNX Runtime intra_op_num_threads (inter_op 1), OMP_NUM_THREADS.
PyTorch gets channels_last tensors and runs under torch.inference_mode(); ONNX Runtime
runs a one-node model (Conv / MaxPool / AveragePool) on NCHW input. foveal is timed
through its public Python functions (argument handling included).

Metrics: median time per call, GFLOP/s for convolutions (2*N*OH*OW*Cout*KH*KW*Cin/groups),
GB/s for pooling (bytes read + written), and peer_time / foveal_time per peer
(> 1 means foveal is faster). Each peer's output is checked against foveal's (1e-3).

    python bench/bench_ops.py [--quick] [--only conv3x3] [--json PATH] [--isa avx2]

Every peer is optional; without foveal the peers still run and foveal's columns are n/a.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from . import _common as C
else:  # run as a script, or loaded by path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import _common as C  # noqa: E402  (sets OMP_NUM_THREADS before NumPy loads)

import contextlib  # noqa: E402
import math  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable, Dict, List, Optional, Tuple  # noqa: E402

import numpy as np  # noqa: E402

SEED = 1234
TOL = 1e-3
PEERS = ("torch", "onnxruntime")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "torch": "torch", "onnxruntime": "ort"}


# --------------------------------------------------------------------------- workloads

@dataclass(frozen=True)
class Workload:
    name: str
    kind: str            # "conv", "depthwise", "maxpool", "avgpool"
    n: int
    h: int
    w: int
    c: int
    cout: int = 0        # conv: output channels (depthwise: c * multiplier)
    k: int = 1           # kernel / pool size (square)
    stride: int = 1
    pad: int = 0         # symmetric padding (conv); pooling is always valid

    @property
    def is_conv(self) -> bool:
        return self.kind in ("conv", "depthwise")

    @property
    def groups(self) -> int:
        return self.c if self.kind == "depthwise" else 1

    @property
    def out_hw(self) -> Tuple[int, int]:
        oh = (self.h + 2 * self.pad - self.k) // self.stride + 1
        ow = (self.w + 2 * self.pad - self.k) // self.stride + 1
        return oh, ow

    @property
    def out_c(self) -> int:
        return self.cout if self.is_conv else self.c

    @property
    def flops(self) -> int:
        oh, ow = self.out_hw
        return 2 * self.n * oh * ow * self.out_c * self.k * self.k * (self.c // self.groups)

    @property
    def bytes_moved(self) -> int:
        oh, ow = self.out_hw
        return 4 * (self.n * self.h * self.w * self.c + self.n * oh * ow * self.out_c)

    @property
    def unit(self) -> str:
        return "GFLOP/s" if self.is_conv else "GB/s"

    def rate(self, seconds: Optional[float]) -> Optional[float]:
        if not seconds:
            return None
        return (self.flops if self.is_conv else self.bytes_moved) / seconds / 1e9

    def describe(self) -> str:
        oh, ow = self.out_hw
        if self.kind == "conv":
            op = f"conv {self.k}x{self.k} s{self.stride} p{self.pad} C{self.c}->{self.cout}"
        elif self.kind == "depthwise":
            op = (f"depthwise {self.k}x{self.k} s{self.stride} p{self.pad} C{self.c} "
                  f"x{self.cout // self.c}")
        else:
            op = f"{self.kind[:3]} pool {self.k}x{self.k} s{self.stride} valid C{self.c}"
        return f"{op}, N{self.n} {self.h}x{self.w} -> {oh}x{ow}"

    def meta(self) -> Dict[str, Any]:
        oh, ow = self.out_hw
        d = {"kind": self.kind, "description": self.describe(),
             "input_nhwc": [self.n, self.h, self.w, self.c],
             "output_nhwc": [self.n, oh, ow, self.out_c]}
        if self.is_conv:
            d.update(kernel_hwio=list(self.kernel_shape()), strides=self.stride,
                     padding=self.pad, groups=self.groups, flops=self.flops)
        else:
            d.update(pool_size=self.k, strides=self.stride, padding="valid",
                     bytes=self.bytes_moved)
        return d

    def kernel_shape(self) -> Tuple[int, int, int, int]:
        if self.kind == "depthwise":
            return (self.k, self.k, self.c, self.cout // self.c)
        return (self.k, self.k, self.c // self.groups, self.cout)


WORKLOADS: List[Workload] = [
    Workload("conv3x3_n8_56x56_c64-64", "conv", 8, 56, 56, 64, cout=64, k=3, stride=1, pad=1),
    Workload("conv7x7s2_n8_224x224_c3-64", "conv", 8, 224, 224, 3, cout=64, k=7, stride=2, pad=3),
    Workload("conv3x3_n64_32x32_c32-64", "conv", 64, 32, 32, 32, cout=64, k=3, stride=1, pad=1),
    Workload("conv1x1_n8_28x28_c256-128", "conv", 8, 28, 28, 256, cout=128, k=1, stride=1, pad=0),
    Workload("dwconv3x3_n8_56x56_c128", "depthwise", 8, 56, 56, 128, cout=128, k=3, stride=1,
             pad=1),
    Workload("maxpool2x2_n32_56x56_c64", "maxpool", 32, 56, 56, 64, k=2, stride=2),
    Workload("avgpool2x2_n32_56x56_c64", "avgpool", 32, 56, 56, 64, k=2, stride=2),
]


def make_inputs(wl: Workload, index: int) -> Dict[str, np.ndarray]:
    """NHWC input and Keras-layout kernel, seeded, scaled so outputs are O(1)."""
    rng = np.random.default_rng(SEED + index)
    x = rng.standard_normal((wl.n, wl.h, wl.w, wl.c), dtype=np.float32)
    out = {"x": x}
    if wl.is_conv:
        ks = wl.kernel_shape()
        fan_in = ks[0] * ks[1] * (wl.c // wl.groups)
        out["kernel"] = (rng.standard_normal(ks, dtype=np.float32)
                         * np.float32(1.0 / math.sqrt(fan_in)))
    return out


def torch_weight(wl: Workload, kernel: np.ndarray) -> np.ndarray:
    """Keras kernel -> PyTorch/ONNX OIHW weight (depthwise: (C*m) x 1 x kh x kw)."""
    if wl.kind == "depthwise":
        kh, kw, c, m = kernel.shape
        return np.ascontiguousarray(kernel.reshape(kh, kw, c * m).transpose(2, 0, 1)[:, None])
    return np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))


# --------------------------------------------------------------------------- runners
# Each runner returns (fn, to_nhwc, context): fn() is the timed call, to_nhwc(result)
# turns its output into a NumPy NHWC array for checking, context() makes the context
# manager entered around warm-up and timing (torch.inference_mode for torch).

Runner = Tuple[Callable[[], Any], Callable[[Any], np.ndarray], Any]


def foveal_runner(foveal, wl: Workload, data: Dict[str, np.ndarray]) -> Runner:
    F = foveal.nn.functional
    x = data["x"]
    if wl.kind == "conv":
        k = data["kernel"]
        pad = wl.pad if wl.pad else "valid"

        def fn():
            return F.conv2d(x, k, None, strides=wl.stride, padding=pad)
    elif wl.kind == "depthwise":
        k = data["kernel"]
        pad = wl.pad if wl.pad else "valid"

        def fn():
            return F.depthwise_conv2d(x, k, None, strides=wl.stride, padding=pad)
    elif wl.kind == "maxpool":
        def fn():
            return F.max_pool2d(x, pool_size=wl.k, strides=wl.stride, padding="valid")
    else:
        def fn():
            return F.avg_pool2d(x, pool_size=wl.k, strides=wl.stride, padding="valid")
    return fn, np.asarray, contextlib.nullcontext


def torch_runner(torch, wl: Workload, data: Dict[str, np.ndarray]) -> Runner:
    TF = torch.nn.functional
    cl = torch.channels_last
    x_nchw = np.ascontiguousarray(data["x"].transpose(0, 3, 1, 2))
    xt = torch.from_numpy(x_nchw).contiguous(memory_format=cl)
    if wl.is_conv:
        wt = torch.from_numpy(torch_weight(wl, data["kernel"])).contiguous(memory_format=cl)
        stride, pad, groups = wl.stride, wl.pad, wl.groups

        def fn():
            return TF.conv2d(xt, wt, None, stride, pad, 1, groups)
    elif wl.kind == "maxpool":
        def fn():
            return TF.max_pool2d(xt, wl.k, wl.stride)
    else:
        def fn():
            return TF.avg_pool2d(xt, wl.k, wl.stride)

    def to_nhwc(y):
        return y.detach().permute(0, 2, 3, 1).contiguous().numpy()

    return fn, to_nhwc, torch.inference_mode


def onnx_model(onnx, wl: Workload, data: Dict[str, np.ndarray]):
    from onnx import TensorProto, helper, numpy_helper

    oh, ow = wl.out_hw
    x_info = helper.make_tensor_value_info("X", TensorProto.FLOAT, [wl.n, wl.c, wl.h, wl.w])
    y_info = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [wl.n, wl.out_c, oh, ow])
    inits = []
    if wl.is_conv:
        w = torch_weight(wl, data["kernel"])
        inits.append(numpy_helper.from_array(w, name="W"))
        node = helper.make_node("Conv", ["X", "W"], ["Y"], kernel_shape=[wl.k, wl.k],
                                strides=[wl.stride, wl.stride], pads=[wl.pad] * 4,
                                dilations=[1, 1], group=wl.groups)
    elif wl.kind == "maxpool":
        node = helper.make_node("MaxPool", ["X"], ["Y"], kernel_shape=[wl.k, wl.k],
                                strides=[wl.stride, wl.stride], pads=[0, 0, 0, 0])
    else:
        node = helper.make_node("AveragePool", ["X"], ["Y"], kernel_shape=[wl.k, wl.k],
                                strides=[wl.stride, wl.stride], pads=[0, 0, 0, 0],
                                count_include_pad=0)
    graph = helper.make_graph([node], wl.name, [x_info], [y_info], initializer=inits)
    model = helper.make_model(graph, producer_name="foveal-bench",
                              opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8  # understood by every onnxruntime that supports opset 17
    onnx.checker.check_model(model)
    return model


def ort_runner(ort, onnx, wl: Workload, data: Dict[str, np.ndarray], threads: int) -> Runner:
    model = onnx_model(onnx, wl, data)
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    # No spin-waiting after a run: on 2 cores it would slow whichever library runs next.
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), sess_options=so,
                                providers=["CPUExecutionProvider"])
    feed = {"X": np.ascontiguousarray(data["x"].transpose(0, 3, 1, 2))}

    def fn():
        return sess.run(None, feed)[0]

    def to_nhwc(y):
        return np.asarray(y).transpose(0, 2, 3, 1)

    return fn, to_nhwc, contextlib.nullcontext


# --------------------------------------------------------------------------- main

def _setup_libs(threads: int, notes: List[str]):
    foveal, finfo = C.load_foveal(notes, threads)
    torch = C.import_optional("torch", notes)
    if torch is not None:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    ort = C.import_optional("onnxruntime", notes)
    onnx = C.import_optional("onnx", notes) if ort is not None else None
    if ort is not None and onnx is None:
        notes.append("onnxruntime is installed but onnx (needed to build the models) is not; "
                     "onnxruntime columns are skipped")
        ort = None
    return foveal, finfo, torch, ort, onnx


def run_workload(wl: Workload, index: int, libs: Dict[str, Any], cfg: C.TimingConfig,
                 threads: int) -> Dict[str, Any]:
    foveal, torch, ort, onnx = libs["foveal"], libs["torch"], libs["onnxruntime"], libs["onnx"]
    data = make_inputs(wl, index)
    runners: Dict[str, Runner] = {}
    errors: Dict[str, str] = {}
    builders = {
        "foveal": (foveal, lambda: foveal_runner(foveal, wl, data)),
        "torch": (torch, lambda: torch_runner(torch, wl, data)),
        "onnxruntime": (ort, lambda: ort_runner(ort, onnx, wl, data, threads)),
    }
    for lib, (mod, build) in builders.items():
        if mod is None:
            continue
        try:
            runners[lib] = build()
        except Exception as exc:
            errors[lib] = f"setup failed: {type(exc).__name__}: {exc}"

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
    expected_shape = (wl.n, oh, ow, wl.out_c)
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
                chk = C.check_close(outputs[ref_lib], outputs[lib], TOL)
                chk["reference"] = ref_lib
                checks[lib] = chk
    del outputs

    timings = C.measure_each({lib: (fn, ctx) for lib, (fn, _, ctx) in runners.items()}, cfg, errors)

    isa = C.foveal_isa(foveal)
    res: Dict[str, Any] = {"name": wl.name, **wl.meta(), "unit": wl.unit,
                           "foveal_isa": isa, "libs": {}, "ratios": {},
                           "check_reference": ref_lib, "checks": checks,
                           "errors": errors}
    for lib in LIBS:
        t = timings.get(lib)
        if t is None:
            continue
        res["libs"][lib] = {**t.to_dict(), "rate": wl.rate(t.median_s), "rate_unit": wl.unit}
    if "foveal" in timings:
        for lib in PEERS:
            if lib in timings:
                res["ratios"][lib] = timings[lib].median_s / timings["foveal"].median_s
    return res


def _row(res: Dict[str, Any], present: List[str]) -> List[str]:
    row = [res["name"], res["unit"]]
    for lib in present:
        r = res["libs"].get(lib)
        row += [C.fmt_ms(r["median_s"]) if r else "n/a",
                C.fmt_num(r["rate"], 1) if r else "n/a"]
    for lib in present:
        if lib != "foveal":
            row.append(C.fmt_ratio(res["ratios"].get(lib)))
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
    args, names, argv, rc = C.start(__file__, __doc__, {w.name: w.describe() for w in WORKLOADS}, argv)
    if rc is not None:
        return rc
    threads = args.threads

    notes: List[str] = []
    foveal, finfo, torch, ort, onnx = _setup_libs(threads, notes)
    libs = {"foveal": foveal, "torch": torch, "onnxruntime": ort, "onnx": onnx}
    cfg = C.TimingConfig.from_args(args.quick)
    sysinfo = C.system_info(threads)

    title = (f"foveal bench_ops: {threads} threads per library, median of repeats"
             f"{' (--quick)' if args.quick else ''}")
    vers = C.print_header(title, sysinfo, {"foveal": foveal, "torch": torch, "onnxruntime": ort},
                          finfo if foveal is not None else None)
    if torch is not None:
        print(f"torch: threads {torch.get_num_threads()}, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    for n in notes:
        print("note: " + n)
    print()

    results = []
    monitor = C.CpuMonitor()
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
    C.print_table(headers, [_row(r, present) for r in results])

    conv_torch = [r["ratios"].get("torch") for r in results if r["kind"] in ("conv", "depthwise")]
    conv_ort = [r["ratios"].get("onnxruntime") for r in results
                if r["kind"] in ("conv", "depthwise")]
    pool_torch = [r["ratios"].get("torch") for r in results if r["kind"].endswith("pool")]
    summary = {
        "geomean_conv_ratio_vs_torch": C.geomean(conv_torch),
        "geomean_conv_ratio_vs_onnxruntime": C.geomean(conv_ort),
        "geomean_pool_ratio_vs_torch": C.geomean(pool_torch),
        "conv_workloads_in_geomean_vs_torch": sum(1 for v in conv_torch if v),
    }
    print()
    g = summary["geomean_conv_ratio_vs_torch"]
    print(f"geomean conv ratio torch/foveal: {C.fmt_ratio(g)} "
          f"over {summary['conv_workloads_in_geomean_vs_torch']} conv workloads"
          + ("" if g is not None else " (needs foveal and torch)"))
    if summary["geomean_conv_ratio_vs_onnxruntime"] is not None:
        print(f"geomean conv ratio ort/foveal:   "
              f"{C.fmt_ratio(summary['geomean_conv_ratio_vs_onnxruntime'])}")
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
    system = C.end_of_run(warnings, ((r["name"], r["libs"]) for r in results),
                          SHORT, monitor, sysinfo, threads)

    payload = {
        "benchmark": "bench_ops",
        "system": system,
        "versions": vers,
        "foveal_build_info": finfo,
        "foveal_isa_requested": args.isa or os.environ.get("FOVEAL_ISA"),
        "quick": args.quick,
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "median", "check_tolerance": TOL},
        "notes": notes,
        "warnings": warnings,
        "results": results,
        "summary": summary,
    }
    path = C.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
