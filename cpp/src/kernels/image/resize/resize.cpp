// Resize driver: a separable resampling. Each axis gets a tap table (source index, weight per
// output pixel) following OpenCV's coordinate rules; source rows are resampled horizontally
// once each (a small cache per task) and combined vertically by the row-correlation kernel.
// Bilinear uint8 pixels of 3 or 4 channels take the fixed-point passes instead (16-bit rows).
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"
#include "kernels/image/resize/taps.h"

namespace foveal {
namespace {

// The segments of a nearest row (see NearestSegment): runs of output pixels, at most 16 bytes,
// whose sources lie in one 16-byte window from the run's first source; none for pixels over
// 16 bytes or an output row past int32 offsets.
std::vector<NearestSegment> nearest_plan(const std::vector<int32_t>& off, size_t B) {
  std::vector<NearestSegment> segs;
  const size_t n = off.size();
  if (B > 16 || n * B > static_cast<size_t>(INT32_MAX)) return segs;
  for (size_t x = 0; x < n;) {
    NearestSegment g;
    std::memset(g.mask, 0x80, sizeof g.mask);
    g.src = off[x];
    g.dst = static_cast<int32_t>(x * B);
    g.first = static_cast<int32_t>(x);
    size_t k = 0;
    for (; x + k < n && (k + 1) * B <= 16; ++k) {
      const int64_t rel = static_cast<int64_t>(off[x + k]) - g.src;
      if (rel < 0 || rel + static_cast<int64_t>(B) > 16) break;
      for (size_t b = 0; b < B; ++b) g.mask[k * B + b] = static_cast<uint8_t>(rel + static_cast<int64_t>(b));
    }
    g.count = static_cast<int32_t>(k);
    segs.push_back(g);
    x += k;
  }
  return segs;
}

// Nearest: each output pixel is a copy of its source pixel (the same values the one-tap
// resampling gives, and -0.0 and NaN payloads kept as they are), rows in bands on the threads,
// each row moved as bytes by the ISA's nearest_row kernel (a source row wider than int32 byte
// offsets reach, pixel by pixel).
template <class E>
void resize_nearest(const ResizeParams& p, const Taps& tx, const Taps& ty, const E* src, E* dst) {
  const ImageShape& s = p.shape;
  const size_t C = s.channels, out_row = p.out_w * C, in_row = s.width * C, pixel = C * sizeof(E);
  const bool by_kernel = in_row * sizeof(E) <= static_cast<size_t>(INT32_MAX);
  std::vector<int32_t> xoff(by_kernel ? p.out_w : 0);
  for (size_t x = 0; x < xoff.size(); ++x) xoff[x] = static_cast<int32_t>(static_cast<size_t>(tx.index[x]) * pixel);
  const KernelTable& table = kernels();
  const nearest_row_fn row_kernel = table.nearest_row;
  // the scalar kernel copies pixel by pixel and reads no plan
  const std::vector<NearestSegment> segs =
      by_kernel && table.isa != Isa::scalar ? nearest_plan(xoff, pixel) : std::vector<NearestSegment>();
  const TileGrid grid = band_grid(s.batch, p.out_h, 1);
  const int threads = threads_for(grid.tasks(), s.batch * p.out_h * out_row);
  parallel_for_2d(grid, threads, [&](const Tile& band, int) {
    const E* image = src + band.group * s.height * in_row;
    for (size_t y = band.r0; y < band.r1; ++y) {
      const size_t sy = static_cast<size_t>(ty.index[y]);
      const E* in = image + sy * in_row;
      E* out = dst + (band.group * p.out_h + y) * out_row;
      if (by_kernel) {  // bytes readable from the row: to the end of its image
        row_kernel(reinterpret_cast<const uint8_t*>(in), (s.height - sy) * in_row * sizeof(E), pixel,
                   p.out_w, xoff.data(), segs.data(), segs.size(), reinterpret_cast<uint8_t*>(out));
      } else {
        for (size_t x = 0; x < p.out_w; ++x, out += C) {
          const E* px = in + static_cast<size_t>(tx.index[x]) * C;
          std::copy(px, px + C, out);
        }
      }
    }
  });
}

// One band's output rows [y0, y1), each made by emit(y, rows) from the ty.n horizontally
// resampled source rows it needs (rows[k]: source row ty.index[y * ty.n + k]). Those are kept
// in ty.n + 1 slots of row_len values; fill(sy, slot) resamples source row sy into a slot, once
// per band while the rows move down.
template <class T, class Fill, class Emit>
void band_rows(const Taps& ty, size_t y0, size_t y1, size_t row_len, Fill fill, Emit emit) {
  const size_t slots = ty.n + 1;
  std::vector<T> cache(slots * row_len);
  std::vector<int32_t> cached(slots, -1);
  size_t next = 0;
  std::vector<const T*> ptrs(ty.n);
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
          for (size_t j = 0; j < k; ++j) in_use |= ptrs[j] == cache.data() + slot * row_len;
          if (!in_use) break;
        }
        fill(sy, cache.data() + slot * row_len);
        cached[slot] = sy;
      }
      ptrs[k] = cache.data() + slot * row_len;
    }
    emit(y, ptrs.data());
  }
}

