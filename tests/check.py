"""One check for every op the tests hold against a reference, so that each test case is a single
line (as tinygrad's test_ops):

    check_op("conv2d", x, kernel, padding="same")                     # foveal.nn.functional
    check_op("conv2d", dy, x, kernel, padding="same", grad=True)      # its conv2d_backward
    check_op("image.rotate", img(17, 23, 3), 30, border="reflect")    # foveal.image

runs the foveal op and its reference (tests/reference/: ``reference.nn.<name>``,
``reference.nn.<name>_backward``, ``reference.image.<name>``) on the same arguments, and checks
every array the op returns: its type, dtype and shape, that it aliases no input, that no input
was modified, and that it is within the op's tolerance (TOL below) of the reference.
"""
import functools

import cv2
import numpy as np

import foveal.image as fi
import foveal.nn.functional as F
from reference import image as image_ref
from reference import nn as nn_ref

# ----------------------------------------------------------------------------- tolerances
TOL = {
    # foveal.nn.functional, forward: rtol = tol, atol = tol * max(1, largest |pre-activation| of
    # the reference) (activations are at most 1-Lipschitz, so they cannot enlarge an
    # accumulation error). float32 accumulation over up to a few thousand terms: errors stay
    # well below 1e-4 of the largest magnitude involved. Ops without long sums are held tighter.
    "conv2d": 1e-4, "depthwise_conv2d": 1e-4, "dense": 1e-4,
    "avg_pool2d": 1e-5, "global_avg_pool2d": 1e-5,
    "max_pool2d": 0.0, "global_max_pool2d": 0.0,  # a maximum is exact
    "relu": 0.0, "sigmoid": 1e-6, "softmax": 1e-6,
    # F.activation by name: polynomial exp / erfc / log1p approximations within a few 1e-7
    # relative (gelu's far negative tail, below 1e-20 in magnitude, only within the atol)
    "activation": 1e-6,
    # backward (grad=True): rtol = 0, atol = tol * the largest sum of absolute terms behind any
    # one gradient element (the same gradient computed by the reference from absolute values):
    # float32 accumulation stays well below 1e-4 of it. Pooling sums at most a window's worth
    # of terms; a copy is exact, and so is activation_backward for relu and linear (dy or 0).
    "conv2d_backward": 1e-4, "depthwise_conv2d_backward": 1e-4, "dense_backward": 1e-4,
    "max_pool2d_backward": 1e-5, "avg_pool2d_backward": 1e-5,
    "global_avg_pool2d_backward": 1e-6, "global_max_pool2d_backward": 0.0,
    "activation_backward": 1e-6,
    # spatial layout: padding and nearest upsampling copy (exact; the nearest gradient sums at
    # most size_h * size_w terms); bilinear is a 4-tap lerp with float32 weights
    "zero_pad2d": 0.0, "zero_pad2d_backward": 0.0, "upsample2d": 1e-6, "upsample2d_backward": 1e-6,
    # foveal.image: (uint8 tolerance in levels, float32 tolerance relative to max(1, largest
    # magnitude of the reference and the inputs)). uint8 results must equal OpenCV exactly where
    # OpenCV's op is exact (colour conversion, saturating arithmetic, channel and flip ops,
    # thresholds) and be within 1 elsewhere (rounding of a weighted sum). Nearest-neighbour
    # sampling copies pixels: (0, 0) whatever the table says.
    "image.to_gray": (0, 1e-5), "image.to_rgb": (0, 0), "image.to_binary": (0, 0),
    "image.threshold": (0, 0), "image.add": (0, 0), "image.subtract": (0, 0),
    "image.blend": (1, 1e-4), "image.split": (0, 0), "image.merge": (0, 0),
    "image.flip": (0, 0), "image.rotate90": (0, 0),
    "image.adjust_brightness": (1, 1e-6), "image.normalize": (0, 1e-6),
    "image.center": (0, 1e-4),
    "image.warp_affine": (1, 1e-4), "image.rotate": (1, 1e-4), "image.shift": (1, 1e-4),
    "image.zoom": (1, 1e-4), "image.resize": (1, 1e-4),
    "image.filter2d": (1, 1e-4), "image.convolve2d": (1, 1e-4), "image.gaussian_blur": (1, 1e-4),
    # integer kernels: a uint8 result has no rounding at all, so it must be exact
    "image.sharpen": (0, 1e-4), "image.edges": (0, 1e-4),
    "image.laplacian": (0, 1e-4), "image.sobel": (0, 1e-4),
}

# backward ops whose gradients are bilinear in their inputs (their error bound takes |inputs|)
BILINEAR = ("conv2d_backward", "depthwise_conv2d_backward", "dense_backward")
GRAD_NAMES = ("dx", "dkernel", "dbias")


