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
};

// Largest K block (floats) the micro-kernel runs over at once, so that a 6-row A strip stays in
// L1 and the packed B panel block in L2.
constexpr size_t kMaxBlockK = 1024;

// Computes rows [m0, m0+mr) (mr <= table MR) for panels [p0, p1). ptrs holds ntaps*mr pointers
// (filled by the caller); scratch holds at least mr pointers.
void igemm_strip(const KernelTable& t, const IgemmProblem& g, size_t m0, size_t mr,
                 const float* const* ptrs, const float** scratch, size_t p0, size_t p1);

}  // namespace foveal
