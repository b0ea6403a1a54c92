#!/usr/bin/env python
"""Benchmark training and inference of the course's small CNN: foveal against PyTorch and Keras.

The model, identical in the three libraries (same layers, same parameter count, 545,098):

    32x32x3 -> Conv2D 32 3x3 same relu -> MaxPooling2D 2 -> Conv2D 64 3x3 same relu
            -> MaxPooling2D 2 -> Flatten -> Dense 128 relu -> Dense 10 softmax

loss categorical cross-entropy, SGD(learning_rate=0.01, momentum=0.9), batch 64.

  foveal   foveal.nn.Sequential, compile(optimizer=foveal.nn.optimizers.SGD(0.01, momentum=0.9),
           loss="categorical_crossentropy"), fit(...) and predict(...) (the public API)
  torch    torch.nn.Sequential in channels_last memory format, torch.optim.SGD(lr=0.01,
           momentum=0.9), CrossEntropyLoss on the logits (softmax + cross-entropy fused: the same
           loss); the usual loop zero_grad / forward / loss / backward / step
  keras    keras.Sequential on the torch backend (KERAS_BACKEND=torch, CPU), compile / fit /
           predict as foveal

Workloads, on one fixed seeded dataset of B batches of 64 images (uniform [0, 1) pixels, random
one-hot labels; B = 20, or 4 with --quick), generated before any timing:

  train    one epoch: fit(x, y, batch_size=64, epochs=1, verbose=0, shuffle=False) for foveal
           and Keras; torch runs the same B batches (tensors prepared beforehand)
  predict  predict(x, batch_size=64, verbose=0); torch runs the same batches under
           torch.inference_mode, softmax included

Every library gets the same number of threads (2 by default): foveal.set_num_threads,
torch.set_num_threads (Keras runs on the same torch), OMP_NUM_THREADS. A timing is the median of
interleaved repeats (bench/_common.py); images/s = 64 * B / median time; ratio = peer time /
foveal time = foveal images/s / peer images/s (> 1: foveal faster).

Before timing, the three models get the same seeded weights (Keras layout, converted for torch)
and are checked: the same predictions on one batch (within 1e-3), and the same update from one SGD
step on that batch (per weight tensor, within 5% in L2 norm: near-ties in max pooling are decided
by float32 rounding). The "check" column flags a mismatch.

The issue's bar, printed as PASS/FAIL: training >= 1.0x torch and inference >= 1.0x torch.

    python bench/bench_train.py [--quick] [--only train] [--json PATH] [--isa avx2]

Every peer is optional: one that is not installed is skipped with a note.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from . import _common as C
else:  # run as a script, or loaded by path
    _here = os.path.dirname(os.path.abspath(__file__))
    if _here not in sys.path:
        sys.path.insert(0, _here)
    import _common as C  # noqa: E402  (sets OMP_NUM_THREADS before NumPy loads)

# Keras reads its backend when first imported; the benchmark compares CPU libraries.
os.environ["KERAS_BACKEND"] = "torch"
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import contextlib  # noqa: E402
import math  # noqa: E402
from typing import Any, Callable, Dict, List, Optional  # noqa: E402

import numpy as np  # noqa: E402

SEED = 1234
BATCH = 64
BATCHES = 20            # batches per timed epoch / prediction pass
QUICK_BATCHES = 4
NUM_CLASSES = 10
LEARNING_RATE, MOMENTUM = 0.01, 0.9
CHECK_TOL = 1e-3
# One SGD step: a max-pooling window whose two largest values are within float32 rounding of
# each other sends its gradient to either cell depending on the library's rounding, which moves
# a few tenths of a percent of a layer's update; a wrong loss scale, learning rate or momentum
# rule moves all of it.
STEP_TOL = 5e-2
BAR = {"train": 1.0, "predict": 1.0}   # foveal images/s over torch images/s, at least
PEERS = ("torch", "keras")
LIBS = ("foveal",) + PEERS
SHORT = {"foveal": "fov", "torch": "torch", "keras": "keras"}
WORKLOADS = {
    "train": "one epoch of SGD(0.01, momentum 0.9) training, batch 64",
    "predict": "inference over the same images, batch 64",
}
# (kind, Keras weight shapes) per layer with weights, in Keras order
LAYERS = [("conv", (3, 3, 3, 32)), ("conv", (3, 3, 32, 64)), ("dense", (8 * 8 * 64, 128)),
          ("dense", (128, NUM_CLASSES))]
EXPECTED_PARAMS = sum(int(np.prod(s)) + s[-1] for _, s in LAYERS)   # 545,098


# --------------------------------------------------------------------------- data and weights

def make_data(n_batches: int):
    rng = np.random.default_rng(SEED)
    n = n_batches * BATCH
    x = rng.random((n, 32, 32, 3), dtype=np.float32)
    labels = rng.integers(0, NUM_CLASSES, n)
    y = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    return x, y, labels


def make_weights() -> List[np.ndarray]:
    """Seeded glorot-uniform kernels and small random biases, in Keras order and layouts."""
    rng = np.random.default_rng(SEED + 1)
    out: List[np.ndarray] = []
    for _, shape in LAYERS:
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
        limit = math.sqrt(6.0 / (fan_in + fan_out))
        out.append(rng.uniform(-limit, limit, shape).astype(np.float32))
        out.append(rng.uniform(-0.05, 0.05, shape[-1]).astype(np.float32))
    return out


def to_torch_layout(weights: List[np.ndarray]) -> List[np.ndarray]:
    """Keras layouts -> torch: conv HWIO -> OIHW; dense (in, out) -> (out, in), where the first
    dense layer's inputs are reordered from Keras's (h, w, c) flattening to torch's (c, h, w)."""
    out: List[np.ndarray] = []
    for i, (kind, shape) in enumerate(LAYERS):
        k, b = weights[2 * i], weights[2 * i + 1]
        if kind == "conv":
            k = k.transpose(3, 2, 0, 1)
        elif i == 2:   # follows Flatten of an 8 x 8 x 64 map
            k = k.reshape(8, 8, 64, shape[1]).transpose(3, 2, 0, 1).reshape(shape[1], -1)
        else:
            k = k.T
        out += [np.ascontiguousarray(k), b]
    return out


