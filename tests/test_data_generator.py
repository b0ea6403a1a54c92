"""foveal.data.ImageDataGenerator: Keras parity (recorded fixture, plus a live check where Keras
is installed), the geometry pixel by pixel, the random-parameter distributions, argument
validation, and NumpyArrayIterator (``flow``)."""
import math
import os
import warnings

import numpy as np
import pytest

from fixtures import make_keras_data_fixtures as mkf
from foveal.data import ImageDataGenerator, NumpyArrayIterator
from foveal.data._augment import affine_matrix, apply_batch

META, ARR = mkf.load()


def source_coords(params, h, w):
    """Where each output pixel samples the input: (x, y) arrays from the inverse of the map."""
    inv = np.linalg.inv(np.vstack([affine_matrix(params, h, w), [0.0, 0.0, 1.0]]))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    return inv[0, 0] * xx + inv[0, 1] * yy + inv[0, 2], inv[1, 0] * xx + inv[1, 1] * yy + inv[1, 2]


def marked(h=9, w=9, r=2, c=3):
    x = np.zeros((h, w, 1), np.float32)
    x[r, c] = 1.0
    return x


def where(img):
    return [tuple(p) for p in np.argwhere(img[..., 0] > 0.5).tolist()]


# ---------------------------------------------------------------------------------------------
# Keras parity, recorded


def _transform_cases():
    for shape_name, key in (("sq", "transforms"), ("rect", "non_square_transforms")):
        for fill in mkf.FILL_MODES:
            for order in (1, 0):
                for k, params in enumerate(META[key]):
                    shifted = "channel_shift_intensity" in params and len(params) > 1
                    if fill in ("constant", "wrap") and shifted:
                        continue  # the shift clips to the warped range, border pixels included
                    yield pytest.param(shape_name, fill, order, k, params,
                                       id=f"{shape_name}-{fill}-order{order}-{k}")


@pytest.mark.parametrize("shape_name,fill,order,k,params", list(_transform_cases()))
def test_apply_transform_matches_keras(shape_name, fill, order, k, params):
    img = ARR[f"tf_{shape_name}__input"]
    ref = ARR[f"tf_{shape_name}__{fill}_{order}_{k}"]
    gen = ImageDataGenerator(fill_mode=fill, cval=mkf.CVAL, interpolation_order=order)
    out = gen.apply_transform(img, params)
    assert out.shape == ref.shape and out.dtype == np.float32
    h, w = img.shape[:2]
    sx, sy = source_coords(params, h, w)
    eps = 1e-6
    inside = (sx > -eps) & (sx < w - 1 + eps) & (sy > -eps) & (sy < h - 1 + eps)
    compare = np.ones((h, w), bool)
    if fill == "constant":
        # Less than a pixel outside, OpenCV blends the edge with cval; SciPy gives cval.
        compare = inside | (sx < -1) | (sx > w) | (sy < -1) | (sy > h)
    elif fill == "wrap":  # SciPy's "wrap" has period n - 1, ours n (documented)
        compare = inside
    if order == 0:  # exact .5 ties: we round half to even (OpenCV), SciPy does not
        frac = np.stack([np.abs(sx % 1 - 0.5), np.abs(sy % 1 - 0.5)]).min(axis=0)
        compare &= frac > 1e-6
    tol = 1.0 if "brightness" in params else 1e-3  # Keras truncates through uint8
    np.testing.assert_allclose(out[compare], ref[compare], atol=tol, rtol=0)


def test_fit_statistics_match_keras():
    x = mkf.fit_data()
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                             rescale=1 / 255)
    gen.fit(x)
    assert gen.mean.shape == (1, 1, 3) and gen.std.shape == (1, 1, 3)
    np.testing.assert_allclose(gen.mean, ARR["fit__mean"], rtol=1e-6)
    np.testing.assert_allclose(gen.std, ARR["fit__std"], rtol=1e-6)
    np.testing.assert_allclose(gen.standardize(x[0].copy()), ARR["fit__standardized"], rtol=1e-5, atol=1e-6)
    center = ImageDataGenerator(featurewise_center=True)
    center.fit(x)
    np.testing.assert_allclose(center.mean, ARR["fit_center__mean"], rtol=1e-6)
    assert center.std is None
    x_before = x.copy()
    center.fit(x)
    np.testing.assert_array_equal(x, x_before)  # fit never changes its input


