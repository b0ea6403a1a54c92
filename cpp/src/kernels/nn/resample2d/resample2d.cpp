// Spatial layout drivers of the Keras layers ZeroPadding2D and UpSampling2D (NHWC float32):
// zero padding and its gradient (a crop), nearest (repeat) and bilinear (half-pixel centres, as
// tf.image.resize) upsampling by integer factors and their gradients. Plain drivers compiled for
// the baseline: the work is copies and short weighted sums over contiguous channel runs, which
// the compiler vectorizes; no per-ISA kernel pays here. Every task is one output (forward) or
// input (backward) row, and each element's sum runs in a fixed order: results do not depend on
// the thread count.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {

void zero_pad2d_f32_nhwc(const Pad2dParams& p, const float* x, float* y) {
  const size_t c = p.channels, oh = p.in_h + p.pad_top + p.pad_bottom;
  const size_t ow = p.in_w + p.pad_left + p.pad_right, orow = ow * c, irow = p.in_w * c;
  const size_t tasks = p.batch * oh;
  parallel_for(tasks, threads_for(tasks, tasks * orow), [&](size_t task, int) {
    const size_t n = task / oh, r = task % oh;
    float* out = y + task * orow;
    if (r < p.pad_top || r >= p.pad_top + p.in_h) {
      std::memset(out, 0, orow * sizeof(float));
      return;
    }
    const float* in = x + (n * p.in_h + (r - p.pad_top)) * irow;
    std::memset(out, 0, p.pad_left * c * sizeof(float));
    std::memcpy(out + p.pad_left * c, in, irow * sizeof(float));
    std::memset(out + p.pad_left * c + irow, 0, p.pad_right * c * sizeof(float));
  });
}

void crop2d_f32_nhwc(const Pad2dParams& p, const float* y, float* x) {
  const size_t c = p.channels, oh = p.in_h + p.pad_top + p.pad_bottom;
  const size_t orow = (p.in_w + p.pad_left + p.pad_right) * c, irow = p.in_w * c;
  const size_t tasks = p.batch * p.in_h;
  parallel_for(tasks, threads_for(tasks, tasks * irow), [&](size_t task, int) {
    const size_t n = task / p.in_h, r = task % p.in_h;
    std::memcpy(x + task * irow, y + (n * oh + r + p.pad_top) * orow + p.pad_left * c,
                irow * sizeof(float));
  });
}

namespace {

// Bilinear taps of one axis (tf.image.resize, half_pixel_centers): source position
// (o + 0.5) * scale - 0.5 in float, lower/upper neighbours clamped to the image, lerp the
// fraction above floor.
struct Taps {
  std::vector<size_t> lo, hi;
  std::vector<float> lerp;
};

Taps bilinear_taps(size_t in, size_t out) {
  Taps t;
  t.lo.resize(out);
  t.hi.resize(out);
  t.lerp.resize(out);
  const float scale = static_cast<float>(in) / static_cast<float>(out);
  const long last = static_cast<long>(in) - 1;
  for (size_t o = 0; o < out; ++o) {
    const float src = (static_cast<float>(o) + 0.5f) * scale - 0.5f;
    const float fl = std::floor(src);
    t.lo[o] = static_cast<size_t>(std::min(std::max(static_cast<long>(fl), 0L), last));
    t.hi[o] = static_cast<size_t>(std::min(std::max(static_cast<long>(std::ceil(src)), 0L), last));
    t.lerp[o] = src - fl;
  }
  return t;
}

}  // namespace

