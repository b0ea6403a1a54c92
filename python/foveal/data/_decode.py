"""Image files to arrays and float32 batches, for ``DirectoryIterator`` and the datasets of
``image_dataset_from_directory``.

Each file is read once (one ``open``) and its format is taken from its first bytes, never
from its extension. A JPEG is decoded by ``simplejpeg`` (libjpeg-turbo, the GIL released)
when it is installed, else by Pillow; both give the same pixels, and a JPEG that shrinks 2x or
more is decoded at 1/2, 1/4 or 1/8 scale in the DCT (the largest of these that keeps it at
least the target size; Pillow's ``draft``). Every other format goes to Pillow, which converts
modes as Keras's ``load_img`` does. The EXIF orientation is applied (Keras ignores it).

Why simplejpeg (numbers in docs/data.md, "Decoding"): decoding alone, one thread, interleaved
rounds on a busy 2-core machine, it took 0.52 ms per 320x240 file against 0.57 ms for OpenCV's
``imdecode`` and 0.76 ms for Pillow (best of 7), and 6.6 / 6.7 / 7.3 ms for a 1280x960 file
decoded at 1/4. PyTurboJPEG needs a system libturbojpeg (its wheel carries none), so it is
not used.

The files of a batch are decoded and resized (``foveal.image.resize``; ``"lanczos"`` and
``"hamming"`` by Pillow) in parallel on the decode pool (:mod:`foveal.data._threads`). Whether
an unreadable file is skipped or raises (:func:`unreadable_error`) is the caller's choice.
"""

from __future__ import annotations

import io
import os
import warnings
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from .. import image as _image
from ._exif import apply_orientation, jpeg_orientation, pil_orientation, transposes
from ._threads import busy, decode_workers, pool

try:  # the fast JPEG path (optional: Pillow decodes the same pixels without it)
    import simplejpeg as _simplejpeg
except ImportError:  # pragma: no cover - depends on the installation
    _simplejpeg = None

# Interpolation names: those foveal.image.resize does (by its name), then those Pillow does.
_RESIZE = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic", "area": "area",
           "box": "area"}
_PIL_RESIZE = ("lanczos", "hamming")
INTERPOLATIONS = (*_RESIZE, *_PIL_RESIZE)
# How an image is fitted to the target's aspect ratio before resizing: None (stretched),
# "legacy_crop" (ImageDataGenerator's keep_aspect_ratio), "crop" / "pad" (Keras 3's
# crop_to_aspect_ratio / pad_to_aspect_ratio).
FITS = (None, "legacy_crop", "crop", "pad")
_JPEG_SOI = b"\xff\xd8\xff"
# Set to False to decode every JPEG with Pillow (tests compare the two paths).
use_simplejpeg = True


def _pil() -> Any:
    from PIL import Image

    return Image


def decoder_version() -> str:
    """Identifies the decoders (a file cache made with other versions is rebuilt)."""
    Image = _pil()
    sj = getattr(_simplejpeg, "__version__", "none") if _simplejpeg is not None else "none"
    return f"pillow-{Image.__version__}/simplejpeg-{sj}/1"


#: Batches of at least this many bytes are filled with streaming stores (:func:`decode_batch`).
STREAM_BYTES = 8 << 20
#: Bytes asked of each ``os.read`` in :func:`read_file` (most images take one read).
_READ_CHUNK = 1 << 18


