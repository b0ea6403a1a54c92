"""The vector bilinear warp rows (borders in vector lanes, intensity fused into the store) and the
uint8 -> float32 augmentation path, on every ISA.

Each is held to a reference it must equal bit for bit: the scalar ISA's result (the same float
operations in the same order), the float32 path on the uint8 values as floats followed by the
NumPy intensity change it replaces, and OpenCV within the warp's uint8 tolerance (1 level).
"""
import cv2
import numpy as np
import pytest

import foveal.image as fi
from foveal import _core

pytestmark = pytest.mark.usefixtures("one_native_thread")

BORDERS = ["constant", "replicate", "reflect", "reflect101", "wrap"]
CV_BORDER = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
             "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
             "wrap": cv2.BORDER_WRAP}
# (height, width) sweep: 1-pixel axes, widths around the 16-lane blocks, a 224 square
SHAPES = [(1, 1), (1, 7), (5, 1), (3, 16), (9, 17), (13, 31), (16, 33), (24, 47), (224, 224)]


def _matrices(rng, h, w, n):
    """n seeded source -> destination maps: rotations, zooms (in and far out), shifts beyond
    the image, so that lanes fall inside, on the edges and more than an image size outside."""
    out = []
    for _ in range(n):
        a = np.deg2rad(rng.uniform(-180, 180))
        z = rng.choice([rng.uniform(0.3, 0.7), rng.uniform(0.8, 1.25), rng.uniform(1.5, 3.0)])
        c, s = np.cos(a) * z, np.sin(a) * z
        tx, ty = rng.uniform(-1.5, 1.5) * w, rng.uniform(-1.5, 1.5) * h
        out.append([[c, -s * rng.uniform(0.8, 1.2), tx], [s, c, ty]])
    return np.array(out, np.float64)


def _with_isa(isa_name, fn):
    previous = _core.get_isa()
    _core.set_isa(isa_name)
    try:
        return fn()
    finally:
        _core.set_isa(previous)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_u8_bilinear_warp_is_identical_on_every_isa(isa, channels, border):
    rng = np.random.default_rng(channels * 10 + BORDERS.index(border))
    for h, w in SHAPES:
        x = rng.integers(0, 256, (1, h, w, channels), dtype=np.uint8)
        for m in _matrices(rng, h, w, 4):
            out_hw = (h + int(rng.integers(0, 5)), w + int(rng.integers(0, 20)))
            got = fi.warp_affine(x, m, out_hw, "bilinear", border, 9)
            want = _with_isa("scalar", lambda: fi.warp_affine(x, m, out_hw, "bilinear", border, 9))
            np.testing.assert_array_equal(got, want, err_msg=f"{isa} {(h, w)} {m.tolist()}")


