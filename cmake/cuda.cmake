# The optional CUDA backend (docs/GPU.md): the library frugal_cuda from
# src/cuda/*.cu and src/cuda/*.cc, its tests (tests/cuda/) and the GPU
# benchmark (bench/gpu_matvec.cc). On by default when CMake finds nvcc; off
# under the sanitizer and fuzzing builds, which test host code only and must
# not pay for a device compile. Included from CMakeLists.txt after the layers
# and the test setup, since it links frugal_quant and registers tests.
include(CheckLanguage)
set(frugal_cuda_default OFF)
if(NOT FRUGAL_SANITIZE AND NOT FRUGAL_FUZZ)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    set(frugal_cuda_default ON)
  else()
    message(STATUS "CUDA: no nvcc found, FRUGAL_CUDA defaults to OFF (the CPU build is unchanged)")
  endif()
endif()
option(FRUGAL_CUDA "Build the CUDA backend (src/cuda) and its tests" ${frugal_cuda_default})
if(NOT FRUGAL_CUDA)
  return()
endif()
if(FRUGAL_SANITIZE OR FRUGAL_FUZZ)
  message(FATAL_ERROR "FRUGAL_CUDA cannot be combined with FRUGAL_SANITIZE or FRUGAL_FUZZ")
endif()
check_language(CUDA)  # the search is cached: a second call costs nothing
if(NOT CMAKE_CUDA_COMPILER)
  message(FATAL_ERROR "FRUGAL_CUDA is ON but CMake finds no nvcc: put it on PATH, set CMAKE_CUDA_COMPILER, "
                      "or configure with -DFRUGAL_CUDA=OFF")
endif()

# One architecture keeps the device compile short (about a minute on two
# cores); 90 is Hopper (H100, H200). Override with -DCMAKE_CUDA_ARCHITECTURES=...
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(CMAKE_CUDA_ARCHITECTURES 90)
endif()
# The host compiler nvcc calls is the one that builds the rest of frugal.
if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER)
  set(CMAKE_CUDA_HOST_COMPILER ${CMAKE_CXX_COMPILER})
endif()
# nvcc through the same launcher (ccache) as the C++ compiler, if one is set.
if(CMAKE_CXX_COMPILER_LAUNCHER AND NOT DEFINED CMAKE_CUDA_COMPILER_LAUNCHER)
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${CMAKE_CXX_COMPILER_LAUNCHER})
endif()
enable_language(CUDA)
# C++20 for the device code too. CMake 3.25 knows nvcc's -std=c++20 flag
# only from 3.26 on, so it is named here.
if(NOT DEFINED CMAKE_CUDA20_STANDARD_COMPILE_OPTION)
  set(CMAKE_CUDA20_STANDARD_COMPILE_OPTION "-std=c++20")
  set(CMAKE_CUDA20_EXTENSION_COMPILE_OPTION "-std=c++20")
endif()
# The release flags without CMake's -O3: the project's -O2 is the one level.
set(CMAKE_CUDA_FLAGS_RELEASE "-DNDEBUG")
set(CMAKE_CUDA_STANDARD 20)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)
set(CMAKE_CUDA_EXTENSIONS OFF)
find_package(CUDAToolkit REQUIRED)
message(STATUS "CUDA: nvcc ${CMAKE_CUDA_COMPILER_VERSION}, architectures ${CMAKE_CUDA_ARCHITECTURES}")

file(GLOB cuda_srcs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/src/cuda/*.cu ${PROJECT_SOURCE_DIR}/src/cuda/*.cc)
add_library(frugal_cuda STATIC ${cuda_srcs})
target_include_directories(frugal_cuda PUBLIC ${PROJECT_SOURCE_DIR}/src)
# The static runtime: the binaries need no libcudart.so at run time, only the
# driver, and without one they report "no CUDA device" (src/cuda/runtime.h).
target_link_libraries(frugal_cuda PUBLIC frugal_quant CUDA::cudart_static)
# The project-wide -Wall -Wextra -O2 reach nvcc too, which hands the
# warnings on to the host compiler. --expt-relaxed-constexpr lets device
# code call constexpr host functions (quant::mxfp4_scale).
target_compile_options(frugal_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr>)
set_target_properties(frugal_cuda PROPERTIES CUDA_SEPARABLE_COMPILATION OFF)

# Tests. Host tests (the block decoders and the per-row products, compiled
# by the C++ compiler from the same headers the kernels use) run everywhere;
# the kernel tests need a device and report ctest's skip code without one.
file(GLOB cuda_host_tests CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/cuda/*_test.cc)
add_executable(test_cuda ${cuda_host_tests})
target_link_libraries(test_cuda PRIVATE frugal_cuda frugal_kernels GTest::gtest GTest::gtest_main)
target_include_directories(test_cuda PRIVATE ${PROJECT_SOURCE_DIR}/tests)
# One label: gtest_discover_tests would split "unit;cuda" into a label and a
# stray property.
gtest_discover_tests(test_cuda TEST_PREFIX "cuda." DISCOVERY_TIMEOUT 60 PROPERTIES LABELS cuda)

set(frugal_cuda_skip_code 77)
add_executable(cuda_device_check tests/cuda/device_check.cc)
target_link_libraries(cuda_device_check PRIVATE frugal_cuda frugal_kernels GTest::gtest)
target_include_directories(cuda_device_check PRIVATE ${PROJECT_SOURCE_DIR}/tests)
target_compile_definitions(cuda_device_check PRIVATE FRUGAL_SKIP_CODE=${frugal_cuda_skip_code})
add_test(NAME cuda.device_kernels COMMAND cuda_device_check)
set_tests_properties(cuda.device_kernels PROPERTIES LABELS "gpu;cuda" SKIP_RETURN_CODE ${frugal_cuda_skip_code})

# The matrix-vector benchmark the device script runs (bench/gpu_check.sh).
add_executable(frugal_gpu_bench bench/gpu_matvec.cc)
target_link_libraries(frugal_gpu_bench PRIVATE frugal_cuda)
