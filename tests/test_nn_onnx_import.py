"""foveal.nn.load_onnx on small graphs written with onnx.helper, one or a few per ONNX op:
predict (NHWC) equals onnxruntime on the same graph (NCHW) within 1e-4 of the output's scale;
include_top/pooling/input_shape/preprocess; the round trip through export_onnx; errors that
name the op and the node; imported models train. Runs without torch (onnx + onnxruntime are
dependencies of the default install)."""
import numpy as np
import pytest

import foveal.nn as nn

onnx = pytest.importorskip("onnx", reason="onnx is not installed")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

F32 = TensorProto.FLOAT
RNG = np.random.default_rng(1234)


def _w(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def _graph(nodes, inits, in_shape=("N", 3, 8, 8), opset=17, out="y", in_name="x"):
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info(in_name, F32, list(in_shape))],
                          [helper.make_tensor_value_info(out, F32, None)],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def _save(tmp_path, model, name="m.onnx"):
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


def _ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def _close(got, want):
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * scale)


def _check(tmp_path, model, x=None, nchw_out=True, **kwargs):
    """load_onnx(model) predicts what onnxruntime computes; returns the foveal model."""
    path = _save(tmp_path, model)
    if x is None:
        x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    want = _ort(path, x)
    fov = nn.load_onnx(path, **kwargs)
    got = fov.predict(x.transpose(0, 2, 3, 1) if x.ndim == 4 else x, verbose=0)
    if want.ndim == 4 and nchw_out:
        want = want.transpose(0, 2, 3, 1)
    _close(got, want)
    return fov


# ---- convolutions ------------------------------------------------------------------------

CONV_CASES = [
    dict(k=3, pads=[0, 0, 0, 0]), dict(k=3, pads=[1, 1, 1, 1]), dict(k=3, pads=[0, 1, 2, 1]),
    dict(k=3, pads=[1, 1, 1, 1], strides=[2, 2]), dict(k=5, pads=[2, 2, 2, 2], strides=[2, 1]),
    dict(k=3, pads=[2, 2, 2, 2], dilations=[2, 2]), dict(k=1, pads=[0, 0, 0, 0], strides=[2, 2]),
    dict(k=3, auto_pad="SAME_UPPER", strides=[2, 2]), dict(k=3, auto_pad="SAME_LOWER", strides=[2, 2]),
    dict(k=3, auto_pad="SAME_LOWER"), dict(k=3, auto_pad="VALID"), dict(k=(3, 1), pads=[1, 0, 1, 0]),
    dict(k=3, pads=[1, 1, 1, 1], bias=False),
    dict(k=3, pads=[1, 1, 1, 1], group=6, cin=6, cout=6),        # depthwise
    dict(k=3, pads=[1, 1, 1, 1], group=6, cin=6, cout=12, strides=[2, 2]),   # multiplier 2
    dict(k=3, pads=[1, 1, 1, 1], group=2, cin=6, cout=4),        # grouped
]


