"""Per-layer time of one foveal training step (``bench_finetune.py --profile``): each layer's
forward and backward methods wrapped in timers for one step, summed by layer kind, with the
slowest layers listed."""

from __future__ import annotations

import contextlib
import time
from typing import Any, Callable, Dict, List, Tuple

import numpy as np

from .. import report

TOP_LAYERS = 15


# --------------------------------------------------------------------------- the profile

def layer_kind(layer: Any) -> str:
    """The layer's type, with kernel and stride for convolutions and pooling, ReLU6 apart."""
    kind = type(layer).__name__
    k = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
    if k is not None:
        kind += f" {k[0]}x{k[1]}"
        st = getattr(layer, "strides", None)
        if st is not None and tuple(st)[0] != 1:
            kind += f"/{tuple(st)[0]}"
    if type(layer).__name__ == "ReLU" and getattr(layer, "max_value", None) == 6:
        kind = "ReLU6"
    return kind


def profile_train_step(model: Any, x: np.ndarray, y: np.ndarray) -> Dict[str, Any]:
    """One train_on_batch with each layer's forward and backward methods timed (the outermost
    call only, so a backward that calls backward_from_preactivation counts once), plus the
    loss and the optimizer update. The step's total is timed around train_on_batch; what no
    timer saw is "outside the layers" (the graph walk, train_on_batch's checks)."""
    perf = time.perf_counter
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    fwd: Dict[int, float] = {id(layer): 0.0 for layer in layers}
    bwd: Dict[int, float] = {id(layer): 0.0 for layer in layers}
    shapes: Dict[int, str] = {}
    extra = {"loss": 0.0, "optimizer": 0.0}
    depth = [0]
    patched: List[Tuple[Any, str, Any, bool]] = []

    def wrap(obj: Any, attr: str, add: Callable[[float, Any], None]) -> None:
        fn = getattr(obj, attr, None)
        if fn is None:
            return
        had = attr in getattr(obj, "__dict__", {})

        def timed(*a: Any, **k: Any) -> Any:
            if depth[0]:
                return fn(*a, **k)
            depth[0] += 1
            t0 = perf()
            try:
                out = fn(*a, **k)
            finally:
                dt = perf() - t0
                depth[0] -= 1
            add(dt, out)
            return out

        patched.append((obj, attr, obj.__dict__.get(attr), had))
        setattr(obj, attr, timed)

    def on_forward(layer: Any) -> Callable[[float, Any], None]:
        def add(dt: float, out: Any) -> None:
            fwd[id(layer)] += dt
            shape = getattr(out, "shape", None)
            if shape is not None:
                shapes[id(layer)] = "x".join(str(d) for d in shape)
        return add

    def on_backward(layer: Any) -> Callable[[float, Any], None]:
        def add(dt: float, out: Any) -> None:
            bwd[id(layer)] += dt
        return add

    def on_extra(key: str) -> Callable[[float, Any], None]:
        def add(dt: float, out: Any) -> None:
            extra[key] += dt
        return add

    model.train_on_batch(x, y)   # warm (unprofiled)
    try:
        for layer in layers:
            wrap(layer, "call", on_forward(layer))
            if hasattr(type(layer), "call_activated"):   # a batch norm running its ReLU (BnAct)
                wrap(layer, "call_activated", on_forward(layer))
            for attr in ("backward", "backward_from_preactivation", "backward_through_relu"):
                if hasattr(type(layer), attr):
                    wrap(layer, attr, on_backward(layer))
        if getattr(model, "_loss_obj", None) is not None:
            wrap(model._loss_obj, "_value_and_grad", on_extra("loss"))
        if getattr(model, "optimizer", None) is not None:
            wrap(model.optimizer, "_apply", on_extra("optimizer"))
        t0 = perf()
        model.train_on_batch(x, y)
        total = perf() - t0
    finally:
        for obj, attr, old, had in reversed(patched):
            if had:
                setattr(obj, attr, old)
            else:
                with contextlib.suppress(AttributeError):
                    delattr(obj, attr)

    per_layer = [{"name": layer.name, "kind": layer_kind(layer),
                  "output": shapes.get(id(layer), ""),
                  "forward_s": fwd[id(layer)], "backward_s": bwd[id(layer)],
                  "total_s": fwd[id(layer)] + bwd[id(layer)]} for layer in layers]
    kinds: Dict[str, Dict[str, Any]] = {}
    for row in per_layer:
        k = kinds.setdefault(row["kind"], {"kind": row["kind"], "layers": 0, "forward_s": 0.0,
                                           "backward_s": 0.0, "total_s": 0.0})
        k["layers"] += 1
        for key in ("forward_s", "backward_s", "total_s"):
            k[key] += row[key]
    in_layers = sum(r["total_s"] for r in per_layer)
    return {"step_s": total, "layers_s": in_layers, "loss_s": extra["loss"],
            "optimizer_s": extra["optimizer"],
            "outside_s": max(total - in_layers - extra["loss"] - extra["optimizer"], 0.0),
            "by_kind": sorted(kinds.values(), key=lambda r: -r["total_s"]),
            "top_layers": sorted(per_layer, key=lambda r: -r["total_s"])[:TOP_LAYERS],
            "layers": per_layer}


def print_profile(name: str, prof: Dict[str, Any]) -> None:
    total = prof["step_s"]
    pct = lambda s: f"{100.0 * s / total:.1f}%" if total > 0 else "n/a"  # noqa: E731
    print(f"\nprofile {name}: one foveal training step, {report.fmt_ms(total)} ms "
          f"(forward {report.fmt_ms(sum(r['forward_s'] for r in prof['layers']))} ms, backward "
          f"{report.fmt_ms(sum(r['backward_s'] for r in prof['layers']))} ms in the layers)")
    rows = [[r["kind"], r["layers"], report.fmt_ms(r["forward_s"]), report.fmt_ms(r["backward_s"]),
             report.fmt_ms(r["total_s"]), pct(r["total_s"])] for r in prof["by_kind"]]
    rows += [["loss (value and gradient)", "", "", "", report.fmt_ms(prof["loss_s"]),
              pct(prof["loss_s"])],
             ["optimizer update", "", "", "", report.fmt_ms(prof["optimizer_s"]),
              pct(prof["optimizer_s"])],
             ["outside the layers", "", "", "", report.fmt_ms(prof["outside_s"]),
              pct(prof["outside_s"])]]
    report.print_table(["layer type", "layers", "fwd ms", "bwd ms", "total ms", "of step"], rows)
    print(f"\nthe {len(prof['top_layers'])} slowest layers of {name}:")
    rows = [[i + 1, r["name"], r["kind"], r["output"], report.fmt_ms(r["forward_s"]),
             report.fmt_ms(r["backward_s"]), report.fmt_ms(r["total_s"]), pct(r["total_s"])]
            for i, r in enumerate(prof["top_layers"])]
    report.print_table(["#", "layer", "type", "output", "fwd ms", "bwd ms", "total ms", "of step"],
                       rows, align_left=(1, 2, 3))
    if total > 0 and prof["layers_s"] < 0.5 * total:
        print("note: the layers' methods account for less than half of the step: the step may "
              "bypass them (a native graph executor?), so this split is incomplete")
