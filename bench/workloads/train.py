"""bench_train.py's workloads: the course's small CNN built alike in foveal, PyTorch and Keras,
the seeded data and weights, per library the timed epoch and prediction pass, and the check that
the three are the same model."""

from __future__ import annotations

import math
from typing import Any, Dict, List

import numpy as np

from ..checks import check_close

SEED = 1234
BATCH = 64
NUM_CLASSES = 10
LEARNING_RATE, MOMENTUM = 0.01, 0.9
CHECK_TOL = 1e-3
# One SGD step: a max-pooling window whose two largest values are within float32 rounding of
# each other sends its gradient to either cell depending on the library's rounding, which moves
# a few tenths of a percent of a layer's update; a wrong loss scale, learning rate or momentum
# rule moves all of it.
STEP_TOL = 5e-2
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

def course_cnn(sequential, input_layer, layers) -> Any:
    """The course's CNN in a library with Keras's API (foveal.nn, or Keras itself)."""
    same_relu = dict(padding="same", activation="relu")
    return sequential([
        input_layer((32, 32, 3)),
        layers.Conv2D(32, 3, **same_relu), layers.MaxPooling2D(),
        layers.Conv2D(64, 3, **same_relu), layers.MaxPooling2D(),
        layers.Flatten(), layers.Dense(128, activation="relu"),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ])


def compile_sgd(model: Any, optimizers: Any) -> None:
    """compile() with a fresh SGD optimizer and the categorical cross-entropy (Keras's API)."""
    model.compile(optimizer=optimizers.SGD(learning_rate=LEARNING_RATE, momentum=MOMENTUM),
                  loss="categorical_crossentropy")


def keras_api_calls(model: Any, x, y) -> Dict[str, Any]:
    """The calls foveal and Keras make alike (fit, predict, get_weights), as in a builder's dict."""
    def train():
        hist = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=False)
        return hist.history["loss"][-1]

    return {
        "get_weights": lambda: [np.asarray(w) for w in model.get_weights()],
        "step": lambda xb, yb: model.fit(xb, yb, batch_size=BATCH, epochs=1, verbose=0,
                                         shuffle=False),
        "train": train,
        "predict": lambda: model.predict(x, batch_size=BATCH, verbose=0),
    }


def build_foveal(foveal, x, y) -> Dict[str, Any]:
    nn = foveal.nn
    model = course_cnn(nn.Sequential, nn.Input, nn)
    compile_sgd(model, nn.optimizers)
    return {"params": int(sum(w.size for w in model.get_weights())),
            "set_weights": model.set_weights,
            "predict_batch": lambda xb: model.predict(xb, batch_size=BATCH, verbose=0),
            **keras_api_calls(model, x, y)}


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
    model = course_cnn(keras.Sequential, keras.Input, keras.layers)
    compile_sgd(model, keras.optimizers)

    def set_weights(ws):
        model.set_weights(ws)
        compile_sgd(model, keras.optimizers)   # a fresh optimizer: no momentum carried over

    return {"params": int(model.count_params()),
            "set_weights": set_weights,
            "predict_batch": lambda xb: np.asarray(model.predict(xb, batch_size=BATCH, verbose=0)),
            **keras_api_calls(model, x, y)}


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
    ref = "foveal" if "foveal" in preds else next(iter(preds), None)   # in LIBS order
    checks: Dict[str, Dict[str, Any]] = {lib: {"ok": False, "reason": err}
                                         for lib, err in errors.items()}
    if ref is None:
        return checks
    for lib in preds:
        if lib == ref:
            continue
        pred = check_close(preds[ref], preds[lib], CHECK_TOL)
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
