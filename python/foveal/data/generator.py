"""``ImageDataGenerator``: Keras's (legacy) real-time augmentation and normalization.

Every argument keeps the meaning it has in Keras 3's ``keras.preprocessing.image``
``ImageDataGenerator`` (``keras.src.legacy.preprocessing.image``), and ``fit``,
``standardize``, ``get_random_transform``, ``apply_transform``, ``random_transform``, ``flow``
and ``flow_from_directory`` behave as there, with these deliberate differences:

* ``width_shift_range`` moves content horizontally and ``height_shift_range`` vertically, as
  the Keras documentation says (Keras 3 itself swaps them). ``params["tx"]`` is the row shift
  (from ``height_shift_range``) and ``params["ty"]`` the column shift; a positive value moves
  the content up / left, the sign Keras uses. See :mod:`foveal.data._augment` for the exact
  geometry (non-square images also pivot about their true centre).
* ``brightness`` multiplies float data of any range; Keras rounds through uint8 and Pillow.
* Randomness comes from NumPy ``Generator`` objects, never from NumPy's global state:
  ``seed`` may be an int or a ``numpy.random.Generator``; ``seed=None`` draws from foveal's
  generator (reseeded by :func:`foveal.utils.set_random_seed`). Iterators derive every batch's
  shuffling and augmentation from their own ``seed``, so equal seeds give equal batches.
* The ``"validation"`` subset of ``flow``/``flow_from_directory`` is standardized but not
  augmented (Keras augments it too).
* Unreadable image files are skipped with one warning and listed in ``iterator.skipped``
  (Keras raises): each is left out of its batch, which comes out one image shorter; no image
  takes its place, so none is seen twice in an epoch (``on_error="raise"`` to fail instead).
* ``fill_mode="wrap"`` repeats the image with period ``n`` (SciPy's ``"grid-wrap"``); Keras's
  SciPy ``"wrap"`` uses period ``n - 1``. ``"constant"`` blends the edge pixels with ``cval``
  in the one-pixel band outside the image (OpenCV's rule).
* ``flow_from_directory`` resizes with ``foveal.image.resize`` (OpenCV's rules, no
  antialiasing) and decodes JPEGs that shrink 2x or more at reduced size; see
  :mod:`foveal.data.iterators`.
* The channel shift clips to the range of the warped image, as Keras; with ``"constant"`` and
  ``"wrap"`` that range can differ slightly from Keras's through the border pixels above.
* Transforms are computed in float32 (``interpolation_order`` 0 or 1; ``order=0`` rounds
  exact half-pixel ties to even, as OpenCV); ZCA whitening, ``channels_first`` and
  ``save_to_dir`` are not supported.
"""

from __future__ import annotations

import math
import numbers
import os
import warnings
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from .. import _random
from .._checks import as_bool, as_float_dtype, as_int, as_real_array
from ._augment import FILL_MODES, apply_batch
from .iterators import DirectoryIterator, NumpyArrayIterator

__all__ = ["ImageDataGenerator"]

Number = Union[int, float]
SeedLike = Union[None, int, np.random.Generator]
ShiftRange = Union[Number, Sequence[Number]]

_EPS = 1e-6  # Keras's epsilon in the std normalizations


def _number(v: Any, name: str, minimum: Optional[float] = None) -> float:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    if minimum is not None and f < minimum:
        raise ValueError(f"{name} must be >= {minimum:g}, got {v!r}")
    return f


def _shift_range(v: Any, name: str) -> Union[int, float, np.ndarray]:
    """Keras's three forms: an int (pixels, drawn as ``choice(v) * (+-1)``), a float (uniform
    in ``[-v, v]``; a fraction of the size when < 1) or a 1-D sequence to choose from."""
    if isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{name} must be a float, an int or a sequence of numbers, got {v!r}")
    if isinstance(v, numbers.Integral):
        return as_int(v, name, 0)
    if isinstance(v, numbers.Real):
        return _number(v, name, 0.0)
    if isinstance(v, (list, tuple, np.ndarray)):
        arr = np.asarray(v)
        if arr.ndim != 1 or arr.size == 0 or arr.dtype.kind not in "iuf":
            raise ValueError(f"{name} must be a non-empty 1-D sequence of numbers, got {v!r}")
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite, got {v!r}")
        return arr
    raise TypeError(f"{name} must be a float, an int or a sequence of numbers, got {v!r}")


