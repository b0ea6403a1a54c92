# The optional CUDA build (-DFOVEAL_CUDA=ON; pip: -Ccmake.define.FOVEAL_CUDA=ON): a second extension
# module, foveal._cuda, from cpp/src/cuda/*.cu and its binding file. nvcc comes from PATH or
# CUDACXX. Architectures default to "80;90" (SASS for sm_80 and sm_90, plus PTX that later GPUs
# compile at load time); CMAKE_CUDA_ARCHITECTURES overrides (e.g. 90 alone while iterating). The
# CUDA runtime is linked statically, so the module needs only the driver (libcuda) at run time,
# and imports (reporting no GPU) where there is none.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES "80;90")
endif()
enable_language(CUDA)
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_RUNTIME_LIBRARY Static)

file(GLOB FOVEAL_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/cpp/src/cuda/*.cu)
python_add_library(_cuda MODULE ${FOVEAL_CUDA_SOURCES} cpp/src/cuda/module.cpp WITH_SOABI)
target_link_libraries(_cuda PRIVATE pybind11::headers CUDA::cudart_static)
target_include_directories(_cuda PRIVATE cpp/include cpp/src)
string(REPLACE ";" "," _foveal_cuda_archs "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_definitions(_cuda PRIVATE FOVEAL_CUDA_ARCHITECTURES="${_foveal_cuda_archs}")
# No FMA contraction: the elementwise and image kernels then do the CPU kernels' float operations
# in the same order (the GEMM writes its multiply-adds explicitly).
target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--fmad=false -O3>)
set_target_properties(_cuda PROPERTIES CXX_VISIBILITY_PRESET hidden CUDA_VISIBILITY_PRESET hidden
                                       CUDA_RUNTIME_LIBRARY Static)
install(TARGETS _cuda LIBRARY DESTINATION foveal)
message(STATUS "foveal: building foveal._cuda for CUDA architectures ${CMAKE_CUDA_ARCHITECTURES}")
