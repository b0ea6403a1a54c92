"""foveal.data.DirectoryIterator (``flow_from_directory``): Keras parity on a recorded tree
(listing order, labels of every class mode, subsets, pixels), unreadable files, indexing
without opening images, seeds and prefetching, JPEG draft decoding, argument validation, and
training a foveal.nn model on the iterators."""
import os
import warnings

import numpy as np
import pytest
from PIL import Image

import foveal.nn as nn
from fixtures import make_keras_data_fixtures as mkf
from foveal.data import DirectoryIterator, ImageDataGenerator, _decode

META, ARR = mkf.load()


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    root = tmp_path_factory.mktemp("keras_tree")
    mkf.make_tree(str(root))
    return str(root)


def flow(root, gen=None, **kwargs):
    gen = gen if gen is not None else ImageDataGenerator()
    return gen.flow_from_directory(root, **kwargs)


def all_batches(it):
    return [it[i] for i in range(len(it))]


def write(path, value, size=(6, 8), mode="RGB"):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    arr = np.full(size + ((3,) if mode == "RGB" else ()), value, np.uint8)
    Image.fromarray(arr).save(path)


def class_tree(root, counts, size=(6, 8)):
    """``counts = {"a": 3, ...}``: class folders of solid images, class k filled with 40 k + 20."""
    for k, (name, n) in enumerate(sorted(counts.items())):
        for i in range(n):
            write(os.path.join(root, name, f"{i:03d}.png"), 40 * k + 20, size)
    return root


# ---------------------------------------------------------------------------------------------
# Keras parity, recorded


def _kwargs(case):
    kwargs = dict(mkf.DIR_CASES[case])
    return ImageDataGenerator(validation_split=kwargs.pop("_split", 0.0)), kwargs


@pytest.mark.parametrize("case", list(mkf.DIR_CASES))
def test_listing_and_pixels_match_keras(tree, case):
    ref = META["dir"][case]
    gen, kwargs = _kwargs(case)
    it = flow(tree, gen, target_size=mkf.TARGET, batch_size=4, shuffle=False, class_mode=None, **kwargs)
    assert it.class_indices == ref["class_indices"]
    assert it.filenames == ref["filenames"]
    assert it.classes.tolist() == ref["classes"] and it.classes.dtype == np.int32
    assert it.samples == it.n == ref["samples"] and len(it) == ref["len"]
    assert list(it.image_shape) == ref["image_shape"] and it.num_classes == len(ref["class_indices"])
    assert it.filepaths == [os.path.join(tree, f) for f in it.filenames]
    batches = all_batches(it)
    assert [list(b.shape) for b in batches] == ref["x_shapes"]
    assert str(batches[0].dtype) == ref["x_dtype"]
    x, kx = np.concatenate(batches), ARR[f"dir_{case}__x"]
    # JPEGs that shrink 2x or more are decoded at reduced size (Pillow's draft): not compared.
    lossless = [i for i, f in enumerate(it.filenames) if f.lower().endswith(mkf.LOSSLESS)]
    assert len(lossless) >= len(it.filenames) // 2
    for i in lossless:
        if case == "aspect" and it.filenames[i] in ("cat/z.png", "zebra/s.png"):
            # Keras resizes the crop through Pillow's box=, whose nearest rounding breaks an
            # exact tie (the 4 -> 6 rows of these crops) the other way: most rows agree.
            same = np.all(x[i] == kx[i], axis=(1, 2))
            assert same.sum() >= len(same) // 2, it.filenames[i]
            continue
        np.testing.assert_array_equal(x[i], kx[i], err_msg=it.filenames[i])


