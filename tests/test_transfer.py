"""foveal.transfer: ONNX backbones as feature extractors and as a frozen first layer.

* A PyTorch ResNet-18-style model: recorded (tests/fixtures/transfer_resnet.*, written by
  tests/fixtures/make_transfer_fixtures.py; always runs) and live where torch is installed.
* foveal's own models exported with ``export_onnx`` (NHWC) as backbones: no torch needed.
* Tiny hand-built ONNX graphs that expose the model's input tensor, to check the pixel
  conventions, layouts, resizing and fixed batch sizes numerically.
"""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")

import foveal  # noqa: E402
from fixtures import make_transfer_fixtures as mtf  # noqa: E402
from foveal import image, nn, transfer  # noqa: E402
from foveal.data import ImageDataGenerator  # noqa: E402
from foveal.transfer import OnnxBackbone  # noqa: E402

TOL = 1e-4
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
CAFFE_BGR = np.array([103.939, 116.779, 123.68])


# ----------------------------------------------------------------------------- helpers
def input_model(path, layout="NCHW", size=(4, 5), channels=3, batch="N", pooled=False):
    """An ONNX model whose features are its input: ``input -> Flatten -> "features" -> MatMul``
    (or, with ``pooled``, the spatial mean per channel, for dynamic sizes). ``size`` entries
    may be strings (dynamic); ``batch`` an int (fixed batch axis)."""
    h = onnx.helper
    f32 = onnx.TensorProto.FLOAT
    dims = [batch, channels, *size] if layout == "NCHW" else [batch, *size, channels]
    if pooled:
        axes = [2, 3] if layout == "NCHW" else [1, 2]
        feat = h.make_node("ReduceMean", ["input"], ["features"], axes=axes, keepdims=0)
        d = channels
    else:
        feat = h.make_node("Flatten", ["input"], ["features"], axis=1)
        d = channels * size[0] * size[1]
    w = onnx.numpy_helper.from_array(np.ones((d, 2), np.float32), "W")
    graph = h.make_graph([feat, h.make_node("MatMul", ["features", "W"], ["logits"])], "probe",
                         [h.make_tensor_value_info("input", f32, dims)],
                         [h.make_tensor_value_info("logits", f32, [batch, 2])], [w])
    model = h.make_model(graph, opset_imports=[h.make_opsetid("", 17)])
    onnx.save(model, str(path))
    return str(path)


def seeded_images(n, hgt=4, wid=5, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, hgt, wid, c), dtype=np.uint8)


def small_cnn(shape=(16, 16, 3), classes=3, seed=0):
    """A seeded foveal CNN ending in GlobalAveragePooling2D -> Dense (the classifier)."""
    foveal.utils.set_random_seed(seed)
    return nn.Sequential([nn.Input(shape), nn.Conv2D(6, 3, activation="relu"), nn.MaxPooling2D(),
                          nn.BatchNormalization(), nn.Conv2D(8, 3, padding="same"),
                          nn.GlobalAveragePooling2D(), nn.Dense(classes, activation="softmax")])


def penultimate(model, x):
    for layer in model.layers[:-1]:
        x = layer(x)
    return x


@pytest.fixture
def cnn_backbone(tmp_path):
    model = small_cnn()
    path = str(tmp_path / "cnn.onnx")
    model.export_onnx(path)
    return model, path


class CountingSession:
    """Wraps an onnxruntime session: counts ``run`` calls and the images fed."""

    def __init__(self, session):
        self.session, self.calls, self.images = session, 0, 0

    def run(self, outputs, feeds):
        self.calls += 1
        self.images += len(next(iter(feeds.values())))
        return self.session.run(outputs, feeds)


class CountingEngine(CountingSession):
    """Wraps a backbone's native engine (foveal's kernels): counts ``run`` calls and images."""

    def __init__(self, engine):
        super().__init__(engine)
        self.preprocessor, self.from_model_layout = engine.preprocessor, engine.from_model_layout

    def run(self, x):
        self.calls += 1
        self.images += len(x)
        return self.session.run(x)


def count_runs(backbone):
    """Counts the model runs of a backbone, whichever engine runs it."""
    if backbone._native is not None:
        backbone._native = CountingEngine(backbone._native)
        return backbone._native
    backbone._session = CountingSession(backbone._session)
    return backbone._session


