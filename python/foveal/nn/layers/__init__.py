"""Keras-style layers that train on the native kernels (``foveal.nn.layers``).

Every layer standardizes its arguments once in ``__init__``, creates its weights in
``build(input_shape)``, and has a forward ``call(x, training)`` that keeps what its
``backward(dy, need_dx)`` needs.  ``backward`` stores the weight gradients on the weights
(``weight.grad``) and returns the input gradient (``None`` when ``need_dx`` is false: the model
asks for none where nothing upstream learns, e.g. the first convolution).  Weights use Keras's
names, order and layouts, so ``get_weights``/``set_weights`` carry over from Keras.

Layers are called like Keras layers: on a symbolic tensor from :func:`Input` to build a
functional :class:`~foveal.nn.Model`, or eagerly on an array (inference mode by default).

One module per family: ``base`` (:class:`Layer`, :class:`Weight`, the registry), ``core``,
``convolutional``, ``pooling``, ``normalization``, ``activation``, ``merging`` and
``reshaping``, and the Keras 3 preprocessing layers in ``preprocessing``,
``random_geometric`` and ``random_color``.
"""

from ..functional import batch_norm_inference, batch_norm_train_backward, batch_norm_train_forward
from .activation import Activation, ReLU, Softmax
from .base import Layer, SymbolicTensor, Weight, get, register_layer, serialize
from .convolutional import Conv2D, Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from .core import Dense, Dropout, Flatten, Input, InputLayer, Rescaling
from .merging import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract
from .normalization import BatchNormalization
from .pooling import AveragePooling2D, GlobalAveragePooling2D, GlobalMaxPooling2D, MaxPooling2D
from .reshaping import Reshape, UpSampling2D, ZeroPadding2D
from .preprocessing import CenterCrop, Normalization, RandomCrop, Resizing
from .random_color import RandomBrightness, RandomContrast
from .random_geometric import RandomFlip, RandomRotation, RandomTranslation, RandomZoom

# Public names of the one module this package replaced, importable from here as before.
from ..functional import softmax_backward  # noqa: F401
from .activation import ACTIVATIONS  # noqa: F401
from .base import Shape, unique_name  # noqa: F401

__all__ = [
    "Weight", "SymbolicTensor", "Layer", "InputLayer", "Input", "Conv2D", "DepthwiseConv2D",
    "MaxPooling2D", "AveragePooling2D", "GlobalAveragePooling2D", "GlobalMaxPooling2D", "Flatten",
    "Dense", "Dropout", "BatchNormalization", "Activation", "ReLU", "Softmax", "Rescaling", "Add",
    "Concatenate", "batch_norm_train_forward", "batch_norm_train_backward", "batch_norm_inference",
    "get", "serialize", "register_layer",
    "Subtract", "Multiply", "Average", "Maximum", "Minimum", "ZeroPadding2D", "UpSampling2D", "Reshape",
    "SeparableConv2D", "Conv2DTranspose",
    "RandomFlip", "RandomRotation", "RandomZoom", "RandomTranslation", "RandomBrightness",
    "RandomContrast", "Resizing", "CenterCrop", "RandomCrop", "Normalization",
]

