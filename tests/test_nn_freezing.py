"""Freezing layers and models (Keras 3 semantics): ``trainable`` flags, the weight lists,
frozen layers in ``fit`` (no update, gradients still flow, BatchNormalization in inference mode),
recompiling after a change, ``summary`` counts, configs and saved models."""
import warnings

import numpy as np
import pytest

import foveal.nn as nn
from foveal.utils import set_random_seed


def data(n=16, shape=(6, 6, 2), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n,) + shape).astype(np.float32), np.arange(n) % classes


def bn_model():
    """Conv (40 params: 3*3*1*4 + 4), BN on 4 channels (8 trainable + 8 moving), Dense (290)."""
    return nn.Sequential([nn.Input((8, 8, 1)), nn.Conv2D(4, 3, name="conv"),
                          nn.BatchNormalization(name="bn"), nn.Flatten(),
                          nn.Dense(2, activation="softmax", name="head")])


def stack(seed=1):
    set_random_seed(seed)
    return nn.Sequential([nn.Input((6, 6, 2)), nn.Conv2D(4, 3, padding="same", activation="relu",
                                                         name="c1"),
                          nn.BatchNormalization(name="bn"), nn.Conv2D(4, 3, activation="relu", name="c2"),
                          nn.Flatten(), nn.Dense(8, activation="tanh", name="d1"),
                          nn.Dense(3, activation="softmax", name="out")])


def values(layer):
    return [w.copy() for w in layer.get_weights()]


def changed(before, layer):
    return [not np.array_equal(a, b) for a, b in zip(before, layer.get_weights())]


def sizes(ws):
    return sum(w.value.size for w in ws)


# ------------------------------------------------------------------------ flags and weight lists


def test_layer_weight_lists_match_keras():
    dense = nn.Dense(3)
    dense.build((None, 5))
    assert dense.trainable and [w.name for w in dense.trainable_weights] == ["kernel", "bias"]
    assert dense.non_trainable_weights == []
    dense.trainable = False
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    assert dense.weights == dense.non_trainable_weights   # same order as weights

    conv = nn.Conv2D(4, 3, trainable=False)
    conv.build((None, 8, 8, 2))
    assert not conv.trainable and conv.trainable_weights == [] and len(conv.weights) == 2
    conv.trainable = True
    assert len(conv.trainable_weights) == 2 and conv.non_trainable_weights == []

    bn = nn.BatchNormalization()
    bn.build((None, 4))
    assert [w.name for w in bn.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert sizes(bn.trainable_weights) == 8 and sizes(bn.non_trainable_weights) == 8
    assert [w.name for w in bn.non_trainable_weights] == ["moving_mean", "moving_variance"]
    bn.trainable = False
    assert bn.trainable_weights == [] and sizes(bn.non_trainable_weights) == 16
    assert [w.name for w in bn.non_trainable_weights] == [w.name for w in bn.weights]
    bn.trainable = True   # the moving statistics stay non-trainable
    assert sizes(bn.trainable_weights) == 8 and sizes(bn.non_trainable_weights) == 8


def test_model_weight_lists_and_recursive_flag():
    model = bn_model()
    assert model.trainable
    assert sizes(model.weights) == 40 + 16 + 290
    assert sizes(model.trainable_weights) == 40 + 8 + 290
    assert sizes(model.non_trainable_weights) == 8
    model.get_layer("conv").trainable = False
    assert sizes(model.trainable_weights) == 8 + 290 and sizes(model.non_trainable_weights) == 48
    model.trainable = False                                   # Keras 3: sets every layer
    assert not any(layer.trainable for layer in model.layers)
    assert model.trainable_weights == [] and len(model.non_trainable_weights) == len(model.weights)
    model.get_layer("head").trainable = True                  # a frozen model trains nothing
    assert model.trainable_weights == []
    model.trainable = True                                    # and unfreezing sets every layer
    assert all(layer.trainable for layer in model.layers)
    assert sizes(model.trainable_weights) == 40 + 8 + 290


def test_always_frozen_layer_stays_frozen():
    class Fixed(nn.Layer):
        _always_frozen = True

        @property
        def trainable(self):
            return False

        @trainable.setter
        def trainable(self, value):
            if value:
                raise ValueError("frozen")

        def call(self, x, training=False):
            return x

    fixed = Fixed()
    model = nn.Sequential([nn.Input((3,)), fixed, nn.Dense(2)])
    model.trainable = False
    model.trainable = True
    assert not fixed.trainable and model.layers[1].trainable


def test_configs_keep_flags():
    layer = nn.Dense(3, trainable=False)
    cfg = layer.get_config()
    assert cfg["trainable"] is False
    assert nn.Dense.from_config(cfg).trainable is False
    model = stack()
    model.get_layer("c1").trainable = False
    cfg = model.get_config()
    assert cfg["trainable"] is True
    again = nn.Sequential.from_config(cfg)
    assert [l.trainable for l in again.layers] == [l.trainable for l in model.layers]
    model.trainable = False
    assert nn.Sequential.from_config(model.get_config()).trainable is False
    x = nn.Input((4,))
    functional = nn.Model(x, nn.Dense(2, name="fd")(nn.Dense(3, name="fh")(x)))
    functional.get_layer("fh").trainable = False
    functional.trainable = False
    back = nn.Model.from_config(functional.get_config())
    assert back.trainable is False and back.get_layer("fh").trainable is False


# ------------------------------------------------------------------------------ training


def test_frozen_layer_unchanged_others_train():
    model = stack()
    model.get_layer("c2").trainable = False
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    before = {l.name: values(l) for l in model.layers}
    x, y = data()
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert not any(changed(before["c2"], model.get_layer("c2")))
    for name in ("c1", "d1", "out"):
        assert all(changed(before[name], model.get_layer(name))), name
    bn_changed = changed(before["bn"], model.get_layer("bn"))
    assert all(bn_changed)   # trainable BN: gamma, beta learn, moving statistics move


def test_frozen_model_changes_nothing():
    model = stack()
    model.trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    before = model.get_weights()
    x, y = data()
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_frozen_batchnorm_runs_in_inference_mode_in_fit():
    model = stack()
    rng = np.random.default_rng(3)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(size=4), rng.normal(size=4),
                    rng.uniform(0.5, 2, 4)])
    bn.trainable = False
    model.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    x, y = data()
    np.testing.assert_array_equal(model(x, training=True), model(x))
    # the loss fit computes (before its update) is the inference loss
    test_loss = model.test_on_batch(x, y)
    train_loss = model.train_on_batch(x, y)
    np.testing.assert_allclose(train_loss, test_loss, rtol=1e-5)
    moving = values(bn)
    model.fit(x, y, batch_size=4, epochs=2, verbose=0)
    assert not any(changed(moving, bn))
    # control: a trainable BN in training mode normalizes with the batch's statistics
    bn.trainable = True
    assert not np.allclose(model(x, training=True), model(x))


