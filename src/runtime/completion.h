// What one completion carries from token to token: its sampler, stop
// strings, UTF-8 stream decoder, token history (for the penalties), counts
// and timings. generate() drives one Completion through its own forward
// calls; the server's scheduler drives one per request inside shared
// batches. Either way the same code decides each token and each piece of text.
#pragma once
#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "runtime/generator.h"
#include "runtime/sampler.h"
#include "tokenizer/tokenizer.h"

namespace frugal::runtime {

// The checks generate() runs before any work: a non-empty prompt of ids in the
// vocabulary that leaves room in n_ctx, a sequence id in range, n_batch > 0.
// A bad prompt or parameter -> frugal::Error.
void check_completion(std::span<const int32_t> prompt, const GenerateParams& params, int32_t n_vocab, int n_ctx,
                      int n_seq_max);

class Completion {
 public:
  // Checks the sampling parameters against the vocabulary (frugal::Error).
  // The prompt clock starts here: prompt_seconds runs to the first advance().
  Completion(const tokenizer::Tokenizer& tok, int32_t n_vocab, int n_ctx, std::span<const int32_t> prompt,
             const GenerateParams& params);

  // Given the logits after the last fed row (the prompt's last token, then
  // each token advance() returned): samples the next token and streams its
  // text. Returns true when next_token() must be fed at next_pos() to go on;
  // false when the completion has ended (stats().stop says why; call finish()).
  bool advance(const float* logits, const GenerateCallbacks& callbacks);

  // Emits the text the decoder and the stop matcher still hold (unless a stop
  // string or the caller ended it) and closes the generation clock.
  void finish(const GenerateCallbacks& callbacks);

  // Ends a completion that will not be advanced again (a cancelled request).
  void cancel() { stats_.stop = StopReason::kCancelled; open_ = false; }

  int32_t next_token() const { return stats_.tokens.back(); }
  int32_t next_pos() const { return feed_pos_; }
  const GenerateStats& stats() const { return stats_; }
  const GenerateParams& params() const { return params_; }

 private:
  bool emit(const std::string& piece, const GenerateCallbacks& callbacks);
  int32_t choose(const float* logits);
  bool done_by_length() const { return params_.n_predict >= 0 && stats_.n_generated >= params_.n_predict; }

  const tokenizer::Tokenizer& tok_;
  GenerateParams params_;
  int n_ctx_;
  int32_t n_vocab_;
  Sampler sampler_;
  StopMatcher stop_;
  std::optional<TokenConstraint> constraint_;  // structured output
  std::vector<uint8_t> allowed_;               // the constraint's last mask
  tokenizer::StreamDecoder text_;
  std::vector<int32_t> history_;
  GenerateStats stats_;
  int32_t pos_;           // where the next sampled token will go
  int32_t feed_pos_ = 0;  // where next_token() goes
  bool open_ = true;  // false once a stop string matched or the caller cancelled
  bool started_ = false;
  std::chrono::steady_clock::time_point t0_, t1_;
};

}  // namespace frugal::runtime
