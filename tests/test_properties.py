"""Properties that hold whatever the shapes: checked on hypothesis-drawn configurations."""
import numpy as np
from hypothesis import given, strategies as st

import foveal.nn.functional as F
import reference

sizes = st.integers(1, 12)
channels = st.sampled_from([1, 2, 3, 5, 8, 16, 17, 33])
seeds = st.integers(0, 2**32 - 1)
paddings = st.one_of(
    st.sampled_from(["valid", "same"]),
    st.integers(0, 3),
    st.tuples(st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.tuples(st.integers(0, 3), st.integers(0, 3)),
              st.tuples(st.integers(0, 3), st.integers(0, 3))),
)
pairs_1_3 = st.one_of(st.integers(1, 3), st.tuples(st.integers(1, 3), st.integers(1, 3)))


@st.composite
def conv_configs(draw):
    groups = draw(st.sampled_from([1, 1, 2, 3]))
    cfg = dict(n=draw(st.integers(1, 3)), h=draw(sizes), w=draw(sizes),
               cin=groups * draw(st.integers(1, 9)), cout=groups * draw(st.integers(1, 9)),
               k=(draw(st.integers(1, 5)), draw(st.integers(1, 5))),
               kwargs=dict(strides=draw(pairs_1_3), padding=draw(paddings),
                           dilation_rate=draw(st.one_of(st.just(1), pairs_1_3)),
                           groups=groups))
    # only configurations where the dilated kernel fits the padded input
    kw = cfg["kwargs"]
    out = reference.conv_output_shape((1, cfg["h"], cfg["w"], 1), cfg["k"], kw["strides"],
                                      kw["padding"], kw["dilation_rate"])
    if 0 in out:
        cfg["h"] += reference.pair(kw["dilation_rate"])[0] * (cfg["k"][0] - 1)
        cfg["w"] += reference.pair(kw["dilation_rate"])[1] * (cfg["k"][1] - 1)
    return cfg


@given(cfg=conv_configs(), a=st.floats(-3, 3), b=st.floats(-3, 3), seed=seeds)
def test_conv2d_is_linear(isa, cfg, a, b, seed):
    rng = np.random.default_rng(seed)
    shape = (cfg["n"], cfg["h"], cfg["w"], cfg["cin"])
    x = rng.standard_normal(shape, dtype=np.float32)
    y = rng.standard_normal(shape, dtype=np.float32)
    groups = cfg["kwargs"]["groups"]
    kernel = rng.standard_normal((*cfg["k"], cfg["cin"] // groups, cfg["cout"]),
                                 dtype=np.float32)
    cx = F.conv2d(x, kernel, **cfg["kwargs"]).astype(np.float64)
    cy = F.conv2d(y, kernel, **cfg["kwargs"]).astype(np.float64)
    mixed = (a * x.astype(np.float64) + b * y).astype(np.float32)
    lhs = F.conv2d(mixed, kernel, **cfg["kwargs"])
    rhs = a * cx + b * cy
    scale = max(1.0, float(np.abs(a * cx).max() + np.abs(b * cy).max()))
    np.testing.assert_allclose(lhs, rhs, rtol=0, atol=1e-4 * scale)


@st.composite
def pool_configs(draw):
    pool = (draw(st.integers(1, 5)), draw(st.integers(1, 5)))
    strides = draw(st.one_of(st.none(), pairs_1_3))
    padding = draw(st.sampled_from(["valid", "same"]))
    h = draw(st.integers(1, 14))
    w = draw(st.integers(1, 14))
    if padding == "valid":
        h, w = max(h, pool[0]), max(w, pool[1])
    x_shape = (draw(st.integers(1, 3)), h, w, draw(channels))
    pool_size = pool[0] if pool[0] == pool[1] and draw(st.booleans()) else pool
    return x_shape, dict(pool_size=pool_size, strides=strides, padding=padding)


@given(cfg=pool_configs(), seed=seeds)
def test_max_pool2d_picks_input_values(isa, cfg, seed):
    x_shape, kwargs = cfg
    x = np.random.default_rng(seed).standard_normal(x_shape, dtype=np.float32)
    out = F.max_pool2d(x, **kwargs)
    assert out.min() >= x.min() and out.max() <= x.max()
    # every output is one of the inputs of its channel (padding never wins)
    for c in range(x_shape[3]):
        assert np.isin(out[..., c], x[..., c]).all()


@given(cfg=pool_configs(), value=st.floats(-1e3, 1e3, width=32))
def test_avg_pool2d_of_constant_is_constant(isa, cfg, value):
    x_shape, kwargs = cfg
    out = F.avg_pool2d(np.full(x_shape, value, np.float32), **kwargs)
    np.testing.assert_allclose(out, value, rtol=1e-5, atol=1e-6)
    out = F.max_pool2d(np.full(x_shape, value, np.float32), **kwargs)
    assert (out == np.float32(value)).all()


@given(shape=st.tuples(st.integers(1, 4), st.integers(1, 20), st.integers(1, 20), channels),
       seed=seeds, scale=st.sampled_from([1e-3, 1.0, 1e3]))
def test_global_pools_match_numpy(isa, shape, seed, scale):
    x = np.random.default_rng(seed).standard_normal(shape, dtype=np.float32) * np.float32(scale)
    np.testing.assert_array_equal(F.global_max_pool2d(x), x.max(axis=(1, 2)))
    mean = x.astype(np.float64).mean(axis=(1, 2))
    np.testing.assert_allclose(F.global_avg_pool2d(x), mean, rtol=1e-5,
                               atol=1e-5 * float(np.abs(x).max()))
