"""Random geometric augmentation layers (``foveal.nn.layers.random_geometric``), Keras 3's
:class:`RandomFlip`, :class:`RandomRotation`, :class:`RandomZoom` and :class:`RandomTranslation`.

Active only in training (``fit``, or ``layer(images, training=True)``); identity otherwise.
Each draws one transform per image and describes it as a 3 x 3 map from output pixel
coordinates ``(x = column, y = row, 1)`` to the input coordinates it samples, exactly Keras's
matrices (``a0 a1 a2 / b0 b1 b2``, centre ``((W - 1) / 2, (H - 1) / 2)``):

* flip: ``x -> W - 1 - x`` (horizontal), ``y -> H - 1 - y`` (vertical); in
  ``"horizontal_and_vertical"`` mode one coin per image flips both axes together, as Keras 3.15.1
  does (so the image is either unchanged or turned by 180 degrees);
* rotation by ``angle`` degrees: ``c + [[cos, -sin], [sin, cos]] (p - c)``;
* zoom ``(zx, zy)`` (> 1 zooms out): ``c + diag(zx, zy) (p - c)``;
* translation by ``(dx, dy)`` pixels: ``p - (dx, dy)``.

Consecutive layers compose into one map per image and one native warp (``_augment_chain``);
sampling is bilinear or nearest with Keras's fill modes: ``"reflect"`` (``dcba|abcd``),
``"wrap"`` (period W), ``"nearest"`` (edge) and ``"constant"`` (``fill_value``; a sample
straddling the edge blends the edge pixel with it, as Keras's torch backend). A fused chain
handles borders once, in the source image; a chain of separate warps would fill each
intermediate image's border again, so the two differ only where a sample falls outside the
image in some stage.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from ..._checks import as_option
from .base import Shape, _data_format, _spatial_input, register_layer
from .preprocessing import _RandomLayer, _finite

__all__ = ["RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation"]

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = ("bilinear", "nearest")


def factor_range(factor: Any, name: str, bounds: Tuple[float, float],
                 open_lower: bool = False) -> Tuple[float, float]:
    """Keras's factor rule: a number ``f`` means ``(-|f|, |f|)`` (clipped below at the lower
    bound), a pair ``(a, b)`` means ``(min, max)``; every given number must lie in ``bounds``
    (the lower bound excluded with ``open_lower``). ValueError naming ``name`` otherwise."""
    lo, hi = bounds
    shown = f"{'(' if open_lower else '['}{lo:g}, {hi:g}]"
    msg = f"{name} must be a number or a pair of numbers in {shown}, got {factor!r}"

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise ValueError(msg)
        f = float(v)
        if not (lo < f if open_lower else lo <= f) or not f <= hi:
            raise ValueError(msg)
        return f

    if isinstance(factor, (tuple, list)):
        if len(factor) != 2:
            raise ValueError(msg)
        a, b = sorted(check(v) for v in factor)
        return a, b
    f = abs(check(factor))
    return max(-f, lo), f


def _json_factor(factor: Any) -> Any:
    return [float(v) for v in factor] if isinstance(factor, (tuple, list)) else float(factor)


class _Warp(_RandomLayer):
    """A geometric random layer: draws per-image maps, applied through ``_augment_chain``."""

    _kind = "warp"

    def _warp_args(self, fill_mode: Any, interpolation: Any, fill_value: Any) -> None:
        self.fill_mode = as_option(fill_mode, "fill_mode", FILL_MODES)
        self.interpolation = as_option(interpolation, "interpolation", INTERPOLATIONS)
        self.fill_value = _finite(fill_value, "fill_value")

    def warp_options(self) -> Optional[Tuple[str, str, float]]:
        """``(fill_mode, interpolation, fill_value)``; None when any will do (flips)."""
        return self.fill_mode, self.interpolation, self.fill_value

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return tuple(_spatial_input(self, input_shape))

    def _draw(self, n: int, h: int, w: int) -> Any:
        raise NotImplementedError

    def matrices(self, params: Any, h: int, w: int) -> np.ndarray:
        """The ``N x 3 x 3`` float64 output -> input maps of drawn ``params`` (see the module)."""
        raise NotImplementedError

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._identity = not training
        if not training:
            return x if x.dtype == np.float32 else x.astype(np.float32)
        from ._augment_chain import run_chain
        return run_chain([self], x)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "seed": self.seed, "data_format": "channels_last"}

    def _fill_config(self) -> Dict[str, Any]:
        return {"fill_mode": self.fill_mode, "interpolation": self.interpolation,
                "fill_value": self.fill_value}


def _affine(a0: np.ndarray, a1: np.ndarray, a2: np.ndarray, b0: np.ndarray, b1: np.ndarray,
            b2: np.ndarray) -> np.ndarray:
    n = len(a0)
    m = np.zeros((n, 3, 3))
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = a0, a1, a2
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = b0, b1, b2
    m[:, 2, 2] = 1.0
    return m


@register_layer
class RandomFlip(_Warp):
    """Flip images at random while training (Keras ``RandomFlip``): per image, with probability
    1/2. ``mode``: ``"horizontal"`` (left-right), ``"vertical"`` (top-bottom) or
    ``"horizontal_and_vertical"`` (default: both axes at once on the same coin, as Keras 3.15.1).
    Exact (no interpolation). Output float32."""

    def __init__(self, mode: str = "horizontal_and_vertical", seed: Optional[int] = None,
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.mode = as_option(mode, "mode", ("horizontal", "vertical", "horizontal_and_vertical"))
        self._init_seed(seed)

    def warp_options(self) -> Optional[Tuple[str, str, float]]:
        return None

    def _draw(self, n: int, h: int, w: int) -> np.ndarray:
        """One bool per image: flip it."""
        return self._generator().random(n) < 0.5

    def matrices(self, params: Any, h: int, w: int) -> np.ndarray:
        flips = np.asarray(params, bool)
        n = len(flips)
        hor = flips & (self.mode != "vertical")
        ver = flips & (self.mode != "horizontal")
        one, zero = np.ones(n), np.zeros(n)
        return _affine(np.where(hor, -1.0, 1.0), zero, np.where(hor, w - 1.0, 0.0),
                       zero, np.where(ver, -1.0, 1.0), np.where(ver, h - 1.0, 0.0) * one)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "mode": self.mode}


@register_layer
class RandomRotation(_Warp):
    """Rotate images at random while training (Keras ``RandomRotation``).

    ``factor``: a fraction of a full turn; a number ``f`` in [-1, 1] draws angles uniformly in
    ``[-|f|, |f|] * 360`` degrees, a pair ``(a, b)`` in ``[a, b] * 360``. Positive angles turn
    the content clockwise on screen (Keras's matrix ``[[cos, -sin], [sin, cos]]`` maps output to
    input coordinates, y down). About the centre ``((W - 1) / 2, (H - 1) / 2)``. ``fill_mode``:
    ``"reflect"``, ``"wrap"``, ``"constant"`` or ``"nearest"``; ``interpolation``:
    ``"bilinear"`` or ``"nearest"``. Output float32.
    """

    def __init__(self, factor: Any, fill_mode: str = "reflect", interpolation: str = "bilinear",
                 seed: Optional[int] = None, fill_value: float = 0.0,
                 data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self.factor = factor_range(factor, "factor", (-1.0, 1.0))
        self._warp_args(fill_mode, interpolation, fill_value)
        self._init_seed(seed)

    def _draw(self, n: int, h: int, w: int) -> np.ndarray:
        """One angle per image, in degrees."""
        return self._generator().uniform(self.factor[0] * 360.0, self.factor[1] * 360.0, n)

    def matrices(self, params: Any, h: int, w: int) -> np.ndarray:
        theta = np.radians(np.asarray(params, np.float64))
        c, s = np.cos(theta), np.sin(theta)
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        return _affine(c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "factor": list(self.factor), **self._fill_config()}


@register_layer
class RandomZoom(_Warp):
    """Zoom images at random while training (Keras ``RandomZoom``).

    ``height_factor``: a number ``f`` in (-1, 1] draws the vertical zoom ``zy`` uniformly in
    ``[1 - |f|, 1 + |f|]``, a pair ``(a, b)`` in ``[1 + a, 1 + b]``; ``zy`` > 1 zooms out (the
    content shrinks), < 1 zooms in. ``width_factor`` likewise for ``zx``; None (default) uses
    ``zx = zy``, keeping the aspect ratio. About the image centre. Fill and interpolation as
    :class:`RandomRotation`. Output float32.
    """

    def __init__(self, height_factor: Any, width_factor: Any = None, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None,
                 fill_value: float = 0.0, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self._height = factor_range(height_factor, "height_factor", (-1.0, 1.0), open_lower=True)
        self._width = (None if width_factor is None
                       else factor_range(width_factor, "width_factor", (-1.0, 1.0), open_lower=True))
        self.height_factor = _json_factor(height_factor)
        self.width_factor = None if width_factor is None else _json_factor(width_factor)
        self._warp_args(fill_mode, interpolation, fill_value)
        self._init_seed(seed)

    def _draw(self, n: int, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(zx, zy)``, one pair per image."""
        rng = self._generator()
        zy = rng.uniform(1.0 + self._height[0], 1.0 + self._height[1], n)
        zx = zy if self._width is None else rng.uniform(1.0 + self._width[0], 1.0 + self._width[1], n)
        return zx, zy

    def matrices(self, params: Any, h: int, w: int) -> np.ndarray:
        zx, zy = (np.asarray(p, np.float64) for p in params)
        zero = np.zeros(len(zx))
        return _affine(zx, zero, (w - 1) / 2.0 * (1.0 - zx), zero, zy, (h - 1) / 2.0 * (1.0 - zy))

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._fill_config()}


