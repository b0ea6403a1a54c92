"""The libraries under test, each optional, each given the same number of threads.

A library that is missing (or broken) is left out with a printable note, so the others still
run; foveal itself is found installed or, failing that, in the checkout's ``python/``.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from typing import Any, Callable, Dict, List, Optional, Tuple

from .environment import THREADS
from .report import jsonable

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


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
    return foveal, jsonable(info)


def foveal_isa(foveal) -> Optional[str]:
    """The ISA foveal's kernels run with (None without foveal)."""
    if foveal is None:
        return None
    try:
        return foveal.build_info().get("isa")
    except Exception:
        return None


def set_up_each(builders: Dict[str, Tuple[Any, Callable[[], Any]]],
                errors: Dict[str, str]) -> Dict[str, Any]:
    """``{lib: build()}`` for each library whose module (the first of its pair) loaded; a failing
    ``build`` goes to ``errors[lib]`` as ``"setup failed: ..."`` instead."""
    built: Dict[str, Any] = {}
    for lib, (module, build) in builders.items():
        if module is None:
            continue
        try:
            built[lib] = build()
        except Exception as exc:
            errors[lib] = f"setup failed: {type(exc).__name__}: {exc}"
    return built


def load_torch(notes: List[str], threads: int, interop: bool = True):
    """torch with ``threads`` intra-op threads (and one inter-op thread), or None."""
    torch = import_optional("torch", notes)
    if torch is not None:
        torch.set_num_threads(threads)
        if interop:
            with contextlib.suppress(RuntimeError):
                torch.set_num_interop_threads(1)
    return torch


def load_cv2(notes: List[str], threads: int):
    """OpenCV with ``threads`` threads and what its build says about threading, or (None, {})."""
    cv2 = import_optional("cv2", notes)
    info: Dict[str, Any] = {}
    if cv2 is None:
        return None, info
    cv2.setNumThreads(threads)
    info["num_threads"] = cv2.getNumThreads()
    for ln in cv2.getBuildInformation().splitlines():
        ln = ln.strip()
        if ln.startswith("Parallel framework:"):
            info["parallel_framework"] = ln.split(":", 1)[1].strip()
        elif ln.startswith("Intel IPP:"):
            info["ipp"] = ln.split(":", 1)[1].strip()
    return cv2, info


def load_keras(torch, notes: List[str]):
    """Keras on the torch backend (the environment asks for it before Keras loads), or None:
    without torch, or when Keras was loaded earlier with another backend."""
    if torch is None:
        notes.append("keras is skipped too: it runs here on the torch backend")
        return None
    keras = import_optional("keras", notes)
    if keras is not None and keras.backend.backend() != "torch":
        notes.append(f"keras was already loaded with the {keras.backend.backend()!r} backend "
                     "(KERAS_BACKEND=torch must be set before keras is imported); skipped")
        return None
    return keras
