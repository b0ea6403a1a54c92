# Per-file instruction-set flags for runtime-dispatched kernels.
# x86-64 builds compile every kernel three times (scalar, AVX2+FMA, AVX-512); the choice among
# them is made at import from CPUID + XGETBV (cpp/src/core/cpu_features.cpp), never at compile time.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
  set(FOVEAL_X86 ON)
else()
  set(FOVEAL_X86 OFF)
endif()

set(FOVEAL_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(FOVEAL_FLAGS_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)

function(foveal_isa_source file isa)
  set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS "${FOVEAL_FLAGS_${isa}}")
endfunction()
