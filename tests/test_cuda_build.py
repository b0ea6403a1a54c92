"""The CUDA build without a GPU (API.md, "CUDA build"): what a CPU-only build reports, what a
CUDA build reports where no GPU answers, the CUDA kernel bodies run on the host against the CPU
ops (tests/cuda_cases.py), and (marker ``cuda_build``, deselected by default: ``-m cuda_build``)
the build itself with nvcc.
"""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import cuda_cases
import foveal
import foveal.nn.functional as F
from foveal import _core

try:
    from foveal import _cuda
except ImportError:
    _cuda = None

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
needs_cuda_build = pytest.mark.skipif(_cuda is None, reason="this foveal build has no foveal._cuda "
                                      "(build with -Ccmake.define.FOVEAL_CUDA=ON)")


@pytest.fixture
def restore_device():
    yield
    foveal._device._state["device"] = "cpu"


def test_core_knows_nothing_of_cuda():
    info = _core.build_info()
    assert info["cuda_compiled"] is False and info["cuda_available"] is False


@pytest.mark.skipif(_cuda is not None, reason="this is a CUDA build")
def test_cpu_build_reports_no_cuda(restore_device):
    info = foveal.build_info()
    assert info["cuda_compiled"] is False and info["cuda_available"] is False
    with pytest.raises(RuntimeError, match="CUDA"):
        foveal.set_device("cuda")
    assert foveal.get_device() == "cpu"


@needs_cuda_build
def test_cuda_build_reports_itself():
    info = foveal.build_info()
    assert info["cuda_compiled"] is True
    assert isinstance(info["cuda_available"], bool)
    assert info["cuda_available"] == (_cuda.device_count() > 0)
    assert info["cuda_runtime_version"] >= 12000
    for key in ("version", "isa"):  # the CPU module's report is kept
        assert key in info


@needs_cuda_build
def test_no_gpu_is_a_clear_error(restore_device):
    if _cuda.device_count() > 0:
        pytest.skip("a GPU answers here: tests/test_cuda_gpu.py covers it")
    info = foveal.build_info()
    assert info["cuda_available"] is False
    assert "cuda_error" in info  # why: no device, or no driver
    with pytest.raises(RuntimeError, match="CUDA"):
        foveal.set_device("cuda")
    assert foveal.get_device() == "cpu"


# ------------------------------------------------------------- the kernel bodies, on the host
CASES = cuda_cases.all_cases()


@needs_cuda_build
@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_kernel_bodies_on_host_match_cpu(case):
    from foveal import _cuda_ops
    want = cuda_cases.cpu_op(case.op)(*case.args, **case.kwargs)
    with _cuda_ops.host_mode():
        got = cuda_cases.cuda_op(case.op)(*case.args, **case.kwargs)
    cuda_cases.check(case, got, want)


EXACT = [c for c in CASES if c.op in cuda_cases.EXACT_OPS]


@needs_cuda_build
@pytest.mark.parametrize("case", EXACT, ids=[c.id for c in EXACT])
def test_exact_kernel_bodies_give_cpu_bits(case):
    """Batch normalization's statistics (the CPU's chunked float and double sums, in order),
    dropout's mask, RMSprop, the layout ops: the same bits as the CPU, not just close."""
    from foveal import _cuda_ops
    want = cuda_cases.cpu_op(case.op)(*case.args, **case.kwargs)
    with _cuda_ops.host_mode():
        got = cuda_cases.cuda_op(case.op)(*case.args, **case.kwargs)
    for g, w in zip(got if isinstance(got, tuple) else (got,), want if isinstance(want, tuple) else (want,)):
        if w is not None:
            np.testing.assert_array_equal(g, w, err_msg=case.id)


IMAGE = [c for c in CASES if cuda_cases.is_image_op(c.op)]


@needs_cuda_build
@pytest.mark.skipif(_core.build_info()["isa"] == "scalar",
                    reason="the scalar CPU kernels round each product before adding (no FMA): within "
                           "the tolerance, not the same bits")
