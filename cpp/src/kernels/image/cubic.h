// Bicubic interpolation weights (Keys, A = -0.75, as OpenCV) shared by warps and resize, on the
// CPU and in the CUDA build's kernels (compiled there for the host and the device).
// Internal linkage: each translation unit (compiled for its own ISA) keeps its own copy.
#pragma once

#if defined(__CUDACC__)
#define FOVEAL_CUBIC_HD __host__ __device__
#else
#define FOVEAL_CUBIC_HD
#endif

namespace foveal {
namespace {

// Weights of the 4 taps at offsets -1, 0, 1, 2 for a fractional position t in [0, 1).
FOVEAL_CUBIC_HD inline void cubic_weights(float t, float w[4]) {
  constexpr float A = -0.75f;
  const float t1 = t + 1.0f, u = 1.0f - t;
  w[0] = ((A * t1 - 5.0f * A) * t1 + 8.0f * A) * t1 - 4.0f * A;
  w[1] = ((A + 2.0f) * t - (A + 3.0f)) * t * t + 1.0f;
  w[2] = ((A + 2.0f) * u - (A + 3.0f)) * u * u + 1.0f;
  w[3] = 1.0f - w[0] - w[1] - w[2];
}

}  // namespace
}  // namespace foveal
