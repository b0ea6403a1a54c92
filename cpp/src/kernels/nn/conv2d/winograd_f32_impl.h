// Winograd F(2x2, 3x3) and F(4x4, 3x3) transforms of a 3x3 convolution, vectorized over channels
// (NHWC keeps a pixel's channels contiguous). One body for every ISA: each
// winograd_f32__<isa>.cpp instantiates it with its vector type.
// F(2x2, 3x3):
//   input:  V = B^T d B for a 4x4 input window d,  B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
//   output: Y = A^T M A for a 4x4 product M,        A^T = [1 1 1 0; 0 1 -1 -1]
// F(4x4, 3x3) (Lavin and Gray's points 0, +-1, +-2):
//   input:  V = B^T d B for a 6x6 window, B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0;
//                                                0 -2 -1 2 1 0; 0 2 -1 -2 1 0; 0 4 0 -5 0 1]
//   output: Y = A^T M A for a 6x6 product, A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0;
//                                                 0 1 -1 8 -8 1]
// The 16 (36) products between them are GEMMs (tiles x Cin) * (Cin x Cout), run by the driver.
#pragma once

#include <cstddef>

#include "foveal/kernels.h"

namespace foveal {
namespace {

// f(c, n) over the channels in blocks of one vector (n = V::width), then the tail (n < width).
template <class V, class F>
inline void for_channel_blocks(size_t channels, F&& f) {
  size_t c = 0;
  for (; c + V::width <= channels; c += V::width) f(c, V::width);
  if (c < channels) f(c, channels - c);
}

template <class V>
inline void winograd_input_block(size_t c, size_t n, const float* const* d, float* v, size_t xi_stride) {
  using T = typename V::T;
  T t[4][4];
  for (int col = 0; col < 4; ++col) {  // t = B^T d, one column of the window at a time
    const T d0 = V::load_n(d[0 * 4 + col] + c, n), d1 = V::load_n(d[1 * 4 + col] + c, n);
    const T d2 = V::load_n(d[2 * 4 + col] + c, n), d3 = V::load_n(d[3 * 4 + col] + c, n);
    t[0][col] = V::sub(d0, d2);
    t[1][col] = V::add(d1, d2);
    t[2][col] = V::sub(d2, d1);
    t[3][col] = V::sub(d1, d3);
  }
  for (int r = 0; r < 4; ++r) {  // V = t B
    float* row = v + static_cast<size_t>(r * 4) * xi_stride + c;
    V::store_n(row, V::sub(t[r][0], t[r][2]), n);
    V::store_n(row + xi_stride, V::add(t[r][1], t[r][2]), n);
    V::store_n(row + 2 * xi_stride, V::sub(t[r][2], t[r][1]), n);
    V::store_n(row + 3 * xi_stride, V::sub(t[r][1], t[r][3]), n);
  }
}

// d: the 16 window positions (row-major), each c floats; v: the 16 transforms, xi_stride apart.
template <class V>
void winograd_input(size_t channels, const float* const* d, float* v, size_t xi_stride) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd_input_block<V>(c, n, d, v, xi_stride); });
}

template <class V>
inline void winograd_output_block(size_t c, size_t n, const float* m, size_t xi_stride, const float* bias,
                                  bool relu, float* const* y) {
  using T = typename V::T;
  T s[2][4];
  for (int col = 0; col < 4; ++col) {  // s = A^T M
    const float* mc = m + static_cast<size_t>(col) * xi_stride + c;
    const T m0 = V::load_n(mc, n), m1 = V::load_n(mc + 4 * xi_stride, n);
    const T m2 = V::load_n(mc + 8 * xi_stride, n), m3 = V::load_n(mc + 12 * xi_stride, n);
    s[0][col] = V::add(V::add(m0, m1), m2);
    s[1][col] = V::sub(V::sub(m1, m2), m3);
  }
  const T b = bias ? V::load_n(bias + c, n) : V::zero();
  for (int r = 0; r < 2; ++r) {  // Y = s A, plus the bias, then ReLU
    T out[2] = {V::add(V::add(s[r][0], s[r][1]), s[r][2]), V::sub(V::sub(s[r][1], s[r][2]), s[r][3])};
    for (int k = 0; k < 2; ++k) {
      float* dst = y[r * 2 + k];
      if (dst == nullptr) continue;
      T o = V::add(out[k], b);
      if (relu) o = V::max(o, V::zero());
      V::store_n(dst + c, o, n);
    }
  }
}

