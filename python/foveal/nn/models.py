"""Keras-style models: :class:`Sequential` and the functional :class:`Model` (``foveal.nn.models``).

A model is a graph of layers in topological order.  Training runs each layer's forward, the
loss and its gradient, each layer's backward in reverse order (summing gradients where a tensor
feeds several layers, skipping work nothing upstream needs), then one optimizer step.  All
arrays are float32 NumPy arrays; the numeric work happens in the native kernels.
"""

from __future__ import annotations

import collections
import math
from typing import Any, Dict, Iterator, List, Optional, Sequence, Set, Tuple, Union

import numpy as np

from . import callbacks as _callbacks
from . import layers as _layers
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from . import _progress
from .. import _random
from .._checks import as_float32, as_int
from .layers import InputLayer, Layer, SymbolicTensor, Weight

__all__ = ["Model", "Sequential", "load_model"]


# --------------------------------------------------------------------------------------------
# The graph
# --------------------------------------------------------------------------------------------


def _tensor_list(value: Any, what: str) -> List[SymbolicTensor]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for t in items:
        if not isinstance(t, SymbolicTensor):
            raise TypeError(f"{what} must be symbolic tensors (from foveal.nn.Input and layer calls), "
                            f"got {type(t).__name__}")
    return items


class _Graph:
    """Layers in topological order, as steps ``(layer, input_ids, output_id, multi_input)`` over
    a list of tensor slots; slot 0 holds the model input."""

    def __init__(self, inputs: Any, outputs: Any) -> None:
        inputs = _tensor_list(inputs, "inputs")
        outputs = _tensor_list(outputs, "outputs")
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
        self.steps: List[Tuple[Layer, Tuple[int, ...], int, bool]] = []
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

    def inbound_names(self, layer: Layer) -> List[str]:
        return self._inbound.get(id(layer), [])

    def forward(self, x: np.ndarray, training: bool) -> np.ndarray:
        vals: List[Any] = [None] * self.n_slots
        vals[0] = x
        for layer, ins, out, multi in self.steps:
            vals[out] = layer.call([vals[i] for i in ins] if multi else vals[ins[0]], training)
        return vals[self.output_id]

    def backward_plan(self) -> Tuple[List[Tuple[Layer, Tuple[int, ...], int, bool, bool]], List[bool]]:
        """Steps in reverse with ``need_dx`` (an input leads back to trainable weights); steps
        whose output leads back to none are dropped.  Also returns that flag per slot."""
        requires = [False] * self.n_slots
        plan = []
        for layer, ins, out, multi in self.steps:
            need_dx = any(requires[i] for i in ins)
            requires[out] = need_dx or bool(layer.trainable_weights)
            if requires[out]:
                plan.append((layer, ins, out, multi, need_dx))
        plan.reverse()
        return plan, requires


# --------------------------------------------------------------------------------------------
# Data
# --------------------------------------------------------------------------------------------


def _is_batch_source(x: Any) -> bool:
    """An iterator/sequence of batches (``len`` and ``[i]`` → ``(x, y)``), e.g. foveal.data's."""
    return (not isinstance(x, (np.ndarray, list, tuple)) and hasattr(x, "__len__")
            and hasattr(x, "__getitem__") and not hasattr(x, "__array__")
            and not hasattr(x, "__array_interface__"))


def _split_batch(item: Any, where: str) -> Tuple[Any, Any]:
    if isinstance(item, np.ndarray):
        return item, None
    if isinstance(item, (tuple, list)):
        if len(item) == 1:
            return item[0], None
        if len(item) == 2:
            return item[0], item[1]
        if len(item) == 3:
            raise NotImplementedError(f"{where} gave (x, y, sample_weight) batches; sample weights "
                                      "are not supported yet")
    raise ValueError(f"{where} must give (x, y) tuples or x arrays, got {type(item).__name__}")


def _is_empty(x: np.ndarray) -> bool:
    """A batch of no samples (``foveal.data`` gives one when every file of a batch is
    unreadable): ``fit``/``evaluate``/``predict`` count its step but pass over it."""
    return x.ndim > 0 and x.shape[0] == 0


def _require_samples(running: "_Running", where: str) -> None:
    """ValueError when a whole pass over an iterator gave no sample (every batch empty, e.g. a
    folder none of whose images can be read): nothing to train on or to average."""
    if running.seen == 0:
        raise ValueError(f"{where}: every batch was empty, no sample to {where} on (a folder "
                         f"none of whose images can be read? see the iterator's skipped)")


