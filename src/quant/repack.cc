// Repacking of Q5_0, Q8_0 and k-quant rows into 16-row groups and back (scalar; done once at
// load or by `frugal quantize --repack`). Packing works on the base blocks'
// bytes four at a time (it runs over whole models at load time, at several
// GB/s); unpacking goes through one byte per code. The two are independent
// spellings of the layouts, which the round-trip tests set against each other.
#include "quant/repack.h"

#include <cstring>
#include <vector>

#include "base/error.h"
#include "gguf/tensor_names.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

// --- one row's super-block as codes (one byte per value) ---------------------

// Q4_K's and Q5_K's low four bits of each code; Q5_K's fifth bit of value
// 32j + l is bit j of qh[l].
template <class Block>
void nibbles_from_codes(const uint8_t code[QK_K], Block& b) {
  for (int p = 0; p < 4; ++p)
    for (int l = 0; l < 32; ++l)
      b.qs[32 * p + l] = static_cast<uint8_t>((code[64 * p + l] & 0x0F) | (code[64 * p + 32 + l] & 0x0F) << 4);
}
void q5k_fifth_bits_from_codes(const uint8_t code[QK_K], BlockQ5_K& b) {
  for (int l = 0; l < 32; ++l) {
    uint8_t h = 0;
    for (int j = 0; j < 8; ++j) h = static_cast<uint8_t>(h | (code[32 * j + l] >> 4) << j);
    b.qh[l] = h;
  }
}

// Q6_K from codes: in each 128-value half n, ql[64n + l] holds values
// 128n + l (low nibble) and 128n + 64 + l (high), ql[64n + 32 + l] values
// 128n + 32 + l and 128n + 96 + l, and qh[32n + l] the top bits of those
// four, two bits each.
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

// The inverse of the packing's nibbles: codes of row k from
// nibbles(j)[g][4k + i].
template <class Group>
void get_nibbles(const Group& in, int k, uint8_t code[QK_K]) {
  for (int j = 0; j < 8; ++j)
    for (int g = 0; g < 4; ++g)
      for (int i = 0; i < 4; ++i) {
        const uint8_t v = in.nibbles(j)[g][4 * k + i];
        code[32 * j + 4 * g + i] = v & 0x0F;
        code[32 * j + 16 + 4 * g + i] = v >> 4;
      }
}

// --- one 16-row group of one super-block --------------------------------------

