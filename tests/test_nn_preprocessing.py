"""Keras 3 preprocessing layers in foveal.nn: parity with keras.layers (recorded fixtures; live
when Keras is installed), training-only randomness, seeding, fusion, arguments, fit and saving."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import foveal
import foveal.nn as nn
from foveal.nn.layers import _augment_chain

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "fixtures"))
import make_keras_preprocessing_fixtures as M  # noqa: E402

X = M.inputs()
IMG = X["images"]

# Float32 tolerances against Keras: resizing and warps compute the same formulas in float32
# with a different operation order (values up to 255: a few ulp).
ATOL = 1e-3


@pytest.fixture(scope="module")
def ref():
    return dict(np.load(M.FIXTURE))


def _foveal_outputs(names):
    """foveal's result for every recorded deterministic case in ``names``."""
    out = {}
    data = X["norm_data"]
    for interp in ("bilinear", "nearest", "bicubic"):
        out[f"resize_{interp}"] = nn.Resizing(8, 6, interpolation=interp)(IMG)
        out[f"resize_up_{interp}"] = nn.Resizing(20, 30, interpolation=interp)(IMG)
    out["resize_crop_aspect"] = nn.Resizing(8, 8, crop_to_aspect_ratio=True)(IMG)
    out["resize_u8"] = nn.Resizing(8, 6)(X["images_u8"])
    out["center_small"] = nn.CenterCrop(8, 6)(IMG)
    out["center_odd"] = nn.CenterCrop(10, 13)(IMG)
    out["center_large"] = nn.CenterCrop(16, 12)(IMG)
    out["norm_given"] = nn.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.25, 9.0])(data)
    out["norm_invert"] = nn.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.25, 9.0],
                                          invert=True)(data)
    for name, axis in (("norm_adapt", -1), ("norm_axis_none", None), ("norm_axis_23", (2, 3))):
        layer = nn.Normalization(axis=axis)
        layer.adapt(data)
        out[name] = layer(data)
    return {k: v for k, v in out.items() if k in names}


def _random_case(name, cls, kwargs, arrays):
    """foveal's layer run in training on the parameters Keras drew for case ``name``."""
    layer = getattr(nn, cls)(**kwargs)
    ps = [arrays[f"rand_{name}_p{i}"] for i in range(2) if f"rand_{name}_p{i}" in arrays]
    params = tuple(int(v) for v in ps[0]) if cls == "RandomCrop" else (ps[0] if len(ps) == 1 else tuple(ps))
    layer._draw = lambda n, h, w: params
    src = X["unit"] if name == "brightness_range" else IMG
    return layer(src, training=True)


DETERMINISTIC = [
    "resize_bilinear", "resize_nearest", "resize_bicubic", "resize_up_bilinear", "resize_up_nearest",
    "resize_up_bicubic", "resize_crop_aspect", "center_small", "center_odd", "center_large",
    "norm_given", "norm_invert", "norm_adapt", "norm_axis_none", "norm_axis_23"]


@pytest.mark.parametrize("name", DETERMINISTIC)
def test_deterministic_layers_match_keras(ref, name):
    y = _foveal_outputs({name})[name]
    assert y.dtype == np.float32 and y.shape == ref[name].shape
    np.testing.assert_allclose(y, ref[name], rtol=1e-5, atol=ATOL)


def test_resizing_uint8_stays_uint8(ref):
    y = nn.Resizing(8, 6)(X["images_u8"])
    assert y.dtype == np.uint8
    # Keras's torch backend resizes uint8 with its own fixed-point kernel: off by at most 1.
    assert np.abs(y.astype(int) - ref["resize_u8"].astype(int)).max() <= 1
    exact = np.clip(np.rint(nn.Resizing(8, 6)(X["images_u8"].astype(np.float32))), 0, 255)
    np.testing.assert_array_equal(y, exact)