def test_samplewise_standardize_matches_keras():
    gen = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True, rescale=0.5)
    img = mkf.fit_data()[1].copy()
    out = gen.standardize(img)
    np.testing.assert_allclose(out, ARR["std_samplewise"], rtol=1e-5, atol=1e-5)
    assert out is img  # a float array is normalized in place, as Keras


def test_apply_transform_matches_live_keras():
    """Random parameter dicts from foveal, applied by Keras 3 and by foveal (square images)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("scipy", reason="Keras's transforms need SciPy")
    legacy = pytest.importorskip("keras.src.legacy.preprocessing.image",
                                 reason="live comparison with Keras 3's legacy ImageDataGenerator")
    rng = np.random.default_rng(3)
    img = rng.integers(0, 256, (16, 16, 3)).astype(np.float32)
    ours = ImageDataGenerator(rotation_range=40, width_shift_range=0.2, height_shift_range=3.5,
                              shear_range=15, zoom_range=0.3, horizontal_flip=True,
                              vertical_flip=True, fill_mode="reflect")
    keras_gen = legacy.ImageDataGenerator(fill_mode="reflect")
    for _ in range(20):
        params = ours.get_random_transform(img.shape, rng)
        kp = dict(params, tx=params["ty"], ty=params["tx"])  # Keras 3's swapped axes
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # Keras's scipy import path
            ref = keras_gen.apply_transform(img.copy(), kp)
        np.testing.assert_allclose(ours.apply_transform(img, params), ref, atol=2e-3)


# ---------------------------------------------------------------------------------------------
# Geometry, pixel by pixel (Keras's signs; tx = rows, ty = columns)


def apply(params, img, fill="constant", cval=0.0, order=1):
    return apply_batch(img[None], [params], fill, cval, order)[0]


def test_shift_directions():
    x = marked(r=4, c=4)
    assert where(apply({"tx": 2}, x)) == [(2, 4)]     # positive tx: content 2 rows up
    assert where(apply({"tx": -2}, x)) == [(6, 4)]    # negative tx: 2 rows down
    assert where(apply({"ty": 2}, x)) == [(4, 2)]     # positive ty: 2 columns left
    assert where(apply({"ty": -3}, x)) == [(4, 7)]
    x = marked(7, 12, 3, 5)                           # non-square: same rule
    assert where(apply({"tx": 1, "ty": -4}, x)) == [(2, 9)]


def test_rotation_is_counter_clockwise_about_the_centre():
    assert where(apply({"theta": 90}, marked(9, 9, 0, 4))) == [(4, 0)]   # top -> left
    assert where(apply({"theta": -90}, marked(9, 9, 0, 4))) == [(4, 8)]  # top -> right
    assert where(apply({"theta": 180}, marked(9, 9, 1, 2))) == [(7, 6)]
    assert where(apply({"theta": 90}, marked(7, 11, 3, 5))) == [(3, 5)]  # centre stays (h != w)
    assert where(apply({"theta": 90}, marked(7, 11, 1, 5))) == [(3, 3)]


def test_zoom_is_about_the_centre():
    # zx < 1 magnifies horizontally: a pixel 1 column right of the centre moves to 2 columns.
    assert where(apply({"zx": 0.5}, marked(9, 9, 4, 5))) == [(4, 6)]
    assert where(apply({"zy": 0.5}, marked(9, 9, 3, 4))) == [(2, 4)]
    out = apply({"zx": 2.0, "zy": 2.0}, marked(9, 9, 4, 4))           # zoom out: centre stays
    assert out[4, 4, 0] == pytest.approx(1.0)
    assert where(apply({"zx": 2.0, "zy": 2.0}, marked(9, 9, 2, 6))) == [(3, 5)]


def test_shear_moves_columns_by_row():
    # Keras 3: x_src = x - sin(shear) * (y - cy); row 2 above the centre shifts right.
    s = math.degrees(math.asin(0.5))
    assert where(apply({"shear": s}, marked(9, 9, 4, 4), order=0)) == [(4, 4)]
    out = apply({"shear": s}, marked(9, 9, 2, 4), order=0)
    sx, sy = source_coords({"shear": s}, 9, 9)
    assert out[..., 0][np.isclose(sx, 4) & np.isclose(sy, 2)].all()


def test_flips():
    x = marked(5, 7, 1, 2)
    assert where(apply({"flip_horizontal": True}, x)) == [(1, 4)]
    assert where(apply({"flip_vertical": True}, x)) == [(3, 2)]
    assert where(apply({"flip_vertical": True, "flip_horizontal": True}, x)) == [(3, 4)]
    # Flips come after the warp, as Keras: shift left by 1, then mirror.
    assert where(apply({"ty": 1, "flip_horizontal": True}, x)) == [(1, 5)]


@pytest.mark.parametrize("fill,rows", [
    ("nearest", [0, 0, 0, 1]), ("constant", [-1, -1, 0, 1]), ("reflect", [1, 0, 0, 1]),
    ("wrap", [4, 5, 0, 1]),
])
def test_fill_modes(fill, rows):
    img = np.repeat(np.arange(6, dtype=np.float32)[:, None, None], 4, axis=1) * 10 + 5
    out = apply({"tx": -2}, img, fill=fill, cval=-5.0)  # content moves 2 rows down
    expect = [-5.0 if r < 0 else r * 10 + 5 for r in rows]
    np.testing.assert_array_equal(out[:4, 0, 0], expect)


def test_identity_and_many_channels():
    x = np.random.default_rng(0).normal(size=(3, 5, 6, 7)).astype(np.float32)
    np.testing.assert_array_equal(apply_batch(x, [{}] * 3, "nearest", 0.0), x)
    out = apply_batch(x, [{"flip_horizontal": True}, {"ty": 1.0}, {}], "nearest", 0.0)
    np.testing.assert_array_equal(out[0], x[0, :, ::-1])
    np.testing.assert_array_equal(out[1][:, :-1], x[1][:, 1:])
    np.testing.assert_array_equal(out[2], x[2])


@pytest.mark.parametrize("n,h,w,c", [(1, 17, 23, 3), (2, 8, 9, 1), (7, 31, 16, 4), (3, 12, 12, 6)])
@pytest.mark.parametrize("fill", ["nearest", "constant", "reflect", "wrap"])
@pytest.mark.parametrize("order", [0, 1])
def test_native_batch_equals_warp_affine_per_image(isa, n, h, w, c, fill, order):
    """The batched native kernel (images in parallel, or row bands for few images) gives what
    foveal.image.warp_affine gives image by image, then Keras's channel shift and brightness."""
    from foveal import image
    from foveal.data._augment import FILL_MODES

    rng = np.random.default_rng(n * h + c)
    x = rng.normal(size=(n, h, w, c)).astype(np.float32)
    params = [dict(theta=rng.uniform(-30, 30), tx=rng.uniform(-3, 3), ty=rng.uniform(-3, 3),
                   shear=rng.uniform(-10, 10), zx=rng.uniform(0.8, 1.2), zy=rng.uniform(0.8, 1.2),
                   flip_horizontal=bool(i % 2), flip_vertical=i == 2,
                   channel_shift_intensity=float(rng.uniform(-0.5, 0.5)) if i % 3 else 0.0,
                   brightness=float(rng.uniform(0.7, 1.3)) if i != 1 else None) for i in range(n)]
    params[0] = {}                                           # the identity: a plain copy
    got = apply_batch(x, params, fill, 0.5, order)
    for i, p in enumerate(params):
        m = affine_matrix(p, h, w)
        want = np.concatenate([image.warp_affine(np.ascontiguousarray(x[i, ..., c0:c0 + 4]), m, None,
                                                 "nearest" if order == 0 else "bilinear",
                                                 FILL_MODES[fill], 0.5) for c0 in range(0, c, 4)], -1)
        shift = np.float32(p.get("channel_shift_intensity") or 0.0)
        if shift:
            want = np.clip(want + shift, want.min(), want.max())
        if p.get("brightness") is not None:
            want = want * np.float32(p["brightness"])
        np.testing.assert_array_equal(got[i], want)


