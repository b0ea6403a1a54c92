"""The integer paths of the uint8 image ops, bit for bit on every ISA.

* to_gray: OpenCV's fixed point, (9798 R + 19235 G + 3735 B + 16384) >> 15, over pixel counts
  around the vector kernels' blocks (3 and 4 channels).
* uint8 2-D filters with whole-number taps (absolute values summing to at most 128): 16-bit
  integer sums, equal to the exact sum, saturated.
* uint8 separable filters whose taps are multiples of 1/256 in [0, 1] summing to at most 1
  (gaussian_blur's fixed kernels for ksize 3 and 5 with sigma 0; filter2d with such a rank-1
  kernel) run in uint16 fixed point: each must equal the exact sum, from a float64 NumPy
  reference (exact for these taps), rounded half to even, for every border.
"""
import numpy as np
import pytest

import foveal.image as fi
from foveal.image import kernels

pytestmark = pytest.mark.usefixtures("one_native_thread")

NP_PAD = {"reflect101": "reflect", "reflect": "symmetric", "replicate": "edge", "wrap": "wrap"}
BORDERS = ["constant", "replicate", "reflect", "reflect101", "wrap"]


def _gray_reference(x):
    x = x.astype(np.int64)
    return ((9798 * x[..., 0] + 19235 * x[..., 1] + 3735 * x[..., 2] + 16384) >> 15).astype(np.uint8)


@pytest.mark.parametrize("channels", [3, 4])
def test_to_gray_uint8_integer_formula(isa, channels):
    rng = np.random.default_rng(channels)
    for n in list(range(1, 80)) + [127, 128, 129, 255, 256, 257, 1000, 65536 + 37]:
        x = rng.integers(0, 256, (1, n, channels), dtype=np.uint8)
        np.testing.assert_array_equal(fi.to_gray(x), _gray_reference(x), err_msg=f"{isa} n={n}")


def _padded(x, kh, kw, border, cval):
    """x (H x W x C) padded for a kh x kw kernel anchored at its centre."""
    ay, ax = kh // 2, kw // 2
    pads = ((ay, kh - 1 - ay), (ax, kw - 1 - ax), (0, 0))
    if border == "constant":
        return np.pad(x, pads, mode="constant", constant_values=cval)
    return np.pad(x, pads, mode=NP_PAD[border])


def _separable_reference(x, kx, ky, border, cval):
    """Exact float64 sum of the separable filter (anchor at the kernel centre), rounded half to
    even, for an H x W x C uint8 image."""
    p = _padded(x.astype(np.float64), len(ky), len(kx), border, cval)
    h, w = x.shape[:2]
    acc = np.zeros(x.shape, np.float64)
    for i, wy in enumerate(ky.astype(np.float64)):
        for j, wx in enumerate(kx.astype(np.float64)):
            acc += wy * wx * p[i:i + h, j:j + w]
    return np.clip(np.rint(acc), 0, 255).astype(np.uint8)


SHAPES = [(1, 1), (1, 5), (4, 1), (3, 3), (5, 70), (17, 29), (33, 131)]


@pytest.mark.parametrize("ksize", [1, 3, 5, (3, 5), (5, 1), (1, 3)])
def test_gaussian_blur_uint8_fixed_kernels_exact(isa, ksize):
    kh, kw = (ksize, ksize) if isinstance(ksize, int) else ksize
    kx, ky = kernels.gaussian1d_u8(kw), kernels.gaussian1d_u8(kh)
    rng = np.random.default_rng(kh * 10 + kw)
    for h, w in SHAPES:
        for c in (1, 2, 3, 4):
            x = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
            want = _separable_reference(x, kx, ky, "reflect101", 0)
            np.testing.assert_array_equal(fi.gaussian_blur(x, ksize), want, err_msg=f"{isa} {(h, w, c)}")


# rank-1 kernels whose row factor has taps in 256ths and whose column factor is one 1:
# filter2d runs them as separable filters, through the fixed-point passes
ROWS = [np.array([0.25, 0.5, 0.25]), np.array([0.25, 0.25, 0.25]), np.array([0, 0.5, 0, 0.125, 0.125]),
        np.array([0.75, 0, 0.25]), np.array([1, 4, 6, 4, 1]) / 16]


@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("row", range(len(ROWS)))
def test_filter2d_uint8_fixed_point_separable_exact(isa, border, row):
    kx = ROWS[row].astype(np.float32)
    kh = 3 if row % 2 == 0 else 5
    k = np.zeros((kh, len(kx)), np.float32)
    k[kh // 2 + (row == 3)] = kx  # row 3: the taps one row below the anchor
    ky = k[:, np.argmax(np.abs(kx))] / kx.max()
    rng = np.random.default_rng(row * 7 + BORDERS.index(border))
    for h, w in SHAPES:
        for c in (1, 3, 4):
            x = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
            want = _separable_reference(x, kx, ky, border, 77)
            got = fi.filter2d(x, k, border=border, cval=77)
            np.testing.assert_array_equal(got, want, err_msg=f"{isa} {(h, w, c)}")


def _integer_reference(x, k, border, cval):
    """Exact integer 2-D correlation (anchor at the kernel centre), saturated to uint8."""
    kh, kw = k.shape
    p = _padded(x.astype(np.int64), kh, kw, border, cval)
    h, w = x.shape[:2]
    acc = np.zeros(x.shape, np.int64)
    for i in range(kh):
        for j in range(kw):
            acc += int(k[i, j]) * p[i:i + h, j:j + w]
    return np.clip(acc, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("border", BORDERS)
def test_filter2d_uint8_integer_kernels_exact(isa, border):
    """uint8 2-D filters whose taps are whole numbers with absolute values summing to at most 128
    run in 16-bit integers (taps of 1 and -1 added and subtracted, others multiplied; 64 and 16
    outputs a step, then one by one): each equals the exact integer sum, saturated, for every
    border, channel count and row length around those steps. A kernel past 128 (or with a
    fraction) takes the float path, which is exact for it as well."""
    rng = np.random.default_rng(BORDERS.index(border))
    kernels_ = [kernels.SHARPEN, kernels.EDGE, np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], np.float32),
                rng.integers(-6, 7, (5, 5)).astype(np.float32), rng.integers(-3, 4, (4, 7)).astype(np.float32)]
    big = np.zeros((3, 3), np.float32)
    big[1, 1], big[0, 0] = 100, 28            # |taps| sum to 128: still 16-bit
    big2 = big.copy()
    big2[2, 2] = -1                           # 129: the float path
    kernels_ += [big, big2]
    for k in kernels_:
        k = np.asarray(k, np.float32)
        for h, w in [(1, 1), (3, 5), (6, 16), (7, 21), (5, 64 // 3 + 1), (9, 70), (4, 200)]:
            for c in (1, 3, 4):
                x = rng.integers(0, 256, (h, w, c), dtype=np.uint8)
                got = fi.filter2d(x, k, border=border, cval=7)
                want = _integer_reference(x, k, border, 7)
                np.testing.assert_array_equal(got, want, err_msg=f"{isa} {k.tolist()} {(h, w, c)}")