@pytest.mark.parametrize("mode", mkf.CLASS_MODES)
@pytest.mark.parametrize("case", ["rgb", "classes", "train", "val"])
def test_labels_match_keras(tree, case, mode):
    gen, kwargs = _kwargs(case)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # binary with more than two classes warns
        it = flow(tree, gen, target_size=mkf.TARGET, batch_size=4, shuffle=False, class_mode=mode, **kwargs)
    batches = all_batches(it)
    if mode is None:
        assert all(isinstance(b, np.ndarray) for b in batches)
        return
    y = np.concatenate([b[1] for b in batches])
    ref = ARR[f"dir_{case}__y_{mode}"]
    assert y.dtype == ref.dtype and y.shape == ref.shape
    if mode == "input":
        for xb, yb in batches:
            np.testing.assert_array_equal(xb, yb)
            assert xb is not yb
    else:
        np.testing.assert_array_equal(y, ref)


def test_binary_with_more_classes_warns(tree):
    with pytest.warns(UserWarning, match="binary"):
        flow(tree, target_size=mkf.TARGET, class_mode="binary")


# ---------------------------------------------------------------------------------------------
# Listing details


def test_walk_order_extensions_and_subsets(tmp_path):
    root = str(tmp_path)
    for rel in ["c/z.png", "c/sub/a.png", "c/A.JPEG", "c/b.Tiff", "c/skip.gif", "c/noext",
                "c/xpng", "c/sub/deep/k.bmp", "d/one.ppm", "d/two.jpg", "d/three.png"]:
        os.makedirs(os.path.join(root, os.path.dirname(rel)), exist_ok=True)
        open(os.path.join(root, rel), "wb").close()  # never opened by indexing
    os.makedirs(os.path.join(root, "empty"))
    open(os.path.join(root, "not_a_class.png"), "wb").close()
    it = flow(root, target_size=(4, 4))
    assert it.class_indices == {"c": 0, "d": 1, "empty": 2}
    assert it.filenames == ["c/A.JPEG", "c/b.Tiff", "c/z.png", "c/sub/a.png", "c/sub/deep/k.bmp",
                            "d/one.ppm", "d/three.png", "d/two.jpg"]
    gen = ImageDataGenerator(validation_split=0.4)
    val = flow(root, gen, target_size=(4, 4), subset="validation")
    train = flow(root, gen, target_size=(4, 4), subset="training")
    assert val.filenames == ["c/A.JPEG", "c/b.Tiff", "d/one.ppm"]  # int(0.4 * 5), int(0.4 * 3)
    assert train.filenames == ["c/z.png", "c/sub/a.png", "c/sub/deep/k.bmp", "d/three.png", "d/two.jpg"]
    assert train.classes.tolist() == [0, 0, 0, 1, 1]
    picked = flow(root, target_size=(4, 4), classes=["d", "empty"])
    assert picked.class_indices == {"d": 0, "empty": 1} and picked.samples == 3


