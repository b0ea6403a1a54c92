"""``foveal bench``: run the benchmark scripts of a foveal checkout (``bench/bench_*.py``).

The scripts live in the source tree, not in the installed package: they are found in
``$FOVEAL_BENCH_DIR``, then ``./bench``, then next to the package's sources (an editable
install). Each runs in its own process (``--quick`` passed on), prints its table of ratios
(peer time / foveal time) and writes its JSON under ``bench/results/``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import List, Optional, Sequence

__all__ = ["find_bench_dir", "run_benchmarks"]


def find_bench_dir() -> Optional[Path]:
    """The folder holding ``bench_*.py``, or None when none of the candidates has them."""
    candidates = []
    if os.environ.get("FOVEAL_BENCH_DIR"):
        candidates.append(Path(os.environ["FOVEAL_BENCH_DIR"]))
    candidates.append(Path.cwd() / "bench")
    candidates.append(Path(__file__).resolve().parents[2] / "bench")
    for c in candidates:
        if c.is_dir() and any(c.glob("bench_*.py")):
            return c
    return None


def run_benchmarks(quick: bool = False, only: Sequence[str] = (), bench_dir: Optional[str] = None) -> int:
    """Run every ``bench_*.py`` (or those whose name contains one of ``only``); returns 0 when
    all ran, else the first failing exit status (2 when no benchmark folder is found)."""
    folder = Path(bench_dir) if bench_dir else find_bench_dir()
    if folder is None or not folder.is_dir():
        print("foveal bench: no bench/ folder found; run it from a foveal checkout or set "
              "FOVEAL_BENCH_DIR", file=sys.stderr)
        return 2
    scripts: List[Path] = sorted(folder.glob("bench_*.py"))
    if only:
        scripts = [s for s in scripts if any(o in s.stem for o in only)]
    if not scripts:
        print(f"foveal bench: no benchmark matches {list(only)} in {folder}", file=sys.stderr)
        return 2
    status = 0
    for script in scripts:
        print(f"\n=== {script.name}{' --quick' if quick else ''}", flush=True)
        rc = subprocess.call([sys.executable, str(script)] + (["--quick"] if quick else []))
        if rc != 0 and status == 0:
            status = rc
    return status
