"""Issue 14's layers with Keras 3 semantics: ZeroPadding2D, UpSampling2D (nearest and bilinear),
Reshape, the broadcasting merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum) and
the global poolings' keepdims. Forward against float64 references, gradients against references
and finite differences, Keras's shapes, defaults, configs and errors, a squeeze-excite model that
trains and survives save/load, and ONNX export (skipped without onnx/onnxruntime)."""
import numpy as np
import pytest

import foveal.nn as nn
import foveal.nn.functional as F
from check import check_op
from inputs import rand
from reference import nn as R

CHANNELS = (1, 3, 8, 17)


# ------------------------------------------------------------------------------ native ops
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("padding", [0, 1, (2, 0), ((1, 2), (0, 3)), ((0, 0), (4, 1)), [[3, 1], 2]])
def test_zero_pad2d(isa, c, padding):
    rng = np.random.default_rng(c)
    x = rand(rng, 2, 5, 6, c)
    y = check_op("zero_pad2d", x, padding=padding)
    check_op("zero_pad2d", rand(rng, *y.shape), grad=True, padding=padding)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
@pytest.mark.parametrize("c", CHANNELS)
@pytest.mark.parametrize("size", [1, 2, (3, 1), (1, 4), (3, 2)])
@pytest.mark.parametrize("hw", [(1, 1), (1, 5), (4, 3), (7, 9)])
def test_upsample2d(isa, interpolation, c, size, hw):
    rng = np.random.default_rng(hash((c, hw)) % 2**32)
    x = rand(rng, 2, *hw, c)
    y = check_op("upsample2d", x, size=size, interpolation=interpolation)
    check_op("upsample2d", rand(rng, *y.shape), grad=True, size=size, interpolation=interpolation)


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear"])
def test_upsample2d_gradient_is_the_adjoint(interpolation):
    """<up(x), dy> == <x, up_backward(dy)>: the backward pass is the forward map's transpose."""
    rng = np.random.default_rng(5)
    x = rand(rng, 2, 6, 5, 4)
    y = F.upsample2d(x, (3, 2), interpolation)
    dy = rand(rng, *y.shape)
    dx = F.upsample2d_backward(dy, (3, 2), interpolation)
    a = float(np.sum(y.astype(np.float64) * dy))
    b = float(np.sum(x.astype(np.float64) * dx))
    assert abs(a - b) <= 1e-5 * max(1.0, abs(a))


def test_upsample2d_values_keras():
    """Nearest repeats; bilinear has half-pixel centres with clamped edges (tf.image.resize):
    upsampling [0, 1] by 2 gives [0, 0.25, 0.75, 1]."""
    x = np.array([0.0, 1.0], np.float32).reshape(1, 1, 2, 1)
    np.testing.assert_array_equal(F.upsample2d(x, (1, 2), "nearest").ravel(), [0, 0, 1, 1])
    np.testing.assert_allclose(F.upsample2d(x, (1, 2), "bilinear").ravel(), [0, 0.25, 0.75, 1])
    np.testing.assert_allclose(F.upsample2d(x, (1, 4), "bilinear").ravel(),
                               [0, 0, 0.125, 0.375, 0.625, 0.875, 1, 1])


def test_native_ops_bad_arguments():
    x = np.zeros((1, 3, 3, 2), np.float32)
    with pytest.raises(ValueError, match="padding"):
        F.zero_pad2d(x, -1)
    with pytest.raises(ValueError, match="padding"):
        F.zero_pad2d(x, (1, 2, 3))
    with pytest.raises(TypeError, match="padding"):
        F.zero_pad2d(x, "same")
    with pytest.raises(ValueError, match="padding"):
        F.zero_pad2d_backward(x, ((2, 1), (0, 0)))          # nothing left
    with pytest.raises(ValueError, match="size"):
        F.upsample2d(x, 0)
    with pytest.raises(ValueError, match="interpolation"):
        F.upsample2d(x, 2, "area")
    with pytest.raises(ValueError, match="dy"):
        F.upsample2d_backward(np.zeros((1, 3, 4, 2), np.float32), 2)
    with pytest.raises(ValueError, match="x"):
        F.upsample2d(np.zeros((3, 3, 2), np.float32), 2)


