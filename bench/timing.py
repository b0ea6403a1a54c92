"""How the benchmarks time a call: warm-up, then interleaved repeats, then statistics.

* Each function is warmed up first; the number of timed calls is then chosen so that a
  measurement lasts at least ``min_time`` seconds and has at least ``min_repeats`` calls
  (``--quick`` lowers both).
* Several libraries doing the same work are timed interleaved: the timed calls are split into
  rounds, and in each round every library runs one block of calls in turn (A, B, C, then B, C,
  A, ...: the order rotates, so no library always follows the same one), after a short pause
  that lets the previous library's worker threads stop spinning. A transient slowdown of the
  machine then hits every library alike instead of skewing one ratio.
* A :class:`Timing` keeps the best call (the reported time: on a shared machine noise only
  ever adds time), the median and the spread; a ratio is ``peer time / foveal time`` from the
  best calls: above 1, foveal is faster.
"""

from __future__ import annotations

import contextlib
import math
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

# A library's timed call and the factory of a context entered around each block of its calls
# (e.g. torch.inference_mode), or None.
Call = Tuple[Callable[[], Any], Optional[Callable[[], Any]]]

# Pause before each interleaved block, longer than the thread pools' spin-wait periods.
SETTLE_SECONDS = 0.05


@dataclass
class Timing:
    median_s: float
    min_s: float
    mean_s: float
    stdev_s: float
    repeats: int
    total_s: float
    iqr_rel: float = 0.0       # (p75 - p25) / median: a noise indicator

    @classmethod
    def from_times(cls, ts: Sequence[float]) -> "Timing":
        ts = sorted(ts)
        med = statistics.median(ts)
        if len(ts) >= 4:
            q = statistics.quantiles(ts, n=4)
            iqr = (q[2] - q[0]) / med if med > 0 else 0.0
        else:
            iqr = (ts[-1] - ts[0]) / med if med > 0 else 0.0
        return cls(median_s=med, min_s=ts[0], mean_s=statistics.fmean(ts),
                   stdev_s=statistics.pstdev(ts) if len(ts) > 1 else 0.0,
                   repeats=len(ts), total_s=sum(ts), iqr_rel=iqr)

    def to_dict(self) -> Dict[str, Any]:
        return asdict(self)


@dataclass
class TimingConfig:
    min_time: float = 0.3      # seconds spent on the timed calls of one measurement (at least)
    min_repeats: int = 10      # timed calls (at least)
    max_repeats: int = 1000    # timed calls (at most)
    max_time: float = 5.0      # stop adding calls beyond this once min_repeats is reached
    warmup: int = 2            # untimed calls first (at least one; more for very short calls)

    @classmethod
    def from_args(cls, quick: bool) -> "TimingConfig":
        if quick:
            return cls(min_time=0.05, min_repeats=3, max_repeats=50, max_time=1.0, warmup=1)
        return cls()


def warm_up(fn: Callable[[], Any], cfg: TimingConfig) -> int:
    """Warm ``fn`` up and return how many timed calls to make.

    The first call sizes the warm-up: short calls get extra warm-up (about 0.05 s) so caches,
    thread pools and allocators are hot. A call after warm-up sizes the run:
    ``repeats = max(min_repeats, min_time / t)`` capped by ``max_repeats`` and ``max_time``.
    """
    perf = time.perf_counter
    t0 = perf()
    fn()
    first = perf() - t0
    warm_left = max(cfg.warmup - 1, 0)
    if first < 0.01:
        warm_left = max(warm_left, min(int(0.05 / max(first, 1e-7)), 200))
    for _ in range(warm_left):
        fn()
    # re-estimate after warm-up (the first call often pays one-off costs)
    t0 = perf()
    fn()
    est = max(perf() - t0, 1e-7)
    repeats = max(cfg.min_repeats, int(math.ceil(cfg.min_time / est)))
    return min(repeats, cfg.max_repeats, max(cfg.min_repeats, int(cfg.max_time / est)))


