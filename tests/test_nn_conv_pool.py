"""F.conv2d_pool (a convolution and the pooling of its output in one pass) and the inference
fusion that runs Conv2D -> MaxPooling2D / AveragePooling2D through it: the result is the two
ops' to the bit (every ISA), near the float64 reference, and only poolable pairs fuse."""
import numpy as np
import pytest

import foveal
import foveal.nn as nn
import foveal.nn.functional as F
import reference
from check import layerwise_forward
from foveal.nn import _fusion

ACTS = (None, "relu", "relu6", "gelu", "tanh")


def _cases(seed, count):
    """Seeded shapes over the three native paths: Winograd (3x3 stride 1, enough channels; tiles
    of 2 or 4 that the window divides or not), the indirect GEMM per band, and grouped
    convolutions (the convolution, then the pooling)."""
    rng = np.random.default_rng(seed)
    cases = []
    while len(cases) < count:
        kind = ("winograd", "gemm", "grouped")[len(cases) % 3]
        k = 3 if kind == "winograd" else int(rng.choice([1, 2, 3, 5]))
        cin = int(rng.integers(8, 40)) if kind == "winograd" else int(rng.integers(1, 20))
        cout = int(rng.integers(16, 70)) if kind == "winograd" else int(rng.integers(1, 40))
        groups = 1
        if kind == "grouped":
            groups = int(rng.choice([2, 3]))
            cin, cout = cin * groups, max(1, cout // groups) * groups
        stride = 1 if kind == "winograd" else int(rng.choice([1, 1, 2]))
        pool = int(rng.choice([1, 2, 2, 3, 4])) if rng.random() < 0.7 else \
            (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
        case = dict(n=int(rng.integers(1, 4)), h=int(rng.integers(k, 30)), w=int(rng.integers(k, 30)),
                    cin=cin, cout=cout, k=k, groups=groups, stride=stride,
                    padding=str(rng.choice(["same", "valid"])), pool=pool,
                    act=ACTS[len(cases) % len(ACTS)], seed=len(cases))
        oh, ow = reference.conv_output_shape((1, case["h"], case["w"], 1), (k, k), stride,
                                             case["padding"], 1)
        ph, pw = reference.pair(pool)
        if oh >= ph and ow >= pw:
            cases.append(case)
    return cases


SWEEP = _cases(seed=2026, count=48)


def _inputs(case):
    rng = np.random.default_rng(case["seed"])
    x = rng.normal(size=(case["n"], case["h"], case["w"], case["cin"])).astype(np.float32)
    kernel = rng.normal(size=(case["k"], case["k"], case["cin"] // case["groups"], case["cout"]))
    bias = rng.normal(size=case["cout"])
    return x, kernel.astype(np.float32), bias.astype(np.float32)


def _args(case):
    return dict(strides=case["stride"], padding=case["padding"], groups=case["groups"],
                activation=case["act"])


@pytest.mark.parametrize("pool", ["max", "average"])
@pytest.mark.parametrize("case", SWEEP, ids=[f"c{c['seed']}" for c in SWEEP])
def test_conv2d_pool_is_conv2d_then_pooling_to_the_bit(case, pool, isa):
    x, kernel, bias = _inputs(case)
    got = F.conv2d_pool(x, kernel, bias, pool_size=case["pool"], pool=pool, **_args(case))
    conv = F.conv2d(x, kernel, bias, **_args(case))
    pooled = (F.max_pool2d if pool == "max" else F.avg_pool2d)(conv, case["pool"])
    assert got.shape == pooled.shape and got.dtype == np.float32
    np.testing.assert_array_equal(got, pooled)


@pytest.mark.parametrize("pool", ["max", "average"])
@pytest.mark.parametrize("case", SWEEP[:24], ids=[f"c{c['seed']}" for c in SWEEP[:24]])
def test_conv2d_pool_can_return_the_convolution_too(case, pool, isa):
    x, kernel, bias = _inputs(case)
    conv, got = F.conv2d_pool(x, kernel, bias, pool_size=case["pool"], pool=pool, return_conv=True,
                              **_args(case))
    want = F.conv2d(x, kernel, bias, **_args(case))
    np.testing.assert_array_equal(conv, want)
    np.testing.assert_array_equal(got, (F.max_pool2d if pool == "max" else F.avg_pool2d)(want, case["pool"]))


@pytest.mark.parametrize("pool", ["max", "average"])
@pytest.mark.parametrize("case", SWEEP[:12], ids=[f"c{c['seed']}" for c in SWEEP[:12]])
def test_conv2d_pool_against_float64_reference(case, pool):
    x, kernel, bias = _inputs(case)
    got = F.conv2d_pool(x, kernel, bias, pool_size=case["pool"], pool=pool, **_args(case))
    z = reference.conv2d(x.astype(np.float64), kernel.astype(np.float64), bias.astype(np.float64),
                         case["stride"], case["padding"], 1, case["groups"])
    if case["act"] is not None:
        z = reference.activation(z, case["act"])
    want = (reference.max_pool2d if pool == "max" else reference.avg_pool2d)(z, case["pool"])
    scale = np.sqrt(case["k"] * case["k"] * case["cin"] / case["groups"])
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=2e-5 * scale * 4)


def test_conv2d_pool_bad_arguments():
    x = np.zeros((1, 6, 6, 2), np.float32)
    kernel = np.zeros((3, 3, 2, 4), np.float32)
    with pytest.raises(ValueError, match="pool"):
        F.conv2d_pool(x, kernel, pool="min")
    with pytest.raises(ValueError, match="pool_size"):
        F.conv2d_pool(x, kernel, pool_size=5)   # the valid convolution is 4 x 4
    with pytest.raises(ValueError, match="pool_size"):
        F.conv2d_pool(x, kernel, pool_size=0)
    with pytest.raises(ValueError, match="kernel"):
        F.conv2d_pool(x, kernel[0])
    with pytest.raises(TypeError, match="return_conv"):
        F.conv2d_pool(x, kernel, return_conv=1)


def _course_model(act="relu", pool_layer=nn.MaxPooling2D, **pool_kwargs):
    inp = nn.Input((16, 14, 3))
    h = pool_layer(**pool_kwargs)(nn.Conv2D(8, 3, padding="same", activation=act)(inp))
    h = nn.MaxPooling2D()(nn.Conv2D(16, 3, padding="same", activation=act)(h))
    out = nn.Dense(5, activation="softmax")(nn.Flatten()(h))
    return nn.Model(inp, out)


def _conv_pools(model):
    return [s for s in model._graph._inference if isinstance(s, _fusion.ConvPool)]


@pytest.mark.parametrize("act", ["relu", "linear", "gelu"])
@pytest.mark.parametrize("pool_layer", [nn.MaxPooling2D, nn.AveragePooling2D])
def test_predict_fuses_conv_and_pooling(act, pool_layer):
    model = _course_model(act, pool_layer)
    x = np.random.default_rng(3).normal(size=(5, 16, 14, 3)).astype(np.float32)
    got = model.predict(x, verbose=0)
    np.testing.assert_array_equal(got, layerwise_forward(model, x))
    assert len(_conv_pools(model)) == 2


@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(strides=1), dict(pool_size=3, strides=2)])
def test_pooling_that_overlaps_or_pads_is_not_fused(kwargs):
    model = _course_model(**kwargs)
    x = np.random.default_rng(4).normal(size=(2, 16, 14, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), layerwise_forward(model, x))
    assert len(_conv_pools(model)) == 1   # only the second block


def test_convolution_with_another_reader_is_not_fused():
    inp = nn.Input((8, 8, 3))
    c = nn.Conv2D(4, 3, padding="same", activation="relu")(inp)
    p = nn.MaxPooling2D()(c)
    out = nn.Concatenate()([nn.Flatten()(p), nn.Flatten()(c)])
    model = nn.Model(inp, out)
    x = np.random.default_rng(5).normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_array_equal(model.predict(x, verbose=0), layerwise_forward(model, x))
    assert _conv_pools(model) == []


def test_weight_changes_show_in_the_next_predict():
    model = _course_model()
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(6).normal(size=(4, 16, 14, 3)).astype(np.float32)
    y = np.eye(5, dtype=np.float32)[[0, 1, 2, 3]]
    before = model.predict(x, verbose=0)
    model.fit(x, y, epochs=1, batch_size=4, verbose=0)
    after = model.predict(x, verbose=0)
    assert not np.array_equal(before, after)
    np.testing.assert_array_equal(after, layerwise_forward(model, x))


def _fit(act, fuse, monkeypatch):
    """The course-like model after two epochs of SGD with momentum; ``fuse=False`` keeps the
    training step's Conv2D -> pooling pairs apart."""
    with monkeypatch.context() as m:
        if not fuse:
            m.setattr(_fusion, "with_conv_pools",
                      lambda steps, output_id, training=False: list(steps))
        foveal.utils.set_random_seed(5)   # the same initial weights
        model = _course_model(act, nn.AveragePooling2D if act == "linear" else nn.MaxPooling2D)
        model.compile(optimizer=nn.optimizers.SGD(0.05, momentum=0.9), loss="categorical_crossentropy")
        rng = np.random.default_rng(8)
        x = rng.normal(size=(24, 16, 14, 3)).astype(np.float32)
        y = np.eye(5, dtype=np.float32)[rng.integers(0, 5, 24)]
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
        steps = model._graph._train_fused[1]
    return model, [s for s in steps if isinstance(s, _fusion.ConvPool)]


@pytest.mark.parametrize("act", ["relu", "linear", "gelu"])
def test_training_step_fuses_and_learns_the_same_weights(act, monkeypatch):
    fused, pairs = _fit(act, True, monkeypatch)
    plain, none = _fit(act, False, monkeypatch)
    # gelu's gradient needs its input, which the fused pass does not keep: not fused in training
    assert len(pairs) == (0 if act == "gelu" else 2) and none == []
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)
