"""CNN operators on float32 NHWC arrays with Keras layouts (``foveal.nn.functional``).

Every function accepts any array-like, converts it to C-contiguous float32, normalizes its
arguments the way Keras does, and calls one native kernel (which releases the GIL).
With ``foveal.set_device("cuda")`` the ops marked ``@routed`` run their GPU versions instead
(``foveal._cuda_ops``, the same arguments; NumPy or device arrays in, the same kind out).
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _core
from .._checks import Pair, as_float32, as_int, as_numpy, as_option, as_pair
from .._device import routed
from ._args import GRAD_FROM_INPUT, Padding, PaddingArg, _activation, _effective, _padding  # noqa: F401
from ._args import zero_padding_arg  # noqa: F401  (ZeroPadding2D's argument; also the CUDA ops')

__all__ = [
    "conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d",
    "global_max_pool2d", "dense", "relu", "sigmoid", "tanh", "softmax",
    "conv2d_backward", "depthwise_conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
    "global_avg_pool2d_backward", "global_max_pool2d_backward", "dense_backward",
    "activation_backward", "activation",
]

Grads = Tuple[Optional[np.ndarray], Optional[np.ndarray], Optional[np.ndarray]]


def _spatial(x: np.ndarray) -> Pair:
    if x.ndim != 4:
        raise ValueError(f"x must be 4-D (N x H x W x C), got shape {x.shape}")
    if x.size == 0:
        raise ValueError(f"x must not be empty, got shape {x.shape}")
    return (x.shape[1], x.shape[2])


def _bias(bias: Any) -> Optional[np.ndarray]:
    return None if bias is None else as_float32(bias, "bias")


@routed
def conv2d(x: Any, kernel: Any, bias: Any = None, strides: Union[int, Pair] = 1,
           padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1, groups: int = 1,
           activation: Optional[str] = None, residual: Any = None) -> np.ndarray:
    """2-D convolution (cross-correlation, as Keras and PyTorch) of an NHWC batch.

    Args:
        x: ``N x H x W x Cin`` input.
        kernel: ``kh x kw x (Cin/groups) x Cout`` (Keras layout).
        bias: ``Cout`` values or None.
        strides, dilation_rate: an int or an ``(h, w)`` pair.
        padding: ``"valid"``, ``"same"`` (TensorFlow's rule: out = ceil(in/stride), the odd padded
            pixel at the bottom/right), an int, ``(ph, pw)`` or ``((top, bottom), (left, right))``.
        groups: channel groups; output channel ``o`` reads input group ``o // (Cout/groups)``.
        activation: None or a name of :func:`activation` (``"relu"``, ``"gelu"``, ...), fused into
            the kernel: ReLU and ReLU6 inside the register tile, the others over each block of
            output rows while it is in cache.
        residual: None, or a tensor of the output's shape added before the activation
            (``activation(conv + bias + residual)``: a residual connection, summed in the
            register tile's epilogue instead of a pass of its own).

    Returns:
        ``N x OH x OW x Cout`` float32.
    """
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    s = as_pair(strides, "strides")
    d = as_pair(dilation_rate, "dilation_rate")
    g = as_int(groups, "groups", 1)
    act = _activation(activation)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x Cin/groups x Cout), got shape {kernel.shape}")
    pads = _padding(padding, _spatial(x), _effective(kernel.shape[:2], d), s)
    res = None if residual is None else as_float32(residual, "residual")
    return _core.conv2d(x, kernel, _bias(bias), s, pads, d, g, act, res)


def _depthwise_as_grouped(x: Any, kernel: Any) -> Tuple[np.ndarray, np.ndarray]:
    """Validated float32 x and the Keras depthwise kernel ``kh x kw x C x multiplier`` as the
    grouped kernel ``kh x kw x 1 x (C*multiplier)`` it exactly is (groups = C)."""
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x C x multiplier), got shape {kernel.shape}")
    _spatial(x)
    if kernel.size == 0:
        raise ValueError(f"kernel must not be empty, got shape {kernel.shape}")
    kh, kw, c, mult = kernel.shape
    if c != x.shape[3]:
        raise ValueError(f"kernel must have {x.shape[3]} input channels (axis 2), got shape {kernel.shape}")
    return x, kernel.reshape(kh, kw, 1, c * mult)


@routed
def depthwise_conv2d(x: Any, kernel: Any, bias: Any = None, strides: Union[int, Pair] = 1,
                     padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1,
                     activation: Optional[str] = None) -> np.ndarray:
    """Depthwise 2-D convolution (Keras ``DepthwiseConv2D``) of an NHWC batch.

    ``kernel`` is ``kh x kw x C x multiplier``; output channel ``c*multiplier + m`` convolves
    input channel ``c`` with ``kernel[:, :, c, m]``. Returns ``N x OH x OW x (C*multiplier)``.
    Other arguments as :func:`conv2d`.
    """
    x, grouped = _depthwise_as_grouped(x, kernel)
    return conv2d(x, grouped, bias, strides, padding, dilation_rate, groups=x.shape[3],
                  activation=activation)


def _pool_args(x: Any, pool_size: Any, strides: Any, padding: Any) -> tuple:
    x = as_float32(x, "x")
    k = as_pair(pool_size, "pool_size")
    s = k if strides is None else as_pair(strides, "strides")
    pads = _padding(padding, _spatial(x), k, s)
    return x, k, s, pads


@routed
def max_pool2d(x: Any, pool_size: Union[int, Pair] = 2, strides: Union[int, Pair, None] = None,
               padding: PaddingArg = "valid") -> np.ndarray:
    """Max pooling of an NHWC batch (Keras ``MaxPooling2D``): ``strides=None`` means
    ``pool_size``; ``padding`` is ``"valid"`` or ``"same"``; padded cells never win."""
    return _core.max_pool2d(*_pool_args(x, pool_size, strides, padding))


@routed
def avg_pool2d(x: Any, pool_size: Union[int, Pair] = 2, strides: Union[int, Pair, None] = None,
               padding: PaddingArg = "valid") -> np.ndarray:
    """Average pooling of an NHWC batch (Keras ``AveragePooling2D``); with ``"same"`` padding
    the padded cells are excluded from each window's divisor, as in Keras."""
    return _core.avg_pool2d(*_pool_args(x, pool_size, strides, padding))


@routed
def global_avg_pool2d(x: Any) -> np.ndarray:
    """Mean over H and W of an ``N x H x W x C`` batch; returns ``N x C``."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.global_avg_pool2d(x)


@routed
def global_max_pool2d(x: Any) -> np.ndarray:
    """Maximum over H and W of an ``N x H x W x C`` batch; returns ``N x C``."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.global_max_pool2d(x)


@routed
def dense(x: Any, kernel: Any, bias: Any = None, activation: Optional[str] = None) -> np.ndarray:
    """Fully connected layer ``act(x @ kernel + bias)`` over the last axis of ``x``.

    ``kernel`` is ``in x out`` (Keras layout); ``x`` is ``(..., in)``; returns ``(..., out)``.
    ``activation`` as :func:`conv2d`, plus ``"softmax"``.
    """
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    act = _activation(activation, ("softmax",))
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"x must have at least 1 dimension and no empty axis, got shape {x.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (in x out), got shape {kernel.shape}")
    lead = x.shape[:-1]
    y = _core.dense(x.reshape(-1, x.shape[-1]), kernel, _bias(bias),
                    "linear" if act == "softmax" else act)
    if act == "softmax":
        y = _core.softmax(y)
    return y.reshape(*lead, kernel.shape[1])


