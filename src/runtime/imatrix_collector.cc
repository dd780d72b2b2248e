#include "runtime/imatrix_collector.h"

#include "gguf/tensor_type.h"

namespace frugal::runtime {

ImatrixCollector::ImatrixCollector(const model::Model& m) {
  for (const gguf::TensorInfo& t : m.file().tensors()) {
    if (t.shape.size() < 2 || t.shape.size() > 3 || !t.data) continue;
    Tensor x;
    x.name = t.name;
    x.n_in = static_cast<int64_t>(t.shape[0]);
    x.n_mat = t.shape.size() == 3 ? static_cast<int64_t>(t.shape[2]) : 1;
    x.sum2.assign(static_cast<size_t>(x.n_in * x.n_mat), 0.0);
    x.count.assign(static_cast<size_t>(x.n_mat), 0);
    const uint64_t mat_bytes = t.n_bytes / static_cast<uint64_t>(x.n_mat);
    for (int64_t k = 0; k < x.n_mat; ++k) starts_[t.data + static_cast<uint64_t>(k) * mat_bytes] = {tensors_.size(), k};
    tensors_.push_back(std::move(x));
  }
  kernels::set_matmul_observer(this);
}

ImatrixCollector::~ImatrixCollector() { kernels::set_matmul_observer(nullptr); }

void ImatrixCollector::observe(const kernels::WeightMatrix& W, const float* X, int64_t ldx, int64_t n_rows) {
  const auto it = starts_.find(W.data);
  if (it == starts_.end() || !X || n_rows <= 0) return;
  Tensor& t = tensors_[it->second.tensor];
  if (W.n_in != t.n_in) return;  // not this matrix's product (a view of other shape)
  double* sum2 = t.sum2.data() + it->second.mat * t.n_in;
  std::lock_guard<std::mutex> lock(mu_);
  for (int64_t r = 0; r < n_rows; ++r) {
    const float* x = X + r * ldx;
    for (int64_t j = 0; j < t.n_in; ++j) sum2[j] += static_cast<double>(x[j]) * x[j];
  }
  t.count[static_cast<size_t>(it->second.mat)] += n_rows;
}

quant::Imatrix ImatrixCollector::result() const {
  std::lock_guard<std::mutex> lock(mu_);
  quant::Imatrix m;
  for (const Tensor& t : tensors_) {
    int64_t total = 0;
    for (int64_t c : t.count) total += c;
    if (total == 0) continue;
    quant::ImatrixEntry e{.n_in = t.n_in, .n_mat = t.n_mat, .in_sum2 = {}, .counts = {}};
    e.in_sum2.assign(t.sum2.begin(), t.sum2.end());
    e.counts.assign(t.count.begin(), t.count.end());
    m.entries.emplace(t.name, std::move(e));
  }
  return m;
}

}  // namespace frugal::runtime
