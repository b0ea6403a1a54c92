#include "foveal/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "foveal/threading.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define FOVEAL_PAUSE() _mm_pause()
#else
#define FOVEAL_PAUSE() std::this_thread::yield()
#endif

namespace foveal {
namespace {

constexpr int kMaxWorkers = 255;
// A worker that finished a job looks for the next one this long before it sleeps: back-to-back
// kernel calls from Python (a training step) find it awake, an idle process costs nothing.
constexpr auto kSpinFor = std::chrono::microseconds(50);
// Job states: the high 32 bits count jobs (odd: being set up, nothing to claim; even: open), the
// low 32 bits are the next unclaimed task. A claim is one compare-and-swap on this word, so a
// worker holding a stale view of an older job can never claim a task of a newer one.
constexpr uint64_t kLow = 0xffffffffull;
constexpr size_t kMaxTasks = 0x7fffffff;  // tasks per job (larger runs are split into jobs)

struct alignas(64) Counter {
  std::atomic<long long> chunks{0};
};

struct Pool {
  // Job. fn/ctx/n/threads are written while the state is odd, read after a successful claim.
  std::atomic<uint64_t> state{0};
  std::atomic<size_t> n{0};
  std::atomic<int> threads{1};  // nthreads of the job: workers with id < threads join
  std::atomic<ChunkFn> fn{nullptr};
  std::atomic<void*> ctx{nullptr};
  alignas(64) std::atomic<size_t> done{0};
  alignas(64) std::atomic<bool> owned{false};  // a caller owns the workers
  std::mutex error_m;
  std::exception_ptr error;  // the first exception a chunk of the current job threw

  // Workers and sleeping.
  std::mutex m;
  std::condition_variable wake;
  std::vector<std::thread> workers;
  std::atomic<int> nworkers{0};
  std::atomic<int> sleepers{0};

  // Budget.
  alignas(64) std::atomic<int> busy{0};
  std::mutex budget_m;
  std::condition_variable budget_cv;

