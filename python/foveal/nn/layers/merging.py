"""Merging layers (``foveal.nn.layers.merging``): layers that take a list of inputs,
:class:`Add`, :class:`Subtract`, :class:`Multiply`, :class:`Average`, :class:`Maximum`,
:class:`Minimum` (elementwise, broadcasting as Keras 3) and :class:`Concatenate`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from ... import _core
from ..._checks import as_int
from .base import Layer, Shape, _shape_str, register_layer

__all__ = ["Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"]


class _Merge(Layer):
    multi_input = True

    def _shapes(self, input_shape: Any) -> List[Shape]:
        if not isinstance(input_shape, (list, tuple)) or not input_shape or not isinstance(
                input_shape[0], (list, tuple)):
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) takes a list of inputs")
        if len(input_shape) < 2:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs at least 2 inputs, "
                             f"got {len(input_shape)}")
        return [tuple(s) for s in input_shape]


class _Elementwise(_Merge):
    """Keras 3's elementwise merge: inputs agree on the batch size; the other axes broadcast
    where one of them is 1 (a squeeze-excite ``N x 1 x 1 x C`` times ``N x H x W x C``), and an
    input of lower rank gets axes of size 1 inserted after the batch axis (``N x C`` with
    ``N x H x W x C``). The input gradients are summed back over the broadcast axes."""

    #: exactly this many inputs (None: two or more)
    _n_inputs: Optional[int] = None

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def _shapes(self, input_shape: Any) -> List[Shape]:
        shapes = super()._shapes(input_shape)
        if self._n_inputs is not None and len(shapes) != self._n_inputs:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) takes exactly "
                             f"{self._n_inputs} inputs, got {len(shapes)}")
        return shapes

    def _check_input_shape(self, input_shape: Any) -> None:
        self.compute_output_shape(input_shape)

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._shapes(input_shape)
        if any(len(s) < 1 for s in shapes):
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs inputs with a batch "
                             "axis")
        batch = {s[0] for s in shapes} - {None}
        if len(batch) > 1:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one batch "
                             f"size, got {', '.join(_shape_str(t) for t in shapes)}")
        rank = max(len(s) for s in shapes) - 1
        out: List[Optional[int]] = [1] * rank
        for s in shapes:
            tail = (1,) * (rank - len(s) + 1) + tuple(s[1:])
            for i, (a, b) in enumerate(zip(out, tail)):
                if a == 1 or a == b:
                    out[i] = b
                elif b == 1:
                    out[i] = a
                elif a is None or b is None:
                    out[i] = None
                else:
                    raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of "
                                     "one shape, or shapes that broadcast (axes of size 1), got "
                                     f"{', '.join(_shape_str(t) for t in shapes)}")
        return (next(iter(batch)) if batch else None,) + tuple(out)

    def call(self, xs: List[np.ndarray], training: bool = False) -> np.ndarray:
        if len({x.shape[0] for x in xs}) > 1:
            raise ValueError(f"layer {self.name!r} ({type(self).__name__}) needs inputs of one batch "
                             f"size, got {', '.join(_shape_str(x.shape) for x in xs)}")
        rank = max(x.ndim for x in xs)
        self._in_shapes = [x.shape for x in xs]
        xs = [x if x.ndim == rank else x.reshape(x.shape[:1] + (1,) * (rank - x.ndim) + x.shape[1:])
              for x in xs]
        self._xs = xs
        y = self._merge(xs)
        self._out_shape = y.shape
        return np.ascontiguousarray(y, dtype=np.float32)

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        raise NotImplementedError

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[List[np.ndarray]]:
        if not need_dx:
            return None
        out = []
        for g, x, shape in zip(self._grads(dy), self._xs, self._in_shapes):
            if g.shape != x.shape:
                axes = tuple(a for a in range(len(self._out_shape)) if x.shape[a] == 1
                             and self._out_shape[a] != 1)
                g = np.broadcast_to(g, self._out_shape).sum(axis=axes, keepdims=True, dtype=np.float32)
            out.append(np.ascontiguousarray(g, dtype=np.float32).reshape(shape))
        return out


@register_layer
class Add(_Elementwise):
    """Elementwise sum of a list of inputs (Keras ``Add``; shapes broadcast as Keras 3)."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        a, b = xs[0], xs[1]
        if a.shape == b.shape and a.dtype == b.dtype == np.float32:
            y = _core.add(a, b)     # the same sums, on foveal's threads (a residual connection)
        else:
            y = a + b
        for x in xs[2:]:
            if np.broadcast_shapes(y.shape, x.shape) == y.shape:
                y += x
            else:
                y = y + x
        return y

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        return [dy] * len(self._xs)

    def call_activated(self, xs: List[np.ndarray], activation: str) -> np.ndarray:
        """``activation(a + b)`` in one pass for two float32 inputs of one shape (a residual
        connection and the ReLU after it in a training step: the same sums, then the same
        activation), keeping what ``backward`` needs; other inputs: ``call``, then the
        activation."""
        if (len(xs) == 2 and xs[0].shape == xs[1].shape and xs[0].ndim >= 1 and xs[0].shape[0] > 0
                and xs[0].dtype == xs[1].dtype == np.float32):
            self._in_shapes = [x.shape for x in xs]
            self._xs = list(xs)
            y = _core.add(xs[0], xs[1], activation)
            self._out_shape = y.shape
            return y
        return _core.activation(self.call(xs, True), activation)


