// Random weights and activations for the kernel tests: every code of the
// quantised types (random bits), random finite fp16 scales, rows of unequal
// size; one seed per run, printed, FRUGAL_TEST_SEED reproduces it.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "gguf/tensor_type.h"
#include "kernels/cpu_features.h"
#include "quant/blocks.h"

namespace frugal::kernels::test_data {

inline uint32_t test_seed() {
  static const uint32_t seed = [] {
    const char* env = std::getenv("FRUGAL_TEST_SEED");
    const uint32_t s = env ? static_cast<uint32_t>(std::strtoul(env, nullptr, 10)) : std::random_device{}();
    std::printf("kernel test seed %u (FRUGAL_TEST_SEED=%u reproduces)\n", s, s);
    return s;
  }();
  return seed;
}

inline std::vector<SimdLevel> available_levels() {
  std::vector<SimdLevel> levels;
  for (SimdLevel l : {SimdLevel::kScalar, SimdLevel::kAvx2, SimdLevel::kAvx512}) {
    if (l <= detected_simd_level()) levels.push_back(l);
  }
  return levels;
}

// A random fp16 scale of magnitude ~[0.25, 1] * mag, either sign.
inline uint16_t random_scale(std::mt19937& rng, float mag) {
  std::uniform_real_distribution<float> u(0.25f, 1.0f);
  return f32_to_fp16((rng() & 1 ? -1.0f : 1.0f) * u(rng) * mag);
}

// The super-block scale and minimum scale of Q2_K, Q4_K and Q5_K.
template <class Block>
void random_d_dmin(void* p, std::mt19937& rng, float mag) {
  auto* b = static_cast<Block*>(p);
  b->d = random_scale(rng, mag);
  b->dmin = random_scale(rng, mag);
}

// n_out rows of n_in weights of type t: random bits for the quantised codes
// (every code, the extreme ones included), random finite fp16 scales, and
// normal values for the float types.
inline std::vector<uint8_t> random_weights(TensorType t, int64_t n_out, int64_t n_in, std::mt19937& rng) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  std::vector<uint8_t> data(rb * static_cast<size_t>(n_out));
  std::normal_distribution<float> normal(0.0f, 1.0f);
  const size_t n_values = static_cast<size_t>(n_out * n_in);
  switch (t) {
    case TensorType::F32:
      for (size_t i = 0; i < n_values; ++i) reinterpret_cast<float*>(data.data())[i] = normal(rng);
      return data;
    case TensorType::F16:
      for (size_t i = 0; i < n_values; ++i) reinterpret_cast<uint16_t*>(data.data())[i] = f32_to_fp16(normal(rng));
      return data;
    case TensorType::BF16:
      for (size_t i = 0; i < n_values; ++i) reinterpret_cast<uint16_t*>(data.data())[i] = f32_to_bf16(normal(rng));
      return data;
    default: break;
  }
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  const size_t n_blocks = data.size() / tensor_type_info(t).block_bytes;
  for (size_t i = 0; i < n_blocks; ++i) {
    void* p = data.data() + i * tensor_type_info(t).block_bytes;
    switch (t) {
      case TensorType::Q8_0: static_cast<quant::BlockQ8_0*>(p)->d = random_scale(rng, 0.01f); break;
      case TensorType::Q4_0: static_cast<quant::BlockQ4_0*>(p)->d = random_scale(rng, 0.2f); break;
      case TensorType::Q5_0: static_cast<quant::BlockQ5_0*>(p)->d = random_scale(rng, 0.1f); break;
      case TensorType::IQ4_NL: static_cast<quant::BlockIQ4_NL*>(p)->d = random_scale(rng, 0.01f); break;
      // Scales 2^-9 .. 2^-3 (e 119..125; the codes hold the sign).
      case TensorType::MXFP4: static_cast<quant::BlockMXFP4*>(p)->e = static_cast<uint8_t>(119 + rng() % 7); break;
      case TensorType::IQ4_XS: static_cast<quant::BlockIQ4_XS*>(p)->d = random_scale(rng, 0.001f); break;
      case TensorType::Q2_K: random_d_dmin<quant::BlockQ2_K>(p, rng, 0.02f); break;
      case TensorType::Q3_K: static_cast<quant::BlockQ3_K*>(p)->d = random_scale(rng, 0.005f); break;
      case TensorType::Q4_K: random_d_dmin<quant::BlockQ4_K>(p, rng, 0.005f); break;
      case TensorType::Q5_K: random_d_dmin<quant::BlockQ5_K>(p, rng, 0.002f); break;
      case TensorType::Q6_K: static_cast<quant::BlockQ6_K*>(p)->d = random_scale(rng, 0.0005f); break;
      default: ADD_FAILURE() << "no generator for " << tensor_type_name(t);
    }
  }
  return data;
}

inline std::vector<float> random_rows(int64_t n_rows, int64_t ld, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(n_rows * ld));
  for (int64_t r = 0; r < n_rows; ++r) {
    const float row_scale = std::exp2(static_cast<float>(static_cast<int>(rng() % 9) - 4));  // rows of unequal size
    for (int64_t i = 0; i < ld; ++i) x[r * ld + i] = normal(rng) * row_scale;
  }
  return x;
}

}  // namespace frugal::kernels::test_data
