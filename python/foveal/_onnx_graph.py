"""Reading an ONNX image model and cutting it at its feature tensor (``onnx`` package only).

An image classifier ends in a fully connected layer (ONNX ``Gemm`` or ``MatMul``) whose input is
the pooled feature vector: that tensor is the default feature output.  A feature extractor
exported without its classifier (a "headless" model) has no such layer at its end: its one graph
output is then the features (``N x D``, a pooled ``N x C x 1 x 1`` / ``N x 1 x 1 x C``, or a
spatial map that the backbone averages).  The model handed to onnxruntime keeps only the nodes
that feature tensor depends on, with that tensor as its one graph output, so the classifier (or
anything past a chosen intermediate tensor) never runs.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Set, Tuple

#: ONNX element types an image input may have, and the NumPy dtype fed to it.
_INPUT_DTYPES = {1: "float32", 10: "float16"}
_POOLING_OPS = ("GlobalAveragePool", "GlobalMaxPool", "ReduceMean", "ReduceMax", "Flatten",
                "Reshape", "Squeeze", "Gemm", "MatMul")


def require(module: str) -> Any:
    """Import ``module`` (``"onnx"``, ``"onnxruntime"``), or raise an ImportError that says how
    to install it."""
    try:
        return importlib.import_module(module)
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError(f"foveal.transfer needs {module}: pip install {module}") from e


def import_onnx() -> Any:
    """The ``onnx`` module (see :func:`require`)."""
    return require("onnx")


def load(path: str) -> Any:
    """Parse the ONNX file at ``path``: FileNotFoundError when it is missing, ValueError (naming
    the path) when it is not an ONNX model."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no such ONNX file: {path!r}")
    onnx = import_onnx()
    try:
        model = onnx.load(path)
    except Exception as e:  # noqa: BLE001 - protobuf raises several kinds of errors
        raise ValueError(f"path: {path!r} is not a readable ONNX model: {e}") from None
    if not model.HasField("graph") or not model.graph.node or not model.graph.input:
        raise ValueError(f"path: {path!r} is not a readable ONNX model (no graph, nodes or inputs)")
    return model


@dataclass(frozen=True)
class ImageInput:
    """The model's image input: name, dims (None where dynamic), layout and dtype."""

    name: str
    dims: Tuple[Optional[int], ...]
    layout: str          # "NCHW" or "NHWC"
    dtype: str           # NumPy dtype name fed to the session

    @property
    def channels(self) -> int:
        c = self.dims[1] if self.layout == "NCHW" else self.dims[3]
        assert c is not None
        return c

    @property
    def spatial(self) -> Tuple[Optional[int], Optional[int]]:
        """(height, width) as the model fixes them (None where dynamic)."""
        return (self.dims[2], self.dims[3]) if self.layout == "NCHW" else (self.dims[1], self.dims[2])

    @property
    def batch(self) -> Optional[int]:
        """The fixed batch size, or None when the batch axis is dynamic."""
        return self.dims[0]


def _dims(value_info: Any) -> Tuple[Optional[int], ...]:
    shape = value_info.type.tensor_type.shape
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                 for d in shape.dim)


def image_input(model: Any, path: str, layout: Optional[str] = None) -> ImageInput:
    """The one image input of ``model``; its layout is read from the dims (a channel axis of 1
    or 3 next to the batch axis is NCHW, at the end NHWC) unless ``layout`` says it."""
    graph = model.graph
    inits = {t.name for t in graph.initializer}
    inputs = [i for i in graph.input if i.name not in inits]
    if len(inputs) != 1:
        raise ValueError(f"path: {path!r} has {len(inputs)} inputs "
                         f"({', '.join(i.name for i in inputs)}); a backbone takes one image input")
    inp = inputs[0]
    elem = inp.type.tensor_type.elem_type
    if elem not in _INPUT_DTYPES:
        raise ValueError(f"path: {path!r}: input {inp.name!r} has ONNX element type {elem}; "
                         "a backbone takes float32 or float16 images")
    dims = _dims(inp)
    if len(dims) != 4:
        raise ValueError(f"path: {path!r}: input {inp.name!r} has rank {len(dims)} "
                         f"(dims {list(dims)}); a backbone takes 4-D N x C x H x W or "
                         "N x H x W x C images")
    if layout is None:
        first, last = dims[1] in (1, 3), dims[3] in (1, 3)
        if first:  # also when both could be channels: ONNX's own convention is NCHW
            layout = "NCHW"
        elif last:
            layout = "NHWC"
        else:
            raise ValueError(f"path: {path!r}: cannot tell the channel axis of input {inp.name!r} "
                             f"(dims {list(dims)}: neither axis 1 nor axis 3 is 1 or 3); pass "
                             "layout='NCHW' or 'NHWC'")
    elif layout not in ("NCHW", "NHWC"):
        raise ValueError(f"layout must be 'NCHW', 'NHWC' or None, got {layout!r}")
    channel = dims[1] if layout == "NCHW" else dims[3]
    if channel not in (1, 3):
        raise ValueError(f"path: {path!r}: input {inp.name!r} ({layout}, dims {list(dims)}) must "
                         f"have 1 or 3 channels, got {channel}")
    return ImageInput(inp.name, dims, layout, _INPUT_DTYPES[elem])


