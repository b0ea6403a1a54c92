"""foveal.image filters against OpenCV 5: filter2D (every border, kernels 1x1 to 15x15, even sizes
too), GaussianBlur, Laplacian, Sobel and the named kernels.

filter2d(img, k, border, cval) == cv2.filter2D(img, -1, k, borderType=...) with the anchor at the
kernel centre (kw // 2, kh // 2); "wrap" and a non-zero cval are padded with copyMakeBorder first
(filter2D supports neither). uint8 results within 1 (float32 sums rounded), integer kernels exact.
"""
import cv2
import numpy as np
import pytest

import foveal.image as fi
from check import check_op
from inputs import BORDERS, DTYPES, SIZES, img, kernel, shape_of
from reference.image import KERNELS

# every test on one native thread (see one_native_thread in conftest.py)
pytestmark = pytest.mark.usefixtures("one_native_thread")

ids = str
dtype_id = lambda d: np.dtype(d).name  # noqa: E731
ALL_SHAPES = [shape_of(s, c) for s in SIZES for c in (None, 1, 3, 4)]
KERNEL_SIZES = [(1, 1), (1, 3), (3, 1), (2, 2), (3, 3), (4, 3), (2, 5), (5, 5), (6, 6), (7, 7),
                (8, 3), (9, 9), (11, 11), (12, 13), (15, 15)]


def cval_for(dtype):
    return 7 if np.dtype(dtype) == np.uint8 else 0.25


