"""Merging layers (``foveal.nn.layers.merging``): layers that take a list of inputs,
:class:`Add` and :class:`Concatenate`.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import numpy as np

from ..._checks import as_int
from .base import Layer, Shape, _shape_str, register_layer

__all__ = ["Add", "Concatenate"]


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


@register_layer
class Add(_Merge):
    """Elementwise sum of a list of inputs of the same shape (Keras ``Add``)."""

    def build(self, input_shape: Any) -> None:
        self._check_input_shape(input_shape)
        self.built = True

    def _check_input_shape(self, input_shape: Any) -> None:
        shapes = self._shapes(input_shape)
        for s in shapes[1:]:
            if len(s) != len(shapes[0]) or any(
                    a is not None and b is not None and a != b for a, b in zip(s, shapes[0])):
                raise ValueError(f"layer {self.name!r} (Add) needs inputs of one shape, got "
                                 f"{', '.join(_shape_str(t) for t in shapes)}")

    def compute_output_shape(self, input_shape: Any) -> Shape:
        shapes = self._shapes(input_shape)
        return tuple(next((s[i] for s in shapes if s[i] is not None), None)
                     for i in range(len(shapes[0])))

    def call(self, xs: List[np.ndarray], training: bool = False) -> np.ndarray:
        self._n = len(xs)
        y = xs[0] + xs[1]
        for x in xs[2:]:
            y += x
        return y

    def backward(self, dy: np.ndarray, need_dx: bool = True) -> Optional[List[np.ndarray]]:
        return [dy] * self._n


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
