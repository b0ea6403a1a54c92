"""dense, relu, sigmoid and softmax against the float64 NumPy reference."""
import re

import numpy as np
import pytest

import foveal.nn.functional as F
import reference
from check import check_op, check_same_result
from inputs import rand

FEATURES = (1, 3, 7, 15, 16, 17, 31, 32, 33, 64, 65, 300)
ACTIVATIONS = (None, "linear", "relu", "sigmoid", "tanh", "softmax")
NEW_ACTIVATIONS = ("relu6", "hard_sigmoid", "hard_silu", "silu", "gelu", "leaky_relu", "elu",
                   "softplus")


def dense_cases(seed, count):
    rng = np.random.default_rng(seed)
    lead_shapes = [(1,), (2,), (4,), (17,), (33,), (2, 3), (2, 3, 5)]
    return [dict(lead=lead_shapes[rng.integers(len(lead_shapes))],
                 fin=int(rng.choice(FEATURES)), fout=int(rng.choice(FEATURES)),
                 bias=bool(rng.random() < 0.5),
                 activation=ACTIVATIONS[rng.integers(len(ACTIVATIONS))], seed=i)
            for i in range(count)]


SWEEP = dense_cases(seed=4242, count=80)


@pytest.mark.parametrize("case", SWEEP, ids=[
    f"x{c['lead']}_{c['fin']}to{c['fout']}_{'b' if c['bias'] else 'nob'}_{c['activation']}"
    .replace(" ", "") for c in SWEEP])
def test_dense_random_sweep(isa, case):
    rng = np.random.default_rng([99, case["seed"]])
    x = rand(rng, *case["lead"], case["fin"])
    kernel = rand(rng, case["fin"], case["fout"])
    bias = rand(rng, case["fout"]) if case["bias"] else None
    check_op("dense", x, kernel, bias=bias, activation=case["activation"])


@pytest.mark.parametrize("activation", ACTIVATIONS + NEW_ACTIVATIONS)
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (5, 17, 10), (64, 64, 64), (65, 33, 129),
                                   (33, 1000, 65), (128, 512, 10), (13, 1500, 70),
                                   (7, 2049, 129),
                                   # many rows: B packed once for all (dense_f32's global
                                   # packing), and two blocks of rows (packed where used)
                                   (1000, 33, 65), (500, 40, 70)])
def test_dense_shapes(isa, m, k, n, activation):
    rng = np.random.default_rng(m * k + n)
    check_op("dense", rand(rng, m, k), rand(rng, k, n), bias=rand(rng, n),
             activation=activation)


def test_dense_softmax_rows_sum_to_one(isa):
    rng = np.random.default_rng(1)
    out = F.dense(rand(rng, 7, 20) * 10, rand(rng, 20, 13), activation="softmax")
    np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-5)
    assert (out >= 0).all()


def test_dense_converts_noncontiguous_and_dtypes(isa):
    rng = np.random.default_rng(2)
    x = rand(rng, 6, 20)
    kernel = rand(rng, 20, 9)
    bias = rand(rng, 9)
    base = (x, kernel, bias)
    check_same_result(F.dense, base, (np.asfortranarray(x), np.asfortranarray(kernel), bias))
    big = np.zeros((12, 40), np.float32)
    big[::2, ::-2] = x
    check_same_result(F.dense, base, (big[::2, ::-2], kernel.T.copy().T, bias))
    check_same_result(F.dense, base, (x.astype(np.float64), kernel.astype(np.float64),
                                      bias.astype(np.float64)))
    check_same_result(F.dense, base, (x.tolist(), kernel.tolist(), bias.tolist()))
    xi = rng.integers(-9, 10, size=(4, 5))
    check_same_result(F.dense, (xi.astype(np.float32), kernel[:5]), (xi, kernel[:5]))


# ----------------------------------------------------------------------------- activations
SHAPES = [(1,), (7,), (15,), (16,), (17,), (33,), (1000,), (3, 5), (4, 65), (2, 3, 4, 17),
          (2, 9, 9, 31)]


@pytest.mark.parametrize("op", ("relu", "sigmoid", "softmax"))
@pytest.mark.parametrize("shape", SHAPES, ids=[str(s).replace(" ", "") for s in SHAPES])
def test_activation(isa, op, shape):
    x = rand(np.random.default_rng(len(shape) * 100 + shape[-1]), *shape) * 4
    check_op(op, x)


@pytest.mark.parametrize("op", ("relu", "sigmoid"))
def test_elementwise_keeps_0d_shape(isa, op):
    """Never a wrong shape: a 0-D input gives a 0-D result (or is rejected, naming x)."""
    try:
        out = getattr(F, op)(np.float32(-1.5))
    except ValueError as e:
        assert re.search(r"\bx\b", str(e)), str(e)
        return
    assert out.shape == (), f"{op} of a 0-D input returned shape {out.shape}"
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, getattr(reference, op)(-1.5), rtol=1e-6)


@pytest.mark.parametrize("axis", [0, 1, 2, -1, -2, -3])
def test_softmax_axis(isa, axis):
    x = rand(np.random.default_rng(axis + 10), 3, 5, 17) * 3
    check_op("softmax", x, axis=axis)


def test_activation_extremes(isa):
    x = np.array([-1e4, -100.0, -88.0, -20.0, -1e-3, 0.0, 1e-3, 20.0, 88.0, 100.0, 1e4] * 3,
                 np.float32)
    check_op("relu", x)
    check_op("sigmoid", x)
    check_op("softmax", x.reshape(3, 11))
    check_op("softmax", np.array([[1000.0, 1000.0, 999.0], [-1000.0, -1001.0, -1000.0]],
                                 np.float32))
    for op in (F.sigmoid, F.softmax):
        assert np.isfinite(op(x)).all()


@pytest.mark.parametrize("op", ("relu", "sigmoid", "softmax"))
def test_activation_converts_noncontiguous_and_dtypes(isa, op):
    rng = np.random.default_rng(4)
    x = rand(rng, 5, 19)
    big = np.zeros((10, 38), np.float32)
    big[::2, ::-2] = x
    fn = getattr(F, op)
    for variant in (np.asfortranarray(x), big[::2, ::-2], x.astype(np.float64), x.tolist()):
        check_same_result(fn, (x,), (variant,))
    xi = rng.integers(-5, 6, size=(3, 8))
    check_same_result(fn, (xi.astype(np.float32),), (xi,))
