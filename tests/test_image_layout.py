"""Every foveal.image op on every memory layout: non-contiguous views (slices, negative strides,
transposes, Fortran order, channel slices), read-only arrays and plain lists give exactly the
result of the contiguous array, and never modify the input. Also: results do not depend on the
thread count, ops are safe to call from several Python threads, every kernel ISA matches OpenCV,
and a batch equals its images one by one."""
import threading

import numpy as np
import pytest

import foveal
import foveal.image as fi
from check import check_op, warp_tol
from inputs import BORDERS, DTYPES, img, kernel

# every test on one native thread (see one_native_thread in conftest.py)
pytestmark = pytest.mark.usefixtures("one_native_thread")

dtype_id = lambda d: np.dtype(d).name  # noqa: E731
M = np.array([[0.9, 0.2, 1.3], [-0.15, 1.1, 0.7]])
K54 = kernel(5, 4)


def _other(x):
    """A second operand for the two-image ops (same shape and dtype)."""
    x = np.asarray(x)
    return img(*x.shape, dtype=np.uint8 if x.dtype.kind in "iu" else np.float32, seed=99)


def _ops(dtype):
    """(name, fn(x) -> result) for every op; x is H x W, H x W x C or a batch."""
    th = 100 if dtype == np.uint8 else 0.4
    ops = [
        ("to_gray", lambda x: fi.to_gray(x)),
        ("to_binary", lambda x: fi.to_binary(x, th)),
        ("threshold", lambda x: fi.threshold(x, th, 200 if dtype == np.uint8 else 2.0)),
        ("add", lambda x: fi.add(x, _other(x))),
        ("add_b_view", lambda x: fi.add(_other(x), x)),
        ("subtract", lambda x: fi.subtract(x, _other(x))),
        ("subtract_b_view", lambda x: fi.subtract(_other(x), x)),
        ("blend", lambda x: fi.blend(x, _other(x), 0.3)),
        ("blend_b_view", lambda x: fi.blend(_other(x), x, 0.3, 0.9, 2.0)),
        ("split", lambda x: np.stack(fi.split(x), -1)),
        ("flip_h", lambda x: fi.flip(x)),
        ("flip_v", lambda x: fi.flip(x, "vertical")),
        ("flip_both", lambda x: fi.flip(x, "both")),
        ("rotate90", lambda x: fi.rotate90(x)),
        ("rotate90_3", lambda x: fi.rotate90(x, 3)),
        ("adjust_brightness", lambda x: fi.adjust_brightness(x, 1.3)),
        ("filter2d", lambda x: fi.filter2d(x, K54)),
        ("convolve2d", lambda x: fi.convolve2d(x, K54, border="wrap")),
        ("gaussian_blur", lambda x: fi.gaussian_blur(x, 5)),
        ("sharpen", lambda x: fi.sharpen(x)),
        ("edges", lambda x: fi.edges(x)),
        ("laplacian", lambda x: fi.laplacian(x)),
        ("sobel", lambda x: fi.sobel(x, 1, 0)),
        ("sobel_y5", lambda x: fi.sobel(x, 0, 2, 5)),
    ]
    for b in BORDERS:
        ops.append((f"filter2d_{b}", lambda x, b=b: fi.filter2d(x, kernel(3, 3), border=b, cval=3)))
        ops.append((f"warp_affine_{b}", lambda x, b=b: fi.warp_affine(x, M, border=b, cval=3)))
    for it in ("nearest", "bilinear", "bicubic"):
        ops.append((f"rotate_{it}", lambda x, it=it: fi.rotate(x, 33.3, interpolation=it)))
        ops.append((f"shift_{it}", lambda x, it=it: fi.shift(x, 1.3, -2.6, interpolation=it, border="reflect")))
        ops.append((f"zoom_{it}", lambda x, it=it: fi.zoom(x, 1.4, 0.7, interpolation=it, border="wrap")))
        ops.append((f"warp_out_{it}", lambda x, it=it: fi.warp_affine(x, M, (7, 19), interpolation=it)))
    for it in ("nearest", "bilinear", "bicubic", "area"):
        ops.append((f"resize_down_{it}", lambda x, it=it: fi.resize(x, (5, 6), interpolation=it)))
        ops.append((f"resize_up_{it}", lambda x, it=it: fi.resize(x, (23, 29), interpolation=it)))
    if dtype == np.uint8:
        ops.append(("normalize", lambda x: fi.normalize(x)))
    else:
        ops.append(("center", lambda x: fi.center(x)))
        ops.append(("center_mean", lambda x: fi.center(x, 0.5)))
    return ops


