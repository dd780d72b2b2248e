// Reading fine-tuning examples (see sft_data.h). The assistant tokens of a
// conversation are found by rendering it twice per assistant message: the
// messages before it with the generation prompt (where the model starts to
// answer) and the messages up to and including it (where its turn ends);
// both renderings must encode to prefixes of the whole conversation's tokens,
// which holds for templates that join turns with fixed text.
#include "finetune/sft_data.h"

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "base/fnv_hash.h"
#include "base/read_file.h"
#include "tokenizer/chat_template.h"

namespace frugal::finetune {

namespace {

using Json = nlohmann::ordered_json;

bool is_prefix(const std::vector<int32_t>& p, const std::vector<int32_t>& of) {
  return p.size() <= of.size() && std::equal(p.begin(), p.end(), of.begin());
}

SftExample conversation(const Json& messages, const std::string& where, const tokenizer::Tokenizer& tok,
                        const gguf::Metadata& md) {
  if (!messages.is_array() || messages.empty()) fail(where, ": \"messages\" must be a non-empty array");
  bool any_assistant = false;
  for (size_t i = 0; i < messages.size(); ++i) {
    const Json& m = messages[i];
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      fail(where, ": message ", i + 1, " must be an object with string \"role\" and \"content\"");
    any_assistant = any_assistant || m["role"] == "assistant";
  }
  if (!any_assistant) fail(where, ": the conversation has no assistant message to learn from");
  auto render = [&](size_t n, bool prompt) {
    Json ctx = {{"messages", Json(messages.begin(), messages.begin() + static_cast<std::ptrdiff_t>(n))},
                {"add_generation_prompt", prompt}};
    return tokenizer::encode_chat_prompt(tok, tokenizer::render_chat_template(md, ctx));
  };
  SftExample ex;
  ex.tokens = render(messages.size(), false);
  ex.target.assign(ex.tokens.size(), 0);
  for (size_t i = 0; i < messages.size(); ++i) {
    if (messages[i]["role"] != "assistant") continue;
    const std::vector<int32_t> before = render(i, true), through = render(i + 1, false);
    if (!is_prefix(before, ex.tokens) || !is_prefix(through, ex.tokens) || before.size() > through.size())
      fail(where, ": the chat template's rendering of message ", i + 1,
           " is not a prefix of the whole conversation's, so its tokens cannot be told apart");
    for (size_t t = before.size(); t < through.size(); ++t) ex.target[t] = 1;
  }
  return ex;
}

}  // namespace

int64_t target_count(const SftExample& ex) {
  int64_t n = 0;
  for (size_t i = 1; i < ex.target.size(); ++i) n += ex.target[i] != 0;
  return n;
}

std::vector<SftExample> parse_sft_jsonl(const std::string& text, const std::string& path,
                                        const tokenizer::Tokenizer& tok, const gguf::Metadata& md, int share,
                                        int n_shares) {
  if (n_shares < 1 || share < 0 || share >= n_shares) fail("finetune: share ", share, " of ", n_shares);
  std::vector<SftExample> out;
  size_t begin = 0;
  for (int64_t line = 1; begin < text.size(); ++line) {
    size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    const std::string s = text.substr(begin, end - begin);
    begin = end + 1;
    if (s.find_first_not_of(" \t\r") == std::string::npos) continue;
    Fnv line_hash;
    line_hash.add(s.data(), s.size());
    const uint64_t hash = line_hash.h;
    if (static_cast<int64_t>(out.size()) % n_shares != share) {  // another rank's
      out.push_back({.tokens = {}, .target = {}, .line = line, .text_hash = hash});
      continue;
    }
    const std::string where = path + ":" + std::to_string(line);
    Json j;
    try {
      j = Json::parse(s);
    } catch (const Json::parse_error& e) {
      fail(where, ": not valid JSON (", e.what(), ")");
    }
    if (!j.is_object() || (j.contains("messages") == j.contains("text")))
      fail(where, ": each line must be an object with either \"messages\" or \"text\"");
    SftExample ex;
    if (j.contains("text")) {
      if (!j["text"].is_string()) fail(where, ": \"text\" must be a string");
      ex.tokens = tok.encode(j["text"].get<std::string>(), tok.add_bos_default(), false);
      ex.target.assign(ex.tokens.size(), 1);
      if (!ex.target.empty()) ex.target[0] = 0;
    } else {
      ex = conversation(j["messages"], where, tok, md);
    }
    if (ex.tokens.size() < 2) fail(where, ": the example has fewer than two tokens");
    ex.line = line;
    ex.text_hash = hash;
    out.push_back(std::move(ex));
  }
  if (out.empty()) fail(path, ": no examples");
  return out;
}

std::vector<SftExample> read_sft_jsonl(const std::string& path, const tokenizer::Tokenizer& tok,
                                       const gguf::Metadata& md, int share, int n_shares) {
  return parse_sft_jsonl(read_whole_file(path), path, tok, md, share, n_shares);
}

}  // namespace frugal::finetune
