"""foveal.image.read / write: lossless round trips (PNG, BMP, TIFF), every read mode, JPEG within
codec loss, files that OpenCV reads and writes, atomic writes, and the errors for bad paths."""
import os
import pathlib

import cv2
import numpy as np
import pytest

import foveal.image as fi
from inputs import img, smooth_img

LOSSLESS = ["png", "bmp", "tif", "tiff"]
SHAPES = [(17, 23), (16, 24, 3), (17, 23, 4), (1, 1), (1, 1, 3), (1, 9, 4), (9, 1), (3, 2000, 3)]
ids = str


def to_cv(x):
    """RGB(A) -> OpenCV's BGR(A) order."""
    if x.ndim == 2:
        return x
    return cv2.cvtColor(x, cv2.COLOR_RGB2BGR if x.shape[2] == 3 else cv2.COLOR_RGBA2BGRA)


def from_cv(x):
    if x.ndim == 2:
        return x
    return cv2.cvtColor(x, cv2.COLOR_BGR2RGB if x.shape[2] == 3 else cv2.COLOR_BGRA2RGBA)


def files_in(folder):
    return sorted(p.name for p in pathlib.Path(folder).iterdir())


# ---------------------------------------------------------------------------- round trips

@pytest.mark.parametrize("ext", LOSSLESS)
@pytest.mark.parametrize("shape", SHAPES, ids=ids)
def test_lossless_round_trip(tmp_path, ext, shape):
    x = img(*shape)
    path = tmp_path / f"im.{ext}"
    if ext == "bmp" and x.ndim == 3 and x.shape[2] == 4:
        # Pillow cannot read BMP alpha back: refusing RGBA BMP (naming img) is the lossless
        # alternative to a round trip; silently dropping alpha is not.
        try:
            fi.write(str(path), x)
        except ValueError as e:
            assert "img" in str(e) and files_in(tmp_path) == []
            return
    else:
        fi.write(str(path), x)
    assert files_in(tmp_path) == [path.name]            # nothing else left behind
    out = fi.read(str(path), mode="unchanged")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, x, err_msg=f"{ext} {shape}: round trip is not exact")
    if x.ndim == 3 and x.shape[2] == 3:
        np.testing.assert_array_equal(fi.read(path), x)  # default mode "rgb", pathlib path


@pytest.mark.parametrize("ext", LOSSLESS)
def test_write_hxwx1_is_gray(tmp_path, ext):
    x = img(6, 7, 1)
    fi.write(tmp_path / f"g.{ext}", x)
    out = fi.read(tmp_path / f"g.{ext}", "unchanged")
    assert out.shape == (6, 7)
    np.testing.assert_array_equal(out, x[..., 0])


@pytest.mark.parametrize("ext", ["png", "bmp", "tif"])
@pytest.mark.parametrize("shape", [(17, 23), (16, 24, 3), (3, 2000, 3), (1, 1)], ids=ids)
def test_opencv_reads_what_foveal_writes_and_back(tmp_path, ext, shape):
    x = img(*shape)
    fi.write(tmp_path / f"a.{ext}", x)
    np.testing.assert_array_equal(from_cv(cv2.imread(str(tmp_path / f"a.{ext}"), cv2.IMREAD_UNCHANGED)), x)
    assert cv2.imwrite(str(tmp_path / f"b.{ext}"), to_cv(x))
    np.testing.assert_array_equal(fi.read(tmp_path / f"b.{ext}", "unchanged"), x)


def test_png_rgba_with_opencv(tmp_path):
    x = img(9, 10, 4)
    fi.write(tmp_path / "a.png", x)
    np.testing.assert_array_equal(from_cv(cv2.imread(str(tmp_path / "a.png"), cv2.IMREAD_UNCHANGED)), x)
    cv2.imwrite(str(tmp_path / "b.png"), to_cv(x))
    np.testing.assert_array_equal(fi.read(tmp_path / "b.png", "rgba"), x)


# ------------------------------------------------------------------------------ read modes

@pytest.fixture
def files(tmp_path):
    """One gray, one RGB and one RGBA PNG written by OpenCV, with their pixels."""
    made = {}
    for name, shape in (("gray", (11, 13)), ("rgb", (11, 13, 3)), ("rgba", (11, 13, 4))):
        x = img(*shape, seed=len(name))
        path = tmp_path / f"{name}.png"
        assert cv2.imwrite(str(path), to_cv(x))
        made[name] = (str(path), x)
    return made