@pytest.mark.parametrize("case", CONV_CASES, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
def test_conv(tmp_path, case):
    cin, cout, group = case.get("cin", 3), case.get("cout", 5), case.get("group", 1)
    k = case["k"] if isinstance(case["k"], tuple) else (case["k"], case["k"])
    attrs = {key: case[key] for key in ("pads", "strides", "dilations", "auto_pad") if key in case}
    inits = {"W": _w(cout, cin // group, *k)}
    inputs = ["x", "W"]
    if case.get("bias", True):
        inits["B"] = _w(cout)
        inputs.append("B")
    model = _graph([helper.make_node("Conv", inputs, ["y"], name="conv", group=group, kernel_shape=list(k),
                                     **attrs)], inits, in_shape=("N", cin, 9, 8))
    x = RNG.standard_normal((2, cin, 9, 8)).astype(np.float32)
    fov = _check(tmp_path, model, x)
    layer = fov.get_layer("conv")
    assert isinstance(layer, nn.DepthwiseConv2D if group == cin and group > 1 else nn.Conv2D)


@pytest.mark.parametrize("strides,pads,out_pad,k", [(2, [1, 1, 1, 1], [1, 1], 3), (2, [0, 0, 0, 0], [0, 0], 2),
                                                    (1, [1, 0, 1, 0], [0, 0], 3), (3, [0, 1, 1, 0], [2, 1], 3)])
def test_conv_transpose(tmp_path, strides, pads, out_pad, k):
    node = helper.make_node("ConvTranspose", ["x", "W", "B"], ["y"], name="up", strides=[strides, strides],
                            pads=pads, output_padding=out_pad, kernel_shape=[k, k])
    fov = _check(tmp_path, _graph([node], {"W": _w(3, 4, k, k), "B": _w(4)}))
    assert isinstance(fov.get_layer("up"), nn.Conv2DTranspose)


def _bn_inits(c):
    return {"g": (RNG.uniform(0.5, 1.5, c)).astype(np.float32), "b": _w(c), "m": _w(c),
            "v": RNG.uniform(0.5, 2.0, c).astype(np.float32)}


def test_batch_normalization_4d_and_2d(tmp_path):
    nodes = [helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"], ["h"], name="bn", epsilon=1e-3,
                              momentum=0.8),
             helper.make_node("Flatten", ["h"], ["f"]),
             helper.make_node("Gemm", ["f", "W"], ["d"], transB=1),
             helper.make_node("BatchNormalization", ["d", "g2", "b2", "m2", "v2"], ["y"], name="bn1d")]
    inits = {**_bn_inits(3), "W": _w(7, 3 * 8 * 8, scale=0.05)}
    inits.update({k + "2": v for k, v in _bn_inits(7).items()})
    fov = _check(tmp_path, _graph(nodes, inits))
    bn = fov.get_layer("bn")
    assert isinstance(bn, nn.BatchNormalization) and bn.epsilon == pytest.approx(1e-3)
    assert bn.momentum == pytest.approx(0.8)   # ONNX's momentum is Keras's


# ---- activations -------------------------------------------------------------------------

ACTIVATIONS = [
    ("Relu", {}, [], {}), ("LeakyRelu", {"alpha": 0.1}, [], {}), ("Sigmoid", {}, [], {}), ("Tanh", {}, [], {}),
    ("HardSigmoid", {"alpha": 1 / 6, "beta": 0.5}, [], {}), ("HardSwish", {}, [], {}), ("Elu", {}, [], {}),
    ("Softplus", {}, [], {}), ("Identity", {}, [], {}),
    ("Clip", {}, ["lo", "hi"], {"lo": np.float32(0), "hi": np.float32(6)}),
    ("Clip", {}, ["lo"], {"lo": np.float32(0)}),
    ("Clip", {}, ["lo", "hi"], {"lo": np.float32(0), "hi": np.float32(1.5)}),
]


@pytest.mark.parametrize("op,attrs,extra,inits", ACTIVATIONS, ids=lambda v: str(v) if isinstance(v, str) else "")
def test_activation(tmp_path, op, attrs, extra, inits):
    x = (RNG.standard_normal((2, 3, 8, 8)) * 4).astype(np.float32)
    _check(tmp_path, _graph([helper.make_node(op, ["x", *extra], ["y"], name="act", **attrs)], inits), x)


def test_clip_before_opset_11_and_gelu_opset_20(tmp_path):
    x = (RNG.standard_normal((2, 3, 8, 8)) * 4).astype(np.float32)
    _check(tmp_path, _graph([helper.make_node("Clip", ["x"], ["y"], min=0.0, max=6.0)], {}, opset=10), x)
    (tmp_path / "m.onnx").unlink()
    _check(tmp_path, _graph([helper.make_node("Gelu", ["x"], ["y"])], {}, opset=20), x)


def test_softmax_and_dropout_on_features(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Dropout", ["f", "ratio"], ["d"], name="drop"),
             helper.make_node("Softmax", ["d"], ["y"], axis=1)]
    fov = _check(tmp_path, _graph(nodes, {"ratio": np.float32(0.25)}))
    assert fov.get_layer("drop").rate == pytest.approx(0.25)


# ---- element-wise and merging ------------------------------------------------------------

def test_two_tensor_arithmetic_with_squeeze_excite_broadcast(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "W"], ["a"], kernel_shape=[1, 1]),
             helper.make_node("GlobalAveragePool", ["a"], ["s"]),
             helper.make_node("Sigmoid", ["s"], ["g"]),
             helper.make_node("Mul", ["a", "g"], ["m"], name="excite"),
             helper.make_node("Sub", ["m", "a"], ["d"]),
             helper.make_node("Add", ["d", "x"], ["e"]),
             helper.make_node("Sum", ["e", "x", "a"], ["t"]), helper.make_node("Mean", ["t", "x"], ["u"]),
             helper.make_node("Max", ["u", "x"], ["v"]), helper.make_node("Min", ["v", "a"], ["y"])]
    fov = _check(tmp_path, _graph(nodes, {"W": _w(3, 3, 1, 1)}))
    assert isinstance(fov.get_layer("excite"), nn.Multiply)


