// Indirect GEMM micro-kernel: one MR x (NV vectors) register tile, for every ISA. Each
// gemm_f32__<isa>.cpp instantiates it with its vector type; B comes from a packed panel of
// NV_MAX vectors per row, A is broadcast from MR row pointers per tap, column tails are masked.
#pragma once

#include <cstddef>
#include <utility>

#include "foveal/kernels.h"

namespace foveal {
namespace {

#define FOVEAL_INLINE inline __attribute__((always_inline))

// Valid columns of each vector of an nc-column tile (the last one may be partial).
template <class V, int NV>
FOVEAL_INLINE void tile_lanes(size_t nc, size_t (&lanes)[NV]) {
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) {
    const size_t lo = V::width * static_cast<size_t>(j);
    lanes[j] = nc > lo ? (nc - lo < V::width ? nc - lo : V::width) : 0;
  }
}

// The accumulators' start: C itself (a later K block) or the bias (or zero).
template <class V, int MR, int NV>
FOVEAL_INLINE void tile_start(typename V::T (&acc)[MR][NV], const size_t (&lanes)[NV], const float* c,
                              size_t ldc, const GemmEpilogue& ep) {
  constexpr size_t W = V::width;
  if (ep.accumulate) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::load_n(c + i * ldc + W * j, lanes[j]);
  } else {
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) {
      const typename V::T init = ep.bias ? V::load_n(ep.bias + W * j, lanes[j]) : V::zero();
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) acc[i][j] = init;
    }
  }
}

// One step of K: acc[i][:] += a_i * (one row of the packed B panel).
template <class V, int MR, int NV>
FOVEAL_INLINE void tile_step(typename V::T (&acc)[MR][NV], const float* b, const float (&av)[MR]) {
  typename V::T bv[NV];
#pragma GCC unroll 16
  for (int j = 0; j < NV; ++j) bv[j] = V::load(b + V::width * j);
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    const typename V::T a = V::set1(av[i]);
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) acc[i][j] = V::fma(a, bv[j], acc[i][j]);
  }
}

// The epilogue: the residual tensor added, ReLU (or ReLU6) when asked, then the masked store.
template <class V, int MR, int NV>
FOVEAL_INLINE void tile_finish(typename V::T (&acc)[MR][NV], const size_t (&lanes)[NV], float* c,
                               size_t ldc, const GemmEpilogue& ep) {
  if (ep.add != nullptr) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j)
        acc[i][j] = V::add(acc[i][j], V::load_n(ep.add + i * ldc + V::width * j, lanes[j]));
  }
  if (ep.relu) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::max(acc[i][j], V::zero());
  }
  if (ep.relu6) {
    const typename V::T six = V::set1(6.0f);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
      for (int j = 0; j < NV; ++j) acc[i][j] = V::min(acc[i][j], six);
  }
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 16
    for (int j = 0; j < NV; ++j) V::store_n(c + i * ldc + V::width * j, acc[i][j], lanes[j]);
}

// A given as MR row pointers per tap (kc contiguous floats each): the indirect GEMM. The packed
// B rows are NV vectors wide (GemmTile::panel_width: NR, or fewer vectors in a narrow panel).
template <class V, int MR, int NV>
FOVEAL_INLINE void gemm_tile(size_t nc, size_t kc, size_t ntaps, const float* const* a,
                             const float* b, float* c, size_t ldc, const GemmEpilogue& ep) {
  constexpr size_t NR = NV * V::width;
  size_t lanes[NV];
  tile_lanes<V, NV>(nc, lanes);
  typename V::T acc[MR][NV];
  tile_start<V, MR, NV>(acc, lanes, c, ldc, ep);
  for (size_t t = 0; t < ntaps; ++t, a += MR) {
    const float* ar[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) ar[i] = a[i];
#pragma GCC unroll 4
    for (size_t k = 0; k < kc; ++k, b += NR) {
      float av[MR];
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) av[i] = ar[i][k];
      tile_step<V, MR, NV>(acc, b, av);
    }
  }
  tile_finish<V, MR, NV>(acc, lanes, c, ldc, ep);
}

// gemm_tile over whole strips of MR rows (gemm_strips_ukernel_fn): strip s's pointers at
// a + s * a_stride, its rows of C and of ep.add MR * s rows down.
template <class V, int MR, int NV>
void gemm_tile_strips(size_t strips, size_t nc, size_t kc, size_t ntaps, const float* const* a,
                      size_t a_stride, const float* b, float* c, size_t ldc, const GemmEpilogue& ep) {
  GemmEpilogue e = ep;
  for (size_t s = 0; s < strips; ++s, a += a_stride, c += MR * ldc) {
    gemm_tile<V, MR, NV>(nc, kc, ntaps, a, b, c, ldc, e);
    if (e.add != nullptr) e.add += MR * ldc;
  }
}

// A stored transposed (column-major): A(i, k) = a[k * lda + i], so each step reads MR
// consecutive floats. Spares a transposed copy of A (gradients: x^T dy, Xcol^T dy).
template <class V, int MR, int NV>
void gemm_tile_at(size_t nc, size_t kc, const float* a, size_t lda, const float* b, float* c,
                  size_t ldc, const GemmEpilogue& ep) {
  constexpr size_t NR = NV * V::width;
  size_t lanes[NV];
  tile_lanes<V, NV>(nc, lanes);
  typename V::T acc[MR][NV];
  tile_start<V, MR, NV>(acc, lanes, c, ldc, ep);
#pragma GCC unroll 4
  for (size_t k = 0; k < kc; ++k, a += lda, b += NR) {
    float av[MR];
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) av[i] = a[i];
    tile_step<V, MR, NV>(acc, b, av);
  }
  tile_finish<V, MR, NV>(acc, lanes, c, ldc, ep);
}

