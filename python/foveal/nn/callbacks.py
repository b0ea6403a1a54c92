"""Training callbacks with Keras 3's behaviour (``foveal.nn.callbacks``).

``fit`` calls, in order: ``on_train_begin``, then per epoch ``on_epoch_begin``, per batch
``on_train_batch_begin``/``on_train_batch_end`` (whose default implementations call the older
``on_batch_begin``/``on_batch_end``), ``on_epoch_end(epoch, logs)`` with the epoch's ``loss``,
metrics and ``val_*`` values, and finally ``on_train_end``.  Setting ``model.stop_training = True``
ends training after the current batch.
"""

from __future__ import annotations

import csv
import os
import sys
import warnings
from typing import Any, Callable, Dict, List, Optional

import numpy as np

__all__ = ["Callback", "History", "EarlyStopping", "ModelCheckpoint", "LearningRateScheduler",
           "CSVLogger", "LambdaCallback", "TerminateOnNaN"]

Logs = Optional[Dict[str, Any]]


class Callback:
    """Base class; override the hooks you need.  ``self.model`` and ``self.params``
    (``epochs``, ``steps``, ``verbose``) are set by ``fit``."""

    def __init__(self) -> None:
        self.model: Any = None
        self.params: Dict[str, Any] = {}

    def set_model(self, model: Any) -> None:
        """Called by ``fit`` with the model being trained (``self.model``)."""
        self.model = model

    def set_params(self, params: Dict[str, Any]) -> None:
        """Called by ``fit`` with its settings (``epochs``, ``steps``, ``verbose``)."""
        self.params = params

    def on_train_begin(self, logs: Logs = None) -> None:
        """Called once before the first epoch."""

    def on_train_end(self, logs: Logs = None) -> None:
        """Called once after the last epoch (or an early stop)."""

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        """Called at the start of each epoch."""

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        """Called after each epoch with its ``logs`` (loss, metrics, ``val_*``)."""

    def on_train_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Called before each training step (calls :meth:`on_batch_begin`)."""
        self.on_batch_begin(batch, logs)

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after each training step with the running ``logs`` (calls :meth:`on_batch_end`)."""
        self.on_batch_end(batch, logs)

    def on_batch_begin(self, batch: int, logs: Logs = None) -> None:
        """Keras's older name of :meth:`on_train_batch_begin`."""

    def on_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Keras's older name of :meth:`on_train_batch_end`."""


def _overrides(cb: Callback, *names: str) -> bool:
    """Whether ``cb`` replaces any of the hooks ``names`` (in its class or, as LambdaCallback
    does, on the instance)."""
    return any(n in vars(cb) or getattr(type(cb), n) is not getattr(Callback, n) for n in names)


