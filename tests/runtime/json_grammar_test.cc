#include "runtime/json_grammar.h"

#include <gtest/gtest.h>

#include <random>

#include "base/error.h"
#include "base/utf8.h"
#include "model/model.h"
#include "runtime/token_constraint.h"

namespace frugal::runtime {
namespace {

using json = nlohmann::ordered_json;

bool accepts(const JsonGrammar& g, const std::string& text) {
  JsonMatcher m(g);
  return m.feed(text) && m.complete();
}

// A validator for the keywords the compiler supports, written from the
// JSON Schema rules rather than from the matcher.
bool valid(const json& v, const json& s, const json& root) {
  if (s.is_boolean()) return s.get<bool>();
  if (s.contains("$ref")) {
    const std::string ref = s["$ref"];
    if (ref == "#") return valid(v, root, root);
    return valid(v, root["$defs"][ref.substr(8)], root);
  }
  if (s.contains("const") && v != s["const"]) return false;
  if (s.contains("enum") && std::find(s["enum"].begin(), s["enum"].end(), v) == s["enum"].end()) return false;
  if (s.contains("anyOf")) {
    bool any = false;
    for (const json& a : s["anyOf"]) any = any || valid(v, a, root);
    if (!any) return false;
  }
  if (s.contains("type")) {
    const json types = s["type"].is_array() ? s["type"] : json::array({s["type"]});
    bool ok = false;
    for (const json& t : types) {
      const std::string n = t;
      ok = ok || (n == "object" && v.is_object()) || (n == "array" && v.is_array()) || (n == "string" && v.is_string()) ||
           (n == "integer" && v.is_number_integer()) || (n == "number" && v.is_number()) ||
           (n == "boolean" && v.is_boolean()) || (n == "null" && v.is_null());
    }
    if (!ok) return false;
  }
  if (v.is_object()) {
    const json props = s.value("properties", json::object());
    for (const json& r : s.value("required", json::array()))
      if (!v.contains(r.get<std::string>())) return false;
    for (const auto& [k, x] : v.items()) {
      if (props.contains(k)) {
        if (!valid(x, props[k], root)) return false;
      } else if (s.contains("additionalProperties")) {
        if (!valid(x, s["additionalProperties"], root)) return false;
      }
    }
  }
  if (v.is_array()) {
    if (s.contains("minItems") && v.size() < s["minItems"].get<size_t>()) return false;
    if (s.contains("maxItems") && v.size() > s["maxItems"].get<size_t>()) return false;
    if (s.contains("items"))
      for (const json& x : v)
        if (!valid(x, s["items"], root)) return false;
  }
  if (v.is_string()) {
    size_t chars = 0;
    const std::string t = v;
    for (size_t i = 0; i < t.size(); i += utf8_char_len(t, i)) ++chars;
    if (s.contains("minLength") && chars < s["minLength"].get<size_t>()) return false;
    if (s.contains("maxLength") && chars > s["maxLength"].get<size_t>()) return false;
  }
  return true;
}

// A random text of the grammar, byte by byte from what the matcher takes,
// leaning towards bytes that close values so the walk ends. Every state on
// the way must take some byte (no dead ends).
std::string random_text(const JsonGrammar& g, std::mt19937& rng, int max_bytes = 4000) {
  JsonMatcher m(g);
  std::string out;
  const std::string closing = "\"}],0123456789eluafnt";
  while (!m.closed() && static_cast<int>(out.size()) < max_bytes) {
    if (m.complete() && rng() % 4 == 0) break;
    std::vector<uint8_t> ok, close;
    for (int b = 0; b < 256; ++b) {
      JsonMatcher t(g);
      t.assign(m);
      if (!t.feed(static_cast<uint8_t>(b))) continue;
      ok.push_back(static_cast<uint8_t>(b));
      if (closing.find(static_cast<char>(b)) != std::string::npos) close.push_back(static_cast<uint8_t>(b));
    }
    if (ok.empty()) {
      ADD_FAILURE() << "dead end after " << out;
      break;
    }
    const std::vector<uint8_t>& from = !close.empty() && rng() % 3 != 0 ? close : ok;
    const uint8_t b = from[rng() % from.size()];
    EXPECT_TRUE(m.feed(b));
    out += static_cast<char>(b);
  }
  EXPECT_TRUE(m.complete()) << out;
  return out;
}

const json kPerson = json::parse(R"({
  "type": "object",
  "properties": {
    "name": {"type": "string", "maxLength": 8},
    "age": {"type": "integer"},
    "height": {"type": ["number", "null"]},
    "mood": {"enum": ["happy", "sad", 3, null]},
    "tags": {"type": "array", "items": {"type": "string", "maxLength": 3}, "minItems": 1, "maxItems": 3},
    "pet": {"type": "object", "properties": {"kind": {"const": "cat"}, "lives": {"type": "integer"}},
            "required": ["kind"], "additionalProperties": false},
    "ok": {"type": "boolean"}
  },
  "required": ["name", "age", "tags", "ok"],
  "additionalProperties": false
})");

TEST(JsonGrammar, AcceptsWhatTheSchemaAllowsAndRefusesTheRest) {
  const JsonGrammar g = compile_json_schema(kPerson);
  EXPECT_TRUE(accepts(g, R"({"name":"Ann","age":31,"tags":["a"],"ok":true})"));
  EXPECT_TRUE(accepts(g, R"({"ok": false, "tags": ["a", "bc"], "age": -2, "name": "\u00e9\n", "mood": 3})"));
  EXPECT_TRUE(accepts(g, R"({"name":"","age":0,"tags":["x"],"ok":true,"height":1.5,"pet":{"kind":"cat"}})"));
  EXPECT_TRUE(accepts(g, R"({"name":"日本","age":1,"tags":["x"],"ok":true,"height":null})"));
  for (const char* bad : {
           R"({"name":"Ann","age":31,"tags":["a"]})",                      // ok is required
           R"({"name":"Ann","age":3.5,"tags":["a"],"ok":true})",           // age is an integer
           R"({"name":"Ann","age":31,"tags":[],"ok":true})",               // minItems
           R"({"name":"Ann","age":31,"tags":["a","b","c","d"],"ok":true})", // maxItems
           R"({"name":"Annabelle!","age":31,"tags":["a"],"ok":true})",     // maxLength
           R"({"name":"Ann","age":31,"tags":["a"],"ok":true,"x":1})",      // no other keys
           R"({"name":"Ann","name":"Bo","age":31,"tags":["a"],"ok":true})", // a key twice
           R"({"name":"Ann","age":031,"tags":["a"],"ok":true})",           // leading zero
           R"({"name":"Ann","age":31,"tags":["a"],"ok":true,"mood":"glad"})",
           R"({"name":"\ud800","age":31,"tags":["a"],"ok":true})",         // a lone surrogate
           "{\"name\":\"a\x01\",\"age\":31,\"tags\":[\"a\"],\"ok\":true}",  // a control character
           "{\"name\":\"\xC3\x28\",\"age\":31,\"tags\":[\"a\"],\"ok\":true}",  // invalid UTF-8
           R"( {"name":"Ann","age":31,"tags":["a"],"ok":true})",           // leading space
           R"({"name":"Ann","age":31,"tags":["a"],"ok":true} )",           // anything after
           R"({"name":"Ann","age":31,"tags":["a"],"ok":true,"pet":{"lives":9}})",  // pet.kind required
       })
    EXPECT_FALSE(accepts(g, bad)) << bad;
}

TEST(JsonGrammar, RandomTextsParseAndMatchTheSchema) {
  const json schemas[] = {
      kPerson,
      json::parse(R"({"type":"array","items":{"anyOf":[{"type":"integer"},{"type":"string","maxLength":2},
                     {"type":"array","items":{"type":"boolean"},"maxItems":2}]},"maxItems":4})"),
      json::parse(R"({"$defs":{"node":{"type":"object","properties":{"v":{"type":"integer"},
                     "kids":{"type":"array","items":{"$ref":"#/$defs/node"},"maxItems":2}},"required":["v"],
                     "additionalProperties":false}},"$ref":"#/$defs/node"})"),
      json::parse(R"({"type":"object","additionalProperties":{"type":"number"}})"),
      json::parse(R"({"type":"object","properties":{},"additionalProperties":false})"),
  };
  std::mt19937 rng(7);
  for (const json& s : schemas) {
    const JsonGrammar g = compile_json_schema(s);
    for (int i = 0; i < 200; ++i) {
      const std::string text = random_text(g, rng);
      const json v = json::parse(text, nullptr, false);
      ASSERT_FALSE(v.is_discarded()) << text;
      EXPECT_TRUE(valid(v, s, s)) << s.dump() << "\n" << text;
    }
  }
}

