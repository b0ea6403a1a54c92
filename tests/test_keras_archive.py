"""Keras 3 ``.keras`` archives, both ways (foveal.nn.load_model / Model.save).

* Recorded (always runs; needs h5py, no Keras): the archives in tests/fixtures/keras_archives,
  written by Keras 3.15.1 (tests/fixtures/make_keras_archive_fixtures.py), load into foveal and
  predict what Keras predicted (1e-5); foveal -> .keras -> foveal round trips; Lambda, custom and
  unknown classes are refused with a ValueError naming them, and nothing from the file runs.
* Live (only where Keras 3 is importable, torch backend): foveal's archives load in
  ``keras.saving.load_model`` with the same predictions, and fresh Keras archives load in foveal.
"""
import builtins
import io
import json
import marshal
import os
import pickle
import sys
import zipfile

import numpy as np
import pytest

import foveal.nn as nn
from foveal.nn import _keras_archive, _keras_config
from fixtures import make_keras_archive_fixtures as mk

pytest.importorskip("h5py", reason="h5py (the optional dependency of .keras archives) is not installed")
import h5py  # noqa: E402

FOLDER = mk.FOLDER
ATOL = 1e-5


def _archive(name):
    return os.path.join(FOLDER, name + ".keras")


@pytest.fixture(scope="module")
def recorded():
    return np.load(mk.PREDICTIONS)


def _config(path):
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("config.json"))


def _rewrite(src, dst, edit):
    """A copy of archive ``src`` at ``dst`` whose config.json went through ``edit``."""
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    edit(config)
    members["config.json"] = json.dumps(config).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    return str(dst)


def test_fixtures_present_and_small():
    names = [n + ".keras" for n in mk.LOADABLE + mk.REFUSED] + ["predictions.npz"]
    for n in names:
        assert os.path.isfile(os.path.join(FOLDER, n)), f"run {mk.__file__} to record {n}"
    assert sum(os.path.getsize(os.path.join(FOLDER, n)) for n in names) < 300 * 1024


@pytest.mark.parametrize("name", mk.LOADABLE)
def test_keras_archive_predicts_as_keras(name, recorded):
    model = nn.load_model(_archive(name))
    x, expected = recorded[name + "__x"], recorded[name + "__y"]
    got = model.predict(x, verbose=0)
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=0, atol=ATOL)
    assert not model.compiled


def test_sequential_layers_and_weight_layouts():
    model = nn.load_model(_archive("sequential_cnn"))
    assert isinstance(model, nn.Sequential) and model.name == "seq_cnn"
    assert [type(l).__name__ for l in model.layers] == [
        "Rescaling", "Conv2D", "BatchNormalization", "MaxPooling2D", "DepthwiseConv2D",
        "AveragePooling2D", "Flatten", "Dropout", "Dense"]
    with zipfile.ZipFile(_archive("sequential_cnn")) as zf, \
            h5py.File(io.BytesIO(zf.read("model.weights.h5")), "r") as h5:
        for layer, group in [(model.layers[1], "conv2d"), (model.layers[2], "batch_normalization"),
                             (model.layers[4], "depthwise_conv2d"), (model.layers[8], "dense")]:
            stored = h5[f"layers/{group}/vars"]
            assert len(stored) == len(layer.weights)
            for i, w in enumerate(layer.weights):   # gamma, beta, moving mean, moving variance...
                np.testing.assert_array_equal(w.value, stored[str(i)][()])
    assert model.layers[2].moving_variance.value.min() > 0.4   # the recorded statistics, not 1s
    assert model.layers[-1].activation == "softmax"


