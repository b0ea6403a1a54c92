// Batch-normalization drivers: statistics in double, deterministic whatever the thread count;
// the per-channel maps in parallel over blocks of rows.
#include <algorithm>
#include <cmath>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/batchnorm/moments.h"

namespace foveal {
namespace {

constexpr size_t kChunkRows = 64;    // rows a kernel call sums in float
constexpr size_t kBlockRows = 1024;  // rows per task; the tasks' double sums are added in order

// One or two column sums over all rows, in double: `chunk(r0, n, s1, s2)` writes the float sums
// of rows [r0, r0 + n) (at most 64 of them; with s2 nullptr, the first sums only, and chunk gets
// a null s2 too); they are added up in double per 1024-row block, and the blocks in order, so
// the result does not depend on the thread count.
template <class Chunk>
void column_sums(size_t rows, size_t c, Chunk&& chunk, double* s1, double* s2) {
  const size_t w = s2 ? 2 * c : c;   // sums per block
  const size_t blocks = div_up(rows, kBlockRows);
  std::vector<double> part(blocks * w, 0.0);
  const int nt = threads_for(blocks, rows * c);
  std::vector<float> scratch(static_cast<size_t>(nt) * w);
  parallel_for(blocks, nt, [&](size_t b, int tid) {
    float* f = scratch.data() + static_cast<size_t>(tid) * w;
    double* d = part.data() + b * w;
    const size_t r1 = std::min((b + 1) * kBlockRows, rows);
    for (size_t r = b * kBlockRows; r < r1; r += kChunkRows) {
      chunk(r, std::min(kChunkRows, r1 - r), f, s2 ? f + c : nullptr);
      for (size_t j = 0; j < w; ++j) d[j] += f[j];
    }
  });
  std::fill(s1, s1 + c, 0.0);
  if (s2) std::fill(s2, s2 + c, 0.0);
  for (size_t b = 0; b < blocks; ++b)
    for (size_t j = 0; j < c; ++j) {
      s1[j] += part[b * w + j];
      if (s2) s2[j] += part[b * w + c + j];
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

}  // namespace

void column_sum_f32(size_t rows, size_t c, const float* x, double* sum) {
  const KernelTable& t = kernels();
  column_sums(
      rows, c, [&](size_t r0, size_t n, float* s, float*) { t.channel_moments(n, c, x + r0 * c, nullptr, s, nullptr); },
      sum, nullptr);
}

void chunk_moments(const KernelTable& t, size_t rows, size_t c, const float* x, float* scratch,
                   double* cm, double* cq) {
  float* sum = scratch;
  float* shift = sum + c;
  float* dsum = shift + c;
  float* dsq = dsum + c;
  for (size_t r = 0, k = 0; r < rows; r += kChunkRows, ++k) {
    const size_t n = std::min(kChunkRows, rows - r);
    const float* xr = x + r * c;
    t.channel_moments(n, c, xr, nullptr, sum, nullptr);
    const float inv_f = 1.0f / static_cast<float>(n);
    for (size_t j = 0; j < c; ++j) shift[j] = sum[j] * inv_f;
    t.channel_moments(n, c, xr, shift, dsum, dsq);
    const double inv = 1.0 / static_cast<double>(n);
    double* km = cm + k * c;
    double* kq = cq + k * c;
    for (size_t j = 0; j < c; ++j) {   // about the chunk's own mean: no cancellation to speak of
      const double ds = dsum[j];
      km[j] = shift[j] + ds * inv;
      kq[j] = std::max(static_cast<double>(dsq[j]) - ds * ds * inv, 0.0);
    }
  }
}

void merge_chunk_moments(size_t rows, size_t c, const double* cm, const double* cq, double* mean,
                         double* m2) {
  static_assert(kMomentChunk == kChunkRows && kMomentBlock == kBlockRows, "one decomposition");
  std::vector<double> bm(c), bq(c);
  std::fill(mean, mean + c, 0.0);
  std::fill(m2, m2 + c, 0.0);
  double n_all = 0.0;
  for (size_t b0 = 0; b0 < rows; b0 += kBlockRows) {
    const size_t b1 = std::min(b0 + kBlockRows, rows);
    std::fill(bm.begin(), bm.end(), 0.0);
    std::fill(bq.begin(), bq.end(), 0.0);
    double bn = 0.0;
    for (size_t r = b0; r < b1; r += kChunkRows) {   // the block's chunks, in order
      const size_t k = r / kChunkRows;
      const double nn = static_cast<double>(std::min(kChunkRows, b1 - r));
      merge_moments(c, bn, bm.data(), bq.data(), nn, cm + k * c, cq + k * c);
      bn += nn;
    }
    merge_moments(c, n_all, mean, m2, bn, bm.data(), bq.data());   // then the blocks, in order
    n_all += bn;
  }
}

void merge_moments(size_t c, double n_a, double* mean_a, double* m2_a, double n_b,
                   const double* mean_b, const double* m2_b) {
  if (n_b == 0.0) return;
  const double total = n_a + n_b, w = n_b / total, w2 = n_a * n_b / total;
  for (size_t j = 0; j < c; ++j) {
    const double delta = mean_b[j] - mean_a[j];
    mean_a[j] += delta * w;
    m2_a[j] += m2_b[j] + delta * delta * w2;
  }
}

namespace {

// Per-channel mean and biased variance of a rows x c matrix in one read of it: each chunk of
// 64 rows (in L1) is summed twice by the table's kernel, the second time about the chunk's own
// mean, giving its mean and sum of squared deviations (chunk_moments, on the threads by blocks
// of 1024 rows); the chunks are merged in double by Chan's formula (M2 = sum M2_b + n_b (mean_b
// - mean)^2) within each block, then the blocks, in order (merge_chunk_moments), so the result
// does not depend on the thread count. As accurate as two passes over the whole matrix, with
// one pass of memory traffic; the convolutions that gather a batch normalization's statistics
// (conv2d_moments_f32_nhwc) use the same chunks and merges, so they give the same bits.
void column_moments(const KernelTable& t, size_t rows, size_t c, const float* x, double* mean,
                    double* m2) {
  const size_t blocks = div_up(rows, kBlockRows), chunks = div_up(rows, kChunkRows);
  constexpr size_t kBlockChunks = kBlockRows / kChunkRows;
  std::vector<double> cm(chunks * c), cq(chunks * c);
  const int nt = threads_for(blocks, rows * c);
  std::vector<float> scratch(static_cast<size_t>(nt) * 4 * c);
  parallel_for(blocks, nt, [&](size_t b, int tid) {
    const size_t r0 = b * kBlockRows, r1 = std::min(r0 + kBlockRows, rows);
    chunk_moments(t, r1 - r0, c, x + r0 * c, scratch.data() + static_cast<size_t>(tid) * 4 * c,
                  cm.data() + b * kBlockChunks * c, cq.data() + b * kBlockChunks * c);
  });
  merge_chunk_moments(rows, c, cm.data(), cq.data(), mean, m2);
}

}  // namespace

void batch_norm_train_from_moments_f32(size_t rows, size_t c, const float* x, const double* moments_mean,
                                       const double* moments_m2, const float* gamma, const float* beta,
                                       float epsilon, float* y, float* xhat, float* mean, float* var,
                                       float* inv_std, Activation activation) {
  const KernelTable& t = kernels();
  for (size_t j = 0; j < c; ++j) mean[j] = static_cast<float>(moments_mean[j]);
  for (size_t j = 0; j < c; ++j) {
    var[j] = static_cast<float>(moments_m2[j] / static_cast<double>(rows));
    inv_std[j] = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var[j]) + epsilon));
  }
  const ChannelAffine p{mean, inv_std, gamma, beta, activation};
  over_rows(rows, c, [&](size_t r0, size_t n) {
    t.channel_affine(n, c, x + r0 * c, p, y + r0 * c, xhat ? xhat + r0 * c : nullptr);
  });
}

void batch_norm_train_f32(size_t rows, size_t c, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* xhat, float* mean,
                          float* var, float* inv_std, Activation activation) {
  std::vector<double> s1(c), s2(c);
  column_moments(kernels(), rows, c, x, s1.data(), s2.data());
  batch_norm_train_from_moments_f32(rows, c, x, s1.data(), s2.data(), gamma, beta, epsilon, y, xhat,
                                    mean, var, inv_std, activation);
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