using gemm_tile_fn = void (*)(size_t, size_t, size_t, const float* const*, const float*, float*,
                              size_t, const GemmEpilogue&);
using gemm_tile_at_fn = void (*)(size_t, size_t, const float*, size_t, const float*, float*, size_t,
                                 const GemmEpilogue&);
using gemm_tile_strips_fn = void (*)(size_t, size_t, size_t, size_t, const float* const*, size_t,
                                     const float*, float*, size_t, const GemmEpilogue&);

// tiles[mr - 1][nv - 1]: every tile shape up to MR_MAX rows and NV_MAX vectors, for both forms of A.
template <class V, int MR_MAX, int NV_MAX>
struct GemmTiles {
  template <int MR, int... NVs>
  static constexpr void fill_row(gemm_tile_fn* row, gemm_tile_at_fn* row_at,
                                 std::integer_sequence<int, NVs...>) {
    ((row[NVs] = gemm_tile<V, MR, NVs + 1>), ...);
    ((row_at[NVs] = gemm_tile_at<V, MR, NVs + 1>), ...);
  }
  template <int... MRs>
  constexpr void fill(std::integer_sequence<int, MRs...>) {
    (fill_row<MRs + 1>(tiles[MRs], tiles_at[MRs], std::make_integer_sequence<int, NV_MAX>{}), ...);
  }
  template <int... NVs>
  constexpr void fill_strips(std::integer_sequence<int, NVs...>) {
    ((tiles_strips[NVs] = gemm_tile_strips<V, MR_MAX, NVs + 1>), ...);
  }
  gemm_tile_fn tiles[MR_MAX][NV_MAX]{};
  gemm_tile_at_fn tiles_at[MR_MAX][NV_MAX]{};
  gemm_tile_strips_fn tiles_strips[NV_MAX]{};   // whole strips of MR_MAX rows
  constexpr GemmTiles() {
    fill(std::make_integer_sequence<int, MR_MAX>{});
    fill_strips(std::make_integer_sequence<int, NV_MAX>{});
  }

  static constexpr size_t nv(size_t nc) { return (nc + V::width - 1) / V::width; }
  // The largest tile, which the drivers pack B and block rows for (the table's gemm_tile).
  static constexpr GemmTile tile{MR_MAX, NV_MAX * V::width, V::width};

  // The micro-kernel entries: mr <= MR_MAX rows, nc <= NV_MAX * width columns.
  static void run(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
                  const float* packed_b, float* c, size_t ldc, const GemmEpilogue& ep) {
    static constexpr GemmTiles table{};
    table.tiles[mr - 1][nv(nc) - 1](nc, kc, ntaps, a, packed_b, c, ldc, ep);
  }
  static void run_strips(size_t strips, size_t nc, size_t kc, size_t ntaps, const float* const* a,
                         size_t a_stride, const float* packed_b, float* c, size_t ldc,
                         const GemmEpilogue& ep) {
    static constexpr GemmTiles table{};
    table.tiles_strips[nv(nc) - 1](strips, nc, kc, ntaps, a, a_stride, packed_b, c, ldc, ep);
  }
  static void run_at(size_t mr, size_t nc, size_t kc, const float* a, size_t lda,
                     const float* packed_b, float* c, size_t ldc, const GemmEpilogue& ep) {
    static constexpr GemmTiles table{};
    table.tiles_at[mr - 1][nv(nc) - 1](nc, kc, a, lda, packed_b, c, ldc, ep);
  }

  // The strip kernel (gemm_strip_fn): rows [m0, m0 + mr) over panels [p0, p1), K in blocks of
  // at most kMaxBlockK, bias on the first block, the residual, ReLU or ReLU6 fused into the last.
  static void strip(const IgemmProblem& g, size_t m0, size_t mr, const float* const* ptrs,
                    const float** scratch, size_t p0, size_t p1) {
    constexpr size_t nr = tile.nr;
    const size_t k_total = g.ntaps * g.kc;
    const KBlocks kb(g.kc, g.ntaps);
    const bool relu = g.act == Activation::relu || g.act == Activation::relu6;
    const bool relu6 = g.act == Activation::relu6;
    float* c_row = g.c + m0 * g.ldc;
    for (size_t p = p0; p < p1; ++p) {
      const size_t col0 = p * nr, nc = g.n - col0 < nr ? g.n - col0 : nr;
      const size_t w = tile.panel_width(nc);
      const float* b_panel = g.packed_b + p * k_total * nr;
      const float* bias = g.bias ? g.bias + col0 : nullptr;
      const float* add = g.add ? g.add + m0 * g.ldc + col0 : nullptr;
      for (size_t b = 0; b < kb.count; ++b) {
        size_t t0, nt, k0, kc;
        kb.block(b, g.kc, g.ntaps, &t0, &nt, &k0, &kc);
        const float* const* a = ptrs + t0 * mr;
        if (k0) {
          for (size_t i = 0; i < mr; ++i) scratch[i] = a[i] + k0;
          a = scratch;
        }
        const bool accumulate = g.accumulate || b > 0;
        const GemmEpilogue ep = b + 1 == kb.count ? GemmEpilogue{bias, accumulate, relu, relu6, add}
                                                  : GemmEpilogue{bias, accumulate, false};
        run(mr, nc, kc, nt, a, b_panel + (t0 * g.kc + k0) * w, c_row + col0, g.ldc, ep);
      }
    }
  }
};

}  // namespace
}  // namespace foveal