@routed
def activation(x: Any, activation: Optional[str]) -> np.ndarray:
    """Elementwise activation by its Keras 3 name, in one native pass:

    ``"linear"`` (or None) x; ``"relu"`` max(x, 0); ``"sigmoid"`` 1 / (1 + exp(-x)); ``"tanh"``;
    ``"relu6"`` min(max(x, 0), 6); ``"hard_sigmoid"`` relu6(x + 3) / 6; ``"hard_silu"`` (alias
    ``"hard_swish"``) x * hard_sigmoid(x); ``"silu"`` (alias ``"swish"``) x * sigmoid(x);
    ``"gelu"`` x * Phi(x) = 0.5 x (1 + erf(x / sqrt 2)) (the exact form, Keras
    ``approximate=False``); ``"leaky_relu"`` x if x > 0 else 0.2 x; ``"elu"`` x if x > 0 else
    exp(x) - 1; ``"softplus"`` log(1 + exp(x)).
    """
    return _core.activation(as_float32(x, "x"), _activation(activation))


@routed
def relu(x: Any) -> np.ndarray:
    """Elementwise ``max(x, 0)``."""
    return _core.activation(as_float32(x, "x"), "relu")


@routed
def sigmoid(x: Any) -> np.ndarray:
    """Elementwise ``1 / (1 + exp(-x))``."""
    return _core.activation(as_float32(x, "x"), "sigmoid")


