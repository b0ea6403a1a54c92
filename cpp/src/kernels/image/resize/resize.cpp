// Resize driver: a separable resampling. Each axis gets a tap table (source index, weight per
// output pixel) following OpenCV's coordinate rules; source rows are resampled horizontally
// once each (a small cache per task) and combined vertically by the row-correlation kernel.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"
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

// Nearest: each output pixel is a copy of its source pixel (the same values the one-tap
// resampling gives, and -0.0 and NaN payloads kept as they are), rows in bands on the threads.
template <class E>
void resize_nearest(const ResizeParams& p, const Taps& tx, const Taps& ty, const E* src, E* dst) {
  const ImageShape& s = p.shape;
  const size_t C = s.channels, out_row = p.out_w * C, in_row = s.width * C;
  std::vector<size_t> xoff(p.out_w);
  for (size_t x = 0; x < p.out_w; ++x) xoff[x] = static_cast<size_t>(tx.index[x]) * C;
  const TileGrid grid = band_grid(s.batch, p.out_h, 1);
  const int threads = threads_for(grid.tasks(), s.batch * p.out_h * out_row);
  parallel_for_2d(grid, threads, [&](const Tile& band, int) {
    const E* image = src + band.group * s.height * in_row;
    for (size_t y = band.r0; y < band.r1; ++y) {
      const E* in = image + static_cast<size_t>(ty.index[y]) * in_row;
      E* out = dst + (band.group * p.out_h + y) * out_row;
      if (C == 3 && sizeof(E) == 1) {
        // a 4-byte move per pixel (its fourth byte is the next pixel's first, written next;
        // the source's fourth byte lies inside the image but for its very last pixel): the
        // row's last pixel, and any whose source is the image's last, move byte by byte
        const size_t last_src = s.height * in_row - 3;
        const uint8_t* in8 = reinterpret_cast<const uint8_t*>(in);
        const uint8_t* image8 = reinterpret_cast<const uint8_t*>(image);
        uint8_t* out8 = reinterpret_cast<uint8_t*>(out);
        for (size_t x = 0; x < p.out_w; ++x, out8 += 3) {
          const uint8_t* px = in8 + xoff[x];
          if (x + 1 < p.out_w && static_cast<size_t>(px - image8) < last_src) {
            uint32_t v;
            std::memcpy(&v, px, 4);
            std::memcpy(out8, &v, 4);
          } else {
            out8[0] = px[0];
            out8[1] = px[1];
            out8[2] = px[2];
          }
        }
      } else if (C == 3) {
        for (size_t x = 0; x < p.out_w; ++x, out += 3) {
          const E* px = in + xoff[x];
          out[0] = px[0];
          out[1] = px[1];
          out[2] = px[2];
        }
      } else {
        for (size_t x = 0; x < p.out_w; ++x, out += C) std::copy(in + xoff[x], in + xoff[x] + C, out);
      }
    }
  });
}

template <class E, class Resample, class Combine>
void resize(const ResizeParams& p, const E* src, E* dst, Resample resample, Combine combine) {
  const ImageShape& s = p.shape;
  const size_t C = s.channels;
  const bool shrink = s.width >= p.out_w && s.height >= p.out_h;
  const Taps tx = make_taps(s.width, p.out_w, p.interp, shrink);
  const Taps ty = make_taps(s.height, p.out_h, p.interp, shrink);
  if (p.interp == Interp::nearest) {
    resize_nearest(p, tx, ty, src, dst);
    return;
  }
  // Horizontal tables tap-major (entry t*out_w + x), offsets in values, for the row kernel.
  std::vector<int32_t> xoff(tx.index.size());
  std::vector<float> xw(tx.weight.size());
  for (size_t x = 0; x < p.out_w; ++x)
    for (size_t k = 0; k < tx.n; ++k) {
      xoff[k * p.out_w + x] = tx.index[x * tx.n + k] * static_cast<int32_t>(C);
      xw[k * p.out_w + x] = tx.weight[x * tx.n + k];
    }
  const size_t out_row = p.out_w * C, in_img = s.height * s.width * C;
  // Tasks: bands of output rows; each keeps the horizontally resampled source rows it needs.
  const TileGrid grid = band_grid(s.batch, p.out_h, 1);
  const int threads = threads_for(grid.tasks(), s.batch * p.out_h * out_row * ty.n);
  parallel_for_2d(grid, threads, [&](const Tile& band, int) {
    const size_t n = band.group, y0 = band.r0, y1 = band.r1;
    const E* image = src + n * in_img;
    const size_t slots = ty.n + 1;
    std::vector<float> cache(slots * out_row);
    std::vector<int32_t> cached(slots, -1);
    size_t next = 0;
    std::vector<const float*> ptrs(ty.n);
    for (size_t y = y0; y < y1; ++y) {
      for (size_t k = 0; k < ty.n; ++k) {
        const int32_t sy = ty.index[y * ty.n + k];
        size_t slot = slots;
        for (size_t j = 0; j < slots; ++j) if (cached[j] == sy) slot = j;
        if (slot == slots) {  // resample it into the least recently filled slot not in use
          for (;;) {
            slot = next;
            next = (next + 1) % slots;
            bool in_use = false;
            for (size_t j = 0; j < k; ++j) in_use |= ptrs[j] == cache.data() + slot * out_row;
            if (!in_use) break;
          }
          resample(image + static_cast<size_t>(sy) * s.width * C, s.width * C, C, p.out_w, tx.n,
                   xoff.data(), xw.data(), cache.data() + slot * out_row);
          cached[slot] = sy;
        }
        ptrs[k] = cache.data() + slot * out_row;
      }
      combine(ptrs.data(), ty.n, &ty.weight[y * ty.n], 1, 0, out_row, dst + (n * p.out_h + y) * out_row);
    }
  });
}

}  // namespace

void resize_u8(const ResizeParams& p, const uint8_t* src, uint8_t* dst) {
  resize(p, src, dst, kernels().resample_row_u8, kernels().correlate_u8);
}
void resize_f32(const ResizeParams& p, const float* src, float* dst) {
  resize(p, src, dst, kernels().resample_row_f32, kernels().correlate_f32);
}

}  // namespace foveal
