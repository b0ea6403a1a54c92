"""The fuzz harness for foveal's native core (``foveal._core``) and the public ops that wrap it
(the targets are in fuzz_targets.py).

Every binding of ``foveal._core`` and every public op of ``foveal.image`` and
``foveal.nn.functional`` (and the training kernels behind ``foveal.nn``) is driven with
hypothesis-drawn shapes, strides, dtypes, memory layouts (Fortran order, negative and zero
strides, read-only, stepped views), paddings, dilations, groups, NaN/inf values, zero-size and
absurd sizes and wrong ranks. Each call has a verdict from a small Python model of the contract:

* ``ok``: the input is valid. The call must return a result equal to a NumPy reference
  (tests/reference/nn.py and the OpenCV references of tests/reference/image.py where they apply,
  written-out float64 references here otherwise), with the tolerances the unit tests use.
* ``error``: the input is invalid (wrong rank, dtype, shape, a size out of range, an unknown
  option, a non-finite factor, ...). The call must raise ``ValueError`` or ``TypeError`` with a
  non-empty message that names one of the callee's arguments.
* ``big``: the request needs an absurd amount of memory (terabytes, or sizes whose product
  overflows). The call must raise quickly: ``ValueError``/``TypeError``/``OverflowError`` (the
  size does not fit: NumPy's "array is too big" is a ValueError) or ``MemoryError`` (what NumPy
  raises for ``np.empty`` of terabytes, so what a NumPy user expects). Fuzz children run under
  an address-space limit (``RLIMIT_AS``), so a request that slips through fails fast instead of
  paging the machine to death.
* ``any``: either a clear error or, if the call returns, a result equal to the reference.

Non-finite data: where the float64 reference of an output element is finite the result must
match it; where the reference is NaN or infinite (a NaN or inf reached that output) the value is
left unspecified (NaN propagation through max/min or through skipped zero weights differs
between libraries) -- but it must not spread to other outputs. The few documented exceptions:
outputs whose float32 computation may overflow (the 1e30 test values took part: the reference,
or the sum of |terms| behind it, exceeds 1e18), Winograd convolutions holding a 1e30 value (its
transforms mix a whole tile and kernel), an input gradient whose *weights* are not finite (it
may run as a convolution of the zero-padded dy, as in cuDNN), and samples of a warp or resize
within a few pixels of a NaN pixel (a tap of weight 0 may or may not read it).
Tolerances are the unit tests' (tests/check.py's TOL, and test_nn_train_kernels.py's), scaled
as theirs by the largest magnitude or sum of |terms|.

Run through tests/test_fuzz.py (short, deterministic, inside ``pytest``) or tests/run_fuzz.py
(long, by examples or seconds, JSON summary). Both run the fuzz loop in a child process, so a
crash or a hang is reported with the call that caused it; a crash's arguments are pickled and
``python tests/fuzz_targets.py --replay FILE`` runs that call again.
"""
from __future__ import annotations

import argparse
import inspect
import json
import math
import os
import pickle
import re
import sys
import time
import traceback
import warnings

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, Phase, given, settings, strategies as st  # noqa: E402
from hypothesis import seed as hypothesis_seed  # noqa: E402

import foveal  # noqa: E402,F401  (re-exported to fuzz_targets)
import foveal.image as fi  # noqa: E402,F401
import foveal.nn.functional as F  # noqa: E402,F401
from foveal import _core  # noqa: E402
from reference import nn as R  # noqa: E402,F401

FLT_MAX = float(np.finfo(np.float32).max)
FLT_TINY = 2.0**-120    # far below any tolerance the tests use; above float32's subnormal steps
K_MAX = 2**30            # the nn bindings' largest size, stride, rate, pad and group count
MAX_SIDE = 2**20         # the image bindings' largest output side
MAX_KERNEL = 2**12       # the image bindings' largest filter side
BIG_BYTES = 2**35        # a request for more than this is absurd here (children run under 8 GiB)
SLOW_BYTES = 2**26       # valid requests above this are skipped: too slow to check
AS_LIMIT = 8 << 30       # RLIMIT_AS of a fuzz child

# ------------------------------------------------------------------------------------ verdicts


class Bad(Exception):
    """The model says the binding must reject this input (ValueError / TypeError)."""


class Big(Exception):
    """The model says this request is absurdly large (ValueError/TypeError/MemoryError/...)."""


class Skip(Exception):
    """A valid but too expensive example: not run."""


