// Quantisation from f32 of the float types and the simple 32-element block
// types, rounding as the format's reference quantiser does.
#include <cmath>
#include <cstring>

#include "base/error.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "quant/blocks.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

void q_q8_0(const float* x, BlockQ8_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK8_0) {
    float amax = 0;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float d = amax / 127.f;
    const float id = d ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK8_0; ++j) b[i].qs[j] = static_cast<int8_t>(std::lround(x[j] * id));
  }
}

// Q4_0: the scale maps the largest-magnitude value (with its sign) to -8.
void q_q4_0(const float* x, BlockQ4_0* b, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, x += QK4_0) {
    float amax = 0, max = 0;
    for (int j = 0; j < QK4_0; ++j)
      if (std::fabs(x[j]) > amax) { amax = std::fabs(x[j]); max = x[j]; }
    const float d = max / -8.f;
    const float id = d ? 1.f / d : 0.f;
    b[i].d = f32_to_fp16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      const int q0 = std::min(15, static_cast<int>(x[j] * id + 8.5f));
      const int q1 = std::min(15, static_cast<int>(x[j + QK4_0 / 2] * id + 8.5f));
      b[i].qs[j] = static_cast<uint8_t>(q0 | (q1 << 4));
    }
  }
}

}  // namespace

bool can_quantize(TensorType t) {
  switch (t) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16:
    case TensorType::Q4_0: case TensorType::Q8_0:
      return true;
    default:
      return false;
  }
}

void quantize_row(TensorType t, const float* x, void* dst, int64_t n, const float* /*importance*/) {
  if (!can_quantize(t)) fail("quantize: unsupported target type ", tensor_type_name(t));
  if (n < 0) fail("quantize: negative row length ", n);
  row_bytes(t, static_cast<uint64_t>(n));  // throws when n is not a multiple of the block
  const int64_t nb = n / tensor_type_info(t).block_size;
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
    case TensorType::Q4_0: return q_q4_0(x, static_cast<BlockQ4_0*>(dst), nb);
    case TensorType::Q8_0: return q_q8_0(x, static_cast<BlockQ8_0*>(dst), nb);
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
