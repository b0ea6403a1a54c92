"""Augmentation previews: a grid with one original image per row, followed by random
augmentations of it, to see what an ``ImageDataGenerator`` does to a data set before training.

    grid = augmentation_preview("photos", rows=4, samples=6, seed=0)   # uint8 H x W x 3
    foveal.image.write("preview.png", grid)

``foveal augment-preview DIR -o grid.png`` does the same from the command line. The grid is plain
pixels (no titles, no matplotlib); :func:`foveal.viz.show_augmentations` draws the same rows as a
titled matplotlib figure.
"""

from __future__ import annotations

import os
import warnings
from typing import Any, Dict, Iterator, List, Optional, Sequence

import numpy as np

from .. import image as _image
from .._checks import as_existing_path, as_int
from ._listing import WHITE_LIST_FORMATS, class_folders, is_image_name, walk_images
from .generator import ImageDataGenerator

__all__ = ["DEFAULT_AUGMENTATION", "augmentation_grid", "augmentation_preview", "preview_files",
           "load_tile"]

# The settings a preview uses when no generator is given (the ones of the benchmark and the
# issue: a typical photo augmentation).
DEFAULT_AUGMENTATION: Dict[str, Any] = dict(rotation_range=20, width_shift_range=0.1,
                                            height_shift_range=0.1, zoom_range=0.2,
                                            horizontal_flip=True, brightness_range=(0.8, 1.2))


def _images_in(folder: str, recursive: bool) -> List[str]:
    """Image files in ``folder`` (sorted; with ``recursive``, Keras's walk order: folders by
    path, each folder's files by name)."""
    if not recursive:
        return [os.path.join(folder, f) for f in sorted(os.listdir(folder))
                if is_image_name(f) and os.path.isfile(os.path.join(folder, f))]
    return [os.path.join(root, f) for root, files in walk_images(folder) for f in files]


def preview_files(directory: "str | os.PathLike[str]", count: int) -> List[str]:
    """Up to ``count`` image paths from ``directory``, taken in turn from each group: the images
    directly in the folder (a flat folder), then each class subfolder (sorted by name, its
    images in Keras's order), so a preview shows one image of every class first.

    Raises:
        FileNotFoundError: ``directory`` is not a folder.
        ValueError: it holds no image files (png, jpg, jpeg, bmp, ppm, tif, tiff).
    """
    count = as_int(count, "count", 1)
    picked: List[str] = []
    for path in _preview_order(directory):
        picked.append(path)
        if len(picked) >= count:
            break
    return picked


def _preview_order(directory: "str | os.PathLike[str]") -> Iterator[str]:
    """Every image path of ``directory`` in :func:`preview_files`'s order (the folder is
    listed, and checked, before the first one is given)."""
    folder = as_existing_path(directory, "directory", "folder")
    groups = [_images_in(folder, recursive=False)]
    groups += [_images_in(os.path.join(folder, d), recursive=True) for d in class_folders(folder)]
    groups = [g for g in groups if g]
    if not groups:
        raise ValueError(f"directory: no image files ({', '.join(WHITE_LIST_FORMATS)}) in {folder!r} "
                         "or its subfolders")
    return (g[k] for k in range(max(len(g) for g in groups)) for g in groups if k < len(g))


def load_tile(path: "str | os.PathLike[str]", tile: int) -> np.ndarray:
    """One image file as a ``tile x tile x 3`` uint8 RGB array: the centred square crop,
    resized (``"area"`` when shrinking, ``"bilinear"`` when enlarging)."""
    tile = as_int(tile, "tile", 1)
    img = _image.read(path, "rgb")
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    square = np.ascontiguousarray(img[top:top + side, left:left + side])
    if side == tile:
        return square
    return _image.resize(square, (tile, tile), "area" if side > tile else "bilinear")


