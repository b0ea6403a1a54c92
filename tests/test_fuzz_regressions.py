"""Regression tests for what the fuzz harness (tests/fuzz_targets.py) found, one per finding; each
failed before its fix."""
import time

import cv2
import numpy as np
import pytest

import foveal.image as fi
import foveal.nn.functional as F
from foveal import _core

X = np.random.default_rng(0).standard_normal((1, 5, 5, 2)).astype(np.float32)
K = np.random.default_rng(1).standard_normal((3, 3, 2, 4)).astype(np.float32)
IMG = np.random.default_rng(2).integers(0, 256, (7, 9, 3), dtype=np.uint8)
F32 = 1e39     # finite as a double, inf as a float32


# --- 1. float32 bindings converted complex, object and string arrays silently ---------------
# (forcecast dropped the imaginary part with only a ComplexWarning, and parsed string arrays)

@pytest.mark.parametrize("bad", [X.astype(np.complex64) + 1j, X.astype(object), X.astype(str), None],
                         ids=["complex", "object", "str", "None"])
@pytest.mark.parametrize("call", [
    lambda x: _core.conv2d(x, K, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "relu"),
    lambda x: _core.max_pool2d(x, (2, 2), (1, 1), ((0, 0), (0, 0))),
    lambda x: _core.global_avg_pool2d(x),
    lambda x: _core.activation(x, "linear"),
    lambda x: _core.dropout(x, 0.5, 1),
    lambda x: _core.avg_pool2d_backward(x, X, (1, 1), (1, 1), ((0, 0), (0, 0))),
    lambda x: _core.image.augment_batch(x, np.eye(2, 3)[None], "bilinear", "constant", 0.0, None, None),
], ids=["conv2d", "max_pool2d", "global_avg_pool2d", "activation", "dropout", "avg_pool2d_backward",
        "augment_batch"])
def test_float_bindings_refuse_non_real_arrays(call, bad):
    with pytest.raises(TypeError, match=r"\b(x|dy)\b"):
        call(bad)


def test_filter_kernel_and_warp_matrix_refuse_complex():
    img = np.zeros((1, 4, 4, 1), np.uint8)
    with pytest.raises(TypeError, match="kernel"):
        _core.image.filter2d(img, np.ones((3, 3)) * 1j, 1, 1, "reflect", 0.0)
    with pytest.raises(TypeError, match="kx"):
        _core.image.sep_filter2d(img, np.ones(3, np.complex64), np.ones(3), 1, 1, "reflect", 0.0)
    with pytest.raises(TypeError, match="matrix"):
        _core.image.warp_affine(img, np.eye(2, 3) + 0j, 4, 4, "bilinear", "constant", 0.0)


def test_float_bindings_still_convert_real_dtypes_and_layouts():
    ref = _core.conv2d(X, K, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "linear")
    for x in (X.astype(np.float64), np.asfortranarray(X), X.tolist(), X[:, ::-1][:, ::-1]):
        np.testing.assert_array_equal(_core.conv2d(x, K, None, (1, 1), ((0, 0), (0, 0)), (1, 1), 1, "linear"), ref)
    np.testing.assert_array_equal(_core.activation(np.arange(4, dtype=np.int16), "relu"), np.arange(4))


# --- 2. bilinear warps of float images with more than 4 channels left channels 4+ unset -----
# (the SIMD 3-or-4-channel pixel path was taken for any C >= 3: uninitialized values)

@pytest.mark.parametrize("channels", [5, 6, 7, 8])
def test_bilinear_warp_of_many_channels_is_per_channel(isa, channels):
    rng = np.random.default_rng(channels)
    img = rng.random((2, 9, 11, channels)).astype(np.float32)
    m = np.array([[0.9, 0.2, 1.5], [-0.3, 1.1, -0.7]])
    for border in ("constant", "replicate", "reflect", "wrap"):
        out = _core.image.warp_affine(img, m, 8, 13, "bilinear", border, 0.5)
        for c in range(channels):
            one = _core.image.warp_affine(np.ascontiguousarray(img[..., c:c + 1]), m, 8, 13, "bilinear", border, 0.5)
            np.testing.assert_allclose(out[..., c:c + 1], one, rtol=0, atol=1e-6, err_msg=f"{border} channel {c}")


