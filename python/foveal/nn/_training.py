"""The loops behind ``Model.fit``, ``evaluate`` and ``predict`` (``foveal.nn._training``): epochs
of batches through the model, callbacks and progress, and the running sample-weighted means of
the loss and metrics (Keras's trackers).

A batch of no samples (``foveal.data`` gives one when every file of a batch is unreadable)
counts as a step but adds nothing; a whole pass that gave no sample is a ValueError.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence

import numpy as np

from .._device_state import state as _device_state
from . import _device_train, _progress
from . import callbacks as _callbacks
from . import losses as _losses
from . import metrics as _metrics
from ._adapters import Batches, is_empty


class Running:
    """An epoch's sample-weighted mean loss and metrics, batch by batch (Keras's trackers)."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.loss_sum = 0.0
        self.seen = 0
        self.metrics: Optional[List[_metrics.Metric]] = None

    def update(self, y: Any, p: np.ndarray, values: np.ndarray) -> None:
        """Add a batch: targets ``y``, predictions ``p`` and per-sample loss ``values``."""
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
        """``{"loss": mean, metric name: value, ...}`` so far."""
        logs = {"loss": self.loss_sum / self.seen if self.seen else float("nan")}
        for m in self.metrics or []:
            logs[m.name] = float(m.result())
        return logs


def require_samples(running: Running, where: str) -> None:
    """ValueError when a whole pass over an iterator gave no sample (every batch empty, e.g. a
    folder none of whose images can be read): nothing to train on or to average."""
    if running.seen == 0:
        raise ValueError(f"{where}: every batch was empty, no sample to {where} on (a folder "
                         f"none of whose images can be read? see the iterator's skipped)")


def fit_epochs(model: Any, data: Batches, val: Optional[Batches], loss_obj: _losses.Loss,
               epochs: int, initial_epoch: int, callbacks: Optional[Sequence[Any]],
               verbose: int) -> _callbacks.History:
    """Train ``model`` on ``data`` for epochs ``initial_epoch .. epochs-1`` (``Model.fit`` after
    its arguments are checked); returns the History."""
    history = _callbacks.History()
    cbs = list(callbacks or [])
    for cb in cbs:
        if not isinstance(cb, _callbacks.Callback):
            raise TypeError(f"callbacks must be foveal.nn.callbacks.Callback objects, got "
                            f"{type(cb).__name__}")
    progress = _progress.epoch_progress(verbose, epochs, data.steps)
    if progress is not None:
        cbs.append(progress)
    cbs.append(history)
    cb_list = _callbacks.CallbackList(cbs, model, {"epochs": epochs, "steps": data.steps,
                                                   "verbose": verbose})
    batch_logs = cb_list.wants_batch_logs
    model.stop_training = False
    cb_list.on_train_begin()
    logs: Dict[str, Any] = {}
    for epoch in range(initial_epoch, epochs):
        cb_list.on_epoch_begin(epoch)
        running = Running(model)
        for step, (xb, yb) in enumerate(data.epoch()):
            cb_list.on_train_batch_begin(step)
            if step == 0 and data.source is not None:
                model._ensure_built(xb.shape)
                model._check_input(xb.shape, "fit")
            if not is_empty(xb):   # a batch of no sample (files unreadable): no update
                p, values = model._train_step(xb, yb)
                running.update(yb, p, values)
            if batch_logs:   # no loss yet (only empty batches so far): no NaN, no logs
                cb_list.on_train_batch_end(step, running.logs() if running.seen else {})
            if model.stop_training:
                break
        data.end_epoch()
        if not model.stop_training:
            require_samples(running, "fit")
        logs = running.logs()
        if val is not None:
            val_logs = evaluate_batches(model, val, loss_obj)
            logs.update({f"val_{k}": v for k, v in val_logs.items()})
        cb_list.on_epoch_end(epoch, logs)
        if model.stop_training:
            break
    cb_list.on_train_end(logs)
    return history


def _inference_forward(model: Any, graph: Any, xb: np.ndarray) -> np.ndarray:
    """The model's output for one batch in inference mode: GPU-resident on "cuda"
    (``_device_train``), else (or where the GPU path cannot run the model) the graph's."""
    if _device_state["device"] != "cpu" or model._device_session is not None:
        p = _device_train.predict_batch(model, xb)
        if p is not None:
            return p
    return graph.forward(xb, False)


def _inference_pass(model: Any, data: Batches, verbose: int, title: str, where: str,
                    on_batch: Callable[[Any, np.ndarray, Any], None]) -> Any:
    """One pass over ``data`` in inference mode: ``on_batch(graph, x, y)`` for each batch (the
    model built and its input checked on the first), a progress bar at ``verbose=1``. Returns
    the model's graph."""
    graph = model._graph
    progress = _progress.bar(data.steps, title) if verbose == 1 else None
    try:
        for step, (xb, yb) in enumerate(data.epoch()):
            if step == 0:
                graph = model._ensure_built(xb.shape)
                model._check_input(xb.shape, where)
            on_batch(graph, xb, yb)
            if progress is not None:
                progress.update(1)
        data.end_epoch()
    finally:
        if progress is not None:
            progress.close()
    return graph


def evaluate_batches(model: Any, data: Batches, loss_obj: _losses.Loss, verbose: int = 0
                     ) -> Dict[str, float]:
    """The mean loss and metrics of ``model`` over ``data``, in inference mode."""
    running = Running(model)

    def add(graph: Any, xb: np.ndarray, yb: Any) -> None:
        if yb is None:
            raise ValueError("evaluate needs targets: y, or (x, y) batches")
        if not is_empty(xb):   # an empty batch adds nothing to the means
            p = _inference_forward(model, graph, xb)
            running.update(yb, p, loss_obj._values(yb, p))

    _inference_pass(model, data, verbose, "Evaluate", "evaluate", add)
    require_samples(running, "evaluate")
    return running.logs()


def predict_batches(model: Any, data: Batches, verbose: int) -> np.ndarray:
    """The outputs of ``model`` for every sample of ``data``, in inference mode, as one float32
    array (a batch of no samples gives no row)."""
    outs: List[np.ndarray] = []
    empty: List[np.ndarray] = []

    def add(graph: Any, xb: np.ndarray, _: Any) -> None:
        if is_empty(xb):   # no sample, no row
            empty.append(xb)
        else:
            outs.append(_inference_forward(model, graph, xb))

    graph = _inference_pass(model, data, verbose, "Predict", "predict", add)
    if not outs:
        return graph.empty_output(empty[-1])
    if len(outs) == 1:
        return np.array(outs[0], dtype=np.float32, copy=True)
    return np.concatenate(outs, axis=0)


def batch_result(model: Any, y: Any, p: np.ndarray, values: np.ndarray, return_dict: bool) -> Any:
    """One batch's loss (and metrics) as ``train_on_batch``/``test_on_batch`` return them."""
    running = Running(model)
    running.update(y, p, values)
    logs = running.logs()
    if return_dict:
        return logs
    vals = list(logs.values())
    return vals[0] if len(vals) == 1 else vals