@pytest.mark.parametrize("case", M.RANDOM_CASES, ids=[c[0] for c in M.RANDOM_CASES])
def test_random_layer_transform_matches_keras(ref, case):
    name, cls, kwargs = case
    y = _random_case(name, cls, kwargs, ref)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, ref[f"rand_{name}"], rtol=1e-5, atol=ATOL)


def test_live_parity_with_keras():
    pytest.importorskip("torch", reason="live Keras parity runs on the torch backend")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras", reason="keras is not installed")
    live = M.record()
    mine = _foveal_outputs(set(DETERMINISTIC))
    for n in DETERMINISTIC:
        np.testing.assert_allclose(mine[n], live[n], rtol=1e-5, atol=ATOL, err_msg=n)
    for name, cls, kwargs in M.RANDOM_CASES:
        np.testing.assert_allclose(_random_case(name, cls, kwargs, live), live[f"rand_{name}"],
                                   rtol=1e-5, atol=ATOL, err_msg=name)


# ---- training only, ranges, seeding --------------------------------------------------------

def _all_random(seed=None):
    return [nn.RandomFlip(seed=seed), nn.RandomRotation(0.2, seed=seed),
            nn.RandomZoom(0.3, seed=seed), nn.RandomTranslation(0.2, 0.2, seed=seed),
            nn.RandomBrightness(0.3, seed=seed), nn.RandomContrast(0.4, seed=seed)]


@pytest.mark.parametrize("layer", _all_random(1), ids=lambda l: type(l).__name__)
def test_random_layers_are_identity_at_inference(layer):
    u8 = X["images_u8"]
    for y in (layer(IMG), layer(IMG, training=False), layer(IMG, training=None)):
        np.testing.assert_array_equal(y, IMG)
    y = layer(u8)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, u8.astype(np.float32))
    assert not np.array_equal(layer(IMG, training=True), IMG)


def test_random_layers_identity_in_predict_and_evaluate():
    model = nn.Sequential([nn.Input((13, 17, 3))] + _all_random(3) + [nn.Flatten(), nn.Dense(2)])
    plain = nn.Sequential([nn.Input((13, 17, 3)), nn.Flatten(), nn.Dense(2)])
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(IMG, verbose=0), plain.predict(IMG, verbose=0))
    model.compile("sgd", "mse")
    plain.compile("sgd", "mse")
    y = np.zeros((3, 2), np.float32)
    assert model.evaluate(IMG, y, verbose=0) == plain.evaluate(IMG, y, verbose=0)


def test_ranges_of_drawn_parameters():
    n = 2000
    rot = nn.RandomRotation((-0.1, 0.25), seed=0)
    a = rot._draw(n, 8, 8)
    assert a.min() >= -36.0 and a.max() <= 90.0 and a.min() < -30 and a.max() > 80
    zx, zy = nn.RandomZoom(0.3, seed=0)._draw(n, 8, 8)
    assert np.array_equal(zx, zy) and zy.min() >= 0.7 and zy.max() <= 1.3
    zx, zy = nn.RandomZoom((-0.2, 0.1), (0.3, 0.5), seed=0)._draw(n, 8, 8)
    assert 0.8 <= zy.min() and zy.max() <= 1.1 and 1.3 <= zx.min() and zx.max() <= 1.5
    dx, dy = nn.RandomTranslation(0.25, (-0.5, 0.0), seed=0)._draw(n, 20, 40)
    assert np.abs(dy).max() <= 5.0 and dx.min() >= -20.0 and dx.max() <= 0.0
    d = nn.RandomBrightness((-0.1, 0.3), value_range=(0, 2), seed=0)._draw(n, 8, 8)
    assert d.min() >= -0.2 and d.max() <= 0.6
    f = nn.RandomContrast(0.4, seed=0)._draw(n, 8, 8)   # Keras 3.15.1: (0, f) -> [1, 1 + f]
    assert f.min() >= 1.0 and f.max() <= 1.4
    flips = nn.RandomFlip(seed=0)._draw(n, 8, 8)
    assert 0.45 < flips.mean() < 0.55