def test_indexing_never_opens_an_image(tmp_path, monkeypatch):
    n_per_class = 1500  # (100,000 files index in about 0.15 s; speed is bench_data's business)
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        for i in range(n_per_class):
            os.close(os.open(folder / f"{i:05d}.jpg", os.O_CREAT | os.O_WRONLY, 0o644))

    def no_open(*args, **kwargs):
        raise AssertionError("indexing opened an image")

    monkeypatch.setattr(Image, "open", no_open)
    it = flow(str(tmp_path), target_size=(8, 8), batch_size=64)
    assert it.samples == 2 * n_per_class and len(it) == -(-2 * n_per_class // 64)
    assert it.filenames[n_per_class] == "b/00000.jpg"


# ---------------------------------------------------------------------------------------------
# Unreadable files


def test_unreadable_files_are_skipped_with_one_warning(tmp_path):
    root = class_tree(str(tmp_path), {"a": 4, "b": 3})
    with open(os.path.join(root, "a", "bad.png"), "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n this is not a png")
    good = os.path.join(root, "b", "000.png")
    with open(os.path.join(root, "a", "trunc.jpg"), "wb") as f:
        Image.fromarray(np.full((32, 32, 3), 99, np.uint8)).save(f, format="JPEG")
    with open(os.path.join(root, "a", "trunc.jpg"), "r+b") as f:
        f.truncate(200)
    it = flow(root, target_size=(6, 8), batch_size=3, shuffle=False)
    assert it.samples == 9 and it.skipped == []  # indexing does not look inside files
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        batches = all_batches(it)
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1 and "iterator.skipped" in messages[0]
    assert sorted(it.skipped) == [os.path.join(root, "a", "bad.png"), os.path.join(root, "a", "trunc.jpg")]
    # The listing (a/000..003, a/bad.png, a/trunc.jpg, b/000..002) keeps both files; each is
    # left out of its batch, which comes out shorter: nothing takes its place.
    assert it.samples == 9 and len(it) == 3 and len(it.filenames) == 9
    assert [len(b[0]) for b in batches] == [3, 1, 3]
    x = np.concatenate([b[0] for b in batches])
    y = np.concatenate([b[1] for b in batches]).argmax(axis=1)
    np.testing.assert_array_equal(y, [0, 0, 0, 0, 1, 1, 1])
    np.testing.assert_array_equal(x[:, 0, 0, 0], np.where(y == 0, 20, 60))
    np.testing.assert_array_equal(batches[2][0][0], Image.open(good).convert("RGB"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        it.on_epoch_end()
        all_batches(it)
    assert not [w for w in caught if "unreadable" in str(w.message)]  # known files: no new warning
    strict = flow(root, target_size=(6, 8), batch_size=3, shuffle=False, on_error="raise")
    strict[0]
    with pytest.raises(ValueError, match="bad.png"):
        strict[1]


def test_file_removed_after_indexing(tmp_path):
    root = class_tree(str(tmp_path), {"a": 2, "b": 2})
    it = flow(root, target_size=(6, 8), batch_size=4, shuffle=False)
    strict = flow(root, target_size=(6, 8), batch_size=4, shuffle=False, on_error="raise")
    os.remove(os.path.join(root, "a", "001.png"))
    with pytest.warns(UserWarning, match="001.png"):
        x, y = it[0]
    assert len(x) == 3 and it.skipped == [os.path.join(root, "a", "001.png")]
    np.testing.assert_array_equal(y.argmax(axis=1), [0, 1, 1])   # a/000, b/000, b/001
    with pytest.raises(FileNotFoundError, match="001.png"):
        strict[0]


def test_no_readable_file_at_all(tmp_path):
    os.makedirs(tmp_path / "a")
    (tmp_path / "a" / "x.png").write_bytes(b"garbage")
    it = flow(str(tmp_path), target_size=(4, 4))
    with pytest.warns(UserWarning, match="x.png"):
        x, y = it[0]
    assert x.shape == (0, 4, 4, 3) and y.shape == (0, 1) and len(it.skipped) == 1


def test_no_readable_file_in_a_larger_folder(tmp_path):
    # Batches whose files are all unreadable come out empty (whatever the prefetching has met);
    # fit and evaluate raise after a pass with no sample: nothing trains on no data.
    os.makedirs(tmp_path / "a")
    for i in range(3):
        (tmp_path / "a" / f"{i}.png").write_bytes(b"garbage")
    it = flow(str(tmp_path), target_size=(4, 4), batch_size=1, shuffle=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(2):
            for i in range(3):
                x, y = it[i]
                assert x.shape == (0, 4, 4, 3) and y.shape == (0, 1)
        model = nn.Sequential([nn.Input((4, 4, 3)), nn.Flatten(), nn.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy")
        before = [w.copy() for w in model.get_weights()]
        for call in (model.fit, model.evaluate):
            with pytest.raises(ValueError, match="every batch was empty"):
                call(flow(str(tmp_path), target_size=(4, 4), batch_size=1, shuffle=False),
                     verbose=0)
        for a, b in zip(model.get_weights(), before):
            np.testing.assert_array_equal(a, b)
        out = model.predict(flow(str(tmp_path), target_size=(4, 4), batch_size=2, shuffle=False),
                            verbose=0)
        assert out.shape == (0, 1)


# Four readable images of distinct random pixels and one corrupt file, listed as
# a/000, a/001, a/002, b/000, b/001 (classes 0, 0, 0, 1, 1); ``bad_at`` is the corrupt one.
LISTING = ["a/000.png", "a/001.png", "a/002.png", "b/000.png", "b/001.png"]
CLASS_OF = [0, 0, 0, 1, 1]


def readable_and_corrupt(root, bad_at=1):
    """Writes the tree; returns ``{listing index: image}`` of the readable files and the
    corrupt file's path."""
    rng = np.random.default_rng(7)
    images = {}
    for k, name in enumerate(LISTING):
        path = os.path.join(root, *name.split("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if k == bad_at:
            with open(path, "wb") as f:
                f.write(b"\x89PNG\r\n\x1a\n not a png after all")
        else:
            images[k] = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            Image.fromarray(images[k]).save(path)
    return images, os.path.join(root, *LISTING[bad_at].split("/"))


def which(x, images):
    """The listing index of each image of batch ``x``, by pixel identity."""
    found = []
    for row in x:
        hits = [k for k, img in images.items() if np.array_equal(row, img)]
        assert len(hits) == 1, "a batch image matches no file (or several)"
        found.append(hits[0])
    return found


def expected_batches(order, batch_size, bad):
    """Batch i: the files of ``order[i * batch_size:(i + 1) * batch_size]`` less the bad one."""
    return [[int(j) for j in order[i:i + batch_size] if j != bad]
            for i in range(0, len(order), batch_size)]


@pytest.mark.parametrize("class_mode", ["categorical", "binary", "sparse", "input", None])
@pytest.mark.parametrize("shuffle", [False, True])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 32])
def test_unreadable_file_is_left_out_never_replaced(tmp_path, batch_size, shuffle, class_mode):
    images, bad = readable_and_corrupt(str(tmp_path), bad_at=1)
    it = flow(str(tmp_path), target_size=(6, 8), batch_size=batch_size, shuffle=shuffle, seed=5,
              class_mode=class_mode)
    assert it.samples == 5 and len(it) == -(-5 // batch_size) and it.filenames == LISTING
    orders = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for epoch in range(4):
            order = it.index_array.copy()
            orders.append(order)
            if epoch < 2:   # indexing, then a new epoch by hand (as fit does)
                batches = [it[i] for i in range(len(it))]
                it.on_epoch_end()
            else:           # next(): starts the next epoch after the last batch itself
                batches = [next(it) for _ in range(len(it))]
            assert len(batches) == len(it)
            delivered = []
            for batch, want in zip(batches, expected_batches(order, batch_size, 1)):
                if class_mode is None:
                    assert isinstance(batch, np.ndarray)
                    x = batch
                else:
                    x, y = batch
                rows = which(x, images)
                assert rows == want   # shorter where the file was; nothing moved up to fill it
                assert x.shape == (len(rows), 6, 8, 3) and x.dtype == np.float32
                labels = [CLASS_OF[k] for k in rows]
                if class_mode == "categorical":
                    assert y.shape == (len(rows), 2) and y.dtype == np.float32
                    np.testing.assert_array_equal(y, np.eye(2, dtype=np.float32)[labels])
                elif class_mode in ("binary", "sparse"):
                    assert y.shape == (len(rows),)
                    np.testing.assert_array_equal(y, labels)
                elif class_mode == "input":
                    np.testing.assert_array_equal(y, x)
                delivered += rows
            assert sorted(delivered) == [0, 2, 3, 4]   # every readable image, once, per epoch
    messages = [str(w.message) for w in caught if "unreadable" in str(w.message)]
    assert len(messages) == 1 and bad in messages[0]   # once, across all the epochs
    assert it.skipped == [bad] and it.samples == 5 and it.classes.tolist() == CLASS_OF
    if shuffle:
        assert len({tuple(o) for o in orders}) > 1   # the epochs were really reshuffled


@pytest.mark.parametrize("bad_at", [0, 1, 4])
@pytest.mark.parametrize("batch_size", [1, 2, 3, 32])
def test_fit_evaluate_predict_with_an_unreadable_file(tmp_path, batch_size, bad_at):
    images, bad = readable_and_corrupt(str(tmp_path), bad_at)
    readable = sorted(images)
    x_read = np.stack([images[k] for k in readable]).astype(np.float32)
    y_read = np.eye(2, dtype=np.float32)[[CLASS_OF[k] for k in readable]]
    # The batches the contract promises, as slices of x_read (shuffle=False: listing order).
    parts = [[readable.index(k) for k in want]
             for want in expected_batches(np.arange(5), batch_size, bad_at)]

    def make():
        m = nn.Sequential([nn.Input((6, 8, 3)), nn.Conv2D(2, 3, activation="relu"), nn.Flatten(),
                           nn.Dense(2, activation="softmax")])
        m.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
        return m

    model, ref = make(), make()
    ref.set_weights(model.get_weights())

    def it(class_mode="categorical"):
        return flow(str(tmp_path), target_size=(6, 8), batch_size=batch_size, shuffle=False,
                    class_mode=class_mode)

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "skipping unreadable")
        # predict: one row per readable image, in order; a batch of no image gives no row.
        want = np.concatenate([model.predict_on_batch(x_read[p]) for p in parts if p])
        for class_mode in ("categorical", None):
            p = model.predict(it(class_mode), verbose=0)
            assert p.shape == (4, 2)
            np.testing.assert_array_equal(p, want)
        # evaluate: the means over the four readable images with their own labels.
        got = model.evaluate(it(), verbose=0, return_dict=True)
        arrays = model.evaluate(x_read, y_read, batch_size=4, verbose=0, return_dict=True)
        np.testing.assert_allclose(got["loss"], arrays["loss"], rtol=1e-6)
        assert got["accuracy"] == arrays["accuracy"]
        # fit: each batch of images read is one step; a batch of none is a step without an
        # update (the callbacks still count it, with no NaN loss).
        steps = []
        record = nn.callbacks.LambdaCallback(
            on_train_batch_end=lambda b, logs: steps.append((b, dict(logs or {}))))
        history = model.fit(it(), epochs=2, verbose=0,
                            callbacks=[nn.callbacks.TerminateOnNaN(), record])
    for _ in range(2):
        for p in parts:
            if p:
                ref.train_on_batch(x_read[p], y_read[p])
    for w, r in zip(model.get_weights(), ref.get_weights()):
        np.testing.assert_array_equal(w, r)
    assert [b for b, _ in steps] == list(range(len(parts))) * 2
    assert all(np.isfinite(logs["loss"]) for _, logs in steps if "loss" in logs)
    assert len(history.history["loss"]) == 2 and np.all(np.isfinite(history.history["loss"]))
    assert model.predict_on_batch(np.zeros((0, 6, 8, 3), np.float32)).shape == (0, 2)


def test_stop_training_on_an_empty_step(tmp_path):
    # The first batch (batch_size=1) is the unreadable file: a callback stopping training
    # there stops it before any update.
    readable_and_corrupt(str(tmp_path), bad_at=0)
    it = flow(str(tmp_path), target_size=(6, 8), batch_size=1, shuffle=False)
    model = nn.Sequential([nn.Input((6, 8, 3)), nn.Flatten(), nn.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy")
    before = model.get_weights()

    def stop(batch, logs):
        assert batch == 0 and logs == {}
        model.stop_training = True

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "skipping unreadable")
        model.fit(it, epochs=3, verbose=0,
                  callbacks=[nn.callbacks.LambdaCallback(on_train_batch_end=stop)])
    for w, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(w, b)


def test_empty_directory(tmp_path):
    it = flow(str(tmp_path), target_size=(4, 4))
    assert it.samples == 0 and len(it) == 0 and it.num_classes == 0 and it.classes.shape == (0,)
    with pytest.raises(IndexError):
        it[0]
    with pytest.raises(ValueError, match="empty"):
        next(it)


# ---------------------------------------------------------------------------------------------
# Randomness, epochs, prefetching


def test_seeds_epochs_and_order_independence(tmp_path):
    root = class_tree(str(tmp_path), {"a": 5, "b": 6}, size=(10, 12))
    gen = ImageDataGenerator(rotation_range=40, zoom_range=0.2, horizontal_flip=True, rescale=1 / 255)
    a = flow(root, gen, target_size=(8, 8), batch_size=4, seed=11)
    b = flow(root, gen, target_size=(8, 8), batch_size=4, seed=11)
    forward = [a[i] for i in range(len(a))]               # sequential: prefetching kicks in
    backward = [b[i] for i in reversed(range(len(b)))][::-1]
    for (xa, ya), (xb, yb) in zip(forward, backward):
        np.testing.assert_array_equal(xa, xb)
        np.testing.assert_array_equal(ya, yb)
    other = flow(root, gen, target_size=(8, 8), batch_size=4, seed=12)
    assert not np.array_equal(other[0][0], forward[0][0])
    a.on_epoch_end()
    assert not np.array_equal(a[0][0], forward[0][0])
    # next(): forever, each epoch a permutation of all samples.
    it = flow(root, ImageDataGenerator(), target_size=(8, 8), batch_size=4, seed=3, class_mode="sparse")
    labels = [next(it)[1] for _ in range(3 * len(it))]
    per_epoch = [np.concatenate(labels[k:k + 3]) for k in (0, 3, 6)]
    assert all(sorted(e.tolist()) == [0.0] * 5 + [1.0] * 6 for e in per_epoch)
    orders = [it.index_array.copy()]
    it.on_epoch_end()
    orders.append(it.index_array.copy())
    assert sorted(orders[0]) == sorted(orders[1]) and not np.array_equal(*orders)


def test_validation_subset_is_standardized_not_augmented(tmp_path):
    rng = np.random.default_rng(0)
    for cls in ("a", "b"):
        for i in range(4):
            os.makedirs(tmp_path / cls, exist_ok=True)
            Image.fromarray(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)).save(tmp_path / cls / f"{i}.png")
    aug = ImageDataGenerator(rotation_range=90, horizontal_flip=True, vertical_flip=True,
                             rescale=1 / 255, validation_split=0.5)
    plain = ImageDataGenerator(rescale=1 / 255, validation_split=0.5)
    kw = dict(target_size=(8, 8), batch_size=8, shuffle=False, seed=0)
    val = flow(str(tmp_path), aug, subset="validation", **kw)[0][0]
    np.testing.assert_array_equal(val, flow(str(tmp_path), plain, subset="validation", **kw)[0][0])
    assert val.max() <= 1.0
    train = flow(str(tmp_path), aug, subset="training", **kw)[0][0]
    assert not np.array_equal(train, flow(str(tmp_path), plain, subset="training", **kw)[0][0])


def test_generator_normalization_applies_per_image(tmp_path):
    root = class_tree(str(tmp_path), {"a": 2, "b": 2})
    gen = ImageDataGenerator(samplewise_center=True, featurewise_center=True)
    gen.mean = np.full((1, 1, 3), 1.0, np.float32)
    x, _ = flow(root, gen, target_size=(6, 8), batch_size=4, shuffle=False)[0]
    np.testing.assert_allclose(x, -1.0)  # each solid image centered, then the fitted mean
    raw = DirectoryIterator(root, None, target_size=(6, 8), shuffle=False)[0][0]
    assert raw.dtype == np.float32 and raw[0, 0, 0, 0] == 20.0


@pytest.mark.parametrize("interpolation,size", [("nearest", (9, 7)), ("bilinear", (9, 7)),
                                                ("nearest", (12, 10))])
def test_rescale_while_decoding_is_the_same_float32_product(tmp_path, interpolation, size):
    """Without augmentation or preprocessing_function, rescale is applied as the pixels become
    float in the decoding threads (resized slots after resizing): the same numbers as rescaling
    the decoded batch, bit for bit; with augmentation it stays after the transform."""
    rng = np.random.default_rng(3)
    for k in range(5):
        os.makedirs(tmp_path / "c", exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / "c" / f"{k}.png")
    kw = dict(target_size=size, batch_size=5, shuffle=False, interpolation=interpolation)
    raw = flow(str(tmp_path), ImageDataGenerator(), **kw)[0][0]
    scaled = flow(str(tmp_path), ImageDataGenerator(rescale=1 / 255), **kw)[0][0]
    np.testing.assert_array_equal(scaled, raw * np.float32(1 / 255))
    aug = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True, validation_split=0.4)
    it = flow(str(tmp_path), aug, **kw)
    assert it._decode_scale() is None                       # augmented: rescale after the flips
    val = flow(str(tmp_path), aug, subset="validation", **kw)
    assert val._decode_scale() == pytest.approx(1 / 255)    # not augmented: while decoding
    assert flow(str(tmp_path), ImageDataGenerator(rescale=2.0, preprocessing_function=lambda v: v + 1),
                **kw)._decode_scale() is None


# ---------------------------------------------------------------------------------------------
# Decoding and resizing


def test_jpeg_draft_when_shrinking(tmp_path, monkeypatch):
    from PIL import JpegImagePlugin

    yy, xx = np.mgrid[0:64, 0:96]
    smooth = np.stack([xx * 2, yy * 3, (xx + yy)], axis=-1).clip(0, 255).astype(np.uint8)
    os.makedirs(tmp_path / "a")
    Image.fromarray(smooth).save(tmp_path / "a" / "big.jpg", quality=95)
    calls = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        calls.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    monkeypatch.setattr("foveal.data._decode.use_simplejpeg", False)  # Pillow's path
    x = flow(str(tmp_path), target_size=(16, 24), interpolation="area", class_mode=None)[0]
    assert calls == [(24, 16)] and x.shape == (1, 16, 24, 3)
    if _decode._simplejpeg is not None:  # the fast path decodes the same pixels at 1/4
        monkeypatch.setattr("foveal.data._decode.use_simplejpeg", True)
        fast = flow(str(tmp_path), target_size=(16, 24), interpolation="area", class_mode=None)[0]
        np.testing.assert_array_equal(fast, x)
        monkeypatch.setattr("foveal.data._decode.use_simplejpeg", False)
    full = np.asarray(Image.open(tmp_path / "a" / "big.jpg").convert("RGB")).astype(np.float32)
    expect = full.reshape(16, 4, 24, 4, 3).mean(axis=(1, 3))
    assert np.abs(x[0] - expect).mean() < 3.0
    calls.clear()
    flow(str(tmp_path), target_size=(40, 60), class_mode=None)[0]  # less than 2x: full decode
    assert calls == []


@pytest.mark.parametrize("interpolation", ["nearest", "bilinear", "bicubic", "area", "box", "lanczos",
                                           "hamming"])
def test_interpolations_and_color_modes(tmp_path, interpolation):
    root = class_tree(str(tmp_path), {"a": 1}, size=(9, 7))
    for mode, channels in (("rgb", 3), ("rgba", 4), ("grayscale", 1)):
        it = flow(root, target_size=(5, 11), color_mode=mode, interpolation=interpolation, class_mode=None)
        x = it[0]
        assert it.image_shape == (5, 11, channels) and x.shape == (1, 5, 11, channels)
        np.testing.assert_allclose(x[..., :min(channels, 3)], 20.0, atol=0.5)  # a solid image stays solid
        if channels == 4:
            np.testing.assert_allclose(x[..., 3], 255.0, atol=0.5)


def test_keep_aspect_ratio_crops_the_centre(tmp_path):
    os.makedirs(tmp_path / "a")
    img = np.zeros((10, 30, 3), np.uint8)
    img[:, 10:20] = 200  # the centre third
    Image.fromarray(img).save(tmp_path / "a" / "wide.png")
    x = flow(str(tmp_path), target_size=(10, 10), keep_aspect_ratio=True, class_mode=None)[0]
    assert np.all(x == 200)
    x = flow(str(tmp_path), target_size=(10, 10), class_mode=None)[0]
    assert x.min() == 0 and x.max() == 200


# ---------------------------------------------------------------------------------------------
# Arguments


@pytest.mark.parametrize("kwargs,exc,name", [
    ({"target_size": 64}, ValueError, "target_size"),
    ({"target_size": (0, 8)}, ValueError, "target_size"),
    ({"target_size": (8, 8.5)}, ValueError, "target_size"),
    ({"color_mode": "bgr"}, ValueError, "color_mode"),
    ({"class_mode": "multi"}, ValueError, "class_mode"),
    ({"class_mode": True}, ValueError, "class_mode"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"shuffle": None}, TypeError, "shuffle"),
    ({"seed": -3}, ValueError, "seed"),
    ({"seed": "x"}, TypeError, "seed"),
    ({"subset": "test"}, ValueError, "subset"),
    ({"subset": "training"}, ValueError, "validation_split"),
    ({"interpolation": "cubic"}, ValueError, "interpolation"),
    ({"follow_links": "yes"}, TypeError, "follow_links"),
    ({"keep_aspect_ratio": 1}, TypeError, "keep_aspect_ratio"),
    ({"on_error": "ignore"}, ValueError, "on_error"),
    ({"classes": "a"}, TypeError, "classes"),
    ({"classes": ["a", 3]}, TypeError, "classes"),
    ({"classes": ["a", "nope"]}, FileNotFoundError, "nope"),
])
def test_bad_arguments(tmp_path, kwargs, exc, name):
    root = class_tree(str(tmp_path), {"a": 1})
    with pytest.raises(exc, match=name):
        flow(root, **kwargs)


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="directory"):
        flow(str(tmp_path / "nope"))
    with pytest.raises(TypeError, match="directory"):
        flow(3.5)


def test_bad_batch_index(tmp_path):
    it = flow(class_tree(str(tmp_path), {"a": 3}), target_size=(4, 4), batch_size=2)
    with pytest.raises(TypeError, match="integer"):
        it[0.5]
    with pytest.raises(IndexError, match="out of range"):
        it[2]


# ---------------------------------------------------------------------------------------------
# Training


def test_sequential_fit_on_directory_iterators(tmp_path):
    root = class_tree(str(tmp_path), {"cats": 6, "dogs": 6}, size=(12, 10))
    gen = ImageDataGenerator(rescale=1 / 255, horizontal_flip=True, rotation_range=10,
                             validation_split=0.25)
    train = flow(root, gen, target_size=(8, 8), batch_size=4, subset="training", seed=1)
    val = flow(root, gen, target_size=(8, 8), batch_size=4, subset="validation", seed=1)
    assert train.samples == 10 and val.samples == 2
    model = nn.Sequential([nn.Input((8, 8, 3)), nn.Conv2D(2, 3, activation="relu"), nn.Flatten(),
                           nn.Dense(2, activation="softmax")])
    model.compile("sgd", "categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(train, validation_data=val, epochs=1, verbose=0)
    for key in ("loss", "accuracy", "val_loss", "val_accuracy"):
        assert len(history.history[key]) == 1 and np.isfinite(history.history[key][0])
    assert train._epoch == 1  # fit told the iterator the epoch ended


def test_batches_written_with_streaming_stores_are_the_same(tree, monkeypatch):
    """decode_batch fills batches of at least _decode.STREAM_BYTES with streaming stores; with
    the threshold at 0 (every batch streamed) and out of reach (none), the batches are equal."""
    def batches(threshold):
        monkeypatch.setattr(_decode, "STREAM_BYTES", threshold)
        it = flow(tree, ImageDataGenerator(rescale=1 / 255), target_size=(21, 17), batch_size=5,
                  shuffle=False)
        return all_batches(it)
    streamed, plain = batches(0), batches(1 << 62)
    assert len(streamed) == len(plain) > 1
    for (xs, ys), (xp, yp) in zip(streamed, plain):
        np.testing.assert_array_equal(xs, xp)
        np.testing.assert_array_equal(ys, yp)