TEST(JsonGrammar, JsonObjectModeTakesAnyObjectOnly) {
  const JsonGrammar g = json_object_grammar();
  EXPECT_TRUE(accepts(g, R"({"a":[1,{"b":null}],"c":"d","e":-0.5,"f":true})"));
  EXPECT_TRUE(accepts(g, "{}"));
  EXPECT_FALSE(accepts(g, "[1]"));
  EXPECT_FALSE(accepts(g, "\"text\""));
  EXPECT_FALSE(accepts(g, "{\"a\":1"));
  std::mt19937 rng(3);
  for (int i = 0; i < 200; ++i) {
    const std::string text = random_text(g, rng);
    const json v = json::parse(text, nullptr, false);
    ASSERT_FALSE(v.is_discarded()) << text;
    EXPECT_TRUE(v.is_object()) << text;
  }
}

TEST(JsonGrammar, EndsOnlyWhenWhole) {
  const JsonGrammar g = compile_json_schema(json::parse(R"({"type":"integer"})"));
  JsonMatcher m(g);
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(m.feed("-"));
  EXPECT_FALSE(m.complete());
  ASSERT_TRUE(m.feed("12"));
  EXPECT_TRUE(m.complete());
  EXPECT_FALSE(m.closed());  // more digits may follow
  const JsonGrammar o = json_object_grammar();
  JsonMatcher n(o);
  ASSERT_TRUE(n.feed("{\"a\":1}"));
  EXPECT_TRUE(n.closed());
}