# ------------------------------------------------------------------------------ layers: Keras semantics
def test_zero_padding2d_layer():
    layer = nn.ZeroPadding2D()
    assert layer.padding == ((1, 1), (1, 1))
    assert nn.ZeroPadding2D(2).padding == ((2, 2), (2, 2))
    assert nn.ZeroPadding2D((1, 3)).padding == ((1, 1), (3, 3))
    assert nn.ZeroPadding2D(((0, 1), (2, 3))).padding == ((0, 1), (2, 3))
    out = nn.ZeroPadding2D(((0, 1), (2, 3)))(nn.Input((None, 5, 3)))
    assert out.shape == (None, None, 10, 3)
    cfg = nn.ZeroPadding2D(((0, 1), (2, 3)), name="zp").get_config()
    assert cfg["padding"] == [[0, 1], [2, 3]] and cfg["data_format"] == "channels_last"
    assert nn.ZeroPadding2D.from_config(cfg).padding == ((0, 1), (2, 3))
    for bad in (-1, (1, -1), ((1, 2), (3, -4))):
        with pytest.raises(ValueError, match="padding"):
            nn.ZeroPadding2D(bad)
    with pytest.raises(ValueError, match="padding"):
        nn.ZeroPadding2D((1, 2, 3))
    with pytest.raises(ValueError, match="data_format"):
        nn.ZeroPadding2D(data_format="channels_first")
    with pytest.raises(ValueError, match="rank 4"):
        nn.ZeroPadding2D()(nn.Input((4, 3)))


def test_upsampling2d_layer():
    layer = nn.UpSampling2D()
    assert layer.size == (2, 2) and layer.interpolation == "nearest"
    assert nn.UpSampling2D(3).size == (3, 3)
    out = nn.UpSampling2D((2, 3), interpolation="bilinear")(nn.Input((4, None, 2)))
    assert out.shape == (None, 8, None, 2)
    cfg = nn.UpSampling2D((2, 3), interpolation="bilinear").get_config()
    assert cfg["size"] == [2, 3] and cfg["interpolation"] == "bilinear"
    assert nn.UpSampling2D.from_config(cfg).size == (2, 3)
    with pytest.raises(ValueError, match="size"):
        nn.UpSampling2D(0)
    with pytest.raises(ValueError, match="interpolation"):
        nn.UpSampling2D(interpolation="area")
    with pytest.raises(NotImplementedError, match="bicubic"):
        nn.UpSampling2D(interpolation="bicubic")
    with pytest.raises(ValueError, match="size"):
        nn.UpSampling2D(1.5)
    with pytest.raises(TypeError, match="size"):
        nn.UpSampling2D("2")


def test_reshape_layer():
    assert nn.Reshape((3, 4))(nn.Input((12,))).shape == (None, 3, 4)
    assert nn.Reshape((-1, 2))(nn.Input((3, 4))).shape == (None, 6, 2)
    assert nn.Reshape((-1,))(nn.Input((None, 4))).shape == (None, None)
    assert nn.Reshape((1, 1, 4))(nn.Input((4,))).shape == (None, 1, 1, 4)
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    np.testing.assert_array_equal(nn.Reshape((4, -1))(x), x.reshape(2, 4, 3))
    cfg = nn.Reshape((4, -1)).get_config()
    assert cfg["target_shape"] == [4, -1]
    assert nn.Reshape.from_config(cfg).target_shape == (4, -1)
    with pytest.raises(ValueError, match="target_shape"):
        nn.Reshape((-1, -1))
    with pytest.raises(ValueError, match="target_shape"):
        nn.Reshape((0, 3))
    with pytest.raises(TypeError, match="target_shape"):
        nn.Reshape(12)
    with pytest.raises(ValueError, match="target_shape"):
        nn.Reshape((2.5, 2))
    with pytest.raises(ValueError, match="target_shape"):
        nn.Reshape((5,))(nn.Input((12,)))
    with pytest.raises(ValueError, match="target_shape"):
        nn.Reshape((5, -1))(nn.Input((12,)))


MERGES = {"Add": "add", "Subtract": "subtract", "Multiply": "multiply", "Average": "average",
          "Maximum": "maximum", "Minimum": "minimum"}
SHAPE_SETS = [
    [(3, 4, 5, 2), (3, 4, 5, 2)],
    [(3, 1, 1, 6), (3, 4, 5, 6)],          # squeeze-excite gates
    [(3, 4, 5, 6), (3, 6)],                # lower rank: axes inserted after the batch axis
    [(3, 4, 1, 6), (3, 1, 5, 1), (3, 4, 5, 6)],
    [(2, 7), (2, 7), (2, 7), (2, 7)],
]


