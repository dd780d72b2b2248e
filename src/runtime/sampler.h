// Choosing the next token from a row of logits, and stop strings.
//
// The sampler applies, in this order: logit bias, repetition / presence /
// frequency penalties over the recent history, then either greedy argmax
// (temperature <= 0) or top-k, top-p and min-p filtering (on the distribution
// at temperature 1), the temperature, and a draw from what remains. The order
// and the penalty formulas are the ones llama.cpp and the OpenAI API
// document, so that the same flags mean the same thing here.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace frugal::runtime {

struct SamplingParams {
  float temperature = 0.8f;     // <= 0: greedy
  int top_k = 40;               // <= 0: all tokens
  float top_p = 0.95f;          // >= 1: off
  float min_p = 0.05f;          // <= 0: off; keeps p >= min_p * p_max
  float repeat_penalty = 1.0f;  // 1: off; > 1 discourages tokens seen in the last repeat_last_n
  int repeat_last_n = 64;       // history window for all three penalties (< 0: whole history)
  float presence_penalty = 0;   // subtracted once from a seen token's logit
  float frequency_penalty = 0;  // subtracted per occurrence
  std::vector<std::pair<int32_t, float>> logit_bias;  // added to a token's logit (-inf bans it)
  uint64_t seed = 0;
};

// The checks that need no vocabulary (temperature, top-p, min-p, penalties):
// a bad value -> frugal::Error. The Sampler runs them too; a command line
// runs them before loading a large model.
void check_sampling_params(const SamplingParams& params);

// A small, self-contained generator (xoshiro256** seeded by splitmix64): the
// same seed gives the same draws on every platform and standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1) with 53 random bits

 private:
  uint64_t s_[4];
};

class Sampler {
 public:
  // Invalid parameters (negative temperature is fine: greedy; top_p or min_p
  // outside [0, 1], a non-positive repeat_penalty, a bias for a token outside
  // the vocabulary) -> frugal::Error.
  Sampler(SamplingParams params, int32_t n_vocab);

  // history: the tokens so far (prompt and generated) for the penalties.
  // allowed: when given, only tokens with allowed[id] != 0 may be drawn
  // (structured output), as if the others had a logit of -inf.
  int32_t sample(const float* logits, std::span<const int32_t> history, const std::vector<uint8_t>* allowed = nullptr);

  // The logits after bias and penalties (what filtering starts from); for tests.
  void apply_penalties(std::vector<float>& logits, std::span<const int32_t> history) const;

  // The candidates left after top-k, top-p, min-p and temperature, as
  // (token, probability) sorted by probability, probabilities summing to 1.
  // For tests and for the server's logprobs.
  std::vector<std::pair<int32_t, float>> candidates(std::span<const float> penalised) const;

  const SamplingParams& params() const { return params_; }

 private:
  // The (token, logit) pairs top-k, top-p and min-p keep, in no set order.
  std::vector<std::pair<int32_t, float>> filter(std::span<const float> penalised) const;

  SamplingParams params_;
  int32_t n_vocab_;
  Rng rng_;
  std::vector<float> scratch_;
  std::vector<double> weights_;  // the kept tokens' weights, for the draw
};

// A sampled token's log-probability and the most likely alternatives, as the
// OpenAI API reports them: from the model's own distribution (a log-softmax
// of the raw logits), before logit bias, penalties, temperature, filtering
// and any structured-output mask.
struct TokenLogprob {
  int32_t id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // (token, logprob), most likely first, ties by lower id
};
// `n_top` alternatives (0 for none).
TokenLogprob token_logprob(std::span<const float> logits, int32_t id, int n_top);

// Stop strings over streamed text. push() returns the text that is safe to
// show now: text that could still be the start of a stop string is held back
// until it no longer can. When a stop string appears, the text before it is
// emitted, the stop string and everything after are dropped, and `stopped`
// is set; later pushes return nothing.
class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);

  struct Result {
    std::string emit;
    bool stopped = false;
  };
  Result push(std::string_view text);
  std::string flush();  // the held-back text, at the end of generation
  bool stopped() const { return stopped_; }

 private:
  std::vector<std::string> stops_;
  std::string held_;
  bool stopped_ = false;
};

}  // namespace frugal::runtime
