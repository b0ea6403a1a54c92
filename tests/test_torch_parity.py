"""foveal.nn.functional against PyTorch.

* Recorded parity (always runs, no torch needed): tests/fixtures/torch_nn.npz holds inputs,
  arguments and torch.nn.functional outputs written by tests/fixtures/make_torch_fixtures.py.
* Live parity (optional): where torch is importable, fresh seeded random cases are computed
  with torch and compared; without torch these tests skip with the reason.

Tolerances are the suite's (check.TOL): rtol = tol and atol = tol * max(1, largest
pre-activation magnitude), per ISA via the ``isa`` fixture.
"""
import os

import numpy as np
import pytest

import foveal.nn.functional as F
from fixtures import make_torch_fixtures as mtf
from check import TOL

MAX_FIXTURE_BYTES = 2 * 1024 * 1024


def _load():
    if not os.path.exists(mtf.FIXTURE):
        return None, []
    return mtf.load()


META, RECORDED = _load()


def _check(case, expected, scale, where):
    op, kwargs, arrays = case["op"], case["kwargs"], case["arrays"]
    out = getattr(F, op)(**arrays, **kwargs)
    msg = f"{where} case {case['name']}: {op}({kwargs})"
    assert isinstance(out, np.ndarray) and out.dtype == np.float32, msg
    assert out.shape == expected.shape, f"{msg}: shape {out.shape}, torch {expected.shape}"
    tol = TOL[op]
    atol = tol * max(1.0, scale)
    err = float(np.abs(out.astype(np.float64) - expected).max()) if out.size else 0.0
    np.testing.assert_allclose(out, expected, rtol=tol, atol=atol,
                               err_msg=f"{msg}: max abs error {err:.3g}, atol {atol:.3g}")


# ----------------------------------------------------------------------------- recorded
def test_fixture_present_and_small():
    assert META is not None, (f"{mtf.FIXTURE} is missing: run "
                              "`python tests/fixtures/make_torch_fixtures.py` where torch is installed")
    assert os.path.getsize(mtf.FIXTURE) < MAX_FIXTURE_BYTES
    assert META["format"] == mtf.FORMAT
    assert META["torch_version"]
    assert len(RECORDED) >= 30


def test_fixture_matches_generator():
    """The recorded case list is the one the script builds (names, ops, arguments, shapes), so
    an edited generator without a re-recorded fixture is noticed."""
    if META is None:
        pytest.fail("fixture missing (see test_fixture_present_and_small)")
    built = mtf.fixed_cases()
    assert [c["name"] for c in RECORDED] == [c["name"] for c in built]
    for rec, new in zip(RECORDED, built):
        assert rec["op"] == new["op"] and rec["kwargs"] == new["kwargs"], rec["name"]
        assert {k: v.shape for k, v in rec["arrays"].items()} == \
               {k: v.shape for k, v in new["arrays"].items()}, rec["name"]


@pytest.mark.parametrize("case", RECORDED, ids=[c["name"] for c in RECORDED])
def test_recorded_torch_parity(isa, case):
    _check(case, case["out"], case["scale"], f"torch {META['torch_version']} fixture, isa={isa},")


# ----------------------------------------------------------------------------- live
LIVE_SEEDS = range(48)


@pytest.fixture(scope="module")
def torch_live():
    # pytest.importorskip, spelled out so that a torch which is present but fails to load
    # (a broken wheel, a missing shared library) also skips instead of warning or erroring.
    try:
        import torch
    except ImportError as e:
        pytest.skip(f"torch not importable ({e}): live PyTorch parity skipped, "
                    "the recorded fixture still runs")
    cache = {}

    def reference(seed):
        if seed not in cache:
            case = mtf.random_case(seed)
            cache[seed] = (case, *mtf.torch_reference(case))
        return cache[seed]

    reference.version = torch.__version__
    return reference


@pytest.mark.parametrize("seed", LIVE_SEEDS,
                         ids=[mtf.random_case(s)["name"] for s in LIVE_SEEDS])
def test_live_torch_parity(isa, torch_live, seed):
    case, expected, scale = torch_live(seed)
    _check(case, expected, scale, f"live torch {torch_live.version}, isa={isa}, seed {seed},")
