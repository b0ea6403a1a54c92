"""The backward passes of foveal.nn.functional against the float64 NumPy reference
(tests/reference/nn.py), on every ISA: seeded random shape sweeps and targeted cases through
check_op(..., grad=True) (tests/check.py); determinism, threads and input conversion; bad input
raises ValueError / TypeError naming the argument. Finite differences and the adjoint
properties are in test_nn_gradients.py.

The loss behind every gradient is ``L = sum(w * f(inputs))``, so ``dy = w``.
"""
import threading
import zlib

import numpy as np
import pytest

import foveal
import foveal.nn.functional as F
import reference as R
from check import check_op
from inputs import (BACKWARD_CHANNELS, backward_conv_cases, backward_conv_id,
                    backward_conv_problem, conv_out_shape, pool_out_shape, rand, random_pair,
                    random_padding)

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")
NEW_ACTIVATIONS = ("relu6", "hard_sigmoid", "hard_silu", "silu", "gelu", "leaky_relu", "elu",
                   "softplus")
WIDE_CHANNELS = BACKWARD_CHANNELS + (32, 64, 65)  # the depthwise and pooling sweeps


# ----------------------------------------------------------------------------- conv2d sweep
def padding_form(p):
    if isinstance(p, str):
        return p
    if isinstance(p, int):
        return "int"
    return "((t, b), (l, r))" if isinstance(p[0], tuple) else "(ph, pw)"


CONV_SWEEP = backward_conv_cases(seed=20240917, count=120)


@pytest.mark.parametrize("case", CONV_SWEEP, ids=[backward_conv_id(c) for c in CONV_SWEEP])
def test_conv2d_backward_random_sweep(isa, case):
    dy, x, kernel, kw = backward_conv_problem(case)
    check_op("conv2d", dy, x, kernel, groups=case["groups"], need_dx=case["need_dx"], grad=True,
             **kw)


def test_conv2d_backward_sweep_covers_every_option():
    """The sweep above exercises each padding form, groups and depthwise, need_dx=False,
    strides and dilation above 1."""
    forms = {padding_form(c["padding"]) for c in CONV_SWEEP}
    assert forms == {"valid", "same", "int", "(ph, pw)", "((t, b), (l, r))"}, forms
    assert any(1 < c["groups"] < c["cin"] for c in CONV_SWEEP)
    assert any(c["groups"] == c["cin"] > 1 for c in CONV_SWEEP)
    assert any(not c["need_dx"] for c in CONV_SWEEP)
    assert any(R.pair(c["strides"]) != (1, 1) and R.pair(c["dilation_rate"]) != (1, 1)
               for c in CONV_SWEEP)
    assert {15, 16, 17, 33} <= {c["cin"] for c in CONV_SWEEP} | {c["cout"] for c in CONV_SWEEP}


@pytest.mark.parametrize("padding", [
    "valid", "same", 0, 1, 3, (1, 2), (0, 3), ((0, 1), (2, 0)), ((3, 1), (0, 2)),
    ((1, 0), (0, 1)), ((4, 0), (0, 4)),
])
@pytest.mark.parametrize("strides,dilation_rate", [(1, 1), (2, 1), ((2, 1), (1, 2)),
                                                   ((1, 3), 1), (3, 2)])
def test_conv2d_backward_padding_forms(isa, padding, strides, dilation_rate):
    rng = np.random.default_rng(zlib.crc32(f"{padding}{strides}{dilation_rate}".encode()))
    x, kernel = rand(rng, 2, 9, 11, 5), rand(rng, 3, 2, 5, 7)
    kw = dict(strides=strides, padding=padding, dilation_rate=dilation_rate)
    dy = rand(rng, *conv_out_shape(2, 9, 11, (3, 2), 7, **kw))
    check_op("conv2d", dy, x, kernel, grad=True, **kw)


