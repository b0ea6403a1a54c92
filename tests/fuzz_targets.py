"""Fuzz targets: one per binding of ``foveal._core`` and per group of public ops.

Each target draws one example (through hypothesis's ``data``), decides with a model of the
contract whether the call must succeed (then compares it with a NumPy reference) or fail with a
clear error, and runs it through ``fuzz_harness.invoke``. See fuzz_harness.py for the verdicts
and for how the targets are run; ``python tests/fuzz_targets.py`` lists the targets.
"""
from __future__ import annotations

import math
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzz_harness import (  # noqa: E402
    FLT_MAX, HUGE, K_MAX, MAX_KERNEL, MAX_SIDE, Arr, Bad, Big, Skip, _core, array_arg, assert_array,
    assert_close, cast_values, check_size, draw_float_mutation, draw_int_mutation,
    draw_padding_mutation, draw_pair_mutation, draw_setup, draw_str_mutation, draw_values, f32,
    fi, finite_max, invoke, m_bool, m_f32, m_float, m_long, m_pair, m_padding, m_pixels, m_str,
    m_u64, materialize, maybe, mutate_array, require, target, verdict, F, R,
)
import cv2  # noqa: E402
from check import TOL, warp_tol  # noqa: E402
from reference import image as image_ref  # noqa: E402  (OpenCV references)

NEW_ACTS = ("relu6", "hard_sigmoid", "hard_silu", "hard_swish", "silu", "swish", "gelu",
            "leaky_relu", "elu", "softplus")
ACTS = ("linear", "none", "relu", "sigmoid", "tanh") + NEW_ACTS
ACT_REF = {"linear": None, "none": None, "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh",
           **{a: a for a in NEW_ACTS}}
ACT_TOL = {"linear": 0.0, "none": 0.0, None: 0.0, "relu": 0.0, "sigmoid": 1e-6, "tanh": 1e-6,
           "relu6": 0.0, **{a: 1e-6 for a in NEW_ACTS if a != "relu6"}}
# the activations whose gradient is computed from the input x (activation_backward's x=)
GRAD_FROM_X = ("hard_silu", "hard_swish", "silu", "swish", "gelu")
CHANNELS = (1, 2, 3, 4, 5, 8, 16, 17, 33)
BORDERS = ("constant", "replicate", "nearest", "reflect", "reflect101", "wrap")
MACS_LIMIT = 2e7


def draw(data, strategy, label):
    return data.draw(strategy, label=label)


def pick(data, options, label):
    return data.draw(st.sampled_from(list(options)), label=label)


def convert(*thunks):
    """Model pybind11's argument conversion: every argument is converted before the body runs.
    An absurd conversion wins over a bad one (it fails first or fails as well)."""
    out, bad, big = [], None, None
    for t in thunks:
        try:
            out.append(t())
        except Big as e:
            big, _ = e, out.append(None)
        except Bad as e:
            bad, _ = e, out.append(None)
    if big is not None:
        raise big
    if bad is not None:
        raise bad
    return out


def mutation(data, names, p_none=5):
    """Which argument to mutate (None: none, the example stays valid)."""
    return pick(data, (None,) * p_none + tuple(names), "mutate")


def mutate_arg(data, rng, kind, value, label, optional=False):
    """A bad or unusual replacement for an argument of ``kind``."""
    if kind == "array":
        if optional and maybe(data, f"{label}.drop", 2):
            return None
        return mutate_array(data, rng, value, label)
    if kind == "pair":
        return draw_pair_mutation(data, label, value)
    if kind == "padding":
        return draw_padding_mutation(data, label, value)
    if kind == "int":
        return draw_int_mutation(data, label, value)
    if kind == "str":
        return draw_str_mutation(data, label, value)
    if kind == "float":
        return draw_float_mutation(data, label)
    if kind == "bool":
        return pick(data, [None, 0, 2, 0.5, "yes", np.bool_(True), [1]], label)
    raise AssertionError(kind)


def values_of(arg):
    """The float64 values an (unmutated) argument holds."""
    return np.asarray(materialize(arg), np.float64)


def tol_close(out, ref, tol, pre=None, bound=None, what="result"):
    """check.check_op's rule: rtol = tol, atol = tol * max(1, largest |pre-activation|); for a
    sum, the scale is at least the largest sum of absolute terms (``bound``: the op on |inputs|),
    as check_op's gradient rule, since float32 rounding is relative to that (1e30 - 1e30 + x)."""
    fb = None if bound is None else np.where(np.abs(bound) <= HUGE, bound, 0.0)
    scale = max(1.0, finite_max(ref if pre is None else pre), finite_max(fb) if fb is not None else 0.0)
    if pre is not None:
        scale = max(1.0, finite_max(np.where(np.abs(pre) <= HUGE, pre, 0.0)), finite_max(fb) if fb is not None else 0.0)
    assert_close(out, ref, tol, tol * scale, what, bound=bound)


def grad_close(out, ref, bound, tol, what):
    """check_op's gradient rule: atol = tol * the largest sum of absolute terms."""
    if ref is None:
        assert out is None, f"{what}: not asked for (need_dx / need_dkernel False) must give None, " \
                            f"got {type(out).__name__}"
        return
    assert_array(out, ref.shape, what=what)
    b = np.asarray(bound, np.float64)
    assert_close(out, ref, 0.0, tol * finite_max(np.where(np.abs(b) <= HUGE, b, 0.0)), what, bound=b)


# ============================================================================ module functions


@target("core.module", covers=["core.build_info", "core.get_num_threads", "core.set_num_threads",
                               "core.buffer_cache_info", "core.release_buffer_cache",
                               "core.available_isas", "core.get_isa", "core.set_isa",
                               "core.kernel_names", "core.kernel_table",
                               "core._isa_env_warning", "core._sanitizer_selftest"])
def t_module(data):
    draw_setup(data)
    which = pick(data, ["threads", "isa", "kernels", "info", "cache", "warning", "selftest"], "which")
    if which == "selftest":
        # Sanitizer builds only: its faults are deliberate, so only its argument check is driven.
        if hasattr(_core, "_sanitizer_selftest"):
            kind = pick(data, ["", "Overflow", "segv", None, 3], "kind")
            invoke(_core._sanitizer_selftest, [kind], expect="error")
        return
    if which == "threads":
        n = pick(data, [1, 2, 3, 7, 1024, 1025, 2**31, 0, -1, 2**63, 2**64, 1.5, None, "2",
                        np.int64(2), True], "n")
        try:
            v = m_long(n, 1)
            expect = "ok"
        except Bad:
            expect = "error"
        before = _core.get_num_threads()
        try:
            invoke(_core.set_num_threads, (n,), expect=expect)
            got = _core.get_num_threads()
            if expect == "ok":
                assert got == min(v, 1024), f"set_num_threads({n!r}) then get_num_threads() = {got}"
            else:
                assert got == before, f"a rejected set_num_threads({n!r}) changed the count to {got}"
        finally:
            _core.set_num_threads(before)
    elif which == "isa":
        name = pick(data, ["scalar", "avx2", "avx512", "AVX2", "", "sse", None, 3, "scalar "], "isa")
        avail = _core.available_isas()
        expect = "ok" if isinstance(name, str) and name in avail else "error"
        before = _core.get_isa()
        try:
            invoke(_core.set_isa, (name,), expect=expect)
            assert _core.get_isa() == (name if expect == "ok" else before)
        finally:
            _core.set_isa(before)
    elif which == "kernels":
        name = pick(data, ["scalar", "avx2", "avx512", "AVX2", "", "sse", None, 3], "isa")
        expect = "ok" if name in ("scalar", "avx2", "avx512") else "error"
        table = invoke(_core.kernel_table, (name,), expect=expect)
        if expect == "ok":
            assert list(table) == invoke(_core.kernel_names), "kernel_table() fields differ from kernel_names()"
            assert all(s.endswith((f"__{name}", "__scalar")) for s in table.values()), table
    elif which == "info":
        info = invoke(_core.build_info)
        for key in ("version", "compiler", "openmp", "cpu_features", "isa", "cuda_compiled",
                    "cuda_available", "num_threads"):
            assert key in info, f"build_info() lacks {key!r}"
        assert info["isa"] == _core.get_isa()
        avail = invoke(_core.available_isas)
        assert "scalar" in avail and set(avail) <= {"scalar", "avx2", "avx512"}, avail
        assert isinstance(invoke(_core._isa_env_warning), str)
        assert isinstance(invoke(_core.get_isa), str)
        assert invoke(_core.get_num_threads) >= 1
    elif which == "cache":
        info = invoke(_core.buffer_cache_info)
        assert {"cached_bytes", "capacity_bytes", "min_buffer_bytes"} <= set(info), info
        invoke(_core.release_buffer_cache)
        assert _core.buffer_cache_info()["cached_bytes"] == 0
    else:
        bad = pick(data, [(1,), ("x",), (None,)], "args")
        for fn in (_core.get_num_threads, _core.build_info, _core.available_isas, _core.get_isa,
                   _core.buffer_cache_info, _core.release_buffer_cache, _core._isa_env_warning,
                   _core.kernel_names):
            invoke(fn, bad, expect="error", names={"incompatible", "arguments", "argument", "takes"})


@target("core.threads", covers=["core.get_thread_backend", "core.set_thread_backend", "core._budget_enter",
                                "core._budget_exit", "core._budget_busy", "core._pool_hold_worker",
                                "core._pool_workers", "core._pool_chunk_counts", "core._pool_reset_counts"],
        weight=0.3)
def t_threads(data):
    """The thread pool's switches and hooks: bad arguments rejected, state restored, a kernel
    still right while a worker is held or the budget is taken."""
    draw_setup(data)
    which = pick(data, ["backend", "hold", "budget", "counts"], "which")
    x = np.arange(3 * 40 * 50, dtype=np.float32).reshape(40, 50, 3)
    want = fi.flip(x)
    if which == "backend":
        name = pick(data, ["pool", "openmp", "OpenMP", "", None, 3, "tbb"], "backend")
        before = invoke(_core.get_thread_backend)
        ok = name == "pool" or (name == "openmp" and _core.build_info()["openmp"])
        try:
            invoke(_core.set_thread_backend, (name,), expect="ok" if ok else "error")
            assert _core.get_thread_backend() == (name if ok else before)
            np.testing.assert_array_equal(fi.flip(x), want)
        finally:
            _core.set_thread_backend(before)
    elif which == "hold":
        worker = pick(data, [1, 2, 0, -1, 2**31, 2**40, None, "1", 1.5], "worker")
        hold = pick(data, [True, False], "hold")
        ok = isinstance(worker, int) and 1 <= worker < 2**31 and isinstance(hold, bool)
        invoke(_core._pool_hold_worker, (worker, hold), expect="ok" if ok else "error")
        try:
            np.testing.assert_array_equal(fi.flip(x), want)
        finally:
            if ok:
                _core._pool_hold_worker(worker, False)
    elif which == "budget":
        before = invoke(_core._budget_busy)
        invoke(_core._budget_enter)
        try:
            assert _core._budget_busy() >= 1
            np.testing.assert_array_equal(fi.flip(x), want)
        finally:
            invoke(_core._budget_exit)
        assert _core._budget_busy() == before
        invoke(_core._budget_enter, (1,), expect="error", names={"incompatible", "arguments"})
    else:
        invoke(_core._pool_reset_counts)
        counts = invoke(_core._pool_chunk_counts)
        assert len(counts) == invoke(_core._pool_workers) + 1 and not any(counts), counts


