// The spatial layout ops of ZeroPadding2D and UpSampling2D (NHWC float32), as the CPU's
// kernels/nn/resample2d: zero padding and its gradient (a crop), nearest and bilinear
// (half-pixel centres, tf.image.resize) upsampling by integer factors and their gradients. One
// thread per output (forward) or input (backward) value; the gradients gather, in the CPU's
// order, the output values each input value reached (no atomics: the same bits as the CPU).
#include <cmath>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

struct ZeroPad {  // y (N x OH x OW x C) from x: x inside, zeros around
  Pad2dParams p;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = p.channels, ow = p.in_w + p.pad_left + p.pad_right, oh = p.in_h + p.pad_top + p.pad_bottom;
    const size_t k = i % c, col = (i / c) % ow, row = (i / (c * ow)) % oh, n = i / (c * ow * oh);
    const bool inside = row >= p.pad_top && row < p.pad_top + p.in_h && col >= p.pad_left && col < p.pad_left + p.in_w;
    y[i] = inside ? x[((n * p.in_h + (row - p.pad_top)) * p.in_w + (col - p.pad_left)) * c + k] : 0.0f;
  }
};

struct Crop {  // x (N x H x W x C) = the interior of y
  Pad2dParams p;
  const float* y;
  float* x;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = p.channels, ow = p.in_w + p.pad_left + p.pad_right, oh = p.in_h + p.pad_top + p.pad_bottom;
    const size_t k = i % c, w = (i / c) % p.in_w, h = (i / (c * p.in_w)) % p.in_h, n = i / (c * p.in_w * p.in_h);
    x[i] = y[((n * oh + h + p.pad_top) * ow + w + p.pad_left) * c + k];
  }
};

// One axis's bilinear taps of output o (tf.image.resize, half_pixel_centers): source position
// (o + 0.5) * scale - 0.5 in float, neighbours floor/ceil clamped to the image, lerp = src - floor.
struct Tap {
  size_t lo, hi;
  float lerp;
};
FOVEAL_HD Tap tap(size_t o, size_t in, size_t out) {
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const float src = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
  const float fl = floorf(src);
  const long last = static_cast<long>(in) - 1;
  const long lo = static_cast<long>(fl), hi = static_cast<long>(ceilf(src));
  return {static_cast<size_t>(lo < 0 ? 0 : (lo > last ? last : lo)), static_cast<size_t>(hi < 0 ? 0 : (hi > last ? last : hi)),
          src - fl};
}

// The outputs [first, end) of one axis whose taps can reach input v: [(v-1)*s, (v+2)*s) clipped
// (output o's taps lie in [(o+0.5)/s - 1.5, (o+0.5)/s + 0.5]; clamping moves them only at the edges).
struct Range {
  size_t first, end;
};
FOVEAL_HD Range reach(size_t v, size_t s, size_t out) {
  const size_t first = v >= 1 ? (v - 1) * s : 0, end = (v + 2) * s;
  return {first, end < out ? end : out};
}

struct Upsample {
  Upsample2dParams p;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = p.channels, oh = p.in_h * p.size_h, ow = p.in_w * p.size_w;
    const size_t k = i % c, col = (i / c) % ow, row = (i / (c * ow)) % oh, n = i / (c * ow * oh);
    const float* img = x + n * p.in_h * p.in_w * c + k;
    if (!p.bilinear) {
      y[i] = img[((row / p.size_h) * p.in_w + col / p.size_w) * c];
      return;
    }
    const Tap ty = tap(row, p.in_h, oh), tx = tap(col, p.in_w, ow);
    const float tl = img[(ty.lo * p.in_w + tx.lo) * c], tr = img[(ty.lo * p.in_w + tx.hi) * c];
    const float bl = img[(ty.hi * p.in_w + tx.lo) * c], br = img[(ty.hi * p.in_w + tx.hi) * c];
    const float t = tl + (tr - tl) * tx.lerp;
    const float b = bl + (br - bl) * tx.lerp;
    y[i] = t + (b - t) * ty.lerp;
  }
};

// dx[n, h, w, k]: nearest, the sum of its size_h x size_w block, row-major; bilinear, per output
// column o reaching w (in order), the column's vertical sum (output rows in order, the lower
// tap's share before the upper's), given to w by the lower then the upper horizontal tap.
struct UpsampleBackward {
  Upsample2dParams p;
  const float* dy;
  float* dx;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t c = p.channels, oh = p.in_h * p.size_h, ow = p.in_w * p.size_w;
    const size_t k = i % c, w = (i / c) % p.in_w, h = (i / (c * p.in_w)) % p.in_h, n = i / (c * p.in_w * p.in_h);
    const float* g = dy + n * oh * ow * c + k;
    float acc = 0.0f;
    if (!p.bilinear) {
      for (size_t a = 0; a < p.size_h; ++a)
        for (size_t b = 0; b < p.size_w; ++b) acc = acc + g[((h * p.size_h + a) * ow + w * p.size_w + b) * c];
      dx[i] = acc;
      return;
    }
    const Range rows = reach(h, p.size_h, oh), cols = reach(w, p.size_w, ow);
    for (size_t o = cols.first; o < cols.end; ++o) {
      const Tap tx = tap(o, p.in_w, ow);
      if (tx.lo != w && tx.hi != w) continue;
      float col = 0.0f;
      for (size_t r = rows.first; r < rows.end; ++r) {
        const Tap ty = tap(r, p.in_h, oh);
        const float v = g[(r * ow + o) * c];
        if (ty.lo == h) col = col + v * (1.0f - ty.lerp);
        if (ty.hi == h) col = col + v * ty.lerp;
      }
      if (tx.lo == w) acc = acc + col * (1.0f - tx.lerp);
      if (tx.hi == w) acc = acc + col * tx.lerp;
    }
    dx[i] = acc;
  }
};

}  // namespace

void zero_pad2d_f32_nhwc(Where w, const Pad2dParams& p, const float* x, float* y) {
  const size_t n = p.batch * (p.in_h + p.pad_top + p.pad_bottom) * (p.in_w + p.pad_left + p.pad_right) * p.channels;
  for_each(w, n, ZeroPad{p, x, y}, "zero_pad2d");
}
void crop2d_f32_nhwc(Where w, const Pad2dParams& p, const float* y, float* x) {
  for_each(w, p.batch * p.in_h * p.in_w * p.channels, Crop{p, y, x}, "zero_pad2d_backward");
}
void upsample2d_f32_nhwc(Where w, const Upsample2dParams& p, const float* x, float* y) {
  for_each(w, p.batch * p.in_h * p.size_h * p.in_w * p.size_w * p.channels, Upsample{p, x, y}, "upsample2d");
}
void upsample2d_backward_f32_nhwc(Where w, const Upsample2dParams& p, const float* dy, float* dx) {
  for_each(w, p.batch * p.in_h * p.in_w * p.channels, UpsampleBackward{p, dy, dx}, "upsample2d_backward");
}

}  // namespace foveal::cuda
