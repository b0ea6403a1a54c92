// conv2d driver: an indirect GEMM. Each output pixel is a row of A given by one pointer per tap
// into the NHWC input (padding taps point at zeros), the Keras kernel kh x kw x Cin/g x Cout is
// B, packed once per call. Depthwise convolutions go to their own direct kernel.
#include <algorithm>
#include <cstring>
#include <numeric>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/dwconv2d/dwconv2d.h"
#include "kernels/nn/conv2d/conv2d.h"
#include "kernels/nn/gemm/gemm.h"
#include "kernels/nn/batchnorm/moments.h"

namespace foveal {

ConvTaps conv_taps(const Conv2dParams& p) {
  const size_t cg = p.in_c / p.groups;
  if (p.groups == 1 && p.dilation_w == 1) return {true, p.kh, p.kw * cg};
  return {false, p.kh * p.kw, cg};
}

// A pixel whose merged row taps (kw * C floats each) straddle the left or right border: the
// pixels inside the image are one contiguous run of each row, copied into span between zeros
// (plain loops: a few floats for an RGB stem, where a library call per pixel cost as much as
// the products), and ptrs[r * mr] points at row r's copy. A function of its own, so that none
// of this is computed for the interior pixels.
__attribute__((noinline)) static void border_row_taps(const Conv2dParams& p, const ConvTaps& taps,
                                                      const float* const* row_cache,
                                                      const float* zeros, ptrdiff_t iw0,
                                                      float* span, const float** ptrs, size_t mr) {
  const size_t C = p.in_c;
  const ptrdiff_t W = static_cast<ptrdiff_t>(p.in_w), Cs = static_cast<ptrdiff_t>(C);
  const ptrdiff_t lo = iw0 > 0 ? iw0 : 0;
  const ptrdiff_t hi = iw0 + static_cast<ptrdiff_t>(p.kw) < W ? iw0 + static_cast<ptrdiff_t>(p.kw) : W;
  // a window wholly in the padding (hi <= lo: a padding wider than the kernel) reads zeros only
  const bool inside = hi > lo;
  const size_t before = inside ? static_cast<size_t>(lo - iw0) * C : 0;
  const size_t count = inside ? static_cast<size_t>(hi - lo) * C : 0;
  for (size_t r = 0; r < p.kh; ++r) {
    const float* row = row_cache[r];
    if (row == nullptr || !inside) {
      ptrs[r * mr] = zeros;
      continue;
    }
    float* dst = span + r * taps.kc;
    const float* from = row + lo * Cs;
    for (size_t k = 0; k < before; ++k) dst[k] = 0.0f;
    for (size_t k = 0; k < count; ++k) dst[before + k] = from[k];
    for (size_t k = before + count; k < taps.kc; ++k) dst[k] = 0.0f;
    ptrs[r * mr] = dst;
  }
}

void fill_pointers(const Conv2dParams& p, const ConvTaps& taps, const float* x, size_t g,
                   const float* zeros, size_t m0, size_t mr, const float** ptrs, float* span,
                   const float** row_cache, PixelCursor& cursor) {
  const size_t C = p.in_c, cg = C / p.groups;
  const size_t hw_out = p.out_h * p.out_w;
  const ptrdiff_t W = static_cast<ptrdiff_t>(p.in_w), Cs = static_cast<ptrdiff_t>(C);
  const ptrdiff_t span_w = static_cast<ptrdiff_t>((p.kw - 1) * p.dilation_w + 1);
  auto load_rows = [&](size_t n, size_t oh) {
    const float* image = x + n * p.in_h * p.in_w * C + g * cg;
    const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
    for (size_t r = 0; r < p.kh; ++r) {
      const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(r * p.dilation_h);
      row_cache[r] = ih >= 0 && ih < static_cast<ptrdiff_t>(p.in_h) ? image + ih * W * Cs : nullptr;
    }
  };
  // Decode the strip's first pixel once (where the last strip did not end there), then step
  // through the following ones.
  size_t n = cursor.n, oh = cursor.oh, ow = cursor.ow;
  if (cursor.next != m0) {
    n = m0 / hw_out, oh = (m0 % hw_out) / p.out_w, ow = m0 % p.out_w;
    load_rows(n, oh);
  }
  for (size_t i = 0; i < mr; ++i, ++ow) {
    if (ow == p.out_w) {
      ow = 0;
      if (++oh == p.out_h) { oh = 0; ++n; }
      load_rows(n, oh);
    }
    const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
    const bool interior = iw0 >= 0 && iw0 + span_w <= W;
    if (taps.merged_rows) {
      if (interior) {   // the common case, kept lean: one pointer per kernel row
        const ptrdiff_t off = iw0 * Cs;
        for (size_t r = 0; r < p.kh; ++r)
          ptrs[r * mr + i] = row_cache[r] != nullptr ? row_cache[r] + off : zeros;
      } else {
        border_row_taps(p, taps, row_cache, zeros, iw0, span + i * p.kh * taps.kc, ptrs + i, mr);
      }
      continue;
    }
    for (size_t r = 0; r < p.kh; ++r) {
      const float* row = row_cache[r];
      for (size_t s = 0; s < p.kw; ++s) {
        const ptrdiff_t iw = iw0 + static_cast<ptrdiff_t>(s * p.dilation_w);
        const bool inside = row != nullptr && (interior || (iw >= 0 && iw < W));
        ptrs[(r * p.kw + s) * mr + i] = inside ? row + iw * Cs : zeros;
      }
    }
  }
  cursor = {n, oh, ow, m0 + mr};   // ow may be out_w: the next strip wraps it first
}

// The paths without a GEMM epilogue (depthwise, Winograd) given a residual: the convolution
// without its activation, then y = act(y + residual) by the Add layer's pass (add_f32).
static void conv2d_then_add(const Conv2dParams& p, const float* x, const float* kernel,
                            const float* bias, float* y, const float* residual) {
  Conv2dParams q = p;
  q.activation = Activation::none;
  conv2d_f32_nhwc(q, x, kernel, bias, y);
  add_f32(p.batch * p.out_h * p.out_w * p.out_c, y, residual, y, p.activation);
}

static bool is_depthwise(const Conv2dParams& p) {
  return p.groups > 1 && p.groups == p.in_c && p.out_c == p.in_c;
}

// The moments of a convolution's output, gathered per row tile of the GEMM driver right after
// the tile is written (its rows, every output channel, still in L2): per chunk of kMomentChunk
// rows, the tiles being whole chunks long.
struct TileMoments {
  size_t block;        // strips per row tile (a multiple of kMomentChunk rows)
  double* cm;          // chunks x c: each chunk's mean and sum of squared deviations
  double* cq;
  float* scratch;      // threads x 4c floats
};

// The indirect-GEMM convolution (conv2d_f32_nhwc's general path); with tm, its tiles are tm's
// row blocks and the moments of each are gathered (the caller has checked that a tile covers
// every output channel).
// flipped: kernel is the forward kernel of the convolution whose input gradient p is (one
// group; IgemmProblem::b_flip_taps), turned and transposed while it is packed.
static void conv2d_gemm(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                        float* y, const float* residual, const TileMoments* tm, bool flipped = false);

// The strips per row tile for gathering moments (conv2d_gemm's own block rounded to whole
// chunks of rows), and whether with them each tile covers every output channel (one group, one
// column of tiles, as conv2d_gemm decides it).
static bool moment_tiles(const Conv2dParams& p, size_t* block);

void conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                     float* y, const float* residual) {
  const bool depthwise = is_depthwise(p);
  if (residual != nullptr && (depthwise || conv2d_uses_winograd(p))) {
    conv2d_then_add(p, x, kernel, bias, y, residual);
    return;
  }
  if (depthwise) {
    depthwise_conv2d_f32_nhwc(p, x, kernel, bias, y);
    return;
  }
  if (conv2d_uses_winograd(p)) {
    conv2d_winograd_f32(p, x, kernel, bias, y);
    return;
  }
  conv2d_gemm(p, x, kernel, bias, y, residual, nullptr);
}

