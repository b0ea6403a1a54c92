"""foveal.image colour, arithmetic and channel ops against OpenCV 5 (uint8 exact where OpenCV is)."""
import numpy as np
import pytest

import foveal.image as fi
from check import check_op
from inputs import DTYPES, SIZES, img, shape_of

# every test on one native thread (see one_native_thread in conftest.py)
pytestmark = pytest.mark.usefixtures("one_native_thread")

COLOR_SHAPES = [shape_of(s, c) for s in SIZES for c in (3, 4)]
ANY_SHAPES = [shape_of(s, c) for s in SIZES for c in (None, 1, 3, 4)]
ids = str


# ---------------------------------------------------------------------------------- to_gray

@pytest.mark.parametrize("shape", COLOR_SHAPES, ids=ids)
def test_to_gray_uint8_exact(shape):
    check_op("image.to_gray", img(*shape))


def test_to_gray_uint8_every_value():
    # every level of every channel, so the fixed-point rounding of OpenCV is matched everywhere
    v = np.arange(256, dtype=np.uint8)
    x = np.stack(np.meshgrid(v, v, indexing="ij"), -1)                 # 256 x 256 x 2
    for third in (0, 77, 128, 255):
        rgb = np.concatenate([x, np.full((256, 256, 1), third, np.uint8)], -1)
        for perm in ((0, 1, 2), (1, 2, 0), (2, 0, 1)):
            check_op("image.to_gray", np.ascontiguousarray(rgb[..., perm]))


@pytest.mark.parametrize("shape", COLOR_SHAPES, ids=ids)
def test_to_gray_float32(shape):
    check_op("image.to_gray", img(*shape, dtype=np.float32))
    check_op("image.to_gray", img(*shape, dtype=np.float32, lo=-300, hi=300))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(17, 23), (1, 1), (3, 2000), (17, 23, 1), (1, 9, 1)], ids=ids)
def test_to_gray_of_gray_is_unchanged(shape, dtype):
    x = img(*shape, dtype=dtype)
    out = check_op("image.to_gray", x, tol=(0, 0))
    assert out.shape == shape[:2]


# ------------------------------------------------------------------------ to_rgb, to_binary

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 1), (1, 1), (1, 9), (9, 1, 1), (3, 2000)], ids=ids)
def test_to_rgb(shape, dtype):
    check_op("image.to_rgb", img(*shape, dtype=dtype))


@pytest.mark.parametrize("shape", ANY_SHAPES, ids=ids)
def test_to_binary_uint8(shape):
    x = img(*shape)
    check_op("image.to_binary", x)
    for t in (0, 1, 126, 127, 128, 254, 255):
        check_op("image.to_binary", x, threshold=t)
    check_op("image.to_binary", x, 200)


@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 3), (1, 9, 4), (3, 2000, 1)], ids=ids)
def test_to_binary_float32(shape):
    x = img(*shape, dtype=np.float32)
    for t in (0.0, 0.25, 0.5, 0.999):
        check_op("image.to_binary", x, threshold=t)
    x = img(*shape, dtype=np.float32, lo=0, hi=255)
    check_op("image.to_binary", x)


def test_to_binary_ties_are_not_above():
    x = np.array([[126, 127, 128], [0, 255, 127]], np.uint8)
    np.testing.assert_array_equal(fi.to_binary(x), [[0, 0, 1], [0, 1, 0]])
    xf = np.array([[0.5, 0.5000001, 0.4999999]], np.float32)
    np.testing.assert_array_equal(fi.to_binary(xf, threshold=0.5), [[0, 1, 0]])


# -------------------------------------------------------------------------------- threshold

@pytest.mark.parametrize("shape", ANY_SHAPES, ids=ids)
def test_threshold_uint8(shape):
    x = img(*shape)
    for t, m in ((127, 255), (0, 255), (254, 255), (255, 255), (-1, 255), (100, 1), (127.5, 200),
                 (31.2, 200.7)):
        check_op("image.threshold", x, t, m)
    check_op("image.threshold", x, 90)
    check_op("image.threshold", x, thresh=60, maxval=17)


@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 3), (1, 1, 4), (9, 1, 1), (3, 2000)], ids=ids)
def test_threshold_float32(shape):
    x = img(*shape, dtype=np.float32)
    for t, m in ((0.5, 1.0), (0.0, 1.0), (0.25, 255.0), (-1.0, 0.5), (0.75, 2.5)):
        check_op("image.threshold", x, t, m)
    check_op("image.threshold", img(*shape, dtype=np.float32, lo=-100, hi=100), 10.0)


# ------------------------------------------------------------------------- add / subtract

@pytest.mark.parametrize("op", ["add", "subtract"])
@pytest.mark.parametrize("shape", ANY_SHAPES, ids=ids)
def test_add_subtract_uint8_saturating(op, shape):
    check_op(f"image.{op}", img(*shape, seed=1), img(*shape, seed=2))