# ----------------------------------------------------------------------------- torch models
def test_recorded_torch_resnet_features():
    rec = np.load(mtf.NPZ_FIXTURE)
    bb = OnnxBackbone(mtf.ONNX_FIXTURE)
    assert (bb.layout, bb.channels, bb.input_size) == ("NCHW", 3, (mtf.SIZE, mtf.SIZE))
    assert bb.feature_dim == rec["features"].shape[1] == mtf.WIDTHS[-1]
    for x in (rec["images"], rec["images"].astype(np.float32)):
        out = bb.extract(x, verbose=0)
        assert out.dtype == np.float32 and out.shape == rec["features"].shape
        np.testing.assert_allclose(out, rec["features"], rtol=TOL, atol=TOL)
    logits = OnnxBackbone(mtf.ONNX_FIXTURE, output="output").extract(rec["images"], verbose=0)
    np.testing.assert_allclose(logits, rec["logits"], rtol=TOL, atol=TOL)


def test_live_torch_resnet_features(tmp_path):
    torch = pytest.importorskip("torch", reason="torch is not installed (optional)")
    net = mtf.resnet18_like(torch, seed=7)
    path = transfer.export_torch(net, tmp_path / "r.onnx", (mtf.SIZE, mtf.SIZE))
    imgs = mtf.images(n=5, seed=7)
    feats, _ = mtf.torch_outputs(torch, net, imgs)
    out = OnnxBackbone(path, batch_size=2).extract(imgs, verbose=0)
    np.testing.assert_allclose(out, feats, rtol=TOL, atol=TOL)


def test_export_torchvision_needs_a_known_name_and_torchvision(tmp_path):
    with pytest.raises(ValueError, match="resnet18"):
        transfer.export_torchvision("resnet1000", tmp_path / "x.onnx")
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install"):
            transfer.export_torchvision("resnet18", tmp_path / "x.onnx")
        return
    path = transfer.export_torchvision("resnet18", tmp_path / "r18.onnx", weights=None)
    assert OnnxBackbone(path).feature_dim == 512


# ----------------------------------------------------------------------------- foveal models
def test_foveal_model_backbone_matches_penultimate_layer(cnn_backbone):
    model, path = cnn_backbone
    bb = OnnxBackbone(path, preprocess="none", batch_size=8)
    assert (bb.layout, bb.input_size, bb.feature_dim) == ("NHWC", (16, 16), 8)
    x = np.random.default_rng(1).random((37, 16, 16, 3), dtype=np.float32) * 255
    np.testing.assert_allclose(bb.extract(x, verbose=0), penultimate(model, x), rtol=TOL,
                               atol=TOL * 255)
    probs = OnnxBackbone(path, output="output", preprocess="none").extract(x, verbose=0)
    np.testing.assert_allclose(probs, model.predict(x, verbose=0), rtol=TOL, atol=TOL)


def test_resize_to_the_model_size(cnn_backbone):
    _, path = cnn_backbone
    bb = OnnxBackbone(path, preprocess="none")
    x = seeded_images(4, 40, 30)
    np.testing.assert_allclose(bb.extract(x, verbose=0),
                               bb.extract(image.resize(x, (16, 16), "bilinear"), verbose=0),
                               rtol=1e-6, atol=1e-6)


def test_dynamic_size_model_uses_input_size_or_keeps_the_size(tmp_path):
    path = input_model(tmp_path / "dyn.onnx", size=("H", "W"), pooled=True)
    x = seeded_images(3, 9, 7)
    kept = OnnxBackbone(path, preprocess="none").extract(x, verbose=0)
    np.testing.assert_allclose(kept, x.mean(axis=(1, 2)), rtol=1e-5)
    sized = OnnxBackbone(path, preprocess="none", input_size=(4, 4)).extract(x, verbose=0)
    np.testing.assert_allclose(sized, image.resize(x, (4, 4)).mean(axis=(1, 2)), rtol=1e-5)


# ----------------------------------------------------------------------------- conventions
def reference(x, convention):
    x = x.astype(np.float64)
    if convention == "torch":
        return (x / 255 - MEAN) / STD
    if convention == "caffe":
        return x[..., ::-1] - CAFFE_BGR
    if convention == "tf":
        return x / 127.5 - 1
    return x