ALLOWED = (ValueError, TypeError)
ALLOWED_BIG = (ValueError, TypeError, MemoryError, OverflowError)


# ------------------------------------------------------------------------------------ arrays

REAL_DTYPES = ("float64", "float16", "int8", "int16", "int32", "int64", "uint8", "uint16",
               "uint32", "uint64", "bool")
BAD_DTYPES = ("complex64", "complex128", "object", "str")
LAYOUTS = ("f", "flip", "step", "transpose", "readonly", "broadcast")


def cast_values(values, dtype):
    """float64 values -> an array of ``dtype`` (integers rounded and clipped, NaN -> 0)."""
    dt = np.dtype(dtype)
    v = np.asarray(values, np.float64)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        v = np.nan_to_num(v, nan=0.0, posinf=info.max, neginf=info.min)
        return np.clip(np.rint(v), info.min, info.max).astype(dt)
    if dt.kind == "b":
        return np.nan_to_num(v) > 0.5
    if dt.kind == "U":
        return v.astype(str)
    if dt.kind == "O":
        return v.astype(object)
    with np.errstate(over="ignore", invalid="ignore"):
        return v.astype(dt)


class Arr:
    """An array argument: ``values`` (C-contiguous, the logical content, any dtype) shown to the
    callee in ``layout``. Pickled as-is, so a crash's call can be replayed with its layout."""

    def __init__(self, values, layout="c", axis=0, as_list=False, huge_shape=None):
        self.values = np.asarray(values, order="C") if huge_shape is None else values
        self.layout = layout
        self.axis = axis
        self.as_list = as_list
        self.huge_shape = huge_shape

    @property
    def shape(self):
        return self.huge_shape if self.huge_shape is not None else self.values.shape

    def make(self):
        v = self.values
        if self.huge_shape is not None:          # zero strides: an absurd size in no memory
            return np.broadcast_to(np.asarray(v).reshape(()), self.huge_shape)
        if self.as_list:
            return v.tolist()
        a = self.axis % v.ndim if v.ndim else 0
        lay = self.layout if v.ndim else "c"
        if lay == "c":
            return v.copy()
        if lay == "f":
            return np.asfortranarray(v)
        if lay == "flip":
            return np.flip(np.flip(v, a).copy(), a)
        if lay == "step":
            shape = list(v.shape)
            shape[a] *= 2
            store = np.zeros(shape, v.dtype)
            idx = [slice(None)] * v.ndim
            idx[a] = slice(None, None, 2)
            store[tuple(idx)] = v
            return store[tuple(idx)]
        if lay == "transpose":
            perm = list(range(v.ndim))[::-1]
            return np.ascontiguousarray(v.transpose(perm)).transpose(perm)
        if lay == "readonly":
            out = v.copy()
            out.flags.writeable = False
            return out
        if lay == "broadcast":  # zero stride along axis a: values equal along it by construction
            return np.broadcast_to(np.take(v, [0], axis=a), v.shape)
        raise AssertionError(lay)

    def __repr__(self):
        if self.huge_shape is not None:
            return f"broadcast({self.values!r}, {self.huge_shape})"
        return f"array{self.values.shape}:{self.values.dtype}" + (
            "" if self.layout == "c" else f":{self.layout}{self.axis}") + (":list" if self.as_list else "")


def materialize(v):
    if isinstance(v, Arr):
        return v.make()
    if isinstance(v, tuple):
        return tuple(materialize(a) for a in v)
    if isinstance(v, list):
        return [materialize(a) for a in v]
    return v


def describe(v):
    if isinstance(v, np.ndarray):
        s = f"array{v.shape}:{v.dtype}"
        if not v.flags.c_contiguous:
            s += f":strides{v.strides}"
        if not v.flags.writeable:
            s += ":readonly"
        return s
    if isinstance(v, (list, tuple)) and len(v) > 8:
        return f"{type(v).__name__}(len {len(v)})"
    if isinstance(v, (list, tuple)):
        inner = ", ".join(describe(a) for a in v)
        return f"[{inner}]" if isinstance(v, list) else f"({inner}{',' if len(v) == 1 else ''})"
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


# ------------------------------------------------------------------------------------ drawing

seeds = st.integers(0, 2**32 - 1)
SPECIALS = (None,) * 8 + ("nan", "inf", "-inf", "max", "denorm", "mixed", "zero")
# "max" is 1e30, not FLT_MAX: float32 sums of FLT_MAX overflow in an order-dependent way, which
# says nothing about foveal; the infinities cover overflow.


