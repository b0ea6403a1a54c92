// Indirect-GEMM driver (see gemm.h): B packing, one strip of the indirect GEMM for the dense,
// conv2d and Winograd drivers, and the plain GEMM of the backward passes.
#include "kernels/nn/gemm/gemm.h"

#include <cstring>

#include "foveal/parallel.h"

namespace foveal {

size_t packed_b_floats(size_t k, size_t n, size_t nr) { return div_up(n, nr) * k * nr; }

void pack_b_panels(size_t k, size_t n, const float* b, size_t ldb, size_t nr, float* packed,
                   size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    const size_t col0 = p * nr, cols = n - col0 < nr ? n - col0 : nr;
    float* dst = packed + p * k * nr;
    for (size_t r = 0; r < k; ++r, dst += nr) {
      std::memcpy(dst, b + r * ldb + col0, cols * sizeof(float));
      if (cols < nr) std::memset(dst + cols, 0, (nr - cols) * sizeof(float));
    }
  }
}

void pack_b(size_t k, size_t n, const float* b, size_t ldb, size_t nr, float* packed) {
  const size_t panels = div_up(n, nr);
  parallel_for(panels, threads_for(panels * k / 4096 + 1), [&](size_t p, int) {
    pack_b_panels(k, n, b, ldb, nr, packed, p, p + 1);
  });
}

// Panels [p0, p1) of pack_bt's packing.
static void pack_bt_panels(size_t k, size_t n, const float* t, size_t ldt, size_t nr, float* packed,
                           size_t p0, size_t p1) {
  for (size_t p = p0; p < p1; ++p) {
    const size_t col0 = p * nr, cols = n - col0 < nr ? n - col0 : nr;
    float* dst = packed + p * k * nr;
    if (cols < nr)
      for (size_t r = 0; r < k; ++r) std::memset(dst + r * nr + cols, 0, (nr - cols) * sizeof(float));
    for (size_t j = 0; j < cols; ++j) {
      const float* src = t + (col0 + j) * ldt;
      for (size_t r = 0; r < k; ++r) dst[r * nr + j] = src[r];
    }
  }
}

void pack_bt(size_t k, size_t n, const float* t, size_t ldt, size_t nr, float* packed) {
  pack_bt_panels(k, n, t, ldt, nr, packed, 0, div_up(n, nr));
}

// Rows [m0, m0 + mr) of a plain GEMM whose A is stored transposed (A(i, k) = a[k * lda + i]),
// read in place by the transposed-A micro-kernel; B already packed.
static void gemm_at_strip(const KernelTable& t, const GemmArgs& g, const float* packed, size_t m0,
                          size_t mr) {
  const size_t nr = t.gemm_tile.nr, panels = div_up(g.n, nr);
  const size_t kb = div_up(g.k, div_up(g.k, kMaxBlockK));
  for (size_t p = 0; p < panels; ++p) {
    const size_t col0 = p * nr, nc = g.n - col0 < nr ? g.n - col0 : nr;
    for (size_t k0 = 0; k0 < g.k; k0 += kb) {
      const size_t kc = g.k - k0 < kb ? g.k - k0 : kb;
      t.gemm_at(mr, nc, kc, g.a + k0 * g.lda + m0, g.lda, packed + (p * g.k + k0) * nr,
                g.c + m0 * g.ldc + col0, g.ldc, {nullptr, g.accumulate || k0 > 0, false});
    }
  }
}

void gemm_f32(const GemmArgs& g, bool serial) {
  if (g.m == 0 || g.n == 0) return;
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  if (g.k == 0) {  // an empty sum
    if (!g.accumulate)
      for (size_t i = 0; i < g.m; ++i) std::memset(g.c + i * g.ldc, 0, g.n * sizeof(float));
    return;
  }
  FloatBuffer packed(packed_b_floats(g.k, g.n, nr));
  // Packing B runs on the threads too (for a dense layer's gradients it costs as much as the
  // product).
  const size_t panels = div_up(g.n, nr);
  const int pack_threads = serial ? 1 : threads_for(panels, g.n * g.k);
  parallel_for(panels, pack_threads, [&](size_t p, int) {
    if (g.trans_b) pack_bt_panels(g.k, g.n, g.b, g.ldb, nr, packed.get(), p, p + 1);
    else pack_b_panels(g.k, g.n, g.b, g.ldb, nr, packed.get(), p, p + 1);
  });
  const IgemmProblem prob{g.n, g.k, 1, packed.get(), nullptr, g.c, g.ldc, Activation::none, g.accumulate};
  const size_t strips = div_up(g.m, mr);
  auto run = [&](size_t s0, size_t s1) {
    const float* ptrs[16];
    const float* scratch[16];
    for (size_t s = s0; s < s1; ++s) {
      const size_t m0 = s * mr, rows = g.m - m0 < mr ? g.m - m0 : mr;
      if (g.trans_a) {
        gemm_at_strip(t, g, packed.get(), m0, rows);
        continue;
      }
      for (size_t i = 0; i < rows; ++i) ptrs[i] = g.a + (m0 + i) * g.lda;
      igemm_strip(t, prob, m0, rows, ptrs, scratch, 0, panels);
    }
  };
  if (serial) {
    run(0, strips);
    return;
  }
  // Tasks: blocks of strips (every panel each), 4 per thread.
  const int nt = threads_for(strips, g.m * g.n * g.k / 64);
  const TileGrid grid(1, strips, panels, div_up(strips, static_cast<size_t>(nt) * 4), panels);
  parallel_for_2d(grid, nt, [&](const Tile& tile, int) { run(tile.r0, tile.r1); });
}

}  // namespace foveal
