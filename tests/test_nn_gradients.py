"""The gradients of foveal.nn.functional, on every ISA, checked without trusting a backward pass:

* every reference gradient (tests/reference/nn.py) against central finite differences of the
  reference forward (float64), and foveal's gradients against central finite differences of
  foveal's own forward (float32, steps chosen so that the difference quotient is exact up to
  rounding);
* properties on hypothesis-drawn configurations (a backward is the adjoint of its forward).

test_nn_backward.py compares the backward passes with the reference directly.
The loss behind every gradient is ``L = sum(w * f(inputs))``, so ``dy = w``.
"""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import foveal.nn.functional as F
import reference as R
from check import numeric_grad
from inputs import (backward_conv_cases, backward_conv_id, backward_conv_problem,
                    conv_out_shape, pool_out_shape, rand, random_pair, random_padding)

ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh")


# ----------------------------------------------------------------------------- finite differences
def fd_configs(seed, count):
    """Small convolution problems for the coordinate-by-coordinate difference checks."""
    return backward_conv_cases(seed, count, max_size=6, max_kernel=3, channels=(1, 2, 3, 4),
                               max_n=2, group_mults=((1, 2), (1, 2)))


FD_CONV = fd_configs(seed=5150, count=20)


def _conv_fd_problem(c):
    dy, x, kernel, kw = backward_conv_problem(c, salt=1)
    return dy.astype(np.float64), x.astype(np.float64), kernel.astype(np.float64), kw


@pytest.mark.parametrize("case", FD_CONV, ids=[backward_conv_id(c) for c in FD_CONV])
def test_reference_conv2d_backward_finite_differences(case):
    w, x, kernel, kw = _conv_fd_problem(case)
    g = case["groups"]
    bias = np.random.default_rng(case["seed"]).standard_normal(kernel.shape[3])
    act = ACTIVATIONS[case["seed"] % len(ACTIVATIONS)]

    def loss():
        return float((w * R.conv2d(x, kernel, bias, groups=g, activation=act, **kw)).sum())

    y = R.conv2d(x, kernel, bias, groups=g, activation=act, **kw)
    dpre = R.activation_backward(w, y, act)
    dx, dk, db = R.conv2d_backward(dpre, x, kernel, groups=g, **kw)
    for name, got, arr in (("dx", dx, x), ("dkernel", dk, kernel), ("dbias", db, bias)):
        num = numeric_grad(loss, arr, 1e-6)
        np.testing.assert_allclose(got, num, rtol=1e-6, atol=1e-7 * max(1, np.abs(num).max()),
                                   err_msg=f"{name} {act} {backward_conv_id(case)}")


@pytest.mark.parametrize("seed", range(6))
def test_reference_depthwise_backward_finite_differences(seed):
    rng = np.random.default_rng(seed)
    c, m = int(rng.integers(1, 4)), int(rng.integers(1, 3))
    kw = dict(strides=random_pair(rng, 1, 2), padding=random_padding(rng, 2),
              dilation_rate=random_pair(rng, 1, 2))
    x = rng.standard_normal((2, 6, 5, c))
    kernel = rng.standard_normal((2, 3, c, m))
    if 0 in conv_out_shape(2, 6, 5, (2, 3), 1, **kw):
        kw["padding"] = "same"
    w = rng.standard_normal(conv_out_shape(2, 6, 5, (2, 3), c * m, **kw))
    bias = rng.standard_normal(c * m)

    def loss():
        return float((w * R.depthwise_conv2d(x, kernel, bias, **kw)).sum())

    dx, dk, db = R.depthwise_conv2d_backward(w, x, kernel, **kw)
    for got, arr in ((dx, x), (dk, kernel), (db, bias)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr, 1e-6), rtol=1e-6, atol=1e-8)


def separated(rng, shape, spacing=1.0):
    """Distinct values at least ``spacing`` apart: no window has a tie to break."""
    return (rng.permutation(int(np.prod(shape))).reshape(shape) - np.prod(shape) / 2) * spacing


@pytest.mark.parametrize("op", ("max_pool2d", "avg_pool2d"))
@pytest.mark.parametrize("kw", [dict(), dict(pool_size=3, strides=1, padding="same"),
                                dict(pool_size=(2, 3), strides=(1, 2), padding="same"),
                                dict(pool_size=3, strides=2), dict(pool_size=(3, 1), strides=3,
                                                                   padding="same")])
