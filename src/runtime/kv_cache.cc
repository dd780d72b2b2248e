#include "runtime/kv_cache.h"

#include <cstring>
#include <string>

#include "base/error.h"
#include "kernels/attention.h"

namespace frugal::runtime {

KvCache::KvCache(const model::ModelConfig& cfg, int64_t n_ctx, int64_t n_seq_max, model::KvType type)
    : type_(type),
      n_layer_(cfg.n_layer),
      n_ctx_(n_ctx),
      n_seq_max_(n_seq_max),
      k_width_(model::kv_key_width(cfg)),
      v_width_(model::kv_value_width(cfg)) {
  if (n_ctx <= 0) fail("KV cache: context length must be positive (got ", n_ctx, ")");
  if (n_seq_max <= 0) fail("KV cache: sequence count must be positive (got ", n_seq_max, ")");
  const std::string why = model::kv_type_unsupported(cfg, type);
  if (!why.empty()) fail("KV cache: ", why);
  // Rows of whole q8_0 blocks (see kernels/attention.h); f32/f16 rows are
  // exactly their width.
  k_bytes_ = kernels::cache_bytes(type, n_ctx * kernels::cache_row_stride(type, k_width_));
  v_bytes_ = v_width_ > 0 ? kernels::cache_bytes(type, n_ctx * kernels::cache_row_stride(type, v_width_)) : 0;
  layer_bytes_ = k_bytes_ + v_bytes_;
  for (int64_t l = 0; l < n_layer_; ++l) {
    const bool recurrent = cfg.layer_is_recurrent(l);
    row_layer_.push_back(recurrent ? -1 : n_row_layers_++);
    state_layer_.push_back(recurrent ? n_state_layers_++ : -1);
  }
  state_bytes_ = n_state_layers_ > 0 ? sizeof(float) * static_cast<size_t>(cfg.recurrent_state_floats()) : 0;
  // The states after the rows, on a float boundary (q8_0 rows are 34-byte blocks).
  states_at_ = (layer_bytes_ * static_cast<size_t>(n_row_layers_) + 63) / 64 * 64;
  seq_bytes_ = states_at_ + state_bytes_ * static_cast<size_t>(n_state_layers_);
  slots_.resize(static_cast<size_t>(n_seq_max));
  k_row_bytes_ = kernels::cache_bytes(type, kernels::cache_row_stride(type, k_width_));
  v_row_bytes_ = v_width_ > 0 ? kernels::cache_bytes(type, kernels::cache_row_stride(type, v_width_)) : 0;
  position_bytes_ = (k_row_bytes_ + v_row_bytes_) * static_cast<size_t>(n_row_layers_);
}

namespace {
// Copies n rows of each layer between a slot and a packed block; `to_slot`
// says which way.
void copy_rows(uint8_t* slot, size_t layer_bytes, size_t k_bytes, int64_t n_layer, size_t k_row, size_t v_row,
               int64_t pos, int64_t n, uint8_t* packed, bool to_slot) {
  const size_t nb = static_cast<size_t>(n);
  for (int64_t l = 0; l < n_layer; ++l) {
    uint8_t* base = slot + static_cast<size_t>(l) * layer_bytes;
    uint8_t* k = base + static_cast<size_t>(pos) * k_row;
    uint8_t* v = base + k_bytes + static_cast<size_t>(pos) * v_row;
    uint8_t* pk = packed + static_cast<size_t>(l) * nb * (k_row + v_row);
    uint8_t* pv = pk + nb * k_row;
    if (to_slot) {
      std::memcpy(k, pk, nb * k_row);
      if (v_row) std::memcpy(v, pv, nb * v_row);
    } else {
      std::memcpy(pk, k, nb * k_row);
      if (v_row) std::memcpy(pv, v, nb * v_row);
    }
  }
}
}  // namespace

void KvCache::copy_out(int32_t seq, int64_t pos, int64_t n, uint8_t* dst) {
  FRUGAL_CHECK(pos >= 0 && n >= 0 && pos + n <= n_ctx_);
  copy_rows(slot(seq), layer_bytes_, k_bytes_, n_row_layers_, k_row_bytes_, v_row_bytes_, pos, n, dst, false);
}

void KvCache::copy_in(int32_t seq, int64_t pos, int64_t n, const uint8_t* src) {
  FRUGAL_CHECK(pos >= 0 && n >= 0 && pos + n <= n_ctx_);
  copy_rows(slot(seq), layer_bytes_, k_bytes_, n_row_layers_, k_row_bytes_, v_row_bytes_, pos, n,
            const_cast<uint8_t*>(src), true);
}

uint8_t* KvCache::slot(int32_t seq) {
  FRUGAL_CHECK(seq >= 0 && seq < n_seq_max_);
  auto& slot = slots_[static_cast<size_t>(seq)];
  if (!slot) slot.reset(new uint8_t[seq_bytes_]);  // uninitialised on purpose (see header)
  return slot.get();
}

float* KvCache::recurrent_state(int64_t layer, int32_t seq) {
  FRUGAL_CHECK(layer >= 0 && layer < n_layer_ && state_layer_[static_cast<size_t>(layer)] >= 0);
  const size_t at = states_at_ + state_bytes_ * static_cast<size_t>(state_layer_[static_cast<size_t>(layer)]);
  return reinterpret_cast<float*>(slot(seq) + at);
}

void KvCache::copy_recurrent_states(int32_t src, int32_t dst) {
  if (n_state_layers_ == 0 || src == dst) return;
  std::memcpy(slot(dst) + states_at_, slot(src) + states_at_, state_bytes_ * static_cast<size_t>(n_state_layers_));
}

model::KvSlice KvCache::slice(int64_t layer, int32_t seq) {
  FRUGAL_CHECK(layer >= 0 && layer < n_layer_ && row_layer_[static_cast<size_t>(layer)] >= 0);
  uint8_t* base = slot(seq) + static_cast<size_t>(row_layer_[static_cast<size_t>(layer)]) * layer_bytes_;
  model::KvSlice s;
  s.k = base;
  s.v = v_width_ > 0 ? base + k_bytes_ : nullptr;
  s.capacity = n_ctx_;
  return s;
}

}  // namespace frugal::runtime
