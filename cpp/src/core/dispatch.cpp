// The kernel table, filled once at start-up from the CPU's features (MLAS-style), overridable
// downwards with FOVEAL_ISA. Drivers call through kernels(); nothing else picks an ISA.
#include "foveal/dispatch.h"

#include <atomic>
#include <cstdlib>

#include "core/cpu_features.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

KernelTable make_table(Isa isa) {
  KernelTable t{};
  t.isa = isa;
  switch (isa) {
#if defined(FOVEAL_X86)
    case Isa::avx512:
      t.gemm_mr = 6; t.gemm_nr = 64; t.gemm = gemm_f32_6x64__avx512; t.gemm_at = gemm_at_f32_6x64__avx512;
      t.winograd_input = winograd_input_f32__avx512; t.winograd_output = winograd_output_f32__avx512;
      t.dwconv_row = dwconv2d_f32_row__avx512;
      t.maxpool_row = maxpool2d_f32_row__avx512; t.avgpool_row = avgpool2d_f32_row__avx512;
      t.maxpool_backward_row = maxpool2d_backward_f32_row__avx512; t.avgpool_backward_row = avgpool2d_backward_f32_row__avx512;
      t.global_maxpool = global_maxpool_f32__avx512; t.global_avgpool = global_avgpool_f32__avx512;
      t.activation = activation_f32__avx512; t.activation_backward = activation_backward_f32__avx512; t.softmax_row = softmax_f32_row__avx512;
      t.channel_moments = channel_moments_f32__avx512; t.channel_dot = channel_dot_f32__avx512;
      t.channel_affine = channel_affine_f32__avx512; t.bn_backward = bn_backward_f32__avx512;
      t.dropout = dropout_f32__avx512;
      t.sgd_step = sgd_step_f32__avx512; t.adam_step = adam_step_f32__avx512; t.rmsprop_step = rmsprop_step_f32__avx512;
      t.pointwise_u8 = pointwise_u8__avx512; t.pointwise_f32 = pointwise_f32__avx512;
      t.u8_to_f32 = u8_to_f32__avx512; t.gray_u8 = gray_u8__avx512; t.gray_f32 = gray_f32__avx512;
      t.flip_row = flip_row__avx512;
      t.correlate_f32 = correlate_f32__avx512; t.correlate_u8 = correlate_u8__avx512;
      t.correlate2_f32 = correlate2_f32__avx512; t.correlate2_u8 = correlate2_u8__avx512;
      t.warp_row_u8 = warp_row_u8__avx512; t.warp_row_f32 = warp_row_f32__avx512;
      t.resample_row_u8 = resample_row_u8__avx512; t.resample_row_f32 = resample_row_f32__avx512;
      return t;
    case Isa::avx2:
      t.gemm_mr = 6; t.gemm_nr = 16; t.gemm = gemm_f32_6x16__avx2; t.gemm_at = gemm_at_f32_6x16__avx2;
      t.winograd_input = winograd_input_f32__avx2; t.winograd_output = winograd_output_f32__avx2;
      t.dwconv_row = dwconv2d_f32_row__avx2;
      t.maxpool_row = maxpool2d_f32_row__avx2; t.avgpool_row = avgpool2d_f32_row__avx2;
      t.maxpool_backward_row = maxpool2d_backward_f32_row__avx2; t.avgpool_backward_row = avgpool2d_backward_f32_row__avx2;
      t.global_maxpool = global_maxpool_f32__avx2; t.global_avgpool = global_avgpool_f32__avx2;
      t.activation = activation_f32__avx2; t.activation_backward = activation_backward_f32__avx2; t.softmax_row = softmax_f32_row__avx2;
      t.channel_moments = channel_moments_f32__avx2; t.channel_dot = channel_dot_f32__avx2;
      t.channel_affine = channel_affine_f32__avx2; t.bn_backward = bn_backward_f32__avx2;
      t.dropout = dropout_f32__avx2;
      t.sgd_step = sgd_step_f32__avx2; t.adam_step = adam_step_f32__avx2; t.rmsprop_step = rmsprop_step_f32__avx2;
      t.pointwise_u8 = pointwise_u8__avx2; t.pointwise_f32 = pointwise_f32__avx2;
      t.u8_to_f32 = u8_to_f32__avx2; t.gray_u8 = gray_u8__avx2; t.gray_f32 = gray_f32__avx2;
      t.flip_row = flip_row__avx2;
      t.correlate_f32 = correlate_f32__avx2; t.correlate_u8 = correlate_u8__avx2;
      t.correlate2_f32 = correlate2_f32__avx2; t.correlate2_u8 = correlate2_u8__avx2;
      t.warp_row_u8 = warp_row_u8__avx2; t.warp_row_f32 = warp_row_f32__avx2;
      t.resample_row_u8 = resample_row_u8__avx2; t.resample_row_f32 = resample_row_f32__avx2;
      return t;
#endif
    default:
      t.isa = Isa::scalar;
      t.gemm_mr = 4; t.gemm_nr = 8; t.gemm = gemm_f32_4x8__scalar; t.gemm_at = gemm_at_f32_4x8__scalar;
      t.winograd_input = winograd_input_f32__scalar; t.winograd_output = winograd_output_f32__scalar;
      t.dwconv_row = dwconv2d_f32_row__scalar;
      t.maxpool_row = maxpool2d_f32_row__scalar; t.avgpool_row = avgpool2d_f32_row__scalar;
      t.maxpool_backward_row = maxpool2d_backward_f32_row__scalar; t.avgpool_backward_row = avgpool2d_backward_f32_row__scalar;
      t.global_maxpool = global_maxpool_f32__scalar; t.global_avgpool = global_avgpool_f32__scalar;
      t.activation = activation_f32__scalar; t.activation_backward = activation_backward_f32__scalar; t.softmax_row = softmax_f32_row__scalar;
      t.channel_moments = channel_moments_f32__scalar; t.channel_dot = channel_dot_f32__scalar;
      t.channel_affine = channel_affine_f32__scalar; t.bn_backward = bn_backward_f32__scalar;
      t.dropout = dropout_f32__scalar;
      t.sgd_step = sgd_step_f32__scalar; t.adam_step = adam_step_f32__scalar; t.rmsprop_step = rmsprop_step_f32__scalar;
      t.pointwise_u8 = pointwise_u8__scalar; t.pointwise_f32 = pointwise_f32__scalar;
      t.u8_to_f32 = u8_to_f32__scalar; t.gray_u8 = gray_u8__scalar; t.gray_f32 = gray_f32__scalar;
      t.flip_row = flip_row__scalar;
      t.correlate_f32 = correlate_f32__scalar; t.correlate_u8 = correlate_u8__scalar;
      t.correlate2_f32 = correlate2_f32__scalar; t.correlate2_u8 = correlate2_u8__scalar;
      t.warp_row_u8 = warp_row_u8__scalar; t.warp_row_f32 = warp_row_f32__scalar;
      t.resample_row_u8 = resample_row_u8__scalar; t.resample_row_f32 = resample_row_f32__scalar;
      return t;
  }
}

