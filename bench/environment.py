"""Where the benchmarks run: the thread environment, the machine, and whether it stayed quiet.

Importing this module (``bench/__init__.py`` does, before anything else of the package) pins the
thread variables and Keras's backend, so it must happen before NumPy, torch, ONNX Runtime or Keras
load; every script imports from the package first. It also describes the machine for the opening
lines and the JSON, and makes the end-of-run checks for a busy or noisy machine.
"""

from __future__ import annotations

import datetime
import os
import platform
import time
from typing import Any, Dict, Iterable, List, Optional, Tuple

THREADS = 2                # threads for every library, unless --threads says otherwise
NOISY_IQR = 0.25           # interquartile range / median above which a timing is flagged as noisy


def set_thread_env(n: int = THREADS) -> None:
    """Pin the usual OpenMP/BLAS thread variables (must run before those libraries load).

    NumPy's own BLAS is not under test: it gets one thread, since an idle OpenBLAS pool
    spin-waits and on a 2-core machine would steal a core from whichever library is timed."""
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ["OPENBLAS_NUM_THREADS"] = "1"


set_thread_env(THREADS)
# Keras reads its backend when first imported; the benchmarks compare CPU libraries.
os.environ["KERAS_BACKEND"] = "torch"
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")


# --------------------------------------------------------------------------- the machine

def loadavg() -> Optional[List[float]]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except (OSError, AttributeError):
        return None


def system_info(threads: int = THREADS) -> Dict[str, Any]:
    """The machine, Python and NumPy, the thread settings and the load average at the start."""
    import numpy as np

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


def versions(modules: Dict[str, Any]) -> Dict[str, Optional[str]]:
    """``__version__`` of each module (None for a library that is not loaded)."""
    return {name: getattr(mod, "__version__", None) if mod is not None else None
            for name, mod in modules.items()}


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
        print(kernel_line(finfo.get("isa")))
    return vers


def kernel_line(isa: Optional[str]) -> str:
    """Which symbols the kernel table of ``isa`` holds (cpp/include/foveal/kernel_list.h): one
    line, naming only the entries that are not that ISA's own."""
    from foveal import _core
    if isa is None or not hasattr(_core, "kernel_table"):
        return "foveal kernels: n/a"
    table = _core.kernel_table(isa)
    other = [f"{field}={sym}" for field, sym in table.items() if not sym.endswith(f"__{isa}")]
    return (f"foveal kernels: {len(table)} list entries, "
            + (f"all *__{isa}" if not other else "not " + isa + ": " + ", ".join(other)))


# --------------------------------------------------------------------------- was it quiet?

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


def end_of_run(warnings: List[str], timings: Iterable[Tuple[str, Dict[str, Dict[str, Any]]]],
               short: Dict[str, str], monitor: CpuMonitor, sysinfo: Dict[str, Any],
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