@routed
def tanh(x: Any) -> np.ndarray:
    """Elementwise hyperbolic tangent."""
    return _core.activation(as_float32(x, "x"), "tanh")


@routed
def softmax(x: Any, axis: int = -1) -> np.ndarray:
    """Softmax along ``axis`` (numerically stable: the maximum is subtracted first)."""
    x = as_float32(x, "x")
    if x.ndim == 0:
        raise ValueError("x must have at least 1 dimension, got a scalar")
    ax = as_int(axis, "axis")
    if not -x.ndim <= ax < x.ndim:
        raise ValueError(f"axis {ax} is out of range for x with {x.ndim} dimensions")
    if x.size == 0:  # nothing to normalize (reshape(-1, 0) below would be ambiguous)
        return np.empty(x.shape, np.float32)
    moved = np.ascontiguousarray(np.moveaxis(x, ax, -1))
    y = _core.softmax(moved.reshape(-1, moved.shape[-1])).reshape(moved.shape)
    return np.moveaxis(y, -1, ax)


# ------------------------------------------------------------------------------------ backward
# Each *_backward takes dy, the gradient of a loss with respect to the forward op's output (same
# shape), and the forward op's inputs and arguments, and returns the gradients of its inputs.


@routed
def conv2d_backward(dy: Any, x: Any, kernel: Any, strides: Union[int, Pair] = 1,
                    padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1,
                    groups: int = 1, need_dx: bool = True, need_dkernel: bool = True,
                    need_dbias: bool = True) -> Grads:
    """Gradients of :func:`conv2d` (without its activation: ``dy`` is the gradient of the
    pre-activation output; see :func:`activation_backward`).

    Returns ``(dx, dkernel, dbias)``: ``dx`` like ``x`` (None when ``need_dx`` is False, e.g. for
    a network's first layer), ``dkernel`` like ``kernel``, ``dbias`` of ``Cout`` values (``dy``
    summed over N, H and W); both None when ``need_dkernel`` is False (a frozen layer: the
    weight-gradient work is skipped, not done and dropped; ``dx`` is bit-identical either way).
    ``dbias`` is also None when ``need_dbias`` is False (a convolution without a bias, such as
    one followed by a batch normalization: the pass summing ``dy`` is skipped).
    With both flags False the arguments are still checked and nothing is computed.
    """
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    dy = as_float32(dy, "dy")
    s = as_pair(strides, "strides")
    d = as_pair(dilation_rate, "dilation_rate")
    g = as_int(groups, "groups", 1)
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x Cin/groups x Cout), got shape {kernel.shape}")
    pads = _padding(padding, _spatial(x), _effective(kernel.shape[:2], d), s)
    return _core.conv2d_backward(dy, x, kernel, s, pads, d, g, bool(need_dx), bool(need_dkernel),
                                 bool(need_dbias))


@routed
def depthwise_conv2d_backward(dy: Any, x: Any, kernel: Any, strides: Union[int, Pair] = 1,
                              padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1,
                              need_dx: bool = True, need_dkernel: bool = True,
                              need_dbias: bool = True) -> Grads:
    """Gradients ``(dx, dkernel, dbias)`` of :func:`depthwise_conv2d` (``kernel`` is
    ``kh x kw x C x multiplier``; ``dkernel`` has that shape). As :func:`conv2d_backward`."""
    x, grouped = _depthwise_as_grouped(x, kernel)
    dx, dk, db = conv2d_backward(dy, x, grouped, strides, padding, dilation_rate,
                                 groups=x.shape[3], need_dx=need_dx, need_dkernel=need_dkernel,
                                 need_dbias=need_dbias)
    return dx, (None if dk is None else dk.reshape(as_numpy(kernel, "kernel").shape)), db