@pytest.mark.parametrize("convention", ["torch", "caffe", "tf", "none"])
@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_pixel_conventions_and_layouts(tmp_path, convention, layout):
    path = input_model(tmp_path / "probe.onnx", layout)
    bb = OnnxBackbone(path, preprocess=convention)
    assert bb.layout == layout and bb.output == "features"
    x = seeded_images(5)
    got = bb.extract(x, verbose=0).reshape((5, 3, 4, 5) if layout == "NCHW" else (5, 4, 5, 3))
    if layout == "NCHW":
        got = got.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(got, reference(x, convention), rtol=1e-5, atol=1e-5)


def test_callable_preprocess_gets_nhwc_float_pixels(tmp_path):
    path = input_model(tmp_path / "probe.onnx", "NCHW")
    seen = []

    def halve(batch):
        seen.append((batch.shape, batch.dtype))
        return batch / 2

    x = seeded_images(3)
    got = OnnxBackbone(path, preprocess=halve).extract(x, verbose=0)
    assert seen == [((3, 4, 5, 3), np.float32)]
    np.testing.assert_allclose(got.reshape(3, 3, 4, 5), x.transpose(0, 3, 1, 2) / 2)


def test_gray_and_rgba_inputs_become_rgb(tmp_path):
    bb = OnnxBackbone(input_model(tmp_path / "probe.onnx"), preprocess="none")
    rgb = seeded_images(2)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:3] + (1,), 9, np.uint8)], axis=-1)
    np.testing.assert_array_equal(bb.extract(rgba, verbose=0), bb.extract(rgb, verbose=0))
    gray = rgb[..., :1]
    np.testing.assert_array_equal(bb.extract(gray, verbose=0),
                                  bb.extract(np.repeat(gray, 3, axis=-1), verbose=0))


def test_fixed_batch_axis_runs_padded_batches(tmp_path):
    bb = OnnxBackbone(input_model(tmp_path / "b2.onnx", batch=2), preprocess="none", batch_size=5,
                      engine="onnxruntime")   # onnxruntime's runs of the fixed batch
    runs = count_runs(bb)
    x = seeded_images(5)
    got = bb.extract(x, verbose=0)
    np.testing.assert_array_equal(got.reshape(5, 3, 4, 5), x.transpose(0, 3, 1, 2))
    assert runs.calls == 3 and runs.images == 6


def test_float_pixels_in_unit_range_warn(tmp_path):
    bb = OnnxBackbone(input_model(tmp_path / "probe.onnx"))
    with pytest.warns(RuntimeWarning, match="0..255"):
        bb.extract(seeded_images(2) / 255.0, verbose=0)


# ----------------------------------------------------------------------------- iterators, folders
def write_folder(root, x, labels, names=("cat", "dog")):
    for i, (img, lab) in enumerate(zip(x, labels)):
        folder = root / names[lab]
        folder.mkdir(parents=True, exist_ok=True)
        image.write(str(folder / f"img{i:02d}.png"), img)


def test_iterator_input_uses_x_batches_once(cnn_backbone, capsys):
    _, path = cnn_backbone
    bb = OnnxBackbone(path, batch_size=4)
    x = seeded_images(10, 16, 16)
    it = ImageDataGenerator().flow(x, np.arange(10), batch_size=3, shuffle=False)
    np.testing.assert_allclose(bb.extract(it, verbose=1), bb.extract(x, verbose=0), rtol=1e-6,
                               atol=1e-6)
    assert "Extract" in capsys.readouterr().out   # the progress bar, on stdout as fit's


