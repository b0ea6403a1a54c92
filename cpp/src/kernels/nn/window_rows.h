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
// The window rows [r_lo, r_hi) that land inside the image, for a window starting at input row
// ih0 (may be negative) with kh rows spaced by dilation: computed, not searched, so a window of
// 2**30 rows (a legal pool_size) over a small image costs nothing.
inline void window_rows_inside(ptrdiff_t ih0, size_t kh, size_t dilation, size_t in_h, size_t* r_lo,
                               size_t* r_hi) {
  const ptrdiff_t d = static_cast<ptrdiff_t>(dilation);
  const ptrdiff_t last = static_cast<ptrdiff_t>(in_h) - 1 - ih0;  // ih0 + r*d <= in_h - 1
  size_t lo = ih0 < 0 ? static_cast<size_t>((-ih0 + d - 1) / d) : 0;
  size_t hi = last < 0 ? 0 : static_cast<size_t>(last / d) + 1;
  if (hi > kh) hi = kh;
  if (lo > hi) lo = hi;
  *r_lo = lo;
  *r_hi = hi;
}

// The input rows output row `task` (= n*out_h + oh) reads: their pointers into rows[] (at most
// min(kh, in_h) of them), their count returned, and the first kernel row that reads one in *r0
// (0 when none does).
inline size_t window_row_pointers(const WindowGeometry& g, const float* x, size_t task, const float** rows,
                                  size_t* r0) {
  const size_t n = task / g.out_h, oh = task % g.out_h;
  const float* image = x + n * g.in_h * g.row_floats;
  const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * g.stride_h) - static_cast<ptrdiff_t>(g.pad_top);
  size_t r_lo, r_hi;
  window_rows_inside(ih0, g.kh, g.dilation_h, g.in_h, &r_lo, &r_hi);
  size_t nrows = 0;
  for (size_t r = r_lo; r < r_hi; ++r)
    rows[nrows++] = image + static_cast<size_t>(ih0 + static_cast<ptrdiff_t>(r * g.dilation_h)) * g.row_floats;
  *r0 = nrows ? r_lo : 0;
  return nrows;
}

template <class F>
void for_each_window_row(const WindowGeometry& g, const float* x, F&& f) {
  const size_t tasks = g.batch * g.out_h;
  const size_t max_rows = g.kh < g.in_h ? g.kh : g.in_h;  // rows of one window inside the image
  const int threads = threads_for(tasks, tasks * g.row_floats * max_rows);
  std::vector<const float*> row_pool(max_rows * threads);
  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const float** rows = row_pool.data() + tid * max_rows;
    size_t r0;
    const size_t nrows = window_row_pointers(g, x, task, rows, &r0);
    f(task, rows, nrows, r0);
  });
}

}  // namespace foveal