def read_file(path: str) -> bytes:
    """The bytes of the file ``path`` (the one place files are opened). Plain ``os.read``
    calls: a buffered file object costs about twice the time on a small image file."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        chunks = []
        while True:
            chunk = os.read(fd, _READ_CHUNK)
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(fd)
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def decode_file(path: str, color_mode: str, target_size: Tuple[int, int], interpolation: str,
                keep_aspect_ratio: bool) -> np.ndarray:
    """One image file as ``flow_from_directory`` reads it, up to the final resize: see
    :func:`decode_image` (``keep_aspect_ratio`` is the legacy centred crop), and ``"lanczos"``
    / ``"hamming"`` already resized to ``target_size`` by Pillow."""
    arr = decode_image(path, color_mode, target_size, "legacy_crop" if keep_aspect_ratio else None)
    if interpolation in _PIL_RESIZE and arr.shape[:2] != tuple(target_size):
        arr = pil_resize(arr, target_size, interpolation)
    return arr


def pil_resize(arr: np.ndarray, target_size: Tuple[int, int], interpolation: str) -> np.ndarray:
    """``arr`` resized by Pillow (``"lanczos"``, ``"hamming"``), as ``H x W x C``."""
    Image = _pil()
    th, tw = target_size
    img = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    out = np.asarray(img.resize((tw, th), getattr(Image.Resampling, interpolation.upper())))
    return out[:, :, None] if out.ndim == 2 else out


def decode_image(path: str, color_mode: str, target_size: Tuple[int, int],
                 fit: Optional[str] = None) -> np.ndarray:
    """One image file decoded: an ``H x W x C`` uint8 array (float32 for 16/32-bit files),
    turned by its EXIF orientation, JPEGs decoded at 1/2, 1/4 or 1/8 scale when the (fitted)
    image shrinks 2x or more to ``target_size`` (``(height, width)``), then fitted to the
    target's aspect ratio by ``fit`` (see ``FITS``). Not resized. Raises on an unreadable file."""
    data = read_file(path)
    arr = None
    if data[:3] == _JPEG_SOI and _simplejpeg is not None and use_simplejpeg:
        arr = _decode_jpeg_fast(data, color_mode, target_size, fit)
    if arr is None:
        arr = _decode_pillow(data, color_mode, target_size, fit)
    return fit_image(arr, target_size, fit)


