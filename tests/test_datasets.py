"""foveal.datasets.fashion_mnist: Keras's load_data() shapes from local IDX files (never a
download): a synthetic folder always, Debian's package where it is installed."""
import gzip
import os

import numpy as np
import pytest

from foveal.datasets import fashion_mnist


def _idx(path, array):
    dims = b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as fh:
        fh.write(b"\x00\x00\x08" + bytes([array.ndim]) + dims + array.astype(np.uint8).tobytes())


def _folder(tmp_path, n_train=5, n_test=3):
    rng = np.random.default_rng(0)
    arrays = {"train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28)),
              "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train),
              "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28)),
              "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test)}
    for name, a in arrays.items():
        _idx(tmp_path / name, a)
    return arrays


def test_reads_a_folder_of_idx_files(tmp_path):
    arrays = _folder(tmp_path)
    (x, y), (xt, yt) = fashion_mnist.load_data(str(tmp_path))
    assert x.dtype == np.uint8 and x.shape == (5, 28, 28) and y.shape == (5,) and xt.shape == (3, 28, 28)
    np.testing.assert_array_equal(x, arrays["train-images-idx3-ubyte.gz"])
    np.testing.assert_array_equal(yt, arrays["t10k-labels-idx1-ubyte.gz"])


def test_environment_variable_and_missing_files(tmp_path, monkeypatch):
    _folder(tmp_path)
    monkeypatch.setenv("FOVEAL_FASHION_MNIST", str(tmp_path))
    assert fashion_mnist.find() == str(tmp_path)
    monkeypatch.setenv("FOVEAL_FASHION_MNIST", str(tmp_path / "nowhere"))
    monkeypatch.setattr(fashion_mnist, "DEBIAN_PATH", str(tmp_path / "nothing"))
    with pytest.raises(FileNotFoundError, match="dataset-fashion-mnist"):
        fashion_mnist.load_data()


def test_corrupt_file_is_a_value_error(tmp_path):
    _folder(tmp_path)
    with gzip.open(tmp_path / "train-labels-idx1-ubyte.gz", "wb") as fh:
        fh.write(b"\x00\x00\x08\x01" + (9).to_bytes(4, "big") + b"\x01\x02")   # says 9, holds 2
    with pytest.raises(ValueError, match="holds 2 bytes"):
        fashion_mnist.load_data(str(tmp_path))


@pytest.mark.skipif(fashion_mnist.find() is None,
                    reason="Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
def test_debian_package_matches_keras_shapes():
    (x, y), (xt, yt) = fashion_mnist.load_data()
    assert x.shape == (60000, 28, 28) and xt.shape == (10000, 28, 28)
    assert y.shape == (60000,) and yt.shape == (10000,)
    assert list(y[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]       # Keras's first training labels
    assert np.bincount(y).tolist() == [6000] * 10 and np.bincount(yt).tolist() == [1000] * 10
    assert os.path.isdir(fashion_mnist.DEBIAN_PATH) or fashion_mnist.find() is not None
