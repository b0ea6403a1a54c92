"""What every picture shares: a new matplotlib Figure, saving it atomically, turning arrays into
something ``imshow`` draws, and checking the common arguments.

matplotlib is imported here, on first use, so ``import foveal`` does not load it.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Optional, Tuple

import numpy as np

from .._checks import as_int
from .._files import atomic_path


def new_figure(width: float, height: float) -> Any:
    """A matplotlib ``Figure`` of ``width x height`` inches, with the constrained layout (titles
    and labels get room, panels do not overlap).

    Where ``matplotlib.pyplot`` is already imported (a notebook, a script that calls
    ``plt.show()``), the figure is made by pyplot, so it shows as the user's other figures do.
    Otherwise it is a standalone figure on the Agg canvas: no window, no display needed, and
    nothing kept alive by pyplot's list of open figures.
    """
    if "matplotlib.pyplot" in sys.modules:
        import matplotlib.pyplot as plt

        return plt.figure(figsize=(width, height), layout="constrained")
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def check_path(path: Any) -> Optional[str]:
    """``path`` as a string (None stays None); TypeError naming ``path`` otherwise."""
    if path is None:
        return None
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"path must be a file path (str or os.PathLike) or None, got "
                        f"{type(path).__name__}") from None


def finish(fig: Any, path: Optional[str], dpi: int = 100) -> Any:
    """Save ``fig`` as a PNG at ``path`` (when given) through a temporary file renamed onto it,
    so the file appears complete or not at all; returns ``fig``."""
    if path is not None:
        with atomic_path(path, "path", suffix=".png") as tmp:
            fig.savefig(tmp, format="png", dpi=dpi)
    return fig


def grid(n: int, cols: int) -> Tuple[int, int]:
    """``(rows, cols)`` of a grid holding ``n`` panels with at most ``cols`` per row."""
    cols = max(1, min(cols, n))
    return -(-n // cols), cols


def positive_int(value: Any, name: str) -> int:
    """``value`` as an int of at least 1 (TypeError/ValueError naming ``name``)."""
    return as_int(value, name, 1)


def displayable(img: Any, name: str = "images") -> Tuple[np.ndarray, Optional[str]]:
    """One image as ``imshow`` draws it, and the colormap for it (``"gray"`` for one channel,
    None for colour).

    ``H x W``, ``H x W x 1``, ``H x W x 3`` or ``H x W x 4`` of real numbers: uint8 is shown as
    is; other types are taken as 0..1 when every value lies there, as 0..255 when every value
    lies there, and are min-max scaled to 0..1 otherwise (signed values, such as features).
    """
    a = np.asarray(img)
    if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
        raise TypeError(f"{name}: each image must be an array of numbers, got dtype {a.dtype}")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.size == 0:
        raise ValueError(f"{name}: each image must be H x W, H x W x 1, H x W x 3 or H x W x 4, "
                         f"got shape {np.shape(img)}")
    cmap = "gray" if a.ndim == 2 else None
    if a.dtype == np.uint8:
        return a, cmap
    f = a.astype(np.float64)
    finite = f[np.isfinite(f)]
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)
    if lo >= 0.0 and hi <= 1.0:
        out = f
    elif lo >= 0.0 and hi <= 255.0:
        out = f / 255.0
    elif hi - lo > 0.0:
        out = (f - lo) / (hi - lo)
    else:
        out = np.zeros_like(f)
    return np.clip(np.nan_to_num(out), 0.0, 1.0), cmap


def show(ax: Any, img: Any, title: Optional[str] = None, name: str = "images", **kwargs: Any) -> None:
    """Draw one image on ``ax`` without ticks, with an optional small title. A gray image uses
    the fixed 0..1 (or 0..255) range, so a flat image is not stretched."""
    data, cmap = displayable(img, name)
    if cmap is not None and "cmap" not in kwargs:
        kwargs.update(cmap=cmap, vmin=0, vmax=255 if data.dtype == np.uint8 else 1.0)
    ax.imshow(data, interpolation="antialiased", **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])
    if title is not None:
        ax.set_title(title, fontsize=9)
