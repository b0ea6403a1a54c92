// Row-wise drivers (depthwise convolution, pooling): one task per output row, handed the input
// rows its sliding window reads.
#pragma once

#include <cstddef>
#include <vector>

#include "foveal/parallel.h"

namespace foveal {

struct WindowGeometry {
  size_t batch, in_h, row_floats;  // row_floats: floats in one input row (in_w * channels)
  size_t out_h, kh, stride_h, dilation_h, pad_top;
};

// For every output row (task = n*out_h + oh), in parallel, calls f(task, rows, nrows, r0): kernel
// rows [r0, r0 + nrows) read input rows inside the image, whose pointers are rows[0..nrows);
// nrows == 0 (r0 == 0) when the whole window lies in the padding.
template <class F>
void for_each_window_row(const WindowGeometry& g, const float* x, F&& f) {
  const size_t tasks = g.batch * g.out_h;
  const int threads = threads_for(tasks, tasks * g.row_floats * g.kh);
  std::vector<const float*> row_pool(g.kh * threads);
  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const size_t n = task / g.out_h, oh = task % g.out_h;
    const float** rows = row_pool.data() + tid * g.kh;
    const float* image = x + n * g.in_h * g.row_floats;
    const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * g.stride_h) - static_cast<ptrdiff_t>(g.pad_top);
    size_t nrows = 0, r0 = 0;
    for (size_t r = 0; r < g.kh; ++r) {
      const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(r * g.dilation_h);
      if (ih < 0 || ih >= static_cast<ptrdiff_t>(g.in_h)) continue;
      if (nrows == 0) r0 = r;
      rows[nrows++] = image + static_cast<size_t>(ih) * g.row_floats;
    }
    f(task, rows, nrows, r0);
  });
}

}  // namespace foveal
