// Pixel-wise image kernels: arithmetic, blending, thresholds, gray conversion, flips. One body
// for every ISA: each pointwise_u8f32__<isa>.cpp instantiates it. Float math goes through the ISA's vector
// type; the integer loops (saturating add, flips) are left to the compiler's vectorizer,
// which sees this ISA's flags; uint8 gray takes the ISA's integer vectors (gray_u8_vec).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

#include "foveal/kernels.h"
#include "kernels/common/simd/vec_io.h"

namespace foveal {
namespace {

// out[i] = f(x[i], y[i]) (y may be unused). uint8 to uint8: 4 vectors a step through
// V::load_u8x4 / store_u8x4 (on AVX2 a 32-byte load widened by in-lane unpacks, in place of
// four 8-byte widening loads), then one vector a step.
template <class V, class E, class O, class F>
inline void map2(size_t n, const E* x, const E* y, O* out, F f) {
  constexpr size_t W = V::width;
  using T = typename V::T;
  const T zero = V::zero();
  size_t i = 0;
  if constexpr (sizeof(E) == 1 && sizeof(O) == 1) {
    for (; i + 4 * W <= n; i += 4 * W) {
      T u[4], v[4] = {zero, zero, zero, zero};
      V::load_u8x4(x + i, u);
      if (y) V::load_u8x4(y + i, v);
      for (int k = 0; k < 4; ++k) u[k] = f(u[k], v[k]);
      V::store_u8x4(out + i, u);
    }
  }
  for (; i + W <= n; i += W) vstore<V>(out + i, f(vload<V>(x + i), y ? vload<V>(y + i) : zero));
  if (i < n) vstore_n<V>(out + i, f(vload_n<V>(x + i, n - i), y ? vload_n<V>(y + i, n - i) : zero), n - i);
}

template <class V, class E>
void pointwise(PointwiseOp op, size_t n, const E* x, const E* y, const PointwiseParams& p, E* out) {
  using T = typename V::T;
  const T a = V::set1(p.a), b = V::set1(p.b), c = V::set1(p.c);
  switch (op) {
    case PointwiseOp::add: map2<V>(n, x, y, out, [](T u, T v) { return V::add(u, v); }); break;
    case PointwiseOp::subtract: map2<V>(n, x, y, out, [](T u, T v) { return V::sub(u, v); }); break;
    case PointwiseOp::blend:
      // uint8 without gamma: the + 0 left out (it changes no rounded byte; a float -0.0 it would)
      if (sizeof(E) == 1 && p.c == 0.0f)
        map2<V>(n, x, y, out, [&](T u, T v) { return V::add(V::mul(u, a), V::mul(v, b)); });
      else
        map2<V>(n, x, y, out, [&](T u, T v) { return V::add(V::add(V::mul(u, a), V::mul(v, b)), c); });
      break;
    case PointwiseOp::scale: map2<V>(n, x, static_cast<const E*>(nullptr), out, [&](T u, T) { return V::mul(u, a); }); break;
    case PointwiseOp::threshold:
      map2<V>(n, x, static_cast<const E*>(nullptr), out, [&](T u, T) { return V::select_lt(a, u, b, V::zero()); });
      break;
    default: break;
  }
}

// Saturating uint8 add/subtract as integer loops (exact, and vectorized to byte instructions).
inline void add_sat_u8(size_t n, const uint8_t* x, const uint8_t* y, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) {
    const unsigned s = unsigned(x[i]) + unsigned(y[i]);
    out[i] = static_cast<uint8_t>(s > 255u ? 255u : s);
  }
}
inline void sub_sat_u8(size_t n, const uint8_t* x, const uint8_t* y, uint8_t* out) {
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<uint8_t>(x[i] > y[i] ? x[i] - y[i] : 0);
}

template <class V>
void pointwise_u8(PointwiseOp op, size_t n, const uint8_t* x, const uint8_t* y,
                  const PointwiseParams& p, uint8_t* out) {
  if (op == PointwiseOp::add) add_sat_u8(n, x, y, out);
  else if (op == PointwiseOp::subtract) sub_sat_u8(n, x, y, out);
  else pointwise<V, uint8_t>(op, n, x, y, p, out);
}

template <class V>
void u8_to_f32(size_t n, const uint8_t* x, float scale, float* out) {
  using T = typename V::T;
  const T s = V::set1(scale);
  map2<V>(n, x, static_cast<const uint8_t*>(nullptr), out, [&](T u, T) { return V::mul(u, s); });
}

// u8_to_f32 with streaming stores (the same values): for an output far larger than the caches
// (a batch), written without first reading each line of it into the cache. The values before
// the first vector-aligned one and the last partial vector take u8_to_f32.
template <class V>
void u8_to_f32_stream(size_t n, const uint8_t* x, float scale, float* out) {
  constexpr size_t W = V::width;
  const size_t misalign = (reinterpret_cast<uintptr_t>(out) / sizeof(float)) % W;
  size_t i = misalign == 0 ? 0 : W - misalign;
  if (i > n || reinterpret_cast<uintptr_t>(out) % sizeof(float) != 0) i = n;
  u8_to_f32<V>(i, x, scale, out);
  const typename V::T s = V::set1(scale);
  for (; i + W <= n; i += W) V::stream(out + i, V::mul(V::load_u8(x + i), s));
  V::stream_fence();
  u8_to_f32<V>(n - i, x + i, scale, out + i);
}

// OpenCV's fixed-point RGB -> gray (exact), for C = 3 or 4 interleaved channels.
template <size_t C>
inline void gray_u8_c(size_t n, const uint8_t* src, uint8_t* dst) {
  for (size_t i = 0; i < n; ++i) {
    const uint8_t* px = src + i * C;
    dst[i] = static_cast<uint8_t>((9798u * px[0] + 19235u * px[1] + 3735u * px[2] + 16384u) >> 15);
  }
}
// The same gray conversion with integer vectors (G, next to an ISA's kernels): the pixels'
// bytes spread to 32-bit lanes as R | G << 16 and B | 1 << 16, two multiply-adds of 16-bit
// pairs (pmaddwd) give the same sum as gray_u8_c, then the shift. G has: pixels (per vector),
// reach3 (bytes a 3-channel load reads from its first pixel), T, load3 / load4 (the pixels
// from p, spread so each 128-bit lane holds 4 whole pixels), gray3 / gray4 (their values in
// 32-bit lanes, pixel order) and store(dst, a, b, c, d) (4 * pixels bytes). The rest of the
// pixels go through gray_u8_c.
// The byte shuffles that spread 4 pixels (3 or 4 bytes each, one 128-bit lane) to 32-bit
// lanes R | G << 16 and B (-1: a zero byte).
constexpr int8_t kGrayRG3[16] = {0, -1, 1, -1, 3, -1, 4, -1, 6, -1, 7, -1, 9, -1, 10, -1};
constexpr int8_t kGrayB3[16] = {2, -1, -1, -1, 5, -1, -1, -1, 8, -1, -1, -1, 11, -1, -1, -1};
constexpr int8_t kGrayRG4[16] = {0, -1, 1, -1, 4, -1, 5, -1, 8, -1, 9, -1, 12, -1, 13, -1};
constexpr int8_t kGrayB4[16] = {2, -1, -1, -1, 6, -1, -1, -1, 10, -1, -1, -1, 14, -1, -1, -1};

template <class G>
inline void gray_u8_vec(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) {
  constexpr size_t P = G::pixels;
  size_t i = 0;
  if (channels == 3) {
    for (; 3 * (i + 3 * P) + G::reach3 <= 3 * n; i += 4 * P) {
      const uint8_t* s = src + 3 * i;
      G::store(dst + i, G::gray3(G::load3(s)), G::gray3(G::load3(s + 3 * P)), G::gray3(G::load3(s + 6 * P)),
               G::gray3(G::load3(s + 9 * P)));
    }
    gray_u8_c<3>(n - i, src + 3 * i, dst + i);
  } else {
    for (; i + 4 * P <= n; i += 4 * P) {
      const uint8_t* s = src + 4 * i;
      G::store(dst + i, G::gray4(G::load4(s)), G::gray4(G::load4(s + 4 * P)), G::gray4(G::load4(s + 8 * P)),
               G::gray4(G::load4(s + 12 * P)));
    }
    gray_u8_c<4>(n - i, src + 4 * i, dst + i);
  }
}

template <size_t C>
inline void gray_f32_c(size_t n, const float* src, float* dst) {
  for (size_t i = 0; i < n; ++i) {
    const float* px = src + i * C;
    dst[i] = px[0] * 0.299f + px[1] * 0.587f + px[2] * 0.114f;
  }
}
inline void gray_u8(size_t n, size_t channels, const uint8_t* src, uint8_t* dst) {
  if (channels == 4) gray_u8_c<4>(n, src, dst); else gray_u8_c<3>(n, src, dst);
}
inline void gray_f32(size_t n, size_t channels, const float* src, float* dst) {
  if (channels == 4) gray_f32_c<4>(n, src, dst); else gray_f32_c<3>(n, src, dst);
}

// Reverses the order of n pixels of B bytes.
template <size_t B>
inline void flip_row_b(size_t n, const uint8_t* src, uint8_t* dst) {
  const uint8_t* s = src + (n - 1) * B;
  for (size_t i = 0; i < n; ++i, s -= B, dst += B) std::memcpy(dst, s, B);
}
// Pixels of 1, 2, 3 or 4 bytes reversed 16 bytes at a time with a byte shuffle (P = 16 / B
// pixels per shuffle); the edges of the row, where a 16-byte load or store would leave it, are
// copied pixel by pixel.
template <class V>
inline bool flip_row_shuffled(size_t n, size_t B, const uint8_t* src, uint8_t* dst) {
  if constexpr (V::width > 1) {
    if (B < 1 || B > 4) return false;
    const size_t P = 16 / B;
    alignas(16) uint8_t mask[16];
    for (size_t k = 0; k < 16; ++k)
      mask[k] = static_cast<uint8_t>(k < P * B ? (P - 1 - k / B) * B + k % B : 0x80);
    auto copy_pixel = [&](size_t i) { std::memcpy(dst + i * B, src + (n - 1 - i) * B, B); };
    const size_t head = (16 - P * B + B - 1) / B;  // first destination pixel whose load is safe
    size_t i = 0;
    for (; i < head && i < n; ++i) copy_pixel(i);
    if (n * B >= 16) {
      // Last destination pixel whose 16-byte store stays in the row, computed once (a bound
      // written per iteration compiles to a division in the loop).
      const size_t last_store = (n * B - 16) / B;
      const uint8_t* s = src + (n - i - P) * B;
      uint8_t* d = dst + i * B;
      for (; i + P <= n && i <= last_store; i += P, s -= P * B, d += P * B) V::shuffle16(s, mask, d);
    }
    for (; i < n; ++i) copy_pixel(i);
    return true;
  }
  return false;
}

template <class V>
inline void flip_row(size_t n, size_t pixel_bytes, const uint8_t* src, uint8_t* dst) {
  if (flip_row_shuffled<V>(n, pixel_bytes, src, dst)) return;
  switch (pixel_bytes) {
    case 1: flip_row_b<1>(n, src, dst); return;
    case 2: flip_row_b<2>(n, src, dst); return;
    case 3: flip_row_b<3>(n, src, dst); return;
    case 4: flip_row_b<4>(n, src, dst); return;
    case 12: flip_row_b<12>(n, src, dst); return;
    case 16: flip_row_b<16>(n, src, dst); return;
    default: {
      const uint8_t* s = src + (n - 1) * pixel_bytes;
      for (size_t i = 0; i < n; ++i, s -= pixel_bytes, dst += pixel_bytes) std::memcpy(dst, s, pixel_bytes);
    }
  }
}

}  // namespace
}  // namespace foveal
