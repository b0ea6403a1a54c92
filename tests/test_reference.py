"""The references themselves, against direct loops written straight from the definitions
(tiny inputs), so that a mistake in tests/reference/nn.py cannot hide a mistake in foveal."""
import itertools

import numpy as np
import pytest

import reference as R


def direct_conv2d(x, kernel, bias, strides, pads, dilation, groups):
    n, h, w, _ = x.shape
    kh, kw, cin_g, cout = kernel.shape
    (top, bottom), (left, right) = pads
    (sh, sw), (dh, dw) = strides, dilation
    oh = (h + top + bottom - dh * (kh - 1) - 1) // sh + 1
    ow = (w + left + right - dw * (kw - 1) - 1) // sw + 1
    out = np.zeros((n, oh, ow, cout))
    for b, oy, ox, o in itertools.product(range(n), range(oh), range(ow), range(cout)):
        g = o // (cout // groups)
        acc = 0.0 if bias is None else bias[o]
        for i, j, c in itertools.product(range(kh), range(kw), range(cin_g)):
            y, xx = oy * sh + i * dh - top, ox * sw + j * dw - left
            if 0 <= y < h and 0 <= xx < w:
                acc += x[b, y, xx, g * cin_g + c] * kernel[i, j, c, o]
        out[b, oy, ox, o] = acc
    return out


def direct_pool(x, pool, strides, pads, reduce):
    n, h, w, c = x.shape
    (top, bottom), (left, right) = pads
    oh = (h + top + bottom - pool[0]) // strides[0] + 1
    ow = (w + left + right - pool[1]) // strides[1] + 1
    out = np.zeros((n, oh, ow, c))
    for oy, ox in itertools.product(range(oh), range(ow)):
        ys = [y for y in range(oy * strides[0] - top, oy * strides[0] - top + pool[0])
              if 0 <= y < h]
        xs = [v for v in range(ox * strides[1] - left, ox * strides[1] - left + pool[1])
              if 0 <= v < w]
        out[:, oy, ox] = reduce(x[:, ys][:, :, xs], axis=(1, 2))  # real cells only
    return out


def test_same_padding_rule():
    assert R.same_padding_1d(5, 3, 2) == (1, 1)
    assert R.same_padding_1d(6, 3, 2) == (0, 1)   # odd pixel at the end
    assert R.same_padding_1d(4, 2, 1) == (0, 1)
    assert R.same_padding_1d(7, 1, 3) == (0, 0)
    assert R.same_padding_1d(1, 7, 3, 3) == (9, 9)
    assert R.resolve_padding(2, (5, 5), (3, 3)) == ((2, 2), (2, 2))
    assert R.resolve_padding((1, 3), (5, 5), (3, 3)) == ((1, 1), (3, 3))
    assert R.resolve_padding(((0, 1), (2, 3)), (5, 5), (3, 3)) == ((0, 1), (2, 3))


@pytest.mark.parametrize("seed", range(40))
def test_conv2d_reference_matches_direct_loops(seed):
    rng = np.random.default_rng(seed)
    groups = int(rng.choice([1, 2, 3]))
    cin_g, cout_g = rng.integers(1, 4, 2)
    k = tuple(int(v) for v in rng.integers(1, 4, 2))
    s = tuple(int(v) for v in rng.integers(1, 3, 2))
    d = tuple(int(v) for v in rng.integers(1, 3, 2))
    padding = ["valid", "same", 1, (0, 2), ((1, 0), (2, 1))][seed % 5]
    x = rng.standard_normal((2, 7, 6, groups * cin_g))
    kernel = rng.standard_normal((*k, cin_g, groups * cout_g))
    bias = rng.standard_normal(groups * cout_g) if seed % 2 else None
    if 0 in R.conv_output_shape(x.shape, k, s, padding, d):
        pytest.skip("kernel does not fit")
    pads = R.resolve_padding(padding, (7, 6), k, s, d)
    ref = R.conv2d(x, kernel, bias, s, padding, d, groups)
    np.testing.assert_allclose(ref, direct_conv2d(x, kernel, bias, s, pads, d, groups),
                               atol=1e-12)
    # depthwise is conv2d with groups = C and the kernel's last two axes merged
    if cin_g == 1:
        dk = kernel.reshape(*k, groups, cout_g)
        np.testing.assert_allclose(R.depthwise_conv2d(x, dk, bias, s, padding, d), ref,
                                   atol=1e-12)


@pytest.mark.parametrize("seed", range(30))
def test_pool_references_match_direct_loops(seed):
    rng = np.random.default_rng(seed)
    pool = tuple(int(v) for v in rng.integers(1, 4, 2))
    strides = None if seed % 3 == 0 else tuple(int(v) for v in rng.integers(1, 4, 2))
    padding = ("valid", "same")[seed % 2]
    x = rng.standard_normal((2, 7, 5, 3))
    s = pool if strides is None else strides
    pads = R.resolve_padding(padding, (7, 5), pool, s)
    np.testing.assert_allclose(R.max_pool2d(x, pool, strides, padding),
                               direct_pool(x, pool, s, pads, np.max), atol=1e-12)
    np.testing.assert_allclose(R.avg_pool2d(x, pool, strides, padding),
                               direct_pool(x, pool, s, pads, np.mean), atol=1e-12)


def test_elementwise_references():
    x = np.array([[-800.0, -1.0, 0.0, 2.0, 800.0]])
    np.testing.assert_allclose(R.sigmoid(x), [[0.0, 1 / (1 + np.e), 0.5,
                                              1 / (1 + np.exp(-2.0)), 1.0]])
    np.testing.assert_allclose(R.softmax(x).sum(axis=-1), 1.0)
    np.testing.assert_allclose(R.softmax(np.log([[1.0, 3.0]])), [[0.25, 0.75]])
    np.testing.assert_array_equal(R.relu(x), [[0, 0, 0, 2, 800]])
    np.testing.assert_allclose(R.dense([[1.0, 2.0]], [[1.0], [10.0]], [0.5]), [[21.5]])
