"""EXIF orientation: read the tag from a JPEG's bytes and apply it to a decoded array.

A camera stores a photo as its sensor saw it and records in the EXIF ``Orientation`` tag
(0x0112, values 1-8) how to turn it for display. Keras ignores the tag; foveal applies it, so
an image comes out the way every viewer shows it (a documented difference from Keras). The
parser reads only the JPEG's APP1 segment header and the first IFD of its TIFF block; anything
malformed means "no orientation" (1), never an error.
"""

from __future__ import annotations

import struct
from typing import Any, Optional

import numpy as np

_ORIENTATION_TAG = 0x0112


def jpeg_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of a JPEG file's bytes ``data``; 1 when it has none."""
    n = len(data)
    i = 2  # after SOI
    while i + 4 <= n:
        if data[i] != 0xFF:
            return 1
        marker = data[i + 1]
        if marker == 0xFF:          # fill byte
            i += 1
            continue
        if marker == 0xD8 or 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        if marker in (0xDA, 0xD9):  # start of scan / end of image: no more headers
            return 1
        length = (data[i + 2] << 8) | data[i + 3]
        if length < 2:
            return 1
        if marker == 0xE1 and data[i + 4:i + 10] == b"Exif\x00\x00":
            found = tiff_orientation(data[i + 10:i + 2 + length])
            if found is not None:
                return found
        i += 2 + length
    return 1


def tiff_orientation(tiff: bytes) -> Optional[int]:
    """The orientation tag of the first IFD of an EXIF TIFF block, or None."""
    if len(tiff) < 8 or tiff[:2] not in (b"II", b"MM"):
        return None
    end = "<" if tiff[:2] == b"II" else ">"
    magic, ifd = struct.unpack(end + "HI", tiff[2:8])
    if magic != 42 or ifd + 2 > len(tiff):
        return None
    (count,) = struct.unpack(end + "H", tiff[ifd:ifd + 2])
    for k in range(count):
        entry = ifd + 2 + 12 * k
        if entry + 12 > len(tiff):
            return None
        tag, kind, num = struct.unpack(end + "HHI", tiff[entry:entry + 8])
        if tag == _ORIENTATION_TAG:
            if kind != 3 or num < 1:  # SHORT
                return None
            (value,) = struct.unpack(end + "H", tiff[entry + 8:entry + 10])
            return value if 1 <= value <= 8 else None
    return None


def pil_orientation(img: Any) -> int:
    """The EXIF orientation (1-8) of an open Pillow image; 1 when it has none."""
    try:
        value = img.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # noqa: BLE001 - a malformed EXIF block means "no orientation"
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def transposes(orientation: int) -> bool:
    """Whether ``orientation`` swaps width and height (5-8)."""
    return orientation >= 5


def apply_orientation(arr: np.ndarray, orientation: int) -> np.ndarray:
    """``arr`` (``H x W x C``) turned for display as EXIF ``orientation`` says (the operations
    of Pillow's ``ImageOps.exif_transpose``); a view, not a copy."""
    if orientation == 2:
        return arr[:, ::-1]
    if orientation == 3:
        return arr[::-1, ::-1]
    if orientation == 4:
        return arr[::-1]
    if orientation == 5:
        return arr.swapaxes(0, 1)
    if orientation == 6:
        return arr.swapaxes(0, 1)[:, ::-1]
    if orientation == 7:
        return arr[::-1, ::-1].swapaxes(0, 1)
    if orientation == 8:
        return arr.swapaxes(0, 1)[::-1]
    return arr
