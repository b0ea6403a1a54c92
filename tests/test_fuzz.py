"""Fuzzing of the native core (tests/fuzz_targets.py): every binding of ``foveal._core`` and every
public op wrapping one, driven with random shapes, dtypes, layouts, sizes and values; a result
must equal the NumPy reference, an error must be a clear ValueError/TypeError (see
fuzz_harness.py for the rules).

The fuzz loop runs in one child process (restarted after a crash), so a segfault or a hang is a
failure of the target it happened in, reported with the call and a replay command, instead of
taking pytest down. By default a short deterministic run (derandomized hypothesis, a fixed number
of examples per target: FUZZ_EXAMPLES below, about 40 s on two cores); set FOVEAL_FUZZ_EXAMPLES
(total examples) or FOVEAL_FUZZ_SECONDS (total time) for a long run, which prints the examples
and CPU time per target (tests/run_fuzz.py does the same with a JSON summary).
"""
import os
import re
import tempfile

import pytest

import fuzz_harness as H
import fuzz_targets  # noqa: F401  (registers the targets)
import foveal.image as fi
import foveal.nn.functional as F
from foveal import _core

FUZZ_EXAMPLES = 150          # per target (x its weight) in the default run
CHILD_TIMEOUT = 900          # seconds for the whole default run (several times its length)

# Bindings the harness deliberately does not fuzz, each with the reason.
NOT_FUZZED = {}


def _long_mode():
    n, s = os.environ.get("FOVEAL_FUZZ_EXAMPLES"), os.environ.get("FOVEAL_FUZZ_SECONDS")
    return (int(n) if n else None), (float(s) if s else None)


@pytest.fixture(scope="module")
def fuzz_results():
    names = list(H.TARGETS)
    examples, seconds = _long_mode()
    with tempfile.TemporaryDirectory(prefix="foveal-fuzz-") as work:
        if examples is None and seconds is None:
            results = {}
            # equal examples per unit of weight: one child runs every target in turn
            by_count = {}
            for n in names:
                by_count.setdefault(max(1, int(FUZZ_EXAMPLES * H.TARGETS[n].weight)), []).append(n)
            for count, group in by_count.items():
                results.update(H.drive(group, work, examples=count, timeout=CHILD_TIMEOUT))
        else:
            import run_fuzz
            summary = run_fuzz.run(seconds=seconds, examples=examples, workdir=work)
            results = {n: dict(t, failures=[f for f in summary["findings"] if f["target"] == n])
                       for n, t in summary["targets"].items()}
            print(f"\nfuzz: {summary['examples']} examples, {summary['cpu_s']} CPU s, "
                  f"{len(summary['findings'])} finding(s)")
        for name, res in results.items():
            print(H.res_summary(name, res))
        yield results


def _report(failure):
    lines = [f"[{failure['kind']}] {failure['message']}"]
    if failure.get("example"):
        lines.append(failure["example"])
    if failure.get("reproducer"):
        lines.append("replay: " + failure["reproducer"])
    if failure.get("stderr"):
        lines.append("child stderr:\n" + failure["stderr"])
    if failure.get("traceback"):
        lines.append(failure["traceback"])
    return "\n".join(lines)


@pytest.mark.parametrize("name", list(H.TARGETS))
def test_fuzz_target(fuzz_results, name):
    res = fuzz_results[name]
    assert not res["failures"], "\n\n".join(_report(f) for f in res["failures"])
    assert res["examples"], f"{name} ran no example"


@pytest.mark.skipif(bool(_core.build_info()["sanitize"]),
                    reason="the guard's deliberate segfault would be an AddressSanitizer report; "
                           "the guard is tested in the normal build")
def test_a_crash_or_hang_in_the_child_is_a_reported_failure(monkeypatch, tmp_path):
    """The guard itself: a target that segfaults, one that hangs, and a good one after them."""
    monkeypatch.setenv("FOVEAL_FUZZ_SELFTEST", "1")
    results = H.drive(["selftest.crash", "selftest.hang", "core.softmax"], str(tmp_path), examples=30,
                      timeout=12)
    crash = results["selftest.crash"]["failures"]
    assert len(crash) == 1 and crash[0]["kind"] == "crash", crash
    assert "string_at(0)" in crash[0]["message"] and "exit code -" in crash[0]["message"], crash[0]
    assert crash[0]["reproducer"].startswith("python tests/fuzz_targets.py --replay ")
    assert os.path.exists(crash[0]["reproducer"].split()[-1])
    hang = results["selftest.hang"]["failures"]
    assert len(hang) == 1 and hang[0]["kind"] == "hang" and "sleep(3600)" in hang[0]["message"], hang
    assert results["core.softmax"]["examples"] == 30 and not results["core.softmax"]["failures"]


# ---------------------------------------------------------------------------------- coverage


def _bindings():
    """Every callable of foveal._core and of its image submodule, by the harness's names."""
    names = {f"core.{n}" for n in dir(_core) if not n.startswith("__") and callable(getattr(_core, n))
             and n != "image"}
    names |= {f"core.image.{n}" for n in dir(_core.image) if not n.startswith("__")
              and callable(getattr(_core.image, n))}
    return names


def test_every_binding_is_fuzzed():
    """A new binding must get a fuzz target (or a reason in NOT_FUZZED) before it ships."""
    missing = _bindings() - H.covered() - set(NOT_FUZZED)
    assert not missing, f"bindings no fuzz target drives: {sorted(missing)}"


def test_every_public_op_is_fuzzed():
    public = {f"F.{n}" for n in F.__all__} | {f"fi.{n}" for n in fi.__all__}
    missing = public - H.covered()
    assert not missing, f"public ops no fuzz target drives: {sorted(missing)}"


def test_stub_lists_every_binding():
    """python/foveal/_core.pyi declares exactly the bindings the module has (build-only ones,
    such as the sanitizer self-test, excepted)."""
    stub = os.path.join(os.path.dirname(fi.__file__), os.pardir, "_core.pyi")
    with open(stub) as f:
        text = f.read()
    top, _, image = text.partition("class image:")
    declared = {f"core.{n}" for n in re.findall(r"^def (\w+)\(", top, re.M)}
    declared |= {f"core.image.{n}" for n in re.findall(r"^    def (\w+)\(", image, re.M)}
    build_only = {"core._sanitizer_selftest"}
    assert _bindings() - build_only == declared - build_only, (
        f"in the module, not the stub: {sorted(_bindings() - declared - build_only)}; "
        f"in the stub, not the module: {sorted(declared - _bindings() - build_only)}")
