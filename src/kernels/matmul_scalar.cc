// The scalar twins of the SIMD kernels: the same arithmetic (activations
// encoded the same way, the same exact integer sums per block, assembled in
// f32 with the same fused multiply-adds in the same order, see
// matmul_x86-inl.h), in plain C++. They serve CPUs without AVX2 and are the yardstick each SIMD
// kernel is tested against.
#include <cmath>
#include <cstring>

#include "base/fp16.h"
#include "kernels/block_unpack.h"
#include "kernels/matmul_kernels.h"
#include "kernels/quantize_activations.h"

namespace frugal::kernels {
namespace {

using quant::BlockQ8_K;
using quant::QK_K;

template <class Act>
const Act* act_row(const void* act, size_t stride, int r) {
  return reinterpret_cast<const Act*>(static_cast<const uint8_t*>(act) + r * stride);
}

// --- 32-value blocks with one scale: Q8_0, Q4_0, Q5_0, IQ4_NL -------------------

void unpack(const quant::BlockQ8_0& b, int8_t q[32]) { std::memcpy(q, b.qs, 32); }
void unpack(const quant::BlockQ4_0& b, int8_t q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>((b.qs[j] & 0xF) - 8);
    q[j + 16] = static_cast<int8_t>((b.qs[j] >> 4) - 8);
  }
}
// Q5_0: bit i of qh is value i's fifth bit; codes 0..31 less 16.
void unpack(const quant::BlockQ5_0& b, int8_t q[32]) {
  uint32_t qh;
  std::memcpy(&qh, b.qh, 4);
  for (int j = 0; j < 16; ++j) {
    q[j] = static_cast<int8_t>(((b.qs[j] & 0xF) | (qh >> j & 1) << 4) - 16);
    q[j + 16] = static_cast<int8_t>(((b.qs[j] >> 4) | (qh >> (j + 16) & 1) << 4) - 16);
  }
}
void unpack(const quant::BlockIQ4_NL& b, int8_t q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = quant::kIQ4NLValues[b.qs[j] & 0xF];
    q[j + 16] = quant::kIQ4NLValues[b.qs[j] >> 4];
  }
}

// MXFP4: the doubled E2M1 values as int8 (kMXFP4Values) under a power-of-two scale.
void unpack(const quant::BlockMXFP4& b, int8_t q[32]) {
  for (int j = 0; j < 16; ++j) {
    q[j] = quant::kMXFP4Values[b.qs[j] & 0xF];
    q[j + 16] = quant::kMXFP4Values[b.qs[j] >> 4];
  }
}

// The f32 scale of a 32-value block.
float block_scale(const quant::BlockQ8_0& b) { return fp16_to_f32(b.d); }
float block_scale(const quant::BlockQ4_0& b) { return fp16_to_f32(b.d); }
float block_scale(const quant::BlockQ5_0& b) { return fp16_to_f32(b.d); }
float block_scale(const quant::BlockIQ4_NL& b) { return fp16_to_f32(b.d); }
float block_scale(const quant::BlockMXFP4& b) { return quant::mxfp4_scale(b.e); }

