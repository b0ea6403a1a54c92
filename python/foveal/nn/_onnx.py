"""ONNX export of a foveal model (``Model.export_onnx``), through the ``onnx`` package.

The graph keeps the model's NHWC layout at its input and output (``predict``'s layout):
convolutions and window pooling, which ONNX defines on NCHW, are wrapped in transposes; every
other layer maps to ONNX ops on NHWC tensors directly. Weights become initializers in ONNX's
layouts (convolution kernels OIHW).
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Tuple

import numpy as np

from .._files import atomic_path
from . import layers as L
from ._args import _same_pads

OPSET = 17
_TO_NCHW, _TO_NHWC = [0, 3, 1, 2], [0, 2, 3, 1]
# Activations that are one ONNX node (opset 17): (op, attributes).
_ACT_OPS: Dict[str, Tuple[str, Dict[str, Any]]] = {
    "relu": ("Relu", {}), "sigmoid": ("Sigmoid", {}), "tanh": ("Tanh", {}),
    "elu": ("Elu", {"alpha": 1.0}), "softplus": ("Softplus", {}),
    "leaky_relu": ("LeakyRelu", {"alpha": 0.2}), "hard_silu": ("HardSwish", {}),
    "hard_sigmoid": ("HardSigmoid", {"alpha": 1.0 / 6.0, "beta": 0.5}),
}


class _Builder:
    def __init__(self, onnx: Any) -> None:
        self.onnx, self.helper = onnx, onnx.helper
        self.nodes: List[Any] = []
        self.inits: List[Any] = []
        self.count = 0

    def name(self, base: str) -> str:
        self.count += 1
        return f"{base}_{self.count}"

    def const(self, base: str, value: np.ndarray) -> str:
        n = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.ascontiguousarray(value), n))
        return n

    def op(self, op_type: str, inputs: List[str], base: str, **attrs: Any) -> str:
        out = self.name(base)
        self.nodes.append(self.helper.make_node(op_type, inputs, [out], **attrs))
        return out

    def activation(self, x: str, act: str, base: str) -> str:
        if act in ("linear", None):
            return x
        if act == "softmax":
            return self.op("Softmax", [x], base, axis=-1)
        if act == "relu6":
            return self.op("Clip", [x, self.const(base + "_min", np.float32(0)),
                                    self.const(base + "_max", np.float32(6))], base)
        if act == "silu":
            return self.op("Mul", [x, self.op("Sigmoid", [x], base + "_sigmoid")], base)
        if act == "gelu":  # x * (1 + erf(x / sqrt 2)) / 2 (the Gelu node needs opset 20)
            e = self.op("Erf", [self.op("Div", [x, self.const(base + "_sqrt2", np.float32(np.sqrt(2)))],
                                        base + "_scaled")], base + "_erf")
            h = self.op("Add", [e, self.const(base + "_one", np.float32(1))], base + "_cdf2")
            p = self.op("Mul", [x, h], base + "_prod")
            return self.op("Mul", [p, self.const(base + "_half", np.float32(0.5))], base)
        op, attrs = _ACT_OPS[act]
        return self.op(op, [x], base, **attrs)

    def nchw(self, x: str, base: str, body: Any) -> str:
        t = self.op("Transpose", [x], base + "_nchw", perm=_TO_NCHW)
        return self.op("Transpose", [body(t)], base + "_nhwc", perm=_TO_NHWC)


def _window_pads(layer: Any, window: Tuple[int, int]) -> List[int]:
    if layer.padding == "valid":
        return [0, 0, 0, 0]
    if not isinstance(layer.padding, str):  # explicit ((top, bottom), (left, right))
        (t, b), (l, r) = layer.padding
        return [t, l, b, r]
    _, h, w, _ = layer.input_shape
    (t, b), (l, r) = _same_pads(h, window[0], layer.strides[0]), _same_pads(w, window[1], layer.strides[1])
    return [t, l, b, r]


def _layer(b: _Builder, layer: Any, ins: List[str]) -> str:
    """ONNX nodes for one layer; returns the name of its output tensor."""
    x, base = ins[0], layer.name
    if isinstance(layer, L.Conv2D):  # DepthwiseConv2D is a grouped Conv2D here
        k = layer.kernel.value
        if isinstance(layer, L.DepthwiseConv2D):
            kh, kw, c, m = k.shape
            k = k.reshape(kh, kw, 1, c * m)
        kd, ks = layer.dilation_rate, layer.kernel_size
        eff = (kd[0] * (ks[0] - 1) + 1, kd[1] * (ks[1] - 1) + 1)
        inputs = [b.const(base + "_W", k.transpose(3, 2, 0, 1))]
        if layer.use_bias:
            inputs.append(b.const(base + "_B", layer.bias.value))
        y = b.nchw(x, base, lambda t: b.op(
            "Conv", [t] + inputs, base, kernel_shape=list(ks), strides=list(layer.strides),
            dilations=list(kd), group=int(layer.groups), pads=_window_pads(layer, eff)))
        return b.activation(y, layer.activation, base + "_act")
    if isinstance(layer, L.Conv2DTranspose):
        return _conv_transpose(b, layer, x)
    if isinstance(layer, L.SeparableConv2D):
        return _separable(b, layer, x)
    if isinstance(layer, (L.MaxPooling2D, L.AveragePooling2D)):
        kind = "MaxPool" if isinstance(layer, L.MaxPooling2D) else "AveragePool"
        extra = {} if kind == "MaxPool" else {"count_include_pad": 0}  # Keras's divisor
        return b.nchw(x, base, lambda t: b.op(
            kind, [t], base, kernel_shape=list(layer.pool_size), strides=list(layer.strides),
            pads=_window_pads(layer, layer.pool_size), **extra))
    if isinstance(layer, L.GlobalAveragePooling2D):
        return b.op("ReduceMean", [x], base, axes=[1, 2], keepdims=int(layer.keepdims))
    if isinstance(layer, L.GlobalMaxPooling2D):
        return b.op("ReduceMax", [x], base, axes=[1, 2], keepdims=int(layer.keepdims))
    if isinstance(layer, L.Flatten):
        return b.op("Flatten", [x], base, axis=1)
    if isinstance(layer, L.Dense):
        y = b.op("MatMul", [x, b.const(base + "_W", layer.kernel.value)], base)
        if layer.use_bias:
            y = b.op("Add", [y, b.const(base + "_B", layer.bias.value)], base + "_bias")
        return b.activation(y, layer.activation, base + "_act")
    if isinstance(layer, L.Dropout):
        return b.op("Identity", [x], base)
    if isinstance(layer, L.BatchNormalization):
        gamma, beta, mean, var = (w.astype(np.float64) for w in layer.get_weights())
        scale = gamma / np.sqrt(var + layer.epsilon)
        y = b.op("Mul", [x, b.const(base + "_scale", scale.astype(np.float32))], base)
        return b.op("Add", [y, b.const(base + "_shift", (beta - mean * scale).astype(np.float32))],
                    base + "_shift")
    if isinstance(layer, L.Activation):
        return b.activation(x, layer.activation, base) if layer.activation != "linear" else \
            b.op("Identity", [x], base)
    if isinstance(layer, L.ReLU):
        if layer.output_activation is not None:  # relu, relu6 or leaky_relu (slope 0.2)
            return b.activation(x, layer.output_activation, base)
        if layer.threshold != 0.0:
            raise NotImplementedError(f"ONNX export of ReLU with a threshold (layer {base!r}) is "
                                      "not supported yet")
        if layer.negative_slope == 0.0 and layer.max_value is not None:  # Clip(0, max)
            return b.op("Clip", [x, b.const(base + "_min", np.float32(0)),
                                 b.const(base + "_max", np.float32(layer.max_value))], base)
        y = (b.op("LeakyRelu", [x], base, alpha=layer.negative_slope) if layer.negative_slope
             else b.op("Relu", [x], base))
        if layer.max_value is not None:
            y = b.op("Min", [y, b.const(base + "_max", np.float32(layer.max_value))], base + "_max")
        return y
    if isinstance(layer, L.Softmax):
        return b.op("Softmax", [x], base, axis=int(layer.axis))
    if isinstance(layer, L.Rescaling):  # scalars or per-channel (last axis) values
        y = b.op("Mul", [x, b.const(base + "_scale", np.asarray(layer.scale, np.float32))], base)
        return b.op("Add", [y, b.const(base + "_offset", np.asarray(layer.offset, np.float32))],
                    base + "_offset")
    if isinstance(layer, (L.Add, L.Subtract, L.Multiply, L.Average, L.Maximum, L.Minimum)):
        return _elementwise(b, layer, ins)
    if isinstance(layer, L.ZeroPadding2D):
        (t, bt), (lf, r) = layer.padding
        return b.op("Pad", [x, b.const(base + "_pads", np.array([0, t, lf, 0, 0, bt, r, 0], np.int64))],
                    base, mode="constant")
    if isinstance(layer, L.UpSampling2D):
        scales = b.const(base + "_scales", np.array([1, 1, *layer.size], np.float32))
        attrs = (dict(mode="nearest", coordinate_transformation_mode="asymmetric", nearest_mode="floor")
                 if layer.interpolation == "nearest" else
                 dict(mode="linear", coordinate_transformation_mode="half_pixel"))
        return b.nchw(x, base, lambda t: b.op("Resize", [t, "", scales], base, **attrs))
    if isinstance(layer, L.Reshape):
        shape = np.array([0, *layer.target_shape], np.int64)  # 0: the batch size as it comes
        return b.op("Reshape", [x, b.const(base + "_shape", shape)], base)
    if isinstance(layer, L.Concatenate):
        return b.op("Concat", ins, base, axis=int(layer.axis))
    raise NotImplementedError(f"ONNX export of {type(layer).__name__} (layer {base!r}) is not supported")


def _separable(b: _Builder, layer: Any, x: str) -> str:
    """SeparableConv2D as its two convolutions: the depthwise one (``group`` = channels, no
    bias), then the 1x1 one with the bias, then the activation."""
    base = layer.name
    kh, kw, c, m = layer.depthwise_kernel.value.shape
    depthwise = b.const(base + "_DW", layer.depthwise_kernel.value.reshape(kh, kw, 1, c * m).transpose(3, 2, 0, 1))
    pointwise = [b.const(base + "_PW", layer.pointwise_kernel.value.transpose(3, 2, 0, 1))]
    if layer.use_bias:
        pointwise.append(b.const(base + "_B", layer.bias.value))
    kd, ks = layer.dilation_rate, layer.kernel_size
    eff = (kd[0] * (ks[0] - 1) + 1, kd[1] * (ks[1] - 1) + 1)

    def convs(t: str) -> str:
        t = b.op("Conv", [t, depthwise], base + "_depthwise", kernel_shape=list(ks),
                 strides=list(layer.strides), dilations=list(kd), group=int(c),
                 pads=_window_pads(layer, eff))
        return b.op("Conv", [t] + pointwise, base, kernel_shape=[1, 1])
    return b.activation(b.nchw(x, base, convs), layer.activation, base + "_act")


def _conv_transpose(b: _Builder, layer: Any, x: str) -> str:
    """ConvTranspose (weights ``C x filters x kh x kw``) with the layer's output size: its pads
    (explicit, or Keras's ``k // 2`` for "same" with output_padding) or, for Keras's
    valid/same without output_padding, an explicit ``output_shape``."""
    base = layer.name
    ks, d, s = layer.kernel_size, layer.dilation_rate, layer.strides
    inputs = [b.const(base + "_W", layer.kernel.value.transpose(3, 2, 0, 1))]
    if layer.use_bias:
        inputs.append(b.const(base + "_B", layer.bias.value))
    attrs: Dict[str, Any] = dict(kernel_shape=list(ks), strides=list(s), dilations=list(d))
    conv_pads = layer._conv_padding()
    if isinstance(conv_pads, str):  # Keras's valid/same sizes: out = in*s (+ max(k-s, 0) if valid)
        eff = [d[i] * (ks[i] - 1) + 1 for i in range(2)]
        extra = [max(eff[i] - s[i], 0) if conv_pads == "valid" else 0 for i in range(2)]
        # ONNX: out = (in-1)*s + k - pads + output_padding; pick pads (begin, end) reaching it
        total = [(eff[i] - s[i]) - extra[i] for i in range(2)]  # = k - s - extra (may be < 0)
        if any(t < 0 for t in total):  # the output is longer than the full scatter: pad it
            attrs["output_padding"] = [max(-t, 0) for t in total]
            total = [max(t, 0) for t in total]
        if conv_pads == "same":  # Keras/TensorFlow crop the extra pixels at the bottom/right
            attrs["pads"] = [total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2]
        else:
            attrs["pads"] = [0, 0, total[0], total[1]]
    else:
        (t, bt), (lf, r) = conv_pads
        attrs["pads"] = [t, lf, bt, r]
        if layer.output_padding is not None and any(layer.output_padding):
            attrs["output_padding"] = list(layer.output_padding)
    y = b.nchw(x, base, lambda t_: b.op("ConvTranspose", [t_] + inputs, base, **attrs))
    return b.activation(y, layer.activation, base + "_act")


_MERGE_OPS = {"Add": "Sum", "Average": "Mean", "Maximum": "Max", "Minimum": "Min"}


def _elementwise(b: _Builder, layer: Any, ins: List[str]) -> str:
    """A merge layer: inputs of lower rank first get axes of size 1 after the batch axis (Keras
    3; ONNX would align them on the last axes, batch axis included); ONNX broadcasts the rest."""
    shapes = [tuple(s) for s in layer.input_shape]
    rank = max(len(s) for s in shapes)
    expanded = []
    for name, shape in zip(ins, shapes):
        if len(shape) < rank:
            rest = [-1 if d is None else d for d in shape[1:]]
            if rest.count(-1) > 1:
                raise NotImplementedError(f"ONNX export of {type(layer).__name__} (layer {layer.name!r}) "
                                          "with an input of lower rank and unknown sizes")
            target = np.array([0] + [1] * (rank - len(shape)) + rest, np.int64)
            name = b.op("Reshape", [name, b.const(layer.name + "_expand", target)], layer.name + "_expand")
        expanded.append(name)
    kind = type(layer).__name__
    if kind in _MERGE_OPS:
        return b.op(_MERGE_OPS[kind], expanded, layer.name)
    if kind == "Subtract":
        return b.op("Sub", expanded, layer.name)
    y = expanded[0]
    for other in expanded[1:]:
        y = b.op("Mul", [y, other], layer.name)
    return y


def export(model: Any, filepath: str) -> None:
    """Write ``model`` as an ONNX file (atomically) with one NHWC input named ``input`` and one
    output named ``output``; onnxruntime gives the outputs of ``model.predict``."""
    try:
        import onnx
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("export_onnx needs the onnx package: pip install onnx") from e
    graph = model._require_graph("export_onnx")
    b = _Builder(onnx)
    slots: Dict[int, str] = {0: "input"}
    for layer, in_ids, out_id, _ in graph.steps:
        slots[out_id] = _layer(b, layer, [slots[i] for i in in_ids])
    b.nodes.append(onnx.helper.make_node("Identity", [slots[graph.output_id]], ["output"]))
    f32 = onnx.TensorProto.FLOAT
    in_shape = ["N", *graph.input_shape[1:]]
    out_shape = ["N", *graph.output_shape[1:]]
    g = onnx.helper.make_graph(
        b.nodes, model.name if getattr(model, "name", None) else "foveal_model",
        [onnx.helper.make_tensor_value_info("input", f32, in_shape)],
        [onnx.helper.make_tensor_value_info("output", f32, out_shape)], b.inits)
    proto = onnx.helper.make_model(g, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="foveal")
    onnx.checker.check_model(proto)
    with atomic_path(os.fspath(filepath), "filepath") as tmp:
        with open(tmp, "wb") as fh:
            fh.write(proto.SerializeToString())
