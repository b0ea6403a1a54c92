"""The pieces of foveal.nn one by one: layer configs and semantics, initializers, losses and their
gradients, metrics, optimizers."""
import math

import numpy as np
import pytest

import foveal.nn as nn
from foveal.nn import initializers, losses, metrics, optimizers
from foveal.utils import set_random_seed

RNG = np.random.default_rng(0)


def numeric_grad(f, p, eps=1e-3):
    """Central differences of a scalar float64 function of ``p``."""
    p = p.astype(np.float64)
    g = np.zeros_like(p)
    for i in np.ndindex(p.shape):
        old = p[i]
        p[i] = old + eps
        up = f(p)
        p[i] = old - eps
        down = f(p)
        p[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


# ------------------------------------------------------------------------------------ layers

ALL_LAYERS = [
    (nn.Conv2D(4, (3, 2), strides=2, padding="same", dilation_rate=1, groups=2, activation="relu",
               use_bias=False, kernel_initializer="he_normal"), (None, 7, 7, 4)),
    (nn.DepthwiseConv2D(3, depth_multiplier=2, activation="tanh", depthwise_initializer="he_uniform"),
     (None, 6, 6, 3)),
    (nn.MaxPooling2D(3, strides=1, padding="same"), (None, 5, 5, 2)),
    (nn.AveragePooling2D((2, 1)), (None, 5, 5, 2)),
    (nn.GlobalAveragePooling2D(keepdims=True), (None, 5, 5, 2)),
    (nn.GlobalMaxPooling2D(), (None, 5, 5, 2)),
    (nn.Flatten(), (None, 2, 3, 4)),
    (nn.Dense(5, activation="sigmoid", bias_initializer="ones"), (None, 7)),
    (nn.Dropout(0.3, seed=4), (None, 7)),
    (nn.BatchNormalization(momentum=0.9, epsilon=0.01, center=False), (None, 4, 4, 3)),
    (nn.Activation("softmax"), (None, 6)),
    (nn.ReLU(max_value=6.0, negative_slope=0.1, threshold=0.5), (None, 6)),
    (nn.Softmax(axis=1), (None, 3, 4)),
    (nn.Rescaling(1 / 255, offset=-0.5), (None, 4, 4, 3)),
]


@pytest.mark.parametrize("layer,shape", ALL_LAYERS, ids=lambda v: type(v).__name__)
def test_layer_config_round_trip_and_output_shape(layer, shape):
    sym = layer(nn.Input(shape[1:]))
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    assert sym.shape == layer.compute_output_shape(shape)
    x = RNG.normal(size=(2,) + shape[1:]).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (2,) + sym.shape[1:]
    clone(nn.Input(shape[1:]))
    clone.set_weights(layer.get_weights())
    np.testing.assert_array_equal(clone(x), y)


@pytest.mark.parametrize("layer,shape", [c for c in ALL_LAYERS if not isinstance(c[0], nn.Dropout)],
                         ids=lambda v: type(v).__name__)
def test_layer_backward_matches_finite_differences(layer, shape):
    """Each layer's input and weight gradients (training mode) against central differences."""
    rng = np.random.default_rng(1)
    layer(nn.Input(shape[1:]))
    layer.set_weights([np.abs(rng.normal(size=w.shape)) + 0.5 if w.name == "moving_variance"
                       else rng.normal(0, 0.5, size=w.shape) for w in layer.weights])
    x = rng.normal(size=(3,) + shape[1:]).astype(np.float32)
    if isinstance(layer, nn.ReLU):
        x[np.abs(x - 0.5) < 0.05] += 0.2       # keep away from the kinks
    if isinstance(layer, (nn.MaxPooling2D, nn.GlobalMaxPooling2D)):
        x = (rng.permutation(x.size).reshape(x.shape) * 0.01).astype(np.float32)  # no near-ties
    proj = rng.normal(size=(3,) + layer.compute_output_shape(shape)[1:])
    moving = [w.value.copy() for w in layer.non_trainable_weights]

    def loss(xx):
        return float(np.sum(layer.call(xx.astype(np.float32), training=True) * proj))

    y = layer.call(x, training=True)
    dx = layer.backward(proj.astype(np.float32), need_dx=True)
    assert dx.shape == x.shape and dx.dtype == np.float32
    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=2e-2, atol=3e-3)
    for w in layer.trainable_weights:
        analytic = w.grad.copy()

        def wloss(v, w=w):
            old = w.value.copy()
            w.value[...] = v
            out = loss(x)
            w.value[...] = old
            return out

        np.testing.assert_allclose(analytic, numeric_grad(wloss, w.value), rtol=2e-2, atol=3e-3,
                                   err_msg=w.path)
    for w, m in zip(layer.non_trainable_weights, moving):
        w.value[...] = m
    assert y is not None