def test_functional_layers_and_nested_block():
    model = nn.load_model(_archive("functional"))
    by_name = {l.name: l for l in model.layers}
    assert by_name["gap_keep"].keepdims is True
    assert by_name["bil"].interpolation == "bilinear"
    assert by_name["pad"].padding == ((1, 0), (0, 1))
    assert by_name["up"].kernel.shape == (3, 3, 4, 4)        # Conv2DTranspose: kh kw out in
    assert by_name["sep"].pointwise_kernel.shape == (1, 1, 8, 8)
    assert by_name["stem_relu"].max_value == 6.0
    # the nested Sequential "block" is inlined: its Conv2D and BatchNormalization are layers here
    nested = [l for l in model.layers if l.name not in
              {e["name"] for e in _config(_archive("functional"))["config"]["layers"]}]
    assert [type(l).__name__ for l in nested] == ["Conv2D", "BatchNormalization"]


def test_keras_layer_order_matches_keras():
    """Keras names the weight groups by the order of model.layers (by depth, not creation);
    the writer's emulation gives the order Keras itself wrote in the fixture's config."""
    model = nn.load_model(_archive("branches"))
    order = [l.name for l in _keras_archive.keras_layer_order(model._graph)]
    assert order == [e["name"] for e in _config(_archive("branches"))["config"]["layers"]]
    assert order != [l.name for l in model.layers]   # the case is one where the orders differ


@pytest.mark.parametrize("name", mk.LOADABLE)
def test_round_trip_foveal_keras_foveal(name, recorded, tmp_path):
    model = nn.load_model(_archive(name))
    path = tmp_path / "copy.keras"
    model.save(str(path))
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "metadata.json", "model.weights.h5"]
    again = nn.load_model(str(path))
    assert type(again) is type(model)
    assert [(type(a).__name__, a.name) for a in again.layers] == [
        (type(b).__name__, b.name) for b in model.layers]
    for a, b in zip(again.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    x = recorded[name + "__x"]
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def _foveal_model():
    """A foveal-built functional model over most layer classes (random weights)."""
    rng = np.random.default_rng(5)
    x = nn.Input((10, 10, 4))
    a = nn.Rescaling(0.5, offset=0.25)(x)
    a = nn.Conv2D(8, 3, padding="same", groups=2, activation="silu")(a)
    a = nn.BatchNormalization()(a)
    b = nn.ReLU(negative_slope=0.1, threshold=0.05)(a)
    c = nn.DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=1)(b)      # 5 x 5
    # (not "same" with output_padding: Keras's torch backend warns that it then differs from
    # its other backends, and foveal follows the definition the others share)
    c = nn.Conv2DTranspose(8, 2, strides=2, padding="valid", output_padding=0)(c)     # 10 x 10
    d = nn.Multiply()([a, c])
    e = nn.Concatenate()([d, nn.SeparableConv2D(4, 3, padding="same", activation="tanh")(a)])
    e = nn.MaxPooling2D(3, strides=2, padding="same")(e)                              # 5 x 5
    e = nn.ZeroPadding2D(((0, 1), (0, 1)))(e)                                         # 6 x 6
    e = nn.UpSampling2D(2)(e)
    e = nn.Dropout(0.2)(e)
    e = nn.AveragePooling2D(2)(e)
    y = nn.Dense(3, activation="softmax")(nn.Flatten()(nn.GlobalMaxPooling2D(keepdims=True)(e)))
    model = nn.Model(x, y)
    model.set_weights([(rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path
                        else rng.standard_normal(w.shape) * 0.3).astype(np.float32)
                       for w in model.weights])
    return model, rng.standard_normal((2, 10, 10, 4)).astype(np.float32)