def _pair(v: Any, name: str, minimum: Optional[float] = None) -> List[float]:
    if not isinstance(v, (list, tuple, np.ndarray)) or len(v) != 2:
        raise ValueError(f"{name} must be a tuple or list of two floats, got {v!r}")
    return [_number(v[0], name, minimum), _number(v[1], name, minimum)]


def as_generator(seed: SeedLike, name: str = "seed") -> np.random.Generator:
    """``seed`` as a NumPy Generator: an int seeds a new one, a Generator is used as it is,
    None means foveal's own generator (see :func:`foveal.utils.set_random_seed`)."""
    if seed is None:
        return _random.generator()
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(as_int(seed, name, 0))


class ImageDataGenerator:
    """Generate batches of image data with real-time augmentation (Keras's legacy
    ``ImageDataGenerator``; data are ``N x H x W x C``, channels last).

    Args:
        featurewise_center: subtract the per-channel mean of the data given to :meth:`fit`.
        samplewise_center: subtract each image's mean.
        featurewise_std_normalization: divide by the per-channel std of the :meth:`fit` data
            (``+ 1e-6``); turns on ``featurewise_center`` (with a warning), as Keras.
        samplewise_std_normalization: divide each image by its std (``+ 1e-6``); turns on
            ``samplewise_center``.
        rotation_range: degrees; rotations uniform in ``[-rotation_range, rotation_range]``.
        width_shift_range: horizontal shift. A float: uniform in ``[-v, v]``, a fraction of
            the width when ``v < 1`` else pixels; an int ``n``: whole pixels
            ``choice(n) * (+-1)`` (i.e. ``-(n-1) .. n-1``); a 1-D sequence: one of its values
            (times ``+-1``), fractions when all are < 1.
        height_shift_range: the same for the vertical shift.
        brightness_range: ``(low, high)``: images are multiplied by a factor uniform in it.
        shear_range: shear angle in degrees, uniform in ``[-shear_range, shear_range]``.
        zoom_range: a float ``z`` means ``[1 - z, 1 + z]``, or ``[low, high]``; the row and
            column zooms ``zx``, ``zy`` are drawn independently (> 1 zooms out).
        channel_shift_range: an offset uniform in ``[-v, v]`` added to every channel (clipped
            to the image's own range).
        fill_mode: ``"nearest"`` (default), ``"constant"``, ``"reflect"`` or ``"wrap"``:
            how the points outside the image are filled.
        cval: the value outside the image with ``fill_mode="constant"``.
        horizontal_flip: flip half of the images left-right.
        vertical_flip: flip half of the images top-bottom.
        rescale: multiply the data by this factor (None or 0: no rescaling) before the other
            normalizations (after the augmentation).
        preprocessing_function: called first in :meth:`standardize`: in the iterators on each
            image (``H x W x C``, after resizing and augmentation); must return the same shape.
        validation_split: fraction of the data kept for ``subset="validation"``, in (0, 1).
        dtype: floating dtype of the generated batches (default ``"float32"``).
        interpolation_order: 1 (bilinear, Keras's default) or 0 (nearest) for the transforms.
        zca_whitening, zca_epsilon, data_format: accepted for compatibility; ZCA whitening
            and ``"channels_first"`` are not supported.

    Attributes:
        mean, std: the per-channel statistics (shape ``(1, 1, C)``) after :meth:`fit`, else None.
    """

    def __init__(self, featurewise_center: bool = False, samplewise_center: bool = False,
                 featurewise_std_normalization: bool = False,
                 samplewise_std_normalization: bool = False, rotation_range: Number = 0,
                 width_shift_range: ShiftRange = 0.0, height_shift_range: ShiftRange = 0.0,
                 brightness_range: Optional[Sequence[Number]] = None, shear_range: Number = 0.0,
                 zoom_range: Union[Number, Sequence[Number]] = 0.0,
                 channel_shift_range: Number = 0.0, fill_mode: str = "nearest", cval: Number = 0.0,
                 horizontal_flip: bool = False, vertical_flip: bool = False,
                 rescale: Optional[Number] = None,
                 preprocessing_function: Optional[Callable[[np.ndarray], np.ndarray]] = None,
                 validation_split: float = 0.0, dtype: Any = "float32",
                 interpolation_order: int = 1, zca_whitening: bool = False,
                 zca_epsilon: float = 1e-6, data_format: Optional[str] = None) -> None:
        self.featurewise_center = as_bool(featurewise_center, "featurewise_center")
        self.samplewise_center = as_bool(samplewise_center, "samplewise_center")
        self.featurewise_std_normalization = as_bool(featurewise_std_normalization,
                                                      "featurewise_std_normalization")
        self.samplewise_std_normalization = as_bool(samplewise_std_normalization,
                                                     "samplewise_std_normalization")
        self.rotation_range = _number(rotation_range, "rotation_range", 0.0)
        self._width_shift = _shift_range(width_shift_range, "width_shift_range")
        self._height_shift = _shift_range(height_shift_range, "height_shift_range")
        self.width_shift_range = width_shift_range
        self.height_shift_range = height_shift_range
        self.brightness_range = (None if brightness_range is None
                                 else _pair(brightness_range, "brightness_range", 0.0))
        self.shear_range = _number(shear_range, "shear_range", 0.0)
        if isinstance(zoom_range, numbers.Real) and not isinstance(zoom_range, (bool, np.bool_)):
            z = _number(zoom_range, "zoom_range", 0.0)
            self.zoom_range = [1.0 - z, 1.0 + z]
        else:
            self.zoom_range = _pair(zoom_range, "zoom_range")
        if min(self.zoom_range) < 0:
            raise ValueError(f"zoom_range must not give negative zooms, got {zoom_range!r}")
        self.channel_shift_range = _number(channel_shift_range, "channel_shift_range", 0.0)
        if not isinstance(fill_mode, str) or fill_mode not in FILL_MODES:
            raise ValueError(f"fill_mode must be one of {', '.join(map(repr, FILL_MODES))}, "
                             f"got {fill_mode!r}")
        self.fill_mode = fill_mode
        self.cval = _number(cval, "cval")
        self.horizontal_flip = as_bool(horizontal_flip, "horizontal_flip")
        self.vertical_flip = as_bool(vertical_flip, "vertical_flip")
        self.rescale = None if rescale is None else _number(rescale, "rescale")
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError(f"preprocessing_function must be callable or None, got "
                            f"{type(preprocessing_function).__name__}")
        self.preprocessing_function = preprocessing_function
        vs = _number(validation_split, "validation_split")
        if vs and not 0.0 < vs < 1.0:
            raise ValueError(f"validation_split must be strictly between 0 and 1, got {validation_split!r}")
        self._validation_split = vs
        self.dtype = as_float_dtype(dtype)
        order = as_int(interpolation_order, "interpolation_order", 0)
        if order > 1:
            raise ValueError(f"interpolation_order must be 0 (nearest) or 1 (bilinear), got {order}")
        self.interpolation_order = order
        if as_bool(zca_whitening, "zca_whitening"):
            raise NotImplementedError("zca_whitening is not supported by foveal.data")
        self.zca_whitening = False
        self.zca_epsilon = zca_epsilon
        if data_format not in (None, "channels_last"):
            raise ValueError(f"data_format must be 'channels_last' (foveal's layout), got {data_format!r}")
        self.data_format = "channels_last"
        self.channel_axis, self.row_axis, self.col_axis = 3, 1, 2

        if self.featurewise_std_normalization and not self.featurewise_center:
            self.featurewise_center = True
            warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, "
                          "which overrides setting of `featurewise_center`.", stacklevel=2)
        if self.samplewise_std_normalization and not self.samplewise_center:
            self.samplewise_center = True
            warnings.warn("This ImageDataGenerator specifies `samplewise_std_normalization`, "
                          "which overrides setting of `samplewise_center`.", stacklevel=2)
        self.mean: Optional[np.ndarray] = None
        self.std: Optional[np.ndarray] = None
        self.zca_whitening_matrix = None

    def __setattr__(self, name: str, value: Any) -> None:
        # Any change (settings, fitted statistics) gets a new version, so iterators drop a batch
        # they prefetched with the old settings.
        object.__setattr__(self, "_version", getattr(self, "_version", 0) + 1)
        object.__setattr__(self, name, value)

    @property
    def validation_split(self) -> float:
        """The fraction kept for ``subset="validation"``."""
        return self._validation_split

    # -----------------------------------------------------------------------------------------
    # Iterators

    def flow(self, x: Any, y: Any = None, batch_size: int = 32, shuffle: bool = True,
             sample_weight: Any = None, seed: Optional[int] = None, subset: Optional[str] = None,
             ignore_class_split: bool = False) -> NumpyArrayIterator:
        """Batches of augmented, standardized data from arrays: ``x`` is ``N x H x W x C``,
        ``y`` (optional) and ``sample_weight`` (optional) have ``N`` rows. Each batch is
        ``(x, y)``, ``(x, y, sample_weight)`` or ``x`` alone when ``y`` is None. ``subset``
        (``"training"``/``"validation"``) splits off the first ``int(validation_split * N)``
        samples as validation data (which is not augmented); unless ``ignore_class_split``,
        both parts must hold the same set of labels."""
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle,
                                  sample_weight=sample_weight, seed=seed, subset=subset,
                                  ignore_class_split=ignore_class_split, dtype=self.dtype)

    def flow_from_directory(self, directory: "str | os.PathLike[str]",
                            target_size: Tuple[int, int] = (256, 256), color_mode: str = "rgb",
                            classes: Optional[Sequence[str]] = None,
                            class_mode: Optional[str] = "categorical", batch_size: int = 32,
                            shuffle: bool = True, seed: Optional[int] = None,
                            subset: Optional[str] = None, interpolation: str = "nearest",
                            follow_links: bool = False, keep_aspect_ratio: bool = False,
                            on_error: str = "skip", cache: Any = None) -> DirectoryIterator:
        """Batches of augmented, standardized images read from ``directory``: one subfolder
        per class. ``cache="memory"`` or a file path keeps the decoded, resized images after
        the first epoch (augmentation still runs every epoch). See
        :class:`foveal.data.DirectoryIterator` for every argument."""
        return DirectoryIterator(directory, self, target_size=target_size, color_mode=color_mode,
                                 classes=classes, class_mode=class_mode, batch_size=batch_size,
                                 shuffle=shuffle, seed=seed, subset=subset,
                                 interpolation=interpolation, follow_links=follow_links,
                                 keep_aspect_ratio=keep_aspect_ratio, on_error=on_error,
                                 dtype=self.dtype, cache=cache)

    # -----------------------------------------------------------------------------------------
    # Normalization

    def standardize(self, x: Any) -> np.ndarray:
        """Apply the normalization configuration to ``x`` (one image or a batch, treated as one
        sample, as Keras): ``preprocessing_function``, ``rescale``, samplewise centering and
        std normalization (over all of ``x``), featurewise centering and std normalization.

        A floating NumPy array is changed in place (as Keras does) and returned; anything else
        is converted to ``dtype`` first. Warns when featurewise options are set but
        :meth:`fit` has not been called."""
        if not (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
            x = np.array(x, dtype=self.dtype)
        return self._normalize(x, None)

    def _normalize(self, x: np.ndarray, axes: Optional[Tuple[int, ...]],
                   skip_rescale: bool = False) -> np.ndarray:
        """The body of :meth:`standardize`; ``axes`` are each sample's axes (None: all of x,
        ``(1, 2, 3)`` for a batch whose images are normalized one by one)."""
        if self.preprocessing_function is not None:
            if axes is None:
                x = self.preprocessing_function(x)
            else:
                out = [np.asarray(self.preprocessing_function(img)) for img in x]
                if any(o.shape != x.shape[1:] for o in out):
                    raise ValueError(f"preprocessing_function must return an image of the shape it "
                                     f"was given {x.shape[1:]}, got {out[0].shape}")
                x = np.stack(out).astype(x.dtype, copy=False)
        if self.rescale and not skip_rescale:
            x *= self.rescale
        if self.samplewise_center:
            x -= np.mean(x, axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= np.std(x, axis=axes, keepdims=True) + _EPS
        if self.featurewise_center:
            if self.mean is not None:
                x -= self.mean
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_center`, but it hasn't "
                              "been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.", stacklevel=3)
        if self.featurewise_std_normalization:
            if self.std is not None:
                x /= self.std + _EPS
            else:
                warnings.warn("This ImageDataGenerator specifies `featurewise_std_normalization`, "
                              "but it hasn't been fit on any training data. Fit it first by calling "
                              "`.fit(numpy_data)`.", stacklevel=3)
        return x

    def fit(self, x: Any, augment: bool = False, rounds: int = 1, seed: SeedLike = None) -> None:
        """Compute the featurewise statistics from sample data ``x`` (``N x H x W x C``).

        As Keras: ``x`` is converted to ``dtype`` and multiplied by ``rescale``; with
        ``augment``, ``rounds`` randomly transformed copies of it are used instead; then
        ``mean`` is the per-channel mean over axes (0, 1, 2) (shape ``(1, 1, C)``) when
        ``featurewise_center``, and ``std`` the per-channel std of the centered data when
        ``featurewise_std_normalization``. ``seed`` (int or Generator) drives the augmentation.
        """
        arr = as_real_array(x, "x").astype(self.dtype)  # a copy: fit never changes x
        if arr.ndim != 4:
            raise ValueError(f"x must have rank 4 (N x H x W x C), got shape {arr.shape}")
        if arr.size == 0:
            raise ValueError(f"x must not be empty, got shape {arr.shape}")
        if arr.shape[3] not in (1, 3, 4):
            warnings.warn(f"Expected images with 1, 3 or 4 channels on axis 3, got shape {arr.shape} "
                          f"({arr.shape[3]} channels).", stacklevel=2)
        augment = as_bool(augment, "augment")
        rounds = as_int(rounds, "rounds", 1)
        rng = as_generator(seed)
        if self.rescale:
            arr *= self.rescale
        if augment:
            base = arr.astype(np.float32, copy=False)
            shape = base.shape[1:]
            parts = [apply_batch(base, self._random_columns(len(base), shape[0], shape[1], rng),
                                 self.fill_mode, self.cval, self.interpolation_order)
                     for _ in range(rounds)]
            arr = np.concatenate(parts).astype(self.dtype, copy=False)
        if self.featurewise_center:
            self.mean = np.mean(arr, axis=(0, 1, 2)).reshape(1, 1, arr.shape[3])
            arr -= self.mean
        if self.featurewise_std_normalization:
            self.std = np.std(arr, axis=(0, 1, 2)).reshape(1, 1, arr.shape[3])
            arr /= self.std + _EPS

    # -----------------------------------------------------------------------------------------
    # Augmentation

    @property
    def _augments(self) -> bool:
        """Whether any random transform is configured."""
        return bool(self.rotation_range or np.any(self._width_shift) or np.any(self._height_shift)
                    or self.shear_range or self.zoom_range != [1.0, 1.0] or self.channel_shift_range
                    or self.horizontal_flip or self.vertical_flip or self.brightness_range is not None)

    @staticmethod
    def _shifts(spec: Union[int, float, np.ndarray], size: int, n: int,
                rng: np.random.Generator) -> np.ndarray:
        """``n`` shifts in pixels drawn from a ``width_shift_range``/``height_shift_range``
        spec (Keras's three forms) along an axis of ``size`` pixels."""
        if isinstance(spec, np.ndarray):
            if spec.size == 0:
                return np.zeros(n)
            t = rng.choice(spec, n).astype(np.float64) * rng.choice((-1, 1), n)
            largest = float(spec.max())
        elif not spec:
            return np.zeros(n)
        elif isinstance(spec, int):  # Keras: np.random.choice(n) -> 0 .. n-1, then a sign
            t = rng.integers(spec, size=n).astype(np.float64) * rng.choice((-1, 1), n)
            largest = float(spec)
        else:
            t = rng.uniform(-spec, spec, n)
            largest = float(spec)
        return t * size if largest < 1 else t

    def _random_columns(self, n: int, h: int, w: int, rng: np.random.Generator) -> Dict[str, np.ndarray]:
        """The parameters of ``n`` random transformations of ``h x w`` images, one array per
        Keras key (``channel_shift_intensity`` and ``brightness`` only when configured), drawn
        parameter by parameter for the whole batch. With ``n = 1`` this draws the same numbers
        in the same order as one :meth:`get_random_transform`."""
        def uniform(limit: float) -> np.ndarray:
            return rng.uniform(-limit, limit, n) if limit else np.zeros(n)

        cols: Dict[str, np.ndarray] = {"theta": uniform(self.rotation_range),
                                       "tx": self._shifts(self._height_shift, h, n, rng),
                                       "ty": self._shifts(self._width_shift, w, n, rng),
                                       "shear": uniform(self.shear_range)}
        if self.zoom_range[0] == 1 and self.zoom_range[1] == 1:
            cols["zx"] = cols["zy"] = np.ones(n)
        else:
            zoom = rng.uniform(self.zoom_range[0], self.zoom_range[1], (n, 2))
            cols["zx"], cols["zy"] = zoom[:, 0], zoom[:, 1]
        no_flip = np.zeros(n, dtype=bool)
        cols["flip_horizontal"] = rng.random(n) < 0.5 if self.horizontal_flip else no_flip
        cols["flip_vertical"] = rng.random(n) < 0.5 if self.vertical_flip else no_flip
        if self.channel_shift_range:
            cols["channel_shift_intensity"] = uniform(self.channel_shift_range)
        if self.brightness_range is not None:
            cols["brightness"] = rng.uniform(self.brightness_range[0], self.brightness_range[1], n)
        return cols

    def get_random_transform(self, img_shape: Sequence[int], seed: SeedLike = None) -> Dict[str, Any]:
        """Draw the parameters of one random transformation of an image of shape
        ``img_shape`` (``H x W x C``), with Keras's distributions.

        Args:
            img_shape: the image's shape (rows, columns first).
            seed: an int (a fresh generator seeded with it), a ``numpy.random.Generator``, or
                None (foveal's generator, see :func:`foveal.utils.set_random_seed`).

        Returns:
            A dict with Keras's keys: ``theta`` (degrees), ``tx`` (row shift, pixels), ``ty``
            (column shift, pixels), ``shear`` (degrees), ``zx``, ``zy``, ``flip_horizontal``,
            ``flip_vertical`` (bools), ``channel_shift_intensity`` and ``brightness`` (None
            when not configured).
        """
        if not isinstance(img_shape, (tuple, list, np.ndarray)) or len(img_shape) < 2:
            raise ValueError(f"img_shape must be the image's shape (H, W, C), got {img_shape!r}")
        h, w = as_int(img_shape[0], "img_shape", 1), as_int(img_shape[1], "img_shape", 1)
        cols = self._random_columns(1, h, w, as_generator(seed))
        out: Dict[str, Any] = {key: float(cols[key][0]) for key in ("theta", "tx", "ty", "shear", "zx", "zy")}
        out["flip_horizontal"] = bool(cols["flip_horizontal"][0])
        out["flip_vertical"] = bool(cols["flip_vertical"][0])
        for key in ("channel_shift_intensity", "brightness"):
            out[key] = float(cols[key][0]) if key in cols else None
        return out

    def apply_transform(self, x: Any, transform_parameters: Mapping[str, Any]) -> np.ndarray:
        """Apply a transformation given by Keras-style parameters (see
        :meth:`get_random_transform`; missing keys mean "no change") to one image
        ``H x W x C``, with this generator's ``fill_mode``, ``cval`` and
        ``interpolation_order``. Returns a new array of ``dtype`` (computed in float32)."""
        img = _image_arg(x, "x")
        if not isinstance(transform_parameters, Mapping):
            raise TypeError(f"transform_parameters must be a dict, got {type(transform_parameters).__name__}")
        out = apply_batch(img[None], [transform_parameters], self.fill_mode, self.cval,
                          self.interpolation_order)[0]
        return out.astype(self.dtype, copy=False)

    def random_transform(self, x: Any, seed: SeedLike = None) -> np.ndarray:
        """Apply a random transformation (:meth:`get_random_transform` then
        :meth:`apply_transform`) to one image ``H x W x C``."""
        img = _image_arg(x, "x")
        return self.apply_transform(img, self.get_random_transform(img.shape, seed))

    def _transform_batch(self, x: np.ndarray, rng: np.random.Generator, augment: bool,
                         rescaled: bool = False, index: Optional[np.ndarray] = None) -> np.ndarray:
        """What the iterators do to a float32 batch: one random transform per image (unless
        ``augment`` is False), then :meth:`standardize` image by image (``rescaled``: the
        iterator already applied ``rescale`` while decoding). Returns ``dtype``. With
        ``index``, the batch is ``x[index]`` (``x`` float32): the warps read it in place."""
        if augment and self._augments:
            n = len(x) if index is None else len(index)
            cols = self._random_columns(n, x.shape[1], x.shape[2], rng)
            x = apply_batch(x, cols, self.fill_mode, self.cval, self.interpolation_order, index=index)
        elif index is not None:
            x = x[index]
        x = x.astype(self.dtype, copy=False)
        return self._normalize(x, tuple(range(1, x.ndim)), skip_rescale=rescaled)


def _image_arg(x: Any, name: str) -> np.ndarray:
    """One ``H x W x C`` image of real numbers as float32."""
    arr = as_real_array(x, name)
    if arr.ndim != 3 or arr.size == 0:
        raise ValueError(f"{name} must be one image H x W x C, got shape {arr.shape}")
    return np.ascontiguousarray(arr, dtype=np.float32)
