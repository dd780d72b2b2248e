// Expert placement (model/expert_placement.h): the balancing of measured
// expert loads over ranks, with and without replicas, the placement file,
// and the checks on hand-made placements.
#include "model/expert_placement.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "base/error.h"
#include "base/output_file.h"
#include "model/presets.h"

namespace frugal::model {
namespace {

// Rows of n experts with Zipf-like popularity (rank + 1)^-s over `total`
// rows, the ranking shuffled.
std::vector<uint64_t> zipf_rows(size_t n, double s, uint64_t total, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<size_t> rank(n);
  std::iota(rank.begin(), rank.end(), size_t{0});
  std::shuffle(rank.begin(), rank.end(), rng);
  double z = 0;
  for (size_t i = 0; i < n; ++i) z += std::pow(static_cast<double>(i + 1), -s);
  std::vector<uint64_t> rows(n);
  for (size_t e = 0; e < n; ++e)
    rows[e] = static_cast<uint64_t>(static_cast<double>(total) * std::pow(static_cast<double>(rank[e] + 1), -s) / z +
                                    static_cast<double>(rng() % 3));
  return rows;
}

uint64_t max_of(const std::vector<uint64_t>& v) { return *std::max_element(v.begin(), v.end()); }

// The properties every assignment of balance_layer has.
void check_assignment(const std::vector<uint64_t>& rows, int nr, int replicas, const LayerAssignment& a) {
  const size_t ne = rows.size();
  ASSERT_EQ(a.size(), static_cast<size_t>(nr));
  std::vector<int> copies(ne, 0);
  size_t total = 0;
  for (const auto& list : a) {
    EXPECT_TRUE(std::is_sorted(list.begin(), list.end()));
    EXPECT_EQ(std::adjacent_find(list.begin(), list.end()), list.end()) << "a rank holds an expert twice";
    for (int64_t e : list) {
      ASSERT_GE(e, 0);
      ASSERT_LT(e, static_cast<int64_t>(ne));
      ++copies[static_cast<size_t>(e)];
    }
    total += list.size();
  }
  for (size_t e = 0; e < ne; ++e) EXPECT_GE(copies[e], 1) << "expert " << e << " is on no rank";
  // At most replicas extra copies per rank on average, and the same number
  // of slots on every rank: no rank holds more than its share rounded up.
  EXPECT_LE(total, ne + static_cast<size_t>(nr) * static_cast<size_t>(replicas));
  const size_t cap = (total + static_cast<size_t>(nr) - 1) / static_cast<size_t>(nr);
  for (const auto& list : a) EXPECT_LE(list.size(), cap);
  EXPECT_LE(cap, (ne + static_cast<size_t>(nr) - 1) / static_cast<size_t>(nr) + static_cast<size_t>(replicas));
  // Replicas only of experts that have rows, and of the hottest first: when
  // an expert got its last copy, its rows per copy then (rows / (copies - 1))
  // were at least the rows of every expert left with one copy.
  uint64_t single_max = 0;
  for (size_t e = 0; e < ne; ++e)
    if (copies[e] == 1) single_max = std::max(single_max, rows[e]);
  for (size_t e = 0; e < ne; ++e)
    if (copies[e] > 1) {
      EXPECT_GT(rows[e], 0u);
      EXPECT_GE(rows[e], single_max * static_cast<uint64_t>(copies[e] - 1))
          << "expert " << e << " replicated before a hotter one";
    }
  // The rows add up, and the busiest rank carries at most the mean plus the
  // largest share of one copy (the longest-processing-time bound).
  const std::vector<uint64_t> load = rank_rows(rows, a);
  const uint64_t sum_rows = std::accumulate(rows.begin(), rows.end(), uint64_t{0});
  EXPECT_EQ(std::accumulate(load.begin(), load.end(), uint64_t{0}), sum_rows);
  uint64_t largest_copy = 0;
  for (size_t e = 0; e < ne; ++e)
    largest_copy = std::max(largest_copy, (rows[e] + static_cast<uint64_t>(copies[e]) - 1) / static_cast<uint64_t>(copies[e]));
  EXPECT_LE(static_cast<double>(max_of(load)), static_cast<double>(sum_rows) / nr + static_cast<double>(largest_copy))
      << ne << " experts on " << nr << " ranks, " << replicas << " replicas";
}

TEST(ExpertPlacement, BalancedLayersMeetTheBoundAndPlaceEveryExpert) {
  int cases = 0;
  for (size_t ne : {8u, 16u, 60u, 64u, 128u, 256u}) {
    for (int nr : {1, 2, 3, 4, 8, 16}) {
      for (int replicas : {0, 1, 2}) {
        for (double s : {0.0, 0.6, 1.0, 1.5}) {
          for (uint32_t seed : {1u, 2u, 3u}) {
            SCOPED_TRACE(std::to_string(ne) + " experts, " + std::to_string(nr) + " ranks, " +
                         std::to_string(replicas) + " replicas, skew " + std::to_string(s) + ", seed " +
                         std::to_string(seed));
            const std::vector<uint64_t> rows = zipf_rows(ne, s, 8 * 4096, seed);
            const LayerAssignment a = balance_layer(rows, nr, replicas);
            check_assignment(rows, nr, replicas, a);
            if (HasFatalFailure()) return;
            // No worse than the contiguous blocks (to a row or so: near-even
            // loads are near-even both ways).
            const double contiguous = imbalance(rank_rows(rows, contiguous_layer(static_cast<int64_t>(ne), nr)));
            EXPECT_LE(imbalance(rank_rows(rows, a)), contiguous * 1.001);
            ++cases;
          }
        }
      }
    }
  }
  EXPECT_EQ(cases, 6 * 6 * 3 * 4 * 3);
}

TEST(ExpertPlacement, HotExpertsAreReplicatedOnDistinctRanks) {
  // One expert with most of the rows: without replicas its rank is the
  // busiest by far; with one replica a rank, it is on every rank and its
  // rows split four ways.
  std::vector<uint64_t> rows(16, 100);
  rows[5] = 10000;
  const LayerAssignment none = balance_layer(rows, 4, 0);
  EXPECT_NEAR(imbalance(rank_rows(rows, none)), 10300.0 / (11500.0 / 4), 1e-9);
  const LayerAssignment one = balance_layer(rows, 4, 1);
  check_assignment(rows, 4, 1, one);
  for (const auto& list : one) EXPECT_TRUE(std::binary_search(list.begin(), list.end(), 5));
  EXPECT_LT(imbalance(rank_rows(rows, one)), 1.01);
  // Replicas are never of experts without rows, nor more than one a rank.
  std::vector<uint64_t> idle(8, 0);
  idle[0] = 7;
  const LayerAssignment a = balance_layer(idle, 2, 3);
  check_assignment(idle, 2, 3, a);
  size_t total = 0;
  for (const auto& list : a) total += list.size();
  EXPECT_EQ(total, 9u);  // expert 0 twice, the others once
  // No rows at all: the experts still spread evenly.
  const LayerAssignment zero = balance_layer(std::vector<uint64_t>(10, 0), 4, 1);
  check_assignment(std::vector<uint64_t>(10, 0), 4, 1, zero);
  // Replica rows: run j of `copies` of n rows.
  EXPECT_EQ(replica_rows(7, 0, 3) + replica_rows(7, 1, 3) + replica_rows(7, 2, 3), 7);
  EXPECT_EQ(replica_begin(7, 1, 3), 2);
  EXPECT_EQ(replica_rows(1, 0, 2), 0);
  EXPECT_EQ(replica_rows(1, 1, 2), 1);
}

TEST(ExpertPlacement, AssignmentsAreCheckedAndAnswerWhoHoldsWhat) {
  const ExpertPlacement c = ExpertPlacement::contiguous(3, 8, 3);
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(c.experts_of(1, 2), (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(c.holders(0, 7).size(), 1u);
  EXPECT_EQ(c.holders(0, 7)[0], 2);
  EXPECT_EQ(c.assignment(1), contiguous_layer(8, 3));

  // Layer 1 placed by hand, layers 0 and 2 left at the default.
  std::vector<LayerAssignment> layers(3);
  layers[1] = {{0, 2, 4, 6}, {1, 3, 5, 7, 6}};
  const ExpertPlacement p = ExpertPlacement::from_assignments(8, 2, layers);
  EXPECT_FALSE(p.is_contiguous());
  EXPECT_EQ(std::vector<int>(p.holders(1, 6).begin(), p.holders(1, 6).end()), (std::vector<int>{0, 1}));
  EXPECT_TRUE(p.holds(1, 1, 7));
  EXPECT_FALSE(p.holds(0, 1, 7));
  EXPECT_TRUE(p.holds(0, 0, 3));
  EXPECT_EQ(p.experts_of(1, 1), (std::vector<int64_t>{1, 3, 5, 6, 7}));

  auto bad = [](LayerAssignment a) {
    std::vector<LayerAssignment> l = {std::move(a)};
    return ExpertPlacement::from_assignments(4, 2, l);
  };
  EXPECT_THROW(bad({{0, 1}, {2}}), Error);           // expert 3 on no rank
  EXPECT_THROW(bad({{0, 1, 1}, {2, 3}}), Error);     // twice on rank 0
  EXPECT_THROW(bad({{0, 1, 4}, {2, 3}}), Error);     // out of range
  EXPECT_THROW(bad({{0, 1, 2, 3}}), Error);          // one rank's list for two
  EXPECT_NO_THROW(bad({{0, 1, 2, 3}, {0, 1, 2, 3}}));  // every expert everywhere
}

TEST(ExpertPlacement, TheFileRoundTripsAndFitsOnlyItsModel) {
  const std::string dir = (std::filesystem::temp_directory_path() / ("frugal_placement_" + std::to_string(::getpid()))).string();
  std::filesystem::create_directories(dir);
  ModelConfig c;
  for (const auto& p : all_presets())
    if (p.name == "tiny" && p.arch == "deepseek2") c = p.config;  // a leading dense layer
  ASSERT_GT(c.n_expert, 0);
  PlacementFile f;
  f.model = "m.gguf";
  f.architecture = c.arch;
  f.source = "text \"quoted\".txt";
  f.tokens = 1024;
  f.n_expert = c.n_expert;
  f.n_expert_used = c.n_expert_used;
  for (int64_t il = 0; il < c.n_layer; ++il)
    if (c.layer_is_moe(il)) {
      f.layers.push_back(il);
      f.rows.push_back(zipf_rows(static_cast<size_t>(c.n_expert), 1.0, 2048, static_cast<uint32_t>(il)));
    }
  ASSERT_FALSE(f.layers.empty());
  ASSERT_NE(f.layers.front(), 0);
  place(f, 2, 1);
  const std::string path = dir + "/p.json";
  write_placement_file(f, path);
  const PlacementFile g = read_placement_file(path);
  EXPECT_EQ(g.model, f.model);
  EXPECT_EQ(g.source, f.source);
  EXPECT_EQ(g.tokens, f.tokens);
  EXPECT_EQ(g.layers, f.layers);
  EXPECT_EQ(g.rows, f.rows);
  EXPECT_EQ(g.n_ranks, 2);
  EXPECT_EQ(g.replicas_per_rank, 1);
  EXPECT_EQ(g.placement, f.placement);

  bool replanned = true;
  const ExpertPlacement two = placement_for(g, c, 2, &replanned);
  EXPECT_FALSE(replanned);
  for (size_t i = 0; i < g.layers.size(); ++i) EXPECT_EQ(two.assignment(g.layers[i]), g.placement[i]);
  EXPECT_EQ(two.assignment(0), contiguous_layer(c.n_expert, 2));  // the dense layer
  const ExpertPlacement three = placement_for(g, c, 3, &replanned);
  EXPECT_TRUE(replanned);
  EXPECT_EQ(three.n_ranks(), 3);
  for (size_t i = 0; i < g.layers.size(); ++i) EXPECT_EQ(three.assignment(g.layers[i]), balance_layer(g.rows[i], 3, 1));

  ModelConfig other = c;
  other.n_expert *= 2;
  EXPECT_THROW(placement_for(g, other, 2), Error);
  other = c;
  other.n_leading_dense = 0;  // one more MoE layer than the file has
  EXPECT_THROW(placement_for(g, other, 2), Error);

  auto expect_bad = [&](const std::string& text, const std::string& want) {
    write_output_file(dir + "/bad.json", text);
    try {
      read_placement_file(dir + "/bad.json");
      ADD_FAILURE() << "accepted: " << text;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(want), std::string::npos) << e.what();
    }
  };
  expect_bad("{", "not a placement file");
  expect_bad("{\"format\": \"something else\"}", "not a placement file");
  const std::string head = R"({"format": "frugal expert placement", "version": 1, "n_expert": 4, "ranks": 2, "replicas_per_rank": 0, )";
  expect_bad(head + R"("layers": []})", "non-empty");
  expect_bad(head + R"("layers": [{"layer": 0, "rows": [1, 2, 3], "placement": [[0, 1], [2, 3]]}]})", "4 counts");
  expect_bad(head + R"("layers": [{"layer": 0, "rows": [1, 2, 3, 4], "placement": [[0, 1], [2]]}]})", "on no rank");
  expect_bad(head + R"("layers": [{"layer": 0, "rows": [1, 2, 3, -4], "placement": [[0, 1], [2, 3]]}]})", "non-negative");
  expect_bad(head + R"("layers": [{"layer": 1, "rows": [1, 2, 3, 4], "placement": [[0, 1], [2, 3]]},)"
                    R"({"layer": 1, "rows": [1, 2, 3, 4], "placement": [[0, 1], [2, 3]]}]})",
             "ascending");
  expect_bad(R"({"format": "frugal expert placement", "version": 2})", "version 2");
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace frugal::model
