"""The course's image pictures with foveal.image, written as one PNG grid.

Shows the pixel matrix of a small gray crop, the RGB channels, blending, rotation and the four
classic filters (blur, sharpen, edges, Sobel) side by side. Uses scikit-image's ``chelsea`` cat
when scikit-image is installed, a generated picture otherwise.

    python examples/image_operations.py [-o image_operations.png] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from typing import List, Optional, Sequence, Tuple

import numpy as np

import foveal.image as fi


def sample_image(size: Tuple[int, int] = (300, 451)) -> np.ndarray:
    """scikit-image's cat when available, else a generated scene (gradients, shapes, noise)."""
    try:
        from skimage import data

        return fi.resize(data.chelsea(), size, interpolation="area")
    except ImportError:
        pass
    h, w = size
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.stack([x / w, y / h, 1 - x / w], axis=-1) * 180 + 40
    for cy, cx, r, col in ((0.4, 0.3, 0.2, (230, 80, 60)), (0.6, 0.7, 0.25, (60, 200, 90))):
        mask = (y - cy * h) ** 2 + (x - cx * w) ** 2 < (r * h) ** 2
        img[mask] = col
    img += np.random.default_rng(0).normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def as_rgb_tile(img: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """Any image (gray, RGB, float with signed values) as a uint8 RGB tile of ``size``."""
    if img.dtype != np.uint8:
        a = np.abs(img.astype(np.float32))
        img = (255 * a / max(float(a.max()), 1e-6)).astype(np.uint8)
    if img.ndim == 2:
        img = fi.to_rgb(img)
    return fi.resize(img, size, interpolation="area" if img.shape[0] > size[0] else "nearest")


def label(tile: np.ndarray, text: str) -> np.ndarray:
    from PIL import Image, ImageDraw

    im = Image.fromarray(tile)
    ImageDraw.Draw(im).rectangle([0, 0, 8 * len(text) + 6, 14], fill=(0, 0, 0))
    ImageDraw.Draw(im).text((3, 2), text, fill=(255, 255, 255))
    return np.asarray(im)


def pixel_matrix(gray: np.ndarray, size: Tuple[int, int]) -> np.ndarray:
    """An 8 x 8 gray crop drawn large with each pixel's value written in it."""
    from PIL import Image, ImageDraw

    crop = gray[:8, :8]
    cell = min(size) // 8
    big = np.kron(crop, np.ones((cell, cell), np.uint8))
    im = Image.fromarray(fi.to_rgb(big))
    draw = ImageDraw.Draw(im)
    for i in range(8):
        for j in range(8):
            v = int(crop[i, j])
            draw.text((j * cell + 2, i * cell + cell // 3), str(v), fill=(255, 0, 0) if v > 127 else (255, 255, 0))
    out = np.zeros(size + (3,), np.uint8)
    arr = np.asarray(im)
    out[: arr.shape[0], : arr.shape[1]] = arr
    return out


def make_grid(img: np.ndarray, tile: Tuple[int, int]) -> np.ndarray:
    gray = fi.to_gray(img)
    r, g, b = fi.split(img)
    zero = np.zeros_like(r)
    other = fi.flip(img, "horizontal")
    tiles: List[Tuple[str, np.ndarray]] = [
        ("original", img),
        ("gray", gray),
        ("pixels (8x8 crop)", None),
        ("red", fi.merge([r, zero, zero])),
        ("green", fi.merge([zero, g, zero])),
        ("blue", fi.merge([zero, zero, b])),
        ("blend 0.6 / flipped", fi.blend(img, other, 0.6)),
        ("rotate 30", fi.rotate(img, 30)),
        ("binary > 127", fi.to_binary(gray) * 255),
        ("gaussian 9", fi.gaussian_blur(img, 9)),
        ("sharpen", fi.sharpen(img)),
        ("edges", fi.edges(gray)),
        ("sobel x", fi.sobel(gray, 1, 0)),
        ("sobel y", fi.sobel(gray, 0, 1)),
        ("laplacian", fi.laplacian(gray)),
    ]
    cells = [label(pixel_matrix(gray, tile) if t is None else as_rgb_tile(t, tile), name) for name, t in tiles]
    cols = 5
    rows = [np.concatenate(cells[i:i + cols], axis=1) for i in range(0, len(cells), cols)]
    return np.concatenate(rows, axis=0)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="image_operations.png", help="PNG to write")
    parser.add_argument("--quick", action="store_true", help="small tiles (for CI)")
    args = parser.parse_args(argv)
    tile = (96, 144) if args.quick else (200, 300)
    grid = make_grid(sample_image(), tile)
    fi.write(args.output, grid)
    print(f"wrote {args.output} ({grid.shape[1]}x{grid.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
