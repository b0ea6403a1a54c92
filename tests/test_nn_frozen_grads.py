"""The gradient-free path: ``need_dkernel=False`` on the convolution and dense backward passes
skips the weight-gradient work (not computed then dropped), Conv2DTranspose's forward pass runs
without it, and frozen layers on a model's backward sweep skip it too.

The work skipped is checked structurally, not by timing: ``_core._weight_grad_macs()`` counts
the multiply-adds the native weight-gradient passes ran (nominally, every tap of every output
value), so a skipped pass adds exactly 0 and a run one exactly its count.
"""
import contextlib

import numpy as np
import pytest

import foveal
import foveal.nn as nn
from foveal import _core
from foveal.nn import functional as F
from foveal.utils import set_random_seed

RNG = np.random.default_rng(23)


def rand(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


@contextlib.contextmanager
def native_threads(n):
    previous = foveal.get_num_threads()
    foveal.set_num_threads(n)
    try:
        yield
    finally:
        foveal.set_num_threads(previous)


@pytest.fixture
def two_threads():
    with native_threads(2):
        yield


def counted(fn, *args, **kwargs):
    """fn's result and the weight-gradient multiply-adds it ran."""
    _core._weight_grad_reset()
    out = fn(*args, **kwargs)
    return out, _core._weight_grad_macs()


# Every backward path of the convolution: one group (Winograd's 3x3 stride 1, the direct
# as-a-convolution input gradient, col2im for strides and dilations), grouped GEMMs, the direct
# depthwise kernel (multiplier 1) and the grouped depthwise one (multiplier 2).
CONV_CASES = [
    dict(x=(2, 10, 9, 16), k=(3, 3, 16, 24), strides=1, padding="same"),
    dict(x=(2, 9, 8, 5), k=(2, 3, 5, 7), strides=1, padding="valid"),
    dict(x=(3, 11, 10, 6), k=(3, 3, 6, 4), strides=2, padding="same"),
    dict(x=(2, 12, 12, 4), k=(3, 2, 4, 6), strides=(1, 2), padding="valid", dilation_rate=2),
    dict(x=(2, 9, 9, 6), k=(3, 3, 2, 9), strides=1, padding="same", groups=3),
    dict(x=(2, 8, 8, 8), k=(1, 1, 8, 16), strides=1, padding="valid"),
]
DW_CASES = [
    dict(x=(2, 10, 9, 7), k=(3, 3, 7, 1), strides=1, padding="same"),
    dict(x=(3, 9, 10, 4), k=(3, 2, 4, 2), strides=2, padding="valid", dilation_rate=(2, 1)),
]


def conv_grads(case, need_dx, need_dkernel, depthwise=False):
    x, k = case["x"], case["k"]
    xa, ka = case.setdefault("xa", rand(*x)), case.setdefault("ka", rand(*k))
    opts = {key: case[key] for key in ("strides", "padding", "dilation_rate", "groups") if key in case}
    if depthwise:
        y = F.depthwise_conv2d(xa, ka, **opts)
    else:
        y = F.conv2d(xa, ka, **opts)
    dy = case.setdefault("dy", rand(*y.shape))
    fn = F.depthwise_conv2d_backward if depthwise else F.conv2d_backward
    grads, macs = counted(fn, dy, xa, ka, need_dx=need_dx, need_dkernel=need_dkernel, **opts)
    nominal = dy.size * k[0] * k[1] * (1 if depthwise else k[2])
    return grads, macs, nominal


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("depthwise,case", [(False, c) for c in CONV_CASES] + [(True, c) for c in DW_CASES],
                         ids=[f"conv{i}" for i in range(len(CONV_CASES))] + [f"dw{i}" for i in range(len(DW_CASES))])
def test_conv_dx_is_bit_identical_and_the_kernel_gradient_is_skipped(isa, depthwise, case, threads):
    with native_threads(threads):
        case = dict(case)
        (dx, dk, db), macs, nominal = conv_grads(case, True, True, depthwise)
        cout = case["x"][3] * case["k"][3] if depthwise else case["k"][3]
        assert dk.shape == case["k"] and db.shape == (cout,) and macs == nominal
        (dx2, dk2, db2), macs2, _ = conv_grads(case, True, False, depthwise)
        assert dk2 is None and db2 is None and macs2 == 0
        np.testing.assert_array_equal(dx2, dx)      # bit for bit
        (dx3, dk3, db3), macs3, _ = conv_grads(case, False, True, depthwise)
        assert dx3 is None and macs3 == nominal
        np.testing.assert_array_equal(dk3, dk)
        np.testing.assert_array_equal(db3, db)
        assert conv_grads(case, False, False, depthwise)[:2] == ((None, None, None), 0)


@pytest.mark.parametrize("depthwise,case", [(False, c) for c in CONV_CASES] + [(True, c) for c in DW_CASES],
                         ids=[f"conv{i}" for i in range(len(CONV_CASES))] + [f"dw{i}" for i in range(len(DW_CASES))])
def test_conv_without_dbias_gives_the_same_dx_and_dkernel(isa, depthwise, case):
    """need_dbias=False (a convolution without a bias): dbias is None, dx and dkernel are the
    same bits, and the kernel gradient still runs in full."""
    case = dict(case)
    (dx, dk, db), macs, nominal = conv_grads(case, True, True, depthwise)
    opts = {key: case[key] for key in ("strides", "padding", "dilation_rate", "groups") if key in case}
    fn = F.depthwise_conv2d_backward if depthwise else F.conv2d_backward
    (dx2, dk2, db2), macs2 = counted(fn, case["dy"], case["xa"], case["ka"], need_dbias=False, **opts)
    assert db2 is None and macs2 == nominal
    np.testing.assert_array_equal(dx2, dx)
    np.testing.assert_array_equal(dk2, dk)
    np.testing.assert_allclose(db, case["dy"].reshape(-1, db.size).sum(0, dtype=np.float64), rtol=1e-5, atol=1e-4)


def test_layers_without_a_bias_ask_for_no_dbias(monkeypatch):
    """Conv2D, DepthwiseConv2D and SeparableConv2D with use_bias=False skip the bias-gradient
    pass; with a bias they ask for it and get its gradient."""
    seen = []
    real = F.conv2d_backward

    def spy(*args, **kwargs):
        seen.append(kwargs.get("need_dbias", True))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d_backward", spy)
    x = rand(2, 6, 6, 4)
    for use_bias in (False, True):
        for layer in (nn.Conv2D(5, 3, padding="same", use_bias=use_bias),
                      nn.DepthwiseConv2D(3, padding="same", use_bias=use_bias),
                      nn.SeparableConv2D(5, 3, padding="same", use_bias=use_bias)):
            seen.clear()
            y = layer(x, training=True)
            layer.backward(np.ones_like(y))
            assert seen and seen[0] is use_bias, (type(layer).__name__, use_bias, seen)
            assert (layer.bias.grad is not None) if use_bias else layer.bias is None


def test_mixed_precision_layers_sum_their_bias_gradient_themselves(monkeypatch):
    """Under mixed_bfloat16 the kernel's dbias would be the sum of the bfloat16-rounded dz: the
    layers do not ask for it and sum the float32 dz themselves. A frozen kernel with a trained
    bias then asks for no kernel-gradient work at all."""
    seen = []
    real = F.conv2d_backward

    def spy(*args, **kwargs):
        seen.append((kwargs.get("need_dkernel", True), kwargs.get("need_dbias", True)))
        return real(*args, **kwargs)

    monkeypatch.setattr(F, "conv2d_backward", spy)
    x = rand(2, 6, 6, 4)
    for layer in (nn.Conv2D(5, 3, padding="same", dtype="mixed_bfloat16"),
                  nn.SeparableConv2D(5, 3, padding="same", dtype="mixed_bfloat16")):
        seen.clear()
        y = layer(x, training=True)
        dy = rand(*y.shape)
        layer.backward(dy)
        assert seen[0] == (True, False), (type(layer).__name__, seen)
        np.testing.assert_allclose(layer.bias.grad, dy.astype(np.float64).sum(axis=(0, 1, 2)),
                                   rtol=1e-5, atol=1e-5)
    conv = nn.Conv2D(5, 3, padding="same", dtype="mixed_bfloat16")
    y = conv(x, training=True)
    conv._trained_weights = {id(conv.bias)}   # as a model's backward sweep sets it
    seen.clear()
    conv.backward(np.ones_like(y))
    assert seen[0] == (False, False) and conv.kernel.grad is None
    np.testing.assert_allclose(conv.bias.grad, np.full(5, y[..., 0].size, np.float64))


@pytest.mark.parametrize("lead", [(), (3,), (2, 5)])
def test_dense_dx_is_bit_identical_and_the_kernel_gradient_is_skipped(isa, lead):
    m = int(np.prod(lead, dtype=np.int64)) if lead else 1
    x, k = rand(*(lead or (1,)), 37), rand(37, 19)
    dy = rand(*x.shape[:-1], 19)
    (dx, dk, db), macs = counted(F.dense_backward, dy, x, k)
    assert dk.shape == (37, 19) and db.shape == (19,) and macs == m * 37 * 19
    (dx2, dk2, db2), macs2 = counted(F.dense_backward, dy, x, k, need_dkernel=False)
    assert dk2 is None and db2 is None and macs2 == 0
    np.testing.assert_array_equal(dx2, dx)
    (dx3, dk3, db3), _ = counted(F.dense_backward, dy, x, k, need_dx=False)
    assert dx3 is None
    np.testing.assert_array_equal(dk3, dk)
    np.testing.assert_array_equal(db3, db)
    assert counted(F.dense_backward, dy, x, k, need_dx=False, need_dkernel=False) == ((None, None, None), 0)


def test_both_flags_false_still_checks_the_arguments():
    """Both gradients declined: a no-op, but a bad call is still refused (ValueError naming the
    argument), so a caller's mistake does not hide behind the flags."""
    x, k = rand(2, 6, 6, 3), rand(3, 3, 3, 4)
    with pytest.raises(ValueError, match="dy"):
        F.conv2d_backward(rand(2, 5, 5, 4), x, k, need_dx=False, need_dkernel=False)
    with pytest.raises(ValueError, match="groups"):
        F.conv2d_backward(rand(2, 4, 4, 4), x, k, groups=2, need_dx=False, need_dkernel=False)
    with pytest.raises(ValueError, match="dy"):
        F.dense_backward(rand(4, 3), rand(4, 5), rand(5, 2), need_dx=False, need_dkernel=False)
    with pytest.raises(ValueError, match="kernel"):
        _core.dense_backward(rand(4, 2), rand(4, 5), rand(6, 2), False, False)
    assert _core.dense_backward(rand(4, 2), rand(4, 5), rand(5, 2), False, False) == (None, None, None)


@pytest.mark.parametrize("case", [
    dict(filters=32, kernel_size=3, strides=2, padding="same"),
    dict(filters=5, kernel_size=(3, 2), strides=(2, 1), padding="valid", dilation_rate=1),
    dict(filters=4, kernel_size=3, strides=2, padding="same", output_padding=1),
    dict(filters=6, kernel_size=2, strides=1, padding="valid", dilation_rate=2, use_bias=False),
], ids=["same_s2", "valid", "output_padding", "dilated"])
def test_conv2d_transpose_forward_runs_no_kernel_gradient(isa, case):
    """The forward pass is the transposed convolution's input gradient alone: the same bits as
    the full backward's dx, with no weight-gradient work."""
    layer = nn.Conv2DTranspose(**case, bias_initializer="random_normal")
    x = rand(2, 7, 6, 8)
    y, macs = counted(layer, x)
    assert macs == 0
    like = np.zeros(y.shape, np.float32)
    dx, dk, _ = F.conv2d_backward(x, like, layer.kernel.value, layer.strides, layer._conv_padding(),
                                  layer.dilation_rate)
    assert dk is not None
    want = dx + layer.bias.value if layer.use_bias else dx
    np.testing.assert_array_equal(y, want)


# ------------------------------------------------------------------------------------ models


def backbone_model(seed=3):
    """A trainable stem, a frozen middle of every kernel layer (so each sits on the backward
    sweep and must pass its input gradient on), a trainable head."""
    set_random_seed(seed)
    inp = nn.Input((8, 8, 3))
    t = nn.Conv2D(4, 3, padding="same", activation="relu", name="stem")(inp)
    t = nn.Conv2D(6, 3, padding="same", activation="relu", name="f_conv")(t)
    t = nn.DepthwiseConv2D(3, padding="same", depth_multiplier=2, name="f_dw")(t)
    t = nn.SeparableConv2D(5, 3, padding="same", activation="tanh", name="f_sep")(t)
    t = nn.Conv2DTranspose(4, 3, strides=2, padding="same", name="f_tr")(t)
    t = nn.GlobalAveragePooling2D()(t)
    t = nn.Dense(6, activation="relu", name="f_dense")(t)
    out = nn.Dense(3, activation="softmax", name="head")(t)
    model = nn.Model(inp, out)
    for layer in model.layers:
        if layer.name.startswith("f_"):
            layer.trainable = False
    return model


def data(n=16, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 8, 8, 3)).astype(np.float32), np.arange(n) % 3


