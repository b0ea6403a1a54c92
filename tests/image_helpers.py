"""OpenCV references for foveal.image and one helper that compares an op with its reference,
so that each test case is a single line (as tinygrad's test_ops):

    check("rotate", img(17, 23, 3), 30, interpolation="bicubic", border="reflect")

runs ``foveal.image.rotate`` and ``ref.rotate`` (below, built on OpenCV 5) on the same arguments.

Tolerances: uint8 results must equal OpenCV exactly where OpenCV's op is exact (colour conversion,
saturating arithmetic, channel and flip ops, thresholds, nearest-neighbour sampling) and be within 1
elsewhere (rounding of a weighted sum); float32 results within ``1e-4 * max(1, |values|)``.
"""
from __future__ import annotations

import zlib

import cv2
import numpy as np
import pytest

import foveal
import foveal.image as fi

# ------------------------------------------------------------------------------------ threads

@pytest.fixture(autouse=True)
def one_native_thread():
    """The comparison grids run on one native thread: thousands of tiny images would otherwise
    mostly measure thread wake-ups on a small machine. test_image_layout.py checks that every
    op gives identical results on several threads."""
    previous = foveal.get_num_threads()
    foveal.set_num_threads(1)
    try:
        yield
    finally:
        foveal.set_num_threads(previous)


# ------------------------------------------------------------------------------------ inputs

# (rows, cols) of the test images: odd and even, single pixel, single row and column, very wide.
SIZES = [(17, 23), (16, 24), (1, 1), (1, 9), (9, 1), (2, 3), (3, 2000)]
CHANNELS = [None, 1, 3, 4]            # None: H x W gray
DTYPES = [np.uint8, np.float32]
BORDERS = ["constant", "replicate", "nearest", "reflect", "reflect101", "wrap"]


def shape_of(size, channels):
    return tuple(size) if channels is None else (*size, channels)


def img(*shape, dtype=np.uint8, seed=0, lo=None, hi=None):
    """A reproducible random image: uint8 over the full 0..255 range (so saturation is exercised),
    float32 uniform in [lo, hi) (default [0, 1))."""
    dtype = np.dtype(dtype)
    key = zlib.crc32(repr((shape, dtype.str, seed, lo, hi)).encode())
    rng = np.random.default_rng(key)
    if dtype == np.uint8:
        return rng.integers(0 if lo is None else lo, 256 if hi is None else hi, shape, dtype=np.uint8)
    lo = 0.0 if lo is None else lo
    hi = 1.0 if hi is None else hi
    return (rng.random(shape) * (hi - lo) + lo).astype(dtype)


