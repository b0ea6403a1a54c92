"""Keras-style models: :class:`Sequential` and the functional :class:`Model` (``foveal.nn.models``).

A model is a graph of layers in topological order (``_graph``).  Training runs each layer's
forward, the loss and its gradient, each layer's backward in reverse order (summing gradients
where a tensor feeds several layers, skipping work nothing upstream needs), then one optimizer
step.  All arrays are float32 NumPy arrays; the numeric work happens in the native kernels.
This module is the Keras front: the batches come from ``_adapters``, the epoch loops are in
``_training``, and ``save``/``load_model`` go through ``_serialization``.
"""

from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np

from .._device_state import state as _device_state
from . import _device_train, _progress, _serialization, _summary, _training
from . import callbacks as _callbacks
from . import layers as _layers
from . import losses as _losses
from . import metrics as _metrics
from . import optimizers as _optimizers
from .._checks import as_float32, as_int
from ._adapters import Batches, as_array, hold_out, is_empty, validation_batches
from ._graph import Graph, TrainPlan
from .layers import InputLayer, Layer, SymbolicTensor, Weight
from .layers._augment_chain import takes_uint8
from .layers.base import _snake, unique_name

__all__ = ["Model", "Sequential", "load_model"]


class Model:
    """A functional model: ``Model(inputs, outputs)`` from :func:`~foveal.nn.Input` and layer
    calls, Keras style::

        x = Input((32, 32, 3))
        h = Conv2D(16, 3, padding="same", activation="relu")(x)
        y = Add()([h, Conv2D(16, 3, padding="same")(h)])
        model = Model(x, Dense(10, activation="softmax")(Flatten()(y)))

    Then ``compile``, ``fit``, ``evaluate``, ``predict``, ``summary``, ``save`` as in Keras.
    """

    #: The architecture's ``class_name`` in a saved file (Keras's name for the functional form).
    _file_class_name = "Functional"

    def __init__(self, inputs: Any = None, outputs: Any = None, name: Optional[str] = None) -> None:
        self.name = name or unique_name("functional" if type(self) is Model
                                        else _snake(type(self).__name__))
        self.optimizer: Optional[_optimizers.Optimizer] = None
        self.loss: Any = None
        self.compiled = False
        self.stop_training = False
        self.history: Optional[_callbacks.History] = None
        self._loss_obj: Optional[_losses.Loss] = None
        self._metric_ids: List[Any] = []
        self._metric_objs: Optional[List[_metrics.Metric]] = None
        self._plan: Any = None
        self._graph: Optional[Graph] = None
        self._trainable = True
        self._compiled_trainable: Optional[Tuple[bool, Dict[int, bool]]] = None
        self._trainable_warned = False
        self._device_session: Any = None   # GPU-resident weights on "cuda" (_device_train)
        if type(self) is Model or inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise TypeError("Model needs inputs and outputs (subclassed models are not "
                                "supported; use Sequential or the functional form)")
            self._graph = Graph(inputs, outputs)

    # ---- structure ----------------------------------------------------------------------
    def _require_graph(self, what: str) -> Graph:
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
    def input(self) -> SymbolicTensor:
        """The input tensor (symbolic), as Keras's ``model.input``: build on a model's layers,
        e.g. a new head on an imported backbone: ``Model(m.input, Dense(10)(m.output))``."""
        return self._require_graph("input").inputs[0]

    @property
    def output(self) -> SymbolicTensor:
        """The output tensor (symbolic), as Keras's ``model.output``."""
        return self._require_graph("output").outputs[0]

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
    def trainable(self) -> bool:
        """Whether the model trains (Keras 3): setting it sets every layer's ``trainable`` too
        (layers that are always frozen, such as a backbone run by onnxruntime, stay frozen), and
        a frozen model has no trainable weights whatever its layers' flags. Call
        :meth:`compile` again after changing it or any layer's flag: ``fit`` trains the weights
        that were trainable at ``compile``."""
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        value = bool(value)
        self._trainable = value
        for layer in self._weight_layers():
            if not (value and layer._always_frozen):
                layer.trainable = value

    def _sync_device(self) -> None:
        """Bring the layers' weights and the optimizer's slots back from the GPU where they are
        newer there (``train_on_batch`` on "cuda" leaves them there)."""
        if self._device_session is not None:
            _device_train.sync(self)

    @property
    def weights(self) -> List[Weight]:
        """Every weight, layer by layer in Keras's order."""
        self._sync_device()
        return [w for layer in self._weight_layers() for w in layer.weights]

    @property
    def trainable_weights(self) -> List[Weight]:
        """The weights the optimizer updates, layer by layer in Keras's order (none when the
        model is frozen)."""
        if not self._trainable:
            return []
        return [w for layer in self._weight_layers() for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> List[Weight]:
        """The weights it does not update (frozen layers, BatchNormalization's moving statistics;
        all of them when the model is frozen)."""
        if not self._trainable:
            return self.weights
        return [w for layer in self._weight_layers() for w in layer.non_trainable_weights]

    def _trainable_state(self) -> Tuple[bool, Dict[int, bool]]:
        """The model's and each layer's ``trainable`` flag (what :meth:`compile` records)."""
        return self._trainable, {id(layer): layer.trainable for layer in self._weight_layers()}

    def _compiled_trainable_weights(self) -> List[Weight]:
        """The weights ``fit`` trains: those trainable under the flags recorded at compile (a
        layer added since takes its current flag)."""
        if self._compiled_trainable is None:
            return self.trainable_weights
        model_flag, flags = self._compiled_trainable
        if not model_flag:
            return []
        return [w for layer in self._weight_layers() if flags.get(id(layer), layer.trainable)
                for w in layer.weights if w.trainable]

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
        _device_train.invalidate(self)

    def count_params(self) -> int:
        """Number of scalars in all weights."""
        return int(sum(w.value.size for w in self.weights))

    # ---- compile ------------------------------------------------------------------------
    def compile(self, optimizer: Any = "rmsprop", loss: Any = None, metrics: Any = None) -> None:
        """Choose the optimizer (``"sgd"``, ``"adam"``, ``"rmsprop"`` or an object from
        :mod:`foveal.nn.optimizers`), the loss (a name or an object from :mod:`foveal.nn.losses`)
        and the metrics (e.g. ``["accuracy"]``)."""
        _device_train.release(self)
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
        self._compiled_trainable = self._trainable_state()
        self._trainable_warned = False
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
    def _ensure_built(self, x_shape: Tuple[int, ...]) -> Graph:
        return self._require_graph("this model")

    def _check_input(self, x_shape: Tuple[int, ...], where: str) -> None:
        expected = self._graph.input_shape
        ok = len(x_shape) == len(expected) and all(
            e is None or e == d for e, d in zip(expected[1:], x_shape[1:]))
        if not ok:
            raise ValueError(f"{where}: x has shape {tuple(x_shape)} but the model expects "
                             f"{tuple(expected)} (None = any size)")

    def _train_plan(self) -> TrainPlan:
        """The graph's backward plan with the weights the optimizer updates: those trainable
        when the model was compiled (Keras: change ``trainable``, then compile again). Worked out
        at each ``fit`` and build; warns (once per compile) when the flags changed since."""
        if (not self._trainable_warned and self._compiled_trainable is not None
                and self._trainable_state() != self._compiled_trainable):
            self._trainable_warned = True
            warnings.warn(f"model {self.name!r}: trainable flags changed since compile(); "
                          "training uses the weights that were trainable at compile time. "
                          "Call model.compile(...) again to apply the new flags (as in Keras)",
                          UserWarning, stacklevel=4)
        if self._plan is None:
            self._plan = self._graph.train_plan(self._compiled_trainable_weights())
        return self._plan

    def _train_step(self, x: np.ndarray, y: Any) -> Tuple[np.ndarray, np.ndarray]:
        """Forward, loss gradient, backward and one optimizer update; returns the predictions
        and the per-sample losses."""
        if _device_state["device"] != "cpu" or self._device_session is not None:
            out = _device_train.train_step(self, x, y)   # GPU-resident on "cuda"
            if out is not None:
                return out
        graph = self._graph
        plan = self._train_plan()
        trainable, act = plan[2], plan[3]   # TrainPlan.trainable, .output_activation
        p = graph.forward(x, True, plan)
        values, grad, fused = self._loss_obj._value_and_grad(y, p, act)
        graph.backward(plan, grad, fused)
        self.optimizer._apply(trainable)
        return p, values

    def __call__(self, x: Any, training: bool = False) -> np.ndarray:
        """Run the model eagerly on one batch (inference unless ``training``)."""
        if isinstance(x, SymbolicTensor):
            raise NotImplementedError("calling a model on symbolic tensors (nesting models) is not "
                                      "supported yet")
        # a uint8 batch stays uint8 when training starts with random preprocessing layers:
        # they warp it straight to float32 (_augment_chain.takes_uint8)
        u8 = bool(training) and isinstance(x, np.ndarray) and x.dtype == np.uint8
        x = np.ascontiguousarray(x) if u8 else as_float32(x, "x")
        self._sync_device()
        graph = self._ensure_built(x.shape)
        self._check_input(x.shape, "model call")
        if u8 and not takes_uint8(graph):
            x = as_float32(x, "x")
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
        val = None if validation_data is None else validation_batches(validation_data, batch_size)
        if validation_split > 0:
            x, y, val = hold_out(x, y, validation_split, batch_size, val)
        data = Batches(x, y, batch_size, bool(shuffle), steps, "fit", True)
        if data.source is None:   # iterators are checked on their first batch
            self._ensure_built(data.x.shape)
            self._check_input(data.x.shape, "fit")
        self._plan = None
        try:
            self.history = _training.fit_epochs(self, data, val, loss_obj, epochs, initial_epoch,
                                                callbacks, verbose)
        finally:
            _device_train.end_call(self)
        return self.history

    # ---- evaluate / predict -------------------------------------------------------------
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
        data = Batches(x, y, batch_size, False, steps, "evaluate", True)
        try:
            logs = _training.evaluate_batches(self, data, loss_obj, verbose)
        finally:
            _device_train.end_call(self)
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
        data = Batches(x, None, batch_size, False, steps, "predict", False)
        try:
            return _training.predict_batches(self, data, verbose)
        finally:
            _device_train.end_call(self)

    def train_on_batch(self, x: Any, y: Any, return_dict: bool = False
                       ) -> Union[float, List[float], Dict[str, float]]:
        """One optimizer step on one batch; returns that batch's loss (and metrics)."""
        self._require_compiled("train_on_batch")
        x = as_float32(x, "x")
        y = as_array(y, "y")
        if len(y) != len(x):
            raise ValueError(f"train_on_batch: x and y must have the same number of samples, got "
                             f"{len(x)} and {len(y)}")
        self._ensure_built(x.shape)
        self._check_input(x.shape, "train_on_batch")
        p, values = self._train_step(x, y)
        return _training.batch_result(self, y, p, values, return_dict)

    def test_on_batch(self, x: Any, y: Any, return_dict: bool = False
                      ) -> Union[float, List[float], Dict[str, float]]:
        """Loss (and metrics) of one batch in inference mode."""
        loss_obj = self._require_compiled("test_on_batch")
        x = as_float32(x, "x")
        self._sync_device()
        self._ensure_built(x.shape)
        self._check_input(x.shape, "test_on_batch")
        p = self._graph.forward(x, False)
        return _training.batch_result(self, y, p, loss_obj._values(y, p), return_dict)

    def predict_on_batch(self, x: Any) -> np.ndarray:
        """Outputs for one batch (inference mode); a batch of no samples gives ``0 x ...``."""
        if not isinstance(x, SymbolicTensor):
            x = as_float32(x, "x")
            if is_empty(x):
                graph = self._ensure_built(x.shape)
                self._check_input(x.shape, "predict_on_batch")
                return graph.empty_output(x)
        return np.array(self(x, training=False), dtype=np.float32, copy=True)

    # ---- summary ------------------------------------------------------------------------
    def summary(self, line_length: Optional[int] = None, print_fn: Any = None,
                show_trainable: bool = False) -> None:
        """Print a Keras-like table: layer (type), output shape, parameter count (and with
        ``show_trainable`` a "Trainable" column: Y, N, or - for a layer without weights), then
        the total, trainable and non-trainable parameter counts with their float32 sizes, as
        Keras 3 prints them (`` Total params: 1,290 (5.04 KB)``)."""
        graph = self._require_graph("summary")
        functional = not isinstance(self, Sequential)
        trainable = sum(w.value.size for w in self.trainable_weights)
        lines = _summary.table(self.name, graph, graph.layers if functional else graph.layers[1:],
                               functional, show_trainable, line_length, self.count_params(), trainable)
        (print_fn or print)("\n".join(lines))

    # ---- config and saving --------------------------------------------------------------
    def get_config(self) -> Dict[str, Any]:
        """The architecture as JSON-serializable data (layer configs and connections)."""
        graph = self._require_graph("get_config")
        return {"name": self.name, "trainable": self._trainable,
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
        model = cls([tensors[n] for n in config["input_layers"]],
                    [tensors[n] for n in config["output_layers"]], name=config.get("name"))
        model._trainable = bool(config.get("trainable", True))   # the layers keep their own flags
        return model

    def export_onnx(self, filepath: str) -> None:
        """Write the model as an ONNX file (needs the ``onnx`` package). The graph takes NHWC
        float32 input like :meth:`predict` (input ``"input"``, output ``"output"``, any batch
        size) and onnxruntime gives the same outputs; Dropout is the identity and
        BatchNormalization uses its moving statistics, as in inference."""
        from . import _onnx
        self._sync_device()
        _onnx.export(self, filepath)

    def save(self, filepath: str, overwrite: bool = True) -> None:
        """Write the architecture, weights, compile settings and optimizer state to one file
        (a zip with checksums), atomically; :func:`foveal.nn.load_model` reads it back. A ``.keras``
        path gets a Keras 3 archive (the same contents, in Keras's form; needs ``h5py``) instead."""
        self._sync_device()
        _serialization.save_model(self, filepath, overwrite)

    def save_weights(self, filepath: str, overwrite: bool = True) -> None:
        """Write only the weights (same container as :meth:`save`)."""
        self._sync_device()
        _serialization.save_weights(self, filepath, overwrite)

    def load_weights(self, filepath: str) -> None:
        """Read weights written by :meth:`save_weights` or :meth:`save` into this model
        (same architecture: counts and shapes are checked)."""
        self._sync_device()
        _serialization.load_weights(self, filepath)
        _device_train.invalidate(self)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} built={self.built}>"


class Sequential(Model):
    """A linear stack of layers (Keras's ``Sequential``).

    The input shape comes from a leading ``Input(shape)``/``InputLayer``, from the first layer's
    ``input_shape=``, from :meth:`build`, or from the first data the model sees.
    """

    _file_class_name = "Sequential"

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
        self._graph = Graph(self._input_layer.output, t)
        self._plan = None

    def _ensure_built(self, x_shape: Tuple[int, ...]) -> Graph:
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
        return {"name": self.name, "trainable": self._trainable, "layers": layers}

    @classmethod
    def from_config(cls, config: Dict[str, Any], custom_objects: Optional[Dict[str, type]] = None
                    ) -> "Sequential":
        model = cls([_layers.get(entry, custom_objects) for entry in config["layers"]],
                    name=config.get("name"))
        model._trainable = bool(config.get("trainable", True))   # the layers keep their own flags
        return model


def load_model(filepath: str, custom_objects: Optional[Dict[str, type]] = None,
               compile: bool = True) -> Model:
    """Read a model written by :meth:`Model.save`: architecture, weights, and (with
    ``compile=True``) the compile settings and optimizer state, so training continues exactly.

    Also reads Keras 3 ``.keras`` archives (compiled as Keras does; needs ``h5py``), running
    no code: a Lambda layer or an unknown or custom class is a ValueError naming it. Raises
    FileNotFoundError for a missing file and ValueError for a corrupt or truncated one.
    """
    classes = {cls._file_class_name: cls for cls in (Model, Sequential)}
    return _serialization.load_model(filepath, classes, custom_objects, compile)
