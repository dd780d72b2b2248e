#include "runtime/engine_journal.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "base/error.h"
#include "runtime/engine.h"
#include "runtime/prefix_cache.h"

namespace frugal::runtime {
namespace {

// A message is int32 words: records of an op code and its operands; lists
// are a length and then their values.
enum Op : int32_t {
  kShape = 1,   // n_ctx, n_seq_max, n_vocab, prefix blocks, block tokens, KV bytes per position
  kClear,       // seq
  kCopy,        // src, dst
  kReuse,       // seq, [tokens], [chain], reused
  kCacheBlock,  // seq, [tokens], [chain before], block (-1: none added)
  kRelease,     // [chain]
  // Each message ends with one of these:
  kForward,     // [rows as seq, pos, token, want_logits]
  kKeepAlive,
  kStop,        // finished (1: the leader ends normally)
};

std::vector<int32_t> shape_of(const Engine& e) {
  const PrefixCache* pc = e.prefix_cache();
  return {e.n_ctx(),
          e.n_seq_max(),
          e.n_vocab(),
          pc ? pc->n_blocks() : 0,
          pc ? pc->block_tokens() : 0,
          static_cast<int32_t>(e.kv_bytes_per_position())};
}

// Reads a message's words, every read checked against its end.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> bytes) {
    if (bytes.size() % sizeof(int32_t) != 0) bad();
    words_.resize(bytes.size() / sizeof(int32_t));
    if (!bytes.empty()) std::memcpy(words_.data(), bytes.data(), bytes.size());
  }
  bool done() const { return at_ == words_.size(); }
  int32_t next() {
    if (done()) bad();
    return words_[at_++];
  }
  std::span<const int32_t> list() {
    const int32_t n = next();
    if (n < 0 || static_cast<size_t>(n) > words_.size() - at_) bad();
    std::span<const int32_t> s(words_.data() + at_, static_cast<size_t>(n));
    at_ += static_cast<size_t>(n);
    return s;
  }

 private:
  [[noreturn]] static void bad() { fail("expert-parallel serve: a malformed message from rank 0"); }
  std::vector<int32_t> words_;
  size_t at_ = 0;
};

[[noreturn]] void parted(const std::string& what) {
  fail("expert-parallel serve: this rank's caches have parted from rank 0's (", what, ")");
}

}  // namespace

EngineJournal::EngineJournal(Engine& engine, JournalChannel send, std::chrono::milliseconds keep_alive)
    : engine_(engine), send_(std::move(send)), keep_alive_(keep_alive) {
  {
    std::lock_guard lk(mu_);
    pending_.push_back(kShape);
    put(shape_of(engine_));
    put({kKeepAlive});
    send_locked();
  }
  engine_.set_journal(this);
  keep_alive_thread_ = std::thread([this] { keep_alive_loop(); });
}

EngineJournal::~EngineJournal() { stop(false); }

void EngineJournal::stop(bool finished) {
  {
    std::lock_guard lk(mu_);
    if (stopped_) return;
    put({kStop, finished ? 1 : 0});
    send_locked();
    stopped_ = true;
    engine_.set_journal(nullptr);
  }
  cv_.notify_all();
  if (keep_alive_thread_.joinable()) keep_alive_thread_.join();
}

void EngineJournal::keep_alive_loop() {
  std::unique_lock lk(mu_);
  while (!stopped_) {
    cv_.wait_for(lk, keep_alive_, [&] { return stopped_; });
    if (!stopped_ && std::chrono::steady_clock::now() - last_sent_ >= keep_alive_) {
      put({kKeepAlive});
      send_locked();
    }
  }
}

void EngineJournal::put(std::initializer_list<int32_t> words) { pending_.insert(pending_.end(), words); }

void EngineJournal::put(std::span<const int32_t> list) {
  pending_.push_back(static_cast<int32_t>(list.size()));
  pending_.insert(pending_.end(), list.begin(), list.end());
}

void EngineJournal::send_locked() {
  bytes_.resize(pending_.size() * sizeof(int32_t));
  std::memcpy(bytes_.data(), pending_.data(), bytes_.size());
  pending_.clear();
  send_(bytes_);
  last_sent_ = std::chrono::steady_clock::now();
}

void EngineJournal::clear_sequence(int32_t seq) {
  std::lock_guard lk(mu_);
  if (!stopped_) put({kClear, seq});
}

