"""Datasets read from local files, as ``keras.datasets`` (nothing is ever downloaded).

``foveal.datasets.fashion_mnist.load_data()`` reads Fashion-MNIST from the Debian/Ubuntu package
``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``) or from a folder holding
the four ``*-ubyte.gz`` files.
"""

from . import fashion_mnist

__all__ = ["fashion_mnist"]
