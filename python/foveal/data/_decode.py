"""Image files to float32 batches, for ``DirectoryIterator``.

Pillow opens and converts each file as Keras's ``load_img`` does; a JPEG that shrinks 2x or
more is decoded at reduced size first (Pillow's ``draft``, in the DCT). The files of a batch
are decoded in parallel on the decode pool (:mod:`foveal.data._threads`), then the images not
yet at the target size are resized together with ``foveal.image.resize``, except
``"lanczos"``/``"hamming"`` (and ``"nearest"`` on 8-bit images, the same pixels), which Pillow
does in the decoding threads. Whether an unreadable file is skipped or raises
(:func:`unreadable_error`) is the iterator's choice.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import image as _image
from ._threads import busy, decode_workers, pool

# Interpolation names: those foveal.image.resize does (by its name), then those Pillow does.
_RESIZE = {"nearest": "nearest", "bilinear": "bilinear", "bicubic": "bicubic", "area": "area",
           "box": "area"}
_PIL_RESIZE = ("lanczos", "hamming")
INTERPOLATIONS = (*_RESIZE, *_PIL_RESIZE)
# Pillow's "nearest" picks the same source pixels as foveal.image.resize's (for any pair of
# sizes); for these 8-bit modes the decoding threads resize with it.
_PIL_NEAREST_MODES = ("L", "RGB", "RGBA")


def _pil() -> Any:
    from PIL import Image

    return Image


def decode_file(path: str, color_mode: str, target_size: Tuple[int, int], interpolation: str,
                keep_aspect_ratio: bool) -> np.ndarray:
    """One image file decoded as Keras's ``load_img`` does, up to the final resize: an
    ``H x W x C`` uint8 array (float32 for 16/32-bit files), JPEGs decoded at reduced size
    when they shrink 2x or more, the ``keep_aspect_ratio`` crop done, and ``"lanczos"`` /
    ``"hamming"`` (and ``"nearest"`` for 8-bit images) already resized by Pillow."""
    Image = _pil()
    th, tw = target_size
    with Image.open(path) as img:
        if img.format == "JPEG":
            w, h = img.size
            cw, ch = crop_size(w, h, tw, th) if keep_aspect_ratio else (w, h)
            k = min(cw // tw, ch // th)
            if k >= 2:  # decode at 1/2, 1/4 or 1/8 scale, still at least the target size
                img.draft(img.mode, (-(-w // k), -(-h // k)))
        if color_mode == "grayscale":
            if img.mode not in ("L", "I;16", "I"):
                img = img.convert("L")
        elif color_mode == "rgba":
            if img.mode != "RGBA":
                img = img.convert("RGBA")
        elif img.mode != "RGB":
            img = img.convert("RGB")
        if img.size != (tw, th):
            if keep_aspect_ratio:
                w, h = img.size
                cw, ch = crop_size(w, h, tw, th)
                left, top = (w - cw) // 2, (h - ch) // 2
                img = img.crop((left, top, left + cw, top + ch))
            pil_nearest = interpolation == "nearest" and img.mode in _PIL_NEAREST_MODES
            if interpolation in _PIL_RESIZE or pil_nearest:
                img = img.resize((tw, th), getattr(Image.Resampling, interpolation.upper()))
        arr = np.asarray(img)
    if arr.dtype != np.uint8:
        arr = arr.astype(np.float32)
    return arr[:, :, None] if arr.ndim == 2 else arr


def crop_size(w: int, h: int, tw: int, th: int) -> Tuple[int, int]:
    """Keras's ``keep_aspect_ratio`` crop: the largest centred box of the target's aspect."""
    return min(w, (h * tw) // th), min(h, (w * th) // tw)


def unreadable_error(path: str, error: Exception) -> Exception:
    """What ``on_error="raise"`` raises for a file that :func:`decode_file` failed on with
    ``error``: FileNotFoundError when the file is missing, else ValueError naming it."""
    if isinstance(error, OSError) and not os.path.isfile(path):
        return FileNotFoundError(f"no such image file: {path!r}")
    return ValueError(f"cannot read image {path!r}: {error}")


def decode_batch(read: Callable[[int], Optional[np.ndarray]], items: Sequence[int],
                 image_shape: Tuple[int, ...], interpolation: str, scale: Optional[float]
                 ) -> Tuple[np.ndarray, List[int]]:
    """The images of ``items`` as one float32 batch ``n x H x W x C`` (``image_shape``).

    ``read(item)`` gives an image as :func:`decode_file` does, or None for a file that cannot
    be read; it runs on the decode pool. Images not at the target size are resized with
    ``interpolation``, and every image is multiplied by ``scale`` (a float32 product) unless
    it is None. Returns the batch and the positions in ``items`` of the images in it: an
    unreadable file is left out, never replaced by another image."""
    target = tuple(image_shape[:2])
    factor = None if scale is None else np.float32(scale)
    out = np.empty((len(items),) + tuple(image_shape), dtype=np.float32)

    def fill(slot: int, item: int) -> Any:
        """Decode ``item`` into out[slot] when it already has the target size (True); else
        return it decoded (resized below, with the others of its size), or None."""
        img = read(item)
        if img is not None and img.shape[:2] == target:
            if factor is None:
                out[slot] = img
            else:
                np.multiply(img, factor, out=out[slot], casting="unsafe")
            return True
        return img

    def fill_slots(slots: range) -> List[Any]:
        with busy():   # decoding shares the kernels' thread budget
            return [fill(slot, items[slot]) for slot in slots]

    # Decoding (and Pillow's resizing, and the copy into the batch) releases the GIL: the
    # files of a batch are read in parallel on the decode pool (also with one worker, so
    # that batches built at once still share foveal's thread count), a few slots per task
    # (about 4 tasks per worker: fewer thread handoffs than one image each, still balanced).
    if len(items) > 1:
        step = -(-len(items) // (4 * decode_workers()))
        chunks = [range(k, min(k + step, len(items))) for k in range(0, len(items), step)]
        results = [r for part in pool("decode").map(fill_slots, chunks) for r in part]
    else:
        results = fill_slots(range(len(items)))
    to_resize = {slot: res for slot, res in enumerate(results)
                 if res is not None and res is not True}
    if to_resize:
        _resize_into(out, to_resize, interpolation)
        if factor is not None:
            out[sorted(to_resize)] *= factor
    read_slots = [slot for slot, res in enumerate(results) if res is not None]
    if len(read_slots) < len(items):
        out = out[read_slots]
    return out, read_slots


def _resize_into(out: np.ndarray, images: Dict[int, np.ndarray], interpolation: str) -> None:
    """Resize decoded images (:func:`decode_file`, by batch slot) into the float32 batch
    ``out``: the images of one size and dtype together, natively (one call, images in
    parallel), then copied into their slots as float32."""
    groups: Dict[Tuple[Tuple[int, ...], np.dtype], List[int]] = {}
    for slot, img in images.items():
        groups.setdefault((img.shape, img.dtype), []).append(slot)
    for slots in groups.values():
        batch = np.stack([images[slot] for slot in slots])
        out[slots] = _image.resize(batch, out.shape[1:3], _RESIZE[interpolation])
