// Softmax along any axis and the softmax cross-entropy loss with its gradient (the CPU's
// kernels/nn/losses), dense targets or integer labels. One thread per row: the row's sums run in
// the CPU's order (the log-sum-exp and the loss in double), no atomics.
#include <cmath>

#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// Softmax over axis c of an outer x c x inner array: one thread per (outer, inner) position, the
// maximum subtracted first, the exponentials scaled by 1/sum (as the CPU's softmax_row).
struct SoftmaxAxis {
  size_t c, inner;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t t) const {
    const size_t base = (t / inner) * c * inner + t % inner;
    const float* xr = x + base;
    float* yr = y + base;
    float mx = xr[0];
    for (size_t j = 1; j < c; ++j) mx = xr[j * inner] > mx ? xr[j * inner] : mx;
    float sum = 0.0f;
    for (size_t j = 0; j < c; ++j) {
      const float e = expf(xr[j * inner] - mx);
      yr[j * inner] = e;
      sum = sum + e;
    }
    const float inv = 1.0f / sum;
    for (size_t j = 0; j < c; ++j) yr[j * inner] = yr[j * inner] * inv;
  }
};

// Targets: a dense rows x c array, or one class index per row (the one-hot row it stands for; an
// index outside [0, c) gives NaN for the row's loss and gradient).
struct DenseTargets {
  const float* y;
  FOVEAL_HD bool valid(size_t, size_t) const { return true; }
  FOVEAL_HD float at(size_t r, size_t c, size_t j) const { return y[r * c + j]; }
};
struct LabelTargets {
  const int64_t* labels;
  FOVEAL_HD bool valid(size_t r, size_t c) const { return labels[r] >= 0 && static_cast<uint64_t>(labels[r]) < c; }
  FOVEAL_HD float at(size_t r, size_t, size_t j) const { return static_cast<int64_t>(j) == labels[r] ? 1.0f : 0.0f; }
};

// values[r] = -sum y log softmax(p) (logits) or -sum y log clip(p / sum p) (probabilities);
// grad = (softmax(p) * sum(y) - y) / rows, or (p * sum(y) - y) / rows; clipped[r] flags a labelled
// entry clipped (probabilities only). The CPU's softmax_cross_entropy_f32, row by row.
template <class Targets>
struct SoftmaxCrossEntropy {
  size_t rows, c;
  bool from_logits;
  double eps, one_minus;
  float inv_n;
  const float* p;
  Targets y;
  float *values, *grad;
  uint8_t* clipped;
  FOVEAL_HD void operator()(size_t r) const {
    const float* pr = p + r * c;
    float* gr = grad + r * c;
    if (!valid(r)) {
      const float nan = NAN;
      values[r] = nan;
      for (size_t j = 0; j < c; ++j) gr[j] = nan;
      if (clipped != nullptr) clipped[r] = 0;
      return;
    }
    float mass = 0.0f;
    for (size_t j = 0; j < c; ++j) mass = mass + y.at(r, c, j);
    double v = 0.0;
    bool clip = false;
    if (from_logits) {
      float mx = pr[0];
      for (size_t j = 1; j < c; ++j) mx = pr[j] > mx ? pr[j] : mx;
      double s = 0.0;
      for (size_t j = 0; j < c; ++j) s += exp(static_cast<double>(pr[j] - mx));
      const double log_sum = log(s);
      for (size_t j = 0; j < c; ++j) v -= y.at(r, c, j) * (static_cast<double>(pr[j] - mx) - log_sum);
      float sum = 0.0f;
      for (size_t j = 0; j < c; ++j) {
        gr[j] = expf(pr[j] - mx);
        sum = sum + gr[j];
      }
      const float inv = 1.0f / sum;
      for (size_t j = 0; j < c; ++j) gr[j] = ((gr[j] * inv) * mass - y.at(r, c, j)) * inv_n;
    } else {
      double total = 0.0;
      for (size_t j = 0; j < c; ++j) total += pr[j];
      for (size_t j = 0; j < c; ++j) {
        const float yj = y.at(r, c, j);
        const double q = pr[j] / total;
        const bool inside = q >= eps && q <= one_minus;
        clip = clip || (!inside && yj != 0.0f);
        const double lo = q < eps ? eps : q;
        v -= yj * log(one_minus < lo ? one_minus : lo);
        gr[j] = (pr[j] * mass - yj) * inv_n;
      }
    }
    values[r] = static_cast<float>(v);
    if (clipped != nullptr) clipped[r] = clip ? 1 : 0;
  }
  FOVEAL_HD bool valid(size_t r) const { return y.valid(r, c); }
};

template <class Targets>
void run(Where w, size_t rows, size_t c, const float* p, Targets y, bool from_logits, float epsilon,
         float* values, float* grad, uint8_t* clipped, const char* what) {
  const double eps = epsilon, one_minus = 1.0 - static_cast<double>(epsilon);
  const float inv_n = static_cast<float>(1.0 / static_cast<double>(rows));
  for_each(w, rows, SoftmaxCrossEntropy<Targets>{rows, c, from_logits, eps, one_minus, inv_n, p, y, values, grad,
                                                 clipped},
           what);
}

}  // namespace

void softmax_axis_f32(Where w, size_t outer, size_t c, size_t inner, const float* x, float* y) {
  if (c == 0) return;
  for_each(w, outer * inner, SoftmaxAxis{c, inner, x, y}, "softmax");
}

void softmax_cross_entropy_f32(Where w, size_t rows, size_t c, const float* p, const float* y, bool from_logits,
                               float epsilon, float* values, float* grad, uint8_t* clipped) {
  run(w, rows, c, p, DenseTargets{y}, from_logits, epsilon, values, grad, clipped, "softmax_cross_entropy");
}

void sparse_softmax_cross_entropy_f32(Where w, size_t rows, size_t c, const float* p, const int64_t* labels,
                                      bool from_logits, float epsilon, float* values, float* grad,
                                      uint8_t* clipped) {
  run(w, rows, c, p, LabelTargets{labels}, from_logits, epsilon, values, grad, clipped,
      "sparse_softmax_cross_entropy");
}

}  // namespace foveal::cuda
