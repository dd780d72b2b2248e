// Scaled dot-product attention of one query head over a run of cached key
// and value rows (f32 or f16), as decode and prefill both use it: the caller
// picks the rows (causal: positions 0..pos of the query's sequence) and the
// head's offset inside each row.
#pragma once
#include <cstdint>

namespace frugal::kernels {

enum class CacheType { kF32, kF16 };

struct AttentionRows {
  CacheType type = CacheType::kF32;
  const void* k = nullptr;  // key of position j at k + j * k_stride (elements)
  const void* v = nullptr;  // value of position j at v + j * v_stride
  int64_t k_stride = 0;
  int64_t v_stride = 0;
  int64_t n = 0;            // positions attended
};

// out[0..dv) = sum_j softmax_j(scale * q . k_j) v_j over j < rows.n.
// scores: scratch of at least rows.n floats.
void attend(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* scores,
            float* out);

// The same in double precision, for tests.
void attend_reference(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* out);

}  // namespace frugal::kernels