@pytest.mark.parametrize("cin,cout,groups", [
    (1, 1, 1), (15, 16, 1), (16, 17, 1), (17, 33, 1), (33, 15, 1), (64, 64, 1), (65, 3, 1),
    (4, 6, 2), (6, 9, 3), (12, 8, 4), (16, 32, 16), (17, 17, 17), (33, 66, 33), (64, 128, 8),
])
def test_conv2d_backward_channels_and_groups(isa, cin, cout, groups):
    rng = np.random.default_rng(cin * 1000 + cout * 10 + groups)
    x, kernel = rand(rng, 2, 7, 6, cin), rand(rng, 3, 3, cin // groups, cout)
    dy = rand(rng, *conv_out_shape(2, 7, 6, (3, 3), cout, padding="same"))
    check_op("conv2d", dy, x, kernel, padding="same", groups=groups, grad=True)
    dy = rand(rng, *conv_out_shape(2, 7, 6, (1, 2), cout, strides=2))
    check_op("conv2d", dy, x, kernel[:1, :2], strides=2, groups=groups, need_dx=False, grad=True)


@pytest.mark.parametrize("n,h,w,cin,cout,k,kw", [
    (2, 16, 16, 32, 64, 3, dict(padding="same")),                   # the course CNN's conv 2
    (4, 32, 32, 3, 32, 3, dict(padding="same")),                    # the course CNN's conv 1
    (2, 12, 12, 150, 40, 3, dict(padding=1)),                       # long reduction for dx
    (1, 30, 28, 8, 8, 5, dict(strides=2, padding="same", dilation_rate=1)),
    (3, 20, 20, 24, 24, 3, dict(groups=24, padding="same")),
    # the input gradient's B read from the kernel turned while packed: per block (few pixels,
    # taps cut into parts), once for all tasks, and with taps of one kernel position
    (2, 4, 4, 40, 520, 3, dict(padding=1)),
    (2, 14, 14, 24, 20, 5, dict(padding="same")),
    (1, 9, 9, 16, 24, 3, dict(padding="same", dilation_rate=2)),
], ids=["cnn_conv2", "cnn_conv1", "cin150", "5x5s2", "dw24", "dx_b_per_block", "dx_5x5", "dx_dilated"])
def test_conv2d_backward_larger(isa, n, h, w, cin, cout, k, kw):
    rng = np.random.default_rng(h * w + cin)
    groups = kw.pop("groups", 1)
    x, kernel = rand(rng, n, h, w, cin), rand(rng, k, k, cin // groups, cout)
    dy = rand(rng, *conv_out_shape(n, h, w, (k, k), cout, **kw))
    check_op("conv2d", dy, x, kernel, groups=groups, grad=True, **kw)


def test_conv2d_backward_need_dx_false_same_kernel_gradient(isa):
    rng = np.random.default_rng(11)
    x, kernel = rand(rng, 2, 8, 9, 6), rand(rng, 3, 3, 3, 4)
    dy = rand(rng, *conv_out_shape(2, 8, 9, (3, 3), 4, padding="same"))
    full = F.conv2d_backward(dy, x, kernel, padding="same", groups=2)
    part = F.conv2d_backward(dy, x, kernel, padding="same", groups=2, need_dx=False)
    assert part[0] is None and full[0] is not None
    np.testing.assert_allclose(part[1], full[1], rtol=1e-6, atol=1e-6 * np.abs(full[1]).max())
    np.testing.assert_allclose(part[2], full[2], rtol=1e-6, atol=1e-6 * np.abs(full[2]).max())


@pytest.mark.parametrize("cin", [1, 2, 3, 7])
@pytest.mark.parametrize("k,kw", [
    ((3, 3), dict()),                                   # valid: a kernel row's taps merged
    ((2, 5), dict(padding=((2, 1), (0, 0)), strides=(1, 2))),   # top/bottom padding: merged
    ((3, 3), dict(padding="same")),                     # left/right padding: tap by tap
    ((3, 2), dict(dilation_rate=(1, 2))),               # dilated columns: tap by tap
    ((3, 3), dict(groups=True)),                        # groups: tap by tap
])
@pytest.mark.parametrize("threads", [1, 3])
def test_conv2d_kernel_gradient_few_input_channels(isa, threads, cin, k, kw):
    """The kernel gradient takes all the taps of a kernel row in one register tile where their
    pixels line up (no left/right padding, one group, no column dilation): the same values as
    the reference either way."""
    rng = np.random.default_rng(31 + cin)
    kw = dict(kw)
    groups = cin if kw.pop("groups", False) and cin > 1 else 1
    shape = (2, 9, 11, cin)
    x, kernel = rand(rng, *shape), rand(rng, *k, cin // groups, 42)
    dy = rand(rng, *conv_out_shape(*shape[:3], k, 42, **kw))
    previous = foveal.get_num_threads()
    foveal.set_num_threads(threads)
    try:
        check_op("conv2d", dy, x, kernel, groups=groups, grad=True, **kw)
    finally:
        foveal.set_num_threads(previous)


def test_conv2d_backward_kernel_exactly_fills_and_padding_wider_than_kernel(isa):
    rng = np.random.default_rng(12)
    for shape, k, kw in [((2, 5, 4, 3), (7, 6), dict(padding=1)),          # 1x1 output
                         ((1, 3, 3, 2), (3, 3), dict(dilation_rate=2, padding=1)),
                         ((1, 4, 5, 3), (1, 1), dict(padding=3)),          # pure-padding outputs
                         ((2, 3, 3, 4), (2, 2), dict(padding=((4, 0), (0, 4)), strides=2)),
                         ((1, 7, 7, 3), (1, 1), dict(strides=3)),          # skipped pixels: dx 0
                         ((3, 1, 1, 5), (1, 1), dict())]:
        x, kernel = rand(rng, *shape), rand(rng, *k, shape[3], 6)
        dy = rand(rng, *conv_out_shape(*shape[:3], k, 6, **kw))
        check_op("conv2d", dy, x, kernel, grad=True, **kw)


# ----------------------------------------------------------------------------- depthwise
def dw_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        c = dict(n=int(rng.integers(1, 4)), h=int(rng.integers(1, 14)), w=int(rng.integers(1, 14)),
                 c=int(rng.choice(WIDE_CHANNELS)), m=int(rng.integers(1, 4)),
                 kh=int(rng.integers(1, 6)), kw=int(rng.integers(1, 6)),
                 strides=random_pair(rng, 1, 3),
                 dilation_rate=1 if rng.random() < 0.5 else random_pair(rng, 1, 3),
                 padding=random_padding(rng), need_dx=bool(rng.random() < 0.8), seed=len(cases))
        if 0 not in R.conv_output_shape((1, c["h"], c["w"], 1), (c["kh"], c["kw"]),
                                        c["strides"], c["padding"], c["dilation_rate"]):
            cases.append(c)
    return cases


DW_SWEEP = dw_cases(seed=4242, count=60)


@pytest.mark.parametrize("case", DW_SWEEP, ids=[
    f"n{c['n']}_{c['h']}x{c['w']}_c{c['c']}x{c['m']}_k{c['kh']}x{c['kw']}_s{c['strides']}"
    f"_d{c['dilation_rate']}_p{c['padding']}{'' if c['need_dx'] else '_nodx'}".replace(" ", "")
    for c in DW_SWEEP])
def test_depthwise_conv2d_backward_random_sweep(isa, case):
    c = case
    rng = np.random.default_rng([99, c["seed"]])
    kw = dict(strides=c["strides"], padding=c["padding"], dilation_rate=c["dilation_rate"])
    x = rand(rng, c["n"], c["h"], c["w"], c["c"])
    kernel = rand(rng, c["kh"], c["kw"], c["c"], c["m"])
    dy = rand(rng, *conv_out_shape(c["n"], c["h"], c["w"], (c["kh"], c["kw"]), c["c"] * c["m"],
                                   **kw))
    check_op("depthwise_conv2d", dy, x, kernel, need_dx=c["need_dx"], grad=True, **kw)


@pytest.mark.parametrize("c", [3, 17, 40])
@pytest.mark.parametrize("padding", ["same", "valid", ((2, 0), (0, 1))])
@pytest.mark.parametrize("strides,dilation_rate", [(1, 1), (2, 1), (1, 2), ((2, 1), (1, 2))])
@pytest.mark.parametrize("k", [(3, 3), (5, 5), (1, 3)])
def test_depthwise_backward_kernels_strides_paddings(isa, k, strides, dilation_rate, padding, c):
    """The multiplier-1 depthwise backward (its kernel-gradient row kernel: the 3-wide kernel
    rows in registers, other widths tap by tap; its input gradient: the flipped-kernel
    convolution at stride 1, the gather row kernel otherwise), rows wide enough for an interior
    between the borders."""
    rng = np.random.default_rng(zlib.crc32(f"{k}{strides}{dilation_rate}{padding}{c}".encode()))
    kw = dict(strides=strides, padding=padding, dilation_rate=dilation_rate)
    x, kernel = rand(rng, 2, 11, 29, c), rand(rng, *k, c, 1)
    dy = rand(rng, *conv_out_shape(2, 11, 29, k, c, **kw))
    check_op("depthwise_conv2d", dy, x, kernel, grad=True, **kw)


@pytest.mark.parametrize("n", [1, 64, 67, 130])
@pytest.mark.parametrize("strides", [1, 2])
def test_depthwise_backward_batch_sizes(isa, n, strides):
    """Batches of one image and of more than 64 (the kernel gradient's fixed shares then hold
    several images each)."""
    rng = np.random.default_rng(n * 10 + strides)
    kw = dict(strides=strides, padding="same")
    x, kernel = rand(rng, n, 6, 7, 17), rand(rng, 3, 3, 17, 1)
    dy = rand(rng, *conv_out_shape(n, 6, 7, (3, 3), 17, **kw))
    check_op("depthwise_conv2d", dy, x, kernel, grad=True, **kw)


@pytest.mark.parametrize("n", [3, 67])
def test_depthwise_backward_bits_do_not_depend_on_threads(isa, n):
    """The kernel and bias gradients are summed per fixed share of the batch, then the shares in
    order; the input gradient is computed per row: the same bits at 1, 2 and 3 threads."""
    rng = np.random.default_rng(n)
    x, kernel = rand(rng, n, 10, 12, 40), rand(rng, 3, 3, 40, 1)
    for strides in (1, 2):
        kw = dict(strides=strides, padding="same")
        dy = rand(rng, *conv_out_shape(n, 10, 12, (3, 3), 40, **kw))
        _assert_same_bits_at_1_2_3_threads(lambda: F.depthwise_conv2d_backward(dy, x, kernel, **kw))


def _assert_same_bits_at_1_2_3_threads(backward):
    """``backward()`` (a tuple of gradients) gives identical bits at 1, 2 and 3 threads."""
    previous = foveal.get_num_threads()
    try:
        results = []
        for threads in (1, 2, 3):
            foveal.set_num_threads(threads)
            results.append(backward())
        for other in results[1:]:
            for a, b in zip(other, results[0]):
                np.testing.assert_array_equal(a, b)
    finally:
        foveal.set_num_threads(previous)


@pytest.mark.parametrize("shape", [(3, 10, 12, 13, 70, 3, 1, "same", 1), (2, 9, 9, 40, 24, 3, 2, "same", 2),
                                   (5, 8, 8, 24, 144, 1, 1, "valid", 1), (2, 16, 16, 3, 20, 7, 2, "same", 1),
                                   (4, 7, 7, 64, 130, 3, 1, "same", 1)])
def test_conv_backward_bits_do_not_depend_on_threads(isa, shape):
    """The kernel gradient holds each register tile over the pixels in a fixed order, whatever
    thread runs it (the tasks' number follows the thread count): the same bits at 1, 2 and 3
    threads, as the input gradient's."""
    n, h, w, c, o, k, s, padding, groups = shape
    rng = np.random.default_rng(n + c)
    kw = dict(strides=s, padding=padding, groups=groups)
    x, kernel = rand(rng, n, h, w, c), rand(rng, k, k, c // groups, o)
    dy = rand(rng, *F.conv2d(x, kernel, None, **kw).shape)
    _assert_same_bits_at_1_2_3_threads(lambda: F.conv2d_backward(dy, x, kernel, **kw))


@pytest.mark.parametrize("c,m", [(1, 1), (3, 2), (16, 1), (17, 3), (33, 2)])
def test_depthwise_backward_matches_grouped_conv2d_backward(isa, c, m):
    """Keras layout: the depthwise kernel is the grouped kernel kh x kw x 1 x (C*M)."""
    rng = np.random.default_rng(c * 10 + m)
    x, kernel = rand(rng, 2, 9, 8, c), rand(rng, 3, 3, c, m)
    kw = dict(strides=(1, 2), padding="same")
    dy = rand(rng, *conv_out_shape(2, 9, 8, (3, 3), c * m, **kw))
    dx, dk, db = check_op("depthwise_conv2d", dy, x, kernel, grad=True, **kw)
    gx, gk, gb = F.conv2d_backward(dy, x, kernel.reshape(3, 3, 1, c * m), groups=c, **kw)
    for a, b in ((dx, gx), (dk, gk.reshape(dk.shape)), (db, gb)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(b).max()))


# ----------------------------------------------------------------------------- pooling
def pool_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        pool = random_pair(rng, 1, 5)
        strides = None if rng.random() < 0.35 else random_pair(rng, 1, 3)
        c = dict(n=int(rng.integers(1, 4)), h=int(rng.integers(1, 14)), w=int(rng.integers(1, 14)),
                 c=int(rng.choice(WIDE_CHANNELS)), pool_size=pool, strides=strides,
                 padding=str(rng.choice(["valid", "same"])), seed=len(cases))
        if 0 not in pool_out_shape((1, c["h"], c["w"], 1), pool, strides, c["padding"]):
            cases.append(c)
    return cases


POOL_SWEEP = pool_cases(seed=8080, count=60)
POOL_OPS = ("max_pool2d_backward", "avg_pool2d_backward")


@pytest.mark.parametrize("op", POOL_OPS)
@pytest.mark.parametrize("case", POOL_SWEEP, ids=[
    f"n{c['n']}_{c['h']}x{c['w']}_c{c['c']}_p{c['pool_size']}_s{c['strides']}_{c['padding']}"
    .replace(" ", "") for c in POOL_SWEEP])
def test_pool_backward_random_sweep(isa, op, case):
    c = case
    rng = np.random.default_rng([77, c["seed"]])
    kw = dict(pool_size=c["pool_size"], strides=c["strides"], padding=c["padding"])
    x = rand(rng, c["n"], c["h"], c["w"], c["c"])
    dy = rand(rng, *pool_out_shape(x.shape, **kw))
    check_op(op, dy, x, **kw)


@pytest.mark.parametrize("op", POOL_OPS)
@pytest.mark.parametrize("shape,kw", [
    ((1, 4, 4, 1), dict()),                                       # defaults: 2x2, strides 2
    ((2, 5, 5, 3), dict()),                                       # valid drops the last row/col
    ((2, 5, 7, 3), dict(padding="same")),
    ((1, 9, 9, 16), dict(pool_size=3, strides=1, padding="same")),  # overlapping windows
    ((3, 10, 11, 17), dict(pool_size=(2, 3), strides=(1, 2))),
    ((1, 6, 6, 2), dict(pool_size=2, strides=3)),                 # gaps between windows
    ((2, 1, 1, 5), dict(pool_size=1)),
    ((2, 3, 3, 33), dict(pool_size=5, padding="same")),           # pool larger than the input
    ((2, 32, 32, 32), dict()),                                    # the course CNN's pools
    ((2, 16, 16, 64), dict()),
    ((1, 15, 15, 64), dict(pool_size=3, strides=2, padding="same")),
])
def test_pool_backward_cases(isa, op, shape, kw):
    rng = np.random.default_rng(sum(shape))
    x = rand(rng, *shape)
    check_op(op, rand(rng, *pool_out_shape(shape, **kw)), x, **kw)


@pytest.mark.parametrize("op", POOL_OPS)
@pytest.mark.parametrize("kw", [dict(), dict(pool_size=2, strides=3),
                                dict(pool_size=(2, 3), strides=(3, 4), padding="same"),
                                dict(pool_size=3, strides=2)])
def test_pool_backward_into_a_reused_buffer(isa, op, kw):
    """Windows that do not overlap store their cells and leave the cells no window covers (a
    valid pool's last row and column, gaps between windows) to be zeroed: a buffer that the
    buffer cache hands back full of NaN gives the reference's values, zeros included."""
    rng = np.random.default_rng(5)
    x = rand(rng, 4, 65, 65, 16)   # 1 MiB: through the buffer cache
    dy = rand(rng, *pool_out_shape(x.shape, **kw))
    fn = getattr(F, op)
    stale = fn(np.full(x.shape, np.nan, np.float32), x, pool_size=1)   # NaN everywhere
    assert np.isnan(stale).all()
    addr = stale.ctypes.data
    del stale
    dx = fn(dy, x, **kw)
    assert dx.ctypes.data == addr, "the buffer cache did not hand the NaN buffer back"
    assert not np.isnan(dx).any()
    check_op(op, dy, x, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=1, padding="same"),
                                dict(pool_size=(2, 3), strides=(2, 1), padding="same"),
                                dict(pool_size=3, strides=2)])
def test_max_pool2d_backward_ties_go_to_the_first_maximum(isa, kw):
    """Few distinct values: most windows hold ties; dy goes to the first in row-major order."""
    rng = np.random.default_rng(5)
    x = rng.integers(0, 3, size=(2, 8, 7, 17)).astype(np.float32)
    dy = rand(rng, *pool_out_shape(x.shape, **kw))
    check_op("max_pool2d", dy, x, grad=True, **kw)
    # all equal: every window's dy goes to its top-left real cell
    check_op("max_pool2d", dy, np.zeros_like(x), grad=True, **kw)


@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=1, padding="same"),
                                dict(pool_size=(2, 3), strides=(2, 1), padding="same"),
                                dict(pool_size=3, strides=2)])
