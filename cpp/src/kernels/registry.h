// Every micro-kernel, one line each, named op_dtype_tile__isa. The dispatch table is filled from
// this list; nothing else names a per-ISA symbol.
#pragma once

#include "foveal/kernels.h"

namespace foveal {

// GEMM micro-kernels (register tile rows x columns).
void gemm_f32_4x8__scalar(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);
void gemm_f32_6x16__avx2(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);
void gemm_f32_6x64__avx512(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);
void gemm_at_f32_4x8__scalar(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t, const GemmEpilogue&);
void gemm_at_f32_6x16__avx2(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t, const GemmEpilogue&);
void gemm_at_f32_6x64__avx512(size_t, size_t, size_t, const float*, size_t, const float*, float*, size_t, const GemmEpilogue&);

// Winograd F(2x2, 3x3) tile transforms.
void winograd_input_f32__scalar(size_t, const float* const*, float*, size_t);
void winograd_input_f32__avx2(size_t, const float* const*, float*, size_t);
void winograd_input_f32__avx512(size_t, const float* const*, float*, size_t);
void winograd_output_f32__scalar(size_t, const float*, size_t, const float*, bool, float* const*);
void winograd_output_f32__avx2(size_t, const float*, size_t, const float*, bool, float* const*);
void winograd_output_f32__avx512(size_t, const float*, size_t, const float*, bool, float* const*);

// Depthwise convolution, one output row.
void dwconv2d_f32_row__scalar(const DwConvRowParams&, const float* const*, size_t, const float*, const float*, float*);
void dwconv2d_f32_row__avx2(const DwConvRowParams&, const float* const*, size_t, const float*, const float*, float*);
void dwconv2d_f32_row__avx512(const DwConvRowParams&, const float* const*, size_t, const float*, const float*, float*);

// Pooling, one output row; global pooling, one image.
void maxpool2d_f32_row__scalar(const PoolRowParams&, const float* const*, size_t, float*);
void maxpool2d_f32_row__avx2(const PoolRowParams&, const float* const*, size_t, float*);
void maxpool2d_f32_row__avx512(const PoolRowParams&, const float* const*, size_t, float*);
void avgpool2d_f32_row__scalar(const PoolRowParams&, const float* const*, size_t, float*);
void avgpool2d_f32_row__avx2(const PoolRowParams&, const float* const*, size_t, float*);
void avgpool2d_f32_row__avx512(const PoolRowParams&, const float* const*, size_t, float*);
void maxpool2d_backward_f32_row__scalar(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void maxpool2d_backward_f32_row__avx2(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void maxpool2d_backward_f32_row__avx512(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void avgpool2d_backward_f32_row__scalar(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void avgpool2d_backward_f32_row__avx2(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void avgpool2d_backward_f32_row__avx512(const PoolRowParams&, const float* const*, float* const*, size_t, const float*);
void global_maxpool_f32__scalar(size_t, size_t, size_t, const float*, float*);
void global_maxpool_f32__avx2(size_t, size_t, size_t, const float*, float*);
void global_maxpool_f32__avx512(size_t, size_t, size_t, const float*, float*);
void global_avgpool_f32__scalar(size_t, size_t, size_t, const float*, float*);
void global_avgpool_f32__avx2(size_t, size_t, size_t, const float*, float*);
void global_avgpool_f32__avx512(size_t, size_t, size_t, const float*, float*);

// Elementwise activations and softmax.
void activation_f32__scalar(size_t, const float*, float*, Activation);
void activation_f32__avx2(size_t, const float*, float*, Activation);
void activation_f32__avx512(size_t, const float*, float*, Activation);
void activation_backward_f32__scalar(size_t, const float*, const float*, float*, Activation);
void activation_backward_f32__avx2(size_t, const float*, const float*, float*, Activation);
void activation_backward_f32__avx512(size_t, const float*, const float*, float*, Activation);
void softmax_f32_row__scalar(size_t, const float*, float*);
void softmax_f32_row__avx2(size_t, const float*, float*);
void softmax_f32_row__avx512(size_t, const float*, float*);

// Training: batch-normalization statistics and maps, dropout, optimizer steps.
void channel_moments_f32__scalar(size_t, size_t, const float*, const float*, float*, float*);
void channel_moments_f32__avx2(size_t, size_t, const float*, const float*, float*, float*);
void channel_moments_f32__avx512(size_t, size_t, const float*, const float*, float*, float*);
void channel_dot_f32__scalar(size_t, size_t, const float*, const float*, float*, float*);
void channel_dot_f32__avx2(size_t, size_t, const float*, const float*, float*, float*);
void channel_dot_f32__avx512(size_t, size_t, const float*, const float*, float*, float*);
void channel_affine_f32__scalar(size_t, size_t, const float*, const ChannelAffine&, float*, float*);
void channel_affine_f32__avx2(size_t, size_t, const float*, const ChannelAffine&, float*, float*);
void channel_affine_f32__avx512(size_t, size_t, const float*, const ChannelAffine&, float*, float*);
void bn_backward_f32__scalar(size_t, size_t, const float*, const float*, const float*, const float*, const float*, float*);
void bn_backward_f32__avx2(size_t, size_t, const float*, const float*, const float*, const float*, const float*, float*);
void bn_backward_f32__avx512(size_t, size_t, const float*, const float*, const float*, const float*, const float*, float*);
void dropout_f32__scalar(size_t, const float*, float*, float*, const DropoutParams&);
void dropout_f32__avx2(size_t, const float*, float*, float*, const DropoutParams&);
void dropout_f32__avx512(size_t, const float*, float*, float*, const DropoutParams&);
void sgd_step_f32__scalar(size_t, float*, const float*, float*, const SgdParams&);
void sgd_step_f32__avx2(size_t, float*, const float*, float*, const SgdParams&);
void sgd_step_f32__avx512(size_t, float*, const float*, float*, const SgdParams&);
void adam_step_f32__scalar(size_t, float*, const float*, float*, float*, const AdamParams&);
void adam_step_f32__avx2(size_t, float*, const float*, float*, float*, const AdamParams&);
void adam_step_f32__avx512(size_t, float*, const float*, float*, float*, const AdamParams&);
void rmsprop_step_f32__scalar(size_t, float*, const float*, float*, float*, float*, const RmspropParams&);
void rmsprop_step_f32__avx2(size_t, float*, const float*, float*, float*, float*, const RmspropParams&);
void rmsprop_step_f32__avx512(size_t, float*, const float*, float*, float*, float*, const RmspropParams&);

// Image kernels: pixel-wise ops, gray conversion, flips, row correlation (filters), affine warp
// rows, horizontal resampling (resize).
void pointwise_u8__scalar(PointwiseOp, size_t, const uint8_t*, const uint8_t*, const PointwiseParams&, uint8_t*);
void pointwise_u8__avx2(PointwiseOp, size_t, const uint8_t*, const uint8_t*, const PointwiseParams&, uint8_t*);
void pointwise_u8__avx512(PointwiseOp, size_t, const uint8_t*, const uint8_t*, const PointwiseParams&, uint8_t*);
void pointwise_f32__scalar(PointwiseOp, size_t, const float*, const float*, const PointwiseParams&, float*);
void pointwise_f32__avx2(PointwiseOp, size_t, const float*, const float*, const PointwiseParams&, float*);
void pointwise_f32__avx512(PointwiseOp, size_t, const float*, const float*, const PointwiseParams&, float*);
void u8_to_f32__scalar(size_t, const uint8_t*, float, float*);
void u8_to_f32__avx2(size_t, const uint8_t*, float, float*);
void u8_to_f32__avx512(size_t, const uint8_t*, float, float*);
void gray_u8__scalar(size_t, size_t, const uint8_t*, uint8_t*);
void gray_u8__avx2(size_t, size_t, const uint8_t*, uint8_t*);
void gray_u8__avx512(size_t, size_t, const uint8_t*, uint8_t*);
void gray_f32__scalar(size_t, size_t, const float*, float*);
void gray_f32__avx2(size_t, size_t, const float*, float*);
void gray_f32__avx512(size_t, size_t, const float*, float*);
void flip_row__scalar(size_t, size_t, const uint8_t*, uint8_t*);
void flip_row__avx2(size_t, size_t, const uint8_t*, uint8_t*);
void flip_row__avx512(size_t, size_t, const uint8_t*, uint8_t*);
void correlate_f32__scalar(const float* const*, size_t, const float*, size_t, size_t, size_t, float*);
void correlate_f32__avx2(const float* const*, size_t, const float*, size_t, size_t, size_t, float*);
void correlate_f32__avx512(const float* const*, size_t, const float*, size_t, size_t, size_t, float*);
void correlate_u8__scalar(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*);
void correlate_u8__avx2(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*);
void correlate_u8__avx512(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*);
void correlate2_f32__scalar(const float* const*, size_t, const float*, size_t, size_t, size_t, float*, float*);
void correlate2_f32__avx2(const float* const*, size_t, const float*, size_t, size_t, size_t, float*, float*);
void correlate2_f32__avx512(const float* const*, size_t, const float*, size_t, size_t, size_t, float*, float*);
void correlate2_u8__scalar(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*, uint8_t*);
void correlate2_u8__avx2(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*, uint8_t*);
void correlate2_u8__avx512(const float* const*, size_t, const float*, size_t, size_t, size_t, uint8_t*, uint8_t*);
void warp_row_u8__scalar(const WarpRowParams&, const uint8_t*, size_t, uint8_t*);
void warp_row_u8__avx2(const WarpRowParams&, const uint8_t*, size_t, uint8_t*);
void warp_row_u8__avx512(const WarpRowParams&, const uint8_t*, size_t, uint8_t*);
void warp_row_f32__scalar(const WarpRowParams&, const float*, size_t, float*);
void warp_row_f32__avx2(const WarpRowParams&, const float*, size_t, float*);
void warp_row_f32__avx512(const WarpRowParams&, const float*, size_t, float*);
void resample_row_u8__scalar(const uint8_t*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);
void resample_row_u8__avx2(const uint8_t*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);
void resample_row_u8__avx512(const uint8_t*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);
void resample_row_f32__scalar(const float*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);
void resample_row_f32__avx2(const float*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);
void resample_row_f32__avx512(const float*, size_t, size_t, size_t, size_t, const int32_t*, const float*, float*);

}  // namespace foveal
