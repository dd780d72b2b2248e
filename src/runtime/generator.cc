#include "runtime/generator.h"

#include <algorithm>

#include "base/error.h"
#include "runtime/completion.h"

namespace frugal::runtime {

const char* stop_reason_name(StopReason r) {
  switch (r) {
    case StopReason::kLength: return "length";
    case StopReason::kEndOfGeneration: return "eos";
    case StopReason::kStopString: return "stop";
    case StopReason::kContextFull: return "context";
    case StopReason::kCancelled: return "cancelled";
  }
  return "unknown";
}

GenerateStats generate(Engine& engine, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                       const GenerateParams& params, const GenerateCallbacks& callbacks) {
  check_completion(prompt, params, engine.n_vocab(), engine.n_ctx(), engine.n_seq_max());
  if (params.n_past > 0 && engine.sequence_length(params.seq) != params.n_past)
    fail("generate: n_past ", params.n_past, " does not match the cache (", engine.sequence_length(params.seq),
         " tokens)");
  Completion completion(tok, engine.n_vocab(), engine.n_ctx(), prompt, params);

  // Prefill in chunks; only the last row of the prompt needs logits.
  if (params.n_past == 0) engine.clear_sequence(params.seq);
  std::vector<float> logits;
  std::vector<BatchRow> rows;
  for (size_t begin = static_cast<size_t>(params.n_past); begin < prompt.size(); begin += static_cast<size_t>(params.n_batch)) {
    const size_t end = std::min(prompt.size(), begin + static_cast<size_t>(params.n_batch));
    rows.clear();
    for (size_t i = begin; i < end; ++i)
      rows.push_back({params.seq, static_cast<int32_t>(i), prompt[i], i + 1 == prompt.size(), params.lora});
    engine.forward(rows, logits);
  }
  while (completion.advance(logits.data(), callbacks)) {
    const BatchRow row{params.seq, completion.next_pos(), completion.next_token(), true, params.lora};
    engine.forward(std::span<const BatchRow>(&row, 1), logits);
  }
  completion.finish(callbacks);
  return completion.stats();
}

}  // namespace frugal::runtime