@routed
def max_pool2d_backward(dy: Any, x: Any, pool_size: Union[int, Pair] = 2,
                        strides: Union[int, Pair, None] = None, padding: PaddingArg = "valid",
                        through_relu: bool = False) -> np.ndarray:
    """Gradient of :func:`max_pool2d` with respect to ``x``: each window's gradient goes to its
    first maximum (row-major order within the window, as PyTorch and TensorFlow).

    ``through_relu=True``: ``x`` is a ReLU's output and the result is the gradient before that
    ReLU, ``activation_backward(max_pool2d_backward(dy, x), x, "relu")`` in one pass (a window
    whose maximum is not above 0 passes nothing)."""
    x, k, s, pads = _pool_args(x, pool_size, strides, padding)
    return _core.max_pool2d_backward(as_float32(dy, "dy"), x, k, s, pads, bool(through_relu))


@routed
def avg_pool2d_backward(dy: Any, x: Any, pool_size: Union[int, Pair] = 2,
                        strides: Union[int, Pair, None] = None, padding: PaddingArg = "valid") -> np.ndarray:
    """Gradient of :func:`avg_pool2d` with respect to ``x`` (each window's gradient shared
    equally by its cells inside the image)."""
    x, k, s, pads = _pool_args(x, pool_size, strides, padding)
    return _core.avg_pool2d_backward(as_float32(dy, "dy"), x, k, s, pads)


@routed
def global_avg_pool2d_backward(dy: Any, x: Any) -> np.ndarray:
    """Gradient of :func:`global_avg_pool2d` (``dy`` is ``N x C``) with respect to ``x``."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.global_avg_pool2d_backward(as_float32(dy, "dy"), x)


@routed
def global_max_pool2d_backward(dy: Any, x: Any) -> np.ndarray:
    """Gradient of :func:`global_max_pool2d` with respect to ``x`` (to each channel's first
    maximum)."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.global_max_pool2d_backward(as_float32(dy, "dy"), x)


@routed
def dense_backward(dy: Any, x: Any, kernel: Any, need_dx: bool = True, need_dkernel: bool = True) -> Grads:
    """Gradients ``(dx, dkernel, dbias)`` of :func:`dense` without its activation: ``dx = dy @
    kernel.T`` (None when ``need_dx`` is False), ``dkernel = x.T @ dy``, ``dbias = dy.sum(0)``
    (leading axes of ``x`` flattened; both None, and not computed, when ``need_dkernel`` is
    False). Both flags False: the arguments are checked and nothing is computed."""
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    dy = as_float32(dy, "dy")
    if x.ndim < 1 or x.size == 0:
        raise ValueError(f"x must have at least 1 dimension and no empty axis, got shape {x.shape}")
    if kernel.ndim != 2:
        raise ValueError(f"kernel must be 2-D (in x out), got shape {kernel.shape}")
    if kernel.size == 0:
        raise ValueError(f"kernel must not be empty, got shape {kernel.shape}")
    lead = x.shape[:-1]
    if dy.shape != (*lead, kernel.shape[1]):
        raise ValueError(f"dy must have the shape of the dense output {(*lead, kernel.shape[1])}, "
                         f"got {dy.shape}")
    dx, dk, db = _core.dense_backward(dy.reshape(-1, kernel.shape[1]), x.reshape(-1, x.shape[-1]),
                                      kernel, bool(need_dx), bool(need_dkernel))
    return (None if dx is None else dx.reshape(x.shape)), dk, db


@routed
def activation_backward(dy: Any, y: Any, activation: Optional[str], x: Any = None) -> np.ndarray:
    """Gradient ``dy * f'(x)`` through an :func:`activation`.

    Computed from its OUTPUT ``y`` for ``"linear"`` (1), ``"relu"`` (``y > 0``), ``"sigmoid"``
    (``y (1 - y)``), ``"tanh"`` (``1 - y**2``), ``"relu6"`` (``0 < y < 6``), ``"hard_sigmoid"``
    (1/6 where ``0 < y < 1``), ``"leaky_relu"`` (1 or 0.2), ``"elu"`` (``y + 1`` where
    ``y < 0``) and ``"softplus"`` (``1 - exp(-y)``); from its INPUT ``x`` (pass ``x=``; ``y``
    may be None) for ``"silu"``, ``"hard_silu"`` and ``"gelu"``, whose derivative is no
    function of the output. At the kinks the gradient is TensorFlow's (Keras 3): 0 at both
    ends of relu6's and hard_sigmoid's linear part, slope 0.2 at 0 for leaky_relu."""
    act = _activation(activation)
    return _core.activation_backward(as_float32(dy, "dy"), None if y is None else as_float32(y, "y"),
                                     act, None if x is None else as_float32(x, "x"))



