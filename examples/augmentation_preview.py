"""Preview data augmentation with foveal.data: original photos and random augmentations of each.

Writes one PNG figure (``foveal.viz.show_augmentations``): each row is an image from a folder
(class subfolders or a flat folder) followed by random augmentations from
``ImageDataGenerator`` (rotation, shifts, zoom, flips, brightness). Without a folder, a small one is made from scikit-image's sample photos (or
generated pictures when scikit-image is not installed). The same grid comes from the command
line, as a plain pixel grid without titles: ``foveal augment-preview DIR -o grid.png``.

    python examples/augmentation_preview.py [DIR] [-o augmentation_preview.png] [--quick]
        [--rows 4] [--samples 6] [--seed 0]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np

import foveal
import foveal.image as fi
from foveal import viz
from foveal.data import ImageDataGenerator
from foveal.data.preview import load_tile, preview_files


def sample_photos(size: int = 256) -> Dict[str, List[np.ndarray]]:
    """A few RGB photos per class: scikit-image's samples when available, else generated
    pictures (gradients, discs, noise)."""
    try:
        from skimage import data

        return {"animals": [data.chelsea()], "objects": [data.coffee(), data.rocket()],
                "people": [data.astronaut()]}
    except ImportError:
        pass
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / size
    photos: Dict[str, List[np.ndarray]] = {}
    for k, name in enumerate(("discs", "stripes")):
        photos[name] = []
        for _ in range(2):
            img = np.stack([x, y, 1 - x], axis=-1) * rng.uniform(120, 220) + 20
            for _ in range(4):
                cy, cx, r = rng.uniform(0.2, 0.8, 2).tolist() + [rng.uniform(0.08, 0.2)]
                if k == 0:
                    img[(y - cy) ** 2 + (x - cx) ** 2 < r * r] = rng.uniform(0, 255, 3)
                else:
                    img[np.abs(np.sin((x * cx + y * cy) * 40)) < r] = rng.uniform(0, 255, 3)
            img += rng.normal(0, 5, img.shape)
            photos[name].append(np.clip(img, 0, 255).astype(np.uint8))
    return photos


def write_folder(root: str, photos: Dict[str, List[np.ndarray]]) -> str:
    """Write ``photos`` as ``root/<class>/<k>.png`` (the layout flow_from_directory reads)."""
    for name, images in photos.items():
        os.makedirs(os.path.join(root, name), exist_ok=True)
        for k, img in enumerate(images):
            fi.write(os.path.join(root, name, f"{k}.png"), img)
    return root


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument("dir", nargs="?", help="folder of images or of class subfolders "
                                               "(default: sample photos)")
    parser.add_argument("-o", "--output", default="augmentation_preview.png")
    parser.add_argument("--quick", action="store_true", help="a small grid (for CI)")
    parser.add_argument("--rows", type=int, default=None, help="images (default 4; 2 with --quick)")
    parser.add_argument("--samples", type=int, default=None,
                        help="augmentations per image (default 6; 3 with --quick)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    rows = args.rows or (2 if args.quick else 4)
    samples = args.samples or (3 if args.quick else 6)
    tile = 96 if args.quick else 192

    # Keras's ImageDataGenerator settings: the flow() / flow_from_directory() a model trains on
    # would use the same generator.
    gen = ImageDataGenerator(rotation_range=20, width_shift_range=0.1, height_shift_range=0.1,
                             zoom_range=0.2, horizontal_flip=True, brightness_range=(0.8, 1.2))
    foveal.utils.set_random_seed(args.seed)   # the same augmentations for the same seed
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.dir or write_folder(tmp, sample_photos())
        tiles = [load_tile(path, tile) for path in preview_files(folder, rows)]
    fig = viz.show_augmentations(gen, np.stack(tiles), samples=samples, path=args.output)
    width, height = fig.canvas.get_width_height()
    print(f"wrote {args.output}: {len(tiles)} image(s), each followed by {samples} augmentations "
          f"({width}x{height} pixels)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
