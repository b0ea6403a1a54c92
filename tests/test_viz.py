"""foveal.viz: the figures hold what they promise (axes, titles, labels, legends, and the data
drawn equal to NumPy references), are saved atomically as PNG, and bad arguments are named."""
import os
import subprocess
import sys

import numpy as np
import pytest

pytest.importorskip("matplotlib")

import foveal.image as fi  # noqa: E402
from foveal import data, nn, utils, viz  # noqa: E402

HISTORY = {"loss": [1.2, 0.8, 0.5, 0.4], "accuracy": [0.4, 0.6, 0.8, 0.85],
           "val_loss": [1.3, 0.9, 0.7, 0.65], "val_accuracy": [0.35, 0.55, 0.7, 0.75]}


def drawn(ax):
    """The array an Axes' (only) image shows."""
    assert len(ax.images) == 1
    return np.asarray(ax.images[0].get_array())


def assert_png(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"
    img = fi.read(path)
    assert img.ndim == 3 and img.std() > 5
    assert not [f for f in os.listdir(os.path.dirname(path)) if f.startswith(".tmp_")]


def conv_model(seed=0, size=10, channels=3, filters=4):
    utils.set_random_seed(seed)
    model = nn.Sequential([nn.Input((size, size, channels)),
                           nn.Conv2D(filters, 3, padding="same", activation="relu", name="c1"),
                           nn.MaxPooling2D(name="pool"),
                           nn.Flatten(name="flat"), nn.Dense(2, activation="softmax", name="out")])
    return model


# ---- plot_history -----------------------------------------------------------------------------
def test_plot_history_panels_labels_legends_and_data():
    fig = viz.plot_history(HISTORY)
    assert len(fig.axes) == 2
    assert fig._suptitle.get_text() == "Training history"
    for ax, name in zip(fig.axes, ("loss", "accuracy")):
        assert ax.get_title() == name and ax.get_xlabel() == "epoch" and ax.get_ylabel() == name
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training", "validation"]
        train, val = ax.get_lines()
        assert list(train.get_xdata()) == [1, 2, 3, 4] and list(val.get_xdata()) == [1, 2, 3, 4]
        assert list(train.get_ydata()) == HISTORY[name]
        assert list(val.get_ydata()) == HISTORY[f"val_{name}"]


def test_plot_history_of_a_fit_uses_its_epochs():
    x = np.random.default_rng(0).random((24, 10, 10, 3), dtype=np.float32)
    y = np.arange(24) % 2
    model = conv_model()
    model.compile("adam", "sparse_categorical_crossentropy", ["accuracy"])
    model.fit(x, y, epochs=2, verbose=0)
    history = model.fit(x, y, epochs=5, initial_epoch=2, validation_split=0.25, verbose=0)
    fig = viz.plot_history(history, metrics="accuracy")
    (ax,) = fig.axes
    train, val = ax.get_lines()
    assert list(train.get_xdata()) == [3, 4, 5]               # epochs counted from 1, as Keras prints
    assert list(train.get_ydata()) == history.history["accuracy"]
    assert list(val.get_ydata()) == history.history["val_accuracy"]


def test_plot_history_without_validation_and_selected_metrics():
    fig = viz.plot_history({"loss": [3.0, 2.0], "mae": [1.0, 0.5]}, metrics=["mae"])
    (ax,) = fig.axes
    assert ax.get_title() == "mae" and len(ax.get_lines()) == 1
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["training"]
    assert len(viz.plot_history({"loss": [1.0], "a": [1.0], "b": [2.0], "c": [3.0]}).axes) == 4


def test_plot_history_bad_arguments():
    with pytest.raises(TypeError, match="history"):
        viz.plot_history([1.0, 2.0])
    with pytest.raises(ValueError, match="history is empty"):
        viz.plot_history({})
    with pytest.raises(ValueError, match="metrics.*'f1'.*not in the history"):
        viz.plot_history(HISTORY, metrics=["loss", "f1"])
    with pytest.raises(TypeError, match="metrics"):
        viz.plot_history(HISTORY, metrics=[1])
    with pytest.raises(TypeError, match=r"history\['loss'\]"):
        viz.plot_history({"loss": ["a"]})
    with pytest.raises(TypeError, match="path"):
        viz.plot_history(HISTORY, path=3)


def test_saved_atomically_as_png(tmp_path):
    out = tmp_path / "curves.png"
    fig = viz.plot_history(HISTORY, path=out)
    assert_png(str(out))
    width, height = fig.canvas.get_width_height()
    assert fi.read(out).shape[:2] == (height, width)
    with pytest.raises(FileNotFoundError, match="path"):
        viz.plot_history(HISTORY, path=tmp_path / "missing" / "c.png")


# ---- show_images ------------------------------------------------------------------------------
def test_show_images_titles_grid_and_pixels(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 6, 7, 3), dtype=np.uint8)
    fig = viz.show_images(images, np.eye(3)[np.arange(10) % 3], class_names=["a", "b", "c"], cols=4,
                          path=tmp_path / "grid.png")
    assert len(fig.axes) == 10
    assert [ax.get_title() for ax in fig.axes] == ["a", "b", "c"] * 3 + ["a"]
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 4)
    for ax, img in zip(fig.axes, images):
        assert np.array_equal(drawn(ax), img)                   # uint8 drawn as is
        assert list(ax.get_xticks()) == [] and list(ax.get_yticks()) == []
    assert_png(str(tmp_path / "grid.png"))


