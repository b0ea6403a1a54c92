"""The CUDA versions of ``foveal.nn.functional``'s operators (same signatures and results).

They run when ``foveal.set_device("cuda")`` is on (``foveal._device.routed``), or when called
directly. Every array argument is NumPy (copied to the GPU and back) or a device array (used in
place); results are of the first array argument's kind. float32 NHWC, as on the CPU.
"""

from __future__ import annotations

from typing import Any, Optional, Tuple, Union

import numpy as np

from .. import _cuda
from .._checks import Pair, as_int, as_pair
from .._device_state import state as _device_state
from ..nn._args import GRAD_FROM_INPUT, PaddingArg, _activation, _effective, _padding
from ._memory import Buffer, Call, shape_of

__all__ = [
    "conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d", "global_avg_pool2d",
    "global_max_pool2d", "dense", "relu", "sigmoid", "tanh", "activation", "conv2d_backward",
    "depthwise_conv2d_backward", "max_pool2d_backward", "avg_pool2d_backward",
    "global_avg_pool2d_backward", "global_max_pool2d_backward", "dense_backward", "activation_backward",
    "sgd_step", "adam_step", "add",
]

IntPair = Union[int, Pair]


def _tf32() -> bool:
    """TF32 allowed in the matrix products (``set_float32_matmul_precision("high"|"medium")``)."""
    return _device_state["matmul_precision"] != "highest"


def _ptr(b: Optional[Buffer]) -> int:
    return 0 if b is None else b.ptr


def _image(shape: Tuple[int, ...], name: str = "x") -> None:
    if len(shape) != 4:
        raise ValueError(f"{name} must be 4-D (N x H x W x C), got shape {shape}")
    if 0 in shape:
        raise ValueError(f"{name} must not be empty, got shape {shape}")


def _expect(buf: Optional[Buffer], shape: Tuple[int, ...], name: str, what: str) -> None:
    if buf is not None and buf.shape != tuple(shape):
        raise ValueError(f"{name} must have shape {tuple(shape)} ({what}), got {buf.shape}")


def _conv_dims(xs: Tuple[int, ...], ks: Tuple[int, ...], strides: Any, padding: PaddingArg,
               dilation_rate: Any, groups: Any) -> Tuple[list, Tuple[int, int, int, int]]:
    """The size tuple of the native conv2d (Conv2dParams order) and the output shape."""
    s, d, g = as_pair(strides, "strides"), as_pair(dilation_rate, "dilation_rate"), as_int(groups, "groups", 1)
    _image(xs)
    if len(ks) != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x Cin/groups x Cout), got shape {ks}")
    n, h, w, cin = xs
    kh, kw, kc, cout = ks
    if 0 in ks:
        raise ValueError(f"kernel must not be empty, got shape {ks}")
    if cin % g or cout % g:
        raise ValueError(f"groups={g} must divide the input channels ({cin}) and the output channels ({cout})")
    if kc != cin // g:
        raise ValueError(f"kernel must have {cin // g} input channels (axis 2) for groups={g}, got shape {ks}")
    (pt, pb), (pl, pr) = _padding(padding, (h, w), _effective((kh, kw), d), s)
    eh, ew = _effective((kh, kw), d)
    oh, ow = (h + pt + pb - eh) // s[0] + 1, (w + pl + pr - ew) // s[1] + 1
    if h + pt + pb < eh or w + pl + pr < ew or oh < 1 or ow < 1:
        raise ValueError(f"the kernel window {(eh, ew)} does not fit the padded input {(h + pt + pb, w + pl + pr)}")
    return [n, h, w, cin, oh, ow, cout, kh, kw, g, s[0], s[1], d[0], d[1], pt, pl], (n, oh, ow, cout)


