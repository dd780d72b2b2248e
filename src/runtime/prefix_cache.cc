#include "runtime/prefix_cache.h"

#include <algorithm>

#include "base/error.h"

namespace frugal::runtime {

namespace {

// splitmix64's finaliser: every input bit moves every output bit.
uint64_t mix(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

constexpr uint64_t kRootHash = 0x6a09e667f3bcc908ULL;  // the "parent" of a sequence's first block

}  // namespace

PrefixCache::PrefixCache(int block_tokens, int n_blocks, size_t block_bytes)
    : block_tokens_(block_tokens), block_bytes_(block_bytes) {
  if (block_tokens <= 0) fail("prefix cache: block size must be positive (got ", block_tokens, ")");
  if (n_blocks <= 0) fail("prefix cache: block count must be positive (got ", n_blocks, ")");
  if (block_bytes == 0) fail("prefix cache: blocks of 0 bytes");
  blocks_.resize(static_cast<size_t>(n_blocks));
  free_.reserve(blocks_.size());
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_.push_back(b);
  // Uninitialised on purpose: a block's pages are touched when it is first
  // written, so an idle pool costs address space only.
  storage_.reset(new uint8_t[block_bytes * static_cast<size_t>(n_blocks)]);
}

uint64_t PrefixCache::chain_hash(int32_t parent, std::span<const int32_t> tokens) const {
  uint64_t h = parent < 0 ? kRootHash : blocks_[static_cast<size_t>(parent)].hash;
  for (int32_t t : tokens) h = mix(h ^ (static_cast<uint64_t>(static_cast<uint32_t>(t)) + 0x9e3779b97f4a7c15ULL));
  return h;
}

int32_t PrefixCache::find(int32_t parent, std::span<const int32_t> tokens, uint64_t hash) const {
  const auto it = by_hash_.find(hash);
  if (it == by_hash_.end()) return -1;
  // The hash only points the way: the block is this prefix only if its
  // parent and tokens are these.
  const Block& b = blocks_[static_cast<size_t>(it->second)];
  if (b.parent != parent || !std::equal(b.tokens.begin(), b.tokens.end(), tokens.begin(), tokens.end())) return -1;
  return it->second;
}

void PrefixCache::unlist(int32_t id) {
  const Block& b = blocks_[static_cast<size_t>(id)];
  lru_.erase({b.last_use, id});
}

void PrefixCache::relist(int32_t id) {
  const Block& b = blocks_[static_cast<size_t>(id)];
  if (evictable(b)) lru_.insert({b.last_use, id});
}

void PrefixCache::pin(int32_t id) {
  unlist(id);
  Block& b = blocks_[static_cast<size_t>(id)];
  ++b.refs;
  b.last_use = ++clock_;
}

std::vector<int32_t> PrefixCache::acquire_prefix(std::span<const int32_t> tokens, size_t max_blocks) {
  std::vector<int32_t> chain;
  const size_t bt = static_cast<size_t>(block_tokens_);
  int32_t parent = -1;
  for (size_t i = 0; i < max_blocks && (i + 1) * bt <= tokens.size(); ++i) {
    const std::span<const int32_t> part = tokens.subspan(i * bt, bt);
    const int32_t id = find(parent, part, chain_hash(parent, part));
    if (id < 0) break;
    chain.push_back(id);
    parent = id;
  }
  // Pinned from the end back, so that a chain's first blocks are the most
  // recently used: eviction takes leaves anyway, and among unrelated leaves
  // the order is by use.
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) pin(*it);
  return chain;
}

void PrefixCache::evict(int32_t id) {
  Block& b = blocks_[static_cast<size_t>(id)];
  unlist(id);
  by_hash_.erase(b.hash);
  if (b.parent >= 0) {
    Block& p = blocks_[static_cast<size_t>(b.parent)];
    --p.children;
    relist(b.parent);
  }
  b = Block{};
  --n_used_;
}

int32_t PrefixCache::take_block() {
  if (free_.empty()) {
    if (lru_.empty()) return -1;
    const int32_t victim = lru_.begin()->second;
    evict(victim);
    return victim;
  }
  const int32_t id = free_.back();
  free_.pop_back();
  return id;
}

PrefixCache::Added PrefixCache::add(int32_t parent, std::span<const int32_t> tokens) {
  FRUGAL_CHECK(static_cast<int>(tokens.size()) == block_tokens_);
  FRUGAL_CHECK(parent < n_blocks() && (parent < 0 || blocks_[static_cast<size_t>(parent)].refs > 0));
  const uint64_t hash = chain_hash(parent, tokens);
  if (const int32_t id = find(parent, tokens, hash); id >= 0) {
    pin(id);
    return {.block = id, .fresh = false};
  }
  if (by_hash_.count(hash)) return {};  // another prefix has this hash: not cached
  // The parent is pinned by the caller, so taking a block never evicts it.
  const int32_t id = take_block();
  if (id < 0) return {};
  Block& b = blocks_[static_cast<size_t>(id)];
  b.used = true;
  b.hash = hash;
  b.parent = parent;
  b.tokens.assign(tokens.begin(), tokens.end());
  b.refs = 1;
  b.children = 0;
  b.last_use = ++clock_;
  by_hash_.emplace(hash, id);
  if (parent >= 0) ++blocks_[static_cast<size_t>(parent)].children;  // pinned: not listed
  ++n_used_;
  return {.block = id, .fresh = true};
}

void PrefixCache::release(int32_t id) {
  FRUGAL_CHECK(id >= 0 && id < n_blocks());
  Block& b = blocks_[static_cast<size_t>(id)];
  FRUGAL_CHECK(b.used && b.refs > 0);
  --b.refs;
  relist(id);
}

int PrefixCache::n_pinned() const {
  int n = 0;
  for (const Block& b : blocks_) n += b.refs > 0;
  return n;
}

uint8_t* PrefixCache::data(int32_t block) {
  FRUGAL_CHECK(block >= 0 && block < n_blocks());
  return storage_.get() + static_cast<size_t>(block) * block_bytes_;
}

}  // namespace frugal::runtime
