"""bench_recipe.py's workload: Keras's "simple MNIST convnet" recipe on Fashion-MNIST, built alike
in foveal, PyTorch and Keras; the data (the real dataset when installed, else seeded images of
its shape), the seeded weights, per library the timed training chunk, and the check that the three
are the same model."""

from __future__ import annotations

import math
from typing import Any, Dict, List, Tuple

import numpy as np

from ..checks import check_close

SEED = 4321
BATCH = 128
NUM_CLASSES = 10
EPOCH_IMAGES = 54_000      # the recipe's epoch: 60,000 images, validation_split=0.1
CHECK_TOL = 1e-4
# (kind, Keras weight shape) per layer with weights, in Keras order
LAYERS = [("conv", (3, 3, 1, 32)), ("conv", (3, 3, 32, 64)), ("dense", (5 * 5 * 64, NUM_CLASSES))]
EXPECTED_PARAMS = sum(int(np.prod(s)) + s[-1] for _, s in LAYERS)   # 34,826


def train_flops_per_image() -> float:
    """Multiply-adds x 2 of one training step per image: forward, the input gradients (none for
    the first convolution: its input is the data) and the weight gradients."""
    conv1 = 26 * 26 * 32 * 9 * 1
    conv2 = 11 * 11 * 64 * 9 * 32
    dense = 1600 * NUM_CLASSES
    forward = conv1 + conv2 + dense
    return 2.0 * (forward + (conv2 + dense) + forward)


# --------------------------------------------------------------------------- data and weights

def load_data(n: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """The first ``n`` training images as float32 in [0, 1], (n, 28, 28, 1), their one-hot labels
    and class indices, and where they came from."""
    try:
        from foveal.datasets import fashion_mnist
        folder = fashion_mnist.find()
    except Exception:   # foveal missing: the peers still run on the stand-in data
        folder = None
    if folder is not None:
        (x, labels), _ = fashion_mnist.load_data(folder)
        x, labels = x[:n], labels[:n].astype(np.int64)
        source = f"Fashion-MNIST from {folder} (the first {n:,} training images)"
    else:
        rng = np.random.default_rng(SEED)
        x = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, NUM_CLASSES, n)
        source = ("seeded uniform images of Fashion-MNIST's shape (the dataset is not installed: "
                  "apt-get install dataset-fashion-mnist)")
    xf = (x.astype(np.float32) / 255.0)[..., None]
    y = np.eye(NUM_CLASSES, dtype=np.float32)[labels]
    return xf, y, labels, source


def make_weights() -> List[np.ndarray]:
    """Seeded glorot-uniform kernels and small random biases, in Keras order and layouts."""
    rng = np.random.default_rng(SEED + 1)
    out: List[np.ndarray] = []
    for _, shape in LAYERS:
        receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
        limit = math.sqrt(6.0 / (shape[-2] * receptive + shape[-1] * receptive))
        out.append(rng.uniform(-limit, limit, shape).astype(np.float32))
        out.append(rng.uniform(-0.05, 0.05, shape[-1]).astype(np.float32))
    return out


def to_torch_layout(weights: List[np.ndarray]) -> List[np.ndarray]:
    """conv HWIO -> OIHW; the dense kernel's inputs from Keras's (h, w, c) flattening to torch's
    (c, h, w), transposed to (out, in)."""
    c1, b1, c2, b2, d, bd = weights
    d = d.reshape(5, 5, 64, NUM_CLASSES).transpose(3, 2, 0, 1).reshape(NUM_CLASSES, -1)
    return [np.ascontiguousarray(a) for a in (c1.transpose(3, 2, 0, 1), b1,
                                               c2.transpose(3, 2, 0, 1), b2, d, bd)]


# --------------------------------------------------------------------------- the three models
# Each builder returns a dict: params, set_weights(list in Keras layout), predict_batch(xb),
# train() (one timed call: an epoch over the chunk; returns the last loss).

