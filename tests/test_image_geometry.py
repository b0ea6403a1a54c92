"""foveal.image flips, rotations, affine warps and resizing against OpenCV 5.

Mapping (decided by the implementation): interpolation "nearest" -> INTER_NEAREST for warps and
INTER_NEAREST_EXACT for resize, "bilinear" -> INTER_LINEAR, "bicubic" -> INTER_CUBIC, "area" ->
INTER_AREA (resize only); borders "constant" (borderValue = cval on every channel), "replicate" and
"nearest", "reflect", "reflect101", "wrap".

Nearest-neighbour sampling is compared exactly, ties included: a sampling position half-way
between two source pixels takes OpenCV 5.1's rule (the upper pixel for constant and replicate
borders, the far edge staying inside for constant; the even pixel for reflect, reflect101 and
wrap). Positions that are ties only in exact arithmetic (2/3 * 7 - 1/6) follow the same rule;
OpenCV's answer there depends on how one build rounds its float coordinates, so those cases
compare against a float64 reference (reference.image.opencv_nearest_is_rule).
"""
import cv2
import numpy as np
import pytest

import foveal.image as fi
from check import check_op
from inputs import BORDERS, DTYPES, SIZES, img, shape_of

# every test on one native thread (see one_native_thread in conftest.py)
pytestmark = pytest.mark.usefixtures("one_native_thread")

ids = str
ALL_SHAPES = [shape_of(s, c) for s in SIZES for c in (None, 1, 3, 4)]
SMALL_SHAPES = [s for s in ALL_SHAPES if s[1] < 1000]
WIDE_SHAPES = [s for s in ALL_SHAPES if s[1] >= 1000]
INTERPS = ["nearest", "bilinear", "bicubic"]
dtype_id = lambda d: np.dtype(d).name  # noqa: E731

# Source coordinates near x = 2500 hold about 3e-4 px of float32 rounding (OpenCV's own result
# is 1e-4 off a float64 computation there); times a noise image's slope of up to ~1.5 per pixel
# (check.warp_tol for coordinates up to 2500).
WIDE_TOL = (1, 5.5e-4)


def cval_for(dtype):
    return 7 if np.dtype(dtype) == np.uint8 else 0.25


# ------------------------------------------------------------------------------------ flips

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", ALL_SHAPES, ids=ids)
def test_flip(shape, dtype):
    x = img(*shape, dtype=dtype)
    check_op("image.flip", x)                            # default: horizontal
    for axis in ("horizontal", "vertical", "both"):
        check_op("image.flip", x, axis=axis)
    check_op("image.flip", x, "vertical")
    np.testing.assert_array_equal(fi.flip(x), x[:, ::-1])
    np.testing.assert_array_equal(fi.flip(x, axis="vertical"), x[::-1])


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", ALL_SHAPES, ids=ids)
def test_rotate90(shape, dtype):
    x = img(*shape, dtype=dtype)
    check_op("image.rotate90", x)                        # default k=1: counter-clockwise
    for k in (-5, -3, -2, -1, 0, 1, 2, 3, 4, 6, 7):
        check_op("image.rotate90", x, k)
    check_op("image.rotate90", x, k=3)


def test_rotate90_matches_cv2_rotate():
    x = img(5, 8, 3)
    np.testing.assert_array_equal(fi.rotate90(x), cv2.rotate(x, cv2.ROTATE_90_COUNTERCLOCKWISE))
    np.testing.assert_array_equal(fi.rotate90(x, -1), cv2.rotate(x, cv2.ROTATE_90_CLOCKWISE))
    np.testing.assert_array_equal(fi.rotate90(x, 2), cv2.rotate(x, cv2.ROTATE_180))


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_flip_rotate90_batch(dtype):
    x = img(3, 5, 8, 3, dtype=dtype)
    for axis in ("horizontal", "vertical", "both"):
        check_op("image.flip", x, axis=axis)
    for k in (-1, 1, 2, 3):
        check_op("image.rotate90", x, k)