def test_native_batch_rejects_bad_input():
    from foveal import _core

    x = np.zeros((2, 4, 4, 3), np.float32)
    eye = np.tile(np.eye(2, 3), (2, 1, 1))
    with pytest.raises(ValueError, match="matrices must have shape"):
        _core.image.augment_batch(x, eye[:1], "bilinear", "constant", 0.0, None, None)
    with pytest.raises(ValueError, match="matrices must be finite"):
        _core.image.augment_batch(x, eye * np.nan, "bilinear", "constant", 0.0, None, None)
    with pytest.raises(ValueError, match="scale must have shape"):
        _core.image.augment_batch(x, eye, "bilinear", "constant", 0.0, None, np.ones(3, np.float32))
    with pytest.raises(ValueError, match="interpolation"):
        _core.image.augment_batch(x, eye, "bicubic", "constant", 0.0, None, None)
    with pytest.raises(ValueError, match="1 to 4 channels"):
        _core.image.augment_batch(np.zeros((2, 4, 4, 5), np.float32), eye, "bilinear", "wrap", 0.0,
                                  None, None)


def test_channel_shift_and_brightness():
    img = np.array([[[10, 50, 90]], [[20, 60, 100]]], np.float32)  # 2 x 1 x 3
    out = apply({"channel_shift_intensity": 30.0}, img)
    np.testing.assert_array_equal(out, np.clip(img + 30, 10, 100))  # the image's own range
    out = apply({"brightness": 1.5}, img / 255 - 0.2)                # any float range, no clip
    np.testing.assert_allclose(out, (img / 255 - 0.2) * 1.5, rtol=1e-6)


