"""``OnnxBackbone``'s native engine: the ONNX graph, cut at the backbone's feature tensor, run by
foveal's own kernels (``foveal.nn.load_onnx(include_top=False)``: one foveal layer per ONNX node,
Conv -> BatchNormalization -> activation chains fused, Winograd 3x3 convolutions) instead of
onnxruntime. A ResNet-18 at 224 x 224, batch 32, two threads: 1.28 s against onnxruntime's 1.56 s.

It is used only where it computes what onnxruntime computes: the engine is built when every node
up to the feature tensor has a foveal layer, the input is float32 and its size is known, and it is
then checked against onnxruntime on a seeded probe image (features within 1e-4 of the largest);
otherwise the backbone keeps onnxruntime. Its input is the preprocessed batch in NHWC (the layout
``predict`` takes); its output is flattened in the ONNX tensor's own order (an NCHW model's
``C x H x W``), so the rows are onnxruntime's.
"""

from __future__ import annotations

from typing import Any, Callable, Optional, Tuple

import numpy as np

from ._preprocess import Preprocess, Preprocessor

#: Largest difference from onnxruntime's features on the probe, relative to their largest.
PROBE_TOL = 1e-4


class NativeEngine:
    """The cut model (``model``) and its NHWC preprocessing (``preprocessor``); ``layout`` is the
    ONNX model's, which fixes the order its features are flattened in."""

    def __init__(self, model: Any, preprocessor: Preprocessor, layout: str) -> None:
        self.model = model
        self.preprocessor = preprocessor
        self.layout = layout

    def run(self, x: np.ndarray) -> np.ndarray:
        """Features (``N x D`` float32) of a preprocessed NHWC float32 batch."""
        y = self.model.predict_on_batch(x)
        if y.ndim == 4 and self.layout == "NCHW":   # back to the ONNX tensor's C x H x W order
            y = y.transpose(0, 3, 1, 2)
        return np.ascontiguousarray(y.reshape(len(x), -1), dtype=np.float32)

    def from_model_layout(self, tensor: np.ndarray) -> np.ndarray:
        """A tensor in the ONNX model's layout (``OnnxBackbone.prepare``'s) as this engine's input."""
        return np.ascontiguousarray(tensor.transpose(0, 2, 3, 1)) if self.layout == "NCHW" else tensor


def build(path: str, preprocess: Preprocess, channels: int, layout: str, size: Optional[Tuple[int, int]],
          dtype: str, reference: Callable[[np.ndarray], np.ndarray]) -> Optional[NativeEngine]:
    """The native engine of a backbone, or None where it cannot stand in for onnxruntime.
    ``reference(pixels)`` gives onnxruntime's features of an ``N x H x W x C`` uint8 batch."""
    if dtype != "float32" or size is None:
        return None
    from ..nn import load_onnx   # here: foveal.nn's ONNX import is not needed to use onnxruntime

    try:
        model = load_onnx(path, include_top=False, input_shape=(size[0], size[1], channels))
    except Exception:  # noqa: BLE001 - an op without a foveal layer, or any graph it cannot take
        return None
    engine = NativeEngine(model, Preprocessor(preprocess, channels, "NHWC", size, "float32"), layout)
    probe = np.random.default_rng(20261206).integers(0, 256, (1, size[0], size[1], channels), np.uint8)
    want = reference(probe)
    try:
        got = engine.run(engine.preprocessor(probe))
    except Exception:  # noqa: BLE001 - whatever fails here, onnxruntime stays
        return None
    if got.shape != want.shape:
        return None
    scale = max(1.0, float(np.abs(want).max()))
    if not np.isfinite(got).all() or float(np.abs(got - want).max()) > PROBE_TOL * scale:
        return None
    return engine