def test_read_modes_of_rgb_file(files):
    path, x = files["rgb"]
    out = fi.read(path)
    assert out.shape == (11, 13, 3) and out.dtype == np.uint8
    np.testing.assert_array_equal(out, x)
    np.testing.assert_array_equal(fi.read(path, "rgb"), x)
    np.testing.assert_array_equal(fi.read(path, "unchanged"), x)
    rgba = fi.read(path, "rgba")
    assert rgba.shape == (11, 13, 4)
    np.testing.assert_array_equal(rgba[..., :3], x)
    assert (rgba[..., 3] == 255).all()
    gray = fi.read(path, "gray")
    assert gray.shape == (11, 13) and gray.dtype == np.uint8
    diff = np.abs(gray.astype(int) - cv2.cvtColor(x, cv2.COLOR_RGB2GRAY))
    assert diff.max() <= 1, f"gray read off OpenCV's RGB2GRAY by {diff.max()}"


def test_read_modes_of_gray_file(files):
    path, x = files["gray"]
    np.testing.assert_array_equal(fi.read(path, "gray"), x)
    np.testing.assert_array_equal(fi.read(path, "unchanged"), x)
    np.testing.assert_array_equal(fi.read(path), np.repeat(x[..., None], 3, -1))
    rgba = fi.read(path, "rgba")
    np.testing.assert_array_equal(rgba[..., :3], np.repeat(x[..., None], 3, -1))
    assert (rgba[..., 3] == 255).all()


def test_read_modes_of_rgba_file(files):
    path, x = files["rgba"]
    np.testing.assert_array_equal(fi.read(path, "rgba"), x)
    np.testing.assert_array_equal(fi.read(path, "unchanged"), x)
    np.testing.assert_array_equal(fi.read(path, "rgb"), x[..., :3])     # alpha dropped, as imread
    gray = fi.read(path, "gray")
    assert gray.shape == (11, 13)
    assert np.abs(gray.astype(int) - cv2.cvtColor(x, cv2.COLOR_RGBA2GRAY)).max() <= 1


def test_read_mode_is_case_insensitive_or_rejected_by_name(files):
    path, x = files["rgb"]
    try:
        out = fi.read(path, "RGB")
    except ValueError as e:
        assert "mode" in str(e)
    else:
        np.testing.assert_array_equal(out, x)


# ------------------------------------------------------------------------------------ JPEG

@pytest.mark.parametrize("ext", ["jpg", "jpeg", "JPG"])
def test_jpeg(tmp_path, ext):
    x = smooth_img(40, 50, 3)
    path = tmp_path / f"a.{ext}"
    fi.write(path, x)
    out = fi.read(path)
    assert out.shape == x.shape and out.dtype == np.uint8
    err = np.abs(out.astype(int) - x)
    assert err.mean() < 3 and err.max() < 40, f"JPEG round trip too lossy: mean {err.mean()}, max {err.max()}"
    ref = from_cv(cv2.imread(str(path), cv2.IMREAD_COLOR))
    assert np.abs(out.astype(int) - ref).max() <= 4           # same file, decoders agree
    g = smooth_img(40, 50)
    fi.write(tmp_path / f"g.{ext}", g)
    og = fi.read(tmp_path / f"g.{ext}", "unchanged")
    assert og.shape == (40, 50) and np.abs(og.astype(int) - g).mean() < 3


# --------------------------------------------------------------------------- atomic writes

def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "a.png"
    fi.write(path, img(5, 6, 3, seed=1))
    x = img(8, 3, 3, seed=2)
    fi.write(path, x)
    np.testing.assert_array_equal(fi.read(path), x)
    assert files_in(tmp_path) == ["a.png"]


@pytest.mark.parametrize("bad", [
    np.zeros((2, 5, 6, 3), np.uint8),       # a batch
    np.zeros((5, 6, 2), np.uint8),          # two channels
    np.zeros((0, 6, 3), np.uint8),          # empty
    np.zeros((5,), np.uint8),               # 1-D
    np.array([["a", "b"]]),                 # not numbers
], ids=["batch", "2ch", "empty", "1d", "str"])
def test_failed_write_leaves_existing_file(tmp_path, bad):
    path = tmp_path / "a.png"
    x = img(5, 6, 3)
    fi.write(path, x)
    before = path.read_bytes()
    with pytest.raises((ValueError, TypeError), match="img"):
        fi.write(path, bad)
    assert path.read_bytes() == before
    assert files_in(tmp_path) == ["a.png"]


