// Elementwise activations and row softmax. One body for every ISA: each
// activation_f32__<isa>.cpp instantiates it with its vector type.
#pragma once

#include <cstddef>

#include "foveal/kernels.h"

namespace foveal {
namespace {

// exp(x): x = n*ln2 + r with |r| <= ln2/2, e^r by its degree-6 Taylor polynomial (error below
// 2e-7 relative), times 2^n. Inputs are clamped to the float range (exp(-87.3) .. exp(88.7)).
template <class V>
inline typename V::T vexp(typename V::T x) {
  using T = typename V::T;
  x = V::min(V::max(x, V::set1(-87.3f)), V::set1(88.7f));
  const T n = V::round(V::mul(x, V::set1(1.44269504088896341f)));
  T r = V::fma(n, V::set1(-0.693359375f), x);     // ln2 split in a high part exact in float ...
  r = V::fma(n, V::set1(2.12194440e-4f), r);      // ... and the low remainder
  T p = V::set1(1.0f / 720.0f);
  p = V::fma(p, r, V::set1(1.0f / 120.0f));
  p = V::fma(p, r, V::set1(1.0f / 24.0f));
  p = V::fma(p, r, V::set1(1.0f / 6.0f));
  p = V::fma(p, r, V::set1(0.5f));
  p = V::fma(p, r, V::set1(1.0f));
  p = V::fma(p, r, V::set1(1.0f));
  return V::mul(p, V::pow2i(n));
}

template <class V>
inline typename V::T vsigmoid(typename V::T x) {
  const typename V::T one = V::set1(1.0f);
  return V::div(one, V::add(one, vexp<V>(V::sub(V::zero(), x))));
}

// tanh: an odd Taylor polynomial near 0 (where 1 - 2/(e^2x + 1) would cancel), else the formula.
template <class V>
inline typename V::T vtanh(typename V::T x) {
  using T = typename V::T;
  const T ax = V::abs(x);
  const T one = V::set1(1.0f);
  const T far = V::sub(one, V::div(V::set1(2.0f), V::add(vexp<V>(V::add(ax, ax)), one)));
  const T x2 = V::mul(ax, ax);
  T p = V::set1(62.0f / 2835.0f);
  p = V::fma(p, x2, V::set1(-17.0f / 315.0f));
  p = V::fma(p, x2, V::set1(2.0f / 15.0f));
  p = V::fma(p, x2, V::set1(-1.0f / 3.0f));
  p = V::fma(p, x2, one);
  const T near = V::mul(p, ax);
  return V::copysign(V::select_lt(ax, V::set1(0.3f), near, far), x);
}

template <class V>
inline typename V::T apply(typename V::T x, Activation act) {
  switch (act) {
    case Activation::relu: return V::max(x, V::zero());
    case Activation::sigmoid: return vsigmoid<V>(x);
    case Activation::tanh: return vtanh<V>(x);
    default: return x;
  }
}

template <class V>
void activation(size_t n, const float* x, float* y, Activation act) {
  constexpr size_t W = V::width;
  size_t i = 0;
  for (; i + W <= n; i += W) V::store(y + i, apply<V>(V::load(x + i), act));
  if (i < n) V::store_n(y + i, apply<V>(V::load_n(x + i, n - i), act), n - i);
}

// f'(x) times dy, written through the output y = f(x); the same operations, in the same order, as
// a scalar dy * (y * (1 - y)) etc., so every ISA gives the same result.
template <class V>
inline typename V::T apply_backward(typename V::T g, typename V::T y, Activation act) {
  const typename V::T one = V::set1(1.0f);
  switch (act) {
    case Activation::relu: return V::select_lt(V::zero(), y, g, V::zero());
    case Activation::sigmoid: return V::mul(g, V::mul(y, V::sub(one, y)));
    case Activation::tanh: return V::mul(g, V::sub(one, V::mul(y, y)));
    default: return g;
  }
}

template <class V>
void activation_backward(size_t n, const float* dy, const float* y, float* dx, Activation act) {
  constexpr size_t W = V::width;
  size_t i = 0;
  for (; i + W <= n; i += W) V::store(dx + i, apply_backward<V>(V::load(dy + i), V::load(y + i), act));
  if (i < n)
    V::store_n(dx + i, apply_backward<V>(V::load_n(dy + i, n - i), V::load_n(y + i, n - i), act), n - i);
}

template <class V>
void softmax_row(size_t n, const float* x, float* y) {
  using T = typename V::T;
  constexpr size_t W = V::width;
  T m = V::set1(-__builtin_inff());
  size_t i = 0;
  for (; i + W <= n; i += W) m = V::max(m, V::load(x + i));
  float mx = V::reduce_max(m);
  for (; i < n; ++i) mx = x[i] > mx ? x[i] : mx;
  const T vmx = V::set1(mx);
  T s = V::zero();
  for (i = 0; i + W <= n; i += W) {
    const T e = vexp<V>(V::sub(V::load(x + i), vmx));
    V::store(y + i, e);
    s = V::add(s, e);
  }
  float sum = V::reduce_add(s);
  if (i < n) {
    const T e = vexp<V>(V::sub(V::load_n(x + i, n - i), vmx));
    V::store_n(y + i, e, n - i);
    for (size_t k = i; k < n; ++k) sum += y[k];
  }
  const T inv = V::set1(1.0f / sum);
  for (i = 0; i + W <= n; i += W) V::store(y + i, V::mul(V::load(y + i), inv));
  if (i < n) V::store_n(y + i, V::mul(V::load_n(y + i, n - i), inv), n - i);
}

}  // namespace
}  // namespace foveal