template <class Block>
void dot_block32(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
                 int64_t y_stride) {
  const auto* wb = static_cast<const Block*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / 32; ++b) {
    int8_t q[32];
    unpack(wb[b], q);
    const float dw = block_scale(wb[b]);
    for (int r = 0; r < n_act; ++r) {
      const ActBlock32& a = act_row<ActBlock32>(act, act_stride, r)[b];
      int32_t sum = 0;
      for (int i = 0; i < 32; ++i) sum += q[i] * a.qs[i];
      acc[r] = std::fma(static_cast<float>(sum), dw * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// --- 256-value super-blocks against Q8_K activations -----------------------

// Q4_K and Q5_K: value = d * sc_j * q - dmin * m_j in sub-block j of 32.
// dot = da * (d * sum_j sc_j * (q . a)_j - dmin * sum_j m_j * sum(a)_j).
template <bool kFive, class Block>
void dot_q45k(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
              int64_t y_stride) {
  const auto* wb = static_cast<const Block*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    uint8_t sc[8], mn[8];
    unpack_q4k_scales(wb[b].scales, sc, mn);
    uint8_t q[QK_K];
    for (int j = 0; j < 8; ++j) {
      for (int l = 0; l < 32; ++l) {
        const uint8_t byte = wb[b].qs[(j / 2) * 32 + l];
        int v = (j % 2) ? byte >> 4 : byte & 0xF;
        if constexpr (kFive) v |= ((wb[b].qh[l] >> j) & 1) << 4;
        q[j * 32 + l] = static_cast<uint8_t>(v);
      }
    }
    const float d = fp16_to_f32(wb[b].d), dmin = fp16_to_f32(wb[b].dmin);
    for (int r = 0; r < n_act; ++r) {
      const BlockQ8_K& a = act_row<BlockQ8_K>(act, act_stride, r)[b];
      int32_t isum = 0, msum = 0;
      for (int j = 0; j < 8; ++j) {
        int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += q[j * 32 + l] * a.qs[j * 32 + l];
        isum += sc[j] * s;
        msum += mn[j] * (a.bsums[2 * j] + a.bsums[2 * j + 1]);
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
      acc[r] = std::fma(-static_cast<float>(msum), dmin * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// The 2-bit codes of Q2_K and Q3_K: value e in byte (e / 128) * 32 + e % 32
// of qs, at bit 2 * ((e % 128) / 32).
uint8_t two_bit_code(const uint8_t* qs, int e) {
  return static_cast<uint8_t>((qs[(e / 128) * 32 + e % 32] >> (2 * ((e % 128) / 32))) & 3);
}

// The sixteen 16-value integer dot products of a super-block's unpacked
// codes with its activation block (the k-quants with scales per 16).
void sums16(const uint8_t* q, const BlockQ8_K& a, int32_t s[16]) {
  for (int k = 0; k < 16; ++k) {
    s[k] = 0;
    for (int l = 0; l < 16; ++l) s[k] += q[k * 16 + l] * a.qs[k * 16 + l];
  }
}

// Q2_K: value = d * sc_k * q - dmin * m_k in sub-block k of 16, q in 0..3.
// dot = da * (d * sum_k sc_k * (q . a)_k - dmin * sum_k m_k * sum(a)_k).
void dot_q2k(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
             int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockQ2_K*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    uint8_t q[QK_K];
    for (int e = 0; e < QK_K; ++e) q[e] = two_bit_code(wb[b].qs, e);
    const float d = fp16_to_f32(wb[b].d), dmin = fp16_to_f32(wb[b].dmin);
    for (int r = 0; r < n_act; ++r) {
      const BlockQ8_K& a = act_row<BlockQ8_K>(act, act_stride, r)[b];
      int32_t s[16], isum = 0, msum = 0;
      sums16(q, a, s);
      for (int k = 0; k < 16; ++k) {
        isum += (wb[b].scales[k] & 0xF) * s[k];
        msum += (wb[b].scales[k] >> 4) * a.bsums[k];
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
      acc[r] = std::fma(-static_cast<float>(msum), dmin * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// Q3_K: value = d * sc_k * (q - 4) in sub-block k of 16, q in 0..7 (the
// 2-bit code and, above it, bit e / 32 of hmask[e % 32]), sc_k in -32..31.
void dot_q3k(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
             int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockQ3_K*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    uint8_t q[QK_K];
    for (int e = 0; e < QK_K; ++e)
      q[e] = static_cast<uint8_t>(two_bit_code(wb[b].qs, e) | (((wb[b].hmask[e % 32] >> (e / 32)) & 1) << 2));
    int8_t sc[16];
    unpack_q3k_scales(wb[b].scales, sc);
    const float d = fp16_to_f32(wb[b].d);
    for (int r = 0; r < n_act; ++r) {
      const BlockQ8_K& a = act_row<BlockQ8_K>(act, act_stride, r)[b];
      int32_t s[16], isum = 0;
      sums16(q, a, s);
      for (int k = 0; k < 16; ++k) isum += sc[k] * (s[k] - 4 * a.bsums[k]);
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// Q6_K: value = d * sc[e / 16] * (q - 32), q in 0..63.
void dot_q6k(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
             int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockQ6_K*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    uint8_t q[QK_K];
    for (int half = 0; half < 2; ++half) {
      const uint8_t* ql = wb[b].ql + 64 * half;
      const uint8_t* qh = wb[b].qh + 32 * half;
      uint8_t* o = q + 128 * half;
      for (int l = 0; l < 32; ++l) {
        o[l] = static_cast<uint8_t>((ql[l] & 0xF) | ((qh[l] & 3) << 4));
        o[l + 32] = static_cast<uint8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4));
        o[l + 64] = static_cast<uint8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4));
        o[l + 96] = static_cast<uint8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4));
      }
    }
    const float d = fp16_to_f32(wb[b].d);
    for (int r = 0; r < n_act; ++r) {
      const BlockQ8_K& a = act_row<BlockQ8_K>(act, act_stride, r)[b];
      int32_t s[16], isum = 0;
      sums16(q, a, s);
      for (int k = 0; k < 16; ++k) isum += wb[b].scales[k] * (s[k] - 32 * a.bsums[k]);
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// IQ4_XS: value = d * scale_j * codebook[q] in sub-block j of 32.
void dot_iq4xs(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
               int64_t y_stride) {
  const auto* wb = static_cast<const quant::BlockIQ4_XS*>(w);
  float acc[kMaxActRows] = {};
  for (int64_t b = 0; b < n_in / QK_K; ++b) {
    int8_t q[QK_K];
    for (int j = 0; j < 8; ++j) {
      for (int l = 0; l < 16; ++l) {
        q[j * 32 + l] = quant::kIQ4NLValues[wb[b].qs[j * 16 + l] & 0xF];
        q[j * 32 + l + 16] = quant::kIQ4NLValues[wb[b].qs[j * 16 + l] >> 4];
      }
    }
    const float d = fp16_to_f32(wb[b].d);
    for (int r = 0; r < n_act; ++r) {
      const BlockQ8_K& a = act_row<BlockQ8_K>(act, act_stride, r)[b];
      int32_t isum = 0;
      for (int j = 0; j < 8; ++j) {
        int32_t s = 0;
        for (int l = 0; l < 32; ++l) s += q[j * 32 + l] * a.qs[j * 32 + l];
        isum += iq4xs_scale(wb[b], j) * s;
      }
      acc[r] = std::fma(static_cast<float>(isum), d * a.d, acc[r]);
    }
  }
  for (int r = 0; r < n_act; ++r) y[r * y_stride] = acc[r];
}

// --- float weights ----------------------------------------------------------

float load(const float* p, int64_t i) { return p[i]; }
struct F16Bits { uint16_t bits; };
struct BF16Bits { uint16_t bits; };
float load(const F16Bits* p, int64_t i) { return fp16_to_f32(p[i].bits); }
float load(const BF16Bits* p, int64_t i) { return bf16_to_f32(p[i].bits); }

// Weight element type W against activation element type A (f32 rows, or
// bf16 rows for bf16 weights).
template <class W, class A>
void dot_float(const void* w, const void* act, size_t act_stride, int n_act, int64_t n_in, float* y,
               int64_t y_stride) {
  const auto* wp = static_cast<const W*>(w);
  for (int r = 0; r < n_act; ++r) {
    const A* a = act_row<A>(act, act_stride, r);
    float acc = 0;
    for (int64_t i = 0; i < n_in; ++i) acc += load(wp, i) * load(a, i);
    y[r * y_stride] = acc;
  }
}

const TypeKernel kQ8_0{ActFormat::kQ8_32, dot_block32<quant::BlockQ8_0>};
const TypeKernel kQ4_0{ActFormat::kQ8_32, dot_block32<quant::BlockQ4_0>};
const TypeKernel kQ5_0{ActFormat::kQ8_32, dot_block32<quant::BlockQ5_0>};
const TypeKernel kIQ4_NL{ActFormat::kQ8_32, dot_block32<quant::BlockIQ4_NL>};
const TypeKernel kMXFP4{ActFormat::kQ8_32, dot_block32<quant::BlockMXFP4>};
const TypeKernel kQ2_K{ActFormat::kQ8_K, dot_q2k};
const TypeKernel kQ3_K{ActFormat::kQ8_K, dot_q3k};
const TypeKernel kQ4_K{ActFormat::kQ8_K, dot_q45k<false, quant::BlockQ4_K>};
const TypeKernel kQ5_K{ActFormat::kQ8_K, dot_q45k<true, quant::BlockQ5_K>};
const TypeKernel kQ6_K{ActFormat::kQ8_K, dot_q6k};
const TypeKernel kIQ4_XS{ActFormat::kQ8_K, dot_iq4xs};
const TypeKernel kF32{ActFormat::kF32, dot_float<float, float>};
const TypeKernel kF16{ActFormat::kF32, dot_float<F16Bits, float>};
const TypeKernel kBF16{ActFormat::kBF16, dot_float<BF16Bits, BF16Bits>};

}  // namespace

const TypeKernel* scalar_kernel(TensorType t) {
  switch (t) {
    case TensorType::Q8_0: return &kQ8_0;
    case TensorType::Q4_0: return &kQ4_0;
    case TensorType::Q5_0: return &kQ5_0;
    case TensorType::IQ4_NL: return &kIQ4_NL;
    case TensorType::MXFP4: return &kMXFP4;
    case TensorType::Q2_K: return &kQ2_K;
    case TensorType::Q3_K: return &kQ3_K;
    case TensorType::Q4_K: return &kQ4_K;
    case TensorType::Q5_K: return &kQ5_K;
    case TensorType::Q6_K: return &kQ6_K;
    case TensorType::IQ4_XS: return &kIQ4_XS;
    case TensorType::F32: return &kF32;
    case TensorType::F16: return &kF16;
    case TensorType::BF16: return &kBF16;
    default: return iq_scalar_kernel(t);
  }
}

}  // namespace frugal::kernels
