"""Optimizers with Keras 3's update rules, computed in float32 in place by native kernels
(``foveal.nn.optimizers``; the same operations, in the same order, as the NumPy formulas below).

An optimizer keeps, per trainable weight, the slot arrays its rule needs (created at the first
update, like Keras's ``build``) and a step counter ``iterations``.  ``learning_rate`` may be set
between steps (``LearningRateScheduler`` does); like Keras it is held as a float32 value.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import numpy as np

from .. import _core
from ._lookup import resolve, serialize

__all__ = ["Optimizer", "SGD", "Adam", "RMSprop", "get", "serialize"]


def _float32(v: Any, name: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a number, got {type(v).__name__}") from None
    if not np.isfinite(f) or f < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {v!r}")
    return float(np.float32(f))


class Optimizer:
    """Base class.  Subclasses list their slot names in ``_slot_names()`` and implement
    ``_update(weight, grad, slots)`` for one weight, in place."""

    def __init__(self, learning_rate: float = 0.001, name: Optional[str] = None) -> None:
        self.learning_rate = learning_rate
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._index: Dict[int, int] = {}        # id(weight) -> position in self._variables
        self._variables: List[Any] = []
        self._slots: List[Dict[str, np.ndarray]] = []

    @property
    def learning_rate(self) -> float:
        """The learning rate (float32 precision, as a Python float)."""
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = _float32(value, "learning_rate")

    # ---- slots ----------------------------------------------------------------------------
    def _slot_names(self) -> Tuple[str, ...]:
        return ()

    def build(self, variables: Sequence[Any]) -> None:
        """Create zero slots for ``variables`` (weights with ``.value`` arrays) not seen yet."""
        for v in variables:
            if id(v) not in self._index:
                self._index[id(v)] = len(self._variables)
                self._variables.append(v)
                self._slots.append({n: np.zeros_like(v.value) for n in self._slot_names()})

    @property
    def built(self) -> bool:
        """Whether the slot arrays exist (after the first update or ``build``)."""
        return bool(self._variables)

    def slots_for(self, variable: Any) -> Optional[Dict[str, np.ndarray]]:
        """The slot arrays of ``variable`` (by name), or None before its first update."""
        i = self._index.get(id(variable))
        return None if i is None else self._slots[i]

    # ---- updates --------------------------------------------------------------------------
    def apply_gradients(self, grads_and_vars: Sequence[Tuple[Any, Any]]) -> None:
        """One step: ``grads_and_vars`` is a list of ``(gradient, weight)`` pairs (Keras's form);
        weights are updated in place and ``iterations`` grows by one."""
        pairs = [(np.asarray(g, np.float32), w) for g, w in grads_and_vars if g is not None]
        self.build([w for _, w in pairs])
        for g, w in pairs:
            if g.shape != w.value.shape:
                raise ValueError(f"gradient for {getattr(w, 'path', 'a weight')} has shape {g.shape}, "
                                 f"expected {w.value.shape}")
            self._update(w.value, g, self._slots[self._index[id(w)]])
        self.iterations += 1

    def _apply(self, weights: Sequence[Any]) -> None:
        """The training loop's step: each weight's stored ``grad`` (weights without one skip)."""
        index = self._index
        if len(index) < len(weights) or any(id(w) not in index for w in weights):
            self.build(weights)
        for w in weights:
            g = w.grad
            if g is not None:
                self._update(w.value, g, self._slots[index[id(w)]])
        self.iterations += 1

    def _update(self, w: np.ndarray, g: np.ndarray, slots: Dict[str, np.ndarray]) -> None:
        raise NotImplementedError

    # ---- config ---------------------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """Hyperparameters (JSON-serializable), the current learning rate included."""
        return {"name": self.name, "learning_rate": self._learning_rate}

    @classmethod
    def from_config(cls, config: Dict[str, Any]) -> "Optimizer":
        """An optimizer from :meth:`get_config`'s dict."""
        return cls(**config)


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum, as Keras 3:

    ``m = momentum*m - lr*g``; ``w += m`` (or, Nesterov, ``w += momentum*m - lr*g``);
    without momentum ``w -= lr*g``.
    """

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 name: Optional[str] = None) -> None:
        super().__init__(learning_rate, name or "SGD")
        momentum = float(momentum)
        if not 0.0 <= momentum <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        self.momentum = momentum
        self.nesterov = bool(nesterov)

    def _slot_names(self) -> Tuple[str, ...]:
        return ("momentum",) if self.momentum != 0 else ()

    def _update(self, w: np.ndarray, g: np.ndarray, slots: Dict[str, np.ndarray]) -> None:
        _core.sgd_step(w, g, slots.get("momentum"), self._learning_rate, self.momentum,
                       self.nesterov)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam as Keras 3: with ``t = iterations + 1``,
    ``alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)``, ``m += (g - m) * (1 - beta_1)``,
    ``v += (g*g - v) * (1 - beta_2)``, ``w -= m * alpha / (sqrt(v) + epsilon)``."""

    def __init__(self, learning_rate: float = 0.001, beta_1: float = 0.9, beta_2: float = 0.999,
                 epsilon: float = 1e-7, name: Optional[str] = None) -> None:
        super().__init__(learning_rate, name or "adam")
        for arg, v in (("beta_1", beta_1), ("beta_2", beta_2)):
            if not 0.0 <= float(v) < 1.0:
                raise ValueError(f"{arg} must be in [0, 1), got {v!r}")
        self.beta_1, self.beta_2, self.epsilon = float(beta_1), float(beta_2), float(epsilon)

    def _slot_names(self) -> Tuple[str, ...]:
        return ("momentum", "velocity")

    def _apply(self, weights: Sequence[Any]) -> None:
        self._alpha = self._step_size()
        super()._apply(weights)

    def apply_gradients(self, grads_and_vars: Sequence[Tuple[Any, Any]]) -> None:
        self._alpha = self._step_size()
        super().apply_gradients(grads_and_vars)

    def _step_size(self) -> np.float32:
        t = np.float32(self.iterations + 1)
        b1p = np.power(np.float32(self.beta_1), t)
        b2p = np.power(np.float32(self.beta_2), t)
        lr = np.float32(self._learning_rate)
        return np.float32(lr * np.sqrt(np.float32(1) - b2p) / (np.float32(1) - b1p))

    def _update(self, w: np.ndarray, g: np.ndarray, slots: Dict[str, np.ndarray]) -> None:
        _core.adam_step(w, g, slots["momentum"], slots["velocity"], float(self._alpha),
                        self.beta_1, self.beta_2, self.epsilon)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class RMSprop(Optimizer):
    """RMSprop as Keras 3: ``v = rho*v + (1-rho)*g*g``; centered: ``a = rho*a + (1-rho)*g`` and
    ``denominator = v - a*a + epsilon``, else ``v + epsilon``; ``increment = lr*g/sqrt(denominator)``;
    with momentum ``m = momentum*m + increment; w -= m``, else ``w -= increment``."""

    def __init__(self, learning_rate: float = 0.001, rho: float = 0.9, momentum: float = 0.0,
                 epsilon: float = 1e-7, centered: bool = False, name: Optional[str] = None) -> None:
        super().__init__(learning_rate, name or "rmsprop")
        if not 0.0 <= float(rho) < 1.0:
            raise ValueError(f"rho must be in [0, 1), got {rho!r}")
        if not 0.0 <= float(momentum) <= 1.0:
            raise ValueError(f"momentum must be in [0, 1], got {momentum!r}")
        self.rho, self.momentum, self.epsilon = float(rho), float(momentum), float(epsilon)
        self.centered = bool(centered)

    def _slot_names(self) -> Tuple[str, ...]:
        names = ("velocity",)
        if self.momentum > 0:
            names += ("momentum",)
        if self.centered:
            names += ("average_gradient",)
        return names

    def _update(self, w: np.ndarray, g: np.ndarray, slots: Dict[str, np.ndarray]) -> None:
        _core.rmsprop_step(w, g, slots["velocity"], slots.get("momentum"),
                           slots.get("average_gradient"), self._learning_rate, self.rho,
                           self.momentum, self.epsilon)

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop}


def get(identifier: Any) -> Optimizer:
    """An optimizer from a name (``"sgd"``, ``"adam"``, ``"rmsprop"``: default arguments), a
    ``{"class_name", "config"}`` dict, or an :class:`Optimizer` (returned as is)."""
    return resolve(identifier, "optimizer", Optimizer, _BY_NAME)