TEST(JsonGrammar, RefusesWhatItCannotEnforceByName) {
  for (const auto& [schema, word] : std::vector<std::pair<std::string, std::string>>{
           {R"({"type":"string","pattern":"^a"})", "pattern"},
           {R"({"type":"integer","minimum":3})", "minimum"},
           {R"({"type":"string","format":"date"})", "format"},
           {R"({"oneOf":[{"type":"string"}]})", "oneOf"},
           {R"({"type":"object","properties":{"a":{"type":"string"}},"required":["b"]})", "\"b\""},
           {R"({"type":"widget"})", "widget"},
           {R"({"type":"string","minLength":3,"maxLength":2})", "minLength"},
           {R"({"anyOf":[{"type":"string"},{"enum":["x"]}]})", "begin"},
           {R"({"$ref":"#/$defs/missing"})", "missing"},
           {R"({"$ref":"http://example.com/s.json"})", "$ref"},
           {R"(false)", "false"},
           {R"({"$ref":"#"})", "itself"},
           {R"({"$defs":{"a":{"$ref":"#/$defs/b"},"b":{"$ref":"#/$defs/a"}},"anyOf":[{"$ref":"#/$defs/a"},{"type":"null"}]})",
            "itself"},
       }) {
    try {
      compile_json_schema(json::parse(schema));
      ADD_FAILURE() << "accepted " << schema;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(word), std::string::npos) << e.what();
    }
  }
}

// On a real vocabulary: the trie's mask is exactly the tokens whose bytes the
// matcher takes one by one (inside unbounded strings too, where the mask
// starts from the plain tokens), and generating with it gives valid JSON.
std::string constrained_walk(const tokenizer::Tokenizer& tok, std::shared_ptr<const TokenTrie> trie,
                             std::shared_ptr<const JsonGrammar> g, uint32_t seed) {
  TokenConstraint c(g, trie);
  std::mt19937 rng(seed);
  std::vector<uint8_t> mask;
  std::string text;
  for (int step = 0; step < 400 && !c.closed(); ++step) {
    c.mask(mask);
    std::vector<int32_t> ok;
    for (int32_t id = 0; id < tok.n_vocab(); ++id) {
      EXPECT_EQ(mask[static_cast<size_t>(id)] != 0, c.allows(id)) << "token " << id << " after " << text;
      if (mask[static_cast<size_t>(id)] != 0 && trie->has_text(id)) ok.push_back(id);
    }
    if (ok.empty()) break;
    // Lean towards tokens that close things, so that the text ends.
    int32_t id = ok[rng() % ok.size()];
    for (int tries = 0; tries < 8 && trie->bytes(id).find_first_of("\"}]") == std::string::npos; ++tries)
      id = ok[rng() % ok.size()];
    c.accept(id);
    text += trie->bytes(id);
  }
  EXPECT_TRUE(c.complete()) << text;
  return text;
}

TEST(TokenConstraint, MaskEqualsEachTokenTried) {
  auto model = model::Model::load(std::string(FRUGAL_SOURCE_DIR) + "/models/fortunes-moe.gguf");
  const auto tok = tokenizer::Tokenizer::from_metadata(model->file().metadata());
  auto trie = std::make_shared<const TokenTrie>(tok, model->file().metadata());
  EXPECT_GT(trie->max_plain_chars(), 1);
  const std::string text = constrained_walk(tok, trie, std::make_shared<const JsonGrammar>(compile_json_schema(kPerson)), 11);
  const json v = json::parse(text, nullptr, false);
  ASSERT_FALSE(v.is_discarded()) << text;
  EXPECT_TRUE(valid(v, kPerson, kPerson)) << text;
  for (uint32_t seed : {1u, 2u, 3u}) {
    const std::string any = constrained_walk(tok, trie, std::make_shared<const JsonGrammar>(json_object_grammar()), seed);
    const json o = json::parse(any, nullptr, false);
    ASSERT_FALSE(o.is_discarded()) << any;
    EXPECT_TRUE(o.is_object());
  }
}

}  // namespace
}  // namespace frugal::runtime
