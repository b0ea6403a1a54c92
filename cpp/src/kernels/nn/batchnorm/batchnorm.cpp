// Batch-normalization drivers: statistics in double, deterministic whatever the thread count;
// the per-channel maps in parallel over blocks of rows.
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

// Per-channel mean and biased variance of a rows x c matrix in one read of it: each chunk of
// 64 rows (in L1) is summed twice by the table's kernel, the second time about the chunk's own
// mean, giving its mean and sum of squared deviations; the chunks are merged in double by
// Chan's formula (M2 = sum M2_b + n_b (mean_b - mean)^2), in the order of fixed 1024-row
// blocks, so the result does not depend on the thread count. As accurate as two passes over
// the whole matrix, with one pass of memory traffic.
void column_moments(const KernelTable& t, size_t rows, size_t c, const float* x, double* mean,
                    double* m2) {
  const size_t blocks = div_up(rows, kBlockRows);
  std::vector<double> part(blocks * 2 * c, 0.0);
  std::vector<double> part_n(blocks, 0.0);
  const int nt = threads_for(blocks, rows * c);
  std::vector<float> scratch(static_cast<size_t>(nt) * 4 * c);
  parallel_for(blocks, nt, [&](size_t b, int tid) {
    float* sum = scratch.data() + static_cast<size_t>(tid) * 4 * c;
    float* shift = sum + c;
    float* dsum = shift + c;
    float* dsq = dsum + c;
    double* bm = part.data() + b * 2 * c;
    double* bq = bm + c;
    double bn = 0.0;
    const size_t r1 = std::min((b + 1) * kBlockRows, rows);
    for (size_t r = b * kBlockRows; r < r1; r += kChunkRows) {
      const size_t n = std::min(kChunkRows, r1 - r);
      const float* xr = x + r * c;
      t.channel_moments(n, c, xr, nullptr, sum, nullptr);
      for (size_t j = 0; j < c; ++j) shift[j] = sum[j] / static_cast<float>(n);
      t.channel_moments(n, c, xr, shift, dsum, dsq);
      const double nn = static_cast<double>(n), total = bn + nn;
      for (size_t j = 0; j < c; ++j) {   // the chunk (nn rows) merged into the block (bn rows)
        const double cm = shift[j] + dsum[j] / nn;
        const double cq = std::max(static_cast<double>(dsq[j]) - static_cast<double>(dsum[j]) * dsum[j] / nn, 0.0);
        const double delta = cm - bm[j];
        bm[j] += delta * nn / total;
        bq[j] += cq + delta * delta * bn * nn / total;
      }
      bn = total;
    }
    part_n[b] = bn;
  });
  double n_all = 0.0;
  std::fill(mean, mean + c, 0.0);
  std::fill(m2, m2 + c, 0.0);
  for (size_t b = 0; b < blocks; ++b) {
    const double nb = part_n[b], total = n_all + nb;
    if (nb == 0.0) continue;
    const double* bm = part.data() + b * 2 * c;
    const double* bq = bm + c;
    for (size_t j = 0; j < c; ++j) {
      const double delta = bm[j] - mean[j];
      mean[j] += delta * nb / total;
      m2[j] += bq[j] + delta * delta * n_all * nb / total;
    }
    n_all = total;
  }
}

}  // namespace

void batch_norm_train_f32(size_t rows, size_t c, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* xhat, float* mean,
                          float* var, float* inv_std, Activation activation) {
  const KernelTable& t = kernels();
  std::vector<double> s1(c), s2(c);
  column_moments(t, rows, c, x, s1.data(), s2.data());
  for (size_t j = 0; j < c; ++j) mean[j] = static_cast<float>(s1[j]);
  for (size_t j = 0; j < c; ++j) {
    var[j] = static_cast<float>(s2[j] / static_cast<double>(rows));
    inv_std[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j]) + epsilon));
  }
  const ChannelAffine p{mean, inv_std, gamma, beta, activation};
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.channel_affine(n, c, x + r0 * c, p, y + r0 * c, xhat ? xhat + r0 * c : nullptr);
  });
}

namespace {

// Batch normalization's backward in its two passes: sums(r0, n, sum_dz, sum_dz_xhat) gives the
// float sums of rows [r0, r0 + n) (added in double, deterministically), then
// input(r0, n, mean_dz, mean_dz_xhat, scale) writes those rows of dx.
template <class Sums, class Input>
void bn_backward_passes(size_t rows, size_t c, const float* gamma, const float* inv_std, Sums&& sums,
                        Input&& input, float* dgamma, float* dbeta) {
  std::vector<double> s1(c), s2(c);
  column_sums(rows, c, sums, s1.data(), s2.data());
  std::vector<float> mean_dz(c), mean_dzx(c), scale(c);
  const float m = static_cast<float>(rows);
  for (size_t j = 0; j < c; ++j) {
    dbeta[j] = static_cast<float>(s1[j]);
    dgamma[j] = static_cast<float>(s2[j]);
    mean_dz[j] = dbeta[j] / m;
    mean_dzx[j] = dgamma[j] / m;
    scale[j] = gamma[j] * inv_std[j];
  }
  over_rows(rows, c, [&](size_t r0, size_t n) { input(r0, n, mean_dz.data(), mean_dzx.data(), scale.data()); });
}

}  // namespace

void batch_norm_backward_f32(size_t rows, size_t c, const float* dy, const float* xhat,
                             const float* gamma, const float* inv_std, float* dx, float* dgamma,
                             float* dbeta) {
  const KernelTable& t = kernels();
  bn_backward_passes(
      rows, c, gamma, inv_std,
      [&](size_t r0, size_t n, float* a, float* b) { t.channel_dot(n, c, dy + r0 * c, xhat + r0 * c, a, b); },
      [&](size_t r0, size_t n, const float* md, const float* mdx, const float* sc) {
        t.bn_backward(n, c, dy + r0 * c, xhat + r0 * c, md, mdx, sc, dx + r0 * c);
      },
      dgamma, dbeta);
}

void batch_norm_backward_from_input_f32(size_t rows, size_t c, const float* dy, const float* x,
                                        const BnBackwardParams& p, float* dx, float* dgamma,
                                        float* dbeta) {
  const KernelTable& t = kernels();
  bn_backward_passes(
      rows, c, p.gamma, p.inv_std,
      [&](size_t r0, size_t n, float* a, float* b) { t.bn_grad_sums(n, c, dy + r0 * c, x + r0 * c, p, a, b); },
      [&](size_t r0, size_t n, const float* md, const float* mdx, const float* sc) {
        t.bn_grad_input(n, c, dy + r0 * c, x + r0 * c, p, md, mdx, sc, dx + r0 * c);
      },
      dgamma, dbeta);
}

void channel_affine_f32(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y) {
  const KernelTable& t = kernels();
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.channel_affine(n, c, x + r0 * c, p, y + r0 * c, nullptr);
  });
}

}  // namespace foveal