# ------------------------------------------------------------------ batch norm, softmax, dropout
# The operators under BatchNormalization, Softmax and Dropout. They take float32 arrays as those
# layers hold them (batch normalization: ``M x C``, the batch and spatial axes flattened).

__all__ += [
    "softmax_backward", "batch_norm_train_forward", "batch_norm_train_backward",
    "batch_norm_inference", "batch_norm_inference_backward", "batch_norm_act_train_forward",
    "batch_norm_act_train_backward", "dropout", "batch_norm_act_train_from_moments", "conv2d_moments",
    "depthwise_conv2d_moments", "conv2d_pool",
]


def softmax_backward(dy: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    """Gradient through a softmax with output ``y``: ``y * (dy - sum(dy * y))`` along ``axis``."""
    return (y * (dy - np.sum(dy * y, axis=axis, keepdims=True))).astype(np.float32, copy=False)


@routed
def batch_norm_train_forward(x2: np.ndarray, gamma: np.ndarray, beta: np.ndarray, epsilon: float
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Training-mode batch normalization over the rows of an ``M x C`` float32 array (native).

    Returns ``(y, mean, variance, inv_std, xhat)``: batch mean and biased variance (summed in
    double), ``inv_std = 1/sqrt(variance + epsilon)``, ``xhat = (x - mean) * inv_std`` and
    ``y = xhat * gamma + beta``.
    """
    return _core.batch_norm_train(x2, gamma, beta, float(epsilon))


@routed
def batch_norm_train_backward(dy2: np.ndarray, xhat: np.ndarray, gamma: np.ndarray,
                              inv_std: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`batch_norm_train_forward` (statistics from the batch), native:
    ``dbeta = sum(dy)``, ``dgamma = sum(dy * xhat)``,
    ``dx = (dy - dbeta/M - xhat * dgamma/M) * gamma * inv_std``; returns ``(dx, dgamma, dbeta)``."""
    return _core.batch_norm_backward(dy2, xhat, gamma, inv_std)


@routed
def batch_norm_act_train_forward(x2: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                                 epsilon: float, activation: Optional[str] = None
                                 ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batch_norm_train_forward` with an activation (``None``, ``"relu"`` or ``"relu6"``)
    applied to ``y`` in the same pass, and no ``xhat`` written (one pass over memory fewer):
    returns ``(y, mean, variance, inv_std)``. Its backward,
    :func:`batch_norm_act_train_backward`, recomputes ``xhat`` from ``x2``."""
    return _core.batch_norm_act_train(x2, gamma, beta, float(epsilon), activation or "none")


def batch_norm_act_train_from_moments(x2: np.ndarray, mean: np.ndarray, m2: np.ndarray,
                                      gamma: np.ndarray, beta: np.ndarray, epsilon: float,
                                      activation: Optional[str] = None
                                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`batch_norm_act_train_forward` with the batch statistics given: ``mean`` and
    ``m2`` (the sum of squared deviations), float64, as :func:`conv2d_moments` returns them for
    the convolution's output ``x2`` (no pass over ``x2`` for them). CPU only."""
    return _core.batch_norm_act_from_moments(x2, np.asarray(mean, np.float64), np.asarray(m2, np.float64),
                                             gamma, beta, float(epsilon), activation or "none")


def conv2d_moments(x: Any, kernel: Any, bias: Any = None, strides: Union[int, Pair] = 1,
                   padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1,
                   groups: int = 1) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(y, mean, m2)``: :func:`conv2d` without an activation, and the per-channel mean and
    sum of squared deviations (float64) of ``y`` over every pixel, gathered from each block of
    output rows while it is in cache: a following BatchNormalization in training then makes no
    pass of its own for its statistics (:func:`batch_norm_act_train_from_moments`). CPU only."""
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    s, d = as_pair(strides, "strides"), as_pair(dilation_rate, "dilation_rate")
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x Cin/groups x Cout), got shape {kernel.shape}")
    pads = _padding(padding, _spatial(x), _effective(kernel.shape[:2], d), s)
    return _core.conv2d_moments(x, kernel, _bias(bias), s, pads, d, as_int(groups, "groups", 1))


def conv2d_pool(x: Any, kernel: Any, bias: Any = None, strides: Union[int, Pair] = 1,
                padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1, groups: int = 1,
                activation: Optional[str] = None, pool_size: Union[int, Pair] = 2,
                pool: str = "max", return_conv: bool = False) -> Any:
    """:func:`conv2d` followed by :func:`max_pool2d` (``pool="max"``) or :func:`avg_pool2d`
    (``pool="average"``) of its output with ``strides = pool_size`` and ``"valid"`` padding, in
    one pass: each band of convolution output is pooled while it is in cache and never goes to
    memory (a Conv2D -> MaxPooling2D pair in ``predict`` runs so). The result is the two ops'
    to the bit. CPU only.

    Returns:
        ``N x (OH // ph) x (OW // pw) x Cout`` float32 (``OH x OW`` the convolution's output);
        with ``return_conv=True``, ``(conv, pooled)``: the convolution's output too (written
        once, pooled while in cache; a training step keeps it for the backward pass).
    """
    x = as_float32(x, "x")
    kernel = as_float32(kernel, "kernel")
    s, d = as_pair(strides, "strides"), as_pair(dilation_rate, "dilation_rate")
    if kernel.ndim != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x Cin/groups x Cout), got shape {kernel.shape}")
    if pool not in ("max", "average"):
        raise ValueError(f"pool must be 'max' or 'average', got {pool!r}")
    pads = _padding(padding, _spatial(x), _effective(kernel.shape[:2], d), s)
    if not isinstance(return_conv, (bool, np.bool_)):
        raise TypeError(f"return_conv must be True or False, got {return_conv!r}")
    return _core.conv2d_pool(x, kernel, _bias(bias), s, pads, d, as_int(groups, "groups", 1),
                             _activation(activation), as_pair(pool_size, "pool_size"), pool,
                             bool(return_conv))


def depthwise_conv2d_moments(x: Any, kernel: Any, bias: Any = None, strides: Union[int, Pair] = 1,
                             padding: PaddingArg = "valid", dilation_rate: Union[int, Pair] = 1
                             ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`conv2d_moments` of :func:`depthwise_conv2d` (no activation). CPU only."""
    x, grouped = _depthwise_as_grouped(x, kernel)
    return conv2d_moments(x, grouped, bias, strides, padding, dilation_rate, groups=x.shape[3])


@routed
def batch_norm_act_train_backward(dy2: np.ndarray, x2: np.ndarray, mean: np.ndarray,
                                  inv_std: np.ndarray, gamma: np.ndarray, beta: np.ndarray,
                                  activation: Optional[str] = None
                                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`batch_norm_act_train_forward` from its input ``x2`` and statistics:
    ``dy2`` is the gradient at the activation's output; it passes where the normalized value
    ``z = xhat * gamma + beta`` lies in the activation's linear range (``0 < z``, and ``z < 6``
    for relu6), giving ``dz``; then as :func:`batch_norm_train_backward` with ``dz``. Returns
    ``(dx, dgamma, dbeta)``, the same bits as the two backward passes run one after the other."""
    dy2, x2 = as_float32(dy2, "dy2"), as_float32(x2, "x2")
    if dy2.shape != x2.shape:
        raise ValueError(f"dy2 must have the shape of x2 {x2.shape}, got {dy2.shape}")
    return _core.batch_norm_act_backward(dy2, x2, mean, inv_std, gamma, beta, activation or "none")


@routed
def batch_norm_inference(x2: np.ndarray, gamma: np.ndarray, beta: np.ndarray, mean: np.ndarray,
                         variance: np.ndarray, epsilon: float) -> Tuple[np.ndarray, np.ndarray]:
    """Inference-mode batch normalization of an ``M x C`` float32 array with fixed statistics:
    ``(x - mean) * (gamma / sqrt(variance + epsilon)) + beta`` (native).  Returns ``(y, inv_std)``."""
    if np.ndim(x2) != 2:
        raise ValueError(f"x2 must be 2-D (M x C), got shape {np.shape(x2)}")
    c = np.shape(x2)[1]
    for name, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("variance", variance)):
        if np.shape(v) != (c,):  # named here: the native call would name its own arguments
            raise ValueError(f"{name} must have shape ({c},), one value per channel of x2, got {np.shape(v)}")
    inv_std = (1.0 / np.sqrt(np.asarray(variance, np.float64) + epsilon)).astype(np.float32)
    return _core.channel_affine(x2, mean, gamma * inv_std, None, beta), inv_std


@routed
def batch_norm_inference_backward(dy2: np.ndarray, x2: np.ndarray, gamma: np.ndarray,
                                  mean: np.ndarray, inv_std: np.ndarray
                                  ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Backward of :func:`batch_norm_inference` (fixed statistics) for its input ``x2`` and
    ``inv_std``: ``dbeta = sum(dy)``, ``dgamma = sum(dy * (x - mean)) * inv_std`` (summed in
    double), ``dx = dy * gamma * inv_std``; returns ``(dx, dgamma, dbeta)``."""
    dbeta = dy2.sum(axis=0, dtype=np.float64).astype(np.float32)
    dgamma = (np.einsum("ij,ij->j", dy2, x2 - mean, dtype=np.float64).astype(np.float32)
              * inv_std)
    return dy2 * (gamma * inv_std), dgamma, dbeta


@routed
def dropout(x: np.ndarray, rate: float, key: int) -> Tuple[np.ndarray, np.ndarray]:
    """Inverted dropout of a float32 array (native): each element is zeroed with probability
    ``rate``, the others scaled by ``1/(1 - rate)``. Whether element ``i`` is kept is a
    counter-based hash of ``(key, i)`` (``key`` a 64-bit integer), so the mask depends neither on
    the thread count nor on the ISA. Returns ``(y, mask)`` with ``y = x * mask``; the gradient
    is ``dy * mask``."""
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise TypeError(f"rate must be a number, got {rate!r}") from None
    if not 0.0 <= r < 1.0:  # named here: the native call would name its keep probability
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    return _core.dropout(x, 1.0 - r, key)


# ------------------------------------------------------------- spatial layout (ZeroPadding2D, UpSampling2D)
# Native NHWC kernels (cpp/src/kernels/nn/resample2d): zero padding and its gradient (a crop),
# upsampling by integer factors, nearest (repeat) or bilinear (half-pixel centres, as
# tf.image.resize and Keras 3), and its gradient.

__all__ += ["zero_pad2d", "zero_pad2d_backward", "upsample2d", "upsample2d_backward"]

_INTERPOLATIONS = ("nearest", "bilinear")


def _interpolation(interpolation: Any) -> str:
    return as_option(interpolation, "interpolation", _INTERPOLATIONS)


@routed
def zero_pad2d(x: Any, padding: Any = (1, 1)) -> np.ndarray:
    """Zeros around the H and W axes of an ``N x H x W x C`` batch (Keras ``ZeroPadding2D``);
    ``padding`` as :func:`zero_padding_arg`."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.zero_pad2d(x, zero_padding_arg(padding))


@routed
def zero_pad2d_backward(dy: Any, padding: Any = (1, 1)) -> np.ndarray:
    """Gradient of :func:`zero_pad2d`: the interior of ``dy`` (the padding cropped off)."""
    dy = as_float32(dy, "dy")
    return _core.zero_pad2d_backward(dy, zero_padding_arg(padding))


@routed
def upsample2d(x: Any, size: Union[int, Pair] = (2, 2), interpolation: str = "nearest") -> np.ndarray:
    """Upsample an ``N x H x W x C`` batch by the integer factors ``size`` (Keras
    ``UpSampling2D``): ``"nearest"`` repeats each pixel, ``"bilinear"`` interpolates with
    half-pixel centres, edges clamped (``tf.image.resize``). Returns ``N x H*sh x W*sw x C``."""
    x = as_float32(x, "x")
    _spatial(x)
    return _core.upsample2d(x, as_pair(size, "size"), _interpolation(interpolation))


@routed
def upsample2d_backward(dy: Any, size: Union[int, Pair] = (2, 2),
                        interpolation: str = "nearest") -> np.ndarray:
    """Gradient of :func:`upsample2d` with respect to its input (``dy`` is its output's shape,
    H and W multiples of ``size``)."""
    dy = as_float32(dy, "dy")
    return _core.upsample2d_backward(dy, as_pair(size, "size"), _interpolation(interpolation))
