// Attention data-parallel serving (Engine::spread_sequences, engine.h): each
// rank computes the rows of its own sequences (or rank 0 all of them),
// rank 0 gets every sampled row's logits, and KV rows move between ranks
// only where a sequence's rows are wanted on another rank (n choices copied from one slot to others, a
// cached prefix block reused by a sequence of another rank).
//
// Why logits travel to rank 0 rather than tokens back from each rank: the
// sampler state of a request (its seed's generator, penalties, a grammar or
// JSON schema's matcher, logprobs, stop strings) lives in the scheduler on
// rank 0, and its results feed the HTTP answer there; sampling elsewhere
// would mean moving that state, or keeping a copy of every request's on
// every rank. The price is n_vocab x 4 bytes per sampled row of another
// rank per step (docs/DISTRIBUTED.md gives the figures).
#include <cstring>
#include <utility>

#include "base/error.h"
#include "runtime/engine.h"
#include "runtime/kv_cache.h"
#include "runtime/prefix_cache.h"

namespace frugal::runtime {
namespace {

// Bytes as floats for the exchange (the last float padded).
std::vector<float> as_floats(const std::vector<uint8_t>& bytes) {
  std::vector<float> f((bytes.size() + sizeof(float) - 1) / sizeof(float), 0.0f);
  if (!bytes.empty()) std::memcpy(f.data(), bytes.data(), bytes.size());
  return f;
}

}  // namespace

void Engine::spread_sequences(model::ExpertParallel& group) {
  if (model_.config().has_recurrent_layers())
    fail("attention data-parallel serving: ", model_.file().path(),
         " has recurrent layers, whose states are not moved between ranks; serve it without --attention-dp");
  if (!model::attention_data_parallel(model_) || model::expert_parallel_of(model_) != &group)
    fail("attention data-parallel serving needs the model attached to the group with attention data-parallel on");
  spread_ = &group;
  first_rank_only_ = model::attention_ranks(model_) == model::AttentionRanks::kFirst;
}

void Engine::run_kv_moves() {
  const int n_ranks = spread_->n_ranks();
  std::vector<uint8_t> bytes;
  std::vector<float> recv;
  std::vector<int64_t> send_counts(static_cast<size_t>(n_ranks)), recv_counts;
  for (const KvMove& m : kv_moves_) {
    switch (m.kind) {
      case KvMove::kCopy: {
        const int from = owner(m.seq), to = owner(m.dst);
        bytes.assign(mine(m.seq) ? kv_->packed_bytes(m.n) : 0, 0);
        if (mine(m.seq)) kv_->copy_out(m.seq, 0, m.n, bytes.data());
        if (from != to) {
          const std::vector<float> send = as_floats(bytes);
          std::fill(send_counts.begin(), send_counts.end(), 0);
          send_counts[static_cast<size_t>(to)] = static_cast<int64_t>(send.size());
          spread_->move_blocks(send, send_counts, recv, recv_counts, "copying a sequence's KV rows between ranks");
          bytes.resize(kv_->packed_bytes(m.n));
          if (mine(m.dst)) std::memcpy(bytes.data(), recv.data(), bytes.size());
        }
        if (mine(m.dst)) kv_->copy_in(m.dst, 0, m.n, bytes.data());
        break;
      }
      case KvMove::kReuse:
        if (mine(m.seq))
          for (size_t i = 0; i < m.blocks.size(); ++i)
            kv_->copy_in(m.seq, static_cast<int64_t>(i) * prefix_->block_tokens(), prefix_->block_tokens(),
                         prefix_->data(m.blocks[i]));
        break;
      case KvMove::kFill: {
        // Every rank keeps every block: a later prompt may reuse it on any rank.
        const int64_t bt = prefix_->block_tokens();
        uint8_t* block = prefix_->data(m.blocks.front());
        bytes.assign(mine(m.seq) ? kv_->packed_bytes(bt) : 0, 0);
        if (mine(m.seq)) {
          kv_->copy_out(m.seq, m.n, bt, block);
          std::memcpy(bytes.data(), block, bytes.size());
        }
        if (n_ranks == 1 || first_rank_only_) break;  // no other rank will ever attend over it
        const std::vector<float> send = as_floats(bytes);
        for (int q = 0; q < n_ranks; ++q)
          send_counts[static_cast<size_t>(q)] = mine(m.seq) && q != spread_->rank() ? static_cast<int64_t>(send.size()) : 0;
        std::vector<float> all;  // the owner's block, one copy to each other rank, in rank order
        for (int q = 0; q < n_ranks; ++q)
          if (send_counts[static_cast<size_t>(q)] > 0) all.insert(all.end(), send.begin(), send.end());
        spread_->move_blocks(all, send_counts, recv, recv_counts, "sending a cached prefix block to every rank");
        if (!mine(m.seq)) {
          if (recv.size() * sizeof(float) < kv_->packed_bytes(bt)) fail("attention data-parallel: a short prefix block");
          std::memcpy(block, recv.data(), kv_->packed_bytes(bt));
        }
        break;
      }
    }
  }
  kv_moves_.clear();
}

void Engine::forward_spread(std::span<const BatchRow> rows, std::vector<float>& logits) {
  std::vector<BatchRow> own;
  for (const BatchRow& r : rows)
    if (mine(r.seq)) own.push_back(r);
  std::vector<float> own_logits;
  forward_->run(own, *kv_, pool_, own_logits);
  if (first_rank_only_) {  // rank 0 ran every row, in the batch's order
    logits = spread_->rank() == 0 ? std::move(own_logits) : std::vector<float>{};
    return;
  }
  // Every rank's logits to rank 0, rank by rank, each in its row order.
  std::vector<int64_t> send_counts(static_cast<size_t>(spread_->n_ranks()), 0), recv_counts;
  send_counts[0] = static_cast<int64_t>(own_logits.size());
  std::vector<float> received;
  spread_->move_blocks(own_logits, send_counts, received, recv_counts, "gathering logits on rank 0");
  logits.clear();
  if (spread_->rank() != 0) return;
  // Back to the batch's row order: each rank's next block of n_vocab.
  const size_t nv = static_cast<size_t>(n_vocab());
  std::vector<size_t> at(recv_counts.size(), 0);
  for (size_t q = 1; q < at.size(); ++q) at[q] = at[q - 1] + static_cast<size_t>(recv_counts[q - 1]);
  for (const BatchRow& r : rows) {
    if (!r.want_logits) continue;
    size_t& from = at[static_cast<size_t>(owner(r.seq))];
    logits.insert(logits.end(), received.begin() + static_cast<std::ptrdiff_t>(from),
                  received.begin() + static_cast<std::ptrdiff_t>(from + nv));
    from += nv;
  }
}

}  // namespace frugal::runtime
