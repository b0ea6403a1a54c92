"""Inference fusion (foveal.nn._fusion): Conv2D/DepthwiseConv2D -> BatchNormalization [->
activation] runs as one convolution with the batch norm folded in, in predict/evaluate only;
results equal the layer-by-layer forward, chains that cannot fuse are left alone, and a weight
change (training, set_weights) shows in the next predict."""
import numpy as np
import pytest

import foveal.nn as nn
from check import layerwise_forward
from foveal.nn import _fusion


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


def _act_layer(act):
    """The layer of activation ``act`` (ReLU(max_value=6) for "relu6"), or None."""
    if act is None:
        return None
    return nn.ReLU(max_value=6.0) if act == "relu6" else nn.Activation(act)


def _native_activation(layer, act):
    """The activation a fused chain should carry for ``layer``."""
    return None if act is None else layer.output_activation if isinstance(layer, nn.ReLU) else act


@pytest.mark.parametrize("act", [None, "relu", "relu6", "hard_silu", "gelu", "leaky_relu"])
@pytest.mark.parametrize("depthwise", [False, True])
@pytest.mark.parametrize("use_bias", [False, True])
def test_fused_chain_equalslayerwise_forward(act, depthwise, use_bias):
    layer = _act_layer(act)
    model = _model(layer, depthwise, use_bias)
    _randomize_bn(model)
    x = np.random.default_rng(1).normal(size=(3, 11, 10, 6)).astype(np.float32) * 3
    want = layerwise_forward(model, x)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    fused = [s for s in model._graph._inference if isinstance(s, _fusion.Fused)]
    assert len(fused) == 1 and fused[0].activation == _native_activation(layer, act)


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
    np.testing.assert_allclose(model.predict(x, verbose=0), layerwise_forward(model, x), rtol=1e-5, atol=1e-5)
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
    np.testing.assert_allclose(after, layerwise_forward(model, x), rtol=1e-5, atol=1e-5 * np.abs(after).max())
    conv = model.layers[1]
    conv.kernel.value[...] *= 2.0                # even an in-place change of a weight
    np.testing.assert_allclose(model.predict(x, verbose=0), layerwise_forward(model, x), rtol=1e-5,
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


def _bn_act_model():
    """Every kind of BatchNormalization -> activation pair: ReLU6 and ReLU (fused in training),
    a batch norm read by two layers, hard_swish after one, a ReLU feeding a max pooling (fused
    too: the pooling's backward then needs no mask) and a ReLU that is the model's output."""
    inp = nn.Input((10, 10, 3))
    h = nn.ReLU(max_value=6.0)(nn.BatchNormalization()(nn.Conv2D(6, 3, padding="same", use_bias=False)(inp)))
    h = nn.ReLU()(nn.BatchNormalization()(nn.DepthwiseConv2D(3, padding="same")(h)))
    two = nn.BatchNormalization()(nn.Conv2D(6, 1)(h))
    h = nn.Add()([nn.ReLU()(two), two])
    h = nn.Activation("hard_swish")(nn.BatchNormalization()(h))
    h = nn.MaxPooling2D()(nn.ReLU()(nn.BatchNormalization()(nn.Conv2D(8, 3)(h))))
    h = nn.Dense(5)(nn.GlobalAveragePooling2D()(h))
    out = nn.ReLU()(nn.BatchNormalization()(h))
    return nn.Model(inp, out)


def test_training_runs_batchnorm_and_relu_in_one_pass():
    """In a training step the trainable batch norms whose only reader is a ReLU/ReLU6 apply it
    in their own pass (_fusion.BnAct); the step equals the layer-by-layer one bit for bit."""
    fused, plain = _bn_act_model(), _bn_act_model()
    _randomize_bn(fused)
    plain.set_weights(fused.get_weights())
    for m in (fused, plain):
        m.compile(nn.optimizers.SGD(0.05, momentum=0.9), "mse")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(6, 10, 10, 3)).astype(np.float32) * 2
    y = rng.normal(size=(6, 5)).astype(np.float32)
    plain._plan = plain._train_plan()[:6]                    # the same model, no BnAct
    fused.train_on_batch(x, y)
    # a pair whose input a convolution wrote runs inside its ConvMoments step
    pairs = [s for s in fused._graph._train_fused[1] if isinstance(s, (_fusion.BnAct, _fusion.ConvMoments))
             and s.activation is not None]
    names = [type(layer).__name__ for layer in fused.layers]
    bns = [layer for layer, n in zip(fused.layers, names) if n == "BatchNormalization"]
    assert [(p.bn.name, p.activation) for p in pairs] == [(bns[0].name, "relu6"), (bns[1].name, "relu"),
                                                          (bns[4].name, "relu")]
    plain.train_on_batch(x, y)
    for _ in range(2):
        fused.train_on_batch(x, y)
        plain.train_on_batch(x, y)
    for w, a, b in zip(fused.weights, fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=w.path)


