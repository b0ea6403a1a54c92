"""foveal.nn.callbacks: History, EarlyStopping, ModelCheckpoint, LearningRateScheduler, CSVLogger,
and stop_training, with Keras 3's rules."""
import csv

import numpy as np
import pytest

import foveal.nn as nn
from foveal.nn import callbacks as cb


def tiny_model():
    model = nn.Sequential([nn.Input((3,)), nn.Dense(4, activation="relu"), nn.Dense(2, activation="softmax")])
    model.compile(nn.optimizers.SGD(0.1), "sparse_categorical_crossentropy", ["accuracy"])
    return model


X = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32)
Y = (X[:, 0] > 0).astype(np.int64)


class Scripted(cb.Callback):
    """Overwrite a logged value with a scripted sequence (runs before the callbacks under test)."""

    def __init__(self, key, values):
        super().__init__()
        self.key, self.values = key, list(values)

    def on_epoch_end(self, epoch, logs=None):
        logs[self.key] = self.values[epoch]


def fit(model, callbacks, epochs=10, **kwargs):
    return model.fit(X, Y, epochs=epochs, batch_size=5, verbose=0, callbacks=callbacks, **kwargs)


def test_history_records_every_epoch_from_initial_epoch():
    model = tiny_model()
    history = fit(model, [], epochs=5, initial_epoch=2, validation_data=(X, Y))
    assert history.epoch == [2, 3, 4]
    assert list(history.history) == ["loss", "accuracy", "val_loss", "val_accuracy"]
    assert all(len(v) == 3 for v in history.history.values())
    assert model.history is history


def test_early_stopping_patience_and_restore_best_weights():
    model = tiny_model()
    weights_at_end = []
    record = cb.LambdaCallback(on_epoch_end=lambda e, logs: weights_at_end.append(model.get_weights()))
    stop = cb.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    history = fit(model, [Scripted("val_loss", [5, 4, 3, 3.5, 3.2, 3.1, 1, 1, 1, 1]), record, stop],
                  validation_data=(X, Y))
    assert history.epoch == [0, 1, 2, 3, 4]          # no improvement on epochs 3 and 4
    assert stop.stopped_epoch == 4 and stop.best == 3 and stop.best_epoch == 2
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), weights_at_end[2]))


def test_early_stopping_mode_min_delta_and_baseline():
    model = tiny_model()
    stop = cb.EarlyStopping(monitor="accuracy", min_delta=0.1, patience=1)   # auto -> max
    history = fit(model, [Scripted("accuracy", [0.5, 0.55, 0.58, 0.9, 0.95, 1, 1, 1, 1, 1]), stop])
    assert history.epoch == [0, 1]                   # +0.05 is not an improvement of > 0.1
    # Keras: the first value counts as an improvement, but only one past the baseline resets
    # the wait (and, as in Keras, an epoch that improves the best value never stops training)
    stop = cb.EarlyStopping(monitor="loss", patience=3, baseline=0.1)
    history = fit(model, [Scripted("loss", [1] * 10), stop])
    assert history.epoch == [0, 1, 2]
    stop = cb.EarlyStopping(monitor="loss", patience=3)
    history = fit(model, [Scripted("loss", [1] * 10), stop])
    assert history.epoch == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="mode"):
        fit(model, [Scripted("weird", [0] * 10), cb.EarlyStopping(monitor="weird")], epochs=1)


def test_stop_training_from_a_batch_callback():
    class StopAfter(cb.Callback):
        def on_train_batch_end(self, batch, logs=None):
            assert set(logs) == {"loss", "accuracy"}
            if batch == 1:
                self.model.stop_training = True

    history = fit(tiny_model(), [StopAfter()])
    assert history.epoch == [0]