@register_layer
class Subtract(_Elementwise):
    """``inputs[0] - inputs[1]`` (Keras ``Subtract``: exactly two inputs; shapes broadcast)."""

    _n_inputs = 2

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        return xs[0] - xs[1]

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        return [dy, -dy]


@register_layer
class Multiply(_Elementwise):
    """Elementwise product of a list of inputs (Keras ``Multiply``; shapes broadcast, so a
    squeeze-excite block's ``N x 1 x 1 x C`` gates scale ``N x H x W x C`` features)."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        y = xs[0] * xs[1]
        for x in xs[2:]:
            y = y * x
        return y

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        xs = self._xs
        grads = []
        for i in range(len(xs)):
            g = dy
            for j, x in enumerate(xs):
                if j != i:
                    g = g * x
            grads.append(g)
        return grads


@register_layer
class Average(_Elementwise):
    """Elementwise mean of a list of inputs (Keras ``Average``: the sum divided by their count;
    shapes broadcast)."""

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        a, b = xs[0], xs[1]
        if a.shape == b.shape and a.dtype == b.dtype == np.float32:
            y = _core.add(a, b)     # the same sums, on foveal's threads (a residual connection)
        else:
            y = a + b
        for x in xs[2:]:
            y = y + x
        return y / np.float32(len(xs))

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        return [dy / np.float32(len(self._xs))] * len(self._xs)


class _Extremum(_Elementwise):
    _fn = staticmethod(np.maximum)

    def _merge(self, xs: List[np.ndarray]) -> np.ndarray:
        y = type(self)._fn(xs[0], xs[1])
        for x in xs[2:]:
            y = type(self)._fn(y, x)
        self._y = y
        return y

    def _grads(self, dy: np.ndarray) -> List[np.ndarray]:
        # Each element's gradient goes to the first input holding the extremum (TensorFlow's
        # maximum/minimum gradient, applied left to right as Keras merges).
        taken = np.zeros(self._y.shape, bool)
        grads = []
        zero = np.float32(0)
        for x in self._xs:
            hit = (x == self._y) & ~taken
            taken |= hit
            grads.append(np.where(hit, dy, zero))
        return grads


@register_layer
class Maximum(_Extremum):
    """Elementwise maximum of a list of inputs (Keras ``Maximum``; shapes broadcast). Where
    several inputs hold the maximum, the first of them gets its gradient."""

    _fn = staticmethod(np.maximum)


@register_layer
class Minimum(_Extremum):
    """Elementwise minimum of a list of inputs (Keras ``Minimum``; as :class:`Maximum`)."""

    _fn = staticmethod(np.minimum)


@register_layer
class Concatenate(_Merge):
    """Concatenate a list of inputs along ``axis`` (Keras ``Concatenate``, default last axis)."""

    def __init__(self, axis: int = -1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.axis = as_int(axis, "axis")

    def _axis(self, rank: int) -> int:
        ax = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= ax < rank:
            raise ValueError(f"layer {self.name!r} (Concatenate): axis {self.axis} is out of range "
                             f"(or the batch axis) for rank-{rank} inputs")
        return ax

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        ax = self._axis(len(shapes[0]))
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(
                    i != ax and a is not None and b is not None and a != b
                    for i, (a, b) in enumerate(zip(s, shapes[0]))):
                raise ValueError(f"layer {self.name!r} (Concatenate) needs inputs that agree on "
                                 f"every axis but {self.axis}, got "
                                 f"{', '.join(_shape_str(t) for t in shapes)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._shapes(input_shape)
        ax = self._axis(len(shapes[0]))
        out = list(shapes[0])
        sizes = [s[ax] for s in shapes]
        out[ax] = None if any(d is None for d in sizes) else sum(sizes)
        return tuple(out)

    def call(self, xs: List[np.ndarray], training: bool = False) -> np.ndarray:
        ax = self._axis(xs[0].ndim)
        self._ax = ax
        self._splits = np.cumsum([x.shape[ax] for x in xs])[:-1]
        return np.concatenate(xs, axis=ax)

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[List[np.ndarray]]:
        return [np.ascontiguousarray(p) for p in np.split(dy, self._splits, axis=self._ax)]

    def get_config(self) -> Dict[str, Any]:
        return {**super().get_config(), "axis": self.axis}
