"""Inference-time fusion (``foveal.nn._fusion``): in ``predict``/``evaluate`` (``training=False``)
a convolution whose only consumer is a BatchNormalization, itself followed (as its only
consumer) by an activation, runs as one native convolution: the batch normalization's affine
map, on its moving statistics, is folded into the kernel and bias, and the activation is fused
into the kernel's output. Models imported from ONNX (one layer per node) and Keras-style
Conv-BN-ReLU stacks then make one pass over memory per block instead of three, as onnxruntime
does after its graph optimizations.

In a training step, a BatchNormalization that learns (batch statistics) and the ReLU or ReLU6
that is its only consumer run as one native pass (:class:`BnAct`): the activation is applied
where the normalized values are written, no normalized copy is kept (the backward recomputes it
from the normalization's input), and the backward masks the gradient by the activation's linear
range in the normalization's own passes (the activation's step passes its gradient through).

The fold is computed from the weights at each call (no cache that an in-place change of a
weight could make stale); it costs one pass over the kernel. In training, only chains that no
gradient passes through fuse (a frozen backbone below the layers that learn, its batch norms
frozen, so in inference mode as Keras 3 runs them): the others keep what their backward needs.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np

from . import functional as F
from .layers import Activation, BatchNormalization, Conv2D, DepthwiseConv2D, ReLU

Step = Tuple[Any, Tuple[int, ...], int, bool]


class Fused(NamedTuple):
    """A Conv2D/DepthwiseConv2D, the BatchNormalization after it and an optional activation,
    reading slot ``src`` and writing slot ``out``."""

    conv: Any
    bn: Any
    activation: Optional[str]
    src: int
    out: int


class BnAct(NamedTuple):
    """A BatchNormalization in training mode and the ReLU/ReLU6 after it, reading slot ``src``
    and writing the activation's slot ``out``."""

    bn: Any
    activation: str
    src: int
    out: int


def _activation_name(layer: Any) -> Optional[str]:
    """The native activation a layer is (ReLU's native forms, Activation but softmax), else None."""
    if type(layer) is ReLU:
        return layer.output_activation
    if type(layer) is Activation and layer.activation not in ("softmax", "linear"):
        return layer.activation
    return None


def plan(steps: Sequence[Step], output_id: int,
         accept: Optional[Callable[[Fused], bool]] = None) -> List[Any]:
    """The steps with each fusable Conv -> BatchNormalization [-> activation] chain replaced by
    one :class:`Fused` entry (the other steps unchanged); ``accept`` may turn a chain down."""
    uses = collections.Counter(i for _, ins, _, _ in steps for i in ins)
    uses[output_id] += 1
    consumer = {}
    for k, (_, ins, _, _) in enumerate(steps):
        for i in ins:
            consumer[i] = k
    out: List[Any] = []
    skip = set()
    for k, step in enumerate(steps):
        if k in skip:
            continue
        layer, ins, slot, _ = step
        if type(layer) in (Conv2D, DepthwiseConv2D) and layer.activation == "linear" and uses[slot] == 1:
            j = consumer.get(slot)
            if j is not None and type(steps[j][0]) is BatchNormalization:
                bn_slot = steps[j][2]
                act, end, last = None, bn_slot, j
                a = consumer.get(bn_slot) if uses[bn_slot] == 1 else None
                if a is not None and _activation_name(steps[a][0]) is not None:
                    act, end, last = _activation_name(steps[a][0]), steps[a][2], a
                # run at the convolution's place: its input is ready there, and the chain's
                # inner tensors have no other reader
                chain = Fused(layer, steps[j][0], act, ins[0], end)
                if accept is None or accept(chain):
                    out.append(chain)
                    skip.update({j, last})
                    continue
        out.append(step)
    return out


def run(f: Fused, x: np.ndarray) -> np.ndarray:
    """The fused chain on ``x``: the convolution with the folded kernel and bias, the
    activation fused."""
    conv, bn = f.conv, f.bn
    gamma, beta = bn._gamma_beta()
    scale = (gamma.astype(np.float64) /
             np.sqrt(bn.moving_variance.value.astype(np.float64) + bn.epsilon))
    bias = conv.bias.value.astype(np.float64) if conv.use_bias else 0.0
    shift = ((bias - bn.moving_mean.value) * scale + beta).astype(np.float32)
    kernel = conv.kernel.value
    if isinstance(conv, DepthwiseConv2D):
        folded = (kernel * scale.reshape(kernel.shape[2], kernel.shape[3])).astype(np.float32)
        return F.depthwise_conv2d(conv._compute_operand(x), conv._compute_operand(folded), shift,
                                  conv.strides, conv.padding, conv.dilation_rate,
                                  f.activation)
    folded = (kernel * scale).astype(np.float32)
    return F.conv2d(conv._compute_operand(x), conv._compute_operand(folded), shift, conv.strides,
                    conv.padding, conv.dilation_rate, conv.groups,
                    f.activation)


def bn_activation_slots(steps: Sequence[Step], output_id: int, excluded: Set[int]) -> Set[int]:
    """Output slots of the ReLU/ReLU6 steps (not in ``excluded``, not the model's output) whose
    input is a trainable BatchNormalization's output read by nothing else: in a training step
    each such pair runs as one :class:`BnAct`."""
    uses = collections.Counter(i for _, ins, _, _ in steps for i in ins)
    uses[output_id] += 1
    producer = {slot: layer for layer, _, slot, _ in steps}
    slots = set()
    for layer, ins, slot, multi in steps:
        if multi or slot == output_id or slot in excluded:
            continue
        bn = producer.get(ins[0])
        if (_activation_name(layer) in ("relu", "relu6") and type(bn) is BatchNormalization
                and bn.trainable and uses[ins[0]] == 1):
            slots.add(slot)
    return slots


def with_bn_activations(steps: Sequence[Any], act_slots: Set[int]) -> List[Any]:
    """``steps`` with each BatchNormalization -> activation pair whose activation writes a slot
    of ``act_slots`` replaced by one :class:`BnAct` at the normalization's place."""
    after = {step[1][0]: step for step in steps
             if not isinstance(step, Fused) and step[2] in act_slots}
    out: List[Any] = []
    for step in steps:
        if isinstance(step, Fused):
            out.append(step)
        elif step[2] not in act_slots:
            act = after.get(step[2])
            out.append(step if act is None else
                       BnAct(step[0], _activation_name(act[0]), step[1][0], act[2]))
    return out


def run_bn_act(f: BnAct, x: np.ndarray) -> np.ndarray:
    """The normalization with its activation (training mode)."""
    return f.bn.call_activated(x, True, f.activation)