// Four bytes from p as one word (little-endian lanes, as the layouts use).
uint32_t word(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Nibble `high` of the four bytes at lo and at hi, as low and high nibbles.
uint32_t nibble_pair(uint32_t lo, uint32_t hi, bool high) {
  constexpr uint32_t kLow = 0x0F0F0F0Fu;
  return high ? (lo >> 4 & kLow) | (hi & ~kLow) : (lo & kLow) | (hi & kLow) << 4;
}

// Straight from the Q4_K bytes (this runs over whole models at load time):
// sub-block j's 32 codes are nibble j % 2 of qs[32 (j / 2) ..], values
// 32j + 4g + i at byte 4g + i and 32j + 16 + 4g + i at byte 16 + 4g + i.
// Q5_K's low four bits, scales and minima are laid out as Q4_K's: both
// types pack those fields into row k of a group alike.
template <class Block, class Group>
void pack_nibbles_scales(const Block& b, int k, Group& out) {
  out.d[k] = b.d;
  out.dmin[k] = b.dmin;
  for (int s = 0; s < 3; ++s) std::memcpy(&out.scales[s][4 * k], b.scales + 4 * s, 4);
  for (int j = 0; j < 8; ++j) {
    const uint8_t* q = b.qs + 32 * (j / 2);
    for (int g = 0; g < 4; ++g) {
      const uint32_t v = nibble_pair(word(q + 4 * g), word(q + 16 + 4 * g), j % 2 == 1);
      std::memcpy(&out.nibbles(j)[g][4 * k], &v, 4);
    }
  }
}
template <class Group, class Block>
void unpack_nibbles_scales(const Group& in, int k, Block& b, uint8_t code[QK_K]) {
  b.d = in.d[k];
  b.dmin = in.dmin[k];
  for (int s = 0; s < 3; ++s)
    for (int i = 0; i < 4; ++i) b.scales[4 * s + i] = in.scales[s][4 * k + i];
  get_nibbles(in, k, code);
}

void pack_q4k(const BlockQ4_K* const rows[16], BlockQ4_K_R16& out) {
  for (int k = 0; k < 16; ++k) pack_nibbles_scales(*rows[k], k, out);
}
void unpack_q4k(const BlockQ4_K_R16& in, int k, BlockQ4_K& b) {
  uint8_t code[QK_K];
  unpack_nibbles_scales(in, k, b, code);
  nibbles_from_codes(code, b);
}

// Q5_K: the fifth bit of row k's value 32j + 4t + i (bit j of qh[4t + i])
// to bit 4k + i of mask sub[j].qh[t][0..7], of value 32j + 16 + 4t + i (bit j
// of qh[16 + 4t + i]) to the same bit of mask sub[j].qh[t][8..15].
void pack_q5k(const BlockQ5_K* const rows[16], BlockQ5_K_R16& out) {
  for (int k = 0; k < 16; ++k) {
    const BlockQ5_K& b = *rows[k];
    pack_nibbles_scales(b, k, out);
    // Bits 4k .. 4k + 3 of a mask: a nibble of byte k / 2, from bit j of
    // four qh bytes read as one word.
    auto nibble = [](uint32_t w, int j) {
      w = w >> j & 0x01010101u;
      return static_cast<uint8_t>((w | w >> 7 | w >> 14 | w >> 21) & 0x0F);
    };
    for (int j = 0; j < 8; ++j)
      for (int t = 0; t < 4; ++t) {
        uint8_t* mask = out.sub[j].qh[t];
        if (k == 0) std::memset(mask, 0, 16);
        mask[k / 2] = static_cast<uint8_t>(mask[k / 2] | nibble(word(b.qh + 4 * t), j) << 4 * (k % 2));
        mask[8 + k / 2] = static_cast<uint8_t>(mask[8 + k / 2] | nibble(word(b.qh + 16 + 4 * t), j) << 4 * (k % 2));
      }
  }
}
void unpack_q5k(const BlockQ5_K_R16& in, int k, BlockQ5_K& b) {
  uint8_t code[QK_K];
  unpack_nibbles_scales(in, k, b, code);
  for (int j = 0; j < 8; ++j)
    for (int t = 0; t < 4; ++t)
      for (int i = 0; i < 4; ++i) {
        const int n = 4 * k + i;
        const uint8_t* mask = in.sub[j].qh[t];
        code[32 * j + 4 * t + i] = static_cast<uint8_t>(code[32 * j + 4 * t + i] | ((mask[n / 8] >> n % 8) & 1) << 4);
        code[32 * j + 16 + 4 * t + i] =
            static_cast<uint8_t>(code[32 * j + 16 + 4 * t + i] | ((mask[8 + n / 8] >> n % 8) & 1) << 4);
      }
  nibbles_from_codes(code, b);
  q5k_fifth_bits_from_codes(code, b);
}

// Q6_K straight from its bytes as well: sub-block j = 4n + m (n: 128-value
// half) has its low four bits in nibble m / 2 of ql[64n + 32 (m % 2) ..] and
// its top two at bit 2m of qh[32n ..].
void pack_q6k(const BlockQ6_K* const rows[16], BlockQ6_K_R16& out) {
  for (int k = 0; k < 16; ++k) {
    const BlockQ6_K& b = *rows[k];
    out.d[k] = b.d;
    for (int h = 0; h < 16; ++h) out.scales[h][k] = b.scales[h];
    for (int j = 0; j < 8; ++j) {
      const int n = j / 4, m = j % 4;
      const uint8_t* ql = b.ql + 64 * n + 32 * (m % 2);
      const uint8_t* qh = b.qh + 32 * n;
      for (int g = 0; g < 4; ++g) {
        const uint32_t v = nibble_pair(word(ql + 4 * g), word(ql + 16 + 4 * g), m >= 2);
        std::memcpy(&out.sub[j].ql[g][4 * k], &v, 4);
      }
      for (int t = 0; t < 2; ++t) {
        uint32_t v = 0;
        for (int q = 0; q < 4; ++q) v |= (word(qh + 16 * t + 4 * q) >> 2 * m & 0x03030303u) << 2 * q;
        std::memcpy(&out.sub[j].qh[t][4 * k], &v, 4);
      }
    }
  }
}
void unpack_q6k(const BlockQ6_K_R16& in, int k, BlockQ6_K& b) {
  uint8_t code[QK_K];
  b.d = in.d[k];
  for (int h = 0; h < 16; ++h) b.scales[h] = in.scales[h][k];
  get_nibbles(in, k, code);
  for (int j = 0; j < 8; ++j)
    for (int t = 0; t < 2; ++t)
      for (int i = 0; i < 4; ++i)
        for (int q = 0; q < 4; ++q) {
          uint8_t& c = code[32 * j + 16 * t + 4 * q + i];
          c = static_cast<uint8_t>(c | ((in.sub[j].qh[t][4 * k + i] >> 2 * q) & 3) << 4);
        }
  q6k_from_codes(code, b);
}

// Q8_0: the codes four at a time, one 32-bit word a row.
void pack_q80(const BlockQ8_0* const rows[16], BlockQ8_0_R16& out) {
  for (int k = 0; k < 16; ++k) {
    out.d[k] = rows[k]->d;
    for (int t = 0; t < 8; ++t) std::memcpy(&out.qs[t][4 * k], rows[k]->qs + 4 * t, 4);
  }
}
void unpack_q80(const BlockQ8_0_R16& in, int k, BlockQ8_0& b) {
  b.d = in.d[k];
  for (int t = 0; t < 8; ++t)
    for (int i = 0; i < 4; ++i) b.qs[4 * t + i] = in.qs[t][4 * k + i];
}

// Q5_0: the low-nibble bytes four at a time; the fifth bits regrouped so
// that value 4t + i's is bit t of byte i.
void pack_q50(const BlockQ5_0* const rows[16], BlockQ5_0_R16& out) {
  for (int k = 0; k < 16; ++k) {
    const BlockQ5_0& b = *rows[k];
    out.d[k] = b.d;
    for (int g = 0; g < 4; ++g) std::memcpy(&out.qs[g][4 * k], b.qs + 4 * g, 4);
    const uint32_t h = word(b.qh);
    for (int i = 0; i < 4; ++i) {
      uint8_t v = 0;
      for (int t = 0; t < 8; ++t) v = static_cast<uint8_t>(v | ((h >> (4 * t + i)) & 1) << t);
      out.qh[4 * k + i] = v;
    }
  }
}
void unpack_q50(const BlockQ5_0_R16& in, int k, BlockQ5_0& b) {
  b.d = in.d[k];
  for (int g = 0; g < 4; ++g)
    for (int i = 0; i < 4; ++i) b.qs[4 * g + i] = in.qs[g][4 * k + i];
  uint32_t h = 0;
  for (int v = 0; v < 32; ++v) h |= static_cast<uint32_t>((in.qh[4 * k + v % 4] >> (v / 4)) & 1) << v;
  std::memcpy(b.qh, &h, 4);
}

// The layouts of one repacked type: its base block (kValues values), its
// group block, and the packing of one block of 16 rows both ways.
template <class Base, class Group, int64_t kValues, void (*kPack)(const Base* const[16], Group&),
          void (*kUnpack)(const Group&, int, Base&)>
struct Layout {
  // n_rows x n_in of base rows at src to groups at dst (may be src): one
  // group's rows are copied aside first, so in place is safe.
  static void repack(const void* src, void* dst, int64_t n_rows, int64_t n_in) {
    const int64_t nb = n_in / kValues;
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
    const int64_t nb = n_in / kValues;
    std::vector<Group> groups(static_cast<size_t>(nb));
    for (int64_t g = 0; g < n_rows / 16; ++g) {
      std::memcpy(groups.data(), static_cast<const Group*>(src) + g * nb, groups.size() * sizeof(Group));
      Base* out = static_cast<Base*>(dst) + g * 16 * nb;
      for (int k = 0; k < 16; ++k)
        for (int64_t b = 0; b < nb; ++b) kUnpack(groups[static_cast<size_t>(b)], k, out[k * nb + b]);
    }
  }
  static void row(const void* matrix, int64_t row, int64_t n_in, void* out) {
    const int64_t nb = n_in / kValues;
    const Group* g = static_cast<const Group*>(matrix) + row / 16 * nb;
    for (int64_t b = 0; b < nb; ++b) kUnpack(g[b], static_cast<int>(row % 16), static_cast<Base*>(out)[b]);
  }
};
using Q50Layout = Layout<BlockQ5_0, BlockQ5_0_R16, QK5_0, pack_q50, unpack_q50>;
using Q80Layout = Layout<BlockQ8_0, BlockQ8_0_R16, QK8_0, pack_q80, unpack_q80>;
using Q4KLayout = Layout<BlockQ4_K, BlockQ4_K_R16, QK_K, pack_q4k, unpack_q4k>;
using Q5KLayout = Layout<BlockQ5_K, BlockQ5_K_R16, QK_K, pack_q5k, unpack_q5k>;
using Q6KLayout = Layout<BlockQ6_K, BlockQ6_K_R16, QK_K, pack_q6k, unpack_q6k>;

void check_shape(TensorType t, int64_t n_rows, int64_t n_in) {
  if (n_rows < 0 || n_rows % kRepackRows != 0)
    fail("repack: ", n_rows, " rows of ", tensor_type_name(t), " are not a whole number of ", kRepackRows,
         "-row groups");
  row_bytes(t, static_cast<uint64_t>(n_in));  // whole blocks
}

}  // namespace

