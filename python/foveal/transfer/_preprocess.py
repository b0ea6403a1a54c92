"""Turning a batch of images into a backbone's input tensor: channels, size, pixel convention,
layout.

The named conventions are the ones pretrained models were trained with (Keras's
``preprocess_input`` modes), each a per-channel affine map of 0..255 pixels:

* ``"torch"``: ``(x / 255 - mean) / std`` with ImageNet's RGB mean (0.485, 0.456, 0.406) and
  std (0.229, 0.224, 0.225) (torchvision, timm);
* ``"caffe"``: RGB -> BGR, then minus ImageNet's BGR mean (103.939, 116.779, 123.68) on the
  0..255 scale (the original Caffe ResNet/VGG weights);
* ``"tf"``: ``x / 127.5 - 1``, pixels in [-1, 1] (Inception/MobileNet weights from TensorFlow);
* ``"none"``: the pixels as they are.

A callable receives the resized ``N x H x W x C`` float32 batch (0..255 for image files) and
returns the model's input in the same NHWC layout; the transpose to NCHW follows.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable, Optional, Tuple, Union

import numpy as np

from .. import image as _image
from .._conventions import CAFFE_MEAN_BGR, CONVENTIONS, IMAGENET_MEAN_RGB, IMAGENET_STD_RGB, Convention

__all__ = ["CONVENTIONS", "Convention", "Preprocessor", "IMAGENET_MEAN_RGB", "IMAGENET_STD_RGB",
           "CAFFE_MEAN_BGR"]


Preprocess = Union[str, Callable[[np.ndarray], Any]]


class Preprocessor:
    """Callable: a raw ``N x H x W x C`` batch (uint8 or float, C in 1, 3, 4) -> the model's
    input tensor (its layout, size and dtype).

    Args:
        preprocess: a name from :data:`CONVENTIONS` or a callable (see the module docstring).
        channels: the model's channel count (1 or 3).
        layout: ``"NCHW"`` or ``"NHWC"``.
        size: ``(height, width)`` every image is resized to (bilinear), or None to keep sizes.
        dtype: the model's input dtype (``"float32"`` or ``"float16"``).
    """

    def __init__(self, preprocess: Preprocess, channels: int, layout: str,
                 size: Optional[Tuple[int, int]], dtype: str) -> None:
        if callable(preprocess):
            self.convention: Optional[Convention] = None
            self.function: Optional[Callable[[np.ndarray], Any]] = preprocess
        elif isinstance(preprocess, str) and preprocess.lower() in CONVENTIONS:
            self.convention = CONVENTIONS[preprocess.lower()]
            self.function = None
            if self.convention.rgb_only and channels != 3:
                raise ValueError(f"preprocess={preprocess!r} normalizes RGB channels, but the model "
                                 f"takes {channels} channel(s); use 'tf', 'none' or a callable")
        else:
            raise ValueError(f"preprocess must be one of {', '.join(map(repr, CONVENTIONS))} or a "
                             f"callable, got {preprocess!r}")
        self.channels, self.layout, self.size, self.dtype = channels, layout, size, dtype
        self._warned = False

    @property
    def name(self) -> Optional[str]:
        """The convention's name, or None for a callable."""
        return self.convention.name if self.convention is not None else None

    def _channels(self, x: np.ndarray) -> np.ndarray:
        c = x.shape[-1]
        if c == self.channels:
            return x
        if self.channels == 3 and c == 4:   # RGBA: the alpha channel is dropped
            return x[..., :3]
        if self.channels == 3 and c == 1:   # gray: repeated into R, G and B
            return np.repeat(x, 3, axis=-1)
        raise ValueError(f"x has {c} channel(s) but the model takes {self.channels}")

    def _check_range(self, x: np.ndarray) -> None:
        if (self._warned or x.dtype == np.uint8 or self.convention is None
                or self.convention.name == "none" or not x.size):
            return
        if float(x.max()) <= 1.0:
            self._warned = True
            warnings.warn(f"float images with values in [0, 1] given to preprocess="
                          f"{self.convention.name!r}, which expects 0..255 pixels (as Keras's "
                          "preprocess_input); drop the rescaling or use preprocess='none' or a "
                          "callable", RuntimeWarning, stacklevel=2)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = self._channels(x)
        if self.size is not None and x.shape[1:3] != self.size:
            x = _image.resize(x, self.size, "bilinear")   # uint8 stays uint8, as a decoder's resize
        self._check_range(x)
        nchw = self.layout == "NCHW"
        if self.function is not None:
            x = self._call_function(x)
            conv = CONVENTIONS["none"]
        else:
            conv = self.convention
        n, h, w, c = x.shape
        out = np.empty((n, c, h, w) if nchw else (n, h, w, c), dtype=np.float32)
        src = x[..., ::-1] if conv.bgr else x
        if nchw:
            src = src.transpose(0, 3, 1, 2)
        if conv.name == "none":
            np.copyto(out, src, casting="unsafe")
        else:
            shape = (c, 1, 1) if nchw else (c,)
            scale = np.broadcast_to(np.asarray(conv.scale, np.float32), (c,)).reshape(shape)
            shift = np.broadcast_to(np.asarray(conv.shift, np.float32), (c,)).reshape(shape)
            np.multiply(src, scale, out=out, casting="unsafe")
            out += shift
        return out if self.dtype == "float32" else out.astype(self.dtype)

    def _call_function(self, x: np.ndarray) -> np.ndarray:
        assert self.function is not None
        xf = np.array(x, dtype=np.float32)   # a copy the function may change in place
        y = np.asarray(self.function(xf))
        if y.ndim != 4 or y.shape[0] != x.shape[0] or y.shape[-1] != self.channels:
            raise ValueError(f"the preprocess function must return an N x H x W x C array with "
                             f"N = {x.shape[0]} and C = {self.channels}, got shape {y.shape}")
        if y.dtype.kind not in "biuf":
            raise TypeError(f"the preprocess function returned dtype {y.dtype}; numbers expected")
        return y
