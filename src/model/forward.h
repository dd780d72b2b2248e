// The forward pass over a batch of rows. A batch is a list of rows (sequence,
// position, token); rows may mix sequences, prefill chunks and decode steps.
// Every linear layer is one matmul over all rows; attention runs per row over
// its own sequence's cache; the MoE layer groups rows by expert, so each
// chosen expert's weights are read once per batch and unchosen experts never.
//
// The attention state lives in a KvStore that the caller owns (the runtime's
// KvCache): per layer and per sequence, one key row and one value row per
// position. For multi-head latent attention (deepseek2) the "key row" is the
// normalised compressed latent (kv_lora_rank) followed by the roped shared
// key part (qk_rope_head_dim), and there is no value row: keys and values
// are recovered from the latent inside attention (weights absorbed).
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/aligned_buffer.h"
#include "base/thread_pool.h"
#include "kernels/attention.h"
#include "model/model.h"

namespace frugal::model {

// One row of a batch. pos is the token's position in its sequence.
struct BatchRow {
  int32_t seq = 0;
  int32_t pos = 0;
  int32_t token = 0;
  bool want_logits = false;
  // The row's LoRA adapter (model/lora.h); null: the model's own
  // (Model::lora(), often none). Rows of one batch may differ: each row's
  // products take its adapter's (the server's adapters chosen per request).
  const LoraAdapter* lora = nullptr;
};

using KvType = kernels::CacheType;  // kF32, kF16 or kQ8_0
const char* kv_type_name(KvType t);
// "f32", "f16" or "q8_0"; anything else is a frugal::Error naming the choices.
KvType kv_type_from_name(const std::string& name);

// Entries per position per layer of the key and value rows (value 0 for MLA).
int64_t kv_key_width(const ModelConfig& cfg);
int64_t kv_value_width(const ModelConfig& cfg);
// Empty if the model's cache rows can be stored as `t`, else why not.
std::string kv_type_unsupported(const ModelConfig& cfg, KvType t);

// One sequence's cache for one layer: capacity positions, key row p at
// element p * kernels::cache_row_stride(type, key_width) of k (for f32 and
// f16 the stride is the width; q8_0 rounds it up to whole blocks of 32),
// value row likewise. A q8_0 store needs head offsets on block boundaries
// (see kv_type_supported).
struct KvSlice {
  void* k = nullptr;
  void* v = nullptr;
  int64_t capacity = 0;
};

class KvStore {
 public:
  virtual ~KvStore() = default;
  virtual KvType type() const = 0;
  virtual KvSlice slice(int64_t layer, int32_t seq) = 0;
  // Recurrent layers (ModelConfig::layer_is_recurrent) keep no rows per
  // position but one state per sequence: recurrent_state_floats() f32
  // values, which the forward pass zeroes when the sequence's row at
  // position 0 runs (so a cleared sequence starts afresh) and updates row by
  // row. Stores for models without such layers need not override this (the
  // default is an error).
  virtual float* recurrent_state(int64_t layer, int32_t seq);
};

// Scratch buffers sized for the largest batch seen, reused between calls, and
// the forward pass itself. Not thread-safe: one Forward per engine.
class Forward {
 public:
  explicit Forward(const Model& model);
  ~Forward();

  // Runs the rows through the model. Each row writes its key/value rows at
  // its position in every layer's cache and then attends to positions
  // [0, pos] of its sequence (so rows of one sequence inside a batch see each
  // other causally). The caller has checked rows (token and position ranges,
  // positions contiguous with the cache). logits gets one row of n_vocab
  // floats per row with want_logits, in row order.
  void run(std::span<const BatchRow> rows, KvStore& kv, ThreadPool* pool, std::vector<float>& logits);

  // While on, each MoE layer asks the kernel to read its chosen experts'
  // weights ahead (madvise WILLNEED) as soon as the routing is known, so a
  // first pass over a model whose pages are not yet in memory reads them in
  // parallel instead of one page fault at a time. Off by default (a few
  // system calls per layer).
  void set_advise_experts(bool on);

  // How many rows each routed expert has been given since the last reset:
  // element layer * n_expert + expert (empty before the first MoE layer ran).
  // Benchmarks and tests read the routing through it (how skewed, how many
  // experts a batch touches).
  const std::vector<uint64_t>& expert_rows() const;
  void reset_expert_rows();

  struct Scratch;

 private:
  const Model& model_;
  std::unique_ptr<Scratch> s_;
};

}  // namespace frugal::model