@pytest.mark.parametrize("channels", [3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_u8_bilinear_warp_fixed_point_is_within_half_a_level(isa, channels, border):
    """uint8 pixels of 3 or 4 channels with a whole-number constant warp in fixed point (Q14
    weights of the four taps, one integer sum): within 0.5 + 4 * 255 / 32768 of the float path on
    the same values as float32, and the same bytes on every ISA (the test above). (A constant
    that is not a whole number keeps the float path.)"""
    rng = np.random.default_rng(300 + channels * 10 + BORDERS.index(border))
    for h, w in SHAPES + [(120, 250)]:
        x = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        for m in _matrices(rng, h, w, 3):
            out_hw = (h + int(rng.integers(0, 5)), w + int(rng.integers(0, 20)))
            got = fi.warp_affine(x, m, out_hw, "bilinear", border, 9)
            exact = fi.warp_affine(x.astype(np.float32), m, out_hw, "bilinear", border, 9)
            err = np.abs(got - exact).max()
            assert err <= 0.5 + 4 * 255 / 32768, f"{isa} {(h, w)} {m.tolist()}: {err}"


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_f32_bilinear_warp_is_identical_on_every_isa(isa, channels, border):
    """float32 pixels (non-integer, negative, large), plain and with a brightness factor fused
    (augment_batch): every ISA gives the scalar path's bits, interior blocks included."""
    rng = np.random.default_rng(100 + channels * 10 + BORDERS.index(border))
    for h, w in SHAPES:
        x = (rng.standard_normal((2, h, w, channels)) * 300).astype(np.float32)
        mats = _matrices(rng, h, w, 2)
        scale = rng.uniform(0.7, 1.3, 2).astype(np.float32)
        for m in mats:
            out_hw = (h + int(rng.integers(0, 5)), w + int(rng.integers(0, 20)))
            got = fi.warp_affine(x[0], m, out_hw, "bilinear", border, 9.5)
            want = _with_isa("scalar", lambda: fi.warp_affine(x[0], m, out_hw, "bilinear", border, 9.5))
            np.testing.assert_array_equal(got, want, err_msg=f"{isa} {(h, w)} {m.tolist()}")
        got = _core.image.augment_batch(x, mats, "bilinear", border, 9.5, None, scale)
        want = _with_isa("scalar", lambda: _core.image.augment_batch(x, mats, "bilinear", border, 9.5, None, scale))
        np.testing.assert_array_equal(got, want, err_msg=f"{isa} augment {(h, w)}")


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_u8_bilinear_warp_matches_opencv(isa, channels, border):
    rng = np.random.default_rng(100 + channels)
    for h, w in SHAPES[2:]:
        x = rng.integers(0, 256, (h, w, channels), dtype=np.uint8)
        for m in _matrices(rng, h, w, 3):
            inv = cv2.invertAffineTransform(m)
            corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64) @ inv.T
            if border != "constant" and (np.abs(corners[:, 0]).max() > 1.4 * w
                                         or np.abs(corners[:, 1]).max() > 1.4 * h):
                continue   # OpenCV's far reflections are slow and not its common path
            got = fi.warp_affine(x, m, (h, w), "bilinear", border, 9)
            want = cv2.warpAffine(x, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=CV_BORDER[border],
                                  borderValue=(9, 9, 9, 9)).reshape(got.shape)
            err = np.abs(got.astype(int) - want.astype(int)).max()
            assert err <= 1, f"{isa} {border} {(h, w, channels)} {m.tolist()}: max error {err}"


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("interpolation", ["bilinear", "nearest"])
def test_augment_uint8_equals_float_path_then_brightness(isa, channels, border, interpolation):
    """uint8 in, float32 out, add and clip fused: the float32 path on the same values as floats,
    then x += add and np.clip(x, lo, hi), bit for bit."""
    rng = np.random.default_rng(7 + channels)
    for h, w in SHAPES[1:]:
        n = 3
        x = rng.integers(0, 256, (n, h, w, channels), dtype=np.uint8)
        mats = _matrices(rng, h, w, n)
        mats[0] = [[1, 0, 0], [0, 1, 0]]                       # the identity map too
        add = rng.uniform(-60, 60, n).astype(np.float32)
        for clip in ((0.0, 255.0), (10.0, 200.5)):
            got = _core.image.augment_batch(x, mats, interpolation, border, 4.0, None, None, add, clip)
            ref = _core.image.augment_batch(x.astype(np.float32), mats, interpolation, border, 4.0, None, None)
            ref += add[:, None, None, None]
            np.clip(ref, clip[0], clip[1], out=ref)
            assert got.dtype == np.float32 and got.shape == x.shape
            np.testing.assert_array_equal(got, ref, err_msg=f"{isa} {(h, w)} clip {clip}")
        plain = _core.image.augment_batch(x, mats, interpolation, border, 4.0, None, None)
        np.testing.assert_array_equal(
            plain, _core.image.augment_batch(x.astype(np.float32), mats, interpolation, border, 4.0, None, None))


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_augment_float_scale_fused_equals_scale_after(isa, channels, border):
    """A brightness factor fused into the float32 warp's store: the warp then x *= scale."""
    rng = np.random.default_rng(31 + channels)
    for h, w in SHAPES[1:]:
        n = 3
        x = rng.normal(100, 60, (n, h, w, channels)).astype(np.float32)
        mats = _matrices(rng, h, w, n)
        scale = rng.uniform(0.7, 1.3, n).astype(np.float32)
        got = _core.image.augment_batch(x, mats, "bilinear", border, 2.5, None, scale)
        ref = _core.image.augment_batch(x, mats, "bilinear", border, 2.5, None, None) * scale[:, None, None, None]
        np.testing.assert_array_equal(got, ref, err_msg=f"{isa} {(h, w)}")
        scalar = _with_isa("scalar", lambda: _core.image.augment_batch(x, mats, "bilinear", border, 2.5, None, scale))
        np.testing.assert_array_equal(got, scalar, err_msg=f"{isa} vs scalar {(h, w)}")


def test_augment_batch_add_clip_arguments():
    x = np.zeros((2, 4, 5, 3), np.uint8)
    eye = np.repeat(np.eye(2, 3)[None], 2, 0)
    with pytest.raises(ValueError, match="add"):
        _core.image.augment_batch(x, eye, "bilinear", "constant", 0.0, None, None, np.zeros(3, np.float32), None)
    with pytest.raises(ValueError, match="clip"):
        _core.image.augment_batch(x, eye, "bilinear", "constant", 0.0, None, None, None, (5.0, 1.0))
    with pytest.raises(ValueError, match="uint8"):
        _core.image.augment_batch(x.astype(np.float32), eye, "bilinear", "constant", 0.0, None, None,
                                  np.zeros(2, np.float32), None)
    with pytest.raises(ValueError, match="float32"):
        _core.image.augment_batch(x, eye, "bilinear", "constant", 0.0, None, np.ones(2, np.float32))
    out = _core.image.augment_batch(x + 3, eye, "bilinear", "constant", 0.0, None, None,
                                    np.full(2, 1.5, np.float32), (0.0, 4.0))
    np.testing.assert_array_equal(out, np.full(x.shape, 4.0, np.float32))


def test_preprocessing_model_takes_uint8_as_floats():
    """A model starting with random layers gives the same floats for a uint8 batch (warped
    straight from uint8, brightness fused) as for the same batch as float32."""
    import foveal.nn as nn
    rng = np.random.default_rng(5)
    x = rng.integers(0, 256, (4, 40, 36, 3), dtype=np.uint8)

    def model():
        return nn.Sequential([nn.Input((40, 36, 3)), nn.RandomFlip("horizontal", seed=1),
                              nn.RandomRotation(0.1, seed=2), nn.RandomZoom(0.2, seed=3),
                              nn.RandomBrightness(0.3, seed=4)])
    a = model()(x, training=True)
    b = model()(x.astype(np.float32), training=True)
    assert a.dtype == np.float32
    np.testing.assert_array_equal(a, b)
    assert a.min() >= 0 and a.max() <= 255


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("threads", [1, 3])
def test_augment_batch_index_reads_the_batch_in_place(isa, channels, threads):
    """augment_batch(x, ..., index=i) equals augment_batch(x[i], ...) (repeats, any order, with
    the brightness factor), on every ISA, over whole images per task and bands of rows."""
    import foveal
    rng = np.random.default_rng(channels)
    x = (rng.standard_normal((9, 23, 31, channels)) * 50).astype(np.float32)
    previous = foveal.get_num_threads()
    foveal.set_num_threads(threads)
    try:
        for index in ([4], [8, 0, 8, 3], list(rng.integers(0, 9, 7))):
            index = np.asarray(index, np.int64)
            mats = _matrices(rng, 23, 31, len(index))
            scale = rng.uniform(0.7, 1.3, len(index)).astype(np.float32)
            for border in ("constant", "replicate"):
                got = _core.image.augment_batch(x, mats, "bilinear", border, 2.0, None, scale, index=index)
                want = _core.image.augment_batch(np.ascontiguousarray(x[index]), mats, "bilinear", border, 2.0,
                                                 None, scale)
                np.testing.assert_array_equal(got, want)
    finally:
        foveal.set_num_threads(previous)


def test_augment_batch_index_arguments():
    x = np.zeros((3, 4, 5, 3), np.float32)
    mats = np.tile(np.array([[1, 0, 0], [0, 1, 0]], np.float64), (2, 1, 1))
    ok = _core.image.augment_batch(x, mats, "bilinear", "constant", 0.0, None, None, index=np.array([2, 2]))
    assert ok.shape == (2, 4, 5, 3)
    for bad, err, match in ((np.array([0, 3]), ValueError, r"\[0, 3\)"), (np.array([-1, 0]), ValueError, "index"),
                            (np.array([0, 1], np.int32), TypeError, "int64"), ([0, 1], TypeError, "int64"),
                            (np.array([[0, 1]]), ValueError, "1-D"), (np.array([0]), ValueError, "matrices")):
        with pytest.raises(err, match=match):
            _core.image.augment_batch(x, mats, "bilinear", "constant", 0.0, None, None, index=bad)
    with pytest.raises(ValueError, match="float32"):
        _core.image.augment_batch(x.astype(np.uint8), mats, "bilinear", "constant", 0.0, None, None,
                                  index=np.array([0, 1]))
