"""The examples run end to end in their quick mode and write what they promise."""
import os
import subprocess
import sys

import numpy as np

import foveal.image as fi

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_image_operations_example(tmp_path):
    out = tmp_path / "grid.png"
    script = os.path.join(ROOT, "examples", "image_operations.py")
    res = subprocess.run([sys.executable, script, "--quick", "-o", str(out)], capture_output=True,
                         text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    grid = fi.read(out)
    assert grid.shape == (3 * 96, 5 * 144, 3)
    assert grid.std() > 10  # real pictures, not a blank canvas


def test_train_digits_example(tmp_path):
    script = os.path.join(ROOT, "examples", "train_digits.py")
    res = subprocess.run([sys.executable, script, "--quick", "-o", str(tmp_path)], capture_output=True,
                         text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    acc = float(res.stdout.split("test accuracy ")[1].split()[0])
    assert acc > 0.8, res.stdout                     # 3 epochs already learn the digits
    assert "max difference" in res.stdout and (tmp_path / "digits.onnx").exists()
    diff = float(res.stdout.split("max difference ")[1].split()[0])
    assert diff < 1e-4