def test_round_trip_foveal_built_model(tmp_path):
    model, x = _foveal_model()
    model.save(str(tmp_path / "m.keras"))
    again = nn.load_model(str(tmp_path / "m.keras"))
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_other_suffixes_keep_foveal_format(tmp_path):
    model, x = _foveal_model()
    model.save(str(tmp_path / "m.foveal"))
    with zipfile.ZipFile(tmp_path / "m.foveal") as zf:
        assert json.loads(zf.read("metadata.json"))["format"] == "foveal.model"
        assert "model.weights.h5" not in zf.namelist()
    again = nn.load_model(str(tmp_path / "m.foveal"))
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_save_is_atomic_and_respects_overwrite(tmp_path):
    model, _ = _foveal_model()
    path = tmp_path / "m.keras"
    model.save(str(path))
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        model.save(str(path), overwrite=False)
    x = nn.Input((6, 6, 1))   # explicit padding (ONNX-style) has no Keras form
    bad = nn.Model(x, nn.Conv2D(2, 3, padding=((1, 0), (0, 1)), name="odd_pad")(x))
    with pytest.raises(ValueError, match="odd_pad.*explicit padding"):
        bad.save(str(path))
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m.keras"]   # no temporary file left behind


# ---- refusals: no code runs -------------------------------------------------------------


@pytest.fixture
def nothing_runs(monkeypatch, tmp_path):
    """Fail on anything that would turn file contents into code, and count built layers."""
    def forbidden(*args, **kwargs):
        raise AssertionError("code from the archive was about to run")
    for module, name in [(marshal, "loads"), (pickle, "loads"), (builtins, "exec"),
                         (builtins, "eval")]:
        monkeypatch.setattr(module, name, forbidden)
    built = []
    real = _keras_config.layer_from_keras
    monkeypatch.setattr(_keras_config, "layer_from_keras",
                        lambda *a, **k: built.append(a[0]["class_name"]) or real(*a, **k))
    monkeypatch.chdir(tmp_path)
    yield built
    assert not os.path.exists(tmp_path / mk.LAMBDA_MARKER)


def test_lambda_refused(nothing_runs):
    with pytest.raises(ValueError, match=r"'code' is a Lambda layer"):
        nn.load_model(_archive("lambda"))
    assert nothing_runs == []   # refused before any layer was built


def test_custom_class_refused(nothing_runs):
    with pytest.raises(ValueError, match=r"'scale' has class 'Scale'.*fixtures>Scale"):
        nn.load_model(_archive("custom"))
    assert nothing_runs == []


def _set_class(name, class_name=None, module=None):
    def edit(config):
        for entry in config["config"]["layers"]:
            if entry.get("name", entry["config"].get("name")) == name:
                if class_name is not None:
                    entry["class_name"] = class_name
                if module is not None:
                    entry["module"] = module
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set_class("short", class_name="FancyConv"), r"'short' has class 'FancyConv'"),
    (_set_class("short", module="my_package.layers"), r"'short'.*module 'my_package.layers'"),
    (_set_class("mix", class_name="Lambda"), r"'mix' is a Lambda layer"),
])
def test_unknown_or_foreign_class_refused(edit, message, nothing_runs, tmp_path):
    path = _rewrite(_archive("branches"), tmp_path / "edited.keras", edit)
    with pytest.raises(ValueError, match=message):
        nn.load_model(path)
    assert nothing_runs == []


def test_lambda_in_nested_model_refused(nothing_runs, tmp_path):
    def edit(config):
        block = next(e for e in config["config"]["layers"] if e["class_name"] == "Sequential")
        block["config"]["layers"][-1]["class_name"] = "Lambda"
    path = _rewrite(_archive("functional"), tmp_path / "edited.keras", edit)
    with pytest.raises(ValueError, match="is a Lambda layer"):
        nn.load_model(path)
    assert nothing_runs == []


def test_function_activation_and_subclassed_model_refused(nothing_runs, tmp_path):
    def activation(config):
        entry = config["config"]["layers"][-1]
        entry["config"]["activation"] = {"module": "my_module", "class_name": "function",
                                         "config": "my_act", "registered_name": "function"}
    with pytest.raises(ValueError, match="activation given as an object"):
        nn.load_model(_rewrite(_archive("branches"), tmp_path / "a.keras", activation))

    def subclassed(config):
        config.update(class_name="MyModel", module="my_module", registered_name="Custom>MyModel")
    with pytest.raises(ValueError, match="'MyModel'.*not a Keras Sequential or Functional"):
        nn.load_model(_rewrite(_archive("branches"), tmp_path / "b.keras", subclassed))
    assert nothing_runs == []