  // Test hooks.
  std::mutex hold_m;
  std::condition_variable hold_cv;
  std::atomic<bool> hold[kMaxWorkers + 1] = {};
  Counter counts[kMaxWorkers + 1];
};

// Never destroyed: kernels may run during interpreter exit. A forked child starts a new one
// (the parent's workers do not exist there).
std::atomic<Pool*> g_pool{nullptr};
std::once_flag g_once;

ThreadBackend initial_backend() {
  const char* env = std::getenv("FOVEAL_THREADS");
  if (env != nullptr && std::strcmp(env, "openmp") == 0 && openmp_enabled()) return ThreadBackend::kOpenMP;
  return ThreadBackend::kPool;
}
std::atomic<int> g_backend{static_cast<int>(initial_backend())};

void after_fork_in_child() { g_pool.store(new Pool(), std::memory_order_release); }

Pool& pool() {
  std::call_once(g_once, [] {
    g_pool.store(new Pool(), std::memory_order_release);
    pthread_atfork(nullptr, nullptr, &after_fork_in_child);
  });
  return *g_pool.load(std::memory_order_acquire);
}

inline uint32_t job_of(uint64_t s) { return static_cast<uint32_t>(s >> 32); }

// Claims the next chunk of job `job` (guided: large chunks first, single tasks at the end).
bool claim(Pool& p, uint32_t job, size_t n, int threads, size_t* begin, size_t* end) {
  uint64_t s = p.state.load(std::memory_order_acquire);
  for (;;) {
    if (job_of(s) != job) return false;
    const size_t next = static_cast<size_t>(s & kLow);
    if (next >= n) return false;
    const size_t chunk = std::max<size_t>(1, (n - next) / (2 * static_cast<size_t>(threads)));
    const size_t stop = std::min(n, next + chunk);
    const uint64_t want = (static_cast<uint64_t>(job) << 32) | stop;
    if (p.state.compare_exchange_weak(s, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
      *begin = next;
      *end = stop;
      return true;
    }
  }
}

// Runs chunks of the open job `job` until none is left to claim.
void work_on(Pool& p, uint32_t job, int id) {
  // Acquire: a worker that sees a newer job's n also sees that the old job was closed, so its
  // claim below fails instead of taking a task of the wrong job.
  const size_t n = p.n.load(std::memory_order_acquire);
  const int threads = p.threads.load(std::memory_order_acquire);
  size_t b = 0, e = 0;
  while (claim(p, job, n, threads, &b, &e)) {
    // The claim succeeded against this job, which cannot end before this chunk is done, so
    // fn and ctx are this job's.
    try {
      p.fn.load(std::memory_order_relaxed)(p.ctx.load(std::memory_order_relaxed), b, e, id);
    } catch (...) {  // kept for the caller, which rethrows it once no chunk is running
      std::lock_guard<std::mutex> lk(p.error_m);
      if (!p.error) p.error = std::current_exception();
    }
    p.counts[id].chunks.fetch_add(1, std::memory_order_relaxed);
    p.done.fetch_add(e - b, std::memory_order_acq_rel);
  }
}

void wait_if_held(Pool& p, int id) {
  if (!p.hold[id].load(std::memory_order_acquire)) return;
  std::unique_lock<std::mutex> lk(p.hold_m);
  p.hold_cv.wait(lk, [&] { return !p.hold[id].load(std::memory_order_acquire); });
}

void worker_main(Pool* pp, int id) {
  Pool& p = *pp;
  uint32_t seen = job_of(p.state.load(std::memory_order_acquire)) & ~1u;
  for (;;) {
    // Wait for an open job newer than the last one seen: spin a little, then sleep.
    auto is_new = [&](uint64_t s) { return (job_of(s) & 1u) == 0 && job_of(s) != seen; };
    uint64_t s = p.state.load(std::memory_order_acquire);
    if (!is_new(s)) {
      const auto until = std::chrono::steady_clock::now() + kSpinFor;
      for (int i = 1; !is_new(s); ++i) {
        FOVEAL_PAUSE();
        s = p.state.load(std::memory_order_acquire);
        if ((i & 63) == 0 && std::chrono::steady_clock::now() > until) break;
      }
    }
    if (!is_new(s)) {
      std::unique_lock<std::mutex> lk(p.m);
      p.sleepers.fetch_add(1, std::memory_order_seq_cst);
      p.wake.wait(lk, [&] {  // seq_cst: pairs with run_job's store of the state, then its load of sleepers
        s = p.state.load(std::memory_order_seq_cst);
        return is_new(s);
      });
      p.sleepers.fetch_sub(1, std::memory_order_relaxed);
    }
    seen = job_of(s);
    if (id >= p.threads.load(std::memory_order_relaxed)) continue;  // not asked to help
    wait_if_held(p, id);
    p.busy.fetch_add(1, std::memory_order_relaxed);
    work_on(p, seen, id);
    p.busy.fetch_sub(1, std::memory_order_relaxed);
  }
}

// Starts workers up to `count` (never fewer: idle ones sleep).
void ensure_workers(Pool& p, int count) {
  count = std::min(count, kMaxWorkers);
  if (p.nworkers.load(std::memory_order_acquire) >= count) return;
  std::lock_guard<std::mutex> lk(p.m);
  while (static_cast<int>(p.workers.size()) < count) {
    const int id = static_cast<int>(p.workers.size()) + 1;
    p.workers.emplace_back(worker_main, &p, id);
    p.workers.back().detach();
    p.nworkers.store(id, std::memory_order_release);
  }
}

void run_alone(Pool& p, size_t n, ChunkFn fn, void* ctx) {
  fn(ctx, 0, n, 0);
  p.counts[0].chunks.fetch_add(1, std::memory_order_relaxed);
}

void run_job(Pool& p, size_t n, int threads, ChunkFn fn, void* ctx) {
  // Close the old job (odd state: nothing claimable) before its fields change, then open.
  const uint32_t job = (job_of(p.state.load(std::memory_order_relaxed)) | 1u) + 1u;  // next even
  p.state.store((static_cast<uint64_t>(job - 1) << 32) | kLow, std::memory_order_release);
  p.n.store(n, std::memory_order_release);
  p.threads.store(threads, std::memory_order_release);
  p.fn.store(fn, std::memory_order_relaxed);
  p.ctx.store(ctx, std::memory_order_relaxed);
  p.done.store(0, std::memory_order_relaxed);
  p.state.store(static_cast<uint64_t>(job) << 32, std::memory_order_seq_cst);
  if (p.sleepers.load(std::memory_order_seq_cst) > 0) {
    std::lock_guard<std::mutex> lk(p.m);
    p.wake.notify_all();
  }
  work_on(p, job, 0);
  // Every task is claimed; wait only for chunks other threads are running now.
  for (int i = 0; p.done.load(std::memory_order_acquire) < n; ++i) {
    if (i < 4096) FOVEAL_PAUSE();
    else std::this_thread::yield();
  }
}

}  // namespace

void pool_run(size_t n, int nthreads, ChunkFn fn, void* ctx) {
  if (n == 0) return;
  Pool& p = pool();
  struct Counted {  // the caller counts against the budget until it returns (or throws)
    Pool& p;
    ~Counted() {
      p.busy.fetch_sub(1, std::memory_order_relaxed);
      p.budget_cv.notify_one();  // a budget_enter may be waiting (it also polls every millisecond)
    }
  } counted{p};
  const int busy = p.busy.fetch_add(1, std::memory_order_relaxed) + 1;
  int threads = std::min({nthreads, get_num_threads() - busy + 1, kMaxWorkers + 1});
  if (static_cast<size_t>(threads) > n) threads = static_cast<int>(n);
  bool expected = false;
  if (threads <= 1 || !p.owned.compare_exchange_strong(expected, true, std::memory_order_acquire)) {
    run_alone(p, n, fn, ctx);  // one thread asked, or the workers serve another caller
    return;
  }
  struct Owned {  // the workers are released however this call ends
    Pool& p;
    ~Owned() { p.owned.store(false, std::memory_order_release); }
  } owned{p};
  ensure_workers(p, threads - 1);
  p.error = nullptr;
  for (size_t start = 0; start < n && !p.error; start += kMaxTasks) {
    const size_t part = std::min(kMaxTasks, n - start);
    if (start == 0) {
      run_job(p, part, threads, fn, ctx);
    } else {  // tasks beyond 2^31: an offset view (never seen in practice)
      struct Offset { ChunkFn fn; void* ctx; size_t start; } off{fn, ctx, start};
      run_job(p, part, threads, [](void* c, size_t b, size_t e, int t) {
        auto* o = static_cast<Offset*>(c);
        o->fn(o->ctx, o->start + b, o->start + e, t);
      }, &off);
    }
  }
  // Every chunk is done (run_job waited), so no thread touches the caller's data any more.
  if (p.error) {
    std::exception_ptr error = p.error;
    p.error = nullptr;
    std::rethrow_exception(error);
  }
}

int budget_busy() { return pool().busy.load(std::memory_order_relaxed); }

namespace {
// budget_enter calls of this thread not yet exited, in a pthread key: a C++ thread_local in
// this dlopen'ed module made LeakSanitizer's tracer fault at exit in the sanitized build.
pthread_key_t budget_key() {
  static const pthread_key_t key = [] {
    pthread_key_t k;
    if (pthread_key_create(&k, nullptr) != 0) std::abort();
    return k;
  }();
  return key;
}
intptr_t budget_depth() { return reinterpret_cast<intptr_t>(pthread_getspecific(budget_key())); }
void set_budget_depth(intptr_t d) { pthread_setspecific(budget_key(), reinterpret_cast<void*>(d)); }
}  // namespace

bool in_budget_scope() { return budget_depth() > 0; }

void budget_enter() {
  set_budget_depth(budget_depth() + 1);
  Pool& p = pool();
  int busy = p.busy.load(std::memory_order_relaxed);
  for (;;) {
    if (busy < get_num_threads()) {
      if (p.busy.compare_exchange_weak(busy, busy + 1, std::memory_order_acq_rel)) return;
      continue;
    }
    std::unique_lock<std::mutex> lk(p.budget_m);
    p.budget_cv.wait_for(lk, std::chrono::milliseconds(1));
    busy = p.busy.load(std::memory_order_relaxed);
  }
}

void budget_exit() {
  if (budget_depth() > 0) set_budget_depth(budget_depth() - 1);
  Pool& p = pool();
  p.busy.fetch_sub(1, std::memory_order_relaxed);
  p.budget_cv.notify_one();
}

ThreadBackend thread_backend() { return static_cast<ThreadBackend>(g_backend.load(std::memory_order_relaxed)); }

bool set_thread_backend(ThreadBackend b) {
  if (b == ThreadBackend::kOpenMP && !openmp_enabled()) return false;
  g_backend.store(static_cast<int>(b), std::memory_order_relaxed);
  return true;
}

void pool_hold_worker(int worker, bool hold) {
  Pool& p = pool();
  if (worker < 1 || worker > kMaxWorkers) return;
  {
    std::lock_guard<std::mutex> lk(p.hold_m);
    p.hold[worker].store(hold, std::memory_order_release);
  }
  p.hold_cv.notify_all();
}

int pool_workers() { return pool().nworkers.load(std::memory_order_acquire); }

void pool_chunk_counts(long long* out, int n) {
  Pool& p = pool();
  for (int i = 0; i < n && i <= kMaxWorkers; ++i) out[i] = p.counts[i].chunks.load(std::memory_order_relaxed);
}

void pool_reset_counts() {
  Pool& p = pool();
  for (auto& c : p.counts) c.chunks.store(0, std::memory_order_relaxed);
}

}  // namespace foveal
