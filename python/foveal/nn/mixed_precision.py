"""Mixed precision (``foveal.nn.mixed_precision``), Keras 3's names: a dtype policy says in which
type a layer computes and in which it keeps its weights.

- ``"float32"`` (the default): everything in float32.
- ``"mixed_bfloat16"``: convolutions (``Conv2D``, ``DepthwiseConv2D``, ``SeparableConv2D``,
  ``Conv2DTranspose``) and ``Dense`` compute with bfloat16 operands and float32 accumulation,
  forward and backward (inputs, kernels and incoming gradients rounded to bfloat16,
  round-to-nearest-even; biases and bias gradients in float32). Weights, optimizer state,
  BatchNormalization statistics, losses and softmax stay float32, and layer outputs are float32
  arrays (NumPy has no bfloat16).

A product of two bfloat16 numbers is exact in float32, so rounding the operands and running the
float32 kernels computes exactly what a bfloat16 dot-product instruction (AVX512_BF16
``vdpbf16ps``) with float32 accumulation computes, up to the order of the sums: results agree
across ISAs within bfloat16 tolerance, and differ from the float32 policy by about bfloat16's
precision (8 bits of mantissa).

A layer takes its policy when it is made: its ``dtype=`` argument (a policy name or
:class:`DTypePolicy`), else the global policy of :func:`set_global_policy` at that moment, as in Keras.
"""

from __future__ import annotations

from typing import Any, Union

import numpy as np

__all__ = ["DTypePolicy", "Policy", "set_global_policy", "global_policy", "set_dtype_policy", "dtype_policy",
           "round_to_bfloat16"]

_COMPUTE = {"float32": "float32", "mixed_bfloat16": "bfloat16"}


class DTypePolicy:
    """A dtype policy (Keras's ``keras.DTypePolicy``): ``name`` in ``"float32"``,
    ``"mixed_bfloat16"``; ``compute_dtype`` (``"float32"`` or ``"bfloat16"``) and
    ``variable_dtype`` (always ``"float32"``)."""

    def __init__(self, name: str = "float32") -> None:
        self.name: str = _policy_name(name, "name")

    @property
    def compute_dtype(self) -> str:
        """The type the layer's multiply-adds take their operands in."""
        return _COMPUTE[self.name]

    @property
    def variable_dtype(self) -> str:
        """The type the layer's weights are kept in: float32 under every policy."""
        return "float32"

    def get_config(self) -> dict:
        return {"name": self.name}

    @classmethod
    def from_config(cls, config: dict) -> "DTypePolicy":
        return cls(**config)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, DTypePolicy) and other.name == self.name

    def __hash__(self) -> int:
        return hash(self.name)

    def __repr__(self) -> str:
        return f'<DTypePolicy "{self.name}">'


#: Keras 2's name for it.
Policy = DTypePolicy


def _policy_name(policy: Any, what: str) -> str:
    if isinstance(policy, DTypePolicy):
        return policy.name
    if isinstance(policy, dict):   # a serialized policy, as Keras 3 writes it in a layer's config
        config = policy.get("config", policy)
        if not isinstance(config, dict) or "name" not in config:
            raise ValueError(f"{what} must name a dtype policy, got {policy!r}")
        return _policy_name(config["name"], what)
    if policy is np.float32 or (isinstance(policy, np.dtype) and policy == np.float32):
        return "float32"
    if not isinstance(policy, str):
        raise TypeError(f"{what} must be a dtype policy name ('float32' or 'mixed_bfloat16') or a "
                        f"DTypePolicy, got {type(policy).__name__}")
    if policy not in _COMPUTE:
        raise ValueError(f"{what} must be 'float32' or 'mixed_bfloat16' (foveal keeps weights in "
                         f"float32; 'mixed_float16' and pure 'bfloat16' are not supported), got {policy!r}")
    return policy


_global = {"policy": DTypePolicy("float32")}


def set_global_policy(policy: Union[str, DTypePolicy]) -> None:
    """Set the policy that layers made from now on take when their ``dtype=`` is not given
    (``"float32"`` or ``"mixed_bfloat16"``, or a :class:`DTypePolicy`)."""
    _global["policy"] = DTypePolicy(_policy_name(policy, "policy"))


def global_policy() -> DTypePolicy:
    """The global policy (``"float32"`` unless :func:`set_global_policy` changed it)."""
    return _global["policy"]


#: Keras 3's ``keras.config`` names for the same two functions.
set_dtype_policy = set_global_policy
dtype_policy = global_policy


def resolve(dtype: Any) -> DTypePolicy:
    """A layer's policy from its ``dtype=`` argument (None: the global policy now)."""
    if dtype is None:
        return global_policy()
    return DTypePolicy(_policy_name(dtype, "dtype"))


def round_to_bfloat16(x: Any) -> np.ndarray:
    """``x`` (float32) rounded to the nearest bfloat16, ties to even, returned as float32 (the low
    16 bits zero). NaN stays NaN, infinities stay, values beyond bfloat16's largest round to
    infinity, as the hardware's conversion does."""
    a = np.asarray(x, dtype=np.float32)
    if not a.flags.c_contiguous:
        a = np.ascontiguousarray(a)
    u = a.view(np.uint32)
    rounded = u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))
    rounded &= np.uint32(0xFFFF0000)
    nan = np.isnan(a)
    if nan.any():  # keep NaNs NaN (the carry could turn a NaN's payload into an infinity)
        rounded[nan] = (u[nan] | np.uint32(0x00400000)) & np.uint32(0xFFFF0000)
    return rounded.view(np.float32)
