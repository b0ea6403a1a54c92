// Every micro-kernel, one line each, named op_dtype_tile__isa. The dispatch table is filled from
// this list; nothing else names a per-ISA symbol.
#pragma once

#include "foveal/kernels.h"

namespace foveal {

// GEMM micro-kernels (register tile rows x columns).
void gemm_f32_4x8__scalar(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);
void gemm_f32_6x16__avx2(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);
void gemm_f32_6x64__avx512(size_t, size_t, size_t, size_t, const float* const*, const float*, float*, size_t, const GemmEpilogue&);

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
void softmax_f32_row__scalar(size_t, const float*, float*);
void softmax_f32_row__avx2(size_t, const float*, float*);
void softmax_f32_row__avx512(size_t, const float*, float*);

}  // namespace foveal
