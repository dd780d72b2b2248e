#include "runtime/calibration.h"

#include <algorithm>

#include "base/progress.h"
#include "tokenizer/tokenizer.h"

namespace frugal::runtime {

namespace {
constexpr int kRowsPerBatch = 512;  // chunks share one forward pass up to this many rows
}  // namespace

CalibrationText calibration_text(const model::Model& model, const std::string& text, int n_ctx, int max_chunks) {
  const tokenizer::Tokenizer tok = tokenizer::Tokenizer::from_metadata(model.file().metadata());
  const bool add_bos = tok.add_bos_default() && tok.bos() >= 0;
  CalibrationText c;
  c.tokens = tok.encode(text, add_bos, /*parse_special=*/false);
  c.bos = add_bos ? tok.bos() : -1;
  const int ctx = n_ctx > 0 ? n_ctx : static_cast<int>(std::min<int64_t>(512, model.config().n_ctx_train));
  c.plan = plan_chunks(c.tokens.size(), ctx, max_chunks);
  return c;
}

std::unique_ptr<Engine> calibration_engine(const model::Model& model, const ChunkPlan& plan) {
  EngineOptions opts;
  opts.n_ctx = plan.n_ctx;
  opts.n_seq_max = std::clamp(kRowsPerBatch / plan.n_ctx, 1, plan.n_chunk);
  return std::make_unique<Engine>(model, opts);
}

void run_calibration(Engine& engine, const CalibrationText& c, const std::string& label) {
  Progress bar(label, static_cast<uint64_t>(c.plan.n_chunk), "");
  std::vector<float> logits;
  for (int c0 = 0; c0 < c.plan.n_chunk; c0 += engine.n_seq_max()) {
    const int n = std::min(engine.n_seq_max(), c.plan.n_chunk - c0);
    evaluate_chunks(engine, c.plan, c.tokens, c.bos, c0, n, logits);
    bar.update(static_cast<uint64_t>(c0 + n));
  }
  bar.finish();
}

}  // namespace frugal::runtime
