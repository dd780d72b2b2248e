// The inference engine: a model, its KV cache for up to n_seq_max sequences,
// and the forward pass over batches of rows. One call of forward() may mix
// sequences, prefill chunks and decode steps; the server's scheduler builds
// such batches, `frugal run` and `frugal logits` simpler ones.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "base/thread_pool.h"
#include "model/expert_parallel.h"
#include "model/forward.h"
#include "model/model.h"

namespace frugal::runtime {

class EngineJournal;
class KvCache;
class PrefixCache;

// {seq, pos, token, want_logits}: see model/forward.h.
using model::BatchRow;
using model::KvType;

struct EngineOptions {
  int n_ctx = 0;                    // positions per sequence; 0: min(model's n_ctx_train, 4096)
  int n_seq_max = 1;                // sequences (ids 0 .. n_seq_max-1)
  ThreadPool* pool = nullptr;       // null: ThreadPool::global()
  KvType kv_type = KvType::kF32;    // cache entries: f32 (exact) or f16 (half the memory)
  // Prefix caching across sequences (runtime/prefix_cache.h): blocks of
  // prefix_block_tokens positions; 0 blocks: off; -1: a whole context for
  // every sequence (n_seq_max * n_ctx / prefix_block_tokens). Always off for
  // models with recurrent layers (their state is not kept per position).
  int prefix_blocks = 0;
  int prefix_block_tokens = 16;
};

class Engine {
 public:
  Engine(const model::Model& model, EngineOptions opts);  // allocates the KV cache
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  const model::Model& model() const { return model_; }
  int n_ctx() const { return n_ctx_; }
  int n_seq_max() const { return n_seq_max_; }
  int32_t n_vocab() const;

  // Runs one batch: rows may mix sequences, prefill chunks and decode steps.
  // Positions of a sequence must continue where its cache ends (and rise by
  // one from row to row of that sequence). Writes one row of n_vocab logits
  // per row with want_logits, in row order, to `logits` (resized).
  // A bad row (sequence id, token or position out of range, a gap, a
  // position past n_ctx) is a frugal::Error before any work; the cache is
  // then unchanged.
  void forward(std::span<const BatchRow> rows, std::vector<float>& logits);

  void clear_sequence(int32_t seq);        // drop a sequence's cache (and recurrent state)
  // dst's cache becomes a copy of src's (n choices of one prompt, read once).
  void copy_sequence(int32_t src, int32_t dst);
  int32_t sequence_length(int32_t seq) const;

  // The prefix cache (null when off). Its blocks are pinned by the chains
  // below; release_blocks() unpins a chain.
  const PrefixCache* prefix_cache() const { return prefix_.get(); }

  // Starts an empty sequence from the longest cached prefix of `tokens` (whole
  // blocks, at least one token of `tokens` left to compute): copies those
  // blocks' rows in, sets the sequence's length and returns it; `chain`
  // receives the blocks, pinned. 0 when nothing is cached or caching is off.
  int32_t reuse_prefix(int32_t seq, std::span<const int32_t> tokens, std::vector<int32_t>& chain);

  // Caches the sequence's next block: `tokens` are the block_tokens tokens at
  // positions [chain.size() * block_tokens, ...), which must all be in the
  // sequence's cache. Appends the block to `chain` (pinned); false when the
  // pool has no room (the chain cannot grow).
  bool cache_block(int32_t seq, std::span<const int32_t> tokens, std::vector<int32_t>& chain);

  void release_blocks(std::vector<int32_t>& chain);  // unpins and empties

  // Bytes of KV cache one position of one sequence takes (all layers): what
  // a decode step reads per cached position, for the bandwidth roofline.
  size_t kv_bytes_per_position() const;

  // Records every later change of this engine's state and every forward
  // pass in `journal` (null: none), which sends them to engines that follow
  // this one (runtime/engine_journal.h). The journal attaches itself.
  void set_journal(EngineJournal* journal) { journal_ = journal; }

  // Attention data-parallel serving (engine_spread.cc): sequence s is
  // computed on rank owner(s) = s % n_ranks of `group` (the model's
  // expert-parallel group, with attention data-parallel on), or on rank 0
  // whatever s when the model's attention runs there alone
  // (model::AttentionRanks::kFirst). Every rank's
  // engine then takes the same calls in the same order (rank 0's scheduler,
  // the others through the journal): forward() gets every rank's rows, runs
  // the rows of this rank's sequences, and gathers the logits on rank 0 (in
  // row order; the other ranks get none). The KV rows of a sequence live on
  // its rank alone; what moves them (copy_sequence across ranks, a
  // prefix-cache block made on one rank and reused on another, sent to
  // every rank once when cached) runs at the start of the next forward(),
  // in the order asked, since only there do all ranks meet. Refused for
  // models with recurrent layers (their states would have to move too).
  void spread_sequences(model::ExpertParallel& group);
  // The rank that computes sequence `seq` (0 unless spread).
  int owner(int32_t seq) const { return spread_ && !first_rank_only_ ? seq % spread_->n_ranks() : 0; }

  // Rows routed to each routed expert by the forward passes so far, at
  // layer * n_expert + expert (empty before the first MoE layer ran):
  // model::Forward::expert_rows.
  const std::vector<uint64_t>& expert_rows() const;

 private:
  const model::Model& model_;
  int n_ctx_ = 0;
  int n_seq_max_ = 1;
  ThreadPool* pool_ = nullptr;
  std::unique_ptr<KvCache> kv_;
  std::unique_ptr<PrefixCache> prefix_;
  std::unique_ptr<model::Forward> forward_;
  std::vector<int32_t> seq_len_;
  EngineJournal* journal_ = nullptr;

  // Attention data-parallel serving (engine_spread.cc).
  // A KV move waiting for the next forward(): a copy of a sequence's rows
  // (kCopy), blocks copied into a sequence (kReuse), a block filled from a
  // sequence and sent to every rank (kFill).
  struct KvMove {
    enum Kind { kCopy, kReuse, kFill } kind;
    int32_t seq = 0, dst = 0;       // kCopy: from seq to dst
    int32_t n = 0;                  // kCopy: positions; kFill: the block's first position
    std::vector<int32_t> blocks;    // kReuse: the chain; kFill: the block
  };
  bool mine(int32_t seq) const { return owner(seq) == (spread_ ? spread_->rank() : 0); }
  void run_kv_moves();
  void forward_spread(std::span<const BatchRow> rows, std::vector<float>& logits);
  model::ExpertParallel* spread_ = nullptr;
  bool first_rank_only_ = false;  // every sequence on rank 0 (model::AttentionRanks::kFirst)
  std::vector<KvMove> kv_moves_;
  bool warm_up_ = false;  // before the first forward() of a large mapped model (see the constructor)
};

}  // namespace frugal::runtime
