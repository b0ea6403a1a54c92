"""Random intensity augmentation layers (``foveal.nn.layers.random_color``), Keras 3's
:class:`RandomBrightness` and :class:`RandomContrast`: active only in training, identity
otherwise, one random value per image, the result clipped to ``value_range``. After
geometric layers they run on the warped batch in place (``_augment_chain``).
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .base import Shape, _spatial_input, register_layer
from .preprocessing import _RandomLayer, _finite
from .random_geometric import factor_range

__all__ = ["RandomBrightness", "RandomContrast"]


def _value_range(value_range: Any, sort: bool) -> Tuple[float, float]:
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2:
        raise ValueError(f"value_range must be a pair of numbers (low, high), got {value_range!r}")
    lo, hi = (_finite(v, "value_range") for v in value_range)
    return (min(lo, hi), max(lo, hi)) if sort else (lo, hi)


class _Color(_RandomLayer):
    """An intensity random layer: per-image values, applied in place to a float32 batch."""

    _kind = "color"

    def compute_output_shape(self, input_shape: Any) -> Shape:
        return tuple(_spatial_input(self, input_shape))

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        self._identity = not training
        if not training:
            return x if x.dtype == np.float32 else x.astype(np.float32)
        from ._augment_chain import run_chain
        return run_chain([self], x)

    def apply_(self, x: np.ndarray, params: np.ndarray) -> None:
        """Apply drawn ``params`` to the float32 batch ``x`` in place."""
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "factor": list(self.factor),
                "value_range": list(self.value_range), "seed": self.seed}


@register_layer
class RandomBrightness(_Color):
    """Shift brightness at random while training (Keras ``RandomBrightness``): adds
    ``delta * (high - low)`` to every pixel of an image, ``delta`` uniform in the factor's range
    (a number ``f`` in [-1, 1]: ``[-|f|, |f|]``; a pair: ``[a, b]``), then clips to
    ``value_range=(low, high)`` (default ``(0, 255)``). Output float32 (Keras keeps a uint8
    input's dtype and wraps negative deltas around in uint8; foveal computes in float32)."""

    #: An add then a clip per image: _augment_chain runs it inside the uint8 warp.
    _fuses_into_warp = True

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor_range(factor, "factor", (-1.0, 1.0))
        self.value_range = _value_range(value_range, sort=True)
        self._init_seed(seed)

    def _draw(self, n: int, h: int, w: int) -> np.ndarray:
        """One additive delta per image, in the units of ``value_range``."""
        d = self._generator().uniform(self.factor[0], self.factor[1], n)
        return d * (self.value_range[1] - self.value_range[0])

    def apply_(self, x: np.ndarray, params: np.ndarray) -> None:
        x += np.asarray(params, np.float32)[:, None, None, None]
        np.clip(x, self.value_range[0], self.value_range[1], out=x)


@register_layer
class RandomContrast(_Color):
    """Change contrast at random while training (Keras ``RandomContrast``): per image and
    channel, ``(x - mean) * f + mean`` with ``mean`` over the image's height and width, then
    clipped to ``value_range`` (default ``(0, 255)``).

    ``factor`` follows Keras 3.15.1 exactly: a number ``f`` in [0, 1] becomes the pair
    ``(0, f)`` and a pair ``(a, b)`` (sorted) draws ``f`` uniformly in ``[1 - a, 1 + b]``, so
    ``RandomContrast(0.2)`` draws in ``[1, 1.2]`` (only more contrast; pass ``(0.2, 0.2)`` for
    ``[0.8, 1.2]``). Output float32.
    """

    def __init__(self, factor: Any, value_range: Any = (0, 255), seed: Optional[int] = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.factor = factor_range(factor, "factor", (0.0, 1.0))
        self.value_range = _value_range(value_range, sort=False)
        self._init_seed(seed)

    def _draw(self, n: int, h: int, w: int) -> np.ndarray:
        """One contrast factor per image."""
        return self._generator().uniform(1.0 - self.factor[0], 1.0 + self.factor[1], n)

    def apply_(self, x: np.ndarray, params: np.ndarray) -> None:
        mean = x.mean(axis=(1, 2), keepdims=True, dtype=np.float32)
        x -= mean
        x *= np.asarray(params, np.float32)[:, None, None, None]
        x += mean
        np.clip(x, self.value_range[0], self.value_range[1], out=x)
