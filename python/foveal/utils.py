"""Utilities shared by the model API (``foveal.utils``)."""

from __future__ import annotations

import random

import numpy as np

from typing import Dict

from . import _core, _random
from ._checks import as_int

__all__ = ["set_random_seed", "buffer_cache_info", "release_buffer_cache"]


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


def buffer_cache_info() -> Dict[str, int]:
    """The native cache of large output buffers: ``cached_bytes`` (held now, not in use),
    ``capacity_bytes`` (the cap, ``FOVEAL_BUFFER_CACHE_MB`` MiB, default 1024) and
    ``min_buffer_bytes`` (smaller arrays come from the normal allocator).

    Operators return arrays whose memory, once NumPy frees them, stays cached for the next
    array of the same size: a training loop allocates the same sizes every step, and reused
    memory spares the page faults of fresh memory (about a third of a small CNN's step)."""
    return dict(_core.buffer_cache_info())


def release_buffer_cache() -> None:
    """Return every cached (unused) output buffer to the system."""
    _core.release_buffer_cache()
