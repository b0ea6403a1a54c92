"""Running consecutive random preprocessing layers as one pass (``foveal.nn.layers._augment_chain``).

:func:`run_chain` applies a list of ``Random*`` layers to a batch: each layer draws its own
random values in order (so a chain draws exactly what the layers one by one would), the maps
of consecutive geometric layers with compatible fill settings are composed into one 2 x 3 map
per image and run by the native ``augment_batch`` kernel (one interpolation, images in
parallel, no GIL held), crops are slices, and brightness/contrast run in place on the warped
float32 batch. :func:`fuse_steps` rewrites a model's training steps so that such runs of layers
become one step (``foveal.nn._graph`` calls it).

A uint8 batch is warped straight to float32 (no float copy first); a RandomBrightness right
after the geometric layers (an additive shift clipped to a value range) is fused into that
warp's store. Contrast needs each image's channel means, and brightness elsewhere in the chain
(or on float input) runs as NumPy passes over the warped batch (in place, no extra copy).
"""

from __future__ import annotations

from collections import Counter
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np

from ... import _core
from ..._device import routed

__all__ = ["run_chain", "fuse_steps", "chainable", "takes_uint8"]

# Keras fill_mode -> the native border name.
_BORDERS = {"reflect": "reflect", "wrap": "wrap", "constant": "constant", "nearest": "replicate"}


def chainable(layer: Any) -> bool:
    """Whether ``layer`` is a random preprocessing layer :func:`run_chain` can take."""
    return getattr(layer, "_kind", None) in ("warp", "color", "crop") and hasattr(layer, "_draw")


def takes_uint8(graph: Any) -> bool:
    """Whether a model graph may be given its uint8 input as it is in training: the input
    (slot 0) is read by one step only, a random geometric or intensity layer (which, alone or
    first in a fused chain, returns float32)."""
    readers = [s for s in graph.steps if 0 in s[1]]
    return (len(readers) == 1 and not readers[0][3] and chainable(readers[0][0])
            and readers[0][0]._kind in ("warp", "color"))


def _to_float(x: np.ndarray) -> np.ndarray:
    """``x`` as C-contiguous float32 (uint8 converted natively; float32 possibly not copied)."""
    if x.dtype == np.uint8:
        return _core.image.to_float(np.ascontiguousarray(x), 1.0)
    return np.ascontiguousarray(x, dtype=np.float32)


def _own_float(x: np.ndarray) -> np.ndarray:
    """A new C-contiguous float32 copy of ``x``."""
    if x.dtype == np.uint8:
        return _core.image.to_float(np.ascontiguousarray(x), 1.0)
    return np.array(x, dtype=np.float32, order="C", copy=True)


@routed
def warp_batch(x: np.ndarray, maps: np.ndarray, options: Tuple[str, str, float],
               add: Optional[np.ndarray] = None,
               clip: Optional[Tuple[float, float]] = None) -> np.ndarray:
    """Warp each image of ``x`` (``N x H x W x C``, float32 or uint8) by its output -> input
    map (``N x 3 x 3`` float64) in one native pass; float32 result of the same size. A uint8
    batch of up to 4 channels is read as it is (no float copy first), and may take a
    brightness change in the same pass: ``add`` (``N`` float32) added to each image, then the
    result clipped to ``clip`` = ``(low, high)``, the same floats as doing it afterwards."""
    fill_mode, interpolation, fill_value = options
    forward = np.ascontiguousarray(np.linalg.inv(maps)[:, :2, :])   # the kernel's source -> output
    border = _BORDERS[fill_mode]
    if x.dtype == np.uint8 and x.shape[-1] <= 4:
        return _core.image.augment_batch(np.ascontiguousarray(x), forward, interpolation, border,
                                         fill_value, None, None, add, clip)
    assert add is None and clip is None, "a fused brightness change needs a uint8 batch"
    x = _to_float(x)
    if x.shape[-1] <= 4:
        return _core.image.augment_batch(x, forward, interpolation, border, fill_value, None, None)
    return np.concatenate([_core.image.augment_batch(np.ascontiguousarray(x[..., c:c + 4]), forward,
                                                     interpolation, border, fill_value, None, None)
                           for c in range(0, x.shape[-1], 4)], axis=-1)


