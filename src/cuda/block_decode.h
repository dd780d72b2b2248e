// The block decoders of the CUDA backend, written once for the kernels and
// the host (host_device.h). Every supported type is read in units of 16
// consecutive values; F32, F16 and BF16 rows as plain values, the quantised
// types as int8 codes that share one scale and one offset:
//   value[i] = d * q[i] - m,   q[i] an int8 code
// which covers the k-quants' sub-block scales and minima (Q4_K, Q5_K: 32
// values per scale; Q6_K: 16), the single scale of Q8_0 and MXFP4 blocks,
// and IQ4_XS's 32-value scales over its non-linear code book. The int8 codes
// feed the int8 dot products (matvec_row.h); the dequantisers multiply them
// out. Layouts and arithmetic follow quant/blocks.h and the scalar reference
// quant/dequantize.cc, which the host tests compare against bit for bit.
#pragma once
#include <cstdint>
#include <type_traits>

#include "cuda/host_device.h"
#include "quant/blocks.h"

namespace frugal::cuda {

inline constexpr int kUnitValues = 16;

struct DecodedUnit {
  float d;  // scale
  float m;  // offset subtracted after scaling (the k-quants' sub-block minimum; else 0)
  int8_t q[kUnitValues];
};

// Eight signed bytes of a code book as one constant (byte_of reads them back).
constexpr uint64_t pack_code_book(const int8_t* v) {
  uint64_t packed = 0;
  for (int i = 7; i >= 0; --i) packed = packed << 8 | static_cast<uint8_t>(v[i]);
  return packed;
}
// quant::kIQ4NLValues and quant::kMXFP4Values, entries 0-7 and 8-15.
inline constexpr uint64_t kIQ4NLLow = pack_code_book(quant::kIQ4NLValues);
inline constexpr uint64_t kIQ4NLHigh = pack_code_book(quant::kIQ4NLValues + 8);
inline constexpr uint64_t kMXFP4Low = pack_code_book(quant::kMXFP4Values);
inline constexpr uint64_t kMXFP4High = pack_code_book(quant::kMXFP4Values + 8);

FRUGAL_HD int iq4nl_value(int code) { return byte_of(code < 8 ? kIQ4NLLow : kIQ4NLHigh, code & 7); }
FRUGAL_HD int mxfp4_value(int code) { return byte_of(code < 8 ? kMXFP4Low : kMXFP4High, code & 7); }

// Q4_K and Q5_K alike: the scale and minimum of unit u's 32-value sub-block
// and its 4-bit codes. In 64-value chunk c the low nibbles of qs[32c..32c+31]
// are sub-block 2c, the high nibbles sub-block 2c + 1.
template <class Block>
FRUGAL_HD void decode_k4_nibbles(const Block& b, int u, DecodedUnit& out) {
  const int sub = u / 2, chunk = u / 4, shift = 4 * (sub % 2);
  uint8_t scale = 0, min = 0;
  quant::scale_min_k4(sub, b.scales, scale, min);
  out.d = half_bits_to_float(b.d) * static_cast<float>(scale);
  out.m = half_bits_to_float(b.dmin) * static_cast<float>(min);
  uint8_t qs[kUnitValues];
  load16_u8(b.qs + 32 * chunk + 16 * (u % 2), qs);  // 16-byte aligned: 144- and 176-byte blocks
  for (int i = 0; i < kUnitValues; ++i) out.q[i] = static_cast<int8_t>((qs[i] >> shift) & 0xF);
}

// Per block type: values per block and decode_unit(block, u, out) for unit
// u < kUnits. Unit u holds values 16u .. 16u + 15 of the block. The
// quantised codecs give int8 codes (kInt8Codes); the float rows below give
// f32 values through decode_values instead.
template <class Block>
struct BlockCodec;

// F32, F16 and BF16 rows seen as blocks of 16 values, so that one kernel
// template reads every type in the same units.
enum class FloatKind { F32, F16, BF16 };
template <FloatKind K>
struct FloatRow {
  std::conditional_t<K == FloatKind::F32, float, uint16_t> v[kUnitValues];
};
using RowF32 = FloatRow<FloatKind::F32>;
using RowF16 = FloatRow<FloatKind::F16>;
using RowBF16 = FloatRow<FloatKind::BF16>;

template <FloatKind K>
struct BlockCodec<FloatRow<K>> {
  static constexpr int kValues = kUnitValues, kUnits = 1;
  static constexpr bool kInt8Codes = false;
  static FRUGAL_HD void decode_values(const FloatRow<K>& b, int, float* out) {
    for (int i = 0; i < kUnitValues; ++i) {
      if constexpr (K == FloatKind::F32) {
        out[i] = b.v[i];
      } else if constexpr (K == FloatKind::F16) {
        out[i] = half_bits_to_float(b.v[i]);
      } else {
        out[i] = bits_as_float(static_cast<uint32_t>(b.v[i]) << 16);
      }
    }
  }
};

// What every quantised codec shares: Values values a block, int8 codes.
template <int Values>
struct Int8Codec {
  static constexpr int kValues = Values;
  static constexpr int kUnits = kValues / kUnitValues;
  static constexpr bool kInt8Codes = true;
};

template <>
struct BlockCodec<quant::BlockQ4_K> : Int8Codec<quant::QK_K> {
  static FRUGAL_HD void decode_unit(const quant::BlockQ4_K& b, int u, DecodedUnit& out) {
    decode_k4_nibbles(b, u, out);
  }
};

// Q5_K: Q4_K's nibbles plus a fifth bit from qh: bit 2c of qh[l] for the low
// nibbles of chunk c, bit 2c + 1 for the high ones (l the index in the
// chunk's 32), that is bit `sub-block` of qh[l].
template <>
struct BlockCodec<quant::BlockQ5_K> : Int8Codec<quant::QK_K> {
  static FRUGAL_HD void decode_unit(const quant::BlockQ5_K& b, int u, DecodedUnit& out) {
    decode_k4_nibbles(b, u, out);
    const int sub = u / 2;
    uint8_t qh[kUnitValues];
    load16_u8(b.qh + 16 * (u % 2), qh);
    for (int i = 0; i < kUnitValues; ++i) out.q[i] = static_cast<int8_t>(out.q[i] | (((qh[i] >> sub) & 1) << 4));
  }
};

// Q6_K: two 128-value halves; in half h, quarter k (values 32k..32k+31 of
// it) takes its low 4 bits from ql[64h + l + 32 (k % 2)] (nibble k / 2) and
// its high 2 from bits 2k of qh[32h + l]; codes less 32, a signed 8-bit
// scale per 16 values.
template <>
struct BlockCodec<quant::BlockQ6_K> : Int8Codec<quant::QK_K> {
  static FRUGAL_HD void decode_unit(const quant::BlockQ6_K& b, int u, DecodedUnit& out) {
    const int half = u / 8, quarter = (u % 8) / 2, l0 = 16 * (u % 2);
    out.d = half_bits_to_float(b.d) * static_cast<float>(b.scales[8 * half + u % 2 + 2 * quarter]);
    out.m = 0.0f;
    const uint8_t* ql = b.ql + 64 * half + 32 * (quarter % 2) + l0;
    const uint8_t* qh = b.qh + 32 * half + l0;
    const int low_shift = 4 * (quarter / 2), high_shift = 2 * quarter;
    for (int i = 0; i < kUnitValues; ++i) {
      out.q[i] = static_cast<int8_t>((((ql[i] >> low_shift) & 0xF) | (((qh[i] >> high_shift) & 3) << 4)) - 32);
    }
  }
};

template <>
struct BlockCodec<quant::BlockQ8_0> : Int8Codec<quant::QK8_0> {
  static FRUGAL_HD void decode_unit(const quant::BlockQ8_0& b, int u, DecodedUnit& out) {
    out.d = half_bits_to_float(b.d);
    out.m = 0.0f;
    for (int i = 0; i < kUnitValues; ++i) out.q[i] = b.qs[kUnitValues * u + i];
  }
};

// IQ4_XS: eight 32-value sub-blocks, each a 6-bit scale (low 4 bits in
// scales_l, high 2 in scales_h) less 32; the low nibbles of its 16 bytes are
// its first 16 values, the high nibbles the next 16, through the code book.
template <>
struct BlockCodec<quant::BlockIQ4_XS> : Int8Codec<quant::QK_K> {
  static FRUGAL_HD void decode_unit(const quant::BlockIQ4_XS& b, int u, DecodedUnit& out) {
    const int sub = u / 2, shift = 4 * (u % 2);
    const int ls = ((b.scales_l[sub / 2] >> 4 * (sub % 2)) & 0xF) | (((b.scales_h >> 2 * sub) & 3) << 4);
    out.d = half_bits_to_float(b.d) * static_cast<float>(ls - 32);
    out.m = 0.0f;
    const uint8_t* qs = b.qs + 16 * sub;
    for (int i = 0; i < kUnitValues; ++i) out.q[i] = static_cast<int8_t>(iq4nl_value((qs[i] >> shift) & 0xF));
  }
};

// MXFP4: the low nibbles are values 0-15, the high ones 16-31.
template <>
struct BlockCodec<quant::BlockMXFP4> : Int8Codec<quant::QK_MXFP4> {
  static FRUGAL_HD void decode_unit(const quant::BlockMXFP4& b, int u, DecodedUnit& out) {
    out.d = quant::mxfp4_scale(b.e);  // constexpr, so callable on the device
    out.m = 0.0f;
    const int shift = 4 * u;
    for (int i = 0; i < kUnitValues; ++i) out.q[i] = static_cast<int8_t>(mxfp4_value((b.qs[i] >> shift) & 0xF));
  }
};

// d * q - m rounded as the scalar reference rounds it (a product, then a
// difference; no fused multiply-add, which nvcc would otherwise form), so
// that the dequantised values equal quant::dequantize_row's bit for bit.
FRUGAL_HD float unit_value(const DecodedUnit& unit, int i) {
#if defined(__CUDA_ARCH__)
  return __fsub_rn(__fmul_rn(unit.d, static_cast<float>(unit.q[i])), unit.m);
#else
  return unit.d * static_cast<float>(unit.q[i]) - unit.m;
#endif
}

// Values 16u .. 16u + 15 of a block as f32.
template <class Block>
FRUGAL_HD void dequantize_unit(const Block& b, int u, float* out) {
  if constexpr (BlockCodec<Block>::kInt8Codes) {
    DecodedUnit unit;
    BlockCodec<Block>::decode_unit(b, u, unit);
    for (int i = 0; i < kUnitValues; ++i) out[i] = unit_value(unit, i);
  } else {
    BlockCodec<Block>::decode_values(b, u, out);
  }
}

}  // namespace frugal::cuda