@register_layer
class RandomTranslation(_Warp):
    """Shift images at random while training (Keras ``RandomTranslation``).

    ``height_factor``: a fraction of the height; a number ``f`` in [-1, 1] draws the vertical
    shift uniformly in ``[-|f|, |f|] * H`` pixels, a pair ``(a, b)`` in ``[a, b] * H``;
    positive moves the content down. ``width_factor`` likewise, positive moves it right. Fill
    and interpolation as :class:`RandomRotation`. Output float32.
    """

    def __init__(self, height_factor: Any, width_factor: Any, fill_mode: str = "reflect",
                 interpolation: str = "bilinear", seed: Optional[int] = None,
                 fill_value: float = 0.0, data_format: Optional[str] = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        _data_format(data_format)
        self._height = factor_range(height_factor, "height_factor", (-1.0, 1.0))
        self._width = factor_range(width_factor, "width_factor", (-1.0, 1.0))
        self.height_factor = _json_factor(height_factor)
        self.width_factor = _json_factor(width_factor)
        self._warp_args(fill_mode, interpolation, fill_value)
        self._init_seed(seed)

    def _draw(self, n: int, h: int, w: int) -> Tuple[np.ndarray, np.ndarray]:
        """``(dx, dy)`` in pixels, one pair per image (Keras draws the height shift first)."""
        rng = self._generator()
        dy = rng.uniform(self._height[0], self._height[1], n) * h
        dx = rng.uniform(self._width[0], self._width[1], n) * w
        return dx, dy

    def matrices(self, params: Any, h: int, w: int) -> np.ndarray:
        dx, dy = (np.asarray(p, np.float64) for p in params)
        one, zero = np.ones(len(dx)), np.zeros(len(dx))
        return _affine(one, zero, -dx, zero, one, -dy)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "height_factor": self.height_factor,
                "width_factor": self.width_factor, **self._fill_config()}


def compose(mats: Sequence[np.ndarray]) -> np.ndarray:
    """The output -> input map of layers applied in order: ``A1 @ A2 @ ... @ Ak``."""
    out = mats[0]
    for m in mats[1:]:
        out = out @ m
    return out