def augmentation_grid(images: Sequence[np.ndarray], generator: Optional[ImageDataGenerator] = None,
                      samples: int = 6, seed: Optional[int] = 0, gap: int = 4,
                      background: int = 255) -> np.ndarray:
    """A preview grid: row ``i`` is ``images[i]`` followed by ``samples`` random augmentations
    of it (``generator.random_transform``: the geometry and intensity changes only, not the
    generator's normalization), each tile separated by ``gap`` pixels of ``background``.

    Args:
        images: equally sized ``H x W x 3`` uint8 images.
        generator: the augmentation to show (None: :data:`DEFAULT_AUGMENTATION`).
        samples: augmented copies per image.
        seed: drives the augmentations (equal seeds give equal grids; None: foveal's
            generator, see :func:`foveal.utils.set_random_seed`).
        gap: pixels between the tiles and around the grid.
        background: gray level of the gaps.

    Returns:
        A uint8 ``R x C x 3`` image with ``R = n (H + gap) + gap`` and
        ``C = (samples + 1) (W + gap) + gap`` (augmented values rounded and clipped to 0..255).
    """
    samples = as_int(samples, "samples", 1)
    gap = as_int(gap, "gap", 0)
    if not images:
        raise ValueError("images must hold at least one image")
    shape = np.shape(images[0])
    if len(shape) != 3 or shape[2] != 3 or any(np.shape(im) != shape for im in images):
        raise ValueError(f"images must be equally sized H x W x 3 images, got shapes "
                         f"{sorted({np.shape(im) for im in images})}")
    gen = generator if generator is not None else ImageDataGenerator(**DEFAULT_AUGMENTATION)
    rng = np.random.default_rng(seed) if seed is not None else None
    h, w = shape[:2]
    grid = np.full((len(images) * (h + gap) + gap, (samples + 1) * (w + gap) + gap, 3),
                   background, dtype=np.uint8)
    for r, img in enumerate(images):
        x = np.asarray(img, dtype=np.float32)
        row = [np.asarray(img, dtype=np.uint8)]
        row += [np.clip(np.rint(gen.random_transform(x, seed=rng)), 0, 255).astype(np.uint8)
                for _ in range(samples)]
        top = gap + r * (h + gap)
        for c, tile in enumerate(row):
            left = gap + c * (w + gap)
            grid[top:top + h, left:left + w] = tile
    return grid


def augmentation_preview(directory: "str | os.PathLike[str]",
                         generator: Optional[ImageDataGenerator] = None, rows: int = 4,
                         samples: int = 6, tile: int = 160, seed: Optional[int] = 0,
                         gap: int = 4) -> np.ndarray:
    """The preview grid of a folder of images (class subfolders or a flat folder): the first
    ``rows`` readable images (:func:`preview_files`'s order; fewer when the folder holds
    fewer), each as a ``tile x tile`` square (:func:`load_tile`) followed by ``samples``
    augmentations (:func:`augmentation_grid`). Returns a uint8 ``H x W x 3`` image.

    An unreadable image file is left out (the next file in that order takes its row; no image
    is shown twice), with one warning naming every such file met. Raises FileNotFoundError
    for a missing folder, ValueError when it holds no image file or none can be read."""
    rows, tile = as_int(rows, "rows", 1), as_int(tile, "tile", 1)
    samples = as_int(samples, "samples", 1)
    tiles: List[np.ndarray] = []
    unreadable: List[str] = []
    for path in _preview_order(directory):
        try:
            tiles.append(load_tile(path, tile))
        except (OSError, ValueError) as e:
            unreadable.append(f"{path!r} ({e})")
            continue
        if len(tiles) == rows:
            break
    if unreadable:
        warnings.warn(f"augmentation_preview: skipped {len(unreadable)} unreadable image "
                      f"file(s): {'; '.join(unreadable)}", stacklevel=2)
    if not tiles:
        raise ValueError(f"directory: none of the image files in {os.fspath(directory)!r} can be "
                         f"read")
    return augmentation_grid(tiles, generator, samples=samples, seed=seed, gap=gap)
