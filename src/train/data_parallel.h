// Data-parallel training as the trainer sees it: N processes (ranks) train
// one model, each computing the gradients of its own share of every
// micro-batch; sum() adds an array over the ranks so that every rank takes
// the same optimizer step. The implementation over MPI is in src/dist/.
#pragma once
#include <cstddef>

namespace frugal::train {

class GradientSum {
 public:
  virtual ~GradientSum() = default;
  virtual int rank() const = 0;
  virtual int n_ranks() const = 0;
  // data (n values): this rank's part; on return, the sum over all ranks,
  // added in rank order, the same bits on every rank. Every rank calls it
  // with the same n at the same point.
  virtual void sum(float* data, size_t n) = 0;
  virtual void sum(double* data, size_t n) = 0;
};

}  // namespace frugal::train
