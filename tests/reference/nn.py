"""Plain NumPy float64 references for ``foveal.nn.functional``, written from the definitions.

Every function takes the same arguments as its foveal counterpart and returns a float64 array.
Convolution and pooling loop over the kernel taps only; batch, space and channels are handled
by slicing and ``matmul``, so the references stay readable and fast enough for the test sweeps.
No argument checking beyond what the computation needs: the tests only pass valid input here.
"""
import math

import numpy as np


# ----------------------------------------------------------------------------- helpers
def pair(value):
    """An int or an (h, w) pair -> (h, w) tuple of ints."""
    if np.ndim(value) == 0:
        return (int(value), int(value))
    h, w = value
    return (int(h), int(w))


def same_padding_1d(size, kernel, stride, dilation=1):
    """TensorFlow "same": out = ceil(size/stride); the odd padded pixel goes to the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + dilation * (kernel - 1) + 1 - size, 0)
    return (total // 2, total - total // 2)


def resolve_padding(padding, in_hw, kernel_hw, strides=1, dilation_rate=1):
    """Any accepted padding form -> ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0), (0, 0))
        if padding == "same":
            s, d = pair(strides), pair(dilation_rate)
            return tuple(same_padding_1d(in_hw[i], kernel_hw[i], s[i], d[i]) for i in range(2))
        raise ValueError(f"unknown padding {padding!r}")
    if np.ndim(padding) == 0:
        p = int(padding)
        return ((p, p), (p, p))
    ph, pw = padding
    if np.ndim(ph) == 0 and np.ndim(pw) == 0:
        return ((int(ph), int(ph)), (int(pw), int(pw)))
    (top, bottom), (left, right) = ph, pw
    return ((int(top), int(bottom)), (int(left), int(right)))


def conv_output_size(size, kernel, stride, dilation, pad_before, pad_after):
    """Output length along one axis; 0 when the dilated kernel does not fit the padded input."""
    extent = dilation * (kernel - 1) + 1
    padded = size + pad_before + pad_after
    if padded < extent:
        return 0
    return (padded - extent) // stride + 1


def conv_output_shape(x_shape, kernel_hw, strides=1, padding="valid", dilation_rate=1):
    """(out_h, out_w) for an N x H x W x C input; a 0 means the kernel does not fit."""
    in_hw = tuple(x_shape[1:3])
    pads = resolve_padding(padding, in_hw, kernel_hw, strides, dilation_rate)
    s, d = pair(strides), pair(dilation_rate)
    return tuple(conv_output_size(in_hw[i], kernel_hw[i], s[i], d[i], *pads[i]) for i in range(2))


def _taps(x, kernel_hw, strides, padding, dilation_rate, fill):
    """Yield (i, j, view) with view[n, oy, ox, c] = x_padded[n, oy*sh + i*dh, ox*sw + j*dw, c]."""
    kh, kw = kernel_hw
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    pads = resolve_padding(padding, x.shape[1:3], kernel_hw, strides, dilation_rate)
    oh, ow = conv_output_shape(x.shape, kernel_hw, strides, padding, dilation_rate)
    assert oh > 0 and ow > 0, "kernel does not fit the padded input"
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=fill)
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            yield i, j, xp[:, y0:y0 + (oh - 1) * sh + 1:sh, x0:x0 + (ow - 1) * sw + 1:sw, :]


# ----------------------------------------------------------------------------- activations
def relu(x):
    return np.maximum(np.asarray(x, np.float64), 0.0)


def sigmoid(x):
    x = np.asarray(x, np.float64)
    z = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0 / (1.0 + z), z / (1.0 + z))


def softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def tanh(x):
    return np.tanh(np.asarray(x, np.float64))


def relu6(x):
    return np.clip(np.asarray(x, np.float64), 0.0, 6.0)


def hard_sigmoid(x):
    """Keras 3: relu6(x + 3) / 6."""
    return relu6(np.asarray(x, np.float64) + 3.0) / 6.0


def hard_silu(x):
    x = np.asarray(x, np.float64)
    return x * hard_sigmoid(x)


def silu(x):
    x = np.asarray(x, np.float64)
    return x * sigmoid(x)


