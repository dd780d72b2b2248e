// Scaled dot-product attention over cached key and value rows, and the cache
// row formats.
//
// Cache rows are f32, f16 or q8_0 (blocks of 32 values: an f16 scale and 32
// int8, 34 bytes; a row's last block is zero-padded). The caller picks the
// rows (causal: positions 0..pos of the query's sequence) and the head's
// offset inside each row; for q8_0 that offset must start a block.
//
// attend_flash is the kernel the forward pass uses, for decode and prefill
// alike: many queries that share one key/value head (the rows of a prefill
// chunk, the heads of a GQA group, all heads of latent attention) walk the
// cache together in blocks of kFlashBlock positions. Each block's keys and
// values are converted to f32 once (f16 and q8_0 read straight from the
// cache, no f32 copy of the cache exists) and used by every query while in
// L1; each query keeps a running max, a running sum and an unnormalised
// output (online softmax), so no n_ctx x n_ctx score matrix is ever formed.
// A query's arithmetic depends only on its own positions (blocks start at
// fixed multiples of kFlashBlock), never on which other queries share its
// call: a row gives the same result in a batch or alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

namespace frugal::kernels {

enum class CacheType { kF32, kF16, kQ8_0 };

const char* cache_type_name(CacheType t);
// Elements between consecutive rows of `width` elements (q8_0: rounded up
// to whole blocks).
int64_t cache_row_stride(CacheType t, int64_t width);
// Bytes of n elements (q8_0: n a multiple of 32).
size_t cache_bytes(CacheType t, int64_t n);
// Address of element i of a cache buffer (q8_0: i a multiple of 32).
void* cache_at(CacheType t, void* base, int64_t i);
const void* cache_at(CacheType t, const void* base, int64_t i);
// Writes n floats as a row (q8_0: cache_row_stride(n) elements, zero-padded).
void cache_store(CacheType t, void* dst, const float* src, int64_t n);
// Reads n floats of a row (q8_0: dst must hold n rounded up to 32 floats).
void cache_load(CacheType t, const void* src, float* dst, int64_t n);

struct AttentionRows {
  CacheType type = CacheType::kF32;
  const void* k = nullptr;  // key of position j at element j * k_stride of k
  const void* v = nullptr;  // value of position j at element j * v_stride of v
  int64_t k_stride = 0;
  int64_t v_stride = 0;
  int64_t n = 0;            // positions attended (attend, attend_reference)
};

// out[0..dv) = sum_j softmax_j(scale * q . k_j) v_j over j < rows.n, with
// scores as a plain array: the simple two-pass definition.
// scores: scratch of at least rows.n floats.
void attend(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* scores,
            float* out);

// The same in double precision, for tests.
void attend_reference(const float* q, int64_t dk, const AttentionRows& rows, int64_t dv, float scale, float* out);

// One query of a flash call: q (dk floats) attends to positions
// [first, n) of the rows (first > 0: a sliding window); out gets dv floats.
// A finite sink is a logit of its own in the softmax's denominator (an
// "attention sink" that takes probability without contributing a value):
// out = sum_j exp(s_j) v_j / (exp(sink) + sum_j exp(s_j)).
struct AttentionQuery {
  const float* q = nullptr;
  float* out = nullptr;
  int64_t n = 0;
  int64_t first = 0;
  float sink = -std::numeric_limits<float>::infinity();
};

constexpr int64_t kFlashBlock = 64;

// Floats of scratch attend_flash needs for n_queries queries.
size_t flash_scratch_floats(int64_t n_queries, int64_t dk, int64_t dv);

// Every query against the shared key/value rows (rows.n is ignored: each
// query has its own length). Queries of length 0 get zeros.
void attend_flash(std::span<const AttentionQuery> queries, int64_t dk, const AttentionRows& rows, int64_t dv,
                  float scale, float* scratch);

}  // namespace frugal::kernels
