"""The activations by name (foveal.nn.functional.activation, every activation= argument, the
Activation and ReLU layers): forward and backward against the float64 references of
tests/reference/nn.py on every ISA, special values and kinks, finite differences, the fused
conv / depthwise / dense forms against the unfused ones, the layers' gradients (the
pre-activation kept for silu, hard_silu and gelu), training, configs and bad names."""
import zlib

import numpy as np
import pytest

import foveal
import foveal.nn as nn
import foveal.nn.functional as F
import reference as R
from check import check_op, numeric_grad
from foveal import _core
from inputs import rand

# the activations added to linear/relu/sigmoid/tanh, by their Keras 3 names
NEW = ("relu6", "hard_sigmoid", "hard_silu", "silu", "gelu", "leaky_relu", "elu", "softplus")
ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}
ALL = ("linear", "relu", "sigmoid", "tanh") + NEW
# piecewise linear: the same float operations on every ISA, so the same bits
PIECEWISE = ("linear", "relu", "relu6", "hard_sigmoid", "hard_silu", "leaky_relu")
KINKS = {"relu": (0.0,), "relu6": (0.0, 6.0), "hard_sigmoid": (-3.0, 3.0),
         "hard_silu": (-3.0, 3.0), "leaky_relu": (0.0,), "elu": (0.0,)}
# where the first derivative jumps (elu's is continuous at 0: only its second derivative jumps)
JUMPS = {k: v for k, v in KINKS.items() if k != "elu"}
SPECIAL = np.array([0.0, -0.0, 1e-30, -1e-30, 1e-7, -1e-7, 0.5, -0.5, 0.49999997, -0.5000001,
                    1.0, -1.0, 3.0, -3.0, 2.9999998, -2.9999998, 3.0000002, -3.0000002, 6.0,
                    5.9999995, 6.0000005, 8.0, -8.0, 13.0, -13.0, 20.0, -20.0, 40.0, -40.0, 87.0,
                    -87.0, 88.0, -88.0, 100.0, -100.0, 1e4, -1e4, 1e30, -1e30], np.float32)
SHAPES = [(1,), (7,), (15,), (16,), (17,), (33,), (3, 1000), (2, 5, 7, 17), (1, 9, 9, 64)]


def needs_x(act):
    return act in R.GRAD_FROM_INPUT


