"""Beyond one machine (``foveal.distributed``): feature extraction and augmentation of many
image files on a Ray cluster, with Ray Data's batch-inference pattern (a listing of files ->
``map_batches`` on a pool of workers -> arrays or Parquet files)::

    from foveal import distributed

    feats, labels, paths = distributed.extract("resnet18.onnx", "photos/")   # local cluster
    files = distributed.extract("resnet18.onnx", "photos/", output="features/",
                                address="auto")          # a cluster made with `ray start`
    distributed.augment(ImageDataGenerator(rotation_range=15), "photos/", "augmented/", copies=4)

After ``ray.init()``, the first ``extract`` of a folder or a list of files starts the workers,
and later calls with the same backbone and worker count reuse them;
``distributed.shutdown_workers()`` stops them.

Ray is an optional extra (``pip install "foveal[distributed]"``): this package imports without
it, and its functions raise ImportError naming the extra. See docs/distributed.md.
"""

from __future__ import annotations

from ._augment import augment
from ._extract import extract
from ._pool import shutdown_workers
from ._ray import EXTRA
from ._results import PARQUET_COLUMNS, ExtractedFeatures, WrittenFiles

__all__ = ["extract", "augment", "shutdown_workers", "ExtractedFeatures", "WrittenFiles",
           "PARQUET_COLUMNS", "EXTRA"]