def warp_tol(matrix, out_hw):
    """Image tolerance for a warp whose source coordinates reach far from the origin: a float32
    coordinate near c carries up to about 1.2e-7 * c pixels of rounding (OpenCV's and foveal's
    alike), which a noise image's slope (up to ~1.5 per pixel) turns into a value error."""
    inv = cv2.invertAffineTransform(np.asarray(matrix, np.float64))
    corners = np.array([[0, 0, 1], [out_hw[1] - 1, 0, 1], [0, out_hw[0] - 1, 1],
                        [out_hw[1] - 1, out_hw[0] - 1, 1]], np.float64) @ inv.T
    return (1, 1e-4 + 1.8e-7 * float(np.abs(corners).max()))


# ----------------------------------------------------------------------------- the check
def check_op(name, *args, grad=False, tol=None, **kwargs):
    """Run a foveal op and its reference on ``args`` / ``kwargs`` and compare every output.

    name: ``"<op>"`` for ``foveal.nn.functional.<op>``; with ``grad=True`` its backward
    ``<op>_backward``, called as ``(dy, *inputs)`` (``check_op("<op>_backward", ...)`` is the
    same check); ``"image.<op>"`` for ``foveal.image.<op>``.
    tol: overrides the op's TOL entry. Returns foveal's result."""
    key, run, ref, kind = _resolve(name, grad)
    msg = f"{key}{describe(args, kwargs)}"
    inputs = list(_arrays((*args, *kwargs.values())))
    before = [a.copy() for a in inputs]
    out = run(*args, **kwargs)
    expected = ref(*args, **kwargs)
    for a, b in zip(inputs, before):
        np.testing.assert_array_equal(a, b, err_msg=f"{msg}: an input was modified")
    tol = _tolerance(kind, key, args, kwargs, tol)
    closes = _closeness(kind, key, ref, args, kwargs, expected, inputs, tol)
    for (label, o, e), close in zip(_outputs(kind, out, expected, msg), closes):
        m = msg + label
        if e is None:
            assert o is None, f"{m}: need_dx=False must give None, got {type(o).__name__}"
            continue
        assert isinstance(o, np.ndarray), f"{m}: returned {type(o).__name__}, not an ndarray"
        dtype = e.dtype if kind == "image" else np.dtype(np.float32)
        assert o.dtype == dtype, f"{m}: dtype {o.dtype}, expected {dtype}"
        assert o.shape == e.shape, f"{m}: shape {o.shape}, expected {e.shape}"
        for a in inputs:
            assert not np.shares_memory(o, a), f"{m}: the result aliases an input"
        close(o, e, m)
    return out


def _resolve(name, grad):
    """(TOL key, foveal function, reference function, kind) for check_op's name."""
    if name.startswith("image."):
        assert not grad, f"{name}: image ops have no backward"
        op = name[len("image."):]
        return name, getattr(fi, op), getattr(image_ref, op), "image"
    if grad:
        name += "_backward"
    kind = "grad" if name.endswith("_backward") else "forward"
    return name, getattr(F, name), getattr(nn_ref, name), kind


def _tolerance(kind, key, args, kwargs, tol):
    tol = TOL[key] if tol is None else tol
    if kind == "grad" and key == "activation_backward" and \
            kwargs.get("activation", args[-1]) in ("relu", "linear", None):
        return 0.0  # dy or 0: exact
    if kind == "image" and kwargs.get("interpolation") == "nearest":
        return (0, 0)  # nearest-neighbour sampling copies pixels: exact or wrong
    return tol


def _outputs(kind, out, expected, msg):
    """[(label, foveal's array, the reference's)]: one per array; a tuple is a backward's
    (dx or None, dkernel, dbias), a list split's channels."""
    if isinstance(expected, tuple):
        assert isinstance(out, tuple) and len(out) == len(expected), \
            f"{msg}: returned {type(out).__name__}"
        return [(f": {g}", o, e) for g, o, e in zip(GRAD_NAMES, out, expected)]
    if isinstance(expected, list):
        assert isinstance(out, (list, tuple)), f"{msg}: returned {type(out).__name__}, not a list"
        assert len(out) == len(expected), f"{msg}: {len(out)} arrays, expected {len(expected)}"
        return [(f"[{i}]", o, e) for i, (o, e) in enumerate(zip(out, expected))]
    return [(": dx" if kind == "grad" else "", out, expected)]


def _closeness(kind, key, ref, args, kwargs, expected, inputs, tol):
    """One assertion close(out, expected, msg) per output of the reference, holding the op's
    tolerance at the scale of that output."""
    if kind == "image":
        close = functools.partial(_image_close, tol=tol, scale_from=inputs)
        return [close] * (len(expected) if isinstance(expected, list) else 1)
    if kind == "forward":
        # the scale: the largest pre-activation magnitude of the reference
        pre = expected
        if kwargs.get("activation") not in (None, "linear"):
            pre = ref(*args, **{**kwargs, "activation": None})
        scale = max(1.0, float(np.abs(pre).max())) if pre.size else 1.0
        return [_allclose(tol, tol * scale)]
    # grad: the scale is the largest sum of |terms| behind one gradient element: the reference
    # with absolute values everywhere for the bilinear ops; for pooling and the activations
    # only |dy| (x and y decide where dy goes, not how much of it)
    dy, *rest = args
    bound_inputs = [np.abs(a) for a in rest] if key in BILINEAR else rest
    bound = ref(np.abs(dy), *bound_inputs, **kwargs)
    bounds = bound if isinstance(bound, tuple) else (bound,)
    return [_allclose(0, tol * (float(b.max()) if b is not None and b.size else 0.0))
            for b in bounds]


