"""Grids of images: a batch with its labels, and what an augmentation does to a few images."""

from __future__ import annotations

import inspect
from typing import Any, List, Optional, Sequence

import numpy as np

from ._figure import check_path, finish, grid, new_figure, positive_int, show


def image_list(images: Any, name: str = "images") -> List[np.ndarray]:
    """``images`` (an ``N x H x W [x C]`` array or a list of images) as a list of arrays."""
    if isinstance(images, (str, bytes)) or images is None:
        raise TypeError(f"{name} must be an N x H x W x C array or a list of images, got "
                        f"{type(images).__name__}")
    if isinstance(images, (list, tuple)):
        out = [np.asarray(im) for im in images]
    else:
        arr = np.asarray(images)
        if arr.ndim not in (3, 4):
            raise ValueError(f"{name} must be an N x H x W or N x H x W x C batch, got shape "
                             f"{arr.shape}" + (" (one image: add a batch axis, x[None])"
                                               if arr.ndim == 2 else ""))
        out = list(arr)
    if not out:
        raise ValueError(f"{name} must hold at least one image")
    return out


def _titles(labels: Any, class_names: Optional[Sequence[str]], n: int) -> List[Optional[str]]:
    """One title per image from ``labels`` (class indices, one-hot rows or strings), each index
    named by ``class_names`` where given."""
    if labels is None:
        return [None] * n
    if isinstance(labels, str):
        raise TypeError("labels must be a sequence with one label per image, got a str")
    arr = np.asarray(labels)
    if arr.ndim == 2 and np.issubdtype(arr.dtype, np.number):   # one-hot (or scores): argmax
        arr = arr.argmax(axis=1)
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"labels must hold one label per image ({n}), got shape "
                         f"{np.shape(labels)}")
    if class_names is not None:
        if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
            raise TypeError("class_names must be a sequence of str (the name of each class index)")
        if not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"labels must be class indices (int) to be named by class_names, got "
                            f"dtype {arr.dtype}")
        bad = [int(v) for v in arr if not 0 <= int(v) < len(class_names)]
        if bad:
            raise ValueError(f"labels: class index {bad[0]} is out of range for "
                             f"{len(class_names)} class_names")
        return [class_names[int(v)] for v in arr]
    return [str(v) for v in arr.tolist()]


def show_images(images: Any, labels: Any = None, class_names: Optional[Sequence[str]] = None,
                cols: int = 8, path: Any = None) -> Any:
    """A grid of images, each titled with its label.

    Args:
        images: an ``N x H x W x C`` (C = 1, 3 or 4) or ``N x H x W`` array, or a list of such
            images (sizes may differ). uint8 is drawn as is; floats in 0..1 or 0..255 as such,
            others min-max scaled; one channel in gray.
        labels: one label per image: class indices, one-hot rows (``N x K``, their argmax) or
            strings; None: no titles.
        class_names: the name of each class index (``iterator.class_indices`` sorted by index).
        cols: images per row.
        path: where to save the figure as a PNG (written atomically); None: not saved.

    Returns:
        The matplotlib ``Figure``: one ``Axes`` per image (no ticks), titled with its label.

    Raises:
        TypeError / ValueError naming the argument (``images``, ``labels``, ``class_names``,
        ``cols``, ``path``).
    """
    items = image_list(images)
    titles = _titles(labels, class_names, len(items))
    cols = positive_int(cols, "cols")
    path = check_path(path)
    rows, cols = grid(len(items), cols)
    fig = new_figure(1.6 * cols, 1.6 * rows + (0.2 * rows if labels is not None else 0.0))
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k < len(items):
            show(ax, items[k], titles[k])
        else:
            ax.remove()
    return finish(fig, path)


