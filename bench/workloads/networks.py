"""bench_finetune.py's networks: torchvision's MobileNetV2 and ResNet-18 written in torch.nn with
torchvision's module names (so a torchvision state dict loads; torchvision itself is not needed),
seeded random weights and batch-norm statistics, and the ResNet-18 export to ONNX that keeps
BatchNormalization as its own node."""

from __future__ import annotations

import math
from typing import Any, Dict

import numpy as np

NUM_CLASSES = 1000


# --------------------------------------------------------------------------- MobileNetV2

# torchvision's inverted residual settings (expansion t, channels c, blocks n, first stride s)
MOBILENET_V2_SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2),
                         (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))


def mobilenet_v2_convs():
    """(conv key, batch-norm key, out channels, in channels per group, kernel) of every
    convolution of torchvision's mobilenet_v2, in order."""
    yield "features.0.0", "features.0.1", 32, 3, 3
    cin, index = 32, 1
    for t, c, n, _ in MOBILENET_V2_SETTINGS:
        for _ in range(n):
            hidden, prefix, j = cin * t, f"features.{index}.conv", 0
            if t != 1:
                yield f"{prefix}.0.0", f"{prefix}.0.1", hidden, cin, 1
                j = 1
            yield f"{prefix}.{j}.0", f"{prefix}.{j}.1", hidden, 1, 3
            yield f"{prefix}.{j + 1}", f"{prefix}.{j + 2}", c, hidden, 1
            cin, index = c, index + 1
    yield f"features.{index}.0", f"features.{index}.1", 1280, cin, 1


def random_batchnorm(rng: np.random.Generator, key: str, c: int) -> Dict[str, np.ndarray]:
    u = lambda lo, hi: rng.uniform(lo, hi, c).astype(np.float32)  # noqa: E731
    return {f"{key}.weight": u(0.5, 1.5), f"{key}.bias": u(-0.2, 0.2),
            f"{key}.running_mean": u(-0.2, 0.2), f"{key}.running_var": u(0.5, 1.5),
            f"{key}.num_batches_tracked": np.array(0, np.int64)}


def random_mobilenet_v2_state(seed: int) -> Dict[str, np.ndarray]:
    """A seeded state dict of torchvision's mobilenet_v2 (He-normal convolutions, non-trivial
    batch-norm statistics), made with NumPy so it exists without torch."""
    rng = np.random.default_rng(seed)
    state: Dict[str, np.ndarray] = {}
    for conv, bn, cout, cin_g, k in mobilenet_v2_convs():
        std = math.sqrt(2.0 / (cin_g * k * k))
        state[f"{conv}.weight"] = rng.normal(0.0, std, (cout, cin_g, k, k)).astype(np.float32)
        state.update(random_batchnorm(rng, bn, cout))
    state["classifier.1.weight"] = rng.normal(0.0, 0.01, (NUM_CLASSES, 1280)).astype(np.float32)
    state["classifier.1.bias"] = np.zeros(NUM_CLASSES, np.float32)
    return state


def torch_mobilenet_v2(torch: Any) -> Any:
    """torchvision's mobilenet_v2 (width 1.0) in torch.nn, same module names; the classifier's
    Dropout is an Identity (the ONNX model, exported in eval mode, has no dropout)."""
    nn = torch.nn

    def conv_bn_act(cin: int, cout: int, k: int, stride: int, groups: int) -> Any:
        return nn.Sequential(nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups,
                                       bias=False),
                             nn.BatchNorm2d(cout), nn.ReLU6(inplace=True))

    class InvertedResidual(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, t: int) -> None:
            super().__init__()
            hidden = cin * t
            layers = [conv_bn_act(cin, hidden, 1, 1, 1)] if t != 1 else []
            layers += [conv_bn_act(hidden, hidden, 3, stride, hidden),
                       nn.Conv2d(hidden, cout, 1, 1, 0, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*layers)
            self.use_res_connect = stride == 1 and cin == cout

        def forward(self, x):
            return x + self.conv(x) if self.use_res_connect else self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            feats, cin = [conv_bn_act(3, 32, 3, 2, 1)], 32
            for t, c, n, s in MOBILENET_V2_SETTINGS:
                for i in range(n):
                    feats.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                    cin = c
            feats.append(conv_bn_act(cin, 1280, 1, 1, 1))
            self.features = nn.Sequential(*feats)
            self.classifier = nn.Sequential(nn.Identity(), nn.Linear(1280, NUM_CLASSES))

        def forward(self, x):
            x = nn.functional.adaptive_avg_pool2d(self.features(x), (1, 1))
            return self.classifier(torch.flatten(x, 1))

    return MobileNetV2()


# --------------------------------------------------------------------------- ResNet-18

def torch_resnet18(torch: Any, seed: int) -> Any:
    """torchvision's resnet18 in torch.nn (same module names), seeded weights (torchvision's
    initialization) and random batch-norm weights and statistics, in eval mode."""
    nn = torch.nn

    class BasicBlock(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                                nn.BatchNorm2d(cout))

        def forward(self, x):
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + identity)

    class ResNet18(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, w in enumerate((64, 128, 256, 512)):
                stride = 1 if i == 0 else 2
                setattr(self, f"layer{i + 1}",
                        nn.Sequential(BasicBlock(cin, w, stride), BasicBlock(w, w, 1)))
                cin = w
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, NUM_CLASSES)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    torch.manual_seed(seed)
    net = ResNet18()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def export_resnet18(torch: Any, net: Any, path: str, size: int) -> str:
    """``net`` (eval mode) as ONNX with every BatchNormalization kept as a node."""
    import warnings

    net.eval()
    dummy = torch.zeros(1, 3, size, size)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")   # the TorchScript exporter's deprecation notice
        torch.onnx.export(net, (dummy,), path, dynamo=False,
                          training=torch.onnx.TrainingMode.PRESERVE, do_constant_folding=False,
                          opset_version=17, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}})
    return path


def onnx_op_counts(onnx: Any, path: str) -> Dict[str, int]:
    if onnx is None:
        return {}
    counts: Dict[str, int] = {}
    for node in onnx.load(path).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
