"""GPU-resident training and inference (``foveal.nn._device_train``): on ``"cuda"``, the weights,
the optimizer's slots, the activations and the gradients of a model stay on the GPU.

A model's :class:`Session` holds a device copy of every weight (BatchNormalization's moving
statistics included) and of the optimizer's slot arrays, made once and kept across steps and
epochs. Each training step copies the batch in (``x``, and the targets where the loss runs on
the GPU), runs the forward pass, the loss, the backward sweep of the model's
``TrainPlan`` and the optimizer's update with ``foveal._cuda_ops`` on device arrays (the
layers' passes in :mod:`foveal.nn._device_layers`), and copies one block back: the per-sample
losses (and the predictions when metrics are compiled). ``predict``/``evaluate`` copy each batch
in and its outputs back.

Who holds the current weights: after ``fit``/``evaluate``/``predict`` return, the layers' NumPy
arrays (the device copies are brought back at the end of ``fit``, and uploaded again at the
next call, so edits in between are seen). ``train_on_batch`` leaves them on the GPU (no copy per
step): :meth:`Model.get_weights`, ``weights``, ``save``, ``save_weights``, ``export_onnx``,
``test_on_batch``, ``predict_on_batch``, calling the model, ``compile`` and the next
``fit``/``evaluate``/``predict`` bring them back first; a layer's own arrays
(``layer.kernel.value``, ``layer.set_weights``) are not synchronized in between.

The losses with a CUDA kernel (categorical and sparse categorical cross-entropy, from logits or
from a softmax output) run on the GPU; the others run on the host on the downloaded outputs,
whose gradient is uploaded (two output-sized copies a step). Layers that no runner covers at
the model's input (``Rescaling``, ``Normalization``, the random preprocessing layers: nothing
there trains or needs a gradient) run on the host before the batch is uploaded. Any other layer
the GPU path cannot run, an optimizer other than SGD, Adam and RMSprop, or a softmax whose gradient the loss
does not fuse, makes the model run op by op on the routed ``foveal.nn.functional`` ops instead
(weights copied per op), with a ``RuntimeWarning`` naming the layer, once per model.
"""

from __future__ import annotations

import collections
import warnings
from typing import Any, Dict, List, NamedTuple, Optional, Tuple, Union

import numpy as np

from .._device_state import state as _device_state
from . import _fusion
from . import losses as _losses
from . import optimizers as _optimizers
from .layers._augment_chain import fuse_steps as fuse_augmentation

__all__ = ["Session", "train_step", "predict_batch", "end_call", "sync", "invalidate", "release"]

_KERNEL_LOSSES = (_losses.CategoricalCrossentropy, _losses.SparseCategoricalCrossentropy)
_OPTIMIZERS = (_optimizers.SGD, _optimizers.Adam, _optimizers.RMSprop)


def _ops() -> Any:
    from .. import _cuda_ops   # needs the CUDA build: imported only on "cuda"
    return _cuda_ops


def _dl() -> Any:
    from . import _device_layers
    return _device_layers


class Program(NamedTuple):
    """How a session runs a model: ``prefix`` steps on the host (training: random layers'
    chains fused, as the CPU runs them), the upload of slot ``upload_slot``, the device forward
    ``steps`` (layer steps and ``_fusion.BnAct``), ``last_use`` (slot -> index of its last
    reader), and in training the backward ``back``: ``(layer, ins, out, multi, need_dx, mode)``
    with mode ``"normal"``, ``"preact"``, ``"through_relu"`` or ``"pass"``."""

    prefix: List[Any]
    upload_slot: int
    steps: List[Any]
    last_use: Dict[int, int]
    back: List[Tuple[Any, ...]]
    trained: frozenset