// Bilinear uint8 resize of 3- or 4-channel pixels in fixed point (resize_hlinear_u8_fn): false
// (nothing done) where the taps do not take that form (linear_u8_tables).
bool resize_u8_linear(const ResizeParams& p, const Taps& tx, const Taps& ty, const uint8_t* src, uint8_t* dst) {
  const ImageShape& s = p.shape;
  const size_t C = s.channels, row_bytes = s.width * C;
  LinearU8Tables lt;
  if (!linear_u8_tables(tx, ty, C, s.width, &lt)) return false;
  const std::vector<int32_t>& xoff = lt.xoff;
  const std::vector<int16_t>& xw = lt.xw;
  const std::vector<int32_t>& yw = lt.yw;
  const KernelTable& table = kernels();
  const resize_hlinear_u8_fn hpass = table.resize_hlinear_u8;
  const resize_vlinear_u8_fn vpass = table.resize_vlinear_u8;
  const size_t out_row = p.out_w * C, in_img = s.height * row_bytes;
  const TileGrid grid = band_grid(s.batch, p.out_h, 1);
  const int threads = threads_for(grid.tasks(), s.batch * p.out_h * out_row * 2);
  parallel_for_2d(grid, threads, [&](const Tile& band, int) {
    const uint8_t* image = src + band.group * in_img;
    uint8_t* out = dst + band.group * p.out_h * out_row;
    band_rows<int16_t>(
        ty, band.r0, band.r1, 4 * p.out_w,
        [&](int32_t sy, int16_t* slot) {
          hpass(image + static_cast<size_t>(sy) * row_bytes, row_bytes, C, p.out_w, xoff.data(), xw.data(), slot);
        },
        [&](size_t y, const int16_t* const* rows) {
          vpass(rows[0], rows[1], yw[2 * y], yw[2 * y + 1], C, p.out_w, out + y * out_row);
        });
  });
  return true;
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
  if constexpr (sizeof(E) == 1) {
    if (p.interp == Interp::bilinear && resize_u8_linear(p, tx, ty, src, dst)) return;
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
    const E* image = src + band.group * in_img;
    band_rows<float>(
        ty, band.r0, band.r1, out_row,
        [&](int32_t sy, float* slot) {
          resample(image + static_cast<size_t>(sy) * s.width * C, s.width * C, C, p.out_w, tx.n, xoff.data(),
                   xw.data(), slot);
        },
        [&](size_t y, const float* const* rows) {
          combine(rows, ty.n, &ty.weight[y * ty.n], 1, 0, out_row, dst + (band.group * p.out_h + y) * out_row);
        });
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
