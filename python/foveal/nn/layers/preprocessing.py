"""Keras 3 image preprocessing layers (``foveal.nn.layers.preprocessing``): :class:`Resizing`,
:class:`CenterCrop`, :class:`RandomCrop` and :class:`Normalization`, plus the base classes of
every preprocessing layer (the ``Random*`` augmentation layers live in ``random_geometric`` and
``random_color``).

All of them take ``N x H x W x C`` batches (or one ``H x W x C`` image) of float32 or uint8, as a
first layer of a model or eagerly, ``layer(images, training=True)``. They have no trainable
weights and no gradient through their transforms (put them before the first layer that learns;
:class:`Normalization` and an inactive ``Random*`` layer do pass gradients). Outputs are float32,
except that :class:`Resizing` returns uint8 for uint8 input, as Keras does.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Iterable, Optional, Tuple

import numpy as np

from ... import _core, _random
from ..._checks import as_bool, as_float32, as_int, as_option
from .base import Layer, Shape, _data_format, _is_symbolic, _shape_str, _spatial_input, register_layer

__all__ = ["Resizing", "CenterCrop", "RandomCrop", "Normalization"]

_EPSILON = 1e-7   # keras.backend.epsilon(): the smallest standard deviation Normalization divides by


class _ImageLayer(Layer):
    """A preprocessing layer on NHWC images: eager calls also take uint8 and unbatched images."""

    def __call__(self, inputs: Any, training: Optional[bool] = False) -> Any:
        """On a symbolic tensor: add the layer to a model. On an array (``N x H x W x C`` or one
        ``H x W x C`` image, float32 or uint8, or anything NumPy turns into real numbers): run
        it, in training mode only when ``training`` is true."""
        if _is_symbolic(inputs):
            return super().__call__(inputs)
        x = np.asarray(inputs)
        if x.dtype != np.uint8:
            x = as_float32(x, f"{self.name} input")
        if x.ndim not in (3, 4):
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) expects images "
                             f"N x H x W x C or one H x W x C image, got shape {_shape_str(x.shape)}")
        single = x.ndim == 3
        if single:
            x = x[None]
        self._ensure_built((None,) + x.shape[1:])
        y = self.call(x, training=bool(training))
        return y[0] if single else y

    def build(self, input_shape: Any) -> None:
        _spatial_input(self, input_shape)
        self.built = True


class _RandomLayer(_ImageLayer):
    """A preprocessing layer that draws random numbers: from its own generator ``rng`` when
    built with a ``seed`` (its state is saved with the model), otherwise from foveal's global
    generator (:func:`foveal.utils.set_random_seed`). NumPy's global state is never used."""

    def _init_seed(self, seed: Any) -> None:
        self.seed = None if seed is None else as_int(seed, "seed", 0)
        self.rng: Optional[np.random.Generator] = (
            None if self.seed is None else np.random.default_rng(self.seed))

    def _generator(self) -> np.random.Generator:
        return self.rng if self.rng is not None else _random.generator()

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if getattr(self, "_identity", True):
            return dy
        raise NotImplementedError(
            f"layer {self.name!r} ({type(self).__name__}) has no gradient while it augments; "
            "put preprocessing layers before the first layer that learns")


def _size_args(height: Any, width: Any) -> Tuple[int, int]:
    return as_int(height, "height", 1), as_int(width, "width", 1)


def aspect_crop_box(h: int, w: int, target_h: int, target_w: int) -> Tuple[int, int, int, int]:
    """``(top, left, crop_h, crop_w)``: the largest centred window of an ``h x w`` image with
    the aspect ratio of ``target_h x target_w`` (Keras's ``crop_to_aspect_ratio`` arithmetic)."""
    crop_h = max(min(h, int(float(w * target_h) / target_w)), 1)
    crop_w = max(min(w, int(float(h * target_w) / target_h)), 1)
    return int(float(h - crop_h) / 2), int(float(w - crop_w) / 2), crop_h, crop_w


def resize_float(x: np.ndarray, height: int, width: int, interpolation: str) -> np.ndarray:
    """``x`` (``N x H x W x C``, float32 or uint8) resized to ``height x width`` in float32 with
    half-pixel centres and no antialiasing (PyTorch's ``interpolate(align_corners=False)``,
    which Keras's torch backend uses): ``"bilinear"``, ``"nearest"`` (``nearest-exact``) or
    ``"bicubic"``."""
    x = np.ascontiguousarray(x if x.dtype == np.float32 else x.astype(np.float32))
    if x.shape[1:3] == (height, width):
        return x.copy()
    return _core.image.resize(x, height, width, interpolation)


