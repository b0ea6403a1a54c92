// conv2d backward. The kernel gradient is a GEMM over output pixels, dK[K x og] = Xcol^T * dy,
// where Xcol (the forward GEMM's A rows: every tap each output pixel read) is made explicit one
// block of pixels at a time; each thread sums its share of the pixels and the shares are added.
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

constexpr size_t kPixelBlock = 128;  // output pixels per Xcol block of the kernel gradient
// Parts the kernel gradient sums on their own before adding them in order (at most; fixed by
// the problem, so results do not depend on the thread count).
constexpr size_t kGradParts = 16;

// Splits [0, n) into `parts` contiguous ranges; returns range `i`.
inline void share(size_t n, size_t parts, size_t i, size_t& b, size_t& e) {
  b = n * i / parts;
  e = n * (i + 1) / parts;
}

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

// out[i] = sum over the shares (parts arrays of n floats, one after another), in order.
void sum_shares(const std::vector<float>& shares, size_t n, int parts, float* out) {
  for (size_t i = 0; i < n; ++i) {
    float v = 0.0f;
    for (int t = 0; t < parts; ++t) v += shares[t * n + i];
    out[i] = v;
  }
}

// Xcol at most this many floats: made whole, and dK = Xcol^T dy as one GEMM split over its rows
// (no per-thread partial kernels to add: small images with many channels, e.g. 4x4 x 512).
constexpr size_t kWholeXcol = size_t{1} << 22;

void kernel_grad_whole(const Conv2dParams& p, const ConvTaps& taps, const float* x, const float* dy,
                       float* dkernel, float* dbias) {
  const size_t G = p.groups, og = p.out_c / G;
  const size_t ktot = taps.ntaps * taps.kc;
  const size_t P = p.batch * p.out_h * p.out_w;
  const std::vector<float> zeros(taps.kc, 0.0f);
  std::vector<float> xcol(P * ktot);
  const size_t blocks = div_up(P, kPixelBlock);
  for (size_t g = 0; g < G; ++g) {
    parallel_for(blocks, threads_for(blocks, P * ktot), [&](size_t blk, int) {
      const size_t b0 = blk * kPixelBlock, rows = P - b0 < kPixelBlock ? P - b0 : kPixelBlock;
      std::vector<const float*> ptrs(taps.ntaps * kPixelBlock), row_cache(p.kh);
      std::vector<float> span(taps.merged_rows ? kPixelBlock * p.kh * taps.kc : 0);
      fill_pointers(p, taps, x, g, zeros.data(), b0, rows, ptrs.data(), span.data(), row_cache.data());
      for (size_t i = 0; i < rows; ++i)
        for (size_t t = 0; t < taps.ntaps; ++t)
          std::memcpy(xcol.data() + (b0 + i) * ktot + t * taps.kc, ptrs[t * rows + i], taps.kc * sizeof(float));
    });
    // dK_g (ktot x og, columns g*og.. of the Keras layout) = Xcol^T dy_g, rows over the threads
    gemm_f32({ktot, og, P, xcol.data(), ktot, true, dy + g * og, p.out_c, false, dkernel + g * og, p.out_c,
              false}, /*serial=*/false);
  }
  if (dbias) {
    std::fill(dbias, dbias + p.out_c, 0.0f);
    for (size_t i = 0; i < P; ++i)
      for (size_t c = 0; c < p.out_c; ++c) dbias[c] += dy[i * p.out_c + c];
  }
}

