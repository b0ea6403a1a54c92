// Depthwise convolution backward driver (channel multiplier 1).
//
// Kernel and bias gradients: one dwconv_kgrad_row call per output row, which sums each tap over
// the row in registers. The images are cut into at most kMaxShares blocks ("shares", fixed by the
// batch size alone), each summed on its own, then the shares added in order: the same bits at
// any thread count and whichever thread ran which share.
// Input gradient: at stride 1 it is the depthwise convolution of dy with the kernel turned 180
// degrees (the forward driver); otherwise one dwconv_dx_row call per input row gathers the dy
// rows that reach it, in parallel over rows.
#include <cstring>
#include <vector>

#include "foveal/dispatch.h"
#include "foveal/parallel.h"
#include "kernels/nn/conv2d/conv2d.h"
#include "kernels/nn/dwconv2d/dwconv2d.h"
#include "kernels/nn/gemm/gemm.h"  // FloatBuffer
#include "kernels/nn/window_rows.h"

namespace foveal {

namespace {

constexpr size_t kMaxShares = 64;

DwConvRowParams row_params(const Conv2dParams& p) {
  return {p.in_c, p.in_w, p.out_w, p.kw, p.stride_w, p.dilation_w, p.pad_left, Activation::none};
}

void kernel_grad(const Conv2dParams& p, const float* x, const float* dy, float* dkernel, float* dbias) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c, ksize = p.kh * p.kw * C;
  const size_t in_img = p.in_h * p.in_w * C, out_row = p.out_w * C;
  const size_t macs = p.batch * p.out_h * out_row * p.kh * p.kw;
  count_weight_grad_macs(uint64_t(macs));
  const size_t per = div_up(p.batch, kMaxShares), shares = div_up(p.batch, per);
  FloatBuffer dk(ksize * shares), db(dbias ? C * shares : 0);  // each share zeroes its own
  const DwConvRowParams rp = row_params(p);
  const size_t max_rows = p.kh < p.in_h ? p.kh : p.in_h;
  parallel_for(shares, threads_for(shares, macs), [&](size_t share, int) {
    float* dks = dk.get() + share * ksize;
    float* dbs = dbias ? db.get() + share * C : nullptr;
    std::memset(dks, 0, ksize * sizeof(float));
    if (dbs) std::memset(dbs, 0, C * sizeof(float));
    std::vector<const float*> rows(max_rows);
    const size_t n1 = (share + 1) * per < p.batch ? (share + 1) * per : p.batch;
    for (size_t n = share * per; n < n1; ++n) {
      const float* image = x + n * in_img;
      for (size_t oh = 0; oh < p.out_h; ++oh) {
        const ptrdiff_t ih0 = static_cast<ptrdiff_t>(oh * p.stride_h) - static_cast<ptrdiff_t>(p.pad_top);
        size_t r_lo, r_hi;
        window_rows_inside(ih0, p.kh, p.dilation_h, p.in_h, &r_lo, &r_hi);
        size_t nrows = 0;
        for (size_t r = r_lo; r < r_hi; ++r)
          rows[nrows++] = image + static_cast<size_t>(ih0 + static_cast<ptrdiff_t>(r * p.dilation_h)) * p.in_w * C;
        t.dwconv_kgrad_row(rp, rows.data(), nrows, dy + (n * p.out_h + oh) * out_row,
                           dks + (nrows ? r_lo : 0) * p.kw * C, dbs);
      }
    }
  });
  // The shares in order, element by element: out = ((share 0 + share 1) + share 2) + ...,
  // contiguous adds, in parallel over chunks of the elements.
  auto sum_shares = [shares](const FloatBuffer& parts, size_t n, float* out) {
    constexpr size_t kChunk = 4096;
    const size_t chunks = div_up(n, kChunk);
    parallel_for(chunks, threads_for(chunks, n * shares), [&](size_t chunk, int) {
      const size_t i0 = chunk * kChunk, i1 = i0 + kChunk < n ? i0 + kChunk : n;
      std::memcpy(out + i0, parts.get() + i0, (i1 - i0) * sizeof(float));
      for (size_t s = 1; s < shares; ++s) {
        const float* part = parts.get() + s * n;
        for (size_t i = i0; i < i1; ++i) out[i] += part[i];
      }
    });
  };
  sum_shares(dk, ksize, dkernel);
  if (dbias) sum_shares(db, C, dbias);
}

// Stride 1, the padding within the kernel's reach: dx = dy convolved with the flipped kernel,
// padded by reach - pad on the top and left. False (nothing done) otherwise.
bool input_grad_as_conv(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  Conv2dParams q;
  if (!input_grad_problem(p, &q)) return false;   // (in and out channels are the same here)
  const size_t C = p.in_c, taps = p.kh * p.kw;
  std::vector<float> flipped(taps * C);
  for (size_t tap = 0; tap < taps; ++tap)
    std::memcpy(flipped.data() + tap * C, kernel + (taps - 1 - tap) * C, C * sizeof(float));
  depthwise_conv2d_f32_nhwc(q, dy, flipped.data(), nullptr, dx);
  return true;
}

// Any stride: each input row gathers from the (dy row, kernel row) pairs that reach it, found
// arithmetically: kernel row r reaches input row ih from output row oh = (ih + pad - r * dil) /
// stride when that divides and lies in [0, out_h).
void input_grad_gather(const Conv2dParams& p, const float* kernel, const float* dy, float* dx) {
  const KernelTable& t = kernels();
  const size_t C = p.in_c, out_row = p.out_w * C, in_row = p.in_w * C;
  const DwConvRowParams rp = row_params(p);
  const size_t tasks = p.batch * p.in_h;
  const int threads = threads_for(tasks, p.batch * p.out_h * out_row * p.kh * p.kw);
  std::vector<const float*> pool(2 * p.kh * threads);
  parallel_for(tasks, threads, [&](size_t task, int tid) {
    const float** dy_rows = pool.data() + 2 * p.kh * tid;
    const float** k_rows = dy_rows + p.kh;
    const size_t n = task / p.in_h, pos = task % p.in_h + p.pad_top;  // pos = oh * stride + r * dil
    size_t nrows = 0;
    for (size_t r = 0; r < p.kh && r * p.dilation_h <= pos; ++r) {
      const size_t d = pos - r * p.dilation_h;
      if (d % p.stride_h != 0 || d / p.stride_h >= p.out_h) continue;
      dy_rows[nrows] = dy + (n * p.out_h + d / p.stride_h) * out_row;
      k_rows[nrows++] = kernel + r * p.kw * C;
    }
    t.dwconv_dx_row(rp, dy_rows, k_rows, nrows, dx + task * in_row);
  });
}

}  // namespace

void depthwise_conv2d_backward_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                                        const float* dy, float* dx, float* dkernel, float* dbias) {
  if (dkernel) kernel_grad(p, x, dy, dkernel, dbias);
  if (dx && !input_grad_as_conv(p, kernel, dy, dx)) input_grad_gather(p, kernel, dy, dx);
}

}  // namespace foveal
