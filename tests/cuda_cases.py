"""The CUDA build's operator cases, shared by tests/test_cuda_build.py (the kernel bodies run on
the host, no GPU needed) and tests/test_cuda_gpu.py (on the GPU): each case runs one op of
``foveal._cuda_ops`` and the CPU op of the same name (``foveal.nn.functional`` or
``foveal.image``, under its routing decorator; for the GPU ops with no routed CPU op of their
name, the CPU computation they stand for, in ``REFERENCES``) on the same seeded inputs, and ``check``
holds every output within 1e-4 of the CPU output's scale (uint8: within 1 level; bool: equal).
"""
import zlib
from typing import Any, Callable, Dict, List, NamedTuple, Tuple

import numpy as np

import foveal.image as fimage
import foveal.nn.functional as F
from foveal import _core
from foveal.data import _augment
from foveal.nn.layers import _augment_chain

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


IMAGE_SHAPES = [(31, 29, 3), (2, 17, 40, 4), (23, 37), (19, 21, 1)]
BORDERS = ("constant", "replicate", "reflect", "reflect101", "wrap")


def image_cases() -> List[Case]:
    cases = []
    for i, shape in enumerate(IMAGE_SHAPES):
        for dtype in ("uint8", "float32"):
            rng = _rng(f"img{i}{dtype}")
            img = _image(rng, shape, dtype)
            rows, cols = (shape[1], shape[2]) if len(shape) == 4 else (shape[0], shape[1])
            a = rng.uniform(-0.6, 0.6)
            m = np.array([[np.cos(a) * 1.2, np.sin(a), rng.uniform(-4, 4)],
                          [-np.sin(a), np.cos(a) * 0.9, rng.uniform(-4, 4)]])
            warps = [("bilinear", BORDERS[(i + 8) % 5]), ("nearest", BORDERS[(i + 7) % 5]),
                     ("bicubic", "constant"), ("bicubic", BORDERS[i + 1])]
            for interp, border in warps:
                cval = 12.5 if interp == "bicubic" else 77   # uint8: rounded to 12 (half to even)
                cases.append(Case(f"warp_affine-{i}-{dtype}-{interp}-{border}", "image.warp_affine", (img, m),
                                  dict(output_shape=(rows + 3, 33),
                                       interpolation=interp, border=border, cval=cval)))
            # mixed, both shrinking (area averages), both growing, integer factors
            sizes = ((13, 50), (40, 17), (9, 11), (61, 77), (max(1, rows // 2), max(1, cols // 3)))
            for j, size in enumerate(sizes):
                for interp in ("bilinear", "nearest", "bicubic", "area"):
                    cases.append(Case(f"resize-{i}-{dtype}-{size}-{interp}", "image.resize", (img, size),
                                      dict(interpolation=interp)))
    return cases


def filter_cases() -> List[Case]:
    cases = []
    for i, shape in enumerate(IMAGE_SHAPES):
        for dtype in ("uint8", "float32"):
            rng = _rng(f"filter{i}{dtype}")
            img = _image(rng, shape, dtype)
            k3 = rng.uniform(-0.3, 1.0, (3, 3)).astype(np.float32)
            k3 /= k3.sum()
            k53 = rng.uniform(-0.5, 1.0, (5, 3)).astype(np.float32)
            k53[1, 2] = 0.0                 # a zero tap: skipped, as the CPU skips it
            k53 /= k53.sum()
            rank1 = np.outer(rng.uniform(0.1, 1.0, 5), rng.uniform(-0.2, 1.0, 3)).astype(np.float32)
            rank1 /= rank1.sum()            # a separable kernel: two 1-D passes
            pre = f"{i}-{dtype}"
            for border in BORDERS:
                cases.append(Case(f"filter2d-{pre}-3x3-{border}", "image.filter2d", (img, k3),
                                  dict(border=border, cval=77)))
            for border in ("constant", "reflect101", "wrap"):
                cases.append(Case(f"filter2d-{pre}-5x3-{border}", "image.filter2d", (img, k53),
                                  dict(border=border, cval=300)))
                cases.append(Case(f"filter2d-{pre}-rank1-{border}", "image.filter2d", (img, rank1),
                                  dict(border=border, cval=12.6)))
            cases.append(Case(f"convolve2d-{pre}", "image.convolve2d", (img, k53), dict(border="replicate")))
            for ksize, sigma in ((3, 0), (5, 0), (7, 1.3), ((5, 3), 0.8), (9, 0), (11, 0)):
                cases.append(Case(f"gaussian_blur-{pre}-{ksize}-{sigma}", "image.gaussian_blur", (img, ksize, sigma),
                                  {}))
            cases.append(Case(f"laplacian-{pre}", "image.laplacian", (img,), {}))
            for dx, dy, ksize in ((1, 0, 3), (0, 2, 5), (1, 1, 1), (2, 1, 7)):
                cases.append(Case(f"sobel-{pre}-{dx}{dy}{ksize}", "image.sobel", (img, dx, dy, ksize), {}))
            cases.append(Case(f"sharpen-{pre}", "image.sharpen", (img,), {}))
            cases.append(Case(f"edges-{pre}", "image.edges", (img,), {}))
    return cases


def _random_matrices(rng: np.random.Generator, n: int, h: int, w: int) -> np.ndarray:
    """n source -> destination maps about the image centre; the first the identity (a copy)."""
    out = np.zeros((n, 2, 3))
    for k in range(n):
        a, z = rng.uniform(-0.5, 0.5), rng.uniform(0.8, 1.25)
        lin = np.array([[np.cos(a) * z, np.sin(a)], [-np.sin(a), np.cos(a) / z]])
        c = np.array([(w - 1) / 2, (h - 1) / 2])
        out[k, :, :2] = lin
        out[k, :, 2] = c - lin @ c + rng.uniform(-3, 3, 2)
    out[0] = [[1, 0, 0], [0, 1, 0]]
    return out


# (shape, interpolation, border): 3 to 7200 values per image (2 chunks of the range reduction)
AUGMENT_CONFIGS = [((3, 17, 23, 3), "bilinear", "reflect"), ((2, 20, 16, 1), "nearest", "constant"),
                   ((4, 9, 30, 4), "bilinear", "replicate"), ((2, 40, 60, 3), "bilinear", "wrap"),
                   ((2, 1, 3, 1), "nearest", "reflect101")]


def augment_cases() -> List[Case]:
    cases = []
    for i, (shape, interp, border) in enumerate(AUGMENT_CONFIGS):
        rng = _rng(f"augment{i}")
        n, h, w, _ = shape
        x, xu8 = _image(rng, shape, "float32"), _image(rng, shape, "uint8")
        m = _random_matrices(rng, n, h, w)
        shift = rng.uniform(-40, 40, n).astype(np.float32)
        scale = rng.uniform(0.5, 1.5, n).astype(np.float32)
        shift[-1], scale[0] = 0.0, 1.0        # an image without a shift, one without a brightness change
        add = rng.uniform(-60, 60, n).astype(np.float32)
        for name, sh, sc in (("shift-scale", shift, scale), ("scale", None, scale), ("shift", shift, None),
                             ("warp", None, None)):
            cases.append(Case(f"augment_batch-{i}-{name}", "augment_batch", (x, m, interp, border, 33.0, sh, sc), {}))
        cases.append(Case(f"augment_batch-{i}-u8-add-clip", "augment_batch",
                          (xu8, m, interp, border, 33.0, None, None, add, (10.0, 240.0)), {}))
        cases.append(Case(f"augment_batch-{i}-u8", "augment_batch", (xu8, m, interp, border, 33.0, None, None), {}))
    rng = _rng("apply_batch")
    params = [{"theta": 20, "tx": 2, "ty": -3, "shear": 5, "zx": 1.1, "zy": 0.9, "flip_horizontal": True,
               "channel_shift_intensity": 10, "brightness": 1.2},
              {"theta": -35, "zx": 0.7, "zy": 0.7, "flip_vertical": True, "brightness": 0.8},
              {"channel_shift_intensity": -25}]
    for c, fill, order in ((3, "nearest", 1), (6, "constant", 1), (1, "wrap", 0)):
        x = _image(rng, (3, 14, 19, c), "float32")
        cases.append(Case(f"apply_batch-{c}-{fill}-{order}", "apply_batch", (x, params, fill, 9.0, order), {}))
    maps = np.stack([np.eye(3), np.linalg.inv(np.vstack([_random_matrices(rng, 2, 15, 18)[1], [0, 0, 1]])),
                     np.array([[1.0, 0.0, 2.5], [0.0, -1.0, 14.0], [0.0, 0.0, 1.0]])])
    xu8 = _image(rng, (3, 15, 18, 3), "uint8")
    cases.append(Case("warp_batch-u8-add-clip", "warp_batch", (xu8, maps, ("reflect", "bilinear", 0.0)),
                      dict(add=np.array([5, -20, 40], np.float32), clip=(0.0, 255.0))))
    cases.append(Case("warp_batch-f32-5ch", "warp_batch",
                      (_image(rng, (3, 15, 18, 5), "float32"), maps, ("constant", "nearest", 3.0)), {}))
    return cases


# (rows, channels, mean, std): one partial block; three 1024-row blocks, the last chunk partial;
# one row; a large offset (the variance is a small difference of large sums)
BN_CONFIGS = [(37, 5, 0.0, 1.0), (2500, 19, 1.0, 2.0), (1, 3, 0.0, 1.0), (700, 4, 1000.0, 0.01)]


def batch_norm_cases() -> List[Case]:
    cases = []
    for i, (rows, c, mu, sd) in enumerate(BN_CONFIGS):
        rng = _rng(f"bn{i}")
        x = (_r(rng, rows, c) * np.float32(sd) + np.float32(mu)).astype(np.float32)
        gamma, beta, dy = _r(rng, c), _r(rng, c), _r(rng, rows, c)
        eps = 1e-3
        cases.append(Case(f"batch_norm_train_forward-{i}", "batch_norm_train_forward", (x, gamma, beta, eps), {}))
        _, mean, var, inv_std, xhat = F.batch_norm_train_forward.__wrapped__(x, gamma, beta, eps)
        cases.append(Case(f"batch_norm_train_backward-{i}", "batch_norm_train_backward",
                          (dy, xhat, gamma, inv_std), {}))
        for act in (None, "relu", "relu6"):
            cases.append(Case(f"batch_norm_act_train_forward-{i}-{act}", "batch_norm_act_train_forward",
                              (x, gamma, beta, eps), dict(activation=act)))
            cases.append(Case(f"batch_norm_act_train_backward-{i}-{act}", "batch_norm_act_train_backward",
                              (dy, x, mean, inv_std, gamma, beta), dict(activation=act)))
        moving_var = rng.random(c, dtype=np.float32) * np.float32(sd * sd) + np.float32(0.01)
        moving_mean = (mean + _r(rng, c) * np.float32(sd * 0.1)).astype(np.float32)
        cases.append(Case(f"batch_norm_inference-{i}", "batch_norm_inference",
                          (x, gamma, beta, moving_mean, moving_var, eps), {}))
        _, inv = F.batch_norm_inference.__wrapped__(x, gamma, beta, moving_mean, moving_var, eps)
        cases.append(Case(f"batch_norm_inference_backward-{i}", "batch_norm_inference_backward",
                          (dy, x, gamma, moving_mean, inv), {}))
    return cases


# (shape, rate, key)
DROPOUT_CONFIGS = [((3, 50, 7), 0.3, 12345), ((1000,), 0.9, 2**64 - 1), ((2, 4, 4, 3), 0.0, 0),
                   ((129, 65), 0.5, 2**63 + 977)]


def dropout_cases() -> List[Case]:
    cases = []
    for i, (shape, rate, key) in enumerate(DROPOUT_CONFIGS):
        rng = _rng(f"dropout{i}")
        cases.append(Case(f"dropout-{i}", "dropout", (_r(rng, *shape), rate, key), {}))
        cases.append(Case(f"dropout_backward-{i}", "dropout_backward", (_r(rng, *shape), rate, key), {}))
    return cases


def _dropout_backward_cpu(dy: np.ndarray, rate: float, key: int) -> np.ndarray:
    """dy times the mask the CPU's dropout draws for an array of dy's shape and this key."""
    return dy * F.dropout.__wrapped__(np.zeros_like(dy), rate, key)[1]


def softmax_cases() -> List[Case]:
    cases = []
    for i, (shape, axis, scale) in enumerate([((4, 10), -1, 1.0), ((2, 3, 5, 4), 1, 3.0), ((3, 7), 0, 1.0),
                                              ((5,), 0, 30.0), ((2, 1, 6), -2, 1.0)]):
        rng = _rng(f"softmax{i}")
        cases.append(Case(f"softmax-{i}", "softmax", (_r(rng, *shape) * np.float32(scale),), dict(axis=axis)))
    return cases


def _one_hot(labels: np.ndarray, c: int) -> np.ndarray:
    out = np.zeros((labels.shape[0], c), np.float32)
    out[np.arange(labels.shape[0]), labels] = 1.0
    return out


def _probabilities(rng: np.random.Generator, rows: int, c: int, spread: float) -> np.ndarray:
    p = np.exp(_r(rng, rows, c) * np.float32(spread))
    return (p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def cross_entropy_cases() -> List[Case]:
    cases = []
    eps = 1e-7
    for i, (rows, c, spread) in enumerate([(7, 10, 1.0), (33, 3, 4.0), (1, 130, 2.0), (16, 5, 12.0)]):
        rng = _rng(f"xent{i}")
        logits = _r(rng, rows, c) * np.float32(spread)
        labels = rng.integers(0, c, rows)
        soft = rng.random((rows, c), dtype=np.float32)
        probs = _probabilities(rng, rows, c, spread)   # spread 12: some below epsilon (clipped rows)
        for kind, p, fl in (("logits", logits, True), ("probs", probs, False)):
            cases.append(Case(f"softmax_cross_entropy-{i}-{kind}-onehot", "softmax_cross_entropy",
                              (p, _one_hot(labels, c), fl, eps), {}))
            cases.append(Case(f"softmax_cross_entropy-{i}-{kind}-soft", "softmax_cross_entropy",
                              (p, soft, fl, eps), {}))
            lab = labels.astype(np.int32 if i % 2 else np.int64)
            cases.append(Case(f"sparse_softmax_cross_entropy-{i}-{kind}", "sparse_softmax_cross_entropy",
                              (p, lab, fl, eps), {}))
    return cases


def _sparse_cross_entropy_cpu(p: np.ndarray, labels: np.ndarray, from_logits: bool,
                              epsilon: float) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The CPU kernel on the one-hot targets the labels stand for (as the sparse loss builds them)."""
    return _core.softmax_cross_entropy(p, _one_hot(np.asarray(labels, np.int64), p.shape[1]), from_logits, epsilon)


def _rmsprop_cpu(w, g, v, m, a, *hyper):
    """The CPU step on copies; returns the updated (w, v, m, a) (None for a missing slot)."""
    w, v, m, a = (None if t is None else t.copy() for t in (w, v, m, a))
    _core.rmsprop_step(w, g, v, m, a, *hyper)
    return w, v, m, a


def _rmsprop_cuda(w, g, v, m, a, *hyper):
    """The GPU step on copies (device arrays on the GPU, NumPy in host mode), the same results."""
    from foveal import _cuda_ops
    from foveal._cuda_ops._memory import _state
    put = (lambda t: t.copy()) if _state["host"] else _cuda_ops.to_device
    w, v, m, a = (None if t is None else put(t) for t in (w, v, m, a))
    _cuda_ops.rmsprop_step(w, g, v, m, a, *hyper)
    return w, v, m, a


def optimizer_cases() -> List[Case]:
    cases = []
    for momentum in (0.0, 0.9):
        for centered in (False, True):
            rng = _rng(f"rmsprop{momentum}{centered}")
            n = 1003
            w, g = _r(rng, n), _r(rng, n)
            v = rng.random(n, dtype=np.float32) + np.float32(0.5)   # v > a*a: real slots (centered)
            m = _r(rng, n) if momentum else None
            a = (_r(rng, n) * np.float32(0.1)) if centered else None
            cases.append(Case(f"rmsprop_step-{momentum}-{centered}", "rmsprop_step",
                              (w, g, v, m, a, 0.01, 0.9, momentum, 1e-7), {}))
    return cases


def layout_cases() -> List[Case]:
    cases = []
    for i, (shape, pad) in enumerate([((2, 5, 7, 3), 1), ((1, 4, 3, 5), (2, 3)), ((3, 6, 6, 2), ((1, 0), (2, 4)))]):
        rng = _rng(f"pad{i}")
        x = _r(rng, *shape)
        cases.append(Case(f"zero_pad2d-{i}", "zero_pad2d", (x,), dict(padding=pad)))
        y = F.zero_pad2d.__wrapped__(x, pad)
        cases.append(Case(f"zero_pad2d_backward-{i}", "zero_pad2d_backward", (_r(rng, *y.shape),),
                          dict(padding=pad)))
    for i, (shape, size) in enumerate([((2, 5, 7, 3), 2), ((1, 1, 4, 2), (3, 2)), ((1, 6, 1, 5), (1, 4)),
                                       ((2, 3, 4, 17), 3), ((1, 2, 2, 1), (5, 1))]):
        rng = _rng(f"upsample{i}")
        x = _r(rng, *shape)
        for interp in ("nearest", "bilinear"):
            kw_ = dict(size=size, interpolation=interp)
            cases.append(Case(f"upsample2d-{i}-{interp}", "upsample2d", (x,), kw_))
            y = F.upsample2d.__wrapped__(x, **kw_)
            cases.append(Case(f"upsample2d_backward-{i}-{interp}", "upsample2d_backward", (_r(rng, *y.shape),), kw_))
    rng = _rng("global_max_backward")
    x = np.round(_r(rng, 3, 7, 9, 19) * 2.0).astype(np.float32)   # ties: the first maximum wins
    cases.append(Case("global_max_pool2d_backward", "global_max_pool2d_backward", (_r(rng, 3, 19), x), {}))
    return cases


def all_cases() -> List[Case]:
    return (conv_cases() + pool_cases() + dense_cases() + activation_cases() + image_cases() + filter_cases()
            + augment_cases()
            + batch_norm_cases() + dropout_cases() + softmax_cases() + cross_entropy_cases()
            + optimizer_cases() + layout_cases())


#: Ops whose GPU kernels do the CPU's float and double operations in the CPU's order: the host run
#: (and the GPU) give the CPU's bits, not only results within the tolerance. (The softmax and the
#: cross-entropy's gradient use the platform's expf where the CPU has its own vector exp.)
EXACT_OPS = ("batch_norm_train_forward", "batch_norm_train_backward", "batch_norm_act_train_forward",
             "batch_norm_act_train_backward", "batch_norm_inference", "dropout", "dropout_backward",
             "rmsprop_step", "zero_pad2d", "zero_pad2d_backward", "upsample2d", "upsample2d_backward",
             "global_max_pool2d_backward")


#: The image ops (foveal.image and the fused augmentation): the CPU's bits where the CPU kernels
#: use fused multiply-adds (the AVX2 and AVX-512 kernels; the scalar ones round each product).
IMAGE_OPS = ("augment_batch", "apply_batch", "warp_batch")


def is_image_op(op: str) -> bool:
    return op.startswith("image.") or op in IMAGE_OPS


#: The CPU computation of the GPU ops that have no CPU op of their name (or, in place, return nothing).
REFERENCES: Dict[str, Callable[..., Any]] = {
    "softmax_cross_entropy": _core.softmax_cross_entropy,
    "sparse_softmax_cross_entropy": _sparse_cross_entropy_cpu,
    "dropout_backward": _dropout_backward_cpu,
    "rmsprop_step": _rmsprop_cpu,
    "augment_batch": _core.image.augment_batch,
    "apply_batch": _augment.apply_batch,
    "warp_batch": _augment_chain.warp_batch,
}
def _on_cuda(fn: Callable[..., Any]) -> Callable[..., Any]:
    """fn run with the device set to "cuda" (its routed ops then run the CUDA ops)."""
    def run(*args: Any, **kwargs: Any) -> Any:
        from foveal._device_state import state
        old = state["device"]
        state["device"] = "cuda"
        try:
            return fn(*args, **kwargs)
        finally:
            state["device"] = old
    return run


#: The GPU side of the in-place ops among them (run on copies, the updated arrays returned), and
#: of the foveal.image ops that reach a CUDA op through another routed op.
CUDA_WRAPPERS: Dict[str, Callable[..., Any]] = {"rmsprop_step": _rmsprop_cuda,
                                                "image.sharpen": _on_cuda(fimage.sharpen),
                                                "image.edges": _on_cuda(fimage.edges)}


def cpu_op(op: str) -> Callable[..., Any]:
    """The CPU implementation of ``op`` (beneath its routing decorator)."""
    if op in REFERENCES:
        return REFERENCES[op]
    fn = getattr(fimage, op[len("image."):]) if op.startswith("image.") else getattr(F, op)
    return getattr(fn, "__wrapped__", fn)


def cuda_op(op: str) -> Callable[..., Any]:
    if op in CUDA_WRAPPERS:
        return CUDA_WRAPPERS[op]
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
        if w.dtype == np.bool_:
            assert np.array_equal(g, w), f"{case.id}[{i}]: flags differ"
        elif w.dtype == np.uint8:
            err = np.abs(g.astype(np.int16) - w.astype(np.int16)).max(initial=0)
            assert err <= 1, f"{case.id}[{i}]: uint8 off by {err}"
        else:
            scale = max(float(np.abs(w).max(initial=0.0)), 1e-30)
            err = float(np.abs(g.astype(np.float64) - w).max(initial=0.0))
            assert err <= 1e-4 * scale, f"{case.id}[{i}]: error {err:.3g} > 1e-4 of the scale {scale:.3g}"
