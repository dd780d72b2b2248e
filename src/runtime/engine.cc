#include "runtime/engine.h"

#include <algorithm>
#include <mutex>
#include <unordered_map>

#include "base/error.h"
#include "gguf/tensor_names.h"
#include "runtime/engine_journal.h"
#include "runtime/kv_cache.h"
#include "runtime/prefix_cache.h"

namespace frugal::runtime {

namespace {
// Below this the page faults of a first pass cost less than starting threads.
constexpr size_t kPopulateMinBytes = size_t{64} << 20;
}  // namespace

Engine::Engine(const model::Model& model, EngineOptions opts) : model_(model) {
  const model::ModelConfig& c = model.config();
  if (opts.n_ctx < 0) fail("context length must not be negative (got ", opts.n_ctx, ")");
  if (opts.n_seq_max <= 0) fail("sequence count must be positive (got ", opts.n_seq_max, ")");
  n_ctx_ = opts.n_ctx > 0 ? opts.n_ctx : static_cast<int>(std::min<int64_t>(c.n_ctx_train, 4096));
  n_seq_max_ = opts.n_seq_max;
  pool_ = opts.pool ? opts.pool : &ThreadPool::global();
  kv_ = std::make_unique<KvCache>(c, n_ctx_, n_seq_max_, opts.kv_type);
  if (opts.prefix_blocks < -1) fail("prefix cache: block count must be -1, 0 or positive (got ", opts.prefix_blocks, ")");
  // A recurrent layer's state at a block's end cannot be rebuilt from the
  // block's rows, so models with such layers (qwen3next) cache no prefixes.
  if (opts.prefix_blocks != 0 && !c.has_recurrent_layers()) {
    if (opts.prefix_block_tokens <= 0) fail("prefix cache: block size must be positive (got ", opts.prefix_block_tokens, ")");
    const int64_t n_blocks = opts.prefix_blocks > 0 ? opts.prefix_blocks
                                                    : std::max<int64_t>(1, int64_t{n_seq_max_} * n_ctx_ / opts.prefix_block_tokens);
    prefix_ = std::make_unique<PrefixCache>(opts.prefix_block_tokens, static_cast<int>(n_blocks),
                                            kv_->packed_bytes(opts.prefix_block_tokens));
  }
  forward_ = std::make_unique<model::Forward>(model);
  // The first forward pass would fault the weights in page by page, and for
  // pages not in the page cache wait on one disk read at a time. So: every
  // tensor that each token uses (all but the routed experts) is asked for
  // now, the chosen experts of each layer as soon as the first pass has
  // routed them, and after that pass every page is mapped in the background
  // (forward()). All of it stays the page cache's memory: nothing is copied.
  const MappedFile* f = model.file().mapping();
  warm_up_ = f && f->size() >= kPopulateMinBytes;
  if (warm_up_) {
    for (const gguf::TensorInfo& t : model.file().tensors())
      if (!gguf::is_expert_tensor(t.name)) advise_willneed(t.data, t.n_bytes);
    forward_->set_advise_experts(true);
  }
  seq_len_.assign(static_cast<size_t>(n_seq_max_), 0);
}

Engine::~Engine() = default;

int32_t Engine::n_vocab() const { return static_cast<int32_t>(model_.config().n_vocab); }

void Engine::forward(std::span<const BatchRow> rows, std::vector<float>& logits) {
  // Check every row before any work, so a bad batch leaves the cache as it was.
  std::unordered_map<int32_t, int32_t> next;  // seq -> position its next row must have
  const int32_t nv = n_vocab();
  for (size_t i = 0; i < rows.size(); ++i) {
    const BatchRow& r = rows[i];
    if (r.seq < 0 || r.seq >= n_seq_max_)
      fail("batch row ", i, ": sequence id ", r.seq, " is out of range [0, ", n_seq_max_, ")");
    if (r.token < 0 || r.token >= nv)
      fail("batch row ", i, ": token id ", r.token, " is out of range [0, ", nv, ")");
    auto it = next.try_emplace(r.seq, seq_len_[static_cast<size_t>(r.seq)]).first;
    if (r.pos != it->second)
      fail("batch row ", i, ": sequence ", r.seq, " position ", r.pos, " does not continue its cache (expected ",
           it->second, ")");
    if (r.pos >= n_ctx_)
      fail("batch row ", i, ": sequence ", r.seq, " position ", r.pos, " is past the context length ", n_ctx_);
    ++it->second;
  }
  // The followers get the rows once they are known to be good, and run the
  // pass with this one (its expert exchanges talk to them).
  std::unique_lock<std::mutex> followers;
  if (journal_) followers = journal_->forward(rows);
  if (spread_) {
    run_kv_moves();
    forward_spread(rows, logits);
  } else {
    forward_->run(rows, *kv_, pool_, logits);
  }
  for (const auto& [seq, len] : next) seq_len_[static_cast<size_t>(seq)] = len;
  if (warm_up_) {
    warm_up_ = false;
    forward_->set_advise_experts(false);
    model_.file().mapping()->populate_in_background();
  }
}

void Engine::clear_sequence(int32_t seq) {
  if (seq < 0 || seq >= n_seq_max_) fail("sequence id ", seq, " is out of range [0, ", n_seq_max_, ")");
  seq_len_[static_cast<size_t>(seq)] = 0;
  if (journal_) journal_->clear_sequence(seq);
}

void Engine::copy_sequence(int32_t src, int32_t dst) {
  const int32_t n = sequence_length(src);
  (void)sequence_length(dst);  // range check
  if (src == dst) return;
  if (spread_) {
    kv_moves_.push_back({.kind = KvMove::kCopy, .seq = src, .dst = dst, .n = n, .blocks = {}});
  } else {
    std::vector<uint8_t> rows(kv_->packed_bytes(n));
    kv_->copy_out(src, 0, n, rows.data());
    kv_->copy_in(dst, 0, n, rows.data());
    kv_->copy_recurrent_states(src, dst);
  }
  seq_len_[static_cast<size_t>(dst)] = n;
  if (journal_) journal_->copy_sequence(src, dst);
}

int32_t Engine::sequence_length(int32_t seq) const {
  if (seq < 0 || seq >= n_seq_max_) fail("sequence id ", seq, " is out of range [0, ", n_seq_max_, ")");
  return seq_len_[static_cast<size_t>(seq)];
}

int32_t Engine::reuse_prefix(int32_t seq, std::span<const int32_t> tokens, std::vector<int32_t>& chain) {
  if (seq < 0 || seq >= n_seq_max_) fail("sequence id ", seq, " is out of range [0, ", n_seq_max_, ")");
  FRUGAL_CHECK(chain.empty() && seq_len_[static_cast<size_t>(seq)] == 0);
  if (!prefix_ || tokens.empty()) return 0;
  const int64_t bt = prefix_->block_tokens();
  // The last token is always computed: its logits start the completion.
  const int64_t limit = std::min<int64_t>(static_cast<int64_t>(tokens.size()) - 1, n_ctx_);
  chain = prefix_->acquire_prefix(tokens, static_cast<size_t>(limit / bt));
  if (spread_ && !chain.empty())
    kv_moves_.push_back({.kind = KvMove::kReuse, .seq = seq, .blocks = chain});
  else
    for (size_t i = 0; i < chain.size(); ++i)
      kv_->copy_in(seq, static_cast<int64_t>(i) * bt, bt, prefix_->data(chain[i]));
  const int32_t n = static_cast<int32_t>(chain.size() * static_cast<size_t>(bt));
  seq_len_[static_cast<size_t>(seq)] = n;
  if (journal_) journal_->reuse_prefix(seq, tokens, chain, n);
  return n;
}

bool Engine::cache_block(int32_t seq, std::span<const int32_t> tokens, std::vector<int32_t>& chain) {
  if (seq < 0 || seq >= n_seq_max_) fail("sequence id ", seq, " is out of range [0, ", n_seq_max_, ")");
  if (!prefix_) return false;
  const int64_t bt = prefix_->block_tokens();
  const int64_t pos = static_cast<int64_t>(chain.size()) * bt;
  FRUGAL_CHECK(static_cast<int64_t>(tokens.size()) == bt && pos + bt <= seq_len_[static_cast<size_t>(seq)]);
  const PrefixCache::Added a = prefix_->add(chain.empty() ? -1 : chain.back(), tokens);
  if (journal_) journal_->cache_block(seq, tokens, chain, a.block);
  if (a.block < 0) return false;
  if (a.fresh && spread_)
    kv_moves_.push_back({.kind = KvMove::kFill, .seq = seq, .n = static_cast<int32_t>(pos), .blocks = {a.block}});
  else if (a.fresh)
    kv_->copy_out(seq, pos, bt, prefix_->data(a.block));
  chain.push_back(a.block);
  return true;
}

void Engine::release_blocks(std::vector<int32_t>& chain) {
  if (journal_ && !chain.empty()) journal_->release_blocks(chain);
  for (int32_t b : chain) prefix_->release(b);
  chain.clear();
}

size_t Engine::kv_bytes_per_position() const { return kv_->packed_bytes(1); }

const std::vector<uint64_t>& Engine::expert_rows() const { return forward_->expert_rows(); }

}  // namespace frugal::runtime
