// The kernels at the avx2 level: AVX2 + FMA + F16C, int8 dot products with
// vpmaddubsw/vpmaddwd. Compiled for those instructions function by function
// (target attributes), so the rest of the program stays baseline x86-64 and
// these run only where cpu_features says the CPU has them.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>
#include <type_traits>
#include <vector>

#include "base/fp16.h"
#include "kernels/block_unpack.h"
#include "kernels/quantize_activations.h"

namespace frugal::kernels {
namespace avx2 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c")))
#define FRUGAL_VNNI 0
#include "kernels/matmul_x86-inl.h"
#include "kernels/encode_x86-inl.h"
#include "kernels/gemm_tile_avx2-inl.h"

// Rows from which the tile beats the row kernels (frugal_microbench gemm15/16/31/32).
const TypeKernel kQ4_KTile{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ4_K>>, gemm_tile_k<quant::BlockQ4_K>, 8,
                           rows4<Q45KSums<quant::BlockQ4_K>>};
const TypeKernel kQ5_KTile{ActFormat::kQ8_K, by_rows<Q45K<quant::BlockQ5_K>>, gemm_tile_k<quant::BlockQ5_K>, 8,
                           rows4<Q45KSums<quant::BlockQ5_K>>};
const TypeKernel kQ6_KTile{ActFormat::kQ8_K, by_rows<Q6K>, gemm_tile_k<quant::BlockQ6_K>, 8, rows4<Q6KSums>};
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET
}  // namespace
}  // namespace avx2

const TypeKernel* avx2_kernel(TensorType t) {
  switch (t) {
    case TensorType::Q4_K: return &avx2::kQ4_KTile;
    case TensorType::Q5_K: return &avx2::kQ5_KTile;
    case TensorType::Q6_K: return &avx2::kQ6_KTile;
    case TensorType::MXFP4: return mxfp4_kernel(SimdLevel::kAvx2);
    case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ2_S: case TensorType::IQ3_XXS:
    case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M: return iq_avx2_kernel(t);
    default: return avx2::level_kernel(t);
  }
}
EncodeFn avx2_encoder() { return avx2::encode_row; }

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* avx2_kernel(TensorType) { return nullptr; }
EncodeFn avx2_encoder() { return nullptr; }
}  // namespace frugal::kernels
#endif
