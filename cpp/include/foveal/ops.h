// Operator drivers: validated sizes in, results out. Each checks nothing about Python; the
// bindings validate arguments before calling. All are thread-safe and parallel (OpenMP).
#pragma once

#include <cstddef>
#include <cstdint>

#include "foveal/kernels.h"

namespace foveal {

struct Conv2dParams {
  size_t batch, in_h, in_w, in_c;
  size_t out_h, out_w, out_c;
  size_t kh, kw, groups;
  size_t stride_h, stride_w, dilation_h, dilation_w;
  size_t pad_top, pad_left;  // bottom and right padding follow from the output size
  Activation activation;
};
// x: N x H x W x Cin; kernel: kh x kw x (Cin/groups) x Cout; bias: Cout or nullptr;
// y: N x OH x OW x Cout. residual (like y, or nullptr) is added before the activation:
// y = act(conv(x) + bias + residual), a residual connection fused into the tile's epilogue.
void conv2d_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                     float* y, const float* residual = nullptr);
// MobileNetV2's inverted-residual block in one pass (inference; inverted_residual.cpp):
//   y = project(act_dw(depthwise(act_expand(x We + be)) + bd)) + bp [+ residual]
// x: N x H x W x in_c; expand_kernel in_c x hidden_c (nullptr: no expansion, hidden_c == in_c)
// with expand_bias (hidden_c or nullptr); dw_kernel kh x kw x hidden_c, dw_bias hidden_c or
// nullptr (depthwise, undilated, strides and pads as given); project_kernel hidden_c x out_c,
// project_bias out_c or nullptr; residual (like y, or nullptr); y: N x out_h x out_w x out_c.
struct InvertedResidualParams {
  size_t batch, in_h, in_w, in_c, hidden_c;
  size_t out_h, out_w, out_c;
  size_t kh, kw, stride_h, stride_w, pad_top, pad_left;
  Activation expand_act, dw_act;
};
// Per-output-channel factors the block's kernels are multiplied by before use (each nullptr:
// none): batch normalizations folded in while the kernels are packed, with no pass of their own.
struct InvertedResidualScales {
  const float* expand = nullptr;    // hidden_c
  const float* dw = nullptr;        // hidden_c
  const float* project = nullptr;   // out_c
};
void inverted_residual_f32_nhwc(const InvertedResidualParams& p, const float* x,
                                const float* expand_kernel, const float* expand_bias,
                                const float* dw_kernel, const float* dw_bias,
                                const float* project_kernel, const float* project_bias,
                                const float* residual, float* y,
                                const InvertedResidualScales& scales = {});
// conv2d (p.activation none, no residual) that also gives the per-channel moments of its output
// over all N*OH*OW pixels (mean and M2 in double, out_c each), as batch_norm_train_f32 would
// compute them: from each block of output rows right after it is written (still in cache) where
// the driver's tiling allows, else in a pass of their own. Deterministic for a given shape.
void conv2d_moments_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel, const float* bias,
                             float* y, double* mean, double* m2);
// A convolution and the pooling of its output in one pass (inference): y = pool(conv(x)), conv
// as conv2d_f32_nhwc (its activation applied before pooling, no residual). The pooling windows
// are pool_h x pool_w with strides equal to their size and no padding: y is N x (OH / pool_h) x
// (OW / pool_w) x Cout, the last conv rows and columns that fill no window dropped (Keras's
// "valid" pooling). Each band of conv output is pooled while it is in cache; it never goes to
// memory. The sums are those of conv2d_f32_nhwc, the pooling that of max/avg_pool2d_f32_nhwc.
struct ConvPool {
  size_t pool_h, pool_w;
  bool average;   // false: max
};
// keep (N x OH x OW x Cout, or nullptr): the convolution's output is also written there (a
// training step keeps it for the backward pass); the pooling still reads it while in cache.
void conv2d_pool_f32_nhwc(const Conv2dParams& p, const ConvPool& q, const float* x, const float* kernel,
                          const float* bias, float* y, float* keep = nullptr);
