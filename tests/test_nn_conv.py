"""conv2d and depthwise_conv2d against the float64 NumPy reference, on every ISA."""
import math

import numpy as np
import pytest

import foveal
import foveal.nn.functional as F
from foveal import _core
import reference
from check import check_op, check_same_result
from inputs import rand, random_pair, random_padding

# SIMD tails for 8- and 16-lane vectors, primes, and the 64-wide GEMM tile edge.
CHANNELS = (1, 3, 7, 15, 16, 17, 31, 32, 33)
WIDE_CHANNELS = (64, 65)
ACTIVATIONS = (None, "linear", "relu", "sigmoid", "tanh")
NEW_ACTIVATIONS = ("relu6", "hard_sigmoid", "hard_silu", "silu", "gelu", "leaky_relu", "elu",
                   "softplus", "swish", "hard_swish")


def fits(x_shape, kernel_hw, strides, padding, dilation_rate):
    return 0 not in reference.conv_output_shape(x_shape, kernel_hw, strides, padding,
                                                dilation_rate)


def case_id(c):
    s = c["strides"]
    return (f"n{c['n']}_{c['h']}x{c['w']}_c{c['cin']}-{c['cout']}_k{c['kh']}x{c['kw']}"
            f"_s{s}_d{c['dilation_rate']}_g{c['groups']}_p{c['padding']}"
            f"_{'b' if c['bias'] else 'nob'}_{c['activation']}").replace(" ", "")


