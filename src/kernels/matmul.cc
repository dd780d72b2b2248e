#include <algorithm>
#include <vector>

#include "kernels/matmul.h"
#include "quant/quant.h"

namespace frugal::kernels {

// Portable path until the SIMD kernels land: each thread dequantises blocks of
// weight rows and multiplies them with every activation row, so each weight
// row is read once per call whatever the batch size.
void matmul(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy,
            ThreadPool* pool) {
  const size_t rb = row_bytes(W.type, static_cast<uint64_t>(W.n_in));
  auto body = [&](int64_t o_begin, int64_t o_end, int) {
    std::vector<float> row(static_cast<size_t>(W.n_in));
    for (int64_t o = o_begin; o < o_end; ++o) {
      const float* w = row.data();
      if (W.type == TensorType::F32) {
        w = reinterpret_cast<const float*>(static_cast<const uint8_t*>(W.data) + o * rb);
      } else {
        quant::dequantize_row(W.type, static_cast<const uint8_t*>(W.data) + o * rb, row.data(), W.n_in);
      }
      for (int64_t r = 0; r < n_rows; ++r) {
        const float* x = X + r * ldx;
        float acc = 0;
        for (int64_t i = 0; i < W.n_in; ++i) acc += w[i] * x[i];
        Y[r * ldy + o] = acc;
      }
    }
  };
  if (pool && pool->size() > 1 && W.n_out >= 16) {
    pool->parallel_for(W.n_out, 16, body);
  } else {
    body(0, W.n_out, 0);
  }
}

}  // namespace frugal::kernels