def draw_values(data, rng, shape, dist="normal", special=True, label="values"):
    """float64 test data of ``shape``: ``dist`` "normal", "uniform" (0..1), "u8" (0..255 ints) or
    "positive"; maybe with a few special values (NaN, +-inf, FLT_MAX, denormals, zeros)."""
    shape = tuple(int(s) for s in shape)
    if dist == "u8":
        v = rng.integers(0, 256, shape).astype(np.float64)
    elif dist == "uniform":
        v = rng.random(shape)
    elif dist == "positive":
        v = rng.random(shape) + 0.05
    else:
        v = rng.standard_normal(shape)
    kind = data.draw(st.sampled_from(SPECIALS), label=f"{label}.special") if special else None
    if kind and v.size:
        k = int(rng.integers(1, min(v.size, 4) + 1))
        pos = rng.choice(v.size, size=k, replace=False)
        pick = {"nan": [np.nan], "inf": [np.inf], "-inf": [-np.inf], "max": [1e30, -1e30],
                "denorm": [1e-40, -1e-42], "mixed": [np.nan, np.inf, -np.inf], "zero": [0.0, -0.0]}[kind]
        flat = v.reshape(-1)
        for i, p in enumerate(pos):
            flat[p] = pick[i % len(pick)]
    return v


def f32(values):
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(values, np.float64).astype(np.float32)


def draw_layout(data, label):
    """"c" mostly, else another layout of the same values."""
    return data.draw(st.sampled_from(("c",) * 5 + LAYOUTS), label=f"{label}.layout")


def array_arg(data, values, label, dtype="float32", layouts=True):
    """An Arr of ``values`` cast to ``dtype`` in a drawn layout."""
    v = cast_values(values, dtype)
    if not layouts or v.ndim == 0:
        return Arr(v)
    lay = draw_layout(data, label)
    axis = data.draw(st.integers(0, max(v.ndim - 1, 0)), label=f"{label}.axis")
    if lay == "broadcast" and v.shape[axis] == 0:
        lay = "c"
    if lay == "broadcast":
        v = np.ascontiguousarray(np.broadcast_to(np.take(v, [0], axis=axis), v.shape))
    return Arr(v, lay, axis)


# Mutations of one float32 array argument (the forcecast bindings and the public wrappers).
ARRAY_MUTATIONS = ("dtype", "dtype", "bad_dtype", "none", "scalar", "rank+", "rank-", "empty",
                   "list", "huge", "ragged")


def mutate_array(data, rng, values, label, optional=False):
    """A mutated version of the float32 argument ``values``. Returns the argument (an Arr or a
    plain Python value); the target's model decides whether the call must fail."""
    kind = data.draw(st.sampled_from(ARRAY_MUTATIONS), label=f"{label}.mutation")
    v = np.asarray(values, np.float64)
    if kind == "dtype":
        return array_arg(data, v, label, data.draw(st.sampled_from(REAL_DTYPES), label=f"{label}.dtype"))
    if kind == "bad_dtype":
        return Arr(cast_values(v, data.draw(st.sampled_from(BAD_DTYPES), label=f"{label}.dtype")))
    if kind == "none":
        return None
    if kind == "scalar":
        return data.draw(st.sampled_from([1.0, np.float32(2.0), "x", object()]), label=f"{label}.scalar")
    if kind == "rank+":
        return Arr(f32(v)[None])
    if kind == "rank-":
        return Arr(f32(v)[0] if v.ndim and v.shape[0] else f32(v).reshape(-1))
    if kind == "empty":
        if v.ndim == 0:
            return Arr(np.zeros(0, np.float32))
        axis = data.draw(st.integers(0, v.ndim - 1), label=f"{label}.empty_axis")
        return Arr(np.take(f32(v), np.arange(0), axis=axis))
    if kind == "list":
        return Arr(f32(v), as_list=True) if v.size <= 512 else Arr(f32(v), "f")
    if kind == "huge":
        shape = list(v.shape) or [1]
        axes = data.draw(st.lists(st.integers(0, len(shape) - 1), min_size=1, max_size=2), label=f"{label}.huge_axes")
        for a in axes:
            shape[a] = data.draw(st.sampled_from([2**31, 2**40, 2**20 + 1]), label=f"{label}.huge_size")
        while np.prod([float(max(s, 1)) for s in shape]) * 8 >= 2.0**62:   # NumPy's limit, zeros or not
            i = int(np.argmax(shape))
            shape[i] //= 4
        return Arr(np.float64(1.0), huge_shape=tuple(shape))
    if kind == "ragged":
        return [[1.0, 2.0], [3.0]]
    raise AssertionError(kind)


