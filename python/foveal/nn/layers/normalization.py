"""Normalization layers (``foveal.nn.layers.normalization``): :class:`BatchNormalization`, on the
batch-norm operators of :mod:`foveal.nn.functional`.
"""

from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import numpy as np

from ..._checks import as_int
from .. import functional as F
from .. import initializers as _init
from .base import Layer, _shape_str, register_layer

__all__ = ["BatchNormalization"]


@register_layer
class BatchNormalization(Layer):
    """Batch normalization over the last axis (Keras ``BatchNormalization``, ``axis=-1``).

    Training (``training=True`` and the layer trainable): batch mean and biased variance, and
    ``moving = moving * momentum + batch * (1 - momentum)``.  Inference: moving statistics.
    A frozen layer (``trainable = False``) runs in inference mode even in ``fit``, as in Keras 3:
    moving statistics, not updated, and the backward pass of that affine map.
    Weights in Keras's order: gamma, beta (trainable), moving_mean, moving_variance (never
    trainable).
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3,
                 center: bool = True, scale: bool = True, beta_initializer: Any = "zeros",
                 gamma_initializer: Any = "ones", moving_mean_initializer: Any = "zeros",
                 moving_variance_initializer: Any = "ones", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if as_int(axis, "axis") != -1:
            raise NotImplementedError("BatchNormalization supports axis=-1 (channels last) only")
        self.axis = -1
        self.momentum = float(momentum)
        self.epsilon = float(epsilon)
        if not self.epsilon > 0:
            raise ValueError(f"epsilon must be positive, got {epsilon!r}")
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = _init.get(beta_initializer, "beta_initializer")
        self.gamma_initializer = _init.get(gamma_initializer, "gamma_initializer")
        self.moving_mean_initializer = _init.get(moving_mean_initializer, "moving_mean_initializer")
        self.moving_variance_initializer = _init.get(moving_variance_initializer,
                                                     "moving_variance_initializer")
        self.gamma = self.beta = self.moving_mean = self.moving_variance = None

    def build(self, input_shape: Any) -> None:
        c = tuple(input_shape)[-1]
        if c is None:
            raise ValueError(f"layer {self.name!r} (BatchNormalization): the last axis must be known")
        if self.scale:
            self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer)
        if self.center:
            self.beta = self.add_weight("beta", (c,), self.beta_initializer)
        self.moving_mean = self.add_weight("moving_mean", (c,), self.moving_mean_initializer, False)
        self.moving_variance = self.add_weight("moving_variance", (c,),
                                               self.moving_variance_initializer, False)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        c = self.moving_mean.shape[0]
        if tuple(input_shape)[-1] != c:
            raise ValueError(f"layer {self.name!r} (BatchNormalization) was built for {c} channels, "
                             f"got shape {_shape_str(input_shape)}")

    def _gamma_beta(self) -> Tuple[np.ndarray, np.ndarray]:
        c = self.moving_mean.shape[0]
        gamma = self.gamma.value if self.scale else np.ones(c, np.float32)
        beta = self.beta.value if self.center else np.zeros(c, np.float32)
        return gamma, beta

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        return self.call_activated(x, training, None)

    def call_activated(self, x: np.ndarray, training: bool, activation: Optional[str],
                       moments: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> np.ndarray:
        """``call``, then ``activation`` (``None``, ``"relu"`` or ``"relu6"``) on the output, and
        :meth:`backward` then takes the gradient at the activation's output. In training mode
        the activation runs in the normalization's own pass (the model's training step uses this
        for a BatchNormalization whose only consumer is a ReLU: one pass over memory, where the
        two layers make three). ``moments``: the batch's (mean, sum of squared deviations) in
        float64, already gathered by the convolution that wrote ``x`` (training mode only)."""
        if activation not in (None, "relu", "relu6"):
            raise ValueError(f"activation must be None, 'relu' or 'relu6', got {activation!r}")
        gamma, beta = self._gamma_beta()
        x2 = x.reshape(-1, x.shape[-1])
        if training and self._trainable:
            if moments is not None:
                y, mean, var, inv_std = F.batch_norm_act_train_from_moments(
                    x2, moments[0], moments[1], gamma, beta, self.epsilon, activation)
            else:
                y, mean, var, inv_std = F.batch_norm_act_train_forward(x2, gamma, beta, self.epsilon,
                                                                       activation)
            mom = np.float32(self.momentum)
            one_minus = np.float32(1.0 - self.momentum)
            mm, mv = self.moving_mean.value, self.moving_variance.value
            mm[...] = mm * mom + mean * one_minus
            mv[...] = mv * mom + var * one_minus
            # x itself, not a copy: xhat is recomputed from it in backward (no xhat written)
            self._cache = ("train", x2, mean, inv_std, activation)
        else:
            y, inv_std = F.batch_norm_inference(x2, gamma, beta, self.moving_mean.value,
                                                self.moving_variance.value, self.epsilon)
            self._cache = ("infer", x2, inv_std, activation, y if activation else None)
            if activation is not None:
                y = F.activation(y, activation)
        return y.reshape(x.shape)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        gamma, beta = self._gamma_beta()
        mode, x2 = self._cache[:2]
        dy2 = dy.reshape(-1, dy.shape[-1])
        if mode == "train":
            _, _, mean, inv_std, activation = self._cache
            dx, dgamma, dbeta = F.batch_norm_act_train_backward(dy2, x2, mean, inv_std, gamma, beta,
                                                                activation)
        else:
            _, _, inv_std, activation, z = self._cache
            if activation is not None:   # the gradient passes where z is in the linear range
                dy2 = np.where((z > 0) & (z < 6) if activation == "relu6" else z > 0, dy2,
                               np.float32(0))
            dx, dgamma, dbeta = F.batch_norm_inference_backward(dy2, x2, gamma,
                                                                self.moving_mean.value, inv_std)
        if self.scale:
            self.gamma.grad = dgamma
        if self.center:
            self.beta.grad = dbeta
        return dx.reshape(dy.shape) if need_dx else None

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": _init.serialize(self.beta_initializer),
                "gamma_initializer": _init.serialize(self.gamma_initializer),
                "moving_mean_initializer": _init.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": _init.serialize(self.moving_variance_initializer)}
