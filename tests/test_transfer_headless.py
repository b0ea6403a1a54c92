"""foveal.transfer on feature extractors exported without a classifier ("headless" models), and
unreadable files in folders.

The models are tiny graphs built here with ``onnx.helper``: a 3x3 convolution + ReLU, then a
global average pool (``GlobalAveragePool``, or ``ReduceMean`` as tf2onnx writes it), optionally
a ``Flatten``/``Reshape``/``Squeeze``, in NCHW and NHWC variants; or no pool at all (the output
is a spatial map). Their features are checked against a NumPy computation of the same graph
and against onnxruntime running the whole file.
"""
import os

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")

from foveal import image, nn, transfer  # noqa: E402
from foveal.data import ImageDataGenerator  # noqa: E402
from foveal.transfer import OnnxBackbone  # noqa: E402

CIN, COUT = 3, 5
H = onnx.helper
F32 = onnx.TensorProto.FLOAT


def weights(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.02, (COUT, CIN, 3, 3)).astype(np.float32),
            rng.normal(0, 0.5, COUT).astype(np.float32))


def conv_relu(x_nhwc, seed=0):
    """NumPy reference: the models' 3x3 convolution (padding 1) + ReLU, NCHW float64 maps."""
    w, b = weights(seed)
    x = np.pad(x_nhwc.astype(np.float64).transpose(0, 3, 1, 2), ((0, 0), (0, 0), (1, 1), (1, 1)))
    win = np.lib.stride_tricks.sliding_window_view(x, (3, 3), axis=(2, 3))
    return np.maximum(np.einsum("nchwij,ocij->nohw", win, w) + b[:, None, None], 0)


def reference(x_nhwc, seed=0):
    """NumPy reference features: the conv + ReLU map averaged over its spatial axes."""
    return conv_relu(x_nhwc, seed).mean(axis=(2, 3))


