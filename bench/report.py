"""What the benchmarks print and write: number formats, the table, the PASS/FAIL lines, the JSON.

A ratio is ``peer time / foveal time`` (> 1: foveal is faster); a time prints in milliseconds
with three significant digits or so; a value that could not be measured prints as ``n/a``.
"""

from __future__ import annotations

import json
import math
import os
import sys
from typing import Any, Dict, Optional, Sequence

import numpy as np

from .timing import Timing, ratios


# --------------------------------------------------------------------------- numbers

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


# --------------------------------------------------------------------------- results

def images_result(name: str, description: str, images: int, timings: Dict[str, Timing],
                  libs: Sequence[str], peers: Sequence[str]) -> Dict[str, Any]:
    """A workload's result entry when its unit is images: each library's Timing, its images per
    second (``images / best time``) and the ratios against foveal."""
    res: Dict[str, Any] = {"name": name, "description": description, "images": images,
                           "libs": {}, "images_per_s": {}, "ratios": {}}
    for lib in libs:
        t = timings.get(lib)
        if t is not None:
            res["libs"][lib] = t.to_dict()
            res["images_per_s"][lib] = images / t.min_s
    res["ratios"].update(ratios(timings, peers))
    return res


def ratio_criterion(label: str, result: Optional[Dict[str, Any]], peer: str,
                    bar: float) -> Dict[str, Any]:
    """One line of a bar: PASS when foveal is at least ``bar`` times as fast as ``peer`` on an
    :func:`images_result`; N/A when the workload was not run or a library is missing."""
    ratio = result["ratios"].get(peer) if result else None
    if ratio is None:
        why = "not run (--only)" if result is None else f"needs foveal and {peer}"
        return {"criterion": label, "status": "N/A", "value": None, "detail": why}
    ips = result["images_per_s"]
    return {"criterion": label, "status": "PASS" if ratio >= bar else "FAIL", "value": ratio,
            "detail": f"{ratio:.2f}x (foveal {ips['foveal']:.0f} images/s, "
                      f"{peer} {ips[peer]:.0f} images/s)"}


# --------------------------------------------------------------------------- printing

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


def print_criteria(criteria: Sequence[Dict[str, Any]], width: int) -> None:
    """The bar after a blank line: one ``STATUS  criterion  detail`` line each."""
    print()
    for c in criteria:
        print(f"{c['status']:4s}  {c['criterion']:{width}s} {c['detail']}")


# --------------------------------------------------------------------------- JSON

def head(benchmark: str, system: Dict[str, Any], versions: Dict[str, Optional[str]],
         finfo: Dict[str, Any], isa_requested: Optional[str] = None,
         with_isa: bool = True) -> Dict[str, Any]:
    """The first entries of every script's JSON: which benchmark, the machine, the versions,
    foveal's build and (``with_isa``) the ISA asked for with --isa or FOVEAL_ISA."""
    out = {"benchmark": benchmark, "system": system, "versions": versions,
           "foveal_build_info": finfo}
    if with_isa:
        out["foveal_isa_requested"] = isa_requested or os.environ.get("FOVEAL_ISA")
    return out


def write_results(path: str, payload: Dict[str, Any]) -> str:
    """Write the JSON and say where (the last line every script prints)."""
    path = write_json(path, payload)
    print(f"\nwrote {path}")
    return path


def write_json(path: str, payload: Dict[str, Any]) -> str:
    """Write ``payload`` as JSON, atomically (a temporary file renamed into place)."""
    path = os.path.abspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(jsonable(payload), f, indent=2, sort_keys=False)
        f.write("\n")
    os.replace(tmp, path)
    return path


def jsonable(obj: Any) -> Any:
    """``obj`` with NumPy scalars and arrays made plain, tuples made lists, non-finite floats
    made None and anything else unknown made a string."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        v = float(obj)
        return v if math.isfinite(v) else None
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    if isinstance(obj, (str, int, bool)) or obj is None:
        return obj
    return str(obj)
