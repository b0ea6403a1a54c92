// Dropout kernel: a counter-based hash of each element's global index decides whether it is kept.
// One body for every ISA: each dropout_f32__<isa>.cpp instantiates it with its vector type.
// Every lane does the same float operations in the same order as the scalar code (and as the
// NumPy formulas in python/foveal/nn), so the ISAs agree bit for bit.
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"
#include "kernels/common/simd/vec_io.h"

namespace foveal {
namespace {

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

}  // namespace
}  // namespace foveal