@pytest.mark.parametrize("op,const_first,shape", [
    ("Add", False, (3, 1, 1)), ("Mul", False, (1, 3, 1, 1)), ("Sub", False, ()), ("Sub", True, (3, 1, 1)),
    ("Div", False, (3, 1, 1)), ("Mul", True, (1,)), ("Add", False, (8,)),
])
def test_arithmetic_with_a_constant_is_rescaling(tmp_path, op, const_first, shape):
    c = RNG.uniform(0.5, 2.0, shape).astype(np.float32)
    inputs = ["c", "x"] if const_first else ["x", "c"]
    fov = _check(tmp_path, _graph([helper.make_node(op, inputs, ["y"], name="arith")], {"c": c}))
    assert isinstance(fov.get_layer("arith"), nn.Rescaling)


def test_concat_of_channels(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "W"], ["a"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Concat", ["x", "a", "x"], ["y"], axis=1)]
    _check(tmp_path, _graph(nodes, {"W": _w(4, 3, 3, 3)}))


# ---- pooling -----------------------------------------------------------------------------

POOLS = [
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])),
    ("MaxPool", dict(kernel_shape=[2, 2], strides=[2, 2])),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 0], ceil_mode=1)),
    ("MaxPool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER")),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[1, 1], pads=[1, 1, 1, 1])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)),
    ("AveragePool", dict(kernel_shape=[2, 2], strides=[2, 2])),
    ("AveragePool", dict(kernel_shape=[3, 3], strides=[2, 2], auto_pad="SAME_UPPER", count_include_pad=1)),
]


@pytest.mark.parametrize("op,attrs", POOLS)
def test_pooling(tmp_path, op, attrs):
    x = RNG.standard_normal((2, 3, 9, 10)).astype(np.float32)
    _check(tmp_path, _graph([helper.make_node(op, ["x"], ["y"], **attrs)], {}, in_shape=("N", 3, 9, 10)), x)


@pytest.mark.parametrize("op,opset,keepdims", [("GlobalAveragePool", 17, 1), ("GlobalMaxPool", 17, 1),
                                               ("ReduceMean", 17, 0), ("ReduceMax", 17, 1),
                                               ("ReduceMean", 18, 1), ("ReduceMax", 18, 0)])
def test_global_pooling(tmp_path, op, opset, keepdims):
    inits = {}
    if op.startswith("Global"):
        node = helper.make_node(op, ["x"], ["y"])
    elif opset < 18:
        node = helper.make_node(op, ["x"], ["y"], axes=[2, 3], keepdims=keepdims)
    else:
        inits["axes"] = np.array([-1, 2], np.int64)
        node = helper.make_node(op, ["x", "axes"], ["y"], keepdims=keepdims)
    _check(tmp_path, _graph([node], inits, opset=opset))


# ---- dense and shapes --------------------------------------------------------------------

def test_flatten_of_a_spatial_map_then_gemm_keeps_onnx_feature_order(tmp_path):
    """A VGG/AlexNet classifier: flattening N x C x H x W in NCHW order; foveal flattens NHWC,
    so the Dense rows are permuted once at import."""
    nodes = [helper.make_node("Conv", ["x", "W"], ["a"], kernel_shape=[3, 3], strides=[2, 2]),
             helper.make_node("Relu", ["a"], ["r"]), helper.make_node("Flatten", ["r"], ["f"]),
             helper.make_node("Gemm", ["f", "W1", "B1"], ["y"], name="fc", transB=1, alpha=0.5, beta=2.0)]
    _check(tmp_path, _graph(nodes, {"W": _w(4, 3, 3, 3), "W1": _w(6, 4 * 3 * 3), "B1": _w(6)}))


