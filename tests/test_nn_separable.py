"""SeparableConv2D (Keras 3): a depthwise convolution then a 1x1 convolution with the bias and
the activation, against the float64 references of both, its gradients against finite
differences, Keras's weights and config, and training in a model."""
import numpy as np
import pytest

import foveal
from check import check_layer_gradients
from foveal.nn.layers import SeparableConv2D

import reference

RNG = np.random.default_rng(11)


def ref_forward(x, dk, pk, b, strides, padding, dilation, activation):
    t = reference.depthwise_conv2d(x.astype(np.float64), dk.astype(np.float64), None, strides, padding, dilation)
    return reference.conv2d(t, pk.astype(np.float64), None if b is None else b.astype(np.float64), 1, "valid",
                            1, 1, activation)


CASES = [
    dict(filters=5, kernel_size=3, strides=1, padding="same", dilation_rate=1, depth_multiplier=1),
    dict(filters=7, kernel_size=(3, 2), strides=2, padding="valid", dilation_rate=1, depth_multiplier=2),
    dict(filters=4, kernel_size=3, strides=1, padding="same", dilation_rate=2, depth_multiplier=3, use_bias=False),
]


@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
@pytest.mark.parametrize("activation", [None, "relu", "gelu"])
def test_forward_matches_reference(isa, case, activation):
    layer = SeparableConv2D(**case, activation=activation)
    x = RNG.standard_normal((2, 11, 10, 6), dtype=np.float32)
    y = layer(x)
    dk, pk = layer.depthwise_kernel.value, layer.pointwise_kernel.value
    b = layer.bias.value if layer.use_bias else None
    ref = ref_forward(x, dk, pk, b, case["strides"], case["padding"], case["dilation_rate"], activation)
    assert y.shape == ref.shape == layer.compute_output_shape(x.shape)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * max(1.0, float(np.abs(ref).max())))


@pytest.mark.parametrize("case", CASES[:2], ids=["same", "strided"])
def test_gradients_match_finite_differences(case):
    layer = SeparableConv2D(**case, activation="tanh")
    x = RNG.standard_normal((2, 7, 6, 3), dtype=np.float32)
    check_layer_gradients(layer, x, RNG, ("depthwise_kernel", "pointwise_kernel", "bias"))


def test_keras_weights_and_config():
    layer = SeparableConv2D(8, 3, depth_multiplier=2, padding="same", activation="relu6")
    layer.build((None, 16, 16, 5))
    assert [w.name.split("/")[-1] for w in layer.weights] == ["depthwise_kernel", "pointwise_kernel", "bias"]
    assert [w.shape for w in layer.weights] == [(3, 3, 5, 2), (1, 1, 10, 8), (8,)]
    assert layer.count_params() == 3 * 3 * 5 * 2 + 10 * 8 + 8
    config = layer.get_config()
    assert config["depth_multiplier"] == 2 and config["activation"] == "relu6" and config["filters"] == 8
    again = SeparableConv2D.from_config(config)
    assert again.get_config() == config


@pytest.mark.parametrize("bad, kwargs", [("filters", dict(filters=0, kernel_size=3)),
                                         ("depth_multiplier", dict(filters=2, kernel_size=3, depth_multiplier=0)),
                                         ("padding", dict(filters=2, kernel_size=3, padding="full"))])
def test_bad_arguments_name_the_argument(bad, kwargs):
    with pytest.raises((ValueError, TypeError), match=bad):
        SeparableConv2D(**kwargs)


def test_trains_and_round_trips(tmp_path):
    foveal.utils.set_random_seed(3)
    x = RNG.standard_normal((64, 12, 12, 3), dtype=np.float32)
    y = (x[:, :, :, 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    nn = foveal.nn
    model = nn.Sequential([nn.Input((12, 12, 3)), SeparableConv2D(8, 3, padding="same"),
                           nn.GlobalAveragePooling2D(), nn.Dense(2, activation="softmax")])
    model.compile(optimizer=nn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy")
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=30, batch_size=16, verbose=0)
    assert model.evaluate(x, y, verbose=0) < 0.8 * first
    path = str(tmp_path / "sep.foveal")
    model.save(path)
    np.testing.assert_array_equal(nn.load_model(path).predict(x, verbose=0), model.predict(x, verbose=0))
