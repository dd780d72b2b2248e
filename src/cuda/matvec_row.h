// One output row of a matrix product on quantised weights: the dot products
// of a weight row (blocks of one type, block_decode.h) with 1..kMaxBatch
// activation rows, written once for the kernels and the host reference.
// Each 16-value unit of the weight row is decoded once and multiplied with
// every activation row, so the weights are read once per batch. A row is a
// sequence of units; row_dot_partial(…, lane, lanes, …) sums units lane,
// lane + lanes, … so that a warp's 32 lanes share a row and the host
// reference is the same call with one lane.
//
// Two accumulations:
//   f32   the activations as f32; each unit gives d * sum(q x) - m * sum(x)
//         (the float rows: sum(w x))
//   int8  the activations as int8 blocks of 32 with an f32 scale (the CPU
//         path's ActBlock32, kernels/quantize_activations.h, bit for bit);
//         sum(q qa) and sum(qa) per unit in exact integers through dp4a,
//         then da * (d * sum(q qa) - m * sum(qa)) in f32. Quantised types only.
#pragma once
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "cuda/block_decode.h"

// Fully unrolled loops over the batch keep the per-row sums in registers.
// nvcc's host pass (__CUDACC__ without __CUDA_ARCH__) takes neither pragma.
#if defined(__CUDA_ARCH__)
#define FRUGAL_UNROLL _Pragma("unroll")
#elif defined(__CUDACC__)
#define FRUGAL_UNROLL
#else
#define FRUGAL_UNROLL _Pragma("GCC unroll 8")
#endif

namespace frugal::cuda {

inline constexpr int kMaxBatch = 8;
inline constexpr int kActBlockValues = 32;

// Layout of kernels::ActBlock32: value = d * qs[i].
struct ActBlockQ8 {
  float d;
  int8_t qs[kActBlockValues];
};
static_assert(sizeof(ActBlockQ8) == 36);

// 32 activations to int8 with the symmetric scale max|x| / 127, rounded to
// nearest even: the arithmetic of kernels::quantize_act_q8_32.
FRUGAL_HD void quantize_act_block(const float* x, ActBlockQ8& out) {
  float amax = 0.0f;
  for (int i = 0; i < kActBlockValues; ++i) amax = fmaxf(amax, fabsf(x[i]));
  const float d = amax / 127.0f;
  const float id = d > 0.0f ? 1.0f / d : 0.0f;
  out.d = d;
  for (int i = 0; i < kActBlockValues; ++i) {
#if defined(__CUDA_ARCH__)
    const float v = nearbyintf(__fmul_rn(x[i], id));
#else
    const float v = std::nearbyint(x[i] * id);
#endif
    out.qs[i] = static_cast<int8_t>(fminf(127.0f, fmaxf(-127.0f, v)));
  }
}

// Activation rows as the kernels take them: row b starts at data + b * stride
// (stride in elements of Act: floats, or ActBlockQ8 blocks).
template <class Act>
struct ActRows {
  const Act* data;
  int64_t stride;
  int batch;  // 1..kMaxBatch
};

// A decoded unit of float-row weights: the values themselves.
struct FloatUnit {
  float w[kUnitValues];
};

template <class Block>
FRUGAL_HD void decode(const Block& b, int u, DecodedUnit& out) {
  BlockCodec<Block>::decode_unit(b, u, out);
}
template <class Block>
FRUGAL_HD void decode(const Block& b, int u, FloatUnit& out) {
  BlockCodec<Block>::decode_values(b, u, out.w);
}

// One unit's dot product with 16 f32 activations.
FRUGAL_HD float dot16(const DecodedUnit& unit, const float* xs) {
  float qx = 0.0f, sx = 0.0f;
  for (int i = 0; i < kUnitValues; ++i) {
    qx += static_cast<float>(unit.q[i]) * xs[i];
    sx += xs[i];
  }
  return unit.d * qx - unit.m * sx;
}
FRUGAL_HD float dot16(const FloatUnit& unit, const float* xs) {
  float s = 0.0f;
  for (int i = 0; i < kUnitValues; ++i) s += unit.w[i] * xs[i];
  return s;
}

// Weight unit g (global index in the row) times every f32 activation row.
template <class Block>
FRUGAL_HD void unit_dot(const Block* row, int64_t g, const ActRows<float>& x, float* sums) {
  using Codec = BlockCodec<Block>;
  std::conditional_t<Codec::kInt8Codes, DecodedUnit, FloatUnit> unit;
  decode(row[g / Codec::kUnits], static_cast<int>(g % Codec::kUnits), unit);
  FRUGAL_UNROLL
  for (int r = 0; r < kMaxBatch; ++r) {
    if (r >= x.batch) break;
    float xs[kUnitValues];
    load16_f32(x.data + r * x.stride + g * kUnitValues, xs);
    sums[r] += dot16(unit, xs);
  }
}

// Weight unit g times every int8 activation row (quantised weights only).
template <class Block>
FRUGAL_HD void unit_dot(const Block* row, int64_t g, const ActRows<ActBlockQ8>& x, float* sums) {
  using Codec = BlockCodec<Block>;
  static_assert(Codec::kInt8Codes, "the int8 product needs int8 weight codes");
  DecodedUnit unit;
  Codec::decode_unit(row[g / Codec::kUnits], static_cast<int>(g % Codec::kUnits), unit);
  int packed_q[kUnitValues / 4];
  for (int i = 0; i < kUnitValues / 4; ++i) packed_q[i] = pack4_i8(unit.q + 4 * i);
  FRUGAL_UNROLL
  for (int r = 0; r < kMaxBatch; ++r) {
    if (r >= x.batch) break;
    const ActBlockQ8& a = x.data[r * x.stride + g / 2];
    const int8_t* qa = a.qs + kUnitValues * (g % 2);
    int sum_qa = 0, sum_a = 0;
    for (int i = 0; i < kUnitValues / 4; ++i) {
      const int packed_a = load4_i8(qa + 4 * i);  // 4-byte aligned: 36-byte blocks, codes at 4
      sum_qa = dot4_i8(packed_q[i], packed_a, sum_qa);
      sum_a = dot4_i8(0x01010101, packed_a, sum_a);
    }
    sums[r] += a.d * (unit.d * static_cast<float>(sum_qa) - unit.m * static_cast<float>(sum_a));
  }
}

// Adds lane `lane`'s share (of `lanes`) of one weight row's dot products
// with every activation row to sums[0 .. x.batch).
template <class Block, class Act>
FRUGAL_HD void row_dot_partial(const Block* row, const ActRows<Act>& x, int64_t n_in, int lane, int lanes,
                               float* sums) {
  const int64_t n_units = n_in / kUnitValues;
  for (int64_t g = lane; g < n_units; g += lanes) unit_dot(row, g, x, sums);
}

}  // namespace frugal::cuda
