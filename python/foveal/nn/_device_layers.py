"""The layers' forward and backward passes on device arrays (``foveal.nn._device_layers``), for
the GPU-resident training and inference of :mod:`foveal.nn._device_train`.

Each runner mirrors its layer's ``call``/``backward``/``backward_from_preactivation`` (the same
operators in the same order, as ``foveal._cuda_ops``' device-array forms), but reads the weights
from the session's device copies and keeps what its backward needs in a cache it returns
instead of on the layer, and writes the weight gradients into ``ctx.grads`` (by weight id)
instead of ``Weight.grad``. A layer type without a runner here (or a form of a layer the CUDA
ops do not cover) makes :func:`reason` say why, and the model then runs the per-op path.

Backward modes: ``"normal"`` (from the gradient at the layer's output), ``"preact"`` (from the
gradient before the layer's activation: a loss fused it, or a max pooling took the ReLU's) and
``"through_relu"`` (a MaxPooling2D that also runs the backward of the ReLU before it).
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from .. import _cuda_ops as ops
from .. import _random
from ._args import GRAD_FROM_INPUT
from .layers import (Activation, Add, AveragePooling2D, BatchNormalization, Conv2D, Dense, DepthwiseConv2D,
                     Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D, ReLU, Reshape,
                     SeparableConv2D, Softmax, UpSampling2D, ZeroPadding2D)

__all__ = ["Ctx", "reason", "softmax_backward_needed", "forward", "backward"]


class Ctx:
    """What the runners read and write: the device copy of each weight (``dev[id(weight)]``),
    the gradients they store (``grads``), the ids of the weights that train (``trained``), and
    per-channel constants (BatchNormalization without ``scale``/``center``)."""

    def __init__(self, dev: Dict[int, Any]) -> None:
        self.dev = dev
        self.grads: Dict[int, Any] = {}
        self.trained: frozenset = frozenset()
        self.consts: Dict[Tuple[int, float], Any] = {}

    def w(self, weight: Any) -> Any:
        return self.dev[id(weight)]

    def wants(self, weight: Any) -> bool:
        """Whether ``weight``'s gradient is computed (``layers.core._wanted_grads``)."""
        return weight is not None and id(weight) in self.trained

    def const(self, c: int, value: float) -> Any:
        key = (c, value)
        if key not in self.consts:
            self.consts[key] = ops.to_device(np.full(c, value, np.float32))
        return self.consts[key]


# ------------------------------------------------------------------------------- activations

def _act(x: Any, act: str) -> Any:
    """``layers.activation._activate``."""
    if act == "linear":
        return x
    if act == "softmax":
        return ops.softmax(x, -1)
    return ops.activation(x, act)


def _act_backward(dy: Any, y: Any, act: str, z: Any) -> Any:
    """``layers.activation._activation_backward`` (softmax excluded: no GPU kernel; see
    :func:`softmax_backward_needed`)."""
    if act == "linear":
        return dy
    if act == "softmax":
        raise RuntimeError("the gradient of a softmax has no GPU kernel")
    if act in GRAD_FROM_INPUT:
        return ops.activation_backward(dy, None, act, x=z)
    return ops.activation_backward(dy, y, act)


def _then_activation(layer: Any, linear: Callable[[Optional[str]], Any], training: bool) -> Tuple[Any, Any]:
    """``_ActivatedLayer._linear_then_activation``: ``(y, z)``."""
    act = layer.activation
    z = None
    if act == "softmax":
        y = ops.softmax(linear(None), -1)
    elif training and act in GRAD_FROM_INPUT:
        z = linear(None)
        y = ops.activation(z, act)
    else:
        y = linear(None if act == "linear" else act)
    return y, z


def _bias(layer: Any, ctx: Ctx) -> Any:
    return ctx.w(layer.bias) if layer.use_bias else None


# ------------------------------------------------------------------------------ the runners
# forward(layer, x, training, ctx, activation) -> (y, cache); backward(layer, cache, dy,
# need_dx, mode, ctx) -> dx (a list for Add)

def _conv_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    k = ctx.w(layer.kernel)
    if type(layer) is DepthwiseConv2D:
        lin = (lambda act: ops.depthwise_conv2d(x, k, _bias(layer, ctx), layer.strides, layer.padding,
                                                layer.dilation_rate, act))
    else:
        lin = (lambda act: ops.conv2d(x, k, _bias(layer, ctx), layer.strides, layer.padding,
                                      layer.dilation_rate, layer.groups, act))
    y, z = _then_activation(layer, lin, training)
    return y, (x, y, z)


