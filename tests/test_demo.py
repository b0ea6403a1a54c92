"""`foveal demo` (quick mode): the whole course runs and writes what it promises."""
import os

import numpy as np

import foveal.image as fi
from foveal.demo import TASK_A, TASK_B, draw_shape, make_shapes_dataset, run_demo


def test_demo_quick_writes_everything(tmp_path, monkeypatch):
    from foveal import viz

    figures = {}
    for name in ("plot_history", "show_images", "show_filters", "show_feature_maps",
                 "show_augmentations"):
        def record(*args, _draw=getattr(viz, name), _name=name, **kwargs):
            figures[_name] = fig = _draw(*args, **kwargs)
            return fig
        monkeypatch.setattr(viz, name, record)
    lines = []
    result = run_demo(str(tmp_path), quick=True, verbose=0, log=lines.append)
    # the pictures are foveal.viz figures: curves with legends, titled images, the filters...
    curves = figures["plot_history"]
    assert [ax.get_title() for ax in curves.axes] == ["loss", "accuracy"]
    assert all(len(line.get_xdata()) == 2 for ax in curves.axes for line in ax.get_lines())
    assert all(ax.get_legend() is not None for ax in curves.axes)
    titles = [ax.get_title() for ax in figures["show_images"].axes]
    assert len(titles) == 16 and all(t.split(" ")[0] in TASK_A for t in titles)
    assert len(figures["show_filters"].axes) == 16
    assert len(figures["show_feature_maps"].axes) == 17
    assert len(figures["show_augmentations"].axes) == len(TASK_A) * 6
    assert set(result) == {"test_accuracy", "transfer_accuracy", "scratch_accuracy", "seconds"}
    assert all(0.0 <= result[k] <= 1.0 for k in ("test_accuracy", "transfer_accuracy", "scratch_accuracy"))
    assert any("head on the ONNX backbone" in line for line in lines)
    for name in ("filters_layer1", "feature_maps_layer1", "augmented_samples", "training_curves",
                 "test_predictions"):
        img = fi.read(tmp_path / "pictures" / f"{name}.png")
        assert img.ndim == 3 and img.std() > 5, name          # a real picture, not a blank canvas
    assert sorted(os.listdir(tmp_path / "pictures")) == sorted(
        f"{n}.png" for n in ("filters_layer1", "feature_maps_layer1", "augmented_samples",
                             "training_curves", "test_predictions"))   # no temporary file left
    assert (tmp_path / "shapes_cnn.onnx").stat().st_size > 1000
    for split in ("train", "validation", "test"):
        assert sorted(os.listdir(tmp_path / "data" / "shapes" / split)) == sorted(TASK_A)
    assert sorted(os.listdir(tmp_path / "data" / "new_task" / "train")) == sorted(TASK_B)


def test_splits_hold_different_images(tmp_path):
    make_shapes_dataset(str(tmp_path), ["circle"], {"train": 3, "test": 3}, seed=5)
    a = [fi.read(tmp_path / "train" / "circle" / f) for f in sorted(os.listdir(tmp_path / "train" / "circle"))]
    b = [fi.read(tmp_path / "test" / "circle" / f) for f in sorted(os.listdir(tmp_path / "test" / "circle"))]
    assert not any(np.array_equal(x, y) for x in a for y in b)


def test_every_shape_draws_a_visible_shape():
    rng = np.random.default_rng(0)
    for kind in TASK_A + TASK_B:
        img = draw_shape(kind, rng)
        assert img.shape == (32, 32, 3) and img.dtype == np.uint8
        assert img.std() > 20, kind


def test_cli_demo_extract_and_bench(tmp_path, capsys):
    from foveal.cli import main

    assert main(["demo", "--quick", "-q", "-o", str(tmp_path / "d")]) == 0
    out = tmp_path / "features.npz"
    assert main(["extract", str(tmp_path / "d" / "shapes_cnn.onnx"),
                 str(tmp_path / "d" / "data" / "new_task" / "test"), "-o", str(out),
                 "--preprocess", "none"]) == 0
    with np.load(out) as f:
        assert f["features"].shape == (80, 64) and f["features"].dtype == np.float32
        assert len(f["labels"]) == 80
    assert main(["extract", str(tmp_path / "missing.onnx"), str(tmp_path), "-o", str(out)]) == 1
    assert main(["bench", "--only", "no_such_benchmark"]) == 2
    assert "no benchmark matches" in capsys.readouterr().err
