"""MobileNetV2's inverted-residual block in one native pass (_core.inverted_residual) and its use
by inference fusion (foveal.nn._fusion.InvertedResidual): the op against a NumPy float64
reference over a seeded sweep of shapes, strides, paddings, activations, thread counts and
ISAs; models whose [expansion ->] depthwise -> projection chains fuse give the layer-by-layer
results; chains whose inner tensors have other readers stay apart; bad arguments are named."""
import zlib

import numpy as np
import pytest

import foveal
import foveal.nn as nn
from foveal import _core
from foveal.nn import _fusion
from reference import nn as R

from check import layerwise_forward
from test_nn_fusion import _randomize_bn


def _reference(x, ek, eb, dk, db, pk, pb, strides, pads, ea, da, residual):
    """The block in float64, one layer at a time."""
    hid = dk.shape[2]
    h = x if ek is None else R.conv2d(x.astype(np.float64), ek.astype(np.float64), eb, 1, pads_zero,
                                      1, 1, None if ea == "linear" else ea)
    d = R.conv2d(np.asarray(h, np.float64), dk.reshape(dk.shape[0], dk.shape[1], 1, hid).astype(np.float64),
                 db, strides, pads, 1, hid, None if da == "linear" else da)
    y = R.conv2d(d, pk.astype(np.float64), pb, 1, pads_zero, 1, 1, None)
    return y if residual is None else y + residual


pads_zero = ((0, 0), (0, 0))


def _case(rng, n, h, w, cin, hid, cout, k, s, pads, expand, biases, with_residual):
    f = np.float32
    x = rng.standard_normal((n, h, w, cin)).astype(f)
    ek = (rng.standard_normal((1, 1, cin, hid)) * 0.4).astype(f) if expand else None
    eb = rng.standard_normal(hid).astype(f) if expand and biases else None
    dk = (rng.standard_normal((k, k, hid, 1)) * 0.4).astype(f)
    db = rng.standard_normal(hid).astype(f) if biases else None
    pk = (rng.standard_normal((1, 1, hid, cout)) * 0.4).astype(f)
    pb = rng.standard_normal(cout).astype(f) if biases else None
    oh = R.conv_output_size(h, k, s, 1, *pads[0])
    ow = R.conv_output_size(w, k, s, 1, *pads[1])
    res = rng.standard_normal((n, oh, ow, cout)).astype(f) if with_residual else None
    return x, ek, eb, dk, db, pk, pb, res


# (n, h, w, cin, hidden, cout, k, stride, pads, expand, biases, residual, activations)
SWEEP = [
    (2, 12, 11, 8, 48, 8, 3, 1, ((1, 1), (1, 1)), True, True, True, ("relu6", "relu6")),
    (3, 15, 9, 16, 96, 24, 3, 2, ((1, 1), (1, 1)), True, True, False, ("relu6", "relu6")),
    (1, 10, 10, 32, 32, 16, 3, 1, ((1, 1), (1, 1)), False, True, False, ("linear", "relu6")),
    (2, 7, 13, 5, 30, 7, 5, 2, ((2, 2), (2, 2)), True, False, False, ("relu", "relu")),
    (1, 9, 8, 6, 20, 6, 3, 2, ((0, 1), (1, 0)), True, True, False, ("silu", "hard_silu")),
    (4, 1, 1, 3, 17, 4, 1, 1, pads_zero, True, True, True, ("relu6", "linear")),
    (1, 40, 37, 24, 144, 24, 3, 1, ((1, 1), (1, 1)), True, True, True, ("relu6", "relu6")),
    # four bands of 8 output rows, stride 2: the kept row of h wraps around its ring of rows
    (1, 64, 60, 16, 192, 24, 3, 2, ((0, 1), (0, 1)), True, True, False, ("relu6", "relu6")),
    (2, 5, 6, 7, 7, 3, 3, 3, ((1, 1), (1, 1)), False, False, False, ("linear", "relu")),
]


@pytest.mark.parametrize("case", SWEEP, ids=[f"case{i}" for i in range(len(SWEEP))])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_inverted_residual_matches_float64_reference(isa, case, threads):
    n, h, w, cin, hid, cout, k, s, pads, expand, biases, with_res, (ea, da) = case
    rng = np.random.default_rng(zlib.crc32(repr(case).encode()))
    x, ek, eb, dk, db, pk, pb, res = _case(rng, n, h, w, cin, hid, cout, k, s, pads, expand, biases, with_res)
    want = _reference(x, ek, eb, dk, db, pk, pb, s, pads, ea, da, res)
    old = foveal.get_num_threads()
    foveal.set_num_threads(threads)
    try:
        got = _core.inverted_residual(x, ek, eb, dk, db, pk, pb, (s, s), pads, ea, da, res)
    finally:
        foveal.set_num_threads(old)
    assert got.shape == want.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(want).max()))


