"""The native thread pool: a call never waits for a worker that has not run, results do not
depend on the thread count, on which thread ran which chunk or on the backend, calls from many
Python threads are safe while the pool is resized, and decode tasks share the kernels' budget."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import foveal
import foveal.image as fi
import foveal.nn.functional as F
from foveal import _core

RNG = np.random.default_rng(7)
BIG = RNG.integers(0, 256, (360, 640, 3), dtype=np.uint8)
XN = RNG.standard_normal((8, 20, 20, 16), dtype=np.float32)   # enough tiles for F(4x4, 3x3) to use 2 threads
KN = RNG.standard_normal((3, 3, 16, 24), dtype=np.float32)
XB = RNG.standard_normal((24, 18, 18, 8), dtype=np.float32)        # a batch for the gradients
KB = RNG.standard_normal((3, 3, 8, 8), dtype=np.float32)
KD = RNG.standard_normal((3, 3, 8, 1), dtype=np.float32)
DY = RNG.standard_normal((24, 18, 18, 8), dtype=np.float32)

# Ops whose work is split across threads (every one large enough to ask for helpers).
OPS = {
    "gaussian_blur": lambda: fi.gaussian_blur(BIG, 5),
    "resize": lambda: fi.resize(BIG, (123, 217), interpolation="bicubic"),
    "rotate": lambda: fi.rotate(BIG, 17.0),
    "to_gray": lambda: fi.to_gray(BIG),
    "conv2d": lambda: F.conv2d(XN, KN, padding="same"),
    "max_pool2d": lambda: F.max_pool2d(XN, 2),
    "batch_norm_stats": lambda: foveal.nn.layers.BatchNormalization()(XN, training=True),
    # reductions over the batch: kernel and bias gradients
    "conv2d_backward": lambda: F.conv2d_backward(DY, XB, KB, padding="same"),
    "depthwise_conv2d_backward": lambda: F.depthwise_conv2d_backward(DY, XB, KD, padding="same"),
}


class threads:
    """Sets foveal's thread count for a block."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.before = foveal.get_num_threads()
        foveal.set_num_threads(self.n)

    def __exit__(self, *exc):
        foveal.set_num_threads(self.before)


def run_bounded(fn, seconds=60.0):
    """fn() on another thread; fails (instead of hanging the suite) if it does not return."""
    box = {}

    def target():
        try:
            box["out"] = fn()
        except BaseException as e:  # noqa: BLE001
            box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), f"the call did not return within {seconds} s"
    if "error" in box:
        raise box["error"]
    return box["out"]


def as_array(out):
    """One array of every output (gradients come as a tuple, some entries None)."""
    if isinstance(out, tuple):
        return np.concatenate([np.asarray(o).ravel() for o in out if o is not None])
    return np.asarray(out)


@pytest.fixture(scope="module")
def serial():
    """Every op's result on one thread."""
    with threads(1):
        return {name: as_array(fn()) for name, fn in OPS.items()}


@pytest.mark.parametrize("name", sorted(OPS))
@pytest.mark.parametrize("n", [2, 3, 4, 7])
def test_same_result_at_every_thread_count(serial, name, n):
    with threads(n):
        np.testing.assert_array_equal(as_array(OPS[name]()), serial[name])


@pytest.mark.skipif(not foveal.build_info()["openmp"], reason="this build has no OpenMP to compare with")
@pytest.mark.parametrize("name", sorted(OPS))
def test_pool_and_openmp_backends_agree(serial, name):
    before = _core.get_thread_backend()
    try:
        with threads(3):
            for backend in ("pool", "openmp"):
                _core.set_thread_backend(backend)
                np.testing.assert_array_equal(as_array(OPS[name]()), serial[name], err_msg=backend)
    finally:
        _core.set_thread_backend(before)


def test_backend_argument_checked():
    with pytest.raises(ValueError, match="backend"):
        _core.set_thread_backend("tbb")
    assert _core.get_thread_backend() in ("pool", "openmp")


@pytest.mark.parametrize("name", ["gaussian_blur", "conv2d", "resize"])
def test_call_returns_while_a_worker_is_held(serial, name):
    """A held worker stands for one the OS has not scheduled: it claims no chunk, and the call
    still completes, with the right result, on the caller alone."""
    with threads(2):
        OPS[name]()                        # the worker exists now
        assert _core._pool_workers() >= 1
        _core._pool_hold_worker(1, True)
        try:
            _core._pool_reset_counts()
            out = run_bounded(OPS[name])
            counts = _core._pool_chunk_counts()
        finally:
            _core._pool_hold_worker(1, False)
    np.testing.assert_array_equal(as_array(out), serial[name])
    assert counts[1] == 0, f"the held worker ran chunks: {counts}"
    assert counts[0] > 0


