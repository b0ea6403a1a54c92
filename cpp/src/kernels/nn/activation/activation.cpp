// Elementwise activation and softmax drivers: parallel over chunks / rows.
#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {

namespace {
constexpr size_t kChunk = 1 << 15;  // values per task
}  // namespace

void activation_f32(size_t n, const float* x, float* y, Activation act) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) { t.activation(len, x + i0, y + i0, act); });
}

void add_f32(size_t n, const float* a, const float* b, float* y, Activation act) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    const float* pa = a + i0;
    const float* pb = b + i0;
    float* py = y + i0;
    for (size_t i = 0; i < len; ++i) py[i] = pa[i] + pb[i];
    if (act != Activation::none) t.activation(len, py, py, act);
  });
}

void activation_backward_f32(size_t n, const float* dy, const float* src, float* dx, Activation act) {
  const KernelTable& t = kernels();
  parallel_for_chunks(n, kChunk, [&](size_t i0, size_t len) {
    t.activation_backward(len, dy + i0, src + i0, dx + i0, act);
  });
}

void softmax_f32(size_t rows, size_t cols, const float* x, float* y) {
  const KernelTable& t = kernels();
  const size_t rows_per_task = div_up(1 << 14, cols + 1);
  const size_t tasks = div_up(rows, rows_per_task);
  parallel_for(tasks, threads_for(tasks), [&](size_t i, int) {
    for (size_t r = i * rows_per_task; r < (i + 1) * rows_per_task && r < rows; ++r)
      t.softmax_row(cols, x + r * cols, y + r * cols);
  });
}

}  // namespace foveal
