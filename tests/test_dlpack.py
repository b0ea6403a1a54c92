"""Inputs with ``__dlpack__`` or ``__array__`` (PyTorch CPU tensors and the like) in the
functional ops, the image ops and ``Model.fit``/``predict``/``evaluate``: the same results as NumPy
arrays, and no copy where the memory layout allows (float32 C-contiguous for the nets, uint8 or
float32 for the images).

The DLPack path is tested without torch too, with :class:`DLPackOnly`: a pure-Python object that
offers nothing but ``__dlpack__``/``__dlpack_device__`` over a NumPy array (``np.asarray`` alone
would make a 0-d object array of it). The torch tests skip when torch is not installed.
"""
import numpy as np
import pytest

import foveal
import foveal.image as fi
import foveal.nn as nn
from foveal._checks import as_float32, as_numpy
from foveal.image._pixels import as_pixels
from foveal.nn import functional as F
from foveal.nn._adapters import Batches

RNG = np.random.default_rng(3)


class DLPackOnly:
    """An array producer known to NumPy only through the DLPack protocol."""

    def __init__(self, array, device=None):
        self._array = array
        self._device = device

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        return self._array.__dlpack__(stream=stream, max_version=max_version, dl_device=dl_device,
                                      copy=copy)

    def __dlpack_device__(self):
        return self._device or self._array.__dlpack_device__()


class ArrayOnly:
    """An array producer known to NumPy only through ``__array__`` (a view of its array)."""

    def __init__(self, array):
        self._array = array

    def __array__(self, dtype=None, copy=None):
        return self._array if dtype is None else self._array.astype(dtype)


def _images(dtype=np.float32, shape=(2, 9, 10, 3)):
    x = RNG.uniform(0, 255, shape)
    return x.astype(dtype)


