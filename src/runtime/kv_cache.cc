#include "runtime/kv_cache.h"

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
  seq_bytes_ = layer_bytes_ * static_cast<size_t>(n_layer_);
  slots_.resize(static_cast<size_t>(n_seq_max));
}

model::KvSlice KvCache::slice(int64_t layer, int32_t seq) {
  FRUGAL_CHECK(seq >= 0 && seq < n_seq_max_ && layer >= 0 && layer < n_layer_);
  auto& slot = slots_[static_cast<size_t>(seq)];
  if (!slot) slot.reset(new uint8_t[seq_bytes_]);  // uninitialised on purpose (see header)
  uint8_t* base = slot.get() + static_cast<size_t>(layer) * layer_bytes_;
  model::KvSlice s;
  s.k = base;
  s.v = v_width_ > 0 ? base + k_bytes_ : nullptr;
  s.capacity = n_ctx_;
  return s;
}

}  // namespace frugal::runtime
