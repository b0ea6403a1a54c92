"""Shared fixtures: every op test runs once per kernel ISA this CPU supports."""
import os
import sys

import pytest
from hypothesis import HealthCheck, settings

# The tests import their helpers (reference.py, helpers.py) by plain module name,
# whatever pytest import mode is configured.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

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