def test_matmul_plus_bias_is_one_dense(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
             helper.make_node("Reshape", ["p", "shape"], ["f"]),
             helper.make_node("MatMul", ["f", "W"], ["z"], name="fc"), helper.make_node("Add", ["z", "B"], ["y"])]
    fov = _check(tmp_path, _graph(nodes, {"shape": np.array([0, -1], np.int64), "W": _w(3, 5), "B": _w(5)}))
    assert fov.get_layer("fc").use_bias and len([la for la in fov.layers if isinstance(la, nn.Dense)]) == 1


def test_legacy_shape_arithmetic_flatten_is_folded(tmp_path):
    """x.view(x.size(0), -1) as old torch exports wrote it: Shape, Gather, Unsqueeze, Concat."""
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
             helper.make_node("Shape", ["p"], ["s"]),
             helper.make_node("Constant", [], ["zero"], value=numpy_helper.from_array(np.array(0, np.int64))),
             helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
             helper.make_node("Unsqueeze", ["n", "ax"], ["n1"]),
             helper.make_node("Concat", ["n1", "minus1"], ["shape"], axis=0),
             helper.make_node("Reshape", ["p", "shape"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "B"], ["y"])]
    inits = {"ax": np.array([0], np.int64), "minus1": np.array([-1], np.int64), "W": _w(3, 4), "B": _w(4)}
    _check(tmp_path, _graph(nodes, inits))


def test_squeeze_unsqueeze_squeeze_excite_with_dense(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["x"], ["p"]),
             helper.make_node("Squeeze", ["p", "axes"], ["f"]),
             helper.make_node("Gemm", ["f", "W", "B"], ["g"]), helper.make_node("Sigmoid", ["g"], ["s"]),
             helper.make_node("Unsqueeze", ["s", "axes"], ["u"]), helper.make_node("Mul", ["x", "u"], ["y"])]
    _check(tmp_path, _graph(nodes, {"axes": np.array([2, 3], np.int64), "W": _w(3, 3), "B": _w(3)}))


def test_zero_pad_both_opsets(tmp_path):
    node = helper.make_node("Pad", ["x", "pads"], ["y"], mode="constant")
    _check(tmp_path, _graph([node], {"pads": np.array([0, 0, 1, 2, 0, 0, 3, 0], np.int64)}))
    (tmp_path / "m.onnx").unlink()
    node = helper.make_node("Pad", ["x"], ["y"], pads=[0, 0, 2, 1, 0, 0, 0, 1])
    _check(tmp_path, _graph([node], {}, opset=10))


@pytest.mark.parametrize("mode,ctm,nearest,scale", [("nearest", "asymmetric", "floor", 2),
                                                    ("linear", "half_pixel", None, 2),
                                                    ("linear", "pytorch_half_pixel", None, 3),
                                                    ("nearest", "half_pixel", "round_prefer_floor", 2)])
def test_resize(tmp_path, mode, ctm, nearest, scale):
    attrs = dict(mode=mode, coordinate_transformation_mode=ctm)
    if nearest:
        attrs["nearest_mode"] = nearest
    node = helper.make_node("Resize", ["x", "", "scales"], ["y"], **attrs)
    _check(tmp_path, _graph([node], {"scales": np.array([1, 1, scale, scale], np.float32)}))


def test_resize_to_sizes_and_upsample_opset_9(tmp_path):
    node = helper.make_node("Resize", ["x", "", "", "sizes"], ["y"], mode="nearest",
                            coordinate_transformation_mode="asymmetric", nearest_mode="floor")
    _check(tmp_path, _graph([node], {"sizes": np.array([2, 3, 16, 24], np.int64)}))
    (tmp_path / "m.onnx").unlink()
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
    _check(tmp_path, _graph([node], {"scales": np.array([1, 1, 2, 2], np.float32)}, opset=9))