_erfc = np.vectorize(math.erfc, otypes=[np.float64])


def normal_cdf(x):
    """Phi(x) = erfc(-x / sqrt 2) / 2: accurate in both tails."""
    return 0.5 * _erfc(-np.asarray(x, np.float64) / math.sqrt(2.0))


def gelu(x):
    """The exact (erf) form, Keras approximate=False: x Phi(x)."""
    x = np.asarray(x, np.float64)
    return x * normal_cdf(x)


def leaky_relu(x):
    """Keras 3's default negative_slope 0.2 (as float32, as Keras passes it)."""
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, float(np.float32(0.2)) * x)


def elu(x):
    x = np.asarray(x, np.float64)
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0.0)))


def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


ACTIVATIONS = {
    None: lambda v: v,
    "linear": lambda v: v,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
    "relu6": relu6,
    "hard_sigmoid": hard_sigmoid,
    "hard_silu": hard_silu,
    "hard_swish": hard_silu,
    "silu": silu,
    "swish": silu,
    "gelu": gelu,
    "leaky_relu": leaky_relu,
    "elu": elu,
    "softplus": softplus,
}
# the activations whose gradient foveal computes from the input x (the others: from the output y)
GRAD_FROM_INPUT = ("hard_silu", "hard_swish", "silu", "swish", "gelu")


def activation(x, activation):
    """foveal.nn.functional.activation: any elementwise activation by name."""
    return ACTIVATIONS[activation](x)


def activation_derivative(x, activation):
    """f'(x) from the input, in float64; at the kinks the one-sided value TensorFlow's gradient
    takes (relu6 / hard_sigmoid: 0 at both ends of the linear part; leaky_relu: 0.2 at 0).
    For hard_sigmoid / hard_silu whether x lies on the linear part is decided on x + 3 as the
    float32 forward computes it (Keras's relu6(x + 3)): 2.9999998 + 3 is 6.0 in float32."""
    x_in = np.asarray(x)
    shifted = (x_in + np.float32(3)).astype(np.float64) if x_in.dtype == np.float32 else \
        x_in.astype(np.float64) + 3.0
    linear_part = (shifted > 0) & (shifted < 6)
    x = np.asarray(x, np.float64)
    if activation in (None, "linear"):
        return np.ones_like(x)
    if activation == "relu":
        return (x > 0).astype(np.float64)
    if activation == "sigmoid":
        s = sigmoid(x)
        return s * (1.0 - s)
    if activation == "tanh":
        return 1.0 - np.tanh(x) ** 2
    if activation == "relu6":
        return ((x > 0) & (x < 6)).astype(np.float64)
    if activation == "hard_sigmoid":
        return linear_part / 6.0
    if activation in ("hard_silu", "hard_swish"):
        return hard_sigmoid(x) + np.where(linear_part, x / 6.0, 0.0)
    if activation in ("silu", "swish"):
        s = sigmoid(x)
        return s * (1.0 + x * (1.0 - s))
    if activation == "gelu":
        return normal_cdf(x) + x * np.exp(-0.5 * np.minimum(x * x, 1e300)) / math.sqrt(2.0 * math.pi)
    if activation == "leaky_relu":
        return np.where(x > 0, 1.0, float(np.float32(0.2)))
    if activation == "elu":
        return np.where(x > 0, 1.0, np.exp(np.minimum(x, 0.0)))
    if activation == "softplus":
        return sigmoid(x)
    raise ValueError(f"unknown activation {activation!r}")


def _finish(out, bias, activation, residual=None):
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    if residual is not None:
        out = out + np.asarray(residual, np.float64)
    return ACTIVATIONS[activation](out)


