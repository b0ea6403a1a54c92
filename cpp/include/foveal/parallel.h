// parallel_for over the native thread pool (foveal/thread_pool.h; OpenMP regions instead when
// chosen with FOVEAL_THREADS=openmp). f(index, thread) with thread < num_threads.
// The drivers' ways of cutting their work into tasks live here too: parallel_for_chunks (a 1-D
// array in fixed-size chunks) and TileGrid / parallel_for_2d (a 2-D space in tiles, for the
// GEMM-shaped drivers and the image drivers' bands of rows).
#pragma once

#include <cstddef>
#include <type_traits>

#include "foveal/thread_pool.h"
#include "foveal/threading.h"

#if defined(_OPENMP)
#include <omp.h>
#endif

namespace foveal {

inline size_t div_up(size_t a, size_t b) { return (a + b - 1) / b; }

// Work (output values, or a comparable cost) below which one more thread does not pay for
// waking it.
constexpr size_t kMinWorkPerThread = 1 << 14;

// Threads a loop of n tasks will use: never more than the tasks, nor than work allows.
inline int threads_for(size_t n, size_t work = static_cast<size_t>(-1)) {
  if (in_budget_scope()) return 1;   // a data-pipeline worker: its kernels run on it alone
  int nt = get_num_threads();
  const size_t by_work = work / kMinWorkPerThread;
  if (by_work < static_cast<size_t>(nt)) nt = static_cast<int>(by_work < 1 ? 1 : by_work);
  return n < static_cast<size_t>(nt) ? static_cast<int>(n < 1 ? 1 : n) : nt;
}

template <class F>
void parallel_for(size_t n, int nthreads, F&& f) {
  if (nthreads > 1 && n > 1 && !in_budget_scope()) {
#if defined(_OPENMP)
    if (thread_backend() == ThreadBackend::kOpenMP) {
#pragma omp parallel for schedule(guided) num_threads(nthreads)
      for (long i = 0; i < static_cast<long>(n); ++i) f(static_cast<size_t>(i), omp_get_thread_num());
      return;
    }
#endif
    using Fn = std::remove_reference_t<F>;
    pool_run(n, nthreads, [](void* ctx, size_t begin, size_t end, int thread) {
      Fn& g = *static_cast<Fn*>(ctx);
      for (size_t i = begin; i < end; ++i) g(i, thread);
    }, const_cast<void*>(static_cast<const void*>(&f)));
    return;
  }
  for (size_t i = 0; i < n; ++i) f(i, 0);
}

// f(i0, len) over the chunks [i0, i0 + len) of [0, n), `chunk` elements each (the last one
// shorter), in parallel; the n elements are the work that threads_for weighs.
template <class F>
void parallel_for_chunks(size_t n, size_t chunk, F&& f) {
  const size_t tasks = div_up(n, chunk);
  parallel_for(tasks, threads_for(tasks, n), [&](size_t i, int) {
    const size_t i0 = i * chunk;
    f(i0, n - i0 < chunk ? n - i0 : chunk);
  });
}

// One tile of a TileGrid: rows [r0, r1) x columns [c0, c1) of group `group`.
struct Tile {
  size_t group, r0, r1, c0, c1;
};

// A rows x cols iteration space in each of `groups` independent parts (convolution groups,
// images) cut into tiles of tile_rows x tile_cols (the last row and column of tiles shorter).
// Task t is a tile, group-major, then by row tile, then by column tile.
struct TileGrid {
  size_t groups, rows, cols;
  size_t tile_rows, tile_cols;
  size_t row_tiles, col_tiles;
  TileGrid(size_t groups_, size_t rows_, size_t cols_, size_t tile_rows_, size_t tile_cols_)
      : groups(groups_), rows(rows_), cols(cols_), tile_rows(tile_rows_), tile_cols(tile_cols_),
        row_tiles(div_up(rows_, tile_rows_)), col_tiles(div_up(cols_, tile_cols_)) {}
  size_t tasks() const { return groups * row_tiles * col_tiles; }
  Tile tile(size_t task) const {
    const size_t per_group = row_tiles * col_tiles;
    const size_t rest = task % per_group;
    const size_t r0 = rest / col_tiles * tile_rows, c0 = rest % col_tiles * tile_cols;
    return {task / per_group, r0, r0 + tile_rows < rows ? r0 + tile_rows : rows,
            c0, c0 + tile_cols < cols ? c0 + tile_cols : cols};
  }
};

// Tiles of a GEMM-shaped space (rows: strips of output rows; cols: panels of output columns)
// for the threads: the columns are cut until there are 4 tasks per thread (or one panel per
// tile), the rows into blocks of 1/64 of a thread's share, so that the tasks balance.
inline TileGrid tile_grid(size_t groups, size_t rows, size_t cols) {
  const size_t nt = static_cast<size_t>(get_num_threads());
  size_t col_tiles = 1;
  while (col_tiles < cols && groups * rows * col_tiles < nt * 4) ++col_tiles;
  return TileGrid(groups, rows, cols, div_up(rows * groups, nt * 64), div_up(cols, col_tiles));
}

// Bands of the rows of `groups` images for the threads (one column of tiles): about 4 tasks per
// thread, each band at least min_rows long.
inline TileGrid band_grid(size_t groups, size_t rows, size_t min_rows) {
  const size_t nt = static_cast<size_t>(get_num_threads());
  size_t band = div_up(rows * groups, nt * 4);
  if (band < min_rows) band = min_rows;
  return TileGrid(groups, rows, 1, band, 1);
}

// f(tile, thread) over the grid's tiles, on nthreads threads.
template <class F>
void parallel_for_2d(const TileGrid& grid, int nthreads, F&& f) {
  parallel_for(grid.tasks(), nthreads, [&](size_t task, int tid) { f(grid.tile(task), tid); });
}

}  // namespace foveal