def smooth_img(h, w, c=None, dtype=np.uint8, seed=0):
    """A smooth image (sums of low-frequency waves) for lossy codecs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    planes = []
    for _ in range(c or 1):
        a, b, p = rng.uniform(0.02, 0.08, 3)
        planes.append(0.5 + 0.25 * np.sin(a * xx + p) + 0.25 * np.cos(b * yy))
    out = np.stack(planes, -1) if c else planes[0]
    return (out * 255).round().astype(np.uint8) if np.dtype(dtype) == np.uint8 else out.astype(dtype)


def kernel(kh, kw, seed=0):
    """A random float32 kernel whose entries sum to about 1 (so uint8 results are not all saturated)."""
    rng = np.random.default_rng(zlib.crc32(repr((kh, kw, seed)).encode()))
    k = rng.standard_normal((kh, kw))
    k = k / max(1.0, np.abs(k).sum()) * 1.5
    k.flat[(kh // 2) * kw + kw // 2] += 0.5
    return k.astype(np.float32)


# -------------------------------------------------------------------------- OpenCV references

WARP_INTERP = {"nearest": cv2.INTER_NEAREST, "bilinear": cv2.INTER_LINEAR, "bicubic": cv2.INTER_CUBIC}
RESIZE_INTERP = {"nearest": cv2.INTER_NEAREST_EXACT, "bilinear": cv2.INTER_LINEAR,
                 "bicubic": cv2.INTER_CUBIC, "area": cv2.INTER_AREA}
CV_BORDER = {"constant": cv2.BORDER_CONSTANT, "replicate": cv2.BORDER_REPLICATE,
             "nearest": cv2.BORDER_REPLICATE, "reflect": cv2.BORDER_REFLECT,
             "reflect101": cv2.BORDER_REFLECT_101, "wrap": cv2.BORDER_WRAP}

KERNELS = {
    "IDENTITY": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], np.float64),
    "BOX3": np.ones((3, 3)) / 9.0,
    "GAUSSIAN3": np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], np.float64) / 16.0,
    "SHARPEN": np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], np.float64),
    "EDGE": np.array([[-1, -1, -1], [-1, 8, -1], [-1, -1, -1]], np.float64),
}


def _per_image(fn):
    """Apply a 2-D (H x W or H x W x C) OpenCV reference to each image of an N x H x W x C batch,
    and put back the channel axis OpenCV drops from H x W x 1 arrays."""
    def wrapped(x, *args, **kwargs):
        x = np.asarray(x)
        if x.ndim == 4:
            return np.stack([wrapped(one, *args, **kwargs) for one in x])
        out = np.asarray(fn(np.ascontiguousarray(x), *args, **kwargs))
        if x.ndim == 3 and x.shape[2] == 1 and out.ndim == 2:
            out = out[..., None]
        return out
    wrapped.__name__ = fn.__name__
    return wrapped


def _per_pair(fn):
    """Two-image version of _per_image (OpenCV's arithmetic keeps the shape up to a dropped axis)."""
    def wrapped(a, b, *args, **kwargs):
        a, b = np.asarray(a), np.asarray(b)
        if a.ndim == 4:
            return np.stack([wrapped(x, y, *args, **kwargs) for x, y in zip(a, b)])
        out = np.asarray(fn(np.ascontiguousarray(a), np.ascontiguousarray(b), *args, **kwargs))
        return out.reshape(a.shape)
    wrapped.__name__ = fn.__name__
    return wrapped


def _cval4(cval):
    return (float(cval),) * 4


def _border_index(i, n, border):
    """Source index for integer positions i on an axis of n pixels (None where constant)."""
    if border == "constant":
        return np.clip(i, 0, n - 1), (i >= 0) & (i < n)
    if border in ("replicate", "nearest"):
        return np.clip(i, 0, n - 1), None
    if border == "wrap":
        return np.mod(i, n), None
    if n == 1:
        return np.zeros_like(i), None
    period = 2 * n if border == "reflect" else 2 * n - 2
    j = np.mod(i, period)
    return np.where(j < n, j, period - 1 - j if border == "reflect" else period - j), None


def _cubic_weight(t, a=-0.75):
    t = np.abs(t)
    return np.where(t <= 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


TIE_EPS = 1e-9


def nearest_index(s, n, border):
    """The source index nearest-neighbour sampling takes at float64 coordinates s on an axis of
    n pixels (foveal's documented rule, OpenCV 5.1's at exact ties): the nearest pixel centre;
    a position within TIE_EPS of half-way between two centres takes the upper one for constant
    and replicate borders (but the far edge n - 0.5 stays in the image for constant) and the
    even one for reflect, reflect101 and wrap."""
    f = np.floor(s)
    d = s - f - 0.5
    lo = f.astype(np.int64)
    if border == "constant":
        at_tie = np.where(lo + 1 == n, lo, lo + 1)
    elif border in ("replicate", "nearest"):
        at_tie = lo + 1
    else:
        at_tie = np.where(lo % 2 == 0, lo, lo + 1)
    return np.where(np.abs(d) <= TIE_EPS, at_tie, np.where(d < 0, lo, lo + 1))


def opencv_nearest_is_rule(matrix, out_hw, in_hw):
    """True where OpenCV 5.1's nearest warpAffine gives its rule's answer, not an accident of its
    float arithmetic: no source coordinate lies within 1e-4 pixel of a tie, or every entry of
    the inverse matrix is a multiple of 2^-10 (then float32 and float64 arithmetic are exact)
    and no axis of the image is 1 pixel long (5.1 takes another path there, which rounds every
    tie to even)."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    ys, xs = np.mgrid[0:out_hw[0], 0:out_hw[1]].astype(np.float64)
    coords = np.stack([inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2],
                       inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]])
    near_tie = np.abs(coords - np.floor(coords) - 0.5) < 1e-4
    if not near_tie.any():
        return True
    dyadic = np.all(inv * 1024 == np.round(inv * 1024)) and np.abs(coords).max() < 2 ** 20
    return bool(dyadic and min(in_hw) > 1)


def exact_warp_affine(x, matrix, out_hw, interpolation, border, cval):
    """warpAffine in float64 NumPy (H x W x C input): the same maths as OpenCV 5, without its
    limits and accidents (see ref.warp_affine); nearest ties by nearest_index. uint8 results are
    rounded half to even and saturated."""
    h, w = x.shape[:2]
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    ys, xs = np.mgrid[0:out_hw[0], 0:out_hw[1]].astype(np.float64)
    sx = inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2]
    sy = inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]
    src = x.astype(np.float64)

    def sample(yy, xx):
        iy, oky = _border_index(yy, h, border)
        ix, okx = _border_index(xx, w, border)
        v = src[iy, ix]
        if border == "constant":
            v = np.where((oky & okx)[..., None], v, float(cval))
        return v

    if interpolation == "nearest":
        out = sample(nearest_index(sy, h, border), nearest_index(sx, w, border))
    else:
        x0, y0 = np.floor(sx).astype(np.int64), np.floor(sy).astype(np.int64)
        fx, fy = sx - x0, sy - y0
        if interpolation == "bilinear":
            tx, ty = [(0, 1 - fx), (1, fx)], [(0, 1 - fy), (1, fy)]
        else:
            tx = [(i, _cubic_weight(fx - i)) for i in range(-1, 3)]
            ty = [(j, _cubic_weight(fy - j)) for j in range(-1, 3)]
        out = 0.0
        for j, wy in ty:
            for i, wx in tx:
                out = out + sample(y0 + j, x0 + i) * (wx * wy)[..., None]
    if x.dtype == np.uint8:
        return np.clip(np.rint(out), 0, 255).astype(np.uint8)
    return out.astype(np.float32)


def _samples_far_outside(matrix, out_hw, in_hw):
    """True when some output pixel samples more than half the image size outside the image."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[0, 0, 1], [out_hw[1] - 1, 0, 1], [0, out_hw[0] - 1, 1],
                        [out_hw[1] - 1, out_hw[0] - 1, 1]], np.float64)
    src = corners @ inv.T                                   # affine: extremes at the corners
    h, w = in_hw
    return bool(np.any(src[:, 0] < -0.5 * w) or np.any(src[:, 0] > 1.5 * w)
                or np.any(src[:, 1] < -0.5 * h) or np.any(src[:, 1] > 1.5 * h))


