"""Losses with Keras 3's formulas, and their gradients (``foveal.nn.losses``).

A loss maps ``(y_true, y_pred)`` to the mean over the batch of a per-sample loss (Keras's
``"sum_over_batch_size"`` reduction).  Probabilities (``from_logits=False``) are handled as Keras
does: categorical predictions are renormalized to sum to 1, then every probability is clipped to
``[1e-7, 1 - 1e-7]``.  The gradient is the exact gradient of that expression, clipping included
(zero where a value is clipped).  When the model's output layer ends in softmax (categorical) or
sigmoid (binary), the gradient is returned before that activation in the fused form
``(p - y) / N`` wherever no clipping is active, which is both cheaper and more accurate.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from .. import _core
from .._checks import as_float32
from ._lookup import resolve, serialize

__all__ = [
    "Loss", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "BinaryCrossentropy",
    "MeanSquaredError", "categorical_crossentropy", "sparse_categorical_crossentropy",
    "binary_crossentropy", "mean_squared_error", "mse", "get", "serialize",
]

EPSILON = np.float32(1e-7)          # Keras's backend.epsilon()
_ONE_MINUS_EPS = np.float32(1.0) - EPSILON


def _match_rank(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Keras's squeeze_or_expand_to_same_rank for a trailing axis of size 1."""
    if y.ndim == p.ndim - 1 and p.shape[-1] == 1:
        return y.reshape(y.shape + (1,))
    if y.ndim == p.ndim + 1 and y.shape[-1] == 1:
        return y.reshape(y.shape[:-1])
    return y


def _same_shape(y: np.ndarray, p: np.ndarray, loss: str) -> None:
    if y.shape != p.shape:
        raise ValueError(f"{loss}: y (targets) has shape {y.shape} but the model output has shape "
                         f"{p.shape}; they must match")


