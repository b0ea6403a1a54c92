// Helpers shared by the binding files: argument checks that raise ValueError naming the argument.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <new>
#include <optional>
#include <string>
#include <vector>

#include "core/buffer_pool.h"

namespace foveal::bind {

namespace py = pybind11;
template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;
using FloatArray = CArray<float>;

[[noreturn]] inline void fail(const std::string& msg) { throw py::value_error(msg); }

inline std::string shape_str(const std::vector<py::ssize_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

inline std::string shape_str(const py::array& a) {
  return shape_str(std::vector<py::ssize_t>(a.shape(), a.shape() + a.ndim()));
}

// A new C-contiguous output array; large ones come from the buffer cache (see buffer_pool.h) and
// go back to it when NumPy frees the array. The byte count is checked for overflow (ValueError,
// as NumPy's "array is too big") and a failed allocation is a MemoryError that gives the shape,
// as NumPy's, before any kernel could write past a short buffer.
template <class T>
CArray<T> new_array(const std::vector<py::ssize_t>& shape) {
  size_t bytes = sizeof(T);
  for (py::ssize_t d : shape) {
    if (d < 0 || (d != 0 && bytes > static_cast<size_t>(PTRDIFF_MAX) / static_cast<size_t>(d)))
      fail("the result of shape " + shape_str(shape) + " is too large to allocate");
    bytes *= static_cast<size_t>(d);
  }
  void* data = nullptr;
  if (bytes >= kPoolMinBytes) {
    try {
      data = pool_alloc(bytes);
    } catch (const std::bad_alloc&) {
      data = nullptr;
    }
    if (data == nullptr) {
      PyErr_Format(PyExc_MemoryError, "cannot allocate %zu bytes for the result of shape %s", bytes,
                   shape_str(shape).c_str());
      throw py::error_already_set();
    }
  } else {
    return CArray<T>(shape);
  }
  py::capsule owner(data, [](void* p) { pool_free(p); });
  return CArray<T>(shape, static_cast<T*>(data), owner);
}

// An input array of T: any array-like of real numbers (bool, int or float), converted to a
// C-contiguous array of T (copied only if needed). Complex, object and string arrays are a
// TypeError naming the argument: a cast would silently drop the imaginary part or parse text.
// A conversion that cannot be allocated raises NumPy's MemoryError.
template <class T>
CArray<T> to_array(const py::handle& obj, const char* name) {
  if (obj.is_none()) throw py::type_error(std::string(name) + " must be an array of real numbers, got None");
  auto& api = py::detail::npy_api::get();
  py::array a;
  if (py::isinstance<py::array>(obj)) {
    a = py::reinterpret_borrow<py::array>(obj);
  } else {
    PyObject* r = api.PyArray_FromAny_(obj.ptr(), nullptr, 0, 0, py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_, nullptr);
    if (r == nullptr) {
      py::error_already_set e;
      throw py::type_error(std::string(name) + " must be an array of real numbers: " + e.what());
    }
    a = py::reinterpret_steal<py::array>(r);
  }
  const char kind = a.dtype().kind();
  if (kind != 'b' && kind != 'i' && kind != 'u' && kind != 'f')
    throw py::type_error(std::string(name) + " must hold real numbers (bool, int or float), got dtype " +
                         std::string(py::str(a.dtype())));
  if (CArray<T>::check_(a)) return py::reinterpret_borrow<CArray<T>>(a);
  PyObject* r = api.PyArray_FromAny_(a.ptr(), py::dtype::of<T>().release().ptr(), 0, 0,
                                     py::detail::npy_api::NPY_ARRAY_ENSUREARRAY_ | py::array::c_style |
                                         py::array::forcecast,
                                     nullptr);
  if (r == nullptr) throw py::error_already_set();
  return py::reinterpret_steal<CArray<T>>(r);
}

inline FloatArray to_f32(const py::handle& obj, const char* name) { return to_array<float>(obj, name); }

inline std::optional<FloatArray> to_f32_opt(const py::handle& obj, const char* name) {
  if (obj.is_none()) return std::nullopt;
  return to_f32(obj, name);
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

inline std::string num_str(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

inline void require_finite(double v, const char* name) {
  if (!std::isfinite(v)) fail(std::string(name) + " must be finite, got " + num_str(v));
}

// A double the kernels use as a float: finite, and finite once rounded to float32 too (1e39 would
// become inf there and turn 0 * factor into NaN).
inline void require_finite_f32(double v, const char* name) {
  if (!std::isfinite(v) || std::fabs(v) > FLT_MAX)
    fail(std::string(name) + " must be finite (within the float32 range), got " + num_str(v));
}

inline void require_nonnegative(long v, const char* name) {
  if (v < 0) fail(std::string(name) + " must be >= 0, got " + std::to_string(v));
}

}  // namespace foveal::bind
