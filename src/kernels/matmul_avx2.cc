// The kernels at the avx2 level: AVX2 + FMA + F16C, int8 dot products with
// vpmaddubsw/vpmaddwd. Compiled for those instructions function by function
// (target attributes), so the rest of the program stays baseline x86-64 and
// these run only where cpu_features says the CPU has them.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>

#include "base/fp16.h"
#include "kernels/block_unpack.h"
#include "kernels/quantize_activations.h"

namespace frugal::kernels {
namespace avx2 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c")))
#define FRUGAL_VNNI 0
#include "kernels/matmul_x86-inl.h"
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET
}  // namespace
}  // namespace avx2

const TypeKernel* avx2_kernel(TensorType t) { return avx2::level_kernel(t); }
EncodeFn avx2_encoder() { return avx2::encode_row; }

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* avx2_kernel(TensorType) { return nullptr; }
EncodeFn avx2_encoder() { return nullptr; }
}  // namespace frugal::kernels
#endif