def test_affine_matrix_composes_one_opencv_map():
    m = affine_matrix({"theta": 30, "tx": 1.5, "ty": -2, "zx": 1.2, "flip_vertical": True}, 8, 10)
    assert m.shape == (2, 3) and m.dtype == np.float64
    assert np.allclose(affine_matrix({}, 8, 10), [[1, 0, 0], [0, 1, 0]])
    with pytest.raises(ValueError, match="singular"):
        affine_matrix({"zx": 0.0}, 8, 10)
    with pytest.raises(TypeError, match="theta"):
        affine_matrix({"theta": "a lot"}, 8, 10)


# ---------------------------------------------------------------------------------------------
# Random parameters


def test_random_transform_distributions():
    gen = ImageDataGenerator(rotation_range=30, width_shift_range=0.1, height_shift_range=3,
                             shear_range=5, zoom_range=0.2, channel_shift_range=10,
                             brightness_range=(0.5, 1.5), horizontal_flip=True)
    rng = np.random.default_rng(0)
    ps = [gen.get_random_transform((20, 40, 3), rng) for _ in range(400)]
    assert set(ps[0]) == {"theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal",
                          "flip_vertical", "channel_shift_intensity", "brightness"}
    col = lambda k: np.array([p[k] for p in ps], dtype=float)  # noqa: E731
    assert np.all(np.abs(col("theta")) <= 30) and col("theta").std() > 10
    assert np.all(np.abs(col("ty")) <= 0.1 * 40) and col("ty").std() > 1  # fraction of the width
    assert set(col("tx")) == {-2.0, -1.0, 0.0, 1.0, 2.0}                   # int: choice(3) * +-1
    assert np.all((col("zx") >= 0.8) & (col("zx") <= 1.2)) and not np.array_equal(col("zx"), col("zy"))
    assert np.all(np.abs(col("shear")) <= 5)
    assert np.all(np.abs(col("channel_shift_intensity")) <= 10)
    assert np.all((col("brightness") >= 0.5) & (col("brightness") <= 1.5))
    assert 100 < col("flip_horizontal").sum() < 300 and col("flip_vertical").sum() == 0