# --- 3. pooling windows of up to 2**30 rows (legal sizes) allocated and scanned every row -----
# (std::vector of kh pointers per thread: MemoryError 'std::bad_alloc', or seconds per output row)

@pytest.mark.parametrize("op", ["max", "avg"])
def test_pooling_with_a_huge_window_is_cheap(op):
    x = np.array([[[[3.0], [-1.0]]]], np.float32)                        # 1 x 1 x 2 x 1
    pool, pads = (2**30, 2), ((2**29, 2**29 - 1), (0, 0))
    t0 = time.perf_counter()
    y = (_core.max_pool2d if op == "max" else _core.avg_pool2d)(x, pool, (1, 1), pads)
    dy = np.ones_like(y)
    if op == "max":
        dx = _core.max_pool2d_backward(dy, x, pool, (1, 1), pads)
    else:
        dx = _core.avg_pool2d_backward(dy, x, pool, (1, 1), pads)
    assert time.perf_counter() - t0 < 2.0
    assert y.shape == (1, 1, 1, 1)
    assert y[0, 0, 0, 0] == (3.0 if op == "max" else 1.0)
    np.testing.assert_array_equal(dx, [[[[1.0], [0.0]]]] if op == "max" else [[[[0.5], [0.5]]]])


def test_depthwise_conv_with_a_huge_dilation_is_cheap():
    x = np.ones((1, 3, 3, 2), np.float32)
    k = np.ones((3, 1, 2, 1), np.float32)
    y = F.depthwise_conv2d(x, k, padding=((2**30, 2**30), (0, 0)), dilation_rate=(2**29, 1), strides=(2**30, 1))
    assert y.shape == (1, 2, 3, 2) and np.isfinite(y).all()


# --- 4. absurd result sizes: wrapping byte counts and 'std::bad_alloc' ---------------------

def test_result_whose_size_overflows_is_a_value_error():
    with pytest.raises(ValueError, match="too large"):
        _core.conv2d(np.ones((1, 1, 1, 1), np.float32), np.ones((1, 1, 1, 4), np.float32), None, (1, 1),
                     ((2**30, 2**30), (2**30, 2**30)), (1, 1), 1, "linear")


@pytest.mark.skipif(bool(_core.build_info().get("sanitize")),
                    reason="AddressSanitizer aborts on a 256 TiB request unless allocator_may_return_null=1")
def test_result_too_large_to_allocate_is_a_clear_memory_error():
    with pytest.raises((MemoryError, ValueError)) as e:
        _core.image.resize(np.ones((64, 1, 1, 4), np.uint8), 2**20, 2**20, "nearest")   # 256 TiB
    assert "bad_alloc" not in str(e.value) and "(64, 1048576, 1048576, 4)" in str(e.value)


# --- 5. numbers finite as doubles but not as the kernels' float32 --------------------------

def test_factors_beyond_float32_are_refused():
    u8 = np.zeros((1, 2, 2, 1), np.uint8)
    for a, b, c in ((F32, 0.0, 0.0), (0.5, -F32, 0.0), (0.5, 0.5, 1e300)):
        with pytest.raises(ValueError, match=r"\b[abc] must be finite"):
            _core.image.pointwise("blend", u8, u8, a, b, c)
    with pytest.raises(ValueError, match="scale"):
        _core.image.to_float(u8, float("nan"))
    for call, name in ((lambda: fi.adjust_brightness(IMG, 1e39), "factor"),
                       (lambda: fi.blend(IMG, IMG, 0.5, gamma=-1e300), "gamma"),
                       (lambda: fi.threshold(IMG.astype(np.float32), 0.5, 1e39), "maxval"),
                       (lambda: fi.to_binary(IMG, 1e39), "threshold"),
                       (lambda: fi.add(IMG.astype(np.float32), 1e39), "b")):
        with pytest.raises(ValueError, match=name):
            call()


