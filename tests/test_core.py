"""The native core: build_info, thread control, ISA selection, and thread safety."""
import json
import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import foveal
import foveal.nn.functional as F
import reference
from foveal import _core

ISA_ORDER = ("scalar", "avx2", "avx512")


def test_build_info_keys_and_types():
    info = foveal.build_info()
    assert isinstance(info, dict)
    expected = {"version", "compiler", "openmp", "cpu_features", "isa", "cuda_compiled",
                "cuda_available", "num_threads"}
    assert expected <= set(info), f"missing keys: {expected - set(info)}"
    assert isinstance(info["version"], str) and info["version"]
    assert isinstance(info["compiler"], str) and info["compiler"]
    assert isinstance(info["openmp"], (bool, str, int))
    assert isinstance(info["cpu_features"], list)
    assert all(isinstance(f, str) for f in info["cpu_features"])
    assert info["isa"] in ISA_ORDER
    assert isinstance(info["cuda_compiled"], bool)
    assert isinstance(info["cuda_available"], bool)
    assert not info["cuda_available"] or info["cuda_compiled"]
    assert isinstance(info["num_threads"], int) and info["num_threads"] >= 1
    if hasattr(foveal, "__version__"):
        assert info["version"] == foveal.__version__


def test_available_isas():
    isas = _core.available_isas()
    assert isinstance(isas, list) and "scalar" in isas
    assert set(isas) <= set(ISA_ORDER)
    assert len(set(isas)) == len(isas)
    assert foveal.build_info()["isa"] in isas
    assert _core.get_isa() in isas


def test_set_isa_switches_build_info(isa):
    assert _core.get_isa() == isa
    assert foveal.build_info()["isa"] == isa


def test_kernel_table_holds_the_isas_own_kernels(isa):
    """Each entry of cpp/include/foveal/kernel_list.h is, in this ISA's table, that ISA's symbol
    (the tables are checked for null entries when they are built)."""
    names = _core.kernel_names()
    assert names and len(set(names)) == len(names)
    assert {"gemm_tile", "gemm", "dwconv_row", "resample_row_f32"} <= set(names)
    table = _core.kernel_table(isa)
    assert list(table) == names
    for field, symbol in table.items():
        assert symbol.endswith(f"__{isa}"), f"{isa} table: {field} -> {symbol}"


@pytest.mark.parametrize("name", ISA_ORDER)
def test_kernel_table_of_any_known_isa(name):
    """A build without an ISA's kernels (not x86-64) keeps the scalar ones in that table."""
    table = _core.kernel_table(name)
    assert list(table) == _core.kernel_names()
    assert all(s.endswith((f"__{name}", "__scalar")) for s in table.values()), table


@pytest.mark.parametrize("name", ["bogus", "", "AVX2 ", "sse"])
def test_kernel_table_rejects_unknown(name):
    with pytest.raises(ValueError):
        _core.kernel_table(name)


@pytest.mark.parametrize("name", ["bogus", "", "AVX2 ", "sse"])
def test_set_isa_rejects_unknown(name):
    before = _core.get_isa()
    with pytest.raises(ValueError):
        _core.set_isa(name)
    assert _core.get_isa() == before


def test_set_isa_rejects_unsupported():
    unsupported = [name for name in ISA_ORDER if name not in _core.available_isas()]
    if not unsupported:
        pytest.skip("this CPU supports every ISA")
    before = _core.get_isa()
    for name in unsupported:
        with pytest.raises(ValueError):
            _core.set_isa(name)
    assert _core.get_isa() == before


def test_num_threads_round_trip():
    before = foveal.get_num_threads()
    assert isinstance(before, int) and before >= 1
    try:
        for n in (1, 2, 3, 1):
            foveal.set_num_threads(n)
            assert foveal.get_num_threads() == n
            assert foveal.build_info()["num_threads"] == n
    finally:
        foveal.set_num_threads(before)
    assert foveal.get_num_threads() == before


@pytest.mark.parametrize("n", [0, -1])
def test_set_num_threads_rejects_nonpositive(n):
    before = foveal.get_num_threads()
    with pytest.raises(ValueError):
        foveal.set_num_threads(n)
    assert foveal.get_num_threads() == before


def test_conv2d_correct_for_every_thread_count(isa):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 19, 21, 17), dtype=np.float32)
    kernel = rng.standard_normal((3, 3, 17, 33), dtype=np.float32)
    before = foveal.get_num_threads()
    try:
        outs = []
        for n in (1, 2, 3):
            foveal.set_num_threads(n)
            outs.append(F.conv2d(x, kernel, padding="same"))
    finally:
        foveal.set_num_threads(before)
    ref = reference.conv2d(x, kernel, padding="same")
    for out in outs:
        np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


def _run_python(code, **env):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


_REPORT = ("import json, foveal; from foveal import _core; "
           "print(json.dumps([foveal.build_info()['isa'], _core.get_isa(), "
           "_core.available_isas()]))")


@pytest.mark.parametrize("forced", _core.available_isas())
def test_env_var_forces_isa(forced):
    proc = _run_python(_REPORT, FOVEAL_ISA=forced)
    assert proc.returncode == 0, proc.stderr
    info_isa, core_isa, _ = json.loads(proc.stdout.strip().splitlines()[-1])
    assert info_isa == forced and core_isa == forced


def test_default_isa_is_the_best_available():
    env = {k: v for k, v in os.environ.items() if k != "FOVEAL_ISA"}
    proc = subprocess.run([sys.executable, "-c", _REPORT], capture_output=True, text=True,
                          timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr
    info_isa, core_isa, available = json.loads(proc.stdout.strip().splitlines()[-1])
    best = max(available, key=ISA_ORDER.index)
    assert info_isa == core_isa == best


def test_conv2d_from_several_threads(isa):
    """Kernels release the GIL: four threads at once, each checking its own result."""
    rng = np.random.default_rng(2024)
    jobs = []
    for t in range(4):
        c = (3, 16, 17, 33)[t]
        x = rng.standard_normal((2, 20 + t, 18, c), dtype=np.float32)
        kernel = rng.standard_normal((3, 3, c, 8 + 9 * t), dtype=np.float32)
        bias = rng.standard_normal(8 + 9 * t, dtype=np.float32)
        kw = dict(strides=1 + t % 2, padding="same", activation="relu")
        jobs.append((x, kernel, bias, kw, reference.conv2d(x, kernel, bias, **kw)))

    barrier = threading.Barrier(len(jobs))
    errors = []

    def work(x, kernel, bias, kw, ref):
        try:
            barrier.wait()
            for _ in range(10):
                out = F.conv2d(x, kernel, bias, **kw)
                np.testing.assert_allclose(out, ref, rtol=1e-4,
                                           atol=1e-4 * max(1.0, np.abs(ref).max()))
        except BaseException as e:  # collected, re-raised in the main thread
            errors.append(e)

    threads = [threading.Thread(target=work, args=job) for job in jobs]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a conv2d call hung"
    assert not errors, errors[0]
