"""Record a small PyTorch ResNet-18-style model and its features for tests/test_transfer.py.

Run by hand where torch is installed (the test suite itself never needs torch):

    python tests/make_transfer_fixtures.py

It writes tests/fixtures/transfer_resnet.onnx (the model, exported by foveal.transfer.export_torch:
NCHW, 3 x 32 x 32, dynamic batch) and tests/fixtures/transfer_resnet.npz: seeded uint8 images
(``images``, N x 32 x 32 x 3), the torch model's penultimate output on them (``features``, the
pooled vector the classifier reads) and its logits (``logits``), with the images preprocessed the
torchvision way in torch itself (``x / 255``, ImageNet mean and std, NCHW).

This module is also imported by tests/test_transfer.py for its live checks: torch is imported
inside the functions only.
"""
from __future__ import annotations

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ONNX_FIXTURE = os.path.join(HERE, "fixtures", "transfer_resnet.onnx")
NPZ_FIXTURE = os.path.join(HERE, "fixtures", "transfer_resnet.npz")
SIZE = 32
WIDTHS = (4, 8, 16, 32)      # ResNet-18 has (64, 128, 256, 512)
NUM_CLASSES = 10
SEED = 20240611


def resnet18_like(torch, widths=WIDTHS, num_classes=NUM_CLASSES, seed=SEED):
    """ResNet-18's layout (7x7/2 stem, 3x3/2 max pool, four stages of two basic blocks, global
    average pool, fully connected) at the given stage widths, with seeded weights and
    non-trivial batch-norm statistics, in eval mode."""
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.down = None
            if stride != 1 or cin != cout:
                self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                          nn.BatchNorm2d(cout))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = self.bn2(self.conv2(y))
            return torch.relu(y + (x if self.down is None else self.down(x)))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 7, 2, 3, bias=False),
                                      nn.BatchNorm2d(widths[0]), nn.ReLU(), nn.MaxPool2d(3, 2, 1))
            blocks, cin = [], widths[0]
            for i, w in enumerate(widths):
                blocks += [Block(cin, w, 1 if i == 0 else 2), Block(w, w, 1)]
                cin = w
            self.blocks = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.fc = nn.Linear(widths[-1], num_classes)

        def features(self, x):
            return torch.flatten(self.pool(self.blocks(self.stem(x))), 1)

        def forward(self, x):
            return self.fc(self.features(x))

    torch.manual_seed(seed)
    net = Net()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net.eval()


def torch_preprocess(torch, images):
    """uint8 N x H x W x 3 -> the torchvision-normalized NCHW float32 tensor, in torch."""
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x - mean) / std


def images(n=6, seed=SEED):
    """Seeded uint8 test images: smooth gradients plus noise (not just noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE] / SIZE
    base = np.stack([yy, xx, (yy + xx) / 2], axis=-1)[None] * rng.uniform(80, 200, (n, 1, 1, 3))
    noisy = base + rng.normal(0, 25, (n, SIZE, SIZE, 3))
    return np.clip(noisy, 0, 255).astype(np.uint8)


def torch_outputs(torch, net, imgs):
    """(penultimate features, logits) of ``net`` on uint8 images, float32."""
    with torch.no_grad():
        x = torch_preprocess(torch, imgs)
        return net.features(x).numpy().astype(np.float32), net(x).numpy().astype(np.float32)


def main() -> int:
    import torch

    sys.path.insert(0, os.path.join(os.path.dirname(HERE), "python"))
    from foveal.transfer import export_torch

    net = resnet18_like(torch)
    export_torch(net, ONNX_FIXTURE, (SIZE, SIZE))
    imgs = images()
    feats, logits = torch_outputs(torch, net, imgs)
    np.savez_compressed(NPZ_FIXTURE, images=imgs, features=feats, logits=logits,
                        torch_version=np.str_(torch.__version__))
    print(f"wrote {ONNX_FIXTURE} ({os.path.getsize(ONNX_FIXTURE):,} bytes) and {NPZ_FIXTURE} "
          f"({os.path.getsize(NPZ_FIXTURE):,} bytes): features {feats.shape}, logits {logits.shape}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
