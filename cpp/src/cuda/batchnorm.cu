// Batch normalization (rows x c matrices, channels last): training forward with the batch's
// statistics, its two backward forms (from xhat, or from x through a fused relu/relu6), the
// inference forward and backward, and the moving-statistics update.
//
// The per-channel reductions are the CPU driver's (kernels/nn/batchnorm/batchnorm.cpp) in the same
// order: float sums over 64-row chunks, merged in double per 1024-row block (one thread per
// block and channel: neighbouring threads read neighbouring channels), then the blocks merged in
// order by one thread per channel. No atomics, so the GPU, the host run and the CPU give the same
// bits for the statistics and everything computed from them.
#include <cmath>
#include <vector>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

constexpr size_t kChunkRows = 64;    // rows summed in float
constexpr size_t kBlockRows = 1024;  // rows per partial (double); the partials added in order

FOVEAL_HD size_t min_size(size_t a, size_t b) { return a < b ? a : b; }
size_t blocks_of(size_t rows) { return (rows + kBlockRows - 1) / kBlockRows; }

// The activation a batch normalization may end with (none, relu, relu6), as the CPU's bn_activate.
FOVEAL_HD float bn_activate(float y, Activation a) {
  if (a == Activation::relu) return y > 0.0f ? y : 0.0f;
  if (a == Activation::relu6) {
    const float r = y > 0.0f ? y : 0.0f;
    return r < 6.0f ? r : 6.0f;
  }
  return y;
}

// dy where that activation passes a gradient at its input z (0 < z, and z < 6 for relu6), else 0.
FOVEAL_HD float bn_mask(float g, float z, Activation a) {
  if (a == Activation::relu) return 0.0f < z ? g : 0.0f;
  if (a == Activation::relu6) return 0.0f < z ? (z < 6.0f ? g : 0.0f) : 0.0f;
  return g;
}

// The CPU's column reductions keep four partial sums (rows i = u mod 4 for u < 4, the rows past
// the last whole group of four to the first), added as (s0 + s1) + (s2 + s3): the same here.
constexpr size_t kSumLanes = 4;

FOVEAL_HD float sum_partials(const float* p) { return (p[0] + p[1]) + (p[2] + p[3]); }