def test_show_images_gray_floats_and_string_labels():
    x = np.linspace(0, 1, 2 * 5 * 5).reshape(2, 5, 5)
    fig = viz.show_images(x, ["left", "right"])
    assert [ax.get_title() for ax in fig.axes] == ["left", "right"]
    assert fig.axes[0].images[0].get_cmap().name == "gray"
    np.testing.assert_array_equal(drawn(fig.axes[1]), x[1])      # 0..1 floats as they are
    fig = viz.show_images([x[0] * 255.0, np.full((3, 4, 1), -2.0), np.arange(12.0).reshape(3, 4) - 5])
    np.testing.assert_allclose(drawn(fig.axes[0]), x[0])         # 0..255 floats: / 255
    assert np.all(drawn(fig.axes[1]) == 0.0)                     # flat: no division by zero
    ref = np.arange(12.0).reshape(3, 4) / 11.0                   # signed: min-max scaled
    np.testing.assert_allclose(drawn(fig.axes[2]), ref)
    assert [ax.get_title() for ax in viz.show_images(x, [3, 7]).axes] == ["3", "7"]


def test_show_images_bad_arguments():
    x = np.zeros((3, 4, 4, 3), np.uint8)
    with pytest.raises(ValueError, match="labels.*one label per image"):
        viz.show_images(x, [0, 1])
    with pytest.raises(ValueError, match="labels: class index 5"):
        viz.show_images(x, [0, 1, 5], class_names=["a", "b"])
    with pytest.raises(TypeError, match="class_names"):
        viz.show_images(x, [0, 1, 1], class_names="ab")
    with pytest.raises(ValueError, match="cols"):
        viz.show_images(x, cols=0)
    with pytest.raises(ValueError, match="images.*N x H x W"):
        viz.show_images(np.zeros((4, 4)))
    with pytest.raises(TypeError, match="images"):
        viz.show_images("pictures/")
    with pytest.raises(ValueError, match="images.*at least one"):
        viz.show_images([])
    with pytest.raises(ValueError, match="images: each image"):
        viz.show_images(np.zeros((2, 4, 4, 2)))


# ---- show_filters -----------------------------------------------------------------------------
def test_show_filters_draws_each_kernel_on_one_scale():
    model = conv_model(filters=5)
    layer = model.layers[0]
    kernel = np.random.default_rng(2).normal(size=(3, 3, 3, 5)).astype(np.float32)
    layer.set_weights([kernel, np.zeros(5, np.float32)])
    k64 = kernel.astype(np.float64)
    ref = (k64 - k64.min()) / (k64.max() - k64.min())
    for fig in (viz.show_filters(layer), viz.show_filters(model)):   # a model: its first conv
        assert len(fig.axes) == 5
        assert [ax.get_title() for ax in fig.axes] == ["0", "1", "2", "3", "4"]
        assert fig._suptitle.get_text() == "c1: 5 filters 3x3 (RGB)"
        for k, ax in enumerate(fig.axes):
            np.testing.assert_allclose(drawn(ax), ref[..., k], rtol=0, atol=1e-12)


def test_show_filters_gray_and_many_channels():
    gray = conv_model(channels=1, filters=3)
    fig = viz.show_filters(gray.layers[0])
    k = gray.layers[0].get_weights()[0].astype(np.float64)
    ref = (k - k.min()) / (k.max() - k.min())
    np.testing.assert_allclose(drawn(fig.axes[2]), ref[:, :, 0, 2], atol=1e-12)
    assert fig.axes[0].images[0].get_cmap().name == "gray"
    wide = conv_model(channels=5, filters=2)
    fig = viz.show_filters(wide.layers[0])
    k = wide.layers[0].get_weights()[0].astype(np.float64)
    ref = ((k - k.min()) / (k.max() - k.min())).mean(axis=2)
    np.testing.assert_allclose(drawn(fig.axes[1]), ref[:, :, 1], atol=1e-12)
    assert "mean of 5 input channels" in fig._suptitle.get_text()


