# Per-file instruction-set flags for runtime-dispatched kernels.
# x86-64 builds compile every kernel three times (scalar, AVX2+FMA, AVX-512); the choice among
# them is made at import from CPUID + XGETBV (cpp/src/core/cpu_features.cpp), never at compile time.
if(CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
  set(FOVEAL_X86 ON)
else()
  set(FOVEAL_X86 OFF)
endif()

# The scalar variants stay scalar: the baseline build's auto-vectorizer adds nothing the AVX
# variants lack, and GCC 12 vectorizes strided loops with gaps by reading one group past the
# end (the transposed-A GEMM tile read a row beyond its buffer).
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  set(FOVEAL_FLAGS_scalar -fno-tree-vectorize)
else()
  set(FOVEAL_FLAGS_scalar "")
endif()
set(FOVEAL_FLAGS_avx2 -mavx2 -mfma -mf16c)
set(FOVEAL_FLAGS_avx512 -mavx512f -mavx512bw -mavx512dq -mavx512vl -mavx2 -mfma -mf16c)

function(foveal_isa_source file isa)
  set_source_files_properties(${file} PROPERTIES COMPILE_OPTIONS "${FOVEAL_FLAGS_${isa}}")
endfunction()
