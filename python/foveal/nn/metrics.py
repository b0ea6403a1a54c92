"""Metrics with Keras's names and meanings (``foveal.nn.metrics``).

A metric accumulates over batches (``update_state``) and reports the sample-weighted mean so
far (``result``), as Keras's stateful metrics do; ``fit`` resets them every epoch.
``"accuracy"`` (or ``"acc"``) is resolved as Keras resolves it, from the shapes of the targets
and the predictions: binary accuracy when the output has one unit, sparse categorical accuracy
when the targets have one axis fewer (or a last axis of 1), categorical accuracy otherwise.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple

import numpy as np

from ._lookup import resolve, serialize

__all__ = [
    "Metric", "Mean", "MeanMetricWrapper", "CategoricalAccuracy", "SparseCategoricalAccuracy",
    "BinaryAccuracy", "MeanSquaredError", "MeanAbsoluteError", "categorical_accuracy",
    "sparse_categorical_accuracy", "binary_accuracy", "get", "serialize",
]


class Metric:
    """Base class: ``update_state(y_true, y_pred)``, ``result()``, ``reset_state()``.

    ``direction`` is ``"up"`` when larger is better (EarlyStopping's ``mode="auto"`` uses it).
    """

    direction = "down"

    def __init__(self, name: Optional[str] = None) -> None:
        self.name = name or type(self).__name__
        self.reset_state()

    def reset_state(self) -> None:
        """Forget everything accumulated."""
        self._total = 0.0
        self._count = 0.0

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        """Add one batch's targets and predictions to the running value."""
        raise NotImplementedError

    def result(self) -> float:
        """The mean so far (0.0 before any update, as Keras)."""
        return self._total / self._count if self._count else 0.0

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (JSON-serializable)."""
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Metric":
        """A metric from :meth:`get_config`'s dict."""
        return cls(**config)


class Mean(Metric):
    """Weighted mean of the values given to ``update_state(values, sample_weight=None)``."""

    def update_state(self, values: Any, sample_weight: Any = None) -> None:  # type: ignore[override]
        v = np.asarray(values, np.float64)
        if sample_weight is None:
            self._total += float(v.sum())
            self._count += v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, np.float64), v.shape)
            self._total += float((v * w).sum())
            self._count += float(w.sum())


class MeanMetricWrapper(Metric):
    """Mean over samples of a per-sample function ``fn(y_true, y_pred) -> values``."""

    def __init__(self, fn: Callable[[Any, Any], np.ndarray], name: Optional[str] = None) -> None:
        self._fn = fn
        super().__init__(name or getattr(fn, "__name__", "metric"))

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        v = np.asarray(self._fn(y_true, y_pred), np.float64)
        if sample_weight is None:
            self._total += float(v.sum())
            self._count += v.size
        else:
            w = np.broadcast_to(np.asarray(sample_weight, np.float64).reshape(
                v.shape[:1] + (1,) * (v.ndim - 1)), v.shape)
            self._total += float((v * w).sum())
            self._count += float(w.sum())