void EngineJournal::copy_sequence(int32_t src, int32_t dst) {
  std::lock_guard lk(mu_);
  if (!stopped_) put({kCopy, src, dst});
}

void EngineJournal::reuse_prefix(int32_t seq, std::span<const int32_t> tokens, std::span<const int32_t> chain,
                                 int32_t reused) {
  std::lock_guard lk(mu_);
  if (stopped_) return;
  put({kReuse, seq});
  put(tokens);
  put(chain);
  put({reused});
}

void EngineJournal::cache_block(int32_t seq, std::span<const int32_t> tokens, std::span<const int32_t> chain_before,
                                int32_t block) {
  std::lock_guard lk(mu_);
  if (stopped_) return;
  put({kCacheBlock, seq});
  put(tokens);
  put(chain_before);
  put({block});
}

void EngineJournal::release_blocks(std::span<const int32_t> chain) {
  std::lock_guard lk(mu_);
  if (stopped_) return;
  put({kRelease});
  put(chain);
}

std::unique_lock<std::mutex> EngineJournal::forward(std::span<const model::BatchRow> rows) {
  std::unique_lock lk(mu_);
  if (stopped_) return lk;
  for (const model::BatchRow& r : rows)
    if (r.lora) fail("expert-parallel serve: a row with its own LoRA adapter (adapters are not served across ranks)");
  put({kForward, static_cast<int32_t>(rows.size())});
  for (const model::BatchRow& r : rows) put({r.seq, r.pos, r.token, r.want_logits ? 1 : 0});
  send_locked();
  return lk;
}

bool follow_engine(Engine& engine, const JournalChannel& receive) {
  std::vector<uint8_t> bytes;
  std::vector<model::BatchRow> rows;
  std::vector<int32_t> chain;
  std::vector<float> logits;
  bool shaped = false;
  for (;;) {
    receive(bytes);
    Reader in(bytes);
    while (!in.done()) {
      const int32_t op = in.next();
      if (!shaped && op != kShape) parted("the first message does not give rank 0's engine");
      switch (op) {
        case kShape: {
          const std::span<const int32_t> theirs = in.list();
          const std::vector<int32_t> mine = shape_of(engine);
          if (!std::equal(theirs.begin(), theirs.end(), mine.begin(), mine.end()))
            fail("expert-parallel serve: rank 0's engine (context, sequence slots, vocabulary, prefix cache, KV "
                 "type) differs from this rank's: give every rank the same flags");
          shaped = true;
          break;
        }
        case kClear:
          engine.clear_sequence(in.next());
          break;
        case kCopy: {
          const int32_t src = in.next();
          engine.copy_sequence(src, in.next());
          break;
        }
        case kReuse: {
          const int32_t seq = in.next();
          const std::span<const int32_t> tokens = in.list(), want = in.list();
          const int32_t want_reused = in.next();
          chain.clear();
          const int32_t reused = engine.reuse_prefix(seq, tokens, chain);
          if (reused != want_reused || !std::equal(chain.begin(), chain.end(), want.begin(), want.end()))
            parted("a reused prefix");
          break;
        }
        case kCacheBlock: {
          const int32_t seq = in.next();
          const std::span<const int32_t> tokens = in.list(), before = in.list();
          const int32_t want_block = in.next();
          chain.assign(before.begin(), before.end());
          const bool added = engine.cache_block(seq, tokens, chain);
          if (added != (want_block >= 0) || (added && chain.back() != want_block)) parted("a cached block");
          break;
        }
        case kRelease: {
          const std::span<const int32_t> c = in.list();
          chain.assign(c.begin(), c.end());
          engine.release_blocks(chain);
          break;
        }
        case kForward: {
          const int32_t n = in.next();
          if (n < 0) parted("a forward pass of " + std::to_string(n) + " rows");
          rows.resize(static_cast<size_t>(n));
          for (model::BatchRow& r : rows) {
            r.seq = in.next();
            r.pos = in.next();
            r.token = in.next();
            r.want_logits = in.next() != 0;
          }
          if (!in.done()) parted("a message that goes on after its forward pass");
          engine.forward(rows, logits);
          break;
        }
        case kKeepAlive:
          break;
        case kStop:
          return in.next() != 0;
        default:
          fail("expert-parallel serve: an unknown operation ", op, " from rank 0");
      }
    }
  }
}

}  // namespace frugal::runtime