@pytest.mark.parametrize("case", IMAGE, ids=[c.id for c in IMAGE])
def test_image_kernel_bodies_give_cpu_bits(case):
    """Warps, resizes, filters and the augmentation do the CPU kernels' float operations in their
    order (fmaf where they use an FMA): the same bits as an AVX2/AVX-512 CPU."""
    from foveal import _cuda_ops
    want = cuda_cases.cpu_op(case.op)(*case.args, **case.kwargs)
    with _cuda_ops.host_mode():
        got = cuda_cases.cuda_op(case.op)(*case.args, **case.kwargs)
    np.testing.assert_array_equal(got, want, err_msg=case.id)


@needs_cuda_build
def test_routing_reaches_the_image_ops(restore_device):
    """On "cuda" (forced; host mode), foveal.image's filters, warps and resize run the CUDA ops,
    those that call them too (rotate, zoom, sharpen), with the CPU's results."""
    import foveal.image as fi
    from foveal import _cuda_ops
    rng = np.random.default_rng(16)
    img = rng.integers(0, 256, (2, 21, 18, 3), dtype=np.uint8)
    ops = [("filter2d", lambda: fi.filter2d(img, fi.kernels.BOX3, "constant", 9)),
           ("convolve2d", lambda: fi.convolve2d(img, np.arange(6, dtype=np.float32).reshape(2, 3) / 15)),
           ("gaussian_blur", lambda: fi.gaussian_blur(img, 5)),
           ("filter2d", lambda: fi.sharpen(img)),
           ("laplacian", lambda: fi.laplacian(img)),
           ("sobel", lambda: fi.sobel(img, 1, 0, 5)),
           ("warp_affine", lambda: fi.rotate(img, 30.0, interpolation="bicubic")),
           ("warp_affine", lambda: fi.zoom(img, 1.3, interpolation="nearest", border="reflect")),
           ("resize", lambda: fi.resize(img, (11, 40), "area"))]
    want = [run() for _, run in ops]
    calls = []
    saved = {name: getattr(_cuda_ops, name) for name, _ in ops}
    try:
        for name, real in saved.items():
            setattr(_cuda_ops, name, lambda *a, _n=name, _f=real, **k: calls.append(_n) or _f(*a, **k))
        foveal._device._state["device"] = "cuda"
        with _cuda_ops.host_mode():
            got = [run() for _, run in ops]
    finally:
        for name, real in saved.items():
            setattr(_cuda_ops, name, real)
    assert calls == [name for name, _ in ops]
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and g.dtype == w.dtype
        np.testing.assert_array_equal(g, w)


@needs_cuda_build
def test_image_ops_take_device_arrays():
    """Host-mode DeviceArrays in, DeviceArrays out (what a GPU's device arrays do), uint8 kept."""
    import foveal.image as fi
    from foveal import _cuda_ops
    rng = np.random.default_rng(17)
    img = rng.integers(0, 256, (2, 13, 15, 4), dtype=np.uint8)
    m = np.stack([np.eye(2, 3), [[0.9, 0.2, 1.0], [-0.2, 1.1, -2.0]]])
    with _cuda_ops.host_mode():
        d = _cuda_ops.to_device(img)
        for got, want in [(_cuda_ops.gaussian_blur(d, 3), fi.gaussian_blur.__wrapped__(img, 3)),
                          (_cuda_ops.sobel(d, 0, 1), fi.sobel.__wrapped__(img, 0, 1)),
                          (_cuda_ops.resize(d, (5, 31), "bicubic"), fi.resize.__wrapped__(img, (5, 31), "bicubic")),
                          (_cuda_ops.augment_batch(d, m, "bilinear", "reflect", 0.0, None, None, None, (0.0, 99.0)),
                           _core.image.augment_batch(img, m, "bilinear", "reflect", 0.0, None, None, None,
                                                     (0.0, 99.0)))]:
            assert isinstance(got, _cuda_ops.DeviceArray) and got.dtype == want.dtype
            np.testing.assert_array_equal(got.get(), want)
    try:  # rotate and zoom find the image's size without reading it, then run the routed warp
        foveal._device._state["device"] = "cuda"
        with _cuda_ops.host_mode():
            got = fi.rotate(_cuda_ops.to_device(img), 25.0, interpolation="bicubic")
    finally:
        foveal._device._state["device"] = "cpu"
    assert isinstance(got, _cuda_ops.DeviceArray)
    np.testing.assert_array_equal(got.get(), fi.rotate(img, 25.0, interpolation="bicubic"))


