"""Inference-time fusion (``foveal.nn._fusion``): in ``predict``/``evaluate`` (``training=False``)
a convolution whose only consumer is a BatchNormalization, itself followed (as its only
consumer) by an activation, runs as one native convolution: the batch normalization's affine
map, on its moving statistics, is folded into the kernel and bias, and the activation is fused
into the kernel's output. A Conv2D -> BatchNormalization chain without an activation whose only
consumer is a two-input Add (a residual connection: MobileNetV2's projections, ResNet's blocks)
takes the Add, and the activation after it, into the same pass: the other input is added in the
register tile's epilogue, before the activation, and the chain runs at the Add's place. Models imported from ONNX (one layer per node) and Keras-style
Conv-BN-ReLU stacks then make one pass over memory per block instead of three, as onnxruntime
does after its graph optimizations. A chain of three such passes, a 1x1 expansion (or none), a
depthwise convolution and a linear 1x1 projection with its residual, is MobileNetV2's inverted
residual block (:class:`InvertedResidual`): it runs as one native pass per band of output rows
(``_core.inverted_residual``), its expanded tensors (the network's largest) never leaving the
cache.

In a training step, a convolution without an activation whose output only a learning
BatchNormalization reads gathers the batch statistics from its output rows while they are in
cache (:class:`ConvMoments`): the normalization then makes one pass over memory instead of two.
A BatchNormalization that learns (batch statistics) and the ReLU or ReLU6
that is its only consumer run as one native pass (:class:`BnAct`): the activation is applied
where the normalized values are written, no normalized copy is kept (the backward recomputes it
from the normalization's input), and the backward masks the gradient by the activation's linear
range in the normalization's own passes (the activation's step passes its gradient through).
A two-input Add whose only reader is a ReLU or ReLU6 (a residual block's end) runs with it as one
pass (:class:`AddAct`): the sum is not written before the activation; both layers keep what their
backward needs, which runs as before.

A float32 Conv2D whose output only a MaxPooling2D/AveragePooling2D reads (windows equal to
their strides, "valid") runs with it as one pass (:class:`ConvPool`, ``F.conv2d_pool``), in
inference and in training steps: the pooling reads the convolution's rows while they are in cache.

The fold is computed from the weights at each call (no cache that an in-place change of a
weight could make stale); it costs one pass over the kernel. In training, only chains that no
gradient passes through fuse (a frozen backbone below the layers that learn, its batch norms
frozen, so in inference mode as Keras 3 runs them): the others keep what their backward needs.
"""

from __future__ import annotations

import collections
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence, Set, Tuple

import numpy as np

from .. import _core
from .._device_state import state as _device_state
from . import functional as F
from ._args import _effective, _padding
from .layers import (Activation, Add, AveragePooling2D, BatchNormalization, Conv2D, DepthwiseConv2D,
                     MaxPooling2D, ReLU)

Step = Tuple[Any, Tuple[int, ...], int, bool]


class Fused(NamedTuple):
    """A Conv2D/DepthwiseConv2D, the BatchNormalization after it and an optional activation,
    reading slot ``src`` and writing slot ``out``; with ``residual``, an Add of that slot's
    tensor between the normalization and the activation."""

    conv: Any
    bn: Any
    activation: Optional[str]
    src: int
    out: int
    residual: Optional[int] = None


class InvertedResidual(NamedTuple):
    """Three :class:`Fused` chains run as one pass: an optional 1x1 expansion, a depthwise
    convolution reading it (or the block's input), a linear 1x1 projection reading that (with
    its residual, if any); the inner tensors have no other reader."""

    expand: Optional[Fused]
    dw: Fused
    project: Fused

    @property
    def src(self) -> int:
        return (self.dw if self.expand is None else self.expand).src

    @property
    def out(self) -> int:
        return self.project.out


class ConvMoments(NamedTuple):
    """In a training step: a Conv2D/DepthwiseConv2D without an activation reading slot ``src``
    and writing ``mid``, whose only reader is the learning BatchNormalization (with its
    activation, or None) writing ``out``."""

    conv: Any
    bn: Any
    activation: Optional[str]
    src: int
    mid: int
    out: int