def conv_cases(seed, count):
    """Random conv2d configurations (dense, grouped and depthwise-as-groups) that fit."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kind = rng.choice(["dense", "dense", "dense", "grouped", "depthwise"])
        wide = rng.random() < 0.15
        if kind == "dense":
            pool = WIDE_CHANNELS if wide else CHANNELS
            groups, cin, cout = 1, int(rng.choice(pool)), int(rng.choice(CHANNELS + pool))
        elif kind == "grouped":
            groups = int(rng.choice([2, 3, 4, 8]))
            cin = groups * int(rng.choice([1, 2, 3, 5, 8]))
            cout = groups * int(rng.choice([1, 2, 3, 4, 7]))
        else:
            cin = int(rng.choice(CHANNELS + (WIDE_CHANNELS if wide else ())))
            groups, cout = cin, cin * int(rng.integers(1, 3))
        # wide channel counts get smaller images to keep the float64 reference quick
        hi = 16 if max(cin, cout) > 33 else 37
        case = dict(
            n=int(rng.integers(1, 5)), h=int(rng.integers(1, hi + 1)),
            w=int(rng.integers(1, hi + 1)), cin=cin, cout=cout,
            kh=int(rng.integers(1, 8)), kw=int(rng.integers(1, 8)),
            strides=random_pair(rng, 1, 3),
            dilation_rate=1 if rng.random() < 0.6 else random_pair(rng, 1, 3),
            padding=random_padding(rng), groups=groups, bias=bool(rng.random() < 0.5),
            activation=ACTIVATIONS[rng.integers(len(ACTIVATIONS))], seed=len(cases),
        )
        if fits((case["n"], case["h"], case["w"], cin), (case["kh"], case["kw"]),
                case["strides"], case["padding"], case["dilation_rate"]):
            cases.append(case)
    return cases


def run_case(c):
    rng = np.random.default_rng([1234, c["seed"]])
    x = rand(rng, c["n"], c["h"], c["w"], c["cin"])
    kernel = rand(rng, c["kh"], c["kw"], c["cin"] // c["groups"], c["cout"])
    bias = rand(rng, c["cout"]) if c["bias"] else None
    check_op("conv2d", x, kernel, bias=bias, strides=c["strides"], padding=c["padding"],
             dilation_rate=c["dilation_rate"], groups=c["groups"], activation=c["activation"])


SWEEP = conv_cases(seed=20240601, count=200)


@pytest.mark.parametrize("case", SWEEP, ids=[case_id(c) for c in SWEEP])
def test_conv2d_random_sweep(isa, case):
    run_case(case)


# ----------------------------------------------------------------------------- targeted cases
def conv(n, h, w, cin, cout, k, seed=0, bias=True, groups=1, **kwargs):
    """One conv2d comparison on random data: k is an int or a (kh, kw) pair."""
    kh, kw = reference.pair(k)
    rng = np.random.default_rng(seed)
    x = rand(rng, n, h, w, cin)
    kernel = rand(rng, kh, kw, cin // groups, cout)
    b = rand(rng, cout) if bias else None
    return check_op("conv2d", x, kernel, bias=b, groups=groups, **kwargs)


@pytest.mark.parametrize("padding", [
    "valid", "same", 0, 1, 2, 5, (1, 2), (0, 3), (3, 0),
    ((0, 1), (2, 0)), ((3, 1), (0, 2)), ((1, 0), (0, 1)), ((2, 2), (1, 1)),
])
@pytest.mark.parametrize("strides", [1, 2, (2, 1), (1, 3)])
def test_conv2d_padding_forms(isa, padding, strides):
    conv(2, 11, 13, 5, 7, (3, 4), padding=padding, strides=strides)


@pytest.mark.parametrize("activation", ACTIVATIONS + NEW_ACTIVATIONS)
@pytest.mark.parametrize("bias", [False, True])
def test_conv2d_activation(isa, activation, bias):
    conv(2, 9, 8, 17, 33, 3, bias=bias, padding="same", activation=activation)


@pytest.mark.parametrize("c", CHANNELS + WIDE_CHANNELS)
def test_conv2d_channel_tails(isa, c):
    conv(1, 7, 6, c, 16, 3, seed=c)
    conv(1, 7, 6, 16, c, 3, seed=c)
    conv(2, 5, 9, c, c, (1, 2), seed=c, padding="same")


@pytest.mark.parametrize("strides", [1, 2, 3, (1, 2), (3, 1)])
@pytest.mark.parametrize("dilation_rate", [1, 2, 3, (2, 1), (1, 3)])
def test_conv2d_strides_dilation(isa, strides, dilation_rate):
    conv(2, 17, 19, 6, 10, 3, strides=strides, dilation_rate=dilation_rate, padding="valid")
    conv(1, 17, 19, 6, 10, (2, 3), strides=strides, dilation_rate=dilation_rate, padding="same")


@pytest.mark.parametrize("cin,cout,groups", [
    (4, 4, 2), (6, 9, 3), (8, 16, 4), (12, 6, 6), (16, 32, 16), (32, 32, 32), (33, 66, 33),
    (64, 64, 4), (64, 128, 8),
])
def test_conv2d_groups(isa, cin, cout, groups):
    conv(2, 10, 9, cin, cout, 3, groups=groups, padding="same")
    conv(1, 10, 9, cin, cout, (1, 3), groups=groups, strides=2, activation="relu")


@pytest.mark.parametrize("size,kernel,strides,dilation_rate", [
    (1, 1, 1, 1), (1, 3, 1, 1), (1, 7, 3, 3), (2, 7, 2, 1), (4, 2, 1, 1), (5, 3, 2, 1),
    (6, 3, 2, 1), (7, 5, 3, 2), (8, 4, 3, 1), (37, 7, 3, 3), (10, 1, 3, 1),
])
def test_conv2d_same_output_shape(isa, size, kernel, strides, dilation_rate):
    """TensorFlow's rule: out = ceil(in / strides), whatever the kernel and dilation."""
    out = conv(1, size, size + 1, 3, 4, kernel, strides=strides,
               dilation_rate=dilation_rate, padding="same")
    assert out.shape == (1, math.ceil(size / strides), math.ceil((size + 1) / strides), 4)


def test_conv2d_kernel_exactly_fills_padded_input(isa):
    conv(2, 5, 4, 3, 5, (7, 6), padding=1)       # 5+2 == 7, 4+2 == 6 -> 1x1 output
    conv(1, 3, 3, 2, 2, 3, dilation_rate=2, padding=1)  # extent 5 == 3+2


def test_conv2d_padding_wider_than_kernel(isa):
    """Output pixels that see only padding are bias (then activation) alone."""
    conv(1, 4, 5, 3, 6, 1, padding=3, activation="sigmoid")
    conv(2, 3, 3, 4, 5, 2, padding=((4, 0), (0, 4)), strides=2)
    # every window wholly in the left padding, one output column: the row taps are zeros, not a
    # copy as long as the padding (which ran past the per-pixel scratch)
    conv(3, 4, 2, 3, 5, (2, 3), padding=((1, 1), (9, 0)), strides=(1, 11))


