"""Shared helpers for the foveal benchmark scripts (bench_ops.py, bench_image.py, ...).

Import this module *before* NumPy / torch / onnxruntime so that the thread
environment variables set by :func:`set_thread_env` take effect.

Conventions used by every benchmark script:

* every library runs with the same number of threads (``THREADS``, default 2);
* a timing is the median of several calls after a warm-up; the number of
  calls is chosen so that a measurement lasts at least ``min_time`` seconds
  and has at least ``min_repeats`` calls (``--quick`` lowers both);
* results are printed as a table and written as JSON (``--json PATH``,
  default ``bench/results/<script>.json``);
* a ratio is ``peer_time / foveal_time``: above 1 means foveal is faster.
"""

from __future__ import annotations

import os

THREADS = 2


def set_thread_env(n: int = THREADS) -> None:
    """Pin the usual OpenMP/BLAS thread variables (must run before those libraries load).

    NumPy's own BLAS is not under test: it gets one thread, since an idle OpenBLAS pool
    spin-waits and on a 2-core machine would steal a core from whichever library is timed."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


set_thread_env(THREADS)

import argparse  # noqa: E402
import contextlib  # noqa: E402
import datetime  # noqa: E402
import importlib  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple  # noqa: E402

import numpy as np  # noqa: E402

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
ISA_CHOICES = ("scalar", "avx2", "avx512")


# --------------------------------------------------------------------------- timing

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
    """Median wall time of ``fn()`` after :func:`warm_up`, which also sizes the run."""
    cfg = cfg or TimingConfig()
    perf = time.perf_counter
    repeats = warm_up(fn, cfg)
    times: List[float] = []
    for _ in range(repeats):
        t0 = perf()
        fn()
        times.append(perf() - t0)
    return Timing.from_times(times)


# Pause before each interleaved block, longer than the thread pools' spin-wait periods.
SETTLE_SECONDS = 0.05


def measure_interleaved(fns: Dict[str, Tuple[Callable[[], Any], Optional[Callable[[], Any]]]],
                        cfg: Optional[TimingConfig] = None,
                        rounds: int = 5) -> Dict[str, Timing]:
    """Time several implementations of the same workload, interleaved.

    ``fns`` maps a label to ``(fn, context_factory_or_None)``; a fresh context from the
    factory (e.g. ``torch.inference_mode``) is entered around each block of calls.
    Every label is warmed up and sized as in :func:`measure`, then the timed calls are
    split into ``rounds`` blocks run round-robin (A-block, B-block, ..., A-block, ...),
    so a transient slowdown of the machine (another process, a noisy host) hits every
    library alike instead of skewing the ratios. Returns a Timing per label. An
    exception from a call propagates (callers run each function once beforehand).
    """
    cfg = cfg or TimingConfig()
    perf = time.perf_counter
    plans: Dict[str, int] = {}
    times: Dict[str, List[float]] = {k: [] for k in fns}
    for label, (fn, ctx) in fns.items():
        with (ctx() if ctx is not None else contextlib.nullcontext()):
            plans[label] = warm_up(fn, cfg)
    rounds = max(1, min(rounds, min(plans.values()) if plans else 1))
    for r in range(rounds):
        for label, (fn, ctx) in fns.items():
            n = plans[label] // rounds + (1 if r < plans[label] % rounds else 0)
            ts = times[label]
            # Let the previous library's idle worker threads (OpenMP, ONNX Runtime) stop
            # spin-waiting first: on 2 cores a spinning pool would steal a core from this block.
            time.sleep(SETTLE_SECONDS)
            with (ctx() if ctx is not None else contextlib.nullcontext()):
                for _ in range(n):
                    t0 = perf()
                    fn()
                    ts.append(perf() - t0)
    return {label: Timing.from_times(ts) for label, ts in times.items()}


def measure_each(fns: Dict[str, Tuple[Callable[[], Any], Optional[Callable[[], Any]]]],
                 cfg: TimingConfig, errors: Dict[str, str], what: str = "") -> Dict[str, Timing]:
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
                with (ctx() if ctx is not None else contextlib.nullcontext()):
                    timings[lib] = measure(fn, cfg)
            except Exception as exc:
                errors[lib] = f"{what + ' ' if what else ''}timing failed: {type(exc).__name__}: {exc}"
        return timings


def geomean(values: Iterable[float]) -> Optional[float]:
    vals = [float(v) for v in values if v is not None and v > 0 and math.isfinite(v)]
    if not vals:
        return None
    return math.exp(sum(math.log(v) for v in vals) / len(vals))


# --------------------------------------------------------------------------- checking

def check_close(ref: np.ndarray, out: np.ndarray, tol: float = 1e-3) -> Dict[str, Any]:
    """Compare two arrays (same layout). ok when |ref - out| <= tol + tol*|ref| everywhere."""
    ref = np.asarray(ref, dtype=np.float64)
    out = np.asarray(out, dtype=np.float64)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": None,
                "reason": f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"}
    if ref.size == 0:
        return {"ok": True, "max_abs_err": 0.0}
    err = np.abs(ref - out)
    max_err = float(np.nanmax(err)) if np.isfinite(err).any() else float("inf")
    ok = bool(np.all(err <= tol + tol * np.abs(ref))) and bool(np.isfinite(out).all())
    return {"ok": ok, "max_abs_err": max_err}


# --------------------------------------------------------------------------- optional imports

def import_optional(name: str, notes: Optional[List[str]] = None):
    """Import a module or return None, recording a printable note about why."""
    try:
        return importlib.import_module(name)
    except Exception as exc:  # ImportError, or a broken install raising something else
        msg = f"{name} not available ({type(exc).__name__}: {exc}); its columns are skipped"
        if notes is not None:
            notes.append(msg)
        return None


def load_foveal(notes: Optional[List[str]] = None, threads: int = THREADS):
    """Import foveal (installed, else from the checkout's python/) and set its threads.

    Returns ``(foveal_module_or_None, build_info_dict)``.
    """
    try:
        import foveal  # noqa: F401
    except ImportError:
        # not installed: try the checkout (python/foveal, built in place)
        for cand in (os.path.join(REPO_ROOT, "python"), REPO_ROOT):
            if os.path.isdir(os.path.join(cand, "foveal")) and cand not in sys.path:
                sys.path.insert(0, cand)
                break
    try:
        foveal = importlib.import_module("foveal")
        importlib.import_module("foveal.nn.functional")
    except Exception as exc:
        if notes is not None:
            notes.append(f"foveal not importable ({type(exc).__name__}: {exc}); "
                         "foveal columns are n/a")
        return None, {}
    info: Dict[str, Any] = {}
    try:
        foveal.set_num_threads(threads)
    except Exception as exc:
        if notes is not None:
            notes.append(f"foveal.set_num_threads({threads}) failed: {exc}")
    try:
        info = dict(foveal.build_info())
    except Exception as exc:
        if notes is not None:
            notes.append(f"foveal.build_info() failed: {exc}")
    try:
        info["num_threads"] = foveal.get_num_threads()
    except Exception:
        pass
    return foveal, _jsonable(info)


def foveal_isa(foveal) -> Optional[str]:
    if foveal is None:
        return None
    try:
        return foveal.build_info().get("isa")
    except Exception:
        return None


def apply_isa_request(isa: Optional[str], script: str, argv: Sequence[str]) -> Optional[int]:
    """Honour ``--isa``: FOVEAL_ISA must be set before foveal is imported.

    If foveal is not yet imported, set the variable and return None (carry on).
    If it already is (e.g. called from the ``foveal bench`` CLI), re-run the script
    in a child process with the variable set and return its exit code.
    """
    if not isa:
        return None
    if "foveal" not in sys.modules or os.environ.get("FOVEAL_ISA") == isa:
        os.environ["FOVEAL_ISA"] = isa
        return None
    env = dict(os.environ, FOVEAL_ISA=isa)
    child_argv = _strip_option(list(argv), "--isa")
    return subprocess.call([sys.executable, script, *child_argv], env=env)


def _strip_option(argv: List[str], opt: str) -> List[str]:
    out: List[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == opt:
            skip = True
            continue
        if a.startswith(opt + "="):
            continue
        out.append(a)
    return out


# --------------------------------------------------------------------------- CLI / output

def common_parser(script_name: str, description: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=script_name, description=description)
    p.add_argument("--quick", action="store_true",
                   help="fewer repeats (a smoke run; numbers are noisier)")
    p.add_argument("--json", metavar="PATH", default=default_json_path(script_name),
                   help="where to write the JSON results (default: %(default)s)")
    p.add_argument("--only", metavar="NAME", action="append", default=None,
                   help="run only workloads whose name contains NAME (repeatable)")
    p.add_argument("--isa", choices=ISA_CHOICES, default=None,
                   help="force foveal's kernel ISA (sets FOVEAL_ISA before foveal is imported)")
    p.add_argument("--threads", type=int, default=THREADS,
                   help="threads for every library (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    return p



def start(script: str, doc: str, listing: Dict[str, str], argv: Optional[Sequence[str]]):
    """The shared start of a benchmark's ``main``: parse the common options, answer ``--list``,
    select the workloads (``--only``), re-run under ``--isa`` when asked, and set the thread
    environment. ``listing`` maps each workload name to its one-line description. Returns
    ``(args, names, argv, rc)``: when ``rc`` is not None, ``main`` returns it at once."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = common_parser(os.path.basename(script), doc.strip().splitlines()[0]).parse_args(argv)
    names = select(list(listing), args.only)
    if args.list:
        for name, description in listing.items():
            print(f"{name:30s} {description}")
        return args, names, argv, 0
    if not names:
        print(f"no workload matches --only {args.only}; use --list", file=sys.stderr)
        return args, names, argv, 2
    rc = apply_isa_request(args.isa, os.path.abspath(script), argv)
    if rc is not None:
        return args, names, argv, rc
    set_thread_env(args.threads)  # effective for libraries not imported yet
    return args, names, argv, None


def default_json_path(script_name: str) -> str:
    base = os.path.splitext(os.path.basename(script_name))[0]
    return os.path.join(RESULTS_DIR, base + ".json")


def select(names: Sequence[str], only: Optional[Sequence[str]]) -> List[str]:
    if not only:
        return list(names)
    return [n for n in names if any(o.lower() in n.lower() for o in only)]


def fmt_ms(seconds: Optional[float]) -> str:
    if seconds is None:
        return "n/a"
    ms = seconds * 1e3
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3f}"


