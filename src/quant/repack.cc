// Repacking of k-quant rows into 16-row groups and back (scalar; done once at
// load or by `frugal quantize --repack`). Each group goes through the codes
// of its rows: unpacked to one byte per value, then packed in the other
// layout, so the two directions are each other's inverse by construction.
#include "quant/repack.h"

#include <cstring>
#include <vector>

#include "base/error.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// --- one row's super-block as codes (one byte per value) ---------------------

void q4k_codes(const BlockQ4_K& b, uint8_t code[QK_K]) {
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l) {
      code[64 * p + l] = b.qs[32 * p + l] & 0x0F;
      code[64 * p + 32 + l] = b.qs[32 * p + l] >> 4;
    }
}
void q4k_from_codes(const uint8_t code[QK_K], BlockQ4_K& b) {
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * p + l] = static_cast<uint8_t>(code[64 * p + l] | code[64 * p + 32 + l] << 4);
}

// Q6_K: in each 128-value half n, ql[64n + l] holds values 128n + l (low
// nibble) and 128n + 64 + l (high), ql[64n + 32 + l] values 128n + 32 + l and
// 128n + 96 + l, and qh[32n + l] the top bits of those four, two bits each.
void q6k_codes(const BlockQ6_K& b, uint8_t code[QK_K]) {
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* ql = b.ql + 64 * n;
      const int qh = b.qh[32 * n + l];
      uint8_t* c = code + 128 * n;
      c[l] = static_cast<uint8_t>((ql[l] & 0x0F) | ((qh >> 0) & 3) << 4);
      c[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0x0F) | ((qh >> 2) & 3) << 4);
      c[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | ((qh >> 4) & 3) << 4);
      c[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | ((qh >> 6) & 3) << 4);
    }
}
void q6k_from_codes(const uint8_t code[QK_K], BlockQ6_K& b) {
  for (int n = 0; n < 2; ++n)
    for (int l = 0; l < 32; ++l) {
      const uint8_t* c = code + 128 * n;
      b.ql[64 * n + l] = static_cast<uint8_t>((c[l] & 0x0F) | (c[l + 64] & 0x0F) << 4);
      b.ql[64 * n + 32 + l] = static_cast<uint8_t>((c[l + 32] & 0x0F) | (c[l + 96] & 0x0F) << 4);
      b.qh[32 * n + l] =
          static_cast<uint8_t>((c[l] >> 4) | (c[l + 32] >> 4) << 2 | (c[l + 64] >> 4) << 4 | (c[l + 96] >> 4) << 6);
    }
}

// --- the interleaved code arrays (shared by both repacked types) -------------

// Low nibbles: qs[j][g][4k + i] = code(k, 32j + 4g + i) | code(k, 32j + 16 + 4g + i) << 4.
void put_nibbles(const uint8_t code[QK_K], int k, uint8_t qs[8][4][64]) {
  for (int j = 0; j < 8; ++j)
    for (int g = 0; g < 4; ++g)
      for (int i = 0; i < 4; ++i)
        qs[j][g][4 * k + i] =
            static_cast<uint8_t>((code[32 * j + 4 * g + i] & 0x0F) | (code[32 * j + 16 + 4 * g + i] & 0x0F) << 4);
}
void get_nibbles(const uint8_t qs[8][4][64], int k, uint8_t code[QK_K]) {
  for (int j = 0; j < 8; ++j)
    for (int g = 0; g < 4; ++g)
      for (int i = 0; i < 4; ++i) {
        const uint8_t v = qs[j][g][4 * k + i];
        code[32 * j + 4 * g + i] = v & 0x0F;
        code[32 * j + 16 + 4 * g + i] = v >> 4;
      }
}

// --- one 16-row group of one super-block --------------------------------------

