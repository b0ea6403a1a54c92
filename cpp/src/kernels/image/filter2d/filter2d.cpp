// filter2d drivers. Each task filters a band of output rows of one image; it keeps a ring of
// the kh input rows the current output row reads, each padded horizontally per the border and
// converted to float once, and runs the row-correlation kernel over them. The separable form
// keeps a ring of horizontally filtered rows instead and correlates them vertically. Two forms
// skip the ring: the float 2-D filter reads the image rows in place (filter2d_f32_rows), and a
// uint8 separable filter with taps in 256ths runs in fixed point (sep_filter2d_fixed_u8).
#include <algorithm>
#include <cmath>
#include <climits>
#include <cstdint>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/image_ops.h"
#include "foveal/parallel.h"
#include "kernels/image/border.h"

namespace foveal {
namespace {

void to_row(const KernelTable& t, const uint8_t* src, size_t n, float* dst) { t.u8_to_f32(n, src, 1.0f, dst); }
void to_row(const KernelTable&, const float* src, size_t n, float* dst) { std::memcpy(dst, src, n * sizeof(float)); }
void to_row(const KernelTable&, const uint8_t* src, size_t n, uint8_t* dst) { std::memcpy(dst, src, n); }

// One input row (row index q of the image, any integer) padded to (left + W + right) pixels, as
// float (or as uint8 for the integer filter, whose cval is a byte).
template <class E, class O>
void padded_row(const KernelTable& t, const FilterParams& p, const E* image, ptrdiff_t q, O* out) {
  const size_t W = p.shape.width, C = p.shape.channels;
  const size_t left = p.anchor_x, right = p.kw - 1 - p.anchor_x;
  const ptrdiff_t iy = border_index(q, static_cast<ptrdiff_t>(p.shape.height), p.border);
  if (iy < 0) {  // a constant row
    for (size_t i = 0; i < (left + W + right) * C; ++i) out[i] = static_cast<O>(p.cval);
    return;
  }
  const E* row = image + static_cast<size_t>(iy) * W * C;
  to_row(t, row, W * C, out + left * C);
  auto edge = [&](ptrdiff_t x, O* dst) {
    const ptrdiff_t ix = border_index(x, static_cast<ptrdiff_t>(W), p.border);
    for (size_t c = 0; c < C; ++c) dst[c] = ix < 0 ? static_cast<O>(p.cval) : static_cast<O>(row[static_cast<size_t>(ix) * C + c]);
  };
  for (size_t i = 0; i < left; ++i) edge(static_cast<ptrdiff_t>(i) - static_cast<ptrdiff_t>(left), out + i * C);
  for (size_t i = 0; i < right; ++i) edge(static_cast<ptrdiff_t>(W + i), out + (left + W + i) * C);
}

// Ring of kh row buffers keyed by logical input row q (slot q mod kh).
template <class T = float>
struct RowRing {
  size_t kh, row_floats;
  std::vector<T> data;
  std::vector<ptrdiff_t> key;
  RowRing(size_t kh_, size_t row_floats_) : kh(kh_), row_floats(row_floats_), data(kh_ * row_floats_), key(kh_, PTRDIFF_MIN) {}
  // The buffer for row q; fill(buf) is called when it is not there yet.
  template <class Fill>
  T* get(ptrdiff_t q, Fill&& fill) {
    const size_t slot = static_cast<size_t>(((q % ptrdiff_t(kh)) + ptrdiff_t(kh)) % ptrdiff_t(kh));
    T* buf = data.data() + slot * row_floats;
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
    RowRing<float> ring(p.kh + 1, ring_floats);
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

// The float 2-D filter without the ring: the output columns whose taps all lie inside the row
// (anchor_x .. W - (kw - 1 - anchor_x)) read the image rows where they are, no copy; the few
// edge columns on each side (a whole row narrower than the kernel) read padded copies of the
// columns they need, made as padded_row makes them. The same kernels on the same values: the
// same sums.
void filter2d_f32_rows(const FilterParams& p, const float* src, const float* kernel, float* dst) {
  const KernelTable& t = kernels();
  const ImageShape& s = p.shape;
  const size_t C = s.channels, W = s.width, rowv = W * C;
  const size_t left = p.anchor_x, right = p.kw - 1 - p.anchor_x;
  const bool mid = W > left + right;  // interior columns [left, W - right)
  struct Segment {
    size_t x0, x1;  // output columns
  };
  Segment seg[2];
  size_t nseg = 0;
  if (!mid) {
    seg[nseg++] = {0, W};
  } else {
    if (left > 0) seg[nseg++] = {0, left};
    if (right > 0) seg[nseg++] = {W - right, W};
  }
  size_t seg_floats = 0;
  for (size_t i = 0; i < nseg; ++i) seg_floats = std::max(seg_floats, (seg[i].x1 - seg[i].x0 + p.kw - 1) * C);
  for_each_band(s, p.kh, [&](size_t n, size_t y0, size_t y1) {
    const float* image = src + n * s.height * rowv;
    float* out = dst + n * s.height * rowv;
    const std::vector<float> constant_row(p.border == Border::constant ? rowv : 0, p.cval);
    std::vector<float> pad((p.kh + 1) * seg_floats);
    std::vector<const float*> rows(p.kh + 1), seg_rows(p.kh + 1);
    std::vector<ptrdiff_t> iy(p.kh + 1);
    auto run = [&](const float* const* r, bool two, size_t x0, size_t x1, size_t y) {
      float* o = out + y * rowv + x0 * C;
      if (two) t.correlate2_f32(r, p.kh, kernel, p.kw, C, (x1 - x0) * C, o, o + rowv);
      else t.correlate_f32(r, p.kh, kernel, p.kw, C, (x1 - x0) * C, o);
    };
    for (size_t y = y0; y < y1; y += 2) {
      const bool two = y + 1 < y1;
      const size_t nr = two ? p.kh + 1 : p.kh;
      for (size_t r = 0; r < nr; ++r) {
        const ptrdiff_t q = static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y);
        iy[r] = border_index(q, static_cast<ptrdiff_t>(s.height), p.border);
        rows[r] = iy[r] < 0 ? constant_row.data() : image + static_cast<size_t>(iy[r]) * rowv;
      }
      if (mid) run(rows.data(), two, left, W - right, y);
      for (size_t i = 0; i < nseg; ++i) {
        const size_t x0 = seg[i].x0, width = seg[i].x1 - seg[i].x0 + p.kw - 1;
        for (size_t r = 0; r < nr; ++r) {
          float* b = pad.data() + r * seg_floats;
          for (size_t k = 0; k < width; ++k) {
            const ptrdiff_t ix = border_index(static_cast<ptrdiff_t>(x0 + k) - static_cast<ptrdiff_t>(left),
                                              static_cast<ptrdiff_t>(W), p.border);
            for (size_t c = 0; c < C; ++c) b[k * C + c] = iy[r] < 0 || ix < 0 ? p.cval : rows[r][static_cast<size_t>(ix) * C + c];
          }
          seg_rows[r] = b;
        }
        run(seg_rows.data(), two, seg[i].x0, seg[i].x1, y);
      }
    }
  });
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

// The fixed-point form of a uint8 separable filter. When every tap of kx and ky is a multiple
// of 1/256 in [0, 1] and each sums to at most 1 (OpenCV's bit-exact Gaussian kernels, as
// image.kernels.gaussian1d_u8 makes them), the float path above computes every partial sum
// exactly (multiples of 1/65536 below 256: 24 bits), so its result is the exact sum
// T / 65536 rounded half to even; integer sums give the same T. The taps are divided by their
// common power of two (kx = 2^ax px / 256, ky = 2^ay py / 256, so T / 65536 = T' / 2^shift with
// T' = sum py px x and shift = 16 - ax - ay); when 255 * sum(px) * sum(py) plus the rounding
// term fits 16 bits (ksize 3 and 5 with sigma 0: [1, 2, 1] and [1, 4, 6, 4, 1]), both passes
// run in uint16: vertical first (straight from the image rows, no ring), then horizontal.
struct FixedTaps {
  std::vector<uint16_t> x, y;
  unsigned shift;
};

// k (n taps) as 256ths divided by their common power of two (*twos), or false.
bool taps_256ths(const float* k, size_t n, std::vector<uint16_t>* q, unsigned* twos) {
  unsigned sum = 0, tz = 8;
  q->resize(n);
  for (size_t i = 0; i < n; ++i) {
    const float v = k[i] * 256.0f;  // exact: a power-of-two scale of a finite float (or inf)
    if (!(v >= 0.0f && v <= 256.0f) || v != static_cast<float>(static_cast<unsigned>(v))) return false;
    const unsigned u = static_cast<unsigned>(v);
    (*q)[i] = static_cast<uint16_t>(u);
    sum += u;
    if (u != 0) tz = std::min<unsigned>(tz, static_cast<unsigned>(__builtin_ctz(u)));
  }
  if (sum == 0 || sum > 256) return false;
  for (auto& u : *q) u = static_cast<uint16_t>(u >> tz);
  *twos = tz;
  return true;
}

bool fixed_taps(const FilterParams& p, const float* kx, const float* ky, FixedTaps* t) {
  unsigned ax = 0, ay = 0;
  if (!taps_256ths(kx, p.kw, &t->x, &ax) || !taps_256ths(ky, p.kh, &t->y, &ay)) return false;
  uint64_t sx = 0, sy = 0;
  for (uint16_t u : t->x) sx += u;
  for (uint16_t u : t->y) sy += u;
  t->shift = 16 - ax - ay;
  const uint64_t round = t->shift ? uint64_t{1} << (t->shift - 1) : 0;
  return 255 * sx * sy + round <= 65535;
}

void sep_filter2d_fixed_u8(const FilterParams& p, const uint8_t* src, const FixedTaps& t, uint8_t* dst) {
  const KernelTable& k = kernels();
  const ImageShape& s = p.shape;
  const size_t C = s.channels, W = s.width, rowv = W * C;
  const size_t left = p.anchor_x, right = p.kw - 1 - p.anchor_x;
  uint16_t ysum = 0;
  for (uint16_t u : t.y) ysum = static_cast<uint16_t>(ysum + u);
  const uint8_t cval = static_cast<uint8_t>(p.cval);  // a uint8 value already (border_value)
  const TileGrid grid = band_grid(s.batch, s.height, 8);
  parallel_for_2d(grid, threads_for(grid.tasks(), s.batch * s.height * rowv), [&](const Tile& tile, int) {
    const uint8_t* image = src + tile.group * s.height * rowv;
    uint8_t* out = dst + tile.group * s.height * rowv;
    std::vector<uint16_t> col((left + W + right) * C);
    std::vector<uint8_t> constant_row(p.border == Border::constant ? rowv : 0, cval);
    std::vector<const uint8_t*> rows(p.kh);
    for (size_t y = tile.r0; y < tile.r1; ++y) {
      for (size_t r = 0; r < p.kh; ++r) {
        const ptrdiff_t iy = border_index(static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y),
                                          static_cast<ptrdiff_t>(s.height), p.border);
        rows[r] = iy < 0 ? constant_row.data() : image + static_cast<size_t>(iy) * rowv;
      }
      uint16_t* mid = col.data() + left * C;
      k.sep_col_u8(rows.data(), p.kh, t.y.data(), rowv, mid);
      auto edge = [&](ptrdiff_t x, uint16_t* d) {  // the vertical sums of column x through the border
        const ptrdiff_t ix = border_index(x, static_cast<ptrdiff_t>(W), p.border);
        for (size_t c = 0; c < C; ++c)
          d[c] = ix < 0 ? static_cast<uint16_t>(cval * ysum) : mid[static_cast<size_t>(ix) * C + c];
      };
      for (size_t i = 0; i < left; ++i) edge(static_cast<ptrdiff_t>(i) - static_cast<ptrdiff_t>(left), col.data() + i * C);
      for (size_t i = 0; i < right; ++i) edge(static_cast<ptrdiff_t>(W + i), mid + (W + i) * C);
      k.sep_row_u8(col.data(), t.x.data(), p.kw, C, t.shift, rowv, out + y * rowv);
    }
  });
}

}  // namespace

// The uint8 2-D filter in 16-bit integers (filter_int_u8_fn) where every tap is a whole number,
// their absolute values sum to at most 128 and a constant border's value is a byte: the float
// path's sums are whole numbers then, computed exactly, so the results are the same. False
// (nothing done) otherwise. The ring holds padded uint8 rows.
bool filter2d_u8_int(const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst) {
  const size_t taps = p.kh * p.kw;
  std::vector<int16_t> k(taps);
  float total = 0.0f;
  for (size_t i = 0; i < taps; ++i) {
    const float v = kernel[i];
    if (!(std::fabs(v) <= 128.0f) || v != std::floor(v)) return false;
    total += std::fabs(v);
    k[i] = static_cast<int16_t>(v);
  }
  if (total > 128.0f) return false;
  if (p.border == Border::constant && !(p.cval >= 0.0f && p.cval <= 255.0f && p.cval == std::floor(p.cval)))
    return false;
  const KernelTable& t = kernels();
  const ImageShape& s = p.shape;
  const size_t rowv = s.width * s.channels, padded = (s.width + p.kw - 1) * s.channels;
  for_each_band(s, p.kh, [&](size_t n, size_t y0, size_t y1) {
    const uint8_t* image = src + n * s.height * rowv;
    uint8_t* out = dst + n * s.height * rowv;
    RowRing<uint8_t> ring(p.kh, padded);
    std::vector<const uint8_t*> rows(p.kh);
    for (size_t y = y0; y < y1; ++y) {
      for (size_t r = 0; r < p.kh; ++r) {
        const ptrdiff_t q = static_cast<ptrdiff_t>(y + r) - static_cast<ptrdiff_t>(p.anchor_y);
        rows[r] = ring.get(q, [&](uint8_t* buf) { padded_row(t, p, image, q, buf); });
      }
      t.filter_int_u8(rows.data(), p.kh, k.data(), p.kw, s.channels, rowv, out + y * rowv);
    }
  });
  return true;
}

void filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kernel, uint8_t* dst) {
  if (filter2d_u8_int(p, src, kernel, dst)) return;
  filter2d(p, src, kernel, dst, kernels().correlate_u8, kernels().correlate2_u8);
}
void filter2d_f32(const FilterParams& p, const float* src, const float* kernel, float* dst) {
  filter2d_f32_rows(p, src, kernel, dst);
}
void sep_filter2d_u8(const FilterParams& p, const uint8_t* src, const float* kx, const float* ky,
                     uint8_t* dst) {
  FixedTaps t;
  if (fixed_taps(p, kx, ky, &t)) return sep_filter2d_fixed_u8(p, src, t, dst);
  sep_filter2d(p, src, kx, ky, dst, kernels().correlate_u8, kernels().correlate2_u8);
}
void sep_filter2d_f32(const FilterParams& p, const float* src, const float* kx, const float* ky,
                      float* dst) {
  sep_filter2d(p, src, kx, ky, dst, kernels().correlate_f32, kernels().correlate2_f32);
}

}  // namespace foveal
