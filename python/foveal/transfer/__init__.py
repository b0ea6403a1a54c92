"""Transfer learning (``foveal.transfer``): pretrained image models as frozen feature extractors,
run by onnxruntime.

``OnnxBackbone`` loads any ONNX image model (NCHW or NHWC), finds the pooled features before
its classifier (or, for a feature extractor exported without one, takes its output, averaging
a spatial map) and extracts them from arrays, ``foveal.data`` iterators or image folders;
``backbone.as_layer()`` puts it in front of a ``foveal.nn`` head, which then trains alone with
each image's features computed once::

    from foveal import nn, transfer

    transfer.export_torchvision("resnet18", "resnet18.onnx")   # needs torch + torchvision
    backbone = transfer.OnnxBackbone("resnet18.onnx")
    model = nn.Sequential([nn.Input((224, 224, 3)), backbone.as_layer(),
                           nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x_train, y_train, epochs=10)

``extract_command`` is ``foveal extract BACKBONE DIR -o OUT.npz``. onnx and onnxruntime are
imported when a backbone is first made; torch and torchvision only by the exporters.
"""

from __future__ import annotations

from ._command import extract_command, save_features
from ._mobilenet import pretrained_mobilenet_v2_onnx, write_mobilenet_v2_onnx
from ._preprocess import CONVENTIONS
from ._torch_export import TORCHVISION_MODELS, export_torch, export_torchvision
from ._torch_weights import mobilenet_v2_weights_path, read_torch_state_dict
from .backbone import CacheInfo, DirectoryFeatures, OnnxBackbone, OnnxBackboneLayer

__all__ = [
    "OnnxBackbone", "OnnxBackboneLayer", "DirectoryFeatures", "CacheInfo", "export_torchvision",
    "export_torch", "extract_command", "save_features", "CONVENTIONS", "TORCHVISION_MODELS",
    "pretrained_mobilenet_v2_onnx", "write_mobilenet_v2_onnx", "read_torch_state_dict",
    "mobilenet_v2_weights_path",
]
