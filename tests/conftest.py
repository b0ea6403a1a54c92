"""Shared fixtures: ``isa`` (every op test runs once per kernel ISA this CPU supports) and
``one_native_thread`` (the image comparison grids)."""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# The tests import their helpers by plain module name, whatever pytest import mode is configured:
# check.py (check_op and the tolerances), inputs.py (seeded inputs), the reference/ package and
# the fixture recorders in fixtures/ (``from fixtures import make_torch_fixtures``).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import foveal  # noqa: E402
from foveal import _core  # noqa: E402

# Modest, reproducible property tests; HYPOTHESIS_PROFILE=thorough for a longer run.
# The `isa` fixture only selects a kernel table, so reusing it across examples is safe.
_common = dict(deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])
settings.register_profile("default", max_examples=50, derandomize=True, **_common)
settings.register_profile("thorough", max_examples=1000, **_common)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(params=_core.available_isas())
def isa(request):
    """Switch the native kernel table to one ISA for the test, then restore the previous one.
    Every entry of the kernel list (``_core.kernel_table(isa)``) then runs its ``__isa`` symbol."""
    previous = _core.get_isa()
    _core.set_isa(request.param)
    try:
        yield request.param
    finally:
        _core.set_isa(previous)


@pytest.fixture
def one_native_thread():
    """One native thread for the test, then the previous count. The image comparison grids use
    it (``pytestmark = pytest.mark.usefixtures("one_native_thread")``): thousands of tiny
    images would otherwise mostly measure thread wake-ups on a small machine.
    test_image_layout.py checks that every op gives identical results on several threads."""
    previous = foveal.get_num_threads()
    foveal.set_num_threads(1)
    try:
        yield
    finally:
        foveal.set_num_threads(previous)
