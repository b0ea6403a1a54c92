"""Arrays in and out of the CUDA kernels: NumPy (copied to the GPU and back), device arrays
(``__cuda_array_interface__``: CuPy, PyTorch CUDA tensors, :class:`DeviceArray`; or DLPack on a
CUDA device) used in place, and the host mode of the tests, where the kernel bodies run on the CPU.

One :class:`Call` per operator call: it takes the inputs, allocates the outputs of the kind the
first input is, and hands back the results of that kind.

In host mode a :class:`DeviceArray` lives in host memory and stands for GPU memory: the ops use
it in place and return new ones for it, as they do on the GPU, and reading it takes an explicit
copy (:meth:`DeviceArray.get`), so code written for device arrays runs unchanged without a GPU.
Every copy between the host and the device (or, in host mode, every one that would be: a NumPy
operand of an op, a NumPy result, :func:`to_device`, :meth:`DeviceArray.get`) is counted
(:func:`transfer_counts`). Device memory comes from a pool of freed blocks of the same size
(``cudaFree`` waits for the GPU; a training step frees dozens of temporaries): see
:func:`empty_cache`.
"""

from __future__ import annotations

import contextlib
import ctypes
import sys
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

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


# ------------------------------------------------------------------------ transfers, counted

_transfers: Dict[str, int] = {"to_device": 0, "to_host": 0, "bytes_to_device": 0, "bytes_to_host": 0}


def transfer_counts() -> Dict[str, int]:
    """Copies between the host and the device since :func:`reset_transfer_counts`:
    ``to_device``, ``to_host`` (how many) and ``bytes_to_device``, ``bytes_to_host``. In host
    mode the copies a GPU would make are counted (a NumPy operand in, a NumPy result out)."""
    return dict(_transfers)


def reset_transfer_counts() -> None:
    """Set the :func:`transfer_counts` to zero."""
    for k in _transfers:
        _transfers[k] = 0


def _count(to_device: bool, nbytes: int) -> None:
    key = "device" if to_device else "host"
    _transfers["to_" + key] += 1
    _transfers["bytes_to_" + key] += int(nbytes)


# ------------------------------------------------------------------------------ memory pool

_ALIGN = 512               # block sizes are multiples of this (and so every block's start)
_POOL_LIMIT = 1 << 32      # bytes of free blocks kept for reuse; beyond, a freed block is freed
_pool: Dict[Tuple[bool, int], List[Any]] = {}
_pooled = [0]


class _Block:
    """The memory a :class:`DeviceArray` and its views share: a ``DeviceBuffer`` on the GPU or,
    in host mode, a NumPy byte array. When the last array on it goes, it returns to the pool."""

    __slots__ = ("mem", "ptr", "nbytes", "host")

    def __init__(self, mem: Any, nbytes: int, host: bool) -> None:
        self.mem, self.nbytes, self.host = mem, nbytes, host
        self.ptr = int(mem.ctypes.data) if host else int(mem.ptr)

    def __del__(self) -> None:
        try:
            if _pooled[0] + self.nbytes <= _POOL_LIMIT:
                _pool.setdefault((self.host, self.nbytes), []).append(self.mem)
                _pooled[0] += self.nbytes
        except Exception:  # noqa: BLE001 - interpreter shutdown: the memory is freed with it
            pass