def _build(graph: Any, training: bool, plan: Any = None, loss: Any = None,
           optimizer: Any = None) -> Union[Program, str]:
    """The :class:`Program` for ``graph`` (training: with ``plan``, a ``TrainPlan``), or why the
    GPU path cannot run it."""
    dl = _dl()
    if training and type(optimizer) not in _OPTIMIZERS:
        return f"the optimizer {type(optimizer).__name__} has no GPU update (SGD, Adam and RMSprop have)"
    steps = list(graph.steps)
    readers: Dict[int, List[Any]] = collections.defaultdict(list)
    for step in steps:
        for i in step[1]:
            readers[i].append(step)
    uses = collections.Counter(i for s in steps for i in s[1])
    uses[graph.output_id] += 1
    prefix_slots, cur = set(), 0
    while len(readers.get(cur, ())) == 1 and uses[cur] == 1:   # host layers at the input
        layer, ins, out, multi = readers[cur][0]
        if (multi or out == graph.output_id or layer.trainable_weights or dl.reason(layer, training) is None
                or (plan is not None and plan.requires[out])):
            break
        prefix_slots.add(out)
        cur = out
    prefix = [s for s in steps if s[2] in prefix_slots]
    if training:
        prefix = fuse_augmentation(prefix, cur)
    dev_steps = [s for s in steps if s[2] not in prefix_slots]
    for layer, _, _, _ in dev_steps:
        why = dl.reason(layer, training)
        if why is not None:
            return f"layer {layer.name!r} ({type(layer).__name__}): {why}"
    back: List[Tuple[Any, ...]] = []
    trained: frozenset = frozenset()
    if training:
        dev_steps = _fusion.with_bn_activations(dev_steps, plan.bn_activation)
        act = plan.output_activation
        fuses_softmax = type(loss) in _KERNEL_LOSSES and not loss.from_logits and act == "softmax"
        for layer, ins, out, multi, need_dx in plan.steps:
            if out in plan.bn_activation:
                mode = "pass"
            elif out in plan.preactivated:
                mode = "preact"
            elif out in plan.through_relu and need_dx:
                mode = "through_relu"
            else:
                mode = "normal"
            if (mode == "normal" and dl.softmax_backward_needed(layer)
                    and not (out == graph.output_id and fuses_softmax)):
                return (f"layer {layer.name!r} ({type(layer).__name__}): the gradient of its softmax has "
                        "no CUDA kernel (a softmax output trains resident with a cross-entropy loss "
                        "from_logits=False, which fuses it)")
            back.append((layer, ins, out, multi, need_dx, mode))
        trained = frozenset(id(w) for w in plan.trainable)
        for w in plan.trainable:
            w.grad = None   # the device path keeps gradients on the GPU
    last_use = {}
    for k, step in enumerate(dev_steps):
        for i in _fusion.reads(step):
            last_use[i] = k
    return Program(prefix, cur, dev_steps, last_use, back, trained)


class Session:
    """A model's device state: the device copy of each weight and optimizer slot, whether they
    are current (``valid``, ``slots_valid``: else the host's are, uploaded before use) and
    whether they are newer than the host's (``ahead``)."""

    def __init__(self, model: Any) -> None:
        self.name, self.graph, self.optimizer = model.name, model._graph, model.optimizer
        self.dev: Dict[int, Any] = {}
        self.weights: Dict[int, Any] = {}
        self.slots: Dict[int, Dict[str, Any]] = {}
        self.ctx = _dl().Ctx(self.dev)
        self.valid = self.slots_valid = self.ahead = False
        self.programs: Dict[str, Tuple[Any, Union[Program, str]]] = {}
        self.warned: set = set()

    def program(self, training: bool, plan: Any = None, loss: Any = None) -> Union[Program, str]:
        mode = "train" if training else "infer"
        key = (plan, loss, self.optimizer) if training else ()
        cached = self.programs.get(mode)
        if cached is None or len(cached[0]) != len(key) or any(a is not b for a, b in zip(cached[0], key)):
            cached = (key, _build(self.graph, training, plan, loss, self.optimizer))
            self.programs[mode] = cached
        return cached[1]

    def fallback(self, why: str) -> None:
        """The model runs op by op on the host's weights: warn (once), hand the weights back."""
        if why not in self.warned:
            self.warned.add(why)
            warnings.warn(f"model {self.name!r}: {why}; on 'cuda' it runs op by op (its operands "
                          "copied to the GPU and back per op), not GPU-resident", RuntimeWarning, stacklevel=5)
        self.download_if_ahead()
        self.valid = self.slots_valid = False

    def ensure(self, trainable: Optional[List[Any]] = None) -> None:
        """The device copies current: uploaded (once) where the host's are; optimizer slots for
        ``trainable`` made as ``Optimizer._apply`` makes them."""
        ops = _ops()
        if not self.valid:
            for layer in self.graph.layers:
                for w in layer.weights:
                    d = self.dev.get(id(w))
                    if d is None:
                        self.dev[id(w)], self.weights[id(w)] = ops.to_device(w.value), w
                    else:
                        ops.upload_into(d, w.value)
            self.valid = True
        if trainable is None:   # inference: no optimizer state needed
            return
        if not self.slots_valid:
            for wid, slots in self.slots.items():
                host = self.optimizer.slots_for(self.weights[wid])
                for name, d in slots.items():
                    ops.upload_into(d, host[name])
            self.slots_valid = True
        if trainable:
            opt = self.optimizer
            if len(opt._index) < len(trainable) or any(id(w) not in opt._index for w in trainable):
                opt.build(trainable)
            for w in trainable:
                if id(w) not in self.slots:
                    self.slots[id(w)] = {n: ops.to_device(a) for n, a in opt.slots_for(w).items()}

    def download_if_ahead(self) -> None:
        """Copy the weights and slots back into the layers' and the optimizer's arrays."""
        if not self.ahead:
            return
        ops = _ops()
        for wid, d in self.dev.items():
            ops.download_into(self.weights[wid].value, d)
        for wid, slots in self.slots.items():
            host = self.optimizer.slots_for(self.weights[wid])
            for name, d in slots.items():
                ops.download_into(host[name], d)
        self.ahead = False


