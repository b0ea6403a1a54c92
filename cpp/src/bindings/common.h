// Helpers shared by the binding files: argument checks that raise ValueError naming the argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <string>
#include <vector>

#include "core/buffer_pool.h"

namespace foveal::bind {

namespace py = pybind11;
template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;
using FloatArray = CArray<float>;

// A new C-contiguous output array; large ones come from the buffer cache (see buffer_pool.h) and
// go back to it when NumPy frees the array.
template <class T>
CArray<T> new_array(const std::vector<py::ssize_t>& shape) {
  size_t n = 1;
  for (py::ssize_t d : shape) n *= static_cast<size_t>(d);
  if (n * sizeof(T) < kPoolMinBytes) return CArray<T>(shape);
  void* data = pool_alloc(n * sizeof(T));
  py::capsule owner(data, [](void* p) { pool_free(p); });
  return CArray<T>(shape, static_cast<T*>(data), owner);
}

[[noreturn]] inline void fail(const std::string& msg) { throw py::value_error(msg); }

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

inline void require_ndim(const py::array& a, py::ssize_t ndim, const char* name, const char* layout) {
  if (a.ndim() != ndim)
    fail(std::string(name) + " must be " + std::to_string(ndim) + "-D (" + layout + "), got shape " + shape_str(a));
}

inline void require_nonempty(const py::array& a, const char* name) {
  for (py::ssize_t i = 0; i < a.ndim(); ++i)
    if (a.shape(i) == 0) fail(std::string(name) + " must not be empty, got shape " + shape_str(a));
}

inline void require_positive(long v, const char* name) {
  if (v < 1) fail(std::string(name) + " must be >= 1, got " + std::to_string(v));
}

inline void require_finite(double v, const char* name) {
  if (!std::isfinite(v)) fail(std::string(name) + " must be finite, got " + std::to_string(v));
}

inline void require_nonnegative(long v, const char* name) {
  if (v < 0) fail(std::string(name) + " must be >= 0, got " + std::to_string(v));
}

}  // namespace foveal::bind
