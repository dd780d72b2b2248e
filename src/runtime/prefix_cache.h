// Prefix caching across requests: a pool of fixed-size blocks, each holding
// the keys and values (every layer) of block_tokens consecutive positions of
// some earlier sequence. A block is named by a hash of its tokens chained
// with its parent's hash (the block before it), so a block stands for the
// whole prefix up to its end, and two requests that start alike find the same
// blocks. Requests pin the blocks they use (reference counts); when the pool
// is full, the least recently used block that is neither pinned nor the parent
// of a cached block is evicted, so chains shrink from their ends and a shared
// system prompt outlives the conversations built on it.
//
// This class keeps the bookkeeping and the block memory; the Engine copies
// rows between a sequence's cache and the blocks (the attention kernels read
// each sequence's rows contiguously, so a running sequence keeps its own slot
// and a cached prefix is copied into it when the request starts).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace frugal::runtime {

class PrefixCache {
 public:
  // n_blocks blocks of block_bytes each; the memory is taken from the system
  // as blocks are first written. Non-positive sizes are a frugal::Error.
  PrefixCache(int block_tokens, int n_blocks, size_t block_bytes);

  int block_tokens() const { return block_tokens_; }
  int n_blocks() const { return static_cast<int>(blocks_.size()); }
  int n_used() const { return n_used_; }  // blocks holding a cached prefix
  int n_pinned() const;                   // of those, blocks some sequence holds
  size_t block_bytes() const { return block_bytes_; }

  // The cached blocks that begin `tokens`, in order, whole blocks only and at
  // most max_blocks of them. Each is pinned (release() it) and counts as
  // just used.
  std::vector<int32_t> acquire_prefix(std::span<const int32_t> tokens, size_t max_blocks);

  struct Added {
    int32_t block = -1;  // -1: no room (every block pinned or a parent), or a hash clash
    bool fresh = false;  // the caller must write the block's rows
  };
  // Caches the block_tokens `tokens` that follow the block `parent` (-1: the
  // start of a sequence), pinned. When that block is already cached (another
  // request computed the same prefix) it is returned pinned, not fresh.
  Added add(int32_t parent, std::span<const int32_t> tokens);

  void release(int32_t block);  // unpins one acquire_prefix() or add()

  uint8_t* data(int32_t block);

 private:
  struct Block {
    bool used = false;
    uint64_t hash = 0;
    int32_t parent = -1;
    std::vector<int32_t> tokens;
    int refs = 0;
    int children = 0;
    uint64_t last_use = 0;
  };

  uint64_t chain_hash(int32_t parent, std::span<const int32_t> tokens) const;
  int32_t find(int32_t parent, std::span<const int32_t> tokens, uint64_t hash) const;
  bool evictable(const Block& b) const { return b.used && b.refs == 0 && b.children == 0; }
  void pin(int32_t id);          // refs+1 and just used
  void unlist(int32_t id);       // out of the eviction order, if there
  void relist(int32_t id);       // into it, if evictable
  int32_t take_block();          // a free block, or the oldest evictable one emptied; -1 if none
  void evict(int32_t id);

  int block_tokens_;
  size_t block_bytes_;
  std::vector<Block> blocks_;
  std::unordered_map<uint64_t, int32_t> by_hash_;
  std::set<std::pair<uint64_t, int32_t>> lru_;  // (last use, block) of the evictable blocks
  std::vector<int32_t> free_;
  int n_used_ = 0;
  uint64_t clock_ = 0;
  std::unique_ptr<uint8_t[]> storage_;
};

}  // namespace frugal::runtime