def _variants(x):
    """(name, array) holding the same values as x in other layouts."""
    out = []
    big = np.zeros((x.shape[0] * 2, x.shape[1] * 3) + x.shape[2:], x.dtype)
    big[::2, ::3] = x
    out.append(("strided", big[::2, ::3]))
    out.append(("negative_strides", np.ascontiguousarray(x[::-1, ::-1])[::-1, ::-1]))
    out.append(("fortran", np.asfortranarray(x)))
    out.append(("transposed", np.ascontiguousarray(np.swapaxes(x, 0, 1)).swapaxes(0, 1)))
    if x.ndim == 3:
        wide = np.concatenate([x, _other(x)], axis=-1)
        out.append(("channel_slice", wide[..., :x.shape[2]]))
        out.append(("channels_first_view", np.ascontiguousarray(np.moveaxis(x, -1, 0)).transpose(1, 2, 0)))
    ro = x.copy()
    ro.setflags(write=False)
    out.append(("readonly", ro))
    ro_view = big.copy()
    ro_view.setflags(write=False)
    out.append(("readonly_strided", ro_view[::2, ::3]))
    out.append(("list", x.tolist()))
    return out


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(11, 14, 3), (11, 14), (10, 13, 4), (9, 12, 1), (1, 7, 3)], ids=str)
def test_layouts_give_the_same_result(shape, dtype):
    x = img(*shape, dtype=dtype)
    failures = []
    for name, fn in _ops(dtype):
        base = fn(x)
        for vname, v in _variants(x):
            keep = np.array(v, copy=True)
            try:
                out = fn(v)
            except Exception as e:  # noqa: BLE001 - report every op and layout that fails
                failures.append(f"{name} on {vname}: raised {type(e).__name__}: {e}")
                continue
            if not isinstance(v, list) and not np.array_equal(np.asarray(v), keep):
                failures.append(f"{name} on {vname}: modified its input")
            if not (isinstance(out, np.ndarray) and out.dtype == base.dtype and out.shape == base.shape
                    and np.array_equal(out, base)):
                failures.append(f"{name} on {vname}: result differs from the contiguous input's")
    assert not failures, "\n".join(failures)


def test_merge_layouts():
    x = img(9, 11, 3)
    planes = [x[..., i] for i in range(3)]                        # strided views
    ro = [np.array(p) for p in planes]
    for p in ro:
        p.setflags(write=False)
    for chans in (planes, ro, [p.tolist() for p in ro], tuple(planes), [p[::-1][::-1] for p in planes]):
        np.testing.assert_array_equal(fi.merge(chans), x)


def test_to_rgb_layouts():
    g = img(9, 11)
    for v in (g[::-1][::-1], np.asfortranarray(g), g.T.copy().T, g.tolist(), g[:, :, None][..., 0]):
        np.testing.assert_array_equal(fi.to_rgb(v), np.repeat(g[..., None], 3, -1))


def test_other_integer_and_float_dtypes_are_converted_not_misread():
    x = img(6, 7, 3)
    for dt in (np.int32, np.int64, np.uint16, np.int16):
        np.testing.assert_array_equal(fi.flip(x.astype(dt)), fi.flip(x))
        np.testing.assert_array_equal(fi.filter2d(x.astype(dt), K54), fi.filter2d(x, K54))
    xf = img(6, 7, 3, dtype=np.float32)
    np.testing.assert_array_equal(fi.flip(xf.astype(np.float64)), fi.flip(xf))
    np.testing.assert_allclose(fi.filter2d(xf.astype(np.float64), K54), fi.filter2d(xf, K54), atol=1e-6)


# -------------------------------------------------------------------------------- batches

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_batch_equals_images_one_by_one(dtype):
    xb = img(3, 10, 13, 3, dtype=dtype)
    failures = []
    for name, fn in _ops(dtype):
        if name == "center":
            continue                 # the per-channel mean is over the whole batch (below)
        try:
            out = fn(xb)
        except Exception as e:  # noqa: BLE001
            failures.append(f"{name}: batch raised {type(e).__name__}: {e}")
            continue
        if name.startswith(("add", "subtract", "blend")):
            # _other() of a batch is not the stack of _other() of each image: recompute
            other = _other(xb)
            f = {"add": fi.add, "subtract": fi.subtract}.get(name.split("_")[0])
            per = []
            for i in range(3):
                if name == "blend":
                    per.append(fi.blend(xb[i], other[i], 0.3))
                elif name == "blend_b_view":
                    per.append(fi.blend(other[i], xb[i], 0.3, 0.9, 2.0))
                elif name.endswith("b_view"):
                    per.append(f(other[i], xb[i]))
                else:
                    per.append(f(xb[i], other[i]))
            expected = np.stack(per)
        else:
            expected = np.stack([fn(xb[i]) for i in range(3)])
        if not (isinstance(out, np.ndarray) and out.shape == expected.shape and out.dtype == expected.dtype
                and np.array_equal(out, expected)):
            failures.append(f"{name}: batch result differs from per-image results "
                            f"({getattr(out, 'shape', None)} vs {expected.shape})")
    assert not failures, "\n".join(failures)


def test_center_batch_uses_the_whole_batch_mean():
    xb = img(4, 5, 6, 3, dtype=np.float32)
    out = fi.center(xb)
    np.testing.assert_allclose(out, xb - xb.reshape(-1, 3).astype(np.float64).mean(0), atol=1e-5)