# ------------------------------------------------------------------------------------ rotate

ROTATE_ANGLES = [0, 30, -45, 90, 180, 33.3, -123.7, 400]
NEAREST_ANGLES = [0, 33.3, -71.3, 200.5, 17.1, -151.9, 63.7, 101.3, -23.9, 311.1]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("interpolation", INTERPS)
@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=ids)
def test_rotate(shape, interpolation, border, dtype):
    x = img(*shape, dtype=dtype)
    angles = ROTATE_ANGLES + NEAREST_ANGLES if interpolation == "nearest" else ROTATE_ANGLES
    cval = cval_for(dtype) if border == "constant" else 0
    for angle in angles:
        check_op("image.rotate", x, angle, interpolation=interpolation, border=border, cval=cval)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", WIDE_SHAPES, ids=ids)
def test_rotate_wide(shape, dtype):
    x = img(*shape, dtype=dtype)
    for interpolation in INTERPS:
        for angle in (0.5, 33.3):
            for border in ("constant", "reflect101", "wrap"):
                check_op("image.rotate", x, angle, interpolation=interpolation, border=border,
                      cval=cval_for(dtype), tol=WIDE_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 3), (9, 12, 4)], ids=ids)
def test_rotate_center_scale_and_defaults(shape, dtype):
    x = img(*shape, dtype=dtype)
    check_op("image.rotate", x, 30)                                   # bilinear, constant, cval 0
    check_op("image.rotate", x, 30, center=(2.0, 3.5))
    check_op("image.rotate", x, -20, center=(0, 0), scale=1.7)
    check_op("image.rotate", x, 75, scale=0.6, border="reflect")
    check_op("image.rotate", x, 15, None, 1.25, "bicubic", "replicate", 0)
    check_op("image.rotate", x, 45, cval=cval_for(dtype))
    check_op("image.rotate", x, np.float32(12.5))
    check_op("image.rotate", x, 7)


def test_rotate_positive_is_counter_clockwise():
    x = np.zeros((5, 5), np.uint8)
    x[2, 4] = 255                                          # right of the centre
    out = fi.rotate(x, 90, interpolation="nearest")
    assert out[0, 2] == 255 and out.sum() == 255           # now above the centre


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_rotate_batch(dtype):
    x = img(3, 9, 12, 3, dtype=dtype)
    check_op("image.rotate", x, 30)
    check_op("image.rotate", x, 33.3, interpolation="nearest", border="reflect")
    check_op("image.rotate", x, -10, interpolation="bicubic", border="wrap")


# -------------------------------------------------------------------------------- warp_affine

def _matrices(h, w):
    return [
        np.array([[1, 0, 0], [0, 1, 0]], np.float64),                    # identity
        np.array([[1, 0, 2], [0, 1, -3]], np.float64),                   # integer translation
        np.array([[0.9, 0.2, 1.3], [-0.15, 1.1, 0.7]]),                 # shear + scale
        np.array([[1.6, 0.3, -w * 0.31], [0.1, 0.45, h * 0.23]]),
        np.array([[-1.0, 0.05, w - 0.8], [0.02, -0.8, h * 0.9]]),        # mirror-ish
        np.array([[0.37, 0.0, 0.11], [0.0, 2.3, -0.27]]),               # strong shrink + stretch
    ]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("interpolation", INTERPS)