void pack_q4k(const BlockQ4_K* const rows[16], BlockQ4_K_R16& out) {
  uint8_t code[QK_K];
  for (int k = 0; k < 16; ++k) {
    const BlockQ4_K& b = *rows[k];
    out.d[k] = b.d;
    out.dmin[k] = b.dmin;
    for (int s = 0; s < 3; ++s)
      for (int i = 0; i < 4; ++i) out.scales[s][4 * k + i] = b.scales[4 * s + i];
    q4k_codes(b, code);
    put_nibbles(code, k, out.qs);
  }
}
void unpack_q4k(const BlockQ4_K_R16& in, int k, BlockQ4_K& b) {
  uint8_t code[QK_K];
  b.d = in.d[k];
  b.dmin = in.dmin[k];
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < 4; ++i) b.scales[4 * s + i] = in.scales[s][4 * k + i];
  get_nibbles(in.qs, k, code);
  q4k_from_codes(code, b);
}

void pack_q6k(const BlockQ6_K* const rows[16], BlockQ6_K_R16& out) {
  uint8_t code[QK_K];
  for (int k = 0; k < 16; ++k) {
    const BlockQ6_K& b = *rows[k];
    out.d[k] = b.d;
    for (int h = 0; h < 16; ++h) out.scales[h][k] = b.scales[h];
    q6k_codes(b, code);
    put_nibbles(code, k, out.ql);
    for (int j = 0; j < 8; ++j)
      for (int t = 0; t < 2; ++t)
        for (int i = 0; i < 4; ++i) {
          uint8_t v = 0;
          for (int q = 0; q < 4; ++q) v = static_cast<uint8_t>(v | (code[32 * j + 16 * t + 4 * q + i] >> 4) << 2 * q);
          out.qh[j][t][4 * k + i] = v;
        }
  }
}
void unpack_q6k(const BlockQ6_K_R16& in, int k, BlockQ6_K& b) {
  uint8_t code[QK_K];
  b.d = in.d[k];
  for (int h = 0; h < 16; ++h) b.scales[h] = in.scales[h][k];
  get_nibbles(in.ql, k, code);
  for (int j = 0; j < 8; ++j)
    for (int t = 0; t < 2; ++t)
      for (int i = 0; i < 4; ++i)
        for (int q = 0; q < 4; ++q) {
          uint8_t& c = code[32 * j + 16 * t + 4 * q + i];
          c = static_cast<uint8_t>(c | ((in.qh[j][t][4 * k + i] >> 2 * q) & 3) << 4);
        }
  q6k_from_codes(code, b);
}

// The layouts of one repacked type: its base block, its group block, and the
// packing of one super-block of 16 rows both ways.
template <class Base, class Group, void (*kPack)(const Base* const[16], Group&),
          void (*kUnpack)(const Group&, int, Base&)>
struct Layout {
  // n_rows x n_in of base rows at src to groups at dst (may be src): one
  // group's rows are copied aside first, so in place is safe.
  static void repack(const void* src, void* dst, int64_t n_rows, int64_t n_in) {
    const int64_t nb = n_in / QK_K;
    std::vector<Base> rows(static_cast<size_t>(16 * nb));
    for (int64_t g = 0; g < n_rows / 16; ++g) {
      std::memcpy(rows.data(), static_cast<const Base*>(src) + g * 16 * nb, rows.size() * sizeof(Base));
      Group* out = static_cast<Group*>(dst) + g * nb;
      for (int64_t b = 0; b < nb; ++b) {
        const Base* r[16];
        for (int k = 0; k < 16; ++k) r[k] = &rows[static_cast<size_t>(k * nb + b)];
        Group packed;
        kPack(r, packed);
        std::memcpy(out + b, &packed, sizeof(Group));
      }
    }
  }
  static void unpack(const void* src, void* dst, int64_t n_rows, int64_t n_in) {
    const int64_t nb = n_in / QK_K;
    std::vector<Group> groups(static_cast<size_t>(nb));
    for (int64_t g = 0; g < n_rows / 16; ++g) {
      std::memcpy(groups.data(), static_cast<const Group*>(src) + g * nb, groups.size() * sizeof(Group));
      Base* out = static_cast<Base*>(dst) + g * 16 * nb;
      for (int k = 0; k < 16; ++k)
        for (int64_t b = 0; b < nb; ++b) kUnpack(groups[static_cast<size_t>(b)], k, out[k * nb + b]);
    }
  }
  static void row(const void* matrix, int64_t row, int64_t n_in, void* out) {
    const int64_t nb = n_in / QK_K;
    const Group* g = static_cast<const Group*>(matrix) + row / 16 * nb;
    for (int64_t b = 0; b < nb; ++b) kUnpack(g[b], static_cast<int>(row % 16), static_cast<Base*>(out)[b]);
  }
};
using Q4KLayout = Layout<BlockQ4_K, BlockQ4_K_R16, pack_q4k, unpack_q4k>;
using Q6KLayout = Layout<BlockQ6_K, BlockQ6_K_R16, pack_q6k, unpack_q6k>;