def _allclose(rtol, atol):
    return lambda o, e, m: np.testing.assert_allclose(o, e, rtol=rtol, atol=atol, err_msg=m)


def _image_close(out, expected, msg, tol, scale_from=()):
    """out within tol = (uint8 levels, float32 tolerance relative to max(1, largest magnitude
    of the reference and of scale_from)) of expected, at every element."""
    if out.size == 0:
        return
    u8_tol, f_tol = tol
    a = out.astype(np.float64)
    b = expected.astype(np.float64)
    if expected.dtype == np.uint8:
        allowed = float(u8_tol)
    else:
        mags = [np.abs(b).max()] + [np.abs(np.asarray(s, np.float64)).max()
                                    for s in scale_from if s.size]
        allowed = f_tol * max(1.0, *mags)
    assert np.isfinite(a).all() or not np.isfinite(b).all(), \
        f"{msg}: non-finite values in the result"
    err = np.abs(a - b)
    if err.max() > allowed:
        idx = np.unravel_index(int(np.argmax(err)), err.shape)
        n_off = int((err > allowed).sum())
        raise AssertionError(
            f"{msg}: max error {err.max():.6g} > {allowed:.3g} at {tuple(int(i) for i in idx)} "
            f"(foveal {a[idx]:.6g}, reference {b[idx]:.6g}); {n_off} of {err.size} elements off")


def _arrays(values):
    """The ndarrays among values, and inside list or tuple values (merge's channels)."""
    for v in values:
        if isinstance(v, np.ndarray):
            yield v
        elif isinstance(v, (list, tuple)):
            yield from (a for a in v if isinstance(a, np.ndarray))


def describe(args, kwargs):
    """A short, reproducible description of a call: arrays by shape and dtype."""
    def one(v):
        if isinstance(v, np.ndarray):
            s = f"array{v.shape}:{v.dtype}"
            if not v.flags.c_contiguous:
                s += ":noncontig"
            if not v.flags.writeable:
                s += ":readonly"
            return s
        if isinstance(v, (list, tuple)) and v and isinstance(v[0], np.ndarray):
            return "[" + ", ".join(one(a) for a in v) + "]"
        return repr(v)
    parts = [one(a) for a in args] + [f"{k}={one(v)}" for k, v in kwargs.items()]
    return "(" + ", ".join(parts) + ")"


# ----------------------------------------------------------------------------- layouts
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



def numeric_grad(loss, arr, eps=1e-3, indices=None):
    """Central differences of ``loss()`` with respect to the elements of ``arr`` (modified in
    place and restored): every element, or only the flat ``indices`` (then the derivatives at
    those, in that order). The step actually taken is measured (arr may be float32)."""
    flat = arr.reshape(-1)
    picks = range(flat.size) if indices is None else indices
    out = np.zeros(len(picks))
    for j, i in enumerate(picks):
        old = flat[i]
        flat[i] = old + eps
        hi, lp = float(flat[i]), loss()
        flat[i] = old - eps
        lo, lm = float(flat[i]), loss()
        flat[i] = old
        out[j] = (lp - lm) / (hi - lo)
    return out.reshape(arr.shape) if indices is None else out


def check_layer_gradients(layer, x, rng, weights=(), eps=1e-2, tol=2e-2, samples=6):
    """A layer's backward against central finite differences of sum(layer(x) * w) for a random
    w: the input gradient and the gradients of the named ``weights``, at ``samples`` random
    entries of each (float64 sums of a float32 forward; ``tol`` relative to max(1, |numeric|))."""
    y = layer(x, training=True)
    w = rng.standard_normal(y.shape).astype(np.float32)
    grads = {"x": layer.backward(w)}
    grads.update({name: getattr(layer, name).grad for name in weights})

    def loss():
        return float(np.sum(np.asarray(layer(x), np.float64) * w))

    for name, g in grads.items():
        arr = x if name == "x" else getattr(layer, name).value
        picks = rng.choice(arr.size, size=min(samples, arr.size), replace=False)
        for i, numeric in zip(picks, numeric_grad(loss, arr, eps, picks)):
            got = g.reshape(-1)[i]
            assert abs(got - numeric) <= tol * max(1.0, abs(numeric)), (name, i, got, numeric)


def layerwise_forward(model, x):
    """A model's inference forward one layer at a time, nothing fused: the reference of the
    inference fusions (``foveal.nn._fusion``)."""
    graph = model._graph
    vals = [None] * graph.n_slots
    vals[0] = x
    for layer, ins, out, multi in graph.steps:
        vals[out] = layer.call([vals[i] for i in ins] if multi else vals[ins[0]], False)
    return vals[graph.output_id]
