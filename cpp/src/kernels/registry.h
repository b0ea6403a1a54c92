// Declarations of every per-ISA micro-kernel symbol (stem__scalar, stem__avx2, stem__avx512),
// generated from foveal/kernel_list.h; each kernel file includes this so that its definitions
// are checked against the table's function types.
#pragma once

#include <type_traits>

#include "foveal/kernels.h"

// stem##suffix after the suffix macro has expanded.
#define FOVEAL_PASTE_(a, b) a##b
#define FOVEAL_PASTE(a, b) FOVEAL_PASTE_(a, b)

// Hidden, so that a symbol no kernel file defines fails the link of _core; a shared object may
// otherwise leave a default-visibility symbol undefined until import.
#if defined(__GNUC__)
#define FOVEAL_KERNEL_SYMBOL __attribute__((visibility("hidden")))
#else
#define FOVEAL_KERNEL_SYMBOL
#endif

namespace foveal {

// A function-pointer type's function type declares the function: `void gemm_f32__avx2(...);`.
#define FOVEAL_KERNEL(field, type, stem) \
  FOVEAL_KERNEL_SYMBOL std::remove_pointer_t<type> FOVEAL_PASTE(stem, FOVEAL_ISA_SUFFIX);
#define FOVEAL_KERNEL_CONST(field, type, stem) \
  FOVEAL_KERNEL_SYMBOL extern const type FOVEAL_PASTE(stem, FOVEAL_ISA_SUFFIX);

#define FOVEAL_ISA_SUFFIX __scalar
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX
#define FOVEAL_ISA_SUFFIX __avx2
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX
#define FOVEAL_ISA_SUFFIX __avx512
#include "foveal/kernel_list.h"
#undef FOVEAL_ISA_SUFFIX

#undef FOVEAL_KERNEL
#undef FOVEAL_KERNEL_CONST

}  // namespace foveal
