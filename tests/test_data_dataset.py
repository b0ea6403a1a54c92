"""foveal.data.image_dataset_from_directory (Keras 3 parity on a recorded tree: listings, labels,
seeded splits, resized pixels), its tf.data-style methods, training on it, the decoded-image
caches of datasets and of flow_from_directory, and decoding (simplejpeg and Pillow agree, DCT
scaling, EXIF orientation, formats sniffed from content, unreadable files never duplicated)."""
import builtins
import io
import os
import warnings

import numpy as np
import pytest
from PIL import Image, ImageOps

import foveal.nn as nn
from fixtures import make_keras_dataset_fixtures as mkd
from foveal.data import AUTOTUNE, ImageDataGenerator, image_dataset_from_directory
from foveal.data import _decode

META, ARR = mkd.load()
N_ALL = len(META["list"]["nolabels"]["paths"])


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_dataset_tree")
    mkd.make_tree(str(root))
    return str(root)


def rel(ds, root):
    return [os.path.relpath(p, root) for p in ds.file_paths]


def solid_tree(root, counts, size=(12, 16), ext="png"):
    """``counts = {"a": 3, ...}``: class folders of images; image i of class k is a gradient
    whose pixel values encode (k, i), so every image is different."""
    for k, (name, n) in enumerate(sorted(counts.items())):
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for i in range(n):
            yy, xx = np.mgrid[0:size[0], 0:size[1]]
            arr = np.stack([xx * 7 + i * 3, yy * 5 + k * 40, np.full_like(xx, 10 * i + k)], -1)
            Image.fromarray(arr.clip(0, 255).astype(np.uint8)).save(
                os.path.join(root, name, f"{i:03d}.{ext}"), **({"quality": 95} if ext == "jpg" else {}))
    return str(root)


def passes(ds, n=3):
    return [list(ds) for _ in range(n)]


def assert_same_passes(a, b):
    assert len(a) == len(b)
    for pa, pb in zip(a, b):
        assert len(pa) == len(pb)
        for ea, eb in zip(pa, pb):
            ea = ea if isinstance(ea, tuple) else (ea,)
            eb = eb if isinstance(eb, tuple) else (eb,)
            for u, v in zip(ea, eb):
                np.testing.assert_array_equal(u, v)


class OpenCounter:
    """Counts ``open`` and ``os.open`` calls on files below ``root``."""

    def __init__(self, monkeypatch, root):
        self.count, self.root = 0, os.path.abspath(root)

        def counting(real):
            def counting_open(file, *args, **kwargs):
                if (isinstance(file, (str, os.PathLike))
                        and os.path.abspath(os.fspath(file)).startswith(self.root)):
                    self.count += 1
                return real(file, *args, **kwargs)
            return counting_open
        monkeypatch.setattr(builtins, "open", counting(builtins.open))
        monkeypatch.setattr(os, "open", counting(os.open))


# ---------------------------------------------------------------------------------------------
# Keras parity, recorded


