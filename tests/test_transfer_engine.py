"""OnnxBackbone's engines: foveal's own kernels (``engine="auto"`` where they can stand in,
``"foveal"`` to insist) against onnxruntime (``"onnxruntime"``, or whenever the native engine
cannot run the model): the same features, rows and files, and the native engine only where the
probe agrees."""
import numpy as np
import pytest

import foveal
import foveal.nn as nn
from foveal.transfer import OnnxBackbone
from foveal.transfer import _native
from fixtures import make_transfer_fixtures as mtf

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


def _cnn(path, shape=(20, 18, 3)):
    """A seeded foveal CNN (conv, pooling, batch norm, a classifier) exported to ONNX (NHWC)."""
    foveal.utils.set_random_seed(7)
    model = nn.Sequential([nn.Input(shape), nn.Conv2D(8, 3, activation="relu"), nn.MaxPooling2D(),
                           nn.BatchNormalization(), nn.Conv2D(16, 3, padding="same", activation="relu"),
                           nn.Flatten(), nn.Dense(5, activation="softmax")])
    model.export_onnx(path)
    return model


def _images(n, h=20, w=18, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, h, w, 3), dtype=np.uint8)


def test_auto_runs_foveal_kernels_with_onnxruntime_features(tmp_path):
    path = str(tmp_path / "cnn.onnx")
    _cnn(path)
    native = OnnxBackbone(path, batch_size=4)
    ort = OnnxBackbone(path, batch_size=4, engine="onnxruntime")
    assert (native.engine, ort.engine) == ("foveal", "onnxruntime")
    x = _images(10)
    got, want = native.extract(x, verbose=0), ort.extract(x, verbose=0)
    assert got.shape == want.shape == (10, 9 * 8 * 16) and got.dtype == np.float32
    # a spatial map (not a pooled vector): the rows are flattened in the ONNX tensor's order
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5 * np.abs(want).max())
    assert native.feature_dim == ort.feature_dim == 9 * 8 * 16
    np.testing.assert_allclose(native._run(native.prepare(x[:3])), want[:3], rtol=1e-5,
                               atol=1e-5 * np.abs(want).max())


def test_torch_resnet_runs_natively_with_the_recorded_features():
    rec = np.load(mtf.NPZ_FIXTURE)
    bb = OnnxBackbone(mtf.ONNX_FIXTURE)
    assert bb.engine == "foveal" and bb.layout == "NCHW"
    np.testing.assert_allclose(bb.extract(rec["images"], verbose=0), rec["features"], rtol=1e-4, atol=1e-4)


def test_onnxruntime_where_the_native_engine_cannot_stand_in(tmp_path, monkeypatch):
    path = str(tmp_path / "cnn.onnx")
    _cnn(path)
    assert OnnxBackbone(path, providers=["CPUExecutionProvider"]).engine == "onnxruntime"
    named = OnnxBackbone(path, output=OnnxBackbone(path).output)
    assert named.engine == "onnxruntime"
    other_threads = foveal.get_num_threads() + 1
    assert OnnxBackbone(path, num_threads=other_threads).engine == "onnxruntime"
    with pytest.raises(ValueError, match="engine='foveal'"):
        OnnxBackbone(path, providers=["CPUExecutionProvider"], engine="foveal")
    # a probe that disagrees (here: made to) keeps onnxruntime
    monkeypatch.setattr(_native, "PROBE_TOL", -1.0)
    assert OnnxBackbone(path).engine == "onnxruntime"


def test_engine_argument_and_config(tmp_path):
    path = str(tmp_path / "cnn.onnx")
    _cnn(path)
    with pytest.raises(ValueError, match="engine"):
        OnnxBackbone(path, engine="tensorrt")
    with pytest.raises(TypeError, match="engine"):
        OnnxBackbone(path, engine=1)
    assert "engine" not in OnnxBackbone(path).config()
    forced = OnnxBackbone(path, engine="ONNXRuntime")
    assert forced.config()["engine"] == "onnxruntime"
    assert OnnxBackbone(**forced.config()).engine == "onnxruntime"


def test_directory_rows_are_the_same_on_both_engines(tmp_path):
    from PIL import Image

    path = str(tmp_path / "cnn.onnx")
    _cnn(path)
    root = tmp_path / "imgs"
    for i, img in enumerate(_images(7, 30, 26, seed=3)):
        (root / "ab"[i % 2]).mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(root / "ab"[i % 2] / f"{i}.png")
    (root / "a" / "broken.png").write_bytes(b"not an image")
    native, ort = OnnxBackbone(path, batch_size=3), OnnxBackbone(path, batch_size=3, engine="onnxruntime")
    with pytest.warns(UserWarning):
        a = native.extract_directory(str(root), verbose=0)
    with pytest.warns(UserWarning):
        b = ort.extract_directory(str(root), verbose=0)
    assert a.filenames == b.filenames and a.skipped == b.skipped and list(a.labels) == list(b.labels)
    np.testing.assert_allclose(a.features, b.features, rtol=1e-5, atol=1e-5 * np.abs(b.features).max())
