"""foveal.distributed on a real two-node Ray cluster, and its missing-extra error.

The cluster: a head and a second node started with ``ray start --block`` on 127.0.0.1, one CPU
and a small object store each, in a private temporary folder and on free ports; torn down by
signalling the two ``ray start`` processes this module started and then killing, by PID, any
process of their trees (snapshotted first) still alive. No other Ray process is touched.

Tests marked ``distributed`` need Ray and take about a minute; the default run deselects them
(``-m "not distributed"`` in pyproject's ``addopts``); ``pytest -m distributed`` runs them. The
unmarked tests (the ImportError without Ray, argument checks, the worker plan) are fast.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
import pytest

from foveal import image
from foveal.distributed import _pool, _source, _workers
from foveal.distributed import _ray as dray

FIXTURE_ONNX = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures",
                            "transfer_resnet.onnx")
OBJECT_STORE = 80 * 1024 * 1024
START_TIMEOUT = 120.0


# ---- fast, unmarked ------------------------------------------------------------------------

def _without_ray(monkeypatch):
    """Make ``import ray`` fail as it does where Ray is not installed."""
    for name in list(sys.modules):
        if name == "ray" or name.startswith("ray."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "ray", None)


def test_missing_extra_names_it(monkeypatch, tmp_path, capsys):
    _without_ray(monkeypatch)
    import foveal.distributed as distributed   # importing the package needs no Ray

    with pytest.raises(ImportError, match=r"foveal\[distributed\]"):
        distributed.extract(FIXTURE_ONNX, str(tmp_path))
    with pytest.raises(ImportError, match=r"foveal\[distributed\]"):
        distributed.augment(None, str(tmp_path), str(tmp_path / "out"))
    from foveal import cli

    folder = tmp_path / "photos"
    folder.mkdir()
    image.write(str(folder / "a.png"), np.zeros((8, 8, 3), np.uint8))
    rc = cli.main(["extract", FIXTURE_ONNX, str(folder), "-o", str(tmp_path / "f.npz"), "--ray"])
    assert rc == 1
    assert "foveal[distributed]" in capsys.readouterr().err
    assert not (tmp_path / "f.npz").exists()


def test_workers_need_ray_flag(capsys):
    from foveal import cli

    with pytest.raises(SystemExit):
        cli.main(["extract", FIXTURE_ONNX, ".", "-o", "x.npz", "--workers", "2"])
    assert "--workers needs --ray" in capsys.readouterr().err


@pytest.mark.parametrize("cpus, asked, plan", [
    ([2], None, (2, 1)), ([2], 1, (1, 2)), ([2], 2, (2, 1)), ([1, 1], 1, (1, 1)),
    ([1, 1], None, (2, 1)), ([4, 2], 2, (2, 2)), ([3, 1], 2, (2, 1)), ([8], 3, (3, 2)),
])
def test_plan_workers(cpus, asked, plan):
    assert dray.plan_workers(cpus, asked) == plan
    workers, per = plan
    assert sum(c // per for c in cpus) >= workers   # they all fit at once


def test_plan_workers_rejects():
    with pytest.raises(ValueError, match="num_workers=3"):
        dray.plan_workers([1, 1], 3)
    with pytest.raises(ValueError, match="num_workers"):
        dray.plan_workers([2], 0)
    with pytest.raises(RuntimeError, match="no CPU"):
        dray.plan_workers([], None)


def test_bad_arguments_are_named(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (optional: foveal[distributed])")
    from foveal import distributed
    from foveal.data import ImageDataGenerator

    with pytest.raises(TypeError, match="backbone"):
        distributed.extract(3, str(tmp_path))
    with pytest.raises(ValueError, match="batch_size"):
        distributed.extract(FIXTURE_ONNX, str(tmp_path), batch_size=0)
    with pytest.raises(ValueError, match="num_workers"):
        distributed.extract(FIXTURE_ONNX, str(tmp_path), num_workers=0)
    with pytest.raises(TypeError, match="generator"):
        distributed.augment("flip", str(tmp_path), str(tmp_path / "o"))
    with pytest.raises(ValueError, match="copies"):
        distributed.augment(ImageDataGenerator(), str(tmp_path), str(tmp_path / "o"), copies=0)
    with pytest.raises(ValueError, match="save_format"):
        distributed.augment(ImageDataGenerator(), str(tmp_path), str(tmp_path / "o"),
                            save_format="gif")


@pytest.mark.parametrize("n, workers, batch", [
    (1, 1, 64), (5, 2, 64), (23, 2, 4), (24, 2, 4), (100, 2, 32), (384, 2, 32), (384, 1, 32),
    (9, 4, 2), (1000, 3, 64),
])
def test_block_bounds(n, workers, batch):
    bounds = _source.block_bounds(n, workers, batch)
    count = min(n, max(-(-n // batch), 4 * workers))
    assert len(bounds) == count
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))   # contiguous, in order
    sizes = [b - a for a, b in bounds]
    assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1 and max(sizes) <= batch
    assert sizes == sorted(sizes, reverse=True)   # as ray.data.from_items cuts its blocks


def test_model_digest_follows_the_bytes(tmp_path):
    import hashlib

    path = tmp_path / "m.onnx"
    shutil.copyfile(FIXTURE_ONNX, path)
    with open(FIXTURE_ONNX, "rb") as fh:
        data = fh.read()
    assert _pool.model_digest(str(path)) == hashlib.sha256(data).hexdigest()
    path.write_bytes(data + b"x")
    os.utime(path, ns=(1, 1))   # a new size and mtime: read again
    assert _pool.model_digest(str(path)) == hashlib.sha256(data + b"x").hexdigest()


def test_augmented_names_and_seeds():
    assert _workers.augmented_name("cat/sub/a.jpg", 1, "png", False) == "cat/sub/a_aug1.png"
    hashed = _workers.augmented_name("/x/a.jpg", 0, "png", True)
    assert hashed.startswith("a-") and hashed.endswith("_aug0.png")
    assert hashed != _workers.augmented_name("/y/a.jpg", 0, "png", True)
    a = _workers.copy_seed(3, "cat/a.jpg", 0).random(4)
    assert np.array_equal(a, _workers.copy_seed(3, "cat/a.jpg", 0).random(4))
    assert not np.array_equal(a, _workers.copy_seed(3, "cat/a.jpg", 1).random(4))


# ---- the cluster ---------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_tree(roots):
    """The PIDs of ``roots`` and all their descendants (from /proc), with start times."""
    children, start = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
        start[int(entry)] = fields[19]
    found, todo = {}, list(roots)
    while todo:
        pid = todo.pop()
        if pid in start and pid not in found:
            found[pid] = start[pid]
            todo.extend(children.get(pid, []))
    return found


def _same_process(pid, started):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[19] == started
    except OSError:
        return False


def _ray_start(args, log):
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_ADDRESS")}
    env.update(RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="disabled")
    ray_cli = os.path.join(os.path.dirname(sys.executable), "ray")
    return subprocess.Popen([ray_cli, "start", "--block", "--disable-usage-stats", *args],
                            stdout=log, stderr=subprocess.STDOUT, env=env,
                            start_new_session=True)


@pytest.fixture(scope="module")
def cluster():
    """``host:port`` of a two-node Ray cluster (one CPU per node) that this fixture started
    and stops; only its own processes are stopped."""
    ray = pytest.importorskip("ray", reason="ray is not installed (optional: foveal[distributed])")
    pytest.importorskip("pyarrow", reason="pyarrow is not installed (ray[data] brings it)")
    if not sys.platform.startswith("linux"):
        pytest.skip("the cluster fixture finds its processes in /proc (Linux)")
    # a private cluster on 127.0.0.1: no token authentication (Ray would otherwise write a
    # token into ~/.ray, and this process would need it to connect by address)
    saved_auth = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    temp = tempfile.mkdtemp(prefix="fvray-", dir="/tmp")   # short: Unix socket paths
    log = open(os.path.join(temp, "ray_start.log"), "wb")
    port = _free_port()
    address = f"127.0.0.1:{port}"
    common = ["--num-cpus=1", f"--object-store-memory={OBJECT_STORE}",
              "--node-ip-address=127.0.0.1", f"--temp-dir={temp}",
              f"--dashboard-agent-listen-port={_free_port()}"]
    procs = [_ray_start(["--head", f"--port={port}", "--include-dashboard=false",
                         f"--dashboard-port={_free_port()}", *common], log)]
    try:
        _wait_nodes(ray, address, 1, procs, temp)
        procs.append(_ray_start([f"--address={address}", *common], log))
        _wait_nodes(ray, address, 2, procs, temp)
        yield address
    finally:
        tree = _process_tree([p.pid for p in procs])
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(30)
                except subprocess.TimeoutExpired:
                    pass
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_same_process(p, s) for p, s in tree.items()):
            time.sleep(0.5)
        for pid, started in tree.items():
            if _same_process(pid, started):
                os.kill(pid, signal.SIGKILL)
        for p in procs:
            if p.poll() is None:
                p.wait(10)
        log.close()
        shutil.rmtree(temp, ignore_errors=True)
        if saved_auth is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = saved_auth


def _listening(address):
    host, port = address.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=1.0):
            return True
    except OSError:
        return False


def _wait_nodes(ray, address, count, procs, temp):
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if any(p.poll() is not None for p in procs):
            with open(os.path.join(temp, "ray_start.log"), errors="replace") as fh:
                pytest.fail("ray start failed:\n" + fh.read()[-3000:])
        if _listening(address):   # else ray.init would wait long for a head that is not up
            try:
                ray.init(address=address, logging_level="warning", log_to_driver=False)
            except ConnectionError:   # the head is still starting
                alive = []
            else:
                try:
                    alive = [n for n in ray.nodes() if n.get("Alive")]
                finally:
                    ray.shutdown()
            if len(alive) >= count:
                return
        if time.monotonic() > deadline:
            pytest.fail(f"the Ray cluster did not reach {count} node(s) in {START_TIMEOUT} s")
        time.sleep(1.0)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    """Two class folders of PNGs and JPEGs of several sizes, and one unreadable file."""
    root = tmp_path_factory.mktemp("dist") / "photos"
    rng = np.random.default_rng(7)
    for c, cls in enumerate(("cat", "dog")):
        (root / cls / "sub").mkdir(parents=True)
        for i in range(11):
            img = rng.integers(0, 256, (30 + 3 * i, 40 + c, 3), dtype=np.uint8)
            ext = "jpg" if i % 3 == 0 else "png"
            image.write(str(root / cls / f"img{i:02d}.{ext}"), img)
        image.write(str(root / cls / "sub" / "deep.png"),
                    rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    (root / "dog" / "broken.png").write_bytes(b"not a png")
    return str(root)


@pytest.fixture(scope="module")
def single(photos):
    """The single-process reference: ``OnnxBackbone.extract_directory`` on the same folder."""
    from foveal.transfer import OnnxBackbone

    bb = OnnxBackbone(FIXTURE_ONNX, batch_size=4)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bb, bb.extract_directory(photos, verbose=0)


def _same_features(got, want):
    # the workers run onnxruntime on one thread, the reference on foveal's count: the same
    # per-image arithmetic up to float32 summation order
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


def _both_nodes(result):
    assert len(result.rows_per_node) == 2, result.rows_per_node
    assert all(n > 0 for n in result.rows_per_node.values())


@pytest.mark.distributed
def test_extract_equals_single_process(cluster, photos, single):
    from foveal import distributed

    bb, ref = single
    with pytest.warns(RuntimeWarning, match="broken.png"):
        result = distributed.extract(bb, photos, batch_size=4, address=cluster)
    feats, labels, paths = result
    assert feats.dtype == np.float32 and labels.dtype == np.int64
    _same_features(feats, ref.features)
    assert np.array_equal(labels, ref.labels)
    assert paths == [os.path.join(photos, *f.split("/")) for f in ref.filenames]
    assert result.skipped == ref.skipped == [os.path.join(photos, "dog", "broken.png")]
    assert result.class_names == ref.class_names == ["cat", "dog"]
    assert sum(result.rows_per_node.values()) == len(paths) + 1
    _both_nodes(result)
    import ray

    assert not ray.is_initialized() and _pool.current() is None   # its workers went with it


@pytest.mark.distributed
def test_extract_parquet(cluster, photos, single, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from foveal import distributed

    bb, ref = single
    out = tmp_path / "feats"
    with pytest.warns(RuntimeWarning, match="unreadable"):
        files = distributed.extract(FIXTURE_ONNX, photos, output=str(out), batch_size=4,
                                    address=cluster, rows_per_file=10)
    n = len(ref.filenames)
    assert files == [str(out / f"part-{k:05d}.parquet") for k in range(-(-n // 10))]
    assert sorted(os.listdir(out)) == [os.path.basename(f) for f in files]   # no temp files
    table = pa.concat_tables([pq.read_table(f) for f in files])
    assert table.schema.names == ["path", "label", "features"]
    assert table.schema.field("path").type == pa.string()
    assert table.schema.field("label").type == pa.int64()
    assert table.schema.field("features").type == pa.list_(pa.float32())
    assert [pq.read_metadata(f).num_rows for f in files] == [10] * (n // 10) + ([n % 10] if n % 10 else [])
    assert table.column("path").to_pylist() == [os.path.join(photos, *f.split("/"))
                                                for f in ref.filenames]
    assert table.column("label").to_pylist() == ref.labels.tolist()
    _same_features(np.array(table.column("features").to_pylist(), np.float32), ref.features)
    assert files.skipped == ref.skipped
    _both_nodes(files)
    with pytest.raises(ValueError, match="already holds Parquet files"):
        distributed.extract(FIXTURE_ONNX, photos, output=str(out), address=cluster)


@pytest.mark.distributed
def test_extract_file_list_and_dataset(cluster, photos, single):
    import ray

    from foveal import distributed

    bb, ref = single
    keep = [os.path.join(photos, *f.split("/")) for f in ref.filenames[::-1][:9]]
    missing = os.path.join(photos, "nope.png")
    with pytest.warns(RuntimeWarning, match="nope.png"):
        feats, labels, paths = res = distributed.extract(bb, keep[:4] + [missing] + keep[4:],
                                                         batch_size=2, address=cluster)
    assert paths == keep and res.skipped == [missing]
    assert np.array_equal(labels, np.full(len(keep), -1))
    rows = [ref.filenames.index(os.path.relpath(p, photos).replace(os.sep, "/")) for p in keep]
    _same_features(feats, ref.features[rows])

    ray.init(address=cluster, logging_level="warning")
    try:   # a Dataset with an upstream task stage (needs a CPU besides the workers')
        ds = ray.data.from_items([{"path": p, "label": int(k)} for k, p in enumerate(keep)])
        ds = ds.map(lambda row: row)
        feats2, labels2, paths2 = distributed.extract(bb, ds, batch_size=3, num_workers=2)
        assert ray.is_initialized()   # the caller's connection is left open
    finally:
        distributed.shutdown_workers()   # as a user should before ray.shutdown()
        ray.shutdown()
    assert paths2 == keep and np.array_equal(labels2, np.arange(len(keep)))
    _same_features(feats2, feats)


@pytest.mark.distributed
def test_augment_writes_seeded_copies(cluster, photos, tmp_path):
    from foveal import distributed
    from foveal.data import ImageDataGenerator
    from foveal.data._decode import decode_file

    gen = ImageDataGenerator(rotation_range=20, horizontal_flip=True, zoom_range=0.1)
    out = tmp_path / "aug"
    with pytest.warns(RuntimeWarning, match="broken.png"):
        files = distributed.augment(gen, photos, str(out), copies=2, target_size=(24, 20),
                                    seed=5, batch_size=3, address=cluster)
    names = sorted(os.path.relpath(f, out) for f in files)
    assert len(files) == len(set(files)) == 2 * 24
    assert os.path.join("cat", "img00_aug1.png") in names
    assert os.path.join("dog", "sub", "deep_aug0.png") in names
    assert files.skipped == [os.path.join(photos, "dog", "broken.png")]
    _both_nodes(files)
    # the written copy is the generator's transform with the copy's seed, rounded to uint8
    src = decode_file(os.path.join(photos, "cat", "img04.png"), "rgb", (24, 20), "bilinear", False)
    src = image.resize(src, (24, 20), "bilinear")
    params = gen.get_random_transform(src.shape, seed=_workers.copy_seed(5, "cat/img04.png", 1))
    want = np.clip(np.rint(gen.apply_transform(src, params)), 0, 255).astype(np.uint8)
    assert np.array_equal(image.read(str(out / "cat" / "img04_aug1.png")), want)


@pytest.mark.distributed
def test_cli_extract_with_ray(cluster, photos, single, tmp_path, capsys):
    from foveal import cli

    bb, ref = single
    npz = tmp_path / "f.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = cli.main(["extract", FIXTURE_ONNX, photos, "-o", str(npz), "--batch-size", "4",
                       "--ray", cluster, "--workers", "2"])
    assert rc == 0
    assert "2 node(s)" in capsys.readouterr().out
    with np.load(npz) as z:
        _same_features(z["features"], ref.features)
        assert z["labels"].tolist() == ref.labels.tolist()
        assert z["filenames"].tolist() == ref.filenames
        assert z["class_names"].tolist() == ["cat", "dog"]
        assert z["skipped"].tolist() == ref.skipped
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = cli.main(["extract", FIXTURE_ONNX, photos, "-o", str(tmp_path / "pq"),
                       "--ray", cluster])
    assert rc == 0
    assert os.listdir(tmp_path / "pq") == ["part-00000.parquet"]


# ---- the persistent worker pool ------------------------------------------------------------

@pytest.fixture
def connected(cluster):
    """This process connected to the cluster (as a user's ``ray.init``), the workers stopped and
    the connection closed afterwards."""
    import ray

    from foveal import distributed

    ray.init(address=cluster, logging_level="warning", log_to_driver=False)
    try:
        yield ray
    finally:
        distributed.shutdown_workers()
        ray.shutdown()


def distributed_extract(*args, **kwargs):
    from foveal import distributed

    return distributed.extract(*args, **kwargs)


def _extract_quietly(*args, **kwargs):
    """``extract`` of the photos, whose broken file gives the one expected warning."""
    with pytest.warns(RuntimeWarning, match="broken.png"):
        return distributed_extract(*args, **kwargs)


def _pids_gone(pids, timeout=30.0):
    """Whether the processes ``pids`` (this machine's) all exit within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while any(os.path.exists(f"/proc/{p}") for p in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _all_dead(ray, actors, timeout=30.0):
    """Whether every actor of ``actors`` answers a call with ``RayActorError`` within
    ``timeout`` seconds (``ray.kill`` is asynchronous: a call right after it may still run)."""
    deadline = time.monotonic() + timeout
    for actor in actors:
        while True:
            try:
                ray.get(actor.info.remote(), timeout=60)
            except ray.exceptions.RayActorError:
                break
            if time.monotonic() > deadline:
                return False
            time.sleep(0.2)
    return True


def _same_result(got, want):
    assert np.array_equal(got.features, want.features)
    assert np.array_equal(got.labels, want.labels) and got.paths == want.paths
    assert got.skipped == want.skipped and got.class_names == want.class_names


@pytest.mark.distributed
def test_workers_are_reused_on_the_users_connection(connected, photos, single):
    ray = connected
    bb, ref = single
    first = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    pool = _pool.current()
    assert pool is not None and len(pool.actors) == 2
    assert len({i["node"] for i in pool.info}) == 2          # spread over the nodes
    assert {i["pid"] for i in pool.info} == {i["pid"] for i in ray.get(
        [a.info.remote() for a in pool.actors])}
    second = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    assert _pool.current() is pool
    assert ray.get([a.info.remote() for a in pool.actors]) == pool.info   # the same actors
    _same_result(second, first)
    _same_features(second.features, ref.features)
    _both_nodes(second)
    # the same model bytes and settings by path, another source and output: still the same pool
    keep = list(first.paths[::3])
    part = distributed_extract(FIXTURE_ONNX, keep, batch_size=4, num_workers=2)
    assert _pool.current() is pool
    _same_features(part.features, first.features[::3])


@pytest.mark.distributed
def test_other_workers_or_backbone_start_a_new_pool(connected, photos, single):
    from foveal.transfer import OnnxBackbone

    ray = connected
    bb, ref = single
    first = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    old = _pool.current()
    one = _extract_quietly(bb, photos, batch_size=4, num_workers=1)   # 1 worker of 1 CPU
    new = _pool.current()
    assert new is not old and len(new.actors) == 1
    assert not {i["actor_id"] for i in old.info} & {i["actor_id"] for i in new.info}
    assert _all_dead(ray, old.actors)
    assert _pids_gone([i["pid"] for i in old.info])
    _same_result(one, first)
    other = OnnxBackbone(FIXTURE_ONNX, batch_size=2)   # another backbone setting
    two = _extract_quietly(other, photos, batch_size=4, num_workers=1)
    assert _pool.current() is not new
    assert _all_dead(ray, new.actors)
    assert np.array_equal(two.labels, ref.labels) and two.paths == first.paths
    _same_features(two.features, ref.features)


@pytest.mark.distributed
def test_shutdown_workers_releases_them(connected, photos):
    from foveal import distributed

    ray = connected
    _extract_quietly(FIXTURE_ONNX, photos, batch_size=4, num_workers=2)
    pool = _pool.current()
    assert ray.available_resources().get("CPU", 0) < 1   # the idle workers hold the CPUs
    assert distributed.shutdown_workers() == 2
    assert _pool.current() is None and distributed.shutdown_workers() == 0
    assert _all_dead(ray, pool.actors)
    assert _pids_gone([i["pid"] for i in pool.info])
    deadline = time.monotonic() + 30
    while ray.available_resources().get("CPU", 0) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert ray.available_resources().get("CPU", 0) == 2


@pytest.mark.distributed
def test_other_ray_work_frees_the_workers_cpus(connected, photos, single):
    ray = connected
    bb, ref = single
    first = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    pool = _pool.current()
    # a Dataset source (Ray Data's own actor pool) would wait forever for the CPUs the kept
    # workers hold: they are stopped first
    ds = ray.data.from_items([{"path": p} for p in first.paths[:6]])
    feats, _, paths = distributed_extract(bb, ds, batch_size=3, num_workers=2)
    assert paths == first.paths[:6] and _pool.current() is None
    assert _all_dead(ray, pool.actors)
    _same_features(feats, ref.features[:6])


@pytest.mark.distributed
def test_a_killed_worker_is_replaced(connected, photos, single):
    ray = connected
    bb, ref = single
    first = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    pool = _pool.current()
    ray.kill(pool.actors[0], no_restart=True)
    again = _extract_quietly(bb, photos, batch_size=4, num_workers=2)
    new = _pool.current()
    assert new is not pool and len(new.actors) == 2
    assert not {i["actor_id"] for i in pool.info} & {i["actor_id"] for i in new.info}
    assert _all_dead(ray, pool.actors)   # the survivor was stopped with the broken pool
    _same_result(again, first)
    _same_features(again.features, ref.features)
    _both_nodes(again)
    assert sum(again.rows_per_node.values()) == len(again.paths) + 1   # each file once
