// The native core's thread pool. The calling thread takes part; work is cut into chunks claimed
// from one shared counter; the call returns as soon as every claimed chunk is done, so it never
// waits for a worker the OS has not run yet (that worker simply claims nothing). Idle workers
// spin a few microseconds, then sleep on a condition variable.
//
// One thread budget for the library: get_num_threads() busy threads at most. A caller counts
// as one, every worker in a job as one, every thread between budget_enter and budget_exit (the data pipeline's
// decode workers) as one; a job asks for helpers only from what is left.
#pragma once

#include <cstddef>

namespace foveal {

// fn(ctx, begin, end, thread) runs tasks [begin, end); thread < nthreads (the caller is 0).
using ChunkFn = void (*)(void* ctx, size_t begin, size_t end, int thread);

// Runs tasks [0, n) on at most nthreads threads (the caller and nthreads - 1 workers).
// Calls from several threads at once are safe: only one job runs on the workers at a time,
// the others run on their own caller alone. Results must not depend on which thread ran what.
void pool_run(size_t n, int nthreads, ChunkFn fn, void* ctx);

// Threads currently counted against the budget (callers, working workers, BudgetScopes).
int budget_busy();

// Counts the current thread busy with foveal work outside the kernels (a decode task) until
// budget_exit(); entering waits while get_num_threads() threads are busy already. Kernels
// called by the thread meanwhile run on it alone (in_budget_scope): the pipeline's own workers
// are the parallelism, and a kernel that woke the pool's workers between two decode tasks
// would leave them spinning on the cores the other decode workers need.
void budget_enter();
void budget_exit();
bool in_budget_scope();

enum class ThreadBackend { kPool = 0, kOpenMP = 1 };
// The backend parallel_for uses: the pool (default) or OpenMP (FOVEAL_THREADS=openmp, or
// set_thread_backend; OpenMP only where the build has it). For measurements and comparison.
ThreadBackend thread_backend();
bool set_thread_backend(ThreadBackend b);  // false when the build has no OpenMP

// Test hooks: a held worker blocks before it claims any chunk (as one the OS does not run);
// per-worker chunk counts since the last reset (index 0 = callers).
void pool_hold_worker(int worker, bool hold);
int pool_workers();
void pool_chunk_counts(long long* out, int n);
void pool_reset_counts();

}  // namespace foveal
