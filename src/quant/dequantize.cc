// Scalar dequantisation of every supported block type, following the GGUF
// block definitions exactly (these are the reference the kernels test against).
#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/fp16.h"
#include "base/thread_pool.h"
#include "quant/blocks.h"
#include "quant/iq_blocks.h"
#include "quant/quant.h"

namespace frugal::quant {
namespace {

float h(uint16_t bits) { return fp16_to_f32(bits); }

void deq_q4_0(const BlockQ4_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_0) {
    const float d = h(b[i].d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      y[j] = ((b[i].qs[j] & 0x0F) - 8) * d;
      y[j + QK4_0 / 2] = ((b[i].qs[j] >> 4) - 8) * d;
    }
  }
}
void deq_q4_1(const BlockQ4_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_1) {
    const float d = h(b[i].d), m = h(b[i].m);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      y[j] = (b[i].qs[j] & 0x0F) * d + m;
      y[j + QK4_1 / 2] = (b[i].qs[j] >> 4) * d + m;
    }
  }
}
void deq_q5_0(const BlockQ5_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK5_0) {
    const float d = h(b[i].d);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < QK5_0 / 2; ++j) {
      const int x0 = (b[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int x1 = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      y[j] = (x0 - 16) * d;
      y[j + QK5_0 / 2] = (x1 - 16) * d;
    }
  }
}
void deq_q5_1(const BlockQ5_1* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK5_1) {
    const float d = h(b[i].d), m = h(b[i].m);
    uint32_t qh;
    std::memcpy(&qh, b[i].qh, 4);
    for (int j = 0; j < QK5_1 / 2; ++j) {
      const int x0 = (b[i].qs[j] & 0x0F) | (((qh >> j) & 1) << 4);
      const int x1 = (b[i].qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4);
      y[j] = x0 * d + m;
      y[j + QK5_1 / 2] = x1 * d + m;
    }
  }
}
void deq_q8_0(const BlockQ8_0* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK8_0) {
    const float d = h(b[i].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = b[i].qs[j] * d;
  }
}
void deq_q2_k(const BlockQ2_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d), dmin = h(b[i].dmin);
    const uint8_t* q = b[i].qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = b[i].scales[is++];
          const float dl = d * (sc & 0xF), ml = dmin * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
        shift += 2;
      }
      q += 32;
    }
  }
}
void deq_q3_k(const BlockQ3_K* b, float* y, int64_t nb) {
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  for (int64_t i = 0; i < nb; ++i) {
    const float d_all = h(b[i].d);
    const uint8_t* q = b[i].qs;
    const uint8_t* hm = b[i].hmask;
    uint8_t m = 1;
    uint32_t aux[4];
    std::memcpy(aux, b[i].scales, 12);
    const uint32_t tmp = aux[2];
    aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
    aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
    aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
    aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
    int8_t scales[16];
    std::memcpy(scales, aux, 16);
    int is = 0;
    for (int n = 0; n < QK_K; n += 128) {
      int shift = 0;
      for (int j = 0; j < 4; ++j) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * (scales[is++] - 32);
          for (int l = 0; l < 16; ++l) {
            const int k = l + 16 * half;
            *y++ = dl * (static_cast<int8_t>((q[k] >> shift) & 3) - ((hm[k] & m) ? 0 : 4));
          }
        }
        shift += 2;
        m <<= 1;
      }
      q += 32;
    }
  }
}
void deq_q4_k(const BlockQ4_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d), dmin = h(b[i].dmin);
    const uint8_t* q = b[i].qs;
    int is = 0;
    for (int j = 0; j < QK_K; j += 64) {
      uint8_t sc, m;
      scale_min_k4(is, b[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(is + 1, b[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
      q += 32;
      is += 2;
    }
  }
}
void deq_q5_k(const BlockQ5_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d), dmin = h(b[i].dmin);
    const uint8_t* ql = b[i].qs;
    const uint8_t* qh = b[i].qh;
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64) {
      uint8_t sc, m;
      scale_min_k4(is, b[i].scales, sc, m);
      const float d1 = d * sc, m1 = dmin * m;
      scale_min_k4(is + 1, b[i].scales, sc, m);
      const float d2 = d * sc, m2 = dmin * m;
      for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + ((qh[l] & u1) ? 16 : 0)) - m1;
      for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + ((qh[l] & u2) ? 16 : 0)) - m2;
      ql += 32;
      is += 2;
      u1 <<= 2;
      u2 <<= 2;
    }
  }
}
void deq_q6_k(const BlockQ6_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d);
    const uint8_t* ql = b[i].ql;
    const uint8_t* qh = b[i].qh;
    const int8_t* sc = b[i].scales;
    for (int n = 0; n < QK_K; n += 128) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = static_cast<int8_t>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = static_cast<int8_t>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = static_cast<int8_t>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = static_cast<int8_t>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l] = d * sc[is] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
      y += 128;
      ql += 64;
      qh += 32;
      sc += 8;
    }
  }
}
void deq_q8_k(const BlockQ8_K* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i)
    for (int j = 0; j < QK_K; ++j) *y++ = b[i].d * b[i].qs[j];
}
void deq_iq4_nl(const BlockIQ4_NL* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK4_NL) {
    const float d = h(b[i].d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * kIQ4NLValues[b[i].qs[j] & 0xF];
      y[j + QK4_NL / 2] = d * kIQ4NLValues[b[i].qs[j] >> 4];
    }
  }
}
void deq_iq4_xs(const BlockIQ4_XS* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i) {
    const float d = h(b[i].d);
    const uint8_t* qs = b[i].qs;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const int ls = ((b[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xF) | (((b[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kIQ4NLValues[qs[j] & 0xF];
        y[j + 16] = dl * kIQ4NLValues[qs[j] >> 4];
      }
      y += 32;
      qs += 16;
    }
  }
}
void deq_mxfp4(const BlockMXFP4* b, float* y, int64_t nb) {
  for (int64_t i = 0; i < nb; ++i, y += QK_MXFP4) {
    const float d = mxfp4_scale(b[i].e);
    for (int j = 0; j < QK_MXFP4 / 2; ++j) {
      y[j] = d * kMXFP4Values[b[i].qs[j] & 0xF];
      y[j + QK_MXFP4 / 2] = d * kMXFP4Values[b[i].qs[j] >> 4];
    }
  }
}

}  // namespace

bool can_dequantize(TensorType t) {
  switch (t) {
    case TensorType::F32: case TensorType::F16: case TensorType::BF16:
    case TensorType::Q4_0: case TensorType::Q4_1: case TensorType::Q5_0: case TensorType::Q5_1:
    case TensorType::Q8_0: case TensorType::Q2_K: case TensorType::Q3_K: case TensorType::Q4_K:
    case TensorType::Q5_K: case TensorType::Q6_K: case TensorType::Q8_K:
    case TensorType::IQ4_NL: case TensorType::IQ4_XS: case TensorType::MXFP4:
    case TensorType::IQ2_XXS: case TensorType::IQ2_XS: case TensorType::IQ3_XXS:
    case TensorType::IQ2_S: case TensorType::IQ3_S: case TensorType::IQ1_S: case TensorType::IQ1_M:
      return true;
    default:
      return false;
  }
}

void dequantize_row(TensorType t, const void* src, float* y, int64_t n) {
  if (!can_dequantize(t)) fail("dequantize: unsupported tensor type ", tensor_type_name(t));
  if (n < 0) fail("dequantize: negative row length ", n);
  row_bytes(t, static_cast<uint64_t>(n));  // throws when n is not a multiple of the block
  const int64_t nb = n / tensor_type_info(t).block_size;
  switch (t) {
    case TensorType::F32: std::memcpy(y, src, static_cast<size_t>(n) * 4); return;
    case TensorType::F16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = fp16_to_f32(s[i]);
      return;
    }
    case TensorType::BF16: {
      const auto* s = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(s[i]);
      return;
    }
    case TensorType::Q4_0: return deq_q4_0(static_cast<const BlockQ4_0*>(src), y, nb);
    case TensorType::Q4_1: return deq_q4_1(static_cast<const BlockQ4_1*>(src), y, nb);
    case TensorType::Q5_0: return deq_q5_0(static_cast<const BlockQ5_0*>(src), y, nb);
    case TensorType::Q5_1: return deq_q5_1(static_cast<const BlockQ5_1*>(src), y, nb);
    case TensorType::Q8_0: return deq_q8_0(static_cast<const BlockQ8_0*>(src), y, nb);
    case TensorType::Q2_K: return deq_q2_k(static_cast<const BlockQ2_K*>(src), y, nb);
    case TensorType::Q3_K: return deq_q3_k(static_cast<const BlockQ3_K*>(src), y, nb);
    case TensorType::Q4_K: return deq_q4_k(static_cast<const BlockQ4_K*>(src), y, nb);
    case TensorType::Q5_K: return deq_q5_k(static_cast<const BlockQ5_K*>(src), y, nb);
    case TensorType::Q6_K: return deq_q6_k(static_cast<const BlockQ6_K*>(src), y, nb);
    case TensorType::Q8_K: return deq_q8_k(static_cast<const BlockQ8_K*>(src), y, nb);
    case TensorType::IQ4_NL: return deq_iq4_nl(static_cast<const BlockIQ4_NL*>(src), y, nb);
    case TensorType::IQ4_XS: return deq_iq4_xs(static_cast<const BlockIQ4_XS*>(src), y, nb);
    case TensorType::MXFP4: return deq_mxfp4(static_cast<const BlockMXFP4*>(src), y, nb);
    case TensorType::IQ2_XXS: return deq_iq2_xxs(static_cast<const BlockIQ2_XXS*>(src), y, nb);
    case TensorType::IQ2_XS: return deq_iq2_xs(static_cast<const BlockIQ2_XS*>(src), y, nb);
    case TensorType::IQ3_XXS: return deq_iq3_xxs(static_cast<const BlockIQ3_XXS*>(src), y, nb);
    case TensorType::IQ2_S: return deq_iq2_s(static_cast<const BlockIQ2_S*>(src), y, nb);
    case TensorType::IQ3_S: return deq_iq3_s(static_cast<const BlockIQ3_S*>(src), y, nb);
    case TensorType::IQ1_S: return deq_iq1_s(static_cast<const BlockIQ1_S*>(src), y, nb);
    case TensorType::IQ1_M: return deq_iq1_m(static_cast<const BlockIQ1_M*>(src), y, nb);
    default: fail("dequantize: unsupported tensor type ", tensor_type_name(t));
  }
}

void dequantize_rows(TensorType t, const void* src, float* dst, int64_t rows, int64_t n) {
  const size_t rb = row_bytes(t, static_cast<uint64_t>(n));
  const auto* s = static_cast<const uint8_t*>(src);
  ThreadPool::global().parallel_for(rows, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) dequantize_row(t, s + r * rb, dst + r * n, n);
  });
}

}  // namespace frugal::quant