def test_encoder_failure_mid_write_leaves_existing_file(tmp_path, monkeypatch):
    """Simulate the encoder dying after writing part of the file."""
    PIL = pytest.importorskip("PIL.Image")
    path = tmp_path / "a.png"
    x = img(20, 20, 3)
    fi.write(path, x)
    before = path.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        if hasattr(fp, "write"):
            fp.write(b"\x89PNG partial")
        else:
            with open(fp, "wb") as f:
                f.write(b"\x89PNG partial")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(PIL.Image, "save", broken_save)
    try:
        fi.write(path, img(20, 20, 3, seed=5))
    except OSError:
        pass
    else:
        pytest.skip("foveal.image.write does not encode through Pillow's Image.save")
    assert path.read_bytes() == before, "a failed write left the existing file half-written"
    assert files_in(tmp_path) == ["a.png"], "a failed write left a temporary file behind"


def test_write_noncontiguous_and_readonly(tmp_path):
    x = img(12, 14, 4)
    view = x[::2, ::-1, :3]
    fi.write(tmp_path / "v.png", view)
    np.testing.assert_array_equal(fi.read(tmp_path / "v.png"), view)
    ro = img(7, 9, 3)
    ro.setflags(write=False)
    fi.write(tmp_path / "r.bmp", ro)
    np.testing.assert_array_equal(fi.read(tmp_path / "r.bmp"), ro)


def test_paths_with_spaces_and_unicode(tmp_path):
    folder = tmp_path / "a dir ü"
    folder.mkdir()
    x = img(4, 5, 3)
    fi.write(folder / "bild ö.png", x)
    np.testing.assert_array_equal(fi.read(str(folder / "bild ö.png")), x)


# ---------------------------------------------------------------------------------- errors

def test_read_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        fi.read(tmp_path / "nope.png")
    with pytest.raises(FileNotFoundError):
        fi.read(str(tmp_path / "nope.jpg"), mode="gray")


@pytest.mark.parametrize("mode", ["bgr", "grey", "", "rgbx", None, 3])
def test_read_bad_mode(files, mode):
    path, _ = files["rgb"]
    with pytest.raises((ValueError, TypeError), match="mode"):
        fi.read(path, mode=mode)


def test_read_corrupt_and_non_image_files(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    with pytest.raises(ValueError):
        fi.read(bad)
    txt = tmp_path / "notes.jpg"
    txt.write_text("hello")
    with pytest.raises(ValueError):
        fi.read(txt)
    empty = tmp_path / "empty.bmp"
    empty.write_bytes(b"")
    with pytest.raises(ValueError):
        fi.read(empty)


def test_read_a_directory(tmp_path):
    with pytest.raises((FileNotFoundError, IsADirectoryError, ValueError)):
        fi.read(tmp_path)


@pytest.mark.parametrize("name", ["a.xyz", "a", "a.png.txt"])
def test_write_unknown_extension(tmp_path, name):
    with pytest.raises(ValueError):
        fi.write(tmp_path / name, img(4, 4, 3))
    assert files_in(tmp_path) == []


def test_write_into_missing_directory(tmp_path):
    with pytest.raises(OSError):
        fi.write(tmp_path / "missing" / "a.png", img(4, 4, 3))
    assert files_in(tmp_path) == []


def test_write_float_image_is_rejected_or_converted_not_misread(tmp_path):
    x = img(4, 5, 3, dtype=np.float32)
    try:
        fi.write(tmp_path / "f.png", x)
    except (TypeError, ValueError) as e:
        assert "img" in str(e)
    else:
        # if accepted, a float image in [0, 1] must not come back as all zeros/ones garbage
        out = fi.read(tmp_path / "f.png")
        assert np.abs(out.astype(float) - x * 255).max() <= 1


def test_read_write_do_not_leak_file_handles(tmp_path):
    x = img(6, 6, 3)
    for i in range(200):
        fi.write(tmp_path / "a.png", x)
        fi.read(tmp_path / "a.png")
    if os.path.isdir("/proc/self/fd"):
        open_files = [os.readlink(f"/proc/self/fd/{fd}") for fd in os.listdir("/proc/self/fd")
                      if os.path.islink(f"/proc/self/fd/{fd}")]
        assert not [f for f in open_files if str(tmp_path) in f]