@pytest.mark.parametrize("shape", [(1, 3, 3, 1), (2, 7, 9, 17), (3, 8, 8, 32), (1, 5, 6, 3)])
def test_max_pool2d_backward_through_relu_is_both_passes_in_one(isa, kw, shape):
    """through_relu=True equals max-pool backward followed by ReLU backward (x a ReLU output,
    with exact zeros and ties among them), bit for bit."""
    rng = np.random.default_rng(sum(shape))
    x = np.maximum(np.round(rng.normal(size=shape) * 2) / 2, 0).astype(np.float32)
    dy = rand(rng, *pool_out_shape(shape, **kw))
    fused = F.max_pool2d_backward(dy, x, through_relu=True, **kw)
    two = F.activation_backward(F.max_pool2d_backward(dy, x, **kw), x, "relu")
    np.testing.assert_array_equal(fused, two)


def test_max_pool2d_backward_first_maximum_by_hand(isa):
    x = np.array([[1, 5, 5], [5, 2, 0], [3, 3, 3]], np.float32).reshape(1, 3, 3, 1)
    dy = np.array([[10, 20], [30, 40]], np.float32).reshape(1, 2, 2, 1)
    dx = F.max_pool2d_backward(dy, x, pool_size=2, strides=1)
    # windows: (0,0) -> 5 at (0,1); (0,1) -> 5 at (0,1); (1,0) -> 5 at (1,0); (1,1) -> 3 at (2,1)
    expected = [[0, 30, 0], [30, 0, 0], [0, 40, 0]]
    np.testing.assert_array_equal(dx[0, :, :, 0], expected)
    np.testing.assert_array_equal(R.max_pool2d_backward(dy, x, 2, 1)[0, :, :, 0], expected)
    # "same" padding: padded cells never win, even over negative values
    xn = -np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    dx = F.max_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), xn, 2, padding="same")
    np.testing.assert_array_equal(dx[0, :, :, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_avg_pool2d_backward_same_excludes_padding_by_hand(isa):
    dx = F.avg_pool2d_backward(np.ones((1, 2, 2, 1), np.float32), np.zeros((1, 3, 3, 1)), 2,
                               padding="same")
    np.testing.assert_allclose(dx[0, :, :, 0], [[0.25, 0.25, 0.5], [0.25, 0.25, 0.5],
                                                [0.5, 0.5, 1.0]], rtol=1e-7)


@pytest.mark.parametrize("op", ("global_avg_pool2d_backward", "global_max_pool2d_backward"))
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (3, 7, 7, 16), (3, 13, 1, 17),
                                   (2, 1, 9, 33), (2, 8, 8, 64), (1, 4, 4, 65)])