class AddAct(NamedTuple):
    """In a training step: an Add of the two slots ``ins`` whose only reader is the ReLU/ReLU6
    layer ``act`` (its native ``activation``) writing ``out``."""

    add: Any
    act: Any
    activation: str
    ins: Tuple[int, ...]
    out: int


class ConvPool(NamedTuple):
    """A float32 Conv2D reading slot ``src`` whose only reader is a MaxPooling2D/
    AveragePooling2D (windows its strides, "valid") writing ``out`` (:func:`with_conv_pools`)."""

    conv: Any
    pool: Any
    src: int
    out: int


def reads(step: Any) -> Tuple[int, ...]:
    """The slots a step (a layer step, a :class:`Fused` chain, an :class:`InvertedResidual`, a
    :class:`ConvPool` or a :class:`BnAct`) reads."""
    if isinstance(step, InvertedResidual):
        res = step.project.residual
        return (step.src,) if res is None else (step.src, res)
    if isinstance(step, Fused):
        return (step.src,) if step.residual is None else (step.src, step.residual)
    if isinstance(step, (BnAct, ConvMoments, ConvPool)):
        return (step.src,)
    if isinstance(step, AddAct):
        return step.ins
    return step[1]


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
    """The steps with each fusable Conv -> BatchNormalization [-> activation] chain (or Conv2D
    -> BatchNormalization -> Add [-> activation]) replaced by one :class:`Fused` entry (the
    other steps unchanged); ``accept`` may turn a chain down."""
    uses = collections.Counter(i for _, ins, _, _ in steps for i in ins)
    uses[output_id] += 1
    consumer = {}
    for k, (_, ins, _, _) in enumerate(steps):
        for i in ins:
            consumer[i] = k

    def only_reader(slot: int) -> Optional[int]:
        return consumer.get(slot) if uses[slot] == 1 else None

    def activation_after(slot: int) -> Tuple[Optional[str], int, Optional[int]]:
        """(the activation that alone reads ``slot``, its output slot, its step) or (None,
        slot, None)."""
        a = only_reader(slot)
        if a is not None and _activation_name(steps[a][0]) is not None:
            return _activation_name(steps[a][0]), steps[a][2], a
        return None, slot, None

    out: List[Any] = []
    skip: Set[int] = set()
    deferred: Dict[int, Fused] = {}   # chains that run at their Add's (or its activation's) place
    for k, step in enumerate(steps):
        if k in deferred:
            out.append(deferred.pop(k))
            continue
        if k in skip:
            continue
        layer, ins, slot, _ = step
        j = only_reader(slot)
        if (type(layer) in (Conv2D, DepthwiseConv2D) and layer.activation == "linear"
                and j is not None and type(steps[j][0]) is BatchNormalization):
            bn_slot = steps[j][2]
            residual = _residual_chain(steps, layer, j, ins[0], only_reader, activation_after)
            # (an Add of two such chains, e.g. ResNet's projection shortcut, goes to the first)
            if (residual is not None and not skip.intersection(residual[1])
                    and (accept is None or accept(residual[0]))):
                chain, members = residual
                deferred[members[-1]] = chain
                skip.update(members)
                continue
            act, end, a = activation_after(bn_slot)
            # run at the convolution's place: its input is ready there, and the chain's
            # inner tensors have no other reader
            chain = Fused(layer, steps[j][0], act, ins[0], end)
            if accept is None or accept(chain):
                out.append(chain)
                skip.update({j} if a is None else {j, a})
                continue
        out.append(step)
    return out


def _residual_chain(steps: Sequence[Step], conv: Any, j: int, src: int,
                    only_reader: Callable[[int], Optional[int]],
                    activation_after: Callable[[int], Tuple[Optional[str], int, Optional[int]]],
                    ) -> Optional[Tuple[Fused, List[int]]]:
    """The Conv2D -> BatchNormalization (step ``j``) -> Add [-> activation] chain from
    ``conv`` reading ``src``, and the steps it takes in, in order (it runs at the last: both of
    the Add's inputs are ready there), or None where the normalization's only reader is not a
    two-input Add of another tensor."""
    if type(conv) is not Conv2D:
        return None
    bn, bn_slot = steps[j][0], steps[j][2]
    k = only_reader(bn_slot)
    if k is None or type(steps[k][0]) is not Add:
        return None
    ins = steps[k][1]
    if len(ins) != 2 or ins[0] == ins[1]:
        return None
    other = ins[1] if ins[0] == bn_slot else ins[0]
    act, end, a = activation_after(steps[k][2])
    members = sorted({j, k} | ({a} if a is not None else set()))
    return Fused(conv, bn, act, src, end, other), members