TensorType repacked_type(TensorType base) {
  switch (base) {
    case TensorType::Q5_0: return TensorType::Q5_0_R16;
    case TensorType::Q8_0: return TensorType::Q8_0_R16;
    case TensorType::Q4_K: return TensorType::Q4_K_R16;
    case TensorType::Q5_K: return TensorType::Q5_K_R16;
    case TensorType::Q6_K: return TensorType::Q6_K_R16;
    default: return base;
  }
}

TensorType base_type(TensorType t) {
  switch (t) {
    case TensorType::Q5_0_R16: return TensorType::Q5_0;
    case TensorType::Q8_0_R16: return TensorType::Q8_0;
    case TensorType::Q4_K_R16: return TensorType::Q4_K;
    case TensorType::Q5_K_R16: return TensorType::Q5_K;
    case TensorType::Q6_K_R16: return TensorType::Q6_K;
    default: return t;
  }
}

int64_t interleaved_rows(TensorType t) { return base_type(t) == t ? 1 : kRepackRows; }

void repack_rows(TensorType base, const void* src, void* dst, int64_t n_rows, int64_t n_in) {
  check_shape(base, n_rows, n_in);
  switch (base) {
    case TensorType::Q5_0: return Q50Layout::repack(src, dst, n_rows, n_in);
    case TensorType::Q8_0: return Q80Layout::repack(src, dst, n_rows, n_in);
    case TensorType::Q4_K: return Q4KLayout::repack(src, dst, n_rows, n_in);
    case TensorType::Q5_K: return Q5KLayout::repack(src, dst, n_rows, n_in);
    case TensorType::Q6_K: return Q6KLayout::repack(src, dst, n_rows, n_in);
    default: fail("repack: ", tensor_type_name(base), " has no repacked layout");
  }
}