def test_model_checkpoint_every_epoch_and_best_only(tmp_path):
    model = tiny_model()
    pattern = str(tmp_path / "ckpt-{epoch:02d}-{loss:.3f}.foveal")
    fit(model, [cb.ModelCheckpoint(pattern, save_weights_only=True)], epochs=3)
    names = sorted(p.name for p in tmp_path.iterdir())
    assert len(names) == 3 and names[0].startswith("ckpt-01-") and names[2].startswith("ckpt-03-")
    other = tiny_model()
    other.load_weights(tmp_path / names[2])
    assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), other.get_weights()))

    best = tmp_path / "sub" / "best.foveal"
    saved_at = []
    record = cb.LambdaCallback(on_epoch_end=lambda e, logs: saved_at.append(
        best.exists() and best.stat().st_mtime_ns))
    fit(model, [Scripted("val_loss", [3, 2, 2.5, 1, 4]), cb.ModelCheckpoint(str(best), save_best_only=True),
                record], epochs=5, validation_data=(X, Y))
    changed = [i for i in range(1, 5) if saved_at[i] != saved_at[i - 1]]
    assert saved_at[0] and changed == [1, 3]
    assert nn.load_model(best).optimizer.iterations > 0


def test_learning_rate_scheduler():
    model = tiny_model()
    seen = []

    def schedule(epoch, lr):
        seen.append(lr)
        return lr * 0.5

    history = fit(model, [cb.LearningRateScheduler(schedule)], epochs=3)
    assert seen == pytest.approx([0.1, 0.05, 0.025])
    assert history.history["learning_rate"] == pytest.approx([0.05, 0.025, 0.0125])
    assert model.optimizer.learning_rate == pytest.approx(0.0125)
    fit(model, [cb.LearningRateScheduler(lambda epoch: 0.3)], epochs=1)      # one-argument form
    assert model.optimizer.learning_rate == pytest.approx(0.3)
    with pytest.raises(ValueError, match="float"):
        fit(model, [cb.LearningRateScheduler(lambda epoch, lr: "fast")], epochs=1)


def test_csv_logger(tmp_path):
    path = tmp_path / "log.csv"
    fit(tiny_model(), [cb.CSVLogger(str(path))], epochs=2, validation_data=(X, Y))
    rows = list(csv.DictReader(open(path)))
    assert list(rows[0]) == ["epoch", "accuracy", "loss", "val_accuracy", "val_loss"]
    assert [r["epoch"] for r in rows] == ["0", "1"]
    fit(tiny_model(), [cb.CSVLogger(str(path), separator=";", append=True)], epochs=1,
        validation_data=(X, Y))
    lines = open(path).read().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("0;")


def test_callback_hooks_order():
    events = []

    class Recorder(cb.Callback):
        def on_train_begin(self, logs=None):
            events.append("train_begin")

        def on_epoch_begin(self, epoch, logs=None):
            events.append(f"epoch_begin {epoch}")

        def on_batch_end(self, batch, logs=None):   # the older name still works
            events.append(f"batch_end {batch}")

        def on_epoch_end(self, epoch, logs=None):
            events.append(f"epoch_end {epoch}")

        def on_train_end(self, logs=None):
            events.append("train_end")

    rec = Recorder()
    model = tiny_model()
    model.fit(X[:10], Y[:10], batch_size=5, epochs=2, verbose=0, callbacks=[rec])
    assert events == ["train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1", "epoch_end 0",
                      "epoch_begin 1", "batch_end 0", "batch_end 1", "epoch_end 1", "train_end"]
    assert rec.model is model and rec.params == {"epochs": 2, "steps": 2, "verbose": 0}
    with pytest.raises(TypeError, match="Callback"):
        model.fit(X, Y, verbose=0, callbacks=[lambda: None])


def test_small_values_print_in_scientific_notation_as_keras():
    from foveal.nn._progress import format_logs

    assert format_logs({"loss": 0.12345, "learning_rate": 1e-5, "accuracy": 0.0}) == \
        "loss: 0.1235 - learning_rate: 1.0000e-05 - accuracy: 0.0000e+00"