def test_directory_matches_arrays_with_labels_and_names(cnn_backbone, tmp_path):
    _, path = cnn_backbone
    bb = OnnxBackbone(path, batch_size=4)
    x, labels = seeded_images(9, 16, 16), np.array([0, 1, 1, 0, 1, 0, 0, 1, 1])
    write_folder(tmp_path / "photos", x, labels)
    (tmp_path / "photos" / "dog" / "broken.png").write_bytes(b"not a png")
    with pytest.warns(UserWarning, match="unreadable"):
        res = bb.extract_directory(tmp_path / "photos", verbose=0)
    order = np.concatenate([np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)])
    np.testing.assert_allclose(res.features, bb.extract(x[order], verbose=0), rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(res.labels, labels[order])
    assert res.class_names == ["cat", "dog"]
    assert res.filenames == [f"{['cat', 'dog'][labels[i]]}/img{i:02d}.png" for i in order]
    assert [os.path.basename(p) for p in res.skipped] == ["broken.png"]
    flat = tmp_path / "flat"
    flat.mkdir()
    for i in range(3):
        image.write(str(flat / f"{i}.png"), x[i])
    res = bb.extract_directory(flat, verbose=0)
    assert res.filenames == ["0.png", "1.png", "2.png"] and res.class_names == []
    np.testing.assert_array_equal(res.labels, [-1, -1, -1])
    np.testing.assert_allclose(bb.extract(str(flat), verbose=0), res.features)


def test_extract_command_writes_npz(cnn_backbone, tmp_path, capsys):
    _, path = cnn_backbone
    x, labels = seeded_images(5, 20, 20), np.array([0, 1, 0, 1, 1])
    write_folder(tmp_path / "photos", x, labels)
    out = tmp_path / "feats.npz"
    assert transfer.extract_command(path, tmp_path / "photos", out, batch_size=2, verbose=0) == 0
    with np.load(out) as z:
        assert z["features"].shape == (5, 8) and z["features"].dtype == np.float32
        np.testing.assert_array_equal(z["labels"], [0, 0, 1, 1, 1])
        assert list(z["class_names"]) == ["cat", "dog"] and z["filenames"][0] == "cat/img00.png"
        assert str(z["preprocess"]) == "torch" and str(z["backbone_path"]) == path
    assert sorted(os.listdir(tmp_path)) == ["cnn.onnx", "feats.npz", "photos"]   # no temp files
    umask = os.umask(0)
    os.umask(umask)
    assert os.stat(out).st_mode & 0o777 == 0o666 & ~umask   # as open() makes it, not mkstemp's
    assert transfer.extract_command(tmp_path / "nope.onnx", tmp_path, out, verbose=0) == 1
    assert "nope.onnx" in capsys.readouterr().err


# ----------------------------------------------------------------------------- as a layer
def stripes(rng, n, angles, size=16):
    """Oriented stripes (angle +- 10 degrees, random frequency, phase and colours, noise)."""
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    labels = rng.integers(0, len(angles), n)
    out = np.empty((n, size, size, 3), np.float32)
    for i, lab in enumerate(labels):
        a = np.deg2rad(angles[lab] + rng.uniform(-10, 10))
        wave = np.sin(rng.uniform(0.6, 1.2) * (xx * np.cos(a) + yy * np.sin(a))
                      + rng.uniform(0, 2 * np.pi))
        dark, light = rng.uniform(0, 100, 3), rng.uniform(155, 255, 3)
        img = (wave[..., None] + 1) / 2 * (dark - light) + light
        out[i] = np.clip(img + rng.normal(0, 20, img.shape), 0, 255)
    return out, labels


def orientation_backbone(path):
    """A "pretrained" backbone: 5x5 Gabor filters at 0, 45, 90, 135 degrees (even and odd),
    ReLU, global average pooling: orientation energies; then a classifier."""
    r = np.arange(5) - 2
    yy, xx = np.meshgrid(r, r, indexing="ij")
    kernel = np.zeros((5, 5, 3, 8), np.float32)
    for j, angle in enumerate(np.deg2rad([0, 45, 90, 135])):
        u = xx * np.cos(angle) + yy * np.sin(angle)
        for p, wave in enumerate((np.cos, np.sin)):
            g = np.exp(-(xx ** 2 + yy ** 2) / 8) * wave(0.9 * u)
            kernel[:, :, :, 2 * j + p] = ((g - g.mean()) / (3 * 255))[:, :, None]
    conv = nn.Conv2D(8, 5, activation="relu")
    model = nn.Sequential([nn.Input((16, 16, 3)), conv, nn.GlobalAveragePooling2D(), nn.Dense(4)])
    conv.set_weights([kernel, np.zeros(8, np.float32)])
    model.export_onnx(path)
    return path


def test_head_on_backbone_features_beats_training_from_scratch(tmp_path):
    rng = np.random.default_rng(0)
    x_train, y_train = stripes(rng, 10, [0, 90])
    x_test, y_test = stripes(rng, 200, [0, 90])
    bb = OnnxBackbone(orientation_backbone(str(tmp_path / "gabor.onnx")), preprocess="none")

    def accuracy(first_layers, seed):
        foveal.utils.set_random_seed(seed)
        model = nn.Sequential([nn.Input((16, 16, 3)), *first_layers(),
                               nn.Dense(2, activation="softmax")])
        model.compile(nn.optimizers.Adam(0.05), "sparse_categorical_crossentropy", ["accuracy"])
        model.fit(x_train, y_train, batch_size=10, epochs=30, verbose=0)
        return model.evaluate(x_test, y_test, verbose=0)[1]

    seeds = (0, 1, 2)
    transferred = np.mean([accuracy(lambda: [bb.as_layer()], s) for s in seeds])
    scratch = np.mean([accuracy(lambda: [nn.Rescaling(1 / 255), nn.Conv2D(8, 5, activation="relu"),
                                         nn.GlobalAveragePooling2D()], s) for s in seeds])
    assert transferred >= 0.9, transferred
    assert transferred >= scratch + 0.2, (transferred, scratch)


def test_as_layer_trains_only_the_head_and_runs_each_image_once(cnn_backbone):
    _, path = cnn_backbone
    bb = OnnxBackbone(path, batch_size=8)
    layer = bb.as_layer()
    model = nn.Sequential([nn.Input((16, 16, 3)), layer, nn.Dense(2, activation="softmax")])
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    assert layer.weights == [] and not layer.trainable and layer.compute_output_shape(
        (None, 16, 16, 3)) == (None, 8)
    assert model.trainable_weights == model.layers[1].trainable_weights
    steps, _ = model._graph.backward_plan()
    assert [s[0] for s in steps] == [model.layers[1]] and steps[0][4] is False   # no dx asked
    x, y = seeded_images(20, 16, 16), np.arange(20) % 2
    runs = count_runs(bb)
    before = model.get_weights()
    model.fit(x, y, batch_size=6, epochs=4, verbose=0)
    assert runs.images == 20, "each image runs through the backbone once over four epochs"
    assert any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    model.fit(ImageDataGenerator().flow(x, y, batch_size=6, seed=1), epochs=2, verbose=0)
    assert runs.images == 20, "an unaugmented iterator's images are the same images"
    info = layer.cache_info()
    assert (info.misses, info.currsize) == (20, 20) and info.hits == 20 * 6 - 20
    with pytest.raises(NotImplementedError, match="first"):
        layer.backward(np.zeros((2, 8), np.float32), need_dx=True)
    no_input = nn.Sequential([bb.as_layer(), nn.Dense(2, "softmax")])   # built by the first data
    no_input.compile("sgd", "sparse_categorical_crossentropy")
    no_input.fit(x, y, epochs=1, verbose=0)
    assert no_input.output_shape == (None, 2)
    with pytest.raises(ValueError, match="frozen"):
        layer.trainable = True


def test_cache_is_bounded(cnn_backbone):
    _, path = cnn_backbone
    layer = OnnxBackbone(path).as_layer(cache_mb=4 * (4 * 8 + 200) / 2**20)   # room for 4 rows
    x = seeded_images(12, 16, 16)
    first = layer(x)
    second = layer(x)
    info = layer.cache_info()
    # LRU: the second pass finds the last 4 images of the first, and runs the other 8 again
    assert (info.maxsize, info.currsize, info.hits, info.misses) == (4, 4, 4, 20)
    np.testing.assert_array_equal(first, second)


def test_saved_model_stores_the_backbone_path_and_checksum(cnn_backbone, tmp_path):
    _, path = cnn_backbone
    model = nn.Sequential([nn.Input((16, 16, 3)), OnnxBackbone(path).as_layer(),
                           nn.Dense(2, activation="softmax")])
    model.compile("sgd", "sparse_categorical_crossentropy")
    x = seeded_images(4, 16, 16)
    saved = str(tmp_path / "model.fov")
    model.save(saved)
    np.testing.assert_array_equal(nn.load_model(saved).predict(x, verbose=0),
                                  model.predict(x, verbose=0))
    small_cnn(seed=5).export_onnx(path)   # the backbone file changes
    with pytest.raises(ValueError, match="changed"):
        nn.load_model(saved)
    with pytest.raises(NotImplementedError, match="callable"):
        OnnxBackbone(path, preprocess=lambda b: b).as_layer().get_config()


# ----------------------------------------------------------------------------- bad input
def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="missing.onnx"):
        OnnxBackbone(tmp_path / "missing.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x08\x01garbage that is not a protobuf \xff\xfe")
    with pytest.raises(ValueError, match="junk.onnx"):
        OnnxBackbone(junk)
    text = tmp_path / "text.onnx"
    text.write_text("hello")
    with pytest.raises(ValueError, match="text.onnx"):
        OnnxBackbone(text)


