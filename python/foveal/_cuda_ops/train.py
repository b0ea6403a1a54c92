"""The CUDA versions of the training operators (same signatures and results as the CPU's).

``foveal.nn.functional``'s batch normalization (training and inference, forward and backward),
``dropout`` and ``softmax`` (routed by ``foveal.set_device("cuda")``); and, called directly, the
losses' kernel :func:`softmax_cross_entropy` (``foveal._core.softmax_cross_entropy``'s arguments)
with its integer-label form, :func:`dropout_backward`, and the in-place updates
:func:`rmsprop_step` (``foveal._core.rmsprop_step``) and :func:`batch_norm_update_moving`.

Batch normalization's statistics are summed as the CPU sums them (float over 64-row chunks,
double per 1024-row block, the blocks in order): the GPU gives the CPU's bits for the statistics
and the normalized output. Dropout draws the CPU's mask (the same counter-based hash of the key
and each element's index).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, Optional, Tuple

import numpy as np

from .. import _cuda
from .._checks import as_int, as_numpy
from ._memory import Buffer, Call, _kind, shape_of
from .nn import _in_place, _ptr

__all__ = [
    "batch_norm_train_forward", "batch_norm_train_backward", "batch_norm_act_train_forward",
    "batch_norm_act_train_backward", "batch_norm_inference", "batch_norm_inference_backward",
    "batch_norm_update_moving", "dropout", "dropout_backward", "softmax", "softmax_cross_entropy",
    "sparse_softmax_cross_entropy", "rmsprop_step", "dropout_apply",
]

_BN_ACTIVATIONS = {None: "linear", "none": "linear", "linear": "linear", "relu": "relu", "relu6": "relu6"}


def _matrix(b: Buffer, name: str) -> Tuple[int, int]:
    if len(b.shape) != 2:
        raise ValueError(f"{name} must be 2-D (rows x channels), got shape {b.shape}")
    if 0 in b.shape:
        raise ValueError(f"{name} must not be empty, got shape {b.shape}")
    return b.shape


def _vectors(c: int, **bufs: Buffer) -> None:
    for name, b in bufs.items():
        if b.shape != (c,):
            raise ValueError(f"{name} must have shape ({c},), one value per channel, got {b.shape}")


def _same(b: Buffer, shape: Tuple[int, ...], name: str, ref: str) -> None:
    if b.shape != tuple(shape):
        raise ValueError(f"{name} must have the shape of {ref} {tuple(shape)}, got {b.shape}")


def _bn_activation(activation: Optional[str]) -> str:
    if activation not in _BN_ACTIVATIONS:
        raise ValueError(f"activation must be None, 'relu' or 'relu6' for a batch normalization, "
                         f"got {activation!r}")
    return _BN_ACTIVATIONS[activation]


def _number(v: Any, name: str) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real):
        raise TypeError(f"{name} must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ValueError(f"{name} must be finite, got {v!r}")
    return f


def _epsilon(epsilon: Any) -> float:
    eps = _number(epsilon, "epsilon")
    if not np.float32(eps) > 0:  # added as a float32: one that rounds to 0 there would divide by 0
        raise ValueError(f"epsilon must be > 0 (and not round to 0 as a float32), got {epsilon!r}")
    return eps


# ------------------------------------------------------------------------ batch normalization


def _bn_train(x2: Any, gamma: Any, beta: Any, epsilon: Any, activation: Optional[str],
              with_xhat: bool) -> Tuple[Any, ...]:
    act = _bn_activation(activation)
    eps = _epsilon(epsilon)
    call = Call(x2)
    xb, gb, bb = call.input(x2, "x2"), call.input(gamma, "gamma"), call.input(beta, "beta")
    rows, c = _matrix(xb, "x2")
    _vectors(c, gamma=gb, beta=bb)
    y = call.output((rows, c))
    xhat = call.output((rows, c)) if with_xhat else None
    mean, var, inv_std = call.output((c,)), call.output((c,)), call.output((c,))
    _cuda.batch_norm_train(xb.ptr, gb.ptr, bb.ptr, y.ptr, _ptr(xhat), mean.ptr, var.ptr, inv_std.ptr, rows, c,
                           eps, act, call.host)
    out = tuple(call.result(b) for b in (y, mean, var, inv_std))
    return out + (call.result(xhat),) if with_xhat else out


def batch_norm_train_forward(x2: Any, gamma: Any, beta: Any, epsilon: float) -> Tuple[Any, Any, Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_train_forward`: ``(y, mean, variance, inv_std,
    xhat)`` of an ``M x C`` matrix (the CPU's bits)."""
    return _bn_train(x2, gamma, beta, epsilon, None, True)  # type: ignore[return-value]


