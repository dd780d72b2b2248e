// Which SIMD kernels this CPU can run, decided once at startup from cpuid.
// The levels are ordered: a CPU that runs a level runs every level below it.
//   scalar  plain C++ (the twin every SIMD kernel is tested against)
//   avx2    AVX2 + FMA + F16C: int8 dot products with vpmaddubsw
//   avx512  AVX-512 F/BW/VL + VNNI: int8 dot products with vpdpbusd
//           (and vdpbf16ps for bf16 weights where the CPU has AVX512_BF16)
// The environment variable FRUGAL_KERNELS=scalar|avx2|avx512 caps the level
// (for tests and comparisons); a level above what the CPU has is lowered to
// the CPU's best with a warning.
#pragma once

namespace frugal::kernels {

enum class SimdLevel { kScalar = 0, kAvx2 = 1, kAvx512 = 2 };

const char* simd_level_name(SimdLevel level);

// The best level the CPU (and the operating system's saved register state)
// supports, ignoring FRUGAL_KERNELS.
SimdLevel detected_simd_level();

// The level the kernels use: detected, capped by FRUGAL_KERNELS. Read once;
// an unknown FRUGAL_KERNELS value is a frugal::Error.
SimdLevel active_simd_level();

// F16C (vcvtph2ps) with AVX: fp16 -> f32 eight at a time.
bool cpu_has_f16c();

// AVX512_BF16 (vdpbf16ps), used by the avx512 level for bf16 weights.
bool cpu_has_avx512_bf16();

}  // namespace frugal::kernels
