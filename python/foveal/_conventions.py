"""The fixed pixel conventions pretrained image models were trained with (Keras's
``preprocess_input`` modes), each a per-channel affine map of 0..255 pixels; shared by
``foveal.transfer`` (OnnxBackbone's preprocessing) and ``foveal.nn.load_onnx`` (a first layer).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

IMAGENET_MEAN_RGB = (0.485, 0.456, 0.406)
IMAGENET_STD_RGB = (0.229, 0.224, 0.225)
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@dataclass(frozen=True)
class Convention:
    """A per-channel affine map ``y = x[..., order] * scale + shift`` of 0..255 pixels."""

    name: str
    scale: Tuple[float, ...]
    shift: Tuple[float, ...]
    bgr: bool = False        # reverse the channel order first
    rgb_only: bool = False   # per-channel statistics of RGB images: 3 channels only


CONVENTIONS = {
    "torch": Convention("torch", tuple(1.0 / (255.0 * s) for s in IMAGENET_STD_RGB),
                        tuple(-m / s for m, s in zip(IMAGENET_MEAN_RGB, IMAGENET_STD_RGB)),
                        rgb_only=True),
    "caffe": Convention("caffe", (1.0,), tuple(-m for m in CAFFE_MEAN_BGR), bgr=True,
                        rgb_only=True),
    "tf": Convention("tf", (1.0 / 127.5,), (-1.0,)),
    "none": Convention("none", (1.0,), (0.0,)),
}