def test_workers_take_part_when_free(serial):
    """Not a timing test: over many calls an awake worker claims some chunks."""
    with threads(2):
        _core._pool_reset_counts()
        for _ in range(50):
            np.testing.assert_array_equal(as_array(OPS["gaussian_blur"]()), serial["gaussian_blur"])
        counts = _core._pool_chunk_counts()
    assert counts[1] > 0, counts


def test_many_python_threads_while_the_pool_is_resized(serial):
    errors = []
    stop = threading.Event()
    names = ["gaussian_blur", "conv2d", "resize", "max_pool2d", "batch_norm_stats"]

    def caller(k):
        i = 0
        while not stop.is_set() and i < 30:
            name = names[(k + i) % len(names)]
            out = as_array(OPS[name]())
            if not np.array_equal(out, serial[name]):
                errors.append(f"thread {k}: {name} differs on call {i}")
            i += 1

    before = foveal.get_num_threads()
    pool = [threading.Thread(target=caller, args=(k,), daemon=True) for k in range(4)]
    try:
        for t in pool:
            t.start()
        for i in range(200):
            foveal.set_num_threads(1 + i % 5)
            if not any(t.is_alive() for t in pool):
                break
        for t in pool:
            t.join(120)
        assert not any(t.is_alive() for t in pool), "a calling thread hung"
    finally:
        stop.set()
        foveal.set_num_threads(before)
    assert not errors, errors[:5]


def test_decode_budget_waits_while_full():
    """With every thread of the budget busy, entering waits until one leaves; a kernel called
    meanwhile still runs (on its caller)."""
    entered = threading.Event()

    def second():
        _core._budget_enter()
        entered.set()
        _core._budget_exit()

    with threads(1):
        _core._budget_enter()
        try:
            assert _core._budget_busy() >= 1
            t = threading.Thread(target=second, daemon=True)
            t.start()
            assert not entered.wait(0.3), "entered although the budget was full"
            out = run_bounded(OPS["to_gray"])      # callers never wait for the budget
            assert out.shape == BIG.shape[:2] + (1,) or out.shape == BIG.shape[:2]
        finally:
            _core._budget_exit()
        assert entered.wait(30), "the waiting thread did not enter after the budget freed"
        t.join(30)
    assert _core._budget_busy() == 0


def test_data_pipeline_counts_against_the_budget(tmp_path, monkeypatch):
    """Decode tasks enter the budget: a pipeline run leaves it balanced."""
    from PIL import Image
    from foveal.data import _threads
    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(6):
            Image.fromarray(RNG.integers(0, 256, (9, 11, 3), dtype=np.uint8)).save(tmp_path / c / f"{i}.png")
    seen = []
    real = _threads.busy

    def spy():
        seen.append(threading.current_thread().name)
        return real()
    monkeypatch.setattr("foveal.data._decode.busy", spy)
    it = foveal.data.ImageDataGenerator().flow_from_directory(str(tmp_path), target_size=(8, 8), batch_size=4)
    x, _ = next(it)
    assert x.shape == (4, 8, 8, 3)
    assert seen, "decode tasks did not enter the budget"
    del it   # batches prefetched in the background may still be decoding: the budget drains
    deadline = time.monotonic() + 30
    while _core._budget_busy() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _core._budget_busy() == 0, "a decode task left the budget counted"


def test_forked_child_gets_a_working_pool():
    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    code = textwrap.dedent("""
        import os, numpy as np, foveal, foveal.image as fi
        foveal.set_num_threads(2)
        x = np.random.default_rng(0).integers(0, 256, (300, 400, 3), dtype=np.uint8)
        want = fi.gaussian_blur(x, 5)            # the parent's pool has a worker now
        pid = os.fork()
        if pid == 0:
            ok = all(np.array_equal(fi.gaussian_blur(x, 5), want) for _ in range(20))
            os._exit(0 if ok else 3)
        _, status = os.waitpid(pid, 0)
        print("child", os.waitstatus_to_exitcode(status))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "child 0" in proc.stdout, proc.stdout + proc.stderr[-3000:]


@pytest.mark.parametrize("name", ["gaussian_blur", "conv2d"])
def test_kernels_in_a_budget_scope_run_on_their_caller(serial, name):
    """A data-pipeline worker (between _budget_enter and _budget_exit) is itself one of the
    parallel workers: the kernels it calls run their loops inline, no pool job at all (the
    same call outside the scope goes through the pool), and give the same result."""
    with threads(2):
        OPS[name]()                        # the pool's worker exists
        _core._pool_reset_counts()
        _core._budget_enter()
        try:
            out = OPS[name]()
        finally:
            _core._budget_exit()
        inside = _core._pool_chunk_counts()
        _core._pool_reset_counts()
        OPS[name]()
        outside = _core._pool_chunk_counts()
    np.testing.assert_array_equal(as_array(out), serial[name])
    assert sum(inside) == 0, inside
    assert sum(outside) > 0, outside   # a pool job (which thread claimed its chunks is a race)