@needs_cuda_build
def test_image_bad_arguments_name_the_argument():
    from foveal import _cuda_ops
    img = np.zeros((9, 8, 3), np.uint8)
    x = np.zeros((2, 6, 7, 3), np.float32)
    m = np.stack([np.eye(2, 3)] * 2)
    with _cuda_ops.host_mode():
        with pytest.raises(ValueError, match="matrix"):
            _cuda_ops.warp_affine(img, [[1e-40, 0, 0], [0, 1e-40, 0]])
        with pytest.raises(ValueError, match="matrix"):
            _cuda_ops.warp_affine(img, [[1, 0, np.inf], [0, 1, 0]])
        with pytest.raises(ValueError, match="size"):
            _cuda_ops.resize(img, (0, 4))
        with pytest.raises(ValueError, match="interpolation"):
            _cuda_ops.resize(img, (4, 4), "lanczos")
        with pytest.raises(ValueError, match="kernel"):
            _cuda_ops.filter2d(img, np.ones((3, 3, 3)))
        with pytest.raises(ValueError, match="border"):
            _cuda_ops.filter2d(img, np.ones((3, 3)), border="mirror")
        with pytest.raises(ValueError, match="ksize"):
            _cuda_ops.gaussian_blur(img, 4)
        with pytest.raises(ValueError, match="dx"):
            _cuda_ops.sobel(img, 3, 0, 3)
        with pytest.raises(ValueError, match="img"):
            _cuda_ops.filter2d(np.zeros((4, 4, 5), np.uint8), np.ones((3, 3)))
        with pytest.raises(ValueError, match="matrices"):
            _cuda_ops.augment_batch(x, m[:1], "bilinear", "reflect", 0.0, None, None)
        with pytest.raises(ValueError, match="shift"):
            _cuda_ops.augment_batch(x, m, "bilinear", "reflect", 0.0, np.zeros(3, np.float32), None)
        with pytest.raises(ValueError, match="interpolation"):
            _cuda_ops.augment_batch(x, m, "bicubic", "reflect", 0.0, None, None)
        with pytest.raises(ValueError, match="uint8"):
            _cuda_ops.augment_batch(x, m, "bilinear", "reflect", 0.0, None, None, np.zeros(2, np.float32))
        with pytest.raises(ValueError, match="clip"):
            _cuda_ops.augment_batch(x.astype(np.uint8), m, "bilinear", "reflect", 0.0, None, None, None, (5.0, 1.0))
        with pytest.raises(ValueError, match="fill_mode"):
            _cuda_ops.apply_batch(x, [{}, {}], "mirror", 0.0)


@needs_cuda_build
def test_apply_batch_takes_the_cpu_ops_index(restore_device):
    """The routed apply_batch keeps the CPU op's arguments: index (the batch is x[index], as
    NumpyArrayIterator passes it) gives the batch of the gathered images, in host mode."""
    from foveal import _cuda_ops
    from foveal.data import _augment
    rng = np.random.default_rng(21)
    x = rng.standard_normal((5, 9, 11, 3)).astype(np.float32)
    index = np.array([4, 0, 4], np.int64)
    params = [{"theta": 10.0, "brightness": 1.1}, {"zx": 0.8, "zy": 0.9}, {"tx": 2.0, "flip_horizontal": True}]
    want = _augment.apply_batch.__wrapped__(np.ascontiguousarray(x[index]), params, "nearest", 0.0)
    with _cuda_ops.host_mode():
        got = _cuda_ops.apply_batch(x, params, "nearest", 0.0, index=index)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * float(np.abs(want).max()))


