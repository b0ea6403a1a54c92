"""Batch iterators over arrays (``NumpyArrayIterator``) and image folders (``DirectoryIterator``).

Both follow Keras's legacy iterators: ``len(it)`` batches per epoch, ``it[i]`` the i-th batch of
the current epoch (``(x, y)``, ``(x, y, sample_weight)`` or ``x``), ``next(it)`` forever
(reshuffling at each epoch's end), ``on_epoch_end()`` to start a new epoch (``model.fit`` calls
it), ``reset()``. Differences from Keras, on purpose:

* Randomness: ``seed`` (an int, or None for one drawn from foveal's generator, see
  :func:`foveal.utils.set_random_seed`) drives everything. Epoch ``e``'s sample order and the
  augmentation of its batch ``i`` come from NumPy generators seeded by ``(seed, e)`` and
  ``(seed, e, i)``, so a batch is the same whatever order the batches are asked for in, and two
  iterators with equal seeds give equal batches. NumPy's global state is never touched.
* The ``"validation"`` subset is standardized but not augmented.
* Unreadable files (``DirectoryIterator``): indexing never opens an image, so a corrupt file is
  found when its batch is built. With ``on_error="skip"`` (default) the first one met gets one
  warning, and every one is listed in ``iterator.skipped`` and never opened again. It is left
  out, never replaced by a copy of another image: its batch comes out one image shorter (the
  labels are those of the images that were read), so each readable image appears exactly once
  per epoch. ``samples``, ``filenames``, ``classes`` and ``len(it)`` stay the listing's. A
  batch whose files are all unreadable is empty (``0 x H x W x C``, labels ``0 x ...``), which
  ``foveal.nn``'s ``fit``/``evaluate``/``predict`` pass over (``fit`` and ``evaluate`` raise
  ValueError after a pass in which every batch was empty). ``on_error="raise"`` raises at the
  first unreadable file.
* Files are decoded on a thread pool (``foveal.get_num_threads()`` workers; JPEGs by
  simplejpeg where installed, else Pillow, the same pixels; the format taken from the
  content; the EXIF orientation applied, which Keras ignores), and the next batch is built
  (read, augmented, standardized) in the background while the caller works on the current
  one, when batches are asked for in order (as ``next`` and an unshuffled ``fit`` do; a batch
  prefetched before the generator changed, e.g. by ``fit``, is rebuilt). JPEG files that
  shrink by 2x or more are decoded at reduced size first (in the DCT, as Pillow's ``draft``),
  then resized with ``foveal.image.resize`` in the decoding threads (OpenCV's rules, no
  antialiasing; Keras resizes with Pillow, which antialiases when shrinking with
  ``"bilinear"``/``"bicubic"``). ``"nearest"`` samples the same pixels in both; ``"box"`` maps
  to ``"area"``; ``"lanczos"`` and ``"hamming"`` use Pillow. ``cache=`` keeps the decoded,
  resized images (see :class:`DirectoryIterator`).
  With ``keep_aspect_ratio``, Keras resizes the crop through Pillow's ``box=`` argument,
  whose ``"nearest"`` breaks exact ties between two source pixels the other way at some sizes.
* Extensions are matched with their dot (``.png``); Keras matches the bare suffix (``xpng``).
* ``class_mode="binary"`` with more than two classes warns (Keras is silent; the labels are the
  same). ``flow`` takes an ``N x H x W x C`` array only, not Keras's ``(x, x_misc)`` tuple.
"""

from __future__ import annotations

import operator
import os
import threading
import warnings
from concurrent.futures import Future
from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _random
from .._checks import as_bool, as_existing_path, as_float_dtype, as_int, as_real_array
from ._cache import ImageCache, cache_kind, listing_key, memory_limit, read_through_cache
from ._decode import INTERPOLATIONS, decode_batch, decode_file, decoder_version, resize_image
from ._listing import WHITE_LIST_FORMATS, class_folders, list_classes
from ._threads import pool

__all__ = ["NumpyArrayIterator", "DirectoryIterator"]

_COLOR_MODES = {"grayscale": 1, "gray": 1, "rgb": 3, "rgba": 4}
_CLASS_MODES = ("categorical", "binary", "sparse", "input", None)


class BatchIndexError(IndexError, ValueError):
    """A batch index out of range (an IndexError as for any sequence, and a ValueError as
    Keras raises)."""