def _fold_factors(f: Fused) -> Tuple[np.ndarray, np.ndarray]:
    """The normalization's per-channel factor for the chain's kernel and the chain's bias, each
    computed in float64 and rounded once to float32."""
    conv, bn = f.conv, f.bn
    gamma, beta = bn._gamma_beta()
    scale = (gamma.astype(np.float64) /
             np.sqrt(bn.moving_variance.value.astype(np.float64) + bn.epsilon))
    bias = conv.bias.value.astype(np.float64) if conv.use_bias else 0.0
    shift = ((bias - bn.moving_mean.value) * scale + beta).astype(np.float32)
    return scale.astype(np.float32), shift


def _folded(f: Fused) -> Tuple[np.ndarray, np.ndarray]:
    """The chain's kernel with the normalization's scale folded in, and its bias (float32)."""
    scale, shift = _fold_factors(f)
    kernel = f.conv.kernel.value
    # the kernel scaled in float32 (one pass over it; in float64 the fold cost a third of a
    # 7 x 7 x 1280 layer's time), the per-channel factors rounded once
    if isinstance(f.conv, DepthwiseConv2D):
        return kernel * scale.reshape(kernel.shape[2], kernel.shape[3]), shift
    return kernel * scale, shift


def run(f: Fused, x: np.ndarray, residual: Optional[np.ndarray] = None) -> np.ndarray:
    """The fused chain on ``x``: the convolution with the folded kernel and bias, the
    ``residual`` tensor (``f.residual``'s) added and the activation applied in its epilogue."""
    if residual is not None and residual.shape != f.conv.compute_output_shape(x.shape):
        # an Add that broadcasts: the sum as Add makes it, then the activation
        y = run(f._replace(activation=None, residual=None), x)
        y = y + residual
        return y if f.activation is None else F.activation(y, f.activation)
    conv = f.conv
    folded, shift = _folded(f)
    if isinstance(conv, DepthwiseConv2D):
        return F.depthwise_conv2d(conv._compute_operand(x), conv._compute_operand(folded), shift,
                                  conv.strides, conv.padding, conv.dilation_rate,
                                  f.activation)
    return F.conv2d(conv._compute_operand(x), conv._compute_operand(folded), shift, conv.strides,
                    conv.padding, conv.dilation_rate, conv.groups,
                    f.activation, residual=residual)


def _pointwise(f: Fused) -> bool:
    """A chain whose convolution is a plain 1x1 Conv2D (stride 1, one group, no padding) in
    float32."""
    c = f.conv
    return (type(c) is Conv2D and tuple(c.kernel_size) == (1, 1) and tuple(c.strides) == (1, 1)
            and c.groups == 1 and c._dtype_policy.compute_dtype == "float32"
            and _padding(c.padding, (1, 1), (1, 1), (1, 1)) == ((0, 0), (0, 0)))


def inverted_residuals(steps: Sequence[Any], output_id: int) -> List[Any]:
    """``steps`` (a :func:`plan`) with each [1x1 expansion ->] depthwise -> linear 1x1
    projection run of fused chains, each inner tensor read by the next chain alone, replaced by
    one :class:`InvertedResidual` at the projection's place."""
    uses = collections.Counter(i for step in steps for i in reads(step))
    uses[output_id] += 1
    producer = {step.out: k for k, step in enumerate(steps) if isinstance(step, Fused)}

    def chain_into(slot: int) -> Optional[int]:
        k = producer.get(slot)
        return k if k is not None and uses[slot] == 1 and steps[k].residual is None else None

    replace: Dict[int, InvertedResidual] = {}
    drop: Set[int] = set()
    for k, step in enumerate(steps):
        if not (isinstance(step, Fused) and _pointwise(step) and step.activation is None):
            continue
        d = chain_into(step.src)
        if d is None:
            continue
        dw = steps[d].conv
        if (type(dw) is not DepthwiseConv2D or dw.kernel.value.shape[3] != 1
                or tuple(dw.dilation_rate) != (1, 1) or dw._dtype_policy.compute_dtype != "float32"):
            continue
        e = chain_into(steps[d].src)
        expand = steps[e] if e is not None and _pointwise(steps[e]) else None
        replace[k] = InvertedResidual(expand, steps[d], step)
        drop.update({d} if expand is None else {d, e})
    return [replace.get(k, step) for k, step in enumerate(steps) if k not in drop]


