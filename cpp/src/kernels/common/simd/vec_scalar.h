// Portable one-float "vector" for the scalar kernels (baseline compile flags).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

struct VecScalar {
  using T = float;
  using F32x4 = void;  // no 4-float register: pixel-at-a-time paths (vec_f32x4.h)
  static constexpr size_t width = 1;
  static T zero() { return 0.0f; }
  static T set1(float x) { return x; }
  static T load(const float* p) { return *p; }
  static T load_n(const float* p, size_t n) { return n ? *p : 0.0f; }
  static void store(float* p, T v) { *p = v; }
  static void stream(float* p, T v) { *p = v; }  // no streaming store: a plain one
  static void stream_fence() {}
  static void interleave3(T a, T b, T c, T* o) {  // one pixel: already in pixel order
    o[0] = a;
    o[1] = b;
    o[2] = c;
  }
  static void store_n(float* p, T v, size_t n) { if (n) *p = v; }
  static T add(T a, T b) { return a + b; }
  static T sub(T a, T b) { return a - b; }
  static T mul(T a, T b) { return a * b; }
  static T div(T a, T b) { return a / b; }
  static T max(T a, T b) { return a > b ? a : b; }
  static T min(T a, T b) { return a < b ? a : b; }
  static T fma(T a, T b, T c) { return a * b + c; }
  static T abs(T a) { return std::fabs(a); }
  static T sqrt(T a) { return std::sqrt(a); }
  static T copysign(T m, T s) { return std::copysign(m, s); }
  static T select_lt(T a, T b, T x, T y) { return a < b ? x : y; }
  static T round(T x) { return std::nearbyint(x); }
  static T pow2i(T n) { return std::ldexp(1.0f, static_cast<int>(n)); }
  static T load_u8(const uint8_t* p) { return static_cast<float>(*p); }
  static T load_u8_n(const uint8_t* p, size_t n) { return n ? static_cast<float>(*p) : 0.0f; }
  // Round half to even (the default rounding mode) and saturate, as OpenCV's saturate_cast.
  static uint8_t to_u8(T v) {
    if (!(v > 0.0f)) return 0;  // also NaN
    if (v >= 255.0f) return 255;
    return static_cast<uint8_t>(std::nearbyint(v));
  }
  static void store_u8(uint8_t* p, T v) { *p = to_u8(v); }
  static void store_u8_n(uint8_t* p, T v, size_t n) { if (n) *p = to_u8(v); }
  // 4 bytes as 4 values and back (pointwise map2; see vec_avx2.h).
  static void load_u8x4(const uint8_t* p, T* v) {
    for (int k = 0; k < 4; ++k) v[k] = load_u8(p + k);
  }
  static void store_u8x4(uint8_t* p, const T* v) {
    for (int k = 0; k < 4; ++k) store_u8(p + k, v[k]);
  }
  static float reduce_add(T v) { return v; }
  static float reduce_max(T v) { return v; }
  // 32-bit integer "lanes" (wrapping) for the counter-based hash of dropout.
  using I = uint32_t;
  static I iset1(uint32_t x) { return x; }
  static I iota_i() { return 0; }
  static I iadd_v(I a, I b) { return a + b; }
  static I imul(I a, uint32_t m) { return a * m; }
  static I ixor(I a, I b) { return a ^ b; }
  static I isrl(I a, int k) { return a >> k; }
  static T select_ilt(I a, I b, T x) {  // a < b (as signed; both below 2^31 here) ? x : 0
    return static_cast<int32_t>(a) < static_cast<int32_t>(b) ? x : 0.0f;
  }
};

}  // namespace
}  // namespace foveal
