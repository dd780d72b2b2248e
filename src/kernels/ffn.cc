#include "kernels/ffn.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "base/error.h"
#include "kernels/glu.h"
#include "kernels/ops.h"
#include "quant/repack.h"

namespace frugal::kernels {

WeightMatrix weight_rows(const WeightMatrix& W, int64_t begin, int64_t end) {
  FRUGAL_CHECK(begin >= 0 && begin <= end && end <= W.n_out);
  // Row-interleaved matrices split only between their 16-row groups.
  const int64_t group = quant::interleaved_rows(W.type);
  FRUGAL_CHECK(begin % group == 0 && (end % group == 0 || end == W.n_out));
  const size_t rb = row_bytes(W.type, static_cast<uint64_t>(W.n_in));
  WeightMatrix s = W;
  s.data = static_cast<const uint8_t*>(W.data) + static_cast<size_t>(begin) * rb;
  s.n_out = end - begin;
  return s;
}

void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end,
                  const EncodedRows& x_gate, const EncodedRows& x_up, float* H, int64_t ldh, float* up_scratch) {
  swiglu_slice(gate, up, begin, end, x_gate, x_up, H, ldh, up_scratch, GluOptions{});
}

void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end,
                  const EncodedRows& x_gate, const EncodedRows& x_up, float* H, int64_t ldh, float* up_scratch,
                  const GluOptions& o) {
  const int64_t w = end - begin, n_rows = x_gate.n_rows();
  if (w <= 0 || n_rows <= 0) return;
  matmul_encoded(weight_rows(gate, begin, end), x_gate, H, ldh, nullptr);
  matmul_encoded(weight_rows(up, begin, end), x_up, up_scratch, w, nullptr);
  for (int64_t r = 0; r < n_rows; ++r) glu_row(H + r * ldh, up_scratch + r * w, begin, w, o);
}

void glu_row(float* h, float* u, int64_t begin, int64_t w, const GluOptions& o) {
  if (o.gate_bias) add(o.gate_bias + begin, h, w);
  if (o.up_bias) add(o.up_bias + begin, u, w);
  if (o.kind == GluKind::kSwigluOai) {
    swiglu_oai(h, u, h, w);
  } else if (o.limit >= 1e-6f) {
    for (int64_t i = 0; i < w; ++i) h[i] = std::min(silu(h[i]), o.limit) * std::clamp(u[i], -o.limit, o.limit);
  } else {
    swiglu(h, u, h, w);
  }
}

void swiglu_slice(const WeightMatrix& gate, const WeightMatrix& up, int64_t begin, int64_t end, const float* X,
                  int64_t ldx, int64_t n_rows, float* H, int64_t ldh, float* up_scratch) {
  if (end <= begin || n_rows <= 0) return;
  EncodedRows xg, xu;
  xg.encode(gate.type, X, ldx, n_rows, gate.n_in);
  if (up.type != gate.type) xu.encode(up.type, X, ldx, n_rows, up.n_in);
  swiglu_slice(gate, up, begin, end, xg, up.type != gate.type ? xu : xg, H, ldh, up_scratch);
}

void swiglu_reference(const WeightMatrix& gate, const WeightMatrix& up, const float* X, int64_t ldx,
                      int64_t n_rows, float* H, int64_t ldh) {
  const int64_t n = gate.n_out;
  std::vector<float> g(static_cast<size_t>(n_rows * n)), u(static_cast<size_t>(n_rows * n));
  matmul_reference(gate, X, ldx, n_rows, g.data(), n);
  matmul_reference(up, X, ldx, n_rows, u.data(), n);
  for (int64_t r = 0; r < n_rows; ++r)
    for (int64_t o = 0; o < n; ++o) {
      const double gv = g[r * n + o];
      H[r * ldh + o] = static_cast<float>(gv / (1.0 + std::exp(-gv)) * u[r * n + o]);
    }
}

}  // namespace frugal::kernels
