// Batch-normalization kernels: per-channel column statistics, the per-channel affine map and the
// input gradient, on rows x c matrices.
// One body for every ISA: each batchnorm_f32__<isa>.cpp instantiates it with its vector type.
// Every lane does the same float operations in the same order as the scalar code (and as the
// NumPy formulas in python/foveal/nn), so the ISAs agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"
#include "kernels/common/simd/vec_io.h"

namespace foveal {
namespace {

// The column reductions below keep four independent partial sums per vector (rows i, i+1, i+2,
// i+3; the leftover rows go to the first), added as (s0 + s1) + (s2 + s3) at the end: one chain
// of dependent adds would limit them to a vector per add latency, well below memory speed.
constexpr size_t kSumLanes = 4;

template <class V>
inline typename V::T sum_partials(const typename V::T* p) {
  return V::add(V::add(p[0], p[1]), V::add(p[2], p[3]));
}

template <class V>
void channel_moments(size_t rows, size_t c, const float* x, const float* shift, float* sum,
                     float* sumsq) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    const T sh = shift ? V::load_n(shift + j, n) : V::zero();
    T s[kSumLanes], q[kSumLanes];
    for (size_t u = 0; u < kSumLanes; ++u) s[u] = q[u] = V::zero();
    size_t i = 0;
    for (; i + kSumLanes <= rows; i += kSumLanes)
      for (size_t u = 0; u < kSumLanes; ++u) {
        const T d = V::sub(V::load_n(x + (i + u) * c + j, n), sh);
        s[u] = V::add(s[u], d);
        q[u] = V::add(q[u], V::mul(d, d));
      }
    for (; i < rows; ++i) {
      const T d = V::sub(V::load_n(x + i * c + j, n), sh);
      s[0] = V::add(s[0], d);
      q[0] = V::add(q[0], V::mul(d, d));
    }
    V::store_n(sum + j, sum_partials<V>(s), n);
    if (sumsq) V::store_n(sumsq + j, sum_partials<V>(q), n);
  }
}

template <class V>
void channel_dot(size_t rows, size_t c, const float* a, const float* b, float* sum_a, float* sum_ab) {
  using T = typename V::T;
  for (size_t j = 0; j < c; j += V::width) {
    const size_t n = lanes<V>(c, j);
    T s[kSumLanes], d[kSumLanes];
    for (size_t u = 0; u < kSumLanes; ++u) s[u] = d[u] = V::zero();
    size_t i = 0;
    for (; i + kSumLanes <= rows; i += kSumLanes)
      for (size_t u = 0; u < kSumLanes; ++u) {
        const T av = V::load_n(a + (i + u) * c + j, n);
        s[u] = V::add(s[u], av);
        d[u] = V::add(d[u], V::mul(av, V::load_n(b + (i + u) * c + j, n)));
      }
    for (; i < rows; ++i) {
      const T av = V::load_n(a + i * c + j, n);
      s[0] = V::add(s[0], av);
      d[0] = V::add(d[0], V::mul(av, V::load_n(b + i * c + j, n)));
    }
    V::store_n(sum_a + j, sum_partials<V>(s), n);
    V::store_n(sum_ab + j, sum_partials<V>(d), n);
  }
}

// The activation a batch normalization may end with: none, relu or relu6.
template <class V>
inline typename V::T bn_activate(typename V::T y, Activation a) {
  if (a == Activation::relu) return V::max(y, V::zero());
  if (a == Activation::relu6) return V::min(V::max(y, V::zero()), V::set1(6.0f));
  return y;
}

// g where that activation's gradient passes at its input z (0 < z, and z < 6 for relu6), else 0.
template <class V>
inline typename V::T bn_mask(typename V::T g, typename V::T z, Activation a) {
  const typename V::T zero = V::zero();
  if (a == Activation::relu) return V::select_lt(zero, z, g, zero);
  if (a == Activation::relu6) return V::select_lt(zero, z, V::select_lt(z, V::set1(6.0f), g, zero), zero);
  return g;
}