def _conv_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    x, y, z = cache
    dz = dy if mode == "preact" else _act_backward(dy, y, layer.activation, z)
    want_k, want_b = ctx.wants(layer.kernel), ctx.wants(layer.bias)
    k = ctx.w(layer.kernel)
    if type(layer) is DepthwiseConv2D:
        dx, dk, db = ops.depthwise_conv2d_backward(dz, x, k, layer.strides, layer.padding, layer.dilation_rate,
                                                   need_dx=need_dx, need_dkernel=want_k or want_b,
                                                   need_dbias=want_b)
    else:
        dx, dk, db = ops.conv2d_backward(dz, x, k, layer.strides, layer.padding, layer.dilation_rate,
                                         layer.groups, need_dx=need_dx, need_dkernel=want_k or want_b,
                                         need_dbias=want_b)
    if want_k:
        ctx.grads[id(layer.kernel)] = dk
    if want_b:
        ctx.grads[id(layer.bias)] = db
    return dx


def _separable_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    t = ops.depthwise_conv2d(x, ctx.w(layer.depthwise_kernel), None, layer.strides, layer.padding,
                             layer.dilation_rate)
    pk = ctx.w(layer.pointwise_kernel)
    y, z = _then_activation(layer, lambda act: ops.conv2d(t, pk, _bias(layer, ctx), 1, "valid", 1, 1, act),
                            training)
    return y, (x, t, y, z)


def _separable_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    x, t, y, z = cache
    dz = dy if mode == "preact" else _act_backward(dy, y, layer.activation, z)
    want_dk, want_pk, want_b = (ctx.wants(layer.depthwise_kernel), ctx.wants(layer.pointwise_kernel),
                                ctx.wants(layer.bias))
    need_dt = need_dx or want_dk
    dt, dpk, db = ops.conv2d_backward(dz, t, ctx.w(layer.pointwise_kernel), 1, "valid", 1, 1,
                                      need_dx=need_dt, need_dkernel=want_pk or want_b, need_dbias=want_b)
    if want_pk:
        ctx.grads[id(layer.pointwise_kernel)] = dpk
    if want_b:
        ctx.grads[id(layer.bias)] = db
    if not need_dt:
        return None
    dx, ddk, _ = ops.depthwise_conv2d_backward(dt, x, ctx.w(layer.depthwise_kernel), layer.strides,
                                               layer.padding, layer.dilation_rate, need_dx=need_dx,
                                               need_dkernel=want_dk, need_dbias=False)
    if ddk is not None:
        ctx.grads[id(layer.depthwise_kernel)] = ddk
    return dx


def _dense_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    k = ctx.w(layer.kernel)
    y, z = _then_activation(layer, lambda act: ops.dense(x, k, _bias(layer, ctx), act), training)
    return y, (x, y, z)


def _dense_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    x, y, z = cache
    dz = dy if mode == "preact" else _act_backward(dy, y, layer.activation, z)
    want_k, want_b = ctx.wants(layer.kernel), ctx.wants(layer.bias)
    dx, dk, db = ops.dense_backward(dz, x, ctx.w(layer.kernel), need_dx=need_dx, need_dkernel=want_k or want_b)
    if want_k:
        ctx.grads[id(layer.kernel)] = dk
    if want_b:
        ctx.grads[id(layer.bias)] = db
    return dx


def _activation_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    act = layer.activation
    y = _act(x, act)
    return y, (y, x if act in GRAD_FROM_INPUT else None)


def _activation_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    y, z = cache
    return dy if mode == "preact" else _act_backward(dy, y, layer.activation, z)


def _relu_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    y = ops.activation(x, layer._native)
    return y, y


def _relu_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    return dy if mode == "preact" else ops.activation_backward(dy, cache, layer._native)


def _softmax_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    return ops.softmax(x, layer.axis), None


def _softmax_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    if mode != "preact":
        raise RuntimeError("the gradient of a softmax has no GPU kernel")
    return dy


