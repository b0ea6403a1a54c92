"""``foveal.nn.load_onnx``: an ONNX CNN as a functional foveal :class:`~foveal.nn.Model` of
trainable layers with the ONNX weights.

The graph is read with the ``onnx`` package only (nothing runs it). Every ONNX tensor the
chosen output needs becomes either a constant (initializers, ``Constant`` nodes and what is
folded from them) or a foveal symbolic tensor with an *axis map*: ONNX axis ``i`` is foveal
axis ``perm[i]``, so an NCHW tensor is foveal's NHWC one (``perm = (0, 3, 1, 2)``) and a
``Transpose`` node only changes the map. Each node becomes one foveal layer (converters in
``_onnx_ops``), named after the node; kernels are transposed once, activations never.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace
from typing import Any, Dict, List, Optional, Sequence, Set, Tuple

import numpy as np

from .. import _onnx_graph
from .._conventions import CONVENTIONS
from . import layers as L
from ._onnx_ops import CONVERTERS, NCHW, supported_ops

__all__ = ["load_onnx"]

#: Ops walked back over from the feature tensor when the top is cut off ("before any flatten").
_FLATTEN_OPS = ("Flatten", "Reshape", "Squeeze", "Identity", "Dropout", "Cast")
_POOLING = (None, "avg", "max")


def _layer_name(onnx_name: str) -> str:
    """An ONNX name as a layer name ('/' is not allowed in one: '/a/b/Conv' -> 'a_b_Conv')."""
    return re.sub(r"/+", "_", (onnx_name or "").strip("/"))


@dataclass(frozen=True)
class Value:
    """A computed ONNX tensor: its foveal tensor, the axis map, and for an ``N x D`` tensor
    flattened from a spatial map, ``order[j]``: the ONNX feature index of foveal feature ``j``."""

    tensor: Any
    perm: Tuple[int, ...]
    order: Optional[np.ndarray] = None
    flip_channels: bool = False   # preprocess="caffe": RGB here, BGR for the model

    def relabel(self, perm: Tuple[int, ...]) -> "Value":
        return replace(self, perm=perm)


class Importer:
    """The conversion's state: constants, values, layer names, the consumers of each tensor."""

    def __init__(self, model: Any, path: str) -> None:
        self.onnx = _onnx_graph.import_onnx()
        self.model, self.path, self.graph = model, path, model.graph
        self.opset = next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.constants: Dict[str, np.ndarray] = {
            t.name: self.onnx.numpy_helper.to_array(t) for t in self.graph.initializer}
        self.values: Dict[str, Value] = {}
        # one wrapper object per node for the whole import (ids stay valid)
        self.nodes: List[Any] = list(self.graph.node)
        self.users: Dict[str, List[Any]] = {}
        for node in self.nodes:
            for t in node.input:
                self.users.setdefault(t, []).append(node)
        self.outputs = {o.name for o in self.graph.output}
        self.skip: Set[int] = set()   # nodes folded into an earlier layer (MatMul's bias Add)
        self.names: Set[str] = set()
        self.batch: Optional[int] = None

    # ---- reading nodes --------------------------------------------------------------------
    def fail(self, node: Any, message: str) -> None:
        raise ValueError(f"load_onnx: {self.path!r}: ONNX op {node.op_type!r} (node "
                         f"{node.name or node.output[0]!r}): {message}")

    def attr(self, node: Any, name: str, default: Any = None) -> Any:
        for a in node.attribute:
            if a.name == name:
                return self.onnx.helper.get_attribute_value(a)
        return default

    def has_input(self, node: Any, i: int) -> bool:
        return len(node.input) > i and bool(node.input[i])

    def is_const(self, name: str) -> bool:
        return name in self.constants

    def is_used(self, name: str) -> bool:
        return name in self.users or name in self.outputs

    def const(self, node: Any, i: int, what: str) -> np.ndarray:
        name = node.input[i] if len(node.input) > i else ""
        if name not in self.constants:
            self.fail(node, f"{what} (input {i}, {name!r}) must be a constant (an initializer)")
        return np.asarray(self.constants[name])

    def data(self, node: Any, i: int, layout: Optional[Tuple[int, ...]] = None,
             ordered_ok: bool = False) -> Value:
        name = node.input[i] if len(node.input) > i else ""
        if name not in self.values:
            self.fail(node, f"input {i} ({name!r}) is neither image data nor a constant")
        v = self.values[name]
        if layout is not None and v.perm != layout:
            self.fail(node, f"input {name!r} must be an N x C x H x W tensor (its layout here: ONNX "
                            f"axes -> foveal axes {v.perm})")
        if v.order is not None and not ordered_ok:
            self.fail(node, f"input {name!r} is a spatial map flattened in NCHW order; only Dense-like "
                            "and element-wise ops can take it")
        if v.flip_channels and node.op_type != "Conv":
            self.fail(node, "preprocess='caffe' reverses the channels into the first convolutions; "
                            "the model's input must feed Conv nodes only")
        return v

    def onnx_shape(self, v: Value) -> Tuple[Optional[int], ...]:
        return tuple(v.tensor.shape[p] for p in v.perm)

    def channel_axis(self, v: Value) -> int:
        """The foveal axis holding ONNX axis 1 (channels or features)."""
        return v.perm[1]

    def per_channel(self, node: Any, c: np.ndarray, x: Value) -> np.ndarray:
        """An ONNX constant operand (broadcast against ``x`` the ONNX way) as the array that
        broadcasts against foveal's per-sample tensor (no batch axis, leading 1s dropped)."""
        r = x.tensor.ndim
        if c.ndim > r:
            self.fail(node, f"a constant of shape {c.shape} against a rank-{r} tensor")
        c = c.reshape((1,) * (r - c.ndim) + c.shape)
        f = np.transpose(c, np.argsort(x.perm))
        if f.shape[0] != 1:
            self.fail(node, f"a constant of shape {c.shape} varies along the batch axis")
        f = f[0]
        while f.ndim > 1 and f.shape[0] == 1:
            f = f[0]
        return f

    def flat_order(self, v: Value) -> Optional[np.ndarray]:
        shape = self.onnx_shape(v)[1:]
        idx = np.arange(int(np.prod(shape)), dtype=np.int64).reshape((1,) + tuple(shape))
        order = np.transpose(idx, np.argsort(v.perm)).ravel()
        return None if np.array_equal(order, np.arange(order.size)) else order

    def bias_add_after(self, node: Any) -> Optional[Tuple[str, np.ndarray]]:
        """For a MatMul whose only consumer is an Add of a constant vector: that Add's output
        and the vector (the pair is one Dense layer); None otherwise."""
        out = node.output[0]
        users = self.users.get(out, [])
        if out in self.outputs or len(users) != 1 or users[0].op_type != "Add":
            return None
        add = users[0]
        other = [t for t in add.input if t != out]
        if len(other) != 1 or other[0] not in self.constants:
            return None
        bias = np.asarray(self.constants[other[0]], np.float64)
        if bias.ndim > 2 or (bias.ndim == 2 and bias.shape[0] != 1):
            return None
        self.skip.add(id(add))
        return add.output[0], bias.reshape(-1)

    # ---- making layers --------------------------------------------------------------------
    def unique(self, base: str) -> str:
        name, k = base, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        return name

    def layer_name(self, node: Any) -> str:
        """The node's name as a layer name (see :func:`_layer_name`)."""
        return self.unique(_layer_name(node.name) or f"{node.op_type.lower()}_{len(self.names)}")

    def apply(self, layer: Any, inputs: Sequence[Value]) -> Any:
        tensors = [v.tensor for v in inputs]
        return layer(tensors if len(tensors) > 1 or isinstance(layer, L.Concatenate) else tensors[0])

    def wrap(self, tensor: Any, perm: Tuple[int, ...]) -> Value:
        return Value(tensor, perm)

    def emit(self, node: Any, layer: Any, inputs: Sequence[Value], weights: Sequence[Any] = (),
             layout: Tuple[int, ...] = NCHW, order: Optional[np.ndarray] = None,
             also: Sequence[str] = ()) -> None:
        tensor = self.apply(layer, inputs)
        if weights:
            layer.set_weights([np.asarray(w, np.float32) for w in weights])
        value = Value(tensor, tuple(layout), order)
        for name in [node.output[0], *also]:
            self.values[name] = value

    def alias(self, node: Any, value: Value) -> None:
        self.values[node.output[0]] = value

    # ---- constants ------------------------------------------------------------------------
    def constant_node(self, node: Any) -> None:
        for key in ("value", "value_float", "value_floats", "value_int", "value_ints"):
            v = self.attr(node, key)
            if v is not None:
                self.constants[node.output[0]] = (self.onnx.numpy_helper.to_array(v) if key == "value"
                                                  else np.asarray(v))
                return
        self.fail(node, "a Constant without a tensor, float(s) or int(s) value")

    def _slice(self, node: Any, a: np.ndarray, ins: List[Any]) -> np.ndarray:
        if self.opset < 10:
            idx = _slice_indices(self.attr(node, "starts"), self.attr(node, "ends"), self.attr(node, "axes"),
                                 None, a.ndim)
        else:
            opt = [ins[i] if len(ins) > i else None for i in (3, 4)]
            idx = _slice_indices(ins[1], ins[2], opt[0], opt[1], a.ndim)
        return a[idx]

    def fold(self, node: Any) -> bool:
        """Evaluate a node of constants (shape arithmetic of exporters); False if not foldable."""
        op = node.op_type
        if op == "Shape" and node.input[0] in self.values:
            shape = self.onnx_shape(self.values[node.input[0]])
            if None in shape[1:]:
                self.fail(node, "the shape of a tensor of free size (pass input_shape=)")
            self.constants[node.output[0]] = np.array([0, *shape[1:]], np.int64)  # 0: Reshape's "as is"
            return True
        if any(t and t not in self.constants for t in node.input):
            return False
        ins = [np.asarray(self.constants[t]) if t else None for t in node.input]
        a = ins[0]
        binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
        if op in binary:
            out = binary[op](a, ins[1])
            if op == "Div" and a.dtype.kind in "iu":
                out = (a // ins[1]).astype(a.dtype)
        elif op in ("Identity", "Cast"):
            out = a if op == "Identity" else a.astype(self.onnx.helper.tensor_dtype_to_np_dtype(
                int(self.attr(node, "to", 1))))
        elif op == "Sqrt":
            out = np.sqrt(a)
        elif op == "Reshape":
            target = [int(d) if d != 0 else a.shape[i] for i, d in enumerate(ins[1])]
            out = a.reshape(target)
        elif op in ("Unsqueeze", "Squeeze"):
            axes = self.attr(node, "axes") if self.opset < 13 else (ins[1] if len(ins) > 1 else None)
            if op == "Unsqueeze":
                out = a
                for ax in sorted(int(x) % (a.ndim + len(axes)) for x in axes):
                    out = np.expand_dims(out, ax)
            else:
                out = np.squeeze(a, None if axes is None else tuple(int(x) for x in axes))
        elif op == "Concat":
            out = np.concatenate([np.atleast_1d(x) for x in ins], axis=int(self.attr(node, "axis", 0)))
        elif op == "Gather":
            out = np.take(a, ins[1], axis=int(self.attr(node, "axis", 0)))
        elif op == "Transpose":
            out = np.transpose(a, self.attr(node, "perm"))
        elif op == "Shape":
            out = np.array(a.shape, np.int64)
        elif op == "ConstantOfShape":
            value = self.attr(node, "value")
            fill = self.onnx.numpy_helper.to_array(value) if value is not None else np.zeros(1, np.float32)
            out = np.full(tuple(int(d) for d in a.reshape(-1)), fill.reshape(-1)[0], fill.dtype)
        elif op == "Slice":
            out = self._slice(node, a, ins)
        elif op in ("Neg", "Floor", "Ceil"):
            out = {"Neg": np.negative, "Floor": np.floor, "Ceil": np.ceil}[op](a)
        elif op in ("Max", "Min") and len(ins) > 1:
            out = a
            for other in ins[1:]:
                out = (np.maximum if op == "Max" else np.minimum)(out, other)
        else:
            return False
        self.constants[node.output[0]] = np.asarray(out)
        return True


def _slice_indices(starts: Any, ends: Any, axes: Any, steps: Any, ndim: int) -> Tuple[Any, ...]:
    """ONNX Slice's arguments as a NumPy index (ends past the axis are clamped by Python)."""
    axes = list(range(len(starts))) if axes is None else [int(a) % ndim for a in axes]
    steps = [1] * len(starts) if steps is None else [int(v) for v in steps]
    index: List[Any] = [slice(None)] * ndim
    big = np.iinfo(np.int64).max // 2
    for a, b, e, st in zip(axes, starts, ends, steps):
        b, e = int(b), int(e)
        b = None if (st < 0 and b >= big) else b
        e = None if abs(e) >= big else e
        index[a] = slice(b, e, st)
    return tuple(index)


def _input(imp: Importer, input_shape: Any) -> Tuple[Any, Tuple[int, ...], Tuple[Optional[int], ...]]:
    """The model's image input: (its ONNX value_info, foveal perm, foveal per-sample shape)."""
    inits = set(imp.constants)
    inputs = [i for i in imp.graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"load_onnx: {imp.path!r} has {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs)}); an image model takes one")
    inp = inputs[0]
    dims = _onnx_graph._dims(inp)
    if len(dims) != 4:
        raise ValueError(f"load_onnx: {imp.path!r}: input {inp.name!r} has rank {len(dims)}; an image "
                         "model takes N x C x H x W (or N x H x W x C) images")
    nhwc = dims[3] in (1, 3, 4) and dims[1] not in (1, 3, 4)
    perm = (0, 1, 2, 3) if nhwc else NCHW
    h, w, c = (dims[1], dims[2], dims[3]) if nhwc else (dims[2], dims[3], dims[1])
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or len(input_shape) != 3 or not all(
                v is None or (isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v > 0)
                for v in input_shape):
            raise ValueError(f"input_shape must be (height, width, channels) of positive ints, got "
                             f"{input_shape!r}")
        ih, iw, ic = (None if v is None else int(v) for v in input_shape)
        if c is not None and ic is not None and ic != c:
            raise ValueError(f"input_shape has {ic} channels but the model takes {c}")
        h, w, c = ih if ih is not None else h, iw if iw is not None else w, ic if ic is not None else c
    if c is None:
        raise ValueError(f"load_onnx: {imp.path!r}: the input's channel count is not fixed; pass "
                         "input_shape=(height, width, channels)")
    imp.batch = dims[0]
    return inp, perm, (h, w, c)


def _target(imp: Importer, include_top: bool) -> str:
    """The tensor the model ends at: the graph's output, or the feature tensor before the
    classifier and any flatten (the one OnnxBackbone finds)."""
    if include_top:
        outs = [o.name for o in imp.graph.output]
        if len(outs) != 1:
            raise ValueError(f"load_onnx: {imp.path!r} has {len(outs)} outputs ({', '.join(outs)}); "
                             "foveal models have one")
        return outs[0]
    name, _ = _onnx_graph.find_features(imp.model, imp.path)
    producer = {o: n for n in imp.nodes for o in n.output}
    while name in producer and producer[name].op_type in _FLATTEN_OPS:
        name = producer[name].input[0]
    return name


def _needed(imp: Importer, target: str) -> Set[int]:
    """ids of the nodes ``target`` depends on."""
    producer = {o: n for n in imp.nodes for o in n.output if o}
    need, todo = set(), [target]
    while todo:
        t = todo.pop()
        node = producer.get(t)
        if node is None or id(node) in need:
            continue
        need.add(id(node))
        todo.extend(i for i in node.input if i)
    return need


def _preprocess(imp: Importer, x: Any, preprocess: str, channels: int) -> Tuple[Any, bool]:
    if not isinstance(preprocess, str) or preprocess.lower() not in CONVENTIONS:
        raise ValueError(f"preprocess must be one of {', '.join(map(repr, CONVENTIONS))}, got {preprocess!r}")
    conv = CONVENTIONS[preprocess.lower()]
    if conv.name == "none":
        return x, False
    if conv.rgb_only and channels != 3:
        raise ValueError(f"preprocess={preprocess!r} normalizes RGB channels, but the model takes "
                         f"{channels} channel(s); use 'tf' or 'none'")
    scale = np.broadcast_to(np.asarray(conv.scale, np.float64), (channels,))
    shift = np.broadcast_to(np.asarray(conv.shift, np.float64), (channels,))
    if conv.bgr:  # the layer sees RGB: BGR's statistics reversed; the channels flip in the convs
        scale, shift = scale[::-1], shift[::-1]
    layer = L.Rescaling(scale.tolist() if np.ptp(scale) else float(scale[0]),
                        shift.tolist() if np.ptp(shift) else float(shift[0]), name=imp.unique("preprocess"))
    return layer(x), conv.bgr


def load_onnx(path: Any, include_top: bool = True, pooling: Optional[str] = None,
              input_shape: Optional[Sequence[Optional[int]]] = None, preprocess: str = "none") -> Any:
    """An ONNX image model as a functional :class:`~foveal.nn.Model` of trainable foveal layers
    with the ONNX weights, computing what the ONNX model computes.

    Inputs are NHWC like ``predict``'s (an NCHW model's kernels are transposed once, never the
    activations), one layer per ONNX node named after it: Conv (any groups, dilations, pads,
    strides), ConvTranspose, BatchNormalization, Relu, LeakyRelu, Clip(0, max), Sigmoid,
    HardSigmoid, HardSwish, Tanh, Elu, Softplus, Gelu, Softmax, Add/Sub/Mul/Div (a constant
    operand is a ``Rescaling``), Sum, Mean, Max, Min, Concat, MaxPool, AveragePool,
    GlobalAveragePool/GlobalMaxPool (and ReduceMean/ReduceMax over H, W), Gemm and MatMul (+ Add)
    as Dense, Flatten/Reshape/Squeeze to ``N x D``, Unsqueeze/Reshape to ``N x C x 1 x 1``, Dropout,
    Identity, Pad with zeros, Resize/Upsample (integer factors, nearest or half-pixel bilinear);
    Transpose and Cast only relabel; shape arithmetic on constants is folded.

    Args:
        path: the ``.onnx`` file.
        include_top: False cuts the graph at the feature tensor :class:`~foveal.transfer.OnnxBackbone`
            finds (the input of the last Gemm/MatMul, or a headless model's output), before any
            flatten, as Keras applications' ``include_top=False``.
        pooling: with ``include_top=False``: None (the feature map), ``"avg"`` or ``"max"`` (a global
            pooling to ``N x C``).
        input_shape: ``(height, width, channels)``, fixing a free spatial size (or replacing the
            model's, for a fully convolutional cut).
        preprocess: ``"none"``, ``"torch"``, ``"caffe"`` or ``"tf"``: the fixed preprocessing of
            :class:`~foveal.transfer.OnnxBackbone` as the first layer (inputs are then 0-255 pixels).

    Raises:
        FileNotFoundError: no such file. ValueError: not an ONNX model, or an op with no foveal
        layer (the message names the op type and the node), or bad arguments.
    """
    from .models import Model

    path = os.fspath(path)
    if pooling not in _POOLING:
        raise ValueError(f"pooling must be None, 'avg' or 'max', got {pooling!r}")
    if not isinstance(include_top, (bool, np.bool_)):
        raise TypeError(f"include_top must be a bool, got {type(include_top).__name__}")
    model = _onnx_graph.load(path)
    imp = Importer(model, path)
    inp, perm, shape = _input(imp, input_shape)
    x = L.Input(shape, name=imp.unique(_layer_name(inp.name) or "input"))
    h, flip = _preprocess(imp, x, preprocess, shape[2])
    imp.values[inp.name] = Value(h, perm, None, flip)
    target = _target(imp, bool(include_top))
    need = _needed(imp, target)
    for node in imp.nodes:
        if id(node) not in need or id(node) in imp.skip:
            continue
        if node.domain not in ("", "ai.onnx"):
            imp.fail(node, f"ops of domain {node.domain!r} have no foveal layer")
        if node.op_type == "Constant":
            imp.constant_node(node)
        elif imp.fold(node):
            continue
        elif node.op_type in CONVERTERS:
            CONVERTERS[node.op_type](imp, node)
        else:
            imp.fail(node, f"no foveal layer for this op (supported: {', '.join(supported_ops())})")
    if target not in imp.values:
        raise ValueError(f"load_onnx: {path!r}: the output {target!r} is a constant, not computed "
                         "from the image")
    out = imp.values[target]
    if out.order is not None:
        raise ValueError(f"load_onnx: {path!r}: the output {target!r} is a spatial map flattened in "
                         "NCHW order; foveal's flatten is NHWC (use include_top=False)")
    y = out.tensor
    if pooling is not None and not include_top and len(y.shape) == 4:
        cls = L.GlobalAveragePooling2D if pooling == "avg" else L.GlobalMaxPooling2D
        y = cls(name=imp.unique(f"{pooling}_pool"))(y)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", model.graph.name or "") or "onnx_model"
    return Model(x, y, name=name)
