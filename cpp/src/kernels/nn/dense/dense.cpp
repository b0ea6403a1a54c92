// Dense drivers: the forward pass is one indirect GEMM (A rows read in place, the kernel packed
// once per call, bias and activation fused); the backward pass is plain GEMMs.
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {

void dense_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act) {
  if (m == 0 || n == 0) return;   // no output (the bindings refuse empty arrays before this)
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  FloatBuffer packed(packed_b_floats(k, n, t.gemm_tile));
  pack_b(k, n, kernel, n, t.gemm_tile, packed.get());
  const IgemmProblem g{n, k, 1, packed.get(), bias, y, n, act};
  // Tasks: blocks of strips of MR rows x panels of NR columns, cache-blocked (igemm_block: each
  // K block of B runs over the block's strips; a 4096 x 128 kernel streamed per 6-row strip
  // cost more than the products).
  const TileGrid grid = igemm_grid(t, div_up(m, mr), div_up(n, nr), k, 1, m * n * k / 64);
  const int nt = threads_for(grid.tasks(), m * n * k / 64);
  std::vector<const float*> ptr_pool(grid.tile_rows * mr * static_cast<size_t>(nt));
  parallel_for_2d(grid, nt, [&](const Tile& tile, int tid) {
    const float** ptrs = ptr_pool.data() + static_cast<size_t>(tid) * grid.tile_rows * mr;
    for (size_t r = tile.r0 * mr, i = 0; r < m && r < tile.r1 * mr; ++r, ++i) ptrs[i] = x + r * k;
    igemm_block(t, g, m, tile.r0, tile.r1, ptrs, tile.c0, tile.c1);
  });
}

void dense_backward_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel,
                        const float* dy, float* dx, float* dkernel, float* dbias) {
  // dkernel[k x n] = x^T dy; dx[m x k] = dy kernel^T; dbias = column sums of dy.
  if (dkernel) {
    count_weight_grad_macs(uint64_t(m) * k * n);
    gemm_f32({k, n, m, x, k, true, dy, n, false, dkernel, n, false}, false);
  }
  if (dx) gemm_f32({m, k, n, dy, n, false, kernel, n, true, dx, k, false}, false);
  if (dkernel && dbias) {
    for (size_t j = 0; j < n; ++j) dbias[j] = 0.0f;
    for (size_t i = 0; i < m; ++i)
      for (size_t j = 0; j < n; ++j) dbias[j] += dy[i * n + j];
  }
}

}  // namespace foveal