# -------------------------------------------------------------------------------- threads

@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
@pytest.mark.parametrize("shape", [(37, 53, 3), (3, 2000, 4), (2, 31, 17, 1), (64, 1, 3)], ids=str)
def test_thread_count_does_not_change_results(shape, dtype):
    x = img(*shape, dtype=dtype)
    ops = _ops(dtype)
    single = [fn(x) for _, fn in ops]
    failures = []
    for n in (2, 3, 7):
        foveal.set_num_threads(n)
        for (name, fn), ref in zip(ops, single):
            out = fn(x)
            if not np.array_equal(out, ref):
                err = np.abs(out.astype(np.float64) - ref).max() if out.shape == ref.shape else "shape"
                failures.append(f"{name} with {n} threads differs from 1 thread (max error {err})")
    assert not failures, "\n".join(failures)


def test_concurrent_calls_from_python_threads():
    foveal.set_num_threads(2)
    xs = [img(40, 50, 3, seed=s) for s in range(4)] + [img(40, 50, 3, dtype=np.float32, seed=s) for s in range(4)]
    jobs = [
        lambda x: fi.filter2d(x, K54, border="reflect"),
        lambda x: fi.gaussian_blur(x, 7),
        lambda x: fi.resize(x, (31, 77), interpolation="bicubic"),
        lambda x: fi.rotate(x, 20, border="wrap"),
        lambda x: fi.blend(x, x[::-1], 0.3),
        lambda x: fi.sobel(x, 1, 1),
    ]
    expected = [[job(x) for job in jobs] for x in xs]
    errors = []

    def worker(i):
        try:
            for _ in range(5):
                for j, job in enumerate(jobs):
                    if not np.array_equal(job(xs[i]), expected[i][j]):
                        errors.append(f"image {i} job {j}: concurrent result differs")
        except Exception as e:  # noqa: BLE001
            errors.append(f"image {i}: {type(e).__name__}: {e}")

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread hung"
    assert not errors, "\n".join(errors[:20])


# ----------------------------------------------------------------------------------- ISAs

# widths around SIMD register sizes (x 1, 3, 4 channels) and a very wide image
ISA_SHAPES = [(5, w, c) for w in (1, 2, 3, 4, 5, 6, 7, 8, 9, 15, 16, 17, 21, 31, 32, 33, 65)
              for c in (1, 3, 4)] + [(3, 2000), (3, 2000, 3), (2, 3, 3), (1, 1, 4), (4, 6), (3, 16)]


@pytest.mark.parametrize("dtype", DTYPES, ids=dtype_id)
def test_every_isa_matches_opencv(isa, dtype):
    for shape in ISA_SHAPES:
        x = img(*shape, dtype=dtype)
        y = img(*shape, dtype=dtype, seed=7)
        if len(shape) == 3 and shape[2] in (3, 4):
            check_op("image.to_gray", x)
        check_op("image.add", x, y)
        check_op("image.subtract", x, y)
        check_op("image.blend", x, y, 0.35, 0.8, 3.0)
        check_op("image.adjust_brightness", x, 1.7)
        check_op("image.threshold", x, 100 if dtype == np.uint8 else 0.4, 200)
        check_op("image.to_binary", x, 100 if dtype == np.uint8 else 0.4)
        if dtype == np.uint8:
            check_op("image.normalize", x)
        for axis in ("horizontal", "vertical", "both"):
            check_op("image.flip", x, axis=axis)
        check_op("image.rotate90", x, 1)
        check_op("image.rotate90", x, -1)
        check_op("image.filter2d", x, kernel(3, 3), border="reflect")
        check_op("image.filter2d", x, kernel(5, 4), border="wrap")
        check_op("image.filter2d", x, kernel(7, 7), border="constant", cval=5)
        check_op("image.gaussian_blur", x, 5)
        check_op("image.gaussian_blur", x, 7, 1.3)
        check_op("image.gaussian_blur", x, 15)
        check_op("image.sharpen", x)
        check_op("image.laplacian", x)
        check_op("image.sobel", x, 1, 0, 5)
        for it in ("nearest", "bilinear", "bicubic", "area"):
            for size in ((4, shape[1] * 2 + 1), (7, max(1, shape[1] // 3)), (3, shape[1] + 3)):
                check_op("image.resize", x, size, interpolation=it)
        m = np.array([[0.93, 0.21, 0.37], [-0.17, 1.07, 0.29]])
        for it in ("nearest", "bilinear", "bicubic"):
            for border in BORDERS:
                check_op("image.warp_affine", x, m, interpolation=it, border=border, cval=5,
                      tol=warp_tol(m, shape[:2]))
            out_hw = (3, 2 * shape[1] + 3)
            check_op("image.warp_affine", x, m, out_hw, interpolation=it, border="wrap", tol=warp_tol(m, out_hw))
