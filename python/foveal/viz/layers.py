"""What a convolutional network has learned: its first layer's kernels and a layer's feature
maps for one image."""

from __future__ import annotations

from typing import Any, List

import numpy as np

from ._figure import check_path, finish, grid, new_figure, show

#: feature maps drawn at most (a wide layer's first ones; the title says how many there are)
MAX_MAPS = 64


def _kernel(layer: Any) -> np.ndarray:
    """The ``kh x kw x cin x cout`` kernel of a conv layer, or of a model's first one."""
    if hasattr(layer, "layers") and not hasattr(layer, "kernel"):   # a model: its first conv
        for sub in layer.layers:
            weights = sub.get_weights() if hasattr(sub, "get_weights") else []
            if weights and np.ndim(weights[0]) == 4:
                return np.asarray(weights[0], np.float64), sub
        raise ValueError("layer: the model has no convolution layer (no 4-D kernel)")
    if not hasattr(layer, "get_weights"):
        raise TypeError(f"layer must be a convolution layer (or a model), got "
                        f"{type(layer).__name__}")
    weights = layer.get_weights()
    if not weights or np.ndim(weights[0]) != 4:
        raise ValueError(f"layer: {getattr(layer, 'name', type(layer).__name__)!r} has no 4-D "
                         "kernel (kh x kw x in x out); give a Conv2D layer (built)")
    return np.asarray(weights[0], np.float64), layer


def show_filters(layer: Any, path: Any = None) -> Any:
    """The kernels of a convolution layer as small images, one per filter.

    Args:
        layer: a built ``Conv2D`` (or any layer whose first weight is a ``kh x kw x in x out``
            kernel; Keras's too), or a model (its first such layer).
        path: where to save the figure as a PNG (written atomically); None: not saved.

    Returns:
        The matplotlib ``Figure``: one ``Axes`` per filter (titled with its index), 8 per row.
        Three input channels are drawn as an RGB image, one as gray, more as their mean in
        gray; all filters share one min-max scale, so their strengths compare.

    Raises:
        TypeError: ``layer`` has no weights; ValueError: it (or the model) has no 4-D kernel.
    """
    kernel, owner = _kernel(layer)
    path = check_path(path)
    lo, hi = float(kernel.min()), float(kernel.max())
    scaled = (kernel - lo) / (hi - lo) if hi > lo else np.full_like(kernel, 0.5)
    cin, cout = kernel.shape[2], kernel.shape[3]
    rows, cols = grid(cout, 8)
    fig = new_figure(1.2 * cols, 1.2 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k >= cout:
            ax.remove()
            continue
        f = scaled[:, :, :, k]
        show(ax, f if cin == 3 else f.mean(axis=2), str(k))
    how = {1: "gray", 3: "RGB"}.get(cin, f"mean of {cin} input channels")
    fig.suptitle(f"{getattr(owner, 'name', 'conv')}: {cout} filters "
                 f"{kernel.shape[0]}x{kernel.shape[1]} ({how})")
    return finish(fig, path)


def _output_of(model: Any, layer: Any) -> Any:
    """The symbolic tensor that ``layer`` (an object, or a name) produces in ``model``."""
    layers = model.layers
    if isinstance(layer, str):
        target = next((l for l in layers if getattr(l, "name", None) == layer), None)
        if target is None:
            raise ValueError(f"layer: no layer named {layer!r}; layers: "
                             f"{', '.join(l.name for l in layers)}")
    elif any(l is layer for l in layers):
        target = layer
    else:
        raise ValueError(f"layer: {getattr(layer, 'name', layer)!r} is not a layer of this model "
                         "(give a layer object of model.layers or a layer name)")
    stack: List[Any] = list(model.outputs)
    seen = set()
    while stack:   # walk back from the outputs to the tensor the layer produced
        t = stack.pop()
        if id(t) in seen:
            continue
        seen.add(id(t))
        if t.layer is target:
            return t, target
        stack.extend(t.inputs)
    raise ValueError(f"layer: {target.name!r} does not feed the model's output")


def show_feature_maps(model: Any, image: Any, layer: Any, path: Any = None) -> Any:
    """A layer's feature maps for one image: the image, then each output channel as a picture.

    The maps come from a sub-model ``Model(model.input, <layer's output>)`` sharing the
    model's layers and weights (run in inference), as one would build it in Keras.

    Args:
        model: a ``foveal.nn`` model (``Sequential`` or functional).
        image: one ``H x W x C`` image (or a batch of one), prepared as the model expects it
            (e.g. rescaled to 0..1).
        layer: the layer, or its name; its output must be ``1 x h x w x channels``
            (channels-last).
        path: where to save the figure as a PNG (written atomically); None: not saved.

    Returns:
        The matplotlib ``Figure``: the first ``Axes`` shows the image (titled ``"input"``),
        each following one a channel (titled with its index, ``viridis`` colours, each map
        scaled to its own range); at most 64 maps, the title says how many the layer has.

    Raises:
        TypeError: ``model`` is not a foveal model; ValueError: ``layer`` is not in it, its
        output is not a stack of 2-D maps, or ``image`` is not one image.
    """
    from ..nn import Model

    if not isinstance(model, Model):
        raise TypeError(f"model must be a foveal.nn model (Sequential or Model), got "
                        f"{type(model).__name__}")
    x = np.asarray(image, dtype=np.float32)
    if x.ndim == 4 and x.shape[0] == 1:
        x = x[0]
    if x.ndim == 2:
        x = x[..., None]
    if x.ndim != 3 or x.size == 0:
        raise ValueError(f"image must be one H x W x C image, got shape {np.shape(image)}")
    path = check_path(path)
    if not model.built:
        model._ensure_built((1,) + x.shape)
    tensor, target = _output_of(model, layer)
    sub = Model(model.input, tensor, name=f"{model.name}_to_{target.name}")
    maps = np.asarray(sub(x[None]))
    if maps.ndim != 4:
        raise ValueError(f"layer: {target.name!r} gives shape {maps.shape}, not feature maps "
                         "(1 x h x w x channels); pick a convolution or pooling layer")
    maps = maps[0]
    if getattr(target, "data_format", "channels_last") == "channels_first":
        maps = np.moveaxis(maps, 0, -1)
    channels = maps.shape[-1]
    shown = min(channels, MAX_MAPS)
    rows, cols = grid(shown + 1, 8)
    fig = new_figure(1.5 * cols, 1.5 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False)
    for k, ax in enumerate(axes.flat):
        if k == 0:
            show(ax, x if x.shape[2] in (1, 3, 4) else x.mean(axis=2), "input")
        elif k <= shown:
            m = maps[..., k - 1].astype(np.float64)
            lo, hi = float(m.min()), float(m.max())
            show(ax, (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m), str(k - 1),
                 cmap="viridis", vmin=0.0, vmax=1.0)
        else:
            ax.remove()
    more = f", first {shown} shown" if shown < channels else ""
    fig.suptitle(f"{target.name}: {channels} feature maps of {maps.shape[0]}x{maps.shape[1]}{more}")
    return finish(fig, path)