def test_global_pool_backward(isa, op, shape):
    rng = np.random.default_rng(sum(shape))
    check_op(op, rand(rng, shape[0], shape[3]), rand(rng, *shape))


def test_global_max_pool2d_backward_ties(isa):
    rng = np.random.default_rng(6)
    x = rng.integers(0, 2, size=(3, 5, 4, 17)).astype(np.float32)
    dy = rand(rng, 3, 17)
    check_op("global_max_pool2d", dy, x, grad=True)
    dx = F.global_max_pool2d_backward(dy, np.zeros_like(x))
    np.testing.assert_array_equal(dx[:, 0, 0, :], dy)          # the top-left cell
    assert not dx[:, 1:].any() and not dx[:, 0, 1:].any()


# ----------------------------------------------------------------------------- dense
@pytest.mark.parametrize("n,fin,fout", [
    (1, 1, 1), (2, 3, 5), (7, 15, 16), (5, 16, 17), (3, 17, 33), (64, 4096, 128),
    (64, 128, 10), (9, 33, 65), (4, 100, 1), (1, 64, 64), (13, 7, 31),
])
@pytest.mark.parametrize("need_dx", [True, False])
def test_dense_backward(isa, n, fin, fout, need_dx):
    rng = np.random.default_rng(n * 7 + fin * 3 + fout)
    check_op("dense", rand(rng, n, fout), rand(rng, n, fin), rand(rng, fin, fout),
             need_dx=need_dx, grad=True)