def test_batchnorm_call_activated_backward_takes_the_activation_output_gradient():
    """call_activated in both modes: the output is the activation of the normalization, and
    backward's input gradient is the layer-by-layer one (training: the same bits)."""
    rng = np.random.default_rng(3)
    x = (rng.normal(size=(4, 5, 5, 7)) * 3).astype(np.float32)
    dy = rng.normal(size=x.shape).astype(np.float32)
    for act in ("relu", "relu6"):
        for training in (True, False):
            bn, ref, relu = nn.BatchNormalization(), nn.BatchNormalization(), nn.ReLU(
                max_value=6.0 if act == "relu6" else None)
            bn.build(x.shape)
            ref.build(x.shape)
            weights = [rng.uniform(0.5, 2, 7), rng.normal(0, 2, 7), rng.normal(0, 1, 7), rng.uniform(0.5, 2, 7)]
            bn.set_weights(weights)
            ref.set_weights(weights)
            got = bn.call_activated(x, training, act)
            want = relu.call(ref.call(x, training), training)
            np.testing.assert_array_equal(got, want)
            dx = bn.backward(dy)
            dx_ref = ref.backward(relu.backward(dy))
            if training:
                np.testing.assert_array_equal(dx, dx_ref)
                np.testing.assert_array_equal(bn.gamma.grad, ref.gamma.grad)
            else:
                np.testing.assert_allclose(dx, dx_ref, rtol=1e-6, atol=1e-6)
                np.testing.assert_allclose(bn.gamma.grad, ref.gamma.grad, rtol=1e-5, atol=1e-5)
            np.testing.assert_array_equal(bn.beta.grad, ref.beta.grad)
    with pytest.raises(ValueError, match="activation"):
        nn.BatchNormalization().call_activated(x, True, "sigmoid")


def _residual_model(shortcut_conv, act_after_add, swap=False):
    """A residual block: Conv -> BN -> Add(shortcut) [-> act]; the shortcut is the block's
    input (MobileNetV2) or its own 1x1 Conv -> BN (ResNet's projection)."""
    inp = nn.Input((9, 8, 6))
    h = nn.ReLU()(nn.BatchNormalization()(nn.Conv2D(10, 3, padding="same")(inp)))
    main = nn.BatchNormalization()(nn.Conv2D(6 if not shortcut_conv else 12, 3, padding="same")(h))
    if shortcut_conv:
        short = nn.BatchNormalization()(nn.Conv2D(12, 1)(inp))
    else:
        short = inp
    s = nn.Add()([short, main] if swap else [main, short])
    if act_after_add is not None:
        s = act_after_add(s)
    out = nn.Conv2D(4, 1)(s)
    return nn.Model(inp, out)


@pytest.mark.parametrize("shortcut_conv", [False, True])
@pytest.mark.parametrize("act", [None, "relu", "relu6", "gelu"])
@pytest.mark.parametrize("swap", [False, True])
def test_residual_add_fuses_into_the_convolution(shortcut_conv, act, swap):
    layer = nn.ReLU() if act == "relu" else _act_layer(act)
    model = _residual_model(shortcut_conv, layer, swap)
    _randomize_bn(model)
    x = np.random.default_rng(5).normal(size=(3, 9, 8, 6)).astype(np.float32) * 2
    want = layerwise_forward(model, x)
    np.testing.assert_allclose(model.predict(x, verbose=0), want, rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())
    plan = model._graph._inference
    assert not any(type(s) is tuple and isinstance(s[0], nn.Add) for s in plan)
    with_add = [s for s in plan if isinstance(s, _fusion.Fused) and s.residual is not None]
    assert len(with_add) == 1 and with_add[0].activation == _native_activation(layer, act)
    # one chain takes the Add; a projection shortcut's chain stays a chain of its own
    assert len([s for s in plan if isinstance(s, _fusion.Fused)]) == (3 if shortcut_conv else 2)


