"""The CUDA build on a GPU (API.md, "CUDA build"): every CUDA op against the CPU op on the seeded
cases of tests/cuda_cases.py (float32 within 1e-4 of the output scale, uint8 within 1), device
arrays (CuPy, PyTorch CUDA tensors, DeviceArray) in and the same kind out, the routing of
``foveal.set_device("cuda")``, and TF32 only when opted in. Skipped, with the reason, where this
build has no ``foveal._cuda`` or no GPU answers. tools/gpu_check.sh runs it on a lent GPU.
"""
import numpy as np
import pytest

import cuda_cases
import foveal
import foveal.image as fi
import foveal.nn.functional as F

try:
    from foveal import _cuda
except ImportError:
    _cuda = None

if _cuda is None:
    pytest.skip("this foveal build has no foveal._cuda (build with -Ccmake.define.FOVEAL_CUDA=ON)",
                allow_module_level=True)
if _cuda.device_count() == 0:
    pytest.skip(f"no CUDA GPU answers: {foveal.build_info().get('cuda_error', '')}", allow_module_level=True)

from foveal import _cuda_ops  # noqa: E402

CASES = cuda_cases.all_cases()


@pytest.fixture
def on_cuda():
    foveal.set_device("cuda")
    try:
        yield
    finally:
        foveal.set_device("cpu")
        foveal.set_float32_matmul_precision("highest")


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_gpu_matches_cpu(case):
    want = cuda_cases.cpu_op(case.op)(*case.args, **case.kwargs)
    got = cuda_cases.cuda_op(case.op)(*case.args, **case.kwargs)
    cuda_cases.check(case, got, want)


def test_set_device_routes_functional_and_image_ops(on_cuda):
    rng = np.random.default_rng(1)
    x, k = rng.standard_normal((2, 16, 16, 8), dtype=np.float32), rng.standard_normal((3, 3, 8, 12), dtype=np.float32)
    img = rng.integers(0, 256, (40, 30, 3), dtype=np.uint8)
    assert foveal.get_device() == "cuda"
    for got, want in [
        (F.conv2d(x, k, padding="same", activation="relu"),
         F.conv2d.__wrapped__(x, k, padding="same", activation="relu")),
        (F.max_pool2d(x, 3, 2, "same"), F.max_pool2d.__wrapped__(x, 3, 2, "same")),
        (fi.resize(img, (17, 61)), fi.resize.__wrapped__(img, (17, 61))),
        (fi.rotate(img, 17.0), fi.rotate.__wrapped__(img, 17.0)),  # rotate -> the routed warp_affine
    ]:
        assert isinstance(got, np.ndarray) and got.dtype == want.dtype and got.shape == want.shape
        if want.dtype == np.uint8:
            assert np.abs(got.astype(int) - want).max() <= 1
        else:
            assert np.abs(got - want).max() <= 1e-4 * np.abs(want).max()


@pytest.mark.parametrize("lib", ["cupy", "torch", "DeviceArray"])
def test_device_arrays_in_same_kind_out(lib):
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 12, 12, 5), dtype=np.float32)
    k = rng.standard_normal((3, 3, 5, 7), dtype=np.float32)
    img = rng.integers(0, 256, (2, 20, 24, 3), dtype=np.uint8)
    if lib == "cupy":
        cp = pytest.importorskip("cupy")
        to_dev, kind = cp.asarray, cp.ndarray
    elif lib == "torch":
        torch = pytest.importorskip("torch")
        if not torch.cuda.is_available():
            pytest.skip("PyTorch here has no CUDA")
        to_dev, kind = (lambda a: torch.from_numpy(a).cuda()), torch.Tensor
    else:
        to_dev, kind = _cuda_ops.to_device, _cuda_ops.DeviceArray
    y = _cuda_ops.conv2d(to_dev(x), to_dev(k), padding="same")
    assert isinstance(y, kind)
    np.testing.assert_allclose(cuda_cases.as_numpy(y), F.conv2d.__wrapped__(x, k, padding="same"),
                               rtol=0, atol=1e-4 * np.abs(F.conv2d.__wrapped__(x, k, padding="same")).max())
    dx, dk, db = _cuda_ops.conv2d_backward(to_dev(np.ones((2, 12, 12, 7), np.float32)), to_dev(x), to_dev(k),
                                           padding="same")
    assert all(isinstance(a, kind) for a in (dx, dk, db))
    r = _cuda_ops.resize(to_dev(img), (9, 50))
    assert isinstance(r, kind)
    want = fi.resize.__wrapped__(img, (9, 50))
    assert np.abs(cuda_cases.as_numpy(r).astype(int) - want).max() <= 1