@target("core.weight_grad_hooks", covers=["core._weight_grad_macs", "core._weight_grad_reset"], weight=0.3)
def t_weight_grad_hooks(data):
    """The weight-gradient counter: 0 after a reset; a backward call adds its nominal
    multiply-adds (every tap of every output value) with need_dkernel and none without; bad
    arguments rejected."""
    rng = draw_setup(data)
    which = pick(data, ["conv", "grouped", "depthwise", "dense", "bad"], "which")
    if which == "bad":
        bad = pick(data, [(1,), (None,), ("reset",)], "bad")
        for fn in (_core._weight_grad_macs, _core._weight_grad_reset):
            invoke(fn, bad, expect="error", names={"incompatible", "arguments", "argument", "takes"})
        return
    need_dx, need_dk = pick(data, [True, False], "need_dx"), pick(data, [True, False], "need_dkernel")
    n, h, w = draw(data, st.integers(1, 3), "n"), draw(data, st.integers(3, 9), "h"), draw(data, st.integers(3, 9), "w")
    c, co = pick(data, (1, 2, 4, 6), "c"), pick(data, (1, 2, 4, 6), "co")
    if which == "dense":
        x, k = rng.standard_normal((n * h, c)), rng.standard_normal((c, co))
        dy = rng.standard_normal((n * h, co))
        fn, args, macs = _core.dense_backward, [f32(dy), f32(x), f32(k), need_dx, need_dk], n * h * c * co
    else:
        groups = {"conv": 1, "grouped": 2, "depthwise": c}[which]
        c, co = (c * 2, co * 2) if which == "grouped" else (c, c if which == "depthwise" else co)
        kh, kw, s = pick(data, (1, 2, 3), "kh"), pick(data, (1, 2, 3), "kw"), pick(data, (1, 2), "stride")
        oh, ow = (h - kh) // s + 1, (w - kw) // s + 1
        x, k = rng.standard_normal((n, h, w, c)), rng.standard_normal((kh, kw, c // groups, co))
        dy = rng.standard_normal((n, oh, ow, co))
        fn = _core.conv2d_backward
        args = [f32(dy), f32(x), f32(k), (s, s), ((0, 0), (0, 0)), (1, 1), groups, need_dx, need_dk]
        macs = n * oh * ow * co * kh * kw * (c // groups)
    invoke(_core._weight_grad_reset)
    assert invoke(_core._weight_grad_macs) == 0
    out = invoke(fn, args)
    assert [o is None for o in out] == [not need_dx, not need_dk, not need_dk], out
    assert invoke(_core._weight_grad_macs) == (macs if need_dk else 0)


# ============================================================================ nn: convolution


def draw_conv_config(data, rng):
    g = pick(data, [1, 1, 1, 1, 2, 3, 4], "groups")
    cin_g = pick(data, CHANNELS if g == 1 else (1, 2, 3, 5), "cin_g")
    cout_g = pick(data, CHANNELS if g == 1 else (1, 2, 3, 5), "cout_g")
    kh, kw = pick(data, (1, 2, 3, 3, 3, 4, 5), "kh"), pick(data, (1, 2, 3, 3, 3, 4, 5), "kw")
    n = draw(data, st.integers(1, 3), "n")
    if pick(data, ["small"] * 7 + ["huge"], "geometry") == "small":
        s = (pick(data, (1, 1, 2, 3), "sh"), pick(data, (1, 1, 2, 3), "sw"))
        d = (pick(data, (1, 1, 1, 2, 3), "dh"), pick(data, (1, 1, 1, 2, 3), "dw"))
        pads = tuple((draw(data, st.integers(0, 3), "pad0"), draw(data, st.integers(0, 3), "pad1"))
                     for _ in range(2))
        hw = []
        for a, k in ((0, kh), (1, kw)):
            need = max(1, d[a] * (k - 1) + 1 - sum(pads[a]))
            hw.append(need + draw(data, st.integers(0, 10), f"extra{a}"))
    else:  # sizes near the bindings' limits on a tiny input: valid, absurd or rejected
        big = (1, 2, 2**10, 2**20, 2**29, K_MAX)
        s = (pick(data, big, "sh"), pick(data, big, "sw"))
        d = (pick(data, big, "dh"), pick(data, big, "dw"))
        pads = tuple((pick(data, (0,) + big, "pad0"), pick(data, (0,) + big, "pad1")) for _ in range(2))
        hw = [draw(data, st.integers(1, 4), "h"), draw(data, st.integers(1, 4), "w")]
    x = draw_values(data, rng, (n, hw[0], hw[1], g * cin_g), label="x")
    k = draw_values(data, rng, (kh, kw, cin_g, g * cout_g), label="kernel")
    bias = draw_values(data, rng, (g * cout_g,), label="bias") if maybe(data, "has_bias", 5) else None
    return dict(x=x, kernel=k, bias=bias, strides=s, padding=pads, dilation_rate=d, groups=g)


ABSENT = object()   # an argument the call does not take (None is a value the fuzz passes)


def model_conv(x, kernel, bias, strides, padding, dilation, groups, act=ABSENT, dy=ABSENT):
    conv = [lambda: m_f32(x), lambda: m_f32(kernel), lambda: m_f32(bias, optional=True),
            lambda: m_pair(strides), lambda: m_padding(padding), lambda: m_pair(dilation),
            lambda: m_long(groups, 1, K_MAX)]
    if act is not ABSENT:
        conv.append(lambda: m_str(act))
    if dy is not ABSENT:
        conv.append(lambda: m_f32(dy))
    vals = convert(*conv)
    xa, ka, ba, s, p, d, g = vals[:7]
    require(xa.ndim == 4 and xa.size, "x")
    require(ka.ndim == 4 and ka.size, "kernel")
    n, h, w, c = xa.shape
    kh, kw, kc, co = ka.shape
    require(c % g == 0 and co % g == 0 and kc * g == c, "groups")
    oh = R.conv_output_size(h, kh, s[0], d[0], *p[0])
    ow = R.conv_output_size(w, kw, s[1], d[1], *p[1])
    require(oh > 0 and ow > 0, "kernel larger than the padded input")
    if ba is not None:
        require(ba.shape == (co,), "bias")
    if act is not ABSENT:
        require(vals[7] in ACTS, "activation")
    if dy is not ABSENT:
        require(vals[-1].shape == (n, oh, ow, co), "dy")
    check_size((n, oh, ow, co))
    check_size(xa.shape)
    if n * oh * ow * co * kh * kw * kc > MACS_LIMIT:
        raise Skip("too many MACs")
    return dict(x=xa, kernel=ka, bias=ba, strides=s, padding=p, dilation_rate=d, groups=g,
                act=vals[7] if act is not ABSENT else None, dy=vals[-1] if dy is not ABSENT else None,
                out=(n, oh, ow, co))


def conv_patches(x, kernel_hw, strides, pads, dilation):
    """Patches (n, oh, ow, kh, kw, c) of the zero-padded x and their in-image mask, computed
    without materializing the padding (so pads and strides near 2**30 are fine)."""
    n, h, w, c = x.shape
    kh, kw = kernel_hw
    oh = R.conv_output_size(h, kh, strides[0], dilation[0], *pads[0])
    ow = R.conv_output_size(w, kw, strides[1], dilation[1], *pads[1])
    iy = np.arange(oh, dtype=np.int64)[:, None] * strides[0] + np.arange(kh)[None] * dilation[0] - pads[0][0]
    ix = np.arange(ow, dtype=np.int64)[:, None] * strides[1] + np.arange(kw)[None] * dilation[1] - pads[1][0]
    my, mx = (iy >= 0) & (iy < h), (ix >= 0) & (ix < w)
    p = x[:, np.clip(iy, 0, h - 1)][:, :, :, np.clip(ix, 0, w - 1)]     # n, oh, kh, ow, kw, c
    mask = my[:, :, None, None] & mx[None, None]                       # oh, kh, ow, kw
    p = np.where(mask[None, ..., None], p, 0.0).transpose(0, 1, 3, 2, 4, 5)
    return p, mask.transpose(0, 2, 1, 3), iy, ix


def ref_conv(cfg, x, kernel, bias):
    """float64 conv2d (pre-activation): reference.nn's when the padding is small, else patches."""
    pads, s, d, g = cfg["padding"], cfg["strides"], cfg["dilation_rate"], cfg["groups"]
    if max(max(pads[0]), max(pads[1])) <= 64:
        return R.conv2d(x, kernel, bias, s, pads, d, g, None)
    p, _, _, _ = conv_patches(np.asarray(x, np.float64), kernel.shape[:2], s, pads, d)
    n, oh, ow, kh, kw, c = p.shape
    cin_g, cout = kernel.shape[2], kernel.shape[3]
    k = np.asarray(kernel, np.float64).reshape(kh, kw, cin_g, g, cout // g)
    out = np.einsum("nyxijgc,ijcgo->nyxgo", p.reshape(n, oh, ow, kh, kw, g, cin_g), k)
    out = out.reshape(n, oh, ow, cout)
    return out if bias is None else out + np.asarray(bias, np.float64)


def ref_conv_backward(cfg, dy, x, kernel):
    pads, s, d, g = cfg["padding"], cfg["strides"], cfg["dilation_rate"], cfg["groups"]
    if max(max(pads[0]), max(pads[1])) <= 64:
        return R.conv2d_backward(dy, x, kernel, s, pads, d, g, True)
    x64, k64, dy64 = (np.asarray(a, np.float64) for a in (x, kernel, dy))
    p, mask, iy, ix = conv_patches(x64, kernel.shape[:2], s, pads, d)
    n, oh, ow, kh, kw, c = p.shape
    cin_g, cout = kernel.shape[2], kernel.shape[3]
    dyg = dy64.reshape(n, oh, ow, g, cout // g)
    kg = k64.reshape(kh, kw, cin_g, g, cout // g)
    dk = np.einsum("nyxijgc,nyxgo->ijcgo", p.reshape(n, oh, ow, kh, kw, g, cin_g), dyg)
    contrib = np.einsum("nyxgo,ijcgo->nyxijgc", dyg, kg).reshape(n, oh, ow, kh, kw, c)
    yy, xx, ii, jj = np.nonzero(mask)
    dxt = np.zeros((x.shape[1], x.shape[2], n, c))
    np.add.at(dxt, (iy[yy, ii], ix[xx, jj]), contrib[:, yy, xx, ii, jj].transpose(1, 0, 2))
    return dxt.transpose(2, 0, 1, 3), dk.reshape(kh, kw, cin_g, cout), dy64.sum(axis=(0, 1, 2))


def winograd_huge(*arrays):
    """True when a 1e30 test value takes part in a convolution: Winograd's transforms (3 x 3,
    stride 1, forward and input gradient) mix every input of a tile and every tap of a kernel,
    so float32 rounding is relative to the largest of them, not to the terms of one output
    (cuDNN's and oneDNN's Winograd behave the same); the values are then not compared."""
    return any(finite_max(a) > HUGE for a in arrays if a is not None)


def dx_with_bad_weights(dx, kernel):
    """The input gradient may run as a convolution of the zero-padded dy with the flipped kernel
    (as cuDNN and oneDNN do): a NaN or inf *weight* then meets padded zeros (0 * inf = NaN) at
    positions the chain rule does not connect it to. Non-finite weights make a network's
    gradients meaningless anyway, so dx is unspecified then; non-finite x or dy must still stay
    where the chain rule takes them."""
    if dx is None or np.isfinite(kernel).all():
        return dx
    return np.full(np.shape(dx), np.nan)


def conv_args(data, rng, cfg, with_act=True):
    args = dict(x=array_arg(data, cfg["x"], "x"), kernel=array_arg(data, cfg["kernel"], "kernel"),
                bias=None if cfg["bias"] is None else array_arg(data, cfg["bias"], "bias"),
                strides=cfg["strides"], padding=cfg["padding"], dilation_rate=cfg["dilation_rate"],
                groups=cfg["groups"])
    if with_act:
        args["activation"] = pick(data, ACTS, "activation")
    return args


CONV_KINDS = dict(x="array", kernel="array", bias="array", strides="pair", padding="padding",
                  dilation_rate="pair", groups="int", activation="str", dy="array", need_dx="bool",
                  need_dkernel="bool", need_dbias="bool")


def draw_need_flags(data, args):
    """need_dx, and need_dkernel (True, False, or left to its default) for a backward binding."""
    args["need_dx"] = pick(data, [True, True, False], "need_dx")
    dk = pick(data, ["default", True, False, False], "need_dkernel")
    if dk != "default":
        args["need_dkernel"] = dk


def draw_dbias_flag(data, args):
    """need_dbias (convolutions only: True, False, or left to its default); drawn only where
    need_dkernel is given, so that a positional call keeps the binding's argument order."""
    if "need_dkernel" in args:
        db = pick(data, ["default", True, False], "need_dbias")
        if db != "default":
            args["need_dbias"] = db


def need_flags(args):
    """The (need_dx, need_dkernel) a valid call asked for; Bad for a flag pybind11 refuses."""
    return m_bool(args["need_dx"]), m_bool(args.get("need_dkernel", True))


def apply_mutation(data, rng, args, kinds, optional=("bias",)):
    m = mutation(data, list(args))
    if m is not None:
        good = args[m]
        value = values_of(good) if kinds[m] == "array" and good is not None else good
        if kinds[m] == "array" and good is None:
            value = rng.standard_normal(3)
        args[m] = mutate_arg(data, rng, kinds[m], value, m, optional=m in optional)
    return m


@target("core.conv2d", covers=["core.conv2d"], weight=2)
def t_conv2d(data):
    rng = draw_setup(data)
    cfg = draw_conv_config(data, rng)
    args = conv_args(data, rng, cfg)
    apply_mutation(data, rng, args, CONV_KINDS)
    expect, m = verdict(model_conv, args["x"], args["kernel"], args["bias"], args["strides"],
                        args["padding"], args["dilation_rate"], args["groups"], args["activation"])

    def check(out, a, kw):
        pre = ref_conv(m, m["x"], m["kernel"], m["bias"])
        bound = ref_conv(m, np.abs(m["x"]), np.abs(m["kernel"]), None if m["bias"] is None else np.abs(m["bias"]))
        act = ACT_REF[m["act"]]
        ref = R.ACTIVATIONS[act](pre)
        assert_array(out, m["out"])
        if winograd_huge(m["x"], m["kernel"]):
            return
        tol_close(out, ref, 1e-4, pre, bound)

    invoke(_core.conv2d, list(args.values()), expect=expect, check=check)


@target("core.inverted_residual", covers=["core.inverted_residual"])
def t_inverted_residual(data):
    rng = draw_setup(data)
    n, h, w = pick(data, (1, 2, 3), "n"), pick(data, (1, 2, 5, 9), "h"), pick(data, (1, 3, 8), "w")
    cin, co = pick(data, (1, 3, 8, 17), "cin"), pick(data, (1, 4, 16, 19), "cout")
    expand = not maybe(data, "no_expand", 2)
    hid = pick(data, (1, 5, 16, 33), "hidden") if expand else cin
    k, s = pick(data, (1, 3, 5), "k"), pick(data, (1, 2, 3), "stride")
    pads = pick(data, (((0, 0), (0, 0)), ((k // 2, k // 2), (k // 2, k // 2)), ((0, 1), (1, 0))), "padding")

    def vals(shape, label):
        return draw_values(data, rng, shape, special=False, label=label)
    x = vals((n, h, w, cin), "x")
    oh, ow = R.conv_output_size(h, k, s, 1, *pads[0]), R.conv_output_size(w, k, s, 1, *pads[1])
    args = dict(x=array_arg(data, x, "x"),
                expand_kernel=array_arg(data, vals((1, 1, cin, hid), "ek") * 0.5, "ek") if expand else None,
                expand_bias=array_arg(data, vals((hid,), "eb"), "eb") if expand and maybe(data, "eb", 6) else None,
                dw_kernel=array_arg(data, vals((k, k, hid, 1), "dk") * 0.5, "dk"),
                dw_bias=array_arg(data, vals((hid,), "db"), "db") if maybe(data, "db", 6) else None,
                project_kernel=array_arg(data, vals((1, 1, hid, co), "pk") * 0.5, "pk"),
                project_bias=array_arg(data, vals((co,), "pb"), "pb") if maybe(data, "pb", 6) else None,
                strides=(s, s), padding=pads,
                expand_activation=pick(data, ("linear", "relu", "relu6", "silu"), "ea"),
                dw_activation=pick(data, ("linear", "relu", "relu6", "hard_silu"), "da"),
                residual=(array_arg(data, vals((n, max(oh, 1), max(ow, 1), co), "res"), "res")
                          if maybe(data, "res", 4) else None),
                expand_scale=(array_arg(data, np.abs(vals((hid,), "es")) + 0.5, "es")
                              if expand and maybe(data, "es", 3) else None),
                dw_scale=array_arg(data, np.abs(vals((hid,), "ds")) + 0.5, "ds") if maybe(data, "ds", 3) else None,
                project_scale=array_arg(data, np.abs(vals((co,), "ps")) + 0.5, "ps") if maybe(data, "ps", 3) else None)
    kinds = dict(x="array", expand_kernel="array", expand_bias="array", dw_kernel="array",
                 dw_bias="array", project_kernel="array", project_bias="array", strides="pair",
                 padding="padding", expand_activation="str", dw_activation="str", residual="array",
                 expand_scale="array", dw_scale="array", project_scale="array")
    apply_mutation(data, rng, args, kinds,
                   optional=("expand_kernel", "expand_bias", "dw_bias", "project_bias", "residual",
                             "expand_scale", "dw_scale", "project_scale"))

    def model():
        xa, ek, eb, dk, db, pk, pb, st_, pd, ea, da, res, es, ds, ps = convert(
            lambda: m_f32(args["x"]), lambda: m_f32(args["expand_kernel"], optional=True),
            lambda: m_f32(args["expand_bias"], optional=True), lambda: m_f32(args["dw_kernel"]),
            lambda: m_f32(args["dw_bias"], optional=True), lambda: m_f32(args["project_kernel"]),
            lambda: m_f32(args["project_bias"], optional=True), lambda: m_pair(args["strides"]),
            lambda: m_padding(args["padding"]), lambda: m_str(args["expand_activation"]),
            lambda: m_str(args["dw_activation"]), lambda: m_f32(args["residual"], optional=True),
            lambda: m_f32(args["expand_scale"], optional=True),
            lambda: m_f32(args["dw_scale"], optional=True),
            lambda: m_f32(args["project_scale"], optional=True))
        require(xa.ndim == 4 and xa.size, "x")
        c = xa.shape[3]
        if ek is not None:
            require(ek.ndim == 4 and ek.shape[:3] == (1, 1, c) and ek.shape[3] >= 1, "expand_kernel")
            hd = ek.shape[3]
        else:
            require(eb is None, "expand_bias")
            hd = c
        require(dk.ndim == 4 and dk.shape[0] >= 1 and dk.shape[1] >= 1 and dk.shape[2:] == (hd, 1), "dw_kernel")
        require(pk.ndim == 4 and pk.shape[:3] == (1, 1, hd) and pk.shape[3] >= 1, "project_kernel")
        require(ek is not None or es is None, "expand_scale")
        for b, size, name in ((eb, hd, "expand_bias"), (db, hd, "dw_bias"), (pb, pk.shape[3], "project_bias"),
                              (es, hd, "expand_scale"), (ds, hd, "dw_scale"),
                              (ps, pk.shape[3], "project_scale")):
            require(b is None or b.shape == (size,), name)
        # the factors as the block applies them: each kernel times its factors, in float32
        ek = ek if es is None else ek * es
        dk = dk if ds is None else dk * ds.reshape(hd, 1)
        pk = pk if ps is None else pk * ps
        require(ea in ACTS and da in ACTS, "activation")
        o_h = R.conv_output_size(xa.shape[1], dk.shape[0], st_[0], 1, *pd[0])
        o_w = R.conv_output_size(xa.shape[2], dk.shape[1], st_[1], 1, *pd[1])
        require(o_h > 0 and o_w > 0, "kernel larger than the padded input")
        out = (xa.shape[0], o_h, o_w, pk.shape[3])
        require(res is None or res.shape == out, "residual")
        check_size(out)
        check_size((xa.shape[0], o_h, o_w, hd))
        if xa.shape[0] * o_h * o_w * hd * (dk.shape[0] * dk.shape[1] + c + pk.shape[3]) > MACS_LIMIT:
            raise Skip("too many MACs")
        return dict(x=xa, ek=ek, eb=eb, dk=dk, db=db, pk=pk, pb=pb, strides=st_, padding=pd, ea=ea,
                    da=da, res=res, out=out)

    expect, m = verdict(model)

    def check(out, a_, kw):
        assert_array(out, m["out"])
        one = dict(strides=(1, 1), padding=((0, 0), (0, 0)), dilation_rate=(1, 1), groups=1)
        hd = m["dk"].shape[2]
        dwc = dict(strides=m["strides"], padding=m["padding"], dilation_rate=(1, 1), groups=hd)
        dk4 = m["dk"].reshape(m["dk"].shape[0], m["dk"].shape[1], 1, hd)
        hx = m["x"] if m["ek"] is None else R.ACTIVATIONS[ACT_REF[m["ea"]]](ref_conv(one, m["x"], m["ek"], m["eb"]))
        d = R.ACTIVATIONS[ACT_REF[m["da"]]](ref_conv(dwc, hx, dk4, m["db"]))
        ref = ref_conv(one, d, m["pk"], m["pb"]) + (0.0 if m["res"] is None else m["res"])
        # the float32 error scale: the same chain on absolute values
        ha = np.abs(m["x"]) if m["ek"] is None else np.abs(ref_conv(one, np.abs(m["x"]), np.abs(m["ek"]),
                                                                   None if m["eb"] is None else np.abs(m["eb"])))
        da_ = ref_conv(dwc, ha, np.abs(dk4), None if m["db"] is None else np.abs(m["db"]))
        bound = ref_conv(one, da_, np.abs(m["pk"]), None if m["pb"] is None else np.abs(m["pb"]))
        tol_close(out, ref, 1e-4, None, bound + (0.0 if m["res"] is None else np.abs(m["res"])))

    invoke(_core.inverted_residual, list(args.values()), expect=expect, check=check)


@target("core.conv2d_moments", covers=["core.conv2d_moments"])
def t_conv2d_moments(data):
    rng = draw_setup(data)
    cfg = draw_conv_config(data, rng)
    args = conv_args(data, rng, cfg, with_act=False)
    apply_mutation(data, rng, args, CONV_KINDS)
    expect, m = verdict(model_conv, args["x"], args["kernel"], args["bias"], args["strides"],
                        args["padding"], args["dilation_rate"], args["groups"])

    def check(out, a, kw):
        y, mean, m2 = out
        assert_array(y, m["out"])
        # y is conv2d's own output, bit for bit
        want = _core.conv2d(*[materialize(v) for v in args.values()], "linear")
        assert np.array_equal(y, want, equal_nan=True), "y differs from conv2d"
        assert mean.dtype == np.float64 and m2.dtype == np.float64 and mean.shape == m2.shape == (m["out"][3],)
        y64 = y.reshape(-1, y.shape[-1]).astype(np.float64)
        if not np.isfinite(y64).all() or np.abs(y64).max() > 1e15:
            return   # non-finite or overflowing sums: unspecified
        ref_mean = y64.mean(0)
        ref_m2 = ((y64 - ref_mean) ** 2).sum(0)
        scale = max(1.0, finite_max(np.abs(y64)))
        assert_close(mean, ref_mean, 1e-5, 1e-5 * scale, "mean")
        assert_close(m2, ref_m2, 1e-4, 1e-4 * scale * scale * y64.shape[0], "m2")

    invoke(_core.conv2d_moments, list(args.values()), expect=expect, check=check)


@target("core.conv2d_pool", covers=["core.conv2d_pool"])
def t_conv2d_pool(data):
    rng = draw_setup(data)
    cfg = draw_conv_config(data, rng)
    args = conv_args(data, rng, cfg)
    args["pool_size"] = pick(data, [(1, 1), (2, 2), (2, 2), (2, 3), (3, 1), (4, 4), (9, 9)], "pool_size")
    args["pool"] = pick(data, ["max", "max", "average"], "pool")
    if maybe(data, "keep", 2):
        args["keep"] = pick(data, [True, False], "keep")
    apply_mutation(data, rng, args, dict(CONV_KINDS, pool_size="pair", pool="str", keep="bool"))
    conv = [args[k] for k in ("x", "kernel", "bias", "strides", "padding", "dilation_rate", "groups",
                              "activation")]

    def model():
        m = model_conv(*conv)
        (ph, pw), pool, keep = convert(lambda: m_pair(args["pool_size"]),
                                       lambda: m_str(args["pool"], ("max", "average")),
                                       lambda: m_bool(args.get("keep", False)))
        n, oh, ow, co = m["out"]
        require(oh >= ph and ow >= pw, "pool_size larger than the convolution's output")
        return dict(m, pool_size=(ph, pw), pool=pool, keep=keep, conv_out=m["out"],
                    out=(n, oh // ph, ow // pw, co))

    expect, m = verdict(model)

    def check(out, a, kw):
        y = _core.conv2d(*[materialize(v) for v in conv])
        if m["keep"]:   # (the convolution's output, the pooled output)
            assert isinstance(out, tuple) and len(out) == 2, f"returned {type(out).__name__}"
            assert_array(out[0], m["conv_out"])
            assert np.array_equal(out[0], y, equal_nan=True), "the kept output differs from conv2d"
            out = out[1]
        assert_array(out, m["out"])
        # conv2d's output pooled, bit for bit
        fn = _core.max_pool2d if m["pool"] == "max" else _core.avg_pool2d
        want = fn(y, m["pool_size"], m["pool_size"], ((0, 0), (0, 0)))
        assert np.array_equal(out, want, equal_nan=True), "differs from conv2d then pooling"

    invoke(_core.conv2d_pool, list(args.values()), expect=expect, check=check)


def m_f64(v):
    """A forcecast float64 parameter (as m_f32, in double)."""
    if v is None:
        raise Bad("None")
    if isinstance(v, Arr) and v.huge_shape is not None:
        raise Big("a huge zero-stride array needs a huge float64 copy")
    try:
        arr = np.asarray(materialize(v))
    except ValueError:
        raise Bad("ragged") from None
    if arr.dtype.kind not in "biuf":
        raise Bad(f"dtype {arr.dtype}")
    return np.asarray(arr, dtype=np.float64, order="C")   # (ascontiguousarray would make a 0-d array 1-d)


@target("core.batch_norm_act_from_moments", covers=["core.batch_norm_act_from_moments"])
def t_batch_norm_act_from_moments(data):
    rng = draw_setup(data)
    rows, c = pick(data, (1, 2, 7, 64, 300), "rows"), pick(data, (1, 3, 8, 17), "c")
    x = draw_values(data, rng, (rows, c), special=False, label="x")
    x64 = x.astype(np.float32).astype(np.float64)
    args = dict(x=array_arg(data, x, "x"), mean=x64.mean(0), m2=((x64 - x64.mean(0)) ** 2).sum(0),
                gamma=array_arg(data, rng.uniform(-1, 1, c), "gamma"),
                beta=array_arg(data, rng.uniform(-1, 1, c), "beta"),
                epsilon=pick(data, (1e-3, 1e-5, 1.0), "epsilon"),
                activation=pick(data, ("none", "linear", "relu", "relu6"), "activation"))
    kinds = dict(x="array", mean="array", m2="array", gamma="array", beta="array", epsilon="float",
                 activation="str")
    apply_mutation(data, rng, args, kinds, optional=())

    def model():
        xa, mean, m2, gamma, beta, eps, act = convert(
            lambda: m_f32(args["x"]), lambda: m_f64(args["mean"]), lambda: m_f64(args["m2"]),
            lambda: m_f32(args["gamma"]), lambda: m_f32(args["beta"]),
            lambda: m_float(args["epsilon"], finite=True, f32=True), lambda: m_str(args["activation"]))
        require(act in ("none", "linear", "relu", "relu6"), "activation")
        require(xa.ndim == 2 and xa.size, "x")
        cc = xa.shape[1]
        for v, name in ((mean, "mean"), (m2, "m2"), (gamma, "gamma"), (beta, "beta")):
            require(v.shape == (cc,), name)
        require(bool(np.all(m2 >= 0)), "m2")
        require(np.float32(eps) > 0, "epsilon")
        return dict(x=xa, mean=mean, m2=m2, gamma=gamma, beta=beta, eps=eps, act=act)

    expect, m = verdict(model)

    def check(out, a, kw):
        y, mean, var, inv_std = out
        rows_ = m["x"].shape[0]
        assert_array(y, m["x"].shape)
        np.testing.assert_array_equal(mean, m["mean"].astype(np.float32))
        np.testing.assert_array_equal(var, (m["m2"] / rows_).astype(np.float32))
        ref_inv = 1.0 / np.sqrt(var.astype(np.float64) + np.float32(m["eps"]))
        assert_close(inv_std, ref_inv, 1e-6, 0.0, "inv_std")
        z = (m["x"] - mean.astype(np.float64)) * inv_std.astype(np.float64) * m["gamma"] + m["beta"]
        if m["act"] == "relu":
            z = np.maximum(z, 0)
        elif m["act"] == "relu6":
            z = np.clip(z, 0, 6)
        bound = np.abs(m["x"]) * np.abs(inv_std) * np.abs(m["gamma"]) + np.abs(mean * inv_std * m["gamma"]) + np.abs(m["beta"])
        assert_close(y, z, 1e-5, 1e-5 * max(1.0, finite_max(bound)), "y", bound=bound)

    invoke(_core.batch_norm_act_from_moments, list(args.values()), expect=expect, check=check)


@target("core.conv2d_backward", covers=["core.conv2d_backward"], weight=2)
def t_conv2d_backward(data):
    rng = draw_setup(data)
    cfg = draw_conv_config(data, rng)
    args = conv_args(data, rng, cfg, with_act=False)
    del args["bias"]
    try:
        out_shape = model_conv(cfg["x"], cfg["kernel"], None, cfg["strides"], cfg["padding"],
                               cfg["dilation_rate"], cfg["groups"])["out"]
    except (Bad, Big):
        out_shape = (1, 1, 1, 1)
    dy = draw_values(data, rng, out_shape, label="dy")
    args = dict(dy=array_arg(data, dy, "dy"), **args)
    draw_need_flags(data, args)
    draw_dbias_flag(data, args)
    apply_mutation(data, rng, args, CONV_KINDS, optional=())
    expect, m = verdict(model_conv, args["x"], args["kernel"], None, args["strides"], args["padding"],
                        args["dilation_rate"], args["groups"], ABSENT, args["dy"])
    if expect == "ok":
        try:
            need_dx, need_dk = need_flags(args)
            need_db = m_bool(args.get("need_dbias", True)) and need_dk   # a bad flag is Bad either way
        except Bad:
            expect = "error"

    def check(out, a, kw):
        assert isinstance(out, tuple) and len(out) == 3, f"returned {type(out).__name__}"
        dx, dk, db = ref_conv_backward(m, m["dy"], m["x"], m["kernel"])
        bdx, bdk, bdb = ref_conv_backward(m, np.abs(m["dy"]), np.abs(m["x"]), np.abs(m["kernel"]))
        dx = dx_with_bad_weights(dx, m["kernel"])
        if winograd_huge(m["dy"], m["kernel"]):
            dx = None if dx is None else np.full(dx.shape, np.nan)
        grad_close(out[0], dx if need_dx else None, bdx, 1e-4, "dx")
        grad_close(out[1], dk if need_dk else None, bdk, 1e-4, "dkernel")
        grad_close(out[2], db if need_db else None, bdb, 1e-4, "dbias")

    invoke(_core.conv2d_backward, list(args.values()), expect=expect, check=check)


# ============================================================================ nn: pooling


def draw_pool_config(data, rng):
    n = draw(data, st.integers(1, 3), "n")
    c = pick(data, CHANNELS, "c")
    if pick(data, ["small"] * 7 + ["huge"], "geometry") == "small":
        pool = (draw(data, st.integers(1, 4), "ph"), draw(data, st.integers(1, 4), "pw"))
        s = (draw(data, st.integers(1, 3), "sh"), draw(data, st.integers(1, 3), "sw"))
        pads = tuple((draw(data, st.integers(0, pool[a] - 1), "pad0"),
                      draw(data, st.integers(0, pool[a] - 1), "pad1")) for a in range(2))
        hw = [max(1, pool[a] - sum(pads[a])) + draw(data, st.integers(0, 9), "extra") for a in range(2)]
    else:
        big = (2, 2**10, 2**20, 2**29, K_MAX)
        pool = (pick(data, big, "ph"), pick(data, big, "pw"))
        s = (pick(data, (1,) + big, "sh"), pick(data, (1,) + big, "sw"))
        pads = tuple((pick(data, (0, 1, pool[a] // 2, pool[a] - 1), "pad0"),
                      pick(data, (0, 1, pool[a] // 2, pool[a] - 1), "pad1")) for a in range(2))
        hw = [draw(data, st.integers(1, 4), "h"), draw(data, st.integers(1, 4), "w")]
    x = draw_values(data, rng, (n, hw[0], hw[1], c), label="x")
    return dict(x=x, pool_size=pool, strides=s, padding=pads)


def model_pool(x, pool, strides, padding, dy=ABSENT):
    conv = [lambda: m_f32(x), lambda: m_pair(pool), lambda: m_pair(strides), lambda: m_padding(padding)]
    if dy is not ABSENT:
        conv.append(lambda: m_f32(dy))
    vals = convert(*conv)
    xa, k, s, p = vals[:4]
    require(xa.ndim == 4 and xa.size, "x")
    require(all(p[a][0] < k[a] and p[a][1] < k[a] for a in range(2)), "padding >= pool")
    n, h, w, c = xa.shape
    oh = R.conv_output_size(h, k[0], s[0], 1, *p[0])
    ow = R.conv_output_size(w, k[1], s[1], 1, *p[1])
    require(oh > 0 and ow > 0, "pool larger than the padded input")
    if dy is not ABSENT:
        require(vals[4].shape == (n, oh, ow, c), "dy")
    check_size((n, oh, ow, c))
    if oh * ow > 4096:
        raise Skip("many windows: slow reference")
    return dict(x=xa, pool=k, strides=s, padding=p, dy=vals[4] if dy is not ABSENT else None,
                out=(n, oh, ow, c))


def pool_windows(m):
    """For each output row/column: the [lo, hi) range of real input cells its window covers."""
    n, h, w, c = m["x"].shape
    _, oh, ow, _ = m["out"]
    rng = []
    for a, size, out in ((0, h, oh), (1, w, ow)):
        start = np.arange(out, dtype=np.int64) * m["strides"][a] - m["padding"][a][0]
        rng.append((np.maximum(start, 0), np.minimum(start + m["pool"][a], size)))
    return rng


def ref_pool(m, op):
    x = m["x"].astype(np.float64)
    (ylo, yhi), (xlo, xhi) = pool_windows(m)
    out = np.empty(m["out"])
    for i in range(len(ylo)):
        for j in range(len(xlo)):
            win = x[:, ylo[i]:yhi[i], xlo[j]:xhi[j], :]
            out[:, i, j] = win.max(axis=(1, 2)) if op == "max" else win.mean(axis=(1, 2))
    return out


def ref_pool_backward(m, dy, op, through_relu=False):
    """dx (float64); for max pooling, windows holding a NaN leave their cells unspecified (NaN)."""
    x = m["x"].astype(np.float64)
    dy = np.asarray(dy, np.float64)
    (ylo, yhi), (xlo, xhi) = pool_windows(m)
    dx = np.zeros(x.shape)
    unspec = np.zeros(x.shape, bool)
    n, _, _, c = x.shape
    nn_, cc = np.meshgrid(np.arange(n), np.arange(c), indexing="ij")
    for i in range(len(ylo)):
        for j in range(len(xlo)):
            y0, y1, x0, x1 = ylo[i], yhi[i], xlo[j], xhi[j]
            if op == "avg":
                dx[:, y0:y1, x0:x1, :] += (dy[:, i, j] / ((y1 - y0) * (x1 - x0)))[:, None, None, :]
                continue
            win = x[:, y0:y1, x0:x1, :].reshape(n, -1, c)
            first = np.argmax(win, axis=1)                     # first maximum, row-major
            wy, wx = np.unravel_index(first, (y1 - y0, x1 - x0))
            g = dy[:, i, j]
            if through_relu:
                g = np.where(np.take_along_axis(win, first[:, None], 1)[:, 0] > 0, g, 0.0)
            np.add.at(dx, (nn_, y0 + wy, x0 + wx, cc), g)
            unspec[:, y0:y1, x0:x1, :] |= np.isnan(win).any(axis=1)[:, None, None, :]
    return np.where(unspec, np.nan, dx)


def pool_args(data, cfg):
    return dict(x=array_arg(data, cfg["x"], "x"), pool_size=cfg["pool_size"], strides=cfg["strides"],
                padding=cfg["padding"])


POOL_KINDS = dict(x="array", pool_size="pair", strides="pair", padding="padding", dy="array",
                  through_relu="bool")


@target("core.pool2d", covers=["core.max_pool2d", "core.avg_pool2d"], weight=1.5)
def t_pool2d(data):
    rng = draw_setup(data)
    op = pick(data, ["max", "avg"], "op")
    args = pool_args(data, draw_pool_config(data, rng))
    apply_mutation(data, rng, args, POOL_KINDS, optional=())
    expect, m = verdict(model_pool, *args.values())

    def check(out, a, kw):
        assert_array(out, m["out"])
        ref = ref_pool(m, op)
        bound = ref_pool(dict(m, x=np.abs(m["x"])), op) if op == "avg" else None
        tol_close(out, ref, 0.0 if op == "max" else 1e-5, bound=bound)

    fn = _core.max_pool2d if op == "max" else _core.avg_pool2d
    invoke(fn, list(args.values()), expect=expect, check=check)


@target("core.pool2d_backward", covers=["core.max_pool2d_backward", "core.avg_pool2d_backward"], weight=1.5)
def t_pool2d_backward(data):
    rng = draw_setup(data)
    op = pick(data, ["max", "avg"], "op")
    cfg = draw_pool_config(data, rng)
    args = pool_args(data, cfg)
    try:
        shape = model_pool(cfg["x"], cfg["pool_size"], cfg["strides"], cfg["padding"])["out"]
    except (Bad, Big, Skip):
        shape = (1, 1, 1, 1)
    args = dict(dy=array_arg(data, draw_values(data, rng, shape, label="dy"), "dy"), **args)
    if op == "max" and maybe(data, "relu", 3):
        args["through_relu"] = pick(data, [True, False], "through_relu")
    apply_mutation(data, rng, args, POOL_KINDS, optional=())
    expect, m = verdict(model_pool, args["x"], args["pool_size"], args["strides"], args["padding"], args["dy"])
    through = False
    if "through_relu" in args:
        try:
            through = m_bool(args["through_relu"])
        except Bad:
            expect = "error"

    def check(out, a, kw):
        assert_array(out, m["x"].shape)
        ref = ref_pool_backward(m, m["dy"], op, through)
        bound = ref_pool_backward(m, np.abs(m["dy"]), op, False)
        # A cell sums the gradients of every window over it in float32: with n windows the
        # rounding error reaches n * 2^-24 of the sum of their absolute values (the long fuzz
        # run found 1024 overlapping windows of 2^30 rows at stride 2^20 off by 1.1e-5).
        overlap = 1
        for k, s_ in zip(m["pool"], m["strides"]):
            overlap *= -(-k // s_)
        tol = max(1e-5, min(overlap, m["dy"].size) * 2.0 ** -23)
        assert_close(out, ref, 0.0, tol * max(finite_max(bound), 0.0), "dx")

    fn = _core.max_pool2d_backward if op == "max" else _core.avg_pool2d_backward
    invoke(fn, list(args.values()), expect=expect, check=check)


NO_DY = object()


def model_global(x, dy=NO_DY):
    vals = convert(lambda: m_f32(x), *([lambda: m_f32(dy)] if dy is not NO_DY else []))
    xa = vals[0]
    require(xa.ndim == 4 and xa.size, "x")
    if dy is not NO_DY:
        require(vals[1].shape == (xa.shape[0], xa.shape[3]), "dy")
    return dict(x=xa, dy=vals[1] if dy is not NO_DY else None)


@target("core.global_pool", covers=["core.global_max_pool2d", "core.global_avg_pool2d",
                                    "core.global_max_pool2d_backward", "core.global_avg_pool2d_backward"])
def t_global_pool(data):
    rng = draw_setup(data)
    op = pick(data, ["max", "avg"], "op")
    backward = maybe(data, "backward", 4)
    shape = (draw(data, st.integers(1, 4), "n"), draw(data, st.integers(1, 20), "h"),
             draw(data, st.integers(1, 20), "w"), pick(data, CHANNELS, "c"))
    args = dict(x=array_arg(data, draw_values(data, rng, shape, label="x"), "x"))
    if backward:
        args = dict(dy=array_arg(data, draw_values(data, rng, (shape[0], shape[3]), label="dy"), "dy"), **args)
    apply_mutation(data, rng, args, dict(x="array", dy="array"), optional=())
    expect, m = verdict(model_global, args["x"], args.get("dy", NO_DY))

    def check(out, a, kw):
        x = m["x"]
        if not backward:
            assert_array(out, (x.shape[0], x.shape[3]))
            ref = R.global_max_pool2d(x) if op == "max" else R.global_avg_pool2d(x)
            tol_close(out, ref, 0.0 if op == "max" else 1e-5, bound=R.global_avg_pool2d(np.abs(x)))
            return
        assert_array(out, x.shape)
        if op == "max":
            ref = R.global_max_pool2d_backward(m["dy"], x)
            nan_nc = np.isnan(x).any(axis=(1, 2))            # argmax among NaNs: unspecified
            ref = np.where(nan_nc[:, None, None, :], np.nan, ref)
            assert_close(out, ref, 0.0, 0.0, "dx")
        else:
            ref = R.global_avg_pool2d_backward(m["dy"], x)
            bound = R.global_avg_pool2d_backward(np.abs(m["dy"]), x)
            assert_close(out, ref, 0.0, 1e-6 * finite_max(bound), "dx")

    if backward:
        fn = _core.global_max_pool2d_backward if op == "max" else _core.global_avg_pool2d_backward
    else:
        fn = _core.global_max_pool2d if op == "max" else _core.global_avg_pool2d
    invoke(fn, list(args.values()), expect=expect, check=check)


# ============================================================================ nn: dense, activations


def model_dense(x, kernel, bias, act=ABSENT, dy=ABSENT, backward=False):
    conv = [lambda: m_f32(x), lambda: m_f32(kernel)]
    if not backward:
        conv += [lambda: m_f32(bias, optional=True), lambda: m_str(act)]
    else:
        conv += [lambda: m_f32(dy)]
    vals = convert(*conv)
    xa, ka = vals[:2]
    require(xa.ndim == 2 and xa.size, "x")
    require(ka.ndim == 2 and ka.size, "kernel")
    require(ka.shape[0] == xa.shape[1], "kernel rows")
    out = (xa.shape[0], ka.shape[1])
    if not backward:
        require(vals[3] in ACTS, "activation")
        if vals[2] is not None:
            require(vals[2].shape == (ka.shape[1],), "bias")
        return dict(x=xa, kernel=ka, bias=vals[2], act=vals[3], out=out)
    require(vals[2].shape == out, "dy")
    return dict(x=xa, kernel=ka, dy=vals[2], out=out)


@target("core.dense", covers=["core.dense", "core.dense_backward"], weight=1.5)
def t_dense(data):
    rng = draw_setup(data)
    backward = maybe(data, "backward", 4)
    mm, k, n = (pick(data, (1, 2, 3, 7, 16, 17, 40), "m"), pick(data, (1, 2, 5, 8, 16, 33, 70, 300), "k"),
                pick(data, (1, 2, 3, 8, 15, 16, 17, 40), "n"))
    x = draw_values(data, rng, (mm, k), label="x")
    ker = draw_values(data, rng, (k, n), label="kernel")
    args = dict(x=array_arg(data, x, "x"), kernel=array_arg(data, ker, "kernel"))
    if backward:
        args = dict(dy=array_arg(data, draw_values(data, rng, (mm, n), label="dy"), "dy"), **args)
        draw_need_flags(data, args)
    else:
        args["bias"] = array_arg(data, draw_values(data, rng, (n,), label="bias"), "bias") \
            if maybe(data, "bias", 5) else None
        args["activation"] = pick(data, ACTS, "activation")
    apply_mutation(data, rng, args, dict(CONV_KINDS), optional=("bias",))
    if backward:
        expect, m = verdict(model_dense, args["x"], args["kernel"], None, ABSENT, args["dy"], True)
        if expect == "ok":
            try:
                need_dx, need_dk = need_flags(args)
            except Bad:
                expect = "error"
    else:
        expect, m = verdict(model_dense, args["x"], args["kernel"], args["bias"], args["activation"])

    def check(out, a, kw):
        if backward:
            assert isinstance(out, tuple) and len(out) == 3
            ref = list(R.dense_backward(m["dy"], m["x"], m["kernel"], need_dx))
            bound = R.dense_backward(np.abs(m["dy"]), np.abs(m["x"]), np.abs(m["kernel"]), True)
            if not need_dk:
                ref[1] = ref[2] = None
            for name, o, r, b in zip(("dx", "dkernel", "dbias"), out, ref, bound):
                grad_close(o, r, b, 1e-4, name)
            return
        pre = R.dense(m["x"], m["kernel"], m["bias"], None)
        bound = R.dense(np.abs(m["x"]), np.abs(m["kernel"]), None if m["bias"] is None else np.abs(m["bias"]), None)
        ref = R.ACTIVATIONS[ACT_REF[m["act"]]](pre)
        assert_array(out, m["out"])
        tol_close(out, ref, 1e-4, pre, bound)

    fn = _core.dense_backward if backward else _core.dense
    invoke(fn, list(args.values()), expect=expect, check=check)


def draw_any_shape(data, max_rank=5):
    rank = draw(data, st.integers(0, max_rank), "rank")
    return tuple(pick(data, (0, 1, 1, 2, 3, 7, 16, 17, 33), f"dim{i}") for i in range(rank))


def activation_backward_ref(dy, y, act, x=None):
    """reference.activation_backward and the sum of absolute terms behind each element (the
    float32 error scale: dy * (1 - y*y) cancels near |y| = 1, so it is |dy| (1 + y*y), not
    |dy (1 - y*y)|); where y*y alone exceeds HUGE the float32 product overflows: unspecified.
    The activations of GRAD_FROM_X take x (their derivatives stay below 1.5 in magnitude)."""
    ref = R.activation_backward(dy, y, act, x=x)
    ady = np.abs(np.asarray(dy, np.float64))
    if act in GRAD_FROM_X:
        return ref, ady * 2.0
    y64 = np.asarray(y, np.float64)
    with np.errstate(all="ignore"):
        terms = {"sigmoid": np.abs(y64) + y64 * y64, "tanh": 1.0 + y64 * y64,
                 "elu": 1.0 + np.abs(y64), "softplus": 1.0 + np.exp(-y64)}.get(act, np.ones_like(y64))
        bound = ady * terms
    bound = np.where(terms > HUGE, np.inf, bound)
    return ref, bound


@target("core.activation", covers=["core.activation", "core.activation_backward"], weight=1.5)
def t_activation(data):
    rng = draw_setup(data)
    backward = maybe(data, "backward", 4)
    shape = draw_any_shape(data)
    scale = pick(data, (1.0, 1.0, 10.0, 1e-3, 100.0), "scale")
    x = draw_values(data, rng, shape, label="x") * scale
    args = dict(x=array_arg(data, x, "x"))
    act = pick(data, ACTS, "activation")
    if backward:
        # dy, y (the output) and x (the input): the one the activation's gradient needs must be
        # given, the other may be None; whichever is given must have dy's shape
        y = draw_values(data, rng, shape, label="y")
        xin = draw_values(data, rng, shape, label="xin") * scale
        from_x = act in GRAD_FROM_X
        args = dict(dy=array_arg(data, x, "dy"),
                    y=None if from_x and maybe(data, "y_none", 2) else array_arg(data, y, "y"),
                    activation=act,
                    x=array_arg(data, xin, "xin") if from_x or maybe(data, "x_given", 1) else None)
    else:
        args["activation"] = act
    apply_mutation(data, rng, args, dict(x="array", dy="array", y="array", activation="str"),
                   optional=("y", "x") if backward else ())

    def model():
        if backward:
            dy, y, xx, act = convert(lambda: m_f32(args["dy"]), lambda: m_f32(args["y"], optional=True),
                                     lambda: m_f32(args["x"], optional=True),
                                     lambda: m_str(args["activation"]))
            require(act in ACTS, "activation")
            require((xx if act in GRAD_FROM_X else y) is not None, "x or y")
            for a in (y, xx):
                require(a is None or dy.shape == a.shape, "dy")
            return dict(dy=dy, y=y, x=xx, act=act)
        xa, act = convert(lambda: m_f32(args["x"]), lambda: m_str(args["activation"]))
        require(act in ACTS, "activation")
        return dict(x=xa, act=act)

    expect, m = verdict(model)

    def check(out, a, kw):
        tol = ACT_TOL[m["act"]]
        if backward:
            assert_array(out, m["dy"].shape)
            ref, bound = activation_backward_ref(m["dy"], m["y"], ACT_REF[m["act"]], m["x"])
            grad_close(out, ref, bound, tol, "dx")
        else:
            assert_array(out, m["x"].shape)
            ref = R.ACTIVATIONS[ACT_REF[m["act"]]](m["x"])
            tol_close(out, ref, tol)

    fn = _core.activation_backward if backward else _core.activation
    invoke(fn, list(args.values()), expect=expect, check=check)


@target("core.add", covers=["core.add"])
def t_add(data):
    rng = draw_setup(data)
    shape = draw_any_shape(data)
    scale = pick(data, (1.0, 1.0, 10.0, 1e-3, 100.0), "scale")
    a = draw_values(data, rng, shape, label="a") * scale
    b = draw_values(data, rng, shape, label="b") * scale
    args = dict(a=array_arg(data, a, "a"), b=array_arg(data, b, "b"),
                activation=pick(data, ACTS, "activation"))
    apply_mutation(data, rng, args, dict(a="array", b="array", activation="str"), optional=())

    def model():
        aa, bb, act = convert(lambda: m_f32(args["a"]), lambda: m_f32(args["b"]),
                              lambda: m_str(args["activation"]))
        require(act in ACTS, "activation")
        require(bb.shape == aa.shape, "b")
        return dict(a=aa, b=bb, act=act)

    expect, m = verdict(model)

    def check(out, a_, kw):
        assert_array(out, m["a"].shape)
        # the float32 sum (exact rounding), then the activation as _core.activation computes it
        s32 = (m["a"].astype(np.float32) + m["b"].astype(np.float32)).astype(np.float64)
        tol_close(out, R.ACTIVATIONS[ACT_REF[m["act"]]](s32), ACT_TOL[m["act"]])

    invoke(_core.add, list(args.values()), expect=expect, check=check)


@target("core.softmax", covers=["core.softmax"])
def t_softmax(data):
    rng = draw_setup(data)
    shape = (pick(data, (0, 1, 2, 5, 17), "rows"), pick(data, (0, 1, 2, 3, 10, 16, 17, 1000), "classes"))
    scale = pick(data, (1.0, 1.0, 30.0, 1e-3), "scale")
    args = dict(x=array_arg(data, draw_values(data, rng, shape, label="x") * scale, "x"))
    apply_mutation(data, rng, args, dict(x="array"), optional=())

    def model():
        (xa,) = convert(lambda: m_f32(args["x"]))
        require(xa.ndim == 2, "x")
        return xa

    expect, x = verdict(model)

    def check(out, a, kw):
        assert_array(out, x.shape)
        if x.size:
            tol_close(out, R.softmax(x), 1e-6)

    invoke(_core.softmax, [args["x"]], expect=expect, check=check)


# ============================================================================ training kernels


def sum_atol(atol, bound):
    """The unit tests' absolute tolerance for sums over rows of data within +-1e6; beyond (int
    dtypes' extremes, the 1e30 values) float32 partial sums are exact to 1e-6 of the sum of |terms|."""
    b = np.asarray(bound, np.float64)
    return atol if finite_max(b) < 1e6 else np.maximum(atol, 1e-6 * np.where(np.isfinite(b), b, 0.0))


def train_data(data, rng, shape, label):
    loc, sd = pick(data, [(3.0, 2.0), (0.0, 1.0)], f"{label}.dist")
    return loc + sd * draw_values(data, rng, shape, label=label)


@target("core.batch_norm", covers=["core.batch_norm_train", "core.batch_norm_backward"], weight=1.5)
def t_batch_norm(data):
    rng = draw_setup(data)
    backward = maybe(data, "backward", 4)
    rows, c = pick(data, (1, 2, 5, 64, 65, 129, 1025), "rows"), pick(data, (1, 3, 7, 8, 16, 17, 33), "c")
    x = train_data(data, rng, (rows, c), "x")
    eps_choices = [1e-3, 1e-3, 1e-5, 1.0, 1e-7]
    if maybe(data, "constant_column", 2):
        # A zero variance: 1/sqrt(epsilon) multiplies the rounding of the mean (float32 partial
        # sums of 64 rows, by design: up to ~16 ulps), which the unit tests' tolerances do not
        # cover at epsilon 1e-3; epsilon 1 keeps it within them.
        x[:, 0] = x[0, 0]
        eps_choices = [1.0]
    if not backward:
        x_arg = array_arg(data, x, "x")
        if x_arg.layout == "broadcast":   # equal rows: zero variances, as constant_column above
            x_arg = Arr(x_arg.values, "flip", x_arg.axis)
            eps_choices = [1.0]
        args = dict(x=x_arg, gamma=array_arg(data, rng.standard_normal(c), "gamma"),
                    beta=array_arg(data, rng.standard_normal(c), "beta"),
                    epsilon=pick(data, eps_choices, "epsilon"))
        kinds = dict(x="array", gamma="array", beta="array", epsilon="float")
    else:
        args = dict(dy=array_arg(data, draw_values(data, rng, (rows, c), label="dy"), "dy"),
                    xhat=array_arg(data, draw_values(data, rng, (rows, c), label="xhat"), "xhat"),
                    gamma=array_arg(data, rng.standard_normal(c), "gamma"),
                    inv_std=array_arg(data, rng.random(c) * 2 + 0.1, "inv_std"))
        kinds = dict(dy="array", xhat="array", gamma="array", inv_std="array")
    apply_mutation(data, rng, args, kinds, optional=())

    def model():
        if backward:
            dy, xh, g, inv = convert(*(lambda k=k: m_f32(args[k]) for k in ("dy", "xhat", "gamma", "inv_std")))
            require(xh.ndim == 2 and xh.size, "xhat")
            require(dy.shape == xh.shape, "dy")
            require(g.shape == (xh.shape[1],) and inv.shape == (xh.shape[1],), "gamma/inv_std")
            return dict(dy=dy, xhat=xh, gamma=g, inv_std=inv)
        xa, g, b, eps = convert(lambda: m_f32(args["x"]), lambda: m_f32(args["gamma"]),
                                lambda: m_f32(args["beta"]), lambda: m_float(args["epsilon"], finite=True))
        require(xa.ndim == 2 and xa.size, "x")
        require(g.shape == (xa.shape[1],) and b.shape == (xa.shape[1],), "gamma/beta")
        require(abs(eps) <= FLT_MAX and np.float32(eps) > 0, "epsilon")
        return dict(x=xa, gamma=g, beta=b, eps=eps)

    expect, m = verdict(model)

    def check(out, a, kw):
        assert isinstance(out, tuple)
        if backward:
            assert len(out) == 3
            d64, h64 = m["dy"].astype(np.float64), m["xhat"].astype(np.float64)
            n = d64.shape[0]
            rdbeta = d64.sum(axis=0)
            rdgamma = (d64 * h64).sum(axis=0)
            rdx = (d64 - rdbeta / n - h64 * rdgamma / n) * m["gamma"] * m["inv_std"].astype(np.float64)
            assert_array(out[0], d64.shape, what="dx")
            ad, ah = np.abs(d64), np.abs(h64)
            bdb, bdg = ad.sum(axis=0), (ad * ah).sum(axis=0)
            bdx = ad + bdb / n + ah * bdg / n
            assert_close(out[2], rdbeta, 1e-5, sum_atol(1e-4, bdb), "dbeta", bound=bdb)
            assert_close(out[1], rdgamma, 1e-5, sum_atol(1e-4, bdg), "dgamma", bound=bdg)
            assert_close(out[0], rdx, 1e-4, sum_atol(1e-4, bdx * np.abs(m["gamma"] * m["inv_std"])), "dx", bound=bdx)
            return
        assert len(out) == 5
        y, mean, var, inv_std, xhat = out
        x64 = m["x"].astype(np.float64)
        rmean = x64.mean(axis=0)
        rvar = ((x64 - rmean) ** 2).mean(axis=0)
        rvar = np.where(rvar > FLT_MAX, np.inf, rvar)   # a float32 variance overflows: all after it too
        rinv = np.where(np.isinf(rvar), np.nan, 1.0 / np.sqrt(rvar + m["eps"]))
        rxhat = (x64 - rmean) * rinv
        ry = rxhat * m["gamma"] + m["beta"]
        assert_array(y, x64.shape, what="y")
        cb = np.abs(x64).mean(axis=0)          # a 1e30 value in a column: its statistics are unspecified
        # float32 partial sums of rows holding int dtypes' extremes (+-2^31, which cancel): the
        # mean within 1e-6 of the mean absolute value, as the backward sums (long fuzz run:
        # 2.94 expected, 0.53 got, with 2^31 - 1 and -2^31 among 64 rows: 3.6e-8 of it)
        assert_close(mean, rmean, 1e-6, sum_atol(1e-6, cb), "mean", bound=cb)
        assert_close(var, rvar, 1e-5, 1e-6, "var", bound=cb)
        assert_close(inv_std, rinv, 1e-5, 0.0, "inv_std", bound=cb)
        assert_close(xhat, rxhat, 1e-4, 1e-4, "xhat", bound=cb[None, :])
        assert_close(y, ry, 1e-4, 1e-4, "y", bound=cb[None, :])

    fn = _core.batch_norm_backward if backward else _core.batch_norm_train
    invoke(fn, list(args.values()), expect=expect, check=check)


@target("core.channel_affine", covers=["core.channel_affine"])
def t_channel_affine(data):
    rng = draw_setup(data)
    rows, c = pick(data, (0, 1, 2, 37, 100), "rows"), pick(data, (0, 1, 5, 8, 16, 17), "c")
    vec = lambda lbl: array_arg(data, draw_values(data, rng, (c,), label=lbl), lbl)  # noqa: E731
    args = dict(x=array_arg(data, draw_values(data, rng, (rows, c), label="x"), "x"), shift=vec("shift"),
                scale=vec("scale"), mul=vec("mul") if maybe(data, "mul", 4) else None, add=vec("add"))
    apply_mutation(data, rng, args, dict(x="array", shift="array", scale="array", mul="array", add="array"),
                   optional=("mul",))

    def model():
        xa, sh, sc, mu, ad = convert(lambda: m_f32(args["x"]), lambda: m_f32(args["shift"]),
                                     lambda: m_f32(args["scale"]), lambda: m_f32(args["mul"], optional=True),
                                     lambda: m_f32(args["add"]))
        require(xa.ndim == 2, "x")
        for v in (sh, sc, ad) + ((mu,) if mu is not None else ()):
            require(v.shape == (xa.shape[1],), "vector")
        return xa, sh, sc, mu, ad

    expect, m = verdict(model)

    def check(out, a, kw):
        xa, sh, sc, mu, ad = m
        assert_array(out, xa.shape)
        with np.errstate(all="ignore"):
            ref = (xa - sh) * sc
            if mu is not None:
                ref = ref * mu
            ref = ref + ad
        assert np.array_equal(out, ref, equal_nan=True), "differs from ((x - shift) * scale) * mul + add"

    invoke(_core.channel_affine, list(args.values()), expect=expect, check=check)


@target("core.dropout", covers=["core.dropout"])
def t_dropout(data):
    rng = draw_setup(data)
    shape = draw_any_shape(data, 3) if maybe(data, "any_shape", 6) else (pick(data, (1000, 3001, 70001), "n"),)
    args = dict(x=array_arg(data, draw_values(data, rng, shape, label="x"), "x"),
                keep=pick(data, [0.1, 0.5, 0.8, 1.0, 0.999, 1e-3], "keep"),
                key=pick(data, [0, 1, 12345, 2**32 - 1, 2**63, 2**64 - 1], "key"))
    m_ = mutation(data, list(args))
    if m_ == "x":
        args["x"] = mutate_array(data, rng, values_of(args["x"]), "x")
    elif m_ == "keep":
        args["keep"] = pick(data, [0.0, -0.5, 1.0000001, 2.0, float("nan"), float("inf"), 1e-300, None,
                                   "0.5", np.float32(0.5)], "keep")
    elif m_ == "key":
        args["key"] = pick(data, [-1, 2**64, 1.5, None, "1", np.uint64(7), True], "key")

    def model():
        xa, keep, key = convert(lambda: m_f32(args["x"]), lambda: m_float(args["keep"]), lambda: m_u64(args["key"]))
        require(0.0 < keep <= 1.0, "keep")
        return xa, keep

    expect, m = verdict(model)

    def check(out, a, kw):
        xa, keep = m
        assert isinstance(out, tuple) and len(out) == 2
        y, mask = out
        assert_array(y, xa.shape, what="y")
        assert_array(mask, xa.shape, what="mask")
        scale = np.float32(1.0 / np.float32(keep))
        assert np.isin(mask, [np.float32(0), scale]).all(), f"mask values {np.unique(mask)[:5]}, expected 0 or {scale}"
        with np.errstate(invalid="ignore", over="ignore"):
            ref = xa * mask
        same = (y == ref) | (np.isnan(y) & np.isnan(ref)) | (~np.isfinite(xa) & (mask == 0))
        assert same.all(), "y != x * mask"
        if keep == 1.0:
            assert (mask == 1).all(), "keep=1 dropped something"
        if mask.size >= 1000 and 1e-2 <= keep < 1:
            kept = float(np.mean(mask != 0))
            assert abs(kept - keep) < 5 * math.sqrt(keep * (1 - keep) / mask.size) + 1e-9, f"kept {kept}"
        again = _core.dropout(a[0], a[1], a[2])[1]
        assert np.array_equal(again, mask), "the same key gave another mask"

    invoke(_core.dropout, list(args.values()), expect=expect, check=check)


@target("core.softmax_cross_entropy", covers=["core.softmax_cross_entropy"])
def t_xent(data):
    rng = draw_setup(data)
    rows, c = pick(data, (1, 2, 5, 64, 300), "rows"), pick(data, (1, 2, 3, 10, 17), "c")
    logits = maybe(data, "from_logits", 4)
    z = draw_values(data, rng, (rows, c), label="z") * 3
    if logits:
        p = z
    else:
        with np.errstate(all="ignore"):
            e = np.exp(z - np.nanmax(np.where(np.isfinite(z), z, np.nan), axis=-1, keepdims=True))
            p = e / e.sum(-1, keepdims=True)
        if maybe(data, "zeros", 2):
            p[rng.random(p.shape) < 0.3] = 0.0
    if maybe(data, "one_hot", 4):
        y = np.eye(c)[rng.integers(0, c, rows)]
    else:
        y = rng.dirichlet(np.ones(c), size=rows)
    args = dict(p=array_arg(data, p, "p"), y=array_arg(data, y, "y"), from_logits=logits,
                epsilon=pick(data, [1e-7, 1e-7, 0.0, 1e-3, 0.25, 0.4999], "epsilon"))
    m_ = mutation(data, list(args))
    if m_ in ("p", "y"):
        args[m_] = mutate_array(data, rng, values_of(args[m_]), m_)
    elif m_ == "from_logits":
        args[m_] = mutate_arg(data, rng, "bool", None, m_)
    elif m_ == "epsilon":
        args[m_] = pick(data, [0.5, -1e-9, 1.0, float("nan"), float("inf"), None, "1e-7", 1e-300], "epsilon")

    def model():
        pa, ya, fl, eps = convert(lambda: m_f32(args["p"]), lambda: m_f32(args["y"]),
                                  lambda: m_bool(args["from_logits"]), lambda: m_float(args["epsilon"], finite=True))
        require(pa.ndim == 2 and pa.size, "p")
        require(ya.shape == pa.shape, "y")
        require(0 <= eps < 0.5, "epsilon")
        return pa, ya, fl, eps

    expect, m = verdict(model)

    def check(out, a, kw):
        pa, ya, fl, eps = m
        values, grad, clipped = out
        n = pa.shape[0]
        assert_array(values, (n,), what="values")
        assert_array(grad, pa.shape, what="grad")
        assert_array(clipped, (n,), np.bool_, what="clipped")
        eps32 = float(np.float32(eps))
        p64, y64 = pa.astype(np.float64), ya.astype(np.float64)
        mass = y64.sum(-1, keepdims=True)
        with np.errstate(all="ignore"):
            if fl:
                s = p64 - p64.max(-1, keepdims=True)
                logq = s - np.log(np.exp(s).sum(-1, keepdims=True))
                rv, rg = -(y64 * logq).sum(-1), (np.exp(logq) * mass - y64) / n
                assert not clipped.any(), "from_logits rows flagged as clipped"
                ok_rows = np.ones(n, bool)
            else:
                q = p64 / p64.sum(-1, keepdims=True)
                rv = -(y64 * np.log(np.clip(q, eps32, 1 - eps32))).sum(-1)
                rg = (p64 * mass - y64) / n
                outside = ((q < eps32) | (q > 1 - eps32)) & (y64 != 0)
                near = (np.abs(q - eps32) < 1e-6) | (np.abs(q - (1 - eps32)) < 1e-6)
                # a row whose total cancels (values that are not probabilities: +-1e30) has a q
                # that depends on the summation order: nothing about it is compared
                cond = np.abs(p64).sum(-1) <= 1e6 * np.abs(p64.sum(-1))
                sure = ~(near & (y64 != 0)).any(-1) & np.isfinite(q).all(-1) & cond
                want = outside.any(-1)
                assert (clipped[sure] == want[sure]).all(), "clipped flags differ from q outside [eps, 1-eps]"
                ok_rows = ~want
                rv = np.where(cond, rv, np.nan)
        assert_close(values, rv, 1e-5, 1e-5, "values")
        assert_close(grad[ok_rows], rg[ok_rows], 1e-5, 1e-6, "grad")

    invoke(_core.softmax_cross_entropy, list(args.values()), expect=expect, check=check)


def inplace_arg(data, rng, shape, label, values=None):
    v = values if values is not None else draw_values(data, rng, shape, label=label)
    return Arr(f32(v))


def model_inplace(a, g, name):
    """The optimizer steps' in-place arrays: float32 ndarray, C-contiguous, writeable, g's shape."""
    if a is None:
        raise Bad("None")
    if isinstance(a, Arr) and a.huge_shape is not None:
        raise Bad("not writeable")
    arr = materialize(a) if not isinstance(a, np.ndarray) else a
    if not isinstance(arr, np.ndarray) or arr.dtype != np.float32:
        raise Bad("dtype")
    require(arr.flags.c_contiguous and arr.flags.writeable, "layout")
    require(arr.shape == g.shape, "shape")
    return arr


def mutate_inplace(data, rng, value, label):
    kind = pick(data, ["dtype", "fortran", "step", "readonly", "shape", "list", "none", "scalar"], f"{label}.how")
    v = np.asarray(value)
    if kind == "dtype":
        return Arr(cast_values(v, pick(data, ("float64", "float16", "int32", "complex64"), "dtype")))
    if kind == "fortran":
        return Arr(v, "f" if v.ndim >= 2 else "flip")
    if kind == "step":
        return Arr(v, "step")
    if kind == "readonly":
        return Arr(v, "readonly")
    if kind == "shape":
        return Arr(np.zeros(v.size + 1, np.float32))
    if kind == "list":
        return Arr(v, as_list=True)
    if kind == "none":
        return None
    return np.float32(1.0)


def overlaps(*arrays):
    """True when two of the in-place arrays (or one and g) share memory."""
    arrs = [a for a in arrays if isinstance(a, np.ndarray)]
    for i in range(len(arrs)):
        for j in range(i + 1, len(arrs)):
            if arrs[i].size and arrs[j].size and np.shares_memory(arrs[i], arrs[j]):
                return True
    return False


@target("core.optimizer_steps", covers=["core.sgd_step", "core.adam_step", "core.rmsprop_step"], weight=1.5)
def t_optimizer_steps(data):
    rng = draw_setup(data)
    which = pick(data, ["sgd", "adam", "rmsprop"], "which")
    shape = draw_any_shape(data, 3) if maybe(data, "any_shape", 3) else (pick(data, (1, 15, 16, 17, 1000, 70001), "n"),)
    g = draw_values(data, rng, shape, label="g")
    slots = {}
    if which == "sgd":
        names = ["w", "g", "m", "learning_rate", "momentum", "nesterov"]
        slots = dict(m=inplace_arg(data, rng, shape, "m") if maybe(data, "m", 5) else None)
        scalars = dict(learning_rate=pick(data, [0.01, 1e-4, 1.0], "lr"), momentum=pick(data, [0.0, 0.9, 0.5], "mu"),
                       nesterov=pick(data, [False, True], "nesterov"))
    elif which == "adam":
        names = ["w", "g", "m", "v", "alpha", "beta_1", "beta_2", "epsilon"]
        slots = dict(m=inplace_arg(data, rng, shape, "m"),
                     v=inplace_arg(data, rng, shape, "v", np.abs(rng.standard_normal(shape)) + 0.05))
        scalars = dict(alpha=pick(data, [0.003, 0.001, 1.0], "alpha"), beta_1=pick(data, [0.9, 0.0, 0.5], "b1"),
                       beta_2=pick(data, [0.999, 0.9], "b2"), epsilon=pick(data, [1e-7, 1e-3], "eps"))
    else:
        names = ["w", "g", "v", "m", "a", "learning_rate", "rho", "momentum", "epsilon"]
        slots = dict(v=inplace_arg(data, rng, shape, "v", np.abs(rng.standard_normal(shape)) + 0.05),
                     m=inplace_arg(data, rng, shape, "m") if maybe(data, "m", 4) else None,
                     a=inplace_arg(data, rng, shape, "a", rng.normal(0, 0.05, shape)) if maybe(data, "a", 4) else None)
        scalars = dict(learning_rate=pick(data, [0.01, 0.001], "lr"), rho=pick(data, [0.9, 0.5], "rho"),
                       momentum=pick(data, [0.0, 0.5], "mu"), epsilon=pick(data, [1e-7, 1e-3], "eps"))
    args = dict(w=inplace_arg(data, rng, shape, "w"), g=array_arg(data, g, "g"), **slots, **scalars)
    args = {k: args[k] for k in names}
    mut = mutation(data, names + ["alias"])
    if mut in ("w", "m", "v", "a"):
        args[mut] = mutate_inplace(data, rng, f32(values_of(args["g"] if args[mut] is None else args[mut])), mut)
    elif mut == "g":
        args["g"] = mutate_array(data, rng, values_of(args["g"]), "g")
    elif mut == "nesterov":
        args[mut] = mutate_arg(data, rng, "bool", None, mut)
    elif mut is not None and mut != "alias":
        args[mut] = pick(data, [float("nan"), float("inf"), -float("inf"), None, "0.1", 1e300, 1e39], mut)
    # materialize the in-place arrays now: they are updated, and may alias on purpose
    call = {k: (materialize(v) if k in ("w", "m", "v", "a") else v) for k, v in args.items()}
    if mut == "alias":
        pairs = [(x, y) for x in ("w", "m", "v", "a") for y in ("w", "m", "v", "a", "g")
                 if x != y and isinstance(call.get(x), np.ndarray) and y in call and call[y] is not None]
        if pairs and call["w"].size > 1:
            x_, y_ = pairs[draw(data, st.integers(0, len(pairs) - 1), "alias_pair")]
            how = pick(data, ["same", "shifted"], "alias_how")
            base = call[x_] if y_ == "g" else call[y_]
            if how == "same":
                call[x_ if y_ != "g" else "g"] = base if y_ != "g" else call[x_]
            else:
                buf = np.zeros(base.size + 1, np.float32)
                buf[:-1] = base.reshape(-1)
                call[x_] = buf[:-1].reshape(base.shape)
                call[y_] = buf[1:].reshape(base.shape)
    gval = None

    def model():
        nonlocal gval
        (ga,) = convert(lambda: m_f32(call["g"]))
        gval = ga
        for k in ("w", "m", "v", "a"):
            if k in call and (call[k] is not None or k in ("w", "v") or (which == "adam" and k == "m")):
                model_inplace(call[k], ga, k)
        for k, v in call.items():
            if k in scalars:
                if k == "nesterov":
                    m_bool(v)
                else:
                    m_float(v, finite=True, f32=True)
        require(not overlaps(*(call.get(k) for k in ("w", "m", "v", "a")),
                             call["g"] if isinstance(call["g"], np.ndarray) else None), "overlap")
        return True

    expect, _ = verdict(model)
    before = {k: np.array(v, copy=True) for k, v in call.items() if isinstance(v, np.ndarray)}

    def check(out, a, kw):
        assert out is None, f"returned {type(out).__name__}"
        one = np.float32(1)
        gg = gval.astype(np.float32)
        w0 = before["w"]
        with np.errstate(all="ignore"):
            if which == "sgd":
                lr, mu = np.float32(call["learning_rate"]), np.float32(call["momentum"])
                if call["m"] is None:
                    rw = w0 - gg * lr
                else:
                    rm = before["m"] * mu - gg * lr
                    rw = w0 + (rm * mu - gg * lr if call["nesterov"] else rm)
                    assert np.array_equal(a[2], rm, equal_nan=True), "m differs from m*momentum - g*lr"
            elif which == "adam":
                c1, c2 = np.float32(1.0 - call["beta_1"]), np.float32(1.0 - call["beta_2"])
                rm = before["m"] + (gg - before["m"]) * c1
                rv = before["v"] + (gg * gg - before["v"]) * c2
                rw = w0 - (rm * np.float32(call["alpha"])) / (np.sqrt(rv) + np.float32(call["epsilon"]))
                assert np.array_equal(a[2], rm, equal_nan=True), "m differs"
                assert np.array_equal(a[3], rv, equal_nan=True), "v differs"
            else:
                rho, lr = np.float32(call["rho"]), np.float32(call["learning_rate"])
                om = np.float32(1.0 - call["rho"])
                rv = before["v"] * rho + om * (gg * gg)
                if call["a"] is not None:
                    ra = before["a"] * rho + om * gg
                    denom = (rv - ra * ra) + np.float32(call["epsilon"])
                    assert np.array_equal(a[4], ra, equal_nan=True), "a differs"
                else:
                    denom = rv + np.float32(call["epsilon"])
                inc = (lr * gg) / np.sqrt(denom)
                if call["m"] is not None:
                    inc = before["m"] * np.float32(call["momentum"]) + inc
                    assert np.array_equal(a[3], inc, equal_nan=True), "m differs"
                assert np.array_equal(a[2], rv, equal_nan=True), "v differs"
                rw = w0 - inc
        assert np.array_equal(a[0], rw, equal_nan=True), "w differs from the update rule"
        del one

    fn = {"sgd": _core.sgd_step, "adam": _core.adam_step, "rmsprop": _core.rmsprop_step}[which]
    invoke(fn, list(call.values()), expect=expect, check=check, mutates=(0, 2, 3, 4))


# ============================================================================ image bindings

PIX_DTYPES = ("uint8", "uint8", "float32", "float32")


def draw_image_values(data, rng, shape, dtype, label="img"):
    if dtype == "uint8":
        return draw_values(data, rng, shape, "u8", special=False, label=label)
    return draw_values(data, rng, shape, "uniform", label=label)


def pixel_arg(data, values, dtype, label):
    """An image argument of a py::array binding (no conversion): mostly C-contiguous uint8 or
    float32; sometimes another layout or dtype, which the binding must refuse."""
    v = cast_values(values, dtype)
    how = pick(data, ("c",) * 8 + ("readonly", "f", "flip", "step", "broadcast", "dtype", "list"), f"{label}.form")
    if how == "c" or v.ndim == 0:
        return Arr(v)
    if how == "dtype":
        return Arr(cast_values(values, pick(data, ("float64", "float16", "int8", "uint16", "bool",
                                                    "complex64", "object"), f"{label}.dtype")))
    if how == "list":
        return Arr(v, as_list=True) if v.size <= 256 else Arr(v, "f")
    axis = draw(data, st.integers(0, v.ndim - 1), f"{label}.axis")
    if how == "broadcast" and v.shape[axis] == 0:
        how = "step"
    if how == "broadcast":
        v = np.ascontiguousarray(np.broadcast_to(np.take(v, [0], axis=axis), v.shape))
    return Arr(v, how, axis)


def image_shape4(data, max_side=20, channels=(1, 2, 3, 4, 5)):
    return (draw(data, st.integers(1, 3), "n"), draw(data, st.integers(1, max_side), "h"),
            draw(data, st.integers(1, max_side), "w"), pick(data, channels, "c"))


def model_image4(img):
    arr = m_pixels(img, "img")
    require(arr.ndim == 4 and arr.size, "img rank")
    return arr


def sat_u8(v):
    return np.clip(np.rint(np.asarray(v, np.float64)), 0, 255)


def img_tol(out, ref, tol, inputs=(), what="result"):
    """check_op's image rule: uint8 within tol[0] levels, float32 within
    tol[1] * max(1, |reference|, |inputs|)."""
    ref = np.asarray(ref, np.float64)
    if out.dtype == np.uint8:
        assert_close(out, ref, 0.0, float(tol[0]), what)
    else:
        mags = [finite_max(ref)] + [finite_max(a) for a in inputs if np.asarray(a).size]
        assert_close(out, ref, 0.0, tol[1] * max(1.0, *mags), what)


POINTWISE_OPS = ("add", "subtract", "blend", "scale", "threshold")


@target("core.image.pointwise", covers=["core.image.pointwise", "core.image.to_float"])
def t_pointwise(data):
    rng = draw_setup(data)
    if maybe(data, "to_float", 2):
        shape = draw_any_shape(data, 4)
        args = dict(img=pixel_arg(data, draw_image_values(data, rng, shape, "uint8"), pick(data, PIX_DTYPES, "dtype"), "img"),
                    scale=pick(data, [1 / 255, 1.0, 2.5, -1.0, 0.0, float("nan"), float("inf"), 1e39, None, "1"], "scale"))

        def model():
            img, sc = convert(lambda: m_pixels(args["img"], "img"), lambda: m_float(args["scale"]))
            require(img.dtype == np.uint8, "img dtype")
            require(math.isfinite(sc) and abs(sc) <= FLT_MAX, "scale")
            return img, sc

        expect, m = verdict(model)

        def check(out, a, kw):
            assert_array(out, m[0].shape)
            img_tol(out, m[0].astype(np.float64) * m[1], (0, 1e-6))

        invoke(_core.image.to_float, list(args.values()), expect=expect, check=check)
        return
    op = pick(data, POINTWISE_OPS, "op")
    dtype = pick(data, ("uint8", "float32"), "dtype")
    shape = draw_any_shape(data, 4)
    x = draw_image_values(data, rng, shape, dtype, "x")
    y = draw_image_values(data, rng, shape, dtype, "y")
    if op == "blend":
        params = (draw(data, st.floats(-1, 2), "alpha"), draw(data, st.floats(-1, 2), "beta"),
                  draw(data, st.floats(-50, 50) if dtype == "uint8" else st.floats(-1, 1), "gamma"))
    elif op == "scale":
        params = (draw(data, st.floats(0, 3), "factor"), 0.0, 0.0)
    elif op == "threshold":
        t = draw(data, st.integers(0, 255), "thresh") + pick(data, (0.0, 0.5, 0.25), "frac") if dtype == "uint8" \
            else round(draw(data, st.floats(0, 1), "thresh"), 3)
        params = (t, pick(data, (255.0, 1.0, 7.0, 300.0, 0.5) if dtype == "uint8" else (1.0, 255.0, 0.5), "maxval"), 0.0)
    else:
        params = (0.0, 0.0, 0.0)
    binary = op in ("add", "subtract", "blend")
    args = dict(op=op, x=pixel_arg(data, x, dtype, "x"), y=pixel_arg(data, y, dtype, "y") if binary else None,
                a=params[0], b=params[1], c=params[2])
    mut = mutation(data, ["op", "y", "a", "b", "c", "y_shape", "y_dtype"])
    if mut == "op":
        args["op"] = mutate_arg(data, rng, "str", op, "op")
    elif mut == "y":
        args["y"] = None if binary else args["y"]
    elif mut == "y_shape" and binary:
        args["y"] = Arr(cast_values(np.zeros(shape + (2,)), dtype))
    elif mut == "y_dtype" and binary:
        args["y"] = Arr(cast_values(y, "float32" if dtype == "uint8" else "uint8"))
    elif mut in ("a", "b", "c"):
        args[mut] = draw_float_mutation(data, mut)

    def model():
        opn, xa, ya, a, b, c = convert(lambda: m_str(args["op"]), lambda: args["x"], lambda: args["y"],
                                       lambda: m_float(args["a"]), lambda: m_float(args["b"]), lambda: m_float(args["c"]))
        require(opn in POINTWISE_OPS, "op")
        xa = m_pixels(xa, "a")
        bin_ = opn in ("add", "subtract", "blend")
        if bin_:
            require(ya is not None, "b is required")
            ya = m_pixels(ya, "b")
            require(ya.dtype == xa.dtype and ya.shape == xa.shape, "b")
        for v in (a, b, c):
            require(math.isfinite(v) and abs(v) <= FLT_MAX, "factor")
        return opn, xa, ya if bin_ else None, a, b, c

    expect, m = verdict(model)

    def check(out, a_, kw):
        opn, xa, ya, a, b, c = m
        assert_array(out, xa.shape, xa.dtype)
        x64 = xa.astype(np.float64)
        u8 = xa.dtype == np.uint8
        with np.errstate(all="ignore"):
            if opn == "add":
                ref, tol = x64 + ya, (0, 0)
            elif opn == "subtract":
                ref, tol = x64 - ya, (0, 0)
            elif opn == "blend":
                ref, tol = x64 * a + ya.astype(np.float64) * b + c, (1, 1e-4)
            elif opn == "scale":
                ref, tol = x64 * a, (1, 1e-6)
            else:
                thr = np.float32(a)
                ref, tol = np.where(xa > thr, float(np.float32(b)) if not u8 else sat_u8(b), 0.0), (0, 0)
            if u8:
                ref = sat_u8(ref)
            elif opn in ("add", "subtract"):
                ref = (xa + ya) if opn == "add" else (xa - ya)     # float32 arithmetic: exact
        img_tol(out, ref, tol, (xa,) + ((ya,) if ya is not None else ()))

    invoke(_core.image.pointwise, list(args.values()), expect=expect, check=check)


@target("core.image.rgb_to_gray", covers=["core.image.rgb_to_gray", "core.image.flip"])
def t_gray_flip(data):
    rng = draw_setup(data)
    dtype = pick(data, ("uint8", "float32"), "dtype")
    shape = image_shape4(data) if maybe(data, "rank", 7) else draw_any_shape(data, 5)
    img = pixel_arg(data, draw_image_values(data, rng, shape, dtype), dtype, "img")
    if maybe(data, "flip", 4):
        h, v = pick(data, [True, False, 1, 0, None, "x", 2.5], "horizontal"), pick(data, [True, False], "vertical")

        def model():
            arr, hh, vv = convert(lambda: model_image4(img), lambda: m_bool(h), lambda: m_bool(v))
            return arr, hh, vv

        expect, m = verdict(model)

        def check(out, a, kw):
            arr, hh, vv = m
            assert_array(out, arr.shape, arr.dtype)
            ref = arr[:, :, ::-1] if hh else arr
            ref = ref[:, ::-1] if vv else ref
            assert np.array_equal(out, ref, equal_nan=arr.dtype != np.uint8), "flip differs"

        invoke(_core.image.flip, [img, h, v], expect=expect, check=check)
        return

    def model():
        arr = model_image4(img)
        require(arr.shape[3] in (3, 4), "channels")
        return arr

    expect, arr = verdict(model)

    def check(out, a, kw):
        assert_array(out, arr.shape[:3], arr.dtype)
        if arr.dtype == np.uint8:
            p = arr.astype(np.int64)
            ref = (9798 * p[..., 0] + 19235 * p[..., 1] + 3735 * p[..., 2] + 16384) >> 15
            assert np.array_equal(out, ref), "uint8 gray differs from OpenCV's fixed-point formula"
        else:
            p = arr.astype(np.float64)
            img_tol(out, 0.299 * p[..., 0] + 0.587 * p[..., 1] + 0.114 * p[..., 2], (0, 1e-5), (arr,))

    invoke(_core.image.rgb_to_gray, [img], expect=expect, check=check)


PAD_MODE = {"constant": "constant", "replicate": "edge", "nearest": "edge", "reflect": "symmetric",
            "reflect101": "reflect", "wrap": "wrap"}


def cval_for(dtype, cval):
    """The border value as the image's type holds it (OpenCV saturates it for uint8)."""
    return float(sat_u8(cval)) if dtype == np.uint8 else float(np.float32(cval))


def ref_filter(x, k, ay, ax, border, cval):
    """float64 correlation of each image and channel with k anchored at (ay, ax), padding as
    OpenCV's borders (numpy.pad's modes repeat the reflection as OpenCV does)."""
    kh, kw = k.shape
    pads = ((0, 0), (ay, kh - 1 - ay), (ax, kw - 1 - ax), (0, 0))
    xv = x.astype(np.float64)
    if border == "constant":
        xp = np.pad(xv, pads, "constant", constant_values=cval_for(x.dtype, cval))
    else:
        xp = np.pad(xv, pads, PAD_MODE[border])
    win = np.lib.stride_tricks.sliding_window_view(xp, (kh, kw), axis=(1, 2))  # n, h, w, c, kh, kw
    with np.errstate(all="ignore"):
        out = np.einsum("nhwcij,ij->nhwc", win, np.asarray(k, np.float64))
    return sat_u8(out) if x.dtype == np.uint8 else out


def draw_kernel(data, rng, shape):
    k = rng.standard_normal(shape)
    k = k / max(1.0, np.abs(k).sum()) * 1.5
    k.flat[k.size // 2] += 0.5
    if maybe(data, "kernel_special", 1):
        k.flat[int(rng.integers(0, k.size))] = pick(data, [np.nan, np.inf, 0.0, 1e39], "kernel_value")
    return k


@target("core.image.filter2d", covers=["core.image.filter2d", "core.image.sep_filter2d"], weight=1.5)
def t_filter(data):
    rng = draw_setup(data)
    sep = maybe(data, "separable", 4)
    dtype = pick(data, ("uint8", "float32"), "dtype")
    shape = image_shape4(data) if maybe(data, "rank", 7) else draw_any_shape(data, 5)
    if pick(data, ["small"] * 6 + ["large"], "ksize") == "small":
        kh, kw = draw(data, st.integers(1, 7), "kh"), draw(data, st.integers(1, 7), "kw")
    else:
        kh, kw = pick(data, [(1, 300), (31, 31), (64, 64), (1, MAX_KERNEL), (MAX_KERNEL, 1),
                             (MAX_KERNEL + 1, 1), (2, MAX_KERNEL + 1), (40, 3)], "ksize_large")
    img = pixel_arg(data, draw_image_values(data, rng, shape, dtype), dtype, "img")
    border = pick(data, BORDERS, "border")
    cval = pick(data, (0.0, 7.5, 6.5, 300.0, -5.0, 0.25, 1e39) if dtype == "uint8" else (0.0, 0.5, -2.0, 1e39), "cval")
    ay = draw(data, st.integers(0, kh - 1), "ay") if maybe(data, "center", 6) else kh // 2
    ax = draw(data, st.integers(0, kw - 1), "ax") if maybe(data, "center", 6) else kw // 2
    if sep:
        args = dict(img=img, kx=array_arg(data, draw_kernel(data, rng, (kw,)), "kx"),
                    ky=array_arg(data, draw_kernel(data, rng, (kh,)), "ky"), anchor_y=ay, anchor_x=ax,
                    border=border, cval=cval)
    else:
        args = dict(img=img, kernel=array_arg(data, draw_kernel(data, rng, (kh, kw)), "kernel"),
                    anchor_y=ay, anchor_x=ax, border=border, cval=cval)
    kinds = dict(kx="array", ky="array", kernel="array", anchor_y="int", anchor_x="int", border="str", cval="float")
    m_ = mutation(data, [k for k in args if k != "img"])
    if m_ is not None:
        good = args[m_]
        args[m_] = mutate_arg(data, rng, kinds[m_], values_of(good) if kinds[m_] == "array" else good, m_)

    def model():
        names = ["kx", "ky"] if sep else ["kernel"]
        vals = convert(lambda: args["img"], *(lambda n=n: m_f32(args[n]) for n in names),
                       lambda: m_long(args["anchor_y"]), lambda: m_long(args["anchor_x"]),
                       lambda: m_str(args["border"]), lambda: m_float(args["cval"]))
        arr = m_pixels(vals[0], "img")
        ks = vals[1:1 + len(names)]
        a_y, a_x, b, cv = vals[1 + len(names):]
        for kk, nd in zip(ks, (1, 1) if sep else (2,)):
            require(kk.ndim == nd and kk.size, "kernel rank")
            require(max(kk.shape) <= MAX_KERNEL, "kernel too large")
            require(np.isfinite(kk).all(), "kernel finite")
        arr = model_image4(arr)
        k2 = np.outer(ks[1], ks[0]) if sep else ks[0]
        require(0 <= a_y < k2.shape[0] and 0 <= a_x < k2.shape[1], "anchor")
        require(math.isfinite(cv) and abs(cv) <= FLT_MAX, "cval")
        require(b in BORDERS, "border")
        if arr.size * k2.size > 3e7:
            raise Skip("slow")
        return arr, k2.astype(np.float32), a_y, a_x, b, cv

    expect, m = verdict(model)

    def check(out, a, kw):
        arr, k2, a_y, a_x, b, cv = m
        assert_array(out, arr.shape, arr.dtype)
        ref = ref_filter(arr, k2.astype(np.float64), a_y, a_x, b, cv)
        img_tol(out, ref, (1, 1e-4), (arr, k2))

    fn = _core.image.sep_filter2d if sep else _core.image.filter2d
    invoke(fn, list(args.values()), expect=expect, check=check)


def draw_matrix(data, rng, h, w):
    kind = pick(data, ["rotation"] * 4 + ["identity", "translate", "random", "singular", "huge", "tiny",
                                          "flip", "dyadic"], "matrix")
    if kind == "rotation":
        ang = draw(data, st.floats(-360, 360), "angle")
        sc = draw(data, st.floats(0.3, 3), "scale")
        cx, cy = (w - 1) / 2, (h - 1) / 2
        a, b = math.cos(math.radians(ang)) * sc, math.sin(math.radians(ang)) * sc
        return np.array([[a, b, (1 - a) * cx - b * cy], [-b, a, b * cx + (1 - a) * cy]])
    if kind == "identity":
        return np.array([[1.0, 0, 0], [0, 1, 0]])
    if kind == "translate":
        return np.array([[1.0, 0, draw(data, st.integers(-30, 30), "tx")], [0, 1, pick(data, (0, 0.5, -3.25, 1e4), "ty")]])
    if kind == "random":
        return rng.standard_normal((2, 3)) * np.array([[1, 1, 10]])
    if kind == "singular":
        return pick(data, [np.zeros((2, 3)), np.array([[1.0, 2, 0], [2, 4, 1]])], "singular")
    if kind == "huge":
        return np.array([[pick(data, (1e30, 1e300, 2.0**40), "huge"), 0, 0], [0, 1, pick(data, (0.0, 1e300), "huge_t")]])
    if kind == "tiny":
        return np.array([[1e-300, 0, 0], [0, 1e-20, 0]])
    if kind == "flip":
        return np.array([[-1.0, 0, w - 1], [0, 1, 0]])
    return np.array([[pick(data, (0.5, 2.0, 1.5, -0.25), "d00"), 0, pick(data, (0.0, 0.5, -1.0), "d02")],
                     [pick(data, (0.0, 0.125), "d10"), pick(data, (1.0, 0.5, 2.0), "d11"), 0.5]])


def m_invertible(mat):
    """The image bindings' rule: the inverse (as the kernels compute it; 0 for a singular
    matrix) must have finite entries within +-1e30, or float32 coordinates overflow."""
    M = np.asarray(mat, np.float64).reshape(-1)
    with np.errstate(all="ignore"):
        D = M[0] * M[4] - M[1] * M[3]
        D = 1.0 / D if D != 0 else 0.0
        a, b, c, d = M[4] * D, M[1] * -D, M[3] * -D, M[0] * D
        inv = np.array([a, b, -a * M[2] - b * M[5], c, d, -c * M[2] - d * M[5]])
    require(np.isfinite(inv).all() and np.abs(inv).max() <= 1e30, "matrix nearly singular")


def inverse_coords(matrix, out_hw):
    """Source (x, y) of each output pixel in float64, as OpenCV's invertAffineTransform gives."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    ys, xs = np.mgrid[0:out_hw[0], 0:out_hw[1]].astype(np.float64)
    return inv, inv[0, 0] * xs + inv[0, 1] * ys + inv[0, 2], inv[1, 0] * xs + inv[1, 1] * ys + inv[1, 2]


def ref_warp(arr, matrix, out_hw, interp, border, cval):
    """Per-image exact float64 warp (reference.image.exact_warp_affine) with the saturated cval."""
    cv = cval_for(arr.dtype, cval)
    return np.stack([image_ref.exact_warp_affine(one, matrix, out_hw, interp, border, cv) for one in arr])


def check_warp(out, arr, matrix, out_hw, interp, border, cval, what="result"):
    """A warp's result against the exact reference: within check.warp_tol, nearest
    sampling exact except at positions within rounding distance of a tie; where source
    coordinates leave float32's exact range, only that values lie between the inputs'."""
    assert_array(out, (arr.shape[0], out_hw[0], out_hw[1], arr.shape[3]), arr.dtype, what)
    inv, sx, sy = inverse_coords(matrix, out_hw)
    reach = max(float(np.abs(sx).max()), float(np.abs(sy).max()), float(np.abs(inv).max()))
    cv = cval_for(arr.dtype, cval)
    if not np.isfinite(reach) or reach > 2**20 or (arr.dtype == np.uint8 and reach > 2**12):
        if interp != "bicubic":
            vals = arr[np.isfinite(arr)] if arr.dtype != np.uint8 else arr.reshape(-1)
            lo = min(float(vals.min()) if vals.size else 0.0, cv if border == "constant" else np.inf)
            hi = max(float(vals.max()) if vals.size else 0.0, cv if border == "constant" else -np.inf)
            o = out[np.isfinite(out)] if out.dtype != np.uint8 else out
            if o.size and vals.size == arr.size:
                eps = 1e-4 * max(1.0, abs(lo), abs(hi))
                assert o.min() >= lo - eps and o.max() <= hi + eps, \
                    f"{what}: values [{o.min()}, {o.max()}] outside the inputs' range [{lo}, {hi}]"
        return
    ref = ref_warp(arr, matrix, out_hw, interp, border, cval)
    bad = ~np.isfinite(arr).all(axis=-1) if arr.dtype != np.uint8 else np.zeros(arr.shape[:3], bool)
    if bad.any():
        # A NaN or inf pixel: whether a tap of weight 0 (or a float32 coordinate a rounding step
        # away) reads it decides NaN or not, so outputs sampling within 3 pixels of it are
        # unspecified; with reflect/wrap borders it recurs everywhere: only the shape is checked.
        if border not in ("constant", "replicate", "nearest"):
            return
        h, w = arr.shape[1:3]
        cx, cy = (sx, sy) if border == "constant" else (np.clip(sx, 0, w - 1), np.clip(sy, 0, h - 1))
        ref = ref.astype(np.float64)
        for n in range(arr.shape[0]):
            taint = np.zeros(out_hw, bool)
            for py, px in np.argwhere(bad[n]):
                taint |= (np.abs(cx - px) < 3) & (np.abs(cy - py) < 3)
            ref[n][taint] = np.nan
    u8_tol, f_tol = warp_tol(matrix, out_hw)
    if interp == "nearest":
        dyadic = np.all(inv * 1024 == np.round(inv * 1024))
        if not dyadic:
            margin = 1e-4 + 3e-7 * reach
            near = (np.abs(sx - np.floor(sx) - 0.5) < margin) | (np.abs(sy - np.floor(sy) - 0.5) < margin)
            ref = np.where(near[None, :, :, None], np.nan, ref.astype(np.float64))
        u8_tol, f_tol = 0, 0.0
    # a constant border's value takes part in the sums like a pixel: its size counts as theirs
    # (long fuzz run: bicubic zoom of a 1 x 4 image of values ~0.1 with cval 255, 1.2e-4 off)
    values = (arr, np.array([cv], np.float64)) if border == "constant" else (arr,)
    img_tol(out, ref, (u8_tol, f_tol), values, what)


@target("core.image.warp_affine", covers=["core.image.warp_affine"], weight=1.5)
def t_warp(data):
    rng = draw_setup(data)
    dtype = pick(data, ("uint8", "float32"), "dtype")
    shape = image_shape4(data, 16) if maybe(data, "rank", 7) else draw_any_shape(data, 5)
    img = pixel_arg(data, draw_image_values(data, rng, shape, dtype), dtype, "img")
    h, w = (shape[1], shape[2]) if len(shape) == 4 else (4, 4)
    oh, ow = draw(data, st.integers(1, 20), "oh"), draw(data, st.integers(1, 20), "ow")
    args = dict(img=img, matrix=array_arg(data, draw_matrix(data, rng, h, w), "matrix", "float64"),
                out_h=oh, out_w=ow, interpolation=pick(data, ("nearest", "bilinear", "bicubic"), "interpolation"),
                border=pick(data, BORDERS, "border"),
                cval=pick(data, (0.0, 7.5, 255.0, 300.0, -3.0) if dtype == "uint8" else (0.0, 0.5, -2.0), "cval"))
    kinds = dict(matrix="array", out_h="int", out_w="int", interpolation="str", border="str", cval="float")
    m_ = mutation(data, list(kinds) + ["big_out"])
    if m_ == "big_out":
        args["out_h"], args["out_w"] = pick(data, [(MAX_SIDE, MAX_SIDE), (MAX_SIDE, 2**19), (MAX_SIDE + 1, 1),
                                                   (2**62, 2), (1, 2**31)], "big_out")
    elif m_ is not None:
        good = args[m_]
        args[m_] = mutate_arg(data, rng, kinds[m_], values_of(good) if kinds[m_] == "array" else good, m_)
        if m_ == "interpolation" and maybe(data, "area", 2):
            args[m_] = "area"

    def model():
        arr, mat, o_h, o_w, it, b, cv = convert(lambda: args["img"], lambda: m_f32(args["matrix"]),
                                                lambda: m_long(args["out_h"]), lambda: m_long(args["out_w"]),
                                                lambda: m_str(args["interpolation"]), lambda: m_str(args["border"]),
                                                lambda: m_float(args["cval"]))
        mat = np.asarray(materialize(args["matrix"]), np.float64)
        arr = model_image4(m_pixels(arr, "img"))
        require(mat.shape == (2, 3), "matrix shape")
        require(it in ("nearest", "bilinear", "bicubic"), "interpolation")
        require(b in BORDERS, "border")
        require(np.isfinite(mat).all(), "matrix finite")
        require(math.isfinite(cv) and abs(cv) <= FLT_MAX, "cval")
        m_invertible(mat)
        require(1 <= o_h <= MAX_SIDE and 1 <= o_w <= MAX_SIDE, "output_shape")
        check_size((arr.shape[0], o_h, o_w, arr.shape[3]), arr.itemsize)
        return arr, mat, (o_h, o_w), it, b, cv

    expect, m = verdict(model)

    def check(out, a, kw):
        check_warp(out, *m)

    invoke(_core.image.warp_affine, list(args.values()), expect=expect, check=check)


@target("core.image.augment_batch", covers=["core.image.augment_batch"])
def t_augment(data):
    rng = draw_setup(data)
    shape = image_shape4(data, 16, (1, 2, 3, 4, 5))
    x = draw_values(data, rng, shape, "uniform", label="x")
    n, h, w = shape[:3]
    mats = np.stack([draw_matrix(data, rng, h, w) for _ in range(n)])
    args = dict(x=array_arg(data, x, "x"), matrices=array_arg(data, mats, "matrices", "float64"),
                interpolation=pick(data, ("nearest", "bilinear"), "interpolation"), border=pick(data, BORDERS, "border"),
                cval=pick(data, (0.0, 0.5, -1.0), "cval"),
                shift=array_arg(data, rng.uniform(-0.3, 0.3, n), "shift") if maybe(data, "shift", 4) else None,
                scale=array_arg(data, rng.uniform(0.5, 1.5, n), "scale") if maybe(data, "scale", 4) else None)
    kinds = dict(x="array", matrices="array", interpolation="str", border="str", cval="float", shift="array", scale="array")
    m_ = mutation(data, list(kinds))
    if m_ is not None:
        good = args[m_]
        val = values_of(good) if kinds[m_] == "array" and good is not None else (rng.random(n) if good is None else good)
        args[m_] = mutate_arg(data, rng, kinds[m_], val, m_, optional=m_ in ("shift", "scale"))
        if m_ == "interpolation" and maybe(data, "bicubic", 3):
            args[m_] = pick(data, ["bicubic", "area"], "interp_bad")

    def model():
        xa, mat, it, b, cv, sh, sc = convert(
            lambda: m_f32(args["x"]), lambda: m_f32(args["matrices"]), lambda: m_str(args["interpolation"]),
            lambda: m_str(args["border"]), lambda: m_float(args["cval"]), lambda: m_f32(args["shift"], optional=True),
            lambda: m_f32(args["scale"], optional=True))
        mat = np.asarray(materialize(args["matrices"]), np.float64)
        require(xa.ndim == 4 and xa.size, "x")
        require(xa.shape[3] <= 4, "channels")
        require(mat.shape == (xa.shape[0], 2, 3), "matrices")
        require(np.isfinite(mat).all(), "matrices finite")
        for one in mat:
            m_invertible(one)
        require(math.isfinite(cv) and abs(cv) <= FLT_MAX, "cval")
        require(it in ("nearest", "bilinear"), "interpolation")
        require(b in BORDERS, "border")
        for v in (sh, sc):
            if v is not None:
                require(v.shape == (xa.shape[0],) and np.isfinite(v).all(), "shift/scale")
        return xa, mat, it, b, cv, sh, sc

    expect, m = verdict(model)

    def check(out, a, kw):
        xa, mat, it, b, cv, sh, sc = m
        assert_array(out, xa.shape)
        for i in range(xa.shape[0]):
            one = check_one = out[i:i + 1]
            if sh is None and sc is None:
                check_warp(one, xa[i:i + 1], mat[i], xa.shape[1:3], it, b, cv, f"image {i}")
                continue
            inv, sx, sy = inverse_coords(mat[i], xa.shape[1:3])
            if max(float(np.abs(sx).max()), float(np.abs(sy).max())) > 2**20 or not np.isfinite(xa[i]).all():
                continue   # far samples, or a NaN/inf pixel: covered by the warp checks without shift/scale
            warped = ref_warp(xa[i:i + 1], mat[i], xa.shape[1:3], it, b, cv).astype(np.float64)
            if it == "nearest" and not np.all(inv * 1024 == np.round(inv * 1024)):
                continue   # a nearest tie moves the min/max the shift clips to: covered without shift
            if sh is not None:
                warped = np.clip(warped + float(sh[i]), np.nanmin(warped), np.nanmax(warped)) \
                    if np.isfinite(warped).all() else np.full_like(warped, np.nan)
            if sc is not None:
                warped = warped * float(sc[i])
            u8_tol, f_tol = warp_tol(mat[i], xa.shape[1:3])
            img_tol(check_one, warped, (u8_tol, f_tol), (xa[i],), f"image {i}")

    invoke(_core.image.augment_batch, list(args.values()), expect=expect, check=check)


RESIZE_TAINT = False


def resize_taint(expected, a, size):
    """Outputs whose source footprint comes within 2 pixels (or a downscale step) of a NaN/inf
    pixel would be unspecified if a tap of weight 0 could read it; since resize's taps of weight
    0 read the output's own pixel (found by this fuzzing), none is: RESIZE_TAINT is off."""
    if not RESIZE_TAINT or a.dtype == np.uint8 or np.isfinite(a).all():
        return expected
    four = a.ndim == 4 or (a.ndim == 3 and a.shape[-1] <= 4)
    x4 = a if a.ndim == 4 else (a[None] if a.ndim == 3 and four else a[None, :, :, None])
    ref = np.array(expected, np.float64).reshape(x4.shape[0], size[0], size[1], x4.shape[3])
    h, w = x4.shape[1:3]
    sy = (np.arange(size[0]) + 0.5) * h / size[0] - 0.5
    sx = (np.arange(size[1]) + 0.5) * w / size[1] - 0.5
    ry, rx = 2 + h / size[0], 2 + w / size[1]
    for n in range(x4.shape[0]):
        for py, px in np.argwhere(~np.isfinite(x4[n]).all(axis=-1)):
            ref[n][np.ix_(np.abs(sy - py) < ry, np.abs(sx - px) < rx)] = np.nan
    return ref.reshape(np.shape(expected))


def area_upscale_ties(expected, a, size, interp):
    """INTER_AREA unless both axes shrink resamples with sx = floor(dx * scale), and OpenCV takes
    scale as 1 / (dst/src) in double: where dx * src/dst is an integer in exact arithmetic, that
    product may fall just below it (9 * 22/18 -> 10.999...), an accident of rounding foveal does
    not copy (as for nearest ties): those output rows and columns are not compared."""
    if interp != "area":
        return expected
    hw_axes = (-3, -2) if a.ndim == 4 or (a.ndim == 3 and a.shape[-1] <= 4) else (0, 1)
    ref = expected.astype(np.float64)
    both_shrink = a.shape[hw_axes[0]] >= size[0] and a.shape[hw_axes[1]] >= size[1]
    for ax, src, dst in ((hw_axes[0], a.shape[hw_axes[0]], size[0]), (hw_axes[1], a.shape[hw_axes[1]], size[1])):
        if not both_shrink:
            d = np.arange(dst)
            tie = (d > 0) & ((d * src) % dst == 0)
            shape = [1] * ref.ndim
            shape[ax] = dst
            ref = np.where(tie.reshape(shape), np.nan, ref)
    return ref


@target("core.image.resize", covers=["core.image.resize"], weight=1.5)
def t_resize(data):
    rng = draw_setup(data)
    dtype = pick(data, ("uint8", "float32"), "dtype")
    shape = image_shape4(data, 24, (1, 2, 3, 4)) if maybe(data, "rank", 7) else draw_any_shape(data, 5)
    img = pixel_arg(data, draw_image_values(data, rng, shape, dtype), dtype, "img")
    oh, ow = draw(data, st.integers(1, 40), "oh"), draw(data, st.integers(1, 40), "ow")
    if maybe(data, "edge_size", 1):
        oh, ow = pick(data, [(1, 1), (MAX_SIDE, 1), (1, 4096)], "edge")
    args = dict(img=img, out_h=oh, out_w=ow, interpolation=pick(data, ("nearest", "bilinear", "bicubic", "area"), "interpolation"))
    m_ = mutation(data, ["out_h", "out_w", "interpolation", "big_out"])
    if m_ == "big_out":
        args["out_h"], args["out_w"] = pick(data, [(MAX_SIDE, MAX_SIDE), (MAX_SIDE + 1, 1), (2**62, 1), (0, 5)], "big_out")
    elif m_ is not None:
        args[m_] = mutate_arg(data, rng, "int" if m_ != "interpolation" else "str", args[m_], m_)

    def model():
        arr, o_h, o_w, it = convert(lambda: args["img"], lambda: m_long(args["out_h"]), lambda: m_long(args["out_w"]),
                                    lambda: m_str(args["interpolation"]))
        arr = model_image4(m_pixels(arr, "img"))
        require(1 <= o_h <= MAX_SIDE and 1 <= o_w <= MAX_SIDE, "size")
        require(it in ("nearest", "bilinear", "bicubic", "area"), "interpolation")
        check_size((arr.shape[0], o_h, o_w, arr.shape[3]), arr.itemsize)
        if o_h * o_w * arr.shape[0] > 2**21:
            raise Skip("slow reference")
        return arr, o_h, o_w, it

    expect, m = verdict(model)

    def check(out, a, kw):
        arr, o_h, o_w, it = m
        assert_array(out, (arr.shape[0], o_h, o_w, arr.shape[3]), arr.dtype)
        # OpenCV resizes at most 4 channels in some modes: channel by channel (the same maths)
        ref = np.concatenate([image_ref.resize(np.ascontiguousarray(arr[..., c:c + 1]), (o_h, o_w), it)
                              .reshape(out.shape[:3] + (1,)) for c in range(arr.shape[3])], axis=-1)
        ref = area_upscale_ties(ref, arr, (o_h, o_w), it)
        ref = resize_taint(ref, arr, (o_h, o_w))
        tol = (0, 0.0) if it == "nearest" else (1, 1e-4)
        img_tol(out, ref, tol, (arr,))

    invoke(_core.image.resize, list(args.values()), expect=expect, check=check)



# ============================================================================ public: nn.functional
# The wrappers' contract (API.md): any array-like of real numbers, converted to float32; ints or
# (h, w) pairs for sizes; Keras padding forms; option names case-insensitive; bad input is a
# ValueError/TypeError naming the argument. Each example is a valid call, maybe with one
# mutation whose verdict is known; the result is compared with tests/reference/nn.py.

PUBLIC_DTYPES = ("float32",) * 5 + ("float64", "float16", "int16", "int64", "uint8", "bool")


def public_array(data, values, label):
    """A valid array-like for a float32 argument: another real dtype or layout, or a list."""
    if maybe(data, f"{label}.aslist", 1) and 0 < np.size(values) <= 256:
        return Arr(f32(values), as_list=True)
    return array_arg(data, values, label, pick(data, PUBLIC_DTYPES, f"{label}.dtype"))


def as_f32_ref(arg):
    """What the wrapper computes on: the argument converted to float32."""
    if arg is None:
        return None
    with np.errstate(all="ignore"):
        return np.asarray(materialize(arg), dtype=np.float32)


def public_int_or_pair(data, v, label, allow_pair=True):
    """Spell a valid (h, w) pair as an int, a tuple, a list or NumPy ints."""
    if v[0] == v[1] and maybe(data, f"{label}.int", 4):
        return pick(data, [v[0], np.int64(v[0]), float(v[0])], f"{label}.int_form")
    return pick(data, [tuple(v), list(v), (np.int32(v[0]), np.int64(v[1]))], f"{label}.pair_form")


# (mutation, the value it sets, verdict); "error" mutations must raise, "ok" ones are respellings.
BAD_PAIRS = [0, -1, (1, 0), (2, -1), 1.5, float("nan"), "2", None, (1, 2, 3), True, (True, 1),
             2**63, 2**40, (2**62 + 1, 1), object()]
BAD_PADDINGS = ["full", "SAME ", -1, (1, -1), ((0, 1), (1, -2)), (1, 2, 3), ((1, 2), (1,)), 1.5,
                float("nan"), None, True, 2**40, ((0, 2**62 + 5), (0, 0))]
BAD_ACTIVATIONS = ["bogus", "RELU ", 3, b"relu", "gelu?"]


def public_conv_padding(data, pads_explicit):
    """A public padding argument for a drawn ((t, b), (l, r))."""
    (t, b), (l, r) = pads_explicit
    form = pick(data, ["valid", "same", "explicit", "explicit", "int", "pair"], "padding_form")
    if form in ("valid", "same"):
        return pick(data, [form, form.upper(), form.capitalize()], "padding_case")
    if form == "int":
        return t
    if form == "pair":
        return (t, l)
    return ((t, b), (l, r))


@target("public.nn.conv2d", covers=["F.conv2d", "F.depthwise_conv2d", "F.conv2d_backward",
                                    "F.depthwise_conv2d_backward", "F.conv2d_moments",
                                    "F.depthwise_conv2d_moments", "F.conv2d_pool"], weight=2)
def t_public_conv(data):
    rng = draw_setup(data)
    depthwise = maybe(data, "depthwise", 3)
    backward = maybe(data, "backward", 3)
    moments = not backward and maybe(data, "moments", 2)
    pooled = not (depthwise or backward or moments) and maybe(data, "pooled", 3)
    cfg = draw_conv_config(data, rng)
    if cfg["strides"][0] > 3 or cfg["dilation_rate"][0] > 3 or max(sum(cfg["padding"], ())) > 3:
        raise Skip("huge geometry: covered by core.conv2d")
    x = cfg["x"]
    if depthwise:
        mult = pick(data, (1, 2, 3), "multiplier")
        kernel = draw_values(data, rng, cfg["kernel"].shape[:2] + (x.shape[3], mult), label="dw_kernel")
        cout = x.shape[3] * mult
    else:
        kernel, cout = cfg["kernel"], cfg["kernel"].shape[3]
    padding = public_conv_padding(data, cfg["padding"])
    kw = dict(strides=public_int_or_pair(data, cfg["strides"], "strides"), padding=padding,
              dilation_rate=public_int_or_pair(data, cfg["dilation_rate"], "dilation_rate"))
    if not depthwise:
        kw["groups"] = pick(data, [cfg["groups"], np.int64(cfg["groups"]), float(cfg["groups"])], "groups_form")
    if not backward:
        if not moments:
            kw["activation"] = pick(data, [None, "relu", "Sigmoid", "TANH", "linear"], "activation")
        if cfg["bias"] is not None or maybe(data, "bias", 2):
            kw["bias"] = public_array(data, draw_values(data, rng, (cout,), label="bias"), "bias")
    args = [public_array(data, x, "x"), public_array(data, kernel, "kernel")]
    # the forward output's shape (0 in it: the kernel does not fit)
    out_hw = R.conv_output_shape(x.shape, kernel.shape[:2], cfg["strides"], padding.lower()
                                 if isinstance(padding, str) else padding, cfg["dilation_rate"])
    if backward:
        dy_shape = (x.shape[0], max(out_hw[0], 1), max(out_hw[1], 1), cout)
        args = [public_array(data, draw_values(data, rng, dy_shape, label="dy"), "dy")] + args
        draw_need_flags(data, kw)
        draw_dbias_flag(data, kw)
    expect = "ok" if 0 not in out_hw else "error"
    if pooled:
        kw["pool_size"] = pick(data, [2, (2, 2), (1, 3), 3], "pool_size")
        kw["pool"] = pick(data, ["max", "average"], "pool")
        if any(o < p for o, p in zip(out_hw, R.pair(kw["pool_size"]))):
            expect = "error"
    mut = pick(data, [None] * 6 + ["x", "kernel", "strides", "dilation_rate", "padding", "groups",
                                   "activation", "bias", "dy"], "mutate")
    xi = 1 if backward else 0
    if mut in ("x", "kernel", "dy") and (mut != "dy" or backward):
        i = {"dy": 0, "x": xi, "kernel": xi + 1}[mut]
        how = pick(data, ["bad_dtype", "none", "rank+", "rank-", "empty", "ragged", "scalar"], "how")
        v = values_of(args[i])
        args[i] = {"bad_dtype": lambda: Arr(cast_values(v, pick(data, ("complex64", "object", "str"), "bad"))),
                   "none": lambda: None, "rank+": lambda: Arr(f32(v)[None]),
                   "rank-": lambda: Arr(f32(v)[0]), "ragged": lambda: [[1.0, 2.0], [3.0]],
                   "empty": lambda: Arr(np.take(f32(v), np.arange(0), axis=draw(data, st.integers(0, 3), "axis"))),
                   "scalar": lambda: np.float32(1.0)}[how]()
        expect = "error"
    elif mut in ("strides", "dilation_rate"):
        kw[mut] = pick(data, BAD_PAIRS, mut)
        expect = "error"
    elif mut == "padding":
        kw["padding"] = pick(data, BAD_PADDINGS, "padding")
        expect = "error"
    elif mut == "groups" and "groups" in kw:
        kw["groups"] = pick(data, [0, -2, 1.5, None, "1", True, float("nan"), 2**63, cfg["groups"] + 1000], "groups")
        expect = "error"
    elif mut == "activation" and "activation" in kw:
        kw["activation"] = pick(data, BAD_ACTIVATIONS, "activation")
        expect = "error"
    elif mut == "bias" and not backward:
        kw["bias"] = pick(data, [Arr(np.ones(cout + 1, np.float32)), Arr(np.ones((1, cout), np.float32)),
                                 Arr(np.ones(cout, np.complex64)), "x", [[1.0], [2.0, 3.0]]], "bias")
        expect = "error"

    def check(out, a, k):
        xx, kk = as_f32_ref(args[xi]), as_f32_ref(args[xi + 1])
        opts = dict(strides=cfg["strides"], padding=padding.lower() if isinstance(padding, str) else padding,
                    dilation_rate=cfg["dilation_rate"])
        if backward:
            dy = as_f32_ref(args[0])
            fn = R.depthwise_conv2d_backward if depthwise else R.conv2d_backward
            extra = {} if depthwise else {"groups": cfg["groups"]}
            ref = list(fn(dy, xx, kk, need_dx=kw["need_dx"], **opts, **extra))
            bound = fn(np.abs(dy), np.abs(xx), np.abs(kk), need_dx=True, **opts, **extra)
            if not kw.get("need_dkernel", True):
                ref[1] = ref[2] = None
            if not kw.get("need_dbias", True):
                ref[2] = None
            ref[0] = dx_with_bad_weights(ref[0], kk)
            if ref[0] is not None and winograd_huge(dy, kk):
                ref[0] = np.full(ref[0].shape, np.nan)
            assert isinstance(out, tuple) and len(out) == 3, f"returned {type(out).__name__}"
            for name, o, r, b in zip(("dx", "dkernel", "dbias"), out, ref, bound):
                grad_close(o, r, b, 1e-4, name)
            return
        act = kw.get("activation")
        act = act.lower() if isinstance(act, str) else act
        bias = as_f32_ref(kw.get("bias"))
        absb = None if bias is None else np.abs(bias)
        if depthwise:
            pre = R.depthwise_conv2d(xx, kk, bias, **opts)
            bound = R.depthwise_conv2d(np.abs(xx), np.abs(kk), absb, **opts)
        else:
            pre = R.conv2d(xx, kk, bias, groups=cfg["groups"], **opts)
            bound = R.conv2d(np.abs(xx), np.abs(kk), absb, groups=cfg["groups"], **opts)
        ref = R.ACTIVATIONS[act](pre)
        if pooled:   # the activated convolution pooled (max: the largest bound of the window)
            ps = R.pair(kw["pool_size"])
            ref = (R.max_pool2d if kw["pool"] == "max" else R.avg_pool2d)(ref, ps)
            bound = R.max_pool2d(bound, ps)
        if moments:   # (y, mean, m2): y the convolution, its moments those of y in float64
            assert isinstance(out, tuple) and len(out) == 3, f"returned {type(out).__name__}"
            out, mean, m2 = out
            y64 = np.asarray(out, np.float64).reshape(-1, out.shape[-1]) if out.size else None
            if y64 is not None and np.isfinite(y64).all() and np.abs(y64).max() < 1e15:
                scale = max(1.0, finite_max(np.abs(y64)))
                assert_close(mean, y64.mean(0), 1e-5, 1e-5 * scale, "mean")
                assert_close(m2, ((y64 - y64.mean(0)) ** 2).sum(0), 1e-4, 1e-4 * scale * scale * len(y64), "m2")
        assert_array(out, ref.shape)
        if winograd_huge(xx, kk):
            return
        tol_close(out, ref, 1e-4, pre, bound)

    if backward:
        fn = F.depthwise_conv2d_backward if depthwise else F.conv2d_backward
    elif moments:
        fn = F.depthwise_conv2d_moments if depthwise else F.conv2d_moments
    elif pooled:
        fn = F.conv2d_pool
    else:
        fn = F.depthwise_conv2d if depthwise else F.conv2d
    invoke(fn, args, kw, expect=expect, check=check)


@target("public.nn.pool", covers=["F.max_pool2d", "F.avg_pool2d", "F.max_pool2d_backward",
                                  "F.avg_pool2d_backward", "F.global_max_pool2d", "F.global_avg_pool2d",
                                  "F.global_max_pool2d_backward", "F.global_avg_pool2d_backward"], weight=1.5)
def t_public_pool(data):
    rng = draw_setup(data)
    op = pick(data, ["max", "avg"], "op")
    glob = maybe(data, "global", 2)
    backward = maybe(data, "backward", 3)
    shape = (draw(data, st.integers(1, 3), "n"), draw(data, st.integers(1, 12), "h"),
             draw(data, st.integers(1, 12), "w"), pick(data, CHANNELS, "c"))
    x = draw_values(data, rng, shape, label="x")
    kw = {}
    if glob:
        out_shape = (shape[0], shape[3])
        expect = "ok"
    else:
        pool = (draw(data, st.integers(1, 4), "ph"), draw(data, st.integers(1, 4), "pw"))
        strides = None if maybe(data, "strides_none", 3) else (draw(data, st.integers(1, 3), "sh"), draw(data, st.integers(1, 3), "sw"))
        padding = pick(data, ["valid", "same", "VALID", "Same", "explicit"], "padding")
        explicit_ok = True
        if padding == "explicit":   # an int, (ph, pw) or ((t, b), (l, r)); each side < the window
            pads = tuple((draw(data, st.integers(0, 3), f"pad{a}0"), draw(data, st.integers(0, 3), f"pad{a}1"))
                         for a in range(2))
            form = pick(data, ["pairs", "pair", "int"], "pad_form")
            padding = {"pairs": pads, "pair": (pads[0][0], pads[1][0]), "int": pads[0][0]}[form]
            pads = R.resolve_padding(padding, (1, 1), pool)
            explicit_ok = all(p < k for side, k in zip(pads, pool) for p in side)
        ref_padding = padding.lower() if isinstance(padding, str) else padding
        kw = dict(pool_size=public_int_or_pair(data, pool, "pool_size"), padding=padding)
        if strides is not None or maybe(data, "explicit_none", 4):
            kw["strides"] = None if strides is None else public_int_or_pair(data, strides, "strides")
        oh, ow = R.conv_output_shape(shape, pool, pool if strides is None else strides, ref_padding)
        out_shape = (shape[0], max(oh, 1), max(ow, 1), shape[3])
        expect = "ok" if oh > 0 and ow > 0 and explicit_ok else "error"
    args = [public_array(data, x, "x")]
    if backward:
        args = [public_array(data, draw_values(data, rng, out_shape, label="dy"), "dy")] + args
    mut = pick(data, [None] * 6 + ["x", "dy", "pool_size", "strides", "padding"], "mutate")
    if mut == "x" or (mut == "dy" and backward):
        i = 0 if mut == "dy" or not backward else 1
        how = pick(data, ["bad_dtype", "none", "rank+", "rank-", "empty"], "how")
        v = values_of(args[i])
        args[i] = {"bad_dtype": Arr(cast_values(v, "complex64")), "none": None, "rank+": Arr(f32(v)[None]),
                   "rank-": Arr(f32(v)[0]), "empty": Arr(f32(v)[:, :0])}[how]
        expect = "error"
    elif mut in ("pool_size", "strides") and not glob:
        kw[mut] = pick(data, [v for v in BAD_PAIRS if not (mut == "strides" and v is None)], mut)
        expect = "error"
    elif mut == "padding" and not glob:
        kw["padding"] = pick(data, ["full", (1, 2, 3), None, "same ", -1, ((1, 1),)], "padding")
        expect = "error"

    def check(out, a, k):
        xx = as_f32_ref(args[-1])
        if glob:
            if not backward:
                ref = R.global_max_pool2d(xx) if op == "max" else R.global_avg_pool2d(xx)
                assert_array(out, ref.shape)
                tol_close(out, ref, 0.0 if op == "max" else 1e-5, bound=R.global_avg_pool2d(np.abs(xx)))
                return
            dy = as_f32_ref(args[0])
            if op == "max":
                ref = R.global_max_pool2d_backward(dy, xx)
                ref = np.where(np.isnan(xx).any(axis=(1, 2))[:, None, None, :], np.nan, ref)
                assert_array(out, xx.shape)
                assert_close(out, ref, 0.0, 0.0, "dx")
            else:
                ref = R.global_avg_pool2d_backward(dy, xx)
                bound = R.global_avg_pool2d_backward(np.abs(dy), xx)
                grad_close(out, ref, bound, 1e-6, "dx")
            return
        opts = dict(pool_size=pool, strides=strides, padding=ref_padding)
        if not backward:
            ref = (R.max_pool2d if op == "max" else R.avg_pool2d)(xx, **opts)
            assert_array(out, ref.shape)
            tol_close(out, ref, 0.0 if op == "max" else 1e-5, bound=R.avg_pool2d(np.abs(xx), **opts))
            return
        dy = as_f32_ref(args[0])
        fn = R.max_pool2d_backward if op == "max" else R.avg_pool2d_backward
        ref, bound = fn(dy, xx, **opts), fn(np.abs(dy), xx, **opts)
        if op == "max":   # a window holding a NaN: which cell is its maximum is unspecified
            pads, _, taps = R._tap_slices(xx.shape[1:3], pool, opts["strides"] or pool, opts["padding"], 1)
            nanp = np.pad(np.isnan(xx), ((0, 0), pads[0], pads[1], (0, 0)))
            win_nan = sum(nanp[:, rr, cc, :].astype(int) for _, _, rr, cc in taps) > 0
            spread = np.zeros(nanp.shape, bool)
            for _, _, rr, cc in taps:
                spread[:, rr, cc, :] |= win_nan
            spread = R._crop(spread, xx.shape, pads)
            ref = np.where(spread, np.nan, ref)
        grad_close(out, ref, bound, 1e-5, "dx")

    if glob:
        fn = {("max", False): F.global_max_pool2d, ("avg", False): F.global_avg_pool2d,
              ("max", True): F.global_max_pool2d_backward, ("avg", True): F.global_avg_pool2d_backward}[(op, backward)]
    else:
        fn = {("max", False): F.max_pool2d, ("avg", False): F.avg_pool2d,
              ("max", True): F.max_pool2d_backward, ("avg", True): F.avg_pool2d_backward}[(op, backward)]
    invoke(fn, args, kw, expect=expect, check=check)


@target("public.nn.dense", covers=["F.dense", "F.dense_backward"])
def t_public_dense(data):
    rng = draw_setup(data)
    backward = maybe(data, "backward", 3)
    lead = tuple(pick(data, (1, 2, 3, 5), f"lead{i}") for i in range(draw(data, st.integers(0, 3), "lead_rank")))
    k, n = pick(data, (1, 2, 5, 16, 33), "k"), pick(data, (1, 3, 8, 17), "n")
    x = draw_values(data, rng, lead + (k,), label="x")
    ker = draw_values(data, rng, (k, n), label="kernel")
    args = [public_array(data, x, "x"), public_array(data, ker, "kernel")]
    kw = {}
    if backward:
        args = [public_array(data, draw_values(data, rng, lead + (n,), label="dy"), "dy")] + args
        draw_need_flags(data, kw)
    else:
        kw["activation"] = pick(data, [None, "relu", "sigmoid", "tanh", "softmax", "Linear"], "activation")
        if maybe(data, "bias", 4):
            kw["bias"] = public_array(data, draw_values(data, rng, (n,), label="bias"), "bias")
    expect = "ok"
    mut = pick(data, [None] * 5 + ["x", "kernel", "dy", "bias", "activation"], "mutate")
    xi = 1 if backward else 0
    if mut in ("x", "kernel") or (mut == "dy" and backward):
        i = {"dy": 0, "x": xi, "kernel": xi + 1}[mut]
        v = values_of(args[i])
        how = pick(data, ["bad_dtype", "none", "empty", "wrong_k"], "how")
        if how == "wrong_k":
            args[i] = Arr(np.ones(v.shape[:-1] + (v.shape[-1] + 1,), np.float32)) if mut != "kernel" \
                else Arr(np.ones((k + 1, n), np.float32))
        else:
            args[i] = {"bad_dtype": Arr(cast_values(v, "complex128")), "none": None,
                       "empty": Arr(np.zeros(v.shape[:-1] + (0,), np.float32))}[how]
        expect = "error"
    elif mut == "bias" and not backward:
        kw["bias"] = pick(data, [Arr(np.ones(n + 1, np.float32)), Arr(np.ones(n, np.complex64)), "b"], "bias")
        expect = "error"
    elif mut == "activation" and not backward:
        kw["activation"] = pick(data, BAD_ACTIVATIONS, "activation")
        expect = "error"

    def check(out, a, kk):
        xx, ker32 = as_f32_ref(args[xi]), as_f32_ref(args[xi + 1])
        if backward:
            dy = as_f32_ref(args[0])
            ref = list(R.dense_backward(dy, xx, ker32, kw["need_dx"]))
            bound = R.dense_backward(np.abs(dy), np.abs(xx), np.abs(ker32), True)
            if not kw.get("need_dkernel", True):
                ref[1] = ref[2] = None
            for name, o, r, b in zip(("dx", "dkernel", "dbias"), out, ref, bound):
                grad_close(o, r, b, 1e-4, name)
            return
        act = kw["activation"].lower() if isinstance(kw["activation"], str) else None
        b32 = as_f32_ref(kw.get("bias"))
        pre = R.dense(xx, ker32, b32, None)
        bound = R.dense(np.abs(xx), np.abs(ker32), None if b32 is None else np.abs(b32), None)
        ref = R.ACTIVATIONS[act](pre)
        assert_array(out, ref.shape)
        if act == "softmax":
            # a softmax of float32 logits: its relative error is their absolute error, which is
            # float32 rounding of the sum of |terms| (the unit tests' 1e-4 where that is small)
            finite = np.isfinite(pre).all(axis=-1, keepdims=True)
            ref = np.where(finite & (finite_max(bound) < 1e6), ref, np.nan)
            with np.errstate(all="ignore"):
                rtol = np.maximum(1e-4, 1e-6 * np.nanmax(np.where(np.isfinite(bound), bound, 0.0), axis=-1, keepdims=True))
            assert_close(out, ref, rtol, 1e-4, "result")
        else:
            tol_close(out, ref, 1e-4, pre, bound)

    invoke(F.dense_backward if backward else F.dense, args, kw, expect=expect, check=check)


@target("public.nn.elementwise", covers=["F.relu", "F.sigmoid", "F.tanh", "F.softmax", "F.activation",
                                         "F.activation_backward"])
def t_public_elementwise(data):
    rng = draw_setup(data)
    which = pick(data, ["relu", "sigmoid", "tanh", "softmax", "activation", "activation_backward"], "which")
    shape = draw_any_shape(data, 4)
    x = draw_values(data, rng, shape, label="x") * pick(data, (1.0, 10.0), "scale")
    args, kw, expect = [public_array(data, x, "x")], {}, "ok"
    if which == "softmax":
        if len(shape) == 0:
            expect = "error"
        else:
            kw["axis"] = pick(data, list(range(-len(shape), len(shape))) + [np.int64(-1)], "axis")
        if maybe(data, "bad_axis", 1):
            kw["axis"] = pick(data, [len(shape), -len(shape) - 1, 1.5, "0", None, 2**63], "axis")
            expect = "error"
    public_acts = [None, "linear", "relu", "sigmoid", "Tanh", "GELU", "Swish"] + list(NEW_ACTS)
    if which == "activation":
        args.append(pick(data, public_acts, "activation"))
        if maybe(data, "bad", 1):
            args[1] = pick(data, ["bogus", "", 3, "relu7"], "bad")
            expect = "error"
    if which == "activation_backward":
        act = pick(data, public_acts, "activation")
        args = [args[0], public_array(data, draw_values(data, rng, shape, label="y"), "y"), act]
        if isinstance(act, str) and act.lower() in GRAD_FROM_X:
            kw["x"] = public_array(data, draw_values(data, rng, shape, label="xin") * 3, "xin")
        if maybe(data, "bad", 1):
            args[pick(data, [1, 2], "which_bad")] = pick(data, ["bogus", Arr(np.ones(shape + (2,), np.float32))], "bad")
            expect = "error"
    if maybe(data, "bad_x", 1):
        args[0] = pick(data, [None, Arr(cast_values(x, "complex64")), Arr(cast_values(x, "str")), [[1.0], [1.0, 2.0]]], "bad_x")
        expect = "error"

    def check(out, a, k):
        xx = as_f32_ref(args[0])
        if which == "activation_backward":
            actn = args[2].lower() if isinstance(args[2], str) else None
            yy = as_f32_ref(args[1])
            ref, bound = activation_backward_ref(xx, yy, actn, as_f32_ref(kw.get("x")))
            tol = 0.0 if actn in (None, "linear", "relu") else 1e-6
            grad_close(out, ref, bound, tol, "dx")
            return
        tol = ACT_TOL.get(which, 1e-6)
        if which == "softmax":
            ref = R.softmax(xx, axis=int(kw["axis"])) if xx.size else np.zeros(xx.shape)
        elif which == "activation":
            actn = args[1].lower() if isinstance(args[1], str) else None
            ref, tol = R.ACTIVATIONS[actn](xx), ACT_TOL.get(actn, 1e-6)
        else:
            ref = R.ACTIVATIONS[which](xx)
        assert_array(out, ref.shape)
        tol_close(out, ref, tol)

    fn = {"relu": F.relu, "sigmoid": F.sigmoid, "tanh": F.tanh, "softmax": F.softmax,
          "activation": F.activation, "activation_backward": F.activation_backward}[which]
    invoke(fn, args, kw, expect=expect, check=check)




@target("public.nn.training", covers=["F.softmax_backward", "F.batch_norm_train_forward",
                                      "F.batch_norm_train_backward", "F.batch_norm_inference",
                                      "F.batch_norm_inference_backward", "F.dropout",
                                      "F.batch_norm_act_train_forward", "F.batch_norm_act_train_backward",
                                      "F.batch_norm_act_train_from_moments",
                                      "core.batch_norm_act_train", "core.batch_norm_act_backward"])
def t_public_training(data):
    """The operators under BatchNormalization, Softmax and Dropout: float32 arrays as the layers
    hold them (M x C for batch normalization), as their docstrings say."""
    rng = draw_setup(data)
    which = pick(data, ["softmax_backward", "bn_train", "bn_train_backward", "bn_inference",
                        "bn_inference_backward", "dropout", "bn_act_train", "bn_act_backward",
                        "bn_from_moments"], "which")
    rows, c = pick(data, (1, 2, 7, 64, 300), "rows"), pick(data, (1, 3, 8, 17), "c")
    vec = lambda lbl, lo=-1.0, hi=1.0: f32(rng.uniform(lo, hi, c))  # noqa: E731
    x = f32(train_data(data, rng, (rows, c), "x"))
    bad = maybe(data, "bad", 1)
    if which == "softmax_backward":
        y = f32(R.softmax(rng.standard_normal((rows, c))))
        dy = f32(draw_values(data, rng, (rows, c), label="dy"))
        axis = pick(data, [-1, 1, 0], "axis")

        def check(out, a, k):
            y64, d64 = y.astype(np.float64), dy.astype(np.float64)
            with np.errstate(all="ignore"):
                ref = y64 * (d64 - np.sum(d64 * y64, axis=axis, keepdims=True))
                bound = np.abs(y64) * (np.abs(d64) + np.sum(np.abs(d64 * y64), axis=axis, keepdims=True))
            assert_array(out, y.shape)
            # test_nn_components' atol 1e-6, relative to the sum of |terms| (a float32 sum)
            assert_close(out, ref, 1e-5, 1e-6 * max(1.0, finite_max(bound)), "dx", bound=bound)

        invoke(F.softmax_backward, [dy, y], dict(axis=axis), expect="ok", check=check)
        return
    if which == "dropout":
        rate = pick(data, [0.0, 0.1, 0.5, 0.9], "rate")
        key = pick(data, [0, 1, 2**63, 2**64 - 1], "key")
        expect = "ok"
        if bad:
            rate, key = pick(data, [(1.0, 1), (-0.5, 1), (float("nan"), 1), (0.5, -1), (0.5, 2**64), (0.5, 1.5)], "bad")
            expect = "error"

        def check(out, a, k):
            y, mask = out
            scale = np.float32(1.0 / np.float32(1.0 - rate))
            assert np.isin(mask, [np.float32(0), scale]).all(), "mask values"
            assert np.array_equal(y, x * mask, equal_nan=True) or not np.isfinite(x).all(), "y != x * mask"

        invoke(F.dropout, [x, rate, key], expect=expect, check=check)
        return
    gamma, beta = vec("gamma"), vec("beta")
    eps = pick(data, [1e-3, 1e-5, 1.0], "epsilon")
    if which == "bn_train":
        args, expect = [x, gamma, beta, eps], "ok"
        if bad:
            i = pick(data, [0, 1, 2, 3], "bad_arg")
            args[i] = [np.zeros((rows, c + 1), np.float32), np.zeros(c + 1, np.float32), np.zeros((1, c), np.float32),
                       pick(data, [0.0, -1.0, float("nan"), 1e-300], "eps")][i]
            expect = "error"

        def check(out, a, k):
            y, mean, var, inv_std, xhat = out
            rmean, rinv, cb = _check_bn_stats(x, eps, mean, var, inv_std)
            assert_close(y, (x.astype(np.float64) - rmean) * rinv * gamma + beta, 1e-4, 1e-4, "y",
                         bound=cb[None, :])

        invoke(F.batch_norm_train_forward, args, expect=expect, check=check)
        return
    if which in ("bn_act_train", "bn_act_backward"):
        _t_bn_act(data, rng, which == "bn_act_backward", x, gamma, beta, eps, bad)
        return
    if which == "bn_from_moments":
        x64 = x.astype(np.float64)
        if not np.isfinite(x64).all() or np.abs(x64).max() > 1e15:
            raise Skip("moments of non-finite or huge values: the statistics target covers them")
        mean64 = x64.mean(axis=0)
        m2 = ((x64 - mean64) ** 2).sum(axis=0)
        act = pick(data, [None, "relu", "relu6"], "activation")
        args, expect = [x, mean64, m2, gamma, beta, eps, act], "ok"
        if bad:
            i = pick(data, [1, 2, 3, 6], "bad_arg")
            args[i] = {1: np.zeros(c + 1), 2: -np.ones(c), 3: np.ones(c + 2, np.float32), 6: "gelu"}[i]
            expect = "error"

        def check(out, a, k):
            y, mean, var, inv_std = out
            rmean, rinv, cb = _check_bn_stats(x, eps, mean, var, inv_std)
            z = (x.astype(np.float64) - rmean) * rinv * gamma + beta
            if act is not None:
                z = np.maximum(z, 0) if act == "relu" else np.clip(z, 0, 6)
            assert_close(y, z, 1e-4, 1e-4, "y", bound=cb[None, :])

        invoke(F.batch_norm_act_train_from_moments, args, expect=expect, check=check)
        return
    dy = f32(draw_values(data, rng, (rows, c), label="dy"))
    inv_std = f32(rng.uniform(0.1, 2.0, c))
    if which == "bn_train_backward":
        xhat = f32(rng.standard_normal((rows, c)))
        args, expect = [dy, xhat, gamma, inv_std], "ok"
        if bad:
            i = pick(data, [0, 1, 2, 3], "bad_arg")
            args[i] = np.zeros((rows + 1, c) if i < 2 else (c + 2,), np.float32)
            expect = "error"

        def check(out, a, k):
            _check_bn_backward(out, dy.astype(np.float64), xhat.astype(np.float64), gamma, inv_std)

        invoke(F.batch_norm_train_backward, args, expect=expect, check=check)
        return
    mean, variance = vec("mean"), vec("variance", 0.0, 4.0)
    if which == "bn_inference":
        args, expect = [x, gamma, beta, mean, variance, eps], "ok"
        if bad:
            i = pick(data, [0, 1, 2, 3], "bad_arg")
            args[i] = np.zeros((rows, c + 1) if i == 0 else (c + 1,), np.float32)
            expect = "error"

        def check(out, a, k):
            y, inv = out
            rinv = (1.0 / np.sqrt(variance.astype(np.float64) + eps)).astype(np.float32)
            with np.errstate(all="ignore"):
                ref = (x - mean) * (gamma * rinv) + beta
            assert np.array_equal(inv, rinv), "inv_std"
            assert np.array_equal(y, ref, equal_nan=True), "y differs from (x - mean) * (gamma * inv_std) + beta"

        invoke(F.batch_norm_inference, args, expect=expect, check=check)
        return

    def check(out, a, k):
        dx, dgamma, dbeta = out
        d64 = dy.astype(np.float64)
        ad, axm = np.abs(d64), np.abs(x.astype(np.float64)) + np.abs(mean)
        assert_close(dbeta, d64.sum(0), 1e-5, 1e-4, "dbeta", bound=ad.sum(0))
        assert_close(dgamma, (d64 * (x.astype(np.float64) - mean)).sum(0) * inv_std, 1e-5, 1e-4, "dgamma",
                     bound=(ad * axm).sum(0))
        assert_close(dx, d64 * (gamma * inv_std), 1e-6, 1e-6, "dx")

    invoke(F.batch_norm_inference_backward, [dy, x, gamma, mean, inv_std], expect="ok", check=check)


def _check_bn_stats(x, eps, mean, var, inv_std):
    """A training batch norm's statistics against float64; returns the reference mean and
    inv_std and the columns' mean absolute values (the error bound's scale)."""
    x64 = x.astype(np.float64)
    rmean = x64.mean(axis=0)
    rvar = ((x64 - rmean) ** 2).mean(axis=0)
    rvar = np.where(rvar > FLT_MAX, np.inf, rvar)   # a float32 variance overflows: all after it too
    rinv = np.where(np.isinf(rvar), np.nan, 1.0 / np.sqrt(rvar + eps))
    cb = np.abs(x64).mean(axis=0)
    # float32 partial sums beside int dtypes' extremes: as core.batch_norm's check
    assert_close(mean, rmean, 1e-6, sum_atol(1e-6, cb), "mean", bound=cb)
    assert_close(var, rvar, 1e-5, 1e-6, "var", bound=cb)
    assert_close(inv_std, rinv, 1e-5, 0.0, "inv_std", bound=cb)
    return rmean, rinv, cb


def _check_bn_backward(out, d64, h64, gamma, inv_std):
    """A training batch norm's (dx, dgamma, dbeta) against float64, from the gradient d64 at its
    output (after any activation mask) and the normalized input h64."""
    dx, dgamma, dbeta = out
    rows = d64.shape[0]
    rdbeta, rdgamma = d64.sum(0), (d64 * h64).sum(0)
    rdx = (d64 - rdbeta / rows - h64 * rdgamma / rows) * gamma * inv_std.astype(np.float64)
    ad, ah = np.abs(d64), np.abs(h64)
    bdb, bdg = ad.sum(0), (ad * ah).sum(0)
    assert_close(dbeta, rdbeta, 1e-5, 1e-4, "dbeta", bound=bdb)
    assert_close(dgamma, rdgamma, 1e-5, 1e-4, "dgamma", bound=bdg)
    assert_close(dx, rdx, 1e-4, 1e-4, "dx", bound=ad + bdb / rows + ah * bdg / rows)


def _bn_act_ref(v, activation):
    """The activation on float64 values: none, relu or relu6."""
    if activation == "relu":
        return np.maximum(v, 0.0)
    if activation == "relu6":
        return np.clip(v, 0.0, 6.0)
    return v


def _t_bn_act(data, rng, backward, x, gamma, beta, eps, bad):
    """F.batch_norm_act_train_forward / _backward: batch normalization with a ReLU or ReLU6
    in its own pass, and its gradient from the input x."""
    rows, c = x.shape
    activation = pick(data, [None, "relu", "relu6"], "activation")
    if activation == "relu6":   # values around the clip at 6 as well as around 0
        beta = f32(beta * 4 + 3)
    if not backward:
        args, expect = [x, gamma, beta, eps, activation], "ok"
        if bad:
            i = pick(data, [0, 1, 3, 4], "bad_arg")
            args[i] = [np.zeros((rows, c + 1), np.float32), np.zeros(c + 1, np.float32), None,
                       pick(data, [0.0, -1.0, float("nan")], "eps"), "sigmoid"][i]
            expect = "error"

        def check(out, a, k):
            y, mean, var, inv_std = out
            rmean, rinv, cb = _check_bn_stats(x, eps, mean, var, inv_std)
            # the activations are 1-Lipschitz: y's error is at most the normalization's
            ref = _bn_act_ref((x.astype(np.float64) - rmean) * rinv * gamma + beta, activation)
            assert_close(y, ref, 1e-4, 1e-4, "y", bound=cb[None, :])

        invoke(F.batch_norm_act_train_forward, args, expect=expect, check=check)
        return
    dy = f32(draw_values(data, rng, (rows, c), label="dy"))
    mean = f32(rng.uniform(-1.0, 1.0, c))
    inv_std = f32(rng.uniform(0.1, 2.0, c))
    args, expect = [dy, x, mean, inv_std, gamma, beta, activation], "ok"
    if bad:
        i = pick(data, [0, 1, 2, 3, 6], "bad_arg")
        args[i] = (np.zeros((rows + 1, c), np.float32) if i < 2 else
                   "gelu" if i == 6 else np.zeros(c + 2, np.float32))
        expect = "error"

    def check(out, a, k):
        # the mask from z as the kernel makes it, in float32: the forward's values, bit for bit
        with np.errstate(all="ignore"):
            z = (x - mean) * inv_std * gamma + beta
            passes = (z > 0) & (z < 6) if activation == "relu6" else z > 0
        d64 = np.where(passes, dy, 0.0) if activation else dy.astype(np.float64)
        _check_bn_backward(out, d64, (x.astype(np.float64) - mean) * inv_std, gamma, inv_std)

    invoke(F.batch_norm_act_train_backward, args, expect=expect, check=check)


# ============================================================================ public: foveal.image

IMG_DTYPES = ("uint8",) * 4 + ("float32",) * 3 + ("float64", "float16", "bool", "int16", "int64",
                                                  "int32_oob", "complex64", "object")


def draw_public_image(data, rng, label="img", batch=True, channels=(None, 1, 2, 3, 4)):
    """A public image argument of any accepted (or refused) form, and its model verdict."""
    c = pick(data, channels, f"{label}.c")
    h, w = draw(data, st.integers(1, 16), f"{label}.h"), draw(data, st.integers(1, 16), f"{label}.w")
    shape = (h, w) if c is None else (h, w, c)
    if batch and c is not None and maybe(data, f"{label}.batch", 2):
        shape = (draw(data, st.integers(1, 3), f"{label}.n"),) + shape
    if maybe(data, f"{label}.odd_shape", 1):
        shape = pick(data, [(5,), (1, 2, 3, 4, 1), (4, 4, 5), (0, 3), (3, 0, 3), (2, 2, 2, 6), ()], f"{label}.odd")
    dt = pick(data, IMG_DTYPES, f"{label}.dtype")
    if dt in ("uint8", "int16", "int64", "bool"):
        v = draw_values(data, rng, shape, "u8", special=False, label=label)
    elif dt == "int32_oob":
        v = draw_values(data, rng, shape, "u8", special=False, label=label)
        if v.size:
            v.flat[0] = pick(data, [-1, 256, 1000], f"{label}.oob")
        dt = "int32"
    else:
        v = draw_values(data, rng, shape, "uniform", label=label)
    return array_arg(data, v, label, dt)


def m_image(v, name="img", batch=True, channels=True):
    """foveal.image's as_image: uint8/float32 kept, bool -> uint8, ints in 0..255 -> uint8, other
    floats -> float32, anything else TypeError; H x W, H x W x C (or N x H x W x C), C 1..4."""
    try:
        arr = np.asarray(materialize(v))
    except ValueError:
        raise Bad("ragged") from None
    k = arr.dtype.kind
    if arr.dtype in (np.uint8, np.float32):
        pass
    elif k == "b":
        arr = arr.astype(np.uint8)
    elif k in "iu":
        require(not arr.size or (arr.min() >= 0 and arr.max() <= 255), "integer range")
        arr = arr.astype(np.uint8)
    elif k == "f":
        arr = f32(arr)
    else:
        raise Bad("dtype")
    require(arr.ndim in ((2, 3, 4) if batch else (2, 3)), "rank")
    require(not channels or arr.ndim < 3 or arr.shape[-1] in (1, 2, 3, 4), "channels")
    require(arr.size > 0, "empty")
    return np.ascontiguousarray(arr)


def cv_tol(name, kwargs=None):
    tol = TOL["image." + name]
    return (0, 0.0) if (kwargs or {}).get("interpolation") == "nearest" else tol


def check_image_result(out, expected, name, inputs, kwargs=None, dtype=None):
    if isinstance(expected, list):
        assert isinstance(out, list) and len(out) == len(expected), f"returned {type(out).__name__}"
        for o, e in zip(out, expected):
            assert_array(o, e.shape, e.dtype)
            img_tol(o, e, cv_tol(name, kwargs), inputs)
        return
    assert_array(out, expected.shape, dtype or expected.dtype)
    img_tol(out, expected, cv_tol(name, kwargs), inputs)


NUMBER_MUTATIONS = [float("nan"), float("inf"), None, "1", [1.0], True]


@target("public.image.pixels", covers=["fi.to_gray", "fi.to_rgb", "fi.to_binary", "fi.threshold",
                                       "fi.normalize", "fi.center", "fi.adjust_brightness", "fi.split",
                                       "fi.merge", "fi.add", "fi.subtract", "fi.blend", "fi.flip",
                                       "fi.rotate90"], weight=1.5)
def t_public_pixels(data):
    rng = draw_setup(data)
    name = pick(data, ["to_gray", "to_rgb", "to_binary", "threshold", "normalize", "center",
                       "adjust_brightness", "split", "merge", "add", "subtract", "blend", "flip",
                       "rotate90"], "op")
    img = draw_public_image(data, rng, channels=(None, 1, 3, 4) if name != "to_rgb" else (None, 1, 3))
    args, kw = [img], {}
    expect, m = verdict(m_image, img)
    extra_bad = False
    if name in ("threshold", "to_binary"):
        t = pick(data, [127, 0.5, 200.0, 0, 254.5], "thresh")
        if name == "threshold":
            args.append(t)
            kw["maxval"] = pick(data, [255, 1.0, 7], "maxval")
        else:
            kw["threshold"] = t
    elif name == "adjust_brightness":
        args.append(draw(data, st.floats(0, 3), "factor"))
    elif name == "center":
        kw["mean"] = pick(data, [None, 0.5, [0.1, 0.2, 0.3], 3.0], "mean")
    elif name == "flip":
        kw["axis"] = pick(data, ["horizontal", "vertical", "both", "Both"], "axis")
    elif name == "rotate90":
        kw["k"] = pick(data, [1, 2, 3, -1, 0, 5, np.int64(2)], "k")
    elif name in ("add", "subtract", "blend"):
        other = img if maybe(data, "same", 4) else draw_public_image(data, rng, "b")
        if expect == "ok" and maybe(data, "scalar_b", 1):
            other = pick(data, [3, 0.25, 300, -5], "scalar_b")
        args.append(other)
        if name == "blend":
            args.append(draw(data, st.floats(-1, 2), "alpha"))
            if maybe(data, "beta", 4):
                kw["beta"] = draw(data, st.floats(-1, 2), "beta")
            kw["gamma"] = draw(data, st.floats(-20, 20), "gamma")
    elif name == "merge":
        n = draw(data, st.integers(1, 4), "nch")
        args = [[img] * n]
    if maybe(data, "bad_number", 1) and len(args) > 1 and not isinstance(args[1], Arr) and name != "merge":
        args[1] = pick(data, NUMBER_MUTATIONS + [1e39, -1e300], "bad_number")
        extra_bad = True
    if name == "flip" and maybe(data, "bad_axis", 1):
        kw["axis"] = pick(data, ["diagonal", None, 1], "bad_axis")
        extra_bad = True

    def model():
        a = m_image(img, channels=name != "merge")   # merge takes planes: any last axis
        if name == "to_gray":
            require(a.ndim == 2 or a.shape[-1] in (1, 3, 4), "channels")
        if name == "to_rgb":
            pass
        if name == "center" and isinstance(kw.get("mean"), list):
            require(a.ndim >= 3 and a.shape[-1] == len(kw["mean"]), "mean")
        if name == "rotate90":
            m_long(kw["k"])
        if name == "merge":
            require(a.ndim in (2, 3), "merge takes H x W (or N x H x W) channels")
        if name in ("add", "subtract", "blend"):
            if not isinstance(args[1], (int, float)):
                b = m_image(args[1], "b")
                require(b.dtype == a.dtype and b.shape == a.shape, "b")
        if extra_bad:
            raise Bad("bad argument")
        return a

    expect, a = verdict(model)
    if name == "merge" and expect == "ok":
        # merge stacks H x W channels; its inputs go through as_pixels only (no rank check)
        pass

    def check(out, margs, mkw):
        inputs = [a]
        ref_args = [a] + [(m_image(v) if isinstance(v, Arr) else v) for v in args[1:]]
        if name == "merge":
            ref_args = [[a] * len(args[0])]
        if name in ("add", "subtract", "blend") and not isinstance(args[1], Arr) and not isinstance(args[1], np.ndarray):
            b = np.full(a.shape, float(args[1]))
            b = sat_u8(b).astype(np.uint8) if a.dtype == np.uint8 else b.astype(np.float32)
            ref_args[1] = b
        ref_kw = {k: (v.lower() if isinstance(v, str) else v) for k, v in kw.items()}
        with np.errstate(all="ignore"):
            expected = getattr(image_ref, name)(*ref_args, **ref_kw)
        if name == "to_rgb" and a.ndim >= 3 and a.shape[-1] in (3, 4):
            expected = a[..., :3]
        if name == "merge":
            expected = np.stack([a] * len(args[0]), axis=-1)
        if name == "split":
            expected = [a.copy()] if a.ndim == 2 else [np.ascontiguousarray(a[..., c]) for c in range(a.shape[-1])]
        if name in ("to_gray",) and a.ndim == 4:
            expected = np.asarray(expected)
        if name == "normalize" and a.dtype != np.uint8:
            expected = a.copy()
        expected = expected if isinstance(expected, list) else np.asarray(expected)
        if name == "to_binary":
            expected = expected.astype(np.uint8)
        check_image_result(out, expected, name, inputs)

    invoke(getattr(fi, name), args, kw, expect=expect, check=check)


@target("public.image.geometry", covers=["fi.rotate", "fi.shift", "fi.zoom", "fi.warp_affine"], weight=1.5)
def t_public_geometry(data):
    rng = draw_setup(data)
    name = pick(data, ["rotate", "shift", "zoom", "warp_affine"], "op")
    img = draw_public_image(data, rng)
    kw = dict(interpolation=pick(data, ["nearest", "bilinear", "bicubic", "Bilinear"], "interpolation"),
              border=pick(data, BORDERS + ("Reflect",), "border"),
              cval=pick(data, [0, 0.5, 255, 300, -1, np.float32(3)], "cval"))
    if name == "rotate":
        args = [img, draw(data, st.floats(-720, 720), "angle")]
        if maybe(data, "center", 3):
            kw["center"] = (draw(data, st.floats(-5, 20), "cx"), draw(data, st.floats(-5, 20), "cy"))
        kw["scale"] = pick(data, [1.0, 0.5, 2.0], "scale")
    elif name == "shift":
        args = [img, draw(data, st.floats(-20, 20), "dx"), draw(data, st.floats(-20, 20), "dy")]
    elif name == "zoom":
        args = [img, draw(data, st.floats(0.2, 4), "zx")]
        if maybe(data, "zy", 4):
            kw["zy"] = draw(data, st.floats(0.2, 4), "zy")
    else:
        shape = np.shape(materialize(img))
        h, w = (shape[-3], shape[-2]) if len(shape) == 4 or (len(shape) == 3 and shape[-1] <= 4) else (shape + (4, 4))[:2]
        args = [img, draw_matrix(data, rng, h, w)]
        if maybe(data, "output_shape", 3):
            kw["output_shape"] = (draw(data, st.integers(1, 20), "rows"), draw(data, st.integers(1, 20), "cols"))
    extra_bad = None
    if maybe(data, "bad", 1):
        what = pick(data, ["number", "interpolation", "border", "cval", "output_shape", "matrix"], "bad")
        extra_bad = what
        if what == "number":
            args[1] = pick(data, NUMBER_MUTATIONS, "bad_number")
        elif what in ("interpolation", "border"):
            kw[what] = pick(data, ["area" if what == "interpolation" else "mirror", "", None, 3], what)
        elif what == "cval":
            kw["cval"] = pick(data, [float("nan"), None, "0", float("inf"), 1e39], "cval")
        elif what == "output_shape" and name == "warp_affine":
            kw["output_shape"] = pick(data, [(0, 5), (-1, 2), (2**62, 1), 5, (1.5, 2), (MAX_SIDE + 1, 1)], "output_shape")
        elif what == "matrix" and name == "warp_affine":
            args[1] = pick(data, [np.zeros((3, 3)), np.full((2, 3), np.nan), "m", np.ones(6) + 1j, [[1, 0], [0, 1]]], "matrix")
        else:
            extra_bad = None

    def model():
        a = m_image(img)
        if extra_bad:
            raise Bad(extra_bad)
        if name == "warp_affine":
            m = np.asarray(args[1], np.float64)
            require(np.isfinite(m).all(), "matrix")
            m_invertible(m)
        if name == "rotate" and abs(float(args[1])) > 1e300:
            raise Bad("angle")
        return a

    expect, a = verdict(model)
    if extra_bad == "output_shape" and kw.get("output_shape") in ((2**62, 1),):
        expect = "error"

    def check(out, margs, mkw):
        x4 = a[None, :, :, None] if a.ndim == 2 else (a[None] if a.ndim == 3 else a)
        h, w = x4.shape[1:3]
        if name == "rotate":
            mat = image_ref.rotation_matrix(a, args[1], kw.get("center"), kw["scale"])
        elif name == "shift":
            mat = np.array([[1.0, 0, args[1]], [0, 1, args[2]]])
        elif name == "zoom":
            zx = args[1]
            zy = kw.get("zy", zx)
            mat = np.array([[zx, 0, (1 - zx) * (w - 1) / 2], [0, zy, (1 - zy) * (h - 1) / 2]])
        else:
            mat = np.asarray(args[1], np.float64)
        out_hw = kw.get("output_shape", (h, w))
        o4 = out[None, :, :, None] if a.ndim == 2 else (out[None] if a.ndim == 3 else out)
        assert out.ndim == a.ndim, f"rank {out.ndim}, expected {a.ndim}"
        check_warp(o4, x4, mat, tuple(out_hw), kw["interpolation"].lower(), kw["border"].lower(), float(kw["cval"]))

    invoke(getattr(fi, name), args, kw, expect=expect, check=check)


@target("public.image.resize", covers=["fi.resize"])
def t_public_resize(data):
    rng = draw_setup(data)
    img = draw_public_image(data, rng)
    size = (draw(data, st.integers(1, 40), "rows"), draw(data, st.integers(1, 40), "cols"))
    interp = pick(data, ["nearest", "bilinear", "bicubic", "area", "AREA"], "interpolation")
    args, kw = [img, size], dict(interpolation=interp)
    bad = False
    if maybe(data, "bad", 1):
        what = pick(data, ["size", "interpolation"], "bad")
        if what == "size":
            args[1] = pick(data, [(0, 3), (-1, 2), 5, (1.5, 2), (MAX_SIDE + 1, 1), None, (float("nan"), 2), (2**63, 1)], "size")
        else:
            kw["interpolation"] = pick(data, ["lanczos", None, ""], "interpolation")
        bad = True

    def model():
        a = m_image(img)
        if bad:
            raise Bad("bad")
        return a

    expect, a = verdict(model)

    def check(out, margs, mkw):
        expected = image_ref.resize(a, size, interp.lower())
        if a.ndim == 3 and a.shape[-1] == 1 and expected.ndim == 2:
            expected = expected[..., None]
        expected = area_upscale_ties(np.asarray(expected), a, size, interp.lower())
        expected = resize_taint(expected, a, size)
        check_image_result(out, expected, "resize", [a], dict(interpolation=interp.lower()), dtype=a.dtype)

    invoke(fi.resize, args, kw, expect=expect, check=check)


@target("public.image.filters", covers=["fi.filter2d", "fi.convolve2d", "fi.gaussian_blur", "fi.sharpen",
                                        "fi.edges", "fi.laplacian", "fi.sobel", "fi.kernels"], weight=1.5)
def t_public_filters(data):
    rng = draw_setup(data)
    name = pick(data, ["filter2d", "convolve2d", "gaussian_blur", "sharpen", "edges", "laplacian", "sobel",
                       "kernels"], "op")
    if name == "kernels":
        ksize = pick(data, [1, 3, 5, 7, 9, 11, 0, -3, 4, 2.5, None], "ksize")
        sigma = pick(data, [0, 0.5, 1.5, -1, float("nan")], "sigma")

        def model():
            k = m_long(ksize, 1)
            require(k % 2 == 1, "odd")
            require(math.isfinite(sigma), "sigma")
            return k

        expect, k = verdict(model)

        def check(out, margs, mkw):
            g = cv2.getGaussianKernel(k, sigma)
            ref = g @ g.T
            assert_array(out, (k, k))
            assert_close(out, ref, 1e-5, 1e-7, "gaussian kernel")

        invoke(fi.kernels.gaussian, [ksize, sigma], expect="any" if expect == "error" else expect, check=check)
        return
    img = draw_public_image(data, rng)
    args, kw = [img], {}
    bad = None
    if name in ("filter2d", "convolve2d"):
        kh, kw_ = draw(data, st.integers(1, 7), "kh"), draw(data, st.integers(1, 7), "kw")
        k = draw_kernel(data, rng, (kh, kw_))
        if maybe(data, "rank1", 2):
            k = np.outer(rng.standard_normal(kh), rng.standard_normal(kw_)) / (kh * kw_)
        args.append(array_arg(data, k, "kernel", pick(data, ("float32", "float64", "int16"), "kernel.dtype")))
        kw = dict(border=pick(data, BORDERS + ("REFLECT101",), "border"), cval=pick(data, [0, 7.5, 300, -2], "cval"))
        if maybe(data, "bad", 1):
            bad = pick(data, ["kernel", "border", "cval"], "bad")
            if bad == "kernel":
                args[1] = pick(data, [Arr(np.ones((3,), np.float32)), Arr(np.zeros((0, 3))), Arr(np.ones((3, 3)) * 1j),
                                      Arr(np.full((3, 3), np.nan)), "k", Arr(np.ones((2, 2, 2)))], "kernel")
            elif bad == "border":
                kw["border"] = pick(data, ["mirror", None, 5], "border")
            else:
                kw["cval"] = pick(data, [float("nan"), None, "0"], "cval")
    elif name == "gaussian_blur":
        args += [pick(data, [1, 3, 5, 7, 9, 11, (3, 5), 2, 0, -1, (3,), 2.0, 3.0], "ksize"), pick(data, [0, 0.8, 2.0], "sigma")]
    elif name == "sobel":
        args += [pick(data, [0, 1, 2, -1], "dx"), pick(data, [0, 1, 2], "dy")]
        kw["ksize"] = pick(data, [1, 3, 5, 7, 2, 9], "ksize")

    def model():
        a = m_image(img)
        if bad:
            raise Bad(bad)
        if name in ("filter2d", "convolve2d"):
            k = np.asarray(materialize(args[1]))
            require(k.dtype.kind in "biuf" and k.ndim == 2 and k.size and np.isfinite(f32(k)).all(), "kernel")
        if name == "gaussian_blur":
            ks = args[1]
            if isinstance(ks, tuple):
                require(len(ks) == 2, "ksize")
                for v in ks:
                    require(isinstance(v, int) and v >= 1 and v % 2 == 1, "ksize")
            else:
                require(not isinstance(ks, bool) and float(ks) == int(ks) and int(ks) >= 1 and int(ks) % 2 == 1, "ksize")
        if name == "sobel":
            dx, dy, ks = args[1], args[2], kw["ksize"]
            require(dx >= 0 and dy >= 0 and ks in (1, 3, 5, 7) and dx + dy > 0, "sobel")
            require(dx < max(ks, 3) and dy < max(ks, 3), "order")
        return a

    expect, a = verdict(model)

    def check(out, margs, mkw):
        if name in ("filter2d", "convolve2d"):
            k = np.asarray(materialize(args[1])).astype(np.float32)
            if name == "convolve2d":
                k = k[::-1, ::-1]
            x4 = a[None, :, :, None] if a.ndim == 2 else (a[None] if a.ndim == 3 else a)
            ref = ref_filter(x4, k.astype(np.float64), k.shape[0] // 2, k.shape[1] // 2, kw["border"].lower(), kw["cval"])
            assert out.shape == a.shape and out.dtype == a.dtype, f"{out.shape} {out.dtype}"
            o4 = out[None, :, :, None] if a.ndim == 2 else (out[None] if a.ndim == 3 else out)
            img_tol(o4, ref, (1, 1e-4), (x4, k))
            return
        if name == "gaussian_blur":
            ks = args[1] if isinstance(args[1], tuple) else (int(args[1]), int(args[1]))
            expected = np.stack([cv2.GaussianBlur(np.ascontiguousarray(one), (ks[1], ks[0]), args[2])
                                 .reshape(one.shape) for one in (a if a.ndim == 4 else a[None])])
            expected = expected if a.ndim == 4 else expected[0]
        elif name == "sobel":
            expected = np.asarray(image_ref.sobel(a, args[1], args[2], kw["ksize"])).reshape(a.shape)
        else:
            expected = np.asarray(getattr(image_ref, name)(a)).reshape(a.shape)
        if a.dtype != np.uint8 and not np.isfinite(a).all():
            # OpenCV skips some zero taps (a NaN pixel may then give 0); these wrappers are thin
            # layers over sep_filter2d/filter2d, whose NaN handling core.image.filter2d checks
            assert_array(out, expected.shape, expected.dtype)
            return
        check_image_result(out, expected, name if name != "gaussian_blur" else "gaussian_blur", [a])

    invoke(getattr(fi, name), args, kw, expect=expect, check=check)


@target("public.image.io", covers=["fi.read", "fi.write"])
def t_public_io(data):
    rng = draw_setup(data)
    with tempfile.TemporaryDirectory() as tmp:
        which = pick(data, ["roundtrip", "roundtrip", "garbage", "missing", "bad_ext", "bad_img"], "which")
        if which == "roundtrip":
            c = pick(data, [None, 1, 3, 4], "c")
            shape = (draw(data, st.integers(1, 12), "h"), draw(data, st.integers(1, 12), "w")) + ((c,) if c else ())
            arg = array_arg(data, rng.integers(0, 256, shape), "img", "uint8")
            img = np.asarray(materialize(arg))
            ext = pick(data, [".png", ".tif", ".bmp", ".ppm"] if c != 4 else [".png", ".tif"], "ext")
            path = os.path.join(tmp, "a" + ext)
            invoke(fi.write, [path, arg], expect="ok")
            mode = "unchanged"
            out = invoke(fi.read, [path], dict(mode=mode), expect="ok")
            want = img[..., 0] if img.ndim == 3 and img.shape[-1] == 1 else img
            assert np.array_equal(out, want), f"{ext} round trip changed the image {img.shape} -> {out.shape}"
            return
        if which == "garbage":
            path = os.path.join(tmp, "g" + pick(data, [".png", ".jpg", ".bmp", ".txt"], "ext"))
            with open(path, "wb") as f:
                f.write(rng.integers(0, 256, draw(data, st.integers(0, 300), "n"), dtype=np.uint8).tobytes())
            invoke(fi.read, [path], dict(mode=pick(data, ["rgb", "gray", "unchanged"], "mode")), expect="error")
            return
        if which == "missing":
            try:
                fi.read(os.path.join(tmp, "none.png"))
            except FileNotFoundError as e:
                assert str(e), "empty FileNotFoundError"
                return
            raise AssertionError("read of a missing file did not raise FileNotFoundError")
        if which == "bad_ext":
            invoke(fi.write, [os.path.join(tmp, "x.foo"), Arr(np.zeros((2, 2), np.uint8))], expect="error")
            return
        img = pick(data, [Arr(np.zeros((2, 2), np.float32)), Arr(np.zeros((2, 2, 5), np.uint8)),
                          Arr(np.zeros((0, 2), np.uint8)), Arr(np.zeros(4, np.uint8)), None,
                          Arr(np.zeros((2, 2), np.complex64))], "bad_img")
        invoke(fi.write, [os.path.join(tmp, "x.png"), img], expect="error")


# ============================================================================ nn: spatial layout
# ZeroPadding2D / UpSampling2D kernels: zero_pad2d (+ its crop), upsample2d nearest/bilinear (+ backward).

RESAMPLE_KINDS = dict(x="array", dy="array", padding="padding", size="pair", interpolation="str")


def model_resample(op, backward, a, arg, interp=ABSENT):
    conv = [lambda: m_f32(a), (lambda: m_padding(arg)) if op == "pad" else (lambda: m_pair(arg))]
    if op == "up":
        conv.append(lambda: m_str(interp, ("nearest", "bilinear")))
    vals = convert(*conv)
    xa, p = vals[0], vals[1]
    require(xa.ndim == 4 and xa.size, "dy" if backward else "x")
    n, h, w, c = xa.shape
    if op == "pad":
        (t, b), (l, r) = p
        if backward:
            require(t + b < h and l + r < w, "padding leaves nothing")
            out = (n, h - t - b, w - l - r, c)
        else:
            out = (n, h + t + b, w + l + r, c)
    else:
        if backward:
            require(h % p[0] == 0 and w % p[1] == 0, "dy not a multiple of size")
            out = (n, h // p[0], w // p[1], c)
        else:
            out = (n, h * p[0], w * p[1], c)
    check_size(out)
    return dict(a=xa, arg=p, interp=vals[2] if op == "up" else None, out=out)


def draw_resample_setup(data, p_backward, max_side):
    """(rng, op "pad" or "up", backward, n, h, w, c) of a spatial layout example."""
    rng = draw_setup(data)
    op = pick(data, ["pad", "up"], "op")
    backward = maybe(data, "backward", p_backward)
    n, c = draw(data, st.integers(1, 3), "n"), pick(data, CHANNELS, "c")
    h, w = draw(data, st.integers(1, max_side), "h"), draw(data, st.integers(1, max_side), "w")
    return rng, op, backward, n, h, w, c


@target("core.resample2d", covers=["core.zero_pad2d", "core.zero_pad2d_backward", "core.upsample2d",
                                   "core.upsample2d_backward"], weight=1.5)
def t_resample2d(data):
    rng, op, backward, n, h, w, c = draw_resample_setup(data, 4, 9)
    if op == "pad":
        arg = ((draw(data, st.integers(0, 3), "t"), draw(data, st.integers(0, 3), "b")),
               (draw(data, st.integers(0, 3), "l"), draw(data, st.integers(0, 3), "r")))
        if backward:
            h, w = h + arg[0][0] + arg[0][1], w + arg[1][0] + arg[1][1]
        args = dict(a=None, padding=arg)
    else:
        arg = (draw(data, st.integers(1, 3), "sh"), draw(data, st.integers(1, 3), "sw"))
        if backward:
            h, w = h * arg[0], w * arg[1]
        args = dict(a=None, size=arg, interpolation=pick(data, ["nearest", "bilinear"], "interpolation"))
    name = "dy" if backward else "x"
    args["a"] = array_arg(data, draw_values(data, rng, (n, h, w, c), label=name), name)
    args = {(name if k == "a" else k): v for k, v in args.items()}
    apply_mutation(data, rng, args, RESAMPLE_KINDS, optional=())
    expect, m = verdict(model_resample, op, backward, *args.values())

    def check(out, a, kw):
        assert_array(out, m["out"])
        x, p = m["a"], m["arg"]
        if op == "pad":
            ref = R.zero_pad2d_backward(x, p) if backward else R.zero_pad2d(x, p)
            assert_close(out, ref, 0.0, 0.0, exact_nan=True)
            return
        fn = R.upsample2d_backward if backward else R.upsample2d
        ref, bound = fn(x, p, m["interp"]), fn(np.abs(x), p, m["interp"])
        if not backward and m["interp"] == "nearest":
            assert_close(out, ref, 0.0, 0.0, exact_nan=True)
        else:
            grad_close(out, ref, bound, 1e-6, "dx" if backward else "y")

    if op == "pad":
        fn = _core.zero_pad2d_backward if backward else _core.zero_pad2d
    else:
        fn = _core.upsample2d_backward if backward else _core.upsample2d
    invoke(fn, list(args.values()), expect=expect, check=check)


BAD_RESAMPLE = dict(padding=BAD_PADDINGS + [(1, 2, 3), ((1, 2), (3,))],
                    size=BAD_PAIRS, interpolation=["area", "NEAREST ", 3, None, b"nearest", "bicubic"])


@target("public.nn.resample2d", covers=["F.zero_pad2d", "F.zero_pad2d_backward", "F.upsample2d",
                                        "F.upsample2d_backward"])
def t_public_resample2d(data):
    rng, op, backward, n, h, w, c = draw_resample_setup(data, 3, 8)
    kw = {}
    if op == "pad":
        (t, b), (l, r) = ((draw(data, st.integers(0, 2), "t"), draw(data, st.integers(0, 2), "b")),
                          (draw(data, st.integers(0, 2), "l"), draw(data, st.integers(0, 2), "r")))
        form = pick(data, ["int", "pair", "pairs", "mixed", "default"], "padding_form")
        if form == "int" or (form == "pair" and (t, l) == (b, r) and t == l):
            pads, kw["padding"] = ((t, t), (t, t)), pick(data, [t, np.int64(t), float(t)], "padding_int")
        elif form == "pair":
            pads, kw["padding"] = ((t, t), (l, l)), pick(data, [(t, l), [t, l]], "padding_pair")
        elif form == "mixed":
            pads, kw["padding"] = ((t, t), (l, r)), (t, [l, r])
        elif form == "default":
            pads = ((1, 1), (1, 1))
        else:
            pads, kw["padding"] = ((t, b), (l, r)), pick(data, [((t, b), (l, r)), [[t, b], [l, r]]], "pads_form")
        if backward:
            h, w = h + pads[0][0] + pads[0][1], w + pads[1][0] + pads[1][1]
        arg = pads
    else:
        arg = (draw(data, st.integers(1, 3), "sh"), draw(data, st.integers(1, 3), "sw"))
        if maybe(data, "default_size", 2):
            arg = (2, 2)
        else:
            kw["size"] = public_int_or_pair(data, arg, "size")
        interp = pick(data, ["nearest", "bilinear", "Bilinear", None], "interpolation")
        if interp is not None:
            kw["interpolation"] = interp
        if backward:
            h, w = h * arg[0], w * arg[1]
    values = draw_values(data, rng, (n, h, w, c), label="a")
    args = [public_array(data, values, "a")]
    expect = "ok"
    mut = pick(data, [None] * 6 + ["array"] + (["padding"] if op == "pad" else ["size", "interpolation"]), "mutate")
    if mut == "array":
        how = pick(data, ["bad_dtype", "none", "rank+", "rank-", "empty"], "how")
        args[0] = {"bad_dtype": Arr(cast_values(values, "complex64")), "none": None, "rank+": Arr(f32(values)[None]),
                   "rank-": Arr(f32(values)[0]), "empty": Arr(f32(values)[:, :0])}[how]
        expect = "error"
    elif mut is not None:
        kw[mut] = pick(data, BAD_RESAMPLE[mut], mut)
        expect = "error"

    def check(out, a, k):
        xx = as_f32_ref(args[0])
        if op == "pad":
            ref = R.zero_pad2d_backward(xx, arg) if backward else R.zero_pad2d(xx, arg)
            assert_array(out, ref.shape)
            assert_close(out, ref, 0.0, 0.0, exact_nan=True)
            return
        mode = kw.get("interpolation", "nearest").lower()
        fn = R.upsample2d_backward if backward else R.upsample2d
        ref, bound = fn(xx, arg, mode), fn(np.abs(xx), arg, mode)
        assert_array(out, ref.shape)
        grad_close(out, ref, bound, 1e-6, "dx" if backward else "y")

    if op == "pad":
        fn = F.zero_pad2d_backward if backward else F.zero_pad2d
    else:
        fn = F.upsample2d_backward if backward else F.upsample2d
    invoke(fn, args, kw, expect=expect, check=check)


if os.environ.get("FOVEAL_FUZZ_SELFTEST"):
    # Targets that crash or hang on purpose, for test_fuzz.py's check of the child-process guard.
    import ctypes
    import time

    @target("selftest.crash", covers=[])
    def t_selftest_crash(data):
        if draw(data, st.integers(0, 9), "n") == 7:
            invoke(ctypes.string_at, [0])        # reads address 0: SIGSEGV

    @target("selftest.hang", covers=[])
    def t_selftest_hang(data):
        if draw(data, st.integers(0, 9), "n") == 7:
            invoke(time.sleep, [3600])


if __name__ == "__main__":
    import fuzz_harness
    fuzz_harness.main()
