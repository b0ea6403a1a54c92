"""Argument rules the operators share with their other implementations (``foveal._cuda_ops``):
activation names, Keras/PyTorch padding arguments, dilated kernel extents. No imports from the
operators themselves, so any implementation can use them."""

from __future__ import annotations

from typing import Any, Optional, Sequence, Tuple, Union

from .._checks import Pair, as_int, as_option, as_pair

PaddingArg = Union[str, int, Sequence[int], Sequence[Sequence[int]]]
Padding = Tuple[Pair, Pair]

# The elementwise activations, by their Keras 3 names, each native (forward and backward) and
# fused into conv2d / depthwise_conv2d / dense. Aliases resolve to the Keras name that get_config
# reports, as Keras's own serialization does ("swish" -> "silu", "hard_swish" -> "hard_silu").
_ACTIVATIONS = ("linear", "relu", "sigmoid", "tanh", "relu6", "hard_sigmoid", "hard_silu", "silu",
                "gelu", "leaky_relu", "elu", "softplus")
_ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
# Activations whose gradient is computed from their input x (the others: from their output y).
GRAD_FROM_INPUT = ("hard_silu", "silu", "gelu")


def _activation(activation: Optional[str], extra: tuple[str, ...] = ()) -> str:
    """The Keras name of an activation argument (None -> "linear", aliases resolved)."""
    if activation is None:
        return "linear"
    name = as_option(activation, "activation", _ACTIVATIONS + tuple(_ACTIVATION_ALIASES) + extra)
    return _ACTIVATION_ALIASES.get(name, name)


def _same_pads(size: int, window: int, stride: int) -> Pair:
    """TensorFlow's "same": out = ceil(size/stride), the odd padded pixel at the bottom/right."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return (total // 2, total - total // 2)


def _padding(padding: PaddingArg, size: Pair, window: Pair, strides: Pair) -> Padding:
    """Resolve a Keras/PyTorch-style padding argument to ((top, bottom), (left, right))."""
    if isinstance(padding, str):
        mode = as_option(padding, "padding", ("valid", "same"))
        if mode == "valid":
            return ((0, 0), (0, 0))
        return (_same_pads(size[0], window[0], strides[0]), _same_pads(size[1], window[1], strides[1]))
    if isinstance(padding, (tuple, list)) and len(padding) == 2 and all(
        isinstance(p, (tuple, list)) for p in padding
    ):
        (t, b), (l, r) = (as_pair(padding[0], "padding", 0), as_pair(padding[1], "padding", 0))
        return ((t, b), (l, r))
    if isinstance(padding, (tuple, list)) or not isinstance(padding, str):
        ph, pw = as_pair(padding, "padding", 0)
        return ((ph, ph), (pw, pw))
    raise TypeError(f"padding must be 'valid', 'same', an int or pairs, got {padding!r}")


def _effective(kernel: Pair, dilation: Pair) -> Pair:
    return (dilation[0] * (kernel[0] - 1) + 1, dilation[1] * (kernel[1] - 1) + 1)


def zero_padding_arg(padding: Any, name: str = "padding") -> Padding:
    """Keras's ZeroPadding2D ``padding``: an int (every side), a pair ``(h, w)`` (symmetric), or
    ``((top, bottom), (left, right))`` (each entry an int or a pair) -> ``((t, b), (l, r))``."""
    if isinstance(padding, (tuple, list)):
        if len(padding) != 2:
            raise ValueError(f"{name} must be an int, a pair of ints or a pair of pairs, got {padding!r}")
        return (as_pair(padding[0], name, 0), as_pair(padding[1], name, 0))
    p = as_int(padding, name, 0)
    return ((p, p), (p, p))
