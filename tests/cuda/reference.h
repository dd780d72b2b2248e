// The references the CUDA tests compare with: double-precision products of
// weights dequantised by src/quant's scalar code, and the magnitude that
// bounds an f32 sum's rounding error, shared by the host tests and the
// device check.
#pragma once
#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda/block_types.h"
#include "cuda/matvec_row.h"
#include "gguf/tensor_type.h"
#include "kernels/quantize_activations.h"
#include "quant/quant.h"

namespace frugal::cuda::test {

// Relative to products_magnitude: f32 sums of a few hundred terms in units
// of 16 stay well inside it (about 50 roundings of 2^-24 each).
inline constexpr double kProductTolerance = 1e-5;

struct Products {
  std::vector<double> value;      // batch x rows: sum_i w[r][i] x[b][i] in double
  std::vector<double> magnitude;  // batch x rows: sum_i (|d q_i| + |m|) |x[b][i]| (|w x| for float rows)
};

// The weights' f32 values as quant::dequantize_rows gives them.
inline std::vector<float> dequantized(TensorType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n) {
  std::vector<float> out(static_cast<size_t>(rows * n));
  quant::dequantize_rows(t, w.data(), out.data(), rows, n);
  return out;
}

// Of W (rows x n of type t) with x (batch x n f32); y[b][r] at b * rows + r.
inline Products reference_products(TensorType t, const std::vector<uint8_t>& w, int64_t rows, int64_t n,
                                   const std::vector<float>& x, int batch) {
  const std::vector<float> wf = dequantized(t, w, rows, n);
  Products p;
  p.value.assign(static_cast<size_t>(batch * rows), 0.0);
  p.magnitude.assign(p.value.size(), 0.0);
  // Per value, |d q| + |m| for the quantised types, |w| for the float rows.
  std::vector<double> size(wf.size());
  BlockTypes::visit(t, [&](auto tag) {
    using Codec = BlockCodec<typename decltype(tag)::type>;
    for (size_t i = 0; i < wf.size(); ++i) size[i] = std::fabs(wf[i]);
    if constexpr (Codec::kInt8Codes) {
      const auto* blocks = reinterpret_cast<const typename decltype(tag)::type*>(w.data());
      for (size_t g = 0; g < wf.size() / kUnitValues; ++g) {
        DecodedUnit unit;
        Codec::decode_unit(blocks[g / Codec::kUnits], static_cast<int>(g % Codec::kUnits), unit);
        for (int i = 0; i < kUnitValues; ++i) {
          size[g * kUnitValues + i] = std::fabs(double{unit.d} * unit.q[i]) + std::fabs(double{unit.m});
        }
      }
    }
  });
  for (int b = 0; b < batch; ++b) {
    for (int64_t r = 0; r < rows; ++r) {
      double v = 0, m = 0;
      for (int64_t i = 0; i < n; ++i) {
        v += double{wf[r * n + i]} * x[b * n + i];
        m += size[r * n + i] * std::fabs(double{x[b * n + i]});
      }
      p.value[b * rows + r] = v;
      p.magnitude[b * rows + r] = m;
    }
  }
  return p;
}

// x (batch x n) as the int8 path sees it: quantised by the CPU's
// quantize_act_q8_32, then d * q back in f32 (exact).
inline std::vector<float> int8_activations(const std::vector<float>& x, int batch, int64_t n) {
  std::vector<kernels::ActBlock32> blocks(static_cast<size_t>(batch * n / 32));
  kernels::quantize_act_q8_32(x.data(), blocks.data(), batch * n);
  std::vector<float> out(x.size());
  for (size_t i = 0; i < out.size(); ++i) out[i] = blocks[i / 32].d * blocks[i / 32].qs[i % 32];
  return out;
}

}  // namespace frugal::cuda::test
