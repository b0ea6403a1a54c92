"""Bad input to foveal.image raises ValueError or TypeError naming the argument; nothing crashes
the interpreter (checked in a child process for the calls that reach native code)."""
import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import foveal.image as fi

X = np.zeros((6, 7, 3), np.uint8)              # a valid image
XF = np.zeros((6, 7, 3), np.float32)
G = np.zeros((6, 7), np.uint8)
K = np.ones((3, 3), np.float32) / 9
M = np.array([[1, 0, 1], [0, 1, 2]], np.float64)
nan, inf = float("nan"), float("inf")
V, T, VT = ValueError, TypeError, (ValueError, TypeError)

BAD_IMAGES = [
    (np.zeros(5, np.uint8), V),                  # 1-D
    (np.zeros((2, 2, 2, 2, 3), np.uint8), V),    # 5-D
    (np.zeros((0, 7, 3), np.uint8), V),          # empty
    (np.zeros((6, 0), np.uint8), V),
    (np.zeros((6, 7, 0), np.uint8), V),
    (np.zeros((6, 7, 5), np.uint8), V),          # five channels
    (np.uint8(3), V),                            # a scalar
    (np.zeros((6, 7, 3), np.complex64), T),
    (np.zeros((6, 7, 3), object), T),
    (np.full((6, 7, 3), "a"), T),
    (np.full((6, 7, 3), 300, np.int32), V),      # would be misread as uint8
    (np.full((6, 7, 3), -1, np.int64), V),
    (None, VT),
    ("image.png", VT),
]

# every op that takes an image first, with valid other arguments
IMAGE_OPS = [
    ("to_gray", ()), ("to_binary", ()), ("threshold", (100,)), ("split", ()),
    ("flip", ()), ("rotate90", ()), ("rotate", (30,)), ("warp_affine", (M,)), ("shift", (1, 2)),
    ("zoom", (1.5,)), ("resize", ((4, 5),)), ("adjust_brightness", (1.2,)), ("normalize", ()),
    ("center", ()), ("filter2d", (K,)), ("convolve2d", (K,)), ("gaussian_blur", (3,)),
    ("sharpen", ()), ("edges", ()), ("laplacian", ()), ("sobel", (1, 0)),
]


@pytest.mark.parametrize("op,extra", IMAGE_OPS, ids=[o for o, _ in IMAGE_OPS])
def test_bad_images(op, extra):
    _expect_errors(getattr(fi, op), [((bad,) + extra, exc, r"\bimg\b|\bx\b") for bad, exc in BAD_IMAGES])


def _describe(v):
    return f"array{v.shape}:{v.dtype}" if isinstance(v, np.ndarray) else repr(v)


