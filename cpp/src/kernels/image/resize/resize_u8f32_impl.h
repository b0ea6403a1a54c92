// Horizontal resampling of one source row through tap tables (tap-major: entry t*out_w + x
// holds output pixel x's t-th source offset and weight): the first pass of every resize. One
// body per ISA. With vectors, V::width output pixels are done at once, gathering each tap
// (one 32-bit gather fetches every channel of a uint8 pixel); sums keep the scalar order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foveal/kernels.h"

namespace foveal {
namespace {

template <class E>
inline void resample_pixels(const E* row, size_t C, size_t out_w, size_t taps, const int32_t* idx,
                            const float* w, size_t x0, size_t x1, float* out) {
  for (size_t x = x0; x < x1; ++x)
    for (size_t c = 0; c < C; ++c) {
      float acc = 0.0f;
      for (size_t t = 0; t < taps; ++t) acc += w[t * out_w + x] * static_cast<float>(row[idx[t * out_w + x] + c]);
      out[x * C + c] = acc;
    }
}

template <size_t C, size_t W>
inline void interleave(const float (*lanes)[W], float* out) {
  for (size_t i = 0; i < W; ++i)
    for (size_t c = 0; c < C; ++c) out[i * C + c] = lanes[c][i];
}

// V::width pixels of C channels from x on; false (nothing written) when a 4-byte gather would
// leave the row. C is a template argument so that the sums stay in registers.
template <class V, size_t C, class E>
inline bool resample_lanes(const E* row, size_t row_values, size_t out_w, size_t taps, const int32_t* idx,
                           const float* w, size_t x, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  if constexpr (sizeof(E) == 1) {
    // Largest offset a 4-byte gather may start at (the offsets themselves are int32).
    const int64_t last64 = static_cast<int64_t>(row_values) - 4;
    const int32_t last = last64 > INT32_MAX ? INT32_MAX : static_cast<int32_t>(last64);
    for (size_t t = 0; t < taps; ++t)
      if (!V::all_le_i32(V::load_i32(idx + t * out_w + x), last)) return false;
  }
  T acc[C];
  for (size_t c = 0; c < C; ++c) acc[c] = V::zero();
  for (size_t t = 0; t < taps; ++t) {
    const auto off = V::load_i32(idx + t * out_w + x);
    const T wt = V::load(w + t * out_w + x);
    if constexpr (sizeof(E) == 1) {
      const auto g = V::gather_bytes(reinterpret_cast<const uint8_t*>(row), off);
      for (size_t c = 0; c < C; ++c) acc[c] = V::add(acc[c], V::mul(wt, V::byte_lane(g, static_cast<int>(c))));
    } else {
      for (size_t c = 0; c < C; ++c)
        acc[c] = V::add(acc[c], V::mul(wt, V::gather_f32(row, V::iadd(off, static_cast<int32_t>(c)))));
    }
  }
  if constexpr (C == 1) {
    V::store(out + x, acc[0]);
  } else if constexpr (C == 3) {
    T o[3];
    V::interleave3(acc[0], acc[1], acc[2], o);
    for (size_t j = 0; j < 3; ++j) V::store(out + x * 3 + j * W, o[j]);
  } else {
    alignas(64) float lanes[C][W];
    for (size_t c = 0; c < C; ++c) V::store(lanes[c], acc[c]);
    interleave<C, W>(lanes, out + x * C);
  }
  return true;
}

template <class V, size_t C, class E>
size_t resample_blocks(const E* row, size_t row_values, size_t out_w, size_t taps, const int32_t* idx,
                       const float* w, float* out) {
  size_t x = 0;
  for (; x + V::width <= out_w; x += V::width)
    if (!resample_lanes<V, C>(row, row_values, out_w, taps, idx, w, x, out))
      resample_pixels(row, C, out_w, taps, idx, w, x, x + V::width, out);
  return x;
}

template <class V, class E>
void resample_row(const E* row, size_t row_values, size_t C, size_t out_w, size_t taps,
                  const int32_t* idx, const float* w, float* out) {
  size_t x = 0;
  if constexpr (V::width > 1) {
    switch (C) {
      case 1: x = resample_blocks<V, 1>(row, row_values, out_w, taps, idx, w, out); break;
      case 2: x = resample_blocks<V, 2>(row, row_values, out_w, taps, idx, w, out); break;
      case 3: x = resample_blocks<V, 3>(row, row_values, out_w, taps, idx, w, out); break;
      case 4: x = resample_blocks<V, 4>(row, row_values, out_w, taps, idx, w, out); break;
      default: break;
    }
  }
  resample_pixels(row, C, out_w, taps, idx, w, x, out_w, out);
}

// Nearest resampling of one row: output pixel x is the B bytes at row + off[x]. With vectors,
// each segment of the row's plan (pixels whose sources lie within 16 bytes) is one 16-byte load
// and byte shuffle, stored 16 bytes wide (the bytes past the segment are rewritten by the next
// one); a segment whose load would pass row + readable, or whose store would leave the row, is
// copied pixel by pixel.
template <size_t B>
inline void nearest_pixels(const uint8_t* row, const int32_t* off, size_t x0, size_t x1, uint8_t* out) {
  for (size_t x = x0; x < x1; ++x) std::memcpy(out + x * B, row + off[x], B);
}

template <class V, size_t B>
inline void nearest_row_b(const uint8_t* row, size_t readable, size_t out_w, const int32_t* off,
                          const NearestSegment* segs, size_t nsegs, uint8_t* out) {
  if constexpr (V::width > 1) {
    if (nsegs) {
      const size_t row_bytes = out_w * B;
      for (size_t i = 0; i < nsegs; ++i) {
        const NearestSegment& g = segs[i];
        if (static_cast<size_t>(g.src) + 16 <= readable && static_cast<size_t>(g.dst) + 16 <= row_bytes)
          V::shuffle16(row + g.src, g.mask, out + g.dst);
        else
          nearest_pixels<B>(row, off, static_cast<size_t>(g.first), static_cast<size_t>(g.first) + g.count, out);
      }
      return;
    }
  }
  nearest_pixels<B>(row, off, 0, out_w, out);
}

template <class V>
void nearest_row(const uint8_t* row, size_t readable, size_t pixel_bytes, size_t out_w,
                 const int32_t* off, const NearestSegment* segs, size_t nsegs, uint8_t* out) {
  switch (pixel_bytes) {
    case 1: nearest_row_b<V, 1>(row, readable, out_w, off, segs, nsegs, out); return;
    case 2: nearest_row_b<V, 2>(row, readable, out_w, off, segs, nsegs, out); return;
    case 3: nearest_row_b<V, 3>(row, readable, out_w, off, segs, nsegs, out); return;
    case 4: nearest_row_b<V, 4>(row, readable, out_w, off, segs, nsegs, out); return;
    case 8: nearest_row_b<V, 8>(row, readable, out_w, off, segs, nsegs, out); return;
    case 12: nearest_row_b<V, 12>(row, readable, out_w, off, segs, nsegs, out); return;
    case 16: nearest_row_b<V, 16>(row, readable, out_w, off, segs, nsegs, out); return;
    default:  // other pixel sizes: copies of pixel_bytes bytes (the plan is not used)
      for (size_t x = 0; x < out_w; ++x) std::memcpy(out + x * pixel_bytes, row + off[x], pixel_bytes);
  }
}

}  // namespace
}  // namespace foveal
