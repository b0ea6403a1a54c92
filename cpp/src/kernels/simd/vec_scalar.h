// Portable one-float "vector" for the scalar kernels (baseline compile flags).
#pragma once

#include <cmath>
#include <cstddef>

namespace foveal {
namespace {

struct VecScalar {
  using T = float;
  static constexpr size_t width = 1;
  static T zero() { return 0.0f; }
  static T set1(float x) { return x; }
  static T load(const float* p) { return *p; }
  static T load_n(const float* p, size_t n) { return n ? *p : 0.0f; }
  static void store(float* p, T v) { *p = v; }
  static void store_n(float* p, T v, size_t n) { if (n) *p = v; }
  static T add(T a, T b) { return a + b; }
  static T sub(T a, T b) { return a - b; }
  static T mul(T a, T b) { return a * b; }
  static T div(T a, T b) { return a / b; }
  static T max(T a, T b) { return a > b ? a : b; }
  static T min(T a, T b) { return a < b ? a : b; }
  static T fma(T a, T b, T c) { return a * b + c; }
  static T abs(T a) { return std::fabs(a); }
  static T copysign(T m, T s) { return std::copysign(m, s); }
  static T select_lt(T a, T b, T x, T y) { return a < b ? x : y; }
  static T round(T x) { return std::nearbyint(x); }
  static T pow2i(T n) { return std::ldexp(1.0f, static_cast<int>(n)); }
  static float reduce_add(T v) { return v; }
  static float reduce_max(T v) { return v; }
};

}  // namespace
}  // namespace foveal