// Mean and M2 (sum of squared deviations) of block b, channel j: each 64-row chunk summed twice
// in float (the second time about the chunk's own mean), merged in double by Chan's formula with
// the CPU's weights (merge_moments). part: blocks x 2c (means, then M2s).
struct BnMoments {
  size_t rows, c;
  const float* x;
  double* part;
  FOVEAL_HD void operator()(size_t t) const {
    const size_t b = t / c, j = t % c;
    const size_t r1 = min_size((b + 1) * kBlockRows, rows);
    double bm = 0.0, bq = 0.0, bn = 0.0;
    for (size_t r = b * kBlockRows; r < r1; r += kChunkRows) {
      const size_t n = min_size(kChunkRows, r1 - r), n4 = n - n % kSumLanes;
      const float* xr = x + r * c + j;
      float s[kSumLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (size_t i = 0; i < n4; i += kSumLanes)
        for (size_t u = 0; u < kSumLanes; ++u) s[u] = s[u] + xr[(i + u) * c];
      for (size_t i = n4; i < n; ++i) s[0] = s[0] + xr[i * c];
      const float shift = sum_partials(s) * (1.0f / static_cast<float>(n));
      float ds[kSumLanes] = {0.0f, 0.0f, 0.0f, 0.0f}, dq[kSumLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (size_t i = 0; i < n4; i += kSumLanes)
        for (size_t u = 0; u < kSumLanes; ++u) {
          const float d = xr[(i + u) * c] - shift;
          ds[u] = ds[u] + d;
          dq[u] = dq[u] + d * d;
        }
      for (size_t i = n4; i < n; ++i) {
        const float d = xr[i * c] - shift;
        ds[0] = ds[0] + d;
        dq[0] = dq[0] + d * d;
      }
      const double dsum = sum_partials(ds), inv = 1.0 / static_cast<double>(n);
      const double cm = shift + dsum * inv;
      const double cq_raw = static_cast<double>(sum_partials(dq)) - dsum * dsum * inv;
      const double cq = cq_raw < 0.0 ? 0.0 : cq_raw;
      const double nn = static_cast<double>(n), total = bn + nn, w = nn / total, w2 = bn * nn / total;
      const double delta = cm - bm;
      bm += delta * w;
      bq += cq + delta * delta * w2;
      bn += nn;
    }
    part[b * 2 * c + j] = bm;
    part[b * 2 * c + c + j] = bq;
  }
};

// The blocks merged in order: mean, biased variance, inv_std = 1/sqrt(var + epsilon) (double).
struct BnStats {
  size_t rows, c;
  float epsilon;
  const double* part;
  float *mean, *var, *inv_std;
  FOVEAL_HD void operator()(size_t j) const {
    double n_all = 0.0, m = 0.0, q = 0.0;
    for (size_t b = 0; b * kBlockRows < rows; ++b) {
      const double nb = static_cast<double>(min_size(kBlockRows, rows - b * kBlockRows)), total = n_all + nb;
      const double w = nb / total, w2 = n_all * nb / total;
      const double delta = part[b * 2 * c + j] - m;
      m += delta * w;
      q += part[b * 2 * c + c + j] + delta * delta * w2;
      n_all += nb;
    }
    mean[j] = static_cast<float>(m);
    var[j] = static_cast<float>(q / static_cast<double>(rows));
    inv_std[j] = static_cast<float>(1.0 / sqrt(static_cast<double>(var[j]) + epsilon));
  }
};

// y = act(((x - shift) * scale) * mul + add) per channel (mul may be nullptr), t_out the
// normalized value (or nullptr): the CPU's channel_affine.
struct ChannelAffineMap {
  size_t c;
  const float *x, *shift, *scale, *mul, *add;
  float *y, *t_out;
  Activation act;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t j = i % c;
    const float t = (x[i] - shift[j]) * scale[j];
    if (t_out != nullptr) t_out[i] = t;
    y[i] = bn_activate((mul != nullptr ? t * mul[j] : t) + add[j], act);
  }
};

// The backward's dz and xhat of one value: from xhat itself, or recomputed from x (the forward's
// formula) with dy masked where the fused activation passed nothing.
struct BnGradSource {
  const float* dy;
  const float* xhat;  // nullptr: from x
  const float* x;
  const float *mean, *inv_std, *gamma, *beta;
  Activation act;
  FOVEAL_HD float t(size_t i, size_t j) const { return xhat != nullptr ? xhat[i] : (x[i] - mean[j]) * inv_std[j]; }
  FOVEAL_HD float dz(size_t i, size_t j, float tv) const {
    return act == Activation::none ? dy[i] : bn_mask(dy[i], tv * gamma[j] + beta[j], act);
  }
};

// Block b, channel j: sum dz and sum dz * xhat, in float per 64-row chunk, added in double.
struct BnGradSums {
  size_t rows, c;
  BnGradSource s;
  double* part;  // blocks x 2c
  FOVEAL_HD void operator()(size_t t) const {
    const size_t b = t / c, j = t % c;
    const size_t r1 = min_size((b + 1) * kBlockRows, rows);
    double d1 = 0.0, d2 = 0.0;
    for (size_t r = b * kBlockRows; r < r1; r += kChunkRows) {
      const size_t n = min_size(kChunkRows, r1 - r), n4 = n - n % kSumLanes;
      float a[kSumLanes] = {0.0f, 0.0f, 0.0f, 0.0f}, ab[kSumLanes] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (size_t k = 0; k < n; ++k) {   // row r + k into partial k mod 4 (the tail into the first)
        const size_t i = (r + k) * c + j, u = k < n4 ? k % kSumLanes : 0;
        const float tv = s.t(i, j);
        const float g = s.dz(i, j, tv);
        a[u] = a[u] + g;
        ab[u] = ab[u] + g * tv;
      }
      d1 += sum_partials(a);
      d2 += sum_partials(ab);
    }
    part[b * 2 * c + j] = d1;
    part[b * 2 * c + c + j] = d2;
  }
};

// dbeta, dgamma (the blocks added in order), and the input pass's per-channel factors.
struct BnGradStats {
  size_t rows, c;
  const double* part;
  const float *gamma, *inv_std;
  float *dgamma, *dbeta, *factors;  // factors: mean_dz, mean_dz_xhat, scale (3 x c)
  FOVEAL_HD void operator()(size_t j) const {
    double s1 = 0.0, s2 = 0.0;
    for (size_t b = 0; b * kBlockRows < rows; ++b) {
      s1 += part[b * 2 * c + j];
      s2 += part[b * 2 * c + c + j];
    }
    const float m = static_cast<float>(rows);
    dbeta[j] = static_cast<float>(s1);
    dgamma[j] = static_cast<float>(s2);
    factors[j] = dbeta[j] / m;
    factors[c + j] = dgamma[j] / m;
    factors[2 * c + j] = gamma[j] * inv_std[j];
  }
};

// dx = ((dz - mean_dz) - xhat * mean_dz_xhat) * (gamma * inv_std).
struct BnGradInput {
  size_t c;
  BnGradSource s;
  const float* factors;
  float* dx;
  FOVEAL_HD void operator()(size_t i) const {
    const size_t j = i % c;
    const float tv = s.t(i, j);
    const float g = (s.dz(i, j, tv) - factors[j]) - tv * factors[c + j];
    dx[i] = g * factors[2 * c + j];
  }
};

// Inference: inv_std = 1/sqrt(var + epsilon) in double (NumPy's float64), scale = gamma * inv_std.
struct BnInferenceFactors {
  double epsilon;
  const float *gamma, *var;
  float *inv_std, *scale;
  FOVEAL_HD void operator()(size_t j) const {
    inv_std[j] = static_cast<float>(1.0 / sqrt(static_cast<double>(var[j]) + epsilon));
    scale[j] = gamma[j] * inv_std[j];
  }
};

// Inference backward, block b and channel j: sum dy and sum dy * (x - mean), in double.
struct BnInferenceSums {
  size_t rows, c;
  const float *dy, *x, *mean;
  double* part;
  FOVEAL_HD void operator()(size_t t) const {
    const size_t b = t / c, j = t % c;
    const size_t r1 = min_size((b + 1) * kBlockRows, rows);
    double d1 = 0.0, d2 = 0.0;
    for (size_t r = b * kBlockRows; r < r1; ++r) {
      const size_t i = r * c + j;
      d1 += static_cast<double>(dy[i]);
      d2 += static_cast<double>(dy[i]) * static_cast<double>(x[i] - mean[j]);
    }
    part[b * 2 * c + j] = d1;
    part[b * 2 * c + c + j] = d2;
  }
};

struct BnInferenceGradStats {
  size_t rows, c;
  const double* part;
  const float *gamma, *inv_std;
  float *dgamma, *dbeta, *scale;
  FOVEAL_HD void operator()(size_t j) const {
    double s1 = 0.0, s2 = 0.0;
    for (size_t b = 0; b * kBlockRows < rows; ++b) {
      s1 += part[b * 2 * c + j];
      s2 += part[b * 2 * c + c + j];
    }
    dbeta[j] = static_cast<float>(s1);
    dgamma[j] = static_cast<float>(s2) * inv_std[j];
    scale[j] = gamma[j] * inv_std[j];
  }
};

struct ScaleColumns {  // y = x * scale[i % c]
  size_t c;
  const float *x, *scale;
  float* y;
  FOVEAL_HD void operator()(size_t i) const { y[i] = x[i] * scale[i % c]; }
};

// moving = moving * momentum + batch * (1 - momentum), both factors float32 (the layer's NumPy).
struct MovingUpdate {
  size_t c;
  float *moving_mean, *moving_var;
  const float *mean, *var;
  float momentum, one_minus;
  FOVEAL_HD void operator()(size_t i) const {
    if (i < c) moving_mean[i] = moving_mean[i] * momentum + mean[i] * one_minus;
    else moving_var[i - c] = moving_var[i - c] * momentum + var[i - c] * one_minus;
  }
};

void grad_passes(Where w, size_t rows, size_t c, const BnGradSource& s, const float* gamma, const float* inv_std,
                 float* dx, float* dgamma, float* dbeta) {
  const size_t blocks = blocks_of(rows);
  Scratch<double> part(w, blocks * 2 * c);
  Scratch<float> factors(w, 3 * c);
  for_each(w, blocks * c, BnGradSums{rows, c, s, part.get()}, "batch_norm backward (sums)");
  for_each(w, c, BnGradStats{rows, c, part.get(), gamma, inv_std, dgamma, dbeta, factors.get()},
           "batch_norm backward (statistics)");
  for_each(w, rows * c, BnGradInput{c, s, factors.get(), dx}, "batch_norm backward (dx)");
}

}  // namespace

