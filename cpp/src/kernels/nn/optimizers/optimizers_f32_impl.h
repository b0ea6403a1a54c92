// Optimizer update kernels (Keras 3's SGD, Adam and RMSprop rules), in place.
// One body for every ISA: each optimizers_f32__<isa>.cpp instantiates it with its vector type.
// Every lane does the same float operations in the same order as the scalar code (and as the
// NumPy formulas in python/foveal/nn), so the ISAs agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"
#include "kernels/common/simd/vec_io.h"

namespace foveal {
namespace {

// SGD (Keras 3): step = g*lr; plain: w -= step; momentum: m = m*mu - step, then w += m*mu - step
// (nesterov) or w += m.
template <class V>
void sgd_step(size_t n, float* w, const float* g, float* m, const SgdParams& p) {
  using T = typename V::T;
  const T lr = V::set1(p.lr), mu = V::set1(p.momentum);
  for (size_t i = 0; i < n; i += V::width) {
    const size_t k = lanes<V>(n, i);
    const T step = V::mul(V::load_n(g + i, k), lr);
    T wv = V::load_n(w + i, k);
    if (m == nullptr) {
      wv = V::sub(wv, step);
    } else {
      const T mv = V::sub(V::mul(V::load_n(m + i, k), mu), step);
      V::store_n(m + i, mv, k);
      wv = V::add(wv, p.nesterov ? V::sub(V::mul(mv, mu), step) : mv);
    }
    V::store_n(w + i, wv, k);
  }
}

// Adam (Keras 3): m += (g - m)*(1 - b1); v += (g*g - v)*(1 - b2); w -= (m*alpha)/(sqrt(v) + eps).
template <class V>
void adam_step(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p) {
  using T = typename V::T;
  const T c1 = V::set1(p.one_minus_beta1), c2 = V::set1(p.one_minus_beta2);
  const T alpha = V::set1(p.alpha), eps = V::set1(p.epsilon);
  for (size_t i = 0; i < n; i += V::width) {
    const size_t k = lanes<V>(n, i);
    const T gv = V::load_n(g + i, k);
    T mv = V::load_n(m + i, k), vv = V::load_n(v + i, k);
    mv = V::add(mv, V::mul(V::sub(gv, mv), c1));
    vv = V::add(vv, V::mul(V::sub(V::mul(gv, gv), vv), c2));
    V::store_n(m + i, mv, k);
    V::store_n(v + i, vv, k);
    const T denom = V::add(V::sqrt(vv), eps);
    V::store_n(w + i, V::sub(V::load_n(w + i, k), V::div(V::mul(mv, alpha), denom)), k);
  }
}

// RMSprop (Keras 3): v = v*rho + (1-rho)*(g*g); centered: a = a*rho + (1-rho)*g and
// denom = (v - a*a) + eps, else v + eps; inc = (lr*g)/sqrt(denom); w -= inc, or with momentum
// m = m*mu + inc and w -= m.
template <class V>
void rmsprop_step(size_t n, float* w, const float* g, float* v, float* m, float* a,
                  const RmspropParams& p) {
  using T = typename V::T;
  const T rho = V::set1(p.rho), om = V::set1(p.one_minus_rho), lr = V::set1(p.lr);
  const T mu = V::set1(p.momentum), eps = V::set1(p.epsilon);
  for (size_t i = 0; i < n; i += V::width) {
    const size_t k = lanes<V>(n, i);
    const T gv = V::load_n(g + i, k);
    const T vv = V::add(V::mul(V::load_n(v + i, k), rho), V::mul(om, V::mul(gv, gv)));
    V::store_n(v + i, vv, k);
    T denom;
    if (a != nullptr) {
      const T av = V::add(V::mul(V::load_n(a + i, k), rho), V::mul(om, gv));
      V::store_n(a + i, av, k);
      denom = V::add(V::sub(vv, V::mul(av, av)), eps);
    } else {
      denom = V::add(vv, eps);
    }
    T inc = V::div(V::mul(lr, gv), V::sqrt(denom));
    if (m != nullptr) {
      inc = V::add(V::mul(V::load_n(m + i, k), mu), inc);
      V::store_n(m + i, inc, k);
    }
    V::store_n(w + i, V::sub(V::load_n(w + i, k), inc), k);
  }
}

}  // namespace
}  // namespace foveal
