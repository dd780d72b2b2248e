// Slices of a SwiGLU feed-forward network, the unit of work the MoE layer
// hands to its threads. An FFN is h = silu(Wg x) * (Wu x), y = Wd h; each
// slice covers a range of output units, so many slices of many experts can
// run side by side in one parallel region (see model/forward_moe.cc), each
// calling the single-threaded matmul.
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace frugal::kernels {

// Rows [begin, end) of W as a matrix of their own (no copy).
WeightMatrix weight_rows(const WeightMatrix& W, int64_t begin, int64_t end);

// Gate and up fused with SiLU and the product, for output units
// [begin, end): H[r, o - begin] = silu(gate_o . x_r) * (up_o . x_r) for
// every encoded row r. x_gate / x_up: the input rows encoded for gate's and
// up's weight type (the same object when the types agree), once for all
// slices. The gate slice is written to H and the up slice to `up_scratch`
// (at least n_rows * (end - begin) floats), then combined while both are hot
// in cache. H: row stride ldh. Single-threaded.
void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end,
                  const EncodedRows& x_gate, const EncodedRows& x_up, float* H, int64_t ldh, float* up_scratch);

// The gated unit and optional biases of a slice: h = act(gate x + gate_bias,
// up x + up_bias), with act silu(g) * u or gpt-oss's clamped form
// (ops.h: swiglu_oai). The biases cover all units (indexed by unit, not by
// slice position); null: none.
enum class GluKind { kSilu, kSwigluOai };
struct GluOptions {
  GluKind kind = GluKind::kSilu;
  const float* gate_bias = nullptr;
  const float* up_bias = nullptr;
  // kSilu with limit > 0 (deepseek4): h = min(silu(g), limit) * clamp(u, -limit, limit).
  float limit = 0.0f;
};
void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end,
                  const EncodedRows& x_gate, const EncodedRows& x_up, float* H, int64_t ldh, float* up_scratch,
                  const GluOptions& options);

// The same from f32 rows X (row stride ldx), encoding them for this call.
void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end, const float* X,
                  int64_t ldx, int64_t n_rows, float* H, int64_t ldh, float* up_scratch);

// The same over all units, unfused and in double precision: matmul_reference
// for both projections, then silu(g) * u. Tests compare swiglu_slice to it.
void swiglu_reference(const WeightMatrix& gate, const WeightMatrix& up, const float* X, int64_t ldx,
                      int64_t n_rows, float* H, int64_t ldh);

}  // namespace frugal::kernels
