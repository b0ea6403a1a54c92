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

}  // namespace
}  // namespace foveal
