// Depthwise convolution driver: one task per output row; the row kernel vectorizes channels.
#include "kernels/dwconv2d/dwconv2d.h"

#include <vector>

#include "foveal/dispatch.h"
#include "foveal/parallel.h"

namespace foveal {

void depthwise_conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                               const float* bias, float* y) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c;
  const DwConvRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.dilation_w, p.pad_left,
                           p.activation};
  const size_t tasks = p.batch * p.out_h;
  const int threads = threads_for(tasks);
  std::vector<const float*> row_pool(p.kh * threads);
  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const size_t n = task / p.out_h, oh = task % p.out_h;
    const float** rows = row_pool.data() + tid * p.kh;
    const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
    // The kernel rows inside the image form one range [r0, r0 + nrows).
    size_t r0 = p.kh, nrows = 0;
    for (size_t r = 0; r < p.kh; ++r) {
      const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(r * p.dilation_h);
      if (ih < 0 || ih >= static_cast<ptrdiff_t>(p.in_h)) continue;
      if (nrows == 0) r0 = r;
      rows[nrows++] = x + (n * p.in_h + static_cast<size_t>(ih)) * p.in_w * C;
    }
    float* out = y + task * p.out_w * C;
    t.dwconv_row(rp, rows, nrows, kernel + (nrows ? r0 : 0) * p.kw * C, bias, out);
    if (p.activation == Activation::sigmoid || p.activation == Activation::tanh)
      t.activation(p.out_w * C, out, out, p.activation);
  });
}

}  // namespace foveal