def test_reference_pool_backward_finite_differences(op, kw):
    rng = np.random.default_rng(len(str(kw)))
    x = separated(rng, (2, 7, 6, 3), 0.1)
    w = rng.standard_normal(pool_out_shape(x.shape, **kw))

    def loss():
        return float((w * getattr(R, op)(x, **kw)).sum())

    np.testing.assert_allclose(getattr(R, op + "_backward")(w, x, **kw),
                               numeric_grad(loss, x, 1e-6), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("op", ("global_avg_pool2d", "global_max_pool2d"))
def test_reference_global_pool_backward_finite_differences(op):
    rng = np.random.default_rng(1)
    x = separated(rng, (2, 4, 3, 5), 0.1)
    w = rng.standard_normal((2, 5))

    def loss():
        return float((w * getattr(R, op)(x)).sum())

    np.testing.assert_allclose(getattr(R, op + "_backward")(w, x), numeric_grad(loss, x, 1e-6),
                               rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_reference_dense_and_activation_backward_finite_differences(activation):
    rng = np.random.default_rng(len(activation))
    x, kernel = rng.standard_normal((3, 2, 6)), rng.standard_normal((6, 4))
    bias, w = rng.standard_normal(4), rng.standard_normal((3, 2, 4))

    def loss():
        return float((w * R.dense(x, kernel, bias, activation=activation)).sum())

    dpre = R.activation_backward(w, R.dense(x, kernel, bias, activation=activation), activation)
    dx, dk, db = R.dense_backward(dpre, x, kernel)
    for got, arr in ((dx, x), (dk, kernel), (db, bias)):
        np.testing.assert_allclose(got, numeric_grad(loss, arr, 1e-6), rtol=1e-6, atol=1e-8)


# foveal's own gradients against differences of foveal's own (float32) forward. The steps keep
# the quotient exact up to rounding: convolution, dense and average pooling are linear (any
# step); max pooling and relu are piecewise linear, their data separated by more than the step.
def _fd_tol(num, got):
    return 1e-4 * max(1.0, float(np.abs(num).max()), float(np.abs(got).max()))


@pytest.mark.parametrize("case", FD_CONV[:8], ids=[backward_conv_id(c) for c in FD_CONV[:8]])
def test_conv2d_backward_finite_differences(isa, case):
    w, x, kernel, kw = backward_conv_problem(case, salt=2)
    g = case["groups"]

    def loss():
        return float((w.astype(np.float64) * F.conv2d(x, kernel, groups=g, **kw)).sum())

    dx, dk, db = F.conv2d_backward(w, x, kernel, groups=g, **kw)
    for name, got, arr in (("dx", dx, x), ("dkernel", dk, kernel)):
        num = numeric_grad(loss, arr, 1.0)
        np.testing.assert_allclose(got, num, rtol=0, atol=_fd_tol(num, got),
                                   err_msg=f"{name} {backward_conv_id(case)}")
    np.testing.assert_allclose(db, w.sum(axis=(0, 1, 2), dtype=np.float64), rtol=1e-5,
                               atol=1e-5 * np.abs(w).sum(axis=(0, 1, 2)).max())


@pytest.mark.parametrize("seed", range(3))
def test_depthwise_conv2d_backward_finite_differences(isa, seed):
    rng = np.random.default_rng([7, seed])
    c, m = [(1, 3), (2, 1), (3, 2)][seed]
    kw = [dict(padding="same"), dict(strides=2, padding=1), dict(dilation_rate=(2, 1))][seed]
    x, kernel = rand(rng, 2, 5, 6, c), rand(rng, 3, 2, c, m)
    w = rand(rng, *conv_out_shape(2, 5, 6, (3, 2), c * m, **kw))

    def loss():
        return float((w.astype(np.float64) * F.depthwise_conv2d(x, kernel, **kw)).sum())

    dx, dk, _ = F.depthwise_conv2d_backward(w, x, kernel, **kw)
    for got, arr in ((dx, x), (dk, kernel)):
        num = numeric_grad(loss, arr, 1.0)
        np.testing.assert_allclose(got, num, rtol=0, atol=_fd_tol(num, got))


POOL_FD = [(op, kw) for op in ("max_pool2d", "avg_pool2d")
           for kw in (dict(), dict(pool_size=3, strides=1, padding="same"),
                      dict(pool_size=(2, 3), strides=(2, 1), padding="same"))]
POOL_FD += [("global_avg_pool2d", {}), ("global_max_pool2d", {})]


@pytest.mark.parametrize("op,kw", POOL_FD, ids=[f"{op}{kw}".replace(" ", "") for op, kw in POOL_FD])
def test_pool_backward_finite_differences(isa, op, kw):
    out_shape = (2, 3) if op.startswith("global") else pool_out_shape((2, 5, 6, 3), **kw)
    rng = np.random.default_rng(len(str(kw)) + len(op))
    x = separated(rng, (2, 5, 6, 3)).astype(np.float32)   # integers: exact in float32
    w = rand(rng, *out_shape)

    def loss():
        return float((w.astype(np.float64) * getattr(F, op)(x, **kw)).sum())

    got = getattr(F, op + "_backward")(w, x, **kw)
    num = numeric_grad(loss, x, 0.25)
    np.testing.assert_allclose(got, num, rtol=0, atol=_fd_tol(num, got))


@pytest.mark.parametrize("need_dx", [True, False])
def test_dense_backward_finite_differences(isa, need_dx):
    rng = np.random.default_rng(8)
    x, kernel, w = rand(rng, 4, 9), rand(rng, 9, 5), rand(rng, 4, 5)

    def loss():
        return float((w.astype(np.float64) * F.dense(x, kernel)).sum())

    dx, dk, db = F.dense_backward(w, x, kernel, need_dx=need_dx)
    pairs = [(dk, kernel)] + ([(dx, x)] if need_dx else [])
    assert (dx is None) == (not need_dx)
    for got, arr in pairs:
        num = numeric_grad(loss, arr, 1.0)
        np.testing.assert_allclose(got, num, rtol=0, atol=_fd_tol(num, got))
    np.testing.assert_allclose(db, w.sum(axis=0), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_backward_finite_differences(isa, activation):
    """Elementwise: perturbing every element at once gives every derivative at once. The
    forward is foveal's (dense with an identity kernel applies the activation alone)."""
    rng = np.random.default_rng(9)
    x = rand(rng, 6, 17) * np.float32(2)
    x = np.where(np.abs(x) < 0.1, np.float32(0.5), x)  # relu: stay off the kink
    w = rand(rng, 6, 17)
    eye = np.eye(17, dtype=np.float32)

    def fwd(v):
        return F.dense(v, eye, activation=activation).astype(np.float64)

    eps = 0.05 if activation in ("linear", "relu") else 1e-2
    hi, lo = x + np.float32(eps), x - np.float32(eps)
    num = w * (fwd(hi) - fwd(lo)) / (hi.astype(np.float64) - lo)
    got = F.activation_backward(w, fwd(x).astype(np.float32), activation)
    # float32 forward values differenced over 2*eps: rounding / (2 eps) plus eps^2 curvature
    np.testing.assert_allclose(got, num, rtol=0, atol=2e-4 * np.abs(w).max())


# ----------------------------------------------------------------------------- properties
sizes = st.integers(1, 10)
seeds = st.integers(0, 2**32 - 1)
paddings = st.one_of(
    st.sampled_from(["valid", "same"]), st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)),
              st.tuples(st.integers(0, 3), st.integers(0, 3))))
