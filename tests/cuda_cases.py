"""The CUDA build's operator cases, shared by tests/test_cuda_build.py (the kernel bodies run on
the host, no GPU needed) and tests/test_cuda_gpu.py (on the GPU): each case runs one op of
``foveal._cuda_ops`` and the CPU op of the same name (``foveal.nn.functional`` or
``foveal.image``, under its routing decorator) on the same seeded inputs, and ``check`` holds every
output within 1e-4 of the CPU output's scale (uint8: within 1 level).
"""
import zlib
from typing import Any, Callable, List, NamedTuple

import numpy as np

import foveal.image.geometry as geometry
import foveal.nn.functional as F

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "relu6", "hard_sigmoid", "hard_silu", "silu",
               "gelu", "leaky_relu", "elu", "softplus")


class Case(NamedTuple):
    id: str
    op: str                 # name in foveal._cuda_ops; "image.<name>" for foveal.image ops
    args: tuple
    kwargs: dict


def _rng(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def _r(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape, dtype=np.float32)


# (n, h, w, cin, cout, (kh, kw), strides, padding, dilation, groups, activation, bias)
CONV_CONFIGS = [
    (2, 9, 11, 3, 8, (3, 3), 1, "same", 1, 1, "relu", True),
    (1, 12, 10, 5, 7, (3, 2), 2, "valid", 1, 1, None, False),
    (2, 8, 8, 4, 6, (3, 3), 2, "same", 1, 2, "gelu", True),
    (1, 13, 9, 6, 4, (3, 3), 1, ((2, 1), (0, 3)), 2, 1, "sigmoid", True),
    (3, 7, 7, 16, 70, (1, 1), 1, "valid", 1, 1, "relu6", True),
    (1, 17, 15, 8, 8, (5, 5), 3, "same", 1, 8, "silu", False),
    (2, 20, 20, 67, 65, (3, 3), 1, "same", 1, 1, "elu", True),
]


def conv_cases() -> List[Case]:
    cases = []
    for i, (n, h, w, cin, cout, (kh, kw), s, pad, d, g, act, has_b) in enumerate(CONV_CONFIGS):
        rng = _rng(f"conv{i}")
        x, k = _r(rng, n, h, w, cin), _r(rng, kh, kw, cin // g, cout)
        b = _r(rng, cout) if has_b else None
        kw_ = dict(strides=s, padding=pad, dilation_rate=d, groups=g)
        cases.append(Case(f"conv2d-{i}", "conv2d", (x, k, b), dict(kw_, activation=act)))
        y = F.conv2d.__wrapped__(x, k, None, **kw_)
        cases.append(Case(f"conv2d_backward-{i}", "conv2d_backward", (_r(rng, *y.shape), x, k), kw_))
        if i < 2:   # a residual connection added before the activation
            cases.append(Case(f"conv2d_residual-{i}", "conv2d", (x, k, b),
                              dict(kw_, activation=act, residual=_r(rng, *y.shape))))
    rng = _rng("depthwise")
    x, k = _r(rng, 2, 10, 9, 5), _r(rng, 3, 3, 5, 2)
    cases.append(Case("depthwise_conv2d", "depthwise_conv2d", (x, k, _r(rng, 10)),
                      dict(strides=2, padding="same", activation="relu")))
    y = F.depthwise_conv2d.__wrapped__(x, k, strides=2, padding="same")
    cases.append(Case("depthwise_conv2d_backward", "depthwise_conv2d_backward", (_r(rng, *y.shape), x, k),
                      dict(strides=2, padding="same")))
    return cases


# (n, h, w, c, pool_size, strides, padding)
POOL_CONFIGS = [(2, 8, 8, 3, 2, None, "valid"), (1, 9, 7, 5, 3, 2, "same"), (2, 11, 10, 17, 3, 1, "valid"),
                (1, 5, 6, 2, (2, 3), (1, 2), "same")]


def pool_cases() -> List[Case]:
    cases = []
    for i, (n, h, w, c, k, s, pad) in enumerate(POOL_CONFIGS):
        rng = _rng(f"pool{i}")
        x = _r(rng, n, h, w, c)
        kw_ = dict(pool_size=k, strides=s, padding=pad)
        for mode in ("max", "avg"):
            y = getattr(F, f"{mode}_pool2d").__wrapped__(x, **kw_)
            cases.append(Case(f"{mode}_pool2d-{i}", f"{mode}_pool2d", (x,), kw_))
            cases.append(Case(f"{mode}_pool2d_backward-{i}", f"{mode}_pool2d_backward",
                              (_r(rng, *y.shape), x), kw_))
        xr = np.maximum(x, 0.0)
        y = F.max_pool2d.__wrapped__(xr, **kw_)
        cases.append(Case(f"max_pool2d_backward_relu-{i}", "max_pool2d_backward", (_r(rng, *y.shape), xr),
                          dict(kw_, through_relu=True)))
    rng = _rng("global")
    x = _r(rng, 3, 7, 9, 19)
    cases += [Case("global_avg_pool2d", "global_avg_pool2d", (x,), {}),
              Case("global_max_pool2d", "global_max_pool2d", (x,), {}),
              Case("global_avg_pool2d_backward", "global_avg_pool2d_backward", (_r(rng, 3, 19), x), {})]
    return cases


def dense_cases() -> List[Case]:
    cases = []
    for i, (lead, k, n, act) in enumerate([((5,), 7, 3, None), ((2, 33), 70, 65, "relu"),
                                           ((4,), 130, 10, "softmax"), ((3, 2, 5), 16, 9, "tanh")]):
        rng = _rng(f"dense{i}")
        x, w, b = _r(rng, *lead, k), _r(rng, k, n), _r(rng, n)
        cases.append(Case(f"dense-{i}", "dense", (x, w, b), dict(activation=act)))
        cases.append(Case(f"dense_backward-{i}", "dense_backward", (_r(rng, *lead, n), x, w), {}))
    return cases


def activation_cases() -> List[Case]:
    cases = []
    for name in ACTIVATIONS:
        rng = _rng(f"act-{name}")
        x = _r(rng, 3, 5, 7) * 4.0
        cases.append(Case(f"activation-{name}", "activation", (x, name), {}))
        y = F.activation.__wrapped__(x, name)
        cases.append(Case(f"activation_backward-{name}", "activation_backward", (_r(rng, *x.shape), y, name),
                          dict(x=x)))
    return cases


def _image(rng: np.random.Generator, shape: tuple, dtype: str) -> np.ndarray:
    if dtype == "uint8":
        return rng.integers(0, 256, shape, dtype=np.uint8)
    return (rng.random(shape, dtype=np.float32) * 255.0).astype(np.float32)


def image_cases() -> List[Case]:
    cases = []
    shapes = [(31, 29, 3), (2, 17, 40, 4), (23, 37), (19, 21, 1)]
    borders = ("constant", "replicate", "reflect", "reflect101", "wrap")
    for i, shape in enumerate(shapes):
        for dtype in ("uint8", "float32"):
            rng = _rng(f"img{i}{dtype}")
            img = _image(rng, shape, dtype)
            rows = shape[1] if len(shape) == 4 else shape[0]
            a = rng.uniform(-0.6, 0.6)
            m = np.array([[np.cos(a) * 1.2, np.sin(a), rng.uniform(-4, 4)],
                          [-np.sin(a), np.cos(a) * 0.9, rng.uniform(-4, 4)]])
            for interp in ("bilinear", "nearest"):
                border = borders[(i + len(interp)) % len(borders)]
                cases.append(Case(f"warp_affine-{i}-{dtype}-{interp}-{border}", "image.warp_affine", (img, m),
                                  dict(output_shape=(rows + 3, 33),
                                       interpolation=interp, border=border, cval=77)))
            for size in ((13, 50), (40, 17)):
                cases.append(Case(f"resize-{i}-{dtype}-{size}", "image.resize", (img, size), {}))
    return cases


def all_cases() -> List[Case]:
    return conv_cases() + pool_cases() + dense_cases() + activation_cases() + image_cases()


def cpu_op(op: str) -> Callable[..., Any]:
    """The CPU implementation of ``op`` (beneath its routing decorator)."""
    fn = getattr(geometry, op[len("image."):]) if op.startswith("image.") else getattr(F, op)
    return getattr(fn, "__wrapped__", fn)


def cuda_op(op: str) -> Callable[..., Any]:
    import foveal._cuda_ops as C
    return getattr(C, op[len("image."):] if op.startswith("image.") else op)


def as_numpy(a: Any) -> Any:
    """A result as NumPy (CuPy ``.get()``, torch ``.cpu().numpy()``, DeviceArray ``.get()``)."""
    if a is None or isinstance(a, np.ndarray):
        return a
    if hasattr(a, "get"):
        return a.get()
    return a.detach().cpu().numpy()


def check(case: Case, got: Any, want: Any) -> None:
    """Every output of ``got`` (the CUDA op's) equal to ``want`` (the CPU op's): same shapes and
    dtypes, float32 within 1e-4 of the largest |value| of the CPU output, uint8 within 1."""
    got_t = got if isinstance(got, tuple) else (got,)
    want_t = want if isinstance(want, tuple) else (want,)
    assert len(got_t) == len(want_t), case.id
    for i, (g, w) in enumerate(zip(got_t, want_t)):
        g = as_numpy(g)
        if w is None:
            assert g is None, f"{case.id}[{i}]: expected None"
            continue
        assert g.shape == w.shape and g.dtype == w.dtype, f"{case.id}[{i}]: {g.shape} {g.dtype} vs {w.shape} {w.dtype}"
        if w.dtype == np.uint8:
            err = np.abs(g.astype(np.int16) - w.astype(np.int16)).max(initial=0)
            assert err <= 1, f"{case.id}[{i}]: uint8 off by {err}"
        else:
            scale = max(float(np.abs(w).max(initial=0.0)), 1e-30)
            err = float(np.abs(g.astype(np.float64) - w).max(initial=0.0))
            assert err <= 1e-4 * scale, f"{case.id}[{i}]: error {err:.3g} > 1e-4 of the scale {scale:.3g}"
