"""load_onnx on real architectures exported by PyTorch (live: skipped without torch): ResNet-18,
MobileNetV2 and a MobileNetV3-style block stack (hard-swish, squeeze-excite) with random weights
and batch-norm statistics, exported as torch.onnx does (BatchNormalization kept, or folded into
the convolutions); foveal's predict equals onnxruntime's within 1e-4 of the output scale, and
the imported model trains. The networks are written here in a few lines of torch.nn (the
torchvision wheels on these machines are CUDA builds that do not load beside the CPU torch)."""
import numpy as np
import pytest

import foveal.nn as nn

torch = pytest.importorskip("torch", reason="torch is not installed (live parity: pip install torch==2.13.0)")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed")
tnn = torch.nn


def _bn_random(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=g) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=g) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=g) * 0.4 - 0.2)
    return model.eval()


class BasicBlock(tnn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(cout)
        self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(cout)
        self.down = (tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else None)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return torch.relu(y + (x if self.down is None else self.down(x)))


def resnet18(classes=10):
    layers = [tnn.Conv2d(3, 64, 7, 2, 3, bias=False), tnn.BatchNorm2d(64), tnn.ReLU(), tnn.MaxPool2d(3, 2, 1)]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)]
        cin = cout
    return tnn.Sequential(*layers, tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Linear(512, classes))