void unpack_rows(TensorType repacked, const void* src, void* dst, int64_t n_rows, int64_t n_in) {
  check_shape(repacked, n_rows, n_in);
  switch (repacked) {
    case TensorType::Q5_0_R16: return Q50Layout::unpack(src, dst, n_rows, n_in);
    case TensorType::Q8_0_R16: return Q80Layout::unpack(src, dst, n_rows, n_in);
    case TensorType::Q4_K_R16: return Q4KLayout::unpack(src, dst, n_rows, n_in);
    case TensorType::Q5_K_R16: return Q5KLayout::unpack(src, dst, n_rows, n_in);
    case TensorType::Q6_K_R16: return Q6KLayout::unpack(src, dst, n_rows, n_in);
    default: fail("repack: ", tensor_type_name(repacked), " is not a repacked type");
  }
}

bool repack_allowed(std::string_view name) {
  const auto t = gguf::parse_tensor_name(name);
  return !t || (t->id != gguf::TensorId::kTokenEmbd && t->id != gguf::TensorId::kAttnKvB);
}

void extract_row(TensorType t, const void* matrix, int64_t row, int64_t n_in, void* out) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n_in));
  switch (t) {
    case TensorType::Q5_0_R16: return Q50Layout::row(matrix, row, n_in, out);
    case TensorType::Q8_0_R16: return Q80Layout::row(matrix, row, n_in, out);
    case TensorType::Q4_K_R16: return Q4KLayout::row(matrix, row, n_in, out);
    case TensorType::Q5_K_R16: return Q5KLayout::row(matrix, row, n_in, out);
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
