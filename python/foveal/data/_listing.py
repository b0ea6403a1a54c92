"""Which image files a folder holds, in Keras's order: class subfolders sorted by name, and
below each, folders sorted by path with each folder's files sorted by name (so ``z.png`` comes
before ``sub/a.png``). A file is an image by its extension, with its dot and in any case.
Nothing here opens a file.
"""

from __future__ import annotations

import os
from typing import Iterator, List, Optional, Sequence, Tuple

import numpy as np

from ._threads import pool

WHITE_LIST_FORMATS = ("png", "jpg", "jpeg", "bmp", "ppm", "tif", "tiff")
EXTENSIONS = tuple("." + e for e in WHITE_LIST_FORMATS)


def is_image_name(name: str) -> bool:
    """Whether a file name has one of the image extensions (``.png``, ``.JPG``...)."""
    return name.lower().endswith(EXTENSIONS)


def class_folders(directory: str, classes: Optional[Sequence[str]] = None) -> List[str]:
    """The class subfolders of ``directory`` in label order: ``classes`` (each checked to be a
    subfolder), or every subfolder sorted by name when it is None or empty."""
    if classes is not None and not isinstance(classes, (list, tuple)):
        raise TypeError(f"classes must be a list of subfolder names, got {type(classes).__name__}")
    if not classes:
        return sorted(e for e in os.listdir(directory) if os.path.isdir(os.path.join(directory, e)))
    names = []
    for c in classes:
        if not isinstance(c, str):
            raise TypeError(f"classes must be a list of subfolder names, got {c!r}")
        if not os.path.isdir(os.path.join(directory, c)):
            raise FileNotFoundError(f"classes: no folder {c!r} in {directory!r}")
        names.append(c)
    return names


def walk_images(top: str, follow_links: bool = False) -> Iterator[Tuple[str, List[str]]]:
    """``(folder, its image file names)`` for ``top`` and every folder below it, in Keras's
    walk order (folders sorted by path, names sorted)."""
    for root, _, files in sorted(os.walk(top, followlinks=follow_links), key=lambda t: t[0]):
        yield root, [f for f in sorted(files) if is_image_name(f)]


def list_classes(directory: str, names: Sequence[str], follow_links: bool = False,
                 split: Optional[Tuple[float, float]] = None) -> Tuple[List[str], np.ndarray]:
    """The image files below each class folder ``names[k]`` of ``directory`` as
    ``"name/sub/file.ext"`` (forward slashes), in Keras's order, and their labels ``k``
    (int32). ``split=(a, b)`` keeps the files ``int(a n) .. int(b n) - 1`` of a class of ``n``
    (a subset's share). Listing is I/O-bound: the folders are walked in parallel, as Keras does."""
    def list_class(name: str) -> List[str]:
        top = os.path.join(directory, name)
        found = []
        for root, files in walk_images(top, follow_links):
            rel = root[len(top):].strip(os.sep).replace(os.sep, "/")
            prefix = f"{name}/{rel}/" if rel else f"{name}/"
            found.extend(prefix + f for f in files)
        if split is not None:
            found = found[int(split[0] * len(found)):int(split[1] * len(found))]
        return found

    per_class = list(pool("decode").map(list_class, names))
    labels = np.repeat(np.arange(len(names), dtype=np.int32),
                       [len(files) for files in per_class]).astype(np.int32)
    return [f for files in per_class for f in files], labels
