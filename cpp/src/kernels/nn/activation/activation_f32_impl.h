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

// c[0] x^(N-1) + c[1] x^(N-2) + ... + c[N-1] by Horner's rule, one multiply-add per step.
template <class V, size_t N>
inline typename V::T vhorner(typename V::T x, const float (&c)[N]) {
  typename V::T p = V::set1(c[0]);
#pragma GCC unroll 16
  for (size_t i = 1; i < N; ++i) p = V::fma(p, x, V::set1(c[i]));
  return p;
}

// expm1(x) = e^x - 1 without the cancellation near 0: the degree-8 Taylor polynomial for
// |x| < 0.5 (error below 2e-8 relative), vexp(x) - 1 elsewhere.
template <class V>
inline typename V::T vexpm1(typename V::T x) {
  static constexpr float kTaylor[] = {1.0f / 40320.0f, 1.0f / 5040.0f, 1.0f / 720.0f, 1.0f / 120.0f,
                                      1.0f / 24.0f,    1.0f / 6.0f,    0.5f,           1.0f};
  const typename V::T near = V::mul(vhorner<V>(x, kTaylor), x);
  const typename V::T far = V::sub(vexp<V>(x), V::set1(1.0f));
  return V::select_lt(V::abs(x), V::set1(0.5f), near, far);
}

// log(1 + u) for u in [0, 1]: 2 atanh(s), s = u / (2 + u) <= 1/3, by its odd series to s^15
// (error below 1e-9); relative accuracy holds as u -> 0.
template <class V>
inline typename V::T vlog1p01(typename V::T u) {
  static constexpr float kAtanh[] = {1.0f / 15.0f, 1.0f / 13.0f, 1.0f / 11.0f, 1.0f / 9.0f,
                                     1.0f / 7.0f,  1.0f / 5.0f,  1.0f / 3.0f,  1.0f};
  const typename V::T s = V::div(u, V::add(V::set1(2.0f), u));
  return V::mul(V::add(s, s), vhorner<V>(V::mul(s, s), kAtanh));
}

// The standard normal CDF Phi(x) = erfc(-x / sqrt 2) / 2, with erfc(z), z >= 0, by the Chebyshev
// fit of Numerical Recipes (erfcc: fractional error below 1.2e-7 for every z): relative accuracy
// in both tails, so x * Phi(x) stays accurate for x -> -inf as well.
template <class V>
inline typename V::T vnormcdf(typename V::T x) {
  using T = typename V::T;
  static constexpr float kErfc[] = {0.17087277f,  -0.82215223f, 1.48851587f, -1.13520398f,
                                    0.27886807f,  -0.18628806f, 0.09678418f, 0.37409196f,
                                    1.00002368f,  -1.26551223f};
  const T z = V::mul(V::abs(x), V::set1(0.70710678118654752f));
  const T t = V::div(V::set1(1.0f), V::fma(V::set1(0.5f), z, V::set1(1.0f)));
  const T e = vexp<V>(V::sub(vhorner<V>(t, kErfc), V::mul(z, z)));
  const T lower = V::mul(V::mul(V::set1(0.5f), t), e);  // Phi(-|x|)
  return V::select_lt(x, V::zero(), lower, V::sub(V::set1(1.0f), lower));
}

// relu6(x + 3) / 6: the division as Keras writes it, so the kinks at -3 and 3 are exact.
template <class V>
inline typename V::T vhard_sigmoid(typename V::T x) {
  const typename V::T r = V::min(V::max(V::add(x, V::set1(3.0f)), V::zero()), V::set1(6.0f));
  return V::div(r, V::set1(6.0f));
}

constexpr float kLeakySlope = 0.2f;  // Keras 3 leaky_relu's negative_slope

template <class V, Activation A>
inline typename V::T apply(typename V::T x) {
  const typename V::T zero = V::zero();
  if constexpr (A == Activation::relu) return V::max(x, zero);
  else if constexpr (A == Activation::sigmoid) return vsigmoid<V>(x);
  else if constexpr (A == Activation::tanh) return vtanh<V>(x);
  else if constexpr (A == Activation::relu6) return V::min(V::max(x, zero), V::set1(6.0f));
  else if constexpr (A == Activation::hard_sigmoid) return vhard_sigmoid<V>(x);
  else if constexpr (A == Activation::hard_silu) return V::mul(x, vhard_sigmoid<V>(x));
  else if constexpr (A == Activation::silu) return V::mul(x, vsigmoid<V>(x));
  else if constexpr (A == Activation::gelu) return V::mul(x, vnormcdf<V>(x));
  else if constexpr (A == Activation::leaky_relu)
    return V::select_lt(zero, x, x, V::mul(x, V::set1(kLeakySlope)));
  else if constexpr (A == Activation::elu) return V::select_lt(zero, x, x, vexpm1<V>(x));
  else if constexpr (A == Activation::softplus)
    return V::add(V::max(x, zero), vlog1p01<V>(vexp<V>(V::sub(zero, V::abs(x)))));
  else return x;
}