pairs_1_3 = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@st.composite
def conv_configs(draw):
    kind = draw(st.sampled_from(["dense", "grouped", "depthwise"]))
    if kind == "depthwise":
        cin = draw(st.sampled_from([1, 3, 8, 17]))
        groups, cout = cin, cin * draw(st.integers(1, 2))
    else:
        groups = 1 if kind == "dense" else draw(st.sampled_from([2, 3]))
        cin, cout = groups * draw(st.integers(1, 9)), groups * draw(st.integers(1, 9))
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    kw = dict(strides=draw(pairs_1_3), padding=draw(paddings),
              dilation_rate=draw(st.one_of(st.just(1), pairs_1_3)))
    h, w = draw(sizes), draw(sizes)
    if 0 in R.conv_output_shape((1, h, w, 1), k, kw["strides"], kw["padding"],
                                kw["dilation_rate"]):
        kw["padding"] = "same"
    return dict(n=draw(st.integers(1, 3)), h=h, w=w, cin=cin, cout=cout, k=k, groups=groups,
                kw=kw)


def _dot(a, b):
    return float(np.vdot(np.asarray(a, np.float64), np.asarray(b, np.float64)))


@given(cfg=conv_configs(), seed=seeds)
def test_conv2d_backward_is_the_adjoint_of_conv2d(isa, cfg, seed):
    """<conv2d(x, k), dy> == <x, dx> == <k, dkernel>, and dbias == dy summed."""
    rng = np.random.default_rng(seed)
    kw, g = cfg["kw"], cfg["groups"]
    x = rand(rng, cfg["n"], cfg["h"], cfg["w"], cfg["cin"])
    kernel = rand(rng, *cfg["k"], cfg["cin"] // g, cfg["cout"])
    dy = rand(rng, *conv_out_shape(cfg["n"], cfg["h"], cfg["w"], cfg["k"], cfg["cout"], **kw))
    y = F.conv2d(x, kernel, groups=g, **kw)
    dx, dk, db = F.conv2d_backward(dy, x, kernel, groups=g, **kw)
    # the sum of |every product term|, the scale of float32 accumulation errors
    total = _dot(R.conv2d(np.abs(x), np.abs(kernel), groups=g, **kw), np.abs(dy))
    lhs = _dot(y, dy)
    assert abs(_dot(x, dx) - lhs) <= 1e-4 * total + 1e-30
    assert abs(_dot(kernel, dk) - lhs) <= 1e-4 * total + 1e-30
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2), dtype=np.float64), rtol=0,
                               atol=1e-5 * np.abs(dy).sum(axis=(0, 1, 2)).max())