def test_shift_range_forms():
    rng = np.random.default_rng(1)
    gen = ImageDataGenerator(width_shift_range=[0.25, 0.5], height_shift_range=4.0)
    ps = [gen.get_random_transform((10, 8, 1), rng) for _ in range(200)]
    assert {p["ty"] for p in ps} == {-4.0, -2.0, 2.0, 4.0}     # fractions of width 8
    assert all(abs(p["tx"]) <= 4.0 for p in ps) and len({p["tx"] for p in ps}) > 100  # pixels
    plain = ImageDataGenerator().get_random_transform((10, 8, 1), rng)
    assert plain == {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
                     "flip_horizontal": False, "flip_vertical": False,
                     "channel_shift_intensity": None, "brightness": None}


def test_seeds_and_no_global_state():
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, horizontal_flip=True)
    a = gen.get_random_transform((8, 8, 3), seed=5)
    assert gen.get_random_transform((8, 8, 3), seed=5) == a
    assert gen.get_random_transform((8, 8, 3), seed=6) != a
    img = np.random.default_rng(0).uniform(size=(8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(gen.random_transform(img, seed=5), gen.apply_transform(img, a))
    g = np.random.default_rng(9)
    assert gen.get_random_transform((8, 8, 3), g) != gen.get_random_transform((8, 8, 3), g)
    import foveal.utils
    foveal.utils.set_random_seed(3)
    b = gen.get_random_transform((8, 8, 3))
    foveal.utils.set_random_seed(3)
    assert gen.get_random_transform((8, 8, 3)) == b
    state = np.random.get_state()[1].copy()  # never drawn from below
    gen.fit(np.ones((2, 8, 8, 3)), augment=True, rounds=2, seed=1)
    gen.flow(np.ones((4, 8, 8, 3)), batch_size=2)[1]
    np.testing.assert_array_equal(np.random.get_state()[1], state)


# ---------------------------------------------------------------------------------------------
# Arguments


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"rotation_range": -1}, ValueError, "rotation_range"),
    ({"rotation_range": "10"}, TypeError, "rotation_range"),
    ({"width_shift_range": -0.1}, ValueError, "width_shift_range"),
    ({"height_shift_range": [[1, 2]]}, ValueError, "height_shift_range"),
    ({"height_shift_range": "a"}, TypeError, "height_shift_range"),
    ({"brightness_range": 0.5}, ValueError, "brightness_range"),
    ({"brightness_range": (0.5, float("nan"))}, ValueError, "brightness_range"),
    ({"shear_range": -3}, ValueError, "shear_range"),
    ({"zoom_range": (0.5, 1, 2)}, ValueError, "zoom_range"),
    ({"zoom_range": "big"}, ValueError, "zoom_range"),
    ({"zoom_range": (-0.5, 1.0)}, ValueError, "zoom_range"),
    ({"channel_shift_range": -1}, ValueError, "channel_shift_range"),
    ({"fill_mode": "mirror"}, ValueError, "fill_mode"),
    ({"cval": None}, TypeError, "cval"),
    ({"horizontal_flip": 1}, TypeError, "horizontal_flip"),
    ({"vertical_flip": "yes"}, TypeError, "vertical_flip"),
    ({"featurewise_center": None}, TypeError, "featurewise_center"),
    ({"rescale": "1/255"}, TypeError, "rescale"),
    ({"preprocessing_function": 3}, TypeError, "preprocessing_function"),
    ({"validation_split": 1.5}, ValueError, "validation_split"),
    ({"validation_split": -0.2}, ValueError, "validation_split"),
    ({"dtype": "int32"}, ValueError, "dtype"),
    ({"dtype": "no-such-type"}, TypeError, "dtype"),
    ({"interpolation_order": 3}, ValueError, "interpolation_order"),
    ({"data_format": "channels_first"}, ValueError, "data_format"),
])
def test_bad_arguments(kwargs, exc, name):
    with pytest.raises(exc, match=name):
        ImageDataGenerator(**kwargs)


