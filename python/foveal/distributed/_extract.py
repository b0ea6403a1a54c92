"""``foveal.distributed.extract``: backbone features of many image files on a Ray cluster.

For a folder or a list of files, the listing (made on the driver; nothing opened) is cut into
blocks of ``(index, path, label)`` rows that go to a persistent pool of
:class:`~foveal.distributed._workers.FeatureWorker` actors (:mod:`~foveal.distributed._pool`:
started by the first call on a connection, reused by later ones; each holds one
``OnnxBackbone``, decodes and preprocesses its files and runs the model with as many threads as
it has CPUs), and the rows come back to the driver in order, where they become arrays or Parquet
files. A ``ray.data.Dataset`` source runs Ray Data's batch-inference pattern instead:
``map_batches`` on an actor pool of the same workers, started for the call. The ONNX file
travels once, as bytes in Ray's object store (``ray.put``): workers need neither the file's
path nor a shared file system for it.
"""

from __future__ import annotations

import os
from typing import Any, Dict, Iterable, List, Optional, Union

import numpy as np

from .._checks import as_int
from . import _pool, _ray, _results, _source
from ._workers import FeatureWorker, backbone_spec

PathLike = Union[str, "os.PathLike[str]"]


def _backbone(backbone: Any, batch_size: int) -> Any:
    """An ``OnnxBackbone`` from a path (made with ``batch_size``) or as given."""
    from ..transfer.backbone import OnnxBackbone

    if isinstance(backbone, OnnxBackbone):
        return backbone
    if isinstance(backbone, (str, os.PathLike)):
        return OnnxBackbone(backbone, batch_size=batch_size)
    raise TypeError(f"backbone must be an ONNX file path or an OnnxBackbone, got "
                    f"{type(backbone).__name__}")


