// Matrix products with the lattice weight types (IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS, IQ3_S, IQ1_S, IQ1_M):
// at every SIMD level this CPU has (the avx2 and avx512 levels through their
// kernels) against the f32 reference on the
// dequantised weights, within the documented tolerance; the scalar kernel
// called directly against a double-precision dot product of the dequantised
// weights with the decoded Q8_K activations; and the SIMD kernels against the
// scalar ones, bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "kernels/matmul.h"
#include "kernels/matmul_kernels.h"
#include "quant/quant.h"
#include "random_data.h"

namespace frugal::kernels {
namespace {

const TensorType kTypes[] = {TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ3_XXS, TensorType::IQ2_S,
                             TensorType::IQ3_S,   TensorType::IQ1_S,  TensorType::IQ1_M};

// Random blocks: every index and sign pattern is valid; d small and
// positive: the first two bytes of each block, or for IQ1_M the top nibbles
// of the four u16 words of its scales (the block's last 8 bytes).
std::vector<uint8_t> random_iq_weights(TensorType t, int64_t n_out, int64_t n_in, std::mt19937& rng) {
  std::vector<uint8_t> data(row_bytes(t, static_cast<uint64_t>(n_in)) * static_cast<size_t>(n_out));
  for (uint8_t& b : data) b = static_cast<uint8_t>(rng());
  const size_t bb = tensor_type_info(t).block_bytes;
  std::uniform_real_distribution<float> u(0.001f, 0.01f);
  for (size_t i = 0; i < data.size() / bb; ++i) {
    const uint16_t d = f32_to_fp16(u(rng));
    if (t != TensorType::IQ1_M) {
      std::memcpy(data.data() + i * bb, &d, 2);
      continue;
    }
    uint8_t* scales = data.data() + (i + 1) * bb - 8;
    for (int k = 0; k < 4; ++k) {
      uint16_t word;
      std::memcpy(&word, scales + 2 * k, 2);
      word = static_cast<uint16_t>((word & 0x0FFF) | ((d >> (4 * k)) & 0xF) << 12);
      std::memcpy(scales + 2 * k, &word, 2);
    }
  }
  return data;
}

TEST(IqMatmul, EveryLevelMatchesReference) {
  std::mt19937 rng(test_data::test_seed() + 40);
  for (TensorType t : kTypes) {
    for (int64_t n_in : {256, 768}) {
      for (int64_t n_out : {1, 9, 37}) {
        const auto weights = random_iq_weights(t, n_out, n_in, rng);
        const WeightMatrix W{t, weights.data(), n_out, n_in};
        std::vector<float> deq(static_cast<size_t>(n_out * n_in));
        quant::dequantize_rows(t, weights.data(), deq.data(), n_out, n_in);
        for (int64_t n_rows : {1, 3, 17}) {
          const auto X = test_data::random_rows(n_rows, n_in, rng);
          std::vector<float> ref(static_cast<size_t>(n_rows * n_out));
          matmul_reference(W, X.data(), n_in, n_rows, ref.data(), n_out);
          for (SimdLevel level : test_data::available_levels()) {
            SCOPED_TRACE(testing::Message() << tensor_type_name(t) << " level " << simd_level_name(level) << " n_in "
                                            << n_in << " n_out " << n_out << " n_rows " << n_rows);
            std::vector<float> Y(ref.size(), -7.0f);
            matmul_at_level(level, W, X.data(), n_in, n_rows, Y.data(), n_out, nullptr);
            for (int64_t r = 0; r < n_rows; ++r)
              for (int64_t o = 0; o < n_out; ++o)
                ASSERT_NEAR(Y[r * n_out + o], ref[r * n_out + o],
                            matmul_tolerance(t, deq.data() + o * n_in, X.data() + r * n_in, n_in))
                    << "row " << r << " out " << o;
          }
        }
      }
    }
  }
}

TEST(IqMatmul, ScalarKernelIsTheExactIntegerDot) {
  std::mt19937 rng(test_data::test_seed() + 41);
  for (TensorType t : kTypes) {
    const TypeKernel* k = scalar_kernel(t);
    ASSERT_NE(k, nullptr) << tensor_type_name(t);
    ASSERT_EQ(k->act, ActFormat::kQ8_K);
    const int64_t n_in = 512;
    const auto w = random_iq_weights(t, 1, n_in, rng);
    std::vector<float> deq(n_in);
    quant::dequantize_row(t, w.data(), deq.data(), n_in);
    const auto X = test_data::random_rows(kMaxActRows, n_in, rng);
    const size_t stride = act_row_bytes(ActFormat::kQ8_K, n_in);
    std::vector<uint8_t> act(stride * kMaxActRows);
    for (int r = 0; r < kMaxActRows; ++r) encode_act_row(ActFormat::kQ8_K, X.data() + r * n_in, act.data() + r * stride, n_in);
    float y[kMaxActRows * 2];
    k->dot(w.data(), act.data(), stride, kMaxActRows, n_in, y, 2);
    for (int r = 0; r < kMaxActRows; ++r) {
      double want = 0, mag = 0;
      for (int64_t b = 0; b < n_in / 256; ++b) {
        const auto& a = reinterpret_cast<const quant::BlockQ8_K*>(act.data() + r * stride)[b];
        for (int i = 0; i < 256; ++i) {
          want += double(deq[b * 256 + i]) * a.d * a.qs[i];
          mag += std::fabs(double(deq[b * 256 + i]) * a.d * a.qs[i]);
        }
      }
      EXPECT_NEAR(y[r * 2], want, mag * 1e-6) << tensor_type_name(t) << " row " << r;
    }
  }
}

// The avx2 and avx512 kernels sum the same integers as the scalar ones and
// scale them the same way: equal bits for every count of activation rows, on
// rows of one to five blocks whose codes and signs are random.
TEST(IqMatmul, SimdKernelsEqualScalarBitForBit) {
  std::mt19937 rng(test_data::test_seed() + 42);
  int checked = 0;
  for (SimdLevel level : test_data::available_levels()) {
    if (level == SimdLevel::kScalar) continue;
    for (TensorType t : {TensorType::IQ2_XXS, TensorType::IQ2_XS, TensorType::IQ2_S, TensorType::IQ3_XXS,
                         TensorType::IQ3_S, TensorType::IQ1_S, TensorType::IQ1_M}) {
      const TypeKernel* simd = find_kernel(t, level);
      ASSERT_NE(simd, nullptr) << tensor_type_name(t);
      ASSERT_NE(simd, scalar_kernel(t)) << tensor_type_name(t) << " at " << simd_level_name(level);
      ASSERT_EQ(simd->act, ActFormat::kQ8_K);
      ++checked;
      for (int64_t n_in : {256, 512, 1280}) {
        const auto w = random_iq_weights(t, 1, n_in, rng);
        const auto X = test_data::random_rows(kMaxActRows, n_in, rng);
        const size_t stride = act_row_bytes(ActFormat::kQ8_K, n_in);
        std::vector<uint8_t> act(stride * kMaxActRows);
        for (int r = 0; r < kMaxActRows; ++r)
          encode_act_row(ActFormat::kQ8_K, X.data() + r * n_in, act.data() + r * stride, n_in);
        for (int n_act = 1; n_act <= kMaxActRows; ++n_act) {
          float want[kMaxActRows * 3], got[kMaxActRows * 3];
          std::fill(std::begin(got), std::end(got), -7.0f);
          scalar_kernel(t)->dot(w.data(), act.data(), stride, n_act, n_in, want, 3);
          simd->dot(w.data(), act.data(), stride, n_act, n_in, got, 3);
          for (int r = 0; r < n_act; ++r) {
            uint32_t a, b;
            std::memcpy(&a, &want[r * 3], 4);
            std::memcpy(&b, &got[r * 3], 4);
            EXPECT_EQ(a, b) << tensor_type_name(t) << " at " << simd_level_name(level) << " n_in " << n_in
                            << " n_act " << n_act << " row " << r << ": " << want[r * 3] << " vs " << got[r * 3];
          }
        }
      }
    }
  }
  if (checked == 0) GTEST_SKIP() << "no SIMD level on this CPU";
}

}  // namespace
}  // namespace frugal::kernels
