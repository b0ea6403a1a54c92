// parallel_for over the native thread pool (OpenMP). f(index, thread) with thread < num_threads.
#pragma once

#include <cstddef>

#include "foveal/threading.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace foveal {

inline size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Work (output values, or a comparable cost) below which one more thread does not pay for
// waking it: on a busy machine a call's end-of-region barrier waits for every thread.
constexpr size_t kMinWorkPerThread = 1 << 14;

// Threads a loop of n tasks will use: never more than the tasks, nor than work allows.
inline int threads_for(size_t n, size_t work = static_cast<size_t>(-1)) {
  int nt = get_num_threads();
  const size_t by_work = work / kMinWorkPerThread;
  if (by_work < static_cast<size_t>(nt)) nt = static_cast<int>(by_work < 1 ? 1 : by_work);
  return n < static_cast<size_t>(nt) ? static_cast<int>(n < 1 ? 1 : n) : nt;
}

template <class F>
void parallel_for(size_t n, int nthreads, F&& f) {
#if defined(_OPENMP)
  if (nthreads > 1 && n > 1) {
    // Guided: large chunks first (little overhead), single tasks at the end (threads finish
    // together even when one started late or was interrupted).
#pragma omp parallel for schedule(guided) num_threads(nthreads)
    for (long i = 0; i < static_cast<long>(n); ++i) f(static_cast<size_t>(i), omp_get_thread_num());
    return;
  }
#endif
  for (size_t i = 0; i < n; ++i) f(i, 0);
}

}  // namespace foveal