void check_shape(TensorType t, int64_t n_rows, int64_t n_in) {
  if (n_rows < 0 || n_rows % kRepackRows != 0)
    fail("repack: ", n_rows, " rows of ", tensor_type_name(t), " are not a whole number of ", kRepackRows,
         "-row groups");
  row_bytes(t, static_cast<uint64_t>(n_in));  // whole blocks
}

}  // namespace

TensorType repacked_type(TensorType base) {
  switch (base) {
    case TensorType::Q4_K: return TensorType::Q4_K_R16;
    case TensorType::Q6_K: return TensorType::Q6_K_R16;
    default: return base;
  }
}

TensorType base_type(TensorType t) {
  switch (t) {
    case TensorType::Q4_K_R16: return TensorType::Q4_K;
    case TensorType::Q6_K_R16: return TensorType::Q6_K;
    default: return t;
  }
}

int64_t interleaved_rows(TensorType t) { return base_type(t) == t ? 1 : kRepackRows; }

void repack_rows(TensorType base, const void* src, void* dst, int64_t n_rows, int64_t n_in) {
  check_shape(base, n_rows, n_in);
  switch (base) {
    case TensorType::Q4_K: return Q4KLayout::repack(src, dst, n_rows, n_in);
    case TensorType::Q6_K: return Q6KLayout::repack(src, dst, n_rows, n_in);
    default: fail("repack: ", tensor_type_name(base), " has no repacked layout");
  }
}

void unpack_rows(TensorType repacked, const void* src, void* dst, int64_t n_rows, int64_t n_in) {
  check_shape(repacked, n_rows, n_in);
  switch (repacked) {
    case TensorType::Q4_K_R16: return Q4KLayout::unpack(src, dst, n_rows, n_in);
    case TensorType::Q6_K_R16: return Q6KLayout::unpack(src, dst, n_rows, n_in);
    default: fail("repack: ", tensor_type_name(repacked), " is not a repacked type");
  }
}

void extract_row(TensorType t, const void* matrix, int64_t row, int64_t n_in, void* out) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  switch (t) {
    case TensorType::Q4_K_R16: return Q4KLayout::row(matrix, row, n_in, out);
    case TensorType::Q6_K_R16: return Q6KLayout::row(matrix, row, n_in, out);
    default: std::memcpy(out, static_cast<const uint8_t*>(matrix) + static_cast<size_t>(row) * rb, rb);
  }
}

void dequantize_matrix_row(TensorType t, const void* matrix, int64_t row, int64_t n_in, float* out) {
  const TensorType base = base_type(t);
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  if (base == t) return dequantize_row(t, static_cast<const uint8_t*>(matrix) + static_cast<size_t>(row) * rb, out, n_in);
  thread_local std::vector<uint8_t> blocks;
  blocks.resize(rb);
  extract_row(t, matrix, row, n_in, blocks.data());
  dequantize_row(base, blocks.data(), out, n_in);
}

}  // namespace frugal::quant
