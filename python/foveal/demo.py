"""``foveal demo``: the course end to end, offline, in about a minute on 2 cores.

1. Generates a small image dataset on disk: coloured shapes (circle, square, triangle, cross) on
   noisy backgrounds, in ``train``, ``validation`` and ``test`` class folders (different files).
2. Trains a CNN on it through ``ImageDataGenerator`` + ``flow_from_directory`` with augmentation,
   with a progress bar, and reports the test accuracy.
3. Draws pictures with :mod:`foveal.viz` into the output folder: the training curves, test
   images titled with the model's predictions, the learned first-layer filters, the first
   layer's feature maps of one image, and augmented samples.
4. Exports the model to ONNX.
5. Transfer learning on a new task with few images per class (ring, diamond, plus, X): a new head
   on the ONNX backbone's features (``foveal.transfer.OnnxBackbone``) against the same network
   trained from scratch on those few images; prints both accuracies.

Everything is seeded: two runs print the same numbers (on the same machine and thread count).
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Dict, Sequence, Tuple

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
    from . import data, nn
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
    _pictures(model, augment, history, test_it, pictures, seed)

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


def _pictures(model: Any, augment: Any, history: Any, test_it: Any, folder: str, seed: int) -> None:
    """The demo's pictures, drawn with :mod:`foveal.viz`: training curves, test images with the
    model's predictions, the first layer's filters and feature maps, augmented samples."""
    from . import utils, viz

    viz.plot_history(history, path=os.path.join(folder, "training_curves.png"))
    x_test, y_test = _gather(test_it)
    picks = np.concatenate([np.flatnonzero(y_test.argmax(1) == c)[:4] for c in range(len(TASK_A))])
    predicted = model.predict(x_test[picks], verbose=0).argmax(1)
    truth = y_test[picks].argmax(1)
    titles = [TASK_A[p] if p == t else f"{TASK_A[p]} (is {TASK_A[t]})" for p, t in zip(predicted, truth)]
    viz.show_images(x_test[picks], titles, cols=8, path=os.path.join(folder, "test_predictions.png"))
    viz.show_filters(model.layers[0], path=os.path.join(folder, "filters_layer1.png"))
    viz.show_feature_maps(model, x_test[picks[0]], model.layers[0],
                          path=os.path.join(folder, "feature_maps_layer1.png"))
    utils.set_random_seed(seed)                     # the same augmentations every run
    one_each = (x_test[picks[::4]] * 255 + 0.5).astype(np.uint8)
    viz.show_augmentations(augment, one_each, samples=5,
                           path=os.path.join(folder, "augmented_samples.png"))


def _gather(it) -> Tuple[np.ndarray, np.ndarray]:
    """Every batch of a (non-shuffled) iterator, concatenated."""
    xs, ys = zip(*(it[i] for i in range(len(it))))
    return np.concatenate(xs), np.concatenate(ys)
