"""The documentation stays true: docs/api.md matches the docstrings, and the guides' Python
snippets run.

Snippet convention (docs/*.md): every fenced ```python block runs, in order, in one namespace
per file (so a guide's snippets may build on each other), in a fresh temporary folder, in a
child process (a guide may set threads or seeds without touching this one). A block is left
out when it holds a line

* ``# not run``: shown only (e.g. it needs a large download or a path of the reader's);
* ``# requires: pkg, other``: run only where those packages import (else skipped, with the
  reason);
* ``# slow``: run only with ``FOVEAL_DOCS_SLOW=1`` (e.g. it imports Keras: seconds, not
  milliseconds).

Each snippet is one test case named ``file.md:line``; a failure shows the snippet's traceback.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from typing import Dict, List

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DOCS = os.path.join(ROOT, "docs")
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.S | re.M)
REQUIRES = re.compile(r"^\s*#\s*requires:\s*(.+?)\s*$", re.M)
NOT_RUN = re.compile(r"^\s*#\s*not run\b", re.M)
SLOW = re.compile(r"^\s*#\s*slow\b", re.M)


def snippets(path: str) -> List[Dict]:
    """The python blocks of one guide, with their line numbers and markers."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    found = []
    for m in FENCE.finditer(text):
        code = m.group(1)
        line = text.count("\n", 0, m.start(1)) + 1
        requires = [p.strip() for r in REQUIRES.findall(code) for p in r.split(",") if p.strip()]
        name = os.path.basename(path)
        found.append({"id": f"{name}:{line}", "file": f"docs/{name}", "line": line, "code": code,
                      "requires": requires, "not_run": bool(NOT_RUN.search(code)),
                      "slow": bool(SLOW.search(code))})
    return found


def guide_files() -> List[str]:
    if not os.path.isdir(DOCS):
        return []
    return sorted(os.path.join(DOCS, f) for f in os.listdir(DOCS)
                  if f.endswith(".md") and f != "api.md")


CASES = [(path, s) for path in guide_files() for s in snippets(path)]

# Runs in the child: every snippet of one guide in order, results written as JSON.
RUNNER = textwrap.dedent(r"""
    import importlib.util, json, os, sys, traceback
    cases, results_path = json.load(sys.stdin), sys.argv[1]
    slow_ok = os.environ.get("FOVEAL_DOCS_SLOW") == "1"
    namespace = {"__name__": "__main__"}
    results, failed = {}, None
    for case in cases:
        missing = [p for p in case["requires"] if importlib.util.find_spec(p) is None]
        if case["not_run"]:
            results[case["id"]] = ["skip", "marked '# not run'"]
        elif missing:
            results[case["id"]] = ["skip", "needs " + ", ".join(missing)]
        elif case["slow"] and not slow_ok:
            results[case["id"]] = ["skip", "marked '# slow' (set FOVEAL_DOCS_SLOW=1 to run it)"]
        elif failed is not None:
            results[case["id"]] = ["skip", "not run: snippet " + failed + " failed"]
        else:
            try:
                # padded so that a traceback gives the line number in the Markdown file
                source = "\n" * (case["line"] - 1) + case["code"]
                exec(compile(source, case["file"], "exec"), namespace)
                results[case["id"]] = ["ok", ""]
            except BaseException:
                failed = case["id"]
                results[case["id"]] = ["fail", traceback.format_exc()]
        sys.stdout.flush()
    with open(results_path, "w") as f:
        json.dump(results, f)
""")

_results: Dict[str, Dict[str, List[str]]] = {}


def run_guide(path: str, tmp_root: str) -> Dict[str, List[str]]:
    """Every snippet of ``path`` in one child process (once per test session)."""
    if path not in _results:
        name = os.path.splitext(os.path.basename(path))[0]
        work = os.path.join(tmp_root, name)
        os.makedirs(work, exist_ok=True)
        results_path = os.path.join(tmp_root, name + ".results.json")
        cases = snippets(path)
        proc = subprocess.run([sys.executable, "-c", RUNNER, results_path], cwd=work,
                              input=json.dumps(cases), capture_output=True, text=True, timeout=300)
        if proc.returncode != 0 or not os.path.exists(results_path):
            pytest.fail(f"the snippets of {os.path.basename(path)} crashed the interpreter "
                        f"(exit {proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
        with open(results_path) as f:
            results = json.load(f)
        results["__output__"] = [proc.stdout[-4000:], proc.stderr[-4000:]]
        _results[path] = results
    return _results[path]


@pytest.fixture(scope="session")
def docs_tmp(tmp_path_factory):
    return str(tmp_path_factory.mktemp("docs"))


def test_api_reference_is_up_to_date():
    proc = subprocess.run([sys.executable, os.path.join(DOCS, "build_api.py"), "--check"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_every_guide_has_runnable_snippets():
    assert guide_files(), "docs/ has no guides"
    runnable = {os.path.basename(p) for p, s in CASES if not s["not_run"]}
    assert "index.md" in runnable and "nn.md" in runnable


@pytest.mark.parametrize("path,case", CASES, ids=[s["id"] for _, s in CASES])
def test_snippet_runs(path, case, docs_tmp):
    status, detail = run_guide(path, docs_tmp)[case["id"]]
    if status == "skip":
        pytest.skip(detail)
    if status == "fail":
        out, err = _results[path]["__output__"]
        pytest.fail(f"{case['id']} raised:\n{detail}\n--- snippet ---\n{case['code']}"
                    f"--- stderr (tail) ---\n{err[-1500:]}", pytrace=False)