class InvertedResidual(tnn.Module):
    def __init__(self, cin, cout, stride, expand, act=tnn.ReLU6, se=False):
        super().__init__()
        mid = cin * expand
        layers = []
        if expand != 1:
            layers += [tnn.Conv2d(cin, mid, 1, bias=False), tnn.BatchNorm2d(mid), act()]
        layers += [tnn.Conv2d(mid, mid, 3, stride, 1, groups=mid, bias=False), tnn.BatchNorm2d(mid), act()]
        self.se = (tnn.Sequential(tnn.AdaptiveAvgPool2d(1), tnn.Conv2d(mid, mid // 4, 1), tnn.ReLU(),
                                  tnn.Conv2d(mid // 4, mid, 1), tnn.Hardsigmoid()) if se else None)
        self.pre = tnn.Sequential(*layers)
        self.post = tnn.Sequential(tnn.Conv2d(mid, cout, 1, bias=False), tnn.BatchNorm2d(cout))
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.pre(x)
        if self.se is not None:
            y = y * self.se(y)
        y = self.post(y)
        return x + y if self.residual else y


def mobilenet_v2(classes=10, width=0.5):
    def c(v):
        return max(8, int(v * width + 4) // 8 * 8)
    layers = [tnn.Conv2d(3, c(32), 3, 2, 1, bias=False), tnn.BatchNorm2d(c(32)), tnn.ReLU6()]
    cin = c(32)
    for t, ch, n, s in ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1),
                        (6, 160, 3, 2), (6, 320, 1, 1)):
        for i in range(n):
            layers.append(InvertedResidual(cin, c(ch), s if i == 0 else 1, t))
            cin = c(ch)
    layers += [tnn.Conv2d(cin, 1280, 1, bias=False), tnn.BatchNorm2d(1280), tnn.ReLU6(),
               tnn.AdaptiveAvgPool2d(1), tnn.Flatten(), tnn.Dropout(0.2), tnn.Linear(1280, classes)]
    return tnn.Sequential(*layers)


def mobilenet_v3_like(classes=10):
    layers = [tnn.Conv2d(3, 16, 3, 2, 1, bias=False), tnn.BatchNorm2d(16), tnn.Hardswish()]
    cin = 16
    for cout, s, e, se in ((16, 2, 1, True), (24, 2, 4, False), (40, 2, 3, True), (48, 1, 3, True)):
        layers.append(InvertedResidual(cin, cout, s, e, act=tnn.Hardswish, se=se))
        cin = cout
    layers += [tnn.Conv2d(cin, 96, 1), tnn.Hardswish(), tnn.AdaptiveAvgPool2d(1), tnn.Flatten(),
               tnn.Linear(96, 64), tnn.Hardswish(), tnn.Linear(64, classes)]
    return tnn.Sequential(*layers)


def _export(model, path, size, fold_bn):
    x = torch.randn(2, 3, size, size)
    mode = torch.onnx.TrainingMode.EVAL if fold_bn else torch.onnx.TrainingMode.PRESERVE
    torch.onnx.export(model, x, str(path), opset_version=17, input_names=["input"], output_names=["logits"],
                      dynamic_axes={"input": {0: "N"}}, training=mode, do_constant_folding=fold_bn, dynamo=False)


def _ort(path, x):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return sess.run(None, {"input": x})[0]


@pytest.mark.parametrize("name,build,size", [("resnet18", resnet18, 112), ("mobilenet_v2", mobilenet_v2, 96),
                                             ("mobilenet_v3_like", mobilenet_v3_like, 64)])
@pytest.mark.parametrize("fold_bn", [False, True], ids=["bn-kept", "bn-folded"])
def test_forward_parity_with_onnxruntime(tmp_path, name, build, size, fold_bn):
    torch.manual_seed(0)
    model = _bn_random(build())
    path = tmp_path / f"{name}.onnx"
    with _quiet():
        _export(model, path, size, fold_bn)
    x = np.random.default_rng(0).standard_normal((3, 3, size, size)).astype(np.float32)
    want = _ort(path, x)
    fov = nn.load_onnx(path)
    got = fov.predict(x.transpose(0, 2, 3, 1), verbose=0)
    scale = float(np.abs(want).max())
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-4 * max(scale, 1.0))
    kinds = {type(la).__name__ for la in fov.layers}
    assert ("BatchNormalization" in kinds) == (not fold_bn)
    if name == "mobilenet_v2":
        assert "DepthwiseConv2D" in kinds


def test_resnet18_round_trip_and_one_training_step(tmp_path):
    torch.manual_seed(1)
    path = tmp_path / "r18.onnx"
    with _quiet():
        _export(_bn_random(resnet18()), path, 64, False)
    fov = nn.load_onnx(path)
    out = tmp_path / "again.onnx"
    fov.export_onnx(str(out))
    x = np.random.default_rng(1).standard_normal((2, 64, 64, 3)).astype(np.float32)
    np.testing.assert_allclose(_ort(out, x), _ort(path, x.transpose(0, 3, 1, 2)), rtol=0, atol=1e-4 * 10)
    fov.compile(nn.optimizers.SGD(0.01, momentum=0.9), nn.losses.SparseCategoricalCrossentropy(from_logits=True))
    y = np.array([1, 3])
    first = fov.train_on_batch(x, y)
    for _ in range(4):
        last = fov.train_on_batch(x, y)
    assert last < first


@pytest.mark.parametrize("pads", [(0, 1, 0, 1), (1, 2, 0, 1), (2, 2, 2, 2)])
def test_zero_pad_export_with_computed_pads(tmp_path, pads):
    """torch writes nn.ZeroPad2d's pads as arithmetic on constants (ConstantOfShape, Concat,
    Slice with step -1, Transpose, Cast): load_onnx folds it into one ZeroPadding2D."""
    model = tnn.Sequential(tnn.ZeroPad2d(pads), tnn.Conv2d(3, 4, 3, 2)).eval()
    path = tmp_path / "pad.onnx"
    with _quiet():
        torch.onnx.export(model, torch.zeros(1, 3, 8, 8), str(path), opset_version=17, dynamo=False,
                          input_names=["input"], dynamic_axes={"input": {0: "N"}})
    fov = nn.load_onnx(path)
    assert [type(la).__name__ for la in fov.layers] == ["InputLayer", "ZeroPadding2D", "Conv2D"]
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(fov.predict(x.transpose(0, 2, 3, 1), verbose=0),
                               _ort(path, x).transpose(0, 2, 3, 1), rtol=0, atol=1e-5)


class _quiet:
    def __enter__(self):
        import warnings
        self._cm = warnings.catch_warnings()
        self._cm.__enter__()
        warnings.simplefilter("ignore")

    def __exit__(self, *exc):
        return self._cm.__exit__(*exc)
