"""Weight initializers with Keras 3's names and formulas (``foveal.nn.initializers``).

Each initializer is a callable ``init(shape) -> float32 array``.  Random ones draw from foveal's
global generator (reseeded by :func:`foveal.utils.set_random_seed`) unless given their own
``seed``.  Fans follow Keras: a 2-D kernel ``in x out`` has ``fan_in = in``, ``fan_out = out``; a
convolution kernel ``kh x kw x cin x cout`` has ``fan_in = kh*kw*cin`` and ``fan_out = kh*kw*cout``.
"""

from __future__ import annotations

import math
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np

from .. import _random
from .._checks import as_option
from ._lookup import resolve, serialize

__all__ = [
    "Initializer", "Zeros", "Ones", "Constant", "RandomNormal", "RandomUniform", "TruncatedNormal",
    "VarianceScaling", "GlorotUniform", "GlorotNormal", "HeNormal", "HeUniform", "LecunNormal",
    "LecunUniform", "get", "serialize", "compute_fans",
]

# Keras's truncated normal keeps draws within two standard deviations; this is the standard
# deviation of a unit normal truncated that way, used to rescale so the result has the asked one.
_TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape: Sequence[int]) -> Tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight shape, as Keras computes them."""
    shape = tuple(int(s) for s in shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive = int(np.prod(shape[:-2]))
    return shape[-2] * receptive, shape[-1] * receptive


class Initializer:
    """Base class: ``__call__(shape)`` returns a new float32 array; configs round-trip."""

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        raise NotImplementedError

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments, JSON-serializable."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Initializer":
        """Rebuild an initializer from :meth:`get_config`'s output."""
        return cls(**config)


class Zeros(Initializer):
    """All zeros."""

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        return np.zeros(tuple(shape), np.float32)


class Ones(Initializer):
    """All ones."""

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        return np.ones(tuple(shape), np.float32)


class Constant(Initializer):
    """Every element equal to ``value``."""

    def __init__(self, value: float = 0.0) -> None:
        self.value = float(value)

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        return np.full(tuple(shape), self.value, np.float32)

    def get_config(self) -> Dict[str, Any]:
        return {"value": self.value}


class _Random(Initializer):
    """Shared seed handling: with an int ``seed`` every call gives the same values (as Keras's
    seeded initializers); without one, draws come from foveal's global generator."""

    def __init__(self, seed: Optional[int] = None) -> None:
        self.seed = None if seed is None else int(seed)

    def _generator(self) -> np.random.Generator:
        return _random.generator() if self.seed is None else np.random.default_rng(self.seed)

    def _truncated_normal(self, shape: Tuple[int, ...], stddev: float, mean: float = 0.0) -> np.ndarray:
        """Normal draws outside two standard deviations redrawn (Keras's truncated normal)."""
        rng = self._generator()  # one generator for the whole call, redraws included
        out = rng.standard_normal(shape)
        bad = np.abs(out) >= 2.0
        while bad.any():
            out[bad] = rng.standard_normal(int(bad.sum()))
            bad = np.abs(out) >= 2.0
        return (out * stddev + mean).astype(np.float32)

    def get_config(self) -> Dict[str, Any]:
        return {"seed": self.seed}