def from_torch_layout(weights: List[np.ndarray]) -> List[np.ndarray]:
    out: List[np.ndarray] = []
    for i, (kind, shape) in enumerate(LAYERS):
        k, b = weights[2 * i], weights[2 * i + 1]
        if kind == "conv":
            k = k.transpose(2, 3, 1, 0)
        elif i == 2:
            k = k.reshape(shape[1], 64, 8, 8).transpose(2, 3, 1, 0).reshape(-1, shape[1])
        else:
            k = k.T
        out += [np.ascontiguousarray(k), b]
    return out


# --------------------------------------------------------------------------- the three models
# Each builder returns a dict: params (count), set_weights(list in Keras layout),
# get_weights() (Keras layout), predict_batch(xb) -> probabilities, step(xb, yb) (one SGD step),
# train() (one timed epoch; returns the last loss), predict() (one timed pass).

def build_foveal(foveal, x, y) -> Dict[str, Any]:
    nn = foveal.nn
    model = nn.Sequential([
        nn.Input((32, 32, 3)),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Conv2D(64, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Flatten(),
        nn.Dense(128, activation="relu"),
        nn.Dense(NUM_CLASSES, activation="softmax"),
    ])
    model.compile(optimizer=nn.optimizers.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM),
                  loss="categorical_crossentropy")

    def train():
        hist = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return hist.history["loss"][-1]

    return {
        "params": int(sum(w.size for w in model.get_weights())),
        "set_weights": model.set_weights,
        "get_weights": lambda: [np.asarray(w) for w in model.get_weights()],
        "predict_batch": lambda xb: model.predict(xb, batch_size=BATCH, verbose=0),
        "step": lambda xb, yb: model.fit(xb, yb, batch_size=BATCH, epochs=1, verbose=0,
                                         shuffle=False),
        "train": train,
        "predict": lambda: model.predict(x, batch_size=BATCH, verbose=0),
    }


