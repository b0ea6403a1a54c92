// SSE vector of 4 floats: one pixel of 3 or 4 float channels in one register (the warp kernels'
// bilinear path). VecAvx2 and VecAvx512 name it as their F32x4 (their flags include SSE); the
// scalar "vector" has none (F32x4 = void), and a kernel then takes its pixel-at-a-time path.
// Included only through vec_avx2.h and vec_avx512.h.
#pragma once

#include <immintrin.h>

namespace foveal {
namespace {

struct VecF32x4 {
  using T = __m128;
  static T set1(float x) { return _mm_set1_ps(x); }
  static T load(const float* p) { return _mm_loadu_ps(p); }
  // A 3-float pixel whose fourth float may not be read (the image's last pixel): lane 3 is 0.
  static T load3(const float* p) { return _mm_setr_ps(p[0], p[1], p[2], 0.0f); }
  static void store(float* p, T v) { _mm_storeu_ps(p, v); }
  // Lanes 0..2 only (a 3-float pixel whose fourth float is not this kernel's to write).
  static void store3(float* p, T v) {
    alignas(16) float t[4];
    _mm_store_ps(t, v);
    p[0] = t[0];
    p[1] = t[1];
    p[2] = t[2];
  }
  static T add(T a, T b) { return _mm_add_ps(a, b); }
  static T mul(T a, T b) { return _mm_mul_ps(a, b); }
};

}  // namespace
}  // namespace foveal