def test_nhwc_input_model_with_transposes(tmp_path):
    """A Keras/tf2onnx-style graph: NHWC input, Transpose to NCHW around the convolution and
    back; the Transposes only relabel axes (no layer, no copy)."""
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["t", "W"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c"], ["y"], perm=[0, 2, 3, 1])]
    model = _graph(nodes, {"W": _w(4, 3, 3, 3)}, in_shape=("N", 8, 8, 3))
    path = _save(tmp_path, model)
    x = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    fov = nn.load_onnx(path)
    _close(fov.predict(x, verbose=0), _ort(path, x))
    assert not any(type(la).__name__ == "Transpose" for la in fov.layers)
    assert len(fov.layers) == 2   # the input and the convolution


# ---- the model: top, pooling, input size, preprocessing, round trip -----------------------

def _small_cnn(in_shape=("N", 3, 16, 16)):
    nodes = [helper.make_node("Conv", ["x", "W1", "B1"], ["c1"], name="/stem/conv", kernel_shape=[3, 3],
                              strides=[2, 2], pads=[1, 1, 1, 1]),
             helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"], name="/stem/bn"),
             helper.make_node("Clip", ["n1", "lo", "hi"], ["r1"], name="/stem/relu6"),
             helper.make_node("Conv", ["r1", "W2"], ["c2"], name="/block/dw", kernel_shape=[3, 3],
                              pads=[1, 1, 1, 1], group=8),
             helper.make_node("Relu", ["c2"], ["r2"], name="/block/relu"),
             helper.make_node("Add", ["r2", "r1"], ["s"], name="/block/add"),
             helper.make_node("GlobalAveragePool", ["s"], ["p"], name="/pool"),
             helper.make_node("Flatten", ["p"], ["f"], name="/flatten"),
             helper.make_node("Gemm", ["f", "W3", "B3"], ["y"], name="/classifier", transB=1)]
    inits = {"W1": _w(8, 3, 3, 3), "B1": _w(8), **_bn_inits(8), "lo": np.float32(0), "hi": np.float32(6),
             "W2": _w(8, 1, 3, 3), "W3": _w(4, 8), "B3": _w(4)}
    return _graph(nodes, inits, in_shape=in_shape)


def test_names_come_from_the_nodes(tmp_path):
    fov = _check(tmp_path, _small_cnn(), RNG.standard_normal((3, 3, 16, 16)).astype(np.float32))
    names = [la.name for la in fov.layers]
    assert {"stem_conv", "stem_bn", "stem_relu6", "block_dw", "block_add", "classifier"} <= set(names)
    assert all(la.trainable for la in fov.layers)


@pytest.mark.parametrize("pooling,shape", [(None, (3, 1, 1, 8)), ("avg", (3, 8)), ("max", (3, 8))])
def test_include_top_false_cuts_before_the_flatten(tmp_path, pooling, shape):
    path = _save(tmp_path, _small_cnn())
    fov = nn.load_onnx(path, include_top=False, pooling=pooling)
    x = RNG.standard_normal((3, 16, 16, 3)).astype(np.float32)
    y = fov.predict(x, verbose=0)
    assert y.shape == shape
    assert "classifier" not in [la.name for la in fov.layers]
    # the features are the classifier's input as onnxruntime computes it
    model = onnx.load(str(path))
    model.graph.output[0].name = "f"
    del model.graph.node[-1]
    feats = _ort(_save(tmp_path, model, "cut.onnx"), x.transpose(0, 3, 1, 2))
    _close(y.reshape(3, 8), feats)


def test_headless_model_and_spatial_features(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "W"], ["y"], kernel_shape=[3, 3], strides=[2, 2])]
    path = _save(tmp_path, _graph(nodes, {"W": _w(6, 3, 3, 3)}, in_shape=("N", 3, 17, 17)))
    x = RNG.standard_normal((2, 17, 17, 3)).astype(np.float32)
    want = _ort(path, x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1)
    _close(nn.load_onnx(path, include_top=False).predict(x, verbose=0), want)
    _close(nn.load_onnx(path, include_top=False, pooling="avg").predict(x, verbose=0), want.mean(axis=(1, 2)))
    _close(nn.load_onnx(path, include_top=False, pooling="max").predict(x, verbose=0), want.max(axis=(1, 2)))


def test_input_shape_fixes_a_free_size(tmp_path):
    path = _save(tmp_path, _small_cnn(("N", 3, "H", "W")))
    fov = nn.load_onnx(path, input_shape=(20, 12, 3))
    assert fov.input_shape == (None, 20, 12, 3)
    x = RNG.standard_normal((2, 20, 12, 3)).astype(np.float32)
    _close(fov.predict(x, verbose=0), _ort(path, x.transpose(0, 3, 1, 2)))
    free = nn.load_onnx(path)   # the free size stays free where nothing needs it fixed
    _close(free.predict(x, verbose=0), _ort(path, x.transpose(0, 3, 1, 2)))


