// MXFP4 weights at the avx2 and avx512 levels, kept apart from the other
// types' x86 kernels. The E2M1 codes become int8 through a 16-entry table
// (kMXFP4Values, the values doubled: -12..12) with one byte shuffle, so the
// int8 dot products of the Q8_0-style blocks apply: activations are
// ActBlock32 (int8 per 32 values), each block's exact integer sum is scaled
// by 2^(e - 128) * d_act and added with one fused multiply-add, blocks in
// order: the same bits as the scalar twin (matmul_scalar.cc, dot_block32).
//
// The same source (matmul_mxfp4_x86-inl.h) is compiled twice below:
// avx2 multiplies with vpmaddubsw + vpmaddwd, avx512 with vpdpbusd
// (AVX512_VNNI on 256-bit registers). Weights go in as |w| (unsigned) and
// the activations take w's sign, as vpmaddubsw and vpdpbusd need; the
// largest pair sum, 2 * 12 * 127, is far from int16 saturation.
#include "kernels/matmul_kernels.h"

#if defined(__x86_64__)
#include <immintrin.h>

#include <cstring>
#include <vector>

#include "kernels/quantize_activations.h"
#include "quant/blocks.h"

namespace frugal::kernels {
namespace mxfp4_avx2 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c")))
#define FRUGAL_VNNI 0
#include "kernels/matmul_mxfp4_x86-inl.h"
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET
}  // namespace
}  // namespace mxfp4_avx2

namespace mxfp4_avx512 {
namespace {
#define FRUGAL_TARGET __attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512vnni")))
#define FRUGAL_VNNI 1
#include "kernels/matmul_mxfp4_x86-inl.h"
#undef FRUGAL_VNNI
#undef FRUGAL_TARGET
}  // namespace
}  // namespace mxfp4_avx512

const TypeKernel* mxfp4_kernel(SimdLevel level) {
  switch (level) {
    case SimdLevel::kAvx512: return &mxfp4_avx512::kMXFP4;
    case SimdLevel::kAvx2: return &mxfp4_avx2::kMXFP4;
    case SimdLevel::kScalar: return scalar_kernel(TensorType::MXFP4);
  }
  return nullptr;
}

}  // namespace frugal::kernels

#else
namespace frugal::kernels {
const TypeKernel* mxfp4_kernel(SimdLevel level) {
  return level == SimdLevel::kScalar ? scalar_kernel(TensorType::MXFP4) : nullptr;
}
}  // namespace frugal::kernels
#endif