@pytest.mark.parametrize("threads", [1, 3])
def test_conv2d_padding_far_wider_than_the_input(isa, threads):
    """Paddings, strides and dilations of 2**20 and more (found by the fuzzer: a segfault and a
    heap corruption): the windows lie in the padding, so the output is the bias."""
    old = foveal.get_num_threads()
    foveal.set_num_threads(threads)
    try:
        x = np.ones((1, 1, 4, 2), np.float32)
        bias = np.arange(4, dtype=np.float32)
        y = _core.conv2d(x, np.ones((3, 3, 2, 4), np.float32), bias, (1048576, 1073741824),
                         ((536870912, 2), (1048576, 1)), (1048576, 1), 1, "linear")
        assert y.shape == (1, 511, 1, 4)
        np.testing.assert_array_equal(y, np.broadcast_to(bias, y.shape))
        y, mean, _ = _core.conv2d_moments(x, np.ones((3, 3, 2, 4), np.float32), bias,
                                          (1048576, 1073741824), ((536870912, 2), (1048576, 1)),
                                          (1048576, 1), 1)
        np.testing.assert_array_equal(y, np.broadcast_to(bias, y.shape))
        np.testing.assert_array_equal(mean, bias)
        x = np.ones((1, 4, 2, 17), np.float32)
        y = _core.conv2d(x, np.ones((1, 3, 17, 16), np.float32), np.ones(16, np.float32),
                         (1024, 1073741824), ((1024, 0), (1024, 1073741824)), (536870912, 1), 1,
                         "linear")
        np.testing.assert_array_equal(y, np.ones(y.shape, np.float32))
    finally:
        foveal.set_num_threads(old)


# ----------------------------------------------------------------------------- larger cases
@pytest.mark.parametrize("n,h,w,cin,cout,k,kwargs", [
    (2, 20, 20, 64, 64, 3, dict(padding="same")),
    (2, 14, 14, 256, 128, 1, dict()),
    (2, 32, 32, 3, 64, 7, dict(strides=2, padding=3, activation="relu")),
    (2, 12, 12, 300, 40, 3, dict(padding="same")),                # K = 2700
    (1, 64, 64, 8, 16, 3, dict(padding="same")),                  # many output rows
    (2, 16, 16, 96, 130, 3, dict(strides=2, padding="valid")),    # Cout past two 64-tiles
    (2, 18, 18, 64, 64, 3, dict(groups=4, padding="same")),
    (2, 15, 15, 48, 48, 5, dict(groups=48, padding="same")),      # depthwise as groups
    (1, 25, 23, 33, 65, 3, dict(dilation_rate=2, padding="same", activation="tanh")),
    # reduction longer than one K block, split by taps, with the activation after the last one
    (2, 12, 12, 300, 40, 3, dict(padding="same", activation="relu")),
    (1, 16, 16, 33, 20, 7, dict(padding="same", activation="relu")),    # 7 taps of 231
    (1, 13, 14, 200, 24, 3, dict(dilation_rate=(1, 2), padding="same", activation="sigmoid")),
    (2, 11, 11, 240, 70, 3, dict(groups=2, padding=1, activation="relu")),
    # one tap longer than a K block, split along the channels
    (2, 7, 6, 1100, 17, 1, dict(activation="relu")),
    (1, 9, 10, 300, 33, (1, 5), dict(padding="same", activation="tanh")),
], ids=["64to64_3x3", "256to128_1x1", "stem7x7s2", "K2700", "64x64img", "cout130",
        "groups4", "dw48", "dilated65", "K2700relu", "7x7c33relu", "dil_w2_K1800",
        "groups2_K1080", "1x1c1100relu", "1x5c300tanh"])
def test_conv2d_large(isa, n, h, w, cin, cout, k, kwargs):
    conv(n, h, w, cin, cout, k, seed=h * w + cin, **kwargs)


