#!/usr/bin/env python
"""Benchmark foveal.image against OpenCV (and scipy.ndimage where it has the op).

Input: one seeded synthetic 1080x1920x3 RGB image that looks natural enough (smooth
gradients, low-frequency texture, filled shapes with hard edges, sensor-like noise),
uint8; the float32 version is uint8 / 255. A second seeded image is the other operand
of blend and add.

Workloads (foveal call  vs  OpenCV call):

  filter2d_3x3_u8       filter2d(img, SHARPEN)        cv2.filter2D(img, -1, k, BORDER_REFLECT_101)
  filter2d_3x3_f32      same, float32
  filter2d_5x5_f32      seeded random 5x5 kernel of rank 5 (non-separable: the general 2-D path)
  gaussian_blur_5x5_u8  gaussian_blur(img, 5)         cv2.GaussianBlur(img, (5, 5), 0)
  rotate30_bilinear_u8  rotate(img, 30)               cv2.warpAffine(img, getRotationMatrix2D(
                                                        ((w-1)/2, (h-1)/2), 30, 1), (w, h), INTER_LINEAR)
  resize224_bilinear_u8 resize(img, (224, 224))       cv2.resize(img, (224, 224), INTER_LINEAR)
  resize224_area_u8     resize(..., "area")           cv2.resize(..., INTER_AREA)
  blend_u8              blend(a, b, 0.3)              cv2.addWeighted(a, 0.3, b, 0.7, 0)
  add_u8                add(a, b)                     cv2.add(a, b)
  to_gray_u8            to_gray(img)                  cv2.cvtColor(img, COLOR_RGB2GRAY)
  flip_horizontal_u8    flip(img, "horizontal")       cv2.flip(img, 1)

scipy.ndimage (single-threaded) is an extra column where it computes the same thing:
correlate (mode "mirror" = reflect101) for the float32 filter2d rows and per-channel
affine_transform (order 1, mode "grid-constant") for rotate.

Every library gets the same number of threads (2 by default; scipy always uses 1):
foveal.set_num_threads, cv2.setNumThreads. A timing is the median of interleaved
repeats (bench/_common.py). ratio = peer time / foveal time (> 1: foveal faster).
Before timing, foveal's output is compared with OpenCV's (uint8: max abs diff <= 1;
float32: |diff| <= 1e-4 * (1 + |ref|)); the "check" column flags mismatches.

The issue's bar, printed as PASS/FAIL: geomean of the OpenCV ratios >= 0.8, no op below
0.4x, both float32 filter2d rows >= 1.0x.

    python bench/bench_image.py [--quick] [--only filter2d] [--json PATH] [--isa avx2]

foveal.image ops that are not implemented yet (AttributeError / NotImplementedError)
show as n/a; OpenCV and scipy still run.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from . import _common as C
else:  # run as a script, or loaded by path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import _common as C  # noqa: E402  (sets OMP_NUM_THREADS before NumPy loads)

import importlib  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from typing import Any, Callable, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

SEED = 1234
H, W = 1080, 1920
U8_MAX_ABS = 1        # uint8 outputs may differ by one rounding step
F32_TOL = 1e-4        # float32: |diff| <= F32_TOL * (1 + |ref|)
PEERS = ("cv2", "scipy")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "cv2": "cv2", "scipy": "sp"}

# The bar (ratios are cv2_time / foveal_time)
BAR_GEOMEAN = 0.8
BAR_MIN = 0.4
BAR_FILTER2D_F32 = 1.0

# foveal.image.kernels.SHARPEN as documented; kept here so the OpenCV side runs without foveal
SHARPEN = np.array([[0, -1, 0], [-1, 5, -1], [0, -1, 0]], dtype=np.float32)


# --------------------------------------------------------------------------- inputs

def synthetic_image(h: int = H, w: int = W, seed: int = SEED) -> np.ndarray:
    """A seeded RGB uint8 image with the statistics of a photo rather than of white noise:
    smooth colour gradients, low-frequency texture, filled shapes with hard edges, noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), dtype=np.float32)
    for c in range(3):
        a, b, c0 = rng.uniform(-90, 90, 2).tolist() + [rng.uniform(60, 190)]
        plane = c0 + a * (x - 0.5) + b * (y - 0.5)
        for _ in range(4):  # low-frequency texture
            fx, fy = rng.uniform(0.5, 6.0, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            amp = rng.uniform(5, 20)
            plane = plane + amp * np.sin(2 * np.pi * fx * x + px) * np.cos(2 * np.pi * fy * y + py)
        img[..., c] = plane
    for _ in range(14):  # filled discs, each drawn only inside its bounding box
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.03, 0.18) * h
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, h)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        shade = 1.0 - 0.35 * ((yy - (cy - r)) / (2 * r))  # lit from the top
        color = rng.uniform(0, 255, 3).astype(np.float32)
        region = img[y0:y1, x0:x1]
        region[mask] = (color[None, None, :] * shade[..., None] * np.ones_like(xx)[..., None])[mask]
    for _ in range(10):  # rectangles
        y0, x0 = int(rng.uniform(0, h - 20)), int(rng.uniform(0, w - 20))
        y1 = min(y0 + int(rng.uniform(0.05, 0.3) * h), h)
        x1 = min(x0 + int(rng.uniform(0.05, 0.3) * w), w)
        img[y0:y1, x0:x1] = rng.uniform(0, 255, 3).astype(np.float32)
    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def kernel_5x5(seed: int = SEED) -> np.ndarray:
    """Seeded random 5x5 float32 kernel, full rank (so no separable shortcut applies)."""
    rng = np.random.default_rng(seed + 5)
    k = (rng.standard_normal((5, 5)) / 5.0).astype(np.float32)
    assert np.linalg.matrix_rank(k.astype(np.float64)) == 5
    return k


