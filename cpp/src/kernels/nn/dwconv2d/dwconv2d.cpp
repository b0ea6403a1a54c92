// Depthwise convolution driver: one task per output row; the row kernel vectorizes channels.
#include "kernels/nn/dwconv2d/dwconv2d.h"

#include "foveal/dispatch.h"
#include "kernels/nn/window_rows.h"

namespace foveal {

void depthwise_conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                               const float* bias, float* y) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c;
  const DwConvRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.dilation_w, p.pad_left,
                           p.activation};
  const WindowGeometry g{p.batch, p.in_h, p.in_w * C, p.out_h, p.kh, p.stride_h, p.dilation_h, p.pad_top};
  for_each_window_row(g, x, [&](size_t task, const float* const* rows, size_t nrows, size_t r0) {
    float* out = y + task * p.out_w * C;
    t.dwconv_row(rp, rows, nrows, kernel + r0 * p.kw * C, bias, out);
    if (p.activation != Activation::none && p.activation != Activation::relu)
      t.activation(p.out_w * C, out, out, p.activation);
  });
}

}  // namespace foveal
