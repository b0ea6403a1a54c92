"""foveal: fast deep learning for image data.

A C++ core (SIMD kernels chosen at import for this CPU, on its own thread pool) behind a thin,
typed Python API shaped like Keras and OpenCV. See ``foveal.nn.functional`` for the CNN operators.
"""

from __future__ import annotations

import warnings as _warnings

from . import _core

__version__: str = _core.__version__

if _core._isa_env_warning():
    _warnings.warn(_core._isa_env_warning(), RuntimeWarning, stacklevel=2)


def set_num_threads(n: int) -> None:
    """Set how many threads the native kernels use (``n >= 1``)."""
    from ._checks import as_int

    _core.set_num_threads(as_int(n, "n"))


def get_num_threads() -> int:
    """Return how many threads the native kernels use."""
    return _core.get_num_threads()


def build_info() -> dict:
    """Describe the build: version, compiler, OpenMP, CPU features, the kernel ISA in use
    (``"avx512"``, ``"avx2"`` or ``"scalar"``), and whether CUDA is compiled in and available."""
    from ._device import cuda_build_info

    return {**_core.build_info(), **cuda_build_info()}


from ._device import (  # noqa: E402
    get_device, get_float32_matmul_precision, set_device, set_float32_matmul_precision,
)
from . import data, datasets, image, nn, transfer, utils, viz  # noqa: E402  (need _core loaded first)

__all__ = [
    "__version__", "build_info", "get_device", "get_float32_matmul_precision", "get_num_threads",
    "set_device", "set_float32_matmul_precision", "set_num_threads", "data", "datasets", "image", "nn",
    "transfer", "utils", "viz",
]