class ref:
    """foveal.image's signatures, computed with OpenCV (or NumPy where OpenCV has no such op)."""

    # ---- colour and arithmetic
    @staticmethod
    def to_gray(x):
        x = np.asarray(x)
        if x.ndim == 4:
            return np.stack([ref.to_gray(one) for one in x])
        if x.ndim == 2:
            return x.copy()
        if x.shape[2] == 1:
            return x[..., 0].copy()
        if x.dtype == np.uint8:
            return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY if x.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
        x64 = x.astype(np.float64)
        return (0.299 * x64[..., 0] + 0.587 * x64[..., 1] + 0.114 * x64[..., 2]).astype(np.float32)

    @staticmethod
    def to_rgb(x):
        x = np.asarray(x)
        if x.ndim == 2:
            x = x[..., None]
        return np.repeat(x, 3, axis=-1)

    @staticmethod
    def to_binary(x, threshold=127):
        return (np.asarray(x) > threshold).astype(np.uint8)

    @staticmethod
    @_per_image
    def threshold(x, thresh, maxval=255):
        return cv2.threshold(x, thresh, maxval, cv2.THRESH_BINARY)[1].reshape(x.shape)

    @staticmethod
    @_per_pair
    def add(a, b):
        return cv2.add(a, b)

    @staticmethod
    @_per_pair
    def subtract(a, b):
        return cv2.subtract(a, b)

    @staticmethod
    @_per_pair
    def blend(a, b, alpha, beta=None, gamma=0.0):
        return cv2.addWeighted(a, alpha, b, 1.0 - alpha if beta is None else beta, gamma)

    @staticmethod
    def split(x):
        x = np.asarray(x)
        if x.ndim == 2:
            return [x.copy()]
        return [np.ascontiguousarray(c) for c in cv2.split(np.ascontiguousarray(x))]

    @staticmethod
    def merge(channels):
        out = cv2.merge([np.ascontiguousarray(c) for c in channels])
        return out[..., None] if out.ndim == 2 else out

    @staticmethod
    def adjust_brightness(x, factor):
        x = np.asarray(x)
        if x.dtype == np.uint8:
            return np.clip(np.rint(x.astype(np.float64) * factor), 0, 255).astype(np.uint8)
        return (x.astype(np.float64) * factor).astype(np.float32)

    @staticmethod
    def normalize(x):
        return (np.asarray(x).astype(np.float64) / 255.0).astype(np.float32)

    @staticmethod
    def center(x, mean=None):
        x64 = np.asarray(x).astype(np.float64)
        if mean is None:
            mean = x64.mean() if x64.ndim == 2 else x64.reshape(-1, x64.shape[-1]).mean(0)
        return (x64 - np.asarray(mean, np.float64)).astype(np.float32)

    # ---- geometry
    @staticmethod
    def flip(x, axis="horizontal"):
        x = np.asarray(x)
        code = {"horizontal": 1, "vertical": 0, "both": -1}[axis]
        return _per_image(lambda one: cv2.flip(one, code))(x)

    @staticmethod
    def rotate90(x, k=1):
        x = np.asarray(x)
        return np.ascontiguousarray(np.rot90(x, k, axes=(1, 2) if x.ndim == 4 else (0, 1)))

    @staticmethod
    @_per_image
    def warp_affine(x, matrix, output_shape=None, interpolation="bilinear", border="constant", cval=0):
        rows, cols = x.shape[:2] if output_shape is None else output_shape
        accident = interpolation == "nearest" and \
            not opencv_nearest_is_rule(matrix, (int(rows), int(cols)), x.shape[:2])
        if accident or border in ("reflect", "reflect101", "wrap") and \
                _samples_far_outside(matrix, (rows, cols), x.shape[:2]):
            # OpenCV 5 gets bicubic wrong more than one image size outside the image with
            # these borders (and takes seconds per call for far reflections), and picks
            # nearest ties by accident where they are ties only in exact arithmetic: float64.
            one = x if x.ndim == 3 else x[..., None]
            out = exact_warp_affine(one, matrix, (int(rows), int(cols)), interpolation, border, cval)
            return out if x.ndim == 3 else out[..., 0]
        if border == "reflect101" and interpolation == "bicubic" and 1 in x.shape[:2]:
            # OpenCV 5 loops forever here (bicubic taps reflected across a 1-pixel axis).
            # Reflect101 maps every index of a 1-pixel axis to that pixel, so three equal
            # copies of it sample the same values.
            x = np.repeat(np.repeat(x, 3 if x.shape[0] == 1 else 1, 0), 3 if x.shape[1] == 1 else 1, 1)
        return cv2.warpAffine(x, np.asarray(matrix, np.float64), (int(cols), int(rows)),
                              flags=WARP_INTERP[interpolation], borderMode=CV_BORDER[border],
                              borderValue=_cval4(cval))

    @staticmethod
    def rotation_matrix(x, angle, center=None, scale=1.0):
        h, w = np.asarray(x).shape[-3:-1] if np.asarray(x).ndim == 4 else np.asarray(x).shape[:2]
        if center is None:
            center = ((w - 1) / 2.0, (h - 1) / 2.0)
        return cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(angle), float(scale))

    @staticmethod
    def rotate(x, angle, center=None, scale=1.0, interpolation="bilinear", border="constant", cval=0):
        return ref.warp_affine(x, ref.rotation_matrix(x, angle, center, scale), None,
                               interpolation, border, cval)

    @staticmethod
    def shift(x, dx, dy, interpolation="bilinear", border="constant", cval=0):
        return ref.warp_affine(x, np.array([[1, 0, dx], [0, 1, dy]], np.float64), None,
                               interpolation, border, cval)

    @staticmethod
    def zoom(x, zx, zy=None, interpolation="bilinear", border="constant", cval=0):
        opts = dict(interpolation=interpolation, border=border, cval=cval)
        x = np.asarray(x)
        h, w = x.shape[1:3] if x.ndim == 4 else x.shape[:2]
        zy = zx if zy is None else zy
        cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
        m = np.array([[zx, 0, (1 - zx) * cx], [0, zy, (1 - zy) * cy]], np.float64)
        return ref.warp_affine(x, m, **opts)

    @staticmethod
    @_per_image
    def resize(x, size, interpolation="bilinear"):
        h, w = size
        return cv2.resize(x, (int(w), int(h)), interpolation=RESIZE_INTERP[interpolation])

    # ---- filters
    @staticmethod
    @_per_image
    def filter2d(x, kernel, border="reflect101", cval=0):
        k = np.asarray(kernel, np.float32)
        kh, kw = k.shape
        if border == "wrap" or (border == "constant" and cval != 0):
            # cv2.filter2D has no BORDER_WRAP nor a constant value: pad first, filter, crop.
            top, left = kh // 2, kw // 2
            padded = cv2.copyMakeBorder(x, top, kh - 1 - top, left, kw - 1 - left,
                                        CV_BORDER[border], value=_cval4(cval))
            if x.ndim == 3 and padded.ndim == 2:
                padded = padded[..., None]
            out = cv2.filter2D(padded, -1, k, borderType=cv2.BORDER_REFLECT_101)
            return out[top:top + x.shape[0], left:left + x.shape[1]]
        return cv2.filter2D(x, -1, k, borderType=CV_BORDER[border])

    @staticmethod
    def convolve2d(x, kernel, border="reflect101", cval=0):
        return ref.filter2d(x, np.asarray(kernel)[::-1, ::-1], border=border, cval=cval)

    @staticmethod
    @_per_image
    def gaussian_blur(x, ksize, sigma=0):
        return cv2.GaussianBlur(x, (ksize, ksize), sigma)

    @staticmethod
    def sharpen(x):
        return ref.filter2d(x, KERNELS["SHARPEN"])

    @staticmethod
    def edges(x):
        return ref.filter2d(x, KERNELS["EDGE"])

    @staticmethod
    @_per_image
    def laplacian(x):
        return cv2.Laplacian(x.astype(np.float32), cv2.CV_32F, ksize=1)

    @staticmethod
    @_per_image
    def sobel(x, dx, dy, ksize=3):
        return cv2.Sobel(x.astype(np.float32), cv2.CV_32F, dx, dy, ksize=ksize)


