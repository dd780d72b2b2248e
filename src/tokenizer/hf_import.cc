// tokenizer.json -> tokenizer.ggml.* metadata.
#include "tokenizer/hf_import.h"

#include "tokenizer/hf_tokenizer_config.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "base/error.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "gguf/pre_tokenizer_name.h"

namespace frugal::tokenizer {
namespace {

using nlohmann::json;

// All parts of a (possibly Sequence) normalizer / pre-tokenizer / decoder.
void flatten(const json& j, const char* seq_key, std::vector<json>& out) {
  if (!j.is_object()) return;
  if (j.value("type", "") == "Sequence" && j.contains(seq_key)) {
    for (const json& p : j[seq_key]) flatten(p, seq_key, out);
  } else {
    out.push_back(j);
  }
}

std::string detect_pre(const std::vector<json>& pre_parts) {
  std::vector<std::string> regexes;
  bool byte_level_regex = false;
  for (const json& p : pre_parts) {
    std::string type = p.value("type", "");
    if (type == "Split") {
      if (!p.contains("pattern") || !p["pattern"].contains("Regex"))
        fail("tokenizer: tokenizer.json pre-tokenizer Split without a Regex pattern is not supported");
      // Some files spell CR/LF/TAB as raw characters, others as escapes: compare escaped.
      std::string re;
      for (char c : p["pattern"]["Regex"].get<std::string>()) {
        if (c == '\r') re += "\\r";
        else if (c == '\n') re += "\\n";
        else if (c == '\t') re += "\\t";
        else re += c;
      }
      regexes.push_back(re);
    } else if (type == "ByteLevel") {
      byte_level_regex = p.value("use_regex", true);
    } else {
      fail("tokenizer: tokenizer.json pre-tokenizer part '", type, "' is not supported");
    }
  }
  if (regexes.empty() && byte_level_regex) return "default";
  for (const char* name : {"default", "llama3", "qwen2", "gpt-4o", "deepseek-v3"})
    if (pretokenizer_regexes(name) == regexes && !byte_level_regex) return name;
  std::string shown = regexes.empty() ? "(none)" : regexes[0];
  fail("tokenizer: tokenizer.json pre-tokenizer regex is not one frugal knows: ", shown);
}

}  // namespace

json read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("tokenizer: cannot open '", path, "'");
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return json::parse(ss.str());
  } catch (const json::exception& e) {
    fail("tokenizer: '", path, "' is not valid JSON: ", e.what());
  }
}

json read_tokenizer_config(const std::string& vocab_path) {
  const std::filesystem::path cfg_path = std::filesystem::path(vocab_path).parent_path() / "tokenizer_config.json";
  return std::filesystem::exists(cfg_path) ? read_json_file(cfg_path.string()) : json::object();
}

std::string special_token_text(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return "";
}

void apply_tokenizer_config(const json& cfg, const std::vector<std::string>& tokens, gguf::Metadata& md) {
  auto find_id = [&](const std::string& text) -> int64_t {
    if (text.empty()) return -1;
    for (size_t i = 0; i < tokens.size(); ++i)
      if (tokens[i] == text) return int64_t(i);
    return -1;
  };
  auto set_id = [&](const char* key, const char* cfg_key) {
    if (!cfg.contains(cfg_key)) return;
    int64_t id = find_id(special_token_text(cfg[cfg_key]));
    if (id >= 0) md.set(key, gguf::Value::make_u32(uint32_t(id)));
  };
  set_id("tokenizer.ggml.bos_token_id", "bos_token");
  set_id("tokenizer.ggml.eos_token_id", "eos_token");
  set_id("tokenizer.ggml.padding_token_id", "pad_token");
  set_id("tokenizer.ggml.unknown_token_id", "unk_token");
  bool add_bos = cfg.contains("add_bos_token") && cfg["add_bos_token"].is_boolean() ? cfg["add_bos_token"].get<bool>() : false;
  md.set("tokenizer.ggml.add_bos_token", gguf::Value::make_bool(add_bos));
  if (cfg.contains("chat_template")) {
    const json& ct = cfg["chat_template"];
    if (ct.is_string()) {
      md.set("tokenizer.chat_template", gguf::Value::make_string(ct.get<std::string>()));
    } else if (ct.is_array()) {
      for (const json& named : ct)
        if (named.value("name", "") == "default")
          md.set("tokenizer.chat_template", gguf::Value::make_string(named.value("template", "")));
    }
  }
}

