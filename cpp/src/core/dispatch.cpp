// The kernel table, filled once at start-up from the CPU's features (MLAS-style), overridable
// downwards with FOVEAL_ISA. Drivers call through kernels(); nothing else picks an ISA.
#include "foveal/dispatch.h"

#include <atomic>
#include <cstdio>
#include <cstdlib>

#include "core/cpu_features.h"
#include "kernels/registry.h"

namespace foveal {
namespace {

using Symbols = std::vector<std::pair<std::string, std::string>>;

// One ISA's table and the symbol behind each of its fields.
struct IsaTable {
  KernelTable table;
  Symbols symbols;
};

#define FOVEAL_STR_(x) #x
#define FOVEAL_STR(x) FOVEAL_STR_(x)
// Each expansion of foveal/kernel_list.h assigns every field from FOVEAL_ISA_SUFFIX's symbol,
// so a kernel an ISA lacks fails to link.
#define FOVEAL_KERNEL(field, type, stem)                   \
  t.field = FOVEAL_PASTE(stem, FOVEAL_ISA_SUFFIX);         \
  symbols.emplace_back(#field, FOVEAL_STR(FOVEAL_PASTE(stem, FOVEAL_ISA_SUFFIX)));
#define FOVEAL_KERNEL_CONST FOVEAL_KERNEL

bool is_set(const GemmTile& tile) { return tile.mr > 0 && tile.nr > 0; }
bool is_set(const KgradTile& tile) { return tile.mr > 0 && tile.nr > 0 && tile.width > 0; }
template <class F>
bool is_set(F* fn) { return fn != nullptr; }

// The scalar table is the baseline every build has; x86 builds upgrade it to the ISA asked for.
// Other builds keep the scalar table (and never support avx2/avx512).
IsaTable make_table(Isa isa) {
  IsaTable r{};
  KernelTable& t = r.table;
  Symbols& symbols = r.symbols;
  t.isa = Isa::scalar;
#define FOVEAL_ISA_SUFFIX __scalar
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX
#if defined(FOVEAL_X86)
  if (isa == Isa::avx2) {
    t.isa = isa;
    symbols.clear();
#define FOVEAL_ISA_SUFFIX __avx2
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX
  } else if (isa == Isa::avx512) {
    t.isa = isa;
    symbols.clear();
#define FOVEAL_ISA_SUFFIX __avx512
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX
  }
#endif
  return r;
}
#undef FOVEAL_KERNEL
#undef FOVEAL_KERNEL_CONST

// A null entry would be a crash far from its cause; the list should make one impossible, and
// this start-up check says so loudly if the list and the table ever disagree.
void check_complete(const KernelTable& t) {
#define FOVEAL_KERNEL(field, type, stem)                                                   \
  if (!is_set(t.field)) {                                                                  \
    std::fprintf(stderr, "foveal: kernel table for %s has no '%s' (foveal/kernel_list.h)\n", \
                 isa_name(t.isa), #field);                                                 \
    std::abort();                                                                          \
  }
#define FOVEAL_KERNEL_CONST FOVEAL_KERNEL
#include "foveal/kernel_list.h"
#undef FOVEAL_KERNEL
#undef FOVEAL_KERNEL_CONST
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

// Three immutable tables, each checked complete; the current one is an atomic pointer so a
// switch is race-free.
const IsaTable& isa_table(Isa isa) {
  static const IsaTable tables[3] = {make_table(Isa::scalar), make_table(Isa::avx2),
                                     make_table(Isa::avx512)};
  static const bool checked = [] {
    for (const IsaTable& r : tables) check_complete(r.table);
    return true;
  }();
  (void)checked;
  return tables[static_cast<int>(isa)];
}

const KernelTable& table_for(Isa isa) { return isa_table(isa).table; }

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

std::vector<std::pair<std::string, std::string>> kernel_symbols(Isa isa) {
  return isa_table(isa).symbols;
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
