// filter2d drivers. Each task filters a band of output rows of one image; it keeps a ring of
// the kh input rows the current output row reads, each padded horizontally per the border and
// converted to float once, and runs the row-correlation kernel over them. The separable form
// keeps a ring of horizontally filtered rows instead and correlates them vertically.
#include <climits>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"
#include "kernels/image/border.h"

namespace foveal {
namespace {

void to_float(const KernelTable& t, const uint8_t* src, size_t n, float* dst) { t.u8_to_f32(n, src, 1.0f, dst); }
void to_float(const KernelTable&, const float* src, size_t n, float* dst) { std::memcpy(dst, src, n * sizeof(float)); }

// One input row (row index q of the image, any integer) padded to (left + W + right) pixels.
template <class E>
void padded_row(const KernelTable& t, const FilterParams& p, const E* image, ptrdiff_t q,
                float* out) {
  const size_t W = p.shape.width, C = p.shape.channels;
  const size_t left = p.anchor_x, right = p.kw - 1 - p.anchor_x;
  const ptrdiff_t iy = border_index(q, static_cast<ptrdiff_t>(p.shape.height), p.border);
  if (iy < 0) {  // a constant row
    for (size_t i = 0; i < (left + W + right) * C; ++i) out[i] = p.cval;
    return;
  }
  const E* row = image + static_cast<size_t>(iy) * W * C;
  to_float(t, row, W * C, out + left * C);
  auto edge = [&](ptrdiff_t x, float* dst) {
    const ptrdiff_t ix = border_index(x, static_cast<ptrdiff_t>(W), p.border);
    for (size_t c = 0; c < C; ++c) dst[c] = ix < 0 ? p.cval : static_cast<float>(row[static_cast<size_t>(ix) * C + c]);
  };
  for (size_t i = 0; i < left; ++i) edge(static_cast<ptrdiff_t>(i) - static_cast<ptrdiff_t>(left), out + i * C);
  for (size_t i = 0; i < right; ++i) edge(static_cast<ptrdiff_t>(W + i), out + (left + W + i) * C);
}

// Ring of kh row buffers keyed by logical input row q (slot q mod kh).
struct RowRing {
  size_t kh, row_floats;
  std::vector<float> data;
  std::vector<ptrdiff_t> key;
  RowRing(size_t kh_, size_t row_floats_) : kh(kh_), row_floats(row_floats_), data(kh_ * row_floats_), key(kh_, PTRDIFF_MIN) {}
  // The buffer for row q; fill(buf) is called when it is not there yet.
  template <class Fill>
  float* get(ptrdiff_t q, Fill&& fill) {
    const size_t slot = static_cast<size_t>(((q % ptrdiff_t(kh)) + ptrdiff_t(kh)) % ptrdiff_t(kh));
    float* buf = data.data() + slot * row_floats;
    if (key[slot] != q) { fill(buf); key[slot] = q; }
    return buf;
  }
};

// Bands of output rows per task (parallel.h's band_grid): enough tasks to balance the threads,
// each long enough that re-reading kh - 1 rows at its start costs little.
template <class Band>
void for_each_band(const ImageShape& s, size_t kh, Band&& band) {
  const TileGrid grid = band_grid(s.batch, s.height, 4 * kh);
  parallel_for_2d(grid, threads_for(grid.tasks(), s.batch * s.height * s.width * s.channels),
                  [&](const Tile& tile, int) { band(tile.group, tile.r0, tile.r1); });
}

// The band loop of both filters: two output rows per step (kh + 1 rows of the ring, each loaded
// once for both), combined by correlate / correlate2 with coefficients k (kw per row, step
// apart). The ring's row for input row q is made by fill(q, buf), fill = make_fill(image) once
// per band (it may keep scratch of its own).
template <class E, class MakeFill, class Correlate, class Correlate2>
void filter_bands(const FilterParams& p, const E* src, E* dst, size_t ring_floats, MakeFill make_fill,
                  const float* k, size_t kw, size_t step, Correlate correlate, Correlate2 correlate2) {
  const ImageShape& s = p.shape;
  const size_t rowv = s.width * s.channels;
  for_each_band(s, p.kh, [&](size_t n, size_t y0, size_t y1) {
    const E* image = src + n * s.height * rowv;
    E* out = dst + n * s.height * rowv;
    RowRing ring(p.kh + 1, ring_floats);
    auto fill = make_fill(image);
    std::vector<const float*> rows(p.kh + 1);
    for (size_t y = y0; y < y1; y += 2) {
      const size_t nr = y + 1 < y1 ? p.kh + 1 : p.kh;
      for (size_t r = 0; r < nr; ++r) {
        const ptrdiff_t q = static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y);
        rows[r] = ring.get(q, [&](float* buf) { fill(q, buf); });
      }
      if (nr > p.kh)
        correlate2(rows.data(), p.kh, k, kw, step, rowv, out + y * rowv, out + (y + 1) * rowv);
      else
        correlate(rows.data(), p.kh, k, kw, step, rowv, out + y * rowv);
    }
  });
}

// The 2-D filter: the ring holds padded input rows, correlated with the whole kernel.
template <class E, class Correlate, class Correlate2>
void filter2d(const FilterParams& p, const E* src, const float* kernel, E* dst, Correlate correlate,
              Correlate2 correlate2) {
  const KernelTable& t = kernels();
  const size_t C = p.shape.channels, padded = (p.shape.width + p.kw - 1) * C;
  auto make_fill = [&](const E* image) {
    return [&, image](ptrdiff_t q, float* buf) { padded_row(t, p, image, q, buf); };
  };
  filter_bands(p, src, dst, padded, make_fill, kernel, p.kw, C, correlate, correlate2);
}

// The separable filter: the ring holds horizontally filtered rows, correlated vertically.
template <class E, class Correlate, class Correlate2>
void sep_filter2d(const FilterParams& p, const E* src, const float* kx, const float* ky, E* dst,
                  Correlate correlate, Correlate2 correlate2) {
  const KernelTable& t = kernels();
  const size_t C = p.shape.channels, rowv = p.shape.width * C, padded = (p.shape.width + p.kw - 1) * C;
  auto make_fill = [&](const E* image) {
    return [&, image, pad = std::vector<float>(padded)](ptrdiff_t q, float* buf) mutable {
      padded_row(t, p, image, q, pad.data());
      const float* in = pad.data();
      t.correlate_f32(&in, 1, kx, p.kw, C, rowv, buf);
    };
  };
  filter_bands(p, src, dst, rowv, make_fill, ky, 1, 0, correlate, correlate2);
}

}  // namespace

void filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst) {
  filter2d(p, src, kernel, dst, kernels().correlate_u8, kernels().correlate2_u8);
}
void filter2d_f32(const FilterParams& p, const float* src, const float* kernel, float* dst) {
  filter2d(p, src, kernel, dst, kernels().correlate_f32, kernels().correlate2_f32);
}
void sep_filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                     uint8_t* dst) {
  sep_filter2d(p, src, kx, ky, dst, kernels().correlate_u8, kernels().correlate2_u8);
}
void sep_filter2d_f32(const FilterParams& p, const float* src, const float* kx, const float* ky,
                      float* dst) {
  sep_filter2d(p, src, kx, ky, dst, kernels().correlate_f32, kernels().correlate2_f32);
}

}  // namespace foveal