bool isa_supported(Isa isa) {
  [[maybe_unused]] const CpuFeatures& f = cpu_features();
  switch (isa) {
    case Isa::scalar: return true;
#if defined(FOVEAL_X86)
    case Isa::avx2: return f.avx && f.avx2 && f.fma && f.f16c && f.os_avx;
    case Isa::avx512:
      return isa_supported(Isa::avx2) && f.avx512f && f.avx512bw && f.avx512dq && f.avx512vl &&
             f.os_avx512;
#endif
    default: return false;
  }
}

std::string g_env_warning;

Isa initial_isa() {
  Isa best = best_supported_isa();
  const char* env = std::getenv("FOVEAL_ISA");
  if (env == nullptr || *env == '\0') return best;
  Isa wanted;
  if (!parse_isa(env, &wanted)) {
    g_env_warning = std::string("FOVEAL_ISA=") + env +
                    " is not one of scalar, avx2, avx512; using " + isa_name(best);
    return best;
  }
  if (!isa_supported(wanted)) {
    g_env_warning = std::string("FOVEAL_ISA=") + env + " is not supported by this CPU; using " +
                    isa_name(best);
    return best;
  }
  return wanted;
}

// Three immutable tables; the current one is an atomic pointer so a switch is race-free.
const KernelTable& table_for(Isa isa) {
  static const KernelTable tables[3] = {make_table(Isa::scalar), make_table(Isa::avx2),
                                        make_table(Isa::avx512)};
  return tables[static_cast<int>(isa)];
}

std::atomic<const KernelTable*>& current() {
  static std::atomic<const KernelTable*> cur{&table_for(initial_isa())};
  return cur;
}

}  // namespace

const KernelTable& kernels() { return *current().load(std::memory_order_acquire); }

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx512: return "avx512";
    case Isa::avx2: return "avx2";
    default: return "scalar";
  }
}

bool parse_isa(const std::string& name, Isa* out) {
  if (name == "scalar") { *out = Isa::scalar; return true; }
  if (name == "avx2") { *out = Isa::avx2; return true; }
  if (name == "avx512") { *out = Isa::avx512; return true; }
  return false;
}

Isa best_supported_isa() {
  if (isa_supported(Isa::avx512)) return Isa::avx512;
  if (isa_supported(Isa::avx2)) return Isa::avx2;
  return Isa::scalar;
}

std::vector<Isa> supported_isas() {
  std::vector<Isa> out;
  for (Isa isa : {Isa::scalar, Isa::avx2, Isa::avx512})
    if (isa_supported(isa)) out.push_back(isa);
  return out;
}

bool select_isa(Isa isa) {
  if (!isa_supported(isa)) return false;
  current().store(&table_for(isa), std::memory_order_release);
  return true;
}

const std::string& isa_env_warning() {
  current();  // the warning is produced while the first table is chosen
  return g_env_warning;
}

std::vector<std::string> cpu_feature_names() {
  const CpuFeatures& f = cpu_features();
  std::vector<std::string> names;
  auto add = [&](bool has, const char* name) { if (has) names.emplace_back(name); };
  add(f.sse2, "sse2"); add(f.avx && f.os_avx, "avx"); add(f.fma, "fma"); add(f.f16c, "f16c");
  add(f.avx2, "avx2"); add(f.avx512f, "avx512f"); add(f.avx512bw, "avx512bw");
  add(f.avx512dq, "avx512dq"); add(f.avx512vl, "avx512vl"); add(f.os_avx512, "os_avx512");
  return names;
}

}  // namespace foveal
