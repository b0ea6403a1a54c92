// Indirect GEMM micro-kernel: one MR x (NV vectors) register tile, for every ISA. Each
// gemm_f32__<isa>.cpp instantiates it with its vector type; B comes from a packed panel of
// NV_MAX vectors per row, A is broadcast from MR row pointers per tap, column tails are masked.
#pragma once

#include <cstddef>
#include <utility>

#include "foveal/kernels.h"

namespace foveal {
namespace {

template <class V, int NV_MAX, int MR, int NV>
void gemm_tile(size_t nc, size_t kc, size_t ntaps, const float* const* a, const float* b, float* c,
               size_t ldc, const GemmEpilogue& ep) {
  using T = typename V::T;
  constexpr size_t W = V::width, NR = NV_MAX * V::width;
  size_t lanes[NV];  // valid columns of each vector (the last one may be partial)
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const size_t lo = W * static_cast<size_t>(j);
    lanes[j] = nc > lo ? (nc - lo < W ? nc - lo : W) : 0;
  }
  T acc[MR][NV];
  if (ep.accumulate) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::load_n(c + i * ldc + W * j, lanes[j]);
  } else {
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const T init = ep.bias ? V::load_n(ep.bias + W * j, lanes[j]) : V::zero();
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][j] = init;
    }
  }
  for (size_t t = 0; t < ntaps; ++t, a += MR) {
    const float* ar[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) ar[i] = a[i];
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; ++k) {
      T bv[NV];
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) bv[j] = V::load(b + W * j);
      b += NR;
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
        const T av = V::set1(ar[i][k]);
#pragma GCC unroll 16
        for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(av, bv[j], acc[i][j]);
      }
    }
  }
  if (ep.relu) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::max(acc[i][j], V::zero());
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) V::store_n(c + i * ldc + W * j, acc[i][j], lanes[j]);
}

using gemm_tile_fn = void (*)(size_t, size_t, size_t, const float* const*, const float*, float*,
                              size_t, const GemmEpilogue&);

// tiles[mr - 1][nv - 1]: every tile shape up to MR_MAX rows and NV_MAX vectors.
template <class V, int MR_MAX, int NV_MAX>
struct GemmTiles {
  template <int MR, int... NVs>
  static constexpr void fill_row(gemm_tile_fn* row, std::integer_sequence<int, NVs...>) {
    ((row[NVs] = gemm_tile<V, NV_MAX, MR, NVs + 1>), ...);
  }
  template <int... MRs>
  static constexpr void fill(gemm_tile_fn (&t)[MR_MAX][NV_MAX], std::integer_sequence<int, MRs...>) {
    (fill_row<MRs + 1>(t[MRs], std::make_integer_sequence<int, NV_MAX>{}), ...);
  }
  gemm_tile_fn tiles[MR_MAX][NV_MAX]{};
  constexpr GemmTiles() { fill(tiles, std::make_integer_sequence<int, MR_MAX>{}); }

  // The micro-kernel entry: mr <= MR_MAX rows, nc <= NV_MAX * width columns.
  static void run(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
                  const float* packed_b, float* c, size_t ldc, const GemmEpilogue& ep) {
    static constexpr GemmTiles table{};
    table.tiles[mr - 1][(nc + V::width - 1) / V::width - 1](nc, kc, ntaps, a, packed_b, c, ldc, ep);
  }
};

}  // namespace
}  // namespace foveal
