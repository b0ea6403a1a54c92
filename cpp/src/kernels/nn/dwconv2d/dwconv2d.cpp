// Depthwise convolution driver: one task per output row; the row kernel vectorizes channels.
#include "kernels/nn/dwconv2d/dwconv2d.h"

#include "foveal/dispatch.h"
#include "kernels/common/streaming.h"
#include "kernels/nn/batchnorm/moments.h"
#include "kernels/nn/window_rows.h"

#include <algorithm>
#include <numeric>
#include <vector>

namespace foveal {

void depthwise_conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                               const float* bias, float* y) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c;
  const bool stream = stream_output(p.batch * p.in_h * p.in_w * C * sizeof(float),
                                    p.batch * p.out_h * p.out_w * C * sizeof(float));
  const DwConvRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.dilation_w, p.pad_left,
                           p.activation, stream};
  const WindowGeometry g{p.batch, p.in_h, p.in_w * C, p.out_h, p.kh, p.stride_h, p.dilation_h, p.pad_top};
  for_each_window_row(g, x, [&](size_t task, const float* const* rows, size_t nrows, size_t r0) {
    float* out = y + task * p.out_w * C;
    t.dwconv_row(rp, rows, nrows, kernel + r0 * p.kw * C, bias, out);
    if (!dw_row_fuses(p.activation))
      t.activation(p.out_w * C, out, out, p.activation);
  });
}

void depthwise_conv2d_moments_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                                       const float* bias, float* y, double* mean, double* m2) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c, rows = p.batch * p.out_h, m = rows * p.out_w;
  const DwConvRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.dilation_w, p.pad_left,
                           Activation::none};
  const WindowGeometry g{p.batch, p.in_h, p.in_w * C, p.out_h, p.kh, p.stride_h, p.dilation_h, p.pad_top};
  // Bands of output rows (of every image in turn) that are whole chunks of kMomentChunk pixels
  // long, so that each band gathers the moments of its chunks right after writing them.
  const size_t unit = kMomentChunk / std::gcd(kMomentChunk, p.out_w);   // rows per whole chunks
  const size_t band = unit * div_up(8, unit);         // about 8 rows or more per task
  const size_t bands = div_up(rows, band);
  std::vector<double> cm(div_up(m, kMomentChunk) * C), cq(cm.size());
  const size_t max_rows = p.kh < p.in_h ? p.kh : p.in_h;
  const int threads = threads_for(bands, m * C * p.kh * p.kw);
  std::vector<const float*> row_pool(max_rows * static_cast<size_t>(threads));
  std::vector<float> scratch(4 * C * static_cast<size_t>(threads));
  parallel_for(bands, threads, [&](size_t b, int tid) {
    const float** in_rows = row_pool.data() + static_cast<size_t>(tid) * max_rows;
    const size_t r0 = b * band, r1 = r0 + band < rows ? r0 + band : rows;
    for (size_t row = r0; row < r1; ++row) {
      size_t k0;
      const size_t nrows = window_row_pointers(g, x, row, in_rows, &k0);
      t.dwconv_row(rp, in_rows, nrows, kernel + k0 * p.kw * C, bias, y + row * p.out_w * C);
    }
    const size_t k0 = r0 * p.out_w / kMomentChunk;
    chunk_moments(t, (r1 - r0) * p.out_w, C, y + r0 * p.out_w * C,
                  scratch.data() + static_cast<size_t>(tid) * 4 * C, cm.data() + k0 * C, cq.data() + k0 * C);
  });
  merge_chunk_moments(m, C, cm.data(), cq.data(), mean, m2);
}

}  // namespace foveal