# ------------------------------------------------------------------------ model-facing hooks

def _session(model: Any) -> Session:
    s = getattr(model, "_device_session", None)
    if s is not None and (s.graph is not model._graph or s.optimizer is not model.optimizer):
        release(model)
        s = None
    if s is None:
        s = model._device_session = Session(model)
    return s


def release(model: Any) -> None:
    """Bring the weights back (if newer on the GPU) and drop the model's device state."""
    s = getattr(model, "_device_session", None)
    if s is not None:
        s.download_if_ahead()
        model._device_session = None


def sync(model: Any) -> None:
    """Bring the weights back if newer on the GPU (the host's are then current)."""
    s = getattr(model, "_device_session", None)
    if s is not None:
        s.download_if_ahead()
        s.valid = s.slots_valid = False


def end_call(model: Any) -> None:
    """At the end of ``fit``/``evaluate``/``predict``: the layers' arrays current again (and
    the ones the next call uploads, so that edits in between are seen)."""
    sync(model)


def invalidate(model: Any) -> None:
    """The host's weights were changed (``set_weights``, ``load_weights``): upload before use."""
    s = getattr(model, "_device_session", None)
    if s is not None:
        s.valid = s.slots_valid = False


def _host_prefix(prog: Program, x: np.ndarray, training: bool) -> np.ndarray:
    """The input layers that run before the upload, on the host: their routed ops (the
    Random* layers' warp) take their CPU forms here, not a round trip to the GPU each."""
    vals = {0: x}
    device = _device_state["device"]
    _device_state["device"] = "cpu"
    try:
        for layer, ins, out, _ in prog.prefix:
            vals[out] = layer.call(vals[ins[0]], training)
    finally:
        _device_state["device"] = device
    return np.ascontiguousarray(vals[prog.upload_slot], dtype=np.float32)


def _forward(s: Session, prog: Program, x: Any, training: bool) -> Tuple[Any, Dict[int, Any]]:
    dl, out_id = _dl(), s.graph.output_id
    vals: List[Any] = [None] * s.graph.n_slots
    vals[prog.upload_slot] = x
    caches: Dict[int, Any] = {}
    for k, step in enumerate(prog.steps):
        if isinstance(step, _fusion.BnAct):
            vals[step.out], caches[id(step.bn)] = dl.forward(step.bn, vals[step.src], True, s.ctx, step.activation)
        else:
            layer, ins, out, multi = step
            vals[out], cache = dl.forward(layer, [vals[i] for i in ins] if multi else vals[ins[0]],
                                          training, s.ctx)
            if training:
                caches[id(layer)] = cache
        for i in _fusion.reads(step):
            if prog.last_use.get(i) == k and i != out_id:
                vals[i] = None
    return vals[out_id], caches