@contextlib.contextmanager
def old_path(monkeypatch):
    """The behavior before need_dkernel (inside ``with``): every kernel gradient computed, the
    Conv2DTranspose forward's included, and then dropped."""
    def always(fn):
        return lambda *args, need_dkernel=True, **kwargs: fn(*args, **kwargs)
    with monkeypatch.context() as patch:
        for name in ("conv2d_backward", "dense_backward"):
            patch.setattr(F, name, always(getattr(F, name)))
        yield


def fit(model, x, y, epochs=2):
    """Compile and fit; returns the weight-gradient multiply-adds the fit ran."""
    model.compile(nn.optimizers.Adam(0.01), "sparse_categorical_crossentropy")
    _core._weight_grad_reset()
    model.fit(x, y, batch_size=8, epochs=epochs, verbose=0, shuffle=False)
    return _core._weight_grad_macs()


def stem_and_head_macs(batch, steps):
    stem = batch * 8 * 8 * 4 * 3 * 3 * 3      # N x OH x OW x Cout x kh x kw x Cin
    head = batch * 6 * 3                       # N x in x units
    return steps * (stem + head)


def test_frozen_middle_skips_its_kernel_gradients_and_trains_the_same(two_threads, monkeypatch):
    x, y = data()
    model = backbone_model()
    frozen = [w for layer in model.layers if layer.name.startswith("f_") for w in layer.weights]
    frozen_before = [w.value.copy() for w in frozen]
    macs = fit(model, x, y)
    assert macs == stem_and_head_macs(8, 4)    # two epochs of two batches: nothing frozen counted
    assert all(np.array_equal(w.value, b) for w, b in zip(frozen, frozen_before))
    assert all(w.grad is None for w in frozen)
    assert all(w.grad is not None for w in model.trainable_weights)
    assert all(getattr(layer, "_trained_weights", None) is None for layer in model.layers)

    with old_path(monkeypatch):
        old = backbone_model()
        old_macs = fit(old, x, y)
    assert old_macs > macs
    for a, b in zip(model.get_weights(), old.get_weights()):
        np.testing.assert_array_equal(a, b)     # every weight, the trained stem and head included


