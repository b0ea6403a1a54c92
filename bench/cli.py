"""The command line every benchmark script shares.

``--quick`` (fewer repeats), ``--json PATH`` (default ``bench/results/<script>.json``),
``--only NAME`` (repeatable), ``--isa scalar|avx2|avx512``, ``--threads N`` and ``--list``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import Dict, List, Optional, Sequence

from .environment import THREADS, set_thread_env

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
RESULTS_DIR = os.path.join(BENCH_DIR, "results")
ISA_CHOICES = ("scalar", "avx2", "avx512")


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
    """The names that contain one of ``only`` (case-insensitive); all of them without it."""
    if not only:
        return list(names)
    return [n for n in names if any(o.lower() in n.lower() for o in only)]


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