def test_dense_backward_leading_axes(isa):
    """dense works over the last axis of x (..., in), as the forward does."""
    rng = np.random.default_rng(3)
    check_op("dense", rand(rng, 2, 3, 5), rand(rng, 2, 3, 7), rand(rng, 7, 5), grad=True)


# ----------------------------------------------------------------------------- activations
@pytest.mark.parametrize("activation", ACTIVATIONS + NEW_ACTIVATIONS)
@pytest.mark.parametrize("shape", [(1,), (7,), (15,), (16,), (17,), (33,), (3, 1000),
                                   (2, 5, 7, 17), (1, 9, 9, 64)])
def test_activation_backward(isa, activation, shape):
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    x = rand(rng, *shape) * np.float32(3)
    x.flat[::5] = 0.0                       # relu's y == 0: no gradient
    y = R.ACTIVATIONS[activation](x).astype(np.float32)
    if activation in R.GRAD_FROM_INPUT:     # silu, hard_silu, gelu: from the input
        check_op("activation", rand(rng, *shape), y, activation, grad=True, x=x)
    else:
        check_op("activation", rand(rng, *shape), y, activation, grad=True)


def test_activation_backward_relu_uses_y_sign(isa):
    """relu: dy where y > 0, else 0 (negative y included, whatever produced it)."""
    y = np.array([-1.0, -0.0, 0.0, 1e-30, 2.0], np.float32)
    dy = np.array([1.0, 2.0, 3.0, 4.0, 5.0], np.float32)
    np.testing.assert_array_equal(F.activation_backward(dy, y, "relu"), [0, 0, 0, 4, 5])
    np.testing.assert_array_equal(F.activation_backward(dy, y, "linear"), dy)


