"""Runs the test suite against a sanitizer build of foveal's native core.

    pip install --target SITE -Ccmake.define.FOVEAL_SANITIZE=address,undefined .
    python tests/sanitizer_run.py SITE [extra pytest arguments]

AddressSanitizer and UndefinedBehaviorSanitizer abort the process at the first error (so pytest
fails); LeakSanitizer reports at each process's exit into a log file, and a leak counts when one
of its allocation frames lies in foveal's ``_core`` module: the interpreter's and NumPy's own
end-of-process leftovers are not ours to fix and are only counted. Before trusting a clean run,
the script makes the build commit one fault of each kind (``_core._sanitizer_selftest``) and
checks that each is reported.

Python is not instrumented, so the sanitizer runtimes are preloaded (LD_PRELOAD), which also
reaches the suite's subprocess tests. Exit status 0 only when the self-test saw every fault,
the tests passed and no leak came from foveal.
"""
from __future__ import annotations

import argparse
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

# End-to-end tests that exercise no native path the others miss, and the docs checks (which
# read the source tree, not the build): left to the normal run.
SKIP = ["test_docs.py", "test_demo.py", "test_examples.py"]


def runtime_library(name: str) -> str:
    """Path of a sanitizer runtime as the C++ compiler that built the module finds it."""
    cxx = os.environ.get("CXX") or shutil.which("g++") or shutil.which("c++") or "g++"
    path = subprocess.run([cxx, f"-print-file-name={name}"], capture_output=True, text=True,
                          check=True).stdout.strip()
    if not os.path.isabs(path) or not os.path.exists(path):
        raise SystemExit(f"sanitizer_run: {cxx} does not know {name} (got {path!r})")
    return path


def sanitizer_env(site: Path, log_dir: Path) -> Dict[str, str]:
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join([runtime_library("libasan.so"), runtime_library("libubsan.so")])
    # exitcode=0: a leak report alone does not change a process's exit status (the suite's
    # subprocess tests check those); memory errors still abort.
    env["ASAN_OPTIONS"] = ":".join([
        "detect_leaks=1", "abort_on_error=1", "exitcode=0", f"log_path={log_dir / 'asan'}",
        "malloc_context_size=40", "detect_stack_use_after_return=0"])
    env["UBSAN_OPTIONS"] = f"print_stacktrace=1:halt_on_error=1:log_path={log_dir / 'ubsan'}"
    env["PYTHONPATH"] = os.pathsep.join([str(site)] + [p for p in [env.get("PYTHONPATH")] if p])
    env.setdefault("PYTHONFAULTHANDLER", "1")
    return env


def read_logs(log_dir: Path) -> str:
    text = []
    for path in sorted(glob.glob(str(log_dir / "*"))):
        with open(path, errors="replace") as f:
            text.append(f.read())
    return "\n".join(text)


def leak_blocks(log: str) -> List[str]:
    """Every leak record of LeakSanitizer's reports, each with its allocation stack."""
    blocks: List[str] = []
    for m in re.finditer(r"^(Direct|Indirect) leak of .*?(?=^\s*$)", log, re.S | re.M):
        blocks.append(m.group(0))
    return blocks


def ours(block: str) -> bool:
    return re.search(r"foveal/_core[^\s/]*\.so", block) is not None


def self_test(site: Path) -> Tuple[bool, List[str]]:
    """Each deliberate fault must be reported: an overflow and UB abort the process, a leak
    from _core is found in the log."""
    lines, ok = [], True
    expect = {"overflow": "heap-buffer-overflow", "ub": "signed integer overflow", "leak": None}
    for kind, pattern in expect.items():
        with tempfile.TemporaryDirectory() as tmp:
            env = sanitizer_env(site, Path(tmp))
            proc = subprocess.run(
                [sys.executable, "-c",
                 f"from foveal import _core; _core._sanitizer_selftest({kind!r})"],
                env=env, capture_output=True, text=True, timeout=120)
            log = read_logs(Path(tmp)) + proc.stderr
            if pattern is None:
                seen = any(ours(b) for b in leak_blocks(log))
            else:
                seen = proc.returncode != 0 and pattern in log
        lines.append(f"  self-test {kind:8s}: {'reported' if seen else 'NOT REPORTED'}")
        ok &= seen
    return ok, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("site", type=Path, help="folder holding the sanitizer build of foveal")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    site = args.site.resolve()
    if not (site / "foveal").is_dir():
        raise SystemExit(f"sanitizer_run: no foveal package under {site}")

    with tempfile.TemporaryDirectory() as tmp:   # the probe's own leak report goes there
        probe = subprocess.run(
            [sys.executable, "-c", "import foveal; print(foveal.build_info()['sanitize'])"],
            env=sanitizer_env(site, Path(tmp)), capture_output=True, text=True)
    if probe.returncode != 0 or not probe.stdout.strip():
        print(probe.stdout, probe.stderr, sep="\n")
        raise SystemExit(f"sanitizer_run: the foveal under {site} is not a sanitizer build")
    print(f"sanitizer build: {probe.stdout.strip()} ({site})")

    ok, lines = self_test(site)
    print("\n".join(lines))
    if not ok:
        print("sanitizer_run: the build does not report deliberate faults; a clean run would prove nothing")
        return 1

    with tempfile.TemporaryDirectory(prefix="foveal-san-") as tmp:
        log_dir = Path(tmp)
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
        if not any(not a.startswith("-") for a in args.pytest_args):   # no test paths given
            cmd += [str(HERE)] + [f"--ignore={HERE / name}" for name in SKIP]
        cmd += list(args.pytest_args)
        start = time.monotonic()
        tests = subprocess.run(cmd, env=sanitizer_env(site, log_dir), cwd=ROOT)
        elapsed = time.monotonic() - start
        log = read_logs(log_dir)
    blocks = leak_blocks(log)
    mine = [b for b in blocks if ours(b)]
    errors = re.findall(r"ERROR: AddressSanitizer: [\w-]+.*?(?=\n\s*\n)|runtime error: [^\n]+(?:\n\s+#.*)*",
                        log, re.S)
    print(f"sanitized tests: exit {tests.returncode} in {elapsed:.0f} s; "
          f"memory errors / UB reported: {len(errors)}; leak records: {len(blocks)} "
          f"(from foveal's _core: {len(mine)}, the rest from the interpreter and libraries)")
    for e in errors[:5]:
        print("  " + e[:4000])
    for b in mine[:10]:
        print(b)
    return 0 if tests.returncode == 0 and not errors and not mine else 1


if __name__ == "__main__":
    sys.exit(main())