BAD_INTS = (0, -1, -7, K_MAX + 1, 2**31, 2**32 + 1, 2**62, 2**63, 2**64, -(2**63) - 1, 1.5,
            float("nan"), None, "2", True, np.int64(-3))


def draw_int_mutation(data, label, good):
    """A replacement for an integer argument: bad values, edge values or other int types."""
    return data.draw(st.sampled_from(BAD_INTS + (np.int32(good), np.uint8(max(good, 0) % 256),
                                                 K_MAX, 2**30 - 1)), label=label)


def draw_pair_mutation(data, label, good):
    return data.draw(st.sampled_from([
        (0, 1), (1, -1), (K_MAX + 1, 1), (2**31, 2**31), (2**62, 1), (1, 2**63), (2**64, 2),
        (1,), (1, 2, 3), 2, None, (1.5, 1), ("1", 1), [good[0], good[1]],
        (np.int64(good[0]), np.int64(good[1])), (K_MAX, K_MAX), (True, 1)]), label=label)


def draw_padding_mutation(data, label, good):
    (t, b), (l, r) = good
    return data.draw(st.sampled_from([
        ((-1, b), (l, r)), ((t, b), (l, -2**31)), ((K_MAX + 1, 0), (0, 0)), ((2**62, 0), (0, 0)),
        ((2**63, 0), (0, 0)), ((K_MAX, K_MAX), (K_MAX, K_MAX)), ((2**20, 2**20), (2**20, 2**20)),
        ((0, K_MAX), (0, 0)), ((t, b),), (t, b), 1, None, [[t, b], [l, r]], ((t, b), (l, r, 1)),
        ((float(t), b), (l, r)), ((t, b), (l, r))]), label=label)


def draw_str_mutation(data, label, good):
    return data.draw(st.sampled_from(["", "RELU", good.upper(), good + " ", "gelu", "bogus", None, 3,
                                      good.encode()]), label=label)


def draw_float_mutation(data, label):
    return data.draw(st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -1e300,
                                      1e39, 1e-300, -0.0, None, "1", 10**400, np.float32(0.5), True,
                                      2**64, 3]), label=label)


# ------------------------------------------------------------------------------------ the model
# Python models of how pybind11 converts each parameter type; each raises Bad where the binding
# must raise. They mirror pybind11's rules: ints accept int-likes (and bool) but no floats; a
# double accepts any real number; a bool (with conversion) anything with __bool__ but str.


def m_long(v, lo=None, hi=None):
    if isinstance(v, (bool, np.bool_)):
        v = int(v)
    if not isinstance(v, (int, np.integer)):
        raise Bad("not an int")
    v = int(v)
    if not -(2**63) <= v < 2**63:
        raise Bad("does not fit a C long")
    if (lo is not None and v < lo) or (hi is not None and v > hi):
        raise Bad("out of range")
    return v


def m_u64(v):
    if isinstance(v, (bool, np.bool_)):
        v = int(v)
    if not isinstance(v, (int, np.integer)) or not 0 <= int(v) < 2**64:
        raise Bad("not a uint64")
    return int(v)


def m_pair(v, lo=1, hi=K_MAX):
    if isinstance(v, (str, bytes)) or not isinstance(v, (tuple, list)) or len(v) != 2:
        raise Bad("not a pair")
    return (m_long(v[0], lo, hi), m_long(v[1], lo, hi))


def m_padding(v):
    if isinstance(v, (str, bytes)) or not isinstance(v, (tuple, list)) or len(v) != 2:
        raise Bad("not a pair of pairs")
    return (m_pair(v[0], 0, K_MAX), m_pair(v[1], 0, K_MAX))


def m_str(v, options=None):
    if isinstance(v, bytes):
        v = v.decode("latin-1")
    if not isinstance(v, str):
        raise Bad("not a str")
    if options is not None and v not in options:
        raise Bad("unknown option")
    return v


def m_float(v, finite=False, f32=False):
    if isinstance(v, (str, bytes)) or v is None or isinstance(v, complex):
        raise Bad("not a number")
    try:
        f = float(v)
    except (OverflowError, TypeError, ValueError):
        raise Bad("not a double") from None
    if finite and not math.isfinite(f):
        raise Bad("not finite")
    if f32 and abs(f) > FLT_MAX:
        raise Bad("not a finite float32")
    return f


