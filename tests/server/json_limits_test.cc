// The bound on a request body's JSON shape: linear in the text, blind to
// braces and colons inside strings, and loose enough for real requests.
#include <gtest/gtest.h>

#include <chrono>

#include "server/json_limits.h"

namespace frugal::server {
namespace {

TEST(JsonLimits, ManyKeysAndDeepNestingAreRefused) {
  std::string keys = "{";
  for (int i = 0; i < 100000; ++i) keys += (i ? ",\"k" : "\"k") + std::to_string(i) + "\":0";
  keys += "}";
  const auto t0 = std::chrono::steady_clock::now();
  const auto why = json_out_of_bounds(keys);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("4096 keys"), std::string::npos) << *why;
  EXPECT_TRUE(json_out_of_bounds(std::string(65, '[') + std::string(65, ']')));
  EXPECT_TRUE(json_out_of_bounds("{\"a\": " + std::string(1000000, '{')));  // unclosed, still bounded
}

TEST(JsonLimits, RealRequestsPass) {
  std::string bias = "{\"prompt\": \"x\", \"logit_bias\": {";
  for (int i = 0; i < 300; ++i) bias += (i ? ",\"" : "\"") + std::to_string(i) + "\": -100";
  bias += "}}";
  EXPECT_FALSE(json_out_of_bounds(bias));
  EXPECT_FALSE(json_out_of_bounds(std::string(64, '[') + std::string(64, ']')));
  // Braces, brackets, colons and escaped quotes inside strings do not count.
  const std::string text = "{\"prompt\": \"" + std::string(100, '{') + ":\\\"[[[:" + "\"}";
  EXPECT_FALSE(json_out_of_bounds(text));
  std::string many_arrays = "{\"messages\": [";
  for (int i = 0; i < 10000; ++i) many_arrays += (i ? ",{\"role\":\"user\",\"content\":\"a:b\"}" : "{\"role\":\"user\",\"content\":\"a\"}");
  many_arrays += "]}";
  EXPECT_FALSE(json_out_of_bounds(many_arrays));  // keys count per object, not in total
}

}  // namespace
}  // namespace frugal::server
