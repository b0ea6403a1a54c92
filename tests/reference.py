"""Plain NumPy float64 references for ``foveal.nn.functional``, written from the definitions.

Every function takes the same arguments as its foveal counterpart and returns a float64 array.
Convolution and pooling loop over the kernel taps only; batch, space and channels are handled
by slicing and ``matmul``, so the references stay readable and fast enough for the test sweeps.
No argument checking beyond what the computation needs: the tests only pass valid input here.
"""
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


ACTIVATIONS = {
    None: lambda v: v,
    "linear": lambda v: v,
    "relu": relu,
    "sigmoid": sigmoid,
    "tanh": tanh,
    "softmax": softmax,
}


def _finish(out, bias, activation):
    if bias is not None:
        out = out + np.asarray(bias, np.float64)
    return ACTIVATIONS[activation](out)


# ----------------------------------------------------------------------------- convolution
def conv2d(x, kernel, bias=None, strides=1, padding="valid", dilation_rate=1, groups=1,
           activation=None):
    """out[n, y, x, o] = bias[o] + sum_{i, j, c} x_pad[n, y*sh + i*dh, x*sw + j*dw, g*Cin_g + c]
    * kernel[i, j, c, o], with g = o // (Cout / groups)."""
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
    return _finish(out, bias, activation)


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
    assert padding in ("valid", "same")
    pool = pair(pool_size)
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
