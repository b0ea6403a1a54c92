"""Record Keras 3 reference results for the ``foveal.nn`` model API into tests/fixtures/keras_nn.npz.

Run by hand where Keras 3 and torch are installed (the test suite itself never needs Keras):

    KERAS_BACKEND=torch python tests/make_keras_fixtures.py

Three kinds of case, all seeded:

* ``predict``: a model (described below as a small graph that both libraries build from the
  same layer names and arguments) gets random weights through ``set_weights``; the fixture
  holds the weights, the input batch and Keras's ``predict`` output.
* ``train``: the same for a few ``train_on_batch`` steps (batch-norm in training mode, a loss,
  an optimizer): the per-step losses and the final weights.
* ``optimizer``: one weight updated by ``apply_gradients`` with a fixed sequence of gradients:
  the weight after every step (isolates each optimizer's update rule).

This module is also imported by tests/test_nn_keras_parity.py: the graph descriptions and input
generators use NumPy only; Keras is imported inside :func:`keras_reference` alone.

File layout: one compressed .npz of ``<case>__<array>`` float32 arrays and a ``meta`` JSON
string (format version, Keras/NumPy versions, and the case list).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

FORMAT = 1
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "keras_nn.npz")
SEP = "__"

# A graph is a list of nodes (name, layer class, kwargs, input node names); "Input" nodes take
# the per-sample shape.  Both keras.layers and foveal.nn have every class used here.
CNN = [
    ("x", "Input", {"shape": [13, 13, 3]}, []),
    ("scale", "Rescaling", {"scale": 0.5, "offset": 0.1}, ["x"]),
    ("c1", "Conv2D", {"filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"}, ["scale"]),
    ("bn", "BatchNormalization", {}, ["c1"]),
    ("dw", "DepthwiseConv2D", {"kernel_size": 3, "strides": 2, "padding": "same",
                               "depth_multiplier": 2, "activation": "tanh"}, ["bn"]),
    ("mp", "MaxPooling2D", {"pool_size": 3, "strides": 2, "padding": "same"}, ["dw"]),
    ("ap", "AveragePooling2D", {"pool_size": 2, "padding": "same"}, ["mp"]),
    ("c2", "Conv2D", {"filters": 6, "kernel_size": [2, 1], "activation": "sigmoid"}, ["ap"]),
    ("flat", "Flatten", {}, ["c2"]),
    ("d1", "Dense", {"units": 16, "activation": "relu"}, ["flat"]),
    ("drop", "Dropout", {"rate": 0.3}, ["d1"]),
    ("out", "Dense", {"units": 5, "activation": "softmax"}, ["drop"]),
]

RESIDUAL = [
    ("x", "Input", {"shape": [10, 10, 4]}, []),
    ("c1", "Conv2D", {"filters": 6, "kernel_size": 3, "padding": "same", "dilation_rate": 2}, ["x"]),
    ("r1", "ReLU", {}, ["c1"]),
    ("c2", "Conv2D", {"filters": 6, "kernel_size": 3, "padding": "same", "use_bias": False}, ["r1"]),
    ("bn", "BatchNormalization", {"momentum": 0.9, "epsilon": 0.01}, ["c2"]),
    ("add", "Add", {}, ["r1", "bn"]),
    ("act", "Activation", {"activation": "tanh"}, ["add"]),
    ("c3", "Conv2D", {"filters": 4, "kernel_size": 1, "strides": 2, "activation": "sigmoid"}, ["act"]),
    ("p1", "GlobalAveragePooling2D", {}, ["c3"]),
    ("p2", "GlobalMaxPooling2D", {}, ["act"]),
    ("cat", "Concatenate", {}, ["p1", "p2"]),
    ("logits", "Dense", {"units": 4}, ["cat"]),
    ("out", "Softmax", {}, ["logits"]),
]


def small(units, activation, bn=True):
    """The model of the training cases: conv, batch-norm, depthwise conv, pooling, dense."""
    g = [("x", "Input", {"shape": [9, 9, 2]}, []),
         ("c1", "Conv2D", {"filters": 4, "kernel_size": 3, "padding": "same", "activation": "relu"}, ["x"])]
    prev = "c1"
    if bn:
        g.append(("bn", "BatchNormalization", {}, ["c1"]))
        prev = "bn"
    g += [("dw", "DepthwiseConv2D", {"kernel_size": 3, "padding": "same", "activation": "tanh"}, [prev]),
          ("mp", "MaxPooling2D", {}, ["dw"]),
          ("flat", "Flatten", {}, ["mp"]),
          ("out", "Dense", {"units": units, "activation": activation}, ["flat"])]
    return g


CASES = [
    {"name": "predict_cnn", "kind": "predict", "graph": CNN, "batch": 6, "seed": 1},
    {"name": "predict_residual", "kind": "predict", "graph": RESIDUAL, "batch": 5, "seed": 2},
    {"name": "train_sgd_momentum_cce", "kind": "train", "graph": small(5, "softmax"), "batch": 16,
     "seed": 3, "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9}],
     "loss": ["CategoricalCrossentropy", {}], "targets": "onehot"},
    {"name": "train_sgd_nesterov_sparse", "kind": "train", "graph": small(5, "softmax"), "batch": 16,
     "seed": 4, "optimizer": ["SGD", {"learning_rate": 0.05, "momentum": 0.9, "nesterov": True}],
     "loss": ["SparseCategoricalCrossentropy", {}], "targets": "sparse"},
    {"name": "train_sgd_mse", "kind": "train", "graph": small(3, None), "batch": 16, "seed": 5,
     "optimizer": ["SGD", {"learning_rate": 0.1}], "loss": ["MeanSquaredError", {}],
     "targets": "real"},
    {"name": "train_adam_logits", "kind": "train", "graph": small(5, None), "batch": 16, "seed": 6,
     "optimizer": ["Adam", {"learning_rate": 0.01}],
     "loss": ["CategoricalCrossentropy", {"from_logits": True}], "targets": "onehot"},
    {"name": "train_rmsprop_bce", "kind": "train", "graph": small(1, "sigmoid"), "batch": 16,
     "seed": 7, "optimizer": ["RMSprop", {"learning_rate": 0.01}],
     "loss": ["BinaryCrossentropy", {}], "targets": "binary"},
    {"name": "train_rmsprop_centered_bce_logits", "kind": "train", "graph": small(3, None, bn=False),
     "batch": 16, "seed": 8,
     "optimizer": ["RMSprop", {"learning_rate": 0.01, "momentum": 0.5, "centered": True}],
     "loss": ["BinaryCrossentropy", {"from_logits": True}], "targets": "binary"},
    {"name": "opt_sgd", "kind": "optimizer", "seed": 9, "optimizer": ["SGD", {"learning_rate": 0.1}]},
    {"name": "opt_sgd_momentum", "kind": "optimizer", "seed": 10,
     "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.8}]},
    {"name": "opt_sgd_nesterov", "kind": "optimizer", "seed": 11,
     "optimizer": ["SGD", {"learning_rate": 0.1, "momentum": 0.8, "nesterov": True}]},
    {"name": "opt_adam", "kind": "optimizer", "seed": 12, "optimizer": ["Adam", {}]},
    {"name": "opt_adam_custom", "kind": "optimizer", "seed": 13,
     "optimizer": ["Adam", {"learning_rate": 0.02, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-4}]},
    {"name": "opt_rmsprop", "kind": "optimizer", "seed": 14, "optimizer": ["RMSprop", {}]},
    {"name": "opt_rmsprop_momentum_centered", "kind": "optimizer", "seed": 15,
     "optimizer": ["RMSprop", {"learning_rate": 0.01, "rho": 0.8, "momentum": 0.7, "centered": True}]},
]
TRAIN_STEPS = 4
OPT_STEPS = 8
OPT_SHAPE = (4, 3)


def build(lib, graph):
    """Build ``graph`` with ``lib`` = keras or foveal.nn (same class names and arguments)."""
    tensors = {}
    for name, cls, kwargs, inputs in graph:
        if cls == "Input":
            tensors[name] = lib.Input(tuple(kwargs["shape"]))
            first = tensors[name]
            continue
        layer = getattr(lib.layers, cls)(**kwargs)
        args = [tensors[i] for i in inputs]
        tensors[name] = layer(args if len(args) > 1 else args[0])
    return lib.Model(first, tensors[graph[-1][0]])


def random_weights(shapes, names, seed):
    """Weights drawn N(0, 0.4²); moving variances drawn positive."""
    rng = np.random.default_rng(1000 + seed)
    out = []
    for shape, name in zip(shapes, names):
        w = rng.normal(0, 0.4, shape).astype(np.float32)
        if name.endswith("moving_variance"):
            w = np.abs(w) + np.float32(0.5)
        out.append(w)
    return out


def data(case, out_units):
    """The input batch and targets of a predict/train case."""
    rng = np.random.default_rng(case["seed"])
    shape = [case["batch"]] + list(case["graph"][0][2]["shape"])
    x = rng.normal(size=shape).astype(np.float32)
    kind = case.get("targets")
    n = case["batch"]
    if kind == "onehot":
        y = np.eye(out_units, dtype=np.float32)[rng.integers(0, out_units, n)]
    elif kind == "sparse":
        y = rng.integers(0, out_units, n).astype(np.int64)
    elif kind == "binary":
        y = rng.integers(0, 2, (n, out_units)).astype(np.float32)
    elif kind == "real":
        y = rng.normal(size=(n, out_units)).astype(np.float32)
    else:
        y = None
    return x, y


def optimizer_data(case):
    """Initial weight and the gradient of every step of an optimizer case."""
    rng = np.random.default_rng(case["seed"])
    w0 = rng.normal(size=OPT_SHAPE).astype(np.float32)
    grads = rng.normal(size=(OPT_STEPS,) + OPT_SHAPE).astype(np.float32)
    return w0, grads


def keras_reference(case, weights=None):
    """Run ``case`` in Keras; returns the arrays to record."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if case["kind"] == "optimizer":
        w0, grads = optimizer_data(case)
        opt = getattr(keras.optimizers, case["optimizer"][0])(**case["optimizer"][1])
        var = keras.Variable(w0)
        trajectory = []
        for g in grads:
            opt.apply_gradients([(keras.ops.convert_to_tensor(g), var)])
            trajectory.append(np.array(keras.ops.convert_to_numpy(var), np.float32))
        return {"w0": w0, "grads": grads, "trajectory": np.stack(trajectory)}
    model = build(keras, case["graph"])
    if weights is None:
        weights = random_weights([w.shape for w in model.weights], [w.path for w in model.weights],
                                 case["seed"])
    model.set_weights(weights)
    x, y = data(case, model.output_shape[-1])
    out = {"x": x, **{f"w{i:02d}": w for i, w in enumerate(weights)}}
    if case["kind"] == "predict":
        out["out"] = model.predict(x, verbose=0).astype(np.float32)
        return out
    opt = getattr(keras.optimizers, case["optimizer"][0])(**case["optimizer"][1])
    loss = getattr(keras.losses, case["loss"][0])(**case["loss"][1])
    model.compile(optimizer=opt, loss=loss)
    losses = [float(model.train_on_batch(x, y)) for _ in range(TRAIN_STEPS)]
    out["y"] = y
    out["losses"] = np.array(losses, np.float64)
    for i, w in enumerate(model.get_weights()):
        out[f"final{i:02d}"] = w
    return out


def main():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    arrays = {}
    for case in CASES:
        for key, value in keras_reference(case).items():
            arrays[f"{case['name']}{SEP}{key}"] = value
        print("recorded", case["name"], file=sys.stderr)
    meta = {"format": FORMAT, "keras_version": keras.__version__,
            "keras_backend": keras.backend.backend(), "numpy_version": np.__version__,
            "cases": [c["name"] for c in CASES]}
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    np.savez_compressed(FIXTURE, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {FIXTURE} ({os.path.getsize(FIXTURE)} bytes)", file=sys.stderr)


if __name__ == "__main__":
    main()