void import_hf_tokenizer(const std::string& path, gguf::Metadata& md) {
  if (is_tiktoken_file(path)) return import_tiktoken(path, md);
  json tj = read_json_file(path);
  const json cfg = read_tokenizer_config(path);

  if (!tj.contains("model") || !tj["model"].is_object()) fail("tokenizer: '", path, "' has no \"model\" object");
  const json& model = tj["model"];
  if (model.value("type", "") != "BPE")
    fail("tokenizer: tokenizer.json model type '", model.value("type", ""), "' is not supported (only BPE)");
  if (!model.contains("vocab") || !model["vocab"].is_object()) fail("tokenizer: tokenizer.json model has no vocab");

  std::vector<json> norm, pre;
  flatten(tj.value("normalizer", json()), "normalizers", norm);
  flatten(tj.value("pre_tokenizer", json()), "pretokenizers", pre);
  bool prepend_space = false, metaspace = false;
  std::string normalizer;  // a Unicode normal form, when the tokenizer asks for one
  for (const json& n : norm) {
    const std::string type = n.value("type", "");
    if (type == "NFC" || type == "NFD" || type == "NFKC" || type == "NFKD") normalizer = type;
  }
  for (const json& n : norm)
    if (n.value("type", "") == "Prepend" && n.value("prepend", "") == "\xE2\x96\x81") prepend_space = true;
  for (const json& p : pre)
    if (p.value("type", "") == "Metaspace") { metaspace = true; prepend_space = p.value("prepend_scheme", "always") != "never"; }
  const bool spm = prepend_space || metaspace || model.value("byte_fallback", false);

  // Vocabulary: model vocab plus added tokens; holes become unused tokens.
  std::vector<std::string> tokens;
  std::vector<int32_t> types;
  auto put = [&](int64_t id, const std::string& text, TokenType ty) {
    if (id < 0 || id > (1 << 24)) fail("tokenizer: token id ", id, " of '", text, "' is out of range");
    if (size_t(id) >= tokens.size()) {
      size_t old = tokens.size();
      tokens.resize(id + 1);
      types.resize(id + 1, int32_t(TokenType::UNUSED));
      for (size_t k = old; k < tokens.size(); ++k) tokens[k] = "[PAD" + std::to_string(k) + "]";
    }
    tokens[id] = text;
    types[id] = int32_t(ty);
  };
  for (auto it = model["vocab"].begin(); it != model["vocab"].end(); ++it) {
    const std::string& text = it.key();
    TokenType ty = TokenType::NORMAL;
    if (spm && text.size() == 6 && text.rfind("<0x", 0) == 0 && text[5] == '>') ty = TokenType::BYTE;
    put(it.value().get<int64_t>(), text, ty);
  }
  std::string unk = model.value("unk_token", json()).is_string() ? model["unk_token"].get<std::string>() : "";
  if (tj.contains("added_tokens")) {
    for (const json& a : tj["added_tokens"]) {
      std::string text = a.value("content", "");
      TokenType ty = a.value("special", false) ? TokenType::CONTROL : TokenType::USER_DEFINED;
      if (!unk.empty() && text == unk) ty = TokenType::UNKNOWN;
      put(a.value("id", int64_t(-1)), text, ty);
    }
  }
  if (tokens.empty()) fail("tokenizer: tokenizer.json has an empty vocabulary");

  std::vector<std::string> merges;
  if (model.contains("merges")) {
    for (const json& m : model["merges"]) {
      if (m.is_string()) merges.push_back(m.get<std::string>());
      else if (m.is_array() && m.size() == 2) merges.push_back(m[0].get<std::string>() + " " + m[1].get<std::string>());
      else fail("tokenizer: tokenizer.json merge entry is neither \"a b\" nor [a, b]");
    }
  }

  md.set("tokenizer.ggml.model", gguf::Value::make_string(spm ? "llama" : "gpt2"));
  if (!spm) md.set("tokenizer.ggml.pre", gguf::Value::make_string(gguf::pre_tokenizer_name_for_file(detect_pre(pre))));
  md.set("tokenizer.ggml.tokens", gguf::Value::make_string_array(tokens));
  md.set("tokenizer.ggml.token_type", gguf::Value::make_i32_array(types));
  if (spm) {
    // Merge order is the priority; scores say the same for SentencePiece readers.
    std::vector<float> scores(tokens.size(), 0.0f);
    for (size_t i = 0; i < tokens.size(); ++i) scores[i] = -float(i);
    md.set("tokenizer.ggml.scores", gguf::Value::make_f32_array(scores));
    md.set("tokenizer.ggml.add_space_prefix", gguf::Value::make_bool(prepend_space));
  }
  md.set("tokenizer.ggml.merges", gguf::Value::make_string_array(merges));
  if (!normalizer.empty()) md.set("tokenizer.ggml.normalizer", gguf::Value::make_string(normalizer));

  apply_tokenizer_config(cfg, tokens, md);
}

}  // namespace frugal::tokenizer