def extract(backbone: Any, source: Any, output: Optional[PathLike] = None,
            num_workers: Optional[int] = None, batch_size: int = 64,
            address: Optional[str] = None, *, rows_per_file: int = 100_000,
            verbose: int = 0) -> Union[_results.ExtractedFeatures, _results.WrittenFiles]:
    """Backbone features of many images, computed by workers of a Ray cluster.

    Args:
        backbone: an ONNX file path (read as ``OnnxBackbone(path, batch_size=batch_size)``)
            or an ``OnnxBackbone`` (its output tensor, preprocessing, input size, layout,
            batch size and providers are used by every worker). The ONNX file is sent to the
            workers once through Ray's object store.
        source: a folder (listed as ``OnnxBackbone.extract_directory`` and
            ``flow_from_directory(shuffle=False)`` list it: class subfolders sorted by name,
            labels 0, 1, ...; a folder without subfolders is unlabelled, label -1), a list of
            image files (label -1 each), or a ``ray.data.Dataset`` with a ``path`` string
            column and optionally ``label`` (int) and ``image`` (decoded ``H x W x C``
            arrays, e.g. from ``ray.data.read_images(..., include_paths=True)``, used instead of
            reading the files). Files are decoded and preprocessed inside the workers.
        output: None to return arrays; else a folder (made if missing; it must not hold
            Parquet files yet) that receives ``part-00000.parquet``, ... in listing order, at
            most ``rows_per_file`` rows each, columns ``path`` (string), ``label`` (int64),
            ``features`` (list of float32); the schema's metadata key ``foveal`` holds JSON
            with ``class_names`` and the backbone's file name, output and preprocess. The
            driver writes them (the rows come back to it anyway), so ``output`` is a path on
            the driver's machine.
        num_workers: worker actors; None = one single-CPU worker per CPU the cluster offers.
            Otherwise that many workers, each given the most CPUs that still lets them all fit
            on the nodes (1 worker on a 2-CPU machine gets both). Each actor asks Ray for its
            CPUs and uses that many onnxruntime and foveal threads. For a folder or a list of
            files the workers outlive the call: the first call on a Ray connection starts them,
            and later calls with the same backbone (the ONNX file's bytes and its settings) and
            worker count reuse them, skipping their start-up; a call that needs other workers
            stops the old ones first. They keep their CPUs until
            :func:`~foveal.distributed.shutdown_workers`, ``ray.shutdown()``, or the end of a
            call that made its own connection (no ``ray.init`` before). A worker found dead
            (killed, its node lost) makes the pool restart once and its blocks run again.
        batch_size: files per block handed to a worker (fewer where that gives every worker
            at least 4 blocks); for a Dataset source, rows per ``map_batches`` batch. The
            model runs ``backbone.batch_size`` images at a time within a block.
        address: the Ray cluster, as ``ray.init(address=...)``: None starts a local one (or
            joins ``RAY_ADDRESS``), ``"auto"`` joins the one ``ray start`` runs here,
            ``"host:port"`` a head node. A process already connected (``ray.init`` called)
            keeps its connection (and the workers stay up for the next call); a connection
            made here is closed at the end, its workers stopped.
        rows_per_file: most rows per Parquet file.
        verbose: 1 shows Ray Data's progress bars (a Dataset source), 0 none.

    Returns:
        Without ``output``, :class:`ExtractedFeatures` ``(features, labels, paths)``: ``N x D``
        float32, ``N`` int64, ``N`` absolute paths (a Dataset's paths as given), one row per
        readable file in the listing's (or the Dataset's) order, equal to
        ``OnnxBackbone.extract`` on the same files. With ``output``, :class:`WrittenFiles`,
        the list of Parquet files written. Both carry ``skipped`` (unreadable files: no row,
        no stand-in, one warning), ``class_names`` and ``rows_per_node``.

    Raises:
        ImportError: Ray Data is not installed (``pip install "foveal[distributed]"``).
        FileNotFoundError, TypeError, ValueError: a bad argument (named); ValueError also when
        no file can be read.
    """
    ray = _ray.require_ray()
    bs = as_int(batch_size, "batch_size", 1)
    per_file = as_int(rows_per_file, "rows_per_file", 1)
    if num_workers is not None:
        as_int(num_workers, "num_workers", 1)
    bb = _backbone(backbone, bs)
    with _ray.connected(ray, address) as own, _ray.quiet_ray_data(verbose):
        try:
            items = _source.listing(source, ray)
            if bb.input_size is None and (items is not None or not _has_images(source)):
                raise ValueError("backbone: the model's input size is dynamic; pass "
                                 "input_size=(height, width) to OnnxBackbone to read image "
                                 "files")
            folder = None if output is None else _results.prepare_output(output)
            workers, cpus = _ray.plan_workers(_ray.node_cpus(ray), num_workers)
            spec = backbone_spec(bb, os.path.basename(bb.path))
            class_names = items.class_names if items is not None else []
            meta = {"class_names": class_names, "backbone": os.path.basename(bb.path),
                    "output": bb.output,
                    "preprocess": bb.preprocess if isinstance(bb.preprocess, str) else "callable"}
            if items is not None:
                batches = _pool_batches(ray, bb.path, spec, items, workers, cpus, bs)
            else:
                batches = _dataset_batches(ray, bb.path, spec, source, workers, cpus, bs,
                                           verbose)
            return _collect(batches, folder, per_file, class_names, meta,
                            len(items.paths) if items is not None else None)
        finally:
            if own:   # the connection closes (collecting Ray's garbage): its workers go first
                _pool.stop_pool_of_closing_connection()


def _pool_batches(ray: Any, path: str, spec: Dict[str, Any], items: _source.Listing,
                  workers: int, cpus: int, batch_size: int) -> Iterable[Dict[str, Any]]:
    """The listing's rows computed by this connection's persistent worker pool, block by
    block in order."""
    def start() -> _pool.WorkerPool:
        return _pool.get_pool(ray, path, spec, workers, cpus)

    blocks = _source.work_blocks(items, workers, batch_size)
    return _pool.map_blocks(ray, start(), blocks, start)


