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
#include "kernels/image/resize/taps.h"

namespace foveal {
namespace {

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