def _option(v: Any, name: str, options: Sequence[Any]) -> Any:
    if v not in options or isinstance(v, bool):
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}, got {v!r}")
    return v


class _Iterator:
    """Shared machinery: epochs, seeded shuffling, batch indexing, ``next``, prefetching.

    Subclasses implement ``_load(order, start, stop, scale) -> (x float32 batch, indices of
    the samples in it)`` (fewer than ``stop - start`` when some could not be read; x may be
    None when ``_finish`` reads the samples itself) and
    ``_finish(x, indices, rng, rescaled) -> batch``, and may return a factor from
    ``_decode_scale`` for ``_load`` to apply (``_finish`` is then told ``rescaled``).
    """

    _prefetch = True
    white_list_formats = WHITE_LIST_FORMATS

    def __init__(self, n: int, batch_size: int, shuffle: bool, seed: Optional[int]) -> None:
        self.n = n
        self.batch_size = as_int(batch_size, "batch_size", 1)
        self.shuffle = as_bool(shuffle, "shuffle")
        self.seed = None if seed is None else as_int(seed, "seed", 0)
        self._base_seed = (int(_random.generator().integers(2**63)) if self.seed is None
                           else self.seed)
        self.batch_index = 0
        self.total_batches_seen = 0
        self._epoch = 0
        self._order: Optional[np.ndarray] = None
        self._last: Optional[int] = None
        self._pending: Optional[Tuple[Tuple[int, int, Any], Future]] = None
        self._lock = threading.RLock()

    @property
    def samples(self) -> int:
        """Number of samples per epoch: the listing's count for a folder (unreadable files,
        left out of their batches, included; see ``skipped``)."""
        return self.n

    @property
    def index_array(self) -> np.ndarray:
        """The current epoch's sample order."""
        with self._lock:
            return self._epoch_order()

    def _epoch_order(self) -> np.ndarray:
        if self._order is None:
            if self.shuffle:
                self._order = np.random.default_rng([self._base_seed, 0, self._epoch]).permutation(self.n)
            else:
                self._order = np.arange(self.n)
        return self._order

    def __len__(self) -> int:
        """Batches per epoch (the last one may be smaller, and so may a folder's batch that
        holds unreadable files)."""
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, idx: int) -> Any:
        """Batch ``idx`` of the current epoch (negative indices count from the end)."""
        try:
            i = operator.index(idx)
        except TypeError:
            raise TypeError(f"batch index must be an integer, got {type(idx).__name__}") from None
        count = len(self)
        if i < 0:
            i += count
        if not 0 <= i < count:
            raise BatchIndexError(f"batch index {idx} is out of range: the iterator has {count} batches")
        with self._lock:
            order, epoch, version = self._epoch_order(), self._epoch, self._version()
            ready = None
            if self._pending is not None and self._pending[0] == (epoch, i, version):
                ready = self._pending[1]
                self._pending = None
            ahead = self._prefetch and i + 1 < count and (i == 0 or self._last == i - 1)
            self._last = i
            self.total_batches_seen += 1
            if ahead:  # build the next batch in the background while the caller works
                if self._pending is not None:
                    self._pending[1].cancel()
                fut = pool("prefetch").submit(self._batch, order, epoch, i + 1)
                self._pending = ((epoch, i + 1, version), fut)
        return ready.result() if ready is not None else self._batch(order, epoch, i)

    def _version(self) -> Any:
        """Changes whenever the generator's settings or statistics do (a prefetched batch is
        used only if the generator is unchanged since it was started)."""
        return getattr(getattr(self, "image_data_generator", None), "_version", None)

    def _batch(self, order: np.ndarray, epoch: int, i: int) -> Any:
        bs = self.batch_size
        scale = self._decode_scale()
        x, indices = self._load(order, i * bs, (i + 1) * bs, scale)
        return self._finish(x, indices, np.random.default_rng([self._base_seed, 1, epoch, i]),
                            scale is not None)

    def _decode_scale(self) -> Optional[float]:
        """A factor ``_load`` applies while converting pixels to float (then ``_finish`` skips
        the generator's ``rescale``), or None."""
        return None

    def on_epoch_end(self) -> None:
        """Start a new epoch: a new sample order (when shuffling) and new augmentations."""
        with self._lock:
            self._epoch += 1
            self._order = None
            if self._pending is not None:
                self._pending[1].cancel()
                self._pending = None

    def reset(self) -> None:
        """Make ``next`` start again from the first batch of the current epoch."""
        with self._lock:
            self.batch_index = 0

    def __iter__(self) -> "_Iterator":
        """The iterator itself: ``for batch in it`` runs forever, as Keras's."""
        return self

    def __next__(self) -> Any:
        """The next batch; after the last batch of an epoch, a new epoch starts."""
        count = len(self)
        if count == 0:
            raise BatchIndexError("the iterator is empty: it has no samples")
        with self._lock:
            i = self.batch_index
            self.batch_index = i + 1 if i + 1 < count else 0
        batch = self[i]
        if i + 1 >= count:
            self.on_epoch_end()
        return batch

    def _load(self, order: np.ndarray, start: int, stop: int, scale: Optional[float]
              ) -> Tuple[Optional[np.ndarray], np.ndarray]:
        raise NotImplementedError

    def _finish(self, x: Optional[np.ndarray], indices: np.ndarray, rng: np.random.Generator,
                rescaled: bool) -> Any:
        raise NotImplementedError


