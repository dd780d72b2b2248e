// Collects an importance matrix while a model runs: for every weight matrix
// of the model file (each expert of a stacked expert tensor on its own), the
// sum of each input column's squared activation over the rows that reached
// it, and the count of those rows. Installed as the matmul observer for its
// lifetime; products over slices of a matrix's rows count once (the slice
// that starts at the matrix's first row), products over memory that is not a
// matrix of the file (scratch, repacked copies) are not counted.
#pragma once
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "kernels/matmul_observer.h"
#include "model/model.h"
#include "quant/imatrix_file.h"

namespace frugal::runtime {

class ImatrixCollector : public kernels::MatmulObserver {
 public:
  explicit ImatrixCollector(const model::Model& m);
  ~ImatrixCollector() override;
  ImatrixCollector(const ImatrixCollector&) = delete;
  ImatrixCollector& operator=(const ImatrixCollector&) = delete;

  void observe(const kernels::WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows) override;

  // The statistics so far, of the tensors at least one row reached.
  quant::Imatrix result() const;

 private:
  struct Tensor {
    std::string name;
    int64_t n_in = 0, n_mat = 1;
    std::vector<double> sum2;    // n_mat * n_in
    std::vector<int64_t> count;  // n_mat
  };
  struct Where {
    size_t tensor;
    int64_t mat;
  };
  std::vector<Tensor> tensors_;
  std::unordered_map<const void*, Where> starts_;  // each matrix's first byte; fixed after construction
  mutable std::mutex mu_;                          // guards the sums and counts
};

}  // namespace frugal::runtime