def _empty_outputs(graph: "_Graph", x: np.ndarray) -> np.ndarray:
    """The outputs for a batch ``x`` of no samples: ``0 x ...`` float32. The layers need at
    least one sample, so the shape is the model's output shape, or (where it has unknown
    sizes) that of the output for one sample of zeros."""
    tail = tuple(graph.output_shape[1:])
    if any(d is None for d in tail):
        tail = graph.forward(np.zeros((1,) + tuple(x.shape[1:]), np.float32), False).shape[1:]
    return np.zeros((0,) + tuple(tail), np.float32)


def _as_array(a: Any, name: str) -> np.ndarray:
    if isinstance(a, np.ndarray):
        return a
    try:
        arr = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be an array: {e}") from None
    if arr.dtype == object:
        raise TypeError(f"{name} must be a numeric array, got ragged or non-numeric data")
    return arr


class _Batches:
    """Batches of one epoch from arrays or from a batch source."""

    def __init__(self, x: Any, y: Any, batch_size: Optional[int], shuffle: bool,
                 steps: Optional[int], where: str, need_y: bool) -> None:
        self.source = x if _is_batch_source(x) else None
        self.shuffle = bool(shuffle)
        self.where = where
        if self.source is not None:
            if y is not None:
                raise ValueError(f"{where}: y must be None when x is an iterator of (x, y) batches")
            n_batches = len(self.source)
            if n_batches == 0:
                raise ValueError(f"{where}: the iterator x is empty (len(x) == 0)")
            self.steps = n_batches if steps is None else steps
            self.n_batches = n_batches
            self.x = self.y = None
            return
        if x is None:
            raise ValueError(f"{where}: x (the inputs) is required")
        self.x = _as_array(x, "x")
        if self.x.ndim == 0 or len(self.x) == 0:
            raise ValueError(f"{where}: x is empty (shape {self.x.shape})")
        if y is None:
            if need_y:
                raise ValueError(f"{where}: y (the targets) is required with array inputs")
            self.y = None
        else:
            self.y = _as_array(y, "y")
            if self.y.ndim == 0 or len(self.y) != len(self.x):
                raise ValueError(f"{where}: x and y must have the same number of samples, got "
                                 f"x with {len(self.x)} and y with "
                                 f"{len(self.y) if self.y.ndim else 'no batch axis (a scalar)'}")
        self.batch_size = 32 if batch_size is None else as_int(batch_size, "batch_size", 1)
        self.n = len(self.x)
        self.n_batches = -(-self.n // self.batch_size)
        self.steps = self.n_batches if steps is None else steps

    def epoch(self) -> Iterator[Tuple[np.ndarray, Any]]:
        """``(x_batch, y_batch)`` for each step of one epoch (x as float32)."""
        if self.source is not None:
            # In order, as Keras does with a PyDataset (``shuffle`` is ignored): the iterator
            # shuffles its own samples each epoch, and foveal.data prefetches the next batch.
            for step in range(self.steps):
                xb, yb = _split_batch(self.source[step % self.n_batches], self.where)
                yield as_float32(xb, "x"), yb
            return
        bs, n = self.batch_size, self.n
        perm = _random.generator().permutation(n) if self.shuffle else None
        for step in range(self.steps):
            start = (step % self.n_batches) * bs
            if perm is None:
                sl: Any = slice(start, min(start + bs, n))
            else:
                sl = perm[start:start + bs]
            yield as_float32(self.x[sl], "x"), (None if self.y is None else self.y[sl])

    def end_epoch(self) -> None:
        """Tell an iterator that an epoch is over (foveal.data and Keras PyDatasets reshuffle)."""
        if self.source is not None and hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()


class _Running:
    """An epoch's sample-weighted mean loss and metrics, batch by batch (Keras's trackers)."""

    def __init__(self, model: "Model") -> None:
        self.model = model
        self.loss_sum = 0.0
        self.seen = 0
        self.metrics: Optional[List[_metrics.Metric]] = None

    def update(self, y: Any, p: np.ndarray, values: np.ndarray) -> None:
        nb = len(p)
        self.loss_sum += float(values.mean(dtype=np.float64)) * nb
        self.seen += nb
        if self.metrics is None:
            self.metrics = self.model._resolve_metrics(y, p)
            for m in self.metrics:
                m.reset_state()
        for m in self.metrics:
            m.update_state(y, p)

    def logs(self) -> Dict[str, float]:
        logs = {"loss": self.loss_sum / self.seen if self.seen else float("nan")}
        for m in self.metrics or []:
            logs[m.name] = float(m.result())
        return logs


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------


class Model:
    """A functional model: ``Model(inputs, outputs)`` from :func:`~foveal.nn.Input` and layer
    calls, Keras style::

        x = Input((32, 32, 3))
        h = Conv2D(16, 3, padding="same", activation="relu")(x)
        y = Add()([h, Conv2D(16, 3, padding="same")(h)])
        model = Model(x, Dense(10, activation="softmax")(Flatten()(y)))

    Then ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, ``save`` as in Keras.
    """

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None) -> None:
        self.name = name or _layers.unique_name("functional" if type(self) is Model
                                               else _layers._snake(type(self).__name__))
        self.optimizer: Optional[_optimizers.Optimizer] = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.history: Optional[_callbacks.History] = None
        self._loss_obj: Optional[_losses.Loss] = None
        self._metric_ids: List[Any] = []
        self._metric_objs: Optional[List[_metrics.Metric]] = None
        self._plan: Any = None
        self._graph: Optional[_Graph] = None
        if type(self) is Model or inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise TypeError("Model needs inputs and outputs (subclassed models are not "
                                "supported; use Sequential or the functional form)")
            self._graph = _Graph(inputs, outputs)

    # ---- structure ----------------------------------------------------------------------
    def _require_graph(self, what: str) -> _Graph:
        if self._graph is None:
            raise ValueError(f"{what}: the model is not built yet; give it an input shape "
                             "(Input(...) first) or call it on data first")
        return self._graph

    @property
    def layers(self) -> List[Layer]:
        """The layers in order (the InputLayer first for functional models, as Keras)."""
        return list(self._require_graph("layers").layers)

    @property
    def inputs(self) -> List[SymbolicTensor]:
        """The model's input tensors (symbolic), as Keras's ``model.inputs``."""
        return list(self._require_graph("inputs").inputs)

    @property
    def outputs(self) -> List[SymbolicTensor]:
        """The model's output tensors (symbolic), as Keras's ``model.outputs``."""
        return list(self._require_graph("outputs").outputs)

    @property
    def input_shape(self) -> Tuple[Optional[int], ...]:
        """The input shape with ``None`` for the batch axis."""
        return self._require_graph("input_shape").input_shape

    @property
    def output_shape(self) -> Tuple[Optional[int], ...]:
        """The output shape with ``None`` for the batch axis."""
        return self._require_graph("output_shape").output_shape

    @property
    def built(self) -> bool:
        """Whether the layers and their weights exist (an input shape is known)."""
        return self._graph is not None

    def get_layer(self, name: Optional[str] = None, index: Optional[int] = None) -> Layer:
        """A layer by ``name`` or position ``index`` in :attr:`layers`."""
        layers = self.layers
        if index is not None:
            return layers[as_int(index, "index")]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r}; layers: {', '.join(l.name for l in layers)}")

    # ---- weights ------------------------------------------------------------------------
    def _weight_layers(self) -> List[Layer]:
        return self.layers if self._graph is not None else []

    @property
    def weights(self) -> List[Weight]:
        """Every weight, layer by layer in Keras's order."""
        return [w for layer in self._weight_layers() for w in layer.weights]

    @property
    def trainable_weights(self) -> List[Weight]:
        """The weights the optimizer updates, layer by layer in Keras's order."""
        return [w for layer in self._weight_layers() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> List[Weight]:
        """The weights it does not update (frozen layers, BatchNormalization's moving statistics)."""
        return [w for layer in self._weight_layers() for w in layer.non_trainable_weights]

    def get_weights(self) -> List[np.ndarray]:
        """Copies of all weights, in Keras's order (``keras_model.get_weights()`` lines up)."""
        return [w.value.copy() for w in self.weights]

    def set_weights(self, weights: Sequence[Any]) -> None:
        """Set all weights from arrays in Keras's order; every shape is checked first."""
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(f"model {self.name!r} has {len(own)} weight arrays, got {len(weights)}")
        values = []
        for i, (w, v) in enumerate(zip(own, weights)):
            v = as_float32(v, f"weights[{i}]")
            if v.shape != w.shape:
                layer, wname = w.path.split("/", 1)
                raise ValueError(f"weights[{i}]: layer {layer!r} weight {wname!r} must have shape "
                                 f"{tuple(w.shape)}, got {tuple(v.shape)}")
            values.append(v)
        for w, v in zip(own, values):
            np.copyto(w.value, v)

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return int(sum(w.value.size for w in self.weights))

    # ---- compile ------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None) -> None:
        """Choose the optimizer (``"sgd"``, ``"adam"``, ``"rmsprop"`` or an object from
        :mod:`foveal.nn.optimizers`), the loss (a name or an object from :mod:`foveal.nn.losses`)
        and the metrics (e.g. ``["accuracy"]``)."""
        self.optimizer = _optimizers.get(optimizer)
        self._loss_obj = None if loss is None else _losses.get(loss)
        self.loss = loss
        if metrics is None:
            ids: List[Any] = []
        elif isinstance(metrics, (list, tuple)):
            ids = list(metrics)
        elif isinstance(metrics, (str, _metrics.Metric)):
            ids = [metrics]
        else:
            raise TypeError(f"metrics must be a list of names or Metric objects, got "
                            f"{type(metrics).__name__}")
        for m in ids:
            _metrics.check_identifier(m)
        self._metric_ids = ids
        self._metric_objs = None
        self._plan = None
        self.compiled = True

    @property
    def metrics(self) -> List[_metrics.Metric]:
        """The compiled metrics (resolved at the first batch seen)."""
        return list(self._metric_objs or [])

    @property
    def metrics_names(self) -> List[str]:
        """``"loss"`` followed by the compiled metrics' names, as ``evaluate`` returns them."""
        return ["loss"] + [m.name for m in self.metrics]

    def _require_compiled(self, what: str) -> _losses.Loss:
        if not self.compiled:
            raise RuntimeError(f"the model must be compiled before {what}(): call "
                               "model.compile(optimizer=..., loss=...) first")
        if self._loss_obj is None:
            raise RuntimeError(f"{what}() needs a loss: the model was compiled with loss=None")
        return self._loss_obj

    def _resolve_metrics(self, y: Any, p: np.ndarray) -> List[_metrics.Metric]:
        if self._metric_objs is None:
            shape = np.shape(y)
            self._metric_objs = [_metrics.get(m, shape, p.shape) for m in self._metric_ids]
        return self._metric_objs

    # ---- running ------------------------------------------------------------------------
    def _ensure_built(self, x_shape: Tuple[int, ...]) -> _Graph:
        return self._require_graph("this model")

    def _check_input(self, x_shape: Tuple[int, ...], where: str) -> None:
        expected = self._graph.input_shape
        ok = len(x_shape) == len(expected) and all(
            e is None or e == d for e, d in zip(expected[1:], x_shape[1:]))
        if not ok:
            raise ValueError(f"{where}: x has shape {tuple(x_shape)} but the model expects "
                             f"{tuple(expected)} (None = any size)")

    def _train_plan(self) -> Tuple[Any, Any, List[Weight], Optional[str], Set[int], Set[int]]:
        """The backward steps, plus the fusions of ReLU gradients into max pooling: a
        MaxPooling2D fed only by a layer ending in ReLU runs both backward passes in one
        (``through_relu``), and that layer then starts from its pre-activation gradient."""
        if self._plan is None:
            graph = self._graph
            steps, requires = graph.backward_plan()
            out_layer = graph.steps[-1][0] if graph.steps else None
            act = getattr(out_layer, "output_activation", None) if out_layer is not None else None
            uses = collections.Counter(i for _, ins, _, _ in graph.steps for i in ins)
            uses[graph.output_id] += 1
            producer = {out: layer for layer, _, out, _ in graph.steps}
            through_relu: Set[int] = set()   # output slots of pooling steps that fuse a ReLU
            preactivated: Set[int] = set()   # slots whose gradient arrives before the activation
            for layer, ins, out, multi in graph.steps:
                src = ins[0]
                if (isinstance(layer, _layers.MaxPooling2D) and not multi and uses[src] == 1
                        and src in producer and producer[src].output_activation == "relu"):
                    through_relu.add(out)
                    preactivated.add(src)
            self._plan = (steps, requires, self.trainable_weights, act, through_relu, preactivated)
        return self._plan

    def _train_step(self, x: np.ndarray, y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Forward, loss gradient, backward and one optimizer update; returns the predictions
        and the per-sample losses."""
        graph = self._graph
        steps, requires, trainable, act, through_relu, preactivated = self._train_plan()
        p = graph.forward(x, True)
        values, grad, fused = self._loss_obj._value_and_grad(y, p, act)
        grads: List[Any] = [None] * graph.n_slots
        grads[graph.output_id] = grad
        out_id = graph.output_id
        for layer, ins, out, multi, need_dx in steps:
            g = grads[out]
            grads[out] = None
            if g is None:
                continue
            if (fused and out == out_id) or out in preactivated:
                dx = layer.backward_from_preactivation(g, need_dx)
            elif out in through_relu and need_dx:
                dx = layer.backward_through_relu(g)
            else:
                dx = layer.backward(g, need_dx)
            if not need_dx:
                continue
            for i, d in (zip(ins, dx) if multi else ((ins[0], dx),)):
                if d is not None and requires[i]:
                    grads[i] = d if grads[i] is None else grads[i] + d
        self.optimizer._apply(trainable)
        return p, values

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """Run the model eagerly on one batch (inference unless ``training``)."""
        if isinstance(x, SymbolicTensor):
            raise NotImplementedError("calling a model on symbolic tensors (nesting models) is not "
                                      "supported yet")
        x = as_float32(x, "x")
        graph = self._ensure_built(x.shape)
        self._check_input(x.shape, "model call")
        return graph.forward(x, bool(training))

    # ---- fit ----------------------------------------------------------------------------
    def fit(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None, epochs: int = 1,
            verbose: Union[str, int] = "auto", callbacks: Optional[Sequence[_callbacks.Callback]] = None,
            validation_split: float = 0.0, validation_data: Any = None, shuffle: bool = True,
            initial_epoch: int = 0, steps_per_epoch: Optional[int] = None) -> _callbacks.History:
        """Train for ``epochs`` epochs (Keras's ``fit``).

        Args:
            x, y: arrays (``x`` float32 or convertible, ``N x ...``; ``y`` as the loss expects), or
                ``x`` an iterator/sequence with ``len`` and ``x[i] -> (x_batch, y_batch)`` (e.g.
                ``foveal.data`` iterators, ``keras.utils.PyDataset``-like) and ``y=None``.
                An iterator's batches may differ in size; a batch of no samples (a folder
                batch whose files are all unreadable) counts as a step but trains nothing.
            batch_size: samples per step for arrays (default 32).
            epochs: index of the last epoch (training runs ``initial_epoch .. epochs-1``).
            verbose: ``"auto"``/1 a progress bar, 2 one line per epoch, 0 silent.
            callbacks: :mod:`foveal.nn.callbacks` objects.
            validation_split: fraction of the arrays held out for validation: the last samples,
                taken before shuffling (as Keras).
            validation_data: ``(x_val, y_val)`` or an iterator of batches.
            shuffle: reshuffle array samples every epoch (ignored for an iterator, as in Keras:
                its batches are taken in order and it reshuffles itself at each epoch's end).
            steps_per_epoch: batches per epoch (default: all the data; an iterator wraps around).

        Returns:
            :class:`~foveal.nn.callbacks.History` with ``history`` (per-epoch lists of ``loss``,
            metrics, ``val_loss``...) and ``epoch``.
        """
        loss_obj = self._require_compiled("fit")
        verbose = _progress.verbosity(verbose)
        epochs = as_int(epochs, "epochs", 0)
        initial_epoch = as_int(initial_epoch, "initial_epoch", 0)
        steps = None if steps_per_epoch is None else as_int(steps_per_epoch, "steps_per_epoch", 1)
        if not isinstance(shuffle, (bool, np.bool_)):
            raise TypeError(f"shuffle must be True or False, got {shuffle!r}")
        validation_split = float(validation_split)
        if not 0.0 <= validation_split < 1.0:
            raise ValueError(f"validation_split must be in [0, 1), got {validation_split!r}")
        val = None
        if validation_data is not None:
            val = self._validation_batches(validation_data, batch_size)
        if validation_split > 0:
            if _is_batch_source(x):
                raise ValueError("validation_split is only supported for array inputs; pass "
                                 "validation_data for iterators")
            xa, ya = _as_array(x, "x"), None if y is None else _as_array(y, "y")
            if ya is not None and len(ya) != len(xa):
                raise ValueError(f"fit: x and y must have the same number of samples, got x with "
                                 f"{len(xa)} and y with {len(ya)}")
            split_at = int(math.floor(len(xa) * (1.0 - validation_split)))
            if split_at == 0 or split_at == len(xa):
                raise ValueError(f"fit: {len(xa)} samples cannot be split into training and "
                                 f"validation sets with validation_split={validation_split}")
            if val is None:
                val = _Batches(xa[split_at:], None if ya is None else ya[split_at:], batch_size,
                               False, None, "validation data", True)
            x, y = xa[:split_at], None if ya is None else ya[:split_at]
        data = _Batches(x, y, batch_size, bool(shuffle), steps, "fit", True)
        if data.source is None:   # iterators are checked on their first batch
            self._ensure_built(data.x.shape)
            self._check_input(data.x.shape, "fit")
        self._plan = None

        history = _callbacks.History()
        cbs = list(callbacks or [])
        for cb in cbs:
            if not isinstance(cb, _callbacks.Callback):
                raise TypeError(f"callbacks must be foveal.nn.callbacks.Callback objects, got "
                                f"{type(cb).__name__}")
        if verbose == 1:
            cbs.append(_progress.ProgressBar(epochs, data.steps))
        elif verbose == 2:
            cbs.append(_progress.EpochLine(epochs))
        cbs.append(history)
        cb_list = _callbacks.CallbackList(cbs, self, {"epochs": epochs, "steps": data.steps,
                                                      "verbose": verbose})
        batch_logs = cb_list.wants_batch_logs
        self.stop_training = False
        cb_list.on_train_begin()
        logs: Dict[str, Any] = {}
        for epoch in range(initial_epoch, epochs):
            cb_list.on_epoch_begin(epoch)
            running = _Running(self)
            for step, (xb, yb) in enumerate(data.epoch()):
                cb_list.on_train_batch_begin(step)
                if step == 0 and data.source is not None:
                    self._ensure_built(xb.shape)
                    self._check_input(xb.shape, "fit")
                if not _is_empty(xb):   # a batch of no sample (files unreadable): no update
                    p, values = self._train_step(xb, yb)
                    running.update(yb, p, values)
                if batch_logs:   # no loss yet (only empty batches so far): no NaN, no logs
                    cb_list.on_train_batch_end(step, running.logs() if running.seen else {})
                if self.stop_training:
                    break
            data.end_epoch()
            if not self.stop_training:
                _require_samples(running, "fit")
            logs = running.logs()
            if val is not None:
                val_logs = self._evaluate_batches(val, loss_obj)
                logs.update({f"val_{k}": v for k, v in val_logs.items()})
            cb_list.on_epoch_end(epoch, logs)
            if self.stop_training:
                break
        cb_list.on_train_end(logs)
        self.history = history
        return history

    def _validation_batches(self, validation_data: Any, batch_size: Optional[int]) -> _Batches:
        if _is_batch_source(validation_data):
            return _Batches(validation_data, None, None, False, None, "validation_data", True)
        if isinstance(validation_data, (tuple, list)):
            if len(validation_data) == 2:
                return _Batches(validation_data[0], validation_data[1], batch_size, False, None,
                                "validation_data", True)
            if len(validation_data) == 3:
                raise NotImplementedError("validation_data with sample weights is not supported yet")
        raise ValueError("validation_data must be (x_val, y_val) or an iterator of (x, y) batches")

    # ---- evaluate / predict -------------------------------------------------------------
    def _evaluate_batches(self, data: _Batches, loss_obj: _losses.Loss, verbose: int = 0
                          ) -> Dict[str, float]:
        graph = self._graph
        running = _Running(self)
        progress = _progress.bar(data.steps, "Evaluate") if verbose == 1 else None
        try:
            for step, (xb, yb) in enumerate(data.epoch()):
                if step == 0:
                    graph = self._ensure_built(xb.shape)
                    self._check_input(xb.shape, "evaluate")
                if yb is None:
                    raise ValueError("evaluate needs targets: y, or (x, y) batches")
                if not _is_empty(xb):   # an empty batch adds nothing to the means
                    p = graph.forward(xb, False)
                    running.update(yb, p, loss_obj._values(yb, p))
                if progress is not None:
                    progress.update(1)
            data.end_epoch()
        finally:
            if progress is not None:
                progress.close()
        _require_samples(running, "evaluate")
        return running.logs()

    def evaluate(self, x: Any = None, y: Any = None, batch_size: Optional[int] = None,
                 verbose: Union[str, int] = "auto", steps: Optional[int] = None,
                 return_dict: bool = False) -> Union[float, List[float], Dict[str, float]]:
        """Loss and metrics over ``x``/``y`` (arrays or an iterator of batches), in inference mode:
        means over the samples (a batch of no samples adds nothing).

        Returns the loss alone when no metrics were compiled, else ``[loss, metric...]``, or a
        dict with ``return_dict=True``."""
        loss_obj = self._require_compiled("evaluate")
        verbose = _progress.verbosity(verbose)
        steps = None if steps is None else as_int(steps, "steps", 1)
        data = _Batches(x, y, batch_size, False, steps, "evaluate", True)
        logs = self._evaluate_batches(data, loss_obj, verbose)
        if return_dict:
            return logs
        values = list(logs.values())
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, batch_size: Optional[int] = None, verbose: Union[str, int] = "auto",
                steps: Optional[int] = None) -> np.ndarray:
        """Outputs for ``x`` (an array ``N x ...`` or an iterator of batches), batch by batch in
        inference mode; returns one float32 array with a row per sample (an iterator's batch of
        no samples gives none)."""
        verbose = _progress.verbosity(verbose)
        steps = None if steps is None else as_int(steps, "steps", 1)
        data = _Batches(x, None, batch_size, False, steps, "predict", False)
        outs = []
        progress = _progress.bar(data.steps, "Predict") if verbose == 1 else None
        try:
            for step, (xb, _) in enumerate(data.epoch()):
                if step == 0:
                    graph = self._ensure_built(xb.shape)
                    self._check_input(xb.shape, "predict")
                if _is_empty(xb):   # no sample, no row
                    last_empty = xb
                else:
                    outs.append(graph.forward(xb, False))
                if progress is not None:
                    progress.update(1)
            data.end_epoch()
        finally:
            if progress is not None:
                progress.close()
        if not outs:
            return _empty_outputs(graph, last_empty)
        if len(outs) == 1:
            return np.array(outs[0], dtype=np.float32, copy=True)
        return np.concatenate(outs, axis=0)

    def train_on_batch(self, x: Any, y: Any, return_dict: bool = False
                       ) -> Union[float, List[float], Dict[str, float]]:
        """One optimizer step on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x = as_float32(x, "x")
        y = _as_array(y, "y")
        if len(y) != len(x):
            raise ValueError(f"train_on_batch: x and y must have the same number of samples, got "
                             f"{len(x)} and {len(y)}")
        self._ensure_built(x.shape)
        self._check_input(x.shape, "train_on_batch")
        p, values = self._train_step(x, y)
        return self._batch_result(y, p, values, return_dict)

    def test_on_batch(self, x: Any, y: Any, return_dict: bool = False
                      ) -> Union[float, List[float], Dict[str, float]]:
        """Loss (and metrics) of one batch in inference mode."""
        loss_obj = self._require_compiled("test_on_batch")
        x = as_float32(x, "x")
        self._ensure_built(x.shape)
        self._check_input(x.shape, "test_on_batch")
        p = self._graph.forward(x, False)
        return self._batch_result(y, p, loss_obj._values(y, p), return_dict)

    def _batch_result(self, y: Any, p: np.ndarray, values: np.ndarray, return_dict: bool) -> Any:
        running = _Running(self)
        running.update(y, p, values)
        logs = running.logs()
        if return_dict:
            return logs
        vals = list(logs.values())
        return vals[0] if len(vals) == 1 else vals

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch (inference mode); a batch of no samples gives ``0 x ...``."""
        if not isinstance(x, SymbolicTensor):
            x = as_float32(x, "x")
            if _is_empty(x):
                graph = self._ensure_built(x.shape)
                self._check_input(x.shape, "predict_on_batch")
                return _empty_outputs(graph, x)
        return np.array(self(x, training=False), dtype=np.float32, copy=True)

    # ---- summary ------------------------------------------------------------------------
    def summary(self, line_length: Optional[int] = None, print_fn: Any = None) -> None:
        """Print a Keras-like table: layer (type), output shape, parameter count, and the total,
        trainable and non-trainable parameter counts."""
        graph = self._require_graph("summary")
        functional = not isinstance(self, Sequential)
        rows = []
        for layer in (graph.layers if functional else graph.layers[1:]):
            shape = layer.output_shape if layer.output_shape is not None else "?"
            row = [f"{layer.name} ({type(layer).__name__})", str(tuple(shape)).replace(",)", ")"),
                   f"{layer.count_params():,}"]
            if functional:
                row.append(", ".join(graph.inbound_names(layer)) or "-")
            rows.append(row)
        headers = ["Layer (type)", "Output Shape", "Param #"] + (["Connected to"] if functional else [])
        widths = [max(len(h), *(len(r[i]) for r in rows)) + 2 if rows else len(h) + 2
                  for i, h in enumerate(headers)]
        total_width = line_length or sum(widths)
        lines = [f'Model: "{self.name}"', "_" * total_width]

        def fmt(cells: List[str]) -> str:
            out = ""
            for i, (c, w) in enumerate(zip(cells, widths)):
                out += c.rjust(w - 2) + "  " if i == 2 else c.ljust(w)
            return out.rstrip()

        lines.append(fmt(headers))
        lines.append("=" * total_width)
        for i, r in enumerate(rows):
            lines.append(fmt(r))
            if i != len(rows) - 1:
                lines.append("")
        lines.append("=" * total_width)
        trainable = sum(w.value.size for w in self.trainable_weights)
        total = self.count_params()
        lines += [f"Total params: {total:,}", f"Trainable params: {trainable:,}",
                  f"Non-trainable params: {total - trainable:,}", "_" * total_width]
        (print_fn or print)("\n".join(lines))

    # ---- config and saving --------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The architecture as JSON-serializable data (layer configs and connections)."""
        graph = self._require_graph("get_config")
        return {"name": self.name,
                "layers": [{**_layers.serialize(layer), "inbound": graph.inbound_names(layer)}
                           for layer in graph.layers],
                "input_layers": [layer.name for layer in graph.input_layers],
                "output_layers": [graph.outputs[0].layer.name]}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None
                    ) -> "Model":
        """Rebuild a functional model (new, freshly initialized weights) from :meth:`get_config`."""
        tensors: Dict[str, SymbolicTensor] = {}
        for entry in config["layers"]:
            layer = _layers.get(entry, custom_objects)
            if isinstance(layer, InputLayer):
                tensors[layer.name] = layer.output
                continue
            inbound = [tensors[n] for n in entry.get("inbound", [])]
            if not inbound:
                raise ValueError(f"layer {layer.name!r} has no inbound layers in the config")
            tensors[layer.name] = layer(inbound if layer.multi_input else inbound[0])
        return cls([tensors[n] for n in config["input_layers"]],
                   [tensors[n] for n in config["output_layers"]], name=config.get("name"))

    def export_onnx(self, filepath: str) -> None:
        """Write the model as an ONNX file (needs the ``onnx`` package). The graph takes NHWC
        float32 input like :meth:`predict` (input ``"input"``, output ``"output"``, any batch
        size) and onnxruntime gives the same outputs; Dropout is the identity and
        BatchNormalization uses its moving statistics, as in inference."""
        from . import _onnx
        _onnx.export(self, filepath)

    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Write the architecture, weights, compile settings and optimizer state to one file
        (a zip with checksums), atomically; :func:`foveal.nn.load_model` reads it back."""
        from . import _saving

        _saving.save_model(self, filepath, overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Write only the weights (same container as :meth:`save`)."""
        from . import _saving

        _saving.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath: str) -> None:
        """Read weights written by :meth:`save_weights` or :meth:`save` into this model
        (same architecture: counts and shapes are checked)."""
        from . import _saving

        _saving.load_weights(self, filepath)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


class Sequential(Model):
    """A linear stack of layers (Keras's ``Sequential``).

    The input shape comes from a leading ``Input(shape)``/``InputLayer``, from the first layer's
    ``input_shape=``, from :meth:`build`, or from the first data the model sees.
    """

    def __init__(self, layers: Optional[Sequence[Any]] = None, name: Optional[str] = None) -> None:
        super().__init__(name=name)
        self._layers: List[Layer] = []
        self._input_layer: Optional[InputLayer] = None
        for layer in layers or []:
            self.add(layer)

    def add(self, layer: Any) -> None:
        """Append a layer (or, first, an ``Input``/``InputLayer``)."""
        if isinstance(layer, SymbolicTensor) and isinstance(layer.layer, InputLayer):
            layer = layer.layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("an Input/InputLayer can only be the first element of a Sequential")
            self._input_layer = layer
            return
        if isinstance(layer, Model):
            raise NotImplementedError("nesting models is not supported yet")
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add takes a foveal.nn layer, got {type(layer).__name__}")
        if not self._layers and self._input_layer is None and layer._batch_input_shape is not None:
            self._input_layer = InputLayer(batch_shape=layer._batch_input_shape)
        self._layers.append(layer)
        self._graph = None
        self._plan = None
        if self._input_layer is not None:
            self._build_graph()

    def pop(self) -> Layer:
        """Remove and return the last layer."""
        if not self._layers:
            raise ValueError("there is no layer to remove")
        layer = self._layers.pop()
        self._graph = None
        self._plan = None
        if self._input_layer is not None and self._layers:
            self._build_graph()
        return layer

    def build(self, input_shape: Sequence[Optional[int]]) -> None:
        """Build for ``input_shape`` including the batch axis, e.g. ``(None, 32, 32, 3)``."""
        if self._input_layer is None:
            self._input_layer = InputLayer(batch_shape=list(input_shape))
        self._build_graph()

    def _build_graph(self) -> None:
        if not self._layers:
            raise ValueError("a Sequential model needs at least one layer")
        t = self._input_layer.output
        for layer in self._layers:
            t = layer(t)
        self._graph = _Graph(self._input_layer.output, t)
        self._plan = None

    def _ensure_built(self, x_shape: Tuple[int, ...]) -> _Graph:
        if self._graph is None:
            if self._input_layer is None:
                if len(x_shape) < 1:
                    raise ValueError("x must have a batch axis")
                self._input_layer = InputLayer(shape=tuple(x_shape[1:]))
            self._build_graph()
        return self._graph

    @property
    def layers(self) -> List[Layer]:
        """The layers, without the InputLayer (as Keras's Sequential)."""
        return list(self._layers)

    def _weight_layers(self) -> List[Layer]:
        return self._layers

    def get_config(self) -> Dict[str, Any]:
        layers = [_layers.serialize(layer) for layer in self._layers]
        if self._input_layer is not None:
            layers.insert(0, _layers.serialize(self._input_layer))
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None
                    ) -> "Sequential":
        return cls([_layers.get(entry, custom_objects) for entry in config["layers"]],
                   name=config.get("name"))


def load_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None,
               compile: bool = True) -> Model:
    """Read a model written by :meth:`Model.save`: architecture, weights, and (with
    ``compile=True``) the compile settings and optimizer state, so training continues exactly.

    Raises FileNotFoundError for a missing file and ValueError for a corrupt or truncated one.
    """
    from . import _saving

    return _saving.load_model(filepath, custom_objects, compile)
