// Row-interleaved ("repacked") layouts of Q5_0, Q8_0, Q4_K, Q5_K and Q6_K: 16 weight rows
// stored together, block by block, so that one 512-bit register
// holds the same four codes of all 16 rows. A matrix product then multiplies
// each group of four activation values, broadcast, with 16 rows at once and
// keeps every row's sum in its own lane: no horizontal sums, scales applied
// per lane, and one contiguous stream of bytes per 16 rows (see
// docs/KERNELS.md, "Repacked weights").
//
// The repacked types have the size of their base type (a 16-row group of
// blocks is a permutation of the same bytes' information in as many
// bytes), so a matrix can be repacked in place, group by group, and a file
// written with them (`frugal quantize --repack`) records the layout in its
// type ids, which other engines refuse rather than misread.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "gguf/tensor_type.h"
#include "quant/blocks.h"

namespace frugal::quant {

inline constexpr int kRepackRows = 16;

// One super-block (256 values) of 16 Q4_K rows. Row k's values are
// d[k] * sc * code - dmin[k] * mn with its 6-bit scale and minimum of each
// 32-value sub-block, as in Q4_K.
struct BlockQ4_K_R16 {
  uint16_t d[16], dmin[16];
  // scales[s][4k + i] = byte 4s + i of row k's packed 12-byte Q4_K scales.
  uint8_t scales[3][64];
  // qs[j][g][4k + i]: code of row k at value 32j + 4g + i in the low nibble,
  // at value 32j + 16 + 4g + i in the high one (j: sub-block, g < 4).
  uint8_t qs[8][4][64];
  // Sub-block j's nibbles, qs[j] (each layout places them its own way).
  uint8_t (&nibbles(int j))[4][64] { return qs[j]; }
  const uint8_t (&nibbles(int j) const)[4][64] { return qs[j]; }
};

// One super-block of 16 Q5_K rows: Q4_K_R16's fields, the fifth bit of
// each code in qh. sub[j].qh[t] is two 64-bit masks, one bit a byte of
// sub[j].qs[t]: bytes 0-7 the low nibbles' fifth bits (bit 4k + i: row k,
// value 32j + 4t + i), bytes 8-15 the high ones' (value 32j + 16 + 4t + i),
// so that a kernel adds 16 to exactly the bytes of the mask in one masked
// instruction. A sub-block's masks and nibbles lie together, so that a
// kernel reads the group front to back as one stream (two interleaved
// streams within a group, the first layout's, read from memory at half the
// speed: docs/KERNELS.md).
struct BlockQ5_K_R16 {
  uint16_t d[16], dmin[16];
  uint8_t scales[3][64];
  struct SubBlock {
    uint8_t qh[4][16];
    uint8_t qs[4][64];  // as BlockQ4_K_R16::qs[j]
  } sub[8];
  uint8_t (&nibbles(int j))[4][64] { return sub[j].qs; }
  const uint8_t (&nibbles(int j) const)[4][64] { return sub[j].qs; }
};

// One super-block of 16 Q6_K rows: value = d[k] * scale * (code - 32).
// Sub-block by sub-block, front to back in the order a kernel reads it (as
// Q5_K_R16), the scales first so that a 64-byte aligned group's codes are
// aligned too.
struct BlockQ6_K_R16 {
  int8_t scales[16][16];  // [16-value half h][row k]
  struct SubBlock {
    // Low four bits of the codes, arranged as BlockQ4_K_R16::qs[j].
    uint8_t ql[4][64];
    // qh[t][4k + i], bits 2q and 2q + 1: the top two bits of row k's code
    // at value 32j + 16t + 4q + i (q < 4).
    uint8_t qh[2][64];
  } sub[8];
  uint16_t d[16];
  uint8_t (&nibbles(int j))[4][64] { return sub[j].ql; }
  const uint8_t (&nibbles(int j) const)[4][64] { return sub[j].ql; }
};

// One 32-value block of 16 Q8_0 rows: value = d[k] * code, the codes as in
// Q8_0 (signed), qs[t][4k + i] = row k's code at value 4t + i.
struct BlockQ8_0_R16 {
  uint16_t d[16];
  int8_t qs[8][64];
};

// One 32-value block of 16 Q5_0 rows: value = d[k] * (code - 16), code =
// low four bits | fifth bit << 4. qs[g][4k + i] = row k's Q5_0 byte 4g + i
// (value 4g + i in the low nibble, 16 + 4g + i in the high one); qh[4k + i]
// bit t = the fifth bit of row k's value 4t + i, so that the fifth bits of
// four consecutive values are one bit position of a 32-bit lane's bytes.
struct BlockQ5_0_R16 {
  uint16_t d[16];
  uint8_t qh[64];
  uint8_t qs[4][64];
};

static_assert(sizeof(BlockQ5_0_R16) == 16 * sizeof(BlockQ5_0));
static_assert(sizeof(BlockQ8_0_R16) == 16 * sizeof(BlockQ8_0));
static_assert(sizeof(BlockQ4_K_R16) == 16 * sizeof(BlockQ4_K));
static_assert(sizeof(BlockQ5_K_R16) == 16 * sizeof(BlockQ5_K));
static_assert(sizeof(BlockQ6_K_R16) == 16 * sizeof(BlockQ6_K));

// The repacked type of `base` (Q5_0 -> Q5_0_R16, Q8_0 -> Q8_0_R16, Q4_K ->
// Q4_K_R16, Q5_K -> Q5_K_R16, Q6_K -> Q6_K_R16), or base itself when it has none.
TensorType repacked_type(TensorType base);
// The type a repacked type's rows are stored as (Q4_K_R16 -> Q4_K), or t.
TensorType base_type(TensorType t);
// Rows per interleaved group: 16 for the repacked types, 1 for the others.
int64_t interleaved_rows(TensorType t);

// n_rows rows (a multiple of 16) of n_in values of `base` from src to their
// repacked form in dst (the same number of bytes). src == dst is allowed.
void repack_rows(TensorType base, const void* src, void* dst, int64_t n_rows, int64_t n_in);
// The inverse: repacked rows back to rows of the base type.
void unpack_rows(TensorType repacked, const void* src, void* dst, int64_t n_rows, int64_t n_in);

// Whether a tensor of this name may be stored row-interleaved: not the ones
// read a row at a time outside matrix products (token embeddings, MLA's
// attn_kv_b, whose heads' rows are absorbed into the queries).
bool repack_allowed(std::string_view tensor_name);

// Row `row` of a matrix of n_in-value rows stored as `t` (any layout) as
// base-type blocks in `out` (row_bytes(base_type(t), n_in) bytes).
void extract_row(TensorType t, const void* matrix, int64_t row, int64_t n_in, void* out);

// Row `row` of such a matrix as n_in floats.
void dequantize_matrix_row(TensorType t, const void* matrix, int64_t row, int64_t n_in, float* out);

}  // namespace frugal::quant
