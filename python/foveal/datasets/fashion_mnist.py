"""Fashion-MNIST (Zalando, 60,000 training and 10,000 test 28 x 28 gray images of 10 kinds of
clothing) from local files, with Keras's ``load_data()`` shapes and dtypes.

Looked for, in order: the ``path`` argument, the ``FOVEAL_FASHION_MNIST`` environment variable,
and Debian's ``/usr/share/datasets/fashion-mnist`` (``apt-get install dataset-fashion-mnist``).
Nothing is downloaded.
"""

from __future__ import annotations

import gzip
import os
from typing import Optional, Tuple

import numpy as np

__all__ = ["load_data", "find", "CLASS_NAMES", "DEBIAN_PATH"]

DEBIAN_PATH = "/usr/share/datasets/fashion-mnist"
CLASS_NAMES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
               "Bag", "Ankle boot")
_FILES = {"x_train": "train-images-idx3-ubyte.gz", "y_train": "train-labels-idx1-ubyte.gz",
          "x_test": "t10k-images-idx3-ubyte.gz", "y_test": "t10k-labels-idx1-ubyte.gz"}


def find(path: Optional[str] = None) -> Optional[str]:
    """The folder holding the four files (``path``, then ``$FOVEAL_FASHION_MNIST``, then
    Debian's), or None when none has them."""
    for folder in (path, os.environ.get("FOVEAL_FASHION_MNIST"), DEBIAN_PATH):
        if folder and all(os.path.isfile(os.path.join(folder, f)) for f in _FILES.values()):
            return folder
    return None


def _read_idx(filename: str, ndim: int) -> np.ndarray:
    """An IDX file (gzip): magic 0x0000 08 ndim (unsigned bytes), big-endian sizes, the data."""
    with gzip.open(filename, "rb") as fh:
        data = fh.read()
    if len(data) < 4 + 4 * ndim or data[:3] != b"\x00\x00\x08" or data[3] != ndim:
        raise ValueError(f"{filename!r} is not an IDX file of {ndim}-D unsigned bytes")
    dims = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(dims)):
        raise ValueError(f"{filename!r} holds {body.size} bytes for dims {dims}")
    return body.reshape(dims).copy()


def load_data(path: Optional[str] = None) -> Tuple[Tuple[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]:
    """``(x_train, y_train), (x_test, y_test)``: uint8 images ``N x 28 x 28`` and uint8 labels
    0-9, as ``keras.datasets.fashion_mnist.load_data()``.

    Raises:
        FileNotFoundError: the files are in none of the places above (the message says how to
            install them).
    """
    folder = find(path)
    if folder is None:
        where = f"{path!r}, " if path else ""
        raise FileNotFoundError(f"path: Fashion-MNIST not found in {where}$FOVEAL_FASHION_MNIST or "
                                f"{DEBIAN_PATH}; install it with `apt-get install dataset-fashion-mnist` "
                                "or pass the folder holding its four *-ubyte.gz files")
    arrays = {k: _read_idx(os.path.join(folder, f), 3 if k.startswith("x") else 1) for k, f in _FILES.items()}
    return (arrays["x_train"], arrays["y_train"]), (arrays["x_test"], arrays["y_test"])
