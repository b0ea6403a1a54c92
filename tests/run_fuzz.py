"""Long fuzz run of foveal's native core: every target of tests/fuzz_targets.py for a time or an
example budget, in child processes (a crash or a hang is recorded with its call and a replay
file, and the run goes on with the next target), with a JSON summary for a report.

    python tests/run_fuzz.py --seconds 3600 --out fuzz-report.json
    python tests/run_fuzz.py --examples 200000 --seed 7
    FOVEAL_FUZZ_SECONDS=1200 python tests/run_fuzz.py          # the same as --seconds 1200

The budget is shared among the targets by their weights. ``--seconds`` runs rounds of random
examples (seeds ``seed, seed+1, ...``); ``--examples`` without ``--seed`` is deterministic.
Exit status 1 when anything was found.
"""
from __future__ import annotations

import argparse
import fnmatch
import json
import os
import platform
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import fuzz_harness as H  # noqa: E402
import fuzz_targets  # noqa: E402,F401  (registers the targets)


def budget_split(total, names):
    weights = {n: H.TARGETS[n].weight for n in names}
    w = sum(weights.values())
    return {n: total * weights[n] / w for n in names}


def run(seconds=None, examples=None, seed=None, pattern="*", out=None, workdir=None, quiet=False):
    names = [n for n in H.TARGETS if fnmatch.fnmatch(n, pattern)]
    if not names:
        raise SystemExit(f"no target matches {pattern!r}")
    workdir = workdir or tempfile.mkdtemp(prefix="foveal-fuzz-")
    log = (lambda s: None) if quiet else (lambda s: print(s, flush=True))
    share = budget_split(seconds if seconds is not None else examples, names)
    t0 = time.time()
    results = {}
    for name in names:
        if seconds is not None:
            res = H.drive([name], workdir, seconds=share[name], seed=seed if seed is not None else 0,
                          timeout=share[name] + 300, log=log)
        else:
            res = H.drive([name], workdir, examples=max(1, int(share[name])), seed=seed,
                          timeout=max(600, share[name] * 0.5), log=log)
        results.update(res)
    findings = [f for r in results.values() for f in r["failures"]]
    summary = {
        "mode": "seconds" if seconds is not None else "examples",
        "budget": seconds if seconds is not None else examples,
        "seed": seed,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "isas": H._core.available_isas(),
        "wall_s": round(time.time() - t0, 1),
        "cpu_s": round(sum(r["cpu_s"] or 0 for r in results.values()), 1),
        "examples": sum(r["examples"] or 0 for r in results.values()),
        "targets": {n: {k: v for k, v in r.items() if k != "failures"} | {"failures": len(r["failures"])}
                    for n, r in results.items()},
        "findings": findings,
        "workdir": workdir,
    }
    if out:
        with open(out, "w") as f:
            json.dump(summary, f, indent=1)
    log(f"\n{summary['examples']} examples in {summary['cpu_s']} CPU s ({summary['wall_s']} s wall), "
        f"{len(findings)} finding(s)" + (f"; summary in {out}" if out else ""))
    for f in findings:
        log(f"- {f['target']} [{f['kind']}]: {f['message'][:500]}")
        if f.get("reproducer"):
            log(f"  replay: {f['reproducer']}")
    return summary


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=None, help="total time budget (shared by weight)")
    p.add_argument("--examples", type=int, default=None, help="total example budget (shared by weight)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--targets", default="*", help="fnmatch pattern of target names")
    p.add_argument("--out", default=None, help="JSON summary file")
    p.add_argument("--workdir", default=None, help="where crash replay files go")
    a = p.parse_args(argv)
    seconds, examples = a.seconds, a.examples
    if seconds is None and examples is None:
        env_s, env_n = os.environ.get("FOVEAL_FUZZ_SECONDS"), os.environ.get("FOVEAL_FUZZ_EXAMPLES")
        seconds = float(env_s) if env_s else None
        examples = int(env_n) if env_n else None
        if seconds is None and examples is None:
            seconds = 600.0
    summary = run(seconds, examples, a.seed, a.targets, a.out, a.workdir)
    return 1 if summary["findings"] else 0


if __name__ == "__main__":
    sys.exit(main())
