// KL divergence of a model (usually a quantised one) from a base model (the
// full-precision one) over the tokens `frugal perplexity` scores: the base run
// saves its log-probabilities in a compact file, a later run compares its own
// with them.
//
// The file (little-endian; documented in docs/usage/perplexity.md):
//   char[8] "FRUGALKL", u32 version (1), u32 n_vocab, u32 n_ctx, u32 n_chunk,
//   i32 bos (-1: none), i32 tokens[n_chunk * n_ctx] (the text's, before any
//   BOS replaced a chunk's first token), then for every scored position of
//   every chunk (n_chunk * (n_ctx - 1 - n_ctx/2) records, in order):
//   i32 top (first index of the largest logit), f32 top_logp (its
//   log-probability), f32 target_logp (the next token's log-probability, exact),
//   f32 tail (the probability of all tokens with code 0, together),
//   u16 code[n_vocab]: log p = top_logp - 16 + code * 16/65535 for code > 0;
//   code 0: log p <= top_logp - 16 (in the KL these tokens count as one
//   outcome of probability `tail`).
// Quantised codes hold log p within 1.3e-4 nats: two bytes per vocabulary
// entry instead of four, and a model compared with itself gets KL ~1e-9.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/mapped_file.h"
#include "base/output_file.h"
#include "runtime/perplexity.h"

namespace frugal::runtime {

inline constexpr float kLogProbRange = 16.0f;  // nats below the top kept per row

struct LogProbHeader {
  uint32_t n_vocab = 0, n_ctx = 0, n_chunk = 0;
  int32_t bos = -1;
};

class LogProbWriter {
 public:
  // Writes the header and tokens (n_chunk * n_ctx of them) at once.
  LogProbWriter(const std::string& path, const LogProbHeader& h, std::span<const int32_t> tokens);
  // One scored position: its logits and the token that follows.
  void add_row(std::span<const float> logits, int32_t target);
  void commit();  // checks the row count, then puts the file in place

 private:
  OutputFile out_;
  LogProbHeader h_;
  size_t rows_ = 0;
  std::vector<uint16_t> codes_;
};

// A row of the base file, decoded on demand.
struct BaseRow {
  int32_t top = 0;
  float top_logp = 0, target_logp = 0, tail = 0;
  const uint8_t* codes = nullptr;  // n_vocab little-endian u16
};

class LogProbReader {
 public:
  // Maps and validates the file (magic, version, sizes): frugal::Error naming it.
  explicit LogProbReader(const std::string& path);
  const LogProbHeader& header() const { return h_; }
  std::span<const int32_t> tokens() const { return tokens_; }
  ChunkPlan plan() const;
  BaseRow row(size_t i) const;  // i-th scored position overall

 private:
  MappedFile file_;
  LogProbHeader h_;
  std::vector<int32_t> tokens_;
  size_t rows_offset_ = 0, row_bytes_ = 0;
};

// Running KL statistics of a model against the base, one scored token at a time.
struct KlStats {
  NllStats nll, nll_base;
  double sum_nll_product = 0;   // for the covariance of the two log-perplexities
  double sum_kld = 0, sum_kld2 = 0;
  double sum_dp = 0, sum_dp2 = 0, sum_dp4 = 0;
  size_t same_top = 0;
  std::vector<double> kld, dp;  // per token, for percentiles

  // logits: this model's row; target: the next token.
  void add(const BaseRow& base, std::span<const float> logits, int32_t target);

 private:
  std::vector<double> lpb_;  // the base row decoded
};

}  // namespace frugal::runtime
