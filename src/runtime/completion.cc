#include "runtime/completion.h"

#include "base/error.h"

namespace frugal::runtime {

namespace {

double seconds_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace

void check_completion(std::span<const int32_t> prompt, const GenerateParams& params, int32_t n_vocab, int n_ctx,
                      int n_seq_max) {
  if (prompt.empty()) fail("generate: the prompt is empty (no tokens)");
  for (size_t i = 0; i < prompt.size(); ++i)
    if (prompt[i] < 0 || prompt[i] >= n_vocab)
      fail("generate: prompt token ", i, " has id ", prompt[i], ", outside the vocabulary of ", n_vocab);
  if (static_cast<int64_t>(prompt.size()) >= n_ctx)
    fail("generate: the prompt has ", prompt.size(), " tokens and leaves no room in the context of ", n_ctx,
         " (raise -c or shorten the prompt)");
  if (params.n_batch <= 0) fail("generate: n_batch must be positive");
  if (params.seq < 0 || params.seq >= n_seq_max) fail("generate: sequence ", params.seq, " out of range");
  if (params.n_past < 0 || params.n_past >= static_cast<int64_t>(prompt.size()))
    fail("generate: n_past ", params.n_past, " does not fit the prompt (", prompt.size(), " tokens)");
}

Completion::Completion(const tokenizer::Tokenizer& tok, int32_t n_vocab, int n_ctx, std::span<const int32_t> prompt,
                       const GenerateParams& params)
    : tok_(tok),
      params_(params),
      n_ctx_(n_ctx),
      n_vocab_(n_vocab),
      sampler_(params.sampling, n_vocab),
      stop_(params.stop),
      text_(tok),
      history_(prompt.begin(), prompt.end()),
      pos_(static_cast<int32_t>(prompt.size())),
      t0_(std::chrono::steady_clock::now()) {
  stats_.n_prompt = static_cast<int>(prompt.size());
  stats_.n_reused = params.n_past;
  if (params.grammar) {
    if (!params.trie || params.trie->n_vocab() != n_vocab) fail("generate: structured output needs the vocabulary's trie");
    constraint_.emplace(params.grammar, params.trie);
  }
}

int32_t Completion::choose(const float* logits) {
  int32_t id = sampler_.sample(logits, history_);
  if (!constraint_) return id;
  // Most draws are allowed as they are; only a refused one pays for the mask
  // and a second draw from the allowed tokens.
  if (!constraint_->allows(id)) {
    constraint_->mask(allowed_);
    id = sampler_.sample(logits, history_, &allowed_);
  }
  constraint_->accept(id);
  return id;
}

bool Completion::emit(const std::string& piece, const GenerateCallbacks& callbacks) {
  StopMatcher::Result r = stop_.push(piece);
  if (!r.emit.empty() && callbacks.on_text && !callbacks.on_text(r.emit)) {
    stats_.stop = StopReason::kCancelled;
    return false;
  }
  if (r.stopped) {
    stats_.stop = StopReason::kStopString;
    return false;
  }
  return true;
}

bool Completion::advance(const float* logits, const GenerateCallbacks& callbacks) {
  if (!started_) {
    t1_ = std::chrono::steady_clock::now();
    stats_.prompt_seconds = seconds_between(t0_, t1_);
    started_ = true;
  }
  if (done_by_length()) {  // n_predict 0: nothing to sample
    stats_.stop = StopReason::kLength;
    return false;
  }
  const int32_t id = choose(logits);
  ++stats_.n_generated;
  stats_.tokens.push_back(id);
  history_.push_back(id);
  const bool ends = (params_.stop_at_end_of_generation || constraint_) && tok_.is_end_of_generation(id);
  // Recorded before on_token, so that a caller sees a token's log-probability no later than its text.
  if (params_.logprobs >= 0 && !ends)
    stats_.logprobs.push_back(token_logprob({logits, static_cast<size_t>(n_vocab_)}, id, params_.logprobs));
  if (callbacks.on_token) callbacks.on_token(id);
  if (ends) {
    stats_.stop = StopReason::kEndOfGeneration;
    return false;
  }
  if (!(open_ = emit(text_.push(id), callbacks))) return false;
  if (constraint_ && constraint_->closed()) {  // the value is whole: nothing may follow
    stats_.stop = StopReason::kEndOfGeneration;
    return false;
  }
  if (done_by_length()) {
    stats_.stop = StopReason::kLength;
    return false;
  }
  if (pos_ >= n_ctx_) {
    stats_.stop = StopReason::kContextFull;
    return false;
  }
  feed_pos_ = pos_++;
  return true;
}

void Completion::finish(const GenerateCallbacks& callbacks) {
  if (open_) {
    const StopReason reason = stats_.stop;
    if (emit(text_.flush(), callbacks)) {
      const std::string rest = stop_.flush();
      if (!rest.empty() && callbacks.on_text && !callbacks.on_text(rest)) stats_.stop = StopReason::kCancelled;
      else stats_.stop = reason;
    }
    open_ = false;
  }
  const auto now = std::chrono::steady_clock::now();
  stats_.generation_seconds = started_ ? seconds_between(t1_, now) : 0;
}

}  // namespace frugal::runtime
