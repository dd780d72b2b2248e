// tiktoken.model (+ tokenizer_config.json) -> tokenizer.ggml.* metadata.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/base64.h"
#include "base/error.h"
#include "gguf/pre_tokenizer_name.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/hf_import.h"
#include "tokenizer/hf_tokenizer_config.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {
namespace {

using nlohmann::json;

// Real vocabularies' tokens are at most 128 bytes (o200k_base, cl100k_base),
// their ranks dense. The bounds keep a hostile file's cost in line with its
// size: recovering a token's merge is quadratic in its length, and ids are
// allocated up to the largest.
constexpr size_t kMaxTokenBytes = 512;
constexpr int64_t kMaxUnusedIds = 65536;

// The tokenizer classes whose tiktoken vocabularies frugal reads, by the
// Python module auto_map names, and the pre-tokenizer each splits text with
// (the module's pat_str).
struct TiktokenClass {
  const char* module;
  const char* pre;
};
constexpr TiktokenClass kTiktokenClasses[] = {
    {.module = "tokenization_kimi", .pre = "kimi-k2"},
};

// The pre-tokenizer of the tokenizer class tokenizer_config.json names.
std::string pre_tokenizer_of(const json& cfg, const std::string& cfg_where) {
  std::string cls;
  if (cfg.contains("auto_map") && cfg["auto_map"].is_object() && cfg["auto_map"].contains("AutoTokenizer")) {
    const json& a = cfg["auto_map"]["AutoTokenizer"];
    if (a.is_array() && !a.empty() && a[0].is_string()) cls = a[0].get<std::string>();
    if (a.is_string()) cls = a.get<std::string>();
  }
  const std::string module = cls.substr(0, cls.find('.'));
  std::string known;
  for (const TiktokenClass& c : kTiktokenClasses) {
    if (module == c.module) return c.pre;
    known += (known.empty() ? "" : ", ") + std::string(c.module) + " (" + c.pre + ")";
  }
  fail("tokenizer: ", cfg_where, ": the tokenizer class '", cls.empty() ? "(none in auto_map.AutoTokenizer)" : cls,
       "' of this tiktoken vocabulary is not one whose pre-tokenizer frugal knows (", known, ")");
}

// The merge that makes the token of rank r: byte-pair encoding of its bytes
// with only the ranks below r leaves exactly two parts.
std::pair<std::string, std::string> merge_of(const std::string& bytes, int64_t r,
                                             const std::unordered_map<std::string, int64_t>& rank_of) {
  std::vector<std::string> parts;
  for (char c : bytes) parts.emplace_back(1, c);
  while (parts.size() > 2) {
    int64_t best = r;
    size_t at = 0;
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      const auto it = rank_of.find(parts[i] + parts[i + 1]);
      if (it != rank_of.end() && it->second < best) {
        best = it->second;
        at = i;
      }
    }
    if (best == r) break;
    parts[at] += parts[at + 1];
    parts.erase(parts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
  }
  if (parts.size() != 2) fail("rank ", r, ": no merge of lower ranks makes this token");
  return {parts[0], parts[1]};
}

}  // namespace

bool is_tiktoken_file(const std::string& path) {
  const std::string name = std::filesystem::path(path).filename().string();
  return name == "tiktoken.model" || name.ends_with(".tiktoken");
}

void import_tiktoken(const std::string& path, gguf::Metadata& md) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("tokenizer: cannot open '", path, "'");
  std::stringstream text;
  text << in.rdbuf();
  const json cfg = read_tokenizer_config(path);
  const std::string cfg_where = (std::filesystem::path(path).parent_path() / "tokenizer_config.json").string();
  if (cfg.empty()) fail("tokenizer: ", cfg_where, " is missing (it names the tokenizer class and the special tokens)");
  tiktoken_to_metadata(text.str(), path, cfg, cfg_where, md);
}