def run_inverted_residual(b: InvertedResidual, x: np.ndarray,
                          residual: Optional[np.ndarray] = None) -> np.ndarray:
    """The block on ``x`` (its input slot's tensor) in one native pass; on the GPU, or where the
    residual broadcasts, as its three chains."""
    out_shape = b.project.conv.compute_output_shape(b.dw.conv.compute_output_shape(x.shape))
    if (_device_state["device"] != "cpu" or x.dtype != np.float32
            or (residual is not None and residual.shape != tuple(out_shape))):
        h = x if b.expand is None else run(b.expand, x)
        return run(b.project, run(b.dw, h), residual)
    # the kernels as they are, each with its normalization's factors: the block multiplies them
    # in while it packs the kernels (the products kernel * scale, with no pass of their own)
    es, eb = _fold_factors(b.expand) if b.expand is not None else (None, None)
    ds, db = _fold_factors(b.dw)
    ps, pb = _fold_factors(b.project)
    dw = b.dw.conv
    dk = dw.kernel.value
    pads = _padding(dw.padding, x.shape[1:3], _effective(dk.shape[:2], (1, 1)), tuple(dw.strides))
    act = (lambda f: "linear" if f.activation is None else f.activation)
    return _core.inverted_residual(x, None if b.expand is None else b.expand.conv.kernel.value, eb,
                                   dk, db, b.project.conv.kernel.value, pb, tuple(dw.strides),
                                   pads, "linear" if b.expand is None else act(b.expand),
                                   act(b.dw), residual, expand_scale=es, dw_scale=ds,
                                   project_scale=ps)


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
             if not isinstance(step, (Fused, InvertedResidual)) and step[2] in act_slots}
    out: List[Any] = []
    for step in steps:
        if isinstance(step, (Fused, InvertedResidual)):
            out.append(step)
        elif step[2] not in act_slots:
            act = after.get(step[2])
            out.append(step if act is None else
                       BnAct(step[0], _activation_name(act[0]), step[1][0], act[2]))
    return out


def run_bn_act(f: BnAct, x: np.ndarray) -> np.ndarray:
    """The normalization with its activation (training mode)."""
    return f.bn.call_activated(x, True, f.activation)


def _moments_conv(layer: Any) -> bool:
    """A convolution that can hand its output's moments to a batch normalization."""
    return (type(layer) in (Conv2D, DepthwiseConv2D) and layer.activation == "linear"
            and layer._dtype_policy.compute_dtype == "float32")


def with_conv_moments(steps: Sequence[Any], output_id: int) -> List[Any]:
    """``steps`` (a training step's, after :func:`with_bn_activations`) with each convolution
    whose output only a learning BatchNormalization (or its :class:`BnAct`) reads replaced,
    together with it, by one :class:`ConvMoments` at the normalization's place."""
    uses = collections.Counter(i for step in steps for i in reads(step))
    uses[output_id] += 1
    producer = {step[2]: k for k, step in enumerate(steps)
                if type(step) is tuple and not step[3] and _moments_conv(step[0])}
    replace: Dict[int, ConvMoments] = {}
    drop: Set[int] = set()
    for k, step in enumerate(steps):
        if isinstance(step, BnAct):
            bn, act, src, out = step.bn, step.activation, step.src, step.out
        elif type(step) is tuple and type(step[0]) is BatchNormalization and not step[3]:
            bn, act, src, out = step[0], None, step[1][0], step[2]
        else:
            continue
        j = producer.get(src)
        if j is None or uses[src] != 1 or not bn._trainable or src == output_id:
            continue
        conv = steps[j]
        replace[k] = ConvMoments(conv[0], bn, act, conv[1][0], src, out)
        drop.add(j)
    return [replace.get(k, step) for k, step in enumerate(steps) if k not in drop]