@needs_cuda_build
def test_sparse_cross_entropy_is_the_one_hot_one_bit_for_bit():
    from foveal import _cuda_ops
    rng = np.random.default_rng(11)
    p = rng.standard_normal((40, 9), dtype=np.float32) * 3
    labels = rng.integers(0, 9, 40)
    onehot = np.eye(9, dtype=np.float32)[labels]
    with _cuda_ops.host_mode():
        for from_logits, q in ((True, p), (False, _cuda_ops.softmax(p))):
            dense = _cuda_ops.softmax_cross_entropy(q, onehot, from_logits, 1e-7)
            sparse = _cuda_ops.sparse_softmax_cross_entropy(q, labels, from_logits, 1e-7)
            for a, b in zip(sparse, dense):
                np.testing.assert_array_equal(a, b)


@needs_cuda_build
def test_sparse_cross_entropy_bad_label_is_nan_in_the_kernel():
    """NumPy labels are checked in Python; the kernel itself (device labels are not read on the
    host) gives NaN for a row whose index is outside [0, classes), and the other rows as usual."""
    p = np.random.default_rng(12).standard_normal((3, 4), dtype=np.float32)
    labels = np.array([1, 4, -1], np.int64)
    values, grad, clipped = np.empty(3, np.float32), np.empty((3, 4), np.float32), np.ones(3, np.uint8)
    _cuda.softmax_cross_entropy(p.ctypes.data, labels.ctypes.data, values.ctypes.data, grad.ctypes.data,
                                clipped.ctypes.data, 3, 4, True, 1e-7, True, True)
    assert np.isnan(values[1:]).all() and np.isnan(grad[1:]).all() and not clipped.any()
    want = _core.softmax_cross_entropy(p[:1], np.eye(4, dtype=np.float32)[[1]], True, 1e-7)
    np.testing.assert_allclose(values[:1], want[0], rtol=1e-6)
    np.testing.assert_allclose(grad[:1], want[1] / 3, rtol=1e-5, atol=1e-7)  # divided by 3 rows here


def _dropout_hash(index: np.ndarray, key: int) -> np.ndarray:
    """The counter-based draw of foveal's dropout (kernels/nn/dropout), in NumPy uint32."""
    with np.errstate(over="ignore"):
        hi = (index >> np.uint64(32)).astype(np.uint32)
        key0 = np.uint32(key & 0xFFFFFFFF) + hi * np.uint32(0x632BE5AB)
        key1 = np.uint32(key >> 32)
        x = index.astype(np.uint32) * np.uint32(0x9E3779B1) + key0
        for shift, mul in ((16, 0x85EBCA6B), (13, 0xC2B2AE35)):
            x = (x ^ (x >> np.uint32(shift))) * np.uint32(mul)
        x = (x ^ (x >> np.uint32(16))) ^ key1
        for shift, mul in ((16, 0x7FEB352D), (15, 0x846CA68B)):
            x = (x ^ (x >> np.uint32(shift))) * np.uint32(mul)
        return x ^ (x >> np.uint32(16))