def test_brightness_and_contrast_clip_to_value_range():
    y = nn.RandomBrightness((0.9, 1.0), seed=0)(IMG, training=True)
    assert y.max() == 255.0 and y.min() >= 0.9 * 255 - 1e-3
    y = nn.RandomContrast((0.9, 1.0), value_range=(10, 200), seed=0)(IMG, training=True)
    assert y.min() >= 10 and y.max() <= 200


def test_rotation_angle_bounds_the_warp():
    # factor 0 rotates by nothing: output equals input (the map is the identity).
    np.testing.assert_array_equal(nn.RandomRotation(0.0, seed=0)(IMG, training=True), IMG)
    np.testing.assert_array_equal(nn.RandomZoom(0.0, seed=0)(IMG, training=True), IMG)
    np.testing.assert_array_equal(nn.RandomTranslation(0.0, 0.0)(IMG, training=True), IMG)


def test_seeded_layers_reproduce_and_global_seed_works():
    a = [l(IMG, training=True) for l in _all_random(7)]
    b = [l(IMG, training=True) for l in _all_random(7)]
    for u, v in zip(a, b):
        np.testing.assert_array_equal(u, v)
    foveal.utils.set_random_seed(11)
    c = [l(IMG, training=True) for l in _all_random()]
    foveal.utils.set_random_seed(11)
    d = [l(IMG, training=True) for l in _all_random()]
    for u, v in zip(c, d):
        np.testing.assert_array_equal(u, v)
    layer = nn.RandomRotation(0.3, seed=5)
    assert not np.array_equal(layer(IMG, training=True), layer(IMG, training=True))


def test_numpy_global_state_untouched():
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    for layer in _all_random() + [nn.RandomCrop(5, 5)]:
        layer(IMG, training=True)
    model = nn.Sequential([nn.Input((13, 17, 3))] + _all_random())
    model(IMG, training=True)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


def test_input_is_not_modified_and_uint8_accepted():
    x = IMG.copy()
    for layer in _all_random(2) + [nn.RandomCrop(5, 6, seed=2)]:
        layer(x, training=True)
    np.testing.assert_array_equal(x, IMG)
    u8 = X["images_u8"]
    for layer_f, layer_u in zip(_all_random(4), _all_random(4)):
        np.testing.assert_allclose(layer_u(u8, training=True),
                                   layer_f(u8.astype(np.float32), training=True), atol=1e-4)
    one = nn.RandomRotation(0.2, seed=1)(IMG[0], training=True)
    np.testing.assert_array_equal(one, nn.RandomRotation(0.2, seed=1)(IMG[:1], training=True)[0])


# ---- fusion ------------------------------------------------------------------------------

def _stack(seed, fill="reflect"):
    return [nn.RandomFlip(seed=seed), nn.RandomRotation(0.05, fill_mode=fill, seed=seed + 1),
            nn.RandomZoom((-0.2, -0.1), fill_mode=fill, seed=seed + 2),
            nn.RandomTranslation(0.05, 0.05, fill_mode=fill, seed=seed + 3),
            nn.RandomBrightness(0.1, seed=seed + 4)]


def test_fused_chain_equals_the_layers_one_by_one():
    yy, xx = np.mgrid[0:48, 0:64].astype(np.float32)
    smooth = np.stack([100 + 60 * np.sin(xx / 9 + k) * np.cos(yy / 11 - k) for k in range(3)], -1)
    x = np.broadcast_to(smooth, (4, 48, 64, 3)).copy()
    fused = _augment_chain.run_chain(_stack(10), x)
    y = x
    for layer in _stack(10):
        y = layer(y, training=True)
    # Borders are filled once (fused) or at every stage: compare where no stage samples outside
    # the image, found by running a ones image through the same draws with constant fill 0.
    mask = _augment_chain.run_chain(_stack(10, "constant")[:4], np.ones_like(x))
    seq = np.ones_like(x)
    for layer in _stack(10, "constant")[:4]:
        seq = layer(seq, training=True)
    inside = (mask == 1.0) & (seq == 1.0)
    assert inside.mean() > 0.5
    # Bilinear resampling once instead of three times: a smooth image agrees within ~1 %.
    assert np.abs(fused - y)[inside].max() < 2.5
    assert np.abs(fused - y)[inside].mean() < 0.3


