"""The CUDA build's operators (``foveal._cuda``) behind foveal's own signatures.

``foveal.set_device("cuda")`` routes ``foveal.nn.functional``'s convolution, pooling, dense,
activation, softmax, batch normalization, dropout and spatial layout ops and ``foveal.image``'s
``warp_affine``, ``resize``, ``filter2d``, ``convolve2d``, ``gaussian_blur``, ``laplacian`` and
``sobel`` here (``foveal._device.routed``); ``augment_batch``, ``apply_batch`` and ``warp_batch``
are the fused augmentation's GPU forms.
Each takes NumPy arrays (copied to the GPU and back) or device arrays (CuPy, PyTorch CUDA tensors,
anything with ``__cuda_array_interface__`` or CUDA DLPack; used in place) and returns results of
the kind of its first array argument. Importing this package needs a CUDA build (``foveal._cuda``).
"""

from __future__ import annotations

from . import augment, filters, image, layout, nn, train
from ._memory import (DeviceArray, download_into, download_many, empty_cache, host_mode, reset_transfer_counts,
                      to_device, transfer_counts, upload_into)
from .augment import apply_batch, augment_batch, warp_batch
from .filters import convolve2d, filter2d, gaussian_blur, laplacian, sobel
from .image import resize, warp_affine
from .layout import upsample2d, upsample2d_backward, zero_pad2d, zero_pad2d_backward
from .nn import (activation, activation_backward, adam_step, add, avg_pool2d, avg_pool2d_backward, conv2d,
                 conv2d_backward, dense, dense_backward, depthwise_conv2d, depthwise_conv2d_backward,
                 global_avg_pool2d, global_avg_pool2d_backward, global_max_pool2d, global_max_pool2d_backward,
                 max_pool2d, max_pool2d_backward, relu, sgd_step, sigmoid, tanh)
from .train import (batch_norm_act_train_backward, batch_norm_act_train_forward, batch_norm_inference,
                    batch_norm_inference_backward, batch_norm_train_backward, batch_norm_train_forward,
                    batch_norm_update_moving, dropout, dropout_apply, dropout_backward, rmsprop_step, softmax,
                    softmax_cross_entropy, sparse_softmax_cross_entropy)

__all__ = ["DeviceArray", "host_mode", "to_device", "transfer_counts", "reset_transfer_counts", "upload_into",
           "download_into", "download_many", "empty_cache", "add", "dropout_apply", "augment", "filters", "image", "layout", "nn", "train",
           "resize", "warp_affine", "filter2d", "convolve2d", "gaussian_blur", "laplacian", "sobel",
           "augment_batch", "apply_batch", "warp_batch",
           "activation", "activation_backward", "adam_step", "avg_pool2d", "avg_pool2d_backward", "conv2d",
           "conv2d_backward", "dense", "dense_backward", "depthwise_conv2d", "depthwise_conv2d_backward",
           "global_avg_pool2d", "global_avg_pool2d_backward", "global_max_pool2d", "max_pool2d",
           "max_pool2d_backward", "relu", "sgd_step", "sigmoid", "tanh", "global_max_pool2d_backward",
           "zero_pad2d", "zero_pad2d_backward", "upsample2d", "upsample2d_backward",
           "batch_norm_train_forward", "batch_norm_train_backward", "batch_norm_act_train_forward",
           "batch_norm_act_train_backward", "batch_norm_inference", "batch_norm_inference_backward",
           "batch_norm_update_moving", "dropout", "dropout_backward", "softmax", "softmax_cross_entropy",
           "sparse_softmax_cross_entropy", "rmsprop_step"]
