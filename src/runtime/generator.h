// One completion: prefill a prompt through the Engine, then sample and decode
// token by token, streaming text (never a split UTF-8 character, never the
// start of a stop string) to a callback. Used by `frugal run`, and by
// `frugal chat` and `frugal serve` for a single sequence.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/engine.h"
#include "runtime/sampler.h"
#include "runtime/token_constraint.h"
#include "tokenizer/tokenizer.h"

namespace frugal::runtime {

struct GenerateParams {
  int n_predict = 128;              // tokens to generate at most; < 0: until end or context full
  SamplingParams sampling;
  std::vector<std::string> stop;    // stop strings (not emitted)
  bool stop_at_end_of_generation = true;  // stop at EOS/EOT tokens (not emitted)
  int n_batch = 512;                // prompt rows per forward call
  int32_t seq = 0;                  // the Engine sequence to use
  // Prompt tokens already in seq's cache from an earlier call (a chat reusing
  // its history): they are not computed again. 0: the sequence is cleared
  // first. The caller guarantees the cache holds exactly these tokens; it must
  // be the sequence's whole cache and shorter than the prompt.
  int n_past = 0;
  // >= 0: record each sampled token's log-probability and this many most
  // likely alternatives (GenerateStats::logprobs). < 0: none.
  int logprobs = -1;
  // Structured output: only text of this grammar is generated, and the
  // completion ends when the value is whole. Both set, or neither.
  std::shared_ptr<const JsonGrammar> grammar;
  std::shared_ptr<const TokenTrie> trie;
  // The LoRA adapter this completion runs with (BatchRow::lora; null: the
  // model's own). Owned by the caller (the server's named adapters).
  const model::LoraAdapter* lora = nullptr;
};

enum class StopReason { kLength, kEndOfGeneration, kStopString, kContextFull, kCancelled };
const char* stop_reason_name(StopReason r);  // "length", "eos", "stop", "context", "cancelled"

struct GenerateStats {
  int n_prompt = 0;
  int n_reused = 0;               // prompt tokens found in the cache (params.n_past), not computed
  int n_generated = 0;            // sampled tokens, the end-of-generation token included
  double prompt_seconds = 0;      // prefill up to the first logits
  double generation_seconds = 0;  // sampling and decoding after that
  StopReason stop = StopReason::kLength;
  std::vector<int32_t> tokens;    // the generated ids
  std::vector<TokenLogprob> logprobs;  // params.logprobs >= 0: one per generated token but an end of generation
  // Over the prompt tokens computed, not those reused from the cache.
  double prompt_tokens_per_second() const {
    return prompt_seconds > 0 ? (n_prompt - n_reused) / prompt_seconds : 0;
  }
  double generation_tokens_per_second() const {
    return generation_seconds > 0 ? n_generated / generation_seconds : 0;
  }
};

struct GenerateCallbacks {
  // Text safe to show now; return false to stop (StopReason::kCancelled).
  std::function<bool(std::string_view text)> on_text;
  // Every sampled id, in order (before its text is known).
  std::function<void(int32_t id)> on_token;
};

// Runs one completion of `prompt` (ids, BOS included when wanted) on
// params.seq. Afterwards the sequence's cache holds the prompt and every
// generated token but the last. An empty prompt, an id outside the vocabulary, or a prompt that
// leaves no room in the context -> frugal::Error.
GenerateStats generate(Engine& engine, const tokenizer::Tokenizer& tok, std::span<const int32_t> prompt,
                       const GenerateParams& params, const GenerateCallbacks& callbacks);

}  // namespace frugal::runtime
