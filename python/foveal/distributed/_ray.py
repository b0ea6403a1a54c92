"""Ray plumbing shared by :func:`~foveal.distributed.extract` and
:func:`~foveal.distributed.augment`: importing Ray (an optional extra), connecting to a
cluster, sizing the worker pool from the cluster's CPUs, and running a Ray Data pipeline with
foveal's settings (order preserved, quiet unless asked).

Nothing here imports Ray at module level, so ``import foveal.distributed`` works without it.
"""

from __future__ import annotations

import contextlib
import gc
import logging
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from .._checks import as_int

#: The pip extra that installs Ray Data for foveal.
EXTRA = "foveal[distributed]"


def require_ray() -> Any:
    """The ``ray`` module with ``ray.data`` loaded; ImportError naming the extra without it."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data is a separate part of the ray package
    except ImportError as e:
        raise ImportError(f"foveal.distributed needs Ray Data, an optional extra: "
                          f'pip install "{EXTRA}" (ray[data]>=2.9); importing it failed: {e}'
                          ) from e
    return ray


@contextlib.contextmanager
def connected(ray: Any, address: Optional[str]) -> Iterator[bool]:
    """Connect this process to a Ray cluster for the block, as ``ray.init(address=address)``
    does: None starts a local cluster (or joins the one named by ``RAY_ADDRESS``), ``"auto"``
    joins the cluster ``ray start`` started on this machine, ``"host:port"`` that cluster's head.

    A process already connected (``ray.init`` called before) keeps its connection, and
    ``address`` is then not used; otherwise the connection made here is closed at the end
    (``ray.shutdown()``: it stops a local cluster started here and only disconnects from one
    started elsewhere). Yields True when the connection was made here."""
    if address is not None and not isinstance(address, str):
        raise TypeError(f"address must be None or a Ray address string ('auto', 'host:port', "
                        f"'ray://host:port'), got {type(address).__name__}")
    if ray.is_initialized():
        yield False
        return
    ray.init(address=address, logging_level=logging.WARNING, log_to_driver=True)
    try:
        yield True
    finally:
        collect_ray_garbage()
        ray.shutdown()


def collect_ray_garbage() -> None:
    """Run the cyclic garbage collector now, while the Ray connection is still open.

    Ray Data leaves object references (and streaming-task generators) in reference cycles;
    they are freed whenever the cyclic collector next runs, in whichever thread allocates
    then. Should that be another thread (Ray Data's own cluster-metrics poller is one) while
    ``ray.shutdown()`` is tearing the core worker down, the finalizer reaches the dead core
    worker and Ray ends the whole process ("The core worker has already been shutdown ...
    The process will exit"; Ray 2.60). Collected here, before ``ray.shutdown()``, they are
    released while the connection can still take them."""
    gc.collect()


def node_cpus(ray: Any) -> List[int]:
    """Whole CPUs of each live node of the cluster (nodes without CPUs left out)."""
    cpus = [int(n.get("Resources", {}).get("CPU", 0)) for n in ray.nodes() if n.get("Alive")]
    return [c for c in cpus if c > 0]


def plan_workers(cpus: Sequence[int], num_workers: Optional[int]) -> Tuple[int, int]:
    """``(workers, CPUs per worker)`` for a cluster whose nodes have ``cpus`` CPUs.

    ``num_workers=None``: one single-CPU worker per CPU. Otherwise ``num_workers`` workers of
    the most CPUs each such that they all fit on the nodes at once (a worker lives on one
    node), e.g. 1 worker of 2 CPUs on one 2-CPU node, 2 of 1 CPU on two 1-CPU nodes. Every
    worker asks Ray for its CPUs, so Ray never places more work on a node than it has CPUs.
    ValueError when the workers cannot all fit (more workers than CPUs)."""
    total = sum(cpus)
    if total < 1:
        raise RuntimeError("the Ray cluster offers no CPU to run workers on")
    if num_workers is None:
        return total, 1
    n = as_int(num_workers, "num_workers", 1)
    for per in range(max(1, total // n), 0, -1):
        if sum(c // per for c in cpus) >= n:
            return n, per
    raise ValueError(f"num_workers={n}: the Ray cluster offers {total} CPUs "
                     f"({', '.join(map(str, cpus))} per node); at most {total} one-CPU workers fit")


def task_pool(ray: Any, workers: int) -> Dict[str, Any]:
    """``map_batches`` arguments for at most ``workers`` tasks at once (``compute=`` with a
    ``TaskPoolStrategy`` where Ray has it, else the older ``concurrency=``)."""
    strategy = getattr(ray.data, "TaskPoolStrategy", None)
    if strategy is not None:
        return {"compute": strategy(size=workers)}
    return {"concurrency": workers}


def assigned_cpus(ray: Any) -> int:
    """The whole CPUs Ray gave the calling task or actor (at least 1)."""
    try:
        cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1.0)
    except Exception:  # noqa: BLE001 - an older Ray without the call: one CPU
        cpus = 1.0
    return max(1, int(round(float(cpus))))


def set_worker_threads(ray: Any) -> int:
    """Give foveal (decoding, resizing) as many threads as this worker's CPUs; return them."""
    import foveal

    cpus = assigned_cpus(ray)
    foveal.set_num_threads(cpus)
    return cpus


def node_id(ray: Any) -> str:
    """The Ray node id of the calling worker (hex)."""
    return str(ray.get_runtime_context().get_node_id())


@contextlib.contextmanager
def quiet_ray_data(verbose: int) -> Iterator[None]:
    """Ray Data's progress bars and INFO lines only with ``verbose``."""
    log = logging.getLogger("ray.data")
    level = log.level
    if not verbose:
        log.setLevel(logging.WARNING)
    try:
        yield
    finally:
        log.setLevel(level)


def configure(ds: Any, verbose: int) -> Any:
    """``ds`` set to give its rows in order (the listing's) and to show progress bars only
    with ``verbose``; ``ds`` itself."""
    ctx = ds.context
    ctx.execution_options.preserve_order = True
    # The work blocks are lists of file paths made on the driver: sending them to the actor on
    # the driver's node (Ray Data's default) would leave the other nodes idle.
    ctx.execution_options.actor_locality_enabled = False
    # Start every worker of the pool before the first block goes out: otherwise the first one
    # ready takes all the blocks of a small job while the others still load the model.
    if hasattr(ctx, "wait_for_min_actors_s"):
        ctx.wait_for_min_actors_s = 600
    ctx.enable_progress_bars = bool(verbose)
    if hasattr(ctx, "print_on_execution_start"):
        ctx.print_on_execution_start = bool(verbose)
    return ds


def count_rows(nodes: Sequence[Any], into: Dict[str, int]) -> None:
    """Add one to ``into[node]`` per entry of ``nodes``."""
    for n in nodes:
        into[str(n)] = into.get(str(n), 0) + 1