def _labels(y_true: Any, y_pred: np.ndarray) -> np.ndarray:
    y = np.asarray(y_true)
    if y.ndim == y_pred.ndim and y.shape[-1] == 1:
        y = y.reshape(y.shape[:-1])
    return y


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``argmax(y_pred) == argmax(y_true)`` (one-hot targets), per sample."""
    y_pred = np.asarray(y_pred)
    return (np.argmax(np.asarray(y_true), -1) == np.argmax(y_pred, -1)).astype(np.float32)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """1.0 where ``argmax(y_pred)`` equals the integer label, per sample."""
    y_pred = np.asarray(y_pred)
    labels = _labels(y_true, y_pred)
    return (np.argmax(y_pred, -1) == labels).astype(np.float32)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """Mean over the last axis of ``(y_pred > threshold) == y_true``, per sample."""
    y_pred = np.asarray(y_pred)
    y = np.asarray(y_true, np.float32)
    if y.ndim == y_pred.ndim - 1 and y_pred.shape[-1] == 1:
        y = y[..., None]
    return ((y_pred > threshold).astype(np.float32) == y).mean(axis=-1)


def _mse(y_true: Any, y_pred: Any) -> np.ndarray:
    y_pred = np.asarray(y_pred, np.float32)
    y = np.asarray(y_true, np.float32).reshape(y_pred.shape)
    return np.square(y_pred - y).mean(axis=-1)


def _mae(y_true: Any, y_pred: Any) -> np.ndarray:
    y_pred = np.asarray(y_pred, np.float32)
    y = np.asarray(y_true, np.float32).reshape(y_pred.shape)
    return np.abs(y_pred - y).mean(axis=-1)


class CategoricalAccuracy(MeanMetricWrapper):
    """Share of samples whose predicted class is the one-hot target's class."""

    direction = "up"

    def __init__(self, name: str = "categorical_accuracy") -> None:
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """Share of samples whose predicted class equals the integer label."""

    direction = "up"

    def __init__(self, name: str = "sparse_categorical_accuracy") -> None:
        super().__init__(sparse_categorical_accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """Share of outputs on the right side of ``threshold``."""

    direction = "up"

    def __init__(self, name: str = "binary_accuracy", threshold: float = 0.5) -> None:
        self.threshold = float(threshold)
        super().__init__(lambda y, p: binary_accuracy(y, p, self.threshold), name)

    def get_config(self) -> Dict[str, Any]:
        return {"name": self.name, "threshold": self.threshold}


class MeanSquaredError(MeanMetricWrapper):
    """Mean squared error."""

    def __init__(self, name: str = "mean_squared_error") -> None:
        super().__init__(_mse, name)


class MeanAbsoluteError(MeanMetricWrapper):
    """Mean absolute error."""

    def __init__(self, name: str = "mean_absolute_error") -> None:
        super().__init__(_mae, name)


_BY_NAME = {
    "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
    "mae": MeanAbsoluteError, "mean_absolute_error": MeanAbsoluteError,
}
def _accuracy_kind(y_true_shape: Tuple[int, ...], y_pred_shape: Tuple[int, ...]) -> type:
    """Keras's is_binary_or_sparse_categorical rule."""
    if y_pred_shape[-1] == 1:
        return BinaryAccuracy
    if len(y_true_shape) < len(y_pred_shape) or (y_true_shape[-1] == 1 and y_pred_shape[-1] > 1):
        return SparseCategoricalAccuracy
    return CategoricalAccuracy


def get(identifier: Any, y_true_shape: Optional[Tuple[int, ...]] = None,
        y_pred_shape: Optional[Tuple[int, ...]] = None) -> Metric:
    """A metric from a name (``"accuracy"``/``"acc"`` resolved from the target and prediction
    shapes, ``"categorical_accuracy"``, ``"sparse_categorical_accuracy"``, ``"binary_accuracy"``,
    ``"mse"``, ``"mae"``), a config dict, or a :class:`Metric` (returned as is).  The metric is
    named as given (``"acc"`` logs as ``acc``)."""
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        if y_true_shape is None or y_pred_shape is None:
            raise ValueError("metrics: 'accuracy' needs the target and prediction shapes to resolve")
        return _accuracy_kind(tuple(y_true_shape), tuple(y_pred_shape))(name=identifier)
    if isinstance(identifier, str) and identifier.lower() not in _BY_NAME:
        raise ValueError(f"metrics entries must be one of 'accuracy', "
                         f"{', '.join(map(repr, _BY_NAME))} or Metric objects, got {identifier!r}")
    metric = resolve(identifier, "metrics entries", Metric, _BY_NAME)
    if isinstance(identifier, str):
        metric.name = identifier
    return metric


def check_identifier(identifier: Any) -> None:
    """Raise the error :func:`get` would, without needing shapes (used by ``compile``)."""
    if isinstance(identifier, Metric):
        return
    if isinstance(identifier, str) and identifier.lower() in ("accuracy", "acc"):
        return
    get(identifier)