@pytest.mark.parametrize("preprocess", ["torch", "caffe", "tf", "none"])
def test_preprocess_matches_onnx_backbone(tmp_path, preprocess):
    from foveal.transfer import OnnxBackbone
    from foveal.transfer._preprocess import Preprocessor

    path = _save(tmp_path, _small_cnn())
    fov = nn.load_onnx(path, preprocess=preprocess)
    pixels = RNG.uniform(0, 255, (2, 16, 16, 3)).astype(np.float32)
    model_input = Preprocessor(preprocess, 3, "NCHW", None, "float32")(pixels)
    _close(fov.predict(pixels, verbose=0), _ort(path, model_input))
    if preprocess != "none":
        assert fov.layers[1].name == "preprocess"
    assert OnnxBackbone(str(path), preprocess=preprocess) is not None


def test_round_trip_through_export_onnx(tmp_path):
    path = _save(tmp_path, _small_cnn())
    fov = nn.load_onnx(path)
    out = tmp_path / "again.onnx"
    fov.export_onnx(str(out))
    x = RNG.standard_normal((4, 16, 16, 3)).astype(np.float32)
    _close(_ort(out, x), _ort(path, x.transpose(0, 3, 1, 2)))
    again = nn.load_onnx(out)   # an NHWC graph with transposes comes back too
    _close(again.predict(x, verbose=0), _ort(path, x.transpose(0, 3, 1, 2)))


