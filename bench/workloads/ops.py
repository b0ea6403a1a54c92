"""bench_ops.py's workloads: convolution and pooling shapes, seeded inputs, and per library the
call that is timed (foveal.nn.functional, torch.nn.functional on channels_last tensors, a one-node
ONNX model in ONNX Runtime)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

SEED = 1234


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
    train: bool = False  # conv: forward and backward (dx and dkernel) per call

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
        fwd = 2 * self.n * oh * ow * self.out_c * self.k * self.k * (self.c // self.groups)
        return 3 * fwd if self.train else fwd   # backward: dx and dkernel, each a forward's work

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
        return f"{op}, N{self.n} {self.h}x{self.w} -> {oh}x{ow}{' fwd+bwd' if self.train else ''}"

    def meta(self) -> Dict[str, Any]:
        oh, ow = self.out_hw
        d = {"kind": self.kind, "description": self.describe(),
             "input_nhwc": [self.n, self.h, self.w, self.c],
             "output_nhwc": [self.n, oh, ow, self.out_c]}
        if self.is_conv:
            d.update(kernel_hwio=list(self.kernel_shape()), strides=self.stride,
                     padding=self.pad, groups=self.groups, flops=self.flops, train=self.train)
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
    # the same five convolutions, forward + backward (dx and dkernel), as one training step does
    Workload("conv3x3_n8_56x56_c64-64_fwdbwd", "conv", 8, 56, 56, 64, cout=64, k=3, stride=1,
             pad=1, train=True),
    Workload("conv7x7s2_n8_224x224_c3-64_fwdbwd", "conv", 8, 224, 224, 3, cout=64, k=7, stride=2,
             pad=3, train=True),
    Workload("conv3x3_n64_32x32_c32-64_fwdbwd", "conv", 64, 32, 32, 32, cout=64, k=3, stride=1,
             pad=1, train=True),
    Workload("conv1x1_n8_28x28_c256-128_fwdbwd", "conv", 8, 28, 28, 256, cout=128, k=1, stride=1,
             pad=0, train=True),
    Workload("dwconv3x3_n8_56x56_c128_fwdbwd", "depthwise", 8, 56, 56, 128, cout=128, k=3,
             stride=1, pad=1, train=True),
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
        if wl.train:
            oh, ow = wl.out_hw
            out["dy"] = rng.standard_normal((wl.n, oh, ow, wl.out_c), dtype=np.float32)
    return out


def flat_grads(y: np.ndarray, dx: np.ndarray, dk: np.ndarray) -> np.ndarray:
    """A training call's results (NHWC output, NHWC dx, Keras-layout dkernel) as one vector,
    each part divided by its largest magnitude (at least 1): the check then holds every value to
    1e-3 of its part's scale (a kernel-gradient entry is a sum over every output pixel, so its
    float32 rounding is relative to that scale, not to the entry)."""
    parts = [np.ravel(np.asarray(a, np.float64)) for a in (y, dx, dk)]
    return np.concatenate([p / max(1.0, float(np.abs(p).max(initial=0.0))) for p in parts])


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
    if wl.train:
        k, dy = data["kernel"], data["dy"]
        pad = wl.pad if wl.pad else "valid"
        conv = F.depthwise_conv2d if wl.kind == "depthwise" else F.conv2d
        back = F.depthwise_conv2d_backward if wl.kind == "depthwise" else F.conv2d_backward

        def fn():
            y = conv(x, k, None, strides=wl.stride, padding=pad)
            # no bias in the forward pass, so no bias gradient (torch computes none either)
            dx, dk, _ = back(dy, x, k, strides=wl.stride, padding=pad, need_dbias=False)
            return y, dx, dk
        return fn, lambda r: flat_grads(*r), contextlib.nullcontext
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
    if wl.train:
        # the usual autograd step on channels_last tensors: forward, backward(dy) for dx and dW
        wt = torch.from_numpy(torch_weight(wl, data["kernel"])).contiguous(memory_format=cl)
        xt.requires_grad_(True)
        wt.requires_grad_(True)
        dyt = torch.from_numpy(np.ascontiguousarray(data["dy"].transpose(0, 3, 1, 2))).contiguous(
            memory_format=cl)
        stride, pad, groups = wl.stride, wl.pad, wl.groups

        def fn():
            xt.grad = None
            wt.grad = None
            y = TF.conv2d(xt, wt, None, stride, pad, 1, groups)
            y.backward(dyt)
            return y, xt.grad, wt.grad

        def to_flat(r):
            y, dx, dw = (t.detach() for t in r)
            nhwc = lambda t: t.permute(0, 2, 3, 1).contiguous().numpy()  # noqa: E731
            dw = dw.contiguous().numpy()
            if wl.kind == "depthwise":   # (C*m) x 1 x kh x kw -> kh x kw x C x m
                k = data["kernel"]
                dk = dw[:, 0].transpose(1, 2, 0).reshape(k.shape)
            else:                        # OIHW -> HWIO
                dk = dw.transpose(2, 3, 1, 0)
            return flat_grads(nhwc(y), nhwc(dx), dk)

        return fn, to_flat, contextlib.nullcontext
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
