// Prefix caching: the block pool's bookkeeping (chained hashes, whole blocks
// only, pins, least-recently-used eviction of leaves, a full pool) and, for
// every architecture (latent attention included) and cache type, logits after
// a reused prefix equal a cold run's, for a shared prefix that ends mid-block.
#include "runtime/prefix_cache.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "base/error.h"
#include "model/forward_test_model.h"
#include "runtime/engine.h"
#include "runtime/engine_test_util.h"
#include "runtime/kv_cache.h"

namespace frugal::runtime {
namespace {

using model::testing::TempModel;
using model::testing::write_test_model;
using testing::max_rel_diff;
using testing::run_steps;

std::vector<int32_t> seq(int32_t from, size_t n) {
  std::vector<int32_t> v;
  for (size_t i = 0; i < n; ++i) v.push_back(from + static_cast<int32_t>(i));
  return v;
}

std::span<const int32_t> block(const std::vector<int32_t>& t, size_t i, size_t bt) {
  return std::span<const int32_t>(t).subspan(i * bt, bt);
}

// Adds the whole blocks of `t` as one chain and returns it (pinned).
std::vector<int32_t> add_chain(PrefixCache& pc, const std::vector<int32_t>& t) {
  std::vector<int32_t> chain;
  const size_t bt = static_cast<size_t>(pc.block_tokens());
  for (size_t i = 0; (i + 1) * bt <= t.size(); ++i) {
    const PrefixCache::Added a = pc.add(chain.empty() ? -1 : chain.back(), block(t, i, bt));
    if (a.block < 0) break;
    chain.push_back(a.block);
  }
  return chain;
}

void release(PrefixCache& pc, std::vector<int32_t>& chain) {
  for (int32_t b : chain) pc.release(b);
  chain.clear();
}

TEST(PrefixCache, FindsTheLongestChainOfWholeBlocks) {
  PrefixCache pc(4, 16, 8);
  const std::vector<int32_t> a = seq(100, 10);  // two whole blocks and half of one
  auto chain = add_chain(pc, a);
  ASSERT_EQ(chain.size(), 2u);
  EXPECT_EQ(pc.n_used(), 2);
  release(pc, chain);

  // The same start, ending mid-block after the first block: one block.
  std::vector<int32_t> b = seq(100, 6);
  b.push_back(7);
  b.push_back(8);
  auto got = pc.acquire_prefix(b, 10);
  ASSERT_EQ(got.size(), 1u);
  release(pc, got);
  // A different first token: nothing, though the second block's tokens match.
  std::vector<int32_t> c = a;
  c[0] = 99;
  EXPECT_TRUE(pc.acquire_prefix(c, 10).empty());
  // The second block alone is not the start of a sequence.
  EXPECT_TRUE(pc.acquire_prefix(seq(104, 4), 10).empty());
  // At most max_blocks.
  got = pc.acquire_prefix(a, 1);
  EXPECT_EQ(got.size(), 1u);
  release(pc, got);
  got = pc.acquire_prefix(a, 10);
  EXPECT_EQ(got.size(), 2u);
  release(pc, got);
}

TEST(PrefixCache, AddingACachedBlockSharesIt) {
  PrefixCache pc(4, 8, 8);
  const std::vector<int32_t> a = seq(1, 8);
  auto first = add_chain(pc, a);
  const PrefixCache::Added again = pc.add(-1, block(a, 0, 4));
  EXPECT_EQ(again.block, first[0]);
  EXPECT_FALSE(again.fresh);
  EXPECT_EQ(pc.n_used(), 2);
  pc.release(again.block);
  release(pc, first);
}

TEST(PrefixCache, EvictsTheLeastRecentlyUsedLeafAndNeverAPinnedBlock) {
  PrefixCache pc(2, 4, 8);
  // Chain A: 2 blocks; chain B: 2 blocks. The pool is full.
  const std::vector<int32_t> a = {1, 2, 3, 4}, b = {5, 6, 7, 8}, c = {9, 10, 11, 12};
  auto ca = add_chain(pc, a);
  auto cb = add_chain(pc, b);
  ASSERT_EQ(ca.size(), 2u);
  ASSERT_EQ(cb.size(), 2u);
  // Everything pinned: no room.
  EXPECT_EQ(pc.add(-1, block(c, 0, 2)).block, -1);
  release(pc, ca);
  release(pc, cb);
  // A is used again, so B is the older: C's first block takes B's leaf.
  auto ua = pc.acquire_prefix(a, 2);
  ASSERT_EQ(ua.size(), 2u);
  release(pc, ua);
  auto cc = add_chain(pc, std::vector<int32_t>{9, 10});
  ASSERT_EQ(cc.size(), 1u);
  EXPECT_EQ(pc.acquire_prefix(a, 2).size(), 2u);  // A whole (pinned now)
  auto ub = pc.acquire_prefix(b, 2);
  EXPECT_EQ(ub.size(), 1u);  // B's first block stayed: the leaf went first
  release(pc, ub);
  // With A and C pinned, only B's first block can go, then nothing.
  EXPECT_GE(pc.add(cc[0], std::vector<int32_t>{11, 12}).block, 0);
  EXPECT_TRUE(pc.acquire_prefix(b, 2).empty());
  EXPECT_EQ(pc.add(-1, std::vector<int32_t>{13, 14}).block, -1);
  EXPECT_EQ(pc.n_used(), 4);
  EXPECT_EQ(pc.n_pinned(), 4);  // A whole and C whole
}

TEST(PrefixCache, BadSizesAreErrors) {
  EXPECT_THROW(PrefixCache(0, 4, 8), Error);
  EXPECT_THROW(PrefixCache(4, 0, 8), Error);
  EXPECT_THROW(PrefixCache(4, 4, 0), Error);
}

std::vector<int32_t> tokens(int32_t n_vocab, size_t n, size_t salt) {
  std::vector<int32_t> ids;
  for (size_t i = 0; i < n; ++i)
    ids.push_back(static_cast<int32_t>((i * 7919 + 13 + salt * 104729) % static_cast<size_t>(n_vocab)));
  return ids;
}

// For each architecture and cache type: prompt A is computed and cached; B
// shares A's first 18 tokens (4.5 blocks of 4) and goes on differently. B's
// logits after reusing 4 blocks equal B's logits computed cold.
TEST(PrefixCache, ReusedPrefixGivesTheColdLogitsForEveryArchitecture) {
  ThreadPool pool(2);
  for (const auto& [arch, preset] : model::testing::tiny_presets()) {
    TempModel f("prefix" + arch + preset);
    const model::ModelConfig cfg = model::find_preset(arch, preset).config;
    write_test_model(cfg, f.path);
    const auto m = model::Model::load(f.path);
    const int32_t nv = static_cast<int32_t>(m->config().n_vocab);
    if (cfg.has_recurrent_layers()) {
      // A recurrent state is not kept per position: no prefix is cached.
      EngineOptions o;
      o.n_ctx = 64;
      o.prefix_blocks = 32;
      o.prefix_block_tokens = 4;
      Engine e(*m, o);
      EXPECT_EQ(e.prefix_cache(), nullptr) << arch;
      const std::vector<int32_t> a = tokens(nv, 8, 1);
      std::vector<int32_t> chain;
      EXPECT_EQ(e.reuse_prefix(0, a, chain), 0);
      run_steps(e, a, 8);
      EXPECT_FALSE(e.cache_block(0, block(a, 0, 4), chain));
      continue;
    }
    for (KvType kt : {KvType::kF32, KvType::kF16, KvType::kQ8_0}) {
      if (!model::kv_type_unsupported(m->config(), kt).empty()) continue;
      SCOPED_TRACE(arch + " " + preset + " " + model::kv_type_name(kt));
      EngineOptions o;
      o.n_ctx = 64;
      o.n_seq_max = 2;
      o.pool = &pool;
      o.kv_type = kt;
      Engine cold(*m, o);
      o.prefix_blocks = 32;
      o.prefix_block_tokens = 4;
      Engine warm(*m, o);

      const std::vector<int32_t> a = tokens(nv, 26, 1);
      std::vector<int32_t> b(a.begin(), a.begin() + 18);
      for (int32_t t : tokens(nv, 12, 2)) b.push_back(t);

      std::vector<int32_t> chain;
      EXPECT_EQ(warm.reuse_prefix(0, a, chain), 0);  // nothing cached yet
      run_steps(warm, a, 9);
      for (size_t i = 0; i < a.size() / 4; ++i) ASSERT_TRUE(warm.cache_block(0, block(a, i, 4), chain));
      EXPECT_EQ(chain.size(), 6u);
      warm.release_blocks(chain);
      warm.clear_sequence(0);

      ASSERT_EQ(warm.reuse_prefix(1, b, chain), 16);
      EXPECT_EQ(warm.sequence_length(1), 16);
      const auto got = run_steps(warm, std::vector<int32_t>(b.begin() + 16, b.end()), 5, 1);
      const auto all = run_steps(cold, b, b.size());
      const std::vector<float> want(all.begin() + 16 * static_cast<ptrdiff_t>(nv), all.end());
      EXPECT_LT(max_rel_diff(want, got), 1e-5);
      for (float x : got) ASSERT_TRUE(std::isfinite(x));
      warm.release_blocks(chain);

      // The whole of A again: its last token is computed (its logits start
      // the answer), so 24 of 26 come from the cache.
      warm.clear_sequence(1);
      EXPECT_EQ(warm.reuse_prefix(1, a, chain), 24);
      warm.release_blocks(chain);
    }
  }
}

TEST(PrefixCache, TheEngineDefaultPoolHoldsAContextPerSequence) {
  TempModel f("prefixpool");
  write_test_model(model::find_preset("qwen3moe", "tiny").config, f.path);
  const auto m = model::Model::load(f.path);
  EngineOptions o;
  o.n_ctx = 64;
  o.n_seq_max = 3;
  o.prefix_blocks = -1;
  Engine e(*m, o);
  ASSERT_NE(e.prefix_cache(), nullptr);
  EXPECT_EQ(e.prefix_cache()->n_blocks(), 3 * 64 / 16);
  o.prefix_blocks = 0;
  EXPECT_EQ(Engine(*m, o).prefix_cache(), nullptr);
  o.prefix_blocks = -2;
  EXPECT_THROW(Engine(*m, o), Error);
}

}  // namespace
}  // namespace frugal::runtime