bool conv2d_input_grad_gemm(const Conv2dParams& q, const float* dy, const float* kernel, float* dx) {
  if (q.groups != 1 || conv2d_uses_winograd(q)) return false;
  conv2d_gemm(q, dy, kernel, nullptr, dx, nullptr, nullptr, true);
  return true;
}

void conv2d_moments_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                             float* y, double* mean, double* m2) {
  if (is_depthwise(p)) {
    depthwise_conv2d_moments_f32_nhwc(p, x, kernel, bias, y, mean, m2);
    return;
  }
  const KernelTable& t = kernels();
  const size_t c = p.out_c, m = p.batch * p.out_h * p.out_w;
  const size_t chunks = div_up(m, kMomentChunk);
  std::vector<double> cm(chunks * c), cq(chunks * c);
  size_t block = 0;
  if (conv2d_uses_winograd(p) || !moment_tiles(p, &block)) {
    conv2d_f32_nhwc(p, x, kernel, bias, y);
    // a pass of their own over the output, in blocks of whole chunks
    constexpr size_t kBlockChunks = kMomentBlock / kMomentChunk;
    const size_t blocks = div_up(chunks, kBlockChunks);
    const int nt = threads_for(blocks, m * c);
    std::vector<float> scratch(static_cast<size_t>(nt) * 4 * c);
    parallel_for(blocks, nt, [&](size_t b, int tid) {
      const size_t r0 = b * kMomentBlock, r1 = r0 + kMomentBlock < m ? r0 + kMomentBlock : m;
      const size_t k0 = b * kBlockChunks;
      chunk_moments(t, r1 - r0, c, y + r0 * c, scratch.data() + static_cast<size_t>(tid) * 4 * c,
                    cm.data() + k0 * c, cq.data() + k0 * c);
    });
  } else {
    std::vector<float> scratch(static_cast<size_t>(get_num_threads()) * 4 * c);
    const TileMoments tm{block, cm.data(), cq.data(), scratch.data()};
    conv2d_gemm(p, x, kernel, bias, y, nullptr, &tm);
  }
  merge_chunk_moments(m, c, cm.data(), cq.data(), mean, m2);
}