@pytest.mark.parametrize("case", list(mkd.LIST_CASES))
def test_listing_labels_split_match_keras(tree, case, capsys):
    ref = META["list"][case]
    ds = image_dataset_from_directory(tree, image_size=mkd.TARGET, **mkd.case_kwargs(case, N_ALL))
    assert capsys.readouterr().out.splitlines() == ref["printed"]
    assert rel(ds, tree) == ref["paths"]
    assert ds.class_names == ref["class_names"]
    if ref["labels"] is None:
        assert ds.labels is None
        assert all(isinstance(b, np.ndarray) for b in ds)
    else:
        assert ds.labels.tolist() == ref["labels"] and ds.labels.dtype == np.int32
    assert len(ds) == -(-len(ref["paths"]) // 32)


def test_subset_both_is_training_and_validation(tree, capsys):
    train, val = image_dataset_from_directory(tree, image_size=mkd.TARGET, seed=7,
                                              validation_split=0.3, subset="both")
    out = capsys.readouterr().out.splitlines()
    assert out == META["list"]["train_s7"]["printed"] + META["list"]["val_s7"]["printed"][1:]
    assert rel(train, tree) == META["list"]["train_s7"]["paths"]
    assert rel(val, tree) == META["list"]["val_s7"]["paths"]
    # the validation dataset is not shuffled: every pass in the listing's order
    assert [list(y) for _, y in val] == [META["list"]["val_s7"]["labels"]]
    assert [list(y) for _, y in val] == [list(y) for _, y in val]


def test_label_modes_match_keras(tree):
    two = META["two_classes"]
    kw = dict(mkd.TWO_CLASSES, image_size=mkd.TARGET, batch_size=4)
    ds_int = image_dataset_from_directory(tree, **kw)
    assert rel(ds_int, tree) == two["paths"] and ds_int.class_names == ["cow", "bee"]
    for mode, key in (("categorical", "labels_categorical"), ("binary", "labels_binary")):
        ds = image_dataset_from_directory(tree, label_mode=mode, **kw)
        batches = list(ds)
        y = np.concatenate([b[1] for b in batches])
        assert y.dtype == ARR[key].dtype == np.float32 and y.shape == ARR[key].shape
        np.testing.assert_array_equal(y, ARR[key])
        assert [len(b[0]) for b in batches] == [4, 4, 2]
    y = np.concatenate([b[1] for b in ds_int])
    assert y.dtype == np.int32 and y.tolist() == two["labels"]


@pytest.mark.parametrize("case", list(mkd.PIXEL_CASES))
def test_pixels_match_keras(tree, case):
    color, interp, crop, pad = mkd.PIXEL_CASES[case]
    ds = image_dataset_from_directory(tree, image_size=mkd.TARGET, shuffle=False, batch_size=5,
                                      color_mode=color, interpolation=interp,
                                      crop_to_aspect_ratio=crop, pad_to_aspect_ratio=pad)
    assert rel(ds, tree) == META["pixel_files"]
    x = np.concatenate([b[0] for b in ds])
    ref = ARR[f"px_{case}"]
    assert x.dtype == np.float32 and x.shape == ref.shape
    for i, f in enumerate(META["pixel_files"]):
        if f == mkd.BIG_JPEG:
            # decoded at 1/4 scale in the DCT (Keras decodes it whole): close, not equal
            assert np.abs(x[i] - ref[i]).mean() < 6.0, f
            continue
        # float32 resizing arithmetic (OpenCV's rules against PyTorch's): a few ulp
        np.testing.assert_allclose(x[i], ref[i], rtol=1e-6, atol=1e-3, err_msg=f)


def test_live_keras_listing_and_pixels(tree):
    pytest.importorskip("torch", reason="the live comparison runs Keras on the torch backend")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    pytest.importorskip("keras", reason="keras is not installed")
    from keras.src.utils import dataset_utils, image_dataset_utils

    for seed in (3, 2024):
        paths, labels, names = dataset_utils.index_directory(
            tree, "inferred", formats=image_dataset_utils.ALLOWLIST_FORMATS, shuffle=True,
            seed=seed, verbose=False)
        ds = image_dataset_from_directory(tree, image_size=mkd.TARGET, seed=seed, verbose=False)
        assert ds.file_paths == paths and ds.labels.tolist() == list(labels) and ds.class_names == names
    ds = image_dataset_from_directory(tree, image_size=(5, 11), shuffle=False, verbose=False,
                                      crop_to_aspect_ratio=True)
    x = np.concatenate([b[0] for b in ds])
    for i, p in enumerate(ds.file_paths):
        if p.endswith(mkd.BIG_JPEG.split("/")[-1]):
            continue
        ref = np.asarray(image_dataset_utils._load_image_grain(p, (5, 11), 3, "bilinear",
                                                               "channels_last", True, False))
        np.testing.assert_allclose(x[i], ref, rtol=1e-6, atol=1e-3, err_msg=p)


# ---------------------------------------------------------------------------------------------
# The dataset


def test_batches_shapes_and_unbatched(tmp_path):
    root = solid_tree(tmp_path, {"a": 5, "b": 4})
    ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4, shuffle=False, verbose=False)
    batches = list(ds)
    assert len(ds) == 3 and [b[0].shape for b in batches] == [(4, 6, 8, 3)] * 2 + [(1, 6, 8, 3)]
    assert all(b[0].dtype == np.float32 and b[1].dtype == np.int32 for b in batches)
    x = np.concatenate([b[0] for b in batches])
    assert 0.0 <= x.min() and x.max() <= 255.0 and x.max() > 1.0
    single = image_dataset_from_directory(root, image_size=(6, 8), batch_size=None, shuffle=False,
                                          verbose=False)
    elems = list(single)
    assert len(single) == 9 and elems[0][0].shape == (6, 8, 3) and elems[0][1].shape == ()
    np.testing.assert_array_equal(np.stack([e[0] for e in elems]), x)
    gray = image_dataset_from_directory(root, image_size=(6, 8), color_mode="grayscale", label_mode=None,
                                        shuffle=False, verbose=False)
    assert [b.shape for b in gray] == [(9, 6, 8, 1)]
    square = image_dataset_from_directory(root, image_size=5, shuffle=False, verbose=False)
    assert next(iter(square))[0].shape == (9, 5, 5, 3)


