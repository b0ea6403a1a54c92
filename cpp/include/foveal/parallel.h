// parallel_for over the native thread pool (OpenMP). f(index, thread) with thread < num_threads.
#pragma once

#include <cstddef>

#include "foveal/threading.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace foveal {

inline size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Threads a loop of n tasks will use (never more than the tasks).
inline int threads_for(size_t n) {
  const int nt = get_num_threads();
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