@needs_cuda_build
@pytest.mark.parametrize("rate,key", [(0.3, 2**63 + 5), (0.75, 99)])
def test_dropout_mask_statistics_and_indices_past_2_32(rate, key):
    """The mask: keep rate, values 1/(1-rate) or 0, the backward's dy * mask; and the draw of
    elements past index 2**32 (the high word keys the hash, as the CPU driver does), checked with
    the kernel's index offset against a NumPy model of the hash that matches the CPU op below 2**32."""
    from foveal import _cuda_ops
    n = 200_000
    x = np.random.default_rng(13).standard_normal(n, dtype=np.float32)
    with _cuda_ops.host_mode():
        y, mask = _cuda_ops.dropout(x, rate, key)
        dx = _cuda_ops.dropout_backward(x, rate, key)
    keep = np.float32(1.0 - rate)
    assert set(np.unique(mask).tolist()) == {0.0, float(np.float32(1) / keep)}
    kept = np.count_nonzero(mask) / n
    assert abs(kept - keep) < 4 * np.sqrt(keep * (1 - keep) / n), kept
    np.testing.assert_array_equal(y, x * mask)
    np.testing.assert_array_equal(dx, x * mask)
    threshold = int(np.rint(float(keep) * 2**24))

    def model(first: int, m: int) -> np.ndarray:
        draw = _dropout_hash(np.arange(first, first + m, dtype=np.uint64), key) >> 8
        return np.where(draw < threshold, np.float32(1) / keep, np.float32(0)).astype(np.float32)

    np.testing.assert_array_equal(model(0, n), F.dropout.__wrapped__(x, rate, key)[1])
    first, m = 2**32 - 1000, 3000
    got = np.empty(m, np.float32)
    ones = np.ones(m, np.float32)
    _cuda.dropout(ones.ctypes.data, got.ctypes.data, 0, m, key, float(keep), first, True)
    np.testing.assert_array_equal(got, model(first, m))


@needs_cuda_build
@pytest.mark.parametrize("momentum", [0.99, 0.5])
def test_moving_statistics_update_as_the_layer(momentum):
    """batch_norm_update_moving gives the moving statistics BatchNormalization computes in training."""
    from foveal import _cuda_ops
    from foveal.nn.layers import BatchNormalization
    rng = np.random.default_rng(14)
    x = rng.standard_normal((4, 5, 6, 7), dtype=np.float32) * 2 + 1
    layer = BatchNormalization(momentum=momentum)
    layer.build(x.shape)
    layer.moving_mean.value[...] = rng.standard_normal(7, dtype=np.float32)
    layer.moving_variance.value[...] = rng.random(7, dtype=np.float32) + 0.5
    mm, mv = layer.moving_mean.value.copy(), layer.moving_variance.value.copy()
    layer.call(x, training=True)
    with _cuda_ops.host_mode():
        _, mean, var, _ = _cuda_ops.batch_norm_act_train_forward(x.reshape(-1, 7), np.ones(7, np.float32),
                                                                 np.zeros(7, np.float32), layer.epsilon)
        _cuda_ops.batch_norm_update_moving(mm, mv, mean, var, momentum)
    np.testing.assert_array_equal(mm, layer.moving_mean.value)
    np.testing.assert_array_equal(mv, layer.moving_variance.value)


@needs_cuda_build
def test_routing_reaches_the_training_ops(restore_device):
    """With the device set to "cuda" (forced here: no GPU needed) and the host mode on, the routed
    functional ops and the layers on them run the CUDA ops: a BatchNormalization, Dropout,
    ZeroPadding2D, UpSampling2D and GlobalMaxPooling2D forward and backward give the CPU's results."""
    from foveal import _cuda_ops
    from foveal.nn import layers as L
    rng = np.random.default_rng(15)
    x = rng.standard_normal((2, 6, 5, 4), dtype=np.float32)

    def run(device):
        foveal._device._state["device"] = device
        out = []
        for layer in (L.BatchNormalization(), L.Dropout(0.4, seed=3), L.ZeroPadding2D(((1, 2), (0, 1))),
                      L.UpSampling2D(2, interpolation="bilinear"), L.GlobalMaxPooling2D()):
            layer.build(x.shape)
            y = layer.call(x, training=True)
            out += [y, layer.backward(np.ones_like(y))]
        out.append(F.softmax(x, axis=1))
        return out

    want = run("cpu")
    calls = []
    real = _cuda_ops.batch_norm_act_train_forward
    try:
        _cuda_ops.batch_norm_act_train_forward = lambda *a, **k: calls.append(1) or real(*a, **k)
        with _cuda_ops.host_mode():
            got = run("cuda")
    finally:
        _cuda_ops.batch_norm_act_train_forward = real
    assert calls, "BatchNormalization did not reach the CUDA op"
    for g, w in zip(got, want):
        assert isinstance(g, np.ndarray) and g.shape == w.shape
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-5 * max(1.0, float(np.abs(w).max())))