def run_chain(layers: Sequence[Any], x: np.ndarray) -> np.ndarray:
    """Apply the random ``layers`` in training mode to ``x`` (``N x H x W x C`` float32 or
    uint8); returns a new float32 batch (``x`` is never modified)."""
    n = x.shape[0]
    owned = False                                   # whether x is our own float32 copy
    maps: Optional[np.ndarray] = None               # composed output -> input maps
    options: Optional[Tuple[str, str, float]] = None

    def flush() -> None:
        nonlocal x, maps, options, owned
        if maps is not None:
            if not np.all(maps == np.eye(3)):
                x = warp_batch(x, maps, options or ("reflect", "bilinear", 0.0))
                owned = True
            maps, options = None, None

    for layer in layers:
        layer._identity = False
        kind = layer._kind
        h, w = x.shape[1], x.shape[2]
        params = layer._draw(n, h, w)
        if kind == "warp":
            opts = layer.warp_options()
            if maps is not None and opts is not None and options is not None and opts != options:
                flush()
            m = layer.matrices(params, h, w)
            maps = m if maps is None else maps @ m
            options = options or opts
            continue
        if maps is not None and _fuses_into_warp(layer, x):
            # brightness right after the warps: added and clipped in the warp's own store
            x = warp_batch(x, maps, options or ("reflect", "bilinear", 0.0),
                           np.asarray(params, np.float32), layer.value_range)
            maps, options, owned = None, None, True
            continue
        flush()
        if kind == "crop":
            x = layer._apply(x, params)
            owned = True
        else:
            if not owned:
                x, owned = _own_float(x), True
            layer.apply_(x, params)
    flush()
    return x if owned else _own_float(x)


def _fuses_into_warp(layer: Any, x: np.ndarray) -> bool:
    """Whether ``layer`` can run inside the native warp of the uint8 batch ``x``: a layer that
    says so (``_fuses_into_warp``: RandomBrightness, an add then a clip per image) on at most 4
    channels."""
    return getattr(layer, "_fuses_into_warp", False) and x.dtype == np.uint8 and x.shape[-1] <= 4


class _Chain:
    """Several random layers run as one model step (what :func:`fuse_steps` makes)."""

    def __init__(self, layers: List[Any]) -> None:
        self.layers = layers
        self.name = "+".join(layer.name for layer in layers)

    def call(self, x: np.ndarray, training: bool = False) -> np.ndarray:
        if not training:
            for layer in self.layers:
                x = layer.call(x, False)
            return x
        return run_chain(self.layers, x)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[np.ndarray]:
        raise NotImplementedError(f"layers {self.name} have no gradient while they augment; put "
                                  "preprocessing layers before the first layer that learns")


def fuse_steps(steps: Sequence[Any], output_id: int) -> List[Any]:
    """``steps`` (a model's ``(layer, inputs, output, multi)`` steps, possibly with other fused
    steps among them) with each run of two or more consecutive random preprocessing layers,
    each feeding only the next, replaced by one step whose layer runs them as a chain."""
    def plain(step: Any) -> bool:   # a (layer, inputs, output, multi) step, not a fused one
        return type(step) is tuple

    uses: Counter = Counter()
    for step in steps:
        uses.update(step[1] if plain(step) else (step.src,))
    uses[output_id] += 1
    out: List[Any] = []
    run: List[Any] = []

    def close() -> None:
        if len(run) >= 2:
            out.append((_Chain([s[0] for s in run]), run[0][1], run[-1][2], False))
        else:
            out.extend(run)
        run.clear()

    for step in steps:
        ok = plain(step) and not step[3] and chainable(step[0])
        if ok and run and not (step[1] == (run[-1][2],) and uses[run[-1][2]] == 1):
            close()
        if ok:
            run.append(step)
        else:
            close()
            out.append(step)
    close()
    return out