# ----------------------------------------------------------------------------- convolution
def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1,
           activation=None, residual=None):
    """out[n, y, x, o] = act(bias[o] + residual[n, y, x, o] + sum_{i, j, c}
    x_pad[n, y*sh + i*dh, x*sw + j*dw, g*Cin_g + c] * kernel[i, j, c, o]), with
    g = o // (Cout / groups)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    n, _, _, cin = x.shape
    kh, kw, cin_g, cout = kernel.shape
    assert cin_g * groups == cin and cout % groups == 0
    cout_g = cout // groups
    # kernel[i, j] as (groups, cin_g, cout_g): output channel o = g * cout_g + q
    k = kernel.reshape(kh, kw, cin_g, groups, cout_g).transpose(0, 1, 3, 2, 4)
    out = 0.0
    for i, j, view in _taps(x, (kh, kw), strides, padding, dilation_rate, 0.0):
        oh, ow = view.shape[1:3]
        patch = view.reshape(n * oh * ow, groups, cin_g).transpose(1, 0, 2)  # (G, M, cin_g)
        out = out + patch @ k[i, j]                                           # (G, M, cout_g)
    out = out.transpose(1, 0, 2).reshape(n, oh, ow, cout)
    return _finish(out, bias, activation, residual)


def depthwise_conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1,
                     activation=None):
    """out[n, y, x, c*M + m] = bias[c*M + m] + sum_{i, j} x_pad[n, y*sh + i*dh, x*sw + j*dw, c]
    * kernel[i, j, c, m]."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    kh, kw, c, m = kernel.shape
    assert x.shape[3] == c
    out = 0.0
    for i, j, view in _taps(x, (kh, kw), strides, padding, dilation_rate, 0.0):
        out = out + view[..., :, None] * kernel[i, j]  # (N, oh, ow, C, M)
    out = out.reshape(*out.shape[:3], c * m)
    return _finish(out, bias, activation)


# ----------------------------------------------------------------------------- pooling
def _pool_args(pool_size, strides, padding):
    """Padding: "valid", "same" or explicit (every side smaller than the window, so each window
    holds a real cell: padded cells never win and are left out of the average)."""
    pool = pair(pool_size)
    if not isinstance(padding, str):
        pads = resolve_padding(padding, (1, 1), pool)
        assert all(p < k for side, k in zip(pads, pool) for p in side), (padding, pool)
    else:
        assert padding in ("valid", "same")
    return pool, (pool if strides is None else pair(strides))


