"""Train a small CNN on scikit-learn's handwritten digits (8x8 gray) with foveal.nn, the Keras
way: Sequential, compile, fit with a validation split and callbacks, evaluate, save and reload,
export to ONNX and check onnxruntime gives the same predictions; the training curves are drawn
with foveal.viz.

    python examples/train_digits.py [-o OUTDIR] [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Optional, Sequence

import numpy as np

import foveal
from foveal import nn, viz


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="digits_out", help="folder for the model files and the curves")
    parser.add_argument("--quick", action="store_true", help="3 epochs (for CI)")
    args = parser.parse_args(argv)
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images[..., None] / 16.0).astype(np.float32)        # N x 8 x 8 x 1
    y = digits.target
    rng = np.random.default_rng(0)
    order = rng.permutation(len(x))
    test, train = order[:360], order[360:]

    foveal.utils.set_random_seed(0)
    model = nn.Sequential([
        nn.Input((8, 8, 1)),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.Conv2D(32, 3, padding="same", activation="relu"),
        nn.MaxPooling2D(),
        nn.Flatten(),
        nn.Dropout(0.2),
        nn.Dense(64, activation="relu"),
        nn.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    model.summary()
    os.makedirs(args.output, exist_ok=True)
    best = os.path.join(args.output, "best.foveal")
    history = model.fit(x[train], y[train], batch_size=32, epochs=3 if args.quick else 15,
                        validation_split=0.1, verbose=2,
                        callbacks=[nn.callbacks.ModelCheckpoint(best, save_best_only=True),
                                   nn.callbacks.EarlyStopping(patience=3, restore_best_weights=True)])
    curves = os.path.join(args.output, "training_curves.png")
    viz.plot_history(history, path=curves)
    print(f"training curves in {curves}")
    loss, acc = model.evaluate(x[test], y[test], verbose=0)
    print(f"test accuracy {acc:.3f} (loss {loss:.3f})")

    reloaded = nn.load_model(best)
    print(f"reloaded the best checkpoint: test accuracy "
          f"{reloaded.evaluate(x[test], y[test], verbose=0)[1]:.3f}")
    onnx_path = os.path.join(args.output, "digits.onnx")
    model.export_onnx(onnx_path)
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    ours = model.predict(x[test], verbose=0)
    theirs = session.run(None, {session.get_inputs()[0].name: x[test]})[0]
    print(f"onnxruntime vs predict: max difference {np.abs(ours - theirs).max():.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