void kernel_grad(const Conv2dParams& p, const float* x, const float* dy, float* dkernel, float* dbias) {
  const ConvTaps taps = conv_taps(p);
  const size_t G = p.groups, og = p.out_c / G;
  const size_t ktot = taps.ntaps * taps.kc;
  const size_t P = p.batch * p.out_h * p.out_w;
  count_weight_grad_macs(uint64_t(P) * ktot * p.out_c);
  // (at most kMaxBlockK pixels: then each packed dy panel is one K block, read from L2 by every
  // strip of the GEMM; more pixels stream it, and the per-thread parts below do better)
  if (P * ktot <= kWholeXcol && P > kPixelBlock && P <= kMaxBlockK) {
    kernel_grad_whole(p, taps, x, dy, dkernel, dbias);
    return;
  }
  // The pixels are cut into a number of parts fixed by the problem alone (not by the thread
  // count), each summed on its own, then the parts in order: the same bits at any thread count.
  const size_t parts = std::min<size_t>(div_up(P, kPixelBlock), kGradParts);
  const int nt = threads_for(parts, P * p.out_c * ktot / 16);
  // The GEMM's columns are the wider side in lanes used: og (Cout) columns by default, or, when
  // that fills the NR-wide tiles less well than ktot does (few output channels: 1x1 layers of
  // 16-24 channels), the transposed product (bit-identical: the same FMAs in the same order).
  const size_t nr = kernels().gemm_tile.nr;
  auto fill = [nr](size_t n) { return static_cast<double>(n) / static_cast<double>(div_up(n, nr) * nr); };
  const bool transposed = fill(ktot) > fill(og) * 1.25;
  const bool direct_x = p.kh == 1 && p.kw == 1 && p.stride_h == 1 && p.stride_w == 1 && G == 1 &&
                        p.pad_top == 0 && p.pad_left == 0 && p.out_h == p.in_h && p.out_w == p.in_w;
  const size_t per_thread = G * og * ktot;
  std::vector<float> dk(per_thread * parts), db(p.out_c * parts, 0.0f);
  const std::vector<float> zeros(taps.kc, 0.0f);
  parallel_for(parts, nt, [&](size_t part, int) {
    size_t b, e;
    share(P, parts, part, b, e);
    float* acc = dk.data() + part * per_thread;
    float* bsum = db.data() + part * p.out_c;
    if (b == e) {
      std::memset(acc, 0, per_thread * sizeof(float));
      return;
    }
    std::vector<const float*> ptrs(taps.ntaps * kPixelBlock), row_cache(p.kh);
    std::vector<float> span(taps.merged_rows ? kPixelBlock * p.kh * taps.kc : 0);
    std::vector<float> xcol(direct_x ? 0 : kPixelBlock * ktot);
    for (size_t b0 = b; b0 < e; b0 += kPixelBlock) {
      const size_t rows = e - b0 < kPixelBlock ? e - b0 : kPixelBlock;
      for (size_t g = 0; g < G; ++g) {
        const float* xc = x + b0 * p.in_c;   // a 1x1 stride-1 unpadded layer: Xcol is x itself
        if (!direct_x) {
          fill_pointers(p, taps, x, g, zeros.data(), b0, rows, ptrs.data(), span.data(), row_cache.data());
          for (size_t i = 0; i < rows; ++i)
            for (size_t t = 0; t < taps.ntaps; ++t)
              std::memcpy(xcol.data() + i * ktot + t * taps.kc, ptrs[t * rows + i], taps.kc * sizeof(float));
          xc = xcol.data();
        }
        const float* dyb = dy + b0 * p.out_c + g * og;
        if (transposed) {   // dK_g^T (og x ktot) += dy^T Xcol: the same products, wider tiles
          gemm_f32({og, ktot, rows, dyb, p.out_c, true, xc, ktot, false, acc + g * ktot * og, ktot, b0 != b},
                   /*serial=*/true);
        } else {            // dK_g (ktot x og) += Xcol^T dy: Xcol read in place as the transposed A
          gemm_f32({ktot, og, rows, xc, ktot, true, dyb, p.out_c, false, acc + g * ktot * og, og, b0 != b},
                   /*serial=*/true);
        }
      }
      if (dbias)
        for (size_t i = 0; i < rows; ++i) {
          const float* d = dy + (b0 + i) * p.out_c;
          for (size_t c = 0; c < p.out_c; ++c) bsum[c] += d[c];
        }
    }
  });
  // Sum the parts into the Keras layout (K rows x Cout, groups side by side).
  for (size_t g = 0; g < G; ++g)
    for (size_t j = 0; j < ktot; ++j)
      for (size_t co = 0; co < og; ++co) {
        float v = 0.0f;
        const size_t at = transposed ? g * ktot * og + co * ktot + j : (g * ktot + j) * og + co;
        for (size_t part = 0; part < parts; ++part) v += dk[part * per_thread + at];
        dkernel[j * p.out_c + g * og + co] = v;
      }
  if (dbias) sum_shares(db, p.out_c, static_cast<int>(parts), dbias);
}