def _dataset_batches(ray: Any, path: str, spec: Dict[str, Any], source: Any, workers: int,
                     cpus: int, batch_size: int, verbose: int) -> Iterable[Dict[str, Any]]:
    """A Dataset source's rows from Ray Data's ``map_batches`` on an actor pool started for
    this call (upstream reads need CPUs too: the pool starts with one worker and grows as
    they free them; the persistent pool is stopped first so that its CPUs are free)."""
    _pool.release_for_other_work(ray)
    with open(path, "rb") as fh:
        model = ray.put(fh.read())
    pool = ray.data.ActorPoolStrategy(min_size=1, max_size=workers)
    out = source.map_batches(FeatureWorker, fn_constructor_args=([model], spec),
                             batch_size=batch_size, batch_format="numpy", compute=pool,
                             num_cpus=cpus)
    _ray.configure(out, verbose)
    return out.iter_batches(batch_size=None, batch_format="numpy")


def _has_images(ds: Any) -> bool:
    """Whether a Dataset source has an ``image`` column."""
    try:
        return "image" in (ds.schema().names or [])
    except Exception:  # noqa: BLE001 - not a Dataset: the listing already said what is wrong
        return False


def _collect(batches: Iterable[Dict[str, Any]], folder: Optional[str], rows_per_file: int,
             class_names: List[str], meta: Dict[str, Any], listed: Optional[int]) -> Any:
    """Gather the workers' rows (``batches``, in order) on the driver: arrays, or Parquet
    files."""
    feats: List[np.ndarray] = []
    labels: List[np.ndarray] = []
    paths: List[str] = []
    index: List[np.ndarray] = []
    skipped: List[str] = []
    per_node: Dict[str, int] = {}
    written = _results.WrittenFiles()
    pending = 0
    seen = 0

    def flush(final: bool) -> None:
        """Write the pending rows as files of ``rows_per_file`` rows (and, at the end, the
        rest)."""
        nonlocal pending
        f, lab, p = np.concatenate(feats), np.concatenate(labels), list(paths)
        feats.clear(), labels.clear(), paths.clear(), index.clear()
        start = 0
        while len(p) - start >= rows_per_file or (final and start < len(p)):
            stop = start + rows_per_file
            table = _results.parquet_table(p[start:stop], lab[start:stop], f[start:stop], meta)
            written.append(_results.write_parquet(folder, len(written), table))
            start = stop
        if start < len(p):
            feats.append(f[start:]), labels.append(lab[start:]), paths.extend(p[start:])
        pending = len(p) - start

    for batch in batches:
        ok = np.asarray(batch["ok"], bool)
        _ray.count_rows(batch["node"], per_node)
        bad = [str(p) for p, good in zip(batch["path"], ok) if not good]
        skipped.extend(bad)
        seen += len(ok)
        if not ok.any():
            continue
        feats.append(np.asarray(batch["features"], np.float32)[ok].reshape(int(ok.sum()), -1))
        labels.append(np.asarray(batch["label"], np.int64)[ok])
        paths.extend(str(p) for p in np.asarray(batch["path"], object)[ok])
        index.append(np.asarray(batch["index"], np.int64)[ok])
        pending += int(ok.sum())
        if folder is not None and pending >= rows_per_file:
            flush(False)
    if listed is not None and seen != listed:
        raise RuntimeError(f"the workers returned {seen} rows for {listed} files")
    if folder is not None and pending:
        flush(True)
    if not written and not feats:
        raise ValueError(f"source: none of the {seen} images can be read")
    _results.warn_skipped(skipped, "the features")
    if folder is not None:
        return _results.annotate(written, skipped, class_names, per_node)
    order = np.argsort(np.concatenate(index), kind="stable")   # already in order: a check
    result = _results.ExtractedFeatures(np.concatenate(feats)[order], np.concatenate(labels)[order],
                                        [paths[i] for i in order])
    return _results.annotate(result, skipped, class_names, per_node)