def _constants(graph: Any) -> Set[str]:
    names = {t.name for t in graph.initializer}
    names.update(o for n in graph.node if n.op_type == "Constant" for o in n.output)
    return names


#: Ops that may follow the classifier on the way to a graph output (bias, scale, activation,
#: probabilities, predicted class, reshaping), each with the one input that carries the data.
_HEAD_OPS = ("Add", "Sub", "Mul", "Div", "Softmax", "LogSoftmax", "Sigmoid", "Relu", "Tanh",
             "Clip", "Identity", "Dropout", "Cast", "Flatten", "Reshape", "Squeeze", "Unsqueeze",
             "Transpose", "ArgMax", "TopK", "Hardmax")
#: Of those, the ops whose later inputs are parameters (shapes, axes, bounds, ratios, k).
_FIRST_INPUT_ONLY = ("Clip", "Dropout", "Reshape", "Squeeze", "Unsqueeze", "TopK")


def classifier(model: Any) -> Optional[str]:
    """The data input of the classifier: the last ``Gemm``/``MatMul`` node (in graph order)
    from which a graph output is reached through head ops only (bias, activation, softmax,
    reshaping, argmax: see ``_HEAD_OPS``), or None when no graph output ends in one (a
    headless feature extractor, whose ``Gemm``/``MatMul`` nodes, if any, are inner layers)."""
    graph = model.graph
    consts = _constants(graph)
    producer = {o: i for i, n in enumerate(graph.node) for o in n.output if o}
    found: Optional[Tuple[int, str]] = None
    seen: Set[str] = set()
    todo = [o.name for o in graph.output]
    while todo:
        name = todo.pop()
        if name in seen or name not in producer:
            continue
        seen.add(name)
        i = producer[name]
        node = graph.node[i]
        data = [t for t in node.input if t and t not in consts]
        if node.op_type in ("Gemm", "MatMul"):
            data = [t for t in node.input[:2] if t and t not in consts]
            if data and (found is None or i > found[0]):
                found = (i, data[0])
        elif node.op_type in _HEAD_OPS:
            if node.op_type in _FIRST_INPUT_ONLY:
                data = [t for t in node.input[:1] if t and t not in consts]
            if len(data) == 1:   # not a residual sum or a product of two computed tensors
                todo.append(data[0])
    return None if found is None else found[1]


def find_features(model: Any, path: str) -> Tuple[str, bool]:
    """The default feature tensor and whether it is a headless model's output.

    With a classifier (see :func:`classifier`), its input, ``(name, False)``. Without one, the
    model's one graph output, ``(name, True)``: the backbone flattens it, averaging a 4-D
    spatial map over its spatial axes first. ValueError when there is no classifier and not
    exactly one graph output (listing candidates for ``output=``)."""
    found = classifier(model)
    if found is not None:
        return found, False
    graph = model.graph
    produced = {o for n in graph.node for o in n.output}
    outputs = [o.name for o in graph.output]
    if len(outputs) == 1 and outputs[0] in produced:
        return outputs[0], True
    raise ValueError(f"path: {path!r} has no classifier (a Gemm/MatMul node at its end) whose "
                     f"input could be the features, and {len(outputs)} graph outputs "
                     f"({', '.join(outputs)}) instead of one feature tensor; pass output= one "
                     f"of: {', '.join(candidates(model))}")