@pytest.mark.parametrize("op", ["add", "subtract"])
def test_add_subtract_uint8_every_pair(op):
    v = np.arange(256, dtype=np.uint8)
    a, b = np.meshgrid(v, v, indexing="ij")
    check_op(f"image.{op}", a, b)
    check_op(f"image.{op}", a[..., None].repeat(3, -1), b[..., None].repeat(3, -1))


@pytest.mark.parametrize("op", ["add", "subtract"])
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 1), (1, 1, 3), (9, 1, 4), (3, 2000, 3)], ids=ids)
def test_add_subtract_float32(op, shape):
    a = img(*shape, dtype=np.float32, lo=-2, hi=2, seed=1)
    b = img(*shape, dtype=np.float32, lo=-2, hi=2, seed=2)
    out = check_op(f"image.{op}", a, b)
    np.testing.assert_array_equal(out, a + b if op == "add" else a - b)    # plain, not clipped


@pytest.mark.parametrize("op", ["add", "subtract"])
@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_add_subtract_batch(op, dtype):
    check_op(f"image.{op}", img(4, 7, 9, 3, dtype=dtype, seed=1), img(4, 7, 9, 3, dtype=dtype, seed=2))


# ------------------------------------------------------------------------------------ blend

@pytest.mark.parametrize("shape", ANY_SHAPES, ids=ids)
def test_blend_uint8(shape):
    a, b = img(*shape, seed=1), img(*shape, seed=2)
    for alpha in (0.0, 0.25, 0.5, 0.7, 1.0):
        check_op("image.blend", a, b, alpha)
    check_op("image.blend", a, b, 0.3, 0.9, 10.0)           # over-saturating weights
    check_op("image.blend", a, b, alpha=1.5, beta=-0.25, gamma=-20.0)
    check_op("image.blend", a, b, 0.6, gamma=3.5)


@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 1), (1, 1, 3), (9, 1, 4), (3, 2000, 3)], ids=ids)
def test_blend_float32(shape):
    a = img(*shape, dtype=np.float32, seed=1)
    b = img(*shape, dtype=np.float32, seed=2, lo=-50, hi=50)
    check_op("image.blend", a, b, 0.3)
    check_op("image.blend", a, b, 0.3, 2.0, -1.5)
    check_op("image.blend", a, b, alpha=0.5, beta=None, gamma=0.25)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 64, 200, 100003])
def test_uint8_blend_and_threshold_are_the_float32_formula_on_every_isa(isa, n):
    """uint8 blend is (a * alpha + b * beta) + gamma in float32 (the + gamma left out when gamma
    is 0), rounded half to even and saturated; threshold compares in float32. Every ISA gives
    exactly that, in the 4-vector steps (32 bytes on AVX2, widened by in-lane unpacks) and in
    the tail."""
    rng = np.random.default_rng(n)
    a = rng.integers(0, 256, n, dtype=np.uint8).reshape(1, n)
    b = rng.integers(0, 256, n, dtype=np.uint8).reshape(1, n)
    f32 = np.float32
    for alpha, beta, gamma in ((0.3, 0.7, 0.0), (0.5, 0.5, 0.0), (0.6, 0.4, 3.5), (1.5, -0.25, -20.0),
                               (0.3, 0.9, 10.0)):
        v = a.astype(f32) * f32(alpha) + b.astype(f32) * f32(beta)
        if gamma != 0.0:
            v = v + f32(gamma)
        want = np.clip(np.rint(v), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(fi.blend(a, b, alpha, beta, gamma), want)
    for thresh in (0.0, 127.0, 127.5, 254.0):
        np.testing.assert_array_equal(fi.threshold(a, thresh, 200), np.where(a > thresh, 200, 0).astype(np.uint8))


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_blend_batch(dtype):
    check_op("image.blend", img(3, 8, 5, 4, dtype=dtype, seed=1), img(3, 8, 5, 4, dtype=dtype, seed=2), 0.4)


# ----------------------------------------------------------------------------- split / merge

@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("shape", [shape_of(s, c) for s in SIZES for c in (1, 3, 4)], ids=ids)
def test_split_merge(shape, dtype):
    x = img(*shape, dtype=dtype)
    parts = check_op("image.split", x)
    assert all(p.shape == shape[:2] for p in parts)
    channels = [img(*shape[:2], dtype=dtype, seed=s) for s in range(shape[2])]
    check_op("image.merge", channels)
    np.testing.assert_array_equal(fi.merge(fi.split(x)), x)


def test_split_gray_is_one_channel():
    x = img(5, 7)
    parts = check_op("image.split", x)
    assert len(parts) == 1


def test_merge_accepts_tuples_and_noncontiguous_planes():
    x = img(6, 10, 3)
    planes = (x[..., 0], x[..., 1], x[..., 2])      # strided views
    out = fi.merge(planes)
    np.testing.assert_array_equal(out, x)


# ------------------------------------------------------------------ brightness, normalize, center

@pytest.mark.parametrize("shape", [shape_of(s, c) for s in SIZES for c in (None, 3, 4)], ids=ids)
def test_adjust_brightness_uint8(shape):
    x = img(*shape)
    # dyadic factors give exact products, so round-half-even and saturation are exact
    for f in (0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.0):
        check_op("image.adjust_brightness", x, f, tol=(0, 0))
    for f in (0.3, 0.8, 1.1, 1.3, 2.7):
        check_op("image.adjust_brightness", x, f)


def test_adjust_brightness_rounds_half_to_even():
    x = np.arange(256, dtype=np.uint8).reshape(16, 16)
    check_op("image.adjust_brightness", x, 0.5, tol=(0, 0))
    np.testing.assert_array_equal(fi.adjust_brightness(np.array([[1, 3, 5, 7]], np.uint8), 0.5),
                                  [[0, 2, 2, 4]])


@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 3), (1, 1, 4), (3, 2000, 1)], ids=ids)
def test_adjust_brightness_float32_not_clipped(shape):
    x = img(*shape, dtype=np.float32)
    for f in (0.0, 0.5, 1.7, 3.0):
        out = check_op("image.adjust_brightness", x, f)
    assert out.max() > 1.0 or x.max() * 3.0 <= 1.0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: np.dtype(d).name)