class RandomNormal(_Random):
    """Normal draws with ``mean`` and ``stddev``."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        out = self._generator().normal(self.mean, self.stddev, tuple(shape))
        return out.astype(np.float32)

    def get_config(self) -> Dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class TruncatedNormal(_Random):
    """Normal draws with ``mean`` and ``stddev``, redrawn beyond two standard deviations."""

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        return self._truncated_normal(tuple(shape), self.stddev, self.mean)

    def get_config(self) -> Dict[str, Any]:
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(_Random):
    """Uniform draws in ``[minval, maxval)``."""

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed: Optional[int] = None) -> None:
        super().__init__(seed)
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        out = self._generator().uniform(self.minval, self.maxval, tuple(shape))
        return out.astype(np.float32)

    def get_config(self) -> Dict[str, Any]:
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class VarianceScaling(_Random):
    """Keras's ``VarianceScaling``: variance ``scale / n`` with ``n`` the fan chosen by ``mode``
    (``"fan_in"``, ``"fan_out"``, ``"fan_avg"``); ``distribution`` is ``"truncated_normal"``,
    ``"untruncated_normal"`` or ``"uniform"`` (limit ``sqrt(3 * scale / n)``)."""

    def __init__(self, scale: float = 1.0, mode: str = "fan_in", distribution: str = "truncated_normal",
                 seed: Optional[int] = None) -> None:
        super().__init__(seed)
        if not scale > 0:
            raise ValueError(f"scale must be positive, got {scale!r}")
        self.scale = float(scale)
        self.mode = as_option(mode, "mode", ("fan_in", "fan_out", "fan_avg"))
        self.distribution = as_option(distribution, "distribution",
                                      ("truncated_normal", "untruncated_normal", "uniform"))

    def __call__(self, shape: Sequence[int]) -> np.ndarray:
        shape = tuple(int(s) for s in shape)
        fan_in, fan_out = compute_fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution == "truncated_normal":
            return self._truncated_normal(shape, math.sqrt(scale) / _TRUNCATED_STDDEV)
        if self.distribution == "untruncated_normal":
            return (self._generator().standard_normal(shape) * math.sqrt(scale)).astype(np.float32)
        limit = math.sqrt(3.0 * scale)
        return self._generator().uniform(-limit, limit, shape).astype(np.float32)

    def get_config(self) -> Dict[str, Any]:
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution,
                **super().get_config()}


class _Preset(VarianceScaling):
    """A VarianceScaling with fixed ``(scale, mode, distribution)``; only ``seed`` is an argument."""

    _preset: Tuple[float, str, str] = (1.0, "fan_in", "truncated_normal")

    def __init__(self, seed: Optional[int] = None) -> None:
        super().__init__(*self._preset, seed=seed)

    def get_config(self) -> Dict[str, Any]:
        return {"seed": self.seed}


class GlorotUniform(_Preset):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Keras's default kernel initializer)."""

    _preset = (1.0, "fan_avg", "uniform")


class GlorotNormal(_Preset):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))``."""

    _preset = (1.0, "fan_avg", "truncated_normal")


class HeNormal(_Preset):
    """Truncated normal with stddev ``sqrt(2 / fan_in)``."""

    _preset = (2.0, "fan_in", "truncated_normal")


class HeUniform(_Preset):
    """Uniform in ``±sqrt(6 / fan_in)``."""

    _preset = (2.0, "fan_in", "uniform")


class LecunNormal(_Preset):
    """Truncated normal with stddev ``sqrt(1 / fan_in)``."""

    _preset = (1.0, "fan_in", "truncated_normal")


class LecunUniform(_Preset):
    """Uniform in ``±sqrt(3 / fan_in)``."""

    _preset = (1.0, "fan_in", "uniform")


_BY_NAME = {
    "zeros": Zeros, "ones": Ones, "constant": Constant, "random_normal": RandomNormal,
    "random_uniform": RandomUniform, "truncated_normal": TruncatedNormal,
    "variance_scaling": VarianceScaling, "glorot_uniform": GlorotUniform,
    "glorot_normal": GlorotNormal, "he_normal": HeNormal, "he_uniform": HeUniform,
    "lecun_normal": LecunNormal, "lecun_uniform": LecunUniform,
}


def get(identifier: Any, name: str = "initializer") -> Initializer:
    """An initializer from a name (``"he_normal"``, also the class name), a config dict
    (``{"class_name": ..., "config": ...}``) or an :class:`Initializer` object (returned as is);
    errors name the argument ``name``."""
    return resolve(identifier, name, Initializer, _BY_NAME)
