"""Augmentation previews: ``foveal augment-preview DIR -o grid.png`` (the CLI's main), the
``foveal.data.augmentation_preview`` function behind it, and the example script's quick mode."""
import os
import subprocess
import sys

import numpy as np
import pytest

import foveal.image as fi
from foveal.cli import main
from foveal.data import ImageDataGenerator, augmentation_preview
from foveal.data.preview import augmentation_grid, load_tile, preview_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def make_folder(root, layout, size=(20, 30)):
    """``layout = {"cls": n}`` (class subfolders; "" = the folder itself) of random PNGs."""
    rng = np.random.default_rng(0)
    for name, n in layout.items():
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(n):
            fi.write(os.path.join(folder, f"{i}.png"), rng.integers(0, 256, size + (3,), dtype=np.uint8))
    return str(root)


def grid_shape(rows, samples, tile, gap=4):
    return (rows * (tile + gap) + gap, (samples + 1) * (tile + gap) + gap, 3)


def test_cli_writes_the_grid(tmp_path, capsys):
    folder = make_folder(tmp_path / "data", {"b": 2, "a": 2})
    out = tmp_path / "out" / "grid.png"
    out.parent.mkdir()
    args = ["augment-preview", folder, "-o", str(out), "--rows", "3", "--samples", "2", "--tile", "16",
            "--seed", "5"]
    assert main(args) == 0
    assert "wrote" in capsys.readouterr().out
    grid = fi.read(out)
    assert grid.shape == grid_shape(3, 2, 16) and grid.dtype == np.uint8
    assert os.listdir(out.parent) == ["grid.png"]  # written atomically: no temporary left behind
    # Row 0 starts with class a's first image (classes in turn, sorted), unaugmented.
    np.testing.assert_array_equal(grid[4:20, 4:20], load_tile(os.path.join(folder, "a", "0.png"), 16))
    assert not np.array_equal(grid[4:20, 24:40], grid[4:20, 4:20])  # an augmentation follows
    first = grid.copy()
    assert main(args) == 0
    np.testing.assert_array_equal(fi.read(out), first)  # same seed, same grid
    assert main(args[:-1] + ["6"]) == 0
    assert not np.array_equal(fi.read(out), first)


def test_cli_flat_folder_and_fewer_images_than_rows(tmp_path):
    folder = make_folder(tmp_path / "flat", {"": 2})
    out = tmp_path / "g.png"
    assert main(["augment-preview", folder, "-o", str(out), "--samples", "1", "--tile", "8"]) == 0
    assert fi.read(out).shape == grid_shape(2, 1, 8)  # 4 rows asked, 2 images found


def test_cli_missing_or_empty_dir_is_a_clear_error(tmp_path, capsys):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(SystemExit) as exc:
        main(["augment-preview", missing, "-o", str(tmp_path / "g.png")])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "DIR" in err and missing in err
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(SystemExit):
        main(["augment-preview", str(tmp_path / "empty"), "-o", str(tmp_path / "g.png")])
    assert "no image files" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
    with pytest.raises(FileNotFoundError, match="directory"):
        augmentation_preview(missing)


def test_info_still_works(capsys):
    assert main(["info"]) == 0
    assert "isa" in capsys.readouterr().out


def test_preview_files_take_each_class_in_turn(tmp_path):
    folder = make_folder(tmp_path, {"": 1, "x": 3, "y": 1}, size=(4, 4))
    names = [os.path.relpath(p, folder) for p in preview_files(folder, 4)]
    assert names == ["0.png", os.path.join("x", "0.png"), os.path.join("y", "0.png"),
                     os.path.join("x", "1.png")]


def test_unreadable_files_are_left_out_of_the_preview(tmp_path):
    folder = make_folder(tmp_path, {"x": 3, "y": 2}, size=(4, 4))
    bad = os.path.join(folder, "x", "0.png")
    with open(bad, "wb") as f:
        f.write(b"not a png")
    with pytest.warns(UserWarning, match="unreadable") as caught:
        grid = augmentation_preview(folder, rows=4, samples=1, tile=4, gap=0)
    assert len([w for w in caught if "unreadable" in str(w.message)]) == 1
    assert bad in str(caught[0].message)
    # The next files in preview order take the rows: y/0, x/1, y/1, x/2, each once.
    rows = [grid[4 * r:4 * (r + 1), :4] for r in range(4)]
    want = [load_tile(os.path.join(folder, *n.split("/")), 4)
            for n in ("y/0.png", "x/1.png", "y/1.png", "x/2.png")]
    assert grid.shape == grid_shape(4, 1, 4, gap=0)
    for got, w in zip(rows, want):
        np.testing.assert_array_equal(got, w)
    for name in ("y/0.png", "y/1.png", "x/1.png", "x/2.png"):
        with open(os.path.join(folder, *name.split("/")), "wb") as f:
            f.write(b"not a png either")
    with pytest.warns(UserWarning, match="5 unreadable"), pytest.raises(ValueError, match="can be read"):
        augmentation_preview(folder, rows=2, samples=1, tile=4)


def test_grid_uses_the_given_generator():
    img = np.random.default_rng(1).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    grid = augmentation_grid([img], ImageDataGenerator(horizontal_flip=True), samples=8, seed=0, gap=0)
    tiles = [grid[:, 12 * k:12 * (k + 1)] for k in range(9)]
    assert all(np.array_equal(t, img) or np.array_equal(t, img[:, ::-1]) for t in tiles[1:])
    assert any(np.array_equal(t, img[:, ::-1]) for t in tiles[1:])
    with pytest.raises(ValueError, match="equally sized"):
        augmentation_grid([img, img[:6]])


def test_example_quick_mode(tmp_path):
    out = tmp_path / "preview.png"
    script = os.path.join(ROOT, "examples", "augmentation_preview.py")
    res = subprocess.run([sys.executable, script, "--quick", "-o", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    figure = fi.read(out)                       # foveal.viz.show_augmentations: 2 rows of 1 + 3
    assert "2 image(s), each followed by 3 augmentations" in res.stdout
    assert f"({figure.shape[1]}x{figure.shape[0]} pixels)" in res.stdout
    assert figure.std() > 10  # pictures, not a blank canvas