@register_layer
class Resizing(_ImageLayer):
    """Resize images to ``height x width`` (Keras ``Resizing``), always active.

    ``interpolation``: ``"bilinear"`` (default), ``"nearest"`` or ``"bicubic"``, with half-pixel
    centres and no antialiasing, as Keras's torch backend. ``crop_to_aspect_ratio=True`` first
    takes the largest centred window with the target aspect ratio, so nothing is distorted.
    Output: float32, or uint8 (rounded half to even, saturated) for a uint8 input, as Keras.
    """

    def __init__(self, height: int, width: int, interpolation: str = "bilinear",
                 crop_to_aspect_ratio: bool = False, data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.height, self.width = _size_args(height, width)
        self.interpolation = as_option(interpolation, "interpolation", ("bilinear", "nearest", "bicubic"))
        self.crop_to_aspect_ratio = as_bool(crop_to_aspect_ratio, "crop_to_aspect_ratio")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        s = _spatial_input(self, input_shape)
        return (s[0], self.height, self.width, s[3])

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if self.crop_to_aspect_ratio:
            top, left, ch, cw = aspect_crop_box(x.shape[1], x.shape[2], self.height, self.width)
            x = x[:, top:top + ch, left:left + cw]
        y = resize_float(x, self.height, self.width, self.interpolation)
        if x.dtype == np.uint8:
            return np.clip(np.rint(y), 0, 255).astype(np.uint8)
        return y

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "interpolation": self.interpolation,
                "crop_to_aspect_ratio": self.crop_to_aspect_ratio, "data_format": "channels_last"}


@register_layer
class CenterCrop(_ImageLayer):
    """Crop the centre ``height x width`` window (Keras ``CenterCrop``), always active: the
    window starts at ``(H - height) // 2, (W - width) // 2``. An image smaller than the target
    along either side is instead cropped to the target's aspect ratio and resized (bilinear), as
    Keras. Output float32."""

    def __init__(self, height: int, width: int, data_format: Optional[str] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.height, self.width = _size_args(height, width)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        s = _spatial_input(self, input_shape)
        return (s[0], self.height, self.width, s[3])

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        h, w = x.shape[1], x.shape[2]
        self._in_shape = x.shape
        if h >= self.height and w >= self.width:
            top, left = (h - self.height) // 2, (w - self.width) // 2
            self._box: Optional[Tuple[int, int]] = (top, left)
            return np.ascontiguousarray(x[:, top:top + self.height, left:left + self.width],
                                        dtype=np.float32)
        self._box = None
        top, left, ch, cw = aspect_crop_box(h, w, self.height, self.width)
        return resize_float(x[:, top:top + ch, left:left + cw], self.height, self.width, "bilinear")

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if self._box is None:
            raise NotImplementedError(f"layer {self.name!r} (CenterCrop) has no gradient when it "
                                      "resizes; put it before the first layer that learns")
        dx = np.zeros(self._in_shape, np.float32)
        top, left = self._box
        dx[:, top:top + self.height, left:left + self.width] = dy
        return dx

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "data_format": "channels_last"}


@register_layer
class RandomCrop(_RandomLayer):
    """Crop a random ``height x width`` window while training (Keras ``RandomCrop``): one
    window for the whole batch, its top-left corner uniform over the valid positions.

    At inference, and in training when the input is not larger than the target along both
    sides, the largest centred window with the target's aspect ratio is taken and resized
    (bilinear) to ``height x width``, as Keras documents. (Keras 3.15.1 itself returns the
    input unchanged at inference, whatever its size; foveal keeps the output shape it
    declares.) Output float32.
    """

    _kind = "crop"

    def __init__(self, height: int, width: int, seed: Optional[int] = None,
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.height, self.width = _size_args(height, width)
        self._init_seed(seed)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        s = _spatial_input(self, input_shape)
        return (s[0], self.height, self.width, s[3])

    def _draw(self, n: int, h: int, w: int) -> Any:
        """The window's top-left corner ``(top, left)`` for a training batch of ``h x w``
        images, or None when the image is too small (centre crop and resize)."""
        if h > self.height and w > self.width:
            rng = self._generator()
            top = int(rng.uniform(0.0, float(h - self.height + 1)))
            left = int(rng.uniform(0.0, float(w - self.width + 1)))
            return min(top, h - self.height), min(left, w - self.width)
        return None

    def _apply(self, x: np.ndarray, params: Any) -> np.ndarray:
        """Crop ``x`` (``N x H x W x C``) at ``params`` from :meth:`_draw`; float32 result."""
        if params is None:
            h, w = x.shape[1], x.shape[2]
            top, left, ch, cw = aspect_crop_box(h, w, self.height, self.width)
            return resize_float(x[:, top:top + ch, left:left + cw], self.height, self.width,
                                "bilinear")
        top, left = params
        return np.array(x[:, top:top + self.height, left:left + self.width], dtype=np.float32,
                        order="C", copy=True)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._identity = False
        if training:
            from ._augment_chain import run_chain
            return run_chain([self], x)
        return self._apply(x, None)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "height": self.height, "width": self.width,
                "seed": self.seed, "data_format": "channels_last"}