# ----------------------------------------------------------------------------- Winograd
# 3x3, stride 1, undilated, ungrouped, >= 8 input and >= 16 output channels, fewer than 512 in
# all: the Winograd path, any activation (ReLU fused, the others a pass over each tile's pixels);
# F(4x4, 3x3) for outputs of 16 x 16 or more with at most 192 channels, or of 8 x 8 or more with
# at most 96, else F(2x2, 3x3).
# Odd output sizes (a tile past the edge), every padding form (the tile grid starts at -pad),
# channel tails, batch 1; a long reduction (now the cache-blocked direct path, K in blocks).
@pytest.mark.parametrize("n,h,w,cin,cout,kwargs", [
    (2, 16, 16, 32, 64, dict(padding="same", activation="relu")),   # the course CNN's conv 2
    (1, 7, 9, 8, 16, dict()),                                      # valid, odd output 5 x 7
    (3, 5, 6, 17, 33, dict(padding="same")),
    (1, 3, 3, 8, 16, dict(activation="relu")),                     # one output pixel
    (2, 13, 11, 64, 130, dict(padding="same", activation="relu")),
    (1, 9, 8, 24, 40, dict(padding=((0, 2), (2, 1)))),              # asymmetric explicit pads
    (1, 6, 7, 20, 16, dict(padding=2, activation="relu")),          # pads past the kernel
    (1, 8, 8, 1100, 16, dict(padding="same")),                      # direct: K split in blocks
    (2, 9, 7, 16, 24, dict(padding="same", activation="gelu")),
    (1, 6, 9, 12, 32, dict(padding="same", activation="relu6")),
    (1, 7, 6, 9, 17, dict(activation="hard_silu")),
    (2, 5, 5, 8, 16, dict(padding=1, activation="sigmoid")),
    # F(4x4, 3x3): outputs of 16 x 16 and more, at most 192 channels in and out
    (1, 17, 19, 8, 16, dict(padding="same")),                       # 4x4 tiles past both edges
    (2, 20, 18, 33, 47, dict(padding=((0, 1), (2, 0)))),            # channel tails, explicit pads
    (1, 22, 21, 64, 64, dict(padding="same", activation="gelu")),
    (1, 18, 18, 96, 96, dict(activation="relu6")),                  # valid: 16 x 16, 192 channels
    (1, 16, 17, 9, 17, dict(padding=2, activation="relu")),         # pads past the kernel
    (3, 13, 13, 32, 64, dict(activation="relu")),                   # the recipe's 11 x 11, 96 channels
    (2, 10, 9, 16, 32, dict(padding="same")),                       # 10 x 9: tiles past one edge
], ids=["cnn_conv2", "valid_odd", "tails", "1px", "cout130", "asym_pad", "pad2", "cin1100", "gelu", "relu6",
        "hard_silu", "sigmoid", "f4_edges", "f4_tails", "f4_gelu", "f4_valid192", "f4_pad2", "f4_small96",
        "f4_small_edge"])
def test_conv2d_winograd_shapes(isa, n, h, w, cin, cout, kwargs):
    conv(n, h, w, cin, cout, 3, seed=h * w + cin, **kwargs)


def run_with_winograd(code, flags):
    """{flag: the array that ``code`` saves to sys.argv[1]}, each run in a subprocess with
    FOVEAL_WINOGRAD=flag (the switch is read once per process)."""
    import os
    import subprocess
    import sys
    import tempfile

    outs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for flag in flags:
            path = os.path.join(tmp, f"w{flag}.npy")
            subprocess.run([sys.executable, "-c", code, path], check=True,
                           env=dict(os.environ, FOVEAL_WINOGRAD=flag))
            outs[flag] = np.load(path)
    return outs


