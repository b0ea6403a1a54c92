#pragma once

namespace foveal {

struct CpuFeatures {
  bool sse2 = false, avx = false, fma = false, f16c = false, avx2 = false;
  bool avx512f = false, avx512bw = false, avx512dq = false, avx512vl = false;
  bool os_avx = false;     // XGETBV: the OS saves YMM state
  bool os_avx512 = false;  // XGETBV: the OS saves opmask and ZMM state
};

// Read once (CPUID + XGETBV) and cached.
const CpuFeatures& cpu_features();

}  // namespace foveal
