// Dense drivers: the forward pass is one indirect GEMM (A rows read in place, the kernel packed
// once per call, bias and activation fused); the backward pass is plain GEMMs.
#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {

void dense_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  FloatBuffer packed(packed_b_floats(k, n, t.gemm_tile));
  pack_b(k, n, kernel, n, t.gemm_tile, packed.get());
  const IgemmProblem g{n, k, 1, packed.get(), bias, y, n, act};
  // Tasks: tiles of (strips of MR rows, panels of NR columns).
  const TileGrid grid = tile_grid(1, div_up(m, mr), div_up(n, nr));
  parallel_for_2d(grid, threads_for(grid.tasks()), [&](const Tile& tile, int) {
    const float* ptrs[16];
    const float* scratch[16];
    for (size_t s = tile.r0; s < tile.r1; ++s) {
      const size_t m0 = s * mr, rows = m - m0 < mr ? m - m0 : mr;
      for (size_t i = 0; i < rows; ++i) ptrs[i] = x + (m0 + i) * k;
      igemm_strip(t, g, m0, rows, ptrs, scratch, tile.c0, tile.c1);
    }
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