def test_inverted_residual_equals_the_layer_by_layer_ops():
    """The same sums as the separate native layers (the same GEMM and depthwise kernels)."""
    import foveal.nn.functional as F
    rng = np.random.default_rng(3)
    x, ek, eb, dk, db, pk, pb, res = _case(rng, 2, 30, 28, 16, 96, 24, 3, 2, ((0, 1), (0, 1)),
                                           True, True, False)
    h = F.conv2d(x, ek, eb, 1, "valid", activation="relu6")
    d = F.depthwise_conv2d(h, dk, db, 2, ((0, 1), (0, 1)), activation="relu6")
    want = F.conv2d(d, pk, pb, 1, "valid")
    got = _core.inverted_residual(x, ek, eb, dk, db, pk, pb, (2, 2), ((0, 1), (0, 1)), "relu6", "relu6")
    np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("expand, res", [(True, False), (False, True), (True, True)])
def test_scales_equal_kernels_multiplied_beforehand(isa, expand, res):
    """expand_scale / dw_scale / project_scale (a batch normalization folded in while the block
    packs its kernels) give the bits of kernels multiplied by the factors in NumPy."""
    rng = np.random.default_rng(11)
    cin = 5 if expand else 19
    x, ek, eb, dk, db, pk, pb, r = _case(rng, 2, 13, 11, cin, 19, 21, 3, 2, ((1, 1), (1, 1)),
                                         expand, True, res)
    es = rng.uniform(0.2, 3.0, 19).astype(np.float32) if expand else None
    ds = rng.uniform(0.2, 3.0, 19).astype(np.float32)
    ps = rng.uniform(0.2, 3.0, 21).astype(np.float32)
    common = ((2, 2), ((1, 1), (1, 1)), "relu6" if expand else "linear", "relu6", r)
    got = _core.inverted_residual(x, ek, eb, dk, db, pk, pb, *common, expand_scale=es,
                                  dw_scale=ds, project_scale=ps)
    want = _core.inverted_residual(x, None if ek is None else ek * es, eb, dk * ds.reshape(19, 1),
                                   db, pk * ps, pb, *common)
    np.testing.assert_array_equal(got, want)
    # each factor on its own
    for name, kw, ref in (("dw_scale", dict(dw_scale=ds), (ek, dk * ds.reshape(19, 1), pk)),
                          ("project_scale", dict(project_scale=ps), (ek, dk, pk * ps))):
        got = _core.inverted_residual(x, ek, eb, dk, db, pk, pb, *common, **kw)
        want = _core.inverted_residual(x, ref[0], eb, ref[1], db, ref[2], pb, *common)
        np.testing.assert_array_equal(got, want, err_msg=name)


@pytest.mark.parametrize("change, name", [
    (dict(expand_scale=np.ones(7, np.float32)), "expand_scale"),
    (dict(dw_scale=np.ones((8, 1), np.float32)), "dw_scale"),
    (dict(project_scale=np.ones(8, np.float32)), "project_scale"),
    (dict(expand_kernel=None, expand_bias=None, expand_scale=np.ones(4, np.float32)), "expand_scale"),
])
def test_bad_scales_are_named(change, name):
    args = dict(x=np.zeros((1, 6, 6, 4), np.float32), expand_kernel=np.zeros((1, 1, 4, 8), np.float32),
                expand_bias=None, dw_kernel=np.zeros((3, 3, 8, 1), np.float32), dw_bias=None,
                project_kernel=np.zeros((1, 1, 8, 4), np.float32), project_bias=None,
                strides=(1, 1), padding=((1, 1), (1, 1)), expand_activation="relu6",
                dw_activation="relu6")
    args.update(change)
    if args["expand_kernel"] is None:
        args["dw_kernel"] = np.zeros((3, 3, 4, 1), np.float32)
        args["project_kernel"] = np.zeros((1, 1, 4, 4), np.float32)
    with pytest.raises(ValueError, match=name):
        _core.inverted_residual(**args)


def _block(x, cin, expand, cout, stride, act=True):
    """A MobileNetV2 block as Keras writes it (ZeroPadding-free: 'same' depthwise padding)."""
    h = x
    if expand != 1:
        h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(cin * expand, 1, use_bias=False)(h)))
    h = nn.BatchNormalization()(nn.DepthwiseConv2D(3, strides=stride, padding="same", use_bias=False)(h))
    if act:
        h = nn.ReLU(max_value=6.0)(h)
    h = nn.BatchNormalization()(nn.Conv2D(cout, 1, use_bias=False)(h))
    if stride == 1 and cin == cout:
        h = nn.Add()([x, h])
    return h


def _mobilenet_like():
    inp = nn.Input((17, 16, 3))
    x = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(8, 3, strides=2, padding="same")(inp)))
    x = _block(x, 8, 1, 8, 1)      # no expansion, residual
    x = _block(x, 8, 6, 12, 2)     # stride 2
    x = _block(x, 12, 6, 12, 1)    # residual
    x = nn.GlobalAveragePooling2D()(x)
    return nn.Model(inp, nn.Dense(5)(x))


