"""model.export_onnx: onnxruntime runs the exported graph with predict's outputs (within 1e-4).
Skipped cleanly when onnx or onnxruntime is not installed (they are optional dependencies)."""
import numpy as np
import pytest

import foveal.nn as nn

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")


def _run(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([rng.standard_normal(w.shape).astype(np.float32) * 0.3 +
                       (1.0 if w.ndim == 1 and "variance" in name else 0.0)
                       for w, name in zip(model.get_weights(),
                                          [w.name for w in model.weights])])


def _check(model, x, tmp_path):
    want = model.predict(x, verbose=0)
    assert np.isfinite(want).all()
    path = tmp_path / "m.onnx"
    model.export_onnx(str(path))
    got = _run(path, x)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(want).max())))


def test_sequential_cnn_every_layer(tmp_path):
    model = nn.Sequential([
        nn.Input((13, 11, 3)),
        nn.Rescaling(1 / 255.0, offset=-0.5),
        nn.Conv2D(8, 3, padding="same", activation="relu"),
        nn.BatchNormalization(),
        nn.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2, activation="tanh"),
        nn.MaxPooling2D(2, padding="same"),
        nn.Conv2D(6, (2, 2), dilation_rate=(2, 1), groups=2, activation="sigmoid"),
        nn.AveragePooling2D((2, 1), strides=1, padding="same"),
        nn.Dropout(0.3),
        nn.Flatten(),
        nn.Dense(16, activation="relu"),
        nn.Dense(5),
        nn.Softmax(),
    ])
    _randomize(model)
    x = np.random.default_rng(1).uniform(0, 255, (4, 13, 11, 3)).astype(np.float32)
    _check(model, x, tmp_path)


@pytest.mark.parametrize("strides, padding, dilation", [(1, "same", 1), (2, "valid", 1), (1, "same", 2)])
def test_separable_convolutions(tmp_path, strides, padding, dilation):
    model = nn.Sequential([
        nn.Input((12, 10, 3)),
        nn.SeparableConv2D(6, 3, strides=strides, padding=padding, dilation_rate=dilation,
                           depth_multiplier=2, activation="relu"),
        nn.SeparableConv2D(4, (3, 2), padding="same", use_bias=False),
    ])
    _randomize(model)
    x = np.random.default_rng(2).standard_normal((3, 12, 10, 3)).astype(np.float32)
    _check(model, x, tmp_path)


def test_functional_residual(tmp_path):
    inp = nn.Input((9, 9, 4))
    a = nn.Conv2D(4, 3, padding="same", activation="relu")(inp)
    a = nn.Conv2D(4, 3, padding="same")(a)
    s = nn.Add()([inp, a])
    s = nn.ReLU()(s)
    c = nn.Concatenate()([s, nn.Activation("sigmoid")(s)])
    g = nn.GlobalAveragePooling2D()(c)
    out = nn.Dense(3, activation="softmax")(g)
    model = nn.Model(inp, out)
    _randomize(model, 2)
    x = np.random.default_rng(3).standard_normal((2, 9, 9, 4)).astype(np.float32)
    _check(model, x, tmp_path)
    m2 = nn.Model(inp, nn.GlobalMaxPooling2D()(c))
    _check(m2, x, tmp_path)


def test_trained_model_and_batch_sizes(tmp_path):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((64, 8, 8, 1)).astype(np.float32)
    y = (x.mean(axis=(1, 2, 3)) > 0).astype(np.float32)[:, None]
    model = nn.Sequential([nn.Input((8, 8, 1)), nn.Conv2D(4, 3, activation="relu"),
                           nn.BatchNormalization(), nn.GlobalMaxPooling2D(),
                           nn.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=2, batch_size=16, verbose=0)
    _check(model, x[:1], tmp_path)
    _check(model, x, tmp_path)


def test_export_errors(tmp_path):
    model = nn.Sequential([nn.Input((4, 4, 1)), nn.Flatten(), nn.Dense(2)])
    with pytest.raises(FileNotFoundError, match="filepath"):
        model.export_onnx(str(tmp_path / "missing" / "m.onnx"))
    odd = nn.Sequential([nn.Input((4, 4, 1)), nn.ReLU(threshold=0.5)])
    with pytest.raises(NotImplementedError, match="ReLU"):
        odd.export_onnx(str(tmp_path / "r.onnx"))
    assert not list(tmp_path.glob(".tmp_onnx_*"))


@pytest.mark.parametrize("relu", [dict(max_value=5.0), dict(negative_slope=0.1), dict(max_value=2.0, negative_slope=0.3)])
def test_relu_forms(tmp_path, relu):
    model = nn.Sequential([nn.Input((5, 4, 2)), nn.ReLU(**relu)])
    x = np.random.default_rng(2).standard_normal((3, 5, 4, 2)).astype(np.float32) * 4
    _check(model, x, tmp_path)


def test_explicit_paddings_transposed_convolutions_and_per_channel_rescaling(tmp_path):
    """The forms load_onnx produces: explicit conv/pool padding, Conv2DTranspose (explicit pads,
    Keras's valid/same, output_padding), per-channel Rescaling."""
    inp = nn.Input((9, 8, 3))
    h = nn.Rescaling([0.5, 1.0, 2.0], offset=[-1.0, 0.0, 1.0])(inp)
    h = nn.Conv2D(6, 3, strides=2, padding=((1, 0), (2, 1)))(h)
    h = nn.MaxPooling2D(3, strides=1, padding=((1, 1), (0, 2)))(h)
    h = nn.AveragePooling2D(2, strides=1, padding=((1, 0), (0, 1)))(h)
    a = nn.Conv2DTranspose(4, 3, strides=2, padding=((1, 1), (1, 1)), output_padding=1)(h)
    b = nn.Conv2DTranspose(4, 3, strides=2, padding="same")(h)
    c = nn.Conv2DTranspose(4, 2, strides=3, padding="valid")(h)
    d = nn.Conv2DTranspose(4, 3, strides=2, padding="valid", output_padding=1)(h)
    flat = [nn.GlobalAveragePooling2D()(t) for t in (a, b, c, d)]
    model = nn.Model(inp, nn.Concatenate()(flat))
    _randomize(model)
    x = np.random.default_rng(3).standard_normal((2, 9, 8, 3)).astype(np.float32)
    _check(model, x, tmp_path)
    for t in (a, b, c, d):   # each transposed convolution's map too
        _check(nn.Model(inp, t), x, tmp_path)