def build_torch(torch, x, y, labels) -> Dict[str, Any]:
    tnn = torch.nn
    cl = torch.channels_last
    torch.manual_seed(SEED)
    model = tnn.Sequential(
        tnn.Conv2d(3, 32, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3, padding=1), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Linear(8 * 8 * 64, 128), tnn.ReLU(), tnn.Linear(128, NUM_CLASSES),
    ).to(memory_format=cl)
    opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss_fn = tnn.CrossEntropyLoss()

    def nchw(a):   # NHWC array -> NCHW tensor stored channels_last: the same memory order
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous(
            memory_format=cl)

    xt, yt = nchw(x), torch.from_numpy(labels.astype(np.int64))
    batches = [(xt[i:i + BATCH], yt[i:i + BATCH]) for i in range(0, len(x), BATCH)]

    def set_weights(ws):
        with torch.no_grad():
            for p, w in zip(model.parameters(), to_torch_layout(ws)):
                p.copy_(torch.from_numpy(w))
        # a fresh optimizer: no momentum carried over from before
        nonlocal opt
        opt = torch.optim.SGD(model.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)

    def get_weights():
        return from_torch_layout([p.detach().numpy().copy() for p in model.parameters()])

    def one_step(xb, yb):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    def step(xb_nhwc, yb_onehot):
        model.train()
        one_step(nchw(xb_nhwc), torch.from_numpy(yb_onehot.argmax(axis=1)))

    def train():
        model.train()
        loss = None
        for xb, yb in batches:
            loss = one_step(xb, yb)
        return loss.item()

    def predict_batch(xb):
        model.eval()
        with torch.inference_mode():
            return torch.softmax(model(nchw(xb)), dim=1).numpy()

    def predict():
        model.eval()
        with torch.inference_mode():
            return torch.cat([torch.softmax(model(xb), dim=1) for xb, _ in batches]).numpy()

    return {"params": int(sum(p.numel() for p in model.parameters())),
            "set_weights": set_weights, "get_weights": get_weights,
            "predict_batch": predict_batch, "step": step, "train": train, "predict": predict}


def build_keras(keras, x, y) -> Dict[str, Any]:
    L = keras.layers
    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        L.Conv2D(32, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Conv2D(64, 3, padding="same", activation="relu"),
        L.MaxPooling2D(),
        L.Flatten(),
        L.Dense(128, activation="relu"),
        L.Dense(NUM_CLASSES, activation="softmax"),
    ])

    def compile_():
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=LEARNING_RATE,
                                                     momentum=MOMENTUM),
                      loss="categorical_crossentropy")

    compile_()

    def set_weights(ws):
        model.set_weights(ws)
        compile_()   # a fresh optimizer: no momentum carried over from before

    def train():
        hist = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return hist.history["loss"][-1]

    return {
        "params": int(model.count_params()),
        "set_weights": set_weights,
        "get_weights": lambda: [np.asarray(w) for w in model.get_weights()],
        "predict_batch": lambda xb: np.asarray(model.predict(xb, batch_size=BATCH, verbose=0)),
        "step": lambda xb, yb: model.fit(xb, yb, batch_size=BATCH, epochs=1, verbose=0,
                                         shuffle=False),
        "train": train,
        "predict": lambda: model.predict(x, batch_size=BATCH, verbose=0),
    }


# --------------------------------------------------------------------------- checks