def test_torch_non_contiguous_and_dlpack_inputs():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("PyTorch here has no CUDA")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((2, 6, 9, 9), dtype=np.float32)   # NCHW
    t = torch.from_numpy(x).cuda().permute(0, 2, 3, 1)        # an NHWC view, not contiguous
    want = F.max_pool2d.__wrapped__(np.ascontiguousarray(x.transpose(0, 2, 3, 1)), 2)
    got = _cuda_ops.max_pool2d(t, 2)
    assert isinstance(got, torch.Tensor) and got.is_cuda
    np.testing.assert_array_equal(got.cpu().numpy(), want)

    class DLPackOnly:  # a CUDA array known only through DLPack
        def __init__(self, t):
            self.t = t

        def __dlpack__(self, **kw):
            return self.t.__dlpack__(**kw)

        def __dlpack_device__(self):
            return self.t.__dlpack_device__()

    got = _cuda_ops.max_pool2d(DLPackOnly(t.contiguous()), 2)
    np.testing.assert_array_equal(cuda_cases.as_numpy(got), want)


def test_tf32_only_when_opted_in(on_cuda):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 32, 32, 64), dtype=np.float32)
    k = rng.standard_normal((3, 3, 64, 64), dtype=np.float32)
    want = F.conv2d.__wrapped__(x, k, padding="same")
    scale = np.abs(want).max()
    exact = F.conv2d(x, k, padding="same")
    assert np.abs(exact - want).max() <= 1e-4 * scale
    foveal.set_float32_matmul_precision("high")
    tf32 = F.conv2d(x, k, padding="same")
    err = np.abs(tf32 - want).max()
    # TF32 keeps 10 mantissa bits: errors of about 1e-3 relative, clearly above exact float32's.
    assert 1e-5 * scale < err <= 1e-2 * scale, err
    foveal.set_float32_matmul_precision("highest")
    np.testing.assert_array_equal(F.conv2d(x, k, padding="same"), exact)


def test_optimizer_steps_in_place_on_the_gpu():
    rng = np.random.default_rng(5)
    w, g, m = (rng.standard_normal(5000, dtype=np.float32) for _ in range(3))
    v = rng.random(5000, dtype=np.float32)
    dw, dm, dv = _cuda_ops.to_device(w), _cuda_ops.to_device(m), _cuda_ops.to_device(v)
    _cuda_ops.adam_step(dw, g, dm, dv, 0.001, 0.9, 0.999, 1e-7)
    foveal._core.adam_step(w, g, m, v, 0.001, 0.9, 0.999, 1e-7)
    for a, b in ((dw, w), (dm, m), (dv, v)):
        np.testing.assert_allclose(a.get(), b, rtol=1e-6, atol=1e-7)
    dw, dm = _cuda_ops.to_device(w), _cuda_ops.to_device(m)
    _cuda_ops.sgd_step(dw, g, dm, 0.01, 0.9, True)
    foveal._core.sgd_step(w, g, m, 0.01, 0.9, True)
    np.testing.assert_array_equal(dw.get(), w)
    np.testing.assert_array_equal(dm.get(), m)
