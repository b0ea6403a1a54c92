"""``foveal.transfer.layer``: where :class:`~foveal.transfer.OnnxBackboneLayer` used to live.

The layer is the backbone's layer form and lives beside :class:`~foveal.transfer.OnnxBackbone`
in ``foveal.transfer.backbone`` (each class makes the other); its feature cache is
``foveal.transfer._cache``. This module keeps the old import path working.
"""

from __future__ import annotations

from .backbone import CacheInfo, OnnxBackboneLayer

__all__ = ["OnnxBackboneLayer", "CacheInfo"]