@pytest.mark.parametrize("eps", [1e300, 1e-300, F32])
def test_batch_norm_epsilon_must_survive_float32(eps):
    x = np.ones((4, 2), np.float32)          # zero variance: epsilon 0 would divide by zero
    with pytest.raises(ValueError, match="epsilon"):
        _core.batch_norm_train(x, np.ones(2, np.float32), np.zeros(2, np.float32), eps)


def test_optimizer_hyperparameters_must_survive_float32():
    w, g, m, v = (np.ones(4, np.float32) for _ in range(4))
    with pytest.raises(ValueError, match="learning_rate"):
        _core.sgd_step(w, g, None, 1e39, 0.0, False)
    with pytest.raises(ValueError, match="alpha"):
        _core.adam_step(w, g, m, v, 1e39, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="epsilon"):
        _core.rmsprop_step(w, g, v, None, None, 0.01, 0.9, 0.0, -1e300)


# --- 6. uint8 border values were used unsaturated (OpenCV saturates them) -----------------

@pytest.mark.parametrize("cval,as_u8", [(300.0, 255), (-4.0, 0), (7.5, 8), (6.5, 6)])
def test_uint8_border_value_is_saturated_like_opencv(cval, as_u8):
    k = np.array([[0.25, 0.5, 0.25]], np.float32)
    np.testing.assert_array_equal(fi.filter2d(IMG, k, border="constant", cval=cval),
                                  fi.filter2d(IMG, k, border="constant", cval=as_u8))
    ref = cv2.filter2D(cv2.copyMakeBorder(IMG, 0, 0, 1, 1, cv2.BORDER_CONSTANT, value=(cval,) * 4), -1, k)[:, 1:-1]
    assert np.abs(fi.filter2d(IMG, k, border="constant", cval=cval).astype(int) - ref).max() <= 1
    np.testing.assert_array_equal(fi.shift(IMG, 2.5, -1.25, border="constant", cval=cval),
                                  fi.shift(IMG, 2.5, -1.25, border="constant", cval=as_u8))


def test_border_value_beyond_float32_is_refused():
    with pytest.raises(ValueError, match="cval"):
        fi.filter2d(IMG.astype(np.float32), np.ones((3, 3)), border="constant", cval=1e39)
    with pytest.raises(ValueError, match="cval"):
        fi.rotate(IMG.astype(np.float32), 10, cval=-1e300)


# --- 7. nearly singular warp matrices gave NaN coordinates (garbage, and a UB float-to-int cast)

def test_nearly_singular_warp_matrix_is_refused():
    one = np.full((1, 1, 1, 1), 217, np.uint8)
    for m in ([[1e-300, 0, 0], [0, 1e-20, 0]], [[1.0, 0, 1e300], [0, 1, 0]], [[1e-40, 0, 0], [0, 1.0, 0]]):
        with pytest.raises(ValueError, match="matrix"):
            _core.image.warp_affine(one, np.array(m), 2, 2, "bilinear", "replicate", 0.0)
        with pytest.raises(ValueError, match="matrices"):
            _core.image.augment_batch(one.astype(np.float32), np.array([m]), "bilinear", "replicate", 0.0, None, None)
    # a singular matrix stays accepted: its inverse is 0 (OpenCV's), every sample at the origin
    for m in (np.zeros((2, 3)), np.array([[1e-200, 0, 0], [0, 1e-200, 0]])):   # determinant 0 (underflow)
        out = _core.image.warp_affine(one, m, 2, 3, "bilinear", "replicate", 0.0)
        np.testing.assert_array_equal(out, np.full((1, 2, 3, 1), 217, np.uint8))


# --- 8. optimizer steps with overlapping in-place arrays gave ISA-dependent results ----------