def max_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Maximum over each window; padded cells are -inf, so they never win."""
    x = np.asarray(x, np.float64)
    pool, strides = _pool_args(pool_size, strides, padding)
    out = -np.inf
    for _, _, view in _taps(x, pool, strides, padding, 1, -np.inf):
        out = np.maximum(out, view)
    return out


def avg_pool2d(x, pool_size=2, strides=None, padding="valid"):
    """Mean over the real (unpadded) cells of each window, as Keras / TensorFlow."""
    x = np.asarray(x, np.float64)
    pool, strides = _pool_args(pool_size, strides, padding)
    ones = np.ones((1, *x.shape[1:3], 1))
    total, count = 0.0, 0.0
    for _, _, view in _taps(x, pool, strides, padding, 1, 0.0):
        total = total + view
    for _, _, view in _taps(ones, pool, strides, padding, 1, 0.0):
        count = count + view
    return total / count


def global_avg_pool2d(x):
    return np.asarray(x, np.float64).mean(axis=(1, 2))


def global_max_pool2d(x):
    return np.asarray(x, np.float64).max(axis=(1, 2))


# ----------------------------------------------------------------------------- dense
def dense(x, kernel, bias=None, activation=None):
    """out[..., o] = activation(bias[o] + sum_i x[..., i] * kernel[i, o])."""
    out = np.asarray(x, np.float64) @ np.asarray(kernel, np.float64)
    return _finish(out, bias, activation)


# ============================================================================= backward passes
# Each *_backward takes the forward's arguments plus ``dy`` (the gradient of a scalar loss with
# respect to the forward's output) and returns the gradients with respect to the inputs, in
# float64. Written from the chain rule, not from the forward code: a convolution's input
# gradient scatters ``dy x kernel`` back through every tap, its kernel gradient gathers
# ``x-patch x dy``; a pooling's input gradient routes ``dy`` back to the cells of each window.
def _tap_slices(in_hw, kernel_hw, strides, padding, dilation_rate):
    """The geometry of a sliding window over a padded input.

    Returns (pads, (oh, ow), taps) where taps lists (i, j, rows, cols): the basic slices of the
    *padded* input that tap (i, j) of every window reads, in row-major tap order (i, then j).
    Within one tap the slices pick distinct cells, so ``grad[:, rows, cols] += v`` is a
    correct scatter-add for that tap."""
    kh, kw = kernel_hw
    (sh, sw), (dh, dw) = pair(strides), pair(dilation_rate)
    pads = resolve_padding(padding, tuple(in_hw), kernel_hw, strides, dilation_rate)
    oh = conv_output_size(in_hw[0], kh, sh, dh, *pads[0])
    ow = conv_output_size(in_hw[1], kw, sw, dw, *pads[1])
    assert oh > 0 and ow > 0, "kernel does not fit the padded input"
    taps = []
    for i in range(kh):
        for j in range(kw):
            y0, x0 = i * dh, j * dw
            taps.append((i, j, slice(y0, y0 + (oh - 1) * sh + 1, sh),
                         slice(x0, x0 + (ow - 1) * sw + 1, sw)))
    return pads, (oh, ow), taps


def _padded_zeros(x_shape, pads):
    n, h, w, c = x_shape
    (top, bottom), (left, right) = pads
    return np.zeros((n, h + top + bottom, w + left + right, c))


def _crop(grad_padded, x_shape, pads):
    """The gradient of the padded input -> the gradient of the input (padding is a constant)."""
    _, h, w, _ = x_shape
    (top, _), (left, _) = pads
    return grad_padded[:, top:top + h, left:left + w, :]


def conv2d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1, groups=1,
                    need_dx=True):
    """Gradients of ``conv2d(x, kernel, bias, ...)`` (no activation) given ``dy``:

    dx[n, p, g*Cin_g + c]   = sum over taps (i, j) and outputs q reading p through tap (i, j)
                              of sum_o dy[n, q, o] * kernel[i, j, c, o]   (o in group g)
    dkernel[i, j, c, o]     = sum_{n, q} x_pad[n, tap (i, j) of q, g*Cin_g + c] * dy[n, q, o]
    dbias[o]                = sum_{n, q} dy[n, q, o]
    Returns (dx or None, dkernel, dbias)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    dy = np.asarray(dy, np.float64)
    n, h, w, cin = x.shape
    kh, kw, cin_g, cout = kernel.shape
    assert cin_g * groups == cin and cout % groups == 0
    cout_g = cout // groups
    pads, (oh, ow), taps = _tap_slices((h, w), (kh, kw), strides, padding, dilation_rate)
    assert dy.shape == (n, oh, ow, cout), (dy.shape, (n, oh, ow, cout))
    m = n * oh * ow
    # dy per group: (G, M, Cout_g); the kernel per tap and group: (G, Cin_g, Cout_g)
    dy_g = dy.reshape(m, groups, cout_g).transpose(1, 0, 2)
    k = kernel.reshape(kh, kw, cin_g, groups, cout_g).transpose(0, 1, 3, 2, 4)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    dxp = _padded_zeros(x.shape, pads) if need_dx else None
    dkernel = np.zeros((kh, kw, cin_g, cout))
    for i, j, rows, cols in taps:
        patch = xp[:, rows, cols, :].reshape(m, groups, cin_g).transpose(1, 0, 2)  # (G, M, Cin_g)
        dk = np.matmul(patch.transpose(0, 2, 1), dy_g)                         # (G, Cin_g, Cout_g)
        dkernel[i, j] = dk.transpose(1, 0, 2).reshape(cin_g, cout)
        if need_dx:
            contrib = np.matmul(dy_g, k[i, j].transpose(0, 2, 1))              # (G, M, Cin_g)
            dxp[:, rows, cols, :] += contrib.transpose(1, 0, 2).reshape(n, oh, ow, cin)
    dx = _crop(dxp, x.shape, pads) if need_dx else None
    return dx, dkernel, dy.sum(axis=(0, 1, 2))


