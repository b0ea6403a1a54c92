"""Neural networks on the native core (``foveal.nn``): Keras-style layers and models that train.

``foveal.nn.functional`` holds the operators (forward and backward); on top of them come the
layers, :class:`Sequential` and functional :class:`Model` with ``compile``/``fit``/``evaluate``/
``predict``/``save``, and the optimizers, losses, metrics, callbacks and initializers, with
Keras's names, defaults, weight layouts and update rules.
"""

from . import callbacks, functional, initializers, layers, losses, metrics, mixed_precision, optimizers
from .layers import (
    Activation, Add, AveragePooling2D, BatchNormalization, Concatenate, Conv2D, Dense,
    DepthwiseConv2D, Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input, InputLayer,
    Layer, MaxPooling2D, ReLU, Rescaling, Softmax, register_layer,
)
from .layers import (
    Average, Conv2DTranspose, Maximum, Minimum, Multiply, Reshape, SeparableConv2D, Subtract,
    UpSampling2D, ZeroPadding2D,
)
from .layers import (
    CenterCrop, Normalization, RandomBrightness, RandomContrast, RandomCrop, RandomFlip,
    RandomRotation, RandomTranslation, RandomZoom, Resizing,
)
from ._onnx_import import load_onnx
from .models import Model, Sequential, load_model

__all__ = [
    "functional", "layers", "callbacks", "initializers", "losses", "metrics", "mixed_precision", "optimizers",
    "Model", "Sequential", "load_model", "Input", "InputLayer", "Layer", "Conv2D", "DepthwiseConv2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
    "Dense", "Dropout", "BatchNormalization", "Activation", "ReLU", "Softmax", "Rescaling", "Add",
    "Concatenate", "register_layer",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "ZeroPadding2D", "UpSampling2D", "Reshape",
    "SeparableConv2D", "Conv2DTranspose", "load_onnx",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness",
    "RandomContrast", "Resizing", "CenterCrop", "RandomCrop", "Normalization",
]
