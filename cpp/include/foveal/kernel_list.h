// The one list of micro-kernels (XNNPACK-style): one line per KernelTable field. It is included,
// with the two macros below defined, to declare every per-ISA symbol (kernels/registry.h), to
// lay out KernelTable (foveal/dispatch.h), to fill each ISA's table and to name its symbols for
// _core.kernel_table() (core/dispatch.cpp), which the tests and the benchmarks read.
//
//   FOVEAL_KERNEL(field, type, stem)        field `type field;` (a function-pointer type), filled
//                                           with the function stem##__scalar / __avx2 / __avx512
//   FOVEAL_KERNEL_CONST(field, type, stem)  the same for a per-ISA constant (a tuning number),
//                                           defined next to that ISA's kernel
//
// Every ISA defines every entry: a missing symbol is a link error, never a null table entry.
// Adding a kernel = one line here + stem__scalar.cpp, stem__avx2.cpp, stem__avx512.cpp (the
// symbols may share an existing per-op file; a new op file also needs its stem in
// FOVEAL_KERNEL_OPS in CMakeLists.txt, which checks at configure time that all three exist).
//
// No include guard: including it expands the macros once more. The includer #undefs them.

// GEMM: the register tile (mr rows x nr columns; nr is the packed-B panel width) and its kernels.
FOVEAL_KERNEL_CONST(gemm_tile, GemmTile, gemm_f32_tile)
FOVEAL_KERNEL(gemm, gemm_ukernel_fn, gemm_f32)
FOVEAL_KERNEL(gemm_at, gemm_at_ukernel_fn, gemm_at_f32)
// Winograd F(2x2, 3x3) tile transforms.
FOVEAL_KERNEL(winograd_input, winograd_input_fn, winograd_input_f32)
FOVEAL_KERNEL(winograd_output, winograd_output_fn, winograd_output_f32)
// Depthwise convolution, one output row.
FOVEAL_KERNEL(dwconv_row, dwconv_row_fn, dwconv2d_f32_row)
// Pooling, one output row; global pooling, one image.
FOVEAL_KERNEL(maxpool_row, pool_row_fn, maxpool2d_f32_row)
FOVEAL_KERNEL(avgpool_row, pool_row_fn, avgpool2d_f32_row)
FOVEAL_KERNEL(maxpool_backward_row, pool_backward_row_fn, maxpool2d_backward_f32_row)
FOVEAL_KERNEL(avgpool_backward_row, pool_backward_row_fn, avgpool2d_backward_f32_row)
FOVEAL_KERNEL(global_maxpool, global_pool_fn, global_maxpool_f32)
FOVEAL_KERNEL(global_avgpool, global_pool_fn, global_avgpool_f32)
// Elementwise activations and softmax.
FOVEAL_KERNEL(activation, activation_fn, activation_f32)
FOVEAL_KERNEL(activation_backward, activation_backward_fn, activation_backward_f32)
FOVEAL_KERNEL(softmax_row, softmax_row_fn, softmax_f32_row)
// Training: batch-normalization statistics and maps, dropout, optimizer steps.
FOVEAL_KERNEL(channel_moments, channel_moments_fn, channel_moments_f32)
FOVEAL_KERNEL(channel_dot, channel_dot_fn, channel_dot_f32)
FOVEAL_KERNEL(channel_affine, channel_affine_fn, channel_affine_f32)
FOVEAL_KERNEL(bn_backward, bn_backward_fn, bn_backward_f32)
FOVEAL_KERNEL(dropout, dropout_fn, dropout_f32)
FOVEAL_KERNEL(sgd_step, sgd_step_fn, sgd_step_f32)
FOVEAL_KERNEL(adam_step, adam_step_fn, adam_step_f32)
FOVEAL_KERNEL(rmsprop_step, rmsprop_step_fn, rmsprop_step_f32)
// Image: pixel-wise ops, gray conversion, flips (bytes: any dtype), row correlation (filters),
// affine warp rows, horizontal resampling (resize).
FOVEAL_KERNEL(pointwise_u8, pointwise_u8_fn, pointwise_u8)
FOVEAL_KERNEL(pointwise_f32, pointwise_f32_fn, pointwise_f32)
FOVEAL_KERNEL(u8_to_f32, pointwise_u8_to_f32_fn, u8_to_f32)
FOVEAL_KERNEL(gray_u8, gray_u8_fn, gray_u8)
FOVEAL_KERNEL(gray_f32, gray_f32_fn, gray_f32)
FOVEAL_KERNEL(flip_row, flip_row_fn, flip_row)
FOVEAL_KERNEL(correlate_f32, correlate_f32_fn, correlate_f32)
FOVEAL_KERNEL(correlate_u8, correlate_u8_fn, correlate_u8)
FOVEAL_KERNEL(correlate2_f32, correlate2_f32_fn, correlate2_f32)
FOVEAL_KERNEL(correlate2_u8, correlate2_u8_fn, correlate2_u8)
FOVEAL_KERNEL(warp_row_u8, warp_row_u8_fn, warp_row_u8)
FOVEAL_KERNEL(warp_row_f32, warp_row_f32_fn, warp_row_f32)
FOVEAL_KERNEL(resample_row_u8, resample_row_u8_fn, resample_row_u8)
FOVEAL_KERNEL(resample_row_f32, resample_row_f32_fn, resample_row_f32)
