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
