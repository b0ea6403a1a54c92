// Training drivers: batch normalization (statistics in double, deterministic whatever the thread
// count), dropout, softmax cross-entropy and the optimizer steps, parallel over rows or chunks.
#include <algorithm>
#include <cmath>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"

namespace foveal {
namespace {

constexpr size_t kChunkRows = 64;    // rows a kernel call sums in float
constexpr size_t kBlockRows = 1024;  // rows per task; the tasks' double sums are added in order
constexpr size_t kChunk = 1 << 15;   // elements per task of an elementwise kernel

// Two column sums over all rows, in double: `chunk(r0, n, s1, s2)` writes the float sums of rows
// [r0, r0 + n) (at most 64 of them); they are added up in double per 1024-row block, and the
// blocks in order, so the result does not depend on the thread count.
template <class Chunk>
void column_sums(size_t rows, size_t c, Chunk&& chunk, double* s1, double* s2) {
  const size_t blocks = div_up(rows, kBlockRows);
  std::vector<double> part(blocks * 2 * c, 0.0);
  const int nt = threads_for(blocks, rows * c);
  std::vector<float> scratch(static_cast<size_t>(nt) * 2 * c);
  parallel_for(blocks, nt, [&](size_t b, int tid) {
    float* f = scratch.data() + static_cast<size_t>(tid) * 2 * c;
    double* d = part.data() + b * 2 * c;
    const size_t r1 = std::min((b + 1) * kBlockRows, rows);
    for (size_t r = b * kBlockRows; r < r1; r += kChunkRows) {
      chunk(r, std::min(kChunkRows, r1 - r), f, f + c);
      for (size_t j = 0; j < 2 * c; ++j) d[j] += f[j];
    }
  });
  std::fill(s1, s1 + c, 0.0);
  std::fill(s2, s2 + c, 0.0);
  for (size_t b = 0; b < blocks; ++b)
    for (size_t j = 0; j < c; ++j) {
      s1[j] += part[b * 2 * c + j];
      s2[j] += part[b * 2 * c + c + j];
    }
}

// f(r0, n) over tasks of about 16K values.
template <class F>
void over_rows(size_t rows, size_t c, F&& f) {
  const size_t per = std::max<size_t>(1, (size_t{1} << 14) / std::max<size_t>(c, 1));
  const size_t tasks = div_up(rows, per);
  parallel_for(tasks, threads_for(tasks, rows * c), [&](size_t i, int) {
    const size_t r0 = i * per;
    f(r0, std::min(per, rows - r0));
  });
}

// f(i0, n) over chunks of an n-element array.
template <class F>
void over_chunks(size_t n, F&& f) {
  const size_t tasks = div_up(n, kChunk);
  parallel_for(tasks, threads_for(tasks, n), [&](size_t i, int) {
    const size_t i0 = i * kChunk;
    f(i0, std::min(kChunk, n - i0));
  });
}

}  // namespace

void batch_norm_train_f32(size_t rows, size_t c, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* xhat, float* mean,
                          float* var, float* inv_std) {
  const KernelTable& t = kernels();
  std::vector<double> s1(c), s2(c);
  column_sums(rows, c, [&](size_t r0, size_t n, float* a, float* b) {
    t.channel_moments(n, c, x + r0 * c, nullptr, a, b);
  }, s1.data(), s2.data());
  for (size_t j = 0; j < c; ++j) mean[j] = static_cast<float>(s1[j] / static_cast<double>(rows));
  column_sums(rows, c, [&](size_t r0, size_t n, float* a, float* b) {
    t.channel_moments(n, c, x + r0 * c, mean, a, b);
  }, s1.data(), s2.data());
  for (size_t j = 0; j < c; ++j) {
    var[j] = static_cast<float>(s2[j] / static_cast<double>(rows));
    inv_std[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j]) + epsilon));
  }
  const ChannelAffine p{mean, inv_std, gamma, beta};
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.channel_affine(n, c, x + r0 * c, p, y + r0 * c, xhat + r0 * c);
  });
}

void batch_norm_backward_f32(size_t rows, size_t c, const float* dy, const float* xhat,
                             const float* gamma, const float* inv_std, float* dx, float* dgamma,
                             float* dbeta) {
  const KernelTable& t = kernels();
  std::vector<double> s1(c), s2(c);
  column_sums(rows, c, [&](size_t r0, size_t n, float* a, float* b) {
    t.channel_dot(n, c, dy + r0 * c, xhat + r0 * c, a, b);
  }, s1.data(), s2.data());
  std::vector<float> mean_dy(c), mean_dyx(c), scale(c);
  const float m = static_cast<float>(rows);
  for (size_t j = 0; j < c; ++j) {
    dbeta[j] = static_cast<float>(s1[j]);
    dgamma[j] = static_cast<float>(s2[j]);
    mean_dy[j] = dbeta[j] / m;
    mean_dyx[j] = dgamma[j] / m;
    scale[j] = gamma[j] * inv_std[j];
  }
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.bn_backward(n, c, dy + r0 * c, xhat + r0 * c, mean_dy.data(), mean_dyx.data(), scale.data(),
                  dx + r0 * c);
  });
}

void channel_affine_f32(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y) {
  const KernelTable& t = kernels();
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.channel_affine(n, c, x + r0 * c, p, y + r0 * c, nullptr);
  });
}

void dropout_f32(size_t n, const float* x, float* y, float* mask, uint64_t key, float keep) {
  const KernelTable& t = kernels();
  const int32_t threshold = static_cast<int32_t>(std::llround(static_cast<double>(keep) * 16777216.0));
  const float scale = 1.0f / keep;
  over_chunks(n, [&](size_t i0, size_t len) {
    // Chunks never straddle a multiple of 2^32, so the index's high word goes into the key.
    const uint32_t hi = static_cast<uint32_t>(static_cast<uint64_t>(i0) >> 32);
    const DropoutParams p{static_cast<uint32_t>(key) + hi * 0x632BE5ABu,
                          static_cast<uint32_t>(key >> 32), static_cast<uint32_t>(i0), threshold, scale};
    t.dropout(len, x + i0, y + i0, mask + i0, p);
  });
}

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

void sgd_step_f32(size_t n, float* w, const float* g, float* m, const SgdParams& p) {
  const KernelTable& t = kernels();
  over_chunks(n, [&](size_t i0, size_t len) {
    t.sgd_step(len, w + i0, g + i0, m ? m + i0 : nullptr, p);
  });
}

void adam_step_f32(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p) {
  const KernelTable& t = kernels();
  over_chunks(n, [&](size_t i0, size_t len) { t.adam_step(len, w + i0, g + i0, m + i0, v + i0, p); });
}

void rmsprop_step_f32(size_t n, float* w, const float* g, float* v, float* m, float* a,
                      const RmspropParams& p) {
  const KernelTable& t = kernels();
  over_chunks(n, [&](size_t i0, size_t len) {
    t.rmsprop_step(len, w + i0, g + i0, v + i0, m ? m + i0 : nullptr, a ? a + i0 : nullptr, p);
  });
}

}  // namespace foveal