def batch_norm_act_train_forward(x2: Any, gamma: Any, beta: Any, epsilon: float,
                                 activation: Optional[str] = None) -> Tuple[Any, Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_act_train_forward`: ``(y, mean, variance,
    inv_std)``, the activation (None, ``"relu"``, ``"relu6"``) applied in the same pass."""
    return _bn_train(x2, gamma, beta, epsilon, activation, False)  # type: ignore[return-value]


def batch_norm_train_backward(dy2: Any, xhat: Any, gamma: Any, inv_std: Any) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_train_backward`: ``(dx, dgamma, dbeta)``."""
    call = Call(dy2)
    xb, dyb = call.input(xhat, "xhat"), call.input(dy2, "dy2")
    gb, ib = call.input(gamma, "gamma"), call.input(inv_std, "inv_std")
    rows, c = _matrix(xb, "xhat")
    _same(dyb, xb.shape, "dy2", "xhat")
    _vectors(c, gamma=gb, inv_std=ib)
    dx, dgamma, dbeta = call.output((rows, c)), call.output((c,)), call.output((c,))
    _cuda.batch_norm_backward(dyb.ptr, xb.ptr, gb.ptr, ib.ptr, dx.ptr, dgamma.ptr, dbeta.ptr, rows, c, call.host)
    return call.result(dx), call.result(dgamma), call.result(dbeta)


def batch_norm_act_train_backward(dy2: Any, x2: Any, mean: Any, inv_std: Any, gamma: Any, beta: Any,
                                  activation: Optional[str] = None) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_act_train_backward` (``xhat`` recomputed from
    ``x2``): ``(dx, dgamma, dbeta)``."""
    act = _bn_activation(activation)
    call = Call(dy2)
    xb, dyb = call.input(x2, "x2"), call.input(dy2, "dy2")
    mb, ib = call.input(mean, "mean"), call.input(inv_std, "inv_std")
    gb, bb = call.input(gamma, "gamma"), call.input(beta, "beta")
    rows, c = _matrix(xb, "x2")
    _same(dyb, xb.shape, "dy2", "x2")
    _vectors(c, mean=mb, inv_std=ib, gamma=gb, beta=bb)
    dx, dgamma, dbeta = call.output((rows, c)), call.output((c,)), call.output((c,))
    _cuda.batch_norm_backward_from_input(dyb.ptr, xb.ptr, mb.ptr, ib.ptr, gb.ptr, bb.ptr, dx.ptr, dgamma.ptr,
                                         dbeta.ptr, rows, c, act, call.host)
    return call.result(dx), call.result(dgamma), call.result(dbeta)


def batch_norm_inference(x2: Any, gamma: Any, beta: Any, mean: Any, variance: Any,
                         epsilon: float) -> Tuple[Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_inference`: ``(y, inv_std)``."""
    eps = _number(epsilon, "epsilon")
    call = Call(x2)
    xb = call.input(x2, "x2")
    if len(xb.shape) != 2:
        raise ValueError(f"x2 must be 2-D (M x C), got shape {xb.shape}")
    rows, c = xb.shape
    bufs = {n: call.input(v, n) for n, v in (("gamma", gamma), ("beta", beta), ("mean", mean),
                                             ("variance", variance))}
    _vectors(c, **bufs)
    y, inv_std = call.output((rows, c)), call.output((c,))
    _cuda.batch_norm_inference(xb.ptr, bufs["gamma"].ptr, bufs["beta"].ptr, bufs["mean"].ptr,
                               bufs["variance"].ptr, y.ptr, inv_std.ptr, rows, c, eps, call.host)
    return call.result(y), call.result(inv_std)


def batch_norm_inference_backward(dy2: Any, x2: Any, gamma: Any, mean: Any, inv_std: Any) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.batch_norm_inference_backward`: ``(dx, dgamma, dbeta)``
    (the sums in double per 1024-row block, the blocks added in order)."""
    call = Call(dy2)
    xb, dyb = call.input(x2, "x2"), call.input(dy2, "dy2")
    gb, mb, ib = call.input(gamma, "gamma"), call.input(mean, "mean"), call.input(inv_std, "inv_std")
    if len(xb.shape) != 2:
        raise ValueError(f"x2 must be 2-D (M x C), got shape {xb.shape}")
    rows, c = xb.shape
    _same(dyb, xb.shape, "dy2", "x2")
    _vectors(c, gamma=gb, mean=mb, inv_std=ib)
    dx, dgamma, dbeta = call.output((rows, c)), call.output((c,)), call.output((c,))
    _cuda.batch_norm_inference_backward(dyb.ptr, xb.ptr, gb.ptr, mb.ptr, ib.ptr, dx.ptr, dgamma.ptr, dbeta.ptr,
                                        rows, c, call.host)
    return call.result(dx), call.result(dgamma), call.result(dbeta)


def batch_norm_update_moving(moving_mean: Any, moving_variance: Any, mean: Any, variance: Any,
                             momentum: float) -> None:
    """BatchNormalization's moving statistics updated in place on the GPU, as the layer updates
    them: ``moving = moving * momentum + batch * (1 - momentum)`` with both factors rounded to
    float32 (Keras's momentum: the weight of the old value). ``moving_*`` are device arrays
    (NumPy in host mode) of ``C`` float32 values; ``mean`` and ``variance`` the batch's."""
    mom = _number(momentum, "momentum")
    call = Call(moving_mean)
    mm, mv = _in_place(call, moving_mean, "moving_mean"), _in_place(call, moving_variance, "moving_variance")
    mb, vb = call.input(mean, "mean"), call.input(variance, "variance")
    c = mm.size
    for name, b in (("moving_variance", mv), ("mean", mb), ("variance", vb)):
        if b.size != c:
            raise ValueError(f"{name} must have the size of moving_mean ({c}), got {b.size}")
    _cuda.batch_norm_update_moving(mm.ptr, mv.ptr, mb.ptr, vb.ptr, c, float(np.float32(mom)),
                                   float(np.float32(1.0 - mom)), call.host)


# ------------------------------------------------------------------------------------- dropout


def _keep(rate: Any) -> float:
    try:
        r = float(rate)
    except (TypeError, ValueError):
        raise TypeError(f"rate must be a number, got {rate!r}") from None
    if not 0.0 <= r < 1.0:
        raise ValueError(f"rate must be in [0, 1), got {rate!r}")
    return 1.0 - r


def _key(key: Any) -> int:
    if isinstance(key, bool) or not isinstance(key, numbers.Integral):
        raise TypeError(f"key must be an integer, got {key!r}")
    k = int(key)
    if not 0 <= k < 2**64:
        raise ValueError(f"key must be in [0, 2**64), got {k}")
    return k


def dropout(x: Any, rate: float, key: int) -> Tuple[Any, Any]:
    """GPU :func:`foveal.nn.functional.dropout`: ``(y, mask)``, the CPU's mask for the same
    ``key`` (element ``i`` kept when the keyed hash of ``i`` falls below ``(1 - rate) * 2**24``)."""
    keep, k = _keep(rate), _key(key)
    call = Call(x)
    xb = call.input(x, "x")
    y, mask = call.output(xb.shape), call.output(xb.shape)
    _cuda.dropout(xb.ptr, y.ptr, mask.ptr, xb.size, k, keep, 0, call.host)
    return call.result(y), call.result(mask)


def dropout_apply(x: Any, rate: float, key: int) -> Any:
    """:func:`dropout`'s ``y`` alone (no mask written: :func:`dropout_backward` draws it again)."""
    keep, k = _keep(rate), _key(key)
    call = Call(x)
    xb = call.input(x, "x")
    y = call.output(xb.shape)
    _cuda.dropout(xb.ptr, y.ptr, 0, xb.size, k, keep, 0, call.host)
    return call.result(y)


def dropout_backward(dy: Any, rate: float, key: int) -> Any:
    """The gradient of :func:`dropout` with the same ``rate`` and ``key``: ``dy * mask``, the
    mask drawn again instead of read (no mask kept between the passes)."""
    keep, k = _keep(rate), _key(key)
    call = Call(dy)
    dyb = call.input(dy, "dy")
    dx = call.output(dyb.shape)
    _cuda.dropout_backward(dyb.ptr, dx.ptr, dyb.size, k, keep, 0, call.host)
    return call.result(dx)


# ---------------------------------------------------------------------------- softmax, losses


def softmax(x: Any, axis: int = -1) -> Any:
    """GPU :func:`foveal.nn.functional.softmax` along any ``axis`` (no transposes)."""
    call = Call(x)
    xb = call.input(x, "x")
    nd = len(xb.shape)
    if nd == 0:
        raise ValueError("x must have at least 1 dimension, got a scalar")
    ax = as_int(axis, "axis")
    if not -nd <= ax < nd:
        raise ValueError(f"axis {ax} is out of range for x with {nd} dimensions")
    ax %= nd
    y = call.output(xb.shape)
    outer = int(np.prod(xb.shape[:ax], dtype=np.int64))
    inner = int(np.prod(xb.shape[ax + 1:], dtype=np.int64))
    _cuda.softmax_axis(xb.ptr, y.ptr, outer, xb.shape[ax], inner, call.host)
    return call.result(y)


def _xent_args(p: Any, from_logits: Any, epsilon: Any) -> Tuple[Call, Buffer, float]:
    if not isinstance(from_logits, (bool, np.bool_)):
        raise TypeError(f"from_logits must be True or False, got {from_logits!r}")
    eps = _number(epsilon, "epsilon")
    if not 0 <= eps < 0.5:
        raise ValueError(f"epsilon must be in [0, 0.5), got {epsilon!r}")
    call = Call(p)
    pb = call.input(p, "p")
    if len(pb.shape) != 2 or 0 in pb.shape:
        raise ValueError(f"p must be 2-D (rows x classes) and not empty, got shape {pb.shape}")
    return call, pb, eps


def _xent(call: Call, pb: Buffer, yb: Buffer, from_logits: bool, eps: float, sparse: bool) -> Tuple[Any, Any, Any]:
    rows, c = pb.shape
    values, grad, clipped = call.output((rows,)), call.output((rows, c)), call.output((rows,), np.bool_)
    _cuda.softmax_cross_entropy(pb.ptr, yb.ptr, values.ptr, grad.ptr, clipped.ptr, rows, c, bool(from_logits), eps,
                                sparse, call.host)
    return call.result(values), call.result(grad), call.result(clipped)


def softmax_cross_entropy(p: Any, y: Any, from_logits: bool, epsilon: float) -> Tuple[Any, Any, Any]:
    """GPU ``foveal._core.softmax_cross_entropy`` (the categorical cross-entropy losses' kernel):
    ``p`` the logits (``from_logits``) or softmax outputs and ``y`` the targets, both ``rows x
    classes``. Returns ``(values, grad, clipped)``: the loss per row, its gradient with respect
    to the logits (or the softmax's input) divided by the row count, and the rows where a
    labelled probability was clipped to ``[epsilon, 1 - epsilon]`` (bool)."""
    call, pb, eps = _xent_args(p, from_logits, epsilon)
    yb = call.input(y, "y")
    _same(yb, pb.shape, "y", "p")
    return _xent(call, pb, yb, bool(from_logits), eps, False)


def sparse_softmax_cross_entropy(p: Any, labels: Any, from_logits: bool, epsilon: float) -> Tuple[Any, Any, Any]:
    """:func:`softmax_cross_entropy` against one class index per row (``rows`` integers, the
    one-hot targets they stand for, which are never built): the same results, bit for bit. On
    the GPU an index outside ``[0, classes)`` gives NaN for its row's loss and gradient; NumPy
    labels are checked first (ValueError)."""
    call, pb, eps = _xent_args(p, from_logits, epsilon)
    rows, c = pb.shape
    if _kind(labels) == "numpy":
        lab = as_numpy(labels, "labels")
        if lab.dtype.kind not in "biuf":
            raise TypeError(f"labels must hold class indices, got dtype {lab.dtype}")
        idx = lab.astype(np.int64)
        if lab.dtype.kind == "f" and not np.array_equal(idx, lab):
            raise ValueError("labels must hold integer class indices")
        if idx.size and (idx.min() < 0 or idx.max() >= c):
            raise ValueError(f"labels must be in [0, {c}), got values from {idx.min()} to {idx.max()}")
        labels = idx
    if shape_of(labels, "labels") != (rows,):
        raise ValueError(f"labels must have shape ({rows},), one class index per row of p, "
                         f"got {shape_of(labels, 'labels')}")
    lb = call.input(labels, "labels", np.int64)
    return _xent(call, pb, lb, bool(from_logits), eps, True)


# ------------------------------------------------------------------------- optimizer (in place)


def rmsprop_step(w: Any, g: Any, v: Any, m: Any, a: Any, learning_rate: float, rho: float, momentum: float,
                 epsilon: float) -> None:
    """Keras 3's RMSprop update of ``w``, the velocity ``v``, the momentum ``m`` (or None) and
    the average gradient ``a`` (centered, or None) in place on the GPU, as
    ``foveal._core.rmsprop_step``: device arrays (NumPy in host mode) of one size, float32."""
    lr, r, mu, eps = (_number(val, name) for val, name in ((learning_rate, "learning_rate"), (rho, "rho"),
                                                           (momentum, "momentum"), (epsilon, "epsilon")))
    call = Call(w)
    wb, gb, vb = _in_place(call, w, "w"), call.input(g, "g"), _in_place(call, v, "v")
    mb = None if m is None else _in_place(call, m, "m")
    ab = None if a is None else _in_place(call, a, "a")
    for name, b in (("g", gb), ("v", vb), ("m", mb), ("a", ab)):
        if b is not None and b.size != wb.size:
            raise ValueError(f"{name} must have the size of w ({wb.size}), got {b.size}")
    ptrs = [b.ptr for b in (wb, vb, mb, ab) if b is not None]
    if len(set(ptrs)) != len(ptrs):
        raise ValueError("w, v, m and a must be distinct arrays (each is updated in place)")
    _cuda.rmsprop_step(wb.ptr, gb.ptr, vb.ptr, _ptr(mb), _ptr(ab), wb.size, lr, r, 1.0 - r, mu, eps, call.host)