def headless(path, layout="NCHW", tail="gap", size=(6, 7), head=False, seed=0, out_layout=None,
             batch="N"):
    """A conv + ReLU model ending as ``tail`` says:

    * ``"gap"``: GlobalAveragePool -> ``N x C x 1 x 1`` (``N x 1 x 1 x C`` for ``out_layout``
      NHWC, transposed back as tf2onnx does);
    * ``"reducemean"``: ReduceMean over the spatial axes, keepdims (NHWC: ``N x 1 x 1 x C``);
    * ``"flatten"``, ``"reshape"``, ``"squeeze"``: GlobalAveragePool, then that op -> ``N x C``;
    * ``"map"``: no pool, the ``N x C x H x W`` map (``N x H x W x C`` for ``out_layout`` NHWC).

    ``layout`` is the input's; ``out_layout`` (default ``layout``) the output's. ``head`` adds a
    classifier (Flatten -> Gemm -> Softmax). ``size`` entries may be strings (dynamic)."""
    out_layout = out_layout or layout
    w, b = weights(seed)
    inits = [onnx.numpy_helper.from_array(w, "W"), onnx.numpy_helper.from_array(b, "B")]
    nodes = []
    x = "images"
    if layout == "NHWC":
        nodes.append(H.make_node("Transpose", [x], ["to_nchw"], perm=[0, 3, 1, 2]))
        x = "to_nchw"
    nodes += [H.make_node("Conv", [x, "W", "B"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
              H.make_node("Relu", ["conv"], ["relu"])]
    to_nhwc = out_layout == "NHWC"
    if tail == "map":
        last = "relu"
    elif tail == "reducemean":   # tf2onnx's pool on an NHWC map
        nodes.append(H.make_node("Transpose", ["relu"], ["relu_nhwc"], perm=[0, 2, 3, 1]))
        nodes.append(H.make_node("ReduceMean", ["relu_nhwc"], ["pooled"], axes=[1, 2], keepdims=1))
        last, to_nhwc = "pooled", False
    else:
        nodes.append(H.make_node("GlobalAveragePool", ["relu"], ["pool"]))
        last = "pool"
        if tail == "flatten":
            nodes.append(H.make_node("Flatten", ["pool"], ["flat"], axis=1))
            last, to_nhwc = "flat", False
        elif tail == "reshape":
            inits.append(onnx.numpy_helper.from_array(np.array([0, -1], np.int64), "shape"))
            nodes.append(H.make_node("Reshape", ["pool", "shape"], ["flat"]))
            last, to_nhwc = "flat", False
        elif tail == "squeeze":
            inits.append(onnx.numpy_helper.from_array(np.array([2, 3], np.int64), "sq_axes"))
            nodes.append(H.make_node("Squeeze", ["pool", "sq_axes"], ["flat"]))
            last, to_nhwc = "flat", False
    if to_nhwc:
        nodes.append(H.make_node("Transpose", [last], ["features"], perm=[0, 2, 3, 1]))
    else:
        nodes.append(H.make_node("Identity", [last], ["features"]))
    out = "features"
    if head:
        fc = np.random.default_rng(seed + 1).normal(0, 1, (4, COUT)).astype(np.float32)
        inits += [onnx.numpy_helper.from_array(fc, "fc_W"),
                  onnx.numpy_helper.from_array(np.zeros(4, np.float32), "fc_B")]
        nodes += [H.make_node("Flatten", ["features"], ["features_flat"], axis=1),
                  H.make_node("Gemm", ["features_flat", "fc_W", "fc_B"], ["logits"], transB=1),
                  H.make_node("Softmax", ["logits"], ["probs"], axis=1)]
        out = "probs"
    dims = [batch, CIN, *size] if layout == "NCHW" else [batch, *size, CIN]
    graph = H.make_graph(nodes, "headless", [H.make_tensor_value_info("images", F32, dims)],
                         [H.make_tensor_value_info(out, F32, None)], inits)
    onnx.save(H.make_model(graph, opset_imports=[H.make_opsetid("", 17)]), str(path))
    return str(path)


def images(n, hgt=6, wid=7, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, hgt, wid, CIN), dtype=np.uint8)


def onnxruntime_output(path, x, layout):
    """The whole ONNX file run by onnxruntime on ``x`` (NHWC, 0..255, no preprocessing)."""
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feed = x.astype(np.float32)
    if layout == "NCHW":
        feed = feed.transpose(0, 3, 1, 2)
    return sess.run(None, {"images": np.ascontiguousarray(feed)})[0]


# ----------------------------------------------------------------------------- default features
POOLED = [("NCHW", "gap", None), ("NCHW", "flatten", None), ("NCHW", "reshape", None),
          ("NCHW", "squeeze", None), ("NHWC", "gap", None), ("NHWC", "flatten", None),
          ("NHWC", "reducemean", None), ("NCHW", "gap", "NHWC"), ("NHWC", "gap", "NCHW")]


@pytest.mark.parametrize("layout,tail,out_layout", POOLED)
def test_pooled_output_is_the_features(tmp_path, layout, tail, out_layout):
    path = headless(tmp_path / "m.onnx", layout, tail, out_layout=out_layout)
    bb = OnnxBackbone(path, preprocess="none", batch_size=3)
    assert (bb.layout, bb.input_size, bb.output, bb.pooling) == (layout, (6, 7), "features", "avg")
    assert bb.feature_dim == COUT
    x = images(7)
    got = bb.extract(x, verbose=0)
    assert got.shape == (7, COUT) and got.dtype == np.float32
    np.testing.assert_allclose(got, reference(x), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(got, onnxruntime_output(path, x, layout).reshape(7, COUT),
                               rtol=1e-6, atol=1e-6)
    assert "spatial average" in repr(bb)


@pytest.mark.parametrize("layout,out_layout", [("NCHW", "NCHW"), ("NHWC", "NHWC"),
                                               ("NCHW", "NHWC"), ("NHWC", "NCHW")])
def test_spatial_map_output_is_averaged(tmp_path, layout, out_layout):
    """No pool in the model: its C x H x W map is averaged over H and W, as Keras's
    pooling="avg" (the output's layout read from its shape when it differs from the input's,
    as for tf2onnx's --inputs-as-nchw); named explicitly, the map is flattened instead."""
    path = headless(tmp_path / "m.onnx", layout, "map", size=(8, 8), out_layout=out_layout)
    bb = OnnxBackbone(path, preprocess="none", batch_size=4)
    assert bb.feature_dim == COUT and bb.pooling == "avg"
    x = images(5, 8, 8)
    np.testing.assert_allclose(bb.extract(x, verbose=0), reference(x), rtol=1e-4, atol=1e-4)
    full = OnnxBackbone(path, output="features", preprocess="none")
    assert full.pooling is None and full.feature_dim == COUT * 64
    want = conv_relu(x)
    if out_layout == "NHWC":
        want = want.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(full.extract(x, verbose=0), want.reshape(5, -1), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(full.extract(x, verbose=0),
                               onnxruntime_output(path, x, layout).reshape(5, -1), rtol=1e-6)


def test_dynamic_size_map_keeps_its_dimension(tmp_path):
    """A headless model of dynamic size: D is C at every image size (the map is averaged)."""
    path = headless(tmp_path / "dyn.onnx", "NCHW", "map", size=("H", "W"))
    bb = OnnxBackbone(path, preprocess="none")
    assert bb.feature_dim == COUT
    for hgt, wid in ((3, 4), (9, 5), (1, 1)):
        x = images(2, hgt, wid)
        np.testing.assert_allclose(bb.extract(x, verbose=0), reference(x), rtol=1e-4, atol=1e-4)
    sized = OnnxBackbone(path, preprocess="none", input_size=(4, 6))
    x = images(3, 9, 9)
    np.testing.assert_allclose(sized.extract(x, verbose=0),
                               reference(image.resize(x, (4, 6), "bilinear")), rtol=1e-4, atol=1e-4)


def test_fixed_batch_axis_headless(tmp_path):
    path = headless(tmp_path / "b2.onnx", "NHWC", "map", batch=2)
    bb = OnnxBackbone(path, preprocess="none", batch_size=5)
    x = images(5)
    np.testing.assert_allclose(bb.extract(x, verbose=0), reference(x), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("layout", ["NCHW", "NHWC"])
def test_classifier_input_stays_the_default(tmp_path, layout):
    """With a classifier (Gemm -> Softmax), output=None still picks its input, unpooled."""
    path = headless(tmp_path / "cls.onnx", layout, "gap", head=True)
    bb = OnnxBackbone(path, preprocess="none")
    assert (bb.output, bb.pooling, bb.feature_dim) == ("features_flat", None, COUT)
    x = images(4)
    np.testing.assert_allclose(bb.extract(x, verbose=0), reference(x), rtol=1e-4, atol=1e-4)
    probs = OnnxBackbone(path, output="probs", preprocess="none").extract(x, verbose=0)
    np.testing.assert_allclose(probs, onnxruntime_output(path, x, layout), rtol=1e-5, atol=1e-6)


def test_inner_matmul_is_not_a_classifier(tmp_path):
    """A MatMul inside the network (here a residual branch, as in a transformer block) is not a
    classifier: the graph output is still the features."""
    path = headless(tmp_path / "m.onnx", "NCHW", "flatten")
    model = onnx.load(path)
    g = model.graph
    g.node[-1].output[0] = "pooled"   # the Identity's output, renamed
    m = np.random.default_rng(3).normal(0, 0.1, (COUT, COUT)).astype(np.float32)
    g.initializer.append(onnx.numpy_helper.from_array(m, "M"))
    g.node.extend([H.make_node("MatMul", ["pooled", "M"], ["branch"]),
                   H.make_node("Add", ["pooled", "branch"], ["features"])])
    onnx.save(model, path)
    bb = OnnxBackbone(path, preprocess="none")
    assert (bb.output, bb.pooling) == ("features", "avg")
    x = images(3)
    pooled = reference(x)
    np.testing.assert_allclose(bb.extract(x, verbose=0), pooled + pooled @ m, rtol=1e-4,
                               atol=1e-4)


def test_exported_foveal_model_without_classifier(tmp_path):
    """foveal's own export of a headless CNN (NHWC, ReduceMean pool, no Dense)."""
    model = nn.Sequential([nn.Input((12, 12, 3)), nn.Conv2D(6, 3, activation="relu"),
                           nn.GlobalAveragePooling2D()])
    model.export_onnx(str(tmp_path / "h.onnx"))
    bb = OnnxBackbone(tmp_path / "h.onnx", preprocess="none")
    assert (bb.layout, bb.feature_dim, bb.pooling) == ("NHWC", 6, "avg")
    x = images(3, 12, 12).astype(np.float32)
    np.testing.assert_allclose(bb.extract(x, verbose=0), model.predict(x, verbose=0), rtol=1e-4,
                               atol=1e-3)
    spatial = nn.Sequential([nn.Input((12, 12, 3)), nn.Conv2D(6, 3, activation="relu")])
    spatial.export_onnx(str(tmp_path / "s.onnx"))
    bb = OnnxBackbone(tmp_path / "s.onnx", preprocess="none")
    assert bb.feature_dim == 6
    np.testing.assert_allclose(bb.extract(x, verbose=0),
                               spatial.predict(x, verbose=0).mean(axis=(1, 2)), rtol=1e-4,
                               atol=1e-3)


# ----------------------------------------------------------------------------- every entry point
@pytest.fixture(params=[("NCHW", "gap"), ("NHWC", "map")], ids=["nchw-gap", "nhwc-map"])
def headless_path(request, tmp_path):
    layout, tail = request.param
    return headless(tmp_path / "m.onnx", layout, tail, size=(16, 16))


def write_folder(root, x, labels, names=("cat", "dog")):
    for i, (img, lab) in enumerate(zip(x, labels)):
        folder = root / names[lab]
        folder.mkdir(parents=True, exist_ok=True)
        image.write(str(folder / f"img{i:02d}.png"), img)


def test_iterators_directories_and_cli(headless_path, tmp_path, capsys):
    bb = OnnxBackbone(headless_path, preprocess="none", batch_size=3)
    x, labels = images(7, 16, 16), np.array([0, 1, 1, 0, 1, 0, 1])
    want = reference(x)
    it = ImageDataGenerator().flow(x, labels, batch_size=4, shuffle=False)
    np.testing.assert_allclose(bb.extract(it, verbose=0), want, rtol=1e-4, atol=1e-4)
    write_folder(tmp_path / "photos", x, labels)
    order = np.concatenate([np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)])
    res = bb.extract_directory(tmp_path / "photos", verbose=0)
    np.testing.assert_allclose(res.features, want[order], rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(res.labels, labels[order])
    np.testing.assert_allclose(bb.extract(str(tmp_path / "photos"), verbose=0), res.features)
    from foveal.cli import main

    out = tmp_path / "feats.npz"
    assert main(["extract", headless_path, str(tmp_path / "photos"), "-o", str(out),
                 "--preprocess", "none", "--batch-size", "2"]) == 0
    assert f"7 images x {COUT} features" in capsys.readouterr().out
    with np.load(out) as z:
        np.testing.assert_allclose(z["features"], want[order], rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(z["labels"], labels[order])
        assert str(z["output"]) == "features"


def test_as_layer_with_a_headless_backbone(headless_path):
    bb = OnnxBackbone(headless_path, preprocess="none")
    model = nn.Sequential([nn.Input((16, 16, 3)), bb.as_layer(), nn.Dense(2, activation="softmax")])
    assert model.layers[0].compute_output_shape((None, 16, 16, 3)) == (None, COUT)
    model.compile("adam", "sparse_categorical_crossentropy")
    x = images(6, 16, 16).astype(np.float32)
    model.fit(x, np.arange(6) % 2, epochs=2, batch_size=3, verbose=0)
    np.testing.assert_allclose(model.layers[0](x), reference(x), rtol=1e-4, atol=1e-4)
    assert model.layers[0].cache_info().misses == 6


# ----------------------------------------------------------------------------- unreadable files
def test_unreadable_files_are_left_out_not_replaced(tmp_path):
    """Unreadable files (first, last, several in one batch, a whole batch) get no row, no other
    image stands in for them, and features, labels and file names stay aligned."""
    path = headless(tmp_path / "m.onnx", "NHWC", "map", size=(8, 8))
    bb = OnnxBackbone(path, preprocess="none", batch_size=3)
    x = images(12, 8, 8, seed=4)
    folder = tmp_path / "flat"
    folder.mkdir()
    broken = {0, 4, 6, 7, 8, 11}   # batches: [0 1 2] [3 4 5] [6 7 8] [9 10 11]
    for i, img in enumerate(x):
        if i in broken:
            (folder / f"{i:02d}.png").write_bytes(b"not a png")
        else:
            image.write(str(folder / f"{i:02d}.png"), img)
    with pytest.warns(UserWarning, match="unreadable"):
        res = bb.extract_directory(folder, verbose=0)
    good = [i for i in range(12) if i not in broken]
    assert res.filenames == [f"{i:02d}.png" for i in good]
    assert [os.path.basename(p) for p in res.skipped] == [f"{i:02d}.png" for i in sorted(broken)]
    assert res.features.shape == (len(good), COUT) and len(res.labels) == len(good)
    np.testing.assert_allclose(res.features, reference(x[good]), rtol=1e-4, atol=1e-4)
    # no row is a copy of another image's
    assert len(np.unique(res.features.round(4), axis=0)) == len(good)

    classes = tmp_path / "classes"
    labels = np.array([0, 1] * 3)
    write_folder(classes, x[:6], labels)
    (classes / "cat" / "img00.png").write_bytes(b"broken")
    with pytest.warns(UserWarning, match="unreadable"):
        res = bb.extract_directory(classes, verbose=0)
    assert res.filenames == ["cat/img02.png", "cat/img04.png", "dog/img01.png", "dog/img03.png",
                             "dog/img05.png"]
    np.testing.assert_array_equal(res.labels, [0, 0, 1, 1, 1])
    np.testing.assert_allclose(res.features, reference(x[[2, 4, 1, 3, 5]]), rtol=1e-4, atol=1e-4)


def test_no_readable_file(tmp_path):
    bb = OnnxBackbone(headless(tmp_path / "m.onnx", size=(8, 8)), preprocess="none", batch_size=2)
    folder = tmp_path / "junk"
    folder.mkdir()
    for i in range(3):
        (folder / f"{i}.png").write_bytes(b"junk")
    with pytest.warns(UserWarning, match="unreadable"), \
            pytest.raises(ValueError, match="none of the 3 images"):
        bb.extract_directory(folder, verbose=0)
    out = tmp_path / "f.npz"
    with pytest.warns(UserWarning, match="unreadable"):
        assert transfer.extract_command(bb.path, folder, out, preprocess="none", verbose=0) == 1
    assert not out.exists()


def test_shorter_iterator_batches(tmp_path):
    """Any iterator's batches may differ in length, even be empty: rows follow the images."""
    bb = OnnxBackbone(headless(tmp_path / "m.onnx", size=(8, 8)), preprocess="none")
    x = images(6, 8, 8)

    class Uneven:
        cuts = [(0, 3), (3, 3), (3, 4), (4, 6)]

        def __len__(self):
            return len(self.cuts)

        def __getitem__(self, i):
            lo, hi = self.cuts[i]
            return x[lo:hi], np.zeros(hi - lo)

    np.testing.assert_allclose(bb.extract(Uneven(), verbose=0), reference(x), rtol=1e-4,
                               atol=1e-4)