// m: the 16 products, xi_stride apart, each c floats; y: the 2x2 output pixels (row-major),
// nullptr for those past the output's edge.
template <class V>
void winograd_output(size_t channels, const float* m, size_t xi_stride, const float* bias, bool relu,
                     float* const* y) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd_output_block<V>(c, n, m, xi_stride, bias, relu, y); });
}

// B^T applied to six values (a column, then a row, of an F(4x4, 3x3) input window).
template <class V>
inline void winograd4_bt(const typename V::T (&d)[6], typename V::T (&o)[6]) {
  using T = typename V::T;
  const T four = V::set1(4.0f), five = V::set1(5.0f), two = V::set1(2.0f);
  // o0 = 4 d0 - 5 d2 + d4; o5 = 4 d1 - 5 d3 + d5
  o[0] = V::fma(four, d[0], V::sub(d[4], V::mul(five, d[2])));
  o[5] = V::fma(four, d[1], V::sub(d[5], V::mul(five, d[3])));
  // o1, o2 = (d4 - 4 d2) -+ (4 d1 - d3); o3, o4 = (d4 - d2) -+ 2 (d1 - d3)
  const T a = V::sub(d[4], V::mul(four, d[2])), b = V::sub(V::mul(four, d[1]), d[3]);
  o[1] = V::sub(a, b);
  o[2] = V::add(a, b);
  const T c = V::sub(d[4], d[2]), e = V::mul(two, V::sub(d[1], d[3]));
  o[3] = V::sub(c, e);
  o[4] = V::add(c, e);
}

// S X S^T for an IN x IN block X of vectors (X[r][col] = load(r, col)), S (6 x IN) applied to IN
// values by side(in, out): columns first, then rows; written as 36 rows, xi_stride apart.
template <class V, int IN, class Load, class Side>
inline void winograd4_both_sides(Load&& load, Side&& side, float* v, size_t xi_stride, size_t c, size_t n) {
  using T = typename V::T;
  T t[6][IN];
  for (int col = 0; col < IN; ++col) {  // t = S X, one column at a time
    T in[IN], out[6];
    for (int r = 0; r < IN; ++r) in[r] = load(r, col);
    side(in, out);
    for (int r = 0; r < 6; ++r) t[r][col] = out[r];
  }
  for (int r = 0; r < 6; ++r) {  // (S X) S^T, one row at a time
    T out[6];
    side(t[r], out);
    float* row = v + static_cast<size_t>(r * 6) * xi_stride + c;
    for (int k = 0; k < 6; ++k) V::store_n(row + k * xi_stride, out[k], n);
  }
}

template <class V>
inline void winograd4_input_block(size_t c, size_t n, const float* const* d, float* v, size_t xi_stride) {
  using T = typename V::T;  // V = B^T d B
  winograd4_both_sides<V, 6>([&](int r, int col) { return V::load_n(d[r * 6 + col] + c, n); },
                             [](T (&in)[6], T (&out)[6]) { winograd4_bt<V>(in, out); }, v, xi_stride, c, n);
}

// d: the 36 window positions (row-major), each c floats; v: the 36 transforms, xi_stride apart.
template <class V>
void winograd4_input(size_t channels, const float* const* d, float* v, size_t xi_stride) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd4_input_block<V>(c, n, d, v, xi_stride); });
}

// A^T applied to six values.
template <class V>
inline void winograd4_at(const typename V::T (&m)[6], typename V::T (&o)[4]) {
  using T = typename V::T;
  const T p1 = V::add(m[1], m[2]), d1 = V::sub(m[1], m[2]);
  const T p3 = V::add(m[3], m[4]), d3 = V::sub(m[3], m[4]);
  o[0] = V::add(V::add(m[0], p1), p3);
  o[1] = V::fma(V::set1(2.0f), d3, d1);
  o[2] = V::fma(V::set1(4.0f), p3, p1);
  o[3] = V::add(V::fma(V::set1(8.0f), d3, d1), m[5]);
}

