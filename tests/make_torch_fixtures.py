"""Record PyTorch reference outputs for ``foveal.nn.functional`` into tests/fixtures/torch_nn.npz.

Run by hand where torch is installed (the test suite itself never needs torch):

    python tests/make_torch_fixtures.py

Every case is seeded, so re-running the script with the same NumPy gives the same inputs.  The
torch side works the way a PyTorch user would: NHWC input is permuted to NCHW, a Keras kernel
(kh x kw x Cin/groups x Cout) to OIHW, TensorFlow "same" and explicit asymmetric padding are done
with ``F.pad`` before a padding-free ``F.conv2d`` / pool, and the result is permuted back to NHWC.

Keras-style "same" pooling: max pooling pads with -inf (so a padded cell never wins), and average
pooling divides the window sum of the zero-padded input by the window sum of a zero-padded tensor
of ones (the count of real cells, which Keras divides by); ``divisor_override=1`` makes both
pools plain sums, so the counts are exact integers.  Where the padding is symmetric and torch can
express it natively (pad <= pool/2), torch's own ``padding=`` (with ``count_include_pad=False``)
is used instead, as an independent cross-check of that emulation.

This module is also imported by tests/test_torch_parity.py: the case builders below use NumPy
only; torch is imported inside :func:`torch_reference` alone.

File layout: one compressed .npz holding ``<case>__<array>`` float32 arrays (``x``, ``kernel``,
``bias``, ``out``) and a ``meta`` JSON string: format version, torch/numpy versions, and per case
its name, foveal op, keyword arguments (JSON) and ``scale`` (the largest pre-activation magnitude,
which sets the absolute tolerance).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

FORMAT = 1
HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "fixtures", "torch_nn.npz")
SEP = "__"
ARRAY_ARGS = ("x", "kernel", "bias")


# ----------------------------------------------------------------------------- geometry
# Written here independently of foveal (and of tests/reference.py) on purpose.
def _pair(v):
    if isinstance(v, (list, tuple)):
        return (int(v[0]), int(v[1]))
    return (int(v), int(v))


def _tf_same(size, window, stride):
    """TensorFlow "same": out = ceil(size/stride), the odd padded pixel at the end."""
    out = -(-size // stride)
    total = max((out - 1) * stride + window - size, 0)
    return (total // 2, total - total // 2)


def resolve_padding(padding, hw, window, strides):
    """Any foveal padding argument -> ((top, bottom), (left, right)).  ``window`` is the
    effective (dilated) window."""
    if padding == "valid":
        return ((0, 0), (0, 0))
    if padding == "same":
        return tuple(_tf_same(hw[i], window[i], strides[i]) for i in range(2))
    if isinstance(padding, (list, tuple)) and isinstance(padding[0], (list, tuple)):
        return ((int(padding[0][0]), int(padding[0][1])), (int(padding[1][0]), int(padding[1][1])))
    ph, pw = _pair(padding)
    return ((ph, ph), (pw, pw))


def _out_size(size, pads, window, stride):
    return (size + pads[0] + pads[1] - window) // stride + 1


def output_hw(hw, padding, window, strides):
    pads = resolve_padding(padding, hw, window, strides)
    return tuple(_out_size(hw[i], pads[i], window[i], strides[i]) for i in range(2))


# ----------------------------------------------------------------------------- cases
def _case(name, op, arrays, **kwargs):
    return {"name": name, "op": op, "kwargs": json.loads(json.dumps(kwargs)),
            "arrays": {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()}}


def _rng(name):
    # A per-case seed derived from the name, so adding a case never changes another one.
    return np.random.default_rng([20240611, *name.encode()])


def _conv(name, n, h, w, cin, cout, k, groups=1, bias=False, **kwargs):
    r = _rng(name)
    kh, kw = _pair(k)
    arrays = {"x": r.standard_normal((n, h, w, cin)),
              "kernel": r.standard_normal((kh, kw, cin // groups, cout)) / np.sqrt(kh * kw * cin / groups)}
    if bias:
        arrays["bias"] = r.standard_normal(cout)
    if groups != 1:
        kwargs["groups"] = groups
    return _case(name, "conv2d", arrays, **kwargs)


def _dw(name, n, h, w, c, mult, k, bias=False, **kwargs):
    r = _rng(name)
    kh, kw = _pair(k)
    arrays = {"x": r.standard_normal((n, h, w, c)),
              "kernel": r.standard_normal((kh, kw, c, mult)) / np.sqrt(kh * kw)}
    if bias:
        arrays["bias"] = r.standard_normal(c * mult)
    return _case(name, "depthwise_conv2d", arrays, **kwargs)


def _unary(name, op, shape, **kwargs):
    return _case(name, op, {"x": _rng(name).standard_normal(shape) * 2.0}, **kwargs)


def _dense(name, lead, fin, fout, bias=True, **kwargs):
    r = _rng(name)
    arrays = {"x": r.standard_normal((*lead, fin)),
              "kernel": r.standard_normal((fin, fout)) / np.sqrt(fin)}
    if bias:
        arrays["bias"] = r.standard_normal(fout)
    return _case(name, "dense", arrays, **kwargs)


def fixed_cases():
    """The recorded cases (NumPy only)."""
    return [
        # conv2d: padding forms, strides, dilation
        _conv("conv_valid_k3", 2, 8, 8, 3, 5, 3),
        _conv("conv_same_k3_bias", 2, 7, 9, 4, 6, 3, bias=True, padding="same"),
        _conv("conv_same_k4_s2_asym", 1, 9, 9, 4, 5, 4, bias=True, strides=2, padding="same"),
        _conv("conv_same_k3_s3", 2, 10, 11, 3, 4, 3, strides=3, padding="same"),
        _conv("conv_explicit_asym", 1, 7, 8, 3, 4, 3, padding=((1, 2), (0, 3))),
        _conv("conv_explicit_int2_s2", 2, 9, 8, 5, 3, 3, bias=True, strides=2, padding=2),
        _conv("conv_explicit_pair", 1, 6, 7, 2, 3, (3, 5), padding=(1, 2)),
        _conv("conv_dilated2_valid", 1, 11, 12, 3, 4, 3, dilation_rate=2),
        _conv("conv_dilated_rect_same", 2, 9, 10, 3, 5, 3, bias=True, strides=(1, 2),
              padding="same", dilation_rate=(2, 1)),
        _conv("conv_same_s2_dilated2", 1, 12, 11, 4, 4, 3, strides=2, padding="same",
              dilation_rate=2),
        _conv("conv_rect_k2x5_s2x1", 1, 8, 10, 3, 4, (2, 5), strides=(2, 1)),
        # grouped
        _conv("conv_groups2_same", 2, 7, 7, 6, 4, 3, groups=2, bias=True, padding="same"),
        _conv("conv_groups3_s2", 1, 9, 9, 6, 9, 3, groups=3, strides=2),
        _conv("conv_groups_eq_channels", 1, 8, 8, 5, 5, 3, groups=5, bias=True, padding="same"),
        # fused activations
        _conv("conv_relu", 2, 8, 8, 4, 6, 3, bias=True, padding="same", activation="relu"),
        _conv("conv_sigmoid", 1, 8, 8, 4, 6, 3, bias=True, padding="same", activation="sigmoid"),
        _conv("conv_tanh", 1, 8, 8, 4, 6, 3, bias=True, activation="tanh"),
        # typical network shapes
        _conv("conv_1x1_bias", 2, 6, 6, 16, 8, 1, bias=True),
        _conv("conv_7x7_s2_stem", 1, 16, 16, 3, 8, 7, bias=True, strides=2, padding="same",
              activation="relu"),
        _conv("conv_c17_to_c33_same", 1, 6, 6, 17, 33, 3, bias=True, padding="same"),
        # depthwise
        _dw("dw_m1_same_bias", 2, 8, 8, 5, 1, 3, bias=True, padding="same"),
        _dw("dw_m2_s2_relu", 1, 9, 9, 4, 2, 3, bias=True, strides=2, activation="relu"),
        _dw("dw_m2_k5_dilated2_same", 1, 12, 12, 3, 2, 5, padding="same", dilation_rate=2),
        # max pooling
        _unary("maxpool_valid_2", "max_pool2d", (2, 8, 9, 3), pool_size=2),
        _unary("maxpool_valid_3_s2", "max_pool2d", (1, 9, 9, 4), pool_size=3, strides=2),
        _unary("maxpool_same_3_s2_asym", "max_pool2d", (2, 8, 8, 3), pool_size=3, strides=2,
               padding="same"),
        _unary("maxpool_same_3_s1_sym", "max_pool2d", (1, 7, 6, 5), pool_size=3, strides=1,
               padding="same"),
        _unary("maxpool_same_2_odd", "max_pool2d", (1, 5, 7, 2), pool_size=2, padding="same"),
        # average pooling
        _unary("avgpool_valid_2", "avg_pool2d", (2, 8, 9, 3), pool_size=2),
        _unary("avgpool_valid_2x3_s1x2", "avg_pool2d", (1, 7, 9, 4), pool_size=(2, 3),
               strides=(1, 2)),
        _unary("avgpool_same_3_s2_asym", "avg_pool2d", (2, 8, 8, 3), pool_size=3, strides=2,
               padding="same"),
        _unary("avgpool_same_3_s1_sym", "avg_pool2d", (1, 7, 6, 5), pool_size=3, strides=1,
               padding="same"),
        _unary("avgpool_same_2_odd", "avg_pool2d", (1, 5, 7, 2), pool_size=2, padding="same"),
        # global pools
        _unary("global_avg", "global_avg_pool2d", (3, 5, 6, 7)),
        _unary("global_max", "global_max_pool2d", (3, 5, 6, 7)),
        # dense, softmax and elementwise
        _dense("dense_bias", (4,), 20, 7),
        _dense("dense_softmax", (3,), 16, 10, activation="softmax"),
        _dense("dense_relu_3d_nobias", (2, 3), 9, 5, bias=False, activation="relu"),
        _unary("softmax_last", "softmax", (4, 10)),
        _unary("softmax_axis1_nhwc", "softmax", (2, 3, 4, 5), axis=1),
        _unary("relu", "relu", (2, 5, 6)),
        _unary("sigmoid", "sigmoid", (2, 5, 6)),
    ]


def random_case(seed):
    """One random, valid case for the live tests (NumPy only)."""
    r = np.random.default_rng([7919, seed])
    kind = ["conv2d", "conv2d", "conv2d", "depthwise_conv2d", "max_pool2d", "avg_pool2d",
            "dense", "global"][seed % 8]
    name = f"live{seed}_{kind}"

    def rint(lo, hi):
        return int(r.integers(lo, hi + 1))

    while True:
        n, h, w = rint(1, 3), rint(1, 14), rint(1, 14)
        if kind in ("conv2d", "depthwise_conv2d"):
            k = (rint(1, 5), rint(1, 5))
            s = (rint(1, 3), rint(1, 3))
            d = (rint(1, 2), rint(1, 2))
            eff = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
            form = rint(0, 4)
            padding = ["valid", "same", rint(0, 2), [rint(0, 2), rint(0, 2)],
                       [[rint(0, 3), rint(0, 3)], [rint(0, 3), rint(0, 3)]]][form]
            if min(output_hw((h, w), padding, eff, s)) < 1:
                continue
            kwargs = dict(strides=list(s), padding=padding, dilation_rate=list(d),
                          activation=[None, "relu", "sigmoid", "tanh"][rint(0, 3)])
            if kind == "conv2d":
                groups = [1, 1, 2, 3][rint(0, 3)]
                cin, cout = groups * rint(1, 6), groups * rint(1, 6)
                kernel = r.standard_normal((*k, cin // groups, cout)) / np.sqrt(k[0] * k[1] * cin / groups)
                if groups != 1:
                    kwargs["groups"] = groups
            else:
                cin = rint(1, 8)
                cout = cin * rint(1, 3)
                kernel = r.standard_normal((*k, cin, cout // cin)) / np.sqrt(k[0] * k[1])
            arrays = {"x": r.standard_normal((n, h, w, cin)), "kernel": kernel}
            if r.random() < 0.5:
                arrays["bias"] = r.standard_normal(cout)
            return _case(name, kind, arrays, **kwargs)
        if kind in ("max_pool2d", "avg_pool2d"):
            p = (rint(1, 4), rint(1, 4))
            s = None if r.random() < 0.3 else [rint(1, 3), rint(1, 3)]
            padding = ["valid", "same"][rint(0, 1)]
            if min(output_hw((h, w), padding, p, p if s is None else s)) < 1:
                continue
            return _case(name, kind, {"x": r.standard_normal((n, h, w, rint(1, 9)))},
                         pool_size=list(p), strides=s, padding=padding)
        if kind == "dense":
            fin, fout = rint(1, 40), rint(1, 20)
            arrays = {"x": r.standard_normal((n, fin)),
                      "kernel": r.standard_normal((fin, fout)) / np.sqrt(fin)}
            if r.random() < 0.5:
                arrays["bias"] = r.standard_normal(fout)
            return _case(name, "dense", arrays,
                         activation=[None, "relu", "sigmoid", "tanh", "softmax"][rint(0, 4)])
        op = ["global_avg_pool2d", "global_max_pool2d", "softmax"][rint(0, 2)]
        x = r.standard_normal((n, h, w, rint(1, 9))) * 2.0
        if op == "softmax":
            return _case(name, op, {"x": x}, axis=rint(-4, 3))
        return _case(name, op, {"x": x})


# ----------------------------------------------------------------------------- torch side
def torch_reference(case):
    """(output as NHWC float32 NumPy, largest pre-activation magnitude) computed with torch."""
    import torch
    import torch.nn.functional as TF

    op, kw, a = case["op"], case["kwargs"], case["arrays"]
    t = {k: torch.from_numpy(np.array(v, dtype=np.float32)) for k, v in a.items()}
    act = kw.get("activation")

    def nchw(x):
        return x.permute(0, 3, 1, 2).contiguous()

    def nhwc(y):
        return y.permute(0, 2, 3, 1).contiguous()

    def finish(pre):
        scale = float(pre.abs().max()) if pre.numel() else 0.0
        if act is None:
            y = pre
        elif act == "softmax":
            y = torch.softmax(pre, dim=-1)
        else:
            y = {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[act](pre)
        return y, scale

    with torch.no_grad():
        if op in ("conv2d", "depthwise_conv2d"):
            x = nchw(t["x"])
            k = t["kernel"]
            kh, kw_, c2, c3 = k.shape
            if op == "conv2d":
                groups = kw.get("groups", 1)
                weight = k.permute(3, 2, 0, 1).contiguous()            # HWIO -> OIHW
            else:
                # Keras depthwise: output channel c*M + m convolves input channel c with
                # kernel[:, :, c, m]  ->  grouped OIHW weight (C*M, 1, kh, kw), groups = C.
                groups = c2
                weight = k.permute(2, 3, 0, 1).reshape(c2 * c3, 1, kh, kw_).contiguous()
            s = _pair(kw.get("strides", 1))
            d = _pair(kw.get("dilation_rate", 1))
            eff = (d[0] * (kh - 1) + 1, d[1] * (kw_ - 1) + 1)
            (pt, pb), (pl, pr) = resolve_padding(kw.get("padding", "valid"),
                                                 tuple(x.shape[2:]), eff, s)
            x = TF.pad(x, (pl, pr, pt, pb))
            pre = TF.conv2d(x, weight, t.get("bias"), stride=s, padding=0, dilation=d,
                            groups=groups)
            y, scale = finish(pre)
            return nhwc(y).numpy(), scale
        if op in ("max_pool2d", "avg_pool2d"):
            x = nchw(t["x"])
            p = _pair(kw.get("pool_size", 2))
            s = p if kw.get("strides") is None else _pair(kw["strides"])
            (pt, pb), (pl, pr) = resolve_padding(kw.get("padding", "valid"), tuple(x.shape[2:]), p, s)
            native = pt == pb and pl == pr and pt <= p[0] // 2 and pl <= p[1] // 2
            if op == "max_pool2d":
                if native:
                    y = TF.max_pool2d(x, p, s, padding=(pt, pl))
                else:
                    y = TF.max_pool2d(TF.pad(x, (pl, pr, pt, pb), value=float("-inf")), p, s)
            elif native:
                y = TF.avg_pool2d(x, p, s, padding=(pt, pl), count_include_pad=False)
            elif (pt, pb, pl, pr) == (0, 0, 0, 0):
                y = TF.avg_pool2d(x, p, s)
            else:
                total = TF.avg_pool2d(TF.pad(x, (pl, pr, pt, pb)), p, s, divisor_override=1)
                ones = TF.pad(torch.ones_like(x[:1, :1]), (pl, pr, pt, pb))
                count = TF.avg_pool2d(ones, p, s, divisor_override=1)
                y = total / count
            return nhwc(y).numpy(), float(x.abs().max())
        if op == "global_avg_pool2d":
            x = nchw(t["x"])
            return TF.adaptive_avg_pool2d(x, 1).flatten(1).numpy(), float(x.abs().max())
        if op == "global_max_pool2d":
            x = nchw(t["x"])
            return TF.adaptive_max_pool2d(x, 1).flatten(1).numpy(), float(x.abs().max())
        if op == "dense":
            # Keras kernel (in x out) is the transpose of torch's Linear weight (out x in).
            pre = TF.linear(t["x"], t["kernel"].T.contiguous(), t.get("bias"))
            y, scale = finish(pre)
            return y.numpy(), scale
        if op == "softmax":
            return TF.softmax(t["x"], dim=kw.get("axis", -1)).numpy(), float(t["x"].abs().max())
        if op == "relu":
            return TF.relu(t["x"]).numpy(), float(t["x"].abs().max())
        if op == "sigmoid":
            return torch.sigmoid(t["x"]).numpy(), float(t["x"].abs().max())
    raise ValueError(f"unknown op {op!r}")


# ----------------------------------------------------------------------------- file
def load(path=FIXTURE):
    """(meta dict, list of cases with their recorded ``out`` and ``scale``); no pickle."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        cases = []
        for c in meta["cases"]:
            arrays = {k: z[c["name"] + SEP + k] for k in ARRAY_ARGS if c["name"] + SEP + k in z}
            cases.append({**c, "arrays": arrays, "out": z[c["name"] + SEP + "out"]})
    return meta, cases


def main():
    import torch

    torch.manual_seed(0)
    cases = fixed_cases()
    names = [c["name"] for c in cases]
    assert len(set(names)) == len(names), "duplicate case names"
    arrays, described = {}, []
    for c in cases:
        out, scale = torch_reference(c)
        for k, v in c["arrays"].items():
            arrays[c["name"] + SEP + k] = v
        arrays[c["name"] + SEP + "out"] = np.ascontiguousarray(out, dtype=np.float32)
        described.append({"name": c["name"], "op": c["op"], "kwargs": c["kwargs"], "scale": scale})
    meta = {"format": FORMAT, "torch_version": torch.__version__, "numpy_version": np.__version__,
            "generator": "tests/make_torch_fixtures.py", "cases": described}
    os.makedirs(os.path.dirname(FIXTURE), exist_ok=True)
    np.savez_compressed(FIXTURE, meta=np.array(json.dumps(meta, indent=None)), **arrays)
    print(f"wrote {FIXTURE}: {len(cases)} cases, {os.path.getsize(FIXTURE)} bytes, "
          f"torch {torch.__version__}")


if __name__ == "__main__":
    sys.exit(main())