# ----------------------------------------------------------------------------------- filter2d

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("shape", ALL_SHAPES, ids=ids)
def test_filter2d_borders(shape, border, dtype):
    x = img(*shape, dtype=dtype)
    for kh, kw in ((3, 3), (1, 1), (2, 2), (4, 3), (5, 5)):
        check_op("image.filter2d", x, kernel(kh, kw), border=border)
    if border == "constant":
        check_op("image.filter2d", x, kernel(3, 3), border=border, cval=cval_for(dtype))
        check_op("image.filter2d", x, kernel(4, 5), border=border, cval=cval_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("ksize", KERNEL_SIZES, ids=ids)
def test_filter2d_kernel_sizes(ksize, border, dtype):
    cval = cval_for(dtype) if border == "constant" else 0
    k = kernel(*ksize, seed=1)
    for shape in ((17, 23, 3), (16, 24), (2, 3, 4), (1, 9), (9, 1, 1), (1, 1, 3)):
        # kernels larger than the image reach several reflections / wraps deep
        check_op("image.filter2d", img(*shape, dtype=dtype), k, border=border, cval=cval)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_filter2d_wide(dtype):
    for shape in ((3, 2000), (3, 2000, 3), (3, 2000, 4)):
        x = img(*shape, dtype=dtype)
        for border in BORDERS:
            check_op("image.filter2d", x, kernel(3, 3), border=border)
            check_op("image.filter2d", x, kernel(5, 7, seed=3), border=border, cval=cval_for(dtype))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("name", sorted(KERNELS))
def test_filter2d_named_kernels(name, dtype):
    for shape in ((17, 23), (16, 24, 3), (9, 1, 4)):
        x = img(*shape, dtype=dtype)
        check_op("image.filter2d", x, getattr(fi.kernels, name))
        check_op("image.filter2d", x, getattr(fi.kernels, name), border="replicate")


def test_filter2d_separable_kernels():
    # rank-1 kernels (outer products) may run as two 1-D passes: same results
    for dtype in DTYPES:
        x = img(17, 23, 3, dtype=dtype)
        for ks in ((3, 3), (5, 5), (7, 3), (4, 6), (15, 15)):
            col = np.random.default_rng(ks[0]).standard_normal(ks[0])
            row = np.random.default_rng(ks[1] + 50).standard_normal(ks[1])
            k = np.outer(col, row)
            k = (k / np.abs(k).sum() * 1.5).astype(np.float32)
            for border in BORDERS:
                check_op("image.filter2d", x, k, border=border, cval=cval_for(dtype) if border == "constant" else 0)


def test_filter2d_kernel_forms():
    x = img(11, 13, 3)
    check_op("image.filter2d", x, [[0, 1, 0], [1, -4, 1], [0, 1, 0]])                   # list, ints
    check_op("image.filter2d", x, np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16.0)    # float64
    check_op("image.filter2d", x, np.arange(12, dtype=np.int32).reshape(3, 4) - 5)
    check_op("image.filter2d", x, np.float32([[0.5]]))
    check_op("image.filter2d", x, kernel(5, 5)[::2, ::-1])                               # strided view
    check_op("image.filter2d", x, kernel(3, 5).T)                                         # transposed


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_filter2d_saturation_and_large_values(dtype):
    # uint8 sums far outside 0..255 saturate; float32 sums of large values stay relative-accurate
    lo, hi = (0, 256) if dtype == np.uint8 else (-1e4, 1e4)
    x = img(17, 23, 3, dtype=dtype, lo=lo, hi=hi)
    check_op("image.filter2d", x, np.full((3, 3), 2.0, np.float32))
    check_op("image.filter2d", x, np.full((5, 5), -1.0, np.float32))
    check_op("image.filter2d", x, kernel(7, 7) * 10)


@pytest.mark.parametrize("pattern", ["dense", "first_row_zero", "holes", "last_col_zero"])
def test_filter2d_float_zero_taps_skip_non_finite_values(isa, pattern):
    """The float 2-D filter takes two output rows at once, each input row's taps grouped in runs
    that feed one output, the other or both. A zero tap is skipped, so a NaN or inf it would
    read reaches no output; every other output matches a float64 sum of the non-zero taps (rows
    of both parities, odd heights, every ISA)."""
    rng = np.random.default_rng(len(pattern))
    k = rng.uniform(-1, 1, (5, 5)).astype(np.float32)
    if pattern == "first_row_zero":
        k[0] = 0
    elif pattern == "holes":
        k[1, ::2] = 0
        k[3, 1] = 0
        k[4, 4] = 0
    elif pattern == "last_col_zero":
        k[:, 4] = 0
    for h, w in ((9, 40), (10, 37), (31, 70)):
        x = rng.uniform(-50, 50, (h, w, 3)).astype(np.float32)
        bad = rng.random((h, w, 3)) < 0.01
        x[bad] = rng.choice([np.nan, np.inf, -np.inf], int(bad.sum()))
        got = fi.filter2d(x, k, border="constant", cval=0.0)
        xp = np.zeros((h + 4, w + 4, 3))
        xp[2:-2, 2:-2] = x
        want = np.zeros((h, w, 3))
        with np.errstate(invalid="ignore"):  # inf - inf: the NaN the output must hold too
            for r in range(5):
                for c in range(5):
                    if k[r, c] != 0:
                        want = want + float(k[r, c]) * xp[r:r + h, c:c + w]
        np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
        np.testing.assert_array_equal(np.isinf(got), np.isinf(want))
        fin = np.isfinite(want)
        np.testing.assert_allclose(got[fin], want[fin], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_filter2d_batch(dtype):
    x = img(3, 9, 12, 3, dtype=dtype)
    check_op("image.filter2d", x, kernel(3, 3))
    check_op("image.filter2d", x, kernel(4, 5), border="wrap")
    check_op("image.filter2d", x, kernel(5, 5), border="constant", cval=cval_for(dtype))


# --------------------------------------------------------------------------------- convolve2d

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
def test_convolve2d(border, dtype):
    cval = cval_for(dtype) if border == "constant" else 0
    for shape in ((17, 23), (16, 24, 3), (1, 9, 4), (9, 1), (3, 2000, 1)):
        x = img(*shape, dtype=dtype)
        for ks in ((3, 3), (2, 2), (4, 3), (5, 6)):
            check_op("image.convolve2d", x, kernel(*ks, seed=2), border=border, cval=cval)


def test_convolve2d_flips_the_kernel():
    x = np.zeros((5, 5), np.float32)
    x[2, 2] = 1.0
    k = np.arange(9, dtype=np.float32).reshape(3, 3)
    np.testing.assert_array_equal(fi.convolve2d(x, k)[1:4, 1:4], k)            # impulse response
    np.testing.assert_array_equal(fi.filter2d(x, k)[1:4, 1:4], k[::-1, ::-1])


# ------------------------------------------------------------------------------ gaussian_blur

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("ksize", [1, 3, 5, 7, 9, 11, 15])
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 1), (17, 23, 3), (16, 24, 4), (1, 1), (1, 9, 3),
                                   (9, 1), (2, 3, 3), (3, 2000, 3)], ids=ids)
