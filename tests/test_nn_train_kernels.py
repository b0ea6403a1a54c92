"""Native training kernels (batch normalization, dropout, softmax cross-entropy, optimizer steps)
on every ISA: against float64 / NumPy references over seeded shape sweeps, bit-identical across
ISAs, and bad input raising clear errors."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import foveal
from foveal import _core

RNG = np.random.default_rng(7)
# Rows and channel counts: 1, primes, odd sizes and both sides of the 8 and 16 lane widths.
BN_SHAPES = [(1, 1), (2, 3), (5, 7), (64, 16), (65, 17), (129, 8), (1025, 3), (3000, 33), (7, 64)]


def bn_reference(x, gamma, beta, eps):
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=0)
    var = ((x64 - mean) ** 2).mean(axis=0)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x64 - mean) * inv_std
    return xhat * gamma + beta, mean, var, inv_std, xhat


@pytest.mark.parametrize("rows,c", BN_SHAPES)
def test_batch_norm_train_matches_float64(isa, rows, c):
    x = (RNG.normal(3.0, 2.0, size=(rows, c))).astype(np.float32)
    gamma = RNG.normal(size=c).astype(np.float32)
    beta = RNG.normal(size=c).astype(np.float32)
    y, mean, var, inv_std, xhat = _core.batch_norm_train(x, gamma, beta, 1e-3)
    ry, rmean, rvar, rinv, rxhat = bn_reference(x, gamma, beta, 1e-3)
    np.testing.assert_allclose(mean, rmean, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(var, rvar, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(inv_std, rinv, rtol=1e-5)
    np.testing.assert_allclose(xhat, rxhat, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(y, ry, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("rows,c", BN_SHAPES)
def test_batch_norm_backward_matches_float64(isa, rows, c):
    x = RNG.normal(size=(rows, c)).astype(np.float32)
    dy = RNG.normal(size=(rows, c)).astype(np.float32)
    gamma = RNG.normal(size=c).astype(np.float32)
    _, _, _, inv_std, xhat = _core.batch_norm_train(x, gamma, np.zeros(c, np.float32), 1e-3)
    dx, dgamma, dbeta = _core.batch_norm_backward(dy, xhat, gamma, inv_std)
    d64, h64 = dy.astype(np.float64), xhat.astype(np.float64)
    rdbeta = d64.sum(axis=0)
    rdgamma = (d64 * h64).sum(axis=0)
    rdx = (d64 - rdbeta / rows - h64 * rdgamma / rows) * gamma * inv_std
    np.testing.assert_allclose(dbeta, rdbeta, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dgamma, rdgamma, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(dx, rdx, rtol=1e-4, atol=1e-4)


def test_batch_norm_gradient_by_central_differences():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(6, 3))
    gamma, beta, proj = rng.normal(size=3), rng.normal(size=3), rng.normal(size=(6, 3))

    def loss(xx):
        y = _core.batch_norm_train(xx.astype(np.float32), gamma.astype(np.float32),
                                   beta.astype(np.float32), 1e-3)[0]
        return float(np.sum(y.astype(np.float64) * proj))

    _, _, _, inv_std, xhat = _core.batch_norm_train(x.astype(np.float32), gamma.astype(np.float32),
                                                    beta.astype(np.float32), 1e-3)
    dx = _core.batch_norm_backward(proj.astype(np.float32), xhat, gamma.astype(np.float32), inv_std)[0]
    num = np.zeros_like(x)
    h = 1e-2
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (loss(xp) - loss(xm)) / (2 * h)
    np.testing.assert_allclose(dx, num, rtol=2e-2, atol=3e-3)


def test_training_kernels_agree_bit_for_bit_across_isas():
    x = RNG.normal(size=(333, 19)).astype(np.float32)
    gamma, beta = RNG.normal(size=19).astype(np.float32), RNG.normal(size=19).astype(np.float32)
    dy = RNG.normal(size=x.shape).astype(np.float32)
    w0, g = RNG.normal(size=1001).astype(np.float32), RNG.normal(size=1001).astype(np.float32)
    results = {}
    previous = _core.get_isa()
    try:
        for name in _core.available_isas():
            _core.set_isa(name)
            out = list(_core.batch_norm_train(x, gamma, beta, 1e-3))
            out += list(_core.batch_norm_backward(dy, out[4], gamma, out[3]))
            out += list(_core.dropout(x, 0.7, 12345))
            w, m, v = w0.copy(), np.zeros_like(w0), np.zeros_like(w0)
            _core.adam_step(w, g, m, v, 0.01, 0.9, 0.999, 1e-7)
            _core.rmsprop_step(w, g, v, m, None, 0.01, 0.9, 0.5, 1e-7)
            _core.sgd_step(w, g, m, 0.01, 0.9, True)
            results[name] = out + [w, m, v]
    finally:
        _core.set_isa(previous)
    ref = results["scalar"]
    for name, out in results.items():
        for a, b in zip(out, ref):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_channel_affine_is_the_inference_formula(isa):
    x = RNG.normal(size=(37, 5)).astype(np.float32)
    shift, scale, add = (RNG.normal(size=5).astype(np.float32) for _ in range(3))
    np.testing.assert_array_equal(_core.channel_affine(x, shift, scale, None, add),
                                  (x - shift) * scale + add)
    mul = RNG.normal(size=5).astype(np.float32)
    np.testing.assert_array_equal(_core.channel_affine(x, shift, scale, mul, add),
                                  ((x - shift) * scale) * mul + add)


# ---- dropout ---------------------------------------------------------------------------------

@pytest.mark.parametrize("n", [1, 7, 16, 17, 1000, 100003])
@pytest.mark.parametrize("keep", [0.1, 0.5, 0.8, 1.0])
def test_dropout_mask_rate_and_values(isa, n, keep):
    x = RNG.normal(size=n).astype(np.float32)
    y, mask = _core.dropout(x, keep, 99)
    scale = np.float32(1.0 / keep)
    assert set(np.unique(mask)) <= {np.float32(0), scale}
    np.testing.assert_array_equal(y, x * mask)
    if n >= 1000:
        kept = float(np.mean(mask != 0))
        assert abs(kept - keep) < 5 * np.sqrt(keep * (1 - keep) / n) + 1e-9
    if keep == 1.0:
        assert np.all(mask == 1)


def test_dropout_depends_on_key_and_index_only():
    x = np.ones(300_001, np.float32)
    a = _core.dropout(x, 0.5, 7)[1]
    b = _core.dropout(x, 0.5, 8)[1]
    assert not np.array_equal(a, b)
    before = foveal.get_num_threads()
    try:
        foveal.set_num_threads(1)
        c = _core.dropout(x, 0.5, 7)[1]
    finally:
        foveal.set_num_threads(before)
    np.testing.assert_array_equal(a, c)
    # The same key on a prefix gives the same prefix (a draw depends only on its index).
    np.testing.assert_array_equal(_core.dropout(x[:1000], 0.5, 7)[1], a[:1000])
    # Neighbouring elements are not correlated.
    kept = (a != 0).astype(np.float64)
    assert abs(np.corrcoef(kept[:-1], kept[1:])[0, 1]) < 0.02


# ---- softmax cross-entropy ---------------------------------------------------------------

def xent_reference(p, y, from_logits, eps=1e-7):
    p64, y64 = p.astype(np.float64), y.astype(np.float64)
    mass = y64.sum(-1, keepdims=True)
    if from_logits:
        s = p64 - p64.max(-1, keepdims=True)
        logq = s - np.log(np.exp(s).sum(-1, keepdims=True))
        q = np.exp(logq)
        return -(y64 * logq).sum(-1), (q * mass - y64) / len(p)
    q = p64 / p64.sum(-1, keepdims=True)
    return -(y64 * np.log(np.clip(q, eps, 1 - eps))).sum(-1), (p64 * mass - y64) / len(p)


@pytest.mark.parametrize("rows,c", [(1, 1), (1, 2), (5, 10), (64, 17), (300, 3)])
@pytest.mark.parametrize("from_logits", [False, True])
def test_softmax_cross_entropy_matches_reference(isa, rows, c, from_logits):
    z = RNG.normal(0, 3, size=(rows, c)).astype(np.float32)
    p = z if from_logits else np.exp(z) / np.exp(z).sum(-1, keepdims=True)
    p = p.astype(np.float32)
    y = RNG.dirichlet(np.ones(c), size=rows).astype(np.float32)
    values, grad, clipped = _core.softmax_cross_entropy(p, y, from_logits, 1e-7)
    rv, rg = xent_reference(p, y, from_logits)
    np.testing.assert_allclose(values, rv, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(grad, rg, rtol=1e-5, atol=1e-6)
    assert clipped.dtype == np.bool_ and clipped.shape == (rows,)


def test_softmax_cross_entropy_flags_clipped_labelled_rows():
    p = np.array([[1.0, 0.0, 0.0], [0.5, 0.25, 0.25], [1.0, 0.0, 0.0]], np.float32)
    y = np.array([[0, 1, 0], [1, 0, 0], [1, 0, 0]], np.float32)
    values, _, clipped = _core.softmax_cross_entropy(p, y, False, 1e-7)
    assert clipped.tolist() == [True, False, True]
    np.testing.assert_allclose(values, [-np.log(1e-7), -np.log(0.5), -np.log(1 - 1e-7)], rtol=1e-6)


# ---- optimizer steps --------------------------------------------------------------------------

def f32(v):
    return np.float32(v)


@pytest.mark.parametrize("n", [1, 15, 16, 17, 1000, 70001])
def test_optimizer_steps_match_numpy_bit_for_bit(isa, n):
    w0 = RNG.normal(size=n).astype(np.float32)
    g = RNG.normal(size=n).astype(np.float32)
    m0 = RNG.normal(size=n).astype(np.float32)
    v0 = (np.abs(RNG.normal(size=n)) + 0.05).astype(np.float32)
    a0 = RNG.normal(0, 0.05, size=n).astype(np.float32)   # keeps v - a*a positive
    lr, mu = 0.01, 0.9
    for nesterov in (False, True):
        w, m = w0.copy(), m0.copy()
        _core.sgd_step(w, g, m, lr, mu, nesterov)
        rm = m0 * f32(mu) - g * f32(lr)
        rw = w0 + (rm * f32(mu) - g * f32(lr) if nesterov else rm)
        np.testing.assert_array_equal(m, rm)
        np.testing.assert_array_equal(w, rw)
    w = w0.copy()
    _core.sgd_step(w, g, None, lr, 0.0, False)
    np.testing.assert_array_equal(w, w0 - g * f32(lr))

    w, m, v = w0.copy(), m0.copy(), v0.copy()
    _core.adam_step(w, g, m, v, 0.003, 0.9, 0.999, 1e-7)
    rm = m0 + (g - m0) * f32(1 - 0.9)
    rv = v0 + (g * g - v0) * f32(1 - 0.999)
    np.testing.assert_array_equal(m, rm)
    np.testing.assert_array_equal(v, rv)
    np.testing.assert_array_equal(w, w0 - (rm * f32(0.003)) / (np.sqrt(rv) + f32(1e-7)))

    for centered, momentum in ((False, 0.0), (True, 0.5)):
        w, v, m, a = w0.copy(), v0.copy(), m0.copy(), a0.copy()
        _core.rmsprop_step(w, g, v, m if momentum else None, a if centered else None,
                           lr, 0.9, momentum, 1e-7)
        rv = v0 * f32(0.9) + f32(1 - 0.9) * (g * g)
        if centered:
            ra = a0 * f32(0.9) + f32(1 - 0.9) * g
            denom = (rv - ra * ra) + f32(1e-7)
            np.testing.assert_array_equal(a, ra)
        else:
            denom = rv + f32(1e-7)
        inc = (f32(lr) * g) / np.sqrt(denom)
        if momentum:
            inc = m0 * f32(momentum) + inc
            np.testing.assert_array_equal(m, inc)
        np.testing.assert_array_equal(v, rv)
        np.testing.assert_array_equal(w, w0 - inc)


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 300), st.floats(0.0, 1.0), st.floats(1e-4, 1.0))
def test_sgd_step_property(n, momentum, lr):
    rng = np.random.default_rng(n)
    w0, g = rng.normal(size=n).astype(np.float32), rng.normal(size=n).astype(np.float32)
    w, m = w0.copy(), np.zeros(n, np.float32)
    _core.sgd_step(w, g, m, lr, momentum, False)
    # From zero momentum, the first step is plain gradient descent.
    np.testing.assert_array_equal(w, w0 + (np.float32(0) - g * np.float32(lr)))


# ---- bad input ----------------------------------------------------------------------------------

def test_training_kernels_reject_bad_input():
    x = np.ones((4, 3), np.float32)
    c3 = np.ones(3, np.float32)
    with pytest.raises(ValueError, match="gamma"):
        _core.batch_norm_train(x, np.ones(2, np.float32), c3, 1e-3)
    with pytest.raises(ValueError, match="epsilon"):
        _core.batch_norm_train(x, c3, c3, 0.0)
    with pytest.raises(ValueError, match="x must not be empty"):
        _core.batch_norm_train(np.ones((0, 3), np.float32), c3, c3, 1e-3)
    with pytest.raises(ValueError, match="dy"):
        _core.batch_norm_backward(np.ones((4, 2), np.float32), x, c3, c3)
    with pytest.raises(ValueError, match="keep"):
        _core.dropout(x, 0.0, 1)
    with pytest.raises(ValueError, match="y must have the shape"):
        _core.softmax_cross_entropy(x, np.ones((4, 2), np.float32), True, 1e-7)
    g = np.ones(5, np.float32)
    with pytest.raises(TypeError, match="w must be a float32 array"):
        _core.sgd_step(np.ones(5), g, None, 0.1, 0.0, False)
    with pytest.raises(ValueError, match="m must have the shape of g"):
        _core.sgd_step(np.ones(5, np.float32), g, np.ones(4, np.float32), 0.1, 0.9, False)
    with pytest.raises(ValueError, match="C-contiguous"):
        _core.adam_step(np.ones(10, np.float32)[::2], g, np.ones(5, np.float32), np.ones(5, np.float32),
                        0.1, 0.9, 0.999, 1e-7)
    ro = np.ones(5, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        _core.rmsprop_step(np.ones(5, np.float32), g, ro, None, None, 0.1, 0.9, 0.0, 1e-7)
    with pytest.raises(ValueError, match="learning_rate must be finite"):
        _core.sgd_step(np.ones(5, np.float32), g, None, float("nan"), 0.0, False)


# ---- the output buffer cache ------------------------------------------------------------------

def test_large_outputs_are_reused_from_the_buffer_cache():
    from foveal import utils
    from foveal.nn import functional as F

    utils.release_buffer_cache()
    info = utils.buffer_cache_info()
    assert info["cached_bytes"] == 0 and info["capacity_bytes"] > 0
    x = RNG.normal(size=(8, 64, 64, 16)).astype(np.float32)    # 2 MiB: cached
    y = F.relu(x)
    ptr = y.ctypes.data
    expect = np.maximum(x, 0)
    np.testing.assert_array_equal(y, expect)
    del y
    assert utils.buffer_cache_info()["cached_bytes"] >= x.nbytes
    y2 = F.relu(x * 2)                                           # same size: the same memory
    assert y2.ctypes.data == ptr
    np.testing.assert_array_equal(y2, np.maximum(x * 2, 0))     # fully overwritten
    assert utils.buffer_cache_info()["cached_bytes"] == 0
    view = y2[1:3]                                               # a view keeps the buffer alive
    del y2
    assert utils.buffer_cache_info()["cached_bytes"] == 0
    np.testing.assert_array_equal(view, np.maximum(x * 2, 0)[1:3])
    del view
    assert utils.buffer_cache_info()["cached_bytes"] >= x.nbytes
    utils.release_buffer_cache()
    assert utils.buffer_cache_info()["cached_bytes"] == 0
    small = F.relu(np.ones((4, 4), np.float32))                  # small arrays: plain allocator
    del small
    assert utils.buffer_cache_info()["cached_bytes"] == 0
