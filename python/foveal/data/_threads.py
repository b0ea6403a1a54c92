"""The thread pools shared by every ``foveal.data`` iterator.

``pool("decode")`` lists and decodes image files; ``pool("prefetch")`` builds whole batches
ahead. A prefetch task waits on the decode pool, so the two must stay separate. The decode pool
has as many workers as foveal's native thread pool (``foveal.set_num_threads``), so one setting
bounds the CPU a pipeline takes; a new pool is made when that number changes. A decode task
counts against the same budget as the native kernels' threads (``busy()``), so foveal never keeps
more than ``get_num_threads()`` threads busy at once.
"""

from __future__ import annotations

import concurrent.futures as _futures
import contextlib
import threading
from typing import Dict, Iterator, Tuple

from .. import _core

_pools_lock = threading.Lock()
_pools: Dict[Tuple[str, int], _futures.ThreadPoolExecutor] = {}


def decode_workers() -> int:
    """Threads decoding image files: as many as foveal's native thread pool has."""
    return max(1, min(_core.get_num_threads(), 32))


def pool(kind: str) -> _futures.ThreadPoolExecutor:
    """The shared pool of ``kind`` (``"decode"`` or ``"prefetch"``), made on first use."""
    workers = decode_workers() if kind == "decode" else 2
    with _pools_lock:
        if (kind, workers) not in _pools:
            _pools[(kind, workers)] = _futures.ThreadPoolExecutor(
                workers, thread_name_prefix=f"foveal-{kind}")
        return _pools[(kind, workers)]


@contextlib.contextmanager
def busy() -> Iterator[None]:
    """Counts this thread against foveal's thread budget while inside: it waits (GIL released)
    while ``get_num_threads()`` threads are busy with foveal work, and the kernels it calls
    meanwhile run on it alone (the decode pool's workers are the parallelism)."""
    _core._budget_enter()
    try:
        yield
    finally:
        _core._budget_exit()
