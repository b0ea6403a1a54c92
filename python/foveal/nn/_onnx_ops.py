"""ONNX nodes as foveal layers: one converter per ONNX op type (``load_onnx``'s table).

A converter gets the import context (``_onnx_import.Importer``) and one node; it reads the
node's data inputs (foveal symbolic tensors with the axis map of their ONNX layout) and its
constants (NumPy arrays), makes the layer, calls it, sets its weights and records the output.
ONNX's NCHW tensors are foveal's NHWC ones: a convolution's kernel is transposed once, here,
and the activations are never transposed at run time.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from ._args import _same_pads
from . import layers as L

#: ONNX axis ``i`` of a 4-D NCHW tensor lives on foveal axis ``NCHW[i]`` (NHWC).
NCHW = (0, 3, 1, 2)
Pads = Tuple[Tuple[int, int], Tuple[int, int]]
Converter = Callable[[Any, Any], None]
CONVERTERS: Dict[str, Converter] = {}


def converter(*ops: str) -> Callable[[Converter], Converter]:
    def register(fn: Converter) -> Converter:
        for op in ops:
            CONVERTERS[op] = fn
        return fn
    return register


# ---- windows: padding ------------------------------------------------------------------------

def _window_padding(imp: Any, node: Any, size: Tuple[Optional[int], Optional[int]],
                    window: Tuple[int, int], strides: Tuple[int, int]) -> Any:
    """A Conv/pool node's padding as a foveal padding argument: "valid", "same" (TensorFlow's
    rule, which ONNX calls SAME_UPPER) or explicit ``((top, bottom), (left, right))``."""
    auto = imp.attr(node, "auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto == "VALID":
        return "valid"
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        if auto == "SAME_UPPER" or all(s == 1 and (k - 1) % 2 == 0 for s, k in zip(strides, window)):
            return "same"
        pads = []
        for n, k, s in zip(size, window, strides):
            if n is None:
                imp.fail(node, "auto_pad=SAME_LOWER with a stride needs a known input size "
                               "(pass input_shape=)")
            before, after = _same_pads(n, k, s)
            pads.append((after, before))   # SAME_LOWER: the odd pixel at the top/left
        return (pads[0], pads[1])
    p = [int(v) for v in imp.attr(node, "pads", [0, 0, 0, 0])]
    if len(p) != 4:
        imp.fail(node, f"pads {p} are not the 4 values of a 2-D window")
    if min(p) < 0:
        imp.fail(node, f"negative pads {p}")
    pads = ((p[0], p[2]), (p[1], p[3]))
    if not any(p):
        return "valid"
    if all(s == 1 and pb == (k - 1) // 2 and pe == k - 1 - pb
           for s, k, (pb, pe) in zip(strides, window, pads)):
        return "same"   # the same pads at every input size
    return pads


def _pair_attr(imp: Any, node: Any, name: str, default: int = 1) -> Tuple[int, int]:
    v = [int(x) for x in imp.attr(node, name, [default, default])]
    if len(v) != 2:
        imp.fail(node, f"{name} {v} is not a 2-D window's")
    return (v[0], v[1])


def _spatial(value: Any) -> Tuple[Optional[int], Optional[int]]:
    shape = value.tensor.shape
    return (shape[1], shape[2])


# ---- convolutions ----------------------------------------------------------------------------

@converter("Conv")
def conv(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    w = imp.const(node, 1, "the kernel")
    b = imp.const(node, 2, "the bias") if imp.has_input(node, 2) else None
    if w.ndim != 4:
        imp.fail(node, f"kernel of shape {w.shape}: only 2-D convolutions (4-D kernels) are supported")
    out, cin_g, kh, kw = w.shape
    cin = x.tensor.shape[3]
    group = int(imp.attr(node, "group", 1))
    strides, dil = _pair_attr(imp, node, "strides"), _pair_attr(imp, node, "dilations")
    eff = (dil[0] * (kh - 1) + 1, dil[1] * (kw - 1) + 1)
    padding = _window_padding(imp, node, _spatial(x), eff, strides)
    if x.flip_channels:   # preprocess="caffe": RGB in, the model wants BGR
        if group != 1:
            imp.fail(node, "preprocess='caffe' needs the input to feed ungrouped convolutions")
        w = w[:, ::-1]
    if cin is not None and cin != cin_g * group:
        imp.fail(node, f"kernel {w.shape} with group={group} does not take {cin} input channels")
    common = dict(strides=strides, padding=padding, dilation_rate=dil, use_bias=b is not None,
                  name=imp.layer_name(node))
    if group > 1 and group == cin and cin_g == 1:
        mult = out // cin
        layer: Any = L.DepthwiseConv2D((kh, kw), depth_multiplier=mult, **common)
        kernel = w.reshape(cin, mult, kh, kw).transpose(2, 3, 0, 1)
    else:
        layer = L.Conv2D(out, (kh, kw), groups=group, **common)
        kernel = w.transpose(2, 3, 1, 0)
    imp.emit(node, layer, [x], [kernel] + ([b] if b is not None else []), layout=NCHW)


@converter("ConvTranspose")
def conv_transpose(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    w = imp.const(node, 1, "the kernel")
    b = imp.const(node, 2, "the bias") if imp.has_input(node, 2) else None
    if w.ndim != 4 or int(imp.attr(node, "group", 1)) != 1:
        imp.fail(node, "only ungrouped 2-D transposed convolutions are supported")
    if imp.attr(node, "output_shape", None) is not None:
        imp.fail(node, "output_shape is not supported (give pads and output_padding)")
    auto = imp.attr(node, "auto_pad", b"NOTSET")
    if (auto.decode() if isinstance(auto, bytes) else auto) not in ("NOTSET", "VALID"):
        imp.fail(node, f"auto_pad={auto!r} is not supported (give pads)")
    cin, out, kh, kw = w.shape
    p = [int(v) for v in imp.attr(node, "pads", [0, 0, 0, 0])]
    op = _pair_attr(imp, node, "output_padding", 0)
    layer = L.Conv2DTranspose(out, (kh, kw), strides=_pair_attr(imp, node, "strides"),
                              padding=((p[0], p[2]), (p[1], p[3])),
                              output_padding=op if any(op) else None,
                              dilation_rate=_pair_attr(imp, node, "dilations"),
                              use_bias=b is not None, name=imp.layer_name(node))
    imp.emit(node, layer, [x], [w.transpose(2, 3, 1, 0)] + ([b] if b is not None else []), layout=NCHW)


@converter("BatchNormalization")
def batch_norm(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    if imp.channel_axis(x) != x.tensor.ndim - 1:
        imp.fail(node, "the channel axis (ONNX axis 1) must be foveal's last axis")
    if int(imp.attr(node, "training_mode", 0)):
        imp.fail(node, "training_mode=1 (a graph exported in training mode) is not supported")
    gamma, beta, mean, var = (imp.const(node, i, n) for i, n in
                              enumerate(("scale", "bias", "mean", "variance"), start=1))
    layer = L.BatchNormalization(momentum=float(imp.attr(node, "momentum", 0.9)),
                                 epsilon=float(imp.attr(node, "epsilon", 1e-5)), name=imp.layer_name(node))
    imp.emit(node, layer, [x], [gamma, beta, mean, var], layout=x.perm)


# ---- activations -----------------------------------------------------------------------------

_ACTIVATIONS = {"Sigmoid": "sigmoid", "Tanh": "tanh", "HardSwish": "hard_silu", "Softplus": "softplus"}


@converter("Relu", "Sigmoid", "Tanh", "HardSwish", "Softplus", "Identity")
def activation(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    if node.op_type == "Relu":
        layer: Any = L.ReLU(name=imp.layer_name(node))
    else:
        layer = L.Activation(_ACTIVATIONS.get(node.op_type, "linear"), name=imp.layer_name(node))
    imp.emit(node, layer, [x], layout=x.perm, order=x.order)


@converter("LeakyRelu")
def leaky_relu(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    layer = L.ReLU(negative_slope=float(imp.attr(node, "alpha", 0.01)), name=imp.layer_name(node))
    imp.emit(node, layer, [x], layout=x.perm, order=x.order)


@converter("Elu")
def elu(imp: Any, node: Any) -> None:
    if not np.isclose(float(imp.attr(node, "alpha", 1.0)), 1.0):
        imp.fail(node, "Elu with alpha != 1 has no foveal layer")
    x = imp.data(node, 0, ordered_ok=True)
    imp.emit(node, L.Activation("elu", name=imp.layer_name(node)), [x], layout=x.perm, order=x.order)


@converter("Gelu")
def gelu(imp: Any, node: Any) -> None:
    approx = imp.attr(node, "approximate", b"none")
    if (approx.decode() if isinstance(approx, bytes) else approx) != "none":
        imp.fail(node, "the tanh approximation of GELU has no foveal layer")
    x = imp.data(node, 0, ordered_ok=True)
    imp.emit(node, L.Activation("gelu", name=imp.layer_name(node)), [x], layout=x.perm, order=x.order)


@converter("HardSigmoid")
def hard_sigmoid(imp: Any, node: Any) -> None:
    alpha, beta = float(imp.attr(node, "alpha", 0.2)), float(imp.attr(node, "beta", 0.5))
    if not (np.isclose(alpha, 1 / 6, rtol=1e-6) and np.isclose(beta, 0.5, rtol=1e-6)):
        imp.fail(node, f"HardSigmoid(alpha={alpha}, beta={beta}): foveal's hard_sigmoid is "
                       "relu6(x + 3) / 6 (alpha 1/6, beta 0.5, as Keras and PyTorch)")
    x = imp.data(node, 0, ordered_ok=True)
    imp.emit(node, L.Activation("hard_sigmoid", name=imp.layer_name(node)), [x], layout=x.perm,
             order=x.order)


@converter("Clip")
def clip(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    if imp.opset < 11:
        low, high = imp.attr(node, "min", None), imp.attr(node, "max", None)
    else:
        low = imp.const(node, 1, "min") if imp.has_input(node, 1) else None
        high = imp.const(node, 2, "max") if imp.has_input(node, 2) else None
    low = None if low is None else float(np.asarray(low).reshape(()))
    high = None if high is None or not np.isfinite(high) else float(np.asarray(high).reshape(()))
    if low != 0.0:
        imp.fail(node, f"Clip(min={low}, max={high}): only Clip(0, max) (ReLU, ReLU6) has a foveal layer")
    layer = L.ReLU(max_value=high, name=imp.layer_name(node))
    imp.emit(node, layer, [x], layout=x.perm, order=x.order)


@converter("Softmax")
def softmax(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    rank = x.tensor.ndim
    axis = int(imp.attr(node, "axis", 1 if imp.opset < 13 else -1))
    axis = axis + rank if axis < 0 else axis
    if imp.opset < 13 and axis != rank - 1:
        imp.fail(node, "Softmax before opset 13 over several axes is not supported")
    imp.emit(node, L.Softmax(axis=x.perm[axis], name=imp.layer_name(node)), [x], layout=x.perm)


@converter("Dropout")
def dropout(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    if imp.opset < 12:
        rate = float(imp.attr(node, "ratio", 0.5))
    else:
        rate = float(imp.const(node, 1, "ratio")) if imp.has_input(node, 1) else 0.5
    imp.emit(node, L.Dropout(rate, name=imp.layer_name(node)), [x], layout=x.perm, order=x.order)


# ---- element-wise arithmetic -----------------------------------------------------------------

_MERGES = {"Add": L.Add, "Sub": L.Subtract, "Mul": L.Multiply, "Sum": L.Add, "Mean": L.Average,
           "Max": L.Maximum, "Min": L.Minimum}


@converter("Add", "Sub", "Mul", "Div", "Sum", "Mean", "Max", "Min")
def arithmetic(imp: Any, node: Any) -> None:
    consts = [imp.is_const(t) for t in node.input]
    if sum(not c for c in consts) >= 2 or (node.op_type in ("Sum", "Mean", "Max", "Min")):
        xs = [imp.data(node, i) for i in range(len(node.input))]
        if node.op_type == "Div":
            imp.fail(node, "a division of two computed tensors has no foveal layer")
        perms = {v.perm for v in xs}
        if len(perms) != 1 or len({v.tensor.ndim for v in xs}) != 1:
            imp.fail(node, "the inputs must have the same rank and layout")
        if len(xs) == 1:
            imp.emit(node, L.Activation("linear", name=imp.layer_name(node)), xs, layout=xs[0].perm)
            return
        imp.emit(node, _MERGES[node.op_type](name=imp.layer_name(node)), xs, layout=xs[0].perm)
        return
    i = consts.index(False)
    x = imp.data(node, i)
    c = imp.const(node, 1 - i, "the constant operand").astype(np.float64)
    c = imp.per_channel(node, c, x)
    op = node.op_type
    if op == "Add":
        scale, offset = 1.0, c
    elif op == "Mul":
        scale, offset = c, 0.0
    elif op == "Sub":
        scale, offset = (1.0, -c) if i == 0 else (-1.0, c)
    else:  # Div
        if i != 0:
            imp.fail(node, "a constant divided by a computed tensor has no foveal layer")
        scale, offset = 1.0 / c, 0.0
    layer = L.Rescaling(_plain(scale), _plain(offset), name=imp.layer_name(node))
    imp.emit(node, layer, [x], layout=x.perm)


def _plain(v: Any) -> Any:
    a = np.asarray(v, np.float64)
    return float(a) if a.ndim == 0 else a.tolist()


@converter("Concat")
def concat(imp: Any, node: Any) -> None:
    xs = [imp.data(node, i) for i in range(len(node.input))]
    if len({v.perm for v in xs}) != 1:
        imp.fail(node, "the inputs must have the same rank and layout")
    rank = xs[0].tensor.ndim
    axis = int(imp.attr(node, "axis", 1))
    axis = axis + rank if axis < 0 else axis
    imp.emit(node, L.Concatenate(axis=xs[0].perm[axis], name=imp.layer_name(node)), xs, layout=xs[0].perm)


# ---- pooling ---------------------------------------------------------------------------------

def _ceil_pads(imp: Any, node: Any, x: Any, padding: Any, k: Tuple[int, int], s: Tuple[int, int]) -> Any:
    """ceil_mode=1 as extra end padding (a window that would start in the end padding is
    dropped, as PyTorch and onnxruntime do)."""
    if padding == "same":
        return padding
    pads = [[0, 0], [0, 0]] if padding == "valid" else [list(p) for p in padding]
    for a, n in enumerate(_spatial(x)):
        if n is None:
            imp.fail(node, "ceil_mode=1 needs a known input size (pass input_shape=)")
        span = n + pads[a][0] + pads[a][1] - k[a]
        out = -(-span // s[a]) + 1
        if (out - 1) * s[a] >= n + pads[a][0]:
            out -= 1
        pads[a][1] += max((out - 1) * s[a] + k[a] - (n + pads[a][0] + pads[a][1]), 0)
    result = ((pads[0][0], pads[0][1]), (pads[1][0], pads[1][1]))
    return "valid" if not any(sum(result, ())) else result


def _explicit_same(imp: Any, node: Any, x: Any, k: Tuple[int, int], s: Tuple[int, int]) -> Pads:
    """TensorFlow's "same" pads for the input's (known) size."""
    size = _spatial(x)
    if None in size:
        imp.fail(node, "count_include_pad=1 with SAME padding needs a known input size (pass input_shape=)")
    return (_same_pads(size[0], k[0], s[0]), _same_pads(size[1], k[1], s[1]))


@converter("MaxPool", "AveragePool")
def pool(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    if len(node.output) > 1 and node.output[1] and imp.is_used(node.output[1]):
        imp.fail(node, "the Indices output of MaxPool is not supported")
    k = _pair_attr(imp, node, "kernel_shape")
    s = _pair_attr(imp, node, "strides")
    if _pair_attr(imp, node, "dilations") != (1, 1):
        imp.fail(node, "dilated pooling has no foveal layer")
    padding = _window_padding(imp, node, _spatial(x), k, s)
    ceil = int(imp.attr(node, "ceil_mode", 0))
    name = imp.layer_name(node)
    if node.op_type == "MaxPool":
        if ceil:
            padding = _ceil_pads(imp, node, x, padding, k, s)
        imp.emit(node, L.MaxPooling2D(k, s, padding, name=name), [x], layout=NCHW)
        return
    if ceil and _ceil_pads(imp, node, x, padding, k, s) != padding:
        imp.fail(node, "AveragePool with ceil_mode=1 adding windows is not supported")
    if int(imp.attr(node, "count_include_pad", 0)) and padding == "same":
        padding = _explicit_same(imp, node, x, k, s)
    if int(imp.attr(node, "count_include_pad", 0)) and not isinstance(padding, str):
        # the padded zeros count: zero padding first, then a plain average
        padded = imp.apply(L.ZeroPadding2D(padding, name=imp.unique(name + "_pad")), [x])
        imp.emit(node, L.AveragePooling2D(k, s, "valid", name=name), [imp.wrap(padded, NCHW)], layout=NCHW)
        return
    imp.emit(node, L.AveragePooling2D(k, s, padding, name=name), [x], layout=NCHW)


@converter("GlobalAveragePool", "GlobalMaxPool")
def global_pool(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    cls = L.GlobalAveragePooling2D if node.op_type == "GlobalAveragePool" else L.GlobalMaxPooling2D
    imp.emit(node, cls(keepdims=True, name=imp.layer_name(node)), [x], layout=NCHW)


@converter("ReduceMean", "ReduceMax")
def reduce(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    if imp.opset < 18:
        axes = imp.attr(node, "axes", None)
    else:
        axes = imp.const(node, 1, "axes") if imp.has_input(node, 1) else None
    axes = sorted(int(a) % 4 for a in np.asarray(axes).ravel()) if axes is not None else None
    if x.tensor.ndim != 4 or axes is None or sorted(x.perm[a] for a in axes) != [1, 2]:
        imp.fail(node, f"a reduction over axes {axes} (only over the spatial axes is a global pool)")
    keep = bool(int(imp.attr(node, "keepdims", 1)))
    cls = L.GlobalAveragePooling2D if node.op_type == "ReduceMean" else L.GlobalMaxPooling2D
    imp.emit(node, cls(keepdims=keep, name=imp.layer_name(node)), [x], layout=x.perm if keep else (0, 1))


# ---- dense -----------------------------------------------------------------------------------

@converter("Gemm", "MatMul")
def dense(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    if x.tensor.ndim != 2:
        imp.fail(node, f"a product of a rank-{x.tensor.ndim} tensor (only N x D inputs are a Dense layer)")
    w = imp.const(node, 1, "the weight matrix").astype(np.float64)
    bias: Optional[np.ndarray] = None
    fused: Optional[Any] = None
    if node.op_type == "Gemm":
        if int(imp.attr(node, "transA", 0)):
            imp.fail(node, "transA=1 is not supported")
        if int(imp.attr(node, "transB", 0)):
            w = w.T
        w = w * float(imp.attr(node, "alpha", 1.0))
        if imp.has_input(node, 2):
            bias = imp.const(node, 2, "the bias").astype(np.float64) * float(imp.attr(node, "beta", 1.0))
    else:
        fused = imp.bias_add_after(node)   # MatMul + Add(constant) is one Dense
        if fused is not None:
            bias = fused[1]
    if w.ndim != 2:
        imp.fail(node, f"weights of shape {w.shape} (a Dense layer needs a matrix)")
    units = w.shape[1]
    if bias is not None:
        bias = np.broadcast_to(bias.reshape(-1) if bias.size == units else bias, (units,))
    if x.order is not None:  # features flattened in foveal's order: the rows follow them
        w = w[x.order]
    layer = L.Dense(units, use_bias=bias is not None, name=imp.layer_name(node))
    weights = [w] + ([bias] if bias is not None else [])
    imp.emit(node, layer, [x], weights, layout=(0, 1), also=[fused[0]] if fused is not None else ())


# ---- shapes ----------------------------------------------------------------------------------

def _flatten(imp: Any, node: Any, x: Any) -> None:
    if x.tensor.ndim == 2:
        imp.emit(node, L.Flatten(name=imp.layer_name(node)), [x], layout=(0, 1), order=x.order)
        return
    if x.tensor.ndim != 4 or any(d is None for d in x.tensor.shape[1:]):
        imp.fail(node, f"flattening a tensor of shape {x.tensor.shape} (needs known sizes: pass input_shape=)")
    imp.emit(node, L.Flatten(name=imp.layer_name(node)), [x], layout=(0, 1), order=imp.flat_order(x))


@converter("Flatten")
def flatten(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    if int(imp.attr(node, "axis", 1)) != 1:
        imp.fail(node, "Flatten with axis != 1 (only N x D results) is not supported")
    _flatten(imp, node, x)


@converter("Squeeze")
def squeeze(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    axes = (imp.attr(node, "axes", None) if imp.opset < 13
            else (imp.const(node, 1, "axes") if imp.has_input(node, 1) else None))
    onnx_shape = imp.onnx_shape(x)
    axes = (sorted(int(a) % len(onnx_shape) for a in np.asarray(axes).ravel()) if axes is not None
            else [i for i, d in enumerate(onnx_shape) if d == 1])
    if x.tensor.ndim == 4 and axes == [2, 3] and onnx_shape[2:] == (1, 1):
        _flatten(imp, node, x)
        return
    imp.fail(node, f"squeezing axes {axes} of a tensor of shape {onnx_shape}")


@converter("Unsqueeze")
def unsqueeze(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    axes = (imp.attr(node, "axes", None) if imp.opset < 13 else imp.const(node, 1, "axes"))
    axes = sorted(int(a) % 4 for a in np.asarray(axes).ravel()) if axes is not None else None
    if x.tensor.ndim != 2 or axes != [2, 3]:
        imp.fail(node, f"unsqueezing axes {axes} of a rank-{x.tensor.ndim} tensor (only N x C -> N x C x 1 x 1)")
    c = x.tensor.shape[1]
    imp.emit(node, L.Reshape((1, 1, c), name=imp.layer_name(node)), [x], layout=NCHW)


@converter("Reshape")
def reshape(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, ordered_ok=True)
    target = [int(v) for v in imp.const(node, 1, "the shape")]
    if int(imp.attr(node, "allowzero", 0)) and 0 in target:
        imp.fail(node, "allowzero=1 with a zero in the shape is not supported")
    onnx_shape = imp.onnx_shape(x)
    first_ok = target and (target[0] in (0, -1) or target[0] == imp.batch)
    if first_ok and len(target) == 2:
        size = int(np.prod([d for d in onnx_shape[1:]])) if None not in onnx_shape[1:] else None
        if target[1] in (-1, size) or size is None:
            _flatten(imp, node, x)
            return
    if first_ok and len(target) == 4 and x.tensor.ndim == 2 and target[2:] == [1, 1]:
        c = x.tensor.shape[1]
        if target[1] in (-1, c):
            imp.emit(node, L.Reshape((1, 1, c), name=imp.layer_name(node)), [x], layout=NCHW)
            return
    imp.fail(node, f"reshaping {onnx_shape} to {target} (only N x D, and N x C -> N x C x 1 x 1)")


@converter("Transpose")
def transpose(imp: Any, node: Any) -> None:
    x = imp.data(node, 0)
    perm = [int(p) for p in imp.attr(node, "perm", list(range(x.tensor.ndim))[::-1])]
    if sorted(perm) != list(range(x.tensor.ndim)) or perm[0] != 0:
        imp.fail(node, f"perm {perm} moves the batch axis")
    imp.alias(node, x.relabel(tuple(x.perm[p] for p in perm)))   # a new view: no layer, no copy


@converter("Cast")
def cast(imp: Any, node: Any) -> None:
    if int(imp.attr(node, "to", 1)) not in (1, 10, 11, 16):   # float, float16, double, bfloat16
        imp.fail(node, "a cast of image data to a non-float type")
    imp.alias(node, imp.data(node, 0, ordered_ok=True))


@converter("Pad")
def pad(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    mode = imp.attr(node, "mode", b"constant")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    if imp.opset < 11:
        pads, value = [int(p) for p in imp.attr(node, "pads")], float(imp.attr(node, "value", 0.0))
    else:
        pads = [int(p) for p in imp.const(node, 1, "pads")]
        value = float(imp.const(node, 2, "constant_value")) if imp.has_input(node, 2) else 0.0
        if imp.has_input(node, 3):
            axes = [int(a) % 4 for a in imp.const(node, 3, "axes")]
            full = [0] * 8
            for j, a in enumerate(axes):
                full[a], full[a + 4] = pads[j], pads[j + len(axes)]
            pads = full
    if mode != "constant" or value != 0.0:
        imp.fail(node, f"Pad mode={mode!r} value={value} (only zero padding has a foveal layer)")
    if len(pads) != 8 or any(pads[i] for i in (0, 1, 4, 5)) or min(pads) < 0:
        imp.fail(node, f"pads {pads}: only non-negative padding of the spatial axes is supported")
    padding = ((pads[2], pads[6]), (pads[3], pads[7]))
    imp.emit(node, L.ZeroPadding2D(padding, name=imp.layer_name(node)), [x], layout=NCHW)


@converter("Resize", "Upsample")
def resize(imp: Any, node: Any) -> None:
    x = imp.data(node, 0, layout=NCHW)
    mode = imp.attr(node, "mode", b"nearest")
    mode = mode.decode() if isinstance(mode, bytes) else mode
    ctm = imp.attr(node, "coordinate_transformation_mode", b"half_pixel" if node.op_type == "Resize"
                   else b"asymmetric")
    ctm = ctm.decode() if isinstance(ctm, bytes) else ctm
    nearest_mode = imp.attr(node, "nearest_mode", b"round_prefer_floor")
    nearest_mode = nearest_mode.decode() if isinstance(nearest_mode, bytes) else nearest_mode
    scales: Optional[np.ndarray] = None
    if node.op_type == "Upsample":
        scales = (np.asarray(imp.attr(node, "scales"), np.float64) if imp.opset < 9
                  else imp.const(node, 1, "scales"))
    else:
        if imp.has_input(node, 2):
            scales = imp.const(node, 2, "scales")
        if (scales is None or scales.size == 0) and imp.has_input(node, 3):
            sizes = imp.const(node, 3, "sizes").astype(np.int64)
            n_in = imp.onnx_shape(x)
            if None in n_in[2:]:
                imp.fail(node, "Resize to sizes needs a known input size (pass input_shape=)")
            if sizes.size != 4 or (n_in[1] is not None and sizes[1] != n_in[1]):
                imp.fail(node, f"sizes {sizes.tolist()} (only spatial scaling)")
            scales = np.array([1.0, 1.0, sizes[2] / n_in[2], sizes[3] / n_in[3]])
    if scales is None or scales.size != 4 or not np.allclose(scales[:2], 1):
        imp.fail(node, f"scales {None if scales is None else scales.tolist()} (only spatial scaling)")
    factors = tuple(int(round(float(v))) for v in scales[2:])
    if not np.allclose(scales[2:], factors) or min(factors) < 1:
        imp.fail(node, f"scales {scales.tolist()} (only integer upsampling factors)")
    if mode == "nearest" and (ctm == "asymmetric" and nearest_mode == "floor" or
                              ctm in ("half_pixel", "pytorch_half_pixel") and nearest_mode == "round_prefer_floor"
                              or node.op_type == "Upsample"):
        interp = "nearest"
    elif mode in ("linear", "bilinear") and (ctm in ("half_pixel", "pytorch_half_pixel")):
        interp = "bilinear"
    else:
        imp.fail(node, f"mode={mode!r}, coordinate_transformation_mode={ctm!r}, nearest_mode="
                       f"{nearest_mode!r} (foveal upsamples nearest, or bilinear with half-pixel centres)")
    imp.emit(node, L.UpSampling2D(factors, interpolation=interp, name=imp.layer_name(node)), [x], layout=NCHW)


#: The ONNX ops load_onnx takes (for its messages); Constant and the folded shape ops aside.
def supported_ops() -> List[str]:
    return sorted(CONVERTERS)