void upsample2d_f32_nhwc(const Upsample2dParams& p, const float* x, float* y) {
  const size_t c = p.channels, oh = p.in_h * p.size_h, ow = p.in_w * p.size_w;
  const size_t orow = ow * c, irow = p.in_w * c, tasks = p.batch * oh;
  if (!p.bilinear) {
    // One task per input row: its first output row, then copies of it.
    const size_t rows = p.batch * p.in_h;
    parallel_for(rows, threads_for(rows, tasks * orow), [&](size_t task, int) {
      const float* in = x + task * irow;
      float* out = y + task * p.size_h * orow;
      for (size_t w = 0; w < p.in_w; ++w) {
        const float* src = in + w * c;
        for (size_t j = 0; j < p.size_w; ++j) {
          float* d = out + (w * p.size_w + j) * c;
          for (size_t k = 0; k < c; ++k) d[k] = src[k];
        }
      }
      for (size_t i = 1; i < p.size_h; ++i) std::memcpy(out + i * orow, out, orow * sizeof(float));
    });
    return;
  }
  const Taps ty = bilinear_taps(p.in_h, oh), tx = bilinear_taps(p.in_w, ow);
  parallel_for(tasks, threads_for(tasks, tasks * orow * 4), [&](size_t task, int) {
    const size_t n = task / oh, r = task % oh;
    const float* top = x + (n * p.in_h + ty.lo[r]) * irow;
    const float* bot = x + (n * p.in_h + ty.hi[r]) * irow;
    const float wy = ty.lerp[r];
    float* out = y + task * orow;
    for (size_t o = 0; o < ow; ++o) {
      const float* tl = top + tx.lo[o] * c;
      const float* tr = top + tx.hi[o] * c;
      const float* bl = bot + tx.lo[o] * c;
      const float* br = bot + tx.hi[o] * c;
      const float wx = tx.lerp[o];
      float* d = out + o * c;
      for (size_t k = 0; k < c; ++k) {
        const float t = tl[k] + (tr[k] - tl[k]) * wx;
        const float b = bl[k] + (br[k] - bl[k]) * wx;
        d[k] = t + (b - t) * wy;
      }
    }
  });
}

void upsample2d_backward_f32_nhwc(const Upsample2dParams& p, const float* dy, float* dx) {
  const size_t c = p.channels, oh = p.in_h * p.size_h, ow = p.in_w * p.size_w;
  const size_t orow = ow * c, irow = p.in_w * c, tasks = p.batch * p.in_h;
  if (!p.bilinear) {
    // dx[h, w] = sum over the size_h x size_w block it was repeated into, row-major.
    parallel_for(tasks, threads_for(tasks, tasks * irow * p.size_h * p.size_w), [&](size_t task, int) {
      const size_t n = task / p.in_h, h = task % p.in_h;
      float* out = dx + task * irow;
      std::fill(out, out + irow, 0.0f);
      for (size_t i = 0; i < p.size_h; ++i) {
        const float* g = dy + (n * oh + h * p.size_h + i) * orow;
        for (size_t w = 0; w < p.in_w; ++w)
          for (size_t j = 0; j < p.size_w; ++j) {
            const float* gj = g + (w * p.size_w + j) * c;
            float* d = out + w * c;
            for (size_t k = 0; k < c; ++k) d[k] += gj[k];
          }
      }
    });
    return;
  }
  const Taps ty = bilinear_taps(p.in_h, oh), tx = bilinear_taps(p.in_w, ow);
  // The output rows that read input row h: a contiguous range (the taps grow with the row).
  std::vector<size_t> first(p.in_h, oh), last(p.in_h, 0);
  for (size_t r = 0; r < oh; ++r)
    for (size_t h : {ty.lo[r], ty.hi[r]}) {
      first[h] = std::min(first[h], r);
      last[h] = std::max(last[h], r + 1);
    }
  const int nt = threads_for(tasks, tasks * orow * p.size_h * 2);
  std::vector<std::vector<float>> scratch(static_cast<size_t>(std::max(nt, 1)));
  parallel_for(tasks, nt, [&](size_t task, int thread) {
    const size_t n = task / p.in_h, h = task % p.in_h;
    std::vector<float>& col = scratch[static_cast<size_t>(thread)];
    col.assign(orow, 0.0f);
    // Vertical: the gradient of this input row at every output column, output rows in order.
    for (size_t r = first[h]; r < last[h]; ++r) {
      const float* g = dy + (n * oh + r) * orow;
      if (ty.lo[r] == h) {
        const float w = 1.0f - ty.lerp[r];
        for (size_t k = 0; k < orow; ++k) col[k] += g[k] * w;
      }
      if (ty.hi[r] == h) {
        const float w = ty.lerp[r];
        for (size_t k = 0; k < orow; ++k) col[k] += g[k] * w;
      }
    }
    // Horizontal: each output column's share to its two taps, columns in order.
    float* out = dx + task * irow;
    std::fill(out, out + irow, 0.0f);
    for (size_t o = 0; o < ow; ++o) {
      const float wx = tx.lerp[o], wl = 1.0f - wx;
      const float* g = col.data() + o * c;
      float* dl = out + tx.lo[o] * c;
      float* dr = out + tx.hi[o] * c;
      for (size_t k = 0; k < c; ++k) dl[k] += g[k] * wl;
      for (size_t k = 0; k < c; ++k) dr[k] += g[k] * wx;
    }
  });
}

}  // namespace foveal