// Gradients of conv2d (p.activation ignored: dy is the gradient of the pre-activation output).
// dx (N x H x W x Cin) may be nullptr when not wanted; dkernel (as the kernel) nullptr skips
// every weight-gradient pass (dbias is then not written); dbias (Cout) may be nullptr.
void conv2d_backward_f32_nhwc(const Conv2dParams& p, const float* x, const float* kernel,
                              const float* dy, float* dx, float* dkernel, float* dbias);

struct Pool2dParams {
  size_t batch, in_h, in_w, channels;
  size_t out_h, out_w;
  size_t kh, kw, stride_h, stride_w, pad_top, pad_left;
};
void max_pool2d_f32_nhwc(const Pool2dParams& p, const float* x, float* y);
void avg_pool2d_f32_nhwc(const Pool2dParams& p, const float* x, float* y);
// x: N x HW x C -> y: N x C
void global_max_pool2d_f32(size_t batch, size_t hw, size_t channels, const float* x, float* y);
void global_avg_pool2d_f32(size_t batch, size_t hw, size_t channels, const float* x, float* y);
// Pooling gradients: dy has the forward output's shape, dx the input's.
// through_relu (max only): x is a ReLU's output and dx is the gradient before that ReLU (a
// window whose maximum is not above 0 passes nothing), the two backward passes in one.
void max_pool2d_backward_f32_nhwc(const Pool2dParams& p, const float* x, const float* dy, float* dx,
                                  bool through_relu = false);
void avg_pool2d_backward_f32_nhwc(const Pool2dParams& p, const float* dy, float* dx);
void global_max_pool2d_backward_f32(size_t batch, size_t hw, size_t channels, const float* x,
                                    const float* dy, float* dx);
void global_avg_pool2d_backward_f32(size_t batch, size_t hw, size_t channels, const float* dy,
                                    float* dx);

// y[M x N] = act(x[M x K] * kernel[K x N] + bias)
void dense_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel, const float* bias,
               float* y, Activation act);

// Gradients of dense: dkernel (k x n) = x^T dy, dx (m x k, or nullptr) = dy kernel^T,
// dbias (n, or nullptr) = column sums of dy. dkernel nullptr: no weight gradient (nor dbias).
void dense_backward_f32(size_t m, size_t k, size_t n, const float* x, const float* kernel,
                        const float* dy, float* dx, float* dkernel, float* dbias);

// Test hook: the multiply-adds the weight-gradient passes of conv2d and dense backward have run
// (nominal: every tap of every output value, padding included) since the last reset; process-wide.
void count_weight_grad_macs(uint64_t macs);
uint64_t weight_grad_macs();
void reset_weight_grad_macs();

void activation_f32(size_t n, const float* x, float* y, Activation act);
// y = act(a + b) over n floats, in chunks on the threads (a residual connection's sum).
void add_f32(size_t n, const float* a, const float* b, float* y, Activation act);
// dx = dy * f'(x), from src: the forward input x where activation_grad_from_input(act) (silu,
// hard_silu, gelu), else the forward output y (relu: y > 0; sigmoid: y(1-y); tanh: 1-y^2; ...).
void activation_backward_f32(size_t n, const float* dy, const float* src, float* dx, Activation act);
// Softmax over the last axis of a rows x cols matrix.
void softmax_f32(size_t rows, size_t cols, const float* x, float* y);

// ---- training (rows x c matrices, channels last) -------------------------------------------
// Batch normalization with the batch's statistics: mean, biased variance (summed in double),
// inv_std = 1/sqrt(var + epsilon), xhat = (x - mean) * inv_std, y = xhat * gamma + beta.
// xhat may be nullptr (not written: the backward below recomputes it from x); activation none,
// relu or relu6 is applied to y in the same pass.
void batch_norm_train_f32(size_t rows, size_t c, const float* x, const float* gamma,
                          const float* beta, float epsilon, float* y, float* xhat, float* mean,
                          float* var, float* inv_std, Activation activation = Activation::none);
