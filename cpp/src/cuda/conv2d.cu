// conv2d forward and backward as implicit GEMMs (gemm.cuh), per group g (blockIdx.z):
//   forward  y[m, o]       = act(sum over k=(r, s, c) of im2col(m, k) * kernel[k, o] + bias[o])
//   dkernel  dK[k, o]      = sum over m of im2col(m, k) * dy[m, o]          (K split: atomics)
//   dx       dx[(n,ih,iw), c] = sum over (r, s, o) of dy[n, oh, ow, o] * kernel[(r, s, c), o]
//            where oh = (ih + pad_top - r*dh) / sh when that divides and lies in the output.
// m = (n, oh, ow) indexes output pixels; o and c are channels within group g.
#include "cuda/activation.cuh"
#include "cuda/gemm.cuh"
#include "cuda/launch.h"

namespace foveal::cuda {
namespace {

struct ConvGeom {
  size_t H, W, Cin, OH, OW, Cout, kw, cin_g, cout_g, sh, sw, dh, dw, pt, pl;
  explicit ConvGeom(const Conv2dParams& p)
      : H(p.in_h), W(p.in_w), Cin(p.in_c), OH(p.out_h), OW(p.out_w), Cout(p.out_c), kw(p.kw),
        cin_g(p.in_c / p.groups), cout_g(p.out_c / p.groups), sh(p.stride_h), sw(p.stride_w),
        dh(p.dilation_h), dw(p.dilation_w), pt(p.pad_top), pl(p.pad_left) {}
};

// im2col(m, k) of group g: the input value that kernel tap k = (r, s, c) meets at output pixel m.
struct Im2col {
  ConvGeom q;
  const float* x;
  FOVEAL_HD float operator()(size_t m, size_t k, size_t g) const {
    const size_t c = k % q.cin_g, rs = k / q.cin_g, s = rs % q.kw, r = rs / q.kw;
    const size_t ow = m % q.OW, t = m / q.OW, oh = t % q.OH, n = t / q.OH;
    const ptrdiff_t ih = static_cast<ptrdiff_t>(oh * q.sh + r * q.dh) - static_cast<ptrdiff_t>(q.pt);
    const ptrdiff_t iw = static_cast<ptrdiff_t>(ow * q.sw + s * q.dw) - static_cast<ptrdiff_t>(q.pl);
    if (ih < 0 || iw < 0 || ih >= static_cast<ptrdiff_t>(q.H) || iw >= static_cast<ptrdiff_t>(q.W)) return 0.0f;
    return x[((n * q.H + static_cast<size_t>(ih)) * q.W + static_cast<size_t>(iw)) * q.Cin + g * q.cin_g + c];
  }
};
// The transposed im2col: A'(k, m) = im2col(m, k) (the weight gradient's left operand).
struct Im2colT {
  Im2col a;
  FOVEAL_HD float operator()(size_t k, size_t m, size_t g) const { return a(m, k, g); }
};
// kernel[k, o] of group g (Keras layout kh x kw x cin_g x Cout: row k = (r, s, c)).
struct KernelCols {
  ConvGeom q;
  const float* kernel;
  FOVEAL_HD float operator()(size_t k, size_t o, size_t g) const { return kernel[k * q.Cout + g * q.cout_g + o]; }
};
// dy[m, o] of group g.
struct DyCols {
  ConvGeom q;
  const float* dy;
  FOVEAL_HD float operator()(size_t m, size_t o, size_t g) const { return dy[m * q.Cout + g * q.cout_g + o]; }
};
// dx's left operand: A(i, k) with i = (n, ih, iw), k = (r, s, o): the dy value whose window puts
// tap (r, s) on input pixel i, or 0.
struct DyGather {
  ConvGeom q;
  const float* dy;
  FOVEAL_HD float operator()(size_t i, size_t k, size_t g) const {
    const size_t o = k % q.cout_g, rs = k / q.cout_g, s = rs % q.kw, r = rs / q.kw;
    const size_t iw = i % q.W, t = i / q.W, ih = t % q.H, n = t / q.H;
    const ptrdiff_t hy = static_cast<ptrdiff_t>(ih + q.pt) - static_cast<ptrdiff_t>(r * q.dh);
    const ptrdiff_t wx = static_cast<ptrdiff_t>(iw + q.pl) - static_cast<ptrdiff_t>(s * q.dw);
    if (hy < 0 || wx < 0) return 0.0f;
    const size_t uh = static_cast<size_t>(hy), uw = static_cast<size_t>(wx);
    if (uh % q.sh != 0 || uw % q.sw != 0) return 0.0f;
    const size_t oh = uh / q.sh, ow = uw / q.sw;
    if (oh >= q.OH || ow >= q.OW) return 0.0f;
    return dy[((n * q.OH + oh) * q.OW + ow) * q.Cout + g * q.cout_g + o];
  }
};
// dx's right operand: B(k, c) = kernel[(r, s, c), o] for k = (r, s, o).
struct KernelT {
  ConvGeom q;
  const float* kernel;
  FOVEAL_HD float operator()(size_t k, size_t c, size_t g) const {
    const size_t o = k % q.cout_g, rs = k / q.cout_g;
    return kernel[(rs * q.cin_g + c) * q.Cout + g * q.cout_g + o];
  }
};

struct StoreY {  // y[m, o] = act(sum + bias[o])
  ConvGeom q;
  const float* bias;
  float* y;
  Activation act;
  FOVEAL_HD void operator()(size_t m, size_t o, size_t g, float v, bool) const {
    const size_t col = g * q.cout_g + o;
    y[m * q.Cout + col] = activate(act, bias ? v + bias[col] : v);
  }
};
// Stores sum at out[row * ld + g * width + col], or adds it atomically (a K slice).
struct StoreCols {
  size_t ld, width;
  float* out;
  FOVEAL_HD void operator()(size_t row, size_t col, size_t g, float v, bool atomic) const {
    float* dst = out + row * ld + g * width + col;
#ifdef __CUDA_ARCH__
    if (atomic) { atomicAdd(dst, v); return; }
#endif
    *dst = v;
  }
};

}  // namespace

void conv2d_f32_nhwc(Where w, const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                     float* y, bool tf32) {
  const ConvGeom q(p);
  const GemmShape s{p.batch * p.out_h * p.out_w, q.cout_g, p.kh * p.kw * q.cin_g, p.groups, 1};
  gemm(w, s, Im2col{q, x}, KernelCols{q, kernel}, StoreY{q, bias, y, p.activation}, tf32, "conv2d");
}

void conv2d_backward_f32_nhwc(Where w, const Conv2dParams& p, const float* x, const float* kernel,
                              const float* dy, float* dx, float* dkernel, float* dbias, bool tf32) {
  const ConvGeom q(p);
  const size_t taps = p.kh * p.kw, pixels = p.batch * p.out_h * p.out_w;
  if (dx != nullptr) {
    const GemmShape s{p.batch * p.in_h * p.in_w, q.cin_g, taps * q.cout_g, p.groups, 1};
    gemm(w, s, DyGather{q, dy}, KernelT{q, kernel}, StoreCols{p.in_c, q.cin_g, dx}, tf32, "conv2d_backward (dx)");
  }
  if (dkernel != nullptr) {
    GemmShape s{taps * q.cin_g, q.cout_g, pixels, p.groups, 1};
    if (w == Where::device) {
      s.split = gemm_split(s.m, s.n, s.k, s.batches);
      if (s.split > 1) check(cudaMemsetAsync(dkernel, 0, taps * q.cin_g * p.out_c * sizeof(float)), "conv2d_backward");
    }
    gemm(w, s, Im2colT{Im2col{q, x}}, DyCols{q, dy}, StoreCols{p.out_c, q.cout_g, dkernel}, tf32,
         "conv2d_backward (dkernel)");
    if (dbias != nullptr) column_sums_f32(w, pixels, p.out_c, dy, dbias);
  }
}

}  // namespace foveal::cuda
