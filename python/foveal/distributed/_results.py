"""What the distributed functions return, and the Parquet files ``extract`` writes.

Results come back to the driver as Ray Data batches; rows of unreadable files (``ok`` False)
are left out and listed in ``skipped``, and, as in ``foveal.data``, one warning names the
first of them.
"""

from __future__ import annotations

import json
import os
import warnings
from typing import Any, Dict, List, NamedTuple, Optional

import numpy as np

from .._files import atomic_path

#: Parquet columns of :func:`foveal.distributed.extract` with ``output``.
PARQUET_COLUMNS = ("path", "label", "features")


class _Triple(NamedTuple):
    features: np.ndarray
    labels: np.ndarray
    paths: List[str]


class ExtractedFeatures(_Triple):
    """What :func:`foveal.distributed.extract` returns without ``output``: a
    ``(features, labels, paths)`` tuple, one row per readable file in the listing's order:
    ``features`` ``N x D`` float32, ``labels`` ``N`` int64 (class index, -1 where the source
    has none), ``paths`` the ``N`` absolute file paths.

    Also (attributes): ``skipped`` (the unreadable files, in listing order: none has a row and
    no other image takes its place), ``class_names`` (class subfolders in label order; empty
    without classes or for a list or Dataset source), ``rows_per_node`` (Ray node id -> files
    that node's workers processed, unreadable ones included: how the cluster shared the work).
    """

    skipped: List[str]
    class_names: List[str]
    rows_per_node: Dict[str, int]


class WrittenFiles(list):
    """A list of the files a distributed run wrote (Parquet files for ``extract``, images for
    ``augment``), in order, with the attributes ``skipped`` (unreadable source files),
    ``class_names`` and ``rows_per_node`` as :class:`ExtractedFeatures` has them."""

    skipped: List[str]
    class_names: List[str]
    rows_per_node: Dict[str, int]


def annotate(result: Any, skipped: List[str], class_names: List[str],
             rows_per_node: Dict[str, int]) -> Any:
    """``result`` with its ``skipped``, ``class_names`` and ``rows_per_node`` set."""
    result.skipped = list(skipped)
    result.class_names = list(class_names)
    result.rows_per_node = dict(rows_per_node)
    return result


def warn_skipped(skipped: List[str], where: str) -> None:
    """One warning for the unreadable files of a run, naming the first (as foveal.data)."""
    if skipped:
        warnings.warn(f"skipping {len(skipped)} unreadable image(s), the first {skipped[0]!r}: "
                      f"they are left out of {where} (no other image takes their place) and "
                      "listed in result.skipped", RuntimeWarning, stacklevel=3)


def prepare_output(output: Any, what: str = "output") -> str:
    """The absolute output folder, made if missing; ValueError when it already holds
    Parquet files (rows of two runs would mix), FileExistsError when it is a file."""
    try:
        folder = os.path.abspath(os.fspath(output))
    except TypeError:
        raise TypeError(f"{what} must be a folder path, got {type(output).__name__}") from None
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise FileExistsError(f"{what}: {folder!r} is a file, not a folder")
    os.makedirs(folder, exist_ok=True)
    old = sorted(f for f in os.listdir(folder) if f.endswith(".parquet"))
    if old:
        raise ValueError(f"{what}: {folder!r} already holds Parquet files ({old[0]!r}, ...); "
                         "choose an empty or new folder")
    return folder


def parquet_table(paths: List[str], labels: np.ndarray, features: np.ndarray,
                  metadata: Optional[Dict[str, Any]] = None) -> Any:
    """A pyarrow Table with columns ``path`` (string), ``label`` (int64) and ``features``
    (list of float32), and ``metadata`` (JSON under the key ``foveal``) in its schema."""
    import pyarrow as pa

    feats = np.ascontiguousarray(features, dtype=np.float32)
    n, d = feats.shape
    offsets = pa.array(np.arange(0, (n + 1) * d, d, dtype=np.int32) if n else np.zeros(1, np.int32))
    column = pa.ListArray.from_arrays(offsets, pa.array(feats.reshape(-1), pa.float32()))
    schema = pa.schema([("path", pa.string()), ("label", pa.int64()),
                        ("features", pa.list_(pa.float32()))],
                       metadata={"foveal": json.dumps(metadata or {})})
    return pa.Table.from_arrays([pa.array(paths, pa.string()),
                                 pa.array(np.asarray(labels, np.int64), pa.int64()), column],
                                schema=schema)


def write_parquet(folder: str, part: int, table: Any) -> str:
    """Write ``table`` to ``folder/part-<part>.parquet`` atomically; the path."""
    import pyarrow.parquet as pq

    path = os.path.join(folder, f"part-{part:05d}.parquet")
    with atomic_path(path, "output", ".parquet") as tmp:
        pq.write_table(table, tmp)
    return path