@pytest.mark.parametrize("cls", list(MERGES))
@pytest.mark.parametrize("shapes", SHAPE_SETS, ids=str)
def test_merge_forward_and_gradients(cls, shapes):
    if cls == "Subtract" and len(shapes) != 2:
        pytest.skip("Subtract takes exactly two inputs")
    rng = np.random.default_rng(len(shapes))
    xs = [rand(rng, *s) for s in shapes]
    if cls in ("Maximum", "Minimum"):   # ties: the first input holding the extremum gets dy
        xs[-1].reshape(-1)[::3] = 0.5
        xs[0].reshape(-1)[::3] = 0.5
    layer = getattr(nn, cls)()
    y = layer(xs)
    ref = R.merge(MERGES[cls], xs)
    assert y.dtype == np.float32 and y.shape == ref.shape
    np.testing.assert_allclose(y, ref, rtol=1e-6, atol=1e-6)
    sym = layer.compute_output_shape([(None,) + s[1:] for s in shapes])
    assert sym == (None,) + ref.shape[1:]
    dy = rand(rng, *y.shape)
    grads = layer.backward(dy)
    want = R.merge_backward(MERGES[cls], dy, xs)
    for g, w, x in zip(grads, want, xs):
        assert g.shape == x.shape and g.dtype == np.float32
        np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5 * max(1.0, float(np.abs(w).max())))


@pytest.mark.parametrize("cls", ["Multiply", "Subtract", "Average"])
def test_merge_gradients_finite_differences(cls):
    """Each of these is linear in each input: a central difference is exact up to rounding."""
    rng = np.random.default_rng(1)
    xs = [rand(rng, 2, 1, 1, 3).astype(np.float64), rand(rng, 2, 3, 2, 3).astype(np.float64)]
    w = rand(rng, 2, 3, 2, 3)
    layer = getattr(nn, cls)()
    layer([x.astype(np.float32) for x in xs])
    grads = layer.backward(w)
    for i, x in enumerate(xs):
        for idx in [(0, 0, 0, 0), (1, 0, 0, 2), tuple(d - 1 for d in x.shape)]:
            plus = [a.copy() for a in xs]
            minus = [a.copy() for a in xs]
            plus[i][idx] += 0.5
            minus[i][idx] -= 0.5
            num = float(np.sum((R.merge(MERGES[cls], plus) - R.merge(MERGES[cls], minus)) * w))
            assert abs(grads[i][idx] - num) < 1e-4, (cls, i, idx)


def test_merge_keras_rules():
    a, b = nn.Input((4, 5, 6)), nn.Input((1, 1, 6))
    assert nn.Multiply()([a, b]).shape == (None, 4, 5, 6)
    assert nn.Add()([b, a]).shape == (None, 4, 5, 6)
    assert nn.Maximum()([nn.Input((6,)), a]).shape == (None, 4, 5, 6)
    with pytest.raises(ValueError, match="exactly 2"):
        nn.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="at least 2"):
        nn.Multiply()([a])
    with pytest.raises(ValueError, match="broadcast"):
        nn.Average()([a, nn.Input((4, 5, 7))])
    with pytest.raises(ValueError, match="broadcast"):
        nn.Add()([nn.Input((4,)), nn.Input((5,))])
    with pytest.raises(ValueError, match="batch size"):
        nn.Multiply()([np.ones((2, 3), np.float32), np.ones((3, 3), np.float32)])
    cfg = nn.Maximum(name="mx").get_config()
    assert cfg["name"] == "mx" and nn.Maximum.from_config(cfg).name == "mx"


@pytest.mark.parametrize("cls", ["GlobalAveragePooling2D", "GlobalMaxPooling2D"])
def test_global_pooling_keepdims(cls):
    assert getattr(nn, cls)().keepdims is False
    x = rand(np.random.default_rng(2), 2, 3, 4, 5)
    flat, kept = getattr(nn, cls)(), getattr(nn, cls)(keepdims=True)
    assert flat(nn.Input((3, 4, 5))).shape == (None, 5)
    assert kept(nn.Input((3, 4, 5))).shape == (None, 1, 1, 5)
    y1, y2 = flat(x), kept(x)
    assert y2.shape == (2, 1, 1, 5)
    np.testing.assert_array_equal(y1, y2.reshape(2, 5))
    dy = rand(np.random.default_rng(3), 2, 5)
    np.testing.assert_array_equal(flat.backward(dy), kept.backward(dy.reshape(2, 1, 1, 5)))
    assert kept.get_config()["keepdims"] is True


