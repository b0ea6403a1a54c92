// A convolution and the pooling of its output in one pass (inference: Keras's Conv2D ->
// MaxPooling2D / AveragePooling2D, a classic CNN's every block). Run layer by layer, the
// convolution's output (four times the pooled output for 2x2 windows) is written to memory and
// read back by the pooling; here each thread computes a band of convolution rows into scratch
// that stays in L2 and pools it from there:
//   - Winograd layers pool each output tile as the output transform makes it
//     (conv2d_winograd_f32 with a pool);
//   - the indirect-GEMM layers (one group) run per band of whole pooling rows of one image: the
//     band's strips on the GEMM tile, then the pooling row kernel over the band;
//   - anything else (depthwise, groups, a window that does not divide the Winograd tile) is the
//     convolution into a buffer, then the pooling.
// With keep (a training step), the convolution's output goes there instead of scratch, and is
// pooled from there while still in cache.
// The sums are the separate layers' (the same micro-kernels, the same order), so the result is
// the same as conv2d then max/avg pooling, to the bit.
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/conv2d/conv2d.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {
namespace {

Pool2dParams pool_params(const Conv2dParams& p, const ConvPool& q) {
  return {p.batch, p.out_h, p.out_w, p.out_c, p.out_h / q.pool_h, p.out_w / q.pool_w,
          q.pool_h, q.pool_w, q.pool_h, q.pool_w, 0, 0};
}

void conv_then_pool(const Conv2dParams& p, const ConvPool& q, const float* x, const float* kernel,
                    const float* bias, float* y, float* keep) {
  FloatBuffer buffer(keep ? 1 : p.batch * p.out_h * p.out_w * p.out_c);
  float* z = keep ? keep : buffer.get();
  conv2d_f32_nhwc(p, x, kernel, bias, z);
  const Pool2dParams pp = pool_params(p, q);
  if (q.average) avg_pool2d_f32_nhwc(pp, z, y);
  else max_pool2d_f32_nhwc(pp, z, y);
}

// The indirect-GEMM convolution of one group, a band of pooled rows at a time (see the top).
void conv_pool_gemm(const Conv2dParams& p, const ConvPool& q, const float* x, const float* kernel,
                    const float* bias, float* y, float* keep) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t C = p.out_c, ph = p.out_h / q.pool_h, pw = p.out_w / q.pool_w;
  const ConvTaps taps = conv_taps(p);
  const size_t k_total = taps.ntaps * taps.kc, panels = div_up(C, nr);
  FloatBuffer packed(packed_b_floats(k_total, C, t.gemm_tile));
  pack_b(k_total, C, kernel, C, t.gemm_tile, packed.get());
  const std::vector<float> zeros(taps.kc, 0.0f);

  // A band: as many pooled rows as keep its strips within one cache-blocked igemm_block call
  // (its A blocks in L2), at least one.
  const size_t row_px = q.pool_h * p.out_w;   // convolution pixels per pooled row
  size_t band = igemm_block_strips(t, taps.kc, taps.ntaps) * mr / row_px;
  band = band < 1 ? 1 : (band > ph ? ph : band);
  const size_t bands = div_up(ph, band), tasks = p.batch * bands;
  const size_t band_px = band * row_px, strips = div_up(band_px, mr);
  const size_t ptrs_per_strip = taps.ntaps * mr, span_per_strip = taps.merged_rows ? mr * p.kh * taps.kc : 0;
  const int threads = threads_for(tasks, tasks * band_px * C * k_total / 64);
  const size_t ptrs_per_thread = ptrs_per_strip * strips + p.kh;
  std::vector<const float*> ptr_pool(ptrs_per_thread * threads);
  std::vector<float> span_pool(span_per_strip * strips * threads);
  FloatBuffer out_pool(keep ? 1 : band_px * C * threads);
  const pool_row_fn pool_row = q.average ? t.avgpool_row : t.maxpool_row;
  const PoolRowParams rp{C, p.out_w, pw, q.pool_w, q.pool_w, 0};

  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const size_t n = task / bands, r0 = (task % bands) * band;
    const size_t rows = ph - r0 < band ? ph - r0 : band;   // pooled rows of this band
    const size_t px = rows * row_px, m_start = (n * p.out_h + r0 * q.pool_h) * p.out_w;
    const size_t nstrips = div_up(px, mr);
    const float** ptrs = ptr_pool.data() + tid * ptrs_per_thread;
    const float** row_cache = ptrs + ptrs_per_strip * strips;
    float* span = span_pool.data() + tid * span_per_strip * strips;
    // the band's convolution output: scratch, or its place in keep
    float* z = keep ? keep + (n * p.out_h + r0 * q.pool_h) * p.out_w * C : out_pool.get() + tid * band_px * C;
    PixelCursor cursor;
    for (size_t s = 0; s < nstrips; ++s) {
      const size_t m0 = s * mr, len = px - m0 < mr ? px - m0 : mr;
      fill_pointers(p, taps, x, 0, zeros.data(), m_start + m0, len, ptrs + s * ptrs_per_strip,
                    span + s * span_per_strip, row_cache, cursor);
    }
    const IgemmProblem prob{C, taps.kc, taps.ntaps, packed.get(), bias, z, C, p.activation};
    igemm_block(t, prob, px, 0, nstrips, ptrs, 0, panels);
    const float* in[64];
    for (size_t r = 0; r < rows; ++r) {
      for (size_t j = 0; j < q.pool_h; ++j) in[j] = z + (r * q.pool_h + j) * p.out_w * C;
      pool_row(rp, in, q.pool_h, y + ((n * ph + r0 + r) * pw) * C);
    }
  });
}

}  // namespace

void conv2d_pool_f32_nhwc(const Conv2dParams& p, const ConvPool& q, const float* x, const float* kernel,
                          const float* bias, float* y, float* keep) {
  if (p.out_h / q.pool_h == 0 || p.out_w / q.pool_w == 0) {   // no whole window: no pooled output
    if (keep) conv2d_f32_nhwc(p, x, kernel, bias, keep);
    return;
  }
  if (conv2d_winograd_pools(p, q)) {
    conv2d_winograd_f32(p, x, kernel, bias, y, &q, keep);
  } else if (p.groups == 1 && !conv2d_uses_winograd(p) && q.pool_h <= 64 &&
             // kept: the bands must cover every row (they hold whole windows only)
             (keep == nullptr || p.out_h % q.pool_h == 0)) {
    conv_pool_gemm(p, q, x, kernel, bias, y, keep);
  } else {
    conv_then_pool(p, q, x, kernel, bias, y, keep);
  }
}

}  // namespace foveal