class NumpyArrayIterator(_Iterator):
    """Batches from arrays, transformed by an :class:`~foveal.data.ImageDataGenerator`
    (usually made by ``ImageDataGenerator.flow``).

    Args:
        x: ``N x H x W x C`` images (any real dtype; converted to float32 batch by batch).
        y: labels with ``N`` rows, or None (batches are then ``x`` alone).
        image_data_generator: the generator whose transforms and normalization are applied.
        batch_size: samples per batch.
        shuffle: reshuffle the samples each epoch.
        sample_weight: ``N`` weights, returned as a third batch element.
        seed: drives the shuffling and augmentation (see the module docstring).
        subset: ``"training"`` or ``"validation"``: the samples after / the first
            ``int(validation_split * N)`` samples (the generator's ``validation_split``).
        ignore_class_split: allow the two subsets to hold different sets of labels.
        dtype: dtype of the batches (default the generator's).

    Attributes:
        x, y, sample_weight, n, samples, batch_size, image_shape, subset. ``classes``,
        ``class_indices``, ``num_classes``, ``filenames`` and ``filepaths`` are None (arrays
        have no class folders or files) and ``skipped`` is empty.
    """

    def __init__(self, x: Any, y: Any, image_data_generator: Any, batch_size: int = 32,
                 shuffle: bool = False, sample_weight: Any = None, seed: Optional[int] = None,
                 subset: Optional[str] = None, ignore_class_split: bool = False,
                 dtype: Any = None) -> None:
        x = as_real_array(x, "x")
        if x.ndim != 4:
            raise ValueError(f"x must have rank 4 (N x H x W x C), got shape {x.shape}")
        if x.shape[3] not in (1, 3, 4):
            warnings.warn(f"NumpyArrayIterator expects 1, 3 or 4 channels on axis 3, got an array "
                          f"with shape {x.shape} ({x.shape[3]} channels).", stacklevel=3)
        if y is not None:
            y = np.asarray(y)
            if y.ndim == 0 or len(y) != len(x):
                raise ValueError(f"x and y must have the same length, got x.shape = {x.shape}, "
                                 f"y.shape = {y.shape}")
        if sample_weight is not None:
            sample_weight = as_real_array(sample_weight, "sample_weight")
            if sample_weight.ndim == 0 or len(sample_weight) != len(x):
                raise ValueError(f"x and sample_weight must have the same length, got x.shape = "
                                 f"{x.shape}, sample_weight.shape = {sample_weight.shape}")
        _option(subset, "subset", ("training", "validation", None))
        if subset is not None:
            split = _validation_split(image_data_generator, subset)
            cut = int(len(x) * split)
            if (y is not None and not as_bool(ignore_class_split, "ignore_class_split")
                    and not np.array_equal(np.unique(y[:cut]), np.unique(y[cut:]))):
                raise ValueError("Training and validation subsets have different sets of classes "
                                 "after the split. If your arrays are sorted by label, shuffle "
                                 "them first (or pass ignore_class_split=True).")
            part = slice(0, cut) if subset == "validation" else slice(cut, None)
            x = x[part]
            y = None if y is None else y[part]
            sample_weight = None if sample_weight is None else sample_weight[part]
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.image_data_generator = image_data_generator
        self.subset = subset
        self.dtype = _dtype(dtype, image_data_generator)
        self.image_shape = tuple(x.shape[1:])
        self.classes = self.class_indices = self.num_classes = None
        self.filenames = self.filepaths = None
        self.skipped: List[str] = []
        super().__init__(len(x), batch_size, shuffle, seed)

    def _warps_in_place(self) -> bool:
        """Whether every batch is warped straight from ``x`` (float32, C-contiguous, up to 4
        channels, augmented): the warps then read the images where they lie, and no batch of
        them is gathered first (a copy as large as the batch)."""
        g = self.image_data_generator
        x = self.x
        return (g is not None and self.subset != "validation" and bool(g._augments)
                and x.dtype == np.float32 and x.flags.c_contiguous and x.shape[-1] <= 4)

    def _load(self, order: np.ndarray, start: int, stop: int, scale: Optional[float]
              ) -> Tuple[Optional[np.ndarray], np.ndarray]:
        idx = order[start:stop]
        if len(idx) and self._warps_in_place():
            return None, idx   # _finish warps self.x[idx] in place
        return np.asarray(self.x[idx], dtype=np.float32), idx

    def _finish(self, x: Optional[np.ndarray], indices: np.ndarray, rng: np.random.Generator,
                rescaled: bool) -> Any:
        if x is None:
            x = _transform(self.image_data_generator, self.x, rng, True, self.dtype,
                           index=np.asarray(indices, dtype=np.int64))
        else:
            x = _transform(self.image_data_generator, x, rng, self.subset != "validation", self.dtype)
        if self.y is None:
            return x
        if self.sample_weight is None:
            return x, self.y[indices]
        return x, self.y[indices], self.sample_weight[indices]


