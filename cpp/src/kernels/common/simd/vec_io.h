// Loads and stores of float vectors from float or uint8 memory, so one kernel body serves both
// pixel types (uint8 stores round half to even and saturate), and the lane count of a row's tail.
// Include after a vec_<isa>.h.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {
namespace {

template <class V> inline typename V::T vload(const float* p) { return V::load(p); }
template <class V> inline typename V::T vload(const uint8_t* p) { return V::load_u8(p); }
template <class V> inline typename V::T vload_n(const float* p, size_t n) { return V::load_n(p, n); }
template <class V> inline typename V::T vload_n(const uint8_t* p, size_t n) { return V::load_u8_n(p, n); }
template <class V> inline void vstore(float* p, typename V::T v) { V::store(p, v); }
template <class V> inline void vstore(uint8_t* p, typename V::T v) { V::store_u8(p, v); }
template <class V> inline void vstore_n(float* p, typename V::T v, size_t n) { V::store_n(p, v, n); }
template <class V> inline void vstore_n(uint8_t* p, typename V::T v, size_t n) { V::store_u8_n(p, v, n); }

// Lanes of the vector that starts at element j of a row of c: V::width, or fewer at the tail.
template <class V>
inline size_t lanes(size_t c, size_t j) {
  return c - j < V::width ? c - j : V::width;
}

}  // namespace
}  // namespace foveal