@given(c=st.sampled_from([1, 2, 5, 16, 17]), m=st.integers(1, 3), h=sizes, w=sizes,
       k=st.tuples(st.integers(1, 4), st.integers(1, 4)), strides=pairs_1_3, padding=paddings,
       seed=seeds)
def test_depthwise_backward_is_the_adjoint(isa, c, m, h, w, k, strides, padding, seed):
    kw = dict(strides=strides, padding=padding)
    if 0 in conv_out_shape(1, h, w, k, 1, **kw):
        kw["padding"] = "same"
    rng = np.random.default_rng(seed)
    x, kernel = rand(rng, 2, h, w, c), rand(rng, *k, c, m)
    dy = rand(rng, *conv_out_shape(2, h, w, k, c * m, **kw))
    dx, dk, _ = F.depthwise_conv2d_backward(dy, x, kernel, **kw)
    lhs = _dot(F.depthwise_conv2d(x, kernel, **kw), dy)
    total = _dot(R.depthwise_conv2d(np.abs(x), np.abs(kernel), **kw), np.abs(dy))
    assert abs(_dot(x, dx) - lhs) <= 1e-4 * total + 1e-30
    assert abs(_dot(kernel, dk) - lhs) <= 1e-4 * total + 1e-30


@given(n=st.integers(1, 9), fin=st.integers(1, 40), fout=st.integers(1, 40), seed=seeds)
def test_dense_backward_is_the_adjoint(isa, n, fin, fout, seed):
    rng = np.random.default_rng(seed)
    x, kernel, dy = rand(rng, n, fin), rand(rng, fin, fout), rand(rng, n, fout)
    dx, dk, db = F.dense_backward(dy, x, kernel)
    lhs = _dot(F.dense(x, kernel), dy)
    total = _dot(np.abs(x).astype(np.float64) @ np.abs(kernel), np.abs(dy))
    assert abs(_dot(x, dx) - lhs) <= 1e-4 * total
    assert abs(_dot(kernel, dk) - lhs) <= 1e-4 * total
    np.testing.assert_allclose(db, dy.sum(axis=0, dtype=np.float64), rtol=0,
                               atol=1e-5 * np.abs(dy).sum(axis=0).max())


@st.composite
def pool_configs(draw):
    pool = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    strides = draw(st.one_of(st.none(), pairs_1_3))
    padding = draw(st.sampled_from(["valid", "same"]))
    h, w = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    if padding == "valid":
        h, w = max(h, pool[0]), max(w, pool[1])
    shape = (draw(st.integers(1, 3)), h, w, draw(st.sampled_from([1, 3, 8, 16, 17, 33])))
    return shape, dict(pool_size=pool, strides=strides, padding=padding)


@given(cfg=pool_configs(), seed=seeds, ties=st.booleans())
def test_pool_backward_is_the_adjoint(isa, cfg, seed, ties):
    """Pooling is linear in x for a fixed choice of maxima: <pool(x), dy> == <x, dx>.
    Every dy lands somewhere: sum(dx) == sum(dy). Max pooling only writes to window maxima."""
    shape, kw = cfg
    rng = np.random.default_rng(seed)
    x = rng.integers(-2, 3, size=shape).astype(np.float32) if ties else rand(rng, *shape)
    dy = rand(rng, *pool_out_shape(shape, **kw))
    for op in ("max_pool2d", "avg_pool2d"):
        dx = getattr(F, op + "_backward")(dy, x, **kw)
        y = getattr(F, op)(x, **kw)
        total = _dot(np.abs(y), np.abs(dy))
        assert abs(_dot(x, dx) - _dot(y, dy)) <= 1e-5 * total + 1e-30, op
        assert abs(float(dx.sum(dtype=np.float64)) - float(dy.sum(dtype=np.float64))) <= \
            1e-5 * float(np.abs(dy).sum(dtype=np.float64)), op
    # only cells holding a window's maximum receive something, at most one per window
    dx = F.max_pool2d_backward(np.ones_like(dy), x, **kw)
    assert np.isin(x[dx > 0], F.max_pool2d(x, **kw)).all()
    assert int(np.count_nonzero(dx)) <= dy.size
