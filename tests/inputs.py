"""Seeded, reproducible test inputs: random arrays and images, and random op configurations.

* nn: ``rand`` (standard-normal float32), ``random_pair`` / ``random_padding`` (every accepted
  spelling of a pair and of a padding), ``conv_out_shape`` / ``pool_out_shape`` (the shape a dy
  must have), and the backward tests' random conv2d configurations (``backward_conv_*``);
* image: ``img``, ``smooth_img``, ``kernel`` and the SIZES / DTYPES / BORDERS sweeps.
"""
import zlib

import numpy as np

import reference as R

# ----------------------------------------------------------------------------- nn
# The backward tests' channel counts: SIMD tails for 8- and 16-lane vectors, and primes.
BACKWARD_CHANNELS = (1, 2, 3, 5, 7, 13, 15, 16, 17, 33)


def rand(rng, *shape):
    """Standard-normal float32 test data."""
    return rng.standard_normal(shape, dtype=np.float32)


def random_pair(rng, low, high, p_equal=0.6):
    """An int, or an (h, w) pair: both spellings must be accepted."""
    a = int(rng.integers(low, high + 1))
    if rng.random() < p_equal:
        return a
    return (a, int(rng.integers(low, high + 1)))


def random_padding(rng, most=3):
    """One of the five padding forms: "valid", "same", p, (ph, pw), ((t, b), (l, r))."""
    form = int(rng.integers(5))
    if form == 0:
        return "valid"
    if form == 1:
        return "same"
    if form == 2:
        return int(rng.integers(0, most + 1))
    if form == 3:
        return (int(rng.integers(0, most + 1)), int(rng.integers(0, most + 1)))
    return tuple(tuple(int(v) for v in rng.integers(0, most + 1, 2)) for _ in range(2))


def conv_out_shape(n, h, w, k, cout, **kw):
    """The N x oh x ow x cout shape of conv2d's output (so of its dy) for these options."""
    oh, ow = R.conv_output_shape((n, h, w, 1), k, kw.get("strides", 1), kw.get("padding", "valid"),
                                 kw.get("dilation_rate", 1))
    return (n, oh, ow, cout)


def pool_out_shape(x_shape, pool_size=2, strides=None, padding="valid"):
    """The shape of a pooling's output (so of its dy)."""
    pool = R.pair(pool_size)
    oh, ow = R.conv_output_shape(x_shape, pool, pool if strides is None else strides, padding, 1)
    return (x_shape[0], oh, ow, x_shape[3])


def backward_conv_id(c):
    """The pytest id of a backward_conv_cases configuration."""
    return (f"n{c['n']}_{c['h']}x{c['w']}_c{c['cin']}-{c['cout']}_k{c['kh']}x{c['kw']}"
            f"_s{c['strides']}_d{c['dilation_rate']}_g{c['groups']}_p{c['padding']}"
            f"{'' if c['need_dx'] else '_nodx'}").replace(" ", "")


def backward_conv_cases(seed, count, max_size=13, max_kernel=5, channels=BACKWARD_CHANNELS,
                        max_n=3, group_mults=((1, 2, 3, 5), (1, 2, 3, 4))):
    """Random conv2d configurations (dense, grouped, depthwise as groups == C) that fit, with
    need_dx; the backward tests' sweeps."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kind = rng.choice(["dense", "dense", "grouped", "depthwise"])
        if kind == "dense":
            groups, cin, cout = 1, int(rng.choice(channels)), int(rng.choice(channels))
        elif kind == "grouped":
            groups = int(rng.choice([2, 3, 4]))
            cin = groups * int(rng.choice(group_mults[0]))
            cout = groups * int(rng.choice(group_mults[1]))
        else:
            cin = int(rng.choice(channels))
            groups, cout = cin, cin * int(rng.integers(1, 3))
        c = dict(n=int(rng.integers(1, max_n + 1)), h=int(rng.integers(1, max_size + 1)),
                 w=int(rng.integers(1, max_size + 1)), cin=cin, cout=cout,
                 kh=int(rng.integers(1, max_kernel + 1)), kw=int(rng.integers(1, max_kernel + 1)),
                 strides=random_pair(rng, 1, 3),
                 dilation_rate=1 if rng.random() < 0.5 else random_pair(rng, 1, 3),
                 padding=random_padding(rng), groups=groups,
                 need_dx=bool(rng.random() < 0.8), seed=len(cases))
        if 0 not in R.conv_output_shape((1, c["h"], c["w"], 1), (c["kh"], c["kw"]),
                                        c["strides"], c["padding"], c["dilation_rate"]):
            cases.append(c)
    return cases


def backward_conv_problem(c, salt=0):
    """(dy, x, kernel, options) for a backward_conv_cases configuration."""
    rng = np.random.default_rng([2024, salt, c["seed"]])
    kw = dict(strides=c["strides"], padding=c["padding"], dilation_rate=c["dilation_rate"])
    x = rand(rng, c["n"], c["h"], c["w"], c["cin"])
    kernel = rand(rng, c["kh"], c["kw"], c["cin"] // c["groups"], c["cout"])
    dy = rand(rng, *conv_out_shape(c["n"], c["h"], c["w"], (c["kh"], c["kw"]), c["cout"], **kw))
    return dy, x, kernel, kw


# ----------------------------------------------------------------------------- image
# (rows, cols) of the test images: odd and even, single pixel, single row and column, very wide.
SIZES = [(17, 23), (16, 24), (1, 1), (1, 9), (9, 1), (2, 3), (3, 2000)]
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
