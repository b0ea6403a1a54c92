// dense forward and backward on the GEMM of gemm.cuh, the column sums of the bias gradients and
// the row softmax of dense(..., activation="softmax").
#include <cmath>

#include "cuda/activation.cuh"
#include "cuda/gemm.cuh"
#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

// A row-major matrix read as (i, k), or transposed (T: element (i, k) at k * ld + i).
template <bool T>
struct Mat {
  const float* p;
  size_t ld;
  FOVEAL_HD float operator()(size_t i, size_t k, size_t) const { return T ? p[k * ld + i] : p[i * ld + k]; }
};

struct StoreDense {  // y[i, j] = act(sum + bias[j]); atomic: add the partial sum
  size_t n;
  const float* bias;
  float* y;
  Activation act;
  FOVEAL_HD void operator()(size_t i, size_t j, size_t, float v, bool atomic) const {
#ifdef __CUDA_ARCH__
    if (atomic) { atomicAdd(y + i * n + j, v); return; }
#endif
    y[i * n + j] = activate(act, bias ? v + bias[j] : v);
  }
};

// out[j] = sum of column j over rows: thread t sums column t % c over the rows of chunk t / c
// (neighbouring threads read neighbouring columns); with several chunks (device) each partial sum
// is added atomically into the zeroed out.
struct ColumnSums {
  size_t rows, c, chunk;
  const float* x;
  float* out;
  FOVEAL_HD void operator()(size_t t) const {
    const size_t j = t % c, r0 = (t / c) * chunk, r1 = r0 + chunk < rows ? r0 + chunk : rows;
    float acc = 0.0f;
    for (size_t r = r0; r < r1; ++r) acc += x[r * c + j];
#ifdef __CUDA_ARCH__
    if (chunk < rows) { atomicAdd(out + j, acc); return; }
#endif
    out[j] = acc;
  }
};

struct SoftmaxRow {
  size_t cols;
  const float* x;
  float* y;
  FOVEAL_HD void operator()(size_t r) const {
    const float* xr = x + r * cols;
    float* yr = y + r * cols;
    float mx = xr[0];
    for (size_t j = 1; j < cols; ++j) mx = fmaxf(mx, xr[j]);
    float sum = 0.0f;
    for (size_t j = 0; j < cols; ++j) { yr[j] = expf(xr[j] - mx); sum += yr[j]; }
    for (size_t j = 0; j < cols; ++j) yr[j] /= sum;
  }
};

}  // namespace

void dense_f32(Where w, size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act, bool tf32) {
  gemm(w, GemmShape{m, n, k}, Mat<false>{x, k}, Mat<false>{kernel, n}, StoreDense{n, bias, y, act}, tf32, "dense");
}

void dense_backward_f32(Where w, size_t m, size_t k, size_t n, const float* x, const float* kernel,
                        const float* dy, float* dx, float* dkernel, float* dbias, bool tf32) {
  if (dx != nullptr)  // dx[m x k] = dy[m x n] kernel^T
    gemm(w, GemmShape{m, k, n}, Mat<false>{dy, n}, Mat<true>{kernel, n}, StoreDense{k, nullptr, dx, Activation::none},
         tf32, "dense_backward (dx)");
  if (dkernel == nullptr) return;
  GemmShape s{k, n, m};  // dkernel[k x n] = x^T dy
  if (w == Where::device) {
    s.split = gemm_split(s.m, s.n, s.k, 1);
    if (s.split > 1) check(cudaMemsetAsync(dkernel, 0, k * n * sizeof(float)), "dense_backward");
  }
  gemm(w, s, Mat<true>{x, k}, Mat<false>{dy, n}, StoreDense{n, nullptr, dkernel, Activation::none}, tf32,
       "dense_backward (dkernel)");
  if (dbias != nullptr) column_sums_f32(w, m, n, dy, dbias);
}

void column_sums_f32(Where w, size_t rows, size_t c, const float* dy, float* out) {
  size_t chunk = rows;
  if (w == Where::device && rows > 256) {  // enough threads to fill the GPU, >= 256 rows each
    chunk = 256;
    while ((rows + chunk - 1) / chunk * c > (1u << 17) && chunk < rows) chunk *= 2;
    if (chunk < rows) check(cudaMemsetAsync(out, 0, c * sizeof(float)), "column sums");
  }
  for_each(w, (rows + chunk - 1) / chunk * c, ColumnSums{rows, c, chunk, dy, out}, "column sums");
}

void softmax_f32(Where w, size_t rows, size_t cols, const float* x, float* y) {
  for_each(w, rows, SoftmaxRow{cols, x, y}, "softmax");
}

}  // namespace foveal::cuda
