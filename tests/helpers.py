"""One helper per kind of check, so that each test case is a single line (as tinygrad's
test_ops): run the op in foveal and in the float64 NumPy reference, and compare."""
import numpy as np

import foveal.nn.functional as F
import reference

# float32 accumulation over up to a few thousand terms: errors stay well below 1e-4 of the
# largest magnitude involved.  Ops without long sums are held tighter.
TOL = {
    "conv2d": 1e-4, "depthwise_conv2d": 1e-4, "dense": 1e-4,
    "avg_pool2d": 1e-5, "global_avg_pool2d": 1e-5,
    "max_pool2d": 0.0, "global_max_pool2d": 0.0,  # a maximum is exact
    "relu": 0.0, "sigmoid": 1e-6, "softmax": 1e-6,
}


def describe(args, kwargs):
    """A short, reproducible description of a call: arrays by shape and dtype."""
    def one(v):
        if isinstance(v, np.ndarray):
            return f"array{v.shape}:{v.dtype}"
        return repr(v)
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


def check_op(name, *args, **kwargs):
    """Run F.<name> and reference.<name> on the same arguments and compare.

    The absolute tolerance scales with the largest pre-activation magnitude of the reference
    (activations are at most 1-Lipschitz, so they cannot enlarge an accumulation error).
    Returns foveal's output."""
    inputs = [a for a in (*args, *kwargs.values()) if isinstance(a, np.ndarray)]
    before = [a.copy() for a in inputs]
    out = getattr(F, name)(*args, **kwargs)
    ref = getattr(reference, name)(*args, **kwargs)
    pre = ref
    if kwargs.get("activation") not in (None, "linear"):
        pre = getattr(reference, name)(*args, **{**kwargs, "activation": None})
    msg = f"{name}{describe(args, kwargs)}"
    assert isinstance(out, np.ndarray), f"{msg}: returned {type(out).__name__}"
    assert out.dtype == np.float32, f"{msg}: dtype {out.dtype}"
    assert out.shape == ref.shape, f"{msg}: shape {out.shape}, expected {ref.shape}"
    for a, b in zip(inputs, before):
        assert not np.shares_memory(out, a), f"{msg}: output aliases an input"
        np.testing.assert_array_equal(a, b, err_msg=f"{msg}: an input was modified")
    tol = TOL[name]
    scale = max(1.0, float(np.abs(pre).max())) if pre.size else 1.0
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol * scale, err_msg=msg)
    return out


def rand(rng, *shape):
    """Standard-normal float32 test data."""
    return rng.standard_normal(shape, dtype=np.float32)


def check_same_result(fn, base_args, variant_args, **kwargs):
    """fn(*variant_args) must equal fn(*base_args): the variants are the same numbers in another
    layout or dtype, which foveal converts to contiguous float32 before computing."""
    base = fn(*base_args, **kwargs)
    out = fn(*variant_args, **kwargs)
    assert isinstance(out, np.ndarray) and out.dtype == np.float32
    assert out.shape == base.shape
    scale = max(1.0, float(np.abs(base).max()))
    np.testing.assert_allclose(out, base, rtol=1e-6, atol=1e-6 * scale)
    return out
