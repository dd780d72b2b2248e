// POST /tokenize and /detokenize on loopback: the ids are the tokenizer's own
// encode (each flag as llama-server reads it), the text is its own decode
// made valid UTF-8, pieces are the tokens' bytes, and every bad body is a
// 400 naming its field.
#include <gtest/gtest.h>

#include <random>

#include "base/utf8.h"
#include "server/server_fixture.h"

namespace frugal::server {
namespace {

using testing::json;
using testing::ServerFixture;

// Plain text, accented letters and an emoji (split over byte tokens by the
// default model's byte-level vocabulary), CJK, a chat-template special token
// spelled out, and the empty string.
const std::vector<std::string> kTexts = {
    "The meaning of life is", "  two  spaces\tand a tab\n", "caf\xC3\xA9 \xE2\x98\x95 na\xC3\xAFve",
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "<|im_start|>user\nhi<|im_end|>", ""};

std::vector<int32_t> ids_of(const json& tokens) {
  std::vector<int32_t> ids;
  for (const json& t : tokens) ids.push_back(t.is_object() ? t["id"].get<int32_t>() : t.get<int32_t>());
  return ids;
}

TEST(TokenEndpoints, TokenizeIsTheTokenizersEncode) {
  ServerFixture f(1);
  const tokenizer::Tokenizer& tok = *f.tok;
  for (const std::string& s : kTexts) {
    // llama-server's defaults: add_special false, parse_special true.
    auto [status, body] = f.post("/tokenize", json{{"content", s}});
    ASSERT_EQ(status, 200) << body.dump();
    EXPECT_EQ(ids_of(body["tokens"]), tok.encode(s, false, true)) << s;
    // add_special adds BOS where the model wants it, as /v1/completions encodes prompts.
    std::tie(status, body) = f.post("/tokenize", json{{"content", s}, {"add_special", true}});
    EXPECT_EQ(ids_of(body["tokens"]), tok.encode(s, tok.add_bos_default(), true)) << s;
    std::tie(status, body) = f.post("/tokenize", json{{"content", s}, {"parse_special", false}});
    EXPECT_EQ(ids_of(body["tokens"]), tok.encode(s, false, false)) << s;
  }
  // The special token is one id when parsed, several pieces of text when not.
  const std::string special = "<|im_start|>";
  EXPECT_EQ(f.post("/tokenize", json{{"content", special}}).second["tokens"].size(), 1u);
  EXPECT_GT(f.post("/tokenize", json{{"content", special}, {"parse_special", false}}).second["tokens"].size(), 1u);
}

TEST(TokenEndpoints, MixedContentKeepsIdsAsTheyAre) {
  ServerFixture f(1);
  const tokenizer::Tokenizer& tok = *f.tok;
  auto [status, body] = f.post("/tokenize", json{{"content", json::array({"Hello", 256, " world", 7})}});
  ASSERT_EQ(status, 200) << body.dump();
  std::vector<int32_t> want = tok.encode("Hello", false, true);
  want.push_back(256);
  for (int32_t id : tok.encode(" world", false, true)) want.push_back(id);
  want.push_back(7);
  EXPECT_EQ(ids_of(body["tokens"]), want);
}

TEST(TokenEndpoints, PiecesAreTheTokensBytes) {
  ServerFixture f(1);
  const tokenizer::Tokenizer& tok = *f.tok;
  int byte_arrays = 0;
  for (const std::string& s : kTexts) {
    auto [status, body] = f.post("/tokenize", json{{"content", s}, {"with_pieces", true}});
    ASSERT_EQ(status, 200) << body.dump();
    std::vector<int32_t> ids;
    std::string joined;
    for (const json& t : body["tokens"]) {
      const int32_t id = t["id"].get<int32_t>();
      ids.push_back(id);
      std::string bytes;
      if (t["piece"].is_string()) {
        bytes = t["piece"].get<std::string>();
        EXPECT_TRUE(is_valid_utf8(bytes));
      } else {
        // Not a character on its own: its byte values, as llama-server sends them.
        ++byte_arrays;
        for (const json& b : t["piece"]) bytes += static_cast<char>(b.get<int>());
        EXPECT_FALSE(is_valid_utf8(bytes));
      }
      EXPECT_EQ(bytes, tok.token_bytes(id)) << id;
      joined += bytes;
    }
    EXPECT_EQ(ids, tok.encode(s, false, true)) << s;
    EXPECT_EQ(joined, tok.decode(ids)) << s;
  }
  EXPECT_GT(byte_arrays, 0) << "the texts were meant to split characters over byte tokens";
}

TEST(TokenEndpoints, DetokenizeIsTheTokenizersDecodeInValidUtf8) {
  ServerFixture f(1);
  const tokenizer::Tokenizer& tok = *f.tok;
  // Round trip: the ids /tokenize gives come back as the text.
  for (const std::string& s : kTexts) {
    const json ids = f.post("/tokenize", json{{"content", s}}).second["tokens"];
    auto [status, body] = f.post("/detokenize", json{{"tokens", ids}});
    ASSERT_EQ(status, 200) << body.dump();
    EXPECT_EQ(body["content"], tok.decode(ids_of(ids))) << s;
    EXPECT_EQ(body["content"], s);
  }
  // Any ids at all, byte tokens out of place included: decode made valid.
  std::mt19937 rng(7);
  std::uniform_int_distribution<int32_t> any(0, tok.n_vocab() - 1);
  for (int round = 0; round < 20; ++round) {
    std::vector<int32_t> ids(50);
    for (int32_t& id : ids) id = any(rng);
    auto [status, body] = f.post("/detokenize", json{{"tokens", ids}});
    ASSERT_EQ(status, 200) << body.dump();
    EXPECT_EQ(body["content"], to_valid_utf8(tok.decode(ids)));
  }
  // Half a character (the first byte of "é"): U+FFFD. No tokens: "".
  const json half = f.post("/tokenize", json{{"content", "\xC3\xA9"}}).second["tokens"];
  ASSERT_EQ(half.size(), 2u);
  EXPECT_EQ(f.post("/detokenize", json{{"tokens", {half[0]}}}).second["content"], std::string(kReplacementCharacter));
  EXPECT_EQ(f.post("/detokenize", json{{"tokens", json::array()}}).second["content"], "");
}

struct BadBody {
  const char* path;
  std::string body;
  const char* param;  // "" for the body as a whole
};

TEST(TokenEndpoints, BadBodiesAre400sNamingTheField) {
  ServerFixture f(1);
  const std::string n_vocab = std::to_string(f.tok->n_vocab());
  const std::vector<BadBody> cases = {
      {"/tokenize", "{not json", ""},
      {"/tokenize", "[\"hi\"]", ""},
      {"/tokenize", "{}", "content"},
      {"/tokenize", R"({"content": 5})", "content"},
      {"/tokenize", R"({"content": {"text": "hi"}})", "content"},
      {"/tokenize", R"({"content": ["hi", 1.5]})", "content"},
      {"/tokenize", R"({"content": ["hi", [1]]})", "content"},
      {"/tokenize", R"({"content": ["hi", )" + n_vocab + "]}", "content"},
      {"/tokenize", R"({"content": "hi", "add_special": 1})", "add_special"},
      {"/tokenize", R"({"content": "hi", "parse_special": "no"})", "parse_special"},
      {"/tokenize", R"({"content": "hi", "with_pieces": "yes"})", "with_pieces"},
      {"/detokenize", "{not json", ""},
      {"/detokenize", "{}", "tokens"},
      {"/detokenize", R"({"tokens": "hi"})", "tokens"},
      {"/detokenize", R"({"tokens": [1, "2"]})", "tokens"},
      {"/detokenize", R"({"tokens": [1, 2.5]})", "tokens"},
      {"/detokenize", R"({"tokens": [-1]})", "tokens"},
      {"/detokenize", R"({"tokens": [)" + n_vocab + "]}", "tokens"},
      {"/detokenize", R"({"tokens": [18446744073709551615]})", "tokens"},
  };
  for (const BadBody& c : cases) {
    auto [status, body] = f.post(c.path, c.body);
    EXPECT_EQ(status, 400) << c.path << " " << c.body << " -> " << body.dump();
    ASSERT_TRUE(body.is_object() && body.contains("error")) << c.body << " -> " << body.dump();
    EXPECT_EQ(body["error"]["type"], "invalid_request_error");
    if (*c.param) EXPECT_EQ(body["error"]["param"], c.param) << c.body;
    else EXPECT_TRUE(body["error"]["param"].is_null()) << c.body;
  }
  // A GET is the wrong method; the server still answers afterwards.
  auto get = f.client().Get("/tokenize");
  ASSERT_TRUE(get);
  EXPECT_EQ(get->status, 405);
  EXPECT_EQ(get->get_header_value("Allow"), "POST, OPTIONS");
  EXPECT_EQ(f.post("/detokenize", json{{"tokens", {72}}}).first, 200);
  EXPECT_EQ(f.metric("requests_rejected_total"), 0u);  // completions only
}

}  // namespace
}  // namespace frugal::server