template <class V>
inline void winograd4_output_block(size_t c, size_t n, const float* m, size_t xi_stride, const float* bias,
                                   bool relu, float* const* y) {
  using T = typename V::T;
  T s[4][6];
  for (int col = 0; col < 6; ++col) {  // s = A^T M
    T in[6], out[4];
    for (int r = 0; r < 6; ++r) in[r] = V::load_n(m + static_cast<size_t>(r * 6 + col) * xi_stride + c, n);
    winograd4_at<V>(in, out);
    for (int r = 0; r < 4; ++r) s[r][col] = out[r];
  }
  const T b = bias ? V::load_n(bias + c, n) : V::zero();
  for (int r = 0; r < 4; ++r) {  // Y = s A, plus the bias, then ReLU
    T out[4];
    winograd4_at<V>(s[r], out);
    for (int k = 0; k < 4; ++k) {
      float* dst = y[r * 4 + k];
      if (dst == nullptr) continue;
      T o = V::add(out[k], b);
      if (relu) o = V::max(o, V::zero());
      V::store_n(dst + c, o, n);
    }
  }
}

// m: the 36 products, xi_stride apart, each c floats; y: the 4x4 output pixels (row-major),
// nullptr for those past the output's edge.
template <class V>
void winograd4_output(size_t channels, const float* m, size_t xi_stride, const float* bias, bool relu,
                      float* const* y) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd4_output_block<V>(c, n, m, xi_stride, bias, relu, y); });
}

// The kernel gradient's transform of the output gradient: W = A dY A^T for a 2x2 block dy
// (row-major, each c floats; a zero row past the edge), written as 16 rows, xi_stride apart.
template <class V>
inline void winograd_dy_block(size_t c, size_t n, const float* const* dy, float* w, size_t xi_stride) {
  using T = typename V::T;
  const T y00 = V::load_n(dy[0] + c, n), y01 = V::load_n(dy[1] + c, n);
  const T y10 = V::load_n(dy[2] + c, n), y11 = V::load_n(dy[3] + c, n);
  // A dY: rows y0, y0 + y1, y0 - y1, -y1 (A^T = [1 1 1 0; 0 1 -1 -1]), two columns each
  const T u[4][2] = {{y00, y01}, {V::add(y00, y10), V::add(y01, y11)}, {V::sub(y00, y10), V::sub(y01, y11)},
                     {V::sub(V::zero(), y10), V::sub(V::zero(), y11)}};
  for (int q = 0; q < 4; ++q) {  // (A dY) A^T: a, a + b, a - b, -b
    float* row = w + static_cast<size_t>(q * 4) * xi_stride + c;
    V::store_n(row, u[q][0], n);
    V::store_n(row + xi_stride, V::add(u[q][0], u[q][1]), n);
    V::store_n(row + 2 * xi_stride, V::sub(u[q][0], u[q][1]), n);
    V::store_n(row + 3 * xi_stride, V::sub(V::zero(), u[q][1]), n);
  }
}

template <class V>
void winograd_dy(size_t channels, const float* const* dy, float* w, size_t xi_stride) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd_dy_block<V>(c, n, dy, w, xi_stride); });
}

// The same for F(4x4, 3x3): W = A dY A^T for a 4x4 block dy, as 36 rows. Each side takes
// (y0, y1, y2, y3) to (y0, y0 + y1 + y2 + y3, y0 - y1 + y2 - y3, y0 + 2 y1 + 4 y2 + 8 y3,
// y0 - 2 y1 + 4 y2 - 8 y3, y3) (the columns of A^T).
template <class V>
inline void winograd4_dy_side(const typename V::T (&y)[4], typename V::T (&o)[6]) {
  using T = typename V::T;
  const T e = V::add(y[0], y[2]), f = V::add(y[1], y[3]);                       // even, odd
  const T e4 = V::add(y[0], V::mul(V::set1(4.0f), y[2]));
  const T f8 = V::add(V::mul(V::set1(2.0f), y[1]), V::mul(V::set1(8.0f), y[3]));
  o[0] = y[0];
  o[1] = V::add(e, f);
  o[2] = V::sub(e, f);
  o[3] = V::add(e4, f8);
  o[4] = V::sub(e4, f8);
  o[5] = y[3];
}

template <class V>
inline void winograd4_dy_block(size_t c, size_t n, const float* const* dy, float* w, size_t xi_stride) {
  using T = typename V::T;  // W = A dY A^T
  winograd4_both_sides<V, 4>([&](int r, int col) { return V::load_n(dy[r * 4 + col] + c, n); },
                             [](T (&in)[4], T (&out)[6]) { winograd4_dy_side<V>(in, out); }, w, xi_stride, c, n);
}

template <class V>
void winograd4_dy(size_t channels, const float* const* dy, float* w, size_t xi_stride) {
  for_channel_blocks<V>(channels, [&](size_t c, size_t n) { winograd4_dy_block<V>(c, n, dy, w, xi_stride); });
}

}  // namespace
}  // namespace foveal
