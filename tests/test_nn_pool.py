"""max_pool2d, avg_pool2d and the global pools against the float64 NumPy reference."""
import math

import numpy as np
import pytest

import foveal.nn.functional as F
import reference
from check import check_op, check_same_result
from inputs import rand

CHANNELS = (1, 3, 7, 15, 16, 17, 31, 32, 33, 64, 65)
POOLS = ("max_pool2d", "avg_pool2d")


def pool_cases(seed, count):
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        pool = int(rng.integers(1, 8)) if rng.random() < 0.6 else \
            (int(rng.integers(1, 8)), int(rng.integers(1, 8)))
        strides = None if rng.random() < 0.35 else (
            int(rng.integers(1, 4)) if rng.random() < 0.5 else
            (int(rng.integers(1, 4)), int(rng.integers(1, 4))))
        case = dict(n=int(rng.integers(1, 5)), h=int(rng.integers(1, 38)),
                    w=int(rng.integers(1, 38)), c=int(rng.choice(CHANNELS)), pool_size=pool,
                    strides=strides, padding=str(rng.choice(["valid", "same"])),
                    seed=len(cases))
        s = pool if strides is None else strides
        if 0 not in reference.conv_output_shape((1, case["h"], case["w"], 1),
                                                reference.pair(pool), s, case["padding"], 1):
            cases.append(case)
    return cases


SWEEP = pool_cases(seed=31337, count=100)


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("case", SWEEP, ids=[
    f"n{c['n']}_{c['h']}x{c['w']}_c{c['c']}_p{c['pool_size']}_s{c['strides']}_{c['padding']}"
    .replace(" ", "") for c in SWEEP])
def test_pool_random_sweep(isa, op, case):
    rng = np.random.default_rng([555, case["seed"]])
    x = rand(rng, case["n"], case["h"], case["w"], case["c"])
    check_op(op, x, pool_size=case["pool_size"], strides=case["strides"],
             padding=case["padding"])


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("shape,kwargs", [
    ((1, 4, 4, 1), dict()),                                   # defaults: 2x2, strides 2
    ((2, 5, 5, 3), dict()),                                   # odd size, valid drops the edge
    ((2, 5, 7, 3), dict(padding="same")),
    ((1, 9, 9, 16), dict(pool_size=3, strides=1, padding="same")),
    ((3, 10, 11, 17), dict(pool_size=(2, 3), strides=(1, 2))),
    ((1, 6, 6, 2), dict(pool_size=2, strides=3)),             # strides larger than the pool
    ((2, 1, 1, 5), dict(pool_size=1)),
    ((2, 1, 9, 5), dict(pool_size=(1, 4), padding="same")),
    ((2, 3, 3, 33), dict(pool_size=7, padding="same")),       # pool larger than the input
    ((2, 56, 56, 64), dict(pool_size=3, strides=2, padding="same")),
    ((1, 37, 37, 65), dict(pool_size=2)),
])
def test_pool_cases(isa, op, shape, kwargs):
    check_op(op, rand(np.random.default_rng(sum(shape)), *shape), **kwargs)


@pytest.mark.parametrize("op", ["max_pool2d", "avg_pool2d"])
@pytest.mark.parametrize("c,kwargs", [(64, dict()), (36, dict(padding="same")),
                                      (20, dict(pool_size=3, strides=2))])
def test_pool_input_and_output_larger_than_the_caches(isa, op, c, kwargs):
    """Input and output together over 16 MiB: the output is written with streaming stores
    (whole aligned vectors; channel tails and borders as before), the same bits as the same
    images one at a time (small: plain stores), and the reference's values."""
    rng = np.random.default_rng(c)
    n = -(-(15 << 20) // (32 * 32 * c * 4))              # an input of just over 15 MiB
    x = rand(rng, n, 32, 32, c)
    fn = getattr(F, op)
    whole = fn(x, **kwargs)
    assert x.nbytes + whole.nbytes > 16 << 20
    each = np.concatenate([fn(x[i:i + 1], **kwargs) for i in range(n)])
    assert np.array_equal(whole, each)
    check_op(op, x[:2], **kwargs)


def test_avg_pool2d_same_excludes_padding_from_divisor(isa):
    x = np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    out = F.avg_pool2d(x, 2, padding="same")
    np.testing.assert_allclose(out[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]], rtol=1e-6)


def test_max_pool2d_same_padding_never_wins(isa):
    x = -np.arange(1, 10, dtype=np.float32).reshape(1, 3, 3, 1)
    out = F.max_pool2d(x, 2, padding="same")
    np.testing.assert_array_equal(out[0, :, :, 0], [[-1.0, -3.0], [-7.0, -9.0]])
    out = F.max_pool2d(x - 100, 3, strides=1, padding="same")
    np.testing.assert_array_equal(out[0, :, :, 0],
                                  [[-101, -101, -102], [-101, -101, -102], [-104, -104, -105]])


@pytest.mark.parametrize("op", POOLS)
@pytest.mark.parametrize("size,pool,strides", [(5, 2, None), (6, 3, 2), (7, 3, 3), (1, 4, 1),
                                               (10, 3, None)])
def test_pool_same_output_shape(isa, op, size, pool, strides):
    out = getattr(F, op)(np.ones((1, size, size + 2, 3), np.float32), pool, strides, "same")
    s = pool if strides is None else strides
    assert out.shape == (1, math.ceil(size / s), math.ceil((size + 2) / s), 3)


@pytest.mark.parametrize("op", ("global_avg_pool2d", "global_max_pool2d"))
@pytest.mark.parametrize("shape", [(1, 1, 1, 1), (2, 3, 5, 7), (4, 7, 7, 16), (3, 13, 1, 17),
                                   (2, 1, 9, 33), (2, 37, 36, 65), (1, 14, 14, 512)])
def test_global_pool(isa, op, shape):
    out = check_op(op, rand(np.random.default_rng(sum(shape)), *shape))
    assert out.shape == (shape[0], shape[3])


@pytest.mark.parametrize("op", POOLS + ("global_avg_pool2d", "global_max_pool2d"))
def test_pool_converts_noncontiguous_and_dtypes(isa, op):
    rng = np.random.default_rng(3)
    x = rand(rng, 2, 8, 9, 5)
    xt = np.ascontiguousarray(x.transpose(0, 2, 1, 3)).transpose(0, 2, 1, 3)
    big = np.zeros((2, 16, 9, 10), np.float32)
    big[:, ::2, ::-1, ::2] = x
    fn = getattr(F, op)
    for variant in (xt, big[:, ::2, ::-1, ::2], x.astype(np.float64), x.tolist()):
        check_same_result(fn, (x,), (variant,))
    xi = rng.integers(-50, 50, size=(1, 6, 6, 3))
    check_same_result(fn, (xi.astype(np.float32),), (xi,))