void tiktoken_to_metadata(std::string_view text, const std::string& path, const json& cfg,
                          const std::string& cfg_where, gguf::Metadata& md) {
  std::vector<std::string> by_rank;  // the token bytes of each rank
  std::unordered_map<std::string, int64_t> rank_of;
  std::vector<std::pair<int64_t, std::string>> read;  // (rank, bytes) as the lines give them
  std::string line, bytes;
  size_t at = 0;
  for (int64_t line_no = 1; at < text.size(); ++line_no) {
    const size_t end = std::min(text.find('\n', at), text.size());
    line.assign(text.substr(at, end - at));
    at = end + 1;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const size_t sp = line.find(' ');
    int64_t rank = -1;
    try {
      size_t used = 0;
      if (sp != std::string::npos) rank = std::stoll(line.substr(sp + 1), &used);
      if (sp == std::string::npos || used != line.size() - sp - 1) rank = -1;
    } catch (const std::exception&) {
      rank = -1;
    }
    if (rank < 0 || rank > (1 << 24) || !decode_base64(std::string_view(line).substr(0, sp), bytes))
      fail("tokenizer: ", path, " line ", line_no, ": not \"BASE64 RANK\"");
    if (bytes.size() > kMaxTokenBytes)
      fail("tokenizer: ", path, " line ", line_no, ": a token of ", bytes.size(), " bytes (at most ", kMaxTokenBytes,
           ")");
    if (!rank_of.emplace(bytes, rank).second)
      fail("tokenizer: ", path, " line ", line_no, ": the same bytes as rank ", rank_of[bytes]);
    read.emplace_back(rank, bytes);
  }
  if (read.empty()) fail("tokenizer: ", path, " holds no tokens");
  int64_t max_rank = 0;
  for (const auto& [rank, b] : read) max_rank = std::max(max_rank, rank);
  if (max_rank >= int64_t(read.size()) + kMaxUnusedIds)
    fail("tokenizer: ", path, ": rank ", max_rank, " leaves more than ", kMaxUnusedIds, " of the ", max_rank + 1,
         " ids unused");
  by_rank.resize(size_t(max_rank) + 1);
  for (auto& [rank, b] : read) {
    if (!by_rank[size_t(rank)].empty()) fail("tokenizer: ", path, ": rank ", rank, " given twice");
    by_rank[size_t(rank)] = std::move(b);
  }
  for (int b = 0; b < 256; ++b)
    if (!rank_of.contains(std::string(1, char(b))))
      fail("tokenizer: ", path, ": byte ", b, " is not a token (a byte-level vocabulary needs all 256)");

  std::vector<std::string> tokens(by_rank.size());
  std::vector<int32_t> types(by_rank.size(), int32_t(TokenType::NORMAL));
  std::vector<std::string> merges;
  for (size_t r = 0; r < by_rank.size(); ++r) {
    if (by_rank[r].empty()) {  // a rank not used: a hole, as tokenizer.json's
      tokens[r] = "[PAD" + std::to_string(r) + "]";
      types[r] = int32_t(TokenType::UNUSED);
      continue;
    }
    tokens[r] = bytes_to_piece(by_rank[r]);
    if (by_rank[r].size() < 2) continue;
    try {
      const auto [left, right] = merge_of(by_rank[r], int64_t(r), rank_of);
      merges.push_back(bytes_to_piece(left) + " " + bytes_to_piece(right));
    } catch (const Error& e) {
      fail("tokenizer: ", path, ": ", e.what());
    }
  }

  const std::string pre = pre_tokenizer_of(cfg, cfg_where);
  if (cfg.contains("added_tokens_decoder")) {
    const json& added = cfg["added_tokens_decoder"];
    if (!added.is_object()) fail("tokenizer: ", cfg_where, ": added_tokens_decoder is not an object");
    for (auto it = added.begin(); it != added.end(); ++it) {
      int64_t id = -1;
      try {
        size_t used = 0;
        id = std::stoll(it.key(), &used);
        if (used != it.key().size()) id = -1;
      } catch (const std::exception&) {
        id = -1;
      }
      const std::string special = special_token_text(it.value());
      if (id < 0 || id > (1 << 24) || special.empty())
        fail("tokenizer: ", cfg_where, ": added token '", it.key(), "' is not an id with a content");
      if (id >= int64_t(by_rank.size()) + kMaxUnusedIds)
        fail("tokenizer: ", cfg_where, ": added token ", id, " leaves more than ", kMaxUnusedIds, " ids unused");
      if (size_t(id) < by_rank.size() && !by_rank[size_t(id)].empty())
        fail("tokenizer: ", cfg_where, ": added token ", id, " '", special, "' takes the id of a vocabulary token");
      if (size_t(id) >= tokens.size()) {
        const size_t old = tokens.size();
        tokens.resize(size_t(id) + 1);
        types.resize(size_t(id) + 1, int32_t(TokenType::UNUSED));
        for (size_t k = old; k < tokens.size(); ++k) tokens[k] = "[PAD" + std::to_string(k) + "]";
      }
      tokens[size_t(id)] = special;
      const bool control = it.value().is_object() && it.value().value("special", false);
      types[size_t(id)] = int32_t(control ? TokenType::CONTROL : TokenType::USER_DEFINED);
    }
  }

  md.set("tokenizer.ggml.model", gguf::Value::make_string("gpt2"));
  md.set("tokenizer.ggml.pre", gguf::Value::make_string(gguf::pre_tokenizer_name_for_file(pre)));
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(tokens));
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(types));
  md.set("tokenizer.ggml.merges", gguf::Value::make_string_array(merges));
  apply_tokenizer_config(cfg, tokens, md);
}

}  // namespace frugal::tokenizer