def test_flatten_is_row_major_nhwc():
    x = np.arange(24, dtype=np.float32).reshape(1, 2, 3, 4)
    np.testing.assert_array_equal(nn.Flatten()(x), x.reshape(1, 24))


def test_batch_normalization_statistics():
    bn = nn.BatchNormalization(momentum=0.8, epsilon=1e-3)
    x = RNG.normal(2.0, 3.0, size=(16, 4, 4, 3)).astype(np.float32)
    bn(nn.Input((4, 4, 3)))
    y = bn(x, training=True)
    mean, var = x.reshape(-1, 3).mean(0), x.reshape(-1, 3).var(0)        # biased variance
    np.testing.assert_allclose(y.reshape(-1, 3).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(y.reshape(-1, 3).var(0), var / (var + 1e-3), rtol=1e-4)
    gamma, beta, mm, mv = bn.get_weights()
    np.testing.assert_allclose(mm, 0 * 0.8 + mean * 0.2, rtol=1e-5)
    np.testing.assert_allclose(mv, 1 * 0.8 + var * 0.2, rtol=1e-5)
    inference = bn(x)                                                   # moving statistics
    np.testing.assert_allclose(inference, (x - mm) / np.sqrt(mv + 1e-3), rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(bn.get_weights()[2], mm)             # not updated at inference
    bn.trainable = False
    bn(x, training=True)                                                # frozen BN: inference mode
    np.testing.assert_array_equal(bn.get_weights()[2], mm)


def test_dropout():
    x = np.ones((200, 50), np.float32)
    d = nn.Dropout(0.25)
    np.testing.assert_array_equal(d(x), x)                              # inference: identity
    y = d(x, training=True)
    assert set(np.unique(y)) == {0.0, np.float32(1 / 0.75)}
    assert abs((y == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(d.backward(x), y)
    a, b = nn.Dropout(0.5, seed=3), nn.Dropout(0.5, seed=3)
    np.testing.assert_array_equal(a(x, training=True), b(x, training=True))
    with pytest.raises(ValueError, match="rate"):
        nn.Dropout(1.5)


def test_concatenate_and_add_backward_split_gradients():
    a, b = RNG.normal(size=(2, 3, 2)).astype(np.float32), RNG.normal(size=(2, 3, 5)).astype(np.float32)
    cat = nn.Concatenate()
    y = cat([a, b])
    np.testing.assert_array_equal(y, np.concatenate([a, b], -1))
    da, db = cat.backward(y)
    np.testing.assert_array_equal(da, a)
    np.testing.assert_array_equal(db, b)
    cat1 = nn.Concatenate(axis=1)
    assert cat1([a, a]).shape == (2, 6, 2)
    add = nn.Add()
    np.testing.assert_array_equal(add([a, a, a]), 3 * a)
    assert len(add.backward(a)) == 3


def test_layer_argument_errors():
    with pytest.raises(ValueError, match="padding"):
        nn.Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="activation"):
        nn.Dense(2, activation="mish")
    with pytest.raises(ValueError, match="kernel_initializer"):
        nn.Dense(2, kernel_initializer="orthogonal")
    with pytest.raises(ValueError, match="filters"):
        nn.Conv2D(0, 3)
    with pytest.raises(ValueError, match="data_format"):
        nn.MaxPooling2D(data_format="channels_first")
    with pytest.raises(ValueError, match="divisible"):
        nn.Conv2D(4, 3, groups=2)(nn.Input((5, 5, 3)))
    with pytest.raises(ValueError, match="smaller than the window"):
        nn.Conv2D(4, 5)(nn.Input((3, 3, 1)))
    with pytest.raises(ValueError, match="rank 4"):
        nn.MaxPooling2D()(nn.Input((3, 3)))
    with pytest.raises(ValueError, match="dtype"):
        nn.Dense(2, dtype="float16")


def test_layer_names_are_unique_and_snake_case():
    a, b = nn.BatchNormalization(), nn.BatchNormalization()
    assert a.name.startswith("batch_normalization") and a.name != b.name
    assert nn.Conv2D(1, 1).name.startswith("conv2d")
    assert nn.Dense(1, name="head").name == "head"


# ------------------------------------------------------------------------------ initializers


def test_initializer_formulas_and_fans():
    assert initializers.compute_fans((3, 3, 16, 32)) == (144, 288)
    assert initializers.compute_fans((100, 10)) == (100, 10)
    set_random_seed(0)
    w = initializers.get("glorot_uniform")((300, 200))
    limit = math.sqrt(6 / 500)
    assert w.dtype == np.float32 and np.abs(w).max() <= limit and np.abs(w).max() > 0.99 * limit
    w = initializers.get("he_uniform")((3, 3, 8, 400))
    assert np.abs(w).max() <= math.sqrt(6 / 72)
    w = initializers.get("he_normal")((3, 3, 50, 400))
    std = math.sqrt(2 / 450)
    assert np.abs(w).max() < 2 * std / 0.87962566103423978       # truncated at two stddevs
    assert w.std() == pytest.approx(std, rel=0.03)
    w = initializers.get("glorot_normal")((400, 600))
    assert w.std() == pytest.approx(math.sqrt(2 / 1000), rel=0.03)
    assert initializers.get("random_normal")((1000,)).std() == pytest.approx(0.05, rel=0.1)
    assert np.abs(initializers.get("random_uniform")((1000,))).max() <= 0.05
    np.testing.assert_array_equal(initializers.get("zeros")((2, 2)), 0)
    np.testing.assert_array_equal(initializers.get("ones")((2, 2)), 1)
    seeded = initializers.HeNormal(seed=3)
    np.testing.assert_array_equal(seeded((4, 4)), seeded((4, 4)))   # Keras: same values per call
    with pytest.raises(ValueError, match="initializer"):
        initializers.get("identity")


def test_global_seed_drives_initialization():
    set_random_seed(42)
    a = nn.Dense(8)
    a(nn.Input((5,)))
    set_random_seed(42)
    b = nn.Dense(8)
    b(nn.Input((5,)))
    np.testing.assert_array_equal(a.get_weights()[0], b.get_weights()[0])


# ------------------------------------------------------------------------------------ losses


def _probs(n, c):
    z = RNG.normal(size=(n, c))
    return (np.exp(z) / np.exp(z).sum(1, keepdims=True)).astype(np.float32)


def test_loss_values_follow_keras_formulas():
    p = _probs(6, 4)
    y = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0, 1]]
    expected = -np.log(np.clip(p / p.sum(1, keepdims=True), 1e-7, 1 - 1e-7))[np.arange(6), y.argmax(1)]
    assert losses.get("categorical_crossentropy")(y, p) == pytest.approx(expected.mean(), rel=1e-6)
    assert losses.get("sparse_categorical_crossentropy")(y.argmax(1), p) == pytest.approx(
        expected.mean(), rel=1e-6)
    assert losses.SparseCategoricalCrossentropy()(y.argmax(1)[:, None], p) == pytest.approx(
        expected.mean(), rel=1e-6)
    z = RNG.normal(size=(6, 4)).astype(np.float32)
    logp = z - np.log(np.exp(z).sum(1, keepdims=True))
    assert losses.CategoricalCrossentropy(from_logits=True)(y, z) == pytest.approx(
        -(y * logp).sum(1).mean(), rel=1e-5)
    q = RNG.uniform(0, 1, (6, 3)).astype(np.float32)
    t = RNG.integers(0, 2, (6, 3)).astype(np.float32)
    qc = np.clip(q, 1e-7, 1 - 1e-7)
    bce = -(t * np.log(qc) + (1 - t) * np.log(1 - qc))
    assert losses.get("binary_crossentropy")(t, q) == pytest.approx(bce.mean(), rel=1e-5)
    sig = 1 / (1 + np.exp(-z[:, :3]))
    bce_logits = -(t * np.log(sig) + (1 - t) * np.log(1 - sig))
    assert losses.BinaryCrossentropy(from_logits=True)(t, z[:, :3]) == pytest.approx(
        bce_logits.mean(), rel=1e-5)
    assert losses.get("binary_crossentropy")(t[:, 0], q[:, :1]) == pytest.approx(  # (N,) vs (N, 1)
        bce[:, 0].mean(), rel=1e-5)
    assert losses.get("mse")(t, q) == pytest.approx(((t - q) ** 2).mean(), rel=1e-6)


@pytest.mark.parametrize("loss", [losses.CategoricalCrossentropy(),
                                  losses.CategoricalCrossentropy(from_logits=True),
                                  losses.BinaryCrossentropy(), losses.BinaryCrossentropy(from_logits=True),
                                  losses.MeanSquaredError()], ids=lambda l: f"{l.name}")
def test_loss_gradients_match_finite_differences(loss):
    binary = isinstance(loss, losses.BinaryCrossentropy)
    if binary:
        p = RNG.uniform(0.1, 0.9, (4, 3))
        y = RNG.uniform(0, 1, (4, 3)).astype(np.float32)
    else:
        p = _probs(4, 3).astype(np.float64)
        y = np.eye(3, dtype=np.float32)[[0, 2, 1, 1]]
    if loss.get_config().get("from_logits"):
        p = RNG.normal(size=(4, 3))
    g = loss.gradient(y, p.astype(np.float32))

    def f(pp):
        return float(np.mean(loss._values(y, pp.astype(np.float32)), dtype=np.float64))

    np.testing.assert_allclose(g, numeric_grad(f, p, 1e-3), rtol=1e-2, atol=1e-4)


def test_fused_softmax_and_sigmoid_gradients():
    from foveal.nn.functional import softmax_backward

    p = _probs(5, 4)
    y = np.eye(4, dtype=np.float32)[[0, 1, 2, 3, 0]]
    cce = losses.CategoricalCrossentropy()
    values, dz, fused = cce._value_and_grad(y, p, "softmax")
    assert fused
    np.testing.assert_allclose(dz, (p - y) / 5, atol=1e-7)
    np.testing.assert_allclose(dz, softmax_backward(cce.gradient(y, p), p), atol=1e-6)
    # a confidently wrong sample: the labelled probability is clipped, so Keras's gradient is 0
    p2 = p.copy()
    p2[0] = [1e-9, 1 - 2e-9, 5e-10, 5e-10]
    _, dz2, _ = cce._value_and_grad(y, p2, "softmax")
    np.testing.assert_allclose(dz2[0], 0, atol=1e-9)
    np.testing.assert_allclose(dz2[1:], dz[1:], atol=1e-7)
    q = np.array([[0.2, 1.0], [0.7, 0.0]], np.float32)           # 1.0 and 0.0 are clipped
    t = np.array([[0, 0], [1, 1]], np.float32)
    _, dzb, fused = losses.BinaryCrossentropy()._value_and_grad(t, q, "sigmoid")
    assert fused
    np.testing.assert_allclose(dzb, [[0.2 / 4, 0], [-0.3 / 4, 0]], atol=1e-7)


def test_loss_errors():
    with pytest.raises(ValueError, match="loss must be one of"):
        losses.get("kl_divergence")
    with pytest.raises(ValueError, match="shape"):
        losses.get("categorical_crossentropy")(np.zeros((3, 2)), _probs(3, 4))
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        losses.get("sparse_categorical_crossentropy")(np.array([0, 4, 1]), _probs(3, 4))


# ----------------------------------------------------------------------------------- metrics


def test_accuracy_resolves_like_keras():
    p = _probs(6, 3)
    assert isinstance(metrics.get("accuracy", (6, 3), (6, 3)), metrics.CategoricalAccuracy)
    assert isinstance(metrics.get("accuracy", (6,), (6, 3)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("acc", (6, 1), (6, 3)), metrics.SparseCategoricalAccuracy)
    assert isinstance(metrics.get("accuracy", (6, 1), (6, 1)), metrics.BinaryAccuracy)
    m = metrics.get("acc", (6,), (6, 3))
    assert m.name == "acc"
    labels = p.argmax(1)
    labels[:2] = (labels[:2] + 1) % 3
    m.update_state(labels[:4], p[:4])
    m.update_state(labels[4:], p[4:])
    assert m.result() == pytest.approx(4 / 6)
    b = metrics.BinaryAccuracy()
    b.update_state(np.array([[1], [0], [1]]), np.array([[0.7], [0.6], [0.2]], np.float32))
    assert b.result() == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="metrics"):
        metrics.get("f1")


# -------------------------------------------------------------------------------- optimizers


def test_optimizers_by_name_defaults_and_config():
    assert isinstance(optimizers.get("sgd"), optimizers.SGD)
    assert optimizers.get("SGD").learning_rate == pytest.approx(0.01)
    assert optimizers.get("adam").get_config() == {"name": "adam", "learning_rate": np.float32(0.001),
                                                  "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    rms = optimizers.get("rmsprop")
    assert (rms.rho, rms.momentum, rms.epsilon, rms.centered) == (0.9, 0.0, 1e-7, False)
    for opt in (optimizers.SGD(0.2, 0.5, True), optimizers.Adam(0.3, 0.8), optimizers.RMSprop(centered=True)):
        clone = optimizers.get(optimizers.serialize(opt))
        assert type(clone) is type(opt) and clone.get_config() == opt.get_config()
    with pytest.raises(ValueError, match="optimizer must be one of"):
        optimizers.get("lbfgs")
    with pytest.raises(ValueError, match="momentum"):
        optimizers.SGD(momentum=-1)
    with pytest.raises(ValueError, match="learning_rate"):
        optimizers.SGD(learning_rate=float("nan"))


def test_sgd_momentum_rule_by_hand():
    w = nn.layers.Weight("w", "w", np.array([1.0, 2.0], np.float32))
    opt = optimizers.SGD(0.1, momentum=0.9)
    g = np.array([0.5, -1.0], np.float32)
    opt.apply_gradients([(g, w)])
    np.testing.assert_allclose(w.value, [1 - 0.05, 2 + 0.1], rtol=1e-6)
    opt.apply_gradients([(g, w)])
    m = 0.9 * np.array([-0.05, 0.1]) - 0.1 * g
    np.testing.assert_allclose(w.value, [0.95, 2.1] + m, rtol=1e-6)
    opt.learning_rate = 0.0
    before = w.value.copy()
    opt.apply_gradients([(g, w)])
    np.testing.assert_allclose(w.value, before + 0.9 * m, rtol=1e-6)  # momentum carries on
    assert opt.iterations == 3