def _acquire(nbytes: int, host: bool) -> _Block:
    size = -(-max(int(nbytes), 1) // _ALIGN) * _ALIGN
    free = _pool.get((host, size))
    if free:
        _pooled[0] -= size
        return _Block(free.pop(), size, host)
    if host:
        return _Block(np.empty(size, np.uint8), size, host)
    try:
        mem = _cuda.DeviceBuffer(size)
    except (RuntimeError, MemoryError):   # out of memory: give the pooled blocks back, retry once
        empty_cache()
        mem = _cuda.DeviceBuffer(size)
    return _Block(mem, size, host)


def empty_cache() -> None:
    """Free the pooled device memory (blocks of arrays that are gone, kept for reuse)."""
    _pool.clear()
    _pooled[0] = 0


# ------------------------------------------------------------------------------ device arrays


class DeviceArray:
    """A C-contiguous array in GPU memory (what the CUDA ops return for inputs that were device
    arrays of no library they know). ``__cuda_array_interface__`` lets CuPy, PyTorch or Numba
    take it without a copy; :meth:`get` copies it to a NumPy array. Made in host mode (or with
    ``host=True``), it is host memory that the ops treat as device memory (no
    ``__cuda_array_interface__`` then)."""

    def __init__(self, shape: Sequence[int], dtype: Any, host: Optional[bool] = None) -> None:
        self.shape: Tuple[int, ...] = tuple(int(s) for s in shape)
        self.dtype = np.dtype(dtype)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.nbytes = self.size * self.dtype.itemsize
        self._block = _acquire(self.nbytes, _state["host"] if host is None else bool(host))
        self._offset = 0

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def on_host(self) -> bool:
        """Whether this is a host-mode array (host memory standing for device memory)."""
        return self._block.host

    @property
    def ptr(self) -> int:
        return self._block.ptr + self._offset

    @property
    def __cuda_array_interface__(self) -> dict:
        if self._block.host:
            raise AttributeError("a host-mode DeviceArray is host memory: it has no __cuda_array_interface__")
        return {"shape": self.shape, "typestr": self.dtype.str, "data": (self.ptr, False),
                "version": 3, "strides": None, "stream": 1}

    def _host_view(self) -> np.ndarray:
        """The memory of a host-mode array as NumPy (no copy, not counted: internal)."""
        return np.ndarray(self.shape, self.dtype, buffer=self._block.mem, offset=self._offset)

    def get(self) -> np.ndarray:
        """A NumPy copy (one transfer to the host)."""
        out = np.empty(self.shape, self.dtype)
        _copy_out(out, self)
        return out

    def reshape(self, *shape: Any) -> "DeviceArray":
        """The same memory with another shape (one axis may be -1), as NumPy's ``reshape``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        dims = [int(s) for s in shape]
        if dims.count(-1) == 1:
            known = int(np.prod([d for d in dims if d != -1], dtype=np.int64))
            dims[dims.index(-1)] = self.size // known if known else 0
        if int(np.prod(dims, dtype=np.int64)) != self.size or any(d < 0 for d in dims):
            raise ValueError(f"cannot reshape a device array of shape {self.shape} to {tuple(shape)}")
        return self._view(0, dims, self.dtype)

    def _view(self, offset: int, shape: Sequence[int], dtype: Any) -> "DeviceArray":
        out = DeviceArray.__new__(DeviceArray)
        out.shape, out.dtype = tuple(int(s) for s in shape), np.dtype(dtype)
        out.size = int(np.prod(out.shape, dtype=np.int64))
        out.nbytes = out.size * out.dtype.itemsize
        out._block, out._offset = self._block, self._offset + int(offset)
        return out

    def __repr__(self) -> str:
        where = ", host mode" if self._block.host else ""
        return f"DeviceArray(shape={self.shape}, dtype={self.dtype}{where})"


def _copy_in(dst: DeviceArray, arr: np.ndarray) -> None:
    _count(True, arr.nbytes)
    if dst.on_host:
        dst._host_view()[...] = arr.reshape(dst.shape)
    else:
        _cuda.copy_to_device(dst.ptr, arr.ctypes.data, arr.nbytes)


def _copy_out(out: np.ndarray, src: DeviceArray) -> None:
    _count(False, src.nbytes)
    if src.on_host:
        out[...] = src._host_view().reshape(out.shape)
    else:
        _cuda.copy_to_host(out.ctypes.data, src.ptr, src.nbytes)


def to_device(a: Any) -> DeviceArray:
    """A :class:`DeviceArray` copy of a NumPy array (C order, dtype kept; in host mode a
    host-mode array). One transfer to the device."""
    arr = np.ascontiguousarray(as_numpy(a, "a"))
    out = DeviceArray(arr.shape, arr.dtype)
    _copy_in(out, arr)
    return out


def upload_into(dst: DeviceArray, a: np.ndarray) -> None:
    """Copy the NumPy array ``a`` (same size and dtype) into ``dst``: one transfer."""
    arr = np.ascontiguousarray(a, dtype=dst.dtype)
    if arr.size != dst.size:
        raise ValueError(f"a must have {dst.size} values, got shape {arr.shape}")
    _copy_in(dst, arr)


def download_into(out: np.ndarray, src: DeviceArray) -> None:
    """Copy ``src`` into the C-contiguous NumPy array ``out`` (same size and dtype): one transfer."""
    if not (isinstance(out, np.ndarray) and out.flags.c_contiguous and out.dtype == src.dtype
            and out.size == src.size):
        raise ValueError(f"out must be a C-contiguous {src.dtype} array of {src.size} values")
    _copy_out(out, src)


def copy_on_device(dst: DeviceArray, src: DeviceArray, dst_offset: int = 0) -> None:
    """Copy ``src``'s bytes into ``dst`` from byte ``dst_offset`` on (no transfer)."""
    if dst_offset < 0 or dst_offset + src.nbytes > dst.nbytes or dst.on_host != src.on_host:
        raise ValueError("copy_on_device: src does not fit dst at that offset (or mixes host-mode "
                         "and device arrays)")
    if src.on_host:
        ctypes.memmove(dst.ptr + dst_offset, src.ptr, src.nbytes)
    else:
        _cuda.copy_on_device(dst.ptr + dst_offset, src.ptr, src.nbytes)


def download_many(arrays: Sequence[DeviceArray]) -> List[np.ndarray]:
    """NumPy copies of several device arrays in ONE transfer: gathered on the device into one
    staging block first (small results: a loss, its clipped rows, the predictions)."""
    if not arrays:
        return []
    offsets, total = [], 0
    for a in arrays:
        offsets.append(total)
        total += -(-a.nbytes // 256) * 256
    stage = DeviceArray((total,), np.uint8, arrays[0].on_host)
    for a, off in zip(arrays, offsets):
        copy_on_device(stage, a, off)
    raw = stage.get()
    return [raw[off:off + a.nbytes].view(a.dtype).reshape(a.shape).copy() if a.nbytes else
            np.empty(a.shape, a.dtype) for a, off in zip(arrays, offsets)]


def empty(shape: Sequence[int], dtype: Any = np.float32) -> DeviceArray:
    """An uninitialized device array (host mode: a host-mode one)."""
    return DeviceArray(shape, dtype)


def _kind(x: Any) -> str:
    """"numpy" (host memory), "cupy", "torch", "device" (another CUDA array) or "hostdev" (a
    host-mode :class:`DeviceArray`)."""
    if isinstance(x, DeviceArray):
        return "hostdev" if x.on_host else "device"
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
    CuPy, PyTorch, another device array) is the kind of every result. In host mode the kinds
    are NumPy and host-mode :class:`DeviceArray`."""

    def __init__(self, like: Any) -> None:
        self.host = _state["host"]
        if self.host:
            self.kind = "hostdev" if _kind(like) == "hostdev" else "numpy"
        else:
            self.kind = _kind(like)
            if self.kind == "hostdev":
                raise TypeError("a host-mode DeviceArray was passed outside foveal._cuda_ops.host_mode()")
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
        if kind == "hostdev":
            if not self.host:
                raise TypeError(f"{name} is a host-mode DeviceArray, passed outside "
                                "foveal._cuda_ops.host_mode()")
            if x.dtype != dt:
                raise TypeError(f"{name} must be a {dt.name} device array, got {x.dtype}")
            return Buffer(x.ptr, x.shape, dt, x)
        if kind != "numpy":
            if self.host:
                raise TypeError(f"{name} is a device array; the host mode takes NumPy arrays")
            return self._device_input(x, name, dt)
        if dt == np.float32:
            from .._checks import as_float32
            arr = as_float32(x, name)
        else:
            arr = np.ascontiguousarray(as_numpy(x, name), dtype=dt)
        if self.host:   # the copy a GPU would make, counted
            _count(True, arr.nbytes)
            return Buffer(arr.ctypes.data, arr.shape, dt, arr)
        dev = to_device(arr)
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
        if self.host and self.kind == "numpy":
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
            obj = DeviceArray(shape, dt, self.host)
            if zero and obj.nbytes:
                if obj.on_host:
                    obj._host_view()[...] = 0
                else:
                    _cuda.copy_to_device(obj.ptr, np.zeros(obj.size, dt).ctypes.data, obj.nbytes)
            return Buffer(obj.ptr, shape, dt, obj)
        return Buffer(int(obj.__cuda_array_interface__["data"][0]), shape, dt, obj)

    def result(self, buf: Optional[Buffer], shape: Optional[Sequence[int]] = None) -> Any:
        """The result of the caller's kind (NumPy: copied back from the GPU), reshaped to
        ``shape`` when given."""
        if buf is None:
            return None
        obj = buf.obj
        if self.kind == "numpy":
            if self.host:   # the copy a GPU would make, counted
                _count(False, obj.nbytes)
            else:
                obj = obj.get()
        if shape is not None and tuple(shape) != buf.shape:
            obj = obj.reshape(tuple(shape))
        return obj


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
    if isinstance(x, DeviceArray):
        return x.shape
    if kind == "numpy":
        return as_numpy(x, name).shape
    if kind == "dlpack":
        x = _from_dlpack(x)
    return tuple(int(s) for s in x.__cuda_array_interface__["shape"])