def conv2d(x: Any, kernel: Any, bias: Any = None, strides: IntPair = 1, padding: PaddingArg = "valid",
           dilation_rate: IntPair = 1, groups: int = 1, activation: Optional[str] = None,
           residual: Any = None) -> Any:
    """GPU :func:`foveal.nn.functional.conv2d` (implicit GEMM; TF32 only when allowed). A
    ``residual`` is added on the host, then the activation runs on the GPU."""
    if residual is not None:
        y = np.asarray(conv2d(x, kernel, bias, strides, padding, dilation_rate, groups, None))
        r = np.asarray(residual, dtype=np.float32)
        if r.shape != y.shape:
            raise ValueError(f"residual must have the shape of the convolution's output {y.shape}, "
                             f"got {r.shape}")
        return _activation_op(y + r, activation)
    call = Call(x)
    act = _activation(activation)
    xb, kb = call.input(x, "x"), call.input(kernel, "kernel")
    dims, out = _conv_dims(xb.shape, kb.shape, strides, padding, dilation_rate, groups)
    bb = call.optional(bias, "bias")
    _expect(bb, (out[3],), "bias", "one value per output channel")
    y = call.output(out)
    _cuda.conv2d(xb.ptr, kb.ptr, _ptr(bb), y.ptr, dims, act, _tf32(), call.host)
    return call.result(y)


def _grouped_shape(xs: Tuple[int, ...], ks: Tuple[int, ...]) -> Tuple[int, int, int, int]:
    if len(ks) != 4:
        raise ValueError(f"kernel must be 4-D (kh x kw x C x multiplier), got shape {ks}")
    _image(xs)
    if ks[2] != xs[3]:
        raise ValueError(f"kernel must have {xs[3]} input channels (axis 2), got shape {ks}")
    return (ks[0], ks[1], 1, ks[2] * ks[3])


def depthwise_conv2d(x: Any, kernel: Any, bias: Any = None, strides: IntPair = 1,
                     padding: PaddingArg = "valid", dilation_rate: IntPair = 1,
                     activation: Optional[str] = None) -> Any:
    """GPU :func:`foveal.nn.functional.depthwise_conv2d` (the grouped convolution it is)."""
    call = Call(x)
    xb, kb = call.input(x, "x"), call.input(kernel, "kernel")
    kb.shape = _grouped_shape(xb.shape, kb.shape)  # the same memory, read as kh x kw x 1 x C*mult
    dims, out = _conv_dims(xb.shape, kb.shape, strides, padding, dilation_rate, xb.shape[3])
    bb = call.optional(bias, "bias")
    _expect(bb, (out[3],), "bias", "one value per output channel")
    y = call.output(out)
    _cuda.conv2d(xb.ptr, kb.ptr, _ptr(bb), y.ptr, dims, _activation(activation), _tf32(), call.host)
    return call.result(y)


