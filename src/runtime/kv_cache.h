// The KV cache: per sequence slot and per layer, n_ctx key rows and value
// rows (f32, f16 or q8_0; for latent attention the compressed latent plus the rope
// key, see model/forward.h). A slot's memory is allocated when the sequence
// first uses it and left uninitialised: only positions below the sequence's
// length are ever read, so the pages of unused positions are never touched.
// Recurrent layers (qwen3next's Gated DeltaNet) have no rows: each sequence
// holds one state per such layer instead (model::KvStore::recurrent_state),
// which the forward pass zeroes at the sequence's position 0.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "model/forward.h"

namespace frugal::runtime {

class KvCache : public model::KvStore {
 public:
  // A q8_0 cache for a model whose heads do not start on 32-element blocks
  // is a frugal::Error (model::kv_type_unsupported).
  KvCache(const model::ModelConfig& cfg, int64_t n_ctx, int64_t n_seq_max, model::KvType type);

  model::KvType type() const override { return type_; }
  model::KvSlice slice(int64_t layer, int32_t seq) override;
  float* recurrent_state(int64_t layer, int32_t seq) override;

  int64_t n_ctx() const { return n_ctx_; }
  int64_t n_seq_max() const { return n_seq_max_; }
  // Bytes one sequence slot takes once used.
  size_t bytes_per_sequence() const { return seq_bytes_; }

  // The rows of n positions from pos of every layer, packed layer by layer
  // (keys then values): what the prefix cache keeps of a block.
  size_t packed_bytes(int64_t n) const { return static_cast<size_t>(n) * position_bytes_; }
  void copy_out(int32_t seq, int64_t pos, int64_t n, uint8_t* dst);
  void copy_in(int32_t seq, int64_t pos, int64_t n, const uint8_t* src);
  // dst's recurrent states become copies of src's (nothing without recurrent layers).
  void copy_recurrent_states(int32_t src, int32_t dst);

 private:
  model::KvType type_;
  uint8_t* slot(int32_t seq);

  int64_t n_layer_, n_ctx_, n_seq_max_;
  // Per model layer: its index among the layers with rows or among the
  // recurrent layers (the other entry -1).
  std::vector<int64_t> row_layer_, state_layer_;
  int64_t n_row_layers_ = 0, n_state_layers_ = 0;
  size_t state_bytes_ = 0;  // one recurrent layer's state
  size_t states_at_ = 0;    // where a slot's states start
  int64_t k_width_, v_width_;
  size_t k_bytes_ = 0, v_bytes_ = 0;  // one layer's keys, values
  size_t layer_bytes_ = 0;             // keys then values of one layer
  size_t seq_bytes_ = 0;
  size_t k_row_bytes_ = 0, v_row_bytes_ = 0;  // one position's key row, value row
  size_t position_bytes_ = 0;                 // both rows of one position, all layers
  std::vector<std::unique_ptr<uint8_t[]>> slots_;
};

}  // namespace frugal::runtime
