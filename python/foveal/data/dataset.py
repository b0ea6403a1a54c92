"""``image_dataset_from_directory``: Keras 3's folder-of-images dataset, without TensorFlow.

::

    train, val = foveal.data.image_dataset_from_directory(
        "photos", validation_split=0.2, subset="both", seed=1337, image_size=(180, 180),
        batch_size=32)
    train = train.cache().prefetch(foveal.data.AUTOTUNE)
    model.fit(train, validation_data=val, epochs=10)

Every argument has its meaning in Keras 3.15 (``keras.utils.image_dataset_from_directory``):
the same files in the same order (class folders sorted by name, hidden ones left out, files
at any depth, extensions bmp, gif, jpeg, jpg, png), the same labels, the same seeded shuffle
of the listing (NumPy's ``RandomState(seed)``, as Keras) and so the same ``"training"`` /
``"validation"`` split (the last ``int(validation_split * n)`` files are the validation
subset), the same printed lines, images resized as Keras's loader does (``float32`` in
0-255; the crop and pad arithmetic of ``crop_to_aspect_ratio`` / ``pad_to_aspect_ratio``).
The dataset iterates ``(images, labels)`` batches (images alone without labels); see
:class:`foveal.data._pipeline.Dataset` for ``map``, ``batch``, ``cache``...

Deliberate differences from Keras:

* The images are decoded with Pillow's conversions (as Keras's ``format="grain"`` loader;
  TensorFlow's ``decode_image`` converts to grayscale with other weights) and resized with
  ``foveal.image.resize`` (OpenCV's rules, the same as Keras's non-antialiased resize up to
  float rounding). ``pad_to_aspect_ratio`` pads the image with zeros and then resizes it, as
  Keras's backend ``resize`` (TensorFlow's ``resize_with_pad`` resizes then pads).
  ``interpolation`` is one of ``"bilinear"``, ``"nearest"``, ``"bicubic"``, ``"area"``
  (OpenCV's ``INTER_AREA``).
* JPEGs that shrink 2x or more are decoded at reduced scale in the DCT, and the EXIF
  orientation is applied (see :mod:`foveal.data._decode`); the format is read from the
  content, not the extension.
* ``shuffle=True``: each pass (epoch) visits the files in a new order drawn from ``(seed,
  epoch)``, a full permutation (Keras uses tf.data's buffered shuffle of 8 batches, whose
  order cannot be reproduced without TensorFlow). ``seed=None`` draws a seed from foveal's
  generator, never from NumPy's global state.
* An unreadable file is skipped with one warning (listed in ``dataset.skipped``): its batch
  comes out one image shorter; no other image takes its place.
* A ``validation_split`` that leaves no validation file (``int(split * n) == 0``) is a
  ValueError (Keras then puts every file in the validation subset and none in training).
* ``dataset.cache()`` keeps the decoded images (before resizing; uint8) rather than finished
  batches, so a shuffled dataset still reshuffles every epoch after ``cache`` (tf.data replays
  the first epoch's order); a file cache is reused only while the listing and settings are
  unchanged (rebuilt otherwise).
"""

from __future__ import annotations

import os
import threading
from typing import Any, Iterator, List, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _random
from .._checks import as_bool, as_existing_path, as_int
from ._cache import ImageCache, cache_kind, listing_key, read_through_cache
from ._decode import decode_batch, decode_image, decoder_version
from ._listing import DATASET_FORMATS, index_directory
from ._pipeline import AUTOTUNE, Dataset
from ._threads import pool

__all__ = ["image_dataset_from_directory", "ImageFileDataset", "Dataset", "AUTOTUNE"]

_CHANNELS = {"grayscale": 1, "rgb": 3, "rgba": 4}
_INTERPOLATIONS = ("bilinear", "nearest", "bicubic", "area")
_KERAS_ONLY = ("lanczos3", "lanczos5", "gaussian", "mitchellcubic")
_LABEL_MODES = ("int", "categorical", "binary")
_CHUNK = 32  # images decoded together when the dataset is not batched


