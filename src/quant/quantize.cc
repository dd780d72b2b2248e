// quantize_row: checks the request and hands whole blocks to the encoder of
// the type (quantize_legacy.cc, quantize_kquants.cc, quantize_iq4.cc); the
// float types convert here.
#include <cmath>
#include <cstring>
#include <limits>

#include "base/error.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "quant/encoders.h"
#include "quant/iq_blocks.h"
#include "quant/quant.h"

namespace frugal::quant {

bool can_quantize(TensorType t) { return can_dequantize(t); }

namespace {

// Every type but F32/BF16 needs finite values within what its fp16 scales
// can reach: a larger value would turn a stored scale into infinity and
// decode as inf/NaN. For the one-scale symmetric types that is 65504 times
// the largest integer; for F16 and the types with a min or a two-level scale
// it is kept at the fp16 range itself (enough for all of them).
float largest_value(TensorType t) {
  constexpr float kHalfMax = 65504.0f;
  switch (t) {
    case TensorType::Q8_K: return std::numeric_limits<float>::max();
    case TensorType::MXFP4: return std::numeric_limits<float>::max();  // scales reach 2^127
    case TensorType::Q8_0: return kHalfMax * 127;
    case TensorType::Q5_0: return kHalfMax * 16;
    case TensorType::Q4_0: return kHalfMax * 8;
    default: return kHalfMax;
  }
}

void check_range(TensorType t, const float* x, int64_t n) {
  if (t == TensorType::F32 || t == TensorType::BF16) return;
  const float limit = largest_value(t);
  for (int64_t i = 0; i < n; ++i)
    if (!(std::fabs(x[i]) <= limit))
      fail("quantize: value ", x[i], " at element ", i, " is outside the range ", tensor_type_name(t), " can hold");
}

}  // namespace

void quantize_row(TensorType t, const float* x, void* dst, int64_t n, const float* importance) {
  QuantizeOptions o;
  o.importance = importance;
  quantize_row(t, x, dst, n, o);
}

void quantize_row(TensorType t, const float* x, void* dst, int64_t n, const QuantizeOptions& o) {
  if (!can_quantize(t)) fail("quantize: unsupported target type ", tensor_type_name(t));
  if (n < 0) fail("quantize: negative row length ", n);
  row_bytes(t, static_cast<uint64_t>(n));  // throws when n is not a multiple of the block
  const int64_t nb = n / tensor_type_info(t).block_size;
  check_range(t, x, n);
  switch (t) {
    case TensorType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * 4); return;
    case TensorType::F16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_fp16(x[i]);
      return;
    }
    case TensorType::BF16: {
      auto* d = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) d[i] = f32_to_bf16(x[i]);
      return;
    }
    case TensorType::Q4_0: return encode_q4_0(x, static_cast<BlockQ4_0*>(dst), nb);
    case TensorType::Q4_1: return encode_q4_1(x, static_cast<BlockQ4_1*>(dst), nb);
    case TensorType::Q5_0: return encode_q5_0(x, static_cast<BlockQ5_0*>(dst), nb);
    case TensorType::Q5_1: return encode_q5_1(x, static_cast<BlockQ5_1*>(dst), nb);
    case TensorType::Q8_0: return encode_q8_0(x, static_cast<BlockQ8_0*>(dst), nb);
    case TensorType::Q2_K: return encode_q2_k(x, static_cast<BlockQ2_K*>(dst), nb, o);
    case TensorType::Q3_K: return encode_q3_k(x, static_cast<BlockQ3_K*>(dst), nb, o);
    case TensorType::Q4_K: return encode_q4_k(x, static_cast<BlockQ4_K*>(dst), nb, o);
    case TensorType::Q5_K: return encode_q5_k(x, static_cast<BlockQ5_K*>(dst), nb, o);
    case TensorType::Q6_K: return encode_q6_k(x, static_cast<BlockQ6_K*>(dst), nb, o);
    case TensorType::Q8_K: return encode_q8_k(x, static_cast<BlockQ8_K*>(dst), nb);
    case TensorType::IQ4_NL: return encode_iq4_nl(x, static_cast<BlockIQ4_NL*>(dst), nb, o);
    case TensorType::IQ4_XS: return encode_iq4_xs(x, static_cast<BlockIQ4_XS*>(dst), nb, o);
    case TensorType::MXFP4: return encode_mxfp4(x, static_cast<BlockMXFP4*>(dst), nb, o);
    case TensorType::IQ2_XXS: return encode_iq2_xxs(x, static_cast<BlockIQ2_XXS*>(dst), nb, o);
    case TensorType::IQ2_XS: return encode_iq2_xs(x, static_cast<BlockIQ2_XS*>(dst), nb, o);
    case TensorType::IQ3_XXS: return encode_iq3_xxs(x, static_cast<BlockIQ3_XXS*>(dst), nb, o);
    case TensorType::IQ2_S: return encode_iq2_s(x, static_cast<BlockIQ2_S*>(dst), nb, o);
    case TensorType::IQ3_S: return encode_iq3_s(x, static_cast<BlockIQ3_S*>(dst), nb, o);
    case TensorType::IQ1_S: return encode_iq1_s(x, static_cast<BlockIQ1_S*>(dst), nb, o);
    case TensorType::IQ1_M: return encode_iq1_m(x, static_cast<BlockIQ1_M*>(dst), nb, o);
    default: fail("quantize: unsupported target type ", tensor_type_name(t));
  }
}

void quantize_rows(TensorType t, const float* src, void* dst, int64_t rows, int64_t n) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n));
  auto* d = static_cast<uint8_t*>(dst);
  ThreadPool::global().parallel_for(rows, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) quantize_row(t, src + r * n, d + r * rb, n);
  });
}

}  // namespace frugal::quant
