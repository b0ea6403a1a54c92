"""foveal.nn models: training end to end, the graph's gradients, save/load, seeds, data sources,
progress output and bad input."""
import os
import zipfile

import numpy as np
import pytest

import foveal
import foveal.nn as nn
from foveal.utils import set_random_seed


def small_cnn(input_shape=(8, 8, 1), classes=10, dropout=None):
    layers = [nn.Input(input_shape), nn.Conv2D(8, 3, padding="same", activation="relu"),
              nn.BatchNormalization(), nn.MaxPooling2D(), nn.Flatten(), nn.Dense(16, activation="relu")]
    if dropout is not None:
        layers.append(nn.Dropout(0.25, seed=dropout))
    layers.append(nn.Dense(classes, activation="softmax"))
    return nn.Sequential(layers)


def residual_model(dropout_seed=None):
    """Residual block with Add, Concatenate, batch-norm and both global poolings."""
    x = nn.Input((8, 8, 3))
    h = nn.Conv2D(8, 3, padding="same", activation="relu")(x)
    r = nn.Conv2D(8, 3, padding="same")(h)
    r = nn.BatchNormalization()(r)
    h = nn.Add()([h, r])
    h = nn.Activation("tanh")(h)
    d = nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2, activation="sigmoid")(h)
    p = nn.Concatenate()([nn.GlobalAveragePooling2D()(d), nn.GlobalMaxPooling2D()(h)])
    if dropout_seed is not None:
        p = nn.Dropout(0.2, seed=dropout_seed)(p)
    out = nn.Dense(4, activation="softmax")(p)
    return nn.Model(x, out)


