"""Reshaping layers (``foveal.nn.layers.reshaping``): :class:`ZeroPadding2D`,
:class:`UpSampling2D` (native kernels, forward and backward) and :class:`Reshape`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple, Union

import numpy as np

from ..._checks import as_int, as_pair
from .. import functional as F
from .base import Layer, Shape, _data_format, _shape_str, _spatial_input, register_layer

__all__ = ["ZeroPadding2D", "UpSampling2D", "Reshape"]


def _add(size: Optional[int], extra: int) -> Optional[int]:
    return None if size is None else size + extra


def _mul(size: Optional[int], factor: int) -> Optional[int]:
    return None if size is None else size * factor


@register_layer
class ZeroPadding2D(Layer):
    """Zeros around the rows and columns of an ``N x H x W x C`` batch (Keras ``ZeroPadding2D``).

    ``padding``: an int (every side), a pair ``(h, w)`` (``h`` rows above and below, ``w``
    columns left and right), or ``((top, bottom), (left, right))``.
    """

    def __init__(self, padding: Any = (1, 1), data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.padding = F.zero_padding_arg(padding)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, c = _spatial_input(self, input_shape)
        (t, b), (l, r) = self.padding
        return (n, _add(h, t + b), _add(w, l + r), c)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return F.zero_pad2d(x, self.padding)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.zero_pad2d_backward(dy, self.padding) if need_dx else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "padding": [list(p) for p in self.padding],
                "data_format": "channels_last"}


_KERAS_ONLY_INTERPOLATIONS = ("bicubic", "lanczos3", "lanczos5")


@register_layer
class UpSampling2D(Layer):
    """Repeat (``"nearest"``) or interpolate (``"bilinear"``: half-pixel centres, edges clamped,
    as Keras 3 and ``tf.image.resize``) an ``N x H x W x C`` batch to ``H*sh x W*sw``
    (Keras ``UpSampling2D``; ``size`` an int or ``(sh, sw)``)."""

    def __init__(self, size: Union[int, Tuple[int, int]] = (2, 2), data_format: Optional[str] = None,
                 interpolation: str = "nearest", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.size = as_pair(size, "size")
        if isinstance(interpolation, str) and interpolation.lower() in _KERAS_ONLY_INTERPOLATIONS:
            raise NotImplementedError(f"UpSampling2D(interpolation={interpolation!r}) is not supported "
                                      "(only 'nearest' and 'bilinear')")
        self.interpolation = F._interpolation(interpolation)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        n, h, w, c = _spatial_input(self, input_shape)
        return (n, _mul(h, self.size[0]), _mul(w, self.size[1]), c)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return F.upsample2d(x, self.size, self.interpolation)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return F.upsample2d_backward(dy, self.size, self.interpolation) if need_dx else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "size": list(self.size), "data_format": "channels_last",
                "interpolation": self.interpolation}


@register_layer
class Reshape(Layer):
    """Reshape each sample to ``target_shape`` (Keras ``Reshape``; row-major, the batch axis
    kept). One entry may be ``-1``: it takes the size that the others leave."""

    def __init__(self, target_shape: Sequence[int], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if isinstance(target_shape, (str, bytes)) or not isinstance(target_shape, (tuple, list)):
            raise TypeError(f"target_shape must be a tuple of ints, got {target_shape!r}")
        shape = tuple(as_int(d, "target_shape") for d in target_shape)
        if any(d < 1 and d != -1 for d in shape):
            raise ValueError(f"target_shape must hold sizes >= 1 and at most one -1, got {target_shape!r}")
        if shape.count(-1) > 1:
            raise ValueError(f"target_shape may hold at most one -1, got {target_shape!r}")
        self.target_shape: Tuple[int, ...] = shape

    def compute_output_shape(self, input_shape: Any) -> Shape:
        rest = tuple(input_shape)[1:]
        known = int(np.prod([d for d in self.target_shape if d != -1], dtype=np.int64))
        if any(d is None for d in rest):
            return (input_shape[0],) + tuple(None if d == -1 else d for d in self.target_shape)
        total = int(np.prod(rest, dtype=np.int64))
        if -1 in self.target_shape:
            if total % known:
                raise ValueError(f"layer {self.name!r} (Reshape): input shape {_shape_str(input_shape)} "
                                 f"cannot be reshaped to target_shape {self.target_shape}")
            return (input_shape[0],) + tuple(total // known if d == -1 else d for d in self.target_shape)
        if total != known:
            raise ValueError(f"layer {self.name!r} (Reshape): input shape {_shape_str(input_shape)} "
                             f"has {total} values per sample, target_shape {self.target_shape} "
                             f"{known}")
        return (input_shape[0],) + self.target_shape

    def build(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._shape = x.shape
        return x.reshape((x.shape[0],) + self.target_shape)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        return dy.reshape(self._shape) if need_dx else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "target_shape": list(self.target_shape)}