def test_optimizer_steps_refuse_shared_memory():
    buf = np.ones(9, np.float32)
    w, m = buf[:-1], buf[1:]
    g = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _core.sgd_step(w, g, m, 0.1, 0.9, False)
    w = np.ones(8, np.float32)
    with pytest.raises(ValueError, match="share memory"):
        _core.sgd_step(w, g, w, 0.1, 0.9, False)
    with pytest.raises(ValueError, match="share memory"):
        _core.adam_step(w, w[::-1].copy(), w, np.ones(8, np.float32), 0.1, 0.9, 0.999, 1e-7)
    with pytest.raises(ValueError, match="share memory"):
        _core.rmsprop_step(w, np.ones(8, np.float32), np.ones(8, np.float32), None, w, 0.1, 0.9, 0.0, 1e-7)


# --- 9. merge took 0-d and 1-d "channels" and returned a wrong shape --------------------------

@pytest.mark.parametrize("plane", [np.uint8(3), np.zeros(4, np.uint8), np.zeros((1, 2, 2, 2), np.uint8)])
def test_merge_refuses_planes_that_are_not_images(plane):
    with pytest.raises(ValueError, match="channels"):
        fi.merge([plane, plane])


def test_merge_still_takes_planes_and_batch_planes():
    assert fi.merge([IMG[..., 0]] * 2).shape == (7, 9, 2)
    batch = np.stack([IMG, IMG])
    np.testing.assert_array_equal(fi.merge(fi.split(batch)), batch)


# --- 10. error messages that named no argument of the call ---------------------------------

def test_messages_name_the_called_functions_arguments():
    img = np.zeros((1, 2, 2, 1), np.uint8)
    with pytest.raises(ValueError, match="out_h"):
        _core.image.warp_affine(img, np.eye(2, 3), 0, 2, "bilinear", "constant", 0.0)
    with pytest.raises(ValueError, match="out_h"):
        _core.image.resize(img, 2, 0, "bilinear")
    with pytest.raises(ValueError, match="anchor_y"):
        _core.image.filter2d(img, np.ones((3, 3), np.float32), 3, 0, "reflect", 0.0)
    x, c = np.ones((4, 2), np.float32), np.ones(2, np.float32)
    with pytest.raises(ValueError, match="mean"):
        F.batch_norm_inference(x, c, c, np.ones(3, np.float32), c, 1e-3)


# --- 11. found by the public-op targets ---------------------------------------------------------

@pytest.mark.parametrize("shape,axis", [((0,), -1), ((0, 0), -2), ((3, 0), 0), ((0, 4), 1)])
def test_softmax_of_an_empty_array_is_empty(shape, axis):
    # was: numpy's "cannot reshape array of size 0 into shape (0)"
    out = F.softmax(np.zeros(shape, np.float32), axis=axis)
    assert out.shape == shape and out.dtype == np.float32


def test_dropout_names_its_rate():
    # was: "keep must be in (0, 1], got 0", the native argument, for rate=1.0
    for rate in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match="rate"):
            F.dropout(np.ones((2, 2), np.float32), rate, 1)
    with pytest.raises(TypeError, match="rate"):
        F.dropout(np.ones((2, 2), np.float32), "half", 1)


def test_kernel_beyond_float32_says_so():
    with pytest.raises(ValueError, match="float32"):
        fi.filter2d(IMG, np.array([[1e39]]))


# --- 12. resize read pixels with weight 0 (padded area taps read pixel 0; a clamped edge read its
# neighbour), so one NaN or inf pixel turned outputs that do not depend on it into NaN ----------

