// One tiled GEMM for every matrix product of the CUDA build (conv2d forward and both gradients,
// dense forward and both gradients): C[M x N] = epilogue(sum_k A(i, k) * B(k, j)), where A and B
// are loader functors, so that a convolution's im2col matrix is read straight from the NHWC image
// (implicit GEMM) and never stored. Loaders return 0 outside their matrix.
//
// Exact float32 (one FMA per product, on the CUDA cores) unless the caller allows TF32: then the
// tile products run on the tensor cores (wmma m16n16k8, operands rounded to TF32, sums in float).
// blockIdx.z is the batch of independent products (a convolution's groups) times the split of K
// (split > 1: each slice adds its partial sums into C with atomicAdd; C must start zeroed).
// On the host (Where::host) the same loaders and epilogue run as a plain triple loop: the tests
// check the index arithmetic there without a GPU.
#pragma once

#include "cuda/common.cuh"

#ifdef __CUDACC__
#include <mma.h>
#endif

namespace foveal::cuda {

struct GemmShape {
  size_t m, n, k;
  size_t batches = 1;  // independent products (blockIdx.z / split)
  size_t split = 1;    // K slices (partial sums added atomically)
};

constexpr int kBM = 64, kBN = 64, kBK = 16;
constexpr int kLdA = kBK + 4, kLdB = kBN + 4, kLdC = kBN + 4;  // multiples of 4 floats (wmma)

// K slices worth splitting for a product with few output tiles and a long K (weight gradients):
// enough blocks to fill a large GPU, each slice at least 512 deep.
inline size_t gemm_split(size_t m, size_t n, size_t k, size_t batches) {
  const size_t tiles = ((m + kBM - 1) / kBM) * ((n + kBN - 1) / kBN) * batches;
  size_t split = 1;
  while (tiles * split < 512 && k / (split * 2) >= 512) split *= 2;
  return split;
}

#ifdef __CUDACC__
template <bool kTF32, class A, class B, class Epi>
__global__ void __launch_bounds__(256) gemm_kernel(GemmShape s, A a, B b, Epi epi) {
  __shared__ __align__(32) float As[kBM * kLdA];  // As[i][k]
  __shared__ __align__(32) float Bs[kBK * kLdB];  // Bs[k][j]
  const int t = threadIdx.x;
  const size_t batch = blockIdx.z / s.split, slice = blockIdx.z % s.split;
  const size_t i0 = static_cast<size_t>(blockIdx.x) * kBM, j0 = static_cast<size_t>(blockIdx.y) * kBN;
  const size_t per = ((s.k + s.split - 1) / s.split + kBK - 1) / kBK * kBK;
  const size_t k_begin = slice * per, k_end = k_begin + per < s.k ? k_begin + per : s.k;
  const int tx = t % 16, ty = t / 16;
  float acc[4][4] = {};
  using namespace nvcuda;
  const int warp = t / 32, wr = (warp / 2) * 16, wc = (warp % 2) * 32;
  wmma::fragment<wmma::accumulator, 16, 16, 8, float> cf[2];
  if constexpr (kTF32) {
    wmma::fill_fragment(cf[0], 0.0f);
    wmma::fill_fragment(cf[1], 0.0f);
  }
  for (size_t k0 = k_begin; k0 < k_end; k0 += kBK) {
#pragma unroll
    for (int r = 0; r < 4; ++r) {  // A: consecutive threads along k (the contiguous channels)
      const int e = t + 256 * r, kk = e % kBK, ii = e / kBK;
      const size_t i = i0 + ii, k = k0 + kk;
      float v = i < s.m && k < k_end ? a(i, k, batch) : 0.0f;
      if constexpr (kTF32) v = wmma::__float_to_tf32(v);
      As[ii * kLdA + kk] = v;
    }
#pragma unroll
    for (int r = 0; r < 4; ++r) {  // B: consecutive threads along j
      const int e = t + 256 * r, jj = e % kBN, kk = e / kBN;
      const size_t j = j0 + jj, k = k0 + kk;
      float v = j < s.n && k < k_end ? b(k, j, batch) : 0.0f;
      if constexpr (kTF32) v = wmma::__float_to_tf32(v);
      Bs[kk * kLdB + jj] = v;
    }
    __syncthreads();
    if constexpr (kTF32) {
#pragma unroll
      for (int kk = 0; kk < kBK; kk += 8) {
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> af;
        wmma::load_matrix_sync(af, As + wr * kLdA + kk, kLdA);
#pragma unroll
        for (int f = 0; f < 2; ++f) {
          wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> bf;
          wmma::load_matrix_sync(bf, Bs + kk * kLdB + wc + 16 * f, kLdB);
          wmma::mma_sync(cf[f], af, bf, cf[f]);
        }
      }
    } else {
#pragma unroll
      for (int kk = 0; kk < kBK; ++kk) {
        float av[4], bv[4];
#pragma unroll
        for (int r = 0; r < 4; ++r) av[r] = As[(ty + 16 * r) * kLdA + kk];
#pragma unroll
        for (int c = 0; c < 4; ++c) bv[c] = Bs[kk * kLdB + tx + 16 * c];
#pragma unroll
        for (int r = 0; r < 4; ++r)
#pragma unroll
          for (int c = 0; c < 4; ++c) acc[r][c] = fmaf(av[r], bv[c], acc[r][c]);
      }
    }
    __syncthreads();
  }
  if constexpr (kTF32) {  // through shared memory (As is reused) into the thread layout below
    __shared__ __align__(32) float Cs[kBM * kLdC];
    wmma::store_matrix_sync(Cs + wr * kLdC + wc, cf[0], kLdC, wmma::mem_row_major);
    wmma::store_matrix_sync(Cs + wr * kLdC + wc + 16, cf[1], kLdC, wmma::mem_row_major);
    __syncthreads();
#pragma unroll
    for (int r = 0; r < 4; ++r)
#pragma unroll
      for (int c = 0; c < 4; ++c) acc[r][c] = Cs[(ty + 16 * r) * kLdC + tx + 16 * c];
  }
#pragma unroll
  for (int r = 0; r < 4; ++r)
#pragma unroll
    for (int c = 0; c < 4; ++c) {
      const size_t i = i0 + ty + 16 * r, j = j0 + tx + 16 * c;
      if (i < s.m && j < s.n) epi(i, j, batch, acc[r][c], s.split > 1);
    }
}

// Runs the product; epi(i, j, batch, sum, atomic) stores one result (atomic: add it atomically).
template <class A, class B, class Epi>
void gemm(Where where, GemmShape s, const A& a, const B& b, const Epi& epi, bool tf32, const char* what) {
  if (s.m == 0 || s.n == 0 || s.batches == 0) return;
  if (where == Where::host) {
    for (size_t g = 0; g < s.batches; ++g)
      for (size_t i = 0; i < s.m; ++i)
        for (size_t j = 0; j < s.n; ++j) {
          float acc = 0.0f;
          for (size_t k = 0; k < s.k; ++k) acc = fmaf(a(i, k, g), b(k, j, g), acc);
          epi(i, j, g, acc, false);
        }
    return;
  }
  // Row tiles on x (up to 2^31 - 1), column tiles on y, batches and K slices on z (up to 65535).
  const size_t gx = (s.m + kBM - 1) / kBM, gy = (s.n + kBN - 1) / kBN, gz = s.batches * s.split;
  if (gx > 0x7fffffffull || gy > 65535 || gz > 65535)
    throw std::invalid_argument(std::string(what) + ": the product is too large for one launch");
  const dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy), static_cast<unsigned>(gz));
  if (tf32)
    gemm_kernel<true><<<grid, 256>>>(s, a, b, epi);
  else
    gemm_kernel<false><<<grid, 256>>>(s, a, b, epi);
  check(cudaGetLastError(), what);
}
#endif

}  // namespace foveal::cuda
