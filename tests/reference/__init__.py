"""The references every test compares foveal with, in one place:

* ``reference.nn``: float64 NumPy forward and backward passes of ``foveal.nn.functional``;
* ``reference.image``: the ``foveal.image`` ops computed with OpenCV 5 (float64 NumPy where it
  falls short), and the exact float64 samplers behind them.

The package re-exports ``reference.nn``, so ``import reference; reference.conv2d(...)`` works.
tests/check.py's ``check_op`` runs foveal and these on the same arguments and compares them;
tests/test_reference.py checks the nn references against direct loops, test_nn_gradients.py
their backward passes against finite differences.
"""
from . import nn  # noqa: F401
from .nn import *  # noqa: F401,F403
