"""The thread pools shared by every ``foveal.data`` iterator.

``pool("decode")`` lists and decodes image files; ``pool("prefetch")`` builds whole batches
ahead. A prefetch task waits on the decode pool, so the two must stay separate. The decode pool
has as many workers as foveal's native thread pool (``foveal.set_num_threads``), so one setting
bounds the CPU a pipeline takes; a new pool is made when that number changes.
"""

from __future__ import annotations

import concurrent.futures as _futures
import threading
from typing import Dict, Tuple

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
