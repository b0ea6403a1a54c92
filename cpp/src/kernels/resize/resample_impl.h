// Horizontal resampling of one source row through a tap table (index, weight) per output pixel:
// the first pass of every resize (nearest, bilinear, bicubic, area). One body per ISA.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

template <size_t C, class E>
inline void resample_row_c(const E* row, size_t out_w, size_t taps, const int32_t* idx,
                           const float* w, float* out) {
  for (size_t x = 0; x < out_w; ++x, idx += taps, w += taps, out += C) {
    float acc[C] = {};
    for (size_t t = 0; t < taps; ++t) {
      const E* px = row + idx[t];
      for (size_t c = 0; c < C; ++c) acc[c] += w[t] * static_cast<float>(px[c]);
    }
    for (size_t c = 0; c < C; ++c) out[c] = acc[c];
  }
}

template <class E>
void resample_row(const E* row, size_t channels, size_t out_w, size_t taps, const int32_t* idx,
                  const float* w, float* out) {
  switch (channels) {
    case 1: resample_row_c<1>(row, out_w, taps, idx, w, out); return;
    case 2: resample_row_c<2>(row, out_w, taps, idx, w, out); return;
    case 3: resample_row_c<3>(row, out_w, taps, idx, w, out); return;
    case 4: resample_row_c<4>(row, out_w, taps, idx, w, out); return;
    default:
      for (size_t x = 0; x < out_w; ++x, idx += taps, w += taps, out += channels)
        for (size_t c = 0; c < channels; ++c) {
          float acc = 0.0f;
          for (size_t t = 0; t < taps; ++t) acc += w[t] * static_cast<float>(row[idx[t] + c]);
          out[c] = acc;
        }
  }
}

}  // namespace
}  // namespace foveal
