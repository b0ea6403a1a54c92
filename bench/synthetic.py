"""Seeded synthetic inputs: photo-like images, and folders of files made once and reused."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import Callable, Tuple

import numpy as np


def synthetic_image(h: int, w: int, seed: int) -> np.ndarray:
    """A seeded RGB uint8 image with the statistics of a photo rather than of white noise:
    smooth colour gradients, low-frequency texture, filled shapes with hard edges, noise."""
    rng = np.random.default_rng(seed)
    y = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    x = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    img = np.empty((h, w, 3), dtype=np.float32)
    for c in range(3):
        a, b, c0 = rng.uniform(-90, 90, 2).tolist() + [rng.uniform(60, 190)]
        plane = c0 + a * (x - 0.5) + b * (y - 0.5)
        for _ in range(4):  # low-frequency texture
            fx, fy = rng.uniform(0.5, 6.0, 2)
            px, py = rng.uniform(0, 2 * np.pi, 2)
            amp = rng.uniform(5, 20)
            plane = plane + amp * np.sin(2 * np.pi * fx * x + px) * np.cos(2 * np.pi * fy * y + py)
        img[..., c] = plane
    for _ in range(14):  # filled discs, each drawn only inside its bounding box
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        r = rng.uniform(0.03, 0.18) * h
        y0, y1 = max(int(cy - r), 0), min(int(cy + r) + 1, h)
        x0, x1 = max(int(cx - r), 0), min(int(cx + r) + 1, w)
        if y0 >= y1 or x0 >= x1:
            continue
        yy = np.arange(y0, y1, dtype=np.float32)[:, None]
        xx = np.arange(x0, x1, dtype=np.float32)[None, :]
        mask = (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
        shade = 1.0 - 0.35 * ((yy - (cy - r)) / (2 * r))  # lit from the top
        color = rng.uniform(0, 255, 3).astype(np.float32)
        region = img[y0:y1, x0:x1]
        region[mask] = (color[None, None, :] * shade[..., None] * np.ones_like(xx)[..., None])[mask]
    for _ in range(10):  # rectangles
        y0, x0 = int(rng.uniform(0, h - 20)), int(rng.uniform(0, w - 20))
        y1 = min(y0 + int(rng.uniform(0.05, 0.3) * h), h)
        x1 = min(x0 + int(rng.uniform(0.05, 0.3) * w), w)
        img[y0:y1, x0:x1] = rng.uniform(0, 255, 3).astype(np.float32)
    img += rng.normal(0.0, 4.0, img.shape).astype(np.float32)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def synthetic_images(n: int, size: Tuple[int, int], seed: int) -> np.ndarray:
    """``n`` seeded synthetic photos (seeds ``seed`` to ``seed + n - 1``), ``n x h x w x 3`` uint8."""
    return np.stack([synthetic_image(size[0], size[1], seed + i) for i in range(n)])


def cached_folder(root: str, marker: str, fill: Callable[[str], None], marker_text: str = "") -> bool:
    """Make the folder ``root`` once and reuse it: ``fill(folder)`` writes the files into a
    temporary sibling, which gets the file ``marker`` (holding ``marker_text``) and is renamed
    into place when complete, so an interrupted run never leaves a partial set behind.

    Returns True when the folder was made now, False when a complete one was already there."""
    if os.path.isfile(os.path.join(root, marker)):
        return False
    parent = os.path.dirname(root)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=os.path.basename(root) + ".", dir=parent)
    try:
        fill(tmp)
        with open(os.path.join(tmp, marker), "w") as f:
            f.write(marker_text)
        if os.path.isdir(root):  # a stale set without its marker
            shutil.rmtree(root)
        os.replace(tmp, root)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return True