# ----------------------------------------------------------------------------- misc
def test_backward_converts_noncontiguous_and_dtypes(isa):
    rng = np.random.default_rng(13)
    x, kernel = rand(rng, 2, 9, 11, 6), rand(rng, 3, 2, 6, 5)
    kw = dict(padding="same", strides=2)
    dy = rand(rng, *conv_out_shape(2, 9, 11, (3, 2), 5, **kw))
    base = F.conv2d_backward(dy, x, kernel, **kw)
    xt = np.ascontiguousarray(x.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    dyt = np.asfortranarray(dy)
    for args in ((dyt, xt, np.asfortranarray(kernel)),
                 (dy.astype(np.float64), x.astype(np.float64), kernel.astype(np.float64)),
                 (dy.tolist(), x.tolist(), kernel.tolist())):
        out = F.conv2d_backward(*args, **kw)
        for a, b in zip(out, base):
            assert a.dtype == np.float32 and a.shape == b.shape
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6 * max(1, np.abs(b).max()))
    yp = F.max_pool2d_backward(rand(rng, 2, 4, 5, 6), x)
    assert yp.dtype == np.float32 and yp.shape == x.shape
    out = F.dense_backward(dy[:, 0, 0].astype(np.float64), x[:, 0, 0].tolist(),
                           np.asfortranarray(rand(rng, 6, 5)))
    assert all(o.dtype == np.float32 for o in out)


def test_backward_is_deterministic(isa):
    """Equal inputs give bit-identical gradients (training runs must be reproducible)."""
    rng = np.random.default_rng(14)
    x, kernel = rand(rng, 4, 16, 16, 32), rand(rng, 3, 3, 32, 64)
    dy = rand(rng, 4, 16, 16, 64)
    first = F.conv2d_backward(dy, x, kernel, padding="same")
    for _ in range(3):
        for a, b in zip(F.conv2d_backward(dy, x, kernel, padding="same"), first):
            np.testing.assert_array_equal(a, b)
    xd, kd = rand(rng, 64, 2048), rand(rng, 2048, 128)
    dyd = rand(rng, 64, 128)
    first = F.dense_backward(dyd, xd, kd)
    for a, b in zip(F.dense_backward(dyd, xd, kd), first):
        np.testing.assert_array_equal(a, b)