def test_imported_model_fine_tunes_and_exports(tmp_path):
    """Keras's pattern: a new head on the imported backbone's output; everything trains."""
    import foveal

    foveal.utils.set_random_seed(0)
    path = _save(tmp_path, _small_cnn())
    base = nn.load_onnx(path, include_top=False, pooling="avg")
    model = nn.Model(base.input, nn.Dense(2, activation="softmax", name="head")(base.output))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 16, 16, 3)).astype(np.float32)
    y = (x[..., 0].mean(axis=(1, 2)) > 0).astype(np.int64)
    model.compile(nn.optimizers.SGD(0.05, momentum=0.9), "sparse_categorical_crossentropy", ["accuracy"])
    before = {w.path: w.value.copy() for w in model.trainable_weights}
    hist = model.fit(x, y, epochs=8, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # stem_conv's bias feeds a batch norm in training mode, which subtracts the batch mean: its
    # gradient is 0 in exact arithmetic (float rounding alone may move it, or not)
    unchanged = [w.path for w in model.trainable_weights
                 if np.array_equal(before[w.path], w.value) and w.path != "stem_conv/bias"]
    assert not unchanged, unchanged
    model.export_onnx(str(tmp_path / "tuned.onnx"))
    _close(_ort(tmp_path / "tuned.onnx", x[:8]), model.predict(x[:8], verbose=0))


def test_imported_gradients_match_finite_differences(tmp_path):
    """One SGD step (no momentum) moves each weight by -lr * gradient: compared with central
    differences of the loss (BatchNormalization frozen, so training and inference agree)."""
    from check import numeric_grad

    model = nn.load_onnx(_save(tmp_path, _small_cnn()))
    model.get_layer("stem_bn").trainable = False
    lr = 1e-3
    model.compile(nn.optimizers.SGD(lr), "mse")
    x = RNG.standard_normal((4, 16, 16, 3)).astype(np.float32)
    target = RNG.standard_normal((4, 4)).astype(np.float32)
    picks = {"stem_conv": [0, 17, 100, 200], "block_dw": [3, 40, 70], "classifier": [0, 5, 20, 31]}

    def loss():
        return float(np.mean((np.asarray(model(x), np.float64) - target) ** 2))

    numeric = {name: numeric_grad(loss, model.get_layer(name).kernel.value, eps=1e-2, indices=idx)
               for name, idx in picks.items()}
    before = {name: model.get_layer(name).kernel.value.copy() for name in picks}
    model.train_on_batch(x, target)
    for name, idx in picks.items():
        step = (before[name].reshape(-1)[idx] - model.get_layer(name).kernel.value.reshape(-1)[idx]) / lr
        np.testing.assert_allclose(step, numeric[name], rtol=2e-2, atol=2e-3 * max(1.0, np.abs(numeric[name]).max()))


# ---- errors ------------------------------------------------------------------------------

def test_unsupported_op_names_the_op_and_the_node(tmp_path):
    nodes = [helper.make_node("LRN", ["x"], ["y"], name="/features/norm1", size=3)]
    path = _save(tmp_path, _graph(nodes, {}))
    with pytest.raises(ValueError, match=r"'LRN'.*/features/norm1"):
        nn.load_onnx(path)


@pytest.mark.parametrize("node,inits,match", [
    (helper.make_node("Clip", ["x", "lo", "hi"], ["y"], name="clip"), {"lo": np.float32(-1), "hi": np.float32(1)},
     "Clip"),
    (helper.make_node("HardSigmoid", ["x"], ["y"], name="hs"), {}, "HardSigmoid"),     # ONNX's alpha 0.2
    (helper.make_node("Pad", ["x", "pads"], ["y"], name="pad", mode="reflect"),
     {"pads": np.zeros(8, np.int64)}, "reflect"),
    (helper.make_node("Conv", ["x", "W"], ["y"], name="conv", kernel_shape=[3, 3]), {}, "constant"),
])
def test_unsupported_forms_are_value_errors(tmp_path, node, inits, match):
    path = _save(tmp_path, _graph([node], inits, in_shape=("N", 3, 8, 8)) if node.op_type != "Conv" else
                 _graph([node], {}, in_shape=("N", 3, 8, 8)))
    if node.op_type == "Conv":   # a kernel that is computed, not stored
        model = onnx.load(str(path))
        model.graph.input.append(helper.make_tensor_value_info("W", F32, [4, 3, 3, 3]))
        onnx.save(model, str(path))
        with pytest.raises(ValueError, match="inputs"):
            nn.load_onnx(path)
        return
    with pytest.raises(ValueError, match=match):
        nn.load_onnx(path)


def test_argument_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        nn.load_onnx(tmp_path / "missing.onnx")
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="ONNX"):
        nn.load_onnx(bad)
    path = _save(tmp_path, _small_cnn())
    with pytest.raises(ValueError, match="pooling"):
        nn.load_onnx(path, include_top=False, pooling="mean")
    with pytest.raises(TypeError, match="include_top"):
        nn.load_onnx(path, include_top="no")
    with pytest.raises(ValueError, match="preprocess"):
        nn.load_onnx(path, preprocess="imagenet")
    with pytest.raises(ValueError, match="input_shape"):
        nn.load_onnx(path, input_shape=(16, 16))
    with pytest.raises(ValueError, match="channels"):
        nn.load_onnx(path, input_shape=(16, 16, 1))


def test_pads_computed_from_constants_are_folded(tmp_path):
    """Pad's pads computed on constants (ConstantOfShape, Concat, Slice with a negative step,
    as torch writes nn.ZeroPad2d): folded into one ZeroPadding2D."""
    value = helper.make_tensor("v", TensorProto.INT64, [1], [0])
    nodes = [helper.make_node("ConstantOfShape", ["four"], ["zeros"], value=value),
             helper.make_node("Concat", ["tail", "zeros"], ["raw"], axis=0),        # [r, b, l, t, 0, 0, 0, 0]
             helper.make_node("Slice", ["raw", "start", "end", "axis0", "step"], ["rev"]),  # reversed
             helper.make_node("Gather", ["rev", "order"], ["pads"], axis=0),
             helper.make_node("Pad", ["x", "pads"], ["y"], mode="constant")]
    inits = {"four": np.array([4], np.int64), "tail": np.array([1, 3, 2, 1], np.int64),
             "start": np.array([-1], np.int64), "end": np.array([-(2 ** 62)], np.int64),
             "axis0": np.array([0], np.int64), "step": np.array([-1], np.int64),
             "order": np.array([0, 1, 4, 5, 2, 3, 6, 7], np.int64)}
    fov = _check(tmp_path, _graph(nodes, inits))
    assert [type(la).__name__ for la in fov.layers] == ["InputLayer", "ZeroPadding2D"]
