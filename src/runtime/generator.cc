#include "runtime/generator.h"

#include <chrono>

#include "base/error.h"

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

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void check_prompt(const Engine& engine, std::span<const int32_t> prompt, const GenerateParams& params) {
  if (prompt.empty()) fail("generate: the prompt is empty (no tokens)");
  const int32_t n_vocab = engine.n_vocab();
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= n_vocab)
      fail("generate: prompt token ", i, " has id ", prompt[i], ", outside the vocabulary of ", n_vocab);
  if (static_cast<int64_t>(prompt.size()) >= engine.n_ctx())
    fail("generate: the prompt has ", prompt.size(), " tokens and leaves no room in the context of ", engine.n_ctx(),
         " (raise -c or shorten the prompt)");
  if (params.n_batch <= 0) fail("generate: n_batch must be positive");
  if (params.seq < 0 || params.seq >= engine.n_seq_max()) fail("generate: sequence ", params.seq, " out of range");
  if (params.n_past < 0 || params.n_past >= static_cast<int64_t>(prompt.size()) ||
      (params.n_past > 0 && engine.sequence_length(params.seq) != params.n_past))
    fail("generate: n_past ", params.n_past, " does not match the cache (", engine.sequence_length(params.seq),
         " tokens) and the prompt (", prompt.size(), " tokens)");
}

}  // namespace

GenerateStats generate(Engine& engine, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                       const GenerateParams& params, const GenerateCallbacks& callbacks) {
  check_prompt(engine, prompt, params);
  GenerateStats stats;
  stats.n_prompt = static_cast<int>(prompt.size());
  stats.n_reused = params.n_past;
  Sampler sampler(params.sampling, engine.n_vocab());
  StopMatcher stop(params.stop);
  tokenizer::StreamDecoder text(tok);
  std::vector<int32_t> history(prompt.begin(), prompt.end());

  // Prefill in chunks; only the last row of the prompt needs logits.
  const auto t0 = std::chrono::steady_clock::now();
  if (params.n_past == 0) engine.clear_sequence(params.seq);
  std::vector<float> logits;
  std::vector<BatchRow> rows;
  for (size_t begin = static_cast<size_t>(params.n_past); begin < prompt.size(); begin += static_cast<size_t>(params.n_batch)) {
    const size_t end = std::min(prompt.size(), begin + static_cast<size_t>(params.n_batch));
    rows.clear();
    for (size_t i = begin; i < end; ++i)
      rows.push_back({params.seq, static_cast<int32_t>(i), prompt[i], i + 1 == prompt.size()});
    engine.forward(rows, logits);
  }
  stats.prompt_seconds = seconds_since(t0);

  // Emits text through the stop matcher; false when generation must end.
  auto emit = [&](const std::string& piece) {
    StopMatcher::Result r = stop.push(piece);
    if (!r.emit.empty() && callbacks.on_text && !callbacks.on_text(r.emit)) {
      stats.stop = StopReason::kCancelled;
      return false;
    }
    if (r.stopped) {
      stats.stop = StopReason::kStopString;
      return false;
    }
    return true;
  };

  const auto t1 = std::chrono::steady_clock::now();
  bool open = true;  // false once a stop string matched or the caller cancelled
  int32_t pos = static_cast<int32_t>(prompt.size());
  while (true) {
    if (params.n_predict >= 0 && stats.n_generated >= params.n_predict) {
      stats.stop = StopReason::kLength;
      break;
    }
    const int32_t id = sampler.sample(logits.data(), history);
    ++stats.n_generated;
    stats.tokens.push_back(id);
    history.push_back(id);
    if (callbacks.on_token) callbacks.on_token(id);
    if (params.stop_at_end_of_generation && tok.is_end_of_generation(id)) {
      stats.stop = StopReason::kEndOfGeneration;
      break;
    }
    if (!(open = emit(text.push(id)))) break;
    if (params.n_predict >= 0 && stats.n_generated >= params.n_predict) {
      stats.stop = StopReason::kLength;
      break;
    }
    if (pos >= engine.n_ctx()) {
      stats.stop = StopReason::kContextFull;
      break;
    }
    const BatchRow row{params.seq, pos++, id, true};
    engine.forward(std::span<const BatchRow>(&row, 1), logits);
  }
  // What the decoder and the stop matcher still hold belongs to the answer.
  if (open) {
    const StopReason reason = stats.stop;
    if (emit(text.flush())) {
      const std::string rest = stop.flush();
      if (!rest.empty() && callbacks.on_text && !callbacks.on_text(rest)) stats.stop = StopReason::kCancelled;
      else stats.stop = reason;
    }
  }
  stats.generation_seconds = seconds_since(t1);
  return stats;
}

}  // namespace frugal::runtime
