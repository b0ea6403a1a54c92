"""GPU timings of the CUDA build (tools/gpu_check.sh runs it on a lent GPU): conv2d forward and
backward and max pooling on device-resident float32 NHWC data, against foveal's CPU kernels and,
where PyTorch with CUDA is installed, cuDNN (channels_last, TF32 off unless the row says tf32).
Pooling is also set against a device-to-device copy of the same bytes (the bandwidth bar).

    python bench/bench_cuda.py [--out results.json] [--quick]

Prints one line per measurement and writes JSON (median milliseconds of the timed repetitions).
"""
import argparse
import json
import statistics
import time

import numpy as np

import foveal
import foveal.nn.functional as F
from foveal import _cuda, _cuda_ops

CONVS = [  # (name, N, H, W, Cin, Cout, k, stride)
    ("resnet_3x3_56", 32, 56, 56, 64, 64, 3, 1),
    ("resnet_3x3_28", 32, 28, 28, 128, 128, 3, 1),
    ("pointwise_1x1_28", 32, 28, 28, 256, 512, 1, 1),
    ("stem_7x7_s2", 16, 224, 224, 3, 64, 7, 2),
]


def timed(fn, sync, reps, warmup=2):
    for _ in range(warmup):
        fn()
    sync()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--quick", action="store_true", help="fewer repetitions, no CPU timings")
    args = ap.parse_args()
    reps = 5 if args.quick else 20
    info = foveal.build_info()
    results = {"build": {k: v for k, v in info.items() if k.startswith("cuda") or k in ("version", "isa")},
               "rows": []}
    try:
        import torch
        has_torch = torch.cuda.is_available()
    except ImportError:
        has_torch = False
    rng = np.random.default_rng(0)

    def row(**kw):
        results["rows"].append(kw)
        print(json.dumps(kw), flush=True)

    sync = _cuda.synchronize
    for name, n, h, w, cin, cout, k, s in CONVS:
        x = rng.standard_normal((n, h, w, cin), dtype=np.float32)
        kern = rng.standard_normal((k, k, cin, cout), dtype=np.float32) * 0.1
        dx_, dk_ = _cuda_ops.to_device(x), _cuda_ops.to_device(kern)
        y = _cuda_ops.conv2d(dx_, dk_, strides=s, padding="same")
        dy = _cuda_ops.to_device(rng.standard_normal(y.shape, dtype=np.float32))
        flops = 2.0 * n * y.shape[1] * y.shape[2] * cout * k * k * cin
        for prec in ("highest", "high"):
            foveal.set_float32_matmul_precision(prec)
            fwd = timed(lambda: _cuda_ops.conv2d(dx_, dk_, strides=s, padding="same"), sync, reps)
            bwd = timed(lambda: _cuda_ops.conv2d_backward(dy, dx_, dk_, strides=s, padding="same"), sync, reps)
            row(op="conv2d", shape=name, impl="foveal_cuda", precision=prec, fwd_ms=fwd, bwd_ms=bwd,
                fwd_tflops=flops / fwd / 1e9)
        foveal.set_float32_matmul_precision("highest")
        if has_torch:
            tx = torch.from_numpy(x).cuda().permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)
            tw = torch.from_numpy(kern).cuda().permute(3, 2, 0, 1).contiguous(memory_format=torch.channels_last)
            tx.requires_grad_(True)
            tw.requires_grad_(True)
            pad = k // 2
            for tf32 in (False, True):
                torch.backends.cudnn.allow_tf32 = tf32
                torch.backends.cudnn.benchmark = True
                conv = lambda: torch.nn.functional.conv2d(tx, tw, stride=s, padding=pad)  # noqa: E731
                with torch.no_grad():
                    fwd = timed(conv, torch.cuda.synchronize, reps)
                out = conv()
                g = torch.randn_like(out)
                bwd = timed(lambda: torch.autograd.grad(out, (tx, tw), g, retain_graph=True),
                            torch.cuda.synchronize, reps)
                row(op="conv2d", shape=name, impl="torch_cudnn_channels_last", precision="high" if tf32 else "highest",
                    fwd_ms=fwd, bwd_ms=bwd, fwd_tflops=flops / fwd / 1e9)
            torch.backends.cudnn.allow_tf32 = False
        if not args.quick:
            dy_cpu = dy.get()
            fwd = timed(lambda: F.conv2d.__wrapped__(x, kern, strides=s, padding="same"), lambda: None, 3, 1)
            bwd = timed(lambda: F.conv2d_backward.__wrapped__(dy_cpu, x, kern, strides=s, padding="same"),
                        lambda: None, 3, 1)
            row(op="conv2d", shape=name, impl="foveal_cpu", precision="highest", fwd_ms=fwd, bwd_ms=bwd,
                fwd_tflops=flops / fwd / 1e9, threads=foveal.get_num_threads())

    x = rng.standard_normal((32, 112, 112, 64), dtype=np.float32)
    dx_ = _cuda_ops.to_device(x)
    y = _cuda_ops.max_pool2d(dx_, 3, 2, "same")
    moved = x.nbytes + y.nbytes
    pool = timed(lambda: _cuda_ops.max_pool2d(dx_, 3, 2, "same"), sync, reps)
    copy_dst = _cuda_ops.DeviceArray(x.shape, np.float32)
    copy = timed(lambda: _cuda.copy_on_device(copy_dst.ptr, dx_.ptr, x.nbytes), sync, reps)
    row(op="max_pool2d_3x3_s2", shape="32x112x112x64", impl="foveal_cuda", ms=pool,
        gbps=moved / pool / 1e6, copy_ms=copy, copy_gbps=2 * x.nbytes / copy / 1e6,
        ratio_to_copy=(moved / pool) / (2 * x.nbytes / copy))
    dy = _cuda_ops.to_device(rng.standard_normal(y.shape, dtype=np.float32))
    bwd = timed(lambda: _cuda_ops.max_pool2d_backward(dy, dx_, 3, 2, "same"), sync, reps)
    row(op="max_pool2d_3x3_s2_backward", shape="32x112x112x64", impl="foveal_cuda", ms=bwd)
    if args.out:
        with open(args.out + ".tmp", "w") as f:
            json.dump(results, f, indent=1)
        import os
        os.replace(args.out + ".tmp", args.out)


if __name__ == "__main__":
    main()
