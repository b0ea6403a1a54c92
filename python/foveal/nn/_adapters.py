"""Batches for ``fit``/``evaluate``/``predict`` (``foveal.nn._adapters``): from arrays (split in
batches, reshuffled each epoch from foveal's generator) or from an iterator of batches (any
object with ``len`` and ``[i]``, e.g. ``foveal.data``'s), and the validation data of ``fit``.
"""

from __future__ import annotations

import math
from typing import Any, Iterator, Optional, Tuple

import numpy as np

from .. import _random
from .._checks import as_float32, as_int, as_numpy


def is_dataset(x: Any) -> bool:
    """A ``foveal.data`` dataset (``image_dataset_from_directory``): each ``iter()`` is one
    epoch of ``len(x)`` batches."""
    return bool(getattr(x, "_foveal_dataset", False))


def is_batch_source(x: Any) -> bool:
    """An iterator/sequence of batches (``len`` and ``[i]`` → ``(x, y)``), e.g. foveal.data's,
    or a ``foveal.data`` dataset."""
    if is_dataset(x):
        return True
    return (not isinstance(x, (np.ndarray, list, tuple)) and hasattr(x, "__len__")
            and hasattr(x, "__getitem__") and not hasattr(x, "__array__")
            and not hasattr(x, "__array_interface__") and not hasattr(x, "__dlpack__"))


def split_batch(item: Any, where: str) -> Tuple[Any, Any]:
    """``(x, y)`` of one item of a batch source (``y`` None for an ``x`` array alone)."""
    if isinstance(item, np.ndarray):
        return item, None
    if isinstance(item, (tuple, list)):
        if len(item) == 1:
            return item[0], None
        if len(item) == 2:
            return item[0], item[1]
        if len(item) == 3:
            raise NotImplementedError(f"{where} gave (x, y, sample_weight) batches; sample weights "
                                      "are not supported yet")
    raise ValueError(f"{where} must give (x, y) tuples or x arrays, got {type(item).__name__}")


def is_empty(x: np.ndarray) -> bool:
    """A batch of no samples (``foveal.data`` gives one when every file of a batch is
    unreadable): ``fit``/``evaluate``/``predict`` count its step but pass over it."""
    return x.ndim > 0 and x.shape[0] == 0


def as_array(a: Any, name: str) -> np.ndarray:
    """``a`` as a numeric NumPy array (no copy for one, nor for a DLPack/array-interface object
    such as a PyTorch CPU tensor: :func:`foveal._checks.as_numpy`); TypeError naming ``name``."""
    arr = as_numpy(a, name)
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got ragged or non-numeric data")
    return arr


class Batches:
    """Batches of one epoch from arrays or from a batch source."""

    def __init__(self, x: Any, y: Any, batch_size: Optional[int], shuffle: bool,
                 steps: Optional[int], where: str, need_y: bool) -> None:
        self.source = x if is_batch_source(x) else None
        self.shuffle = bool(shuffle)
        self.where = where
        if self.source is not None:
            if y is not None:
                raise ValueError(f"{where}: y must be None when x is an iterator of (x, y) batches")
            n_batches = len(self.source)
            if n_batches == 0:
                raise ValueError(f"{where}: the iterator x is empty (len(x) == 0)")
            self.steps = n_batches if steps is None else steps
            self.n_batches = n_batches
            self.x = self.y = None
            return
        if x is None:
            raise ValueError(f"{where}: x (the inputs) is required")
        self.x = as_array(x, "x")
        if self.x.ndim == 0 or len(self.x) == 0:
            raise ValueError(f"{where}: x is empty (shape {self.x.shape})")
        if y is None:
            if need_y:
                raise ValueError(f"{where}: y (the targets) is required with array inputs")
            self.y = None
        else:
            self.y = as_array(y, "y")
            if self.y.ndim == 0 or len(self.y) != len(self.x):
                raise ValueError(f"{where}: x and y must have the same number of samples, got "
                                 f"x with {len(self.x)} and y with "
                                 f"{len(self.y) if self.y.ndim else 'no batch axis (a scalar)'}")
        self.batch_size = 32 if batch_size is None else as_int(batch_size, "batch_size", 1)
        self.n = len(self.x)
        self.n_batches = -(-self.n // self.batch_size)
        self.steps = self.n_batches if steps is None else steps

    def epoch(self) -> Iterator[Tuple[np.ndarray, Any]]:
        """``(x_batch, y_batch)`` for each step of one epoch (x as float32)."""
        if self.source is not None:
            # In order, as Keras does with a PyDataset (``shuffle`` is ignored): the iterator
            # shuffles its own samples each epoch, and foveal.data prefetches the next batch.
            if is_dataset(self.source):  # one pass per epoch, as Keras with a tf.data dataset
                for _, item in zip(range(self.steps), self.source):
                    xb, yb = split_batch(item, self.where)
                    yield as_float32(xb, "x"), yb
                return
            for step in range(self.steps):
                xb, yb = split_batch(self.source[step % self.n_batches], self.where)
                yield as_float32(xb, "x"), yb
            return
        bs, n = self.batch_size, self.n
        perm = _random.generator().permutation(n) if self.shuffle else None
        for step in range(self.steps):
            start = (step % self.n_batches) * bs
            if perm is None:
                sl: Any = slice(start, min(start + bs, n))
            else:
                sl = perm[start:start + bs]
            yield as_float32(self.x[sl], "x"), (None if self.y is None else self.y[sl])

    def end_epoch(self) -> None:
        """Tell an iterator that an epoch is over (foveal.data and Keras PyDatasets reshuffle)."""
        if self.source is not None and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()


def validation_batches(validation_data: Any, batch_size: Optional[int]) -> Batches:
    """``fit``'s ``validation_data``: ``(x_val, y_val)`` or an iterator of ``(x, y)`` batches."""
    if is_batch_source(validation_data):
        return Batches(validation_data, None, None, False, None, "validation_data", True)
    if isinstance(validation_data, (tuple, list)):
        if len(validation_data) == 2:
            return Batches(validation_data[0], validation_data[1], batch_size, False, None,
                           "validation_data", True)
        if len(validation_data) == 3:
            raise NotImplementedError("validation_data with sample weights is not supported yet")
    raise ValueError("validation_data must be (x_val, y_val) or an iterator of (x, y) batches")


def hold_out(x: Any, y: Any, validation_split: float, batch_size: Optional[int],
             val: Optional[Batches]) -> Tuple[np.ndarray, Any, Batches]:
    """``fit``'s ``validation_split`` of arrays: the last samples, taken before shuffling (as
    Keras), become the validation batches unless ``val`` is given already. Returns the training
    ``x`` and ``y`` and the validation batches."""
    if is_batch_source(x):
        raise ValueError("validation_split is only supported for array inputs; pass "
                         "validation_data for iterators")
    xa, ya = as_array(x, "x"), None if y is None else as_array(y, "y")
    if ya is not None and len(ya) != len(xa):
        raise ValueError(f"fit: x and y must have the same number of samples, got x with "
                         f"{len(xa)} and y with {len(ya)}")
    split_at = int(math.floor(len(xa) * (1.0 - validation_split)))
    if split_at == 0 or split_at == len(xa):
        raise ValueError(f"fit: {len(xa)} samples cannot be split into training and "
                         f"validation sets with validation_split={validation_split}")
    if val is None:
        val = Batches(xa[split_at:], None if ya is None else ya[split_at:], batch_size,
                      False, None, "validation data", True)
    return xa[:split_at], None if ya is None else ya[:split_at], val
