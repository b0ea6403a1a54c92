"""The one process-wide random generator behind initializers, dropout and fit's shuffling.

Kept private: users reseed it with :func:`foveal.utils.set_random_seed`.  Everything random in
``foveal.nn`` draws from :func:`generator` at the moment it needs numbers, so equal seeds set
before building and training a model give bit-identical results.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

_generator: np.random.Generator = np.random.default_rng()


def generator() -> np.random.Generator:
    """The current global generator (replaced, not mutated, by :func:`reseed`)."""
    return _generator


def reseed(seed: Optional[int]) -> None:
    """Replace the global generator by a fresh one seeded with ``seed`` (None: from the OS)."""
    global _generator
    _generator = np.random.default_rng(seed)