// The per-row maps below (channel_affine, bn_grad_input) run row by row, each row's channels
// in order, so that every array streams through memory once in address order (the hardware
// prefetchers keep up; a column at a time strides by a row per step and runs at half the
// speed); each channel's parameters are reloaded from L1 per row.
template <class V>
void channel_affine(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y,
                    float* t_out) {
  using T = typename V::T;
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < c; j += V::width) {
      const size_t n = lanes<V>(c, j), o = i * c + j;
      const T t = V::mul(V::sub(V::load_n(x + o, n), V::load_n(p.shift + j, n)), V::load_n(p.scale + j, n));
      if (t_out) V::store_n(t_out + o, t, n);
      const T u = p.mul ? V::mul(t, V::load_n(p.mul + j, n)) : t;
      V::store_n(y + o, bn_activate<V>(V::add(u, V::load_n(p.add + j, n)), p.activation), n);
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

// dz and xhat of one vector: xhat = (x - mean) * inv_std (the forward's formula), dz = dy masked
// where the fused activation passes nothing (z = xhat * gamma + beta, as the forward made it).
template <class V>
struct BnGradVectors {
  using T = typename V::T;
  T mean, inv_std, gamma, beta;
  Activation act;
  BnGradVectors(const BnBackwardParams& p, size_t j, size_t n)
      : mean(V::load_n(p.mean + j, n)), inv_std(V::load_n(p.inv_std + j, n)),
        gamma(V::load_n(p.gamma + j, n)), beta(V::load_n(p.beta + j, n)), act(p.activation) {}
  T xhat(T x) const { return V::mul(V::sub(x, mean), inv_std); }
  T dz(T dy, T t) const {
    return act == Activation::none ? dy : bn_mask<V>(dy, V::add(V::mul(t, gamma), beta), act);
  }
};

// The sums keep the column order's partial sums (row i adds into partial i % 4 of its channel,
// the rows past the last multiple of four into partial 0) but run row by row over blocks of
// kSumBlock channels, whose partials are kept in a block on the stack (in L1) rather than in
// registers.
constexpr size_t kSumBlock = 256;

template <class V>
void bn_grad_sums(size_t rows, size_t c, const float* dy, const float* x, const BnBackwardParams& p,
                  float* sum_dz, float* sum_dz_xhat) {
  using T = typename V::T;
  constexpr size_t kVecs = kSumBlock / V::width;
  T s[kSumLanes][kVecs], d[kSumLanes][kVecs];
  const size_t full = rows / kSumLanes * kSumLanes;
  for (size_t j0 = 0; j0 < c; j0 += kSumBlock) {
    const size_t j1 = c - j0 < kSumBlock ? c : j0 + kSumBlock;
    const size_t nv = (j1 - j0 + V::width - 1) / V::width;
    for (size_t u = 0; u < kSumLanes; ++u)
      for (size_t v = 0; v < nv; ++v) s[u][v] = d[u][v] = V::zero();
    for (size_t i = 0; i < rows; ++i) {
      const size_t u = i < full ? i % kSumLanes : 0;
      for (size_t v = 0, j = j0; v < nv; ++v, j += V::width) {
        const size_t n = lanes<V>(c, j);
        const BnGradVectors<V> g(p, j, n);
        const T t = g.xhat(V::load_n(x + i * c + j, n));
        const T dz = g.dz(V::load_n(dy + i * c + j, n), t);
        s[u][v] = V::add(s[u][v], dz);
        d[u][v] = V::add(d[u][v], V::mul(dz, t));
      }
    }
    for (size_t v = 0, j = j0; v < nv; ++v, j += V::width) {
      const size_t n = lanes<V>(c, j);
      static_assert(kSumLanes == 4, "four partials");
      const T ps[kSumLanes] = {s[0][v], s[1][v], s[2][v], s[3][v]};
      const T pd[kSumLanes] = {d[0][v], d[1][v], d[2][v], d[3][v]};
      V::store_n(sum_dz + j, sum_partials<V>(ps), n);
      V::store_n(sum_dz_xhat + j, sum_partials<V>(pd), n);
    }
  }
}

template <class V>
void bn_grad_input(size_t rows, size_t c, const float* dy, const float* x, const BnBackwardParams& p,
                   const float* mean_dz, const float* mean_dz_xhat, const float* scale, float* dx) {
  using T = typename V::T;
  for (size_t i = 0; i < rows; ++i)
    for (size_t j = 0; j < c; j += V::width) {
      const size_t n = lanes<V>(c, j), o = i * c + j;
      const BnGradVectors<V> v(p, j, n);
      const T t = v.xhat(V::load_n(x + o, n));
      const T g = V::sub(V::sub(v.dz(V::load_n(dy + o, n), t), V::load_n(mean_dz + j, n)),
                         V::mul(t, V::load_n(mean_dz_xhat + j, n)));
      V::store_n(dx + o, V::mul(g, V::load_n(scale + j, n)), n);
    }
}

}  // namespace
}  // namespace foveal