def test_conv2d_winograd_agrees_with_the_direct_path():
    """FOVEAL_WINOGRAD=0 turns the Winograd path off: both give the same result within float32
    rounding (run in a subprocess: the switch is read once). A 7 x 13 output with 80 channels
    takes F(2x2, 3x3)."""
    code = ("import numpy as np, sys; from foveal.nn import functional as F; "
            "rng = np.random.default_rng(0); x = rng.normal(size=(2, 7, 13, 32)).astype(np.float32); "
            "k = rng.normal(size=(3, 3, 32, 48)).astype(np.float32); "
            "y = F.conv2d(x, k, padding='same', activation='relu'); "
            "dx = F.conv2d_backward(y, x, k, padding='same')[0]; "
            "np.save(sys.argv[1], np.concatenate([y.ravel(), dx.ravel()]))")
    runs = run_with_winograd(code, ("1", "0"))
    outs = [runs["1"], runs["0"]]
    # float32 rounding of sums of 288-432 terms: relative to the largest magnitude
    assert np.max(np.abs(outs[0] - outs[1])) <= 2e-6 * np.max(np.abs(outs[1]))
    assert not np.array_equal(outs[0], outs[1])     # the two paths really differ in rounding


def test_conv2d_winograd_4x4_agrees_with_the_direct_path():
    """F(4x4, 3x3) (a 24 x 20 output, 64 channels) against the direct path (FOVEAL_WINOGRAD=0)
    and against F(2x2, 3x3) (FOVEAL_WINOGRAD=2), forward and input gradient. Its transforms'
    constants (up to 8 in A^T, 5 in B^T) cost accuracy: about 7e-6 of the largest output
    against float64, measured (F(2x2, 3x3): 4e-7; direct: 1e-6), so the bound is 2e-5."""
    code = ("import numpy as np, sys; from foveal.nn import functional as F; "
            "rng = np.random.default_rng(1); x = rng.normal(size=(2, 24, 20, 64)).astype(np.float32); "
            "k = (rng.normal(size=(3, 3, 64, 64)) / 24).astype(np.float32); "
            "y = F.conv2d(x, k, padding='same'); "
            "dx = F.conv2d_backward(y, x, k, padding='same', need_dkernel=False)[0]; "
            "np.save(sys.argv[1], np.concatenate([y.ravel(), dx.ravel()]))")
    outs = run_with_winograd(code, ("1", "2", "0"))
    scale = np.max(np.abs(outs["0"]))
    assert np.max(np.abs(outs["1"] - outs["0"])) <= 2e-5 * scale
    assert np.max(np.abs(outs["2"] - outs["0"])) <= 2e-6 * scale
    assert not np.array_equal(outs["1"], outs["2"])     # F(4x4) really ran


def test_conv2d_winograd_4x4_kernel_gradient_against_float64():
    """The kernel gradient by F(4x4, 3x3) (an 11 x 11 valid output and a 16 x 16 'same' one, 32 ->
    64 channels: the recipe's and the course CNN's layers) against a float64 reference, and by
    F(2x2, 3x3) (FOVEAL_WINOGRAD=2) and the direct path (FOVEAL_WINOGRAD=0). Measured: about
    3e-6 of the largest entry for F(4x4), 5e-7 for the others."""
    code = ("import numpy as np, sys; from foveal.nn import functional as F; "
            "rng = np.random.default_rng(2); out = []\n"
            "for n, h, pad in ((16, 13, 'valid'), (8, 16, 'same')):\n"
            "    x = rng.normal(size=(n, h, h, 32)).astype(np.float32)\n"
            "    k = rng.normal(size=(3, 3, 32, 64)).astype(np.float32)\n"
            "    dy = rng.normal(size=F.conv2d(x, k, padding=pad).shape).astype(np.float32)\n"
            "    out.append(F.conv2d_backward(dy, x, k, padding=pad, need_dx=False)[1].ravel())\n"
            "np.save(sys.argv[1], np.concatenate(out))")
    rng = np.random.default_rng(2)
    refs = []
    for n, h, pad in ((16, 13, "valid"), (8, 16, "same")):
        x = rng.normal(size=(n, h, h, 32)).astype(np.float32)
        k = rng.normal(size=(3, 3, 32, 64)).astype(np.float32)
        oh = h - 2 if pad == "valid" else h
        dy = rng.normal(size=(n, oh, oh, 64)).astype(np.float32)
        xp = x.astype(np.float64)
        if pad == "same":
            xp = np.pad(xp, ((0, 0), (1, 1), (1, 1), (0, 0)))
        refs.append(np.stack([np.einsum("nhwc,nhwd->cd", xp[:, r:r + oh, s:s + oh], dy)
                              for r in range(3) for s in range(3)]).ravel())
    ref = np.concatenate(refs)
    outs = run_with_winograd(code, ("1", "2", "0"))
    scale = np.max(np.abs(ref))
    assert np.max(np.abs(outs["1"] - ref)) <= 2e-5 * scale
    assert np.max(np.abs(outs["2"] - ref)) <= 2e-6 * scale
    assert np.max(np.abs(outs["0"] - ref)) <= 2e-6 * scale
    assert not np.array_equal(outs["1"], outs["2"])     # F(4x4) really ran