def test_shuffle_each_pass_seeded(tmp_path):
    root = solid_tree(tmp_path, {"a": 6, "b": 6})
    kw = dict(image_size=(4, 4), batch_size=3, seed=5, verbose=False)
    ds = image_dataset_from_directory(root, **kw)

    def keys(one_pass):
        x = np.concatenate([b[0] for b in one_pass])
        return [tuple(v) for v in x[:, 0, 0, 1:].tolist()]   # (class, image) encoded
    p = passes(ds)
    k0, k1, k2 = (keys(q) for q in p)
    assert sorted(k0) == sorted(k1) == sorted(k2) and len(set(k0)) == 12
    assert k0 != k1 and k1 != k2                 # a new order every pass
    assert [keys(q) for q in passes(image_dataset_from_directory(root, **kw))] == [k0, k1, k2]
    # labels travel with their images
    for q in p:
        for x, y in q:
            np.testing.assert_array_equal((x[:, 0, 0, 1] // 40).astype(int), y)


def test_pipeline_methods(tmp_path):
    root = solid_tree(tmp_path, {"a": 5, "b": 4})
    ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4, shuffle=False, verbose=False)
    ref = list(ds)
    xs = np.concatenate([b[0] for b in ref])
    ys = np.concatenate([b[1] for b in ref])
    # map: a tuple element is passed as arguments
    m = ds.map(lambda x, y: (x / 255.0, y + 10))
    assert len(m) == 3 and m.class_names == ["a", "b"] and m.file_paths == ds.file_paths
    got = list(m)
    np.testing.assert_allclose(np.concatenate([g[0] for g in got]), xs / 255.0)
    assert np.concatenate([g[1] for g in got]).tolist() == (ys + 10).tolist()
    # unbatch / batch
    u = ds.unbatch()
    assert len(u) == 9
    rows = list(u)
    assert len(rows) == 9 and rows[3][0].shape == (6, 8, 3)
    np.testing.assert_array_equal(np.stack([r[0] for r in rows]), xs)
    b = u.batch(2)
    assert len(b) == 5 and [e[0].shape[0] for e in b] == [2, 2, 2, 2, 1]
    assert len(u.batch(2, drop_remainder=True)) == 4 == len(list(u.batch(2, drop_remainder=True)))
    with pytest.raises(TypeError, match="unknown"):
        len(ds.map(lambda x, y: x).unbatch())
    assert ds.map(lambda x, y: x).unbatch().cardinality() == -2
    # take
    assert len(ds.take(2)) == 2 and len(list(ds.take(2))) == 2 and len(ds.take(-1)) == 3
    # shuffle: a permutation, seeded, reshuffled each pass unless told otherwise
    s = u.shuffle(4, seed=1)
    p1, p2 = [[int(r[0][0, 0, 2]) for r in s] for _ in range(2)]
    base = [int(r[0][0, 0, 2]) for r in rows]
    assert sorted(p1) == sorted(base) == sorted(p2) and p1 != base and p1 != p2
    assert [int(r[0][0, 0, 2]) for r in u.shuffle(4, seed=1)] == p1
    fixed = u.shuffle(4, seed=1, reshuffle_each_iteration=False)
    assert [int(r[0][0, 0, 2]) for r in fixed] == [int(r[0][0, 0, 2]) for r in fixed]
    # prefetch gives the same elements, and errors come through
    assert_same_passes(passes(ds.prefetch(AUTOTUNE), 2), [ref, ref])
    assert_same_passes([list(ds.prefetch(1))], [ref])
    with pytest.raises(ZeroDivisionError):
        list(ds.map(lambda x, y: 1 / 0).prefetch(2))
    # as_numpy_iterator, dict elements
    d = u.map(lambda x, y: {"x": x, "y": y}).batch(4)
    first = next(iter(d))
    assert first["x"].shape == (4, 6, 8, 3) and first["y"].tolist() == ys[:4].tolist()
    assert len(list(ds.as_numpy_iterator())) == 3


def test_generic_cache_memory_and_file(tmp_path):
    root = solid_tree(tmp_path / "img", {"a": 3, "b": 3})
    ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=4, seed=2, verbose=False)
    calls = []

    def f(x, y):
        calls.append(1)
        return x + 1.0, y
    cached = ds.map(f).cache()
    first = list(cached)
    assert len(calls) == 2
    assert_same_passes([list(cached)], [first])    # replayed, as tf.data: no new calls
    assert len(calls) == 2
    path = str(tmp_path / "elements.npz")
    on_disk = ds.map(lambda x, y: (x * 2, y)).cache(path)
    assert not os.path.exists(path)
    one = list(on_disk)
    assert os.path.exists(path) and not [p for p in os.listdir(tmp_path) if ".tmp" in p]
    again = ds.map(lambda x, y: (x * 0, y)).cache(path)   # an existing file is read back as is
    assert_same_passes([list(again)], [one])


