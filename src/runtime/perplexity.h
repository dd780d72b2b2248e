// Perplexity as llama.cpp's llama-perplexity measures it, so that frugal's
// figures compare with the ones users quote: the text's tokens (with a BOS in
// front when the tokenizer adds one) are cut into non-overlapping chunks of
// n_ctx tokens; each chunk is evaluated from an empty cache with its first
// token replaced by BOS (when the tokenizer adds one); only the second half of
// each chunk is scored (the logits at positions n_ctx/2 .. n_ctx-2 predicting
// the next token), so that every scored token has at least n_ctx/2 tokens of
// context.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "runtime/engine.h"

namespace frugal::runtime {

struct ChunkPlan {
  int n_ctx = 0;    // tokens per chunk
  int n_chunk = 0;  // chunks evaluated
  int first = 0;    // first scored position in a chunk (n_ctx / 2)
  int scored_per_chunk() const { return n_ctx - 1 - first; }
};

// n_tokens of text, chunks of n_ctx, at most max_chunks (<= 0: all whole
// chunks). A text shorter than two chunks is a frugal::Error, as it is for
// llama-perplexity.
ChunkPlan plan_chunks(size_t n_tokens, int n_ctx, int max_chunks);

// Evaluates chunks [c0, c0 + n) of `tokens` (at most engine.n_seq_max() at a
// time, one sequence each) and writes the scored rows' logits, chunk after
// chunk, scored_per_chunk() rows of n_vocab each. `bos` >= 0 replaces each
// chunk's first token.
void evaluate_chunks(Engine& engine, const ChunkPlan& plan, std::span<const int32_t> tokens, int32_t bos, int c0,
                     int n, std::vector<float>& scored_logits);

// Row statistics of one logit row, in double precision.
struct RowScore {
  double log_sum_exp = 0;  // log(sum exp(logit))
  int32_t top = 0;         // first index of the largest logit
};
RowScore score_row(std::span<const float> logits);

// Mean and the standard error of the mean (sqrt(var / (n - 1))) of a value
// summed as sum and sum of squares; the error is 0 with fewer than two values.
struct MeanError {
  double mean = 0, error = 0;
};
MeanError mean_and_error(double sum, double sum2, size_t count);

// Negative log-likelihoods of scored tokens -> perplexity exp(mean) and its
// error exp(mean) * stderr(mean).
struct NllStats {
  double sum = 0, sum2 = 0;
  size_t count = 0;
  void add(double nll) { sum += nll; sum2 += nll * nll; ++count; }
  double ppl() const;
  double ppl_error() const;
};

// Linear interpolation between the closest ranks of sorted values (numpy's
// default percentile), fraction in [0, 1].
double percentile(std::span<const double> sorted, double fraction);

}  // namespace frugal::runtime