def test_mobilenet_blocks_fuse_and_match_layerwise():
    model = _mobilenet_like()
    _randomize_bn(model)
    x = np.random.default_rng(1).normal(size=(3, 17, 16, 3)).astype(np.float32)
    want = layerwise_forward(model, x)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    blocks = [s for s in model._graph._inference if isinstance(s, _fusion.InvertedResidual)]
    assert len(blocks) == 3
    assert [b.expand is None for b in blocks] == [True, False, False]
    assert [b.project.residual is not None for b in blocks] == [True, False, True]


def test_block_whose_inner_tensor_has_another_reader_is_not_fused():
    inp = nn.Input((8, 8, 4))
    e = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(12, 1)(inp)))
    d = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.DepthwiseConv2D(3, padding="same")(e)))
    p = nn.BatchNormalization()(nn.Conv2D(4, 1)(d))
    side = nn.GlobalAveragePooling2D()(d)     # a second reader of the depthwise output
    out = nn.Concatenate()([nn.GlobalAveragePooling2D()(p), side])
    model = nn.Model(inp, out)
    _randomize_bn(model)
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), layerwise_forward(model, x), rtol=1e-5, atol=1e-5)
    assert not any(isinstance(s, _fusion.InvertedResidual) for s in model._graph._inference)


def test_fused_block_follows_weight_changes():
    model = _mobilenet_like()
    _randomize_bn(model, 4)
    x = np.random.default_rng(3).normal(size=(2, 17, 16, 3)).astype(np.float32)
    before = model.predict(x, verbose=0)
    conv = [l for l in model.layers if isinstance(l, nn.DepthwiseConv2D)][1]
    conv.set_weights([w * 1.5 for w in conv.get_weights()])
    after = model.predict(x, verbose=0)
    assert not np.allclose(before, after)
    want = layerwise_forward(model, x)
    np.testing.assert_allclose(after, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())


@pytest.mark.parametrize("change, name", [
    (dict(expand_kernel=np.zeros((1, 1, 5, 8), np.float32)), "expand_kernel"),
    (dict(dw_kernel=np.zeros((3, 3, 7, 1), np.float32)), "dw_kernel"),
    (dict(project_kernel=np.zeros((3, 3, 8, 4), np.float32)), "project_kernel"),
    (dict(dw_bias=np.zeros(3, np.float32)), "dw_bias"),
    (dict(project_bias=np.zeros(5, np.float32)), "project_bias"),
    (dict(expand_kernel=None), "expand_bias"),
    (dict(residual=np.zeros((1, 6, 6, 5), np.float32)), "residual"),
    (dict(dw_activation="relu7"), "dw_activation"),
    (dict(expand_activation="nope"), "expand_activation"),
    (dict(strides=(0, 1)), "strides"),
    (dict(x=np.zeros((6, 6, 4), np.float32)), "x"),
])
def test_bad_arguments_are_named(change, name):
    args = dict(x=np.zeros((1, 6, 6, 4), np.float32), expand_kernel=np.zeros((1, 1, 4, 8), np.float32),
                expand_bias=np.zeros(8, np.float32), dw_kernel=np.zeros((3, 3, 8, 1), np.float32),
                dw_bias=np.zeros(8, np.float32), project_kernel=np.zeros((1, 1, 8, 4), np.float32),
                project_bias=np.zeros(4, np.float32), strides=(1, 1), padding=((1, 1), (1, 1)),
                expand_activation="relu6", dw_activation="relu6", residual=None)
    args.update(change)
    with pytest.raises(ValueError, match=name):
        _core.inverted_residual(**args)


def test_frozen_backbone_blocks_run_fused_in_training(monkeypatch):
    """A frozen MobileNetV2-style backbone under a head that learns: its blocks run as
    InvertedResidual steps in the training step too, and the step equals the unfused one."""
    def build():
        model = _mobilenet_like()
        for layer in model.layers[:-1]:      # everything but the Dense head
            layer.trainable = False
        return model

    fused, plain = build(), build()
    _randomize_bn(fused)
    plain.set_weights(fused.get_weights())
    for m in (fused, plain):
        m.compile(nn.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
    rng = np.random.default_rng(9)
    x = rng.normal(size=(4, 17, 16, 3)).astype(np.float32)
    y = rng.integers(0, 5, 4)
    with monkeypatch.context() as mp:
        mp.setattr(_fusion, "inverted_residuals", lambda steps, output_id: list(steps))
        plain.train_on_batch(x, y)
    fused.train_on_batch(x, y)
    assert len([s for s in fused._graph._train_fused[1] if isinstance(s, _fusion.InvertedResidual)]) == 3
    for _ in range(2):
        fused.train_on_batch(x, y)
        plain.train_on_batch(x, y)
    for w, a, b in zip(fused.weights, fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=w.path)