def test_fit_evaluate_predict_take_datasets(tmp_path):
    root = solid_tree(tmp_path, {"a": 10, "b": 10}, size=(8, 8))
    train, val = image_dataset_from_directory(root, image_size=(8, 8), batch_size=4, seed=3,
                                              validation_split=0.2, subset="both", verbose=False)
    model = nn.Sequential([nn.Input((8, 8, 3)), nn.Rescaling(1 / 255), nn.Flatten(),
                           nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    hist = model.fit(train.cache().prefetch(AUTOTUNE), validation_data=val, epochs=2, verbose=0)
    assert set(hist.history) >= {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(hist.history["loss"]) == 2 and np.isfinite(hist.history["val_loss"]).all()
    res = model.evaluate(val, return_dict=True)
    assert res["loss"] == pytest.approx(hist.history["val_loss"][-1], rel=1e-5)
    pred = model.predict(val)
    xv = np.concatenate([b[0] for b in val])
    assert pred.shape == (4, 2)
    np.testing.assert_allclose(pred, model.predict(xv), rtol=1e-6)
    images_only = image_dataset_from_directory(root, image_size=(8, 8), label_mode=None,
                                               shuffle=False, verbose=False)
    assert model.predict(images_only).shape == (20, 2)


def test_argument_errors(tmp_path):
    root = solid_tree(tmp_path, {"a": 2, "b": 2, "c": 1})
    kw = dict(image_size=(4, 4), verbose=False)
    with pytest.raises(FileNotFoundError, match="directory"):
        image_dataset_from_directory(str(tmp_path / "missing"), **kw)
    with pytest.raises(ValueError, match="label_mode"):
        image_dataset_from_directory(root, label_mode="sparse", **kw)
    with pytest.raises(ValueError, match="color_mode"):
        image_dataset_from_directory(root, color_mode="bgr", **kw)
    with pytest.raises(ValueError, match="not supported"):
        image_dataset_from_directory(root, interpolation="lanczos3", **kw)
    with pytest.raises(ValueError, match="together"):
        image_dataset_from_directory(root, subset="training", **kw)
    with pytest.raises(ValueError, match="seed"):
        image_dataset_from_directory(root, validation_split=0.5, subset="training", **kw)
    with pytest.raises(ValueError, match="between 0 and 1"):
        image_dataset_from_directory(root, validation_split=1.5, subset="training", seed=1, **kw)
    with pytest.raises(ValueError, match="subset"):
        image_dataset_from_directory(root, validation_split=0.5, subset="test", seed=1, **kw)
    with pytest.raises(ValueError, match="only one"):
        image_dataset_from_directory(root, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True, **kw)
    with pytest.raises(ValueError, match="exactly 2"):
        image_dataset_from_directory(root, label_mode="binary", **kw)
    with pytest.raises(ValueError, match="one label per image"):
        image_dataset_from_directory(root, labels=[0, 1], **kw)
    with pytest.raises(ValueError, match="class_names"):
        image_dataset_from_directory(root, labels=[0] * 5, class_names=["a"], **kw)
    with pytest.raises(ValueError, match="subfolders"):
        image_dataset_from_directory(root, class_names=["a", "zzz"], **kw)
    with pytest.raises(ValueError, match="no validation file"):
        image_dataset_from_directory(root, validation_split=0.1, subset="validation", seed=1, **kw)
    with pytest.raises(ValueError, match="2\\*\\*32"):
        image_dataset_from_directory(root, seed=2**40, **kw)
    with pytest.raises(ValueError, match="image_size"):
        image_dataset_from_directory(root, image_size=(4, 4, 3), verbose=False)
    with pytest.raises(ValueError, match="No images"):
        image_dataset_from_directory(root, class_names=[], **kw)


def test_verbose_false_prints_only_the_split(tmp_path, capsys):
    root = solid_tree(tmp_path, {"a": 5, "b": 5})
    image_dataset_from_directory(root, image_size=(4, 4), verbose=False)
    assert capsys.readouterr().out == ""
    image_dataset_from_directory(root, image_size=(4, 4), verbose=False, seed=1,
                                 validation_split=0.2, subset="training")
    assert capsys.readouterr().out == "Using 8 files for training.\n"   # as Keras


# ---------------------------------------------------------------------------------------------
# Caches


def test_dataset_cache_same_batches_and_no_file_opened(tmp_path, monkeypatch):
    root = solid_tree(tmp_path / "img", {"a": 5, "b": 6}, size=(20, 30), ext="jpg")
    kw = dict(image_size=(9, 11), batch_size=4, seed=4, verbose=False)
    ref = passes(image_dataset_from_directory(root, **kw))
    for filename in ("", str(tmp_path / "ds.cache")):
        ds = image_dataset_from_directory(root, **kw).cache(filename)
        opens = OpenCounter(monkeypatch, root)
        got = [list(ds)]
        assert opens.count == 11                      # each file read once
        assert ds.cache_info["complete"] and ds.cache_info["images"] == 11
        got += [list(ds), list(ds)]
        assert opens.count == 11                      # later passes open no file
        assert_same_passes(got, ref)                   # and reshuffle as without a cache
        monkeypatch.undo()
    # the file is reused by a later run: no image opened at all, same batches
    ds = image_dataset_from_directory(root, **kw).cache(str(tmp_path / "ds.cache"))
    assert ds.cache_info["reused"]
    opens = OpenCounter(monkeypatch, root)
    assert_same_passes(passes(ds), ref)
    assert opens.count == 0


def test_flow_from_directory_cache_same_batches_with_augmentation(tmp_path, monkeypatch):
    root = solid_tree(tmp_path / "img", {"a": 6, "b": 5}, size=(20, 30), ext="jpg")
    gen = ImageDataGenerator(rotation_range=20, horizontal_flip=True, rescale=1 / 255)

    def epochs(cache, n=3, opens=None):
        it = gen.flow_from_directory(root, target_size=(9, 11), batch_size=4, seed=7,
                                     interpolation="bilinear", cache=cache)
        out = []
        for e in range(n):
            out.append([it[i] for i in range(len(it))])
            if e == 0 and opens is not None:
                first = opens.count
            it.on_epoch_end()
        return it, out, (first if opens is not None else None)
    _, ref, _ = epochs(None)
    assert not np.array_equal(ref[0][0][0], ref[1][0][0])   # augmentation differs per epoch
    for cache in ("memory", str(tmp_path / "flow.cache")):
        opens = OpenCounter(monkeypatch, root)
        it, got, first = epochs(cache, opens=opens)
        assert first == 11 and opens.count == 11    # epochs 2 and 3 open no file
        assert_same_passes(got, ref)
        info = it.cache_info
        assert info["complete"] and info["images"] == 11 and info["kind"] in ("memory", "file")
        assert info["bytes"] >= 11 * 9 * 11 * 3
        monkeypatch.undo()
    # a later run reuses the file (even with the images gone) ...
    path = str(tmp_path / "flow.cache")
    it = gen.flow_from_directory(root, target_size=(9, 11), batch_size=4, seed=7,
                                 interpolation="bilinear", cache=path)
    assert it.cache_info["reused"]
    opens = OpenCounter(monkeypatch, root)
    got = []
    for _ in range(3):
        got.append([it[i] for i in range(len(it))])
        it.on_epoch_end()
    assert opens.count == 0
    assert_same_passes(got, ref)


def test_file_cache_rebuilt_when_listing_or_settings_change(tmp_path, capsys):
    root = solid_tree(tmp_path / "img", {"a": 3, "b": 3})
    path = str(tmp_path / "c.cache")

    def run(size=(6, 8)):
        it = ImageDataGenerator().flow_from_directory(root, target_size=size, batch_size=6,
                                                      shuffle=False, cache=path)
        return it, it[0][0]
    it, x0 = run()
    assert not it.cache_info["reused"] and os.path.exists(path)
    assert not [p for p in os.listdir(tmp_path) if ".tmp" in p]    # written atomically
    it, _ = run()
    assert it.cache_info["reused"]
    it, x1 = run(size=(5, 5))                           # another target size: rebuilt
    assert not it.cache_info["reused"] and x1.shape == (6, 5, 5, 3)
    it, _ = run(size=(5, 5))
    assert it.cache_info["reused"]
    new = np.full((12, 16, 3), 99, np.uint8)            # a file changes: rebuilt, new pixels
    Image.fromarray(new).save(os.path.join(root, "b", "001.png"))
    st = os.stat(os.path.join(root, "b", "001.png"))
    os.utime(os.path.join(root, "b", "001.png"), ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    it, x2 = run(size=(5, 5))
    assert not it.cache_info["reused"]
    np.testing.assert_array_equal(x2[4], 99.0)
    assert "Rebuilding" in capsys.readouterr().out
    with open(path, "r+b") as f:                        # a damaged file: rebuilt
        f.write(b"garbage!")
    it, x3 = run(size=(5, 5))
    assert not it.cache_info["reused"]
    np.testing.assert_array_equal(x3, x2)


def test_memory_cache_limit_warns_and_stays_correct(tmp_path, monkeypatch):
    root = solid_tree(tmp_path, {"a": 4, "b": 4})
    monkeypatch.setenv("FOVEAL_CACHE_LIMIT_MB", str(3 * 6 * 8 * 3 / 2**20))   # room for 3 images
    with pytest.warns(UserWarning, match="FOVEAL_CACHE_LIMIT_MB"):
        it = ImageDataGenerator().flow_from_directory(root, target_size=(6, 8), batch_size=8,
                                                      shuffle=False, cache="memory")
    with pytest.warns(UserWarning, match="reached its limit"):
        x = it[0][0]
    info = it.cache_info
    assert info["images"] == 3 and not info["complete"] and info["bytes"] <= info["limit_bytes"]
    np.testing.assert_array_equal(it[0][0], x)
    ref = ImageDataGenerator().flow_from_directory(root, target_size=(6, 8), batch_size=8, shuffle=False)
    np.testing.assert_array_equal(ref[0][0], x)


def test_cache_argument_errors(tmp_path):
    root = solid_tree(tmp_path / "img", {"a": 1})
    gen = ImageDataGenerator()
    with pytest.raises(TypeError, match="cache"):
        gen.flow_from_directory(root, cache=3)
    with pytest.raises(ValueError, match="folder"):
        gen.flow_from_directory(root, cache=str(tmp_path))


# ---------------------------------------------------------------------------------------------
# Decoding


def _jpeg_bytes(arr, **kw):
    b = io.BytesIO()
    Image.fromarray(arr).save(b, "JPEG", **kw)
    return b.getvalue()


@pytest.mark.skipif(_decode._simplejpeg is None, reason="simplejpeg is not installed")
@pytest.mark.parametrize("shape,subsampling", [((31, 45, 3), 0), ((64, 96, 3), 2), ((77, 53, 3), 1),
                                               ((40, 41), -1)])
@pytest.mark.parametrize("target", [(8, 8), (30, 40), (64, 96)])
def test_simplejpeg_and_pillow_decode_the_same_pixels(tmp_path, monkeypatch, shape, subsampling, target):
    rng = np.random.default_rng(sum(shape))
    arr = rng.integers(0, 256, shape, dtype=np.uint8)
    path = str(tmp_path / "x.jpg")
    kw = {} if subsampling < 0 else {"subsampling": subsampling}
    with open(path, "wb") as f:
        f.write(_jpeg_bytes(arr, quality=90, **kw))
    for color in ("rgb", "grayscale", "rgba"):
        for fit in _decode.FITS:
            monkeypatch.setattr(_decode, "use_simplejpeg", True)
            fast = _decode.decode_image(path, color, target, fit)
            monkeypatch.setattr(_decode, "use_simplejpeg", False)
            slow = _decode.decode_image(path, color, target, fit)
            assert fast.dtype == slow.dtype == np.uint8
            np.testing.assert_array_equal(fast, slow, err_msg=f"{color} {fit}")


def test_jpeg_decoded_at_reduced_scale(tmp_path):
    yy, xx = np.mgrid[0:64, 0:96]
    smooth = np.stack([xx * 2, yy * 3, xx + yy], -1).clip(0, 255).astype(np.uint8)
    path = str(tmp_path / "big.jpg")
    Image.fromarray(smooth).save(path, quality=95)
    for target, scale in (((16, 24), 4), ((8, 12), 8), ((4, 4), 8), ((32, 40), 2), ((33, 48), 1)):
        img = _decode.decode_image(path, "rgb", target)
        with Image.open(path) as ref:
            if scale > 1:
                ref.draft("RGB", (96 // scale, 64 // scale))
            ref = np.asarray(ref.convert("RGB"))
        assert img.shape == (64 // scale, 96 // scale, 3), target
        np.testing.assert_array_equal(img, ref)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_applied(tmp_path, monkeypatch, orientation):
    rng = np.random.default_rng(orientation)
    arr = (rng.integers(0, 4, (10, 14, 3)) * 60).astype(np.uint8)   # blocky: survives JPEG
    im = Image.fromarray(arr)
    exif = im.getexif()
    exif[0x0112] = orientation
    os.makedirs(tmp_path / "c")
    jpg, png = str(tmp_path / "c" / "a.jpg"), str(tmp_path / "c" / "b.png")
    im.save(jpg, quality=100, exif=exif.tobytes())
    im.save(png, exif=exif.tobytes())
    for path in (jpg, png):
        with Image.open(path) as f:
            want = np.asarray(ImageOps.exif_transpose(f).convert("RGB"))
        for fast in (True, False):
            monkeypatch.setattr(_decode, "use_simplejpeg", fast)
            got = _decode.decode_image(path, "rgb", want.shape[:2])
            np.testing.assert_array_equal(got, want, err_msg=f"{path} fast={fast}")
    # through the dataset: a portrait photo stays portrait
    ds = image_dataset_from_directory(str(tmp_path), image_size=want.shape[:2], shuffle=False,
                                      interpolation="nearest", verbose=False)
    x = next(iter(ds))[0]
    assert x.shape == (2,) + want.shape
    np.testing.assert_array_equal(x[1], want)


def test_format_sniffed_from_content(tmp_path):
    rng = np.random.default_rng(3)
    arr = rng.integers(0, 256, (9, 12, 3), dtype=np.uint8)
    os.makedirs(tmp_path / "c")
    Image.fromarray(arr).save(tmp_path / "c" / "png_named.jpg", format="PNG")
    Image.fromarray(arr).save(tmp_path / "c" / "real.png", format="PNG")
    Image.fromarray(arr).save(tmp_path / "c" / "jpeg_named.png", format="JPEG", quality=90)
    Image.fromarray(arr).save(tmp_path / "c" / "real.jpg", format="JPEG", quality=90)
    ds = image_dataset_from_directory(str(tmp_path), image_size=(9, 12), shuffle=False, verbose=False)
    x, _ = next(iter(ds))
    names = [os.path.basename(p) for p in ds.file_paths]
    got = dict(zip(names, x))
    np.testing.assert_array_equal(got["png_named.jpg"], arr)
    np.testing.assert_array_equal(got["png_named.jpg"], got["real.png"])
    np.testing.assert_array_equal(got["jpeg_named.png"], got["real.jpg"])
    assert not np.array_equal(got["real.jpg"], arr)        # it really is a (lossy) JPEG


def test_unreadable_files_are_never_duplicated(tmp_path, monkeypatch):
    root = solid_tree(tmp_path / "img", {"a": 4, "b": 4})
    with open(os.path.join(root, "a", "001.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n broken")
    with open(os.path.join(root, "b", "bad.jpg"), "wb") as f:
        f.write(b"\xff\xd8\xff\xe0 truncated")
    for cache in (None, ""):
        ds = image_dataset_from_directory(root, image_size=(6, 8), batch_size=3, seed=1, verbose=False)
        if cache is not None:
            ds = ds.cache(cache)
        opens = OpenCounter(monkeypatch, root)
        with pytest.warns(UserWarning, match="skipping unreadable image"):
            first = list(ds)
        assert opens.count == 9
        for one_pass in (first, list(ds)):
            x = np.concatenate([b[0] for b in one_pass])
            y = np.concatenate([b[1] for b in one_pass])
            assert len(x) == 7 and sum(len(b[0]) for b in one_pass) == 7
            keys = [tuple(v) for v in x[:, 0, 0, 1:].tolist()]
            assert len(set(keys)) == 7                         # no image twice
            np.testing.assert_array_equal((x[:, 0, 0, 1] // 40).astype(int), y)
        assert sorted(os.path.basename(p) for p in ds.skipped) == ["001.png", "bad.jpg"]
        assert len(ds.file_paths) == 9 and len(ds) == 3
        if cache is not None:
            assert opens.count == 9                            # the cache remembers them too
        monkeypatch.undo()
    it = ImageDataGenerator().flow_from_directory(root, target_size=(6, 8), batch_size=9,
                                                  cache="memory", seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            x, y = it[0]
            assert len(x) == 7 and len({tuple(v) for v in x[:, 0, 0, 1:].tolist()}) == 7
            it.on_epoch_end()
    assert it.samples == 9 and len(it.skipped) == 2 and it.cache_info["unreadable"] == 2


def test_image_cache_file_entries(tmp_path):
    from foveal.data import _cache
    path = str(tmp_path / "unit.cache")
    a = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    b = np.linspace(0, 1, 10, dtype=np.float32).reshape(5, 2, 1)
    c = _cache.ImageCache(3, path, key="k1", verbose=False)
    assert c.get(0) is None and not c.complete
    c.put(0, a)
    c.put(0, a + 1)                                   # an entry is written once
    np.testing.assert_array_equal(c.get(0), a)
    c.mark_bad(2)
    assert c.get(2) is _cache.BAD and not os.path.exists(path)   # written only when complete
    c.put(1, b)
    assert c.complete and os.path.exists(path)
    np.testing.assert_array_equal(c.get(1), b)
    assert [p for p in os.listdir(tmp_path)] == ["unit.cache"]
    again = _cache.ImageCache(3, path, key="k1", verbose=False)
    assert again.reused and again.complete and again.get(2) is _cache.BAD
    np.testing.assert_array_equal(again.get(0), a)
    assert again.get(1).dtype == np.float32 and again.get(1).shape == (5, 2, 1)
    other = _cache.ImageCache(3, path, key="k2", verbose=False)   # another key: rebuilt
    assert not other.reused and other.get(0) is None
    del other                                          # an unfinished build leaves no file behind
    import gc
    gc.collect()
    assert sorted(os.listdir(tmp_path)) == ["unit.cache"]


def test_abandoned_prefetch_stops_its_thread(tmp_path):
    import threading
    import time
    root = solid_tree(tmp_path, {"a": 8, "b": 8})
    ds = image_dataset_from_directory(root, image_size=(4, 4), batch_size=1, seed=0,
                                      verbose=False).prefetch(1)
    before = threading.active_count()
    it = iter(ds)
    next(it)
    it.close()                                         # the consumer goes away mid-pass
    deadline = time.monotonic() + 10
    while (any(t.name == "foveal-dataset-prefetch" for t in threading.enumerate())
           and time.monotonic() < deadline):
        time.sleep(0.05)
    assert not any(t.name == "foveal-dataset-prefetch" for t in threading.enumerate())
    assert threading.active_count() <= before