def test_residual_add_that_broadcasts_matches_add():
    inp = nn.Input((5, 5, 4))
    main = nn.BatchNormalization()(nn.Conv2D(4, 3, padding="same")(inp))
    pooled = nn.GlobalAveragePooling2D(keepdims=True)(inp)    # 1 x 1 x 4: Add broadcasts it
    out = nn.ReLU()(nn.Add()([main, pooled]))
    model = nn.Model(inp, out)
    _randomize_bn(model)
    x = np.random.default_rng(6).normal(size=(2, 5, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), layerwise_forward(model, x), rtol=1e-5,
                               atol=1e-5)


def _resnet_like_model():
    """A ResNet-style stem (BN -> ReLU -> max pooling) and residual blocks ending in Add ->
    ReLU/ReLU6, one Add whose sum has a second reader (left apart)."""
    inp = nn.Input((12, 12, 3))
    h = nn.ReLU()(nn.BatchNormalization()(nn.Conv2D(8, 3, padding="same")(inp)))
    h = nn.MaxPooling2D(2)(h)
    b = nn.BatchNormalization()(nn.Conv2D(8, 3, padding="same")(nn.ReLU()(nn.BatchNormalization()(
        nn.Conv2D(8, 3, padding="same")(h)))))
    h = nn.ReLU()(nn.Add()([b, h]))                                      # fused
    b = nn.BatchNormalization()(nn.Conv2D(8, 1)(h))
    h = nn.Activation("relu6")(nn.Add()([h, b]))                         # fused
    s = nn.Add()([h, nn.Conv2D(8, 1)(h)])
    h = nn.Concatenate()([nn.ReLU()(s), s])                              # the sum read twice
    out = nn.Dense(4)(nn.GlobalAveragePooling2D()(h))
    return nn.Model(inp, out)


def test_training_runs_residual_add_and_relu_in_one_pass(monkeypatch):
    """In a training step a two-input Add read only by a ReLU/ReLU6 runs with it in one pass
    (_fusion.AddAct), and a BN -> ReLU pair before a max pooling runs as one BnAct (the pooling's
    backward then needs no mask); the steps equal the layer-by-layer ones bit for bit."""
    fused, plain = _resnet_like_model(), _resnet_like_model()
    _randomize_bn(fused, seed=4)
    plain.set_weights(fused.get_weights())
    for m in (fused, plain):
        m.compile(nn.optimizers.SGD(0.05, momentum=0.9), "mse")
    rng = np.random.default_rng(11)
    x = rng.normal(size=(4, 12, 12, 3)).astype(np.float32)
    y = rng.normal(size=(4, 4)).astype(np.float32)
    fused.train_on_batch(x, y)
    steps = fused._graph._train_fused[1]
    assert [s.activation for s in steps if isinstance(s, _fusion.AddAct)] == ["relu", "relu6"]
    stem_bn = [layer for layer in fused.layers if isinstance(layer, nn.BatchNormalization)][0]
    assert any(isinstance(s, (_fusion.BnAct, _fusion.ConvMoments)) and s.bn is stem_bn
               and s.activation == "relu" for s in steps)
    assert not fused._train_plan().through_relu
    with monkeypatch.context() as mp:
        mp.setattr(_fusion, "with_add_activations", lambda steps, output_id: list(steps))
        plain._plan = plain._train_plan()[:6]                    # no BnAct either
        plain.train_on_batch(x, y)
        assert not any(isinstance(s, _fusion.AddAct) for s in plain._graph._train_fused[1])
        for _ in range(2):
            fused.train_on_batch(x, y)
            plain.train_on_batch(x, y)
    for w, a, b in zip(fused.weights, fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b, err_msg=w.path)
    np.testing.assert_array_equal(fused.predict(x, verbose=0), plain.predict(x, verbose=0))
