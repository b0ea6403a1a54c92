"""``foveal.distributed.augment``: augmented copies of many image files, written by Ray tasks.

The same pattern as :mod:`foveal.distributed._extract` without a model: the listing becomes a
Dataset of file rows, ``map_batches`` runs :func:`~foveal.distributed._workers.augment_batch`
as tasks that each ask Ray for their CPUs (no more than ``num_workers`` at once), and every task
reads its files and writes their augmented copies itself, so ``output`` must be a folder every
worker can write to (a local folder on one machine, a shared file system on a cluster).
The tasks are started for each call; the CPUs of ``extract``'s kept workers are freed first.
"""

from __future__ import annotations

import os
from typing import Any, Optional, Sequence, Tuple, Union

from .._checks import as_int, as_option, as_pair
from . import _pool, _ray, _results, _source
from ._workers import augment_batch, augmented_name

PathLike = Union[str, "os.PathLike[str]"]
_COLOR_MODES = ("rgb", "rgba", "grayscale")
_FORMATS = ("png", "jpg", "jpeg", "bmp", "tif", "tiff")


def augment(generator: Any, source: Any, output: PathLike, copies: int = 1,
            target_size: Optional[Sequence[int]] = None, color_mode: str = "rgb",
            save_format: str = "png", seed: int = 0, num_workers: Optional[int] = None,
            batch_size: int = 64, address: Optional[str] = None, *,
            verbose: int = 0) -> _results.WrittenFiles:
    """Write ``copies`` randomly augmented versions of every image of ``source``, in parallel
    on a Ray cluster.

    Args:
        generator: a ``foveal.data.ImageDataGenerator``; its random transforms (rotation,
            shifts, shear, zoom, flips, brightness, channel shift, with its ``fill_mode``,
            ``cval`` and ``interpolation_order``) are applied, as ``random_transform`` does.
            Normalization (``rescale``, centering, ``preprocessing_function``) is a training
            step and is not applied to the written images.
        source: a folder (listed as ``flow_from_directory`` lists it), a list of image files,
            or a ``ray.data.Dataset`` with a ``path`` column.
        output: the folder to write to (made if missing). From a folder source each file
            ``cls/sub/a.jpg`` gives ``cls/sub/a_aug0.png``, ``a_aug1.png``, ...; from a list or a
            Dataset, ``a-<8 hex digits of the path's SHA-1>_aug0.png`` (the same name can come
            from several folders). The workers write the files (atomically): on a cluster,
            ``output`` must be on a file system every node shares.
        copies: augmented versions per image.
        target_size: ``(height, width)`` images are resized to first (bilinear, as
            ``flow_from_directory``), or None to keep each image's size.
        color_mode: ``"rgb"``, ``"rgba"`` or ``"grayscale"``.
        save_format: the written files' format: ``"png"``, ``"jpg"``/``"jpeg"``, ``"bmp"``,
            ``"tif"``/``"tiff"``.
        seed: copy ``k`` of a file is drawn from a generator seeded by ``(seed, the file's
            name, k)``: the same files whatever the number of workers or the order they run in.
        num_workers: tasks at once; None = one single-CPU task per CPU of the cluster (see
            :func:`foveal.distributed.extract` for how CPUs are shared).
        batch_size: files per task.
        address: the Ray cluster, as for :func:`foveal.distributed.extract`.
        verbose: 1 shows Ray Data's progress bars, 0 none.

    Returns:
        :class:`WrittenFiles`: the absolute paths of the written images, file by file in
        listing order, copy by copy; with ``skipped`` (unreadable files, nothing written for
        them, one warning), ``class_names`` and ``rows_per_node``.
    """
    ray = _ray.require_ray()
    from ..data import ImageDataGenerator

    if not isinstance(generator, ImageDataGenerator):
        raise TypeError(f"generator must be a foveal.data.ImageDataGenerator, got "
                        f"{type(generator).__name__}")
    n_copies = as_int(copies, "copies", 1)
    size: Optional[Tuple[int, int]] = None if target_size is None else as_pair(target_size,
                                                                                "target_size", 1)
    mode = as_option(color_mode, "color_mode", _COLOR_MODES)
    fmt = as_option(save_format, "save_format", _FORMATS)
    seed = as_int(seed, "seed", 0)
    bs = as_int(batch_size, "batch_size", 1)
    if num_workers is not None:
        as_int(num_workers, "num_workers", 1)
    if output is None:
        raise TypeError("output must be a folder path, got None")
    folder = os.path.abspath(os.fspath(output))
    if os.path.exists(folder) and not os.path.isdir(folder):
        raise FileExistsError(f"output: {folder!r} is a file, not a folder")
    with _ray.connected(ray, address), _ray.quiet_ray_data(verbose):
        items = _source.listing(source, ray)
        hashed = items is None or items.directory is None
        if items is not None:
            _check_unique(items.names, fmt, hashed)
        os.makedirs(folder, exist_ok=True)
        _pool.release_for_other_work(ray)   # extract's idle workers would hold the CPUs
        workers, cpus = _ray.plan_workers(_ray.node_cpus(ray), num_workers)
        if items is not None:
            ds, map_batch = _source.work_items(ray, items, workers, bs), None
        else:
            ds, map_batch = source, bs
        out = ds.map_batches(augment_batch, batch_size=map_batch, batch_format="numpy",
                             num_cpus=cpus, **_ray.task_pool(ray, workers),
                             fn_kwargs={"generator": generator, "output": folder,
                                        "copies": n_copies, "target_size": size,
                                        "color_mode": mode, "save_format": fmt, "seed": seed,
                                        "hashed": hashed})
        _ray.configure(out, verbose)
        written = _results.WrittenFiles()
        skipped, per_node, seen = [], {}, set()
        for batch in out.iter_batches(batch_size=None, batch_format="numpy"):
            for path, target, ok, node in zip(batch["path"], batch["written"], batch["ok"],
                                              batch["node"]):
                if str(path) not in seen:
                    seen.add(str(path))
                    per_node[str(node)] = per_node.get(str(node), 0) + 1
                if ok:
                    written.append(str(target))
                else:
                    skipped.append(str(path))
    if not written:
        raise ValueError(f"source: none of the {len(seen)} images can be read")
    _results.warn_skipped(skipped, "the written images")
    class_names = items.class_names if items is not None else []
    return _results.annotate(written, skipped, class_names, per_node)


def _check_unique(names: Sequence[str], fmt: str, hashed: bool) -> None:
    """ValueError when two source files would write the same output file (``a.png`` and
    ``a.jpg`` in one folder)."""
    seen = {}
    for name in names:
        out = augmented_name(name, 0, fmt, hashed)
        if out in seen:
            raise ValueError(f"source: {seen[out]!r} and {name!r} would both be written as "
                             f"{out!r}; rename one of them")
        seen[out] = name
