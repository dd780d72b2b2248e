// The scoring parts of `frugal perplexity` on hand-made numbers: the chunk
// plan, row scores, the mean's error, percentiles, and the base
// log-probability file written, read back and compared (a row against itself
// gives KL 0 and the same top; a shifted row the KL of its definition).
#include "runtime/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "base/error.h"
#include "runtime/kl_divergence.h"

namespace frugal::runtime {
namespace {

TEST(Perplexity, ChunkPlan) {
  const ChunkPlan p = plan_chunks(1000, 128, 0);
  EXPECT_EQ(p.n_chunk, 7);
  EXPECT_EQ(p.first, 64);
  EXPECT_EQ(p.scored_per_chunk(), 63);
  EXPECT_EQ(plan_chunks(1000, 128, 3).n_chunk, 3);
  EXPECT_EQ(plan_chunks(256, 128, 0).n_chunk, 2);
  EXPECT_THROW(plan_chunks(255, 128, 0), Error);
  EXPECT_THROW(plan_chunks(1000, 3, 0), Error);
}

TEST(Perplexity, RowScoreAndStatistics) {
  const std::vector<float> row = {1.0f, 3.0f, 2.0f, 3.0f};
  const RowScore r = score_row(row);
  EXPECT_EQ(r.top, 1);  // the first of two equal maxima
  EXPECT_NEAR(r.log_sum_exp, std::log(std::exp(1.0) + 2 * std::exp(3.0) + std::exp(2.0)), 1e-12);

  NllStats s;
  for (double v : {1.0, 2.0, 3.0, 4.0}) s.add(v);
  EXPECT_NEAR(s.ppl(), std::exp(2.5), 1e-12);
  // sqrt(population variance / (n - 1)) = sqrt(1.25 / 3)
  EXPECT_NEAR(s.ppl_error(), std::exp(2.5) * std::sqrt(1.25 / 3), 1e-12);
  EXPECT_EQ(mean_and_error(5, 25, 1).error, 0);

  const std::vector<double> v = {1, 2, 3, 4, 5};
  EXPECT_EQ(percentile(v, 0), 1);
  EXPECT_EQ(percentile(v, 1), 5);
  EXPECT_NEAR(percentile(v, 0.5), 3, 1e-12);
  EXPECT_NEAR(percentile(v, 0.9), 4.6, 1e-12);
}

TEST(Perplexity, BaseFileRoundTrip) {
  const std::string path = (std::filesystem::temp_directory_path() / "frugal_perplexity_test.kl").string();
  // 2 chunks of 4 tokens: one scored position each (positions 2 -> 3).
  const LogProbHeader h{.n_vocab = 5, .n_ctx = 4, .n_chunk = 2, .bos = -1};
  const std::vector<int32_t> tokens = {0, 1, 2, 3, 4, 3, 2, 1};
  const std::vector<std::vector<float>> rows = {{0.5f, -1.0f, 2.0f, 0.0f, -30.0f}, {3.0f, 3.5f, -2.0f, 0.1f, 1.0f}};
  {
    LogProbWriter w(path, h, tokens);
    w.add_row(rows[0], 3);
    EXPECT_THROW(w.commit(), Error);  // one row short
  }
  {
    LogProbWriter w(path, h, tokens);
    w.add_row(rows[0], 3);
    w.add_row(rows[1], 1);
    w.commit();
  }
  const LogProbReader rd(path);
  EXPECT_EQ(rd.header().n_vocab, 5u);
  EXPECT_EQ(std::vector<int32_t>(rd.tokens().begin(), rd.tokens().end()), tokens);
  EXPECT_EQ(rd.plan().n_chunk, 2);
  EXPECT_EQ(rd.row(0).top, 2);
  EXPECT_EQ(rd.row(1).top, 1);

  KlStats self;
  self.add(rd.row(0), rows[0], 3);
  self.add(rd.row(1), rows[1], 1);
  EXPECT_GE(self.sum_kld, 0);
  EXPECT_LT(self.sum_kld, 1e-7);
  EXPECT_EQ(self.same_top, 2u);
  EXPECT_NEAR(self.nll.sum, self.nll_base.sum, 1e-6);

  // Another model's row: KL(base || q) by its definition (the -30 entry is
  // more than 16 nats below the top and left out: its share is ~1e-14).
  const std::vector<float> q = {0.0f, 0.0f, 2.5f, 0.0f, 0.0f};
  KlStats other;
  other.add(rd.row(0), q, 3);
  auto logp = [](const std::vector<float>& z) {
    double s = 0;
    for (float v : z) s += std::exp(static_cast<double>(v));
    std::vector<double> out;
    for (float v : z) out.push_back(v - std::log(s));
    return out;
  };
  const std::vector<double> pb = logp(rows[0]), pq = logp(q);
  double kl = 0;
  for (size_t i = 0; i < pb.size(); ++i) kl += std::exp(pb[i]) * (pb[i] - pq[i]);
  EXPECT_NEAR(other.sum_kld, kl, 1e-4 * kl + 1e-6);
  EXPECT_EQ(other.same_top, 1u);
  EXPECT_NEAR(other.dp[0], std::exp(pq[3]) - std::exp(pb[3]), 1e-6);

  // A damaged file is refused with its name.
  std::filesystem::resize_file(path, std::filesystem::file_size(path) - 1);
  try {
    LogProbReader bad(path);
    ADD_FAILURE() << "a truncated file was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
  std::filesystem::remove(path);
}

}  // namespace
}  // namespace frugal::runtime
