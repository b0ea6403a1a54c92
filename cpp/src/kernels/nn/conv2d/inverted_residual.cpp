// MobileNetV2's inverted-residual block (inference) in one pass per band of output rows:
//   h = act_e(x We + be)            1x1 expansion to the hidden channels (none: h = x)
//   d = act_d(depthwise(h, Wd) + bd) the kh x kw depthwise convolution, any stride and padding
//   y = d Wp + bp [+ residual]      the linear 1x1 projection, the skip connection in its epilogue
// Run layer by layer, h and d (six times the block's input, the network's largest tensors: 77 MB
// each for 16 images at 112 x 112 x 96) go to memory and back; here each thread computes a band
// of output rows at a time, h for the input rows the band's windows read and d for the band, in
// scratch sized for L2. Consecutive bands share kh - stride rows of h: they are kept (in a ring
// of rows), not recomputed. The pieces are the ones the separate layers use (the GEMM strip kernel over packed
// panels, the depthwise row kernel), so the sums are those of the layer-by-layer path.
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/dwconv2d/dwconv2d.h"
#include "kernels/nn/gemm/gemm.h"
#include "kernels/nn/window_rows.h"

namespace foveal {
namespace {

// Floats of per-thread scratch (h rows and d rows) a band may take: about half of a 2 MB L2.
constexpr size_t kBandFloats = 256 * 1024;

// The output rows per band: the most whose h rows ((bh - 1) * stride + kh of them, at most the
// image's) and d rows fit in kBandFloats, at least one.
size_t band_rows(const InvertedResidualParams& p, bool expand) {
  const size_t h_row = expand ? p.in_w * p.hidden_c : 0, d_row = p.out_w * p.hidden_c;
  size_t bh = p.out_h;
  while (bh > 1) {
    size_t h_rows = (bh - 1) * p.stride_h + p.kh;
    if (h_rows > p.in_h) h_rows = p.in_h;
    if (h_rows * h_row + bh * d_row <= kBandFloats) break;
    --bh;
  }
  return bh;
}

// C[m x n] = act(A B + bias [+ add]) (igemm_block applies every activation) for m rows of A that are contiguous (row stride lda), B
// packed for the tile; on the calling thread. ptrs: div_up(m, mr) * mr pointers of scratch.
void gemm_rows(const KernelTable& t, size_t m, size_t k, size_t n, const float* a, size_t lda,
               const float* packed_b, const float* bias, float* c, const float* add, Activation act,
               const float** ptrs) {
  const size_t mr = t.gemm_tile.mr;
  for (size_t i = 0; i < m; ++i) ptrs[i] = a + i * lda;
  IgemmProblem g{n, k, 1, packed_b, bias, c, n, act, false, add};
  igemm_block(t, g, m, 0, div_up(m, mr), ptrs, 0, div_up(n, t.gemm_tile.nr));
}

}  // namespace

void inverted_residual_f32_nhwc(const InvertedResidualParams& p, const float* x,
                                const float* expand_kernel, const float* expand_bias,
                                const float* dw_kernel, const float* dw_bias,
                                const float* project_kernel, const float* project_bias,
                                const float* residual, float* y,
                                const InvertedResidualScales& scales) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr;
  const bool expand = expand_kernel != nullptr;
  const size_t H = p.in_h, W = p.in_w, Ch = p.hidden_c;
  const size_t h_row = W * Ch, d_row = p.out_w * Ch;

  FloatBuffer packed_e(expand ? packed_b_floats(p.in_c, Ch, t.gemm_tile) : 1);
  if (expand) pack_b(p.in_c, Ch, expand_kernel, Ch, t.gemm_tile, packed_e.get(), scales.expand);
  FloatBuffer packed_p(packed_b_floats(Ch, p.out_c, t.gemm_tile));
  pack_b(Ch, p.out_c, project_kernel, p.out_c, t.gemm_tile, packed_p.get(), scales.project);
  std::vector<float> dw_scaled;
  if (scales.dw != nullptr) {   // kh x kw x Ch: channel c times its factor
    dw_scaled.resize(p.kh * p.kw * Ch);
    for (size_t i = 0; i < dw_scaled.size(); ++i) dw_scaled[i] = dw_kernel[i] * scales.dw[i % Ch];
    dw_kernel = dw_scaled.data();
  }

  // Tasks: (image, chunk of output rows); one chunk per image where the images alone keep the
  // threads busy (no h row is then computed twice), more for small batches.
  const size_t nt = static_cast<size_t>(get_num_threads());
  size_t chunks = p.batch >= 2 * nt ? 1 : div_up(2 * nt, p.batch);
  if (chunks > p.out_h) chunks = p.out_h;
  const size_t tasks = p.batch * chunks;
  const size_t work = p.batch * p.out_h * p.out_w * Ch * (p.in_c + p.kh * p.kw + p.out_c);
  const int threads = threads_for(tasks, work);