def simple_convnet(sequential, input_layer, layers) -> Any:
    """The recipe's model in a library with Keras's API (foveal.nn, or Keras itself)."""
    return sequential([
        input_layer((28, 28, 1)),
        layers.Conv2D(32, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Conv2D(64, kernel_size=(3, 3), activation="relu"),
        layers.MaxPooling2D(pool_size=(2, 2)),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(NUM_CLASSES, activation="softmax"),
    ])


def _keras_like(model: Any, optimizers: Any, x, y) -> Dict[str, Any]:
    def compile_adam():
        model.compile(loss="categorical_crossentropy", optimizer=optimizers.Adam(),
                      metrics=["accuracy"])

    compile_adam()

    def set_weights(ws):
        model.set_weights(ws)
        compile_adam()    # a fresh optimizer

    def train():
        hist = model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0, shuffle=True)
        return hist.history["loss"][-1]

    return {"params": int(sum(int(np.prod(np.shape(w))) for w in model.get_weights())),
            "set_weights": set_weights, "train": train,
            "predict_batch": lambda xb: np.asarray(model.predict(xb, batch_size=BATCH,
                                                                 verbose=0))}


def build_foveal(foveal, x, y) -> Dict[str, Any]:
    nn = foveal.nn
    return _keras_like(simple_convnet(nn.Sequential, nn.Input, nn), nn.optimizers, x, y)


def build_keras(keras, x, y) -> Dict[str, Any]:
    return _keras_like(simple_convnet(keras.Sequential, keras.Input, keras.layers),
                       keras.optimizers, x, y)


def build_torch(torch, x, labels) -> Dict[str, Any]:
    """The usual loop: a shuffled permutation per epoch, zero_grad / forward / cross-entropy on
    the logits / backward / Adam step, and the accuracy counted as Keras's metric does."""
    tnn = torch.nn
    cl = torch.channels_last
    torch.manual_seed(SEED)
    model = tnn.Sequential(
        tnn.Conv2d(1, 32, 3), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Conv2d(32, 64, 3), tnn.ReLU(), tnn.MaxPool2d(2),
        tnn.Flatten(), tnn.Dropout(0.5), tnn.Linear(1600, NUM_CLASSES),
    ).to(memory_format=cl)
    loss_fn = tnn.CrossEntropyLoss()

    def adam():   # Keras's defaults: learning rate 1e-3, epsilon 1e-7
        return torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)

    opt = adam()

    def nchw(a):   # NHWC array -> NCHW tensor stored channels_last: the same memory order
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).contiguous(
            memory_format=cl)

    xt, yt = nchw(x), torch.from_numpy(labels)
    gen = torch.Generator().manual_seed(SEED)

    def set_weights(ws):
        nonlocal opt
        with torch.no_grad():
            for p, w in zip(model.parameters(), to_torch_layout(ws)):
                p.copy_(torch.from_numpy(w))
        opt = adam()

    def train():
        model.train()
        order = torch.randperm(len(xt), generator=gen)
        loss, correct = None, 0
        for i in range(0, len(xt), BATCH):
            idx = order[i:i + BATCH]
            xb, yb = xt[idx].contiguous(memory_format=cl), yt[idx]
            opt.zero_grad(set_to_none=True)
            logits = model(xb)
            loss = loss_fn(logits, yb)
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == yb).sum())
        return loss.item()

    def predict_batch(xb):
        model.eval()
        with torch.inference_mode():
            return torch.softmax(model(nchw(xb)), dim=1).numpy()

    return {"params": int(sum(p.numel() for p in model.parameters())),
            "set_weights": set_weights, "train": train, "predict_batch": predict_batch}


def check_models(models: Dict[str, Dict[str, Any]], x) -> Dict[str, Dict[str, Any]]:
    """Same seeded weights everywhere; each peer's predictions on one batch against foveal's
    (Dropout is inactive there). Training steps are not compared: each library draws its own
    dropout masks and shuffles with its own generator."""
    weights = make_weights()
    xb = x[:BATCH]
    preds: Dict[str, np.ndarray] = {}
    checks: Dict[str, Dict[str, Any]] = {}
    for lib, m in models.items():
        try:
            m["set_weights"](weights)
            preds[lib] = np.asarray(m["predict_batch"](xb), np.float32)
        except Exception as exc:
            checks[lib] = {"ok": False, "reason": f"{type(exc).__name__}: {exc}"}
    ref = "foveal" if "foveal" in preds else next(iter(preds), None)
    for lib in preds:
        if lib != ref:
            c = check_close(preds[ref], preds[lib], CHECK_TOL)
            checks[lib] = {"ok": bool(c["ok"]), "reference": ref,
                           "predict_max_abs_err": c.get("max_abs_err")}
            if not c["ok"]:
                checks[lib]["reason"] = (c.get("reason") or
                                         f"predictions differ by {c['max_abs_err']:.3g}")
    return checks