def test_adjust_brightness_batch(dtype):
    check_op("image.adjust_brightness", img(3, 6, 7, 3, dtype=dtype), 1.5)


@pytest.mark.parametrize("shape", ANY_SHAPES + [(4, 5, 6, 3)], ids=ids)
def test_normalize(shape):
    out = check_op("image.normalize", img(*shape))
    assert 0.0 <= out.min() and out.max() <= 1.0


def test_normalize_extremes():
    out = fi.normalize(np.array([[0, 255, 51]], np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out[0, :2], [0.0, 1.0])
    assert abs(out[0, 2] - 0.2) < 1e-7


@pytest.mark.parametrize("shape", [(17, 23, 3), (16, 24, 1), (1, 1, 3), (9, 1, 4), (3, 2000, 3),
                                   (4, 6, 7, 3), (17, 23)], ids=ids)
def test_center(shape):
    x = img(*shape, dtype=np.float32, lo=-5, hi=20)
    out = check_op("image.center", x)
    if len(shape) >= 3:        # each channel ends up with zero mean
        assert np.abs(out.reshape(-1, shape[-1]).astype(np.float64).mean(0)).max() < 1e-4
    check_op("image.center", x, mean=2.5)
    check_op("image.center", x, 2.5)
    if len(shape) >= 3:
        m = [0.5 * (i + 1) for i in range(shape[-1])]
        check_op("image.center", x, mean=m)
        check_op("image.center", x, mean=tuple(m))
        check_op("image.center", x, mean=np.array(m, np.float32))


def test_center_known_values():
    x = np.array([[[1, 10, 100], [3, 30, 300]]], np.float32)
    np.testing.assert_allclose(fi.center(x), [[[-1, -10, -100], [1, 10, 100]]], atol=1e-5)
    np.testing.assert_allclose(fi.center(x, mean=[1, 10, 100]), [[[0, 0, 0], [2, 20, 200]]], atol=1e-5)


# ---------------------------------------------------------------------------------- to_float

@pytest.mark.parametrize("n", [1, 7, 8, 9, 15, 16, 17, 63, 65, 1000, 224 * 224 * 3 + 5])
def test_to_float_streaming_stores_give_the_same_values(isa, n):
    """_core.image.to_float(..., stream=True) (streaming stores, used for batches larger than
    the caches) equals the plain path and the float64 product rounded to float32, for outputs
    at every float offset from a vector boundary and lengths around the vector widths."""
    from foveal import _core
    rng = np.random.default_rng(n)
    x = rng.integers(0, 256, n, dtype=np.uint8)
    want = (x.astype(np.float64) * np.float64(np.float32(1 / 255))).astype(np.float32)
    for off in range(17):
        buf = np.full(n + 32, -7.0, np.float32)
        out = buf[off:off + n]
        assert _core.image.to_float(x, 1 / 255, out=out, stream=True) is not None
        np.testing.assert_array_equal(out, want, err_msg=f"{isa} n={n} offset={off}")
        np.testing.assert_array_equal(_core.image.to_float(x, 1 / 255, out=out.copy()), want)
        assert np.all(buf[:off] == -7.0) and np.all(buf[off + n:] == -7.0)   # nothing outside
