// apply_chat_template: tokenizer.chat_template rendered with the messages,
// bos/eos token text and add_generation_prompt; a plain fallback without one.
#include <atomic>
#include <cstdio>

#include "base/error.h"
#include "tokenizer/chat_template.h"
#include "tokenizer/jinja.h"
#include "tokenizer/tokenizer.h"

namespace frugal::tokenizer {

namespace {
std::string token_text(const gguf::Metadata& md, const char* key) {
  if (!md.has(key) || !md.has("tokenizer.ggml.tokens")) return "";
  uint64_t id = md.get_uint(key);
  const gguf::Value& toks = md.get_array("tokenizer.ggml.tokens");
  return id < toks.items.size() ? toks.items[id].s : "";
}
}  // namespace

std::string render_chat_template(const gguf::Metadata& md, nlohmann::ordered_json context) {
  if (!context.contains("bos_token")) context["bos_token"] = token_text(md, "tokenizer.ggml.bos_token_id");
  if (!context.contains("eos_token")) context["eos_token"] = token_text(md, "tokenizer.ggml.eos_token_id");
  if (!md.has("tokenizer.chat_template")) {
    static std::atomic<bool> noted{false};  // once per process, not once per turn of a chat
    if (!noted.exchange(true))
      std::fprintf(stderr, "note: the model has no chat template; using plain 'role: content' lines\n");
    std::string out;
    for (const auto& m : context.value("messages", nlohmann::ordered_json::array()))
      out += m.value("role", "user") + ": " + (m.contains("content") && m["content"].is_string() ? m["content"].get<std::string>() : "") + "\n";
    if (context.value("add_generation_prompt", false)) out += "assistant: ";
    return out;
  }
  jinja::Template tmpl(md.get_string("tokenizer.chat_template"));
  return tmpl.render(context);
}

std::string apply_chat_template(const gguf::Metadata& md, const std::vector<ChatMessage>& msgs,
                                bool add_generation_prompt) {
  nlohmann::ordered_json messages = nlohmann::ordered_json::array();
  for (const ChatMessage& m : msgs) {
    nlohmann::ordered_json j = {{"role", m.role}};
    if (!m.tool_calls_json.empty()) {
      nlohmann::ordered_json calls = nlohmann::ordered_json::parse(m.tool_calls_json, nullptr, false);
      if (calls.is_discarded()) fail("chat: tool_calls of a ", m.role, " message is not valid JSON");
      j["tool_calls"] = calls;
      j["content"] = m.content.empty() ? nlohmann::ordered_json(nullptr) : nlohmann::ordered_json(m.content);
    } else {
      j["content"] = m.content;
    }
    messages.push_back(j);
  }
  return render_chat_template(md, {{"messages", messages}, {"add_generation_prompt", add_generation_prompt}});
}

std::vector<int32_t> encode_chat_prompt(const Tokenizer& tok, const std::string& rendered) {
  const std::string bos = tok.bos() >= 0 ? tok.token_piece(tok.bos()) : "";
  const bool add_bos = tok.add_bos_default() && (bos.empty() || rendered.rfind(bos, 0) != 0);
  return tok.encode(rendered, add_bos, true);
}

}  // namespace frugal::tokenizer
