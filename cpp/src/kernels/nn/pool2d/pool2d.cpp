// Pooling drivers: one task per output row (window pooling), per image and channel block
// (global pooling). Only input rows inside the image are handed to the row kernels.
#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/common/streaming.h"
#include "kernels/nn/window_rows.h"

namespace foveal {
namespace {

void pool2d(const Pool2dParams& p, const float* x, float* y, pool_row_fn row_kernel) {
  const size_t C = p.channels;
  const bool stream = stream_output(p.batch * p.in_h * p.in_w * C * sizeof(float),
                                    p.batch * p.out_h * p.out_w * C * sizeof(float));
  const PoolRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.pad_left, false, false, stream};
  const WindowGeometry g{p.batch, p.in_h, p.in_w * C, p.out_h, p.kh, p.stride_h, 1, p.pad_top};
  for_each_window_row(g, x, [&](size_t task, const float* const* rows, size_t nrows, size_t) {
    row_kernel(rp, rows, nrows, y + task * p.out_w * C);
  });
}

void global_pool(size_t batch, size_t hw, size_t C, const float* x, float* y, global_pool_fn fn) {
  // Split channels into blocks of 64 when the batch alone cannot keep the threads busy.
  const size_t nt = static_cast<size_t>(get_num_threads());
  const size_t blocks_wanted = batch >= nt ? 1 : div_up(2 * nt, batch);
  const size_t cb = div_up(div_up(C, blocks_wanted), 64) * 64;
  const size_t cblocks = div_up(C, cb);
  const size_t tasks = batch * cblocks;
  parallel_for(tasks, threads_for(tasks), [&](size_t task, int) {
    const size_t n = task / cblocks, c0 = (task % cblocks) * cb;
    const size_t cn = C - c0 < cb ? C - c0 : cb;
    fn(hw, cn, C, x + n * hw * C + c0, y + n * C + c0);
  });
}

}  // namespace

void max_pool2d_f32_nhwc(const Pool2dParams& p, const float* x, float* y) {
  pool2d(p, x, y, kernels().maxpool_row);
}
void avg_pool2d_f32_nhwc(const Pool2dParams& p, const float* x, float* y) {
  pool2d(p, x, y, kernels().avgpool_row);
}
void global_max_pool2d_f32(size_t batch, size_t hw, size_t channels, const float* x, float* y) {
  global_pool(batch, hw, channels, x, y, kernels().global_maxpool);
}
void global_avg_pool2d_f32(size_t batch, size_t hw, size_t channels, const float* x, float* y) {
  global_pool(batch, hw, channels, x, y, kernels().global_avgpool);
}

}  // namespace foveal