def blobs(n=96, shape=(8, 8, 3), classes=4, seed=0):
    """Noise images whose class brightens one quadrant of one channel: easy to learn."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    x = rng.normal(0, 0.3, (n,) + shape).astype(np.float32)
    h, w = shape[0] // 2, shape[1] // 2
    for c in range(classes):
        r, q = divmod(c % 4, 2)
        x[y == c, r * h:(r + 1) * h, q * w:(q + 1) * w, c % shape[2]] += 1.0
    return x, y


# ----------------------------------------------------------------------------------- training


def test_digits_cnn_reaches_97_percent():
    datasets = pytest.importorskip("sklearn.datasets")
    from sklearn.model_selection import train_test_split

    digits = datasets.load_digits()
    x = (digits.images / 16.0).astype(np.float32)[..., None]
    xtr, xte, ytr, yte = train_test_split(x, digits.target, test_size=0.25, random_state=0,
                                          stratify=digits.target)
    set_random_seed(0)
    model = nn.Sequential([
        nn.Input((8, 8, 1)),
        nn.Conv2D(16, 3, padding="same", activation="relu"),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Flatten(),
        nn.Dense(64, activation="relu"),
        nn.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=nn.optimizers.Adam(0.003), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(xtr, ytr, batch_size=32, epochs=15, verbose=0)
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, acc = model.evaluate(xte, yte, verbose=0)
    assert acc >= 0.97, f"test accuracy {acc:.4f}"
    pred = model.predict(xte, verbose=0)
    assert pred.dtype == np.float32 and pred.shape == (len(xte), 10)
    assert np.mean(pred.argmax(1) == yte) == pytest.approx(acc)


def test_residual_model_loss_falls():
    set_random_seed(1)
    x, y = blobs()
    model = residual_model(dropout_seed=3)
    model.compile(optimizer=nn.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, epochs=12, verbose=0)
    losses = history.history["loss"]
    assert losses[-1] < 0.5 * losses[0], losses
    assert history.history["accuracy"][-1] > 0.8
    assert history.epoch == list(range(12))


@pytest.mark.parametrize("loss,out_units,out_act", [
    ("categorical_crossentropy", 4, "softmax"),
    ("binary_crossentropy", 3, "sigmoid"),
    ("mse", 3, "tanh"),
])
def test_model_gradients_match_finite_differences(loss, out_units, out_act):
    """The graph's backward (gradients summed where a tensor feeds two layers, batch-norm in
    training mode, the fused loss gradient) against central differences of the loss."""
    set_random_seed(2)
    x_in = nn.Input((5, 5, 2))
    h = nn.Conv2D(3, 3, padding="same", activation="tanh")(x_in)
    r = nn.BatchNormalization()(nn.Conv2D(3, 2, padding="same", activation="sigmoid")(h))
    h = nn.Add()([h, r])
    c = nn.Concatenate()([nn.GlobalAveragePooling2D()(h), nn.Flatten()(nn.AveragePooling2D()(h))])
    model = nn.Model(x_in, nn.Dense(out_units, activation=out_act)(c))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 5, 5, 2)).astype(np.float32)
    if loss == "categorical_crossentropy":
        y = np.eye(out_units, dtype=np.float32)[rng.integers(0, out_units, 6)]
    else:
        y = rng.uniform(0, 1, (6, out_units)).astype(np.float32)
    model.compile(optimizer=nn.optimizers.SGD(0.0), loss=loss)
    loss_fn = model._loss_obj
    model.train_on_batch(x, y)               # lr 0: stores gradients, leaves weights alone
    grads = {w.path: w.grad.copy() for w in model.trainable_weights}
    moving = [w.value.copy() for w in model.non_trainable_weights]

    def value():
        return np.mean(loss_fn._values(y, model._graph.forward(x, True)), dtype=np.float64)

    for w in model.trainable_weights:
        flat = w.value.reshape(-1)
        for i in rng.choice(flat.size, size=min(4, flat.size), replace=False):
            old = flat[i]
            eps = 1e-2 * max(1.0, abs(float(old)))
            flat[i] = old + eps
            up = value()
            flat[i] = old - eps
            down = value()
            flat[i] = old
            numeric = (up - down) / (2 * eps)
            got = grads[w.path].reshape(-1)[i]
            assert got == pytest.approx(numeric, rel=3e-2, abs=2e-4), f"{w.path}[{i}]"
    for w, m in zip(model.non_trainable_weights, moving):
        w.value[...] = m


def test_relu_gradient_fused_into_max_pooling_changes_nothing():
    """A ReLU-ending layer that feeds only a MaxPooling2D hands its ReLU gradient to the pooling
    backward; the step equals the unfused one bit for bit (every ReLU form, overlapping windows,
    and a ReLU output that two layers read, which is not fused)."""
    def build():
        inp = nn.Input((9, 9, 2))
        a = nn.Conv2D(4, 3, padding="same", activation="relu")(inp)
        a = nn.MaxPooling2D(3, strides=1, padding="same")(a)
        b = nn.Conv2D(4, 3)(a)
        b = nn.ReLU()(b)
        b = nn.MaxPooling2D()(b)
        c = nn.Dense(4, activation="relu")(nn.Flatten()(b))
        shared = nn.ReLU()(c)
        d = nn.Add()([nn.Dense(4)(shared), shared])
        out = nn.Dense(3, activation="softmax")(d)
        model = nn.Model(inp, out)
        model.compile(nn.optimizers.SGD(0.1, momentum=0.9), "sparse_categorical_crossentropy")
        return model

    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 9, 9, 2)).astype(np.float32)
    y = rng.integers(0, 3, 5)
    fused, plain = build(), build()
    plain.set_weights(fused.get_weights())
    plan = plain._train_plan()
    assert len(fused._train_plan()[4]) == 2                 # both poolings fuse their ReLU
    plain._plan = plan[:4] + (set(), set())                 # the same model, nothing fused
    for _ in range(3):
        fused.train_on_batch(x, y)
        plain.train_on_batch(x, y)
    for a, b in zip(fused.get_weights(), plain.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_first_layer_input_gradient_is_not_computed(monkeypatch):
    import foveal.nn.functional as F

    calls = []
    real = F.conv2d_backward

    def spy(*args, **kwargs):
        calls.append(kwargs.get("need_dx"))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d_backward", spy)
    model = nn.Sequential([nn.Input((6, 6, 1)), nn.Rescaling(0.5), nn.Conv2D(2, 3, activation="relu"),
                           nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    model.train_on_batch(np.ones((4, 6, 6, 1), np.float32), np.array([0, 1, 0, 1]))
    assert calls == [True, False]   # backward order: the second conv, then the first


def test_frozen_layer_keeps_weights_and_still_passes_gradients():
    set_random_seed(3)
    model = small_cnn()
    model.layers[0].trainable = False
    model.compile("sgd", "sparse_categorical_crossentropy")
    x, y = np.random.default_rng(0).normal(size=(8, 8, 8, 1)).astype(np.float32), np.arange(8)
    before = [w.copy() for w in model.get_weights()]
    model.fit(x, y, epochs=2, verbose=0)
    after = model.get_weights()
    assert np.array_equal(before[0], after[0]) and np.array_equal(before[1], after[1])
    assert not np.array_equal(before[-2], after[-2])
    assert len(model.trainable_weights) == len(model.weights) - 2 - 2  # conv frozen, BN moving


# -------------------------------------------------------------------------------------- seeds


def _train_once(seed, x, y):
    set_random_seed(seed)
    model = small_cnn(classes=4, dropout=None)
    model.add(nn.Dropout(0.1))           # unseeded: draws from foveal's global generator
    model.compile(nn.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy")
    model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=True)
    return model.get_weights()


def test_equal_seeds_give_bit_identical_training():
    x, y = blobs(40, (8, 8, 1))
    a, b = _train_once(5, x, y), _train_once(5, x, y)
    assert all(np.array_equal(p, q) for p, q in zip(a, b))
    c = _train_once(6, x, y)
    assert not all(np.array_equal(p, q) for p, q in zip(a, c))


# -------------------------------------------------------------------------------- save / load


@pytest.mark.parametrize("build", [lambda: small_cnn((8, 8, 3), 4, dropout=11),
                                   lambda: residual_model(dropout_seed=12)])
def test_save_load_round_trip_and_continued_training(tmp_path, build):
    set_random_seed(7)
    x, y = blobs(48)
    model = build()
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    path = tmp_path / "model.foveal"
    model.save(path)
    assert os.listdir(tmp_path) == ["model.foveal"]          # no temporary file left behind
    loaded = nn.load_model(path)
    assert type(loaded) is type(model)
    assert [layer.name for layer in loaded.layers] == [layer.name for layer in model.layers]
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))
    assert np.array_equal(model.predict(x, verbose=0), loaded.predict(x, verbose=0))
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    assert loaded.optimizer.iterations == model.optimizer.iterations == 3
    assert loaded.get_config()["layers"] == model.get_config()["layers"]

    set_random_seed(8)
    model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    set_random_seed(8)
    loaded.fit(x, y, batch_size=16, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), loaded.get_weights()))


def test_save_overwrites_atomically_and_keeps_the_learning_rate(tmp_path):
    model = small_cnn()
    model.compile(nn.optimizers.SGD(0.1, momentum=0.5), "sparse_categorical_crossentropy")
    path = tmp_path / "m.foveal"
    path.write_bytes(b"old contents")
    model.optimizer.learning_rate = 0.025
    model.save(str(path))
    assert nn.load_model(path).optimizer.learning_rate == model.optimizer.learning_rate
    with pytest.raises(FileExistsError):
        model.save(path, overwrite=False)
    assert sorted(os.listdir(tmp_path)) == ["m.foveal"]


def test_uncompiled_and_weights_only_files(tmp_path):
    model = residual_model()
    model.save(tmp_path / "raw.foveal")
    loaded = nn.load_model(tmp_path / "raw.foveal")
    assert not loaded.compiled
    other = residual_model()
    other.load_weights(tmp_path / "raw.foveal")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights()))
    model.save_weights(tmp_path / "w.foveal")
    third = residual_model()
    third.load_weights(tmp_path / "w.foveal")
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), third.get_weights()))
    with pytest.raises(ValueError, match="expected model"):
        nn.load_model(tmp_path / "w.foveal")
    with pytest.raises(ValueError, match="weight arrays"):
        small_cnn().load_weights(tmp_path / "w.foveal")


def test_corrupt_truncated_and_missing_files(tmp_path):
    model = small_cnn()
    model.compile("adam", "sparse_categorical_crossentropy")
    path = tmp_path / "m.foveal"
    model.save(path)
    data = path.read_bytes()
    for i, bad in enumerate([
        data[: len(data) // 2],                                            # truncated
        data[:-10],                                                        # lost the end
        data[:200] + bytes([data[200] ^ 0xFF]) + data[201:],               # one byte flipped
        data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 1]) + data[len(data) // 2 + 1:],
        b"not a zip at all",
        b"",
    ]):
        p = tmp_path / f"bad{i}.foveal"
        p.write_bytes(bad)
        with pytest.raises(ValueError, match="foveal model file|checksum|bad array"):
            nn.load_model(p)
    with zipfile.ZipFile(tmp_path / "alien.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ValueError):
        nn.load_model(tmp_path / "alien.zip")
    with pytest.raises(FileNotFoundError):
        nn.load_model(tmp_path / "missing.foveal")


# ------------------------------------------------------------------------------ data sources


class Batches:
    """A minimal PyDataset-like sequence of (x, y) batches."""

    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0
        self.seen = []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.seen.append(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_fit_evaluate_predict_with_a_batch_sequence():
    x, y = blobs(40)
    seq = Batches(x, y, 16)
    model = residual_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(seq, epochs=2, verbose=0, shuffle=False, validation_data=Batches(x, y, 8))
    assert seq.seen == [0, 1, 2, 0, 1, 2] and seq.epochs_ended == 2
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    seq.seen.clear()
    model.fit(seq, epochs=1, verbose=0, steps_per_epoch=5, shuffle=False)   # wraps around
    assert seq.seen == [0, 1, 2, 0, 1]
    seq.seen.clear()
    model.fit(seq, epochs=3, verbose=0)                     # shuffle ignored (Keras): in order
    assert seq.seen == [0, 1, 2] * 3 and seq.epochs_ended == 6
    by_seq = model.evaluate(Batches(x, y, 16), verbose=0, return_dict=True)
    by_arrays = model.evaluate(x, y, batch_size=16, verbose=0, return_dict=True)
    assert by_seq == pytest.approx(by_arrays)
    assert np.array_equal(model.predict(Batches(x, y, 16), verbose=0), model.predict(x, verbose=0))


def test_validation_split_takes_the_last_samples_before_shuffling():
    x, y = blobs(50)
    model = residual_model()
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    history = model.fit(x, y, epochs=1, batch_size=10, validation_split=0.2, verbose=0)
    val = model.evaluate(x[40:], y[40:], batch_size=10, verbose=0, return_dict=True)
    assert history.history["val_loss"][0] == pytest.approx(val["loss"], rel=1e-6)
    assert history.history["val_accuracy"][0] == pytest.approx(val["accuracy"])


def test_epoch_loss_is_the_sample_weighted_mean():
    x, y = blobs(10)
    model = nn.Sequential([nn.Input((8, 8, 3)), nn.Conv2D(2, 3), nn.Flatten(),
                           nn.Dense(4, activation="softmax")])   # no batch-norm or dropout
    model.compile(nn.optimizers.SGD(0.0), "sparse_categorical_crossentropy")
    history = model.fit(x, y, batch_size=4, epochs=1, verbose=0, shuffle=False)  # batches 4, 4, 2
    assert history.history["loss"][0] == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


def test_uint8_inputs_and_evaluate_return_forms():
    model = nn.Sequential([nn.Input((4, 4, 1)), nn.Rescaling(1 / 255), nn.Flatten(), nn.Dense(2)])
    model.compile("sgd", "mse")
    x = np.arange(3 * 16, dtype=np.uint8).reshape(3, 4, 4, 1)
    y = np.zeros((3, 2), np.float32)
    assert isinstance(model.evaluate(x, y, verbose=0), float)
    model.compile("sgd", "mse", metrics=["mae"])
    out = model.evaluate(x, y, verbose=0)
    assert isinstance(out, list) and len(out) == 2
    assert set(model.evaluate(x, y, verbose=0, return_dict=True)) == {"loss", "mae"}
    np.testing.assert_allclose(model.predict(x, verbose=0),
                               model.predict(x.astype(np.float32), verbose=0))


# ------------------------------------------------------------------------------------ output


def test_verbose_modes(capsys):
    x, y = blobs(20)
    model = residual_model()
    model.compile("sgd", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, verbose=2, validation_split=0.2)
    lines = [l for l in capsys.readouterr().out.splitlines() if l.strip()]
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2") and "val_accuracy" in lines[1]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=1, verbose=1)
    out = capsys.readouterr().out
    assert "Epoch 1/1" in out and "loss" in out and "accuracy" in out
    with pytest.raises(ValueError, match="verbose"):
        model.fit(x, y, verbose=3)


def test_summary_and_count_params(capsys):
    model = nn.Sequential([nn.Input((32, 32, 3)), nn.Conv2D(32, 3, padding="same", activation="relu"),
                           nn.MaxPooling2D(), nn.Conv2D(64, 3, padding="same", activation="relu"),
                           nn.MaxPooling2D(), nn.Flatten(), nn.Dense(128, activation="relu"),
                           nn.Dense(10, activation="softmax")])
    # the course CNN's parameter count, as Keras reports it
    assert model.count_params() == 896 + 18496 + 524416 + 1290
    model.summary()
    out = capsys.readouterr().out
    assert "(Conv2D)" in out and "(None, 16, 16, 32)" in out and "(None, 4096)" in out
    assert "Total params: 545,098" in out and "Non-trainable params: 0" in out
    residual_model().summary()
    out = capsys.readouterr().out
    assert "Connected to" in out and "InputLayer" in out and "Add" in out


def test_deferred_sequential_builds_from_data():
    model = nn.Sequential([nn.Conv2D(2, 3), nn.Flatten(), nn.Dense(3)])
    assert not model.built and model.weights == []
    with pytest.raises(ValueError, match="not built"):
        model.summary()
    out = model.predict(np.zeros((2, 5, 5, 1), np.float32), verbose=0)
    assert out.shape == (2, 3) and model.input_shape == (None, 5, 5, 1)
    model2 = nn.Sequential([nn.Dense(4, input_shape=(7,))])
    assert model2.built and model2.output_shape == (None, 4)
    model3 = nn.Sequential([nn.Dense(4)])
    model3.build((None, 3))
    assert model3.count_params() == 16


# ------------------------------------------------------------------------------- bad input


def test_bad_input_errors():
    model = small_cnn()
    x, y = np.zeros((4, 8, 8, 1), np.float32), np.array([0, 1, 2, 3])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    with pytest.raises(RuntimeError, match="compile"):
        model.evaluate(x, y)
    with pytest.raises(ValueError, match="loss"):
        model.compile("sgd", "hinge")
    with pytest.raises(ValueError, match="optimizer"):
        model.compile("adagrad", "mse")
    with pytest.raises(ValueError, match="metrics"):
        model.compile("sgd", "mse", metrics=["auc"])
    with pytest.raises(TypeError, match="loss"):
        model.compile("sgd", lambda a, b: 0.0)
    model.compile("sgd")
    with pytest.raises(RuntimeError, match="loss"):
        model.fit(x, y)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit(x, y[:3], verbose=0)
    with pytest.raises(ValueError, match=r"x has shape \(4, 8, 8, 3\).*\(None, 8, 8, 1\)"):
        model.fit(np.zeros((4, 8, 8, 3), np.float32), y, verbose=0)
    with pytest.raises(ValueError, match="x has shape"):
        model.predict(np.zeros((4, 8, 8), np.float32), verbose=0)
    with pytest.raises(ValueError, match="y"):
        model.fit(x, None, verbose=0)
    with pytest.raises(ValueError, match=r"class indices .* \[0, 10\)"):
        model.fit(x, np.array([0, 1, 2, 10]), verbose=0)
    model.compile("sgd", "categorical_crossentropy")
    with pytest.raises(ValueError, match=r"y \(targets\) has shape \(4, 3\)"):
        model.fit(x, np.zeros((4, 3), np.float32), verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)


def test_set_weights_errors_name_the_layer_and_shape():
    model = small_cnn()
    weights = model.get_weights()
    with pytest.raises(ValueError, match="has 10 weight arrays, got 9"):
        model.set_weights(weights[:-1])
    bad = list(weights)
    bad[0] = np.zeros((3, 3, 2, 8), np.float32)
    with pytest.raises(ValueError, match=r"layer 'conv2d.*' weight 'kernel' must have shape \(3, 3, 1, 8\)"):
        model.set_weights(bad)
    assert all(np.array_equal(a, b) for a, b in zip(weights, model.get_weights()))  # untouched
    dense = model.layers[-1]
    with pytest.raises(ValueError, match=r"expects 2 weight array\(s\) with shapes \['\(16, 10\)', '\(10\)'\]"):
        dense.set_weights([np.zeros((16, 10))])
    with pytest.raises(ValueError, match=r"must have shape \(10\), got \(11\)"):
        dense.set_weights([np.zeros((16, 10)), np.zeros(11)])


def test_graph_errors():
    a, b = nn.Input((4,)), nn.Input((4,))
    with pytest.raises(ValueError, match="not in the model's inputs"):
        nn.Model(a, nn.Add()([a, b]))
    shared = nn.Dense(4)
    with pytest.raises(NotImplementedError, match="shared"):
        nn.Model(a, shared(shared(a)))
    with pytest.raises(ValueError, match="unique"):
        nn.Model(a, nn.Dense(2, name="same")(nn.Dense(4, name="same")(a)))
    with pytest.raises(ValueError, match="one shape"):
        nn.Add()([nn.Input((4,)), nn.Input((5,))])
    with pytest.raises(TypeError, match="inputs and outputs"):
        nn.Model()
    with pytest.raises(TypeError, match="unexpected keyword"):
        nn.Dense(3, kernel_regularizer="l2")
    with pytest.raises(ValueError, match="input channels"):
        conv = nn.Conv2D(2, 3)
        conv(nn.Input((5, 5, 3)))
        conv(np.zeros((1, 5, 5, 4), np.float32))