def _backward(s: Session, prog: Program, plan: Any, caches: Dict[int, Any], grad: Any, fused: bool) -> None:
    """``Graph.backward`` on device arrays: the weight gradients land in ``s.ctx.grads``."""
    dl, ops, out_id = _dl(), _ops(), s.graph.output_id
    requires = plan.requires
    grads: List[Any] = [None] * s.graph.n_slots
    grads[out_id] = grad
    for layer, ins, out, multi, need_dx, mode in prog.back:
        g = grads[out]
        grads[out] = None
        if g is None:
            continue
        if mode == "pass":   # a ReLU run inside the BatchNormalization before it
            grads[ins[0]] = g
            continue
        if fused and out == out_id:
            mode = "preact"
        dx = dl.backward(layer, caches.pop(id(layer)), g, need_dx, mode, s.ctx)
        if not need_dx:
            continue
        for i, d in (zip(ins, dx) if multi else ((ins[0], dx),)):
            if d is not None and requires[i]:
                grads[i] = d if grads[i] is None else ops.add(grads[i], d)


def _optimize(s: Session, trainable: List[Any]) -> None:
    """``Optimizer._apply`` on the device copies (the same kernels' update rules)."""
    ops, opt, grads = _ops(), s.optimizer, s.ctx.grads
    kind = type(opt)
    if kind is _optimizers.Adam:
        opt._alpha = opt._step_size()
    for w in trainable:
        g = grads.get(id(w))
        if g is None:
            continue
        wd, sl = s.dev[id(w)], s.slots[id(w)]
        if kind is _optimizers.SGD:
            ops.sgd_step(wd, g, sl.get("momentum"), opt._learning_rate, opt.momentum, opt.nesterov)
        elif kind is _optimizers.Adam:
            ops.adam_step(wd, g, sl["momentum"], sl["velocity"], float(opt._alpha), opt.beta_1, opt.beta_2,
                          opt.epsilon)
        else:
            ops.rmsprop_step(wd, g, sl["velocity"], sl.get("momentum"), sl.get("average_gradient"),
                             opt._learning_rate, opt.rho, opt.momentum, opt.epsilon)
    grads.clear()
    opt.iterations += 1


def _sparse_labels(y: Any, p_shape: Tuple[int, ...]) -> np.ndarray:
    """``SparseCategoricalCrossentropy._targets``' checks, giving the class indices (int64)
    instead of one-hot rows."""
    labels = np.asarray(y)
    if labels.dtype.kind not in "biuf":
        raise TypeError(f"sparse_categorical_crossentropy: y must hold class indices, got dtype {labels.dtype}")
    if labels.ndim == len(p_shape) and labels.shape[-1] == 1:
        labels = labels.reshape(labels.shape[:-1])
    if labels.shape != p_shape[:-1]:
        raise ValueError(f"sparse_categorical_crossentropy: y (class indices) has shape {labels.shape} but the "
                         f"model output has shape {p_shape}; y must have shape {p_shape[:-1]}")
    idx = labels.astype(np.int64)
    if labels.dtype.kind == "f" and not np.array_equal(idx, labels):
        raise ValueError("sparse_categorical_crossentropy: y must hold integer class indices")
    c = p_shape[-1]
    if idx.size and (idx.min() < 0 or idx.max() >= c):
        raise ValueError(f"sparse_categorical_crossentropy: class indices in y must be in [0, {c}), got values "
                         f"from {idx.min()} to {idx.max()}")
    return np.ascontiguousarray(idx.reshape(-1))


def _targets(loss: Any, y: Any, p_shape: Tuple[int, ...]) -> np.ndarray:
    """The kernel's targets: one-hot (or soft) rows, or class indices, checked as the CPU's."""
    if type(loss) is _losses.SparseCategoricalCrossentropy:
        return _sparse_labels(y, p_shape)
    t = loss._targets(y, np.broadcast_to(np.float32(0), p_shape))
    return np.ascontiguousarray(t, dtype=np.float32).reshape(-1, p_shape[-1])