def m_bool(v):
    """pybind11's bool with conversion: None, bools and numbers (through __bool__), not str/list."""
    if v is None or isinstance(v, (bool, np.bool_, int, float, np.number)):
        return bool(v)
    raise Bad("not a bool")


def _nbytes(shape, itemsize=4):
    n = itemsize
    for s in shape:
        n *= int(s)
    return n


def m_f32(v, optional=False):
    """A forcecast float32 parameter: any array-like of real numbers, converted."""
    if v is None:
        if optional:
            return None
        raise Bad("None")
    if isinstance(v, Arr) and v.huge_shape is not None:
        n = _nbytes(v.huge_shape)
        if n > BIG_BYTES:
            if SANITIZED and n < SANITIZED_MIN_BIG:
                raise Skip("absurd but allocatable under ASan")
            raise Big("a huge zero-stride array needs a huge float32 copy")
        if n > SLOW_BYTES:
            raise Skip("a large copy")
    a = materialize(v)
    try:
        arr = np.asarray(a)
    except ValueError:
        raise Bad("ragged") from None
    if arr.dtype.kind not in "biuf":
        raise Bad(f"dtype {arr.dtype}")
    return f32(arr) if arr.dtype != np.float32 else np.asarray(arr, order="C")


def m_pixels(v, name):
    """A py::array image parameter: uint8 or float32, C-contiguous, no conversion."""
    if v is None:
        raise Bad("None")
    if isinstance(v, Arr) and v.huge_shape is not None:
        raise Bad("not contiguous")
    arr = materialize(v)
    arr = np.asarray(arr) if not isinstance(arr, np.ndarray) else arr
    if not arr.flags.c_contiguous:
        raise Bad("not C-contiguous")
    if arr.dtype not in (np.uint8, np.float32):
        raise Bad("dtype")
    return arr


def require(cond, why="invalid"):
    if not cond:
        raise Bad(why)


SANITIZED = bool(_core.build_info().get("sanitize"))
# Under AddressSanitizer the child runs without RLIMIT_AS (ASan reserves terabytes of address
# space) and its allocator refuses only requests above 1 TiB (allocator_may_return_null=1), so
# absurd requests below 4 TiB are skipped there: one of them could succeed and page the machine.
SANITIZED_MIN_BIG = 2**42


def check_size(shape, itemsize=4):
    n = _nbytes(shape, itemsize)
    if n > BIG_BYTES:
        if SANITIZED and n < SANITIZED_MIN_BIG:
            raise Skip("absurd but allocatable under ASan")
        raise Big(f"{n} bytes")
    if n > SLOW_BYTES:
        raise Skip(f"{n} bytes")


def verdict(model, *args):
    """Run a target's model: ("ok", normalized) / ("error", why) / ("big", why)."""
    try:
        return "ok", model(*args)
    except Bad as e:
        return "error", str(e)
    except Big as e:
        return "big", str(e)


# ------------------------------------------------------------------------------------ calling

CURRENT = {"target": None, "file": None, "isa": None, "threads": None}
_NAMES = {}


def param_names(fn):
    """The argument names of a binding (from pybind11's signature line) or a Python function."""
    key = id(fn)
    if key not in _NAMES:
        names = set()
        try:
            names = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            doc = (getattr(fn, "__doc__", "") or "").split("\n")[0]
            names = set(re.findall(r"(\w+):", doc[doc.find("(") + 1:]))
        _NAMES[key] = names - {"self"}
    return _NAMES[key]


def qualname(fn):
    mod = getattr(fn, "__module__", None) or "foveal._core"
    name = getattr(fn, "__qualname__", None) or fn.__name__
    if mod == "foveal._core" and name in dir(_core.image) and name not in dir(_core):
        name = "image." + name
    return f"{mod}:{name}"


def resolve(path):
    import importlib
    mod, name = path.split(":")
    obj = importlib.import_module(mod)
    for part in name.split("."):
        obj = getattr(obj, part)
    return obj