def test_bad_method_arguments():
    gen = ImageDataGenerator(featurewise_center=True, validation_split=0.5)
    with pytest.raises(ValueError, match="x"):
        gen.fit(np.zeros((4, 4, 3)))
    with pytest.raises(ValueError, match="rounds"):
        gen.fit(np.zeros((2, 4, 4, 3)), augment=True, rounds=0)
    with pytest.raises(ValueError, match="x"):
        gen.apply_transform(np.zeros((2, 4, 4, 3)), {})
    with pytest.raises(TypeError, match="transform_parameters"):
        gen.apply_transform(np.zeros((4, 4, 3)), [("theta", 3)])
    with pytest.raises(ValueError, match="img_shape"):
        gen.get_random_transform(5)
    with pytest.raises(ValueError, match="seed"):
        gen.get_random_transform((4, 4, 3), seed=-1)
    with pytest.raises(NotImplementedError, match="zca"):
        ImageDataGenerator(zca_whitening=True)
    x, y = np.zeros((8, 4, 4, 3)), np.arange(8) % 2
    with pytest.raises(ValueError, match="rank 4"):
        gen.flow(x[0], y)
    with pytest.raises(ValueError, match="same length"):
        gen.flow(x, y[:5])
    with pytest.raises(ValueError, match="sample_weight"):
        gen.flow(x, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="batch_size"):
        gen.flow(x, y, batch_size=0)
    with pytest.raises(TypeError, match="shuffle"):
        gen.flow(x, y, shuffle="no")
    with pytest.raises(ValueError, match="subset"):
        gen.flow(x, y, subset="test")
    with pytest.raises(ValueError, match="validation_split"):
        ImageDataGenerator().flow(x, y, subset="training")
    with pytest.raises(ValueError, match="different sets of classes"):
        gen.flow(x, np.repeat([0, 1], 4), subset="training")
    with pytest.raises(TypeError, match="x"):
        gen.flow(np.array([["a"]]))


def test_warnings_as_keras():
    with pytest.warns(UserWarning, match="overrides setting of `featurewise_center`"):
        gen = ImageDataGenerator(featurewise_std_normalization=True)
    assert gen.featurewise_center
    with pytest.warns(UserWarning, match="overrides setting of `samplewise_center`"):
        assert ImageDataGenerator(samplewise_std_normalization=True).samplewise_center
    with pytest.warns(UserWarning, match="hasn't been fit"):
        gen.standardize(np.ones((4, 4, 3), np.float32))
    with pytest.warns(UserWarning, match="channels"):
        ImageDataGenerator().flow(np.zeros((2, 4, 4, 5)))


def test_standardize_order_and_preprocessing_function():
    calls = []

    def pre(img):
        calls.append(img.shape)
        return img + 1.0

    gen = ImageDataGenerator(preprocessing_function=pre, rescale=0.5, samplewise_center=True)
    out = gen.standardize(np.full((2, 2, 1), 3, dtype=np.int64))  # converted, then (3 + 1) * 0.5
    assert out.dtype == np.float32 and np.all(out == 0) and calls == [(2, 2, 1)]
    it = gen.flow(np.arange(12, dtype=np.float32).reshape(3, 2, 2, 1), batch_size=3, shuffle=False)
    calls.clear()
    batch = it[0]
    assert calls == [(2, 2, 1)] * 3  # one call per image, as Keras's iterators
    np.testing.assert_allclose(batch.mean(axis=(1, 2, 3)), 0, atol=1e-6)  # per-image centering
    bad = ImageDataGenerator(preprocessing_function=lambda img: img[:1])
    with pytest.raises(ValueError, match="preprocessing_function"):
        bad.flow(np.zeros((2, 4, 4, 1)))[0]


# ---------------------------------------------------------------------------------------------
# flow / NumpyArrayIterator


