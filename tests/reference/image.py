"""References for ``foveal.image``: one function per op, with foveal.image's signature, computed
with OpenCV 5 (or float64 NumPy where OpenCV has no such op, or where OpenCV's own arithmetic has
limits and accidents: see warp_affine), plus the exact float64 samplers they fall back on
(nearest_index, exact_warp_affine).

    from reference import image as ref
    ref.rotate(x, 30, interpolation="bicubic", border="reflect")

tests/check.py's check_op("image.<name>", ...) compares foveal.image.<name> with <name> here.
"""
from __future__ import annotations

import cv2
import numpy as np

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
    limits and accidents (see warp_affine); nearest ties by nearest_index. uint8 results are
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


# ------------------------------------------------------------------------ colour and arithmetic
def to_gray(x):
    x = np.asarray(x)
    if x.ndim == 4:
        return np.stack([to_gray(one) for one in x])
    if x.ndim == 2:
        return x.copy()
    if x.shape[2] == 1:
        return x[..., 0].copy()
    if x.dtype == np.uint8:
        return cv2.cvtColor(x, cv2.COLOR_RGB2GRAY if x.shape[2] == 3 else cv2.COLOR_RGBA2GRAY)
    x64 = x.astype(np.float64)
    return (0.299 * x64[..., 0] + 0.587 * x64[..., 1] + 0.114 * x64[..., 2]).astype(np.float32)


def to_rgb(x):
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[..., None]
    return np.repeat(x, 3, axis=-1)


def to_binary(x, threshold=127):
    return (np.asarray(x) > threshold).astype(np.uint8)


@_per_image
def threshold(x, thresh, maxval=255):
    return cv2.threshold(x, thresh, maxval, cv2.THRESH_BINARY)[1].reshape(x.shape)


@_per_pair
def add(a, b):
    return cv2.add(a, b)


@_per_pair
def subtract(a, b):
    return cv2.subtract(a, b)


@_per_pair
def blend(a, b, alpha, beta=None, gamma=0.0):
    return cv2.addWeighted(a, alpha, b, 1.0 - alpha if beta is None else beta, gamma)


def split(x):
    x = np.asarray(x)
    if x.ndim == 2:
        return [x.copy()]
    return [np.ascontiguousarray(c) for c in cv2.split(np.ascontiguousarray(x))]


def merge(channels):
    out = cv2.merge([np.ascontiguousarray(c) for c in channels])
    return out[..., None] if out.ndim == 2 else out


def adjust_brightness(x, factor):
    x = np.asarray(x)
    if x.dtype == np.uint8:
        return np.clip(np.rint(x.astype(np.float64) * factor), 0, 255).astype(np.uint8)
    return (x.astype(np.float64) * factor).astype(np.float32)


def normalize(x):
    return (np.asarray(x).astype(np.float64) / 255.0).astype(np.float32)


def center(x, mean=None):
    x64 = np.asarray(x).astype(np.float64)
    if mean is None:
        mean = x64.mean() if x64.ndim == 2 else x64.reshape(-1, x64.shape[-1]).mean(0)
    return (x64 - np.asarray(mean, np.float64)).astype(np.float32)


# ------------------------------------------------------------------------------------ geometry
def flip(x, axis="horizontal"):
    x = np.asarray(x)
    code = {"horizontal": 1, "vertical": 0, "both": -1}[axis]
    return _per_image(lambda one: cv2.flip(one, code))(x)


def rotate90(x, k=1):
    x = np.asarray(x)
    return np.ascontiguousarray(np.rot90(x, k, axes=(1, 2) if x.ndim == 4 else (0, 1)))


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


def rotation_matrix(x, angle, center=None, scale=1.0):
    h, w = np.asarray(x).shape[-3:-1] if np.asarray(x).ndim == 4 else np.asarray(x).shape[:2]
    if center is None:
        center = ((w - 1) / 2.0, (h - 1) / 2.0)
    return cv2.getRotationMatrix2D((float(center[0]), float(center[1])), float(angle), float(scale))


def rotate(x, angle, center=None, scale=1.0, interpolation="bilinear", border="constant", cval=0):
    return warp_affine(x, rotation_matrix(x, angle, center, scale), None,
                       interpolation, border, cval)


def shift(x, dx, dy, interpolation="bilinear", border="constant", cval=0):
    return warp_affine(x, np.array([[1, 0, dx], [0, 1, dy]], np.float64), None,
                       interpolation, border, cval)


def zoom(x, zx, zy=None, interpolation="bilinear", border="constant", cval=0):
    opts = dict(interpolation=interpolation, border=border, cval=cval)
    x = np.asarray(x)
    h, w = x.shape[1:3] if x.ndim == 4 else x.shape[:2]
    zy = zx if zy is None else zy
    cx, cy = (w - 1) / 2.0, (h - 1) / 2.0
    m = np.array([[zx, 0, (1 - zx) * cx], [0, zy, (1 - zy) * cy]], np.float64)
    return warp_affine(x, m, **opts)


@_per_image
def resize(x, size, interpolation="bilinear"):
    h, w = size
    return cv2.resize(x, (int(w), int(h)), interpolation=RESIZE_INTERP[interpolation])


# ------------------------------------------------------------------------------------- filters
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


def convolve2d(x, kernel, border="reflect101", cval=0):
    return filter2d(x, np.asarray(kernel)[::-1, ::-1], border=border, cval=cval)


@_per_image
def gaussian_blur(x, ksize, sigma=0):
    return cv2.GaussianBlur(x, (ksize, ksize), sigma)


def sharpen(x):
    return filter2d(x, KERNELS["SHARPEN"])


def edges(x):
    return filter2d(x, KERNELS["EDGE"])


@_per_image
def laplacian(x):
    return cv2.Laplacian(x.astype(np.float32), cv2.CV_32F, ksize=1)


@_per_image
def sobel(x, dx, dy, ksize=3):
    return cv2.Sobel(x.astype(np.float32), cv2.CV_32F, dx, dy, ksize=ksize)