def record(fn, args, kwargs):
    """Before each call: its arguments, pickled, for a crash's reproducer."""
    path = CURRENT["file"]
    if not path:
        return
    blob = {"target": CURRENT["target"], "fn": qualname(fn), "args": args, "kwargs": kwargs,
            "isa": CURRENT["isa"], "threads": CURRENT["threads"], "desc": call_desc(fn, args, kwargs)}
    try:
        data = pickle.dumps(blob)
    except Exception:  # an unpicklable argument (object()): keep the description only
        blob.update(args=None, kwargs=None)
        data = pickle.dumps(blob)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def call_desc(fn, args, kwargs):
    parts = [describe(a) for a in args] + [f"{k}={describe(v)}" for k, v in kwargs.items()]
    return f"{getattr(fn, '__name__', fn)}({', '.join(parts)})"


class Failure(AssertionError):
    pass


def names_argument(msg, names):
    return any(re.search(r"(?<![A-Za-z0-9_])" + re.escape(n) + r"(?![A-Za-z0-9_])", msg) for n in names)


def invoke(fn, args=(), kwargs=None, *, expect="ok", check=None, mutates=(), names=None):
    """Call fn and hold the outcome to ``expect`` (see the module docstring). ``check(out, margs,
    mkwargs)`` compares a result with the reference. ``mutates``: indices of arguments the call
    updates in place (the others must come back unchanged). Returns the result or None."""
    kwargs = kwargs or {}
    margs = [materialize(a) for a in args]
    mkwargs = {k: materialize(v) for k, v in kwargs.items()}
    desc = call_desc(fn, margs, mkwargs)
    record(fn, list(args), dict(kwargs))
    keep = [(i, a.copy()) for i, a in enumerate(margs) if isinstance(a, np.ndarray) and i not in mutates
            and a.size < 2**22]
    allowed = ALLOWED_BIG if expect == "big" else ALLOWED
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = fn(*margs, **mkwargs)
    except allowed as e:
        if expect == "ok":
            raise Failure(f"{desc}: valid input rejected: {type(e).__name__}: {e}") from None
        msg = str(e).strip()
        if not msg:
            raise Failure(f"{desc}: {type(e).__name__} with an empty message") from None
        # an absurd size may be refused by the allocation of the result, which names no argument
        if expect != "big" and not names_argument(msg, names or param_names(fn)):
            raise Failure(f"{desc}: the message does not name an argument "
                          f"({sorted(names or param_names(fn))}): {type(e).__name__}: {msg}") from None
        return None
    except (Failure, KeyboardInterrupt):
        raise
    except BaseException as e:
        raise Failure(f"{desc}: expected {'/'.join(c.__name__ for c in allowed)}, got "
                      f"{type(e).__name__}: {e}") from None
    if expect in ("error", "big"):
        raise Failure(f"{desc}: {'an absurd request' if expect == 'big' else 'invalid input'} "
                      f"accepted, returned {describe(out)}")
    for i, before in keep:
        if not np.array_equal(margs[i], before, equal_nan=before.dtype.kind in "fc"):
            raise Failure(f"{desc}: argument {i} was modified")
    if check is not None:
        try:
            check(out, margs, mkwargs)
        except AssertionError as e:
            raise Failure(f"{desc}: {e}") from None
    return out


# ------------------------------------------------------------------------------------ comparing


def assert_array(out, shape, dtype=np.float32, what="result"):
    assert isinstance(out, np.ndarray), f"{what}: returned {type(out).__name__}, not an ndarray"
    assert out.dtype == dtype, f"{what}: dtype {out.dtype}, expected {np.dtype(dtype)}"
    assert out.shape == tuple(shape), f"{what}: shape {out.shape}, expected {tuple(shape)}"


def finite_max(a):
    a = np.abs(np.asarray(a, np.float64))
    a = a[np.isfinite(a)]
    return float(a.max()) if a.size else 0.0


HUGE = 1e18   # beyond this (the 1e30 test values took part) a float32 intermediate may overflow


def assert_close(out, ref, rtol, atol, what="result", exact_nan=False, bound=None):
    """out (any float/uint8 array) against a float64 reference: where the reference is finite,
    |out - ref| <= atol + rtol |ref|; elsewhere unspecified. Also unspecified where the
    reference, or the sum of absolute terms behind it (``bound``), exceeds HUGE: the 1e30 test
    values were involved and a float32 intermediate (1e30 * 1e30, or y * (1 - y)) may overflow
    whatever order the terms come in."""
    ref = np.asarray(ref, np.float64)
    o = np.asarray(out).astype(np.float64)
    assert o.shape == ref.shape, f"{what}: shape {o.shape}, expected {ref.shape}"
    if not o.size:
        return
    fin = np.isfinite(ref) & (np.abs(ref) <= HUGE)
    if bound is not None:
        fin &= np.broadcast_to(np.abs(np.nan_to_num(np.asarray(bound, np.float64), nan=0.0)) <= HUGE, fin.shape)
    atol = atol + FLT_TINY   # float32 subnormals hold absolute, not relative, precision
    with np.errstate(invalid="ignore"):
        err = np.abs(o - ref)
        bad = fin & ~(err <= atol + rtol * np.abs(ref))
    if exact_nan:
        bad |= ~fin & ~((np.isnan(ref) & np.isnan(o)) | (o == ref))
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise AssertionError(f"{what}: {int(bad.sum())} of {o.size} elements off, first at {idx}: "
                             f"got {o[idx]!r}, expected {ref[idx]!r} (atol {atol:.3g}, rtol {rtol:.3g})")