class DirectoryIterator(_Iterator):
    """Batches of images read from a folder with one subfolder per class (usually made by
    ``ImageDataGenerator.flow_from_directory``).

    Args:
        directory: the folder; each subfolder is a class (``classes=None``: every subfolder,
            sorted by name). Images are found at any depth below a class folder, in Keras's
            order (folders sorted by path, each folder's files sorted by name) and by
            extension (png, jpg, jpeg, bmp, ppm, tif, tiff, any case). Indexing never opens
            an image.
        image_data_generator: the generator whose transforms and normalization are applied
            (None: images as read, as float).
        target_size: ``(height, width)`` every image is resized to.
        color_mode: ``"rgb"`` (3 channels), ``"rgba"`` (4) or ``"grayscale"`` (1; Pillow's
            ``L`` conversion, as Keras).
        classes: class subfolder names, in label order (None: all subfolders, sorted).
        class_mode: labels: ``"categorical"`` (one-hot, dtype of the batches),
            ``"binary"``/``"sparse"`` (class index as a float of the batches' dtype),
            ``"input"`` (a copy of the images), or None (batches are images only).
        batch_size: images per batch.
        shuffle: reshuffle the images each epoch.
        seed: drives the shuffling and augmentation (see the module docstring).
        subset: ``"training"``/``"validation"``: per class folder, the first
            ``int(validation_split * n)`` files are the validation subset (which is not
            augmented), the rest the training subset.
        interpolation: ``"nearest"`` (default), ``"bilinear"``, ``"bicubic"``, ``"area"``
            (``"box"``), ``"lanczos"`` or ``"hamming"``.
        follow_links: descend into symbolically linked folders.
        keep_aspect_ratio: crop the centre of each image to the target aspect ratio before
            resizing (Keras's crop arithmetic).
        on_error: ``"skip"`` unreadable files (one warning, listed in ``skipped``; their
            batch comes out shorter, see the module docstring) or ``"raise"``.
        dtype: dtype of the batches (default the generator's, else float32).
        cache: None, ``"memory"`` or a file path: keep every image decoded and resized to
            ``target_size`` (uint8, before augmentation) after its first read, so later epochs
            open no file; augmentation still runs each epoch. A memory cache is bounded
            (``FOVEAL_CACHE_LIMIT_MB``, default half the physical memory: past it, one warning
            and the remaining images are decoded each epoch). A file cache is written
            atomically once every image has been read, memory-mapped, and reused by a later
            run whose listing (names, sizes, modification times) and settings are equal,
            rebuilt otherwise. See ``cache_info``.

    Attributes:
        class_indices (name -> label), classes (int32 label per file), filenames
        (``"class/sub/file.jpg"``, forward slashes), filepaths, labels, samples, n,
        num_classes, image_shape, batch_size, directory (all as listed, unreadable files
        included), skipped (the paths of the unreadable files met so far, left out of their
        batches), cache_info (what the cache holds, or None).
    """

    def __init__(self, directory: "str | os.PathLike[str]", image_data_generator: Any,
                 target_size: Tuple[int, int] = (256, 256), color_mode: str = "rgb",
                 classes: Optional[Sequence[str]] = None, class_mode: Optional[str] = "categorical",
                 batch_size: int = 32, shuffle: bool = True, seed: Optional[int] = None,
                 subset: Optional[str] = None, interpolation: str = "nearest",
                 follow_links: bool = False, keep_aspect_ratio: bool = False,
                 on_error: str = "skip", dtype: Any = None, cache: Any = None) -> None:
        directory = as_existing_path(directory, "directory", "folder")
        if not isinstance(target_size, (tuple, list)) or len(target_size) != 2:
            raise ValueError(f"target_size must be (height, width), got {target_size!r}")
        self.target_size = (as_int(target_size[0], "target_size", 1),
                            as_int(target_size[1], "target_size", 1))
        if not isinstance(color_mode, str) or color_mode not in _COLOR_MODES:
            raise ValueError(f"color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
        self.color_mode = "grayscale" if color_mode == "gray" else color_mode
        self.image_shape = self.target_size + (_COLOR_MODES[color_mode],)
        self.class_mode = _option(class_mode, "class_mode", _CLASS_MODES)
        self.subset = _option(subset, "subset", ("training", "validation", None))
        self.split = None
        if subset is not None:
            vs = _validation_split(image_data_generator, subset)
            self.split = (0.0, vs) if subset == "validation" else (vs, 1.0)
        if not isinstance(interpolation, str) or interpolation not in INTERPOLATIONS:
            raise ValueError(f"interpolation must be one of "
                             f"{', '.join(map(repr, INTERPOLATIONS))}, got {interpolation!r}")
        self.interpolation = interpolation
        self.follow_links = as_bool(follow_links, "follow_links")
        self.keep_aspect_ratio = as_bool(keep_aspect_ratio, "keep_aspect_ratio")
        self.on_error = _option(on_error, "on_error", ("skip", "raise"))
        self.image_data_generator = image_data_generator
        self.dtype = _dtype(dtype, image_data_generator)
        self.directory = directory

        names = class_folders(directory, classes)
        self.class_indices: Dict[str, int] = {c: i for i, c in enumerate(names)}
        self.num_classes = len(names)
        if self.class_mode == "binary" and self.num_classes > 2:
            warnings.warn(f"class_mode='binary' with {self.num_classes} classes: the labels are "
                          f"0 .. {self.num_classes - 1}, not binary", stacklevel=3)
        self.filenames, self.classes = list_classes(directory, names, self.follow_links, self.split)
        self._filepaths = [os.path.join(directory, f) for f in self.filenames]
        self.skipped: List[str] = []
        self._bad: set = set()
        print(f"Found {len(self.filenames)} images belonging to {self.num_classes} classes.")
        self._cache = self._make_cache(cache_kind(cache))
        super().__init__(len(self.filenames), batch_size, shuffle, seed)

    def _make_cache(self, kind: Optional[str]) -> Optional[ImageCache]:
        if kind is None:
            return None
        n = len(self.filenames)
        if kind == "memory":
            need, limit = n * int(np.prod(self.image_shape)), memory_limit()
            if need > limit:
                warnings.warn(f"cache='memory': {n} images of {self.image_shape} need "
                              f"{need / 2**20:.1f} MB, more than the limit of {limit / 2**20:.1f} MB "
                              f"(FOVEAL_CACHE_LIMIT_MB); the images past it are decoded every "
                              f"epoch. Pass a file path as cache to keep them all.", stacklevel=4)
            return ImageCache(n)
        settings = {"kind": "flow_from_directory", "target_size": list(self.target_size),
                    "color_mode": self.color_mode, "interpolation": self.interpolation,
                    "keep_aspect_ratio": self.keep_aspect_ratio, "decoder": decoder_version()}
        key = listing_key(self._filepaths, self.filenames, settings)
        return ImageCache(n, kind, key, {"directory": os.path.abspath(self.directory), **settings})

    @property
    def cache_info(self) -> Optional[Dict[str, Any]]:
        """What ``cache`` holds (see :meth:`foveal.data._cache.ImageCache.info`: ``kind``,
        ``path``, ``images``, ``unreadable``, ``total``, ``bytes``, ``limit_bytes``,
        ``complete``, ``reused``), or None without a cache."""
        return None if self._cache is None else self._cache.info()

    @property
    def filepaths(self) -> List[str]:
        """Paths of the image files (``directory`` joined with ``filenames``)."""
        return self._filepaths

    @property
    def labels(self) -> np.ndarray:
        """The class index of every file (same as ``classes``)."""
        return self.classes

    def _read(self, j: int) -> Optional[np.ndarray]:
        """Image ``j`` decoded (an ``H x W x C`` uint8 or float32 array, not yet at
        ``target_size``; see :func:`foveal.data._decode.decode_file`), or None if it cannot be
        read (and ``on_error`` is ``"skip"``)."""
        path = self._filepaths[j]

        def decode() -> np.ndarray:
            img = decode_file(path, self.color_mode, self.target_size, self.interpolation,
                              self.keep_aspect_ratio)
            # the cache keeps images resized, before augmentation
            return img if self._cache is None else resize_image(img, self.target_size, self.interpolation)
        return read_through_cache(self, j, path, decode, "iterator", self.on_error)

    def _decode_scale(self) -> Optional[float]:
        """The generator's ``rescale``, applied in the decoding threads as each image becomes
        float (one pass instead of two), when it comes first: no ``preprocessing_function``
        and no augmentation before it (bit-identical: the same float32 product)."""
        g = self.image_data_generator
        if g is None or not g.rescale or g.preprocessing_function is not None:
            return None
        if self.subset != "validation" and g._augments:
            return None
        return float(g.rescale)

    def _load(self, order: np.ndarray, start: int, stop: int, scale: Optional[float]
              ) -> Tuple[np.ndarray, np.ndarray]:
        idx = [int(j) for j in order[start:stop]]
        x, read = decode_batch(self._read, idx, self.image_shape, self.interpolation, scale)
        # An unreadable file is left out (never replaced by another image): the batch comes
        # out shorter, and its indices (hence its labels) are those of the images read.
        return x, np.asarray([idx[slot] for slot in read], dtype=np.int64)

    def _finish(self, x: np.ndarray, indices: np.ndarray, rng: np.random.Generator,
                rescaled: bool) -> Any:
        if len(x):
            x = _transform(self.image_data_generator, x, rng, self.subset != "validation",
                           self.dtype, rescaled)
        else:  # every file of the batch is unreadable: an empty batch, nothing to transform
            x = x.astype(self.dtype)
        if self.class_mode is None:
            return x
        if self.class_mode == "input":
            return x, x.copy()
        labels = self.classes[indices]
        if self.class_mode == "categorical":
            y = np.zeros((len(x), self.num_classes), dtype=self.dtype)
            y[np.arange(len(x)), labels] = 1.0
        else:
            y = labels.astype(self.dtype)
        return x, y


# ---------------------------------------------------------------------------------------------
# Helpers


def _dtype(dtype: Any, generator: Any) -> str:
    if dtype is None:
        dtype = getattr(generator, "dtype", None) or "float32"
    return as_float_dtype(dtype)


def _validation_split(generator: Any, subset: str) -> float:
    split = float(getattr(generator, "_validation_split", 0.0) or 0.0)
    if not 0.0 < split < 1.0:
        raise ValueError(f"subset={subset!r} needs ImageDataGenerator(validation_split=...) "
                         f"strictly between 0 and 1, got {split}")
    return split


def _transform(generator: Any, x: np.ndarray, rng: np.random.Generator, augment: bool,
               dtype: str, rescaled: bool = False, index: Optional[np.ndarray] = None) -> np.ndarray:
    if generator is None:
        return x.astype(dtype, copy=False)
    return generator._transform_batch(x, rng, augment, rescaled, index).astype(dtype, copy=False)
