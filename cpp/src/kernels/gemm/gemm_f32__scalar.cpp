// Indirect GEMM micro-kernel, portable C++: a 4x8 tile (the compiler may use the baseline
// vector unit).
#include "kernels/registry.h"

namespace foveal {

void gemm_f32_4x8__scalar(size_t mr, size_t nc, size_t kc, size_t ntaps, const float* const* a,
                          const float* b, float* c, size_t ldc, const GemmEpilogue& ep) {
  constexpr size_t NR = 8;
  float acc[4][NR];
  for (size_t i = 0; i < mr; ++i)
    for (size_t j = 0; j < NR; ++j)
      acc[i][j] = ep.accumulate ? (j < nc ? c[i * ldc + j] : 0.0f)
                                : (ep.bias && j < nc ? ep.bias[j] : 0.0f);
  for (size_t t = 0; t < ntaps; ++t, a += mr)
    for (size_t k = 0; k < kc; ++k, b += NR)
      for (size_t i = 0; i < mr; ++i) {
        const float av = a[i][k];
        for (size_t j = 0; j < NR; ++j) acc[i][j] += av * b[j];
      }
  for (size_t i = 0; i < mr; ++i)
    for (size_t j = 0; j < nc; ++j) {
      const float v = acc[i][j];
      c[i * ldc + j] = (ep.relu && v < 0.0f) ? 0.0f : v;
    }
}

}  // namespace foveal
