#include "runtime/perplexity.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace frugal::runtime {

ChunkPlan plan_chunks(size_t n_tokens, int n_ctx, int max_chunks) {
  if (n_ctx < 4) fail("perplexity: the context must be at least 4 tokens (got ", n_ctx, ")");
  if (n_tokens < 2 * static_cast<size_t>(n_ctx))
    fail("perplexity: the text is ", n_tokens, " tokens; a context of ", n_ctx, " needs at least ", 2 * n_ctx,
         " (two chunks)");
  ChunkPlan p;
  p.n_ctx = n_ctx;
  p.n_chunk = static_cast<int>(n_tokens / static_cast<size_t>(n_ctx));
  if (max_chunks > 0) p.n_chunk = std::min(p.n_chunk, max_chunks);
  p.first = n_ctx / 2;
  return p;
}

void evaluate_chunks(Engine& engine, const ChunkPlan& plan, std::span<const int32_t> tokens, int32_t bos, int c0,
                     int n, std::vector<float>& scored_logits) {
  const int n_ctx = plan.n_ctx;
  std::vector<BatchRow> rows;
  rows.reserve(static_cast<size_t>(n) * static_cast<size_t>(n_ctx));
  for (int s = 0; s < n; ++s) {
    engine.clear_sequence(s);
    const size_t start = static_cast<size_t>(c0 + s) * static_cast<size_t>(n_ctx);
    for (int k = 0; k < n_ctx; ++k) {
      const int32_t tok = (k == 0 && bos >= 0) ? bos : tokens[start + static_cast<size_t>(k)];
      // Logits of the last position predict a token outside the chunk: not wanted.
      rows.push_back({s, k, tok, k >= plan.first && k < n_ctx - 1});
    }
  }
  engine.forward(rows, scored_logits);
}

RowScore score_row(std::span<const float> logits) {
  RowScore r;
  float mx = logits[0];
  for (size_t i = 1; i < logits.size(); ++i)
    if (logits[i] > mx) {
      mx = logits[i];
      r.top = static_cast<int32_t>(i);
    }
  double sum = 0;
  for (float v : logits) sum += std::exp(static_cast<double>(v) - mx);
  r.log_sum_exp = mx + std::log(sum);
  return r;
}

MeanError mean_and_error(double sum, double sum2, size_t count) {
  MeanError m;
  if (count == 0) return m;
  const double n = static_cast<double>(count);
  m.mean = sum / n;
  const double var = sum2 / n - m.mean * m.mean;
  if (count > 1 && var > 0) m.error = std::sqrt(var / (n - 1));
  return m;
}

double NllStats::ppl() const { return std::exp(mean_and_error(sum, sum2, count).mean); }

double NllStats::ppl_error() const {
  const MeanError m = mean_and_error(sum, sum2, count);
  return std::exp(m.mean) * m.error;
}

double percentile(std::span<const double> sorted, double fraction) {
  if (sorted.empty()) return 0;
  if (fraction <= 0) return sorted.front();
  if (fraction >= 1) return sorted.back();
  const double pos = fraction * static_cast<double>(sorted.size() - 1);
  const size_t i = static_cast<size_t>(pos);
  const double f = pos - static_cast<double>(i);
  const size_t j = std::min(i + 1, sorted.size() - 1);
  return (1 - f) * sorted[i] + f * sorted[j];
}

}  // namespace frugal::runtime
