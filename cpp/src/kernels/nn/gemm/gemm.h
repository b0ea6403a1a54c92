// Indirect-GEMM driver shared by dense and conv2d: packs B into NR-wide panels and runs the
// micro-kernel over strips of MR rows, K split into cache-sized blocks, epilogue fused.
#pragma once

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "foveal/dispatch.h"
#include "foveal/parallel.h"

namespace foveal {

// 64-byte aligned float buffer.
struct FloatBuffer {
  struct Free { void operator()(float* p) const { std::free(p); } };
  std::unique_ptr<float, Free> ptr;
  explicit FloatBuffer(size_t n) {
    const size_t bytes = ((n * sizeof(float) + 63) / 64) * 64;
    ptr.reset(static_cast<float*>(std::aligned_alloc(64, bytes ? bytes : 64)));
    if (!ptr) throw std::bad_alloc();
  }
  float* get() const { return ptr.get(); }
};

// B (k x n, row stride ldb) packed into div_up(n, nr) panels of k rows x nr floats, zero padded.
size_t packed_b_floats(size_t k, size_t n, size_t nr);
void pack_b(size_t k, size_t n, const float* b, size_t ldb, size_t nr, float* packed);
// Panels [p0, p1) of that packing, on the calling thread.
void pack_b_panels(size_t k, size_t n, const float* b, size_t ldb, size_t nr, float* packed,
                   size_t p0, size_t p1);
// The same packing of B = T^T where T (n x k, row stride ldt) is given; on the calling thread.
void pack_bt(size_t k, size_t n, const float* t, size_t ldt, size_t nr, float* packed);

// One GEMM of the indirect form, already packed: for rows m of [0, m_total) and taps t,
// A row pointer fill(m0, mr, ptrs) writes ptrs[t*mr + i] for rows m0..m0+mr-1.
struct IgemmProblem {
  size_t n;               // columns
  size_t kc;              // floats per tap
  size_t ntaps;
  const float* packed_b;  // ntaps*kc rows, div_up(n, nr) panels
  const float* bias;      // n floats or nullptr
  float* c;               // row 0, column 0
  size_t ldc;
  Activation act;
  bool accumulate = false;  // C += A*B instead of C = bias + A*B
};

// Largest K block (floats) the micro-kernel runs over at once, so that a 6-row A strip stays in
// L1 and the packed B panel block in L2.
constexpr size_t kMaxBlockK = 1024;

// Computes rows [m0, m0+mr) (mr <= table MR) for panels [p0, p1). ptrs holds ntaps*mr pointers
// (filled by the caller); scratch holds at least mr pointers.
void igemm_strip(const KernelTable& t, const IgemmProblem& g, size_t m0, size_t mr,
                 const float* const* ptrs, const float** scratch, size_t p0, size_t p1);

// Plain GEMM: C[m x n] (+)= op(A) * op(B), op(A) = A (m x k, row stride lda) or, with trans_a,
// the transpose of the k x m matrix A; op(B) likewise (k x n, or n x k with trans_b). serial:
// run on the calling thread (inside a parallel task); otherwise split over the threads.
struct GemmArgs {
  size_t m, n, k;
  const float* a;
  size_t lda;
  bool trans_a;
  const float* b;
  size_t ldb;
  bool trans_b;
  float* c;
  size_t ldc;
  bool accumulate;
};
void gemm_f32(const GemmArgs& g, bool serial);

}  // namespace foveal
