// conv2d backward. The kernel gradient, dK[tap, ci, co] = sum over output pixels of
// x[tap's input pixel, ci] * dy[pixel, co], runs one register tile of dK at a time over runs of
// output pixels (conv_kgrad_fn), reading x and dy in place: no Xcol, no packing.
// The input gradient of a stride-1 convolution is the convolution of dy with the flipped kernel
// (the forward drivers, Winograd included); otherwise cols = dy * K^T (K packed once per group)
// is added back onto the input positions each tap read (col2im), in parallel over images and
// groups.
// Depthwise convolutions (one input channel per group, multiplier 1) have their own driver
// (kernels/nn/dwconv2d/dwconv2d_backward.cpp).
// Without dkernel (a frozen layer, or Conv2DTranspose's forward pass) no weight-gradient work
// runs at all; weight_grad_macs() counts what does, so the tests can see it skipped.
#include <algorithm>
#include <atomic>
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/ops.h"
#include "foveal/parallel.h"
#include "kernels/nn/batchnorm/moments.h"
#include "kernels/nn/conv2d/conv2d.h"
#include "kernels/nn/dwconv2d/dwconv2d.h"
#include "kernels/nn/gemm/gemm.h"

namespace foveal {

namespace {
std::atomic<uint64_t> g_weight_grad_macs{0};
}  // namespace

void count_weight_grad_macs(uint64_t macs) { g_weight_grad_macs.fetch_add(macs, std::memory_order_relaxed); }
uint64_t weight_grad_macs() { return g_weight_grad_macs.load(std::memory_order_relaxed); }
void reset_weight_grad_macs() { g_weight_grad_macs.store(0, std::memory_order_relaxed); }

namespace {

// f(tap, pixel) for each kernel tap (r * kw + s) of output pixel (oh, ow) whose input pixel
// (ih * in_w + iw) lies inside the image, in (r, s) order.
template <class F>
inline void for_each_tap_inside(const Conv2dParams& p, size_t oh, size_t ow, F&& f) {
  const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
  const ptrdiff_t iw0 = static_cast<ptrdiff_t>(ow * p.stride_w) - static_cast<ptrdiff_t>(p.pad_left);
  for (size_t r = 0; r < p.kh; ++r) {
    const ptrdiff_t ih = ih0 + static_cast<ptrdiff_t>(r * p.dilation_h);
    if (ih < 0 || ih >= static_cast<ptrdiff_t>(p.in_h)) continue;
    for (size_t s = 0; s < p.kw; ++s) {
      const ptrdiff_t iw = iw0 + static_cast<ptrdiff_t>(s * p.dilation_w);
      if (iw < 0 || iw >= static_cast<ptrdiff_t>(p.in_w)) continue;
      f(r * p.kw + s, static_cast<size_t>(ih) * p.in_w + static_cast<size_t>(iw));
    }
  }
}

// Bytes of dy one block of output pixels may span in one output-channel block: the block's dy
// stays in L1 while every tile of a task runs over it (x streams from L2: MR floats a pixel).
constexpr size_t kKgradBlockBytes = size_t{24} << 10;
// A kernel gradient of at most this many floats is summed in kKgradParts parts of the rows.
constexpr size_t kKgradSmall = size_t{1} << 16;
constexpr size_t kKgradParts = 4;

// The pixels of each tap, as runs: for tap (r, s) and output row (n, oh), the output pixels
// [ow_lo, ow_lo + count) whose tap lies inside the input, with the offsets of the first one's
// input pixel in x and output pixel in dy (count 0: none).
struct TapRuns {
  size_t rows;
  std::vector<size_t> x_off, dy_off, count;  // [tap * rows + row]
};

TapRuns tap_runs(const Conv2dParams& p) {
  const size_t taps = p.kh * p.kw, rows = p.batch * p.out_h;
  TapRuns t{rows, std::vector<size_t>(taps * rows), std::vector<size_t>(taps * rows),
            std::vector<size_t>(taps * rows, 0)};
  for (size_t r = 0; r < p.kh; ++r)
    for (size_t s = 0; s < p.kw; ++s) {
      const size_t tap = r * p.kw + s, reach_w = s * p.dilation_w;
      // ow in [lo, hi): 0 <= ow * stride_w + reach_w - pad_left < in_w
      const size_t lo = p.pad_left > reach_w ? div_up(p.pad_left - reach_w, p.stride_w) : 0;
      const size_t last = p.in_w - 1 + p.pad_left;  // ow * stride_w + reach_w <= last
      const size_t hi = last < reach_w ? 0 : std::min(p.out_w, (last - reach_w) / p.stride_w + 1);
      if (hi <= lo) continue;
      const size_t iw = lo * p.stride_w + reach_w - p.pad_left;
      for (size_t row = 0; row < rows; ++row) {
        const size_t n = row / p.out_h, oh = row % p.out_h;
        const ptrdiff_t ih = static_cast<ptrdiff_t>(oh * p.stride_h + r * p.dilation_h) -
                             static_cast<ptrdiff_t>(p.pad_top);
        if (ih < 0 || ih >= static_cast<ptrdiff_t>(p.in_h)) continue;
        const size_t at = tap * rows + row;
        t.x_off[at] = ((n * p.in_h + static_cast<size_t>(ih)) * p.in_w + iw) * p.in_c;
        t.dy_off[at] = (row * p.out_w + lo) * p.out_c;
        t.count[at] = hi - lo;
      }
    }
  return t;
}

// Whether the taps of each kernel row cover the same output pixels, tap s's input pixel s * in_c
// floats after tap 0's.
bool kw_runs_alike(const Conv2dParams& p, const TapRuns& t) {
  for (size_t r = 0; r < p.kh; ++r)
    for (size_t s = 1; s < p.kw; ++s)
      for (size_t row = 0, a = r * p.kw * t.rows, b = (r * p.kw + s) * t.rows; row < t.rows; ++row, ++a, ++b)
        if (t.count[a] != t.count[b] ||
            (t.count[a] && (t.x_off[b] != t.x_off[a] + s * p.in_c || t.dy_off[b] != t.dy_off[a])))
          return false;
  return true;
}

// dbias[c] = sum over output pixels of dy[., c] (nothing when dbias is nullptr), summed as
// batch normalization sums its columns (column_sum_f32): on the threads, in double across blocks.
void bias_grad(const Conv2dParams& p, const float* dy, float* dbias) {
  if (!dbias) return;
  std::vector<double> sum(p.out_c);
  column_sum_f32(p.batch * p.out_h * p.out_w, p.out_c, dy, sum.data());
  for (size_t c = 0; c < p.out_c; ++c) dbias[c] = static_cast<float>(sum[c]);
}

// dK[tap, ci, co] = sum over output pixels q of x[q's tap pixel, ci] * dy[q, co], one register
// tile at a time, held over a block of output rows (conv_kgrad_fn): mr input channels (broadcast
// from x) x nr output channels (vectors of dy), or, where the output channels are few and the
// input channels many (1x1 projections to 16-24 channels), the transposed tile (broadcast from
// dy, vectors of x: the same products in the same order) written to a buffer and transposed.
// The tiles of one group and vector block, (tap, row block) in order, are cut into a few
// contiguous ranges, one task each; a task walks the blocks of rows in order and runs all its
// tiles over each block, whose vector side is then read from L1. Each element of dK sums the
// same pixels in the same order at any thread count. No Xcol, no packing, no partial kernels.
void kernel_grad(const Conv2dParams& p, const float* x, const float* dy, float* dkernel, float* dbias) {
  const KernelTable& t = kernels();
  const size_t G = p.groups, cg = p.in_c / G, og = p.out_c / G;
  const size_t taps = p.kh * p.kw, mr = t.kgrad_tile.mr, nr = t.kgrad_tile.nr;
  const size_t P = p.batch * p.out_h * p.out_w;
  count_weight_grad_macs(uint64_t(P) * taps * cg * p.out_c);
  if (conv2d_kgrad_uses_winograd(p)) {
    conv2d_winograd_kgrad_f32(p, x, dy, dkernel);
    bias_grad(p, dy, dbias);
    return;
  }
  const TapRuns runs = tap_runs(p);
  const size_t x_step = p.stride_w * p.in_c, dy_step = p.out_c;
  // Output channels in vectors, unless they fill fewer of the tile's vectors than the input
  // channels would (and no fewer of their lanes).
  const size_t w = t.kgrad_tile.width;
  auto vectors = [&](size_t n) { return std::min(div_up(n, w), nr / w); };
  auto fill = [w](size_t n) { return static_cast<double>(n) / static_cast<double>(div_up(n, w) * w); };
  const bool transposed = vectors(cg) > vectors(og) && fill(cg) >= fill(og);
  // rows: broadcast side; cols: vector side (a = rows' tensor, b = cols' tensor)
  // Where every tap of a kernel row covers the same output pixels (no padding on the left or
  // right reaches a window) and one group holds every channel, the rows of a kernel row,
  // (s, ci) for s < kw, lie side by side in x: a tile then takes kw * cg of them, not cg (a
  // 1- or 3-channel input fills the tile's registers). Each element sums the same products in
  // the same order either way.
  const bool merge_kw = !transposed && G == 1 && p.dilation_w == 1 && p.kw > 1 && kw_runs_alike(p, runs);
  const size_t tap_runs_step = merge_kw ? p.kw : 1, row_taps = merge_kw ? p.kh : taps;
  const size_t R = transposed ? og : cg * tap_runs_step, C = transposed ? cg : og;
  const float* a = transposed ? dy : x;
  const float* b = transposed ? x : dy;
  const size_t a_step = transposed ? dy_step : x_step, b_step = transposed ? x_step : dy_step;
  const size_t a_group = transposed ? og : cg, b_group = transposed ? cg : og;
  // A small kernel gradient (1x1 and narrow layers: few tiles, much data per tile) is summed in
  // a fixed number of parts of the rows, each part on its own copy, then the parts in order: the
  // threads then share the pixels instead of each reading all of them. The number of parts
  // depends on the problem only, so the bits do not depend on the thread count.
  const size_t dk_size = G * taps * og * cg;
  const size_t parts = dk_size <= kKgradSmall ? std::min<size_t>(kKgradParts, runs.rows) : 1;
  FloatBuffer scratch(transposed || parts > 1 ? parts * dk_size : 0);
  float* out = transposed || parts > 1 ? scratch.get() : dkernel;
  const size_t ldc = transposed ? cg : p.out_c;
  const size_t block_px = kKgradBlockBytes / (std::min(nr, C) * sizeof(float));
  const size_t block_rows = std::max<size_t>(1, (block_px + p.out_w / 2) / p.out_w);
  const size_t rblocks = div_up(R, mr), cblocks = div_up(C, nr), tiles = row_taps * rblocks;
  const size_t want = 2 * static_cast<size_t>(get_num_threads());
  const size_t ranges = std::min(tiles, div_up(want, parts * G * cblocks));
  const size_t tasks = parts * G * cblocks * ranges;
  parallel_for(tasks, threads_for(tasks, P * taps * cg * p.out_c / 16), [&](size_t task, int) {
    const size_t range = task % ranges, cb = task / ranges % cblocks;
    const size_t g = task / (ranges * cblocks) % G, part = task / (ranges * cblocks * G);
    const size_t u0 = tiles * range / ranges, u1 = tiles * (range + 1) / ranges;
    const size_t c0 = cb * nr, nc = std::min(nr, C - c0);
    const size_t rows0 = runs.rows * part / parts, rows1 = runs.rows * (part + 1) / parts;
    // group g's slice of dK (this part's copy): rows (tap, row channel), columns from c0
    float* out_p = out + part * dk_size;
    float* out_g = transposed ? out_p + g * taps * og * cg + c0 : out_p + g * og + c0;
    std::vector<size_t> bx(block_rows), bd(block_rows), bc(block_rows);
    for (size_t row0 = rows0; row0 < rows1 || row0 == rows0; row0 += block_rows) {
      const size_t row1 = std::min(rows1, row0 + block_rows);
      for (size_t u = u0; u < u1;) {
        const size_t tap = u / rblocks, at = tap * tap_runs_step * runs.rows;
        // this block's runs of the tap, rows that continue each other in x and dy merged
        const size_t* xo = runs.x_off.data() + at;
        const size_t* dyo = runs.dy_off.data() + at;
        const size_t* cnt = runs.count.data() + at;
        size_t nruns = 0;
        for (size_t row = row0; row < row1; ++row) {
          if (!cnt[row]) continue;
          if (nruns && bx[nruns - 1] + bc[nruns - 1] * x_step == xo[row] &&
              bd[nruns - 1] + bc[nruns - 1] * dy_step == dyo[row]) {
            bc[nruns - 1] += cnt[row];
            continue;
          }
          bx[nruns] = xo[row];
          bd[nruns] = dyo[row];
          bc[nruns++] = cnt[row];
        }
        const size_t* a_off = transposed ? bd.data() : bx.data();
        const size_t* b_off = transposed ? bx.data() : bd.data();
        for (const size_t end = std::min(u1, (tap + 1) * rblocks); u < end; ++u) {
          const size_t r0 = u % rblocks * mr;
          const ConvKgradParams kp{std::min(mr, R - r0), nc, a_step, b_step, row0 > rows0};
          t.conv_kgrad(kp, a + g * a_group + r0, b + g * b_group + c0, a_off, b_off, bc.data(), nruns,
                       out_g + (tap * R + r0) * ldc, ldc);
        }
      }
      if (row1 == rows1) break;
    }
  });
  for (size_t part = 1; part < parts; ++part) {  // the parts in order, into the first
    const float* src = out + part * dk_size;
    for (size_t i = 0; i < dk_size; ++i) out[i] += src[i];
  }
  if (transposed) {  // dK_g^T (taps x og x cg) into the Keras layout (taps x cg x Cout)
    for (size_t g = 0; g < G; ++g)
      for (size_t tap = 0; tap < taps; ++tap)
        for (size_t ci = 0; ci < cg; ++ci)
          for (size_t co = 0; co < og; ++co)
            dkernel[(tap * cg + ci) * p.out_c + g * og + co] = out[((g * taps + tap) * og + co) * cg + ci];
  } else if (parts > 1) {
    std::memcpy(dkernel, out, dk_size * sizeof(float));
  }
  bias_grad(p, dy, dbias);
}

// The input gradient in chunks of whole images: cols = dy x K^T (a row of kh*kw*Cin/g floats
// per output pixel) as one GEMM over every pixel of the chunk, its tiles on the threads (a
// block of K^T is then reused by many strips: per image, a 4x4 layer's 16 pixels re-read all
// of K^T), then each image's cols scattered back onto the input positions their taps read, the
// images on the threads. Each value is summed in the same order at any thread count.
void input_grad(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t G = p.groups, cg = p.in_c / G, og = p.out_c / G;
  const size_t ktot = p.kh * p.kw * cg;
  const size_t per_group = packed_b_floats(og, ktot, t.gemm_tile);
  FloatBuffer packed(per_group * G);
  for (size_t g = 0; g < G; ++g) pack_bt(og, ktot, kernel + g * og, p.out_c, t.gemm_tile, packed.get() + g * per_group);
  const size_t hw_out = p.out_h * p.out_w, hw_in = p.in_h * p.in_w, in_img = hw_in * p.in_c;
  parallel_for_chunks(p.batch * in_img, size_t{1} << 16, [&](size_t i0, size_t len) {
    std::memset(dx + i0, 0, len * sizeof(float));
  });
  constexpr size_t kColsFloats = size_t{8} << 20;   // 32 MiB of cols per chunk at most
  const size_t per_image = hw_out * ktot;
  const size_t images = std::max<size_t>(1, std::min(p.batch, kColsFloats / (per_image ? per_image : 1)));
  FloatBuffer cols(images * per_image);
  const size_t panels = div_up(ktot, nr), block = igemm_block_strips(t, og, 1);
  const size_t nt_max = static_cast<size_t>(get_num_threads());
  std::vector<const float*> ptr_pool(block * mr * nt_max);
  for (size_t n0 = 0; n0 < p.batch; n0 += images) {
    const size_t nb = std::min(images, p.batch - n0), rows = nb * hw_out;
    const size_t strips = div_up(rows, mr), row_tiles = div_up(strips, block);
    size_t col_tiles = 1;
    while (col_tiles < panels && row_tiles * col_tiles < nt_max * 4) ++col_tiles;
    const TileGrid grid(1, strips, panels, block, div_up(panels, col_tiles));
    for (size_t g = 0; g < G; ++g) {
      const IgemmProblem prob{ktot, og, 1, packed.get() + g * per_group, nullptr, cols.get(), ktot,
                              Activation::none};
      const float* dy0 = dy + n0 * hw_out * p.out_c + g * og;
      parallel_for_2d(grid, threads_for(grid.tasks(), rows * og * ktot / 64), [&](const Tile& tile, int tid) {
        const float** ptrs = ptr_pool.data() + tid * block * mr;
        for (size_t m = tile.r0 * mr, end = std::min(tile.r1 * mr, rows); m < end; ++m)
          ptrs[m - tile.r0 * mr] = dy0 + m * p.out_c;
        igemm_block(t, prob, rows, tile.r0, tile.r1, ptrs, tile.c0, tile.c1);
      });
      parallel_for(nb, threads_for(nb, rows * ktot / 4), [&](size_t i, int) {
        float* image = dx + (n0 + i) * in_img + g * cg;
        for (size_t m = 0; m < hw_out; ++m) {
          const float* src = cols.get() + (i * hw_out + m) * ktot;
          for_each_tap_inside(p, m / p.out_w, m % p.out_w, [&](size_t tap, size_t px) {
            float* d = image + px * p.in_c;
            const float* v = src + tap * cg;
            for (size_t c = 0; c < cg; ++c) d[c] += v[c];
          });
        }
      });
    }
  }
}

// With stride 1 (one group), the input gradient is itself a convolution: dy correlated with the
// kernel turned 180 degrees and its channel axes swapped, padded by (k - 1) * dilation - pad on
// the top and left. It then runs on the forward drivers (Winograd where it applies), in parallel
// over pixels, with no scatter; on the GEMM driver the kernel is turned while it is packed, for
// Winograd a turned copy is written first. False when a pad exceeds the kernel's reach (other
// path then).
bool input_grad_as_conv(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  Conv2dParams q;
  if (p.groups != 1 || !input_grad_problem(p, &q)) return false;
  if (conv2d_input_grad_gemm(q, dy, kernel, dx)) return true;   // flipped while packed
  const size_t ksize = p.kh * p.kw * p.in_c * p.out_c;
  FloatBuffer flipped(ksize);   // every element written below: no zero fill of a kernel's size
  // Each tap's Cin x Cout matrix transposed (the table's register transposes), in column
  // blocks of 32 input channels, on the threads.
  constexpr size_t kB = 32;
  const KernelTable& t = kernels();
  const size_t taps = p.kh * p.kw, cb = div_up(p.in_c, kB);
  parallel_for(taps * cb, threads_for(taps * cb, ksize / 4), [&](size_t task, int) {
    const size_t tap = task / cb, ci0 = task % cb * kB, ci1 = std::min(ci0 + kB, p.in_c);
    const float* src = kernel + (taps - 1 - tap) * p.in_c * p.out_c;
    float* dst = flipped.get() + tap * p.out_c * p.in_c;
    t.transpose(p.out_c, ci1 - ci0, src + ci0 * p.out_c, p.out_c, dst + ci0, p.in_c);
  });
  conv2d_f32_nhwc(q, dy, flipped.get(), nullptr, dx);
  return true;
}

}  // namespace

void conv2d_backward_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                              const float* dy, float* dx, float* dkernel, float* dbias) {
  if (p.groups > 1 && p.groups == p.in_c && p.out_c == p.in_c) {
    depthwise_conv2d_backward_f32_nhwc(p, x, kernel, dy, dx, dkernel, dbias);
    return;
  }
  if (dkernel) kernel_grad(p, x, dy, dkernel, dbias);
  if (dx && !input_grad_as_conv(p, kernel, dy, dx)) input_grad(p, kernel, dy, dx);
}

}  // namespace foveal