def measure(fn: Callable[[], Any], cfg: Optional[TimingConfig] = None) -> Timing:
    """Wall times of ``fn()`` (best, median, spread) after :func:`warm_up`, which also sizes
    the run."""
    cfg = cfg or TimingConfig()
    perf = time.perf_counter
    repeats = warm_up(fn, cfg)
    times: List[float] = []
    for _ in range(repeats):
        t0 = perf()
        fn()
        times.append(perf() - t0)
    return Timing.from_times(times)


def _entered(ctx: Optional[Callable[[], Any]]):
    return ctx() if ctx is not None else contextlib.nullcontext()


def measure_interleaved(fns: Dict[str, Call], cfg: Optional[TimingConfig] = None,
                        rounds: int = 5) -> Dict[str, Timing]:
    """Time several implementations of the same workload, interleaved.

    ``fns`` maps a label to ``(fn, context_factory_or_None)``; a fresh context from the
    factory (e.g. ``torch.inference_mode``) is entered around each block of calls.
    Every label is warmed up and sized as in :func:`measure`, then the timed calls are
    split into ``rounds`` blocks run round-robin, the order rotating each round
    (A, B, C, then B, C, A, ...),
    so a transient slowdown of the machine (another process, a noisy host) hits every
    library alike instead of skewing the ratios. Returns a Timing per label. An
    exception from a call propagates (callers run each function once beforehand).
    """
    cfg = cfg or TimingConfig()
    perf = time.perf_counter
    plans: Dict[str, int] = {}
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for label, (fn, ctx) in fns.items():
        with _entered(ctx):
            plans[label] = warm_up(fn, cfg)
    rounds = max(1, min(rounds, min(plans.values()) if plans else 1))
    labels = list(fns)
    for r in range(rounds):
        for label in labels[r % len(labels):] + labels[:r % len(labels)]:   # rotating order
            fn, ctx = fns[label]
            n = plans[label] // rounds + (1 if r < plans[label] % rounds else 0)
            ts = times[label]
            # Let the previous library's idle worker threads (OpenMP, ONNX Runtime) stop
            # spin-waiting first: on 2 cores a spinning pool would steal a core from this block.
            time.sleep(SETTLE_SECONDS)
            with _entered(ctx):
                for _ in range(n):
                    t0 = perf()
                    fn()
                    ts.append(perf() - t0)
    return {label: Timing.from_times(ts) for label, ts in times.items()}


def measure_each(fns: Dict[str, Call], cfg: TimingConfig, errors: Dict[str, str],
                 what: str = "") -> Dict[str, Timing]:
    """:func:`measure_interleaved` over ``fns``; if a call that passed once fails later, each
    library is timed alone instead and a failure goes to ``errors[lib]`` (prefixed by
    ``what``). Returns the Timings of the libraries that ran."""
    if not fns:
        return {}
    try:
        return measure_interleaved(fns, cfg)
    except Exception:
        timings: Dict[str, Timing] = {}
        for lib, (fn, ctx) in fns.items():
            try:
                with _entered(ctx):
                    timings[lib] = measure(fn, cfg)
            except Exception as exc:
                errors[lib] = f"{what + ' ' if what else ''}timing failed: {type(exc).__name__}: {exc}"
        return timings


def call_once(fns: Dict[str, Callable[[], Any]], errors: Dict[str, str],
              what: str) -> Dict[str, Callable[[], Any]]:
    """Call each library's function once, untimed, so that a failure shows here (as
    ``errors[lib] = "<what> failed: ..."``) and not mid-timing. Returns those that ran."""
    ran: Dict[str, Callable[[], Any]] = {}
    for lib, fn in fns.items():
        try:
            fn()
            ran[lib] = fn
        except Exception as exc:
            errors[lib] = f"{what} failed: {type(exc).__name__}: {exc}"
    return ran


def ratios(timings: Dict[str, Timing], peers: Iterable[str]) -> Dict[str, float]:
    """``peer time / foveal time`` (best calls) for each peer timed alongside foveal."""
    if "foveal" not in timings:
        return {}
    return {lib: timings[lib].min_s / timings["foveal"].min_s
            for lib in peers if lib in timings}


def geomean(values: Iterable[Optional[float]]) -> Optional[float]:
    """The geometric mean of the positive, finite values (None when there are none)."""
    vals = [float(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))
