// Pooling drivers: one task per output row (window pooling), per image and channel block
// (global pooling). Only input rows inside the image are handed to the row kernels.
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {

void pool2d(const Pool2dParams& p, const float* x, float* y, pool_row_fn row_kernel) {
  const size_t C = p.channels;
  const PoolRowParams rp{C, p.in_w, p.out_w, p.kw, p.stride_w, p.pad_left};
  const size_t tasks = p.batch * p.out_h;
  const int threads = threads_for(tasks);
  std::vector<const float*> row_pool(p.kh * threads);
  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const size_t n = task / p.out_h, oh = task % p.out_h;
    const float** rows = row_pool.data() + tid * p.kh;
    const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
    size_t nrows = 0;
    for (size_t r = 0; r < p.kh; ++r) {
      const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(r);
      if (ih >= 0 && ih < static_cast<ptrdiff_t>(p.in_h))
        rows[nrows++] = x + (n * p.in_h + static_cast<size_t>(ih)) * p.in_w * C;
    }
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
