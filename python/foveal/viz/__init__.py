"""foveal.viz: pictures of data, training and networks, drawn with matplotlib.

Each function returns the matplotlib ``Figure`` (shown in a notebook, or by ``plt.show()`` where
pyplot is in use) and, given ``path``, saves it as a PNG, written atomically::

    history = model.fit(train, epochs=10, validation_data=val)
    foveal.viz.plot_history(history, path="curves.png")
    foveal.viz.show_images(x[:16], y[:16], class_names=["cat", "dog"])
    foveal.viz.show_filters(model.layers[0])
    foveal.viz.show_feature_maps(model, x[0], "conv2d")
    foveal.viz.show_augmentations(ImageDataGenerator(rotation_range=20), x[:4])

matplotlib is imported when a function first runs, not with ``import foveal``.
"""

from __future__ import annotations

from .history import plot_history
from .images import show_augmentations, show_images
from .layers import show_feature_maps, show_filters

__all__ = ["plot_history", "show_augmentations", "show_feature_maps", "show_filters", "show_images"]