void batch_norm_train_f32(Where w, size_t rows, size_t c, const float* x, const float* gamma, const float* beta,
                          float epsilon, float* y, float* xhat, float* mean, float* var, float* inv_std,
                          Activation act) {
  if (rows == 0 || c == 0) return;
  const size_t blocks = blocks_of(rows);
  Scratch<double> part(w, blocks * 2 * c);
  for_each(w, blocks * c, BnMoments{rows, c, x, part.get()}, "batch_norm (moments)");
  for_each(w, c, BnStats{rows, c, epsilon, part.get(), mean, var, inv_std}, "batch_norm (statistics)");
  for_each(w, rows * c, ChannelAffineMap{c, x, mean, inv_std, gamma, beta, y, xhat, act}, "batch_norm");
}

void batch_norm_backward_f32(Where w, size_t rows, size_t c, const float* dy, const float* xhat,
                             const float* gamma, const float* inv_std, float* dx, float* dgamma, float* dbeta) {
  if (rows == 0 || c == 0) return;
  const BnGradSource s{dy, xhat, nullptr, nullptr, inv_std, gamma, nullptr, Activation::none};
  grad_passes(w, rows, c, s, gamma, inv_std, dx, dgamma, dbeta);
}

void batch_norm_backward_from_input_f32(Where w, size_t rows, size_t c, const float* dy, const float* x,
                                        const BnBackwardParams& p, float* dx, float* dgamma, float* dbeta) {
  if (rows == 0 || c == 0) return;
  const BnGradSource s{dy, nullptr, x, p.mean, p.inv_std, p.gamma, p.beta, p.activation};
  grad_passes(w, rows, c, s, p.gamma, p.inv_std, dx, dgamma, dbeta);
}