class CallbackList:
    """The callbacks of one ``fit`` call; batch hooks are skipped when nobody overrides them."""

    def __init__(self, callbacks: List[Callback], model: Any, params: Dict[str, Any]) -> None:
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)
        self._batch_begin = [cb for cb in self.callbacks
                             if _overrides(cb, "on_train_batch_begin", "on_batch_begin")]
        self._batch_end = [cb for cb in self.callbacks
                           if _overrides(cb, "on_train_batch_end", "on_batch_end")]

    @property
    def wants_batch_logs(self) -> bool:
        return bool(self._batch_end)

    def on_train_begin(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_begin(logs)

    def on_train_end(self, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_train_end(logs)

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_begin(epoch, logs)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        for cb in self.callbacks:
            cb.on_epoch_end(epoch, logs)

    def on_train_batch_begin(self, batch: int) -> None:
        for cb in self._batch_begin:
            cb.on_train_batch_begin(batch, None)

    def on_train_batch_end(self, batch: int, logs: Logs) -> None:
        for cb in self._batch_end:
            cb.on_train_batch_end(batch, logs)


class History(Callback):
    """Records each epoch's logs: ``history`` (dict of lists) and ``epoch`` (epoch indices);
    ``fit`` returns it and sets ``model.history``."""

    def __init__(self) -> None:
        super().__init__()
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []

    def on_train_begin(self, logs: Logs = None) -> None:
        self.epoch = []

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)
        self.model.history = self


class _MonitorCallback(Callback):
    """Shared "is this an improvement" logic of EarlyStopping and ModelCheckpoint (Keras's
    MonitorCallback): ``mode="auto"`` minimizes losses and maximizes accuracies."""

    def __init__(self, monitor: str = "val_loss", mode: str = "auto", baseline: Optional[float] = None,
                 min_delta: float = 0.0) -> None:
        super().__init__()
        if mode not in ("auto", "min", "max"):
            warnings.warn(f"{type(self).__name__} mode {mode!r} is unknown, fallback to auto mode.",
                          stacklevel=3)
            mode = "auto"
        self.monitor = monitor
        self.mode = mode
        self.best = baseline
        self.min_delta = abs(float(min_delta))
        self._greater: Optional[bool] = None

    def _set_direction(self) -> None:
        if self.mode != "auto":
            self._greater = self.mode == "max"
        else:
            metric = self.monitor[4:] if self.monitor.startswith("val_") else self.monitor
            if metric == "loss":
                self._greater = False
            for m in getattr(self.model, "metrics", []) or []:
                if m.name == metric:
                    self._greater = getattr(m, "direction", "down") == "up"
            if self._greater is None:
                raise ValueError(
                    f"{type(self).__name__} callback received monitor={self.monitor!r}, but cannot "
                    "tell whether it should be maximized or minimized; pass mode='max' or mode='min'")
        if not self._greater:
            self.min_delta = -abs(self.min_delta)

    def _is_improvement(self, value: float, reference: Optional[float]) -> bool:
        if reference is None:
            return True
        if self._greater:
            return value - self.min_delta > reference
        return value - self.min_delta < reference


class EarlyStopping(_MonitorCallback):
    """Stop training when ``monitor`` has not improved for ``patience`` epochs (Keras rules:
    an improvement is a change by more than ``min_delta`` in the right direction; with
    ``baseline``, the wait only resets on improving past it; ``restore_best_weights`` puts back
    the best epoch's weights at the end of training)."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: Optional[float] = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0) -> None:
        super().__init__(monitor, mode, None, min_delta)
        self.patience = int(patience)
        self.verbose = verbose
        self.baseline = baseline
        self.restore_best_weights = bool(restore_best_weights)
        self.start_from_epoch = int(start_from_epoch)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_weights: Optional[List[np.ndarray]] = None
        self.best_epoch = 0

    def on_train_begin(self, logs: Logs = None) -> None:
        self.wait = 0
        self.stopped_epoch = 0
        self.best = None
        self.best_weights = None
        self.best_epoch = 0

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self._greater is None:
            self._set_direction()
        current = (logs or {}).get(self.monitor)
        if current is None:
            warnings.warn(f"Early stopping conditioned on metric {self.monitor!r} which is not "
                          f"available. Available metrics are: {','.join(logs or {})}", stacklevel=2)
            return
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
            self.best_epoch = epoch
        self.wait += 1
        if self._is_improvement(current, self.best):
            self.best = current
            self.best_epoch = epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._is_improvement(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs: Logs = None) -> None:
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(_MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``) after every epoch,
    or only when ``monitor`` improved (``save_best_only``).  ``filepath`` may hold format fields:
    ``{epoch:02d}`` (1-based) and any log key, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.foveal"``."""

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 initial_value_threshold: Optional[float] = None) -> None:
        super().__init__(monitor, mode, initial_value_threshold)
        self.filepath = os.fspath(filepath)
        self.verbose = verbose
        self.save_best_only = bool(save_best_only)
        self.save_weights_only = bool(save_weights_only)

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if self._greater is None:
            self._set_direction()
        logs = logs or {}
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise KeyError(f"Failed to format this callback filepath: {self.filepath!r}. "
                           f"Reason: {e}") from None
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=2)
            elif self._is_improvement(current, self.best):
                if self.verbose > 0:
                    best = "None" if self.best is None else f"{self.best:.5f}"
                    print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {best} to "
                          f"{current:.5f}, saving model to {path}")
                self.best = current
            else:
                if self.verbose > 0:
                    print(f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}")
                return
        elif self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: saving model to {path}")
        if os.path.isdir(path):
            raise IsADirectoryError(f"ModelCheckpoint filepath is an existing directory: {path}")
        dirname = os.path.dirname(path)
        if dirname:
            os.makedirs(dirname, exist_ok=True)
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch start to ``schedule(epoch, lr)`` (or
    ``schedule(epoch)``); the epoch logs then record ``learning_rate``."""

    def __init__(self, schedule: Callable[..., float], verbose: int = 0) -> None:
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch: int, logs: Logs = None) -> None:
        optimizer = self.model.optimizer
        try:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        except TypeError:   # the older one-argument form
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, np.floating)):
            raise ValueError(f"The output of the schedule function should be a float. Got: {lr!r}")
        optimizer.learning_rate = lr
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class CSVLogger(Callback):
    """Append each epoch's logs to a CSV file: an ``epoch`` column then the log keys sorted (and
    their ``val_`` twins when validation has not run yet), as Keras writes it."""

    def __init__(self, filename: str, separator: str = ",", append: bool = False) -> None:
        super().__init__()
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = bool(append)
        self._file: Any = None
        self._writer: Any = None
        self.keys: Optional[List[str]] = None
        self._write_header = True

    def on_train_begin(self, logs: Logs = None) -> None:
        self._write_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename, "r", newline="") as f:
                self._write_header = not bool(f.readline())
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._writer = None
        self.keys = None

    def on_epoch_end(self, epoch: int, logs: Logs = None) -> None:
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self._writer is None:
            sep = self.sep

            class _Dialect(csv.excel):
                delimiter = sep

            self._writer = csv.DictWriter(self._file, fieldnames=["epoch"] + self.keys, dialect=_Dialect)
            if self._write_header:
                self._writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, logs.get(k, "NA")) for k in self.keys)
        self._writer.writerow(row)
        self._file.flush()

    def on_train_end(self, logs: Logs = None) -> None:
        if self._file is not None and not self._file.closed:
            self._file.close()
        self._writer = None


class LambdaCallback(Callback):
    """A callback from plain functions: ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch,
    logs)``, ``on_train_batch_begin(batch, logs)``, ``on_train_batch_end(batch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``."""

    def __init__(self, on_epoch_begin: Optional[Callable] = None, on_epoch_end: Optional[Callable] = None,
                 on_train_batch_begin: Optional[Callable] = None,
                 on_train_batch_end: Optional[Callable] = None,
                 on_train_begin: Optional[Callable] = None, on_train_end: Optional[Callable] = None) -> None:
        super().__init__()
        for name, fn in (("on_epoch_begin", on_epoch_begin), ("on_epoch_end", on_epoch_end),
                         ("on_train_batch_begin", on_train_batch_begin),
                         ("on_train_batch_end", on_train_batch_end),
                         ("on_train_begin", on_train_begin), ("on_train_end", on_train_end)):
            if fn is not None:
                setattr(self, name, fn)


class TerminateOnNaN(Callback):
    """Stop training as soon as a batch's loss is NaN or infinite."""

    def on_train_batch_end(self, batch: int, logs: Logs = None) -> None:
        """Called after each training step with the running ``logs`` (calls :meth:`on_batch_end`)."""
        loss = (logs or {}).get("loss")
        if loss is not None and not np.isfinite(loss):
            print(f"Batch {batch}: Invalid loss, terminating training", file=sys.stdout)
            self.model.stop_training = True
