// Loss drivers: softmax cross-entropy per row and its gradient, parallel over blocks of rows.
#include <algorithm>
#include <cmath>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {

void softmax_cross_entropy_f32(size_t rows, size_t c, const float* p, const float* y,
                               bool from_logits, float epsilon, float* values, float* grad,
                               uint8_t* clipped) {
  const KernelTable& t = kernels();
  const float inv_n = static_cast<float>(1.0 / static_cast<double>(rows));
  const double eps = epsilon, one_minus = 1.0 - static_cast<double>(epsilon);
  const size_t per = std::max<size_t>(1, (size_t{1} << 12) / std::max<size_t>(c, 1));
  const size_t tasks = div_up(rows, per);
  parallel_for(tasks, threads_for(tasks, rows * c * 8), [&](size_t task, int) {
    for (size_t r = task * per; r < std::min(rows, (task + 1) * per); ++r) {
      const float* pr = p + r * c;
      const float* yr = y + r * c;
      float* gr = grad + r * c;
      float mass = 0.0f;
      for (size_t j = 0; j < c; ++j) mass += yr[j];
      double v = 0.0;
      bool clip = false;
      if (from_logits) {
        float mx = pr[0];
        for (size_t j = 1; j < c; ++j) mx = pr[j] > mx ? pr[j] : mx;
        double s = 0.0;
        for (size_t j = 0; j < c; ++j) s += std::exp(static_cast<double>(pr[j] - mx));
        const double log_sum = std::log(s);
        for (size_t j = 0; j < c; ++j) v -= yr[j] * (static_cast<double>(pr[j] - mx) - log_sum);
        t.softmax_row(c, pr, gr);  // the softmax, then the gradient in place
        for (size_t j = 0; j < c; ++j) gr[j] = (gr[j] * mass - yr[j]) * inv_n;
      } else {
        double total = 0.0;
        for (size_t j = 0; j < c; ++j) total += pr[j];
        for (size_t j = 0; j < c; ++j) {
          const double q = pr[j] / total;
          const bool inside = q >= eps && q <= one_minus;
          clip = clip || (!inside && yr[j] != 0.0f);
          v -= yr[j] * std::log(std::min(std::max(q, eps), one_minus));
          gr[j] = (pr[j] * mass - yr[j]) * inv_n;
        }
      }
      values[r] = static_cast<float>(v);
      if (clipped) clipped[r] = clip ? 1 : 0;
    }
  });
}

}  // namespace foveal