# ----------------------------------------------------------------------------- input conversion
def test_conv2d_converts_noncontiguous_and_dtypes(isa):
    rng = np.random.default_rng(7)
    x = rand(rng, 2, 9, 11, 6)
    kernel = rand(rng, 3, 2, 6, 5)
    bias = rand(rng, 5)
    base = check_op("conv2d", x, kernel, bias=bias, padding="same", strides=2)
    kw = dict(padding="same", strides=2)
    # transposed view: same numbers, not C-contiguous
    xt = np.ascontiguousarray(x.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    assert not xt.flags.c_contiguous
    check_same_result(F.conv2d, (x, kernel, bias), (xt, kernel, bias), **kw)
    # strided slice of a larger array, reversed along W
    big = np.zeros((2, 18, 11, 12), np.float32)
    big[:, ::2, ::-1, 1::2] = x
    check_same_result(F.conv2d, (x, kernel, bias), (big[:, ::2, ::-1, 1::2], kernel, bias), **kw)
    # non-contiguous kernel, float64 everything, plain lists
    kt = np.asfortranarray(kernel)
    check_same_result(F.conv2d, (x, kernel, bias), (x, kt, bias), **kw)
    check_same_result(F.conv2d, (x, kernel, bias),
                      (x.astype(np.float64), kernel.astype(np.float64), bias.astype(np.float64)),
                      **kw)
    check_same_result(F.conv2d, (x, kernel, bias), (x.tolist(), kernel.tolist(), bias.tolist()),
                      **kw)
    assert base.flags.c_contiguous


def test_conv2d_integer_input(isa):
    rng = np.random.default_rng(8)
    xi = rng.integers(-5, 6, size=(1, 8, 7, 3))
    ki = rng.integers(-3, 4, size=(3, 3, 3, 4)).astype(np.int32)
    out = check_same_result(F.conv2d, (xi.astype(np.float32), ki.astype(np.float32)), (xi, ki),
                            padding=1)
    check_op("conv2d", xi.astype(np.float32), ki.astype(np.float32), padding=1)
    # small integers: every partial sum is exact in float32
    np.testing.assert_array_equal(out, reference.conv2d(xi, ki, padding=1))


# ----------------------------------------------------------------------------- depthwise
def depthwise_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        c = int(rng.choice(CHANNELS + WIDE_CHANNELS))
        hi = 16 if c > 33 else 37
        case = dict(n=int(rng.integers(1, 5)), h=int(rng.integers(1, hi + 1)),
                    w=int(rng.integers(1, hi + 1)), c=c, m=int(rng.integers(1, 4)),
                    kh=int(rng.integers(1, 8)), kw=int(rng.integers(1, 8)),
                    strides=random_pair(rng, 1, 3),
                    dilation_rate=1 if rng.random() < 0.6 else random_pair(rng, 1, 3),
                    padding=random_padding(rng), bias=bool(rng.random() < 0.5),
                    activation=ACTIVATIONS[rng.integers(len(ACTIVATIONS))], seed=len(cases))
        if fits((case["n"], case["h"], case["w"], c), (case["kh"], case["kw"]),
                case["strides"], case["padding"], case["dilation_rate"]):
            cases.append(case)
    return cases


DW_SWEEP = depthwise_cases(seed=777, count=80)


@pytest.mark.parametrize("case", DW_SWEEP, ids=[
    f"n{c['n']}_{c['h']}x{c['w']}_c{c['c']}x{c['m']}_k{c['kh']}x{c['kw']}_s{c['strides']}"
    f"_d{c['dilation_rate']}_p{c['padding']}_{'b' if c['bias'] else 'nob'}_{c['activation']}"
    .replace(" ", "") for c in DW_SWEEP])
def test_depthwise_conv2d_random_sweep(isa, case):
    c = case
    rng = np.random.default_rng([4321, c["seed"]])
    x = rand(rng, c["n"], c["h"], c["w"], c["c"])
    kernel = rand(rng, c["kh"], c["kw"], c["c"], c["m"])
    bias = rand(rng, c["c"] * c["m"]) if c["bias"] else None
    check_op("depthwise_conv2d", x, kernel, bias=bias, strides=c["strides"],
             padding=c["padding"], dilation_rate=c["dilation_rate"], activation=c["activation"])


@pytest.mark.parametrize("c,m", [(1, 1), (3, 2), (16, 1), (17, 3), (32, 2), (64, 1), (65, 2)])
def test_depthwise_conv2d_matches_grouped_conv2d(isa, c, m):
    """Keras layout: output channel c*M + m uses input channel c and kernel[:, :, c, m]."""
    rng = np.random.default_rng(c * 10 + m)
    x = rand(rng, 2, 12, 10, c)
    kernel = rand(rng, 3, 3, c, m)
    bias = rand(rng, c * m)
    dw = check_op("depthwise_conv2d", x, kernel, bias=bias, padding="same", strides=(1, 2))
    grouped = F.conv2d(x, kernel.reshape(3, 3, 1, c * m), bias=bias, padding="same",
                       strides=(1, 2), groups=c)
    np.testing.assert_allclose(dw, grouped, rtol=1e-5, atol=1e-5 * max(1, np.abs(dw).max()))


def test_depthwise_conv2d_large(isa):
    rng = np.random.default_rng(99)
    x = rand(rng, 2, 56, 56, 32)
    check_op("depthwise_conv2d", x, rand(rng, 3, 3, 32, 1), bias=rand(rng, 32), padding="same",
             activation="relu")
    check_op("depthwise_conv2d", x, rand(rng, 5, 5, 32, 2), strides=2, padding="same")


@pytest.mark.parametrize("c,strides,activation", [(64, 1, "relu"), (36, 1, None), (20, 2, "relu6")])
def test_depthwise_conv2d_output_larger_than_the_caches(isa, c, strides, activation):
    """An output over 8 MiB is written with streaming stores (whole aligned vectors; channel
    tails and borders as before): the same bits as the same images one at a time, whose outputs
    are small, and the float64 reference."""
    rng = np.random.default_rng(c)
    side = 30 // strides
    n = -(-(9 << 20) // (side * side * c * 4))          # an output of just over 9 MiB
    x = rand(rng, n, 30, 30, c)
    k, b = rand(rng, 3, 3, c, 1), rand(rng, c)
    kw = dict(strides=strides, padding="same", activation=activation)
    whole = F.depthwise_conv2d(x, k, b, **kw)
    assert whole.nbytes > 8 << 20
    each = np.concatenate([F.depthwise_conv2d(x[i:i + 1], k, b, **kw) for i in range(n)])
    assert np.array_equal(whole, each)
    check_op("depthwise_conv2d", x[:2], k, bias=b, **kw)


@pytest.mark.parametrize("activation", ["relu", "relu6", "hard_silu"])
@pytest.mark.parametrize("k,strides,padding,c", [
    (3, 1, "same", 40),           # the 3-wide kernel, four pixels at once, and its borders
    (3, 2, ((0, 1), (0, 1)), 13),  # strided, a partial vector of channels
    (3, 2, "same", 40),           # stride 2: four pixels sharing their 9 input columns
    (5, 1, "same", 72),           # the generic interior, four vectors per block
    (4, (2, 1), "valid", 9),
])
def test_depthwise_conv2d_fused_activations(isa, activation, k, strides, padding, c):
    """ReLU and ReLU6 are applied in the row kernel, others in a pass after it: both against the
    float64 reference, with outputs on both sides of 0 and of 6."""
    rng = np.random.default_rng(c * 7 + k)
    x = rand(rng, 2, 11, 13, c) * 4.0
    out = check_op("depthwise_conv2d", x, rand(rng, k, k, c, 1), bias=rand(rng, c),
                   strides=strides, padding=padding, activation=activation)
    if activation == "relu6":
        assert (out == 6.0).any() and (out == 0.0).any() and ((out > 0) & (out < 6)).any()


def test_depthwise_conv2d_converts_input(isa):
    rng = np.random.default_rng(5)
    x = rand(rng, 2, 7, 9, 5)
    kernel = rand(rng, 3, 3, 5, 2)
    xt = np.ascontiguousarray(x.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    check_same_result(F.depthwise_conv2d, (x, kernel), (xt, kernel), padding="same")
    check_same_result(F.depthwise_conv2d, (x, kernel),
                      (x.astype(np.float64), kernel.astype(np.float64)), padding="same")


# A residual tensor added in the GEMM tile's epilogue, before the activation: one K block, K
# in blocks of taps (K > 1024), one long tap cut in column ranges (1x1, Cin > 1024), narrow
# output panels (24, 40 channels), several panels with a narrow last one (88), groups, and the
# paths without an epilogue (Winograd, depthwise) that add it in a pass.
RESIDUAL_CASES = [
    # n, h, w, cin, cout, k, strides, groups
    (2, 9, 11, 16, 24, 1, 1, 1),
    (3, 7, 6, 40, 88, 1, 2, 1),
    (1, 5, 7, 130, 40, 3, 1, 1),
    (1, 4, 5, 1100, 24, 1, 1, 1),
    (2, 8, 8, 16, 32, 3, 1, 1),
    (2, 6, 7, 12, 18, 3, 1, 3),
    (2, 9, 8, 24, 24, 3, 1, 24),
    (2, 9, 8, 5, 7, 2, 2, 1),
]


@pytest.mark.parametrize("case", RESIDUAL_CASES, ids=[f"c{c[3]}-{c[4]}_k{c[5]}_g{c[7]}" for c in RESIDUAL_CASES])
@pytest.mark.parametrize("activation", [None, "relu", "relu6", "gelu"])
def test_conv2d_residual(isa, case, activation):
    n, h, w, cin, cout, k, s, g = case
    rng = np.random.default_rng([77, cin, cout])
    x = rand(rng, n, h, w, cin)
    kernel = rand(rng, k, k, cin // g, cout)
    bias = rand(rng, cout)
    plain = F.conv2d(x, kernel, bias, s, "same", 1, g)
    residual = rand(rng, *plain.shape) * 2
    got = check_op("conv2d", x, kernel, bias=bias, strides=s, padding="same", groups=g,
                   activation=activation, residual=residual)
    # the same bits as the convolution, then the sum, then the activation
    np.testing.assert_array_equal(got, F.activation(plain + residual, activation))


def test_conv2d_residual_must_match_the_output():
    x = np.zeros((1, 6, 6, 3), np.float32)
    kernel = np.zeros((3, 3, 3, 8), np.float32)
    with pytest.raises(ValueError, match="residual must have the shape"):
        F.conv2d(x, kernel, residual=np.zeros((1, 6, 6, 8), np.float32))   # output is 4 x 4


# K blocks of the indirect GEMM: taps longer than 1024 floats are cut into column ranges
# (merged kernel rows of 3 x 400 channels; dilated taps of 1100 channels; a 1x1 of 1100),
# each strip's blocks summed in order, the residual and the activation on the last.
@pytest.mark.parametrize("cin, k, dilation, activation", [
    (400, 3, 1, "relu"), (1100, 2, 2, None), (1100, 1, 1, "relu6"), (520, 3, 1, "gelu")])
def test_conv2d_taps_cut_into_column_ranges(isa, cin, k, dilation, activation):
    rng = np.random.default_rng([5, cin, k])
    x = rand(rng, 2, 5, 6, cin)
    kernel = rand(rng, k, k, cin, 70)
    bias = rand(rng, 70)
    plain = F.conv2d(x, kernel, bias, 1, "same", dilation)
    residual = rand(rng, *plain.shape)
    check_op("conv2d", x, kernel, bias=bias, padding="same", dilation_rate=dilation,
             activation=activation)
    check_op("conv2d", x, kernel, bias=bias, padding="same", dilation_rate=dilation,
             activation=activation, residual=residual)
