#include "kernels/attention.h"

#include <cmath>
#include <vector>

#include "base/fp16.h"
#include "kernels/ops.h"

namespace frugal::kernels {
namespace {

// Reads element i of a cache row of either type.
inline float load(CacheType t, const void* base, int64_t i) {
  return t == CacheType::kF32 ? static_cast<const float*>(base)[i]
                              : fp16_to_f32(static_cast<const uint16_t*>(base)[i]);
}

const void* row_at(CacheType t, const void* base, int64_t j, int64_t stride) {
  const size_t elem = t == CacheType::kF32 ? 4 : 2;
  return static_cast<const uint8_t*>(base) + static_cast<size_t>(j * stride) * elem;
}

}  // namespace

void attend(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* scores,
            float* out) {
  for (int64_t j = 0; j < rows.n; ++j) {
    const void* kj = row_at(rows.type, rows.k, j, rows.k_stride);
    float acc = 0;
    if (rows.type == CacheType::kF32) {
      const float* k = static_cast<const float*>(kj);
      for (int64_t i = 0; i < dk; ++i) acc += q[i] * k[i];
    } else {
      const uint16_t* k = static_cast<const uint16_t*>(kj);
      for (int64_t i = 0; i < dk; ++i) acc += q[i] * fp16_to_f32(k[i]);
    }
    scores[j] = acc * scale;
  }
  softmax(scores, rows.n);
  for (int64_t i = 0; i < dv; ++i) out[i] = 0;
  for (int64_t j = 0; j < rows.n; ++j) {
    const void* vj = row_at(rows.type, rows.v, j, rows.v_stride);
    const float p = scores[j];
    if (rows.type == CacheType::kF32) {
      axpy(p, static_cast<const float*>(vj), out, dv);
    } else {
      const uint16_t* v = static_cast<const uint16_t*>(vj);
      for (int64_t i = 0; i < dv; ++i) out[i] += p * fp16_to_f32(v[i]);
    }
  }
}

void attend_reference(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* out) {
  std::vector<double> s(static_cast<size_t>(rows.n));
  double mx = -INFINITY;
  for (int64_t j = 0; j < rows.n; ++j) {
    const void* kj = row_at(rows.type, rows.k, j, rows.k_stride);
    double acc = 0;
    for (int64_t i = 0; i < dk; ++i) acc += static_cast<double>(q[i]) * load(rows.type, kj, i);
    s[j] = acc * scale;
    mx = std::max(mx, s[j]);
  }
  double sum = 0;
  for (auto& x : s) sum += (x = std::exp(x - mx));
  for (int64_t i = 0; i < dv; ++i) {
    double acc = 0;
    for (int64_t j = 0; j < rows.n; ++j)
      acc += s[j] / sum * load(rows.type, row_at(rows.type, rows.v, j, rows.v_stride), i);
    out[i] = static_cast<float>(acc);
  }
}

}  // namespace frugal::kernels