def depthwise_conv2d_backward(dy, x, kernel, strides=1, padding="valid", dilation_rate=1,
                              need_dx=True):
    """Gradients of ``depthwise_conv2d`` (kernel ``kh x kw x C x M``; output channel c*M + m):

    dx[n, p, c]          = sum over taps and the outputs q reading p of sum_m dy[n, q, c*M + m]
                           * kernel[i, j, c, m]
    dkernel[i, j, c, m]  = sum_{n, q} x_pad[n, tap (i, j) of q, c] * dy[n, q, c*M + m]
    Returns (dx or None, dkernel, dbias)."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    dy = np.asarray(dy, np.float64)
    n, h, w, c = x.shape
    kh, kw, kc, mult = kernel.shape
    assert kc == c
    pads, (oh, ow), taps = _tap_slices((h, w), (kh, kw), strides, padding, dilation_rate)
    assert dy.shape == (n, oh, ow, c * mult), (dy.shape, (n, oh, ow, c * mult))
    dy5 = dy.reshape(n, oh, ow, c, mult)
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    dxp = _padded_zeros(x.shape, pads) if need_dx else None
    dkernel = np.zeros(kernel.shape)
    for i, j, rows, cols in taps:
        dkernel[i, j] = np.einsum("nyxc,nyxcm->cm", xp[:, rows, cols, :], dy5)
        if need_dx:
            dxp[:, rows, cols, :] += np.einsum("nyxcm,cm->nyxc", dy5, kernel[i, j])
    dx = _crop(dxp, x.shape, pads) if need_dx else None
    return dx, dkernel, dy.sum(axis=(0, 1, 2))


def max_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid"):
    """Gradient of ``max_pool2d``: each window's ``dy`` goes to the FIRST maximum of the window
    in row-major window order (as PyTorch and TensorFlow); padded cells never win. A cell that
    is the chosen maximum of several (overlapping) windows receives the sum of their dy."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    pool, strides = _pool_args(pool_size, strides, padding)
    pads, (oh, ow), taps = _tap_slices(x.shape[1:3], pool, strides, padding, 1)
    assert dy.shape == (x.shape[0], oh, ow, x.shape[3]), dy.shape
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)), constant_values=-np.inf)
    real = np.pad(np.ones(x.shape[1:3], bool), (pads[0], pads[1]))[None, :, :, None]
    best = np.full(dy.shape, -np.inf)
    winner = np.full(dy.shape, -1)          # index of the winning tap; -1: none yet
    for t, (_, _, rows, cols) in enumerate(taps):
        v, r = xp[:, rows, cols, :], real[:, rows, cols, :]
        take = r & ((winner < 0) | (v > best))   # strictly greater: the first maximum stays
        best = np.where(take, v, best)
        winner = np.where(take, t, winner)
    assert (winner >= 0).all(), "a window with no real cell"
    dxp = _padded_zeros(x.shape, pads)
    for t, (_, _, rows, cols) in enumerate(taps):
        dxp[:, rows, cols, :] += np.where(winner == t, dy, 0.0)
    return _crop(dxp, x.shape, pads)


def avg_pool2d_backward(dy, x, pool_size=2, strides=None, padding="valid"):
    """Gradient of ``avg_pool2d``: each window's ``dy / count`` goes to every real cell of the
    window, ``count`` being the number of real (unpadded) cells, as Keras."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    pool, strides = _pool_args(pool_size, strides, padding)
    pads, (oh, ow), taps = _tap_slices(x.shape[1:3], pool, strides, padding, 1)
    assert dy.shape == (x.shape[0], oh, ow, x.shape[3]), dy.shape
    real = np.pad(np.ones(x.shape[1:3]), (pads[0], pads[1]))[None, :, :, None]
    count = sum(real[:, rows, cols, :] for _, _, rows, cols in taps)
    share = dy / count
    dxp = _padded_zeros(x.shape, pads)
    for _, _, rows, cols in taps:
        dxp[:, rows, cols, :] += share
    return _crop(dxp, x.shape, pads)


def global_avg_pool2d_backward(dy, x):
    """Gradient of ``global_avg_pool2d`` (dy is N x C): dy / (H*W) to every cell."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    n, h, w, c = x.shape
    assert dy.shape == (n, c)
    return np.broadcast_to(dy[:, None, None, :] / (h * w), x.shape).copy()