# ---- bad archives -----------------------------------------------------------------------


def test_missing_or_mismatched_weights(tmp_path):
    src = _archive("branches")
    with zipfile.ZipFile(src) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    buf = io.BytesIO(members["model.weights.h5"])
    with h5py.File(buf, "a") as h5:
        group = next(h5[f"layers/{g}/vars"] for g in h5["layers"]
                     if h5[f"layers/{g}/vars"].attrs.get("name") == "long2")
        del group["1"]   # long2's bias
    members["model.weights.h5"] = buf.getvalue()
    path = tmp_path / "broken.keras"
    with zipfile.ZipFile(path, "w") as zf:
        for n, data in members.items():
            zf.writestr(n, data)
    with pytest.raises(ValueError, match=r"layer 'long2' \(Conv2D\) has 2 weights, the archive 1"):
        nn.load_model(str(path))

    def wider(config):
        for entry in config["config"]["layers"]:
            if entry["name"] == "out":
                entry["config"]["units"] = 3
    with pytest.raises(ValueError, match="layer 'out' weight 'kernel' must have shape"):
        nn.load_model(_rewrite(src, tmp_path / "wider.keras", wider))


def test_without_h5py_a_clear_import_error(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="h5py"):
        nn.load_model(_archive("branches"))
    model, _ = _foveal_model()
    with pytest.raises(ImportError, match="h5py"):
        model.save(str(tmp_path / "m.keras"))
    assert not os.path.exists(tmp_path / "m.keras")
    with pytest.raises(ValueError, match="Lambda"):   # refusal first, whatever is installed
        nn.load_model(_archive("lambda"))


# ---- live, against Keras itself ----------------------------------------------------------


@pytest.fixture(scope="module")
def keras():
    os.environ.setdefault("KERAS_BACKEND", "torch")
    keras = pytest.importorskip("keras", reason="Keras 3 is not installed (live checks)")
    if not keras.__version__.startswith("3."):
        pytest.skip(f"Keras 3 needed, found {keras.__version__}")
    return keras


def test_live_foveal_archive_loads_in_keras(keras, recorded, tmp_path):
    cases = [(nn.load_model(_archive(n)), recorded[n + "__x"]) for n in mk.LOADABLE]
    cases.append(_foveal_model())
    for i, (model, x) in enumerate(cases):
        path = str(tmp_path / f"m{i}.keras")
        model.save(path)
        theirs = keras.saving.load_model(path)
        np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)),
                                   model.predict(x, verbose=0), rtol=0, atol=ATOL)


def test_live_keras_archive_loads_in_foveal(keras, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    rng = np.random.default_rng(77)
    models = mk.build_models()
    for name in mk.LOADABLE:
        model = models[name]
        mk._randomize(model, rng)
        path = str(tmp_path / f"{name}.keras")
        model.save(path)
        x = mk.inputs(name)
        np.testing.assert_allclose(nn.load_model(path).predict(x, verbose=0),
                                   np.asarray(model.predict(x, verbose=0)), rtol=0, atol=ATOL)


def test_training_only_terms_dropped_with_a_warning(recorded, tmp_path):
    def regularized(config):
        for entry in config["config"]["layers"]:
            if entry["name"] == "out":
                entry["config"]["kernel_regularizer"] = {
                    "module": "keras.regularizers", "class_name": "L2",
                    "config": {"l2": 0.01}, "registered_name": None}
    path = _rewrite(_archive("branches"), tmp_path / "reg.keras", regularized)
    with pytest.warns(UserWarning, match="'out'.*kernel_regularizer dropped"):
        model = nn.load_model(path)
    np.testing.assert_allclose(model.predict(recorded["branches__x"], verbose=0),
                               recorded["branches__y"], rtol=0, atol=ATOL)