class ImageFileDataset(Dataset):
    """The dataset :func:`image_dataset_from_directory` returns: image files decoded, fitted
    and resized to ``image_size``, in batches (or one by one when ``batch_size`` is None).

    Attributes:
        class_names: class names in label order (None without labels).
        file_paths: the files, in the dataset's (seeded, shuffled) listing order.
        labels: the int32 label of every file (None without labels).
        image_size, color_mode, batch_size, label_mode, interpolation.
        skipped: paths of the unreadable files met so far (left out of their batches).
        cache_info: what ``cache`` holds, or None (see :meth:`cache`).
    """

    def __init__(self, file_paths: List[str], labels: Optional[np.ndarray], label_mode: Optional[str],
                 class_names: Optional[List[str]], color_mode: str, batch_size: Optional[int],
                 image_size: Tuple[int, int], shuffle: bool, seed: int, interpolation: str,
                 fit: Optional[str], directory: str) -> None:
        self.file_paths = list(file_paths)
        self.labels = labels
        self.label_mode = label_mode
        self.class_names = class_names
        self.color_mode = color_mode
        self.batch_size = batch_size
        self.image_size = image_size
        self.shuffle_files = shuffle
        self.seed = seed
        self.interpolation = interpolation
        self.directory = directory
        self.skipped: List[str] = []
        self._fit = fit
        self._image_shape = image_size + (_CHANNELS[color_mode],)
        self._num_classes = len(class_names) if class_names else 0
        self._cache: Optional[ImageCache] = None
        self._bad: set = set()
        self._lock = threading.Lock()
        self._passes = 0

    # -- size ----------------------------------------------------------------------------

    def _cardinality(self) -> Optional[int]:
        n = len(self.file_paths)
        return n if self.batch_size is None else -(-n // self.batch_size)

    def _samples(self) -> Optional[int]:
        return len(self.file_paths)

    # -- caching -------------------------------------------------------------------------

    def cache(self, filename: "str | os.PathLike[str]" = "") -> "ImageFileDataset":
        """This dataset with its decoded images kept after they are first read: in memory
        (``filename=""``) or in the memory-mapped file ``filename``, so later passes open no
        file. The images are kept decoded and fitted (cropped or padded) but before resizing
        (uint8), so the batches are exactly those without a cache, and a shuffled dataset
        still reshuffles every pass. A memory cache is bounded (``FOVEAL_CACHE_LIMIT_MB``,
        default half the physical memory); a file is written atomically once every image has
        been read and reused by a later run with the same listing (names, sizes, modification
        times) and settings, rebuilt otherwise."""
        path = os.fspath(filename)
        if not isinstance(path, str):
            raise TypeError("filename must be a str path")
        kind = cache_kind(path or "memory", "filename")
        out = ImageFileDataset(self.file_paths, self.labels, self.label_mode, self.class_names,
                               self.color_mode, self.batch_size, self.image_size,
                               self.shuffle_files, self.seed, self.interpolation, self._fit,
                               self.directory)
        n = len(self.file_paths)
        if kind == "memory":
            out._cache = ImageCache(n)
        else:
            settings = {"kind": "image_dataset_from_directory", "image_size": list(self.image_size),
                        "color_mode": self.color_mode, "fit": self._fit, "decoder": decoder_version()}
            names = [os.path.relpath(p, self.directory) for p in self.file_paths]
            key = listing_key(self.file_paths, names, settings)
            out._cache = ImageCache(n, kind, key, {"directory": os.path.abspath(self.directory),
                                                   **settings})
        return out

    @property
    def cache_info(self) -> Optional[dict]:
        """What the cache holds (``kind``, ``path``, ``images``, ``unreadable``, ``total``,
        ``bytes``, ``limit_bytes``, ``complete``, ``reused``), or None without one."""
        return None if self._cache is None else self._cache.info()

    # -- reading -------------------------------------------------------------------------

    def _read(self, j: int) -> Optional[np.ndarray]:
        """File ``j`` decoded and fitted (not resized), or None when it cannot be read."""
        path = self.file_paths[j]
        return read_through_cache(
            self, j, path, lambda: decode_image(path, self.color_mode, self.image_size, self._fit), "dataset")

    def _labels_of(self, idx: np.ndarray) -> Any:
        lab = self.labels[idx]
        if self.label_mode == "int":
            return lab.astype(np.int32)
        if self.label_mode == "binary":
            return lab.astype(np.float32)[:, None]
        out = np.zeros((len(idx), self._num_classes), dtype=np.float32)
        out[np.arange(len(idx)), lab] = 1.0
        return out

    def _build(self, idx: np.ndarray) -> Any:
        """The batch of files ``idx``: ``(images, labels)`` or images."""
        x, read = decode_batch(self._read, [int(j) for j in idx], self._image_shape,
                               self.interpolation, None, float_resize=True)
        if self.label_mode is None:
            return x
        return x, self._labels_of(idx[read])

    def _order(self) -> np.ndarray:
        with self._lock:
            p = self._passes
            self._passes += 1
        n = len(self.file_paths)
        if not self.shuffle_files:
            return np.arange(n)
        return np.random.default_rng([self.seed, p]).permutation(n)

    def _iterate(self) -> Iterator[Any]:
        order = self._order()
        step = self.batch_size or _CHUNK
        chunks = [order[k:k + step] for k in range(0, len(order), step)]
        if not chunks:
            return
        # The next batch is built in the background while the caller works on this one.
        pending = pool("prefetch").submit(self._build, chunks[0])
        for i in range(len(chunks)):
            batch = pending.result()
            if i + 1 < len(chunks):
                pending = pool("prefetch").submit(self._build, chunks[i + 1])
            if self.batch_size is not None:
                yield batch
            elif isinstance(batch, tuple):
                yield from zip(batch[0], batch[1])
            else:
                yield from batch


def image_dataset_from_directory(
        directory: "str | os.PathLike[str]", labels: Union[str, Sequence[int], None] = "inferred",
        label_mode: Optional[str] = "int", class_names: Optional[Sequence[str]] = None,
        color_mode: str = "rgb", batch_size: Optional[int] = 32,
        image_size: Union[int, Tuple[int, int]] = (256, 256), shuffle: bool = True,
        seed: Optional[int] = None, validation_split: Optional[float] = None,
        subset: Optional[str] = None, interpolation: str = "bilinear", follow_links: bool = False,
        crop_to_aspect_ratio: bool = False, pad_to_aspect_ratio: bool = False,
        verbose: bool = True) -> Union[ImageFileDataset, List[ImageFileDataset]]:
    """A dataset of the images below ``directory``, as Keras 3's function of the same name.

    Args:
        directory: with ``labels="inferred"``, one subfolder per class (images at any depth
            below it); otherwise any folder (every image below it).
        labels: ``"inferred"`` (from the subfolders), None (no labels) or a list of integer
            labels, one per image file in the listing order (``os.walk`` order, sorted).
        label_mode: ``"int"`` (int32 ``(batch,)``), ``"categorical"`` (one-hot float32
            ``(batch, classes)``), ``"binary"`` (float32 ``(batch, 1)``, exactly two classes)
            or None (images only).
        class_names: with ``labels="inferred"``, the subfolders to use, in label order.
        color_mode: ``"rgb"`` (3 channels), ``"rgba"`` (4) or ``"grayscale"`` (1).
        batch_size: images per batch; None yields single images.
        image_size: ``(height, width)`` (or one int) every image is resized to.
        shuffle: shuffle the listing (seeded, as Keras) and visit it in a new order each
            pass; False keeps the listing's order.
        seed: the shuffle and split seed (an int below 2**32); required with
            ``validation_split`` and ``shuffle``.
        validation_split: fraction of the files held out for validation (the last ones).
        subset: ``"training"``, ``"validation"`` or ``"both"`` (returns ``[train, val]``; the
            validation dataset is not shuffled).
        interpolation: ``"bilinear"``, ``"nearest"``, ``"bicubic"`` or ``"area"``.
        follow_links: descend into symbolically linked folders.
        crop_to_aspect_ratio: crop the largest centred window of the target's aspect ratio
            before resizing.
        pad_to_aspect_ratio: pad with zeros (centred) to the target's aspect ratio before
            resizing.
        verbose: print how many files and classes were found.

    Returns:
        An :class:`ImageFileDataset` (a list of two for ``subset="both"``) whose batches are
        ``(images, labels)`` with images float32 ``batch x height x width x channels`` in
        0-255, or images alone when there are no labels. See the module docstring for the
        deliberate differences from Keras.
    """
    directory = as_existing_path(directory, "directory", "folder")
    if not (labels is None or (isinstance(labels, str) and labels == "inferred")):
        if not isinstance(labels, (list, tuple, np.ndarray)):
            raise ValueError(f"labels must be 'inferred', None or a list/tuple of integer labels, "
                             f"one per image file; got {labels!r}")
        if class_names:
            raise ValueError("class_names can only be given with labels='inferred'")
    if label_mode not in (*_LABEL_MODES, None) or isinstance(label_mode, bool):
        raise ValueError(f"label_mode must be 'int', 'categorical', 'binary' or None, got {label_mode!r}")
    if labels is None or label_mode is None:
        labels, label_mode = None, None
    if not isinstance(color_mode, str) or color_mode not in _CHANNELS:
        raise ValueError(f"color_mode must be 'rgb', 'rgba' or 'grayscale', got {color_mode!r}")
    size = _image_size(image_size)
    if not isinstance(interpolation, str):
        raise TypeError(f"interpolation must be a str, got {type(interpolation).__name__}")
    interpolation = interpolation.lower()
    if interpolation not in _INTERPOLATIONS:
        extra = " (Keras's TensorFlow-only methods are not supported)" if interpolation in _KERAS_ONLY else ""
        raise ValueError(f"interpolation must be one of {', '.join(map(repr, _INTERPOLATIONS))}, "
                         f"got {interpolation!r}{extra}")
    shuffle = as_bool(shuffle, "shuffle")
    follow_links = as_bool(follow_links, "follow_links")
    crop, pad = as_bool(crop_to_aspect_ratio, "crop_to_aspect_ratio"), as_bool(pad_to_aspect_ratio, "pad_to_aspect_ratio")
    if crop and pad:
        raise ValueError("only one of crop_to_aspect_ratio and pad_to_aspect_ratio can be True")
    batch_size = None if batch_size is None else as_int(batch_size, "batch_size", 1)
    _check_split(validation_split, subset, shuffle, seed)
    if seed is None:
        seed = int(_random.generator().integers(1_000_000))
    else:
        seed = as_int(seed, "seed", 0)
        if seed >= 2**32:
            raise ValueError(f"seed must be below 2**32 (NumPy's RandomState), got {seed}")

    names, lab, class_names = index_directory(directory, labels, class_names, follow_links)
    if verbose:
        if lab is None:
            print(f"Found {len(names)} files.")
        else:
            print(f"Found {len(names)} files belonging to {len(class_names)} classes.")
    if label_mode == "binary" and len(class_names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes, got class_names={class_names}")
    paths = [os.path.join(directory, f) for f in names]
    if shuffle:  # Keras's global shuffle of the listing, and so its split
        perm = list(range(len(paths)))
        np.random.RandomState(seed).shuffle(perm)
        paths = [paths[k] for k in perm]
        lab = None if lab is None else lab[perm]

    fit = "crop" if crop else "pad" if pad else None

    def make(part: str, shuffled: bool) -> ImageFileDataset:
        p, y = _split(paths, lab, validation_split, part)
        if not p:
            raise ValueError(f"No {'' if part is None else part + ' '}images found in directory "
                             f"{directory!r}. Allowed formats: {DATASET_FORMATS}")
        return ImageFileDataset(p, y, label_mode, class_names, color_mode, batch_size, size,
                                shuffled, seed, interpolation, fit, directory)

    if subset == "both":
        return [make("training", shuffle), make("validation", False)]
    return make(subset, shuffle)


def _image_size(image_size: Any) -> Tuple[int, int]:
    if isinstance(image_size, (int, np.integer)) and not isinstance(image_size, bool):
        image_size = (image_size, image_size)
    if not isinstance(image_size, (list, tuple)) or len(image_size) != 2:
        raise ValueError(f"image_size must be (height, width), got {image_size!r}")
    return as_int(image_size[0], "image_size", 1), as_int(image_size[1], "image_size", 1)


def _check_split(validation_split: Any, subset: Any, shuffle: bool, seed: Any) -> None:
    """Keras's checks of ``validation_split`` / ``subset`` / ``seed``."""
    if validation_split is not None:
        if isinstance(validation_split, bool) or not isinstance(validation_split, (int, float)):
            raise TypeError(f"validation_split must be a float, got {validation_split!r}")
        if validation_split and not 0 < validation_split < 1:
            raise ValueError(f"validation_split must be between 0 and 1, got {validation_split}")
    if (validation_split or subset) and not (validation_split and subset):
        raise ValueError("subset and validation_split must be given together")
    if subset not in ("training", "validation", "both", None):
        raise ValueError(f"subset must be 'training', 'validation' or 'both', got {subset!r}")
    if validation_split and shuffle and seed is None:
        raise ValueError("validation_split with shuffle=True needs a seed, so that the training "
                         "and validation subsets do not overlap")


def _split(paths: List[str], labels: Optional[np.ndarray], validation_split: Optional[float],
           subset: Optional[str]) -> Tuple[List[str], Optional[np.ndarray]]:
    """Keras's split: the last ``int(validation_split * n)`` files are the validation subset."""
    if not validation_split:
        return paths, labels
    n_val = int(validation_split * len(paths))
    if n_val == 0:
        raise ValueError(f"validation_split={validation_split} of {len(paths)} files leaves no "
                         f"validation file")
    if subset == "training":
        print(f"Using {len(paths) - n_val} files for training.")
        return paths[:-n_val], None if labels is None else labels[:-n_val]
    print(f"Using {n_val} files for validation.")
    return paths[-n_val:], None if labels is None else labels[-n_val:]
