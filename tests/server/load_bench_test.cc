// The load generator's pure parts: URLs, token ranges, percentiles, prompts
// (deterministic, distinct, the shared prefix apart) and the summary of
// records. The network side is tests/cli/bench_serve_test.sh.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "base/error.h"
#include "server/http_client.h"
#include "server/load_bench.h"
#include "server/load_prompt.h"

namespace frugal::server {
namespace {

TEST(LoadBench, ParsesUrls) {
  HttpUrl u = parse_http_url("http://127.0.0.1:8080");
  EXPECT_EQ(u.host, "127.0.0.1");
  EXPECT_EQ(u.port, "8080");
  EXPECT_EQ(u.path_prefix, "");
  u = parse_http_url("http://localhost/api/");
  EXPECT_EQ(u.host, "localhost");
  EXPECT_EQ(u.port, "80");
  EXPECT_EQ(u.path_prefix, "/api");
  u = parse_http_url("http://[::1]:9000");
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, "9000");
  for (const char* bad : {"https://h", "h:80", "http://", "http://:80", "http://h:0", "http://h:65536", "http://h:x",
                          "http://[::1", "http://[::1]x"})
    EXPECT_THROW(parse_http_url(bad), Error) << bad;
}

TEST(LoadBench, ParsesTokenRanges) {
  TokenRange r = parse_token_range("16-64", "--f", 1);
  EXPECT_EQ(r.lo, 16);
  EXPECT_EQ(r.hi, 64);
  r = parse_token_range("7", "--f", 1);
  EXPECT_EQ(r.lo, 7);
  EXPECT_EQ(r.hi, 7);
  for (const char* bad : {"", "-", "0", "5-3", "a", "1-", "-4", "1-2-3", "2000000", " 4"})
    EXPECT_THROW(parse_token_range(bad, "--f", 1), Error) << bad;
}

TEST(LoadBench, PercentileIsNearestRank) {
  EXPECT_EQ(percentile({}, 50), 0);
  EXPECT_EQ(percentile({5}, 99), 5);
  std::vector<double> v;
  for (int i = 100; i >= 1; --i) v.push_back(i);
  EXPECT_EQ(percentile(v, 50), 50);
  EXPECT_EQ(percentile(v, 99), 99);
  EXPECT_EQ(percentile(v, 100), 100);
  EXPECT_EQ(percentile(v, 0), 1);
}

TEST(LoadBench, PromptsAreDeterministicDistinctAndSized) {
  std::set<std::string> seen;
  for (uint64_t i = 0; i < 200; ++i) {
    const std::string p = load_prompt(1, i, 8);
    EXPECT_EQ(p, load_prompt(1, i, 8));
    EXPECT_EQ(std::count(p.begin(), p.end(), ' '), 7) << p;  // 8 words
    seen.insert(p);
  }
  EXPECT_EQ(seen.size(), 200u);
  EXPECT_NE(load_prompt(1, 0, 8), load_prompt(2, 0, 8));
  EXPECT_EQ(load_system_prompt(3, 40), load_system_prompt(3, 40));
  EXPECT_NE(load_system_prompt(3, 8), load_prompt(3, 0, 8));
  EXPECT_EQ(load_prompt(1, 0, 0), "");
}

TEST(LoadBench, SummarizesOkRequestsOnly) {
  std::vector<RequestRecord> rs(3);
  rs[0].ok = true, rs[0].output_tokens = 10, rs[0].ttft_seconds = 0.1, rs[0].itl_seconds = {0.01, 0.03};
  rs[0].usage_reported = true, rs[0].prompt_tokens = 20;
  rs[1].ok = true, rs[1].output_tokens = 6, rs[1].ttft_seconds = 0.3, rs[1].itl_seconds = {0.02};
  rs[2].error = "HTTP 503", rs[2].output_tokens = 99;
  const LoadSummary s = summarize_load(rs, 2.0);
  EXPECT_EQ(s.ok, 2);
  EXPECT_EQ(s.failed, 1);
  EXPECT_EQ(s.output_tokens, 16);
  EXPECT_DOUBLE_EQ(s.output_tokens_per_second, 8.0);
  EXPECT_DOUBLE_EQ(s.ttft_p50, 0.1);
  EXPECT_DOUBLE_EQ(s.ttft_p99, 0.3);
  EXPECT_DOUBLE_EQ(s.itl_p50, 0.02);
  EXPECT_DOUBLE_EQ(s.itl_p99, 0.03);
  EXPECT_EQ(s.usage_reported, 1);
  EXPECT_EQ(s.prompt_tokens, 20);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0], "1x HTTP 503");
}

TEST(LoadBench, RefusesBadOptions) {
  LoadOptions o;
  o.clients = 0;
  EXPECT_THROW(check_load_options(o), Error);
  o.clients = 1, o.requests = 0;
  EXPECT_THROW(check_load_options(o), Error);
  o.requests = 1, o.timeout_seconds = 0;
  EXPECT_THROW(check_load_options(o), Error);
  o.timeout_seconds = 1, o.system_prompt_tokens = -1;
  EXPECT_THROW(check_load_options(o), Error);
  o.system_prompt_tokens = 0;
  EXPECT_NO_THROW(check_load_options(o));
}

}  // namespace
}  // namespace frugal::server
