"""Training curves from a ``fit`` history."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Sequence, Union

from ._figure import check_path, finish, new_figure


def _history_dict(history: Any) -> Dict[str, List[float]]:
    """The ``{name: per-epoch values}`` of a History object (foveal's or Keras's) or a dict."""
    values = getattr(history, "history", history)
    if not isinstance(values, Mapping):
        raise TypeError(f"history must be a History (what fit returns) or its .history dict, got "
                        f"{type(history).__name__}")
    out: Dict[str, List[float]] = {}
    for key, series in values.items():
        if not isinstance(key, str):
            raise TypeError(f"history: keys must be metric names (str), got {key!r}")
        try:
            out[key] = [float(v) for v in series]
        except (TypeError, ValueError):
            raise TypeError(f"history[{key!r}] must be a list of numbers, one per epoch") from None
    return out


def _epochs(history: Any, n: int) -> List[int]:
    """Epoch numbers counted from 1: the History's ``epoch`` indices plus one where they match
    the values (a fit with ``initial_epoch``), else ``1 .. n``."""
    epoch = getattr(history, "epoch", None)
    if isinstance(epoch, Sequence) and len(epoch) == n and all(isinstance(e, int) for e in epoch):
        return [e + 1 for e in epoch]
    return list(range(1, n + 1))


def plot_history(history: Any, metrics: Union[None, str, Sequence[str]] = None,
                 path: Any = None) -> Any:
    """Training curves: one panel per metric, its training values and, where the history has
    them, its ``val_`` twin, against the epoch (counted from 1).

    Args:
        history: what ``Model.fit`` returns (a ``History``; Keras's works too) or its
            ``.history`` dict ``{"loss": [...], "val_loss": [...], ...}``, one value per epoch.
        metrics: the metric names to draw (``"loss"``, ``["loss", "accuracy"]``); None: every
            name in the history that does not start with ``val_`` (in the history's order).
            A name found only as ``val_<name>`` draws that alone.
        path: where to save the figure as a PNG (written atomically); None: not saved.

    Returns:
        The matplotlib ``Figure``: one ``Axes`` per metric, titled with the metric's name, x
        label ``"epoch"``, y label the metric's name, lines labelled ``"training"`` and
        ``"validation"`` with a legend; the figure's title is ``"Training history"``.

    Raises:
        TypeError: ``history`` is not a History or a dict of number lists; ``metrics`` is not a
            name or a list of names; ``path`` is not a path.
        ValueError: ``history`` is empty, or a name in ``metrics`` is not in it.
    """
    values = _history_dict(history)
    path = check_path(path)
    if not values or not any(values.values()):
        raise ValueError("history is empty: no epoch was recorded")
    if metrics is None:
        names = [k for k in values if not k.startswith("val_")] or \
                [k[len("val_"):] for k in values]
    else:
        names = [metrics] if isinstance(metrics, str) else metrics
        if not isinstance(names, Sequence) or not all(isinstance(m, str) for m in names):
            raise TypeError(f"metrics must be a metric name or a list of names, got {metrics!r}")
        names = list(names)
        if not names:
            raise ValueError("metrics must name at least one metric")
        missing = [m for m in names if m not in values and f"val_{m}" not in values]
        if missing:
            raise ValueError(f"metrics: {', '.join(map(repr, missing))} not in the history; it has "
                             f"{', '.join(values)}")
    cols = min(len(names), 3)
    rows = math.ceil(len(names) / cols)
    fig = new_figure(4.6 * cols, 3.4 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    from matplotlib.ticker import MaxNLocator

    for k, name in enumerate(names):
        ax = axes[k // cols][k % cols]
        for key, label, style in ((name, "training", "-o"), (f"val_{name}", "validation", "--s")):
            if key in values and values[key]:
                ys = values[key]
                ax.plot(_epochs(history, len(ys)), ys, style, label=label,
                        markersize=3 if len(ys) <= 50 else 0)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(True, alpha=0.3)
        ax.legend()
    for k in range(len(names), rows * cols):
        axes[k // cols][k % cols].remove()
    fig.suptitle("Training history")
    return finish(fig, path)
