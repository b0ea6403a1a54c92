// The kernel table: filled once from CPUID + XGETBV (or FOVEAL_ISA), used by every driver.
#pragma once

#include <string>
#include <vector>

#include "foveal/kernels.h"

namespace foveal {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

struct KernelTable {
  Isa isa;
  // GEMM register tile: mr rows x nr columns (nr is the packed-B panel width).
  size_t gemm_mr, gemm_nr;
  gemm_ukernel_fn gemm;
  gemm_at_ukernel_fn gemm_at;
  winograd_input_fn winograd_input;
  winograd_output_fn winograd_output;
  dwconv_row_fn dwconv_row;
  pool_row_fn maxpool_row, avgpool_row;
  pool_backward_row_fn maxpool_backward_row, avgpool_backward_row;
  global_pool_fn global_maxpool, global_avgpool;
  activation_fn activation;
  activation_backward_fn activation_backward;
  softmax_row_fn softmax_row;
  // Training.
  channel_moments_fn channel_moments;
  channel_dot_fn channel_dot;
  channel_affine_fn channel_affine;
  bn_backward_fn bn_backward;
  dropout_fn dropout;
  sgd_step_fn sgd_step;
  adam_step_fn adam_step;
  rmsprop_step_fn rmsprop_step;
  // Image kernels.
  pointwise_u8_fn pointwise_u8;
  pointwise_f32_fn pointwise_f32;
  pointwise_u8_to_f32_fn u8_to_f32;
  gray_u8_fn gray_u8;
  gray_f32_fn gray_f32;
  flip_row_fn flip_row;
  correlate_f32_fn correlate_f32;
  correlate_u8_fn correlate_u8;
  correlate2_f32_fn correlate2_f32;
  correlate2_u8_fn correlate2_u8;
  warp_row_u8_fn warp_row_u8;
  warp_row_f32_fn warp_row_f32;
  resample_row_u8_fn resample_row_u8;
  resample_row_f32_fn resample_row_f32;
};

// The table in use. Always valid (filled at static-initialization time).
const KernelTable& kernels();

const char* isa_name(Isa isa);
// Parses "scalar" | "avx2" | "avx512"; returns false for anything else.
bool parse_isa(const std::string& name, Isa* out);

// Best ISA this CPU and OS support, and every ISA they support (ascending).
Isa best_supported_isa();
std::vector<Isa> supported_isas();
// Switches the table (tests and benchmarks); returns false if the ISA is not supported.
bool select_isa(Isa isa);
// A warning produced while reading FOVEAL_ISA at start-up ("" when none).
const std::string& isa_env_warning();

// CPU facts for build_info().
std::vector<std::string> cpu_feature_names();

}  // namespace foveal