def fmt_num(x: Optional[float], digits: int = 1) -> str:
    if x is None:
        return "n/a"
    return f"{x:.{digits}f}"


def fmt_ratio(x: Optional[float]) -> str:
    if x is None:
        return "n/a"
    return f"{x:.2f}x"


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                align_left: Sequence[int] = (0,), file=None) -> None:
    file = file or sys.stdout
    cells = [[str(c) for c in r] for r in rows]
    widths = [len(h) for h in headers]
    for r in cells:
        for i, c in enumerate(r):
            widths[i] = max(widths[i], len(c))

    def line(vals):
        parts = []
        for i, v in enumerate(vals):
            parts.append(v.ljust(widths[i]) if i in align_left else v.rjust(widths[i]))
        return "  ".join(parts).rstrip()

    print(line(list(headers)), file=file)
    print("  ".join("-" * w for w in widths), file=file)
    for r in cells:
        print(line(r), file=file)
    file.flush()


def loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def system_info(threads: int = THREADS) -> Dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for ln in f:
                if ln.startswith("model name"):
                    cpu = ln.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "host": platform.node(),
        "platform": platform.platform(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "threads": threads,
        "env": {k: os.environ.get(k) for k in ("OMP_NUM_THREADS", "FOVEAL_ISA")},
        "loadavg_start": loadavg(),
    }


