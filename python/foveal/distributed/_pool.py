"""The persistent pool of feature workers behind :func:`foveal.distributed.extract` for a folder
or a list of files.

Starting a worker costs seconds (a Python process, importing foveal and onnxruntime, loading
the model), so the workers outlive a call: the first call on a Ray connection starts them as
plain Ray actors (:class:`PoolWorker`), and later calls with the same model (the ONNX file's
bytes), backbone settings, number of workers and CPUs per worker reuse them. One pool per
connection is kept: a call that needs another pool stops the old one first, so a stale pool
never holds the cluster's CPUs. The pool is forgotten when the connection changes
(``ray.shutdown()`` ends the job and with it its actors), stopped at the end of a call that made
the connection itself, and stopped on demand by :func:`shutdown_workers`.

The work goes out as blocks of files, about two per worker in flight (one running, one queued,
so a worker never waits for the driver), collected with ``ray.wait`` and given back in the
listing's order. A worker that dies (killed, its node lost) makes the pool be rebuilt once and
the blocks it had not returned be sent again.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Optional, Tuple

from ._ray import collect_ray_garbage
from ._workers import Batch, FeatureWorker

#: Blocks in flight per worker: one running and one waiting in the actor's queue.
IN_FLIGHT = 2
#: Seconds to wait for all the workers of a new pool to start (their CPUs may be busy).
START_TIMEOUT = 600.0

_LOCK = threading.Lock()
_CURRENT: Optional["WorkerPool"] = None
_DIGESTS: Dict[Tuple[str, int, int], str] = {}
_REMOTE: Any = None


class PoolWorker(FeatureWorker):
    """A :class:`~foveal.distributed._workers.FeatureWorker` as a plain Ray actor: ``run``
    computes one block (the rows ``FeatureWorker`` returns), ``info`` tells who it is."""

    def run(self, batch: Batch) -> Batch:
        """The features of one block of files (see ``FeatureWorker.__call__``)."""
        return self(batch)

    def info(self) -> Dict[str, Any]:
        """``pid``, ``node`` (Ray node id), ``actor_id`` (hex) and ``cpus`` of this worker."""
        import ray

        return {"pid": os.getpid(), "node": self.node, "cpus": self.cpus,
                "actor_id": str(ray.get_runtime_context().get_actor_id())}


class WorkerPool:
    """Started workers: ``actors`` (Ray actor handles), ``info`` (what each one's ``info``
    returned, in the same order), the ``connection`` and ``key`` they were started for."""

    def __init__(self, connection: Tuple[str, str], key: Tuple[Any, ...], actors: List[Any],
                 info: List[Dict[str, Any]]) -> None:
        self.connection = connection
        self.key = key
        self.actors = actors
        self.info = info


def connection_key(ray: Any) -> Tuple[str, str]:
    """``(job id, driver's node id)`` of this process's Ray connection: it changes with every
    ``ray.init`` (a new job) and with the cluster."""
    ctx = ray.get_runtime_context()
    return str(ctx.get_job_id()), str(ctx.get_node_id())


def model_digest(path: str) -> str:
    """SHA-256 (hex) of the file's bytes; remembered while its size and mtime stay the same."""
    st = os.stat(path)
    stamp = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
    digest = _DIGESTS.get(stamp)
    if digest is None:
        h = hashlib.sha256()
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
        digest = _DIGESTS[stamp] = h.hexdigest()
    return digest


def pool_key(ray: Any, path: str, spec: Dict[str, Any], workers: int,
             cpus: int) -> Tuple[Any, ...]:
    """What a pool is started for: the model's bytes (digest), the backbone spec (digest of
    its pickle: a ``preprocess`` callable included), workers and CPUs per worker."""
    try:
        spec_digest = hashlib.sha256(ray.cloudpickle.dumps(spec)).hexdigest()
    except Exception:  # noqa: BLE001 - not picklable here: the workers will say why
        spec_digest = repr(sorted(spec.items(), key=lambda kv: kv[0]))
    return model_digest(path), spec_digest, int(workers), int(cpus)


def _remote_class(ray: Any) -> Any:
    """:class:`PoolWorker` as a Ray actor class (made once)."""
    global _REMOTE
    if _REMOTE is None:
        _REMOTE = ray.remote(PoolWorker)
    return _REMOTE


def _kill(ray: Any, actors: List[Any]) -> None:
    """Stop ``actors`` now (their CPUs free at once); errors (already dead) ignored."""
    for actor in actors:
        with contextlib.suppress(Exception):
            ray.kill(actor, no_restart=True)


def start_pool(ray: Any, path: str, spec: Dict[str, Any], workers: int, cpus: int,
               connection: Tuple[str, str], key: Tuple[Any, ...]) -> WorkerPool:
    """Start ``workers`` actors of ``cpus`` CPUs each, spread over the nodes, each loading the
    ONNX file (its bytes sent once through the object store), and wait until all are ready
    (a worker that fails to start raises here, and the others are stopped)."""
    with open(path, "rb") as fh:
        model = ray.put(fh.read())
    cls = _remote_class(ray).options(num_cpus=cpus, scheduling_strategy="SPREAD",
                                     max_restarts=0)
    actors = [cls.remote([model], spec) for _ in range(workers)]
    try:
        info = ray.get([a.info.remote() for a in actors], timeout=START_TIMEOUT)
    except ray.exceptions.GetTimeoutError:
        _kill(ray, actors)
        raise RuntimeError(f"num_workers: {workers} worker(s) of {cpus} CPU(s) did not all start "
                           f"within {START_TIMEOUT:.0f} s: the cluster's CPUs are held by other "
                           "work, or a node left") from None
    except BaseException:
        _kill(ray, actors)
        raise
    return WorkerPool(connection, key, actors, info)


def get_pool(ray: Any, path: str, spec: Dict[str, Any], workers: int, cpus: int) -> WorkerPool:
    """The pool of this connection started for this model, spec, workers and CPUs: the
    running one when it matches, else a new one (the connection's old pool stopped first)."""
    global _CURRENT
    connection = connection_key(ray)
    key = pool_key(ray, path, spec, workers, cpus)
    with _LOCK:
        old = _CURRENT
        if old is not None and old.connection == connection and old.key == key:
            return old
        _CURRENT = None
        if old is not None and old.connection == connection:
            _kill(ray, old.actors)
        pool = start_pool(ray, path, spec, workers, cpus, connection, key)
        _CURRENT = pool
        return pool


def drop(ray: Any, pool: WorkerPool) -> None:
    """Stop ``pool``'s actors and forget it (when it is the current one)."""
    global _CURRENT
    with _LOCK:
        if _CURRENT is pool:
            _CURRENT = None
    _kill(ray, pool.actors)


def current() -> Optional[WorkerPool]:
    """The pool kept now (None when there is none); it may belong to a closed connection."""
    return _CURRENT


def shutdown_workers() -> int:
    """Stop the worker actors that :func:`foveal.distributed.extract` keeps between calls,
    freeing their CPUs on the cluster; returns how many were stopped (0 when none runs).

    ``extract`` on a folder or a list of files starts its workers on the first call of a Ray
    connection and keeps them while this process stays connected, so later calls with the same
    backbone and worker count skip their start-up (seconds). They hold their CPUs meanwhile:
    call this before running other Ray work that needs those CPUs (``augment`` and a Dataset
    source do it themselves). ``ray.shutdown()`` stops them too, and a call of ``extract`` that
    made its own connection (no ``ray.init`` before) stops them at its end.

    It also runs Python's cyclic garbage collector, so that Ray objects left in reference
    cycles (Ray Data makes some) are freed while the connection is still open: call it before
    your own ``ray.shutdown()``."""
    return _stop_pool(collect=True)


def stop_pool_of_closing_connection() -> int:
    """:func:`shutdown_workers` without its garbage collection: for ``extract``'s own
    connection, whose closing (``_ray.connected``) collects right before ``ray.shutdown()``."""
    return _stop_pool(collect=False)


def _stop_pool(collect: bool) -> int:
    global _CURRENT
    with _LOCK:
        pool, _CURRENT = _CURRENT, None
    try:
        import ray
    except ImportError:   # nothing can be running without Ray
        return 0
    if not ray.is_initialized():
        return 0   # the pool's job has ended, and its actors with it
    stopped = 0
    if pool is not None and connection_key(ray) == pool.connection:
        _kill(ray, pool.actors)
        stopped = len(pool.actors)
    if collect:
        collect_ray_garbage()   # a ray.shutdown() that follows finds no Ray garbage left
    return stopped


def release_for_other_work(ray: Any) -> None:
    """Stop this connection's pool so that its CPUs serve other Ray work (Ray Data stages)."""
    pool = _CURRENT
    if pool is not None and ray.is_initialized() and connection_key(ray) == pool.connection:
        drop(ray, pool)


def map_blocks(ray: Any, pool: WorkerPool, blocks: List[Batch],
               rebuild: Callable[[], WorkerPool]) -> Iterator[Batch]:
    """The workers' results of ``blocks``, in order, each block as one worker's ``run`` gives
    it. About :data:`IN_FLIGHT` blocks per worker are in flight; a freed worker takes the next
    block. When a worker dies (``RayActorError``), the pool is stopped, ``rebuild()`` starts a
    new one (once per call) and the blocks not yet returned go out again."""
    errors = ray.exceptions.RayActorError
    results: Dict[int, Batch] = {}
    todo: Deque[int] = deque(range(len(blocks)))
    nxt = 0
    rebuilt = False
    while nxt < len(blocks):
        flight: Dict[Any, Tuple[int, int]] = {}   # ref -> (block, worker)
        try:
            for _ in range(IN_FLIGHT):
                for w, actor in enumerate(pool.actors):
                    if todo:
                        b = todo.popleft()
                        flight[actor.run.remote(blocks[b])] = (b, w)
            while flight:
                ref = ray.wait(list(flight), num_returns=1)[0][0]
                b, w = flight[ref]
                results[b] = ray.get(ref)   # a dead worker raises here: b stays in flight
                del flight[ref]
                if todo:
                    nb = todo.popleft()
                    flight[pool.actors[w].run.remote(blocks[nb])] = (nb, w)
                while nxt in results:
                    yield results.pop(nxt)
                    nxt += 1
        except errors:
            if rebuilt:
                drop(ray, pool)
                raise
            rebuilt = True
            todo = deque(sorted(set(todo) | {b for b, _ in flight.values()}))
            drop(ray, pool)
            pool = rebuild()
