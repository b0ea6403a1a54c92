// Convolution kernel-gradient tile (conv_kgrad_fn in foveal/kernels.h), for every ISA: an MR x
// (NV vectors) block of dK held in registers while the pixels stream past. Each
// kgrad_f32__<isa>.cpp instantiates it with its vector type. Per pixel: NV vector loads of dy
// (output channels), MR broadcasts of x (input channels), MR * NV FMAs; no packing of either.
#pragma once

#include <cstddef>
#include <utility>

#include "foveal/kernels.h"

namespace foveal {
namespace {

template <class V, int MR, int NV, bool kMasked>
void kgrad_tile(const ConvKgradParams& p, const float* x, const float* dy, const size_t* x_off,
                const size_t* dy_off, const size_t* count, size_t nruns, float* c, size_t ldc) {
  constexpr size_t W = V::width;
  size_t lanes[NV];
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const size_t lo = W * static_cast<size_t>(j);
    lanes[j] = p.nc > lo ? (p.nc - lo < W ? p.nc - lo : W) : 0;
  }
  typename V::T acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j)
      acc[i][j] = p.accumulate ? V::load_n(c + i * ldc + W * j, lanes[j]) : V::zero();
  const size_t xs = p.x_step, ds = p.dy_step;
  for (size_t r = 0; r < nruns; ++r) {
    const float* xp = x + x_off[r];
    const float* dp = dy + dy_off[r];
#pragma GCC unroll 2
    for (size_t q = count[r]; q; --q, xp += xs, dp += ds) {
      typename V::T b[NV];
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) b[j] = kMasked ? V::load_n(dp + W * j, lanes[j]) : V::load(dp + W * j);
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const typename V::T a = V::set1(xp[i]);
#pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, b[j], acc[i][j]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) V::store_n(c + i * ldc + W * j, acc[i][j], lanes[j]);
}

// tiles[masked][mr - 1][nv - 1]: every tile shape up to MR_MAX rows and NV_MAX vectors; the
// masked ones load dy with masks (a last vector of fewer than `width` output channels).
template <class V, int MR_MAX, int NV_MAX>
struct KgradTiles {
  template <int MR, int... NVs>
  static constexpr void fill_row(conv_kgrad_fn* full, conv_kgrad_fn* masked,
                                 std::integer_sequence<int, NVs...>) {
    ((full[NVs] = kgrad_tile<V, MR, NVs + 1, false>), ...);
    ((masked[NVs] = kgrad_tile<V, MR, NVs + 1, true>), ...);
  }
  template <int... MRs>
  constexpr void fill(std::integer_sequence<int, MRs...>) {
    (fill_row<MRs + 1>(tiles[0][MRs], tiles[1][MRs], std::make_integer_sequence<int, NV_MAX>{}), ...);
  }
  conv_kgrad_fn tiles[2][MR_MAX][NV_MAX]{};
  constexpr KgradTiles() { fill(std::make_integer_sequence<int, MR_MAX>{}); }

  static constexpr KgradTile tile{MR_MAX, NV_MAX * V::width, V::width};

  static void run(const ConvKgradParams& p, const float* x, const float* dy, const size_t* x_off,
                  const size_t* dy_off, const size_t* count, size_t nruns, float* c, size_t ldc) {
    static constexpr KgradTiles table{};
    const size_t nv = (p.nc + V::width - 1) / V::width;
    table.tiles[p.nc % V::width != 0][p.mr - 1][nv - 1](p, x, dy, x_off, dy_off, count, nruns, c, ldc);
  }
};

}  // namespace
}  // namespace foveal