def _fix_clipped(grad: Any, p: np.ndarray, t: np.ndarray, clipped: np.ndarray, sparse: bool) -> Any:
    """The rows where a probability was clipped (the fused gradient is void there), fixed on the
    host as ``losses._crossentropy`` fixes them: the gradient comes down and goes back up."""
    n, c = grad.shape
    rows = np.nonzero(clipped)[0]
    pr = p.reshape(n, c)[rows]
    if sparse:
        yr = np.zeros((len(rows), c), np.float32)
        yr[np.arange(len(rows)), t[rows]] = np.float32(1)
    else:
        yr = t[rows]
    total = pr.sum(axis=-1, keepdims=True)
    q = pr / total
    inside = (q >= _losses.EPSILON) & (q <= _losses._ONE_MINUS_EPS)
    g = _losses._probability_grad(yr, q, inside, total)
    host = grad.get()
    host[rows] = pr * (g - (pr * g).sum(axis=-1, keepdims=True)) * np.float32(1.0 / n)
    return _ops().to_device(host)


def train_step(model: Any, x: np.ndarray, y: Any) -> Optional[Tuple[np.ndarray, np.ndarray]]:
    """``Model._train_step`` GPU-resident: ``(predictions, per-sample losses)`` as NumPy (the
    predictions an ``N x 0`` stand-in when no metric needs them), or None where the model runs
    on the host's weights (the device is "cpu", or the GPU path cannot run it)."""
    if _device_state["device"] == "cpu":
        release(model)
        return None
    plan = model._train_plan()
    loss = model._loss_obj
    s = _session(model)
    prog = s.program(True, plan, loss)
    if isinstance(prog, str):
        s.fallback(prog)
        return None
    ops = _ops()
    s.ensure(list(plan.trainable))
    s.ctx.trained = prog.trained
    act = plan.output_activation
    on_device = type(loss) in _KERNEL_LOSSES and (loss.from_logits or act == "softmax")
    x_dev = ops.to_device(_host_prefix(prog, x, True))
    s.ahead = True
    p, caches = _forward(s, prog, x_dev, True)
    need_p = bool(model._metric_ids)
    if on_device:
        shape = tuple(p.shape)
        sparse = type(loss) is _losses.SparseCategoricalCrossentropy
        t = _targets(loss, y, shape)
        kernel = ops.sparse_softmax_cross_entropy if sparse else ops.softmax_cross_entropy
        p2 = p.reshape(-1, shape[-1])
        values, grad, clipped = kernel(p2, ops.to_device(t), loss.from_logits, float(_losses.EPSILON))
        down = [values] + ([] if loss.from_logits else [clipped]) + ([p] if need_p else [])
        host = ops.download_many(down)
        values_h = host[0].reshape(shape[:-1])
        p_h = host[-1] if need_p else None
        if not loss.from_logits and host[1].any():
            if p_h is None:
                p_h = p.get()
            grad = _fix_clipped(grad, p_h, t, host[1], sparse)
        fused = not loss.from_logits
        grad = grad.reshape(shape)
    else:   # no CUDA kernel for this loss: on the host, as the CPU computes it
        p_h = p.get()
        values_h, grad_h, fused = loss._value_and_grad(y, p_h, act)
        grad = ops.to_device(grad_h)
    _backward(s, prog, plan, caches, grad, fused)
    _optimize(s, plan.trainable)
    if p_h is None:
        p_h = np.empty((shape[0], 0), np.float32)
    return p_h, values_h


def predict_batch(model: Any, x: np.ndarray) -> Optional[np.ndarray]:
    """The model's output for the batch ``x`` in inference mode, GPU-resident (NumPy), or None
    where it runs on the host's weights."""
    if _device_state["device"] == "cpu":
        release(model)
        return None
    s = _session(model)
    prog = s.program(False)
    if isinstance(prog, str):
        s.fallback(prog)
        return None
    ops = _ops()
    s.ensure()
    p, _ = _forward(s, prog, ops.to_device(_host_prefix(prog, x, False)), False)
    return p.get()
