"""Utilities shared by the model API (``foveal.utils``)."""

from __future__ import annotations

import random

import numpy as np

from . import _random
from ._checks import as_int

__all__ = ["set_random_seed"]


def set_random_seed(seed: int) -> None:
    """Seed every source of randomness foveal uses, as ``keras.utils.set_random_seed``.

    Reseeds foveal's own generator (weight initializers, ``Dropout`` without a ``seed``,
    ``fit``'s shuffling), and, like Keras, Python's ``random`` and NumPy's global state.
    Two runs that call this with the same ``seed`` before building and training a model
    produce bit-identical weights.

    Args:
        seed: a non-negative integer.
    """
    seed = as_int(seed, "seed", 0)
    random.seed(seed)
    np.random.seed(seed % 2**32)
    _random.reseed(seed)
