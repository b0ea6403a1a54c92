"""Neural-network operators (``foveal.nn.functional``); layers and models come on top of them."""

from . import functional

__all__ = ["functional"]