void input_grad(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  const KernelTable& t = kernels();
  const size_t mr = t.gemm_tile.mr, nr = t.gemm_tile.nr;
  const size_t G = p.groups, cg = p.in_c / G, og = p.out_c / G;
  const size_t ktot = p.kh * p.kw * cg;
  const size_t per_group = packed_b_floats(og, ktot, nr);
  FloatBuffer packed(per_group * G);
  for (size_t g = 0; g < G; ++g) pack_bt(og, ktot, kernel + g * og, p.out_c, nr, packed.get() + g * per_group);
  const size_t hw_out = p.out_h * p.out_w, in_img = p.in_h * p.in_w * p.in_c;
  const size_t tasks = p.batch * G;
  // strips per chunk: the A blocks within L2, and the chunk's cols within about 1 MiB
  size_t chunk_rows = igemm_block_strips(t, og, 1);
  const size_t cols_cap = (size_t{1} << 18) / (mr * ktot) ;
  if (chunk_rows > cols_cap) chunk_rows = cols_cap < 1 ? 1 : cols_cap;
  parallel_for(tasks, threads_for(tasks, p.batch * hw_out * p.out_c * ktot / 16), [&](size_t task, int) {
    const size_t n = task / G, g = task % G;
    float* image = dx + n * in_img + g * cg;
    for (size_t i = 0; i < p.in_h * p.in_w; ++i) std::memset(image + i * p.in_c, 0, cg * sizeof(float));
    // cols for a chunk of output pixels (cache-blocked: each block of K^T runs over the whole
    // chunk), then scattered back onto the input positions their taps read.
    const size_t chunk = chunk_rows * mr;
    std::vector<float> cols(chunk * ktot);
    std::vector<const float*> ptrs(chunk);
    const IgemmProblem prob{ktot, og, 1, packed.get() + g * per_group, nullptr, cols.data(), ktot, Activation::none};
    for (size_t c0 = 0; c0 < hw_out; c0 += chunk) {
      const size_t rows_chunk = hw_out - c0 < chunk ? hw_out - c0 : chunk;
      for (size_t i = 0; i < rows_chunk; ++i) ptrs[i] = dy + (n * hw_out + c0 + i) * p.out_c + g * og;
      igemm_block(t, prob, rows_chunk, 0, div_up(rows_chunk, mr), ptrs.data(), 0, div_up(ktot, nr));
      for (size_t i = 0; i < rows_chunk; ++i) {
        const float* src = cols.data() + i * ktot;
        const size_t m = c0 + i;
        for_each_tap_inside(p, m / p.out_w, m % p.out_w, [&](size_t tap, size_t px) {
          float* d = image + px * p.in_c;
          const float* v = src + tap * cg;
          for (size_t c = 0; c < cg; ++c) d[c] += v[c];
        });
      }
    }
  });
}

// With stride 1 (one group), the input gradient is itself a convolution: dy correlated with the
// kernel turned 180 degrees and its channel axes swapped, padded by (k - 1) * dilation - pad on
// the top and left. It then runs on the forward drivers (Winograd where it applies), in parallel
// over pixels, with no scatter. False when a pad exceeds the kernel's reach (other path then).
bool input_grad_as_conv(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  Conv2dParams q;
  if (p.groups != 1 || !input_grad_problem(p, &q)) return false;
  const size_t ksize = p.kh * p.kw * p.in_c * p.out_c;
  FloatBuffer flipped(ksize);   // every element written below: no zero fill of a kernel's size
  // Each tap's Cin x Cout matrix transposed, in 32 x 32 blocks (a plain loop writes with a
  // stride of Cin floats: for 512 channels that cost more than the convolution itself).
  constexpr size_t kB = 32;
  const size_t taps = p.kh * p.kw, cb = div_up(p.in_c, kB);
  parallel_for(taps * cb, threads_for(taps * cb, ksize / 4), [&](size_t task, int) {
    const size_t tap = task / cb, ci0 = task % cb * kB, ci1 = std::min(ci0 + kB, p.in_c);
    const size_t r = tap / p.kw, s = tap % p.kw;
    const float* src = kernel + ((p.kh - 1 - r) * p.kw + (p.kw - 1 - s)) * p.in_c * p.out_c;
    float* dst = flipped.get() + tap * p.out_c * p.in_c;
    for (size_t co0 = 0; co0 < p.out_c; co0 += kB) {
      const size_t co1 = std::min(co0 + kB, p.out_c);
      for (size_t co = co0; co < co1; ++co)
        for (size_t ci = ci0; ci < ci1; ++ci) dst[co * p.in_c + ci] = src[ci * p.out_c + co];
    }
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