@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=ids)
def test_warp_affine(shape, interpolation, border, dtype):
    x = img(*shape, dtype=dtype)
    h, w = shape[:2]
    cval = cval_for(dtype) if border == "constant" else 0
    outs = [None, (h, w), (h + 3, w + 5), (max(1, h // 2), 2 * w + 1), (1, 1)]
    for i, m in enumerate(_matrices(h, w)):
        out_shape = outs[i % len(outs)]
        check_op("image.warp_affine", x, m, out_shape, interpolation=interpolation, border=border, cval=cval)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", WIDE_SHAPES, ids=ids)
def test_warp_affine_wide(shape, dtype):
    x = img(*shape, dtype=dtype)
    m = np.array([[0.999, 0.01, 3.2], [-0.002, 1.01, -0.4]])
    for interpolation in INTERPS:
        for border in BORDERS:
            check_op("image.warp_affine", x, m, interpolation=interpolation, border=border, cval=cval_for(dtype),
                  tol=WIDE_TOL)
    check_op("image.warp_affine", x, m, output_shape=(7, 777), tol=WIDE_TOL)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_warp_affine_argument_forms(dtype):
    x = img(11, 14, 3, dtype=dtype)
    m = np.array([[0.9, 0.2, 1.3], [-0.15, 1.1, 0.7]])
    check_op("image.warp_affine", x, m)
    check_op("image.warp_affine", x, m.astype(np.float32))
    check_op("image.warp_affine", x, m.tolist())
    check_op("image.warp_affine", x, m, output_shape=[6, 20])
    check_op("image.warp_affine", x, m, (20, 6), "bicubic", "reflect", 0)
    check_op("image.warp_affine", x, matrix=m, output_shape=(12, 12), interpolation="nearest")


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_warp_affine_batch(dtype):
    x = img(3, 9, 12, 4, dtype=dtype)
    m = np.array([[0.9, 0.2, 1.3], [-0.15, 1.1, 0.7]])
    check_op("image.warp_affine", x, m)
    check_op("image.warp_affine", x, m, output_shape=(5, 17), interpolation="bicubic", border="wrap")


# ------------------------------------------------------------------------------ shift / zoom

SHIFTS = [(0, 0), (2, -3), (-1, 1), (0.3, -2.7), (-4.2, 0.6), (100, 0), (0, -100), (1e6, 1e6)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("interpolation", INTERPS)
@pytest.mark.parametrize("shape", ALL_SHAPES, ids=ids)
def test_shift(shape, interpolation, border, dtype):
    x = img(*shape, dtype=dtype)
    cval = cval_for(dtype) if border == "constant" else 0
    for dx, dy in SHIFTS:
        check_op("image.shift", x, dx, dy, interpolation=interpolation, border=border, cval=cval)


def test_shift_direction():
    x = np.zeros((4, 6), np.uint8)
    x[1, 2] = 9
    out = fi.shift(x, 3, 2)
    assert out[3, 5] == 9 and out.sum() == 9              # right by dx, down by dy


ZOOMS = [(1.0, None), (1.5, None), (0.6, None), (2.3, 0.8), (0.25, 3.0), (1.0, 1.7)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("border", BORDERS)
@pytest.mark.parametrize("interpolation", INTERPS)
@pytest.mark.parametrize("shape", SMALL_SHAPES, ids=ids)
def test_zoom(shape, interpolation, border, dtype):
    x = img(*shape, dtype=dtype)
    cval = cval_for(dtype) if border == "constant" else 0
    h, w = shape[:2]
    for zx, zy in ZOOMS:
        if zy is None:
            check_op("image.zoom", x, zx, interpolation=interpolation, border=border, cval=cval)
        else:
            check_op("image.zoom", x, zx, zy, interpolation=interpolation, border=border, cval=cval)


def test_zoom_magnifies():
    x = np.zeros((9, 9), np.float32)
    x[4, 4] = 1.0
    x[4, 5] = 1.0
    out = fi.zoom(x, 3.0, interpolation="nearest")
    # centre (4, 4) stays; one pixel becomes about three
    assert out[4, 4] == 1.0 and out.sum() > 2.0


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_shift_zoom_wide_and_batch(dtype):
    for shape in ((3, 2000), (3, 2000, 3), (2, 7, 9, 3)):
        x = img(*shape, dtype=dtype)
        check_op("image.shift", x, 2.5, -0.5, border="wrap", tol=WIDE_TOL)
        check_op("image.shift", x, -7, 1, interpolation="nearest", border="reflect")
        check_op("image.zoom", x, 1.3, border="replicate", tol=WIDE_TOL)
        check_op("image.zoom", x, 0.7, 1.2, interpolation="bicubic", border="reflect101", tol=WIDE_TOL)


# ----------------------------------------------------------------------------- nearest ties

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_nearest_ties_match_opencv(dtype):
    """Sampling positions exactly half-way between pixels pick the pixel OpenCV 5.1's
    INTER_NEAREST picks, for every border (compared with cv2 directly, not through reference.image)."""
    cv_border = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
                 "reflect": cv2.BORDER_REFLECT, "reflect101": cv2.BORDER_REFLECT_101,
                 "wrap": cv2.BORDER_WRAP}
    for h, w in ((9, 9), (7, 11), (5, 4), (2, 2), (2, 13)):
        x = img(h, w, 3, dtype=dtype)
        for border, code in cv_border.items():
            for m in ([[2, 0, 0], [0, 2, 0]], [[0.5, 0, 0], [0, 0.5, 0]], [[1, 0, 0.5], [0, 1, -1.5]],
                      [[1, 0, -0.5], [0, 1, 1.5]], [[0.5, 0, 0.25], [0, 2, 0.5]],
                      [[2, 0, -(w - 1) / 2], [0, 2, -(h - 1) / 2]]):
                m = np.array(m, np.float64)
                out = fi.warp_affine(x, m, (h + 3, w + 3), interpolation="nearest", border=border)
                expected = cv2.warpAffine(x, m, (w + 3, h + 3), flags=cv2.INTER_NEAREST, borderMode=code)
                np.testing.assert_array_equal(out, expected, err_msg=f"{border} {m.tolist()} {(h, w)}")
        check_op("image.zoom", x, 2.0, interpolation="nearest")
        check_op("image.shift", x, 0.5, -1.5, interpolation="nearest")


def test_nearest_far_edge_belongs_to_the_image():
    """A position on the image's far edge (w - 0.5) samples the last pixel with a constant
    border (OpenCV 5.1), and the pixel past it with replicate (which is the last pixel too)."""
    x = np.arange(1, 9, dtype=np.float32)[None, :].repeat(2, 0)
    m = [[1, 0, -0.5], [0, 1, 0]]     # source x = destination x + 0.5
    out = fi.warp_affine(x, m, (2, 10), interpolation="nearest", border="constant")
    np.testing.assert_array_equal(out[0], [2, 3, 4, 5, 6, 7, 8, 8, 0, 0])
    out = fi.warp_affine(x, m, (2, 10), interpolation="nearest", border="reflect101")
    np.testing.assert_array_equal(out[0], [1, 3, 3, 5, 5, 7, 7, 7, 7, 5])


def test_nearest_ties_in_exact_arithmetic(isa):
    """Positions that are ties only in exact arithmetic count as ties: zooming by 1.5 maps
    destination x = 7 to 2/3 * 7 - 1/6 = 4.5 exactly (4.4999999999999991 in float64, 4.5000005
    in float32), which the rule sends to pixel 5. The same on every ISA and at any row length
    (OpenCV 5.1 answers 4 or 5 depending on the image size)."""
    x = np.arange(10, dtype=np.float32)[None, :].repeat(4, 0)
    m = [[1.5, 0, 0.25], [0, 1.5, 0]]
    for cols in (8, 17, 35, 64):
        out = fi.warp_affine(x, m, (6, cols), interpolation="nearest")
        assert out[0, 7] == 5.0 and out[5, 7] == 5.0, (cols, out[0, :8])


# ------------------------------------------------------------------------------------ resize

def _targets(h, w):
    return sorted({(max(1, h // 3), max(1, w // 3)), (2 * h + 1, 2 * w), (h, w), (1, 1),
                   (3 * h, max(1, w // 2)), (h + 1, max(1, w - 1)), (max(1, h // 2), w * 2),
                   (max(1, (2 * h) // 3), max(1, (3 * w) // 4))})


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "area"])
@pytest.mark.parametrize("shape", ALL_SHAPES, ids=ids)
def test_resize(shape, interpolation, dtype):
    x = img(*shape, dtype=dtype)
    h, w = shape[:2]
    for size in _targets(h, w):
        check_op("image.resize", x, size, interpolation=interpolation)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "area"])
def test_resize_integer_factors(interpolation, dtype):
    x = img(24, 36, 3, dtype=dtype)
    for size in ((12, 18), (8, 12), (6, 9), (48, 72), (72, 108), (24, 72), (48, 36)):
        check_op("image.resize", x, size, interpolation=interpolation)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_resize_nearest_exact_ties_match_opencv(dtype):
    """Output centres that fall exactly on a source pixel boundary (e.g. 2 -> 7 pixels) pick the
    pixel OpenCV's INTER_NEAREST_EXACT picks."""
    for (h, w), size in (((2, 2), (7, 7)), ((2, 6), (15, 9)), ((6, 10), (9, 25)), ((3, 5), (7, 11))):
        check_op("image.resize", img(h, w, 3, dtype=dtype), size, interpolation="nearest")


def test_resize_nearest_index_sweep_matches_opencv():
    """Every source/target width pair up to 64 (ties included), on both axes: the pixel index each
    output pixel copies equals OpenCV's INTER_NEAREST_EXACT choice."""
    for n_in in range(1, 65):
        row = np.arange(n_in, dtype=np.float32)[None, :, None]
        for n_out in range(1, 65):
            got = fi.resize(row, (1, n_out), interpolation="nearest")[0, :, 0]
            want = cv2.resize(row[..., 0], (n_out, 1), interpolation=cv2.INTER_NEAREST_EXACT)[0]
            np.testing.assert_array_equal(got, want, err_msg=f"width {n_in} -> {n_out}")
            got = fi.resize(row.reshape(n_in, 1, 1), (n_out, 1), interpolation="nearest")[:, 0, 0]
            np.testing.assert_array_equal(got, want, err_msg=f"height {n_in} -> {n_out}")


def _nearest_reference(x, size):
    """OpenCV's INTER_NEAREST_EXACT of each image of ``x`` (H x W x C or N x H x W x C)."""
    def one(im):
        out = cv2.resize(im, (size[1], size[0]), interpolation=cv2.INTER_NEAREST_EXACT)
        return out.reshape(size[0], size[1], im.shape[2])
    return one(x) if x.ndim == 3 else np.stack([one(im) for im in x])


@pytest.mark.parametrize("dtype", [np.uint8, np.float32], ids=dtype_id)
@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_resize_nearest_rows_every_pixel_size(isa, channels, dtype):
    """The nearest-row kernel (16-byte shuffled segments on vector ISAs) copies exactly the
    pixels OpenCV's INTER_NEAREST_EXACT picks, for pixels of 1 to 16 bytes, rows whose last
    segments end at the row's end, sources whose last pixel ends the image (no 16-byte read
    past it) and batches; NaN payloads and -0.0 come through as bits."""
    rng = np.random.default_rng(channels * 7 + np.dtype(dtype).itemsize)
    for (h, w), size in (((240, 320), (224, 224)), ((5, 7), (9, 31)), ((3, 64), (2, 17)),
                         ((1, 1), (3, 40)), ((9, 40), (9, 40)), ((17, 5), (4, 100)),
                         ((2, 100), (3, 33)), ((7, 6), (1, 1))):
        for batch in ((), (2,)):
            x = rng.integers(0, 250, batch + (h, w, channels)).astype(dtype)
            if dtype == np.float32:
                x.reshape(-1)[::7] = -0.0
                x.reshape(-1)[::11] = np.frombuffer(np.uint32(0x7FC01234).tobytes(), np.float32)[0]
            got = fi.resize(x, size, interpolation="nearest")
            want = _nearest_reference(x, size)
            assert got.shape == want.shape
            assert got.tobytes() == want.tobytes(), (h, w, size, batch)


@pytest.mark.parametrize("channels", [3, 4])
def test_resize_bilinear_uint8_fixed_point(isa, channels):
    """uint8 bilinear resizing of 3- and 4-channel pixels runs in fixed point (Q14 weights on each
    axis, one 8-byte load per output pixel while it stays in the row, pixel by pixel after it).
    It must be within 0.52 of the float path's value: each axis's weight rounding moves a value
    by at most 255/32768, the 16-bit intermediate by 1/256, the final rounding by 0.5. It must be
    within 1 of OpenCV, and give the same bytes on every ISA."""
    rng = np.random.default_rng(channels)
    from foveal import _core
    cases = (((1080, 1920), (224, 224)), ((5, 7), (9, 31)), ((3, 2), (2, 17)), ((1, 1), (3, 4)),
             ((9, 40), (9, 40)), ((17, 5), (4, 100)), ((2, 100), (3, 33)), ((7, 6), (1, 1)),
             ((64, 3), (5, 2)), ((30, 29), (61, 9)))
    for (h, w), size in cases:
        for batch in ((), (2,)):
            x = rng.integers(0, 256, batch + (h, w, channels), dtype=np.uint8)
            got = fi.resize(x, size)
            exact = fi.resize(x.astype(np.float32), size)
            assert np.abs(got - exact).max() <= 0.52, ((h, w), size, batch)
            for im, out in zip(x.reshape((-1, h, w, channels)), got.reshape((-1,) + size + (channels,))):
                want = cv2.resize(im, (size[1], size[0]), interpolation=cv2.INTER_LINEAR)
                assert np.abs(out.astype(int) - want.reshape(out.shape)).max() <= 1, ((h, w), size)
            previous = _core.get_isa()
            _core.set_isa("scalar")
            try:
                scalar = fi.resize(x, size)
            finally:
                _core.set_isa(previous)
            assert got.tobytes() == scalar.tobytes(), ((h, w), size, batch)


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_resize_forms_and_batch(dtype):
    x = img(10, 13, 3, dtype=dtype)
    check_op("image.resize", x, (5, 7))                            # default bilinear
    check_op("image.resize", x, [20, 8])
    check_op("image.resize", x, size=(4, 30), interpolation="area")
    check_op("image.resize", img(3, 10, 13, 3, dtype=dtype), (7, 5), interpolation="bicubic")
    check_op("image.resize", img(2, 10, 13, 1, dtype=dtype), (20, 26), interpolation="nearest")


def test_resize_large_values_float32():
    x = img(12, 17, 3, dtype=np.float32, lo=-1e4, hi=1e4)
    for interpolation in ("bilinear", "bicubic", "area"):
        check_op("image.resize", x, (7, 30), interpolation=interpolation)
        check_op("image.resize", x, (5, 6), interpolation=interpolation)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
@pytest.mark.parametrize("border", BORDERS)
def test_float_bilinear_warp_is_identical_on_every_isa(channels, border):
    """The SIMD paths (vector lanes with 4-float pixel loads inside, per-pixel 4-float loads
    through the border) compute the scalar path's float operations in the same order: every ISA
    gives the scalar result bit for bit, interior, edges and far outside alike."""
    from foveal import _core

    rng = np.random.default_rng(channels)
    x = rng.normal(size=(2, 37, 45, channels)).astype(np.float32)
    mats = [np.array([[0.94, 0.34, -6.0], [-0.34, 0.94, 9.0]]),       # rotation: edges
            np.array([[1.3, 0.0, -8.0], [0.0, 1.25, -7.0]]),           # zoom in: interior
            np.array([[0.6, 0.1, 14.0], [-0.05, 0.7, 11.0]]),          # zoom out: border band
            np.array([[1.0, 0.0, 0.25], [0.0, 1.0, 0.5]])]             # sub-pixel shift
    previous = _core.get_isa()
    results = {}
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            results[isa] = [fi.warp_affine(x, m, (40, 48), "bilinear", border, 0.75) for m in mats]
    finally:
        _core.set_isa(previous)
    for isa, outs in results.items():
        for a, b in zip(outs, results["scalar"]):
            np.testing.assert_array_equal(a, b, err_msg=isa)