def test_gradients_flow_through_frozen_layers_dense():
    x, y = data(shape=(6,))
    models = []
    for frozen in (False, True):
        set_random_seed(5)
        m = nn.Sequential([nn.Input((6,)), nn.Dense(5, activation="tanh", name="first"),
                           nn.Dense(5, activation="relu", name="mid"),
                           nn.Dense(3, activation="softmax", name="last")])
        m.get_layer("mid").trainable = not frozen
        m.compile(nn.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
        m.train_on_batch(x, y)
        models.append(m)
    free, frozen = models
    for w_free, w_frozen in zip(free.get_layer("first").weights, frozen.get_layer("first").weights):
        np.testing.assert_allclose(w_frozen.grad, w_free.grad, rtol=1e-6, atol=1e-7)


def test_gradients_flow_through_frozen_batchnorm_finite_differences():
    set_random_seed(7)
    model = nn.Sequential([nn.Input((5,)), nn.Dense(4, activation="tanh", name="first"),
                           nn.BatchNormalization(name="bn"), nn.Dense(3, name="last")])
    rng = np.random.default_rng(1)
    bn = model.get_layer("bn")
    bn.set_weights([rng.uniform(0.5, 1.5, 4), rng.normal(size=4), rng.normal(size=4) * 0.2,
                    rng.uniform(0.3, 2, 4)])
    bn.trainable = False
    model.compile(nn.optimizers.SGD(0.0), "mse")
    x = rng.normal(size=(8, 5)).astype(np.float32)
    y = rng.normal(size=(8, 3)).astype(np.float32)
    model.train_on_batch(x, y)
    kernel = model.get_layer("first").kernel
    grad = kernel.grad.copy()
    assert np.abs(grad).max() > 1e-3

    def loss(k):
        saved = kernel.value.copy()
        kernel.assign(k)
        try:
            p = model.predict_on_batch(x).astype(np.float64)
        finally:
            kernel.assign(saved)
        return float(np.mean((p - y) ** 2))

    k0 = kernel.value.astype(np.float64)
    eps = 1e-2
    for idx in [(0, 0), (2, 1), (4, 3), (1, 2)]:
        kp, km = k0.copy(), k0.copy()
        kp[idx] += eps
        km[idx] -= eps
        fd = (loss(kp) - loss(km)) / (2 * eps)
        assert abs(fd - grad[idx]) < 2e-3 + 2e-2 * abs(fd), (idx, fd, grad[idx])


# ------------------------------------------------------------------------------ recompile


def test_trained_weights_are_fixed_at_compile():
    x, y = data()
    model = stack()
    model.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    c1 = model.get_layer("c1")
    c1.trainable = False                           # not applied until compile
    before = values(c1)
    with pytest.warns(UserWarning, match="compile"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(changed(before, c1))
    model.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    before = values(c1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert not any(changed(before, c1))
    c1.trainable = True                            # unfreezing needs compile as well
    before = values(c1)
    with pytest.warns(UserWarning, match="compile"):
        model.train_on_batch(x, y)
    assert not any(changed(before, c1))
    model.compile(nn.optimizers.SGD(0.05), "sparse_categorical_crossentropy")
    model.train_on_batch(x, y)
    assert all(changed(before, c1))


def test_transfer_learning_pattern():
    x, y = data(n=24)
    set_random_seed(11)
    base = [nn.Conv2D(4, 3, padding="same", activation="relu", name="b1"),
            nn.BatchNormalization(name="b_bn"), nn.Conv2D(4, 3, activation="relu", name="b2")]
    head = [nn.GlobalAveragePooling2D(), nn.Dense(3, activation="softmax", name="h")]
    model = nn.Sequential([nn.Input((6, 6, 2))] + base + head)
    for layer in base:
        layer.trainable = False
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    base_before = [values(l) for l in base]
    head_before = values(model.get_layer("h"))
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    assert all(not any(changed(b, l)) for b, l in zip(base_before, base))   # BN stats too
    assert all(changed(head_before, model.get_layer("h")))
    # fine-tune: unfreeze the top of the base, recompile (low rate), train
    base[-1].trainable = True
    model.compile(nn.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
    assert sizes(model.trainable_weights) == 4 * 3 * 3 * 4 + 4 + 3 * 4 + 3
    top_before, low_before = values(base[-1]), [values(l) for l in base[:2]]
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    assert all(changed(top_before, base[-1]))
    assert all(not any(changed(b, l)) for b, l in zip(low_before, base[:2]))


# ------------------------------------------------------------------------------ summary, saving


def test_summary_counts(capsys):
    model = bn_model()
    model.summary()
    out = capsys.readouterr().out
    assert " Total params: 346 (1.35 KB)" in out
    assert " Trainable params: 338 (1.32 KB)" in out
    assert " Non-trainable params: 8 (32.00 B)" in out
    model.get_layer("conv").trainable = False
    model.summary(show_trainable=True)
    out = capsys.readouterr().out
    assert "Trainable params: 298 " in out and "Non-trainable params: 48 (192.00 B)" in out
    rows = {line.split()[0]: line.split()[-1] for line in out.splitlines()
            if line.startswith(("conv ", "bn ", "flatten", "head "))}
    assert rows["conv"] == "N" and rows["bn"] == "Y" and rows["head"] == "Y"
    assert [v for k, v in rows.items() if k.startswith("flatten")] == ["-"]
    assert "Trainable" in out.splitlines()[2]
    model.trainable = False
    model.summary()
    assert "Trainable params: 0 (0.00 B)" in capsys.readouterr().out


def test_save_load_keeps_flags(tmp_path):
    x, y = data()
    model = stack()
    model.get_layer("c1").trainable = False
    model.get_layer("bn").trainable = False
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    path = str(tmp_path / "m.foveal")  # foveal's own format (".keras" is a Keras 3 archive)
    model.save(path)
    loaded = nn.load_model(path)
    assert [l.trainable for l in loaded.layers] == [l.trainable for l in model.layers]
    assert [w.path for w in loaded.trainable_weights] == [w.path for w in model.trainable_weights]
    # training continues identically, the frozen layers stay frozen
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frozen_before = values(loaded.get_layer("c1")) + values(loaded.get_layer("bn"))
        loaded.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert not any(changed(frozen_before[:2], loaded.get_layer("c1")))
    assert not any(changed(frozen_before[2:], loaded.get_layer("bn")))
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    model.trainable = False
    model.save(path)
    frozen = nn.load_model(path)
    assert not frozen.trainable and frozen.trainable_weights == []
