"""bench_image.py's workloads: the seeded inputs, and for each op the call that is timed in
foveal.image, OpenCV and (where it computes the same thing) scipy.ndimage."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

import numpy as np

from ..synthetic import synthetic_image

SEED = 1234
H, W = 1080, 1920

# foveal.image.kernels.SHARPEN as documented; kept here so the OpenCV side runs without foveal
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32)


# --------------------------------------------------------------------------- inputs

def kernel_5x5(seed: int = SEED) -> np.ndarray:
    """Seeded random 5x5 float32 kernel, full rank (so no separable shortcut applies)."""
    rng = np.random.default_rng(seed + 5)
    k = (rng.standard_normal((5, 5)) / 5.0).astype(np.float32)
    assert np.linalg.matrix_rank(k.astype(np.float64)) == 5
    return k


def make_inputs() -> Dict[str, np.ndarray]:
    a = synthetic_image(H, W, SEED)
    b = synthetic_image(H, W, SEED + 1)
    return {"u8": a, "u8_b": b, "f32": a.astype(np.float32) / np.float32(255.0),
            "kernel5": kernel_5x5()}


# --------------------------------------------------------------------------- workloads
# A builder takes (module, inputs) and returns the zero-argument call that is timed.
# foveal builders look up foveal.image attributes when they run, so a missing op raises
# AttributeError there and the row shows n/a.

Builder = Callable[[Any, Dict[str, np.ndarray]], Callable[[], Any]]


@dataclass(frozen=True)
class Op:
    name: str
    dtype: str                      # input dtype: "uint8" or "float32"
    description: str
    foveal: Builder
    cv2: Builder
    scipy: Optional[Builder] = None
    note: str = ""

    def image(self, d: Dict[str, np.ndarray]) -> np.ndarray:
        return d["f32"] if self.dtype == "float32" else d["u8"]


def _rot_matrix(cv2):
    return cv2.getRotationMatrix2D(((W - 1) / 2.0, (H - 1) / 2.0), 30.0, 1.0)


def _fov_filter2d(kernel_key: Optional[str], dtype: str) -> Builder:
    def build(fi, d):
        f = fi.filter2d
        img = d["f32"] if dtype == "float32" else d["u8"]
        k = SHARPEN if kernel_key is None else d[kernel_key]
        return lambda: f(img, k)
    return build


def _cv2_filter2d(kernel_key: Optional[str], dtype: str) -> Builder:
    def build(cv2, d):
        img = d["f32"] if dtype == "float32" else d["u8"]
        k = SHARPEN if kernel_key is None else d[kernel_key]
        border = cv2.BORDER_REFLECT_101
        return lambda: cv2.filter2D(img, -1, k, borderType=border)
    return build


def _sp_correlate(kernel_key: Optional[str]) -> Builder:
    def build(ndi, d):
        img = d["f32"]
        k = (SHARPEN if kernel_key is None else d[kernel_key])[:, :, None]
        # scipy "mirror" (dcb|abcd) is OpenCV's BORDER_REFLECT_101
        return lambda: ndi.correlate(img, k, mode="mirror")
    return build


def _fov_rotate(fi, d):
    f, img = fi.rotate, d["u8"]
    return lambda: f(img, 30)


def _cv2_rotate(cv2, d):
    img, m, flags = d["u8"], _rot_matrix(cv2), cv2.INTER_LINEAR
    return lambda: cv2.warpAffine(img, m, (W, H), flags=flags)


def _sp_rotate(ndi, d):
    import cv2  # only for the matrix (same one as OpenCV's call); cv2 is present when scipy runs
    img = d["u8"]
    inv = cv2.invertAffineTransform(_rot_matrix(cv2))  # destination (x, y) -> source (x, y)
    # scipy maps output (row, col) to input (row, col): swap x and y
    mat = np.array([[inv[1, 1], inv[1, 0]], [inv[0, 1], inv[0, 0]]])
    off = np.array([inv[1, 2], inv[0, 2]])
    aff = ndi.affine_transform

    def fn():
        out = np.empty_like(img)
        for c in range(img.shape[2]):  # 2-D per channel: a 3-D order-1 call interpolates channels too
            aff(img[..., c], mat, off, output=out[..., c], order=1, mode="grid-constant", cval=0)
        return out
    return fn


def _fov_resize(interp: str) -> Builder:
    def build(fi, d):
        f, img = fi.resize, d["u8"]
        return lambda: f(img, (224, 224), interpolation=interp)
    return build


def _cv2_resize(interp: str) -> Builder:
    def build(cv2, d):
        img = d["u8"]
        flag = {"bilinear": cv2.INTER_LINEAR, "area": cv2.INTER_AREA}[interp]
        return lambda: cv2.resize(img, (224, 224), interpolation=flag)
    return build


def _fov_gaussian(fi, d):
    f, img = fi.gaussian_blur, d["u8"]
    return lambda: f(img, 5)


def _cv2_gaussian(cv2, d):
    img = d["u8"]
    return lambda: cv2.GaussianBlur(img, (5, 5), 0)


def _fov_blend(fi, d):
    f, a, b = fi.blend, d["u8"], d["u8_b"]
    return lambda: f(a, b, 0.3)


def _cv2_blend(cv2, d):
    a, b = d["u8"], d["u8_b"]
    return lambda: cv2.addWeighted(a, 0.3, b, 0.7, 0)


def _fov_add(fi, d):
    f, a, b = fi.add, d["u8"], d["u8_b"]
    return lambda: f(a, b)


def _cv2_add(cv2, d):
    a, b = d["u8"], d["u8_b"]
    return lambda: cv2.add(a, b)


def _fov_gray(fi, d):
    f, img = fi.to_gray, d["u8"]
    return lambda: f(img)


def _cv2_gray(cv2, d):
    img, code = d["u8"], cv2.COLOR_RGB2GRAY
    return lambda: cv2.cvtColor(img, code)


def _fov_flip(fi, d):
    f, img = fi.flip, d["u8"]
    return lambda: f(img, "horizontal")


def _cv2_flip(cv2, d):
    img = d["u8"]
    return lambda: cv2.flip(img, 1)


OPS: List[Op] = [
    Op("filter2d_3x3_u8", "uint8", "filter2d 3x3 SHARPEN, reflect101",
       _fov_filter2d(None, "uint8"), _cv2_filter2d(None, "uint8")),
    Op("filter2d_3x3_f32", "float32", "filter2d 3x3 SHARPEN, reflect101",
       _fov_filter2d(None, "float32"), _cv2_filter2d(None, "float32"), _sp_correlate(None)),
    Op("filter2d_5x5_f32", "float32",
       "filter2d 5x5 seeded random kernel, rank 5 (non-separable: general path), reflect101",
       _fov_filter2d("kernel5", "float32"), _cv2_filter2d("kernel5", "float32"),
       _sp_correlate("kernel5"),
       note="filter2d_5x5_f32 uses a seeded random 5x5 kernel of rank 5, so the general "
            "(non-separable) 2-D path is measured in every library"),
    Op("gaussian_blur_5x5_u8", "uint8", "gaussian_blur ksize 5, sigma 0 (auto)",
       _fov_gaussian, _cv2_gaussian,
       note="gaussian_blur_5x5_u8 has no scipy column: for ksize 5 and sigma 0 OpenCV uses the "
            "fixed binomial kernel [1,4,6,4,1]/16, and scipy's gaussian_filter rounds to uint8 "
            "between its two passes, so scipy would compute a different result"),
    Op("rotate30_bilinear_u8", "uint8", "rotate 30 deg about the centre, bilinear, constant 0",
       _fov_rotate, _cv2_rotate, _sp_rotate),
    Op("resize224_bilinear_u8", "uint8", "resize to 224x224, bilinear (no antialias)",
       _fov_resize("bilinear"), _cv2_resize("bilinear"),
       note="resize has no scipy column: ndimage.zoom uses another pixel grid and no area mode"),
    Op("resize224_area_u8", "uint8", "resize to 224x224, area",
       _fov_resize("area"), _cv2_resize("area")),
    Op("blend_u8", "uint8", "blend 0.3*a + 0.7*b (addWeighted)", _fov_blend, _cv2_blend),
    Op("add_u8", "uint8", "saturating add", _fov_add, _cv2_add),
    Op("to_gray_u8", "uint8", "RGB -> gray", _fov_gray, _cv2_gray),
    Op("flip_horizontal_u8", "uint8", "flip left-right", _fov_flip, _cv2_flip),
]
