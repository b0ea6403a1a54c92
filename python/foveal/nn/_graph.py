"""The layer graph of a model (``foveal.nn._graph``): the layers in topological order over
numbered tensor slots, the forward pass, and the backward plan and sweep that training runs.

Forward runs each step on the slots it reads. Backward walks the steps in reverse, skipping
those whose output leads back to no trainable weight, summing gradients where a tensor feeds
several layers, and asking a layer for its input gradient only where something upstream learns.
"""

from __future__ import annotations

import collections
from typing import Any, Dict, List, NamedTuple, Optional, Set, Tuple

import numpy as np

from .. import _core
from . import _fusion
from .layers import InputLayer, Layer, MaxPooling2D, SymbolicTensor, Weight
from .layers._augment_chain import fuse_steps as fuse_augmentation

Step = Tuple[Layer, Tuple[int, ...], int, bool]
BackwardStep = Tuple[Layer, Tuple[int, ...], int, bool, bool]


def tensor_list(value: Any, what: str) -> List[SymbolicTensor]:
    """``value`` (a symbolic tensor or a list of them) as a list; TypeError naming ``what``."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for t in items:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"{what} must be symbolic tensors (from foveal.nn.Input and layer calls), "
                            f"got {type(t).__name__}")
    return items


class TrainPlan(NamedTuple):
    """What a training step needs, worked out once per compile and build.

    ``steps``: :meth:`Graph.backward_plan`'s steps; ``requires``: per slot, whether its gradient
    is needed; ``trainable``: the weights the optimizer updates; ``output_activation``: the last
    layer's activation (a loss may fuse its gradient); ``through_relu``: output slots of
    MaxPooling2D steps that also run the backward of the ReLU feeding them; ``preactivated``:
    slots whose gradient arrives before their layer's activation; ``bn_activation``: output
    slots of ReLU/ReLU6 steps that run inside the BatchNormalization before them
    (``_fusion.BnAct``), whose backward is then the normalization's.
    """

    steps: List[BackwardStep]
    requires: List[bool]
    trainable: List[Weight]
    output_activation: Optional[str]
    through_relu: Set[int]
    preactivated: Set[int]
    bn_activation: Set[int] = set()


_reads = _fusion.reads


def _sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a + b`` as a new array: two gradients reaching one tensor (a residual connection's
    input), summed on foveal's threads where both are float32 of one shape."""
    if a.shape == b.shape and a.dtype == b.dtype == np.float32 and a.size > 0:
        return _core.add(a, b)
    return a + b


