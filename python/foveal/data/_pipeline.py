"""``Dataset``: a small, eager, NumPy counterpart of ``tf.data.Dataset`` for the datasets of
:func:`foveal.data.image_dataset_from_directory`.

A dataset is a re-iterable sequence of elements (a NumPy array, or a tuple / list / dict of
them): every ``for`` over it is one pass, i.e. one epoch (a shuffling dataset reshuffles).
``map``, ``batch``, ``unbatch``, ``shuffle``, ``cache``, ``prefetch`` and ``take`` return new
datasets, as in tf.data; ``len(ds)`` is its number of elements where that is known (a
TypeError otherwise, as tf.data's). ``class_names`` and ``file_paths`` carry over to derived
datasets (tf.data drops them).

Differences from tf.data: functions run eagerly on NumPy arrays (no graph tracing), and
``map``'s ``num_parallel_calls``/``deterministic`` are accepted but calls run in order.
``cache(filename)`` on anything but the dataset of ``image_dataset_from_directory`` keeps the
elements of the first complete pass in memory, or in an ``.npz`` file written atomically once
that pass ends; an existing file is read back as is (as tf.data does: delete it when the
data change). On the dataset of ``image_dataset_from_directory`` itself, ``cache`` keeps the
decoded images instead (see :mod:`foveal.data.dataset`).
"""

from __future__ import annotations

import os
import queue
import threading
from typing import Any, Callable, Iterator, List, Optional

import numpy as np

from .. import _random
from .._checks import as_bool, as_int

AUTOTUNE = -1
UNKNOWN_CARDINALITY = -2


def stack(elements: List[Any]) -> Any:
    """Elements of the same structure stacked along a new first axis (tf.data's ``batch``)."""
    first = elements[0]
    if isinstance(first, tuple):
        return tuple(stack([e[k] for e in elements]) for k in range(len(first)))
    if isinstance(first, list):
        return [stack([e[k] for e in elements]) for k in range(len(first))]
    if isinstance(first, dict):
        return {k: stack([e[k] for e in elements]) for k in first}
    return np.stack([np.asarray(e) for e in elements])


def _rows(element: Any) -> int:
    if isinstance(element, (tuple, list)):
        return _rows(element[0])
    if isinstance(element, dict):
        return _rows(next(iter(element.values())))
    return len(element)


def _row(element: Any, i: int) -> Any:
    if isinstance(element, tuple):
        return tuple(_row(e, i) for e in element)
    if isinstance(element, list):
        return [_row(e, i) for e in element]
    if isinstance(element, dict):
        return {k: _row(v, i) for k, v in element.items()}
    return element[i]


