// The resize driver's tap tables (resize.cpp), shared with the CUDA build's resize
// (cuda/resize.cu), which builds them on the host and uploads them: one axis of `in` source
// pixels resized to `out`, following OpenCV's coordinate rules. Host code only.
#pragma once

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "foveal/image_ops.h"
#include "kernels/image/cubic.h"

namespace foveal {
namespace {

struct Taps {
  size_t n = 1;                 // taps per output pixel (unused ones have weight 0)
  std::vector<int32_t> index;   // out * n source indices
  std::vector<float> weight;    // out * n weights
};

int32_t clamp_index(ptrdiff_t i, size_t in) {
  return static_cast<int32_t>(i < 0 ? 0 : (i >= static_cast<ptrdiff_t>(in) ? in - 1 : i));
}

// A tap of weight 0 (a padded entry of a short area list, the neighbour of a pixel centre or of
// a clamped edge) reads the output's heaviest pixel instead of a neighbour: 0 * NaN or 0 * inf
// would otherwise put NaN into an output that does not depend on that neighbour.
void zero_taps_read_own_pixel(Taps& t, size_t out) {
  for (size_t x = 0; x < out; ++x) {
    int32_t* idx = &t.index[x * t.n];
    const float* w = &t.weight[x * t.n];
    size_t best = 0;
    for (size_t k = 1; k < t.n; ++k)
      if (w[k] > w[best]) best = k;
    for (size_t k = 0; k < t.n; ++k)
      if (w[k] == 0.0f) idx[k] = idx[best];
  }
}

// Taps of one axis of `in` source pixels resized to `out`. area_shrink: INTER_AREA when both
// axes shrink (true area averaging); INTER_AREA otherwise resamples as its enlarging variant.
Taps make_taps(size_t in, size_t out, Interp interp, bool area_shrink) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  if (interp == Interp::area && area_shrink) {
    // Each output pixel averages the source cells its footprint [x*scale, (x+1)*scale) covers.
    std::vector<std::vector<std::pair<int32_t, float>>> lists(out);
    size_t most = 1;
    for (size_t x = 0; x < out; ++x) {
      const double f1 = x * scale, f2 = f1 + scale;
      const double cell = std::min(scale, static_cast<double>(in) - f1);
      ptrdiff_t s1 = static_cast<ptrdiff_t>(std::ceil(f1)), s2 = static_cast<ptrdiff_t>(std::floor(f2));
      s2 = std::min<ptrdiff_t>(s2, static_cast<ptrdiff_t>(in) - 1);
      s1 = std::min(s1, s2);
      auto& l = lists[x];
      if (s1 - f1 > 1e-3) l.emplace_back(static_cast<int32_t>(s1 - 1), static_cast<float>((s1 - f1) / cell));
      for (ptrdiff_t s = s1; s < s2; ++s) l.emplace_back(static_cast<int32_t>(s), static_cast<float>(1.0 / cell));
      if (f2 - s2 > 1e-3) l.emplace_back(static_cast<int32_t>(s2), static_cast<float>(std::min(std::min(f2 - s2, 1.0), cell) / cell));
      most = std::max(most, l.size());
    }
    t.n = most;
    t.index.assign(out * most, 0);
    t.weight.assign(out * most, 0.0f);
    for (size_t x = 0; x < out; ++x)
      for (size_t k = 0; k < lists[x].size(); ++k) {
        t.index[x * most + k] = lists[x][k].first;
        t.weight[x * most + k] = lists[x][k].second;
      }
    zero_taps_read_own_pixel(t, out);
    return t;
  }
  t.n = interp == Interp::nearest ? 1 : (interp == Interp::bicubic ? 4 : 2);
  t.index.resize(out * t.n);
  t.weight.resize(out * t.n);
  if (interp == Interp::nearest) {
    // The source pixel under each output pixel's centre. The centre is accumulated in double,
    // one step of in/out per pixel, as OpenCV 5's INTER_NEAREST_EXACT does: its rounding decides
    // the centres that fall exactly on a pixel boundary (2 -> 7 px: centre 3 picks pixel 0).
    double centre = 0.5 * scale;
    for (size_t x = 0; x < out; ++x, centre += scale) {
      t.index[x] = clamp_index(static_cast<ptrdiff_t>(std::floor(centre)), in);
      t.weight[x] = 1.0f;
    }
    return t;
  }
  for (size_t x = 0; x < out; ++x) {
    int32_t* idx = &t.index[x * t.n];
    float* w = &t.weight[x * t.n];
    float f;
    ptrdiff_t s;
    if (interp == Interp::area) {  // INTER_AREA enlarging: pixel-area relation
      s = static_cast<ptrdiff_t>(std::floor(x * scale));
      f = static_cast<float>((x + 1) - (s + 1) / scale);
      f = f <= 0.0f ? 0.0f : f - std::floor(f);
    } else {
      f = static_cast<float>((x + 0.5) * scale - 0.5);
      s = static_cast<ptrdiff_t>(std::floor(f));
      f -= static_cast<float>(s);
    }
    if (interp == Interp::bicubic) {
      float c[4];
      cubic_weights(f, c);
      for (int k = 0; k < 4; ++k) { idx[k] = clamp_index(s - 1 + k, in); w[k] = c[k]; }
      continue;
    }
    if (s < 0) { f = 0.0f; s = 0; }
    if (s >= static_cast<ptrdiff_t>(in) - 1) { f = 0.0f; s = static_cast<ptrdiff_t>(in) - 1; }
    idx[0] = static_cast<int32_t>(s);
    idx[1] = clamp_index(s + 1, in);
    w[0] = 1.0f - f;
    w[1] = f;
  }
  zero_taps_read_own_pixel(t, out);
  return t;
}

// The tables of the fixed-point bilinear uint8 resize (resize_hlinear_u8_fn / resize_vlinear_u8_fn
// in foveal/kernels.h; the CUDA build's resize computes the same sums): per output column the
// byte offset of its first tap and its two Q14 weights (w0 + w1 = 16384), per output row its
// two Q14 weights. False when the taps do not take that form: pixels of other than 3 or 4
// channels, other than 2 taps per axis, a second horizontal tap with weight that is not the next
// pixel, or a row past int32 byte offsets.
struct LinearU8Tables {
  std::vector<int32_t> xoff;
  std::vector<int16_t> xw;
  std::vector<int32_t> yw;
};

inline int16_t q14_tap(float w) { return static_cast<int16_t>(std::lrint(static_cast<double>(w) * 16384.0)); }

inline bool linear_u8_tables(const Taps& tx, const Taps& ty, size_t C, size_t width, LinearU8Tables* t) {
  const size_t out_w = tx.index.size() / 2, out_h = ty.index.size() / 2;
  if ((C != 3 && C != 4) || tx.n != 2 || ty.n != 2 || width * C > static_cast<size_t>(INT32_MAX)) return false;
  t->xoff.resize(out_w);
  t->xw.resize(2 * out_w);
  for (size_t x = 0; x < out_w; ++x) {
    const int32_t i0 = tx.index[2 * x], i1 = tx.index[2 * x + 1];
    if (tx.weight[2 * x + 1] != 0.0f && i1 != i0 + 1) return false;
    t->xoff[x] = i0 * static_cast<int32_t>(C);
    t->xw[2 * x + 1] = tx.weight[2 * x + 1] == 0.0f ? 0 : q14_tap(tx.weight[2 * x + 1]);
    t->xw[2 * x] = static_cast<int16_t>(16384 - t->xw[2 * x + 1]);
  }
  t->yw.resize(2 * out_h);
  for (size_t y = 0; y < out_h; ++y) {
    t->yw[2 * y + 1] = ty.weight[2 * y + 1] == 0.0f ? 0 : q14_tap(ty.weight[2 * y + 1]);
    t->yw[2 * y] = 16384 - t->yw[2 * y + 1];
  }
  return true;
}

}  // namespace
}  // namespace foveal
