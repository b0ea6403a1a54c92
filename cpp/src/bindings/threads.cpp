// Bindings of the thread pool: the backend switch, the budget scope the data pipeline's decode
// workers enter, and the hooks the tests use to hold a worker back.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "bindings/common.h"
#include "foveal/thread_pool.h"

namespace py = pybind11;

namespace foveal {
namespace bind {

void init_threads(py::module_& m) {
  m.def("get_thread_backend", [] {
    return std::string(thread_backend() == ThreadBackend::kOpenMP ? "openmp" : "pool");
  }, "What runs the kernels' parallel loops: 'pool' (foveal's own) or 'openmp'.");
  m.def("set_thread_backend", [](const std::string& name) {
    if (name != "pool" && name != "openmp") fail("backend must be 'pool' or 'openmp', got '" + name + "'");
    if (!set_thread_backend(name == "openmp" ? ThreadBackend::kOpenMP : ThreadBackend::kPool))
      fail("backend 'openmp' is not available: this build has no OpenMP");
  }, py::arg("backend"), "Chooses the backend of the kernels' parallel loops (for comparisons).");

  // A thread busy with foveal work outside the kernels (decoding): counts against
  // get_num_threads() while inside; entering waits, GIL released, while the budget is full.
  m.def("_budget_enter", [] {
    py::gil_scoped_release nogil;
    budget_enter();
  }, "Counts this thread busy with foveal work (waits while the budget is full).");
  m.def("_budget_exit", &budget_exit, "Ends _budget_enter.");
  m.def("_budget_busy", &budget_busy, "Threads counted against the budget now.");

  m.def("_pool_hold_worker", [](int worker, bool hold) {
    if (worker < 1) fail("worker must be >= 1, got " + std::to_string(worker));
    pool_hold_worker(worker, hold);
  }, py::arg("worker"), py::arg("hold"), "Test hook: a held worker claims no chunk until released.");
  m.def("_pool_workers", &pool_workers, "Workers started so far.");
  m.def("_pool_chunk_counts", [] {
    std::vector<long long> c(static_cast<size_t>(pool_workers()) + 1);
    pool_chunk_counts(c.data(), static_cast<int>(c.size()));
    return c;
  }, "Chunks run by the callers (index 0) and by each worker since the last reset.");
  m.def("_pool_reset_counts", &pool_reset_counts);
}

}  // namespace bind
}  // namespace foveal
