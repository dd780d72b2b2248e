// float8_e4m3 weights with a scale per block, as DeepSeek-V3/R1 and Kimi-K2
// checkpoints ship their projections: beside each F8_E4M3 matrix W a float
// tensor W_scale_inv of shape [ceil(rows / B0), ceil(cols / B1)] (config.json's
// quantization_config.weight_block_size = [B0, B1], 128x128 in the published
// files), and the weight is fp8(W)[r][c] * scale_inv[r / B0][c / B1].
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "convert/safetensors.h"

namespace frugal::convert {

// The value of one float8_e4m3fn byte (1 sign, 4 exponent bits with bias 7,
// 3 mantissa bits; no infinities, 0x7f/0xff are NaN).
float fp8_e4m3_to_f32(uint8_t b);
// The nearest float8_e4m3fn (ties to even), saturating at +-448.
uint8_t f32_to_fp8_e4m3(float x);

// config.json's quantization_config: block size when it declares fp8 blocks
// ({0, 0} when the key is absent); frugal::Error naming the file for
// another method or a malformed block size.
struct Fp8Blocks {
  int64_t rows = 0, cols = 0;
  bool enabled() const { return rows > 0; }
};
Fp8Blocks fp8_blocks_from_config(const nlohmann::json& cfg, const std::string& where);

// How a checkpoint names a weight's block scales: DeepSeek-V3's F32
// "X.weight_scale_inv", or DeepSeek-V4's "X.scale" (F8_E8M0 powers of two).
enum class Fp8ScaleName { kScaleInv, kScale };
// The scale tensor's name for a weight: "X.weight" -> "X.weight_scale_inv" (or "X.scale").
std::string fp8_scale_name(const std::string& weight, Fp8ScaleName how = Fp8ScaleName::kScaleInv);
// The scale's shape a weight of shape [rows, cols] needs.
std::vector<int64_t> fp8_scale_shape(const std::vector<int64_t>& weight_shape, const Fp8Blocks& b);

// Elements [begin, begin + out.size()) of an F8_E4M3 weight, dequantised.
void read_fp8_scaled(const StTensor& w, const StTensor& scale_inv, const Fp8Blocks& b, int64_t begin,
                     std::span<float> out);

// A row-major [rows, cols] matrix as F8_E4M3 bytes and its scales (each
// block's largest magnitude maps to 448, or with pow2_scales to at most
// 448 by the power of two above, as DeepSeek-V4's E8M0 scales), as
// checkpoints are made.
void quantize_fp8_blocks(std::span<const float> w, int64_t rows, int64_t cols, const Fp8Blocks& b,
                         std::span<uint8_t> q, std::span<float> scale_inv, bool pow2_scales = false);

}  // namespace frugal::convert