def make_inputs() -> Dict[str, np.ndarray]:
    a = synthetic_image(seed=SEED)
    b = synthetic_image(seed=SEED + 1)
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


# --------------------------------------------------------------------------- running

NOT_IMPLEMENTED = (AttributeError, NotImplementedError)


def _check(op: Op, ref: np.ndarray, out: np.ndarray, reference: str) -> Dict[str, Any]:
    ref, out = np.asarray(ref), np.asarray(out)
    if out.dtype != ref.dtype:
        chk = {"ok": False, "max_abs_err": None, "reason": f"dtype {out.dtype} != {ref.dtype}"}
    elif op.dtype == "float32":
        chk = C.check_close(ref, out, F32_TOL)
    else:
        chk = C.check_max_abs(ref, out, U8_MAX_ABS)
    chk["reference"] = reference
    return chk


def run_op(op: Op, d: Dict[str, np.ndarray], libs: Dict[str, Any],
           cfg: C.TimingConfig) -> Dict[str, Any]:
    fns: Dict[str, Callable[[], Any]] = {}
    errors: Dict[str, str] = {}
    not_impl: Optional[str] = None
    outputs: Dict[str, np.ndarray] = {}
    for lib in LIBS:
        mod = libs.get(lib)
        builder = getattr(op, lib)
        if mod is None or builder is None:
            continue
        try:
            fn = builder(mod, d)
            outputs[lib] = np.asarray(fn())  # untimed: the check output, also a warm-up
            fns[lib] = fn
        except NOT_IMPLEMENTED as exc:
            if lib == "foveal":
                not_impl = f"{type(exc).__name__}: {exc}"
            else:
                errors[lib] = f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            errors[lib] = f"{type(exc).__name__}: {exc}"

    checks: Dict[str, Dict[str, Any]] = {}
    if "cv2" in outputs:
        for lib in ("foveal", "scipy"):
            if lib in outputs:
                checks[lib] = _check(op, outputs["cv2"], outputs[lib], "cv2")
    outputs.clear()

    timings = C.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors)

    res: Dict[str, Any] = {"name": op.name, "dtype": op.dtype, "description": op.description,
                           "input_shape": list(op.image(d).shape),
                           "libs": {}, "ratios": {}, "checks": checks, "errors": errors,
                           "foveal_not_implemented": not_impl}
    megapixels = H * W / 1e6
    for lib, t in timings.items():
        res["libs"][lib] = {**t.to_dict(), "mpix_per_s": megapixels / t.median_s}
    if "foveal" in timings:
        for lib in PEERS:
            if lib in timings:
                res["ratios"][lib] = timings[lib].median_s / timings["foveal"].median_s
    return res


def _check_cell(res: Dict[str, Any]) -> str:
    if res["foveal_not_implemented"]:
        return "n/a"
    if "foveal" in res["errors"]:
        return "ERROR"
    chk = res["checks"].get("foveal")
    if chk is None:
        return "-" if "foveal" in res["libs"] else "n/a"
    err = chk.get("max_abs_err")
    if chk.get("ok"):
        return "ok" if not err else f"ok (max {err:.2g})"
    if chk.get("reason"):
        return "MISMATCH " + chk["reason"]
    over = chk.get("frac_over")
    return f"MISMATCH max {err:.3g}" + (f", {over:.3%} px > {U8_MAX_ABS}" if over else "")


def _row(op: Op, res: Dict[str, Any], present: List[str]) -> List[str]:
    """Table cells: a time or ratio; "n/a" where foveal (or a peer) failed or lacks the op
    yet; "-" where the peer has no equivalent op."""
    row = [res["name"]]
    for lib in present:
        if lib in res["libs"]:
            row.append(C.fmt_ms(res["libs"][lib]["median_s"]))
        else:
            row.append("n/a" if lib == "foveal" or getattr(op, lib) is not None else "-")
    for lib in present:
        if lib != "foveal":
            row.append(C.fmt_ratio(res["ratios"].get(lib)) if getattr(op, lib) is not None
                       else "-")
    fr = res["libs"].get("foveal")
    row += [C.fmt_num(fr["mpix_per_s"], 0) if fr else "n/a", _check_cell(res)]
    return row


