"""The device switch every build has (API.md, "CUDA build")."""

from __future__ import annotations

import pytest

import foveal


@pytest.fixture(autouse=True)
def _restore_device():
    yield
    foveal._device._state.update(device="cpu", matmul_precision="highest")


def test_default_device_is_cpu():
    assert foveal.get_device() == "cpu"
    foveal.set_device("cpu")
    foveal.set_device("CPU")
    assert foveal.get_device() == "cpu"


def test_cuda_without_cuda_raises_and_stays_on_cpu():
    info = foveal.build_info()
    if info["cuda_compiled"] and info["cuda_available"]:
        pytest.skip("this build has CUDA and a GPU answers: set_device('cuda') is allowed here")
    with pytest.raises(RuntimeError, match="CUDA"):
        foveal.set_device("cuda")
    assert foveal.get_device() == "cpu"
    with pytest.raises(RuntimeError, match="CUDA"):
        foveal.set_device("cuda:0")
    assert foveal.get_device() == "cpu"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "", "tpu"])
def test_unknown_device_is_a_value_error(bad):
    with pytest.raises(ValueError, match="device"):
        foveal.set_device(bad)
    assert foveal.get_device() == "cpu"


def test_device_must_be_a_string():
    with pytest.raises(TypeError, match="device"):
        foveal.set_device(0)  # type: ignore[arg-type]


def test_build_info_reports_cuda_keys():
    info = foveal.build_info()
    assert isinstance(info["cuda_compiled"], bool)
    assert isinstance(info["cuda_available"], bool)
    if not info["cuda_compiled"]:
        assert info["cuda_available"] is False


def test_float32_matmul_precision_names_follow_pytorch():
    assert foveal.get_float32_matmul_precision() == "highest"
    for p in ("high", "medium", "highest"):
        foveal.set_float32_matmul_precision(p)
        assert foveal.get_float32_matmul_precision() == p
    with pytest.raises(ValueError, match="precision"):
        foveal.set_float32_matmul_precision("tf32")
    with pytest.raises(TypeError, match="precision"):
        foveal.set_float32_matmul_precision(1)  # type: ignore[arg-type]