def _pool_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    op = ops.max_pool2d if type(layer) is MaxPooling2D else ops.avg_pool2d
    return op(x, layer.pool_size, layer.strides, layer.padding), x


def _pool_bwd(layer: Any, x: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    if type(layer) is MaxPooling2D:
        return ops.max_pool2d_backward(dy, x, layer.pool_size, layer.strides, layer.padding,
                                       through_relu=mode == "through_relu")
    return ops.avg_pool2d_backward(dy, x, layer.pool_size, layer.strides, layer.padding)


def _global_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    op = ops.global_max_pool2d if type(layer) is GlobalMaxPooling2D else ops.global_avg_pool2d
    y = op(x)
    return (y.reshape(y.shape[0], 1, 1, y.shape[1]) if layer.keepdims else y), x


def _global_bwd(layer: Any, x: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    if layer.keepdims:
        dy = dy.reshape(dy.shape[0], dy.shape[-1])
    op = ops.global_max_pool2d_backward if type(layer) is GlobalMaxPooling2D else ops.global_avg_pool2d_backward
    return op(dy, x)


def _gamma_beta(layer: Any, ctx: Ctx) -> Tuple[Any, Any]:
    c = layer.moving_mean.shape[0]
    return (ctx.w(layer.gamma) if layer.scale else ctx.const(c, 1.0),
            ctx.w(layer.beta) if layer.center else ctx.const(c, 0.0))


def _bn_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, activation: Optional[str]) -> Tuple[Any, Any]:
    """``BatchNormalization.call_activated``: the moving statistics updated in place on the
    device in training."""
    gamma, beta = _gamma_beta(layer, ctx)
    x2 = x.reshape(-1, x.shape[-1])
    mm, mv = ctx.w(layer.moving_mean), ctx.w(layer.moving_variance)
    if training and layer.trainable:
        y, mean, var, inv_std = ops.batch_norm_act_train_forward(x2, gamma, beta, layer.epsilon, activation)
        ops.batch_norm_update_moving(mm, mv, mean, var, layer.momentum)
        cache: Any = ("train", x2, mean, inv_std, activation)
    else:
        y, inv_std = ops.batch_norm_inference(x2, gamma, beta, mm, mv, layer.epsilon)
        cache = ("infer", x2, inv_std, activation, y if activation else None)
        if activation is not None:
            y = ops.activation(y, activation)
    return y.reshape(x.shape), cache


def _bn_bwd(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    gamma, beta = _gamma_beta(layer, ctx)
    dy2 = dy.reshape(-1, dy.shape[-1])
    if cache[0] == "train":
        _, x2, mean, inv_std, activation = cache
        dx, dgamma, dbeta = ops.batch_norm_act_train_backward(dy2, x2, mean, inv_std, gamma, beta, activation)
    else:
        _, x2, inv_std, activation, z = cache
        if activation is not None:   # passes where z is in the activation's linear range
            dy2 = ops.activation_backward(dy2, z, activation)
        dx, dgamma, dbeta = ops.batch_norm_inference_backward(dy2, x2, gamma, ctx.w(layer.moving_mean), inv_std)
    if layer.scale:
        ctx.grads[id(layer.gamma)] = dgamma
    if layer.center:
        ctx.grads[id(layer.beta)] = dbeta
    return dx.reshape(dy.shape) if need_dx else None


def _dropout_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    if not training or layer.rate == 0.0:
        return x, None
    rng = layer.rng if layer.rng is not None else _random.generator()
    key = int(rng.integers(0, 2**64, dtype=np.uint64))   # as Dropout.call draws it
    return ops.dropout_apply(x, layer.rate, key), key


def _dropout_bwd(layer: Any, key: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    return dy if key is None else ops.dropout_backward(dy, layer.rate, key)


def _flatten_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    if type(layer) is Reshape:
        return x.reshape((x.shape[0],) + tuple(layer.target_shape)), x.shape
    return x.reshape(x.shape[0], -1), x.shape


def _flatten_bwd(layer: Any, shape: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    return dy.reshape(shape) if need_dx or type(layer) is Flatten else None


def _add_fwd(layer: Any, xs: List[Any], training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    shapes = {tuple(x.shape) for x in xs}
    if len(shapes) != 1:
        raise ValueError(f"layer {layer.name!r} (Add): the GPU path adds inputs of one shape, got "
                         f"{', '.join(str(tuple(x.shape)) for x in xs)}")
    y = ops.add(xs[0], xs[1])
    for x in xs[2:]:
        y = ops.add(y, x)
    return y, len(xs)


def _add_bwd(layer: Any, n: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    return [dy] * n if need_dx else None


def _pad_fwd(layer: Any, x: Any, training: bool, ctx: Ctx, _: Any) -> Tuple[Any, Any]:
    if type(layer) is ZeroPadding2D:
        return ops.zero_pad2d(x, layer.padding), None
    return ops.upsample2d(x, layer.size, layer.interpolation), None


def _pad_bwd(layer: Any, _: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    if not need_dx:
        return None
    if type(layer) is ZeroPadding2D:
        return ops.zero_pad2d_backward(dy, layer.padding)
    return ops.upsample2d_backward(dy, layer.size, layer.interpolation)


_RUNNERS: Dict[type, Tuple[Callable[..., Tuple[Any, Any]], Callable[..., Any]]] = {
    Conv2D: (_conv_fwd, _conv_bwd), DepthwiseConv2D: (_conv_fwd, _conv_bwd),
    SeparableConv2D: (_separable_fwd, _separable_bwd), Dense: (_dense_fwd, _dense_bwd),
    Activation: (_activation_fwd, _activation_bwd), ReLU: (_relu_fwd, _relu_bwd),
    Softmax: (_softmax_fwd, _softmax_bwd), MaxPooling2D: (_pool_fwd, _pool_bwd),
    AveragePooling2D: (_pool_fwd, _pool_bwd), GlobalAveragePooling2D: (_global_fwd, _global_bwd),
    GlobalMaxPooling2D: (_global_fwd, _global_bwd), BatchNormalization: (_bn_fwd, _bn_bwd),
    Dropout: (_dropout_fwd, _dropout_bwd), Flatten: (_flatten_fwd, _flatten_bwd),
    Reshape: (_flatten_fwd, _flatten_bwd), Add: (_add_fwd, _add_bwd),
    ZeroPadding2D: (_pad_fwd, _pad_bwd), UpSampling2D: (_pad_fwd, _pad_bwd),
}


def reason(layer: Any, training: bool) -> Optional[str]:
    """Why ``layer`` cannot run on device arrays (None: it can)."""
    kind = type(layer)
    if kind not in _RUNNERS:
        return f"{kind.__name__} has no GPU-resident implementation"
    if getattr(layer, "_dtype_policy", None) is not None and layer.compute_dtype != "float32":
        return f"its dtype policy computes in {layer.compute_dtype} (the CUDA kernels are float32)"
    if kind is ReLU and layer._native is None:
        return "ReLU with this threshold/max_value/negative_slope has no CUDA kernel"
    if kind is Add:
        if len({tuple(s) for s in (layer.input_shape or [])}) != 1:
            return "Add of inputs that broadcast has no CUDA kernel (inputs of one shape have)"
    if kind is Dropout and training and layer.rate >= 1.0:
        return "Dropout(rate=1.0) in training"
    return None


def softmax_backward_needed(layer: Any) -> bool:
    """Whether ``layer``'s backward from its output gradient would need a softmax's gradient
    (no GPU kernel: only a softmax whose gradient a cross-entropy loss fuses runs resident)."""
    if type(layer) is Softmax:
        return True
    return getattr(layer, "activation", None) == "softmax" and type(layer) in (
        Conv2D, DepthwiseConv2D, SeparableConv2D, Dense, Activation)


def forward(layer: Any, x: Any, training: bool, ctx: Ctx, activation: Optional[str] = None) -> Tuple[Any, Any]:
    """``layer``'s forward on device array(s) ``x``: ``(y, cache)``; ``activation`` the ReLU or
    ReLU6 a BatchNormalization runs in its own pass (``_fusion.BnAct``)."""
    return _RUNNERS[type(layer)][0](layer, x, training, ctx, activation)


def backward(layer: Any, cache: Any, dy: Any, need_dx: bool, mode: str, ctx: Ctx) -> Any:
    """``layer``'s backward from ``dy`` (see the module's modes); stores weight gradients in
    ``ctx.grads`` and returns the input gradient (None when not ``need_dx``)."""
    return _RUNNERS[type(layer)][1](layer, cache, dy, need_dx, mode, ctx)