def conv2d_backward(dy: Any, x: Any, kernel: Any, strides: IntPair = 1, padding: PaddingArg = "valid",
                    dilation_rate: IntPair = 1, groups: int = 1, need_dx: bool = True,
                    need_dkernel: bool = True, need_dbias: bool = True) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.conv2d_backward`: ``(dx, dkernel, dbias)`` (the kernel
    sums dbias with dkernel; without ``need_dbias`` it is not returned)."""
    call = Call(dy)
    xb, kb, dyb = call.input(x, "x"), call.input(kernel, "kernel"), call.input(dy, "dy")
    dims, out = _conv_dims(xb.shape, kb.shape, strides, padding, dilation_rate, groups)
    _expect(dyb, out, "dy", "the conv2d output")
    dx = call.output(xb.shape) if need_dx else None
    dk = call.output(kb.shape) if need_dkernel else None
    db = call.output((out[3],)) if need_dkernel else None
    if need_dx or need_dkernel:
        _cuda.conv2d_backward(xb.ptr, kb.ptr, dyb.ptr, _ptr(dx), _ptr(dk), _ptr(db), dims, _tf32(), call.host)
    return call.result(dx), call.result(dk), (call.result(db) if need_dbias else None)


def depthwise_conv2d_backward(dy: Any, x: Any, kernel: Any, strides: IntPair = 1,
                              padding: PaddingArg = "valid", dilation_rate: IntPair = 1,
                              need_dx: bool = True, need_dkernel: bool = True,
                              need_dbias: bool = True) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.depthwise_conv2d_backward`."""
    call = Call(dy)
    xb, kb, dyb = call.input(x, "x"), call.input(kernel, "kernel"), call.input(dy, "dy")
    keras_shape = kb.shape
    kb.shape = _grouped_shape(xb.shape, kb.shape)
    dims, out = _conv_dims(xb.shape, kb.shape, strides, padding, dilation_rate, xb.shape[3])
    _expect(dyb, out, "dy", "the depthwise_conv2d output")
    dx = call.output(xb.shape) if need_dx else None
    dk = call.output(keras_shape) if need_dkernel else None
    db = call.output((out[3],)) if need_dkernel else None
    if need_dx or need_dkernel:
        _cuda.conv2d_backward(xb.ptr, kb.ptr, dyb.ptr, _ptr(dx), _ptr(dk), _ptr(db), dims, _tf32(), call.host)
    return call.result(dx), call.result(dk), (call.result(db) if need_dbias else None)


def _pool_dims(xs: Tuple[int, ...], pool_size: Any, strides: Any, padding: Any) -> Tuple[list, Tuple[int, ...]]:
    """The size tuple of the native pooling (Pool2dParams order) and the output shape."""
    _image(xs)
    k = as_pair(pool_size, "pool_size")
    s = k if strides is None else as_pair(strides, "strides")
    (pt, pb), (pl, pr) = _padding(padding, xs[1:3], k, s)
    n, h, w, c = xs
    if h + pt + pb < k[0] or w + pl + pr < k[1]:
        raise ValueError(f"pool_size {k} does not fit the padded input {(h + pt + pb, w + pl + pr)}")
    oh, ow = (h + pt + pb - k[0]) // s[0] + 1, (w + pl + pr - k[1]) // s[1] + 1
    return [n, h, w, c, oh, ow, k[0], k[1], s[0], s[1], pt, pl], (n, oh, ow, c)


def _pool(mode: str, x: Any, pool_size: Any, strides: Any, padding: Any) -> Any:
    call = Call(x)
    xb = call.input(x, "x")
    dims, out = _pool_dims(xb.shape, pool_size, strides, padding)
    y = call.output(out)
    _cuda.pool2d(mode, xb.ptr, y.ptr, dims, call.host)
    return call.result(y)


def max_pool2d(x: Any, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
               padding: PaddingArg = "valid") -> Any:
    """GPU :func:`foveal.nn.functional.max_pool2d`."""
    return _pool("max", x, pool_size, strides, padding)


def avg_pool2d(x: Any, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
               padding: PaddingArg = "valid") -> Any:
    """GPU :func:`foveal.nn.functional.avg_pool2d`."""
    return _pool("avg", x, pool_size, strides, padding)


def _pool_backward(mode: str, dy: Any, x: Any, pool_size: Any, strides: Any, padding: Any,
                   through_relu: bool) -> Any:
    call = Call(dy)
    xb, dyb = call.input(x, "x"), call.input(dy, "dy")
    dims, out = _pool_dims(xb.shape, pool_size, strides, padding)
    _expect(dyb, out, "dy", "the pooling output")
    dx = call.output(xb.shape)
    _cuda.pool2d_backward(mode, xb.ptr, dyb.ptr, dx.ptr, dims, bool(through_relu), call.host)
    return call.result(dx)


def max_pool2d_backward(dy: Any, x: Any, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
                        padding: PaddingArg = "valid", through_relu: bool = False) -> Any:
    """GPU :func:`foveal.nn.functional.max_pool2d_backward`."""
    return _pool_backward("max", dy, x, pool_size, strides, padding, through_relu)


def avg_pool2d_backward(dy: Any, x: Any, pool_size: IntPair = 2, strides: Optional[IntPair] = None,
                        padding: PaddingArg = "valid") -> Any:
    """GPU :func:`foveal.nn.functional.avg_pool2d_backward`."""
    return _pool_backward("avg", dy, x, pool_size, strides, padding, False)


def _global(mode: str, x: Any) -> Any:
    call = Call(x)
    xb = call.input(x, "x")
    _image(xb.shape)
    n, h, w, c = xb.shape
    y = call.output((n, c))
    _cuda.global_pool2d(mode, xb.ptr, y.ptr, n, h * w, c, call.host)
    return call.result(y)


def global_avg_pool2d(x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.global_avg_pool2d`: ``N x C``."""
    return _global("avg", x)


