"""``foveal demo``: the course end to end, offline, in about a minute on 2 cores.

1. Generates a small image dataset on disk: coloured shapes (circle, square, triangle, cross) on
   noisy backgrounds, in ``train``, ``validation`` and ``test`` class folders (different files).
2. Trains a CNN on it through ``ImageDataGenerator`` + ``flow_from_directory`` with augmentation,
   with a progress bar, and reports the test accuracy.
3. Writes pictures to the output folder: the learned first-layer filters, the first layer's
   feature maps of one image, augmented samples, and the training curves.
4. Exports the model to ONNX.
5. Transfer learning on a new task with few images per class (ring, diamond, plus, X): a new head
   on the ONNX backbone's features (``foveal.transfer.OnnxBackbone``) against the same network
   trained from scratch on those few images; prints both accuracies.

Everything is seeded: two runs print the same numbers (on the same machine and thread count).
"""

from __future__ import annotations

import os
import time
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

__all__ = ["run_demo", "make_shapes_dataset", "draw_shape", "TASK_A", "TASK_B"]

TASK_A = ("circle", "cross", "square", "triangle")
TASK_B = ("diamond", "plus_thin", "ring", "x")
SIZE = 32


# --------------------------------------------------------------------------------------------
# Data


def draw_shape(kind: str, rng: np.random.Generator, size: int = SIZE) -> np.ndarray:
    """One ``size x size x 3`` uint8 image: a shape of a random colour, position and size on a
    noisy background of another colour."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    r = rng.uniform(0.22, 0.36) * size
    cx, cy = rng.uniform(r + 1, size - r - 1, 2)
    dx, dy = xx - cx, yy - cy
    t = max(1.5, 0.22 * r)                                  # stroke half-width
    if kind == "circle":
        mask = dx * dx + dy * dy <= r * r
    elif kind == "square":
        mask = (np.abs(dx) <= 0.85 * r) & (np.abs(dy) <= 0.85 * r)
    elif kind == "triangle":
        mask = (dy <= 0.8 * r) & (dy >= -r + 2.0 * np.abs(dx))
    elif kind == "cross":
        mask = ((np.abs(dx) <= t) | (np.abs(dy) <= t)) & (np.abs(dx) <= r) & (np.abs(dy) <= r)
    elif kind == "ring":
        d = np.sqrt(dx * dx + dy * dy)
        mask = (d <= r) & (d >= r - 1.6 * t)
    elif kind == "diamond":
        mask = np.abs(dx) + np.abs(dy) <= r
    elif kind == "plus_thin":
        mask = ((np.abs(dx) <= 0.6 * t) | (np.abs(dy) <= 0.6 * t)) & (np.abs(dx) <= r) & (np.abs(dy) <= r)
    elif kind == "x":
        mask = ((np.abs(dx - dy) <= 1.4 * t) | (np.abs(dx + dy) <= 1.4 * t)) & (np.abs(dx) <= 0.8 * r) \
            & (np.abs(dy) <= 0.8 * r)
    else:
        raise ValueError(f"unknown shape {kind!r}")
    fg = rng.uniform(0.45, 1.0, 3)
    bg = rng.uniform(0.0, 0.35, 3)
    if rng.random() < 0.5:                                  # light background half of the time
        fg, bg = 1.0 - fg, 1.0 - bg
    img = np.where(mask[..., None], fg, bg) + rng.normal(0.0, 0.06, (size, size, 3))
    return (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def make_shapes_dataset(root: str, classes: Sequence[str], counts: Dict[str, int], seed: int) -> None:
    """``root/<split>/<class>/<class>_<i>.png`` for each split in ``counts`` (images per class);
    every split draws from its own seed, so no file appears in two splits."""
    from . import image

    for s, (split, n) in enumerate(sorted(counts.items())):
        for c, kind in enumerate(classes):
            folder = os.path.join(root, split, kind)
            os.makedirs(folder, exist_ok=True)
            rng = np.random.default_rng([seed, s, c])
            for i in range(n):
                image.write(os.path.join(folder, f"{kind}_{i:04d}.png"), draw_shape(kind, rng))


# --------------------------------------------------------------------------------------------
# Pictures (plain arrays, written as PNG)


def _tile(images: Sequence[np.ndarray], cols: int, pad: int = 2, scale: int = 1) -> np.ndarray:
    """A grid of equally sized H x W x 3 uint8 images on a white background."""
    h, w = images[0].shape[:2]
    rows = -(-len(images) // cols)
    out = np.full((rows * (h * scale + pad) + pad, cols * (w * scale + pad) + pad, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        big = np.repeat(np.repeat(img, scale, 0), scale, 1)
        y0, x0 = pad + r * (h * scale + pad), pad + c * (w * scale + pad)
        out[y0:y0 + h * scale, x0:x0 + w * scale] = big
    return out


def _to_u8(a: np.ndarray) -> np.ndarray:
    """Min-max scaled to 0..255 (a constant array becomes mid-grey)."""
    lo, hi = float(a.min()), float(a.max())
    if hi - lo < 1e-12:
        return np.full(a.shape, 128, np.uint8)
    return ((a - lo) / (hi - lo) * 255.0 + 0.5).astype(np.uint8)


def _plot(series: Dict[str, List[float]], colors: Dict[str, Tuple[int, int, int]], width: int = 480,
          height: int = 300) -> np.ndarray:
    """Line plot of per-epoch series (shared y range 0..max), axes drawn, one colour each."""
    img = np.full((height, width, 3), 255, np.uint8)
    left, bottom, top, right = 30, height - 25, 10, width - 10
    img[top:bottom + 1, left] = 0
    img[bottom, left:right + 1] = 0
    values = [v for s in series.values() for v in s if np.isfinite(v)]
    ymax = max(values) * 1.05 if values else 1.0
    for name, ys in series.items():
        n = len(ys)
        if n == 0:
            continue
        px = [left + (right - left) * (i / max(n - 1, 1)) for i in range(n)]
        py = [bottom - (bottom - top) * (min(max(v, 0.0), ymax) / ymax) for v in ys]
        for (x0, y0), (x1, y1) in zip(zip(px, py), zip(px[1:], py[1:])):
            steps = int(max(abs(x1 - x0), abs(y1 - y0))) + 1
            for t in np.linspace(0.0, 1.0, steps * 2):
                x, y = int(round(x0 + (x1 - x0) * t)), int(round(y0 + (y1 - y0) * t))
                img[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2] = colors[name]
        for x, y in zip(px, py):
            img[int(y) - 2:int(y) + 3, int(x) - 2:int(x) + 3] = colors[name]
    return img


# --------------------------------------------------------------------------------------------
# The run


def _cnn(num_classes: int, seed: int):
    from . import nn, utils

    utils.set_random_seed(seed)
    model = nn.Sequential([
        nn.Input((SIZE, SIZE, 3)),
        nn.Conv2D(16, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Flatten(),
        nn.Dense(64, activation="relu"),
        nn.Dense(num_classes, activation="softmax"),
    ])
    model.compile(optimizer=nn.optimizers.Adam(0.001), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def run_demo(output: str = "foveal_demo", quick: bool = False, seed: int = 0, verbose: int = 1,
             log: Callable[[str], None] = print) -> Dict[str, float]:
    """Run the demo, writing everything under ``output``; returns the accuracies and timings.

    ``quick`` shrinks the dataset and the epochs (for tests and CI: a few seconds)."""
    from . import data, image, nn
    from .transfer import OnnxBackbone

    t_start = time.perf_counter()
    per_class = {"train": 60, "validation": 20, "test": 20} if quick else {"train": 300, "validation": 60, "test": 100}
    epochs = 2 if quick else 12
    few = 5 if quick else 10
    root = os.path.join(output, "data")
    pictures = os.path.join(output, "pictures")
    os.makedirs(pictures, exist_ok=True)

    log(f"[1/5] generating {len(TASK_A)} classes of shapes in {root} "
        f"({per_class['train']}/{per_class['validation']}/{per_class['test']} images per class)")
    make_shapes_dataset(os.path.join(root, "shapes"), TASK_A, per_class, seed)

    log(f"[2/5] training a CNN through ImageDataGenerator + flow_from_directory ({epochs} epochs)")
    augment = data.ImageDataGenerator(rescale=1 / 255, rotation_range=15, width_shift_range=0.1,
                                      height_shift_range=0.1, zoom_range=0.1, horizontal_flip=True)
    plain = data.ImageDataGenerator(rescale=1 / 255)
    flow = dict(target_size=(SIZE, SIZE), batch_size=32, seed=seed)
    train_it = augment.flow_from_directory(os.path.join(root, "shapes", "train"), **flow)
    val_it = plain.flow_from_directory(os.path.join(root, "shapes", "validation"), shuffle=False, **flow)
    test_it = plain.flow_from_directory(os.path.join(root, "shapes", "test"), shuffle=False, **flow)
    model = _cnn(len(TASK_A), seed)
    history = model.fit(train_it, epochs=epochs, validation_data=val_it, verbose=verbose)
    test_loss, test_acc = model.evaluate(test_it, verbose=0)
    log(f"      test accuracy {test_acc:.3f} (loss {test_loss:.3f}) on {test_it.samples} images")

    log(f"[3/5] writing pictures to {pictures}")
    kernel = model.layers[0].get_weights()[0]                       # 3 x 3 x 3 x 16
    image.write(os.path.join(pictures, "filters_layer1.png"),
                _tile([_to_u8(kernel[..., i]) for i in range(kernel.shape[-1])], 8, scale=12))
    sample, _ = test_it[0]
    maps = model.layers[0](sample[:1])[0]                           # 32 x 32 x 16
    original = (np.clip(sample[0], 0, 1) * 255 + 0.5).astype(np.uint8)
    image.write(os.path.join(pictures, "feature_maps_layer1.png"),
                _tile([original] + [np.repeat(_to_u8(maps[..., i])[..., None], 3, -1)
                                    for i in range(maps.shape[-1])], 6, scale=4))
    x_test_all, _ = _gather(test_it)                                # one image of each class
    picks = [i * len(x_test_all) // len(TASK_A) for i in range(len(TASK_A))]
    source = (x_test_all[picks] * 255).astype(np.float32)
    rows = []
    for i in range(len(source)):
        rows.append((np.clip(source[i], 0, 255) + 0.5).astype(np.uint8))
        for j in range(5):
            aug = augment.random_transform(source[i], seed=seed * 1000 + i * 10 + j)
            rows.append((np.clip(aug, 0, 255) + 0.5).astype(np.uint8))
    image.write(os.path.join(pictures, "augmented_samples.png"), _tile(rows, 6, scale=4))
    h = history.history
    image.write(os.path.join(pictures, "training_curves.png"),
                _plot({k: h[k] for k in ("loss", "val_loss", "accuracy", "val_accuracy") if k in h},
                      {"loss": (200, 40, 40), "val_loss": (240, 150, 150),
                       "accuracy": (40, 80, 200), "val_accuracy": (140, 170, 240)}))

    onnx_path = os.path.join(output, "shapes_cnn.onnx")
    log(f"[4/5] exporting the model to {onnx_path}")
    model.export_onnx(onnx_path)

    log(f"[5/5] transfer learning: a new task ({', '.join(TASK_B)}), {few} training images per class")
    make_shapes_dataset(os.path.join(root, "new_task"), TASK_B,
                        {"train": few, "test": per_class["test"]}, seed + 1)
    new_train = plain.flow_from_directory(os.path.join(root, "new_task", "train"), shuffle=False, **flow)
    new_test = plain.flow_from_directory(os.path.join(root, "new_task", "test"), shuffle=False, **flow)
    x_few, y_few = _gather(new_train)
    x_test, y_test = _gather(new_test)
    backbone = OnnxBackbone(onnx_path, preprocess="none")
    f_few = backbone.extract(x_few, verbose=0)
    f_test = backbone.extract(x_test, verbose=0)
    from . import utils

    utils.set_random_seed(seed)
    head = nn.Sequential([nn.Input((backbone.feature_dim,)), nn.Dense(len(TASK_B), activation="softmax")])
    head.compile(optimizer=nn.optimizers.Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    head.fit(f_few, y_few, batch_size=8, epochs=100, verbose=0)
    transfer_acc = float(head.evaluate(f_test, y_test, verbose=0)[1])
    scratch = _cnn(len(TASK_B), seed)
    scratch.fit(x_few, y_few, batch_size=8, epochs=30 if not quick else 5, verbose=0)
    scratch_acc = float(scratch.evaluate(x_test, y_test, verbose=0)[1])
    log(f"      head on the ONNX backbone's features: accuracy {transfer_acc:.3f}")
    log(f"      the same CNN trained from scratch:    accuracy {scratch_acc:.3f}")
    seconds = time.perf_counter() - t_start
    log(f"done in {seconds:.0f} s; pictures in {pictures}, model in {onnx_path}")
    return {"test_accuracy": float(test_acc), "transfer_accuracy": transfer_acc,
            "scratch_accuracy": scratch_acc, "seconds": seconds}


def _gather(it) -> Tuple[np.ndarray, np.ndarray]:
    """Every batch of a (non-shuffled) iterator, concatenated."""
    xs, ys = zip(*(it[i] for i in range(len(it))))
    return np.concatenate(xs), np.concatenate(ys)