def criteria(results: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The issue's bar, each criterion PASS / FAIL / N/A (a needed row has no ratio)."""
    ratios = {r["name"]: r["ratios"].get("cv2") for r in results}
    # ops left out by --only count as missing too: the bar is about the whole list
    missing = [op.name for op in OPS if ratios.get(op.name) is None]
    have = {n: v for n, v in ratios.items() if v is not None}
    out = []

    def add(name, ok, value, detail):
        out.append({"criterion": name, "status": ok, "value": value, "detail": detail})

    g = C.geomean(have.values())
    incomplete = f"; {len(missing)} op(s) without a ratio: {', '.join(missing)}" if missing else ""
    if g is None:
        add(f"geomean cv2/foveal >= {BAR_GEOMEAN}x", "N/A", None, "no ratios" + incomplete)
    else:
        # with ops missing the geomean could still move either way
        status = "N/A" if missing else ("PASS" if g >= BAR_GEOMEAN else "FAIL")
        add(f"geomean cv2/foveal >= {BAR_GEOMEAN}x", status, g,
            f"{g:.2f}x over {len(have)} ops{incomplete}")
    if have:
        worst = min(have, key=have.get)
        mn = have[worst]
        status = "FAIL" if mn < BAR_MIN else ("PASS" if not missing else "N/A")
        add(f"no op below {BAR_MIN}x", status, mn, f"min {mn:.2f}x ({worst}){incomplete}")
    else:
        add(f"no op below {BAR_MIN}x", "N/A", None, "no ratios")
    f32 = [r for r in results if r["name"].startswith("filter2d") and r["dtype"] == "float32"]
    vals = {r["name"]: ratios[r["name"]] for r in f32}
    parts = ", ".join(f"{n} {C.fmt_ratio(v)}" for n, v in vals.items()) or "rows not run"
    if not vals or any(v is None for v in vals.values()):
        status = "FAIL" if any(v is not None and v < BAR_FILTER2D_F32 for v in vals.values()) \
            else "N/A"
    else:
        status = "PASS" if all(v >= BAR_FILTER2D_F32 for v in vals.values()) else "FAIL"
    add(f"filter2d float32 (3x3 and 5x5) >= {BAR_FILTER2D_F32}x", status,
        min((v for v in vals.values() if v is not None), default=None), parts)
    # not in the list, but a ratio for a wrong result means nothing
    bad = [r["name"] for r in results
           if r["checks"].get("foveal") and not r["checks"]["foveal"].get("ok")]
    checked = sum(1 for r in results if r["checks"].get("foveal"))
    status = "FAIL" if bad else ("PASS" if checked == len(results) else "N/A")
    add("outputs agree with OpenCV", status, None,
        (f"mismatch: {', '.join(bad)}" if bad else f"{checked} of {len(results)} ops checked"))
    return out


def _load_foveal_image(threads: int, notes: List[str]):
    foveal, finfo = C.load_foveal(notes, threads)
    if foveal is None:
        return None, None, finfo
    try:
        fi = importlib.import_module("foveal.image")
    except Exception as exc:
        notes.append(f"foveal.image not importable ({type(exc).__name__}: {exc}); "
                     "foveal columns are n/a")
        return foveal, None, finfo
    return foveal, fi, finfo


def _setup_cv2(threads: int, notes: List[str]):
    cv2 = C.import_optional("cv2", notes)
    info: Dict[str, Any] = {}
    if cv2 is None:
        return None, info
    cv2.setNumThreads(threads)
    info["num_threads"] = cv2.getNumThreads()
    for ln in cv2.getBuildInformation().splitlines():
        ln = ln.strip()
        if ln.startswith("Parallel framework:"):
            info["parallel_framework"] = ln.split(":", 1)[1].strip()
        elif ln.startswith("Intel IPP:"):
            info["ipp"] = ln.split(":", 1)[1].strip()
    return cv2, info


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = C.start(__file__, __doc__, {op.name: f"{op.dtype:8s} {op.description}" for op in OPS}, argv)
    if rc is not None:
        return rc
    threads = args.threads

    notes: List[str] = []
    foveal, fi, finfo = _load_foveal_image(threads, notes)
    cv2, cv2info = _setup_cv2(threads, notes)
    scipy = C.import_optional("scipy", notes)
    ndi = C.import_optional("scipy.ndimage", notes) if scipy is not None else None
    if cv2 is None and ndi is not None:
        notes.append("scipy's rotate column needs cv2 for the matrix; it is skipped too")
    libs = {"foveal": fi, "cv2": cv2, "scipy": ndi}
    cfg = C.TimingConfig.from_args(args.quick)
    sysinfo = C.system_info(threads)

    title = (f"foveal bench_image: {H}x{W}x3 image, {threads} threads for foveal and OpenCV "
             f"(scipy.ndimage is single-threaded), median of interleaved repeats"
             f"{' (--quick)' if args.quick else ''}")
    vers = C.print_header(title, sysinfo, {"foveal": foveal, "cv2": cv2, "scipy": scipy},
                          finfo if foveal is not None else None)
    if cv2 is not None:
        print(f"cv2: threads {cv2info.get('num_threads')}, "
              f"parallel framework {cv2info.get('parallel_framework', '?')}, "
              f"IPP {cv2info.get('ipp', 'no')}")
    for n in notes:
        print("note: " + n)
    print()

    d = make_inputs()
    results = []
    monitor = C.CpuMonitor()
    for op in OPS:
        if op.name not in names:
            continue
        print(f"  running {op.name:24s} {op.dtype:8s} {op.description}", flush=True)
        results.append(run_op(op, d, libs, cfg))
    print()

    present = [lib for lib in LIBS if lib == "foveal" or libs[lib] is not None]
    headers = ["op"] + [f"{SHORT[lib]} ms" for lib in present]
    headers += [f"{SHORT[lib]}/fov" for lib in present if lib != "foveal"]
    headers += ["fov MP/s", "check"]
    ops = {op.name: op for op in OPS}
    rows = [_row(ops[r["name"]], r, present) for r in results]
    C.print_table(headers, rows, align_left=(0, len(headers) - 1))
    print("ratio = peer time / foveal time (> 1: foveal faster); MP/s = input megapixels per "
          "second; check = foveal vs OpenCV (uint8: max abs diff <= 1, float32: 1e-4 relative)")
    print(f"scipy.ndimage runs single-threaded (foveal and OpenCV use {threads} threads); "
          "'-' = no equivalent op in that library")
    for op in OPS:
        if op.note and op.name in names:
            print("note: " + op.note)
    for r in results:
        chk = r["checks"].get("scipy")
        if chk is not None:
            err = chk.get("max_abs_err")
            shown = "n/a" if err is None else f"{err:.3g}"
            # (OpenCV's warpAffine rounds source coordinates to 1/32 pixel, scipy does not)
            print(f"note: {r['name']}: scipy vs OpenCV max abs diff {shown}"
                  + ("" if chk.get("ok") else " (beyond the check tolerance)"))
    not_impl = [r["name"] for r in results if r["foveal_not_implemented"]]
    if not_impl:
        print(f"note: not implemented in foveal.image yet (n/a): {', '.join(not_impl)}")

    crit = criteria(results)
    print()
    for c in crit:
        print(f"{c['status']:4s}  {c['criterion']:42s} {c['detail']}")

    warnings: List[str] = []
    for r in results:
        chk = r["checks"].get("foveal")
        if chk is not None and not chk.get("ok"):
            warnings.append(f"{r['name']}: foveal output differs from OpenCV: {_check_cell(r)}")
        for lib, err in r["errors"].items():
            warnings.append(f"{r['name']}: {lib} failed: {err}")
    system = C.end_of_run(warnings, ((r["name"], r["libs"]) for r in results),
                          SHORT, monitor, sysinfo, threads)

    summary = {
        "geomean_ratio_vs_cv2": C.geomean(r["ratios"].get("cv2") for r in results),
        "min_ratio_vs_cv2": min((r["ratios"]["cv2"] for r in results if "cv2" in r["ratios"]),
                                default=None),
        "geomean_ratio_vs_scipy": C.geomean(r["ratios"].get("scipy") for r in results),
        "ops_with_cv2_ratio": sum(1 for r in results if "cv2" in r["ratios"]),
        "ops": len(results),
        "criteria": crit,
        "bar_holds": all(c["status"] == "PASS" for c in crit[:3]),
    }
    payload = {
        "benchmark": "bench_image",
        "system": system,
        "versions": vers,
        "foveal_build_info": finfo,
        "foveal_isa_requested": args.isa or os.environ.get("FOVEAL_ISA"),
        "cv2_info": cv2info,
        "scipy_threads": 1,
        "quick": args.quick,
        "image": {"shape": [H, W, 3], "seed": SEED, "float32": "uint8 / 255",
                  "kernel_5x5": d["kernel5"]},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "median, interleaved", "check_uint8_max_abs": U8_MAX_ABS,
                   "check_float32_tol": F32_TOL},
        "notes": notes + [op.note for op in OPS if op.note and op.name in names],
        "warnings": warnings,
        "results": results,
        "summary": summary,
    }
    path = C.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