template <class V, Activation A>
void activation_loop(size_t n, const float* x, float* y) {
  constexpr size_t W = V::width;
  size_t i = 0;
  for (; i + W <= n; i += W) V::store(y + i, apply<V, A>(V::load(x + i)));
  if (i < n) V::store_n(y + i, apply<V, A>(V::load_n(x + i, n - i)), n - i);
}

// f'(x) times g. From the output y = f(x) (s = y) for most, written as the scalar formulas
// (g * (y * (1 - y)) etc.) in the same order on every ISA; from the input x (s = x) where
// activation_grad_from_input(A): silu, hard_silu and gelu. The kinks follow TensorFlow's
// gradients (Keras 3): relu6 and hard_sigmoid pass nothing at either end of their linear part,
// leaky_relu has slope 0.2 at 0, elu's gradient is g * (y + 1) below 0 (TF's EluGrad).
template <class V, Activation A>
inline typename V::T apply_backward(typename V::T g, typename V::T s) {
  using T = typename V::T;
  const T one = V::set1(1.0f), zero = V::zero();
  if constexpr (A == Activation::relu) return V::select_lt(zero, s, g, zero);
  else if constexpr (A == Activation::sigmoid) return V::mul(g, V::mul(s, V::sub(one, s)));
  else if constexpr (A == Activation::tanh) return V::mul(g, V::sub(one, V::mul(s, s)));
  else if constexpr (A == Activation::relu6)
    return V::select_lt(zero, s, V::select_lt(s, V::set1(6.0f), g, zero), zero);
  else if constexpr (A == Activation::hard_sigmoid)
    return V::select_lt(zero, s, V::select_lt(s, one, V::div(g, V::set1(6.0f)), zero), zero);
  else if constexpr (A == Activation::hard_silu) {
    // hard_sigmoid(x) + x/6 on the linear part (-3 < x < 3)
    const T t = V::add(s, V::set1(3.0f));
    const T on_ramp = V::select_lt(t, V::set1(6.0f), V::div(s, V::set1(6.0f)), zero);
    const T inner = V::select_lt(zero, t, on_ramp, zero);
    return V::mul(g, V::add(vhard_sigmoid<V>(s), inner));
  } else if constexpr (A == Activation::silu) {
    const T sg = vsigmoid<V>(s);  // sigmoid(x) (1 + x (1 - sigmoid(x))), TF's SiLU gradient
    return V::mul(g, V::mul(sg, V::add(one, V::mul(s, V::sub(one, sg)))));
  } else if constexpr (A == Activation::gelu) {
    // Phi(x) + x phi(x), phi(x) = exp(-x^2 / 2) / sqrt(2 pi)
    const T phi = V::mul(vexp<V>(V::mul(V::set1(-0.5f), V::mul(s, s))), V::set1(0.398942280401432678f));
    return V::mul(g, V::add(vnormcdf<V>(s), V::mul(s, phi)));
  } else if constexpr (A == Activation::leaky_relu)
    return V::select_lt(zero, s, g, V::mul(g, V::set1(kLeakySlope)));
  else if constexpr (A == Activation::elu) return V::select_lt(s, zero, V::mul(g, V::add(s, one)), g);
  else if constexpr (A == Activation::softplus)  // sigmoid(x) = 1 - exp(-y)
    return V::mul(g, V::sub(zero, vexpm1<V>(V::sub(zero, s))));
  else return g;
}

template <class V, Activation A>
void activation_backward_loop(size_t n, const float* dy, const float* src, float* dx) {
  constexpr size_t W = V::width;
  size_t i = 0;
  for (; i + W <= n; i += W) V::store(dx + i, apply_backward<V, A>(V::load(dy + i), V::load(src + i)));
  if (i < n)
    V::store_n(dx + i, apply_backward<V, A>(V::load_n(dy + i, n - i), V::load_n(src + i, n - i)), n - i);
}

// Every Activation, for the switches below: one switch per call picks the loop instantiated for
// that activation, so no value pays for a branch on it.
#define FOVEAL_ACTIVATION_CASES(X)                                                          \
  X(none) X(relu) X(sigmoid) X(tanh) X(relu6) X(hard_sigmoid) X(hard_silu) X(silu) X(gelu) \
  X(leaky_relu) X(elu) X(softplus)

template <class V>
void activation(size_t n, const float* x, float* y, Activation act) {
  switch (act) {
#define FOVEAL_CASE(a) case Activation::a: return activation_loop<V, Activation::a>(n, x, y);
    FOVEAL_ACTIVATION_CASES(FOVEAL_CASE)
#undef FOVEAL_CASE
  }
}

template <class V>
void activation_backward(size_t n, const float* dy, const float* src, float* dx, Activation act) {
  switch (act) {
#define FOVEAL_CASE(a) case Activation::a: return activation_backward_loop<V, Activation::a>(n, dy, src, dx);
    FOVEAL_ACTIVATION_CASES(FOVEAL_CASE)
#undef FOVEAL_CASE
  }
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