@needs_cuda_build
def test_batch_norm_inference_of_no_rows():
    """An empty batch (M = 0) in inference: empty dx, and zero sums for dgamma and dbeta, as the CPU."""
    from foveal import _cuda_ops
    x2, c = np.zeros((0, 3), np.float32), np.full(3, 2.0, np.float32)
    with _cuda_ops.host_mode():
        y, inv_std = _cuda_ops.batch_norm_inference(x2, c, c, c, c, 1e-3)
        grads = _cuda_ops.batch_norm_inference_backward(x2, x2, c, c, inv_std)
    want = F.batch_norm_inference_backward.__wrapped__(x2, x2, c, c, inv_std)
    assert y.shape == (0, 3)
    np.testing.assert_array_equal(inv_std, F.batch_norm_inference.__wrapped__(x2, c, c, c, c, 1e-3)[1])
    for g, w in zip(grads, want):
        np.testing.assert_array_equal(g, w)


@needs_cuda_build
def test_moving_update_and_rmsprop_refuse_copies():
    """In-place updates need arrays the kernels write into: a list (converted) is refused."""
    from foveal import _cuda_ops
    with _cuda_ops.host_mode():
        with pytest.raises(TypeError, match="moving_mean"):
            _cuda_ops.batch_norm_update_moving([0.0, 1.0], np.ones(2, np.float32), np.zeros(2, np.float32),
                                               np.ones(2, np.float32), 0.9)
        w = np.zeros(4, np.float32)
        with pytest.raises(ValueError, match="distinct"):
            _cuda_ops.rmsprop_step(w, np.ones(4, np.float32), w, None, None, 0.1, 0.9, 0.0, 1e-7)


@needs_cuda_build
@pytest.mark.parametrize("momentum,nesterov", [(0.0, False), (0.9, False), (0.9, True)])
def test_sgd_step_on_host_matches_cpu(momentum, nesterov):
    from foveal import _cuda_ops
    rng = np.random.default_rng(7)
    w, g, m = (rng.standard_normal(1000, dtype=np.float32) for _ in range(3))
    w2, m2 = w.copy(), m.copy()
    _core.sgd_step(w, g, m if momentum else None, 0.01, momentum, nesterov)
    with _cuda_ops.host_mode():
        _cuda_ops.sgd_step(w2, g, m2 if momentum else None, 0.01, momentum, nesterov)
    np.testing.assert_array_equal(w2, w)
    np.testing.assert_array_equal(m2, m)


@needs_cuda_build
def test_adam_step_on_host_matches_cpu():
    from foveal import _cuda_ops
    rng = np.random.default_rng(8)
    w, g, m = (rng.standard_normal(999, dtype=np.float32) for _ in range(3))
    v = rng.random(999, dtype=np.float32)
    w2, m2, v2 = w.copy(), m.copy(), v.copy()
    _core.adam_step(w, g, m, v, 0.001, 0.9, 0.999, 1e-7)
    with _cuda_ops.host_mode():
        _cuda_ops.adam_step(w2, g, m2, v2, 0.001, 0.9, 0.999, 1e-7)
    for a, b in ((w2, w), (m2, m), (v2, v)):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@needs_cuda_build
