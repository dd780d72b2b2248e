// What a GGUF model file holds, counted: parameters and bytes by tensor type,
// and for Mixture-of-Experts models the parameters active per token. Also the
// bytes of weights read to decode one token at the file's types, which bounds
// decode speed on a memory-bound machine.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "gguf/reader.h"
#include "gguf/tensor_names.h"

namespace frugal::gguf {

struct TypeTotals {
  TensorType type = TensorType::F32;
  uint64_t tensors = 0, parameters = 0, bytes = 0;
};

struct FileSummary {
  std::string architecture;   // "" when general.architecture is absent
  uint64_t tensors = 0;
  uint64_t parameters = 0;    // all tensors' elements
  uint64_t bytes = 0;         // all tensors' data bytes
  std::vector<TypeTotals> by_type;  // largest bytes first

  // Mixture of Experts: <arch>.expert_count > 0. Expert tensors are those
  // named *_exps.*: a token uses expert_used_count of expert_count slices.
  bool moe = false;
  uint64_t expert_count = 0, expert_used_count = 0;
  uint64_t expert_parameters = 0;  // in all *_exps tensors
  uint64_t active_parameters = 0;  // per token: everything but the unused experts' share
  // In next-token-prediction blocks (<arch>.nextn_predict_layers: the last
  // blocks of block_count), which a forward pass does not run: counted in
  // parameters, not in active_parameters or bytes_per_token.
  uint64_t nextn_parameters = 0;

  // Weight bytes read per decoded token: every tensor, expert tensors at
  // used/count of their size, and the embedding table as a single row unless
  // the output projection is tied to it (no output.weight), when all of it is read.
  uint64_t bytes_per_token = 0;
  bool tied_output = false;
  uint64_t expert_bytes = 0;  // all *_exps tensors' bytes
};

// Expected bytes of weights read by one decode step of `batch` tokens (one
// per sequence), assuming routing spreads tokens uniformly over the experts:
// each expert is read when at least one of the tokens chose it, with
// probability 1 - (1 - used/count)^batch; everything else is read once.
double weight_bytes_per_step(const FileSummary& s, int batch);

// Throws frugal::Error when the expert keys are inconsistent (used > count).
FileSummary summarize(const Reader& file);

}  // namespace frugal::gguf