class Loss:
    """Base class.  ``loss(y_true, y_pred)`` returns the batch mean as a Python float.

    Subclasses implement ``_value_and_grad(y_true, y_pred, activation)`` returning
    ``(per_sample_losses, gradient, fused)``: the gradient of the batch mean with respect to
    ``y_pred``, or, when ``fused`` is True, with respect to the input of the output layer's
    ``activation``.
    """

    name = "loss"

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        y_pred = as_float32(y_pred, "y_pred")
        return float(np.mean(self._values(y_true, y_pred), dtype=np.float64))

    def _values(self, y_true: Any, y_pred: np.ndarray) -> np.ndarray:
        """Per-sample losses (float32)."""
        raise NotImplementedError

    def _value_and_grad(self, y_true: Any, y_pred: np.ndarray, activation: Optional[str] = None
                        ) -> Tuple[np.ndarray, np.ndarray, bool]:
        raise NotImplementedError

    def gradient(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """Gradient of ``self(y_true, y_pred)`` with respect to ``y_pred``."""
        return self._value_and_grad(y_true, as_float32(y_pred, "y_pred"), None)[1]

    def get_config(self) -> Dict[str, Any]:
        """The constructor arguments (JSON-serializable)."""
        return {}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Loss":
        """A loss from :meth:`get_config`'s dict."""
        return cls(**config)


def _crossentropy(y: np.ndarray, p: np.ndarray, from_logits: bool, activation: Optional[str]
                  ) -> Tuple[np.ndarray, np.ndarray, bool]:
    """Categorical cross-entropy ``-sum(y * log(q))`` per sample, and its gradient (see module).

    Logits, and probabilities from a softmax output layer, go to the native kernel, which returns
    the values, the fused gradient and the rows where clipping voids the fused form (fixed here)."""
    c = p.shape[-1]
    n = int(np.prod(p.shape[:-1], dtype=np.int64))
    if n == 0 or c == 0:
        return np.zeros(p.shape[:-1], np.float32), np.zeros_like(p), activation == "softmax"
    inv_n = np.float32(1.0 / n)
    if from_logits or activation == "softmax":
        p2, y2 = p.reshape(n, c), y.reshape(n, c)
        values, grad, clipped = _core.softmax_cross_entropy(p2, y2, bool(from_logits), float(EPSILON))
        if not from_logits and clipped.any():
            rows = np.nonzero(clipped)[0]
            pr, yr = p2[rows], y2[rows]
            total = pr.sum(axis=-1, keepdims=True)
            q = pr / total
            inside = (q >= EPSILON) & (q <= _ONE_MINUS_EPS)
            g = _probability_grad(yr, q, inside, total)
            grad[rows] = pr * (g - (pr * g).sum(axis=-1, keepdims=True)) * inv_n
        return values.reshape(p.shape[:-1]), grad.reshape(p.shape), not from_logits
    total = p.sum(axis=-1, keepdims=True)
    q = p / total
    inside = (q >= EPSILON) & (q <= _ONE_MINUS_EPS)
    qc = np.clip(q, EPSILON, _ONE_MINUS_EPS)
    values = -(y * np.log(qc)).sum(axis=-1)
    grad = _probability_grad(y, q, inside, total)
    grad *= inv_n
    return values, grad.astype(np.float32, copy=False), False


def _probability_grad(y: np.ndarray, q: np.ndarray, inside: np.ndarray, total: np.ndarray) -> np.ndarray:
    """d/dp of ``-sum(y * log(clip(p / sum(p))))`` (one sample per row, no batch mean)."""
    u = np.where(inside, y / np.where(inside, q, 1), 0).astype(np.float32)   # -dL/dq
    return (-u + (u * q).sum(axis=-1, keepdims=True)) / total


class CategoricalCrossentropy(Loss):
    """Cross-entropy against one-hot (or soft) targets ``N x C`` (Keras
    ``CategoricalCrossentropy``); ``from_logits=True`` takes raw scores."""

    name = "categorical_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def _targets(self, y_true: Any, p: np.ndarray) -> np.ndarray:
        y = _match_rank(as_float32(y_true, "y"), p)
        _same_shape(y, p, "categorical_crossentropy")
        return y

    def _values(self, y_true: Any, y_pred: np.ndarray) -> np.ndarray:
        return self._value_and_grad(y_true, y_pred, None)[0]

    def _value_and_grad(self, y_true: Any, y_pred: np.ndarray, activation: Optional[str] = None
                        ) -> Tuple[np.ndarray, np.ndarray, bool]:
        return _crossentropy(self._targets(y_true, y_pred), y_pred, self.from_logits, activation)

    def get_config(self) -> Dict[str, Any]:
        return {"from_logits": self.from_logits}


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Cross-entropy against integer class labels ``N`` (or ``N x 1``) (Keras
    ``SparseCategoricalCrossentropy``)."""

    name = "sparse_categorical_crossentropy"

    def _targets(self, y_true: Any, p: np.ndarray) -> np.ndarray:
        labels = np.asarray(y_true)
        if labels.dtype.kind not in "biuf":
            raise TypeError(f"sparse_categorical_crossentropy: y must hold class indices, got dtype "
                            f"{labels.dtype}")
        if labels.ndim == p.ndim and labels.shape[-1] == 1:
            labels = labels.reshape(labels.shape[:-1])
        if labels.shape != p.shape[:-1]:
            raise ValueError(f"sparse_categorical_crossentropy: y (class indices) has shape "
                             f"{labels.shape} but the model output has shape {p.shape}; y must "
                             f"have shape {p.shape[:-1]}")
        idx = labels.astype(np.int64)
        if labels.dtype.kind == "f" and not np.array_equal(idx, labels):
            raise ValueError("sparse_categorical_crossentropy: y must hold integer class indices")
        c = p.shape[-1]
        if idx.size and (idx.min() < 0 or idx.max() >= c):
            raise ValueError(f"sparse_categorical_crossentropy: class indices in y must be in "
                             f"[0, {c}), got values from {idx.min()} to {idx.max()}")
        onehot = np.zeros(p.shape, np.float32)
        np.put_along_axis(onehot, idx[..., None], np.float32(1), axis=-1)
        return onehot


class BinaryCrossentropy(Loss):
    """Binary cross-entropy, averaged over the last axis then the batch (Keras
    ``BinaryCrossentropy``); targets in [0, 1] of the output's shape."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False) -> None:
        self.from_logits = bool(from_logits)

    def _values(self, y_true: Any, y_pred: np.ndarray) -> np.ndarray:
        return self._value_and_grad(y_true, y_pred, None)[0]

    def _value_and_grad(self, y_true: Any, y_pred: np.ndarray, activation: Optional[str] = None
                        ) -> Tuple[np.ndarray, np.ndarray, bool]:
        p = y_pred
        y = _match_rank(as_float32(y_true, "y"), p)
        _same_shape(y, p, "binary_crossentropy")
        scale = np.float32(1.0 / p.size)
        if self.from_logits:
            elems = np.maximum(p, 0) - p * y + np.log1p(np.exp(-np.abs(p)))
            sig = np.exp(-np.logaddexp(np.float32(0), -p)).astype(np.float32)
            grad = (sig - y) * scale
            return elems.mean(axis=-1), grad.astype(np.float32, copy=False), False
        inside = (p >= EPSILON) & (p <= _ONE_MINUS_EPS)
        pc = np.clip(p, EPSILON, _ONE_MINUS_EPS)
        elems = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
        if activation == "sigmoid":
            grad = np.where(inside, p - y, np.float32(0)) * scale
            return elems.mean(axis=-1), grad.astype(np.float32, copy=False), True
        grad = np.where(inside, (pc - y) / (pc * (1 - pc)), np.float32(0)) * scale
        return elems.mean(axis=-1), grad.astype(np.float32, copy=False), False

    def get_config(self) -> Dict[str, Any]:
        return {"from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """Mean of ``(y_true - y_pred)**2`` over the last axis, then the batch (Keras ``"mse"``)."""

    name = "mean_squared_error"

    def _values(self, y_true: Any, y_pred: np.ndarray) -> np.ndarray:
        return self._value_and_grad(y_true, y_pred, None)[0]

    def _value_and_grad(self, y_true: Any, y_pred: np.ndarray, activation: Optional[str] = None
                        ) -> Tuple[np.ndarray, np.ndarray, bool]:
        y = _match_rank(as_float32(y_true, "y"), y_pred)
        _same_shape(y, y_pred, "mean_squared_error")
        diff = y_pred - y
        grad = diff * np.float32(2.0 / y_pred.size)
        return (diff * diff).mean(axis=-1), grad, False


def categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """Per-sample categorical cross-entropy (Keras's function of the same name)."""
    return CategoricalCrossentropy(from_logits)._values(y_true, as_float32(y_pred, "y_pred"))


def sparse_categorical_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """Per-sample sparse categorical cross-entropy."""
    return SparseCategoricalCrossentropy(from_logits)._values(y_true, as_float32(y_pred, "y_pred"))


def binary_crossentropy(y_true: Any, y_pred: Any, from_logits: bool = False) -> np.ndarray:
    """Per-sample binary cross-entropy (mean over the last axis)."""
    return BinaryCrossentropy(from_logits)._values(y_true, as_float32(y_pred, "y_pred"))


def mean_squared_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per-sample mean squared error (mean over the last axis)."""
    return MeanSquaredError()._values(y_true, as_float32(y_pred, "y_pred"))


mse = mean_squared_error

_BY_NAME = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError, "mean_squared_error": MeanSquaredError,
}


def get(identifier: Any) -> Loss:
    """A loss from a name (``"categorical_crossentropy"``, ``"sparse_categorical_crossentropy"``,
    ``"binary_crossentropy"``, ``"mse"``), a ``{"class_name", "config"}`` dict, or a
    :class:`Loss` (returned as is).  Plain functions are refused: foveal needs the gradient."""
    return resolve(identifier, "loss", Loss, _BY_NAME)
