// Lead-ins before a constrained value (a forced tool call's name in its
// family's markers): on a real vocabulary, the mask equals each token tried;
// the text starts with exactly one lead-in, special tokens included (a
// harmony lead-in holds <|constrain|> and <|message|>), and what follows it
// is a value of that lead-in's own grammar.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "model/model.h"
#include "runtime/token_constraint.h"

namespace frugal::runtime {
namespace {

using json = nlohmann::ordered_json;

std::shared_ptr<const JsonGrammar> one_key(const char* key, const json& values) {
  return std::make_shared<const JsonGrammar>(compile_json_schema(
      {{"type", "object"}, {"properties", {{key, {{"enum", values}}}}}, {"required", {key}}, {"additionalProperties", false}}));
}

TEST(TokenConstraint, LeadInsComeBeforeTheirValues) {
  auto model = model::Model::load(std::string(FRUGAL_SOURCE_DIR) + "/models/fortunes-moe.gguf");
  const auto tok = tokenizer::Tokenizer::from_metadata(model->file().metadata());
  auto trie = std::make_shared<const TokenTrie>(tok, model->file().metadata());
  const int32_t special = tok.encode("<|im_start|>", false, true).at(0);
  ASSERT_FALSE(trie->has_text(special)) << "the lead-in should hold a special token";
  JsonGrammar g = json_object_grammar();
  g.lead_ins = {"get_weather<|im_start|>", "get_time<|im_start|>"};
  g.lead_in_values = {one_key("city", {"Paris", "Rome"}), one_key("zone", {"UTC", "CET"})};
  const auto grammar = std::make_shared<const JsonGrammar>(std::move(g));
  std::set<std::string> leads_seen;
  for (uint32_t seed = 0; seed < 12; ++seed) {
    TokenConstraint c(grammar, trie);
    std::mt19937 rng(seed);
    std::vector<uint8_t> mask;
    std::string text;
    bool special_allowed = false;  // where the lead-in reaches it, the special token may come
    for (int step = 0; step < 200 && !c.closed(); ++step) {
      c.mask(mask);
      std::vector<int32_t> ok;
      for (int32_t id = 0; id < tok.n_vocab(); ++id) {
        ASSERT_EQ(mask[static_cast<size_t>(id)] != 0, c.allows(id)) << "token " << id << " after " << text;
        if (mask[static_cast<size_t>(id)] != 0 && !tok.is_end_of_generation(id)) ok.push_back(id);
      }
      ASSERT_FALSE(ok.empty()) << text;
      special_allowed |= mask[static_cast<size_t>(special)] != 0;
      const int32_t id = ok[rng() % ok.size()];
      c.accept(id);
      text += trie->bytes(id);
    }
    ASSERT_TRUE(c.closed()) << text;
    EXPECT_TRUE(special_allowed) << text;
    const size_t end = text.find("<|im_start|>");
    ASSERT_NE(end, std::string::npos) << text;
    const std::string name = text.substr(0, end);
    const json value = json::parse(text.substr(end + 12), nullptr, false);
    if (name == "get_weather") {
      EXPECT_TRUE(value == json({{"city", "Paris"}}) || value == json({{"city", "Rome"}})) << text;
    } else {
      EXPECT_EQ(name, "get_time") << text;
      EXPECT_TRUE(value == json({{"zone", "UTC"}}) || value == json({{"zone", "CET"}})) << text;
    }
    leads_seen.insert(name);
  }
  EXPECT_EQ(leads_seen.size(), 2u);
}

}  // namespace
}  // namespace frugal::runtime
