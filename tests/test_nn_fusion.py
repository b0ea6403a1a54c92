"""Inference fusion (foveal.nn._fusion): Conv2D/DepthwiseConv2D -> BatchNormalization [->
activation] runs as one convolution with the batch norm folded in, in predict/evaluate only;
results equal the layer-by-layer forward, chains that cannot fuse are left alone, and a weight
change (training, set_weights) shows in the next predict."""
import numpy as np
import pytest

import foveal.nn as nn
from foveal.nn import _fusion


def _layerwise(model, x):
    """The inference forward one layer at a time (no fusion): the reference."""
    graph = model._graph
    vals = [None] * graph.n_slots
    vals[0] = x
    for layer, ins, out, multi in graph.steps:
        vals[out] = layer.call([vals[i] for i in ins] if multi else vals[ins[0]], False)
    return vals[graph.output_id]


def _randomize_bn(model, seed=0):
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, nn.BatchNormalization):
            c = layer.moving_mean.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, c), rng.normal(0, 0.2, c), rng.normal(0, 0.3, c),
                               rng.uniform(0.5, 2.0, c)])


def _model(act_layer, depthwise=False, use_bias=False):
    inp = nn.Input((11, 10, 6))
    conv = (nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2, use_bias=use_bias) if depthwise else
            nn.Conv2D(8, 3, strides=2, padding=((1, 0), (1, 1)), use_bias=use_bias))
    h = nn.BatchNormalization(epsilon=1e-3)(conv(inp))
    if act_layer is not None:
        h = act_layer(h)
    out = nn.Conv2D(4, 1)(h)
    return nn.Model(inp, out)


@pytest.mark.parametrize("act", [None, "relu", "relu6", "hard_silu", "gelu", "leaky_relu"])
@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
def test_fused_chain_equals_layerwise(act, depthwise, use_bias):
    layer = None
    if act == "relu6":
        layer = nn.ReLU(max_value=6.0)
    elif act is not None:
        layer = nn.Activation(act)
    model = _model(layer, depthwise, use_bias)
    _randomize_bn(model)
    x = np.random.default_rng(1).normal(size=(3, 11, 10, 6)).astype(np.float32) * 3
    want = _layerwise(model, x)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    fused = [s for s in model._graph._inference if isinstance(s, _fusion.Fused)]
    assert len(fused) == 1 and fused[0].activation == (None if act is None else layer.output_activation
                                                        if isinstance(layer, nn.ReLU) else act)


def test_chains_with_other_readers_are_not_fused():
    inp = nn.Input((8, 8, 3))
    c = nn.Conv2D(5, 3, padding="same")(inp)
    b = nn.BatchNormalization()(c)
    side = nn.Add()([c, b])                      # the conv's output has a second reader
    c2 = nn.Conv2D(5, 3, padding="same")(side)
    b2 = nn.BatchNormalization()(c2)
    r2 = nn.ReLU()(b2)
    out = nn.Add()([b2, r2])                     # the batch norm's output has a second reader
    model = nn.Model(inp, out)
    _randomize_bn(model)
    x = np.random.default_rng(2).normal(size=(2, 8, 8, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), _layerwise(model, x), rtol=1e-5, atol=1e-5)
    fused = [s for s in model._graph._inference if isinstance(s, _fusion.Fused)]
    assert len(fused) == 1 and fused[0].conv is model.layers[4] and fused[0].activation is None


def test_weight_changes_show_in_the_next_predict():
    model = _model(nn.ReLU())
    _randomize_bn(model)
    x = np.random.default_rng(3).normal(size=(8, 11, 10, 6)).astype(np.float32)
    first = model.predict(x, verbose=0)
    model.compile(nn.optimizers.SGD(0.1), "mse")
    model.fit(x, np.zeros_like(first), epochs=1, batch_size=4, verbose=0)   # trains, moves BN stats
    after = model.predict(x, verbose=0)
    assert not np.allclose(after, first)
    np.testing.assert_allclose(after, _layerwise(model, x), rtol=1e-5, atol=1e-5 * np.abs(after).max())
    conv = model.layers[1]
    conv.kernel.value[...] *= 2.0                # even an in-place change of a weight
    np.testing.assert_allclose(model.predict(x, verbose=0), _layerwise(model, x), rtol=1e-5,
                               atol=1e-5 * np.abs(after).max() * 2)


def test_training_forward_is_not_fused():
    model = _model(nn.ReLU())
    _randomize_bn(model)
    x = np.random.default_rng(4).normal(size=(4, 11, 10, 6)).astype(np.float32)
    y = model(x, training=True)          # batch statistics: differs from the folded moving ones
    assert not np.allclose(y, model.predict(x, verbose=0))


def _frozen_base_model():
    inp = nn.Input((12, 12, 3))
    h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(8, 3, padding="same", use_bias=False)(inp)))
    h = nn.BatchNormalization()(nn.DepthwiseConv2D(3, strides=2, padding="same")(h))
    h = nn.Conv2D(6, 1)(h)                                    # trainable: not fused in training
    h = nn.BatchNormalization()(h)
    out = nn.Dense(3, activation="softmax")(nn.GlobalAveragePooling2D()(nn.ReLU()(h)))
    model = nn.Model(inp, out)
    _randomize_bn(model)
    for layer in model.layers[1:6]:                            # the first two chains frozen
        layer.trainable = False
    return model


def test_training_fuses_only_the_chains_no_gradient_passes_through():
    model = _frozen_base_model()
    model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy")
    x = np.random.default_rng(5).normal(size=(6, 12, 12, 3)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1, 2])
    plan = model._train_plan()
    fused_p = model._graph.forward(x, True, plan)
    plain_p = model._graph.forward(x, True)                   # every layer on its own
    np.testing.assert_allclose(fused_p, plain_p, rtol=1e-5, atol=1e-6)
    fused = [s for s in model._graph._train_fused[1] if isinstance(s, _fusion.Fused)]
    assert [f.conv.name for f in fused] == [model.layers[1].name, model.layers[4].name]
    assert fused[0].activation == "relu6" and fused[1].activation is None
    before = model.get_weights()
    model.fit(x, y, epochs=2, batch_size=3, verbose=0)
    after = model.get_weights()
    frozen = {id(w) for layer in model.layers[1:6] for w in layer.weights}
    for w, b, a in zip(model.weights, before, after):
        assert np.array_equal(a, b) == (id(w) in frozen), w.path
