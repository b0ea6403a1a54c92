"""A convolution that hands its output's batch statistics to the BatchNormalization after it in
a training step (_core.conv2d_moments, _core.batch_norm_act_from_moments, _fusion.ConvMoments):
the moments against float64 over a sweep of layer shapes (GEMM, Winograd, depthwise and grouped
paths), ISAs and thread counts; the normalization from them equal, bit for bit, to the one that
computes its own statistics; a training step with the fusion equal to the layer-by-layer one;
bad arguments named."""
import zlib

import numpy as np
import pytest

import foveal
import foveal.nn as nn
import foveal.nn.functional as F
from foveal import _core
from foveal.nn import _fusion

from test_nn_fusion import _randomize_bn

# (n, h, w, cin, cout, k, stride, groups): GEMM (1x1, 3x3 strided, a 7x7 stem), Winograd (3x3
# stride 1, >= 8 in / 16 out), depthwise, grouped, tiny
SHAPES = [
    (4, 12, 12, 16, 96, 1, 1, 1),
    (3, 17, 15, 8, 24, 3, 2, 1),
    (2, 30, 28, 3, 16, 7, 2, 1),
    (2, 14, 14, 16, 32, 3, 1, 1),
    (3, 20, 19, 24, 24, 3, 1, 24),
    (2, 16, 16, 32, 32, 3, 2, 32),
    (2, 9, 9, 8, 12, 3, 1, 4),
    (1, 1, 1, 3, 5, 1, 1, 1),
    (5, 40, 33, 8, 136, 1, 1, 1),
]