def global_max_pool2d_backward(dy, x):
    """Gradient of ``global_max_pool2d``: dy to the first maximum of each (n, c) in row-major
    (h, w) order."""
    x = np.asarray(x, np.float64)
    dy = np.asarray(dy, np.float64)
    n, h, w, c = x.shape
    assert dy.shape == (n, c)
    first = np.argmax(x.reshape(n, h * w, c), axis=1)  # argmax returns the first occurrence
    dx = np.zeros((n, h * w, c))
    np.put_along_axis(dx, first[:, None, :], dy[:, None, :], axis=1)
    return dx.reshape(x.shape)


def dense_backward(dy, x, kernel, need_dx=True):
    """Gradients of ``dense`` (no activation) over the last axis: dx = dy kernel^T,
    dkernel = x^T dy (leading axes summed), dbias = dy summed over the leading axes."""
    x = np.asarray(x, np.float64)
    kernel = np.asarray(kernel, np.float64)
    dy = np.asarray(dy, np.float64)
    assert dy.shape == x.shape[:-1] + kernel.shape[1:]
    x2 = x.reshape(-1, x.shape[-1])
    dy2 = dy.reshape(-1, dy.shape[-1])
    dx = (dy2 @ kernel.T).reshape(x.shape) if need_dx else None
    return dx, x2.T @ dy2, dy2.sum(axis=0)


def activation_backward(dy, y, activation, x=None):
    """dx = dy * activation'(x). Written with the forward output y = activation(x) where foveal
    computes it from y: linear 1, relu [y > 0], sigmoid y (1 - y), tanh 1 - y^2, relu6
    [0 < y < 6], hard_sigmoid [0 < y < 1] / 6, leaky_relu 1 or 0.2, elu y + 1 below 0, softplus
    1 - exp(-y); from the input x (required) for silu, hard_silu and gelu."""
    dy = np.asarray(dy, np.float64)
    if activation in GRAD_FROM_INPUT:
        assert dy.shape == np.shape(x)
        return dy * activation_derivative(x, activation)  # float32 x: its float32 kinks
    y = np.asarray(y, np.float64)
    assert dy.shape == y.shape
    if activation in (None, "linear"):
        return dy.copy()
    if activation == "relu":
        return np.where(y > 0, dy, 0.0)
    if activation == "sigmoid":
        return dy * y * (1.0 - y)
    if activation == "tanh":
        return dy * (1.0 - y * y)
    if activation == "relu6":
        return np.where((y > 0) & (y < 6), dy, 0.0)
    if activation == "hard_sigmoid":
        return np.where((y > 0) & (y < 1), dy / 6.0, 0.0)
    if activation == "leaky_relu":
        return np.where(y > 0, dy, float(np.float32(0.2)) * dy)
    if activation == "elu":
        return np.where(y < 0, dy * (y + 1.0), dy)
    if activation == "softplus":
        return dy * -np.expm1(-y)
    raise ValueError(f"unknown activation {activation!r}")


# ----------------------------------------------------------------------------- spatial layout and merging
# ZeroPadding2D, UpSampling2D (foveal.nn.functional) and the merge layers (Keras 3 semantics).
def zero_padding(padding):
    """Keras ZeroPadding2D's padding -> ((top, bottom), (left, right))."""
    if not isinstance(padding, (tuple, list)):
        p = int(padding)
        return ((p, p), (p, p))
    return (pair(padding[0]), pair(padding[1]))


def zero_pad2d(x, padding=(1, 1)):
    (t, b), (l, r) = zero_padding(padding)
    return np.pad(np.asarray(x, np.float64), ((0, 0), (t, b), (l, r), (0, 0)))


def zero_pad2d_backward(dy, padding=(1, 1)):
    (t, b), (l, r) = zero_padding(padding)
    dy = np.asarray(dy, np.float64)
    return dy[:, t:dy.shape[1] - b, l:dy.shape[2] - r, :].copy()


def bilinear_taps(in_size, out_size):
    """tf.image.resize's bilinear taps (half-pixel centres): per output index the lower and
    upper source index (clamped to the image) and the weight of the upper one."""
    src = (np.arange(out_size) + 0.5) * (in_size / out_size) - 0.5
    fl = np.floor(src)
    lo = np.clip(fl, 0, in_size - 1).astype(int)
    hi = np.clip(np.ceil(src), 0, in_size - 1).astype(int)
    return lo, hi, src - fl