def data(shape, seed, scale=3.0):
    """Seeded values with the special ones spliced in (where they fit)."""
    rng = np.random.default_rng(seed)
    x = rand(rng, *shape) * np.float32(scale)
    flat = x.reshape(-1)
    k = min(flat.size // 2, SPECIAL.size)
    idx = rng.choice(flat.size, k, replace=False)
    flat[idx] = SPECIAL[rng.permutation(SPECIAL.size)[:k]]
    return x


# ----------------------------------------------------------------------------- forward
@pytest.mark.parametrize("act", ALL + tuple(ALIASES))
@pytest.mark.parametrize("shape", SHAPES)
def test_forward_matches_reference(isa, act, shape):
    check_op("activation", data(shape, zlib.crc32(repr((act, shape)).encode())), activation=act)


@pytest.mark.parametrize("act", ALL)
def test_forward_special_values(isa, act):
    x = SPECIAL
    y = F.activation(x, act)
    assert y.dtype == np.float32 and y.shape == x.shape
    np.testing.assert_allclose(y, R.activation(x, act), rtol=2e-6, atol=1e-7, err_msg=act)
    if act in PIECEWISE:  # exact: a clip, a product with a float32 slope, a division by 6
        xd = x.astype(np.float64)
        exact = {"linear": x, "relu": np.maximum(x, 0),
                 "relu6": np.minimum(np.maximum(x, 0), 6),
                 "hard_sigmoid": np.minimum(np.maximum(x + np.float32(3), 0), 6) / np.float32(6),
                 "leaky_relu": np.where(x > 0, x, x * np.float32(0.2))}
        exact["hard_silu"] = x * exact["hard_sigmoid"]
        np.testing.assert_array_equal(y, np.asarray(exact[act], np.float32), err_msg=act)
        assert np.isfinite(xd).all()
    for k in KINKS.get(act, ()):  # the value at a kink is the reference's, exactly
        assert F.activation(np.float32([k]), act)[0] == np.float32(R.activation(k, act)), (act, k)


def test_forward_named_values():
    """A few values written out from the Keras 3 definitions."""
    x = np.float32([-4.0, -3.0, -1.5, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_array_equal(F.activation(x, "relu6"), [0, 0, 0, 0, 1.5, 3, 4])
    np.testing.assert_array_equal(F.activation(np.float32([7.0, 6.0]), "relu6"), [6, 6])
    np.testing.assert_allclose(F.activation(x, "hard_sigmoid"), [0, 0, 0.25, 0.5, 0.75, 1, 1])
    np.testing.assert_allclose(F.activation(x, "hard_swish"), [0, 0, -0.375, 0, 1.125, 3, 4])
    np.testing.assert_allclose(F.activation(x, "leaky_relu"), [-0.8, -0.6, -0.3, 0, 1.5, 3, 4],
                               rtol=1e-7)
    np.testing.assert_allclose(F.activation(np.float32([1.0, -1.0]), "gelu"),
                               [0.8413447460685429, -0.15865525393145707], rtol=1e-6)
    np.testing.assert_allclose(F.activation(np.float32([1.0, -1.0]), "elu"),
                               [1.0, np.expm1(-1.0)], rtol=1e-6)
    np.testing.assert_allclose(F.activation(np.float32([0.0]), "softplus"), [np.log(2)], rtol=1e-6)
    np.testing.assert_array_equal(F.activation(x, None), x)


@pytest.mark.parametrize("act", ALL)
def test_isas_agree(act):
    """Piecewise-linear activations give the same bits on every ISA; the ones through exp /
    erfc / log1p differ only by the scalar build's multiply-then-add for a fused multiply-add
    (a few 1e-7 relative), forward and backward."""
    x = data((4099,), 7, scale=6.0)
    dy = rand(np.random.default_rng(8), 4099)
    previous, out = _core.get_isa(), {}
    try:
        for isa in _core.available_isas():
            _core.set_isa(isa)
            y = F.activation(x, act)
            out[isa] = (y, F.activation_backward(dy, y, act, x=x))
    finally:
        _core.set_isa(previous)
    base = out["scalar"]
    for isa, (y, dx) in out.items():
        if act in PIECEWISE:
            np.testing.assert_array_equal(y, base[0], err_msg=f"{act} {isa}")
            np.testing.assert_array_equal(dx, base[1], err_msg=f"{act} {isa}")
        else:
            np.testing.assert_allclose(y, base[0], rtol=2e-6, atol=1e-7, err_msg=f"{act} {isa}")
            np.testing.assert_allclose(dx, base[1], rtol=2e-6, atol=1e-7, err_msg=f"{act} {isa}")


# ----------------------------------------------------------------------------- backward
@pytest.mark.parametrize("act", ALL + tuple(ALIASES))
@pytest.mark.parametrize("shape", SHAPES)
def test_backward_matches_reference(isa, act, shape):
    seed = zlib.crc32(repr((act, shape, 1)).encode())
    x = data(shape, seed)
    y = F.activation(x, act)
    dy = rand(np.random.default_rng(seed + 1), *shape)
    if len(shape) > 1 and act not in ("sigmoid", "tanh", "elu"):
        # check_op's rule (atol = 1e-6 x the largest |dy f'|) and its checks of dtype, shape,
        # aliasing and unmodified inputs
        check_op("activation", dy, y, act, grad=True, x=x)
    # every element: sigmoid's y (1 - y), tanh's 1 - y^2 and elu's y + 1 cancel in float32, so
    # their error scale is the sum of the terms' magnitudes, as in the fuzz targets
    dx = F.activation_backward(dy, y, act, x=x)
    assert dx.dtype == np.float32 and dx.shape == shape
    yd = y.astype(np.float64)
    terms = 1.0 + np.abs(yd) + yd * yd if act in ("sigmoid", "tanh", "elu") else 2.0
    np.testing.assert_allclose(dx, R.activation_backward(dy, y, act, x=x), rtol=0,
                               atol=0, err_msg=act) if act in ("linear", "relu") else None
    err = np.abs(dx - R.activation_backward(dy, y, act, x=x))
    assert (err <= 1e-6 * np.abs(dy) * terms).all(), (act, float(err.max()))


@pytest.mark.parametrize("act", ALL)
def test_backward_special_values_and_kinks(isa, act):
    """dy * f'(x) at the special values; at the kinks the one-sided value TensorFlow's gradient
    takes (relu6 and hard_sigmoid pass nothing at either end, leaky_relu 0.2 at 0)."""
    x = SPECIAL
    y = F.activation(x, act)
    dy = np.linspace(0.5, 2.0, x.size, dtype=np.float32)
    dx = F.activation_backward(dy, y, act, x=x)
    ref = dy * R.activation_derivative(x, act)
    np.testing.assert_allclose(dx, ref, rtol=2e-6, atol=1e-7, err_msg=act)
    expected_at = {"relu6": {0.0: 0.0, 6.0: 0.0, 3.0: 1.0}, "hard_sigmoid": {-3.0: 0.0, 3.0: 0.0},
                   "hard_silu": {-3.0: 0.0, 3.0: 1.0, 0.0: 0.5}, "leaky_relu": {0.0: 0.2},
                   "elu": {0.0: 1.0}, "relu": {0.0: 0.0}}
    for k, d in expected_at.get(act, {}).items():
        xk = np.float32([k])
        got = F.activation_backward(np.float32([1.0]), F.activation(xk, act), act, x=xk)[0]
        assert got == np.float32(d), (act, k, got)


@pytest.mark.parametrize("act", ALL)
def test_reference_derivative_finite_differences(act):
    """reference.activation_derivative against central differences of the float64 forward,
    away from the kinks."""
    x = np.random.default_rng(3).uniform(-8, 8, 2000)
    for k in KINKS.get(act, ()):
        x = x[np.abs(x - k) > 1e-3]
    eps = 1e-6
    num = (R.activation(x + eps, act) - R.activation(x - eps, act)) / (2 * eps)
    np.testing.assert_allclose(R.activation_derivative(x, act), num, rtol=1e-6, atol=1e-8,
                               err_msg=act)
    # and the y-based reference backward agrees with the x-based derivative
    y = R.activation(x, act)
    np.testing.assert_allclose(R.activation_backward(np.ones_like(x), y, act, x=x),
                               R.activation_derivative(x, act), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("act", ALL)
def test_backward_finite_differences(isa, act):
    """foveal's backward against central differences of foveal's own float32 forward."""
    x = np.random.default_rng(4).uniform(-7, 7, 3000).astype(np.float32)
    for k in KINKS.get(act, ()):
        x = x[np.abs(x - k) > 0.05]
    eps = np.float32(1e-2)
    hi, lo = x + eps, x - eps
    num = (F.activation(hi, act).astype(np.float64) - F.activation(lo, act)) / \
        (hi.astype(np.float64) - lo)
    got = F.activation_backward(np.ones_like(x), F.activation(x, act), act, x=x)
    np.testing.assert_allclose(got, num, rtol=1e-3, atol=2e-4, err_msg=act)


def test_backward_needs_the_right_array():
    x = np.float32([0.5, -1.0])
    y = F.activation(x, "gelu")
    with pytest.raises(ValueError, match=r"\bx\b"):
        F.activation_backward(np.ones(2, np.float32), y, "gelu")
    with pytest.raises(ValueError, match=r"\by\b"):
        F.activation_backward(np.ones(2, np.float32), None, "elu", x=x)
    with pytest.raises(ValueError, match=r"\bx\b"):
        F.activation_backward(np.ones(2, np.float32), None, "silu", x=np.ones(3, np.float32))
    with pytest.raises(ValueError, match=r"\by\b"):
        F.activation_backward(np.ones(2, np.float32), np.ones(3, np.float32), "relu6", x=x)
    # y is not needed by gelu, x not by elu
    np.testing.assert_array_equal(F.activation_backward(np.ones(2, np.float32), None, "gelu", x=x),
                                  F.activation_backward(np.ones(2, np.float32), y, "gelu", x=x))


# ----------------------------------------------------------------------------- fused forms
@pytest.mark.parametrize("act", NEW + tuple(ALIASES))
def test_fused_conv_dense_equal_unfused(isa, act):
    """conv2d / depthwise_conv2d / dense with the activation fused give exactly the unfused op
    followed by F.activation (the same kernel on the same values), and match the reference."""
    rng = np.random.default_rng(len(act))
    x = rand(rng, 2, 9, 8, 17) * np.float32(2)
    for kernel, kw in ((rand(rng, 3, 2, 17, 33), dict(padding="same")),          # GEMM
                       (rand(rng, 1, 1, 17, 70), dict(strides=2)),
                       (rand(rng, 3, 3, 1, 34), dict(groups=17, padding="same"))):  # grouped
        fused = F.conv2d(x, kernel, rand(rng, kernel.shape[3]), activation=act, **kw)
        bias = None
        np.testing.assert_array_equal(
            F.conv2d(x, kernel, bias, activation=act, **kw),
            F.activation(F.conv2d(x, kernel, bias, **kw), act), err_msg=act)
        assert fused.shape[-1] == kernel.shape[3]
    for mult in (1, 2):  # depthwise: the direct kernel (1) and the grouped GEMM (2)
        k, b = rand(rng, 3, 3, 17, mult), rand(rng, 17 * mult)
        np.testing.assert_array_equal(
            F.depthwise_conv2d(x, k, b, padding="same", activation=act),
            F.activation(F.depthwise_conv2d(x, k, b, padding="same"), act), err_msg=act)
        check_op("depthwise_conv2d", x, k, b, strides=2, padding="same", activation=act)
    xd, kd, bd = rand(rng, 37, 65), rand(rng, 65, 129), rand(rng, 129)
    np.testing.assert_array_equal(F.dense(xd, kd, bd, act), F.activation(F.dense(xd, kd, bd), act))
    check_op("dense", xd, kd, bias=bd, activation=act)
    # a 3x3 convolution the Winograd path takes without activation: fused runs the GEMM
    k3 = rand(rng, 3, 3, 17, 32)
    check_op("conv2d", x, k3, padding="same", activation=act)


# ----------------------------------------------------------------------------- layers
def _layer_cases():
    for act in NEW:
        yield nn.Conv2D(5, 3, padding="same", activation=act), (None, 5, 6, 3)
        yield nn.DepthwiseConv2D(3, activation=act), (None, 5, 6, 3)
        yield nn.Dense(4, activation=act), (None, 7)
        yield nn.Activation(act), (None, 2, 9)


LAYERS = list(_layer_cases())


@pytest.mark.parametrize("layer,shape", LAYERS,
                         ids=[f"{type(l).__name__}-{l.activation}" for l, _ in LAYERS])
def test_layer_backward_finite_differences(layer, shape):
    """The layer's gradients (the pre-activation kept for silu, hard_silu, gelu) against
    central differences; training and inference outputs are the same."""
    layer(nn.Input(shape[1:]))
    act = layer.activation
    for seed in range(11, 40):  # the first seed whose pre-activations keep off the kinks
        rng = np.random.default_rng(seed)
        layer.set_weights([rng.normal(0, 0.5, size=w.shape) for w in layer.weights])
        x = rng.normal(size=(2,) + shape[1:]).astype(np.float32)
        src = x
        if not isinstance(layer, nn.Activation):
            layer.activation = "linear"
            src = layer.call(x, training=True)
            layer.activation = act
        if not any((np.abs(src - k) < 5e-3).any() for k in JUMPS.get(act, ())):
            break
    proj = rng.normal(size=(2,) + layer.compute_output_shape(shape)[1:])
    y = layer.call(x, training=True)
    np.testing.assert_array_equal(layer.call(x, training=False), y)
    layer.call(x, training=True)
    dx = layer.backward(proj.astype(np.float32), need_dx=True)

    def loss():
        return float(np.sum(layer.call(x, training=True).astype(np.float64) * proj))

    np.testing.assert_allclose(dx, numeric_grad(loss, x), rtol=2e-2, atol=2e-3)
    for w in layer.trainable_weights:
        layer.call(x, training=True)
        layer.backward(proj.astype(np.float32), need_dx=False)
        np.testing.assert_allclose(w.grad, numeric_grad(loss, w.value), rtol=2e-2, atol=2e-3,
                                   err_msg=w.name)


@pytest.mark.parametrize("act", ("gelu", "silu", "hard_silu"))
def test_backward_after_inference_call_refuses(act):
    layer = nn.Dense(3, activation=act)
    layer(nn.Input((4,)))
    x = np.ones((2, 4), np.float32)
    layer.call(x, training=False)
    with pytest.raises(RuntimeError, match="training=True"):
        layer.backward(np.ones((2, 3), np.float32))
    layer.call(x, training=True)
    assert layer.backward(np.ones((2, 3), np.float32)).shape == (2, 4)


@pytest.mark.parametrize("act", NEW)
def test_sequential_trains(act):
    foveal.utils.set_random_seed(5)   # the initial weights too, whatever ran before
    rng = np.random.default_rng(5)
    x = rng.normal(size=(64, 6, 6, 2)).astype(np.float32)
    t = (x.mean(axis=(1, 2, 3)) > 0).astype(np.float32).reshape(-1, 1) + x[:, 0, 0, :1] * 0.3
    model = nn.Sequential([
        nn.Input((6, 6, 2)),
        nn.Conv2D(4, 3, padding="same", activation=act, kernel_initializer="he_normal"),
        nn.DepthwiseConv2D(3, activation=act),
        nn.Flatten(),
        nn.Dense(8),
        nn.Activation(act),
        nn.Dense(1),
    ])
    model.compile(optimizer=nn.optimizers.Adam(1e-2), loss="mse")
    before = model.evaluate(x, t, verbose=0)
    model.fit(x, t, epochs=15, batch_size=16, verbose=0, shuffle=False)
    after = model.evaluate(x, t, verbose=0)
    before = before[0] if isinstance(before, (list, tuple)) else before
    after = after[0] if isinstance(after, (list, tuple)) else after
    assert np.isfinite(after) and after < 0.8 * before, (act, before, after)


@pytest.mark.parametrize("name,canonical", [(a, a) for a in NEW + ("linear", "relu")] +
                         list(ALIASES.items()) + [("GELU", "gelu"), ("Swish", "silu"), (None, "linear")])
def test_config_round_trip(name, canonical):
    """get_config reports the Keras 3 name (Keras serializes swish as "silu" and hard_swish as
    "hard_silu"); from_config gives the same layer."""
    for layer in (nn.Activation(name), nn.Dense(3, activation=name),
                  nn.Conv2D(2, 1, activation=name), nn.DepthwiseConv2D(1, activation=name)):
        config = layer.get_config()
        assert config["activation"] == canonical
        clone = type(layer).from_config(config)
        assert clone.get_config() == config


def test_model_save_load_round_trip(tmp_path):
    model = nn.Sequential([nn.Input((5,)), nn.Dense(4, activation="swish"), nn.Activation("gelu"),
                           nn.Dense(3, activation="hard_swish"), nn.Activation("elu")])
    x = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
    model.save(str(tmp_path / "m.keras"))
    loaded = nn.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [layer.get_config().get("activation") for layer in loaded.layers] == \
        ["silu", "gelu", "hard_silu", "elu"]


@pytest.mark.parametrize("bad", ["bogus", "relu7", "gelu_tanh", "", "hard-swish"])
def test_bad_names_raise_value_error(bad):
    x = np.ones((1, 4, 4, 2), np.float32)
    for call in (lambda: F.activation(x, bad), lambda: F.conv2d(x, np.ones((1, 1, 2, 2)), activation=bad),
                 lambda: F.dense(x[0, 0], np.ones((2, 2)), activation=bad),
                 lambda: F.depthwise_conv2d(x, np.ones((1, 1, 2, 1)), activation=bad),
                 lambda: F.activation_backward(x, x, bad),
                 lambda: nn.Activation(bad), lambda: nn.Dense(2, activation=bad),
                 lambda: nn.Conv2D(2, 1, activation=bad),
                 lambda: nn.DepthwiseConv2D(1, activation=bad)):
        with pytest.raises(ValueError, match="activation"):
            call()
    with pytest.raises(ValueError, match="activation"):
        _core.activation(x, bad)
    with pytest.raises(TypeError, match="activation"):
        F.activation(x, 3)


# ----------------------------------------------------------------------------- ReLU layer
@pytest.mark.parametrize("kwargs,native", [
    (dict(), "relu"), (dict(max_value=6), "relu6"), (dict(max_value=6.0), "relu6"),
    (dict(negative_slope=0.2), "leaky_relu"),
])
def test_relu_layer_native_forms(kwargs, native):
    """Keras ReLU arguments that name a native activation run its kernel, forward and backward,
    and keep their config."""
    layer = nn.ReLU(**kwargs)
    x = data((3, 40), 2, scale=5.0)
    y = layer.call(x, training=True)
    np.testing.assert_array_equal(y, F.activation(x, native))
    dy = rand(np.random.default_rng(1), 3, 40)
    np.testing.assert_array_equal(layer.backward(dy), F.activation_backward(dy, y, native))
    assert layer.output_activation == native
    clone = nn.ReLU.from_config(layer.get_config())
    assert clone.get_config() == layer.get_config()
    np.testing.assert_array_equal(clone.call(x), y)


def test_relu_layer_general_form_unchanged():
    layer = nn.ReLU(max_value=4.0, negative_slope=0.1, threshold=0.5)
    x = np.float32([-1.0, 0.0, 0.6, 3.0, 5.0])
    np.testing.assert_allclose(layer.call(x), [-0.15, -0.05, 0.6, 3.0, 4.0], rtol=1e-6)
    assert layer.output_activation is None


# ----------------------------------------------------------------------------- ONNX export
@pytest.mark.parametrize("act", NEW)
def test_onnx_export(tmp_path, act):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")
    pytest.importorskip("onnx", reason="onnx is not installed (optional)")
    model = nn.Sequential([nn.Input((6, 6, 3)), nn.Conv2D(4, 3, activation=act),
                           nn.Flatten(), nn.Dense(5), nn.Activation(act)])
    x = data((2, 6, 6, 3), 9, scale=2.0)
    path = tmp_path / "m.onnx"
    model.export_onnx(str(path))
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


def test_onnx_export_relu_native_forms(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")
    pytest.importorskip("onnx", reason="onnx is not installed (optional)")
    model = nn.Sequential([nn.Input((12,)), nn.Dense(12), nn.ReLU(negative_slope=0.2),
                           nn.Dense(12), nn.ReLU(max_value=6)])
    x = data((3, 12), 4, scale=8.0)
    model.export_onnx(str(tmp_path / "r.onnx"))
    sess = ort.InferenceSession(str(tmp_path / "r.onnx"), providers=["CPUExecutionProvider"])
    out = sess.run(None, {sess.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, model.predict(x, verbose=0), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("act", [None, "relu", "relu6", "gelu"])
@pytest.mark.parametrize("shape", [(7,), (3, 5, 4, 9), (2, 70_000)])
def test_native_add_is_the_sum_then_the_activation(isa, act, shape):
    """_core.add (the Add layer's sum of two float32 tensors of one shape, on the threads):
    the same bits as NumPy's float32 sum, then the activation."""
    rng = np.random.default_rng(len(shape))
    a, b = rand(rng, *shape), rand(rng, *shape)
    got = _core.add(a, b, act or "linear")
    np.testing.assert_array_equal(got, F.activation(a + b, act))
    layer_sum = nn.Add()([a, b])
    np.testing.assert_array_equal(layer_sum, a + b)
    with pytest.raises(ValueError, match="b must have the shape of a"):
        _core.add(a, b[..., :-1] if len(shape) > 1 else b[:-1])