def test_layers_backward_through_sequential():
    """The reshaping layers inside a Sequential model: the gradient at the input (a linear
    model, so checked against finite differences exactly)."""
    rng = np.random.default_rng(4)
    model = nn.Sequential([nn.Input((3, 4, 2)), nn.ZeroPadding2D(((1, 0), (2, 1))),
                           nn.UpSampling2D((2, 1), interpolation="bilinear"), nn.Reshape((-1, 2)),
                           nn.Flatten(), nn.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    x = rand(rng, 5, 3, 4, 2)
    y = rand(rng, 5, 1)
    assert model.predict(x, verbose=0).shape == (5, 1)
    hist = model.fit(x, y, epochs=5, batch_size=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]


# ------------------------------------------------------------------------------ models
def _se_model(seed=0):
    inp = nn.Input((8, 8, 3))
    h = nn.ZeroPadding2D(1)(inp)
    h = nn.Conv2D(8, 3, activation="relu")(h)
    s = nn.GlobalAveragePooling2D(keepdims=True)(h)
    s = nn.Conv2D(8, 1, activation="sigmoid")(s)
    h = nn.Multiply()([h, s])
    h = nn.MaxPooling2D(2)(h)
    h = nn.UpSampling2D(2, interpolation="bilinear")(h)
    d = nn.Subtract()([h, nn.UpSampling2D(2)(nn.AveragePooling2D(2)(h))])
    h = nn.Maximum()([h, d])
    h = nn.Average()([h, nn.Conv2D(8, 1)(h)])
    h = nn.GlobalMaxPooling2D(keepdims=True)(h)
    h = nn.Reshape((-1,))(h)
    out = nn.Dense(3, activation="softmax")(h)
    return nn.Model(inp, out)


def test_squeeze_excite_model_trains_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, (48, 8, 8, 3)).astype(np.float32)
    labels = (x[:, :4].mean(axis=(1, 2, 3)) > x[:, 4:].mean(axis=(1, 2, 3))).astype(int)
    y = np.eye(3, dtype=np.float32)[labels]
    model = _se_model()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    before = model.evaluate(x, y, verbose=0)
    hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    after = model.evaluate(x, y, verbose=0)
    assert after[0] < before[0]
    path = tmp_path / "se.foveal"
    model.save(str(path))
    loaded = nn.load_model(str(path))
    assert [type(layer).__name__ for layer in loaded.layers] == [type(layer).__name__ for layer in model.layers]
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    again = nn.Model.from_config(model.get_config())
    assert again.output_shape == model.output_shape


def test_onnx_export_of_the_new_layers(tmp_path):
    pytest.importorskip("onnx", reason="onnx is not installed (optional)")
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")
    model = _se_model()
    rng = np.random.default_rng(1)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 for w in model.get_weights()])
    x = rng.uniform(0, 1, (3, 8, 8, 3)).astype(np.float32)
    want = model.predict(x, verbose=0)
    path = tmp_path / "se.onnx"
    model.export_onnx(str(path))
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"input": x})[0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)
    # rank expansion (N x C with N x H x W x C), Minimum, Add with broadcasting, nearest resize
    i = nn.Input((4, 5, 3))
    g = nn.GlobalAveragePooling2D()(i)
    h = nn.Minimum()([i, g])
    h = nn.Add()([h, nn.GlobalMaxPooling2D(keepdims=True)(i)])
    h = nn.UpSampling2D((2, 3))(h)
    m2 = nn.Model(i, nn.Reshape((8, -1))(h))
    x2 = rng.standard_normal((2, 4, 5, 3)).astype(np.float32)
    m2.export_onnx(str(tmp_path / "m2.onnx"))
    got2 = ort.InferenceSession(str(tmp_path / "m2.onnx"), providers=["CPUExecutionProvider"]).run(
        None, {"input": x2})[0]
    np.testing.assert_allclose(got2, m2.predict(x2, verbose=0), rtol=1e-5, atol=1e-5)


def test_against_keras_if_installed():
    keras = pytest.importorskip("keras", reason="keras is not installed (optional)")
    rng = np.random.default_rng(6)
    x = rand(rng, 2, 5, 4, 3)
    g = rand(rng, 2, 1, 1, 3)
    for ours, theirs in [(nn.UpSampling2D((2, 3), interpolation="bilinear"),
                          keras.layers.UpSampling2D((2, 3), interpolation="bilinear")),
                         (nn.UpSampling2D(2), keras.layers.UpSampling2D(2)),
                         (nn.ZeroPadding2D(((1, 2), (0, 3))), keras.layers.ZeroPadding2D(((1, 2), (0, 3))))]:
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
    for cls in MERGES:
        want = np.asarray(getattr(keras.layers, cls)()([x, g]))
        np.testing.assert_allclose(getattr(nn, cls)()([x, g]), want, rtol=1e-5, atol=1e-5)
