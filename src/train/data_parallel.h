// Data-parallel training as the trainer sees it: N processes (ranks) train
// one model, each computing the gradients of its own share of every
// micro-batch; sum() adds an array over the ranks so that every rank takes
// the same optimizer step. The implementation over MPI is in src/dist/.
#pragma once
#include <cstddef>
#include <cstdint>

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

  // The same sum without waiting for it: start_sum returns at once (data
  // must stay in place, untouched, until the wait), wait_sums(h) returns when
  // every sum started up to the one h names has landed in its data, with the
  // bits sum() gives. Every rank starts the same sums in the same order.
  // progress() lets sums under way move on (MPI moves a nonblocking
  // collective only while the process is inside an MPI call): call it
  // between pieces of other work. Without a transport of its own a group
  // sums at once.
  using SumHandle = int64_t;
  virtual SumHandle start_sum(float* data, size_t n) {
    sum(data, n);
    return 0;
  }
  virtual void wait_sums(SumHandle) {}
  virtual void progress() {}
};

}  // namespace frugal::train