def _accepts_training(fn: Any) -> bool:
    """Whether ``fn`` can be called with ``training=...`` (a parameter of that name, or
    ``**kwargs`` as Keras layers' ``__call__`` has)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):   # a builtin without a signature: try the Keras form
        return True
    return "training" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD
                                       for p in params.values())


def _augmenter(generator_or_layers: Any) -> Any:
    """A function ``(batch float32 N x H x W x C) -> augmented batch`` for an
    ImageDataGenerator (anything with ``random_transform``), one callable, or a sequence of
    callables applied in turn (each called as ``f(x, training=True)`` where it takes
    ``training``, ``f(x)`` otherwise)."""
    g = generator_or_layers
    if hasattr(g, "random_transform"):
        return lambda batch: np.stack([np.asarray(g.random_transform(im), np.float32)
                                       for im in batch])
    steps = list(g) if isinstance(g, (list, tuple)) else [g]
    if not steps or not all(callable(f) for f in steps):
        raise TypeError("generator_or_layers must be an ImageDataGenerator (with "
                        "random_transform), a callable, or a list of callables/layers taking "
                        f"(images, training=True); got {type(g).__name__}")
    kinds = [_accepts_training(f) for f in steps]

    def run(batch: np.ndarray) -> np.ndarray:
        out: Any = batch
        for f, training in zip(steps, kinds):
            out = f(out, training=True) if training else f(out)
        return np.asarray(out)

    return run


def show_augmentations(generator_or_layers: Any, images: Any, samples: int = 6,
                       path: Any = None) -> Any:
    """What an augmentation does: one row per image, the original followed by ``samples``
    random augmentations of it.

    Args:
        generator_or_layers: a ``foveal.data.ImageDataGenerator`` (its ``random_transform``:
            geometry and intensity, not its rescaling/normalization), or a callable or a
            list of callables (preprocessing layers, Keras's too) applied in turn to the
            ``N x H x W x C`` float32 batch as ``f(x, training=True)`` (or ``f(x)`` where a
            function takes no ``training``). Random draws follow the library's own seeding
            (``foveal.utils.set_random_seed`` for foveal's).
        images: an ``N x H x W x C`` array or a list of equally sized ``H x W x C`` images, in
            the range the augmentation expects (0..255 as ``flow`` feeds it, or 0..1).
        samples: augmented copies per image.
        path: where to save the figure as a PNG (written atomically); None: not saved.

    Returns:
        The matplotlib ``Figure``: ``N`` rows of ``1 + samples`` ``Axes``; the first row's
        titles are ``"original"``, ``"augmented 1"``, ... Augmented values are clipped to the
        originals' range (0..255 when the originals are uint8 or exceed 1, else 0..1).

    Raises:
        TypeError / ValueError naming the argument (``generator_or_layers``, ``images``,
        ``samples``, ``path``); ValueError when an augmentation returns a batch of another
        number of images.
    """
    run = _augmenter(generator_or_layers)
    items = image_list(images)
    shapes = {im.shape for im in items}
    if len(shapes) != 1 or items[0].ndim != 3:
        raise ValueError(f"images must be equally sized H x W x C images, got shapes "
                         f"{sorted(shapes)}")
    samples = positive_int(samples, "samples")
    path = check_path(path)
    originals = np.stack(items)
    if not np.issubdtype(originals.dtype, np.number):
        raise TypeError(f"images must hold numbers, got dtype {originals.dtype}")
    top = 255.0 if originals.dtype == np.uint8 or float(np.nanmax(originals)) > 1.0 else 1.0
    batch = originals.astype(np.float32)
    columns = []
    for _ in range(samples):
        out = run(batch.copy())
        if out.ndim != 4 or len(out) != len(batch):
            raise ValueError(f"generator_or_layers returned shape {out.shape} for a batch of "
                             f"shape {batch.shape}: not one image per input image")
        columns.append(np.clip(out.astype(np.float64), 0.0, top))
    n, cols = len(items), samples + 1
    fig = new_figure(1.6 * cols, 1.6 * n + 0.3)
    axes = fig.subplots(n, cols, squeeze=False)
    for r in range(n):
        for c in range(cols):
            img = originals[r] if c == 0 else columns[c - 1][r]
            if top == 255.0:
                img = np.rint(np.clip(np.asarray(img, np.float64), 0, 255)).astype(np.uint8)
            show(axes[r][c], img, None, "images")
            if r == 0:
                axes[r][c].set_title("original" if c == 0 else f"augmented {c}", fontsize=9)
    return finish(fig, path)