def test_bad_arguments(cnn_backbone, tmp_path):
    _, path = cnn_backbone
    with pytest.raises(ValueError, match="global_average_pooling2d"):
        OnnxBackbone(path, output="no_such_tensor")
    with pytest.raises(ValueError, match="input_size"):
        OnnxBackbone(path, input_size=(20, 20))
    with pytest.raises(ValueError, match="preprocess"):
        OnnxBackbone(path, preprocess="keras")
    bb = OnnxBackbone(path)
    with pytest.raises(ValueError, match="batch axis"):
        bb.extract(seeded_images(1, 16, 16)[0], verbose=0)
    with pytest.raises(ValueError, match="channels"):
        bb.extract(np.zeros((2, 16, 16, 2), np.uint8), verbose=0)
    with pytest.raises(ValueError, match="empty"):
        bb.extract(np.zeros((0, 16, 16, 3), np.uint8), verbose=0)
    with pytest.raises(FileNotFoundError, match="folder"):
        bb.extract(str(tmp_path / "nowhere"), verbose=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        bb.extract(str(tmp_path / "empty"), verbose=0)


def test_bad_models(tmp_path):
    gray = input_model(tmp_path / "gray.onnx", channels=1)
    with pytest.raises(ValueError, match="RGB"):
        OnnxBackbone(gray, preprocess="torch")
    assert OnnxBackbone(gray, preprocess="tf").channels == 1
    dyn = input_model(tmp_path / "dyn.onnx", size=("H", "W"), pooled=True)
    with pytest.raises(ValueError, match="input_size"):
        OnnxBackbone(dyn).extract_directory(tmp_path)
    h = onnx.helper
    f32 = onnx.TensorProto.FLOAT
    no_classifier = h.make_model(h.make_graph(
        [h.make_node("Relu", ["input"], ["y"])], "g",
        [h.make_tensor_value_info("input", f32, ["N", 3, 4, 4])],
        [h.make_tensor_value_info("y", f32, ["N", 3, 4, 4])]), opset_imports=[h.make_opsetid("", 17)])
    onnx.save(no_classifier, str(tmp_path / "nc.onnx"))
    # no classifier: its output is a spatial map, averaged (tests/test_transfer_headless.py)
    assert OnnxBackbone(tmp_path / "nc.onnx").feature_dim == 3
    assert OnnxBackbone(tmp_path / "nc.onnx", output="y").feature_dim == 48
    two_outputs = h.make_model(h.make_graph(
        [h.make_node("Relu", ["input"], ["y"]), h.make_node("Neg", ["input"], ["z"])], "g",
        [h.make_tensor_value_info("input", f32, ["N", 3, 4, 4])],
        [h.make_tensor_value_info(n, f32, ["N", 3, 4, 4]) for n in "yz"]),
        opset_imports=[h.make_opsetid("", 17)])
    onnx.save(two_outputs, str(tmp_path / "two_out.onnx"))
    with pytest.raises(ValueError, match="Gemm/MatMul.*2 graph outputs.*: z, y"):
        OnnxBackbone(tmp_path / "two_out.onnx")
    assert OnnxBackbone(tmp_path / "two_out.onnx", output="z").feature_dim == 48
    two_inputs = h.make_model(h.make_graph(
        [h.make_node("Add", ["a", "b"], ["y"])], "g",
        [h.make_tensor_value_info(n, f32, ["N", 3, 4, 4]) for n in "ab"],
        [h.make_tensor_value_info("y", f32, ["N", 3, 4, 4])]), opset_imports=[h.make_opsetid("", 17)])
    onnx.save(two_inputs, str(tmp_path / "two.onnx"))
    with pytest.raises(ValueError, match="2 inputs"):
        OnnxBackbone(tmp_path / "two.onnx", output="y")
    flat = h.make_model(h.make_graph(
        [h.make_node("Relu", ["input"], ["y"])], "g",
        [h.make_tensor_value_info("input", f32, ["N", 48])],
        [h.make_tensor_value_info("y", f32, ["N", 48])]), opset_imports=[h.make_opsetid("", 17)])
    onnx.save(flat, str(tmp_path / "flat.onnx"))
    with pytest.raises(ValueError, match="rank 2"):
        OnnxBackbone(tmp_path / "flat.onnx", output="y")