class Dataset:
    """Base of foveal's tf.data-style datasets (see the module docstring).

    Attributes:
        class_names: the class names (list of str) of the dataset it derives from, or None.
        file_paths: the image file paths of the dataset it derives from, in its order.
    """

    _foveal_dataset = True  # foveal.nn's fit/evaluate/predict iterate it once per epoch
    class_names: Optional[List[str]] = None
    file_paths: Optional[List[str]] = None

    def __iter__(self) -> Iterator[Any]:
        """One pass over the elements (one epoch)."""
        return self._iterate()

    def _iterate(self) -> Iterator[Any]:
        raise NotImplementedError

    def _cardinality(self) -> Optional[int]:
        """Number of elements, or None when unknown."""
        return None

    def _samples(self) -> Optional[int]:
        """Number of rows once unbatched, or None when unknown."""
        return None

    def __len__(self) -> int:
        """Number of elements (batches, for a batched dataset); TypeError when unknown."""
        c = self._cardinality()
        if c is None:
            raise TypeError("The dataset length is unknown.")
        return c

    def cardinality(self) -> int:
        """Number of elements, or ``UNKNOWN_CARDINALITY`` (-2) as tf.data."""
        c = self._cardinality()
        return UNKNOWN_CARDINALITY if c is None else c

    def as_numpy_iterator(self) -> Iterator[Any]:
        """The elements (already NumPy arrays), as tf.data's ``as_numpy_iterator``."""
        return iter(self)

    # -- transformations ---------------------------------------------------------------------

    def map(self, map_func: Callable[..., Any], num_parallel_calls: Optional[int] = None,
            deterministic: Optional[bool] = None) -> "Dataset":
        """``map_func`` applied to every element; a tuple element is passed as positional
        arguments (``lambda x, y: ...``), as tf.data does."""
        if not callable(map_func):
            raise TypeError(f"map_func must be callable, got {type(map_func).__name__}")
        return _Map(self, map_func)

    def batch(self, batch_size: int, drop_remainder: bool = False) -> "Dataset":
        """Consecutive elements stacked into batches of ``batch_size`` (the last one smaller
        unless ``drop_remainder``)."""
        return _Batch(self, as_int(batch_size, "batch_size", 1),
                      as_bool(drop_remainder, "drop_remainder"))

    def unbatch(self) -> "Dataset":
        """Every row of every (batched) element as an element of its own."""
        return _Unbatch(self)

    def shuffle(self, buffer_size: int, seed: Optional[int] = None,
                reshuffle_each_iteration: bool = True) -> "Dataset":
        """tf.data's buffered shuffle: elements are drawn at random from a buffer of
        ``buffer_size`` refilled in order. ``seed=None`` draws one from foveal's generator
        (:func:`foveal.utils.set_random_seed`); each pass reshuffles unless
        ``reshuffle_each_iteration=False``. NumPy's global state is never used."""
        size = as_int(buffer_size, "buffer_size", 1)
        base = int(_random.generator().integers(2**63)) if seed is None else as_int(seed, "seed", 0)
        return _Shuffle(self, size, base, as_bool(reshuffle_each_iteration, "reshuffle_each_iteration"))

    def cache(self, filename: "str | os.PathLike[str]" = "") -> "Dataset":
        """The elements of the first complete pass kept for the later ones: in memory
        (``filename=""``) or in the file ``filename``."""
        path = os.fspath(filename)
        if not isinstance(path, str):
            raise TypeError("filename must be a str path")
        return _Cache(self, path)

    def prefetch(self, buffer_size: int = AUTOTUNE) -> "Dataset":
        """Elements made ahead by a background thread, up to ``buffer_size`` (``AUTOTUNE``:
        2), while the caller works on the current one."""
        size = as_int(buffer_size, "buffer_size", AUTOTUNE)
        if size == 0:
            raise ValueError("buffer_size must be positive or AUTOTUNE (-1), got 0")
        return _Prefetch(self, 2 if size == AUTOTUNE else size)

    def take(self, count: int) -> "Dataset":
        """The first ``count`` elements (all of them for -1)."""
        return _Take(self, as_int(count, "count", -1))


class _Derived(Dataset):
    def __init__(self, source: Dataset) -> None:
        self.source = source
        self.class_names = source.class_names
        self.file_paths = source.file_paths

    def _cardinality(self) -> Optional[int]:
        return self.source._cardinality()


class _Map(_Derived):
    def __init__(self, source: Dataset, fn: Callable[..., Any]) -> None:
        super().__init__(source)
        self.fn = fn

    def _iterate(self) -> Iterator[Any]:
        fn = self.fn
        for e in self.source:
            yield fn(*e) if isinstance(e, tuple) else fn(e)