def run_conv_moments(f: ConvMoments, x: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """The convolution's and the normalization's outputs (training mode); on the GPU, the two
    layers one after the other."""
    if _device_state["device"] != "cpu":
        y = f.conv.call(x, True)
        return y, f.bn.call_activated(y, True, f.activation)
    y, mean, m2 = f.conv.call_moments(x)
    return y, f.bn.call_activated(y, True, f.activation, moments=(mean, m2))


def with_add_activations(steps: Sequence[Any], output_id: int) -> List[Any]:
    """``steps`` (a training step's) with each two-input Add whose output only a ReLU/ReLU6
    reads (not the model's output) replaced, together with it, by one :class:`AddAct` at the
    Add's place."""
    uses = collections.Counter(i for step in steps for i in reads(step))
    uses[output_id] += 1
    adds = {step[2] for step in steps
            if type(step) is tuple and type(step[0]) is Add and step[3] and len(step[1]) == 2}
    act_of: Dict[int, Any] = {}   # an Add's output slot -> the activation step reading it
    for step in steps:
        if (type(step) is tuple and not step[3] and step[1][0] in adds and uses[step[1][0]] == 1
                and step[1][0] != output_id and _activation_name(step[0]) in ("relu", "relu6")):
            act_of[step[1][0]] = step
    taken = {id(step) for step in act_of.values()}
    out: List[Any] = []
    for step in steps:
        if id(step) in taken:
            continue
        act = act_of.get(step[2]) if type(step) is tuple else None
        out.append(step if act is None else
                   AddAct(step[0], act[0], _activation_name(act[0]), tuple(step[1]), act[2]))
    return out


def run_add_act(f: AddAct, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The activation's output (training mode); on the GPU, the two layers one after the other."""
    if _device_state["device"] != "cpu":
        return f.act.call(f.add.call([a, b], True), True)
    y = f.add.call_activated([a, b], f.activation)
    f.act.adopt_output(y)
    return y


def _poolable(layer: Any) -> bool:
    """A pooling layer the convolution's pass can take: windows that do not overlap or skip
    (strides = pool_size) and no padding."""
    return (type(layer) in (MaxPooling2D, AveragePooling2D) and layer.padding == "valid"
            and tuple(layer.strides) == tuple(layer.pool_size))


def with_conv_pools(steps: Sequence[Any], output_id: int, training: bool = False) -> List[Any]:
    """``steps`` with each float32 Conv2D whose output only a poolable MaxPooling2D/
    AveragePooling2D reads (not the model's output) replaced, together with it, by one
    :class:`ConvPool` at the convolution's place: ``F.conv2d_pool``, the convolution's output
    pooled band by band while in cache (Conv2D -> MaxPooling2D, a classic CNN's block). In a
    training step (``training``) the convolution's output is still written (its backward and the
    pooling's read it) but not read back by a pass of its own; an activation whose gradient
    needs its input does not fuse there."""
    uses = collections.Counter(i for step in steps for i in reads(step))
    uses[output_id] += 1
    pool_of: Dict[int, Any] = {}   # a convolution's output slot -> the pooling step reading it
    for step in steps:
        if (type(step) is tuple and _poolable(step[0]) and uses[step[1][0]] == 1
                and step[1][0] != output_id):
            pool_of[step[1][0]] = step
    out: List[Any] = []
    taken: Set[int] = set()
    for step in steps:
        if id(step) in taken:
            continue
        pool = pool_of.get(step[2]) if type(step) is tuple else None
        conv = step[0] if pool is not None else None
        if (type(conv) is Conv2D and conv.activation != "softmax"
                and not (training and conv.activation in F.GRAD_FROM_INPUT)
                and conv._dtype_policy.compute_dtype == "float32"):
            taken.add(id(pool))
            out.append(ConvPool(conv, pool[0], step[1][0], pool[2]))
        else:
            out.append(step)
    return out


def run_conv_pool(f: ConvPool, x: np.ndarray, training: bool = False) -> np.ndarray:
    """The pooled output; in training both layers keep what their backward needs (the
    convolution's output). On the GPU, the two layers one after the other."""
    if _device_state["device"] != "cpu":
        return f.pool.call(f.conv.call(x, training), training)
    y, pooled = f.conv.call_pooled(x, f.pool.pool_size,
                                   "max" if type(f.pool) is MaxPooling2D else "average", training)
    if training:
        f.pool.adopt_input(y)
    return pooled
