// Horizontal resampling of one source row through tap tables (tap-major: entry t*out_w + x
// holds output pixel x's t-th source offset and weight): the first pass of every resize. One
// body per ISA. With vectors, V::width output pixels are done at once, gathering each tap
// (one 32-bit gather fetches every channel of a uint8 pixel); sums keep the scalar order.
#pragma once

#include <cstddef>
#include <cstdint>

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

// V::width pixels from x on; false (nothing written) when a 4-byte gather would leave the row.
template <class V, class E>
inline bool resample_lanes(const E* row, size_t row_values, size_t C, size_t out_w, size_t taps,
                           const int32_t* idx, const float* w, size_t x, float* out) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  if (sizeof(E) == 1) {  // branch-free, so the compiler vectorizes the check
    const int64_t last = static_cast<int64_t>(row_values) - 4;
    bool inside = true;
    for (size_t t = 0; t < taps; ++t)
      for (size_t i = 0; i < W; ++i) inside &= static_cast<int64_t>(idx[t * out_w + x + i]) <= last;
    if (!inside) return false;
  }
  T acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
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
  if (C == 1) {
    V::store(out + x, acc[0]);
    return true;
  }
  if (C == 3) {
    T o[3];
    V::interleave3(acc[0], acc[1], acc[2], o);
    for (size_t j = 0; j < 3; ++j) V::store(out + x * 3 + j * W, o[j]);
    return true;
  }
  alignas(64) float lanes[4][W];
  for (size_t c = 0; c < C; ++c) V::store(lanes[c], acc[c]);
  switch (C) {  // the interleaving store, unrolled for the channel count
    case 4: interleave<4, W>(lanes, out + x * 4); break;
    default: interleave<2, W>(lanes, out + x * 2); break;
  }
  return true;
}

template <class V, class E>
void resample_row(const E* row, size_t row_values, size_t C, size_t out_w, size_t taps,
                  const int32_t* idx, const float* w, float* out) {
  size_t x = 0;
  if constexpr (V::width > 1) {
    if (C <= 4)
      for (; x + V::width <= out_w; x += V::width)
        if (!resample_lanes<V>(row, row_values, C, out_w, taps, idx, w, x, out))
          resample_pixels(row, C, out_w, taps, idx, w, x, x + V::width, out);
  }
  resample_pixels(row, C, out_w, taps, idx, w, x, out_w, out);
}

}  // namespace
}  // namespace foveal