  const size_t bh = band_rows(p, expand);
  size_t h_rows = (bh - 1) * p.stride_h + p.kh;
  if (h_rows > H) h_rows = H;
  const size_t h_floats = expand ? h_rows * h_row : 0, d_floats = bh * d_row;
  size_t gemm_rows_max = expand ? h_rows * W : 0;
  if (bh * p.out_w > gemm_rows_max) gemm_rows_max = bh * p.out_w;
  const size_t ptrs_per_thread = div_up(gemm_rows_max, mr) * mr + p.kh;
  FloatBuffer scratch((h_floats + d_floats) * static_cast<size_t>(threads));
  std::vector<const float*> ptr_pool(ptrs_per_thread * static_cast<size_t>(threads));

  const DwConvRowParams rp{Ch, W, p.out_w, p.kw, p.stride_w, 1, p.pad_left, p.dw_act};
  const size_t rows_per_chunk = div_up(p.out_h, chunks);

  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const size_t n = task / chunks, chunk = task % chunks;
    const size_t c0 = chunk * rows_per_chunk;
    const size_t c1 = c0 + rows_per_chunk < p.out_h ? c0 + rows_per_chunk : p.out_h;
    float* hbuf = scratch.get() + static_cast<size_t>(tid) * (h_floats + d_floats);
    float* dbuf = hbuf + h_floats;
    const float** ptrs = ptr_pool.data() + static_cast<size_t>(tid) * ptrs_per_thread;
    const float** rows = ptrs + (ptrs_per_thread - p.kh);
    const float* image = x + n * H * W * p.in_c;
    // hbuf holds h of the input rows [h_lo, h_hi), a ring of h_rows slots: row r in slot
    // r % h_rows, so the rows the next band shares with this one stay where they are
    size_t h_lo = 0, h_hi = 0;
    for (size_t oy0 = c0; oy0 < c1; oy0 += bh) {
      const size_t oy1 = oy0 + bh < c1 ? oy0 + bh : c1;
      if (expand) {
        // the input rows [lo, hi) this band's windows read
        const ptrdiff_t first = static_cast<ptrdiff_t>(oy0 * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
        const ptrdiff_t end = static_cast<ptrdiff_t>((oy1 - 1) * p.stride_h + p.kh) - static_cast<ptrdiff_t>(p.pad_top);
        const size_t lo = first < 0 ? 0 : static_cast<size_t>(first);
        const size_t hi = end > static_cast<ptrdiff_t>(H) ? H : static_cast<size_t>(end);
        if (!(h_lo <= lo && lo < h_hi)) h_hi = lo;   // nothing kept
        h_lo = lo;
        // the rows not yet there, in at most two runs of slots (the second from slot 0)
        while (h_hi < hi) {
          const size_t slot = h_hi % h_rows, run = hi - h_hi < h_rows - slot ? hi - h_hi : h_rows - slot;
          gemm_rows(t, run * W, p.in_c, Ch, image + h_hi * W * p.in_c, p.in_c, packed_e.get(),
                    expand_bias, hbuf + slot * h_row, nullptr, p.expand_act, ptrs);
          h_hi += run;
        }
      }
      for (size_t oy = oy0; oy < oy1; ++oy) {
        const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oy * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
        size_t r_lo, r_hi;
        window_rows_inside(ih0, p.kh, 1, H, &r_lo, &r_hi);
        size_t nrows = 0;
        for (size_t r = r_lo; r < r_hi; ++r) {
          const size_t ih = static_cast<size_t>(ih0 + static_cast<ptrdiff_t>(r));
          rows[nrows++] = expand ? hbuf + (ih % h_rows) * h_row : image + ih * h_row;
        }
        float* out = dbuf + (oy - oy0) * d_row;
        t.dwconv_row(rp, rows, nrows, dw_kernel + (nrows ? r_lo : 0) * p.kw * Ch, dw_bias, out);
        if (!dw_row_fuses(p.dw_act))
          t.activation(d_row, out, out, p.dw_act);
      }
      const size_t pix = (n * p.out_h + oy0) * p.out_w;
      gemm_rows(t, (oy1 - oy0) * p.out_w, Ch, p.out_c, dbuf, Ch, packed_p.get(), project_bias,
                y + pix * p.out_c, residual ? residual + pix * p.out_c : nullptr, Activation::none, ptrs);
    }
  });
}

}  // namespace foveal