def warp_tol(matrix, out_hw):
    """Tolerance for a warp whose source coordinates reach far from the origin: a float32
    coordinate near c carries up to about 1.2e-7 * c pixels of rounding (OpenCV's and foveal's
    alike), which a noise image's slope (up to ~1.5 per pixel) turns into a value error."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[0, 0, 1], [out_hw[1] - 1, 0, 1], [0, out_hw[0] - 1, 1],
                        [out_hw[1] - 1, out_hw[0] - 1, 1]], np.float64) @ inv.T
    return (1, 1e-4 + 1.8e-7 * float(np.abs(corners).max()))


# ------------------------------------------------------------------------------- comparison

# (uint8 tolerance in levels, float32 tolerance relative to max(1, largest magnitude))
TOL = {
    "to_gray": (0, 1e-5), "to_rgb": (0, 0), "to_binary": (0, 0), "threshold": (0, 0),
    "add": (0, 0), "subtract": (0, 0), "blend": (1, 1e-4),
    "split": (0, 0), "merge": (0, 0), "flip": (0, 0), "rotate90": (0, 0),
    "adjust_brightness": (1, 1e-6), "normalize": (0, 1e-6), "center": (0, 1e-4),
    "warp_affine": (1, 1e-4), "rotate": (1, 1e-4), "shift": (1, 1e-4), "zoom": (1, 1e-4),
    "resize": (1, 1e-4),
    "filter2d": (1, 1e-4), "convolve2d": (1, 1e-4), "gaussian_blur": (1, 1e-4),
    # integer kernels: a uint8 result has no rounding at all, so it must be exact
    "sharpen": (0, 1e-4), "edges": (0, 1e-4),
    "laplacian": (0, 1e-4), "sobel": (0, 1e-4),
}


def describe(args, kwargs):
    """A short, reproducible description of a call: arrays by shape and dtype."""
    def one(v):
        if isinstance(v, np.ndarray):
            s = f"array{v.shape}:{v.dtype}"
            if not v.flags.c_contiguous:
                s += ":noncontig"
            if not v.flags.writeable:
                s += ":readonly"
            return s
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], np.ndarray):
            return "[" + ", ".join(one(a) for a in v) + "]"
        return repr(v)
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def _arrays(values):
    for v in values:
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (a for a in v if isinstance(a, np.ndarray))


def compare(out, expected, tol, msg, scale_from=()):
    """out must be an ndarray of expected's dtype and shape, within tol = (uint8 levels, float32
    relative tolerance) of expected."""
    assert isinstance(out, np.ndarray), f"{msg}: returned {type(out).__name__}, not an ndarray"
    assert out.dtype == expected.dtype, f"{msg}: dtype {out.dtype}, expected {expected.dtype}"
    assert out.shape == expected.shape, f"{msg}: shape {out.shape}, expected {expected.shape}"
    if out.size == 0:
        return
    u8_tol, f_tol = tol
    a = out.astype(np.float64)
    b = expected.astype(np.float64)
    if expected.dtype == np.uint8:
        allowed = float(u8_tol)
    else:
        mags = [np.abs(b).max()] + [np.abs(np.asarray(s, np.float64)).max() for s in scale_from if s.size]
        allowed = f_tol * max(1.0, *mags)
    assert np.isfinite(a).all() or not np.isfinite(b).all(), f"{msg}: non-finite values in the result"
    err = np.abs(a - b)
    if err.max() > allowed:
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        n_off = int((err > allowed).sum())
        raise AssertionError(
            f"{msg}: max error {err.max():.6g} > {allowed:.3g} at {tuple(int(i) for i in idx)} "
            f"(foveal {a[idx]:.6g}, reference {b[idx]:.6g}); {n_off} of {err.size} elements off")


def check(name, *args, _tol=None, **kwargs):
    """Run foveal.image.<name> and ref.<name> on the same arguments and compare them; the inputs
    must come back unmodified and the result must not alias them. Returns foveal's result."""
    msg = f"{name}{describe(args, kwargs)}"
    inputs = list(_arrays((*args, *kwargs.values())))
    before = [a.copy() for a in inputs]
    out = getattr(fi, name)(*args, **kwargs)
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{msg}: an input was modified")
    expected = getattr(ref, name)(*args, **kwargs)
    tol = _tol if _tol is not None else TOL[name]
    if kwargs.get("interpolation") == "nearest":
        tol = (0, 0)    # nearest-neighbour sampling copies pixels: exact or wrong
    if isinstance(expected, list):
        assert isinstance(out, (list, tuple)), f"{msg}: returned {type(out).__name__}, not a list"
        assert len(out) == len(expected), f"{msg}: {len(out)} arrays, expected {len(expected)}"
        for i, (o, e) in enumerate(zip(out, expected)):
            compare(o, e, tol, f"{msg}[{i}]")
        outs = list(out)
    else:
        compare(out, expected, tol, msg, scale_from=inputs)
        outs = [out]
    for o in outs:
        for a in inputs:
            assert not (np.may_share_memory(o, a) and np.shares_memory(o, a)), \
                f"{msg}: the result aliases an input"
    return out
