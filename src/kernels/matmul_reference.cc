#include <vector>

#include "kernels/matmul.h"
#include "quant/repack.h"

namespace frugal::kernels {

void matmul_reference(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows, float* Y, int64_t ldy) {
  std::vector<float> row(static_cast<size_t>(W.n_in));
  for (int64_t o = 0; o < W.n_out; ++o) {
    quant::dequantize_matrix_row(W.type, W.data, o, W.n_in, row.data());
    for (int64_t r = 0; r < n_rows; ++r) {
      const float* x = X + r * ldx;
      double acc = 0;
      for (int64_t i = 0; i < W.n_in; ++i) acc += static_cast<double>(row[i]) * x[i];
      Y[r * ldy + o] = static_cast<float>(acc);
    }
  }
}

}  // namespace frugal::kernels
