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
// One name scheme: a stem is <op>_<dtype>[_<variant>], its symbols <op>_<dtype>[_<variant>]__<isa>
// (dtype f32 or u8; x8 for kernels that move bytes of any dtype). The field names are the
// drivers' (and _core.kernel_names()'s) and stay as they are.
//
// Every ISA defines every entry: a missing symbol is a link error, never a null table entry.
// The symbols live in cpp/src/kernels/{nn,image}/<op>/<op>_<dtype>__<isa>.cpp, one ISA per file
// (dtype u8f32 for a file holding both). Adding a kernel = one line here + its symbol in the op's
// three ISA files; a new op file also needs its path stem (e.g. nn/gemm/gemm_f32) in
// FOVEAL_KERNEL_OPS in CMakeLists.txt, which checks at configure time that all three exist.
//
// No include guard: including it expands the macros once more. The includer #undefs them.

// nn/gemm: the register tile (mr rows x nr columns; nr is the packed-B panel width), its kernels,
// and the strip kernel the GEMM-shaped drivers call (the tile over panels and K blocks).
FOVEAL_KERNEL_CONST(gemm_tile, GemmTile, gemm_f32_tile)
FOVEAL_KERNEL(gemm, gemm_ukernel_fn, gemm_f32)
FOVEAL_KERNEL(gemm_strips, gemm_strips_ukernel_fn, gemm_f32_strips)
FOVEAL_KERNEL(gemm_at, gemm_at_ukernel_fn, gemm_f32_at)
FOVEAL_KERNEL(gemm_strip, gemm_strip_fn, gemm_f32_strip)
FOVEAL_KERNEL(transpose, transpose_fn, gemm_f32_transpose)
// nn/conv2d: Winograd F(2x2, 3x3) and F(4x4, 3x3) tile transforms (input, output, and the
// kernel gradient's transform of the output gradient).
FOVEAL_KERNEL(winograd_input, winograd_input_fn, winograd_f32_input)
FOVEAL_KERNEL(winograd_output, winograd_output_fn, winograd_f32_output)
FOVEAL_KERNEL(winograd_dy, winograd_dy_fn, winograd_f32_dy)
FOVEAL_KERNEL(winograd_input4, winograd_input_fn, winograd_f32_input4)
FOVEAL_KERNEL(winograd_output4, winograd_output_fn, winograd_f32_output4)
FOVEAL_KERNEL(winograd_dy4, winograd_dy_fn, winograd_f32_dy4)
// nn/conv2d: the kernel gradient's register tile (mr input channels x nr output channels) and
// its kernel (the tile held over runs of output pixels).
FOVEAL_KERNEL_CONST(kgrad_tile, KgradTile, kgrad_f32_tile)
FOVEAL_KERNEL(conv_kgrad, conv_kgrad_fn, kgrad_f32)
// nn/dwconv2d: depthwise convolution, one output row; its kernel gradient (one output row) and
// input gradient (one input row).
FOVEAL_KERNEL(dwconv_row, dwconv_row_fn, dwconv2d_f32_row)
FOVEAL_KERNEL(dwconv_kgrad_row, dwconv_kgrad_row_fn, dwconv2d_f32_kgrad_row)
FOVEAL_KERNEL(dwconv_dx_row, dwconv_dx_row_fn, dwconv2d_f32_dx_row)
// nn/pool2d: pooling, one output row; global pooling, one image.
FOVEAL_KERNEL(maxpool_row, pool_row_fn, maxpool2d_f32_row)
FOVEAL_KERNEL(avgpool_row, pool_row_fn, avgpool2d_f32_row)
FOVEAL_KERNEL(maxpool_backward_row, pool_backward_row_fn, maxpool2d_f32_backward_row)
FOVEAL_KERNEL(avgpool_backward_row, pool_backward_row_fn, avgpool2d_f32_backward_row)
FOVEAL_KERNEL(global_maxpool, global_pool_fn, global_maxpool_f32)
FOVEAL_KERNEL(global_avgpool, global_pool_fn, global_avgpool_f32)
// nn/activation: elementwise activations and softmax.
FOVEAL_KERNEL(activation, activation_fn, activation_f32)
FOVEAL_KERNEL(activation_backward, activation_backward_fn, activation_f32_backward)
FOVEAL_KERNEL(softmax_row, softmax_row_fn, softmax_f32_row)
// nn/batchnorm: batch-normalization statistics and per-channel maps.
FOVEAL_KERNEL(channel_moments, channel_moments_fn, channel_moments_f32)
FOVEAL_KERNEL(channel_dot, channel_dot_fn, channel_dot_f32)
FOVEAL_KERNEL(channel_affine, channel_affine_fn, channel_affine_f32)
FOVEAL_KERNEL(bn_backward, bn_backward_fn, batchnorm_f32_backward)
FOVEAL_KERNEL(bn_grad_sums, bn_grad_sums_fn, batchnorm_f32_grad_sums)
FOVEAL_KERNEL(bn_grad_input, bn_grad_input_fn, batchnorm_f32_grad_input)
// nn/dropout: inverted dropout, each element kept or not by a hash of its index.
FOVEAL_KERNEL(dropout, dropout_fn, dropout_f32)
// nn/optimizers: the optimizers' update steps.
FOVEAL_KERNEL(sgd_step, sgd_step_fn, sgd_step_f32)
FOVEAL_KERNEL(adam_step, adam_step_fn, adam_step_f32)
FOVEAL_KERNEL(rmsprop_step, rmsprop_step_fn, rmsprop_step_f32)
// image/pointwise: pixel-wise ops, uint8 to float, gray conversion, flips (bytes: any dtype).
FOVEAL_KERNEL(pointwise_u8, pointwise_u8_fn, pointwise_u8)
FOVEAL_KERNEL(pointwise_f32, pointwise_f32_fn, pointwise_f32)
FOVEAL_KERNEL(u8_to_f32, pointwise_u8_to_f32_fn, pointwise_u8_to_f32)
FOVEAL_KERNEL(u8_to_f32_stream, pointwise_u8_to_f32_fn, pointwise_u8_to_f32_stream)
FOVEAL_KERNEL(gray_u8, gray_u8_fn, gray_u8)
FOVEAL_KERNEL(gray_f32, gray_f32_fn, gray_f32)
FOVEAL_KERNEL(flip_row, flip_row_fn, flip_x8_row)
// image/filter2d: row correlation (2-D and separable filters, the vertical pass of resize).
FOVEAL_KERNEL(correlate_f32, correlate_f32_fn, filter2d_f32_row)
FOVEAL_KERNEL(correlate_u8, correlate_u8_fn, filter2d_u8_row)
FOVEAL_KERNEL(correlate2_f32, correlate2_f32_fn, filter2d_f32_row2)
FOVEAL_KERNEL(correlate2_u8, correlate2_u8_fn, filter2d_u8_row2)
// image/filter2d: one output row of a uint8 2-D filter with small whole-number taps (16-bit sums).
FOVEAL_KERNEL(filter_int_u8, filter_int_u8_fn, filter2d_u8_int)
// image/filter2d: the fixed-point passes of a uint8 separable filter with small integer taps.
FOVEAL_KERNEL(sep_col_u8, sep_col_u8_fn, filter2d_u8_fixcol)
FOVEAL_KERNEL(sep_row_u8, sep_row_u8_fn, filter2d_u8_fixrow)
// image/warp: affine warp, one output row.
FOVEAL_KERNEL(warp_row_u8, warp_row_u8_fn, warp_u8_row)
FOVEAL_KERNEL(warp_row_f32, warp_row_f32_fn, warp_f32_row)
// image/warp: the augmentation rows (float32 out, intensity fused), from uint8 and float32.
FOVEAL_KERNEL(warp_row_u8_to_f32, warp_row_u8_to_f32_fn, warp_u8_to_f32_row)
FOVEAL_KERNEL(warp_row_f32_intensity, warp_row_f32_intensity_fn, warp_f32_intensity_row)
// image/resize: horizontal resampling of one source row.
FOVEAL_KERNEL(resample_row_u8, resample_row_u8_fn, resize_u8_row)
FOVEAL_KERNEL(resample_row_f32, resample_row_f32_fn, resize_f32_row)
// image/resize: the fixed-point bilinear uint8 passes (horizontal row, vertical combine).
FOVEAL_KERNEL(resize_hlinear_u8, resize_hlinear_u8_fn, resize_u8_hlinear)
FOVEAL_KERNEL(resize_vlinear_u8, resize_vlinear_u8_fn, resize_u8_vlinear)
// image/resize: one row of a nearest-neighbour resize (pixels of any dtype, as bytes).
FOVEAL_KERNEL(nearest_row, nearest_row_fn, resize_x8_nearest)
