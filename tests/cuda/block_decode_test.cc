// The CUDA backend's block decoders, compiled for the host from the same
// header the kernels use, against src/quant's scalar dequantisation: bit for
// bit on random blocks of every type (kernels/random_data.h) and on raw
// random bytes, whose scales may be subnormal, huge, infinite or NaN.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "base/fp16.h"
#include "cuda/block_decode.h"
#include "cuda/block_types.h"
#include "kernels/random_data.h"
#include "quant/quant.h"

namespace frugal::cuda {
namespace {

// Every unit of rows x n values of type t through dequantize_unit.
std::vector<float> decode_all(TensorType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  std::vector<float> out(static_cast<size_t>(rows * n));
  BlockTypes::visit(t, [&](auto tag) {
    using Block = typename decltype(tag)::type;
    constexpr int kUnits = BlockCodec<Block>::kUnits;
    const auto* blocks = reinterpret_cast<const Block*>(w.data());
    for (size_t g = 0; g < out.size() / kUnitValues; ++g) {
      dequantize_unit(blocks[g / kUnits], static_cast<int>(g % kUnits), out.data() + g * kUnitValues);
    }
  });
  return out;
}

void expect_same_bits(const std::vector<float>& got, const std::vector<float>& want, TensorType t) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    ASSERT_EQ(f32_to_bits(got[i]), f32_to_bits(want[i]))
        << tensor_type_name(t) << " value " << i << ": " << got[i] << " against " << want[i];
  }
}

TEST(CudaBlockDecode, HalfToFloatMatchesTheCpuConversionForEveryHalf) {
  for (uint32_t h = 0; h < 0x10000; ++h) {
    ASSERT_EQ(f32_to_bits(half_bits_to_float(static_cast<uint16_t>(h))),
              f32_to_bits(fp16_to_f32(static_cast<uint16_t>(h))))
        << "half 0x" << std::hex << h;
  }
}

TEST(CudaBlockDecode, CodeBooksAreQuantsTables) {
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(iq4nl_value(c), quant::kIQ4NLValues[c]) << c;
    EXPECT_EQ(mxfp4_value(c), quant::kMXFP4Values[c]) << c;
  }
}

TEST(CudaBlockDecode, EveryTypeMatchesTheCpuOnRandomBlocks) {
  std::mt19937 rng(kernels::test_data::test_seed());
  constexpr int64_t kRows = 5, kN = 768;
  for (TensorType t : block_types()) {
    const std::vector<uint8_t> w = kernels::test_data::random_weights(t, kRows, kN, rng);
    std::vector<float> want(static_cast<size_t>(kRows * kN));
    quant::dequantize_rows(t, w.data(), want.data(), kRows, kN);
    expect_same_bits(decode_all(t, w, kRows, kN), want, t);
  }
}

TEST(CudaBlockDecode, EveryTypeMatchesTheCpuOnRawBytes) {
  std::mt19937 rng(kernels::test_data::test_seed() + 1);
  constexpr int64_t kRows = 3, kN = 512;
  for (TensorType t : block_types()) {
    std::vector<uint8_t> w(row_bytes(t, kN) * kRows);
    for (uint8_t& b : w) b = static_cast<uint8_t>(rng());
    std::vector<float> want(static_cast<size_t>(kRows * kN));
    quant::dequantize_rows(t, w.data(), want.data(), kRows, kN);
    expect_same_bits(decode_all(t, w, kRows, kN), want, t);
  }
}

TEST(CudaBlockDecode, BlockSizesAreTheFormats) {
  for (TensorType t : block_types()) {
    BlockTypes::visit(t, [&](auto tag) {
      using Block = typename decltype(tag)::type;
      const int64_t values = BlockCodec<Block>::kValues;
      EXPECT_EQ(sizeof(Block), row_bytes(t, static_cast<uint64_t>(values))) << tensor_type_name(t);
      EXPECT_EQ(values % kUnitValues, 0) << tensor_type_name(t);
    });
  }
}

}  // namespace
}  // namespace frugal::cuda