def _model():
    foveal.utils.set_random_seed(7)
    model = nn.Sequential([nn.Input((9, 10, 3)), nn.Conv2D(4, 3, activation="relu"),
                           nn.BatchNormalization(), nn.GlobalAveragePooling2D(),
                           nn.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    return model


def _fit(x, y):
    model = _model()
    foveal.utils.set_random_seed(8)
    history = model.fit(x, y, batch_size=2, epochs=2, verbose=0)
    return history.history, model.get_weights()


# ---- the conversion itself: no copy where the layout allows ------------------------------


def test_dlpack_object_is_read_without_a_copy():
    a = _images()
    for wrapped in (DLPackOnly(a), ArrayOnly(a)):
        assert np.shares_memory(as_numpy(wrapped, "x"), a)
        assert np.shares_memory(as_float32(wrapped, "x"), a)
        assert np.shares_memory(as_pixels(wrapped, "img"), a)
        assert np.shares_memory(Batches(wrapped, None, 2, False, None, "predict", False).x, a)
    assert np.shares_memory(nn.Flatten()(DLPackOnly(a)), a)   # through a layer call, still a view


def test_other_layouts_are_copied_once_and_equal():
    a = _images(np.float64)
    got = as_float32(DLPackOnly(a), "x")
    assert got.dtype == np.float32 and got.flags.c_contiguous
    np.testing.assert_array_equal(got, a.astype(np.float32))
    strided = np.moveaxis(_images(shape=(2, 3, 9, 10)), 1, -1)   # an NCHW tensor seen as NHWC
    view = as_numpy(DLPackOnly(strided), "x")
    assert np.shares_memory(view, strided) and not view.flags.c_contiguous
    np.testing.assert_array_equal(as_float32(DLPackOnly(strided), "x"), strided)


def test_device_memory_is_a_clear_type_error():
    with pytest.raises(TypeError, match=r"weights lives on a device.*move it to the CPU"):
        as_float32(DLPackOnly(_images(), device=(2, 0)), "weights")   # kDLCUDA
    with pytest.raises(TypeError, match=r"^img "):
        fi.flip(DLPackOnly(_images(), device=(2, 0)))


# ---- results equal NumPy's --------------------------------------------------------------


def _functional_results(wrap):
    x = _images() / 255
    k = RNG.standard_normal((3, 3, 3, 4)).astype(np.float32)
    w = RNG.standard_normal((30, 5)).astype(np.float32)
    return [F.conv2d(wrap(x), wrap(k), wrap(np.ones(4, np.float32)), 1, "same", activation="relu"),
            F.depthwise_conv2d(wrap(x), wrap(k[..., :1]), None, 2, "same"),
            F.max_pool2d(wrap(x), 2), F.avg_pool2d(wrap(x), 3, 1, "same"),
            F.global_avg_pool2d(wrap(x)), F.dense(wrap(x.reshape(-1, 30)[:6]), wrap(w)),
            F.activation(wrap(x), "gelu"), F.softmax(wrap(x)), F.upsample2d(wrap(x), 2, "bilinear")]


def _image_results(wrap):
    u8 = _images(np.uint8)
    f32 = _images()
    return [fi.gaussian_blur(wrap(u8), 5, 1.2), fi.resize(wrap(f32), (7, 5)), fi.flip(wrap(u8)),
            fi.to_gray(wrap(u8)), fi.rotate(wrap(f32[0]), 30.0),
            fi.filter2d(wrap(u8[0]), np.full((3, 3), 1 / 9, np.float32)),
            fi.add(wrap(u8), wrap(u8))]


def _model_results(wrap):
    x = _images()
    y = RNG.integers(0, 3, len(x) * 2)
    xx = np.concatenate([x, x[::-1]])
    model = _model()
    out = [model.predict(wrap(xx), verbose=0)]
    history, weights = _fit(wrap(xx), wrap(y))
    out += [np.array(history["loss"]), np.array(history["accuracy"])] + weights
    out.append(np.array(model.evaluate(wrap(xx), wrap(y), verbose=0)))
    return out


def _assert_same(a, b):
    assert len(a) == len(b)
    for u, v in zip(a, b):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


@pytest.mark.parametrize("results", [_functional_results, _image_results, _model_results],
                         ids=["functional", "image", "model"])
def test_dlpack_object_gives_numpy_results(results):
    state = RNG.bit_generator.state
    expected = results(lambda a: a)
    RNG.bit_generator.state = state
    _assert_same(results(DLPackOnly), expected)


# ---- PyTorch CPU tensors ----------------------------------------------------------------


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="torch is not installed")


@pytest.mark.parametrize("results", [_functional_results, _image_results, _model_results],
                         ids=["functional", "image", "model"])
def test_torch_tensors_give_numpy_results(torch, results):
    state = RNG.bit_generator.state
    expected = results(lambda a: a)
    RNG.bit_generator.state = state
    _assert_same(results(lambda a: torch.from_numpy(np.ascontiguousarray(a))), expected)


def test_torch_tensors_without_a_copy(torch):
    t = torch.rand(2, 9, 10, 3)
    view = t.numpy()
    assert np.shares_memory(as_float32(t, "x"), view)
    assert np.shares_memory(nn.Flatten()(t), view)
    assert np.shares_memory(Batches(t, None, 2, False, None, "predict", False).x, view)
    u8 = (t * 255).to(torch.uint8)
    assert np.shares_memory(as_pixels(u8, "img"), u8.numpy())
    nchw = torch.rand(2, 3, 9, 10)
    nhwc = nchw.permute(0, 2, 3, 1)   # a strided view: copied once, to C order, equal
    np.testing.assert_array_equal(_model().predict(nhwc, verbose=0),
                                  _model().predict(nhwc.contiguous().numpy(), verbose=0))


def test_torch_tensor_that_requires_grad_is_a_clear_error(torch):
    with pytest.raises(TypeError, match=r"^x .*detach"):
        as_float32(torch.ones(2, 3, requires_grad=True), "x")