def upsample2d(x, size=(2, 2), interpolation="nearest"):
    sh, sw = pair(size)
    x = np.asarray(x, np.float64)
    if interpolation == "nearest":
        return np.repeat(np.repeat(x, sh, axis=1), sw, axis=2)
    n, h, w, c = x.shape
    ylo, yhi, wy = bilinear_taps(h, h * sh)
    xlo, xhi, wx = bilinear_taps(w, w * sw)
    wx = wx[None, None, :, None]
    top, bot = x[:, ylo], x[:, yhi]
    t = top[:, :, xlo] + (top[:, :, xhi] - top[:, :, xlo]) * wx
    b = bot[:, :, xlo] + (bot[:, :, xhi] - bot[:, :, xlo]) * wx
    return t + (b - t) * wy[None, :, None, None]


def upsample2d_backward(dy, size=(2, 2), interpolation="nearest"):
    sh, sw = pair(size)
    dy = np.asarray(dy, np.float64)
    n, oh, ow, c = dy.shape
    h, w = oh // sh, ow // sw
    if interpolation == "nearest":
        return dy.reshape(n, h, sh, w, sw, c).sum(axis=(2, 4))
    ylo, yhi, wy = bilinear_taps(h, oh)
    xlo, xhi, wx = bilinear_taps(w, ow)
    rows = np.zeros((n, h, ow, c))
    np.add.at(rows, (slice(None), ylo), dy * (1 - wy)[None, :, None, None])
    np.add.at(rows, (slice(None), yhi), dy * wy[None, :, None, None])
    dx = np.zeros((n, h, w, c))
    np.add.at(dx, (slice(None), slice(None), xlo), rows * (1 - wx)[None, None, :, None])
    np.add.at(dx, (slice(None), slice(None), xhi), rows * wx[None, None, :, None])
    return dx


def merge_expand(xs):
    """Keras 3's merge layers on inputs of different ranks: the lower-rank ones get axes of
    size 1 inserted after the batch axis."""
    xs = [np.asarray(x, np.float64) for x in xs]
    rank = max(x.ndim for x in xs)
    return [x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:]) for x in xs]


def merge(op, xs):
    """Keras's Add, Subtract, Multiply, Average, Maximum, Minimum (broadcasting size-1 axes)."""
    xs = merge_expand(xs)
    if op == "subtract":
        return xs[0] - xs[1]
    fn = {"add": np.add, "multiply": np.multiply, "average": np.add, "maximum": np.maximum,
          "minimum": np.minimum}[op]
    out = xs[0]
    for x in xs[1:]:
        out = fn(out, x)
    return out / len(xs) if op == "average" else out


def merge_backward(op, dy, xs):
    """The input gradients of merge(op, xs): each the derivative times dy, summed over the axes
    its input was broadcast along, in its own shape. A maximum's gradient goes to the first
    input holding it (as TensorFlow's maximum, applied left to right)."""
    shapes = [np.shape(x) for x in xs]
    ex = merge_expand(xs)
    out = merge(op, xs)
    dy = np.asarray(dy, np.float64)
    grads = []
    taken = np.zeros(out.shape, bool)
    for i, x in enumerate(ex):
        if op in ("add",):
            g = dy
        elif op == "average":
            g = dy / len(ex)
        elif op == "subtract":
            g = dy if i == 0 else -dy
        elif op == "multiply":
            others = np.ones(out.shape)
            for j, o in enumerate(ex):
                if j != i:
                    others = others * o
            g = dy * others
        else:
            hit = (np.broadcast_to(x, out.shape) == out) & ~taken
            taken |= hit
            g = np.where(hit, dy, 0.0)
        g = np.broadcast_to(g, out.shape)
        axes = tuple(a for a in range(out.ndim) if x.shape[a] == 1 and out.shape[a] != 1)
        grads.append(g.sum(axis=axes, keepdims=True).reshape(shapes[i]))
    return grads
