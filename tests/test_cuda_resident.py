"""GPU-resident training and inference (API.md, "CUDA build": on "cuda" the weights, activations,
gradients and optimizer state live on the GPU during fit/evaluate/predict), checked without a
GPU: the device is forced to "cuda" in the host mode of the CUDA build, where the CUDA kernel
bodies run on the host and ``DeviceArray`` is host memory standing for device memory, with every
host<->device copy counted. The same seeded fits on "cpu" and "cuda" agree (losses, metrics,
weights, optimizer slots, predictions within 1e-4 of their scale); one batch goes in and one
block of results comes out per step, no weight. Skipped on the CPU-only build.
"""
import warnings

import numpy as np
import pytest

import foveal
from foveal import nn
from foveal._device_state import state as device_state
from foveal.nn import layers as L

try:
    from foveal import _cuda, _cuda_ops
except ImportError:
    _cuda = _cuda_ops = None

pytestmark = pytest.mark.skipif(_cuda is None, reason="this foveal build has no foveal._cuda "
                                "(build with -Ccmake.define.FOVEAL_CUDA=ON)")

RNG = np.random.default_rng(11)
X = RNG.standard_normal((20, 8, 8, 3)).astype(np.float32)
Y = RNG.integers(0, 5, 20)
Y1H = np.eye(5, dtype=np.float32)[Y]


