"""Data preparation (``foveal.data``): Keras-compatible ``ImageDataGenerator`` and its iterators.

``ImageDataGenerator`` configures real-time augmentation and normalization; ``flow`` (arrays)
and ``flow_from_directory`` (one folder per class) give iterators that ``foveal.nn`` models
train on directly::

    gen = ImageDataGenerator(rescale=1 / 255, rotation_range=15, horizontal_flip=True,
                             validation_split=0.2)
    train = gen.flow_from_directory("photos", target_size=(64, 64), subset="training", seed=1)
    val = gen.flow_from_directory("photos", target_size=(64, 64), subset="validation", seed=1)
    model.fit(train, validation_data=val, epochs=10)

``image_dataset_from_directory(folder, ...)`` is Keras 3's dataset of a folder of images
(tf.data-style ``map``/``cache``/``prefetch``/``shuffle``/``batch``; see
:mod:`foveal.data.dataset`); ``flow_from_directory(..., cache="memory")`` and
``dataset.cache()`` keep the decoded images so later epochs read no file.

``augmentation_preview(folder)`` draws a grid of images and random augmentations of each (also
``foveal augment-preview DIR -o grid.png``).

Keras 3's legacy API is the specification; the deliberate differences (shift axes, brightness
on float data, seeded per-iterator randomness, unaugmented validation subsets, skipped
unreadable files, the ``"wrap"`` period, resizing without antialiasing) are listed in
:mod:`foveal.data.generator` and :mod:`foveal.data.iterators`.
"""

from __future__ import annotations

from .dataset import AUTOTUNE, image_dataset_from_directory
from .generator import ImageDataGenerator
from .iterators import DirectoryIterator, NumpyArrayIterator
from .preview import augmentation_preview

__all__ = ["ImageDataGenerator", "NumpyArrayIterator", "DirectoryIterator", "augmentation_preview",
           "image_dataset_from_directory", "AUTOTUNE"]