def test_show_filters_bad_arguments():
    model = conv_model()
    with pytest.raises(ValueError, match="layer: 'out' has no 4-D kernel"):
        viz.show_filters(model.get_layer("out"))
    with pytest.raises(TypeError, match="layer"):
        viz.show_filters(np.zeros((3, 3, 3, 4)))
    dense_only = nn.Sequential([nn.Input((4,)), nn.Dense(2)])
    with pytest.raises(ValueError, match="layer: the model has no convolution"):
        viz.show_filters(dense_only)


# ---- show_feature_maps ------------------------------------------------------------------------
def conv_same_relu(x, kernel, bias):
    """NumPy float64 reference: 3x3 'same' convolution (cross-correlation) + bias + ReLU."""
    h, w, _ = x.shape
    p = np.pad(x.astype(np.float64), ((1, 1), (1, 1), (0, 0)))
    out = np.zeros((h, w, kernel.shape[3])) + bias
    for i in range(3):
        for j in range(3):
            out += p[i:i + h, j:j + w] @ kernel[i, j].astype(np.float64)
    return np.maximum(out, 0.0)


def test_show_feature_maps_equal_a_numpy_reference():
    model = conv_model(filters=6)
    image = np.random.default_rng(3).random((10, 10, 3)).astype(np.float32)
    kernel, bias = model.layers[0].get_weights()
    maps = conv_same_relu(image, kernel, bias)
    for layer in ("c1", model.layers[0]):
        fig = viz.show_feature_maps(model, image, layer)
        assert len(fig.axes) == 7
        assert [ax.get_title() for ax in fig.axes] == ["input"] + [str(k) for k in range(6)]
        assert fig._suptitle.get_text() == "c1: 6 feature maps of 10x10"
        np.testing.assert_allclose(drawn(fig.axes[0]), image)
        for k in range(6):
            m = maps[..., k]
            ref = (m - m.min()) / (m.max() - m.min()) if m.max() > m.min() else np.zeros_like(m)
            np.testing.assert_allclose(drawn(fig.axes[k + 1]), ref, atol=1e-5)
    pooled = viz.show_feature_maps(model, image[None], "pool")      # a batch of one works too
    assert pooled._suptitle.get_text() == "pool: 6 feature maps of 5x5"
    pooled_ref = maps.reshape(5, 2, 5, 2, 6).max(axis=(1, 3))[..., 2]
    pooled_ref = (pooled_ref - pooled_ref.min()) / (pooled_ref.max() - pooled_ref.min())
    np.testing.assert_allclose(drawn(pooled.axes[3]), pooled_ref, atol=1e-5)


def test_show_feature_maps_of_a_functional_model_and_many_channels():
    x = nn.Input((8, 8, 3))
    a = nn.Conv2D(70, 3, padding="same", name="wide")(x)
    b = nn.Conv2D(70, 1, name="side")(x)
    y = nn.Dense(2)(nn.Flatten()(nn.Add(name="sum")([a, b])))
    model = nn.Model(x, y)
    image = np.random.default_rng(4).random((8, 8, 3)).astype(np.float32)
    fig = viz.show_feature_maps(model, image, "sum")
    assert len(fig.axes) == 1 + 64
    assert fig._suptitle.get_text() == "sum: 70 feature maps of 8x8, first 64 shown"
    ref = (model.get_layer("wide")(image[None]) + model.get_layer("side")(image[None]))[0, ..., 63]
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    np.testing.assert_allclose(drawn(fig.axes[64]), ref, atol=1e-5)


def test_show_feature_maps_bad_arguments():
    model = conv_model()
    image = np.zeros((10, 10, 3), np.float32)
    with pytest.raises(ValueError, match="layer: no layer named 'nope'"):
        viz.show_feature_maps(model, image, "nope")
    with pytest.raises(ValueError, match="layer:.*not a layer of this model"):
        viz.show_feature_maps(model, image, conv_model().layers[0])
    with pytest.raises(ValueError, match="layer: 'out' gives shape"):
        viz.show_feature_maps(model, image, "out")
    with pytest.raises(ValueError, match="image must be one"):
        viz.show_feature_maps(model, np.zeros((2, 10, 10, 3)), "c1")
    with pytest.raises(TypeError, match="model"):
        viz.show_feature_maps("model.onnx", image, "c1")


# ---- show_augmentations -----------------------------------------------------------------------
def test_show_augmentations_with_a_generator(tmp_path):
    rng = np.random.default_rng(5)
    images = rng.integers(0, 256, (3, 8, 9, 3), dtype=np.uint8)
    utils.set_random_seed(0)
    fig = viz.show_augmentations(data.ImageDataGenerator(horizontal_flip=True), images, samples=8,
                                 path=tmp_path / "aug.png")
    assert len(fig.axes) == 3 * 9
    assert fig.axes[0].get_subplotspec().get_geometry()[:2] == (3, 9)
    assert [ax.get_title() for ax in fig.axes[:9]] == ["original"] + [f"augmented {k}" for k in range(1, 9)]
    assert all(ax.get_title() == "" for ax in fig.axes[9:])
    flipped = 0
    for r in range(3):
        assert np.array_equal(drawn(fig.axes[9 * r]), images[r])
        for c in range(1, 9):
            tile = drawn(fig.axes[9 * r + c])
            assert np.array_equal(tile, images[r]) or np.array_equal(tile, images[r][:, ::-1])
            flipped += np.array_equal(tile, images[r][:, ::-1]) and not np.array_equal(tile, images[r])
    assert 0 < flipped < 24                                     # random: some flipped, some not
    assert_png(str(tmp_path / "aug.png"))


