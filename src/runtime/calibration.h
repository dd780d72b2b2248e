// A calibration text run through a model for what its forward passes record
// rather than for their logits: frugal imatrix's importance statistics
// (runtime/imatrix_collector.h), frugal placement's rows per expert
// (Engine::expert_rows). The text is cut as llama-perplexity cuts it
// (runtime/perplexity.h): chunks of n_ctx tokens, each from an empty cache
// with BOS first where the tokenizer adds one, several chunks to a forward
// pass up to 512 rows.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "model/model.h"
#include "runtime/engine.h"
#include "runtime/perplexity.h"

namespace frugal::runtime {

struct CalibrationText {
  std::vector<int32_t> tokens;  // the whole text's
  int32_t bos = -1;             // replaces each chunk's first token (-1: none)
  ChunkPlan plan;
};

// text's tokens under the model's tokenizer, in chunks of n_ctx (0: the
// model's training context, at most 512), at most max_chunks (0: all).
// frugal::Error, as plan_chunks, for a text shorter than two chunks.
CalibrationText calibration_text(const model::Model& model, const std::string& text, int n_ctx, int max_chunks);

// An engine for it: a context of one chunk, as many sequences as 512 rows hold.
std::unique_ptr<Engine> calibration_engine(const model::Model& model, const ChunkPlan& plan);

// Every chunk of `c` through `engine`, with a progress bar named `label`.
void run_calibration(Engine& engine, const CalibrationText& c, const std::string& label);

}  // namespace frugal::runtime
