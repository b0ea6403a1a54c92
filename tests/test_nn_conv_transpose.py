"""Conv2DTranspose (Keras 3): forward against a float64 scatter reference (every output pixel
gathers what each input pixel spreads over its kernel window), Keras's output sizes, gradients
against finite differences, config, training."""
import numpy as np
import pytest

import foveal
from check import check_layer_gradients
from foveal.nn.layers import Conv2DTranspose

RNG = np.random.default_rng(5)


def reference(x, kernel, bias, strides, padding, output_padding, dilation):
    """y = the transposed convolution by definition, in float64, cropped as Keras crops it."""
    n, h, w, _ = x.shape
    kh, kw, f, _ = kernel.shape
    s, d = strides, dilation
    ke = [d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1]
    out, pad = [], []
    for i, (size, k) in enumerate(zip((h, w), ke)):
        if output_padding is None:
            length = size * s[i] + max(k - s[i], 0) if padding == "valid" else size * s[i]
            total = max((size - 1) * s[i] + k - length, 0)
            pad.append(total // 2)
        else:
            p = k // 2 if padding == "same" else 0
            length = (size - 1) * s[i] + k - 2 * p + output_padding[i]
            pad.append(p)
        out.append(length)
    full = np.zeros((n, (h - 1) * s[0] + ke[0] + out[0], (w - 1) * s[1] + ke[1] + out[1], f))
    x64, k64 = x.astype(np.float64), kernel.astype(np.float64)
    for r in range(kh):
        for c in range(kw):
            contrib = np.einsum("nhwc,fc->nhwf", x64, k64[r, c])
            full[:, r * d[0]:r * d[0] + (h - 1) * s[0] + 1:s[0], c * d[1]:c * d[1] + (w - 1) * s[1] + 1:s[1]] += contrib
    y = full[:, pad[0]:pad[0] + out[0], pad[1]:pad[1] + out[1]]
    return y + (0.0 if bias is None else bias.astype(np.float64))


CASES = [
    dict(kernel_size=3, strides=1, padding="same"),
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=(4, 3), strides=2, padding="valid"),
    dict(kernel_size=2, strides=3, padding="valid"),
    dict(kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(kernel_size=3, strides=2, padding="valid", output_padding=(1, 0)),
    dict(kernel_size=3, strides=1, padding="same", dilation_rate=2),
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_forward_matches_reference(isa, case):
    layer = Conv2DTranspose(5, **case)
    x = RNG.standard_normal((2, 6, 5, 4), dtype=np.float32)
    y = layer(x)
    layer.bias.value[:] = RNG.standard_normal(5).astype(np.float32)
    y = layer(x)
    op = case.get("output_padding")
    op = None if op is None else ((op, op) if isinstance(op, int) else op)
    s = case["strides"]
    d = case.get("dilation_rate", 1)
    ref = reference(x, layer.kernel.value, layer.bias.value, (s, s), case["padding"], op, (d, d))
    assert y.shape == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("case", [CASES[1], CASES[2], CASES[4]], ids=["same", "valid", "output_padding"])
def test_gradients_match_finite_differences(case):
    layer = Conv2DTranspose(3, **case, activation="tanh")
    x = RNG.standard_normal((2, 5, 4, 2), dtype=np.float32)
    check_layer_gradients(layer, x, RNG, ("kernel", "bias"))


def test_keras_shapes_weights_and_config():
    layer = Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu")
    assert layer.compute_output_shape((None, 7, 9, 4)) == (None, 14, 18, 8)
    layer.build((None, 7, 9, 4))
    assert [w.shape for w in layer.weights] == [(3, 3, 8, 4), (8,)]
    assert Conv2DTranspose(2, 3, strides=2).compute_output_shape((1, 5, 5, 1)) == (1, 11, 11, 2)
    assert Conv2DTranspose(2, 1, strides=2).compute_output_shape((1, 5, 5, 1)) == (1, 10, 10, 2)
    config = layer.get_config()
    assert config["output_padding"] is None and config["strides"] == [2, 2]
    assert Conv2DTranspose.from_config(config).get_config() == config


@pytest.mark.parametrize("bad, kwargs", [("output_padding", dict(strides=2, output_padding=2)),
                                         ("filters", dict(filters=0)), ("padding", dict(padding="full"))])
def test_bad_arguments_name_the_argument(bad, kwargs):
    args = dict(filters=2, kernel_size=3)
    args.update(kwargs)
    with pytest.raises((ValueError, TypeError), match=bad):
        Conv2DTranspose(**args)


def test_decoder_trains_and_round_trips(tmp_path):
    foveal.utils.set_random_seed(4)
    nn = foveal.nn
    x = RNG.standard_normal((32, 8, 8, 2), dtype=np.float32)
    target = np.repeat(np.repeat(x[..., :1], 2, axis=1), 2, axis=2)   # learn a 2x upsampling
    model = nn.Sequential([nn.Input((8, 8, 2)), Conv2DTranspose(1, 2, strides=2)])
    model.compile(optimizer=nn.optimizers.Adam(0.05), loss="mse")
    first = model.evaluate(x, target, verbose=0)
    model.fit(x, target, epochs=40, batch_size=8, verbose=0)
    assert model.evaluate(x, target, verbose=0) < 0.1 * first
    path = str(tmp_path / "deconv.foveal")
    model.save(path)
    np.testing.assert_array_equal(nn.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