def spatial_axes(shape: Tuple[int, ...], layout: str, size: Tuple[int, int]) -> Tuple[int, int]:
    """The spatial axes of a 4-D feature map of ``shape`` computed from an image of ``size``
    ``(height, width)`` by a model whose input has ``layout``: axes (2, 3) when the map reads
    as NCHW, (1, 2) as NHWC. The reading whose spatial axes are 1 x 1 wins when only one is
    (a pooled ``N x C x 1 x 1`` or ``N x 1 x 1 x C``), then the only one that is a plausible
    downsampling of the image (no larger, and one stride ``s`` for both axes, each spatial
    size within 1 of the image's divided by ``s``: 224 x 224 -> 7 x 7, 225 x 224 -> 8 x 7),
    else the input's layout (so a map keeps its input's layout unless its shape says
    otherwise, as for a tf2onnx export with ``--inputs-as-nchw``, whose outputs stay NHWC)."""
    readings = {"NCHW": (2, 3), "NHWC": (1, 2)}
    order = [layout, "NHWC" if layout == "NCHW" else "NCHW"]

    def pooled(name: str) -> bool:
        return all(shape[a] == 1 for a in readings[name])

    def plausible(name: str) -> bool:
        (sh, sw), (h, w) = (shape[a] for a in readings[name]), size
        if not (1 <= sh <= h and 1 <= sw <= w):
            return False
        # the strides s with |h / s - sh| <= 1, and those for w: do the two ranges meet?
        low = max(h / (sh + 1), w / (sw + 1))
        inf = float("inf")
        high = min(h / (sh - 1) if sh > 1 else inf, w / (sw - 1) if sw > 1 else inf)
        return low <= high

    for test in (pooled, plausible):
        hits = [name for name in order if test(name)]
        if len(hits) == 1:
            return readings[hits[0]]
    return readings[layout]


def candidates(model: Any, most: int = 12) -> List[str]:
    """Tensor names worth suggesting as ``output=``: graph outputs, pooling/flatten/classifier
    outputs and the last nodes' outputs, latest first, at most ``most``."""
    graph = model.graph
    names: List[str] = []
    for node in reversed(graph.node):
        if node.op_type in _POOLING_OPS or len(names) < 4:
            names.extend(o for o in node.output if o and o not in names)
    names = [o.name for o in graph.output if o.name not in names] + names
    return names[:most] + ([f"... ({len(names) - most} more)"] if len(names) > most else [])


def check_output(model: Any, name: str, path: str) -> None:
    """ValueError unless ``name`` is a tensor some node produces (listing candidates)."""
    if not isinstance(name, str):
        raise TypeError(f"output must be a tensor name (str) or None, got {type(name).__name__}")
    produced = {o for n in model.graph.node for o in n.output}
    if name in produced:
        return
    import difflib

    close = difflib.get_close_matches(name, sorted(produced), n=3)
    hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
    raise ValueError(f"output: {path!r} has no tensor named {name!r}{hint}; candidates: "
                     f"{', '.join(candidates(model))}")


def _subgraph_inputs(node: Any) -> Iterable[str]:
    """Names a node's subgraphs (If/Loop/Scan bodies) read, which may come from outside."""
    for attr in node.attribute:
        for g in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
            for inner in g.node:
                yield from inner.input
                yield from _subgraph_inputs(inner)


def _elem_type(model: Any, name: str) -> int:
    graph = model.graph
    for vi in list(graph.output) + list(graph.value_info):
        if vi.name == name and vi.type.tensor_type.elem_type:
            return int(vi.type.tensor_type.elem_type)
    try:
        inferred = import_onnx().shape_inference.infer_shapes(model)
        for vi in inferred.graph.value_info:
            if vi.name == name and vi.type.tensor_type.elem_type:
                return int(vi.type.tensor_type.elem_type)
    except Exception:  # noqa: BLE001 - inference is only a hint here
        pass
    return 1  # float


def cut_at(model: Any, name: str) -> Any:
    """``model`` (changed in place) with ``name`` as its only output and only the nodes, inputs
    and initializers that output needs."""
    onnx = import_onnx()
    graph = model.graph
    needed = {name}
    keep_node = [False] * len(graph.node)
    for i in range(len(graph.node) - 1, -1, -1):
        node = graph.node[i]
        if any(o in needed for o in node.output):
            keep_node[i] = True
            needed.update(t for t in node.input if t)
            needed.update(_subgraph_inputs(node))
    elem = _elem_type(model, name)
    inits = {t.name for t in graph.initializer}
    for i in range(len(graph.node) - 1, -1, -1):
        if not keep_node[i]:
            del graph.node[i]
    for field in (graph.initializer, graph.sparse_initializer):
        for i in range(len(field) - 1, -1, -1):
            tensor_name = field[i].values.name if field is graph.sparse_initializer else field[i].name
            if tensor_name not in needed:
                del field[i]
    for i in range(len(graph.value_info) - 1, -1, -1):
        if graph.value_info[i].name not in needed:
            del graph.value_info[i]
    for i in range(len(graph.input) - 1, -1, -1):  # old IR versions list initializers as inputs
        if graph.input[i].name in inits and graph.input[i].name not in needed:
            del graph.input[i]
    del graph.output[:]
    graph.output.append(onnx.helper.make_tensor_value_info(name, elem, None))
    return model