def _axis_arg(axis: Any) -> Tuple[int, ...]:
    if axis is None:
        return ()
    if isinstance(axis, (int, np.integer)) and not isinstance(axis, bool):
        return (int(axis),)
    if isinstance(axis, (tuple, list)):
        return tuple(as_int(a, "axis") for a in axis)
    raise TypeError(f"axis must be an int, a tuple of ints or None, got {axis!r}")


@register_layer
class Normalization(Layer):
    """Feature-wise standardization ``(x - mean) / sqrt(variance)`` (Keras ``Normalization``),
    always active; ``invert=True`` maps back, ``mean + x * sqrt(variance)``. The standard
    deviation is floored at 1e-7, as Keras.

    ``axis``: the axes that keep their own statistics (default -1, the channels; None: one
    mean and variance for everything). Either pass ``mean`` and ``variance`` (numbers, or
    arrays that broadcast over the kept axes) or call :meth:`adapt` on data before use; adapted
    statistics are non-trainable weights ``mean``, ``variance`` and ``count`` (Keras's order),
    saved with the model. Gradients pass through (the layer is linear). Output float32.
    """

    def __init__(self, axis: Any = -1, mean: Any = None, variance: Any = None,
                 invert: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = _axis_arg(axis)
        self.invert = as_bool(invert, "invert")
        if (mean is None) != (variance is None):
            raise ValueError("mean and variance must be given together (or neither, then "
                             f"call adapt), got mean={mean!r}, variance={variance!r}")
        self.input_mean = None if mean is None else np.asarray(as_float32(mean, "mean"), np.float64)
        self.input_variance = (None if variance is None
                               else np.asarray(as_float32(variance, "variance"), np.float64))
        if self.input_mean is not None:
            if self.input_mean.shape != self.input_variance.shape:
                raise ValueError(f"mean and variance must have the same shape, got "
                                 f"{self.input_mean.shape} and {self.input_variance.shape}")
            if self.input_mean.ndim > len(self.axis):
                raise ValueError(f"mean has rank {self.input_mean.ndim}, more than the number of "
                                 f"axes in axis={self.axis}")
            if np.any(self.input_variance < 0):
                raise ValueError("variance must be >= 0")
        self._mean: Optional[np.ndarray] = None
        self._std: Optional[np.ndarray] = None

    # ---- shapes and statistics -----------------------------------------------------------
    def _kept(self, shape: Tuple[Optional[int], ...]) -> Tuple[int, ...]:
        ndim = len(shape)
        bad = [a for a in self.axis if not -ndim <= a < ndim]
        if bad:
            raise ValueError(f"layer {self.name!r} (Normalization): axis {self.axis} is out of range "
                             f"for inputs of rank {ndim}")
        kept = tuple(sorted(a % ndim for a in self.axis))
        if any(shape[a] is None for a in kept):
            raise ValueError(f"layer {self.name!r} (Normalization): the kept axes {kept} must have "
                             f"known sizes, got shape {_shape_str(shape)}")
        return kept

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        kept = self._kept(shape)
        self._ndim = len(shape)
        self._keep = kept
        self._stat_shape = tuple(int(shape[a]) for a in kept)
        self._broadcast = tuple(int(shape[a]) if a in kept else 1 for a in range(len(shape)))
        if self.input_mean is None:
            self.adapt_mean = self.add_weight("mean", self._stat_shape, "zeros", trainable=False)
            self.adapt_variance = self.add_weight("variance", self._stat_shape, "ones",
                                                  trainable=False)
            self.count = self.add_weight("count", (), "zeros", trainable=False)
        else:
            mean, var = self.input_mean, self.input_variance
            if mean.ndim:
                expanded = [1] * len(shape)
                for i in range(1, mean.ndim + 1):
                    expanded[kept[-i]] = mean.shape[-i]
                mean, var = mean.reshape(expanded), var.reshape(expanded)
            try:
                self._fixed = (np.broadcast_to(mean, self._broadcast),
                               np.broadcast_to(var, self._broadcast))
            except ValueError:
                raise ValueError(f"layer {self.name!r} (Normalization): mean of shape "
                                 f"{self.input_mean.shape} does not fit the kept axes of input "
                                 f"shape {_shape_str(shape)}") from None
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shape = tuple(input_shape)
        if len(shape) != self._ndim or any(shape[a] != self._broadcast[a] for a in self._keep):
            raise ValueError(f"layer {self.name!r} (Normalization) was built for shape "
                             f"{_shape_str(tuple(None if b == 1 and a not in self._keep else b for a, b in enumerate(self._broadcast)))}"
                             f", got {_shape_str(shape)}")

    def _stats(self) -> Tuple[np.ndarray, np.ndarray]:
        if self.input_mean is not None:
            mean, var = self._fixed
        else:
            mean = self.adapt_mean.value.reshape(self._broadcast)
            var = self.adapt_variance.value.reshape(self._broadcast)
        std = np.maximum(np.sqrt(np.asarray(var, np.float32)), np.float32(_EPSILON))
        return np.asarray(mean, np.float32), std

    def adapt(self, data: Any) -> None:
        """Compute the mean and variance of ``data`` over every axis but the kept ones, as
        Keras: an array (the batch axis first), or an iterable of batches (merged exactly, in
        float64). Builds the layer for the data's shape if needed."""
        if self.input_mean is not None:
            raise ValueError(f"layer {self.name!r} (Normalization) was given mean and variance; "
                             "adapt is for a layer built without them")
        batches: Iterable[Any]
        if isinstance(data, np.ndarray) or hasattr(data, "__array__"):
            batches = [data]
        elif hasattr(data, "__iter__") and not isinstance(data, (str, bytes, dict)):
            batches = data
        else:
            raise TypeError(f"data must be an array or an iterable of batches, got "
                            f"{type(data).__name__}")
        total_mean = total_var = None
        count = 0
        for batch in batches:
            if isinstance(batch, (tuple, list)) and batch and not np.isscalar(batch[0]):
                batch = batch[0]   # (x, y) pairs: the inputs
            b = np.asarray(as_float32(batch, "data") if not isinstance(batch, np.ndarray)
                           else batch, dtype=np.float64)
            if b.ndim == 0:
                raise ValueError("data must have at least one axis (the batch axis)")
            if not self.built:
                self.build((None,) + b.shape[1:])
            shape = (None,) + b.shape[1:]
            self._check_input_shape(shape)
            reduce = tuple(a for a in range(b.ndim) if a not in self._keep)
            n = int(np.prod([b.shape[a] for a in reduce])) if reduce else 1
            if n == 0:
                continue
            m, v = b.mean(axis=reduce), b.var(axis=reduce)
            if total_mean is None:
                total_mean, total_var, count = m, v, n
                continue
            new_count = count + n
            wb = n / new_count
            wa = 1.0 - wb
            new_mean = total_mean * wa + m * wb
            total_var = (total_var + (total_mean - new_mean) ** 2) * wa + (v + (m - new_mean) ** 2) * wb
            total_mean, count = new_mean, new_count
        if total_mean is None:
            raise ValueError("adapt() received no data (an empty array or no batches)")
        self.adapt_mean.assign(np.reshape(total_mean, self.adapt_mean.shape))
        self.adapt_variance.assign(np.reshape(total_var, self.adapt_variance.shape))
        self.count.assign(np.full(self.count.shape, count, np.float32))

    # ---- forward and backward --------------------------------------------------------------
    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        mean, std = self._stats()
        self._std_used = std
        if self.invert:
            return np.asarray(mean + x * std, np.float32)
        return np.asarray((x - mean) / std, np.float32)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        if not need_dx:
            return None
        return np.asarray(dy * self._std_used if self.invert else dy / self._std_used, np.float32)

    def get_config(self) -> Dict[str, Any]:
        axis: Any = list(self.axis) if len(self.axis) != 1 else self.axis[0]
        return {**super().get_config(), "axis": axis if self.axis else None,
                "invert": self.invert,
                "mean": None if self.input_mean is None else self.input_mean.tolist(),
                "variance": None if self.input_variance is None else self.input_variance.tolist()}


def _finite(v: Any, name: str) -> float:
    """``v`` as a finite float (TypeError for a non-number, ValueError for inf/nan)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f