def test_show_augmentations_with_callables_and_layers():
    images = np.random.default_rng(6).random((2, 6, 6, 3)).astype(np.float32)
    calls = []

    class Shift:
        def __call__(self, x, training=False):
            calls.append(training)
            return np.roll(x, 1, axis=2)

    fig = viz.show_augmentations([Shift(), lambda x: x * 2.0], images, samples=2)
    assert calls == [True, True]                                # training=True where accepted
    np.testing.assert_allclose(drawn(fig.axes[4]), np.clip(np.roll(images, 1, 2)[1] * 2, 0, 1))
    flip = nn.RandomFlip("horizontal", seed=1)                  # foveal's own preprocessing layer
    fig = viz.show_augmentations(flip, images * 255, samples=6)
    assert len(fig.axes) == 14
    for r in range(2):
        ref = np.rint(images[r] * 255).astype(np.uint8)
        for c in range(1, 7):
            tile = drawn(fig.axes[7 * r + c])
            assert np.array_equal(tile, ref) or np.array_equal(tile, ref[:, ::-1])


def test_show_augmentations_with_keras_layers():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras")
    images = np.random.default_rng(7).integers(0, 256, (2, 8, 8, 3)).astype(np.uint8)
    layers = [keras.layers.RandomFlip("horizontal", seed=1), keras.layers.RandomRotation(0.0)]
    fig = viz.show_augmentations(layers, images, samples=4)
    assert len(fig.axes) == 10
    for c in range(1, 5):
        tile = drawn(fig.axes[c])
        assert np.array_equal(tile, images[0]) or np.array_equal(tile, images[0][:, ::-1])


def test_show_augmentations_bad_arguments():
    images = np.zeros((2, 4, 4, 3), np.uint8)
    with pytest.raises(TypeError, match="generator_or_layers"):
        viz.show_augmentations(42, images)
    with pytest.raises(TypeError, match="generator_or_layers"):
        viz.show_augmentations([], images)
    with pytest.raises(ValueError, match="samples"):
        viz.show_augmentations([lambda x: x], images, samples=0)
    with pytest.raises(ValueError, match="images must be equally sized"):
        viz.show_augmentations([lambda x: x], [images[0], images[0][:2]])
    with pytest.raises(ValueError, match="generator_or_layers returned shape"):
        viz.show_augmentations([lambda x: x[:1]], images)


# ---- import cost and backend ------------------------------------------------------------------
def test_import_foveal_leaves_matplotlib_unloaded_and_figures_need_no_display(tmp_path):
    code = ("import sys, foveal\n"
            "assert 'matplotlib' not in sys.modules, 'import foveal loaded matplotlib'\n"
            "fig = foveal.viz.plot_history({'loss': [1.0, 0.5]}, path=sys.argv[1])\n"
            "from matplotlib.backends.backend_agg import FigureCanvasAgg\n"
            "assert isinstance(fig.canvas, FigureCanvasAgg)\n"
            "assert 'matplotlib.pyplot' not in sys.modules\n")
    env = dict(os.environ)
    env.pop("DISPLAY", None)
    env.pop("MPLBACKEND", None)
    if "ASAN_OPTIONS" in env:
        # Under tests/sanitizer_run.py, LeakSanitizer's tracer faulted (SIGSEGV in StopTheWorld,
        # then abort) at this child's exit in two fresh-clone CI runs, first run and rerun, but
        # not when run by hand. The child runs no foveal kernel and starts no foveal thread (it
        # checks matplotlib's import and backend), so its leak check is off; AddressSanitizer's
        # memory checks stay on.
        env["ASAN_OPTIONS"] += ":detect_leaks=0"
    res = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c.png")], capture_output=True,
                         text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    assert_png(str(tmp_path / "c.png"))


def test_with_pyplot_in_use_figures_belong_to_it():
    code = ("import matplotlib\n"
            "matplotlib.use('Agg')\n"
            "import matplotlib.pyplot as plt\n"
            "import numpy as np, foveal\n"
            "fig = foveal.viz.show_images(np.zeros((2, 4, 4, 3), np.uint8))\n"
            "assert plt.get_fignums() == [fig.number], plt.get_fignums()\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