def test_flow_batches_and_labels():
    x = np.arange(10 * 4 * 4 * 3, dtype=np.uint8).reshape(10, 4, 4, 3)
    y = np.arange(10) % 3
    it = ImageDataGenerator(rescale=1 / 255).flow(x, y, batch_size=4, shuffle=False)
    assert isinstance(it, NumpyArrayIterator)
    assert len(it) == 3 and it.n == it.samples == 10 and it.batch_size == 4
    assert it.image_shape == (4, 4, 3) and it.skipped == [] and it.filenames is None
    xb, yb = it[2]
    assert xb.shape == (2, 4, 4, 3) and xb.dtype == np.float32 and yb.dtype == y.dtype
    np.testing.assert_allclose(xb, x[8:] / 255, rtol=1e-6)
    np.testing.assert_array_equal(yb, y[8:])
    np.testing.assert_array_equal(it[-1][1], y[8:])
    with pytest.raises(IndexError):
        it[3]
    with pytest.raises(ValueError):  # Keras raises ValueError for an index past the end
        it[3]
    only_x = ImageDataGenerator().flow(x, batch_size=5, shuffle=False)[1]
    assert isinstance(only_x, np.ndarray) and only_x.shape == (5, 4, 4, 3)
    weighted = ImageDataGenerator().flow(x, y, sample_weight=np.arange(10.0), batch_size=5, shuffle=False)
    xs, ys, ws = weighted[1]
    np.testing.assert_array_equal(ws, np.arange(5.0, 10.0))
    assert ImageDataGenerator(dtype="float64").flow(x, y)[0][0].dtype == np.float64


def test_flow_epochs_seeds_and_next():
    x = np.arange(10, dtype=np.float32).reshape(10, 1, 1, 1) * np.ones((1, 3, 3, 1), np.float32)
    y = np.arange(10)
    gen = ImageDataGenerator(rotation_range=45, horizontal_flip=True)
    a, b = gen.flow(x, y, batch_size=4, seed=7), gen.flow(x, y, batch_size=4, seed=7)
    for i in (2, 0, 1):  # any order: a batch depends on (seed, epoch, index) only
        np.testing.assert_array_equal(a[i][0], b[i][0])
        np.testing.assert_array_equal(a[i][1], b[i][1])
    c = gen.flow(x, y, batch_size=4, seed=8)
    assert not np.array_equal(np.concatenate([a[i][1] for i in range(3)]),
                              np.concatenate([c[i][1] for i in range(3)]))
    epoch0 = np.concatenate([a[i][1] for i in range(3)])
    assert sorted(epoch0) == list(range(10))
    a.on_epoch_end()
    epoch1 = np.concatenate([a[i][1] for i in range(3)])
    assert sorted(epoch1) == list(range(10)) and not np.array_equal(epoch0, epoch1)
    # next() runs forever, an epoch per len(it) batches, reshuffling each time.
    it = gen.flow(x, y, batch_size=4, seed=1)
    seen = [next(it)[1] for _ in range(9)]
    assert [len(s) for s in seen] == [4, 4, 2] * 3
    epochs = [np.concatenate(seen[k:k + 3]) for k in (0, 3, 6)]
    assert all(sorted(e) == list(range(10)) for e in epochs)
    assert not np.array_equal(epochs[0], epochs[1])
    next(it)
    it.reset()
    assert it.batch_index == 0
    unshuffled = ImageDataGenerator().flow(x, y, batch_size=4, shuffle=False)
    np.testing.assert_array_equal(next(unshuffled)[1], [0, 1, 2, 3])


def test_flow_subsets():
    x = np.random.default_rng(0).uniform(0, 1, (10, 6, 6, 1)).astype(np.float32)
    y = np.arange(10) % 2
    gen = ImageDataGenerator(validation_split=0.3, rotation_range=90, rescale=2.0)
    val = gen.flow(x, y, batch_size=10, shuffle=False, subset="validation")
    train = gen.flow(x, y, batch_size=10, shuffle=False, subset="training", seed=0)
    assert val.n == 3 and train.n == 7
    np.testing.assert_array_equal(val[0][1], y[:3])
    np.testing.assert_array_equal(train[0][1], y[3:])
    np.testing.assert_allclose(val[0][0], x[:3] * 2.0, rtol=1e-6)   # standardized, not augmented
    assert not np.allclose(train[0][0], x[3:] * 2.0)                  # augmented


