// Kernel interfaces: parameter structs and micro-kernel function-pointer types.
// Kernels take raw pointers, sizes, strides and a params struct; they know nothing of Python.
#pragma once

#include <cstddef>
#include <cstdint>

namespace foveal {

enum class Activation : int { none = 0, relu = 1, sigmoid = 2, tanh = 3 };

// ---------------------------------------------------------------------------------------------
// Indirect GEMM micro-kernel (one register tile):
//   C[mr x nc] (+)= sum over taps t of A_t[mr x kc] * B_t[kc x NR]
// a holds ntaps groups of mr row pointers (a[t*mr + i] is row i of tap t, kc contiguous floats;
// a zero row stands in for padding). packed_b holds ntaps*kc rows of NR contiguous floats, zero
// padded past the matrix's columns. C is row-major with row stride c_stride; nc <= NR columns are
// written. A plain GEMM is the case ntaps == 1; a convolution has one tap per kernel position.
struct GemmEpilogue {
  const float* bias;      // NR-wide slice of the bias, or nullptr (used only when !accumulate)
  bool accumulate;        // true: C += A*B (a later K block); false: C = bias + A*B
  bool relu;              // apply max(0, .) after the sum (only on the last K block)
};
using gemm_ukernel_fn = void (*)(size_t mr, size_t nc, size_t kc, size_t ntaps,
                                 const float* const* a, const float* packed_b, float* c,
                                 size_t c_stride, const GemmEpilogue& ep);

// ---------------------------------------------------------------------------------------------
// Depthwise convolution (channel multiplier 1), one output row of an NHWC image.
// rows holds the nrows input rows that the kernel rows [r0, r0 + nrows) read (those inside the
// image; padding rows contribute nothing); weights points at kernel row r0 of the kh x kw x C
// kernel; bias: channels or nullptr.
struct DwConvRowParams {
  size_t channels, in_width, out_width;
  size_t kw, stride_w, dilation_w, pad_left;
  Activation activation;
};
using dwconv_row_fn = void (*)(const DwConvRowParams& p, const float* const* rows, size_t nrows,
                               const float* weights, const float* bias, float* out);

// ---------------------------------------------------------------------------------------------
// Max / average pooling, one output row of an NHWC image. rows holds only the input rows that lie
// inside the image (nrows of them); padded cells never take part (Keras semantics: they are
// excluded from the average's divisor and never win the max).
struct PoolRowParams {
  size_t channels, in_width, out_width;
  size_t kw, stride_w, pad_left;
};
using pool_row_fn = void (*)(const PoolRowParams& p, const float* const* rows, size_t nrows,
                             float* out);

// Global pooling of one image: x is hw rows of `channels` floats, row_stride apart; y is channels.
using global_pool_fn = void (*)(size_t hw, size_t channels, size_t row_stride, const float* x,
                                float* y);

// ---------------------------------------------------------------------------------------------
// Elementwise activation y = f(x) over n floats (x and y may alias).
using activation_fn = void (*)(size_t n, const float* x, float* y, Activation act);
// Softmax over `cols` contiguous floats of one row (x and y may alias).
using softmax_row_fn = void (*)(size_t cols, const float* x, float* y);

}  // namespace foveal
