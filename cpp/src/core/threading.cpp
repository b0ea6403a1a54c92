#include "foveal/threading.h"

#include <atomic>

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace foveal {
namespace {
int initial_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}
std::atomic<int>& threads() {
  static std::atomic<int> n{initial_threads()};
  return n;
}
}  // namespace

int get_num_threads() { return threads().load(std::memory_order_relaxed); }
void set_num_threads(int n) { threads().store(n < 1 ? 1 : n, std::memory_order_relaxed); }
bool openmp_enabled() {
#if defined(_OPENMP)
  return true;
#else
  return false;
#endif
}

}  // namespace foveal
