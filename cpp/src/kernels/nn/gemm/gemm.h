// Indirect-GEMM driver shared by dense and conv2d: packs B into NR-wide panels and runs the
// micro-kernel over strips of MR rows, K split into cache-sized blocks, epilogue fused.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "foveal/dispatch.h"
#include "foveal/parallel.h"

namespace foveal {

// 64-byte aligned float buffer.
struct FloatBuffer {
  struct Free { void operator()(float* p) const { std::free(p); } };
  std::unique_ptr<float, Free> ptr;
  explicit FloatBuffer(size_t n) {
    const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    ptr.reset(static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64)));
    if (!ptr) throw std::bad_alloc();
  }
  float* get() const { return ptr.get(); }
};

// B (k x n, row stride ldb) packed for the tile: div_up(n, tile.nr) panels, panel p at
// p * k * nr, of k rows x tile.panel_width(its columns) floats, zero padded. With col_scale (n
// floats), column j is packed multiplied by col_scale[j] (a batch normalization folded in).
size_t packed_b_floats(size_t k, size_t n, const GemmTile& tile);
void pack_b(size_t k, size_t n, const float* b, size_t ldb, const GemmTile& tile, float* packed,
            const float* col_scale = nullptr);
// Panels [p0, p1) of that packing, on the calling thread.
void pack_b_panels(size_t k, size_t n, const float* b, size_t ldb, const GemmTile& tile,
                   float* packed, size_t p0, size_t p1, const float* col_scale = nullptr);
// The same packing of B = T^T where T (n x k, row stride ldt) is given; panels on the threads.
void pack_bt(size_t k, size_t n, const float* t, size_t ldt, const GemmTile& tile, float* packed);

// Whether the tile applies an activation itself (ReLU, ReLU6); the others are a pass afterwards.
inline bool tile_fuses(Activation act) { return act == Activation::relu || act == Activation::relu6; }

// One strip of an indirect GEMM (IgemmProblem, in foveal/kernels.h): the table's strip kernel,
// then the pass of any activation the tile does not fuse over the rows it just wrote.
inline void igemm_strip(const KernelTable& t, const IgemmProblem& g, size_t m0, size_t mr,
                        const float* const* ptrs, const float** scratch, size_t p0, size_t p1) {
  t.gemm_strip(g, m0, mr, ptrs, scratch, p0, p1);
  if (g.act != Activation::none && !tile_fuses(g.act)) {
    const size_t nr = t.gemm_tile.nr, c0 = p0 * nr, c1 = p1 * nr < g.n ? p1 * nr : g.n;
    float* c_row = g.c + m0 * g.ldc;
    for (size_t i = 0; i < mr; ++i) t.activation(c1 - c0, c_row + i * g.ldc + c0, c_row + i * g.ldc + c0, g.act);
  }
}

// Strips [s0, s1) (strip s: rows [s*mr, s*mr + mr) of m) x NR-wide panels [p0, p1) of an
// indirect GEMM, cache-blocked: K is cut into the blocks the strip kernel uses, and each block
// of each B panel runs over all the strips before the next, so it is read from L2 once per call
// instead of once per strip (the strip kernel streams all of B per strip: for K = 4608 and 512
// columns, 9 MB per 6 rows). The same sums in the same order as igemm_strip: bit-identical.
// ptrs: strip s's ntaps*rows pointers (tap-major) start at ptrs + (s - s0) * ntaps * mr.
void igemm_block(const KernelTable& t, const IgemmProblem& g, size_t m, size_t s0, size_t s1,
                 const float* const* ptrs, size_t p0, size_t p1, float* pack_scratch = nullptr);
// Rows [r0, r0 + rows), columns [col0, col0 + nc) of B given as the flipped, transposed kernel
// of IgemmProblem::b_flip_taps (taps of n x c floats) as packed rows of w floats, zero padded.
void pack_flipped_rows(const float* kernel, size_t taps, size_t n, size_t c, size_t r0, size_t rows,
                       size_t col0, size_t nc, size_t w, float* dst);
// Floats of the scratch igemm_block needs for a problem given as B itself (g.b_src).
inline size_t igemm_pack_scratch_floats(const KernelTable& t, size_t kc, size_t ntaps) {
  return KBlocks(kc, ntaps).floats() * t.gemm_tile.nr;
}
// How many strips one igemm_block call should take so that their A blocks stay in L2 beside a
// B block (at least 1, at most 64).
size_t igemm_block_strips(const KernelTable& t, size_t kc, size_t ntaps);

// Tiles for igemm_block over strips x panels: blocks of strips whose A blocks stay in L2
// (igemm_block_strips), the panels cut until there are 4 tasks per thread, and the blocks
// shortened where that still leaves a thread without a task. work: as for threads_for.
TileGrid igemm_grid(const KernelTable& t, size_t strips, size_t panels, size_t kc, size_t ntaps,
                    size_t work);

// The m rows of A (row stride lda, one tap: g.ntaps == 1) times g's packed B, on the threads:
// igemm_grid's tiles, each one igemm_block call (the dense forward, the plain GEMM).
// With g.b_src (B itself, not packed), each tile packs the blocks it runs into scratch of its
// thread (igemm_block).
void igemm_rows(const KernelTable& t, const IgemmProblem& g, size_t m, const float* a, size_t lda);
// Whether igemm_rows should be given B itself: its grid has at most two blocks of rows, so each
// block of B is packed where it is used, once or twice, instead of in a pass over all of B that
// writes it and then reads it back (a dense layer on a small batch: 16 x 1280 -> 1000 spent more
// time packing its 5 MB kernel than multiplying). conv2d_gemm decides the same way.
bool igemm_rows_pack_locally(const KernelTable& t, size_t m, size_t n, size_t kc, size_t ntaps);

// Plain GEMM: C[m x n] (+)= op(A) * op(B), op(A) = A (m x k, row stride lda) or, with trans_a,
// the transpose of the k x m matrix A; op(B) likewise (k x n, or n x k with trans_b). serial:
// run on the calling thread (inside a parallel task); otherwise split over the threads.
struct GemmArgs {
  size_t m, n, k;
  const float* a;
  size_t lda;
  bool trans_a;
  const float* b;
  size_t ldb;
  bool trans_b;
  float* c;
  size_t ldc;
  bool accumulate;
};
void gemm_f32(const GemmArgs& g, bool serial);

}  // namespace foveal
