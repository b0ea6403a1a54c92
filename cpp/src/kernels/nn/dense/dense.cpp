// Dense drivers: the forward pass is one indirect GEMM (A rows read in place, the kernel packed
// once per call or, for few rows, block by block where it is used; bias and activation fused);
// the backward pass is plain GEMMs.
#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {

void dense_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act) {
  if (m == 0 || n == 0) return;   // no output (the bindings refuse empty arrays before this)
  const KernelTable& t = kernels();
  // Cache-blocked (igemm_block: each K block of B runs over a block of strips; a 4096 x 128
  // kernel streamed per 6-row strip cost more than the products).
  if (igemm_rows_pack_locally(t, m, n, k, 1)) {   // few rows: B packed block by block
    IgemmProblem g{n, k, 1, nullptr, bias, y, n, act};
    g.b_src = kernel;
    g.ldb = n;
    igemm_rows(t, g, m, x, k);
    return;
  }
  FloatBuffer packed(packed_b_floats(k, n, t.gemm_tile));
  pack_b(k, n, kernel, n, t.gemm_tile, packed.get());
  const IgemmProblem g{n, k, 1, packed.get(), bias, y, n, act};
  igemm_rows(t, g, m, x, k);
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
