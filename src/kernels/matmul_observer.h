// A hook that sees the f32 input rows of every matrix product, for
// `frugal imatrix` (the importance statistics of each weight matrix). Off, it
// costs one predictable branch per product: matmul_encoded() tests a global
// pointer.
#pragma once
#include <cstdint>

#include "kernels/matmul.h"

namespace frugal::kernels {

class MatmulObserver {
 public:
  virtual ~MatmulObserver() = default;
  // W: the matrix (or a slice of its output rows: the products of slices
  // split a matrix's rows; W.data tells where the slice starts). X: n_rows
  // input rows of W.n_in floats, row stride ldx.
  // REQUIRES: safe to call from many threads at once.
  virtual void observe(const WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows) = 0;
};

// Installs `o` for every thread (null: none).
// REQUIRES: no product runs while it changes; `o` outlives its installation.
void set_matmul_observer(MatmulObserver* o);

}  // namespace frugal::kernels