def test_fit_with_augmentation():
    x = np.random.default_rng(0).uniform(0, 1, (6, 8, 8, 3)).astype(np.float32)
    gen = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True,
                             rotation_range=30, fill_mode="constant", cval=0.0)
    gen.fit(x, augment=True, rounds=3, seed=0)
    first = gen.mean.copy()
    gen.fit(x, augment=True, rounds=3, seed=0)
    np.testing.assert_array_equal(gen.mean, first)
    assert np.all(gen.mean < x.mean(axis=(0, 1, 2)))  # rotated-in corners are 0
    batch = gen.flow(x, batch_size=6, seed=0)[0]
    assert batch.shape == x.shape and np.isfinite(batch).all()


def test_prefetched_batch_follows_generator_changes():
    x = np.arange(8, dtype=np.float32).reshape(8, 1, 1, 1) * np.ones((1, 2, 2, 1), np.float32)
    gen = ImageDataGenerator(featurewise_center=True)
    it = gen.flow(x, batch_size=2, shuffle=False)
    with pytest.warns(UserWarning, match="hasn't been fit"):
        first = it[0]                     # batch 1 is now being built in the background
    np.testing.assert_array_equal(first, x[:2])
    gen.fit(x)                            # ... with the old statistics: it must be rebuilt
    np.testing.assert_allclose(it[1], x[2:4] - 3.5)
    gen.rescale = 2.0
    np.testing.assert_allclose(it[2], x[4:6] * 2 - 3.5)


@pytest.mark.parametrize("augment", [True, False])
def test_transform_batch_with_an_index_is_the_gathered_batch(augment):
    """_transform_batch(x, index=i) is _transform_batch(x[i]) with the same draws: warped in
    place when it augments, gathered when it does not (a generator with nothing random)."""
    rng = np.random.default_rng(2)
    x = (rng.random((9, 10, 12, 3)) * 255).astype(np.float32)
    idx = np.array([4, 0, 4, 8, 2], np.int64)
    gen = ImageDataGenerator(rotation_range=30, zoom_range=0.2, featurewise_center=False,
                             rescale=1 / 255.0) if augment else ImageDataGenerator(rescale=1 / 255.0)
    got = gen._transform_batch(x, np.random.default_rng(7), augment, index=idx)
    want = gen._transform_batch(x[idx], np.random.default_rng(7), augment)
    assert got.shape == (5, 10, 12, 3)
    np.testing.assert_array_equal(got, want)
    if not augment:
        np.testing.assert_allclose(got, x[idx] / 255.0, rtol=1e-6)


@pytest.mark.parametrize("channels", [1, 3, 5])
def test_flow_warps_float32_arrays_in_place_with_the_same_batches(channels, monkeypatch):
    """flow() over a C-contiguous float32 array warps each batch straight from the array (no
    gathered copy); the batches, labels and augmentations equal those of the gathered path
    (forced here by a non-contiguous view of the same values), and validation batches stay
    unwarped copies."""
    rng = np.random.default_rng(channels)
    x = (rng.random((11, 13, 15, channels)) * 255).astype(np.float32)
    y = np.arange(11) % 2
    strided = np.zeros((11, 13, 15, channels + 1), np.float32)[..., :channels]
    strided[...] = x
    assert not strided.flags.c_contiguous
    settings = dict(rotation_range=25, zoom_range=0.2, horizontal_flip=True, brightness_range=(0.8, 1.2),
                    channel_shift_range=10.0 if channels == 5 else 0.0, validation_split=0.3)

    def batches(arr, subset):
        it = ImageDataGenerator(**settings).flow(arr, y, batch_size=4, seed=5, subset=subset, shuffle=True)
        return it, [it[i] for i in range(len(it))]
    for subset in ("training", "validation"):
        it, fast = batches(x, subset)
        assert it._warps_in_place() == (subset == "training" and channels <= 4)
        _, slow = batches(strided, subset)
        assert len(fast) == len(slow) >= (2 if subset == "training" else 1)
        for (xf, yf), (xs, ys) in zip(fast, slow):
            np.testing.assert_array_equal(xf, xs)
            np.testing.assert_array_equal(yf, ys)
        if subset == "validation":  # no augmentation: the first 30 % of the images themselves
            got = np.concatenate([b[0] for b in fast])
            assert sorted(map(bytes, got)) == sorted(map(bytes, x[:len(got)]))
