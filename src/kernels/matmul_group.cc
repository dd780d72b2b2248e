// matmul_group(): several matrices over one set of input rows in one
// parallel region. Decoding runs about ten such regions a layer; each ends
// when its slowest task does, so folding q, k and v into one saves two
// waits a layer (and two encodings of the same rows).
#include <algorithm>
#include <vector>

#include "base/error.h"
#include "kernels/ffn.h"
#include "kernels/matmul.h"
#include "quant/repack.h"

namespace frugal::kernels {

void matmul_group(std::span<const MatmulOut> outs, const float* X, int64_t ldx, int64_t n_rows, ThreadPool* pool) {
  const size_t n = outs.size();
  if (n == 0 || n_rows == 0) return;
  // One encoding per weight type (and input width); matrices of a type share it.
  std::vector<EncodedRows> enc(n);
  std::vector<size_t> enc_of(n);
  for (size_t i = 0; i < n; ++i) {
    const WeightMatrix& W = outs[i].W;
    enc_of[i] = i;
    for (size_t j = 0; j < i; ++j)
      if (outs[j].W.type == W.type && outs[j].W.n_in == W.n_in) {
        enc_of[i] = enc_of[j];
        break;
      }
    if (enc_of[i] == i) enc[i].encode(W.type, X, ldx, n_rows, W.n_in);
  }
  // Tasks: slices of each matrix's rows, about four per thread over the
  // whole group, in proportion to each matrix's bytes. Slices start on
  // 64-row boundaries (whole row groups of the interleaved types, whole
  // tiles of the prompt kernels), as matmul()'s own chunks do.
  struct Task {
    size_t out;
    int64_t begin, end;
  };
  const int n_threads = pool ? pool->size() : 1;
  double total = 0;
  for (const MatmulOut& o : outs) total += static_cast<double>(o.W.n_out) * static_cast<double>(o.W.n_in);
  std::vector<Task> tasks;
  for (size_t i = 0; i < n; ++i) {
    const WeightMatrix& W = outs[i].W;
    if (W.n_out == 0) continue;
    const int64_t unit = std::max<int64_t>(64, quant::interleaved_rows(W.type));
    const double share = static_cast<double>(W.n_out) * static_cast<double>(W.n_in) / total;
    const int64_t want = std::max<int64_t>(1, static_cast<int64_t>(share * 4 * n_threads + 0.5));
    const int64_t step = std::max<int64_t>(unit, (W.n_out / want + unit - 1) / unit * unit);
    for (int64_t b = 0; b < W.n_out; b += step) tasks.push_back({i, b, std::min(W.n_out, b + step)});
  }
  auto run = [&](int64_t t, int) {
    const Task& task = tasks[static_cast<size_t>(t)];
    const MatmulOut& o = outs[task.out];
    matmul_encoded(weight_rows(o.W, task.begin, task.end), enc[enc_of[task.out]], o.Y + task.begin, o.ldy, nullptr);
  };
  const int64_t n_tasks = static_cast<int64_t>(tasks.size());
  // Below 64K multiply-adds the dispatch costs more than it saves (as in matmul()).
  if (pool && pool->size() > 1 && n_tasks > 1 && total * static_cast<double>(n_rows) >= 64 * 1024) {
    pool->run(n_tasks, run);
  } else {
    for (int64_t t = 0; t < n_tasks; ++t) run(t, 0);
  }
}

}  // namespace frugal::kernels
