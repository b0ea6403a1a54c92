// Training kernels: batch-normalization statistics and maps, dropout and optimizer updates. One
// body for every ISA: each train_f32__<isa>.cpp instantiates it with its vector type. Every lane
// does the same float operations in the same order as the scalar code (and as the NumPy formulas in
// python/foveal/nn), so the ISAs agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"

namespace foveal {
namespace {

template <class V>
inline size_t lanes(size_t c, size_t j) {
  return c - j < V::width ? c - j : V::width;
}

template <class V>
void channel_moments(size_t rows, size_t c, const float* x, const float* shift, float* sum,
                     float* sumsq) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    const T sh = shift ? V::load_n(shift + j, n) : V::zero();
    T s = V::zero(), q = V::zero();
    for (size_t i = 0; i < rows; ++i) {
      const T d = V::sub(V::load_n(x + i * c + j, n), sh);
      s = V::add(s, d);
      q = V::add(q, V::mul(d, d));
    }
    V::store_n(sum + j, s, n);
    if (sumsq) V::store_n(sumsq + j, q, n);
  }
}

template <class V>
void channel_dot(size_t rows, size_t c, const float* a, const float* b, float* sum_a, float* sum_ab) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    T s = V::zero(), d = V::zero();
    for (size_t i = 0; i < rows; ++i) {
      const T av = V::load_n(a + i * c + j, n);
      s = V::add(s, av);
      d = V::add(d, V::mul(av, V::load_n(b + i * c + j, n)));
    }
    V::store_n(sum_a + j, s, n);
    V::store_n(sum_ab + j, d, n);
  }
}

template <class V>
void channel_affine(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y,
                    float* t_out) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    const T sh = V::load_n(p.shift + j, n), sc = V::load_n(p.scale + j, n);
    const T mu = p.mul ? V::load_n(p.mul + j, n) : V::zero(), ad = V::load_n(p.add + j, n);
    for (size_t i = 0; i < rows; ++i) {
      const size_t o = i * c + j;
      const T t = V::mul(V::sub(V::load_n(x + o, n), sh), sc);
      if (t_out) V::store_n(t_out + o, t, n);
      V::store_n(y + o, V::add(p.mul ? V::mul(t, mu) : t, ad), n);
    }
  }
}

template <class V>
void bn_backward(size_t rows, size_t c, const float* dy, const float* xhat, const float* mean_dy,
                 const float* mean_dy_xhat, const float* scale, float* dx) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    const T md = V::load_n(mean_dy + j, n), mdx = V::load_n(mean_dy_xhat + j, n);
    const T sc = V::load_n(scale + j, n);
    for (size_t i = 0; i < rows; ++i) {
      const size_t o = i * c + j;
      const T g = V::sub(V::sub(V::load_n(dy + o, n), md), V::mul(V::load_n(xhat + o, n), mdx));
      V::store_n(dx + o, V::mul(g, sc), n);
    }
  }
}

// Two rounds of the murmur3 finalizer over the index, keyed before each round.
template <class V>
inline typename V::I dropout_hash(typename V::I x, const DropoutParams& p) {
  x = V::iadd_v(V::imul(x, 0x9E3779B1u), V::iset1(p.key0));
  x = V::imul(V::ixor(x, V::isrl(x, 16)), 0x85EBCA6Bu);
  x = V::imul(V::ixor(x, V::isrl(x, 13)), 0xC2B2AE35u);
  x = V::ixor(V::ixor(x, V::isrl(x, 16)), V::iset1(p.key1));
  x = V::imul(V::ixor(x, V::isrl(x, 16)), 0x7FEB352Du);
  x = V::imul(V::ixor(x, V::isrl(x, 15)), 0x846CA68Bu);
  return V::ixor(x, V::isrl(x, 16));
}

template <class V>
void dropout(size_t n, const float* x, float* y, float* mask, const DropoutParams& p) {
  using T = typename V::T;
  const T scale = V::set1(p.scale);
  const typename V::I threshold = V::iset1(static_cast<uint32_t>(p.threshold));
  for (size_t i = 0; i < n; i += V::width) {
    const size_t k = lanes<V>(n, i);
    const typename V::I index = V::iadd_v(V::iset1(p.index0 + static_cast<uint32_t>(i)), V::iota_i());
    const T m = V::select_ilt(V::isrl(dropout_hash<V>(index, p), 8), threshold, scale);
    V::store_n(mask + i, m, k);
    V::store_n(y + i, V::mul(V::load_n(x + i, k), m), k);
  }
}

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