class on:
    """Run the body on ``device``: "cpu"; "cuda" forced, in host mode (no GPU needed); "gpu":
    ``set_device("cuda")`` on a real GPU."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        self.host = _cuda_ops.host_mode() if self.device != "gpu" else None
        if self.host is not None:
            self.host.__enter__()
            device_state["device"] = self.device
        else:
            foveal.set_device("cuda")
        _cuda_ops.reset_transfer_counts()
        return self

    def __exit__(self, *exc):
        device_state["device"] = "cpu"
        if self.host is not None:
            self.host.__exit__(*exc)


def close(got, want, what, tol=1e-4):
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    assert got.shape == want.shape, what
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * max(float(np.abs(want).max(initial=0)), 1e-3),
                               err_msg=what)


def small_cnn():
    x = nn.Input((8, 8, 3))
    h = L.Conv2D(4, 3, padding="same", use_bias=False)(x)
    h = L.BatchNormalization()(h)
    h = L.ReLU()(h)
    h = L.MaxPooling2D()(h)
    h = L.Dropout(0.3, seed=5)(h)
    h = L.Flatten()(h)
    return nn.Model(x, L.Dense(5, activation="softmax")(h))


def residual():
    x = nn.Input((8, 8, 3))
    h = L.ZeroPadding2D(1)(x)
    h = L.Conv2D(6, 3, activation="relu")(h)
    s = L.Conv2D(6, 3, padding="same", use_bias=False)(h)
    s = L.BatchNormalization()(s)
    s = L.Activation("gelu")(s)
    s = L.DepthwiseConv2D(3, padding="same")(s)
    h = L.ReLU()(L.Add()([h, s]))
    h = L.AveragePooling2D(2)(h)
    h = L.UpSampling2D(2, interpolation="bilinear")(h)
    h = L.Conv2D(4, 1, activation="relu")(h)   # its ReLU's gradient runs inside the max pooling's
    h = L.MaxPooling2D(2)(h)
    h = L.Dropout(0.2)(h)                       # the global generator's draws
    h = L.GlobalAveragePooling2D()(h)
    return nn.Model(x, L.Dense(5)(h))


def fit_on(device, make, optimizer, loss, y, metrics=("accuracy",), **fit_args):
    foveal.utils.set_random_seed(0)
    model = make()
    model.compile(optimizer(), loss, list(metrics))
    with on(device):
        foveal.utils.set_random_seed(3)
        history = model.fit(X, y, batch_size=8, epochs=2, verbose=0, **fit_args)
        counts = _cuda_ops.transfer_counts()
        pred = model.predict(X, verbose=0)
        evaluation = model.evaluate(X, y, verbose=0, return_dict=True)
    # the layers' own arrays (not get_weights, which would synchronize), as fit left them
    values = [w.value.copy() for layer in model.layers for w in layer.weights]
    slots = [model.optimizer.slots_for(w) for w in model.trainable_weights]
    return dict(model=model, history=history.history, values=values, slots=slots, pred=pred,
                evaluation=evaluation, counts=counts, iterations=model.optimizer.iterations)


def assert_same_fit(got, want):
    for key, series in want["history"].items():
        close(got["history"][key], series, key)
    for i, (g, w) in enumerate(zip(got["values"], want["values"])):
        close(g, w, f"weight {i}")
    assert got["iterations"] == want["iterations"]
    for g, w in zip(got["slots"], want["slots"]):
        assert g.keys() == w.keys()
        for name in w:
            close(g[name], w[name], f"optimizer slot {name}")
    close(got["pred"], want["pred"], "predict")
    for key, value in want["evaluation"].items():
        close(got["evaluation"][key], value, f"evaluate {key}")


OPTIMIZERS = {
    "sgd": lambda: nn.optimizers.SGD(0.05),
    "sgd_nesterov": lambda: nn.optimizers.SGD(0.05, momentum=0.9, nesterov=True),
    "adam": lambda: nn.optimizers.Adam(0.01),
    "rmsprop_centered": lambda: nn.optimizers.RMSprop(0.01, momentum=0.5, centered=True),
}


@pytest.mark.parametrize("opt", sorted(OPTIMIZERS))
def test_small_cnn_fit_on_cuda_equals_cpu(opt):
    args = (small_cnn, OPTIMIZERS[opt], "sparse_categorical_crossentropy", Y)
    want = fit_on("cpu", *args, validation_data=(X[:6], Y[:6]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # resident: no fallback warning
        got = fit_on("cuda", *args, validation_data=(X[:6], Y[:6]))
    assert_same_fit(got, want)
    assert want["counts"]["to_device"] == 0   # the CPU run made no copy


@pytest.mark.parametrize("loss,y", [(nn.losses.CategoricalCrossentropy(from_logits=True), Y1H),
                                    (nn.losses.SparseCategoricalCrossentropy(from_logits=True), Y),
                                    ("mse", Y1H)], ids=["categorical_logits", "sparse_logits", "mse_on_host"])
def test_residual_fit_on_cuda_equals_cpu(loss, y):
    args = (residual, OPTIMIZERS["adam"], loss, y)
    want = fit_on("cpu", *args)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fit_on("cuda", *args)
    assert_same_fit(got, want)


def _weights_and_slots(model):
    n_weights = sum(len(layer.weights) for layer in model.layers)
    slots = [a for w in model.trainable_weights for a in model.optimizer.slots_for(w).values()]
    weight_bytes = sum(w.value.nbytes for layer in model.layers for w in layer.weights)
    return n_weights, len(slots), weight_bytes + sum(a.nbytes for a in slots)


@pytest.mark.parametrize("steps", [2, 5])
def test_one_batch_in_and_one_result_out_per_step(steps):
    """The weights and slots go up once and come back once per fit; per step: x and the labels
    in, one block (per-sample losses, clipped-row flags, predictions for the metric) out."""
    run = fit_on("cuda", small_cnn, OPTIMIZERS["adam"], "sparse_categorical_crossentropy", Y,
                 steps_per_epoch=steps)   # 2 epochs
    n_weights, n_slots, state_bytes = _weights_and_slots(run["model"])
    c, total = run["counts"], 2 * steps
    batches = [(min(8, 20 - (k % 3) * 8)) for k in range(steps)] * 2   # 8, 8, 4, 8, 8...
    x_bytes = sum(b * 8 * 8 * 3 * 4 for b in batches)
    y_bytes = sum(b * 8 for b in batches)   # int64 labels
    assert c["to_device"] == n_weights + n_slots + 2 * total
    assert c["bytes_to_device"] == state_bytes + x_bytes + y_bytes
    assert c["to_host"] == n_weights + n_slots + total
    # per step: losses (float32), flags (bool), predictions (b x 5 float32), each padded to 256 bytes
    pad = (lambda n: -(-n // 256) * 256)
    assert c["bytes_to_host"] == state_bytes + sum(pad(4 * b) + pad(b) + pad(20 * b) for b in batches)


def test_weights_are_in_the_layers_after_fit_and_predict_moves_no_weight_twice():
    run = fit_on("cuda", small_cnn, OPTIMIZERS["sgd_nesterov"], "sparse_categorical_crossentropy", Y)
    model, session = run["model"], run["model"]._device_session
    assert session is not None and not session.ahead and not session.valid
    foveal.utils.set_random_seed(0)
    initial = small_cnn()
    for layer, fresh in zip(model.layers, initial.layers):
        for w, w0 in zip(layer.weights, fresh.weights):
            np.testing.assert_array_equal(w.value, session.dev[id(w)].get())   # the device's, copied back
            if w.trainable and layer.trainable:
                assert not np.array_equal(w.value, w0.value), w.path        # and trained
    with on("cuda"):
        model.predict(X, batch_size=5, verbose=0)   # 4 batches
        c = _cuda_ops.transfer_counts()
    n_weights, _, _ = _weights_and_slots(model)
    assert c["to_device"] == n_weights + 4 and c["to_host"] == 4


def test_train_on_batch_keeps_the_weights_on_the_device_until_asked():
    foveal.utils.set_random_seed(0)
    cpu, gpu = small_cnn(), small_cnn()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    kernel = gpu.layers[1].kernel
    start = kernel.value.copy()
    want = [cpu.train_on_batch(X[k:k + 5], Y[k:k + 5]) for k in (0, 5, 10)]
    with on("cuda"):
        got = [gpu.train_on_batch(X[k:k + 5], Y[k:k + 5]) for k in (0, 5, 10)]
        c = _cuda_ops.transfer_counts()
        n_weights, n_slots, _ = _weights_and_slots(gpu)
        assert c["to_device"] == n_weights + n_slots + 2 * 3 and c["to_host"] == 3
        np.testing.assert_array_equal(kernel.value, start)   # the layer's array: not synchronized yet
        weights = gpu.get_weights()                            # brings them back
        assert not np.array_equal(kernel.value, start)
    close(got, want, "train_on_batch losses")
    for g, w in zip(weights, cpu.get_weights()):
        close(g, w, "weights")
    # set_weights between steps is seen by the next step (uploaded again)
    fresh = [w * 0.5 for w in cpu.get_weights()]
    cpu.set_weights(fresh)
    want = cpu.train_on_batch(X[:5], Y[:5])
    with on("cuda"):
        gpu.set_weights(fresh)
        got = gpu.train_on_batch(X[:5], Y[:5])
    close(got, want, "after set_weights")
    for g, w in zip(gpu.get_weights(), cpu.get_weights()):
        close(g, w, "weights after set_weights")


def test_back_on_cpu_the_model_continues_from_the_device_weights():
    foveal.utils.set_random_seed(0)
    cpu, gpu = small_cnn(), small_cnn()
    gpu.set_weights(cpu.get_weights())
    for m in (cpu, gpu):
        m.compile(nn.optimizers.RMSprop(0.01), "sparse_categorical_crossentropy")
    cpu.train_on_batch(X[:8], Y[:8])
    with on("cuda"):
        gpu.train_on_batch(X[:8], Y[:8])
    # the device is "cpu" again: the next step starts from the weights and slots trained on the GPU
    want = cpu.train_on_batch(X[8:16], Y[8:16])
    got = gpu.train_on_batch(X[8:16], Y[8:16])
    assert gpu._device_session is None
    close(got, want, "loss")
    for g, w in zip(gpu.get_weights(), cpu.get_weights()):
        close(g, w, "weights")


def test_input_preprocessing_runs_on_the_host_before_the_upload():
    def make():
        x = nn.Input((8, 8, 3))
        h = L.Rescaling(0.5, offset=0.1)(x)
        h = L.RandomFlip("horizontal", seed=4)(h)
        h = L.Conv2D(4, 3, activation="relu")(h)
        h = L.GlobalMaxPooling2D()(h)
        return nn.Model(x, L.Dense(5)(h))
    args = (make, OPTIMIZERS["sgd"], nn.losses.SparseCategoricalCrossentropy(from_logits=True), Y)
    want = fit_on("cpu", *args, metrics=())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = fit_on("cuda", *args, metrics=())
    assert_same_fit(got, want)
    n_weights, n_slots, _ = _weights_and_slots(got["model"])
    assert got["counts"]["to_device"] == n_weights + n_slots + 2 * 6   # 3 steps x 2 epochs


def test_binary_crossentropy_runs_on_the_host_outputs():
    def make():
        x = nn.Input((8, 8, 3))
        h = L.Conv2D(3, 3, activation="tanh")(x)
        h = L.Flatten()(h)
        return nn.Model(x, L.Dense(1, activation="sigmoid")(h))
    yb = (Y % 2).astype(np.float32)[:, None]
    args = (make, OPTIMIZERS["adam"], "binary_crossentropy", yb)
    assert_same_fit(fit_on("cuda", *args), fit_on("cpu", *args))


def test_clipped_softmax_rows_are_fixed_as_on_the_cpu():
    """A saturated softmax output (probabilities clipped to [1e-7, 1 - 1e-7]): the fused gradient
    is void on those rows and is recomputed on the host, as the CPU loss does."""
    def make():
        x = nn.Input((8, 8, 3))
        h = L.Flatten()(x)
        return nn.Model(x, L.Dense(5, activation="softmax", kernel_initializer="ones")(h))

    def run(device):
        foveal.utils.set_random_seed(0)
        model = make()
        k = model.layers[-1].kernel
        k.assign(k.value * np.linspace(-40, 40, 5, dtype=np.float32))   # saturated rows
        model.compile(nn.optimizers.SGD(0.1), "categorical_crossentropy")
        with on(device):
            losses = [model.train_on_batch(X[:8], Y1H[:8]) for _ in range(2)]
            if device == "cuda":   # per step: the block, then the outputs and the gradient to fix
                assert _cuda_ops.transfer_counts()["to_host"] == 2 * 3
        return losses, model.get_weights()

    (want_l, want_w), (got_l, got_w) = run("cpu"), run("cuda")
    close(got_l, want_l, "losses")
    for g, w in zip(got_w, want_w):
        close(g, w, "weights")


def test_frozen_layers_train_the_rest_as_on_the_cpu():
    def make():
        model = residual()
        for layer in model.layers[:5]:   # the first convolutions and the batch normalization
            layer.trainable = False
        return model
    args = (make, OPTIMIZERS["adam"], nn.losses.SparseCategoricalCrossentropy(from_logits=True), Y)
    assert_same_fit(fit_on("cuda", *args), fit_on("cpu", *args))


def test_unsupported_layer_falls_back_with_a_warning_naming_it():
    def make():
        x = nn.Input((8, 8, 3))
        a = L.Conv2D(2, 3, padding="same", name="left")(x)
        b = L.Conv2D(3, 3, padding="same", name="right")(x)
        h = L.Concatenate(name="joined")([a, b])
        h = L.GlobalAveragePooling2D()(h)
        return nn.Model(x, L.Dense(5, activation="softmax")(h))
    args = (make, OPTIMIZERS["sgd"], "sparse_categorical_crossentropy", Y)
    want = fit_on("cpu", *args)
    with pytest.warns(RuntimeWarning, match="'joined' \\(Concatenate\\)"):
        got = fit_on("cuda", *args)
    assert_same_fit(got, want)   # the per-op routed path, on the layers' own arrays
    assert not got["model"]._device_session.valid


def test_softmax_inside_the_model_trains_op_by_op_but_predicts_resident():
    def make():
        x = nn.Input((8, 8, 3))
        h = L.Flatten()(x)
        h = L.Dense(6, activation="softmax", name="inner")(h)
        return nn.Model(x, L.Dense(5)(h))
    args = (make, OPTIMIZERS["sgd"], nn.losses.SparseCategoricalCrossentropy(from_logits=True), Y)
    want = fit_on("cpu", *args)
    with pytest.warns(RuntimeWarning, match="'inner'.*softmax"):
        got = fit_on("cuda", *args)
    assert_same_fit(got, want)
    model = got["model"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with on("cuda"):
            model.predict(X, verbose=0)
            c = _cuda_ops.transfer_counts()
    assert c["to_device"] == len(model.get_weights()) + 1   # resident: each weight once, one batch


def test_host_mode_device_arrays():
    """Host-mode DeviceArrays: used in place by the ops, results of the same kind, reads counted,
    refused outside the host mode; download_many is one copy."""
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    with _cuda_ops.host_mode():
        _cuda_ops.reset_transfer_counts()
        d = _cuda_ops.to_device(a)
        s = _cuda_ops.add(d, d, "relu")
        assert isinstance(s, _cuda_ops.DeviceArray) and s.on_host and s.shape == (3, 4)
        assert not hasattr(s, "__cuda_array_interface__")
        flat = s.reshape(-1)
        got = _cuda_ops.download_many([flat, _cuda_ops.relu(d)])
        assert _cuda_ops.transfer_counts() == {"to_device": 1, "to_host": 1, "bytes_to_device": 48,
                                               "bytes_to_host": 512}
        np.testing.assert_array_equal(got[0], (2 * a).ravel())
        np.testing.assert_array_equal(got[1], a)
        with pytest.raises(ValueError, match="b must have the shape"):
            _cuda_ops.add(d, flat)
    with pytest.raises(TypeError, match="host_mode"):
        _cuda_ops.relu(d)


@pytest.mark.skipif(_cuda is None or _cuda.device_count() == 0, reason="needs a CUDA GPU (the host-mode "
                    "tests above run the same path without one)")
@pytest.mark.parametrize("make,loss,y", [(small_cnn, "sparse_categorical_crossentropy", Y),
                                         (residual, nn.losses.CategoricalCrossentropy(from_logits=True), Y1H)],
                         ids=["small_cnn", "residual"])
def test_on_a_gpu_fit_equals_cpu(make, loss, y):
    """On a real GPU (device memory, the memory pool, the one-copy downloads): the same fit as
    the CPU's and the same copies as in host mode."""
    args = (make, OPTIMIZERS["adam"], loss, y)
    want, got = fit_on("cpu", *args), fit_on("gpu", *args)
    assert_same_fit(got, want)
    assert got["counts"] == fit_on("cuda", *args)["counts"]
