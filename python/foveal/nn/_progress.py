"""Progress display for fit/evaluate/predict/extract, on stdout as Keras's progress output is.

Where the output goes decides the form, as in Keras:

- ``verbose=1`` on a terminal (``sys.stdout.isatty()``): a live bar (tqdm) per epoch with the
  running loss and metrics; evaluate/predict/extract a live bar over their batches.
- ``verbose=1`` when stdout is not a terminal (a log file, a pipe, CI, a captured stream): one
  line per epoch, ``Epoch 3/12 - 1.2s - loss: 0.1234 - accuracy: 0.9500 - val_loss: ...``, and
  one final line for evaluate/predict/extract; no carriage return is ever written.
- ``verbose=2``: one line per epoch wherever the output goes (evaluate/predict/extract: none).
- ``verbose=0``: nothing.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any, Dict, Optional, TextIO

from .callbacks import Callback


def verbosity(verbose: Any) -> int:
    """``"auto"`` → 1; otherwise 0, 1 or 2."""
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"verbose must be 'auto', 0, 1 or 2, got {verbose!r}")
    return int(verbose)


def is_terminal(stream: Optional[TextIO] = None) -> bool:
    """Whether ``stream`` (default: the current ``sys.stdout``) is an interactive terminal, where
    a live bar can redraw itself with carriage returns. A stream without ``isatty``, a closed
    one, or a terminal that reports no width (a bare pseudo-terminal: a bar would draw
    nothing) is not."""
    stream = sys.stdout if stream is None else stream
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError, OSError):
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):   # no file descriptor to ask: trust isatty
        return True


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


def _seconds(took: float) -> str:
    """``1.2s`` (one decimal below a minute, whole seconds above)."""
    return f"{took:.1f}s" if took < 60 else f"{took:.0f}s"


class FinalLine:
    """The off-terminal stand-in for a bar over ``total`` batches: counts the updates and, when
    closed after all of them, prints one line ``Predict: 32/32 - 0.4s - 12ms/step``."""

    def __init__(self, total: int, desc: Optional[str] = None) -> None:
        self.total, self.desc = int(total), desc
        self.n = 0
        self._start = time.perf_counter()
        self._closed = False

    def update(self, n: int = 1) -> None:
        """Count ``n`` more batches done."""
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        """Accepted for tqdm's interface; the final line has no postfix."""

    def close(self) -> None:
        """Print the line once, if every batch was done (an interrupted pass prints nothing)."""
        if self._closed:
            return
        self._closed = True
        if self.n < self.total or self.total <= 0:
            return
        took = time.perf_counter() - self._start
        head = f"{self.desc}: " if self.desc else ""
        print(f"{head}{self.n}/{self.total} - {_seconds(took)} - "
              f"{1000.0 * took / self.n:.0f}ms/step", flush=True)


def bar(total: int, desc: Optional[str] = None) -> Any:
    """Progress over ``total`` steps on stdout: a tqdm bar on a terminal, else a
    :class:`FinalLine` (one line at the end). Both have ``update``, ``set_postfix_str`` and
    ``close``."""
    if not is_terminal():
        return FinalLine(total, desc)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="step", file=sys.stdout, leave=True, dynamic_ncols=True)


def epoch_progress(verbose: int, epochs: int, steps: int) -> Optional[Callback]:
    """The callback that shows ``fit``'s progress: a live :class:`ProgressBar` at ``verbose=1``
    on a terminal, an :class:`EpochLine` at ``verbose=1`` elsewhere and at ``verbose=2``, None at
    ``verbose=0``."""
    if verbose == 1 and is_terminal():
        return ProgressBar(epochs, steps)
    if verbose in (1, 2):
        return EpochLine(epochs)
    return None


class ProgressBar(Callback):
    """verbose=1 on a terminal: one tqdm bar per epoch with the running loss and metrics."""

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
    """One line per epoch, as Keras's ``verbose=2``:
    ``Epoch 3/12 - 1.2s - loss: 0.3012 - accuracy: 0.9123 - val_loss: ...``. It needs no batch
    hook, so training computes no per-batch logs for it."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs
        self._start = 0.0

    def on_epoch_begin(self, epoch: int, logs: Any = None) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        took = time.perf_counter() - self._start
        text = format_logs(logs or {})
        print(f"Epoch {epoch + 1}/{self.epochs} - {_seconds(took)}" + (f" - {text}" if text else ""),
              flush=True)
