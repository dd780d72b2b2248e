// Block-scaled float8_e4m3 weights: decoding, the scale tensors' names and
// shapes, and the inverse for synth's checkpoints.
#include "convert/fp8_blocks.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <string_view>

#include "base/error.h"

namespace frugal::convert {
namespace {

// All 256 values, decoded once (also the search table of the encoder).
const std::array<float, 256>& fp8_table() {
  static const std::array<float, 256> table = [] {
    std::array<float, 256> t{};
    for (int b = 0; b < 256; ++b) {
      const int e = (b >> 3) & 15, m = b & 7;
      float v = e == 0 ? std::ldexp(float(m) / 8.0f, -6) : std::ldexp(1.0f + float(m) / 8.0f, e - 7);
      if ((b & 127) == 127) v = std::numeric_limits<float>::quiet_NaN();
      t[size_t(b)] = (b & 128) ? -v : v;
    }
    return t;
  }();
  return table;
}

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

}  // namespace

float fp8_e4m3_to_f32(uint8_t b) { return fp8_table()[b]; }

uint8_t f32_to_fp8_e4m3(float x) {
  const auto& t = fp8_table();
  const uint8_t sign = std::signbit(x) ? 128 : 0;
  const float a = std::min(std::fabs(x), 448.0f);  // codes 0..126 increase with the code
  // The first code at or above a, then the nearer of it and the one below.
  int lo = 0, hi = 126;
  while (lo < hi) {
    const int mid = (lo + hi) / 2;
    if (t[size_t(mid)] < a) lo = mid + 1;
    else hi = mid;
  }
  int code = lo;
  if (code > 0) {
    const float below = a - t[size_t(code - 1)], above = t[size_t(code)] - a;
    if (below < above || (below == above && (code - 1) % 2 == 0)) code -= 1;
  }
  return uint8_t(sign | code);
}

Fp8Blocks fp8_blocks_from_config(const nlohmann::json& cfg, const std::string& where) {
  if (!cfg.contains("quantization_config") || cfg["quantization_config"].is_null()) return {};
  const auto& q = cfg["quantization_config"];
  if (!q.is_object()) fail(where, ": quantization_config is not an object");
  const std::string method = q.value("quant_method", std::string());
  if (method == "mxfp4") return {};  // gpt-oss's experts: read as MXFP4 blocks (hf_layout.h)
  if (method != "fp8")
    fail(where, ": quantization_config quant_method '", method, "' is not converted (fp8, and mxfp4 for gpt-oss)");
  if (q.contains("fmt") && q["fmt"] != "e4m3") fail(where, ": quantization_config fmt ", q["fmt"].dump(), " is not converted (only e4m3)");
  const auto& bs = q.contains("weight_block_size") ? q["weight_block_size"] : nlohmann::json();
  if (!bs.is_array() || bs.size() != 2 || !bs[0].is_number_unsigned() || !bs[1].is_number_unsigned() ||
      bs[0].get<int64_t>() <= 0 || bs[1].get<int64_t>() <= 0)
    fail(where, ": quantization_config weight_block_size must be [rows, columns] of positive integers");
  return {.rows = bs[0].get<int64_t>(), .cols = bs[1].get<int64_t>()};
}

std::string fp8_scale_name(const std::string& weight, Fp8ScaleName how) {
  if (how == Fp8ScaleName::kScaleInv) return weight + "_scale_inv";
  const std::string_view kWeight = ".weight";
  const bool suffixed = weight.ends_with(kWeight);
  return weight.substr(0, weight.size() - (suffixed ? kWeight.size() : 0)) + ".scale";
}

std::vector<int64_t> fp8_scale_shape(const std::vector<int64_t>& s, const Fp8Blocks& b) {
  FRUGAL_CHECK(s.size() == 2 && b.enabled());
  return {ceil_div(s[0], b.rows), ceil_div(s[1], b.cols)};
}

void read_fp8_scaled(const StTensor& w, const StTensor& scale_inv, const Fp8Blocks& b, int64_t begin,
                     std::span<float> out) {
  FRUGAL_CHECK(w.shape.size() == 2 && begin >= 0 && begin + int64_t(out.size()) <= w.n_elements());
  const int64_t cols = w.shape[1], scale_cols = scale_inv.shape[1];
  int64_t at_scale = -1;  // the scale read last: runs of a block's elements read it once
  float scale = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    const int64_t at = begin + int64_t(i), r = at / cols, c = at % cols;
    const int64_t s = r / b.rows * scale_cols + c / b.cols;
    if (s != at_scale) {
      at_scale = s;
      scale_inv.read_f32(s, std::span<float>(&scale, 1));
    }
    out[i] = fp8_e4m3_to_f32(w.data[at]) * scale;
  }
}

void quantize_fp8_blocks(std::span<const float> w, int64_t rows, int64_t cols, const Fp8Blocks& b,
                         std::span<uint8_t> q, std::span<float> scale_inv, bool pow2_scales) {
  const int64_t sr = ceil_div(rows, b.rows), sc = ceil_div(cols, b.cols);
  FRUGAL_CHECK(int64_t(w.size()) == rows * cols && int64_t(q.size()) == rows * cols &&
               int64_t(scale_inv.size()) == sr * sc);
  for (int64_t br = 0; br < sr; ++br)
    for (int64_t bc = 0; bc < sc; ++bc) {
      const int64_t r1 = std::min(rows, (br + 1) * b.rows), c1 = std::min(cols, (bc + 1) * b.cols);
      float amax = 0;
      for (int64_t r = br * b.rows; r < r1; ++r)
        for (int64_t c = bc * b.cols; c < c1; ++c) amax = std::max(amax, std::fabs(w[size_t(r * cols + c)]));
      float scale = amax > 0 ? amax / 448.0f : 1.0f;
      if (pow2_scales) scale = std::exp2(std::ceil(std::log2(scale)));
      scale_inv[size_t(br * sc + bc)] = scale;
      for (int64_t r = br * b.rows; r < r1; ++r)
        for (int64_t c = bc * b.cols; c < c1; ++c)
          q[size_t(r * cols + c)] = f32_to_fp8_e4m3(w[size_t(r * cols + c)] / scale);
    }
}

}  // namespace frugal::convert