def test_gaussian_blur(shape, ksize, dtype):
    # OpenCV 5's uint8 GaussianBlur runs in fixed point (kernel in 1/256 steps); foveal uses the
    # same quantized kernel, so it matches within the rounding of halves.
    x = img(*shape, dtype=dtype)
    check_op("image.gaussian_blur", x, ksize)
    for sigma in (0.5, 1.3, 3.0, -1):
        check_op("image.gaussian_blur", x, ksize, sigma)
    check_op("image.gaussian_blur", x, ksize=ksize, sigma=0.8)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("ksize", [13, 17, 21, 25, 31])
def test_gaussian_blur_large_kernels(ksize, dtype):
    for shape in ((17, 23, 3), (40, 9), (5, 64, 4)):
        x = img(*shape, dtype=dtype)
        for sigma in (0, 0.3, 1.1, 2.2, 5.0, 12.0):
            check_op("image.gaussian_blur", x, ksize, sigma)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_gaussian_blur_batch_and_smooth(dtype):
    check_op("image.gaussian_blur", img(3, 10, 12, 3, dtype=dtype), 5)
    check_op("image.gaussian_blur", img(2, 10, 12, 1, dtype=dtype), 7, 2.0)
    # a constant image stays constant
    c = np.full((8, 9, 3), 200 if dtype == np.uint8 else 0.7, dtype)
    np.testing.assert_allclose(fi.gaussian_blur(c, 9, 2.5).astype(np.float64), c, atol=1e-5)


# -------------------------------------------------------------------------- sharpen / edges

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", ALL_SHAPES + [(3, 5, 6, 3)], ids=ids)
def test_sharpen_edges(shape, dtype):
    x = img(*shape, dtype=dtype)
    check_op("image.sharpen", x)
    check_op("image.edges", x)


# ------------------------------------------------------------------------ laplacian / sobel

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", ALL_SHAPES + [(3, 5, 6, 3)], ids=ids)
def test_laplacian(shape, dtype):
    out = check_op("image.laplacian", img(*shape, dtype=dtype))
    assert out.dtype == np.float32


SOBEL = [(1, 0, 3), (0, 1, 3), (1, 1, 3), (2, 0, 3), (0, 2, 3), (1, 0, 1), (0, 1, 1), (1, 0, 5),
         (0, 2, 5), (2, 1, 5), (3, 0, 5), (1, 0, 7), (0, 1, 7), (2, 2, 7)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 1), (17, 23, 3), (16, 24, 4), (1, 1), (1, 9, 3),
                                   (9, 1), (2, 3), (3, 2000)], ids=ids)
def test_sobel(shape, dtype):
    x = img(*shape, dtype=dtype)
    for dx, dy, k in SOBEL:
        out = check_op("image.sobel", x, dx, dy, k)
        assert out.dtype == np.float32
    check_op("image.sobel", x, 1, 0)                       # ksize=3 default
    check_op("image.sobel", x, dx=0, dy=1, ksize=5)


def test_sobel_batch():
    check_op("image.sobel", img(3, 8, 9, 3), 1, 0)
    check_op("image.sobel", img(3, 8, 9, 3, dtype=np.float32), 0, 1, 5)


# ------------------------------------------------------------------------------------ kernels

@pytest.mark.parametrize("name", sorted(KERNELS))
def test_named_kernels(name):
    k = np.asarray(getattr(fi.kernels, name))
    assert k.shape == (3, 3)
    np.testing.assert_allclose(k.astype(np.float64), KERNELS[name], rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("ksize", [1, 3, 5, 7, 9, 15, 31])
@pytest.mark.parametrize("sigma", [0, 0.5, 1.0, 2.7, -3])
def test_gaussian_kernel(ksize, sigma):
    k = fi.kernels.gaussian(ksize, sigma)
    g = cv2.getGaussianKernel(ksize, sigma)
    assert isinstance(k, np.ndarray) and k.dtype == np.float32 and k.shape == (ksize, ksize)
    np.testing.assert_allclose(k, (g @ g.T).astype(np.float32), rtol=1e-5, atol=1e-7)
    assert abs(float(k.astype(np.float64).sum()) - 1.0) < 1e-5

