"""Writing PyTorch models as ONNX backbones: any ``torch.nn.Module`` (:func:`export_torch`) or
a torchvision classifier by name (:func:`export_torchvision`).

Nothing is downloaded: pretrained weights must already be in torch's hub cache (where
torchvision keeps what it downloaded before) or be given as a state-dict file.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Optional, Tuple
from urllib.parse import urlparse

from .._checks import as_int, as_pair
from .._files import atomic_path

__all__ = ["export_torch", "export_torchvision", "TORCHVISION_MODELS"]

#: torchvision classifiers :func:`export_torchvision` writes, with their input size (h, w).
TORCHVISION_MODELS = {
    "resnet18": (224, 224), "resnet34": (224, 224), "resnet50": (224, 224),
    "vgg16": (224, 224), "vgg19": (224, 224), "alexnet": (224, 224),
    "mobilenet_v3_small": (224, 224), "mobilenet_v3_large": (224, 224),
    "inception_v3": (299, 299), "efficientnet_b0": (224, 224),
}
OPSET = 17


def _import_torch() -> Any:
    try:
        import torch
    except ImportError as e:
        raise ImportError("exporting a PyTorch model needs torch: pip install torch") from e
    return torch


def _destination(path: Any) -> str:
    """``path`` made absolute; TypeError if it is no path, FileNotFoundError if its folder is
    missing (checked before any slow work)."""
    try:
        path = os.path.abspath(os.fspath(path))
    except TypeError:
        raise TypeError(f"path must be a file path, got {type(path).__name__}") from None
    if not os.path.isdir(os.path.dirname(path)):
        raise FileNotFoundError(f"path: folder {os.path.dirname(path)!r} does not exist")
    return path


def export_torch(module: Any, path: Any, input_size: Any = (224, 224), channels: int = 3,
                 opset: int = OPSET) -> str:
    """Write a ``torch.nn.Module`` (in eval mode) as an ONNX image model, atomically.

    The graph takes ``N x channels x H x W`` float32 (``input``, any batch size) and returns the
    module's output (``output``). Returns the absolute path written.
    """
    torch = _import_torch()
    path = _destination(path)
    h, w = as_pair(input_size, "input_size", 1)
    channels = as_int(channels, "channels", 1)
    module.eval()
    dummy = torch.zeros(1, channels, h, w)
    args = dict(opset_version=as_int(opset, "opset", 7), input_names=["input"],
                output_names=["output"], dynamic_axes={"input": {0: "N"}, "output": {0: "N"}})
    with atomic_path(path, "path", ".onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the TorchScript exporter's deprecation notice
        try:   # the TorchScript exporter: no onnxscript needed
            torch.onnx.export(module, (dummy,), tmp, dynamo=False, **args)
        except TypeError:   # a torch from before the ``dynamo`` argument
            torch.onnx.export(module, (dummy,), tmp, **args)
    return path


def _cached_weights(torch: Any, name: str, weights: Any) -> str:
    """The hub-cache file of a torchvision weights entry; FileNotFoundError if absent."""
    filename = os.path.basename(urlparse(weights.url).path)
    cached = os.path.join(torch.hub.get_dir(), "checkpoints", filename)
    if not os.path.isfile(cached):
        raise FileNotFoundError(
            f"weights {weights} are not in torch's cache ({cached!r}) and foveal does not "
            f"download them; fetch them once with torchvision (e.g. torchvision.models."
            f"get_model({name!r}, weights={weights.name!r})), or pass weights=None (random) or "
            "the path of a state-dict file")
    return cached


def export_torchvision(name: str, path: Any, weights: Optional[str] = "DEFAULT",
                       input_size: Optional[Tuple[int, int]] = None) -> str:
    """Write torchvision classifier ``name`` as an ONNX backbone for :class:`OnnxBackbone`
    (NCHW input, dynamic batch, ``preprocess="torch"``), atomically.

    Args:
        name: one of :data:`TORCHVISION_MODELS` (resnet18/34/50, vgg16/19, alexnet,
            mobilenet_v3_small/large, inception_v3, efficientnet_b0).
        path: the ``.onnx`` file to write (its folder must exist).
        weights: ``"DEFAULT"`` or a weights name such as ``"IMAGENET1K_V1"`` (taken from torch's
            hub cache, never downloaded: FileNotFoundError if absent), a path to a state-dict
            file, or None for random weights.
        input_size: ``(height, width)`` of the exported graph (default the model's: 224, or 299
            for inception_v3).

    Returns the absolute path written. Raises ImportError without torch and torchvision.
    """
    if name not in TORCHVISION_MODELS:
        raise ValueError(f"name must be one of {', '.join(TORCHVISION_MODELS)}, got {name!r}")
    torch = _import_torch()
    try:
        import torchvision
    except ImportError as e:
        raise ImportError("export_torchvision needs torchvision: pip install torchvision") from e
    path = _destination(path)
    size = TORCHVISION_MODELS[name] if input_size is None else as_pair(input_size, "input_size", 1)
    models = torchvision.models
    if weights is None:
        model = models.get_model(name, weights=None)
    elif isinstance(weights, (str, os.PathLike)) and os.path.isfile(os.fspath(weights)):
        # torchvision's pretrained inception_v3 maps ImageNet-normalized input itself
        extra = {"transform_input": True} if name == "inception_v3" else {}
        model = models.get_model(name, weights=None, **extra)
        state = torch.load(os.fspath(weights), map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    elif isinstance(weights, str):
        enum = models.get_model_weights(name)
        try:
            entry = enum[weights]
        except KeyError:
            raise ValueError(f"weights for {name} must be None, a state-dict file or one of "
                             f"{', '.join(['DEFAULT'] + [w.name for w in enum])}, got "
                             f"{weights!r}") from None
        _cached_weights(torch, name, entry)
        model = models.get_model(name, weights=entry)
    else:
        raise TypeError(f"weights must be None, a name or a file path, got {type(weights).__name__}")
    return export_torch(model, path, size)