def _expect_errors(fn, calls):
    """Each (args, exception, pattern) must raise that exception with a matching message; every
    call that does not is listed."""
    failures = []
    for args, exc, pattern in calls:
        what = f"{fn.__name__}({', '.join(_describe(a) for a in args)})"
        try:
            out = fn(*args)
        except exc as e:
            if not re.search(pattern, str(e)):
                failures.append(f"{what}: message does not name the argument: {e}")
        except Exception as e:  # noqa: BLE001
            failures.append(f"{what}: raised {type(e).__name__}: {e}")
        else:
            got = _describe(out) if isinstance(out, np.ndarray) else type(out).__name__
            failures.append(f"{what}: no error, returned {got}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("op", ["add", "subtract", "blend"])
def test_bad_pairs(op):
    fn = getattr(fi, op)
    extra = (0.5,) if op == "blend" else ()
    calls = []
    for bad, exc in BAD_IMAGES:
        if bad is None or isinstance(bad, str) or np.ndim(bad) == 0:
            continue                                        # b may be a scalar
        calls.append(((bad, bad) + extra, exc, r"\ba\b"))
        calls.append(((bad, X) + extra, exc, r"\ba\b|\bb\b"))
        calls.append(((X, bad) + extra, exc, r"\bb\b|\ba\b"))
    calls += [
        ((X, np.zeros((6, 8, 3), np.uint8)) + extra, V, r"\bb\b"),     # shapes differ
        ((X, G) + extra, V, r"\bb\b"),
        ((np.zeros((2, 6, 7, 3), np.uint8), X) + extra, V, r"\bb\b"),
        ((X, XF) + extra, VT, r"\bb\b"),                                  # dtypes differ
    ]
    _expect_errors(fn, calls)


# (function, args, kwargs, exception, regex the message must contain)
CASES = [
    # thresholds and scalars
    (fi.threshold, (X, nan), {}, V, "thresh"),
    (fi.threshold, (X, "a"), {}, T, "thresh"),
    (fi.threshold, (X, 10, nan), {}, V, "maxval"),
    (fi.to_binary, (X, nan), {}, V, "threshold"),
    (fi.to_binary, (X, "1"), {}, T, "threshold"),
    (fi.blend, (X, X, nan), {}, V, "alpha"),
    (fi.blend, (X, X, "0.5"), {}, T, "alpha"),
    (fi.blend, (X, X, 0.5, inf), {}, V, "beta"),
    (fi.blend, (X, X, 0.5, None, nan), {}, V, "gamma"),
    (fi.adjust_brightness, (X, nan), {}, V, "factor"),
    (fi.adjust_brightness, (X, "2"), {}, T, "factor"),
    (fi.adjust_brightness, (X, None), {}, T, "factor"),
    (fi.center, (XF,), {"mean": [1, 2]}, V, "mean"),
    (fi.center, (XF,), {"mean": [1, 2, 3, 4]}, V, "mean"),
    (fi.center, (XF,), {"mean": nan}, V, "mean"),
    (fi.center, (XF,), {"mean": [[1, 2, 3]]}, V, "mean"),
    # channels
    (fi.merge, ([],), {}, VT, "channels"),
    (fi.merge, ([G, np.zeros((6, 8), np.uint8)],), {}, V, "channels"),
    (fi.merge, ([G, G.astype(np.float32)],), {}, VT, "channels"),
    (fi.merge, (None,), {}, VT, "channels"),
    # flips
    (fi.flip, (X,), {"axis": "diagonal"}, V, "axis"),
    (fi.flip, (X,), {"axis": 1}, VT, "axis"),
    (fi.flip, (X,), {"axis": None}, VT, "axis"),
    (fi.rotate90, (X, 1.5), {}, V, r"\bk\b"),
    (fi.rotate90, (X, "1"), {}, T, r"\bk\b"),
    (fi.rotate90, (X, nan), {}, V, r"\bk\b"),
    # rotate / warps
    (fi.rotate, (X, nan), {}, V, "angle"),
    (fi.rotate, (X, inf), {}, V, "angle"),
    (fi.rotate, (X, -inf), {}, V, "angle"),
    (fi.rotate, (X, None), {}, T, "angle"),
    (fi.rotate, (X, "30"), {}, T, "angle"),
    (fi.rotate, (X, 30), {"scale": nan}, V, "scale"),
    (fi.rotate, (X, 30), {"center": (1,)}, V, "center"),
    (fi.rotate, (X, 30), {"center": (1, nan)}, V, "center"),
    (fi.rotate, (X, 30), {"interpolation": "cubic"}, V, "interpolation"),
    (fi.rotate, (X, 30), {"interpolation": "area"}, V, "interpolation"),
    (fi.rotate, (X, 30), {"interpolation": None}, VT, "interpolation"),
    (fi.rotate, (X, 30), {"border": "mirror"}, V, "border"),
    (fi.rotate, (X, 30), {"border": 0}, VT, "border"),
    (fi.rotate, (X, 30), {"cval": nan}, V, "cval"),
    (fi.rotate, (X, 30), {"cval": "0"}, T, "cval"),
    (fi.warp_affine, (X, np.eye(3)), {}, V, "matrix"),
    (fi.warp_affine, (X, np.eye(2)), {}, V, "matrix"),
    (fi.warp_affine, (X, M.ravel()), {}, V, "matrix"),
    (fi.warp_affine, (X, [[1, 0, 0], [0, 1]]), {}, VT, "matrix"),
    (fi.warp_affine, (X, np.full((2, 3), "a")), {}, VT, "matrix"),
    (fi.warp_affine, (X, M * nan), {}, V, "matrix"),
    (fi.warp_affine, (X, [[inf, 0, 0], [0, 1, 0]]), {}, V, "matrix"),
    (fi.warp_affine, (X, M), {"output_shape": (0, 5)}, V, "output_shape"),
    (fi.warp_affine, (X, M), {"output_shape": (5, -1)}, V, "output_shape"),
    (fi.warp_affine, (X, M), {"output_shape": (5,)}, V, "output_shape"),
    (fi.warp_affine, (X, M), {"output_shape": (5, 2.5)}, V, "output_shape"),
    (fi.warp_affine, (X, M), {"output_shape": (nan, 5)}, V, "output_shape"),
    (fi.warp_affine, (X, M), {"output_shape": "ab"}, VT, "output_shape"),
    (fi.warp_affine, (X, M), {"interpolation": "area"}, V, "interpolation"),
    (fi.warp_affine, (X, M), {"border": "reflect_101"}, V, "border"),
    (fi.shift, (X, nan, 1), {}, V, "dx"),
    (fi.shift, (X, 1, inf), {}, V, "dy"),
    (fi.shift, (X, "1", 1), {}, T, "dx"),
    (fi.shift, (X, 1, 1), {"border": "mirror"}, V, "border"),
    (fi.zoom, (X, nan), {}, V, "zx"),
    (fi.zoom, (X, 1.0, inf), {}, V, "zy"),
    (fi.zoom, (X, 1.2), {"interpolation": "lanczos"}, V, "interpolation"),
    # resize
    (fi.resize, (X, (0, 5)), {}, V, "size"),
    (fi.resize, (X, (5, 0)), {}, V, "size"),
    (fi.resize, (X, (-2, 5)), {}, V, "size"),
    (fi.resize, (X, (5,)), {}, V, "size"),
    (fi.resize, (X, (5, 5, 5)), {}, V, "size"),
    (fi.resize, (X, (5.5, 3)), {}, V, "size"),
    (fi.resize, (X, (nan, 3)), {}, V, "size"),
    (fi.resize, (X, ("a", 3)), {}, VT, "size"),
    (fi.resize, (X, None), {}, VT, "size"),
    (fi.resize, (X, (4, 4)), {"interpolation": "lanczos"}, V, "interpolation"),
    (fi.resize, (X, (4, 4)), {"interpolation": "linear"}, V, "interpolation"),
    (fi.resize, (X, (4, 4)), {"interpolation": 1}, VT, "interpolation"),
    # filters
    (fi.filter2d, (X, np.ones(3, np.float32)), {}, V, "kernel"),
    (fi.filter2d, (X, np.ones((3, 3, 3), np.float32)), {}, V, "kernel"),
    (fi.filter2d, (X, np.ones((0, 3), np.float32)), {}, V, "kernel"),
    (fi.filter2d, (X, np.float32(1.0)), {}, V, "kernel"),
    (fi.filter2d, (X, K * nan), {}, V, "kernel"),
    (fi.filter2d, (X, K * inf), {}, V, "kernel"),
    (fi.filter2d, (X, np.full((3, 3), "a")), {}, T, "kernel"),
    (fi.filter2d, (X, K.astype(np.complex64)), {}, T, "kernel"),
    (fi.filter2d, (X, None), {}, VT, "kernel"),
    (fi.filter2d, (X, K), {"border": "mirror"}, V, "border"),
    (fi.filter2d, (X, K), {"border": "reflect_101"}, V, "border"),
    (fi.filter2d, (X, K), {"border": None}, VT, "border"),
    (fi.filter2d, (X, K), {"cval": nan}, V, "cval"),
    (fi.convolve2d, (X, np.ones(3, np.float32)), {}, V, "kernel"),
    (fi.convolve2d, (X, K), {"border": "mirror"}, V, "border"),
    (fi.gaussian_blur, (X, 4), {}, V, "ksize"),
    (fi.gaussian_blur, (X, 0), {}, V, "ksize"),
    (fi.gaussian_blur, (X, -3), {}, V, "ksize"),
    (fi.gaussian_blur, (X, 3.5), {}, V, "ksize"),
    (fi.gaussian_blur, (X, nan), {}, V, "ksize"),
    (fi.gaussian_blur, (X, "3"), {}, T, "ksize"),
    (fi.gaussian_blur, (X, None), {}, T, "ksize"),
    (fi.gaussian_blur, (X, 3, nan), {}, V, "sigma"),
    (fi.gaussian_blur, (X, 3, "1"), {}, T, "sigma"),
    (fi.sobel, (X, 0, 0), {}, V, r"dx|dy"),
    (fi.sobel, (X, -1, 0), {}, V, "dx"),
    (fi.sobel, (X, 0, -1), {}, V, "dy"),
    (fi.sobel, (X, 3, 0), {}, V, "dx"),
    (fi.sobel, (X, 0, 3, 3), {}, V, "dy"),
    (fi.sobel, (X, 1, 0, 4), {}, V, "ksize"),
    (fi.sobel, (X, 1, 0, 0), {}, V, "ksize"),
    (fi.sobel, (X, 1, 0, 9.5), {}, V, "ksize"),
    (fi.sobel, (X, 1.5, 0), {}, V, "dx"),
    (fi.kernels.gaussian, (4, 1.0), {}, V, "ksize"),
    (fi.kernels.gaussian, (0, 1.0), {}, V, "ksize"),
    (fi.kernels.gaussian, (3, nan), {}, V, "sigma"),
]


def _case_id(i, case):
    fn, args, kwargs, _, pattern = case
    return f"{i:03d}-{fn.__name__}-{re.sub(r'[^a-z_]', '', pattern)}"


@pytest.mark.parametrize("fn,args,kwargs,exc,pattern", CASES, ids=[_case_id(i, c) for i, c in enumerate(CASES)])
def test_bad_arguments(fn, args, kwargs, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn(*args, **kwargs)


def test_inputs_untouched_after_errors():
    x = np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3)
    keep = x.copy()
    for call in (lambda: fi.rotate(x, nan), lambda: fi.resize(x, (0, 2)), lambda: fi.filter2d(x, K * nan),
                 lambda: fi.add(x, x[:, :6])):
        with pytest.raises(VT):
            call()
    np.testing.assert_array_equal(x, keep)


CHILD = r"""
import math, sys
import numpy as np
import foveal.image as fi

X = np.arange(6 * 7 * 3, dtype=np.uint8).reshape(6, 7, 3)
XF = X.astype(np.float32)
K = np.ones((3, 3), np.float32)
big = 1e300
calls = [
    lambda: fi.shift(X, big, 0), lambda: fi.shift(X, -big, big, border="reflect"),
    lambda: fi.shift(XF, 1e18, 3, border="wrap"), lambda: fi.shift(X, 2**31, 2**31, border="reflect101"),
    lambda: fi.shift(X, -2**63, 1, interpolation="bicubic", border="wrap"),
    lambda: fi.rotate(X, 30, scale=big), lambda: fi.rotate(X, 30, scale=0.0),
    lambda: fi.rotate(X, 1e300), lambda: fi.rotate(X, 30, center=(big, -big), border="reflect"),
    lambda: fi.zoom(X, 0.0), lambda: fi.zoom(X, 1e-300, border="wrap"), lambda: fi.zoom(X, big),
    lambda: fi.zoom(X, -1.0, interpolation="bicubic", border="reflect101"),
    lambda: fi.warp_affine(X, np.zeros((2, 3))), lambda: fi.warp_affine(X, [[big, 0, 0], [0, big, 0]]),
    lambda: fi.warp_affine(X, [[1, 0, big], [0, 1, -big]], border="wrap"),
    lambda: fi.warp_affine(X, np.full((2, 3), np.nan)), lambda: fi.warp_affine(X, np.eye(2, 3), (1, 100000)),
    lambda: fi.warp_affine(X, np.eye(2, 3), (2**40, 2**40)),
    lambda: fi.warp_affine(X, [[1e-300, 0, 0], [0, 1e-300, 0]], interpolation="bicubic", border="reflect"),
    lambda: fi.resize(X, (2**40, 2**40)), lambda: fi.resize(X, (2**62, 1)),
    lambda: fi.resize(np.zeros((1, 1, 3), np.uint8), (1000, 3), interpolation="area"),
    lambda: fi.resize(np.zeros((1000, 1, 1), np.float32), (1, 1), interpolation="area"),
    lambda: fi.filter2d(np.zeros((1, 1), np.uint8), np.ones((101, 101), np.float32), border="reflect101"),
    lambda: fi.filter2d(np.zeros((1, 2), np.uint8), np.ones((99, 1), np.float32), border="wrap"),
    lambda: fi.filter2d(X, K, cval=big), lambda: fi.filter2d(X, K * 1e30),
    lambda: fi.filter2d(XF, K * 3e38), lambda: fi.filter2d(XF * np.float32(3e38), K),
    lambda: fi.gaussian_blur(X, 10001), lambda: fi.gaussian_blur(X, 3, 1e300), lambda: fi.gaussian_blur(X, 3, 1e-300),
    lambda: fi.sobel(X, 6, 0, 7), lambda: fi.sobel(X, 100, 0, 7), lambda: fi.sobel(X, 1, 0, 2**31 + 1),
    lambda: fi.threshold(X, big, big), lambda: fi.threshold(X, -big, -big), lambda: fi.threshold(XF, 0, 1e39),
    lambda: fi.blend(X, X, big, -big, big), lambda: fi.blend(XF, XF, 1e38, 1e38),
    lambda: fi.adjust_brightness(X, big), lambda: fi.adjust_brightness(X, -big), lambda: fi.adjust_brightness(XF, 1e39),
    lambda: fi.rotate90(X, 2**62), lambda: fi.rotate90(X, -2**62),
    lambda: fi.add(np.broadcast_to(X[:1], X.shape), X), lambda: fi.flip(np.broadcast_to(X[:1, :1], X.shape)),
    lambda: fi.filter2d(np.lib.stride_tricks.as_strided(X, (6, 7, 3), (0, 0, 1)), K),
    lambda: fi.center(XF, [big, -big, 0]),
    lambda: fi.to_gray(np.zeros((1, 1, 1, 1, 1), np.uint8)),
    lambda: fi.merge([np.zeros((2, 2), np.uint8)] * 5), lambda: fi.merge([np.zeros((2, 2, 2), np.uint8)] * 3),
    lambda: fi.split(np.zeros((2, 2, 2, 2, 2), np.uint8)),
]
for i, call in enumerate(calls):
    try:
        call()
    except (ValueError, TypeError, OverflowError, MemoryError):
        pass
print("done", len(calls))
"""


def test_bad_calls_cannot_crash_the_interpreter():
    proc = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0 and "done" in proc.stdout, \
        f"child exited with {proc.returncode}\nstdout: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-4000:]}"
