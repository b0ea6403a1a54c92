"""What a distributed run reads: a directory tree listed as ``flow_from_directory`` lists it,
a list of image files, or a ``ray.data.Dataset`` with a ``path`` column; and the blocks of work
(plain arrays for the worker pool, or a Ray Dataset for Ray Data) made from a listing.

A listing is made on the driver and nothing in it opens an image: files are decoded by the
workers, and an unreadable one is found (and reported) there.
"""

from __future__ import annotations

import math
import os
from typing import Any, Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

from ..data._listing import class_folders, list_classes

#: Columns a ``ray.data.Dataset`` source may have: ``path`` (required), ``label``, ``image``.
DATASET_COLUMNS = ("path", "label", "image")


class Listing(NamedTuple):
    """The files of a directory or list source, in order.

    ``paths``: absolute file paths; ``labels``: int64 class index per file (-1 without
    classes); ``names``: each file's name relative to the directory (``"cls/sub/a.jpg"``,
    forward slashes) or, for a list of files, its absolute path; ``class_names``: the class
    subfolders in label order (empty without classes); ``directory``: the absolute folder, or
    None for a list."""

    paths: List[str]
    labels: np.ndarray
    names: List[str]
    class_names: List[str]
    directory: Optional[str]


def is_flat(directory: str) -> bool:
    """True for a folder without subfolders (its images are read unlabelled, label -1)."""
    with os.scandir(directory) as entries:
        return not any(e.is_dir() for e in entries)


def list_directory(directory: Any, what: str = "source") -> Listing:
    """The image files under ``directory`` as ``OnnxBackbone.extract_directory`` and
    ``flow_from_directory(shuffle=False)`` list them: class subfolders sorted by name (labels
    0, 1, ...) and, below each, folders by path and files by name; a folder without
    subfolders is one unlabelled set (label -1). ValueError when it holds no image."""
    folder = os.path.abspath(os.fspath(directory))
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{what}: no such folder: {os.fspath(directory)!r}")
    flat = is_flat(folder)
    names = class_folders(folder, ["."] if flat else None)
    files, labels = list_classes(folder, names)
    if not files:
        raise ValueError(f"{what}: no images (png, jpg, jpeg, bmp, ppm, tif, tiff) found in "
                         f"{folder!r}" + ("" if flat else " or its subfolders"))
    rel = [f[2:] if flat and f.startswith("./") else f for f in files]
    paths = [os.path.normpath(os.path.join(folder, f)) for f in rel]
    labels64 = np.full(len(files), -1, np.int64) if flat else labels.astype(np.int64)
    return Listing(paths, labels64, rel, [] if flat else list(names), folder)


def list_files(files: Sequence[Any], what: str = "source") -> Listing:
    """A list of image files, in the given order, label -1 each. A missing file is not an
    error here: like an unreadable one, it is skipped and reported after the run."""
    paths = []
    for f in files:
        if not isinstance(f, (str, os.PathLike)):
            raise TypeError(f"{what}: a list of image file paths expected, got an item of type "
                            f"{type(f).__name__}")
        paths.append(os.path.abspath(os.fspath(f)))
    if not paths:
        raise ValueError(f"{what}: the list of files is empty")
    return Listing(paths, np.full(len(paths), -1, np.int64), list(paths), [], None)


def listing(source: Any, ray: Any, what: str = "source") -> Optional[Listing]:
    """The listing of a directory or a list of files; None for a ``ray.data.Dataset`` (checked
    to have a ``path`` column). TypeError for anything else."""
    if isinstance(source, ray.data.Dataset):
        check_dataset(source, what)
        return None
    if isinstance(source, (str, os.PathLike)):
        return list_directory(source, what)
    if isinstance(source, (list, tuple)):
        return list_files(source, what)
    raise TypeError(f"{what} must be a folder, a list of image files or a ray.data.Dataset, "
                    f"got {type(source).__name__}")


def check_dataset(ds: Any, what: str = "source") -> None:
    """ValueError unless the Dataset's rows have a ``path`` column (reads one block when the
    schema is not known yet)."""
    schema = ds.schema()
    names = list(getattr(schema, "names", None) or []) if schema is not None else []
    if "path" not in names:
        raise ValueError(f"{what}: a ray.data.Dataset source needs a 'path' column (string; "
                         f"optional 'label' int and 'image' array columns), found columns "
                         f"{names}")


def block_count(n: int, workers: int, batch_size: int) -> int:
    """How many blocks ``n`` files are cut into: blocks of at most ``batch_size`` files, and
    fewer files per block where that gives every worker at least 4 blocks (so that every worker
    stays busy to the end), never an empty block."""
    return min(n, max(math.ceil(n / batch_size), 4 * workers))


def block_bounds(n: int, workers: int, batch_size: int) -> List[Tuple[int, int]]:
    """``(start, stop)`` of each of the :func:`block_count` blocks of ``n`` files, in order,
    their sizes differing by at most one (the larger ones first), as ``ray.data.from_items``
    cuts its blocks."""
    blocks = block_count(n, workers, batch_size)
    size, rest = divmod(n, blocks)
    return [(i * size + min(i, rest), (i + 1) * size + min(i + 1, rest)) for i in range(blocks)]


def work_blocks(items: Listing, workers: int, batch_size: int) -> List[Dict[str, np.ndarray]]:
    """The listing's files as the :func:`block_bounds` blocks a worker actor takes one at a
    time: ``index`` (int64, position in the listing), ``path`` (str objects), ``label``
    (int64)."""
    paths = np.asarray(items.paths, dtype=object)
    labels = np.asarray(items.labels, np.int64)
    return [{"index": np.arange(a, b, dtype=np.int64), "path": paths[a:b], "label": labels[a:b]}
            for a, b in block_bounds(len(items.paths), workers, batch_size)]


def work_items(ray: Any, items: Listing, workers: int, batch_size: int) -> Any:
    """A Ray Dataset of the listing's files, one row per file (``index``, ``path``, ``label``,
    ``name``), in the :func:`block_bounds` blocks. A worker takes one block at a time."""
    n = len(items.paths)
    blocks = block_count(n, workers, batch_size)
    rows: List[Dict[str, Any]] = [{"index": i, "path": p, "label": int(lbl), "name": name}
                                  for i, (p, lbl, name) in enumerate(zip(items.paths, items.labels,
                                                                         items.names))]
    return ray.data.from_items(rows, override_num_blocks=blocks)