def test_backward_from_several_threads(isa):
    rng = np.random.default_rng(15)
    x, kernel = rand(rng, 2, 12, 12, 16), rand(rng, 3, 3, 16, 24)
    dy = rand(rng, 2, 12, 12, 24)
    xs, dyp = rand(rng, 2, 12, 12, 24), rand(rng, 2, 6, 6, 24)
    expected = F.conv2d_backward(dy, x, kernel, padding="same")
    pooled = F.max_pool2d_backward(dyp, xs)
    results, errors = [], []

    def work():
        try:
            for _ in range(5):
                results.append((F.conv2d_backward(dy, x, kernel, padding="same"),
                                F.max_pool2d_backward(dyp, xs)))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for conv, pool in results:
        for a, b in zip(conv, expected):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(pool, pooled)


# ----------------------------------------------------------------------------- bad input
X = np.ones((1, 6, 6, 4), np.float32)        # a valid NHWC input
K = np.ones((3, 3, 4, 8), np.float32)        # conv kernel: valid output 1 x 4 x 4 x 8
DY = np.ones((1, 4, 4, 8), np.float32)
DW = np.ones((3, 3, 4, 2), np.float32)       # depthwise kernel: output channels 8
DYP = np.ones((1, 3, 3, 4), np.float32)      # 2x2 pooling of X
X2, D, DY2 = np.ones((2, 4), np.float32), np.ones((4, 3), np.float32), np.ones((2, 3), np.float32)
V, T, VT = ValueError, TypeError, (ValueError, TypeError)
DYNAME, XNAME = r"\bdy\b", r"\bx\b"