def test_model_fuses_consecutive_random_layers_and_trains():
    foveal.utils.set_random_seed(0)
    model = nn.Sequential([nn.Input((13, 17, 3))] + _stack(20) + [
        nn.Rescaling(1 / 255.0), nn.Conv2D(4, 3, activation="relu"), nn.GlobalAveragePooling2D(),
        nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit(np.concatenate([IMG] * 4), np.array([0, 1, 0] * 4), epochs=2, batch_size=4,
                     verbose=0)
    assert len(hist.history["loss"]) == 2 and np.all(np.isfinite(hist.history["loss"]))
    steps = model._graph._train_fused[1]
    chain = steps[0][0]
    assert isinstance(chain, _augment_chain._Chain) and len(chain.layers) == 5
    # In a model, the chain draws what the layers one by one would.
    seeded = nn.Sequential([nn.Input((13, 17, 3))] + _stack(30))
    y = seeded(IMG, training=True)
    np.testing.assert_array_equal(y, _augment_chain.run_chain(_stack(30), IMG))


def test_functional_model_with_preprocessing_saves_and_loads(tmp_path):
    inp = nn.Input((13, 17, 3))
    t = nn.RandomFlip("horizontal", seed=1)(inp)
    t = nn.RandomRotation(0.1, fill_mode="constant", fill_value=3.0, seed=2)(t)
    t = nn.RandomCrop(10, 12, seed=3)(t)
    t = nn.Resizing(8, 8, interpolation="nearest")(t)
    t = nn.CenterCrop(6, 6)(t)
    norm = nn.Normalization()
    t = norm(t)
    t = nn.Flatten()(t)
    out = nn.Dense(2, activation="softmax")(t)
    model = nn.Model(inp, out)
    norm.adapt(np.random.default_rng(0).normal(5, 3, (20, 6, 6, 3)))
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.fit(IMG, np.array([0, 1, 1]), epochs=1, verbose=0)
    path = str(tmp_path / "m.keras")
    model.save(path)
    again = nn.load_model(path)
    np.testing.assert_allclose(again.predict(IMG, verbose=0), model.predict(IMG, verbose=0),
                               rtol=1e-6)
    names = [type(layer).__name__ for layer in again.layers]
    assert names[1:7] == ["RandomFlip", "RandomRotation", "RandomCrop", "Resizing", "CenterCrop",
                          "Normalization"]
    rot = again.layers[2]
    assert (rot.factor, rot.fill_mode, rot.fill_value, rot.seed) == ((-0.1, 0.1), "constant", 3.0, 2)


@pytest.mark.parametrize("layer", _all_random(1) + [
    nn.Resizing(4, 5, "bicubic", True), nn.CenterCrop(3, 4), nn.RandomCrop(3, 4, seed=2),
    nn.Normalization(axis=None, mean=2.0, variance=3.0, invert=True)], ids=lambda l: type(l).__name__)
def test_config_round_trip(layer):
    again = type(layer).from_config(layer.get_config())
    assert again.get_config() == layer.get_config()
    np.testing.assert_array_equal(again(IMG), layer(IMG))


# ---- Normalization and RandomCrop details ----------------------------------------------------

def test_normalization_adapt_batches_equals_array_in_float64():
    data = X["norm_data"]
    a, b = nn.Normalization(), nn.Normalization()
    a.adapt(data)
    b.adapt([data[:7], data[7:25], data[25:]])
    d64 = data.astype(np.float64)
    np.testing.assert_allclose(a.adapt_mean.value, d64.mean(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(a.adapt_variance.value, d64.var(axis=(0, 1, 2)), rtol=1e-6)
    np.testing.assert_allclose(b.adapt_mean.value, a.adapt_mean.value, rtol=1e-6)
    np.testing.assert_allclose(b.adapt_variance.value, a.adapt_variance.value, rtol=1e-6)
    assert float(b.count.value.ravel()[0]) == data.shape[0] * 5 * 4
    assert [w.name for w in a.weights] == ["mean", "variance", "count"]
    assert a.trainable_weights == []


def test_normalization_gradient_is_linear():
    layer = nn.Normalization(mean=[1.0, 2.0, 3.0], variance=[4.0, 0.25, 9.0])
    layer(IMG)
    dy = np.ones_like(IMG)
    np.testing.assert_allclose(layer.backward(dy)[0, 0, 0], [0.5, 2.0, 1 / 3], rtol=1e-6)


def test_random_crop_window_and_inference():
    layer = nn.RandomCrop(7, 9, seed=0)
    tops = set()
    for _ in range(50):
        top, left = layer._draw(1, 13, 17)
        assert 0 <= top <= 6 and 0 <= left <= 8
        tops.add(top)
    assert len(tops) > 3
    y = nn.RandomCrop(7, 9, seed=4)(IMG, training=True)
    assert y.shape == (3, 7, 9, 3)
    found = [(t, l) for t in range(7) for l in range(9) if np.array_equal(IMG[:, t:t + 7, l:l + 9], y)]
    assert len(found) == 1
    # Inference: the largest centred window with the target's aspect ratio, resized.
    np.testing.assert_allclose(nn.RandomCrop(7, 9)(IMG), nn.Resizing(7, 9, crop_to_aspect_ratio=True)(IMG),
                               atol=1e-5)


# ---- arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("make, arg", [
    (lambda: nn.RandomRotation(1.5), "factor"),
    (lambda: nn.RandomRotation((0.1, 0.2, 0.3)), "factor"),
    (lambda: nn.RandomRotation("big"), "factor"),
    (lambda: nn.RandomRotation(0.1, fill_mode="mirror"), "fill_mode"),
    (lambda: nn.RandomRotation(0.1, interpolation="bicubic"), "interpolation"),
    (lambda: nn.RandomRotation(0.1, fill_value=float("nan")), "fill_value"),
    (lambda: nn.RandomZoom(-1.0), "height_factor"),
    (lambda: nn.RandomZoom(0.2, (0.1, 1.5)), "width_factor"),
    (lambda: nn.RandomTranslation(0.1, 2.0), "width_factor"),
    (lambda: nn.RandomFlip("diagonal"), "mode"),
    (lambda: nn.RandomBrightness(1.2), "factor"),
    (lambda: nn.RandomBrightness(0.1, value_range=3), "value_range"),
    (lambda: nn.RandomContrast(-0.1), "factor"),
    (lambda: nn.Resizing(0, 4), "height"),
    (lambda: nn.Resizing(4, 4, interpolation="area"), "interpolation"),
    (lambda: nn.CenterCrop(4, -1), "width"),
    (lambda: nn.RandomCrop(4, 4, seed=-1), "seed"),
    (lambda: nn.Normalization(mean=1.0), "mean"),
    (lambda: nn.Normalization(mean=[1.0, 2.0], variance=[1.0]), "mean"),
    (lambda: nn.RandomFlip(data_format="channels_first"), "data_format"),
])
def test_bad_arguments_name_the_argument(make, arg):
    with pytest.raises(ValueError, match=arg):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="N x H x W x C"):
        nn.RandomFlip()(np.zeros((4, 4)), training=True)
    with pytest.raises(ValueError, match="rank 4"):
        nn.Sequential([nn.Input((8,)), nn.RandomRotation(0.1)])
    layer = nn.Normalization()
    with pytest.raises(ValueError, match="no data"):
        layer.adapt([])
    layer = nn.RandomRotation(0.1)
    layer(IMG, training=True)
    with pytest.raises(NotImplementedError, match="before the first layer that learns"):
        layer.backward(np.ones_like(IMG))