class CpuMonitor:
    """How much CPU other processes used while we ran (Linux /proc/stat; else None).

    ``busy_other = (all CPUs' busy time) - (this process's CPU time)``, as a fraction
    of ``wall time x CPU count``. Also the steal time (a busy VM host)."""

    def __init__(self) -> None:
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                vals = [int(v) for v in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        user, nice, system, idle, iowait, irq, softirq, steal = (vals + [0] * 8)[:8]
        busy = (user + nice + system + irq + softirq) / hz
        t = os.times()
        return time.perf_counter(), busy, steal / hz, t.user + t.system

    def stop(self) -> Optional[Dict[str, float]]:
        end = self._sample()
        if self.start is None or end is None:
            return None
        wall = end[0] - self.start[0]
        ncpu = os.cpu_count() or 1
        if wall <= 0:
            return None
        other = max((end[1] - self.start[1]) - (end[3] - self.start[3]), 0.0)
        return {"wall_s": round(wall, 2),
                "other_cpu_frac": round(other / (wall * ncpu), 3),
                "steal_frac": round((end[2] - self.start[2]) / (wall * ncpu), 3)}

    @staticmethod
    def note(stats: Optional[Dict[str, float]], limit: float = 0.1) -> Optional[str]:
        if not stats:
            return None
        parts = []
        if stats["other_cpu_frac"] > limit:
            parts.append(f"other processes used {stats['other_cpu_frac']:.0%} of the CPUs")
        if stats["steal_frac"] > limit:
            parts.append(f"the VM host stole {stats['steal_frac']:.0%} of the CPU time")
        if not parts:
            return None
        return " and ".join(parts) + " during the run: numbers are noisy (rerun on an idle machine)"


def noisy_load_note(load_start: Optional[List[float]], load_end: Optional[List[float]],
                    threads: int, cpu_count: Optional[int]) -> Optional[str]:
    """A warning when other processes competed for the CPUs during the run."""
    if not load_end or not cpu_count:
        return None
    # our own run contributes about `threads` to the 1-minute load average
    spare = cpu_count - threads
    peak = max(load_end[0], (load_start or [0])[0])
    if peak > threads + max(spare, 0) + 0.5:
        return (f"load average {peak:.1f} on {cpu_count} CPUs while benchmarking "
                f"(start {load_start}, end {load_end}): other processes competed for the "
                "CPUs, numbers are noisy")
    return None


NOISY_IQR = 0.25  # interquartile range / median above which a timing is flagged as noisy


def print_header(title: str, sysinfo: Dict[str, Any], modules: Dict[str, Any],
                 finfo: Optional[Dict[str, Any]] = None) -> Dict[str, Optional[str]]:
    """The opening lines every bench script prints: its title, the CPU and Python, the
    libraries' versions and (when foveal loaded) its ISA and threads. Returns the versions."""
    print(title)
    print(f"cpu: {sysinfo['cpu']} ({sysinfo['cpu_count']} logical CPUs), "
          f"python {sysinfo['python']}, numpy {sysinfo['numpy']}")
    vers = versions(modules)
    print("versions: " + ", ".join(f"{k} {v or 'n/a'}" for k, v in vers.items()))
    if finfo is not None:
        print(f"foveal: isa {finfo.get('isa', 'n/a')}, threads {finfo.get('num_threads', 'n/a')}, "
              f"FOVEAL_ISA={os.environ.get('FOVEAL_ISA') or '(unset)'}")
    return vers


def end_of_run(warnings: List[str], timings: Iterable[Tuple[str, Dict[str, Dict[str, Any]]]],
               short: Dict[str, str], monitor: "CpuMonitor", sysinfo: Dict[str, Any],
               threads: int) -> Dict[str, Any]:
    """The end-of-run checks every bench script makes: timings with a wide spread (per name and
    library), then CPU contention seen by the monitor or a busy load average. Stops the monitor,
    appends those warnings to the script's own ``warnings``, prints them all, and returns the
    JSON's ``system`` entry (``sysinfo`` with the load average at the end and the monitor's
    statistics)."""
    noisy_runs = [f"{name}/{short[lib]} {t['iqr_rel']:.0%}" for name, libs in timings
                  for lib, t in libs.items() if t.get("iqr_rel", 0) > NOISY_IQR]
    if noisy_runs:
        warnings.append("timings with a wide spread (interquartile range / median > "
                        f"{NOISY_IQR:.0%}; the machine was busy or noisy): "
                        + ", ".join(noisy_runs))
    load_end = loadavg()
    cpu_stats = monitor.stop()
    noisy = (CpuMonitor.note(cpu_stats)
             or noisy_load_note(sysinfo["loadavg_start"], load_end, threads, sysinfo["cpu_count"]))
    if noisy:
        warnings.append(noisy)
    if warnings:
        print()
    for w in warnings:
        print("WARNING: " + w)
    return {**sysinfo, "loadavg_end": load_end, "cpu_contention": cpu_stats}


def write_json(path: str, payload: Dict[str, Any]) -> str:
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(_jsonable(payload), f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)


def versions(modules: Dict[str, Any]) -> Dict[str, Optional[str]]:
    out = {}
    for name, mod in modules.items():
        out[name] = getattr(mod, "__version__", None) if mod is not None else None
    return out


__all__ = [
    "THREADS", "ISA_CHOICES", "RESULTS_DIR", "REPO_ROOT", "Timing", "TimingConfig", "measure",
    "measure_interleaved", "measure_each", "geomean", "check_close", "import_optional", "load_foveal",
    "foveal_isa", "apply_isa_request", "common_parser", "default_json_path", "select", "fmt_ms",
    "fmt_num", "fmt_ratio", "print_table", "loadavg", "system_info", "noisy_load_note",
    "CpuMonitor", "write_json", "versions", "set_thread_env",
]


def check_max_abs(ref: np.ndarray, out: np.ndarray, max_abs: float = 1.0) -> Dict[str, Any]:
    """Compare two arrays by absolute difference (e.g. uint8 images that may differ by rounding).

    ok when shape and dtype agree and ``|ref - out| <= max_abs`` everywhere; also reports the
    fraction of elements beyond ``max_abs`` (``frac_over``), to tell a few edge pixels from a
    wrong result."""
    ref = np.asarray(ref)
    out = np.asarray(out)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": None,
                "reason": f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"}
    if ref.dtype != out.dtype:
        return {"ok": False, "max_abs_err": None,
                "reason": f"dtype {out.dtype} != expected {ref.dtype}"}
    if ref.size == 0:
        return {"ok": True, "max_abs_err": 0.0, "frac_over": 0.0}
    err = np.abs(ref.astype(np.float64) - out.astype(np.float64))
    max_err = float(err.max())
    over = float(np.count_nonzero(err > max_abs)) / err.size
    return {"ok": bool(max_err <= max_abs), "max_abs_err": max_err, "frac_over": over}


__all__.append("check_max_abs")