def _inputs(shape):
    n, h, w, cin, cout, k, s, g = shape
    rng = np.random.default_rng(zlib.crc32(repr(shape).encode()))
    x = (rng.standard_normal((n, h, w, cin)) + 2.0).astype(np.float32)
    kernel = (rng.standard_normal((k, k, cin // g, cout)) * 0.3).astype(np.float32)
    bias = rng.standard_normal(cout).astype(np.float32)
    pads = ((k // 2, k // 2), (k // 2, k // 2))
    return x, kernel, bias, (s, s), pads, g


@pytest.mark.parametrize("shape", SHAPES, ids=[f"s{i}" for i in range(len(SHAPES))])
def test_conv2d_moments_against_float64(isa, shape):
    x, kernel, bias, s, pads, g = _inputs(shape)
    bits = None
    for threads in (1, 2, 3):
        old = foveal.get_num_threads()
        foveal.set_num_threads(threads)
        try:
            y, mean, m2 = _core.conv2d_moments(x, kernel, bias, s, pads, (1, 1), g)
            want_y = _core.conv2d(x, kernel, bias, s, pads, (1, 1), g, "linear")
        finally:
            foveal.set_num_threads(old)
        np.testing.assert_array_equal(y, want_y)
        assert mean.dtype == np.float64 and m2.dtype == np.float64
        y64 = y.reshape(-1, y.shape[-1]).astype(np.float64)
        ref_mean = y64.mean(0)
        ref_m2 = ((y64 - ref_mean) ** 2).sum(0)
        np.testing.assert_allclose(mean, ref_mean, rtol=1e-6, atol=1e-6 * np.abs(ref_mean).max())
        np.testing.assert_allclose(m2, ref_m2, rtol=1e-5, atol=1e-6 * ref_m2.max())
        if bits is None:
            bits = (mean, m2)
        else:   # the same bits whatever the thread count
            np.testing.assert_array_equal(mean, bits[0])
            np.testing.assert_array_equal(m2, bits[1])


@pytest.mark.parametrize("shape", SHAPES, ids=[f"s{i}" for i in range(len(SHAPES))])
@pytest.mark.parametrize("act", ["none", "relu", "relu6"])
def test_normalization_from_moments_equals_its_own_statistics(shape, act):
    x, kernel, bias, s, pads, g = _inputs(shape)
    y, mean, m2 = _core.conv2d_moments(x, kernel, bias, s, pads, (1, 1), g)
    c = y.shape[-1]
    rng = np.random.default_rng(1)
    gamma = rng.standard_normal(c).astype(np.float32)
    beta = rng.standard_normal(c).astype(np.float32)
    got = _core.batch_norm_act_from_moments(y.reshape(-1, c), mean, m2, gamma, beta, 1e-3, act)
    want = _core.batch_norm_act_train(y.reshape(-1, c), gamma, beta, 1e-3, act)
    for a, b in zip(got, want):
        np.testing.assert_array_equal(a, b)


def test_depthwise_moments_functional():
    x, kernel, bias, s, pads, g = _inputs((2, 11, 13, 6, 6, 3, 1, 6))
    dk = kernel.reshape(3, 3, 6, 1)
    y, mean, m2 = F.depthwise_conv2d_moments(x, dk, bias, 1, "same")
    np.testing.assert_array_equal(y, F.depthwise_conv2d(x, dk, bias, 1, "same"))
    np.testing.assert_allclose(mean, y.reshape(-1, 6).mean(0, dtype=np.float64), rtol=1e-6)


def _model():
    inp = nn.Input((12, 12, 3))
    h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(16, 3, strides=2, padding="same",
                                                                 use_bias=False)(inp)))
    h = nn.ReLU()(nn.BatchNormalization()(nn.DepthwiseConv2D(3, padding="same")(h)))
    h = nn.BatchNormalization()(nn.Conv2D(24, 1)(h))          # no activation after it
    h = nn.ReLU()(nn.BatchNormalization()(nn.Conv2D(24, 3, padding="same")(h)))   # Winograd
    side = nn.Conv2D(8, 1)(h)                                  # read by a BN and a pooling: apart
    pooled = [nn.GlobalAveragePooling2D()(nn.BatchNormalization()(side)), nn.GlobalAveragePooling2D()(side)]
    out = nn.Dense(4)(nn.Concatenate()(pooled))
    return nn.Model(inp, out)


def test_training_step_with_moments_equals_layer_by_layer(monkeypatch):
    fused, plain = _model(), _model()
    _randomize_bn(fused)
    plain.set_weights(fused.get_weights())
    for m in (fused, plain):
        m.compile(nn.optimizers.SGD(0.05, momentum=0.9), "mse")
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 12, 12, 3)).astype(np.float32)
    y = rng.normal(size=(5, 4)).astype(np.float32)
    with monkeypatch.context() as mp:
        mp.setattr(_fusion, "with_conv_moments", lambda steps, output_id: list(steps))
        plain.train_on_batch(x, y)
    fused.train_on_batch(x, y)
    steps = fused._graph._train_fused[1]
    chains = [s for s in steps if isinstance(s, _fusion.ConvMoments)]
    assert [type(c.conv).__name__ for c in chains] == ["Conv2D", "DepthwiseConv2D", "Conv2D", "Conv2D"]
    assert [c.activation for c in chains] == ["relu6", "relu", None, "relu"]
    assert not any(isinstance(s, _fusion.ConvMoments) for s in plain._graph._train_fused[1])
    for _ in range(2):
        fused.train_on_batch(x, y)
        plain.train_on_batch(x, y)
    for w, a, b in zip(fused.weights, fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=w.path)


def test_frozen_batch_norm_gets_no_moments():
    model = _model()
    for layer in model.layers:
        if isinstance(layer, nn.BatchNormalization):
            layer.trainable = False
    model.compile(nn.optimizers.SGD(0.01), "mse")
    x = np.zeros((2, 12, 12, 3), np.float32)
    model.train_on_batch(x, np.zeros((2, 4), np.float32))
    assert not any(isinstance(s, _fusion.ConvMoments) for s in model._graph._train_fused[1])


@pytest.mark.parametrize("change, name", [
    (dict(mean=np.zeros(3)), "mean"),
    (dict(m2=np.zeros((4, 1))), "m2"),
    (dict(m2=-np.ones(4)), "m2"),
    (dict(gamma=np.ones(3, np.float32)), "gamma"),
    (dict(epsilon=0.0), "epsilon"),
    (dict(activation="gelu"), "activation"),
    (dict(x=np.zeros((2, 3, 4), np.float32)), "x"),
])
def test_bad_arguments_are_named(change, name):
    args = dict(x=np.zeros((5, 4), np.float32), mean=np.zeros(4), m2=np.ones(4),
                gamma=np.ones(4, np.float32), beta=np.zeros(4, np.float32), epsilon=1e-3,
                activation="relu")
    args.update(change)
    with pytest.raises(ValueError, match=name):
        _core.batch_norm_act_from_moments(**args)
