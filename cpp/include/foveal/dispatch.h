// The kernel table: filled once from CPUID + XGETBV (or FOVEAL_ISA), used by every driver.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "foveal/kernels.h"

namespace foveal {

enum class Isa : int { scalar = 0, avx2 = 1, avx512 = 2 };

// One field per line of foveal/kernel_list.h (the GEMM tile, then the micro-kernels), each
// filled for the ISA from its stem__<isa> symbol.
struct KernelTable {
  Isa isa;
#define FOVEAL_KERNEL(field, type, stem) type field;
#define FOVEAL_KERNEL_CONST(field, type, stem) type field;
#include "foveal/kernel_list.h"
#undef FOVEAL_KERNEL
#undef FOVEAL_KERNEL_CONST
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

// The table's fields in list order, each with the symbol `isa`'s table holds ("gemm" ->
// "gemm_f32__avx2"), for _core.kernel_table(); every ISA's table is complete (checked at start-up).
std::vector<std::pair<std::string, std::string>> kernel_symbols(Isa isa);

// CPU facts for build_info().
std::vector<std::string> cpu_feature_names();

}  // namespace foveal
