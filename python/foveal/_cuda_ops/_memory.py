"""Arrays in and out of the CUDA kernels: NumPy (copied to the GPU and back), device arrays
(``__cuda_array_interface__``: CuPy, PyTorch CUDA tensors, :class:`DeviceArray`; or DLPack on a
CUDA device) used in place, and the host mode of the tests, where the kernel bodies run on the CPU.

One :class:`Call` per operator call: it takes the inputs, allocates the outputs of the kind the
first input is, and hands back the results of that kind.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any, Iterator, Optional, Sequence, Tuple

import numpy as np

from .. import _cuda
from .._checks import as_numpy

_DLPACK_CUDA = 2          # kDLCUDA
_state = {"host": False}  # host mode: the tests without a GPU (see host_mode)


@contextlib.contextmanager
def host_mode() -> Iterator[None]:
    """Within it, the CUDA kernels run on the host on NumPy arrays: the same kernel bodies and
    the same Python layer, checked against the CPU ops on machines without a GPU (tests only)."""
    old = _state["host"]
    _state["host"] = True
    try:
        yield
    finally:
        _state["host"] = old


class DeviceArray:
    """A C-contiguous array in GPU memory (what the CUDA ops return for inputs that were device
    arrays of no library they know). ``__cuda_array_interface__`` lets CuPy, PyTorch or Numba
    take it without a copy; :meth:`get` copies it to a NumPy array."""

    def __init__(self, shape: Sequence[int], dtype: Any) -> None:
        self.shape: Tuple[int, ...] = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = self.size * self.dtype.itemsize
        self._buf = _cuda.DeviceBuffer(self.nbytes)

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def ptr(self) -> int:
        return int(self._buf.ptr)

    @property
    def __cuda_array_interface__(self) -> dict:
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, False),
                "version": 3, "strides": None, "stream": 1}

    def get(self) -> np.ndarray:
        """A NumPy copy."""
        out = np.empty(self.shape, self.dtype)
        _cuda.copy_to_host(out.ctypes.data, self.ptr, self.nbytes)
        return out

    def __repr__(self) -> str:
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype})"


def to_device(a: Any) -> DeviceArray:
    """A :class:`DeviceArray` copy of a NumPy array (C order, dtype kept)."""
    arr = np.ascontiguousarray(as_numpy(a, "a"))
    out = DeviceArray(arr.shape, arr.dtype)
    _cuda.copy_to_device(out.ptr, arr.ctypes.data, arr.nbytes)
    return out


def _kind(x: Any) -> str:
    """"numpy" (host memory), "cupy", "torch" or "device" (another CUDA array)."""
    mod = type(x).__module__.split(".")[0]
    if hasattr(x, "__cuda_array_interface__"):
        try:
            x.__cuda_array_interface__
        except (AttributeError, RuntimeError, TypeError):  # e.g. a CPU tensor raises here
            return "numpy"
        return mod if mod in ("cupy", "torch") else "device"
    if hasattr(x, "__dlpack_device__"):
        try:
            dev = x.__dlpack_device__()
        except Exception:  # noqa: BLE001 - an odd producer: treat as host memory
            return "numpy"
        if int(dev[0]) == _DLPACK_CUDA:
            return "dlpack"
    return "numpy"


def _from_dlpack(x: Any) -> Any:
    """A CUDA DLPack object as a CuPy array or PyTorch tensor on the same memory (no copy)."""
    for name in ("cupy", "torch"):
        lib = sys.modules.get(name)
        if lib is None:
            try:
                lib = __import__(name)
            except ImportError:
                continue
        return lib.from_dlpack(x)
    raise TypeError("a CUDA DLPack array needs CuPy or PyTorch installed to be read without a copy")


class Buffer:
    """One operand: its address, shape and dtype, and the object that owns the memory."""

    __slots__ = ("ptr", "shape", "dtype", "obj")

    def __init__(self, ptr: int, shape: Tuple[int, ...], dtype: np.dtype, obj: Any) -> None:
        self.ptr, self.shape, self.dtype, self.obj = ptr, shape, dtype, obj

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64))


class Call:
    """The memory of one operator call. ``like`` is the first array argument: its kind (NumPy,
    CuPy, PyTorch, another device array) is the kind of every result."""

    def __init__(self, like: Any) -> None:
        self.host = _state["host"]
        self.kind = "numpy" if self.host else _kind(like)
        if self.kind == "dlpack":
            like = _from_dlpack(like)
            self.kind = _kind(like)
        self.like = like

    def input(self, x: Any, name: str, dtype: Any = np.float32) -> Buffer:
        """``x`` as a C-contiguous buffer of ``dtype`` where the kernels read it (a device array
        is used in place; NumPy is converted, and copied to the GPU outside host mode)."""
        dt = np.dtype(dtype)
        kind = _kind(x)
        if kind == "dlpack":
            x = _from_dlpack(x)
            kind = _kind(x)
        if kind != "numpy":
            if self.host:
                raise TypeError(f"{name} is a device array; the host mode takes NumPy arrays")
            return self._device_input(x, name, dt)
        if dt == np.float32:
            from .._checks import as_float32
            arr = as_float32(x, name)
        else:
            arr = np.ascontiguousarray(as_numpy(x, name), dtype=dt)
        if self.host:
            return Buffer(arr.ctypes.data, arr.shape, dt, arr)
        dev = DeviceArray(arr.shape, dt)
        _cuda.copy_to_device(dev.ptr, arr.ctypes.data, arr.nbytes)
        return Buffer(dev.ptr, arr.shape, dt, dev)

    def optional(self, x: Any, name: str, dtype: Any = np.float32) -> Optional[Buffer]:
        return None if x is None else self.input(x, name, dtype)

    def _device_input(self, x: Any, name: str, dt: np.dtype) -> Buffer:
        cai = x.__cuda_array_interface__
        shape = tuple(int(s) for s in cai["shape"])
        if np.dtype(cai["typestr"]) != dt or not _c_contiguous(shape, cai.get("strides"), dt.itemsize):
            x = self._convert(x, name, dt)
            cai = x.__cuda_array_interface__
        return Buffer(int(cai["data"][0]), shape, dt, x)

    def _convert(self, x: Any, name: str, dt: np.dtype) -> Any:
        """A C-contiguous copy of dtype dt, on the GPU, by the array's own library."""
        mod = type(x).__module__.split(".")[0]
        if mod == "cupy":
            return sys.modules["cupy"].ascontiguousarray(x, dtype=dt)
        if mod == "torch":
            torch = sys.modules["torch"]
            return x.detach().to(getattr(torch, dt.name)).contiguous()
        raise TypeError(f"{name} must be a C-contiguous {dt.name} device array, got "
                        f"typestr {x.__cuda_array_interface__['typestr']!r} with strides "
                        f"{x.__cuda_array_interface__.get('strides')}")

    def output(self, shape: Sequence[int], dtype: Any = np.float32, zero: bool = False) -> Buffer:
        """A new C-contiguous result buffer (zeroed when ``zero``)."""
        shape = tuple(int(s) for s in shape)
        dt = np.dtype(dtype)
        if self.host:
            arr = (np.zeros if zero else np.empty)(shape, dt)
            return Buffer(arr.ctypes.data, shape, dt, arr)
        if self.kind == "cupy":
            cp = sys.modules["cupy"]
            obj = (cp.zeros if zero else cp.empty)(shape, dtype=dt)
        elif self.kind == "torch":
            torch = sys.modules["torch"]
            obj = (torch.zeros if zero else torch.empty)(shape, dtype=getattr(torch, dt.name),
                                                         device=self.like.device)
        else:
            obj = DeviceArray(shape, dt)
            if zero and obj.nbytes:
                _cuda.copy_to_device(obj.ptr, np.zeros(obj.size, dt).ctypes.data, obj.nbytes)
        return Buffer(int(obj.__cuda_array_interface__["data"][0]), shape, dt, obj)

    def result(self, buf: Optional[Buffer], shape: Optional[Sequence[int]] = None) -> Any:
        """The result of the caller's kind (NumPy: copied back from the GPU), reshaped to
        ``shape`` when given."""
        if buf is None:
            return None
        obj = buf.obj
        if self.kind == "numpy" and not self.host:
            obj = obj.get()
        if shape is not None and tuple(shape) != buf.shape:
            obj = obj.reshape(tuple(shape)) if not isinstance(obj, DeviceArray) else _reshaped(obj, shape)
        return obj


def _reshaped(a: DeviceArray, shape: Sequence[int]) -> DeviceArray:
    out = DeviceArray.__new__(DeviceArray)
    out.shape, out.dtype, out.size, out.nbytes, out._buf = tuple(shape), a.dtype, a.size, a.nbytes, a._buf
    return out


def _c_contiguous(shape: Tuple[int, ...], strides: Optional[Sequence[int]], itemsize: int) -> bool:
    if strides is None:
        return True
    expected = itemsize
    for dim, stride in zip(reversed(shape), reversed(tuple(strides))):
        if dim != 1 and stride != expected:
            return False
        expected *= dim
    return True


def shape_of(x: Any, name: str) -> Tuple[int, ...]:
    """The shape of an array argument without reading its memory (device arrays included)."""
    kind = _kind(x)
    if kind == "numpy":
        return as_numpy(x, name).shape
    if kind == "dlpack":
        x = _from_dlpack(x)
    return tuple(int(s) for s in x.__cuda_array_interface__["shape"])
