// Pooling backward: each output cell's gradient goes back to the input cells of its window —
// all of it to the window's first maximum (row-major order; padded cells never win, as in the
// forward pass) for max pooling, an equal share to each cell inside the image for average
// pooling (Keras's divisor). Windows may overlap, so the work is split over images.
#include <algorithm>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/window_rows.h"

namespace foveal {
namespace {

// Which of n input positions some window covers (windows of k from i * stride - pad, i < out).
std::vector<char> covered(size_t n, size_t out, size_t k, size_t stride, size_t pad) {
  std::vector<char> c(n, 0);
  for (size_t i = 0; i < out; ++i) {
    size_t lo, hi;
    window_rows_inside(static_cast<ptrdiff_t>(i * stride) - static_cast<ptrdiff_t>(pad), k, 1, n, &lo, &hi);
    const size_t at = i * stride - std::min(i * stride, pad);  // the window's first cell inside
    for (size_t j = lo; j < hi; ++j) c[at + (j - lo)] = 1;
  }
  return c;
}

// Both window poolings: per image (windows of neighbouring rows may overlap), dx zeroed, then
// per output row the input rows inside the image and their dx rows go to the row kernel (which
// clips the columns). Where no two windows overlap, the row kernel stores each covered cell and
// only the cells no window covers are zeroed.
void pool2d_backward(const Pool2dParams& p, const float* x, const float* dy, float* dx,
                     pool_backward_row_fn row_kernel, bool through_relu) {
  const size_t C = p.channels, row = p.in_w * C, in_img = p.in_h * row, out_row = p.out_w * C;
  const bool overwrite = p.stride_h >= p.kh && p.stride_w >= p.kw;
  const PoolRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.pad_left, through_relu, overwrite};
  std::vector<char> rows_covered, cols_covered;
  if (overwrite) {
    rows_covered = covered(p.in_h, p.out_h, p.kh, p.stride_h, p.pad_top);
    cols_covered = covered(p.in_w, p.out_w, p.kw, p.stride_w, p.pad_left);
  }
  parallel_for(p.batch, threads_for(p.batch, p.batch * in_img * 2), [&](size_t n, int) {
    if (!overwrite) {
      std::memset(dx + n * in_img, 0, in_img * sizeof(float));
    } else {
      for (size_t r = 0; r < p.in_h; ++r) {
        float* d = dx + n * in_img + r * row;
        if (!rows_covered[r]) std::memset(d, 0, row * sizeof(float));
        else
          for (size_t w = 0; w < p.in_w; ++w)
            if (!cols_covered[w]) std::memset(d + w * C, 0, C * sizeof(float));
      }
    }
    const size_t max_rows = p.kh < p.in_h ? p.kh : p.in_h;  // a window's rows inside the image
    std::vector<const float*> rows(max_rows);
    std::vector<float*> drows(max_rows);
    for (size_t oh = 0; oh < p.out_h; ++oh) {
      const ptrdiff_t start = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
      size_t k_lo, k_hi, nrows = 0;
      window_rows_inside(start, p.kh, 1, p.in_h, &k_lo, &k_hi);
      for (size_t k = k_lo; k < k_hi; ++k) {
        const size_t r = static_cast<size_t>(start + static_cast<ptrdiff_t>(k));
        rows[nrows] = x + n * in_img + r * row;
        drows[nrows++] = dx + n * in_img + r * row;
      }
      row_kernel(rp, rows.data(), drows.data(), nrows, dy + (n * p.out_h + oh) * out_row);
    }
  });
}

}  // namespace

void max_pool2d_backward_f32_nhwc(const Pool2dParams& p, const float* x, const float* dy, float* dx,
                                  bool through_relu) {
  pool2d_backward(p, x, dy, dx, kernels().maxpool_backward_row, through_relu);
}

void avg_pool2d_backward_f32_nhwc(const Pool2dParams& p, const float* dy, float* dx) {
  pool2d_backward(p, dx, dy, dx, kernels().avgpool_backward_row, false);  // average reads no x
}

void global_max_pool2d_backward_f32(size_t batch, size_t hw, size_t channels, const float* x,
                                    const float* dy, float* dx) {
  parallel_for(batch, threads_for(batch, batch * hw * channels * 2), [&](size_t n, int) {
    const float* xi = x + n * hw * channels;
    float* dxi = dx + n * hw * channels;
    std::memset(dxi, 0, hw * channels * sizeof(float));
    std::vector<float> best(xi, xi + channels);
    std::vector<size_t> where(channels);
    for (size_t c = 0; c < channels; ++c) where[c] = c;
    for (size_t i = 1; i < hw; ++i) {
      const float* v = xi + i * channels;
      for (size_t c = 0; c < channels; ++c)
        if (v[c] > best[c]) { best[c] = v[c]; where[c] = i * channels + c; }
    }
    for (size_t c = 0; c < channels; ++c) dxi[where[c]] = dy[n * channels + c];
  });
}

void global_avg_pool2d_backward_f32(size_t batch, size_t hw, size_t channels, const float* dy,
                                    float* dx) {
  const float share = 1.0f / static_cast<float>(hw);
  parallel_for(batch, threads_for(batch, batch * hw * channels), [&](size_t n, int) {
    float* dxi = dx + n * hw * channels;
    const float* g = dy + n * channels;
    for (size_t i = 0; i < hw; ++i)
      for (size_t c = 0; c < channels; ++c) dxi[i * channels + c] = g[c] * share;
  });
}

}  // namespace foveal
