"""Reading and writing image files (Pillow codecs: PNG, JPEG, BMP, TIFF, ...)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from .._files import atomic_path
from .._checks import as_option
from ._pixels import as_pixels

_MODES = ("rgb", "gray", "rgba", "unchanged")
_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".bmp": "BMP", ".tif": "TIFF",
            ".tiff": "TIFF", ".ppm": "PPM", ".pgm": "PPM", ".webp": "WEBP"}


def _pil():
    try:
        from PIL import Image
    except ImportError as e:  # pragma: no cover - Pillow is a declared dependency
        raise ImportError("foveal.image.read/write need Pillow: pip install pillow") from e
    return Image


def read(path: "str | os.PathLike[str]", mode: str = "rgb") -> np.ndarray:
    """Read an image file as uint8.

    Args:
        path: the file (any format Pillow decodes).
        mode: ``"rgb"`` (H x W x 3), ``"gray"`` (H x W; color files are converted with
            OpenCV's RGB -> gray weights), ``"rgba"`` (H x W x 4) or ``"unchanged"`` (the
            file's own channels: H x W, H x W x 3 or H x W x 4).
    """
    mode = as_option(mode, "mode", _MODES)
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"path: no such file: {path!r}")
    Image = _pil()
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                im = Image.fromarray((np.asarray(im, dtype=np.uint32) >> 8).astype(np.uint8))
            if mode == "gray":
                if im.mode not in ("L", "1"):
                    from . import to_gray

                    return to_gray(np.asarray(im.convert("RGB")))
                return np.ascontiguousarray(np.asarray(im.convert("L")))
            if mode == "rgb":
                im = im.convert("RGB")
            elif mode == "rgba":
                im = im.convert("RGBA")
            elif im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGBA" if "A" in im.mode or "transparency" in im.info else "RGB")
            return np.ascontiguousarray(np.asarray(im, dtype=np.uint8))
    except OSError as e:
        raise ValueError(f"path: cannot decode image {path!r}: {e}") from None


def write(path: "str | os.PathLike[str]", img: Any) -> None:
    """Write a uint8 image (H x W, H x W x 1, 3 or 4) to ``path``; the format follows the
    extension. The write is atomic: the file appears complete or not at all."""
    path = os.fspath(path)
    arr = as_pixels(img, "img")
    if arr.dtype != np.uint8:
        raise TypeError("img must be uint8 to be written (convert float images first, "
                        "e.g. (img * 255).round().clip(0, 255).astype(np.uint8))")
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)) or arr.size == 0:
        raise ValueError(f"img must be H x W, H x W x 1, 3 or 4, got shape {arr.shape}")
    ext = os.path.splitext(path)[1].lower()
    if ext not in _FORMATS:
        raise ValueError(f"path: unknown image extension {ext!r}; use one of {sorted(_FORMATS)}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"path: no such directory: {folder!r}")
    Image = _pil()
    im = Image.fromarray(arr)
    if _FORMATS[ext] in ("JPEG", "BMP", "PPM") and im.mode == "RGBA":
        # JPEG and PPM have no alpha; Pillow writes BMP alpha but does not read it back.
        raise ValueError(f"img: {_FORMATS[ext]} files here cannot keep an alpha channel; "
                         "write PNG or TIFF, or drop alpha (img[..., :3])")
    with atomic_path(path, "path", suffix=ext) as tmp:
        with open(tmp, "wb") as f:
            im.save(f, format=_FORMATS[ext])