def _scale(w: int, h: int, target_size: Tuple[int, int], fit: Optional[str]) -> int:
    """The DCT scale denominator (1, 2, 4 or 8) for a JPEG displayed ``w x h``."""
    th, tw = target_size
    cw, ch = fitted_size(w, h, tw, th, fit)
    k = min(cw // tw, ch // th, 8)
    s = 1
    while s * 2 <= k:
        s *= 2
    return s


def _decode_jpeg_fast(data: bytes, color_mode: str, target_size: Tuple[int, int],
                      fit: Optional[str]) -> Optional[np.ndarray]:
    """A JPEG decoded by simplejpeg (same pixels as Pillow), or None to let Pillow try (CMYK
    files, anything simplejpeg refuses)."""
    try:
        h, w, space, _ = _simplejpeg.decode_jpeg_header(data)
        if space not in ("Gray", "YCbCr", "RGB"):
            return None
        orientation = jpeg_orientation(data)
        dw, dh = (h, w) if transposes(orientation) else (w, h)
        s = _scale(dw, dh, target_size, fit)
        opts: Dict[str, Any] = {}
        if s > 1:
            opts = {"min_factor": s, "min_width": -(-w // s), "min_height": -(-h // s)}
        gray = space == "Gray"
        if gray:
            arr = _simplejpeg.decode_jpeg(data, "GRAY", **opts)
            if color_mode == "rgb":
                arr = np.repeat(arr, 3, axis=2)
            elif color_mode == "rgba":
                arr = np.concatenate([np.repeat(arr, 3, axis=2),
                                      np.full(arr.shape[:2] + (1,), 255, np.uint8)], axis=2)
        elif color_mode == "rgba":
            arr = _simplejpeg.decode_jpeg(data, "RGBA", **opts)
        else:
            arr = _simplejpeg.decode_jpeg(data, "RGB", **opts)
            if color_mode == "grayscale":  # Pillow's RGB -> L conversion, as Keras
                arr = np.asarray(_pil().fromarray(arr).convert("L"))[:, :, None]
    except (ValueError, RuntimeError, OSError, TypeError):  # TypeError: an older simplejpeg
        return None
    return apply_orientation(arr, orientation)


def _decode_pillow(data: bytes, color_mode: str, target_size: Tuple[int, int],
                   fit: Optional[str]) -> np.ndarray:
    """Any image Pillow opens, converted as Keras's ``load_img`` does."""
    Image = _pil()
    with Image.open(io.BytesIO(data)) as img:
        orientation = 1
        if img.format == "JPEG":
            orientation = pil_orientation(img)
            w, h = img.size
            dw, dh = (h, w) if transposes(orientation) else (w, h)
            s = _scale(dw, dh, target_size, fit)
            if s > 1:  # Pillow picks the scale s from this request (see _scale)
                img.draft(img.mode, (w // s, h // s))
        if color_mode == "grayscale":
            conv = img if img.mode in ("L", "I;16", "I") else img.convert("L")
        elif color_mode == "rgba":
            conv = img if img.mode == "RGBA" else img.convert("RGBA")
        else:
            conv = img if img.mode == "RGB" else img.convert("RGB")
        arr = np.asarray(conv)
        if img.format != "JPEG":
            orientation = pil_orientation(img)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return apply_orientation(arr, orientation)


def fitted_size(w: int, h: int, tw: int, th: int, fit: Optional[str]) -> Tuple[int, int]:
    """``(width, height)`` of a ``w x h`` image once fitted by ``fit`` (see ``FITS``)."""
    if fit == "legacy_crop":
        return crop_size(w, h, tw, th)
    if fit == "crop":
        return (max(min(w, int(float(h * tw) / th)), 1), max(min(h, int(float(w * th) / tw)), 1))
    if fit == "pad":
        ws, hs = _pad_starts(w, h, tw, th)
        return w + 2 * ws, h + 2 * hs
    return w, h


def _pad_starts(w: int, h: int, tw: int, th: int) -> Tuple[int, int]:
    ph = max(h, int(float(w * th) / tw))
    pw = max(w, int(float(h * tw) / th))
    return int(float(pw - w) / 2), int(float(ph - h) / 2)


def fit_image(arr: np.ndarray, target_size: Tuple[int, int], fit: Optional[str]) -> np.ndarray:
    """``arr`` (``H x W x C``) fitted to the aspect ratio of ``target_size`` by ``fit``:
    ``"legacy_crop"`` (ImageDataGenerator's centred crop), ``"crop"`` (Keras 3's
    ``crop_to_aspect_ratio``: the largest centred window) or ``"pad"`` (Keras 3's
    ``pad_to_aspect_ratio``: zeros added equally on both sides), as a C-contiguous array."""
    th, tw = target_size
    h, w = arr.shape[:2]
    if fit in ("legacy_crop", "crop"):
        cw, ch = fitted_size(w, h, tw, th, fit)
        if fit == "legacy_crop":
            top, left = (h - ch) // 2, (w - cw) // 2
        else:
            top, left = int(float(h - ch) / 2), int(float(w - cw) / 2)
        arr = arr[top:top + ch, left:left + cw]
    elif fit == "pad":
        ws, hs = _pad_starts(w, h, tw, th)
        if ws or hs:
            out = np.zeros((h + 2 * hs, w + 2 * ws, arr.shape[2]), dtype=arr.dtype)
            out[hs:hs + h, ws:ws + w] = arr
            return out
    return np.ascontiguousarray(arr)


def crop_size(w: int, h: int, tw: int, th: int) -> Tuple[int, int]:
    """Keras's ``keep_aspect_ratio`` crop: the largest centred box of the target's aspect."""
    return min(w, (h * tw) // th), min(h, (w * th) // tw)


def unreadable_error(path: str, error: Exception) -> Exception:
    """What ``on_error="raise"`` raises for a file that :func:`decode_file` failed on with
    ``error``: FileNotFoundError when the file is missing, else ValueError naming it."""
    if isinstance(error, OSError) and not os.path.isfile(path):
        return FileNotFoundError(f"no such image file: {path!r}")
    return ValueError(f"cannot read image {path!r}: {error}")


def resize_image(img: np.ndarray, target_size: Tuple[int, int], interpolation: str,
                 as_float: bool = False) -> np.ndarray:
    """``img`` (``H x W x C``) resized to ``target_size`` with ``foveal.image.resize``
    (``"lanczos"``/``"hamming"``: Pillow), keeping its dtype; in float32 when ``as_float``
    (Keras 3's datasets resize float images, so nothing is rounded; ``"nearest"`` then takes
    Keras 3's rule, :func:`keras_nearest`)."""
    if img.shape[:2] == tuple(target_size):
        return img.astype(np.float32) if as_float else img
    if as_float and interpolation == "nearest":
        return keras_nearest(img, target_size).astype(np.float32)
    if interpolation in _PIL_RESIZE:
        img = pil_resize(img, target_size, interpolation)
        return img.astype(np.float32) if as_float else img
    if as_float and img.dtype != np.float32:
        img = img.astype(np.float32)
    return _image.resize(img, tuple(target_size), _RESIZE[interpolation])


def _nearest_index(n_in: int, n_out: int) -> np.ndarray:
    """Keras 3's (TensorFlow's and PyTorch's ``nearest-exact``) source index of each output
    pixel: ``floor((i + 0.5) * (n_in / n_out))`` in float32, at most ``n_in - 1``."""
    scale = np.float32(n_in) / np.float32(n_out)
    pos = (np.arange(n_out, dtype=np.float32) + np.float32(0.5)) * scale
    return np.minimum(np.floor(pos).astype(np.int64), n_in - 1)


def keras_nearest(img: np.ndarray, target_size: Tuple[int, int]) -> np.ndarray:
    """``img`` (``H x W x C``) resized by Keras 3's nearest rule (see :func:`_nearest_index`;
    OpenCV's ``INTER_NEAREST_EXACT`` breaks exact ties the other way at some sizes)."""
    rows = _nearest_index(img.shape[0], int(target_size[0]))
    cols = _nearest_index(img.shape[1], int(target_size[1]))
    return img[rows[:, None], cols[None, :]]


def decode_batch(read: Callable[[int], Optional[np.ndarray]], items: Sequence[int],
                 image_shape: Tuple[int, ...], interpolation: str, scale: Optional[float],
                 float_resize: bool = False) -> Tuple[np.ndarray, List[int]]:
    """The images of ``items`` as one float32 batch ``n x H x W x C`` (``image_shape``).

    ``read(item)`` gives an image as :func:`decode_image` does, or None for a file that cannot
    be read; it runs on the decode pool. Images not at the target size are resized there with
    ``interpolation`` (:func:`resize_image`; in float32 and with Keras 3's nearest rule when
    ``float_resize``, as Keras 3's datasets), and every image
    is multiplied by ``scale`` (a float32 product) unless it is None. Returns the batch and
    the positions in ``items`` of the images in it: an unreadable file is left out, never
    replaced by another image."""
    target = tuple(image_shape[:2])
    factor = None if scale is None else np.float32(scale)
    # A batch larger than the caches is written with streaming stores: its lines are not read
    # into the cache first (measured: 84 -> 45 us per 224x224x3 image into a 19 MB batch)
    out = np.empty((len(items),) + tuple(image_shape), dtype=np.float32)
    stream = out.nbytes >= STREAM_BYTES

    def fill(slot: int, item: int) -> bool:
        """Decode and resize ``item`` into out[slot]; False when it cannot be read."""
        img = read(item)
        if img is None:
            return False
        img = resize_image(img, target, interpolation, float_resize)
        if img.dtype == np.uint8 and img.shape == out.shape[1:]:  # one native pass, no GIL
            _core.image.to_float(np.ascontiguousarray(img), 1.0 if factor is None else float(factor),
                                 out=out[slot], stream=stream)
        elif factor is None:
            out[slot] = img
        else:
            np.multiply(img, factor, out=out[slot], casting="unsafe")
        return True

    def fill_slots(slots: range) -> List[bool]:
        with busy():   # decoding shares the kernels' thread budget
            return [fill(slot, items[slot]) for slot in slots]

    # Decoding, resizing and the copy into the batch release the GIL: the files of a batch
    # are read in parallel on the decode pool (also with one worker, so that batches built at
    # once still share foveal's thread count), a few slots per task (about 4 tasks per
    # worker: fewer thread handoffs than one image each, still balanced).
    if len(items) > 1:
        step = -(-len(items) // (4 * decode_workers()))
        chunks = [range(k, min(k + step, len(items))) for k in range(0, len(items), step)]
        results = [r for part in pool("decode").map(fill_slots, chunks) for r in part]
    else:   # one image: on the caller, its kernels free to use the threads
        results = [fill(slot, items[slot]) for slot in range(len(items))]
    read_slots = [slot for slot, ok in enumerate(results) if ok]
    if len(read_slots) < len(items):
        out = out[read_slots]
    return out, read_slots


def skip_unreadable(owner: Any, j: int, path: str, error: BaseException, where: str) -> None:
    """Record file ``j`` (``path``) of ``owner`` (an iterator or dataset with ``_lock``, ``_bad``
    and ``skipped``) as unreadable, once, warning at the first one; returns None (no image)."""
    with owner._lock:
        if j in owner._bad:
            return None
        owner._bad.add(j)
        owner.skipped.append(path)
        first = len(owner.skipped) == 1
    if first:
        warnings.warn(f"skipping unreadable image {path!r} ({error}): it is left out of its "
                      f"batch (one image shorter); this and any further unreadable files "
                      f"are listed in {where}.skipped", stacklevel=4)
    return None