@pytest.mark.parametrize("interpolation", ["bilinear", "bicubic", "area", "nearest"])
def test_resize_keeps_a_nan_where_it_belongs(isa, interpolation):
    rng = np.random.default_rng(5)
    for (h, w), (oh, ow), bad in [((2, 2), (1, 3), (0, 1)), ((1, 22), (1, 18), (0, 0)), ((16, 9), (1, 5), (3, 0)),
                                  ((5, 15), (1, 4), (2, 14)), ((22, 1), (18, 1), (0, 0))]:
        x = rng.random((h, w)).astype(np.float32)
        for value in (np.nan, np.inf):
            x[bad] = value
            out = fi.resize(x, (oh, ow), interpolation)
            clean = x.copy()
            clean[bad] = 1e6                      # outputs this changes are the ones that depend on it
            moved = fi.resize(clean, (oh, ow), interpolation) != fi.resize(np.where(np.isfinite(x), x, 0), (oh, ow),
                                                                            interpolation)
            assert np.isfinite(out[~moved]).all(), f"{interpolation} {(h, w)}->{(oh, ow)}: NaN/inf leaked"


# --- 13. (long fuzz run) 1024 average-pool windows of 2^30 rows at stride 2^20 over one cell: its
# gradient is a float32 sum of 1024 terms, 1.1e-5 off in relative terms, beyond the target's fixed
# 1e-5 tolerance; the target now allows n * 2^-23 for n overlapping windows (float32's rounding
# bound for a sum of n terms), which this call stays well within --------------------------------

def test_avg_pool_backward_of_many_overlapping_huge_windows(isa):
    rng = np.random.default_rng(13)
    dy = np.broadcast_to(rng.standard_normal((3, 1, 1, 1)).astype(np.float32) * 1e3, (3, 1024, 1, 1))
    x = rng.standard_normal((3, 1, 1, 1)).astype(np.float32)
    pool, strides, pads = (1 << 30, 2), (1 << 20, 1), (((1 << 30) - 1, (1 << 30) - 1), (0, 1))
    out = _core.avg_pool2d_backward(dy, x, pool, strides, pads)
    want = dy.astype(np.float64).sum(axis=1, keepdims=True)          # each window's only real cell
    bound = np.abs(dy.astype(np.float64)).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(out, want, rtol=0, atol=2048 * 2.0 ** -23 * bound.max())


# --- 14. (long fuzz run 2) int32 rows holding 2^31 - 1 and -2^31: float32 partial sums of the rows
# round the small values beside the extremes; batch_norm_train's mean stays within 1e-6 of the
# mean absolute value (the target now allows that, as for the backward sums) -------------------

def test_batch_norm_mean_beside_cancelling_int32_extremes(isa):
    rng = np.random.default_rng(14)
    for _ in range(200):
        x = np.rint(3 + 2 * rng.standard_normal((64, 1)))
        for i, p in enumerate(rng.choice(64, size=int(rng.integers(2, 5)), replace=False)):
            x[p] = 2147483647 if i % 2 == 0 else -2147483648
        xi = x.astype(np.int32)
        mean = _core.batch_norm_train(xi, np.ones(1, np.float32), np.zeros(1, np.float32), 1e-3)[1][0]
        x64 = xi.astype(np.float64)
        assert abs(mean - x64.mean()) <= 1e-6 * np.abs(x64).mean()


# --- 15. (long fuzz run 2) a bicubic zoom of a 1 x 4 image of values ~0.1 beside a constant border
# of 255: the border takes part in the sums like a pixel, so float32 rounding is relative to 255,
# not to the image's values (1.2e-4 off); the warp targets now count the border value's size ------

def test_bicubic_zoom_beside_a_large_constant_border(isa):
    from reference import image as RI

    rng = np.random.default_rng(15)
    for _ in range(20):
        img = (rng.standard_normal((1, 4)) * 0.1).astype(np.float32)
        for zx in (2.75, 0.6, 1.3):
            got = fi.zoom(img, zx, interpolation="bicubic", border="constant", cval=255)
            want = RI.zoom(img.astype(np.float64), zx, interpolation="bicubic", border="constant", cval=255)
            np.testing.assert_allclose(got, np.asarray(want).reshape(got.shape), rtol=0, atol=1e-4 * 255)