// The same from the statistics given as (mean, M2 = sum of squared deviations) in double, e.g.
// by conv2d_moments_f32_nhwc: no pass over x for them.
void batch_norm_train_from_moments_f32(size_t rows, size_t c, const float* x, const double* moments_mean,
                                       const double* moments_m2, const float* gamma, const float* beta,
                                       float epsilon, float* y, float* xhat, float* mean, float* var,
                                       float* inv_std, Activation activation = Activation::none);
// Its gradient: dbeta = sum dy, dgamma = sum dy*xhat,
// dx = ((dy - dbeta/m) - xhat * (dgamma/m)) * (gamma * inv_std).
void batch_norm_backward_f32(size_t rows, size_t c, const float* dy, const float* xhat,
                             const float* gamma, const float* inv_std, float* dx, float* dgamma,
                             float* dbeta);
// The same gradient from the forward's input x (xhat recomputed from mean and inv_std), through
// the activation batch_norm_train_f32 applied (dy then being the gradient at its output).
void batch_norm_backward_from_input_f32(size_t rows, size_t c, const float* dy, const float* x,
                                        const BnBackwardParams& p, float* dx, float* dgamma,
                                        float* dbeta);
// y = ((x - shift) * scale) * mul + add per channel (mul may be nullptr).
void channel_affine_f32(size_t rows, size_t c, const float* x, const ChannelAffine& p, float* y);
// Inverted dropout: keeps each element with probability keep (0 < keep <= 1), mask = 1/keep or 0,
// y = x * mask; the draw of element i depends only on (key, i).
void dropout_f32(size_t n, const float* x, float* y, float* mask, uint64_t key, float keep);
// Categorical cross-entropy per row and its gradient divided by the row count. from_logits: p
// holds logits, grad is d/dlogits = softmax * sum(y) - y. Otherwise p holds softmax outputs,
// the loss clips p/sum(p) to [epsilon, 1 - epsilon], grad = p * sum(y) - y (the gradient with
// respect to the softmax's input), and clipped[r] (may be nullptr) flags rows where a labelled
// entry was clipped (that gradient does not hold there).
void softmax_cross_entropy_f32(size_t rows, size_t c, const float* p, const float* y,
                               bool from_logits, float epsilon, float* values, float* grad,
                               uint8_t* clipped);
// Optimizer steps in place (see kernels.h).
void sgd_step_f32(size_t n, float* w, const float* g, float* m, const SgdParams& p);
void adam_step_f32(size_t n, float* w, const float* g, float* m, float* v, const AdamParams& p);
void rmsprop_step_f32(size_t n, float* w, const float* g, float* v, float* m, float* a,
                      const RmspropParams& p);

// ---- spatial layout (ZeroPadding2D, UpSampling2D): nn/resample2d/resample2d.cpp --------------
struct Pad2dParams {
  size_t batch, in_h, in_w, channels;
  size_t pad_top, pad_bottom, pad_left, pad_right;
};
// y: N x (H + top + bottom) x (W + left + right) x C, x inside, zeros around.
void zero_pad2d_f32_nhwc(const Pad2dParams& p, const float* x, float* y);
// The inverse (zero_pad2d's gradient): x (N x H x W x C) = the interior of y.
void crop2d_f32_nhwc(const Pad2dParams& p, const float* y, float* x);
struct Upsample2dParams {
  size_t batch, in_h, in_w, channels, size_h, size_w;
  bool bilinear;  // else nearest: each pixel repeated size_h x size_w times
};
// y: N x (H * size_h) x (W * size_w) x C; bilinear with half-pixel centres (tf.image.resize).
void upsample2d_f32_nhwc(const Upsample2dParams& p, const float* x, float* y);
// dx (N x H x W x C) from dy (N x H*size_h x W*size_w x C).
void upsample2d_backward_f32_nhwc(const Upsample2dParams& p, const float* dy, float* dx);

}  // namespace foveal
