"""``foveal extract BACKBONE DIR -o OUT.npz``: features of a folder of images, saved to one file."""

from __future__ import annotations

import os
import sys
from typing import Any, Optional

import numpy as np

from .._files import atomic_path
from .backbone import DirectoryFeatures, OnnxBackbone, PathLike

__all__ = ["extract_command", "save_features"]


def save_features(path: PathLike, result: DirectoryFeatures, backbone: OnnxBackbone) -> str:
    """Write ``result`` to an ``.npz`` file, atomically (the file appears complete or not at
    all): ``features`` (N x D float32), ``labels`` (N int32, -1 without class folders),
    ``filenames`` (N str), ``class_names`` (str), ``skipped`` (str: unreadable files, which
    have no row), and the backbone's ``backbone_path``, ``output`` and ``preprocess`` (str).
    ``np.load`` reads it without ``allow_pickle``. Returns the absolute path."""
    path = os.path.abspath(os.fspath(path))

    def strings(items: Any) -> np.ndarray:
        return np.asarray(list(items), dtype=str) if len(items) else np.zeros(0, dtype="<U1")

    preprocess = backbone.preprocess if isinstance(backbone.preprocess, str) else "callable"
    with atomic_path(path, "output", ".npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, features=result.features, labels=result.labels,
                 filenames=strings(result.filenames), class_names=strings(result.class_names),
                 skipped=strings(result.skipped), backbone_path=np.str_(backbone.path),
                 output=np.str_(backbone.output), preprocess=np.str_(preprocess))
    return path


def extract_command(backbone_path: PathLike, directory: PathLike, output: PathLike,
                    batch_size: int = 32, preprocess: str = "torch", verbose: int = 1,
                    use_ray: bool = False, ray_address: Optional[str] = None,
                    workers: Optional[int] = None) -> int:
    """Run ``backbone_path`` (an ONNX model) over the images under ``directory`` (class
    subfolders as ``flow_from_directory``, or a flat folder) and write the features, labels and
    file names to ``output`` (see :func:`save_features`).

    Returns the exit status: 0 on success, 1 after printing ``foveal extract: error: ...`` to
    stderr for a missing or bad file, folder or argument. ``verbose=1`` shows a progress bar
    and a summary line. ``use_ray`` runs it on a Ray cluster (``ray_address`` as
    ``ray.init``'s, ``workers`` actors; see ``foveal.distributed``), where an ``output`` not
    ending in ``.npz`` is a folder of Parquet files.
    """
    try:
        folder = os.path.dirname(os.path.abspath(os.fspath(output)))
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"output: folder {folder!r} does not exist")
        backbone = OnnxBackbone(backbone_path, preprocess=preprocess, batch_size=batch_size)
        if use_ray:
            from ..distributed._command import extract_command_ray

            return extract_command_ray(backbone, directory, output, ray_address, workers, verbose,
                                       save_features)
        result = backbone.extract_directory(directory, verbose=verbose)
        written = save_features(output, result, backbone)
    except (FileNotFoundError, FileExistsError, ValueError, TypeError, ImportError,
            ConnectionError) as e:
        print(f"foveal extract: error: {e}", file=sys.stderr)
        return 1
    if verbose:
        n, d = result.features.shape
        classes = f", {len(result.class_names)} classes" if result.class_names else ""
        skipped = f", {len(result.skipped)} unreadable file(s) skipped" if result.skipped else ""
        print(f"wrote {written}: {n} images x {d} features{classes}{skipped}")
    return 0
