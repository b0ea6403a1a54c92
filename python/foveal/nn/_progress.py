"""Progress display for fit/evaluate/predict: a tqdm bar (verbose=1) or one line per epoch
(verbose=2), both written to stdout as Keras's progress output is."""

from __future__ import annotations

import sys
import time
from typing import Any, Dict, Optional

from .callbacks import Callback


def verbosity(verbose: Any) -> int:
    """``"auto"`` → 1; otherwise 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def format_logs(logs: Dict[str, Any], sep: str = " - ") -> str:
    """``loss: 0.1234 - accuracy: 0.9876``: four decimals, or, as Keras's progress bar does for
    values of at most 1e-3 in size (a small learning rate), ``1.0000e-05``."""
    parts = []
    for k, v in logs.items():
        if isinstance(v, float):
            parts.append(f"{k}: {v:.4f}" if abs(v) > 1e-3 else f"{k}: {v:.4e}")
        else:
            parts.append(f"{k}: {v}")
    return sep.join(parts)


def bar(total: int, desc: Optional[str] = None) -> Any:
    """A tqdm progress bar on stdout over ``total`` steps."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stdout, leave=True, dynamic_ncols=True)


class ProgressBar(Callback):
    """verbose=1: one tqdm bar per epoch with the running loss and metrics."""

    #: seconds between postfix updates (formatting them every step would cost more than a tiny step)
    interval = 0.2

    def __init__(self, epochs: int, steps: int) -> None:
        super().__init__()
        self.epochs, self.steps = epochs, steps
        self._bar: Any = None
        self._last = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._bar = bar(self.steps, f"Epoch {epoch + 1}/{self.epochs}")
        self._last = 0.0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        now = time.monotonic()
        if logs and now - self._last >= self.interval:
            self._last = now
            self._bar.set_postfix_str(format_logs(logs, ", "), refresh=False)
        self._bar.update(1)

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(format_logs(logs or {}, ", "), refresh=False)
            self._bar.close()
            self._bar = None

    def on_train_end(self, logs: Any = None) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochLine(Callback):
    """verbose=2: ``Epoch 3/10 - 2s - 14ms/step - loss: 0.3012 - accuracy: 0.9123 - val_...``."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self._start = 0.0
        self._steps = 0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()
        self._steps = 0

    def on_train_batch_end(self, batch: int, logs: Any = None) -> None:
        self._steps += 1

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        took = time.perf_counter() - self._start
        per_step = 1000.0 * took / max(self._steps, 1)
        text = format_logs(logs or {})
        print(f"Epoch {epoch + 1}/{self.epochs} - {took:.0f}s - {per_step:.0f}ms/step"
              + (f" - {text}" if text else ""), flush=True)
