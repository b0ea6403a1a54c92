// The _core extension module: build facts, threads and ISA control here; each area's functions
// are bound in its own file (nn.cpp, ...).
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <limits>
#include <string>

#include "bindings/common.h"
#include "core/buffer_pool.h"
#include "foveal/dispatch.h"
#include "foveal/threading.h"

#ifndef FOVEAL_VERSION
#define FOVEAL_VERSION "0.0.0"
#endif

namespace py = pybind11;

namespace foveal::bind {
void init_nn(py::module_& m);
void init_image(py::module_& m);
void init_train(py::module_& m);
void init_threads(py::module_& m);
void init_resample2d(py::module_& m);
}

namespace {

std::string compiler_string() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#elif defined(_MSC_VER)
  return "msvc " + std::to_string(_MSC_VER);
#else
  return "unknown";
#endif
}

py::dict build_info() {
  py::dict d;
  d["version"] = FOVEAL_VERSION;
  d["compiler"] = compiler_string();
  d["openmp"] = foveal::openmp_enabled();
#if defined(_OPENMP)
  d["openmp_version"] = _OPENMP;
#else
  d["openmp_version"] = py::none();
#endif
  d["cpu_features"] = foveal::cpu_feature_names();
  d["isa"] = foveal::isa_name(foveal::kernels().isa);
  d["isa_best"] = foveal::isa_name(foveal::best_supported_isa());
  py::list isas;
  for (foveal::Isa i : foveal::supported_isas()) isas.append(foveal::isa_name(i));
  d["isas_available"] = isas;
  d["gemm_tile"] = py::make_tuple(foveal::kernels().gemm_tile.mr, foveal::kernels().gemm_tile.nr);
  d["cuda_compiled"] = false;
  d["cuda_available"] = false;
  d["num_threads"] = foveal::get_num_threads();
  d["sanitize"] = FOVEAL_SANITIZE;  // "" in a normal build; "address,undefined" in a test build
  return d;
}

#if defined(FOVEAL_SANITIZE_SELFTEST)
// Sanitizer builds only: one deliberate fault of each kind, so that tests/sanitizer_run.py can
// show the instrumentation reports them before it trusts a clean run.
void init_sanitizer_selftest(py::module_& m) {
  m.def("_sanitizer_selftest", [](const std::string& kind, int n) {
    if (kind == "overflow") {
      volatile char* p = new char[static_cast<size_t>(n)];
      const char c = p[n];  // one past the end
      delete[] p;
      return static_cast<int>(c);
    }
    if (kind == "leak") {
      volatile char* p = new char[static_cast<size_t>(n)];
      p[0] = 1;
      p = nullptr;  // lost
      return 0;
    }
    if (kind == "ub") {
      volatile int big = std::numeric_limits<int>::max();
      return big + n;  // signed overflow for n > 0
    }
    foveal::bind::fail("kind must be 'overflow', 'leak' or 'ub', got '" + kind + "'");
    return 0;
  }, py::arg("kind"), py::arg("n") = 16);
}
#endif

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "foveal native core: SIMD kernels with runtime CPU dispatch, on its own thread pool";
  m.attr("__version__") = FOVEAL_VERSION;

  m.def("build_info", &build_info, "Version, compiler, OpenMP, CPU features and the kernel ISA in use.");
  m.def("get_num_threads", &foveal::get_num_threads, "Threads the native kernels use.");
  m.def("set_num_threads", [](long n) {
    foveal::bind::require_positive(n, "n");
    foveal::set_num_threads(static_cast<int>(n > 1024 ? 1024 : n));
  }, py::arg("n"), "Sets the threads the native kernels use (n >= 1).");

  m.def("available_isas", [] {
    std::vector<std::string> names;
    for (foveal::Isa i : foveal::supported_isas()) names.emplace_back(foveal::isa_name(i));
    return names;
  }, "Kernel ISAs this CPU and OS support, lowest first.");
  m.def("get_isa", [] { return std::string(foveal::isa_name(foveal::kernels().isa)); },
        "The kernel ISA in use.");
  m.def("set_isa", [](const std::string& name) {
    foveal::Isa isa;
    if (!foveal::parse_isa(name, &isa))
      foveal::bind::fail("isa must be one of 'scalar', 'avx2', 'avx512', got '" + name + "'");
    if (!foveal::select_isa(isa))
      foveal::bind::fail("isa '" + name + "' is not supported by this CPU");
  }, py::arg("isa"), "Switches the kernel table (for tests and benchmarks).");
  m.def("kernel_names", [] {
    std::vector<std::string> names;
    for (const auto& entry : foveal::kernel_symbols(foveal::Isa::scalar)) names.push_back(entry.first);
    return names;
  }, "The kernel table's fields, in the order of cpp/include/foveal/kernel_list.h.");
  m.def("kernel_table", [](const std::string& name) {
    foveal::Isa isa;
    if (!foveal::parse_isa(name, &isa))
      foveal::bind::fail("isa must be one of 'scalar', 'avx2', 'avx512', got '" + name + "'");
    py::dict d;
    for (const auto& [field, symbol] : foveal::kernel_symbols(isa)) d[field.c_str()] = symbol;
    return d;
  }, py::arg("isa"),
     "The symbol each kernel-table field holds for an ISA ('gemm' -> 'gemm_f32__avx2'); builds "
     "without that ISA's kernels hold the scalar ones.");
  m.def("buffer_cache_info", [] {
    py::dict d;
    d["cached_bytes"] = foveal::pool_cached_bytes();
    d["capacity_bytes"] = foveal::pool_capacity_bytes();
    d["min_buffer_bytes"] = foveal::kPoolMinBytes;
    return d;
  }, "The cache of large output buffers: bytes cached now (not in use), its cap "
     "(FOVEAL_BUFFER_CACHE_MB) and the smallest buffer it keeps.");
  m.def("release_buffer_cache", &foveal::pool_release,
        "Returns every cached (unused) output buffer to the system.");
  m.def("_isa_env_warning", [] { return foveal::isa_env_warning(); });

  foveal::bind::init_nn(m);
  foveal::bind::init_image(m);
  foveal::bind::init_train(m);
  foveal::bind::init_threads(m);
  foveal::bind::init_resample2d(m);
#if defined(FOVEAL_SANITIZE_SELFTEST)
  init_sanitizer_selftest(m);
#endif
}