def test_bad_arguments_name_the_argument():
    from foveal import _cuda_ops
    x = np.zeros((1, 5, 5, 4), np.float32)
    with _cuda_ops.host_mode():
        with pytest.raises(ValueError, match="groups"):
            _cuda_ops.conv2d(x, np.zeros((3, 3, 4, 6), np.float32), groups=4)
        with pytest.raises(ValueError, match="bias"):
            _cuda_ops.conv2d(x, np.zeros((3, 3, 4, 6), np.float32), np.zeros(5, np.float32))
        with pytest.raises(ValueError, match="dy"):
            _cuda_ops.max_pool2d_backward(np.zeros((1, 3, 3, 4), np.float32), x)
        with pytest.raises(ValueError, match="kernel"):
            _cuda_ops.dense(np.zeros((2, 3), np.float32), np.zeros((4, 2), np.float32))
        with pytest.raises(ValueError, match="interpolation"):
            _cuda_ops.warp_affine(x, np.eye(2, 3), interpolation="cubic")
        x2, c = np.zeros((6, 4), np.float32), np.ones(4, np.float32)
        with pytest.raises(ValueError, match="epsilon"):
            _cuda_ops.batch_norm_train_forward(x2, c, c, 1e-300)
        with pytest.raises(ValueError, match="activation"):
            _cuda_ops.batch_norm_act_train_forward(x2, c, c, 1e-3, "gelu")
        with pytest.raises(ValueError, match="beta"):
            _cuda_ops.batch_norm_train_forward(x2, c, np.ones(3, np.float32), 1e-3)
        with pytest.raises(ValueError, match="dy2"):
            _cuda_ops.batch_norm_train_backward(np.zeros((5, 4), np.float32), x2, c, c)
        with pytest.raises(ValueError, match="rate"):
            _cuda_ops.dropout(x2, 1.0, 1)
        with pytest.raises(ValueError, match="key"):
            _cuda_ops.dropout(x2, 0.5, -1)
        with pytest.raises(ValueError, match="labels"):
            _cuda_ops.sparse_softmax_cross_entropy(x2, np.array([0, 1, 2, 3, 4, 5]), True, 1e-7)
        with pytest.raises(ValueError, match="axis"):
            _cuda_ops.softmax(x2, axis=2)
        with pytest.raises(ValueError, match="padding"):
            _cuda_ops.zero_pad2d_backward(x, ((3, 2), (0, 0)))
        with pytest.raises(ValueError, match="multiples"):
            _cuda_ops.upsample2d_backward(x, (2, 2))
        with pytest.raises(ValueError, match="dy"):
            _cuda_ops.global_max_pool2d_backward(np.zeros((1, 3), np.float32), x)


# ------------------------------------------------------------- the build itself (slow)
@pytest.mark.cuda_build
def test_cuda_build_compiles_and_imports(tmp_path):
    """pip builds foveal with FOVEAL_CUDA=ON (one architecture: sm_90, to keep it short) into a
    temporary folder; there foveal._cuda imports, reports cuda_compiled, and the host-run kernel
    bodies match the CPU ops."""
    nvcc = os.environ.get("CUDACXX") or shutil.which("nvcc")
    if not nvcc:
        pytest.skip("nvcc is not on PATH (nor CUDACXX set)")
    target, build = tmp_path / "site", tmp_path / "build"
    cmd = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--target", str(target),
           f"-Cbuild-dir={build}", "-Ccmake.define.FOVEAL_CUDA=ON",
           "-Ccmake.define.CMAKE_CUDA_ARCHITECTURES=90", ROOT]
    r = subprocess.run(cmd, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    # python -S: the interpreter's site-packages by path only, without their .pth files, so that an
    # editable foveal installed there cannot shadow the one just built.
    paths = [str(target)] + [p for p in sys.path if p.endswith("site-packages")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(paths))
    check = textwrap.dedent("""
        import foveal, foveal._cuda
        info = foveal.build_info()
        assert info["cuda_compiled"] is True, info
        print(foveal.__file__, info["cuda_available"])
    """)
    r = subprocess.run([sys.executable, "-S", "-c", check], capture_output=True, text=True, env=env,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stderr[-4000:]
    assert r.stdout.startswith(str(target)), f"imported foveal from elsewhere: {r.stdout}"
    # The kernel bodies on the host against the CPU ops, in that build.
    r = subprocess.run([sys.executable, "-S", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(ROOT, "tests", "test_cuda_build.py"), "-k", "not compiles_and_imports"],
                       capture_output=True, text=True, env=env, cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "no foveal._cuda" not in r.stdout, r.stdout[-2000:]
