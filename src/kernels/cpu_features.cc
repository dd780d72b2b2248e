#include "kernels/cpu_features.h"

#include <cstdlib>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif
#include <string_view>

#include "base/error.h"
#include "base/log.h"

namespace frugal::kernels {
namespace {

// __builtin_cpu_supports reads cpuid and, for AVX and AVX-512, checks that
// the operating system saves the wide registers (XGETBV), so a feature it
// reports is one a process may use.
SimdLevel detect() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") &&
      __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
    return SimdLevel::kAvx512;
  }
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && cpu_has_f16c()) {
    return SimdLevel::kAvx2;
  }
#endif
  return SimdLevel::kScalar;
}

SimdLevel from_environment(SimdLevel detected) {
  const char* env = std::getenv("FRUGAL_KERNELS");
  if (!env || !*env) return detected;
  const std::string_view v(env);
  SimdLevel wanted;
  if (v == "scalar") {
    wanted = SimdLevel::kScalar;
  } else if (v == "avx2") {
    wanted = SimdLevel::kAvx2;
  } else if (v == "avx512") {
    wanted = SimdLevel::kAvx512;
  } else {
    fail("FRUGAL_KERNELS: unknown kernel level '", v, "' (expected scalar, avx2 or avx512)");
  }
  if (wanted > detected) {
    log_warn("FRUGAL_KERNELS=", v, ": this CPU only supports ", simd_level_name(detected), "; using that");
    return detected;
  }
  return wanted;
}

}  // namespace

const char* simd_level_name(SimdLevel level) {
  switch (level) {
    case SimdLevel::kScalar: return "scalar";
    case SimdLevel::kAvx2: return "avx2";
    case SimdLevel::kAvx512: return "avx512";
  }
  return "?";
}

SimdLevel detected_simd_level() {
  static const SimdLevel level = detect();
  return level;
}

SimdLevel active_simd_level() {
  static const SimdLevel level = from_environment(detected_simd_level());
  return level;
}

bool cpu_has_f16c() {
#if defined(__x86_64__) || defined(__i386__)
  // cpuid leaf 1, ECX bit 29 (read directly: clang 14's __builtin_cpu_supports
  // has no "f16c"); F16C works on ymm registers, so AVX must be usable too.
  static const bool has = [] {
    unsigned a = 0, b = 0, c = 0, d = 0;
    __builtin_cpu_init();
    return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_F16C) && __builtin_cpu_supports("avx");
  }();
  return has;
#else
  return false;
#endif
}

bool cpu_has_avx512_bf16() {
#if defined(__x86_64__) || defined(__i386__)
  static const bool has = [] {
    __builtin_cpu_init();
    return detected_simd_level() == SimdLevel::kAvx512 && __builtin_cpu_supports("avx512bf16");
  }();
  return has;
#else
  return false;
#endif
}

}  // namespace frugal::kernels
