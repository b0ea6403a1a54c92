"""Which image files a folder holds, in Keras's order: class subfolders sorted by name, and
below each, folders sorted by path with each folder's files sorted by name (so ``z.png`` comes
before ``sub/a.png``). A file is an image by its extension, with its dot and in any case.
Nothing here opens a file. :func:`index_directory` lists a folder as Keras 3's
``image_dataset_from_directory`` does.
"""

from __future__ import annotations

import os
from typing import Any, Iterator, List, Optional, Sequence, Tuple

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


# Keras 3's image_dataset_from_directory lists these (Keras's ALLOWLIST_FORMATS).
DATASET_FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def index_directory(directory: str, labels: Any, class_names: Optional[Sequence[str]],
                    follow_links: bool = False, formats: Tuple[str, ...] = DATASET_FORMATS
                    ) -> Tuple[List[str], Optional[np.ndarray], Optional[List[str]]]:
    """The files of ``directory`` as Keras 3's ``image_dataset_from_directory`` lists them,
    before its shuffle: ``(names relative to directory, labels, class_names)``.

    ``labels="inferred"``: one class per subfolder (sorted by name, hidden ones left out, or
    ``class_names``, a subset of them, in that order), its files at any depth (folders
    sorted by path, each folder's files sorted), labels their class index (int32). ``labels``
    a list: every file below ``directory`` in the same order, those labels, and the class
    names ``str(label)`` of the sorted distinct labels. ``labels=None``: every file, no labels,
    no class names. A file is listed by its extension (``formats``, any case)."""
    if labels == "inferred":
        subdirs = [d for d in sorted(os.listdir(directory))
                   if os.path.isdir(os.path.join(directory, d)) and not d.startswith(".")]
        if class_names is not None:
            if not set(class_names).issubset(set(subdirs)):
                raise ValueError(f"class_names {list(class_names)} must be names of subfolders of "
                                 f"{directory!r}: {subdirs} (or a subset of them)")
            subdirs = list(class_names)
    else:
        if class_names is not None:
            raise ValueError("class_names can only be given with labels='inferred' (with a list "
                             "of labels the class names are the sorted labels; with labels=None "
                             "there are none)")
        subdirs = [""]

    def list_subdir(subdir: str) -> List[str]:
        top = os.path.join(directory, subdir)
        found = []
        for root, _, files in sorted(os.walk(top, followlinks=follow_links), key=lambda t: t[0]):
            for f in sorted(files):
                if f.lower().endswith(formats):
                    found.append(os.path.join(subdir, os.path.relpath(os.path.join(root, f), top)))
        return found

    per_dir = list(pool("decode").map(list_subdir, subdirs))
    names = [f for files in per_dir for f in files]
    if labels == "inferred":
        out = np.repeat(np.arange(len(subdirs), dtype=np.int32),
                        [len(files) for files in per_dir]).astype(np.int32)
        return names, out, list(subdirs)
    if labels is None:
        return names, None, None
    if len(labels) != len(names):
        raise ValueError(f"labels: expected one label per image file, got {len(labels)} labels for "
                         f"{len(names)} files found in {directory!r}")
    try:
        out = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError):
        raise TypeError("labels must be 'inferred', None or a list of integer labels") from None
    if out.ndim != 1 or not np.array_equal(out, np.asarray(labels)):
        raise TypeError("labels must be 'inferred', None or a list of integer labels")
    return names, out.astype(np.int32), [str(v) for v in sorted(set(out.tolist()))]
