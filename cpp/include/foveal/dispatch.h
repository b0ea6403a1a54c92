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
  dwconv_row_fn dwconv_row;
  pool_row_fn maxpool_row, avgpool_row;
  global_pool_fn global_maxpool, global_avgpool;
  activation_fn activation;
  softmax_row_fn softmax_row;
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