def test_frozen_backbone_fit_gives_the_same_head(two_threads, monkeypatch):
    """The transfer-learning pattern (all but the head frozen): the same trained head as when
    every gradient was computed. The frozen layers are off the backward sweep (nothing before
    them learns); what the new path saves is the Conv2DTranspose forward's kernel gradient."""
    x, y = data(n=24, seed=4)

    def run():
        model = backbone_model(seed=9)
        model.get_layer("stem").trainable = False
        return model, fit(model, x, y)

    model, macs = run()
    assert macs == 2 * 3 * (8 * 6 * 3)         # epochs x batches x the head's dkernel
    with old_path(monkeypatch):
        old, old_macs = run()
    assert old_macs > macs
    assert any(not np.array_equal(w, b) for w, b in zip(model.get_layer("head").get_weights(),
                                                        backbone_model(seed=9).get_layer("head").get_weights()))
    for a, b in zip(model.get_weights(), old.get_weights()):
        np.testing.assert_array_equal(a, b)     # the trained head, bit for bit (and the frozen rest)


def test_compiled_flags_decide_which_gradients_run():
    """fit trains the weights trainable at compile (Keras 3): a layer frozen after compile still
    gets its gradients, one unfrozen after compile gets none (grad None), until compile again."""
    x, y = data()
    model = backbone_model()
    model.compile(nn.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    stem, f_conv = model.get_layer("stem"), model.get_layer("f_conv")
    stem.trainable, f_conv.trainable = False, True
    _core._weight_grad_reset()
    with pytest.warns(UserWarning, match="compile"):
        model.train_on_batch(x[:8], y[:8])
    assert _core._weight_grad_macs() == stem_and_head_macs(8, 1)
    assert stem.kernel.grad is not None and f_conv.kernel.grad is None and f_conv.bias.grad is None
    model.compile(nn.optimizers.SGD(0.01), "sparse_categorical_crossentropy")
    _core._weight_grad_reset()
    model.train_on_batch(x[:8], y[:8])
    f_conv_macs = 8 * 8 * 8 * 6 * 3 * 3 * 4
    assert _core._weight_grad_macs() == 8 * 6 * 3 + f_conv_macs    # head and f_conv; stem frozen
    assert stem.kernel.grad is None and f_conv.kernel.grad is not None


def test_direct_backward_calls_compute_every_gradient():
    """Outside fit, a layer's backward computes all its gradients, frozen or not (as before)."""
    for layer, x in [(nn.Conv2D(4, 3, trainable=False), rand(2, 6, 6, 3)),
                     (nn.Dense(5, trainable=False), rand(4, 7)),
                     (nn.SeparableConv2D(4, 3, trainable=False), rand(2, 6, 6, 3)),
                     (nn.Conv2DTranspose(4, 3, strides=2, trainable=False), rand(2, 5, 5, 3))]:
        y = layer(x, training=True)
        layer.backward(np.ones_like(y))
        assert all(w.grad is not None and w.grad.shape == w.shape for w in layer.weights), layer