def check_models(models: Dict[str, Dict[str, Any]], x, y) -> Dict[str, Dict[str, Any]]:
    """Same seeded weights everywhere; compare each peer with the reference library (foveal when
    present): predictions on one batch, then the update of one SGD step on that batch.
    Weights (and optimizer state) are reset afterwards."""
    weights = make_weights()
    xb, yb = x[:BATCH], y[:BATCH]
    preds: Dict[str, np.ndarray] = {}
    stepped: Dict[str, List[np.ndarray]] = {}
    errors: Dict[str, str] = {}
    for lib, m in models.items():
        try:
            m["set_weights"](weights)
            preds[lib] = np.asarray(m["predict_batch"](xb), np.float32)
            m["step"](xb, yb)
            stepped[lib] = m["get_weights"]()
            m["set_weights"](weights)
        except Exception as exc:
            errors[lib] = f"{type(exc).__name__}: {exc}"
    ref = "foveal" if "foveal" in preds else next((p for p in PEERS if p in preds), None)
    checks: Dict[str, Dict[str, Any]] = {lib: {"ok": False, "reason": err}
                                         for lib, err in errors.items()}
    if ref is None:
        return checks
    for lib in preds:
        if lib == ref:
            continue
        pred = C.check_close(preds[ref], preds[lib], CHECK_TOL)
        # per weight tensor: |update_lib - update_ref| / |update_ref| (L2 norms)
        rel = max(float(np.linalg.norm(a - b) / max(np.linalg.norm(b - w), 1e-30))
                  for a, b, w in zip(stepped[lib], stepped[ref], weights))
        step_ok = rel <= STEP_TOL
        checks[lib] = {"ok": bool(pred["ok"] and step_ok), "reference": ref,
                       "predict_max_abs_err": pred.get("max_abs_err"),
                       "step_update_rel_diff": rel}
        if not pred["ok"]:
            checks[lib]["reason"] = (pred.get("reason") or
                                     f"predictions differ by {pred['max_abs_err']:.3g}")
        elif not step_ok:
            checks[lib]["reason"] = (f"the updates of one SGD step differ by {rel:.3g} "
                                     "(relative L2 norm)")
    return checks


# --------------------------------------------------------------------------- main

def _setup(threads: int, notes: List[str]):
    foveal, finfo = C.load_foveal(notes, threads)
    if foveal is not None:
        try:
            import foveal.nn  # noqa: F401
            foveal.nn.Sequential  # noqa: B018
        except Exception as exc:
            notes.append(f"foveal.nn not usable ({type(exc).__name__}: {exc}); "
                         "foveal columns are n/a")
            foveal = None
    torch = C.import_optional("torch", notes)
    if torch is not None:
        torch.set_num_threads(threads)
        with contextlib.suppress(RuntimeError):
            torch.set_num_interop_threads(1)
    keras = None
    if torch is None:
        notes.append("keras is skipped too: it runs here on the torch backend")
    else:
        keras = C.import_optional("keras", notes)
        if keras is not None and keras.backend.backend() != "torch":
            notes.append(f"keras was already loaded with the {keras.backend.backend()!r} backend "
                         "(KERAS_BACKEND=torch must be set before keras is imported); skipped")
            keras = None
    return foveal, finfo, torch, keras