class _Batch(_Derived):
    def __init__(self, source: Dataset, size: int, drop: bool) -> None:
        super().__init__(source)
        self.size, self.drop = size, drop

    def _cardinality(self) -> Optional[int]:
        c = self.source._cardinality()
        if c is None:
            return None
        return c // self.size if self.drop else -(-c // self.size)

    def _samples(self) -> Optional[int]:
        c = self.source._cardinality()
        return None if c is None else (c // self.size) * self.size if self.drop else c

    def _iterate(self) -> Iterator[Any]:
        pending: List[Any] = []
        for e in self.source:
            pending.append(e)
            if len(pending) == self.size:
                yield stack(pending)
                pending = []
        if pending and not self.drop:
            yield stack(pending)


class _Unbatch(_Derived):
    def _cardinality(self) -> Optional[int]:
        return self.source._samples()

    def _iterate(self) -> Iterator[Any]:
        for e in self.source:
            for i in range(_rows(e)):
                yield _row(e, i)


class _Shuffle(_Derived):
    def __init__(self, source: Dataset, size: int, seed: int, reshuffle: bool) -> None:
        super().__init__(source)
        self.size, self.seed, self.reshuffle = size, seed, reshuffle
        self._passes = 0
        self._lock = threading.Lock()

    def _samples(self) -> Optional[int]:
        return self.source._samples()

    def _iterate(self) -> Iterator[Any]:
        with self._lock:
            n = self._passes if self.reshuffle else 0
            self._passes += 1
        rng = np.random.default_rng([self.seed, n])
        buf: List[Any] = []
        for e in self.source:
            if len(buf) < self.size:
                buf.append(e)
                continue
            k = int(rng.integers(len(buf)))
            out, buf[k] = buf[k], e
            yield out
        while buf:
            k = int(rng.integers(len(buf)))
            buf[k], buf[-1] = buf[-1], buf[k]
            yield buf.pop()


class _Take(_Derived):
    def __init__(self, source: Dataset, count: int) -> None:
        super().__init__(source)
        self.count = count

    def _cardinality(self) -> Optional[int]:
        c = self.source._cardinality()
        if self.count < 0:
            return c
        return self.count if c is None else min(c, self.count)

    def _iterate(self) -> Iterator[Any]:
        if self.count == 0:
            return
        for k, e in enumerate(self.source):
            yield e
            if k + 1 == self.count:
                return


class _Prefetch(_Derived):
    def __init__(self, source: Dataset, size: int) -> None:
        super().__init__(source)
        self.size = size

    def _samples(self) -> Optional[int]:
        return self.source._samples()

    def cache(self, filename: "str | os.PathLike[str]" = "") -> Dataset:
        """Caching a prefetched dataset caches its source, still prefetched."""
        return _Prefetch(self.source.cache(filename), self.size)

    def _iterate(self) -> Iterator[Any]:
        q: "queue.Queue[Any]" = queue.Queue(self.size)
        stop = threading.Event()
        done = object()

        def put(item: Any) -> bool:
            """Queue ``item`` unless the consumer has gone (False then)."""
            while not stop.is_set():
                try:
                    q.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        def produce() -> None:
            try:
                for e in self.source:
                    if not put((True, e)):
                        return
                put((True, done))
            except BaseException as err:  # noqa: BLE001 - handed to the consumer
                put((False, err))

        worker = threading.Thread(target=produce, name="foveal-dataset-prefetch", daemon=True)
        worker.start()
        try:
            while True:
                ok, item = q.get()
                if not ok:
                    raise item
                if item is done:
                    return
                yield item
        finally:
            stop.set()


class _Cache(_Derived):
    def __init__(self, source: Dataset, path: str) -> None:
        super().__init__(source)
        self.path = path
        self._elements: Optional[List[Any]] = None
        self._lock = threading.Lock()

    def _samples(self) -> Optional[int]:
        return self.source._samples()

    def _iterate(self) -> Iterator[Any]:
        with self._lock:
            if self._elements is None and self.path and os.path.isfile(self.path):
                self._elements = _read_elements(self.path)
            elements = self._elements
        if elements is not None:
            yield from elements
            return
        seen = []
        for e in self.source:
            seen.append(e)
            yield e
        with self._lock:  # a complete pass: keep it
            if self._elements is None:
                if self.path:
                    _write_elements(self.path, seen)
                self._elements = seen


def _write_elements(path: str, elements: List[Any]) -> None:
    """Elements (arrays or tuples of arrays) to an ``.npz`` file, atomically."""
    arrays = {}
    arity = []
    for i, e in enumerate(elements):
        parts = e if isinstance(e, tuple) else (e,)
        arity.append(len(parts) if isinstance(e, tuple) else -1)
        for j, p in enumerate(parts):
            if isinstance(p, (dict, list, tuple)):
                raise TypeError("cache(filename) stores elements that are arrays or tuples of "
                                "arrays; use cache() (memory) for other structures")
            arrays[f"e{i}_{j}"] = np.asarray(p)
    arrays["arity"] = np.asarray(arity, dtype=np.int64)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}-{threading.get_ident():x}"
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def _read_elements(path: str) -> List[Any]:
    with np.load(path, allow_pickle=False) as z:
        if "arity" not in z.files:
            raise ValueError(f"{path!r} is not a dataset cache written by foveal")
        out = []
        for i, a in enumerate(z["arity"].tolist()):
            if a < 0:
                out.append(z[f"e{i}_0"])
            else:
                out.append(tuple(z[f"e{i}_{j}"] for j in range(a)))
        return out