static bool moment_tiles(const Conv2dParams& p, size_t* block) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const ConvTaps taps = conv_taps(p);
  const size_t m = p.batch * p.out_h * p.out_w;
  const size_t strips = div_up(m, mr), panels = div_up(p.out_c, nr);
  // whole chunks: a multiple of kMomentChunk / gcd(kMomentChunk, mr) strips
  const size_t unit = kMomentChunk / std::gcd(kMomentChunk, mr);
  const size_t b = igemm_block_strips(t, taps.kc, taps.ntaps);
  *block = b < unit ? unit : b / unit * unit;
  const size_t row_tiles = div_up(strips, *block);
  return p.groups == 1 && (panels == 1 || row_tiles >= static_cast<size_t>(get_num_threads()) * 4);
}

static void conv2d_gemm(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                        float* y, const float* residual, const TileMoments* tm, bool flipped) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t G = p.groups, og = p.out_c / G;
  const ConvTaps taps = conv_taps(p);
  const size_t k_total = taps.ntaps * taps.kc;

  const std::vector<float> zeros(taps.kc, 0.0f);

  // Tasks: tiles of (group, blocks of strips of MR output pixels whose A blocks fit in L2,
  // panels of NR output channels); each tile is one cache-blocked igemm_block.
  const size_t m = p.batch * p.out_h * p.out_w;
  const size_t strips = div_up(m, mr), panels = div_up(og, nr);
  const size_t block = tm != nullptr ? tm->block : igemm_block_strips(t, taps.kc, taps.ntaps);
  const size_t nt_max = static_cast<size_t>(get_num_threads());
  const size_t row_tiles = div_up(strips, block);
  size_t col_tiles = 1;
  while (col_tiles < panels && G * row_tiles * col_tiles < nt_max * 4) ++col_tiles;
  const TileGrid grid(G, strips, panels, block, div_up(panels, col_tiles));
  const int threads = threads_for(grid.tasks(), m * p.out_c * k_total / 64);

  // B, the kernel: packed once for all the tasks, or, where few row tiles share each block
  // (few output pixels, a large kernel: a 4x4x512 layer's 9 MiB), packed block by block by the
  // task that runs it, into a buffer that stays in L2 (no pass writing and re-reading all of it).
  const bool local_pack = row_tiles <= 2;
  const size_t per_group = local_pack ? 0 : packed_b_floats(k_total, og, t.gemm_tile);
  FloatBuffer packed(local_pack ? 1 : per_group * G);
  if (!local_pack && flipped) {   // one group (conv2d_input_grad_gemm)
    const size_t pn = div_up(og, nr);
    parallel_for(pn, threads_for(pn, k_total * og / 4), [&](size_t q, int) {
      const size_t col0 = q * nr, nc = og - col0 < nr ? og - col0 : nr;
      pack_flipped_rows(kernel, p.kh * p.kw, og, p.in_c, 0, k_total, col0, nc,
                        t.gemm_tile.panel_width(nc), packed.get() + q * k_total * nr);
    });
  } else if (!local_pack) {
    for (size_t g = 0; g < G; ++g)
      pack_b(k_total, og, kernel + g * og, p.out_c, t.gemm_tile, packed.get() + g * per_group);
  }
  const size_t scratch_floats = local_pack ? igemm_pack_scratch_floats(t, taps.kc, taps.ntaps) : 0;
  FloatBuffer pack_pool(local_pack ? scratch_floats * threads : 1);

  const size_t ptrs_per_strip = taps.ntaps * mr;
  const size_t ptrs_per_thread = ptrs_per_strip * block + p.kh;
  const size_t span_per_strip = taps.merged_rows ? mr * p.kh * taps.kc : 0;
  std::vector<const float*> ptr_pool(ptrs_per_thread * threads);
  std::vector<float> span_pool(span_per_strip * block * threads);

  parallel_for_2d(grid, threads, [&](const Tile& tile, int tid) {
    const size_t g = tile.group;
    const float** ptrs = ptr_pool.data() + tid * ptrs_per_thread;
    const float** row_cache = ptrs + ptrs_per_strip * block;
    float* span = span_pool.data() + tid * span_per_strip * block;
    PixelCursor cursor;   // the tile's strips are consecutive pixels
    for (size_t s = tile.r0; s < tile.r1; ++s) {
      const size_t m0 = s * mr, rows = m - m0 < mr ? m - m0 : mr;
      const size_t i = s - tile.r0;
      fill_pointers(p, taps, x, g, zeros.data(), m0, rows, ptrs + i * ptrs_per_strip,
                    span + i * span_per_strip, row_cache, cursor);
    }
    IgemmProblem prob{og, taps.kc, taps.ntaps, packed.get() + g * per_group,
                      bias ? bias + g * og : nullptr, y + g * og, p.out_c, p.activation,
                      false, residual ? residual + g * og : nullptr};
    if (local_pack && flipped) {
      prob.b_src = kernel;
      prob.ldb = p.in_c;
      prob.b_flip_taps = p.kh * p.kw;
    } else if (local_pack) {
      prob.b_src = kernel + g * og;
      prob.ldb = p.out_c;
    }
    igemm_block(t, prob, m, tile.r0, tile.r1, ptrs, tile.c0, tile.c1,
                local_pack ? pack_pool.get() + tid * scratch_floats : nullptr);
    if (tm != nullptr) {   // the tile's rows, every channel, while they are in cache
      const size_t r0 = tile.r0 * mr, r1 = tile.r1 * mr < m ? tile.r1 * mr : m;
      const size_t k0 = r0 / kMomentChunk, c = p.out_c;
      chunk_moments(t, r1 - r0, c, y + r0 * c, tm->scratch + static_cast<size_t>(tid) * 4 * c,
                    tm->cm + k0 * c, tm->cq + k0 * c);
    }
  });
}

}  // namespace foveal