void batch_norm_inference_f32(Where w, size_t rows, size_t c, const float* x, const float* gamma,
                              const float* beta, const float* mean, const float* var, double epsilon, float* y,
                              float* inv_std) {
  if (c == 0) return;
  Scratch<float> scale(w, c);
  for_each(w, c, BnInferenceFactors{epsilon, gamma, var, inv_std, scale.get()}, "batch_norm_inference (factors)");
  for_each(w, rows * c, ChannelAffineMap{c, x, mean, scale.get(), nullptr, beta, y, nullptr, Activation::none},
           "batch_norm_inference");
}

void batch_norm_inference_backward_f32(Where w, size_t rows, size_t c, const float* dy, const float* x,
                                       const float* gamma, const float* mean, const float* inv_std, float* dx,
                                       float* dgamma, float* dbeta) {
  if (c == 0) return;  // rows == 0: no blocks, dgamma = dbeta = 0 (NumPy's empty sums)
  const size_t blocks = blocks_of(rows);
  Scratch<double> part(w, blocks * 2 * c);
  Scratch<float> scale(w, c);
  for_each(w, blocks * c, BnInferenceSums{rows, c, dy, x, mean, part.get()}, "batch_norm_inference backward (sums)");
  for_each(w, c, BnInferenceGradStats{rows, c, part.get(), gamma, inv_std, dgamma, dbeta, scale.get()},
           "batch_norm_inference backward (statistics)");
  for_each(w, rows * c, ScaleColumns{c, dy, scale.get(), dx}, "batch_norm_inference backward (dx)");
}

void batch_norm_update_moving_f32(Where w, size_t c, float* moving_mean, float* moving_var, const float* mean,
                                  const float* var, float momentum, float one_minus_momentum) {
  for_each(w, 2 * c, MovingUpdate{c, moving_mean, moving_var, mean, var, momentum, one_minus_momentum},
           "batch_norm moving statistics");
}

}  // namespace foveal::cuda