# (function name, args, kwargs, exception, regex the message must contain)
BAD = [
    # --- conv2d_backward
    ("conv2d_backward", (DY[0], X, K), {}, V, DYNAME),                    # dy rank
    ("conv2d_backward", (DY[None], X, K), {}, V, DYNAME),
    ("conv2d_backward", (DY[:, :3], X, K), {}, V, DYNAME),                # dy height
    ("conv2d_backward", (DY[:, :, :3], X, K), {}, V, DYNAME),             # dy width
    ("conv2d_backward", (np.ones((1, 4, 4, 7), np.float32), X, K), {}, V, DYNAME),  # channels
    ("conv2d_backward", (np.ones((2, 4, 4, 8), np.float32), X, K), {}, V, DYNAME),  # batch
    ("conv2d_backward", (DY, X, K), dict(padding="same"), V, DYNAME),     # output is 6 x 6
    ("conv2d_backward", (DY, X, K), dict(strides=2), V, DYNAME),          # output is 2 x 2
    ("conv2d_backward", (DY, X, K), dict(dilation_rate=(1, 2)), V, DYNAME),
    ("conv2d_backward", (DY.astype(np.complex64), X, K), {}, T, DYNAME),
    ("conv2d_backward", (np.full(DY.shape, "a"), X, K), {}, T, DYNAME),
    ("conv2d_backward", (DY, X[0], K), {}, V, XNAME),
    ("conv2d_backward", (DY, X[None], K), {}, V, XNAME),
    ("conv2d_backward", (DY, X.astype(np.complex64), K), {}, T, XNAME),
    ("conv2d_backward", (DY, np.ones((1, 0, 6, 4), np.float32), K), {}, V, XNAME),
    ("conv2d_backward", (DY, X, K[0]), {}, V, r"kernel"),
    ("conv2d_backward", (DY, X, K.astype(object)), {}, T, r"kernel"),
    ("conv2d_backward", (DY, X, np.ones((3, 3, 3, 8), np.float32)), {}, V, r"kernel"),  # Cin
    ("conv2d_backward", (DY, X, np.ones((7, 3, 4, 8), np.float32)), {}, V, r"kernel"),  # big
    ("conv2d_backward", (DY, X, K), dict(groups=2), V, r"kernel|groups"),
    ("conv2d_backward", (DY, X, np.ones((3, 3, 1, 8), np.float32)), dict(groups=3), V,
     r"groups"),
    ("conv2d_backward", (DY, X, K), dict(groups=0), V, r"groups"),
    ("conv2d_backward", (DY, X, K), dict(strides=0), V, r"strides"),
    ("conv2d_backward", (DY, X, K), dict(strides=(1, 2, 3)), VT, r"strides"),
    ("conv2d_backward", (DY, X, K), dict(dilation_rate=-1), V, r"dilation_rate"),
    ("conv2d_backward", (DY, X, K), dict(padding="full"), V, r"padding"),
    ("conv2d_backward", (DY, X, K), dict(padding=-1), V, r"padding"),
    ("conv2d_backward", (DY, X, K), dict(padding=((0, 1), (1, -2))), V, r"padding"),
    ("conv2d_backward", (DY, X, K), dict(padding=None), VT, r"padding"),
    # --- depthwise_conv2d_backward
    ("depthwise_conv2d_backward", (DY[0], X, DW), {}, V, DYNAME),
    ("depthwise_conv2d_backward", (np.ones((1, 4, 4, 4), np.float32), X, DW), {}, V, DYNAME),
    ("depthwise_conv2d_backward", (DY[:, :2], X, DW), {}, V, DYNAME),
    ("depthwise_conv2d_backward", (DY, X, DW), dict(padding="same"), V, DYNAME),
    ("depthwise_conv2d_backward", (DY.astype(np.complex64), X, DW), {}, T, DYNAME),
    ("depthwise_conv2d_backward", (DY, X[0], DW), {}, V, XNAME),
    ("depthwise_conv2d_backward", (DY, X, DW[0]), {}, V, r"kernel"),
    ("depthwise_conv2d_backward", (DY, X, np.ones((3, 3, 5, 2), np.float32)), {}, V, r"kernel"),
    ("depthwise_conv2d_backward", (DY, X, DW), dict(strides=0), V, r"strides"),
    ("depthwise_conv2d_backward", (DY, X, DW), dict(padding="reflect"), V, r"padding"),
    # --- pooling
    *[case for op in ("max_pool2d_backward", "avg_pool2d_backward") for case in [
        (op, (DYP[0], X), {}, V, DYNAME),
        (op, (DYP[:, :2], X), {}, V, DYNAME),
        (op, (np.ones((1, 3, 3, 5), np.float32), X), {}, V, DYNAME),
        (op, (np.ones((2, 3, 3, 4), np.float32), X), {}, V, DYNAME),
        (op, (DYP, X), dict(strides=1), V, DYNAME),                       # output is 5 x 5
        (op, (DYP, X), dict(pool_size=3, padding="same"), V, DYNAME),     # output is 2 x 2
        (op, (DYP.astype(np.complex64), X), {}, T, DYNAME),
        (op, (DYP, X[0]), {}, V, XNAME),
        (op, (DYP, X.astype(np.complex64)), {}, T, XNAME),
        (op, (DYP, X), dict(pool_size=0), V, r"pool_size"),
        (op, (DYP, X), dict(pool_size=7), V, r"pool_size"),
        (op, (DYP, X), dict(strides=(2, -1)), V, r"strides"),
        (op, (DYP, X), dict(padding="full"), V, r"padding"),
    ]],
    *[case for op in ("global_avg_pool2d_backward", "global_max_pool2d_backward") for case in [
        (op, (np.ones((1, 5), np.float32), X), {}, V, DYNAME),
        (op, (np.ones((2, 4), np.float32), X), {}, V, DYNAME),
        (op, (np.ones((1, 1, 1, 4), np.float32), X), {}, V, DYNAME),
        (op, (np.ones(4, np.float32), X), {}, V, DYNAME),
        (op, (np.ones((1, 4), np.complex64), X), {}, T, DYNAME),
        (op, (np.ones((1, 4), np.float32), X[0]), {}, V, XNAME),
        (op, (np.ones((1, 4), np.float32), np.ones((1, 0, 3, 4), np.float32)), {}, V, XNAME),
    ]],
    # --- dense_backward
    ("dense_backward", (np.ones((2, 4), np.float32), X2, D), {}, V, DYNAME),    # out is 3
    ("dense_backward", (np.ones((3, 3), np.float32), X2, D), {}, V, DYNAME),    # batch is 2
    ("dense_backward", (np.ones(3, np.float32), X2, D), {}, V, DYNAME),
    ("dense_backward", (DY2.astype(np.complex64), X2, D), {}, T, DYNAME),
    ("dense_backward", (DY2, X2, np.ones((5, 3), np.float32)), {}, V, r"\bx\b|kernel"),
    ("dense_backward", (DY2, X2, np.ones(4, np.float32)), {}, V, r"kernel"),
    ("dense_backward", (DY2[:, :0], X2, D[:, :0]), {}, V, r"kernel"),         # empty, as forward
    ("dense_backward", (DY2, X2, np.ones((4, 3, 1), np.float32)), {}, V, r"kernel"),
    ("dense_backward", (DY2, X2.astype(object), D), {}, T, XNAME),
    ("dense_backward", (DY2, X2, D.astype(np.complex64)), {}, T, r"kernel"),
    # --- activation_backward
    ("activation_backward", (np.ones((2, 3), np.float32), np.ones((2, 4), np.float32), "relu"),
     {}, V, r"\bdy\b|\by\b"),
    ("activation_backward", (np.ones(3, np.float32), np.ones(3, np.float32), "bogus"), {}, V,
     r"activation"),
    ("activation_backward", (np.ones(3, np.float32), np.ones(3, np.float32), "RELU "), {}, V,
     r"activation"),
    ("activation_backward", (np.ones(3, np.float32), np.ones(3, np.float32), 3), {}, VT,
     r"activation"),
    ("activation_backward", (np.ones(3, np.complex64), np.ones(3, np.float32), "relu"), {}, T,
     DYNAME),
    ("activation_backward", (np.ones(3, np.float32), np.array(["a", "b", "c"]), "tanh"), {}, T,
     r"\by\b"),
]


def _bad_id(case):
    name, args, kwargs, _, _ = case
    shapes = ",".join(str(np.shape(a)).replace(" ", "") + str(getattr(a, "dtype", ""))
                      if not isinstance(a, str) else a for a in args)
    return f"{name}[{shapes}]{kwargs}".replace(" ", "")


@pytest.mark.parametrize("case", BAD, ids=[_bad_id(c) for c in BAD])
def test_backward_bad_input_raises(case):
    name, args, kwargs, exc, match = case
    with pytest.raises(exc, match=match):
        getattr(F, name)(*args, **kwargs)