# ------------------------------------------------------------------------------------ registry


class Target:
    def __init__(self, name, fn, covers, weight):
        self.name, self.fn, self.covers, self.weight = name, fn, tuple(covers), weight


TARGETS = {}


def target(name, covers=(), weight=1.0):
    """Register a fuzz target: fn(data) draws one example and checks it. ``covers`` names what it
    drives: "core.<binding>" (``image.<name>`` for the image submodule) or "<module>.<function>"
    for the public ops."""
    def deco(fn):
        TARGETS[name] = Target(name, fn, covers, weight)
        return fn
    return deco


def draw_setup(data):
    """Each example runs on a drawn kernel ISA and thread count."""
    isa = data.draw(st.sampled_from(_core.available_isas()), label="isa")
    threads = data.draw(st.sampled_from([1, 1, 2, 3]), label="threads")
    if _core.get_isa() != isa:
        _core.set_isa(isa)
    if _core.get_num_threads() != threads:
        _core.set_num_threads(threads)
    CURRENT["isa"], CURRENT["threads"] = isa, threads
    return np.random.default_rng(data.draw(seeds, label="seed"))


def maybe(data, label, p_true=1):
    """True with probability about p_true / 8."""
    return data.draw(st.integers(0, 7), label=label) < p_true


# ------------------------------------------------------------------------------------ running


def run_target(name, examples=None, seconds=None, seed=None, chunk=200):
    """Run one target in this process. Returns {"examples", "cpu_s", "wall_s", "failures"}.

    ``examples`` (deterministic, derandomized) or ``seconds`` (rounds of ``chunk`` examples with
    seeds ``seed, seed+1, ...`` until the time is up). A failure is shrunk by hypothesis and
    reported with its falsifying example; the run then continues with the next round."""
    t = TARGETS[name]
    CURRENT["target"] = name
    count = [0]

    def body(data):
        count[0] += 1
        try:
            t.fn(data)
        except Skip:
            from hypothesis import reject
            reject()

    failures = []
    t0, c0 = time.time(), time.process_time()
    rounds = 0
    while True:
        n = examples if seconds is None else chunk
        cfg = settings(max_examples=max(1, int(n)), deadline=None, database=None,
                       derandomize=seconds is None and seed is None,
                       suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
                       phases=[Phase.explicit, Phase.generate, Phase.shrink], print_blob=False)
        test = cfg(given(st.data())(body))
        if seconds is not None or seed is not None:
            test = hypothesis_seed((seed or 0) * 1000003 + rounds)(test)
        try:
            test()
        except Failure as e:
            failures.append(failure_record(name, e))
        except Exception as e:  # a bug in the harness itself, or hypothesis giving up
            failures.append({"target": name, "kind": "harness", "message": f"{type(e).__name__}: {e}",
                             "traceback": traceback.format_exc()[-3000:]})
        rounds += 1
        if seconds is None or time.time() - t0 >= seconds:
            break
        if len(failures) >= 5:  # a target that keeps failing: enough examples of it
            break
    return {"examples": count[0], "cpu_s": round(time.process_time() - c0, 3),
            "wall_s": round(time.time() - t0, 3), "failures": failures}


def failure_record(name, e):
    notes = "\n".join(getattr(e, "__notes__", []) or [])
    return {"target": name, "kind": "wrong" if "off, first at" in str(e) else "contract",
            "message": str(e)[:4000], "example": notes[:4000]}


def child_main(cfg):
    """Run targets one after the other; each result is one JSON line in cfg["results"]."""
    import faulthandler
    import resource

    faulthandler.enable()
    warnings.simplefilter("ignore")   # NumPy's overflow/invalid warnings of the references
    if not SANITIZED:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
        except (ValueError, OSError):
            pass
    CURRENT["file"] = cfg["current"]
    with open(cfg["results"], "a") as out:
        for name in cfg["targets"]:
            res = run_target(name, cfg.get("examples"), cfg.get("seconds"), cfg.get("seed"))
            res["target"] = name
            out.write(json.dumps(res) + "\n")
            out.flush()


