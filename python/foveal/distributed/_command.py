"""``foveal extract BACKBONE DIR -o OUT --ray [ADDRESS] --workers N``: the command's run on a
Ray cluster (:func:`foveal.distributed.extract`)."""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

import numpy as np

from ._extract import extract


def extract_command_ray(backbone: Any, directory: Any, output: Any, address: Optional[str] = None,
                        workers: Optional[int] = None, verbose: int = 1,
                        save_features: Optional[Callable[..., str]] = None) -> int:
    """Features of the images under ``directory`` from ``backbone`` (an ``OnnxBackbone``) on
    a Ray cluster (``address`` as ``ray.init``'s; None: a local one), ``workers`` worker actors
    (None: one per CPU). ``output`` ending in ``.npz`` gets the file ``foveal extract`` writes
    without Ray (``save_features``, the command's own writer); any other ``output`` is a folder of
    Parquet files (columns ``path``, ``label``, ``features``). Prints a summary line with
    ``verbose``; returns 0. Errors propagate (the caller prints them)."""
    from ..transfer.backbone import DirectoryFeatures

    out = os.fspath(output)
    if out.lower().endswith(".npz"):
        if save_features is None:
            raise ValueError("output: an .npz output needs the command's save_features")
        feats, labels, paths = result = extract(backbone, directory, None, workers,
                                                backbone.batch_size, address, verbose=verbose)
        root = os.path.abspath(os.fspath(directory))
        names = [os.path.relpath(p, root).replace(os.sep, "/") for p in paths]
        written = save_features(out, DirectoryFeatures(feats, labels.astype(np.int32), names,
                                                       result.class_names, result.skipped),
                                backbone)
        n, d = feats.shape
        what = f"{n} images x {d} features"
    else:
        result = extract(backbone, directory, out, workers, backbone.batch_size, address,
                         verbose=verbose)
        written = os.path.abspath(out)
        what = f"{len(result)} Parquet file(s)"
    if verbose:
        classes = f", {len(result.class_names)} classes" if result.class_names else ""
        skipped = (f", {len(result.skipped)} unreadable file(s) skipped" if result.skipped
                   else "")
        nodes = len(result.rows_per_node)
        print(f"wrote {written}: {what}{classes}{skipped} (Ray: {nodes} node(s))")
    return 0
