"""The course's image pictures with foveal.image, drawn with foveal.viz as one PNG figure.

Shows the pixel matrix of a small gray crop, the RGB channels, blending, rotation and the four
classic filters (blur, sharpen, edges, Sobel) side by side. Uses scikit-image's ``chelsea`` cat
when scikit-image is installed, a generated picture otherwise.

    python examples/image_operations.py [-o image_operations.png] [--quick]
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

import foveal.image as fi
from foveal import viz


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


def as_rgb(img: np.ndarray) -> np.ndarray:
    """Any result (gray, RGB, float with signed values) as a uint8 RGB image: float results are
    shown by magnitude, scaled to their largest value."""
    if img.dtype != np.uint8:
        a = np.abs(img.astype(np.float32))
        img = (255 * a / max(float(a.max()), 1e-6)).astype(np.uint8)
    return fi.to_rgb(img) if img.ndim == 2 else img


def panels(img: np.ndarray) -> List[Tuple[str, np.ndarray]]:
    """The course's image operations on ``img``: ``(title, picture)`` pairs."""
    gray = fi.to_gray(img)
    r, g, b = fi.split(img)
    zero = np.zeros_like(r)
    other = fi.flip(img, "horizontal")
    return [
        ("original", img),
        ("gray", gray),
        ("pixels (8x8 crop)", gray[:8, :8]),
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


def draw(img: np.ndarray) -> Any:
    """The panels as one matplotlib figure (foveal.viz.show_images), the 8 x 8 crop with each
    pixel's value written on it."""
    named = panels(img)
    fig = viz.show_images([as_rgb(p) for _, p in named], [name for name, _ in named], cols=5)
    crop = named[2][1]
    ax = fig.axes[2]
    for i in range(crop.shape[0]):
        for j in range(crop.shape[1]):
            v = int(crop[i, j])
            ax.text(j, i, str(v), ha="center", va="center", fontsize=6,
                    color="black" if v > 127 else "white")
    return fig


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-o", "--output", default="image_operations.png", help="PNG to write")
    parser.add_argument("--quick", action="store_true", help="a small image (for CI)")
    args = parser.parse_args(argv)
    size = (96, 144) if args.quick else (300, 451)
    fig = draw(sample_image(size))
    if not args.quick:
        fig.set_size_inches(15, 9)   # larger panels than show_images' thumbnails
    fig.savefig(args.output, dpi=100)
    width, height = fig.canvas.get_width_height()
    print(f"wrote {args.output}: {len(fig.axes)} panels ({width}x{height})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
