// Indirect-GEMM driver (see gemm.h): B packing, one strip of the indirect GEMM for the dense,
// conv2d and Winograd drivers, and the plain GEMM of the backward passes.
#include "kernels/nn/gemm/gemm.h"

#include <cstring>
#include <vector>

#include "foveal/parallel.h"

namespace foveal {

size_t packed_b_floats(size_t k, size_t n, const GemmTile& tile) {
  return div_up(n, tile.nr) * k * tile.nr;
}

// `rows` rows of `cols` floats (row stride ldb) as packed rows of w floats, zero padded; with
// scale (cols floats), column j times scale[j] (one float product, as kernel * scale in NumPy).
// Whole panels of N floats a row: a copy of fixed size the compiler inlines (a library call per
// 64-byte row was 4 % of a small CNN's predict, its dense kernel packed per batch).
template <size_t N>
static void copy_rows(const float* src, size_t ldb, size_t rows, float* dst) {
  for (size_t r = 0; r < rows; ++r, dst += N) std::memcpy(dst, src + r * ldb, N * sizeof(float));
}

static void pack_rows(const float* src, size_t ldb, size_t rows, size_t cols, size_t w, float* dst,
                      const float* scale = nullptr) {
  if (scale == nullptr && cols == w) {
    switch (cols) {
      case 8: copy_rows<8>(src, ldb, rows, dst); return;
      case 16: copy_rows<16>(src, ldb, rows, dst); return;
      case 32: copy_rows<32>(src, ldb, rows, dst); return;
      default: break;
    }
  }
  for (size_t r = 0; r < rows; ++r, dst += w) {
    if (scale == nullptr) {
      std::memcpy(dst, src + r * ldb, cols * sizeof(float));
    } else {
      for (size_t j = 0; j < cols; ++j) dst[j] = src[r * ldb + j] * scale[j];
    }
    if (cols < w) std::memset(dst + cols, 0, (w - cols) * sizeof(float));
  }
}

void pack_b_panels(size_t k, size_t n, const float* b, size_t ldb, const GemmTile& tile,
                   float* packed, size_t p0, size_t p1, const float* col_scale) {
  const size_t nr = tile.nr;
  for (size_t p = p0; p < p1; ++p) {
    const size_t col0 = p * nr, cols = n - col0 < nr ? n - col0 : nr;
    pack_rows(b + col0, ldb, k, cols, tile.panel_width(cols), packed + p * k * nr,
              col_scale ? col_scale + col0 : nullptr);
  }
}

void pack_b(size_t k, size_t n, const float* b, size_t ldb, const GemmTile& tile, float* packed,
            const float* col_scale) {
  const size_t panels = div_up(n, tile.nr);
  parallel_for(panels, threads_for(panels * k / 4096 + 1), [&](size_t p, int) {
    pack_b_panels(k, n, b, ldb, tile, packed, p, p + 1, col_scale);
  });
}

// Panels [p0, p1) of pack_bt's packing.
static void pack_bt_panels(size_t k, size_t n, const float* t, size_t ldt, const GemmTile& tile,
                           float* packed, size_t p0, size_t p1) {
  const size_t nr = tile.nr;
  for (size_t p = p0; p < p1; ++p) {
    const size_t col0 = p * nr, cols = n - col0 < nr ? n - col0 : nr, w = tile.panel_width(cols);
    float* dst = packed + p * k * nr;
    if (cols < w)
      for (size_t r = 0; r < k; ++r) std::memset(dst + r * w + cols, 0, (w - cols) * sizeof(float));
    kernels().transpose(k, cols, t + col0 * ldt, ldt, dst, w);   // the table's register transposes
  }
}

void pack_bt(size_t k, size_t n, const float* t, size_t ldt, const GemmTile& tile, float* packed) {
  const size_t panels = div_up(n, tile.nr);
  parallel_for(panels, threads_for(panels, panels * k * tile.nr / 4), [&](size_t p, int) {
    pack_bt_panels(k, n, t, ldt, tile, packed, p, p + 1);
  });
}

// Rows [m0, m0 + mr) of a plain GEMM whose A is stored transposed (A(i, k) = a[k * lda + i]),
// read in place by the transposed-A micro-kernel; B already packed.
static void gemm_at_strip(const KernelTable& t, const GemmArgs& g, const float* packed, size_t m0,
                          size_t mr) {
  const size_t nr = t.gemm_tile.nr, panels = div_up(g.n, nr);
  const size_t kb = div_up(g.k, div_up(g.k, kMaxBlockK));
  for (size_t p = 0; p < panels; ++p) {
    const size_t col0 = p * nr, nc = g.n - col0 < nr ? g.n - col0 : nr;
    const size_t w = t.gemm_tile.panel_width(nc);
    for (size_t k0 = 0; k0 < g.k; k0 += kb) {
      const size_t kc = g.k - k0 < kb ? g.k - k0 : kb;
      t.gemm_at(mr, nc, kc, g.a + k0 * g.lda + m0, g.lda, packed + p * g.k * nr + k0 * w,
                g.c + m0 * g.ldc + col0, g.ldc, {nullptr, g.accumulate || k0 > 0, false});
    }
  }
}


size_t igemm_block_strips(const KernelTable& t, size_t kc, size_t ntaps) {
  constexpr size_t kABudget = 384 * 1024;   // bytes of A blocks kept in L2 beside a B block
  const size_t per_strip = t.gemm_tile.mr * KBlocks(kc, ntaps).floats() * sizeof(float);
  const size_t strips = kABudget / (per_strip ? per_strip : 1);
  return strips < 1 ? 1 : strips > 64 ? 64 : strips;
}

// Rows [r0, r0 + rows) (columns [col0, col0 + nc)) of B given as a flipped, transposed kernel
// (IgemmProblem::b_flip_taps: `taps` taps of n x c floats, B row tap * c + co, column ci read
// from ((taps - 1 - tap) * n + ci) * c + co) as packed rows of w floats, zero padded: for each
// tap the rows cross, one block of the transpose (the table's register transposes).
void pack_flipped_rows(const float* kernel, size_t taps, size_t n, size_t c, size_t r0, size_t rows,
                       size_t col0, size_t nc, size_t w, float* dst) {
  const KernelTable& t = kernels();
  if (nc < w)
    for (size_t r = 0; r < rows; ++r) std::memset(dst + r * w + nc, 0, (w - nc) * sizeof(float));
  for (size_t r = 0; r < rows;) {
    const size_t kk = r0 + r, tap = kk / c, co = kk % c;
    const size_t run = c - co < rows - r ? c - co : rows - r;
    t.transpose(run, nc, kernel + ((taps - 1 - tap) * n + col0) * c + co, c, dst + r * w, w);
    r += run;
  }
}

// Block (taps [t0, t0 + nt), columns [k0, k0 + kc) of each) of panel col0 (nc columns) of B
// given as itself (g.b_src), or flipped (g.b_flip_taps): packed rows of w floats, zero padded,
// into dst.
static void pack_block(const IgemmProblem& g, size_t t0, size_t nt, size_t k0, size_t kc,
                       size_t col0, size_t nc, size_t w, float* dst) {
  for (size_t tap = t0; tap < t0 + nt; ++tap, dst += kc * w) {
    if (g.b_flip_taps > 0)
      pack_flipped_rows(g.b_src, g.b_flip_taps, g.n, g.ldb, tap * g.kc + k0, kc, col0, nc, w, dst);
    else
      pack_rows(g.b_src + (tap * g.kc + k0) * g.ldb + col0, g.ldb, kc, nc, w, dst);
  }
}

void igemm_block(const KernelTable& t, const IgemmProblem& g, size_t m, size_t s0, size_t s1,
                 const float* const* ptrs, size_t p0, size_t p1, float* pack_scratch) {
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t panel_floats = g.ntaps * g.kc * nr;
  const KBlocks kb(g.kc, g.ntaps);
  const bool relu = tile_fuses(g.act), relu6 = g.act == Activation::relu6;
  const float* shifted[32];
  for (size_t b = 0; b < kb.count; ++b) {
    const bool first = b == 0, last = b + 1 == kb.count;
    size_t t0, nt, k0, kc;
    kb.block(b, g.kc, g.ntaps, &t0, &nt, &k0, &kc);
    for (size_t p = p0; p < p1; ++p) {
      const size_t col0 = p * nr, nc = g.n - col0 < nr ? g.n - col0 : nr;
      const size_t w = t.gemm_tile.panel_width(nc);
      const float* block = g.packed_b + p * panel_floats + (t0 * g.kc + k0) * w;
      if (g.b_src != nullptr) {
        pack_block(g, t0, nt, k0, kc, col0, nc, w, pack_scratch);
        block = pack_scratch;
      }
      GemmEpilogue ep{g.bias ? g.bias + col0 : nullptr, g.accumulate || !first, last && relu,
                      last && relu6};
      for (size_t s = s0; s < s1; ++s) {
        const size_t m0 = s * mr, rows = m - m0 < mr ? m - m0 : mr;
        if (last && g.add != nullptr) ep.add = g.add + m0 * g.ldc + col0;
        const float* const* strip = ptrs + (s - s0) * g.ntaps * mr;
        if (k0 == 0 && rows == mr) {   // this strip and the whole ones after it: one call
          const size_t whole = (s1 < m / mr ? s1 : m / mr) - s;
          t.gemm_strips(whole, nc, kc, nt, strip + t0 * mr, g.ntaps * mr, block,
                        g.c + m0 * g.ldc + col0, g.ldc, ep);
          s += whole - 1;
          continue;
        }
        const float* const* a = strip + t0 * rows;
        if (k0) {
          for (size_t i = 0; i < rows; ++i) shifted[i] = a[i] + k0;
          a = shifted;
        }
        t.gemm(rows, nc, kc, nt, a, block, g.c + m0 * g.ldc + col0, g.ldc, ep);
      }
    }
  }
  if (g.act != Activation::none && !relu) {   // the other activations: a pass over the rows
    const size_t c0 = p0 * nr, c1 = p1 * nr < g.n ? p1 * nr : g.n;
    for (size_t s = s0; s < s1; ++s) {
      const size_t m0 = s * mr, rows = m - m0 < mr ? m - m0 : mr;
      for (size_t i = 0; i < rows; ++i) {
        float* row = g.c + (m0 + i) * g.ldc + c0;
        t.activation(c1 - c0, row, row, g.act);
      }
    }
  }
}

TileGrid igemm_grid(const KernelTable& t, size_t strips, size_t panels, size_t kc, size_t ntaps,
                    size_t work) {
  const size_t nt = static_cast<size_t>(threads_for(strips * panels, work));
  size_t block = igemm_block_strips(t, kc, ntaps);
  size_t col_tiles = 1;
  while (col_tiles < panels && div_up(strips, block) * col_tiles < nt * 4) ++col_tiles;
  const size_t tasks = div_up(strips, block) * col_tiles;
  if (tasks < nt && strips > 0) block = div_up(strips, div_up(nt, col_tiles));   // one a thread
  return TileGrid(1, strips, panels, block, div_up(panels, col_tiles));
}

void igemm_rows(const KernelTable& t, const IgemmProblem& g, size_t m, const float* a, size_t lda) {
  const size_t mr = t.gemm_tile.mr, k = g.kc * g.ntaps, work = m * g.n * k / 64;
  const TileGrid grid = igemm_grid(t, div_up(m, mr), div_up(g.n, t.gemm_tile.nr), g.kc, g.ntaps, work);
  const int nt = threads_for(grid.tasks(), work);
  std::vector<const float*> ptr_pool(grid.tile_rows * mr * static_cast<size_t>(nt));
  const size_t scratch_floats = g.b_src ? igemm_pack_scratch_floats(t, g.kc, g.ntaps) : 0;
  FloatBuffer pack_pool(g.b_src ? scratch_floats * static_cast<size_t>(nt) : 1);
  parallel_for_2d(grid, nt, [&](const Tile& tile, int tid) {
    const float** ptrs = ptr_pool.data() + static_cast<size_t>(tid) * grid.tile_rows * mr;
    for (size_t r = tile.r0 * mr, i = 0; r < m && r < tile.r1 * mr; ++r, ++i) ptrs[i] = a + r * lda;
    igemm_block(t, g, m, tile.r0, tile.r1, ptrs, tile.c0, tile.c1,
                g.b_src ? pack_pool.get() + static_cast<size_t>(tid) * scratch_floats : nullptr);
  });
}

bool igemm_rows_pack_locally(const KernelTable& t, size_t m, size_t n, size_t kc, size_t ntaps) {
  const size_t strips = div_up(m, t.gemm_tile.mr);
  const TileGrid grid = igemm_grid(t, strips, div_up(n, t.gemm_tile.nr), kc, ntaps,
                                   m * n * kc * ntaps / 64);
  return grid.row_tiles <= 2;
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
  FloatBuffer packed(packed_b_floats(g.k, g.n, t.gemm_tile));
  // Packing B runs on the threads too (for a dense layer's gradients it costs as much as the
  // product).
  const size_t panels = div_up(g.n, nr);
  const int pack_threads = serial ? 1 : threads_for(panels, g.n * g.k);
  parallel_for(panels, pack_threads, [&](size_t p, int) {
    if (g.trans_b) pack_bt_panels(g.k, g.n, g.b, g.ldb, t.gemm_tile, packed.get(), p, p + 1);
    else pack_b_panels(g.k, g.n, g.b, g.ldb, t.gemm_tile, packed.get(), p, p + 1);
  });
  const IgemmProblem prob{g.n, g.k, 1, packed.get(), nullptr, g.c, g.ldc, Activation::none, g.accumulate};
  const size_t strips = div_up(g.m, mr);
  if (!g.trans_a && !serial) {
    // Cache-blocked (igemm_block): each K block of a B panel runs over a block of strips, so B
    // is read once per block of rows, not once per strip (a dense layer's input gradient with a
    // 2 MiB kernel and 64 rows read it eleven times).
    igemm_rows(t, prob, g.m, g.a, g.lda);
    return;
  }
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