class Graph:
    """Layers in topological order, as steps ``(layer, input_ids, output_id, multi_input)`` over
    a list of tensor slots; slot 0 holds the model input."""

    def __init__(self, inputs: Any, outputs: Any) -> None:
        inputs = tensor_list(inputs, "inputs")
        outputs = tensor_list(outputs, "outputs")
        if len(inputs) != 1 or len(outputs) != 1:
            raise NotImplementedError("models with several inputs or outputs are not supported yet "
                                      f"(got {len(inputs)} inputs, {len(outputs)} outputs)")
        for t in inputs:
            if not isinstance(t.layer, InputLayer):
                raise ValueError(f"inputs must come from foveal.nn.Input, got the output of layer "
                                 f"{t.layer.name!r}")
        self.inputs, self.outputs = inputs, outputs
        slot: Dict[int, int] = {id(t): i for i, t in enumerate(inputs)}
        order: List[SymbolicTensor] = []
        done = set(slot)
        for out in outputs:
            stack: List[Tuple[SymbolicTensor, bool]] = [(out, False)]
            while stack:
                t, expanded = stack.pop()
                if id(t) in done:
                    continue
                if expanded:
                    done.add(id(t))
                    order.append(t)
                    continue
                if isinstance(t.layer, InputLayer):
                    raise ValueError(f"the outputs depend on input {t.layer.name!r}, which is not in "
                                     "the model's inputs (graph disconnected)")
                stack.append((t, True))
                stack.extend((i, False) for i in reversed(t.inputs) if id(i) not in done)
        producers: Dict[int, Layer] = {}
        self.steps: List[Step] = []
        for t in order:
            if id(t.layer) in producers:
                raise NotImplementedError(f"layer {t.layer.name!r} is called more than once in this "
                                          "model; shared layers are not supported yet")
            producers[id(t.layer)] = t.layer
            slot[id(t)] = len(slot)
            self.steps.append((t.layer, tuple(slot[id(i)] for i in t.inputs), slot[id(t)],
                               t.layer.multi_input))
        self.n_slots = len(slot)
        self.output_id = slot[id(outputs[0])]
        self.input_layers = [t.layer for t in inputs]
        self.layers: List[Layer] = self.input_layers + [s[0] for s in self.steps]
        names = [layer.name for layer in self.layers]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"layer names must be unique within a model; repeated: {', '.join(dupes)}")
        self.input_shape = inputs[0].shape
        self.output_shape = outputs[0].shape
        self._inbound = {id(t.layer): [i.layer.name for i in t.inputs] for t in order}
        self._inference: Optional[List[Any]] = None   # the fused inference plan, made on first use
        self._train_fused: Optional[Tuple[Any, List[Any]]] = None   # (train plan, its fused steps)
        self._last_use: Dict[int, int] = {}

    def inbound_names(self, layer: Layer) -> List[str]:
        """The names of the layers whose outputs ``layer`` is called on."""
        return self._inbound.get(id(layer), [])

    def forward(self, x: np.ndarray, training: bool, plan: Optional[TrainPlan] = None) -> np.ndarray:
        """The output for the batch ``x`` (each layer keeps what its backward needs). In
        inference, Conv -> BatchNormalization [-> activation] chains run fused (``_fusion``) and
        each tensor is dropped after its last reader; in a training step (``plan`` given) the
        chains that no gradient passes through (a frozen backbone, its batch norms frozen) run
        fused too."""
        if training:
            steps: List[Any] = self.steps
            if plan is not None:
                if self._train_fused is None or self._train_fused[0] is not plan:
                    requires = plan[1]   # TrainPlan.requires (a plain tuple works too)
                    fused = _fusion.plan(self.steps, self.output_id,
                                         lambda f: not requires[f.out] and not f.bn.trainable)
                    # a frozen MobileNetV2 backbone's blocks: one pass each, as in predict
                    fused = _fusion.inverted_residuals(fused, self.output_id)
                    if len(plan) > 6 and plan[6]:   # TrainPlan.bn_activation
                        fused = _fusion.with_bn_activations(fused, plan[6])
                    fused = _fusion.with_conv_moments(fused, self.output_id)
                    fused = fuse_augmentation(fused, self.output_id)
                    # Conv2D -> MaxPooling2D: the pooling reads the convolution's rows in cache
                    fused = _fusion.with_conv_pools(fused, self.output_id, training=True)
                    # a residual Add and its ReLU: one pass
                    self._train_fused = (plan, _fusion.with_add_activations(fused, self.output_id))
                steps = self._train_fused[1]
            else:   # consecutive Random* preprocessing layers: one warp per image
                steps = fuse_augmentation(steps, self.output_id)
            return self._run(steps, x, True, None)
        if self._inference is None:
            self._inference = _fusion.with_conv_pools(_fusion.inverted_residuals(
                _fusion.plan(self.steps, self.output_id), self.output_id), self.output_id)
            last = {}
            for k, step in enumerate(self._inference):
                for i in _reads(step):
                    last[i] = k
            self._last_use = last
        return self._run(self._inference, x, False, self._last_use)

    def _run(self, steps: List[Any], x: np.ndarray, training: bool,
             last_use: Optional[Dict[int, int]]) -> np.ndarray:
        """Run ``steps`` (layer steps and fused chains) on ``x``; with ``last_use`` (slot -> the
        index of its last reader), each tensor but the output is freed after that reader."""
        vals: List[Any] = [None] * self.n_slots
        vals[0] = x
        for k, step in enumerate(steps):
            if isinstance(step, _fusion.InvertedResidual):
                res = step.project.residual
                vals[step.out] = _fusion.run_inverted_residual(
                    step, vals[step.src], None if res is None else vals[res])
            elif isinstance(step, _fusion.Fused):
                vals[step.out] = _fusion.run(step, vals[step.src],
                                             None if step.residual is None else vals[step.residual])
            elif isinstance(step, _fusion.BnAct):
                vals[step.out] = _fusion.run_bn_act(step, vals[step.src])
            elif isinstance(step, _fusion.AddAct):
                vals[step.out] = _fusion.run_add_act(step, vals[step.ins[0]], vals[step.ins[1]])
            elif isinstance(step, _fusion.ConvPool):
                vals[step.out] = _fusion.run_conv_pool(step, vals[step.src], training)
            elif isinstance(step, _fusion.ConvMoments):
                vals[step.mid], vals[step.out] = _fusion.run_conv_moments(step, vals[step.src])
            else:
                layer, ins, out, multi = step
                vals[out] = layer.call([vals[i] for i in ins] if multi else vals[ins[0]], training)
            if last_use is not None:
                for i in _reads(step):
                    if last_use.get(i) == k and i != self.output_id:
                        vals[i] = None
        return vals[self.output_id]

    def empty_output(self, x: np.ndarray) -> np.ndarray:
        """The outputs for a batch ``x`` of no samples: ``0 x ...`` float32. The layers need at
        least one sample, so the shape is the model's output shape, or (where it has unknown
        sizes) that of the output for one sample of zeros."""
        tail = tuple(self.output_shape[1:])
        if any(d is None for d in tail):
            tail = self.forward(np.zeros((1,) + tuple(x.shape[1:]), np.float32), False).shape[1:]
        return np.zeros((0,) + tuple(tail), np.float32)

    def backward_plan(self, trainable: Optional[List[Weight]] = None
                      ) -> Tuple[List[BackwardStep], List[bool]]:
        """Steps in reverse with ``need_dx`` (an input leads back to trainable weights); steps
        whose output leads back to none are dropped.  Also returns that flag per slot.
        ``trainable``: the weights that learn (default: the layers' ``trainable_weights``)."""
        ids = None if trainable is None else {id(w) for w in trainable}
        requires = [False] * self.n_slots
        plan = []
        for layer, ins, out, multi in self.steps:
            need_dx = any(requires[i] for i in ins)
            learns = (bool(layer.trainable_weights) if ids is None
                      else any(id(w) in ids for w in layer.weights))
            requires[out] = need_dx or learns
            if requires[out]:
                plan.append((layer, ins, out, multi, need_dx))
        plan.reverse()
        return plan, requires

    def train_plan(self, trainable: List[Weight]) -> TrainPlan:
        """The backward steps, plus the fusions of ReLU gradients into max pooling: a
        MaxPooling2D fed only by a layer ending in ReLU runs both backward passes in one
        (``through_relu``), and that layer then starts from its pre-activation gradient.
        ``trainable``: the weights the optimizer updates, kept with the plan; the others lose
        any gradient an earlier training left on them (none is stale)."""
        steps, requires = self.backward_plan(trainable)
        ids = {id(w) for w in trainable}
        for layer in self.layers:
            for w in layer.weights:
                if id(w) not in ids:
                    w.grad = None
        out_layer = self.steps[-1][0] if self.steps else None
        act = getattr(out_layer, "output_activation", None) if out_layer is not None else None
        uses = collections.Counter(i for _, ins, _, _ in self.steps for i in ins)
        uses[self.output_id] += 1
        producer = {out: layer for layer, _, out, _ in self.steps}
        through_relu: Set[int] = set()   # output slots of pooling steps that fuse a ReLU
        preactivated: Set[int] = set()   # slots whose gradient arrives before the activation
        # a learning BatchNormalization -> ReLU pair runs as one pass (BnAct), whose backward
        # masks the gradient: the pooling after it then needs no mask of its own
        bn_activation = _fusion.bn_activation_slots(self.steps, self.output_id, set())
        for layer, ins, out, multi in self.steps:
            src = ins[0]
            if (isinstance(layer, MaxPooling2D) and not multi and uses[src] == 1
                    and src in producer and producer[src].output_activation == "relu"
                    and src not in bn_activation):
                through_relu.add(out)
                preactivated.add(src)
        return TrainPlan(steps, requires, trainable, act, through_relu, preactivated, bn_activation)

    def backward(self, plan: TrainPlan, grad: np.ndarray, fused: bool) -> None:
        """Run the backward sweep of ``plan`` from ``grad``, the loss gradient at the output
        (before the last layer's activation when ``fused``): every layer on the plan stores the
        gradients of its weights the optimizer updates. While it runs, each layer's
        ``_trained_weights`` holds those weights' ids, so that a layer can skip the gradients of
        the others (a frozen layer between learning ones still passes its input gradient on)."""
        steps, requires, trainable, _, through_relu, preactivated = plan[:6]
        bn_activation = plan[6] if len(plan) > 6 else set()   # a plain 6-tuple works too
        trained = frozenset(id(w) for w in trainable)
        grads: List[Any] = [None] * self.n_slots
        grads[self.output_id] = grad
        out_id = self.output_id
        for layer, ins, out, multi, need_dx in steps:
            g = grads[out]
            grads[out] = None
            if g is None:
                continue
            if out in bn_activation:   # ran inside the normalization, whose backward masks g
                grads[ins[0]] = g
                continue
            layer._trained_weights = trained
            try:
                if (fused and out == out_id) or out in preactivated:
                    dx = layer.backward_from_preactivation(g, need_dx)
                elif out in through_relu and need_dx:
                    dx = layer.backward_through_relu(g)
                else:
                    dx = layer.backward(g, need_dx)
            finally:
                layer._trained_weights = None
            if not need_dx:
                continue
            for i, d in (zip(ins, dx) if multi else ((ins[0], dx),)):
                if d is not None and requires[i]:
                    grads[i] = d if grads[i] is None else _sum(grads[i], d)
