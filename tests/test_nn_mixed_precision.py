"""Mixed precision (``foveal.nn.mixed_precision``): the bfloat16 rounding, the policies, and the
layers that compute with bfloat16 operands and float32 accumulation.

Each layer is checked against a float64 reference computed from bfloat16-rounded operands
(tight), and against its float32 result (which must differ by about bfloat16's precision, so a
silent float32 fallback is caught).
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import foveal
from foveal import nn
from foveal.nn import mixed_precision as mp

from reference import nn as ref


@pytest.fixture(autouse=True)
def _float32_after():
    yield
    mp.set_global_policy("float32")


def bf16_reference(x):
    """Round-to-nearest-even to bfloat16 in float64 arithmetic (8 significant bits; subnormal
    spacing 2**-133; overflow to infinity), independent of the bit trick under test."""
    x = np.asarray(x, np.float64)
    out = np.array(x, copy=True)
    finite = np.isfinite(x) & (x != 0)
    _, e = np.frexp(x[finite])                    # x = m * 2**e, 0.5 <= |m| < 1
    ulp = np.maximum(np.ldexp(1.0, e - 8), 2.0 ** -133)
    r = np.round(x[finite] / ulp) * ulp           # np.round: half to even
    largest = (2 - 2.0 ** -7) * 2.0 ** 127
    r = np.where(np.abs(r) > largest, np.copysign(np.inf, r), r)
    out[finite] = r
    return out


def test_round_to_bfloat16_matches_the_float64_rule():
    rng = np.random.default_rng(0)
    bits = rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(np.uint32)
    x = bits.view(np.float32)
    x = x[np.isfinite(x)]
    special = np.array([0.0, -0.0, 1.0, 1 + 2**-8, 1 + 3 * 2**-8, -(1 + 2**-8), 3.3895e38, 3.4e38,
                        -3.4e38, 1e-40, 2**-133, 3 * 2**-134, np.finfo(np.float32).tiny], np.float32)
    x = np.concatenate([x, special])
    got = mp.round_to_bfloat16(x)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got.astype(np.float64), bf16_reference(x.astype(np.float64)))
    assert not (got.view(np.uint32) & 0xFFFF).any()


def test_round_to_bfloat16_keeps_nan_and_infinity():
    x = np.array([np.nan, -np.nan, np.inf, -np.inf], np.float32)
    x = np.concatenate([x, np.array([0x7F80_0001, 0x7FFF_FFFF, 0xFFC0_0000], np.uint32).view(np.float32)])
    got = mp.round_to_bfloat16(x)
    assert np.isnan(got[[0, 1, 4, 5, 6]]).all()
    assert got[2] == np.inf and got[3] == -np.inf


@given(st.floats(width=32, allow_nan=False, allow_infinity=False))
def test_round_to_bfloat16_is_nearest(v):
    got = float(mp.round_to_bfloat16(np.float32(v))[()])
    assert got == bf16_reference(np.float64(np.float32(v)))
    # idempotent: a bfloat16 value rounds to itself
    assert float(mp.round_to_bfloat16(np.float32(got))[()]) == got or not np.isfinite(got)


# ---- policies ---------------------------------------------------------------------------
def test_policies_follow_keras_names():
    assert mp.global_policy().name == "float32"
    assert nn.Conv2D(2, 3).dtype_policy.name == "float32"
    mp.set_global_policy("mixed_bfloat16")
    pol = mp.global_policy()
    assert (pol.name, pol.compute_dtype, pol.variable_dtype) == ("mixed_bfloat16", "bfloat16", "float32")
    layer = nn.Dense(3)
    assert (layer.compute_dtype, layer.variable_dtype, layer.dtype) == ("bfloat16", "float32", "float32")
    assert nn.Dense(3, dtype="float32").compute_dtype == "float32"   # dtype= wins over the global
    mp.set_global_policy(mp.DTypePolicy("float32"))
    assert nn.Dense(3, dtype="mixed_bfloat16").compute_dtype == "bfloat16"
    assert nn.Dense(3, dtype=mp.DTypePolicy("mixed_bfloat16")).compute_dtype == "bfloat16"
    serialized = {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "mixed_bfloat16"}}
    assert nn.Dense(3, dtype=serialized).compute_dtype == "bfloat16"
    assert mp.dtype_policy() is mp.global_policy()


@pytest.mark.parametrize("bad, error", [("mixed_float16", ValueError), ("bfloat16", ValueError),
                                        ("float64", ValueError), (3, TypeError)])
def test_bad_policies_are_refused(bad, error):
    with pytest.raises(error, match="policy"):
        mp.set_global_policy(bad)
    with pytest.raises(error, match="dtype"):
        nn.Dense(3, dtype=bad)
    assert mp.global_policy().name == "float32"


def _model(policy=None):
    return nn.Sequential([nn.Input((10, 10, 3)), nn.Conv2D(6, 3, padding="same", activation="relu", dtype=policy),
                          nn.BatchNormalization(dtype=policy), nn.DepthwiseConv2D(3, dtype=policy),
                          nn.SeparableConv2D(5, 3, dtype=policy), nn.Flatten(),
                          nn.Dense(4, activation="softmax", dtype=policy)])


def test_policy_is_saved_and_weights_stay_float32(tmp_path):
    model = _model("mixed_bfloat16")
    x = np.random.default_rng(1).random((3, 10, 10, 3), np.float32)
    y = model.predict(x, verbose=0)
    path = tmp_path / "m.foveal"
    model.save(str(path))
    back = nn.load_model(str(path))
    assert [l.compute_dtype for l in back.layers] == [l.compute_dtype for l in model.layers]
    assert all(w.dtype == np.float32 for w in back.get_weights())
    np.testing.assert_array_equal(back.predict(x, verbose=0), y)
    config = json.dumps(model.get_config())
    assert "mixed_bfloat16" in config


def test_exported_onnx_keeps_float32_weights(tmp_path):
    onnx = pytest.importorskip("onnx")
    model = _model("mixed_bfloat16")
    path = tmp_path / "m.onnx"
    model.export_onnx(str(path))
    for init in onnx.load(str(path)).graph.initializer:
        assert init.data_type == onnx.TensorProto.FLOAT, init.name


# ---- the layers' arithmetic -------------------------------------------------------------
def _rounded(a):
    return bf16_reference(a)


def _scale(a):
    return float(np.abs(a).max()) or 1.0


def _check(got, want, fp32):
    """``got`` (mixed) is within float32 accumulation error of ``want`` (float64 from rounded
    operands) and away from the float32 policy's result by about bfloat16's precision."""
    scale = _scale(want)
    assert np.abs(got - want).max() <= 2e-5 * scale
    assert np.abs(got - fp32).max() > 1e-4 * scale, "looks like a silent float32 computation"


def _data(seed, *shapes):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("strides, padding", [(1, "same"), (2, "valid")])
def test_conv2d_forward_and_backward(isa, strides, padding):
    x, dy_seed = _data(2, (2, 9, 11, 7))[0], 3
    mixed = nn.Conv2D(5, 3, strides=strides, padding=padding, dtype="mixed_bfloat16")
    full = nn.Conv2D(5, 3, strides=strides, padding=padding)
    y = mixed(x, training=True)
    full(x)
    full.set_weights(mixed.get_weights())
    y32 = full(x, training=True)
    k, b = mixed.kernel.value, mixed.bias.value
    _check(y, ref.conv2d(_rounded(x), _rounded(k), b, strides, padding), y32)

    dy = _data(dy_seed, y.shape)[0]
    dx = mixed.backward(dy)
    full.backward(dy)
    rdx, rdk, rdb = ref.conv2d_backward(_rounded(dy), _rounded(x), _rounded(k), strides, padding)
    _check(dx, rdx, full.backward(dy))
    _check(mixed.kernel.grad, rdk, full.kernel.grad)
    np.testing.assert_allclose(mixed.bias.grad, dy.astype(np.float64).sum(axis=(0, 1, 2)), rtol=1e-5, atol=1e-5)


def test_depthwise_forward_and_backward(isa):
    x = _data(4, (2, 10, 10, 6))[0]
    mixed = nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2, dtype="mixed_bfloat16")
    full = nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2)
    y = mixed(x, training=True)
    full(x)
    full.set_weights(mixed.get_weights())
    y32 = full(x, training=True)
    k, b = mixed.kernel.value, mixed.bias.value
    _check(y, ref.depthwise_conv2d(_rounded(x), _rounded(k), b, 1, "same"), y32)
    dy = _data(5, y.shape)[0]
    dx = mixed.backward(dy)
    rdx, rdk, _ = ref.depthwise_conv2d_backward(_rounded(dy), _rounded(x), _rounded(k), 1, "same")
    _check(dx, rdx, full.backward(dy))
    _check(mixed.kernel.grad, rdk, full.kernel.grad)


def test_dense_forward_and_backward(isa):
    x = _data(6, (33, 70))[0]
    mixed = nn.Dense(9, dtype="mixed_bfloat16")
    full = nn.Dense(9)
    y = mixed(x, training=True)
    full(x)
    full.set_weights(mixed.get_weights())
    y32 = full(x, training=True)
    k, b = mixed.kernel.value, mixed.bias.value
    _check(y, ref.dense(_rounded(x), _rounded(k), b), y32)
    dy = _data(7, y.shape)[0]
    dx = mixed.backward(dy)
    rdx, rdk, rdb = ref.dense_backward(_rounded(dy), _rounded(x), _rounded(k))
    _check(dx, rdx, full.backward(dy))
    _check(mixed.kernel.grad, rdk, full.kernel.grad)
    np.testing.assert_allclose(mixed.bias.grad, dy.astype(np.float64).sum(axis=0), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [
    lambda d: nn.SeparableConv2D(4, 3, padding="same", dtype=d),
    lambda d: nn.Conv2DTranspose(4, 3, strides=2, padding="same", dtype=d),
], ids=["separable", "transpose"])
def test_other_convolutions_equal_float32_on_rounded_operands(make):
    """A mixed layer computes exactly what the float32 layer computes on bfloat16-rounded inputs,
    kernels and incoming gradients (the kernels are the same float32 ones)."""
    x = _data(8, (2, 8, 8, 5))[0]
    mixed, full = make("mixed_bfloat16"), make(None)
    y = mixed(x, training=True)
    full(x)
    weights = mixed.get_weights()
    full.set_weights([w if w.ndim == 1 else mp.round_to_bfloat16(w) for w in weights])
    rx = mp.round_to_bfloat16(x)
    y_rounded = full(rx, training=True)
    if isinstance(mixed, nn.SeparableConv2D):
        # the depthwise result is rounded again before the pointwise product: check the pieces
        t = mp.round_to_bfloat16(ref.depthwise_conv2d(rx, full.depthwise_kernel.value, None, 1, "same"))
        want = ref.conv2d(t, full.pointwise_kernel.value, full.bias.value)
        assert np.abs(y - want).max() <= 2e-5 * _scale(want)
        return
    np.testing.assert_array_equal(y, y_rounded)
    dy = _data(9, y.shape)[0]
    dx = mixed.backward(dy)
    np.testing.assert_array_equal(dx, full.backward(mp.round_to_bfloat16(dy)))
    np.testing.assert_array_equal(mixed.kernel.grad, full.kernel.grad)


def test_isas_agree_within_bfloat16_tolerance():
    from foveal import _core
    x = _data(10, (2, 12, 12, 8))[0]
    layer = nn.Conv2D(8, 3, padding="same", dtype="mixed_bfloat16")
    layer(x)
    previous = _core.get_isa()
    outs = []
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            outs.append(layer(x))
    finally:
        _core.set_isa(previous)
    for out in outs[1:]:
        assert np.abs(out - outs[0]).max() <= 2e-5 * _scale(outs[0])


def test_fit_under_mixed_bfloat16_trains():
    mp.set_global_policy("mixed_bfloat16")
    foveal.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 256)
    x = rng.random((256, 12, 12, 1), np.float32) * 0.5
    x[y == 0, 5:7, :, 0] += 1.0   # class 0: a horizontal bar; class 1: a vertical one
    x[y == 1, :, 5:7, 0] += 1.0
    model = nn.Sequential([nn.Input((12, 12, 1)), nn.Conv2D(8, 3, activation="relu"), nn.MaxPooling2D(),
                           nn.Flatten(), nn.Dense(2, activation="softmax")])
    assert all(l.compute_dtype == "bfloat16" for l in model.layers if l.weights)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=8, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0] * 0.7
    assert all(w.dtype == np.float32 for w in model.get_weights())


def _fashion_mnist():
    from foveal.datasets import fashion_mnist
    if fashion_mnist.find() is None:
        pytest.skip("Debian's dataset-fashion-mnist is not installed (apt-get install dataset-fashion-mnist)")
    return fashion_mnist.load_data()


def _recipe_accuracy(policy, data):
    (xtr, ytr), (xte, yte) = data
    mp.set_global_policy(policy)
    foveal.utils.set_random_seed(42)
    model = nn.Sequential([nn.Input((28, 28, 1)), nn.Conv2D(32, 3, activation="relu"), nn.MaxPooling2D(),
                           nn.Conv2D(64, 3, activation="relu"), nn.MaxPooling2D(), nn.Flatten(),
                           nn.Dropout(0.5), nn.Dense(10, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.fit(xtr, ytr, batch_size=128, epochs=2, verbose=0)
    mp.set_global_policy("float32")
    return model.evaluate(xte, yte, verbose=0)[1]


def test_fashion_mnist_recipe_accuracy_matches_float32():
    """Keras's "simple MNIST convnet" on Fashion-MNIST (12,000 training images, two epochs, all
    10,000 test images) under both policies: the accuracies agree within one point."""
    (xtr, ytr), (xte, yte) = _fashion_mnist()
    prep = lambda a: (a.astype(np.float32) / 255.0)[..., None]  # noqa: E731
    data = ((prep(xtr[:12000]), ytr[:12000].astype(np.int64)), (prep(xte), yte.astype(np.int64)))
    acc32 = _recipe_accuracy("float32", data)
    acc16 = _recipe_accuracy("mixed_bfloat16", data)
    assert acc32 > 0.75
    assert abs(acc16 - acc32) <= 0.01, (acc16, acc32)