def drive(targets, workdir, examples=None, seconds=None, seed=None, timeout=None, log=None):
    """Run ``targets`` in child processes (restarting after a crash or a hang) and return
    {target: result}. A crash or hang becomes a failure with the call that caused it and a
    replay file."""
    import subprocess

    os.makedirs(workdir, exist_ok=True)
    results_path = os.path.join(workdir, "results.jsonl")
    current = os.path.join(workdir, "current.pkl")
    remaining = list(targets)
    results = {}
    crashes = 0
    while remaining:
        if os.path.exists(results_path):
            os.remove(results_path)
        if os.path.exists(current):
            os.remove(current)
        cfg = {"targets": remaining, "examples": examples, "seconds": seconds, "seed": seed,
               "results": results_path, "current": current}
        cmd = [sys.executable, os.path.join(HERE, "fuzz_targets.py"), "--child", json.dumps(cfg)]
        env = dict(os.environ)
        if SANITIZED:   # absurd requests must come back as MemoryError, not abort the child
            env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "allocator_may_return_null=1"]))
        t0 = time.time()
        budget = timeout if timeout is not None else None
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=budget, cwd=HERE, env=env)
            rc, stderr, hung = proc.returncode, proc.stderr, False
        except subprocess.TimeoutExpired as e:
            rc, hung = None, True
            stderr = (e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) else e.stderr) or ""
        done = []
        if os.path.exists(results_path):
            with open(results_path) as f:
                done = [json.loads(line) for line in f if line.strip()]
        for res in done:
            results[res.pop("target")] = res
            if log:
                log(res_summary(list(results)[-1], results[list(results)[-1]]))
        remaining = [t for t in remaining if t not in results]
        if rc == 0 and not remaining:
            break
        if not remaining:
            break
        # The child died (or hung) inside the first remaining target.
        victim = remaining.pop(0)
        info = {}
        if os.path.exists(current):
            with open(current, "rb") as f:
                info = pickle.load(f)
            crashes += 1
            saved = os.path.join(workdir, f"crash-{victim}-{crashes}.pkl")
            os.replace(current, saved)
        else:
            saved = None
        kind = "hang" if hung else "crash"
        what = f"timed out after {time.time() - t0:.0f} s" if hung else f"exit code {rc}"
        results[victim] = {"examples": None, "cpu_s": None, "wall_s": round(time.time() - t0, 3),
                           "failures": [{"target": victim, "kind": kind,
                                         "message": f"the fuzz child {what} in {info.get('desc', '?')}"
                                                    f" (isa {info.get('isa')}, {info.get('threads')} threads)",
                                         "reproducer": f"python tests/fuzz_targets.py --replay {saved}"
                                         if saved else None,
                                         "stderr": stderr[-3000:]}]}
        if log:
            log(res_summary(victim, results[victim]))
    return results


def res_summary(name, res):
    f = res["failures"]
    return (f"{name:32s} {res['examples'] if res['examples'] is not None else '-':>7} examples "
            f"{res['cpu_s'] if res['cpu_s'] is not None else '-':>8} cpu s  "
            + ("ok" if not f else f"{len(f)} FAILURE(S): {f[0]['message'][:200]}"))


def replay(path):
    with open(path, "rb") as f:
        info = pickle.load(f)
    print("replaying", info["desc"], "isa", info["isa"], "threads", info["threads"], flush=True)
    if info.get("isa"):
        _core.set_isa(info["isa"])
    if info.get("threads"):
        _core.set_num_threads(info["threads"])
    fn = resolve(info["fn"])
    out = fn(*materialize(info["args"]), **{k: materialize(v) for k, v in info["kwargs"].items()})
    print("returned", describe(out))


def covered():
    """Every name the targets drive."""
    return {c for t in TARGETS.values() for c in t.covers}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--replay", help="run a crash's pickled call again")
    p.add_argument("--list", action="store_true", help="list the targets")
    a = p.parse_args(argv)
    if a.child:
        child_main(json.loads(a.child))
    elif a.replay:
        replay(a.replay)
    else:
        for t in TARGETS.values():
            print(f"{t.name:32s} {', '.join(t.covers)}")