def criteria(results: Dict[str, Dict[str, Any]], checks: Dict[str, Dict[str, Any]]):
    out = []
    labels = {"train": "training", "predict": "inference"}
    for name, bar in BAR.items():
        label = f"{labels[name]} >= {bar:.1f}x torch"
        r = results.get(name)
        ratio = r["ratios"].get("torch") if r else None
        if ratio is None:
            why = "not run (--only)" if r is None else "needs foveal and torch"
            out.append({"criterion": label, "status": "N/A", "value": None, "detail": why})
            continue
        ips = r["images_per_s"]
        out.append({"criterion": label, "status": "PASS" if ratio >= bar else "FAIL",
                    "value": ratio,
                    "detail": f"{ratio:.2f}x (foveal {ips['foveal']:.0f} images/s, "
                              f"torch {ips['torch']:.0f} images/s)"})
    bad = [lib for lib, c in checks.items() if not c.get("ok")]
    status = "FAIL" if bad else ("PASS" if checks else "N/A")
    out.append({"criterion": "same model in every library", "status": status, "value": None,
                "detail": (f"mismatch: {', '.join(bad)}" if bad else
                           f"{len(checks)} peer(s) checked against "
                           f"{next(iter(checks.values()))['reference']}" if checks else
                           "nothing to compare (needs two libraries)")})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args, names, argv, rc = C.start(__file__, __doc__, WORKLOADS, argv)
    if rc is not None:
        return rc
    threads = args.threads
    n_batches = QUICK_BATCHES if args.quick else BATCHES
    n_images = n_batches * BATCH

    notes: List[str] = []
    foveal, finfo, torch, keras = _setup(threads, notes)
    cfg = C.TimingConfig.from_args(args.quick)
    sysinfo = C.system_info(threads)

    title = (f"foveal bench_train: the course's small CNN, batch {BATCH}, {n_batches} batches "
             f"({n_images} images) per timed call, {threads} threads per library, median of "
             f"interleaved repeats{' (--quick)' if args.quick else ''}")
    vers = C.print_header(title, sysinfo, {"foveal": foveal, "torch": torch, "keras": keras},
                          finfo if foveal is not None else None)
    if torch is not None:
        print(f"torch: threads {torch.get_num_threads()}, channels_last, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    if keras is not None:
        print(f"keras: backend {keras.backend.backend()}, "
              f"device {os.environ.get('KERAS_TORCH_DEVICE')}")

    x, y, labels = make_data(n_batches)
    models: Dict[str, Dict[str, Any]] = {}
    errors: Dict[str, str] = {}
    builders = {"foveal": (foveal, lambda: build_foveal(foveal, x, y)),
                "torch": (torch, lambda: build_torch(torch, x, y, labels)),
                "keras": (keras, lambda: build_keras(keras, x, y))}
    for lib, (mod, build) in builders.items():
        if mod is None:
            continue
        try:
            models[lib] = build()
        except Exception as exc:
            errors[lib] = f"setup failed: {type(exc).__name__}: {exc}"
            notes.append(f"{lib}: {errors[lib]}")
    params = {lib: m["params"] for lib, m in models.items()}
    print("parameters: " + ", ".join(f"{lib} {p:,}" for lib, p in params.items())
          + f" (expected {EXPECTED_PARAMS:,})")
    for lib, p in params.items():
        if p != EXPECTED_PARAMS:
            notes.append(f"{lib} has {p:,} parameters, expected {EXPECTED_PARAMS:,}: "
                         "not the same model")
    checks = check_models(models, x, y)
    for lib, chk in checks.items():
        if chk.get("reason") and "reference" not in chk:
            errors[lib] = f"check failed: {chk['reason']}"
    for n in notes:
        print("note: " + n)
    print()

    results: Dict[str, Dict[str, Any]] = {}
    monitor = C.CpuMonitor()
    for name in names:
        print(f"  running {name:8s} {WORKLOADS[name]}", flush=True)
        fns: Dict[str, Callable[[], Any]] = {}
        for lib, m in models.items():
            try:
                m[name]()   # one untimed call: a failure shows here, not mid-timing
                fns[lib] = m[name]
            except Exception as exc:
                errors[lib] = f"{name} failed: {type(exc).__name__}: {exc}"
        timings = C.measure_each({lib: (fn, None) for lib, fn in fns.items()}, cfg, errors, name)
        res: Dict[str, Any] = {"name": name, "description": WORKLOADS[name], "images": n_images,
                               "libs": {}, "images_per_s": {}, "ratios": {}}
        for lib in LIBS:
            t = timings.get(lib)
            if t is not None:
                res["libs"][lib] = t.to_dict()
                res["images_per_s"][lib] = n_images / t.median_s
        if "foveal" in timings:
            for lib in PEERS:
                if lib in timings:
                    res["ratios"][lib] = timings[lib].median_s / timings["foveal"].median_s
        if name == "train":
            losses = {}
            for lib, m in models.items():
                with contextlib.suppress(Exception):
                    losses[lib] = float(m["train"]())
            res["loss_after_timing"] = losses
        results[name] = res
    print()

    present = [lib for lib in LIBS if lib == "foveal" or lib in models or lib in errors]
    headers = ["workload"] + [f"{SHORT[lib]} img/s" for lib in present]
    headers += [f"{SHORT[lib]}/fov" for lib in present if lib != "foveal"]
    headers += ["fov ms/batch", "check"]
    rows = []
    for name, r in results.items():
        row = [name] + [C.fmt_num(r["images_per_s"].get(lib), 0) for lib in present]
        row += [C.fmt_ratio(r["ratios"].get(lib)) for lib in present if lib != "foveal"]
        fr = r["libs"].get("foveal")
        row.append(C.fmt_ms(fr["median_s"] / n_batches) if fr else "n/a")
        bad = [SHORT[lib] for lib, c in checks.items() if not c.get("ok")]
        row.append(("MISMATCH " + ",".join(bad)) if bad else ("ok" if checks else "-"))
        rows.append(row)
    C.print_table(headers, rows, align_left=(0, len(headers) - 1))
    ref = next((c["reference"] for c in checks.values() if "reference" in c), None)
    print("ratio = peer time / foveal time = foveal images/s / peer images/s (> 1: foveal "
          "faster)" + (f"; check = same predictions and the same SGD step as {ref}" if ref
                       else ""))
    if "train" in results and results["train"].get("loss_after_timing"):
        print("loss after the timed epochs (random labels; a sanity check, finite): " + ", ".join(
            f"{lib} {v:.3f}" for lib, v in results["train"]["loss_after_timing"].items()))

    crit = criteria(results, checks)
    print()
    for c in crit:
        print(f"{c['status']:4s}  {c['criterion']:30s} {c['detail']}")

    warnings: List[str] = []
    for lib, chk in checks.items():
        if not chk.get("ok"):
            warnings.append(f"{lib}: differs from {chk.get('reference', 'the others')}: "
                            f"{chk.get('reason')}")
    for lib, err in errors.items():
        warnings.append(f"{lib}: {err}")
    for name, r in results.items():
        for lib, loss in r.get("loss_after_timing", {}).items():
            if not math.isfinite(loss):
                warnings.append(f"{lib}: training loss is {loss} after the timed epochs")
    system = C.end_of_run(warnings, ((name, r["libs"]) for name, r in results.items()),
                          SHORT, monitor, sysinfo, threads)

    payload = {
        "benchmark": "bench_train",
        "system": system,
        "versions": vers,
        "foveal_build_info": finfo,
        "foveal_isa_requested": args.isa or os.environ.get("FOVEAL_ISA"),
        "quick": args.quick,
        "model": {"layers": "32x32x3 -> Conv2D 32 3x3 same relu -> MaxPooling2D -> Conv2D 64 3x3 "
                            "same relu -> MaxPooling2D -> Flatten -> Dense 128 relu -> Dense 10 "
                            "softmax",
                  "loss": "categorical_crossentropy",
                  "optimizer": {"name": "SGD", "learning_rate": LEARNING_RATE,
                                "momentum": MOMENTUM},
                  "batch_size": BATCH, "batches_per_call": n_batches, "images_per_call": n_images,
                  "parameters": params, "expected_parameters": EXPECTED_PARAMS},
        "timing": {"min_time_s": cfg.min_time, "min_repeats": cfg.min_repeats,
                   "statistic": "median, interleaved", "check_tolerance": CHECK_TOL},
        "checks": checks,
        "notes": notes,
        "warnings": warnings,
        "results": list(results.values()),
        "summary": {
            "train_ratio_vs_torch": results.get("train", {}).get("ratios", {}).get("torch"),
            "predict_ratio_vs_torch": results.get("predict", {}).get("ratios", {}).get("torch"),
            "train_ratio_vs_keras": results.get("train", {}).get("ratios", {}).get("keras"),
            "predict_ratio_vs_keras": results.get("predict", {}).get("ratios", {}).get("keras"),
            "criteria": crit,
            "bar_holds": all(c["status"] == "PASS" for c in crit[:2]),
        },
    }
    path = C.write_json(args.json, payload)
    print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