def global_max_pool2d(x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.global_max_pool2d`: ``N x C``."""
    return _global("max", x)


def global_avg_pool2d_backward(dy: Any, x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.global_avg_pool2d_backward`."""
    call = Call(dy)
    xs = shape_of(x, "x")
    _image(xs)
    dyb = call.input(dy, "dy")
    _expect(dyb, (xs[0], xs[3]), "dy", "N x C")
    dx = call.output(xs)
    _cuda.global_avg_pool2d_backward(dyb.ptr, dx.ptr, xs[0], xs[1] * xs[2], xs[3], call.host)
    return call.result(dx)


def global_max_pool2d_backward(dy: Any, x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.global_max_pool2d_backward` (to each channel's first
    maximum)."""
    call = Call(dy)
    xb, dyb = call.input(x, "x"), call.input(dy, "dy")
    _image(xb.shape)
    n, h, w, c = xb.shape
    _expect(dyb, (n, c), "dy", "N x C")
    dx = call.output(xb.shape)
    _cuda.global_max_pool2d_backward(xb.ptr, dyb.ptr, dx.ptr, n, h * w, c, call.host)
    return call.result(dx)


def _dense_shapes(xs: Tuple[int, ...], ks: Tuple[int, ...]) -> Tuple[int, int, int]:
    if len(xs) < 1 or 0 in xs:
        raise ValueError(f"x must have at least 1 dimension and no empty axis, got shape {xs}")
    if len(ks) != 2 or 0 in ks:
        raise ValueError(f"kernel must be 2-D (in x out) and not empty, got shape {ks}")
    if ks[0] != xs[-1]:
        raise ValueError(f"kernel must have {xs[-1]} rows (the last axis of x), got shape {ks}")
    return int(np.prod(xs[:-1], dtype=np.int64)), ks[0], ks[1]


def dense(x: Any, kernel: Any, bias: Any = None, activation: Optional[str] = None) -> Any:
    """GPU :func:`foveal.nn.functional.dense` (``"softmax"`` included)."""
    call = Call(x)
    act = _activation(activation, ("softmax",))
    xb, kb = call.input(x, "x"), call.input(kernel, "kernel")
    m, k, n = _dense_shapes(xb.shape, kb.shape)
    bb = call.optional(bias, "bias")
    _expect(bb, (n,), "bias", "one value per output")
    y = call.output((m, n))
    _cuda.dense(xb.ptr, kb.ptr, _ptr(bb), y.ptr, m, k, n, "linear" if act == "softmax" else act, _tf32(),
                call.host)
    if act == "softmax":
        _cuda.softmax(y.ptr, y.ptr, m, n, call.host)
    return call.result(y, (*xb.shape[:-1], n))


def dense_backward(dy: Any, x: Any, kernel: Any, need_dx: bool = True,
                   need_dkernel: bool = True) -> Tuple[Any, Any, Any]:
    """GPU :func:`foveal.nn.functional.dense_backward`: ``(dx, dkernel, dbias)``."""
    call = Call(dy)
    xb, kb, dyb = call.input(x, "x"), call.input(kernel, "kernel"), call.input(dy, "dy")
    m, k, n = _dense_shapes(xb.shape, kb.shape)
    _expect(dyb, (*xb.shape[:-1], n), "dy", "the dense output")
    dx = call.output(xb.shape) if need_dx else None
    dk = call.output((k, n)) if need_dkernel else None
    db = call.output((n,)) if need_dkernel else None
    if need_dx or need_dkernel:
        _cuda.dense_backward(xb.ptr, kb.ptr, dyb.ptr, _ptr(dx), _ptr(dk), _ptr(db), m, k, n, _tf32(), call.host)
    return call.result(dx), call.result(dk), call.result(db)


def activation(x: Any, activation: Optional[str]) -> Any:
    """GPU :func:`foveal.nn.functional.activation`."""
    act = _activation(activation)
    call = Call(x)
    xb = call.input(x, "x")
    y = call.output(xb.shape)
    _cuda.bias_activation(xb.ptr, 0, y.ptr, xb.size, 1, act, call.host)
    return call.result(y)


_activation_op = activation   # conv2d's parameter of that name hides the function


def add(a: Any, b: Any, activation: Optional[str] = None) -> Any:
    """``activation(a + b)`` of two float32 arrays of one shape, on the GPU (the Add layer's
    sum and the sum of two gradients: the same float additions as NumPy's)."""
    act = _activation(activation)
    call = Call(a)
    ab, bb = call.input(a, "a"), call.input(b, "b")
    if ab.shape != bb.shape:
        raise ValueError(f"b must have the shape of a {ab.shape}, got {bb.shape}")
    y = call.output(ab.shape)
    if ab.size:
        _cuda.bias_activation(ab.ptr, bb.ptr, y.ptr, ab.size, ab.size, act, call.host)
    return call.result(y)


def relu(x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.relu`."""
    return activation(x, "relu")


def sigmoid(x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.sigmoid`."""
    return activation(x, "sigmoid")


def tanh(x: Any) -> Any:
    """GPU :func:`foveal.nn.functional.tanh`."""
    return activation(x, "tanh")


def activation_backward(dy: Any, y: Any, activation: Optional[str], x: Any = None) -> Any:
    """GPU :func:`foveal.nn.functional.activation_backward`."""
    act = _activation(activation)
    src_name, src = ("x", x) if act in GRAD_FROM_INPUT else ("y", y)
    if src is None and act != "linear":
        raise ValueError(f"activation_backward of {act!r} needs {src_name}=")
    call = Call(dy)
    dyb = call.input(dy, "dy")
    sb = call.optional(src, src_name)
    _expect(sb, dyb.shape, src_name, "the shape of dy")
    dx = call.output(dyb.shape)
    _cuda.activation_backward(dyb.ptr, _ptr(sb), dx.ptr, dyb.size, act, call.host)
    return call.result(dx)


# ------------------------------------------------------------------- optimizer steps (in place)


def _in_place(call: Call, a: Any, name: str) -> Buffer:
    b = call.input(a, name)
    if b.obj is not a:  # converted or copied: an update would not reach the caller's array
        raise TypeError(f"{name} is updated in place: it must be a C-contiguous float32 array "
                        "(NumPy in host mode, a device array on the GPU)")
    return b


def sgd_step(w: Any, g: Any, m: Any, learning_rate: float, momentum: float = 0.0,
             nesterov: bool = False) -> None:
    """Keras 3's SGD update of ``w`` (and the momentum ``m``, or None) in place, on the GPU:
    ``w``, ``g`` and ``m`` are device arrays of the same size (float32)."""
    call = Call(w)
    wb, gb = _in_place(call, w, "w"), call.input(g, "g")
    mb = None if m is None else _in_place(call, m, "m")
    for name, b in (("g", gb), ("m", mb)):
        if b is not None and b.size != wb.size:
            raise ValueError(f"{name} must have the size of w ({wb.size}), got {b.size}")
    _cuda.sgd_step(wb.ptr, gb.ptr, _ptr(mb), wb.size, float(learning_rate), float(momentum), bool(nesterov),
                   call.host)


def adam_step(w: Any, g: Any, m: Any, v: Any, alpha: float, beta_1: float, beta_2: float,
              epsilon: float) -> None:
    """Keras 3's Adam update of ``w``, ``m``, ``v`` in place on the GPU (``alpha``: the learning
    rate with the bias corrections of this step, as ``foveal._core.adam_step`` takes it)."""
    call = Call(w)
    wb, gb, mb, vb = (_in_place(call, w, "w"), call.input(g, "g"), _in_place(call, m, "m"),
                      _in_place(call, v, "v"))
    for name, b in (("g", gb), ("m", mb), ("v", vb)):
        if b.size != wb.size:
            raise ValueError(f"{name} must have the size of w ({wb.size}), got {b.size}")
    _cuda.adam_step(wb.ptr, gb.ptr, mb.ptr, vb.ptr, wb.size, float(alpha), 1.0 - float(beta_1),
                    1.0 - float(beta_2), float(epsilon), call.host)
